"""Self-test of harness.py against stand-in sluiced/sluicectl programs
(small Python scripts speaking the line protocol), so the harness is known
to work before the real daemon is blamed for anything."""

import json
import os
import signal
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import harness
from harness import (Client, CtlResult, Daemon, HarnessError, Skip,
                     run_tests, wait_until)

HERE = Path(__file__).resolve().parent

FAKE_SLUICED = r'''
import json, os, signal, socket, sys, time
args = sys.argv[1:]
sets = {}
for i, a in enumerate(args):
    if a == "--set":
        k, _, v = args[i + 1].partition("=")
        sets[k] = v
with open("argv.json", "w") as f:
    json.dump(args, f)
mode = sets.get("fake.mode", "")
print("fake sluiced starting", mode, file=sys.stderr, flush=True)
if mode == "crash":
    print("boom: cannot open state", file=sys.stderr)
    sys.exit(3)

def finish(*_):
    if mode == "asan":
        print("==1==ERROR: AddressSanitizer: heap-use-after-free",
              file=sys.stderr, flush=True)
    os._exit(7 if mode == "exit-7" else 0)

signal.signal(signal.SIGTERM,
              signal.SIG_IGN if mode == "ignore-term" else finish)
if mode == "never-binds":
    while True:
        time.sleep(1)
path = sets["daemon.socket"]
if os.path.exists(path):
    os.unlink(path)
srv = socket.socket(socket.AF_UNIX)
srv.bind(path)
srv.listen(16)
while True:
    conn, _ = srv.accept()
    f = conn.makefile("rwb")
    for line in f:
        try:
            req = json.loads(line)
            cmd = req["cmd"]
        except (ValueError, KeyError, TypeError):
            rep = {"ok": False, "error": {"code": "bad_request",
                                          "message": "not a request"}}
        else:
            if cmd == "status":
                rep = {"ok": True, "pid": os.getpid(), "sets": sets}
            elif cmd == "echo":
                rep = {"ok": True, "args": req.get("args", [])}
            else:
                rep = {"ok": False, "error": {"code": "unknown_command",
                                              "message": cmd}}
        f.write(json.dumps(rep).encode() + b"\n")
        f.flush()
    conn.close()
'''

FAKE_SLUICECTL = r'''
import json, socket, sys
args = sys.argv[1:]
assert args[0] == "-s", args
sock, rest = args[1], args[2:]
as_json = rest[:1] == ["--json"]
if as_json:
    rest = rest[1:]
if rest == ["lines"]:
    print('{"n": 1}\n{"n": 2}')
    sys.exit(0)
if rest == ["garbage"]:
    print("not json")
    sys.exit(0)
req = {"cmd": rest[0], "args": [a for a in rest[1:] if a != "-"]}
if "-" in rest:
    req["args"] += sys.stdin.read().split()
s = socket.socket(socket.AF_UNIX)
s.connect(sock)
s.sendall(json.dumps(req).encode() + b"\n")
obj = json.loads(s.makefile("rb").readline())
if as_json:
    print(json.dumps(obj))
else:
    print("ok" if obj["ok"] else "error")
if not obj["ok"]:
    print(obj["error"]["message"], file=sys.stderr)
sys.exit(0 if obj["ok"] else 1)
'''


@contextmanager
def fake_build(tmp):
    """SLUICE_BUILD pointing at stand-in programs for the duration."""
    bindir = tmp / "build"
    bindir.mkdir()
    for name, src in (("sluiced", FAKE_SLUICED),
                      ("sluicectl", FAKE_SLUICECTL)):
        p = bindir / name
        p.write_text(f"#!{sys.executable}\n{src}")
        p.chmod(0o755)
    old = {k: os.environ.get(k) for k in ("SLUICE_BUILD",
                                          "SLUICE_REQUIRE_BINARIES")}
    os.environ["SLUICE_BUILD"] = str(bindir)
    os.environ.pop("SLUICE_REQUIRE_BINARIES", None)
    try:
        yield bindir
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def alive(pid):
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False


def expect_error(fn, needle, exc=HarnessError):
    try:
        fn()
    except exc as e:
        assert needle in str(e), f"{needle!r} not in {e}"
        return e
    raise AssertionError(f"no {exc.__name__} raised")


def test_daemon_lifecycle(tmp):
    with fake_build(tmp):
        d = Daemon(tmp / "d", extra_set={"x.limit": 5,
                                         "fetch.allow_private_addresses":
                                         False})
        (tmp / "d").mkdir()
        d.start()
        argv = json.loads((tmp / "d" / "argv.json").read_text())
        assert argv[:2] == ["-f", "-c"]
        assert argv[2].endswith("conf/sluiced.conf")
        sets = [argv[i + 1] for i, a in enumerate(argv) if a == "--set"]
        assert sets == [f"daemon.state_dir={tmp / 'd' / 'state'}",
                        f"daemon.socket={tmp / 'd' / 'ctl.sock'}",
                        "fetch.allow_private_addresses=false",
                        "x.limit=5"], sets
        assert (tmp / "d" / "state").is_dir()
        r = d.ctl("status")
        code, out, err = r
        assert code == 0 and r.obj["ok"] and r.obj["pid"] == d.pid
        r = d.ctl("echo", "a", "-", input="u1\nu2\n")
        assert r.obj["args"] == ["a", "u1", "u2"]
        r = d.ctl("status", json=False)
        assert r.out == "ok\n"
        r = d.ctl("bogus")
        assert r.code == 1 and "bogus" in r.err
        assert r.obj["error"]["code"] == "unknown_command"
        expect_error(r.check, "exited 1")
        assert d.ctl("lines").json == [{"n": 1}, {"n": 2}]
        expect_error(lambda: d.ctl("lines").obj, "expected one")
        expect_error(lambda: d.ctl("garbage").json, "not JSON")
        first = d.pid
        d.restart()
        assert d.pid != first and not alive(first)
        assert d.log().count("=== harness start #") == 2
        assert "fake sluiced starting" in d.log()
        assert d.kill() == -signal.SIGKILL and not d.running()
        assert d.stop() == -signal.SIGKILL
        d.start()
        assert d.stop() == 0


def test_client(tmp):
    with fake_build(tmp):
        with Daemon(tmp) as d:
            with d.client() as c:
                assert c.request({"cmd": "status"})["ok"] is True
                c.send_raw(b'{"cmd": "echo", "args": [1]}\n{"cmd"')
                assert c.readline() == b'{"ok": true, "args": [1]}\n'
                c.send_raw(b': "status"}\n')
                assert c.read_json()["pid"] == d.pid
                c.send_raw("not json\n")
                assert c.read_json()["error"]["code"] == "bad_request"
            assert d.request({"cmd": "echo", "args": ["x"]})["args"] == ["x"]
            d.kill()
            expect_error(lambda: Client(d.sock), "", OSError)


def test_start_failures_show_log(tmp):
    with fake_build(tmp):
        d = Daemon(tmp, extra_set={"fake.mode": "crash"})
        e = expect_error(d.start, "exited with 3")
        assert "boom: cannot open state" in str(e)
        d = Daemon(tmp, extra_set={"fake.mode": "never-binds"})
        t0 = time.monotonic()
        e = expect_error(lambda: d.start(timeout=0.5), "not ready after 0.5s")
        assert time.monotonic() - t0 < 3
        assert not d.running(), "a daemon that never got ready was left"
        d = Daemon(tmp, extra_set={"fake.mode": "ignore-term"})
        d.start()
        pid = d.pid
        expect_error(lambda: d.stop(timeout=0.5), "ignored SIGTERM")
        assert not alive(pid)


def test_exit_checks(tmp):
    with fake_build(tmp):
        def use(mode):
            with Daemon(tmp, extra_set={"fake.mode": mode}):
                pass
        expect_error(lambda: use("asan"), "sanitizer reports")
        expect_error(lambda: use("exit-7"), "exited with 7")
        use("")
        try:
            with Daemon(tmp) as d:
                pid = d.pid
                raise KeyError("test's own error")
        except KeyError:
            pass
        assert not alive(pid)


def test_missing_binaries(tmp):
    old = os.environ.get("SLUICE_BUILD")
    # CI sets it for every test (.ci/run); this one checks both ways.
    required = os.environ.pop("SLUICE_REQUIRE_BINARIES", None)
    os.environ["SLUICE_BUILD"] = str(tmp)
    try:
        expect_error(Daemon(tmp).start, "is not built", Skip)
        expect_error(lambda: harness.ctl(tmp / "s", "status"), "is not built",
                     Skip)
        os.environ["SLUICE_REQUIRE_BINARIES"] = "1"
        expect_error(Daemon(tmp).start, "is not built")
    finally:
        os.environ.pop("SLUICE_REQUIRE_BINARIES", None)
        if required is not None:
            os.environ["SLUICE_REQUIRE_BINARIES"] = required
        if old is None:
            os.environ.pop("SLUICE_BUILD", None)
        else:
            os.environ["SLUICE_BUILD"] = old


def test_ctl_result_shape():
    r = CtlResult(0, '{"a": 1}\n', "", ["x"])
    code, out, err = r
    assert (code, out, err) == (0, '{"a": 1}\n', "")
    assert r.obj == {"a": 1} and r.check() is r
    assert CtlResult(0, "", "", ["x"]).json == []


def test_wait_until():
    t0 = time.monotonic()
    assert wait_until(lambda: time.monotonic() - t0 > 0.1 and 42) == 42
    expect_error(lambda: wait_until(lambda: False, timeout=0.1,
                                    what="pigs to fly"), "pigs to fly")


RUNNER_CHILD = r'''
import os, sys
from harness import Daemon, Skip, run_tests
seen = []
def test_pass(tmp):
    assert tmp.is_dir() and not os.listdir(tmp)
    (tmp / "junk").write_text("x")
    seen.append(tmp)
def test_pass_no_arg():
    assert not seen[0].exists(), "scratch dir not removed"
def test_skip():
    raise Skip("not today")
def test_fail_leaving_daemon(tmp):
    d = Daemon(tmp).start()
    open(os.environ["PIDFILE"], "w").write(str(d.pid))
    assert 1 == 2, "deliberate"
def helper_not_a_test():
    raise SystemExit("ran a non-test")
run_tests(globals())
'''


def test_runner(tmp):
    with fake_build(tmp):
        script = tmp / "child.py"
        script.write_text(RUNNER_CHILD)
        env = dict(os.environ, PIDFILE=str(tmp / "pid"),
                   PYTHONPATH=os.pathsep.join(sys.path))
        p = subprocess.run([sys.executable, str(script)], env=env, text=True,
                           capture_output=True, timeout=60)
        lines = p.stdout.splitlines()
        assert p.returncode == 1, p.stdout + p.stderr
        assert lines[-1] == "2 passed, 1 failed, 1 skipped", lines[-1]
        assert lines[0].startswith("ok   test_pass (")
        assert "skip test_skip: not today" in lines
        assert any(ln.startswith("FAIL test_fail_leaving_daemon")
                   for ln in lines)
        assert "AssertionError: deliberate" in p.stdout
        assert "fake sluiced starting" in p.stdout, "log tail not shown"
        assert not alive(int((tmp / "pid").read_text()))
        p = subprocess.run([sys.executable, str(script), "test_pass",
                            "test_skip"], env=env, text=True,
                           capture_output=True, timeout=60)
        assert p.returncode == 0
        assert p.stdout.splitlines()[-1] == "1 passed, 0 failed, 1 skipped"
        p = subprocess.run([sys.executable, str(script), "test_pass"],
                           env=env, text=True, capture_output=True,
                           timeout=60)
        assert p.stdout.splitlines()[-1] == "1 passed, 0 failed"
        p = subprocess.run([sys.executable, str(script), "test_nope"],
                           env=env, text=True, capture_output=True,
                           timeout=60)
        assert p.returncode == 2


if __name__ == "__main__":
    run_tests(globals())
