/*
 * api_traces.c - GET /api/traces (search) and GET /api/traces/{id} (fetch), docs/http-api.md.
 *
 * Fetch writes the events as `hx dump --json` does (hx__event_json), each with one more member,
 * "process", indexing the response's "processes" array. With ?format=hx the same events come as a
 * stream of native batches (proto.h), each preceded by its length as a little-endian u32; every
 * batch holds events of one process, in time order, at most BATCH_BYTES each. Either body is
 * bounded by limits.response_max: a larger trace is refused with a hint to fetch it in windows.
 */
#include "server/server.h"

#include <event2/http.h>
#include <stdlib.h>
#include <string.h>

#include "format/format.h"

#define BATCH_BYTES (1u << 20)
#define MAX_BUILDERS 64

static const char hexd[] = "0123456789abcdef";

static int put_hex(hx__buf *b, const uint8_t *p, size_t n)
{
	if (hx__buf_grow(b, 2 * n))
		return HX_ENOMEM;
	for (size_t i = 0; i < n; i++) {
		b->p[b->len++] = hexd[p[i] >> 4];
		b->p[b->len++] = hexd[p[i] & 15];
	}
	b->p[b->len] = '\0';
	return HX_OK;
}

static int put_hex_string(hx__buf *b, const uint8_t *p, size_t n)
{
	return hx__buf_putc(b, '"') | put_hex(b, p, n) | hx__buf_putc(b, '"');
}

static void store_error(hx__server *srv, struct evhttp_request *req, int rc)
{
	hx__buf msg = HX__BUF_INIT;
	hx__buf_printf(&msg, "the store failed: %s", hx_strerror(rc));
	hx__http_error(srv, req, rc == HX_ENOMEM ? 503 : 500, msg.p ? msg.p : "the store failed");
	hx__buf_free(&msg);
}

/* ---- search ---- */

static int summary_json(hx__buf *b, const hx_trace_summary *t)
{
	int err = hx__buf_puts(b, "{\"trace_id\":");
	err |= put_hex_string(b, t->trace_id, 16);
	err |= hx__buf_printf(b, ",\"start_ns\":%llu,\"start\":\"", (unsigned long long)t->start_ns);
	err |= hx__time_iso(b, t->start_ns);
	err |= hx__buf_printf(b, "\",\"end_ns\":%llu,\"duration_ns\":%llu,\"root_name\":",
	                      (unsigned long long)t->end_ns,
	                      (unsigned long long)(t->end_ns > t->start_ns ? t->end_ns - t->start_ns : 0));
	const char *root = t->root_name ? t->root_name : "";
	err |= hx__json_string(b, root, strlen(root));
	err |= hx__buf_puts(b, ",\"services\":[");
	const char *s = t->services ? t->services : "";
	int first = 1;
	while (*s) {
		const char *comma = strchr(s, ',');
		size_t n = comma ? (size_t)(comma - s) : strlen(s);
		if (n) {
			if (!first)
				err |= hx__buf_putc(b, ',');
			err |= hx__json_string(b, s, n);
			first = 0;
		}
		s += n + (comma ? 1 : 0);
	}
	err |= hx__buf_printf(b, "],\"events\":%llu,\"entities\":%llu,\"processes\":%llu,"
	                         "\"hosts\":%llu,\"errors\":%llu}",
	                      (unsigned long long)t->events, (unsigned long long)t->entities,
	                      (unsigned long long)t->processes, (unsigned long long)t->hosts,
	                      (unsigned long long)t->errors);
	return err ? HX_ENOMEM : HX_OK;
}

void hx__api_traces(hx__server *srv, struct evhttp_request *req, const char *tail,
                    const char *query)
{
	char err[256];
	hx__search_req r;
	if (hx__search_parse(&r, query, query ? strlen(query) : 0, err, sizeof(err))) {
		hx__http_error(srv, req, 400, err);
		return;
	}
	hx_store_result res;
	memset(&res, 0, sizeof(res));
	hx__store_read_lock(srv);
	int rc = hx_store_search(srv->store, &r.q, &res);
	hx__store_read_unlock(srv);
	hx__search_free(&r);
	if (rc == HX_EINVAL) {
		hx__http_error(srv, req, 400, "the cursor is not one this server gave out, or no "
		                              "longer valid");
		return;
	}
	if (rc != HX_OK) {
		store_error(srv, req, rc);
		return;
	}
	hx__buf b = HX__BUF_INIT;
	int e = hx__buf_puts(&b, "{\"traces\":[");
	for (size_t i = 0; i < res.n && !e; i++) {
		if (i)
			e |= hx__buf_putc(&b, ',');
		e |= summary_json(&b, &res.traces[i]);
	}
	e |= hx__buf_puts(&b, "],\"next_cursor\":");
	if (res.next_cursor)
		e |= hx__json_string(&b, res.next_cursor, strlen(res.next_cursor));
	else
		e |= hx__buf_puts(&b, "null");
	e |= hx__buf_puts(&b, "}\n");
	hx_store_result_free(&res);
	if (e) {
		hx__buf_free(&b);
		hx__http_error(srv, req, 503, "out of memory");
		return;
	}
	hx__http_reply_buf(srv, req, 200, "application/json", &b);
}

/* ---- fetch ---- */

typedef struct fproc {
	uint8_t instance[16];
	uint64_t pid;
	char *host, *service, *program;
	hx_batch_builder *builder;   /* format=hx */
} fproc;

typedef struct fetch_ctx {
	hx__server *srv;
	hx__fetch_format format;
	hx__buf out;
	size_t max;
	int too_big, err;
	size_t nevents;
	fproc *procs;
	size_t nprocs, cap;
} fetch_ctx;

static char *dup_str(const char *s)
{
	size_t n = strlen(s ? s : "");
	char *p = malloc(n + 1);
	if (p)
		memcpy(p, s ? s : "", n + 1);
	return p;
}

/* The builder's resource strings are limited to HX_BATCH_STRING_MAX bytes. */
static void cut(char *s)
{
	if (strlen(s) > HX_BATCH_STRING_MAX)
		s[HX_BATCH_STRING_MAX] = '\0';
}

static long proc_index(fetch_ctx *c, const hx_store_proc *p)
{
	for (size_t i = 0; i < c->nprocs; i++)
		if (c->procs[i].pid == p->pid && !memcmp(c->procs[i].instance, p->instance, 16))
			return (long)i;
	if (c->nprocs == c->cap) {
		size_t cap = c->cap ? c->cap * 2 : 8;
		fproc *v = realloc(c->procs, cap * sizeof(*v));
		if (!v)
			return -1;
		c->procs = v;
		c->cap = cap;
	}
	fproc *f = &c->procs[c->nprocs];
	memset(f, 0, sizeof(*f));
	memcpy(f->instance, p->instance, 16);
	f->pid = p->pid;
	f->host = dup_str(p->host);
	f->service = dup_str(p->service);
	f->program = dup_str(p->program);
	if (!f->host || !f->service || !f->program) {
		free(f->host);
		free(f->service);
		free(f->program);
		return -1;
	}
	return (long)c->nprocs++;
}

static int flush_builder(fetch_ctx *c, fproc *f)
{
	if (!f->builder || !hx_batch_builder_events(f->builder))
		return HX_OK;
	size_t len;
	const uint8_t *p = hx_batch_builder_finish(f->builder, &len);
	if (!p)
		return HX_ENOMEM;
	uint8_t n[4];
	hx__put_le32(n, (uint32_t)len);
	if (hx__buf_append(&c->out, n, 4) || hx__buf_append(&c->out, p, len))
		return HX_ENOMEM;
	return HX_OK;
}

static int add_hx(fetch_ctx *c, fproc *f, const hx_event *ev)
{
	if (!f->builder) {
		size_t live = 0;
		for (size_t i = 0; i < c->nprocs; i++)
			live += c->procs[i].builder != NULL;
		if (live >= MAX_BUILDERS) /* bound the builders held at once */
			for (size_t i = 0; i < c->nprocs; i++)
				if (c->procs[i].builder) {
					if (flush_builder(c, &c->procs[i]))
						return HX_ENOMEM;
					hx_batch_builder_free(c->procs[i].builder);
					c->procs[i].builder = NULL;
				}
		cut(f->host);
		cut(f->service);
		cut(f->program);
		const char *kv[6] = {"host", f->host, "service", f->service, "program", f->program};
		f->builder = hx_batch_builder_new(f->instance, f->pid, kv, 3);
		if (!f->builder)
			return HX_ENOMEM;
	}
	int rc = hx_batch_builder_add(f->builder, ev);
	if (rc != HX_OK)
		return rc;
	if (hx_batch_builder_bytes(f->builder) >= BATCH_BYTES)
		return flush_builder(c, f);
	return HX_OK;
}

static int on_fetched(const hx_event *ev, const hx_store_proc *proc, void *user)
{
	fetch_ctx *c = user;
	long pi = proc_index(c, proc);
	if (pi < 0) {
		c->err = HX_ENOMEM;
		return 1;
	}
	int rc;
	if (c->format == HX__FETCH_HX) {
		rc = add_hx(c, &c->procs[pi], ev);
	} else {
		rc = c->nevents ? hx__buf_putc(&c->out, ',') : HX_OK;
		if (!rc)
			rc = hx__event_json(&c->out, ev);
		if (!rc) {
			c->out.len--; /* reopen the object for "process" */
			rc = hx__buf_printf(&c->out, ",\"process\":%ld}", pi);
		}
	}
	if (rc != HX_OK) {
		c->err = rc;
		return 1;
	}
	c->nevents++;
	if (c->out.len > c->max) {
		c->too_big = 1;
		return 1;
	}
	return 0;
}

static int processes_json(fetch_ctx *c)
{
	hx__buf *b = &c->out;
	int err = hx__buf_puts(b, "],\"processes\":[");
	for (size_t i = 0; i < c->nprocs; i++) {
		fproc *f = &c->procs[i];
		err |= hx__buf_puts(b, i ? ",{\"instance\":" : "{\"instance\":");
		err |= put_hex_string(b, f->instance, 16);
		err |= hx__buf_printf(b, ",\"pid\":%llu,\"host\":", (unsigned long long)f->pid);
		err |= hx__json_string(b, f->host, strlen(f->host));
		err |= hx__buf_puts(b, ",\"service\":");
		err |= hx__json_string(b, f->service, strlen(f->service));
		err |= hx__buf_puts(b, ",\"program\":");
		err |= hx__json_string(b, f->program, strlen(f->program));
		err |= hx__buf_putc(b, '}');
	}
	err |= hx__buf_puts(b, "]}\n");
	return err ? HX_ENOMEM : HX_OK;
}

static void fetch_free(fetch_ctx *c)
{
	for (size_t i = 0; i < c->nprocs; i++) {
		free(c->procs[i].host);
		free(c->procs[i].service);
		free(c->procs[i].program);
		hx_batch_builder_free(c->procs[i].builder);
	}
	free(c->procs);
	hx__buf_free(&c->out);
}

void hx__api_trace(hx__server *srv, struct evhttp_request *req, const char *tail,
                   const char *query)
{
	char err[256];
	hx__fetch_req r;
	if (hx__fetch_parse(&r, tail, query, query ? strlen(query) : 0, err, sizeof(err))) {
		hx__http_error(srv, req, 400, err);
		return;
	}
	fetch_ctx c;
	memset(&c, 0, sizeof(c));
	c.srv = srv;
	c.format = r.format;
	c.max = srv->lim.response_max;
	hx__buf_init(&c.out);
	int e = 0;
	if (c.format == HX__FETCH_JSON) {
		e |= hx__buf_puts(&c.out, "{\"trace_id\":");
		e |= put_hex_string(&c.out, r.trace_id, 16);
		e |= hx__buf_puts(&c.out, ",\"events\":[");
	}
	hx__store_read_lock(srv);
	int rc = e ? HX_ENOMEM : hx_store_fetch(srv->store, r.trace_id, &r.w, on_fetched, &c);
	hx__store_read_unlock(srv);
	if (c.too_big) {
		snprintf(err, sizeof(err), "the trace is larger than this server's response limit "
		                           "(%zu bytes): fetch it in windows (from, to) or one entity at "
		                           "a time", c.max);
		hx__http_error(srv, req, 400, err);
	} else if (rc == HX_ENOENT) {
		char id[33];
		for (int i = 0; i < 16; i++) {
			id[2 * i] = hexd[r.trace_id[i] >> 4];
			id[2 * i + 1] = hexd[r.trace_id[i] & 15];
		}
		id[32] = '\0';
		snprintf(err, sizeof(err), "no trace %s in the store", id);
		hx__http_error(srv, req, 404, err);
	} else if (c.err || (rc != HX_OK && rc != 1)) {
		store_error(srv, req, c.err ? c.err : rc);
	} else if (c.format == HX__FETCH_HX) {
		for (size_t i = 0; i < c.nprocs && !e; i++)
			e = flush_builder(&c, &c.procs[i]);
		if (e)
			store_error(srv, req, e);
		else
			hx__http_reply_buf(srv, req, 200, "application/x-haruspex-batches", &c.out);
	} else if (processes_json(&c)) {
		store_error(srv, req, HX_ENOMEM);
	} else {
		hx__http_reply_buf(srv, req, 200, "application/json", &c.out);
	}
	fetch_free(&c);
}
