"""
test_errors.py - errors that say what to do (issue 12): sluicectl against a
daemon that is not running, config errors, per-command help, the address
guard's message.
"""

import json
import os
import pty
import re
import socket
import subprocess
import time
import urllib.request

from harness import Daemon, binary, run_tests, source_dir
from fixture_server import FixtureServer
from itlib import (FAST, all_jobs, ctl_bytes, job, ok, req, submit_ids,
                   wait_job)


def source_conf():
    return source_dir() / "conf/sluiced.conf"


def _sluicectl(args, env=None):
    e = {k: v for k, v in os.environ.items()
         if k not in ("SLUICE_SOCKET", "RUNTIME_DIRECTORY")}
    e.update(env or {})
    return subprocess.run([str(binary("sluicectl"))] + list(args), env=e,
                          capture_output=True, text=True, timeout=30)


def test_not_running(tmp):
    missing = tmp / "none.sock"
    p = _sluicectl(["-s", missing, "status"])
    assert p.returncode == 2, p
    assert str(missing) in p.stderr and "(from -s)" in p.stderr and \
        "is sluiced running?" in p.stderr, p.stderr
    p = _sluicectl(["status"], {"SLUICE_SOCKET": str(missing)})
    assert p.returncode == 2 and "(from $SLUICE_SOCKET)" in p.stderr and \
        "is sluiced running?" in p.stderr, p.stderr
    p = _sluicectl(["status"], {"RUNTIME_DIRECTORY": str(tmp)})
    assert p.returncode == 2 and "(from $RUNTIME_DIRECTORY)" in p.stderr \
        and str(tmp / "control.sock") in p.stderr, p.stderr
    if not os.path.exists("/run/sluice/control.sock"):
        p = _sluicectl(["status"])
        assert p.returncode == 2 and "(from the default)" in p.stderr and \
            "is sluiced running?" in p.stderr, p.stderr
    # A socket file nobody listens on (a daemon that died) says the same.
    import socket
    stale = tmp / "stale.sock"
    s = socket.socket(socket.AF_UNIX)
    s.bind(str(stale))
    s.close()
    p = _sluicectl(["-s", stale, "status"])
    assert p.returncode == 2 and "is sluiced running?" in p.stderr, p.stderr


def _run_in_pty(argv, timeout=20):
    """Runs argv with its stdout and stderr on a pseudo-terminal; returns
    (exit code, output)."""
    pid, fd = pty.fork()
    if pid == 0:
        os.execv(argv[0], argv)
    out, t0 = b"", time.monotonic()
    while True:
        if time.monotonic() - t0 > timeout:
            os.kill(pid, 9)
            break
        try:
            chunk = os.read(fd, 4096)
        except OSError:
            break
        if not chunk:
            break
        out += chunk
    _, st = os.waitpid(pid, 0)
    os.close(fd)
    return os.waitstatus_to_exitcode(st), out.decode(errors="replace")


def test_config_errors(tmp):
    sluiced = str(binary("sluiced"))
    conf = tmp / "bad.conf"
    conf.write_text("[fetch]\ntimout = 5s\n")
    base = [sluiced, "-n", "-c", str(conf)]
    # Through a pipe (journald): the priority prefix stays.
    p = subprocess.run(base, capture_output=True, text=True, timeout=30)
    assert p.returncode != 0 and p.stderr.startswith("<3>") and \
        "bad.conf:2: unknown key \"fetch.timout\"; did you mean " \
        "fetch.timeout?" in p.stderr, p.stderr
    # On a terminal a person reads it: no <N>.
    code, out = _run_in_pty(base)
    assert code != 0 and "did you mean fetch.timeout?" in out, out
    assert "<3>" not in out, out
    for setting, want in (
            ("fetch.timeout=1ms", "fetch.timeout: 1ms is out of range "
             "(100ms to 1h)"),
            ("fetch.max_total=many", "expected a whole number"),
            ("fecth.timeout=1s", "unknown section [fecth]"),
            ("fetch.max_bdy=1MiB", "did you mean fetch.max_body?")):
        code, out = _run_in_pty([sluiced, "-n", "-c", str(source_conf()),
                                 "--set", setting])
        assert code != 0 and want in out and "<3>" not in out, (setting,
                                                                 out)


# Every command and the options its --help must name.
COMMAND_OPTIONS = {
    "submit": ["--priority", "--force", "--not-before", "--batch",
               "--max-request", "TIME is"],
    "status": [], "job": [], "doc": [], "hosts": [], "dups": [],
    "jobs": ["--state", "--limit", "--after", "--all", "queued", "active",
             "done", "failed", "cancelled"],
    "export": ["--since", "--include-duplicates", "TIME is"],
    "pause": [], "resume": [], "config": ["KEY"],
    "cancel": ["--state", "--host", "queued", "origin"],
    "retry": ["--failed"], "drain": ["--timeout"], "reload": [],
    "wait": ["--timeout"],
    "watch": ["--interval", "--hosts", "--count", "--json"],
    "help": [],
}


def test_command_help(tmp):
    listed = _sluicectl(["help"]).stdout
    names = re.findall(r"^  (\w+)", listed.split("\ncommands", 1)[1],
                       re.M)
    assert set(COMMAND_OPTIONS) <= set(names), names
    for cmd in names:
        # No daemon is needed: a socket that does not exist.
        p = _sluicectl(["-s", tmp / "none.sock", cmd, "--help"])
        assert p.returncode == 0 and p.stderr == "", (cmd, p)
        assert p.stdout.startswith("usage: sluicectl") and \
            f" {cmd}" in p.stdout.splitlines()[0], (cmd, p.stdout)
        assert len(p.stdout.splitlines()) >= 3, (cmd, p.stdout)
        for opt in COMMAND_OPTIONS.get(cmd, []):
            assert opt in p.stdout, (cmd, opt, p.stdout)
        q = _sluicectl(["help", cmd])
        assert q.returncode == 0 and q.stdout == p.stdout, (cmd, q)
        r = _sluicectl(["-s", tmp / "none.sock", cmd, "x", "-h"])
        assert r.returncode == 0 and r.stdout == p.stdout, (cmd, r)


def test_config_command(tmp):
    with Daemon(tmp, extra_set={"fetch.timeout": "3s",
                                "fetch.max_body": "2MiB",
                                "queue.retry_base": "200ms"}) as d:
        r = d.ctl("config", json=False).check()
        lines = r.out.splitlines()
        for want in ("[fetch]", "timeout = 3s", "max_body = 2MiB",
                     "retry_base = 200ms", "host_backoff_max = 24h",
                     "commit_interval = 100ms", "map_size_max = 16GiB",
                     "low_speed_limit = 100B", "host_delay = 1s",
                     "allow_private_addresses = true",
                     f"state_dir = {d.state_dir}"):
            assert want in lines, (want, r.out)
        assert any(ln.startswith('user_agent = "sluice/') for ln in lines), \
            r.out
        # What it prints is a config file that gives the same values.
        conf = tmp / "printed.conf"
        conf.write_text(r.out)
        p = subprocess.run([str(binary("sluiced")), "-n", "-c", str(conf)],
                           capture_output=True, text=True, timeout=30)
        assert p.returncode == 0, (p.stderr, r.out)
        r = d.ctl("config", "fetch.timeout", "store.max_mapped",
                  json=False).check()
        assert r.out == "fetch.timeout = 3s\nstore.max_mapped = 32MiB\n", r
        r = d.ctl("config", "fetch.timout", json=False)
        assert r.code == 1 and "fetch.timout" in r.err, r
        # --json is the daemon's reply as it is (ms and bytes).
        obj = d.ctl("config").check().obj
        assert obj["config"]["fetch.timeout"] == "3000ms", obj


def test_submit_fits_max_batch(tmp):
    with Daemon(tmp, extra_set={"queue.max_batch": 7}) as d:
        d.ctl("pause").check()
        urls = [f"http://h{i % 3}.example/p/{i}" for i in range(50)]
        r = d.ctl("submit", "-", json=False, input="\n".join(urls) + "\n")
        assert r.code == 0, r
        assert "50 URLs: 50 queued, 0 duplicate, 0 rejected" in r.out, r
        # --batch above the daemon's limit is lowered to it; --json shows
        # the submit replies only, 8 batches of at most 7.
        more = [f"http://h9.example/q/{i}" for i in range(50)]
        r = d.ctl("submit", "--batch", "1000", "-", input="\n".join(more))
        assert r.code == 0, r
        assert [len(o["results"]) for o in r.json] == [7] * 7 + [1], r.out
        # URLs given as arguments are split the same way.
        args = [f"http://h8.example/r/{i}" for i in range(20)]
        r = d.ctl("submit", *args)
        assert r.code == 0, r
        assert [len(o["results"]) for o in r.json] == [7, 7, 6], r.out
        assert len(ok(req(d, {"cmd": "jobs", "limit": 1000}))["jobs"]) \
            == 120


def test_cancel_many(tmp):
    with Daemon(tmp) as d:
        d.ctl("pause").check()
        a = [f"http://a.example/{i}" for i in range(5)]
        b = [f"http://b.example:8080/{i}" for i in range(4)]
        c = [f"https://c.example/{i}" for i in range(3)]
        ids = submit_ids(d, a + b + c)
        ida, idb, idc = ids[:5], ids[5:9], ids[9:]
        r = d.ctl("cancel", ida[0], ida[1], json=False)
        assert r.code == 0 and "2 cancelled, 0 failed" in r.out, r
        assert f"cancelled {ida[0]} {a[0]}" in r.out, r
        # One of them again: it is cancelled already, a conflict.
        r = d.ctl("cancel", ida[0], ida[2], json=False)
        assert r.code == 1 and "1 cancelled, 1 failed" in r.out and \
            f"cancel {ida[0]} failed: conflict" in r.err, r
        r = d.ctl("cancel", "--host", "b.example", json=False)
        assert r.code == 0 and "4 cancelled, 0 failed" in r.out, r
        r = d.ctl("cancel", "--host", "http://c.example", json=False)
        assert r.code == 0 and "0 cancelled" in r.out, r
        r = d.ctl("cancel", "--host", "https://c.example", json=False)
        assert r.code == 0 and "3 cancelled" in r.out, r
        r = d.ctl("cancel", "--state", "queued", json=False)
        assert r.code == 0 and "2 cancelled, 0 failed" in r.out, r
        states = {j["id"]: j["state"] for j in all_jobs(d)}
        assert set(states.values()) == {"cancelled"}, states
        r = d.ctl("cancel", "--state", "queued", "7", json=False)
        assert r.code == 2, r
        r = d.ctl("cancel", json=False)
        assert r.code == 2, r


def test_wait_status_line(tmp):
    sets = dict(FAST, **{"queue.retry_base": "3s", "queue.retry_max": "3s",
                         "queue.max_attempts": 2})
    with FixtureServer() as web, Daemon(tmp, extra_set=sets) as d:
        ids = submit_ids(d, [web.url("/status/503"), web.url("/page/1")])
        argv = [str(binary("sluicectl")), "-s", str(d.sock), "wait"]
        code, out = _run_in_pty(argv, timeout=40)
        assert code == 0, out
        assert "waiting: 1 queued, 0 active, 1 done" in out, out
        assert "next retry 20" in out and "(in " in out, out
        assert out.rstrip().endswith("idle: 0 queued, 0 active"), out
        assert job(d, ids[0])["state"] == "failed", job(d, ids[0])
        # Not on a terminal: one line, as before.
        r = d.ctl("wait", json=False).check()
        assert r.out == "idle: 0 queued, 0 active\n" and r.err == "", r
        # --timeout still applies on a terminal.
        submit_ids(d, [web.url("/status/503?x=2")])
        code, out = _run_in_pty(argv + ["--timeout", "1"], timeout=20)
        assert code == 1 and "timeout" in out, out


def test_guard_names_address_and_settings(tmp):
    with FixtureServer() as web, \
            Daemon(tmp, extra_set=FAST, allow_private=False) as d:
        [jid] = submit_ids(d, [web.url("/page/1")])
        j = wait_job(d, jid)
        assert j["state"] == "failed", j
        assert j["error"]["code"] == "address_blocked", j
        msg = j["error"]["message"]
        for want in ("127.0.0.1", "fetch.allow_cidrs",
                     "fetch.allow_private_addresses"):
            assert want in msg, (want, j)


def test_export_raw_bodies_empty_pages_and_copies(tmp):
    """Item 12: a stored raw body comes back byte for byte (doc --raw),
    an empty extraction is marked, and a copy says where its text is."""
    with FixtureServer() as web, Daemon(tmp, extra_set=dict(FAST, **{
            "daemon.max_reply_buffer": "64KiB"})) as d:
        raw_1252 = urllib.request.urlopen(
            web.url("/charset/windows-1252")).read()
        raw_article = urllib.request.urlopen(web.url("/article")).read()
        ids = submit_ids(d, [web.url("/charset/windows-1252"),
                             web.url("/gzip/article"),
                             web.url("/pages/empty.html"),
                             web.url("/long/1?kb=200")])
        for i in ids:
            assert wait_job(d, i)["state"] == "done", job(d, i)
        # The body as it came (windows-1252 bytes), and after the gzip
        # coding was undone.
        code, out, err = ctl_bytes(d, "doc", ids[0], "--raw")
        assert code == 0 and out == raw_1252, (code, err, out[:200])
        code, out, err = ctl_bytes(d, "doc", "--raw",
                                    web.url("/gzip/article"))
        assert code == 0 and out == raw_article, (code, err)
        # On the wire: the reply line, raw_bytes bytes, a newline; the
        # connection goes on with the next request.
        with socket.socket(socket.AF_UNIX) as s:
            s.settimeout(30)
            s.connect(str(d.sock))
            s.sendall(b'{"cmd":"doc","id":%d,"raw":true,"tag":"r"}\n'
                      b'{"cmd":"status"}\n' % ids[0])
            data = b""
            while data.count(b"\n") < 3 or not data.endswith(b"\n"):
                chunk = s.recv(65536)
                assert chunk, data
                data += chunk
        head, _, rest = data.partition(b"\n")
        h = json.loads(head)
        assert h["ok"] and h["tag"] == "r" and h["id"] == ids[0], h
        assert h["raw_bytes"] == len(raw_1252), h
        assert "windows-1252" in h["content_type"], h
        assert rest[:len(raw_1252)] == raw_1252
        assert rest[len(raw_1252):len(raw_1252) + 1] == b"\n"
        assert json.loads(rest[len(raw_1252) + 1:])["ok"], rest[-200:]
        # A body over the reply buffer says which key to raise.
        code, out, err = ctl_bytes(d, "doc", ids[3], "--raw")
        assert code == 1 and "too_large" in err and \
            "daemon.max_reply_buffer" in err, (code, err)
        # An empty extraction: word_count 0 and "empty", in doc and export.
        e = ok(req(d, {"cmd": "doc", "id": ids[2]}))["doc"]
        assert e["word_count"] == 0 and e["empty"] is True, e
        full = ok(req(d, {"cmd": "doc", "id": ids[1]}))["doc"]
        assert full["empty"] is False and full["word_count"] > 0, full
        r = d.ctl("export", json=False).check()
        exported = {x["id"]: x for x in map(json.loads, r.out.splitlines())}
        assert exported[ids[2]]["empty"] is True, exported[ids[2]]
        # A document with no raw body stored says why.
        d.sets["store.keep_raw"] = "false"
        d.restart()
        [plain] = submit_ids(d, [web.url("/page/3")])
        assert wait_job(d, plain)["state"] == "done"
        code, out, err = ctl_bytes(d, "doc", plain, "--raw")
        assert code == 1 and "not_found" in err and "store.keep_raw" in err, \
            err
        code, out, err = ctl_bytes(d, "doc", "--raw")
        assert code == 2 and "needs one document id" in err, (code, err)


if __name__ == "__main__":
    run_tests(globals())
