#!/usr/bin/python3
"""Baseline: readability-lxml (Debian python3-readability) in batch mode.

    /usr/bin/python3 readability_lxml.py HTML_DIR OUT.json

Writes {"version": ..., "output": {id: {"articleBody": text}}} for
extract-run --batch-cmd.  Text is the summary HTML's blocks, one per line.
"""
import json
import os
import sys

import lxml.html
from readability import Document

BLOCKS = {"p", "div", "li", "h1", "h2", "h3", "h4", "h5", "h6", "pre",
          "blockquote", "tr", "td", "th", "dd", "dt", "section", "article",
          "br", "table", "ul", "ol"}


def text_of(html):
    if not html.strip():
        return ""
    root = lxml.html.fromstring(html)
    parts = []
    for el in root.iter():
        if not isinstance(el.tag, str):
            continue
        if el.tag in BLOCKS:
            parts.append("\n")
        if el.text:
            parts.append(el.text)
        if el.tail:
            parts.append(el.tail)
    lines = (" ".join(line.split()) for line in "".join(parts).split("\n"))
    return "\n".join(line for line in lines if line)


def main():
    src, out = sys.argv[1], sys.argv[2]
    res = {}
    for name in sorted(os.listdir(src)):
        if not name.endswith(".html"):
            continue
        with open(os.path.join(src, name), "rb") as f:
            raw = f.read()
        try:
            text = text_of(Document(raw).summary(html_partial=True))
        except Exception:  # an extractor failure scores as empty text
            text = ""
        res[name[:-5]] = {"articleBody": text}
    with open(out, "w", encoding="utf-8") as f:
        json.dump({"version": "readability-lxml", "output": res}, f)


if __name__ == "__main__":
    main()
