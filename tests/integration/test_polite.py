"""
test_polite.py - fetching politely and safely, end to end: robots.txt
(RFC 9309), per-host politeness and backoff, retries by status, and the
address guard tried directly, through a redirect and through a name.

Every test runs the real sluiced against fixture servers on 127.0.0.1 (and
127.0.0.2 as a second host) and talks to it only through sluicectl.
"""

import os
import time

from fixture_server import FixtureServer
from harness import Daemon, run_tests, wait_until

os.environ.setdefault("SLUICE_REQUIRE_BINARIES", "1")

# Fast retries and backoff so the tests stay short; politeness is relaxed
# unless a test is about it.
FAST = {
    "queue.retry_base": "100ms",
    "queue.retry_max": "1s",
    "fetch.host_backoff_min": "200ms",
    "fetch.host_delay": "0",
    "fetch.max_per_host": 4,
    "fetch.timeout": "5s",
}


def submit(d, *urls):
    res = d.ctl("submit", *urls)
    assert res[0] == 0, res
    return [r["id"] for r in res.obj["results"]]


def job(d, jid):
    return d.ctl("job", str(jid)).check().obj["job"]


def wait_idle(d, timeout=30):
    d.ctl("wait", "--timeout", str(timeout)).check()


def hosts(d):
    return {h["host"]: h for h in d.ctl("hosts").check().obj["hosts"]}


def settings(**extra):
    s = dict(FAST)
    s.update(extra)
    return s


# --- robots.txt ----------------------------------------------------------


def test_robots_disallow_fails_job_without_fetching(tmp):
    with FixtureServer() as web, Daemon(tmp, settings()) as d:
        web.robots = "User-agent: *\nDisallow: /private\n"
        bad, good = submit(d, web.url("/private/secret"), web.url("/page/1"))
        wait_idle(d)
        j = job(d, bad)
        assert j["state"] == "failed", j
        assert j["error"]["code"] == "robots_disallowed", j
        assert j["attempts"] == 1, j
        assert web.hits("/private/secret") == 0
        assert job(d, good)["state"] == "done"
        # robots.txt is fetched once per origin, then cached.
        submit(d, web.url("/page/2"), web.url("/page/3"))
        wait_idle(d)
        assert web.hits("/robots.txt") == 1
        assert hosts(d)[f"http://127.0.0.1:{web.port}"]["robots"] == "parse"


def test_robots_cache_survives_restart(tmp):
    with FixtureServer() as web, Daemon(tmp, settings()) as d:
        web.robots = "User-agent: *\nDisallow: /private\n"
        submit(d, web.url("/page/1"))
        wait_idle(d)
        d.restart()
        jid, = submit(d, web.url("/private/x"))
        wait_idle(d)
        assert job(d, jid)["error"]["code"] == "robots_disallowed"
        assert web.hits("/robots.txt") == 1


def test_robots_product_token_group(tmp):
    rules = ("User-agent: sluice\nDisallow: /\n\n"
             "User-agent: *\nAllow: /\n")
    with FixtureServer() as web:
        web.robots = rules
        with Daemon(tmp / "a", settings()) as d:
            jid, = submit(d, web.url("/page/1"))
            wait_idle(d)
            assert job(d, jid)["error"]["code"] == "robots_disallowed"
        with Daemon(tmp / "b", settings(**{"fetch.robots_token": "other"})) \
                as d:
            jid, = submit(d, web.url("/page/1"))
            wait_idle(d)
            assert job(d, jid)["state"] == "done"


def test_robots_missing_allows_everything(tmp):
    with FixtureServer() as web, Daemon(tmp, settings()) as d:
        web.robots = None		# 404
        jid, = submit(d, web.url("/page/5"))
        wait_idle(d)
        assert job(d, jid)["state"] == "done"
        assert hosts(d)[f"http://127.0.0.1:{web.port}"]["robots"] == \
            "allow-all"


def test_robots_unreachable_disallows_and_says_why(tmp):
    extra = settings(**{"queue.retry_base": "1s",
                        "fetch.host_backoff_min": "1s"})
    with FixtureServer() as web, Daemon(tmp, extra) as d:
        web.robots = 503
        jid, = submit(d, web.url("/page/1"))
        wait_until(lambda: job(d, jid)["attempts"] >= 1, what="an attempt")
        # Disallow everything while robots.txt is unreachable: nothing is
        # fetched; the job waits for a retry and says why.
        j = job(d, jid)
        assert j["state"] == "queued", j
        assert j["error"]["code"] == "http_status", j
        assert "robots.txt unreachable" in j["error"]["message"], j
        h = hosts(d)[f"http://127.0.0.1:{web.port}"]
        assert h["robots"] == "disallow-all", h
        # robots.txt is asked again after the host's backoff (1 s here,
        # never later than the 1 h cache limit); once it answers, the job
        # is fetched.
        web.robots = "User-agent: *\nAllow: /\n"
        wait_idle(d)
        assert job(d, jid)["state"] == "done"
        assert web.hits("/robots.txt") >= 2
        assert web.hits("/page/1") == 1


def test_unreachable_host_fails_with_the_network_error(tmp):
    import socket
    extra = settings(**{"queue.max_attempts": 2})
    with socket.socket() as closed, Daemon(tmp, extra) as d:
        closed.bind(("127.0.0.1", 0))	# bound, not listening: refused
        jid, = submit(d, f"http://127.0.0.1:{closed.getsockname()[1]}/x")
        wait_idle(d)
        j = job(d, jid)
        assert j["state"] == "failed" and j["attempts"] == 2, j
        assert j["error"]["code"] == "connect", j


def test_respect_robots_off_skips_robots(tmp):
    extra = settings(**{"fetch.respect_robots": "false"})
    with FixtureServer() as web, Daemon(tmp, extra) as d:
        web.robots = "User-agent: *\nDisallow: /\n"
        jid, = submit(d, web.url("/page/1"))
        wait_idle(d)
        assert job(d, jid)["state"] == "done"
        assert web.hits("/robots.txt") == 0


# --- politeness ----------------------------------------------------------


def starts(web, prefix):
    return sorted(r.time for r in web.requests if r.path.startswith(prefix))


def test_crawl_delay_is_honoured(tmp):
    with FixtureServer() as web, Daemon(tmp, settings()) as d:
        web.robots = "User-agent: *\nCrawl-delay: 1\n"
        submit(d, *[web.url(f"/page/{i}") for i in range(4)])
        wait_idle(d)
        t = starts(web, "/page/")
        assert len(t) == 4
        gaps = [b - a for a, b in zip(t, t[1:])]
        assert min(gaps) >= 0.9, gaps


def test_crawl_delay_is_clamped_and_logged(tmp):
    extra = settings(**{"fetch.max_crawl_delay": "500ms"})
    with FixtureServer() as web, Daemon(tmp, extra) as d:
        web.robots = "User-agent: *\nCrawl-delay: 3600\n"
        submit(d, *[web.url(f"/page/{i}") for i in range(3)])
        wait_idle(d)
        gaps = [b - a for a, b in zip(*(lambda t: (t, t[1:]))(
            starts(web, "/page/")))]
        assert all(0.4 <= g < 3 for g in gaps), gaps
        assert "clamped to fetch.max_crawl_delay" in d.log()


def test_one_in_flight_per_host_and_delay_between_starts(tmp):
    extra = settings(**{"fetch.max_per_host": 1, "fetch.host_delay": "300ms"})
    with FixtureServer() as web, FixtureServer(host="127.0.0.2") as other, \
            Daemon(tmp, extra) as d:
        slow = [web.url(f"/slow?bytes=2000&delay_ms=50&chunk=500&n={i}")
                for i in range(5)]
        submit(d, *slow, *[other.url(f"/page/{i}") for i in range(3)])
        wait_idle(d, 60)
        reqs = sorted((r for r in web.requests if r.path == "/slow"),
                      key=lambda r: r.time)
        assert len(reqs) == 5
        for a, b in zip(reqs, reqs[1:]):
            assert b.time - a.time >= 0.29, (a, b)
            # never two transfers at once to one host: each slow body
            # takes 4 x 50 ms to send
            assert b.time - a.time >= 0.19, (a, b)
        # The other host did not wait for the slow one.
        other_last = max(starts(other, "/page/"))
        assert other_last < reqs[-1].time, (other_last, reqs[-1].time)


def test_idle_connections_serve_many_hosts(tmp):
    """Six hosts, two transfers at a time, 300 ms between a host's starts:
    with the default fetch.idle_connections each host's robots.txt and two
    pages come over one connection.  With one kept (the old cap, 64 then,
    fell short the same way for more hosts), hosts need new connections."""
    def connections(sub, **extra):
        os.makedirs(tmp / sub)
        webs = [FixtureServer().start() for _ in range(6)]
        try:
            s = settings(**{"fetch.max_total": 2, "fetch.max_per_host": 1,
                            "fetch.host_delay": "300ms", **extra})
            with Daemon(tmp / sub, s) as d:
                submit(d, *[w.url(f"/page/{i}") for w in webs
                            for i in (1, 2)])
                wait_idle(d, 60)
                assert d.ctl("status").check().obj["jobs"]["done"] == 12
            for w in webs:
                assert len(w.requests) == 3, w.requests
            return [len({r.client for r in w.requests}) for w in webs]
        finally:
            for w in webs:
                w.stop()

    assert connections("kept") == [1] * 6
    assert sum(connections("one", **{"fetch.idle_connections": 1})) > 6


def test_backoff_after_429_pauses_the_host(tmp):
    """A 429 without Retry-After pauses the host for the backoff step."""
    extra = settings(**{"fetch.host_backoff_min": "1500ms",
                        "fetch.max_per_host": 1})
    with FixtureServer() as web, Daemon(tmp, extra) as d:
        first, second = submit(d, web.url("/flaky/k?fail=1&status=429"),
                               web.url("/page/9"))
        wait_idle(d)
        t429 = starts(web, "/flaky/k")
        t_page = starts(web, "/page/9")
        assert len(t429) == 2, t429
        assert web.requests_for("/flaky/k")[0].status == 429
        # The host paused for the backoff (1.5 s, +-10% jitter) before any
        # further request, although the job's own retry (retry_base 100 ms)
        # was due long before.
        assert t429[1] - t429[0] >= 1.3, t429
        assert t_page[0] - t429[0] >= 1.3, (t429, t_page)
        j = job(d, first)
        assert j["state"] == "done" and j["attempts"] == 2, j


def test_retry_after_longer_than_backoff_wins(tmp):
    with FixtureServer() as web, Daemon(tmp, settings()) as d:
        jid, = submit(d, web.url("/retry-after/r?fail=1&seconds=2"))
        wait_idle(d)
        t = starts(web, "/retry-after/r")
        assert len(t) == 2 and 1.9 <= t[1] - t[0] < 4, t
        assert job(d, jid)["state"] == "done"


def test_retry_after_is_the_pause_and_the_retry(tmp):
    """A 503 with Retry-After: 2 pauses its host for 2 s, not for
    fetch.host_backoff_min (60 s), and the job is retried after 2 s, not
    after queue.retry_base (30 s).  Another host does not wait."""
    extra = settings(**{"queue.retry_base": "30s", "queue.retry_max": "6h",
                        "fetch.host_backoff_min": "60s",
                        "fetch.host_backoff_max": "24h",
                        "fetch.host_delay": "100ms",
                        "fetch.max_per_host": 1})
    with FixtureServer() as web, FixtureServer(host="127.0.0.2") as other, \
            Daemon(tmp, extra) as d:
        busy = web.url("/retry-after/ra?fail=1&seconds=2&status=503")
        pages = [web.url(f"/page/{i}") for i in range(3)]
        elsewhere = [other.url(f"/page/{i}") for i in range(2)]
        t0 = time.monotonic()
        ids = submit(d, busy, *pages, *elsewhere)
        wait_until(lambda: job(d, ids[0])["state"] == "done", timeout=20,
                   what="the 503 job done")
        took = time.monotonic() - t0
        assert took <= 6, f"job done {took:.2f} s after submission"
        j = job(d, ids[0])
        assert j["attempts"] == 2 and j["http_status"] == 200, j
        wait_idle(d)
        for jid in ids:
            assert job(d, jid)["state"] == "done", job(d, jid)
        reqs = sorted((r for r in web.requests if r.path != "/robots.txt"),
                      key=lambda r: r.time)
        assert reqs[0].path == "/retry-after/ra" and reqs[0].status == 503, \
            reqs
        # Every request after the 503 waited out the 2 s pause, and the
        # first of them came no later than the pause plus a little slack.
        pause = [r.time - reqs[0].time for r in reqs[1:]]
        assert len(pause) == 4, reqs	# the retry and three pages
        assert min(pause) >= 1.9, pause
        assert min(pause) <= 4, pause
        retry = [r for r in reqs if r.path == "/retry-after/ra"]
        assert len(retry) == 2 and retry[1].status == 200, retry
        assert 1.9 <= retry[1].time - retry[0].time <= 4, retry
        # The other host was fetched during the pause.
        other_pages = starts(other, "/page/")
        assert len(other_pages) == 2, other_pages
        assert max(other_pages) < reqs[0].time + 1.9, \
            (other_pages, reqs[0].time)


def test_only_listed_statuses_are_retried(tmp):
    extra = settings(**{"queue.max_attempts": 2})
    codes = {404: 1, 410: 1, 403: 1, 400: 1, 408: 2, 500: 2, 502: 2, 503: 2,
             504: 2, 522: 2, 524: 2}
    with FixtureServer() as web, Daemon(tmp, extra) as d:
        ids = submit(d, *[web.url(f"/status/{c}") for c in codes])
        wait_idle(d, 60)
        for (code, attempts), jid in zip(codes.items(), ids):
            j = job(d, jid)
            assert j["state"] == "failed", j
            assert j["http_status"] == code, j
            assert j["error"]["code"] == "http_status", j
            assert j["attempts"] == attempts, (code, j)


# --- address guard -------------------------------------------------------

BLOCKED_FORMS = ["127.0.0.1", "127.1", "2130706433", "0x7f.1", "0177.0.0.1",
                 "[::ffff:127.0.0.1]", "[::1]", "localhost"]


def test_guard_blocks_loopback_in_every_form(tmp):
    with FixtureServer() as web, FixtureServer(host="::1") as web6, \
            Daemon(tmp, settings(), allow_private=False) as d:
        urls = [f"http://{h}:{web.port}/page/1" for h in BLOCKED_FORMS
                if h != "[::1]"] + [f"http://[::1]:{web6.port}/page/1"]
        ids = submit(d, *urls)
        wait_idle(d)
        for url, jid in zip(urls, ids):
            j = job(d, jid)
            assert j["state"] == "failed", (url, j)
            assert j["error"]["code"] == "address_blocked", (url, j)
        # Zero connections reached the target, robots.txt included.
        assert web.hits() == 0 and web6.hits() == 0


def test_guard_blocks_redirect_into_private(tmp):
    extra = settings(**{"fetch.allow_cidrs": "127.0.0.2/32"})
    with FixtureServer() as target, FixtureServer(host="127.0.0.2") as front, \
            Daemon(tmp, extra, allow_private=False) as d:
        hop = front.url("/redirect-to?code=302&url=" +
                        target.url("/page/1"))
        ok, bad = submit(d, front.url("/page/2"), hop)
        wait_idle(d)
        assert job(d, ok)["state"] == "done"	# the allowed host works
        j = job(d, bad)
        assert j["error"]["code"] == "address_blocked", j
        assert target.hits() == 0


def test_guard_blocks_names_resolving_to_private(tmp):
    with FixtureServer() as web, \
            Daemon(tmp, settings(), allow_private=False) as d:
        # localhost resolves through the system resolver (/etc/hosts), so
        # the check happens on the resolved address, not on the name.
        jid, = submit(d, f"http://localhost:{web.port}/page/3")
        wait_idle(d)
        assert job(d, jid)["error"]["code"] == "address_blocked"
        assert web.hits() == 0


if __name__ == "__main__":
    run_tests(globals())
