/*
 * arena.h - one region per thread for libxml2's allocations while a page is
 * cleaned.
 *
 * Building the tree is most of a page's cost, and a third of that went to
 * malloc and free: libxml2 allocates every node, attribute and text on its
 * own, and frees each again at xmlFreeDoc.  In a program with threads each
 * of those calls also takes the arena lock of glibc's malloc.  Between
 * arena_begin() and arena_end() on one thread, libxml2's allocations are
 * carved from large chunks instead, its frees cost next to nothing (the
 * last block is given back, and small blocks, up to 128 bytes, are handed
 * out again: the parser frees and makes a short string at every tag), and
 * arena_end() drops it all at once, without walking the tree.
 *
 * How: arena_install() puts the region's functions in libxml2's
 * xmlMemSetup().  Outside a region, and for any pointer the region did not
 * hand out, they call the functions that were there before, so the rest
 * of the program's libxml2 use (the daemon's feeds, for one) is as it was.
 * If a program had set functions of its own, arena_install() leaves them
 * and no region is used.
 *
 * Rules for the code between begin and end: nothing libxml2 allocated may
 * be kept past arena_end() (the cleaner copies what it keeps with malloc),
 * and the region is the calling thread's: a tree parsed in it is freed on
 * the same thread.  Under AddressSanitizer the region's free memory is
 * poisoned, so a pointer kept past the end is reported where it is used.
 *
 * Memory: arena_used() is what the region has taken from its chunks
 * (freed blocks still in it), the figure the cleaner's budget bounds
 * (max_tree_bytes in html.h).  Between pages a thread keeps one chunk of at most
 * ARENA_KEEP bytes; the rest goes back to malloc.
 */
#ifndef SLUICE_ARENA_H
#define SLUICE_ARENA_H

#include <stdbool.h>
#include <stddef.h>

#define ARENA_KEEP	(4u << 20)	/* chunk kept per thread between pages */

/* Calls xmlInitParser() and installs the region's functions in libxml2,
 * once per process; true if regions are in use.  Call before threads use
 * libxml2 (the first arena_begin() calls it too). */
bool arena_install(void);
/* Opens this thread's region: false (and nothing changes) if regions are
 * not in use or one is open already. */
bool arena_begin(void);
/* Drops everything allocated in this thread's region since arena_begin()
 * returned true. */
void arena_end(void);
/* Bytes handed out by this thread's open region (0 if none). */
size_t arena_used(void);

#endif
