/*
 * mem.c - the importer's memory: an arena that every kept string, attribute and span array is
 * copied into (freed at once with the importer), growable tables, and the hash behind every ID
 * the importer derives.
 */
#include <stdlib.h>
#include <string.h>

#include "import/import_int.h"

#define BLOCK_BYTES (64u << 10)

typedef struct hx__arena_blk {
	struct hx__arena_blk *next;
	size_t used, cap;
	max_align_t align[];        /* the data, aligned for any type */
} hx__arena_blk;

void *hx__arena_alloc(hx__arena *a, size_t n)
{
	n = (n + 15) & ~(size_t)15;
	if (n == 0)
		n = 16;
	hx__arena_blk *b = a->head;
	if (!b || b->cap - b->used < n) {
		/* a large request gets a block of its own, behind the current one, so the space
		 * left in the current block is not wasted */
		size_t cap = n > BLOCK_BYTES / 4 ? n : BLOCK_BYTES;
		hx__arena_blk *nb = malloc(sizeof(*nb) + cap);
		if (!nb)
			return NULL;
		nb->used = 0;
		nb->cap = cap;
		a->bytes += cap;
		if (b && cap != BLOCK_BYTES) {
			nb->next = b->next;
			b->next = nb;
		} else {
			nb->next = b;
			a->head = nb;
		}
		b = nb;
	}
	void *p = (char *)b->align + b->used;
	b->used += n;
	memset(p, 0, n);
	return p;
}

char *hx__arena_strdup(hx__arena *a, const char *s, size_t n)
{
	char *p = hx__arena_alloc(a, n + 1);
	if (!p)
		return NULL;
	if (n)
		memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

void hx__arena_free(hx__arena *a)
{
	hx__arena_blk *b = a->head;
	while (b) {
		hx__arena_blk *next = b->next;
		free(b);
		b = next;
	}
	a->head = NULL;
	a->bytes = 0;
}

int hx__grow(void **p, size_t *cap, size_t need, size_t elem)
{
	if (need <= *cap)
		return 0;
	size_t c = *cap ? *cap : 16;
	while (c < need) {
		if (c > SIZE_MAX / 2 / elem)
			return -1;
		c *= 2;
	}
	void *q = realloc(*p, c * elem);
	if (!q)
		return -1;
	*p = q;
	*cap = c;
	return 0;
}

/* splitmix64's finaliser: every input bit moves every output bit */
uint64_t hx__imp_mix(uint64_t x)
{
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ull;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebull;
	x ^= x >> 31;
	return x ? x : 1; /* 0 is "none" for entity IDs */
}

uint64_t hx__imp_hash(uint64_t seed, const void *p, size_t n)
{
	const unsigned char *s = p;
	uint64_t h = 0xcbf29ce484222325ull ^ hx__imp_mix(seed);
	for (size_t i = 0; i < n; i++) {
		h ^= s[i];
		h *= 0x100000001b3ull;
	}
	/* the length too, so that ("ab", "c") and ("a", "bc") differ when chained */
	return hx__imp_mix(h ^ (uint64_t)n);
}
