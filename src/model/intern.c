/*
 * intern.c - interned strings: each distinct name is stored once and events hold a 4-byte ID.
 *
 * A trace has few distinct names (tens to thousands) and many events, so interning turns the
 * names of 10 M events into one hash probe each and a table that fits in cache.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "model/dag_int.h"

int hx__dag_grow(void *p, size_t *cap, size_t need, size_t size)
{
	if (need <= *cap)
		return HX_OK;
	size_t c = *cap ? *cap : 16;
	while (c < need) {
		if (c > SIZE_MAX / 2 / size)
			return HX_ENOMEM;
		c *= 2;
	}
	void **pp = p;
	void *q = realloc(*pp, c * size);
	if (!q)
		return HX_ENOMEM;
	hx__dag_hugepages(q, c * size);
	*pp = q;
	*cap = c;
	return HX_OK;
}

#define HUGE_PAGE ((uintptr_t)2 << 20)

void hx__dag_hugepages(void *p, size_t n)
{
#ifdef MADV_HUGEPAGE
	/* Only the whole 2 MiB pages inside the block: the advice applies to the mapping malloc()
	 * made for it (blocks this large are mmap'ed), and mremap() carries it along on growth. An
	 * error only means small pages. */
	if (!p || n < 2 * HUGE_PAGE)
		return;
	uintptr_t lo = ((uintptr_t)p + HUGE_PAGE - 1) & ~(HUGE_PAGE - 1);
	uintptr_t hi = ((uintptr_t)p + n) & ~(HUGE_PAGE - 1);
	if (hi > lo)
		(void)madvise((void *)lo, hi - lo, MADV_HUGEPAGE);
#else
	(void)p;
	(void)n;
#endif
}

void *hx__dag_alloc(size_t n)
{
	void *p = malloc(n ? n : 1);
	hx__dag_hugepages(p, n);
	return p;
}

uint64_t hx__dag_hash64(uint64_t x)
{
	/* splitmix64's finaliser: every input bit reaches every output bit */
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ull;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebull;
	x ^= x >> 31;
	return x;
}

static uint64_t hash_bytes(const char *s, size_t n)
{
	uint64_t h = 0x9e3779b97f4a7c15ull ^ n;
	while (n >= 8) {
		uint64_t w;
		memcpy(&w, s, 8);
		h = (h ^ w) * 0xff51afd7ed558ccdull;
		h ^= h >> 32;
		s += 8;
		n -= 8;
	}
	uint64_t w = 0;
	memcpy(&w, s, n);
	return hx__dag_hash64(h ^ w);
}

static int same(const hx__strtab *t, uint32_t id, const char *s, size_t n)
{
	const hx__dag *d = t->d;
	/* Stored strings lie back to back, each NUL-terminated: string id's length is the distance
	 * to the next one's offset (or to the end). Comparing lengths first keeps memcmp inside the
	 * stored string (a shorter one near the end of d->str would otherwise be read past). */
	size_t end = id + 1 < d->nstr ? d->str_off[id + 1] : t->str_len;
	if (end - d->str_off[id] - 1 != n)
		return 0;
	return memcmp(d->str + d->str_off[id], s, n) == 0;
}

static int rehash(hx__strtab *t, size_t cap)
{
	uint32_t *slots = calloc(cap, sizeof(*slots));
	if (!slots)
		return HX_ENOMEM;
	for (size_t id = 0; id < t->d->nstr; id++) {
		const char *p = t->d->str + t->d->str_off[id];
		size_t j = hash_bytes(p, strlen(p)) & (cap - 1);
		while (slots[j])
			j = (j + 1) & (cap - 1);
		slots[j] = (uint32_t)id + 1;
	}
	free(t->slots);
	t->slots = slots;
	t->cap_slots = cap;
	return HX_OK;
}

int hx__strtab_init(hx__strtab *t, hx__dag *d)
{
	memset(t, 0, sizeof(*t));
	t->d = d;
	if (rehash(t, 64))
		return HX_ENOMEM;
	return hx__strtab_intern(t, "", 0) == 0 ? HX_OK : HX_ENOMEM;
}

void hx__strtab_free(hx__strtab *t)
{
	free(t->slots);
	t->slots = NULL;
	t->cap_slots = 0;
}

uint32_t hx__strtab_intern(hx__strtab *t, const char *s, size_t n)
{
	hx__dag *d = t->d;
	/* A name with a NUL inside is stored up to it, as a C string would be read. */
	const char *nul = n ? memchr(s, '\0', n) : NULL;
	if (nul)
		n = (size_t)(nul - s);
	uint64_t h = hash_bytes(s, n);
	size_t j = h & (t->cap_slots - 1);
	for (; t->slots[j]; j = (j + 1) & (t->cap_slots - 1))
		if (same(t, t->slots[j] - 1, s, n))
			return t->slots[j] - 1;
	/* offsets are 32-bit: 4 GiB of distinct names is far beyond any real trace; refuse rather
	 * than wrap */
	if (d->nstr >= HX__DAG_MAX_EVENTS || t->str_len + n + 1 > UINT32_MAX)
		return HX__DAG_NONE;
	if (hx__dag_grow(&d->str, &t->str_cap, t->str_len + n + 1, 1) ||
	    hx__dag_grow(&d->str_off, &t->off_cap, d->nstr + 1, sizeof(*d->str_off)))
		return HX__DAG_NONE;
	memcpy(d->str + t->str_len, s, n);
	d->str[t->str_len + n] = '\0';
	uint32_t id = (uint32_t)d->nstr;
	d->str_off[id] = (uint32_t)t->str_len;
	t->str_len += n + 1;
	d->nstr++;
	t->slots[j] = id + 1;
	/* keep the table at most half full so probes stay short */
	if (d->nstr * 2 > t->cap_slots && rehash(t, t->cap_slots * 2))
		return HX__DAG_NONE;
	return id;
}
