#!/usr/bin/env python3
"""Builds the labelled duplicate / non-duplicate set for bench/dedup.

Reads the cleaner's ground truth (articleBody = what a perfect cleaner
outputs) from CORPUS_DIR (../shared/corpus/extract-dev) and writes
OUTDIR/cases.jsonl, one record per line, in this order:

  {"type": "body", "id", "text"}       every article body, bare (CPU cost)
  {"type": "doc", "id", "text"}        every article as first stored: a
                                       byline/dateline line and the body in
                                       page template 1 (the same
                                       boilerplate lines for all)
  {"type": "variant", "kind", "of", "text"}   must-catch copies of doc "of"
  {"type": "pair", "kind", "a", "b"}   must-not-merge text pairs
  {"type": "url", "kind", "label", "a", "b"}  URL pairs, "dup"|"distinct"

Must-catch variant kinds, each against the whole index of docs:
  template            the body in another site's template 2: different
                      boilerplate lines left by the cleaner, 0-3 of them
                      stripped either side, and no byline
  template+dateline   that, plus a differently worded byline/dateline
  template+added      that, plus one sentence from another article
  template+removed    that, minus one sentence
  template+reporting  that, plus a "Reporting by ..." line
  template+all        all of the above at once
Must-not-merge pairs:
  same-template       two different articles, identical template lines
  same-topic          the 60 pairs of different articles with the highest
                      word overlap (each with its byline, template 1)
  (and every pair of docs: they all share template 1 in one index)
Cleaning residue (index: every clean body, "clean" records, plus a short
story cut from every third one, its first whole paragraphs of 60-200
words), each variant the same story as a page cleaned WITH its site's
furniture, looked up against that index:
  residue <25%        the furniture is under a quarter of the page's words
  residue 25-50%      a quarter to a half
  residue >=50%       more than half (mostly the short stories)
  The furniture is one of 12 made-up sites' (nav, breadcrumb, byline and
  dateline, "Listen", share lines at the top; "Advertisement", "ALSO:",
  "Read more: <another story's first words>", a newsletter box, a
  donation appeal of 2-5 paragraphs, "Purchase this story for reprint.",
  a photo credit inside; "Related stories" with 3-5 other stories'
  first words, tags, comments, copyright at the end), 1-3 blocks at the
  top, 0-4 between paragraphs and 1-4 at the end; half the short stories
  get every block of their site's.
Must-not-merge pairs of residue:
  same-site           two different stories with one site's furniture, one
                      of them a short story, a third of them with all of
                      the site's blocks (checked alone)
  lede                a short story against the full story it was cut
                      from (in the clean index: a lede is not the article)
URL pairs: url-tracking (dup): the article URL with tracking parameters,
a fragment, an upper-case host and the default port; url-param
(distinct): the URL with ?id=1 vs ?id=2.
The generator is seeded: every run builds the same set.
"""
import itertools
import json
import os
import random
import re
import sys

TEMPLATE_1 = (
    ["Skip to main content", "Home | World | Business | Technology | Sport",
     "Advertisement", "Listen to this article"],
    ["Share this article on Facebook, Twitter or by email",
     "Sign up for our morning newsletter",
     "Related stories", "More from this section",
     "\u00a9 2023 Example Media Group. All rights reserved."],
)
TEMPLATE_2 = (
    ["Menu", "Search", "News \u203a Local \u203a Politics",
     "Most popular this week"],
    ["Comments (12)", "Follow us on Facebook, Instagram and X",
     "Copyright 2023 Other Publisher Ltd. Registered in England.",
     "Terms | Privacy | Cookies", "Back to top"],
)
DATELINES = (
    "By {a} | Published {d} March 2021, 10:32 GMT",
    "{a}, Staff Writer \u00b7 Updated March {d2}, 2021 at 8:15 a.m.",
)
AUTHORS = ("Jane Doe", "Omar Haddad", "Li Wei", "Marta Kowalska")
REPORTING = ("Reporting by {a}; additional reporting by Tom Baker; "
             "Editing by Alex Chen")


def wrap(body, template, rng, strip):
    head, foot = template
    if strip:
        head = head[rng.randint(0, 3):]
        foot = foot[:len(foot) - rng.randint(0, 3)]
    return "\n".join(list(head) + [body] + list(foot))


def sentences(body):
    """Sentences, also of unspaced scripts (CJK full stops)."""
    return [s for s in re.split(r"(?<=[.!?])\s+|(?<=[\u3002\uff01\uff1f])",
                                body) if s]


def plausible(sentence):
    """A sentence an editor would add or cut: 8-60 words or CJK chars."""
    n = len(sentence.split())
    cjk = sum(1 for c in sentence if "\u3040" <= c <= "\u9fff")
    return 8 <= max(n, cjk) and n <= 60 and cjk <= 120


def remove_sentence(body, rng):
    sents = sentences(body)
    cands = [i for i, s in enumerate(sents[1:], 1) if plausible(s)]
    if not cands:
        return body
    i = rng.choice(cands)
    return " ".join(sents[:i] + sents[i + 1:])


def add_sentence(body, other, rng):
    extra = [s for s in sentences(other) if plausible(s)]
    if not extra:
        return body
    paras = body.split("\n")
    i = rng.randint(0, len(paras))
    return "\n".join(paras[:i] + [rng.choice(extra)] + paras[i:])


def variants(body, other, rng):
    author = rng.choice(AUTHORS)
    day = rng.randint(1, 27)
    dl2 = DATELINES[1].format(a=author, d2=day + 1)
    rep = REPORTING.format(a=rng.choice(AUTHORS))
    t2 = lambda b: wrap(b, TEMPLATE_2, rng, True)
    return {
        "template": t2(body),
        "template+dateline": t2(dl2 + "\n" + body),
        "template+added": t2(add_sentence(body, other, rng)),
        "template+removed": t2(remove_sentence(body, rng)),
        "template+reporting": t2(body + "\n" + rep),
        "template+all": t2(dl2 + "\n" + add_sentence(
            remove_sentence(body, rng), other, rng) + "\n" + rep),
    }


def original(body, rng):
    author = rng.choice(AUTHORS)
    dl1 = DATELINES[0].format(a=author, d=rng.randint(1, 28))
    return wrap(dl1 + "\n" + body, TEMPLATE_1, rng, False)


SITES = 12
NAV = ("Home | News | World | Business | Opinion | Sport | Culture | Video",
       "Skip to main content", "Menu", "Search", "Subscribe | Log in",
       "Sections | Latest | Most read | Newsletters | Podcasts")
CRUMBS = ("News \u203a World \u203a Europe", "Politics / Elections",
          "Business \u00bb Markets", "Local News", "Science & Tech")
SOURCES = ("Associated Press", "Reuters", "Example Tribune",
           "The Daily Example", "Example News Service")
INSIDE_SHORT = ("Advertisement", "ALSO:", "Don't Miss",
                "Story continues below advertisement",
                "Purchase this story for reprint.", "Print Sponsor",
                "Skip Ad", "Continue reading the main story")
NEWSLETTER = (
    ["Sign up for The Morning Brief",
     "Get the day's top stories delivered to your inbox every weekday "
     "morning, free.", "Enter your email address", "Sign up"],
    ["Newsletter", "Stay informed with our free daily newsletter: the news "
     "that matters, the analysis you need, in five minutes a day.",
     "By signing up you agree to our Terms of Use and Privacy Policy.",
     "Subscribe"],
)
APPEAL = (
    "We rely on readers like you to keep our journalism free for everyone, "
    "with no paywall and no billionaire owner telling us what to write.",
    "Our reporters spend weeks on stories like this one, checking every "
    "fact and every figure, because our readers deserve the whole truth.",
    "If you value independent reporting, please consider a contribution "
    "today: every gift, however small, helps us keep our newsroom open.",
    "More people are reading us than ever, but advertising revenue is "
    "falling fast, and the cost of quality journalism keeps rising.",
    "Support us from as little as $1 a month. It takes less than a minute, "
    "and you can cancel at any time. Thank you for reading.",
    "Unlike many others, we have chosen to keep our reporting open to all, "
    "regardless of where they live or what they can afford to pay.",
)
TAIL = ("Share this story: Facebook | X | LinkedIn | Email",
        "Comments ({n})", "Tags: {t1}, {t2}, {t3}",
        "\u00a9 2021 {site} Media Group. All rights reserved.",
        "Purchase this story for reprint.", "Back to top",
        "Most read", "Follow us on Facebook, Instagram and X",
        "Terms of Use | Privacy Policy | Cookie Settings | Contact us")
TAGS = ("politics", "economy", "world", "health", "technology", "science",
        "culture", "climate", "elections", "courts")


def headline(other):
    """Another story's first words, as a related-stories link shows it."""
    w = other.split()
    return " ".join(w[:8 + len(w) % 5]).rstrip(",.;:")


def site_blocks(site, others, rng):
    """One made-up site's furniture: head, inside and tail blocks (lists
    of lines), fixed per site except the headlines of other stories."""
    r = random.Random(1000 + site)
    head = [[l] for l in r.sample(NAV, r.randint(1, 3))]
    head.append([r.choice(CRUMBS)])
    head.append(["By {a} | " + r.choice(SOURCES) +
                 " | Published March {d}, 2021 {h}:{m} a.m. ET"])
    head.append(["Listen to this article \u00b7 {n} min"])
    inside = [[l] for l in r.sample(INSIDE_SHORT, 4)]
    inside.append(["Read more: {h1}"])
    inside.append(["Photo: {a}/" + r.choice(SOURCES)])
    inside.append(list(r.choice(NEWSLETTER)))
    inside.append(r.sample(APPEAL, r.randint(2, 5)))
    tail = [["Related stories", "{h1}", "{h2}", "{h3}"] +
            (["{h4}", "{h5}"] if r.random() < 0.5 else [])]
    tail += [[l] for l in r.sample(TAIL, 5)]
    return head, inside, tail


def fill_block(block, others, rng):
    subst = {"a": rng.choice(AUTHORS), "d": rng.randint(1, 28),
             "h": rng.randint(1, 11), "m": "%02d" % rng.randint(0, 59),
             "n": rng.randint(2, 40), "site": "Example",
             "t1": rng.choice(TAGS), "t2": rng.choice(TAGS),
             "t3": rng.choice(TAGS)}
    for k in range(1, 6):
        subst["h%d" % k] = headline(rng.choice(others))
    return [l.format(**subst) for l in block]


def with_residue(story, site, others, rng, everything=False):
    """story as its site's page cleaned with its furniture: blocks at the
    top, between paragraphs and at the end."""
    head, inside, tail = site_blocks(site, others, rng)
    if not everything:
        head = rng.sample(head, rng.randint(1, 3))
        inside = rng.sample(inside, rng.randint(0, 4))
        tail = rng.sample(tail, rng.randint(1, 4))
    paras = [p for p in story.split("\n") if p.strip()]
    lines = []
    for b in head:
        lines += fill_block(b, others, rng)
    slots = sorted(rng.randint(1, max(1, len(paras) - 1)) for _ in inside)
    for i, p in enumerate(paras):
        while slots and slots[0] == i:
            slots.pop(0)
            lines += fill_block(inside[len(inside) - len(slots) - 1],
                                others, rng)
        lines.append(p)
    for b in tail:
        lines += fill_block(b, others, rng)
    return "\n".join(lines)


def short_story(body):
    """The first whole paragraphs of body, 60-200 words, or None."""
    out, n = [], 0
    for p in (p for p in body.split("\n") if p.strip()):
        k = len(p.split())
        if n + k > 200:
            break
        out.append(p)
        n += k
    return "\n".join(out) if 60 <= n and n < len(body.split()) * 0.7 \
        else None


def residue_kind(page, story):
    share = 1 - len(story.split()) / max(1, len(page.split()))
    return ("residue <25%" if share < 0.25 else
            "residue 25-50%" if share < 0.5 else "residue >=50%")


def residue_cases(ids, bodies, out):
    rng = random.Random(20261207)
    clean = []
    for n, i in enumerate(ids, 1):
        clean.append((n, bodies[i], i))
    for n, i in enumerate(ids, 1):
        if n % 3 == 0:
            s = short_story(bodies[i])
            if s is not None:
                clean.append((len(ids) + n, s, i))
    for cid, text, i in clean:
        rec = {"type": "clean", "id": cid, "text": text}
        if cid > len(ids):
            rec["from"] = ids.index(i) + 1
        out.append(rec)
    for cid, text, i in clean:
        others = [bodies[j] for j in rng.sample(ids, 8) if j != i]
        # Half the short stories with every block of their site's.
        every = cid > len(ids) and cid % 2 == 0
        page = with_residue(text, rng.randrange(SITES), others, rng, every)
        out.append({"type": "variant", "index": "clean",
                    "kind": residue_kind(page, text), "of": cid,
                    "text": page})
    shorts = [(cid, t, i) for cid, t, i in clean if cid > len(ids)]
    for k, (cid, text, i) in enumerate(shorts):
        j = rng.choice([x for x in ids if x != i])
        site = rng.randrange(SITES)
        others = [bodies[x] for x in rng.sample(ids, 8)]
        every = k % 3 == 0
        out.append({"type": "pair", "kind": "same-site",
                    "a": with_residue(bodies[j], site, others, rng, every),
                    "b": with_residue(text, site, others, rng, every)})


def words(text):
    return set(re.findall(r"\w+", text.lower()))


def same_topic(ids, bodies, n):
    ws = {i: words(bodies[i]) for i in ids}
    scored = []
    for a, b in itertools.combinations(ids, 2):
        union = len(ws[a] | ws[b])
        if union:
            scored.append((len(ws[a] & ws[b]) / union, a, b))
    scored.sort(reverse=True)
    return [(a, b) for _, a, b in scored[:n]]


def url_variant(url):
    m = re.match(r"(https?)://([^/]+)(.*)", url)
    scheme, host, rest = m.groups()
    port = ":443" if scheme == "https" else ":80"
    sep = "&" if "?" in rest else "?"
    rest = rest.split("#")[0] or "/"
    return ("%s://%s%s%s%sutm_source=newsletter&utm_medium=email&"
            "utm_campaign=spring&fbclid=IwAR0xyz&gclid=abc#comments"
            % (scheme.upper(), host.upper(), port, rest, sep))


def text_cases(ids, bodies, rng, out):
    for n, i in enumerate(ids, 1):
        out.append({"type": "body", "id": n, "text": bodies[i]})
    for n, i in enumerate(ids, 1):
        out.append({"type": "doc", "id": n, "text": original(bodies[i], rng)})
    for n, i in enumerate(ids, 1):
        other = bodies[rng.choice([j for j in ids if j != i])]
        for kind, text in variants(bodies[i], other, rng).items():
            out.append({"type": "variant", "kind": kind, "of": n,
                        "text": text})
    shuffled = ids[:]
    rng.shuffle(shuffled)
    for a, b in zip(shuffled, shuffled[1:] + shuffled[:1]):
        out.append({"type": "pair", "kind": "same-template",
                    "a": wrap(bodies[a], TEMPLATE_1, rng, False),
                    "b": wrap(bodies[b], TEMPLATE_1, rng, False)})
    for a, b in same_topic(ids, bodies, 60):
        out.append({"type": "pair", "kind": "same-topic",
                    "a": original(bodies[a], rng),
                    "b": original(bodies[b], rng)})


def url_cases(ids, urls, out):
    for i in ids:
        u = urls[i]
        if not u:
            continue
        out.append({"type": "url", "kind": "url-tracking", "label": "dup",
                    "a": u, "b": url_variant(u)})
        base = u.split("#")[0]
        sep = "&" if "?" in base else "?"
        out.append({"type": "url", "kind": "url-param", "label": "distinct",
                    "a": base + sep + "id=1", "b": base + sep + "id=2"})


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: make_pairs.py CORPUS_DIR OUTDIR")
    corpus, outdir = sys.argv[1:]
    with open(os.path.join(corpus, "ground-truth.json"), encoding="utf-8") as f:
        truth = json.load(f)
    ids = sorted(truth)
    bodies = {i: truth[i]["articleBody"] for i in ids}
    urls = {i: truth[i].get("url", "") for i in ids}
    rng = random.Random(20240601)
    cases = []
    text_cases(ids, bodies, rng, cases)
    residue_cases(ids, bodies, cases)
    url_cases(ids, urls, cases)
    os.makedirs(outdir, exist_ok=True)
    with open(os.path.join(outdir, "cases.jsonl"), "w", encoding="utf-8") as f:
        for c in cases:
            f.write(json.dumps(c, ensure_ascii=False) + "\n")
    print("make_pairs: %d records, %d articles" % (len(cases), len(ids)),
          flush=True)


if __name__ == "__main__":
    main()
