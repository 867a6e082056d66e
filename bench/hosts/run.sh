#!/usr/bin/env bash
# Many hosts, default politeness: how close sluiced comes to the floor that
# politeness itself sets, on pages served by nginx on 127.0.0.1 (see
# README.md):
#
#   bench/hosts/run.sh [-r N] [--hosts N] [--pages-per-host N] [-p PORT]
#                      [-t SECONDS] [-k] [BUILD_DIR]
#	-r N, --repeat N     rounds (default 3); median, min and max are shown
#	--hosts N            hosts, i.e. ports of 127.0.0.1 (default 500)
#	--pages-per-host N   distinct pages on each host (default 4)
#	-p PORT              first port; the hosts use PORT..PORT+N-1
#	                     (default 19000)
#	-t SECONDS           give up on one round after this long (default 120)
#	-k                   keep each round's sluiced state
#
#   SLUICE_BENCH_CONF=FILE runs sluiced on FILE (an older build's own conf,
#   to measure it in the same run); SLUICE_BENCH_SET="--set KEY=VALUE ..."
#   adds settings (for diagnosis;
#   the figures are taken without it).
#
# One nginx listens on every port; each port is a host with its own
# robots.txt (allowing all) and its own distinct pages, made from the
# extract-dev corpus with a unique tail as ../shared/bench/serve-pages.sh
# makes them.  The URLs are submitted host by host (every URL of the first
# host, then the second's...) with one `sluicectl submit -`, to a fresh
# sluiced on the bundled conf/sluiced.conf, changed only by
# fetch.allow_private_addresses=true and a state directory and socket of
# its own.  Wall time runs from the submission to the return of
# `sluicectl wait`.
#
# The floor: one request at a time per host and fetch.host_delay (1 s)
# between two starts to one host, robots.txt first, so the last page of a
# host starts no earlier than pages_per_host x 1 s after its robots.txt:
# limit = 4 s with the defaults (issue 10's goal: wall <= 4.7 s, i.e.
# limit / wall >= 0.85).  Politeness is checked from nginx's access log
# ($server_port, $msec, $request_time): on each port no two requests may
# overlap in time, and two consecutive page starts (robots.txt left out)
# must be at least 0.9 s apart; every breach counts as a violation.
# sluiced's CPU (utime+stime of all its threads, /proc/PID/stat) over the
# same span is shown per page.
#
# Needs, installed beforehand (this script installs nothing): a build with
# sluiced and sluicectl; ../shared (or /work/shared) with
# corpus/extract-dev/html; Debian packages nginx-light, curl and python3.
# Work files and logs go to BUILD_DIR/bench-hosts/ (emptied first).
# A benchmark, never a test: a round takes about 10 seconds.
set -eu -o pipefail

usage() { sed -n '6,14s/^#//p' "$0" >&2; exit 2; }
die() { echo "run.sh: $*" >&2; exit 1; }

repeat=3 hosts=500 per_host=4 port=19000 limit=120 keep=0
while [ $# -gt 0 ]; do
	case $1 in
	-r | --repeat) [ $# -ge 2 ] || usage; repeat=$2; shift 2 ;;
	--hosts) [ $# -ge 2 ] || usage; hosts=$2; shift 2 ;;
	--pages-per-host) [ $# -ge 2 ] || usage; per_host=$2; shift 2 ;;
	-p) [ $# -ge 2 ] || usage; port=$2; shift 2 ;;
	-t) [ $# -ge 2 ] || usage; limit=$2; shift 2 ;;
	-k) keep=1; shift ;;
	-h | --help) usage ;;
	-*) usage ;;
	*) break ;;
	esac
done
for v in "$repeat" "$hosts" "$per_host" "$port" "$limit"; do
	case $v in '' | *[!0-9]* | 0) usage ;; esac
done
[ $((port + hosts - 1)) -le 65535 ] || usage

root=$(cd "$(dirname "$0")/../.." && pwd)
build=$(cd "${1:-$root/build}" 2>/dev/null && pwd) ||
    die "no build directory ${1:-$root/build}: cmake -S . -B build && cmake --build build -j2"
# shellcheck source=bench/shared.sh
. "$root/bench/shared.sh"
corpus=$shared/corpus/extract-dev/html
conf=${SLUICE_BENCH_CONF:-$root/conf/sluiced.conf}
PATH=$PATH:/usr/sbin	# nginx lives there; non-root shells may lack it
pages=$((hosts * per_host))
# The bundled fetch.host_delay; the floor below is worked out from it.
delay=1

# --- what must be there before anything starts ---------------------------
for f in "$build/sluiced" "$build/sluicectl"; do
	[ -x "$f" ] || die "missing $f: cmake -S . -B build && cmake --build build -j2"
done
[ -d "$corpus" ] || die "missing the corpus $corpus"
grep -q '^host_delay = 1s$' "$conf" ||
    die "$conf no longer has host_delay = 1s: update \$delay in $0"
command -v nginx >/dev/null || die "nginx missing: apt-get install nginx-light"
command -v curl >/dev/null || die "curl missing: apt-get install curl"
command -v python3 >/dev/null || die "python3 missing: apt-get install python3"
# nginx needs a descriptor per port, and sluiced one per transfer.
[ "$(ulimit -n)" = unlimited ] || [ "$(ulimit -n)" -ge $((hosts + 256)) ] ||
    die "ulimit -n is $(ulimit -n): $((hosts + 256)) descriptors needed"

out=$build/bench-hosts
rm -rf "$out"
mkdir -p "$out"
results=$out/results.tsv	# round wall cpu pages_done violations phases note
: >"$results"
hz=$(getconf CLK_TCK)

setup_traps

now() { date +%s.%N; }
load() { cut -d' ' -f1-3 /proc/loadavg; }

# CPU ticks (user+sys) of a process, threads included.
ticks() {
	[ -r "/proc/$1/stat" ] || { echo 0; return; }
	# Fields counted after the ")" that ends the command name.
	sed 's/.*) //' "/proc/$1/stat" | awk '{ print $12 + $13 }'
}

# --- the hosts: one nginx, one port per host -------------------------------
# Page i (of all hosts) is the (i mod count)-th corpus page; host h serves
# pages h*per_host .. h*per_host+per_host-1, so every URL is distinct and
# the tail paragraph (port and path) makes every body distinct too.
serve() {
	local www=$out/www i
	local -a files
	mkdir -p "$www/root/p" "$www/logs" "$www/tmp"
	mapfile -t files < <(find "$corpus" -maxdepth 1 -name '*.html' | sort)
	[ "${#files[@]}" -gt 0 ] || die "no .html pages in $corpus"
	for ((i = 0; i < pages; i++)); do
		ln -s "${files[i % ${#files[@]}]}" "$www/root/p/$i.html"
	done
	{
		cat <<-CONF
		worker_processes 1;
		pid $www/nginx.pid;
		error_log $www/logs/error.log warn;
		events { worker_connections 4096; }
		http {
		  # \$msec is when the line is written (the request's end);
		  # the start is \$msec - \$request_time.
		  log_format timing '\$server_port \$msec \$request_time \$status \$request_uri';
		  access_log $www/logs/access.log timing;
		  types { text/html html; }
		  default_type text/html;
		  client_body_temp_path $www/tmp; proxy_temp_path $www/tmp;
		  fastcgi_temp_path $www/tmp; uwsgi_temp_path $www/tmp;
		  scgi_temp_path $www/tmp;
		  server {
		    root $www/root;
		    disable_symlinks off;
		    sub_filter_once on;
		    sub_filter '</body>' '<p>Unique tail for \$server_port\$uri.</p></body>';
		    location = /robots.txt { return 200 "User-agent: *\nAllow: /\n"; }
		CONF
		for ((i = 0; i < hosts; i++)); do
			echo "    listen 127.0.0.1:$((port + i));"
		done
		echo "  }"
		echo "}"
	} >"$www/nginx.conf"
	nginx -c "$www/nginx.conf" -e "$www/logs/error.log" 2>"$out/serve.log" ||
	    { cat "$out/serve.log" "$www/logs/error.log" >&2 2>/dev/null
	      die "nginx did not start (ports $port..$((port + hosts - 1)) free?)"; }
	for _ in $(seq 50); do
		[ -s "$www/nginx.pid" ] && break
		sleep 0.1
	done
	nginx_pid=$(cat "$www/nginx.pid")
	curl -sf -o /dev/null --max-time 5 "http://127.0.0.1:$((port + hosts - 1))/p/$((pages - 1)).html" ||
	    die "nginx does not serve the last host's last page"
}

# --- one round --------------------------------------------------------------
start_daemon() {
	local dir=$1 sock=$1/state/control.sock
	mkdir -p "$dir/state"
	"$build/sluiced" -f -c "$conf" \
	    --set daemon.state_dir="$dir/state" \
	    --set daemon.socket="$sock" \
	    --set fetch.allow_private_addresses=true \
	    ${SLUICE_BENCH_SET:+$SLUICE_BENCH_SET} \
	    >"$dir/sluiced.log" 2>&1 &
	daemon_pid=$!
	wait_daemon "$dir" "$sock"
}

run_round() {
	local r=$1 dir=$out/round$1 log=$out/www/logs/access.log
	local t0 t1 c0 c1 st lines ok failed warn
	local ctl=("$build/sluicectl" -s "$dir/state/control.sock")
	start_daemon "$dir"
	lines=$(wc -l <"$log")
	c0=$(ticks "$daemon_pid")
	t0=$(now)
	# In the foreground: a background job's stdin would be /dev/null.
	timeout -k 5 "$limit" "${ctl[@]}" submit - <"$out/urls.txt" \
	    >"$dir/submit.out" 2>&1 ||
	    die "submit failed: $(tail -n 3 "$dir/submit.out")"
	st=ok
	run_child "${ctl[@]}" -t 0 wait --timeout "$limit" >"$dir/wait.out" 2>&1 ||
	    st="wait failed: $(cat "$dir/wait.out")"
	t1=$(now)
	c1=$(ticks "$daemon_pid")
	"${ctl[@]}" --json status >"$dir/status.json"
	read -r ok failed < <(python3 -c '
import json, sys
j = json.load(open(sys.argv[1]))["jobs"]
print(j["done"], j["failed"])' "$dir/status.json")
	warn=$(grep -c '^<[0-4]>' "$dir/sluiced.log" || true)
	[ "$ok" = "$pages" ] && [ "$st" = ok ] || daemon_post_mortem "$dir"
	stop_daemon
	# nginx writes each line as the request ends: all are in by now.
	tail -n +"$((lines + 1))" "$log" >"$dir/access.log"
	python3 "$root/bench/hosts/politeness.py" "$dir/access.log" "$t0" \
	    "$hosts" "$per_host" >"$dir/politeness.txt"
	printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$r" \
	    "$(awk -v a="$t1" -v b="$t0" 'BEGIN { printf "%.3f", a - b }')" \
	    "$(awk -v t=$((c1 - c0)) -v hz="$hz" 'BEGIN { printf "%.2f", t / hz }')" \
	    "$ok" "$(sed -n 's/^violations //p' "$dir/politeness.txt")" \
	    "$(sed -n 's/^phases //p' "$dir/politeness.txt")" \
	    "$failed failed, $warn log warnings; $st" >>"$results"
	[ "$keep" = 1 ] || rm -rf "$dir/state"
}

echo "serving $pages pages on $hosts hosts (127.0.0.1:$port..$((port + hosts - 1)))," \
    "$per_host each, made from $(find "$corpus" -maxdepth 1 -name '*.html' | wc -l) corpus pages"
serve
for ((h = 0; h < hosts; h++)); do
	for ((k = 0; k < per_host; k++)); do
		echo "http://127.0.0.1:$((port + h))/p/$((h * per_host + k)).html"
	done
done >"$out/urls.txt"

for ((r = 1; r <= repeat; r++)); do
	mkdir -p "$out/round$r"
	echo "round $r/$repeat, load $(load)"
	run_round "$r"
	tail -n 1 "$results" | awk -F'\t' '{
	    printf "    wall %.2f s, CPU %.2f s, %s done, %s politeness violations\n",
	    $2, $3, $4, $5
	    split($6, p, " ")
	    printf "    last robots.txt answered %.2f s, last page started %.2f s," \
	        " last answered %.2f s after the submission began; %s\n",
	        p[1], p[2], p[3], $7 }'
	sed -n 's/^  /    /p' "$out/round$r/politeness.txt"
done
echo "load after the last round: $(load)"
stop_nginx

python3 - "$results" "$pages" "$hosts" "$per_host" "$delay" "$repeat" <<'PY'
import statistics, sys
results, pages, hosts, per_host, delay, repeat = sys.argv[1:]
pages, hosts, per_host = int(pages), int(hosts), int(per_host)
delay, repeat = float(delay), int(repeat)
limit = per_host * delay
rows = []
for line in open(results):
    r, wall, cpu, done, viol, phases, note = line.rstrip("\n").split("\t")
    wall, cpu, done, viol = float(wall), float(cpu), int(done), int(viol)
    rows.append((wall, limit / wall, 1000 * cpu / max(done, 1), cpu / wall,
                 viol, done))


def spread(i, fmt):
    v = [row[i] for row in rows]
    return (f"{fmt.format(statistics.median(v)):>9}{fmt.format(min(v)):>9}"
            f"{fmt.format(max(v)):>9}")


print(f"\n{repeat} rounds, {hosts} hosts x {per_host} pages = {pages} pages, "
      f"bundled defaults (fetch.host_delay {delay:g} s, one transfer per host)")
print(f"{'':34}{'median':>9}{'min':>9}{'max':>9}")
print(f"{'wall s (submit to wait)':34}{spread(0, '{:.2f}')}")
print(f"{'limit / wall':34}{spread(1, '{:.1%}')}")
print(f"{'sluiced CPU ms/page':34}{spread(2, '{:.2f}')}")
print(f"{'sluiced CPU / wall (cores busy)':34}{spread(3, '{:.2f}')}")
print(f"{'politeness violations':34}{spread(4, '{:.0f}')}")
print(f"{'pages done':34}{spread(5, '{:.0f}')}")
print(f"\nlimit = {per_host} pages/host x {delay:g} s = {limit:g} s "
      "(robots.txt, then one page start per host_delay)")
med = statistics.median(row[0] for row in rows)
short = min(row[5] for row in rows) < pages
viol = sum(row[4] for row in rows)
verdict = ("no verdict: pages missing" if short else
           "met" if med <= 4.7 else "NOT met")
print(f"goal: wall <= 4.7 s (limit / wall >= 85%): median {med:.2f} s, "
      f"{verdict}")
print(f"politeness: {viol} violations in {repeat} rounds "
      f"({'none' if viol == 0 else 'BREACHED'})")
PY
echo "logs and per-round files: $out"
