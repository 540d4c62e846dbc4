/*
 * query_analysis.c - query strings of the analysis endpoints (query_analysis.h): aggregates,
 * dependencies, the completion log. Like query.c, every refusal names the parameter and says what
 * it accepts.
 */
#include "server/query_analysis.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int fail(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
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

/* A decimal number without sign, spaces or overflow, in [min, max]. */
static int number(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
	uint64_t v = 0;
	size_t n = strlen(s);
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
	if (v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

/* from and to: times, from <= to when both are given. */
static int time_range(const hx__query *q, uint64_t *from, uint64_t *to, char *err, size_t errlen)
{
	static const char *const keys[2] = {"from", "to"};
	uint64_t *dst[2] = {from, to};
	for (int i = 0; i < 2; i++) {
		const char *v = hx__query_get(q, keys[i]);
		*dst[i] = 0;
		if (v && hx__parse_time(v, dst[i]))
			return fail(err, errlen,
			            "'%s' must be a time: ns since the epoch, or RFC 3339 such as "
			            "2026-11-24T10:20:00Z (got '%.64s')", keys[i], v);
	}
	if (*from && *to && *from > *to)
		return fail(err, errlen, "'from' is after 'to'");
	return 0;
}

/* ---- GET /api/aggregates ---- */

static int has_key(const hx__aggs_req *r, hx__agg_key k, const char *attr)
{
	for (size_t i = 0; i < r->nkeys; i++)
		if (r->keys[i] == k && (k != HX__AGG_ATTR || !strcmp(r->attr_keys[i], attr)))
			return 1;
	return 0;
}

/* group_by: one key or several separated by commas. The decoded copy is ours to cut at commas. */
static int group_by(hx__aggs_req *r, char *v, char *err, size_t errlen)
{
	static const struct {
		const char *name;
		hx__agg_key key;
	} plain[] = {{"service", HX__AGG_SERVICE}, {"root", HX__AGG_ROOT}, {"host", HX__AGG_HOST},
	             {"name", HX__AGG_NAME}};
	char *p = v;
	for (;;) {
		char *comma = strchr(p, ',');
		if (comma)
			*comma = '\0';
		hx__agg_key k = HX__AGG_ALL;
		const char *attr = NULL;
		for (size_t i = 0; i < sizeof(plain) / sizeof(plain[0]); i++)
			if (!strcmp(p, plain[i].name))
				k = plain[i].key;
		if (k == HX__AGG_ALL && (!strncmp(p, "attr.", 5) || !strncmp(p, "attr:", 5)) && p[5]) {
			k = HX__AGG_ATTR;
			attr = p + 5;
		}
		if (k == HX__AGG_ALL)
			return fail(err, errlen, "'group_by' takes service, root, host, name or attr.KEY, "
			                         "several separated by commas (got '%.64s')", p);
		if (has_key(r, k, attr)) {
			if (k != HX__AGG_NAME || !r->name) /* group_by=name beside name= is no news */
				return fail(err, errlen, "'group_by' names '%.64s' twice", p);
		} else {
			if (r->nkeys == 4)
				return fail(err, errlen, "'group_by' takes at most %d keys (with 'name', 3)",
				            r->name ? 3 : 4);
			r->keys[r->nkeys] = k;
			r->attr_keys[r->nkeys] = attr;
			r->key_names[r->nkeys] = p;
			r->nkeys++;
		}
		if (!comma)
			return 0;
		p = comma + 1;
	}
}

int hx__aggs_parse(hx__aggs_req *r, const char *qs, size_t len, char *err, size_t errlen)
{
	static const char *const allowed[] = {"name", "group_by", "metric", "where", "from", "to",
	                                      "buckets", NULL};
	memset(r, 0, sizeof(*r));
	if (hx__query_parse(&r->raw, qs, len, allowed, err, errlen))
		return -1;
	hx__query *q = &r->raw;
	const char *v;
	if (time_range(q, &r->from_ns, &r->to_ns, err, errlen))
		goto bad;
	r->name = hx__query_get(q, "name");
	if (r->name && strlen(r->name) > HX__AGGQ_TEXT_MAX) {
		fail(err, errlen, "'name' is longer than %d bytes", HX__AGGQ_TEXT_MAX);
		goto bad;
	}
	if (r->name) {
		r->keys[0] = HX__AGG_NAME;
		r->key_names[0] = "name";
		r->nkeys = 1;
	}
	if ((v = hx__query_get(q, "group_by"))) {
		if (strlen(v) > HX__AGGQ_TEXT_MAX) {
			fail(err, errlen, "'group_by' is longer than %d bytes", HX__AGGQ_TEXT_MAX);
			goto bad;
		}
		if (group_by(r, (char *)v, err, errlen))
			goto bad;
	}
	/* the metric's name is checked with the grouping by the aggregator (hx__agg_config_check) */
	r->metric = r->name ? "total" : "duration"; /* a name asks about that block's time */
	if ((v = hx__query_get(q, "metric"))) {
		if (strlen(v) > 64) {
			fail(err, errlen, "'metric' is longer than 64 bytes");
			goto bad;
		}
		r->metric = v;
	}
	if ((v = hx__query_get(q, "where"))) {
		if (strlen(v) > HX__AGGQ_TEXT_MAX) {
			fail(err, errlen, "'where' is longer than %d bytes", HX__AGGQ_TEXT_MAX);
			goto bad;
		}
		r->where = v;
	}
	r->buckets = HX__AGGQ_BUCKETS_DEFAULT;
	if ((v = hx__query_get(q, "buckets"))) {
		uint64_t b;
		if (number(v, HX__AGGQ_BUCKETS_MIN, HX__AGGQ_BUCKETS_MAX, &b)) {
			fail(err, errlen, "'buckets' must be a number from %d to %d (got '%.64s')",
			     HX__AGGQ_BUCKETS_MIN, HX__AGGQ_BUCKETS_MAX, v);
			goto bad;
		}
		r->buckets = (unsigned)b;
	}
	return 0;
bad:
	hx__aggs_free(r);
	return -1;
}

void hx__aggs_free(hx__aggs_req *r)
{
	hx__query_free(&r->raw);
	memset(r, 0, sizeof(*r));
}

/* ---- GET /api/dependencies ---- */

int hx__deps_parse(hx__deps_req *r, const char *qs, size_t len, char *err, size_t errlen)
{
	static const char *const allowed[] = {"from", "to", "by", NULL};
	memset(r, 0, sizeof(*r));
	hx__query q;
	if (hx__query_parse(&q, qs, len, allowed, err, errlen))
		return -1;
	int rc = time_range(&q, &r->from_ns, &r->to_ns, err, errlen);
	const char *v = hx__query_get(&q, "by");
	if (!rc && v) {
		if (!strcmp(v, "entity"))
			r->by_entity = 1;
		else if (strcmp(v, "service"))
			rc = fail(err, errlen, "'by' must be service or entity (got '%.64s')", v);
	}
	hx__query_free(&q);
	return rc;
}

/* ---- GET /api/complete ---- */

int hx__complete_parse(hx__complete_req *r, const char *qs, size_t len, char *err, size_t errlen)
{
	static const char *const allowed[] = {"after", "limit", NULL};
	memset(r, 0, sizeof(*r));
	r->limit = HX__COMPLETEQ_LIMIT_DEFAULT;
	hx__query q;
	if (hx__query_parse(&q, qs, len, allowed, err, errlen))
		return -1;
	int rc = 0;
	const char *v;
	uint64_t n;
	if ((v = hx__query_get(&q, "after")) && number(v, 0, INT64_MAX, &r->after))
		rc = fail(err, errlen, "'after' must be the 'next' of an earlier answer (got '%.64s')", v);
	if (!rc && (v = hx__query_get(&q, "limit"))) {
		if (number(v, 1, HX__QUERY_LIMIT_MAX, &n))
			rc = fail(err, errlen, "'limit' must be a number from 1 to %d (got '%.64s')",
			          HX__QUERY_LIMIT_MAX, v);
		else
			r->limit = (size_t)n;
	}
	hx__query_free(&q);
	return rc;
}
