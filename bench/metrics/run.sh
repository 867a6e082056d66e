#!/bin/sh
# bench/metrics/run.sh [JOBS] [SCRAPES] - the time of one GET /metrics with
# JOBS (default 100000) jobs queued: sluiced is paused so they stay queued,
# then SCRAPES (default 200) scrapes are timed one after the other over the
# metrics Unix socket; prints the median, the 99th percentile and the
# largest, next to a `status` request's round trip on the same daemon.
# Builds first; the state goes under build/bench-tmp.
set -eu
cd "$(dirname "$0")/../.."
jobs=${1:-100000}
scrapes=${2:-200}
cmake -S . -B build >/dev/null && cmake --build build -j2 >/dev/null
dir=$PWD/build/bench-tmp/metrics
rm -rf "$dir" && mkdir -p "$dir"
build/sluiced -f -c conf/sluiced.conf --set daemon.state_dir="$dir/state" \
    --set daemon.socket="$dir/ctl.sock" --set metrics.listen="$dir/m.sock" \
    >"$dir/sluiced.log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null || true' EXIT
i=0
while [ ! -S "$dir/m.sock" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
ctl() { build/sluicectl -s "$dir/ctl.sock" "$@"; }
ctl pause >/dev/null
python3 -c "
import sys
for i in range($jobs):
    print(f'https://h{i % 1000}.example.org/page/{i}')
" | ctl submit - >/dev/null
# The queue indexes the submissions in the background: wait for it, so
# that the loop is idle and the scrape alone is measured.
i=0
while [ $i -lt 600 ] && ! ctl --json status | grep -q '"unindexed": *0[,}]'; do
	sleep 0.5; i=$((i + 1))
done
ctl status | sed -n '1,3p'
python3 - "$dir" "$scrapes" <<'PY'
import json, socket, statistics, sys, time
d, n = sys.argv[1], int(sys.argv[2])

def get(path):
    s = socket.socket(socket.AF_UNIX)
    s.connect(path)
    s.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    data = b""
    while chunk := s.recv(1 << 16):
        data += chunk
    s.close()
    return data

def status(path):
    s = socket.socket(socket.AF_UNIX)
    s.connect(path)
    s.sendall(b'{"cmd":"status"}\n')
    data = b""
    while not data.endswith(b"\n"):
        data += s.recv(1 << 16)
    s.close()
    return json.loads(data)

def timed(fn, *a):
    out = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn(*a)
        out.append((time.perf_counter() - t0) * 1000)
    out.sort()
    return out

body = get(d + "/m.sock")
queued = [l for l in body.decode().splitlines()
          if l.startswith('sluice_jobs{state="queued"}')]
m = timed(get, d + "/m.sock")
s = timed(status, d + "/ctl.sock")
print(queued[0], f"; {len(body)} bytes per scrape")
for name, t in (("GET /metrics", m), ("status", s)):
    print(f"{name:13} median {statistics.median(t):.3f} ms, "
          f"p99 {t[int(len(t) * 0.99) - 1]:.3f} ms, max {t[-1]:.3f} ms "
          f"over {n}")
PY
