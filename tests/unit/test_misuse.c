/*
 * test_misuse.c - every misuse the header names: the call never crashes, records nothing (or what
 * the header says it records, such as "(null)"), moves exactly the documented counter by exactly
 * the documented amount and no other, and the trace stays readable without damage.
 *
 * Counters are process-wide and cumulative, so each check compares a snapshot taken before the
 * misuse with one taken after (expect_counts()).
 */
#include "../hxtest.h"

#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/wait.h>

#include <cmocka.h>

typedef hxt_fixture fixture;

static int setup(void **state)
{
	return hxt_fixture_setup(state, "misuse");
}

static int teardown(void **state)
{
	return hxt_fixture_teardown(state);
}

static void start_file(const char *dir)
{
	assert_int_equal(hxt_start_file(dir, 0), HX_OK);
}

/* Assert that from `before` to now, the counters moved exactly as listed (pairs of counter id and
 * delta, ended by -1) and no other counter moved (SLOW_CHUNKS excepted: it depends on timing). */
static void expect_counts_(const hx_stats *before, const char *where, ...)
{
	uint64_t want[HX_COUNT__MAX] = {0};
	va_list ap;
	va_start(ap, where);
	for (;;) {
		int id = va_arg(ap, int);
		if (id < 0)
			break;
		want[id] = (uint64_t)va_arg(ap, int);
	}
	va_end(ap);
	hx_stats now;
	hx_stats_get(&now);
	for (int i = 0; i < HX_COUNT__MAX; i++) {
		if (i == HX_COUNT_SLOW_CHUNKS)
			continue;
		uint64_t d = now.count[i] - before->count[i];
		if (d != want[i])
			fail_msg("%s: counter %s moved by %" PRIu64 ", expected %" PRIu64, where, hx_counter_name(i), d,
			         want[i]);
	}
}
#define expect_counts(before, ...) expect_counts_((before), __func__, __VA_ARGS__, -1)
#define expect_no_counts(before) expect_counts_((before), __func__, -1)

/* Shut down and read the trace: readable, no damage; the events are returned in *evs. */
static void finish_and_read(const char *dir, hxt_events *evs)
{
	assert_int_equal(hx_shutdown(), HX_OK);
	hxt_read_result res;
	assert_int_equal(hxt_read_all(dir, HX_ORDER_STREAM, evs, &res, 1), HX_OK);
	assert_int_equal(res.next_rc, HX_EOF);
	assert_int_equal(res.damage, 0);
	assert_int_equal(res.info.damaged, 0);
	size_t nent;
	assert_int_equal(hxt_check_entities(evs, 1, 0, UINT64_MAX, &nent), 0);
}

static size_t count_named(const hxt_events *evs, hx_event_kind kind, const char *name)
{
	size_t n = 0;
	for (size_t i = 0; i < evs->n; i++)
		n += evs->v[i].ev.kind == kind && !strcmp(evs->v[i].ev.name, name);
	return n;
}

/* ---- tests ---- */

static void test_end_without_begin(void **state)
{
	fixture *f = *state;
	start_file(f->dir);
	hx_stats b;
	hx_stats_get(&b);
	hx_block_end(); /* the thread's very first call */
	expect_counts(&b, HX_COUNT_END_WITHOUT_BEGIN, 1);
	hx_block_begin("balanced");
	hx_block_end();
	hx_block_end();
	hx_block_end_attrs(HX_ATTRS(HX_INT("x", 1)));
	expect_counts(&b, HX_COUNT_END_WITHOUT_BEGIN, 3);
	/* annotating a block that is not open */
	hx_annotate(HX_TARGET_BLOCK, HX_ATTRS(HX_INT("x", 1)));
	expect_counts(&b, HX_COUNT_END_WITHOUT_BEGIN, 4);
	/* an explicit entity has its own blocks: the thread's open block does not count for it */
	hx_block_begin("thread-block");
	hx_entity *e = hx_entity_begin("task", HX_ENTITY_TASK);
	hx_entity_enter(e);
	hx_block_end();
	expect_counts(&b, HX_COUNT_END_WITHOUT_BEGIN, 5);
	hx_entity_leave();
	hx_entity_end(e);
	hx_block_end(); /* ends thread-block */
	expect_counts(&b, HX_COUNT_END_WITHOUT_BEGIN, 5);
	hxt_events evs = {0};
	finish_and_read(f->dir, &evs);
	assert_int_equal(hxt_count_kind(&evs, HX_EV_BLOCK_END), 2);
	assert_int_equal(hxt_count_kind(&evs, HX_EV_BLOCK_BEGIN), 2);
	assert_int_equal(hxt_count_kind(&evs, HX_EV_ANNOTATE), 0);
	hxt_events_free(&evs);
}

static void test_null_names(void **state)
{
	fixture *f = *state;
	start_file(f->dir);
	hx_point("first"); /* the thread's ENTITY_BEGIN is out of the way */
	hx_stats b;
	hx_stats_get(&b);
	hx_point(NULL);
	expect_counts(&b, HX_COUNT_NULL_NAME, 1);
	HX_POINT_WITH("null-key", HX_INT(NULL, 7));
	expect_counts(&b, HX_COUNT_NULL_NAME, 2);
	hx_block_begin(NULL);
	hx_block_end();
	hx_counter(NULL, 1.0, NULL); /* a NULL unit is no unit, not misuse */
	hx_counter_int("c", 1, NULL);
	hx_error(NULL);
	hx_cause(HX_IA_MESSAGE, NULL);
	hx_context t = hx_trace_begin(NULL);
	assert_true(t.flags & HX_CTX_VALID);
	hx_trace_end();
	hx_entity *e = hx_entity_begin(NULL, HX_ENTITY_TASK);
	assert_non_null(e);
	hx_entity_end(e);
	hx_state_set(HX_STATE_WAITING, NULL); /* NULL reason: none, not misuse */
	expect_counts(&b, HX_COUNT_NULL_NAME, 8);
	hx_thread_name(NULL);
	expect_counts(&b, HX_COUNT_NULL_NAME, 9);
	hxt_events evs = {0};
	finish_and_read(f->dir, &evs);
	assert_int_equal(count_named(&evs, HX_EV_POINT, "(null)"), 1);
	assert_int_equal(count_named(&evs, HX_EV_BLOCK_BEGIN, "(null)"), 1);
	assert_int_equal(count_named(&evs, HX_EV_COUNTER, "(null)"), 1);
	assert_int_equal(count_named(&evs, HX_EV_ERROR, "(null)"), 1);
	assert_int_equal(count_named(&evs, HX_EV_CAUSE, "(null)"), 1);
	assert_int_equal(count_named(&evs, HX_EV_TRACE_BEGIN, "(null)"), 1);
	assert_int_equal(count_named(&evs, HX_EV_ENTITY_BEGIN, "(null)"), 1);
	const hxt_event *p = hxt_find_name(&evs, HX_EV_POINT, "null-key");
	assert_non_null(p);
	assert_int_equal(p->ev.nattrs, 1);
	assert_string_equal(p->ev.attrs[0].key, "(null)");
	assert_int_equal(p->ev.attrs[0].v.i, 7);
	const hxt_event *c = hxt_find_name(&evs, HX_EV_COUNTER, "c");
	assert_non_null(c);
	assert_string_equal(c->ev.unit, "");
	size_t named = 0;
	for (size_t i = 0; i < evs.n; i++) {
		const hx_event *ev = &evs.v[i].ev;
		if (ev->kind == HX_EV_ANNOTATE && ev->nattrs == 1 && !strcmp(ev->attrs[0].key, "name")) {
			assert_int_equal(ev->attrs[0].v.s.len, 6);
			assert_memory_equal(ev->attrs[0].v.s.ptr, "(null)", 6);
			named++;
		}
	}
	assert_int_equal(named, 1);
	hxt_events_free(&evs);
}

static void test_huge_names(void **state)
{
	fixture *f = *state;
	size_t n = 100000;
	char *huge = malloc(n + 1);
	assert_non_null(huge);
	memset(huge, 'h', n);
	huge[n] = 0;
	start_file(f->dir);
	hx_point("first");
	hx_stats b;
	hx_stats_get(&b);
	hx_point(huge);
	hx_point(huge); /* a cached name is counted again: each call is a misuse */
	expect_counts(&b, HX_COUNT_NAME_TOO_LONG, 2);
	hx_point_attrs("huge-key", &HX_INT(huge, 1), 1);
	hx_counter("huge-unit", 1.0, huge);
	hx_state_set(HX_STATE_WAITING, huge);
	expect_counts(&b, HX_COUNT_NAME_TOO_LONG, 5);
	/* exactly HX_NAME_MAX is not too long (the same buffer: the name cache must notice) */
	huge[HX_NAME_MAX] = 0;
	hx_point(huge);
	expect_counts(&b, HX_COUNT_NAME_TOO_LONG, 5);
	/* a buffer that held a name cut at a UTF-8 boundary (254 bytes kept), then a 255-byte name
	 * with the same first 254 bytes: recorded whole, not counted */
	static char reused[301];
	for (int i = 0; i < 150; i++)
		reused[2 * i] = (char)0xc3, reused[2 * i + 1] = (char)0xa9;
	hx_point(reused);
	expect_counts(&b, HX_COUNT_NAME_TOO_LONG, 6);
	reused[254] = 'x';
	reused[255] = 0;
	hx_point(reused);
	expect_counts(&b, HX_COUNT_NAME_TOO_LONG, 6);
	hxt_events evs = {0};
	finish_and_read(f->dir, &evs);
	size_t long_points = 0, long_keys = 0, long_units = 0, long_reasons = 0, reused_points = 0;
	for (size_t i = 0; i < evs.n; i++) {
		const hx_event *e = &evs.v[i].ev;
		if (e->kind == HX_EV_POINT && (unsigned char)e->name[0] == 0xc3) {
			/* first the cut one (254 bytes), then the whole 255-byte one */
			assert_int_equal(e->name_len, reused_points ? 255 : 254);
			assert_memory_equal(e->name, reused, 254);
			reused_points++;
		}
		if (e->kind == HX_EV_POINT && e->name[0] == 'h' && strcmp(e->name, "huge-key") != 0) {
			assert_int_equal(e->name_len, HX_NAME_MAX);
			assert_int_equal(strspn(e->name, "h"), HX_NAME_MAX);
			long_points++;
		}
		if (e->kind == HX_EV_POINT && !strcmp(e->name, "huge-key")) {
			assert_int_equal(strlen(e->attrs[0].key), HX_NAME_MAX);
			long_keys++;
		}
		if (e->kind == HX_EV_COUNTER) {
			assert_int_equal(strlen(e->unit), HX_NAME_MAX);
			long_units++;
		}
		if (e->kind == HX_EV_STATE) {
			assert_int_equal(e->name_len, HX_NAME_MAX);
			long_reasons++;
		}
	}
	assert_int_equal(long_points, 3);
	assert_int_equal(long_keys, 1);
	assert_int_equal(long_units, 1);
	assert_int_equal(long_reasons, 1);
	assert_int_equal(reused_points, 2);
	hxt_events_free(&evs);
	free(huge);
}

static void test_attributes_over_limits(void **state)
{
	fixture *f = *state;
	hx_attr many[100];
	char keys[100][8];
	for (int i = 0; i < 100; i++) {
		snprintf(keys[i], sizeof keys[i], "a%d", i);
		many[i] = HX_INT(keys[i], i);
	}
	static char big[HX_VALUE_MAX + 100];
	memset(big, 'v', sizeof big);
	start_file(f->dir);
	hx_point("first");
	hx_stats b;
	hx_stats_get(&b);
	hx_point_attrs("a33", many, 33);
	expect_counts(&b, HX_COUNT_ATTRS_DROPPED, 1);
	hx_point_attrs("a100", many, 100);
	expect_counts(&b, HX_COUNT_ATTRS_DROPPED, 1 + 68);
	/* a bad type: the attribute is dropped (the others are kept) */
	hx_attr bad[3] = {HX_INT("before", 1), HX_INT("bad", 2), HX_INT("after", 3)};
	bad[1].type = (hx_attr_type)99;
	hx_point_attrs("badtype", bad, 3);
	expect_counts(&b, HX_COUNT_ATTRS_DROPPED, 70);
	/* a NULL value with a length: recorded empty, counted */
	hx_point_attrs("nullvalue", &HX_STRN("s", NULL, 10), 1);
	expect_counts(&b, HX_COUNT_ATTRS_DROPPED, 70, HX_COUNT_BAD_ARGUMENT, 1);
	/* a value over HX_VALUE_MAX: truncated, counted */
	hx_point_attrs("bigvalue", &HX_STRN("s", big, sizeof big), 1);
	expect_counts(&b, HX_COUNT_ATTRS_DROPPED, 70, HX_COUNT_BAD_ARGUMENT, 1, HX_COUNT_VALUE_TRUNCATED, 1);
	/* NULL attrs with a count: no attributes, nothing to count */
	hx_point_attrs("nullattrs", NULL, 5);
	expect_counts(&b, HX_COUNT_ATTRS_DROPPED, 70, HX_COUNT_BAD_ARGUMENT, 1, HX_COUNT_VALUE_TRUNCATED, 1);

	hxt_events evs = {0};
	finish_and_read(f->dir, &evs);
	const hxt_event *e;
	assert_non_null(e = hxt_find_name(&evs, HX_EV_POINT, "a33"));
	assert_int_equal(e->ev.nattrs, HX_ATTR_MAX);
	for (int i = 0; i < HX_ATTR_MAX; i++) {
		assert_string_equal(e->ev.attrs[i].key, keys[i]);
		assert_int_equal(e->ev.attrs[i].v.i, i);
	}
	assert_non_null(e = hxt_find_name(&evs, HX_EV_POINT, "a100"));
	assert_int_equal(e->ev.nattrs, HX_ATTR_MAX);
	assert_non_null(e = hxt_find_name(&evs, HX_EV_POINT, "badtype"));
	if (e->ev.nattrs != 2)
		fail_msg("an attribute of a bad type must be dropped, not recorded: %zu attributes recorded "
		         "(the second is %s)",
		         e->ev.nattrs, e->ev.nattrs > 1 ? e->ev.attrs[1].key : "-");
	assert_string_equal(e->ev.attrs[0].key, "before");
	assert_string_equal(e->ev.attrs[1].key, "after");
	assert_int_equal(e->ev.attrs[1].v.i, 3);
	assert_non_null(e = hxt_find_name(&evs, HX_EV_POINT, "nullvalue"));
	assert_int_equal(e->ev.nattrs, 1);
	assert_int_equal(e->ev.attrs[0].v.s.len, 0);
	assert_non_null(e = hxt_find_name(&evs, HX_EV_POINT, "bigvalue"));
	assert_int_equal(e->ev.attrs[0].v.s.len, HX_VALUE_MAX);
	assert_non_null(e = hxt_find_name(&evs, HX_EV_POINT, "nullattrs"));
	assert_int_equal(e->ev.nattrs, 0);
	hxt_events_free(&evs);
}

/* Small chunks: what does not fit in one chunk is dropped attribute by attribute (counted), and
 * the event itself is always recorded, also with the most causes an effect may carry. */
static void test_attributes_that_do_not_fit_a_chunk(void **state)
{
	fixture *f = *state;
	static char big[HX_VALUE_MAX];
	memset(big, 'b', sizeof big);
	assert_int_equal(hxt_start_file(f->dir, 4096), HX_OK);
	hx_context c = hx_cause(HX_IA_FORK, "fork");
	hx_context causes[HX_CAUSE_MAX];
	for (int i = 0; i < HX_CAUSE_MAX; i++)
		causes[i] = c;
	hx_stats b;
	hx_stats_get(&b);
	hx_attr three[3] = {HX_STRN("one", big, 1500), HX_STRN("two", big, 1500), HX_STRN("three", big, 1500)};
	hx_point_attrs("three-big", three, 3);
	hx_effect_attrs(HX_IA_JOIN, "join-64", causes, HX_CAUSE_MAX, three, 3);
	hx_stats a;
	hx_stats_get(&a);
	assert_int_equal(a.count[HX_COUNT_DROPPED], b.count[HX_COUNT_DROPPED]);
	uint64_t dropped_attrs = a.count[HX_COUNT_ATTRS_DROPPED] - b.count[HX_COUNT_ATTRS_DROPPED];
	hxt_events evs = {0};
	finish_and_read(f->dir, &evs);
	const hxt_event *p = hxt_find_name(&evs, HX_EV_POINT, "three-big");
	assert_non_null(p);
	const hxt_event *j = hxt_find_name(&evs, HX_EV_EFFECT, "join-64");
	if (!j)
		fail_msg("an effect with %d causes and large attributes was not recorded at all (chunk 4096)",
		         HX_CAUSE_MAX);
	assert_int_equal(j->ev.ncauses, HX_CAUSE_MAX);
	/* every attribute is either recorded whole or dropped and counted */
	assert_int_equal((3 - p->ev.nattrs) + (3 - j->ev.nattrs), dropped_attrs);
	assert_true(p->ev.nattrs >= 1);
	for (size_t i = 0; i < p->ev.nattrs; i++)
		assert_int_equal(p->ev.attrs[i].v.s.len, 1500);
	hxt_events_free(&evs);
}

static void test_bad_enum_values(void **state)
{
	fixture *f = *state;
	start_file(f->dir);
	hx_point("first");
	hx_stats b;
	hx_stats_get(&b);
	assert_null(hx_entity_begin("k0", (hx_entity_kind)0));
	assert_null(hx_entity_begin("k99", (hx_entity_kind)99));
	hx_state_set((hx_state)0, "x");
	hx_state_set((hx_state)3, "x");
	hx_annotate((hx_annotate_target)0, HX_ATTRS(HX_INT("x", 1)));
	hx_annotate((hx_annotate_target)4, HX_ATTRS(HX_INT("x", 1)));
	hx_annotate(HX_TARGET_ENTITY, NULL, 0); /* an annotation without attributes */
	hx_context c = hx_cause((hx_interaction)0, "c0");
	assert_false(c.flags & HX_CTX_VALID);
	c = hx_cause((hx_interaction)10, "c10");
	assert_false(c.flags & HX_CTX_VALID);
	hx_context good = hx_cause(HX_IA_MESSAGE, "good");
	hx_context e = hx_effect((hx_interaction)0, "e0", &good);
	assert_false(e.flags & HX_CTX_VALID);
	e = hx_effect((hx_interaction)77, "e77", &good);
	assert_false(e.flags & HX_CTX_VALID);
	expect_counts(&b, HX_COUNT_BAD_ARGUMENT, 11);
	hxt_events evs = {0};
	finish_and_read(f->dir, &evs);
	assert_int_equal(evs.n, 3); /* ENTITY_BEGIN, first, good */
	hxt_events_free(&evs);
}

static void test_bad_contexts(void **state)
{
	fixture *f = *state;
	start_file(f->dir);
	hx_context tr = hx_trace_begin("t");
	hx_trace_end();
	hx_stats b;
	hx_stats_get(&b);
	hx_context zero;
	memset(&zero, 0, sizeof zero);
	hx_trace_join(NULL, "j-null");
	hx_trace_join(&zero, "j-zero");
	hx_context no_trace = tr;
	memset(no_trace.trace_id, 0, 16);
	hx_trace_join(&no_trace, "j-no-trace");
	hx_context no_valid = tr;
	no_valid.flags &= ~HX_CTX_VALID;
	hx_trace_join(&no_valid, "j-not-valid");
	expect_counts(&b, HX_COUNT_BAD_CONTEXT, 4);
	/* effects skip invalid causes (counted) and record the valid ones */
	hx_context mixed[3] = {tr, zero, no_valid};
	hx_effect_attrs(HX_IA_JOIN, "mixed", mixed, 3, NULL, 0);
	expect_counts(&b, HX_COUNT_BAD_CONTEXT, 6);
	hx_context many[HX_CAUSE_MAX + 1];
	for (int i = 0; i <= HX_CAUSE_MAX; i++)
		many[i] = tr;
	hx_effect_attrs(HX_IA_JOIN, "too-many", many, HX_CAUSE_MAX + 1, NULL, 0);
	expect_counts(&b, HX_COUNT_BAD_CONTEXT, 7);
	hx_effect(HX_IA_MESSAGE, "null-cause", NULL);
	expect_counts(&b, HX_COUNT_BAD_CONTEXT, 8);
	/* trace end and trace annotation without a trace */
	hx_trace_end();
	hx_annotate(HX_TARGET_TRACE, HX_ATTRS(HX_INT("x", 1)));
	expect_counts(&b, HX_COUNT_BAD_CONTEXT, 8, HX_COUNT_NO_TRACE, 2);
	hxt_events evs = {0};
	finish_and_read(f->dir, &evs);
	assert_int_equal(hxt_count_kind(&evs, HX_EV_TRACE_JOIN), 0);
	const hxt_event *e;
	assert_non_null(e = hxt_find_name(&evs, HX_EV_EFFECT, "mixed"));
	assert_int_equal(e->ev.ncauses, 1);
	assert_int_equal(e->ev.causes[0].entity_id, tr.entity_id);
	assert_int_equal(e->ev.causes[0].seq, tr.seq);
	assert_non_null(e = hxt_find_name(&evs, HX_EV_EFFECT, "too-many"));
	assert_int_equal(e->ev.ncauses, HX_CAUSE_MAX);
	assert_non_null(e = hxt_find_name(&evs, HX_EV_EFFECT, "null-cause"));
	assert_int_equal(e->ev.ncauses, 0);
	assert_int_equal(hxt_count_kind(&evs, HX_EV_TRACE_END), 1);
	hxt_events_free(&evs);
}

/* ---- entities ---- */

static pthread_barrier_t g_barrier;
static hx_entity *g_shared;

static void *hold_entity(void *arg)
{
	(void)arg;
	hx_entity_enter(g_shared);
	pthread_barrier_wait(&g_barrier); /* entered */
	pthread_barrier_wait(&g_barrier); /* the main thread tried */
	hx_entity_leave();
	return NULL;
}

/* A thread that ends while inside an entity leaves it: another thread may then run and end it. */
static void *exit_inside(void *arg)
{
	hx_entity_enter(arg);
	hx_point("inside");
	return NULL;
}

static void test_thread_exits_inside_entity(void **state)
{
	fixture *f = *state;
	start_file(f->dir);
	hx_entity *e = hx_entity_begin("orphan", HX_ENTITY_COROUTINE);
	pthread_t th;
	assert_int_equal(pthread_create(&th, NULL, exit_inside, e), 0);
	assert_int_equal(pthread_join(th, NULL), 0);
	hx_stats b;
	hx_stats_get(&b);
	hx_entity_enter(e);
	hx_point("main-inside");
	hx_entity_leave();
	hx_entity_end(e);
	expect_no_counts(&b);
	hxt_events evs = {0};
	finish_and_read(f->dir, &evs);
	const hxt_event *ob = hxt_find_name(&evs, HX_EV_ENTITY_BEGIN, "orphan");
	assert_non_null(ob);
	/* begin, running, inside, waiting (at the thread's exit), running, main-inside, waiting, end */
	static const hx_event_kind kinds[] = {HX_EV_ENTITY_BEGIN, HX_EV_STATE, HX_EV_POINT, HX_EV_STATE,
	                                      HX_EV_STATE,        HX_EV_POINT, HX_EV_STATE, HX_EV_ENTITY_END};
	size_t n = 0;
	for (size_t i = 0; i < evs.n; i++) {
		const hx_event *ev = &evs.v[i].ev;
		if (ev->entity_id != ob->ev.entity_id)
			continue;
		assert_true(n < 8);
		assert_int_equal(ev->kind, kinds[n]);
		if (n == 3)
			assert_int_equal(ev->state, HX_STATE_WAITING);
		n++;
	}
	assert_int_equal(n, 8);
	hxt_events_free(&evs);
}

static void test_entity_misuse(void **state)
{
	fixture *f = *state;
	start_file(f->dir);
	hx_point("first");
	hx_stats b;
	hx_stats_get(&b);
	hx_entity_leave();
	expect_counts(&b, HX_COUNT_LEAVE_WITHOUT_ENTER, 1);
	hx_entity_enter(NULL);
	expect_counts(&b, HX_COUNT_LEAVE_WITHOUT_ENTER, 1, HX_COUNT_BAD_ENTITY, 1);
	hx_entity_end(NULL); /* like free(NULL): a no-op */
	expect_counts(&b, HX_COUNT_LEAVE_WITHOUT_ENTER, 1, HX_COUNT_BAD_ENTITY, 1);

	/* entering an entity twice on one thread */
	hx_entity *e = hx_entity_begin("twice", HX_ENTITY_COROUTINE);
	hx_entity_enter(e);
	hx_entity_enter(e);
	expect_counts(&b, HX_COUNT_LEAVE_WITHOUT_ENTER, 1, HX_COUNT_BAD_ENTITY, 2);
	hx_entity_leave();
	hx_entity_leave(); /* back on the thread: nothing left to leave */
	expect_counts(&b, HX_COUNT_LEAVE_WITHOUT_ENTER, 2, HX_COUNT_BAD_ENTITY, 2);
	hx_entity_end(e);

	/* entering and ending an entity that another thread has entered */
	g_shared = hx_entity_begin("shared", HX_ENTITY_TASK);
	pthread_barrier_init(&g_barrier, NULL, 2);
	pthread_t th;
	assert_int_equal(pthread_create(&th, NULL, hold_entity, NULL), 0);
	pthread_barrier_wait(&g_barrier);
	hx_entity_enter(g_shared);
	hx_point("still-on-main");
	hx_entity_end(g_shared); /* refused: it runs on the other thread */
	expect_counts(&b, HX_COUNT_LEAVE_WITHOUT_ENTER, 2, HX_COUNT_BAD_ENTITY, 4);
	hx_context c = hx_context_current();
	pthread_barrier_wait(&g_barrier);
	assert_int_equal(pthread_join(th, NULL), 0);
	pthread_barrier_destroy(&g_barrier);
	hx_entity_end(g_shared); /* now it may end */
	expect_counts(&b, HX_COUNT_LEAVE_WITHOUT_ENTER, 2, HX_COUNT_BAD_ENTITY, 4);

	/* ending an entered entity that is not the innermost one: the chain of entered entities
	 * skips it, and leaving the inner one returns to the thread (ASan: nothing freed is used) */
	hx_entity *outer = hx_entity_begin("outer", HX_ENTITY_COROUTINE);
	hx_entity *inner = hx_entity_begin("inner", HX_ENTITY_COROUTINE);
	hx_entity_enter(outer);
	hx_entity_enter(inner);
	uint64_t inner_id = hx_context_current().entity_id;
	hx_entity_end(outer);
	assert_int_equal(hx_context_current().entity_id, inner_id); /* still in inner */
	hx_entity_leave();
	hx_point("thread-again");
	hx_context back = hx_context_current();
	hx_entity_leave(); /* nothing entered any more */
	expect_counts(&b, HX_COUNT_LEAVE_WITHOUT_ENTER, 3, HX_COUNT_BAD_ENTITY, 4);
	hx_entity_end(inner);

	hxt_events evs = {0};
	finish_and_read(f->dir, &evs);
	const hxt_event *ta = hxt_find(&evs, back.entity_id, back.seq);
	assert_non_null(ta);
	assert_string_equal(ta->ev.name, "thread-again");
	assert_int_equal(back.entity_id, c.entity_id); /* the thread's own entity */
	const hxt_event *p = hxt_find(&evs, c.entity_id, c.seq);
	assert_non_null(p);
	assert_string_equal(p->ev.name, "still-on-main");
	const hxt_event *sb = hxt_find_name(&evs, HX_EV_ENTITY_BEGIN, "shared");
	assert_non_null(sb);
	assert_int_not_equal(c.entity_id, sb->ev.entity_id);
	/* shared: begin, running and waiting (other thread), end: exactly one ENTITY_END */
	size_t n = 0, ends = 0;
	for (size_t i = 0; i < evs.n; i++)
		if (evs.v[i].ev.entity_id == sb->ev.entity_id) {
			n++;
			ends += evs.v[i].ev.kind == HX_EV_ENTITY_END;
		}
	assert_int_equal(n, 4);
	assert_int_equal(ends, 1);
	const hxt_event *tw = hxt_find_name(&evs, HX_EV_ENTITY_BEGIN, "twice");
	n = 0;
	for (size_t i = 0; i < evs.n; i++)
		n += evs.v[i].ev.entity_id == tw->ev.entity_id;
	assert_int_equal(n, 4); /* begin, running, waiting, end */
	hxt_events_free(&evs);
}

/* A handle made before hx_shutdown(): refused while tracing is off and in the next run. */
static void test_entity_across_runs(void **state)
{
	fixture *f = *state;
	start_file(f->dir);
	hx_entity *e = hx_entity_begin("old", HX_ENTITY_TASK);
	assert_non_null(e);
	assert_int_equal(hx_shutdown(), HX_OK);
	hx_stats b;
	hx_stats_get(&b);
	hx_entity_enter(e);
	expect_counts(&b, HX_COUNT_AFTER_SHUTDOWN, 1);
	start_file(f->dir);
	hx_stats_get(&b);
	hx_entity_enter(e);
	expect_counts(&b, HX_COUNT_AFTER_FORK, 1);
	hx_point("new-run");
	hx_entity_end(e); /* refused, but the handle is freed (ASan checks) */
	expect_counts(&b, HX_COUNT_AFTER_FORK, 2);
	hxt_events evs = {0};
	finish_and_read(f->dir, &evs);
	assert_non_null(hxt_find_name(&evs, HX_EV_POINT, "new-run"));
	assert_int_equal(hxt_count_kind(&evs, HX_EV_ENTITY_END), 0);
	assert_int_equal(hxt_count_kind(&evs, HX_EV_STATE), 0);
	hxt_events_free(&evs);
}

/* ---- life cycle ---- */

static void *record_one(void *arg)
{
	(void)arg;
	hx_point("from-new-thread");
	hx_block_end();
	return NULL;
}

static pthread_barrier_t g_b2;

/* A thread that recorded before the shutdown, and ends a block that is not open after it. */
static void *late_block_end(void *arg)
{
	(void)arg;
	hx_point("late-thread");
	pthread_barrier_wait(&g_b2); /* recorded */
	pthread_barrier_wait(&g_b2); /* tracing is off */
	hx_block_end();
	return NULL;
}

static void test_after_shutdown(void **state)
{
	fixture *f = *state;
	start_file(f->dir);
	hx_entity *e = hx_entity_begin("ent", HX_ENTITY_TASK);
	hx_context ctx = hx_cause(HX_IA_MESSAGE, "m");
	hx_point("before");
	hx_block_begin("open-at-shutdown");
	pthread_barrier_init(&g_b2, NULL, 2);
	pthread_t late;
	assert_int_equal(pthread_create(&late, NULL, late_block_end, NULL), 0);
	pthread_barrier_wait(&g_b2);
	assert_int_equal(hx_shutdown(), HX_OK);
	assert_int_equal(hx_shutdown(), HX_ESTATE);
	assert_false(hx_enabled());

	hx_stats b;
	hx_stats_get(&b);
	int calls = 0;
#define CALL(x) (x, calls++)
	CALL(hx_point("after"));
	CALL(HX_POINT_WITH("after", HX_INT("x", 1)));
	CALL(hx_block_begin("after"));
	CALL(hx_block_end()); /* a block is open: an end is not misuse, but the call is too late */
	CALL(hx_block_end());
	CALL(hx_block_end());
	CALL(hx_counter("after", 1, NULL));
	CALL(hx_counter_int("after", 1, NULL));
	CALL(hx_error("after"));
	CALL(hx_annotate(HX_TARGET_ENTITY, HX_ATTRS(HX_INT("x", 1))));
	CALL(hx_trace_begin("after"));
	CALL(hx_trace_join(&ctx, "after"));
	CALL(hx_trace_end());
	CALL(hx_cause(HX_IA_MESSAGE, "after"));
	CALL(hx_effect(HX_IA_MESSAGE, "after", &ctx));
	CALL(assert_null(hx_entity_begin("after", HX_ENTITY_TASK)));
	CALL(hx_entity_enter(e));
	CALL(hx_entity_leave());
	CALL(hx_state_set(HX_STATE_WAITING, "after"));
	CALL(hx_thread_name("after"));
	CALL(hx_entity_end(e)); /* frees the handle */
#undef CALL
	assert_false(hx_context_current().flags & HX_CTX_VALID);
	expect_counts(&b, HX_COUNT_AFTER_SHUTDOWN, calls);
	/* a thread that never recorded */
	pthread_t th;
	assert_int_equal(pthread_create(&th, NULL, record_one, NULL), 0);
	assert_int_equal(pthread_join(th, NULL), 0);
	expect_counts(&b, HX_COUNT_AFTER_SHUTDOWN, calls + 2);
	pthread_barrier_wait(&g_b2);
	assert_int_equal(pthread_join(late, NULL), 0);
	pthread_barrier_destroy(&g_b2);
	expect_counts(&b, HX_COUNT_AFTER_SHUTDOWN, calls + 3);

	hxt_events evs = {0};
	hxt_read_result res;
	assert_int_equal(hxt_read_all(f->dir, HX_ORDER_STREAM, &evs, &res, 1), HX_OK);
	assert_int_equal(res.damage, 0);
	/* main: thread begin, ent begin, m, before, block; the late thread: begin, late-thread */
	assert_int_equal(evs.n, 5 + 2);
	for (size_t i = 0; i < evs.n; i++)
		assert_string_not_equal(evs.v[i].ev.name, "after");
	hxt_events_free(&evs);
}

/* hx_shutdown() while other threads record: each of their calls is either in the trace or
 * counted as after-shutdown, and the trace is intact. */
static _Atomic int g_stop, g_started;
static _Atomic uint64_t g_calls;

static void *keep_recording(void *arg)
{
	(void)arg;
	uint64_t n = 0;
	HX_POINT_WITH("racing", HX_INT("n", (int64_t)n++));
	g_started++;
	while (!g_stop)
		HX_POINT_WITH("racing", HX_INT("n", (int64_t)n++));
	HX_POINT_WITH("racing", HX_INT("n", (int64_t)n++)); /* surely after the shutdown */
	g_calls += n;
	return NULL;
}

static void test_shutdown_while_recording(void **state)
{
	fixture *f = *state;
	hx_config cfg;
	hx_config_init(&cfg);
	cfg.dir = f->dir;
	cfg.chunk_bytes = 4096; /* frequent chunk changes: more slow paths to race with */
	assert_int_equal(hx_init(&cfg), HX_OK);
	hx_stats b;
	hx_stats_get(&b);
	g_stop = 0;
	g_started = 0;
	g_calls = 0;
	pthread_t th[4];
	for (int i = 0; i < 4; i++)
		assert_int_equal(pthread_create(&th[i], NULL, keep_recording, NULL), 0);
	struct timespec ts = {0, 1000000};
	while (g_started < 4)
		nanosleep(&ts, NULL);
	nanosleep(&ts, NULL);
	assert_int_equal(hx_shutdown(), HX_OK);
	g_stop = 1;
	for (int i = 0; i < 4; i++)
		assert_int_equal(pthread_join(th[i], NULL), 0);
	hx_stats a;
	hx_stats_get(&a);
	hxt_events evs = {0};
	hxt_read_result res;
	assert_int_equal(hxt_read_all(f->dir, HX_ORDER_STREAM, &evs, &res, 1), HX_OK);
	assert_int_equal(res.damage, 0);
	size_t racing = count_named(&evs, HX_EV_POINT, "racing");
	uint64_t after = a.count[HX_COUNT_AFTER_SHUTDOWN] - b.count[HX_COUNT_AFTER_SHUTDOWN];
	/* Each thread's last call comes after hx_shutdown() returned. It is counted as after-shutdown,
	 * unless the thread took a fresh chunk while the shutdown ran (4 KiB chunks make that
	 * likely under load): then the call lands in that chunk, and the reader finds it. Either
	 * way every call is accounted for exactly once, which is what is checked. */
	uint64_t dropped = a.count[HX_COUNT_DROPPED] - b.count[HX_COUNT_DROPPED];
	if (racing + after != g_calls)
		fail_msg("%" PRIu64 " calls: %zu in the trace, %" PRIu64 " counted after shutdown (%" PRIu64
		         " counted as dropped)",
		         (uint64_t)g_calls, racing, after, dropped);
	assert_int_equal(a.events - b.events, evs.n); /* recorded = readable */
	size_t nent;
	assert_int_equal(hxt_check_entities(&evs, 1, 0, UINT64_MAX, &nent), 0);
	assert_int_equal(nent, 4);
	hxt_events_free(&evs);
}

/* A block open when tracing stopped belongs to the earlier run: in the next run, ending it is an
 * end without begin, on the thread's new entity. */
static void test_block_open_across_runs(void **state)
{
	fixture *f = *state;
	start_file(f->dir);
	hx_block_begin("open");
	assert_int_equal(hx_shutdown(), HX_OK);
	start_file(f->dir);
	hx_stats b;
	hx_stats_get(&b);
	hx_block_end();
	expect_counts(&b, HX_COUNT_END_WITHOUT_BEGIN, 1);
	hx_point("p");
	hx_block_end();
	expect_counts(&b, HX_COUNT_END_WITHOUT_BEGIN, 2);
	hx_block_begin("new");
	hx_block_end();
	expect_counts(&b, HX_COUNT_END_WITHOUT_BEGIN, 2);
	hxt_events evs = {0};
	finish_and_read(f->dir, &evs);
	assert_int_equal(hxt_count_kind(&evs, HX_EV_BLOCK_BEGIN), 2);
	assert_int_equal(hxt_count_kind(&evs, HX_EV_BLOCK_END), 1);
	hxt_events_free(&evs);
}

/* The counters and the event count are cumulative over runs: a thread idle since an earlier run
 * still counts its events. */
static void test_stats_cumulative(void **state)
{
	fixture *f = *state;
	start_file(f->dir);
	for (int i = 0; i < 10; i++)
		hx_point("p");
	assert_int_equal(hx_shutdown(), HX_OK);
	hx_stats s1, s2, s3;
	hx_stats_get(&s1);
	start_file(f->dir);
	hx_stats_get(&s2);
	if (s2.events < s1.events)
		fail_msg("hx_stats.events went down from %" PRIu64 " to %" PRIu64 " at hx_init()", s1.events, s2.events);
	hx_point("q");
	hx_stats_get(&s3);
	assert_int_equal(s3.events, s1.events + 2); /* the thread's new ENTITY_BEGIN and q */
	assert_int_equal(hx_shutdown(), HX_OK);
}

static void test_init_twice(void **state)
{
	fixture *f = *state;
	start_file(f->dir);
	hx_config cfg;
	hx_config_init(&cfg);
	cfg.dir = f->dir;
	cfg.quiet = 1;
	assert_int_equal(hx_init(&cfg), HX_ESTATE);
	assert_true(hx_enabled());
	hx_point("still-on");
	assert_int_equal(hx_shutdown(), HX_OK);
	assert_int_equal(hx_shutdown(), HX_ESTATE);
	hxt_events evs = {0};
	hxt_read_result res;
	assert_int_equal(hxt_read_all(f->dir, HX_ORDER_STREAM, &evs, &res, 1), HX_OK);
	assert_int_equal(res.info.files, 1);
	assert_non_null(hxt_find_name(&evs, HX_EV_POINT, "still-on"));
	hxt_events_free(&evs);
}

static void dummy_cb(const hx_event *ev, void *user)
{
	(void)ev;
	(void)user;
}

typedef struct bad_case {
	const char *what;
	const char *env, *value; /* an environment variable to set, or NULL */
	void (*edit)(hx_config *cfg);
} bad_case;

static void e_size0(hx_config *c) { c->size = 0; }
static void e_chunk_small(hx_config *c) { c->chunk_bytes = 1024; }
static void e_chunk_npow2(hx_config *c) { c->chunk_bytes = 6000; }
static void e_chunk_big(hx_config *c) { c->chunk_bytes = 2u << 20; }
static void e_sink(hx_config *c) { c->sink = (hx_sink_kind)7; }
static void e_cb_none(hx_config *c) { c->sink = HX_SINK_CALLBACK; }
static void e_dir_empty(hx_config *c) { c->dir = ""; }
static void e_dir_null(hx_config *c) { c->dir = NULL; }
static void e_maxfile(hx_config *c) { c->max_file_bytes = 8192; }
static void e_fsync(hx_config *c) { c->fsync = (hx_fsync_policy)9; }
static void e_fsync_int0(hx_config *c) { c->fsync = HX_FSYNC_INTERVAL, c->fsync_interval_ms = 0; }
static void e_fsync_every0(hx_config *c) { c->fsync = HX_FSYNC_EVERY, c->fsync_every = 0; }
static void e_cb(hx_config *c) { c->callback = dummy_cb; }

static void test_bad_config(void **state)
{
	fixture *f = *state;
	const bad_case cases[] = {
		{"size 0", NULL, NULL, e_size0},
		{"chunk 1024", NULL, NULL, e_chunk_small},
		{"chunk 6000", NULL, NULL, e_chunk_npow2},
		{"chunk 2M", NULL, NULL, e_chunk_big},
		{"sink 7", NULL, NULL, e_sink},
		{"callback sink without callback", NULL, NULL, e_cb_none},
		{"empty dir", NULL, NULL, e_dir_empty},
		{"NULL dir", NULL, NULL, e_dir_null},
		{"max file 8192", NULL, NULL, e_maxfile},
		{"fsync 9", NULL, NULL, e_fsync},
		{"fsync interval 0", NULL, NULL, e_fsync_int0},
		{"fsync every 0", NULL, NULL, e_fsync_every0},
		{"HARUSPEX_FSYNC=bogus", "HARUSPEX_FSYNC", "bogus", NULL},
		{"HARUSPEX_FSYNC=interval:0", "HARUSPEX_FSYNC", "interval:0", NULL},
		{"HARUSPEX_FSYNC=every:0", "HARUSPEX_FSYNC", "every:0", NULL},
		{"HARUSPEX_FSYNC=every:x", "HARUSPEX_FSYNC", "every:x", NULL},
		{"HARUSPEX_FSYNC=interval:", "HARUSPEX_FSYNC", "interval:", NULL},
		{"HARUSPEX_SINK=bogus", "HARUSPEX_SINK", "bogus", NULL},
		{"HARUSPEX_SINK=callback without one", "HARUSPEX_SINK", "callback", NULL},
		{"HARUSPEX_CHUNK_BYTES=5000", "HARUSPEX_CHUNK_BYTES", "5000", NULL},
		{"HARUSPEX_CHUNK_BYTES=abc", "HARUSPEX_CHUNK_BYTES", "abc", NULL},
		{"HARUSPEX_CHUNK_BYTES=2M", "HARUSPEX_CHUNK_BYTES", "2M", NULL},
		{"HARUSPEX_MAX_FILES=-1", "HARUSPEX_MAX_FILES", "-1", NULL},
		{"HARUSPEX_MAX_FILES=many", "HARUSPEX_MAX_FILES", "many", NULL},
		{"HARUSPEX_MAX_FILE_BYTES=12Q", "HARUSPEX_MAX_FILE_BYTES", "12Q", NULL},
		{"HARUSPEX_MAX_FILE_BYTES=1k", "HARUSPEX_MAX_FILE_BYTES", "1k", NULL},
	};
	char dir[600];
	snprintf(dir, sizeof dir, "%s/never-made", f->dir);
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		hx_config cfg;
		hx_config_init(&cfg);
		cfg.dir = dir;
		cfg.quiet = 1;
		if (cases[i].edit)
			cases[i].edit(&cfg);
		if (cases[i].env)
			setenv(cases[i].env, cases[i].value, 1);
		hx_stats b;
		hx_stats_get(&b);
		int rc = hx_init(&cfg);
		if (cases[i].env)
			unsetenv(cases[i].env);
		if (rc != HX_ECONFIG) {
			if (rc == HX_OK || rc == HX_ESINK)
				hx_shutdown();
			fail_msg("%s: hx_init() returned %d (%s), expected HX_ECONFIG", cases[i].what, rc, hx_strerror(rc));
		}
		assert_false(hx_enabled());
		expect_no_counts(&b);
		struct stat st;
		if (stat(dir, &st) == 0)
			fail_msg("%s: the trace directory was made although nothing started", cases[i].what);
	}
	/* The environment and the struct are validated together: HARUSPEX_SINK=callback is fine
	 * when the struct names a callback. */
	hx_config cfg;
	hx_config_init(&cfg);
	cfg.quiet = 1;
	e_cb(&cfg);
	setenv("HARUSPEX_SINK", "callback", 1);
	int rc = hx_init(&cfg);
	unsetenv("HARUSPEX_SINK");
	assert_int_equal(rc, HX_OK);
	assert_int_equal(hx_shutdown(), HX_OK);
}

/* Capture what the library writes on stderr between begin and end. */
static int g_saved_stderr = -1;

static void capture_begin(const char *path)
{
	fflush(stderr);
	g_saved_stderr = dup(2);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0 && g_saved_stderr >= 0);
	dup2(fd, 2);
	close(fd);
}

static size_t capture_end(const char *path, char *text, size_t len)
{
	fflush(stderr);
	dup2(g_saved_stderr, 2);
	close(g_saved_stderr);
	g_saved_stderr = -1;
	size_t n = 0;
	uint8_t *data = hxt_slurp(path, &n);
	assert_non_null(data);
	size_t lines = 0;
	for (size_t i = 0; i < n; i++)
		lines += data[i] == '\n';
	snprintf(text, len, "%.*s", (int)n, (const char *)data);
	free(data);
	return lines;
}

static void test_unwritable_directory(void **state)
{
	fixture *f = *state;
	char file[600], under_file[700], log[600];
	snprintf(file, sizeof file, "%s/regular-file", f->dir);
	snprintf(under_file, sizeof under_file, "%s/sub/dir", file);
	snprintf(log, sizeof log, "%s/stderr.txt", f->dir);
	FILE *fp = fopen(file, "w");
	assert_non_null(fp);
	fputs("not a directory\n", fp);
	fclose(fp);
	const char *dirs[] = {under_file, "/proc/hx-test-not-here/x", "/sys/hx-test-not-here", "/dev/null/x"};
	for (size_t i = 0; i < sizeof dirs / sizeof dirs[0]; i++) {
		hx_config cfg;
		hx_config_init(&cfg);
		cfg.dir = dirs[i];
		hx_stats b;
		hx_stats_get(&b);
		capture_begin(log);
		int rc = hx_init(&cfg);
		/* the program goes on: events are counted as dropped */
		for (int k = 0; k < 10; k++)
			hx_point("dropped");
		hx_block_begin("dropped");
		hx_block_end(); /* the begin was dropped, but its bookkeeping kept: not a misuse */
		hx_block_end(); /* this one is */
		hx_context c = hx_context_current(); /* dropped events use up their sequence numbers */
		char text[2048];
		size_t lines = capture_end(log, text, sizeof text);
		if (rc != HX_ESINK)
			fail_msg("dir %s: hx_init() returned %d (%s), expected HX_ESINK", dirs[i], rc, hx_strerror(rc));
		assert_true(hx_enabled());
		if (lines != 1 || strncmp(text, "haruspex: ", 10) != 0)
			fail_msg("dir %s: expected one message on stderr, got %zu lines: %s", dirs[i], lines, text);
		/* the thread's ENTITY_BEGIN, ten points, the block's begin and end */
		expect_counts(&b, HX_COUNT_DROPPED, 13, HX_COUNT_END_WITHOUT_BEGIN, 1);
		assert_true(c.flags & HX_CTX_VALID);
		assert_int_equal(c.seq, 12);
		hx_stats a;
		hx_stats_get(&a);
		assert_int_equal(a.events, b.events);
		assert_int_equal(hx_shutdown(), HX_OK);
	}
	/* quiet: no message */
	hx_config cfg;
	hx_config_init(&cfg);
	cfg.dir = under_file;
	cfg.quiet = 1;
	capture_begin(log);
	int rc = hx_init(&cfg);
	hx_point("dropped");
	char text[2048];
	size_t lines = capture_end(log, text, sizeof text);
	assert_int_equal(rc, HX_ESINK);
	assert_int_equal(lines, 0);
	assert_int_equal(hx_shutdown(), HX_OK);
}

/* ---- fork ---- */

static void test_fork_child(void **state)
{
	fixture *f = *state;
	/* The directory string is the caller's: hx_init() copies it, so changing the buffer later
	 * (here, before the fork) must not redirect the child. */
	char *dirbuf = strdup(f->dir);
	assert_non_null(dirbuf);
	hx_config cfg;
	hx_config_init(&cfg);
	cfg.dir = dirbuf;
	cfg.service = "forker";
	assert_int_equal(hx_init(&cfg), HX_OK);
	char cwd[4096];
	assert_non_null(getcwd(cwd, sizeof cwd));
	assert_int_equal(chdir(f->dir), 0); /* a redirected child would write under here */
	memset(dirbuf, 'x', strlen(dirbuf));
	hx_entity *e = hx_entity_begin("parent-entity", HX_ENTITY_TASK);
	hx_point("parent-before");
	hx_context parent_ctx = hx_context_current();
	int pipefd[2];
	assert_int_equal(pipe(pipefd), 0);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		/* the child: report (failures, AFTER_FORK count, context, events) through the pipe */
		close(pipefd[0]);
		uint64_t out[8] = {0};
		hx_stats s;
		hx_stats_get(&s);
		out[0] = s.count[HX_COUNT_AFTER_FORK]; /* counters start from zero in the child */
		hx_entity_enter(e);                    /* the parent's handle */
		hx_point("child-point");
		hx_context c = hx_context_current();
		hx_entity_leave(); /* nothing entered here: misuse */
		hx_entity_end(e);  /* refused, frees the child's copy */
		hx_stats_get(&s);
		out[1] = s.count[HX_COUNT_AFTER_FORK];
		out[2] = s.count[HX_COUNT_LEAVE_WITHOUT_ENTER];
		out[3] = c.entity_id;
		out[4] = c.seq;
		out[5] = s.events;
		out[6] = (uint64_t)hx_shutdown();
		out[7] = (uint64_t)getpid();
		ssize_t w = write(pipefd[1], out, sizeof out);
		_exit(w == (ssize_t)sizeof out ? 0 : 1);
	}
	close(pipefd[1]);
	uint64_t in[8];
	ssize_t got = read(pipefd[0], in, sizeof in);
	close(pipefd[0]);
	int status;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_int_equal(chdir(cwd), 0);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	assert_int_equal(got, sizeof in);
	assert_int_equal(in[0], 0);
	assert_int_equal(in[1], 2);
	assert_int_equal(in[2], 1);
	assert_int_equal(in[4], 1); /* the child's thread: ENTITY_BEGIN, child-point */
	assert_int_equal(in[5], 2);
	assert_int_equal(in[6], HX_OK);
	assert_int_not_equal(in[3], parent_ctx.entity_id);

	/* the parent goes on with its own file and its own handle */
	hx_entity_enter(e);
	hx_point("parent-after");
	hx_entity_leave();
	hx_entity_end(e);
	hx_stats s;
	hx_stats_get(&s);
	assert_int_equal(hx_shutdown(), HX_OK);
	free(dirbuf);

	hxt_events evs = {0};
	hxt_read_result res;
	assert_int_equal(hxt_read_all(f->dir, HX_ORDER_STREAM, &evs, &res, 1), HX_OK);
	assert_int_equal(res.damage, 0);
	if (res.processes != 2)
		fail_msg("expected the parent's and the child's process in %s, found %zu (files: %" PRIu64 ")", f->dir,
		         res.processes, res.info.files);
	assert_int_equal(res.info.files, 2);
	hx_reader *r;
	assert_int_equal(hx_reader_open(&r, f->dir, HX_ORDER_STREAM), HX_OK);
	const hx_process_info *p0 = hx_reader_process(r, 0), *p1 = hx_reader_process(r, 1);
	assert_int_not_equal(p0->pid, p1->pid);
	assert_memory_not_equal(p0->instance, p1->instance, 16);
	const hx_process_info *child = p0->pid == in[7] ? p0 : p1, *parent = child == p0 ? p1 : p0;
	assert_int_equal(child->pid, in[7]);
	assert_int_equal(parent->pid, (uint64_t)getpid());
	assert_string_equal(child->service, "forker");
	assert_int_equal(child->counters[HX_COUNT_AFTER_FORK], 2);
	assert_int_equal(parent->counters[HX_COUNT_AFTER_FORK], s.count[HX_COUNT_AFTER_FORK]);
	assert_true(child->clean);
	assert_true(parent->clean);
	size_t child_idx = child == p0 ? 0 : 1;
	hx_event ev;
	size_t child_events = 0, parent_events = 0;
	while (hx_reader_next(r, &ev) == HX_OK) {
		if (hx_reader_event_process(r) == child_idx) {
			child_events++;
			assert_string_not_equal(ev.name, "parent-before");
			assert_string_not_equal(ev.name, "parent-after");
			assert_int_not_equal(ev.entity_id, parent_ctx.entity_id);
		} else {
			parent_events++;
			assert_string_not_equal(ev.name, "child-point");
		}
	}
	hx_reader_close(r);
	assert_int_equal(child_events, 2);
	/* parent: thread begin, entity begin, parent-before, running, parent-after, waiting, end */
	assert_int_equal(parent_events, 7);
	const hxt_event *cp = hxt_find(&evs, in[3], in[4]);
	assert_non_null(cp);
	assert_string_equal(cp->ev.name, "child-point");
	hxt_events_free(&evs);
}

/* ---- re-entrancy: recording calls from inside the callback sink's callback ---- */

static size_t g_cb_calls;
static size_t g_cb_bad;
static int g_cb_nested = 1;

static void on_signal(int sig)
{
	(void)sig;
	hx_point("from-signal-handler");
}

static void reentrant_cb(const hx_event *ev, void *user)
{
	(void)user;
	g_cb_calls++;
	if (strstr(ev->name, "nested") || strstr(ev->name, "signal"))
		g_cb_bad++;
	if (!g_cb_nested)
		return;
	hx_context c = {{0}, ev->entity_id, ev->seq, HX_CTX_VALID, 0};
	hx_point("nested-point");
	hx_counter("nested-counter", 1, NULL);
	hx_context t = hx_trace_begin("nested-trace");
	if (t.flags & HX_CTX_VALID)
		g_cb_bad++;
	hx_annotate(HX_TARGET_ENTITY, HX_ATTRS(HX_INT("nested", 1)));
	hx_cause(HX_IA_MESSAGE, "nested-cause");
	hx_effect(HX_IA_MESSAGE, "nested-effect", &c);
	hx_state_set(HX_STATE_WAITING, "nested-state");
	hx_thread_name("nested-name");
	hx_entity *e = hx_entity_begin("nested-entity", HX_ENTITY_TASK);
	hx_entity_end(e);
	raise(SIGUSR1); /* a handler that records, running inside a recording call */
}

static void test_reentrant_callback(void **state)
{
	(void)state;
	struct sigaction sa, old;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sigaction(SIGUSR1, &sa, &old);
	hx_config cfg;
	hx_config_init(&cfg);
	cfg.sink = HX_SINK_CALLBACK;
	cfg.callback = reentrant_cb;
	g_cb_calls = g_cb_bad = 0;
	g_cb_nested = 1;
	hx_stats b;
	hx_stats_get(&b);
	assert_int_equal(hx_init(&cfg), HX_OK);
	hx_point("outer-1");
	hx_block_begin("outer-block");
	hx_block_end();
	hx_point("outer-2");
	g_cb_nested = 0;
	hx_point("outer-3");
	assert_int_equal(hx_shutdown(), HX_OK);
	sigaction(SIGUSR1, &old, NULL);
	/* ENTITY_BEGIN, outer-1, block begin, block end, outer-2 with 11 nested calls each */
	assert_int_equal(g_cb_calls, 6);
	assert_int_equal(g_cb_bad, 0);
	expect_counts(&b, HX_COUNT_REENTRANT, 5 * 11);
	hx_stats a;
	hx_stats_get(&a);
	assert_int_equal(a.events - b.events, 6);
}

/* ---- tracing never started: a fresh process (this program, exec'd) ---- */

static int never_started_child(void)
{
	int bad = 0;
#define CHECK(c)                                                                                   \
	do {                                                                                       \
		if (!(c)) {                                                                        \
			fprintf(stderr, "never-started: %s failed\n", #c);                         \
			bad++;                                                                     \
		}                                                                                  \
	} while (0)
	CHECK(!hx_enabled());
	hx_point("x");
	HX_POINT_WITH("x", HX_INT("a", 1));
	hx_block_begin("x");
	hx_block_end();
	hx_block_end();
	hx_counter("x", 1, "u");
	hx_counter_int("x", 1, NULL);
	hx_error("x");
	hx_annotate(HX_TARGET_BLOCK, HX_ATTRS(HX_INT("a", 1)));
	hx_context t = hx_trace_begin("x");
	CHECK(!(t.flags & HX_CTX_VALID));
	hx_trace_join(&t, "x");
	hx_trace_join(NULL, "x");
	hx_trace_end();
	hx_context c = hx_cause(HX_IA_MESSAGE, "x");
	CHECK(!(c.flags & HX_CTX_VALID));
	c = hx_effect(HX_IA_MESSAGE, "x", &c);
	CHECK(!(c.flags & HX_CTX_VALID));
	hx_entity *e = hx_entity_begin("x", HX_ENTITY_TASK);
	CHECK(e == NULL);
	hx_entity_enter(e);
	hx_entity_leave();
	hx_entity_end(e);
	hx_state_set(HX_STATE_WAITING, "x");
	hx_thread_name("x");
	CHECK(!(hx_context_current().flags & HX_CTX_VALID));
	CHECK(hx_shutdown() == HX_ESTATE);
	hx_stats s;
	hx_stats_get(&s);
	for (int i = 0; i < HX_COUNT__MAX; i++)
		CHECK(s.count[i] == 0);
	CHECK(s.events == 0);
	CHECK(access("haruspex-traces", F_OK) != 0); /* nothing was written */
#undef CHECK
	return bad ? 1 : 0;
}

static void test_never_started(void **state)
{
	fixture *f = *state;
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		if (chdir(f->dir) != 0)
			_exit(2);
		unsetenv("HARUSPEX_SINK");
		unsetenv("HARUSPEX_DIR");
		execl("/proc/self/exe", "test_misuse", "--never-started", (char *)NULL);
		_exit(3);
	}
	int status;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

int main(int argc, char **argv)
{
	if (argc > 1 && !strcmp(argv[1], "--never-started"))
		return never_started_child();
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_end_without_begin, setup, teardown),
		cmocka_unit_test_setup_teardown(test_null_names, setup, teardown),
		cmocka_unit_test_setup_teardown(test_huge_names, setup, teardown),
		cmocka_unit_test_setup_teardown(test_attributes_over_limits, setup, teardown),
		cmocka_unit_test_setup_teardown(test_attributes_that_do_not_fit_a_chunk, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_enum_values, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_contexts, setup, teardown),
		cmocka_unit_test_setup_teardown(test_entity_misuse, setup, teardown),
		cmocka_unit_test_setup_teardown(test_entity_across_runs, setup, teardown),
		cmocka_unit_test_setup_teardown(test_thread_exits_inside_entity, setup, teardown),
		cmocka_unit_test_setup_teardown(test_after_shutdown, setup, teardown),
		cmocka_unit_test_setup_teardown(test_shutdown_while_recording, setup, teardown),
		cmocka_unit_test_setup_teardown(test_block_open_across_runs, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stats_cumulative, setup, teardown),
		cmocka_unit_test_setup_teardown(test_init_twice, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_config, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unwritable_directory, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fork_child, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reentrant_callback, setup, teardown),
		cmocka_unit_test_setup_teardown(test_never_started, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
