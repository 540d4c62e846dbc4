/*
 * test_sampling.c - head sampling (always, never, probability, rate), its propagation through
 * contexts, hx_trace_continue(), and per-name filters at init and at run time.
 *
 * Events are collected with the callback sink, which delivers exactly what the file sink would
 * have stored (test_api.c checks that equivalence), so every test sees precisely what was
 * recorded and can assert that nothing else was.
 */
#include "../hxtest.h"

#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <cmocka.h>

static hxt_events g_events;
static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;

static void collect(const hx_event *ev, void *user)
{
	(void)user;
	pthread_mutex_lock(&g_lock);
	hxt_events_push(&g_events, ev);
	pthread_mutex_unlock(&g_lock);
}

/* Start tracing into the callback sink with the sampler and filters given. */
static void start(hx_sampler sampler, double p, double rate, const char *disable)
{
	hxt_events_free(&g_events);
	hx_config cfg;
	hx_config_init(&cfg);
	cfg.sink = HX_SINK_CALLBACK;
	cfg.callback = collect;
	cfg.sampler = sampler;
	cfg.sample_probability = p;
	cfg.sample_rate = rate;
	cfg.disable = disable;
	assert_int_equal(hx_init(&cfg), HX_OK);
}

static void stop(void **state)
{
	(void)state;
	if (hx_enabled())
		hx_shutdown();
	/* Filters are process-wide and outlive a run: clear them for the next test. */
	hx_name_enable("*", 1);
}

static int teardown(void **state)
{
	stop(state);
	hxt_events_free(&g_events);
	return 0;
}

static size_t count_named(hx_event_kind kind, const char *name)
{
	size_t n = 0;
	for (size_t i = 0; i < g_events.n; i++)
		n += g_events.v[i].ev.kind == kind && !strcmp(g_events.v[i].ev.name, name);
	return n;
}

/* Events of any kind other than ENTITY_BEGIN (threads announce themselves at their first event). */
static size_t count_recorded(void)
{
	return g_events.n - hxt_count_kind(&g_events, HX_EV_ENTITY_BEGIN);
}

static void test_never_records_nothing_in_trace(void **state)
{
	(void)state;
	start(HX_SAMPLE_NEVER, 0, 0, NULL);
	hx_point("before");
	size_t base = count_recorded();
	assert_int_equal(base, 1);

	hx_context root = hx_trace_begin("req");
	assert_true(root.flags & HX_CTX_VALID);
	assert_false(root.flags & HX_CTX_SAMPLED);
	static const uint8_t zero[16];
	assert_memory_not_equal(root.trace_id, zero, 16);
	assert_int_equal(hx_trace_sampled(), 0);

	hx_block_begin("work");
	HX_POINT_WITH("p", HX_INT("i", 1));
	hx_counter("c", 1.5, "ms");
	hx_error("bad");
	hx_state_set(HX_STATE_WAITING, "io");
	hx_context c = hx_send("msg");
	assert_true(c.flags & HX_CTX_VALID);
	assert_false(c.flags & HX_CTX_SAMPLED);
	assert_memory_equal(c.trace_id, root.trace_id, 16); /* propagation still works */
	hx_receive("self", &c);
	hx_annotate(HX_TARGET_BLOCK, HX_ATTRS(HX_INT("k", 2)));
	hx_entity *task = hx_entity_begin("task", HX_ENTITY_TASK);
	hx_entity_enter(task);
	hx_point("in task");
	hx_entity_leave();
	hx_entity_end(task);
	hx_block_end();
	assert_int_equal(count_recorded(), base); /* nothing at all */

	hx_trace_end();
	assert_int_equal(hx_trace_sampled(), 1);
	hx_point("after");
	assert_int_equal(count_named(HX_EV_POINT, "after"), 1);
	assert_int_equal(count_recorded(), base + 1);

	/* bookkeeping went on: the blocks balanced, no misuse was counted */
	hx_stats st;
	hx_stats_get(&st);
	assert_int_equal(st.count[HX_COUNT_END_WITHOUT_BEGIN], 0);
	assert_int_equal(st.count[HX_COUNT_NO_TRACE], 0);
	stop(state);
}

/* A joining entity follows the sampled flag of the context, in both directions. */
struct joiner {
	hx_context ctx;
	int sampled_seen;
};

static void *join_thread(void *arg)
{
	struct joiner *j = arg;
	hx_trace_join(&j->ctx, "joined");
	j->sampled_seen = hx_trace_sampled();
	hx_point("worker point");
	hx_trace_end();
	return NULL;
}

static void test_join_follows_context(void **state)
{
	(void)state;
	start(HX_SAMPLE_NEVER, 0, 0, NULL);
	struct joiner j = {.ctx = hx_trace_begin("unsampled root")};
	pthread_t th;
	assert_int_equal(pthread_create(&th, NULL, join_thread, &j), 0);
	pthread_join(th, NULL);
	hx_trace_end();
	assert_int_equal(j.sampled_seen, 0);
	assert_int_equal(count_named(HX_EV_POINT, "worker point"), 0);
	assert_int_equal(hxt_count_kind(&g_events, HX_EV_TRACE_JOIN), 0);
	stop(state);

	/* The sampler of the joining process does not matter: the root decided. */
	start(HX_SAMPLE_NEVER, 0, 0, NULL);
	hx_context forged;
	memset(&forged, 0, sizeof forged);
	forged.trace_id[0] = 0x01;
	forged.trace_id[15] = 0x42;
	forged.entity_id = 0x1234;
	forged.seq = 7;
	forged.flags = HX_CTX_VALID | HX_CTX_SAMPLED;
	struct joiner k = {.ctx = forged};
	assert_int_equal(pthread_create(&th, NULL, join_thread, &k), 0);
	pthread_join(th, NULL);
	assert_int_equal(k.sampled_seen, 1);
	assert_int_equal(count_named(HX_EV_POINT, "worker point"), 1);
	assert_int_equal(hxt_count_kind(&g_events, HX_EV_TRACE_JOIN), 1);
	const hxt_event *jn = hxt_find_name(&g_events, HX_EV_TRACE_JOIN, "joined");
	assert_non_null(jn);
	assert_int_equal(jn->ev.ncauses, 1);
	assert_int_equal(jn->ev.causes[0].entity_id, 0x1234);
	assert_int_equal(jn->ev.causes[0].seq, 7);
	assert_memory_equal(jn->ev.trace_id, forged.trace_id, 16);
	stop(state);
}

static void test_continue(void **state)
{
	(void)state;
	start(HX_SAMPLE_ALWAYS, 0, 0, NULL);
	hx_context invalid;
	memset(&invalid, 0, sizeof invalid);
	hx_context a = hx_trace_continue(&invalid, "fresh");
	assert_true(a.flags & HX_CTX_SAMPLED);
	assert_int_equal(count_named(HX_EV_TRACE_BEGIN, "fresh"), 1);
	hx_context b = hx_trace_continue(NULL, "fresh2");
	assert_int_equal(count_named(HX_EV_TRACE_BEGIN, "fresh2"), 1);
	assert_memory_not_equal(a.trace_id, b.trace_id, 16);
	hx_trace_end();

	hx_context c = hx_trace_continue(&a, "continued");
	assert_int_equal(count_named(HX_EV_TRACE_JOIN, "continued"), 1);
	assert_memory_equal(c.trace_id, a.trace_id, 16);
	const hxt_event *jn = hxt_find_name(&g_events, HX_EV_TRACE_JOIN, "continued");
	assert_int_equal(jn->ev.causes[0].entity_id, a.entity_id);
	assert_int_equal(jn->ev.causes[0].seq, a.seq);
	hx_trace_end();
	stop(state);
}

static void test_probability(void **state)
{
	(void)state;
	start(HX_SAMPLE_PROBABILITY, 0.25, 0, NULL);
	const int n = 4000;
	int sampled = 0;
	for (int i = 0; i < n; i++) {
		hx_context c = hx_trace_begin("t");
		sampled += (c.flags & HX_CTX_SAMPLED) != 0;
		assert_int_equal(hx_trace_sampled(), (c.flags & HX_CTX_SAMPLED) != 0);
		hx_point("inside");
		hx_trace_end();
	}
	/* binomial(4000, 0.25): mean 1000, standard deviation 27; the bounds are 7 deviations */
	assert_in_range(sampled, 800, 1200);
	assert_int_equal(count_named(HX_EV_TRACE_BEGIN, "t"), (size_t)sampled);
	assert_int_equal(count_named(HX_EV_POINT, "inside"), (size_t)sampled);
	assert_int_equal(hxt_count_kind(&g_events, HX_EV_TRACE_END), (size_t)sampled);
	stop(state);

	start(HX_SAMPLE_PROBABILITY, 0.0, 0, NULL);
	for (int i = 0; i < 100; i++) {
		hx_trace_begin("zero");
		hx_trace_end();
	}
	assert_int_equal(count_named(HX_EV_TRACE_BEGIN, "zero"), 0);
	stop(state);
	start(HX_SAMPLE_PROBABILITY, 1.0, 0, NULL);
	for (int i = 0; i < 100; i++) {
		hx_trace_begin("one");
		hx_trace_end();
	}
	assert_int_equal(count_named(HX_EV_TRACE_BEGIN, "one"), 100);
	stop(state);
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void test_rate(void **state)
{
	(void)state;
	const double rate = 50;
	start(HX_SAMPLE_RATE, 0, rate, NULL);
	double t0 = now_s();
	int sampled = 0;
	for (int i = 0; i < 20000; i++) {
		hx_context c = hx_trace_begin("r");
		sampled += (c.flags & HX_CTX_SAMPLED) != 0;
		hx_trace_end();
	}
	double elapsed = now_s() - t0;
	/* A full bucket admits one second's worth at once, then `rate` per second. */
	assert_true(sampled >= (int)rate);
	assert_true(sampled <= (int)(rate * (1.0 + elapsed)) + 2);
	assert_int_equal(count_named(HX_EV_TRACE_BEGIN, "r"), (size_t)sampled);
	stop(state);
}

static void test_filters_at_init(void **state)
{
	(void)state;
	start(HX_SAMPLE_ALWAYS, 0, 0, "db.*,noise");
	hx_point("db.query");
	hx_point("noise");
	hx_point("noisey"); /* an exact pattern does not match a longer name */
	hx_point("keep");
	hx_block_begin("db.tx");
	hx_point("inner"); /* a disabled block's content is still recorded */
	hx_block_begin("visible");
	hx_block_end();
	hx_block_end();
	assert_int_equal(count_named(HX_EV_POINT, "db.query"), 0);
	assert_int_equal(count_named(HX_EV_POINT, "noise"), 0);
	assert_int_equal(count_named(HX_EV_POINT, "noisey"), 1);
	assert_int_equal(count_named(HX_EV_POINT, "keep"), 1);
	assert_int_equal(count_named(HX_EV_POINT, "inner"), 1);
	assert_int_equal(count_named(HX_EV_BLOCK_BEGIN, "db.tx"), 0);
	assert_int_equal(count_named(HX_EV_BLOCK_BEGIN, "visible"), 1);
	assert_int_equal(hxt_count_kind(&g_events, HX_EV_BLOCK_END), 1);

	/* run time: an exception to a prefix, then the prefix itself */
	assert_int_equal(hx_name_enable("db.query", 1), HX_OK);
	hx_point("db.query");
	hx_point("db.other");
	assert_int_equal(count_named(HX_EV_POINT, "db.query"), 1);
	assert_int_equal(count_named(HX_EV_POINT, "db.other"), 0);
	assert_int_equal(hx_name_enable("db.*", 1), HX_OK);
	hx_point("db.other");
	assert_int_equal(count_named(HX_EV_POINT, "db.other"), 1);

	/* a block disabled while open keeps its recorded end; one enabled while open skips its end */
	hx_block_begin("flip");
	assert_int_equal(hx_name_enable("flip", 0), HX_OK);
	hx_block_begin("flip");
	assert_int_equal(hx_name_enable("flip", 1), HX_OK);
	hx_block_end(); /* the inner, unrecorded one */
	hx_block_end(); /* the outer, recorded one */
	assert_int_equal(count_named(HX_EV_BLOCK_BEGIN, "flip"), 1);
	assert_int_equal(hxt_count_kind(&g_events, HX_EV_BLOCK_END), 2);
	hx_stats st;
	hx_stats_get(&st);
	assert_int_equal(st.count[HX_COUNT_END_WITHOUT_BEGIN], 0);
	stop(state);
}

static void test_filter_api_errors(void **state)
{
	(void)state;
	assert_int_equal(hx_name_enable(NULL, 0), HX_EINVAL);
	assert_int_equal(hx_name_enable("", 0), HX_EINVAL);
	assert_int_equal(hx_name_enable("a*b", 0), HX_EINVAL);
	char name[32];
	int rc = HX_OK, i;
	for (i = 0; i < HX_FILTER_MAX + 1 && rc == HX_OK; i++) {
		snprintf(name, sizeof name, "n%d", i);
		rc = hx_name_enable(name, 0);
	}
	assert_int_equal(rc, HX_ENOSPC);
	assert_int_equal(i, HX_FILTER_MAX + 1);
	/* replacing an existing pattern needs no new room */
	assert_int_equal(hx_name_enable("n3", 1), HX_OK);
	start(HX_SAMPLE_ALWAYS, 0, 0, NULL);
	hx_point("n3");
	hx_point("n4");
	assert_int_equal(count_named(HX_EV_POINT, "n3"), 1);
	assert_int_equal(count_named(HX_EV_POINT, "n4"), 0);
	stop(state);
	hx_point("n4");
}

/* Each bad value is refused with HX_ECONFIG and starts nothing. */
static void expect_env_refused(const char *var, const char *value)
{
	setenv(var, value, 1);
	hx_config cfg;
	hx_config_init(&cfg);
	cfg.sink = HX_SINK_NONE;
	cfg.quiet = 1;
	assert_int_equal(hx_init(&cfg), HX_ECONFIG);
	assert_int_equal(hx_enabled(), 0);
	unsetenv(var);
}

static void test_config(void **state)
{
	(void)state;
	expect_env_refused("HARUSPEX_SAMPLE", "sometimes");
	expect_env_refused("HARUSPEX_SAMPLE", "probability:1.5");
	expect_env_refused("HARUSPEX_SAMPLE", "probability:");
	expect_env_refused("HARUSPEX_SAMPLE", "probability:0.5x");
	expect_env_refused("HARUSPEX_SAMPLE", "rate:0");
	expect_env_refused("HARUSPEX_SAMPLE", "rate:-3");
	expect_env_refused("HARUSPEX_DISABLE", "ok,bad*pattern");

	hx_config cfg;
	hx_config_init(&cfg);
	cfg.sink = HX_SINK_NONE;
	cfg.quiet = 1;
	cfg.sampler = (hx_sampler)9;
	assert_int_equal(hx_init(&cfg), HX_ECONFIG);
	cfg.sampler = HX_SAMPLE_PROBABILITY;
	cfg.sample_probability = -0.1;
	assert_int_equal(hx_init(&cfg), HX_ECONFIG);
	cfg.sampler = HX_SAMPLE_RATE;
	cfg.sample_rate = 0;
	assert_int_equal(hx_init(&cfg), HX_ECONFIG);

	/* the environment overrides the program's sampler */
	setenv("HARUSPEX_SAMPLE", "never", 1);
	start(HX_SAMPLE_ALWAYS, 0, 0, NULL);
	hx_context c = hx_trace_begin("env");
	assert_false(c.flags & HX_CTX_SAMPLED);
	hx_trace_end();
	stop(state);
	unsetenv("HARUSPEX_SAMPLE");
	setenv("HARUSPEX_DISABLE", "quiet.*", 1);
	start(HX_SAMPLE_ALWAYS, 0, 0, NULL);
	hx_point("quiet.x");
	hx_point("loud");
	assert_int_equal(count_named(HX_EV_POINT, "quiet.x"), 0);
	assert_int_equal(count_named(HX_EV_POINT, "loud"), 1);
	stop(state);
	unsetenv("HARUSPEX_DISABLE");
}

/* An effect whose cause was sampled out is recorded (its entity records) with the cause marked
 * unsampled, so readers know not to look for it. */
static void test_unsampled_cause(void **state)
{
	(void)state;
	start(HX_SAMPLE_NEVER, 0, 0, NULL);
	hx_trace_begin("dropped root");
	hx_context c = hx_send("msg");
	hx_trace_end();
	hx_receive("got", &c);
	const hxt_event *e = hxt_find_name(&g_events, HX_EV_EFFECT, "got");
	assert_non_null(e);
	assert_int_equal(e->ev.ncauses, 1);
	assert_false(e->ev.causes[0].flags & HX_CTX_SAMPLED);
	assert_memory_equal(e->ev.causes[0].trace_id, c.trace_id, 16);
	stop(state);
}

/* A thread left inside a sampled-out trace by hx_shutdown() records normally in the next run,
 * and an entity entered while the thread's trace is sampled out decides by its own trace. */
static void test_mute_does_not_outlive_its_run(void **state)
{
	(void)state;
	start(HX_SAMPLE_NEVER, 0, 0, NULL);
	hx_trace_begin("left open");
	hx_point("muted");
	assert_int_equal(count_named(HX_EV_POINT, "muted"), 0);
	hx_shutdown(); /* no hx_trace_end(): the thread's entity is still in the trace */
	start(HX_SAMPLE_ALWAYS, 0, 0, NULL);
	hx_point("next run");
	assert_int_equal(count_named(HX_EV_POINT, "next run"), 1);

	stop(state);
	start(HX_SAMPLE_NEVER, 0, 0, NULL);
	hx_trace_begin("muted again");
	hx_entity *task = hx_entity_begin("task", HX_ENTITY_TASK); /* inherits the sampled-out trace */
	hx_trace_end();
	hx_point("thread, after the trace");
	hx_entity_enter(task);
	hx_point("in the muted task");
	hx_entity_leave();
	hx_point("thread again");
	hx_entity_end(task);
	assert_int_equal(count_named(HX_EV_POINT, "thread, after the trace"), 1);
	assert_int_equal(count_named(HX_EV_POINT, "in the muted task"), 0);
	assert_int_equal(count_named(HX_EV_POINT, "thread again"), 1);
	stop(state);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_never_records_nothing_in_trace, teardown),
		cmocka_unit_test_teardown(test_join_follows_context, teardown),
		cmocka_unit_test_teardown(test_continue, teardown),
		cmocka_unit_test_teardown(test_probability, teardown),
		cmocka_unit_test_teardown(test_rate, teardown),
		cmocka_unit_test_teardown(test_filters_at_init, teardown),
		cmocka_unit_test_teardown(test_filter_api_errors, teardown),
		cmocka_unit_test_teardown(test_config, teardown),
		cmocka_unit_test_teardown(test_unsampled_cause, teardown),
		cmocka_unit_test_teardown(test_mute_does_not_outlive_its_run, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
