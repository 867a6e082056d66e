/*
 * bench_feed_parse.c - CPU time and peak memory of parsing a 50,000-entry
 * sitemap (the sitemaps.org maximum) with feed_parse(), plain and
 * gzipped, against two baselines measured in the same run: a child that
 * only reads the input (the memory every mode pays for it), and libxml2's
 * bare streaming reader over the same bytes (the parser's own cost, with
 * no state machine and no entries kept).
 *
 * Each measurement runs in its own forked child, so each peak RSS
 * (getrusage ru_maxrss) is its own; the input is built before the fork.
 * Usage: bench-feed-parse [entries] [rounds]
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <libxml/xmlreader.h>
#include <zlib.h>

#include "buf.h"
#include "feed.h"

struct sample {
	double	cpu_ms;
	long	maxrss_kb;
	size_t	entries;
};

static struct buf xml, gz;

static double
cpu_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static void
build(int n)
{
	z_stream zs = { 0 };
	int i;

	buf_init(&xml, 1U << 30);
	buf_appendf(&xml, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<urlset "
	    "xmlns=\"http://www.sitemaps.org/schemas/sitemap/0.9\">\n");
	for (i = 0; i < n; i++)
		buf_appendf(&xml, "  <url>\n    <loc>https://news.example.com/"
		    "2026/12/%02d/story-%07d-some-words-of-the-headline.html"
		    "</loc>\n    <lastmod>2026-12-%02dT%02d:%02d:00+00:00"
		    "</lastmod>\n    <changefreq>daily</changefreq>\n  </url>\n",
		    i % 28 + 1, i, i % 28 + 1, i % 24, i % 60);
	buf_appendf(&xml, "</urlset>\n");
	buf_init(&gz, 1U << 30);
	if (buf_presize(&gz, xml.len) == -1 ||
	    deflateInit2(&zs, 6, Z_DEFLATED, 16 + MAX_WBITS, 8,
	    Z_DEFAULT_STRATEGY) != Z_OK)
		exit(2);
	zs.next_in = (unsigned char *)xml.data;
	zs.avail_in = (uInt)xml.len;
	zs.next_out = (unsigned char *)gz.data;
	zs.avail_out = (uInt)xml.len;
	if (deflate(&zs, Z_FINISH) != Z_STREAM_END)
		exit(2);
	gz.len = zs.total_out;
	deflateEnd(&zs);
}

/* The work of one mode; returns the entries found. */
static size_t
work(int mode)
{
	struct feed_doc *d = NULL;
	xmlTextReaderPtr r;
	size_t n = 0, i;
	unsigned sum = 0;

	switch (mode) {
	case 0:		/* touch the input */
		for (i = 0; i < xml.len; i += 64)
			sum += (unsigned char)xml.data[i];
		return sum == 1;
	case 1:		/* bare libxml2 reader */
		r = xmlReaderForMemory(xml.data, (int)xml.len, NULL, NULL,
		    XML_PARSE_NONET | XML_PARSE_RECOVER | XML_PARSE_NOERROR |
		    XML_PARSE_NOWARNING);
		while (xmlTextReaderRead(r) == 1)
			if (xmlTextReaderNodeType(r) == 1 &&
			    xmlTextReaderDepth(r) == 1)
				n++;
		xmlFreeTextReader(r);
		return n;
	case 2:
	case 3:
		if (feed_parse(mode == 2 ? xml.data : gz.data,
		    mode == 2 ? xml.len : gz.len,
		    "https://news.example.com/sitemap.xml", NULL, &d) !=
		    FEED_OK)
			return 0;
		n = d->nentries;
		feed_doc_free(d);
		return n;
	}
	return 0;
}

static void
measure(int mode, struct sample *s)
{
	int fd[2], status;
	pid_t pid;

	if (pipe(fd) == -1 || (pid = fork()) == -1)
		exit(2);
	if (pid == 0) {
		struct rusage ru;
		double t0 = cpu_ms();

		close(fd[0]);
		s->entries = work(mode);
		s->cpu_ms = cpu_ms() - t0;
		getrusage(RUSAGE_SELF, &ru);
		s->maxrss_kb = ru.ru_maxrss;
		if (write(fd[1], s, sizeof(*s)) != sizeof(*s))
			_exit(1);
		_exit(0);
	}
	close(fd[1]);
	if (read(fd[0], s, sizeof(*s)) != sizeof(*s))
		exit(2);
	close(fd[0]);
	waitpid(pid, &status, 0);
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

int
main(int argc, char **argv)
{
	static const char *names[] = {
		"read input only", "libxml2 reader only", "feed_parse",
		"feed_parse, gzip",
	};
	int n = argc > 1 ? atoi(argv[1]) : 50000;
	int rounds = argc > 2 ? atoi(argv[2]) : 7;
	double cpu[4][64];
	long rss[4][64];
	struct sample s;
	size_t entries[4] = { 0 };
	int m, i;

	if (rounds < 1 || rounds > 64)
		rounds = 7;
	xmlInitParser();
	build(n);
	printf("sitemap of %d entries: %zu bytes, %zu gzipped; %d rounds, "
	    "modes interleaved\n", n, xml.len, gz.len, rounds);
	for (i = 0; i < rounds; i++)
		for (m = 0; m < 4; m++) {
			measure(m, &s);
			cpu[m][i] = s.cpu_ms;
			rss[m][i] = s.maxrss_kb;
			entries[m] = s.entries;
		}
	printf("%-22s %9s %19s %14s %8s\n", "mode", "CPU ms", "(min-max)",
	    "peak RSS MiB", "entries");
	for (m = 0; m < 4; m++) {
		long rmax = 0;

		for (i = 0; i < rounds; i++)
			if (rss[m][i] > rmax)
				rmax = rss[m][i];
		qsort(cpu[m], (size_t)rounds, sizeof(double), cmp_double);
		printf("%-22s %9.1f   (%6.1f - %6.1f) %14.1f %8zu\n", names[m],
		    cpu[m][rounds / 2], cpu[m][0], cpu[m][rounds - 1],
		    (double)rmax / 1024, m == 0 ? (size_t)0 : entries[m]);
	}
	buf_free(&xml);
	buf_free(&gz);
	return 0;
}
