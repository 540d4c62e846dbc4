/*
 * call.c - one traced HTTP call with libcurl: the request's context goes out in the request
 * headers, the server's reply context comes back in the response headers.
 */
#include "call.h"

#include <haruspex/curl.h>
#include <haruspex/propagation.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The response headers of one call, kept until the call is done: hx_extract_pairs() wants them
 * all at once, and curl hands them over one line at a time. More than MAX_HEADERS are dropped
 * (counted in `dropped`, reported): our servers send five. */
#define MAX_HEADERS 64

typedef struct response {
	hx_header_pair h[MAX_HEADERS]; /* name and value malloc'd, owned here */
	size_t n, dropped;
	char *body;                    /* the caller's shop_answer.body */
	size_t body_len, body_cap;
} response;

static void response_clear(response *r)
{
	for (size_t i = 0; i < r->n; i++) {
		free((char *)r->h[i].name);
		free((char *)r->h[i].value);
	}
	r->n = 0;
	r->dropped = 0;
}

static size_t on_header(char *line, size_t size, size_t nitems, void *user)
{
	response *r = user;
	size_t len = size * nitems;
	/* A status line starts a header block: an earlier block (a "100 Continue") is not the answer. */
	if (len >= 5 && !memcmp(line, "HTTP/", 5)) {
		response_clear(r);
		return len;
	}
	const char *colon = memchr(line, ':', len);
	if (!colon)
		return len; /* the blank line that ends the block */
	if (r->n == MAX_HEADERS) {
		r->dropped++;
		return len;
	}
	const char *v = colon + 1, *end = line + len;
	while (v < end && (*v == ' ' || *v == '\t'))
		v++;
	while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' ' || end[-1] == '\t'))
		end--;
	char *name = strndup(line, (size_t)(colon - line));
	char *value = strndup(v, (size_t)(end - v));
	if (!name || !value) {
		free(name);
		free(value);
		r->dropped++;
		return len;
	}
	r->h[r->n++] = (hx_header_pair){name, value};
	return len;
}

static size_t on_body(char *data, size_t size, size_t nitems, void *user)
{
	response *r = user;
	size_t len = size * nitems;
	size_t room = r->body_cap - 1 - r->body_len;
	/* Keep what fits; returning less than len would abort the transfer. */
	size_t take = len < room ? len : room;
	memcpy(r->body + r->body_len, data, take);
	r->body_len += take;
	r->body[r->body_len] = '\0';
	return len;
}

int shop_call(CURL *curl, const char *url, const char *body, const char *request_name, const char *waiting_for,
              const char *reply_name, shop_answer *out)
{
	response r = {.body = out->body, .body_cap = sizeof out->body};
	struct curl_slist *headers = NULL;
	memset(out, 0, sizeof *out);
	out->body[0] = '\0';

	hx_context req = hx_request(request_name);
	if (req.flags & HX_CTX_VALID) {
		int err = hx_curl_inject(&req, &headers);
		if (err != HX_OK)
			fprintf(stderr, "shop: %s: request context not sent: %s\n", url, hx_strerror(err));
	}
	/* curl would send "Expect: 100-continue" before a large body and wait for it; an empty
	 * value removes the header, so every call is one round trip. */
	struct curl_slist *grown = curl_slist_append(headers, "Expect:");
	if (grown)
		headers = grown;

	curl_easy_setopt(curl, CURLOPT_URL, url);
	curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
	curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(curl, CURLOPT_HEADERDATA, &r);
	curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(curl, CURLOPT_WRITEDATA, &r);
	/* A hung server must not hang the caller: the launcher's own timeout is the last resort. */
	curl_easy_setopt(curl, CURLOPT_TIMEOUT, 10L);
	curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);

	/* Blocked in curl until the answer: the timeline shows this stretch as waiting, and on what. */
	hx_state_set(HX_STATE_WAITING, waiting_for);
	CURLcode rc = curl_easy_perform(curl);
	curl_easy_setopt(curl, CURLOPT_HTTPHEADER, NULL);
	curl_slist_free_all(headers);

	int result = -1;
	if (rc != CURLE_OK) {
		hx_state_set(HX_STATE_RUNNING, NULL);
		hx_error_attrs("call failed", HX_ATTRS(HX_STR("url", url), HX_STR("curl", curl_easy_strerror(rc))));
		fprintf(stderr, "shop: %s: %s\n", url, curl_easy_strerror(rc));
	} else {
		curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &out->status);
		if (r.dropped)
			fprintf(stderr, "shop: %s: %zu response headers ignored\n", url, r.dropped);
		hx_extract_pairs(r.h, r.n, &out->reply);
		if (out->reply.flags & HX_CTX_VALID) {
			/* Recorded while waiting, so it also ends the wait (the "resumes" rule): the server's
			 * reply is what let this entity run again. */
			hx_reply_received(reply_name, &out->reply);
		} else {
			/* An untraced server: nothing names its reply, so the wait just ends. */
			hx_state_set(HX_STATE_RUNNING, NULL);
		}
		result = 0;
	}
	response_clear(&r);
	return result;
}
