"""
daemon_poll.py - one poll of a 50,000-entry sitemap through the real
sluiced (docs/benchmarks.md, "Feeds"): fetch, parse on a worker, and the
50,000 entries submitted and indexed, measured as the daemon's CPU time
(utime + stime from /proc) and its peak RSS (VmHWM).

The entries point at a second fixture server whose robots.txt does not
answer for minutes, so none of them is fetched while we measure.  The
baseline, in the same run: the same 50,000 URLs submitted with
`sluicectl submit -`.  Modes are interleaved, ROUNDS rounds, each on a
fresh daemon; median and range.

Usage: PYTHONPATH=tests/integration:tests/fixture SLUICE_BUILD=build \
       python3 bench/feeds/daemon_poll.py [ROUNDS]
"""

import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

from feed_server import Entry, FeedServer, sitemap
from harness import Daemon, wait_until

N = 50000
TICK = os.sysconf("SC_CLK_TCK")


def cpu_ms(pid):
    f = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(f[11]) + int(f[12])) * 1000 / TICK


def hwm_kib(pid):
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0


def settle(d, want):
    def idle():
        s = d.request({"cmd": "status"})
        return (s["jobs"]["queued"] >= want and s["unindexed"] == 0 and
                s["to_commit"] == 0 and s["work_backlog"] == 0)
    wait_until(idle, 300, 0.05, "submissions indexed")


def one(mode, web, sink, tmp):
    urls = [sink.url(f"/a/{i}") for i in range(N)]
    sets = {"fetch.host_delay": 0, "feeds.max_interval": "1h",
            "feeds.min_interval": "1h", "queue.max_batch": 100000}
    with Daemon(tmp, extra_set=sets) as d:
        time.sleep(0.5)
        c0, h0 = cpu_ms(d.pid), hwm_kib(d.pid)
        t0 = time.monotonic()
        if mode == "submit":
            r = d.ctl("submit", "-", input="\n".join(urls) + "\n",
                      json=False)
            assert r.code == 0, r
            settle(d, N)
        else:
            path = "/sitemap.xml.gz" if mode == "poll-gz" else "/sitemap.xml"
            fid = d.request({"cmd": "feed_add",
                             "url": web.url(path)})["feed"]["id"]
            wait_until(lambda: d.request({"cmd": "feed", "id": fid})
                       ["feed"]["polls"] >= 1, 300, 0.05, "the poll")
            settle(d, N)
            f = d.request({"cmd": "feed", "id": fid})["feed"]
            assert f["entries"] == N, f
        wall = time.monotonic() - t0
        return cpu_ms(d.pid) - c0, wall * 1000, hwm_kib(d.pid), h0


def main():
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    res = {}
    with FeedServer() as web, FeedServer() as sink:
        sink.robots_delay = 600
        es = [Entry(sink.url(f"/a/{i}"), published=time.time() - 60)
              for i in range(N)]
        body = sitemap(es)
        web.put("/sitemap.xml", body)
        web.put("/sitemap.xml.gz", body, ctype="application/gzip", gz=True)
        print(f"sitemap: {len(body)} bytes, "
              f"{len(web._docs['/sitemap.xml.gz'].body)} gzipped")
        for r in range(rounds):
            for mode in ("submit", "poll", "poll-gz"):
                with tempfile.TemporaryDirectory(prefix="sluice-b-") as t:
                    res.setdefault(mode, []).append(one(mode, web, sink,
                                                        Path(t)))
    print(f"{'mode':8} {'CPU ms median':>14} {'range':>17} {'wall ms':>9} "
          f"{'peak RSS MiB (max)':>19} {'idle RSS MiB':>13}")
    for mode, xs in res.items():
        cpu = [x[0] for x in xs]
        print(f"{mode:8} {statistics.median(cpu):14.0f} "
              f"{min(cpu):8.0f}-{max(cpu):<8.0f} "
              f"{statistics.median([x[1] for x in xs]):9.0f} "
              f"{max(x[2] for x in xs) / 1024:19.1f} "
              f"{max(x[3] for x in xs) / 1024:13.1f}")


if __name__ == "__main__":
    main()
