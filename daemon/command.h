/*
 * command.h - the control commands' handlers (see docs/protocol.md).
 */
#ifndef SLUICE_COMMAND_H
#define SLUICE_COMMAND_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>
#include <lmdb.h>

struct daemon;
struct ctl_conn;

/* Parses and runs one request line from client c. */
void command_dispatch(struct daemon *d, struct ctl_conn *c, const char *line,
    size_t len);
/* {"ok":true,"job":{...}} for job id, or a not_found/internal error. */
json_t *command_job_reply(struct daemon *d, MDB_txn *txn, uint64_t id);
/* Copies the request's "tag" (if any) into reply. */
void command_tag(json_t *req, json_t *reply);
void command_tag_value(json_t *tag, json_t *reply);

#endif
