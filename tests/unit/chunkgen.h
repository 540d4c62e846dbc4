/*
 * chunkgen.h - a hand encoder for tests: builds records, chunks and whole trace files byte by byte
 * from format.h, independently of the library's writer, so the reader is tested against the
 * specification rather than against the writer's reading of it.
 *
 * Everything is static inline and aborts on allocation failure (test code). A cg_buf is a growable
 * byte string; records append to one, cg_chunk() wraps a payload in a slot, cg_file_header() starts
 * a file.
 */
#ifndef HX_TEST_CHUNKGEN_H
#define HX_TEST_CHUNKGEN_H

#include <haruspex.h>

#include "format/format.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct cg_buf {
	uint8_t *p;
	size_t len, cap;
} cg_buf;

static inline void cg_free(cg_buf *b)
{
	free(b->p);
	b->p = NULL;
	b->len = b->cap = 0;
}

static inline uint8_t *cg_room(cg_buf *b, size_t n)
{
	size_t need = b->len + n;
	if (need > b->cap) {
		size_t cap = b->cap * 2 > need ? b->cap * 2 : need;
		if (cap < 256)
			cap = 256;
		uint8_t *p = realloc(b->p, cap);
		if (!p)
			abort();
		b->p = p;
		b->cap = cap;
	}
	uint8_t *at = b->p + b->len;
	b->len += n;
	return at;
}

static inline void cg_u8(cg_buf *b, unsigned v)
{
	*cg_room(b, 1) = (uint8_t)v;
}
static inline void cg_le32(cg_buf *b, uint32_t v)
{
	hx__put_le32(cg_room(b, 4), v);
}
static inline void cg_le64(cg_buf *b, uint64_t v)
{
	hx__put_le64(cg_room(b, 8), v);
}
static inline void cg_bytes(cg_buf *b, const void *p, size_t n)
{
	if (n)
		memcpy(cg_room(b, n), p, n);
}
static inline void cg_varint(cg_buf *b, uint64_t v)
{
	uint8_t tmp[HX_VARINT_MAX];
	size_t n = (size_t)(hx__put_varint(tmp, v) - tmp);
	cg_bytes(b, tmp, n);
}
static inline void cg_zigzag(cg_buf *b, int64_t v)
{
	cg_varint(b, hx__zigzag(v));
}

/* ---- records ---- */
static inline void cg_string(cg_buf *b, uint64_t id, const char *s)
{
	cg_u8(b, HX_REC_STRING);
	cg_varint(b, id);
	cg_varint(b, strlen(s));
	cg_bytes(b, s, strlen(s));
}
/* trace == NULL: the entity is in no trace */
static inline void cg_context(cg_buf *b, uint64_t entity, uint64_t next_seq, const uint8_t *trace)
{
	cg_u8(b, HX_REC_CONTEXT);
	cg_le64(b, entity);
	cg_varint(b, next_seq);
	cg_u8(b, trace ? HX_CTXREC_HAS_TRACE : 0);
	if (trace)
		cg_bytes(b, trace, 16);
}
static inline void cg_sync(cg_buf *b, uint64_t ticks, uint64_t mono, uint64_t real)
{
	cg_u8(b, HX_REC_SYNC);
	cg_varint(b, ticks);
	cg_varint(b, mono);
	cg_varint(b, real);
}
static inline void cg_index(cg_buf *b, uint64_t slot, uint32_t stream, uint64_t seq,
                            uint64_t committed, uint64_t base_ticks)
{
	cg_u8(b, HX_REC_INDEX);
	cg_varint(b, slot);
	cg_le32(b, stream);
	cg_varint(b, seq);
	cg_varint(b, committed);
	cg_varint(b, base_ticks);
}
/* The start of every event: kind byte (with the attribute flag) and the time delta. */
static inline void cg_event(cg_buf *b, unsigned kind, int has_attrs, uint64_t dt)
{
	cg_u8(b, kind | (has_attrs ? HX_REC_HAS_ATTRS : 0));
	cg_varint(b, dt);
}
static inline void cg_point(cg_buf *b, uint64_t dt, uint64_t name)
{
	cg_event(b, HX_EV_POINT, 0, dt);
	cg_varint(b, name);
}
/* trace == NULL: the cause is in the event's own trace */
static inline void cg_cause(cg_buf *b, const uint8_t *trace, int sampled, uint64_t entity,
                            uint64_t seq)
{
	cg_u8(b, (trace ? HX_CAUSE_HAS_TRACE : 0) | (sampled ? HX_CAUSE_SAMPLED : 0));
	if (trace)
		cg_bytes(b, trace, 16);
	cg_le64(b, entity);
	cg_varint(b, seq);
}
static inline void cg_attr_int(cg_buf *b, uint64_t key, int64_t v)
{
	cg_varint(b, key);
	cg_u8(b, HX_VAL_INT);
	cg_zigzag(b, v);
}
static inline void cg_attr_double(cg_buf *b, uint64_t key, double v)
{
	uint64_t bits;
	memcpy(&bits, &v, 8);
	cg_varint(b, key);
	cg_u8(b, HX_VAL_DOUBLE);
	cg_le64(b, bits);
}
static inline void cg_attr_bool(cg_buf *b, uint64_t key, int v)
{
	cg_varint(b, key);
	cg_u8(b, v ? HX_VAL_TRUE : HX_VAL_FALSE);
}
/* type: HX_VAL_STRING or HX_VAL_BYTES */
static inline void cg_attr_blob(cg_buf *b, uint64_t key, unsigned type, const void *p, size_t n)
{
	cg_varint(b, key);
	cg_u8(b, type);
	cg_varint(b, n);
	cg_bytes(b, p, n);
}

/* ---- files ---- */
typedef struct cg_file_opts {
	uint8_t instance[16];
	uint64_t pid;
	uint32_t file_seq;
	uint32_t chunk_bytes;        /* 0 = 4096 */
	uint32_t clock_kind;         /* 0 = HX_CLOCK_MONO */
	uint32_t flags;
	uint64_t anchor_ticks, anchor_mono, anchor_real, ticks_per_sec;
	const char *host, *program, *service;
	uint64_t counters[HX_FILE_COUNTERS];
	int bad_crc;                 /* store a wrong header CRC */
} cg_file_opts;

static inline void cg_pair(uint8_t **p, const char *k, const char *v)
{
	if (!v)
		return;
	*p = hx__put_varint(*p, strlen(k));
	memcpy(*p, k, strlen(k));
	*p += strlen(k);
	*p = hx__put_varint(*p, strlen(v));
	memcpy(*p, v, strlen(v));
	*p += strlen(v);
}

static inline void cg_file_header(cg_buf *f, const cg_file_opts *o)
{
	uint8_t *h = cg_room(f, HX_FILE_HEADER_BYTES);
	memset(h, 0, HX_FILE_HEADER_BYTES);
	memcpy(h + HX_FH_MAGIC, HX_FORMAT_MAGIC, 8);
	hx__put_le16(h + HX_FH_MAJOR, HX_FORMAT_MAJOR);
	hx__put_le16(h + HX_FH_MINOR, HX_FORMAT_MINOR);
	hx__put_le32(h + HX_FH_HEADER_BYTES, HX_FILE_HEADER_BYTES);
	hx__put_le32(h + HX_FH_CHUNK_BYTES, o->chunk_bytes ? o->chunk_bytes : 4096);
	memcpy(h + HX_FH_INSTANCE, o->instance, 16);
	hx__put_le64(h + HX_FH_PID, o->pid);
	hx__put_le32(h + HX_FH_FILE_SEQ, o->file_seq);
	hx__put_le32(h + HX_FH_CLOCK_KIND, o->clock_kind ? o->clock_kind : HX_CLOCK_MONO);
	hx__put_le64(h + HX_FH_ANCHOR_TICKS, o->anchor_ticks);
	hx__put_le64(h + HX_FH_ANCHOR_MONO, o->anchor_mono);
	hx__put_le64(h + HX_FH_ANCHOR_REAL, o->anchor_real);
	hx__put_le64(h + HX_FH_TICKS_PER_SEC, o->ticks_per_sec);
	hx__put_le32(h + HX_FH_CRC, hx__crc32c(0, h, HX_FH_CRC) ^ (o->bad_crc ? 1u : 0u));
	hx__put_le32(h + HX_FH_FLAGS, o->flags); /* not covered by the CRC */
	uint8_t *p = h + HX_FH_RESOURCE;
	cg_pair(&p, "host", o->host);
	cg_pair(&p, "program", o->program);
	cg_pair(&p, "service", o->service);
	*p = 0;
	for (int i = 0; i < HX_FILE_COUNTERS; i++)
		hx__put_le64(h + HX_FH_COUNTERS + 8 * i, o->counters[i]);
}

/* Append one slot of chunk_bytes holding `payload` as the committed records. */
static inline void cg_chunk(cg_buf *f, uint32_t chunk_bytes, uint32_t stream, uint32_t seq,
                            uint64_t base_ticks, const uint8_t *payload, size_t len)
{
	if (len > chunk_bytes - HX_CHUNK_HEADER_BYTES)
		abort();
	uint8_t *c = cg_room(f, chunk_bytes);
	memset(c, 0, chunk_bytes);
	hx__put_le32(c + HX_CH_MAGIC, HX_CHUNK_MAGIC);
	hx__put_le32(c + HX_CH_STREAM, stream);
	hx__put_le32(c + HX_CH_SEQ, seq);
	hx__put_le64(c + HX_CH_BASE_TICKS, base_ticks);
	if (len)
		memcpy(c + HX_CHUNK_HEADER_BYTES, payload, len);
	uint32_t crc = hx__crc32c(0, c, HX_CH_CRC_PREFIX);
	crc = hx__crc32c(crc, c + HX_CHUNK_HEADER_BYTES, len);
	hx__put_le64(c + HX_CH_COMMIT, ((uint64_t)crc << 32) | len);
}

static inline int cg_write_file(const char *path, const cg_buf *f)
{
	FILE *fp = fopen(path, "wb");
	if (!fp)
		return -1;
	size_t n = fwrite(f->p, 1, f->len, fp);
	return (fclose(fp) == 0 && n == f->len) ? 0 : -1;
}

#endif /* HX_TEST_CHUNKGEN_H */
