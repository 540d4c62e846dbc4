/*
 * zipkin.c - Zipkin v2 JSON (POST /api/v2/spans: a list of spans, zipkin2's span model) read into
 * spans.
 *
 *   [{"traceId":"5af7183fb1d4cf5f","id":"352bff9a74ca9ad2","parentId":"6b221d5bc9e6496c",
 *     "name":"get /api","kind":"SERVER","timestamp":1556604172355737,"duration":1431,
 *     "localEndpoint":{"serviceName":"backend","ipv4":"192.168.99.1","port":3306},
 *     "remoteEndpoint":{"ipv4":"172.19.0.2","port":58648},
 *     "annotations":[{"timestamp":1556604172355800,"value":"wr"}],
 *     "tags":{"http.method":"GET","http.path":"/api"},"shared":true}]
 *
 * Times are microseconds. A 64-bit trace ID (16 hex digits) becomes the low half of a 128-bit one,
 * as Zipkin itself pads it. The local endpoint is the resource (service; host = its address, or
 * the tag host.name; pid = the tag process.pid, as hx export writes them); the remote endpoint
 * becomes the attributes peer.service, network.peer.address, network.peer.port.
 * Tags keep their JSON type (Zipkin sends strings; a number stays a number). "shared" marks the
 * server half of a span ID that the client half also uses (B3 single-span RPC): resolve.c pairs
 * the two.
 */
#include <string.h>

#include "import/import_int.h"

static uint64_t id64(const uint8_t b[8])
{
	uint64_t x = 0;
	for (int i = 0; i < 8; i++)
		x = x << 8 | b[i];
	return x;
}

/* An ID member: 1 to 2*bytes hex digits, left-padded. 1 read, 0 absent or "", -1 rejected. */
static int zid(hx__import *im, const json_t *span, const char *key, uint8_t *out, size_t bytes,
               const hx__jpath *sp)
{
	hx__jpath p = {sp, key, 0};
	json_t *v = hx__imp_get(span, key, NULL);
	memset(out, 0, bytes);
	if (!v || (json_is_string(v) && json_string_length(v) == 0))
		return 0;
	if (!json_is_string(v) ||
	    hx__imp_id(im, json_string_value(v), json_string_length(v), out, bytes, 1, &p))
		return hx__imp_reject(im, &p, "not 1 to %zu hex digits", 2 * bytes);
	return 1;
}

/* microseconds to ns: 0 absent, -1 rejected */
static int micros(hx__import *im, const json_t *o, const char *key, uint64_t *ns, int *present,
                  const hx__jpath *sp)
{
	hx__jpath p = {sp, key, 0};
	json_t *v = hx__imp_get(o, key, NULL);
	uint64_t us;
	*ns = 0;
	*present = 0;
	if (!v)
		return 0;
	if (hx__imp_u64(v, &us))
		return hx__imp_reject(im, &p, "not an unsigned integer (microseconds)");
	if (us > UINT64_MAX / 1000)
		return hx__imp_reject(im, &p, "beyond the year 2554 in nanoseconds");
	*ns = us * 1000;
	*present = 1;
	return 0;
}

/* One string member of an endpoint, copied: 0 or -1/-2 */
static int ep_str(hx__import *im, const json_t *ep, const char *key, const hx__jpath *ep_p,
                  const char **out, size_t *len)
{
	hx__jpath p = {ep_p, key, 0};
	int rc = hx__imp_str(im, hx__imp_get(ep, key, NULL), &p, out, len);
	return rc < 0 ? rc : 0;
}

/* What a tag may say of the resource, which Zipkin's endpoints cannot (hx export writes them). */
typedef struct res_tags {
	const char *host;
	size_t host_len;
	int64_t pid;
} res_tags;

static int tags_read(hx__import *im, const json_t *tags, const hx__jpath *tp, hx__imp_attrs *l,
                     hx__imp_span *s, res_tags *rt)
{
	if (!tags)
		return 0;
	if (!json_is_object(tags))
		return hx__imp_reject(im, tp, "not an object of strings");
	if (json_object_size(tags) > im->lim.max_attrs)
		return hx__imp_reject(im, tp, "%zu tags, over the limit of %zu", json_object_size(tags),
		                      im->lim.max_attrs);
	const char *key;
	json_t *v;
	json_object_foreach((json_t *)tags, key, v) {
		hx__jpath p = {tp, key, 0};
		size_t klen = strlen(key);
		if (klen > im->lim.max_string)
			return hx__imp_reject(im, tp, "a tag name of %zu bytes, over the limit of %zu", klen,
			                      im->lim.max_string);
		hx_attr a = {.key = hx__arena_strdup(&im->arena, key, klen)};
		if (!a.key)
			return -2;
		if (json_is_string(v)) {
			const char *sv;
			size_t n;
			int rc = hx__imp_str(im, v, &p, &sv, &n);
			if (rc < 0)
				return rc;
			a.type = HX_ATTR_STRING;
			a.v.s.ptr = sv;
			a.v.s.len = n;
			if (!strcmp(key, "host.name")) {
				rt->host = sv;
				rt->host_len = n;
				continue;
			}
			if (!strcmp(key, "process.pid") && !hx__imp_i64(v, &rt->pid) && rt->pid > 0)
				continue;
			if (!strcmp(key, "error")) {
				s->has_error = 1;
				s->error = n ? sv : "error";
				s->error_len = n ? n : 5;
			} else if (!strcmp(key, "thread.name")) {
				s->thread_name = sv;
			} else if (!strcmp(key, "thread.id") && !hx__imp_i64(v, &s->tid)) {
				s->has_tid = 1;
			}
		} else if (json_is_integer(v)) {
			a.type = HX_ATTR_INT;
			a.v.i = (int64_t)json_integer_value(v);
			if (!strcmp(key, "thread.id")) {
				s->has_tid = 1;
				s->tid = a.v.i;
			}
		} else if (json_is_real(v)) {
			a.type = HX_ATTR_DOUBLE;
			a.v.d = json_real_value(v);
		} else if (json_is_boolean(v)) {
			a.type = HX_ATTR_BOOL;
			a.v.b = json_is_true(v);
		} else {
			hx__imp_warn(im, HX__IMPORT_WARN_VALUE_DROPPED, &p);
			continue;
		}
		if (hx__imp_attrs_push(im, l, &a))
			return -2;
	}
	return 0;
}

static int annotations_read(hx__import *im, const json_t *arr, const hx__jpath *ap, hx__imp_span *s)
{
	if (!arr)
		return 0;
	if (!json_is_array(arr))
		return hx__imp_reject(im, ap, "not an array");
	size_t n = json_array_size(arr);
	if (!n)
		return 0;
	s->points = hx__arena_alloc(&im->arena, n * sizeof(*s->points));
	if (!s->points)
		return -2;
	size_t i;
	json_t *e;
	json_array_foreach(arr, i, e) {
		hx__jpath q = {ap, NULL, i}, qv = {&q, "value", 0};
		if (!json_is_object(e))
			return hx__imp_reject(im, &q, "not an object");
		hx__imp_point *pt = &s->points[i];
		int present, rc = micros(im, e, "timestamp", &pt->time, &present, &q);
		if (rc < 0)
			return rc;
		if ((rc = hx__imp_str(im, hx__imp_get(e, "value", NULL), &qv, &pt->name, &pt->name_len)) < 0)
			return rc;
	}
	s->npoints = n;
	return 0;
}

static int span_kind(hx__import *im, const json_t *v, const hx__jpath *p)
{
	static const char *const names[] = {"SERVER", "CLIENT", "PRODUCER", "CONSUMER"};
	static const uint8_t kinds[] = {HX__SK_SERVER, HX__SK_CLIENT, HX__SK_PRODUCER, HX__SK_CONSUMER};
	if (!v)
		return HX__SK_INTERNAL;
	for (int i = 0; i < 4 && json_is_string(v); i++)
		if (!strcmp(json_string_value(v), names[i]))
			return kinds[i];
	hx__imp_warn(im, HX__IMPORT_WARN_UNKNOWN_KIND, p);
	return HX__SK_INTERNAL;
}

/* The local endpoint (and the resource tags) as a resource (deduplicated): 0, -1, -2. */
static int local_endpoint(hx__import *im, const json_t *ep, const hx__jpath *ep_p, const res_tags *rt,
                          uint32_t *res)
{
	hx__imp_res r;
	memset(&r, 0, sizeof(r));
	const char *service = "", *v4 = "", *v6 = "";
	size_t service_len = 0, v4_len = 0, v6_len = 0;
	if (ep && !json_is_object(ep))
		return hx__imp_reject(im, ep_p, "not an object");
	if (ep && (ep_str(im, ep, "serviceName", ep_p, &service, &service_len) ||
	           ep_str(im, ep, "ipv4", ep_p, &v4, &v4_len) || ep_str(im, ep, "ipv6", ep_p, &v6, &v6_len)))
		return -1;
	if (!service_len) {
		hx__imp_warn(im, HX__IMPORT_WARN_NO_SERVICE, ep_p);
		service = "unknown_service";
		service_len = strlen(service);
	}
	r.service = hx__imp_res_value(im, service, service_len, ep_p);
	if (rt->host_len)
		r.host = hx__imp_res_value(im, rt->host, rt->host_len, ep_p);
	else if (v4_len)
		r.host = hx__imp_res_value(im, v4, v4_len, ep_p);
	else
		r.host = hx__imp_res_value(im, v6, v6_len, ep_p);
	r.pid = rt->pid > 0 ? (uint64_t)rt->pid : 0;
	r.program = r.service;
	r.instance_id = "";
	r.source = "zipkin";
	if (!r.service || !r.host)
		return -2;
	return hx__imp_res_add(im, &r, res) ? -2 : 0;
}

static int remote_endpoint(hx__import *im, const json_t *ep, const hx__jpath *ep_p, hx__imp_attrs *l)
{
	if (!ep)
		return 0;
	if (!json_is_object(ep))
		return hx__imp_reject(im, ep_p, "not an object");
	const char *service, *v4, *v6;
	size_t service_len, v4_len, v6_len;
	if (ep_str(im, ep, "serviceName", ep_p, &service, &service_len) ||
	    ep_str(im, ep, "ipv4", ep_p, &v4, &v4_len) || ep_str(im, ep, "ipv6", ep_p, &v6, &v6_len))
		return -1;
	if ((service_len && hx__imp_attr_str(im, l, "peer.service", service, service_len)) ||
	    (v4_len && hx__imp_attr_str(im, l, "network.peer.address", v4, v4_len)) ||
	    (!v4_len && v6_len && hx__imp_attr_str(im, l, "network.peer.address", v6, v6_len)))
		return -2;
	json_t *port = hx__imp_get(ep, "port", NULL);
	if (json_is_integer(port)) {
		hx_attr a = {.key = "network.peer.port", .type = HX_ATTR_INT};
		a.v.i = (int64_t)json_integer_value(port);
		if (hx__imp_attrs_push(im, l, &a))
			return -2;
	}
	return 0;
}

/* One span: 0 kept, -1 rejected, -2 no memory. */
static int span_read(hx__import *im, const json_t *js, const hx__jpath *sp)
{
	static const char *const kind_names[] = {NULL, "server", "client", "producer", "consumer"};
	if (!json_is_object(js))
		return hx__imp_reject(im, sp, "not a span object");
	hx__imp_span s;
	memset(&s, 0, sizeof(s));
	s.input = im->input;
	s.doc = im->doc;
	s.ordinal = (uint32_t)(im->doc_spans - 1); /* counted already */
	uint8_t b[8];
	static const uint8_t zero[16];
	int rc = zid(im, js, "traceId", s.trace, 16, sp);
	if (rc <= 0 || !memcmp(s.trace, zero, 16)) {
		hx__jpath p = {sp, "traceId", 0};
		return rc < 0 ? rc : hx__imp_reject(im, &p, "missing or all zero");
	}
	if ((rc = zid(im, js, "id", b, 8, sp)) <= 0 || !(s.id = id64(b))) {
		hx__jpath p = {sp, "id", 0};
		return rc < 0 ? rc : hx__imp_reject(im, &p, "missing or all zero");
	}
	if ((rc = zid(im, js, "parentId", b, 8, sp)) < 0)
		return rc;
	s.parent = id64(b);
	hx__jpath pn = {sp, "name", 0}, pk = {sp, "kind", 0}, pl = {sp, "localEndpoint", 0};
	hx__jpath pr = {sp, "remoteEndpoint", 0}, pa = {sp, "annotations", 0}, pt = {sp, "tags", 0};
	hx__jpath psh = {sp, "shared", 0};
	if ((rc = hx__imp_str(im, hx__imp_get(js, "name", NULL), &pn, &s.name, &s.name_len)) < 0)
		return rc;
	s.kind = (uint8_t)span_kind(im, hx__imp_get(js, "kind", NULL), &pk);
	int has_ts, has_dur;
	uint64_t dur;
	if ((rc = micros(im, js, "timestamp", &s.start, &has_ts, sp)) < 0 ||
	    (rc = micros(im, js, "duration", &dur, &has_dur, sp)) < 0)
		return rc;
	json_t *shared = hx__imp_get(js, "shared", NULL);
	if (shared && !json_is_boolean(shared))
		return hx__imp_reject(im, &psh, "not true or false");
	s.shared = shared && json_is_true(shared);
	hx__imp_attrs attrs = {0};
	res_tags rt = {NULL, 0, 0};
	if ((rc = tags_read(im, hx__imp_get(js, "tags", NULL), &pt, &attrs, &s, &rt)) < 0 ||
	    (rc = local_endpoint(im, hx__imp_get(js, "localEndpoint", NULL), &pl, &rt, &s.res)) < 0 ||
	    (rc = annotations_read(im, hx__imp_get(js, "annotations", NULL), &pa, &s)) < 0 ||
	    (rc = remote_endpoint(im, hx__imp_get(js, "remoteEndpoint", NULL), &pr, &attrs)) < 0)
		return rc;
	if (!has_ts || s.start == 0) {
		/* an incomplete span (a late annotation reported alone): its annotations' times */
		if (!s.npoints) {
			hx__jpath p = {sp, "timestamp", 0};
			return hx__imp_reject(im, &p, "missing or 0, and no annotations to take it from");
		}
		hx__imp_warn(im, HX__IMPORT_WARN_NO_START, sp);
		uint64_t lo = UINT64_MAX, hi = 0;
		for (size_t i = 0; i < s.npoints; i++) {
			if (s.points[i].time && s.points[i].time < lo)
				lo = s.points[i].time;
			if (s.points[i].time > hi)
				hi = s.points[i].time;
		}
		if (!hi) {
			hx__jpath p = {sp, "timestamp", 0};
			return hx__imp_reject(im, &p, "missing or 0, and no annotation has a time");
		}
		s.start = lo;
		s.end = hi;
	} else if (has_dur) {
		if (dur > UINT64_MAX - s.start) {
			hx__jpath p = {sp, "duration", 0};
			return hx__imp_reject(im, &p, "ends beyond the year 2554");
		}
		s.end = s.start + dur;
	} else {
		hx__imp_warn(im, HX__IMPORT_WARN_NO_END, sp);
		s.end = s.start;
	}
	hx__imp_hx_span_attrs(&s, &attrs);
	if (s.kind != HX__SK_INTERNAL &&
	    hx__imp_attr_str(im, &attrs, "span.kind", kind_names[s.kind], strlen(kind_names[s.kind])))
		return -2;
	s.attrs = attrs.a;
	s.nattrs = attrs.n;
	hx__imp_span_fix_times(im, &s, sp);
	return hx__imp_span_add(im, &s) ? -2 : 0;
}

int hx__imp_zipkin(hx__import *im, const json_t *root)
{
	if (!json_is_array(root))
		return hx__imp_doc_error(im, NULL, "expected an array of Zipkin v2 spans, found %s",
		                         json_is_object(root) ? "an object" : "another JSON value");
	size_t i;
	json_t *js;
	json_array_foreach(root, i, js) {
		hx__jpath p = {NULL, NULL, i};
		int rc = hx__imp_span_count(im, &p);
		if (rc)
			return rc;
		if (span_read(im, js, &p) == -2)
			return HX_ENOMEM;
	}
	return HX_OK;
}
