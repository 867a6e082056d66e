#!/bin/bash
# The cleaner on pathological pages: CPU time and peak RSS of
# sluice-extract against each page's size, for one or more builds side by
# side (issue 11, "cleaning has a budget"):
#
#   bench/pathological/run.sh [-r REPEAT] [-t TIMEOUT] BUILD_DIR...
#	-r N	runs per page and build (default 3): the table gives the
#		minimum and maximum of each figure
#	-t S	seconds before a run is killed (default 60): shown as ">S"
#
# The pages come from tests/fixture/fixture_server.py's hostile_html()
# (the integration tests fetch the same ones) plus many_attrs (tags of
# 999 attributes each, just under extract.max_attributes), made once in
# a temporary directory.  Needs python3 and GNU time (/usr/bin/time).
# Prints one row per page and build: size, CPU s (user+sys, min-max),
# peak RSS (min-max), (peak RSS - the build's RSS on an empty page) /
# size, CPU s per MB, and the status sluice-extract reported; then, per
# build, the worst of those ratios.
set -eu
repeat=3
limit=60
while getopts r:t: opt; do
	case $opt in
	r) repeat=$OPTARG ;;
	t) limit=$OPTARG ;;
	*) sed -n '2,17p' "$0"; exit 2 ;;
	esac
done
shift $((OPTIND - 1))
[ $# -ge 1 ] || { sed -n '2,17p' "$0"; exit 2; }
root=$(cd "$(dirname "$0")/../.." && pwd)
[ -x /usr/bin/time ] || { echo "run.sh: needs GNU time" >&2; exit 1; }
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

python3 - "$root/tests/fixture" "$out" <<'PY'
import sys
sys.path.insert(0, sys.argv[1])
from fixture_server import hostile_html
out = sys.argv[2]
pages = [("attrs_40k", "attrs", 40000), ("attrs_500k", "attrs", 500000),
         ("deep_100k", "deep", 100000), ("paras_1m", "paras", 1000000),
         ("paras_200k", "paras", 200000),
         ("text_8mb", "text", 8192), ("attrval_8mb", "attrval", 8192),
         ("unclosed_100k", "unclosed", 100000)]
for name, kind, n in pages:
    open(f"{out}/{name}.html", "wb").write(hostile_html(kind, n))
tag = b"<div " + b" ".join(b"a%d=1" % i for i in range(999)) + b">x</div>"
open(f"{out}/many_attrs.html", "wb").write(
    b"<html><body>" + tag * 1000 + b"</body></html>")
open(f"{out}/empty.html", "wb").write(b"<html><body><p>x</p></body></html>")
PY

# Every run: page, build, size, then user, sys and max RSS (KiB) and the
# status, or "killed".
for page in "$out"/*.html; do
	name=$(basename "$page" .html)
	size=$(stat -c %s "$page")
	for build in "$@"; do
		for i in $(seq "$repeat"); do
			rm -f "$out/time"
			timeout -s KILL "$limit" /usr/bin/time -f "%U %S %M" \
			    -o "$out/time" "$build/sluice-extract" --json \
			    "$page" >"$out/json" 2>/dev/null || true
			if [ -s "$out/time" ] &&
			    tail -1 "$out/time" | grep -q '^[0-9]'; then
				st=$(python3 -c 'import json,sys
print(json.loads(open(sys.argv[1]).readline()).get("status","?"))' \
				    "$out/json" 2>/dev/null || echo "?")
				echo "$name	$build	$size	$(tail -1 "$out/time") $st"
			else
				echo "$name	$build	$size	killed"
			fi >>"$out/runs"
		done
	done
done

python3 - "$out/runs" "$limit" <<'PY'
import sys
runs, limit = sys.argv[1], sys.argv[2]
by = {}
order = []
for line in open(runs):
    name, build, size, rest = line.rstrip("\n").split("\t")
    key = (name, build)
    if key not in by:
        by[key] = (int(size), [])
        order.append(key)
    by[key][1].append(rest.split())
# The fixed base: a build's peak RSS on the empty page.
base = {b: min(int(r[2]) for r in rs if r[0] != "killed")
        for (n, b), (_, rs) in by.items() if n == "empty"}
print("%-14s %-26s %6s %13s %13s %8s %8s  %s" % ("page", "build", "MB",
      "cpu s", "peak RSS MB", "net/size", "s/MB", "status"))
worst = {}
for key in order:
    name, build = key
    size, rs = by[key]
    mb = size / 2**20
    done = [r for r in rs if r[0] != "killed"]
    short = build if len(build) <= 26 else "..." + build[-23:]
    if not done:
        print("%-14s %-26s %6.2f %13s %13s %8s %8s  killed at %s s"
              % (name, short, mb, ">" + limit, "-", "-", "-", limit))
        worst.setdefault(build, [0, 0, []])[2].append(name)
        continue
    cpu = [float(r[0]) + float(r[1]) for r in done]
    rss = [int(r[2]) / 1024 for r in done]
    net = (max(rss) - base.get(build, 0) / 1024) / mb
    st = done[-1][3] if len(done[-1]) > 3 else "?"
    kill = len(rs) - len(done)
    print("%-14s %-26s %6.2f %6.2f-%-6.2f %6.1f-%-6.1f %8.1f %8.2f  %s%s"
          % (name, short, mb, min(cpu), max(cpu), min(rss), max(rss), net,
             min(cpu) / mb, st, " (%d killed)" % kill if kill else ""))
    if name != "empty":
        w = worst.setdefault(build, [0, 0, []])
        w[0] = max(w[0], net)
        w[1] = max(w[1], min(cpu) / mb)
print()
for b, (r, c, k) in worst.items():
    print("%s: fixed base %.1f MB; worst (peak RSS - base) / size %.1f; "
          "worst CPU %.2f s per MB%s" % (b, base.get(b, 0) / 1024, r, c,
          "; killed: " + ", ".join(k) if k else ""))
PY
