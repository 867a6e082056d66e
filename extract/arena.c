/*
 * arena.c - one region per thread for libxml2's allocations while a page is
 * cleaned (see arena.h).
 */
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/parser.h>
#include <libxml/xmlerror.h>
#include <libxml/xmlmemory.h>

#include "arena.h"

#if defined(__SANITIZE_ADDRESS__)
#define ARENA_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define ARENA_ASAN 1
#endif
#endif
#ifdef ARENA_ASAN
#include <sanitizer/asan_interface.h>
#define POISON(p, n)	ASAN_POISON_MEMORY_REGION((p), (n))
#define UNPOISON(p, n)	ASAN_UNPOISON_MEMORY_REGION((p), (n))
#else
#define POISON(p, n)	((void)(p), (void)(n))
#define UNPOISON(p, n)	((void)(p), (void)(n))
#endif

#define ARENA_ALIGN	8u	/* enough for libxml2: pointers, no long double */
#define ARENA_HDR	sizeof(size_t)	/* before each block: its size */
#define ARENA_CHUNK_MIN	(256u << 10)
#define ARENA_CHUNK_MAX	(16u << 20)	/* growth stops doubling here */
#define ARENA_SMALL	128u		/* freed blocks this small are reused */

#define ROUND(n)	(((n) + ARENA_ALIGN - 1) & ~(size_t)(ARENA_ALIGN - 1))

struct chunk {
	struct chunk	*prev;		/* older */
	size_t		 size;		/* bytes in data */
	size_t		 used;
	max_align_t	 data[];
};

struct region {
	struct chunk	*cur;		/* newest chunk, or the kept one */
	void		*last;		/* last block handed out, in cur */
	/* Freed small blocks by size (rounded), each holding the next: the
	 * parser frees and makes a short string at every tag. */
	void		*small[ARENA_SMALL / ARENA_ALIGN + 1];
	size_t		 used;		/* bytes handed out since begin */
	bool		 open;
};

static _Thread_local struct region region;

static pthread_once_t arena_once = PTHREAD_ONCE_INIT;
static pthread_key_t arena_key;		/* frees the kept chunk at exit */
static bool arena_on;
static xmlFreeFunc prev_free;
static xmlMallocFunc prev_malloc;
static xmlReallocFunc prev_realloc;
static xmlStrdupFunc prev_strdup;

static void *region_malloc(size_t n);
static void region_free(void *p);
static void *region_realloc(void *p, size_t n);
static char *region_strdup(const char *s);

static void
arena_thread_end(void *kept)
{
	struct chunk *c = kept;

	/* Other destructors of the thread (libxml2's own) may still free
	 * through region_free(): it must not look at this chunk then. */
	if (region.cur == c) {
		region.cur = NULL;
		region.open = false;
	}
	if (c != NULL) {
		UNPOISON(c->data, c->size);
		free(c);
	}
}

static void
arena_install_once(void)
{
	xmlFreeFunc f;
	xmlMallocFunc m;
	xmlReallocFunc r;
	xmlStrdupFunc s;

	/* libxml2's global tables (encoding handlers among them) must not
	 * be made inside a region, whose end would take them. */
	xmlInitParser();
	if (xmlMemGet(&f, &m, &r, &s) != 0)
		return;
	/* Functions of the program's own (a debugging allocator, say) are
	 * left alone: no regions then. */
	if (f != free || m != malloc || r != realloc)
		return;
	if (pthread_key_create(&arena_key, arena_thread_end) != 0)
		return;
	prev_free = f;
	prev_malloc = m;
	prev_realloc = r;
	prev_strdup = s;
	if (xmlMemSetup(region_free, region_malloc, region_realloc,
	    region_strdup) == 0)
		arena_on = true;
}

bool
arena_install(void)
{
	(void)pthread_once(&arena_once, arena_install_once);
	return arena_on;
}

/* The chunk of r that holds p, or NULL. */
static struct chunk *
region_chunk(const struct region *r, const void *p)
{
	uintptr_t a = (uintptr_t)p;
	struct chunk *c;

	for (c = r->cur; c != NULL; c = c->prev)
		if (a >= (uintptr_t)c->data && a - (uintptr_t)c->data < c->size)
			return c;
	return NULL;
}

static struct chunk *
region_grow(struct region *r, size_t need)
{
	size_t size = ARENA_CHUNK_MIN;
	struct chunk *c;

	if (r->cur != NULL)
		size = r->cur->size >= ARENA_CHUNK_MAX / 2 ? ARENA_CHUNK_MAX :
		    r->cur->size * 2;
	if (size < need)
		size = need;
	if (size > SIZE_MAX - sizeof(*c))
		return NULL;
	if ((c = malloc(sizeof(*c) + size)) == NULL)
		return NULL;
	c->prev = r->cur;
	c->size = size;
	c->used = 0;
	POISON(c->data, size);
	r->cur = c;
	return c;
}

static void *
region_alloc(struct region *r, size_t n)
{
	struct chunk *c = r->cur;
	size_t need;
	char *p;

	if (n > SIZE_MAX / 2)
		return NULL;
	need = ARENA_HDR + ROUND(n > 0 ? n : 1);
	if (need - ARENA_HDR <= ARENA_SMALL &&
	    (p = r->small[(need - ARENA_HDR) / ARENA_ALIGN]) != NULL) {
		/* The link fills the block's first word, past n when n is
		 * under 8: open the whole block to read it, then close the
		 * tail again. */
		UNPOISON(p - sizeof(size_t), need);
		memcpy(&r->small[(need - ARENA_HDR) / ARENA_ALIGN], p,
		    sizeof(void *));
		memcpy(p - sizeof(size_t), &n, sizeof(n));
		POISON(p + n, need - ARENA_HDR - n);
		return p;
	}
	if (c == NULL || c->size - c->used < need)
		if ((c = region_grow(r, need)) == NULL)
			return NULL;
	p = (char *)c->data + c->used + ARENA_HDR;
	UNPOISON(p - sizeof(size_t), sizeof(size_t) + n);
	memcpy(p - sizeof(size_t), &n, sizeof(n));
	c->used += need;
	r->used += need;
	r->last = p;
	return p;
}

static size_t
block_size(const void *p)
{
	size_t n;

	memcpy(&n, (const char *)p - sizeof(n), sizeof(n));
	return n;
}

static void *
region_malloc(size_t n)
{
	struct region *r = &region;

	return r->open ? region_alloc(r, n) : prev_malloc(n);
}

/* Block p of r, in chunk c, is free: the last one gives its room back,
 * a small one goes to its size's list, a larger one stays until the
 * end. */
static void
region_drop(struct region *r, struct chunk *c, void *p)
{
	size_t cap = ROUND(block_size(p) > 0 ? block_size(p) : 1);

	if (p == r->last) {
		c->used -= ARENA_HDR + cap;
		r->used -= ARENA_HDR + cap;
		r->last = NULL;
		POISON((char *)p - ARENA_HDR, ARENA_HDR + cap);
	} else if (cap <= ARENA_SMALL) {
		/* cap is at least a word, but only the block's n bytes were
		 * open to the sanitizer. */
		UNPOISON(p, sizeof(void *));
		memcpy(p, &r->small[cap / ARENA_ALIGN], sizeof(void *));
		r->small[cap / ARENA_ALIGN] = p;
		POISON((char *)p + sizeof(void *), cap - sizeof(void *));
	}
}

static void
region_free(void *p)
{
	struct region *r = &region;
	struct chunk *c;

	if (p == NULL)
		return;
	if ((c = region_chunk(r, p)) == NULL) {
		prev_free(p);
		return;
	}
	/* Ours: nothing to do, unless it is the last block, whose room the
	 * next one takes.  (Outside a region this is a block of a page
	 * gone, in the kept chunk: ignored too.) */
	if (r->open)
		region_drop(r, c, p);
}

static void *
region_realloc(void *p, size_t n)
{
	struct region *r = &region;
	struct chunk *c;
	size_t old, at, want;
	void *q;

	if (p == NULL)
		return region_malloc(n);
	if ((c = region_chunk(r, p)) == NULL)
		return prev_realloc(p, n);
	if (!r->open || n > SIZE_MAX / 2)
		return NULL;	/* a page gone: cannot be */
	old = block_size(p);
	/* The last block grows or shrinks where it is. */
	if (p == r->last) {
		at = (size_t)((char *)p - (char *)c->data);
		want = ROUND(n > 0 ? n : 1);
		if (want <= c->size - at) {
			r->used = r->used - (c->used - at) + want;
			c->used = at + want;
			UNPOISON(p, n);
			memcpy((char *)p - sizeof(n), &n, sizeof(n));
			return p;
		}
	}
	if ((q = region_alloc(r, n)) == NULL)
		return NULL;
	memcpy(q, p, old < n ? old : n);
	region_drop(r, c, p);
	return q;
}

static char *
region_strdup(const char *s)
{
	size_t n = strlen(s) + 1;
	char *p;

	if (!region.open)
		return prev_strdup(s);
	if ((p = region_alloc(&region, n)) != NULL)
		memcpy(p, s, n);
	return p;
}

bool
arena_begin(void)
{
	struct region *r = &region;

	if (!arena_install() || r->open)
		return false;
	r->open = true;
	r->used = 0;
	r->last = NULL;
	memset(r->small, 0, sizeof(r->small));
	return true;
}

void
arena_end(void)
{
	struct region *r = &region;
	struct chunk *c, *prev, *keep = NULL;

	if (!r->open)
		return;
	/* libxml2 keeps the thread's last error, whose strings came from
	 * the region: forget it while frees are still the region's. */
	xmlResetLastError();
	r->open = false;
	for (c = r->cur; c != NULL; c = c->prev)
		if (c->size <= ARENA_KEEP && (keep == NULL || c->size > keep->size))
			keep = c;
	for (c = r->cur; c != NULL; c = prev) {
		prev = c->prev;
		if (c != keep) {
			UNPOISON(c->data, c->size);
			free(c);
		}
	}
	if (keep != NULL) {
		keep->prev = NULL;
		keep->used = 0;
		POISON(keep->data, keep->size);
	}
	r->cur = keep;
	r->last = NULL;
	r->used = 0;
	(void)pthread_setspecific(arena_key, keep);
}

size_t
arena_used(void)
{
	return region.open ? region.used : 0;
}
