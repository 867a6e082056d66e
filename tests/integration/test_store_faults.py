"""
test_store_faults.py - a damaged or lost data.mdb, flipped bytes in stored
records, and a full disk (issue 11, items 9 and 11):

- data.mdb truncated to half: sluiced exits 1 with a clear line, never on
  a signal; so does `sluiced --check`;
- data.mdb emptied or missing in a directory that held a store: refused,
  unless --new-store;
- a byte flipped inside a stored document, inside a job record, inside a
  time index entry: export gives an error line for it and goes on (the
  document a damaged time index entry lost comes at the end), `doc` and
  `job` say `damaged`, `sluiced --check` names each and exits 1;
- a full disk (a small tmpfs mounted under the state directory): the
  submission gets `disk_full`, status says `store.condition: disk_full`,
  the daemon idles (CPU) and logs the condition once, and takes
  submissions again once the disk has room.
"""

import json
import os
import struct
import subprocess
import time

import itlib  # noqa: F401  (missing sluiced = failure)
from fixture_server import FixtureServer, page_title
from harness import Client, Daemon, Skip, run_tests, wait_until
from itlib import (check_store, is_error, ok, req, status, submit_ids,
                   wait_jobs)

FAST = {"fetch.host_delay": 0, "fetch.max_per_host": 8}


def fill(d, web, pages):
    """Fetches /page/<n> for n in pages; returns {n: job id}."""
    ids = submit_ids(d, [web.url(f"/page/{n}") for n in pages])
    for j in wait_jobs(d, ids):
        assert j["state"] == "done", j
    return dict(zip(pages, ids))


def data_mdb(d):
    return d.state_dir / "data.mdb"


def check(d, *extra):
    """sluiced --check on d's store (d stopped): (exit code, output)."""
    return check_store(d, *extra)


def start_fails(d, *needles):
    """Starting d fails with exit status 1 (not a signal) and a log line
    holding every needle."""
    d.start(wait_ready=False)
    code = d.proc.wait(20)
    assert code == 1, f"sluiced exited {code}:\n{d.log_tail()}"
    for n in needles:
        assert n in d.log(), f"no {n!r} in the log:\n{d.log_tail()}"


def export_lines(d):
    """Every line of an export, parsed, the final one last."""
    out = []
    with Client(d.sock, 60, max_line=64 << 20) as c:
        c.send_raw(b'{"cmd":"export","tag":7}\n')
        while True:
            raw = c.readline()
            line = json.loads(raw)	# valid UTF-8 JSON, or this fails
            out.append(line)
            if "ok" in line:
                return out


def flip(path, offset):
    with open(path, "r+b") as f:
        f.seek(offset)
        b = f.read(1)
        f.seek(offset)
        f.write(bytes([b[0] ^ 0x20]))


def flip_all(path, needle, delta):
    """Flips the byte at delta in every copy of needle in path: LMDB
    copies a page on write, so free pages may hold stale copies, and only
    one is live."""
    data = path.read_bytes()
    hits = [i for i in range(len(data)) if data.startswith(needle, i)]
    assert hits, f"{needle!r} not in {path}"
    for at in hits:
        flip(path, at + delta)
    return len(hits)


def test_truncated_half(tmp):
    with FixtureServer() as web, Daemon(tmp, extra_set=FAST) as d:
        fill(d, web, range(40))
    size = data_mdb(d).stat().st_size
    os.truncate(data_mdb(d), size // 2)
    start_fails(d, "truncated", "restore the state directory")
    code, out = check(d)
    assert code == 1 and "truncated" in out, (code, out)


def test_emptied_and_missing(tmp):
    with FixtureServer() as web, Daemon(tmp, extra_set=FAST) as d:
        fill(d, web, range(3))
    assert (d.state_dir / "sluiced.store").exists()
    os.truncate(data_mdb(d), 0)
    start_fails(d, "data.mdb is empty", "--new-store")
    data_mdb(d).unlink()
    start_fails(d, "data.mdb is missing", "--new-store")
    code, out = check(d)
    assert code == 1 and "missing" in out, (code, out)
    # The operator says to start afresh.
    d.extra_args = ["--new-store"]
    d.start()
    assert status(d)["jobs"]["done"] == 0
    assert d.stop() == 0
    # The new store is marked: losing it again is refused again.
    d.extra_args = []
    d.start()
    assert d.stop() == 0
    data_mdb(d).unlink()
    start_fails(d, "data.mdb is missing")


def test_flipped_document(tmp):
    pages = list(range(10, 16))
    with FixtureServer() as web, Daemon(tmp, extra_set=FAST) as d:
        ids = fill(d, web, pages)
    victim = 13
    # The title is in the document's JSON text only (the raw body is
    # zstd-compressed).
    flip_all(data_mdb(d), page_title(victim).encode(), 3)
    with d:
        lines = export_lines(d)
        final = lines[-1]
        docs = [ln["doc"] for ln in lines if "doc" in ln]
        errors = [ln for ln in lines if "error" in ln]
        assert final["ok"] is True and final["count"] == len(pages) - 1, \
            final
        assert final["damaged"] == 1, final
        assert len(errors) == 1, errors
        assert errors[0]["error"]["code"] == "damaged", errors
        assert errors[0]["id"] == ids[victim] and errors[0]["tag"] == 7, \
            errors
        assert sorted(doc["title"] for doc in docs) == sorted(
            page_title(n) for n in pages if n != victim)
        is_error(req(d, {"cmd": "doc", "id": ids[victim]}), "damaged",
                 "doc of a damaged document")
        ok(req(d, {"cmd": "doc", "id": ids[10]}), "doc of a sound one")
        # sluicectl names it on stderr, exports the rest, and exits 1.
        code, out, err = d.ctl("export", json=False)
        assert code == 1, (code, err)
        assert f"record {ids[victim]}: the document fails its checksum" \
            in err, err
        assert len(out.splitlines()) == len(pages) - 1, out
    code, out = check(d)
    assert code == 1, out
    assert f"document {ids[victim]}: damaged" in out, out


def test_flipped_job(tmp):
    with FixtureServer() as web:
        with Daemon(tmp, extra_set=FAST) as d:
            ok(req(d, {"cmd": "pause"}))
            [victim] = submit_ids(d, [web.url("/page/777001")])
            [other] = submit_ids(d, [web.url("/page/777002")])
        # The URL is in the job record (and in the URL index's key, once
        # indexed): flip them all.
        flip_all(data_mdb(d), b"/page/777001", 2)
        flipped_job_daemon(d, victim, other)
    code, out = check(d)
    assert code == 1 and f"job {victim}: damaged" in out, out


def flipped_job_daemon(d, victim, other):
    with d:
        is_error(req(d, {"cmd": "job", "id": victim}), "damaged",
                 "job of a damaged record")
        # The daemon goes on: the other job is fetched, the damaged one
        # left out of the queue instead of failing every turn.
        ok(req(d, {"cmd": "resume"}))
        [j] = wait_jobs(d, [other])
        assert j["state"] == "done", j
        assert d.running()
        wait_until(lambda: "damaged job records passed by" in d.log(),
                   timeout=5, what="the log line on a damaged job")
        assert d.log().count("damaged job records") <= 3, d.log_tail()


def test_flipped_time_index(tmp):
    pages = list(range(20, 25))
    with FixtureServer() as web, Daemon(tmp, extra_set=FAST) as d:
        ids = fill(d, web, pages)
    victim = ids[22]
    # The time index key: fetched_ms (be64) then id (be64); the id alone
    # also appears as a big-endian 8-byte key elsewhere, so look for the
    # pair with a plausible time in front.
    data = data_mdb(d).read_bytes()
    now_ms = int(time.time() * 1000)
    idb = struct.pack(">Q", victim)
    found = 0
    for i in range(8, len(data) - 8):
        if data[i:i + 8] == idb:
            ms = struct.unpack(">Q", data[i - 8:i])[0]
            if now_ms - 3_600_000 < ms <= now_ms:
                # Its time, by 2^21 ms: the entry is out of order now,
                # which can hide its neighbours from a lookup.
                flip(data_mdb(d), i - 3)
                found += 1
    assert found, "no time index key found"
    with d:
        lines = export_lines(d)
        errors = [ln for ln in lines if "error" in ln]
        assert len(errors) == 1 and errors[0]["error"]["code"] == \
            "damaged", lines
        assert "time index" in errors[0]["error"]["message"], errors
        assert lines[-1]["damaged"] == 1, lines[-1]
        # The document the entry stood for is not lost: it comes last.
        docs = [ln["doc"] for ln in lines if "doc" in ln]
        assert lines[-1]["count"] == len(pages), lines[-1]
        assert docs[-1]["id"] == victim, [x["id"] for x in docs]
        assert sorted(x["id"] for x in docs) == sorted(ids.values())
    code, out = check(d)
    assert code == 1, out
    assert f"document {victim}: not in the time index" in out, out
    assert f"/{victim}, but document {victim} was fetched at" in out, out
    assert out.count("not in the time index") == 1, out


def test_check_sound_store(tmp):
    with FixtureServer() as web, Daemon(tmp, extra_set=FAST) as d:
        fill(d, web, range(30, 40))
        ok(req(d, {"cmd": "pause"}))
        submit_ids(d, [web.url(f"/page/{n}") for n in range(40, 60)])
    code, out = check(d)
    assert code == 0 and "0 problems" in out, out


def cpu_ticks(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


def long_urls(web, start, n):
    return [web.url(f"/page/{i}?pad={'x' * 1500}") for i in
            range(start, start + n)]


def test_disk_full(tmp):
    """A 2 MiB tmpfs as the state directory fills up: disk_full."""
    d = Daemon(tmp, extra_set=dict(FAST, **{"store.disk_full_below": "1MiB",
                                            "queue.index_backlog": 0}))
    d.state_dir.mkdir(parents=True)
    p = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs",
                        str(d.state_dir)], capture_output=True, text=True)
    if p.returncode != 0:
        raise Skip("a full disk needs a small tmpfs, and mounting one "
                   f"failed (not root?): {p.stderr.strip()}")
    try:
        with FixtureServer() as web, d:
            ok(req(d, {"cmd": "pause"}))
            refused = None
            for i in range(0, 100000, 100):
                r = req(d, {"cmd": "submit", "urls": long_urls(web, i, 100)})
                if r.get("ok") is not True:
                    refused = r
                    break
            assert refused is not None, "2 MiB never filled"
            is_error(refused, "disk_full", "submit onto a full disk")
            st = status(d)["store"]
            assert st["condition"] == "disk_full" and st["full"], st
            # Refused at once, with the same code, and the daemon idles.
            t0, c0 = time.monotonic(), cpu_ticks(d.pid)
            for i in range(20):
                is_error(req(d, {"cmd": "submit", "url":
                         web.url(f"/page/{900000 + i}")}), "disk_full",
                         "submit while the disk is full")
                time.sleep(0.1)
            time.sleep(1)
            cpu = (cpu_ticks(d.pid) - c0) / os.sysconf("SC_CLK_TCK")
            wall = time.monotonic() - t0
            assert cpu < 0.1 * wall, f"{cpu:.2f} s CPU in {wall:.1f} s"
            log = d.log()
            assert log.count("the disk is full") == 1, d.log_tail()
            assert len(log.splitlines()) < 40, d.log_tail()
            # Room again: submissions are taken within the 10 s retry.
            subprocess.run(["mount", "-o", "remount,size=64m",
                            str(d.state_dir)], check=True)

            def taken():
                return req(d, {"cmd": "submit", "url":
                           web.url("/page/990000")}).get("ok") is True
            wait_until(taken, timeout=25, interval=0.5,
                       what="a submission once the disk has room")
            assert status(d)["store"]["condition"] == "ok"
            assert "no longer out of disk space" in d.log(), d.log_tail()
    finally:
        subprocess.run(["umount", "-l", str(d.state_dir)])


if __name__ == "__main__":
    run_tests(globals())
