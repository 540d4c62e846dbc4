/*
 * test_critpath.c - the critical path (src/analysis/critpath.h) on hand-built traces with known
 * answers: a simple chain; request/reply, where the client's wait is the server's work; fork/join,
 * where the slowest child is on the path; publish/subscribe, ending with the subscriber that
 * finished last; a lock convoy of three threads handing a mutex on; an asynchronous chain over
 * three entities; a wait ended by STATE running and woken by a message; unbalanced blocks;
 * causes missing from the graph; a clock-skewed edge (clamped, never negative) and a cycle of
 * inconsistent IDs (the walk ends). Every result is also checked for the invariants: segments in
 * time order, contiguous, tiling the trace from its first to its last event, sums consistent.
 */
#include "../hxtest.h"

#include "analysis/critpath.h"
#include "model/dag.h"

#include <setjmp.h>
#include <cmocka.h>
#include "dagbuild.h"
enum { A = 0xa1, B = 0xb2, C = 0xc3, D = 0xd4 };
enum { RUN_ = HX__SEG_RUNNING, WAITS = HX__SEG_WAITING, XFER = HX__SEG_TRANSFER, UNEX = HX__SEG_UNEXPLAINED };

typedef struct want {
	int kind;
	uint64_t ent, from;    /* from: TRANSFER only */
	const char *block;     /* NULL: outside any block */
	const char *reason;    /* WAITING only */
	uint64_t start, end;
} want;

static void check_invariants(const hx__dag *d, const hx__critpath *cp)
{
	uint64_t sum = 0, kinds = 0, blocks = 0, ents = 0, hosts = 0;
	for (size_t i = 0; i < cp->nseg; i++) {
		const hx__cp_segment *s = &cp->seg[i];
		assert_true(s->start_ns <= s->end_ns);
		assert_int_equal(s->start_ns, i ? cp->seg[i - 1].end_ns : cp->start_ns);
		sum += s->end_ns - s->start_ns;
	}
	if (cp->nseg) {
		assert_int_equal(cp->seg[cp->nseg - 1].end_ns, cp->end_ns);
		assert_int_equal(cp->seg[cp->nseg - 1].end_event, cp->last_event);
	}
	assert_int_equal(sum, cp->end_ns - cp->start_ns);
	for (int k = 0; k < HX__SEG__MAX; k++)
		kinds += cp->by_kind[k];
	for (size_t i = 0; i < cp->nby_block; i++)
		blocks += cp->by_block[i].ns;
	for (size_t i = 0; i < cp->nby_entity; i++) {
		ents += cp->by_entity[i].ns;
		if (i)
			assert_true(cp->by_entity[i - 1].ns >= cp->by_entity[i].ns);
	}
	for (size_t i = 0; i < cp->nby_host; i++)
		hosts += cp->by_host[i].ns;
	assert_int_equal(kinds, sum);
	assert_int_equal(blocks, sum);
	assert_int_equal(ents, sum);
	assert_int_equal(hosts, sum);
	(void)d;
}

static void check(const hx__dag *d, const hx__critpath *cp, const want *w, size_t n)
{
	check_invariants(d, cp);
	if (cp->nseg != n) {
		for (size_t i = 0; i < cp->nseg; i++) {
			const hx__cp_segment *s = &cp->seg[i];
			print_message("  seg %zu: %s %llx [%llu, %llu]\n", i, hx__seg_kind_name(s->kind),
			              (unsigned long long)d->entities[s->entity].id,
			              (unsigned long long)s->start_ns, (unsigned long long)s->end_ns);
		}
	}
	assert_int_equal(cp->nseg, n);
	for (size_t i = 0; i < n; i++) {
		const hx__cp_segment *s = &cp->seg[i];
		assert_int_equal(s->kind, w[i].kind);
		assert_int_equal(d->entities[s->entity].id, w[i].ent);
		assert_int_equal(d->entities[s->from_entity].id, w[i].kind == XFER ? w[i].from : w[i].ent);
		if (w[i].block)
			assert_string_equal(hx__dag_str(d, d->blocks[s->block].name), w[i].block);
		else
			assert_int_equal(s->block, HX__DAG_NONE);
		if (w[i].kind == WAITS)
			assert_string_equal(hx__dag_str(d, s->reason), w[i].reason);
		assert_int_equal(s->start_ns, w[i].start);
		assert_int_equal(s->end_ns, w[i].end);
	}
}

/* Critical path of trace 0 of the graph built from t. */
static hx__dag *walk(tb *t, hx__critpath *cp)
{
	hx__dag *d = tb_finish(t);
	assert_int_equal(hx__critpath_compute(d, 0, cp), HX_OK);
	return d;
}

static uint64_t ns_of(const hx__cp_sum *s, size_t n, uint32_t key)
{
	for (size_t i = 0; i < n; i++)
		if (s[i].key == key)
			return s[i].ns;
	return 0;
}

static uint64_t entity_ns(const hx__dag *d, const hx__critpath *cp, uint64_t ent)
{
	return ns_of(cp->by_entity, cp->nby_entity, hx__dag_entity_find(d, ent));
}

static uint64_t block_ns(const hx__dag *d, const hx__critpath *cp, const char *name)
{
	for (size_t i = 0; i < cp->nby_block; i++)
		if (cp->by_block[i].key != HX__DAG_NONE && !strcmp(hx__dag_str(d, cp->by_block[i].key), name))
			return cp->by_block[i].ns;
	return 0;
}

/* ---- tests ---- */

static void test_chain(void **state)
{
	(void)state;
	tb t;
	tb_init(&t, NULL);
	ev(&t, A, 0, HX_EV_TRACE_BEGIN, "job", 0, 0, NULL, 0);
	BEGIN(&t, A, 10, "work");
	POINT(&t, A, 30, "half");
	END(&t, A, 60);
	ev(&t, A, 100, HX_EV_TRACE_END, "", 0, 0, NULL, 0);
	hx__critpath cp;
	hx__dag *d = walk(&t, &cp);
	const want w[] = {
	    {RUN_, A, 0, NULL, NULL, 0, 10},
	    {RUN_, A, 0, "work", NULL, 10, 60},
	    {RUN_, A, 0, NULL, NULL, 60, 100},
	};
	check(d, &cp, w, 3);
	assert_int_equal(cp.seg[1].steps, 2); /* 10 -> 30 -> 60 merged */
	assert_int_equal(cp.path_events, 5);
	assert_int_equal(cp.by_kind[HX__SEG_RUNNING], 100);
	assert_int_equal(cp.nby_block, 2);
	assert_int_equal(block_ns(d, &cp, "work"), 50);
	assert_int_equal(ns_of(cp.by_block, cp.nby_block, HX__DAG_NONE), 50);
	assert_int_equal(cp.path_first, 0);
	assert_int_equal(cp.clamped + cp.cycles + cp.missing + cp.inferred, 0);
	/* JSON: one object with the segments and sums */
	hx__buf b = HX__BUF_INIT;
	assert_int_equal(hx__critpath_json(&b, d, &cp), HX_OK);
	assert_non_null(strstr(b.p, "\"root\":\"job\",\"start_ns\":0,\"end_ns\":100,\"duration_ns\":100"));
	assert_non_null(strstr(b.p, "{\"kind\":\"running\",\"entity\":\"00000000000000a1\",\"entity_name\":\"\","
	                             "\"host\":\"\",\"block\":\"work\",\"start_ns\":10,\"end_ns\":60,"
	                             "\"duration_ns\":50,\"steps\":2"));
	assert_non_null(strstr(b.p, "\"by_kind\":{\"running\":100,\"waiting\":0,\"transfer\":0,\"unexplained\":0}"));
	hx__buf_free(&b);
	hx__critpath_free(&cp);
	hx__dag_free(d);
}

static void test_request_reply(void **state)
{
	(void)state;
	tb t;
	tb_init(&t, NULL);
	uint64_t CL = A, SV = B;
	ev(&t, CL, 0, HX_EV_TRACE_BEGIN, "call", 0, 0, NULL, 0);
	hx_context req = CAUSE(&t, CL, 10, HX_IA_REQUEST, "request");
	WAIT(&t, CL, 11, "reply");
	ev(&t, SV, 20, HX_EV_TRACE_JOIN, "", HX_IA_CAUSAL, 0, &req, 1);
	BEGIN(&t, SV, 25, "handle");
	END(&t, SV, 85);
	hx_context rep = CAUSE(&t, SV, 90, HX_IA_REPLY, "reply");
	EFFECT(&t, CL, 100, HX_IA_REPLY, "reply received", 1, &rep, 1);
	POINT(&t, CL, 110, "done");
	hx__critpath cp;
	hx__dag *d = walk(&t, &cp);
	const want w[] = {
	    {RUN_, CL, 0, NULL, NULL, 0, 10},
	    {XFER, SV, CL, NULL, NULL, 10, 20},
	    {RUN_, SV, 0, NULL, NULL, 20, 25},
	    {RUN_, SV, 0, "handle", NULL, 25, 85},
	    {RUN_, SV, 0, NULL, NULL, 85, 90},
	    {XFER, CL, SV, NULL, NULL, 90, 100},
	    {RUN_, CL, 0, NULL, NULL, 100, 110},
	};
	check(d, &cp, w, 7);
	/* the client's wait (11..100) is not on the path: the server's work is */
	assert_int_equal(cp.by_kind[HX__SEG_WAITING], 0);
	assert_int_equal(entity_ns(d, &cp, SV), 80);
	assert_int_equal(entity_ns(d, &cp, CL), 30);
	assert_int_equal(block_ns(d, &cp, "handle"), 60);
	hx__critpath_free(&cp);
	hx__dag_free(d);
}

static void test_fork_join(void **state)
{
	(void)state;
	tb t;
	tb_init(&t, NULL);
	uint64_t P = A, K[3] = {B, C, D};
	uint64_t done_at[3] = {50, 80, 30};
	ev(&t, P, 0, HX_EV_TRACE_BEGIN, "batch", 0, 0, NULL, 0);
	hx_context fork = CAUSE(&t, P, 5, HX_IA_FORK, "fork");
	WAIT(&t, P, 6, "children");
	hx_context done[3];
	for (int k = 0; k < 3; k++) {
		EFFECT(&t, K[k], 10 + 2 * (uint64_t)k, HX_IA_FORK, "forked", 0, &fork, 1);
		BEGIN(&t, K[k], 11 + 2 * (uint64_t)k, "child");
		END(&t, K[k], done_at[k] - 1);
		done[k] = CAUSE(&t, K[k], done_at[k], HX_IA_JOIN, "done");
	}
	EFFECT(&t, P, 100, HX_IA_JOIN, "joined", 1, done, 3);
	POINT(&t, P, 105, "end");
	hx__critpath cp;
	hx__dag *d = walk(&t, &cp);
	/* the slowest child (C, done at 80) is on the path */
	const want w[] = {
	    {RUN_, P, 0, NULL, NULL, 0, 5},
	    {XFER, C, P, NULL, NULL, 5, 12},
	    {RUN_, C, 0, NULL, NULL, 12, 13},
	    {RUN_, C, 0, "child", NULL, 13, 79},
	    {RUN_, C, 0, NULL, NULL, 79, 80},
	    {XFER, P, C, NULL, NULL, 80, 100},
	    {RUN_, P, 0, NULL, NULL, 100, 105},
	};
	check(d, &cp, w, 7);
	assert_int_equal(entity_ns(d, &cp, B), 0);
	assert_int_equal(entity_ns(d, &cp, D), 0);
	assert_int_equal(entity_ns(d, &cp, C), 75);
	hx__critpath_free(&cp);
	hx__dag_free(d);
}

static void test_publish_subscribe(void **state)
{
	(void)state;
	tb t;
	tb_init(&t, NULL);
	uint64_t S[3] = {B, C, D};
	uint64_t got[3] = {15, 20, 12}, fin[3] = {40, 90, 60};
	ev(&t, A, 0, HX_EV_TRACE_BEGIN, "event", 0, 0, NULL, 0);
	hx_context pub = CAUSE(&t, A, 10, HX_IA_PUBLISH, "publish");
	POINT(&t, A, 11, "published");
	for (int k = 0; k < 3; k++) {
		EFFECT(&t, S[k], got[k], HX_IA_PUBLISH, "delivered", 0, &pub, 1);
		BEGIN(&t, S[k], got[k] + 1, "handle");
		END(&t, S[k], fin[k] - 2);
		POINT(&t, S[k], fin[k], "handled");
	}
	hx__critpath cp;
	hx__dag *d = walk(&t, &cp);
	/* the trace ends with the subscriber that finished last (C); its chain is the path */
	assert_int_equal(d->ev_entity[cp.last_event], hx__dag_entity_find(d, C));
	const want w[] = {
	    {RUN_, A, 0, NULL, NULL, 0, 10},
	    {XFER, C, A, NULL, NULL, 10, 20},
	    {RUN_, C, 0, NULL, NULL, 20, 21},
	    {RUN_, C, 0, "handle", NULL, 21, 88},
	    {RUN_, C, 0, NULL, NULL, 88, 90},
	};
	check(d, &cp, w, 5);
	hx__critpath_free(&cp);
	hx__dag_free(d);
}

static void test_lock_convoy(void **state)
{
	(void)state;
	tb t;
	tb_init(&t, NULL);
	uint64_t T1 = A, T2 = B, T3 = C;
	ev(&t, T1, 0, HX_EV_TRACE_BEGIN, "convoy", 0, 0, NULL, 0);
	hx_context start = CAUSE(&t, T1, 1, HX_IA_FORK, "start");
	EFFECT(&t, T2, 2, HX_IA_FORK, "started", 0, &start, 1);
	EFFECT(&t, T3, 3, HX_IA_FORK, "started", 0, &start, 1);
	WAIT(&t, T2, 4, "m");                     /* T1 holds m */
	BEGIN(&t, T1, 5, "critical");
	WAIT(&t, T3, 6, "m");
	END(&t, T1, 30);
	hx_context r1 = CAUSE(&t, T1, 31, HX_IA_LOCK, "m");  /* hand-off to T2 */
	EFFECT(&t, T2, 33, HX_IA_LOCK, "m", 1, &r1, 1);
	BEGIN(&t, T2, 34, "critical");
	END(&t, T2, 60);
	hx_context r2 = CAUSE(&t, T2, 61, HX_IA_LOCK, "m");  /* hand-off to T3 */
	EFFECT(&t, T3, 64, HX_IA_LOCK, "m", 1, &r2, 1);
	BEGIN(&t, T3, 65, "critical");
	END(&t, T3, 90);
	POINT(&t, T3, 95, "done");
	hx__critpath cp;
	hx__dag *d = walk(&t, &cp);
	const want w[] = {
	    {RUN_, T1, 0, NULL, NULL, 0, 5},
	    {RUN_, T1, 0, "critical", NULL, 5, 30},
	    {RUN_, T1, 0, NULL, NULL, 30, 31},
	    {XFER, T2, T1, NULL, NULL, 31, 33},
	    {RUN_, T2, 0, NULL, NULL, 33, 34},
	    {RUN_, T2, 0, "critical", NULL, 34, 60},
	    {RUN_, T2, 0, NULL, NULL, 60, 61},
	    {XFER, T3, T2, NULL, NULL, 61, 64},
	    {RUN_, T3, 0, NULL, NULL, 64, 65},
	    {RUN_, T3, 0, "critical", NULL, 65, 90},
	    {RUN_, T3, 0, NULL, NULL, 90, 95},
	};
	check(d, &cp, w, 11);
	assert_int_equal(block_ns(d, &cp, "critical"), 76);
	assert_int_equal(entity_ns(d, &cp, T1), 31);
	assert_int_equal(entity_ns(d, &cp, T2), 30);
	assert_int_equal(entity_ns(d, &cp, T3), 34);
	assert_int_equal(cp.by_kind[HX__SEG_TRANSFER], 5);
	/* T2's and T3's waits are explained by the hand-offs: no waiting on the path */
	assert_int_equal(cp.by_kind[HX__SEG_WAITING], 0);
	hx__critpath_free(&cp);
	hx__dag_free(d);
}

static void test_async_chain(void **state)
{
	(void)state;
	tb t;
	tb_init(&t, NULL);
	ev(&t, A, 0, HX_EV_TRACE_BEGIN, "read", 0, 0, NULL, 0);
	hx_context s1 = CAUSE(&t, A, 10, HX_IA_ASYNC, "submit");
	POINT(&t, A, 20, "other work");
	WAIT(&t, A, 25, "io");
	EFFECT(&t, B, 15, HX_IA_ASYNC, "queued", 0, &s1, 1);
	hx_context s2 = CAUSE(&t, B, 40, HX_IA_ASYNC, "dispatch");
	EFFECT(&t, C, 45, HX_IA_ASYNC, "device", 0, &s2, 1);
	hx_context s3 = CAUSE(&t, C, 65, HX_IA_ASYNC, "complete");
	EFFECT(&t, A, 70, HX_IA_ASYNC, "completed", 1, &s3, 1);
	POINT(&t, A, 80, "end");
	hx__critpath cp;
	hx__dag *d = walk(&t, &cp);
	const want w[] = {
	    {RUN_, A, 0, NULL, NULL, 0, 10},
	    {XFER, B, A, NULL, NULL, 10, 15},
	    {RUN_, B, 0, NULL, NULL, 15, 40},
	    {XFER, C, B, NULL, NULL, 40, 45},
	    {RUN_, C, 0, NULL, NULL, 45, 65},
	    {XFER, A, C, NULL, NULL, 65, 70},
	    {RUN_, A, 0, NULL, NULL, 70, 80},
	};
	check(d, &cp, w, 7);
	hx__critpath_free(&cp);
	hx__dag_free(d);
}

static void test_wait_woken(void **state)
{
	(void)state;
	tb t;
	tb_init(&t, NULL);
	uint64_t P = A, W = B;
	ev(&t, P, 0, HX_EV_TRACE_BEGIN, "pipeline", 0, 0, NULL, 0);
	WAIT(&t, W, 5, "queue");
	BEGIN(&t, P, 10, "produce");
	hx_context enq = CAUSE(&t, P, 40, HX_IA_MESSAGE, "enqueue");
	END(&t, P, 41);
	RUN(&t, W, 50);                                           /* woken: no resumes flag */
	EFFECT(&t, W, 51, HX_IA_MESSAGE, "dequeue", 0, &enq, 1);  /* names what woke it */
	POINT(&t, W, 60, "processed");
	hx__critpath cp;
	hx__dag *d = walk(&t, &cp);
	const want w[] = {
	    {RUN_, P, 0, NULL, NULL, 0, 10},
	    {RUN_, P, 0, "produce", NULL, 10, 40},
	    {XFER, W, P, NULL, NULL, 40, 50},
	    {RUN_, W, 0, NULL, NULL, 50, 60},
	};
	check(d, &cp, w, 4);
	assert_int_equal(cp.inferred, 1);
	hx__critpath_free(&cp);

	/* the same wait with nothing known to have woken it: the wait itself is on the path */
	tb_init(&t, NULL);
	ev(&t, W, 0, HX_EV_TRACE_BEGIN, "alone", 0, 0, NULL, 0);
	WAIT(&t, W, 5, "disk");
	POINT(&t, W, 7, "while waiting");
	RUN(&t, W, 50);
	POINT(&t, W, 60, "done");
	hx__dag_free(d);
	d = walk(&t, &cp);
	const want w2[] = {
	    {RUN_, W, 0, NULL, NULL, 0, 5},
	    {WAITS, W, 0, NULL, "disk", 5, 50},
	    {RUN_, W, 0, NULL, NULL, 50, 60},
	};
	check(d, &cp, w2, 3);
	assert_int_equal(cp.seg[1].steps, 2);
	assert_int_equal(cp.by_kind[HX__SEG_WAITING], 45);
	hx__critpath_free(&cp);
	hx__dag_free(d);
}

static void test_unbalanced_blocks(void **state)
{
	(void)state;
	tb t;
	tb_init(&t, NULL);
	END(&t, A, 5);              /* ignored */
	BEGIN(&t, A, 10, "outer");  /* never ended: closed at A's last event */
	BEGIN(&t, A, 20, "inner");
	END(&t, A, 30);
	POINT(&t, A, 40, "last");
	hx__critpath cp;
	hx__dag *d = walk(&t, &cp);
	const want w[] = {
	    {RUN_, A, 0, NULL, NULL, 5, 10},
	    {RUN_, A, 0, "outer", NULL, 10, 20},
	    {RUN_, A, 0, "inner", NULL, 20, 30},
	    {RUN_, A, 0, "outer", NULL, 30, 40},
	};
	check(d, &cp, w, 4);
	assert_int_equal(block_ns(d, &cp, "outer"), 20);
	assert_int_equal(d->report.count[HX__DAG_ISSUE_END_WITHOUT_BEGIN], 1);
	assert_int_equal(d->report.count[HX__DAG_ISSUE_BEGIN_WITHOUT_END], 1);
	hx__critpath_free(&cp);
	hx__dag_free(d);
}

static void test_missing_causes(void **state)
{
	(void)state;
	tb t;
	tb_init(&t, NULL);
	/* B's first event names a cause that was never recorded; the path cannot go past it */
	ev(&t, A, 0, HX_EV_TRACE_BEGIN, "job", 0, 0, NULL, 0);
	POINT(&t, A, 10, "a");
	hx_context ghost = {{0}, 0x6057, 3, HX_CTX_VALID | HX_CTX_SAMPLED, 0};
	memcpy(ghost.trace_id, TR, 16);
	hx_context foreign = ghost;
	foreign.flags |= HX_CTX_FOREIGN;
	const hx_context missing[] = {ghost, foreign};
	EFFECT(&t, B, 30, HX_IA_REQUEST, "handle", 0, missing, 2);
	POINT(&t, B, 50, "b");
	hx__critpath cp;
	hx__dag *d = walk(&t, &cp);
	const want w[] = {
	    {UNEX, B, 0, NULL, NULL, 0, 30},
	    {RUN_, B, 0, NULL, NULL, 30, 50},
	};
	check(d, &cp, w, 2);
	assert_int_equal(cp.missing, 2);
	assert_int_equal(cp.by_kind[HX__SEG_UNEXPLAINED], 30);
	assert_int_equal(cp.seg[0].start_event, cp.first_event);
	assert_int_equal(cp.path_first, at(d, B, 0));
	assert_int_equal(d->report.dangling, 1);
	assert_int_equal(d->report.external, 1);
	hx__critpath_free(&cp);
	hx__dag_free(d);
}

static void test_clock_skew(void **state)
{
	(void)state;
	tb t;
	tb_init(&t, NULL);
	/* B's clock is behind: its receive is stamped 50 ns before A's send */
	ev(&t, A, 100, HX_EV_TRACE_BEGIN, "skewed", 0, 0, NULL, 0);
	hx_context send = CAUSE(&t, A, 200, HX_IA_MESSAGE, "send");
	POINT(&t, A, 210, "after send");
	EFFECT(&t, B, 150, HX_IA_MESSAGE, "receive", 0, &send, 1);
	POINT(&t, B, 300, "done");
	hx__critpath cp;
	hx__dag *d = walk(&t, &cp);
	const want w[] = {
	    {RUN_, A, 0, NULL, NULL, 100, 150},
	    {XFER, B, A, NULL, NULL, 150, 150},
	    {RUN_, B, 0, NULL, NULL, 150, 300},
	};
	check(d, &cp, w, 3);
	assert_int_equal(cp.clamped, 1);
	assert_int_equal(cp.clamped_ns, 50);
	assert_int_equal(d->report.count[HX__DAG_ISSUE_REVERSED], 1);
	hx__critpath_free(&cp);
	hx__dag_free(d);

	/* a cycle of inconsistent IDs: A0 <- B1 <- B0 <- A1 <- A0; the walk must end */
	tb_init(&t, NULL);
	hx_context b1 = {{0}, B, 1, HX_CTX_VALID | HX_CTX_SAMPLED, 0};
	hx_context a1 = {{0}, A, 1, HX_CTX_VALID | HX_CTX_SAMPLED, 0};
	memcpy(b1.trace_id, TR, 16);
	memcpy(a1.trace_id, TR, 16);
	EFFECT(&t, A, 10, HX_IA_CAUSAL, "a0", 0, &b1, 1);
	CAUSE(&t, A, 20, HX_IA_CAUSAL, "a1");
	EFFECT(&t, B, 5, HX_IA_CAUSAL, "b0", 0, &a1, 1);
	CAUSE(&t, B, 30, HX_IA_CAUSAL, "b1");
	d = walk(&t, &cp);
	const want w2[] = {
	    {RUN_, A, 0, NULL, NULL, 5, 5},
	    {XFER, B, A, NULL, NULL, 5, 5},
	    {RUN_, B, 0, NULL, NULL, 5, 30},
	};
	check(d, &cp, w2, 3);
	assert_int_equal(cp.path_events, 4);
	assert_int_equal(cp.cycles, 1);
	assert_int_equal(cp.clamped, 2);
	assert_int_equal(cp.clamped_ns, 15 + 5);
	assert_int_equal(d->report.count[HX__DAG_ISSUE_CYCLE], 1);
	hx__critpath_free(&cp);
	hx__dag_free(d);
}

static void test_trace_in_whole_graph(void **state)
{
	(void)state;
	/* a walk restricted to one trace of a graph that holds two: the other trace's events, even
	 * on the same entity and later, are not on the path */
	tb t;
	tb_init(&t, NULL);
	ev(&t, A, 0, HX_EV_TRACE_BEGIN, "first", 0, 0, NULL, 0);
	POINT(&t, A, 10, "a");
	t.trace = TR2;
	ev(&t, A, 20, HX_EV_TRACE_BEGIN, "second", 0, 0, NULL, 0);
	POINT(&t, A, 90, "b");
	t.trace = TR;
	POINT(&t, A, 100, "back");
	hx__dag *d = tb_finish(&t);
	hx__critpath cp;
	assert_int_equal(hx__critpath_compute(d, 5, &cp), HX_EINVAL);
	assert_int_equal(hx__critpath_compute(d, 0, &cp), HX_OK);
	/* A stepped out of the trace between 10 and 100: the path says so */
	const want w[] = {
	    {RUN_, A, 0, NULL, NULL, 0, 10},
	    {WAITS, A, 0, NULL, NULL, 10, 100},
	};
	check_invariants(d, &cp);
	assert_int_equal(cp.nseg, 2);
	assert_int_equal(cp.seg[1].kind, HX__SEG_WAITING);
	assert_int_equal(cp.seg[1].reason, HX__CP_REASON_GAP);
	assert_int_equal(cp.seg[1].start_ns, w[1].start);
	assert_int_equal(cp.seg[0].end_ns, w[0].end);
	hx__critpath_free(&cp);
	/* the whole graph */
	assert_int_equal(hx__critpath_compute(d, HX__DAG_NONE, &cp), HX_OK);
	check_invariants(d, &cp);
	assert_int_equal(cp.path_events, 5);
	assert_int_equal(cp.end_ns - cp.start_ns, 100);
	hx__critpath_free(&cp);
	hx__dag_free(d);
}

static void test_empty(void **state)
{
	(void)state;
	tb t;
	tb_init(&t, NULL);
	POINT(&t, A, 7, "only");
	hx__critpath cp;
	hx__dag *d = walk(&t, &cp);
	assert_int_equal(cp.nseg, 0);
	assert_int_equal(cp.path_events, 1);
	assert_int_equal(cp.end_ns - cp.start_ns, 0);
	check_invariants(d, &cp);
	hx__critpath_free(&cp);
	hx__dag_free(d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_chain),
		cmocka_unit_test(test_request_reply),
		cmocka_unit_test(test_fork_join),
		cmocka_unit_test(test_publish_subscribe),
		cmocka_unit_test(test_lock_convoy),
		cmocka_unit_test(test_async_chain),
		cmocka_unit_test(test_wait_woken),
		cmocka_unit_test(test_unbalanced_blocks),
		cmocka_unit_test(test_missing_causes),
		cmocka_unit_test(test_clock_skew),
		cmocka_unit_test(test_trace_in_whole_graph),
		cmocka_unit_test(test_empty),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
