"""Baseline for bench/ingest/run.sh: Scrapy + readability-lxml.

    /usr/bin/python3 -m scrapy runspider spider.py -a urls=URLS.txt -O out.jsonl

The stack a Python user would reach for to fetch pages and keep their main
text: Scrapy's downloader at the same concurrency as sluiced, readability's
Document(...).summary() and title on every response, tags stripped with lxml,
one {url, title, text} JSON line per page.  Debian's python3-scrapy and
python3-readability, hence /usr/bin/python3 (pyenv's python does not see
Debian's dist-packages).
"""
import os
import sys

import scrapy
from readability import Document

# The summary-to-text step of bench/extract's readability baseline, so this
# row runs the very extractor whose accuracy that benchmark reports.
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "extract"))
from readability_lxml import text_of  # noqa: E402


class ReadabilitySpider(scrapy.Spider):
    name = "readability-bench"
    custom_settings = {
        "CONCURRENT_REQUESTS": 64,
        "CONCURRENT_REQUESTS_PER_DOMAIN": 64,
        "DOWNLOAD_DELAY": 0,
        "AUTOTHROTTLE_ENABLED": False,
        "ROBOTSTXT_OBEY": True,
        "LOG_LEVEL": "WARNING",
        # The value new Scrapy projects get; the default only warns.
        "REQUEST_FINGERPRINTER_IMPLEMENTATION": "2.7",
        # A debugging port has no place in a benchmark on a shared machine.
        "TELNETCONSOLE_ENABLED": False,
    }

    def __init__(self, urls=None, **kw):
        super().__init__(**kw)
        if not urls:
            raise ValueError("pass the URL list with -a urls=FILE")
        self.url_file = urls

    def start_requests(self):
        with open(self.url_file, encoding="utf-8") as f:
            for line in f:
                url = line.strip()
                if url:
                    yield scrapy.Request(url, dont_filter=True)

    def parse(self, response):
        try:
            doc = Document(response.text)
            title = doc.title()
            text = text_of(doc.summary(html_partial=True))
        except Exception as e:  # a page readability rejects stays counted
            self.logger.warning("readability failed on %s: %s",
                                response.url, e)
            title, text = None, ""
        yield {"url": response.url, "title": title, "text": text}
