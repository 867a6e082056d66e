/*
 * export.h - the export command: the stored documents streamed to a client
 * as it reads, in fetch order, filtered and shaped as the request asks
 * (docs/protocol.md, "export").
 */
#ifndef SLUICE_EXPORT_H
#define SLUICE_EXPORT_H

#include <jansson.h>

struct cluster;
struct ctl_conn;
struct event_base;
struct docs;
struct store;

/* Starts the export req (parsed by proto.c) for client c; it answers c
 * itself, line by line, and ends with the final line or an error. */
void export_start(struct store *store, struct docs *docs, struct ctl_conn *c,
    json_t *req);

/* export --cluster: the same lines, read from the cluster's SLUICE_DOCS
 * stream (cluster.h) instead of the store; no filter but since. */
void export_cluster_start(struct cluster *cl, struct event_base *base,
    struct ctl_conn *c, json_t *req);

#endif
