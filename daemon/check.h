/*
 * check.h - sluiced --check: walks the store and cross-checks its
 * records and indexes, without starting the daemon.
 */
#ifndef SLUICE_CHECK_H
#define SLUICE_CHECK_H

#include <stdio.h>

struct config;

/*
 * Opens the store of cfg (under its lock: the daemon must not run), then
 * checks every job and document record's checksum and every index
 * against the records (queue_check, doc_check).  Prints one line per
 * problem, then a summary, to out.  Returns 0 if the store is sound, 1 if
 * it is damaged or cannot be opened (the line says why).
 */
int check_store(const struct config *cfg, unsigned store_flags, FILE *out);

#endif
