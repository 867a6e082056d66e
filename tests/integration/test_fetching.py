"""
test_fetching.py - sluiced fetching from the misbehaving fixture server:
what each kind of response does to a job (state, error code, attempts,
document), retries and backoff, redirects, limits, duplicates, forced and
conditional refetches, cancel/retry/pause/drain/wait, export, status and
per-host politeness.  Talks to the daemon over the raw control socket.
"""

import math
import re
import socket
import time

import itlib  # noqa: F401  (missing sluiced = failure)
from fixture_server import CHARSET_PAGES, FixtureServer, page_html, page_title
from harness import Client, Daemon, run_tests, wait_until
from itlib import (DOC_FIELDS, FAST, JOB_FIELDS, JOB_STATES, all_jobs,
                   counts, doc, export, fetch_one, is_error, job, ok,
                   parse_time, req, rfc3339, status, submit, submit_ids,
                   wait_idle, wait_job, wait_jobs)


def fast(**kw):
    """FAST plus the given keys (section__key=value)."""
    return dict(FAST, **{k.replace("__", "."): v for k, v in kw.items()})


def failed_with(j, code, attempts=None, http_status=None, message=True):
    assert j["state"] == "failed", j
    assert j["error"] is not None and j["error"]["code"] == code, j
    assert isinstance(j["error"]["message"], str), j
    # (The cleaner's verdicts carry the cleaner's message, which the
    # stand-in cleaner leaves empty.)
    assert j["error"]["message"] or not message, j
    if attempts is not None:
        assert j["attempts"] == attempts, j
    if http_status is not None:
        assert j["http_status"] == http_status, j
    assert j["doc_id"] is None and j["finished_at"] is not None, j


def gaps(reqs):
    return [b.time - a.time for a, b in zip(reqs, reqs[1:])]


# --- one page -----------------------------------------------------------

def test_page_done_with_document(tmp):
    with FixtureServer() as web, Daemon(tmp, extra_set=FAST) as d:
        url = web.url("/page/1")
        t0 = time.time()
        r = submit(d, [url])
        assert (r["queued"], r["duplicates"], r["rejected"]) == (1, 0, 0), r
        res = r["results"][0]
        assert res == {"url": url, "status": "queued", "id": res["id"]}, res
        jid = res["id"]
        j = wait_job(d, jid)
        t1 = time.time()
        assert set(j) == JOB_FIELDS, set(j) ^ JOB_FIELDS
        assert j["state"] == "done" and j["attempts"] == 1, j
        assert j["http_status"] == 200 and j["error"] is None, j
        assert j["doc_id"] == jid and j["url"] == url and j["priority"] == 0
        assert j["not_before"] is None
        created = parse_time(j["created_at"])
        finished = parse_time(j["finished_at"])
        assert t0 - 1 <= created <= finished <= t1 + 1, j
        dd = doc(d, jid)
        assert set(dd) == DOC_FIELDS, set(dd) ^ DOC_FIELDS
        assert dd["id"] == jid and dd["url"] == url and dd["final_url"] == url
        assert dd["http_status"] == 200, dd
        assert dd["content_type"] == "text/html; charset=utf-8", dd
        assert created - 1 <= parse_time(dd["fetched_at"]) <= finished + 1
        assert dd["title"] == page_title(1), dd["title"]
        assert isinstance(dd["text"], str) and dd["text"].strip(), dd
        assert re.fullmatch(r"[0-9a-f]{32}", dd["content_hash"]), dd
        assert isinstance(dd["word_count"], int)
        assert dd["duplicate_of"] is None and dd["duplicate_kind"] is None
        assert doc(d, url=url) == dd
        jobs, totals = counts(d)
        assert jobs == {"queued": 0, "active": 0, "done": 1, "failed": 0,
                        "cancelled": 0}, jobs
        assert totals["submitted"] == 1 and totals["fetched"] == 1, totals
        assert totals["failed"] == 0 and totals["not_modified"] == 0, totals
        assert totals["bytes"] == len(page_html(1)), totals
        [hit] = web.requests_for("/page/1")
        assert hit.method == "GET" and hit.status == 200


# --- HTTP errors and retries ---------------------------------------------

def test_http_404_410_fail_at_once(tmp):
    with FixtureServer() as web, Daemon(tmp, extra_set=FAST) as d:
        ids = submit_ids(d, [web.url("/status/404"), web.url("/status/410"),
                             web.url("/status/403")])
        jobs = wait_jobs(d, ids)
        time.sleep(0.6)		# three retry_base periods: no retry comes
        for j, code in zip(jobs, (404, 410, 403)):
            failed_with(j, "http_status", attempts=1, http_status=code)
            assert job(d, j["id"]) == j, "a failed job changed later"
            assert web.hits(f"/status/{code}") == 1
            is_error(req(d, {"cmd": "doc", "id": j["id"]}), "not_found")
        jobs, totals = counts(d)
        assert jobs["failed"] == 3 and totals["failed"] == 3, (jobs, totals)
        assert totals["fetched"] == 0


def test_5xx_retried_with_backoff(tmp):
    sets = fast(queue__max_attempts=3)
    with FixtureServer() as web, Daemon(tmp, extra_set=sets) as d:
        [a, b] = submit_ids(d, [web.url("/flaky/a?fail=2"),
                                web.url("/flaky/b?fail=9&status=502")])
        # While b waits for its retry, its last error is visible.
        waiting = wait_until(
            lambda: (lambda j: j if j["state"] == "queued" and
                     j["attempts"] >= 1 else None)(job(d, b)),
            10, 0.01, "job b waiting for a retry")
        assert waiting["error"]["code"] == "http_status", waiting
        assert waiting["http_status"] == 502, waiting
        assert waiting["not_before"] is not None, waiting
        ja, jb = wait_jobs(d, [a, b])
        assert ja["state"] == "done" and ja["attempts"] == 3, ja
        assert ja["http_status"] == 200 and ja["error"] is None, ja
        assert doc(d, a)["url"] == web.url("/flaky/a?fail=2")
        failed_with(jb, "http_status", attempts=3, http_status=502)
        assert web.hits("/flaky/a") == 3 and web.hits("/flaky/b") == 3
        # retry_base 200 ms doubled per attempt, +-20%.
        for key in ("a", "b"):
            g = gaps(web.requests_for(f"/flaky/{key}"))
            assert g[0] >= 0.15 and g[1] >= 0.3, (key, g)
            assert g[0] < 2 and g[1] < 2, (key, g)
        assert counts(d)[1]["failed"] == 1


def test_retry_after_honoured(tmp):
    """429 and 503 with Retry-After (seconds and HTTP-date): the retry
    comes no earlier than asked; the host pauses meanwhile."""
    cases = [("/retry-after/k?seconds=1", 1.0),
             ("/retry-after/k?seconds=2&status=503", 2.0),
             ("/retry-after-date/k?seconds=3", 2.0)]	# date: 1 s steps
    webs = [FixtureServer().start() for _ in cases]
    try:
        with Daemon(tmp, extra_set=FAST) as d:
            ids = submit_ids(d, [w.url(p) for w, (p, _) in zip(webs, cases)])
            # Once the 429 of the first host is recorded, more URLs of
            # that host must wait for the Retry-After too.
            wait_until(lambda: job(d, ids[0])["attempts"] >= 1 and
                       job(d, ids[0])["state"] == "queued", 5, 0.01,
                       "the 429 recorded")
            [p] = submit_ids(d, [webs[0].url("/page/1")])
            for j in wait_jobs(d, ids + [p], timeout=30):
                assert j["state"] == "done", j
            for jid in ids:
                assert job(d, jid)["attempts"] == 2
            for w, (path, least) in zip(webs, cases):
                reqs = w.requests_for(path.split("?")[0])
                assert len(reqs) == 2, reqs
                assert reqs[0].status in (429, 503) and reqs[1].status == 200
                g = reqs[1].time - reqs[0].time
                assert g >= least - 0.02, f"{path}: retried after {g:.3f}s"
            first = webs[0].requests_for("/retry-after/k")[0]
            [page] = webs[0].requests_for("/page/1")
            assert page.time - first.time >= 0.98, \
                "host did not pause after 429 Retry-After: 1"
    finally:
        for w in webs:
            w.stop()


# --- redirects -----------------------------------------------------------

def test_redirects(tmp):
    with FixtureServer() as web, Daemon(tmp, extra_set=FAST) as d:
        done = ["/redirect/3", "/redirect/2?abs=1&code=301",
                "/redirect/1?code=307", "/redirect/1?code=308",
                "/redirect/10"]
        bad = {"/redirect/11": "redirects",
               "/redirect-loop/a": "redirects",
               "/redirect-scheme/ftp": "bad_scheme",
               "/redirect-scheme/file": "bad_scheme",
               # A target we may not fetch is the page's error, not a
               # loop: credentials, no host, a port out of range.
               "/redirect-to?url=http%3A%2F%2Fu%3Apw%40127.0.0.1%2Fx":
                   "bad_redirect",
               "/redirect-to?url=http%3A%2F%2F%3A80%2Fx": "bad_redirect",
               "/redirect-to?url=http%3A%2F%2F127.0.0.1%3A99999%2F":
                   "bad_redirect"}
        ids = submit_ids(d, [web.url(p) for p in done + list(bad)])
        jobs = wait_jobs(d, ids)
        for path, j in zip(done, jobs):
            assert j["state"] == "done" and j["attempts"] == 1, j
            dd = doc(d, j["id"])
            query = path.partition("?")[2]
            want = web.url("/redirect/0" + ("?" + query if query else ""))
            assert dd["url"] == web.url(path), dd["url"]
            assert dd["final_url"] == want, (path, dd["final_url"])
            assert dd["http_status"] == 200
        for (path, code), j in zip(bad.items(), jobs[len(done):]):
            failed_with(j, code, attempts=1)
        assert web.hits("/redirect-loop/a") + web.hits("/redirect-loop/b") \
            <= 11
        assert web.hits("/redirect/11") == 1


# --- limits and broken transfers ---------------------------------------

def test_body_limits(tmp):
    sets = fast(fetch__max_body="64KiB")
    with FixtureServer() as web, Daemon(tmp, extra_set=sets) as d:
        big = ["/big?kb=200", "/big?chunked=1&kb=200", "/gzip-bomb?mb=50",
               "/gzip-bomb?fill=zero&mb=1"]
        ids = submit_ids(d, [web.url(p) for p in big + ["/big?kb=60"]])
        jobs = wait_jobs(d, ids)
        for j in jobs[:-1]:
            failed_with(j, "too_large", attempts=1)
        assert jobs[-1]["state"] == "done", jobs[-1]
        assert web.hits("/big") == 3 and web.hits("/gzip-bomb") == 2


def test_timeouts_retried_then_failed(tmp):
    sets = fast(queue__max_attempts=2, fetch__timeout="1s",
                fetch__connect_timeout="1s")
    with FixtureServer() as web, Daemon(tmp, extra_set=sets) as d:
        slow = "/slow?bytes=3000&chunk=100&delay_ms=500"
        ids = submit_ids(d, [web.url(slow),
                             web.url("/slow-headers?delay_ms=3000"),
                             web.url("/slow?bytes=400&delay_ms=100")])
        t0 = time.monotonic()
        jobs = wait_jobs(d, ids, timeout=20)
        for j in jobs[:2]:
            failed_with(j, "timeout", attempts=2)
        assert jobs[2]["state"] == "done", jobs[2]
        assert web.hits("/slow-headers") == 2 and web.hits(slow) == 2
        for path in (slow, "/slow-headers?delay_ms=3000"):
            g = gaps(web.requests_for(path))
            assert g[0] >= 1.0, f"{path}: second attempt after {g}"
        assert time.monotonic() - t0 < 10


def test_network_errors(tmp):
    sets = fast(queue__max_attempts=2)
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{closed.getsockname()[1]}/page/1"
        with FixtureServer() as web, Daemon(tmp, extra_set=sets) as d:
            paths = ["/reset?after=100", "/reset-now",
                     "/close-early?length=5000&sent=100"]
            ids = submit_ids(d, [web.url(p) for p in paths] +
                             [dead, web.url("/gzip-bad")])
            jobs = wait_jobs(d, ids, timeout=20)
            for p, j in zip(paths, jobs):
                failed_with(j, "network", attempts=2)
                assert web.hits(p.split("?")[0]) == 2, p
            failed_with(jobs[3], "connect", attempts=2)
            failed_with(jobs[4], "decoding", attempts=1)


def test_unsupported_content_type(tmp):
    with FixtureServer() as web, Daemon(tmp, extra_set=FAST) as d:
        ids = submit_ids(d, [web.url("/binary.pdf"), web.url("/image.png")])
        for j in wait_jobs(d, ids):
            failed_with(j, "unsupported_content_type", attempts=1,
                        message=False)
        assert web.hits("/binary.pdf") == 1 and web.hits("/image.png") == 1


def test_wrong_charset_labels_stored(tmp):
    """Pages whose charset labels are missing or wrong are fetched, stored
    and decoded right: the title comes out as the page meant it."""
    names = {"windows-1252": "text/html; charset=windows-1252",
             "meta-only": "text/html",
             "latin1-as-utf8": "text/html; charset=utf-8",
             "utf8-bom": "text/html",
             "meta-disagrees": "text/html; charset=utf-8"}
    with FixtureServer() as web, Daemon(tmp, extra_set=FAST) as d:
        ids = submit_ids(d, [web.url(f"/charset/{n}") for n in names])
        for (name, ctype), j in zip(names.items(), wait_jobs(d, ids)):
            assert j["state"] == "done", j
            dd = doc(d, j["id"])
            assert dd["url"] == web.url(f"/charset/{name}")
            assert dd["content_type"] == ctype and dd["http_status"] == 200
            # (the cleaner may trim a " — suffix" from a title, as it
            # does site names; what is kept must be decoded right)
            want = CHARSET_PAGES[name][2]
            assert dd["title"] and want.startswith(dd["title"]) and \
                any(ord(ch) > 127 for ch in dd["title"]), \
                (name, dd["title"], want)
            assert "\ufffd" not in (dd["text"] or ""), (name, dd["text"])
        # windows-1252 and meta-only are the same bytes: one may be
        # stored as a duplicate of the other.
        docs, final = export(d, include_duplicates=True)
        assert len(docs) == final["count"] == len(names)


def test_address_guard_blocks_loopback(tmp):
    with FixtureServer() as web, \
            Daemon(tmp, extra_set=FAST, allow_private=False) as d:
        [jid] = submit_ids(d, [web.url("/page/1")])
        j = wait_job(d, jid)
        failed_with(j, "address_blocked")
        assert web.hits() == 0


# --- duplicates and refetches ------------------------------------------

def test_duplicate_submission(tmp):
    with FixtureServer() as web, Daemon(tmp, extra_set=FAST) as d:
        url = web.url("/page/2")
        r = submit(d, [url, url])
        assert (r["queued"], r["duplicates"]) == (1, 1), r
        a, b = r["results"]
        assert a["status"] == "queued" and b["status"] == "duplicate", r
        assert b["id"] == a["id"] and b["duplicate"] == "url", b
        assert b["state"] == "queued" and b["url"] == url, b
        wait_job(d, a["id"])
        for form in ([url], url):
            r = submit(d, form)
            assert (r["queued"], r["duplicates"], r["rejected"]) == (0, 1, 0)
            assert r["results"][0] == {"url": url, "status": "duplicate",
                                       "id": a["id"], "duplicate": "url",
                                       "state": "done"}, r
        time.sleep(0.3)
        assert web.hits("/page/2") == 1
        assert len(all_jobs(d)) == 1 and counts(d)[1]["submitted"] == 1


def test_force_refetch(tmp):
    with FixtureServer() as web, Daemon(tmp, extra_set=FAST) as d:
        url = web.url("/counter/f")
        jid, old = fetch_one(d, url)
        r = submit(d, [url], force=True)
        assert r["results"][0] == {"url": url, "status": "queued",
                                   "id": jid, "requeued": True}, r
        assert r["queued"] == 1, r
        assert web.wait_hits("/counter/f", 2, 10)
        j = wait_job(d, jid, "done")
        assert j["attempts"] == 1 and j["doc_id"] == jid, j
        new = doc(d, jid)
        assert new["fetched_at"] > old["fetched_at"], (old, new)
        assert new["title"] != old["title"], "document not replaced"
        docs, final = export(d)
        assert final["count"] == 1 and [x["id"] for x in docs] == [jid]
        assert counts(d)[1]["fetched"] == 2
        # A failed job is requeued and fetched again too.
        [fid] = submit_ids(d, [web.url("/status/404")])
        wait_job(d, fid)
        r = submit(d, [web.url("/status/404")], force=True)
        assert r["results"][0]["requeued"] is True, r
        assert web.wait_hits("/status/404", 2, 10), "not refetched"
        failed_with(wait_job(d, fid, "failed"), "http_status", attempts=1)
        # A queued job is left as it is.
        later = int(time.time()) + 3600
        [qid] = submit_ids(d, [web.url("/page/9")], not_before=later)
        r = submit(d, [web.url("/page/9")], force=True)
        res = r["results"][0]
        assert res["id"] == qid and res.get("requeued") is not True, r
        q = job(d, qid)
        assert q["state"] == "queued" and q["not_before"] is not None, q
        assert web.hits("/page/9") == 0


def test_force_refetch_unchanged_page_keeps_its_document(tmp):
    """Refetching a page whose content did not change must leave it a
    normal document: not a duplicate of itself, still exported."""
    with FixtureServer() as web, Daemon(tmp, extra_set=FAST) as d:
        jid, before = fetch_one(d, web.url("/page/3"))
        submit(d, [web.url("/page/3")], force=True)
        assert web.wait_hits("/page/3", 2, 10)
        wait_idle(d)
        after = doc(d, jid)
        assert after["content_hash"] == before["content_hash"]
        assert after["duplicate_of"] is None, \
            f"refetched document marked a duplicate of {after['duplicate_of']}"
        assert [x["id"] for x in export(d)[0]] == [jid]


def test_conditional_refetch(tmp):
    with FixtureServer() as web, Daemon(tmp, extra_set=FAST) as d:
        url = web.url("/etag/k")
        jid, first = fetch_one(d, url)
        assert first["etag"] == '"k-1"' and first["last_modified"], first
        # Unchanged: If-None-Match sent, 304, document kept.
        submit(d, [url], force=True)
        assert web.wait_hits("/etag/k", 2, 10)
        j = wait_job(d, jid, "done")
        second = web.requests_for("/etag/k")[1]
        assert second.header("If-None-Match") == '"k-1"', second.headers
        assert second.status == 304
        assert j["doc_id"] == jid and j["error"] is None, j
        assert doc(d, jid) == first, "304 changed the document"
        totals = counts(d)[1]
        assert totals["not_modified"] == 1 and totals["fetched"] == 1, totals
        # Changed: a full response replaces the document.
        web.bump("k")
        submit(d, [url], force=True)
        assert web.wait_hits("/etag/k", 3, 10)
        wait_job(d, jid, "done")
        third = doc(d, jid)
        assert third["etag"] == '"k-2"' and third["title"] != first["title"]
        totals = counts(d)[1]
        assert totals["not_modified"] == 1 and totals["fetched"] == 2, totals
        # Last-Modified only: If-Modified-Since sent, 304.
        lm = web.url("/etag/m?only=lm")
        mid, _ = fetch_one(d, lm)
        submit(d, [lm], force=True)
        assert web.wait_hits("/etag/m", 2, 10)
        wait_job(d, mid, "done")
        r = web.requests_for("/etag/m")[1]
        assert r.header("If-Modified-Since") and r.status == 304, r.headers
        assert counts(d)[1]["not_modified"] == 2


# --- cancel, retry, not_before, priority -------------------------------

def test_cancel(tmp):
    with FixtureServer() as web, Daemon(tmp, extra_set=FAST) as d:
        later = int(time.time()) + 3600
        [qid] = submit_ids(d, [web.url("/page/1")], not_before=later)
        q = job(d, qid)
        assert q["state"] == "queued", q
        assert parse_time(q["not_before"]) == later, q
        r = ok(req(d, {"cmd": "cancel", "id": qid}))
        assert r["job"]["id"] == qid and r["job"]["state"] == "cancelled"
        assert job(d, qid)["state"] == "cancelled"
        is_error(req(d, {"cmd": "cancel", "id": qid}), "conflict")
        wait_idle(d, 5)
        # An active transfer: its result is dropped.
        slow = web.url("/slow?bytes=1000&chunk=100&delay_ms=150")
        [aid] = submit_ids(d, [slow])
        assert web.wait_hits("/slow", 1, 5)
        assert job(d, aid)["state"] == "active"
        r = ok(req(d, {"cmd": "cancel", "id": aid}))
        assert r["job"]["state"] == "cancelled", r
        wait_until(lambda: web.requests_for("/slow")[0].end is not None,
                   10, 0.05, "slow transfer over")
        time.sleep(0.3)
        assert job(d, aid)["state"] == "cancelled"
        is_error(req(d, {"cmd": "doc", "id": aid}), "not_found")
        s = status(d)
        assert s["jobs"]["cancelled"] == 2 and s["totals"]["fetched"] == 0
        assert s["inflight"] == 0 and web.hits("/page/1") == 0, s


def test_not_before_respected(tmp):
    with FixtureServer() as web, Daemon(tmp, extra_set=FAST) as d:
        when = time.time() + 1.5
        [jid] = submit_ids(d, [web.url("/page/1")], not_before=rfc3339(when))
        assert abs(parse_time(job(d, jid)["not_before"]) - when) < 0.002
        j = wait_job(d, jid, timeout=10)
        assert j["state"] == "done", j
        [r] = web.requests_for("/page/1")
        assert r.wall >= when - 0.01, f"fetched {when - r.wall:.3f}s early"


def test_retry_failed_job_is_fetched_again(tmp):
    with FixtureServer() as web, Daemon(tmp, extra_set=FAST) as d:
        [fid] = submit_ids(d, [web.url("/status/404")])
        wait_job(d, fid)
        r = ok(req(d, {"cmd": "retry", "id": fid}))
        assert r["retried"] == 1, r
        j = job(d, fid)
        assert j["state"] in ("queued", "active", "failed"), j
        assert web.wait_hits("/status/404", 2, 5), \
            f"retried job not fetched again: {job(d, fid)}"
        failed_with(wait_job(d, fid, "failed"), "http_status", attempts=1)
        is_error(req(d, {"cmd": "retry", "id": fid + 100}), "not_found")


def test_retry_cancelled_job_is_fetched(tmp):
    with FixtureServer() as web, Daemon(tmp, extra_set=FAST) as d:
        later = int(time.time()) + 3600
        [cid] = submit_ids(d, [web.url("/page/6")], not_before=later)
        ok(req(d, {"cmd": "cancel", "id": cid}))
        assert ok(req(d, {"cmd": "retry", "id": cid}))["retried"] == 1
        j = job(d, cid)
        # It may already be leased again (attempts 1) by now.
        assert j["not_before"] is None and j["attempts"] <= 1, j
        assert j["error"] is None, j
        assert web.wait_hits("/page/6", 1, 5), \
            f"retried job not fetched: {job(d, cid)}"
        assert wait_job(d, cid)["state"] == "done"


def test_retry_all_failed(tmp):
    with FixtureServer() as web, Daemon(tmp, extra_set=FAST) as d:
        paths = [f"/status/404?n={i}" for i in range(3)]
        ids = submit_ids(d, [web.url(p) for p in paths + ["/page/1"]])
        wait_jobs(d, ids)
        r = ok(req(d, {"cmd": "retry", "failed": True}))
        assert r["retried"] == 3, r
        assert counts(d)[0]["failed"] == 0
        ok_all = wait_until(lambda: all(web.hits(p) == 2 for p in paths)
                            or None, 5, 0.05, "retried jobs fetched")
        assert ok_all
        for j in wait_jobs(d, ids[:3]):
            failed_with(j, "http_status", attempts=1)
        assert web.hits("/page/1") == 1
        assert ok(req(d, {"cmd": "retry", "failed": True}))["retried"] == 3


def test_priority_order(tmp):
    sets = fast(fetch__max_total=1, fetch__max_per_host=1)
    with FixtureServer() as web, Daemon(tmp, extra_set=sets) as d:
        ok(req(d, {"cmd": "pause"}))
        for n, prio in ((1, -5), (2, 0), (3, 10), (4, 10), (5, 1000)):
            submit_ids(d, [web.url(f"/page/{n}")], priority=prio)
        ok(req(d, {"cmd": "resume"}))
        wait_idle(d)
        order = [r.path for r in web.requests if r.path.startswith("/page/")]
        assert order == ["/page/5", "/page/3", "/page/4", "/page/2",
                         "/page/1"], order


# --- pause, drain, wait ----------------------------------------------------

def test_pause_resume(tmp):
    with FixtureServer() as web, Daemon(tmp, extra_set=FAST) as d:
        assert ok(req(d, {"cmd": "pause"})) == {"ok": True, "paused": True}
        assert status(d)["paused"] is True
        ids = submit_ids(d, [web.url(f"/page/{i}") for i in range(5)])
        time.sleep(1.0)
        assert web.hits() == 0, "fetched while paused"
        assert counts(d)[0]["queued"] == 5
        assert ok(req(d, {"cmd": "resume"})) == {"ok": True, "paused": False}
        wait_idle(d)
        assert all(job(d, i)["state"] == "done" for i in ids)
        # A transfer in flight when paused finishes and is stored.
        [sid] = submit_ids(d, [web.url("/slow?bytes=600&delay_ms=150")])
        assert web.wait_hits("/slow", 1, 5)
        ok(req(d, {"cmd": "pause"}))
        [pid] = submit_ids(d, [web.url("/page/77")])
        assert wait_job(d, sid)["state"] == "done"
        time.sleep(0.3)
        assert job(d, pid)["state"] == "queued" and web.hits("/page/77") == 0


def test_drain(tmp):
    sets = fast(fetch__max_per_host=1, fetch__timeout="20s")
    with FixtureServer() as web, Daemon(tmp, extra_set=sets) as d:
        slow = web.url("/slow?bytes=1000&chunk=100&delay_ms=150")
        ids = submit_ids(d, [slow] + [web.url(f"/page/{i}")
                                      for i in range(3)])
        assert web.wait_hits("/slow", 1, 5)
        t0 = time.monotonic()
        r = req(d, {"cmd": "drain", "timeout": 20, "tag": "dr"})
        took = time.monotonic() - t0
        assert r == {"ok": True, "paused": True, "inflight": 0,
                     "tag": "dr"}, r
        assert took >= 0.8, f"drain returned after {took:.2f}s, in flight"
        # Replied only after the page was stored.
        assert job(d, ids[0])["state"] == "done"
        assert doc(d, ids[0])["url"] == slow
        time.sleep(0.3)
        assert web.hits("/page/0") + web.hits("/page/1") + \
            web.hits("/page/2") == 0, "dispatched after drain"
        s = status(d)
        assert s["paused"] is True and s["inflight"] == 0, s
        # A drain that runs out of time leaves the daemon paused.
        ok(req(d, {"cmd": "resume"}))
        wait_idle(d)
        # (Query keys in sorted order throughout, so the URL is the same
        # whether or not canonicalisation sorts them.)
        longer = "/slow?bytes=2000&chunk=100&delay_ms=200"
        [sid] = submit_ids(d, [web.url(longer)])
        assert web.wait_hits(longer, 1, 5)
        t0 = time.monotonic()
        is_error(req(d, {"cmd": "drain", "timeout": 1}), "timeout")
        assert 0.9 <= time.monotonic() - t0 < 5
        assert status(d)["paused"] is True
        ok(req(d, {"cmd": "resume"}))
        assert wait_job(d, sid)["state"] == "done"


def test_wait(tmp):
    with FixtureServer() as web, Daemon(tmp, extra_set=FAST) as d:
        t0 = time.monotonic()
        assert req(d, {"cmd": "wait", "timeout": 10}) == \
            {"ok": True, "queued": 0, "active": 0}
        assert time.monotonic() - t0 < 1
        # A job waiting for its retry counts as queued.
        [fid] = submit_ids(d, [web.url("/flaky/w?fail=2")])
        wait_idle(d, 20)
        assert job(d, fid)["state"] == "done" and web.hits("/flaky/w") == 3
        later = int(time.time()) + 3600
        submit_ids(d, [web.url("/page/1")], not_before=later)
        t0 = time.monotonic()
        r = req(d, {"cmd": "wait", "timeout": 1, "tag": 9})
        is_error(r, "timeout")
        assert r.get("tag") == 9, r
        assert 0.9 <= time.monotonic() - t0 < 5


# --- export and status ---------------------------------------------------

def test_export(tmp):
    with FixtureServer() as web, Daemon(tmp, extra_set=FAST) as d:
        first = submit_ids(d, [web.url(f"/page/{i}") for i in range(1, 11)])
        wait_idle(d)
        # A whole second between the batches, so epoch-seconds `since`
        # separates them too.
        since = math.ceil(time.time() + 0.5)
        time.sleep(since - time.time() + 0.05)
        # /page/11?copy=1 serves the same bytes as /page/11: an exact
        # duplicate of whichever is stored first.
        second = submit_ids(d, [web.url(f"/page/{i}") for i in range(11, 16)]
                            + [web.url("/page/11?copy=1")])
        wait_idle(d)
        a, b = doc(d, second[0]), doc(d, second[-1])
        assert {a["duplicate_of"], b["duplicate_of"]} in \
            ({None, a["id"]}, {None, b["id"]}), (a, b)
        dup = a if a["duplicate_of"] else b
        assert dup["duplicate_kind"] == "exact", dup
        docs, final = export(d)
        assert final == {"ok": True, "count": len(docs), "damaged": 0}, final
        ids = [x["id"] for x in docs]
        assert sorted(ids) == sorted(set(first + second) - {dup["id"]})
        for x in docs:
            assert set(x) == DOC_FIELDS and x["duplicate_of"] is None, x
            assert x == doc(d, x["id"])
        times = [parse_time(x["fetched_at"]) for x in docs]
        assert times == sorted(times), "export not in fetch order"
        docs, final = export(d, include_duplicates=True)
        assert final["count"] == 16 and len(docs) == 16
        assert sorted(x["id"] for x in docs) == sorted(first + second)
        for s in (since, rfc3339(since)):
            docs, final = export(d, since=s)
            assert sorted(x["id"] for x in docs) == \
                sorted(set(second) - {dup["id"]}), s
            assert final["count"] == 5
        docs, final = export(d, since=since + 3600)
        assert docs == [] and final["count"] == 0


def test_export_lines_carry_the_tag(tmp):
    """docs/protocol.md: the tag is echoed in every line of a streamed
    reply."""
    with FixtureServer() as web, Daemon(tmp, extra_set=FAST) as d:
        submit_ids(d, [web.url(f"/page/{i}") for i in range(3)])
        wait_idle(d)
        docs = []
        with d.client() as c:
            c.send_raw(b'{"cmd":"export","tag":"ex"}\n')
            while True:
                line = c.read_json()
                assert line.get("tag") == "ex", f"line without tag: {line}"
                if "ok" in line:
                    break
                docs.append(line)
        assert len(docs) == 3


def test_export_streams_while_others_are_served(tmp):
    """An export the client does not read yet must not stall the daemon:
    other clients are served meanwhile, and the stream completes later."""
    with FixtureServer() as web, Daemon(tmp, extra_set=FAST) as d:
        ids = submit_ids(d, [web.url(f"/page/{i}") for i in range(1200)])
        wait_idle(d, 60)
        with Client(d.sock, 30, max_line=64 << 20) as slow:
            slow.send_raw(b'{"cmd":"export"}\n')
            time.sleep(0.3)
            t0 = time.monotonic()
            ok(req(d, {"cmd": "status"}))
            [jid] = submit_ids(d, [web.url("/page/5000")])
            assert time.monotonic() - t0 < 2, "export blocked others"
            wait_job(d, jid)
            n = 0
            while True:
                line = slow.read_json()
                if "ok" in line:
                    break
                n += 1
        assert line == {"ok": True, "count": n, "damaged": 0}, line
        assert n >= len(ids)


def test_export_document_over_reply_buffer(tmp):
    """A document bigger than daemon.max_reply_buffer, met after the
    first chunk of an export: the daemon may drop that client, but must
    keep running."""
    sets = fast(daemon__max_reply_buffer="2MiB", fetch__timeout="20s")
    with FixtureServer() as web, Daemon(tmp, extra_set=sets) as d:
        submit_ids(d, [web.url(f"/page/{i}") for i in range(1500)])
        wait_idle(d, 60)
        [big] = submit_ids(d, [web.url("/big?mb=3")])
        wait_idle(d, 60)
        assert job(d, big)["state"] == "done"
        with Client(d.sock, 30, max_line=64 << 20) as c:
            c.send_raw(b'{"cmd":"export"}\n')
            try:
                while c.readline().startswith(b'{"doc"'):
                    pass
            except OSError:
                pass
        time.sleep(1.0)
        assert d.running(), f"sluiced died (exit {d.proc.poll()})"
        ok(req(d, {"cmd": "status"}))


def test_status_consistent_with_jobs(tmp):
    with FixtureServer() as web, Daemon(tmp, extra_set=FAST) as d:
        t0 = time.monotonic()
        done = submit_ids(d, [web.url(f"/page/{i}") for i in range(3)])
        failed = submit_ids(d, [web.url("/status/404"),
                                web.url("/status/410")])
        later = int(time.time()) + 3600
        [queued, cancelled] = submit_ids(d, [web.url("/page/8"),
                                             web.url("/page/9")],
                                         not_before=later)
        ok(req(d, {"cmd": "cancel", "id": cancelled}))
        wait_jobs(d, done + failed)
        s = status(d)
        listed = all_jobs(d)
        by_state = {st: sum(j["state"] == st for j in listed)
                    for st in JOB_STATES}
        assert s["jobs"] == by_state, (s["jobs"], by_state)
        assert by_state == {"queued": 1, "active": 0, "done": 3, "failed": 2,
                            "cancelled": 1}, by_state
        assert s["totals"]["submitted"] == 7 == len(listed)
        assert s["totals"]["fetched"] == 3 and s["totals"]["failed"] == 2
        assert s["totals"]["bytes"] >= sum(len(page_html(i))
                                           for i in range(3))
        assert s["ok"] is True and isinstance(s["version"], str)
        assert s["version"]
        assert 0 <= s["uptime_s"] <= time.monotonic() - t0 + 2, s
        assert s["paused"] is False and s["draining"] is False
        assert s["inflight"] == 0 and s["work_backlog"] == 0, s
        assert isinstance(s["workers"], int) and s["workers"] >= 1, s
        # 5 jobs finished; in its first minute the daemon divides by its
        # uptime (whole seconds + 1, read a moment apart from uptime_s)
        up = min(60, s["uptime_s"] + 1)
        assert 5 / (up + 1) - 1e-6 <= s["rate_1m"] <= 5 / max(1, up - 1), s
        st = s["store"]
        assert 0 < st["used_bytes"] <= st["map_size"] <= st["map_size_max"]
        assert st["full"] is False
        assert set(s["duplicates"]) == {"submit", "url", "exact", "near",
                                        "index_docs", "index_bytes",
                                        "index_full"}
        assert s["duplicates"]["index_full"] is False
        assert s["duplicates"]["index_bytes"] > 0
        for state in JOB_STATES:
            only = all_jobs(d, state=state, limit=1)
            assert len(only) == by_state[state], state
            assert all(j["state"] == state for j in only)
        r = ok(req(d, {"cmd": "jobs", "limit": 2}))
        assert [j["id"] for j in r["jobs"]] == [1, 2] and r["next"] == 2
        r = ok(req(d, {"cmd": "jobs", "limit": 5, "after": 2}))
        assert [j["id"] for j in r["jobs"]] == [3, 4, 5, 6, 7]
        assert r["next"] is None, r
        assert ok(req(d, {"cmd": "jobs", "after": 7})) == \
            {"ok": True, "jobs": [], "next": None}


# --- politeness and headers --------------------------------------------

def test_per_host_limit(tmp):
    sets = fast(fetch__max_per_host=1, fetch__timeout="10s")
    slow = "/slow?bytes=400&chunk=100&delay_ms=150&n={}"
    with FixtureServer() as a, FixtureServer(host="127.0.0.2") as b, \
            Daemon(tmp, extra_set=sets) as d:
        ids = submit_ids(d, [a.url(slow.format(i)) for i in range(4)] +
                         [b.url(slow.format(i)) for i in range(4)] +
                         [b.url(f"/page/{i}") for i in range(4)])
        for j in wait_jobs(d, ids, timeout=30):
            assert j["state"] == "done", j
        for web in (a, b):
            wait_until(lambda: all(r.end for r in web.requests), 5, 0.02,
                       "the fixture done with every request")
            reqs = sorted((r for r in web.requests
                           if r.path != "/robots.txt"), key=lambda r: r.time)
            assert len(reqs) == 4 + (4 if web is b else 0), reqs
            # (0.1 s of slack for thread scheduling; two requests at once
            # would overlap by a whole ~0.45 s response.)
            for x, y in zip(reqs, reqs[1:]):
                assert y.time >= x.end - 0.1, \
                    f"{web.host}: {y.target} started while {x.target} ran"
        ra = sorted((r for r in a.requests if r.path != "/robots.txt"),
                    key=lambda r: r.time)
        rb = sorted((r for r in b.requests if r.path != "/robots.txt"),
                    key=lambda r: r.time)
        assert rb[0].time < ra[0].end and rb[1].time < ra[-1].time, \
            "the second host waited for the first"
        assert ra[-1].end - ra[0].time >= 4 * 0.45 - 0.05


def test_user_agent_and_accept_language(tmp):
    ua = "sluice-it/1.0 (+https://it.example.net/contact)"
    sets = fast(fetch__user_agent=ua, fetch__accept_language="de-CH, en;q=0.5")
    with FixtureServer() as web, Daemon(tmp, extra_set=sets) as d:
        [jid] = submit_ids(d, [web.url("/page/1")])
        wait_job(d, jid)
        [r] = web.requests_for("/page/1")
        assert "https://it.example.net/contact" in r.header("User-Agent"), \
            r.headers
        assert r.header("User-Agent") == ua
        assert r.header("Accept-Language") == "de-CH, en;q=0.5", r.headers


def test_fetched_pages_wait_in_their_own_bounded_buffer(tmp):
    """A transfer frees its fetch slots when it ends, and pages wait for a
    worker in extract.max_pending: while that is full, no transfer starts.
    One worker and pages of 3 MiB of HTML (slow to clean) against 8 fetch
    slots and a buffer of 2: the worker backlog never passes the buffer
    plus the transfers that were running when it filled, where without
    the bound all 16 pages would queue for the worker."""
    sets = fast(daemon__workers=1, extract__max_pending=2,
                fetch__max_total=8, fetch__max_per_host=8)
    with FixtureServer() as web, Daemon(tmp, extra_set=sets) as d:
        ids = submit_ids(d, [web.url(f"/big?mb=3&n={i}") for i in range(16)])
        most = 0
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            s = status(d)
            most = max(most, s["work_backlog"])
            if s["jobs"]["queued"] == 0 and s["jobs"]["active"] == 0:
                break
            time.sleep(0.01)
        assert most <= 2 + 8, f"worker backlog reached {most}"
        for j in wait_jobs(d, ids, timeout=60):
            assert j["state"] == "done", j


if __name__ == "__main__":
    run_tests(globals())
