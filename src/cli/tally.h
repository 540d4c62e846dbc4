/*
 * tally.h - counting a trace's events for `hx stats`: by kind, by entity and by name, and the
 * time span. Hash tables with open addressing; the counts belong to one command run (one thread).
 */
#ifndef HX_CLI_TALLY_H
#define HX_CLI_TALLY_H

#include <haruspex.h>
#include <stddef.h>
#include <stdint.h>

typedef struct hx__ent_stat {
	uint64_t id;
	int used;             /* 0 = empty slot */
	uint64_t events;
	uint64_t tid;         /* from ENTITY_BEGIN */
	size_t proc;          /* hx_reader_process index of its first event */
	char *name;           /* from ENTITY_BEGIN or an entity "name" annotation; NULL if none */
	size_t name_len;
} hx__ent_stat;

typedef struct hx__name_stat {
	char *name;           /* NULL = empty slot; not NUL-safe: use len */
	size_t len;
	uint64_t hash;
	uint64_t events;
} hx__name_stat;

typedef struct hx__tally {
	hx__ent_stat *ents;
	size_t nents, cap_ents;
	hx__name_stat *names;
	size_t nnames, cap_names;
	uint64_t by_kind[HX_EV_EFFECT - HX_EV_ENTITY_BEGIN + 1];
	uint64_t other_kinds; /* kinds this hx does not know */
	uint64_t events;
	uint64_t first_ns, last_ns;
} hx__tally;

void hx__tally_init(hx__tally *t);
void hx__tally_free(hx__tally *t);
/* Count one event of process `proc`. HX_OK or HX_ENOMEM. */
int hx__tally_event(hx__tally *t, const hx_event *ev, size_t proc);
/* The `max` busiest entities / names, busiest first, as a malloc'd array of pointers into the
 * tally (the caller frees the array). *n receives the count; NULL with *n == 0 on no memory. */
const hx__ent_stat **hx__tally_top_entities(const hx__tally *t, size_t max, size_t *n);
const hx__name_stat **hx__tally_top_names(const hx__tally *t, size_t max, size_t *n);

#endif /* HX_CLI_TALLY_H */
