/*
 * test_api.c - round trip of the whole recording API through the file sink and the callback sink.
 *
 * One workload (every event kind, attribute type and edge value, explicit entities, a coroutine
 * migrating between threads, nested blocks and HX_SCOPE/HX_FUNC, counters, errors, annotations,
 * every interaction kind, publish to several subscribers and a join of several causes, trace
 * begin/join/end) runs twice: once into the callback sink and once into trace files. Each run is
 * checked on its own (every event the workload made is there with the expected ID, kind, name and
 * attributes; sequence numbers gap-free; time non-decreasing per entity and close to the wall
 * clock; misuse counters moved exactly as documented), and then the two runs are compared event
 * by event: the callback must have received exactly what the reader returns from the files.
 */
#include "../hxtest.h"

#include <float.h>
#include <math.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <sys/time.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

/* ---- what the workload expects to find ---- */

typedef struct expect {
	hx_context ctx;        /* hx_context_current() right after the call */
	hx_event_kind kind;
	char name[HX_NAME_MAX + 1];
	const hx_attr *attrs;  /* what was passed (kept alive by the workload) */
	size_t nattrs_in;
	size_t nattrs_out;     /* how many must be recorded */
	hx_state state;        /* STATE events */
	hx_interaction ia;     /* CAUSE/EFFECT */
	hx_context causes[4];  /* EFFECT/TRACE_JOIN: the causes that must be recorded */
	size_t ncauses;
	const uint8_t *trace;  /* the trace the event must carry (NULL: none) */
} expect;

#define MAX_EXPECT 512
static expect g_exp[MAX_EXPECT];
static size_t g_nexp;
static pthread_mutex_t g_exp_lock = PTHREAD_MUTEX_INITIALIZER;
static _Atomic int g_thread_problems; /* checks that failed on helper threads (cmocka is main-only) */
/* The trace this thread's current entity is in, as the workload knows it: expectations made by
 * expect_last() require their event to carry it. */
static _Thread_local const uint8_t *t_trace;

static void thread_problem(const char *what)
{
	fprintf(stderr, "thread check failed: %s\n", what);
	g_thread_problems++;
}

/* Record an expectation for the event just recorded on this thread's current entity. */
static expect *expect_last(hx_event_kind kind, const char *name)
{
	hx_context c = hx_context_current();
	if (!(c.flags & HX_CTX_VALID))
		thread_problem("hx_context_current() not valid right after a recording call");
	pthread_mutex_lock(&g_exp_lock);
	expect *x = &g_exp[g_nexp++];
	memset(x, 0, sizeof(*x));
	pthread_mutex_unlock(&g_exp_lock);
	x->ctx = c;
	x->kind = kind;
	x->trace = t_trace;
	snprintf(x->name, sizeof x->name, "%s", name ? name : "");
	return x;
}

static expect *expect_attrs(hx_event_kind kind, const char *name, const hx_attr *a, size_t n, size_t nout)
{
	expect *x = expect_last(kind, name);
	x->attrs = a;
	x->nattrs_in = n;
	x->nattrs_out = nout;
	return x;
}

/* ---- callback sink ---- */
static hxt_events g_cb;
static pthread_mutex_t g_cb_lock = PTHREAD_MUTEX_INITIALIZER;

static void collect(const hx_event *ev, void *user)
{
	(void)user;
	pthread_mutex_lock(&g_cb_lock);
	hxt_events_push(&g_cb, ev);
	pthread_mutex_unlock(&g_cb_lock);
}

/* ---- the workload's inputs (static: expectations point at them) ---- */
static char name255[256], name256[257], utf8_300[301], key255[256], key256[257];
static char big[5000];
static uint8_t bigbytes[5000];
static hx_attr a_ints[4], a_doubles[9], a_bools[3], a_strings[12], a_keys[4], a_32[32], a_33[33];
static hx_attr a_block[2], a_blockend[1], a_ann_trace[1], a_ann_entity[1], a_ann_block[1], a_err[1];
static hx_attr a_cause[9][1], a_with[2];
static char keys33[33][8];
static const uint8_t bytes_nul[5] = {0, 1, 0, 255, 0};
static uint8_t g_req_trace[16];

static void make_inputs(void)
{
	memset(name255, 'n', 255);
	name255[255] = 0;
	memset(name256, 'm', 256);
	name256[256] = 0;
	/* 150 two-byte characters: cutting at 255 bytes would split one, so 254 are kept */
	for (int i = 0; i < 150; i++) {
		utf8_300[2 * i] = (char)0xc3;
		utf8_300[2 * i + 1] = (char)0xa9;
	}
	utf8_300[300] = 0;
	memset(key255, 'k', 255);
	key255[255] = 0;
	memset(key256, 'K', 256);
	key256[256] = 0;
	for (size_t i = 0; i < sizeof big; i++) {
		big[i] = (char)('a' + i % 26);
		bigbytes[i] = (uint8_t)(i * 7);
	}

	a_ints[0] = HX_INT("min", INT64_MIN);
	a_ints[1] = HX_INT("max", INT64_MAX);
	a_ints[2] = HX_INT("zero", 0);
	a_ints[3] = HX_INT("minus_one", -1);

	a_doubles[0] = HX_DOUBLE("nan", NAN);
	a_doubles[1] = HX_DOUBLE("inf", INFINITY);
	a_doubles[2] = HX_DOUBLE("-inf", -INFINITY);
	a_doubles[3] = HX_DOUBLE("-0", -0.0);
	a_doubles[4] = HX_DOUBLE("+0", 0.0);
	a_doubles[5] = HX_DOUBLE("dbl_min", DBL_MIN);
	a_doubles[6] = HX_DOUBLE("dbl_max", DBL_MAX);
	a_doubles[7] = HX_DOUBLE("denormal", 4.9406564584124654e-324);
	a_doubles[8] = HX_DOUBLE("pi", 3.141592653589793);

	a_bools[0] = HX_BOOL("t", 1);
	a_bools[1] = HX_BOOL("f", 0);
	a_bools[2] = HX_BOOL("t42", 42);

	a_strings[0] = HX_STR("empty", "");
	a_strings[1] = HX_STR("utf8", "h\xc3\xa9llo w\xc3\xb6rld \xe2\x9c\x93 \xf0\x9f\x9a\x80");
	a_strings[2] = HX_STRN("nul_inside", "a\0b", 3);
	a_strings[3] = HX_BYTES("bytes_nul", bytes_nul, sizeof bytes_nul);
	a_strings[4] = HX_BYTES("no_bytes", NULL, 0);
	a_strings[5] = HX_STRN("value_max", big, HX_VALUE_MAX);
	a_strings[6] = HX_STRN("value_over", big, HX_VALUE_MAX + 1);
	a_strings[7] = HX_BYTES("bytes_max", bigbytes, HX_VALUE_MAX);
	a_strings[8] = HX_BYTES("bytes_over", bigbytes, sizeof bigbytes);
	a_strings[9] = HX_STR("null_str", NULL); /* HX_STR of NULL: an empty string */
	a_strings[10] = HX_STR("quote\"back\\slash\nnewline", "tab\tcr\r");
	a_strings[11] = HX_STRN("one", "x", 1);

	a_keys[0] = HX_INT("", 1);
	a_keys[1] = HX_INT(key255, 2);
	a_keys[2] = HX_INT(key256, 3);
	a_keys[3] = HX_INT("\xe2\x9c\x93", 4);

	for (int i = 0; i < 33; i++) {
		snprintf(keys33[i], sizeof keys33[i], "k%02d", i);
		a_33[i] = HX_INT(keys33[i], i);
		if (i < 32)
			a_32[i] = i % 2 ? HX_INT(keys33[i], -i) : HX_STR(keys33[i], keys33[i]);
	}
	a_block[0] = HX_INT("depth", 2);
	a_block[1] = HX_STR("what", "inner");
	a_blockend[0] = HX_BOOL("ok", 1);
	a_ann_trace[0] = HX_STR("user", "alice");
	a_ann_entity[0] = HX_INT("queue", 7);
	a_ann_block[0] = HX_DOUBLE("progress", 0.5);
	a_err[0] = HX_INT("code", 42);
	a_with[0] = HX_INT("a", 1);
	a_with[1] = HX_STR("b", "two");
	for (int k = 0; k < 9; k++)
		a_cause[k][0] = HX_INT("kind", k + 1);
}

/* ---- pieces of the workload ---- */

/* HX_FUNC ends its block on every return path. */
static int scoped(int early)
{
	HX_FUNC();
	expect_last(HX_EV_BLOCK_BEGIN, "scoped");
	if (early)
		return 1;
	hx_point("scoped-late");
	expect_last(HX_EV_POINT, "scoped-late");
	return 0;
}

static void scope_loop(void)
{
	for (int i = 0; i < 3; i++) {
		HX_SCOPE("iteration");
		expect_last(HX_EV_BLOCK_BEGIN, "iteration");
		if (i == 1)
			continue; /* the block ends here too */
		hx_point("iteration-body");
		expect_last(HX_EV_POINT, "iteration-body");
	}
}

static hx_entity *g_coro;

static void *migrate_thread(void *arg)
{
	const char *tag = arg;
	char name[16];
	snprintf(name, sizeof name, "mig-%s", tag);
	pthread_setname_np(pthread_self(), name);
	t_trace = g_req_trace; /* the coroutine was made inside the request's trace */
	hx_entity_enter(g_coro);
	expect *x = expect_last(HX_EV_STATE, "");
	x->state = HX_STATE_RUNNING;
	for (int i = 0; i < 5; i++) {
		char p[32];
		snprintf(p, sizeof p, "coro-%s-%d", tag, i);
		hx_point(p);
		expect_last(HX_EV_POINT, p);
	}
	hx_entity_leave();
	t_trace = NULL;
	/* the leave's STATE waiting is on the coroutine, and the thread is current again */
	hx_point("after-leave");
	expect_last(HX_EV_POINT, "after-leave");
	return NULL;
}

static hx_context g_pub;
static hx_context g_done[3];
static hx_context g_req;

static void *subscriber(void *arg)
{
	int i = (int)(intptr_t)arg;
	char name[16];
	snprintf(name, sizeof name, "sub-%d", i);
	pthread_setname_np(pthread_self(), name);
	hx_effect(HX_IA_PUBLISH, "receive", &g_pub);
	expect *x = expect_last(HX_EV_EFFECT, "receive");
	x->ia = HX_IA_PUBLISH;
	x->causes[0] = g_pub;
	x->ncauses = 1;
	/* (a cause in a trace does not put the effect's entity in it: t_trace is NULL here) */
	if (i == 0) {
		/* one subscriber joins the request's trace explicitly */
		hx_trace_join(&g_req, "join-request");
		t_trace = g_req_trace;
		x = expect_last(HX_EV_TRACE_JOIN, "join-request");
		x->ia = HX_IA_CAUSAL;
		x->causes[0] = g_req;
		x->ncauses = 1;
		hx_point("in-joined-trace");
		x = expect_last(HX_EV_POINT, "in-joined-trace");
		hx_trace_end();
		x = expect_last(HX_EV_TRACE_END, "");
		x->trace = g_req_trace; /* TRACE_END still belongs to the trace it ends */
		t_trace = NULL;
		hx_point("after-trace-end");
		expect_last(HX_EV_POINT, "after-trace-end");
	}
	g_done[i] = hx_cause(HX_IA_JOIN, "done");
	x = expect_last(HX_EV_CAUSE, "done");
	x->ia = HX_IA_JOIN;
	if (memcmp(&g_done[i], &x->ctx, sizeof(hx_context)) != 0)
		thread_problem("hx_cause() did not return the context of its own event");
	return NULL;
}

static void run_thread(void *(*fn)(void *), void *arg)
{
	pthread_t th;
	assert_int_equal(pthread_create(&th, NULL, fn, arg), 0);
	assert_int_equal(pthread_join(th, NULL), 0);
}

static void workload(void)
{
	g_nexp = 0;
	g_thread_problems = 0;
	t_trace = NULL;
	make_inputs();

	hx_point("start");
	expect_last(HX_EV_POINT, "start");

	/* a trace: its ID starts with the time in ms */
	g_req = hx_trace_begin("request");
	assert_true(g_req.flags & HX_CTX_VALID);
	assert_true(g_req.flags & HX_CTX_SAMPLED);
	memcpy(g_req_trace, g_req.trace_id, 16);
	t_trace = g_req_trace;
	uint64_t ms = 0;
	for (int i = 0; i < 6; i++)
		ms = ms << 8 | g_req.trace_id[i];
	uint64_t now_ms = hxt_realtime_ns() / 1000000u;
	assert_in_range(ms, now_ms - 5000, now_ms + 5000);
	expect *x = expect_last(HX_EV_TRACE_BEGIN, "request");
	assert_memory_equal(&x->ctx, &g_req, sizeof g_req);

	/* names */
	hx_point("");
	expect_last(HX_EV_POINT, "");
	hx_point(name255);
	expect_last(HX_EV_POINT, name255);
	hx_point(name256); /* recorded as its first 255 bytes */
	x = expect_last(HX_EV_POINT, "");
	snprintf(x->name, sizeof x->name, "%.255s", name256);
	hx_point(utf8_300); /* cut before the character that byte 255 would split */
	x = expect_last(HX_EV_POINT, "");
	snprintf(x->name, sizeof x->name, "%.254s", utf8_300);

	/* attributes: every type and edge value */
	hx_point_attrs("ints", a_ints, 4);
	expect_attrs(HX_EV_POINT, "ints", a_ints, 4, 4);
	hx_point_attrs("doubles", a_doubles, 9);
	expect_attrs(HX_EV_POINT, "doubles", a_doubles, 9, 9);
	hx_point_attrs("bools", a_bools, 3);
	expect_attrs(HX_EV_POINT, "bools", a_bools, 3, 3);
	hx_point_attrs("strings", a_strings, 12);
	expect_attrs(HX_EV_POINT, "strings", a_strings, 12, 12);
	hx_point_attrs("keys", a_keys, 4);
	expect_attrs(HX_EV_POINT, "keys", a_keys, 4, 4);
	hx_point_attrs("attrs32", a_32, 32);
	expect_attrs(HX_EV_POINT, "attrs32", a_32, 32, 32);
	hx_point_attrs("attrs33", a_33, 33);
	expect_attrs(HX_EV_POINT, "attrs33", a_33, 33, 32);
	HX_POINT_WITH("with", HX_INT("a", 1), HX_STR("b", "two"));
	expect_attrs(HX_EV_POINT, "with", a_with, 2, 2);

	/* blocks, nested, with attributes and annotations */
	hx_block_begin("outer");
	expect_last(HX_EV_BLOCK_BEGIN, "outer");
	hx_block_begin_attrs("inner", a_block, 2);
	expect_attrs(HX_EV_BLOCK_BEGIN, "inner", a_block, 2, 2);
	hx_annotate(HX_TARGET_BLOCK, a_ann_block, 1);
	expect_attrs(HX_EV_ANNOTATE, "", a_ann_block, 1, 1);
	hx_block_end_attrs(a_blockend, 1);
	expect_attrs(HX_EV_BLOCK_END, "", a_blockend, 1, 1);
	hx_block_end();
	expect_last(HX_EV_BLOCK_END, "");
	assert_int_equal(scoped(1), 1);
	expect_last(HX_EV_BLOCK_END, "");
	assert_int_equal(scoped(0), 0);
	expect_last(HX_EV_BLOCK_END, "");
	scope_loop();
	expect_last(HX_EV_BLOCK_END, "");

	/* counters: the values are checked in check_counters() */
	hx_counter("temperature", 21.5, "celsius");
	expect_last(HX_EV_COUNTER, "temperature");
	hx_counter("ratio", NAN, NULL);
	expect_last(HX_EV_COUNTER, "ratio");
	hx_counter("neg_zero", -0.0, "");
	expect_last(HX_EV_COUNTER, "neg_zero");
	hx_counter_int("bytes_min", INT64_MIN, "B");
	expect_last(HX_EV_COUNTER, "bytes_min");
	hx_counter_int("bytes_max", INT64_MAX, "B");
	expect_last(HX_EV_COUNTER, "bytes_max");

	/* errors and annotations of the trace and the entity */
	hx_error("boom");
	expect_last(HX_EV_ERROR, "boom");
	hx_error_attrs("failed", a_err, 1);
	expect_attrs(HX_EV_ERROR, "failed", a_err, 1, 1);
	hx_annotate(HX_TARGET_TRACE, a_ann_trace, 1);
	expect_attrs(HX_EV_ANNOTATE, "", a_ann_trace, 1, 1);
	hx_annotate(HX_TARGET_ENTITY, a_ann_entity, 1);
	expect_attrs(HX_EV_ANNOTATE, "", a_ann_entity, 1, 1);

	/* state changes of the thread's own entity */
	hx_state_set(HX_STATE_WAITING, "lock");
	expect_last(HX_EV_STATE, "lock")->state = HX_STATE_WAITING;
	hx_state_set(HX_STATE_RUNNING, NULL);
	expect_last(HX_EV_STATE, "")->state = HX_STATE_RUNNING;

	/* every interaction kind: a cause, and its effect on the same entity */
	for (int k = HX_IA_MESSAGE; k <= HX_IA_CAUSAL; k++) {
		char cn[32], en[32];
		snprintf(cn, sizeof cn, "cause-%s", hx_interaction_name(k));
		snprintf(en, sizeof en, "effect-%s", hx_interaction_name(k));
		hx_context c = hx_cause_attrs((hx_interaction)k, cn, a_cause[k - 1], 1);
		x = expect_attrs(HX_EV_CAUSE, cn, a_cause[k - 1], 1, 1);
		x->ia = (hx_interaction)k;
		assert_memory_equal(&c, &x->ctx, sizeof c);
		hx_context ec = hx_effect_attrs((hx_interaction)k, en, &c, 1, NULL, 0);
		x = expect_last(HX_EV_EFFECT, en);
		x->ia = (hx_interaction)k;
		x->causes[0] = c;
		x->ncauses = 1;
		assert_memory_equal(&ec, &x->ctx, sizeof ec);
		assert_int_equal(ec.seq, c.seq + 1);
	}

	/* explicit entities: begin (inherits the trace), enter, nest, leave, end */
	hx_entity *task = hx_entity_begin("task-1", HX_ENTITY_TASK);
	assert_non_null(task);
	hx_entity_enter(task);
	x = expect_last(HX_EV_STATE, "");
	x->state = HX_STATE_RUNNING;
	assert_int_equal(x->ctx.seq, 1); /* ENTITY_BEGIN is 0 */
	uint64_t task_id = x->ctx.entity_id;
	hx_point("in-task");
	expect_last(HX_EV_POINT, "in-task");
	hx_entity *co = hx_entity_begin("co-2", HX_ENTITY_COROUTINE);
	assert_non_null(co);
	hx_entity_enter(co);
	x = expect_last(HX_EV_STATE, "");
	x->state = HX_STATE_RUNNING;
	hx_point("in-co");
	expect_last(HX_EV_POINT, "in-co");
	hx_entity_leave();
	assert_int_equal(hx_context_current().entity_id, task_id); /* back in the task */
	hx_point("in-task-again");
	expect_last(HX_EV_POINT, "in-task-again");
	hx_entity_leave();
	hx_entity_end(co);
	hx_entity_end(task);
	/* ending an entity that is entered also leaves it */
	hx_entity *proc = hx_entity_begin("proc-3", HX_ENTITY_PROCESS);
	hx_entity_enter(proc);
	uint64_t proc_id = hx_context_current().entity_id;
	hx_entity_end(proc);
	hx_point("back-on-thread");
	expect_last(HX_EV_POINT, "back-on-thread");
	assert_int_not_equal(hx_context_current().entity_id, proc_id);

	/* a coroutine that migrates: main -> thread a -> thread b -> main */
	g_coro = hx_entity_begin("coro", HX_ENTITY_COROUTINE);
	assert_non_null(g_coro);
	run_thread(migrate_thread, "a");
	run_thread(migrate_thread, "b");
	hx_entity_enter(g_coro);
	hx_point("coro-main");
	x = expect_last(HX_EV_POINT, "coro-main");
	assert_int_equal(x->ctx.seq, 1 + 7 + 7 + 1); /* begin, 2x(running, 5 points, waiting), running */
	hx_entity_end(g_coro);

	/* publish to three subscribers, and a join of their three causes */
	g_pub = hx_cause(HX_IA_PUBLISH, "publish");
	x = expect_last(HX_EV_CAUSE, "publish");
	x->ia = HX_IA_PUBLISH;
	pthread_t subs[3];
	for (int i = 0; i < 3; i++)
		assert_int_equal(pthread_create(&subs[i], NULL, subscriber, (void *)(intptr_t)i), 0);
	for (int i = 0; i < 3; i++)
		assert_int_equal(pthread_join(subs[i], NULL), 0);
	hx_effect_attrs(HX_IA_JOIN, "joined", g_done, 3, NULL, 0);
	x = expect_last(HX_EV_EFFECT, "joined");
	x->ia = HX_IA_JOIN;
	memcpy(x->causes, g_done, sizeof g_done);
	x->ncauses = 3;

	hx_thread_name("renamed-main");
	expect_last(HX_EV_ANNOTATE, "");

	hx_trace_end();
	expect_last(HX_EV_TRACE_END, "")->trace = g_req_trace;
	t_trace = NULL;
	hx_point("after-trace");
	expect_last(HX_EV_POINT, "after-trace");
	assert_int_equal(g_thread_problems, 0);
}

/* ---- checks of one run ---- */

static size_t rec_len(size_t len, size_t max)
{
	return len < max ? len : max;
}

static void check_attr(const hx_attr *got, const hx_attr *in, const char *ev)
{
	char key[HX_NAME_MAX + 1];
	snprintf(key, sizeof key, "%s", in->key ? in->key : "(null)");
	if (strcmp(got->key, key) != 0)
		fail_msg("event %s: key '%.40s' where '%.40s' was expected", ev, got->key, key);
	assert_int_equal(got->type, in->type);
	switch (in->type) {
	case HX_ATTR_INT:
		assert_true(got->v.i == in->v.i);
		break;
	case HX_ATTR_DOUBLE:
		assert_memory_equal(&got->v.d, &in->v.d, 8); /* bit-exact: NaN, -0.0 */
		break;
	case HX_ATTR_BOOL:
		assert_int_equal(got->v.b, !!in->v.b);
		break;
	case HX_ATTR_STRING:
	case HX_ATTR_BYTES: {
		size_t want = rec_len(in->v.s.len, HX_VALUE_MAX);
		if (got->v.s.len != want)
			fail_msg("event %s key %.40s: value of %zu bytes where %zu were expected", ev, key,
			         got->v.s.len, want);
		if (want)
			assert_memory_equal(got->v.s.ptr, in->v.s.ptr, want);
		break;
	}
	}
}

static void check_expectations(const hxt_events *evs, const char *label)
{
	for (size_t i = 0; i < g_nexp; i++) {
		const expect *x = &g_exp[i];
		const hxt_event *f = hxt_find(evs, x->ctx.entity_id, x->ctx.seq);
		if (!f)
			fail_msg("%s: expectation %zu (%s '%.40s') has no event %016" PRIx64 ":%" PRIu64, label, i,
			         hx_event_kind_name(x->kind), x->name, x->ctx.entity_id, x->ctx.seq);
		const hx_event *e = &f->ev;
		if (e->kind != x->kind || strcmp(e->name, x->name) != 0)
			fail_msg("%s: expectation %zu: event is %s '%.40s', expected %s '%.40s'", label, i,
			         hx_event_kind_name(e->kind), e->name, hx_event_kind_name(x->kind), x->name);
		assert_int_equal(e->name_len, strlen(x->name));
		if (x->kind == HX_EV_STATE)
			assert_int_equal(e->state, x->state);
		if (x->ia)
			assert_int_equal(e->interaction, x->ia);
		if (x->attrs) {
			if (e->nattrs != x->nattrs_out)
				fail_msg("%s: event '%s' has %zu attributes, expected %zu", label, x->name, e->nattrs,
				         x->nattrs_out);
			for (size_t k = 0; k < x->nattrs_out; k++)
				check_attr(&e->attrs[k], &x->attrs[k], x->name);
		} else if (x->kind != HX_EV_ANNOTATE) {
			assert_int_equal(e->nattrs, 0);
		}
		if (x->kind == HX_EV_EFFECT || x->kind == HX_EV_TRACE_JOIN) {
			assert_int_equal(e->ncauses, x->ncauses);
			for (size_t k = 0; k < x->ncauses; k++) {
				assert_int_equal(e->causes[k].entity_id, x->causes[k].entity_id);
				assert_int_equal(e->causes[k].seq, x->causes[k].seq);
				assert_memory_equal(e->causes[k].trace_id, x->causes[k].trace_id, 16);
				assert_true(e->causes[k].flags & HX_CTX_VALID);
				assert_int_equal(e->causes[k].flags & HX_CTX_SAMPLED, x->causes[k].flags & HX_CTX_SAMPLED);
			}
		}
		static const uint8_t zero[16];
		const uint8_t *want_trace = x->trace ? x->trace : zero;
		if (memcmp(e->trace_id, want_trace, 16) != 0)
			fail_msg("%s: event %s '%.40s' (expectation %zu) is in the wrong trace", label,
			         hx_event_kind_name(e->kind), e->name, i);
		/* the context names the event and its trace (after TRACE_END: no trace) */
		assert_memory_equal(x->ctx.trace_id, x->kind == HX_EV_TRACE_END ? zero : want_trace, 16);
	}
}

static void check_counters(const hxt_events *evs)
{
	const hxt_event *c;
	assert_non_null(c = hxt_find_name(evs, HX_EV_COUNTER, "temperature"));
	assert_false(c->ev.counter_is_int);
	assert_true(c->ev.counter_double == 21.5);
	assert_string_equal(c->ev.unit, "celsius");
	assert_non_null(c = hxt_find_name(evs, HX_EV_COUNTER, "ratio"));
	assert_true(isnan(c->ev.counter_double));
	assert_string_equal(c->ev.unit, "");
	assert_non_null(c = hxt_find_name(evs, HX_EV_COUNTER, "neg_zero"));
	assert_true(c->ev.counter_double == 0.0 && signbit(c->ev.counter_double));
	assert_non_null(c = hxt_find_name(evs, HX_EV_COUNTER, "bytes_min"));
	assert_true(c->ev.counter_is_int);
	assert_true(c->ev.counter_int == INT64_MIN);
	assert_string_equal(c->ev.unit, "B");
	assert_non_null(c = hxt_find_name(evs, HX_EV_COUNTER, "bytes_max"));
	assert_true(c->ev.counter_int == INT64_MAX);
}

/* Structure that the expectations do not cover: entity kinds, tids, blocks balanced, the
 * coroutine's order across threads, ENTITY_END of explicit entities and exited threads. */
static void check_structure(const hxt_events *evs)
{
	size_t threads = 0;
	for (size_t i = 0; i < evs->n; i++) {
		const hx_event *e = &evs->v[i].ev;
		if (e->kind != HX_EV_ENTITY_BEGIN)
			continue;
		assert_int_equal(e->seq, 0);
		if (e->entity_kind == HX_ENTITY_THREAD) {
			threads++;
			assert_true(e->tid != 0);
			assert_int_equal(e->parent_id, 0);
		} else {
			/* the parent is the creator's current entity: co-2 was made inside task-1, the
			 * others on the main thread */
			assert_int_equal(e->tid, 0);
			const hxt_event *creator = hxt_find(evs, e->parent_id, 0);
			assert_non_null(creator);
			assert_int_equal(creator->ev.kind, HX_EV_ENTITY_BEGIN);
			if (!strcmp(e->name, "co-2"))
				assert_string_equal(creator->ev.name, "task-1");
			else
				assert_int_equal(creator->ev.entity_kind, HX_ENTITY_THREAD);
		}
	}
	assert_int_equal(threads, 1 + 2 + 3); /* main, two migration threads, three subscribers */
	const hxt_event *b;
	assert_non_null(b = hxt_find_name(evs, HX_EV_ENTITY_BEGIN, "task-1"));
	assert_int_equal(b->ev.entity_kind, HX_ENTITY_TASK);
	assert_memory_equal(b->ev.trace_id, g_req_trace, 16); /* inherited */
	assert_non_null(b = hxt_find_name(evs, HX_EV_ENTITY_BEGIN, "co-2"));
	assert_int_equal(b->ev.entity_kind, HX_ENTITY_COROUTINE);
	assert_non_null(b = hxt_find_name(evs, HX_EV_ENTITY_BEGIN, "proc-3"));
	assert_int_equal(b->ev.entity_kind, HX_ENTITY_PROCESS);
	for (int i = 0; i < 3; i++) {
		char n[16];
		snprintf(n, sizeof n, "sub-%d", i);
		assert_non_null(hxt_find_name(evs, HX_EV_ENTITY_BEGIN, n));
	}

	/* per entity: blocks balanced and properly nested; explicit entities and exited threads end */
	const hxt_event *coro = hxt_find_name(evs, HX_EV_ENTITY_BEGIN, "coro");
	assert_non_null(coro);
	char expect_names[32][32];
	size_t nexpected = 0;
	for (int t = 0; t < 2; t++)
		for (int i = 0; i < 5; i++)
			snprintf(expect_names[nexpected++], 32, "coro-%s-%d", t ? "b" : "a", i);
	snprintf(expect_names[nexpected++], 32, "coro-main");
	for (size_t i = 0; i < evs->n; i++) {
		const hx_event *e = &evs->v[i].ev;
		if (e->kind != HX_EV_ENTITY_BEGIN)
			continue;
		uint64_t id = e->entity_id;
		long depth = 0;
		int ended = 0;
		size_t points = 0, last_seq = 0;
		for (size_t j = 0; j < evs->n; j++) {
			const hx_event *f = &evs->v[j].ev;
			if (f->entity_id != id)
				continue;
			if (f->kind == HX_EV_BLOCK_BEGIN)
				depth++;
			if (f->kind == HX_EV_BLOCK_END)
				assert_true(--depth >= 0);
			if (f->kind == HX_EV_ENTITY_END) {
				ended = 1;
				last_seq = f->seq;
			}
			if (id == coro->ev.entity_id && f->kind == HX_EV_POINT) {
				/* points come in seq order here (the set is sorted by entity and seq) */
				assert_true(points < nexpected);
				assert_string_equal(f->name, expect_names[points]);
				points++;
			}
		}
		assert_int_equal(depth, 0);
		int is_main = e->entity_kind == HX_ENTITY_THREAD && strncmp(e->name, "mig-", 4) != 0 &&
		              strncmp(e->name, "sub-", 4) != 0;
		if (!is_main) {
			if (!ended)
				fail_msg("entity '%s' has no ENTITY_END", e->name);
		} else {
			assert_false(ended); /* the main thread is alive at shutdown */
		}
		if (id == coro->ev.entity_id) {
			assert_int_equal(points, nexpected);
			assert_int_equal(last_seq, 17);
		}
	}
	/* the renamed thread */
	int renamed = 0;
	for (size_t i = 0; i < evs->n; i++) {
		const hx_event *e = &evs->v[i].ev;
		if (e->kind == HX_EV_ANNOTATE && e->target == HX_TARGET_ENTITY && e->nattrs == 1 &&
		    !strcmp(e->attrs[0].key, "name") && e->attrs[0].type == HX_ATTR_STRING &&
		    e->attrs[0].v.s.len == 12 && !memcmp(e->attrs[0].v.s.ptr, "renamed-main", 12))
			renamed++;
	}
	assert_int_equal(renamed, 1);
	/* annotations carry their targets */
	size_t targets[4] = {0};
	for (size_t i = 0; i < evs->n; i++)
		if (evs->v[i].ev.kind == HX_EV_ANNOTATE && (unsigned)evs->v[i].ev.target < 4)
			targets[evs->v[i].ev.target]++;
	assert_int_equal(targets[HX_TARGET_TRACE], 1);
	assert_int_equal(targets[HX_TARGET_ENTITY], 2);
	assert_int_equal(targets[HX_TARGET_BLOCK], 1);
}

/* Counters the workload must move, exactly. */
static void check_counter_deltas(const hx_stats *before, const hx_stats *after)
{
	for (int i = 0; i < HX_COUNT__MAX; i++) {
		uint64_t d = after->count[i] - before->count[i];
		uint64_t want = 0;
		if (i == HX_COUNT_NAME_TOO_LONG)
			want = 3; /* name256, utf8_300, key256 */
		else if (i == HX_COUNT_VALUE_TRUNCATED)
			want = 2; /* value_over, bytes_over */
		else if (i == HX_COUNT_ATTRS_DROPPED)
			want = 1; /* the 33rd attribute */
		else if (i == HX_COUNT_SLOW_CHUNKS)
			continue; /* depends on scheduling */
		if (d != want)
			fail_msg("counter %s moved by %" PRIu64 ", expected %" PRIu64, hx_counter_name(i), d, want);
	}
}

typedef struct run_result {
	hxt_events evs;
	uint64_t t0, t1;
	hx_stats before, after;
} run_result;

static void check_run(run_result *r, const char *label)
{
	check_expectations(&r->evs, label);
	check_counters(&r->evs);
	check_counter_deltas(&r->before, &r->after);
	/* seq gap-free from ENTITY_BEGIN, time monotonic per entity and within 2 s of the wall clock */
	size_t nent = 0;
	size_t bad = hxt_check_entities(&r->evs, 1, r->t0 - 2000000000ull, r->t1 + 2000000000ull, &nent);
	assert_int_equal(bad, 0);
	assert_int_equal(nent, 6 + 4); /* 6 threads; task-1, co-2, proc-3, coro; nothing else */
	check_structure(&r->evs);
}

static void run_callback(run_result *r)
{
	memset(r, 0, sizeof(*r));
	hx_config cfg;
	hx_config_init(&cfg);
	cfg.sink = HX_SINK_CALLBACK;
	cfg.callback = collect;
	hxt_events_free(&g_cb);
	hx_stats_get(&r->before);
	r->t0 = hxt_realtime_ns();
	assert_int_equal(hx_init(&cfg), HX_OK);
	workload();
	assert_int_equal(hx_shutdown(), HX_OK);
	r->t1 = hxt_realtime_ns();
	hx_stats_get(&r->after);
	r->evs = g_cb;
	memset(&g_cb, 0, sizeof g_cb);
	assert_int_equal(r->after.events - r->before.events, r->evs.n);
}

static void run_file(run_result *r, const char *dir)
{
	memset(r, 0, sizeof(*r));
	hx_config cfg;
	hx_config_init(&cfg);
	cfg.dir = dir;
	cfg.service = "api-test";
	hx_stats_get(&r->before);
	r->t0 = hxt_realtime_ns();
	assert_int_equal(hx_init(&cfg), HX_OK);
	workload();
	assert_int_equal(hx_shutdown(), HX_OK);
	r->t1 = hxt_realtime_ns();
	hx_stats_get(&r->after);
	hxt_read_result res;
	assert_int_equal(hxt_read_all(dir, HX_ORDER_STREAM, &r->evs, &res, 1), HX_OK);
	assert_int_equal(res.next_rc, HX_EOF);
	assert_int_equal(res.damage, 0);
	assert_int_equal(res.info.damaged, 0);
	assert_int_equal(res.info.files, 1);
	assert_int_equal(res.info.events, r->evs.n);
	assert_int_equal(res.processes, 1);
	assert_string_equal(res.service0, "api-test");
	assert_int_equal(res.clean0, 1);
	assert_int_equal(res.proc0.pid, (uint64_t)getpid());
	/* the header's counters are the process's counters at shutdown */
	for (int i = 0; i < HX_COUNT__MAX; i++)
		assert_int_equal(res.proc0.counters[i], r->after.count[i]);
	assert_int_equal(r->after.events - r->before.events, r->evs.n);
}

/* ---- tests ---- */

typedef hxt_fixture fixture;

static int setup(void **state)
{
	return hxt_fixture_setup(state, "api");
}

static int teardown(void **state)
{
	return hxt_fixture_teardown(state);
}

/* The same workload through both sinks: each run is right on its own, and the callback received
 * exactly the events that the reader returns from the file. */
static void test_round_trip_file_and_callback(void **state)
{
	fixture *f = *state;
	run_result cb, file;
	run_callback(&cb);
	check_run(&cb, "callback");
	run_file(&file, f->dir);
	check_run(&file, "file");
	size_t diffs = hxt_compare_canon(&cb.evs, "callback", &file.evs, "file");
	assert_int_equal(diffs, 0);
	hxt_events_free(&cb.evs);
	hxt_events_free(&file.evs);
}

/* hx_context_current(): invalid while tracing is off and before the entity's first event,
 * otherwise the last event of the current entity, and never a stale entity of an earlier run. */
static void test_context_current(void **state)
{
	fixture *f = *state;
	hx_context c = hx_context_current();
	assert_false(c.flags & HX_CTX_VALID);
	assert_int_equal(hxt_start_file(f->dir, 0), HX_OK);
	hx_point("one");
	c = hx_context_current();
	assert_true(c.flags & HX_CTX_VALID);
	assert_int_equal(c.seq, 1); /* ENTITY_BEGIN is 0 */
	uint64_t first_entity = c.entity_id;
	assert_int_not_equal(first_entity, 0);
	assert_false(c.flags & HX_CTX_SAMPLED); /* not in a trace */
	hx_point("two");
	assert_int_equal(hx_context_current().seq, 2);
	assert_int_equal(hx_shutdown(), HX_OK);
	c = hx_context_current();
	assert_false(c.flags & HX_CTX_VALID);

	/* a new run: the thread gets a new entity; until its first event there is no context */
	assert_int_equal(hxt_start_file(f->dir, 0), HX_OK);
	c = hx_context_current();
	if (c.flags & HX_CTX_VALID)
		fail_msg("hx_context_current() after a re-init names entity %016" PRIx64 ":%" PRIu64
		         " of the earlier run",
		         c.entity_id, c.seq);
	hx_point("three");
	c = hx_context_current();
	assert_true(c.flags & HX_CTX_VALID);
	assert_int_not_equal(c.entity_id, first_entity);
	assert_int_equal(c.seq, 1);
	assert_int_equal(hx_shutdown(), HX_OK);

	hxt_events evs = {0};
	hxt_read_result res;
	assert_int_equal(hxt_read_all(f->dir, HX_ORDER_STREAM, &evs, &res, 1), HX_OK);
	assert_int_equal(res.damage, 0);
	assert_int_equal(evs.n, 2 + 3); /* begin, one, two; begin, three */
	assert_int_equal(res.processes, 2); /* two runs: two process instances */
	const hxt_event *e = hxt_find(&evs, c.entity_id, 1);
	assert_non_null(e);
	assert_string_equal(e->ev.name, "three");
	hxt_events_free(&evs);
}

/* Many events on many entities in many chunks: the reader's time order is a merge that keeps each
 * entity's order, and stream order returns the same set. */
static void test_orders_agree(void **state)
{
	fixture *f = *state;
	assert_int_equal(hxt_start_file(f->dir, 4096), HX_OK);
	hx_entity *ents[4];
	for (int i = 0; i < 4; i++) {
		char n[16];
		snprintf(n, sizeof n, "ent-%d", i);
		ents[i] = hx_entity_begin(n, HX_ENTITY_TASK);
	}
	for (int i = 0; i < 4000; i++) {
		hx_entity_enter(ents[i % 4]);
		HX_POINT_WITH("p", HX_INT("i", i));
		hx_entity_leave();
	}
	for (int i = 0; i < 4; i++)
		hx_entity_end(ents[i]);
	assert_int_equal(hx_shutdown(), HX_OK);

	hxt_events s = {0}, t = {0};
	hxt_read_result rs, rt;
	assert_int_equal(hxt_read_all(f->dir, HX_ORDER_STREAM, &s, &rs, 1), HX_OK);
	assert_int_equal(hxt_read_all(f->dir, HX_ORDER_TIME, &t, &rt, 1), HX_OK);
	assert_int_equal(rs.damage + rt.damage, 0);
	assert_true(rs.info.chunks > 10);
	assert_int_equal(s.n, 1 + 4 * (1 + 1000 * 3 + 1));
	assert_int_equal(t.n, s.n);
	for (size_t i = 1; i < t.n; i++)
		assert_true(t.v[i].ev.time_ns >= t.v[i - 1].ev.time_ns);
	assert_int_equal(hxt_compare_canon(&s, "stream order", &t, "time order"), 0);
	size_t nent = 0;
	assert_int_equal(hxt_check_entities(&t, 1, 0, UINT64_MAX, &nent), 0);
	assert_int_equal(nent, 5);
	hxt_events_free(&s);
	hxt_events_free(&t);
}

/* Names through one reused buffer, many distinct long names (the name arena fills and starts
 * over), short and long literals between them, over many chunks: every event has its own text. */
static void test_name_cache(void **state)
{
	fixture *f = *state;
	assert_int_equal(hxt_start_file(f->dir, 4096), HX_OK);
	char buf[HX_NAME_MAX + 1];
	const int n = 3000;
	for (int i = 0; i < n; i++) {
		int len = 1 + (i * 37) % HX_NAME_MAX; /* 1 .. 255 bytes, short ones too (wide compare) */
		for (int k = 0; k < len; k++)
			buf[k] = (char)('a' + (i + k) % 26);
		buf[len] = 0;
		int w = snprintf(buf, sizeof buf, "%d", i); /* distinct, and the prefix changes */
		buf[w] = len > w ? '-' : 0;
		hx_point(buf);
		hx_point(i % 2 ? "lit" : "a-longer-literal-name-over-16");
		HX_POINT_WITH("k", HX_INT(buf, i));
	}
	assert_int_equal(hx_shutdown(), HX_OK);
	hxt_events evs = {0};
	hxt_read_result res;
	assert_int_equal(hxt_read_all(f->dir, HX_ORDER_STREAM, &evs, &res, 1), HX_OK);
	assert_int_equal(res.damage, 0);
	assert_int_equal(evs.n, 1 + 3 * (size_t)n);
	for (int i = 0; i < n; i++) {
		int len = 1 + (i * 37) % HX_NAME_MAX;
		for (int k = 0; k < len; k++)
			buf[k] = (char)('a' + (i + k) % 26);
		buf[len] = 0;
		int w = snprintf(buf, sizeof buf, "%d", i);
		buf[w] = len > w ? '-' : 0;
		const hx_event *a = &evs.v[1 + 3 * (size_t)i].ev, *b = &evs.v[2 + 3 * (size_t)i].ev,
		               *c = &evs.v[3 + 3 * (size_t)i].ev;
		if (strcmp(a->name, buf) != 0)
			fail_msg("event %d: name '%.60s', expected '%.60s'", i, a->name, buf);
		assert_string_equal(b->name, i % 2 ? "lit" : "a-longer-literal-name-over-16");
		assert_string_equal(c->name, "k");
		assert_string_equal(c->attrs[0].key, buf);
		assert_int_equal(c->attrs[0].v.i, i);
	}
	hxt_events_free(&evs);
}

/* Recording from a signal handler that interrupts recording calls at random points: a nested
 * call is refused (REENTRANT) or recorded whole, never interleaved; the trace stays intact. */
static volatile sig_atomic_t g_signals;

static void on_alarm(int sig)
{
	(void)sig;
	hx_point("from-signal");
	g_signals++;
}

static void test_signal_handler_recording(void **state)
{
	fixture *f = *state;
	assert_int_equal(hxt_start_file(f->dir, 4096), HX_OK);
	hx_point("first"); /* the thread's writer state exists before any signal */
	hx_stats b;
	hx_stats_get(&b);
	struct sigaction sa, old;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_alarm;
	sa.sa_flags = SA_RESTART;
	sigaction(SIGALRM, &sa, &old);
	g_signals = 0;
	struct itimerval it = {{0, 100}, {0, 100}};
	setitimer(ITIMER_REAL, &it, NULL);
	int64_t n = 0;
	while (n < 100000 || g_signals < 200) {
		HX_POINT_WITH("main", HX_INT("i", n), HX_STR("s", "a string to make the records longer"));
		n++;
	}
	struct itimerval off = {{0, 0}, {0, 0}};
	setitimer(ITIMER_REAL, &off, NULL);
	sigaction(SIGALRM, &old, NULL);
	hx_stats a;
	hx_stats_get(&a);
	assert_int_equal(hx_shutdown(), HX_OK);

	hxt_events evs = {0};
	hxt_read_result res;
	assert_int_equal(hxt_read_all(f->dir, HX_ORDER_STREAM, &evs, &res, 1), HX_OK);
	assert_int_equal(res.damage, 0);
	size_t sig_events = 0;
	int64_t next = 0;
	for (size_t i = 0; i < evs.n; i++) {
		const hx_event *e = &evs.v[i].ev;
		if (!strcmp(e->name, "from-signal"))
			sig_events++;
		else if (!strcmp(e->name, "main"))
			assert_int_equal(e->attrs[0].v.i, next++);
	}
	assert_int_equal(next, n);
	uint64_t refused = a.count[HX_COUNT_REENTRANT] - b.count[HX_COUNT_REENTRANT];
	assert_int_equal(sig_events + refused, (uint64_t)g_signals);
	size_t nent;
	assert_int_equal(hxt_check_entities(&evs, 1, 0, UINT64_MAX, &nent), 0);
	assert_int_equal(nent, 1);
	printf("signal handler: %d signals: %zu recorded, %" PRIu64 " refused as nested\n", (int)g_signals, sig_events,
	       refused);
	hxt_events_free(&evs);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_round_trip_file_and_callback, setup, teardown),
		cmocka_unit_test_setup_teardown(test_context_current, setup, teardown),
		cmocka_unit_test_setup_teardown(test_orders_agree, setup, teardown),
		cmocka_unit_test_setup_teardown(test_signal_handler_recording, setup, teardown),
		cmocka_unit_test_setup_teardown(test_name_cache, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
