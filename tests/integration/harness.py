"""
harness.py - what sluice's integration tests share: starting the real
sluiced in a scratch directory, talking to it through sluicectl or the raw
control socket, and a tiny test runner.  Standard library only.

Environment (ctest sets the first two; both have defaults for manual runs):
  SLUICE_BUILD     build directory holding sluiced and sluicectl
                   (default <repo>/build)
  SLUICE_SOURCE    repository root (default: two levels above this file)
  SLUICE_REQUIRE_BINARIES=1   a missing sluiced/sluicectl fails the test
                   instead of skipping it
  SLUICE_KEEP_TMP=1           keep each test's scratch directory
                   (=fail: keep only those of failed tests)
  SLUICE_DAEMON_WRAPPER="valgrind -q"  command prefix for sluiced

API:
  Daemon(tmpdir, extra_set=None, conf=None, extra_args=(), env=None,
         allow_private=True)
      .start(wait_ready=True, timeout=20) .wait_ready() .stop() -> exit code
      .kill() .restart(kill=False) .running() .pid .sock .state_dir
      .log() .log_tail() .sanitizer_errors() .ctl(*args, ...) .client()
      .request(obj); as a context manager it starts, then stops and fails
      on a non-zero exit or sanitizer reports.
  ctl(sock, *args, json=True, input=None, timeout=60) -> CtlResult, a
      (code, stdout, stderr) tuple with .json (parsed lines), .obj, .check()
  Client(sockpath, timeout=30).request(obj) .send_raw(b) .readline()
      .read_json() .close()
  run_tests(globals()), Skip("why"), HarnessError, wait_until(pred, ...),
  binary(name), build_dir(), source_dir()
  Daemons a test leaves running are killed after it; if it failed, their
  log tails are printed.

A test file looks like:

    from harness import Daemon, run_tests
    from fixture_server import FixtureServer

    def test_status(tmp):
        with FixtureServer() as web, Daemon(tmp) as d:
            code, out, err = d.ctl("status")
            assert code == 0, err

    if __name__ == "__main__":
        run_tests(globals())
"""

import inspect
import json as _json
import os
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path

_HERE = Path(__file__).resolve().parent
# Let tests import fixture_server even when PYTHONPATH was not set up.
if str(_HERE.parent / "fixture") not in sys.path:
    sys.path.append(str(_HERE.parent / "fixture"))

READY_TIMEOUT = 20.0		# seconds Daemon.start() waits for the socket
STOP_TIMEOUT = 30.0		# seconds Daemon.stop() waits after SIGTERM
LOG_TAIL_LINES = 40		# lines of daemon log shown in failures
SANITIZER_MARKS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer",
                   "runtime error:", "WARNING: ThreadSanitizer")


class Skip(Exception):
    """Raise in a test to skip it: Skip("why")."""


class HarnessError(AssertionError):
    """A daemon or tool did not behave (with its log tail in the message)."""


def source_dir():
    return Path(os.environ.get("SLUICE_SOURCE") or _HERE.parent.parent)


def build_dir():
    return Path(os.environ.get("SLUICE_BUILD") or source_dir() / "build")


def binary(name):
    """Path of a built program; Skip (or HarnessError with
    SLUICE_REQUIRE_BINARIES=1) when it has not been built."""
    path = build_dir() / name
    if path.is_file() and os.access(path, os.X_OK):
        return path
    msg = f"{path} is not built"
    if os.environ.get("SLUICE_REQUIRE_BINARIES") == "1":
        raise HarnessError(msg)
    raise Skip(msg)


def wait_until(pred, timeout=20.0, interval=0.05, what="condition"):
    """Polls pred() until it returns a true value, which is returned.
    Raises HarnessError naming what after timeout seconds."""
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() >= deadline:
            raise HarnessError(f"timed out after {timeout}s waiting for "
                               f"{what}")
        time.sleep(interval)


def _tail(text, n=LOG_TAIL_LINES):
    lines = text.splitlines()[-n:]
    return "\n".join("    | " + ln for ln in lines) or "    | (empty log)"


# ---- sluicectl -------------------------------------------------------------

class CtlResult(tuple):
    """(exit_code, stdout, stderr), plus .json: the stdout lines parsed as
    JSON (parsed on first use; HarnessError if they are not JSON) and .obj:
    the single JSON object (HarnessError unless exactly one)."""

    def __new__(cls, code, out, err, argv):
        self = super().__new__(cls, (code, out, err))
        self.argv = argv
        self._parsed = None
        return self

    code = property(lambda self: self[0])
    out = property(lambda self: self[1])
    err = property(lambda self: self[2])

    @property
    def json(self):
        if self._parsed is None:
            try:
                self._parsed = [_json.loads(ln) for ln in self.out.splitlines()
                                if ln.strip()]
            except ValueError as e:
                raise HarnessError(f"{self._describe()}: stdout is not JSON "
                                   f"lines ({e})") from None
        return self._parsed

    @property
    def obj(self):
        objs = self.json
        if len(objs) != 1:
            raise HarnessError(f"{self._describe()}: expected one JSON "
                               f"object, got {len(objs)}")
        return objs[0]

    def _describe(self):
        return (f"{shlex.join(self.argv)} exited {self.code}\n"
                f"stdout: {self.out[-2000:]!r}\nstderr: {self.err[-2000:]!r}")

    def check(self):
        """Returns self if the exit code is 0, else raises HarnessError."""
        if self.code != 0:
            raise HarnessError(self._describe())
        return self


def ctl(sock, *args, json=True, input=None, timeout=60):
    """Runs `sluicectl -s sock [--json] args...`; returns a CtlResult.
    input (str) is fed to stdin.  A hang past timeout s raises."""
    argv = [str(binary("sluicectl")), "-s", str(sock)]
    if json:
        argv.append("--json")
    argv += [str(a) for a in args]
    try:
        p = subprocess.run(argv, input=input, capture_output=True, text=True,
                           timeout=timeout)
    except subprocess.TimeoutExpired as e:
        raise HarnessError(f"{shlex.join(argv)} still running after "
                           f"{timeout}s; stderr: {e.stderr!r}") from None
    return CtlResult(p.returncode, p.stdout, p.stderr, argv)


# ---- raw control-socket client --------------------------------------------

class Client:
    """A raw client of the line protocol: one JSON object per line each way.
    Every read waits at most timeout seconds (socket.timeout otherwise)."""

    def __init__(self, sockpath, timeout=30.0, max_line=16 << 20):
        self.max_line = max_line
        self._buf = b""
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        try:
            self.sock.connect(str(sockpath))
        except OSError:
            self.sock.close()
            raise

    def send_raw(self, data):
        if isinstance(data, str):
            data = data.encode()
        self.sock.sendall(data)

    def readline(self):
        """Next line including its "\\n"; b"" at EOF (or the unterminated
        rest).  HarnessError past max_line bytes."""
        while b"\n" not in self._buf:
            if len(self._buf) > self.max_line:
                raise HarnessError(f"reply line over {self.max_line} bytes")
            data = self.sock.recv(65536)
            if not data:
                line, self._buf = self._buf, b""
                return line
            self._buf += data
        line, self._buf = self._buf.split(b"\n", 1)
        return line + b"\n"

    def read_json(self):
        """Next line parsed as JSON; HarnessError at EOF or on bad JSON."""
        line = self.readline()
        if not line.endswith(b"\n"):
            raise HarnessError(f"connection closed (partial line {line!r})")
        try:
            return _json.loads(line)
        except ValueError as e:
            raise HarnessError(f"reply is not JSON ({e}): {line!r}") from None

    def request(self, obj):
        """Sends obj as one line and returns the parsed reply line."""
        self.send_raw(_json.dumps(obj).encode() + b"\n")
        return self.read_json()

    def close(self):
        self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


# ---- the daemon ------------------------------------------------------------

_live = []	# Daemons started by the current test, for run_tests cleanup


def _set_value(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    return str(v)


class Daemon:
    """sluiced in the foreground under tmpdir: state in tmpdir/state,
    control socket tmpdir/ctl.sock, stdout+stderr appended to
    tmpdir/sluiced.log (across restarts).  extra_set entries become
    `--set key=value` after the harness's own (so they override them);
    extra_args are appended last."""

    def __init__(self, tmpdir, extra_set=None, conf=None, extra_args=(),
                 env=None, allow_private=True):
        self.dir = Path(tmpdir)
        self.state_dir = self.dir / "state"
        self.sock = self.dir / "ctl.sock"
        self.log_path = self.dir / "sluiced.log"
        self.conf = Path(conf) if conf else source_dir() / "conf/sluiced.conf"
        self.sets = {"daemon.state_dir": self.state_dir,
                     "daemon.socket": self.sock}
        if allow_private:
            self.sets["fetch.allow_private_addresses"] = True
        self.sets.update(extra_set or {})
        self.extra_args = list(extra_args)
        self.env = dict(os.environ, **(env or {}))
        self.proc = None
        self.starts = 0
        self._log_from = None	# offset of our first start in a shared log
        if len(str(self.sock).encode()) >= 108:
            raise HarnessError(f"socket path too long for AF_UNIX: {self.sock}")

    def argv(self):
        argv = shlex.split(os.environ.get("SLUICE_DAEMON_WRAPPER", ""))
        argv += [str(binary("sluiced")), "-f", "-c", str(self.conf)]
        for k, v in self.sets.items():
            argv += ["--set", f"{k}={_set_value(v)}"]
        return argv + [str(a) for a in self.extra_args]

    @property
    def pid(self):
        return self.proc.pid if self.proc else None

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def start(self, wait_ready=True, timeout=READY_TIMEOUT):
        """Starts sluiced; with wait_ready, returns once the control socket
        accepts a connection.  HarnessError (with the log tail) if it exits
        or is not ready within timeout s."""
        if self.running():
            raise HarnessError("daemon already running")
        argv = self.argv()
        self.state_dir.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "ab") as log:
            if self._log_from is None:
                self._log_from = log.tell()
            self.starts += 1
            log.write(f"=== harness start #{self.starts}: "
                      f"{shlex.join(argv)}\n".encode())
            log.flush()
            self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL,
                                         stdout=log, stderr=log, env=self.env,
                                         cwd=self.dir)
        if self not in _live:
            _live.append(self)
        if wait_ready:
            self.wait_ready(timeout)
        return self

    def wait_ready(self, timeout=READY_TIMEOUT):
        deadline = time.monotonic() + timeout
        while True:
            code = self.proc.poll()
            if code is not None:
                raise HarnessError(f"sluiced exited with {code} before its "
                                   f"socket was ready:\n{self.log_tail()}")
            if self._socket_accepts():
                return
            if time.monotonic() >= deadline:
                self.kill()
                raise HarnessError(f"sluiced socket {self.sock} not ready "
                                   f"after {timeout}s:\n{self.log_tail()}")
            time.sleep(0.05)

    def _socket_accepts(self):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            s.settimeout(1.0)
            s.connect(str(self.sock))
            return True
        except OSError:
            return False
        finally:
            s.close()

    def kill(self):
        """SIGKILL and reap; returns the exit status (None if not started)."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
        return self.proc.wait()

    def stop(self, timeout=STOP_TIMEOUT):
        """SIGTERM and wait; returns the exit code (negative: killed by that
        signal).  Past timeout s it SIGKILLs and raises HarnessError."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill()
                raise HarnessError(f"sluiced ignored SIGTERM for {timeout}s:"
                                   f"\n{self.log_tail()}") from None
        return self.proc.returncode

    def restart(self, kill=False, wait_ready=True):
        """stop() (or kill() with kill=True) then start()."""
        if kill:
            self.kill()
        else:
            self.stop()
        return self.start(wait_ready=wait_ready)

    def log(self):
        """stdout+stderr of every start of this Daemon (not of earlier
        Daemons sharing the directory)."""
        try:
            with open(self.log_path, "rb") as f:
                f.seek(self._log_from or 0)
                return f.read().decode(errors="replace")
        except FileNotFoundError:
            return ""

    def log_tail(self, n=LOG_TAIL_LINES):
        return _tail(self.log(), n)

    def sanitizer_errors(self):
        """Log lines where ASan/UBSan/LSan reported a problem."""
        return [ln for ln in self.log().splitlines()
                if any(m in ln for m in SANITIZER_MARKS)]

    def ctl(self, *args, json=True, input=None, timeout=60):
        """ctl() against this daemon's socket."""
        return ctl(self.sock, *args, json=json, input=input, timeout=timeout)

    def client(self, timeout=30.0):
        return Client(self.sock, timeout)

    def request(self, obj):
        """One request on a fresh connection; returns the parsed reply."""
        with self.client() as c:
            return c.request(obj)

    def __enter__(self):
        if not self.running():
            self.start()
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is not None:
            # Keep the test's own exception; just make sure nothing lingers.
            self.kill()
            return False
        code = self.stop() if self.running() else None
        errors = self.sanitizer_errors()
        if errors:
            raise HarnessError("sanitizer reports in sluiced log:\n" +
                               "\n".join(errors[:20]))
        if code is not None and code != 0:
            raise HarnessError(f"sluiced exited with {code} on SIGTERM:\n"
                               f"{self.log_tail()}")
        return False


# ---- runner ----------------------------------------------------------------

def _call(fn, tmp):
    if inspect.signature(fn).parameters:
        fn(tmp)
    else:
        fn()


def _cleanup_daemons(failed):
    """Kills what a test left running; on failure shows each log tail.
    Anything with running(), kill(), log_path and log_tail() may be in
    _live (natscluster.NatsServer is); its "what" names it in the log."""
    while _live:
        d = _live.pop()
        if d.running():
            d.kill()
        if failed:
            what = getattr(d, "what", "sluiced")
            print(f"  {what} log ({d.log_path}):\n{d.log_tail()}")


def _run_one(name, fn, keep):
    tmp = Path(tempfile.mkdtemp(prefix=f"sluice-{name[5:25]}-"))
    t0 = time.monotonic()
    outcome, detail = "ok", ""
    try:
        _call(fn, tmp)
    except Skip as e:
        outcome, detail = "skip", str(e)
    except BaseException as e:
        if isinstance(e, KeyboardInterrupt):
            raise
        outcome, detail = "FAIL", traceback.format_exc()
    finally:
        # Print before cleanup so the log tail follows the verdict line.
        took = time.monotonic() - t0
        if outcome == "skip":
            print(f"skip {name}: {detail}", flush=True)
        elif outcome == "ok":
            print(f"ok   {name} ({took:.2f}s)", flush=True)
        else:
            print(f"FAIL {name} ({took:.2f}s)\n{detail}", flush=True)
        _cleanup_daemons(outcome == "FAIL")
        if keep or (outcome == "FAIL" and
                    os.environ.get("SLUICE_KEEP_TMP") == "fail"):
            print(f"  kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    return outcome


def run_tests(namespace, argv=None):
    """Runs every test_* function of namespace (pass globals()) in
    definition order, or only those named on the command line.  A test
    taking a parameter gets its own fresh scratch directory (pathlib.Path).
    Prints ok/FAIL/skip per test and finally "N passed, M failed" (plus
    ", K skipped" when K > 0); exits 1 if any failed, else 0."""
    argv = sys.argv[1:] if argv is None else argv
    tests = [(n, f) for n, f in namespace.items()
             if n.startswith("test_") and callable(f)]
    if argv:
        unknown = set(argv) - {n for n, _ in tests}
        if unknown:
            print(f"no such test: {', '.join(sorted(unknown))}")
            sys.exit(2)
        tests = [(n, f) for n, f in tests if n in argv]
    keep = os.environ.get("SLUICE_KEEP_TMP") == "1"
    counts = {"ok": 0, "FAIL": 0, "skip": 0}
    for name, fn in tests:
        counts[_run_one(name, fn, keep)] += 1
    line = f"{counts['ok']} passed, {counts['FAIL']} failed"
    if counts["skip"]:
        line += f", {counts['skip']} skipped"
    print(line, flush=True)
    sys.exit(1 if counts["FAIL"] else 0)
