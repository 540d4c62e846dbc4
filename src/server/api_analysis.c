/*
 * api_analysis.c - GET /api/aggregates, GET /api/dependencies and GET /api/complete
 * (docs/http-api.md): answers from the features the service extracted from complete traces
 * (features_db.h), never from the store itself.
 *
 * The work of one request is bounded: an aggregation reads at most AGG_SCAN_MAX traces (the
 * newest that match the time range and name) and answers at most AGG_GROUPS_MAX groups; the
 * dependency graph reads at most DEPS_SCAN_MAX (edge, minute) rows. Answers say what they read
 * ("scanned") and whether more matched ("truncated").
 */
#include "server/server.h"

#include <event2/http.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "server/features_db.h"
#include "server/query_analysis.h"

#define AGG_SCAN_MAX 100000
#define AGG_GROUPS_MAX 1000
#define DEPS_SCAN_MAX 200000

static const char hexd[] = "0123456789abcdef";

static void db_error(hx__server *srv, struct evhttp_request *req, int rc)
{
	hx__buf msg = HX__BUF_INIT;
	hx__buf_printf(&msg, "the features database failed: %s", hx_strerror(rc));
	hx__http_error(srv, req, rc == HX_ENOMEM ? 503 : 500, msg.p ? msg.p : "features.db failed");
	hx__buf_free(&msg);
}

static hx__fdb *db_or_503(hx__server *srv, struct evhttp_request *req)
{
	hx__fdb *db = hx__extract_db(srv);
	if (!db)
		hx__http_error(srv, req, 503, "continuous analysis is not running");
	return db;
}

/* A number: integers as integers, others with 3 decimals (means of counts). */
static int num(hx__buf *b, double v)
{
	if (!isfinite(v))
		return hx__buf_puts(b, "null");
	if (v == floor(v) && fabs(v) < 9e18)
		return hx__buf_printf(b, "%.0f", v);
	return hx__buf_printf(b, "%.3f", v);
}

/* ---- GET /api/aggregates ---- */

typedef struct agg_ctx {
	hx__agg *a;
	const char *name;
	int err;
} agg_ctx;

static int on_features(const hx__features *f, void *user)
{
	agg_ctx *c = user;
	if (!c->name) {
		c->err = hx__agg_add(c->a, f);
		return c->err != HX_OK;
	}
	/* only the named block is in scope: the same trace seen with that one block */
	hx__features one = *f;
	one.nblocks = 0;
	for (size_t i = 0; i < f->nblocks; i++)
		if (!strcmp(f->blocks[i].name, c->name)) {
			one.blocks = &f->blocks[i];
			one.nblocks = 1;
			break;
		}
	if (!one.nblocks)
		return 0;
	c->err = hx__agg_add(c->a, &one);
	return c->err != HX_OK;
}

/* The aggregator's histogram ({"count":N,"buckets":[{"lower_bound":L,"count":C},...]}, about 60
 * buckets on a log scale) as [[lower, count], ...] with neighbours merged to at most `want`. */
static int histogram(hx__buf *out, const char *json, unsigned want)
{
	double lower[512];
	uint64_t count[512];
	size_t n = 0;
	const char *p = strstr(json, "\"buckets\":[");
	if (!p)
		return HX_EFORMAT;
	p += 11;
	while (*p == '{' && n < 512) {
		const char *l = strstr(p, "\"lower_bound\":"), *c = strstr(p, "\"count\":");
		const char *end = strchr(p, '}');
		if (!l || !c || !end || l > end || c > end)
			return HX_EFORMAT;
		lower[n] = strtod(l + 14, NULL);
		count[n] = strtoull(c + 8, NULL, 10);
		n++;
		p = end + 1;
		if (*p == ',')
			p++;
	}
	if (*p != ']')
		return HX_EFORMAT;
	size_t k = n > want ? (n + want - 1) / want : 1;
	int err = hx__buf_putc(out, '[');
	for (size_t i = 0; i < n; i += k) {
		uint64_t sum = 0;
		for (size_t j = i; j < i + k && j < n; j++)
			sum += count[j];
		err |= hx__buf_puts(out, i ? ",[" : "[") | num(out, lower[i]) |
		       hx__buf_printf(out, ",%llu]", (unsigned long long)sum);
	}
	err |= hx__buf_putc(out, ']');
	return err ? HX_ENOMEM : HX_OK;
}

static int aggregates_json(hx__buf *b, hx__agg *a, const hx__aggs_req *r, size_t scanned,
                           int truncated)
{
	uint64_t traces, matched;
	hx__agg_counts(a, &traces, &matched);
	const hx__agg_row *rows;
	size_t n = hx__agg_rows(a, &rows);
	if (!rows)
		return HX_ENOMEM;
	const char *sfx = r->metric_is_time ? "_ns" : "";
	int err = hx__buf_puts(b, "{\"metric\":");
	err |= hx__json_string(b, r->metric, strlen(r->metric));
	err |= hx__buf_printf(b, ",\"unit\":\"%s\",\"traces\":%llu,\"scanned\":%zu,\"truncated\":%s,"
	                         "\"groups\":[", r->metric_is_time ? "ns" : "count",
	                      (unsigned long long)matched, scanned, truncated ? "true" : "false");
	hx__buf hist = HX__BUF_INIT;
	size_t shown = n < AGG_GROUPS_MAX ? n : AGG_GROUPS_MAX;
	for (size_t i = 0; i < shown && !err; i++) {
		const hx__agg_row *row = &rows[i];
		err |= hx__buf_puts(b, i ? ",{\"key\":{" : "{\"key\":{");
		for (size_t k = 0; k < r->nkeys; k++) {
			err |= k ? hx__buf_putc(b, ',') : 0;
			err |= hx__json_string(b, r->key_names[k], strlen(r->key_names[k]));
			err |= hx__buf_putc(b, ':');
			if (row->key[k])
				err |= hx__json_string(b, row->key[k], strlen(row->key[k]));
			else
				err |= hx__buf_puts(b, "null");
		}
		err |= hx__buf_printf(b, "},\"count\":%llu", (unsigned long long)row->count);
		const char *names[5] = {"p50", "p90", "p99", "max", "mean"};
		const double v[5] = {row->p50, row->p90, row->p99, row->max, row->mean};
		for (int k = 0; k < 5; k++)
			err |= hx__buf_printf(b, ",\"%s%s\":", names[k], sfx) | num(b, v[k]);
		hx__buf_reset(&hist);
		int rc = hx__agg_histogram_json(a, i, &hist);
		if (rc == HX_OK && hist.p) {
			err |= hx__buf_puts(b, ",\"histogram\":");
			rc = histogram(b, hist.p, r->buckets);
		}
		if (rc != HX_OK) {
			hx__buf_free(&hist);
			return rc;
		}
		err |= hx__buf_putc(b, '}');
	}
	hx__buf_free(&hist);
	err |= hx__buf_printf(b, "],\"groups_total\":%zu}\n", n);
	return err ? HX_ENOMEM : HX_OK;
}

void hx__api_aggregates(hx__server *srv, struct evhttp_request *req, const char *tail,
                        const char *query)
{
	char err[512];
	hx__aggs_req r;
	if (hx__aggs_parse(&r, query, query ? strlen(query) : 0, err, sizeof(err))) {
		hx__http_error(srv, req, 400, err);
		return;
	}
	hx__fdb *db = db_or_503(srv, req);
	hx__where *w = NULL;
	hx__agg *a = NULL;
	if (!db)
		goto out;
	if (r.where) {
		char why[256];
		if (hx__where_parse(r.where, &w, why, sizeof(why)) != HX_OK) {
			snprintf(err, sizeof(err), "'where': %s", why);
			hx__http_error(srv, req, 400, err);
			goto out;
		}
	}
	hx__agg_config cfg;
	memset(&cfg, 0, sizeof(cfg));
	for (size_t i = 0; i < r.nkeys; i++) {
		cfg.keys[i] = r.keys[i];
		cfg.attr_keys[i] = r.attr_keys[i];
	}
	cfg.nkeys = r.nkeys;
	cfg.metric = r.metric;
	cfg.where = w;
	const char *why = hx__agg_config_check(&cfg);
	if (why) {
		snprintf(err, sizeof(err), "'metric' or 'group_by': %s", why);
		hx__http_error(srv, req, 400, err);
		goto out;
	}
	r.metric_is_time = hx__agg_metric_is_time(r.metric);
	int rc = hx__agg_new(&a, &cfg);
	if (rc != HX_OK) {
		hx__http_error(srv, req, rc == HX_ENOMEM ? 503 : 400, hx_strerror(rc));
		goto out;
	}
	agg_ctx c = {a, r.name, HX_OK};
	size_t scanned = 0;
	int truncated = 0;
	rc = hx__fdb_scan(db, r.from_ns, r.to_ns, r.name, AGG_SCAN_MAX, on_features, &c, &scanned,
	                  &truncated);
	if (rc == HX_OK)
		rc = c.err;
	if (rc != HX_OK) {
		db_error(srv, req, rc);
		goto out;
	}
	hx__buf b = HX__BUF_INIT;
	rc = aggregates_json(&b, a, &r, scanned, truncated);
	if (rc == HX_OK && b.len > srv->lim.response_max)
		rc = HX_ENOMEM;
	if (rc != HX_OK) {
		hx__buf_free(&b);
		hx__http_error(srv, req, rc == HX_ENOMEM ? 503 : 500,
		               rc == HX_ENOMEM ? "out of memory (or the answer is larger than the "
		                                 "response limit: narrow it with from, to or where)"
		                               : "the aggregator's histogram could not be read");
		goto out;
	}
	hx__http_reply_buf(srv, req, 200, "application/json", &b);
out:
	hx__agg_free(a);
	hx__where_free(w);
	hx__aggs_free(&r);
}

/* ---- GET /api/dependencies ---- */

static int deps_json(hx__buf *b, const hx__fdb_deps *d, int by_entity)
{
	const char *kind = by_entity ? "entity" : "service";
	int err = hx__buf_printf(b, "{\"by\":\"%s\",\"nodes\":[", kind);
	for (size_t i = 0; i < d->nnodes && !err; i++) {
		const hx__fdb_node *n = &d->nodes[i];
		err |= hx__buf_puts(b, i ? ",{\"id\":" : "{\"id\":");
		err |= hx__json_string(b, n->id, strlen(n->id));
		err |= hx__buf_puts(b, ",\"name\":");
		err |= hx__json_string(b, n->name, strlen(n->name));
		err |= hx__buf_printf(b, ",\"kind\":\"%s\",\"calls_in\":%llu,\"calls_out\":%llu", kind,
		                      (unsigned long long)n->calls_in, (unsigned long long)n->calls_out);
		if (by_entity) {
			const char *s = n->service ? n->service : "";
			err |= hx__buf_puts(b, ",\"service\":") | hx__json_string(b, s, strlen(s));
		}
		err |= hx__buf_putc(b, '}');
	}
	err |= hx__buf_puts(b, "],\"edges\":[");
	for (size_t i = 0; i < d->n && !err; i++) {
		const hx__fdb_dep *e = &d->v[i];
		err |= hx__buf_puts(b, i ? ",{\"from\":" : "{\"from\":");
		err |= hx__json_string(b, e->from, strlen(e->from));
		err |= hx__buf_puts(b, ",\"to\":");
		err |= hx__json_string(b, e->to, strlen(e->to));
		err |= hx__buf_puts(b, ",\"kind\":");
		err |= hx__json_string(b, e->kind, strlen(e->kind));
		err |= hx__buf_printf(b, ",\"calls\":%llu,\"p50_ns\":%llu,\"p99_ns\":%llu,\"max_ns\":%llu}",
		                      (unsigned long long)e->calls, (unsigned long long)e->p50_ns,
		                      (unsigned long long)e->p99_ns, (unsigned long long)e->max_ns);
	}
	err |= hx__buf_printf(b, "],\"scanned\":%zu,\"truncated\":%s}\n", d->scanned,
	                      d->truncated ? "true" : "false");
	return err ? HX_ENOMEM : HX_OK;
}

void hx__api_dependencies(hx__server *srv, struct evhttp_request *req, const char *tail,
                          const char *query)
{
	char err[256];
	hx__deps_req r;
	if (hx__deps_parse(&r, query, query ? strlen(query) : 0, err, sizeof(err))) {
		hx__http_error(srv, req, 400, err);
		return;
	}
	hx__fdb *db = db_or_503(srv, req);
	if (!db)
		return;
	hx__fdb_deps d;
	int rc = hx__fdb_deps_get(db, r.by_entity, r.from_ns, r.to_ns, DEPS_SCAN_MAX, &d);
	if (rc != HX_OK) {
		db_error(srv, req, rc);
		return;
	}
	hx__buf b = HX__BUF_INIT;
	rc = deps_json(&b, &d, r.by_entity);
	hx__fdb_deps_free(&d);
	if (rc != HX_OK) {
		hx__buf_free(&b);
		hx__http_error(srv, req, 503, "out of memory");
		return;
	}
	hx__http_reply_buf(srv, req, 200, "application/json", &b);
}

/* ---- GET /api/complete ---- */

typedef struct complete_ctx {
	hx__buf *b;
	size_t n;
	int64_t last;
	int err;
} complete_ctx;

static int on_complete(const uint8_t trace_id[16], int64_t row, void *user)
{
	complete_ctx *c = user;
	char id[35];
	id[0] = '"';
	for (int i = 0; i < 16; i++) {
		id[1 + 2 * i] = hexd[trace_id[i] >> 4];
		id[2 + 2 * i] = hexd[trace_id[i] & 15];
	}
	id[33] = '"';
	id[34] = '\0';
	c->err |= (c->n ? hx__buf_putc(c->b, ',') : 0) | hx__buf_puts(c->b, id);
	c->n++;
	c->last = row;
	return c->err;
}

void hx__api_complete(hx__server *srv, struct evhttp_request *req, const char *tail,
                      const char *query)
{
	char err[256];
	hx__complete_req r;
	if (hx__complete_parse(&r, query, query ? strlen(query) : 0, err, sizeof(err))) {
		hx__http_error(srv, req, 400, err);
		return;
	}
	hx__fdb *db = db_or_503(srv, req);
	if (!db)
		return;
	hx__buf b = HX__BUF_INIT;
	complete_ctx c = {&b, 0, (int64_t)r.after, hx__buf_puts(&b, "{\"traces\":[")};
	int rc = c.err ? HX_ENOMEM : hx__fdb_complete(db, r.after, r.limit, on_complete, &c);
	if (rc == HX_OK && c.err)
		rc = HX_ENOMEM;
	if (rc == HX_OK && hx__buf_printf(&b, "],\"next\":\"%lld\"}\n", (long long)c.last))
		rc = HX_ENOMEM;
	if (rc != HX_OK) {
		hx__buf_free(&b);
		db_error(srv, req, rc);
		return;
	}
	hx__http_reply_buf(srv, req, 200, "application/json", &b);
}
