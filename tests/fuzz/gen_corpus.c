/*
 * gen_corpus.c - writes the reader fuzzer's seed traces into a directory (default
 * tests/fuzz/corpus/reader): small valid files that between them use every record kind, every
 * attribute type, several streams, the process stream, an index chunk and the kinds of damage the
 * reader reports, so mutation starts from inputs that reach deep into the decoder.
 *
 *   cc -Iinclude -Isrc -Itests/unit tests/fuzz/gen_corpus.c src/format/crc32c.c -o gen_corpus
 *   ./gen_corpus tests/fuzz/corpus/reader
 */
#include "chunkgen.h"

#define CB 4096u

static const uint8_t INSTANCE[16] = {0x5e, 0xed, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14};
static const uint8_t TRACE[16] = {0x01, 0x93, 0x5e, 0x70, 0x00, 0x01, 0x70, 0x00,
                                  0x80, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x2a};

static void header(cg_buf *f, uint32_t flags)
{
	cg_file_opts o;
	memset(&o, 0, sizeof(o));
	memcpy(o.instance, INSTANCE, 16);
	o.pid = 1234;
	o.clock_kind = HX_CLOCK_TSC;
	o.anchor_ticks = 1000000;
	o.anchor_mono = 5000000000ull;
	o.anchor_real = 1795000000000000000ull;
	o.ticks_per_sec = 3000000000ull;
	o.flags = flags;
	o.host = "seed-host";
	o.program = "seed";
	o.service = "seed-service";
	o.counters[HX_COUNT_NULL_NAME] = 2;
	cg_file_header(f, &o);
}

static void sync_chunk(cg_buf *f)
{
	cg_buf p = {0};
	cg_sync(&p, 1000000, 5000000000ull, 1795000000000000000ull);
	cg_sync(&p, 3001000000ull, 6000000100ull, 1795000001000000100ull);
	cg_chunk(f, CB, HX_STREAM_PROCESS, 0, 1000000, p.p, p.len);
	cg_free(&p);
}

/* A chunk with every event kind and attribute type. */
static void all_kinds_chunk(cg_buf *f, uint32_t stream, uint32_t seq, uint64_t entity)
{
	cg_buf p = {0};
	static const uint8_t blob[] = {0xde, 0xad, 0xbe, 0xef};
	cg_string(&p, 1, "worker");
	cg_string(&p, 2, "request");
	cg_string(&p, 3, "bytes");
	cg_string(&p, 4, "ms");
	cg_context(&p, entity, 0, NULL);
	cg_event(&p, HX_EV_ENTITY_BEGIN, 0, 10);
	cg_varint(&p, 1);
	cg_u8(&p, HX_ENTITY_THREAD);
	cg_varint(&p, 4321);
	cg_le64(&p, 0);
	cg_event(&p, HX_EV_TRACE_BEGIN, 0, 10);
	cg_varint(&p, 2);
	cg_bytes(&p, TRACE, 16);
	cg_event(&p, HX_EV_BLOCK_BEGIN, 1, 10);
	cg_varint(&p, 2);
	cg_varint(&p, 6);
	cg_attr_int(&p, 3, -42);
	cg_attr_double(&p, 3, 0.5);
	cg_attr_bool(&p, 3, 1);
	cg_attr_bool(&p, 3, 0);
	cg_attr_blob(&p, 3, HX_VAL_STRING, "caf\xc3\xa9 \"x\"\n", 10);
	cg_attr_blob(&p, 3, HX_VAL_BYTES, blob, sizeof(blob));
	cg_point(&p, 300, 2);
	cg_event(&p, HX_EV_COUNTER, 0, 10);
	cg_varint(&p, 3);
	cg_varint(&p, 4);
	cg_u8(&p, 1);
	cg_zigzag(&p, 123456);
	cg_event(&p, HX_EV_ERROR, 0, 10);
	cg_varint(&p, 2);
	cg_event(&p, HX_EV_STATE, 0, 10);
	cg_u8(&p, HX_STATE_WAITING);
	cg_varint(&p, 2);
	cg_event(&p, HX_EV_ANNOTATE, 1, 10);
	cg_u8(&p, HX_TARGET_TRACE);
	cg_varint(&p, 1);
	cg_attr_int(&p, 3, 7);
	cg_event(&p, HX_EV_CAUSE, 0, 10);
	cg_varint(&p, 2);
	cg_u8(&p, HX_IA_MESSAGE);
	cg_event(&p, HX_EV_EFFECT, 0, 10);
	cg_varint(&p, 2);
	cg_u8(&p, HX_IA_JOIN);
	cg_varint(&p, 2);
	cg_cause(&p, NULL, 1, entity, 7);
	cg_cause(&p, TRACE, 0, entity + 1, 3);
	cg_event(&p, HX_EV_BLOCK_END, 0, 10);
	cg_event(&p, HX_EV_TRACE_END, 0, 10);
	cg_event(&p, HX_EV_TRACE_JOIN, 0, 10);
	cg_varint(&p, 2);
	cg_bytes(&p, TRACE, 16);
	cg_cause(&p, NULL, 1, entity + 1, 4);
	cg_u8(&p, 0x41); /* a future event kind */
	cg_varint(&p, 2);
	cg_bytes(&p, "ok", 2);
	cg_u8(&p, 0x61); /* a future non-event record */
	cg_varint(&p, 0);
	cg_event(&p, HX_EV_ENTITY_END, 0, 10);
	cg_chunk(f, CB, stream, seq, 1000000, p.p, p.len);
	cg_free(&p);
}

static void points_chunk(cg_buf *f, uint32_t stream, uint32_t seq, uint64_t entity, int n)
{
	cg_buf p = {0};
	cg_string(&p, 1, "tick");
	cg_context(&p, entity, (uint64_t)seq * (uint64_t)n, TRACE);
	for (int i = 0; i < n; i++)
		cg_point(&p, 3, 1);
	cg_chunk(f, CB, stream, seq, 2000000 + seq * 1000u, p.p, p.len);
	cg_free(&p);
}

static int save(const char *dir, const char *name, cg_buf *f)
{
	char path[1024];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	int rc = cg_write_file(path, f);
	if (rc)
		perror(path);
	cg_free(f);
	return rc;
}

int main(int argc, char **argv)
{
	const char *dir = argc > 1 ? argv[1] : "tests/fuzz/corpus/reader";
	int rc = 0;
	cg_buf f = {0};

	header(&f, 0);
	points_chunk(&f, 1, 0, 0x1111, 20);
	rc |= save(dir, "points.hx", &f);

	header(&f, 0);
	sync_chunk(&f);
	all_kinds_chunk(&f, 1, 0, 0x2222);
	rc |= save(dir, "all-kinds.hx", &f);

	/* two interleaved streams, a torn tail and a chunk whose CRC fails */
	header(&f, 0);
	sync_chunk(&f);
	points_chunk(&f, 1, 0, 0x3331, 30);
	points_chunk(&f, 2, 0, 0x3332, 30);
	points_chunk(&f, 1, 1, 0x3331, 30);
	f.p[f.len - CB / 2] = 0x17;
	points_chunk(&f, 2, 1, 0x3332, 30);
	f.p[f.len - CB + HX_CHUNK_HEADER_BYTES + 5] ^= 0x40;
	rc |= save(dir, "damaged.hx", &f);

	/* closed cleanly: an index chunk after the data */
	header(&f, HX_FLAG_CLEAN);
	all_kinds_chunk(&f, 1, 0, 0x4444);
	points_chunk(&f, 1, 1, 0x4444, 10);
	cg_buf ix = {0};
	cg_index(&ix, 0, 1, 0, 200, 1000000);
	cg_index(&ix, 1, 1, 1, 60, 2001000);
	cg_chunk(&f, CB, HX_STREAM_INDEX, 0, 0, ix.p, ix.len);
	cg_free(&ix);
	hx__put_le64(f.p + HX_FH_INDEX_OFFSET, HX_FILE_HEADER_BYTES + 2 * CB);
	hx__put_le32(f.p + HX_FH_INDEX_CHUNKS, 1);
	rc |= save(dir, "clean-index.hx", &f);
	return rc ? 1 : 0;
}
