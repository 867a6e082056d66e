"""
test_feeds.py - feeds and sitemaps through the real daemon (issue 14):
every format, every entry fetched exactly once, 304s when unchanged,
gzipped sitemaps, a sitemap index whose unchanged children are not fetched
again, restart and SIGKILL resuming on schedule without duplicates, site
discovery, and hostile documents that must fail cleanly.

The feeds come from tests/fixture/feed_server.py on 127.0.0.1; intervals
are shortened (feeds.min_interval 1 s) so that several polls fit.
"""

import gzip
import time

import itlib  # noqa: F401  (missing sluiced = failure)
from feed_server import (Entry, FeedServer, article, atom, json_feed,
                         news_sitemap, rdf, rss, sitemap, sitemap_index)
from harness import Daemon, run_tests, wait_until
from test_metrics import by_label, scrape
from itlib import all_jobs, doc, export, is_error, ok, req, status

FAST = {"fetch.host_delay": 0, "fetch.max_per_host": 8,
        "queue.retry_base": "200ms", "queue.max_attempts": 2,
        "feeds.min_interval": "1s", "feeds.max_interval": "2s"}


def feed_add(d, url, **kw):
    return ok(req(d, dict(cmd="feed_add", url=url, **kw)), "feed_add")["feed"]


def feeds(d):
    return ok(req(d, {"cmd": "feeds"}), "feeds")["feeds"]


def feed(d, fid):
    return ok(req(d, {"cmd": "feed", "id": fid}), "feed")["feed"]


def article_jobs(d):
    """The jobs of /a/ URLs: {url: [job, ...]}."""
    out = {}
    for j in all_jobs(d):
        if "/a/" in j["url"]:
            out.setdefault(j["url"], []).append(j)
    return out


def wait_polls(d, fid, n, timeout=30):
    return wait_until(lambda: feed(d, fid)["polls"] >= n and
                      not feed(d, fid)["polling"] and feed(d, fid),
                      timeout, 0.1, f"feed {fid}: {n} polls")


def wait_articles(d, web, names, timeout=30):
    """Waits until each /a/NAME has a stored document (one request per
    name: listing every job in a loop would slow the daemon down)."""
    left = set(names)

    def done():
        for n in sorted(left):
            r = req(d, {"cmd": "doc", "url": web.url(f"/a/{n}")})
            if not r.get("ok"):
                return False
            left.discard(n)
        return True
    wait_until(done, timeout, 0.2, f"articles {sorted(left)[:5]}")


def once_each(d, web, names):
    """Every article fetched exactly once: one job, one request."""
    jobs = article_jobs(d)
    for n in names:
        u = web.url(f"/a/{n}")
        assert len(jobs.get(u, [])) == 1, (n, jobs.get(u))
        assert web.hits(f"/a/{n}") == 1, (n, web.hits(f"/a/{n}"))


FORMATS = {"rss": (rss, "rss"), "rdf": (rdf, "rdf"), "atom": (atom, "atom"),
           "json": (json_feed, "jsonfeed"), "sitemap": (sitemap, "sitemap"),
           "news": (news_sitemap, "news-sitemap")}


def test_every_format_once_then_304(tmp):
    msock = tmp / "metrics.sock"
    with FeedServer() as web, Daemon(tmp, extra_set=dict(
            FAST, **{"metrics.listen": msock})) as d:
        ids = {}
        for name, (render, _) in FORMATS.items():
            es = [Entry(web.url(f"/a/{name}-{i}"), f"{name} {i}",
                        author="Ann") for i in range(3)]
            web.put(f"/{name}", render(es))
            ids[name] = feed_add(d, web.url(f"/{name}"))["id"]
        names = [f"{n}-{i}" for n in FORMATS for i in range(3)]
        wait_articles(d, web, names)
        for name, (_, fmt) in FORMATS.items():
            f = wait_polls(d, ids[name], 3)
            assert f["format"] == fmt, f
            assert f["entries"] == 3 and f["entries_1d"] == 3, f
            assert f["last_result"] == "not_modified", f
            # Later polls are conditional, and answered 304.
            assert web.hits(f"/{name}", 304) >= 2, name
            assert web.conditional(f"/{name}") >= 2, name
        once_each(d, web, names)
        # The entry's author reached the document, and its feed.
        dd = doc(d, url=web.url("/a/rss-0"))
        assert dd["feed_id"] == ids["rss"], dd
        s = status(d)["feeds"]
        assert s["sources"] == 6 and s["entries_new"] == 18, s
        assert s["not_modified"] >= 12, s
        m = by_label(scrape(msock)[0], "sluice_feed_entries_total", "result")
        assert m["new"] == 18, m


def test_new_entries_while_polling(tmp):
    with FeedServer() as web, Daemon(tmp, extra_set=FAST) as d:
        es = [Entry(web.url(f"/a/n{i}"), f"n{i}") for i in range(2)]
        web.put("/f", rss(es))
        fid = feed_add(d, web.url("/f"))["id"]
        wait_articles(d, web, ["n0", "n1"])
        for k in range(2, 8):
            es.append(Entry(web.url(f"/a/n{k}"), f"n{k}"))
            web.put("/f", rss(es[-5:]))	# a window of the latest five
            wait_articles(d, web, [f"n{k}"])
        f = wait_polls(d, fid, feed(d, fid)["polls"] + 2)
        once_each(d, web, [f"n{i}" for i in range(8)])
        assert f["entries"] == 8, f
        # The interval adapts within [min, max].
        assert 1 <= f["interval_s"] <= 2, f


def test_old_entries_skipped(tmp):
    sets = dict(FAST, **{"feeds.max_age": "1d"})
    with FeedServer() as web, Daemon(tmp, extra_set=sets) as d:
        old = time.time() - 3 * 86400
        es = [Entry(web.url("/a/old"), "old", published=old),
              Entry(web.url("/a/new"), "new")]
        web.put("/f", atom(es))
        fid = feed_add(d, web.url("/f"))["id"]
        wait_articles(d, web, ["new"])
        wait_polls(d, fid, 2)
        assert web.hits("/a/old") == 0
        assert status(d)["feeds"]["entries_old"] >= 1


def test_gzipped_sitemap(tmp):
    with FeedServer() as web, Daemon(tmp, extra_set=FAST) as d:
        es = [Entry(web.url(f"/a/g{i}")) for i in range(20)]
        web.put("/sitemap.xml.gz", sitemap(es), ctype="application/gzip",
                gz=True)
        fid = feed_add(d, web.url("/sitemap.xml.gz"))["id"]
        wait_articles(d, web, [f"g{i}" for i in range(20)])
        f = wait_polls(d, fid, 2)
        assert f["format"] == "sitemap" and f["entries"] == 20, f
        once_each(d, web, [f"g{i}" for i in range(20)])


def test_sitemap_index_unchanged_children(tmp):
    with FeedServer() as web, Daemon(tmp, extra_set=FAST) as d:
        t0 = time.time() - 3600
        kids = {}
        for c in range(3):
            kids[c] = [Entry(web.url(f"/a/c{c}-{i}")) for i in range(4)]
            web.put(f"/s{c}.xml", sitemap(kids[c]))
        stamps = {c: t0 for c in range(3)}

        def index():
            web.put("/index.xml", sitemap_index(
                [(web.url(f"/s{c}.xml"), stamps[c]) for c in range(3)]))
        index()
        fid = feed_add(d, web.url("/index.xml"))["id"]
        names = [f"c{c}-{i}" for c in range(3) for i in range(4)]
        wait_articles(d, web, names)
        assert feed(d, fid)["format"] == "sitemap-index"
        for c in range(3):
            assert web.hits(f"/s{c}.xml") == 1, c
        # Child 1 changes, and the index says so; the others do not.
        kids[1].append(Entry(web.url("/a/c1-new")))
        web.put("/s1.xml", sitemap(kids[1]))
        stamps[1] = time.time()
        index()
        wait_articles(d, web, ["c1-new"])
        wait_polls(d, fid, feed(d, fid)["polls"] + 2)
        assert web.hits("/s0.xml") == 1 and web.hits("/s2.xml") == 1
        assert web.hits("/s1.xml") == 2
        once_each(d, web, names + ["c1-new"])
        s = status(d)["feeds"]
        assert s["children_unchanged"] >= 2 and s["children_fetched"] == 4, s


def test_restart_and_sigkill_resume_without_duplicates(tmp):
    sets = dict(FAST, **{"feeds.min_interval": "2s",
                         "feeds.max_interval": "2s"})
    with FeedServer() as web:
        d = Daemon(tmp, extra_set=sets)
        try:
            d.start()
            es = [Entry(web.url(f"/a/r{i}")) for i in range(5)]
            web.put("/f", rss(es))
            fid = feed_add(d, web.url("/f"))["id"]
            wait_articles(d, web, [f"r{i}" for i in range(5)])
            before = feed(d, fid)
            d.restart()
            # The schedule survived: the next poll is where it was.
            after = feed(d, fid)
            assert after["next_poll"] == before["next_poll"] or \
                after["polls"] > before["polls"], (before, after)
            n = web.hits("/f")
            wait_until(lambda: web.hits("/f") > n, 15, 0.1, "poll after "
                       "restart")
            d.restart(kill=True)
            es.append(Entry(web.url("/a/r5")))
            web.put("/f", rss(es))
            wait_articles(d, web, ["r5"])
            n = web.hits("/f")
            d.restart(kill=True)
            wait_until(lambda: web.hits("/f") > n, 15, 0.1, "poll after "
                       "SIGKILL")
            wait_polls(d, fid, feed(d, fid)["polls"] + 1)
            once_each(d, web, [f"r{i}" for i in range(6)])
        finally:
            d.stop()


def test_cancelled_poll_is_polled_again(tmp):
    with FeedServer() as web, Daemon(tmp, extra_set=FAST) as d:
        web.robots_delay = 1.5	# the poll waits in the queue meanwhile
        web.put("/f", rss([Entry(web.url("/a/c0"))]))
        f = feed_add(d, web.url("/f"))
        wait_until(lambda: feed(d, f["id"])["polling"], 10, 0.05, "polling")
        jid = [j for j in all_jobs(d) if j["url"] == web.url("/f")][0]["id"]
        ok(req(d, {"cmd": "cancel", "id": jid}))
        web.robots_delay = 0
        # Not stuck "polling" for ever: due again after max_interval.
        wait_articles(d, web, ["c0"], timeout=30)
        assert feed(d, f["id"])["polls"] >= 1


def test_robots_forbids_a_feed(tmp):
    with FeedServer() as web, Daemon(tmp, extra_set=FAST) as d:
        web.robots = b"User-agent: *\nDisallow: /private/\n"
        web.put("/private/f", rss([Entry(web.url("/a/p0"))]))
        f = feed_add(d, web.url("/private/f"))
        g = wait_polls(d, f["id"], 1)
        assert g["last_error"] == "robots_disallowed", g
        assert web.hits("/private/f") == 0


def test_site_whose_page_fails_is_tried_again(tmp):
    with FeedServer() as web, Daemon(tmp, extra_set=FAST) as d:
        site = ok(req(d, {"cmd": "site_add",
                          "url": web.url("/later")}))["feed"]
        wait_polls(d, site["id"], 1)
        assert feed(d, site["id"])["next_poll"] is not None
        web.put("/later.rss", rss([Entry(web.url("/a/later0"))]))
        web.pages["/later"] = (
            '<html><head><link rel="alternate" type="application/rss+xml"'
            ' href="/later.rss"></head></html>').encode()
        wait_articles(d, web, ["later0"])
        assert feed(d, site["id"])["kind"] == "site"


def test_site_add_of_a_feed_url(tmp):
    with FeedServer() as web, Daemon(tmp, extra_set=FAST) as d:
        web.put("/f", atom([Entry(web.url("/a/sf0"))]))
        site = ok(req(d, {"cmd": "site_add", "url": web.url("/f")}))["feed"]
        wait_articles(d, web, ["sf0"])
        g = feed(d, site["id"])
        assert g["kind"] == "feed" and g["format"] == "atom", g
        assert len(feeds(d)) == 1


def test_commands(tmp):
    with FeedServer() as web, Daemon(tmp, extra_set=FAST) as d:
        web.put("/f", rss([]))
        f = feed_add(d, web.url("/f"), priority=5, interval=3600)
        assert f["priority"] == 5 and f["fixed_interval"], f
        assert f["interval_s"] == 3600, f
        is_error(req(d, {"cmd": "feed_add", "url": web.url("/f")}),
                 "conflict")
        is_error(req(d, {"cmd": "feed_add", "url": "ftp://x/"}),
                 "bad_request")
        is_error(req(d, {"cmd": "feed_add"}), "bad_request")
        is_error(req(d, {"cmd": "feed", "id": 999}), "not_found")
        assert [x["id"] for x in feeds(d)] == [f["id"]]
        wait_polls(d, f["id"], 1)
        g = feed(d, f["id"])
        for k in ("kind", "last_poll", "last_result", "entries_1d",
                  "interval_s", "next_poll"):
            assert k in g, (k, g)
        # sluicectl
        r = d.ctl("feeds", json=False)
        assert r.code == 0 and web.url("/f") in r.out, r
        r = d.ctl("feeds", "--json")
        assert r.code == 0 and r.obj["feeds"][0]["id"] == f["id"], r
        r = d.ctl("feed", "show", str(f["id"]))
        assert r.code == 0 and r.obj["feed"]["id"] == f["id"], r
        r = d.ctl("feed", "add", web.url("/g"), "--priority", "2",
                  "--interval", "10m")
        assert r.code == 0 and r.obj["feed"]["interval_s"] == 600, r
        r = d.ctl("feed", "rm", web.url("/g"))
        assert r.code == 0, r
        ok(req(d, {"cmd": "feed_rm", "id": f["id"]}))
        assert feeds(d) == []
        is_error(req(d, {"cmd": "feed_rm", "id": f["id"]}), "not_found")


def test_site_discovery(tmp):
    with FeedServer() as web, Daemon(tmp, extra_set=FAST) as d:
        # A site whose page links to its feed.
        web.put("/news.rss", rss([Entry(web.url("/a/s1"))]))
        web.pages["/"] = (
            '<html><head><link rel="alternate" type="application/rss+xml"'
            ' href="/news.rss"></head><body>hi</body></html>').encode()
        site = ok(req(d, {"cmd": "site_add", "url": web.url("/")}))["feed"]
        wait_articles(d, web, ["s1"])
        found = [f for f in feeds(d) if f.get("parent") == site["id"]]
        assert [f["url"] for f in found] == [web.url("/news.rss")], found
        assert feed(d, site["id"])["next_poll"] is None


def test_site_without_feeds_polls_links(tmp):
    with FeedServer() as web, Daemon(tmp, extra_set=FAST) as d:
        web.robots = b"User-agent: *\nAllow: /\n"

        def page(names):
            links = "".join(f'<a href="/a/{n}">{n}</a>' for n in names)
            web.pages["/home"] = (f"<html><body>{links}"
                                  '<a href="http://10.9.9.9/x">off</a>'
                                  "</body></html>").encode()
        page(["l0", "l1"])
        site = ok(req(d, {"cmd": "site_add",
                          "url": web.url("/home")}))["feed"]
        wait_until(lambda: feed(d, site["id"])["kind"] == "links", 30, 0.1,
                   "the probes fail")
        wait_polls(d, site["id"], 2)
        # The links of the first poll are the baseline; new ones come.
        assert web.hits("/a/l0") == 0
        page(["l0", "l1", "l2"])
        wait_articles(d, web, ["l2"])
        assert web.hits("/a/l0") == 0
        once_each(d, web, ["l2"])


def test_hostile_documents_fail_cleanly(tmp):
    # At most 2,000 entries a document: the 10^6-entry sitemap is read up
    # to there, and its 2,000 articles fetched, no more.
    sets = dict(FAST, **{"feeds.max_entries": 2000,
                         "fetch.max_body": "64MiB"})
    with FeedServer() as web, Daemon(tmp, extra_set=sets) as d:
        secret = tmp / "secret.txt"
        secret.write_text("TOPSECRET")
        xxe = (f'<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY x SYSTEM '
               f'"file://{secret}">]><rss version="2.0"><channel>'
               f'<item><title>&x;</title><link>{web.url("/a/xxe")}</link>'
               '</item></channel></rss>').encode()
        lol = ('<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
               + "".join(f'<!ENTITY lol{i} "' + f"&lol{i - 1};" * 10 + '">'
                         for i in range(1, 10)).replace("&lol0;", "&lol;")
               + ']><rss version="2.0"><channel><item><title>&lol9;</title>'
               f'<link>{web.url("/a/lol")}</link></item></channel></rss>'
               ).encode()
        # 100 MiB of white space: 100 KiB gzipped, cut at feeds.max_bytes.
        bomb = b"<urlset>" + b" " * (100 << 20) + b"</urlset>"
        many = (b'<?xml version="1.0"?><urlset>' + b"".join(
            b"<url><loc>/a/m%d</loc></url>" % i for i in range(10 ** 6))
            + b"</urlset>")
        docs = {"/xxe": (xxe, False), "/lol": (lol, False),
                "/bomb": (gzip.compress(bomb, 9), False),
                "/many.xml": (many, False),
                "/bad.xml": (b"<rss><channel><item><link>", False),
                "/bad.json": (b'{"version": "https://jsonfeed.org/', False)}
        ids = {}
        for p, (body, gz) in docs.items():
            web.put(p, body, gz=gz)
            ids[p] = feed_add(d, web.url(p))["id"]
        for p in docs:
            wait_polls(d, ids[p], 1, timeout=120)
        assert d.running()
        # The XXE entity did not expand: not in any document or title.
        wait_articles(d, web, ["xxe", "m1999"], timeout=120)
        docs_out, _ = export(d)
        for x in docs_out:
            assert "TOPSECRET" not in str(x), x
        assert feed(d, ids["/bad.json"])["last_error"] == "not_a_feed", \
            feed(d, ids["/bad.json"])
        # Billion laughs: nothing expanded, the entry dropped, no harm.
        assert feed(d, ids["/lol"])["entries"] == 0, feed(d, ids["/lol"])
        assert web.hits("/a/lol") == 0
        m = feed(d, ids["/many.xml"])
        assert m["entries"] == 2000 and m["last_error"] is None, m
        assert web.hits("/a/m1999") == 1 and web.hits("/a/m2000") == 0
        # The daemon still answers and works.
        assert status(d)["feeds"]["sources"] == len(docs)


if __name__ == "__main__":
    run_tests(globals())
