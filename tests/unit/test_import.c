/*
 * test_import.c - importing OTLP/JSON and Zipkin v2 JSON (src/import/import.h): the mapping
 * (blocks on lanes that always nest, request/reply, fork/join, publish, links, external causes,
 * points, errors, TRACE_BEGIN), the IDs (deterministic, distinct across documents), attribute
 * types and spilling, every repair and rejection with its count and message, document errors
 * with their place, the limits, gzip, the trace file written from the result, and the round trip
 * Haruspex events -> hx export (otlp, zipkin) -> import -> the same blocks, names, nesting, times,
 * attributes and causes.
 *
 * Every import result also goes through check_result(): per entity dense sequence numbers from 0,
 * ENTITY_BEGIN first, times that never go back, balanced blocks that nest; and the trace DAG built
 * from it has no issue (no unbalanced block, duplicate, reversed edge or cycle) and no dangling
 * cause: every cause is in the result or marked external.
 */
#include "../hxtest.h"

#include "analysis/critpath.h"
#include "export/export.h"
#include "format/filewrite.h"
#include "import/import.h"
#include "model/dag.h"

#include <setjmp.h>
#include <cmocka.h>
#include <zlib.h>

#include "../hxtest_cmp.h"

#define T0 1714000000000000000ull
#define MS 1000000ull

/* ---- running an import ---- */

static hx__import *import_doc(const char *doc, hx__import_format fmt)
{
	hx__import *im;
	char err[512];
	assert_int_equal(hx__import_new(&im, NULL), HX_OK);
	int rc = hx__import_add(im, doc, strlen(doc), fmt, HX__IMPORT_SEQUENCE, err, sizeof(err));
	if (rc != HX_OK)
		fprintf(stderr, "import failed: %s\n", err);
	assert_int_equal(rc, HX_OK);
	assert_int_equal(hx__import_finish(im), HX_OK);
	return im;
}

static int collect(const hx_event *ev, void *user)
{
	hxt_events_push(user, ev);
	return 0;
}

/* Every event of the result, process by process (e->process = the process index). */
static void all_events(const hx__import *im, hxt_events *out)
{
	for (size_t i = 0; i < hx__import_nprocs(im); i++) {
		size_t before = out->n;
		assert_int_equal(hx__import_events(im, i, collect, out), HX_OK);
		for (size_t k = before; k < out->n; k++) {
			out->v[k].process = i;
			if (k > before) /* each process's events in time order */
				assert_true(out->v[k - 1].ev.time_ns <= out->v[k].ev.time_ns);
		}
	}
}

static hx__dag *dag_of(const hx__import *im)
{
	hx__dag_builder *b;
	hx__dag *d;
	assert_int_equal(hx__dag_builder_new(&b, NULL, 0), HX_OK);
	for (size_t i = 0; i < hx__import_nprocs(im); i++) {
		const hx__import_proc *p = hx__import_proc_get(im, i);
		assert_int_equal(hx__dag_builder_process(b, (uint32_t)i, p->host, p->program, p->pid), HX_OK);
	}
	hxt_events evs = {0};
	all_events(im, &evs);
	for (size_t k = 0; k < evs.n; k++)
		assert_int_equal(hx__dag_builder_add(b, &evs.v[k].ev, (uint32_t)evs.v[k].process), HX_OK);
	hxt_events_free(&evs);
	assert_int_equal(hx__dag_builder_finish(b, &d), HX_OK);
	return d;
}

/* The invariants of every result (see the top). */
static void check_result(const hx__import *im)
{
	hxt_events evs = {0};
	all_events(im, &evs);
	size_t nent = 0;
	assert_int_equal(hxt_check_entities(&evs, 1, 0, UINT64_MAX, &nent), 0);
	assert_int_equal(nent, hx__import_get_stats(im)->entities);
	/* sorted by entity and seq now: blocks balance and nest, ENTITY_END last */
	int depth = 0;
	for (size_t i = 0; i < evs.n; i++) {
		const hx_event *e = &evs.v[i].ev;
		int last = i + 1 == evs.n || evs.v[i + 1].ev.entity_id != e->entity_id;
		if (e->kind == HX_EV_BLOCK_BEGIN)
			depth++;
		if (e->kind == HX_EV_BLOCK_END)
			assert_true(--depth >= 0);
		if (last) {
			assert_int_equal(e->kind, HX_EV_ENTITY_END);
			assert_int_equal(depth, 0);
		}
	}
	hxt_events_free(&evs);
	hx__dag *d = dag_of(im);
	const hx__dag_report *r = &d->report;
	for (int k = 0; k < HX__DAG_ISSUE__MAX; k++) {
		if (r->count[k])
			fprintf(stderr, "dag issue %d: %llu\n", k, (unsigned long long)r->count[k]);
		assert_int_equal(r->count[k], 0);
	}
	assert_int_equal(r->linked + r->external, r->causes);
	hx__dag_free(d);
}

static const hxt_event *find_name(const hxt_events *a, hx_event_kind kind, const char *name, int nth)
{
	for (size_t i = 0; i < a->n; i++)
		if (a->v[i].ev.kind == kind && !strcmp(a->v[i].ev.name, name) && nth-- == 0)
			return &a->v[i];
	return NULL;
}

static const hx_attr *attr(const hx_event *e, const char *key)
{
	for (size_t i = 0; i < e->nattrs; i++)
		if (!strcmp(e->attrs[i].key, key))
			return &e->attrs[i];
	return NULL;
}

static const hxt_event *find_ia(const hxt_events *a, hx_event_kind kind, hx_interaction ia, int nth)
{
	for (size_t i = 0; i < a->n; i++)
		if (a->v[i].ev.kind == kind && a->v[i].ev.interaction == ia && nth-- == 0)
			return &a->v[i];
	return NULL;
}

/* The event a cause context names, in the result. */
static const hxt_event *cause_of(const hxt_events *a, const hx_event *effect)
{
	assert_int_equal(effect->ncauses, 1);
	assert_true(effect->causes[0].flags & HX_CTX_VALID);
	return hxt_find(a, effect->causes[0].entity_id, effect->causes[0].seq);
}

/* ---- documents ---- */

#define TRACE_A "4bf92f3577b34da6a3ce929d0e0e4736"
#define TRACE_B "5b8efff798038103d269b633813fc60c"

static char *fmt_doc(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *fmt_doc(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *s = NULL;
	assert_true(vasprintf(&s, fmt, ap) >= 0);
	va_end(ap);
	return s;
}

/* A span as OTLP JSON: times in ms after T0, extra members (kind, attributes ...) verbatim. */
static char *otlp_span(const char *trace, const char *id, const char *parent, const char *name,
                       int start_ms, int end_ms, const char *extra)
{
	return fmt_doc("{\"traceId\":\"%s\",\"spanId\":\"%s\",\"parentSpanId\":\"%s\",\"name\":\"%s\","
	               "\"startTimeUnixNano\":\"%llu\",\"endTimeUnixNano\":\"%llu\"%s%s}",
	               trace, id, parent, name, T0 + (unsigned long long)start_ms * MS,
	               T0 + (unsigned long long)end_ms * MS, extra ? "," : "", extra ? extra : "");
}

/* resourceSpans entry of service `svc` holding the spans (each freed) */
static char *otlp_res(const char *svc, int n, char **spans)
{
	hx__buf b = HX__BUF_INIT;
	hx__buf_printf(&b, "{\"resource\":{\"attributes\":[{\"key\":\"service.name\",\"value\":"
	                   "{\"stringValue\":\"%s\"}},{\"key\":\"host.name\",\"value\":{\"stringValue\":"
	                   "\"host-%s\"}},{\"key\":\"process.pid\",\"value\":{\"intValue\":\"42\"}}]},"
	                   "\"scopeSpans\":[{\"scope\":{\"name\":\"test\"},\"spans\":[", svc, svc);
	for (int i = 0; i < n; i++) {
		hx__buf_printf(&b, "%s%s", i ? "," : "", spans[i]);
		free(spans[i]);
	}
	hx__buf_puts(&b, "]}]}");
	return b.p;
}

static char *otlp_doc(int n, char **res)
{
	hx__buf b = HX__BUF_INIT;
	hx__buf_puts(&b, "{\"resourceSpans\":[");
	for (int i = 0; i < n; i++) {
		hx__buf_printf(&b, "%s%s", i ? "," : "", res[i]);
		free(res[i]);
	}
	hx__buf_puts(&b, "]}");
	return b.p;
}

/* ---- the mapping ---- */

/* A server span with a nested internal span and a client call to another service, whose server
 * span ends before the client: request and reply, TRACE_BEGIN on the root, one entity each. */
static void test_request_reply(void **state)
{
	char *front[] = {
		otlp_span(TRACE_A, "00f067aa0ba902b7", "", "GET /cart", 0, 50, "\"kind\":2"),
		otlp_span(TRACE_A, "00f067aa0ba902b8", "00f067aa0ba902b7", "render", 1, 5, "\"kind\":1"),
		otlp_span(TRACE_A, "00f067aa0ba902b9", "00f067aa0ba902b7", "call cart", 10, 40, "\"kind\":3"),
	};
	char *cart[] = {otlp_span(TRACE_A, "1111111111111111", "00f067aa0ba902b9", "GetCart", 12, 38,
	                          "\"kind\":\"SPAN_KIND_SERVER\"")};
	char *res[] = {otlp_res("frontend", 3, front), otlp_res("cart", 1, cart)};
	char *doc = otlp_doc(2, res);
	hx__import *im = import_doc(doc, HX__IMPORT_AUTO);
	free(doc);
	check_result(im);
	const hx__import_stats *st = hx__import_get_stats(im);
	assert_int_equal(st->spans, 4);
	assert_int_equal(st->rejected, 0);
	assert_int_equal(st->traces, 1);
	assert_int_equal(st->entities, 2);
	assert_int_equal(st->processes, 2);
	for (int k = 0; k < HX__IMPORT_WARN__MAX; k++)
		assert_int_equal(st->warn[k], 0);
	const hx__import_proc *p0 = hx__import_proc_get(im, 0);
	assert_string_equal(p0->service, "frontend");
	assert_string_equal(p0->host, "host-frontend");
	assert_int_equal(p0->pid, 42);

	hxt_events evs = {0};
	all_events(im, &evs);
	const hxt_event *tb = find_name(&evs, HX_EV_TRACE_BEGIN, "GET /cart", 0);
	assert_non_null(tb);
	uint8_t want[16];
	const char *hex = TRACE_A;
	for (int i = 0; i < 16; i++)
		sscanf(hex + 2 * i, "%2hhx", &want[i]);
	assert_memory_equal(tb->ev.trace_id, want, 16);
	const hxt_event *render = find_name(&evs, HX_EV_BLOCK_BEGIN, "render", 0);
	const hxt_event *call = find_name(&evs, HX_EV_BLOCK_BEGIN, "call cart", 0);
	const hxt_event *root = find_name(&evs, HX_EV_BLOCK_BEGIN, "GET /cart", 0);
	const hxt_event *server = find_name(&evs, HX_EV_BLOCK_BEGIN, "GetCart", 0);
	assert_true(render && call && root && server);
	/* nested on one entity, in order */
	assert_int_equal(render->ev.entity_id, root->ev.entity_id);
	assert_int_equal(call->ev.entity_id, root->ev.entity_id);
	assert_true(root->ev.seq < render->ev.seq && render->ev.seq < call->ev.seq);
	assert_int_equal(root->ev.time_ns, T0);
	assert_int_equal(server->ev.time_ns, T0 + 12 * MS);
	assert_string_equal(attr(&server->ev, "span.kind")->v.s.ptr, "server");
	assert_string_equal(attr(&call->ev, "otel.scope.name")->v.s.ptr, "test");
	/* request: an effect right before the server's block, naming a cause in the client block */
	const hxt_event *req = hxt_find(&evs, server->ev.entity_id, server->ev.seq - 1);
	assert_int_equal(req->ev.kind, HX_EV_EFFECT);
	assert_int_equal(req->ev.interaction, HX_IA_REQUEST);
	const hxt_event *c = cause_of(&evs, &req->ev);
	assert_non_null(c);
	assert_int_equal(c->ev.kind, HX_EV_CAUSE);
	assert_int_equal(c->ev.entity_id, call->ev.entity_id);
	assert_int_equal(c->ev.seq, call->ev.seq + 1);
	assert_int_equal(c->ev.time_ns, T0 + 12 * MS);
	/* reply: a cause right after the server's end, its effect in the client block at that time */
	const hxt_event *rep = find_ia(&evs, HX_EV_EFFECT, HX_IA_REPLY, 0);
	assert_non_null(rep);
	assert_int_equal(rep->ev.interaction, HX_IA_REPLY);
	assert_int_equal(rep->ev.entity_id, call->ev.entity_id);
	assert_int_equal(rep->ev.time_ns, T0 + 38 * MS);
	const hxt_event *rc = cause_of(&evs, &rep->ev);
	assert_int_equal(rc->ev.kind, HX_EV_CAUSE);
	assert_int_equal(rc->ev.interaction, HX_IA_REPLY);
	assert_int_equal(hxt_find(&evs, rc->ev.entity_id, rc->ev.seq - 1)->ev.kind, HX_EV_BLOCK_END);
	/* entity names say the service; the server's entity began before the request's cause */
	const hxt_event *eb = hxt_find(&evs, server->ev.entity_id, 0);
	assert_string_equal(eb->ev.name, "cart");
	assert_int_equal(eb->ev.time_ns, T0 + 12 * MS - 1);
	assert_int_equal(hxt_find(&evs, root->ev.entity_id, 0)->ev.time_ns, T0);
	hxt_events_free(&evs);

	/* the DAG: one trace named by its root, the blocks nested as the spans */
	hx__dag *d = dag_of(im);
	assert_int_equal(d->ntraces, 1);
	assert_string_equal(hx__dag_str(d, d->traces[0].root_name), "GET /cart");
	assert_int_equal(d->nblocks, 4);
	for (size_t b = 0; b < d->nblocks; b++) {
		const char *n = hx__dag_str(d, d->blocks[b].name);
		uint32_t par = d->blocks[b].parent;
		if (!strcmp(n, "render") || !strcmp(n, "call cart"))
			assert_string_equal(hx__dag_str(d, d->blocks[par].name), "GET /cart");
		else
			assert_int_equal(par, HX__DAG_NONE);
	}
	/* the critical path runs from the client into the server and back, with nothing left
	 * unexplained: each entity begins before what woke it (a nanosecond before the cause) */
	hx__critpath cp;
	assert_int_equal(hx__critpath_compute(d, 0, &cp), HX_OK);
	assert_int_equal(cp.end_ns - cp.start_ns, 50 * MS);
	assert_int_equal(cp.by_kind[HX__SEG_UNEXPLAINED], 0);
	int through_server = 0;
	for (size_t i = 0; i < cp.nby_block; i++)
		if (cp.by_block[i].key != HX__DAG_NONE && !strcmp(hx__dag_str(d, cp.by_block[i].key), "GetCart"))
			through_server = cp.by_block[i].ns == 26 * MS;
	assert_true(through_server);
	hx__critpath_free(&cp);
	hx__dag_free(d);
	hx__import_free(im);
}

/* Concurrent siblings of one service go to lanes of their own (fork, and a join when they end
 * inside the parent); a later sibling reuses the first free lane; a span event of the parent
 * inside a child's time keeps that child off the parent's lane. */
static void test_lanes(void **state)
{
	char *spans[] = {
		otlp_span(TRACE_A, "0000000000000001", "", "handle", 0, 100,
		          "\"kind\":2,\"events\":[{\"timeUnixNano\":\"" "1714000000070000000"
		          "\",\"name\":\"tick\"}]"),
		otlp_span(TRACE_A, "0000000000000002", "0000000000000001", "a", 10, 30, NULL),
		otlp_span(TRACE_A, "0000000000000003", "0000000000000001", "b", 15, 40, NULL),
		otlp_span(TRACE_A, "0000000000000004", "0000000000000001", "c", 20, 120, NULL),
		otlp_span(TRACE_A, "0000000000000005", "0000000000000001", "d", 45, 50, NULL),
		otlp_span(TRACE_A, "0000000000000006", "0000000000000001", "e", 60, 80, NULL),
	};
	char *res[] = {otlp_res("svc", 6, spans)};
	char *doc = otlp_doc(1, res);
	hx__import *im = import_doc(doc, HX__IMPORT_OTLP);
	free(doc);
	check_result(im);
	hxt_events evs = {0};
	all_events(im, &evs);
	uint64_t root = find_name(&evs, HX_EV_BLOCK_BEGIN, "handle", 0)->ev.entity_id;
	uint64_t ent[5];
	const char *names[] = {"a", "b", "c", "d", "e"};
	for (int i = 0; i < 5; i++)
		ent[i] = find_name(&evs, HX_EV_BLOCK_BEGIN, names[i], 0)->ev.entity_id;
	assert_int_equal(ent[0], root);   /* a nests */
	assert_true(ent[1] != root && ent[2] != root && ent[1] != ent[2]); /* b, c overlap a */
	assert_int_equal(ent[3], root);   /* d: after a, inside handle */
	assert_int_equal(ent[4], ent[1]); /* e: the tick at 70 is inside it; b's lane is free again */
	assert_int_equal(hx__import_get_stats(im)->entities, 3);
	/* b: fork from handle (moved out of a: before a's begin) and a join back; c ends after
	 * handle: no join */
	const hxt_event *fb = find_name(&evs, HX_EV_EFFECT, "b", 0);
	assert_int_equal(fb->ev.interaction, HX_IA_FORK);
	const hxt_event *cb = cause_of(&evs, &fb->ev);
	assert_int_equal(cb->ev.entity_id, root);
	assert_int_equal(cb->ev.time_ns, T0 + 10 * MS);
	const hxt_event *a_begin = find_name(&evs, HX_EV_BLOCK_BEGIN, "a", 0);
	assert_true(cb->ev.seq < a_begin->ev.seq && cb->ev.time_ns == a_begin->ev.time_ns);
	const hxt_event *jb = find_name(&evs, HX_EV_EFFECT, "b", 1);
	assert_int_equal(jb->ev.interaction, HX_IA_JOIN);
	assert_int_equal(jb->ev.entity_id, root);
	assert_int_equal(jb->ev.time_ns, T0 + 40 * MS);
	assert_null(find_name(&evs, HX_EV_EFFECT, "c", 1));
	/* entity names number the lanes */
	assert_string_equal(hxt_find(&evs, ent[1], 0)->ev.name, "svc #2");
	assert_string_equal(hxt_find(&evs, ent[2], 0)->ev.name, "svc #3");
	assert_int_equal(hxt_find(&evs, ent[1], 0)->ev.entity_kind, HX_ENTITY_TASK);
	hxt_events_free(&evs);
	hx__import_free(im);
}

/* thread.id / thread.name: an entity per thread, a thread entity with its tid; a span without
 * thread attributes runs on its parent's thread. */
static void test_threads(void **state)
{
	char *spans[] = {
		otlp_span(TRACE_A, "0000000000000001", "", "job", 0, 100,
		          "\"attributes\":[{\"key\":\"thread.id\",\"value\":{\"intValue\":\"7\"}},"
		          "{\"key\":\"thread.name\",\"value\":{\"stringValue\":\"main\"}}]"),
		otlp_span(TRACE_A, "0000000000000002", "0000000000000001", "step", 10, 20, NULL),
		otlp_span(TRACE_A, "0000000000000003", "0000000000000001", "io", 10, 30,
		          "\"attributes\":[{\"key\":\"thread.id\",\"value\":{\"intValue\":8}}]"),
	};
	char *res[] = {otlp_res("svc", 3, spans)};
	char *doc = otlp_doc(1, res);
	hx__import *im = import_doc(doc, HX__IMPORT_OTLP);
	free(doc);
	check_result(im);
	hxt_events evs = {0};
	all_events(im, &evs);
	const hxt_event *job = find_name(&evs, HX_EV_BLOCK_BEGIN, "job", 0);
	const hxt_event *step = find_name(&evs, HX_EV_BLOCK_BEGIN, "step", 0);
	const hxt_event *io = find_name(&evs, HX_EV_BLOCK_BEGIN, "io", 0);
	assert_int_equal(step->ev.entity_id, job->ev.entity_id);
	assert_true(io->ev.entity_id != job->ev.entity_id);
	const hx_event *eb = &hxt_find(&evs, job->ev.entity_id, 0)->ev;
	assert_string_equal(eb->name, "svc main");
	assert_int_equal(eb->entity_kind, HX_ENTITY_THREAD);
	assert_int_equal(eb->tid, 7);
	eb = &hxt_find(&evs, io->ev.entity_id, 0)->ev;
	assert_string_equal(eb->name, "svc thread 8");
	assert_int_equal(eb->tid, 8);
	hxt_events_free(&evs);
	hx__import_free(im);
}

/* Zipkin: 64-bit trace IDs left-padded, microseconds, the shared server half paired with its
 * client (request, reply), annotations as points, the error tag as an ERROR, a consumer. */
static void test_zipkin(void **state)
{
	const char *doc =
		"[{\"traceId\":\"463ac35c9f6413ad\",\"id\":\"463ac35c9f6413ad\",\"kind\":\"SERVER\",\"name\":\"get /\","
		"\"timestamp\":1714000003000000,\"duration\":20000,\"localEndpoint\":{\"serviceName\":\"frontend\","
		"\"ipv4\":\"172.17.0.13\"}},"
		"{\"traceId\":\"463ac35c9f6413ad\",\"parentId\":\"463ac35c9f6413ad\",\"id\":\"a2fb4a1d1a96d312\","
		"\"kind\":\"CLIENT\",\"name\":\"get /api\",\"timestamp\":1714000003002000,\"duration\":15000,"
		"\"localEndpoint\":{\"serviceName\":\"frontend\",\"ipv4\":\"172.17.0.13\"},"
		"\"remoteEndpoint\":{\"serviceName\":\"backend\",\"ipv4\":\"172.17.0.14\",\"port\":9000},"
		"\"annotations\":[{\"timestamp\":1714000003002100,\"value\":\"ws\"}],"
		"\"tags\":{\"http.status_code\":\"500\",\"error\":\"boom\",\"retries\":2,\"ratio\":0.5,\"cached\":false}},"
		"{\"traceId\":\"463ac35c9f6413ad\",\"parentId\":\"463ac35c9f6413ad\",\"id\":\"a2fb4a1d1a96d312\","
		"\"kind\":\"SERVER\",\"shared\":true,\"name\":\"get /api\",\"timestamp\":1714000003003000,"
		"\"duration\":13000,\"localEndpoint\":{\"serviceName\":\"backend\",\"ipv4\":\"172.17.0.14\"}},"
		"{\"traceId\":\"463ac35c9f6413ad\",\"parentId\":\"a2fb4a1d1a96d312\",\"id\":\"0000000000000abc\","
		"\"name\":\"query\",\"timestamp\":1714000003004000,\"duration\":5000,"
		"\"localEndpoint\":{\"serviceName\":\"backend\",\"ipv4\":\"172.17.0.14\"}},"
		"{\"traceId\":\"463ac35c9f6413ad\",\"parentId\":\"a2fb4a1d1a96d312\",\"id\":\"0000000000000abd\","
		"\"kind\":\"CONSUMER\",\"name\":\"consume\",\"timestamp\":1714000003030000,\"duration\":1000,"
		"\"localEndpoint\":{\"serviceName\":\"auditor\"}}]";
	hx__import *im = import_doc(doc, HX__IMPORT_AUTO);
	check_result(im);
	const hx__import_stats *st = hx__import_get_stats(im);
	assert_int_equal(st->spans, 5);
	assert_int_equal(st->rejected, 0);
	assert_int_equal(st->traces, 1);
	hxt_events evs = {0};
	all_events(im, &evs);
	const hxt_event *root = find_name(&evs, HX_EV_TRACE_BEGIN, "get /", 0);
	static const uint8_t want[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0x46, 0x3a, 0xc3, 0x5c, 0x9f, 0x64, 0x13, 0xad};
	assert_memory_equal(root->ev.trace_id, want, 16);
	const hxt_event *client = find_name(&evs, HX_EV_BLOCK_BEGIN, "get /api", 0);
	const hxt_event *server = find_name(&evs, HX_EV_BLOCK_BEGIN, "get /api", 1);
	assert_true(client && server && client->ev.entity_id != server->ev.entity_id);
	assert_int_equal(client->ev.time_ns, 1714000003002000000ull);
	assert_int_equal(root->ev.entity_id, client->ev.entity_id); /* nested in get / */
	const hxt_event *req = hxt_find(&evs, server->ev.entity_id, server->ev.seq - 1);
	assert_int_equal(req->ev.interaction, HX_IA_REQUEST);
	assert_int_equal(cause_of(&evs, &req->ev)->ev.entity_id, client->ev.entity_id);
	assert_non_null(find_name(&evs, HX_EV_POINT, "ws", 0));
	const hxt_event *err = find_name(&evs, HX_EV_ERROR, "boom", 0);
	assert_non_null(err);
	assert_int_equal(err->ev.entity_id, client->ev.entity_id);
	/* tags keep their JSON type; the remote endpoint is attributes */
	assert_int_equal(attr(&client->ev, "http.status_code")->type, HX_ATTR_STRING);
	assert_int_equal(attr(&client->ev, "retries")->type, HX_ATTR_INT);
	assert_int_equal(attr(&client->ev, "retries")->v.i, 2);
	assert_int_equal(attr(&client->ev, "ratio")->type, HX_ATTR_DOUBLE);
	assert_int_equal(attr(&client->ev, "cached")->type, HX_ATTR_BOOL);
	assert_string_equal(attr(&client->ev, "peer.service")->v.s.ptr, "backend");
	assert_int_equal(attr(&client->ev, "network.peer.port")->v.i, 9000);
	/* the query nests in the server half; the consumer got a message from it */
	assert_int_equal(find_name(&evs, HX_EV_BLOCK_BEGIN, "query", 0)->ev.entity_id, server->ev.entity_id);
	const hxt_event *msg = find_name(&evs, HX_EV_EFFECT, "consume", 0);
	assert_int_equal(msg->ev.interaction, HX_IA_MESSAGE);
	assert_int_equal(cause_of(&evs, &msg->ev)->ev.entity_id, server->ev.entity_id);
	const hx__import_proc *p = hx__import_proc_get(im, 0);
	assert_string_equal(p->host, "172.17.0.13");
	hxt_events_free(&evs);
	hx__import_free(im);
}

/* A producer with two consumers: one publish cause, an effect in each; links to a span of the
 * input that started first (a causal interaction from its block, before the linking block), to
 * one that is not there (external), to one that starts inside the linking span (from its end, an
 * effect inside the linking block), to the span itself (external, warned). */
static void test_publish_and_links(void **state)
{
	char *prod[] = {
		otlp_span(TRACE_B, "0000000000000001", "", "order", 0, 30, "\"kind\":2"),
		otlp_span(TRACE_B, "0000000000000002", "0000000000000001", "publish", 20, 22, "\"kind\":4"),
	};
	char *c1[] = {otlp_span(TRACE_B, "0000000000000003", "0000000000000002", "consume", 25, 27,
	                        "\"kind\":5")};
	char *c2[] = {otlp_span(TRACE_B, "0000000000000004", "0000000000000002", "consume", 24, 35,
	                        "\"kind\":5,\"links\":["
	                        "{\"traceId\":\"" TRACE_B "\",\"spanId\":\"0000000000000001\","
	                        "\"attributes\":[{\"key\":\"why\",\"value\":{\"stringValue\":\"batch\"}}]},"
	                        "{\"traceId\":\"" TRACE_A "\",\"spanId\":\"0102030405060708\"},"
	                        "{\"traceId\":\"" TRACE_B "\",\"spanId\":\"0000000000000003\"},"
	                        "{\"traceId\":\"" TRACE_B "\",\"spanId\":\"0000000000000004\"}]")};
	char *res[] = {otlp_res("checkout", 2, prod), otlp_res("accounting", 1, c1),
	               otlp_res("fraud", 1, c2)};
	char *doc = otlp_doc(3, res);
	hx__import *im = import_doc(doc, HX__IMPORT_OTLP);
	free(doc);
	check_result(im);
	assert_int_equal(hx__import_get_stats(im)->warn[HX__IMPORT_WARN_LINK_LATER], 1);
	hxt_events evs = {0};
	all_events(im, &evs);
	const hxt_event *e1 = find_name(&evs, HX_EV_EFFECT, "consume", 0);
	const hxt_event *e2 = find_name(&evs, HX_EV_EFFECT, "consume", 1);
	assert_int_equal(e1->ev.interaction, HX_IA_PUBLISH);
	assert_int_equal(e2->ev.interaction, HX_IA_PUBLISH);
	const hxt_event *pc = cause_of(&evs, &e1->ev);
	assert_ptr_equal(pc, cause_of(&evs, &e2->ev));
	assert_int_equal(pc->ev.interaction, HX_IA_PUBLISH);
	assert_int_equal(pc->ev.time_ns, T0 + 22 * MS); /* clamped into the producer */
	assert_int_equal(hxt_count_kind(&evs, HX_EV_CAUSE), 3); /* publish + two links */
	/* links of the second consumer: early (with its attribute), external, late, itself */
	const hxt_event *fb = find_name(&evs, HX_EV_BLOCK_BEGIN, "consume", 1);
	size_t n = 0, external = 0;
	for (size_t i = 0; i < evs.n; i++) {
		const hx_event *e = &evs.v[i].ev;
		if (e->kind != HX_EV_EFFECT || e->interaction != HX_IA_CAUSAL)
			continue;
		n++;
		assert_int_equal(e->entity_id, fb->ev.entity_id);
		if (e->causes[0].flags & HX_CTX_FOREIGN) {
			assert_true(e->seq < fb->ev.seq);
			external++;
			continue;
		}
		const hxt_event *c = cause_of(&evs, e);
		if (e->seq < fb->ev.seq) { /* early: from the order, at the consumer's start */
			assert_int_equal(c->ev.entity_id, find_name(&evs, HX_EV_BLOCK_BEGIN, "order", 0)->ev.entity_id);
			assert_int_equal(c->ev.time_ns, T0 + 24 * MS);
			assert_int_equal(e->time_ns, T0 + 24 * MS);
			assert_string_equal(attr(e, "why")->v.s.ptr, "batch");
		} else { /* late: from the other consumer's end, inside this one */
			assert_int_equal(c->ev.entity_id, find_name(&evs, HX_EV_BLOCK_BEGIN, "consume", 0)->ev.entity_id);
			assert_int_equal(c->ev.time_ns, T0 + 27 * MS);
			assert_int_equal(e->time_ns, T0 + 27 * MS);
		}
	}
	assert_int_equal(n, 4);
	assert_int_equal(external, 2);
	hxt_events_free(&evs);
	hx__import_free(im);
}

/* Attribute values keep their types; arrays and kvlists become JSON text; more than 32 block
 * attributes spill into ANNOTATE events, span events keep 32 (warned). */
static void test_attributes(void **state)
{
	hx__buf many = HX__BUF_INIT;
	hx__buf_puts(&many, "\"attributes\":[{\"key\":\"s\",\"value\":{\"stringValue\":\"x\\u00e9\"}},"
	                    "{\"key\":\"i\",\"value\":{\"intValue\":\"-9223372036854775808\"}},"
	                    "{\"key\":\"d\",\"value\":{\"doubleValue\":\"NaN\"}},"
	                    "{\"key\":\"b\",\"value\":{\"boolValue\":true}},"
	                    "{\"key\":\"y\",\"value\":{\"bytesValue\":\"AAEC/w==\"}},"
	                    "{\"key\":\"a\",\"value\":{\"arrayValue\":{\"values\":[{\"intValue\":1},"
	                    "{\"kvlistValue\":{\"values\":[{\"key\":\"k\",\"value\":{\"stringValue\":\"v\"}}]}}]}}},"
	                    "{\"key\":\"empty\",\"value\":{}}");
	for (int i = 0; i < 40; i++)
		hx__buf_printf(&many, ",{\"key\":\"k%d\",\"value\":{\"intValue\":%d}}", i, i);
	hx__buf_puts(&many, "],\"events\":[{\"name\":\"ev\",\"timeUnixNano\":\"1714000000001000000\","
	                    "\"attributes\":[");
	for (int i = 0; i < 40; i++)
		hx__buf_printf(&many, "%s{\"key\":\"p%d\",\"value\":{\"intValue\":%d}}", i ? "," : "", i, i);
	hx__buf_puts(&many, "]}]");
	char *spans[] = {otlp_span(TRACE_A, "0000000000000001", "", "s", 0, 2, many.p)};
	hx__buf_free(&many);
	char *res[] = {otlp_res("svc", 1, spans)};
	char *doc = otlp_doc(1, res);
	hx__import *im = import_doc(doc, HX__IMPORT_OTLP);
	free(doc);
	check_result(im);
	const hx__import_stats *st = hx__import_get_stats(im);
	assert_int_equal(st->warn[HX__IMPORT_WARN_VALUE_DROPPED], 1);
	assert_int_equal(st->warn[HX__IMPORT_WARN_ATTRS_DROPPED], 1);
	hxt_events evs = {0};
	all_events(im, &evs);
	const hx_event *b = &find_name(&evs, HX_EV_BLOCK_BEGIN, "s", 0)->ev;
	assert_int_equal(b->nattrs, 32);
	assert_memory_equal(attr(b, "s")->v.s.ptr, "x\xc3\xa9", 3);
	assert_int_equal(attr(b, "i")->v.i, INT64_MIN);
	assert_int_equal(attr(b, "d")->type, HX_ATTR_DOUBLE);
	assert_true(attr(b, "d")->v.d != attr(b, "d")->v.d);
	assert_int_equal(attr(b, "b")->v.b, 1);
	assert_int_equal(attr(b, "y")->type, HX_ATTR_BYTES);
	assert_int_equal(attr(b, "y")->v.s.len, 4);
	assert_memory_equal(attr(b, "y")->v.s.ptr, "\x00\x01\x02\xff", 4);
	assert_string_equal(attr(b, "a")->v.s.ptr, "[1,{\"k\":\"v\"}]");
	assert_null(attr(b, "empty"));
	/* 6 typed + 40 + span.kind? (internal: none) + otel.scope.name = 47: 32 + 15 in an ANNOTATE */
	const hxt_event *an = hxt_find(&evs, b->entity_id, b->seq + 1);
	assert_int_equal(an->ev.kind, HX_EV_ANNOTATE);
	assert_int_equal(an->ev.target, HX_TARGET_BLOCK);
	assert_int_equal(an->ev.nattrs, 15);
	assert_string_equal(an->ev.attrs[14].key, "otel.scope.name");
	assert_int_equal(find_name(&evs, HX_EV_POINT, "ev", 0)->ev.nattrs, 32);
	hxt_events_free(&evs);
	hx__import_free(im);
}

/* ---- IDs ---- */

static void entity_ids(const char *doc, uint64_t *out, size_t *n)
{
	hx__import *im = import_doc(doc, HX__IMPORT_AUTO);
	hxt_events evs = {0};
	all_events(im, &evs);
	*n = 0;
	for (size_t i = 0; i < evs.n; i++)
		if (evs.v[i].ev.kind == HX_EV_ENTITY_BEGIN)
			out[(*n)++] = evs.v[i].ev.entity_id;
	hxt_events_free(&evs);
	hx__import_free(im);
}

/* The same spans give the same entity IDs (and so the service drops a resend as duplicates);
 * spans of one service and trace sent in two documents get different entities. */
static void test_ids(void **state)
{
	char *s1[] = {otlp_span(TRACE_A, "0000000000000001", "", "root", 0, 10, NULL)};
	char *s2[] = {otlp_span(TRACE_A, "0000000000000002", "0000000000000001", "late", 20, 30, NULL)};
	char *r1[] = {otlp_res("svc", 1, s1)};
	char *r2[] = {otlp_res("svc", 1, s2)};
	char *d1 = otlp_doc(1, r1), *d2 = otlp_doc(1, r2);
	uint64_t a[4], b[4], c[4];
	size_t na, nb, nc;
	entity_ids(d1, a, &na);
	entity_ids(d1, b, &nb);
	entity_ids(d2, c, &nc);
	assert_int_equal(na, 1);
	assert_int_equal(nc, 1);
	assert_int_equal(a[0], b[0]);
	assert_true(a[0] != c[0]);
	/* both together: one lane (late follows root), named by root's span ID as alone */
	char *both = fmt_doc("%s\n%s", d1, d2);
	entity_ids(both, b, &nb);
	assert_int_equal(nb, 1);
	assert_int_equal(b[0], a[0]);
	/* the second document's span names a parent outside it: an external cause */
	hx__import *im = import_doc(d2, HX__IMPORT_AUTO);
	check_result(im);
	hxt_events evs = {0};
	all_events(im, &evs);
	const hxt_event *e = hxt_find(&evs, c[0], 1);
	assert_int_equal(e->ev.kind, HX_EV_EFFECT);
	assert_true(e->ev.causes[0].flags & HX_CTX_FOREIGN);
	assert_int_equal(e->ev.causes[0].entity_id, 1); /* the parent span ID */
	assert_null(find_name(&evs, HX_EV_TRACE_BEGIN, "late", 0));
	hxt_events_free(&evs);
	hx__import_free(im);
	/* process instances are salted, entity IDs are not */
	hx__import *x, *y;
	assert_int_equal(hx__import_new(&x, NULL), HX_OK);
	assert_int_equal(hx__import_new(&y, NULL), HX_OK);
	hx__import_salt(y, "other input", 11);
	assert_int_equal(hx__import_add(x, d1, strlen(d1), HX__IMPORT_AUTO, 0, NULL, 0), HX_OK);
	assert_int_equal(hx__import_add(y, d1, strlen(d1), HX__IMPORT_AUTO, 0, NULL, 0), HX_OK);
	assert_int_equal(hx__import_finish(x), HX_OK);
	assert_int_equal(hx__import_finish(y), HX_OK);
	assert_memory_not_equal(hx__import_proc_get(x, 0)->instance, hx__import_proc_get(y, 0)->instance, 16);
	hx__import_free(x);
	hx__import_free(y);
	free(both);
	free(d1);
	free(d2);
}

/* ---- repairs and rejections ---- */

static void test_repairs(void **state)
{
	char *spans[] = {
		/* end before start; unknown kind; unknown status; event outside */
		otlp_span(TRACE_A, "0000000000000001", "", "r", 10, 5,
		          "\"kind\":9,\"status\":{\"code\":7},\"events\":[{\"timeUnixNano\":\"5\",\"name\":\"early\"}]"),
		/* no end time */
		fmt_doc("{\"traceId\":\"" TRACE_A "\",\"spanId\":\"0000000000000002\",\"name\":\"open\","
		        "\"startTimeUnixNano\":%llu}", T0 + 20 * MS),
		/* a parent cycle: 3 -> 4 -> 3 */
		otlp_span(TRACE_A, "0000000000000003", "0000000000000004", "x", 30, 40, NULL),
		otlp_span(TRACE_A, "0000000000000004", "0000000000000003", "y", 31, 39, NULL),
		/* base64 IDs, as some senders do */
		otlp_span("S/kvNXezTaajzpKdDg5HNg==", "APBnqgupArc=", "", "b64", 50, 60, NULL),
	};
	char *res[] = {otlp_res("svc", 5, spans)};
	char *doc = otlp_doc(1, res);
	hx__import *im = import_doc(doc, HX__IMPORT_OTLP);
	free(doc);
	check_result(im);
	const hx__import_stats *st = hx__import_get_stats(im);
	assert_int_equal(st->rejected, 0);
	assert_int_equal(st->warn[HX__IMPORT_WARN_END_BEFORE_START], 1);
	assert_int_equal(st->warn[HX__IMPORT_WARN_UNKNOWN_KIND], 1);
	assert_int_equal(st->warn[HX__IMPORT_WARN_UNKNOWN_STATUS], 1);
	assert_int_equal(st->warn[HX__IMPORT_WARN_EVENT_OUTSIDE], 1);
	assert_int_equal(st->warn[HX__IMPORT_WARN_NO_END], 1);
	assert_int_equal(st->warn[HX__IMPORT_WARN_PARENT_CYCLE], 1);
	assert_int_equal(st->warn[HX__IMPORT_WARN_PARENT_LATER], 1); /* x's parent y starts later */
	assert_int_equal(st->warn[HX__IMPORT_WARN_BASE64_ID], 2);
	assert_string_equal(st->warning[HX__IMPORT_WARN_END_BEFORE_START],
	                    "resourceSpans[0].scopeSpans[0].spans[0]");
	assert_string_equal(st->warning[HX__IMPORT_WARN_UNKNOWN_KIND],
	                    "resourceSpans[0].scopeSpans[0].spans[0].kind");
	hxt_events evs = {0};
	all_events(im, &evs);
	const hxt_event *r = find_name(&evs, HX_EV_BLOCK_BEGIN, "r", 0);
	assert_int_equal(r->ev.time_ns, T0 + 10 * MS);
	assert_int_equal(find_name(&evs, HX_EV_POINT, "early", 0)->ev.time_ns, T0 + 10 * MS);
	assert_null(find_name(&evs, HX_EV_ERROR, "error", 0));
	assert_non_null(find_name(&evs, HX_EV_TRACE_BEGIN, "r", 0)); /* the earliest root */
	assert_null(find_name(&evs, HX_EV_TRACE_BEGIN, "b64", 0));
	hxt_events_free(&evs);
	hx__buf sum = HX__BUF_INIT;
	assert_int_equal(hx__import_summary(im, &sum), HX_OK);
	assert_non_null(strstr(sum.p, "1 x end_before_start"));
	hx__buf_free(&sum);
	hx__import_free(im);
}

static void test_rejections(void **state)
{
	char *spans[] = {
		otlp_span(TRACE_A, "0000000000000001", "", "ok", 0, 10, NULL),
		otlp_span("00000000000000000000000000000000", "0000000000000002", "", "zero trace", 0, 1, NULL),
		otlp_span(TRACE_A, "0000000000000000", "", "zero span", 0, 1, NULL),
		otlp_span("4bf92f3577b34da6a3ce929d0e0e473", "0000000000000003", "", "short trace", 0, 1, NULL),
		otlp_span(TRACE_A, "0000000000000004", "zz", "bad parent", 0, 1, NULL),
		fmt_doc("{\"traceId\":\"" TRACE_A "\",\"spanId\":\"0000000000000005\",\"name\":\"no start\"}"),
		otlp_span(TRACE_A, "0000000000000006", "", "bad attr", 0, 1,
		          "\"attributes\":[{\"key\":\"k\",\"value\":{\"intValue\":\"12x\"}}]"),
		otlp_span(TRACE_A, "0000000000000001", "", "duplicate", 0, 10, NULL),
		fmt_doc("17"),
	};
	char *res[] = {otlp_res("svc", 9, spans)};
	char *doc = otlp_doc(1, res);
	hx__import *im = import_doc(doc, HX__IMPORT_OTLP);
	free(doc);
	check_result(im);
	const hx__import_stats *st = hx__import_get_stats(im);
	assert_int_equal(st->spans, 9);
	assert_int_equal(st->rejected, 8);
	assert_string_equal(st->rejection,
	                    "resourceSpans[0].scopeSpans[0].spans[1].traceId: all zero (an invalid ID)");
	hxt_events evs = {0};
	all_events(im, &evs);
	assert_int_equal(hxt_count_kind(&evs, HX_EV_BLOCK_BEGIN), 1);
	hxt_events_free(&evs);
	hx__import_free(im);

	/* each message says where and why */
	static const struct {
		const char *span, *want;
	} one[] = {
		{"{\"traceId\":\"" TRACE_A "\",\"spanId\":\"0000000000000002\",\"parentSpanId\":\"zz\"}",
		 "spans[0].parentSpanId: not 16 hex digits"},
		{"{\"traceId\":\"" TRACE_A "\",\"spanId\":\"0000000000000002\",\"startTimeUnixNano\":\"-5\"}",
		 "spans[0].startTimeUnixNano: not an unsigned 64-bit integer"},
		{"{\"traceId\":\"" TRACE_A "\",\"spanId\":\"0000000000000002\",\"startTimeUnixNano\":1,"
		 "\"events\":[{\"name\":5}]}", "spans[0].events[0].name: not a string"},
		{"{\"traceId\":\"" TRACE_A "\",\"spanId\":\"0000000000000002\",\"startTimeUnixNano\":1,"
		 "\"links\":[{\"traceId\":\"" TRACE_A "\"}]}", "spans[0].links[0].spanId: missing"},
		{"{\"spanId\":\"0000000000000002\"}", "spans[0].traceId: missing"},
	};
	for (size_t i = 0; i < sizeof(one) / sizeof(one[0]); i++) {
		char *d = fmt_doc("{\"resourceSpans\":[{\"scopeSpans\":[{\"spans\":[%s]}]}]}", one[i].span);
		im = import_doc(d, HX__IMPORT_OTLP);
		free(d);
		st = hx__import_get_stats(im);
		assert_int_equal(st->rejected, 1);
		if (!strstr(st->rejection, one[i].want))
			fprintf(stderr, "got: %s\nwant: %s\n", st->rejection, one[i].want);
		assert_non_null(strstr(st->rejection, one[i].want));
		hx__import_free(im);
	}
}

/* Document errors say where; nothing of a failed document is kept. */
static void test_document_errors(void **state)
{
	static const struct {
		const char *doc;
		hx__import_format fmt;
		int rc;
		const char *want;
	} cases[] = {
		{"{\"resourceSpans\":[", HX__IMPORT_OTLP, HX_EFORMAT, "not valid JSON at line 1, column 18"},
		{"{\n\"resourceSpans\":\n[1,]}", HX__IMPORT_AUTO, HX_EFORMAT, "line 3, column"},
		{"[1,2]", HX__IMPORT_OTLP, HX_EFORMAT, "expected an object (an OTLP ExportTraceServiceRequest)"},
		{"{\"resourceSpans\":[]}", HX__IMPORT_ZIPKIN, HX_EFORMAT, "expected an array of Zipkin v2 spans"},
		{"{\"resourceSpans\":{}}", HX__IMPORT_OTLP, HX_EFORMAT, "resourceSpans: not an array but an object"},
		{"{\"resourceSpans\":[{\"scopeSpans\":[{\"spans\":7}]}]}", HX__IMPORT_OTLP, HX_EFORMAT,
		 "resourceSpans[0].scopeSpans[0].spans: not an array but a number"},
		{"{\"resourceMetrics\":[]}", HX__IMPORT_OTLP, HX_EFORMAT, "no resourceSpans member"},
		{"", HX__IMPORT_AUTO, HX_EFORMAT, "empty"},
		{"   \n ", HX__IMPORT_AUTO, HX_EFORMAT, "empty"},
		{"\"\\u0000\"", HX__IMPORT_AUTO, HX_EFORMAT, "not valid JSON"},
		{"[\"\xff\"]", HX__IMPORT_AUTO, HX_EFORMAT, "not valid JSON"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		hx__import *im;
		char err[512];
		assert_int_equal(hx__import_new(&im, NULL), HX_OK);
		/* a good document first: it stays */
		const char *good = "[{\"traceId\":\"1\",\"id\":\"1\",\"timestamp\":1,\"duration\":1}]";
		assert_int_equal(hx__import_add(im, good, strlen(good), HX__IMPORT_AUTO, 0, err, sizeof(err)), HX_OK);
		int rc = hx__import_add(im, cases[i].doc, strlen(cases[i].doc), cases[i].fmt, HX__IMPORT_SEQUENCE, err,
		                        sizeof(err));
		assert_int_equal(rc, cases[i].rc);
		if (!strstr(err, cases[i].want))
			fprintf(stderr, "case %zu: got \"%s\", want \"%s\"\n", i, err, cases[i].want);
		assert_non_null(strstr(err, cases[i].want));
		assert_int_equal(hx__import_get_stats(im)->spans, 1);
		assert_int_equal(hx__import_finish(im), HX_OK);
		assert_int_equal(hx__import_get_stats(im)->events, 6);
		assert_int_equal(hx__import_add(im, good, strlen(good), HX__IMPORT_AUTO, 0, err, sizeof(err)),
		                 HX_ESTATE);
		hx__import_free(im);
	}
}

/* The limits: bytes, spans, nesting depth, string length, attribute count. */
static void test_limits(void **state)
{
	hx__import_limits lim;
	hx__import_limits_default(&lim);
	assert_int_equal(lim.max_bytes, 16u << 20);
	lim.max_bytes = 200;
	lim.max_spans = 3;
	lim.max_depth = 2;
	lim.max_string = 8;
	lim.max_attrs = 2;
	hx__import *im;
	char err[512];
	assert_int_equal(hx__import_new(&im, &lim), HX_OK);
	char big[300];
	memset(big, ' ', sizeof(big));
	big[0] = '[';
	big[sizeof(big) - 2] = ']';
	big[sizeof(big) - 1] = '\0';
	assert_int_equal(hx__import_add(im, big, strlen(big), HX__IMPORT_AUTO, 0, err, sizeof(err)), HX_EINVAL);
	assert_non_null(strstr(err, "299 bytes, over the limit of 200"));
	const char *four = "[{\"traceId\":\"1\",\"id\":\"1\",\"timestamp\":1},{\"traceId\":\"1\",\"id\":\"2\","
	                   "\"timestamp\":1},{},{},{}]";
	assert_int_equal(hx__import_add(im, four, strlen(four), HX__IMPORT_AUTO, 0, err, sizeof(err)), HX_EINVAL);
	assert_string_equal(err, "[3]: more than 3 spans (the limit)");
	/* a chain of 4 (depths 0..3): the two deepest rejected; a long name; too many tags */
	const char *chain = "[{\"traceId\":\"1\",\"id\":\"1\",\"timestamp\":1,\"duration\":9},"
	                    "{\"traceId\":\"1\",\"id\":\"2\",\"parentId\":\"1\",\"timestamp\":2,\"duration\":7},"
	                    "{\"traceId\":\"1\",\"id\":\"3\",\"parentId\":\"2\",\"timestamp\":3,\"duration\":5}]";
	assert_int_equal(hx__import_add(im, chain, strlen(chain), HX__IMPORT_AUTO, 0, err, sizeof(err)), HX_OK);
	hx__import_free(im);
	lim.max_bytes = 1 << 20;
	lim.max_spans = 100;
	assert_int_equal(hx__import_new(&im, &lim), HX_OK);
	const char *deep = "[{\"traceId\":\"1\",\"id\":\"1\",\"timestamp\":1,\"duration\":9},"
	                   "{\"traceId\":\"1\",\"id\":\"2\",\"parentId\":\"1\",\"timestamp\":2,\"duration\":7},"
	                   "{\"traceId\":\"1\",\"id\":\"3\",\"parentId\":\"2\",\"timestamp\":3,\"duration\":5},"
	                   "{\"traceId\":\"1\",\"id\":\"4\",\"parentId\":\"3\",\"timestamp\":4,\"duration\":3},"
	                   "{\"traceId\":\"1\",\"id\":\"5\",\"name\":\"123456789\",\"timestamp\":1},"
	                   "{\"traceId\":\"1\",\"id\":\"6\",\"timestamp\":1,\"tags\":{\"a\":\"1\",\"b\":\"2\",\"c\":\"3\"}}]";
	assert_int_equal(hx__import_add(im, deep, strlen(deep), HX__IMPORT_AUTO, 0, err, sizeof(err)), HX_OK);
	assert_int_equal(hx__import_finish(im), HX_OK);
	const hx__import_stats *st = hx__import_get_stats(im);
	assert_int_equal(st->spans, 6);
	assert_int_equal(st->rejected, 3);
	assert_string_equal(st->rejection, "[4].name: string of 9 bytes, over the limit of 8");
	check_result(im);
	hxt_events evs = {0};
	all_events(im, &evs);
	assert_int_equal(hxt_count_kind(&evs, HX_EV_BLOCK_BEGIN), 3); /* depths 0, 1, 2 */
	hxt_events_free(&evs);
	hx__import_free(im);

	/* depth alone: the message names the span */
	lim.max_string = 100;
	lim.max_attrs = 100;
	assert_int_equal(hx__import_new(&im, &lim), HX_OK);
	assert_int_equal(hx__import_add(im, chain, strlen(chain), HX__IMPORT_AUTO, 0, err, sizeof(err)), HX_OK);
	const char *more = "[{\"traceId\":\"1\",\"id\":\"7\",\"parentId\":\"3\",\"timestamp\":4,\"duration\":1}]";
	assert_int_equal(hx__import_add(im, more, strlen(more), HX__IMPORT_AUTO, 0, err, sizeof(err)), HX_OK);
	assert_int_equal(hx__import_finish(im), HX_OK);
	st = hx__import_get_stats(im);
	assert_int_equal(st->rejected, 1);
	assert_non_null(strstr(st->rejection, "span 0 (ID 0000000000000007 of trace 00000000000000000000000000000001): "
	                                      "nested deeper than 2 spans"));
	hx__import_free(im);
}

/* Zipkin's own oddities: IDs of any length up to 16/32 digits, a span without a timestamp (its
 * annotations'), a repeat of a span ID that is not a client/server pair (rejected). */
static void test_zipkin_repairs(void **state)
{
	const char *doc =
		"[{\"traceId\":\"ABC\",\"id\":\"1\",\"name\":\"late parts\",\"annotations\":["
		"{\"timestamp\":1714000000000100,\"value\":\"cs\"},{\"timestamp\":1714000000000900,\"value\":\"cr\"}]},"
		"{\"traceId\":\"abc\",\"id\":\"2\",\"timestamp\":1714000000000000,\"duration\":5,\"kind\":\"BOSS\"},"
		"{\"traceId\":\"abc\",\"id\":\"2\",\"timestamp\":1714000000000000,\"duration\":5},"
		"{\"traceId\":\"abc\",\"id\":\"3\",\"name\":\"nothing\"},"
		"{\"traceId\":\"0123456789abcdef0123456789abcdef0\",\"id\":\"4\",\"timestamp\":1}]";
	hx__import *im = import_doc(doc, HX__IMPORT_ZIPKIN);
	check_result(im);
	const hx__import_stats *st = hx__import_get_stats(im);
	assert_int_equal(st->spans, 5);
	assert_int_equal(st->rejected, 3);
	assert_string_equal(st->rejection, "[3].timestamp: missing or 0, and no annotations to take it from");
	assert_int_equal(st->warn[HX__IMPORT_WARN_NO_START], 1);
	assert_int_equal(st->warn[HX__IMPORT_WARN_UNKNOWN_KIND], 1);
	hxt_events evs = {0};
	all_events(im, &evs);
	const hxt_event *b = find_name(&evs, HX_EV_BLOCK_BEGIN, "late parts", 0);
	assert_int_equal(b->ev.time_ns, 1714000000000100000ull);
	assert_int_equal(b->ev.trace_id[15], 0xbc);
	assert_int_equal(b->ev.trace_id[14], 0x0a);
	hxt_events_free(&evs);
	hx__import_free(im);
}

/* ---- output ---- */

static int add_to_file(const hx_event *ev, void *user)
{
	return hx__file_writer_add(user, ev);
}

/* The result as trace files, read back by the reader: every event, no damage. */
static void test_trace_file(void **state)
{
	size_t len = 0;
	char path[4096];
	snprintf(path, sizeof(path), "%s/tests/data/import/otlp_shop.json", getenv("HX_SOURCE_DIR"));
	char *doc = (char *)hxt_slurp(path, &len);
	assert_non_null(doc);
	hx__import *im;
	assert_int_equal(hx__import_new(&im, NULL), HX_OK);
	assert_int_equal(hx__import_add(im, doc, len, HX__IMPORT_AUTO, 0, NULL, 0), HX_OK);
	free(doc);
	assert_int_equal(hx__import_finish(im), HX_OK);
	check_result(im);
	char dir[256];
	assert_int_equal(hxt_mkdtemp(dir, sizeof(dir), "import"), 0);
	for (size_t i = 0; i < hx__import_nprocs(im); i++) {
		const hx__import_proc *p = hx__import_proc_get(im, i);
		char file[512];
		snprintf(file, sizeof(file), "%s/p%zu.hx", dir, i);
		hx__file_writer *w;
		assert_int_equal(hx__file_writer_open(&w, file, p->instance, p->pid, p->resource_kv, p->npairs),
		                 HX_OK);
		assert_int_equal(hx__import_events(im, i, add_to_file, w), HX_OK);
		assert_int_equal(hx__file_writer_close(w), HX_OK);
	}
	hxt_events evs = {0};
	hxt_read_result rr;
	assert_int_equal(hxt_read_all(dir, HX_ORDER_TIME, &evs, &rr, 1), HX_OK);
	assert_int_equal(rr.next_rc, HX_EOF);
	assert_int_equal(rr.damage, 0);
	assert_int_equal(evs.n, hx__import_get_stats(im)->events);
	assert_int_equal(rr.processes, 6);
	hxt_events mine = {0};
	all_events(im, &mine);
	qsort(mine.v, mine.n, sizeof(*mine.v), hxt__cmp_ent_seq);
	qsort(evs.v, evs.n, sizeof(*evs.v), hxt__cmp_ent_seq);
	for (size_t i = 0; i < evs.n; i++)
		hxt_assert_same_event(&evs.v[i].ev, &mine.v[i].ev);
	hxt_events_free(&evs);
	hxt_events_free(&mine);
	hxt_rmrf(dir);
	hx__import_free(im);
}

static void gzip_bytes(const void *src, size_t len, uint8_t **out, size_t *out_len)
{
	z_stream z;
	memset(&z, 0, sizeof(z));
	assert_int_equal(deflateInit2(&z, 6, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY), Z_OK);
	size_t cap = deflateBound(&z, len) + 64;
	*out = hxt_xmalloc(cap);
	z.next_in = (Bytef *)(uintptr_t)src;
	z.avail_in = (uInt)len;
	z.next_out = *out;
	z.avail_out = (uInt)cap;
	assert_int_equal(deflate(&z, Z_FINISH), Z_STREAM_END);
	*out_len = cap - z.avail_out;
	deflateEnd(&z);
}

static void test_gunzip(void **state)
{
	char *plain = hxt_xmalloc(100000);
	for (int i = 0; i < 100000; i++)
		plain[i] = (char)('a' + i % 7);
	uint8_t *gz, *out;
	size_t gzlen, outlen;
	gzip_bytes(plain, 100000, &gz, &gzlen);
	assert_int_equal(hx__import_gunzip(gz, gzlen, 100000, &out, &outlen), HX_OK);
	assert_int_equal(outlen, 100000);
	assert_memory_equal(out, plain, 100000);
	free(out);
	assert_int_equal(hx__import_gunzip(gz, gzlen, 99999, &out, &outlen), HX_EINVAL);
	assert_int_equal(hx__import_gunzip(gz, gzlen / 2, 100000, &out, &outlen), HX_EFORMAT);
	assert_int_equal(hx__import_gunzip(plain, 1000, 100000, &out, &outlen), HX_EFORMAT);
	assert_int_equal(hx__import_gunzip(gz, 0, 100000, &out, &outlen), HX_EFORMAT);
	free(gz);
	free(plain);
}

/* ---- round trip: Haruspex events -> hx export -> import ---- */

/* A trace recorded the native way, as events: a server thread whose request handling calls a
 * worker (request/reply), with nested blocks, a point with attributes and an error. */
typedef struct native {
	hx_event ev[32];
	hx_context ctx[8];
	size_t n;
} native;

static void nat_add(native *nt, int kind, uint64_t ent, uint64_t seq, uint64_t t_ms, const char *name,
                    const hx_attr *attrs, size_t nattrs)
{
	hx_event *e = &nt->ev[nt->n++];
	memset(e, 0, sizeof(*e));
	static const uint8_t trace[16] = {0x01, 0x8f, 0x12, 0x34, 0x56, 0x78, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0x11};
	e->kind = kind;
	e->time_ns = e->time_orig_ns = T0 + t_ms * MS;
	e->entity_id = ent;
	e->seq = seq;
	memcpy(e->trace_id, trace, 16);
	e->name = name ? name : "";
	e->name_len = strlen(e->name);
	e->attrs = attrs;
	e->nattrs = nattrs;
	e->unit = "";
}

static void build_native(native *nt)
{
	static const hx_attr battrs[] = {
		{.key = "http.method", .type = HX_ATTR_STRING, .v = {.s = {"GET", 3}}},
		{.key = "items", .type = HX_ATTR_INT, .v = {.i = 3}},
		{.key = "ratio", .type = HX_ATTR_DOUBLE, .v = {.d = 0.5}},
		{.key = "cached", .type = HX_ATTR_BOOL, .v = {.b = 1}},
	};
	static const hx_attr pattrs[] = {{.key = "bytes", .type = HX_ATTR_INT, .v = {.i = 300}}};
	enum { SRV = 0x5151, WRK = 0x7272 };
	memset(nt, 0, sizeof(*nt));
	nat_add(nt, HX_EV_ENTITY_BEGIN, SRV, 0, 0, "server", NULL, 0);
	nt->ev[0].entity_kind = HX_ENTITY_THREAD;
	nt->ev[0].tid = 100;
	nat_add(nt, HX_EV_TRACE_BEGIN, SRV, 1, 1, "GET /x", NULL, 0);
	nat_add(nt, HX_EV_BLOCK_BEGIN, SRV, 2, 1, "GET /x", battrs, 4);
	nat_add(nt, HX_EV_BLOCK_BEGIN, SRV, 3, 2, "parse", NULL, 0);
	nat_add(nt, HX_EV_POINT, SRV, 4, 3, "read", pattrs, 1);
	nat_add(nt, HX_EV_BLOCK_END, SRV, 5, 4, NULL, NULL, 0);
	nat_add(nt, HX_EV_BLOCK_BEGIN, SRV, 6, 5, "call worker", NULL, 0);
	nat_add(nt, HX_EV_CAUSE, SRV, 7, 6, "request", NULL, 0);
	nt->ev[7].interaction = HX_IA_REQUEST;
	nat_add(nt, HX_EV_ENTITY_BEGIN, WRK, 0, 6, "worker", NULL, 0);
	nt->ev[8].entity_kind = HX_ENTITY_THREAD;
	nt->ev[8].tid = 101;
	nat_add(nt, HX_EV_EFFECT, WRK, 1, 7, "request", NULL, 0);
	nt->ev[9].interaction = HX_IA_REQUEST;
	nt->ctx[0] = (hx_context){{0}, SRV, 7, HX_CTX_VALID | HX_CTX_SAMPLED, 0};
	memcpy(nt->ctx[0].trace_id, nt->ev[0].trace_id, 16);
	nt->ev[9].causes = &nt->ctx[0];
	nt->ev[9].ncauses = 1;
	nat_add(nt, HX_EV_BLOCK_BEGIN, WRK, 2, 7, "work", NULL, 0);
	nat_add(nt, HX_EV_ERROR, WRK, 3, 12, "disk full", NULL, 0);
	nat_add(nt, HX_EV_BLOCK_END, WRK, 4, 13, NULL, NULL, 0);
	nat_add(nt, HX_EV_CAUSE, WRK, 5, 13, "reply", NULL, 0);
	nt->ev[13].interaction = HX_IA_REPLY;
	nat_add(nt, HX_EV_BLOCK_END, SRV, 8, 15, NULL, NULL, 0);
	nat_add(nt, HX_EV_BLOCK_END, SRV, 9, 20, NULL, NULL, 0);
	nat_add(nt, HX_EV_TRACE_END, SRV, 10, 20, NULL, NULL, 0);
	(void)WRK;
}

/* A block of a graph, as the round trip compares it: name, start, end, parent's name, entity
 * index, and its attributes as text (the export's own additions left out). */
typedef struct blk {
	char name[64], parent[64];
	uint64_t start, end;
	char attrs[512];
} blk;

static int blk_cmp(const void *a, const void *b)
{
	const blk *x = a, *y = b;
	return x->start != y->start ? (x->start < y->start ? -1 : 1) : strcmp(x->name, y->name);
}

static size_t blocks_of(const hxt_events *evs, const hx__dag *d, blk *out, size_t cap)
{
	size_t n = 0;
	for (size_t b = 0; b < d->nblocks && n < cap; b++) {
		blk *k = &out[n++];
		memset(k, 0, sizeof(*k));
		snprintf(k->name, sizeof(k->name), "%s", hx__dag_str(d, d->blocks[b].name));
		uint32_t p = d->blocks[b].parent;
		snprintf(k->parent, sizeof(k->parent), "%s", p == HX__DAG_NONE ? "-" : hx__dag_str(d, d->blocks[p].name));
		k->start = d->ev_time[d->blocks[b].begin];
		k->end = d->ev_time[d->blocks[b].end];
		/* the attributes of the block's begin, the import's and export's own keys aside */
		const hxt_event *be = hxt_find(evs, d->entities[d->ev_entity[d->blocks[b].begin]].id,
		                               d->ev_seq[d->blocks[b].begin]);
		hx__buf t = HX__BUF_INIT;
		for (size_t i = 0; be && i < be->ev.nattrs; i++) {
			const hx_attr *a = &be->ev.attrs[i];
			if (!strncmp(a->key, "otel.", 5) || !strcmp(a->key, "span.kind") || !strncmp(a->key, "hx.", 3) ||
			    !strncmp(a->key, "thread.", 7))
				continue;
			hx__buf_printf(&t, "%s=%d:", a->key, a->type);
			if (a->type == HX_ATTR_INT)
				hx__buf_printf(&t, "%lld;", (long long)a->v.i);
			else if (a->type == HX_ATTR_DOUBLE)
				hx__buf_printf(&t, "%g;", a->v.d);
			else if (a->type == HX_ATTR_BOOL)
				hx__buf_printf(&t, "%d;", a->v.b);
			else
				hx__buf_printf(&t, "%.*s;", (int)a->v.s.len, (const char *)a->v.s.ptr);
		}
		snprintf(k->attrs, sizeof(k->attrs), "%s", t.p ? t.p : "");
		hx__buf_free(&t);
	}
	qsort(out, n, sizeof(*out), blk_cmp);
	return n;
}

static void round_trip(int format)
{
	native nt;
	build_native(&nt);
	hx__export_input *in;
	assert_int_equal(hx__export_input_new(&in, NULL), HX_OK);
	assert_int_equal(hx__export_input_process(in, 0, "host-1", "shop", 4242), HX_OK);
	for (size_t i = 0; i < nt.n; i++)
		assert_int_equal(hx__export_input_add(in, &nt.ev[i], 0), HX_OK);
	assert_int_equal(hx__export_input_finish(in), HX_OK);
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	assert_non_null(f);
	assert_int_equal(hx__export_write(in, format, f, NULL), HX_OK);
	fclose(f);
	/* the original's blocks */
	hxt_events orig = {0};
	for (size_t i = 0; i < nt.n; i++)
		hxt_events_push(&orig, &nt.ev[i]);
	blk a[16], b[16];
	size_t na = blocks_of(&orig, hx__export_input_dag(in), a, 16);
	/* imported back */
	hx__import *im;
	char err[512];
	assert_int_equal(hx__import_new(&im, NULL), HX_OK);
	int rc = hx__import_add(im, text, len, HX__IMPORT_AUTO, 0, err, sizeof(err));
	if (rc)
		fprintf(stderr, "%s\n%s\n", err, text);
	assert_int_equal(rc, HX_OK);
	assert_int_equal(hx__import_finish(im), HX_OK);
	check_result(im);
	const hx__import_stats *st = hx__import_get_stats(im);
	assert_int_equal(st->rejected, 0);
	hxt_events back = {0};
	all_events(im, &back);
	hx__dag *d = dag_of(im);
	size_t nb = blocks_of(&back, d, b, 16);
	assert_int_equal(na, nb);
	for (size_t i = 0; i < na; i++) {
		assert_string_equal(a[i].name, b[i].name);
		assert_string_equal(a[i].parent, b[i].parent);
		assert_int_equal(a[i].start, b[i].start);
		assert_int_equal(a[i].end, b[i].end);
		/* Zipkin tags are strings: only OTLP keeps the types */
		if (format == HX__EXPORT_OTLP)
			assert_string_equal(a[i].attrs, b[i].attrs);
	}
	/* the trace keeps its ID and root name, the point, the error, the request across
	 * entities (the server thread and the worker stay two entities) */
	assert_int_equal(d->ntraces, 1);
	assert_string_equal(hx__dag_str(d, d->traces[0].root_name), "GET /x");
	if (format == HX__EXPORT_OTLP)
		assert_memory_equal(d->traces[0].id, nt.ev[0].trace_id, 16);
	else /* Zipkin keeps 128-bit IDs too */
		assert_memory_equal(d->traces[0].id, nt.ev[0].trace_id, 16);
	const hxt_event *pt = find_name(&back, HX_EV_POINT, "read", 0);
	assert_non_null(pt);
	assert_int_equal(pt->ev.time_ns, T0 + 3 * MS);
	assert_non_null(find_name(&back, HX_EV_ERROR, "disk full", 0));
	const hxt_event *work = find_name(&back, HX_EV_BLOCK_BEGIN, "work", 0);
	const hxt_event *call = find_name(&back, HX_EV_BLOCK_BEGIN, "call worker", 0);
	assert_true(work->ev.entity_id != call->ev.entity_id);
	const hxt_event *eff = hxt_find(&back, work->ev.entity_id, work->ev.seq - 1);
	assert_int_equal(eff->ev.kind, HX_EV_EFFECT);
	const hxt_event *c = cause_of(&back, &eff->ev);
	assert_non_null(c);
	assert_int_equal(c->ev.entity_id, call->ev.entity_id);
	hx__dag_free(d);
	hxt_events_free(&back);
	hxt_events_free(&orig);
	hx__import_free(im);
	hx__export_input_free(in);
	free(text);
}

static void test_round_trip_otlp(void **state)
{
	round_trip(HX__EXPORT_OTLP);
}

static void test_round_trip_zipkin(void **state)
{
	round_trip(HX__EXPORT_ZIPKIN);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_request_reply),
		cmocka_unit_test(test_lanes),
		cmocka_unit_test(test_threads),
		cmocka_unit_test(test_zipkin),
		cmocka_unit_test(test_publish_and_links),
		cmocka_unit_test(test_attributes),
		cmocka_unit_test(test_ids),
		cmocka_unit_test(test_repairs),
		cmocka_unit_test(test_rejections),
		cmocka_unit_test(test_document_errors),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_zipkin_repairs),
		cmocka_unit_test(test_trace_file),
		cmocka_unit_test(test_gunzip),
		cmocka_unit_test(test_round_trip_otlp),
		cmocka_unit_test(test_round_trip_zipkin),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
