#!/usr/bin/env bash
# Re-cleaning speed: how fast `sluicectl reclean --all --wait` cleans the
# stored documents again on an idle sluiced, with the raw bodies in LMDB
# (zstd) and, with --warc, read back from the WARC records
# (warc.serves_raw):
#
#   bench/reclean/run.sh [-r N] [-n PAGES] [-p PORT] [--warc] [BUILD_DIR]
#	-r N       rounds (default 2); each round ingests afresh
#	-n PAGES   distinct pages (default 5000)
#	-p PORT    nginx's port on 127.0.0.1 (default 18498)
#	--warc     capture on (warc.dir in the state directory): the bodies
#	           are read back from the WARC records
#	BUILD_DIR  the build to measure (default build): run an older
#	           build's directory in the same minutes for its baseline
#
# sluiced runs on the conf/sluiced.conf next to BUILD_DIR (an older
# checkout's own), else this checkout's; SLUICE_BENCH_CONF=FILE overrides.
#
# Each round serves the pages with ../shared/bench/serve-pages.sh, ingests
# them into a fresh sluiced (fetch.allow_private_addresses=true,
# fetch.max_per_host=64, fetch.max_total=64, fetch.host_delay=0, the rest
# at the bundled defaults), stops nginx, then times the pass: wall seconds
# from the request to the return of --wait, and sluiced's CPU seconds
# (utime+stime of all its threads) over the same span.  The size of
# data.mdb and of the WARC folder is shown after each round.
set -eu
root=$(cd "$(dirname "$0")/../.." && pwd)
. "$root/bench/shared.sh"
die() { echo "reclean: $*" >&2; exit 1; }
usage() { sed -n '5,12s/^#//p' "$0" >&2; exit 2; }

rounds=2 pages=5000 port=18498 warc=0 build=$root/build
while [ $# -gt 0 ]; do
	case $1 in
	-r) [ $# -ge 2 ] || usage; rounds=$2; shift 2 ;;
	-n) [ $# -ge 2 ] || usage; pages=$2; shift 2 ;;
	-p) [ $# -ge 2 ] || usage; port=$2; shift 2 ;;
	--warc) warc=1; shift ;;
	-*) usage ;;
	*) build=$(cd "$1" && pwd); shift ;;
	esac
done
[ -x "$build/sluiced" ] && [ -x "$build/sluicectl" ] ||
    die "no sluiced or sluicectl in $build (build first)"
[ -x "$shared/bench/serve-pages.sh" ] || die "no $shared/bench/serve-pages.sh"
conf=${SLUICE_BENCH_CONF:-$(dirname "$build")/conf/sluiced.conf}
[ -f "$conf" ] || conf=$root/conf/sluiced.conf
out=$build/bench-reclean
setup_traps

for r in $(seq "$rounds"); do
	rm -rf "$out"
	mkdir -p "$out/state"
	nginx_pid=$("$shared/bench/serve-pages.sh" \
	    "$shared/corpus/extract-dev/html" "$pages" "$port" "$out/www")
	seq 0 $((pages - 1)) |
	    sed "s|.*|http://127.0.0.1:$port/p/&.html|" > "$out/urls"
	capture=()
	[ "$warc" = 0 ] || capture=(--set warc.dir="$out/state/warc")
	sock=$out/state/control.sock
	"$build/sluiced" -f -c "$conf" \
	    --set daemon.state_dir="$out/state" --set daemon.socket="$sock" \
	    --set fetch.allow_private_addresses=true \
	    --set fetch.max_per_host=64 --set fetch.max_total=64 \
	    --set fetch.host_delay=0 "${capture[@]}" \
	    > "$out/sluiced.log" 2>&1 &
	daemon_pid=$!
	wait_daemon "$out" "$sock"
	"$build/sluicectl" -s "$sock" submit - < "$out/urls" > /dev/null
	"$build/sluicectl" -s "$sock" -t 0 wait --timeout 600 > /dev/null
	stop_nginx
	c0=$(awk '{print $14 + $15}' "/proc/$daemon_pid/stat")
	t0=$(date +%s.%N)
	res=$("$build/sluicectl" -s "$sock" -t 0 reclean --all --wait) ||
	    echo "    reclean --wait exited $?"
	t1=$(date +%s.%N)
	c1=$(awk '{print $14 + $15}' "/proc/$daemon_pid/stat")
	tck=$(getconf CLK_TCK)
	stop_daemon
	printf 'round %d/%d, %s: reclean wall %.2f s, CPU %.2f s; %s\n' \
	    "$r" "$rounds" "$([ "$warc" = 1 ] && echo "bodies in WARC" ||
	    echo "bodies in LMDB")" "$(echo "$t1 - $t0" | bc)" \
	    "$(echo "($c1 - $c0) / $tck" | bc -l)" "$res"
	du -sh "$out/state/data.mdb" "$out/state/warc" 2>/dev/null |
	    sed 's/^/    /' || true
done
