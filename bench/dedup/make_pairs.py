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
    url_cases(ids, urls, cases)
    os.makedirs(outdir, exist_ok=True)
    with open(os.path.join(outdir, "cases.jsonl"), "w", encoding="utf-8") as f:
        for c in cases:
            f.write(json.dumps(c, ensure_ascii=False) + "\n")
    print("make_pairs: %d records, %d articles" % (len(cases), len(ids)),
          flush=True)


if __name__ == "__main__":
    main()
