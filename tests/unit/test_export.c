/*
 * test_export.c - the export module (src/export/export.h) on hand-built traces, each document
 * parsed back with jansson and checked member by member:
 *   - Chrome: processes and threads named by metadata events; blocks as "X" with their begin's,
 *     annotations' and end's attributes (a repeated key renamed, not lost); nanoseconds exact in
 *     ts and dur; points and errors as thread instants; counters as "C" (NaN left out and
 *     counted); waits as "X" of category "wait"; one flow per cause->effect edge, "s" and "f"
 *     with the same id, each bound to a zero-length slice at its own time.
 *   - OTLP: a request/reply across two processes folds into one span tree (the server's span is
 *     the child of the client's), kinds CLIENT and SERVER, the reply as a link, typed attribute
 *     values, times as decimal strings, status ERROR with the error's message, span events.
 *   - Zipkin: the same tree, microsecond times, string tags, annotations, kinds.
 *   - blocks outside any trace are in Chrome's timeline but are no spans (counted); a cycle of
 *     inconsistent IDs is broken (counted) and leaves a valid tree; an unterminated block says
 *     so; a wait crossed by a block boundary is cut there; a filtered input keeps one trace and
 *     nothing of the others; a large trace streams through (output much larger than the
 *     writer's buffer) and writes the same bytes twice; hostile names still make valid JSON; a
 *     failed write is HX_EIO.
 */
#include "../hxtest.h"

#include "export/export.h"

#include <jansson.h>
#include <math.h>
#include <setjmp.h>
#include <cmocka.h>

#define T0 1700000000000000000ull /* a whole second: Chrome's time origin */

static const uint8_t TR_A[16] = {0x01, 0x8b, 0xcf, 0xe5, 0x68, 0x00, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0xaa};
static const uint8_t TR_B[16] = {0x01, 0x8b, 0xcf, 0xe5, 0x68, 0x00, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0xbb};

/* ---- building inputs: every event gets the next sequence number of its entity ---- */

typedef struct xb {
	hx__export_input *in;
	uint64_t ents[32], next[32];
	size_t nents;
	const uint8_t *trace; /* the trace of the events added next (NULL: none) */
} xb;

static void xb_init(xb *t, const hx__dag_filter *f)
{
	memset(t, 0, sizeof(*t));
	assert_int_equal(hx__export_input_new(&t->in, f), HX_OK);
	assert_int_equal(hx__export_input_process(t->in, 0, "host-a", "client", 101), HX_OK);
	assert_int_equal(hx__export_input_process(t->in, 1, "host-b", "server", 202), HX_OK);
	t->trace = TR_A;
}

static uint64_t seq_of(xb *t, uint64_t ent)
{
	for (size_t i = 0; i < t->nents; i++)
		if (t->ents[i] == ent)
			return t->next[i]++;
	t->ents[t->nents] = ent;
	t->next[t->nents++] = 1;
	return 0;
}

static void ev_init(xb *t, hx_event *e, uint64_t ent, uint64_t time, hx_event_kind kind, const char *name)
{
	memset(e, 0, sizeof(*e));
	e->kind = kind;
	e->time_ns = e->time_orig_ns = time;
	e->entity_id = ent;
	e->seq = seq_of(t, ent);
	if (t->trace)
		memcpy(e->trace_id, t->trace, 16);
	e->name = name ? name : "";
	e->name_len = strlen(e->name);
}

static hx_context ctx_of(const hx_event *e)
{
	hx_context c;
	memset(&c, 0, sizeof(c));
	memcpy(c.trace_id, e->trace_id, 16);
	c.entity_id = e->entity_id;
	c.seq = e->seq;
	c.flags = HX_CTX_VALID | HX_CTX_SAMPLED;
	return c;
}

static hx_context add(xb *t, uint32_t proc, hx_event *e)
{
	assert_int_equal(hx__export_input_add(t->in, e, proc), HX_OK);
	return ctx_of(e);
}

static hx_context simple(xb *t, uint32_t proc, uint64_t ent, uint64_t time, hx_event_kind kind,
                         const char *name, const hx_attr *attrs, size_t nattrs)
{
	hx_event e;
	ev_init(t, &e, ent, time, kind, name);
	e.attrs = attrs;
	e.nattrs = nattrs;
	if (kind == HX_EV_ENTITY_BEGIN) {
		e.entity_kind = HX_ENTITY_THREAD;
		e.tid = ent & 0xffff;
	}
	return add(t, proc, &e);
}

static hx_context interact(xb *t, uint32_t proc, uint64_t ent, uint64_t time, hx_event_kind kind,
                           const char *name, hx_interaction ia, const hx_context *causes, size_t n,
                           int resumes)
{
	hx_event e;
	ev_init(t, &e, ent, time, kind, name);
	e.interaction = ia;
	e.causes = causes;
	e.ncauses = n;
	e.resumes = resumes;
	return add(t, proc, &e);
}

static void state(xb *t, uint32_t proc, uint64_t ent, uint64_t time, hx_state s, const char *why)
{
	hx_event e;
	ev_init(t, &e, ent, time, HX_EV_STATE, why);
	e.state = s;
	add(t, proc, &e);
}

static void counter(xb *t, uint32_t proc, uint64_t ent, uint64_t time, const char *name, int is_int,
                    int64_t i, double d, const char *unit)
{
	hx_event e;
	ev_init(t, &e, ent, time, HX_EV_COUNTER, name);
	e.counter_is_int = is_int;
	e.counter_int = i;
	e.counter_double = d;
	e.unit = unit;
	add(t, proc, &e);
}

static void annotate(xb *t, uint32_t proc, uint64_t ent, uint64_t time, hx_annotate_target target,
                     const hx_attr *attrs, size_t n)
{
	hx_event e;
	ev_init(t, &e, ent, time, HX_EV_ANNOTATE, "");
	e.target = target;
	e.attrs = attrs;
	e.nattrs = n;
	add(t, proc, &e);
}

static void finish(xb *t)
{
	assert_int_equal(hx__export_input_finish(t->in), HX_OK);
}

/* Export into memory and parse; *raw receives the bytes (free()) if wanted. */
static json_t *export_json(const hx__export_input *in, int format, hx__export_stats *st, char **raw,
                           size_t *rawlen)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	assert_non_null(f);
	hx__export_stats local;
	assert_int_equal(hx__export_write(in, format, f, st ? st : &local), HX_OK);
	assert_int_equal(fclose(f), 0);
	assert_int_equal((st ? st : &local)->bytes, len);
	json_error_t err;
	json_t *doc = json_loadb(buf, len, 0, &err);
	if (!doc)
		fail_msg("not JSON: %s at line %d: %.200s", err.text, err.line, buf);
	if (raw) {
		*raw = buf;
		*rawlen = len;
	} else {
		free(buf);
	}
	return doc;
}

/* ---- looking things up in the documents ---- */

static const char *str(json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);
	return json_is_string(v) ? json_string_value(v) : NULL;
}

/* The Chrome events with this ph (and name, if not NULL), in order. */
static size_t chrome_find(json_t *doc, const char *ph, const char *name, json_t **out, size_t max)
{
	json_t *evs = json_object_get(doc, "traceEvents"), *e;
	size_t i, n = 0;
	assert_true(json_is_array(evs));
	json_array_foreach(evs, i, e) {
		if (strcmp(str(e, "ph"), ph) || (name && strcmp(str(e, "name"), name)))
			continue;
		if (n < max)
			out[n] = e;
		n++;
	}
	return n;
}

/* ts or dur as exact integer nanoseconds (jansson reads them as doubles; the test values are
 * small enough for a double to hold every nanosecond) */
static int64_t ns_of(json_t *v)
{
	assert_true(json_is_number(v));
	return (int64_t)llround(json_number_value(v) * 1000.0);
}

/* every span of an OTLP document */
static size_t otlp_spans(json_t *doc, json_t **out, size_t max)
{
	json_t *rs, *ss, *sp;
	size_t i, j, k, n = 0;
	json_array_foreach(json_object_get(doc, "resourceSpans"), i, rs)
		json_array_foreach(json_object_get(rs, "scopeSpans"), j, ss)
			json_array_foreach(json_object_get(ss, "spans"), k, sp) {
				if (n < max)
					out[n] = sp;
				n++;
			}
	return n;
}

static json_t *by_name(json_t **v, size_t n, const char *key, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(str(v[i], key), name))
			return v[i];
	fail_msg("no %s %s", key, name);
	return NULL;
}

/* the value object of OTLP attribute `key`, NULL if absent */
static json_t *otlp_attr(json_t *list, const char *key)
{
	json_t *a;
	size_t i;
	json_array_foreach(list, i, a)
		if (!strcmp(str(a, "key"), key))
			return json_object_get(a, "value");
	return NULL;
}

/* ---- the shared scenario: a client and a server in two processes ----
 *
 *   client (proc 0)  [order n=1 item="widget"          ....................... ]
 *                       cause POST (request)   wait "server"   effect reply (resumes)
 *   server (proc 1)      trace_join  effect POST  [handle [db] point error] cause reply
 */
enum { CLIENT = 0xc1, SERVER = 0x5e };

static void scenario(xb *t)
{
	static const hx_attr order_attrs[] = {
		{.key = "n", .type = HX_ATTR_INT, .v = {.i = -1}},
		{.key = "item", .type = HX_ATTR_STRING, .v = {.s = {"widget", 6}}},
		{.key = "ratio", .type = HX_ATTR_DOUBLE, .v = {.d = 0.1}},
		{.key = "ok", .type = HX_ATTR_BOOL, .v = {.b = 1}},
		{.key = "blob", .type = HX_ATTR_BYTES, .v = {.s = {"\x00\xff\x10", 3}}},
	};
	static const hx_attr end_attrs[] = {{.key = "n", .type = HX_ATTR_INT, .v = {.i = 2}}};
	static const hx_attr ann[] = {{.key = "late", .type = HX_ATTR_STRING, .v = {.s = {"yes", 3}}}};
	static const hx_attr pt[] = {{.key = "rows", .type = HX_ATTR_INT, .v = {.i = 9007199254740993ll}}};
	static const hx_attr tr[] = {{.key = "user", .type = HX_ATTR_STRING, .v = {.s = {"ann", 3}}}};
	simple(t, 0, CLIENT, T0 + 1000, HX_EV_ENTITY_BEGIN, "client-main", NULL, 0);
	simple(t, 1, SERVER, T0 + 1500, HX_EV_ENTITY_BEGIN, "server-main", NULL, 0);
	simple(t, 0, CLIENT, T0 + 2000, HX_EV_TRACE_BEGIN, "order", NULL, 0);
	annotate(t, 0, CLIENT, T0 + 2100, HX_TARGET_TRACE, tr, 1);
	simple(t, 0, CLIENT, T0 + 3000, HX_EV_BLOCK_BEGIN, "order", order_attrs, 5);
	hx_context req = interact(t, 0, CLIENT, T0 + 4001, HX_EV_CAUSE, "POST", HX_IA_REQUEST, NULL, 0, 0);
	state(t, 0, CLIENT, T0 + 4500, HX_STATE_WAITING, "server");
	interact(t, 1, SERVER, T0 + 5000, HX_EV_TRACE_JOIN, "order", HX_IA_CAUSAL, &req, 1, 0);
	interact(t, 1, SERVER, T0 + 5100, HX_EV_EFFECT, "POST", HX_IA_REQUEST, &req, 1, 0);
	simple(t, 1, SERVER, T0 + 6000, HX_EV_BLOCK_BEGIN, "handle", NULL, 0);
	simple(t, 1, SERVER, T0 + 6500, HX_EV_BLOCK_BEGIN, "db", NULL, 0);
	simple(t, 1, SERVER, T0 + 7000, HX_EV_BLOCK_END, "", NULL, 0);
	simple(t, 1, SERVER, T0 + 7500, HX_EV_POINT, "rows read", pt, 1);
	simple(t, 1, SERVER, T0 + 7600, HX_EV_ERROR, "disk \"full\"", NULL, 0);
	counter(t, 1, SERVER, T0 + 7700, "queue", 1, 42, 0, "items");
	counter(t, 1, SERVER, T0 + 7800, "load", 0, 0, 0.25, "");
	counter(t, 1, SERVER, T0 + 7900, "load", 0, 0, NAN, "");
	simple(t, 1, SERVER, T0 + 8000, HX_EV_BLOCK_END, "", NULL, 0);
	hx_context rep = interact(t, 1, SERVER, T0 + 8500, HX_EV_CAUSE, "reply", HX_IA_REPLY, NULL, 0, 0);
	interact(t, 0, CLIENT, T0 + 9000, HX_EV_EFFECT, "reply", HX_IA_REPLY, &rep, 1, 1);
	annotate(t, 0, CLIENT, T0 + 9100, HX_TARGET_BLOCK, ann, 1);
	simple(t, 0, CLIENT, T0 + 9999, HX_EV_BLOCK_END, "", end_attrs, 1);
	simple(t, 0, CLIENT, T0 + 10000, HX_EV_TRACE_END, "", NULL, 0);
}

static void test_chrome(void **state_)
{
	(void)state_;
	xb t;
	xb_init(&t, NULL);
	scenario(&t);
	finish(&t);
	hx__export_stats st;
	json_t *doc = export_json(t.in, HX__EXPORT_CHROME, &st, NULL, NULL);
	assert_string_equal(str(doc, "displayTimeUnit"), "ns");
	json_t *meta = json_object_get(doc, "metadata");
	assert_string_equal(str(meta, "time_origin_ns"), "1700000000000000000");
	assert_int_equal(json_array_size(json_object_get(meta, "traces")), 1);
	json_t *tattrs = json_object_get(json_array_get(json_object_get(meta, "traces"), 0), "attributes");
	assert_string_equal(str(tattrs, "user"), "ann");

	json_t *v[64];
	/* processes and threads: real pids and tids, named */
	assert_int_equal(chrome_find(doc, "M", "process_name", v, 64), 2);
	assert_string_equal(str(json_object_get(v[0], "args"), "name"), "client");
	assert_int_equal(json_integer_value(json_object_get(v[0], "pid")), 101);
	assert_int_equal(chrome_find(doc, "M", "thread_name", v, 64), 2);
	assert_string_equal(str(json_object_get(v[1], "args"), "name"), "server-main");
	assert_int_equal(json_integer_value(json_object_get(v[1], "tid")), SERVER);
	assert_int_equal(chrome_find(doc, "M", "process_labels", v, 64), 2);
	assert_string_equal(str(json_object_get(v[0], "args"), "labels"), "host=host-a,pid=101");

	/* the client's block: exact ns, attributes of begin, annotation and end, "n" twice */
	/* "order": the block, and the server's trace_join (a flow ends there) */
	assert_int_equal(chrome_find(doc, "X", "order", v, 64), 2);
	json_t *blk = NULL;
	for (int i = 0; i < 2; i++)
		if (!strcmp(str(v[i], "cat"), "block"))
			blk = v[i];
	assert_non_null(blk);
	assert_int_equal(ns_of(json_object_get(blk, "ts")), 3000);
	assert_int_equal(ns_of(json_object_get(blk, "dur")), 6999);
	json_t *args = json_object_get(blk, "args");
	assert_int_equal(json_integer_value(json_object_get(args, "n")), -1);
	assert_int_equal(json_integer_value(json_object_get(args, "n#2")), 2);
	assert_string_equal(str(args, "item"), "widget");
	assert_true(json_real_value(json_object_get(args, "ratio")) == 0.1);
	assert_true(json_is_true(json_object_get(args, "ok")));
	assert_string_equal(str(args, "blob"), "AP8Q");
	assert_string_equal(str(args, "late"), "yes");
	assert_string_equal(str(args, "trace"), "018bcfe56800010203040506070809aa");

	/* nested block, point, error as thread instants */
	assert_int_equal(chrome_find(doc, "X", "db", v, 64), 1);
	assert_int_equal(ns_of(json_object_get(v[0], "dur")), 500);
	assert_int_equal(chrome_find(doc, "i", "rows read", v, 64), 1);
	assert_string_equal(str(v[0], "s"), "t");
	assert_int_equal(json_integer_value(json_object_get(json_object_get(v[0], "args"), "rows")), 9007199254740993ll);
	assert_int_equal(chrome_find(doc, "i", "disk \"full\"", v, 64), 1);
	assert_string_equal(str(v[0], "cat"), "error");

	/* counters: by unit; the NaN left out and counted */
	assert_int_equal(chrome_find(doc, "C", "queue", v, 64), 1);
	assert_int_equal(json_integer_value(json_object_get(json_object_get(v[0], "args"), "items")), 42);
	assert_int_equal(chrome_find(doc, "C", "load", v, 64), 1);
	assert_true(json_real_value(json_object_get(json_object_get(v[0], "args"), "value")) == 0.25);
	assert_int_equal(st.nonfinite, 1);

	/* the wait, inside the client's block */
	assert_int_equal(chrome_find(doc, "X", "server", v, 64), 1);
	assert_string_equal(str(v[0], "cat"), "wait");
	assert_int_equal(ns_of(json_object_get(v[0], "ts")), 4500);
	assert_int_equal(ns_of(json_object_get(v[0], "dur")), 4500);

	/* flows: request -> trace_join and -> effect, reply -> effect: 3 edges */
	json_t *s[8], *f[8];
	assert_int_equal(chrome_find(doc, "s", NULL, s, 8), 3);
	assert_int_equal(chrome_find(doc, "f", NULL, f, 8), 3);
	assert_int_equal(st.flows, 3);
	for (int i = 0; i < 3; i++) {
		json_t *end = NULL;
		for (int j = 0; j < 3; j++)
			if (json_integer_value(json_object_get(f[j], "id")) == json_integer_value(json_object_get(s[i], "id")))
				end = f[j];
		assert_non_null(end);
		assert_string_equal(str(end, "bp"), "e");
		assert_string_equal(str(end, "name"), str(s[i], "name"));
		assert_string_equal(str(end, "cat"), "interaction");
		/* bound: a zero-length slice of the same cat at the flow's ts, pid, tid */
		json_t *ends[2] = {s[i], end};
		for (int k = 0; k < 2; k++) {
			json_t *x[64];
			size_t nx = chrome_find(doc, "X", NULL, x, 64), hit = 0;
			for (size_t m = 0; m < nx && m < 64; m++)
				hit += ns_of(json_object_get(x[m], "dur")) == 0 &&
				       ns_of(json_object_get(x[m], "ts")) == ns_of(json_object_get(ends[k], "ts")) &&
				       json_integer_value(json_object_get(x[m], "tid")) ==
				           json_integer_value(json_object_get(ends[k], "tid")) &&
				       !strcmp(str(x[m], "cat"), "interaction");
			assert_int_equal(hit, 1);
		}
	}
	assert_int_equal(chrome_find(doc, "X", "POST", v, 64), 2);
	assert_int_equal(ns_of(json_object_get(v[0], "ts")), 4001);
	json_decref(doc);
	hx__export_input_free(t.in);
}

static void test_otlp(void **state_)
{
	(void)state_;
	xb t;
	xb_init(&t, NULL);
	scenario(&t);
	finish(&t);
	hx__export_stats st;
	json_t *doc = export_json(t.in, HX__EXPORT_OTLP, &st, NULL, NULL);
	json_t *sp[16];
	assert_int_equal(otlp_spans(doc, sp, 16), 3);
	assert_int_equal(st.items, 3);
	json_t *order = by_name(sp, 3, "name", "order"), *handle = by_name(sp, 3, "name", "handle"),
	       *db = by_name(sp, 3, "name", "db");

	/* resources: one per process */
	json_t *rs = json_object_get(doc, "resourceSpans");
	assert_int_equal(json_array_size(rs), 2);
	json_t *ra = json_object_get(json_object_get(json_array_get(rs, 0), "resource"), "attributes");
	assert_string_equal(str(otlp_attr(ra, "service.name"), "stringValue"), "client");
	assert_string_equal(str(otlp_attr(ra, "host.name"), "stringValue"), "host-a");
	assert_string_equal(str(otlp_attr(ra, "process.pid"), "intValue"), "101");

	/* the tree: order <- handle (through the request) <- db (nesting) */
	assert_null(json_object_get(order, "parentSpanId"));
	assert_string_equal(str(handle, "parentSpanId"), str(order, "spanId"));
	assert_string_equal(str(db, "parentSpanId"), str(handle, "spanId"));
	for (int i = 0; i < 3; i++) {
		assert_string_equal(str(sp[i], "traceId"), "018bcfe56800010203040506070809aa");
		assert_int_equal(strlen(str(sp[i], "spanId")), 16);
	}
	assert_int_equal(json_integer_value(json_object_get(order, "kind")), 3);  /* CLIENT */
	assert_int_equal(json_integer_value(json_object_get(handle, "kind")), 2); /* SERVER */
	assert_int_equal(json_integer_value(json_object_get(db, "kind")), 1);     /* INTERNAL */
	assert_string_equal(str(order, "startTimeUnixNano"), "1700000000000003000");
	assert_string_equal(str(order, "endTimeUnixNano"), "1700000000000009999");

	/* typed attributes, the end's "n" kept as "n#2", the entity, the trace's attributes */
	json_t *a = json_object_get(order, "attributes");
	assert_string_equal(str(otlp_attr(a, "n"), "intValue"), "-1");
	assert_string_equal(str(otlp_attr(a, "n#2"), "intValue"), "2");
	assert_true(json_real_value(json_object_get(otlp_attr(a, "ratio"), "doubleValue")) == 0.1);
	assert_true(json_is_true(json_object_get(otlp_attr(a, "ok"), "boolValue")));
	assert_string_equal(str(otlp_attr(a, "blob"), "bytesValue"), "AP8Q");
	assert_string_equal(str(otlp_attr(a, "late"), "stringValue"), "yes");
	assert_string_equal(str(otlp_attr(a, "thread.name"), "stringValue"), "client-main");
	assert_string_equal(str(otlp_attr(a, "thread.id"), "intValue"), "193");
	assert_string_equal(str(otlp_attr(a, "hx.entity"), "stringValue"), "00000000000000c1");
	assert_string_equal(str(otlp_attr(a, "user"), "stringValue"), "ann");
	assert_string_equal(str(otlp_attr(a, "hx.trace.name"), "stringValue"), "order");

	/* the reply is a link from the client's span to the server's */
	json_t *links = json_object_get(order, "links");
	assert_int_equal(json_array_size(links), 1);
	assert_string_equal(str(json_array_get(links, 0), "spanId"), str(handle, "spanId"));
	assert_string_equal(str(otlp_attr(json_object_get(json_array_get(links, 0), "attributes"), "hx.interaction"),
	                        "stringValue"), "reply");
	assert_int_equal(st.flows, 1);
	/* the wait is an event of the client's span */
	json_t *evs = json_object_get(order, "events");
	assert_int_equal(json_array_size(evs), 1);
	assert_string_equal(str(json_array_get(evs, 0), "name"), "wait");

	/* the server's span: point, error, counters as events; status ERROR */
	evs = json_object_get(handle, "events");
	assert_int_equal(json_array_size(evs), 5);
	json_t *pt = json_array_get(evs, 0);
	assert_string_equal(str(pt, "name"), "rows read");
	assert_string_equal(str(pt, "timeUnixNano"), "1700000000000007500");
	assert_string_equal(str(otlp_attr(json_object_get(pt, "attributes"), "rows"), "intValue"), "9007199254740993");
	json_t *ex = json_array_get(evs, 1);
	assert_string_equal(str(ex, "name"), "exception");
	assert_string_equal(str(otlp_attr(json_object_get(ex, "attributes"), "exception.message"), "stringValue"),
	                    "disk \"full\"");
	json_t *nan = otlp_attr(json_object_get(json_array_get(evs, 4), "attributes"), "hx.counter.value");
	assert_string_equal(str(nan, "doubleValue"), "NaN");
	json_t *status = json_object_get(handle, "status");
	assert_int_equal(json_integer_value(json_object_get(status, "code")), 2);
	assert_string_equal(str(status, "message"), "disk \"full\"");
	assert_null(json_object_get(order, "status"));
	json_decref(doc);
	hx__export_input_free(t.in);
}

static void test_zipkin(void **state_)
{
	(void)state_;
	xb t;
	xb_init(&t, NULL);
	scenario(&t);
	finish(&t);
	json_t *doc = export_json(t.in, HX__EXPORT_ZIPKIN, NULL, NULL, NULL);
	assert_true(json_is_array(doc));
	assert_int_equal(json_array_size(doc), 3);
	json_t *sp[3] = {json_array_get(doc, 0), json_array_get(doc, 1), json_array_get(doc, 2)};
	json_t *order = by_name(sp, 3, "name", "order"), *handle = by_name(sp, 3, "name", "handle"),
	       *db = by_name(sp, 3, "name", "db");
	assert_string_equal(str(handle, "parentId"), str(order, "id"));
	assert_string_equal(str(db, "parentId"), str(handle, "id"));
	assert_null(json_object_get(order, "parentId"));
	assert_string_equal(str(order, "kind"), "CLIENT");
	assert_string_equal(str(handle, "kind"), "SERVER");
	assert_null(json_object_get(db, "kind"));
	/* microseconds: 3000 ns .. 9999 ns is timestamp 1700000000000003, duration 9 - 3 = 6 */
	assert_int_equal(json_integer_value(json_object_get(order, "timestamp")), 1700000000000003ll);
	assert_int_equal(json_integer_value(json_object_get(order, "duration")), 6);
	/* db lasts 500 ns: less than a microsecond is 1 */
	assert_int_equal(json_integer_value(json_object_get(db, "duration")), 1);
	assert_string_equal(str(json_object_get(order, "localEndpoint"), "serviceName"), "client");
	json_t *tags = json_object_get(order, "tags"), *tv;
	const char *tk;
	json_object_foreach(tags, tk, tv)
		assert_true(json_is_string(tv));
	assert_string_equal(str(tags, "n"), "-1");
	assert_string_equal(str(tags, "n#2"), "2");
	assert_string_equal(str(tags, "ratio"), "0.1");
	assert_string_equal(str(tags, "ok"), "true");
	assert_string_equal(str(tags, "host.name"), "host-a");
	assert_string_equal(str(json_object_get(handle, "tags"), "error"), "disk \"full\"");
	json_t *ann = json_object_get(handle, "annotations");
	assert_int_equal(json_array_size(ann), 5);
	assert_string_equal(str(json_array_get(ann, 0), "value"), "rows read");
	assert_string_equal(str(json_array_get(ann, 1), "value"), "error: disk \"full\"");
	assert_string_equal(str(json_array_get(ann, 2), "value"), "queue=42 items");
	assert_int_equal(json_integer_value(json_object_get(json_array_get(ann, 0), "timestamp")), 1700000000000007ll);
	json_decref(doc);
	hx__export_input_free(t.in);
}

/* Blocks outside any trace: on Chrome's timeline, but no spans. */
static void test_outside_trace(void **state_)
{
	(void)state_;
	xb t;
	xb_init(&t, NULL);
	t.trace = NULL;
	simple(&t, 0, 1, T0 + 10, HX_EV_BLOCK_BEGIN, "startup", NULL, 0);
	simple(&t, 0, 1, T0 + 20, HX_EV_POINT, "config read", NULL, 0);
	simple(&t, 0, 1, T0 + 30, HX_EV_BLOCK_END, "", NULL, 0);
	t.trace = TR_A;
	simple(&t, 0, 1, T0 + 40, HX_EV_BLOCK_BEGIN, "work", NULL, 0);
	simple(&t, 0, 1, T0 + 50, HX_EV_BLOCK_END, "", NULL, 0);
	finish(&t);
	json_t *v[8];
	hx__export_stats st;
	json_t *doc = export_json(t.in, HX__EXPORT_CHROME, &st, NULL, NULL);
	assert_int_equal(chrome_find(doc, "X", NULL, v, 8), 2);
	json_decref(doc);
	doc = export_json(t.in, HX__EXPORT_OTLP, &st, NULL, NULL);
	assert_int_equal(otlp_spans(doc, v, 8), 1);
	assert_string_equal(str(v[0], "name"), "work");
	assert_int_equal(st.outside_trace, 1);
	assert_int_equal(st.without_span, 1);
	json_decref(doc);
	doc = export_json(t.in, HX__EXPORT_ZIPKIN, &st, NULL, NULL);
	assert_int_equal(json_array_size(doc), 1);
	assert_int_equal(st.outside_trace, 1);
	json_decref(doc);
	hx__export_input_free(t.in);
}

/* Inconsistent IDs: A's block is started by B's and B's by A's. The loop is cut once. */
static void test_cycle(void **state_)
{
	(void)state_;
	xb t;
	xb_init(&t, NULL);
	enum { A = 0xa, B = 0xb };
	hx_context fake_b, fake_a;
	memset(&fake_b, 0, sizeof(fake_b));
	memcpy(fake_b.trace_id, TR_A, 16);
	fake_b.flags = HX_CTX_VALID | HX_CTX_SAMPLED;
	fake_a = fake_b;
	fake_b.entity_id = B;
	fake_b.seq = 2; /* B's cause inside B's block */
	fake_a.entity_id = A;
	fake_a.seq = 2; /* A's cause inside A's block */
	interact(&t, 0, A, T0 + 10, HX_EV_EFFECT, "from b", HX_IA_MESSAGE, &fake_b, 1, 0); /* A:0 */
	simple(&t, 0, A, T0 + 20, HX_EV_BLOCK_BEGIN, "a", NULL, 0);                         /* A:1 */
	interact(&t, 0, A, T0 + 30, HX_EV_CAUSE, "to b", HX_IA_MESSAGE, NULL, 0, 0);        /* A:2 */
	simple(&t, 0, A, T0 + 40, HX_EV_BLOCK_END, "", NULL, 0);
	interact(&t, 1, B, T0 + 10, HX_EV_EFFECT, "from a", HX_IA_MESSAGE, &fake_a, 1, 0);
	simple(&t, 1, B, T0 + 20, HX_EV_BLOCK_BEGIN, "b", NULL, 0);
	interact(&t, 1, B, T0 + 30, HX_EV_CAUSE, "to a", HX_IA_MESSAGE, NULL, 0, 0);
	simple(&t, 1, B, T0 + 40, HX_EV_BLOCK_END, "", NULL, 0);
	finish(&t);
	hx__export_stats st;
	json_t *sp[4];
	json_t *doc = export_json(t.in, HX__EXPORT_OTLP, &st, NULL, NULL);
	assert_int_equal(otlp_spans(doc, sp, 4), 2);
	assert_int_equal(st.cycles_broken, 1);
	/* one root, one child of it */
	int roots = !json_object_get(sp[0], "parentSpanId") + !json_object_get(sp[1], "parentSpanId");
	assert_int_equal(roots, 1);
	json_decref(doc);
	doc = export_json(t.in, HX__EXPORT_ZIPKIN, &st, NULL, NULL);
	assert_int_equal(st.cycles_broken, 1);
	json_decref(doc);
	/* Chrome has no tree: both arrows drawn */
	doc = export_json(t.in, HX__EXPORT_CHROME, &st, NULL, NULL);
	assert_int_equal(st.flows, 2);
	json_decref(doc);
	hx__export_input_free(t.in);
}

/* A block never ended; an end without a begin. */
static void test_unbalanced(void **state_)
{
	(void)state_;
	xb t;
	xb_init(&t, NULL);
	simple(&t, 0, 1, T0 + 10, HX_EV_BLOCK_END, "", NULL, 0);
	simple(&t, 0, 1, T0 + 20, HX_EV_BLOCK_BEGIN, "open", NULL, 0);
	simple(&t, 0, 1, T0 + 30, HX_EV_POINT, "inside", NULL, 0);
	simple(&t, 0, 1, T0 + 40, HX_EV_POINT, "last", NULL, 0);
	finish(&t);
	json_t *v[4];
	json_t *doc = export_json(t.in, HX__EXPORT_CHROME, NULL, NULL, NULL);
	assert_int_equal(chrome_find(doc, "X", "open", v, 4), 1);
	assert_int_equal(ns_of(json_object_get(v[0], "dur")), 20);
	assert_true(json_is_true(json_object_get(json_object_get(v[0], "args"), "unterminated")));
	json_decref(doc);
	doc = export_json(t.in, HX__EXPORT_OTLP, NULL, NULL, NULL);
	assert_int_equal(otlp_spans(doc, v, 4), 1);
	assert_true(json_is_true(json_object_get(otlp_attr(json_object_get(v[0], "attributes"), "hx.unterminated"),
	                                         "boolValue")));
	/* the entity's last event, where the block was closed, is still one of its events */
	assert_int_equal(json_array_size(json_object_get(v[0], "events")), 2);
	json_decref(doc);
	hx__export_input_free(t.in);
}

/* A wait that a block boundary crosses is cut there, so the tid's slices still nest. */
static void test_wait_cut(void **state_)
{
	(void)state_;
	xb t;
	xb_init(&t, NULL);
	simple(&t, 0, 1, T0 + 100, HX_EV_BLOCK_BEGIN, "outer", NULL, 0);
	state(&t, 0, 1, T0 + 200, HX_STATE_WAITING, "lock");
	simple(&t, 0, 1, T0 + 300, HX_EV_BLOCK_END, "", NULL, 0);
	state(&t, 0, 1, T0 + 400, HX_STATE_RUNNING, "");
	state(&t, 0, 1, T0 + 500, HX_STATE_WAITING, "io");
	state(&t, 0, 1, T0 + 600, HX_STATE_RUNNING, "");
	finish(&t);
	json_t *v[4];
	json_t *doc = export_json(t.in, HX__EXPORT_CHROME, NULL, NULL, NULL);
	assert_int_equal(chrome_find(doc, "X", "lock", v, 4), 1);
	assert_int_equal(ns_of(json_object_get(v[0], "dur")), 100); /* cut where "outer" ended */
	json_t *args = json_object_get(v[0], "args");
	assert_true(json_is_true(json_object_get(args, "cut_at_block_boundary")));
	assert_int_equal(json_integer_value(json_object_get(args, "full_dur_ns")), 200);
	assert_int_equal(chrome_find(doc, "X", "io", v, 4), 1);
	assert_int_equal(ns_of(json_object_get(v[0], "dur")), 100);
	assert_null(json_object_get(json_object_get(v[0], "args"), "cut_at_block_boundary"));
	json_decref(doc);
	hx__export_input_free(t.in);
}

/* A filter keeps one trace; the other's details are not even stored. */
static void test_filter(void **state_)
{
	(void)state_;
	hx__dag_filter f;
	memset(&f, 0, sizeof(f));
	memcpy(f.id, TR_B, 16);
	f.nibbles = 32;
	xb t;
	xb_init(&t, &f);
	static const hx_attr secret[] = {{.key = "secret", .type = HX_ATTR_STRING, .v = {.s = {"xyzzy", 5}}}};
	simple(&t, 0, 1, T0 + 10, HX_EV_BLOCK_BEGIN, "a", secret, 1);
	simple(&t, 0, 1, T0 + 20, HX_EV_BLOCK_END, "", NULL, 0);
	t.trace = TR_B;
	simple(&t, 0, 1, T0 + 30, HX_EV_BLOCK_BEGIN, "b", NULL, 0);
	simple(&t, 0, 1, T0 + 40, HX_EV_BLOCK_END, "", NULL, 0);
	finish(&t);
	assert_int_equal(hx__export_input_dag(t.in)->ntraces, 1);
	char *raw;
	size_t len;
	json_t *v[4];
	for (int fmt = HX__EXPORT_CHROME; fmt <= HX__EXPORT_ZIPKIN; fmt++) {
		json_t *doc = export_json(t.in, fmt, NULL, &raw, &len);
		assert_null(memmem(raw, len, "xyzzy", 5));
		assert_null(memmem(raw, len, "09aa", 4));
		assert_non_null(memmem(raw, len, "09bb", 4));
		if (fmt == HX__EXPORT_OTLP)
			assert_int_equal(otlp_spans(doc, v, 4), 1);
		free(raw);
		json_decref(doc);
	}
	hx__export_input_free(t.in);
}

/* Far more output than the writer's buffer; the same bytes every time. */
static void test_large(void **state_)
{
	(void)state_;
	xb t;
	xb_init(&t, NULL);
	enum { N = HXT_SANITIZED ? 5000 : 50000 };
	hx_attr at[2] = {{.key = "i", .type = HX_ATTR_INT}, {.key = "path", .type = HX_ATTR_STRING, .v = {.s = {"/a/b", 4}}}};
	hx_context prev;
	memset(&prev, 0, sizeof(prev));
	uint64_t time = T0;
	for (int i = 0; i < N; i++) {
		uint64_t ent = 1 + (uint64_t)(i % 4);
		at[0].v.i = i;
		if (i)
			interact(&t, (uint32_t)(i % 2), ent, time += 3, HX_EV_EFFECT, "recv", HX_IA_MESSAGE, &prev, 1, 0);
		simple(&t, (uint32_t)(i % 2), ent, time += 7, HX_EV_BLOCK_BEGIN, "step", at, 2);
		simple(&t, (uint32_t)(i % 2), ent, time += 5, HX_EV_POINT, "tick", at, 1);
		prev = interact(&t, (uint32_t)(i % 2), ent, time += 11, HX_EV_CAUSE, "send", HX_IA_MESSAGE, NULL, 0, 0);
		simple(&t, (uint32_t)(i % 2), ent, time += 13, HX_EV_BLOCK_END, "", NULL, 0);
	}
	finish(&t);
	for (int fmt = HX__EXPORT_CHROME; fmt <= HX__EXPORT_ZIPKIN; fmt++) {
		char *r1, *r2;
		size_t l1, l2;
		hx__export_stats st;
		json_t *doc = export_json(t.in, fmt, &st, &r1, &l1);
		json_decref(export_json(t.in, fmt, NULL, &r2, &l2));
		assert_true(l1 > 16 * 64 * 1024);
		assert_int_equal(l1, l2);
		assert_memory_equal(r1, r2, l1);
		if (fmt == HX__EXPORT_CHROME) {
			assert_int_equal(st.flows, N - 1);
		} else if (fmt == HX__EXPORT_OTLP) {
			json_t **sp = malloc(sizeof(*sp) * N);
			assert_int_equal(otlp_spans(doc, sp, N), N);
			/* every span but the first is the child of the one before (through the message) */
			int roots = 0;
			for (int i = 0; i < N; i++) {
				roots += !json_object_get(sp[i], "parentSpanId");
				assert_string_equal(str(sp[0], "traceId"), str(sp[i], "traceId"));
			}
			assert_int_equal(roots, 1);
			free(sp);
		} else {
			assert_int_equal(json_array_size(doc), N);
			for (int i = 1; i < N; i++)
				assert_non_null(json_object_get(json_array_get(doc, (size_t)i), "parentId"));
		}
		free(r1);
		free(r2);
		json_decref(doc);
	}
	hx__export_input_free(t.in);
}

/* Names and values with quotes, control bytes, invalid UTF-8: every format stays valid JSON. */
static void test_hostile_strings(void **state_)
{
	(void)state_;
	xb t;
	xb_init(&t, NULL);
	static const char bad[] = "a\"b\\c\n\x01\xff\xc3(\xe2\x80\xa8z";
	hx_attr at[2] = {{.key = bad, .type = HX_ATTR_STRING, .v = {.s = {bad, sizeof(bad) - 1}}},
	                 {.key = bad, .type = HX_ATTR_STRING, .v = {.s = {"x", 1}}}};
	simple(&t, 0, 1, T0 + 1, HX_EV_ENTITY_BEGIN, bad, NULL, 0);
	simple(&t, 0, 1, T0 + 2, HX_EV_BLOCK_BEGIN, bad, at, 2);
	simple(&t, 0, 1, T0 + 3, HX_EV_POINT, bad, at, 2);
	simple(&t, 0, 1, T0 + 4, HX_EV_ERROR, bad, NULL, 0);
	counter(&t, 0, 1, T0 + 5, bad, 0, 0, 1.5, bad);
	simple(&t, 0, 1, T0 + 6, HX_EV_BLOCK_END, "", NULL, 0);
	finish(&t);
	for (int fmt = HX__EXPORT_CHROME; fmt <= HX__EXPORT_ZIPKIN; fmt++)
		json_decref(export_json(t.in, fmt, NULL, NULL, NULL));
	hx__export_input_free(t.in);
}

static void test_errors(void **state_)
{
	(void)state_;
	assert_int_equal(hx__export_format_parse("chrome"), HX__EXPORT_CHROME);
	assert_int_equal(hx__export_format_parse("otlp"), HX__EXPORT_OTLP);
	assert_int_equal(hx__export_format_parse("zipkin"), HX__EXPORT_ZIPKIN);
	assert_int_equal(hx__export_format_parse("jaeger"), 0);
	assert_int_equal(hx__export_format_parse(NULL), 0);
	assert_string_equal(hx__export_format_name(HX__EXPORT_OTLP), "otlp");
	assert_null(hx__export_format_name(9));

	xb t;
	xb_init(&t, NULL);
	/* not finished yet */
	assert_int_equal(hx__export_write(t.in, HX__EXPORT_CHROME, stdout, NULL), HX_EINVAL);
	for (int i = 0; i < 3000; i++) {
		simple(&t, 0, 1, T0 + 10 * (uint64_t)i, HX_EV_BLOCK_BEGIN, "x", NULL, 0);
		simple(&t, 0, 1, T0 + 10 * (uint64_t)i + 5, HX_EV_BLOCK_END, "", NULL, 0);
	}
	finish(&t);
	/* adding after finishing is refused */
	hx_event e;
	ev_init(&t, &e, 1, T0, HX_EV_POINT, "late");
	assert_int_equal(hx__export_input_add(t.in, &e, 0), HX_EINVAL);
	assert_int_equal(hx__export_write(t.in, 0, stdout, NULL), HX_EINVAL);
	/* a device that is always full */
	FILE *full = fopen("/dev/full", "w");
	if (full) {
		hx__export_stats st;
		assert_int_equal(hx__export_write(t.in, HX__EXPORT_CHROME, full, &st), HX_EIO);
		fclose(full);
	}
	hx__export_input_free(t.in);
	hx__export_input_free(NULL);
}

/* An empty input is a valid empty document in every format. */
static void test_empty(void **state_)
{
	(void)state_;
	xb t;
	xb_init(&t, NULL);
	finish(&t);
	json_t *doc = export_json(t.in, HX__EXPORT_CHROME, NULL, NULL, NULL);
	assert_int_equal(json_array_size(json_object_get(doc, "traceEvents")), 0);
	json_decref(doc);
	doc = export_json(t.in, HX__EXPORT_OTLP, NULL, NULL, NULL);
	assert_int_equal(json_array_size(json_object_get(doc, "resourceSpans")), 0);
	json_decref(doc);
	doc = export_json(t.in, HX__EXPORT_ZIPKIN, NULL, NULL, NULL);
	assert_int_equal(json_array_size(doc), 0);
	json_decref(doc);
	hx__export_input_free(t.in);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_chrome),
		cmocka_unit_test(test_otlp),
		cmocka_unit_test(test_zipkin),
		cmocka_unit_test(test_outside_trace),
		cmocka_unit_test(test_cycle),
		cmocka_unit_test(test_unbalanced),
		cmocka_unit_test(test_wait_cut),
		cmocka_unit_test(test_filter),
		cmocka_unit_test(test_large),
		cmocka_unit_test(test_hostile_strings),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_empty),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
