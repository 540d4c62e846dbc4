/*
 * cmd_analyze.c - `hx analyze`: the features of many traces, aggregated (count and quantiles by
 * name, service, root, host or attribute), listed per trace, or turned into the dependency graph
 * of services (docs/analysis.md, "Features and aggregates" and "Dependency graph").
 *
 * The input is read once into one trace DAG (several paths as one input, clocks aligned, service
 * URLs fetched first), and every trace's features come out of one pass over it
 * (hx__features_extract_all), so 100,000 traces cost about what one graph of their events costs.
 * Attributes are not kept by the DAG: the values of the keys asked for (--attr, attr.KEY in
 * --where, attr:KEY in --group-by) are kept while reading, per event that carries them.
 */
#define _GNU_SOURCE
#include <getopt.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "analysis/trace_features.h"
#include "cli/cmd.h"
#include "model/dag.h"

#define FLUSH_AT (64 * 1024)
#define WRITE_FAILED 1 /* returned by the per-trace callback when stdout fails */

/* ---- attribute values kept while reading ---- */

typedef struct attr_slot {
	uint64_t entity, seq;
	size_t value;      /* offset in vals */
	uint32_t key;
	uint32_t used;
} attr_slot;

typedef struct attr_map {
	const char *keys[HX__FEAT_MAX_ATTRS + 1];
	size_t nkeys;
	attr_slot *slot;   /* open addressing, power of two */
	size_t cap, n;
	hx__buf vals;      /* NUL-terminated values back to back */
	const hx__dag *d;  /* for lookups by event index */
} attr_map;

static uint64_t slot_hash(uint64_t entity, uint64_t seq, uint32_t key)
{
	uint64_t h = entity * 0x9e3779b97f4a7c15ull ^ (seq + key * 0x632be59bd9b4e019ull);
	h ^= h >> 31;
	h *= 0xbf58476d1ce4e5b9ull;
	return h ^ (h >> 29);
}

static attr_slot *attr_find(const attr_map *m, uint64_t entity, uint64_t seq, uint32_t key)
{
	if (!m->cap)
		return NULL;
	size_t j = slot_hash(entity, seq, key) & (m->cap - 1);
	while (m->slot[j].used) {
		attr_slot *s = &m->slot[j];
		if (s->entity == entity && s->seq == seq && s->key == key)
			return s;
		j = (j + 1) & (m->cap - 1);
	}
	return &m->slot[j];
}

static int attr_grow(attr_map *m)
{
	size_t cap = m->cap ? m->cap * 2 : 1024;
	attr_slot *ns = calloc(cap, sizeof(*ns));
	if (!ns)
		return HX_ENOMEM;
	for (size_t i = 0; i < m->cap; i++) {
		if (!m->slot[i].used)
			continue;
		const attr_slot *s = &m->slot[i];
		size_t j = slot_hash(s->entity, s->seq, s->key) & (cap - 1);
		while (ns[j].used)
			j = (j + 1) & (cap - 1);
		ns[j] = *s;
	}
	free(m->slot);
	m->slot = ns;
	m->cap = cap;
	return HX_OK;
}

/* An attribute's value as text: what `hx dump` shows, without quotes. */
static int attr_text(hx__buf *b, const hx_attr *a)
{
	switch (a->type) {
	case HX_ATTR_INT: return hx__buf_printf(b, "%" PRId64, a->v.i);
	case HX_ATTR_DOUBLE: {
		char s[40];
		snprintf(s, sizeof s, "%.15g", a->v.d);
		if (strtod(s, NULL) != a->v.d)
			snprintf(s, sizeof s, "%.17g", a->v.d);
		return hx__buf_puts(b, s);
	}
	case HX_ATTR_BOOL: return hx__buf_puts(b, a->v.b ? "true" : "false");
	case HX_ATTR_STRING: return hx__buf_append(b, a->v.s.ptr, strnlen(a->v.s.ptr, a->v.s.len));
	default: {
		int err = 0;
		const uint8_t *p = a->v.s.ptr;
		for (size_t i = 0; i < a->v.s.len && i < 64; i++)
			err |= hx__buf_printf(b, "%02x", p[i]);
		return err;
	}
	}
}

/* Keep the values of the keys asked for that ev carries (the first copy of an event wins, as in
 * the DAG). */
static int attr_keep(attr_map *m, const hx_event *ev)
{
	for (size_t i = 0; i < ev->nattrs; i++) {
		const hx_attr *a = &ev->attrs[i];
		if (!a->key)
			continue;
		for (uint32_t k = 0; k < m->nkeys; k++) {
			if (strcmp(a->key, m->keys[k]))
				continue;
			if ((m->n + 1) * 2 > m->cap && attr_grow(m))
				return HX_ENOMEM;
			attr_slot *s = attr_find(m, ev->entity_id, ev->seq, k);
			if (s->used)
				continue;
			size_t off = m->vals.len;
			if (attr_text(&m->vals, a) || hx__buf_putc(&m->vals, 0))
				return HX_ENOMEM;
			*s = (attr_slot){ev->entity_id, ev->seq, off, k, 1};
			m->n++;
		}
	}
	return HX_OK;
}

static const char *attr_of(uint32_t e, const char *key, void *user)
{
	const attr_map *m = user;
	for (uint32_t k = 0; k < m->nkeys; k++) {
		if (m->keys[k] != key && strcmp(m->keys[k], key))
			continue;
		const hx__dag *d = m->d;
		attr_slot *s = attr_find(m, d->entities[d->ev_entity[e]].id, d->ev_seq[e], k);
		return s && s->used ? m->vals.p + s->value : NULL;
	}
	return NULL;
}

static int add_key(attr_map *m, const char *key)
{
	for (size_t i = 0; i < m->nkeys; i++)
		if (!strcmp(m->keys[i], key))
			return 0;
	if (m->nkeys >= HX__FEAT_MAX_ATTRS)
		return -1;
	m->keys[m->nkeys++] = key;
	m->keys[m->nkeys] = NULL;
	return 0;
}

/* ---- reading ---- */

typedef struct reading {
	hx__dag_builder *b;
	attr_map *m;
} reading;

static int read_process(void *user, uint32_t proc, const char *host, const char *program,
                        uint64_t pid)
{
	return hx__dag_builder_process(((reading *)user)->b, proc, host, program, pid);
}

static int read_event(void *user, const hx_event *ev, uint32_t proc)
{
	reading *rd = user;
	int rc;
	if (rd->m->nkeys && ev->nattrs && (rc = attr_keep(rd->m, ev)))
		return rc;
	return hx__dag_builder_add(rd->b, ev, proc);
}

/* Every event of r into a DAG (as hx__dag_read does), keeping the attributes asked for. */
static int read_dag(hx_reader *r, attr_map *m, hx__dag **out)
{
	*out = NULL;
	reading rd = {NULL, m};
	int rc = hx__dag_builder_new(&rd.b, NULL, 0);
	if (rc)
		return rc;
	hx__dag_feed f = {read_process, read_event, &rd};
	if ((rc = hx__dag_feed_reader(r, &f)) != HX_OK) {
		hx__dag_builder_free(rd.b);
		return rc;
	}
	return hx__dag_builder_finish(rd.b, out);
}

/* ---- options ---- */

/* --since: a time ago (90s, 15m, 2h, 7d) or a UTC time (2026-05-01, 2026-05-01T10:00:00[.frac][Z]).
 * 0, or -1 if it is neither. */
static int parse_since(const char *s, uint64_t *out)
{
	char *end;
	double v = strtod(s, &end);
	struct timespec now;
	clock_gettime(CLOCK_REALTIME, &now);
	uint64_t now_ns = (uint64_t)now.tv_sec * 1000000000u + (uint64_t)now.tv_nsec;
	static const struct {
		const char *u;
		double ns;
	} units[] = {{"ns", 1}, {"us", 1e3}, {"ms", 1e6}, {"s", 1e9}, {"m", 60e9}, {"h", 3600e9}, {"d", 86400e9}};
	if (end != s && v >= 0 && strlen(s) < 32 && !strchr(s, '-')) {
		for (size_t i = 0; i < sizeof units / sizeof units[0]; i++)
			if (!strcmp(end, units[i].u)) {
				double ago = v * units[i].ns;
				*out = ago >= (double)now_ns ? 0 : now_ns - (uint64_t)ago;
				return 0;
			}
		return -1;
	}
	struct tm tm;
	memset(&tm, 0, sizeof(tm));
	int n = 0;
	if (sscanf(s, "%4d-%2d-%2d%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &n) != 3 || n != 10)
		return -1;
	const char *p = s + 10;
	uint64_t frac = 0;
	if (*p == 'T' || *p == ' ') {
		int m = 0;
		if (sscanf(p + 1, "%2d:%2d:%2d%n", &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &m) != 3 || m != 8)
			return -1;
		p += 9;
		if (*p == '.') {
			uint64_t scale = 100000000u;
			for (p++; *p >= '0' && *p <= '9'; p++, scale /= 10)
				frac += (uint64_t)(*p - '0') * scale;
		}
		if (*p == 'Z')
			p++;
	}
	if (*p || tm.tm_mon < 1 || tm.tm_mon > 12 || tm.tm_mday < 1 || tm.tm_mday > 31 || tm.tm_hour > 23 ||
	    tm.tm_min > 59 || tm.tm_sec > 60 || tm.tm_year < 1970)
		return -1;
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	time_t t = timegm(&tm);
	if (t < 0)
		return -1;
	*out = (uint64_t)t * 1000000000u + frac;
	return 0;
}

/* The options, and what they imply (the attribute keys to keep). */
typedef struct opts {
	hx__agg_config cfg;
	attr_map attrs;
	const char *attr_opt[HX__FEAT_MAX_ATTRS];
	size_t nattr_opt;
	const char *where_text;
	hx__where *where;
	uint64_t since;
	int per_trace, deps, deps_by_entity, fmt;
} opts;

/* --group-by and --attr take one key or several separated by commas (split in place). */
static int add_group_key(opts *o, char *s)
{
	for (char *tok = strtok(s, ","); tok; tok = strtok(NULL, ",")) {
		hx__agg_key k;
		const char *attr;
		if (hx__agg_key_parse(tok, &k, &attr)) {
			fprintf(stderr, "hx analyze: --group-by: '%s' is not a key (name, service, root, host, attr:KEY)\n", tok);
			return -1;
		}
		if (o->cfg.nkeys >= 4) {
			fprintf(stderr, "hx analyze: --group-by: at most 4 keys\n");
			return -1;
		}
		o->cfg.keys[o->cfg.nkeys] = k;
		o->cfg.attr_keys[o->cfg.nkeys++] = attr;
	}
	return 0;
}

static int add_attr_opt(opts *o, char *s)
{
	for (char *tok = strtok(s, ","); tok; tok = strtok(NULL, ",")) {
		if (o->nattr_opt >= HX__FEAT_MAX_ATTRS) {
			fprintf(stderr, "hx analyze: --attr: at most %d keys\n", HX__FEAT_MAX_ATTRS);
			return -1;
		}
		o->attr_opt[o->nattr_opt++] = tok;
	}
	return 0;
}

/* ---- per-trace rows ---- */

typedef struct run {
	opts *o;
	hx__agg *agg;
	uint8_t *keep;     /* --dependencies: the traces that pass */
	hx__buf out;
	uint64_t rows;
} run;

static int trace_row_header(run *r)
{
	opts *o = r->o;
	hx__buf *b = &r->out;
	int err;
	if (o->fmt == HX__AGG_CSV)
		err = hx__buf_puts(b, "trace,start_ns,duration_ns,critical_ns,events,entities,processes,hosts,errors,"
		                      "fanout,root,services");
	else
		err = hx__buf_printf(b, "%-32s  %10s  %10s  %8s  %8s  %9s  %5s  %6s  %6s  %s", "trace", "duration",
		                     "critical", "events", "entities", "processes", "hosts", "errors", "fanout",
		                     "root  services");
	for (size_t i = 0; i < o->nattr_opt; i++) {
		err |= hx__buf_puts(b, o->fmt == HX__AGG_CSV ? ",attr:" : "  attr:");
		err |= o->fmt == HX__AGG_CSV ? hx__agg_csv_field(b, o->attr_opt[i])
		                             : hx__text_plain(b, o->attr_opt[i], strlen(o->attr_opt[i]));
	}
	return err | hx__buf_putc(b, '\n');
}

static const char *attr_value(const hx__features *f, const char *key)
{
	for (size_t i = 0; i < f->nattrs; i++)
		if (!strcmp(f->attrs[i].key, key))
			return f->attrs[i].value;
	return NULL;
}

static int trace_row(run *r, const hx__features *f)
{
	opts *o = r->o;
	hx__buf *b = &r->out;
	if (o->fmt == HX__AGG_JSON)
		return hx__features_json(b, f) | hx__buf_putc(b, '\n');
	int err = 0;
	for (int i = 0; i < 16; i++)
		err |= hx__buf_printf(b, "%02x", f->trace_id[i]);
	hx__buf svc = HX__BUF_INIT;
	for (size_t i = 0; i < f->nservices; i++) {
		err |= i ? hx__buf_putc(&svc, o->fmt == HX__AGG_CSV ? ';' : ',') : 0;
		err |= hx__buf_puts(&svc, f->services[i]);
	}
	const char *root = f->root_name ? f->root_name : "";
	if (o->fmt == HX__AGG_CSV) {
		err |= hx__buf_printf(b, ",%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",%" PRIu64
		                         ",%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",",
		                      f->start_ns, f->duration_ns, f->critical_ns, f->events, f->entities, f->processes,
		                      f->hosts, f->errors, f->fanout);
		err |= hx__agg_csv_field(b, root) | hx__buf_putc(b, ',');
		err |= hx__agg_csv_field(b, svc.p ? svc.p : "");
		for (size_t i = 0; i < o->nattr_opt; i++)
			err |= hx__buf_putc(b, ',') | hx__agg_csv_field(b, attr_value(f, o->attr_opt[i]));
	} else {
		hx__buf t = HX__BUF_INIT;
		err |= hx__agg_format_time(&t, (double)f->duration_ns) | hx__buf_putc(&t, 0);
		err |= hx__agg_format_time(&t, (double)f->critical_ns);
		if (!err)
			err |= hx__buf_printf(b, "  %10s  %10s  %8" PRIu64 "  %8" PRIu64 "  %9" PRIu64 "  %5" PRIu64 "  %6" PRIu64
			                         "  %6" PRIu64 "  ",
			                      t.p, t.p + strlen(t.p) + 1, f->events, f->entities, f->processes, f->hosts,
			                      f->errors, f->fanout);
		hx__buf_free(&t);
		err |= *root ? hx__text_string(b, root, strlen(root)) : hx__buf_putc(b, '-');
		err |= hx__buf_puts(b, "  ");
		err |= svc.len ? hx__text_plain(b, svc.p, svc.len) : hx__buf_putc(b, '-');
		for (size_t i = 0; i < o->nattr_opt; i++) {
			const char *v = attr_value(f, o->attr_opt[i]);
			err |= hx__buf_puts(b, "  ");
			err |= v ? hx__text_string(b, v, strlen(v)) : hx__buf_putc(b, '-');
		}
	}
	hx__buf_free(&svc);
	return err | hx__buf_putc(b, '\n');
}

static int on_trace(const hx__features *f, uint32_t trace, void *user)
{
	run *r = user;
	opts *o = r->o;
	if (f->start_ns < o->since)
		return HX_OK;
	if (o->deps) {
		r->keep[trace] = (uint8_t)hx__where_match(o->where, f, NULL);
		return HX_OK;
	}
	if (!o->per_trace)
		return hx__agg_add(r->agg, f);
	if (!hx__where_match(o->where, f, NULL))
		return HX_OK;
	if (trace_row(r, f))
		return HX_ENOMEM;
	r->rows++;
	if (r->out.len > FLUSH_AT && hx__cli_flush(&r->out, stdout))
		return WRITE_FAILED;
	return HX_OK;
}

int cmd_analyze(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"where", required_argument, NULL, 'w'},
		{"group-by", required_argument, NULL, 'g'},
		{"metric", required_argument, NULL, 'm'},
		{"since", required_argument, NULL, 's'},
		{"per-trace", no_argument, NULL, 'p'},
		{"dependencies", optional_argument, NULL, 'd'},
		{"json", no_argument, NULL, 'j'},
		{"csv", no_argument, NULL, 'c'},
		{"attr", required_argument, NULL, 'a'},
		{NULL, 0, NULL, 0},
	};
	opts o;
	memset(&o, 0, sizeof(o));
	o.cfg.metric = "duration";
	int c;
	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, "w:g:m:s:pd::jca:", longopts, NULL)) != -1) {
		switch (c) {
		case 'w':
			if (o.where_text) {
				fprintf(stderr, "hx analyze: --where given twice: join the conditions with 'and'\n");
				return hx__cli_usage("analyze");
			}
			o.where_text = optarg;
			break;
		case 'g':
			if (add_group_key(&o, optarg))
				return hx__cli_usage("analyze");
			break;
		case 'm':
			o.cfg.metric = optarg;
			break;
		case 's':
			if (parse_since(optarg, &o.since)) {
				fprintf(stderr, "hx analyze: --since needs a time ago (90s, 15m, 2h, 7d) or a UTC time "
				                "(2026-05-01 or 2026-05-01T10:00:00Z), not '%s'\n", optarg);
				return hx__cli_usage("analyze");
			}
			break;
		case 'p':
			o.per_trace = 1;
			break;
		case 'd':
			o.deps = 1;
			if (optarg && !strcmp(optarg, "entity"))
				o.deps_by_entity = 1;
			else if (optarg && strcmp(optarg, "service")) {
				fprintf(stderr, "hx analyze: --dependencies=service or --dependencies=entity, not '%s'\n", optarg);
				return hx__cli_usage("analyze");
			}
			break;
		case 'j':
		case 'c':
			if (o.fmt && o.fmt != (c == 'j' ? HX__AGG_JSON : HX__AGG_CSV)) {
				fprintf(stderr, "hx analyze: --json or --csv, not both\n");
				return hx__cli_usage("analyze");
			}
			o.fmt = c == 'j' ? HX__AGG_JSON : HX__AGG_CSV;
			break;
		case 'a':
			if (add_attr_opt(&o, optarg))
				return hx__cli_usage("analyze");
			break;
		default:
			return hx__cli_bad_option("analyze", argv);
		}
	}
	if (optind >= argc)
		return hx__cli_usage("analyze");
	if (o.per_trace + o.deps > 1) {
		fprintf(stderr, "hx analyze: --per-trace or --dependencies, not both\n");
		return hx__cli_usage("analyze");
	}
	const char *why;
	if (!o.per_trace && !o.deps && (why = hx__agg_config_check(&o.cfg))) {
		fprintf(stderr, "hx analyze: %s\n", why);
		return hx__cli_usage("analyze");
	}
	char err[300];
	if (o.where_text && hx__where_parse(o.where_text, &o.where, err, sizeof err) != HX_OK) {
		fprintf(stderr, "hx analyze: --where: %s\n", err);
		return hx__cli_usage("analyze");
	}
	o.cfg.where = o.where;

	/* the attribute keys to keep: --attr, the group keys, the filter's */
	int too_many = 0;
	for (size_t i = 0; i < o.nattr_opt; i++)
		too_many |= add_key(&o.attrs, o.attr_opt[i]);
	for (size_t i = 0; i < o.cfg.nkeys; i++)
		if (o.cfg.keys[i] == HX__AGG_ATTR)
			too_many |= add_key(&o.attrs, o.cfg.attr_keys[i]);
	const char *wkeys[HX__FEAT_MAX_ATTRS];
	size_t nw = hx__where_attr_keys(o.where, wkeys, HX__FEAT_MAX_ATTRS);
	for (size_t i = 0; i < nw && i < HX__FEAT_MAX_ATTRS; i++)
		too_many |= add_key(&o.attrs, wkeys[i]);
	if (too_many || nw > HX__FEAT_MAX_ATTRS) {
		fprintf(stderr, "hx analyze: at most %d attribute keys in all\n", HX__FEAT_MAX_ATTRS);
		hx__where_free(o.where);
		return hx__cli_usage("analyze");
	}

	hx_reader *rd;
	char **paths = argv + optind;
	size_t npaths = (size_t)(argc - optind);
	if (hx__cli_open_paths("analyze", paths, npaths, HX_ORDER_STREAM, &rd)) {
		hx__where_free(o.where);
		return HX_EXIT_USAGE;
	}
	hx__dag *d = NULL;
	hx__deps *deps = NULL;
	run r;
	memset(&r, 0, sizeof(r));
	r.o = &o;
	int status = HX_EXIT_USAGE, rc = hx_reader_align_clocks(rd);
	if (rc == HX_OK)
		rc = read_dag(rd, &o.attrs, &d);
	if (rc != HX_OK) {
		fprintf(stderr, "hx analyze: %s: %s\n", npaths == 1 ? paths[0] : "input", hx_strerror(rc));
		goto out;
	}
	hx_reader_info info;
	hx_reader_info_get(rd, &info);
	if (info.damaged)
		fprintf(stderr, "hx analyze: the input is damaged: what could be read is analysed (hx check says more)\n");
	o.attrs.d = d;

	if (o.deps) {
		if ((rc = hx__deps_new(&deps, o.deps_by_entity)))
			goto fail;
		if (o.where || o.since) {
			if (!(r.keep = calloc(d->ntraces ? d->ntraces : 1, 1))) {
				rc = HX_ENOMEM;
				goto fail;
			}
			if ((rc = hx__features_extract_all(d, o.attrs.keys, attr_of, &o.attrs, on_trace, &r)))
				goto fail;
		}
		if ((rc = hx__deps_add_traces(deps, d, r.keep)))
			goto fail;
		rc = o.fmt == HX__AGG_JSON ? hx__deps_json(deps, &r.out) : hx__deps_write(deps, o.fmt == HX__AGG_CSV, &r.out);
		if (rc)
			goto fail;
	} else if (o.per_trace) {
		if (o.fmt != HX__AGG_JSON && (rc = trace_row_header(&r)))
			goto fail;
		if ((rc = hx__features_extract_all(d, o.attrs.keys, attr_of, &o.attrs, on_trace, &r)))
			goto fail;
	} else {
		if ((rc = hx__agg_new(&r.agg, &o.cfg)) ||
		    (rc = hx__features_extract_all(d, o.attrs.keys, attr_of, &o.attrs, on_trace, &r)) ||
		    (rc = hx__agg_write(r.agg, (hx__agg_fmt)o.fmt, &r.out)))
			goto fail;
	}
	if (hx__cli_flush(&r.out, stdout) || fflush(stdout)) {
		rc = WRITE_FAILED;
		goto fail;
	}
	status = HX_EXIT_OK;
	goto out;
fail:
	if (rc == WRITE_FAILED)
		fprintf(stderr, "hx analyze: writing the output: %s\n", hx_strerror(HX_EIO));
	else
		fprintf(stderr, "hx analyze: %s\n", hx_strerror(rc));
out:
	hx__buf_free(&r.out);
	hx__agg_free(r.agg);
	hx__deps_free(deps);
	free(r.keep);
	hx__dag_free(d);
	hx_reader_close(rd);
	hx__where_free(o.where);
	free(o.attrs.slot);
	hx__buf_free(&o.attrs.vals);
	return status;
}
