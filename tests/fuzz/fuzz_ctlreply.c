/*
 * fuzz_ctlreply.c - whatever a daemon (or something posing as one) sends,
 * sluicectl's reply formatters must not crash: each input is read as reply
 * lines through the real line reader, and every formatter runs on each
 * parsed line.  The same bytes are then fed to `submit -`'s URL reader and
 * batcher, whose requests must stay within their byte limit.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>

#include "ctlclient.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
format_all(FILE *out, const json_t *r)
{
	size_t i;
	json_t *v;
	char text[256];

	ctlclient_print_status(out, r);
	ctlclient_print_object(out, r);
	ctlclient_print_jobs(out, json_object_get(r, "jobs"), 1);
	ctlclient_print_reload(out, r);
	ctlclient_print_job(out, r);
	ctlclient_print_doc(out, r);
	ctlclient_print_paused(out, r);
	ctlclient_print_retried(out, r);
	ctlclient_print_drained(out, r);
	ctlclient_print_idle(out, r);
	ctlclient_error_text(r, text, sizeof(text));
	json_array_foreach(json_object_get(r, "results"), i, v)
		ctlclient_print_submit_result(out, v);
}

/* The input as reply lines, through a socketpair and the line reader. */
static void
fuzz_replies(const uint8_t *data, size_t size, FILE *out)
{
	struct ctlclient c;
	const char *line;
	size_t len;
	char err[256];
	json_t *r;
	int sv[2];

	if (size > 100000 || socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == -1)
		return;
	/* Fits the socket buffer, so one thread can write then read. */
	if (write(sv[1], data, size) != (ssize_t)size) {
		close(sv[0]);
		close(sv[1]);
		return;
	}
	close(sv[1]);
	ctlclient_init(&c, 4096);
	ctlclient_attach(&c, sv[0]);
	ctlclient_set_timeout(&c, 1000);
	while (ctlclient_read_reply(&c, &r, &line, &len, err,
	    sizeof(err)) == 1) {
		if (strlen(line) > len)
			abort();
		format_all(out, r);
		json_decref(r);
	}
	ctlclient_close(&c);
}

/* The input as a `submit -` URL list, batched under a small limit. */
static void
fuzz_batches(const uint8_t *data, size_t size)
{
	const size_t max_request = 1024;
	struct ctlclient_batch b;
	FILE *in = fmemopen((void *)data, size, "r");
	char buf[max_request + 2], *url, *line;
	uint64_t lineno = 0;
	json_t *urls;
	int rc;

	if (in == NULL || ctlclient_batch_init(&b, 7, max_request) == -1)
		goto out;
	while ((rc = ctlclient_read_url(in, buf, sizeof(buf), &url,
	    &lineno)) != 0) {
		if (rc == -1 || ctlclient_batch_add(&b, url) !=
		    CTLCLIENT_ADD_FULL)
			continue;
		urls = ctlclient_batch_take(&b);
		line = json_dumps(urls, JSON_COMPACT);
		if (line != NULL && strlen(line) + CTLCLIENT_REQUEST_OVERHEAD >
		    max_request)
			abort();
		free(line);
		json_decref(urls);
	}
out:
	ctlclient_batch_free(&b);
	if (in != NULL)
		fclose(in);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	FILE *out = fopen("/dev/null", "w");

	if (out == NULL)
		return 0;
	fuzz_replies(data, size, out);
	fuzz_batches(data, size);
	fclose(out);
	return 0;
}
