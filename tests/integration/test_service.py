"""
test_service.py - sluiced as a service: socket activation and sd_notify
without systemd (READY, STATUS, STOPPING, WATCHDOG), refusing a second
daemon on the same state directory or socket, --check-config, reload by
SIGHUP and by request, LMDB map growth and the store_full cap.
"""

import os
import re
import shutil
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path

import itlib  # noqa: F401  (missing sluiced = failure)
from fixture_server import FixtureServer
from harness import (Client, Daemon, HarnessError, Skip, binary, run_tests,
                     source_dir, wait_until)
from itlib import (FAST, all_jobs, doc, is_error, job, ok, req, status,
                   submit, submit_ids, wait_idle)

CONF = source_dir() / "conf/sluiced.conf"


class PrefixDaemon(Daemon):
    """A Daemon whose command line starts with prefix (a launcher that
    ends by exec'ing sluiced, so the pid stays the daemon's)."""

    def __init__(self, *args, prefix=(), **kw):
        super().__init__(*args, **kw)
        self.prefix = [str(p) for p in prefix]

    def argv(self):
        return self.prefix + super().argv()


class NotifyListener:
    """The NOTIFY_SOCKET end of sd_notify: a Unix datagram socket that
    records (time.monotonic(), "KEY=VALUE") for every assignment received.
    on_ready(t) runs in the receiving thread as soon as READY=1 arrives."""

    def __init__(self, path, on_ready=None):
        self.path = str(path)
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(self.path)
        self.sock.settimeout(0.1)
        self.msgs = []
        self.on_ready = on_ready
        self.ready_result = None
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self):
        while not self._stop.is_set():
            try:
                data = self.sock.recv(65536)
            except socket.timeout:
                continue
            except OSError:
                return
            t = time.monotonic()
            for line in data.decode(errors="replace").splitlines():
                if line == "READY=1" and self.on_ready is not None:
                    self.ready_result = self.on_ready(t)
                with self._lock:
                    self.msgs.append((t, line))

    def values(self, key):
        with self._lock:
            return [(t, m.partition("=")[2]) for t, m in self.msgs
                    if m.partition("=")[0] == key]

    def wait_for(self, pred, timeout, what):
        return wait_until(lambda: pred(self), timeout, 0.02, what)

    def close(self):
        self._stop.set()
        self._thread.join(2)
        self.sock.close()


def connect_and_status(sock):
    """A status request on a new connection; the reply or the error."""
    try:
        with Client(sock, timeout=5) as c:
            return c.request({"cmd": "status"})
    except (OSError, HarnessError) as e:
        return e


# --- socket activation and sd_notify ------------------------------------

def test_socket_activation(tmp):
    """systemd-socket-activate listens and passes the socket: sluiced
    serves on it (sd_listen_fds) instead of making its own."""
    if shutil.which("systemd-socket-activate") is None:
        raise Skip("systemd-socket-activate is not installed")
    sock = tmp / "activated.sock"
    passenv = [f"--setenv={k}" for k in ("ASAN_OPTIONS", "UBSAN_OPTIONS",
                                         "LSAN_OPTIONS") if k in os.environ]
    with FixtureServer() as web:
        d = PrefixDaemon(tmp, extra_set=FAST,
                         prefix=["systemd-socket-activate", "-l", sock,
                                 *passenv])
        del d.sets["daemon.socket"]
        d.sock = sock
        with d:
            r = ok(req(d, {"cmd": "status"}), "status on the passed socket")
            assert r["jobs"]["queued"] == 0
            [jid] = submit_ids(d, [web.url("/page/1")])
            wait_idle(d)
            assert job(d, jid)["state"] == "done"
            assert "socket activation" in d.log(), d.log_tail()
            assert not (d.state_dir / "control.sock").exists(), \
                "made its own socket as well"
        assert web.hits("/page/1") == 1


def test_sd_notify_ready_status_stopping(tmp):
    sock = tmp / "ctl.sock"
    listener = NotifyListener(tmp / "notify.sock",
                              on_ready=lambda t: connect_and_status(sock))
    try:
        with FixtureServer() as web:
            d = Daemon(tmp, extra_set=FAST,
                       env={"NOTIFY_SOCKET": listener.path})
            d.start(wait_ready=False)
            listener.wait_for(lambda n: n.values("READY"), 20, "READY=1")
            r = listener.ready_result
            assert isinstance(r, dict) and r.get("ok") is True, \
                f"READY=1 sent before the control socket served: {r!r}"
            assert re.search(r"queued 0, active 0, done 0, failed 0",
                             " ".join(v for _, v in listener.values(
                                 "STATUS"))), listener.msgs
            submit_ids(d, [web.url(f"/page/{i}") for i in range(3)])
            wait_idle(d)
            listener.wait_for(lambda n: any(
                "done 3" in v and "queued 0" in v
                for _, v in n.values("STATUS")), 5, "STATUS with done 3")
            ok(req(d, {"cmd": "pause"}))
            listener.wait_for(lambda n: any(
                "paused" in v for _, v in n.values("STATUS")), 5,
                "STATUS saying paused")
            assert not listener.values("STOPPING")
            assert d.stop() == 0
            listener.wait_for(lambda n: n.values("STOPPING"), 5,
                              "STOPPING=1")
            assert len(listener.values("READY")) == 1, listener.msgs
            assert listener.values("STOPPING")[0][0] > \
                listener.values("READY")[0][0]
            assert not d.sanitizer_errors()
    finally:
        listener.close()


WATCHDOG_WRAPPER = ["sh", "-c", 'export WATCHDOG_PID=$$; exec "$0" "$@"']


def test_sd_notify_watchdog(tmp):
    listener = NotifyListener(tmp / "notify.sock")
    try:
        env = {"NOTIFY_SOCKET": listener.path, "WATCHDOG_USEC": "1000000"}
        with PrefixDaemon(tmp / "a", extra_set=FAST, env=env,
                          prefix=WATCHDOG_WRAPPER):
            t0 = time.monotonic()
            listener.wait_for(lambda n: len(n.values("WATCHDOG")) >= 5, 6,
                              "five WATCHDOG=1")
            pings = [t for t, v in listener.values("WATCHDOG") if v == "1"]
            assert len(pings) >= 5
            assert pings[4] - t0 < 4, "pings slower than WATCHDOG_USEC/2"
            gaps = [b - a for a, b in zip(pings, pings[1:])]
            assert max(gaps) < 0.95, f"gap over WATCHDOG_USEC: {gaps}"
        # WATCHDOG_PID naming another process: no pings.
        listener.msgs.clear()
        env = dict(env, WATCHDOG_PID="1")
        with Daemon(tmp / "b", extra_set=FAST, env=env):
            time.sleep(1.5)
            assert not listener.values("WATCHDOG"), listener.msgs
    finally:
        listener.close()


# --- one daemon per state directory and socket ---------------------------

def expect_refusal(d, words, timeout=15):
    """Starts d, which must exit non-zero; its log must say words."""
    d.start(wait_ready=False)
    try:
        code = d.proc.wait(timeout)
    except subprocess.TimeoutExpired:
        d.kill()
        raise AssertionError(f"second sluiced still running:\n"
                             f"{d.log_tail()}") from None
    assert code != 0, f"second sluiced exited 0:\n{d.log_tail()}"
    log = d.log()
    for w in words:
        assert w in log, f"refusal does not mention {w!r}:\n{d.log_tail()}"


def test_second_daemon_same_state_dir_refused(tmp):
    with FixtureServer() as web, Daemon(tmp / "one", extra_set=FAST) as d1:
        [jid] = submit_ids(d1, [web.url("/page/1")])
        wait_idle(d1)
        for _ in range(2):
            d2 = Daemon(tmp / "two", extra_set=FAST)
            d2.sets["daemon.state_dir"] = d1.state_dir
            expect_refusal(d2, ["in use"])
        assert ok(req(d1, {"cmd": "status"}))["jobs"]["done"] == 1
        [j2] = submit_ids(d1, [web.url("/page/2")])
        wait_idle(d1)
        assert doc(d1, jid)["url"] == web.url("/page/1")
        assert job(d1, j2)["state"] == "done"


def test_second_daemon_same_socket_refused(tmp):
    with Daemon(tmp / "one", extra_set=FAST) as d1:
        d2 = Daemon(tmp / "two", extra_set=FAST)
        d2.sets["daemon.socket"] = d1.sock
        expect_refusal(d2, [str(d1.sock)])
        assert d1.sock.exists(), "the refused daemon removed the socket"
        ok(req(d1, {"cmd": "status"}), "first daemon after the refusal")
    # A socket file nobody listens on (a crashed daemon's) is taken over.
    stale = tmp / "stale.sock"
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind(str(stale))
    s.close()
    d3 = Daemon(tmp / "three", extra_set=FAST)
    d3.sets["daemon.socket"] = d3.sock = stale
    with d3:
        ok(req(d3, {"cmd": "status"}), "daemon on a stale socket path")


# --- configuration ---------------------------------------------------------

def check_config(tmp, *args):
    p = subprocess.run([str(binary("sluiced")), *map(str, args)],
                       capture_output=True, text=True, timeout=30, cwd=tmp)
    return p.returncode, p.stdout, p.stderr


def edited(text, section, key, value):
    """text with `key = value` in [section] (replaced or added)."""
    out, cur, done = [], None, False
    for line in text.splitlines():
        m = re.match(r"\s*\[(\w+)\]", line)
        if m:
            if cur == section and not done:
                out.append(f"{key} = {value}")
                done = True
            cur = m[1]
        elif cur == section and re.match(rf"\s*{key}\s*=", line):
            line, done = f"{key} = {value}", True
        out.append(line)
    if not done:
        if cur != section:
            out.append(f"[{section}]")
        out.append(f"{key} = {value}")
    return "\n".join(out) + "\n"


def line_of(text, pattern):
    for i, line in enumerate(text.splitlines(), 1):
        if pattern in line:
            return i
    raise AssertionError(f"{pattern!r} not in the config")


def test_check_config(tmp):
    for flag in ("--check-config", "-n"):
        code, out, err = check_config(tmp, flag, "-c", CONF)
        assert code == 0 and out == "configuration OK\n", (code, out, err)
    assert not (tmp / "var").exists(), "--check-config created the state dir"
    text = CONF.read_text()
    broken = {
        "bad-number": edited(text, "fetch", "max_total", "lots"),
        "out-of-range": edited(text, "fetch", "max_total", "0"),
        "unknown-key": edited(text, "fetch", "max_totl", "3"),
        "no-equals": edited(text, "fetch", "max_total", "64").replace(
            "max_total = 64", "max_total 64"),
        "bad-section": text.replace("[queue]", "[queeu]"),
        "bad-bool": edited(text, "store", "keep_raw", "perhaps"),
    }
    marks = {"bad-number": "max_total = lots", "out-of-range":
             "max_total = 0", "unknown-key": "max_totl = 3",
             "no-equals": "max_total 64", "bad-section": "[queeu]",
             "bad-bool": "keep_raw = perhaps"}
    for name, body in broken.items():
        path = tmp / f"{name}.conf"
        path.write_text(body)
        code, out, err = check_config(tmp, "--check-config", "-c", path)
        line = line_of(body, marks[name])
        # An unknown section may be reported at its header or first key.
        lines = [line]
        if name == "bad-section":
            rest = body.splitlines()[line:]
            lines.append(line + 1 + next(i for i, t in enumerate(rest)
                                         if "=" in t and
                                         not t.lstrip().startswith("#")))
        where = [f"{path}:{n}" for n in lines]
        assert code != 0, f"{name}: accepted"
        assert "configuration OK" not in out, (name, out)
        assert any(w in err for w in where), \
            f"{name}: error does not say {where[0]}: {err!r}"
    # --set and cross-key checks fail too, naming the key.
    for args, word in ((["--set", "fetch.max_total=0"], "fetch.max_total"),
                       (["--set", "fetch.nope=1"], "fetch.nope"),
                       (["--set", "fetch.max_per_host=100", "--set",
                         "fetch.max_total=10"], "max_per_host")):
        code, out, err = check_config(tmp, "-n", "-c", CONF, *args)
        assert code != 0 and word in err, (args, code, err)
    code, out, err = check_config(tmp, "-n", "-c", tmp / "missing.conf")
    assert code != 0 and "missing.conf" in err, (code, err)


def config_value(d, key):
    return ok(req(d, {"cmd": "config"}), "config")["config"][key]


def test_reload(tmp):
    conf = tmp / "sluiced.conf"
    base = CONF.read_text()
    base = edited(base, "daemon", "state_dir", tmp / "state")
    base = edited(base, "daemon", "socket", tmp / "ctl.sock")
    conf.write_text(base)
    sets = {k: v for k, v in FAST.items() if k != "fetch.max_per_host"}
    with FixtureServer() as web, Daemon(tmp, conf=conf, extra_set=sets) as d:
        del d.sets["daemon.state_dir"], d.sets["daemon.socket"]
        d.restart()
        assert config_value(d, "fetch.max_total") == "64"
        # A live key is applied; a restart key is reported and kept.
        other = tmp / "other-state"
        text = edited(edited(base, "fetch", "max_total", "20"),
                      "daemon", "state_dir", other)
        conf.write_text(text)
        r = ok(req(d, {"cmd": "reload", "tag": "rl"}), "reload")
        assert r["tag"] == "rl"
        assert "fetch.max_total" in r["applied"], r
        assert "daemon.state_dir" in r["restart_required"], r
        assert "daemon.state_dir" not in r["applied"], r
        assert "fetch.max_total" not in r["restart_required"], r
        assert config_value(d, "fetch.max_total") == "20"
        assert config_value(d, "daemon.state_dir") == str(tmp / "state")
        assert not other.exists()
        # SIGHUP does the same.
        conf.write_text(edited(text, "fetch", "max_total", "24"))
        d.proc.send_signal(signal.SIGHUP)
        wait_until(lambda: config_value(d, "fetch.max_total") == "24", 5,
                   0.05, "SIGHUP applied fetch.max_total")
        # A broken file changes nothing, by request or by SIGHUP.
        bad = edited(text, "fetch", "max_total", "lots")
        conf.write_text(bad)
        msg = is_error(req(d, {"cmd": "reload"}), "bad_request", "reload")
        where = f"{conf}:{line_of(bad, 'max_total = lots')}"
        assert where in msg, f"reload error does not say {where}: {msg}"
        d.proc.send_signal(signal.SIGHUP)
        time.sleep(0.3)
        assert d.running(), "SIGHUP with a broken file stopped sluiced"
        assert config_value(d, "fetch.max_total") == "24"
        [jid] = submit_ids(d, [web.url("/page/1")])
        wait_idle(d)
        assert job(d, jid)["state"] == "done"
        # Fixed again: reload works.
        conf.write_text(edited(text, "fetch", "max_total", "30"))
        r = ok(req(d, {"cmd": "reload"}))
        assert "fetch.max_total" in r["applied"], r
        assert config_value(d, "fetch.max_total") == "30"


# --- the store: growth and the cap ---------------------------------------

def long_urls(web, start, n, pad=300):
    return [web.url(f"/page/{i}?pad={'p' * pad}") for i in
            range(start, start + n)]


def wait_listed_idle(d, timeout):
    """Waits until the job listing shows nothing queued or active.  (Not
    "wait": that trusts the status counts, which these tests check.)"""
    def idle():
        with Client(d.sock, 10) as c:
            return all(not ok(c.request({"cmd": "jobs", "state": st,
                                         "limit": 1}))["jobs"]
                       for st in ("queued", "active"))
    wait_until(idle, timeout, 0.1, "no job queued or active")


def check_jobs(d, acked, state):
    """Exactly the acknowledged jobs exist, each in state, and the status
    counts agree with the listing."""
    jobs = all_jobs(d)
    got = {j["url"]: j["id"] for j in jobs}
    lost = [u for u in acked if u not in got]
    assert not lost, f"{len(lost)} acknowledged jobs lost: {lost[:2]}"
    moved = [(u, acked[u], got[u]) for u in acked if got[u] != acked[u]]
    assert not moved, f"acknowledged ids changed: {moved[:3]}"
    assert len(jobs) == len(acked), (len(jobs), len(acked))
    other = [j for j in jobs if j["state"] != state]
    assert not other, f"{len(other)} jobs not {state}: {other[:2]}"
    s = status(d)
    want = dict.fromkeys(("queued", "active", "done", "failed",
                          "cancelled"), 0)
    want[state] = len(jobs)
    assert s["jobs"] == want, f"status counts {s['jobs']}, listed {want}"
    assert s["totals"]["submitted"] == len(jobs), s["totals"]
    if state == "done":
        assert s["totals"]["fetched"] == len(jobs), s["totals"]


def test_map_grows(tmp):
    """store.map_size=1MiB: submissions and documents grow the map; every
    acknowledged job is kept and counted once, across a restart too."""
    sets = dict(FAST, **{"store.map_size": "1MiB"})
    with FixtureServer() as web, Daemon(tmp, extra_set=sets) as d:
        first = status(d)["store"]["map_size"]
        assert first == 1 << 20, first
        acked = {}
        for i in range(0, 3000, 500):
            for res in submit(d, long_urls(web, i, 500))["results"]:
                assert res["status"] == "queued", res
                acked[res["url"]] = res["id"]
        wait_listed_idle(d, 60)
        st = status(d)["store"]
        assert st["map_size"] > first and st["full"] is False, st
        assert d.log().count("map grown") >= 3, d.log_tail()
        check_jobs(d, acked, "done")
        d.restart()
        # (LMDB reopens the map at the size the data file needs.)
        st = status(d)["store"]
        assert first < st["map_size"] and st["used_bytes"] <= st["map_size"]
        check_jobs(d, acked, "done")


def test_store_full_cap(tmp):
    """store.map_size_max reached: submissions get store_full, the daemon
    keeps serving, and everything acknowledged before survives restarts."""
    sets = dict(FAST, **{"store.map_size": "1MiB",
                         "store.map_size_max": "1MiB",
                         "daemon.shutdown_timeout": "2s"})
    with FixtureServer() as web, Daemon(tmp, extra_set=sets) as d:
        ok(req(d, {"cmd": "pause"}))
        acked, refused = {}, None
        for i in range(0, 20000, 200):
            r = req(d, {"cmd": "submit", "urls": long_urls(web, i, 200)})
            if r.get("ok") is not True:
                refused = r
                break
            for res in r["results"]:
                assert res["status"] in ("queued", "rejected"), res
                if res["status"] == "queued":
                    acked[res["url"]] = res["id"]
                else:
                    assert res["error"]["code"] == "store_full", res
        assert refused is not None, "1 MiB store never filled"
        is_error(refused, "store_full", "submit into a full store")
        assert acked, "nothing fitted at all"
        assert d.running(), "sluiced died when the store filled"
        s = status(d)
        assert s["store"]["full"] is True, s["store"]
        is_error(req(d, {"cmd": "submit", "url": web.url("/page/999999")}),
                 "store_full", "single URL into a full store")
        # Reads still work; nothing acknowledged is missing.
        assert {j["url"]: j["id"] for j in all_jobs(d)} == acked
        assert s["jobs"]["queued"] == len(acked), \
            f"status counts {s['jobs']}, {len(acked)} jobs queued"
        assert s["totals"]["submitted"] == len(acked), s["totals"]
        assert d.stop() == 0
        # Restarted (so dispatching again) at the same cap: everything is
        # there, and the daemon still stops in time.
        d.start()
        assert {j["url"]: j["id"] for j in all_jobs(d)} == acked
        ok(req(d, {"cmd": "status"}))
        t0 = time.monotonic()
        assert d.stop() == 0
        assert time.monotonic() - t0 < 2 + 3, "stop took longer than " \
            "daemon.shutdown_timeout=2s"
        # With a higher cap the same store takes submissions again.
        d.sets["store.map_size_max"] = "64MiB"
        d.start()
        assert {j["url"]: j["id"] for j in all_jobs(d)} == acked
        r = submit(d, [web.url("/page/1")])
        assert r["queued"] == 1, r
        wait_listed_idle(d, 60)
        check_jobs(d, dict(acked, **{web.url("/page/1"): r["results"][0]
                                     ["id"]}), "done")


def test_recovery_on_a_compacted_store(tmp):
    """SIGKILL with transfers in flight, then the store compacted with
    `mdb_copy -c` (as a restored backup is): LMDB maps such a file at its
    own size, with no free page, and the recovery transaction that
    requeues the jobs in flight must grow the map and start over rather
    than refuse to start with MDB_MAP_FULL."""
    sets = dict(FAST, **{"store.map_size": "1MiB",
                         "fetch.max_per_host": 8})
    with FixtureServer() as web, Daemon(tmp, extra_set=sets) as d:
        ok(req(d, {"cmd": "pause"}))
        slow = [web.url(f"/slow?bytes=2000&delay_ms=500&chunk=100&n={i}")
                for i in range(8)]
        acked = set()
        for i in range(0, 6000, 500):
            for res in submit(d, long_urls(web, i, 500))["results"]:
                acked.add(res["url"])
        for res in submit(d, slow, priority=10)["results"]:
            acked.add(res["url"])
        ok(req(d, {"cmd": "resume"}))
        wait_until(lambda: status(d)["inflight"] >= 4, 10,
                   what="transfers in flight")
        d.kill()
        state = Path(d.state_dir)
        packed = Path(tmp) / "packed"
        packed.mkdir()
        subprocess.run(["mdb_copy", "-c", str(state), str(packed)],
                       check=True)
        (packed / "data.mdb").replace(state / "data.mdb")
        (state / "lock.mdb").unlink(missing_ok=True)
        d.start()
        assert "to recover" in d.log(), \
            "the compacted store did not need a bigger map:\n" + \
            d.log_tail()
        assert {j["url"] for j in all_jobs(d)} == acked
        s = status(d)
        assert s["jobs"]["active"] <= 8, s["jobs"]
        assert d.stop() == 0


def test_full_store_waits_quietly(tmp):
    """At store.map_size_max with fetched pages that need room, the daemon
    neither spins nor floods its log: results wait on a backoff, clients
    get store_full at once, and it still stops cleanly."""
    sets = dict(FAST, **{"store.map_size": "1MiB",
                         "store.map_size_max": "1MiB",
                         "daemon.shutdown_timeout": "2s"})
    with FixtureServer() as web, Daemon(tmp, extra_set=sets) as d:
        ok(req(d, {"cmd": "pause"}))
        for i in range(0, 20000, 200):
            r = req(d, {"cmd": "submit", "urls": long_urls(web, i, 200)})
            if r.get("ok") is not True:
                break
        assert status(d)["store"]["full"] is True
        ok(req(d, {"cmd": "resume"}))
        wait_until(lambda: "cannot commit" in d.log(), 20,
                   what="the store to refuse the fetched pages")
        lines = len(d.log().splitlines())
        ticks = os.sysconf("SC_CLK_TCK")

        def cpu():
            with open(f"/proc/{d.proc.pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            return (int(fields[11]) + int(fields[12])) / ticks

        c0 = cpu()
        time.sleep(3)
        used = cpu() - c0
        added = d.log().splitlines()[lines:]
        assert used < 0.6, f"sluiced used {used:.2f} s of CPU in 3 s"
        assert len(added) < 10, "log lines while full:\n" + \
            "\n".join(added[:20])
        t0 = time.monotonic()
        is_error(req(d, {"cmd": "submit", "url": web.url("/page/999999")}),
                 "store_full", "submit while full")
        assert time.monotonic() - t0 < 1.0, "submit answered slowly"
        ok(req(d, {"cmd": "status"}))
        assert d.stop() == 0


if __name__ == "__main__":
    run_tests(globals())
