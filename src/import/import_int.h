/*
 * import_int.h - the importer's own header: the span model the two parsers fill (otlp.c,
 * zipkin.c) and the build reads (resolve.c, lanes.c, emit.c), the arena everything is copied
 * into, and the diagnostics (paths, rejections, warnings).
 *
 * The parsers copy what they keep out of jansson's tree into the arena, so each document's tree
 * is freed as soon as it is read: memory holds the spans of every document, not their JSON.
 */
#ifndef HX_IMPORT_INT_H
#define HX_IMPORT_INT_H

#include <jansson.h>
#include <stdarg.h>

#include "import/import.h"

#define HX__IMP_NONE UINT32_MAX

/* ---- arena (mem.c): bump allocation, freed all at once ---- */

typedef struct hx__arena {
	struct hx__arena_blk *head;
	size_t bytes;                  /* allocated in blocks */
} hx__arena;

void *hx__arena_alloc(hx__arena *a, size_t n);             /* 16-aligned, zeroed; NULL: no memory */
char *hx__arena_strdup(hx__arena *a, const char *s, size_t n); /* NUL-terminated copy */
void hx__arena_free(hx__arena *a);

/* A growable array of fixed-size elements (realloc), for the build's tables. */
int hx__grow(void **p, size_t *cap, size_t need, size_t elem);

/* ---- the span model ---- */

enum { HX__SK_INTERNAL = 0, HX__SK_SERVER, HX__SK_CLIENT, HX__SK_PRODUCER, HX__SK_CONSUMER };

typedef struct hx__imp_point {      /* a span event (OTLP) or annotation (Zipkin) */
	uint64_t time;
	const char *name;
	size_t name_len;
	hx_attr *attrs;
	size_t nattrs;
	uint32_t ord;                   /* its place in the input, to sort stably */
} hx__imp_point;

typedef struct hx__imp_link {
	uint8_t trace[16];
	uint64_t span;
	hx_attr *attrs;
	size_t nattrs;
	uint8_t kind;                   /* hx.interaction (a link hx export wrote), else 0: causal */
	const char *effect_name, *cause_name; /* hx.effect, hx.cause; NULL: the span's name */
	size_t effect_len, cause_len;
} hx__imp_link;

typedef struct hx__imp_span {
	uint8_t trace[16];
	uint64_t id, parent;            /* parent 0: none */
	uint64_t start, end;            /* ns since the epoch; end >= start (repaired) */
	const char *name;
	size_t name_len;
	hx_attr *attrs;                 /* the block's attributes, added ones (span.kind ...) last */
	size_t nattrs;
	hx__imp_point *points;          /* sorted by time, inside [start, end] (repaired) */
	size_t npoints;
	hx__imp_link *links;
	size_t nlinks;
	const char *error;              /* with has_error: the ERROR's message */
	size_t error_len;
	const char *thread_name;        /* NULL: none */
	int64_t tid;
	const char *entity_key;         /* hx.entity (a span hx export wrote): its entity, else NULL */
	const char *trace_name;         /* hx.trace.name: the trace's root name, else NULL */
	size_t trace_name_len;
	uint32_t res;                   /* index in resources */
	uint32_t input, doc, ordinal;   /* where it came from, for messages: hx__import.names[input],
	                                   the document in it, the span in the document */
	uint8_t kind;                   /* HX__SK_* */
	uint8_t has_error, has_tid;
	uint8_t shared;                 /* Zipkin: the server side of a span ID shared with its client */
} hx__imp_span;

typedef struct hx__imp_res {
	const char *service, *host, *program, *instance_id; /* NUL-terminated, at most 255 bytes */
	uint64_t pid;
	hx_attr *attrs;                 /* the other resource attributes: on each ENTITY_BEGIN */
	size_t nattrs;
	uint64_t ident;                 /* hash of service, host, pid, instance_id */
	const char *source;             /* "otlp" or "zipkin" */
} hx__imp_res;

/* ---- diagnostics (diag.c) ---- */

/* A position in the document, as a chain on the C stack: key (an object member) or index. */
typedef struct hx__jpath {
	const struct hx__jpath *up;
	const char *key;                /* NULL: an array index */
	size_t index;
} hx__jpath;

int hx__jpath_text(hx__buf *b, const hx__jpath *p);   /* "resourceSpans[0].scopeSpans[1]..." */

/* ---- the importer ---- */

struct hx__import {
	hx__import_limits lim;
	hx__arena arena;
	hx__imp_span *spans;
	size_t nspans, cap_spans;
	hx__imp_res *res;
	size_t nres, cap_res;
	uint32_t *res_slots;            /* ident -> index + 1 (open addressing) */
	size_t res_cap;
	hx__import_stats st;
	uint64_t salt;
	int finished;
	/* per input and document being read */
	const char **names;             /* of each input (hx__import_name; NULL: none), in the arena */
	size_t ninputs, cap_names;
	const char *next_name;          /* for the next hx__import_add() */
	uint32_t input;                 /* the input being read */
	uint32_t doc;
	size_t doc_spans;               /* spans read in this document (rejected too) */
	char *err;                      /* hx__import_add's err, errlen */
	size_t errlen;
	/* the result (emit.c) */
	struct hx__imp_out *out;
};

/* A document-level error: the message (with the path, if any) goes to err; returns HX_EFORMAT. */
int hx__imp_doc_error(hx__import *im, const hx__jpath *p, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* A rejected span: counted, the first message kept. Returns -1 (so parsers `return reject(..)`). */
int hx__imp_reject(hx__import *im, const hx__jpath *p, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void hx__imp_rejectv(hx__import *im, const char *where, const char *fmt, va_list ap)
	__attribute__((format(printf, 3, 0)));
void hx__imp_reject_at(hx__import *im, const char *where, const char *why);
/* A repair: counted by kind, the first place kept. */
void hx__imp_warn(hx__import *im, hx__import_warn kind, const hx__jpath *p);
void hx__imp_warn_at(hx__import *im, hx__import_warn kind, const char *where);
/* Where a span came from, for the build's messages: "FILE: document 2, span 7 (ID ... of trace ...)". */
void hx__imp_span_where(const hx__import *im, const hx__imp_span *s, char *out, size_t cap);

/* ---- JSON values (jsonval.c) ----
 * Functions that read a span's parts return 0 (or 1: something kept), -1 when the span was rejected
 * (after hx__imp_reject), -2 when memory ran out (the document fails with HX_ENOMEM). */

/* Member `a` of object o, else member `b` (the proto field name: OTLP receivers accept both);
 * NULL when absent or null. */
json_t *hx__imp_get(const json_t *o, const char *a, const char *b);
/* A string within the length limit, copied to the arena: 1 copied, 0 absent (out ""), -1, -2. */
int hx__imp_str(hx__import *im, const json_t *v, const hx__jpath *p, const char **out, size_t *len);
/* Hex of exactly `bytes` bytes (OTLP), or (pad) 1 to 2*bytes digits left-padded (Zipkin). Base64
 * of `bytes` bytes is accepted (OTLP, warned). 0 ok, -1 bad (not rejected yet). */
int hx__imp_id(hx__import *im, const char *s, size_t n, uint8_t *out, size_t bytes, int pad,
               const hx__jpath *p);
/* An unsigned 64-bit integer: a JSON integer >= 0 or a decimal string. 0 ok, -1 bad. */
int hx__imp_u64(const json_t *v, uint64_t *out);
/* A signed one: a JSON integer, an integral number, or a decimal string. 0 ok, -1 bad. */
int hx__imp_i64(const json_t *v, int64_t *out);
/* Base64 (standard or URL alphabet, padding optional) into the arena. 0, -1 bad, -2. */
int hx__imp_base64(hx__import *im, const char *s, size_t n, uint8_t **out, size_t *len);

/* An attribute list being built: grows in the arena by doubling. */
typedef struct hx__imp_attrs {
	hx_attr *a;
	size_t n, cap;
} hx__imp_attrs;

int hx__imp_attrs_push(hx__import *im, hx__imp_attrs *l, const hx_attr *a); /* 0 or -2 */
/* OTLP attributes ([{key, value: AnyValue}]) appended to l: 0, -1, -2. */
int hx__imp_otlp_attrs(hx__import *im, const json_t *arr, const hx__jpath *p, hx__imp_attrs *l);
/* A string attribute, copied: 0 or -2. */
int hx__imp_attr_str(hx__import *im, hx__imp_attrs *l, const char *key, const char *v, size_t n);
/* How many of n attributes fit one point or effect event (HX_ATTR_MAX, 512 KiB of values); the
 * rest is dropped, warned (blocks spill into ANNOTATE events instead). */
size_t hx__imp_point_attrs_fit(hx__import *im, const hx_attr *a, size_t n, const hx__jpath *p);
/* Take the attributes hx export adds to say what spans cannot (hx.entity, hx.trace.name on a
 * span; hx.interaction, hx.effect, hx.cause on a link) out of the list, into the span or link. */
void hx__imp_hx_span_attrs(hx__imp_span *s, hx__imp_attrs *l);
void hx__imp_hx_link_attrs(hx__imp_link *k, hx__imp_attrs *l);
/* A resource value cut to 255 bytes (on a UTF-8 boundary, warned), copied. NULL: no memory. */
const char *hx__imp_res_value(hx__import *im, const char *v, size_t n, const hx__jpath *p);

/* Keep one resource (deduplicated by identity); its index in *out. 0, or HX_ENOMEM. */
int hx__imp_res_add(hx__import *im, const hx__imp_res *r, uint32_t *out);
/* Keep one span (already validated; its arrays live in the arena). 0, or HX_ENOMEM. */
int hx__imp_span_add(hx__import *im, const hx__imp_span *s);
/* Count one more span read; HX_EINVAL (after a document error) beyond max_spans. */
int hx__imp_span_count(hx__import *im, const hx__jpath *p);
/* Repair times: end before start, points outside the span (warned), points sorted. */
void hx__imp_span_fix_times(hx__import *im, hx__imp_span *s, const hx__jpath *p);

/* ---- the parsers ---- */

int hx__imp_otlp(hx__import *im, const json_t *root);     /* HX_OK, HX_EFORMAT, HX_EINVAL, HX_ENOMEM */
int hx__imp_zipkin(hx__import *im, const json_t *root);

/* ---- the build (resolve.c, lanes.c, emit.c) ---- */

/* hashes: a 64-bit FNV-1a over bytes, finished by a mixer (never 0) */
uint64_t hx__imp_hash(uint64_t seed, const void *p, size_t n);
uint64_t hx__imp_mix(uint64_t x);

int hx__imp_build(hx__import *im);   /* HX_OK or HX_ENOMEM */
void hx__imp_out_free(struct hx__imp_out *o);

#endif /* HX_IMPORT_INT_H */
