"""
test_watch.py - the `stats` command and `sluicectl watch`: in a
pseudo-terminal watch draws a screen that fits the terminal, refreshes it
and exits on q; through a pipe it prints one line per interval, with
--json one stats object per interval; and sluicectl still links only
jansson and the C library.
"""

import fcntl
import json
import os
import pty
import select
import shutil
import struct
import subprocess
import termios
import time

from fixture_server import FixtureServer
from harness import Daemon, binary, run_tests, wait_until
from itlib import FAST, ok, req, submit, wait_idle

STATS_KEYS = {"ok", "version", "uptime_s", "paused", "draining", "jobs",
              "totals", "transfer_bytes", "inflight", "work_backlog",
              "rates", "fetches_1m", "hosts", "failures"}


def test_stats_reply(tmp):
    with FixtureServer() as web, Daemon(tmp, extra_set=FAST) as d:
        submit(d, [web.url(f"/page/{i}") for i in range(5)] +
               [web.url("/status/404")])
        wait_idle(d)
        time.sleep(1.2)		# a second sample for the rates
        r = ok(req(d, {"cmd": "stats", "hosts": 5, "tag": 7}))
        assert set(r) == STATS_KEYS | {"tag"}, r
        assert r["jobs"]["done"] == 5 and r["jobs"]["failed"] == 1, r
        assert r["fetches_1m"]["ok"] >= 5, r
        assert r["fetches_1m"]["http_error"] == 1, r
        assert set(r["rates"]) == {"10s", "1m"}, r
        [f] = r["failures"]
        assert f["url"].endswith("/status/404") and f["code"] == \
            "http_status" and f["http_status"] == 404, f
        assert isinstance(r["hosts"], list), r
        assert r["rates"]["1m"]["pages_per_s"] > 0, r
        # Logged once, at notice level, with id, URL and error.
        lines = [ln for ln in d.log().splitlines() if "failed:" in ln]
        assert lines == [f"<5>job {f['id']} failed: {f['url']}: "
                         f"http_status: HTTP 404"], lines
        # A host with transfers in flight is listed.
        submit(d, [web.url(f"/slow?bytes=1000&delay_ms=300&chunk=100&n={i}")
                   for i in range(4)])
        hosts = wait_until(lambda: ok(req(d, {"cmd": "stats"}))["hosts"],
                           10, 0.05, "a busy host")
        assert hosts[0]["host"] == web.url("/").rstrip("/") and \
            hosts[0]["inflight"] >= 1 and "backoff_until" in hosts[0], hosts
        wait_idle(d)
        bad = req(d, {"cmd": "stats", "hosts": 1000})
        assert bad["ok"] is False and \
            bad["error"]["code"] == "bad_request", bad


def _run_pty(argv, rows=20, cols=70, quit_after=2.6):
    """Runs argv in a pseudo-terminal of rows x cols; presses q after
    quit_after s.  Returns (exit code, output)."""
    pid, fd = pty.fork()
    if pid == 0:
        os.execv(argv[0], argv)
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols,
                                                     0, 0))
    out, sent, t0 = b"", False, time.monotonic()
    while True:
        if not sent and time.monotonic() - t0 > quit_after:
            os.write(fd, b"q")
            sent = True
        if time.monotonic() - t0 > quit_after + 10:
            os.kill(pid, 9)
            raise AssertionError(f"watch did not exit on q:\n{out!r}")
        r, _, _ = select.select([fd], [], [], 0.1)
        if r:
            try:
                chunk = os.read(fd, 65536)
            except OSError:
                break
            if not chunk:
                break
            out += chunk
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status), out.decode("utf-8", "replace")


def test_watch_draws_refreshes_and_quits_on_q(tmp):
    with FixtureServer() as web, Daemon(tmp, extra_set=FAST) as d:
        submit(d, [web.url(f"/page/{i}") for i in range(30)] +
               [web.url("/status/404")])
        wait_idle(d)
        code, out = _run_pty([str(binary("sluicectl")), "-s", str(d.sock),
                              "watch", "--interval", "0.5"], rows=20, cols=70)
        assert code == 0, out
        assert "\x1b[?1049h" in out and out.rstrip().endswith("\x1b[?1049l"), \
            "no alternate screen, or not restored"
        frames = out.split("\x1b[H")[1:]
        assert len(frames) >= 3, f"{len(frames)} frames in 2.6 s"
        last = frames[-1]
        assert "jobs" in last and "done 30" in last and "ETA" in last, last
        assert "http_status 404" in last and "FAILED" in last, last
        for frame in frames[1:]:
            lines = frame.split("\r\n")
            assert len(lines) <= 20, f"{len(lines)} lines on 20 rows"
            for ln in lines:
                text = ln.replace("\x1b[K", "").replace("\x1b[J", "")
                text = text.split("\x1b[?")[0].rstrip("\r")
                assert len(text) <= 70, f"line over 70 columns: {text!r}"


def test_watch_fits_a_small_terminal(tmp):
    with FixtureServer() as web, Daemon(tmp, extra_set=FAST) as d:
        submit(d, [web.url("/status/404"), web.url("/status/410")])
        wait_idle(d)
        code, out = _run_pty([str(binary("sluicectl")), "-s", str(d.sock),
                              "watch"], rows=8, cols=40, quit_after=1.2)
        assert code == 0, out
        frame = out.split("\x1b[H")[-1]
        assert len(frame.split("\r\n")) <= 8, frame


def test_watch_without_a_terminal(tmp):
    with FixtureServer() as web, Daemon(tmp, extra_set=FAST) as d:
        submit(d, [web.url(f"/page/{i}") for i in range(3)])
        wait_idle(d)
        ctl = [str(binary("sluicectl")), "-s", str(d.sock), "watch",
               "--interval", "0.2", "--count", "3"]
        p = subprocess.run(ctl, capture_output=True, text=True, timeout=30)
        assert p.returncode == 0, p.stderr
        lines = p.stdout.splitlines()
        assert len(lines) == 3 and all("done 3" in ln for ln in lines), \
            p.stdout
        assert "\x1b" not in p.stdout, "escape codes on a pipe"
        p = subprocess.run(ctl + ["--json"], capture_output=True, text=True,
                           timeout=30)
        assert p.returncode == 0, p.stderr
        objs = [json.loads(ln) for ln in p.stdout.splitlines()]
        assert len(objs) == 3 and all(set(o) == STATS_KEYS for o in objs), \
            p.stdout
        # Stops on SIGINT between refreshes, with status 0.
        q = subprocess.Popen(ctl[:-2], stdout=subprocess.PIPE, text=True)
        time.sleep(0.7)
        q.send_signal(2)
        assert q.wait(10) == 0
        assert len(q.stdout.read().splitlines()) >= 2


def test_sluicectl_links_none_of_the_daemons_libraries():
    """sluicectl links jansson (and zlib and libcrypto, for export
    --format warc), none of what only the daemon needs."""
    if shutil.which("ldd") is None:
        return
    out = subprocess.run(["ldd", str(binary("sluicectl"))],
                         capture_output=True, text=True).stdout
    libs = {ln.split()[0].split(".so")[0] for ln in out.splitlines()
            if ".so" in ln}
    # None of the daemon's dependencies (the sanitizer build adds its own
    # runtime's, such as libgcc_s, which are no concern here).
    daemon_only = ("libcurl", "liblmdb", "libxml2", "libevent", "libzstd",
                   "libsystemd", "libxxhash", "libutf8proc", "libnats")
    assert "libjansson" in libs, libs
    assert not [lib for lib in libs if lib.startswith(daemon_only)], libs


if __name__ == "__main__":
    run_tests(globals())
