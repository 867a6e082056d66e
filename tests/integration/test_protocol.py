"""
test_protocol.py - the control protocol's framing and errors
(docs/protocol.md), spoken over the raw socket: every error reply's shape
and code, that errors change nothing, over-long lines, pipelining, tags,
the client limit and clients that vanish mid-request.
"""

import json
import signal
import socket
import struct
import subprocess
import time

import itlib  # noqa: F401  (missing sluiced = failure)
from fixture_server import FixtureServer
from harness import Client, Daemon, run_tests
from itlib import (FAST, all_jobs, counts, is_error, ok, req, submit_ids,
                   wait_idle)


def no_more_data(c, wait=0.3):
    """Asserts the daemon sends nothing more on c for wait s."""
    c.sock.settimeout(wait)
    try:
        extra = c.readline()
    except socket.timeout:
        extra = None
    finally:
        c.sock.settimeout(30)
    assert extra is None, f"unexpected extra reply {extra!r}"


def snapshot(d):
    """Everything an error must not change: counts, totals, every job."""
    jobs, totals = counts(d)
    return jobs, totals, all_jobs(d)


# Requests that are wrong in one way each, with the code docs/protocol.md
# gives for them.  {URL} is replaced with a fetched page's URL, {ID} with
# its job id.
BAD = [
    (b"this is not json", "bad_request"),
    (b"{\"cmd\":\"status\"", "bad_request"),
    (b"", "bad_request"),
    (b"[1,2,3]", "bad_request"),
    (b"\"status\"", "bad_request"),
    (b"{}", "bad_request"),
    (b"{\"cmd\":5}", "bad_request"),
    (b"{\"cmd\":null}", "bad_request"),
    (b"{\"cmd\":\"status\",\"cmd\":\"pause\"}", "bad_request"),
    (b"{\"cmd\":\"frobnicate\"}", "unknown_command"),
    (b"{\"cmd\":\"STATUS\"}", "unknown_command"),
    (b"{\"cmd\":\"status\",\"bogus\":1}", "bad_request"),
    (b"{\"cmd\":\"submit\"}", "bad_request"),
    (b"{\"cmd\":\"submit\",\"urls\":\"http://a.example/\"}", "bad_request"),
    (b"{\"cmd\":\"submit\",\"urls\":[]}", "bad_request"),
    (b"{\"cmd\":\"submit\",\"urls\":[\"{URL}x\",7]}", "bad_request"),
    (b"{\"cmd\":\"submit\",\"url\":\"{URL}x\",\"urls\":[\"{URL}y\"]}",
     "bad_request"),
    (b"{\"cmd\":\"submit\",\"url\":\"\"}", "bad_request"),
    (b"{\"cmd\":\"submit\",\"url\":\"{URL}x\",\"priority\":1001}",
     "bad_request"),
    (b"{\"cmd\":\"submit\",\"url\":\"{URL}x\",\"priority\":\"high\"}",
     "bad_request"),
    (b"{\"cmd\":\"submit\",\"url\":\"{URL}x\",\"priority\":1.5}",
     "bad_request"),
    (b"{\"cmd\":\"submit\",\"url\":\"{URL}x\",\"force\":\"yes\"}",
     "bad_request"),
    (b"{\"cmd\":\"submit\",\"url\":\"{URL}x\",\"not_before\":\"tomorrow\"}",
     "bad_request"),
    (b"{\"cmd\":\"submit\",\"url\":\"{URL}x\",\"not_before\":-5}",
     "bad_request"),
    (b"{\"cmd\":\"submit\",\"urls\":[\"{URL}1\",\"{URL}2\",\"{URL}3\","
     b"\"{URL}4\",\"{URL}5\",\"{URL}6\"]}", "too_large"),
    (b"{\"cmd\":\"job\"}", "bad_request"),
    (b"{\"cmd\":\"job\",\"id\":0}", "bad_request"),
    (b"{\"cmd\":\"job\",\"id\":-1}", "bad_request"),
    (b"{\"cmd\":\"job\",\"id\":\"{ID}\"}", "bad_request"),
    (b"{\"cmd\":\"job\",\"id\":99999}", "not_found"),
    (b"{\"cmd\":\"jobs\",\"state\":\"sleeping\"}", "bad_request"),
    (b"{\"cmd\":\"jobs\",\"limit\":0}", "bad_request"),
    (b"{\"cmd\":\"jobs\",\"limit\":1001}", "bad_request"),
    (b"{\"cmd\":\"jobs\",\"after\":-1}", "bad_request"),
    (b"{\"cmd\":\"doc\"}", "bad_request"),
    (b"{\"cmd\":\"doc\",\"id\":{ID},\"url\":\"{URL}\"}", "bad_request"),
    (b"{\"cmd\":\"doc\",\"id\":99999}", "not_found"),
    (b"{\"cmd\":\"doc\",\"url\":\"{URL}never-submitted\"}", "not_found"),
    (b"{\"cmd\":\"export\",\"since\":\"last week\"}", "bad_request"),
    (b"{\"cmd\":\"export\",\"include_duplicates\":1}", "bad_request"),
    (b"{\"cmd\":\"cancel\"}", "bad_request"),
    (b"{\"cmd\":\"cancel\",\"id\":99999}", "not_found"),
    (b"{\"cmd\":\"cancel\",\"id\":{ID}}", "conflict"),
    (b"{\"cmd\":\"retry\"}", "bad_request"),
    (b"{\"cmd\":\"retry\",\"failed\":false}", "bad_request"),
    (b"{\"cmd\":\"retry\",\"id\":{ID},\"failed\":true}", "bad_request"),
    (b"{\"cmd\":\"retry\",\"id\":99999}", "not_found"),
    (b"{\"cmd\":\"retry\",\"id\":{ID}}", "conflict"),
    (b"{\"cmd\":\"wait\",\"timeout\":-1}", "bad_request"),
    (b"{\"cmd\":\"wait\",\"timeout\":\"5\"}", "bad_request"),
    (b"{\"cmd\":\"drain\",\"timeout\":1.5}", "bad_request"),
    (b"{\"cmd\":\"pause\",\"now\":true}", "bad_request"),
]


def test_every_error_has_its_code_and_changes_nothing(tmp):
    sets = dict(FAST, **{"queue.max_batch": 5})
    with FixtureServer() as web, Daemon(tmp, extra_set=sets) as d:
        url = web.url("/page/1")
        [jid] = submit_ids(d, [url])
        wait_idle(d)
        before = snapshot(d)
        assert before[0]["done"] == 1, before
        with d.client() as c:
            for line, code in BAD:
                line = line.replace(b"{URL}", url.encode()).replace(
                    b"{ID}", str(jid).encode())
                c.send_raw(line + b"\n")
                is_error(c.read_json(), code, line.decode())
            ok(c.request({"cmd": "status"}), "status after the errors")
            no_more_data(c)
        assert snapshot(d) == before, "an error reply changed the queue"
        # one page fetch, plus robots.txt once for the host
        assert web.hits("/page/1") == 1
        assert web.hits() - web.hits("/robots.txt") == 1


def test_too_large_line_then_same_connection_works(tmp):
    sets = dict(FAST, **{"daemon.max_request": 4096})
    with Daemon(tmp, extra_set=sets) as d, d.client() as c:
        before = snapshot(d)
        big = json.dumps({"cmd": "submit", "urls": [
            f"http://big.example/{i:04d}/" + "x" * 80 for i in range(100)]})
        assert len(big) > 10_000
        c.send_raw(big + "\n")
        is_error(c.read_json(), "too_large", "10 KB line")
        assert ok(c.request({"cmd": "status", "tag": 1}))["tag"] == 1
        # Exactly at the limit is accepted; one byte more is not.
        pad = 4096 - len(json.dumps({"cmd": "status", "tag": ""}))
        line = json.dumps({"cmd": "status", "tag": "p" * pad})
        assert len(line) == 4096
        assert ok(c.request({"cmd": "status", "tag": "p" * pad}))
        c.send_raw(json.dumps({"cmd": "status", "tag": "p" * (pad + 1)})
                   + "\r\n")
        is_error(c.read_json(), "too_large", "4097-byte line")
        # An over-long line that arrives in pieces, with requests
        # pipelined behind it: one too_large, then each request answered.
        for i in range(10):
            c.send_raw(b"y" * 3000)
            time.sleep(0.01)
        c.send_raw(b"\n" + b'{"cmd":"status","tag":"a"}\n'
                   b'{"cmd":"status","tag":"b"}\r\n')
        is_error(c.read_json(), "too_large", "30 KB line in pieces")
        assert ok(c.read_json())["tag"] == "a"
        assert ok(c.read_json())["tag"] == "b"
        no_more_data(c)
        # None of it reached the queue.
        assert snapshot(d) == before


def pipeline(d, objs, timeout=10):
    """Sends every request in one write; returns the replies in order."""
    with d.client(timeout=timeout) as c:
        c.send_raw("".join(json.dumps(o) + "\n" for o in objs))
        replies = [c.read_json() for _ in objs]
        no_more_data(c)
    return replies


TAGS = [7, "t", {"i": 1}, [1, None], 1.5, None, True]


def test_pipelined_reads_answered_in_order(tmp):
    """Commands answered at once, and errors, pipelined in one write."""
    with FixtureServer() as web, Daemon(tmp, extra_set=FAST) as d:
        [jid] = submit_ids(d, [web.url("/page/1")])
        wait_idle(d)
        objs = []
        for i in range(200):
            obj = [{"cmd": "status"}, {"cmd": "job", "id": jid},
                   {"cmd": "jobs", "limit": 1}, {"cmd": "doc", "id": jid},
                   {"cmd": "job", "id": 999}][i % 5]
            objs.append(dict(obj, tag=[i, TAGS[i % len(TAGS)]]))
        for obj, r in zip(objs, pipeline(d, objs)):
            assert r.get("tag") == obj["tag"], f"out of order: {obj} {r}"
            if obj.get("id") == 999:
                is_error(r, "not_found")
            else:
                ok(r, json.dumps(obj))
            key = {"status": "jobs", "job": "job", "jobs": "jobs",
                   "doc": "doc"}[obj["cmd"]]
            assert obj.get("id") == 999 or key in r, r


def test_pipelined_submits_answered_in_order(tmp):
    """Requests answered after a commit (submit, cancel) pipelined with
    ones answered at once: every one is answered, in order, with its
    tag, and each took effect."""
    with FixtureServer() as web, Daemon(tmp, extra_set=FAST) as d:
        ok(req(d, {"cmd": "pause"}))
        objs = []
        for i in range(40):
            kind = i % 4
            if kind == 0:
                obj = {"cmd": "submit", "url": web.url(f"/page/{i}")}
            elif kind == 1:
                obj = {"cmd": "status"}
            elif kind == 2:
                obj = {"cmd": "submit", "urls": [web.url(f"/page/{i}"),
                                                 web.url(f"/page/{i - 2}")]}
            else:
                obj = {"cmd": "cancel", "id": i // 4 * 2 + 1}
            objs.append(dict(obj, tag=[i, TAGS[i % len(TAGS)]]))
        replies = pipeline(d, objs)
        first = {}
        for obj, r in zip(objs, replies):
            ok(r, json.dumps(obj))
            assert r.get("tag") == obj["tag"], f"out of order: {obj} {r}"
            if obj["cmd"] == "cancel":
                assert r["job"]["state"] == "cancelled", r
                assert r["job"]["id"] == obj["id"], r
                continue
            if obj["cmd"] != "submit":
                continue
            # The second URL of each "urls" submit was queued a request
            # earlier, so it is a duplicate with that id.
            for res in r["results"]:
                if res["url"] in first:
                    assert res["status"] == "duplicate", res
                    assert res["id"] == first[res["url"]], res
                else:
                    assert res["status"] == "queued", res
                    first[res["url"]] = res["id"]
        assert len(first) == 20 and sorted(first.values()) == \
            list(range(1, 21))
        jobs, totals = counts(d)
        assert jobs["cancelled"] == 10 and jobs["queued"] == 10, jobs


def test_tag_echoed_in_error_replies(tmp):
    """docs/protocol.md: a request's "tag" is echoed in its reply - a
    client matching replies by tag must also get it on errors."""
    with Daemon(tmp, extra_set=FAST) as d, d.client() as c:
        cases = [({"cmd": "job", "id": 12345, "tag": "nf"}, "not_found"),
                 ({"cmd": "cancel", "id": 12345, "tag": 4}, "not_found"),
                 ({"cmd": "frobnicate", "tag": "uc"}, "unknown_command"),
                 ({"cmd": "job", "tag": [1, 2]}, "bad_request"),
                 ({"cmd": "jobs", "limit": 0, "tag": {"k": 1}},
                  "bad_request")]
        missing = []
        for obj, code in cases:
            r = c.request(obj)
            is_error(r, code, json.dumps(obj))
            if r.get("tag") != obj["tag"]:
                missing.append(f"{json.dumps(obj)} -> {json.dumps(r)}")
        assert not missing, "tag not echoed:\n  " + "\n  ".join(missing)


def hold_client(d, tag):
    """A connection the daemon serves (the harness's readiness probe may
    still hold a slot for a moment, so busy is retried briefly)."""
    deadline = time.monotonic() + 5
    while True:
        c = d.client(timeout=5)
        try:
            r = c.request({"cmd": "status", "tag": tag})
            if r.get("ok"):
                return c
        except (OSError, AssertionError):
            pass
        c.close()
        assert time.monotonic() < deadline, "no slot for a client"
        time.sleep(0.05)


def test_max_clients_busy(tmp):
    sets = dict(FAST, **{"daemon.max_clients": 4})
    with Daemon(tmp, extra_set=sets) as d:
        held = [hold_client(d, i) for i in range(4)]
        for _ in range(3):
            extra = d.client(timeout=5)
            is_error(extra.read_json(), "busy", "fifth client")
            assert extra.readline() == b"", "busy client not closed"
            extra.close()
        # The four keep working.
        for i, c in enumerate(held):
            assert ok(c.request({"cmd": "status", "tag": i}))["tag"] == i
        held.pop().close()
        hold_client(d, "fifth").close()
        for c in held:
            c.close()


def rst_close(sock):
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                    struct.pack("ii", 1, 0))
    sock.close()


def _gone_half_line(d, web):
    c = d.client()
    c.send_raw(b'{"cmd":"submit","urls":["' + web.url("/page/1").encode())
    c.close()


def _gone_half_line_rst(d, web):
    c = d.client()
    c.send_raw(b'{"cmd":"submit","urls":["' + web.url("/page/1").encode())
    rst_close(c.sock)


def _gone_over_long_line(d, web):
    c = d.client()
    c.send_raw(b"z" * 6000)
    rst_close(c.sock)


def _gone_before_status_reply(d, web):
    c = d.client()
    c.send_raw(b'{"cmd":"status"}\n')
    c.close()


def _gone_before_status_reply_rst(d, web):
    c = d.client()
    c.send_raw(b'{"cmd":"status"}\n')
    rst_close(c.sock)


def _gone_before_submit_reply(d, web):
    c = d.client()
    c.send_raw(json.dumps({"cmd": "submit", "url": web.url("/page/2")})
               + "\n")
    rst_close(c.sock)


def _gone_while_waiting(d, web):
    [later] = submit_ids(d, [web.url("/page/3")],
                         not_before=int(time.time()) + 3600)
    for obj in ({"cmd": "wait", "timeout": 1}, {"cmd": "wait"},
                {"cmd": "drain", "timeout": 1}):
        c = d.client()
        c.send_raw(json.dumps(obj) + "\n")
        time.sleep(0.1)
        c.close()
    time.sleep(1.2)		# past the timed waiter's deadline
    ok(req(d, {"cmd": "resume"}))
    # The job due in an hour would keep the check's `wait` waiting.
    ok(req(d, {"cmd": "cancel", "id": later}))


def _gone_mid_pipeline(d, web):
    c = d.client()
    c.send_raw(b'{"cmd":"status"}\n' * 2000)
    rst_close(c.sock)


def _gone_mid_export(d, web):
    ids = submit_ids(d, [web.url(f"/big?kb=100&n={i}") for i in range(30)])
    wait_idle(d)
    assert all(j["state"] == "done" for j in all_jobs(d)), all_jobs(d)
    c = Client(d.sock, 10, max_line=64 << 20)
    c.send_raw(b'{"cmd":"export"}\n')
    assert b'"doc"' in c.readline()
    rst_close(c.sock)
    assert len(ids) == 30


VANISHING = [_gone_half_line, _gone_half_line_rst, _gone_over_long_line,
             _gone_before_status_reply, _gone_before_status_reply_rst,
             _gone_before_submit_reply, _gone_while_waiting,
             _gone_mid_pipeline, _gone_mid_export]


def test_clients_vanishing_mid_request(tmp):
    """Each way a client can disappear, against a fresh daemon: the daemon
    keeps serving (a new client gets status, submit, wait), and stops
    cleanly with no sanitizer report."""
    sets = dict(FAST, **{"daemon.max_request": 4096})
    broken = []
    with FixtureServer() as web:
        for i, case in enumerate(VANISHING):
            d = Daemon(tmp / f"d{i}", extra_set=sets)
            d.start()
            try:
                case(d, web)
                time.sleep(0.2)
                assert d.running(), f"sluiced died (exit {d.proc.poll()})"
                ok(req(d, {"cmd": "status"}))
                submit_ids(d, [web.url(f"/page/{100 + i}")])
                wait_idle(d, 10)
                # The half-sent submit never became a job.
                assert web.url("/page/1") not in \
                    {j["url"] for j in all_jobs(d)}
                code = d.stop()
                assert code == 0, f"exit {code} on SIGTERM"
                assert not d.sanitizer_errors(), d.sanitizer_errors()[:3]
            except Exception as e:
                # A dying sanitized daemon takes a moment to report.
                try:
                    d.proc.wait(3)
                except subprocess.TimeoutExpired:
                    pass
                died = d.proc.poll()
                d.kill()
                why = [ln for ln in d.log().splitlines()
                       if "SUMMARY" in ln or "ERROR:" in ln][:2]
                broken.append(f"{case.__name__}: {e!r}" + (
                    f"; sluiced died (exit {died}) {why}"
                    if died is not None else ""))
    assert not broken, "\n".join(broken)


def test_half_closed_client_gets_its_replies(tmp):
    """`echo '{"cmd":"status"}' | socat - UNIX-CONNECT:...` shuts down its
    sending side before reading: the daemon must still answer everything
    it received, and only then close."""
    with FixtureServer() as web, Daemon(tmp, extra_set=FAST) as d:
        c = d.client()
        c.send_raw(b'{"cmd":"status","tag":1}\n'
                   + json.dumps({"cmd": "submit", "tag": 2,
                                 "url": web.url("/page/4")}).encode()
                   + b'\n{"cmd":"wait","timeout":10,"tag":3}\n')
        c.sock.shutdown(socket.SHUT_WR)
        replies = [c.read_json() for _ in range(3)]
        assert [r.get("tag") for r in replies] == [1, 2, 3], replies
        for r in replies:
            ok(r)
        assert replies[1]["results"][0]["status"] == "queued"
        assert c.readline() == b"", "connection not closed after replies"
        c.close()
        assert web.hits("/page/4") == 1


def test_waiters_answered_at_shutdown(tmp):
    """command.c owns the waiters: a `wait` client whose condition never
    holds hears shutting_down (with its tag) when sluiced stops, a waiter
    whose client left is forgotten, and a `wait` on a drained queue is
    answered at once."""
    with FixtureServer() as web:
        d = Daemon(tmp, extra_set=FAST)
        d.start()
        try:
            ok(req(d, {"cmd": "pause"}))
            submit_ids(d, [web.url("/page/41")])
            stay = d.client()
            stay.send_raw(b'{"cmd":"wait","tag":"stay"}\n')
            gone = d.client()
            gone.send_raw(b'{"cmd":"wait","tag":"gone"}\n')
            gone.close()
            no_more_data(stay, 0.5)
            ok(req(d, {"cmd": "status"}))
            d.proc.send_signal(signal.SIGTERM)
            r = stay.read_json()
            is_error(r, "shutting_down", "wait at shutdown")
            assert r.get("tag") == "stay", r
            assert d.proc.wait(20) == 0
            stay.close()
            assert not d.sanitizer_errors(), d.sanitizer_errors()[:3]
            # The job is still there, and a wait with nothing left to do
            # is answered at once.
            d.start()
            ok(req(d, {"cmd": "cancel", "id": all_jobs(d)[0]["id"]}))
            r = req(d, {"cmd": "wait", "timeout": 5, "tag": 9})
            ok(r)
            assert r.get("tag") == 9 and r.get("queued") == 0, r
            assert d.stop() == 0
        finally:
            d.kill()


if __name__ == "__main__":
    run_tests(globals())
