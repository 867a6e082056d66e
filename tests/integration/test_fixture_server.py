"""Self-test of the fixture HTTP server: every endpoint, checked with
http.client, urllib and raw sockets, so integration failures can be blamed
on sluiced and not on the fixture."""

import email.utils
import gzip
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
import zlib
from pathlib import Path

from harness import run_tests
from fixture_server import (CHARSET_PAGES, MIB, FixtureServer, Limits,
                            page_paragraphs, page_title)

FIXTURE = Path(__file__).resolve().parent.parent / "fixture"


def get(srv, path, headers=None, method="GET", timeout=10):
    """(status, headers, body) of one request on a fresh connection; never
    follows redirects."""
    c = http.client.HTTPConnection(srv.host, srv.port, timeout=timeout)
    try:
        c.request(method, path, headers=headers or {})
        r = c.getresponse()
        return r.status, r.headers, r.read()
    finally:
        c.close()


def raw(srv, path, timeout=10):
    """A socket that has sent GET path (Connection: close) and nothing
    else."""
    s = socket.create_connection((srv.host, srv.port), timeout=timeout)
    s.sendall(f"GET {path} HTTP/1.1\r\nHost: fixture\r\n"
              f"Connection: close\r\n\r\n".encode())
    return s


def read_until_end(s):
    """(bytes received, "eof" | "reset")."""
    data = b""
    try:
        while True:
            chunk = s.recv(65536)
            if not chunk:
                return data, "eof"
            data += chunk
    except ConnectionResetError:
        return data, "reset"
    finally:
        s.close()


def split_head(data):
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    hdrs = {}
    for ln in lines[1:]:
        k, _, v = ln.partition(":")
        hdrs[k.strip().lower()] = v.strip()
    return int(lines[0].split()[1]), hdrs, body


def test_page_distinct_and_cheap():
    titles = {page_title(n) for n in range(10000)}
    assert len(titles) == 10000, "page titles collide"
    assert page_paragraphs(1) != page_paragraphs(2)
    with FixtureServer() as srv:
        c = http.client.HTTPConnection(srv.host, srv.port, timeout=10)
        t0 = time.monotonic()
        for n in (0, 1, 2, 9999):
            c.request("GET", f"/page/{n}")
            r = c.getresponse()
            body = r.read().decode()
            assert r.status == 200
            assert r.headers["Content-Type"] == "text/html; charset=utf-8"
            assert f"<title>{page_title(n)}</title>" in body
            for p in page_paragraphs(n):
                assert f"<p>{p}</p>" in body
            assert "<nav>" in body and "<footer>" in body
        for n in range(300):
            c.request("GET", f"/page/{n}")
            c.getresponse().read()
        took = time.monotonic() - t0
        c.close()
        assert took < 5, f"300 pages took {took:.1f}s"
        assert srv.hits("/page/0") == 2


def test_static_pages():
    with FixtureServer() as srv:
        st, h, body = get(srv, "/article")
        assert st == 200 and h["Content-Type"] == "text/html; charset=utf-8"
        for needle in (b"<nav", b"<footer", b"<article>", b"cookie",
                       b"River Sluices"):
            assert needle in body, needle
        st, h, body = get(srv, "/plain.txt")
        assert st == 200 and h["Content-Type"] == "text/plain; charset=utf-8"
        assert "Naïve café" in body.decode("utf-8")
        st, h, body = get(srv, "/binary.pdf")
        assert st == 200 and h["Content-Type"] == "application/pdf"
        assert body.startswith(b"%PDF-")
        st, h, body = get(srv, "/image.png")
        assert st == 200 and h["Content-Type"] == "image/png"
        assert body.startswith(b"\x89PNG\r\n\x1a\n")
        st, h, body = get(srv, "/pages/article.html")
        assert st == 200 and h["Content-Type"] == "text/html"
        assert get(srv, "/pages/../fixture_server.py")[0] == 404
        assert get(srv, "/pages/.hidden")[0] == 404
        assert get(srv, "/pages/missing.html")[0] == 404
        assert get(srv, "/no/such/thing")[0] == 404


def test_charsets():
    with FixtureServer() as srv:
        seen = {}
        for name, (_, ctype, title) in CHARSET_PAGES.items():
            st, h, body = get(srv, f"/charset/{name}")
            assert st == 200, name
            assert h["Content-Type"] == ctype, (name, h["Content-Type"])
            seen[name] = body
        assert title_in(seen["windows-1252"], "cp1252", "windows-1252")
        assert b"\x93" in seen["windows-1252"]	# a 0x80-0x9f code point
        assert seen["meta-only"] == seen["windows-1252"]
        assert b'<meta charset="windows-1252">' in seen["meta-only"]
        try:
            seen["latin1-as-utf8"].decode("utf-8")
            raise AssertionError("latin1-as-utf8 is valid UTF-8")
        except UnicodeDecodeError:
            pass
        assert b"<meta" not in seen["latin1-as-utf8"]
        assert title_in(seen["latin1-as-utf8"], "latin-1", "latin1-as-utf8")
        assert seen["utf8-bom"].startswith(b"\xef\xbb\xbf<!DOCTYPE")
        assert title_in(seen["utf8-bom"], "utf-8-sig", "utf8-bom")
        assert b'charset="iso-8859-1"' in seen["meta-disagrees"]
        assert title_in(seen["meta-disagrees"], "utf-8", "meta-disagrees")
        assert get(srv, "/charset/klingon")[0] == 404


def title_in(body, codec, name):
    return f"<title>{CHARSET_PAGES[name][2]}</title>" in body.decode(codec)


def test_slow_drips():
    with FixtureServer() as srv:
        t0 = time.monotonic()
        s = raw(srv, "/slow?bytes=1000&delay_ms=100&chunk=250")
        first = s.recv(65536)
        t_first = time.monotonic() - t0
        data, end = read_until_end(s)
        total = time.monotonic() - t0
        st, h, body = split_head(first + data)
        assert st == 200 and h["content-length"] == "1000"
        assert len(body) == 1000 and end == "eof"
        assert t_first < 0.09, f"headers took {t_first:.3f}s"
        assert total >= 0.29, f"4 chunks 100 ms apart took {total:.3f}s"
        assert body.startswith(b"<!DOCTYPE html>") and body.endswith(
            b"</html>\n")
        r = srv.requests[0]
        deadline = time.monotonic() + 5
        while r.end is None and time.monotonic() < deadline:
            time.sleep(0.01)
        assert r.end is not None and r.end - r.time >= 0.29, (r.time, r.end)
        t0 = time.monotonic()
        st, h, body = get(srv, "/slow?bytes=300&delay_ms=50&chunk=100"
                          "&chunked=1")
        assert st == 200 and h["Transfer-Encoding"] == "chunked"
        assert len(body) == 300 and time.monotonic() - t0 >= 0.1
        assert get(srv, "/slow?bytes=0&delay_ms=60000")[0] == 200
        assert get(srv, "/slow?delay_ms=60001")[0] == 400
        assert get(srv, "/slow?bytes=100000&chunk=1&delay_ms=1000")[0] == 400
        assert get(srv, "/slow?bytes=x")[0] == 400


def test_slow_headers():
    with FixtureServer() as srv:
        t0 = time.monotonic()
        st, _, body = get(srv, "/slow-headers?delay_ms=300")
        assert st == 200 and b"300 ms" in body
        assert time.monotonic() - t0 >= 0.3
        try:
            get(srv, "/slow-headers?delay_ms=2000", timeout=0.2)
            raise AssertionError("no timeout")
        except TimeoutError:
            pass
        assert get(srv, "/slow-headers?delay_ms=-1")[0] == 400


def test_reset():
    with FixtureServer() as srv:
        data, end = read_until_end(raw(srv, "/reset?after=500"))
        assert end == "reset", "expected RST, got a clean close"
        st, h, body = split_head(data)
        assert st == 200 and h["content-length"] == "1524"
        assert len(body) <= 500
        data, end = read_until_end(raw(srv, "/reset-now"))
        assert end == "reset" and data == b""
        c = http.client.HTTPConnection(srv.host, srv.port, timeout=10)
        c.request("GET", "/reset?after=100000")
        r = c.getresponse()
        try:
            r.read()
            raise AssertionError("read a reset body completely")
        except (ConnectionResetError, http.client.IncompleteRead):
            pass
        c.close()
        assert srv.requests_for("/reset")[0].status == 200
        assert srv.requests_for("/reset-now")[0].status is None


def test_close_early():
    with FixtureServer() as srv:
        data, end = read_until_end(raw(srv, "/close-early"))
        st, h, body = split_head(data)
        assert end == "eof" and st == 200
        assert h["content-length"] == "10000" and len(body) == 100
        data, end = read_until_end(raw(srv, "/close-early?length=50&sent=0"))
        st, h, body = split_head(data)
        assert end == "eof" and h["content-length"] == "50" and body == b""
        c = http.client.HTTPConnection(srv.host, srv.port, timeout=10)
        c.request("GET", "/close-early?length=5000&sent=4999")
        try:
            c.getresponse().read()
            raise AssertionError("short body not detected")
        except http.client.IncompleteRead as e:
            assert len(e.partial) == 4999
        c.close()
        assert get(srv, "/close-early?length=10&sent=10")[0] == 400


def test_flaky():
    with FixtureServer() as srv:
        got = [get(srv, "/flaky/a?fail=2&status=503")[0] for _ in range(4)]
        assert got == [503, 503, 200, 200], got
        assert get(srv, "/flaky/b")[0] == 500	# default fail=1, 500
        assert get(srv, "/flaky/b")[0] == 200
        assert get(srv, "/flaky/c?fail=0")[0] == 200
        assert get(srv, "/flaky/d?status=200")[0] == 400
        srv.reset()
        assert get(srv, "/flaky/a?fail=1")[0] == 500


def test_status_codes():
    with FixtureServer() as srv:
        for code in (200, 403, 404, 410, 429, 500, 502, 503):
            st, h, body = get(srv, f"/status/{code}")
            assert st == code and f"Status {code}".encode() in body, code
        st, h, body = get(srv, "/status/204")
        assert st == 204 and body == b"" and "Content-Length" not in h
        st, h, _ = get(srv, "/status/503?retry_after=30")
        assert st == 503 and h["Retry-After"] == "30"
        assert get(srv, "/status/600")[0] == 400
        assert get(srv, "/status/100")[0] == 400
        assert get(srv, "/status/99")[0] == 404


def test_retry_after():
    with FixtureServer() as srv:
        for _ in range(2):
            st, h, _ = get(srv, "/retry-after/k?fail=2&seconds=7")
            assert st == 429 and h["Retry-After"] == "7"
        assert get(srv, "/retry-after/k?fail=2&seconds=7")[0] == 200
        st, h, _ = get(srv, "/retry-after/s?status=503")
        assert st == 503 and h["Retry-After"] == "1"
        st, h, _ = get(srv, "/retry-after-date/d?seconds=120")
        assert st == 429
        when = email.utils.parsedate_to_datetime(h["Retry-After"])
        assert abs(when.timestamp() - (time.time() + 120)) < 3
        assert h["Retry-After"].endswith(" GMT")
        assert get(srv, "/retry-after-date/d")[0] == 200
        assert get(srv, "/retry-after/x?status=500")[0] == 400


def test_redirects():
    with FixtureServer() as srv:
        path, hops = "/redirect/3", 0
        while True:
            st, h, _ = get(srv, path)
            if st != 302:
                break
            path, hops = h["Location"], hops + 1
        assert (st, hops, path) == (200, 3, "/redirect/0")
        st, h, _ = get(srv, "/redirect/2?code=301&abs=1")
        assert st == 301
        assert h["Location"] == srv.url("/redirect/1?code=301&abs=1")
        with urllib.request.urlopen(srv.url("/redirect/5"), timeout=10) as r:
            assert r.status == 200 and r.url.endswith("/redirect/0")
        for code in (301, 302, 303, 307, 308):
            st, h, _ = get(srv, f"/redirect-to?url=/page/1&code={code}")
            assert st == code and h["Location"] == "/page/1"
        assert get(srv, "/redirect-to")[0] == 400
        assert get(srv, "/redirect-to?url=/x&code=200")[0] == 400
        assert get(srv, "/redirect/101")[0] == 400
        assert get(srv, "/redirect-loop/a")[1]["Location"] == "/redirect-loop/b"
        assert get(srv, "/redirect-loop/b")[1]["Location"] == "/redirect-loop/a"
        assert get(srv, "/redirect-loop/c")[0] == 404
        for path, loc in (("/redirect-scheme", "ftp://127.0.0.1/x"),
                          ("/redirect-scheme/ftp", "ftp://127.0.0.1/x"),
                          ("/redirect-scheme/file", "file:///etc/passwd")):
            st, h, _ = get(srv, path)
            assert st == 302 and h["Location"] == loc, path
        assert get(srv, "/redirect-scheme/gopher")[0] == 404


def test_big():
    with FixtureServer() as srv:
        st, h, body = get(srv, "/big?mb=2")
        assert st == 200 and h["Content-Length"] == str(2 * MIB)
        assert len(body) == 2 * MIB
        assert body.startswith(b"<!DOCTYPE html>")
        assert body.endswith(b"</p></body></html>\n")
        assert b"filler text filler text" in body[MIB:MIB + 100]
        st, h, body = get(srv, "/big?kb=3&chunked=1")
        assert h["Transfer-Encoding"] == "chunked" and len(body) == 3072
        assert len(get(srv, "/big?bytes=10")[2]) == 10
        assert get(srv, "/big?bytes=0")[2] == b""
        st, h, body = get(srv, "/big?mb=4096", method="HEAD")
        assert st == 200 and h["Content-Length"] == str(4096 * MIB)
        assert body == b""
        for bad in ("/big", "/big?mb=1&kb=1", "/big?mb=4097", "/big?mb=-1"):
            assert get(srv, bad)[0] == 400, bad


def test_gzip_bomb():
    with FixtureServer() as srv:
        for mb, fill in ((1, " "), (3, " "), (2, "0")):
            name = "space" if fill == " " else "zero"
            st, h, body = get(srv, f"/gzip-bomb?mb={mb}&fill={name}")
            assert st == 200 and h["Content-Encoding"] == "gzip"
            assert int(h["Content-Length"]) == len(body) < 8 * 1024
            plain = gzip.decompress(body)	# checks CRC and length too
            assert len(plain) == mb * MIB
            assert plain.startswith(b"<!DOCTYPE html>")
            assert plain.endswith(b"</html>\n")
            assert plain[MIB // 2:MIB // 2 + 64] == fill.encode() * 64
        st, h, body = get(srv, "/gzip-bomb?mb=256")
        assert len(body) < 400 * 1024, len(body)
        d = zlib.decompressobj(31)
        total, pos = 0, 0
        while pos < len(body):
            total += len(d.decompress(body[pos:pos + 4096]))
            pos += 4096
        total += len(d.flush())
        assert d.eof and total == 256 * MIB
        assert get(srv, "/gzip-bomb?mb=0")[0] == 400
        assert get(srv, "/gzip-bomb?fill=x")[0] == 400


def test_gzip_pages():
    with FixtureServer() as srv:
        st, h, body = get(srv, "/gzip/article")
        assert st == 200 and h["Content-Encoding"] == "gzip"
        assert gzip.decompress(body) == get(srv, "/article")[2]
        st, h, body = get(srv, "/gzip/page/5")
        assert gzip.decompress(body) == get(srv, "/page/5")[2]
        assert get(srv, "/gzip/nothing-here")[0] == 404
        st, h, body = get(srv, "/gzip-bad")
        assert st == 200 and h["Content-Encoding"] == "gzip"
        try:
            gzip.decompress(body)
            raise AssertionError("gzip-bad decoded")
        except (OSError, EOFError, zlib.error):
            pass


def test_etag_conditional():
    with FixtureServer() as srv:
        st, h, body = get(srv, "/etag/doc")
        etag, lm = h["ETag"], h["Last-Modified"]
        assert st == 200 and etag == '"doc-1"' and lm.endswith("GMT")
        st, h2, body = get(srv, "/etag/doc", {"If-None-Match": etag})
        assert st == 304 and body == b"" and h2["ETag"] == etag
        assert "Content-Length" not in h2
        assert get(srv, "/etag/doc", {"If-None-Match": '"x", ' + etag})[0] \
            == 304
        assert get(srv, "/etag/doc", {"If-None-Match": '"other"'})[0] == 200
        assert get(srv, "/etag/doc", {"If-Modified-Since": lm})[0] == 304
        old = email.utils.formatdate(time.time() - 86400, usegmt=True)
        assert get(srv, "/etag/doc", {"If-Modified-Since": old})[0] == 200
        # If-None-Match wins over If-Modified-Since.
        assert get(srv, "/etag/doc", {"If-None-Match": '"no"',
                                      "If-Modified-Since": lm})[0] == 200
        srv.bump("doc")
        st, h, body = get(srv, "/etag/doc", {"If-None-Match": etag})
        assert st == 200 and h["ETag"] == '"doc-2"' and b"version 2" in body
        assert email.utils.parsedate_to_datetime(h["Last-Modified"]) > \
            email.utils.parsedate_to_datetime(lm)
        assert get(srv, "/etag/doc", {"If-Modified-Since": lm})[0] == 200
        st, h, _ = get(srv, "/etag/e?only=etag")
        assert "Last-Modified" not in h and h["ETag"] == '"e-1"'
        assert get(srv, "/etag/e?only=etag",
                   {"If-Modified-Since": h.get("Date")})[0] == 200
        st, h, _ = get(srv, "/etag/e?only=lm")
        assert "ETag" not in h and "Last-Modified" in h
        assert get(srv, "/etag/e?only=lm", {"If-None-Match": '"e-1"'})[0] \
            == 200
        st, h, _ = get(srv, "/etag/w?weak=1")
        assert h["ETag"] == 'W/"w-1"'
        assert get(srv, "/etag/w?weak=1", {"If-None-Match": '"w-1"'})[0] \
            == 304
        reqs = srv.requests_for("/etag/doc")
        assert reqs[1].header("If-None-Match") == etag
        assert reqs[1].status == 304


def test_robots_and_private():
    with FixtureServer() as srv:
        st, h, body = get(srv, "/robots.txt")
        assert st == 200 and h["Content-Type"].startswith("text/plain")
        assert body == b"User-agent: *\nDisallow:\n"
        srv.robots = "User-agent: *\nDisallow: /private\n"
        assert get(srv, "/robots.txt")[2] == b"User-agent: *\n" \
            b"Disallow: /private\n"
        srv.robots = 500
        assert get(srv, "/robots.txt")[0] == 500
        srv.robots = None
        assert get(srv, "/robots.txt")[0] == 404
        srv.robots, srv.robots_delay_ms = b"User-agent: *\n", 200
        t0 = time.monotonic()
        assert get(srv, "/robots.txt")[0] == 200
        assert time.monotonic() - t0 >= 0.2
        st, _, body = get(srv, "/private/secret/page")
        assert st == 200 and b"secret/page" in body
        assert srv.hits("/robots.txt") == 5


def test_counter():
    with FixtureServer() as srv:
        bodies = [get(srv, "/counter")[2] for _ in range(3)]
        assert len(set(bodies)) == 3
        assert b"<title>Counter /counter hit 3</title>" in bodies[2]
        assert b"hit 1<" in get(srv, "/counter/k")[2]
        assert srv.hits("/counter") == 3 and srv.hits("/counter/k") == 1


def test_headers_echo():
    with FixtureServer() as srv:
        st, h, body = get(srv, "/headers", {"User-Agent": "sluice-test/1",
                                            "Accept-Encoding": "gzip, br"})
        assert st == 200 and h["Content-Type"] == "application/json"
        obj = json.loads(body)
        assert obj["method"] == "GET" and obj["target"] == "/headers"
        assert obj["headers"]["user-agent"] == "sluice-test/1"
        assert obj["headers"]["accept-encoding"] == "gzip, br"


def test_accounting():
    with FixtureServer() as srv:
        def worker(i):
            c = http.client.HTTPConnection(srv.host, srv.port, timeout=10)
            for j in range(25):
                c.request("GET", f"/page/{j}?w={i}")
                c.getresponse().read()
            c.close()
        threads = [threading.Thread(target=worker, args=(i,))
                   for i in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert srv.hits() == 200 and srv.hits("/page/3") == 8
        assert srv.hits("/page/3?w=5") == 1
        reqs = srv.requests
        assert all(r.status == 200 for r in reqs)
        assert all(a.time <= b.time for a, b in zip(reqs, reqs[1:]))
        # The handler notes the end just after the client got the last
        # byte, so give it a moment.
        deadline = time.monotonic() + 5
        while any(r.end is None for r in srv.requests[:200]) and \
                time.monotonic() < deadline:
            time.sleep(0.01)
        assert all(r.end is not None and r.time <= r.end
                   for r in srv.requests[:200])
        assert reqs[0].header("host") == f"{srv.host}:{srv.port}"
        assert reqs[0].query.get("w") is not None
        st, h, body = get(srv, "/page/1", method="HEAD")
        assert st == 200 and body == b"" and int(h["Content-Length"]) > 100
        assert srv.requests[-1].method == "HEAD"
        get(srv, "/nope")
        assert srv.requests[-1].status == 404
        get(srv, "/_fixture/hits?path=/nope")
        assert srv.hits() == 202, "internal endpoints must not be logged"
        st, _, body = get(srv, "/_fixture/hits?path=/page/3")
        assert json.loads(body) == {"path": "/page/3", "hits": 8}
        st, _, body = get(srv, "/_fixture/requests")
        assert len(json.loads(body)) == 202
        threading.Timer(0.2, lambda: get(srv, "/late")).start()
        assert srv.wait_hits("/late", 1, timeout=5)
        assert not srv.wait_hits("/never", 1, timeout=0.1)
        srv.reset()
        assert srv.hits() == 0
        for _ in range(3):
            get(srv, "/page/1")
            time.sleep(0.1)
        gaps = srv.intervals("/page/")
        assert len(gaps) == 2 and all(0.09 <= g < 1 for g in gaps), gaps


def test_keepalive_framing():
    """Every response on one persistent connection must be framed right."""
    with FixtureServer() as srv:
        c = http.client.HTTPConnection(srv.host, srv.port, timeout=10)
        seq = [("GET", "/page/1", {}, 200), ("GET", "/status/404", {}, 404),
               ("GET", "/etag/k", {}, 200),
               ("GET", "/etag/k", {"If-None-Match": '"k-1"'}, 304),
               ("GET", "/status/204", {}, 204), ("HEAD", "/article", {}, 200),
               ("GET", "/slow?bytes=10&delay_ms=1&chunked=1", {}, 200),
               ("GET", "/big?kb=100", {}, 200),
               ("GET", "/gzip/article", {}, 200),
               ("GET", "/redirect/1", {}, 302),
               ("GET", "/slow?delay_ms=x", {}, 400),
               ("GET", "/page/2", {}, 200)]
        for method, path, hdrs, want in seq:
            c.request(method, path, headers=hdrs)
            r = c.getresponse()
            r.read()
            assert r.status == want, (path, r.status)
        c.close()
        peers = {r.client for r in srv.requests}
        assert len(peers) == 1, "connection was not kept alive"


def test_stop_is_prompt():
    srv = FixtureServer().start()
    results = {}

    def fetch(name, path):
        try:
            results[name] = get(srv, path, timeout=30)[0]
        except (OSError, http.client.HTTPException) as e:
            results[name] = type(e).__name__

    threads = [threading.Thread(target=fetch, args=a) for a in (
        ("headers", "/slow-headers?delay_ms=60000"),
        ("drip", "/slow?bytes=100&chunk=1&delay_ms=1000"),
        ("robots", "/robots.txt"))]
    srv.robots_delay_ms = 60000
    for t in threads:
        t.start()
    stalled = raw(srv, "/big?mb=1024")	# never read: the server blocks
    idle = socket.create_connection((srv.host, srv.port), timeout=10)
    assert srv.wait_hits("/big", 1) and srv.wait_hits("/robots.txt", 1)
    time.sleep(0.3)
    t0 = time.monotonic()
    srv.stop()
    took = time.monotonic() - t0
    for t in threads:
        t.join(5)
    stalled.close()
    idle.close()
    assert took < 2.0, f"stop() took {took:.2f}s"
    assert all(not t.is_alive() for t in threads)
    assert all(v != 200 for v in results.values()), results
    try:
        socket.create_connection((srv.host, srv.port), timeout=2).close()
        raise AssertionError("still accepting after stop()")
    except ConnectionRefusedError:
        pass
    srv.stop()	# idempotent


def test_custom_limits_and_dir(tmp):
    (tmp / "x.html").write_bytes(b"<p>custom</p>")
    lim = Limits(max_delay_ms=50, max_big_mb=1)
    with FixtureServer(tmp, limits=lim) as srv:
        assert get(srv, "/pages/x.html")[2] == b"<p>custom</p>"
        assert get(srv, "/article")[0] == 404
        assert get(srv, "/slow-headers?delay_ms=51")[0] == 400
        assert get(srv, "/big?mb=2")[0] == 400
        assert get(srv, "/big?kb=1024")[0] == 200


def test_program_mode():
    p = subprocess.Popen([sys.executable, str(FIXTURE / "fixture_server.py"),
                          "--robots-status", "503"],
                         stdout=subprocess.PIPE, text=True)
    try:
        line = p.stdout.readline()
        assert line.startswith("PORT "), line
        port = int(line.split()[1])
        url = f"http://127.0.0.1:{port}"
        with urllib.request.urlopen(url + "/page/1", timeout=10) as r:
            assert r.status == 200
        with urllib.request.urlopen(url + "/_fixture/hits?path=/page/1",
                                    timeout=10) as r:
            assert json.load(r)["hits"] == 1
        try:
            urllib.request.urlopen(url + "/robots.txt", timeout=10)
            raise AssertionError("robots status not applied")
        except urllib.error.HTTPError as e:
            assert e.code == 503
        p.send_signal(signal.SIGTERM)
        assert p.wait(5) == 0
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
        p.stdout.close()


if __name__ == "__main__":
    run_tests(globals())
