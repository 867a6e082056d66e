"""
test_budget.py - hostile pages against the cleaner's budget (issue 11,
"cleaning has a budget"): an attribute bomb fails as too_complex while a
healthy host's pages are done; cancel and SIGTERM interrupt a page being
cleaned; a page that a crash interrupts twice is failed, not fetched a
third time; depth-limited text is kept, logged and counted.

The slow cases turn extract.max_tag_work off, so that libxml2's
quadratic end-tag matching really runs (about 20 s on the page SLOW), as
on a page the prescan does not catch.
"""

import time

import itlib  # noqa: F401  (missing sluiced = failure)
from fixture_server import HOSTILE_TAIL, FixtureServer
from harness import Daemon, run_tests, wait_until
from itlib import FAST, doc, job, ok, req, submit_ids, wait_job, wait_jobs
from test_metrics import by_label, scrape

BOMB = "/hostile/attrs?n=40000"
BIG_BOMB = "/hostile/attrs?n=500000"
# 100,000 open <b>s, then 100,000 "</i>x": about 20 s of libxml2 matching
# end tags, with a text callback (a budget check) between any two.  The
# prescan refuses it (extract.max_tag_work); with that check off, only
# the clock, cancel or a stop can end it.
SLOW = "/hostile/unclosed?n=100000"
UNGUARDED = {"extract.max_tag_work": 0}


def cleaning(web, path, d, n=1, settle=0.5):
    """Waits for the page's n-th fetch, then a moment: it is at a
    worker."""
    assert web.wait_hits(path.split("?")[0], n, timeout=20), \
        f"{path} never fetched:\n{d.log_tail()}"
    time.sleep(settle)


def test_attribute_bomb_beside_a_healthy_host(tmp):
    """Two attribute bombs (40,000 and 500,000 attributes) fail as
    too_complex before parsing, and a slow page fails after
    extract.max_time, none retried, while a healthy host's 20 pages are
    all done meanwhile; then SIGTERM ends at once."""
    sets = dict(FAST, **UNGUARDED, **{"daemon.workers": 3,
                                      "extract.max_time": "3s"})
    with FixtureServer() as bad, FixtureServer() as good, \
            Daemon(tmp, extra_set=sets) as d:
        t0 = time.monotonic()
        bombs = submit_ids(d, [bad.url(BOMB), bad.url(BIG_BOMB)])
        [slow] = submit_ids(d, [bad.url(SLOW)])
        for j in wait_jobs(d, bombs, timeout=20):
            assert j["state"] == "failed", j
            assert j["error"]["code"] == "too_complex", j
            assert "attributes" in j["error"]["message"], j
            assert j["attempts"] == 1, j
        assert time.monotonic() - t0 < 10
        cleaning(bad, SLOW, d, settle=0.2)
        t0 = time.monotonic()
        healthy = submit_ids(d, [good.url(f"/page/{i}") for i in range(20)])
        for j in wait_jobs(d, healthy, timeout=20):
            assert j["state"] == "done", j
        healthy_s = time.monotonic() - t0
        j = wait_job(d, slow, timeout=30)
        slow_s = time.monotonic() - t0
        assert j["state"] == "failed", j
        assert j["error"]["code"] == "too_complex", j
        assert "CPU time" in j["error"]["message"], j
        assert j["attempts"] == 1, j
        assert healthy_s < slow_s, (healthy_s, slow_s)
        assert bad.hits("/hostile/unclosed") == 1
        t0 = time.monotonic()
        assert d.stop(timeout=10) == 0
        assert time.monotonic() - t0 < 5, "SIGTERM took too long"


def test_cancel_stops_the_cleaning(tmp):
    """One worker, cleaning a slow page with no time limit to speak of:
    cancel frees the worker within moments (the next page is done long
    before the slow one's 20 s), and the job stays cancelled."""
    sets = dict(FAST, **UNGUARDED, **{"daemon.workers": 1,
                                      "extract.max_time": "10m"})
    with FixtureServer() as web, Daemon(tmp, extra_set=sets) as d:
        [slow] = submit_ids(d, [web.url(SLOW)])
        cleaning(web, SLOW, d)
        assert job(d, slow)["state"] == "active"
        t0 = time.monotonic()
        ok(req(d, {"cmd": "cancel", "id": slow}), "cancel")
        [page] = submit_ids(d, [web.url("/page/1")])
        assert wait_job(d, page, timeout=10)["state"] == "done"
        assert time.monotonic() - t0 < 5, "the worker stayed busy"
        time.sleep(0.3)
        assert job(d, slow)["state"] == "cancelled"


def test_sigterm_while_cleaning_then_restart(tmp):
    """SIGTERM while a worker cleans a page that would take long: the
    daemon ends within daemon.shutdown_timeout; the job is fetched and
    cleaned again after the restart (a clean stop is no crash)."""
    sets = dict(FAST, **UNGUARDED, **{"daemon.workers": 1,
                                      "extract.max_time": "10m",
                                      "daemon.shutdown_timeout": "2s"})
    with FixtureServer() as web, Daemon(tmp, extra_set=sets) as d:
        [slow] = submit_ids(d, [web.url(SLOW)])
        cleaning(web, SLOW, d)
        t0 = time.monotonic()
        assert d.stop(timeout=15) == 0
        took = time.monotonic() - t0
        assert took < 3.5, f"SIGTERM took {took:.1f} s"
        d.sets["extract.max_time"] = "1s"
        d.start()
        j = wait_job(d, slow, timeout=30)
        assert j["state"] == "failed" and \
            j["error"]["code"] == "too_complex", j
        assert "CPU time" in j["error"]["message"], j
        assert web.hits("/hostile/unclosed") == 2


def test_poison_page_is_not_fetched_a_third_time(tmp):
    """SIGKILL twice while the same page is being cleaned: the next start
    fails the job as too_complex instead of fetching it again."""
    sets = dict(FAST, **UNGUARDED, **{"daemon.workers": 1,
                                      "extract.max_time": "10m"})
    with FixtureServer() as web, Daemon(tmp, extra_set=sets) as d:
        [slow] = submit_ids(d, [web.url(SLOW)])
        for n in (1, 2):
            cleaning(web, SLOW, d, n=n, settle=1.0)	# the count commits
            assert job(d, slow)["state"] == "active"
            d.restart(kill=True)
        j = wait_job(d, slow, timeout=10)
        assert j["state"] == "failed", j
        assert j["error"]["code"] == "too_complex", j
        assert "interrupted 2 times" in j["error"]["message"], j
        time.sleep(0.5)
        assert web.hits("/hostile/unclosed") == 2
        assert "too_complex" in d.log()
        # A healthy page goes through as ever: the count is per job.
        [page] = submit_ids(d, [web.url("/page/3")])
        assert wait_job(d, page)["state"] == "done"


def test_deep_and_big_pages_keep_their_text(tmp):
    """Text nested 300 deep (libxml2 stops at 256) is kept, the page is
    logged once and counted; 1,000,000 paragraphs are cut at
    extract.max_elements, logged and counted; neither fails."""
    msock = tmp / "metrics.sock"
    with FixtureServer() as web, \
            Daemon(tmp, extra_set=dict(FAST, **{
                "metrics.listen": msock})) as d:
        deep, paras = submit_ids(d, [web.url("/hostile/deep?n=300"),
                                     web.url("/hostile/paras?n=1000000")])
        for j in wait_jobs(d, [deep, paras], timeout=60):
            assert j["state"] == "done", j
        text = doc(d, deep)["text"]
        assert "The deepest paragraph of the page." in text, text
        assert HOSTILE_TAIL in text, text
        log = d.log()
        assert log.count(f"job {deep}: ") == 1, log
        assert "flattened" in log and "extract.max_elements" in log
        wait_until(lambda: by_label(scrape(msock)[0],
                                    "sluice_clean_budget_total",
                                    "what").get("truncated") == 1,
                   5, 0.1, "truncated counted")
        m = by_label(scrape(msock)[0], "sluice_clean_budget_total", "what")
        assert m["flattened"] == 1, m
        assert m["flattened_elements"] >= 300 - 250, m
        assert m["too_complex"] == 0, m


if __name__ == "__main__":
    run_tests(globals())
