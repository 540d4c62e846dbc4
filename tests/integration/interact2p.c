/*
 * interact2p.c - every interaction kind, round trip through the trace files of two processes.
 *
 * A parent and its fork()ed child (which traces into files of its own, as any traced child does)
 * exchange contexts over a socketpair, one hand-off of each kind in each direction where the kind
 * has two directions. Then the directory is read back as one input and every effect must name a
 * cause that is present, in the other process's files, with the same interaction kind, earlier
 * in time (both processes share a host clock), and everything must be one trace.
 *
 * The context crosses the socket in its binary form (haruspex/propagation.h), which is what a
 * custom transport would do. A second case checks that head sampling, decided at the root, is
 * followed by another process whatever its own sampler says.
 */
#include "../hxtest.h"

#include <haruspex/propagation.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include <cmocka.h>

/* A hand-off on the wire: the step number, then the binary context. */
static void put_ctx(int fd, uint8_t step, const hx_context *c)
{
	uint8_t buf[1 + 1 + HX_CONTEXT_BINARY_MAX];
	int n = hx_context_to_binary(c, buf + 2, HX_CONTEXT_BINARY_MAX);
	if (n <= 0) {
		fprintf(stderr, "step %u: context not encodable (%d)\n", step, n);
		_exit(3);
	}
	buf[0] = step;
	buf[1] = (uint8_t)n;
	if (write(fd, buf, (size_t)n + 2) != n + 2)
		_exit(3);
}

static hx_context get_ctx(int fd, uint8_t want)
{
	uint8_t hdr[2], body[HX_CONTEXT_BINARY_MAX];
	hx_context c;
	memset(&c, 0, sizeof c);
	if (read(fd, hdr, 2) != 2 || hdr[0] != want || hdr[1] > sizeof body ||
	    read(fd, body, hdr[1]) != hdr[1] || hx_context_from_binary(body, hdr[1], &c) != hdr[1]) {
		fprintf(stderr, "step %u: bad or missing context\n", want);
		_exit(3);
	}
	return c;
}

enum { S_JOIN = 1, S_MESSAGE, S_REQUEST, S_REPLY, S_ASYNC, S_FORK, S_CHILD_DONE, S_LOCK, S_PUBLISH,
       S_CAUSAL, S_MESSAGE_BACK, S_END };

static void child_main(int fd)
{
	hx_context c = get_ctx(fd, S_JOIN);
	hx_trace_join(&c, "child joins");
	c = get_ctx(fd, S_MESSAGE);
	hx_receive("message in", &c);
	c = get_ctx(fd, S_REQUEST);
	hx_request_received("request in", &c);
	hx_block_begin("handle");
	hx_block_end();
	hx_context r = hx_reply("reply out");
	put_ctx(fd, S_REPLY, &r);
	c = get_ctx(fd, S_ASYNC);
	hx_async_complete("async done", &c);
	c = get_ctx(fd, S_FORK);
	hx_forked("forked", &c);
	r = hx_child_done("child done");
	put_ctx(fd, S_CHILD_DONE, &r);
	c = get_ctx(fd, S_LOCK);
	hx_effect(HX_IA_LOCK, "lock acquire", &c);
	c = get_ctx(fd, S_PUBLISH);
	hx_delivered("delivered", &c);
	c = get_ctx(fd, S_CAUSAL);
	hx_caused_by("caused", &c, 1);
	r = hx_send("message back");
	put_ctx(fd, S_MESSAGE_BACK, &r);
	(void)get_ctx(fd, S_END);
	hx_trace_end();
	hx_shutdown();
	_exit(0);
}

static void test_two_processes(void **state)
{
	hxt_fixture *f = *state;
	assert_int_equal(hxt_start_file(f->dir, 0), HX_OK);
	int sv[2];
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	hx_context root = hx_trace_begin("two processes");
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(sv[0]);
		child_main(sv[1]);
	}
	close(sv[1]);
	int fd = sv[0];
	put_ctx(fd, S_JOIN, &root);
	hx_context c = hx_send("message out"); /* reused for each hand-off */
	put_ctx(fd, S_MESSAGE, &c);
	c = hx_request("request out");
	put_ctx(fd, S_REQUEST, &c);
	hx_state_set(HX_STATE_WAITING, "reply");
	c = get_ctx(fd, S_REPLY);
	hx_reply_received("reply in", &c);
	c = hx_async_start("async start");
	put_ctx(fd, S_ASYNC, &c);
	c = hx_fork("fork");
	put_ctx(fd, S_FORK, &c);
	hx_context local = hx_child_done("local part done");
	hx_state_set(HX_STATE_WAITING, "children");
	hx_context done[2] = {local, get_ctx(fd, S_CHILD_DONE)};
	hx_join("join", done, 2);
	c = hx_cause(HX_IA_LOCK, "lock release");
	put_ctx(fd, S_LOCK, &c);
	c = hx_publish("publish");
	put_ctx(fd, S_PUBLISH, &c);
	hx_delivered("delivered", &c); /* a second subscriber, in this process */
	c = hx_cause(HX_IA_CAUSAL, "causal");
	put_ctx(fd, S_CAUSAL, &c);
	c = get_ctx(fd, S_MESSAGE_BACK);
	hx_receive("message back in", &c);
	put_ctx(fd, S_END, &root);
	int status;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	hx_trace_end();
	assert_int_equal(hx_shutdown(), HX_OK);
	close(fd);

	hxt_events ev = {0};
	hxt_read_result res;
	assert_int_equal(hxt_read_all(f->dir, HX_ORDER_TIME, &ev, &res, 1), HX_OK);
	assert_int_equal(res.processes, 2);
	assert_int_equal(res.damage, 0);

	/* Expected effects: name, kind, cause name, whether the cause is in the other process. */
	static const struct {
		const char *effect, *cause;
		hx_interaction ia;
		int cross, resumes;
	} want[] = {
		{"message in", "message out", HX_IA_MESSAGE, 1, 0},
		{"request in", "request out", HX_IA_REQUEST, 1, 0},
		{"reply in", "reply out", HX_IA_REPLY, 1, 1},
		{"async done", "async start", HX_IA_ASYNC, 1, 0},
		{"forked", "fork", HX_IA_FORK, 1, 0},
		{"lock acquire", "lock release", HX_IA_LOCK, 1, 0},
		{"caused", "causal", HX_IA_CAUSAL, 1, 0},
		{"message back in", "message back", HX_IA_MESSAGE, 1, 0},
	};
	size_t effects = 0;
	for (size_t i = 0; i < ev.n; i++) {
		const hxt_event *e = &ev.v[i];
		if (e->ev.kind != HX_EV_EFFECT && e->ev.kind != HX_EV_TRACE_JOIN)
			continue;
		effects++;
		for (size_t k = 0; k < e->ev.ncauses; k++) {
			const hxt_event *ce = hxt_find(&ev, e->ev.causes[k].entity_id, e->ev.causes[k].seq);
			if (!ce)
				fail_msg("effect \"%s\": cause %zu not found", e->ev.name, k);
			if (ce->ev.time_ns > e->ev.time_ns)
				fail_msg("effect \"%s\" %llu ns before its cause \"%s\"", e->ev.name,
				         (unsigned long long)(ce->ev.time_ns - e->ev.time_ns), ce->ev.name);
			if (e->ev.kind == HX_EV_EFFECT) {
				assert_int_equal(ce->ev.kind, HX_EV_CAUSE);
				assert_int_equal(ce->ev.interaction, e->ev.interaction);
			}
		}
	}
	assert_int_equal(effects, 1 /* join of the trace */ + 8 + 1 /* join */ + 2 /* delivered */);
	for (size_t w = 0; w < sizeof want / sizeof want[0]; w++) {
		const hxt_event *e = hxt_find_name(&ev, HX_EV_EFFECT, want[w].effect);
		assert_non_null(e);
		assert_int_equal(e->ev.interaction, want[w].ia);
		assert_int_equal(e->ev.resumes, want[w].resumes);
		assert_int_equal(e->ev.ncauses, 1);
		const hxt_event *ce = hxt_find(&ev, e->ev.causes[0].entity_id, e->ev.causes[0].seq);
		assert_string_equal(ce->ev.name, want[w].cause);
		assert_int_equal(ce->process != e->process, want[w].cross);
	}
	const hxt_event *j = hxt_find_name(&ev, HX_EV_EFFECT, "join");
	assert_int_equal(j->ev.ncauses, 2);
	assert_int_equal(j->ev.resumes, 1);
	assert_true(hxt_find(&ev, j->ev.causes[0].entity_id, j->ev.causes[0].seq)->process !=
	            hxt_find(&ev, j->ev.causes[1].entity_id, j->ev.causes[1].seq)->process);
	size_t delivered = 0, trace_events = 0;
	for (size_t i = 0; i < ev.n; i++) {
		const hxt_event *e = &ev.v[i];
		if (e->ev.kind == HX_EV_EFFECT && !strcmp(e->ev.name, "delivered")) {
			delivered++;
			const hxt_event *ce = hxt_find(&ev, e->ev.causes[0].entity_id, e->ev.causes[0].seq);
			assert_string_equal(ce->ev.name, "publish");
		}
		if (e->ev.kind != HX_EV_ENTITY_BEGIN && e->ev.kind != HX_EV_ENTITY_END &&
		    e->ev.kind != HX_EV_TRACE_END) {
			assert_memory_equal(e->ev.trace_id, root.trace_id, 16);
			trace_events++;
		}
	}
	assert_int_equal(delivered, 2);
	assert_true(trace_events > 20);
	hxt_events_free(&ev);
}

/* Head sampling is decided once, at the root, and every process follows it: the parent samples
 * with probability 1/2; the child runs with the sampler "never" and joins every trace it is told
 * of; afterwards exactly the parent's recorded traces have the child's events, and no other. */
static void test_sampling_across_processes(void **state)
{
	hxt_fixture *f = *state;
	hx_config cfg;
	hx_config_init(&cfg);
	cfg.dir = f->dir;
	cfg.sampler = HX_SAMPLE_PROBABILITY;
	cfg.sample_probability = 0.5;
	assert_int_equal(hx_init(&cfg), HX_OK);
	int sv[2];
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	enum { N = 200 };
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(sv[0]);
		hx_shutdown(); /* this process's own sampler says never: it must not matter */
		hx_config cc;
		hx_config_init(&cc);
		cc.dir = f->dir;
		cc.sampler = HX_SAMPLE_NEVER;
		if (hx_init(&cc) != HX_OK)
			_exit(3);
		for (int i = 0; i < N; i++) {
			hx_context c = get_ctx(sv[1], S_JOIN);
			hx_trace_join(&c, "child joins");
			hx_point("child work");
			hx_trace_end();
		}
		hx_shutdown();
		_exit(0);
	}
	close(sv[1]);
	int sampled = 0;
	for (int i = 0; i < N; i++) {
		hx_context root = hx_trace_begin("root");
		sampled += (root.flags & HX_CTX_SAMPLED) != 0;
		hx_point("parent work");
		put_ctx(sv[0], S_JOIN, &root);
		hx_trace_end();
	}
	int status;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	assert_int_equal(hx_shutdown(), HX_OK);
	close(sv[0]);
	assert_in_range(sampled, 50, 150); /* binomial(200, 1/2): 7 standard deviations */

	hxt_events ev = {0};
	hxt_read_result res;
	assert_int_equal(hxt_read_all(f->dir, HX_ORDER_STREAM, &ev, &res, 1), HX_OK);
	size_t roots = 0, joins = 0;
	for (size_t i = 0; i < ev.n; i++) {
		const hx_event *e = &ev.v[i].ev;
		if (e->kind == HX_EV_TRACE_BEGIN) {
			roots++;
			/* this trace's join must be in the files */
			int found = 0;
			for (size_t k = 0; k < ev.n && !found; k++)
				found = ev.v[k].ev.kind == HX_EV_TRACE_JOIN && !memcmp(ev.v[k].ev.trace_id, e->trace_id, 16);
			if (!found)
				fail_msg("trace recorded by the parent has no child events");
		}
		joins += e->kind == HX_EV_TRACE_JOIN;
	}
	assert_int_equal(roots, (size_t)sampled);
	assert_int_equal(joins, (size_t)sampled); /* and none of the sampled-out ones */
	assert_int_equal(hxt_find_name(&ev, HX_EV_POINT, "child work") != NULL, sampled > 0);
	hxt_events_free(&ev);
}

static int setup(void **state)
{
	return hxt_fixture_setup(state, "interact2p");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_two_processes, setup, hxt_fixture_teardown),
		cmocka_unit_test_setup_teardown(test_sampling_across_processes, setup, hxt_fixture_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
