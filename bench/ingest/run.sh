#!/usr/bin/env bash
# End-to-end ingestion speed of sluiced next to its baselines, all measured
# in this one run on pages served by nginx on 127.0.0.1 (see README.md):
#
#   bench/ingest/run.sh [-r N] [-n PAGES] [-p PORT] [-t SECONDS] [-k]
#                       [--no-scrapy] [--max-per-host N] [BUILD_DIR]
#	-r N, --repeat N  rounds of each measurement (default 3); the table
#	                  shows medians
#	-n PAGES          distinct pages to serve and fetch (default 5000)
#	-p PORT           nginx's port on 127.0.0.1 (default 18431)
#	-t SECONDS        give up on one measurement after this long
#	                  (default 1800)
#	-k                keep sluiced's state and Scrapy's output of each round
#	--no-scrapy       skip the Scrapy baseline (6 minutes a round): only
#	                  the cleaner, curl and sluiced are measured
#	--max-per-host N  sluiced's fetch.max_per_host (default 64, as
#	                  fetch.max_total); issue 10's one-host figure is
#	                  taken at 16
#	--warc            also run sluiced with WARC capture on (warc.dir in
#	                  its state directory), right before or after the
#	                  plain one in every round, for issue 13's cost
#	                  (and the share of pages whose records were
#	                  compressed at warc.busy_gzip_level)
#	--warc-level N    warc.gzip_level of that run (default: the key's)
#	--warc-busy-level N  warc.busy_gzip_level of that run (default: the
#	                  key's, 0: records stored while the workers are behind)
#	--warc-raw-copy   and warc.serves_raw=false in it: LMDB keeps its
#	                  own zstd copy of each body too (by default the
#	                  WARC records are the bodies' only copy)
#	--site-memory     also run sluiced with extract.site_memory=false,
#	                  right before or after the plain one (memory on, the
#	                  default) in every round, for issue 16's cost
#
# sluiced's rate is compared with the extraction CPU limit (cores / the
# cleaner's CPU per page, sluice-extract alone in the same rounds), and its
# CPU per page with the cleaner's (issue 10's goals: >= 80% of the limit,
# and sluiced's CPU per page <= 1.25x sluice-extract's).
#
# Needs, installed beforehand (this script installs nothing):
#   - a build with sluiced, sluicectl and sluice-extract (cmake --build);
#   - ../shared (or /work/shared): bench/serve-pages.sh, bin/extract-run and
#     corpus/extract-dev/html;
#   - Debian packages nginx-light, curl (7.66+ for --parallel), time, and
#     python3-scrapy and python3-readability (run with /usr/bin/python3).
# Work files and logs go to BUILD_DIR/bench-ingest/ (emptied first).
# A benchmark, never a test: a full run takes about half an hour, most of
# it in the Scrapy baseline.
set -eu -o pipefail

usage() { sed -n '4,32s/^#//p' "$0" >&2; exit 2; }
die() { echo "run.sh: $*" >&2; exit 1; }

repeat=3 pages=5000 port=18431 limit=1800 keep=0 scrapy=1 per_host=64 warc=0
level= busy= serves=true sitemem=0
while [ $# -gt 0 ]; do
	case $1 in
	-r | --repeat) [ $# -ge 2 ] || usage; repeat=$2; shift 2 ;;
	-n) [ $# -ge 2 ] || usage; pages=$2; shift 2 ;;
	-p) [ $# -ge 2 ] || usage; port=$2; shift 2 ;;
	-t) [ $# -ge 2 ] || usage; limit=$2; shift 2 ;;
	-k) keep=1; shift ;;
	--no-scrapy) scrapy=0; shift ;;
	--max-per-host) [ $# -ge 2 ] || usage; per_host=$2; shift 2 ;;
	--warc) warc=1; shift ;;
	--warc-level) [ $# -ge 2 ] || usage; warc=1 level=$2; shift 2 ;;
	--warc-busy-level) [ $# -ge 2 ] || usage; warc=1 busy=$2; shift 2 ;;
	--warc-raw-copy) warc=1 serves=false; shift ;;
	--site-memory) sitemem=1; shift ;;
	-h | --help) usage ;;
	-*) usage ;;
	*) break ;;
	esac
done
for v in "$repeat" "$pages" "$port" "$limit" "$per_host"; do
	case $v in '' | *[!0-9]* | 0) usage ;; esac
done

root=$(cd "$(dirname "$0")/../.." && pwd)
build=$(cd "${1:-$root/build}" 2>/dev/null && pwd) ||
    die "no build directory ${1:-$root/build}: cmake -S . -B build && cmake --build build -j2"
. "$root/bench/shared.sh"
corpus=$shared/corpus/extract-dev/html
PATH=$PATH:/usr/sbin	# nginx lives there; non-root shells may lack it

# --- what must be there before anything starts ---------------------------
for f in "$build/sluiced" "$build/sluicectl" "$build/sluice-extract"; do
	[ -x "$f" ] || die "missing $f: cmake -S . -B build && cmake --build build -j2"
done
for f in "$shared/bench/serve-pages.sh" "$shared/bin/extract-run"; do
	[ -x "$f" ] || die "missing $f (the shared folder next to the checkout)"
done
[ -d "$corpus" ] || die "missing the corpus $corpus"
command -v nginx >/dev/null || die "nginx missing: apt-get install nginx-light"
command -v curl >/dev/null || die "curl missing: apt-get install curl"
curl --help all 2>/dev/null | grep -q -- --parallel-max ||
    die "this curl has no --parallel (7.66 or later needed)"
[ -x /usr/bin/time ] || die "/usr/bin/time missing: apt-get install time"
[ "$scrapy" = 0 ] || /usr/bin/python3 -c 'import scrapy, readability, lxml' 2>/dev/null ||
    die "Scrapy or readability missing for /usr/bin/python3:" \
	"apt-get install python3-scrapy python3-readability"
if curl -s -o /dev/null --max-time 2 "http://127.0.0.1:$port/"; then
	die "something already answers on 127.0.0.1:$port (choose another with -p)"
fi

out=$build/bench-ingest
rm -rf "$out"
mkdir -p "$out"
results=$out/results.tsv	# measurement round wall cpu server_cpu ok note
: >"$results"
written=$out/written.tsv	# measurement round warc_bytes wchar write_bytes
: >"$written"
hz=$(getconf CLK_TCK)
cores=$(nproc)

setup_traps

# CPU seconds ("user sys") that /usr/bin/time wrote, or 0 if it was killed.
cpu_of() { awk '{ s = $1 + $2 } END { print s + 0 }' "$1" 2>/dev/null || echo 0; }

now() { date +%s.%N; }
sub() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", a - b }'; }
secs() { awk -v t="$1" -v hz="$hz" 'BEGIN { printf "%.2f", t / hz }'; }
load() { cut -d' ' -f1-3 /proc/loadavg; }

# CPU ticks (user+sys) of the given processes, threads included.
ticks() {
	local p t=0
	for p in "$@"; do
		[ -r "/proc/$p/stat" ] || continue
		# Fields counted after the ")" that ends the command name.
		t=$((t + $(sed 's/.*) //' "/proc/$p/stat" | awk '{ print $12 + $13 }')))
	done
	echo "$t"
}

# nginx master and workers: the server's share of the cores.
server_ticks() { ticks "$nginx_pid" $(ps -o pid= --ppid "$nginx_pid"); }

record() { printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$@" >>"$results"; }

# --- pages ----------------------------------------------------------------
echo "serving $pages pages made from $(ls "$corpus" | grep -c '\.html$')" \
    "corpus pages on 127.0.0.1:$port"
nginx_pid=$("$shared/bench/serve-pages.sh" "$corpus" "$pages" "$port" \
    "$out/www" 2>"$out/serve.log") || { cat "$out/serve.log" >&2; die "nginx did not start"; }
urls=$out/urls.txt
for ((i = 0; i < pages; i++)); do
	echo "http://127.0.0.1:$port/p/$i.html"
done >"$urls"
sed 's/.*/url = "&"\noutput = "\/dev\/null"/' "$urls" >"$out/curl.cfg"

# --- 1. the fetch ceiling: curl, 64 transfers at once ----------------------
run_curl() {
	local r=$1 dir=$out/round$1 t0 t1 s0 s1 ok
	s0=$(server_ticks)
	t0=$(now)
	run_child timeout -k 10 "$limit" /usr/bin/time -f '%U %S' \
	    -o "$dir/curl.time" curl --parallel --parallel-max 64 --no-progress-meter \
	    -K "$out/curl.cfg" -w '%{http_code}\n' \
	    >"$dir/curl.codes" 2>"$dir/curl.log" ||
	    echo "    curl exited $? (see $dir/curl.log)"
	t1=$(now)
	s1=$(server_ticks)
	ok=$(grep -c '^200$' "$dir/curl.codes" || true)
	record curl "$r" "$(sub "$t1" "$t0")" \
	    "$(cpu_of "$dir/curl.time")" \
	    "$(secs $((s1 - s0)))" "$ok" "HTTP 200 of $pages"
}

# --- 2. sluiced end to end -------------------------------------------------
start_daemon() {
	local dir=$1 sock=$1/state/control.sock capture=()
	mkdir -p "$dir/state"
	[ "${2:-}" != warc ] || capture=(--set warc.dir="$dir/state/warc")
	[ "${2:-}" != warc ] || [ -z "$level" ] ||
	    capture+=(--set warc.gzip_level="$level")
	[ "${2:-}" != warc ] || [ -z "$busy" ] ||
	    capture+=(--set warc.busy_gzip_level="$busy")
	[ "${2:-}" != warc ] || capture+=(--set warc.serves_raw="$serves")
	[ "${2:-}" != nosm ] || capture+=(--set extract.site_memory=false)
	"$build/sluiced" -f \
	    --set daemon.state_dir="$dir/state" \
	    --set daemon.socket="$sock" \
	    --set daemon.workers=0 \
	    --set store.keep_raw=true "${capture[@]}" \
	    --set fetch.allow_private_addresses=true \
	    --set fetch.max_per_host="$per_host" --set fetch.max_total=64 \
	    --set fetch.host_delay=0 --set fetch.respect_robots=true \
	    --set fetch.user_agent="sluice-bench (+http://127.0.0.1:$port/)" \
	    >"$dir/sluiced.log" 2>&1 &
	daemon_pid=$!
	wait_daemon "$dir" "$sock"
}

# What the daemon wrote: bytes passed to write(2) and those that reached
# the storage layer (/proc/PID/io), "wchar write_bytes".
io_of() { awk '$1 == "wchar:" { w = $2 } $1 == "write_bytes:" { b = $2 }
    END { printf "%.0f %.0f\n", w, b }' "/proc/$1/io" 2>/dev/null || echo "0 0"; }

run_sluiced() {
	local r=$1 mode=${2:-} name=sluiced${2:+_$2} dir t0 t1 c0 c1 m0 m1 s0 s1 st
	local ctl io0 io1
	dir=$out/round$1/$name
	start_daemon "$dir" "$mode"
	io0=$(io_of "$daemon_pid")
	ctl=("$build/sluicectl" -s "$dir/state/control.sock")
	c0=$(ticks "$daemon_pid") m0=$(ticks "$daemon_pid/task/$daemon_pid")
	s0=$(server_ticks)
	t0=$(now)
	"${ctl[@]}" submit - <"$urls" >"$dir/submit.out" ||
	    die "submit failed: $(tail -n 3 "$dir/submit.out")"
	st=ok
	run_child "${ctl[@]}" -t 0 wait --timeout "$limit" >"$dir/wait.out" 2>&1 ||
	    st="wait failed: $(cat "$dir/wait.out")"
	t1=$(now)
	c1=$(ticks "$daemon_pid") m1=$(ticks "$daemon_pid/task/$daemon_pid")
	s1=$(server_ticks)
	io1=$(io_of "$daemon_pid")
	printf '%s\t%s\t%s\t%s\t%s\n' "$name" "$r" \
	    "$(du -sb "$dir/state/warc" 2>/dev/null | cut -f1 || echo 0)" \
	    $((${io1% *} - ${io0% *})) $((${io1#* } - ${io0#* })) >>"$written"
	"${ctl[@]}" --json status >"$dir/status.json"
	"${ctl[@]}" hosts >"$dir/hosts.txt"
	read -r done failed queued active dups < <(/usr/bin/python3 -c '
import json, sys
s = json.load(open(sys.argv[1]))
j, d = s["jobs"], s["duplicates"]
print(j["done"], j["failed"], j["queued"], j["active"],
      d["url"] + d["exact"] + d["near"])' "$dir/status.json")
	# Priorities 0-4 (emerg..warning) of sd-daemon's "<N>" prefixes.
	warn=$(grep -c '^<[0-4]>' "$dir/sluiced.log" || true)
	record "$name" "$r" "$(sub "$t1" "$t0")" \
	    "$(secs $((c1 - c0)))" "$(secs $((s1 - s0)))" "$done" \
	    "done, $failed failed, $((queued + active)) left, $dups duplicates, $warn log warnings; loop thread $(secs $((m1 - m0))) CPU s; $st"
	[ "$done" = "$pages" ] && [ "$st" = ok ] || daemon_post_mortem "$dir"
	stop_daemon
	[ "$keep" = 1 ] || rm -rf "$dir/state"
}

# --- 3. Scrapy + readability-lxml ------------------------------------------
run_scrapy() {
	local r=$1 dir=$out/round$1 t0 t1 s0 s1 ok empty
	s0=$(server_ticks)
	t0=$(now)
	# In its own directory: Scrapy looks for a scrapy.cfg upwards.
	run_child timeout -k 10 "$limit" env -C "$dir" /usr/bin/time -f '%U %S' \
	    -o "$dir/scrapy.time" /usr/bin/python3 -m scrapy runspider \
	    "$root/bench/ingest/spider.py" -a urls="$urls" \
	    -O "$dir/scrapy.jsonl" >"$dir/scrapy.log" 2>&1 ||
	    echo "    scrapy exited $? (see $dir/scrapy.log)"
	t1=$(now)
	s1=$(server_ticks)
	ok=$(wc -l <"$dir/scrapy.jsonl" 2>/dev/null || echo 0)
	empty=$(grep -c '"text": ""' "$dir/scrapy.jsonl" 2>/dev/null || true)
	record scrapy "$r" "$(sub "$t1" "$t0")" \
	    "$(cpu_of "$dir/scrapy.time")" \
	    "$(secs $((s1 - s0)))" "$ok" \
	    "JSON lines of $pages, ${empty:-0} with empty text; $(grep -c ' WARNING: \| ERROR: ' "$dir/scrapy.log" || true) log warnings"
	[ "$keep" = 1 ] || rm -f "$dir/scrapy.jsonl"
}

# --- 4. the extraction CPU limit: sluice-extract alone on the corpus -------
run_sluiced_warc() { run_sluiced "$1" warc; }
run_sluiced_nosm() { run_sluiced "$1" nosm; }

run_extract() {
	local r=$1 dir=$out/round$1 t0 t1 xdocs ok
	xdocs=$(ls "$corpus" | grep -c '\.html$')
	t0=$(now)
	run_child "$shared/bin/extract-run" "$corpus" -o "$dir/extract.json" \
	    --jsonl-cmd "$build/sluice-extract --json {files}" \
	    --stats "$dir/extract.stats" 2>"$dir/extract.log" ||
	    { cat "$dir/extract.log" >&2; die "extract-run failed"; }
	t1=$(now)
	ok=$(/usr/bin/python3 -c 'import json, sys
s = json.load(open(sys.argv[1]))
print(s["docs"] - s["failures"], s["cpu_s"])' "$dir/extract.stats")
	record extract "$r" "$(sub "$t1" "$t0")" "${ok#* }" 0 "${ok%% *}" \
	    "corpus pages cleaned of $xdocs"
}

# Rounds interleave the measurements so that a busy spell of the shared
# machine slows all of them, not one.  The cleaner alone runs before and
# after sluiced: it lasts a second or two, and the machine's CPU speed
# drifts, so the limit is taken from measurements on both sides of it.
for ((r = 1; r <= repeat; r++)); do
	mkdir -p "$out/round$r"
	# With --warc, the two sluiced runs swap places every round, so that
	# a drift of the machine's speed does not favour one of them.
	both=sluiced
	if [ "$warc" = 1 ]; then
		both="sluiced sluiced_warc"
		[ $((r % 2)) = 1 ] || both="sluiced_warc sluiced"
	elif [ "$sitemem" = 1 ]; then
		both="sluiced sluiced_nosm"
		[ $((r % 2)) = 1 ] || both="sluiced_nosm sluiced"
	fi
	for m in extract curl $both extract \
	    $([ "$scrapy" = 0 ] || echo scrapy); do
		echo "round $r/$repeat, load $(load): $m"
		"run_$m" "$r"
		tail -n 1 "$results" | awk -F'\t' '{
		    printf "    wall %.2f s, CPU %.2f s, server CPU %.2f s, %s %s\n",
		    $3, $4, $5, $6, $7 }'
	done
done
stop_nginx

/usr/bin/python3 - "$results" "$pages" "$cores" "$repeat" "$per_host" \
    "$written" "$out" <<'PY'
import json, statistics, sys
results, pages, cores, repeat, per_host, written, out = sys.argv[1:]
pages, cores, repeat = int(pages), int(cores), int(repeat)
rounds = {}
for line in open(results):
    m, r, wall, cpu, srv, ok, note = line.rstrip("\n").split("\t")
    wall, cpu, srv, ok = float(wall), float(cpu), float(srv), int(ok)
    # Rates count the pages that arrived, so a round cut short by -t
    # does not pass for a fast one; it is flagged below.
    rounds.setdefault(m, []).append(
        (ok / wall, wall, cpu, 1000 * cpu / max(ok, 1), srv, cpu / wall, ok))
least = {m: min(r[6] for r in v) for m, v in rounds.items()}
# The cleaner alone: CPU seconds per corpus page, median over the rounds
# (two measurements a round, before and after sluiced).
xdocs = least.pop("extract")
xcpu = statistics.median(r[3] for r in rounds.pop("extract")) / 1000
limit = cores / xcpu
med = {m: [statistics.median(c) for c in zip(*v)] for m, v in rounds.items()}

print(f"\nmedians of {repeat} rounds, {pages} pages, {cores} cores, "
      f"sluiced at fetch.max_per_host={per_host} "
      f"(server CPU = nginx's, counted apart)")
print(f"{'':34}{'pages/s':>9}{'wall s':>9}{'CPU s':>9}{'CPU ms/pg':>11}"
      f"{'server CPU s':>14}{'least ok':>10}")
names = {"curl": "curl --parallel-max 64 (ceiling)",
         "sluiced": "sluiced end to end",
         "sluiced_warc": "sluiced, WARC capture on",
         "sluiced_nosm": "sluiced, site memory off",
         "scrapy": "Scrapy + readability-lxml"}
for m in ("curl", "sluiced", "sluiced_warc", "sluiced_nosm", "scrapy"):
    if m in ("sluiced_warc", "sluiced_nosm") and m not in med:
        continue
    if m not in med:
        print(f"{names[m]:34}{'(not run)':>9}")
        continue
    rate, wall, cpu, ms, srv, _, _ = med[m]
    print(f"{names[m]:34}{rate:9.1f}{wall:9.2f}{cpu:9.2f}{ms:11.2f}"
          f"{srv:14.2f}{least[m]:10}")
print(f"{'extraction CPU limit':34}{limit:9.1f}{'':18}{1000 * xcpu:11.2f}"
      f"{'':14}{xdocs:10}   = {cores} cores / sluice-extract CPU per page")


def verdict(value, goal, *who, at_most=False):
    short = [m for m in who if least[m] < pages]
    if short:
        return "no verdict: " + ", ".join(short) + " missed pages"
    return "met" if (value <= goal if at_most else value >= goal) else "NOT met"


s = med["sluiced"][0]
r2, r3 = s / med["curl"][0], s / limit
print()
if "scrapy" in med:
    r1 = s / med["scrapy"][0]
    print(f"{'sluiced / Scrapy+readability':34}{r1:8.1f}x   goal >= 15x   "
          f"{verdict(r1, 15, 'sluiced', 'scrapy')}")
else:
    print(f"{'sluiced / Scrapy+readability':34}{'':8}    not measured (--no-scrapy)")
print(f"{'sluiced / curl ceiling':34}{r2:8.1%}    (no goal)")
print(f"{'sluiced / extraction CPU limit':34}{r3:8.1%}    goal >= 80%   "
      f"{verdict(r3, 0.80, 'sluiced')}")
# The last ratio is how many cores sluiced kept busy over the cores,
# divided by how much more CPU a page costs in sluiced than in the cleaner
# alone (this one does not depend much on the machine's other load).
r4 = med["sluiced"][3] / (1000 * xcpu)
print(f"{'  sluiced / sluice-extract CPU':34}{r4:8.2f}x   goal <= 1.25x "
      f"{verdict(r4, 1.25, 'sluiced', at_most=True)}   per page "
      "(the rest: fetch, loop, store, zstd)")
print(f"{'  sluiced CPU / wall':34}{med['sluiced'][5]:8.2f}    "
      f"of {cores} cores busy (other users and nginx share them)")

if "sluiced_warc" in med:
    # Issue 13: what capture costs, round by round (the two runs of a
    # round are neighbours in time), then the median and the spread.
    byr = {}
    for line in open(written):
        m, r, wb, wc, wbytes = line.split("\t")
        byr[(m, r)] = (int(wb), int(wc), int(wbytes))
    plain = rounds["sluiced"]
    cap = rounds["sluiced_warc"]
    cost = [1 - c[0] / p[0] for p, c in zip(plain, cap)]
    cpu = [c[3] / p[3] - 1 for p, c in zip(plain, cap)]
    print(f"\nWARC capture (issue 13; goal: at most 10% of throughput)")
    print(f"{'':34}{'pages/s':>9}{'CPU ms/pg':>11}{'WARC KB/pg':>12}"
          f"{'write() KB/pg':>15}{'disk KB/pg':>12}")
    for m in ("sluiced", "sluiced_warc"):
        w = [byr.get((m, str(i + 1)), (0, 0, 0)) for i in range(repeat)]
        ok = [r[6] for r in rounds[m]]
        per = [[x[k] / 1024 / max(o, 1) for x, o in zip(w, ok)]
               for k in range(3)]
        print(f"{names[m]:34}{med[m][0]:9.1f}{med[m][3]:11.2f}"
              f"{statistics.median(per[0]):12.1f}"
              f"{statistics.median(per[1]):15.1f}"
              f"{statistics.median(per[2]):12.1f}")
    print(f"{'throughput cost':34}{statistics.median(cost):8.1%}    "
          f"rounds: {', '.join(f'{c:.1%}' for c in cost)}   "
          f"{'met' if statistics.median(cost) <= 0.10 else 'NOT met'}")
    print(f"{'CPU per page, more':34}{statistics.median(cpu):8.1%}    "
          f"rounds: {', '.join(f'{c:.1%}' for c in cpu)}")
    # How many pages' records the workers, being behind, compressed at
    # warc.busy_gzip_level (status.warc.busy_transfers of each round).
    busy = []
    for i in range(repeat):
        try:
            st = json.load(open(f"{out}/round{i + 1}/sluiced_warc/"
                                "status.json"))
            busy.append(st["warc"]["busy_transfers"])
        except (OSError, KeyError, TypeError, ValueError):
            pass
    if busy:
        print(f"{'at warc.busy_gzip_level':34}"
              f"{statistics.median(busy) / pages:8.1%}    of the pages; "
              f"rounds: {', '.join(str(b) for b in busy)}")

if "sluiced_nosm" in med:
    # Issue 16: what the site memory costs per page, round by round (the
    # two runs of a round are neighbours in time).
    on, off = rounds["sluiced"], rounds["sluiced_nosm"]
    cpu = [a[3] / b[3] - 1 for a, b in zip(on, off)]
    rate = [1 - a[0] / b[0] for a, b in zip(on, off)]
    print(f"\nsite memory (issue 16): on (the default) against off")
    print(f"{'CPU per page, more':34}{statistics.median(cpu):8.1%}    "
          f"rounds: {', '.join(f'{c:.1%}' for c in cpu)}")
    print(f"{'throughput cost':34}{statistics.median(rate):8.1%}    "
          f"rounds: {', '.join(f'{c:.1%}' for c in rate)}")
PY
echo "logs and per-round files: $out"
