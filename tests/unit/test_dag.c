/*
 * test_dag.c - the trace DAG (src/model/dag.h) on hand-built event sets with known answers:
 * same-entity order and lookups, events arriving out of order and twice, blocks with their
 * nesting and their repairs (an end without a begin, a begin without an end), waiting intervals
 * and what ended them, every kind of cause that is not in the graph, a reversed (clock-skewed)
 * edge, a true cycle of inconsistent IDs, trace summaries, entity names taken from events that
 * the filter drops, and a trace cut out of a whole graph equal to one built with a filter. The
 * last test reads the graph from a real file through the reader.
 */
#include "../hxtest.h"

#include "format/text.h"
#include "model/dag.h"

#include <setjmp.h>
#include <cmocka.h>
#include "dagbuild.h"
enum { A = 0xa1, B = 0xb2, C = 0xc3 };

/* ---- tests ---- */

static void test_order_and_lookup(void **state)
{
	(void)state;
	tb t;
	tb_init(&t, NULL);
	/* B's events arrive before A's, and interleaved: the graph sorts by entity, then seq */
	POINT(&t, B, 5, "b0");
	POINT(&t, A, 1, "a0");
	POINT(&t, B, 6, "b1");
	POINT(&t, A, 2, "a1");
	POINT(&t, A, 3, "a2");
	hx__dag *d = tb_finish(&t);
	assert_int_equal(d->n, 5);
	assert_int_equal(d->nentities, 2);
	/* entities in order of first appearance: B then A */
	assert_int_equal(d->entities[0].id, B);
	assert_int_equal(d->entities[0].first, 0);
	assert_int_equal(d->entities[0].count, 2);
	assert_int_equal(d->entities[1].first, 2);
	assert_int_equal(d->entities[1].count, 3);
	assert_true(d->entities[1].dense);
	assert_int_equal(at(d, A, 0), 2);
	assert_int_equal(at(d, A, 2), 4);
	assert_int_equal(at(d, B, 1), 1);
	assert_int_equal(hx__dag_find(d, A, 3), HX__DAG_NONE);
	assert_int_equal(hx__dag_find(d, 0x999, 0), HX__DAG_NONE);
	assert_int_equal(hx__dag_prev(d, 2), HX__DAG_NONE); /* A's first: not after B's last */
	assert_int_equal(hx__dag_prev(d, 3), 2);
	assert_string_equal(hx__dag_str(d, d->ev_name[4]), "a2");
	assert_int_equal(d->ntraces, 1);
	assert_int_equal(d->traces[0].events, 5);
	assert_int_equal(d->traces[0].first_ns, 1);
	assert_int_equal(d->traces[0].last_ns, 6);
	assert_int_equal(d->traces[0].last_event, 1);
	assert_int_equal(d->traces[0].first_event, 2);
	assert_int_equal(d->traces[0].entities, 2);
	hx__dag_free(d);
}

static void test_out_of_order_and_duplicates(void **state)
{
	(void)state;
	hx__dag_builder *b;
	assert_int_equal(hx__dag_builder_new(&b, NULL, 4), HX_OK);
	/* one entity whose events arrive 2, 0, 1, 0 (a replayed copy of seq 0), and seq 5 (a gap) */
	uint64_t seqs[] = {2, 0, 1, 0, 5};
	uint64_t times[] = {30, 10, 20, 99, 60};
	for (int i = 0; i < 5; i++) {
		hx_event e;
		memset(&e, 0, sizeof(e));
		e.kind = HX_EV_POINT;
		e.entity_id = A;
		e.seq = seqs[i];
		e.time_ns = times[i];
		e.name = "p";
		e.name_len = 1;
		assert_int_equal(hx__dag_builder_add(b, &e, 0), HX_OK);
	}
	hx__dag *d;
	assert_int_equal(hx__dag_builder_finish(b, &d), HX_OK);
	assert_int_equal(d->n, 4);
	const uint64_t sorted[] = {0, 1, 2, 5};
	for (uint32_t i = 0; i < 4; i++)
		assert_int_equal(d->ev_seq[i], sorted[i]);
	assert_int_equal(d->ev_time[0], 10); /* the first copy of seq 0 was kept */
	assert_int_equal(d->report.count[HX__DAG_ISSUE_DUPLICATE], 1);
	assert_int_equal(d->report.count[HX__DAG_ISSUE_SEQ_GAP], 1);
	assert_false(d->entities[0].dense);
	/* bisection finds events of an entity with gaps */
	assert_int_equal(hx__dag_find(d, A, 5), 3);
	assert_int_equal(hx__dag_find(d, A, 2), 2);
	assert_int_equal(hx__dag_find(d, A, 3), HX__DAG_NONE);
	/* events outside any trace: no trace recorded */
	assert_int_equal(d->ntraces, 0);
	assert_int_equal(d->ev_trace[0], HX__DAG_NONE);
	hx__dag_free(d);
}

static void test_blocks(void **state)
{
	(void)state;
	tb t;
	tb_init(&t, NULL);
	END(&t, A, 5);               /* 0: end without begin */
	BEGIN(&t, A, 10, "outer");   /* 1 */
	BEGIN(&t, A, 20, "inner");   /* 2 */
	POINT(&t, A, 25, "p");       /* 3 */
	END(&t, A, 30);              /* 4: ends inner */
	POINT(&t, A, 40, "q");       /* 5: outer is never ended */
	BEGIN(&t, B, 1, "solo");     /* 6 */
	END(&t, B, 2);               /* 7 */
	hx__dag *d = tb_finish(&t);
	assert_int_equal(d->nblocks, 3);
	const hx__dag_block *outer = &d->blocks[0], *inner = &d->blocks[1], *solo = &d->blocks[2];
	assert_string_equal(hx__dag_str(d, outer->name), "outer");
	assert_int_equal(outer->begin, 1);
	assert_int_equal(outer->end, 5); /* closed at A's last event */
	assert_int_equal(outer->flags, HX__BLK_REPAIRED);
	assert_int_equal(outer->parent, HX__DAG_NONE);
	assert_int_equal(outer->depth, 0);
	assert_int_equal(inner->begin, 2);
	assert_int_equal(inner->end, 4);
	assert_int_equal(inner->parent, 0);
	assert_int_equal(inner->depth, 1);
	assert_int_equal(inner->flags, 0);
	assert_int_equal(solo->entity, 1);
	assert_int_equal(solo->end, 7);
	uint32_t want[] = {HX__DAG_NONE, 0, 1, 1, 0, 0, 2, HX__DAG_NONE};
	for (int i = 0; i < 8; i++)
		assert_int_equal(d->ev_block[i], want[i]);
	assert_int_equal(d->report.count[HX__DAG_ISSUE_END_WITHOUT_BEGIN], 1);
	assert_int_equal(d->report.count[HX__DAG_ISSUE_BEGIN_WITHOUT_END], 1);
	assert_int_equal(d->report.nissues, 2);
	assert_int_equal(d->report.issue[0].kind, HX__DAG_ISSUE_END_WITHOUT_BEGIN);
	assert_int_equal(d->report.issue[0].event, 0);
	assert_int_equal(d->report.issue[1].kind, HX__DAG_ISSUE_BEGIN_WITHOUT_END);
	assert_int_equal(d->report.issue[1].event, 1);
	hx__dag_free(d);
}

static void test_waits(void **state)
{
	(void)state;
	tb t;
	tb_init(&t, NULL);
	hx_context rel = CAUSE(&t, B, 50, HX_IA_LOCK, "release");  /* B0 */
	hx_context enq = CAUSE(&t, B, 60, HX_IA_MESSAGE, "enq");   /* B1 */
	WAIT(&t, A, 10, "the lock");                               /* A0 = 2 */
	POINT(&t, A, 12, "still waiting");                         /* A1 */
	EFFECT(&t, A, 55, HX_IA_LOCK, "acquire", 1, &rel, 1);      /* A2: ends wait 1 */
	WAIT(&t, A, 57, "queue");                                  /* A3 */
	RUN(&t, A, 65);                                            /* A4: ends wait 2 */
	ev(&t, A, 66, HX_EV_TRACE_END, "", 0, 0, NULL, 0);         /* A5: bookkeeping */
	EFFECT(&t, A, 67, HX_IA_MESSAGE, "deq", 0, &enq, 1);       /* A6: what woke it */
	EFFECT(&t, A, 70, HX_IA_LOCK, "again", 1, &rel, 1);        /* A7: resumes, not waiting */
	WAIT(&t, A, 80, "forever");                                /* A8: never ends */
	POINT(&t, A, 90, "last");                                  /* A9 */
	hx__dag *d = tb_finish(&t);
	assert_int_equal(d->nwaits, 3);
	const hx__dag_wait *w = d->waits;
	uint32_t a0 = at(d, A, 0);
	assert_string_equal(hx__dag_str(d, w[0].reason), "the lock");
	assert_int_equal(w[0].start, a0);
	assert_int_equal(w[0].end, a0 + 2);
	assert_int_equal(w[0].resume, a0 + 2);
	assert_int_equal(w[0].flags, 0);
	assert_string_equal(hx__dag_str(d, w[1].reason), "queue");
	assert_int_equal(w[1].start, a0 + 3);
	assert_int_equal(w[1].end, a0 + 4);
	assert_int_equal(w[1].resume, a0 + 6);
	assert_int_equal(w[1].flags, HX__WAIT_INFERRED);
	assert_int_equal(w[2].start, a0 + 8);
	assert_int_equal(w[2].end, a0 + 9);
	assert_int_equal(w[2].resume, HX__DAG_NONE);
	assert_int_equal(w[2].flags, HX__WAIT_UNTERMINATED);
	/* waiting-after marks: the wait's first event and those inside it */
	uint8_t want[] = {1, 1, 0, 1, 0, 0, 0, 0, 1, 1};
	for (uint32_t i = 0; i < 10; i++) {
		assert_int_equal(!!(d->ev_flags[a0 + i] & HX__EVF_WAITING_AFTER), want[i]);
		if (want[i])
			assert_int_equal(hx__dag_wait_after(d, a0 + i), i < 3 ? 0 : i < 8 ? 1 : 2);
	}
	assert_int_equal(hx__dag_wait_ending(d, a0 + 2), 0);
	assert_int_equal(hx__dag_wait_ending(d, a0 + 4), 1);
	assert_int_equal(hx__dag_wait_ending(d, a0 + 6), HX__DAG_NONE);
	assert_int_equal(d->report.count[HX__DAG_ISSUE_RESUME_WITHOUT_WAIT], 1);
	assert_int_equal(d->report.count[HX__DAG_ISSUE_UNTERMINATED_WAIT], 1);
	assert_true(d->ev_flags[a0 + 2] & HX__EVF_RESUMES);
	hx__dag_free(d);
}

static void test_causes(void **state)
{
	(void)state;
	for (int filtered = 0; filtered < 2; filtered++) {
		tb t;
		hx__dag_filter f;
		memset(&f, 0, sizeof(f));
		memcpy(f.id, TR, 16);
		f.nibbles = 32;
		tb_init(&t, filtered ? &f : NULL);
		hx_context send = CAUSE(&t, A, 10, HX_IA_MESSAGE, "send");
		hx_context cs[6];
		cs[0] = send;                                         /* linked */
		cs[1] = send;
		cs[1].entity_id = 0xdead;                             /* dangling */
		cs[2] = send;
		cs[2].flags |= HX_CTX_FOREIGN;                        /* external (even though A:0 exists) */
		cs[3] = send;
		cs[3].flags = HX_CTX_VALID;                           /* not sampled, not found */
		cs[3].seq = 77;
		cs[4] = send;
		memcpy(cs[4].trace_id, TR2, 16);                      /* another trace, not in the input */
		cs[4].seq = 5;
		cs[5] = send;
		memcpy(cs[5].trace_id, TR2, 16);                      /* another trace, event present */
		cs[5].seq = 1;
		EFFECT(&t, B, 20, HX_IA_MESSAGE, "recv", 0, cs, 6);
		t.trace = TR2;
		POINT(&t, A, 15, "in the other trace");               /* A:1, dropped when filtered */
		hx__dag *d = tb_finish(&t);
		const hx__dag_report *r = &d->report;
		uint32_t e = at(d, B, 0);
		assert_int_equal(d->cause_off[e + 1] - d->cause_off[e], 6);
		const uint8_t *cls = d->cause_cls + d->cause_off[e];
		const uint32_t *cev = d->cause_ev + d->cause_off[e];
		assert_int_equal(cls[0], HX__CC_LINKED);
		assert_int_equal(cev[0], at(d, A, 0));
		assert_int_equal(cls[1], HX__CC_DANGLING);
		assert_int_equal(cev[1], HX__DAG_NONE);
		assert_int_equal(cls[2], HX__CC_EXTERNAL);
		assert_int_equal(cev[2], HX__DAG_NONE);
		assert_int_equal(cls[3], HX__CC_SAMPLED_OUT | HX__CC_UNSAMPLED);
		assert_int_equal(cls[4], (filtered ? HX__CC_CROSS_TRACE : HX__CC_DANGLING) | HX__CC_OTHER_TRACE);
		if (filtered) {
			assert_int_equal(cls[5], HX__CC_CROSS_TRACE | HX__CC_OTHER_TRACE);
			assert_int_equal(r->filtered_out, 1);
			assert_int_equal(d->n, 2);
		} else {
			assert_int_equal(cls[5], HX__CC_LINKED | HX__CC_OTHER_TRACE);
			assert_int_equal(cev[5], at(d, A, 1));
			assert_int_equal(r->other_trace_linked, 1);
			assert_int_equal(d->ntraces, 2);
		}
		assert_int_equal(r->causes, 6);
		assert_int_equal(r->linked, filtered ? 1 : 2);
		assert_int_equal(r->dangling, filtered ? 1 : 2);
		assert_int_equal(r->external, 1);
		assert_int_equal(r->sampled_out, 1);
		assert_int_equal(r->cross_trace, filtered ? 2 : 0);
		assert_int_equal(r->count[HX__DAG_ISSUE_DANGLING], r->dangling);
		assert_int_equal(r->count[HX__DAG_ISSUE_REVERSED], 0);
		assert_int_equal(r->count[HX__DAG_ISSUE_CYCLE], 0);
		hx__dag_free(d);
	}
}

static void test_reversed_and_cycle(void **state)
{
	(void)state;
	/* a clock-skewed edge: the receive is stamped before the send; no cycle in the IDs */
	tb t;
	tb_init(&t, NULL);
	hx_context send = CAUSE(&t, A, 200, HX_IA_MESSAGE, "send");
	EFFECT(&t, B, 150, HX_IA_MESSAGE, "recv", 0, &send, 1);
	hx__dag *d = tb_finish(&t);
	assert_int_equal(d->report.count[HX__DAG_ISSUE_REVERSED], 1);
	assert_int_equal(d->report.count[HX__DAG_ISSUE_CYCLE], 0);
	assert_int_equal(d->report.issue[0].event, at(d, B, 0));
	assert_int_equal(d->report.issue[0].other, at(d, A, 0));
	assert_int_equal(d->report.linked, 1); /* the edge is kept */
	hx__dag_free(d);

	/* inconsistent IDs: A0 <- B1 <- B0 <- A1 <- A0 is a cycle */
	tb_init(&t, NULL);
	hx_context b1 = {{0}, B, 1, HX_CTX_VALID | HX_CTX_SAMPLED, 0};
	hx_context a1 = {{0}, A, 1, HX_CTX_VALID | HX_CTX_SAMPLED, 0};
	memcpy(b1.trace_id, TR, 16);
	memcpy(a1.trace_id, TR, 16);
	EFFECT(&t, A, 10, HX_IA_CAUSAL, "a0", 0, &b1, 1);
	CAUSE(&t, A, 20, HX_IA_CAUSAL, "a1");
	EFFECT(&t, B, 5, HX_IA_CAUSAL, "b0", 0, &a1, 1);
	CAUSE(&t, B, 30, HX_IA_CAUSAL, "b1");
	d = tb_finish(&t);
	assert_int_equal(d->report.count[HX__DAG_ISSUE_CYCLE], 1);
	assert_int_equal(d->report.count[HX__DAG_ISSUE_REVERSED], 2);
	assert_int_equal(d->report.linked, 2);
	hx__dag_free(d);
}

static void test_filter_names_and_extract(void **state)
{
	(void)state;
	/* The same events twice: once through a filter on TR's last 8 digits, once whole and then
	 * cut down to TR. Both graphs must be the same, and know the entities' names, which only
	 * events outside TR carry. */
	hx__dag *g[2];
	for (int pass = 0; pass < 2; pass++) {
		hx__dag_filter f;
		memset(&f, 0, sizeof(f));
		memcpy(f.id + 12, TR + 12, 4);
		f.nibbles = 8;
		tb t;
		tb_init(&t, pass == 0 ? &f : NULL);
		t.trace = NULL;
		ev(&t, A, 1, HX_EV_ENTITY_BEGIN, "alpha", HX_ENTITY_THREAD, 0, NULL, 0);
		ev(&t, B, 2, HX_EV_ENTITY_BEGIN, "beta", HX_ENTITY_TASK, 0, NULL, 0);
		t.trace = TR2;
		hx_context other = POINT(&t, B, 3, "elsewhere");
		t.trace = TR;
		hx_context root = ev(&t, A, 10, HX_EV_TRACE_BEGIN, "request", 0, 0, NULL, 0);
		BEGIN(&t, A, 11, "work");
		ev(&t, B, 12, HX_EV_TRACE_JOIN, "", HX_IA_CAUSAL, 0, &root, 1);
		WAIT(&t, B, 13, "disk");
		const hx_context both[] = {root, other};
		EFFECT(&t, B, 14, HX_IA_CAUSAL, "both", 1, both, 2);
		END(&t, A, 20);
		t.trace = TR2;
		POINT(&t, A, 30, "after");
		hx__dag *d = tb_finish(&t);
		if (pass == 1) {
			assert_int_equal(d->ntraces, 2);
			uint32_t tr = hx__dag_trace_find(d, TR);
			assert_int_equal(tr, 1); /* TR2 appeared first */
			assert_int_equal(hx__dag_trace_find(d, (const uint8_t[16]){9}), HX__DAG_NONE);
			hx__dag *cut;
			assert_int_equal(hx__dag_extract(d, tr, &cut), HX_OK);
			assert_int_equal(cut->report.filtered_out, 4);
			hx__dag_free(d);
			d = cut;
		} else {
			assert_int_equal(d->report.filtered_out, 4);
		}
		g[pass] = d;
	}
	for (int pass = 0; pass < 2; pass++) {
		hx__dag *d = g[pass];
		assert_int_equal(d->n, 6);
		assert_int_equal(d->ntraces, 1);
		assert_memory_equal(d->traces[0].id, TR, 16);
		assert_string_equal(hx__dag_str(d, d->traces[0].root_name), "request");
		assert_int_equal(d->traces[0].entities, 2);
		assert_int_equal(d->traces[0].first_ns, 10);
		assert_int_equal(d->traces[0].last_ns, 20);
		uint32_t ea = hx__dag_entity_find(d, A), eb = hx__dag_entity_find(d, B);
		assert_string_equal(hx__dag_str(d, d->entities[ea].name), "alpha");
		assert_string_equal(hx__dag_str(d, d->entities[eb].name), "beta");
		assert_int_equal(d->entities[eb].kind, HX_ENTITY_TASK);
		assert_int_equal(d->nblocks, 1);
		assert_int_equal(d->nwaits, 1);
		assert_int_equal(d->report.linked, 2);
		assert_int_equal(d->report.cross_trace, 1);
		assert_int_equal(d->report.count[HX__DAG_ISSUE_SEQ_GAP], 0); /* expected when filtered */
	}
	/* same events, same order, same structure */
	for (size_t i = 0; i < g[0]->n; i++) {
		assert_int_equal(g[0]->ev_seq[i], g[1]->ev_seq[i]);
		assert_int_equal(g[0]->entities[g[0]->ev_entity[i]].id, g[1]->entities[g[1]->ev_entity[i]].id);
		assert_int_equal(g[0]->ev_flags[i], g[1]->ev_flags[i]);
	}
	hx__dag_free(g[0]);
	hx__dag_free(g[1]);
}

static void test_report_text(void **state)
{
	(void)state;
	tb t;
	tb_init(&t, NULL);
	END(&t, A, 5);
	hx__dag *d = tb_finish(&t);
	hx__buf b = HX__BUF_INIT;
	assert_int_equal(hx__dag_report_json(&b, d), HX_OK);
	assert_non_null(strstr(b.p, "\"end_without_begin\":1"));
	assert_non_null(strstr(b.p, "\"listed\":[{\"issue\":\"end_without_begin\",\"event\":{\"entity\":\"00000000000000a1\",\"seq\":0}}]"));
	hx__buf_reset(&b);
	assert_int_equal(hx__dag_report_text(&b, d, 10), HX_OK);
	assert_non_null(strstr(b.p, "1 x block end without an open block: ignored\n"));
	assert_non_null(strstr(b.p, "end_without_begin at 00000000000000a1:0\n"));
	hx__buf_free(&b);
	hx__dag_free(d);
}

/* Through the reader: a real file written by the library, read back into a graph. */
static void test_from_file(void **state)
{
	(void)state;
	char dir[512];
	assert_int_equal(hxt_mkdtemp(dir, sizeof dir, "dag"), 0);
	assert_int_equal(hxt_start_file(dir, 0), HX_OK);
	hx_context root = hx_trace_begin("job");
	hx_block_begin("step");
	hx_context c = hx_send("msg");
	hx_receive("msg back", &c);
	hx_block_end();
	hx_trace_end();
	assert_int_equal(hx_shutdown(), HX_OK);
	hx_reader *r;
	assert_int_equal(hx_reader_open(&r, dir, HX_ORDER_STREAM), HX_OK);
	hx__dag *d;
	assert_int_equal(hx__dag_read(&d, r, NULL), HX_OK);
	hx_reader_close(r);
	assert_int_equal(d->ntraces, 1);
	assert_memory_equal(d->traces[0].id, root.trace_id, 16);
	assert_string_equal(hx__dag_str(d, d->traces[0].root_name), "job");
	assert_int_equal(d->nblocks, 1);
	assert_string_equal(hx__dag_str(d, d->blocks[0].name), "step");
	assert_int_equal(d->report.linked, 1);
	uint32_t recv = hx__dag_find(d, c.entity_id, c.seq + 1);
	assert_int_not_equal(recv, HX__DAG_NONE);
	assert_int_equal(d->cause_ev[d->cause_off[recv]], hx__dag_find(d, c.entity_id, c.seq));
	/* the thread's entity has its name and its process's host */
	uint32_t e = hx__dag_entity_find(d, c.entity_id);
	assert_string_not_equal(hx__dag_str(d, d->entities[e].name), "");
	assert_int_equal(d->entities[e].pid, (uint64_t)getpid());
	hx__dag_free(d);
	hxt_rmrf(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_order_and_lookup),
		cmocka_unit_test(test_out_of_order_and_duplicates),
		cmocka_unit_test(test_blocks),
		cmocka_unit_test(test_waits),
		cmocka_unit_test(test_causes),
		cmocka_unit_test(test_reversed_and_cycle),
		cmocka_unit_test(test_filter_names_and_extract),
		cmocka_unit_test(test_report_text),
		cmocka_unit_test(test_from_file),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
