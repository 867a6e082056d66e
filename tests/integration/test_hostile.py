"""
test_hostile.py - clients that misbehave on purpose (issue 11): none may
hold a control slot, or the daemon's memory, for ever.  Unterminated
request lines, waiters that vanish, clients that do not read, and exports
read at every speed.
"""

import json
import socket
import threading
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


def test_fetching_goes_on_while_clients_keep_submitting(tmp):
    """Submissions wait in the intake while clients keep the loop busy;
    a stream that never pauses must not hold back every fetch until it
    ends.  Four clients submit back to back for 4 s; jobs are done
    meanwhile."""
    sets = dict(FAST, **{"queue.index_backlog": 10000000})
    with FixtureServer() as web, Daemon(tmp, extra_set=sets) as d:
        stop = threading.Event()
        errors = []
        sent = [0] * 4

        def stream(k):
            # Pipelined: requests go out as fast as the socket takes
            # them while another thread reads the replies, so the daemon
            # always has a request waiting and never sees a client pause.
            try:
                with Client(d.sock) as c:
                    def read():
                        try:
                            while True:
                                r = c.read_json()
                                if not r.get("ok"):
                                    errors.append(r)
                                    return
                                sent[k] += len(r["results"])
                        except Exception:  # noqa: BLE001
                            pass        # closed at the end
                    reader = threading.Thread(target=read)
                    reader.start()
                    n = 0
                    while not stop.is_set():
                        urls = [web.url(f"/page/{k * 10000000 + n + i}")
                                for i in range(200)]
                        n += 200
                        c.send_raw(json.dumps({"cmd": "submit",
                                               "urls": urls}).encode() +
                                   b"\n")
                    c.sock.shutdown(socket.SHUT_WR)
                    reader.join(30)
            except Exception as e:  # noqa: BLE001
                errors.append(repr(e))

        threads = [threading.Thread(target=stream, args=(k,))
                   for k in range(4)]
        t0 = time.monotonic()
        for t in threads:
            t.start()
        done_at_1s = done_during = None
        while time.monotonic() - t0 < 4:
            time.sleep(0.25)
            done_during = ok(req(d, {"cmd": "status"}))["jobs"]["done"]
            if done_at_1s is None and time.monotonic() - t0 >= 1:
                done_at_1s = done_during
        stop.set()
        for t in threads:
            t.join(30)
        assert not errors, errors[:3]
        assert sum(sent) >= 2000, sent
        # Every 250 ms a batch is indexed whoever waits: jobs go on being
        # leased and done while the stream goes on (before, the first
        # batch was done and then nothing until the stream ended).
        assert done_during - done_at_1s >= 200, \
            (done_at_1s, done_during, sum(sent))
        ok(req(d, {"cmd": "pause"}))


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


def read_export(d, piece, tag=None, pause=0.0, slow_bytes=0, timeout=120):
    """Runs an export, reading piece bytes per recv (1-byte reads for the
    first slow_bytes), sleeping pause s between reads; returns (docs,
    final line).  Every line must be whole JSON."""
    c = Client(d.sock, timeout, max_line=64 << 20)
    obj = {"cmd": "export"}
    if tag is not None:
        obj["tag"] = tag
    c.send_raw(json.dumps(obj) + "\n")
    buf, docs, got = b"", [], 0
    try:
        while True:
            n = 1 if got < slow_bytes else piece
            data = c.sock.recv(n)
            assert data, f"export closed after {len(docs)} docs"
            got += len(data)
            buf += data
            while b"\n" in buf:
                line, buf = buf.split(b"\n", 1)
                r = json.loads(line)
                if "ok" in r:
                    assert buf == b"", "data after the final line"
                    return docs, r
                assert r.get("tag") == tag, r
                docs.append(r["doc"])
            if pause:
                time.sleep(pause)
    finally:
        c.close()


def test_export_big_documents(tmp):
    """30 documents of about 3.5 MB each export whole, though each is far
    bigger than daemon.max_reply_buffer (64 KiB, its minimum): an export
    queues at most 64 KiB beyond the socket buffer (docs/protocol.md), or
    this client would be cut off.  Three exports at once, fast and slow."""
    sets = dict(FAST, **{"daemon.max_reply_buffer": "64KiB",
                         "fetch.timeout": "30s"})
    with FixtureServer() as web, Daemon(tmp, extra_set=sets) as d:
        ids = submit_ids(d, [web.url(f"/long/{i}") for i in range(30)])
        # Cleaning 100 MB takes minutes under ASan on a busy machine.
        itlib.wait_idle(d, 600)
        assert all(j["state"] == "done" for j in all_jobs(d)), \
            [j for j in all_jobs(d) if j["state"] != "done"][:2]
        results = []
        threads = [threading.Thread(target=lambda a=a: results.append(
            read_export(d, *a))) for a in ((1 << 20, "fast"),
                                            (4096, "mid"),
                                            (65536, None, 0.001))]
        for t in threads:
            t.start()
        for t in threads:
            t.join(300)
        assert len(results) == 3, "an export failed (see above)"
        for docs, final in results:
            assert final["ok"] is True and final["count"] == 30, final
            assert sorted(x["id"] for x in docs) == sorted(ids)
            assert all(len(x["text"]) > 2_000_000 for x in docs)
        assert d.running()


def test_export_read_at_every_speed(tmp):
    """An export of 600 small and 3 big documents, read by clients in
    pieces of 1 byte to 1 MiB, some pausing: each gets every document,
    whole, in fetch order, then the count.  The queue must resume whoever
    wrote last (it once stalled after 256 documents for a fast client)."""
    sets = dict(FAST, **{"fetch.timeout": "30s"})
    with FixtureServer() as web, Daemon(tmp, extra_set=sets) as d:
        submit_ids(d, [web.url(f"/page/{i}") for i in range(300)])
        submit_ids(d, [web.url(f"/long/{i}?kb=1024") for i in range(3)])
        submit_ids(d, [web.url(f"/page/{i}") for i in range(300, 600)])
        itlib.wait_idle(d, 120)
        want, final = read_export(d, 1 << 20)
        assert final["count"] == 603 == len(want), final
        speeds = [(1,), (7,), (333,), (4096,), (65536,), (1 << 20,),
                  (4096, 1, 0.0005), (65536, [1], 0.01),
                  (1 << 20, "z", 0.05)]
        results = {}

        def run(i, a):
            results[i] = read_export(d, *a)

        # 1-byte reads of 5 MB would take minutes: those stop at 200 KB
        # of single bytes, then read normally.
        speeds[0] = (65536, None, 0, 200_000)
        speeds[1] = (7, None, 0, 0)
        threads = [threading.Thread(target=run, args=(i, a))
                   for i, a in enumerate(speeds)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(600)
        assert len(results) == len(speeds), \
            f"only {sorted(results)} of {len(speeds)} exports finished"
        for i, (docs, fin) in results.items():
            assert fin == dict(final, **({"tag": speeds[i][1]} if
                               len(speeds[i]) > 1 and speeds[i][1]
                               is not None else {})), (speeds[i], fin)
            assert docs == want, f"export {speeds[i]} differs"


def test_reply_memory_cuts_off_a_client_that_does_not_read(tmp):
    """daemon.max_reply_memory: a client that pipelines thousands of
    requests and never reads is cut off (and logged), while clients that
    read - an export of big documents, a pipelining reader - finish."""
    sets = dict(FAST, **{"daemon.max_reply_memory": "1MiB",
                         "fetch.timeout": "30s"})
    with FixtureServer() as web, Daemon(tmp, extra_set=sets) as d:
        submit_ids(d, [web.url(f"/long/{i}?kb=2048") for i in range(4)])
        itlib.wait_idle(d, 60)
        hog = d.client()
        hog.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        hog.send_raw(b'{"cmd":"config"}\n' * 2000)
        time.sleep(3)		# past the 2 s grace
        docs, final = read_export(d, 65536)
        assert final["count"] == 4 and len(docs) == 4, final
        with d.client() as reader:
            # It reads while it sends: a reader that lets 64 KiB wait
            # for 2 s is cut off too, and a loaded machine (the ASan run)
            # can stall a sender that long.
            got = []
            rt = threading.Thread(target=lambda: got.extend(
                reader.read_json() for _ in range(2000)))
            rt.start()
            reader.send_raw(b'{"cmd":"config"}\n' * 2000)
            rt.join(120)
            assert len(got) == 2000, f"the reader got {len(got)} replies"
            for r in got:
                ok(r)
        n = 0
        hog.sock.settimeout(10)
        try:
            while hog.readline().endswith(b"\n"):
                n += 1
        except OSError:
            pass
        hog.close()
        assert n < 2000, "the client that did not read was not cut off"
        assert "daemon.max_reply_memory" in d.log(), d.log_tail()
        ok(req(d, {"cmd": "status"}))


if __name__ == "__main__":
    run_tests(globals())
