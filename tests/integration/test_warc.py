"""
test_warc.py - WARC capture (issue 13): records of every kind of exchange,
rotation, and the cut-back after a crash, read back with warcio
(tests/warc/check.mjs, under Node) and with a small reader here.

warcio is installed with npm into <build>/warc-node the first time (CI has
network for npm); if that fails, the tests fail and say so.
"""

import gzip
import json
import os
import random
import re
import subprocess
import time
import urllib.request
import zlib
from pathlib import Path

import itlib  # noqa: F401  (missing sluiced = failure)
from fixture_server import FixtureServer
from harness import Daemon, binary, run_tests, wait_until
from itlib import (check_store, ctl_bytes, doc, export, fetch_one, job,
                   submit, submit_ids, wait_idle, wait_job, wait_jobs,
                   wait_reclean)

WARCIO_VERSION = "2.4.11"
FAST = {"fetch.host_delay": 0, "fetch.max_per_host": 8,
        "queue.max_attempts": 1}
NAME = re.compile(r"^sluice-\d{17}-\d{5}\.warc\.gz$")


def source():
    return Path(os.environ.get("SLUICE_SOURCE", Path(__file__).parents[2]))


def warcio_modules():
    """<build>/warc-node/node_modules with warcio in it, installed once."""
    base = Path(os.environ.get("SLUICE_BUILD", source() / "build"))
    prefix = base / "warc-node"
    mods = prefix / "node_modules"
    if (mods / "warcio" / "package.json").exists():
        return mods
    prefix.mkdir(parents=True, exist_ok=True)
    try:
        r = subprocess.run(["npm", "install", "--prefix", str(prefix),
                            "--no-audit", "--no-fund", "--loglevel=error",
                            f"warcio@{WARCIO_VERSION}"],
                           capture_output=True, text=True, timeout=600)
    except FileNotFoundError as e:
        raise AssertionError(f"npm is missing (scripts/install-deps "
                             f"installs it): {e}") from None
    if r.returncode != 0 or not (mods / "warcio").exists():
        raise AssertionError(f"npm install warcio@{WARCIO_VERSION} failed "
                             f"(network?): {r.stdout}{r.stderr}")
    return mods


def check(paths, docs=None, expect_ok=True):
    """Runs tests/warc/check.mjs on paths; returns its summary (or, with
    expect_ok False, its output)."""
    argv = ["node", str(source() / "tests/warc/check.mjs")]
    if docs is not None:
        argv += ["--docs", str(docs)]
    argv += [str(p) for p in paths]
    r = subprocess.run(argv, capture_output=True, text=True, timeout=600,
                       env=dict(os.environ,
                                WARCIO_DIR=str(warcio_modules())))
    if not expect_ok:
        assert r.returncode == 1, f"check passed: {r.stdout}{r.stderr}"
        return r.stdout
    assert r.returncode == 0, f"warc check failed:\n{r.stdout}{r.stderr}"
    return json.loads(r.stdout.strip().splitlines()[-1])


def members(path):
    """The gzip members of a file, each decompressed, and the offset each
    ends at."""
    data = Path(path).read_bytes()
    out, pos = [], 0
    while pos < len(data):
        z = zlib.decompressobj(16 + zlib.MAX_WBITS)
        body = z.decompress(data[pos:])
        assert z.eof, f"{path}: member at {pos} is cut short"
        pos = len(data) - len(z.unused_data)
        out.append((body, pos))
    return out


def records(path):
    """(WARC headers as a dict, block) for each record, one per member."""
    out = []
    for body, _ in members(path):
        head, _, rest = body.partition(b"\r\n\r\n")
        lines = head.decode().split("\r\n")
        assert lines[0] == "WARC/1.1", lines[0]
        h = dict(line.split(": ", 1) for line in lines[1:])
        n = int(h["Content-Length"])
        assert rest[n:] == b"\r\n\r\n", "one record per member"
        out.append((h, rest[:n]))
    return out


def all_records(wdir):
    files = sorted(p for p in Path(wdir).iterdir()
                   if p.name.endswith(".warc.gz"))
    return [r for f in files for r in records(f)]


def write_docs(d, path):
    docs, _ = export(d, include_duplicates=True)
    with open(path, "w") as f:
        for x in docs:
            f.write(json.dumps(x) + "\n")
    return docs


def http_head(block):
    return block.partition(b"\r\n\r\n")[0].decode("latin1")


def test_records_of_every_kind(tmp):
    wdir = tmp / "warc"
    sets = dict(FAST, **{"warc.dir": wdir, "fetch.max_body": "64KiB"})
    with FixtureServer() as web, Daemon(tmp, extra_set=sets) as d:
        paths = ["/page/1", "/page/1?copy=1", "/gzip/page/3",
                 "/redirect/2", "/status/404", "/big?kb=100",
                 "/slow?bytes=3000&delay_ms=5&chunk=1000&chunked=1"]
        ids = submit_ids(d, [web.url(p) for p in paths])
        wait_jobs(d, ids)
        # A 304: a conditional refetch of an unchanged page.
        eid, first = fetch_one(d, web.url("/etag/k"))
        submit(d, [web.url("/etag/k")], force=True)
        assert web.wait_hits("/etag/k", 2, 10)
        wait_job(d, eid, "done")
        wait_idle(d)
        docs = write_docs(d, tmp / "docs.jsonl")
        assert len(docs) == 6, [x["url"] for x in docs]
        summary = check([wdir], docs=tmp / "docs.jsonl")
        assert summary["docs"] == 6, summary

    recs = all_records(wdir)
    by = {}
    for h, block in recs:
        by.setdefault((h["WARC-Type"], h.get("WARC-Target-URI")),
                      []).append((h, block))
    info = [b for h, b in recs if h["WARC-Type"] == "warcinfo"]
    assert info and b"robots: obey" in info[0], info
    assert b"http-header-user-agent: sluice/" in info[0], info[0]
    # robots.txt, each redirect hop, errors: a request and a response.
    for p in ["/robots.txt", "/redirect/2", "/redirect/1", "/redirect/0",
              "/status/404", "/page/1", "/gzip/page/3"]:
        u = web.url(p)
        assert ("request", u) in by, f"no request for {p}"
        assert ("response", u) in by or ("revisit", u) in by, \
            f"no response for {p}"
    for (t, u), rs in by.items():
        for h, _ in rs:
            assert re.match(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$",
                            h["WARC-Date"]), h
            if t in ("request", "response", "revisit"):
                assert h["WARC-IP-Address"] == "127.0.0.1", h
                assert h["WARC-Block-Digest"].startswith("sha1:"), h
    # The same payload twice: whichever came second is a revisit of the
    # first capture.
    a, b = web.url("/page/1"), web.url("/page/1?copy=1")
    if ("response", a) not in by:
        a, b = b, a
    req = by[("request", a)][0][0]
    resp = by[("response", a)][0][0]
    assert req["WARC-Concurrent-To"] == resp["WARC-Record-ID"]
    h, block = by[("revisit", b)][0]
    assert h["WARC-Profile"].endswith("/identical-payload-digest"), h
    assert h["WARC-Refers-To-Target-URI"] == a, h
    assert h["WARC-Refers-To-Date"] == resp["WARC-Date"], h
    assert h["WARC-Payload-Digest"] == resp["WARC-Payload-Digest"], h
    # Decoded by libcurl: the coding headers renamed, the true length.
    h, block = by[("response", web.url("/gzip/page/3"))][0]
    head = http_head(block)
    assert "\r\nX-Crawler-Content-Encoding: gzip" in head, head
    assert "\r\nContent-Encoding" not in head, head
    body = block.partition(b"\r\n\r\n")[2]
    assert f"\r\nContent-Length: {len(body)}\r\n" in head + "\r\n", head
    assert body.startswith(b"<!DOCTYPE html>"), body[:40]
    h, block = by[("response", web.url(
        "/slow?bytes=3000&chunk=1000&chunked=1&delay_ms=5"))][0]
    assert "X-Crawler-Transfer-Encoding: chunked" in http_head(block)
    # Over fetch.max_body: the first 64 KiB, marked truncated.
    h, block = by[("response", web.url("/big?kb=100"))][0]
    assert h["WARC-Truncated"] == "length", h
    assert len(block.partition(b"\r\n\r\n")[2]) == 64 * 1024
    # The 304: a revisit, server-not-modified.
    rv = [h for h, _ in by[("revisit", web.url("/etag/k"))]]
    assert len(rv) == 1 and rv[0]["WARC-Profile"].endswith(
        "/server-not-modified"), rv
    assert first["etag"]


def test_export_as_warc(tmp):
    """sluicectl export --format warc: a warcinfo, then one conversion
    record of clean text per document, each referring to the response
    that captured it (resource records when capture was off)."""
    wdir = tmp / "warc"
    with FixtureServer() as web, Daemon(tmp, extra_set=dict(FAST, **{
            "warc.dir": wdir})) as d:
        ids = submit_ids(d, [web.url(f"/page/{i}") for i in range(4)] +
                         [web.url("/page/1?copy=1"), web.url("/article")])
        wait_jobs(d, ids)
        wait_idle(d)
        docs, _ = export(d, include_duplicates=True)
        out = tmp / "export.warc.gz"
        with open(out, "wb") as f:
            p = subprocess.run([str(binary("sluicectl")), "-s", str(d.sock),
                                "export", "--format", "warc",
                                "--duplicates", "include"], stdout=f,
                               stderr=subprocess.PIPE, text=True, timeout=60)
        assert p.returncode == 0, p.stderr
        summary = check([wdir, out])
        assert summary, summary
    recs = records(out)
    assert recs[0][0]["WARC-Type"] == "warcinfo", recs[0][0]
    conv = recs[1:]
    exact = [x for x in docs if x["duplicate_kind"] == "exact"]
    assert len(conv) == len(docs) - len(exact), (len(conv), len(docs))
    if exact:
        assert "exact copies left out" in p.stderr, p.stderr
    captured = {h["WARC-Record-ID"]: h for h, _ in all_records(wdir)}
    texts = {x["final_url"]: x for x in docs if x["text"] is not None}
    for h, block in conv:
        assert h["WARC-Type"] == "conversion", h
        assert h["Content-Type"] == "text/plain; charset=utf-8", h
        src = captured[h["WARC-Refers-To"]]
        assert src["WARC-Type"] in ("response", "revisit"), src
        assert src["WARC-Target-URI"] == h["WARC-Target-URI"], (src, h)
        doc = texts[h["WARC-Target-URI"]]
        assert block.decode() == doc["text"], h
        assert h["WARC-Date"] == doc["fetched_at"], (h, doc)
    # Capture off: resource records, referring to nothing.
    with FixtureServer() as web, Daemon(tmp / "off", extra_set=FAST) as d:
        ids = submit_ids(d, [web.url("/page/7")])
        wait_jobs(d, ids)
        p = subprocess.run([str(binary("sluicectl")), "-s", str(d.sock),
                            "export", "--format", "warc"],
                           capture_output=True, timeout=60)
        assert p.returncode == 0, p.stderr
        (tmp / "off.warc.gz").write_bytes(p.stdout)
    recs = records(tmp / "off.warc.gz")
    assert [h["WARC-Type"] for h, _ in recs] == ["warcinfo", "resource"]
    assert "WARC-Refers-To" not in recs[1][0], recs[1][0]
    check([tmp / "off.warc.gz"])


def test_rotation(tmp):
    wdir = tmp / "warc"
    sets = dict(FAST, **{"warc.dir": wdir, "warc.max_size": "64KiB",
                         "store.commit_interval": "10ms"})
    with FixtureServer() as web, Daemon(tmp, extra_set=sets) as d:
        ids = submit_ids(d, [web.url(f"/long/{i}?kb=32") for i in range(60)])
        wait_jobs(d, ids)
        wait_idle(d)
        write_docs(d, tmp / "docs.jsonl")
        summary = check([wdir], docs=tmp / "docs.jsonl")
        assert summary["docs"] == 60, summary
    files = sorted(p.name for p in wdir.iterdir())
    assert len(files) >= 4, files
    assert all(NAME.match(f) for f in files), files
    assert [int(f[-13:-8]) for f in files] == \
        list(range(int(files[0][-13:-8]), int(files[0][-13:-8]) +
                   len(files))), files
    for f in files[:-1]:
        # A file rotates at the first turn that finds it at max_size.
        size = (wdir / f).stat().st_size
        assert size >= 64 * 1024, (f, size)
        assert records(wdir / f)[0][0]["WARC-Type"] == "warcinfo"


def stored(member_bytes):
    """Whether a gzip member as written holds its data in stored deflate
    blocks (level 0): BTYPE 00 in the first block's header, right after
    zlib's 10-byte gzip header."""
    return (member_bytes[10] >> 1) & 3 == 0


def raw_members(path):
    """The bytes of each gzip member of a file, as written."""
    data = Path(path).read_bytes()
    out, start = [], 0
    for _, end in members(path):
        out.append(data[start:end])
        start = end
    return out


def test_busy_level_when_workers_are_behind(tmp):
    """warc.busy_gzip_level: a page taken by a worker while more pages wait
    than there are workers gets its records at that level; the others,
    robots.txt's and a page fetched alone, at warc.gzip_level.  status and
    the metrics count them, and their counts match the files."""
    from test_metrics import scrape
    wdir, msock = tmp / "warc", tmp / "metrics.sock"
    sets = dict(FAST, **{"warc.dir": wdir, "warc.gzip_level": 1,
                         "warc.busy_gzip_level": 0, "daemon.workers": 1,
                         "fetch.max_per_host": 16, "fetch.max_total": 16,
                         "metrics.listen": msock})
    n = 60
    with FixtureServer() as web, Daemon(tmp, extra_set=sets) as d:
        # One page alone first: nothing waits for the worker.
        fetch_one(d, web.url("/page/1"))
        # Then a burst of big pages: fetched faster than one worker
        # cleans them.
        ids = submit_ids(d, [web.url(f"/long/{i}?kb=200")
                             for i in range(n)])
        wait_jobs(d, ids, timeout=120)
        wait_idle(d)
        st = d.ctl("status").check().obj["warc"]
        samples, _ = scrape(msock)
        write_docs(d, tmp / "docs.jsonl")
        summary = check([wdir], docs=tmp / "docs.jsonl")
        assert summary["docs"] == n + 1, summary
    files = sorted(p for p in wdir.iterdir() if p.name.endswith(".warc.gz"))
    assert st["file"] == str(files[-1]), (st, files)
    assert st["files"] == len(files), (st, files)
    recs = [(h, m) for f in files
            for (h, _), m in zip(records(f), raw_members(f))]
    info = [m for h, m in recs if h["WARC-Type"] == "warcinfo"]
    assert st["records"] == len(recs) - len(info), (st, len(recs))
    assert st["bytes"] == sum(f.stat().st_size for f in files) - \
        sum(len(m) for m in info), st
    assert st["revisits"] == 0, st
    busy = [h["WARC-Target-URI"] for h, m in recs
            if h["WARC-Type"] == "response" and stored(m)]
    calm = [h["WARC-Target-URI"] for h, m in recs
            if h["WARC-Type"] == "response" and not stored(m)]
    # Every record of a transfer is built at one level.
    for h, m in recs:
        if h["WARC-Type"] == "request":
            assert stored(m) == (h["WARC-Target-URI"] in busy), h
    assert web.url("/page/1") in calm, calm
    assert web.url("/robots.txt") in calm, calm
    assert len(busy) == st["busy_transfers"], (len(busy), st)
    assert len(busy) > 0, f"none of {n} pages at the busy level"
    for name, key in (("sluice_warc_records_total", "records"),
                      ("sluice_warc_revisit_records_total", "revisits"),
                      ("sluice_warc_written_bytes_total", "bytes"),
                      ("sluice_warc_busy_transfers_total",
                       "busy_transfers")):
        assert samples[(name, "")] == st[key], (name, samples, st)
    print(f"  {len(busy)} of {n} burst pages at the busy level")


def test_crash_mid_record_is_cut_back(tmp):
    """A record half written at a crash, and a file begun by a turn that
    never committed: both cut back at the next start.  A file created but
    killed before its warcinfo was whole holds no WARC at all: removed."""
    wdir = tmp / "warc"
    sets = dict(FAST, **{"warc.dir": wdir})
    with FixtureServer() as web:
        d = Daemon(tmp, extra_set=sets)
        d.start()
        ids = submit_ids(d, [web.url(f"/page/{i}") for i in range(20)])
        wait_jobs(d, ids)
        wait_idle(d)
        d.kill()
        files = sorted(wdir.iterdir())
        last = files[-1]
        good = last.stat().st_size
        first = members(files[0])[0][1]
        head = files[0].read_bytes()[:first]
        # Half a record at the end of the open file...
        tail = gzip.compress(b"WARC/1.1\r\nWARC-Type: response\r\n" +
                             b"x" * 5000)
        with open(last, "ab") as f:
            f.write(tail[:len(tail) // 2])
        # ...and a newer file: its warcinfo, then garbage.
        stamp = time.strftime("%Y%m%d%H%M%S", time.gmtime(time.time() + 5))
        newer = wdir / f"sluice-{stamp}000-99999.warc.gz"
        newer.write_bytes(head + tail[:100])
        empty = wdir / f"sluice-{stamp}001-99999.warc.gz"
        empty.write_bytes(b"")
        half = wdir / f"sluice-{stamp}002-99999.warc.gz"
        half.write_bytes(head[:first // 2])
        d.start()
        try:
            wait_until(lambda: last.stat().st_size == good, 10,
                       what="the open file cut back")
            assert newer.stat().st_size == first, newer.stat().st_size
            assert not empty.exists() and not half.exists()
            ids = submit_ids(d, [web.url(f"/page/{i}")
                                 for i in range(20, 30)])
            wait_jobs(d, ids)
            wait_idle(d)
            write_docs(d, tmp / "docs.jsonl")
        finally:
            d.stop()
        summary = check([wdir], docs=tmp / "docs.jsonl")
        assert summary["docs"] == 30, summary


def test_killed_between_sync_and_commit(tmp):
    """sluiced killed (SLUICE_TEST_WARC_CRASH) in the middle of a record,
    and after syncing a turn's records but before its commit: at restart
    the file is cut back to the last commit, the jobs are fetched again,
    and each document still has exactly one capture."""
    wdir = tmp / "warc"
    sets = dict(FAST, **{"warc.dir": wdir, "queue.max_attempts": 5})
    with FixtureServer() as web:
        d = Daemon(tmp, extra_set=sets)
        urls = [web.url(f"/page/{i}") for i in range(200)]
        for crash in (3, 4, 5, 8):
            d.env["SLUICE_TEST_WARC_CRASH"] = str(crash)
            d.start()
            submit(d, urls)
            wait_until(lambda: not d.running(), 30, what="the crash")
        del d.env["SLUICE_TEST_WARC_CRASH"]
        d.start()
        try:
            ids = submit_ids(d, urls)
            wait_jobs(d, ids, timeout=60)
            wait_idle(d)
            write_docs(d, tmp / "docs.jsonl")
        finally:
            d.stop()
    summary = check([wdir], docs=tmp / "docs.jsonl")
    assert summary["docs"] == 200, summary
    log = (tmp / "sluiced.log").read_text(errors="replace")
    assert log.count("cut back from") >= 4, log[-3000:]


def test_sigkill_under_load(tmp):
    """kill -9 again and again while pages are fetched and recorded: every
    file stays readable, every stored document has exactly one capture,
    and every body filed as in a record is read back from it whole."""
    wdir = tmp / "warc"
    sets = dict(FAST, **{"warc.dir": wdir, "warc.max_size": "256KiB",
                         "fetch.max_total": 32, "fetch.max_per_host": 32,
                         "queue.max_attempts": 5,
                         "queue.retry_base": "100ms",
                         # Kills this close together cut one page's
                         # cleaning twice now and then, which fails it on
                         # purpose (test_budget.py tests that): not here.
                         "extract.max_interrupted": 1000})
    rng = random.Random(13)
    n = 1000
    with FixtureServer() as web:
        d = Daemon(tmp, extra_set=sets)
        d.start()
        # Big pages: writing and syncing their records takes a while,
        # so kills land between the WARC sync and the commit too.
        ids = submit_ids(d, [web.url(f"/long/{i}?kb=48") for i in range(n)]
                         + [web.url(f"/long/{i}?kb=48&again=1")
                            for i in range(0, n, 10)])
        kills = 0
        while kills < 10:
            time.sleep(rng.uniform(0.1, 0.6))
            d.kill()
            kills += 1
            d.start()
        wait_jobs(d, ids, timeout=300)
        wait_idle(d)
        states = {job(d, i)["state"] for i in ids}
        docs = write_docs(d, tmp / "docs.jsonl")
        # Every body the store points at is in its record, whole: a
        # re-clean reads each back (warc.serves_raw) and finds them all.
        out = d.ctl("reclean", "--all", "--wait", json=False, timeout=300)
        assert out[0] == 0 and out[1].startswith(
            f"{len(ids)} re-cleaned, 0 changed, 0 duplicate links changed, "
            f"0 failed, 0 without a stored body"), out
        d.stop()
    assert states == {"done"}, states
    assert len(docs) == len(ids)
    summary = check([wdir], docs=tmp / "docs.jsonl")
    assert summary["docs"] == len(ids), summary
    assert summary["types"].get("revisit", 0) >= n // 10, summary
    log = (tmp / "sluiced.log").read_text(errors="replace")
    print(f"  {kills} kills, {summary['files']} files, "
          f"{summary['records']} records, "
          f"{log.count('cut back')} cut backs")


def test_check_fails_on_a_bad_digest(tmp):
    """The checker itself can fail: a record whose payload was changed
    after its digests were computed, and a document with no capture."""
    wdir = tmp / "warc"
    sets = dict(FAST, **{"warc.dir": wdir})
    with FixtureServer() as web, Daemon(tmp, extra_set=sets) as d:
        fetch_one(d, web.url("/page/5"))
        wait_idle(d)
        write_docs(d, tmp / "docs.jsonl")
    f = sorted(wdir.iterdir())[-1]
    check([f], docs=tmp / "docs.jsonl")
    bad = tmp / "bad.warc.gz"
    with open(bad, "wb") as out:
        for body, _ in members(f):
            out.write(gzip.compress(body.replace(b"report number 5",
                                                 b"report number 6")))
    outp = check([bad], expect_ok=False)
    assert "payload digest" in outp and "block digest" in outp, outp
    (tmp / "more.jsonl").write_text(json.dumps(
        {"id": 99, "url": web.url("/page/77")}) + "\n")
    outp = check([f], docs=tmp / "more.jsonl", expect_ok=False)
    assert "has 0 captures" in outp, outp


def test_raw_bodies_served_from_the_records(tmp):
    """warc.serves_raw (the default): a page's raw body is not kept a
    second time in LMDB; doc --raw and reclean read it back from its WARC
    record (a revisit's from the first capture), and say so when the file
    is gone or changed.  With serves_raw off, LMDB keeps its own copy."""
    wdir = tmp / "warc"
    sets = dict(FAST, **{"warc.dir": wdir})
    with FixtureServer() as web, Daemon(tmp, extra_set=sets) as d:
        paths = ["/page/1", "/gzip/page/3", "/page/1?copy=1", "/page/2"]
        ids = [fetch_one(d, web.url(p))[0] for p in paths]
        want = {}
        for p, j in zip(paths, ids):
            body = urllib.request.urlopen(web.url(p)).read()
            want[j] = gzip.decompress(body) if p.startswith("/gzip") \
                else body
        for j in ids:
            code, out, err = ctl_bytes(d, "doc", j, "--raw")
            assert code == 0 and out == want[j], (j, code, err, out[:80])
        assert "revisit" in [h["WARC-Type"] for h, _ in all_records(wdir)]
        out = d.ctl("reclean", "--all", "--wait", json=False)
        assert out[0] == 0 and out[1].startswith("4 re-cleaned"), out
        st = wait_reclean(d)
        assert st["cleaned"] == 4 and st["skipped"] == 0 and \
            st["unreadable"] == 0, st

        # The files moved away: doc --raw says where it looked, and a
        # re-clean counts the bodies it could not read, in one log line.
        files = sorted(wdir.iterdir())
        for f in files:
            f.rename(f.with_name(f.name + ".away"))
        code, out, err = ctl_bytes(d, "doc", ids[0], "--raw")
        assert code == 1 and "not_found" in err and \
            "WARC record that cannot be read back" in err and \
            "No such file" in err and str(files[-1]) in err, err
        out = d.ctl("reclean", "--all", "--wait", json=False)
        assert out[0] == 1 and "4 without a stored body (4 in WARC " \
            "records that could not be read back)" in out[1], out
        st = wait_reclean(d)
        assert st["cleaned"] == 0 and st["skipped"] == 4 and \
            st["unreadable"] == 4, st
        assert d.log().count("cannot be read back") == 1, d.log()[-2000:]
        for f in files:
            f.with_name(f.name + ".away").rename(f)
        code, out, _ = ctl_bytes(d, "doc", ids[1], "--raw")
        assert code == 0 and out == want[ids[1]]

        # A changed byte inside the record: caught, never served.
        f = files[-1]
        data = bytearray(f.read_bytes())
        i = data.rindex(b"\x1f\x8b")		# the last record's member
        data[i + (len(data) - i) // 2] ^= 0x55
        f.write_bytes(bytes(data))
        bad = [j for j in ids if ctl_bytes(d, "doc", j, "--raw")[0] != 0]
        code, out, err = ctl_bytes(d, "doc", bad[0], "--raw")
        assert len(bad) == 1 and code == 1 and out == b"" and \
            "at offset" in err and str(f) in err, (bad, err)

        # The same payload again once its first capture's file has gone
        # (archived, say): not a revisit of a record nobody can read, but
        # captured whole again, its body read back.
        d.restart()
        for f in files:
            f.rename(f.with_name(f.name + ".away"))
        again, _ = fetch_one(d, web.url("/page/1?copy=2"))
        code, out, err = ctl_bytes(d, "doc", again, "--raw")
        assert code == 0 and out == want[ids[0]], (code, err)
        assert [h["WARC-Type"] for h, _ in all_records(wdir)
                if h.get("WARC-Target-URI") == web.url("/page/1?copy=2")] \
            == ["request", "response"]
        for f in files:
            f.with_name(f.name + ".away").rename(f)

        # serves_raw off: LMDB keeps a copy, and needs no file.
        d.sets["warc.serves_raw"] = "false"
        d.restart()
        j, _ = fetch_one(d, web.url("/page/9"))
        files = sorted(wdir.iterdir())
        for f in files:
            f.rename(f.with_name(f.name + ".away"))
        code, out, err = ctl_bytes(d, "doc", j, "--raw")
        assert code == 0 and out == urllib.request.urlopen(
            web.url("/page/9")).read(), err

    # sluiced --check names each file that is gone, with its records, and
    # passes once they are back.
    code, out = check_store(d)
    gone = [ln for ln in out.splitlines() if ln.startswith("warc file ")]
    assert code == 1 and len(gone) == len(files), out
    assert all("No such file" in ln for ln in gone), out
    held = sum(int(re.search(r"the bodies of (\d+) records", ln)[1])
               for ln in gone)
    # The 5 pages (a revisit among them) and robots.txt, at least.
    assert held >= 6 and f"{held} bodies in WARC records: {len(gone)} " \
        "problems" in out, out
    for f in files:
        f.with_name(f.name + ".away").rename(f)
    code, out = check_store(d)
    assert code == 0 and f"{held} bodies in WARC records: 0 problems" in \
        out, out


def test_no_capture_when_off(tmp):
    with FixtureServer() as web, Daemon(tmp, extra_set=FAST) as d:
        fetch_one(d, web.url("/page/1"))
        assert d.ctl("status").check().obj["warc"] is None
    assert not (tmp / "warc").exists()
    assert not list(tmp.rglob("*.warc.gz"))


if __name__ == "__main__":
    run_tests(globals())
