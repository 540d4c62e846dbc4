/*
 * dag_int.h - what the files of src/model/ share: the string table, the builder's staging area,
 * and the linking pass that both the builder and hx__dag_extract() end with.
 *
 * Not for other modules: they use dag.h. One thread per builder or graph being built.
 */
#ifndef HX_MODEL_DAG_INT_H
#define HX_MODEL_DAG_INT_H

#include "model/dag.h"

/* ---- interned strings (intern.c) ----
 * The strings live in the graph (d->str, d->str_off, d->nstr); the hash that finds them while
 * building lives here and is dropped when the graph is finished. */
typedef struct hx__strtab {
	hx__dag *d;
	size_t str_len, str_cap;  /* bytes used / allocated in d->str */
	size_t off_cap;           /* entries allocated in d->str_off */
	uint32_t *slots;          /* string ID + 1, 0 = empty; power of two */
	size_t cap_slots;
} hx__strtab;

int hx__strtab_init(hx__strtab *t, hx__dag *d); /* interns "" as ID 0 */
void hx__strtab_free(hx__strtab *t);            /* drops the hash, not d's strings */
/* The ID of s[0..n), adding it; HX__DAG_NONE when memory is short. */
uint32_t hx__strtab_intern(hx__strtab *t, const char *s, size_t n);

uint64_t hx__dag_hash64(uint64_t x);            /* a 64-bit mixer for IDs */

/* ---- the linking pass (link.c) ----
 * Input: d->n events sorted by (entity, seq) with ev_time/seq/entity/name/trace/kind/ia/flags
 * (HX__EVF_RESUMES and HX__EVF_RUNNING only) filled; d->entities with id (and metadata) but not
 * first/count; the cause CSR with cause_ent/seq and cause_cls holding only the flags
 * (HX__CC_OTHER_TRACE, HX__CC_UNSAMPLED) and HX__CC_EXTERNAL for foreign contexts; d->traces with their IDs. Output: everything else.
 * HX_OK or HX_ENOMEM (d is then still safe to free). */
int hx__dag_link(hx__dag *d);

/* (Re)build d->ent_slots with `cap` slots (a power of two above 2 x nentities). */
int hx__dag_ent_rehash(hx__dag *d, size_t cap);

/* Record an issue: counted always, listed while there is room. */
void hx__dag_issue_add(hx__dag *d, hx__dag_issue_kind kind, uint32_t event, uint32_t other);


#endif /* HX_MODEL_DAG_INT_H */
