/*
 * otlp.c - OTLP/HTTP JSON (an ExportTraceServiceRequest, opentelemetry-proto's trace.proto in
 * proto3's JSON mapping as OTLP specifies it: hex trace and span IDs, enums as integers, 64-bit
 * integers as numbers or decimal strings) read into spans.
 *
 *   {"resourceSpans":[{"resource":{"attributes":[...]},
 *     "scopeSpans":[{"scope":{"name":"io.opentelemetry.http","version":"1.2"},
 *       "spans":[{"traceId":"5b8efff798038103d269b633813fc60c","spanId":"eee19b7ec3c1b174",
 *         "parentSpanId":"","name":"GET /cart","kind":2,
 *         "startTimeUnixNano":"1544712660000000000","endTimeUnixNano":"1544712661000000000",
 *         "attributes":[{"key":"http.method","value":{"stringValue":"GET"}}],
 *         "events":[{"timeUnixNano":"...","name":"retry","attributes":[...]}],
 *         "links":[{"traceId":"...","spanId":"...","attributes":[...]}],
 *         "status":{"code":2,"message":"timeout"}}]}]}]}
 *
 * As receivers must, members are also accepted under their proto names (resource_spans ...), the
 * enums also by name ("SPAN_KIND_SERVER"), unknown members are ignored, and the older
 * instrumentationLibrarySpans / instrumentationLibrary stand for scopeSpans / scope.
 */
#include <string.h>

#include "import/import_int.h"

static const char *json_type_name(const json_t *v)
{
	switch (json_typeof(v)) {
	case JSON_OBJECT:
		return "an object";
	case JSON_ARRAY:
		return "an array";
	case JSON_STRING:
		return "a string";
	case JSON_INTEGER:
	case JSON_REAL:
		return "a number";
	case JSON_TRUE:
	case JSON_FALSE:
		return "a boolean";
	default:
		return "null";
	}
}

static const char *const kind_names[] = {NULL, "server", "client", "producer", "consumer"};

/* OTLP SpanKind: 0 unspecified, 1 internal, 2 server, 3 client, 4 producer, 5 consumer. */
static int span_kind(hx__import *im, const json_t *v, const hx__jpath *p)
{
	static const char *const names[] = {"SPAN_KIND_UNSPECIFIED", "SPAN_KIND_INTERNAL",
	                                    "SPAN_KIND_SERVER", "SPAN_KIND_CLIENT",
	                                    "SPAN_KIND_PRODUCER", "SPAN_KIND_CONSUMER"};
	static const uint8_t map[] = {HX__SK_INTERNAL, HX__SK_INTERNAL, HX__SK_SERVER, HX__SK_CLIENT,
	                              HX__SK_PRODUCER, HX__SK_CONSUMER};
	long k = -1;
	if (!v)
		return HX__SK_INTERNAL;
	if (json_is_integer(v) && json_integer_value(v) >= 0 && json_integer_value(v) <= 5)
		k = (long)json_integer_value(v);
	for (int i = 0; i < 6 && json_is_string(v); i++)
		if (!strcmp(json_string_value(v), names[i]))
			k = i;
	if (k < 0) {
		hx__imp_warn(im, HX__IMPORT_WARN_UNKNOWN_KIND, p);
		return HX__SK_INTERNAL;
	}
	return map[k];
}

/* OTLP StatusCode: 0 unset, 1 ok, 2 error. Returns it, or 0 after a warning. */
static int status_code(hx__import *im, const json_t *v, const hx__jpath *p)
{
	static const char *const names[] = {"STATUS_CODE_UNSET", "STATUS_CODE_OK", "STATUS_CODE_ERROR"};
	if (!v)
		return 0;
	if (json_is_integer(v) && json_integer_value(v) >= 0 && json_integer_value(v) <= 2)
		return (int)json_integer_value(v);
	for (int i = 0; i < 3 && json_is_string(v); i++)
		if (!strcmp(json_string_value(v), names[i]))
			return i;
	hx__imp_warn(im, HX__IMPORT_WARN_UNKNOWN_STATUS, p);
	return 0;
}

/* A required ID: hex of `bytes` bytes, not all zero. 0, or -1 after rejecting. */
static int req_id(hx__import *im, const json_t *span, const char *a, const char *b, uint8_t *out,
                  size_t bytes, const hx__jpath *sp)
{
	hx__jpath p = {sp, a, 0};
	json_t *v = hx__imp_get(span, a, b);
	if (!v)
		return hx__imp_reject(im, &p, "missing");
	if (!json_is_string(v) ||
	    hx__imp_id(im, json_string_value(v), json_string_length(v), out, bytes, 0, &p))
		return hx__imp_reject(im, &p, "not %zu hex digits", 2 * bytes);
	static const uint8_t zero[16];
	if (!memcmp(out, zero, bytes))
		return hx__imp_reject(im, &p, "all zero (an invalid ID)");
	return 0;
}

static uint64_t id64(const uint8_t b[8])
{
	uint64_t x = 0;
	for (int i = 0; i < 8; i++)
		x = x << 8 | b[i];
	return x;
}

/* A time in ns: 0 when absent; -1 after rejecting when not an unsigned 64-bit integer. */
static int time_ns(hx__import *im, const json_t *o, const char *a, const char *b, uint64_t *out,
                   const hx__jpath *sp)
{
	*out = 0;
	json_t *v = hx__imp_get(o, a, b);
	if (!v)
		return 0;
	hx__jpath p = {sp, a, 0};
	if (hx__imp_u64(v, out))
		return hx__imp_reject(im, &p, "not an unsigned 64-bit integer (ns since the epoch)");
	return 0;
}

static int span_events(hx__import *im, const json_t *arr, const hx__jpath *p, hx__imp_span *s)
{
	if (!arr)
		return 0;
	if (!json_is_array(arr))
		return hx__imp_reject(im, p, "not an array");
	size_t n = json_array_size(arr);
	if (!n)
		return 0;
	s->points = hx__arena_alloc(&im->arena, n * sizeof(*s->points));
	if (!s->points)
		return -2;
	size_t i;
	json_t *e;
	json_array_foreach(arr, i, e) {
		hx__jpath q = {p, NULL, i};
		if (!json_is_object(e))
			return hx__imp_reject(im, &q, "not an object");
		hx__imp_point *pt = &s->points[i];
		hx__jpath qn = {&q, "name", 0}, qa = {&q, "attributes", 0};
		int rc = time_ns(im, e, "timeUnixNano", "time_unix_nano", &pt->time, &q);
		if (rc < 0)
			return rc;
		if ((rc = hx__imp_str(im, hx__imp_get(e, "name", NULL), &qn, &pt->name, &pt->name_len)) < 0)
			return rc;
		hx__imp_attrs l = {0};
		if ((rc = hx__imp_otlp_attrs(im, hx__imp_get(e, "attributes", NULL), &qa, &l)) < 0)
			return rc;
		pt->attrs = l.a;
		pt->nattrs = hx__imp_point_attrs_fit(im, l.a, l.n, &qa);
	}
	s->npoints = n;
	return 0;
}

static int span_links(hx__import *im, const json_t *arr, const hx__jpath *p, hx__imp_span *s)
{
	if (!arr)
		return 0;
	if (!json_is_array(arr))
		return hx__imp_reject(im, p, "not an array");
	size_t n = json_array_size(arr);
	if (!n)
		return 0;
	s->links = hx__arena_alloc(&im->arena, n * sizeof(*s->links));
	if (!s->links)
		return -2;
	size_t i;
	json_t *e;
	json_array_foreach(arr, i, e) {
		hx__jpath q = {p, NULL, i};
		if (!json_is_object(e))
			return hx__imp_reject(im, &q, "not an object");
		hx__imp_link *l = &s->links[i];
		uint8_t sid[8];
		if (req_id(im, e, "traceId", "trace_id", l->trace, 16, &q) ||
		    req_id(im, e, "spanId", "span_id", sid, 8, &q))
			return -1;
		l->span = id64(sid);
		hx__jpath qa = {&q, "attributes", 0};
		hx__imp_attrs al = {0};
		int rc = hx__imp_otlp_attrs(im, hx__imp_get(e, "attributes", NULL), &qa, &al);
		if (rc < 0)
			return rc;
		hx__imp_hx_link_attrs(l, &al);
		l->attrs = al.a;
		l->nattrs = hx__imp_point_attrs_fit(im, al.a, al.n, &qa);
	}
	s->nlinks = n;
	return 0;
}

typedef struct scope_info {
	const char *name, *version;
	size_t name_len, version_len;
} scope_info;

/* One span: 0 kept, -1 rejected, -2 no memory. */
static int span_read(hx__import *im, const json_t *js, const hx__jpath *sp, uint32_t res,
                     const scope_info *scope)
{
	if (!json_is_object(js))
		return hx__imp_reject(im, sp, "not an object but %s", json_type_name(js));
	hx__imp_span s;
	memset(&s, 0, sizeof(s));
	s.res = res;
	s.input = im->input;
	s.doc = im->doc;
	s.ordinal = (uint32_t)(im->doc_spans - 1); /* counted already */
	uint8_t sid[8];
	if (req_id(im, js, "traceId", "trace_id", s.trace, 16, sp) ||
	    req_id(im, js, "spanId", "span_id", sid, 8, sp))
		return -1;
	s.id = id64(sid);
	json_t *v = hx__imp_get(js, "parentSpanId", "parent_span_id");
	if (v && (!json_is_string(v) || json_string_length(v) > 0)) {
		hx__jpath p = {sp, "parentSpanId", 0};
		if (!json_is_string(v) ||
		    hx__imp_id(im, json_string_value(v), json_string_length(v), sid, 8, 0, &p))
			return hx__imp_reject(im, &p, "not 16 hex digits");
		s.parent = id64(sid); /* all zero: no parent, as an empty one */
	}
	hx__jpath pn = {sp, "name", 0}, pk = {sp, "kind", 0}, pa = {sp, "attributes", 0};
	hx__jpath pe = {sp, "events", 0}, pl = {sp, "links", 0}, pst = {sp, "status", 0};
	int rc = hx__imp_str(im, hx__imp_get(js, "name", NULL), &pn, &s.name, &s.name_len);
	if (rc < 0)
		return rc;
	s.kind = (uint8_t)span_kind(im, hx__imp_get(js, "kind", NULL), &pk);
	if ((rc = time_ns(im, js, "startTimeUnixNano", "start_time_unix_nano", &s.start, sp)) < 0 ||
	    (rc = time_ns(im, js, "endTimeUnixNano", "end_time_unix_nano", &s.end, sp)) < 0)
		return rc;
	if (s.start == 0) {
		hx__jpath p = {sp, "startTimeUnixNano", 0};
		return hx__imp_reject(im, &p, "missing or 0");
	}
	if (s.end == 0) {
		hx__imp_warn(im, HX__IMPORT_WARN_NO_END, sp);
		s.end = s.start;
	}
	hx__imp_attrs attrs = {0};
	if ((rc = hx__imp_otlp_attrs(im, hx__imp_get(js, "attributes", NULL), &pa, &attrs)) < 0 ||
	    (rc = span_events(im, hx__imp_get(js, "events", NULL), &pe, &s)) < 0 ||
	    (rc = span_links(im, hx__imp_get(js, "links", NULL), &pl, &s)) < 0)
		return rc;
	json_t *st = hx__imp_get(js, "status", NULL);
	int code = 0;
	if (st && !json_is_object(st))
		return hx__imp_reject(im, &pst, "not an object");
	if (st) {
		hx__jpath pc = {&pst, "code", 0}, pm = {&pst, "message", 0};
		code = status_code(im, hx__imp_get(st, "code", NULL), &pc);
		const char *msg;
		size_t mlen;
		if ((rc = hx__imp_str(im, hx__imp_get(st, "message", NULL), &pm, &msg, &mlen)) < 0)
			return rc;
		if (code == 2) {
			s.has_error = 1;
			s.error = mlen ? msg : "error";
			s.error_len = mlen ? mlen : 5;
		}
	}
	hx__imp_hx_span_attrs(&s, &attrs);
	for (size_t i = 0; i < attrs.n; i++) {
		const hx_attr *a = &attrs.a[i];
		if (a->type == HX_ATTR_INT && !strcmp(a->key, "thread.id")) {
			s.has_tid = 1;
			s.tid = a->v.i;
		} else if (a->type == HX_ATTR_STRING && !strcmp(a->key, "thread.name")) {
			s.thread_name = a->v.s.ptr;
		}
	}
	/* what OTLP says beside the attributes, kept as the attributes other tools use for it */
	if ((s.kind != HX__SK_INTERNAL &&
	     hx__imp_attr_str(im, &attrs, "span.kind", kind_names[s.kind], strlen(kind_names[s.kind]))) ||
	    (scope->name_len && hx__imp_attr_str(im, &attrs, "otel.scope.name", scope->name, scope->name_len)) ||
	    (scope->version_len &&
	     hx__imp_attr_str(im, &attrs, "otel.scope.version", scope->version, scope->version_len)) ||
	    (code == 1 && hx__imp_attr_str(im, &attrs, "otel.status_code", "OK", 2)))
		return -2;
	s.attrs = attrs.a;
	s.nattrs = attrs.n;
	hx__imp_span_fix_times(im, &s, sp);
	return hx__imp_span_add(im, &s) ? -2 : 0;
}

/* The resource: service, host, pid, program and the rest. 0, -1 rejected, -2 no memory. */
static int resource_read(hx__import *im, const json_t *jr, const hx__jpath *rp, hx__imp_res *r)
{
	hx__jpath pa = {rp, "attributes", 0};
	hx__imp_attrs l = {0}, rest = {0};
	if (jr && !json_is_object(jr))
		return hx__imp_reject(im, rp, "not an object");
	int rc = jr ? hx__imp_otlp_attrs(im, hx__imp_get(jr, "attributes", NULL), &pa, &l) : 0;
	if (rc < 0)
		return rc;
	const char *service = NULL, *host = "", *program = NULL, *command = NULL, *inst = "";
	size_t service_len = 0, host_len = 0, program_len = 0, command_len = 0, inst_len = 0;
	for (size_t i = 0; i < l.n; i++) {
		const hx_attr *a = &l.a[i];
		int str = a->type == HX_ATTR_STRING;
		if (str && !strcmp(a->key, "service.name")) {
			service = a->v.s.ptr;
			service_len = a->v.s.len;
		} else if (str && !strcmp(a->key, "host.name")) {
			host = a->v.s.ptr;
			host_len = a->v.s.len;
		} else if (str && !strcmp(a->key, "process.executable.name")) {
			program = a->v.s.ptr;
			program_len = a->v.s.len;
		} else if (str && !strcmp(a->key, "service.instance.id")) {
			inst = a->v.s.ptr;
			inst_len = a->v.s.len;
		} else if (a->type == HX_ATTR_INT && !strcmp(a->key, "process.pid") && a->v.i > 0) {
			r->pid = (uint64_t)a->v.i;
		} else {
			if (str && !strcmp(a->key, "process.command")) {
				command = a->v.s.ptr;
				command_len = a->v.s.len;
			}
			if (hx__imp_attrs_push(im, &rest, a))
				return -2;
		}
	}
	if (!service || !service_len) {
		hx__imp_warn(im, HX__IMPORT_WARN_NO_SERVICE, rp);
		service = "unknown_service";
		service_len = strlen(service);
	}
	if (!program) {
		program = command ? command : service;
		program_len = command ? command_len : service_len;
	}
	r->service = hx__imp_res_value(im, service, service_len, rp);
	r->host = hx__imp_res_value(im, host, host_len, rp);
	r->program = hx__imp_res_value(im, program, program_len, rp);
	r->instance_id = hx__imp_res_value(im, inst, inst_len, rp);
	r->attrs = rest.a;
	r->nattrs = rest.n;
	r->source = "otlp";
	return r->service && r->host && r->program && r->instance_id ? 0 : -2;
}

/* A short string the document's structure needs (a scope's name): a document error if wrong. */
static int doc_str(hx__import *im, const json_t *v, const hx__jpath *p, scope_info *si, int version)
{
	if (!v)
		return HX_OK;
	if (!json_is_string(v))
		return hx__imp_doc_error(im, p, "not a string but %s", json_type_name(v));
	if (json_string_length(v) > im->lim.max_string)
		return hx__imp_doc_error(im, p, "longer than %zu bytes", im->lim.max_string);
	char *s = hx__arena_strdup(&im->arena, json_string_value(v), json_string_length(v));
	if (!s)
		return HX_ENOMEM;
	*(version ? &si->version : &si->name) = s;
	*(version ? &si->version_len : &si->name_len) = json_string_length(v);
	return HX_OK;
}

static int resource_spans(hx__import *im, const json_t *rs, const hx__jpath *rp)
{
	hx__jpath pr = {rp, "resource", 0}, pss = {rp, "scopeSpans", 0};
	hx__imp_res r;
	memset(&r, 0, sizeof(r));
	uint64_t rejected = im->st.rejected;
	int rc = resource_read(im, hx__imp_get(rs, "resource", NULL), &pr, &r);
	if (rc == -2)
		return HX_ENOMEM;
	/* a bad resource rejects its spans, each counted (below), not itself */
	int res_bad = rc < 0;
	if (res_bad)
		im->st.rejected = rejected;
	uint32_t res = 0;
	if (!res_bad && hx__imp_res_add(im, &r, &res))
		return HX_ENOMEM;
	json_t *sss = hx__imp_get(rs, "scopeSpans", "scope_spans");
	if (!sss) {
		sss = hx__imp_get(rs, "instrumentationLibrarySpans", "instrumentation_library_spans");
		pss.key = "instrumentationLibrarySpans";
	}
	if (!sss)
		return HX_OK;
	if (!json_is_array(sss))
		return hx__imp_doc_error(im, &pss, "not an array but %s", json_type_name(sss));
	size_t i;
	json_t *ss;
	json_array_foreach(sss, i, ss) {
		hx__jpath pi = {&pss, NULL, i}, psc = {&pi, "scope", 0}, psp = {&pi, "spans", 0};
		if (!json_is_object(ss))
			return hx__imp_doc_error(im, &pi, "not an object but %s", json_type_name(ss));
		json_t *sc = hx__imp_get(ss, "scope", NULL);
		if (!sc) {
			sc = hx__imp_get(ss, "instrumentationLibrary", "instrumentation_library");
			psc.key = "instrumentationLibrary";
		}
		scope_info si = {"", "", 0, 0};
		if (sc && !json_is_object(sc))
			return hx__imp_doc_error(im, &psc, "not an object but %s", json_type_name(sc));
		hx__jpath pn = {&psc, "name", 0}, pv = {&psc, "version", 0};
		if (sc && ((rc = doc_str(im, hx__imp_get(sc, "name", NULL), &pn, &si, 0)) ||
		           (rc = doc_str(im, hx__imp_get(sc, "version", NULL), &pv, &si, 1))))
			return rc;
		json_t *spans = hx__imp_get(ss, "spans", NULL);
		if (!spans)
			continue;
		if (!json_is_array(spans))
			return hx__imp_doc_error(im, &psp, "not an array but %s", json_type_name(spans));
		size_t k;
		json_t *js;
		json_array_foreach(spans, k, js) {
			hx__jpath pk = {&psp, NULL, k};
			if ((rc = hx__imp_span_count(im, &pk)))
				return rc;
			if (res_bad) {
				im->st.rejected++;
				continue;
			}
			if (span_read(im, js, &pk, res, &si) == -2)
				return HX_ENOMEM;
		}
	}
	return HX_OK;
}

int hx__imp_otlp(hx__import *im, const json_t *root)
{
	if (!json_is_object(root))
		return hx__imp_doc_error(im, NULL, "expected an object (an OTLP ExportTraceServiceRequest), "
		                                   "found %s", json_type_name(root));
	hx__jpath prs = {NULL, "resourceSpans", 0};
	json_t *rss = hx__imp_get(root, "resourceSpans", "resource_spans");
	if (!rss) {
		/* an empty request is valid; an object of some other kind is probably a mistake */
		if (json_object_size(root) == 0)
			return HX_OK;
		return hx__imp_doc_error(im, NULL, "no resourceSpans member: not an OTLP trace request");
	}
	if (!json_is_array(rss))
		return hx__imp_doc_error(im, &prs, "not an array but %s", json_type_name(rss));
	size_t i;
	json_t *rs;
	json_array_foreach(rss, i, rs) {
		hx__jpath pi = {&prs, NULL, i};
		if (!json_is_object(rs))
			return hx__imp_doc_error(im, &pi, "not an object but %s", json_type_name(rs));
		int rc = resource_spans(im, rs, &pi);
		if (rc)
			return rc;
	}
	return HX_OK;
}
