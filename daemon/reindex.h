/*
 * reindex.h - after an upgrade of the duplicate index's format
 * (dedup_open() emptied the index), indexing the stored first copies again,
 * in batches of their own transactions, before the daemon takes work.  A
 * crash midway starts over at the next start: indexing a document twice
 * changes nothing.
 */
#ifndef SLUICE_REINDEX_H
#define SLUICE_REINDEX_H

#include <stddef.h>

struct dedup_dbs;
struct dedup_opts;
struct docs;
struct store;

/* Indexes every stored first copy again, growing the map as needed and
 * asking systemd for more start-up time after each batch.  0, or an LMDB
 * error with err set. */
int reindex_dedup(struct store *s, struct docs *docs, struct dedup_dbs *dedup,
    const struct dedup_opts *opts, char *err, size_t errlen);

#endif
