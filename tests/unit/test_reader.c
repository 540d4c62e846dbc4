/*
 * test_reader.c - the trace reader (haruspex/reader.h) on files made by the hand encoder
 * (chunkgen.h): what it returns from intact input, and what it returns and reports from damaged
 * input (checksums, torn tails, truncation at every length, bad headers, sequence gaps), reading
 * directories of several processes and rotated files, the time-order merge, and ticks -> ns.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "chunkgen.h"
#include "format/reader_int.h"

#define CB 4096u
#define REAL0 1700000000000000000ull

static const uint8_t INST_A[16] = {0xa1, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};
static const uint8_t INST_B[16] = {0xb2, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};

/* ---- building traces ---- */

static cg_file_opts opts(const uint8_t *inst, uint64_t pid, uint32_t file_seq)
{
	cg_file_opts o;
	memset(&o, 0, sizeof(o));
	memcpy(o.instance, inst, 16);
	o.pid = pid;
	o.file_seq = file_seq;
	o.clock_kind = HX_CLOCK_MONO;
	o.anchor_real = REAL0;
	o.ticks_per_sec = 1000000000u;
	o.host = "box";
	o.program = "prog";
	o.service = "svc";
	return o;
}

/* A data chunk: n points on `entity` from sequence `seq0`, one tick apart from base+1. */
static void points_chunk(cg_buf *f, uint32_t stream, uint32_t cseq, uint64_t base, uint64_t entity,
                         uint64_t seq0, int n)
{
	cg_buf p = {0};
	cg_string(&p, 1, "pt");
	cg_context(&p, entity, seq0, NULL);
	for (int i = 0; i < n; i++)
		cg_point(&p, 1, 1);
	cg_chunk(f, CB, stream, cseq, base, p.p, p.len);
	cg_free(&p);
}

static void sync_chunk(cg_buf *f, uint32_t cseq, const uint64_t (*s)[2], int n)
{
	cg_buf p = {0};
	for (int i = 0; i < n; i++)
		cg_sync(&p, s[i][0], s[i][1], 0);
	cg_chunk(f, CB, HX_STREAM_PROCESS, cseq, 0, p.p, p.len);
	cg_free(&p);
}

/* ---- reading them back ---- */

typedef struct got_ev {
	hx_event_kind kind;
	uint64_t entity, seq, time;
	size_t proc;
} got_ev;

typedef struct got {
	got_ev *ev;
	size_t n;
	hx_reader_info info;
	hx_damage dmg[64];
	size_t ndmg;
	size_t nprocs;
	hx_process_info procs[4];
} got;

static void read_all(hx_reader *r, got *g)
{
	hx_event ev;
	int rc;
	memset(g, 0, sizeof(*g));
	size_t cap = 0;
	while ((rc = hx_reader_next(r, &ev)) == HX_OK) {
		if (g->n == cap) {
			cap = cap ? cap * 2 : 64;
			g->ev = realloc(g->ev, cap * sizeof(*g->ev));
			assert_non_null(g->ev);
		}
		got_ev *e = &g->ev[g->n++];
		e->kind = ev.kind;
		e->entity = ev.entity_id;
		e->seq = ev.seq;
		e->time = ev.time_ns;
		e->proc = hx_reader_event_process(r);
		assert_non_null(ev.name);
	}
	assert_int_equal(rc, HX_EOF);
	assert_int_equal(hx_reader_next(r, &ev), HX_EOF); /* stays at the end */
	hx_reader_info_get(r, &g->info);
	size_t n;
	const hx_damage *d = hx_reader_damage(r, &n);
	for (size_t i = 0; i < n && i < 64; i++)
		g->dmg[i] = d[i];
	g->ndmg = n;
	g->nprocs = hx_reader_processes(r);
	for (size_t i = 0; i < g->nprocs && i < 4; i++)
		g->procs[i] = *hx_reader_process(r, i);
	assert_null(hx_reader_process(r, g->nprocs));
}

static int read_mem(const cg_buf *f, hx_read_order order, got *g)
{
	hx_reader *r;
	int rc = hx__reader_open_mem(&r, f->p, f->len, order);
	if (rc != HX_OK) {
		memset(g, 0, sizeof(*g));
		return rc;
	}
	read_all(r, g);
	/* damage strings are the reader's: copy kinds only, then close */
	for (size_t i = 0; i < g->ndmg && i < 64; i++)
		g->dmg[i].file = g->dmg[i].reason = NULL;
	hx_reader_close(r);
	return HX_OK;
}

static size_t count_damage(const got *g, hx_damage_kind k)
{
	size_t n = 0;
	for (size_t i = 0; i < g->ndmg && i < 64; i++)
		n += g->dmg[i].kind == k;
	return n;
}

static const hx_damage *find_damage(const got *g, hx_damage_kind k)
{
	for (size_t i = 0; i < g->ndmg && i < 64; i++)
		if (g->dmg[i].kind == k)
			return &g->dmg[i];
	return NULL;
}

static void got_free(got *g)
{
	free(g->ev);
	g->ev = NULL;
}

/* ---- tests ---- */

static void test_basic(void **state)
{
	(void)state;
	cg_buf f = {0};
	cg_file_opts o = opts(INST_A, 4242, 0);
	o.flags = HX_FLAG_CLEAN;
	o.counters[HX_COUNT_NULL_NAME] = 5;
	cg_file_header(&f, &o);
	const uint64_t s[][2] = {{0, 0}};
	sync_chunk(&f, 0, s, 1);
	points_chunk(&f, 1, 0, 100, 0xe1, 0, 10);
	points_chunk(&f, 1, 1, 200, 0xe1, 10, 10);
	points_chunk(&f, 1, 2, 300, 0xe1, 20, 10);
	got g;
	assert_int_equal(read_mem(&f, HX_ORDER_STREAM, &g), HX_OK);
	assert_int_equal(g.n, 30);
	for (size_t i = 0; i < 30; i++) {
		assert_int_equal(g.ev[i].kind, HX_EV_POINT);
		assert_int_equal(g.ev[i].entity, 0xe1);
		assert_int_equal(g.ev[i].seq, i);
		assert_int_equal(g.ev[i].time, REAL0 + 100 * (1 + i / 10) + i % 10 + 1);
		assert_int_equal(g.ev[i].proc, 0);
	}
	assert_int_equal(g.ndmg, 0);
	assert_int_equal(g.info.files, 1);
	assert_int_equal(g.info.bytes, f.len);
	assert_int_equal(g.info.chunks, 4);
	assert_int_equal(g.info.chunks_damaged, 0);
	assert_int_equal(g.info.events, 30);
	assert_int_equal(g.info.damaged, 0);
	assert_true(g.info.records >= 30 + 3 * 2);
	assert_int_equal(g.info.event_bytes, 30 * 3);
	assert_int_equal(g.nprocs, 1);
	assert_memory_equal(g.procs[0].instance, INST_A, 16);
	assert_int_equal(g.procs[0].pid, 4242);
	assert_int_equal(g.procs[0].files, 1);
	assert_int_equal(g.procs[0].clean, 1);
	assert_int_equal(g.procs[0].counters[HX_COUNT_NULL_NAME], 5);
	assert_int_equal(g.procs[0].clock_kind, HX_CLOCK_MONO);
	assert_int_equal(g.procs[0].syncs, 1);
	got_free(&g);
	cg_free(&f);
}

static void test_resources(void **state)
{
	(void)state;
	cg_buf f = {0};
	cg_file_opts o = opts(INST_A, 1, 0);
	o.host = "h\001st";
	o.service = NULL;
	cg_file_header(&f, &o);
	hx_reader *r;
	assert_int_equal(hx__reader_open_mem(&r, f.p, f.len, HX_ORDER_STREAM), HX_OK);
	const hx_process_info *p = hx_reader_process(r, 0);
	assert_string_equal(p->host, "h\001st");
	assert_string_equal(p->program, "prog");
	assert_string_equal(p->service, "");
	hx_reader_close(r);
	/* a resource list that runs past offset 1024 is header damage, not a crash */
	memset(f.p + HX_FH_RESOURCE, 0x7f, HX_FH_RESOURCE_END - HX_FH_RESOURCE);
	got g;
	assert_int_equal(read_mem(&f, HX_ORDER_STREAM, &g), HX_OK);
	assert_int_equal(count_damage(&g, HX_DMG_HEADER), 1);
	got_free(&g);
	cg_free(&f);
}

static void test_checksum(void **state)
{
	(void)state;
	cg_buf f = {0};
	cg_file_opts o = opts(INST_A, 1, 0);
	cg_file_header(&f, &o);
	points_chunk(&f, 1, 0, 0, 0xe1, 0, 10);
	points_chunk(&f, 1, 1, 0, 0xe1, 10, 10);
	points_chunk(&f, 1, 2, 0, 0xe1, 20, 10);
	f.p[HX_FILE_HEADER_BYTES + CB + HX_CHUNK_HEADER_BYTES + 20] ^= 0x10;
	got g;
	assert_int_equal(read_mem(&f, HX_ORDER_STREAM, &g), HX_OK);
	assert_int_equal(g.n, 20);
	assert_int_equal(g.ev[9].seq, 9);
	assert_int_equal(g.ev[10].seq, 20);
	assert_int_equal(g.ndmg, 1);
	assert_int_equal(g.dmg[0].kind, HX_DMG_CHECKSUM);
	assert_int_equal(g.dmg[0].offset, HX_FILE_HEADER_BYTES + CB);
	assert_int_equal(g.dmg[0].stream, 1);
	assert_int_equal(g.dmg[0].chunk_seq, 1);
	assert_int_equal(g.info.chunks_damaged, 1);
	assert_int_equal(g.info.damaged, 1);
	got_free(&g);
	/* a flipped bit in the covered header bytes is caught too */
	f.p[HX_FILE_HEADER_BYTES + CB + HX_CHUNK_HEADER_BYTES + 20] ^= 0x10;
	f.p[HX_FILE_HEADER_BYTES + HX_CH_BASE_TICKS] ^= 1;
	assert_int_equal(read_mem(&f, HX_ORDER_STREAM, &g), HX_OK);
	assert_int_equal(g.n, 20);
	assert_int_equal(count_damage(&g, HX_DMG_CHECKSUM), 1);
	got_free(&g);
	cg_free(&f);
}

static void test_torn_tail(void **state)
{
	(void)state;
	cg_buf f = {0};
	cg_file_opts o = opts(INST_A, 1, 0);
	cg_file_header(&f, &o);
	points_chunk(&f, 1, 0, 0, 0xe1, 0, 10);
	size_t committed = (size_t)hx__le32(f.p + HX_FILE_HEADER_BYTES + HX_CH_COMMIT);
	/* half a record after the commit point, as if the writer died mid-record */
	f.p[HX_FILE_HEADER_BYTES + HX_CHUNK_HEADER_BYTES + committed] = HX_EV_POINT;
	f.p[HX_FILE_HEADER_BYTES + HX_CHUNK_HEADER_BYTES + committed + 1] = 0x85;
	got g;
	assert_int_equal(read_mem(&f, HX_ORDER_STREAM, &g), HX_OK);
	assert_int_equal(g.n, 10);
	assert_int_equal(g.ndmg, 1);
	assert_int_equal(g.dmg[0].kind, HX_DMG_TORN_TAIL);
	assert_int_equal(g.dmg[0].offset, HX_FILE_HEADER_BYTES + HX_CHUNK_HEADER_BYTES + committed);
	assert_int_equal(g.info.damaged, 0);
	assert_int_equal(g.info.chunks_damaged, 0);
	got_free(&g);
	cg_free(&f);
}

static void test_empty_chunks(void **state)
{
	(void)state;
	cg_buf f = {0};
	cg_file_opts o = opts(INST_A, 1, 0);
	cg_file_header(&f, &o);
	cg_chunk(&f, CB, 1, 0, 0, NULL, 0);   /* header written, no record yet: CRC of the header */
	cg_chunk(&f, CB, 2, 0, 0, NULL, 0);
	hx__put_le64(f.p + f.len - CB + HX_CH_COMMIT, 0); /* commit word never stored */
	f.p[f.len - CB + HX_CHUNK_HEADER_BYTES] = HX_EV_POINT;
	cg_room(&f, CB);
	memset(f.p + f.len - CB, 0, CB); /* an unused slot */
	got g;
	assert_int_equal(read_mem(&f, HX_ORDER_TIME, &g), HX_OK);
	assert_int_equal(g.n, 0);
	assert_int_equal(g.ndmg, 1);
	assert_int_equal(g.dmg[0].kind, HX_DMG_TORN_TAIL);
	assert_int_equal(g.info.chunks, 2);
	assert_int_equal(g.info.damaged, 0);
	got_free(&g);
	cg_free(&f);
}

/* A program killed inside hx__chunk_header_write: the magic is stored, its stream and sequence
 * fields are still zero, and the commit word (stored last) too. The slot poses as stream 0's
 * chunk 0, which exists: it must be a torn tail, not a duplicate chunk (seen in the crash test). */
static void test_half_written_header(void **state)
{
	(void)state;
	cg_buf f = {0};
	cg_file_opts o = opts(INST_A, 1, 0);
	cg_file_header(&f, &o);
	points_chunk(&f, 0, 0, 0, 0xe1, 3, 4);
	points_chunk(&f, 1, 0, 0, 0xe2, 3, 5);
	uint8_t *c = cg_room(&f, CB);
	memset(c, 0, CB);
	hx__put_le32(c + HX_CH_MAGIC, HX_CHUNK_MAGIC);
	got g;
	assert_int_equal(read_mem(&f, HX_ORDER_STREAM, &g), HX_OK);
	assert_int_equal(g.n, 9);
	assert_int_equal(g.ndmg, 1);
	assert_int_equal(g.dmg[0].kind, HX_DMG_TORN_TAIL);
	assert_int_equal(g.info.damaged, 0);
	assert_int_equal(g.info.chunks_damaged, 0);
	got_free(&g);
	cg_free(&f);
}

static void test_record_damage(void **state)
{
	(void)state;
	cg_buf f = {0}, p = {0};
	cg_file_opts o = opts(INST_A, 1, 0);
	cg_file_header(&f, &o);
	cg_string(&p, 1, "pt");
	cg_context(&p, 0xe1, 0, NULL);
	cg_point(&p, 1, 1);
	cg_point(&p, 1, 1);
	size_t bad_at = p.len;
	cg_point(&p, 1, 9); /* undefined name, inside a chunk whose CRC is right */
	cg_point(&p, 1, 1);
	cg_chunk(&f, CB, 1, 0, 0, p.p, p.len);
	points_chunk(&f, 1, 1, 0, 0xe1, 3, 5);
	got g;
	assert_int_equal(read_mem(&f, HX_ORDER_STREAM, &g), HX_OK);
	assert_int_equal(g.n, 7);
	assert_int_equal(g.ndmg, 1);
	assert_int_equal(g.dmg[0].kind, HX_DMG_RECORD);
	assert_int_equal(g.dmg[0].offset, HX_FILE_HEADER_BYTES + HX_CHUNK_HEADER_BYTES + bad_at);
	assert_int_equal(g.dmg[0].bytes, p.len - bad_at);
	assert_int_equal(g.info.chunks_damaged, 1);
	assert_int_equal(g.info.damaged, 1);
	got_free(&g);
	cg_free(&p);
	cg_free(&f);
}

static void test_chunk_headers(void **state)
{
	(void)state;
	cg_buf f = {0};
	cg_file_opts o = opts(INST_A, 1, 0);
	cg_file_header(&f, &o);
	points_chunk(&f, 1, 0, 0, 0xe1, 0, 3);
	points_chunk(&f, 1, 1, 0, 0xe1, 3, 3);   /* bad magic */
	f.p[f.len - CB] = 'X';
	points_chunk(&f, 1, 2, 0, 0xe1, 6, 3);   /* commit length beyond the slot */
	hx__put_le32(f.p + f.len - CB + HX_CH_COMMIT, CB);
	cg_room(&f, CB);                          /* header wiped, data left */
	memset(f.p + f.len - CB, 0, CB);
	f.p[f.len - 10] = 1;
	cg_room(&f, CB);                          /* unused */
	memset(f.p + f.len - CB, 0, CB);
	points_chunk(&f, 1, 3, 0, 0xe1, 9, 3);
	got g;
	assert_int_equal(read_mem(&f, HX_ORDER_STREAM, &g), HX_OK);
	assert_int_equal(g.n, 6);
	assert_int_equal(count_damage(&g, HX_DMG_CHUNK_HEADER), 3);
	assert_int_equal(g.info.chunks, 5);
	assert_int_equal(g.info.chunks_damaged, 3);
	/* seq 1's header is unreadable, so the stream misses it; seq 2 is present but bad */
	assert_int_equal(count_damage(&g, HX_DMG_SEQ_GAP), 1);
	assert_int_equal(find_damage(&g, HX_DMG_SEQ_GAP)->chunk_seq, 1);
	got_free(&g);
	cg_free(&f);
}

static void test_header_damage(void **state)
{
	(void)state;
	cg_buf f = {0};
	cg_file_opts o = opts(INST_A, 1, 0);
	o.bad_crc = 1;
	cg_file_header(&f, &o);
	points_chunk(&f, 1, 0, 0, 0xe1, 0, 3);
	got g;
	assert_int_equal(read_mem(&f, HX_ORDER_STREAM, &g), HX_OK);
	assert_int_equal(g.n, 3);
	assert_int_equal(g.ndmg, 1);
	assert_int_equal(g.dmg[0].kind, HX_DMG_HEADER);
	assert_int_equal(g.info.damaged, 1);
	got_free(&g);

	/* impossible chunk size: the file's slots cannot be found */
	hx__put_le32(f.p + HX_FH_CHUNK_BYTES, 5000);
	assert_int_equal(read_mem(&f, HX_ORDER_STREAM, &g), HX_OK);
	assert_int_equal(g.n, 0);
	assert_int_equal(count_damage(&g, HX_DMG_HEADER), 2);
	got_free(&g);

	/* unknown major version, bad magic: not a trace */
	hx__put_le32(f.p + HX_FH_CHUNK_BYTES, CB);
	hx__put_le16(f.p + HX_FH_MAJOR, 2);
	assert_int_equal(read_mem(&f, HX_ORDER_STREAM, &g), HX_EFORMAT);
	hx__put_le16(f.p + HX_FH_MAJOR, 1);
	f.p[0] = 'h';
	assert_int_equal(read_mem(&f, HX_ORDER_STREAM, &g), HX_EFORMAT);
	assert_int_equal(read_mem(&(cg_buf){0}, HX_ORDER_STREAM, &g), HX_EFORMAT);
	cg_free(&f);
}

/* Cut a small file at every length: no crash, nothing invented, every whole chunk kept. */
static void test_truncation(void **state)
{
	(void)state;
	cg_buf f = {0};
	cg_file_opts o = opts(INST_A, 1, 0);
	cg_file_header(&f, &o);
	const uint64_t s[][2] = {{0, 0}, {1000000, 1000000}};
	sync_chunk(&f, 0, s, 2);
	points_chunk(&f, 1, 0, 0, 0xe1, 0, 30);
	points_chunk(&f, 2, 0, 0, 0xe2, 0, 30);
	points_chunk(&f, 1, 1, 100, 0xe1, 30, 30);
	size_t chunk_end[4];
	for (int i = 0; i < 4; i++) {
		size_t at = HX_FILE_HEADER_BYTES + (size_t)i * CB;
		chunk_end[i] = at + HX_CHUNK_HEADER_BYTES + hx__le32(f.p + at + HX_CH_COMMIT);
	}
	for (size_t len = 0; len <= f.len; len++) {
		/* an exact-size copy, so ASan catches a read past the cut */
		uint8_t *cut = malloc(len ? len : 1);
		memcpy(cut, f.p, len);
		hx_reader *r;
		int rc = hx__reader_open_mem(&r, cut, len, HX_ORDER_TIME);
		if (len < 8) {
			assert_int_equal(rc, HX_EFORMAT);
			free(cut);
			continue;
		}
		assert_int_equal(rc, HX_OK);
		got g;
		read_all(r, &g);
		int seen1[60] = {0}, seen2[30] = {0};
		for (size_t i = 0; i < g.n; i++) {
			got_ev *e = &g.ev[i];
			assert_int_equal(e->kind, HX_EV_POINT);
			if (e->entity == 0xe1) {
				assert_true(e->seq < 60 && !seen1[e->seq]);
				seen1[e->seq] = 1;
			} else {
				assert_int_equal(e->entity, 0xe2);
				assert_true(e->seq < 30 && !seen2[e->seq]);
				seen2[e->seq] = 1;
			}
		}
		int want1a = len >= chunk_end[1], want2 = len >= chunk_end[2], want1b = len >= chunk_end[3];
		for (int i = 0; i < 30; i++) {
			assert_int_equal(seen1[i], want1a);
			assert_int_equal(seen2[i], want2);
			assert_int_equal(seen1[30 + i], want1b);
		}
		/* damaged when the cut falls in the header or inside a chunk's committed bytes; a cut
		 * in a slot's zero tail or between slots loses nothing */
		int inside = len < HX_FILE_HEADER_BYTES;
		for (int i = 0; i < 4; i++)
			inside |= len > HX_FILE_HEADER_BYTES + (size_t)i * CB && len < chunk_end[i];
		assert_int_equal(g.info.damaged, inside);
		hx_reader_close(r);
		got_free(&g);
		free(cut);
	}
	cg_free(&f);
}

static char tmpdir[64];

static int dir_setup(void **state)
{
	(void)state;
	strcpy(tmpdir, "/tmp/hx-test-reader-XXXXXX");
	return mkdtemp(tmpdir) ? 0 : -1;
}

static int dir_teardown(void **state)
{
	(void)state;
	DIR *d = opendir(tmpdir);
	if (d) {
		struct dirent *e;
		char path[512];
		while ((e = readdir(d)))
			if (e->d_name[0] != '.') {
				snprintf(path, sizeof(path), "%s/%s", tmpdir, e->d_name);
				unlink(path);
			}
		closedir(d);
	}
	rmdir(tmpdir);
	return 0;
}

static void write_in_dir(const char *name, const cg_buf *f)
{
	char path[512];
	snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
	assert_int_equal(cg_write_file(path, f), 0);
}

static void test_directory(void **state)
{
	(void)state;
	/* process A: rotated into two files; stream 1 continues in the second */
	cg_buf a0 = {0}, a1 = {0}, b0 = {0}, junk = {0};
	cg_file_opts o = opts(INST_A, 100, 0);
	cg_file_header(&a0, &o);
	points_chunk(&a0, 1, 0, 0, 0xa1, 0, 5);
	points_chunk(&a0, 1, 1, 0, 0xa1, 5, 5);
	o.file_seq = 1;
	o.flags = HX_FLAG_CLEAN;
	o.counters[HX_COUNT_DROPPED] = 9;
	cg_file_header(&a1, &o);
	points_chunk(&a1, 2, 0, 0, 0xa2, 0, 5);
	points_chunk(&a1, 1, 2, 0, 0xa1, 10, 5);
	cg_file_opts ob = opts(INST_B, 200, 0);
	ob.program = "other";
	cg_file_header(&b0, &ob);
	points_chunk(&b0, 1, 0, 0, 0xb1, 0, 7);
	cg_bytes(&junk, "hello, not a trace", 18);
	write_in_dir("a-0.hx", &a0);
	write_in_dir("a-1.hx", &a1);
	write_in_dir("b-0.hx", &b0);
	write_in_dir("junk.hx", &junk);
	write_in_dir("notes.txt", &junk);

	hx_reader *r;
	assert_int_equal(hx_reader_open(&r, tmpdir, HX_ORDER_STREAM), HX_OK);
	got g;
	read_all(r, &g);
	assert_int_equal(g.nprocs, 2);
	assert_int_equal(g.procs[0].files, 2);
	assert_int_equal(g.procs[0].pid, 100);
	assert_int_equal(g.procs[0].clean, 1);                     /* from the last file */
	assert_int_equal(g.procs[0].counters[HX_COUNT_DROPPED], 9);
	assert_int_equal(g.procs[1].pid, 200);
	assert_string_equal(hx_reader_process(r, 1)->program, "other");
	assert_int_equal(g.n, 15 + 5 + 7);
	for (size_t i = 0; i < 15; i++) {
		assert_int_equal(g.ev[i].entity, 0xa1);
		assert_int_equal(g.ev[i].seq, i);
		assert_int_equal(g.ev[i].proc, 0);
	}
	assert_int_equal(g.ev[15].entity, 0xa2);
	assert_int_equal(g.ev[20].entity, 0xb1);
	assert_int_equal(g.ev[20].proc, 1);
	assert_int_equal(g.ndmg, 1);
	assert_int_equal(g.dmg[0].kind, HX_DMG_NOT_A_TRACE);
	assert_non_null(strstr(hx_reader_damage(r, NULL)[0].file, "junk.hx"));
	assert_int_equal(g.info.files, 3);
	assert_int_equal(g.info.bytes, a0.len + a1.len + b0.len);
	hx_reader_close(r);
	got_free(&g);

	/* one file by path; errors for what is not there or not a trace */
	char path[512];
	snprintf(path, sizeof(path), "%s/b-0.hx", tmpdir);
	assert_int_equal(hx_reader_open(&r, path, HX_ORDER_TIME), HX_OK);
	read_all(r, &g);
	assert_int_equal(g.n, 7);
	hx_reader_close(r);
	got_free(&g);
	snprintf(path, sizeof(path), "%s/junk.hx", tmpdir);
	assert_int_equal(hx_reader_open(&r, path, HX_ORDER_STREAM), HX_EFORMAT);
	assert_null(r);
	snprintf(path, sizeof(path), "%s/missing.hx", tmpdir);
	assert_int_equal(hx_reader_open(&r, path, HX_ORDER_STREAM), HX_ENOENT);
	assert_int_equal(hx_reader_open(&r, "/dev/null", HX_ORDER_STREAM), HX_EFORMAT);
	char empty[600];
	snprintf(empty, sizeof(empty), "%s/empty.hx", tmpdir); /* a directory named like a trace */
	assert_int_equal(mkdir(empty, 0700), 0);
	assert_int_equal(hx_reader_open(&r, empty, HX_ORDER_STREAM), HX_EFORMAT);
	rmdir(empty);

	/* a file shortened on disk, read through pread */
	snprintf(path, sizeof(path), "%s/a-1.hx", tmpdir);
	assert_int_equal(truncate(path, HX_FILE_HEADER_BYTES + CB + 40), 0);
	assert_int_equal(hx_reader_open(&r, tmpdir, HX_ORDER_TIME), HX_OK);
	read_all(r, &g);
	assert_int_equal(g.n, 10 + 5 + 7);
	assert_int_equal(count_damage(&g, HX_DMG_TRUNCATED), 1);
	hx_reader_close(r);
	got_free(&g);
	cg_free(&a0);
	cg_free(&a1);
	cg_free(&b0);
	cg_free(&junk);
}

static void test_seq_gaps(void **state)
{
	(void)state;
	cg_buf f = {0};
	cg_file_opts o = opts(INST_A, 1, 0);
	cg_file_header(&f, &o);
	points_chunk(&f, 1, 0, 0, 0xe1, 0, 1);
	points_chunk(&f, 1, 3, 0, 0xe1, 3, 1);
	points_chunk(&f, 1, 1, 0, 0xe1, 1, 1); /* out of file order: sorted by seq */
	points_chunk(&f, 1, 6, 0, 0xe1, 6, 1);
	points_chunk(&f, 2, 2, 0, 0xe2, 2, 1); /* stream 2 starts at chunk 2 */
	points_chunk(&f, 1, 3, 0, 0xe1, 3, 1); /* a duplicate */
	got g;
	assert_int_equal(read_mem(&f, HX_ORDER_STREAM, &g), HX_OK);
	assert_int_equal(g.n, 5);
	assert_int_equal(g.ev[0].seq, 0);
	assert_int_equal(g.ev[1].seq, 1);
	assert_int_equal(g.ev[2].seq, 3);
	assert_int_equal(g.ev[3].seq, 6);
	assert_int_equal(count_damage(&g, HX_DMG_SEQ_GAP), 3);
	assert_int_equal(count_damage(&g, HX_DMG_CHUNK_HEADER), 1); /* the duplicate */
	int gaps[3] = {0};
	for (size_t i = 0; i < g.ndmg; i++) {
		if (g.dmg[i].kind != HX_DMG_SEQ_GAP)
			continue;
		if (g.dmg[i].stream == 1 && g.dmg[i].chunk_seq == 2)
			gaps[0] = 1;
		if (g.dmg[i].stream == 1 && g.dmg[i].chunk_seq == 4)
			gaps[1] = 1;
		if (g.dmg[i].stream == 2 && g.dmg[i].chunk_seq == 0)
			gaps[2] = 1;
	}
	assert_true(gaps[0] && gaps[1] && gaps[2]);
	got_free(&g);
	cg_free(&f);

	/* the first files were deleted by max_files: streams starting late are expected */
	o = opts(INST_A, 1, 3);
	o.counters[HX_COUNT_FILES_DELETED] = 3;
	cg_file_header(&f, &o);
	points_chunk(&f, 1, 40, 0, 0xe1, 400, 1);
	assert_int_equal(read_mem(&f, HX_ORDER_STREAM, &g), HX_OK);
	assert_int_equal(g.n, 1);
	assert_int_equal(g.ndmg, 0);
	got_free(&g);
	cg_free(&f);
}

static void test_time_order(void **state)
{
	(void)state;
	cg_buf f = {0}, p = {0};
	cg_file_opts o = opts(INST_A, 1, 0);
	cg_file_header(&f, &o);
	/* stream 1: times 1,3,5,...; stream 2: 2,4,6,... and one tie at 5; two chunks each */
	for (int c = 0; c < 2; c++) {
		for (uint32_t st = 1; st <= 2; st++) {
			cg_string(&p, 1, "x");
			cg_context(&p, 0xe0 + st, (uint64_t)c * 50, NULL);
			for (int i = 0; i < 50; i++)
				cg_point(&p, i == 0 ? 0 : 2, 1);
			uint64_t base = (uint64_t)c * 100 + (st == 1 ? 1 : 3); /* ties at every odd tick */
			cg_chunk(&f, CB, st, (uint32_t)c, base, p.p, p.len);
			p.len = 0;
		}
	}
	cg_buf f2 = {0};
	cg_file_opts o2 = opts(INST_B, 2, 0);
	o2.anchor_real = REAL0 + 50; /* another process, another clock anchor */
	cg_file_header(&f2, &o2);
	points_chunk(&f2, 7, 0, 0, 0xb7, 0, 10);
	/* two processes in one input: concatenate as a directory on disk */
	write_in_dir("a.hx", &f);
	write_in_dir("b.hx", &f2);
	hx_reader *r;
	assert_int_equal(hx_reader_open(&r, tmpdir, HX_ORDER_TIME), HX_OK);
	got g;
	read_all(r, &g);
	assert_int_equal(g.n, 210);
	uint64_t last_seq[3] = {0};
	int seen_first[3] = {0};
	for (size_t i = 1; i < g.n; i++) {
		assert_true(g.ev[i].time >= g.ev[i - 1].time);
		if (g.ev[i].time == g.ev[i - 1].time && g.ev[i].proc == g.ev[i - 1].proc &&
		    g.ev[i].entity != g.ev[i - 1].entity)
			assert_true(g.ev[i].entity > g.ev[i - 1].entity); /* ties: lower stream first */
	}
	for (size_t i = 0; i < g.n; i++) {
		int k = g.ev[i].entity == 0xe1 ? 0 : g.ev[i].entity == 0xe2 ? 1 : 2;
		if (seen_first[k])
			assert_true(g.ev[i].seq == last_seq[k] + 1); /* each entity in order */
		seen_first[k] = 1;
		last_seq[k] = g.ev[i].seq;
		assert_int_equal(g.ev[i].proc, k == 2 ? 1 : 0);
	}
	assert_int_equal(g.ev[0].time, REAL0 + 1);
	hx_reader_close(r);
	got_free(&g);
	/* stream order returns the same events */
	assert_int_equal(hx_reader_open(&r, tmpdir, HX_ORDER_STREAM), HX_OK);
	read_all(r, &g);
	assert_int_equal(g.n, 210);
	assert_int_equal(g.ev[0].entity, 0xe1);
	assert_int_equal(g.ev[99].entity, 0xe1);
	assert_int_equal(g.ev[100].entity, 0xe2);
	hx_reader_close(r);
	got_free(&g);
	cg_free(&f);
	cg_free(&f2);
	cg_free(&p);
}

/* One event per chunk at absolute tick t, so the conversion of exact ticks can be checked. */
static void tick_chunk(cg_buf *f, uint32_t cseq, uint64_t t)
{
	cg_buf p = {0};
	cg_context(&p, 0xc1, cseq, NULL);
	cg_point(&p, 0, 0);
	cg_chunk(f, CB, 1, cseq, t, p.p, p.len);
	cg_free(&p);
}

static void read_times(const cg_buf *f, uint64_t *t, size_t n)
{
	got g;
	assert_int_equal(read_mem(f, HX_ORDER_STREAM, &g), HX_OK);
	assert_int_equal(g.n, n);
	for (size_t i = 0; i < n; i++)
		t[i] = g.ev[i].time;
	got_free(&g);
}

static void test_clock(void **state)
{
	(void)state;
	/* TSC at 2 GHz: anchor (1000 ticks, mono 5000). The clock runs 1000 ns fast over the first
	 * two seconds of ticks, then true. */
	const uint64_t A = 1000, M = 5000;
	cg_buf f = {0};
	cg_file_opts o = opts(INST_A, 1, 0);
	o.clock_kind = HX_CLOCK_TSC;
	o.ticks_per_sec = 2000000000u;
	o.anchor_ticks = A;
	o.anchor_mono = M;
	cg_file_header(&f, &o);
	const uint64_t s[][2] = {{A + 4000000000u, M + 2000000000u + 1000},
	                         {A + 2000000000u, M + 1000000000u + 1000}, /* out of order: sorted */
	                         {A + 2000000000u, M + 1000000000u + 1000}}; /* duplicate */
	sync_chunk(&f, 0, s, 3);
	const uint64_t ticks[] = {A, A + 1000000000u, A + 2000000000u, A + 3000000000u,
	                          A + 4000000000u, A + 6000000000u, 0};
	for (uint32_t i = 0; i < 7; i++)
		tick_chunk(&f, i, ticks[i]);
	uint64_t t[7];
	read_times(&f, t, 7);
	assert_int_equal(t[0], REAL0);
	assert_int_equal(t[1], REAL0 + 500000000u + 500);       /* interpolated */
	assert_int_equal(t[2], REAL0 + 1000000000u + 1000);     /* at a sync point */
	assert_int_equal(t[3], REAL0 + 1500000000u + 1000);
	assert_int_equal(t[4], REAL0 + 2000000000u + 1000);
	assert_int_equal(t[5], REAL0 + 3000000000u + 1000);     /* extrapolated at 2 GHz */
	assert_int_equal(t[6], REAL0 - 500);                    /* before the anchor */
	hx_reader *r;
	assert_int_equal(hx__reader_open_mem(&r, f.p, f.len, HX_ORDER_STREAM), HX_OK);
	assert_int_equal(hx_reader_process(r, 0)->syncs, 3);
	assert_int_equal(hx_reader_process(r, 0)->ticks_per_sec, 2000000000u);
	hx_reader_close(r);
	cg_free(&f);

	/* a SYNC going backwards is clamped: times never decrease along the ticks */
	o.ticks_per_sec = 1000000000u;
	o.anchor_ticks = 0;
	o.anchor_mono = 1000000;
	cg_file_header(&f, &o);
	const uint64_t back[][2] = {{1000, 10}, {2000, 2000000}};
	sync_chunk(&f, 0, back, 2);
	for (uint32_t i = 0; i < 4; i++)
		tick_chunk(&f, i, (uint64_t)i * 700);
	uint64_t tb[4];
	read_times(&f, tb, 4);
	for (int i = 1; i < 4; i++)
		assert_true(tb[i] >= tb[i - 1]);
	assert_int_equal(tb[0], REAL0);
	cg_free(&f);

	/* an absurd rate falls back to ticks = ns; a monotonic clock ignores the rate field */
	o.ticks_per_sec = 0;
	o.anchor_ticks = 100;
	o.anchor_mono = 100;
	cg_file_header(&f, &o);
	tick_chunk(&f, 0, 1100);
	tick_chunk(&f, 1, 50);
	uint64_t tz[2];
	read_times(&f, tz, 2);
	assert_int_equal(tz[0], REAL0 + 1000);
	assert_int_equal(tz[1], REAL0 - 50);
	cg_free(&f);
	o.clock_kind = HX_CLOCK_MONO;
	o.ticks_per_sec = 3;
	cg_file_header(&f, &o);
	tick_chunk(&f, 0, 1100);
	read_times(&f, tz, 1);
	assert_int_equal(tz[0], REAL0 + 1000);
	cg_free(&f);

	/* extreme values saturate instead of wrapping */
	o.anchor_real = UINT64_MAX - 10;
	cg_file_header(&f, &o);
	tick_chunk(&f, 0, UINT64_MAX);
	read_times(&f, tz, 1);
	assert_true(tz[0] == UINT64_MAX);
	cg_free(&f);
}

static void test_index_chunks(void **state)
{
	(void)state;
	cg_buf f = {0}, p = {0};
	cg_file_opts o = opts(INST_A, 1, 0);
	o.flags = HX_FLAG_CLEAN;
	cg_file_header(&f, &o);
	points_chunk(&f, 1, 0, 0, 0xe1, 0, 4);
	cg_index(&p, 0, 1, 0, 40, 0);
	cg_chunk(&f, CB, HX_STREAM_INDEX, 0, 0, p.p, p.len);
	hx__put_le64(f.p + HX_FH_INDEX_OFFSET, HX_FILE_HEADER_BYTES + CB);
	hx__put_le32(f.p + HX_FH_INDEX_CHUNKS, 1);
	got g;
	assert_int_equal(read_mem(&f, HX_ORDER_STREAM, &g), HX_OK);
	assert_int_equal(g.n, 4);
	assert_int_equal(g.ndmg, 0);
	got_free(&g);
	/* an index chunk holding an event, a data chunk holding an index record */
	p.len = 0;
	cg_context(&p, 1, 0, NULL);
	cg_point(&p, 0, 0);
	cg_chunk(&f, CB, HX_STREAM_INDEX, 1, 0, p.p, p.len);
	p.len = 0;
	cg_index(&p, 0, 1, 0, 40, 0);
	cg_chunk(&f, CB, 1, 1, 0, p.p, p.len);
	hx__put_le64(f.p + HX_FH_INDEX_OFFSET, 12345); /* not a slot */
	assert_int_equal(read_mem(&f, HX_ORDER_STREAM, &g), HX_OK);
	assert_int_equal(g.n, 4);
	assert_int_equal(count_damage(&g, HX_DMG_RECORD), 2);
	assert_int_equal(count_damage(&g, HX_DMG_HEADER), 1);
	got_free(&g);
	cg_free(&p);
	cg_free(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_basic),
		cmocka_unit_test(test_resources),
		cmocka_unit_test(test_checksum),
		cmocka_unit_test(test_torn_tail),
		cmocka_unit_test(test_empty_chunks),
		cmocka_unit_test(test_half_written_header),
		cmocka_unit_test(test_record_damage),
		cmocka_unit_test(test_chunk_headers),
		cmocka_unit_test(test_header_damage),
		cmocka_unit_test(test_truncation),
		cmocka_unit_test_setup_teardown(test_directory, dir_setup, dir_teardown),
		cmocka_unit_test(test_seq_gaps),
		cmocka_unit_test_setup_teardown(test_time_order, dir_setup, dir_teardown),
		cmocka_unit_test(test_clock),
		cmocka_unit_test(test_index_chunks),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
