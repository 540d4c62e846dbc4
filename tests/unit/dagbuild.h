/*
 * dagbuild.h - building hand-made event sets for the trace DAG and critical-path tests
 * (test_dag.c, test_critpath.c): every event gets the next sequence number of its entity, and
 * the macros name the events those tests are made of.
 */
#ifndef HX_TEST_DAGBUILD_H
#define HX_TEST_DAGBUILD_H

#include "model/dag.h"

/* ---- building event sets: every event gets the next sequence number of its entity ---- */

static const uint8_t TR[16] = {0x01, 0x90, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x11};
static const uint8_t TR2[16] = {0x01, 0x90, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x22};

typedef struct tb {
	hx__dag_builder *b;
	uint64_t ents[16], next[16];
	size_t nents;
	const uint8_t *trace;  /* the trace of the events added next (NULL: none) */
} tb;

static inline void tb_init(tb *t, const hx__dag_filter *f)
{
	memset(t, 0, sizeof(*t));
	assert_int_equal(hx__dag_builder_new(&t->b, f, 0), HX_OK);
	t->trace = TR;
}

static inline uint64_t next_seq(tb *t, uint64_t ent)
{
	for (size_t i = 0; i < t->nents; i++)
		if (t->ents[i] == ent)
			return t->next[i]++;
	t->ents[t->nents] = ent;
	t->next[t->nents] = 1;
	t->nents++;
	return 0;
}

/* Add one event; returns its context (trace TR, sampled). */
static inline hx_context ev(tb *t, uint64_t ent, uint64_t time, hx_event_kind kind, const char *name, int sub,
                     int resumes, const hx_context *causes, size_t nc)
{
	hx_event e;
	memset(&e, 0, sizeof(e));
	e.kind = kind;
	e.time_ns = e.time_orig_ns = time;
	e.entity_id = ent;
	e.seq = next_seq(t, ent);
	if (t->trace)
		memcpy(e.trace_id, t->trace, 16);
	e.name = name ? name : "";
	e.name_len = strlen(e.name);
	if (kind == HX_EV_STATE)
		e.state = (hx_state)sub;
	if (kind == HX_EV_CAUSE || kind == HX_EV_EFFECT || kind == HX_EV_TRACE_JOIN)
		e.interaction = (hx_interaction)sub;
	if (kind == HX_EV_ENTITY_BEGIN)
		e.entity_kind = (hx_entity_kind)sub;
	e.resumes = resumes;
	e.causes = causes;
	e.ncauses = nc;
	assert_int_equal(hx__dag_builder_add(t->b, &e, 0), HX_OK);
	hx_context c;
	memset(&c, 0, sizeof(c));
	memcpy(c.trace_id, e.trace_id, 16);
	c.entity_id = ent;
	c.seq = e.seq;
	c.flags = HX_CTX_VALID | HX_CTX_SAMPLED;
	return c;
}

#define POINT(t, ent, time, name) ev((t), (ent), (time), HX_EV_POINT, (name), 0, 0, NULL, 0)
#define BEGIN(t, ent, time, name) ev((t), (ent), (time), HX_EV_BLOCK_BEGIN, (name), 0, 0, NULL, 0)
#define END(t, ent, time) ev((t), (ent), (time), HX_EV_BLOCK_END, "", 0, 0, NULL, 0)
#define WAIT(t, ent, time, why) ev((t), (ent), (time), HX_EV_STATE, (why), HX_STATE_WAITING, 0, NULL, 0)
#define RUN(t, ent, time) ev((t), (ent), (time), HX_EV_STATE, "", HX_STATE_RUNNING, 0, NULL, 0)
#define CAUSE(t, ent, time, ia, name) ev((t), (ent), (time), HX_EV_CAUSE, (name), (ia), 0, NULL, 0)
#define EFFECT(t, ent, time, ia, name, resumes, causes, n)                                       \
	ev((t), (ent), (time), HX_EV_EFFECT, (name), (ia), (resumes), (causes), (n))

static inline hx__dag *tb_finish(tb *t)
{
	hx__dag *d = NULL;
	assert_int_equal(hx__dag_builder_finish(t->b, &d), HX_OK);
	assert_non_null(d);
	return d;
}

static inline uint32_t at(const hx__dag *d, uint64_t ent, uint64_t seq)
{
	uint32_t i = hx__dag_find(d, ent, seq);
	assert_int_not_equal(i, HX__DAG_NONE);
	return i;
}


#endif /* HX_TEST_DAGBUILD_H */
