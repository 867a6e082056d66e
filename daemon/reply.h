/*
 * reply.h - the submit command's reply, written as JSON text while the
 * turn applies the submission.
 *
 * A submit reply holds one result per URL, thousands in a batch.  Built as
 * jansson objects and then dumped, it took a fifth of the loop thread's
 * time under load (bench/submit): an object, three strings and an integer
 * allocated and freed per URL.  Here each result is appended as text as it
 * is decided.  Only the fixed parts are written by hand: any string that
 * could need escaping (a rejected URL as given, a request's tag) goes
 * through jansson.  docs/protocol.md has the format.
 */
#ifndef SLUICE_REPLY_H
#define SLUICE_REPLY_H

#include <stdint.h>

#include <jansson.h>

#include "url.h"
#include "util.h"

struct submit_result;

struct submit_reply {
	struct buf	 results;	/* "results" members, comma-separated */
	uint64_t	 queued;
	uint64_t	 duplicates;
	uint64_t	 rejected;
	uint64_t	 forwarded;	/* cluster mode: sent to the frontier */
	bool		 cluster;	/* a cluster node's: says forwarded */
};

void submit_reply_init(struct submit_reply *r);
/* Forgets every result (a turn that is replayed adds them again). */
void submit_reply_reset(struct submit_reply *r);
void submit_reply_free(struct submit_reply *r);
/* Adds one URL's result: res for an accepted URL (its canonical form url),
 * status for a rejected one (url NULL, given as submitted).  Returns 0, or
 * -1 when memory is short. */
int submit_reply_add(struct submit_reply *r, const char *given,
    const char *url, enum url_status status,
    const struct submit_result *res);
/* Adds one URL published to the cluster's frontier, in partition part.
 * Returns 0, or -1 when memory is short. */
int submit_reply_add_forwarded(struct submit_reply *r, const char *url,
    uint32_t part);
/* Appends the whole reply object to out, with tag (the request's, may be
 * NULL) echoed.  Returns 0, or -1 if out refuses it. */
int submit_reply_write(const struct submit_reply *r, json_t *tag,
    struct buf *out);

#endif
