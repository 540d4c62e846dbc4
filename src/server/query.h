/*
 * query.h - the HTTP API's query strings, parsed and validated: a pure function of the bytes (no
 * libevent, no store, no globals), so tests/fuzz/fuzz_http_query.c runs it without a server.
 *
 * A query string is `key=value` pairs separated by '&', percent-encoded ('+' is a space). Every
 * endpoint names the keys it accepts; an unknown key, a key given twice, an empty value, bad
 * percent-encoding or a decoded NUL byte is an error, and so is any value its parameter does not
 * accept. Errors are one English sentence naming the parameter (err, NUL-terminated, cut to fit);
 * the HTTP layer sends it as {"error": "..."} with status 400.
 *
 * Values (docs/http-api.md):
 *   time       ns since the epoch (digits), or RFC 3339: 2026-11-24T10:20:00Z,
 *              2026-11-24T10:20:00.123456789+02:00 (fraction up to 9 digits)
 *   duration   ns (digits), or a decimal number with a unit: ns, us, ms, s, m, h, d (1.5ms, 2s)
 *
 * Ownership: a parsed request owns its decoded strings (free it with its _free function); the
 * store query inside points into them. Thread safety: touches only its arguments.
 */
#ifndef HX_SERVER_QUERY_H
#define HX_SERVER_QUERY_H

#include <stddef.h>
#include <stdint.h>

#include "store/store.h"

#define HX__QUERY_MAX_BYTES 8192   /* longest query string accepted */
#define HX__QUERY_MAX_PARAMS 32
#define HX__QUERY_CURSOR_MAX 1024
#define HX__QUERY_LIMIT_MAX 1000

/* The decoded pairs of a query string. */
typedef struct hx__query {
	char *buf;   /* decoded keys and values, each NUL-terminated */
	size_t n;
	struct {
		const char *key, *value;
	} p[HX__QUERY_MAX_PARAMS];
} hx__query;

/* Split and decode qs (len bytes; NULL or "" is no parameters) and check every key against
 * `allowed` (NULL-terminated). 0, or -1 with err set (HX_ENOMEM reads as "out of memory"). */
int hx__query_parse(hx__query *q, const char *qs, size_t len, const char *const *allowed,
                    char *err, size_t errlen);
void hx__query_free(hx__query *q);
const char *hx__query_get(const hx__query *q, const char *key); /* NULL when absent */

/* GET /api/traces */
typedef struct hx__search_req {
	hx__query raw;
	hx_store_query q;
} hx__search_req;
int hx__search_parse(hx__search_req *r, const char *qs, size_t len, char *err, size_t errlen);
void hx__search_free(hx__search_req *r);

/* GET /api/traces/{id} */
typedef enum hx__fetch_format { HX__FETCH_JSON = 0, HX__FETCH_HX = 1 } hx__fetch_format;
typedef struct hx__fetch_req {
	uint8_t trace_id[16];
	hx_store_window w;
	hx__fetch_format format;
} hx__fetch_req;
/* id: the path segment after /api/traces/ (32 hex digits, either case). */
int hx__fetch_parse(hx__fetch_req *r, const char *id, const char *qs, size_t len, char *err,
                    size_t errlen);

/* GET /api/names: *kind is HX_EV_BLOCK_BEGIN, HX_EV_POINT, HX_EV_ENTITY_BEGIN, or 0 for all. */
int hx__names_parse(int *kind, const char *qs, size_t len, char *err, size_t errlen);
/* Endpoints without parameters: anything in the query string is an error. */
int hx__noparams_parse(const char *qs, size_t len, char *err, size_t errlen);

/* The value parsers, for the same inputs in other places (flags of `hx serve`). 0 or -1. */
int hx__parse_time(const char *s, uint64_t *ns);
int hx__parse_duration(const char *s, uint64_t *ns);
/* Sizes: bytes, or with a binary unit K, M, G, T (KiB ... accepted too): "512M". */
int hx__parse_size(const char *s, uint64_t *bytes);
/* n hex digits (either case) into n/2 bytes; 0 or -1. */
int hx__parse_hex(const char *s, size_t n, uint8_t *out);

#endif /* HX_SERVER_QUERY_H */
