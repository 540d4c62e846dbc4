/*
 * export_int.h - what the export module's files share: the input's side data (details of events
 * that the DAG does not keep), the streaming JSON writer, and attribute lists in each format's
 * shape. Not for use outside src/export/.
 *
 * THE SIDE BLOB. One record per event that has attributes, is a COUNTER or an ANNOTATE, appended
 * while events arrive, little-endian fields back to back (the blob is only read by this module):
 *
 *   u8 kind                      hx_event_kind
 *   COUNTER:  u8 is_int, 8 bytes value (int64 or double), u16 unit length, unit bytes
 *   ANNOTATE: u8 target          hx_annotate_target
 *   u8 nattrs, then per attribute:
 *     u16 key length, key bytes, u8 type (hx_attr_type),
 *     INT, DOUBLE: 8 bytes; BOOL: 1 byte; STRING, BYTES: u32 length, bytes
 *
 * After the DAG is built, ev_rec[i] gives the record of DAG event i (the first copy, as the DAG
 * keeps the first copy of a duplicated event ID).
 */
#ifndef HX_EXPORT_INT_H
#define HX_EXPORT_INT_H

#include "export/export.h"
#include "format/text.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* (a, b) pairs sorted by a then b: annotations by their target, flows by their cause. */
typedef struct hx__xpair {
	uint32_t a, b;
} hx__xpair;

struct hx__export_input {
	hx__dag_builder *builder;  /* until finished */
	hx__dag *dag;              /* after */
	hx__dag_filter filter;
	/* side records as they arrive: the event ID and where its record starts */
	uint64_t *rec_ent, *rec_seq, *rec_off;
	size_t nrec, caprec;
	uint8_t *blob;
	size_t blob_len, blob_cap;
	/* entity ID -> kernel thread ID, from ENTITY_BEGIN (open addressing; id 0 marks empty) */
	uint64_t *tid_key, *tid_val;
	size_t tid_n, tid_cap;
	/* after finishing */
	uint32_t *ev_rec;          /* per DAG event: record index, HX__DAG_NONE if none */
	uint64_t *ent_tid;         /* per DAG entity: kernel thread ID, 0 if unknown */
	hx__xpair *ann_block, *ann_entity, *ann_trace; /* (target, ANNOTATE event) */
	size_t nann_block, nann_entity, nann_trace;
};

/* ---- side records ---- */

typedef struct hx__xrec {
	int kind;
	int counter_is_int;
	int64_t counter_int;
	double counter_double;
	const char *unit;
	size_t unit_len;
	int target;                /* ANNOTATE */
	unsigned nattrs;
	const uint8_t *attrs;      /* the encoded attributes: read with hx__xattr_next() */
} hx__xrec;

typedef struct hx__xattr {
	const char *key;
	size_t key_len;
	int type;                  /* hx_attr_type */
	int64_t i;
	double d;
	int b;
	const char *s;             /* STRING, BYTES */
	size_t len;
} hx__xattr;

/* The record of DAG event i: 1 and *out filled, or 0 when it has none. */
int hx__xrec_get(const hx__export_input *in, uint32_t i, hx__xrec *out);
/* Decode the attribute at *p and advance *p past it. */
void hx__xattr_next(const uint8_t **p, hx__xattr *a);
/* Range [*lo, *hi) of pairs whose a == key in a sorted array. */
void hx__xpair_range(const hx__xpair *v, size_t n, uint32_t key, size_t *lo, size_t *hi);
/* Sort pairs by (a, b). */
void hx__xpair_sort(hx__xpair *v, size_t n);

/* ---- the streaming writer ---- */

#define HX__XW_FLUSH_AT (64 * 1024)

typedef struct hx__xw {
	hx__buf b;
	FILE *f;
	uint64_t written;
	int err;                   /* sticky: HX_ENOMEM or HX_EIO */
} hx__xw;

/* Hand the buffer to the FILE* once it holds HX__XW_FLUSH_AT bytes (force: whatever it holds).
 * Returns w->err. */
int hx__xw_flush(hx__xw *w, int force);
/* Record an hx__buf result: nonzero sets w->err to HX_ENOMEM. */
static inline void hx__xw_check(hx__xw *w, int rc)
{
	if (rc && !w->err)
		w->err = HX_ENOMEM;
}

/* Appenders. Each returns HX_OK or HX_ENOMEM. */
int hx__xj_u64(hx__buf *b, uint64_t v);
int hx__xj_i64(hx__buf *b, int64_t v);
int hx__xj_hex64(hx__buf *b, uint64_t v);                 /* 16 lower-case hex digits */
int hx__xj_hex128(hx__buf *b, const uint8_t id[16]);      /* 32 */
int hx__xj_double(hx__buf *b, double d);                  /* shortest round trip; finite only */
int hx__xj_base64(hx__buf *b, const void *p, size_t n);   /* without quotes */
int hx__xj_micros(hx__buf *b, uint64_t ns);               /* ns as µs: "12.345", "12" */
int hx__xj_str(hx__buf *b, const char *s, size_t n);      /* a JSON string literal */
static inline int hx__xj_cstr(hx__buf *b, const char *s)
{
	return hx__xj_str(b, s, strlen(s));
}
/* A non-finite double as the string proto3 JSON and most readers accept: "NaN", "Infinity",
 * "-Infinity" (with quotes). */
int hx__xj_nonfinite(hx__buf *b, double d);

/* ---- attribute lists: JSON objects or arrays of key/value, one shape per format ----
 *
 *   HX__XA_ARGS  Chrome args / plain object:  "key":value   (numbers, booleans, strings)
 *   HX__XA_OTLP  OTLP attributes array:       {"key":"k","value":{"intValue":"1"}}
 *   HX__XA_TAGS  Zipkin tags object:          "key":"value" (every value a string)
 *
 * Keys are unique within a list, as every format asks: a repeated key gets "#2", "#3" ... The
 * caller writes the opening and closing bracket; hx__xa_* write the members and commas. */
enum { HX__XA_ARGS = 1, HX__XA_OTLP = 2, HX__XA_TAGS = 3 };

typedef struct hx__xa {
	hx__buf *b;
	int shape;
	size_t count;              /* members written */
	/* keys written so far: open addressing over (ptr, len) copies in `keys` */
	uint32_t *slot;            /* offset into keys + 1, 0 empty */
	size_t cap;
	uint32_t *used;            /* slots taken, so a reset clears only those */
	size_t nused, used_cap;
	hx__buf keys;              /* key bytes, each followed by a NUL */
	int err;
} hx__xa;

void hx__xa_init(hx__xa *a, hx__buf *b, int shape);
void hx__xa_reset(hx__xa *a, hx__buf *b);     /* a new list, same shape, memory kept */
void hx__xa_free(hx__xa *a);
/* One member; the value as decoded from the side blob. */
void hx__xa_attr(hx__xa *a, const hx__xattr *v);
/* Every attribute of a record. */
void hx__xa_rec(hx__xa *a, const hx__xrec *r);
/* Members the exporter adds itself. */
void hx__xa_str(hx__xa *a, const char *key, const char *s, size_t n);
void hx__xa_int(hx__xa *a, const char *key, int64_t v);
void hx__xa_bool(hx__xa *a, const char *key, int v);
void hx__xa_double(hx__xa *a, const char *key, double v);

/* ---- shared facts about the graph ---- */

/* Index of the first linked cause of event i that lies in the same trace as i, or HX__DAG_NONE. */
uint32_t hx__x_same_trace_cause(const hx__dag *d, uint32_t i);
/* The entity's display name: its name, or "entity <16 hex>" when it has none (buf >= 24). */
const char *hx__x_entity_name(const hx__dag *d, uint32_t e, char *buf, size_t len);
/* Index of the first block whose begin is at or after event `from` (blocks are in begin order). */
size_t hx__x_first_block(const hx__dag *d, uint32_t from);
/* 0 when every ID is zero (no trace). */
int hx__x_nonzero(const uint8_t *p, size_t n);

/* ---- the writers (chrome.c, otlp.c, zipkin.c) ---- */
int hx__export_chrome(const hx__export_input *in, hx__xw *w, hx__export_stats *st);
int hx__export_otlp(const hx__export_input *in, hx__xw *w, hx__export_stats *st);
int hx__export_zipkin(const hx__export_input *in, hx__xw *w, hx__export_stats *st);

#endif /* HX_EXPORT_INT_H */
