"""
test_metrics.py - the Prometheus endpoint (metrics.listen): what it counts
agrees with `status`, with `export` and with what the fixture server saw;
only GET /metrics is served; a reload moves the listener; and the output
passes `promtool check metrics` while an ingest is busy (skipped, saying
so, only when promtool is not installed: Debian's `prometheus` package).
"""

import re
import shutil
import socket
import subprocess
import time

from fixture_server import FixtureServer
from harness import Daemon, HarnessError, Skip, run_tests, source_dir, \
    wait_until
from itlib import FAST, export, ok, req, status, submit, wait_idle

SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? (\S+)$')


def http_get(where, path="/metrics", method="GET", timeout=10.0):
    """(status, headers text, body) of one request to where: a Unix
    socket path or (host, port)."""
    if isinstance(where, tuple):
        s = socket.create_connection(where, timeout=timeout)
    else:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(timeout)
        s.connect(str(where))
    with s:
        s.sendall(f"{method} {path} HTTP/1.1\r\nHost: x\r\n"
                  f"Connection: close\r\n\r\n".encode())
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    return int(lines[0].split()[1]), "\n".join(lines[1:]), body.decode()


def scrape(where):
    """{(name, labels text): value} of one scrape, and its text."""
    code, headers, body = http_get(where)
    assert code == 200, (code, body)
    assert "text/plain; version=0.0.4" in headers, headers
    out = {}
    for line in body.splitlines():
        if not line or line.startswith("#"):
            continue
        m = SAMPLE.match(line)
        assert m, f"not a sample line: {line!r}"
        out[(m[1], m[2] or "")] = float(m[3])
    return out, body


def by_label(samples, name, label):
    """{label value: sample value} of metric name."""
    out = {}
    for (n, labels), v in samples.items():
        if n == name:
            m = re.search(label + r'="([^"]*)"', labels)
            out[m[1] if m else ""] = v
    return out


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_counters_agree_with_status_and_export(tmp):
    msock = tmp / "metrics.sock"
    with FixtureServer() as web, \
            Daemon(tmp, extra_set=dict(FAST, **{
                "metrics.listen": msock})) as d:
        web.robots = "User-agent: *\nDisallow: /private/\n"
        pages = [web.url(f"/page/{i}") for i in range(20)]
        r1 = submit(d, pages + [web.url("/status/404"),
                                web.url("/redirect/1"),
                                web.url("/private/secret"),
                                web.url("/article"),
                                web.url("/article?copy=1"),
                                "not a url", "ftp://example.org/x"])
        r2 = submit(d, pages[:3])
        wait_idle(d)
        results = [r["status"] for r in r1["results"] + r2["results"]]
        s, text = scrape(msock)
        st = status(d)

        # Jobs by state: exactly status's.
        assert by_label(s, "sluice_jobs", "state") == \
            {k: float(v) for k, v in st["jobs"].items()}, (text, st)

        # Submissions by what became of them.
        sub = by_label(s, "sluice_submitted_urls_total", "result")
        assert sub == {"queued": results.count("queued"),
                       "duplicate": results.count("duplicate"),
                       "rejected": results.count("rejected")}, (sub, results)
        assert sub["rejected"] == 2 and sub["duplicate"] == 3, sub

        # One per transfer: every request the fixture saw, plus the job
        # robots.txt kept back (no request).
        f = by_label(s, "sluice_fetches_total", "result")
        assert f["robots"] == 1, f
        assert f["blocked"] == 0, f
        assert sum(f.values()) - f["robots"] == web.hits(), \
            (f, web.hits(), [r.path for r in web.requests])
        assert f["redirect"] == 1 and f["http_error"] >= 1, f
        assert f["ok"] == web.hits() - f["redirect"] - f["http_error"], f
        assert s[("sluice_fetch_duration_seconds_count", "")] == \
            sum(f.values()) - f["robots"], text
        assert s[("sluice_fetched_bytes_total", "")] >= \
            st["totals"]["bytes"] > 0, (text, st["totals"])

        # Documents: the sum is what export returns with the duplicates.
        docs = by_label(s, "sluice_documents_total", "duplicate")
        assert set(docs) == {"none", "url", "exact", "near"}, docs
        all_docs, end = export(d, include_duplicates=True)
        firsts, _ = export(d)
        assert sum(docs.values()) == len(all_docs) == end["count"], \
            (docs, len(all_docs))
        assert docs["none"] == len(firsts), (docs, len(firsts))
        assert docs["exact"] + docs["near"] + docs["url"] >= 1, docs
        assert sum(docs.values()) == st["totals"]["fetched"], st["totals"]

        # Histograms: one per page cleaned, one per write transaction.
        assert s[("sluice_clean_duration_seconds_count", "")] >= \
            len(all_docs), text
        assert s[("sluice_commit_duration_seconds_count", "")] >= 1, text
        buckets = [v for (n, lab), v in s.items()
                   if n == "sluice_fetch_duration_seconds_bucket"]
        assert buckets == sorted(buckets), "buckets not cumulative"
        assert s[("sluice_fetch_duration_seconds_bucket", '{le="+Inf"}')] \
            == s[("sluice_fetch_duration_seconds_count", "")], text

        # Gauges of the store, the hosts and the process.
        assert 0 < s[("sluice_store_used_bytes", "")] <= \
            s[("sluice_store_map_bytes", "")], text
        assert by_label(s, "sluice_hosts", "state") == \
            {"active": 0, "backoff": 0}, text
        assert s[("sluice_build_info", '{version="%s"}' % st["version"])] \
            == 1, text
        start = s[("process_start_time_seconds", "")]
        assert time.time() - 120 < start <= time.time(), start
        assert s[("process_open_fds", "")] > 3, text
        assert s[("process_max_fds", "")] >= s[("process_open_fds", "")]
        assert s[("process_resident_memory_bytes", "")] > 1 << 20, text
        assert s[("process_cpu_seconds_total", "")] > 0, text
        # No label names a host or a URL.
        assert "127.0.0.1" not in text and "/page/" not in text


def test_status_counters_are_defined_and_consistent(tmp):
    """status's counters mean what docs/protocol.md says: the jobs sum to
    totals.submitted, retried attempts are apart from failed jobs, URL
    duplicates caught at submit are counted, the pipeline counts bound
    jobs.active at every reply, and index_docs never falls."""
    with FixtureServer() as web, Daemon(tmp, extra_set=FAST) as d:
        web.robots = "User-agent: *\nDisallow: /private/\n"
        slow = [web.url(f"/slow?bytes=2000&delay_ms=50&chunk=100&n={i}")
                for i in range(6)]
        pages = [web.url(f"/page/{i}") for i in range(30)]
        urls = slow + pages + [web.url("/flaky/a?fail=1&status=503"),
                               web.url("/flaky/b?fail=2&status=500"),
                               web.url("/status/404"),
                               web.url("/private/x"),
                               web.url("/article"),
                               web.url("/article?copy=1")]
        submit(d, urls)
        again = submit(d, pages[:4] + slow[:1])
        assert [r["status"] for r in again["results"]] == \
            ["duplicate"] * 5, again
        seen_docs = 0
        samples = 0
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            st = status(d)
            samples += 1
            jobs_in_pipeline = (st["inflight"] - st["robots_inflight"] +
                                st["work_backlog"] + st["to_commit"])
            assert st["jobs"]["active"] >= jobs_in_pipeline, st
            assert 0 <= st["robots_inflight"] <= st["inflight"], st
            assert st["duplicates"]["index_docs"] >= seen_docs, st
            seen_docs = st["duplicates"]["index_docs"]
            if st["jobs"]["queued"] == 0 and st["jobs"]["active"] == 0:
                break
            time.sleep(0.01)
        wait_idle(d)
        st = status(d)
        t, dup, jobs = st["totals"], st["duplicates"], st["jobs"]
        assert samples > 3, samples
        # Every job was counted once when it was made.
        assert sum(jobs.values()) == t["submitted"] == len(urls), st
        # Failed jobs vs failed attempts: the flaky pages were retried
        # (1 + 2 attempts) and then done; the 404 and the robots.txt
        # refusal failed for good.
        assert jobs["failed"] == t["failed"] == 2, st
        assert t["retried"] == 3, st
        assert jobs["done"] == t["fetched"] == len(urls) - 2, st
        # Duplicates: 5 at submit; the article's copy as a document.
        assert dup["submit"] == 5, dup
        all_docs, _ = export(d, include_duplicates=True)
        copies = [x for x in all_docs if x["duplicate_of"] is not None]
        assert dup["url"] + dup["exact"] + dup["near"] == len(copies) >= 1, \
            (dup, len(copies))
        assert 0 < dup["index_docs"] <= len(all_docs) - len(copies), dup
        # Idle: nothing in the pipeline.
        assert (st["inflight"], st["robots_inflight"], st["work_backlog"],
                st["to_commit"], jobs["active"]) == (0, 0, 0, 0, 0), st
        # The totals survive a restart.
        d.restart()
        st2 = status(d)
        assert st2["totals"] == t and st2["duplicates"]["submit"] == 5, st2
        r = d.ctl("status", json=False).check()
        assert "5 at submit" in r.out and "3 retried" in r.out, r.out


def test_only_get_metrics_is_served(tmp):
    msock = tmp / "metrics.sock"
    with Daemon(tmp, extra_set={"metrics.listen": msock}) as d:
        assert http_get(msock, "/")[0] == 404
        assert http_get(msock, "/metrics/x")[0] == 404
        assert http_get(msock, "/metrics", method="POST")[0] in (405, 501)
        assert http_get(msock, "/metrics?name=x")[0] == 200
        assert http_get(msock, "/metrics", method="HEAD")[0] == 200
        ok(req(d, {"cmd": "status"}))
    assert not msock.exists(), "the metrics socket was left behind"


def test_tcp_listener_and_reload_moves_it(tmp):
    p1, p2 = free_port(), free_port()
    conf = tmp / "sluiced.conf"
    base = (source_dir() / "conf/sluiced.conf").read_text()
    assert "\nlisten =\n" in base, "conf/sluiced.conf: metrics.listen?"
    conf.write_text(base.replace("\nlisten =\n",
                                 f"\nlisten = 127.0.0.1:{p1}\n"))
    with Daemon(tmp, conf=conf) as d:
        scrape(("127.0.0.1", p1))
        conf.write_text(base.replace("\nlisten =\n",
                                     f"\nlisten = 127.0.0.1:{p2}\n"))
        r = ok(req(d, {"cmd": "reload"}))
        assert "metrics.listen" in r["applied"], r
        scrape(("127.0.0.1", p2))
        try:
            http_get(("127.0.0.1", p1), timeout=2)
            raise AssertionError("the old listener still answers")
        except OSError:
            pass
        # A listener that cannot be bound keeps the current one.
        with socket.socket() as busy:
            busy.bind(("127.0.0.1", 0))
            busy.listen()
            p3 = busy.getsockname()[1]
            conf.write_text(base.replace("\nlisten =\n",
                                         f"\nlisten = 127.0.0.1:{p3}\n"))
            ok(req(d, {"cmd": "reload"}))
            scrape(("127.0.0.1", p2))
            assert "still serving on 127.0.0.1:%d" % p2 in d.log(), \
                d.log_tail()
    # At start, an address that cannot be bound is fatal.
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        d = Daemon(tmp / "again", extra_set={
            "metrics.listen": f"127.0.0.1:{busy.getsockname()[1]}"})
        try:
            d.start()
            raise AssertionError("started on a port in use")
        except HarnessError:
            pass
        assert "metrics.listen" in d.log(), d.log_tail()


def test_promtool_accepts_a_scrape_during_a_busy_ingest(tmp):
    promtool = shutil.which("promtool")
    if promtool is None:
        raise Skip("promtool is not installed (Debian package prometheus)")
    msock = tmp / "metrics.sock"
    with FixtureServer() as web, \
            Daemon(tmp, extra_set=dict(FAST, **{
                "metrics.listen": msock, "fetch.max_per_host": 4})) as d:
        urls = [web.url(f"/page/{i}") for i in range(300)]
        urls += [web.url(f"/slow?bytes=2000&delay_ms=50&chunk=500&n={i}")
                 for i in range(20)]
        urls += [web.url("/status/500"), web.url("/reset-now")]
        submit(d, urls)
        busy = 0
        for _ in range(40):
            s, text = scrape(msock)
            p = subprocess.run([promtool, "check", "metrics"], input=text,
                               capture_output=True, text=True, timeout=60)
            assert p.returncode == 0 and not p.stdout.strip() and \
                not p.stderr.strip(), (p.stdout, p.stderr)
            jobs = by_label(s, "sluice_jobs", "state")
            busy += jobs["active"] > 0
            if jobs["queued"] == 0 and jobs["active"] == 0:
                break
            time.sleep(0.1)
        assert busy > 0, "never scraped while jobs were active"
        wait_idle(d, 120)


if __name__ == "__main__":
    run_tests(globals())
