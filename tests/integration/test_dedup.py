"""
test_dedup.py - duplicates end to end: the same URL with tracking
parameters, a page's canonical URL, the same article in another template
(exact after cleaning), near copies with small edits, articles that must
not be merged, persistence across restarts, and how duplicates show in
documents, export, status and `dups`.
"""

import json
import os
import subprocess
from urllib.parse import quote

from fixture_server import FixtureServer
from harness import Daemon, binary, run_tests

os.environ.setdefault("SLUICE_REQUIRE_BINARIES", "1")

FAST = {"fetch.host_delay": "0", "fetch.max_per_host": 4}


def submit(d, *urls):
    res = d.ctl("submit", *urls)
    assert res[0] == 0, res
    return [r["id"] for r in res.obj["results"]]


def doc(d, jid):
    return d.ctl("doc", str(jid)).check().obj["doc"]


def wait_idle(d):
    d.ctl("wait", "--timeout", "30").check()


def fetch_one_by_one(d, urls):
    """Submits and fetches each URL before the next, so that which one is
    first is known."""
    ids = []
    for u in urls:
        ids += submit(d, u)
        wait_idle(d)
    return ids


def test_tracking_parameters_are_the_same_url(tmp):
    with FixtureServer() as web, Daemon(tmp, FAST) as d:
        base = web.url("/page/1")
        res = d.ctl("submit", base + "?utm_source=news&utm_medium=x",
                    base + "?fbclid=abc", base + "#section", base).obj
        ids = {r["id"] for r in res["results"]}
        assert len(ids) == 1, res
        assert [r["status"] for r in res["results"]] == \
            ["queued", "duplicate", "duplicate", "duplicate"], res
        assert all(r.get("duplicate") == "url" for r in res["results"][1:])
        wait_idle(d)
        assert web.hits("/page/1") == 1


def test_same_article_other_template_is_exact(tmp):
    with FixtureServer() as web, Daemon(tmp, FAST) as d:
        first, copy = fetch_one_by_one(
            d, [web.url("/story/1?t=a"), web.url("/story/1?t=b")])
        a, b = doc(d, first), doc(d, copy)
        assert a["duplicate_of"] is None and a["text"], a
        assert b["duplicate_of"] == first, b
        assert b["duplicate_kind"] == "exact", b
        assert b["similarity"] == 1.0
        assert b["text"] is None			# stored once, with the first
        assert b["content_hash"] == a["content_hash"]


def test_near_copies_are_caught(tmp):
    edits = ["dateline=LONDON%2C+Nov+28+%28Reuters%29", "drop=3", "add=1",
             "reporting=1", "t=b&dateline=PARIS&reporting=1"]
    with FixtureServer() as web, Daemon(tmp, FAST) as d:
        ids = fetch_one_by_one(d, [web.url("/story/2")] +
                               [web.url(f"/story/2?{e}") for e in edits])
        first = ids[0]
        for e, jid in zip(edits, ids[1:]):
            x = doc(d, jid)
            assert x["duplicate_of"] == first, (e, x)
            assert x["duplicate_kind"] == "near", (e, x)
            assert 0.8 <= x["similarity"] < 1.0, (e, x)
            # A near copy's text differs from the first's: it is kept.
            assert x["text"] and x["word_count"] > 0, (e, x)
        dups = d.ctl("dups", str(first)).check().obj
        assert sorted(c["id"] for c in dups["duplicates"]) == sorted(ids[1:])
        assert all(c["kind"] == "near" for c in dups["duplicates"])
        st = d.ctl("status").check().obj
        assert st["duplicates"]["near"] == len(edits), st


def test_different_articles_are_not_merged(tmp):
    with FixtureServer() as web, Daemon(tmp, FAST) as d:
        ids = fetch_one_by_one(d, [web.url(f"/story/{n}?t=b")
                                   for n in range(10, 16)])
        for jid in ids:
            assert doc(d, jid)["duplicate_of"] is None, doc(d, jid)
        st = d.ctl("status").check().obj
        counts = {k: st["duplicates"][k] for k in ("url", "exact", "near")}
        assert counts == {"url": 0, "exact": 0, "near": 0}, st
        assert st["duplicates"]["index_bytes"] > 0, st


def test_canonical_url_already_stored_is_a_url_duplicate(tmp):
    with FixtureServer() as web, Daemon(tmp, FAST) as d:
        orig = web.url("/story/3")
        mirror = web.url("/story/3?t=b&dateline=X&canonical=" + quote(orig))
        first, copy = fetch_one_by_one(d, [orig, mirror])
        x = doc(d, copy)
        assert x["duplicate_of"] == first, x
        assert x["duplicate_kind"] == "url", x
        st = d.ctl("status").check().obj
        assert st["duplicates"]["url"] == 1


def test_canonical_url_names_the_job(tmp):
    with FixtureServer() as web, Daemon(tmp, FAST) as d:
        canon = web.url("/story/4")
        jid, = fetch_one_by_one(d, [web.url("/story/4?t=b&canonical=" +
                                            quote(canon))])
        res = d.ctl("submit", canon).obj["results"][0]
        assert res["status"] == "duplicate" and res["id"] == jid, res


def test_dedup_state_survives_restart(tmp):
    with FixtureServer() as web, Daemon(tmp, FAST) as d:
        first, = fetch_one_by_one(d, [web.url("/story/5")])
        d.restart(kill=True)		# the band keys are loaded back
        assert d.ctl("status").check().obj["duplicates"]["index_bytes"] > 0
        copy, near = fetch_one_by_one(d, [web.url("/story/5?t=b"),
                                          web.url("/story/5?drop=2")])
        assert doc(d, copy)["duplicate_of"] == first
        assert doc(d, near)["duplicate_of"] == first
        assert doc(d, near)["duplicate_kind"] == "near"


def test_store_of_format_2_is_reindexed(tmp):
    """An upgrade: a store whose duplicate index is in format 2's shape
    (tests/tools/dedup_downgrade.c) is indexed again from the stored texts
    before the daemon is ready, and copies of what it held are caught."""
    with FixtureServer() as web, Daemon(tmp, FAST) as d:
        first, other, short = fetch_one_by_one(
            d, [web.url("/story/6"), web.url("/story/7"),
                web.url("/plain.txt")])
        d.stop()
        subprocess.run([str(binary("tests/dedup-downgrade")),
                        str(d.state_dir)], check=True, timeout=60)
        d.start()
        log = d.log()
        assert "the duplicate index has a new format" in log, log
        assert "3 documents indexed again" in log, log
        assert d.ctl("status").check().obj["duplicates"]["index_bytes"] > 0
        copy, near, again = fetch_one_by_one(
            d, [web.url("/story/6?t=b"), web.url("/story/7?drop=2"),
                web.url("/plain.txt?x=1")])
        assert (doc(d, copy)["duplicate_of"],
                doc(d, copy)["duplicate_kind"]) == (first, "exact")
        assert (doc(d, near)["duplicate_of"],
                doc(d, near)["duplicate_kind"]) == (other, "near")
        assert (doc(d, again)["duplicate_of"],
                doc(d, again)["duplicate_kind"]) == (short, "exact")
        d.restart()			# converted once: no second re-index
        assert d.log().count("indexed again") == 1


TRAFILATURA_FIELDS = {"title", "author", "hostname", "date", "fingerprint",
                      "id", "license", "comments", "raw_text", "text",
                      "language", "image", "pagetype", "source",
                      "source-hostname", "excerpt", "categories", "tags"}


def test_export_leaves_duplicates_out(tmp):
    with FixtureServer() as web, Daemon(tmp, FAST) as d:
        fetch_one_by_one(d, [web.url("/story/6"), web.url("/story/6?t=b"),
                             web.url("/story/7")])
        plain = d.ctl("export").check().json
        everything = d.ctl("export", "--include-duplicates").check().json
        docs = [x for x in plain if "doc" in x]
        alld = [x for x in everything if "doc" in x]
        assert len(docs) == 2 and len(alld) == 3, (plain, everything)
        assert all(x["doc"]["duplicate_of"] is None for x in docs)

        def ids(*args):
            r = d.ctl("export", *args, json=False).check()
            return sorted(json.loads(ln)["id"] for ln in r.out.splitlines())

        first, copy, other = sorted(x["doc"]["id"] for x in alld)
        assert ids("--duplicates", "include") == [first, copy, other]
        assert ids("--duplicates", "exclude") == [first, other]
        assert ids("--duplicates", "only") == [copy]
        r = d.ctl("export", "--duplicates", "some", json=False)
        assert r.code == 2 and "include, exclude or only" in r.err, r
        # The fixture serves every page from 127.0.0.1.
        assert ids("--host", "127.0.0.1") == [first, other]
        assert ids("--host", "127.0.0.2", "--duplicates", "include") == []
        r = d.ctl("export", "--host", "http://127.0.0.1/", json=False)
        assert r.code == 1 and "not a host name" in r.err, r
        words = {x["doc"]["id"]: x["doc"]["word_count"] for x in alld}
        cut = words[other] + 1
        assert ids("--min-words", cut, "--duplicates", "include") == \
            sorted(i for i, w in words.items() if w >= cut)
        assert ids("--min-words", 1) == [first, other]
        # trafilatura's field names and formats, the same documents.
        r = d.ctl("export", "--format", "trafilatura", json=False).check()
        tdocs = [json.loads(ln) for ln in r.out.splitlines()]
        assert [int(t["id"]) for t in tdocs] == [first, other], tdocs
        byid = {x["doc"]["id"]: x["doc"] for x in alld}
        for t in tdocs:
            assert set(t) == TRAFILATURA_FIELDS, set(t) ^ TRAFILATURA_FIELDS
            src = byid[int(t["id"])]
            assert t["source"] == src["url"] and \
                t["fingerprint"] == src["content_hash"], (t, src)
            assert t["text"] == t["raw_text"] == src["text"], t
            assert t["hostname"] == "127.0.0.1", t
            assert t["date"] is None or len(t["date"]) == 10, t
            assert t["title"] == src["title"], t
        r = d.ctl("export", "--format", "xml", json=False)
        assert r.code == 2 and "jsonl, trafilatura or warc" in r.err, r


def test_short_texts_get_exact_dedup_only(tmp):
    with FixtureServer() as web, Daemon(tmp, dict(FAST, **{
            "dedup.min_words": 1000})) as d:
        first, edited, same = fetch_one_by_one(
            d, [web.url("/story/8"), web.url("/story/8?drop=2"),
                web.url("/story/8?t=b")])
        assert doc(d, edited)["duplicate_of"] is None
        assert doc(d, same)["duplicate_kind"] == "exact"


if __name__ == "__main__":
    run_tests(globals())
