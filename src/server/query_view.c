/*
 * query_view.c - the viewer endpoints' paths and query strings (query_view.h): which endpoint,
 * which trace, and every parameter checked before any model is built or looked at.
 *
 * The endpoint name is checked before the trace ID, so that /api/traces/ID/nonsense is "no such
 * endpoint" (404) whatever ID it names, as for any unknown path. Numbers are parsed by hand (as in
 * query.c) so that signs, spaces, hex prefixes and overflows are refused alike, and each error
 * names the parameter and what it accepts.
 */
#include "server/query_view.h"
#include "server/query.h"
#include "format/format.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LANES_MAX 65536u

static int fail(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int fail(char *err, size_t errlen, const char *fmt, ...)
{
	if (err && errlen) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return -1;
}

/* Decimal digits only, at most `max`; 0 or -1. */
static int parse_dec(const char *s, size_t n, uint64_t max, uint64_t *out)
{
	uint64_t v = 0;
	if (n == 0 || n > 20)
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		unsigned d = (unsigned)(s[i] - '0');
		if (v > (UINT64_MAX - d) / 10)
			return -1;
		v = v * 10 + d;
	}
	if (v > max)
		return -1;
	*out = v;
	return 0;
}

int hx__view_parse_event_id(const char *s, char out[HX__VIEW_EVENT_ID_MAX])
{
	const char *colon = strchr(s, ':');
	if (!colon || colon - s != 16)
		return -1;
	uint64_t entity = 0, seq;
	for (int i = 0; i < 16; i++) {
		int h = hx__hexval((unsigned char)s[i]);
		if (h < 0)
			return -1;
		entity = entity << 4 | (uint64_t)h;
	}
	if (parse_dec(colon + 1, strlen(colon + 1), UINT64_MAX, &seq))
		return -1;
	snprintf(out, HX__VIEW_EVENT_ID_MAX, "%016llx:%llu", (unsigned long long)entity,
	         (unsigned long long)seq);
	return 0;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? -1 : x > y;
}

static int lanes_param(hx__view_params *p, const char *v, char *err, size_t errlen)
{
	size_t n = 1;
	for (const char *c = v; *c; c++)
		n += *c == ',';
	if (n > LANES_MAX)
		return fail(err, errlen, "'lanes' lists more than %u lanes", LANES_MAX);
	p->lanes = malloc(2 * n * sizeof(*p->lanes)); /* the list, then a sorted copy */
	if (!p->lanes)
		return fail(err, errlen, "out of memory");
	const char *s = v;
	for (size_t i = 0; i < n; i++) {
		const char *comma = strchr(s, ',');
		size_t len = comma ? (size_t)(comma - s) : strlen(s);
		uint64_t lane;
		if (parse_dec(s, len, UINT32_MAX - 1, &lane))
			return fail(err, errlen, "'lanes' must be lane numbers separated by commas, such as "
			                         "0,3,4 (got '%.64s')", v);
		p->lanes[i] = (uint32_t)lane;
		s += len + 1;
	}
	uint32_t *sorted = p->lanes + n;
	memcpy(sorted, p->lanes, n * sizeof(*sorted));
	qsort(sorted, n, sizeof(*sorted), cmp_u32);
	for (size_t i = 1; i < n; i++)
		if (sorted[i] == sorted[i - 1])
			return fail(err, errlen, "'lanes' lists lane %u twice", sorted[i]);
	p->nlanes = n;
	return 0;
}

static int window_params(hx__view_params *p, const hx__query *q, char *err, size_t errlen)
{
	const char *from = hx__query_get(q, "from"), *to = hx__query_get(q, "to");
	if (!from || !to)
		return fail(err, errlen, "'from' and 'to' are required: the window, in ns since the epoch");
	if (hx__parse_time(from, &p->from_ns))
		return fail(err, errlen, "'from' must be a time: ns since the epoch, or RFC 3339 "
		                         "(got '%.64s')", from);
	if (hx__parse_time(to, &p->to_ns))
		return fail(err, errlen, "'to' must be a time: ns since the epoch, or RFC 3339 "
		                         "(got '%.64s')", to);
	if (p->from_ns >= p->to_ns)
		return fail(err, errlen, "'from' must be before 'to'");
	const char *lanes = hx__query_get(q, "lanes");
	return lanes ? lanes_param(p, lanes, err, errlen) : 0;
}

/* An optional number in [min, max]; *out keeps its default when absent. */
static int range_param(const hx__query *q, const char *key, uint32_t min, uint32_t max,
                       uint32_t *out, char *err, size_t errlen)
{
	const char *v = hx__query_get(q, key);
	uint64_t x;
	if (!v)
		return 0;
	if (parse_dec(v, strlen(v), UINT64_MAX, &x) || x < min || x > max)
		return fail(err, errlen, "'%s' must be a number from %u to %u (got '%.64s')", key, min,
		            max, v);
	*out = (uint32_t)x;
	return 0;
}

static int lod_params(hx__view_params *p, const hx__query *q, char *err, size_t errlen)
{
	if (window_params(p, q, err, errlen))
		return -1;
	if (!hx__query_get(q, "px"))
		return fail(err, errlen, "'px' is required: the window's width in columns, 1 to %u",
		            HX__VIEW_PX_MAX);
	p->min_px = 1;
	p->max_items = HX__VIEW_ITEMS_DEFAULT;
	p->arrows = 1;
	if (range_param(q, "px", 1, HX__VIEW_PX_MAX, &p->px, err, errlen) ||
	    range_param(q, "min_px", 1, HX__VIEW_MIN_PX_MAX, &p->min_px, err, errlen) ||
	    range_param(q, "max_items", HX__VIEW_ITEMS_MIN, HX__VIEW_ITEMS_MAX, &p->max_items, err,
	                errlen))
		return -1;
	const char *v = hx__query_get(q, "arrows");
	if (v && !strcmp(v, "false"))
		p->arrows = 0;
	else if (v && strcmp(v, "true"))
		return fail(err, errlen, "'arrows' must be true or false (got '%.64s')", v);
	return 0;
}

static int event_params(hx__view_params *p, const hx__query *q, char *err, size_t errlen)
{
	const char *id = hx__query_get(q, "id"), *e = hx__query_get(q, "e");
	if (!id == !e)
		return fail(err, errlen, "give the event as 'id' (ENTITY:SEQ) or as 'e' (its index), one "
		                         "of them");
	if (id && hx__view_parse_event_id(id, p->event_id))
		return fail(err, errlen, "'id' must be an event ID: 16 hex digits, a colon and a sequence "
		                         "number, such as 3f2a0b1c4d5e6f70:17 (got '%.64s')", id);
	uint64_t x;
	if (e && parse_dec(e, strlen(e), HX__VIEW_NO_EVENT - 1, &x))
		return fail(err, errlen, "'e' must be an event index, a number (got '%.64s')", e);
	if (e)
		p->e = (uint32_t)x;
	return 0;
}

static int find_params(hx__view_params *p, const hx__query *q, char *err, size_t errlen)
{
	const char *text = hx__query_get(q, "q"), *after = hx__query_get(q, "after");
	const char *dir = hx__query_get(q, "dir");
	if (!text)
		return fail(err, errlen, "'q' is required: the text to find");
	size_t n = strlen(text);
	if (n > HX__VIEW_TEXT_MAX)
		return fail(err, errlen, "'q' is longer than %u bytes", HX__VIEW_TEXT_MAX);
	if (after && hx__view_parse_event_id(after, p->event_id))
		return fail(err, errlen, "'after' must be an event ID: 16 hex digits, a colon and a "
		                         "sequence number (got '%.64s')", after);
	p->dir = 1;
	if (dir && !strcmp(dir, "prev"))
		p->dir = -1;
	else if (dir && strcmp(dir, "next"))
		return fail(err, errlen, "'dir' must be next or prev (got '%.64s')", dir);
	p->text = malloc(n + 1);
	if (!p->text)
		return fail(err, errlen, "out of memory");
	memcpy(p->text, text, n + 1);
	return 0;
}

static const struct {
	const char *name;
	hx__view_endpoint ep;
	const char *const allowed[8];
} endpoints[] = {
	{"view", HX__VIEW_OVERVIEW, {NULL}},
	{"lod", HX__VIEW_LOD, {"from", "to", "px", "lanes", "min_px", "max_items", "arrows", NULL}},
	{"event", HX__VIEW_EVENT, {"id", "e", NULL}},
	{"find", HX__VIEW_FIND, {"q", "after", "dir", NULL}},
	{"range", HX__VIEW_RANGE, {"from", "to", "lanes", NULL}},
	{"critical-path", HX__VIEW_CRITPATH, {NULL}},
};

int hx__view_parse(hx__view_params *p, const char *tail, const char *qs, size_t len, char *err,
                   size_t errlen)
{
	memset(p, 0, sizeof(*p));
	p->e = HX__VIEW_NO_EVENT;
	const char *slash = tail ? strchr(tail, '/') : NULL;
	if (!slash) {
		fail(err, errlen, "no such endpoint");
		return HX__VIEW_PARSE_NO_ENDPOINT;
	}
	size_t k;
	for (k = 0; k < sizeof(endpoints) / sizeof(endpoints[0]); k++)
		if (!strcmp(slash + 1, endpoints[k].name))
			break;
	if (k == sizeof(endpoints) / sizeof(endpoints[0])) {
		fail(err, errlen, "no such endpoint: /api/traces/ID/%.64s", slash + 1);
		return HX__VIEW_PARSE_NO_ENDPOINT;
	}
	p->ep = endpoints[k].ep;
	char id[33];
	size_t idlen = (size_t)(slash - tail);
	if (idlen != 32) {
		return fail(err, errlen, "a trace ID is 32 hex digits (got '%.*s')",
		            (int)(idlen < 64 ? idlen : 64), tail);
	}
	memcpy(id, tail, 32);
	id[32] = '\0';
	if (hx__parse_hex(id, 32, p->trace_id))
		return fail(err, errlen, "a trace ID is 32 hex digits (got '%s')", id);
	hx__query q;
	if (hx__query_parse(&q, qs, len, endpoints[k].allowed, err, errlen))
		return -1;
	int rc = 0;
	switch (p->ep) {
	case HX__VIEW_LOD:
		rc = lod_params(p, &q, err, errlen);
		break;
	case HX__VIEW_EVENT:
		rc = event_params(p, &q, err, errlen);
		break;
	case HX__VIEW_FIND:
		rc = find_params(p, &q, err, errlen);
		break;
	case HX__VIEW_RANGE:
		rc = window_params(p, &q, err, errlen);
		break;
	case HX__VIEW_OVERVIEW:
	case HX__VIEW_CRITPATH:
		break;
	}
	hx__query_free(&q);
	if (rc) {
		hx__view_params_free(p);
		return -1;
	}
	return 0;
}

void hx__view_params_free(hx__view_params *p)
{
	free(p->lanes);
	free(p->text);
	p->lanes = NULL;
	p->text = NULL;
	p->nlanes = 0;
}
