/*
 * traces.h - joining events by trace: a per-trace summary built while events stream past once,
 * for `hx stats` and any tool that lists the traces of an input.
 *
 * Per trace it counts events, errors, entities, processes and hosts, keeps the root's name (the
 * TRACE_BEGIN's) and the time span, and links every cause named by an EFFECT or TRACE_JOIN: a
 * cause is *linked* when its event is somewhere in the input, *dangling* when it is not (its
 * process did not trace, or a file is missing: reported, not an error), *external* when the
 * context came from another tracer (HX_CTX_FOREIGN: in no file by definition), and also
 * *cross-trace* when it lies in another trace than its effect.
 *
 * Knowing whether an event exists does not need every event: an entity's sequence numbers are
 * dense, so each entity keeps the runs of numbers seen (one run unless chunks were lost or the
 * entity moved between threads). Causes are resolved at the end, when all runs are known.
 * Per event the cost is a comparison with the previous event's entity and trace; a hash lookup
 * only when either changes.
 *
 * Thread safety: one hx__traces per thread.
 */
#ifndef HX_TRACES_H
#define HX_TRACES_H

#include <haruspex.h>
#include <haruspex/reader.h>

#include <stddef.h>
#include <stdint.h>

typedef struct hx__trace_stat {
	uint8_t id[16];
	uint64_t events, errors;
	uint64_t first_ns, last_ns;   /* span of its events */
	uint64_t begin_ns;            /* TRACE_BEGIN's time when has_begin, else first_ns */
	int has_begin;
	char *root;                   /* TRACE_BEGIN's name (NUL-terminated copy), NULL if none seen */
	size_t root_len;
	uint64_t entities, processes, hosts;
	uint64_t effects;             /* EFFECT and TRACE_JOIN events */
	uint64_t linked, dangling, external, cross_trace; /* their causes */
} hx__trace_stat;

typedef struct hx__traces_totals {
	uint64_t traces;
	uint64_t events_outside;      /* events in no trace */
	uint64_t causes, linked, dangling, external, cross_trace; /* every effect's causes */
} hx__traces_totals;

struct hx__tr_ent;
struct hx__tr_ref;
struct hx__tr_pair;

typedef struct hx__traces {
	const hx_reader *reader;      /* for process -> host */
	hx__trace_stat *v;            /* traces in order of first sight */
	size_t n, cap;
	uint32_t *slots;              /* trace hash: index + 1, 0 = empty */
	size_t cap_slots;
	struct hx__tr_ent *ents;      /* entity hash */
	size_t nents, cap_ents;
	struct hx__tr_pair *pairs;    /* (trace, entity), (trace, process), (trace, host) sets */
	size_t npairs, cap_pairs;
	struct hx__tr_ref *refs;      /* causes to resolve */
	size_t nrefs, cap_refs;
	/* the run being read: the previous event's entity and trace */
	uint64_t last_ent;
	size_t last_ent_slot;
	uint8_t last_trace[16];
	size_t last_trace_idx;        /* SIZE_MAX: the last event was in no trace */
	int have_last;
	hx__traces_totals totals;
	int finished;
} hx__traces;

/* `reader` maps processes to hosts (hx_reader_process_host); it must outlive the tally. */
void hx__traces_init(hx__traces *t, const hx_reader *reader);
void hx__traces_free(hx__traces *t);
/* One event of process `proc`. HX_OK or HX_ENOMEM. */
int hx__traces_event(hx__traces *t, const hx_event *ev, size_t proc);
/* After the last event: resolve causes. HX_OK or HX_ENOMEM. */
int hx__traces_finish(hx__traces *t);
/* The traces sorted by start time (begin_ns, ties by ID), as a malloc'd array of pointers into t
 * (the caller frees the array); NULL with *n = 0 when there are none or memory is short
 * (*oom = 1 then). */
const hx__trace_stat **hx__traces_sorted(const hx__traces *t, size_t *n, int *oom);

#endif /* HX_TRACES_H */
