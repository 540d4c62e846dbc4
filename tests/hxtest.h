/*
 * hxtest.h - helpers shared by the unit and integration tests: temporary directories, owned
 * copies of decoded events, reading a whole trace, and a canonical one-line form of an event in
 * which random IDs are replaced by names (so two runs of the same workload compare equal).
 *
 * Everything is static inline: each test is one .c file, and unused helpers cost nothing.
 * Not thread-safe unless a function says so.
 */
#ifndef HX_TEST_H
#define HX_TEST_H

#define _GNU_SOURCE
#include <haruspex.h>
#include <haruspex/reader.h>

#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* True when built with AddressSanitizer: the heavy tests scale down (never their assertions). */
#if defined(__SANITIZE_ADDRESS__)
#define HXT_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define HXT_SANITIZED 1
#endif
#endif
#ifndef HXT_SANITIZED
#define HXT_SANITIZED 0
#endif

/* ---- memory and directories ---- */

static inline void *hxt_xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);
	if (!p) {
		fprintf(stderr, "out of memory (%zu bytes)\n", n);
		abort();
	}
	return p;
}

static inline void *hxt_xrealloc(void *p, size_t n)
{
	void *q = realloc(p, n ? n : 1);
	if (!q) {
		fprintf(stderr, "out of memory (%zu bytes)\n", n);
		abort();
	}
	return q;
}

/* A fresh directory ${TMPDIR:-/tmp}/hxtest-<tag>-XXXXXX; the path is written to buf (>= 256). */
static inline int hxt_mkdtemp(char *buf, size_t len, const char *tag)
{
	const char *tmp = getenv("TMPDIR");
	if (!tmp || !*tmp)
		tmp = "/tmp";
	snprintf(buf, len, "%s/hxtest-%s-XXXXXX", tmp, tag);
	return mkdtemp(buf) ? 0 : -1;
}

static inline int hxt__rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	if (flag == FTW_DP)
		return rmdir(path);
	return unlink(path);
}

/* rm -rf path (does not follow symlinks). */
static inline void hxt_rmrf(const char *path)
{
	nftw(path, hxt__rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* Start tracing into dir with the file sink; chunk_bytes 0 keeps the default. Returns hx_init()'s
 * result, for the caller to assert. */
static inline int hxt_start_file(const char *dir, uint32_t chunk_bytes)
{
	hx_config cfg;
	hx_config_init(&cfg);
	cfg.dir = dir;
	if (chunk_bytes)
		cfg.chunk_bytes = chunk_bytes;
	return hx_init(&cfg);
}

/* The per-test fixture of the cmocka suites: a fresh temporary directory, removed afterwards
 * with tracing stopped. */
typedef struct hxt_fixture {
	char dir[512];
} hxt_fixture;

static inline int hxt_fixture_setup(void **state, const char *tag)
{
	hxt_fixture *f = calloc(1, sizeof *f);
	if (!f || hxt_mkdtemp(f->dir, sizeof f->dir, tag)) {
		free(f);
		return -1;
	}
	*state = f;
	return 0;
}

static inline int hxt_fixture_teardown(void **state)
{
	hxt_fixture *f = *state;
	if (hx_enabled())
		hx_shutdown();
	hxt_rmrf(f->dir);
	free(f);
	return 0;
}

/* ---- owned events ---- */

/* A decoded event that owns every byte it points to (one allocation). */
typedef struct hxt_event {
	hx_event ev;
	void *blob;
	size_t process; /* hx_reader_event_process(), or 0 */
} hxt_event;

typedef struct hxt_events {
	hxt_event *v;
	size_t n, cap;
} hxt_events;

static inline void hxt_event_copy(hxt_event *dst, const hx_event *src)
{
	size_t need = src->name_len + 1 + (src->unit ? strlen(src->unit) : 0) + 1;
	need += src->nattrs * sizeof(hx_attr) + src->ncauses * sizeof(hx_context) + 16;
	for (size_t i = 0; i < src->nattrs; i++) {
		need += strlen(src->attrs[i].key ? src->attrs[i].key : "") + 1;
		if (src->attrs[i].type == HX_ATTR_STRING || src->attrs[i].type == HX_ATTR_BYTES)
			need += src->attrs[i].v.s.len + 1;
	}
	/* layout: attrs, causes (aligned), then bytes */
	char *blob = hxt_xmalloc(need);
	char *p = blob;
	hx_attr *attrs = (hx_attr *)(void *)p;
	p += src->nattrs * sizeof(hx_attr);
	hx_context *causes = (hx_context *)(void *)p;
	p += src->ncauses * sizeof(hx_context);
	dst->ev = *src;
	memcpy(p, src->name ? src->name : "", src->name_len);
	p[src->name_len] = 0;
	dst->ev.name = p;
	p += src->name_len + 1;
	const char *unit = src->unit ? src->unit : "";
	size_t ul = strlen(unit);
	memcpy(p, unit, ul + 1);
	dst->ev.unit = p;
	p += ul + 1;
	for (size_t i = 0; i < src->nattrs; i++) {
		attrs[i] = src->attrs[i];
		const char *k = src->attrs[i].key ? src->attrs[i].key : "";
		size_t kl = strlen(k);
		memcpy(p, k, kl + 1);
		attrs[i].key = p;
		p += kl + 1;
		if (attrs[i].type == HX_ATTR_STRING || attrs[i].type == HX_ATTR_BYTES) {
			if (attrs[i].v.s.len)
				memcpy(p, attrs[i].v.s.ptr, attrs[i].v.s.len);
			p[attrs[i].v.s.len] = 0;
			attrs[i].v.s.ptr = p;
			p += attrs[i].v.s.len + 1;
		}
	}
	dst->ev.attrs = src->nattrs ? attrs : NULL;
	if (src->ncauses)
		memcpy(causes, src->causes, src->ncauses * sizeof(hx_context));
	dst->ev.causes = src->ncauses ? causes : NULL;
	dst->blob = blob;
	dst->process = 0;
}

static inline hxt_event *hxt_events_push(hxt_events *a, const hx_event *ev)
{
	if (a->n == a->cap) {
		a->cap = a->cap ? a->cap * 2 : 256;
		a->v = hxt_xrealloc(a->v, a->cap * sizeof(*a->v));
	}
	hxt_event_copy(&a->v[a->n], ev);
	return &a->v[a->n++];
}

static inline void hxt_events_free(hxt_events *a)
{
	for (size_t i = 0; i < a->n; i++)
		free(a->v[i].blob);
	free(a->v);
	memset(a, 0, sizeof(*a));
}

/* The result of reading a whole trace. */
typedef struct hxt_read_result {
	int open_rc;               /* hx_reader_open()'s result */
	int next_rc;               /* the last hx_reader_next() result (HX_EOF when all went well) */
	hx_reader_info info;
	size_t damage;             /* damage entries other than torn tails */
	size_t torn;               /* torn-tail entries */
	size_t damage_kinds[16];   /* count per hx_damage_kind */
	size_t processes;
	hx_process_info proc0;     /* a copy of process 0's info (strings not valid afterwards) */
	char service0[256];        /* process 0's service */
	int clean0;
} hxt_read_result;

/* Read every event of `path` (file or directory) into *out (appended). Prints the damage found
 * when `verbose`. Returns the open result. */
static inline int hxt_read_all(const char *path, hx_read_order order, hxt_events *out,
                               hxt_read_result *res, int verbose)
{
	memset(res, 0, sizeof(*res));
	hx_reader *r = NULL;
	res->open_rc = hx_reader_open(&r, path, order);
	if (res->open_rc != HX_OK)
		return res->open_rc;
	hx_event ev;
	int rc;
	while ((rc = hx_reader_next(r, &ev)) == HX_OK) {
		if (out) {
			hxt_event *e = hxt_events_push(out, &ev);
			e->process = hx_reader_event_process(r);
		}
	}
	res->next_rc = rc;
	hx_reader_info_get(r, &res->info);
	size_t nd = 0;
	const hx_damage *d = hx_reader_damage(r, &nd);
	for (size_t i = 0; i < nd; i++) {
		if (d[i].kind == HX_DMG_TORN_TAIL)
			res->torn++;
		else
			res->damage++;
		if ((unsigned)d[i].kind < 16)
			res->damage_kinds[d[i].kind]++;
		if (verbose && (d[i].kind != HX_DMG_TORN_TAIL || verbose > 1))
			fprintf(stderr, "  damage: %s %s @%" PRIu64 " (+%" PRIu64 ") stream %u chunk %" PRIu64 ": %s\n",
			        hx_damage_kind_name(d[i].kind), d[i].file, d[i].offset, d[i].bytes, d[i].stream,
			        d[i].chunk_seq, d[i].reason);
	}
	res->processes = hx_reader_processes(r);
	if (res->processes) {
		const hx_process_info *p = hx_reader_process(r, 0);
		res->proc0 = *p;
		snprintf(res->service0, sizeof res->service0, "%s", p->service ? p->service : "");
		res->proc0.host = res->proc0.program = res->proc0.service = NULL;
		res->clean0 = p->clean;
	}
	hx_reader_close(r);
	return res->open_rc;
}

/* ---- canonical text: compare two runs whose IDs differ ---- */

typedef struct hxt_buf {
	char *p;
	size_t len, cap;
} hxt_buf;

static inline void hxt_buf_printf(hxt_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static inline void hxt_buf_printf(hxt_buf *b, const char *fmt, ...)
{
	for (;;) {
		va_list ap;
		va_start(ap, fmt);
		size_t room = b->cap - b->len;
		int n = vsnprintf(b->p ? b->p + b->len : NULL, b->p ? room : 0, fmt, ap);
		va_end(ap);
		if (n < 0)
			abort();
		if ((size_t)n < room && b->p) {
			b->len += (size_t)n;
			return;
		}
		b->cap = (b->cap + (size_t)n + 64) * 2;
		b->p = hxt_xrealloc(b->p, b->cap);
	}
}

static inline void hxt_buf_hex(hxt_buf *b, const void *data, size_t n)
{
	const uint8_t *d = data;
	for (size_t i = 0; i < n; i++)
		hxt_buf_printf(b, "%02x", d[i]);
}

/* Names for IDs: an entity is named by its ENTITY_BEGIN name, a trace by its TRACE_BEGIN name.
 * Workloads that use this give every entity and trace a unique name. */
typedef struct hxt_names {
	uint64_t *ent_id;
	const char **ent_name;
	size_t nent;
	uint8_t (*trace_id)[16];
	const char **trace_name;
	size_t ntrace;
} hxt_names;

static inline void hxt_names_build(hxt_names *nm, const hxt_events *a)
{
	memset(nm, 0, sizeof(*nm));
	nm->ent_id = hxt_xmalloc((a->n + 1) * sizeof(uint64_t));
	nm->ent_name = hxt_xmalloc((a->n + 1) * sizeof(char *));
	nm->trace_id = hxt_xmalloc((a->n + 1) * 16);
	nm->trace_name = hxt_xmalloc((a->n + 1) * sizeof(char *));
	for (size_t i = 0; i < a->n; i++) {
		const hx_event *e = &a->v[i].ev;
		if (e->kind == HX_EV_ENTITY_BEGIN) {
			nm->ent_id[nm->nent] = e->entity_id;
			nm->ent_name[nm->nent++] = e->name;
		} else if (e->kind == HX_EV_TRACE_BEGIN) {
			memcpy(nm->trace_id[nm->ntrace], e->trace_id, 16);
			nm->trace_name[nm->ntrace++] = e->name;
		}
	}
}

static inline void hxt_names_free(hxt_names *nm)
{
	free(nm->ent_id);
	free(nm->ent_name);
	free(nm->trace_id);
	free(nm->trace_name);
	memset(nm, 0, sizeof(*nm));
}

static inline void hxt_put_entity(hxt_buf *b, const hxt_names *nm, uint64_t id)
{
	for (size_t i = 0; i < nm->nent; i++)
		if (nm->ent_id[i] == id) {
			hxt_buf_printf(b, "<%s>", nm->ent_name[i]);
			return;
		}
	hxt_buf_printf(b, "<?%016" PRIx64 ">", id);
}

static inline void hxt_put_trace(hxt_buf *b, const hxt_names *nm, const uint8_t id[16])
{
	static const uint8_t zero[16];
	if (!memcmp(id, zero, 16)) {
		hxt_buf_printf(b, "-");
		return;
	}
	for (size_t i = 0; i < nm->ntrace; i++)
		if (!memcmp(nm->trace_id[i], id, 16)) {
			hxt_buf_printf(b, "[%s]", nm->trace_name[i]);
			return;
		}
	hxt_buf_printf(b, "[?");
	hxt_buf_hex(b, id, 16);
	hxt_buf_printf(b, "]");
}

/* One line for an event, without its time, with IDs as names. Byte-exact for names, strings and
 * doubles (bit patterns), so equal lines mean equal events. */
static inline char *hxt_canon(const hx_event *e, const hxt_names *nm)
{
	hxt_buf b = {0};
	hxt_put_entity(&b, nm, e->entity_id);
	hxt_buf_printf(&b, "#%06" PRIu64 " %s trace=", e->seq, hx_event_kind_name(e->kind) ? hx_event_kind_name(e->kind) : "?");
	hxt_put_trace(&b, nm, e->trace_id);
	hxt_buf_printf(&b, " name=%zu:", e->name_len);
	hxt_buf_hex(&b, e->name, e->name_len);
	if (strlen(e->name) != e->name_len)
		hxt_buf_printf(&b, "(strlen-mismatch)");
	switch (e->kind) {
	case HX_EV_ENTITY_BEGIN:
		hxt_buf_printf(&b, " ekind=%d tid=%s parent=", (int)e->entity_kind, e->tid ? "yes" : "0");
		if (e->parent_id)
			hxt_put_entity(&b, nm, e->parent_id);
		else
			hxt_buf_printf(&b, "0");
		break;
	case HX_EV_STATE:
		hxt_buf_printf(&b, " state=%d", (int)e->state);
		break;
	case HX_EV_ANNOTATE:
		hxt_buf_printf(&b, " target=%d", (int)e->target);
		break;
	case HX_EV_COUNTER: {
		uint64_t bits;
		memcpy(&bits, &e->counter_double, 8);
		hxt_buf_printf(&b, " unit=%s isint=%d int=%" PRId64 " dbl=%016" PRIx64, e->unit ? e->unit : "(NULL)",
		               e->counter_is_int, e->counter_is_int ? e->counter_int : 0, e->counter_is_int ? 0 : bits);
		break;
	}
	default:
		break;
	}
	if (e->interaction)
		hxt_buf_printf(&b, " ia=%d", (int)e->interaction);
	for (size_t i = 0; i < e->ncauses; i++) {
		hxt_buf_printf(&b, " cause=");
		hxt_put_entity(&b, nm, e->causes[i].entity_id);
		hxt_buf_printf(&b, "#%" PRIu64 "@", e->causes[i].seq);
		hxt_put_trace(&b, nm, e->causes[i].trace_id);
		hxt_buf_printf(&b, "/%x", e->causes[i].flags);
	}
	for (size_t i = 0; i < e->nattrs; i++) {
		const hx_attr *a = &e->attrs[i];
		hxt_buf_printf(&b, " {");
		hxt_buf_hex(&b, a->key, strlen(a->key));
		switch (a->type) {
		case HX_ATTR_INT:
			hxt_buf_printf(&b, "=i:%" PRId64 "}", a->v.i);
			break;
		case HX_ATTR_DOUBLE: {
			uint64_t bits;
			memcpy(&bits, &a->v.d, 8);
			hxt_buf_printf(&b, "=d:%016" PRIx64 "}", bits);
			break;
		}
		case HX_ATTR_BOOL:
			hxt_buf_printf(&b, "=b:%d}", a->v.b);
			break;
		case HX_ATTR_STRING:
		case HX_ATTR_BYTES:
			hxt_buf_printf(&b, "=%c%zu:", a->type == HX_ATTR_STRING ? 's' : 'x', a->v.s.len);
			hxt_buf_hex(&b, a->v.s.ptr, a->v.s.len);
			hxt_buf_printf(&b, "}");
			break;
		default:
			hxt_buf_printf(&b, "=?%d}", (int)a->type);
		}
	}
	return b.p;
}

static inline int hxt__strcmp_p(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Sorted canonical lines of all events (caller frees each line and the array). */
static inline char **hxt_canon_sorted(const hxt_events *a)
{
	hxt_names nm;
	hxt_names_build(&nm, a);
	char **lines = hxt_xmalloc((a->n + 1) * sizeof(char *));
	for (size_t i = 0; i < a->n; i++)
		lines[i] = hxt_canon(&a->v[i].ev, &nm);
	qsort(lines, a->n, sizeof(char *), hxt__strcmp_p);
	hxt_names_free(&nm);
	return lines;
}

static inline void hxt_lines_free(char **lines, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(lines[i]);
	free(lines);
}

/* Compare two event sets in canonical form. Returns 0 if identical, else prints the first
 * differences (up to 10) and returns the number of differing positions. */
static inline size_t hxt_compare_canon(const hxt_events *a, const char *an, const hxt_events *b, const char *bn)
{
	char **la = hxt_canon_sorted(a), **lb = hxt_canon_sorted(b);
	size_t i = 0, j = 0, diffs = 0;
	while (i < a->n || j < b->n) {
		int c = i == a->n ? 1 : j == b->n ? -1 : strcmp(la[i], lb[j]);
		if (c == 0) {
			i++, j++;
			continue;
		}
		if (diffs++ < 10)
			fprintf(stderr, "only in %s: %.300s\n", c < 0 ? an : bn, c < 0 ? la[i] : lb[j]);
		if (c < 0)
			i++;
		else
			j++;
	}
	if (a->n != b->n)
		fprintf(stderr, "%s has %zu events, %s has %zu\n", an, a->n, bn, b->n);
	hxt_lines_free(la, a->n);
	hxt_lines_free(lb, b->n);
	return diffs;
}

/* ---- lookups and checks ---- */

static inline const hxt_event *hxt_find(const hxt_events *a, uint64_t entity, uint64_t seq)
{
	for (size_t i = 0; i < a->n; i++)
		if (a->v[i].ev.entity_id == entity && a->v[i].ev.seq == seq)
			return &a->v[i];
	return NULL;
}

static inline const hxt_event *hxt_find_name(const hxt_events *a, hx_event_kind kind, const char *name)
{
	for (size_t i = 0; i < a->n; i++)
		if (a->v[i].ev.kind == kind && !strcmp(a->v[i].ev.name, name))
			return &a->v[i];
	return NULL;
}

static inline size_t hxt_count_kind(const hxt_events *a, hx_event_kind kind)
{
	size_t n = 0;
	for (size_t i = 0; i < a->n; i++)
		n += a->v[i].ev.kind == kind;
	return n;
}

static inline uint64_t hxt_realtime_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static inline int hxt__cmp_ent_seq(const void *x, const void *y)
{
	const hx_event *a = &((const hxt_event *)x)->ev, *b = &((const hxt_event *)y)->ev;
	if (a->entity_id != b->entity_id)
		return a->entity_id < b->entity_id ? -1 : 1;
	if (a->seq != b->seq)
		return a->seq < b->seq ? -1 : 1;
	return 0;
}

/* Per-entity checks on a set of events (sorted in place by entity and seq): sequence numbers
 * are 0, 1, 2 ... without gaps or duplicates, the first is ENTITY_BEGIN (when require_begin),
 * times do not decrease with the sequence number, and every time lies in [lo_ns, hi_ns].
 * Returns the number of problems (printing the first few). *entities receives the entity count. */
static inline size_t hxt_check_entities(hxt_events *a, int require_begin, uint64_t lo_ns, uint64_t hi_ns,
                                        size_t *entities)
{
	qsort(a->v, a->n, sizeof(*a->v), hxt__cmp_ent_seq);
	size_t bad = 0, nent = 0;
	for (size_t i = 0; i < a->n; i++) {
		const hx_event *e = &a->v[i].ev;
		int first = i == 0 || a->v[i - 1].ev.entity_id != e->entity_id;
		uint64_t want = first ? 0 : a->v[i - 1].ev.seq + 1;
		nent += first;
		if (e->seq != want && bad++ < 5)
			fprintf(stderr, "entity %016" PRIx64 ": seq %" PRIu64 " where %" PRIu64 " was expected\n",
			        e->entity_id, e->seq, want);
		if (first && require_begin && e->kind != HX_EV_ENTITY_BEGIN && bad++ < 5)
			fprintf(stderr, "entity %016" PRIx64 ": first event is %s\n", e->entity_id,
			        hx_event_kind_name(e->kind));
		if (!first && e->time_ns < a->v[i - 1].ev.time_ns && bad++ < 5)
			fprintf(stderr, "entity %016" PRIx64 ": time goes back at seq %" PRIu64 "\n", e->entity_id, e->seq);
		if ((e->time_ns < lo_ns || e->time_ns > hi_ns) && bad++ < 5)
			fprintf(stderr, "entity %016" PRIx64 " seq %" PRIu64 ": time %" PRIu64 " outside [%" PRIu64 ", %" PRIu64 "]\n",
			        e->entity_id, e->seq, e->time_ns, lo_ns, hi_ns);
	}
	if (entities)
		*entities = nent;
	return bad;
}

/* Number of files named *.hx in dir, or -1 if it cannot be read. */
static inline int hxt_count_hx_files(const char *dir)
{
	DIR *dp = opendir(dir);
	if (!dp)
		return -1;
	int n = 0;
	struct dirent *de;
	while ((de = readdir(dp))) {
		size_t l = strlen(de->d_name);
		if (l > 3 && !strcmp(de->d_name + l - 3, ".hx"))
			n++;
	}
	closedir(dp);
	return n;
}

/* The path of the first *.hx file in dir (into buf), 0 on success. */
static inline int hxt_first_hx_file(const char *dir, char *buf, size_t len)
{
	DIR *dp = opendir(dir);
	if (!dp)
		return -1;
	struct dirent *de;
	int rc = -1;
	while ((de = readdir(dp))) {
		size_t l = strlen(de->d_name);
		if (l > 3 && !strcmp(de->d_name + l - 3, ".hx")) {
			snprintf(buf, len, "%s/%s", dir, de->d_name);
			rc = 0;
			break;
		}
	}
	closedir(dp);
	return rc;
}

/* 1 when dir holds a shipper's saved position (hxship-<instance>.pos: hx ship, the tcp and kafka
 * sinks), i.e. some delivery was confirmed. */
static inline int hxt_has_ship_state(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	int found = 0;
	while (d && (de = readdir(d)))
		found |= !strncmp(de->d_name, "hxship-", 7);
	if (d)
		closedir(d);
	return found;
}

/* Read a whole file into memory (*len bytes). NULL on failure. */
static inline uint8_t *hxt_slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	size_t cap = 1 << 16, n = 0;
	uint8_t *buf = hxt_xmalloc(cap);
	size_t got;
	while ((got = fread(buf + n, 1, cap - n, f)) > 0) {
		n += got;
		if (n == cap) {
			cap *= 2;
			buf = hxt_xrealloc(buf, cap);
		}
	}
	fclose(f);
	*len = n;
	return buf;
}

#endif /* HX_TEST_H */
