"""
test_sitemem.py - the site memory end to end: a site's own blocks, inside
the article in plain <p>s, are in its first pages' documents and gone from
every document after its third page; the memory survives a restart;
`sluicectl site` and `status` show it; turned off, nothing is dropped.
"""

import os

from fixture_server import FixtureServer, SITE_BLOCKS, story_paragraphs
from harness import Daemon, run_tests
from itlib import wait_reclean

os.environ.setdefault("SLUICE_REQUIRE_BINARIES", "1")

FAST = {"fetch.host_delay": "0", "fetch.max_per_host": 4}


def submit(d, *urls):
    res = d.ctl("submit", *urls)
    assert res[0] == 0, res
    return [r["id"] for r in res.obj["results"]]


def text(d, jid):
    return d.ctl("doc", str(jid)).check().obj["doc"]["text"] or ""


def fetch_in_order(d, urls):
    """Each page is fetched and committed before the next is submitted:
    a page is cleaned with what was committed before it."""
    ids = []
    for u in urls:
        ids += submit(d, u)
        d.ctl("wait", "--timeout", "30").check()
    return ids


def blocks_in(t):
    return [b for b in SITE_BLOCKS if b in t]


def story_kept(t, n):
    return all(p in t for p in story_paragraphs(n))


def test_blocks_gone_after_third_page(tmp):
    with FixtureServer() as web, Daemon(tmp, FAST) as d:
        ids = fetch_in_order(d, [web.url(f"/sitepage/{n}")
                                 for n in range(1, 7)])
        texts = [text(d, j) for j in ids]
        # The single-page cleaner keeps them: they are in the first pages.
        for t in texts[:3]:
            assert blocks_in(t) == list(SITE_BLOCKS), t
        # Seen on three other pages: dropped, the story kept whole.
        for n, t in enumerate(texts[3:], start=4):
            assert blocks_in(t) == [], t
            assert story_kept(t, n), t
        site = d.ctl("site", "127.0.0.1").check().obj
        assert site["enabled"] is True, site
        assert site["repeated"] >= len(SITE_BLOCKS), site
        assert site["lines"] > site["repeated"], site
        assert site["pages_dropped"] == 3, site
        shown = {e["text"]: e["pages"] for e in site["dropped"]}
        for b in SITE_BLOCKS:
            assert shown.get(b) == 3, site
        # A URL names the same site.
        same = d.ctl("site", web.url("/x")).check().obj
        assert same["lines"] == site["lines"], same
        st = d.ctl("status").check().obj["site_memory"]
        assert st["sites"] == 1 and st["pages_recorded"] == 6, st
        assert st["lines_dropped"] == 3 * len(SITE_BLOCKS), st
        # Text mode lists the blocks.
        out = d.ctl("site", "127.0.0.1", json=False)
        assert out[0] == 0 and SITE_BLOCKS[0] in out[1], out


def test_memory_survives_restart(tmp):
    with FixtureServer() as web, Daemon(tmp, FAST) as d:
        fetch_in_order(d, [web.url(f"/sitepage/{n}") for n in range(1, 4)])
        lines = d.ctl("site", "127.0.0.1").check().obj["lines"]
        assert lines > 0
        d.restart()
        after = d.ctl("site", "127.0.0.1").check().obj
        assert after["lines"] == lines, after
        (jid,) = fetch_in_order(d, [web.url("/sitepage/10")])
        t = text(d, jid)
        assert blocks_in(t) == [] and story_kept(t, 10), t


def test_killed_daemon_keeps_committed_memory(tmp):
    with FixtureServer() as web, Daemon(tmp, FAST) as d:
        fetch_in_order(d, [web.url(f"/sitepage/{n}") for n in range(1, 4)])
        d.restart(kill=True)
        (jid,) = fetch_in_order(d, [web.url("/sitepage/11")])
        assert blocks_in(text(d, jid)) == []


def test_off_drops_nothing(tmp):
    with FixtureServer() as web, \
            Daemon(tmp, dict(FAST, **{"extract.site_memory": "false"})) as d:
        ids = fetch_in_order(d, [web.url(f"/sitepage/{n}")
                                 for n in range(1, 6)])
        for j in ids:
            assert blocks_in(text(d, j)) == list(SITE_BLOCKS)
        site = d.ctl("site", "127.0.0.1").check().obj
        assert site["enabled"] is False and site["lines"] == 0, site
        assert d.ctl("status").check().obj["site_memory"]["enabled"] is False


def doc(d, jid):
    return d.ctl("doc", str(jid)).check().obj["doc"]


def test_reclean_changes_older_documents(tmp):
    with FixtureServer() as web, Daemon(tmp, FAST) as d:
        first = fetch_in_order(d, [web.url("/sitepage/1")])[0]
        copy = fetch_in_order(d, [web.url("/sitepage/1?copy=1")])[0]
        ids = [first] + fetch_in_order(
            d, [web.url(f"/sitepage/{n}") for n in range(2, 6)])
        c = doc(d, copy)
        assert c["duplicate_of"] == first and \
            c["duplicate_kind"] == "exact", c
        before = {j: doc(d, j) for j in ids}
        assert all(blocks_in(before[j]["text"]) for j in ids[:3])
        # Options are required.
        assert d.ctl("reclean")[0] == 2
        assert d.ctl("reclean", "--host", "10.9.9.9").check()
        st = wait_reclean(d)
        assert st["read"] == 0 and st["changed"] == 0, st
        # --wait reports the counts once the pass is over.
        out = d.ctl("reclean", "--all", "--wait", json=False)
        assert out[0] == 0 and out[1].startswith(
            "6 re-cleaned, 4 changed, 0 duplicate links changed, 0 failed"), out
        st = wait_reclean(d)
        assert st["read"] == 6 and st["cleaned"] == 6, st
        # Pages 1-3 and the copy of 1 lose the blocks; 4 and 5 had.
        assert st["changed"] == 4 and st["failed"] == 0, st
        for n, j in enumerate(ids, start=1):
            a = doc(d, j)
            assert blocks_in(a["text"]) == [] and story_kept(a["text"], n)
            if n <= 3:
                assert a["content_hash"] != before[j]["content_hash"]
            else:
                assert a == before[j], (a, before[j])
        # The copy still copies its first, under the new text.
        c, f = doc(d, copy), doc(d, first)
        assert c["duplicate_of"] == first and c["text"] is None, c
        assert c["content_hash"] == f["content_hash"], (c, f)
        dups = d.ctl("dups", str(first)).check().obj["duplicates"]
        assert [x["id"] for x in dups] == [copy], dups
        # The index knows the new text: a new copy of page 1 is exact.
        again = fetch_in_order(d, [web.url("/sitepage/1?again=1")])[0]
        a = doc(d, again)
        assert a["duplicate_of"] == first and \
            a["duplicate_kind"] == "exact", a
        # A second pass changes nothing.
        out = d.ctl("reclean", "--since", "-1d").check().obj
        assert out["started"] is True and out["site"] is None, out
        st = wait_reclean(d)
        assert st["cleaned"] == 7 and st["changed"] == 0, st
        out = d.ctl("status", json=False)
        assert "reclean" in out[1] and "sites" in out[1], out


def test_furnished_copy_is_a_near_copy_of_its_clean_story(tmp):
    """The same story with its site's blocks left in (the memory does not
    know them yet) is a near copy of its clean text stored before: most of
    its words are the story's, and all of the story is in it."""
    with FixtureServer() as web, Daemon(tmp, FAST) as d:
        clean, furnished = fetch_in_order(
            d, [web.url("/sitepage/60?boiler=0"), web.url("/sitepage/60")])
        f = doc(d, furnished)
        assert f["duplicate_of"] == clean and \
            f["duplicate_kind"] == "near", f
        assert f["text"] != doc(d, clean)["text"]


def test_reclean_merges_a_first_into_an_earlier_one(tmp):
    # At near_threshold 1 only identical sketches are near copies, and
    # the containment rule is off: the furnished story below stays a
    # first copy until re-cleaning drops its site's blocks.
    sets = dict(FAST, **{"dedup.near_threshold": "1"})
    with FixtureServer() as web, Daemon(tmp, sets) as d:
        # The clean story, then the same story with the site's blocks
        # before the memory knows them: two first copies.
        clean, furnished = fetch_in_order(
            d, [web.url("/sitepage/60?boiler=0"), web.url("/sitepage/60")])
        assert doc(d, furnished)["duplicate_of"] is None
        fetch_in_order(d, [web.url(f"/sitepage/{n}") for n in range(1, 4)])
        before = d.ctl("status").check().obj["duplicates"]
        out = d.ctl("reclean", "--all", "--wait").check().obj
        # The furnished copy and pages 1-2 (3 was fetched knowing them).
        assert out["changed"] == 3 and out["relinked"] == 1, out
        f = doc(d, furnished)
        assert f["duplicate_of"] == clean and \
            f["duplicate_kind"] == "exact" and f["text"] is None, f
        assert doc(d, clean)["duplicate_of"] is None
        dups = d.ctl("dups", str(clean)).check().obj["duplicates"]
        assert [x["id"] for x in dups] == [furnished], dups
        after = d.ctl("status").check().obj["duplicates"]
        assert after["exact"] == before["exact"] + 1, (before, after)
        # No longer indexed: a new copy of it is a copy of the first.
        (again,) = fetch_in_order(d, [web.url("/sitepage/60?again=1")])
        assert doc(d, again)["duplicate_of"] == clean


def test_site_bad_argument(tmp):
    with Daemon(tmp, FAST) as d:
        res = d.ctl("site", "http://")
        assert res[0] == 1, res


if __name__ == "__main__":
    run_tests(globals())
