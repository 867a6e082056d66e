#!/bin/sh
# Per-site accuracy on the multi-page corpus (shared/corpus/sites-dev),
# with site memory off and on, all in this one run:
#
#   bench/extract/sites.sh [BUILD_DIR]
#
# Pages go through sluice-extract in their natural order (index.json's
# site, then id), one process per site and year (a "site" is a template:
# sites-dev's templates change between years), --site on or off.  The
# gold's first line is the headline, so the title is prepended to the
# text before scoring.  Prints F1, precision and recall per site with
# memory off and on, then all pages.  Needs ../shared (extract-score).
set -eu
root=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-$root/build}
. "$root/bench/shared.sh"
corpus=$shared/corpus/sites-dev
[ -d "$corpus/html" ] || { echo "sites.sh: missing $corpus" >&2; exit 1; }
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

python3 - "$corpus" "$out" "$build/sluice-extract" \
    "$shared/bin/extract-score" <<'PY'
import json, os, subprocess, sys
corpus, out, tool, score = sys.argv[1:5]
idx = json.load(open(os.path.join(corpus, "index.json")))
gt = json.load(open(os.path.join(corpus, "ground-truth.json")))
groups = {}
for k in sorted(idx):
    v = idx[k]
    g = "%s-%s" % (v["site"], v["year"]) if k.startswith("b9-") else v["site"]
    groups.setdefault(g, []).append(k)

def run(mode):
    pred = {}
    for g, ids in groups.items():
        files = [os.path.join(corpus, "html", k + ".html") for k in ids]
        cmd = [tool, "--json"] + (["--site", "--host", g] if mode else [])
        r = subprocess.run(cmd + files, capture_output=True, text=True)
        for line in r.stdout.splitlines():
            d = json.loads(line)
            k = os.path.basename(d["file"])[:-5]
            body = (d.get("title") or "") + "\n" + (d.get("text") or "")
            pred[k] = {"articleBody": body}
    return pred

def prf(pred, ids):
    t = {k: gt[k] for k in ids}
    p = {k: pred[k] for k in ids}
    tp, pp = os.path.join(out, "t.json"), os.path.join(out, "p.json")
    json.dump(t, open(tp, "w"))
    json.dump(p, open(pp, "w"))
    j = os.path.join(out, "s.json")
    subprocess.run([score, tp, pp, "--json", j], check=True,
                   stdout=subprocess.DEVNULL)
    d = next(iter(json.load(open(j)).values()))
    return d["f1"], d["precision"], d["recall"]

off, on = run(False), run(True)
sites = {}
for g, ids in groups.items():
    sites.setdefault(g.split("-")[0] if g[0:0] == "" and "-" in g and
                     g.rsplit("-", 1)[1].isdigit() else g, []).extend(ids)
print("%-22s %5s  %6s %6s %6s   %6s %6s %6s" % ("site", "pages", "F1off",
      "Poff", "Roff", "F1on", "Pon", "Ron"))
for s in sorted(sites):
    a, b = prf(off, sites[s]), prf(on, sites[s])
    print("%-22s %5d  %6.3f %6.3f %6.3f   %6.3f %6.3f %6.3f" %
          ((s, len(sites[s])) + a + b))
a, b = prf(off, list(gt)), prf(on, list(gt))
print("%-22s %5d  %6.3f %6.3f %6.3f   %6.3f %6.3f %6.3f" %
      (("all", len(gt)) + a + b))
PY
