#!/usr/bin/env python3
"""Hard case for site memory: boilerplate injected inside the article.

   bench/extract/inject.py [BUILD_DIR]

Builds, in a temporary directory (nothing is written to the repository),
made-up sites of 10 pages each: every page is one extract-dev article
(its reference text, one <p> per paragraph) set in the site's template,
with blocks injected INSIDE the article container in neutral markup
(plain divs, no telling class names): a membership appeal after the
second paragraph, a newsletter box in the middle, a "read more" line and
a related list (a heading over links, the links drawn from a pool so that
some repeat) before the end, and a sign-off line at the end.  The texts
of the injected blocks differ between sites.

The pages of a site run through sluice-extract in order, with --site and
without.  Printed per page rank (1st..10th page of its site): the
injected lines still in the text (all sites summed), and the share of
the story's paragraphs kept.  Goal: from the 4th page on, no injected
line left with memory on, and story paragraphs kept >= 99 %.
"""
import html
import json
import os
import random
import re
import subprocess
import sys
import tempfile

root = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
build = sys.argv[1] if len(sys.argv) > 1 else os.path.join(root, "build")
tool = os.path.join(build, "sluice-extract")
shared = os.environ.get("SLUICE_SHARED", os.path.join(root, "..", "shared"))
if not os.path.isdir(os.path.join(shared, "corpus", "extract-dev")):
    shared = "/work/shared"
gt = json.load(open(os.path.join(shared, "corpus", "extract-dev",
                                 "ground-truth.json")))

PAGES, SITES = 10, 20
rng = random.Random(16)


def norm(s):
    return " ".join(re.findall(r"\w+", s)).lower()


# Articles with enough prose paragraphs, in a fixed order.
arts = []
for k in sorted(gt):
    paras = [p.strip() for p in gt[k]["articleBody"].split("\n")
             if len(p.split()) >= 12]
    if len(paras) >= 5:
        arts.append((k, paras))
rng.shuffle(arts)
arts = arts[:PAGES * SITES]

NAMES = ["Harbour Gazette", "Valley Courier", "Northern Ledger",
         "City Dispatch", "Coast Herald", "Prairie Post", "River Times",
         "Hill Chronicle", "Bay Observer", "Lake Record"]


def template(s):
    name = NAMES[s % len(NAMES)] + (" %d" % s if s >= len(NAMES) else "")
    pool = ["%s: %s" % (w, t) for w, t in zip(
        ["Council", "Schools", "Weather", "Sport", "Housing", "Transit",
         "Health", "Courts", "Arts", "Business", "Farming", "Science"],
        ["what the budget means for you", "a new term begins",
         "the storm that never came", "a season to remember",
         "rents keep climbing", "the bus line that vanished",
         "clinics stretched thin", "a verdict a decade late",
         "the festival returns", "a mill changes hands",
         "a harvest like no other", "the comet over the bay"])]
    return {
        "name": name,
        "appeal": ["Independent journalism needs you",
                   "The %s is funded by readers like you. Become a member "
                   "today and help keep our reporting free for everyone "
                   "in the region." % name],
        "newsletter": ["Get the morning briefing",
                       "The day's most important stories from the %s, "
                       "delivered to you every weekday before seven." % name,
                       "No spam, and you can leave at any time."],
        "readmore": "More coverage of this story is in our special section "
                    "at the %s website." % name,
        "related_head": "More from the %s" % name,
        "pool": pool,
        "signoff": "Reporting for the %s newsroom" % name,
    }


def page(t, title, paras, rng):
    b = ['<html><head><title>%s</title></head><body>' % html.escape(title),
         '<div class="top"><a href="/">%s</a> <a href="/news">News</a> '
         '<a href="/sport">Sport</a></div>' % html.escape(t["name"]),
         '<div class="c1"><h1>%s</h1>' % html.escape(title)]
    inj = []
    mid = len(paras) // 2
    for i, p in enumerate(paras):
        b.append("<p>%s</p>" % html.escape(p))
        if i == 1:
            b.append('<div class="b2"><h3>%s</h3><p>%s</p></div>' %
                     tuple(map(html.escape, t["appeal"])))
            inj += t["appeal"]
        if i == mid:
            b.append('<div class="b3"><h4>%s</h4><p>%s</p><p>%s</p></div>' %
                     tuple(map(html.escape, t["newsletter"])))
            inj += t["newsletter"]
        if i == len(paras) - 2:
            rel = rng.sample(t["pool"], 4)
            b.append('<div class="b4"><p>%s</p></div>' %
                     html.escape(t["readmore"]))
            b.append('<div class="b5"><h4>%s</h4><ul>%s</ul></div>' % (
                html.escape(t["related_head"]),
                "".join('<li><a href="/s/%d">%s</a></li>' % (j, html.escape(r))
                        for j, r in enumerate(rel))))
            inj += [t["readmore"], t["related_head"]] + rel
    b.append('<p>%s</p>' % html.escape(t["signoff"]))
    inj.append(t["signoff"])
    b.append('</div><div class="bottom">&copy; %s</div></body></html>' %
             html.escape(t["name"]))
    return "\n".join(b), inj


def main():
    tmp = tempfile.mkdtemp()
    sites = []
    for s in range(SITES):
        t = template(s)
        files = []
        for r in range(PAGES):
            k, paras = arts[s * PAGES + r]
            title = paras[0][:60]
            text, inj = page(t, "Story %d of site %d: %s" % (r, s, title),
                             paras, rng)
            f = os.path.join(tmp, "s%02d-p%02d.html" % (s, r))
            open(f, "w").write(text)
            files.append((f, paras, inj))
        sites.append(files)
    stats = {m: [[0, 0, 0, 0] for _ in range(PAGES)] for m in (0, 1)}
    for s, files in enumerate(sites):
        for mem in (0, 1):
            cmd = [tool, "--json"] + (["--site", "--host", "site%d" % s]
                                      if mem else [])
            out = subprocess.run(cmd + [f for f, _, _ in files],
                                 capture_output=True, text=True).stdout
            for r, line in enumerate(out.splitlines()):
                d = json.loads(line)
                lines = set(norm(x) for x in (d.get("text") or "").split("\n"))
                _, paras, inj = files[r]
                st = stats[mem][r]
                st[0] += sum(1 for x in inj if norm(x) in lines)
                st[1] += len(inj)
                st[2] += sum(1 for p in paras if norm(p) in lines)
                st[3] += len(paras)
    print("%-5s %17s %17s   %15s %15s" % ("page", "injected left off",
          "injected left on", "story kept off", "story kept on"))
    for r in range(PAGES):
        a, b = stats[0][r], stats[1][r]
        print("%-5d %9d / %-5d %9d / %-5d   %14.1f%% %14.1f%%" % (
            r + 1, a[0], a[1], b[0], b[1], 100.0 * a[2] / a[3],
            100.0 * b[2] / b[3]))


main()
