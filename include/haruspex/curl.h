/*
 * haruspex/curl.h - propagation helpers for libcurl clients. Header-only: libharuspex does not
 * link libcurl; a program that includes this header links libcurl itself (it already does).
 *
 *   struct curl_slist *headers = NULL;
 *   hx_context ctx = hx_request("GET /stock");           // the cause, recorded here
 *   if (hx_curl_inject(&ctx, &headers) != HX_OK) { ... } // the request goes out untraced
 *   curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
 *   curl_easy_perform(curl);
 *   curl_slist_free_all(headers);
 *
 * Thread safety: as hx_inject() (any thread); the list belongs to the caller.
 */
#ifndef HARUSPEX_CURL_H
#define HARUSPEX_CURL_H

#include <curl/curl.h>
#include <haruspex/propagation.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The carrier of hx_curl_inject(): the list being built, and whether an append failed. */
struct hx__curl_carrier {
	struct curl_slist *list;
	int failed;
};

/* hx_header_set_fn for a curl_slist: appends "name: value". curl_slist_append() copies the line
 * and leaves the list unchanged when it fails, so the list stays valid either way. */
static inline int hx__curl_set(void *carrier, const char *name, const char *value)
{
	struct hx__curl_carrier *c = (struct hx__curl_carrier *)carrier;
	size_t n = strlen(name) + 2 + strlen(value) + 1;
	char *line = (char *)malloc(n);
	struct curl_slist *l = NULL;
	if (line) {
		snprintf(line, n, "%s: %s", name, value);
		l = curl_slist_append(c->list, line);
		free(line);
	}
	if (!l) {
		c->failed = 1;
		return -1;
	}
	c->list = l;
	return 0;
}

/* Append the traceparent, tracestate and (when ctx's trace has any in this process) baggage
 * header lines of `ctx` to *headers (which may be NULL: a new list). Returns HX_OK, HX_ENOMEM when
 * an append failed (the lines appended before it stay; *headers is a valid list to free either
 * way), or hx_inject()'s error (HX_EINVAL for a context without a trace: nothing appended). */
static inline int hx_curl_inject(const hx_context *ctx, struct curl_slist **headers)
{
	if (!headers)
		return HX_EINVAL;
	struct hx__curl_carrier c = {*headers, 0};
	int rc = hx_inject(ctx, NULL, hx__curl_set, &c);
	*headers = c.list;
	if (c.failed)
		return HX_ENOMEM;
	return rc;
}

#ifdef __cplusplus
}
#endif
#endif /* HARUSPEX_CURL_H */
