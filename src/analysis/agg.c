/*
 * agg.c - aggregates over many traces' features (trace_features.h): groups by key, quantiles per
 * group (exact, then a log-bucketed histogram), and the rows as a table, JSON or CSV.
 *
 * A trace adds one value per group it falls in: with several services (or hosts) it falls in the
 * group of each; grouped by name, each of its block names is a row of its own, filtered with that
 * block in scope. Groups live in an open-addressing hash of their key tuples.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "analysis/trace_features.h"

/* ---- keys and metrics ---- */

enum metric {
	M_DURATION, M_EVENTS, M_ENTITIES, M_PROCESSES, M_HOSTS, M_ERRORS, M_FANOUT, M_CRITICAL,
	M_COUNT, M_TOTAL, M_SELF, M_WAIT /* per block */
};

static const struct {
	const char *name;
	int m, time;
} metrics[] = {
	{"duration", M_DURATION, 1}, {"duration_ns", M_DURATION, 1}, {"events", M_EVENTS, 0},
	{"entities", M_ENTITIES, 0}, {"processes", M_PROCESSES, 0}, {"hosts", M_HOSTS, 0},
	{"errors", M_ERRORS, 0},     {"fanout", M_FANOUT, 0},       {"critical", M_CRITICAL, 1},
	{"critical_ns", M_CRITICAL, 1}, {"count", M_COUNT, 0},      {"total", M_TOTAL, 1},
	{"total_ns", M_TOTAL, 1},    {"self", M_SELF, 1},           {"self_ns", M_SELF, 1},
	{"wait", M_WAIT, 1},         {"wait_ns", M_WAIT, 1},
};

static int metric_find(const char *name)
{
	if (!name || !*name)
		return 0;
	for (size_t i = 0; i < sizeof metrics / sizeof metrics[0]; i++)
		if (!strcmp(metrics[i].name, name))
			return (int)i;
	return -1;
}

int hx__agg_metric_is_time(const char *metric)
{
	int i = metric_find(metric);
	return i >= 0 && metrics[i].time;
}

int hx__agg_key_parse(const char *s, hx__agg_key *key, const char **attr)
{
	*attr = NULL;
	if (!strcmp(s, "name"))
		*key = HX__AGG_NAME;
	else if (!strcmp(s, "service"))
		*key = HX__AGG_SERVICE;
	else if (!strcmp(s, "root"))
		*key = HX__AGG_ROOT;
	else if (!strcmp(s, "host"))
		*key = HX__AGG_HOST;
	else if (!strcmp(s, "all") || !strcmp(s, "none"))
		*key = HX__AGG_ALL;
	else if ((!strncmp(s, "attr:", 5) || !strncmp(s, "attr.", 5)) && s[5]) {
		*key = HX__AGG_ATTR;
		*attr = s + 5;
	} else
		return -1;
	return 0;
}

const char *hx__agg_config_check(const hx__agg_config *cfg)
{
	int m = metric_find(cfg->metric);
	if (m < 0)
		return "unknown metric (duration, events, entities, processes, hosts, errors, fanout, "
		       "critical, and per block name count, total, self, wait)";
	if (cfg->nkeys > 4)
		return "at most 4 keys to group by";
	int by_name = 0;
	for (size_t i = 0; i < cfg->nkeys; i++) {
		if (cfg->keys[i] > HX__AGG_ATTR)
			return "unknown key to group by";
		if (cfg->keys[i] == HX__AGG_ATTR && (!cfg->attr_keys[i] || !*cfg->attr_keys[i]))
			return "attr: needs a key";
		if (cfg->keys[i] == HX__AGG_ALL && cfg->nkeys > 1)
			return "'all' groups everything together: it cannot be combined with other keys";
		by_name |= cfg->keys[i] == HX__AGG_NAME;
		for (size_t j = 0; j < i; j++)
			if (cfg->keys[j] == cfg->keys[i] &&
			    (cfg->keys[i] != HX__AGG_ATTR || !strcmp(cfg->attr_keys[i], cfg->attr_keys[j])))
				return "a key to group by is given twice";
	}
	if (metrics[m].m >= M_COUNT && !by_name)
		return "count, total, self and wait are per block name: group by name";
	return NULL;
}

/* ---- the aggregator ---- */

typedef struct group {
	char *key[4];      /* owned; NULL: the trace had no value for that key */
	uint64_t hash;
	hx__qsketch q;
} group;

struct hx__agg {
	hx__agg_config cfg;
	char *attr_copy[4];
	char *metric_copy;
	int metric, by_name;
	group *g;
	size_t ng, gcap;
	uint32_t *slots;   /* group index + 1, 0 empty; power of two */
	size_t nslots;
	uint64_t traces, matched;
	hx__agg_row *rows;
	uint32_t *row_group;
	int rows_valid;
};

int hx__agg_new(hx__agg **out, const hx__agg_config *cfg)
{
	*out = NULL;
	int mi = metric_find(cfg->metric);
	if (mi < 0 || hx__agg_config_check(cfg))
		return HX_EINVAL;
	hx__agg *a = calloc(1, sizeof(*a));
	if (!a)
		return HX_ENOMEM;
	a->cfg = *cfg;
	a->metric = metrics[mi].m;
	a->metric_copy = strdup(cfg->metric && *cfg->metric ? cfg->metric : "duration");
	int oom = !a->metric_copy;
	a->cfg.metric = a->metric_copy;
	for (size_t i = 0; i < cfg->nkeys; i++) {
		a->by_name |= cfg->keys[i] == HX__AGG_NAME;
		a->cfg.attr_keys[i] = NULL;
		if (cfg->keys[i] == HX__AGG_ATTR) {
			oom |= !(a->attr_copy[i] = strdup(cfg->attr_keys[i]));
			a->cfg.attr_keys[i] = a->attr_copy[i];
		}
	}
	if (cfg->nkeys == 1 && cfg->keys[0] == HX__AGG_ALL)
		a->cfg.nkeys = 0;
	a->nslots = 64;
	oom |= !(a->slots = calloc(a->nslots, sizeof(*a->slots)));
	if (oom) {
		hx__agg_free(a);
		return HX_ENOMEM;
	}
	*out = a;
	return HX_OK;
}

void hx__agg_free(hx__agg *a)
{
	if (!a)
		return;
	for (size_t i = 0; i < a->ng; i++) {
		for (int k = 0; k < 4; k++)
			free(a->g[i].key[k]);
		hx__qs_free(&a->g[i].q);
	}
	free(a->g);
	free(a->slots);
	for (int k = 0; k < 4; k++)
		free(a->attr_copy[k]);
	free(a->metric_copy);
	free(a->rows);
	free(a->row_group);
	free(a);
}

void hx__agg_counts(const hx__agg *a, uint64_t *traces, uint64_t *matched)
{
	*traces = a->traces;
	*matched = a->matched;
}

static uint64_t key_hash(const char *const *key, size_t n)
{
	uint64_t h = 0xcbf29ce484222325ull; /* FNV-1a over the strings, a NUL and a marker apart */
	for (size_t i = 0; i < n; i++) {
		const char *s = key[i];
		h = (h ^ (s ? 1u : 2u)) * 0x100000001b3ull;
		for (; s && *s; s++)
			h = (h ^ (unsigned char)*s) * 0x100000001b3ull;
		h = (h ^ 0xffu) * 0x100000001b3ull;
	}
	return h;
}

static int key_eq(const char *const *a, const char *const *b, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (!a[i] != !b[i])
			return 0;
		if (a[i] && strcmp(a[i], b[i]))
			return 0;
	}
	return 1;
}

static int rehash(hx__agg *a, size_t nslots)
{
	uint32_t *s = calloc(nslots, sizeof(*s));
	if (!s)
		return HX_ENOMEM;
	for (size_t i = 0; i < a->ng; i++) {
		size_t j = a->g[i].hash & (nslots - 1);
		while (s[j])
			j = (j + 1) & (nslots - 1);
		s[j] = (uint32_t)i + 1;
	}
	free(a->slots);
	a->slots = s;
	a->nslots = nslots;
	return HX_OK;
}

static int add_value(hx__agg *a, const char *const *key, uint64_t v)
{
	size_t n = a->cfg.nkeys;
	uint64_t h = key_hash(key, n);
	size_t j = h & (a->nslots - 1);
	while (a->slots[j]) {
		group *g = &a->g[a->slots[j] - 1];
		if (g->hash == h && key_eq((const char *const *)g->key, key, n))
			return hx__qs_add(&g->q, v);
		j = (j + 1) & (a->nslots - 1);
	}
	if (a->ng >= UINT32_MAX - 1)
		return HX_ENOMEM;
	if (hx__dag_grow(&a->g, &a->gcap, a->ng + 1, sizeof(*a->g)))
		return HX_ENOMEM;
	group *g = &a->g[a->ng];
	memset(g, 0, sizeof(*g));
	g->hash = h;
	for (size_t i = 0; i < n; i++)
		if (key[i] && !(g->key[i] = strdup(key[i]))) {
			for (size_t k = 0; k < i; k++)
				free(g->key[k]);
			return HX_ENOMEM;
		}
	if (hx__qs_add(&g->q, v)) {
		for (size_t k = 0; k < n; k++)
			free(g->key[k]);
		return HX_ENOMEM;
	}
	a->slots[j] = (uint32_t)++a->ng;
	if (a->ng * 2 > a->nslots && rehash(a, a->nslots * 2))
		return HX_ENOMEM;
	return HX_OK;
}

static uint64_t metric_value(const hx__agg *a, const hx__features *f, const hx__feat_block *b)
{
	switch (a->metric) {
	case M_EVENTS: return f->events;
	case M_ENTITIES: return f->entities;
	case M_PROCESSES: return f->processes;
	case M_HOSTS: return f->hosts;
	case M_ERRORS: return f->errors;
	case M_FANOUT: return f->fanout;
	case M_CRITICAL: return b ? b->critical_ns : f->critical_ns;
	case M_COUNT: return b ? b->count : 0;
	case M_TOTAL: return b ? b->total_ns : 0;
	case M_SELF: return b ? b->self_ns : 0;
	case M_WAIT: return b ? b->wait_ns : 0;
	default: return f->duration_ns;
	}
}

/* The values of key i for this trace (and block): a list, one NULL when it has none. */
static size_t key_values(const hx__agg *a, size_t i, const hx__features *f, const hx__feat_block *b,
                         const char *const **vals, const char **one)
{
	*vals = one;
	switch (a->cfg.keys[i]) {
	case HX__AGG_NAME:
		*one = b ? b->name : NULL;
		return 1;
	case HX__AGG_SERVICE:
		if (f->nservices) {
			*vals = (const char *const *)f->services;
			return f->nservices;
		}
		*one = NULL;
		return 1;
	case HX__AGG_HOST:
		if (f->nhost_names) {
			*vals = (const char *const *)f->host_names;
			return f->nhost_names;
		}
		*one = NULL;
		return 1;
	case HX__AGG_ROOT:
		*one = f->root_name && *f->root_name ? f->root_name : NULL;
		return 1;
	case HX__AGG_ATTR:
		*one = NULL;
		for (size_t k = 0; k < f->nattrs; k++)
			if (f->attrs[k].key && !strcmp(f->attrs[k].key, a->cfg.attr_keys[i]))
				*one = f->attrs[k].value ? f->attrs[k].value : "";
		return 1;
	default:
		*one = NULL;
		return 1;
	}
}

/* One value into every group the trace (block) falls in: the product of the keys' values. */
static int add_combos(hx__agg *a, const hx__features *f, const hx__feat_block *b, uint64_t v)
{
	size_t n = a->cfg.nkeys;
	const char *const *vals[4];
	const char *one[4];
	size_t cnt[4], idx[4] = {0, 0, 0, 0};
	for (size_t i = 0; i < n; i++)
		cnt[i] = key_values(a, i, f, b, &vals[i], &one[i]);
	for (;;) {
		const char *key[4] = {NULL, NULL, NULL, NULL};
		for (size_t i = 0; i < n; i++)
			key[i] = vals[i][idx[i]];
		int rc = add_value(a, key, v);
		if (rc)
			return rc;
		size_t i = 0;
		while (i < n && ++idx[i] == cnt[i])
			idx[i++] = 0;
		if (i == n)
			return HX_OK;
	}
}

int hx__agg_add(hx__agg *a, const hx__features *f)
{
	a->traces++;
	a->rows_valid = 0;
	if (!a->by_name) {
		if (!hx__where_match(a->cfg.where, f, NULL))
			return HX_OK;
		a->matched++;
		return add_combos(a, f, NULL, metric_value(a, f, NULL));
	}
	int any = 0;
	for (size_t i = 0; i < f->nblocks; i++) {
		const hx__feat_block *b = &f->blocks[i];
		if (!hx__where_match(a->cfg.where, f, b))
			continue;
		any = 1;
		int rc = add_combos(a, f, b, metric_value(a, f, b));
		if (rc)
			return rc;
	}
	a->matched += any;
	return HX_OK;
}

/* ---- rows ---- */

static int key_cmp(const char *x, const char *y)
{
	if (!x || !y)
		return !x && !y ? 0 : !x ? -1 : 1;
	return strcmp(x, y);
}

/* Sorts pointers to groups: keys past the configured ones are NULL in every group, so all four
 * can be compared without knowing how many there are. */
static int row_cmp(const void *pa, const void *pb)
{
	const group *x = *(const group *const *)pa, *y = *(const group *const *)pb;
	if (x->q.count != y->q.count)
		return x->q.count > y->q.count ? -1 : 1;
	for (size_t i = 0; i < 4; i++) {
		int c = key_cmp(x->key[i], y->key[i]);
		if (c)
			return c;
	}
	return 0;
}

size_t hx__agg_rows(hx__agg *a, const hx__agg_row **rows)
{
	if (!a->rows_valid) {
		free(a->rows);
		free(a->row_group);
		a->rows = calloc(a->ng ? a->ng : 1, sizeof(*a->rows));
		a->row_group = malloc((a->ng ? a->ng : 1) * sizeof(*a->row_group));
		if (!a->rows || !a->row_group) {
			free(a->rows);
			free(a->row_group);
			a->rows = NULL;
			a->row_group = NULL;
			*rows = NULL;
			return 0;
		}
		group **order = malloc((a->ng ? a->ng : 1) * sizeof(*order));
		if (!order) {
			*rows = NULL;
			return 0;
		}
		for (size_t i = 0; i < a->ng; i++)
			order[i] = &a->g[i];
		qsort(order, a->ng, sizeof(*order), row_cmp);
		for (size_t i = 0; i < a->ng; i++)
			a->row_group[i] = (uint32_t)(order[i] - a->g);
		free(order);
		for (size_t i = 0; i < a->ng; i++) {
			group *g = &a->g[a->row_group[i]];
			hx__agg_row *r = &a->rows[i];
			for (size_t k = 0; k < 4; k++)
				r->key[k] = k < a->cfg.nkeys ? g->key[k] : NULL;
			r->count = g->q.count;
			r->p50 = hx__qs_quantile(&g->q, 0.50);
			r->p90 = hx__qs_quantile(&g->q, 0.90);
			r->p99 = hx__qs_quantile(&g->q, 0.99);
			r->max = (double)g->q.max;
			r->mean = g->q.count ? g->q.sum / (double)g->q.count : 0;
		}
		a->rows_valid = 1;
	}
	*rows = a->rows;
	return a->ng;
}

int hx__agg_histogram_json(hx__agg *a, size_t row, hx__buf *out)
{
	const hx__agg_row *rows;
	size_t n = hx__agg_rows(a, &rows);
	if (!rows)
		return HX_ENOMEM;
	if (row >= n)
		return HX_EINVAL;
	return hx__qs_histogram_json(&a->g[a->row_group[row]].q, out);
}

/* ---- output ---- */

static int key_label(hx__buf *b, const hx__agg *a, size_t i)
{
	switch (a->cfg.keys[i]) {
	case HX__AGG_NAME: return hx__buf_puts(b, "name");
	case HX__AGG_SERVICE: return hx__buf_puts(b, "service");
	case HX__AGG_ROOT: return hx__buf_puts(b, "root");
	case HX__AGG_HOST: return hx__buf_puts(b, "host");
	case HX__AGG_ATTR:
		return hx__buf_puts(b, "attr:") | hx__buf_puts(b, a->cfg.attr_keys[i]);
	default: return hx__buf_puts(b, "all");
	}
}

/* A number for JSON and CSV: integers as integers, the rest with 3 decimals. */
static int num(hx__buf *b, double v)
{
	if (v == floor(v) && fabs(v) < 9e18)
		return hx__buf_printf(b, "%.0f", v);
	return hx__buf_printf(b, "%.3f", v);
}

int hx__agg_format_time(hx__buf *b, double ns)
{
	if (ns < 1e3)
		return hx__buf_printf(b, "%.0fns", ns);
	if (ns < 1e6)
		return hx__buf_printf(b, "%.2fus", ns / 1e3);
	if (ns < 1e9)
		return hx__buf_printf(b, "%.2fms", ns / 1e6);
	return hx__buf_printf(b, "%.3fs", ns / 1e9);
}

static int human_num(hx__buf *b, double v, int time)
{
	if (time)
		return hx__agg_format_time(b, v);
	if (v == floor(v) && fabs(v) < 9e18)
		return hx__buf_printf(b, "%.0f", v);
	return hx__buf_printf(b, "%.2f", v);
}

int hx__agg_csv_field(hx__buf *b, const char *s)
{
	if (!s)
		return HX_OK;
	if (!s[strcspn(s, ",\"\r\n")])
		return hx__buf_puts(b, s);
	int err = hx__buf_putc(b, '"');
	for (; *s; s++)
		err |= *s == '"' ? hx__buf_puts(b, "\"\"") : hx__buf_putc(b, *s);
	return err | hx__buf_putc(b, '"');
}

/* An aligned table: cells of each row as NUL-separated text in one buffer. */
typedef struct table {
	hx__buf cells;
	size_t *off;        /* cell i starts at off[i] */
	size_t ncells, cap;
	size_t ncols;
} table;

static int cell_end(table *t, size_t start)
{
	if (hx__dag_grow(&t->off, &t->cap, t->ncells + 1, sizeof(*t->off)) || hx__buf_putc(&t->cells, 0))
		return HX_ENOMEM;
	t->off[t->ncells++] = start;
	return HX_OK;
}

/* Right-align numeric columns (from first_num on), left-align keys. */
static int table_write(const table *t, size_t first_num, hx__buf *out)
{
	size_t w[16] = {0};
	for (size_t i = 0; i < t->ncells; i++) {
		size_t l = strlen(t->cells.p + t->off[i]);
		if (l > w[i % t->ncols])
			w[i % t->ncols] = l;
	}
	int err = 0;
	for (size_t i = 0; i < t->ncells; i++) {
		size_t c = i % t->ncols;
		const char *s = t->cells.p + t->off[i];
		size_t l = strlen(s), pad = w[c] - l;
		if (c)
			err |= hx__buf_puts(out, "  ");
		if (c >= first_num)
			for (size_t k = 0; k < pad; k++)
				err |= hx__buf_putc(out, ' ');
		err |= hx__buf_puts(out, s);
		if (c < first_num && c + 1 < t->ncols)
			for (size_t k = 0; k < pad; k++)
				err |= hx__buf_putc(out, ' ');
		if (c + 1 == t->ncols)
			err |= hx__buf_putc(out, '\n');
	}
	return err ? HX_ENOMEM : HX_OK;
}

static const char *const stat_names[] = {"count", "p50", "p90", "p99", "max", "mean"};

static int write_table(hx__agg *a, const hx__agg_row *rows, size_t n, hx__buf *out)
{
	table t;
	memset(&t, 0, sizeof(t));
	size_t nk = a->cfg.nkeys;
	int time = hx__agg_metric_is_time(a->cfg.metric), err = 0;
	t.ncols = nk + 6;
	for (size_t i = 0; i < nk; i++) {
		size_t s = t.cells.len;
		err |= key_label(&t.cells, a, i);
		err |= cell_end(&t, s);
	}
	for (size_t i = 0; i < 6; i++) {
		size_t s = t.cells.len;
		err |= hx__buf_puts(&t.cells, stat_names[i]);
		if (i)
			err |= hx__buf_printf(&t.cells, "(%s)", a->cfg.metric);
		err |= cell_end(&t, s);
	}
	for (size_t r = 0; r < n && !err; r++) {
		for (size_t i = 0; i < nk; i++) {
			size_t s = t.cells.len;
			const char *k = rows[r].key[i];
			err |= k ? hx__text_plain(&t.cells, k, strlen(k)) : hx__buf_putc(&t.cells, '-');
			err |= cell_end(&t, s);
		}
		const double v[6] = {(double)rows[r].count, rows[r].p50, rows[r].p90, rows[r].p99, rows[r].max,
		                     rows[r].mean};
		for (size_t i = 0; i < 6; i++) {
			size_t s = t.cells.len;
			err |= human_num(&t.cells, v[i], i > 0 && time);
			err |= cell_end(&t, s);
		}
	}
	if (!err)
		err = table_write(&t, nk, out);
	hx__buf_free(&t.cells);
	free(t.off);
	return err ? HX_ENOMEM : HX_OK;
}

static int write_json(hx__agg *a, const hx__agg_row *rows, size_t n, hx__buf *out)
{
	size_t nk = a->cfg.nkeys;
	int err = hx__buf_puts(out, "{\"metric\":");
	err |= hx__json_string(out, a->cfg.metric, strlen(a->cfg.metric));
	err |= hx__buf_printf(out, ",\"unit\":\"%s\",\"group_by\":[", hx__agg_metric_is_time(a->cfg.metric) ? "ns" : "count");
	hx__buf lab = HX__BUF_INIT;
	for (size_t i = 0; i < nk; i++) {
		hx__buf_reset(&lab);
		err |= key_label(&lab, a, i);
		err |= i ? hx__buf_putc(out, ',') : 0;
		err |= hx__json_string(out, lab.p ? lab.p : "", lab.len);
	}
	err |= hx__buf_printf(out, "],\"traces\":%llu,\"matched\":%llu,\"rows\":[", (unsigned long long)a->traces,
	                      (unsigned long long)a->matched);
	for (size_t r = 0; r < n && !err; r++) {
		err |= hx__buf_puts(out, r ? ",{" : "{");
		for (size_t i = 0; i < nk; i++) {
			hx__buf_reset(&lab);
			err |= key_label(&lab, a, i);
			err |= hx__json_string(out, lab.p ? lab.p : "", lab.len);
			err |= hx__buf_putc(out, ':');
			const char *k = rows[r].key[i];
			err |= k ? hx__json_string(out, k, strlen(k)) : hx__buf_puts(out, "null");
			err |= hx__buf_putc(out, ',');
		}
		err |= hx__buf_printf(out, "\"count\":%llu", (unsigned long long)rows[r].count);
		const double v[5] = {rows[r].p50, rows[r].p90, rows[r].p99, rows[r].max, rows[r].mean};
		for (size_t i = 0; i < 5; i++) {
			err |= hx__buf_printf(out, ",\"%s\":", stat_names[i + 1]);
			err |= num(out, v[i]);
		}
		err |= hx__buf_putc(out, '}');
	}
	err |= hx__buf_puts(out, "]}\n");
	hx__buf_free(&lab);
	return err ? HX_ENOMEM : HX_OK;
}

static int write_csv(hx__agg *a, const hx__agg_row *rows, size_t n, hx__buf *out)
{
	size_t nk = a->cfg.nkeys;
	int err = 0;
	hx__buf lab = HX__BUF_INIT;
	for (size_t i = 0; i < nk; i++) {
		hx__buf_reset(&lab);
		err |= key_label(&lab, a, i);
		err |= hx__agg_csv_field(out, lab.p ? lab.p : "");
		err |= hx__buf_putc(out, ',');
	}
	hx__buf_free(&lab);
	err |= hx__buf_puts(out, "count,p50,p90,p99,max,mean\n");
	for (size_t r = 0; r < n && !err; r++) {
		for (size_t i = 0; i < nk; i++) {
			err |= hx__agg_csv_field(out, rows[r].key[i]);
			err |= hx__buf_putc(out, ',');
		}
		err |= hx__buf_printf(out, "%llu", (unsigned long long)rows[r].count);
		const double v[5] = {rows[r].p50, rows[r].p90, rows[r].p99, rows[r].max, rows[r].mean};
		for (size_t i = 0; i < 5; i++) {
			err |= hx__buf_putc(out, ',');
			err |= num(out, v[i]);
		}
		err |= hx__buf_putc(out, '\n');
	}
	return err ? HX_ENOMEM : HX_OK;
}

int hx__agg_write(hx__agg *a, hx__agg_fmt fmt, hx__buf *out)
{
	const hx__agg_row *rows;
	size_t n = hx__agg_rows(a, &rows);
	if (!rows)
		return HX_ENOMEM;
	switch (fmt) {
	case HX__AGG_JSON: return write_json(a, rows, n, out);
	case HX__AGG_CSV: return write_csv(a, rows, n, out);
	default: return write_table(a, rows, n, out);
	}
}
