/*
 * js-pub: JetStream's own publish rate, the baseline of
 * bench/cluster/run.sh submit.  Debian 12 ships no NATS benchmark tool
 * (nats-server comes without `nats bench`, libnats-dev without examples),
 * so this publishes what sluiced's submit publishes: messages the size of
 * a SLUICE_FETCH message (a JSON body with a URL, a Nats-Msg-Id header)
 * on subjects spread over the partitions and hosts, to a work-queue file
 * stream of its own with the same replicas, in batches that are each
 * acknowledged whole before the next starts, as a submission of one batch
 * is.
 *
 *   js-pub [-s URLS] [-S STREAM] [-r REPLICAS] [-n COUNT] [-b BATCH]
 *          [-p PARTITIONS] [-u URL_BYTES] [--sync] [--keep]
 *
 * Prints one line: "published N seconds S rate R batch_ms_median M
 * batch_ms_max X errors E"; exits 1 if any publish failed.  The stream
 * (default BENCH_FETCH, subjects bench.fetch.>) is made if missing and
 * deleted at the end unless --keep.
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <nats/nats.h>

static long	 pub_errors;

static void
usage(void)
{
	fprintf(stderr, "usage: js-pub [-s URLS] [-S STREAM] [-r REPLICAS] "
	    "[-n COUNT] [-b BATCH]\n"
	    "              [-p PARTITIONS] [-u URL_BYTES] [--sync] "
	    "[--keep]\n");
	exit(2);
}

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void
pub_err(jsCtx *js, jsPubAckErr *pae, void *arg)
{
	(void)js;
	(void)arg;
	if (pub_errors++ == 0)
		fprintf(stderr, "js-pub: publish failed: %s (%d)\n",
		    pae->ErrText != NULL ? pae->ErrText :
		    natsStatus_GetText(pae->Err), (int)pae->ErrCode);
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static long
number(const char *s, long lo, long hi)
{
	char *end;
	long v = strtol(s, &end, 10);

	if (*s == '\0' || *end != '\0' || v < lo || v > hi)
		usage();
	return v;
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "sync", no_argument, NULL, 'y' },
		{ "keep", no_argument, NULL, 'k' },
		{ NULL, 0, NULL, 0 },
	};
	const char *urls = "nats://127.0.0.1:4222", *stream = "BENCH_FETCH";
	const char *subjects[] = { "bench.fetch.>" };
	long replicas = 3, count = 100000, batch = 1000, parts = 64;
	long urlbytes = 70;
	int sync = 0, keep = 0, c;
	natsConnection *nc = NULL;
	jsCtx *js = NULL;
	jsOptions jo;
	jsStreamConfig sc;
	jsStreamInfo *si = NULL;
	jsErrCode jerr = 0;
	natsStatus s;
	char subj[64], id[64], body[4096], url[2048];
	double t0, t1, *lat;
	long nb, done = 0, bi = 0;

	while ((c = getopt_long(argc, argv, "s:S:r:n:b:p:u:", longopts,
	    NULL)) != -1) {
		switch (c) {
		case 's': urls = optarg; break;
		case 'S': stream = optarg; break;
		case 'r': replicas = number(optarg, 1, 5); break;
		case 'n': count = number(optarg, 1, 100000000); break;
		case 'b': batch = number(optarg, 1, 1000000); break;
		case 'p': parts = number(optarg, 1, 1024); break;
		case 'u': urlbytes = number(optarg, 24, 2000); break;
		case 'y': sync = 1; break;
		case 'k': keep = 1; break;
		default: usage();
		}
	}
	if (optind != argc)
		usage();
	nb = (count + batch - 1) / batch;
	if ((lat = calloc(nb, sizeof(*lat))) == NULL)
		return 1;

	if ((s = natsConnection_ConnectTo(&nc, urls)) != NATS_OK) {
		fprintf(stderr, "js-pub: cannot connect to %s: %s\n", urls,
		    natsStatus_GetText(s));
		return 1;
	}
	jsOptions_Init(&jo);
	jo.PublishAsync.MaxPending = batch;
	jo.PublishAsync.ErrHandler = pub_err;
	if ((s = natsConnection_JetStream(&js, nc, &jo)) != NATS_OK)
		goto fail;

	jsStreamConfig_Init(&sc);
	sc.Name = stream;
	sc.Subjects = subjects;
	sc.SubjectsLen = 1;
	sc.Retention = js_WorkQueuePolicy;
	sc.Storage = js_FileStorage;
	sc.Replicas = replicas;
	s = js_AddStream(&si, js, &sc, NULL, &jerr);
	if (s != NATS_OK) {
		fprintf(stderr, "js-pub: cannot make stream %s: %s (%d)\n",
		    stream, nats_GetLastError(NULL), (int)jerr);
		goto fail;
	}
	jsStreamInfo_Destroy(si);

	/* A URL of the asked length, padded, as a submission's would be. */
	snprintf(url, sizeof(url), "https://www.example.com/");
	memset(url + strlen(url), 'a', urlbytes - strlen(url));
	url[urlbytes] = '\0';

	t0 = now_s();
	while (done < count) {
		long n = count - done < batch ? count - done : batch;
		double b0 = now_s();

		for (long i = 0; i < n; i++) {
			long k = done + i;
			jsPubOptions po;
			jsPubAck *pa = NULL;
			int len;

			/* Hosts spread over the partitions: host k % 4096. */
			snprintf(subj, sizeof(subj), "bench.fetch.p%ld.%016"
			    PRIx64, (k % 4096) % parts,
			    (uint64_t)(k % 4096) * UINT64_C(0x9e3779b97f4a7c15));
			snprintf(id, sizeof(id), "bench-%ld-%ld", (long)t0, k);
			len = snprintf(body, sizeof(body), "{\"url\":\"%s\","
			    "\"priority\":0,\"not_before\":1796000000000,"
			    "\"force\":false,\"from\":\"n01\"}", url);
			jsPubOptions_Init(&po);
			po.MsgId = id;
			if (sync) {
				s = js_Publish(&pa, js, subj, body, len, &po,
				    &jerr);
				jsPubAck_Destroy(pa);
				if (s != NATS_OK && pub_errors++ == 0)
					fprintf(stderr, "js-pub: publish "
					    "failed: %s\n",
					    natsStatus_GetText(s));
			} else if ((s = js_PublishAsync(js, subj, body, len,
			    &po)) != NATS_OK) {
				fprintf(stderr, "js-pub: %s\n",
				    natsStatus_GetText(s));
				goto fail;
			}
		}
		if (!sync) {
			jsPubOptions po;

			jsPubOptions_Init(&po);
			po.MaxWait = 30000;
			if ((s = js_PublishAsyncComplete(js, &po)) !=
			    NATS_OK) {
				fprintf(stderr, "js-pub: batch not "
				    "acknowledged: %s\n",
				    natsStatus_GetText(s));
				goto fail;
			}
		}
		lat[bi++] = (now_s() - b0) * 1000;
		done += n;
	}
	t1 = now_s();
	qsort(lat, bi, sizeof(*lat), cmp_double);
	printf("published %ld seconds %.3f rate %.1f batch_ms_median %.2f "
	    "batch_ms_max %.2f errors %ld\n", done, t1 - t0,
	    done / (t1 - t0), lat[bi / 2], lat[bi - 1], pub_errors);

	if (!keep && js_DeleteStream(js, stream, NULL, &jerr) != NATS_OK)
		fprintf(stderr, "js-pub: stream %s not deleted: %s\n", stream,
		    nats_GetLastError(NULL));
	jsCtx_Destroy(js);
	natsConnection_Destroy(nc);
	nats_Close();
	free(lat);
	return pub_errors > 0;

fail:
	if (s != NATS_OK)
		fprintf(stderr, "js-pub: %s\n", nats_GetLastError(NULL) ?
		    nats_GetLastError(NULL) : natsStatus_GetText(s));
	jsCtx_Destroy(js);
	natsConnection_Destroy(nc);
	nats_Close();
	free(lat);
	return 1;
}
