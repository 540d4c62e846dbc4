/*
 * fetch.c - `hx` inputs that are service URLs: every command that reads a path also reads
 * http://host:port/... (hx__cli_open and hx__cli_open_paths call hx__cli_fetch first).
 *
 *   http://HOST:PORT/api/traces/ID[?from=&to=&entity=]   that trace (or that window of it)
 *   http://HOST:PORT[/][api/traces][?filters]             the traces a search returns (the newest
 *                                                          100 unless the URL says `limit=`)
 *
 * The service sends a trace in its binary form (GET /api/traces/ID?format=hx: native batches,
 * docs/http-api.md); each process's events are written into a trace file of a temporary
 * directory (src/format/filewrite.h), which the ordinary reader then opens, so damage reports,
 * clock handling and every tool work the same as for local files. The directory is removed when
 * the command exits. HX_TOKEN in the environment is sent as `Authorization: Bearer`.
 *
 * HTTP is libcurl's job (the library made for it): timeouts, redirects refused, the body limited
 * to HX_FETCH_MAX_BYTES so a misbehaving server cannot exhaust memory.
 */
#define _GNU_SOURCE
#include <curl/curl.h>
#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cmd.h"
#include "format/filewrite.h"
#include "net/proto.h"

#define HX_FETCH_MAX_BYTES (4ull << 30)
#define HX_FETCH_DEFAULT_LIMIT 100

struct body {
	uint8_t *p;
	size_t len, cap;
	int too_big;
};

static size_t on_data(char *data, size_t size, size_t n, void *user)
{
	struct body *b = user;
	size_t add = size * n;
	if (b->len + add > HX_FETCH_MAX_BYTES) {
		b->too_big = 1;
		return 0; /* makes curl fail the transfer */
	}
	if (b->len + add > b->cap) {
		size_t cap = b->cap ? b->cap : 65536;
		while (cap < b->len + add)
			cap *= 2;
		uint8_t *np = realloc(b->p, cap);
		if (!np)
			return 0;
		b->p = np;
		b->cap = cap;
	}
	memcpy(b->p + b->len, data, add);
	b->len += add;
	return add;
}

/* GET url into *b. 0 or -1 with err filled. */
static int http_get(const char *url, struct body *b, char *err, size_t errlen)
{
	CURL *c = curl_easy_init();
	if (!c) {
		snprintf(err, errlen, "cannot start an HTTP client");
		return -1;
	}
	struct curl_slist *hdr = NULL;
	const char *token = getenv("HX_TOKEN");
	char auth[600];
	if (token && *token) {
		snprintf(auth, sizeof auth, "Authorization: Bearer %.512s", token);
		hdr = curl_slist_append(hdr, auth);
	}
	char cerr[CURL_ERROR_SIZE] = "";
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, b);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, cerr);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 10L);
	curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);
	curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, 60L);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	if (hdr)
		curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdr);
	CURLcode rc = curl_easy_perform(c);
	long status = 0;
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	curl_slist_free_all(hdr);
	curl_easy_cleanup(c);
	if (b->too_big) {
		snprintf(err, errlen, "answer larger than %llu bytes", (unsigned long long)HX_FETCH_MAX_BYTES);
		return -1;
	}
	if (rc != CURLE_OK) {
		snprintf(err, errlen, "%s", cerr[0] ? cerr : curl_easy_strerror(rc));
		return -1;
	}
	if (status != 200) {
		/* the service answers errors as {"error": "..."}: show it as it came */
		int n = (int)(b->len > 200 ? 200 : b->len);
		snprintf(err, errlen, "HTTP %ld%s%.*s", status, n ? ": " : "", n, b->p ? (const char *)b->p : "");
		return -1;
	}
	return 0;
}

/* ---- batches -> files ---- */

struct proc_file {
	uint8_t instance[16];
	hx__file_writer *w;
};

struct convert {
	const char *dir;
	struct proc_file *procs;
	size_t nprocs, cap;
	size_t files;      /* files made so far (names them) */
	hx__file_writer *cur;
	int rc;
};

static int add_event(const hx_event *ev, void *user)
{
	struct convert *cv = user;
	int rc = hx__file_writer_add(cv->cur, ev);
	if (rc != HX_OK) {
		cv->rc = rc;
		return 1;
	}
	return 0;
}

/* The writer for a batch's process, made at its first batch. */
static hx__file_writer *writer_for(struct convert *cv, const hx_batch_info *b)
{
	for (size_t i = 0; i < cv->nprocs; i++)
		if (!memcmp(cv->procs[i].instance, b->instance, 16))
			return cv->procs[i].w;
	if (cv->nprocs == cv->cap) {
		size_t cap = cv->cap ? cv->cap * 2 : 16;
		struct proc_file *np = realloc(cv->procs, cap * sizeof *np);
		if (!np)
			return NULL;
		cv->procs = np;
		cv->cap = cap;
	}
	/* resource strings of the batch are not NUL-terminated: copy them */
	char kv[16][2][256];
	const char *pairs[32];
	size_t np = 0;
	for (size_t i = 0; i < b->nresource && i < 16; i++) {
		size_t kl = b->resource[i].key_len < 255 ? b->resource[i].key_len : 255;
		size_t vl = b->resource[i].value_len < 255 ? b->resource[i].value_len : 255;
		memcpy(kv[i][0], b->resource[i].key, kl);
		kv[i][0][kl] = 0;
		memcpy(kv[i][1], b->resource[i].value, vl);
		kv[i][1][vl] = 0;
		pairs[2 * np] = kv[i][0];
		pairs[2 * np + 1] = kv[i][1];
		np++;
	}
	char path[4096];
	snprintf(path, sizeof path, "%s/fetched-%zu.hx", cv->dir, cv->files++);
	hx__file_writer *w;
	if (hx__file_writer_open(&w, path, b->instance, b->pid, pairs, np) != HX_OK)
		return NULL;
	memcpy(cv->procs[cv->nprocs].instance, b->instance, 16);
	cv->procs[cv->nprocs++].w = w;
	return w;
}

/* Convert a body of length-prefixed batches into files. 0 or -1 with err. */
static int convert(struct convert *cv, const uint8_t *p, size_t len, char *err, size_t errlen)
{
	size_t off = 0;
	while (off < len) {
		if (len - off < 4) {
			snprintf(err, errlen, "answer cut inside a batch length");
			return -1;
		}
		uint32_t bl = (uint32_t)p[off] | (uint32_t)p[off + 1] << 8 | (uint32_t)p[off + 2] << 16 |
		              (uint32_t)p[off + 3] << 24;
		off += 4;
		if (bl > len - off) {
			snprintf(err, errlen, "answer cut inside a batch");
			return -1;
		}
		hx_batch_info b;
		hx_proto_reason why = HX_REASON_NONE;
		if (hx_batch_parse(p + off, bl, &b, &why) != HX_OK) {
			snprintf(err, errlen, "malformed batch in the answer (%s)", hx_proto_reason_name(why));
			return -1;
		}
		cv->cur = writer_for(cv, &b);
		if (!cv->cur) {
			snprintf(err, errlen, "cannot write a trace file in %s", cv->dir);
			return -1;
		}
		cv->rc = HX_OK;
		int rc = hx_batch_events(&b, add_event, cv, &why);
		if (rc != HX_OK || cv->rc != HX_OK) {
			snprintf(err, errlen, "batch in the answer: %s", cv->rc != HX_OK ? hx_strerror(cv->rc)
			                                                                   : hx_proto_reason_name(why));
			return -1;
		}
		off += bl;
	}
	return 0;
}

/* ---- temporary directories, removed at exit ---- */

static char **tmpdirs;
static size_t ntmpdirs;

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	remove(path);
	return 0;
}

static void remove_tmpdirs(void)
{
	for (size_t i = 0; i < ntmpdirs; i++) {
		nftw(tmpdirs[i], rm_one, 8, FTW_DEPTH | FTW_PHYS);
		free(tmpdirs[i]);
	}
	free(tmpdirs);
	tmpdirs = NULL;
	ntmpdirs = 0;
}

static char *make_tmpdir(void)
{
	const char *t = getenv("TMPDIR");
	char tmpl[4096];
	snprintf(tmpl, sizeof tmpl, "%s/hx-fetch.XXXXXX", t && *t ? t : "/tmp");
	if (!mkdtemp(tmpl))
		return NULL;
	char **np = realloc(tmpdirs, (ntmpdirs + 1) * sizeof *np);
	char *d = strdup(tmpl);
	if (!np || !d) {
		free(d);
		if (np)
			tmpdirs = np;
		rmdir(tmpl);
		return NULL;
	}
	if (!ntmpdirs)
		atexit(remove_tmpdirs);
	tmpdirs = np;
	tmpdirs[ntmpdirs++] = d;
	return d;
}

/* ---- URLs ---- */

int hx__cli_is_url(const char *path)
{
	return !strncmp(path, "http://", 7) || !strncmp(path, "https://", 8);
}

/* 32 hex digits followed by the end of the string or one of the characters in `after`. */
static int hex32_then(const char *s, const char *after)
{
	for (int i = 0; i < 32; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f') || (s[i] >= 'A' && s[i] <= 'F')))
			return 0;
	return s[32] == 0 || strchr(after, s[32]) != NULL;
}

static int is_hex32(const char *s)
{
	return hex32_then(s, "?/");
}

/* Fetch one trace (base = scheme://host:port, id 32 hex digits, query the window or "") into cv. */
static int fetch_trace(struct convert *cv, const char *base, const char *id, const char *query, char *err,
                       size_t errlen)
{
	char url[8192];
	snprintf(url, sizeof url, "%s/api/traces/%.32s?format=hx%s%s", base, id, *query ? "&" : "", query);
	struct body b = {0};
	int rc = http_get(url, &b, err, errlen);
	if (rc == 0)
		rc = convert(cv, b.p, b.len, err, errlen);
	free(b.p);
	return rc;
}

int hx__cli_fetch(const char *url, char **dir_out, char *err, size_t errlen)
{
	static int curl_ready;
	if (!curl_ready) {
		if (curl_global_init(CURL_GLOBAL_DEFAULT) != 0) {
			snprintf(err, errlen, "cannot start libcurl");
			return -1;
		}
		curl_ready = 1;
	}
	const char *hostpart = strstr(url, "://") + 3;
	const char *path = hostpart + strcspn(hostpart, "/?");
	char base[4096];
	snprintf(base, sizeof base, "%.*s", (int)(path - url), url);
	char *dir = make_tmpdir();
	if (!dir) {
		snprintf(err, errlen, "cannot make a temporary directory: %s", strerror(errno));
		return -1;
	}
	struct convert cv = {.dir = dir};
	int rc = 0;
	const char *q = strchr(path, '?');
	const char *query = q ? q + 1 : "";
	if (!strncmp(path, "/api/traces/", 12) && is_hex32(path + 12)) {
		rc = fetch_trace(&cv, base, path + 12, query, err, errlen);
	} else if (*path == 0 || *path == '?' || !strncmp(path, "/?", 2) || !strcmp(path, "/") ||
	           !strncmp(path, "/api/traces", 11)) {
		/* a search: its traces, one by one */
		char url2[8192];
		int has_limit = strstr(query, "limit=") != NULL;
		snprintf(url2, sizeof url2, "%s/api/traces?%s%s%s", base, query, *query ? "&" : "",
		         has_limit ? "" : "limit=100");
		if (url2[strlen(url2) - 1] == '&')
			url2[strlen(url2) - 1] = 0;
		struct body b = {0};
		rc = http_get(url2, &b, err, errlen);
		size_t ntraces = 0;
		if (rc == 0 && b.len) {
			/* the IDs are the only 32-hex-digit strings after "trace_id": (docs/http-api.md) */
			char *text = strndup((const char *)b.p, b.len);
			for (char *s = text; rc == 0 && s && (s = strstr(s, "\"trace_id\":\"")); s += 12) {
				if (!hex32_then(s + 12, "\""))
					continue;
				char id[33];
				memcpy(id, s + 12, 32);
				id[32] = 0;
				rc = fetch_trace(&cv, base, id, "", err, errlen);
				ntraces++;
			}
			free(text);
		}
		free(b.p);
		if (rc == 0 && !has_limit && ntraces == HX_FETCH_DEFAULT_LIMIT)
			fprintf(stderr, "hx: %s: the newest %d traces (add limit= to the URL for more)\n", url,
			        HX_FETCH_DEFAULT_LIMIT);
	} else {
		snprintf(err, errlen, "not a trace or search URL (expected /api/traces/ID or /api/traces?...)");
		rc = -1;
	}
	for (size_t i = 0; i < cv.nprocs; i++) {
		int r = hx__file_writer_close(cv.procs[i].w);
		if (r != HX_OK && rc == 0) {
			snprintf(err, errlen, "writing a trace file: %s", hx_strerror(r));
			rc = -1;
		}
	}
	free(cv.procs);
	if (rc == 0)
		*dir_out = dir;
	return rc;
}
