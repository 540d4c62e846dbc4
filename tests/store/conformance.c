/*
 * conformance.c - the storage interface's conformance suite (src/store/store.h): every backend
 * must pass it. The store comes from HX_STORE_URL (e.g. "local:/tmp/x" or, later,
 * "clickhouse://..."); by default each case gets a fresh embedded store in a temporary directory.
 * Cases that need the files of the embedded store (crash recovery, the ENOSPC hook, corruption,
 * retention sizes) run only for local stores. Every case uses trace and entity IDs of its own, so
 * a shared store does not make cases see each other's data.
 *
 * Covered: round trip of every event kind and attribute type; arrival out of order across batches
 * and processes; duplicates dropped and counted; summaries updated by late batches; every search
 * filter, sort and cursor pagination; fetch windows by time and entity; names and counts;
 * retention by size and by age; remove; reopen; crash consistency under SIGKILL (20 rounds);
 * ENOSPC injection and recovery; a memory limit far below the data; damaged files.
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

#include "../hxtest_cmp.h"
#include "store/store.h"

/* ---- fixture ---- */

typedef struct fx {
	char dir[512];
	char url[640];
	int local;
	uint64_t salt; /* makes this case's trace and entity IDs its own */
} fx;

static uint64_t rnd_state = 88172645463325252ull;
static uint64_t rnd(void)
{
	rnd_state ^= rnd_state << 13;
	rnd_state ^= rnd_state >> 7;
	rnd_state ^= rnd_state << 17;
	return rnd_state;
}

static int setup(void **state)
{
	fx *f = calloc(1, sizeof *f);
	if (!f || hxt_mkdtemp(f->dir, sizeof f->dir, "store")) {
		free(f);
		return -1;
	}
	f->salt = rnd() | 1;
	const char *env = getenv("HX_STORE_URL");
	if (env && *env && strncmp(env, "local:", 6)) {
		snprintf(f->url, sizeof f->url, "%s", env);
	} else {
		/* local: a store of its own per case, under HX_STORE_URL's directory if given */
		f->local = 1;
		if (env && *env)
			snprintf(f->url, sizeof f->url, "%s/case-%016llx", env, (unsigned long long)f->salt);
		else
			snprintf(f->url, sizeof f->url, "local:%s/data", f->dir);
	}
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	fx *f = *state;
	unsetenv("HX_STORE_FAULT");
	hxt_rmrf(f->dir);
	free(f);
	return 0;
}

static hx_store *open_store(fx *f, const hx_store_config *cfg)
{
	hx_store *s = NULL;
	int rc = hx_store_open(&s, f->url, cfg);
	if (rc != HX_OK)
		fail_msg("hx_store_open(%s): %s: %s", f->url, hx_strerror(rc), hx_store_errmsg());
	return s;
}

#define LOCAL_ONLY(f)                                                                             \
	do {                                                                                      \
		if (!(f)->local)                                                                  \
			skip();                                                                   \
	} while (0)

/* ---- IDs and events ---- */

static const uint64_t T0 = 1700000000000000000ull; /* 2023-11-14, in ns */

static void tid_make(const fx *f, uint64_t n, uint8_t out[16])
{
	uint64_t ms = T0 / 1000000 + n;
	for (int i = 0; i < 6; i++)
		out[i] = (uint8_t)(ms >> (40 - 8 * i));
	out[6] = (uint8_t)(n >> 8);
	out[7] = (uint8_t)n;
	for (int i = 0; i < 8; i++)
		out[8 + i] = (uint8_t)(f->salt >> (8 * i));
	out[15] ^= 0x5a;
}

static uint64_t eid_make(const fx *f, uint64_t n)
{
	return (f->salt * 0x9e3779b97f4a7c15ull) ^ (n + 1) * 0x100000001b3ull;
}

static hx_event ev_make(hx_event_kind kind, uint64_t t, uint64_t eid, uint64_t seq, const uint8_t tr[16],
                        const char *name)
{
	hx_event e;
	memset(&e, 0, sizeof e);
	e.kind = kind;
	e.time_ns = e.time_orig_ns = t;
	e.entity_id = eid;
	e.seq = seq;
	if (tr)
		memcpy(e.trace_id, tr, 16);
	e.name = name ? name : "";
	e.name_len = strlen(e.name);
	return e;
}

static hx_store_proc proc_make(uint64_t n, const char *host, const char *service)
{
	hx_store_proc p;
	memset(&p, 0, sizeof p);
	for (int i = 0; i < 16; i++)
		p.instance[i] = (uint8_t)(n * 31 + (uint64_t)i);
	p.pid = 1000 + n;
	p.host = host;
	p.service = service;
	p.program = "prog";
	return p;
}

/* A simple trace: TRACE_BEGIN root, then alternating block begin/end and points, on `nent`
 * entities, `per` events each, times spaced by `step` ns. Events go to *out (caller frees). */
static size_t trace_make(const fx *f, uint64_t tn, uint64_t t0, size_t nent, size_t per, uint64_t step,
                         hx_event **out)
{
	static const char *const names[] = {"db.query", "cache.get", "render"};
	uint8_t tr[16];
	tid_make(f, tn, tr);
	hx_event *v = hxt_xmalloc(nent * per * sizeof *v);
	size_t n = 0;
	for (size_t e = 0; e < nent; e++) {
		uint64_t eid = eid_make(f, tn * 1000 + e);
		for (size_t i = 0; i < per; i++) {
			uint64_t t = t0 + (i * nent + e) * step;
			hx_event_kind k = i == 0 && e == 0 ? HX_EV_TRACE_BEGIN :
			                  i % 3 == 0 ? HX_EV_BLOCK_BEGIN : i % 3 == 1 ? HX_EV_POINT : HX_EV_BLOCK_END;
			const char *nm = k == HX_EV_TRACE_BEGIN ? "GET /root" : k == HX_EV_BLOCK_END ? "" :
			                 names[i % 3 == 0 ? 0 : 1 + (i / 3) % 2];
			v[n++] = ev_make(k, t, eid, i, tr, nm);
		}
	}
	*out = v;
	return n;
}

/* ---- fetching ---- */

typedef struct got {
	hxt_events ev;
	uint64_t *pid;
	char **service;
	size_t stop_after; /* 0: never */
} got;

static int collect(const hx_event *ev, const hx_store_proc *proc, void *user)
{
	got *g = user;
	hxt_events_push(&g->ev, ev);
	g->pid = hxt_xrealloc(g->pid, g->ev.n * sizeof *g->pid);
	g->service = hxt_xrealloc(g->service, g->ev.n * sizeof *g->service);
	g->pid[g->ev.n - 1] = proc->pid;
	g->service[g->ev.n - 1] = strdup(proc->service);
	return g->stop_after && g->ev.n >= g->stop_after;
}

static void got_free(got *g)
{
	for (size_t i = 0; i < g->ev.n; i++)
		free(g->service[i]);
	free(g->pid);
	free(g->service);
	hxt_events_free(&g->ev);
	memset(g, 0, sizeof *g);
}

static int fetch(hx_store *s, const uint8_t tr[16], const hx_store_window *w, got *g)
{
	memset(g, 0, sizeof *g);
	return hx_store_fetch(s, tr, w, collect, g);
}

static void assert_sorted(const got *g)
{
	for (size_t i = 1; i < g->ev.n; i++) {
		const hx_event *a = &g->ev.v[i - 1].ev, *b = &g->ev.v[i].ev;
		int ok = a->time_ns < b->time_ns ||
		         (a->time_ns == b->time_ns && (a->entity_id < b->entity_id ||
		                                        (a->entity_id == b->entity_id && a->seq < b->seq)));
		if (!ok)
			fail_msg("fetch order broken at %zu", i);
	}
}

static void append_ok(hx_store *s, const hx_store_proc *p, const hx_event *v, size_t n, size_t want_stored,
                      size_t want_dup)
{
	size_t stored = 99, dup = 99;
	int rc = hx_store_append(s, p, v, n, &stored, &dup);
	if (rc != HX_OK)
		fail_msg("append: %s: %s", hx_strerror(rc), hx_store_errmsg());
	assert_int_equal(stored, want_stored);
	assert_int_equal(dup, want_dup);
}

static void commit_ok(hx_store *s)
{
	int rc = hx_store_commit(s);
	if (rc != HX_OK)
		fail_msg("commit: %s: %s", hx_strerror(rc), hx_store_errmsg());
}

/* The summary of one trace, through search (a search by time that covers it, then the ID). */
static int summary_of(hx_store *s, const uint8_t tr[16], hx_trace_summary *out, char *root, char *svcs)
{
	hx_store_query q;
	memset(&q, 0, sizeof q);
	q.limit = 1000;
	hx_store_result r;
	const char *cursor = NULL;
	char *cur = NULL;
	int found = 0;
	do {
		q.cursor = cursor;
		assert_int_equal(hx_store_search(s, &q, &r), HX_OK);
		for (size_t i = 0; i < r.n; i++)
			if (!memcmp(r.traces[i].trace_id, tr, 16)) {
				*out = r.traces[i];
				snprintf(root, 256, "%s", r.traces[i].root_name);
				snprintf(svcs, 256, "%s", r.traces[i].services);
				found = 1;
			}
		free(cur);
		cur = r.next_cursor ? strdup(r.next_cursor) : NULL;
		cursor = cur;
		hx_store_result_free(&r);
	} while (cursor && !found);
	free(cur);
	return found;
}

/* ---- cases ---- */

static void test_roundtrip_every_kind(void **state)
{
	fx *f = *state;
	hx_store *s = open_store(f, NULL);
	uint8_t tr[16], other[16];
	tid_make(f, 1, tr);
	tid_make(f, 2, other);
	uint64_t e1 = eid_make(f, 1), e2 = eid_make(f, 2);
	static const uint8_t blob[] = {0, 1, 2, 0xff, 0x80};
	hx_attr attrs[] = {HX_INT("i", -1234567890123ll), HX_DOUBLE("d", 3.25), HX_BOOL("b", 1),
	                   HX_BOOL("f", 0), HX_STR("s", "hello"), HX_BYTES("x", blob, sizeof blob),
	                   HX_STR("empty", "")};
	hx_context causes[2] = {{{0}, e1, 3, HX_CTX_SAMPLED | HX_CTX_VALID, 0},
	                        {{0}, 0xabcdef, 0, HX_CTX_FOREIGN | HX_CTX_VALID, 0}};
	memcpy(causes[0].trace_id, tr, 16);
	memcpy(causes[1].trace_id, other, 16);
	hx_event v[20];
	size_t n = 0;
	uint64_t t = T0;
	v[n] = ev_make(HX_EV_ENTITY_BEGIN, t += 10, e1, 0, NULL, "worker");
	v[n].entity_kind = HX_ENTITY_TASK;
	v[n].tid = 4242;
	v[n++].parent_id = 77;
	v[n++] = ev_make(HX_EV_TRACE_BEGIN, t += 10, e1, 1, tr, "GET /x");
	v[n] = ev_make(HX_EV_BLOCK_BEGIN, t += 10, e1, 2, tr, "handler");
	v[n].attrs = attrs;
	v[n++].nattrs = sizeof attrs / sizeof *attrs;
	v[n] = ev_make(HX_EV_CAUSE, t += 10, e1, 3, tr, "send");
	v[n++].interaction = HX_IA_MESSAGE;
	v[n++] = ev_make(HX_EV_POINT, t += 10, e1, 4, tr, "tick");
	v[n] = ev_make(HX_EV_COUNTER, t += 10, e1, 5, tr, "queue");
	v[n].unit = "items";
	v[n].counter_is_int = 1;
	v[n++].counter_int = -17;
	v[n] = ev_make(HX_EV_COUNTER, t += 10, e1, 6, tr, "load");
	v[n].unit = "";
	v[n++].counter_double = 0.75;
	v[n] = ev_make(HX_EV_STATE, t += 10, e1, 7, tr, "lock");
	v[n++].state = HX_STATE_WAITING;
	v[n] = ev_make(HX_EV_EFFECT, t += 10, e1, 8, tr, "recv");
	v[n].interaction = HX_IA_JOIN;
	v[n].causes = causes;
	v[n].ncauses = 2;
	v[n++].resumes = 1;
	v[n] = ev_make(HX_EV_ANNOTATE, t += 10, e1, 9, tr, "");
	v[n].target = HX_TARGET_BLOCK;
	v[n].attrs = attrs + 4;
	v[n++].nattrs = 1;
	v[n++] = ev_make(HX_EV_ERROR, t += 10, e1, 10, tr, "boom");
	v[n++] = ev_make(HX_EV_BLOCK_END, t += 10, e1, 11, tr, "");
	v[n++] = ev_make(HX_EV_TRACE_END, t += 10, e1, 12, tr, "");
	/* a second entity joins the trace */
	v[n] = ev_make(HX_EV_TRACE_JOIN, t += 10, e2, 5, tr, "join");
	v[n].interaction = HX_IA_CAUSAL;
	v[n].causes = causes;
	v[n++].ncauses = 1;
	v[n++] = ev_make(HX_EV_ENTITY_END, t += 10, e2, 6, tr, "");
	hx_store_proc p = proc_make(1, "host-a", "svc-a");
	append_ok(s, &p, v, n, n, 0);
	commit_ok(s);
	got g;
	assert_int_equal(fetch(s, tr, NULL, &g), HX_OK);
	/* ENTITY_BEGIN was outside any trace: stored under no trace, not fetchable. */
	assert_int_equal(g.ev.n, n - 1);
	assert_sorted(&g);
	for (size_t i = 0; i < g.ev.n; i++) {
		hxt_assert_same_event(&v[i + 1], &g.ev.v[i].ev);
		assert_int_equal(g.pid[i], p.pid);
		assert_string_equal(g.service[i], "svc-a");
	}
	got_free(&g);
	hx_trace_summary sm;
	char root[256], svcs[256];
	assert_true(summary_of(s, tr, &sm, root, svcs));
	assert_string_equal(root, "GET /x");
	assert_string_equal(svcs, "svc-a");
	assert_int_equal(sm.start_ns, v[1].time_ns);
	assert_int_equal(sm.end_ns, v[n - 1].time_ns);
	assert_int_equal(sm.events, n - 1);
	assert_int_equal(sm.entities, 2);
	assert_int_equal(sm.processes, 1);
	assert_int_equal(sm.hosts, 1);
	assert_int_equal(sm.errors, 1);
	/* bad input is refused whole */
	hx_event bad = ev_make(HX_EV_POINT, t, 0, 0, tr, "x");
	assert_int_equal(hx_store_append(s, &p, &bad, 1, NULL, NULL), HX_EINVAL);
	assert_int_equal(hx_store_fetch(s, other, NULL, collect, &g), HX_ENOENT);
	hx_store_info info;
	assert_int_equal(hx_store_info_get(s, &info), HX_OK);
	assert_int_equal(info.events, n);
	assert_int_equal(info.traces, 1);
	assert_true(info.bytes > 0);
	hx_store_close(s);
}

static void test_out_of_order(void **state)
{
	fx *f = *state;
	hx_store *s = open_store(f, NULL);
	hx_event *v;
	size_t n = trace_make(f, 10, T0 + 1000000, 4, 50, 1000, &v);
	hx_store_proc p1 = proc_make(1, "h1", "front"), p2 = proc_make(2, "h2", "back");
	/* Entities 0-1 come from process 1, 2-3 from process 2; batches in reverse order, and each
	 * batch reversed inside, over three commits. */
	for (int b = 3; b >= 0; b--) {
		hx_event batch[50];
		for (size_t i = 0; i < 50; i++)
			batch[i] = v[(size_t)b * 50 + 49 - i];
		append_ok(s, b < 2 ? &p1 : &p2, batch, 50, 50, 0);
		if (b % 2 == 0)
			commit_ok(s);
	}
	got g;
	assert_int_equal(fetch(s, v[0].trace_id, NULL, &g), HX_OK);
	assert_int_equal(g.ev.n, n);
	assert_sorted(&g);
	for (size_t i = 0; i < g.ev.n; i++) {
		const hx_event *e = &g.ev.v[i].ev;
		size_t ent = 0;
		while (eid_make(f, 10 * 1000 + ent) != e->entity_id)
			ent++;
		hxt_assert_same_event(&v[ent * 50 + e->seq], e);
		assert_string_equal(g.service[i], ent < 2 ? "front" : "back");
	}
	got_free(&g);
	hx_trace_summary sm;
	char root[256], svcs[256];
	assert_true(summary_of(s, v[0].trace_id, &sm, root, svcs));
	assert_string_equal(svcs, "back,front");
	assert_int_equal(sm.processes, 2);
	assert_int_equal(sm.hosts, 2);
	assert_int_equal(sm.entities, 4);
	assert_int_equal(sm.events, n);
	free(v);
	hx_store_close(s);
}

static void test_duplicates(void **state)
{
	fx *f = *state;
	hx_store *s = open_store(f, NULL);
	hx_event *v;
	size_t n = trace_make(f, 20, T0, 2, 100, 500, &v);
	hx_store_proc p = proc_make(1, "h", "svc");
	append_ok(s, &p, v, 100, 100, 0);
	append_ok(s, &p, v, 100, 0, 100);            /* the same batch twice, before a commit */
	commit_ok(s);
	append_ok(s, &p, v, 100, 0, 100);            /* and after */
	append_ok(s, &p, v + 50, 100, 50, 50);       /* overlapping */
	append_ok(s, &p, v + 100, 100, 50, 50);
	hx_event twice[2] = {v[199], v[199]};        /* inside one batch */
	append_ok(s, &p, twice, 2, 0, 2);
	commit_ok(s);
	got g;
	assert_int_equal(fetch(s, v[0].trace_id, NULL, &g), HX_OK);
	assert_int_equal(g.ev.n, n);
	for (size_t i = 1; i < g.ev.n; i++)
		assert_false(g.ev.v[i].ev.entity_id == g.ev.v[i - 1].ev.entity_id &&
		             g.ev.v[i].ev.seq == g.ev.v[i - 1].ev.seq);
	got_free(&g);
	hx_store_info info;
	assert_int_equal(hx_store_info_get(s, &info), HX_OK);
	assert_int_equal(info.duplicates, 302);
	assert_int_equal(info.events, n);
	/* after a reopen the ranges are still known */
	hx_store_close(s);
	s = open_store(f, NULL);
	append_ok(s, &p, v, n, 0, n);
	commit_ok(s);
	assert_int_equal(hx_store_info_get(s, &info), HX_OK);
	assert_int_equal(info.duplicates, 302 + n);
	free(v);
	hx_store_close(s);
}

static void test_late_summaries(void **state)
{
	fx *f = *state;
	hx_store *s = open_store(f, NULL);
	uint8_t tr[16];
	tid_make(f, 30, tr);
	uint64_t a = eid_make(f, 30), b = eid_make(f, 31);
	hx_store_proc p1 = proc_make(1, "h1", "api"), p2 = proc_make(2, "h2", "db");
	hx_event late[3] = {ev_make(HX_EV_POINT, T0 + 5000, a, 5, tr, "mid"),
	                    ev_make(HX_EV_ERROR, T0 + 6000, a, 6, tr, "oops"),
	                    ev_make(HX_EV_POINT, T0 + 7000, a, 7, tr, "later")};
	append_ok(s, &p1, late, 3, 3, 0);
	commit_ok(s);
	hx_trace_summary sm;
	char root[256], svcs[256];
	assert_true(summary_of(s, tr, &sm, root, svcs));
	assert_string_equal(root, "");
	assert_int_equal(sm.start_ns, T0 + 5000);
	assert_int_equal(sm.end_ns, T0 + 7000);
	assert_int_equal(sm.errors, 1);
	/* the root arrives late, from the start */
	hx_event root_ev = ev_make(HX_EV_TRACE_BEGIN, T0 + 1000, a, 0, tr, "POST /order");
	append_ok(s, &p1, &root_ev, 1, 1, 0);
	commit_ok(s);
	/* another process, another host, a later end and another error */
	hx_event more[2] = {ev_make(HX_EV_BLOCK_BEGIN, T0 + 9000, b, 0, tr, "sql"),
	                    ev_make(HX_EV_ERROR, T0 + 20000, b, 1, tr, "deadlock")};
	append_ok(s, &p2, more, 2, 2, 0);
	commit_ok(s);
	assert_true(summary_of(s, tr, &sm, root, svcs));
	assert_string_equal(root, "POST /order");
	assert_string_equal(svcs, "api,db");
	assert_int_equal(sm.start_ns, T0 + 1000);
	assert_int_equal(sm.end_ns, T0 + 20000);
	assert_int_equal(sm.events, 6);
	assert_int_equal(sm.entities, 2);
	assert_int_equal(sm.processes, 2);
	assert_int_equal(sm.hosts, 2);
	assert_int_equal(sm.errors, 2);
	hx_store_close(s);
}

/* Search: 40 traces with known properties; every filter against the expected set. */
#define NS 40
typedef struct straces {
	uint8_t id[16];
	uint64_t start, dur;
	int svc_b, err, status500, ent_named, has_render;
} straces;

static void make_search_set(fx *f, hx_store *s, straces *tv)
{
	for (int i = 0; i < NS; i++) {
		straces *t = &tv[i];
		tid_make(f, 100 + (uint64_t)i, t->id);
		t->start = T0 + (uint64_t)i * 1000000000ull + (uint64_t)(i % 3) * 7; /* ties avoided */
		if (i % 10 == 9)
			t->start = tv[i - 1].start; /* but some equal starts, for the tie-breaker */
		t->dur = (uint64_t)((i * 37) % NS + 1) * 1000000ull;
		t->svc_b = i % 3 == 0;
		t->err = i % 4 == 0;
		t->status500 = i % 5 == 0;
		t->ent_named = i % 6 == 0;
		t->has_render = i % 2 == 0;
		uint64_t e = eid_make(f, 100 + (uint64_t)i);
		hx_attr st = HX_INT("http.status_code", t->status500 ? 500 : 200);
		hx_event v[6];
		size_t n = 0;
		v[n++] = ev_make(HX_EV_TRACE_BEGIN, t->start, e, 0, t->id, "root");
		v[n] = ev_make(HX_EV_BLOCK_BEGIN, t->start + 1, e, 1, t->id, t->has_render ? "render" : "load");
		v[n].attrs = &st;
		v[n++].nattrs = 1;
		v[n++] = ev_make(HX_EV_BLOCK_END, t->start + 2, e, 2, t->id, "");
		if (t->err)
			v[n++] = ev_make(HX_EV_ERROR, t->start + 3, e, 3, t->id, "bad");
		v[n++] = ev_make(HX_EV_POINT, t->start + t->dur, e, 4, t->id, "done");
		hx_store_proc p = proc_make((uint64_t)i, "h", t->svc_b ? "svc-b" : "svc-a");
		append_ok(s, &p, v, n, n, 0);
		if (t->ent_named) {
			uint64_t e2 = eid_make(f, 200 + (uint64_t)i);
			hx_event eb = ev_make(HX_EV_ENTITY_BEGIN, t->start + 5, e2, 0, t->id, "poller");
			append_ok(s, &p, &eb, 1, 1, 0);
		}
		if (i % 7 == 0)
			commit_ok(s);
	}
	commit_ok(s);
}

static int matches(const straces *t, const hx_store_query *q)
{
	uint64_t end = t->start + t->dur;
	if (q->from_ns && end < q->from_ns)
		return 0;
	if (q->to_ns && t->start > q->to_ns)
		return 0;
	if (q->service && (!strcmp(q->service, "svc-b") ? !t->svc_b : t->svc_b))
		return 0;
	if (q->entity_name && !t->ent_named)
		return 0;
	if (q->name && !t->has_render)
		return 0;
	if (q->min_duration_ns && t->dur < q->min_duration_ns)
		return 0;
	if (q->max_duration_ns && t->dur > q->max_duration_ns)
		return 0;
	if (q->attr_key && !t->status500)
		return 0;
	if (q->error == 1 && !t->err)
		return 0;
	if (q->error == -1 && t->err)
		return 0;
	return 1;
}

/* Run q over all pages; check order, no repeats, and exactly the expected set. */
static void check_query(hx_store *s, const straces *tv, hx_store_query q)
{
	int seen[NS] = {0};
	size_t total = 0, pages = 0;
	char *cur = NULL;
	uint64_t prev_key = 0;
	uint8_t prev_id[16] = {0};
	int have_prev = 0;
	int desc = q.sort == HX_SORT_START_DESC || q.sort == HX_SORT_DURATION_DESC;
	int by_dur = q.sort >= HX_SORT_DURATION_DESC;
	do {
		q.cursor = cur;
		hx_store_result r;
		int rc = hx_store_search(s, &q, &r);
		if (rc != HX_OK)
			fail_msg("search: %s: %s", hx_strerror(rc), hx_store_errmsg());
		pages++;
		assert_true(r.n <= (q.limit ? q.limit : 20));
		for (size_t i = 0; i < r.n; i++) {
			const hx_trace_summary *t = &r.traces[i];
			int k = -1;
			for (int j = 0; j < NS; j++)
				if (!memcmp(tv[j].id, t->trace_id, 16))
					k = j;
			if (k < 0)
				continue; /* another case's trace in a shared store */
			assert_false(seen[k]);
			seen[k] = 1;
			total++;
			assert_true(matches(&tv[k], &q));
			uint64_t key = by_dur ? t->end_ns - t->start_ns : t->start_ns;
			if (have_prev) {
				int c = key != prev_key ? (key > prev_key ? 1 : -1) : memcmp(t->trace_id, prev_id, 16);
				assert_true(desc ? c < 0 : c > 0);
			}
			prev_key = key;
			memcpy(prev_id, t->trace_id, 16);
			have_prev = 1;
		}
		free(cur);
		cur = r.next_cursor ? strdup(r.next_cursor) : NULL;
		hx_store_result_free(&r);
	} while (cur && pages < 1000);
	size_t want = 0;
	for (int j = 0; j < NS; j++)
		want += matches(&tv[j], &q);
	assert_int_equal(total, want);
}

static void test_search(void **state)
{
	fx *f = *state;
	hx_store *s = open_store(f, NULL);
	straces tv[NS];
	make_search_set(f, s, tv);
	hx_store_query base;
	memset(&base, 0, sizeof base);
	for (int sort = 0; sort < 4; sort++) {
		for (int lim = 0; lim < 3; lim++) {
			hx_store_query q = base;
			q.sort = (hx_store_sort)sort;
			q.limit = lim == 0 ? 7 : lim == 1 ? 1 : 0;
			check_query(s, tv, q);
		}
	}
	hx_store_query q;
	for (int which = 0; which < 11; which++) {
		q = base;
		q.limit = 5;
		switch (which) {
		case 0: q.from_ns = tv[20].start; break;
		case 1: q.to_ns = tv[10].start; break;
		case 2: q.service = "svc-b"; break;
		case 3: q.entity_name = "poller"; break;
		case 4: q.name = "render"; break;
		case 5: q.min_duration_ns = 20000000; break;
		case 6: q.max_duration_ns = 10000000; break;
		case 7: q.attr_key = "http.status_code"; q.attr_value = "500"; break;
		case 8: q.error = 1; break;
		case 9: q.error = -1; break;
		default: /* two filters, and a sort by duration */
			q.service = "svc-a";
			q.min_duration_ns = 5000000;
			q.sort = HX_SORT_DURATION_DESC;
			break;
		}
		check_query(s, tv, q);
	}
	/* names in the trace that do not exist match nothing */
	q = base;
	q.name = "no-such-block";
	hx_store_result r;
	assert_int_equal(hx_store_search(s, &q, &r), HX_OK);
	assert_int_equal(r.n, 0);
	assert_null(r.next_cursor);
	hx_store_result_free(&r);
	/* malformed cursors, a cursor of another sort */
	const char *bad[] = {"", "zz", "00", "not a cursor at all, not even hex, really not!!!!!"};
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		q = base;
		q.cursor = bad[i];
		assert_int_equal(hx_store_search(s, &q, &r), HX_EINVAL);
	}
	q = base;
	q.limit = 2;
	assert_int_equal(hx_store_search(s, &q, &r), HX_OK);
	assert_non_null(r.next_cursor);
	hx_store_query q2 = base;
	q2.sort = HX_SORT_DURATION_ASC;
	q2.cursor = r.next_cursor;
	hx_store_result r2;
	assert_int_equal(hx_store_search(s, &q2, &r2), HX_EINVAL);
	hx_store_result_free(&r);
	hx_store_close(s);
}

static void test_fetch_windows(void **state)
{
	fx *f = *state;
	hx_store *s = open_store(f, NULL);
	hx_event *v;
	size_t n = trace_make(f, 40, T0, 3, 200, 100, &v);
	hx_store_proc p = proc_make(1, "h", "svc");
	for (size_t i = 0; i < n; i += 100) {
		append_ok(s, &p, v + i, 100, 100, 0);
		commit_ok(s);
	}
	uint64_t from = T0 + 10000, to = T0 + 30000, e1 = eid_make(f, 40 * 1000 + 1);
	hx_store_window wins[4] = {{from, to, 0}, {0, 0, e1}, {from, to, e1}, {T0 + 10000000, 0, 0}};
	for (int w = 0; w < 4; w++) {
		size_t want = 0;
		for (size_t i = 0; i < n; i++)
			want += (!wins[w].from_ns || v[i].time_ns >= wins[w].from_ns) &&
			        (!wins[w].to_ns || v[i].time_ns <= wins[w].to_ns) &&
			        (!wins[w].entity_id || v[i].entity_id == wins[w].entity_id);
		got g;
		assert_int_equal(fetch(s, v[0].trace_id, &wins[w], &g), HX_OK);
		assert_int_equal(g.ev.n, want);
		assert_sorted(&g);
		for (size_t i = 0; i < g.ev.n; i++) {
			const hx_event *e = &g.ev.v[i].ev;
			assert_true(!wins[w].from_ns || e->time_ns >= wins[w].from_ns);
			assert_true(!wins[w].to_ns || e->time_ns <= wins[w].to_ns);
			assert_true(!wins[w].entity_id || e->entity_id == wins[w].entity_id);
		}
		got_free(&g);
	}
	/* the callback can stop the fetch */
	got g;
	memset(&g, 0, sizeof g);
	g.stop_after = 10;
	assert_int_equal(hx_store_fetch(s, v[0].trace_id, NULL, collect, &g), HX_OK);
	assert_int_equal(g.ev.n, 10);
	got_free(&g);
	free(v);
	hx_store_close(s);
}

static uint64_t name_count(hx_store *s, int kind, const char *name)
{
	hx_name_list l;
	assert_int_equal(hx_store_names(s, kind, &l), HX_OK);
	uint64_t c = 0;
	for (size_t i = 0; i < l.n; i++)
		if (!strcmp(l.v[i].name, name)) {
			assert_int_equal(l.v[i].kind, kind);
			c = l.v[i].count;
		}
	hx_store_names_free(&l);
	return c;
}

static void test_names_and_remove(void **state)
{
	fx *f = *state;
	hx_store *s = open_store(f, NULL);
	char svc[64], blk[64], pt[64], ent[64];
	snprintf(svc, sizeof svc, "svc-%016llx", (unsigned long long)f->salt);
	snprintf(blk, sizeof blk, "blk-%016llx", (unsigned long long)f->salt);
	snprintf(pt, sizeof pt, "pt-%016llx", (unsigned long long)f->salt);
	snprintf(ent, sizeof ent, "ent-%016llx", (unsigned long long)f->salt);
	hx_store_proc p = proc_make(1, "h", svc);
	uint8_t tr[3][16];
	for (int i = 0; i < 3; i++) {
		tid_make(f, 50 + (uint64_t)i, tr[i]);
		uint64_t e = eid_make(f, 50 + (uint64_t)i);
		hx_event v[5] = {ev_make(HX_EV_ENTITY_BEGIN, T0, e, 0, tr[i], ent),
		                 ev_make(HX_EV_BLOCK_BEGIN, T0 + 1, e, 1, tr[i], blk),
		                 ev_make(HX_EV_POINT, T0 + 2, e, 2, tr[i], pt),
		                 ev_make(HX_EV_POINT, T0 + 3, e, 3, tr[i], pt),
		                 ev_make(HX_EV_BLOCK_END, T0 + 4, e, 4, tr[i], "")};
		append_ok(s, &p, v, 5, 5, 0);
		commit_ok(s);
	}
	assert_int_equal(name_count(s, 0, svc), 3);
	assert_int_equal(name_count(s, HX_EV_BLOCK_BEGIN, blk), 3);
	assert_int_equal(name_count(s, HX_EV_POINT, pt), 6);
	assert_int_equal(name_count(s, HX_EV_ENTITY_BEGIN, ent), 3);
	hx_name_list l;
	assert_int_equal(hx_store_names(s, 12345, &l), HX_EINVAL);
	hx_store_info before, after;
	assert_int_equal(hx_store_info_get(s, &before), HX_OK);
	/* remove one trace */
	assert_int_equal(hx_store_remove(s, tr[1]), HX_OK);
	got g;
	assert_int_equal(fetch(s, tr[1], NULL, &g), HX_ENOENT);
	got_free(&g);
	assert_int_equal(hx_store_remove(s, tr[1]), HX_ENOENT);
	assert_int_equal(name_count(s, 0, svc), 2);
	assert_int_equal(name_count(s, HX_EV_POINT, pt), 4);
	assert_int_equal(hx_store_info_get(s, &after), HX_OK);
	assert_int_equal(after.traces, before.traces - 1);
	assert_int_equal(after.events, before.events - 5);
	hx_store_query q;
	memset(&q, 0, sizeof q);
	q.service = svc;
	hx_store_result r;
	assert_int_equal(hx_store_search(s, &q, &r), HX_OK);
	assert_int_equal(r.n, 2);
	hx_store_result_free(&r);
	assert_int_equal(fetch(s, tr[0], NULL, &g), HX_OK);
	assert_int_equal(g.ev.n, 5);
	got_free(&g);
	hx_store_close(s);
}

static void test_reopen(void **state)
{
	fx *f = *state;
	hx_store *s = open_store(f, NULL);
	hx_store_proc p = proc_make(3, "h", "svc");
	hx_event *v[5];
	size_t n[5];
	for (int i = 0; i < 5; i++) {
		n[i] = trace_make(f, 60 + (uint64_t)i, T0 + (uint64_t)i * 1000000, 2, 150, 1000, &v[i]);
		append_ok(s, &p, v[i], n[i], n[i], 0);
	}
	/* close commits */
	hx_store_info a, b;
	hx_store_close(s);
	s = open_store(f, NULL);
	assert_int_equal(hx_store_info_get(s, &a), HX_OK);
	for (int round = 0; round < 2; round++) {
		for (int i = 0; i < 5; i++) {
			got g;
			assert_int_equal(fetch(s, v[i][0].trace_id, NULL, &g), HX_OK);
			assert_int_equal(g.ev.n, n[i]);
			got_free(&g);
		}
		hx_store_close(s);
		s = open_store(f, NULL);
	}
	assert_int_equal(hx_store_info_get(s, &b), HX_OK);
	assert_int_equal(a.events, b.events);
	assert_int_equal(a.traces, b.traces);
	/* a second open of the same directory is refused while the first holds it */
	if (f->local) {
		hx_store *s2 = NULL;
		assert_int_equal(hx_store_open(&s2, f->url, NULL), HX_ESTATE);
		assert_null(s2);
	}
	for (int i = 0; i < 5; i++)
		free(v[i]);
	hx_store_close(s);
}

static void test_memory_limit(void **state)
{
	fx *f = *state;
	hx_store_config cfg;
	memset(&cfg, 0, sizeof cfg);
	cfg.memory_limit = 64 << 10; /* far below the data: appends write out as they go */
	hx_store *s = open_store(f, &cfg);
	hx_store_proc p = proc_make(4, "h", "svc");
	hx_event *v;
	size_t n = trace_make(f, 70, T0, 4, 2500, 10, &v);
	for (size_t i = 0; i < n; i += 1000)
		append_ok(s, &p, v + i, n - i < 1000 ? n - i : 1000, n - i < 1000 ? n - i : 1000, 0);
	commit_ok(s);
	got g;
	assert_int_equal(fetch(s, v[0].trace_id, NULL, &g), HX_OK);
	assert_int_equal(g.ev.n, n);
	assert_sorted(&g);
	got_free(&g);
	free(v);
	hx_store_close(s);
}

/* Events at the limits: 32 attributes of 64 KiB each; one byte more is refused. */
static void test_big_events(void **state)
{
	fx *f = *state;
	hx_store *s = open_store(f, NULL);
	enum { NEV = 5, NA = HX_ATTR_MAX, VAL = 64 << 10 };
	uint8_t *blob = hxt_xmalloc((size_t)NEV * NA * VAL + 1);
	for (size_t i = 0; i < (size_t)NEV * NA * VAL + 1; i++)
		blob[i] = (uint8_t)(i * 2654435761u >> 13);
	uint8_t tr[16];
	tid_make(f, 900, tr);
	uint64_t e = eid_make(f, 900);
	hx_attr at[NEV][NA];
	hx_event v[NEV];
	for (int i = 0; i < NEV; i++) {
		for (int k = 0; k < NA; k++)
			at[i][k] = HX_BYTES("k", blob + ((size_t)i * NA + (size_t)k) * VAL, VAL);
		v[i] = ev_make(HX_EV_POINT, T0 + (uint64_t)i, e, (uint64_t)i, tr, "big");
		v[i].attrs = at[i];
		v[i].nattrs = NA;
	}
	hx_store_proc p = proc_make(11, "h", "svc");
	append_ok(s, &p, v, NEV, NEV, 0);
	commit_ok(s);
	got g;
	assert_int_equal(fetch(s, tr, NULL, &g), HX_OK);
	assert_int_equal(g.ev.n, NEV);
	for (int i = 0; i < NEV; i++)
		hxt_assert_same_event(&v[i], &g.ev.v[i].ev);
	got_free(&g);
	hx_attr over = HX_BYTES("k", blob, VAL + 1);
	hx_event ov = ev_make(HX_EV_POINT, T0, e, 100, tr, "big");
	ov.attrs = &over;
	ov.nattrs = 1;
	assert_int_equal(hx_store_append(s, &p, &ov, 1, NULL, NULL), HX_EINVAL);
	free(blob);
	hx_store_close(s);
}

static char *store_dir(fx *f)
{
	return f->url + 6;
}

static void test_retention_size(void **state)
{
	fx *f = *state;
	LOCAL_ONLY(f);
	hx_store_config cfg;
	memset(&cfg, 0, sizeof cfg);
	cfg.max_bytes = 1 << 20;
	hx_store *s = open_store(f, &cfg);
	hx_store_proc p = proc_make(5, "h", "svc");
	/* incompressible attributes, so that size grows fast */
	enum { NT = 60, PER = 100, JUNK = 256 };
	static char junk[NT][PER][JUNK];
	for (int t = 0; t < NT; t++)
		for (int i = 0; i < PER; i++)
			for (int k = 0; k < JUNK; k++)
				junk[t][i][k] = (char)rnd();
	for (int t = 0; t < NT; t++) {
		uint8_t tr[16];
		tid_make(f, 300 + (uint64_t)t, tr);
		hx_event v[PER];
		hx_attr at[PER];
		uint64_t e = eid_make(f, 300 + (uint64_t)t);
		for (int i = 0; i < PER; i++) {
			at[i] = HX_BYTES("junk", junk[t][i], JUNK);
			v[i] = ev_make(HX_EV_POINT, T0 + (uint64_t)t * 1000000 + (uint64_t)i, e, (uint64_t)i, tr, "p");
			v[i].attrs = &at[i];
			v[i].nattrs = 1;
		}
		append_ok(s, &p, v, PER, PER, 0);
		commit_ok(s);
	}
	hx_store_info info;
	assert_int_equal(hx_store_info_get(s, &info), HX_OK);
	assert_true(info.bytes > cfg.max_bytes);
	assert_int_equal(hx_store_retain(s, T0), HX_OK);
	hx_store_info after;
	assert_int_equal(hx_store_info_get(s, &after), HX_OK);
	/* within the limit plus the segment that is kept */
	assert_true(after.bytes <= cfg.max_bytes + (cfg.max_bytes / 8) + (64 << 10));
	assert_true(after.traces < NT);
	assert_true(after.traces > 0);
	/* oldest gone, newest there; whatever search lists can be fetched whole */
	uint8_t tr[16];
	got g;
	tid_make(f, 300, tr);
	assert_int_equal(fetch(s, tr, NULL, &g), HX_ENOENT);
	got_free(&g);
	tid_make(f, 300 + NT - 1, tr);
	assert_int_equal(fetch(s, tr, NULL, &g), HX_OK);
	assert_int_equal(g.ev.n, PER);
	got_free(&g);
	hx_store_query q;
	memset(&q, 0, sizeof q);
	q.limit = 1000;
	hx_store_result r;
	assert_int_equal(hx_store_search(s, &q, &r), HX_OK);
	assert_int_equal(r.n, after.traces);
	for (size_t i = 0; i < r.n; i++) {
		assert_int_equal(fetch(s, r.traces[i].trace_id, NULL, &g), HX_OK);
		assert_int_equal(g.ev.n, PER);
		got_free(&g);
	}
	hx_store_result_free(&r);
	/* appends go on after retention */
	hx_event v1 = ev_make(HX_EV_POINT, T0, eid_make(f, 999), 0, tr, "p");
	tid_make(f, 999, v1.trace_id);
	append_ok(s, &p, &v1, 1, 1, 0);
	commit_ok(s);
	hx_store_close(s);
	(void)store_dir;
}

static void test_retention_age(void **state)
{
	fx *f = *state;
	LOCAL_ONLY(f);
	hx_store_config cfg;
	memset(&cfg, 0, sizeof cfg);
	cfg.max_bytes = 64ull << 20;   /* segments of 8 MiB: fill a few with old data */
	cfg.max_age_ns = 3600ull * 1000000000ull;
	hx_store *s = open_store(f, &cfg);
	hx_store_proc p = proc_make(6, "h", "svc");
	const uint64_t old_t = T0, new_t = T0 + 10 * 3600ull * 1000000000ull;
	enum { PER = 2300, VAL = 4096 };
	uint64_t *junk = hxt_xmalloc((size_t)PER * VAL);
	/* 3 old traces of ~9 MiB each (incompressible bytes): each fills a segment */
	for (int t = 0; t < 3; t++) {
		uint8_t tr[16];
		tid_make(f, 400 + (uint64_t)t, tr);
		uint64_t e = eid_make(f, 400 + (uint64_t)t);
		hx_event *v = hxt_xmalloc(PER * sizeof *v);
		hx_attr *at = hxt_xmalloc(PER * sizeof *at);
		for (size_t k = 0; k < (size_t)PER * VAL / 8; k++)
			junk[k] = rnd(); /* incompressible, different in every event */
		for (int i = 0; i < PER; i++) {
			at[i] = HX_BYTES("b", (const char *)junk + (size_t)i * VAL, VAL);
			v[i] = ev_make(HX_EV_POINT, old_t + (uint64_t)t * 1000 + (uint64_t)i, e, (uint64_t)i, tr, "p");
			v[i].attrs = &at[i];
			v[i].nattrs = 1;
		}
		append_ok(s, &p, v, PER, PER, 0);
		commit_ok(s);
		free(v);
		free(at);
	}
	free(junk);
	uint8_t fresh[16];
	tid_make(f, 410, fresh);
	hx_event nv = ev_make(HX_EV_POINT, new_t, eid_make(f, 410), 0, fresh, "p");
	append_ok(s, &p, &nv, 1, 1, 0);
	commit_ok(s);
	assert_int_equal(hx_store_retain(s, new_t + 1), HX_OK);
	got g;
	uint8_t tr[16];
	tid_make(f, 400, tr);
	assert_int_equal(fetch(s, tr, NULL, &g), HX_ENOENT);
	got_free(&g);
	assert_int_equal(fetch(s, fresh, NULL, &g), HX_OK);
	assert_int_equal(g.ev.n, 1);
	got_free(&g);
	hx_store_info info;
	assert_int_equal(hx_store_info_get(s, &info), HX_OK);
	assert_true(info.bytes < 20ull << 20);
	hx_store_close(s);
}

/* ---- crash consistency ---- */

enum { CRASH_ROUNDS = 20, CRASH_PER = 200 };

static void crash_child(fx *f, int round, int wfd)
{
	hx_store *s = NULL;
	if (hx_store_open(&s, f->url, NULL) != HX_OK)
		_exit(2);
	hx_store_proc p = proc_make(7, "h", "svc");
	for (uint64_t b = 0;; b++) {
		hx_event *v;
		size_t n = trace_make(f, 100000 + (uint64_t)round * 10000 + b, T0 + b * 1000, 2, CRASH_PER / 2, 10, &v);
		size_t stored, dup;
		if (hx_store_append(s, &p, v, n, &stored, &dup) != HX_OK || stored != n)
			_exit(3);
		free(v);
		if (hx_store_commit(s) != HX_OK)
			_exit(4);
		uint64_t done = b + 1;
		if (write(wfd, &done, sizeof done) != sizeof done)
			_exit(5);
	}
}

static void test_crash(void **state)
{
	fx *f = *state;
	LOCAL_ONLY(f);
	uint64_t committed[CRASH_ROUNDS];
	for (int round = 0; round < CRASH_ROUNDS; round++) {
		int pfd[2];
		assert_int_equal(pipe(pfd), 0);
		pid_t pid = fork();
		assert_true(pid >= 0);
		if (pid == 0) {
			close(pfd[0]);
			crash_child(f, round, pfd[1]);
		}
		close(pfd[1]);
		/* let it run a random while, then SIGKILL */
		struct timespec ts = {0, (long)(20000000 + rnd() % (HXT_SANITIZED ? 300000000 : 150000000))};
		nanosleep(&ts, NULL);
		kill(pid, SIGKILL);
		int st;
		waitpid(pid, &st, 0);
		if (!WIFSIGNALED(st))
			fail_msg("child exited with %d before the kill", WEXITSTATUS(st));
		uint64_t done = 0, x;
		while (read(pfd[0], &x, sizeof x) == sizeof x)
			done = x;
		close(pfd[0]);
		committed[round] = done;
		/* everything committed is there; the store opens cleanly */
		hx_store *s = NULL;
		int rc = hx_store_open(&s, f->url, NULL);
		if (rc != HX_OK)
			fail_msg("reopen after kill: %s: %s", hx_strerror(rc), hx_store_errmsg());
		for (int r = 0; r <= round; r++) {
			for (uint64_t b = 0; b < committed[r] + (r == round ? 1 : 0); b++) {
				uint8_t tr[16];
				tid_make(f, 100000 + (uint64_t)r * 10000 + b, tr);
				got g;
				rc = fetch(s, tr, NULL, &g);
				if (b < committed[r]) {
					if (rc != HX_OK || g.ev.n != CRASH_PER)
						fail_msg("round %d batch %llu: rc %d, %zu events", r, (unsigned long long)b, rc,
						         g.ev.n);
				} else {
					/* the batch in flight: all or nothing */
					assert_true((rc == HX_ENOENT && g.ev.n == 0) || (rc == HX_OK && g.ev.n == CRASH_PER));
				}
				got_free(&g);
			}
		}
		hx_store_close(s);
	}
	uint64_t total = 0;
	for (int r = 0; r < CRASH_ROUNDS; r++)
		total += committed[r];
	assert_true(total > 0);
}

/* ---- disk full ---- */

static void test_enospc(void **state)
{
	fx *f = *state;
	LOCAL_ONLY(f);
	/* write 1 is the first segment's header, 2 the first block; 3 and 4 fail */
	setenv("HX_STORE_FAULT", "enospc_after:3,for:2", 1);
	hx_store *s = open_store(f, NULL);
	unsetenv("HX_STORE_FAULT");
	hx_store_proc p = proc_make(8, "h", "svc");
	hx_event *v[5];
	size_t n[5];
	for (int i = 0; i < 5; i++)
		n[i] = trace_make(f, 500 + (uint64_t)i, T0 + (uint64_t)i, 2, 50, 10, &v[i]);
	append_ok(s, &p, v[0], n[0], n[0], 0);
	commit_ok(s);
	append_ok(s, &p, v[1], n[1], n[1], 0);
	assert_int_equal(hx_store_commit(s), HX_ENOSPC);
	assert_true(strlen(hx_store_errmsg()) > 0);
	/* still full */
	append_ok(s, &p, v[2], n[2], n[2], 0);
	assert_int_equal(hx_store_commit(s), HX_ENOSPC);
	/* space is back: the rejected batches are stored when resent, not taken for duplicates */
	append_ok(s, &p, v[1], n[1], n[1], 0);
	append_ok(s, &p, v[2], n[2], n[2], 0);
	commit_ok(s);
	append_ok(s, &p, v[3], n[3], n[3], 0);
	commit_ok(s);
	hx_store_info info;
	assert_int_equal(hx_store_info_get(s, &info), HX_OK);
	assert_int_equal(info.events, n[0] + n[1] + n[2] + n[3]);
	assert_int_equal(info.duplicates, 0);
	hx_store_close(s);
	s = open_store(f, NULL);
	for (int i = 0; i < 4; i++) {
		got g;
		assert_int_equal(fetch(s, v[i][0].trace_id, NULL, &g), HX_OK);
		assert_int_equal(g.ev.n, n[i]);
		got_free(&g);
	}
	got g;
	assert_int_equal(fetch(s, v[4][0].trace_id, NULL, &g), HX_ENOENT);
	got_free(&g);
	for (int i = 0; i < 5; i++)
		free(v[i]);
	hx_store_close(s);
	/* a malformed hook is refused */
	setenv("HX_STORE_FAULT", "enospc_after:x", 1);
	hx_store *s2 = NULL;
	assert_int_equal(hx_store_open(&s2, f->url, NULL), HX_EINVAL);
	unsetenv("HX_STORE_FAULT");
}

/* ---- damaged files ---- */

static int copy_file(const char *from, const char *to)
{
	size_t len;
	uint8_t *d = hxt_slurp(from, &len);
	if (!d)
		return -1;
	FILE *o = fopen(to, "wb");
	int rc = o && fwrite(d, 1, len, o) == len ? 0 : -1;
	if (o)
		fclose(o);
	free(d);
	return rc;
}

static void flip_bytes(const char *path, int count)
{
	int fd = open(path, O_RDWR);
	assert_true(fd >= 0);
	off_t size = lseek(fd, 0, SEEK_END);
	for (int i = 0; i < count && size > 0; i++) {
		off_t at = (off_t)(rnd() % (uint64_t)size);
		uint8_t b;
		assert_int_equal(pread(fd, &b, 1, at), 1);
		b ^= (uint8_t)(1u << (rnd() % 8));
		assert_int_equal(pwrite(fd, &b, 1, at), 1);
	}
	close(fd);
}

static int ignore_event(const hx_event *ev, const hx_store_proc *proc, void *user)
{
	(void)ev;
	(void)proc;
	++*(size_t *)user;
	return 0;
}

/* Everything a reader does, on a store that may be damaged: no crash, only clean results. */
static void exercise(hx_store *s, fx *f, size_t ntraces)
{
	for (size_t t = 0; t < ntraces; t++) {
		uint8_t tr[16];
		tid_make(f, 600 + t, tr);
		size_t n = 0;
		int rc = hx_store_fetch(s, tr, NULL, ignore_event, &n);
		assert_true(rc == HX_OK || rc == HX_EDAMAGED || rc == HX_ENOENT || rc == HX_EIO ||
		            rc == HX_EFORMAT);
	}
	hx_store_query q;
	memset(&q, 0, sizeof q);
	q.limit = 1000;
	hx_store_result r;
	if (hx_store_search(s, &q, &r) == HX_OK)
		hx_store_result_free(&r);
	q.service = "svc";
	q.min_duration_ns = 1;
	if (hx_store_search(s, &q, &r) == HX_OK)
		hx_store_result_free(&r);
	hx_name_list l;
	if (hx_store_names(s, HX_EV_POINT, &l) == HX_OK)
		hx_store_names_free(&l);
	hx_store_info info;
	(void)hx_store_info_get(s, &info);
	hx_store_proc p = proc_make(9, "h", "svc");
	hx_event *v;
	size_t n = trace_make(f, 700, T0, 1, 10, 1, &v);
	size_t stored, dup;
	if (hx_store_append(s, &p, v, n, &stored, &dup) == HX_OK)
		(void)hx_store_commit(s);
	free(v);
}

static void test_damaged_files(void **state)
{
	fx *f = *state;
	LOCAL_ONLY(f);
	const size_t NT = 12;
	hx_store *s = open_store(f, NULL);
	hx_store_proc p = proc_make(9, "h", "svc");
	for (size_t t = 0; t < NT; t++) {
		hx_event *v;
		size_t n = trace_make(f, 600 + t, T0 + t * 1000000, 3, 300, 100, &v);
		append_ok(s, &p, v, n, n, 0);
		commit_ok(s);
		free(v);
	}
	hx_store_close(s);
	char seg[800], idx[800], seg_bak[800], idx_bak[800], wal[800];
	snprintf(seg, sizeof seg, "%s/seg-00000001.hxs", store_dir(f));
	snprintf(idx, sizeof idx, "%s/index.sqlite", store_dir(f));
	snprintf(wal, sizeof wal, "%s/index.sqlite-wal", store_dir(f));
	snprintf(seg_bak, sizeof seg_bak, "%s/seg.bak", f->dir);
	snprintf(idx_bak, sizeof idx_bak, "%s/idx.bak", f->dir);
	assert_int_equal(copy_file(seg, seg_bak), 0);
	assert_int_equal(copy_file(idx, idx_bak), 0);
	const int rounds = HXT_SANITIZED ? 8 : 20;
	size_t damaged_fetches = 0;
	for (int r = 0; r < rounds; r++) {
		assert_int_equal(copy_file(seg_bak, seg), 0);
		assert_int_equal(copy_file(idx_bak, idx), 0);
		unlink(wal);
		/* segment damage: every trace is found, some report damage, none crash */
		flip_bytes(seg, 1 + r % 4);
		s = NULL;
		int rc = hx_store_open(&s, f->url, NULL);
		assert_int_equal(rc, HX_OK);
		for (size_t t = 0; t < NT; t++) {
			uint8_t tr[16];
			tid_make(f, 600 + t, tr);
			size_t n = 0;
			rc = hx_store_fetch(s, tr, NULL, ignore_event, &n);
			assert_true(rc == HX_OK || rc == HX_EDAMAGED);
			if (rc == HX_OK)
				assert_int_equal(n, 900);
			else
				damaged_fetches++;
		}
		exercise(s, f, NT);
		hx_store_close(s);
		/* index damage: open may refuse (HX_EDAMAGED), or work with what is left */
		assert_int_equal(copy_file(seg_bak, seg), 0);
		flip_bytes(idx, 1 + r % 8);
		s = NULL;
		rc = hx_store_open(&s, f->url, NULL);
		assert_true(rc == HX_OK || rc == HX_EDAMAGED || rc == HX_EFORMAT || rc == HX_EIO);
		if (rc == HX_OK) {
			exercise(s, f, NT);
			hx_store_close(s);
		} else {
			assert_null(s);
		}
	}
	assert_true(damaged_fetches > 0);
	/* a truncated segment (damage, not a crash): rows past its end are dropped at open */
	assert_int_equal(copy_file(seg_bak, seg), 0);
	assert_int_equal(copy_file(idx_bak, idx), 0);
	unlink(wal);
	size_t len = 0;
	uint8_t *d = hxt_slurp(seg, &len);
	assert_non_null(d);
	free(d);
	assert_int_equal(truncate(seg, (off_t)(len / 2)), 0);
	s = open_store(f, NULL);
	size_t ok = 0;
	for (size_t t = 0; t < NT; t++) {
		uint8_t tr[16];
		tid_make(f, 600 + t, tr);
		size_t n = 0;
		int rc = hx_store_fetch(s, tr, NULL, ignore_event, &n);
		assert_true(rc == HX_OK || rc == HX_ENOENT);
		ok += rc == HX_OK;
	}
	assert_true(ok > 0 && ok < NT);
	hx_store_close(s);
}

/* ---- queries while the writer appends ---- */

typedef struct reader_arg {
	hx_store *s;
	fx *f;
	int stop;                /* atomic */
	size_t queries, errors;  /* atomic */
} reader_arg;

static void *reader_main(void *p)
{
	reader_arg *a = p;
	while (!__atomic_load_n(&a->stop, __ATOMIC_RELAXED)) {
		hx_store_query q;
		memset(&q, 0, sizeof q);
		q.limit = 50;
		hx_store_result r;
		if (hx_store_search(a->s, &q, &r) != HX_OK) {
			__atomic_fetch_add(&a->errors, 1, __ATOMIC_RELAXED);
			continue;
		}
		for (size_t i = 0; i < r.n; i++) {
			size_t n = 0;
			if (hx_store_fetch(a->s, r.traces[i].trace_id, NULL, ignore_event, &n) != HX_OK || n == 0)
				__atomic_fetch_add(&a->errors, 1, __ATOMIC_RELAXED);
		}
		hx_store_result_free(&r);
		hx_name_list l;
		if (hx_store_names(a->s, HX_EV_POINT, &l) == HX_OK)
			hx_store_names_free(&l);
		else
			__atomic_fetch_add(&a->errors, 1, __ATOMIC_RELAXED);
		hx_store_info info;
		if (hx_store_info_get(a->s, &info) != HX_OK)
			__atomic_fetch_add(&a->errors, 1, __ATOMIC_RELAXED);
		__atomic_fetch_add(&a->queries, 1, __ATOMIC_RELAXED);
	}
	return NULL;
}

static void test_concurrent_reads(void **state)
{
	fx *f = *state;
	hx_store *s = open_store(f, NULL);
	hx_store_info info;
	assert_int_equal(hx_store_info_get(s, &info), HX_OK);
	if (!info.concurrent_reads) {
		hx_store_close(s);
		skip();
	}
	hx_store_proc p = proc_make(10, "h", "svc");
	reader_arg a = {.s = s, .f = f};
	pthread_t th[2];
	for (int i = 0; i < 2; i++)
		assert_int_equal(pthread_create(&th[i], NULL, reader_main, &a), 0);
	for (uint64_t t = 0; t < 60; t++) {
		hx_event *v;
		size_t n = trace_make(f, 800 + t, T0 + t * 1000000, 2, 100, 10, &v);
		append_ok(s, &p, v, n, n, 0);
		commit_ok(s);
		free(v);
	}
	__atomic_store_n(&a.stop, 1, __ATOMIC_RELAXED);
	for (int i = 0; i < 2; i++)
		pthread_join(th[i], NULL);
	assert_int_equal(a.errors, 0);
	assert_true(a.queries > 0);
	hx_store_close(s);
}

static void test_urls(void **state)
{
	fx *f = *state;
	hx_store *s = NULL;
	assert_int_equal(hx_store_open(&s, "clickhouse://localhost:9000/hx", NULL), HX_EINVAL);
	assert_non_null(strstr(hx_store_errmsg(), "ClickHouse"));
	assert_int_equal(hx_store_open(&s, "ftp://x", NULL), HX_EINVAL);
	assert_int_equal(hx_store_open(&s, "local:", NULL), HX_EINVAL);
	assert_int_equal(hx_store_open(&s, NULL, NULL), HX_EINVAL);
	assert_null(s);
	if (f->local) {
		/* a plain path, and cfg->dir with no URL */
		char dir[700];
		snprintf(dir, sizeof dir, "%s/plain/deeper", f->dir);
		assert_int_equal(hx_store_open(&s, dir, NULL), HX_OK);
		hx_store_info info;
		assert_int_equal(hx_store_info_get(s, &info), HX_OK);
		assert_string_equal(info.backend, "local");
		assert_true(info.concurrent_reads);
		hx_store_close(s);
		hx_store_config cfg;
		memset(&cfg, 0, sizeof cfg);
		cfg.dir = dir;
		assert_int_equal(hx_store_open(&s, NULL, &cfg), HX_OK);
		hx_store_close(s);
	}
	hx_store_close(NULL);
	hx_store_result_free(NULL);
	hx_store_names_free(NULL);
}

int main(void)
{
	rnd_state ^= (uint64_t)time(NULL) * 0x9e3779b97f4a7c15ull ^ (uint64_t)getpid();
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_urls, setup, teardown),
		cmocka_unit_test_setup_teardown(test_roundtrip_every_kind, setup, teardown),
		cmocka_unit_test_setup_teardown(test_out_of_order, setup, teardown),
		cmocka_unit_test_setup_teardown(test_duplicates, setup, teardown),
		cmocka_unit_test_setup_teardown(test_late_summaries, setup, teardown),
		cmocka_unit_test_setup_teardown(test_search, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fetch_windows, setup, teardown),
		cmocka_unit_test_setup_teardown(test_names_and_remove, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reopen, setup, teardown),
		cmocka_unit_test_setup_teardown(test_memory_limit, setup, teardown),
		cmocka_unit_test_setup_teardown(test_big_events, setup, teardown),
		cmocka_unit_test_setup_teardown(test_retention_size, setup, teardown),
		cmocka_unit_test_setup_teardown(test_retention_age, setup, teardown),
		cmocka_unit_test_setup_teardown(test_concurrent_reads, setup, teardown),
		cmocka_unit_test_setup_teardown(test_crash, setup, teardown),
		cmocka_unit_test_setup_teardown(test_enospc, setup, teardown),
		cmocka_unit_test_setup_teardown(test_damaged_files, setup, teardown),
	};
	return cmocka_run_group_tests_name("store_conformance", tests, NULL, NULL);
}
