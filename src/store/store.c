/*
 * store.c - the storage interface (store.h): picks a backend from the URL and forwards each call
 * through the backend's table of operations, so callers never know which backend answers.
 *
 * Every backend's handle begins with its `const hx_store_ops *` (local_int.h's struct hx_store
 * does), which is all this file reads of it.
 */
#define _GNU_SOURCE
#include "store/store.h"
#include "store/store_int.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern const hx_store_ops hx__store_local_ops;

/* The message of the last failure, per thread like errno: a store handle may not exist yet
 * (open failed) and queries run on several threads. */
static _Thread_local char last_error[512];

void hx__store_seterr(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(last_error, sizeof last_error, fmt, ap);
	va_end(ap);
}

const char *hx_store_errmsg(void)
{
	return last_error;
}

static const hx_store_ops *ops_of(const hx_store *s)
{
	return *(const hx_store_ops *const *)(const void *)s;
}

int hx_store_open(hx_store **out, const char *url, const hx_store_config *cfg)
{
	if (!out) {
		hx__store_seterr("store: no handle to open into");
		return HX_EINVAL;
	}
	*out = NULL;
	last_error[0] = 0;
	hx_store_config c = {0};
	if (cfg)
		c = *cfg;
	if (!url || !*url) {
		if (!c.dir || !*c.dir) {
			hx__store_seterr("store: no URL and no data directory");
			return HX_EINVAL;
		}
		return hx__store_local_ops.open(out, &c);
	}
	if (!strncmp(url, "clickhouse://", 13)) {
		hx__store_seterr("store: %s: the ClickHouse backend is not available in this build; use "
		                 "local:DIR", url);
		return HX_EINVAL;
	}
	if (!strncmp(url, "local:", 6)) {
		url += 6;
		/* "local://DIR" reads as well as "local:DIR" */
		if (!strncmp(url, "//", 2))
			url += 2;
	} else if (strstr(url, "://")) {
		hx__store_seterr("store: %s: unknown store URL scheme (expected local:DIR or a directory)",
		                 url);
		return HX_EINVAL;
	}
	if (!*url) {
		hx__store_seterr("store: empty directory in the store URL");
		return HX_EINVAL;
	}
	c.dir = url;
	return hx__store_local_ops.open(out, &c);
}

void hx_store_close(hx_store *s)
{
	if (s)
		ops_of(s)->close(s);
}

int hx_store_append(hx_store *s, const hx_store_proc *proc, const hx_event *events, size_t n,
                    size_t *stored, size_t *duplicates)
{
	if (!s) {
		hx__store_seterr("store: NULL handle");
		return HX_EINVAL;
	}
	return ops_of(s)->append(s, proc, events, n, stored, duplicates);
}

int hx_store_commit(hx_store *s)
{
	if (!s) {
		hx__store_seterr("store: NULL handle");
		return HX_EINVAL;
	}
	return ops_of(s)->commit(s);
}

int hx_store_search(hx_store *s, const hx_store_query *q, hx_store_result *out)
{
	if (!s || !out) {
		hx__store_seterr("store: NULL handle or result");
		return HX_EINVAL;
	}
	return ops_of(s)->search(s, q, out);
}

void hx_store_result_free(hx_store_result *r)
{
	if (!r)
		return;
	free(r->traces);
	free(r->next_cursor);
	free(r->priv);
	memset(r, 0, sizeof *r);
}

int hx_store_fetch(hx_store *s, const uint8_t trace_id[16], const hx_store_window *w,
                   hx_store_event_fn fn, void *user)
{
	if (!s) {
		hx__store_seterr("store: NULL handle");
		return HX_EINVAL;
	}
	return ops_of(s)->fetch(s, trace_id, w, fn, user);
}

int hx_store_names(hx_store *s, int kind, hx_name_list *out)
{
	if (!s || !out) {
		hx__store_seterr("store: NULL handle or list");
		return HX_EINVAL;
	}
	return ops_of(s)->names(s, kind, out);
}

void hx_store_names_free(hx_name_list *l)
{
	if (!l)
		return;
	free(l->v);
	free(l->priv);
	memset(l, 0, sizeof *l);
}

int hx_store_retain(hx_store *s, uint64_t now_ns)
{
	if (!s) {
		hx__store_seterr("store: NULL handle");
		return HX_EINVAL;
	}
	return ops_of(s)->retain(s, now_ns);
}

int hx_store_remove(hx_store *s, const uint8_t trace_id[16])
{
	if (!s || !trace_id) {
		hx__store_seterr("store: NULL handle or trace ID");
		return HX_EINVAL;
	}
	return ops_of(s)->remove(s, trace_id);
}

int hx_store_info_get(hx_store *s, hx_store_info *out)
{
	if (!s || !out) {
		hx__store_seterr("store: NULL handle or info");
		return HX_EINVAL;
	}
	return ops_of(s)->info(s, out);
}
