"""
test_hostile.py - clients that misbehave on purpose (issue 11): none may
hold a control slot, or the daemon's memory, for ever.  Unterminated
request lines, waiters that vanish, clients that do not read, and exports
read at every speed.
"""

import json
import socket
import time

import itlib  # noqa: F401  (missing sluiced = failure)
from fixture_server import FixtureServer
from harness import Client, Daemon, run_tests
from itlib import FAST, all_jobs, is_error, ok, req, submit_ids


def served(d, n, what):
    """n fresh clients at once, each answered status (a slot freed a
    moment late is retried for up to 5 s); returns them, open."""
    held = []
    deadline = time.monotonic() + 5
    while len(held) < n:
        c = d.client(timeout=5)
        r = c.request({"cmd": "status", "tag": len(held)})
        if r.get("ok"):
            held.append(c)
            continue
        c.close()
        assert r["error"]["code"] == "busy", r
        assert time.monotonic() < deadline, \
            f"{what}: only {len(held)} of {n} fresh clients served"
        time.sleep(0.05)
    return held


def test_unterminated_lines_free_their_slots(tmp):
    """64 clients (daemon.max_clients' default) send a request line without
    its newline and close: each slot is freed, so an operator's status is
    still answered.  Half-closed ones hear bad_request when what they sent
    parses (a submit is never run), nothing when it does not."""
    with FixtureServer() as web, Daemon(tmp, extra_set=FAST) as d:
        url = web.url("/page/1")
        lines = [b'{"cmd":"status"', b'{"cmd":"status"}',
                 b'{"cmd":"submit","url":"' + url.encode() + b'","tag":7}',
                 b'garbage', b'{"cmd":"status"}\r']
        for i in range(64):
            c = d.client()
            c.send_raw(lines[i % len(lines)])
            c.close()
        ok(served(d, 1, "after 64 closed")[0].request({"cmd": "status"}))
        half = []
        for i in range(64):
            c = d.client()
            c.send_raw(lines[i % len(lines)])
            c.sock.shutdown(socket.SHUT_WR)
            half.append((lines[i % len(lines)], c))
        for line, c in half:
            rest = c.readline()
            if line in (b'{"cmd":"status"', b"garbage"):
                assert rest == b"", (line, rest)
            else:
                r = json.loads(rest)
                is_error(r, "bad_request", line.decode())
                assert "newline" in r["error"]["message"], r
                if b"submit" in line:
                    assert r.get("tag") == 7, r
            assert c.readline() == b"", "not closed after the answer"
        # All 64 still open on our side, yet the daemon serves 64 more.
        for c in served(d, 64, "with 64 half-closed clients open"):
            c.close()
        for _, c in half:
            c.close()
        assert url not in {j["url"] for j in all_jobs(d)}


def test_vanished_waiters_free_their_slots(tmp):
    """`wait` and `drain` clients that go away (Ctrl-C on `sluicectl
    wait`) while their condition does not hold: each slot is free at once,
    so daemon.max_clients fresh clients are all served, and the waiters
    are forgotten (a later answer goes nowhere)."""
    sets = dict(FAST, **{"daemon.max_clients": 16})
    with FixtureServer() as web, Daemon(tmp, extra_set=sets) as d:
        ok(req(d, {"cmd": "pause"}))
        [later] = submit_ids(d, [web.url("/page/2")],
                             not_before=int(time.time()) + 3600)
        kinds = ["close", "close-late", "half-then-close", "rst"]
        for i in range(32):
            kind = kinds[i % len(kinds)]
            c = d.client()
            cmd = {"cmd": "drain" if i % 3 == 0 else "wait", "tag": i}
            if i % 2:
                cmd["timeout"] = 3600
            c.send_raw(json.dumps(cmd) + "\n")
            if kind == "close-late":
                time.sleep(0.05)
            elif kind == "half-then-close":
                c.sock.shutdown(socket.SHUT_WR)
                time.sleep(0.05)
            elif kind == "rst":
                c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                  b"\x01\x00\x00\x00\x00\x00\x00\x00")
            c.close()
        held = served(d, 16, "after 32 vanished waiters")
        for i, c in enumerate(held):
            assert ok(c.request({"cmd": "status", "tag": i}))["tag"] == i
        for c in held:
            c.close()
        # The waiters' condition now holds: nothing is answered to the
        # clients that left, and a new waiter is answered.
        ok(req(d, {"cmd": "cancel", "id": later}))
        ok(req(d, {"cmd": "resume"}))
        r = req(d, {"cmd": "wait", "timeout": 10, "tag": "new"})
        assert ok(r)["tag"] == "new", r
        assert "client left with a request pending" in d.log()


if __name__ == "__main__":
    run_tests(globals())
