/*
 * test_interactions.c - every hand-off kind records the right event on each side, effects name
 * exactly their causes, and a wait ended by an interaction records that interaction as the cause
 * of the resume (the EFFECT's `resumes` flag): plain waits, coroutine-style entities and the
 * contended hx_mutex.
 *
 * Events are collected with the callback sink (synchronous, exactly what a file would hold), so
 * a test can also wait for a precise event to have happened on another thread.
 */
#include "../hxtest.h"

#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <cmocka.h>

static hxt_events g_events;
static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
static _Atomic int g_waiting_seen; /* a STATE waiting with reason "the lock" was delivered */

static void collect(const hx_event *ev, void *user)
{
	(void)user;
	pthread_mutex_lock(&g_lock);
	hxt_events_push(&g_events, ev);
	pthread_mutex_unlock(&g_lock);
	if (ev->kind == HX_EV_STATE && ev->state == HX_STATE_WAITING && !strcmp(ev->name, "the lock"))
		g_waiting_seen = 1;
}

static int setup(void **state)
{
	(void)state;
	hxt_events_free(&g_events);
	g_waiting_seen = 0;
	hx_config cfg;
	hx_config_init(&cfg);
	cfg.sink = HX_SINK_CALLBACK;
	cfg.callback = collect;
	return hx_init(&cfg) == HX_OK ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	if (hx_enabled())
		hx_shutdown();
	hxt_events_free(&g_events);
	return 0;
}

static const hxt_event *find(hx_event_kind kind, const char *name)
{
	pthread_mutex_lock(&g_lock);
	const hxt_event *e = hxt_find_name(&g_events, kind, name);
	pthread_mutex_unlock(&g_lock);
	return e;
}

/* The event a context names. */
static const hxt_event *named_by(const hx_context *c)
{
	return hxt_find(&g_events, c->entity_id, c->seq);
}

/* Check an effect: its kind, its causes (in order) being exactly the given cause events. */
static void check_effect(const char *name, hx_interaction ia, int resumes, const char *const *cause_names,
                         size_t n)
{
	const hxt_event *e = find(HX_EV_EFFECT, name);
	assert_non_null(e);
	assert_int_equal(e->ev.interaction, ia);
	assert_int_equal(e->ev.resumes, resumes);
	assert_int_equal(e->ev.ncauses, n);
	for (size_t i = 0; i < n; i++) {
		const hxt_event *c = named_by(&e->ev.causes[i]);
		assert_non_null(c);
		assert_int_equal(c->ev.kind, HX_EV_CAUSE);
		assert_string_equal(c->ev.name, cause_names[i]);
		assert_int_equal(c->ev.interaction, ia);
		assert_true(c->ev.time_ns <= e->ev.time_ns);
		/* outside any trace (the mutex tests) a cause has no trace to be sampled in */
		static const uint8_t zero[16];
		if (memcmp(e->ev.causes[i].trace_id, zero, 16) != 0)
			assert_true(e->ev.causes[i].flags & HX_CTX_SAMPLED);
	}
}

/* ---- message, request/reply, async, publish: a server thread answering a client ---- */

struct chan {
	pthread_mutex_t m;
	pthread_cond_t cv;
	hx_context box[8];
	int n;
};

static void chan_put(struct chan *ch, hx_context c)
{
	pthread_mutex_lock(&ch->m);
	ch->box[ch->n++] = c;
	pthread_cond_broadcast(&ch->cv);
	pthread_mutex_unlock(&ch->m);
}

static hx_context chan_get(struct chan *ch)
{
	pthread_mutex_lock(&ch->m);
	while (ch->n == 0)
		pthread_cond_wait(&ch->cv, &ch->m);
	hx_context c = ch->box[0];
	memmove(ch->box, ch->box + 1, (size_t)--ch->n * sizeof c);
	pthread_mutex_unlock(&ch->m);
	return c;
}

static struct chan to_server = {.m = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};
static struct chan to_client = {.m = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};

static void *server(void *arg)
{
	(void)arg;
	hx_context req = chan_get(&to_server);
	hx_trace_join(&req, "serve");
	hx_request_received("request in", &req);
	hx_context msg = chan_get(&to_server);
	hx_receive("message in", &msg);
	hx_context async = chan_get(&to_server);
	hx_async_complete("async done", &async);
	chan_put(&to_client, hx_reply("reply out"));
	hx_trace_end();
	return NULL;
}

static void test_request_reply_message_async(void **state)
{
	(void)state;
	pthread_t th;
	assert_int_equal(pthread_create(&th, NULL, server, NULL), 0);
	hx_trace_begin("client");
	chan_put(&to_server, hx_request("request out"));
	chan_put(&to_server, hx_send("message out"));
	chan_put(&to_server, hx_async_start("async start"));
	hx_state_set(HX_STATE_WAITING, "reply");
	hx_context rep = chan_get(&to_client);
	hx_reply_received("reply in", &rep);
	hx_point("after reply");
	hx_trace_end();
	pthread_join(th, NULL);

	check_effect("request in", HX_IA_REQUEST, 0, (const char *const[]){"request out"}, 1);
	check_effect("message in", HX_IA_MESSAGE, 0, (const char *const[]){"message out"}, 1);
	check_effect("async done", HX_IA_ASYNC, 0, (const char *const[]){"async start"}, 1);
	/* the client waited for the reply: the reply's effect is its resume */
	check_effect("reply in", HX_IA_REPLY, 1, (const char *const[]){"reply out"}, 1);
	/* every event on both sides is in the client's trace */
	const hxt_event *root = find(HX_EV_TRACE_BEGIN, "client");
	for (size_t i = 0; i < g_events.n; i++)
		if (g_events.v[i].ev.kind != HX_EV_ENTITY_BEGIN && g_events.v[i].ev.kind != HX_EV_ENTITY_END &&
		    g_events.v[i].ev.kind != HX_EV_TRACE_END &&
		    memcmp(g_events.v[i].ev.trace_id, root->ev.trace_id, 16) != 0)
			fail_msg("event %zu (%s \"%s\") is not in the client's trace", i,
			         hx_event_kind_name(g_events.v[i].ev.kind), g_events.v[i].ev.name);
}

/* ---- fork/join and publish/subscribe: one cause, many effects; one effect, many causes ---- */

#define CHILDREN 3

struct child_arg {
	hx_context fork, publish, done;
	char name[16];
};

static void *child(void *arg)
{
	struct child_arg *a = arg;
	hx_trace_join(&a->fork, "child");
	hx_forked(a->name, &a->fork);
	hx_delivered("delivered", &a->publish);
	a->done = hx_child_done("child done");
	hx_trace_end();
	return NULL;
}

static void test_fork_join_publish(void **state)
{
	(void)state;
	hx_trace_begin("parent");
	hx_context f = hx_fork("fork");
	hx_context p = hx_publish("publish");
	struct child_arg args[CHILDREN];
	pthread_t th[CHILDREN];
	for (int i = 0; i < CHILDREN; i++) {
		args[i].fork = f;
		args[i].publish = p;
		snprintf(args[i].name, sizeof args[i].name, "forked %d", i);
		assert_int_equal(pthread_create(&th[i], NULL, child, &args[i]), 0);
	}
	hx_state_set(HX_STATE_WAITING, "children");
	hx_context done[CHILDREN];
	for (int i = 0; i < CHILDREN; i++) {
		pthread_join(th[i], NULL);
		done[i] = args[i].done;
	}
	hx_join("join", done, CHILDREN);
	hx_caused_by("because", done, 2);
	hx_trace_end();

	size_t delivered = 0;
	for (int i = 0; i < CHILDREN; i++) {
		char name[16];
		snprintf(name, sizeof name, "forked %d", i);
		check_effect(name, HX_IA_FORK, 0, (const char *const[]){"fork"}, 1);
	}
	for (size_t i = 0; i < g_events.n; i++) {
		const hx_event *e = &g_events.v[i].ev;
		if (e->kind == HX_EV_EFFECT && !strcmp(e->name, "delivered")) {
			delivered++;
			assert_int_equal(e->interaction, HX_IA_PUBLISH);
			assert_string_equal(named_by(&e->causes[0])->ev.name, "publish");
		}
	}
	assert_int_equal(delivered, CHILDREN);
	check_effect("join", HX_IA_JOIN, 1, (const char *const[]){"child done", "child done", "child done"}, 3);
	/* the three causes are three different events, one per child */
	const hxt_event *j = find(HX_EV_EFFECT, "join");
	assert_true(j->ev.causes[0].entity_id != j->ev.causes[1].entity_id);
	assert_true(j->ev.causes[1].entity_id != j->ev.causes[2].entity_id);
	/* the generic effect does not resume anything: the join already did */
	const hxt_event *b = find(HX_EV_EFFECT, "because");
	assert_int_equal(b->ev.interaction, HX_IA_CAUSAL);
	assert_int_equal(b->ev.resumes, 0);
	assert_int_equal(b->ev.ncauses, 2);
}

/* ---- waiting states: set, cleared by running, by leaving and entering an entity ---- */

static void test_resume_rules(void **state)
{
	(void)state;
	hx_context c = hx_send("c");
	hx_receive("not waiting", &c);
	hx_state_set(HX_STATE_WAITING, "x");
	hx_state_set(HX_STATE_RUNNING, NULL);
	hx_receive("running again", &c);
	hx_state_set(HX_STATE_WAITING, "y");
	hx_receive("wakes", &c);
	hx_receive("already awake", &c);

	hx_entity *co = hx_entity_begin("coroutine", HX_ENTITY_COROUTINE);
	hx_entity_enter(co);
	hx_entity_leave(); /* suspended: waiting */
	hx_entity_enter(co); /* resumed by the scheduler: running */
	hx_receive("in coroutine", &c);
	hx_entity_leave();
	hx_entity_end(co);

	assert_int_equal(find(HX_EV_EFFECT, "not waiting")->ev.resumes, 0);
	assert_int_equal(find(HX_EV_EFFECT, "running again")->ev.resumes, 0);
	assert_int_equal(find(HX_EV_EFFECT, "wakes")->ev.resumes, 1);
	assert_int_equal(find(HX_EV_EFFECT, "already awake")->ev.resumes, 0);
	assert_int_equal(find(HX_EV_EFFECT, "in coroutine")->ev.resumes, 0);
}

/* ---- hx_mutex ---- */

static hx_mutex *g_mutex;

static void *contender(void *arg)
{
	(void)arg;
	hx_thread_name("contender");
	hx_mutex_lock(g_mutex);
	hx_point("got it");
	hx_mutex_unlock(g_mutex);
	return NULL;
}

static void test_mutex_contention(void **state)
{
	(void)state;
	g_mutex = hx_mutex_create("the lock");
	assert_non_null(g_mutex);

	/* uncontended: nothing recorded */
	size_t before = g_events.n;
	hx_mutex_lock(g_mutex);
	hx_mutex_unlock(g_mutex);
	assert_int_equal(hx_mutex_trylock(g_mutex), 0);
	hx_mutex_unlock(g_mutex);
	assert_int_equal(g_events.n, before);

	hx_mutex_lock(g_mutex);
	assert_int_equal(hx_mutex_trylock(g_mutex), EBUSY);
	pthread_t th;
	assert_int_equal(pthread_create(&th, NULL, contender, NULL), 0);
	/* The contender records its wait before it blocks: unlock only once it is really waiting. */
	while (!g_waiting_seen) {
		struct timespec ts = {0, 1000000};
		nanosleep(&ts, NULL);
	}
	hx_mutex_unlock(g_mutex);
	pthread_join(th, NULL);

	const hxt_event *w = NULL;
	for (size_t i = 0; i < g_events.n; i++)
		if (g_events.v[i].ev.kind == HX_EV_STATE && !strcmp(g_events.v[i].ev.name, "the lock"))
			w = &g_events.v[i];
	assert_non_null(w);
	assert_int_equal(w->ev.state, HX_STATE_WAITING);
	check_effect("the lock", HX_IA_LOCK, 1, (const char *const[]){"the lock"}, 1);
	const hxt_event *acq = find(HX_EV_EFFECT, "the lock");
	const hxt_event *rel = named_by(&acq->ev.causes[0]);
	assert_int_equal(acq->ev.entity_id, w->ev.entity_id); /* the waiter acquired */
	assert_true(rel->ev.entity_id != acq->ev.entity_id);  /* the releaser is the other thread */
	const hxt_event *got = find(HX_EV_POINT, "got it");
	assert_true(got->ev.seq == acq->ev.seq + 1);
	/* the contender's own unlock had no waiter: no second CAUSE */
	assert_int_equal(hxt_count_kind(&g_events, HX_EV_CAUSE), 1);
	hx_mutex_destroy(g_mutex);
	hx_mutex_destroy(NULL);
	/* NULL handles are accepted and do nothing */
	hx_mutex_lock(NULL);
	hx_mutex_unlock(NULL);
	assert_int_equal(hx_mutex_trylock(NULL), EINVAL);
}

/* The mutex works as a mutex with tracing off. */
static void *counter_thread(void *arg)
{
	long *n = arg;
	for (int i = 0; i < 20000; i++) {
		hx_mutex_lock(g_mutex);
		(*n)++;
		hx_mutex_unlock(g_mutex);
	}
	return NULL;
}

static void test_mutex_excludes(void **state)
{
	(void)state;
	hx_shutdown(); /* also with tracing: see below */
	for (int round = 0; round < 2; round++) {
		g_mutex = hx_mutex_create(NULL);
		assert_non_null(g_mutex);
		long n = 0;
		pthread_t th[4];
		for (int i = 0; i < 4; i++)
			assert_int_equal(pthread_create(&th[i], NULL, counter_thread, &n), 0);
		for (int i = 0; i < 4; i++)
			pthread_join(th[i], NULL);
		assert_int_equal(n, 80000);
		hx_mutex_destroy(g_mutex);
		if (round == 0)
			assert_int_equal(setup(NULL), 0);
	}
	/* every contended acquisition names a CAUSE of another thread (the first 200 are checked:
	 * the lookup is linear) */
	size_t checked = 0;
	for (size_t i = 0; i < g_events.n && checked < 200; i++) {
		const hx_event *e = &g_events.v[i].ev;
		if (e->kind != HX_EV_EFFECT)
			continue;
		checked++;
		assert_int_equal(e->interaction, HX_IA_LOCK);
		assert_string_equal(e->name, "mutex");
		const hxt_event *c = named_by(&e->causes[0]);
		assert_non_null(c);
		assert_int_equal(c->ev.kind, HX_EV_CAUSE);
		assert_true(c->ev.entity_id != e->entity_id);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_request_reply_message_async, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fork_join_publish, setup, teardown),
		cmocka_unit_test_setup_teardown(test_resume_rules, setup, teardown),
		cmocka_unit_test_setup_teardown(test_mutex_contention, setup, teardown),
		cmocka_unit_test_setup_teardown(test_mutex_excludes, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
