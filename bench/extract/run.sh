#!/bin/sh
# Accuracy and CPU cost of sluice-extract next to its baselines, on the
# shared development corpus, all measured in this one run:
#
#   bench/extract/run.sh [-r REPEAT] [-n] [BUILD_DIR]
#	-r N	time each extractor N times, keep the minimum (default 5;
#		readability-lxml runs once: it is 10x slower anyway)
#	-n	skip readability-lxml (the slow baseline)
#
# Needs, installed beforehand (this script installs nothing):
#   - a build with sluice-extract and bench/extract/bench-parse-walk (cmake --build);
#   - ../shared (or /work/shared): bin/extract-run, extract-score,
#     snippet-score and corpus/extract-dev;
#   - for the readability-lxml row: Debian python3-readability, run with
#     /usr/bin/python3.
# Prints one table: F1 on all full-text pages, on the human-annotated part
# (atf-*), on the snippet pages, and CPU ms/page (user+sys, minimum of the
# repeats) with the ratio to the bare libxml2 parse-and-walk.
set -eu
repeat=5
lxml=1
while getopts r:n opt; do
	case $opt in
	r) repeat=$OPTARG ;;
	n) lxml=0 ;;
	*) sed -n '2,12p' "$0"; exit 2 ;;
	esac
done
shift $((OPTIND - 1))
root=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-$root/build}
. "$root/bench/shared.sh"
corpus=$shared/corpus/extract-dev
bin=$shared/bin
for f in "$build/sluice-extract" "$build/bench/extract/bench-parse-walk" \
    "$bin/extract-run" "$corpus/ground-truth.json"; do
	[ -e "$f" ] || { echo "run.sh: missing $f" >&2; exit 1; }
done
if [ "$lxml" = 1 ] && ! /usr/bin/python3 -c 'import readability' 2>/dev/null
then
	echo "run.sh: readability-lxml missing (apt-get install" \
	    "python3-readability); skipping its row" >&2
	lxml=0
fi
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

# name, run number, then extract-run mode arguments.  The extractors take
# turns, run after run, so that load from other users of the machine
# spreads over all of them; the minimum of each is kept.
measure() {
	name=$1
	i=$2
	shift 2
	"$bin/extract-run" "$corpus/html" -o "$out/$name.json" \
	    --stats "$out/$name.stats.$i" "$@" \
	    2>"$out/$name.log" || { cat "$out/$name.log" >&2; exit 1; }
}
i=1
while [ "$i" -le "$repeat" ]; do
	measure sluice "$i" --jsonl-cmd "$build/sluice-extract --json {files}"
	measure parsewalk "$i" --jsonl-cmd \
	    "$build/bench/extract/bench-parse-walk {files}"
	if [ "$lxml" = 1 ] && [ "$i" = 1 ]; then
		measure readability-lxml "$i" --startup-probe --batch-cmd \
		    "/usr/bin/python3 $root/bench/extract/readability_lxml.py {dir} {out}"
	fi
	i=$((i + 1))
done

python3 - "$corpus" "$out" "$bin" <<'PY'
import json, os, subprocess, sys
corpus, out, bin_ = sys.argv[1:4]
gt = json.load(open(os.path.join(corpus, "ground-truth.json")))
human = {k: v for k, v in gt.items() if not k.startswith("rdb-")}
hpath = os.path.join(out, "human.json")
json.dump(human, open(hpath, "w"))

def f1(truth, pred):
    j = os.path.join(out, "score.json")
    subprocess.run([os.path.join(bin_, "extract-score"), truth, pred,
                    "--ignore-extra", "--json", j], check=True,
                   stdout=subprocess.DEVNULL)
    d = json.load(open(j))
    return next(iter(d.values()))["f1"]

def snip(pred):
    r = subprocess.run([os.path.join(bin_, "snippet-score"),
                        os.path.join(corpus, "snippets.json"), pred],
                       check=True, capture_output=True, text=True)
    row = [l for l in r.stdout.splitlines() if l.strip()][-1].split()
    return float(row[1])

rows = []
for name in ("sluice", "parsewalk", "readability-lxml"):
    pred = os.path.join(out, name + ".json")
    if not os.path.exists(pred):
        continue
    ms = min(json.load(open(os.path.join(out, f)))
             .get("net_cpu_ms_per_doc") or
             json.load(open(os.path.join(out, f)))["cpu_ms_per_doc"]
             for f in os.listdir(out) if f.startswith(name + ".stats."))
    rows.append((name, f1(os.path.join(corpus, "ground-truth.json"), pred),
                 f1(hpath, pred), snip(pred), ms))
floor = next(r[4] for r in rows if r[0] == "parsewalk")
print("%-18s %8s %8s %8s %10s %8s" % ("extractor", "F1 all", "F1 human",
      "snippets", "cpu ms/pg", "x floor"))
for name, a, h, s, ms in rows:
    print("%-18s %8.3f %8.3f %8.3f %10.2f %8.2f" % (name, a, h, s, ms,
          ms / floor))
PY
