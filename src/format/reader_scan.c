/*
 * reader_scan.c - the reader's open phase: check file headers, find the chunks in every slot,
 * group them into streams, report what is missing, and build each process's clock map.
 *
 * Only the 32-byte chunk headers are read here (plus whole slots that look unused, to tell an
 * unused slot from one whose header was wiped); payloads are checked when they are read
 * (reader.c), except the process streams and index chunks, which are read now because the clock
 * map must exist before the first event is converted.
 */
#include "format/reader_int.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct hx__pool_blk {
	hx__pool_blk *next;
	char s[];
};

char *hx__reader_strdup(hx_reader *r, const char *s, size_t len)
{
	hx__pool_blk *b = malloc(sizeof(*b) + len + 1);
	if (!b) {
		r->oom = 1;
		return NULL;
	}
	memcpy(b->s, s, len);
	b->s[len] = '\0';
	b->next = r->pool;
	r->pool = b;
	return b->s;
}

void hx__reader_pool_free(hx_reader *r)
{
	while (r->pool) {
		hx__pool_blk *b = r->pool;
		r->pool = b->next;
		free(b);
	}
}

void hx__reader_damage(hx_reader *r, hx_damage_kind kind, const char *file, uint64_t offset,
                       uint64_t bytes, uint32_t stream, uint64_t chunk_seq, const char *fmt, ...)
{
	char text[256];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	if (n < 0)
		n = 0;
	if ((size_t)n >= sizeof(text))
		n = sizeof(text) - 1;
	if (kind != HX_DMG_TORN_TAIL)
		r->info.damaged = 1;
	if (r->ndamage == r->cap_damage) {
		size_t cap = r->cap_damage ? r->cap_damage * 2 : 16;
		hx_damage *d = realloc(r->damage, cap * sizeof(*d));
		if (!d) {
			r->oom = 1;
			return;
		}
		r->damage = d;
		r->cap_damage = cap;
	}
	const char *reason = hx__reader_strdup(r, text, (size_t)n);
	hx_damage *d = &r->damage[r->ndamage++];
	d->kind = kind;
	d->file = file ? file : "";
	d->offset = offset;
	d->bytes = bytes;
	d->stream = stream;
	d->chunk_seq = chunk_seq;
	d->reason = reason ? reason : "(no memory for the reason)";
}

/* Read up to len bytes at off. Returns the bytes read (fewer at the end of the input, which may
 * have shrunk since it was opened) or -1 with errno set. */
long hx__src_read(const hx__src *s, uint64_t off, void *buf, size_t len)
{
	if (s->fd < 0) {
		if (off >= s->size)
			return 0;
		if (len > s->size - off)
			len = (size_t)(s->size - off);
		memcpy(buf, s->mem + off, len);
		return (long)len;
	}
	size_t got = 0;
	while (got < len) {
		ssize_t n = pread(s->fd, (uint8_t *)buf + got, len - got, (off_t)(off + got));
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (n == 0)
			break;
		got += (size_t)n;
	}
	return (long)got;
}

static int all_zero(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i])
			return 0;
	return 1;
}

static int scratch_reserve(hx_reader *r, size_t n)
{
	if (r->scratch_cap >= n)
		return 0;
	uint8_t *b = realloc(r->scratch, n);
	if (!b) {
		r->oom = 1;
		return -1;
	}
	r->scratch = b;
	r->scratch_cap = n;
	return 0;
}

/* ---- file header ---- */

/* The resource list: (varint key length, key, varint value length, value) pairs ended by a zero
 * key length, all before offset 1024. The values this reader shows are copied. */
static void parse_resource(hx_reader *r, hx__rfile *f, const uint8_t *h)
{
	const uint8_t *p = h + HX_FH_RESOURCE, *end = h + HX_FH_RESOURCE_END;
	f->host = f->program = f->service = "";
	while (p < end) {
		uint64_t klen, vlen;
		if (hx__get_varint(&p, end, &klen))
			goto bad;
		if (klen == 0)
			return;
		if (klen > (uint64_t)(end - p))
			goto bad;
		const uint8_t *key = p;
		p += klen;
		if (hx__get_varint(&p, end, &vlen) || vlen > (uint64_t)(end - p))
			goto bad;
		const char **dst = NULL;
		if (klen == 4 && !memcmp(key, "host", 4))
			dst = &f->host;
		else if (klen == 7 && !memcmp(key, "program", 7))
			dst = &f->program;
		else if (klen == 7 && !memcmp(key, "service", 7))
			dst = &f->service;
		if (dst) {
			const char *v = hx__reader_strdup(r, (const char *)p, (size_t)vlen);
			if (v)
				*dst = v;
		}
		p += vlen;
	}
	return;
bad:
	hx__reader_damage(r, HX_DMG_HEADER, f->path, (uint64_t)(p - h), 0, 0, 0,
	                  "resource list malformed or past offset %d", HX_FH_RESOURCE_END);
}

static size_t find_proc(hx_reader *r, const uint8_t *instance)
{
	for (size_t i = 0; i < r->nprocs; i++)
		if (!memcmp(r->procs[i].info.instance, instance, 16))
			return i;
	if (r->nprocs == r->cap_procs) {
		size_t cap = r->cap_procs ? r->cap_procs * 2 : 4;
		hx__rproc *p = realloc(r->procs, cap * sizeof(*p));
		if (!p) {
			r->oom = 1;
			return SIZE_MAX;
		}
		r->procs = p;
		r->cap_procs = cap;
	}
	hx__rproc *p = &r->procs[r->nprocs];
	memset(p, 0, sizeof(*p));
	memcpy(p->info.instance, instance, 16);
	p->min_file_seq = UINT32_MAX;
	return r->nprocs++;
}

static int chunk_bytes_ok(uint32_t cb)
{
	return cb >= HX_CHUNK_MIN && cb <= HX_CHUNK_MAX && (cb & (cb - 1)) == 0;
}

/* Check the header. Returns 1 if the file's slots can be read, 0 if not (reported). */
static int read_header(hx_reader *r, hx__rfile *f, uint8_t *h)
{
	memset(h, 0, HX_FILE_HEADER_BYTES);
	long got = hx__src_read(&f->src, 0, h, HX_FILE_HEADER_BYTES);
	if (got < 0) {
		hx__reader_damage(r, HX_DMG_IO, f->path, 0, f->src.size, 0, 0, "read: %s",
		                  strerror(errno));
		return 0;
	}
	if (got < 8 || memcmp(h, HX_FORMAT_MAGIC, 8)) {
		hx__reader_damage(r, HX_DMG_NOT_A_TRACE, f->path, 0, f->src.size, 0, 0,
		                  "no Haruspex trace magic");
		return 0;
	}
	if (got < HX_FH_RESOURCE) {
		r->traces++;
		hx__reader_damage(r, HX_DMG_TRUNCATED, f->path, (uint64_t)got, f->src.size, 0, 0,
		                  "file ends at byte %ld, inside its header", got);
		return 0;
	}
	unsigned major = hx__le16(h + HX_FH_MAJOR);
	if (major != HX_FORMAT_MAJOR) {
		hx__reader_damage(r, HX_DMG_NOT_A_TRACE, f->path, 0, f->src.size, 0, 0,
		                  "format major version %u (this reader knows %d)", major,
		                  HX_FORMAT_MAJOR);
		return 0;
	}
	r->traces++;

	uint8_t crcbuf[HX_FH_CRC];
	memcpy(crcbuf, h, sizeof(crcbuf));
	memset(crcbuf + HX_FH_FLAGS, 0, 4);
	memset(crcbuf + HX_FH_INDEX_OFFSET, 0, HX_FH_CRC - HX_FH_INDEX_OFFSET);
	uint32_t crc = hx__crc32c(0, crcbuf, sizeof(crcbuf));
	if (crc != hx__le32(h + HX_FH_CRC))
		hx__reader_damage(r, HX_DMG_HEADER, f->path, 0, HX_FH_CRC + 4, 0, 0,
		                  "header checksum mismatch (stored %08x, computed %08x); fields used as found",
		                  hx__le32(h + HX_FH_CRC), crc);

	uint32_t hb = hx__le32(h + HX_FH_HEADER_BYTES);
	f->chunk_bytes = hx__le32(h + HX_FH_CHUNK_BYTES);
	if (hb != HX_FILE_HEADER_BYTES || !chunk_bytes_ok(f->chunk_bytes)) {
		hx__reader_damage(r, HX_DMG_HEADER, f->path, HX_FH_HEADER_BYTES, f->src.size, 0, 0,
		                  "impossible sizes (header %u bytes, chunks %u bytes): file skipped", hb,
		                  f->chunk_bytes);
		return 0;
	}
	f->flags = hx__le32(h + HX_FH_FLAGS);
	if (f->flags & 0x2)
		hx__reader_damage(r, HX_DMG_HEADER, f->path, HX_FH_FLAGS, 4, 0, 0,
		                  "big-endian flag set, which no writer sets; read as little-endian");
	f->file_seq = hx__le32(h + HX_FH_FILE_SEQ);
	f->clock_kind = hx__le32(h + HX_FH_CLOCK_KIND);
	f->anchor_ticks = hx__le64(h + HX_FH_ANCHOR_TICKS);
	f->anchor_mono = hx__le64(h + HX_FH_ANCHOR_MONO);
	f->anchor_real = hx__le64(h + HX_FH_ANCHOR_REAL);
	f->ticks_per_sec = hx__le64(h + HX_FH_TICKS_PER_SEC);
	for (int i = 0; i < HX_FILE_COUNTERS; i++)
		f->counters[i] = hx__le64(h + HX_FH_COUNTERS + 8 * i);
	parse_resource(r, f, h);

	uint64_t index = hx__le64(h + HX_FH_INDEX_OFFSET);
	if (index && (index < HX_FILE_HEADER_BYTES || index >= f->src.size ||
	              (index - HX_FILE_HEADER_BYTES) % f->chunk_bytes))
		hx__reader_damage(r, HX_DMG_HEADER, f->path, HX_FH_INDEX_OFFSET, 8, 0, 0,
		                  "index offset %llu is not a slot of the file", (unsigned long long)index);

	if ((uint64_t)got < HX_FILE_HEADER_BYTES) {
		hx__reader_damage(r, HX_DMG_TRUNCATED, f->path, (uint64_t)got,
		                  HX_FILE_HEADER_BYTES - (uint64_t)got, 0, 0,
		                  "file ends at byte %ld, inside its header", got);
	}
	return 1;
}

/* ---- slots ---- */

static hx__rchunk *add_chunk(hx_reader *r)
{
	if (r->nchunks == r->cap_chunks) {
		size_t cap = r->cap_chunks ? r->cap_chunks * 2 : 64;
		hx__rchunk *c = realloc(r->chunks, cap * sizeof(*c));
		if (!c) {
			r->oom = 1;
			return NULL;
		}
		r->chunks = c;
		r->cap_chunks = cap;
	}
	hx__rchunk *c = &r->chunks[r->nchunks++];
	memset(c, 0, sizeof(*c));
	return c;
}

static void scan_slot(hx_reader *r, size_t fi, uint64_t off)
{
	hx__rfile *f = &r->files[fi];
	uint64_t avail = f->src.size - off;
	if (avail > f->chunk_bytes)
		avail = f->chunk_bytes;
	uint8_t h[HX_CHUNK_HEADER_BYTES];
	size_t want = avail < sizeof(h) ? (size_t)avail : sizeof(h);
	long got = hx__src_read(&f->src, off, h, want);
	if (got < 0) {
		r->info.chunks++;
		r->info.chunks_damaged++;
		hx__reader_damage(r, HX_DMG_IO, f->path, off, avail, 0, 0, "read: %s", strerror(errno));
		return;
	}
	if (all_zero(h, (size_t)got)) {
		/* Unused, unless the header was wiped and data follows. */
		if (scratch_reserve(r, (size_t)avail))
			return;
		long all = hx__src_read(&f->src, off, r->scratch, (size_t)avail);
		if (all < 0 || all_zero(r->scratch, (size_t)all))
			return;
		r->info.chunks++;
		r->info.chunks_damaged++;
		hx__reader_damage(r, HX_DMG_CHUNK_HEADER, f->path, off, avail, 0, 0,
		                  "slot without a chunk header holds data");
		return;
	}
	r->info.chunks++;
	if ((size_t)got < sizeof(h)) {
		r->info.chunks_damaged++;
		hx__reader_damage(r, HX_DMG_TRUNCATED, f->path, off, (uint64_t)got, 0, 0,
		                  "file ends inside a chunk header");
		return;
	}
	if (hx__le32(h + HX_CH_MAGIC) != HX_CHUNK_MAGIC) {
		r->info.chunks_damaged++;
		hx__reader_damage(r, HX_DMG_CHUNK_HEADER, f->path, off, avail, 0, 0,
		                  "bad chunk magic %08x", hx__le32(h + HX_CH_MAGIC));
		return;
	}
	uint64_t commit = hx__le64(h + HX_CH_COMMIT);
	if (commit == 0) {
		/* The writer stores the commit word last, and never zero (it holds the header's CRC):
		 * zero is a header the writer was still writing when it stopped (SIGKILL, a crash). Its
		 * other fields may be half there (stream and sequence number still 0, so it would pose
		 * as stream 0's chunk 0), and it holds no committed record: a torn tail, not damage. */
		hx__reader_damage(r, HX_DMG_TORN_TAIL, f->path, off, avail, 0, 0,
		                  "chunk header never completed (an interrupted write)");
		return;
	}
	hx__rchunk *c = add_chunk(r);
	if (!c)
		return;
	c->offset = off;
	c->file = fi;
	c->proc = f->proc;
	c->stream = hx__le32(h + HX_CH_STREAM);
	c->seq = hx__le32(h + HX_CH_SEQ);
	c->base_ticks = hx__le64(h + HX_CH_BASE_TICKS);
	c->committed = (uint32_t)commit;
	c->crc = (uint32_t)(commit >> 32);
	c->state = CHUNK_UNCHECKED;
	if (c->committed > f->chunk_bytes - HX_CHUNK_HEADER_BYTES) {
		c->state = CHUNK_BAD;
		r->info.chunks_damaged++;
		hx__reader_damage(r, HX_DMG_CHUNK_HEADER, f->path, off, avail, c->stream, c->seq,
		                  "commit length %u exceeds the slot", c->committed);
	} else if (HX_CHUNK_HEADER_BYTES + (uint64_t)c->committed > avail) {
		c->state = CHUNK_BAD;
		r->info.chunks_damaged++;
		hx__reader_damage(r, HX_DMG_TRUNCATED, f->path, off, avail, c->stream, c->seq,
		                  "file ends %llu bytes into a chunk of %u committed bytes",
		                  (unsigned long long)avail, HX_CHUNK_HEADER_BYTES + c->committed);
	}
}

static void file_close_src(hx__src *s)
{
	if (s->fd >= 0)
		close(s->fd);
	s->fd = -1;
}

int hx__reader_add_file(hx_reader *r, const char *path, int fd, const uint8_t *mem, uint64_t size)
{
	char *p = hx__reader_strdup(r, path, strlen(path));
	hx__src src = {fd, mem, size};
	if (!p) {
		file_close_src(&src);
		return HX_ENOMEM;
	}
	if (r->nfiles == r->cap_files) {
		size_t cap = r->cap_files ? r->cap_files * 2 : 4;
		hx__rfile *fs = realloc(r->files, cap * sizeof(*fs));
		if (!fs) {
			r->oom = 1;
			file_close_src(&src);
			return HX_ENOMEM;
		}
		r->files = fs;
		r->cap_files = cap;
	}
	hx__rfile *f = &r->files[r->nfiles];
	memset(f, 0, sizeof(*f));
	f->path = p;
	f->src = src;
	uint8_t *h = malloc(HX_FILE_HEADER_BYTES);
	if (!h) {
		r->oom = 1;
		file_close_src(&f->src);
		return HX_ENOMEM;
	}
	int usable = read_header(r, f, h);
	size_t proc = usable ? find_proc(r, h + HX_FH_INSTANCE) : SIZE_MAX;
	if (usable && proc != SIZE_MAX) {
		f->proc = proc;
		hx__rproc *pr = &r->procs[proc];
		hx_process_info *pi = &pr->info;
		size_t fi = r->nfiles;
		if (pi->files == 0 || f->file_seq < pr->min_file_seq) {
			pr->min_file_seq = f->file_seq;
			pr->first_file = fi;
			pi->pid = hx__le64(h + HX_FH_PID);
		}
		if (pi->files == 0 || f->file_seq >= pr->max_file_seq) {
			pr->max_file_seq = f->file_seq;
			pr->last_file = fi;
		}
		pi->files++;
	}
	free(h);
	if (!usable || proc == SIZE_MAX) {
		file_close_src(&f->src);
		return r->oom ? HX_ENOMEM : HX_OK;
	}
	r->nfiles++;
	r->info.files++;
	r->info.bytes += f->src.size;
	for (uint64_t off = HX_FILE_HEADER_BYTES; off < f->src.size; off += f->chunk_bytes)
		scan_slot(r, r->nfiles - 1, off);
	return r->oom ? HX_ENOMEM : HX_OK;
}

/* ---- streams ---- */

static int chunk_cmp(const void *a, const void *b)
{
	const hx__rchunk *x = a, *y = b;
	if (x->proc != y->proc)
		return x->proc < y->proc ? -1 : 1;
	if (x->stream != y->stream)
		return x->stream < y->stream ? -1 : 1;
	if (x->seq != y->seq)
		return x->seq < y->seq ? -1 : 1;
	if (x->file != y->file)
		return x->file < y->file ? -1 : 1;
	return x->offset < y->offset ? -1 : x->offset > y->offset;
}

/* A stream's first chunk is 0 unless older files were deleted on purpose (max_files): then its
 * early chunks went with them, and that is counted in the header rather than damage. */
static int leading_gap_expected(const hx_reader *r, const hx__rproc *p)
{
	const hx__rfile *last = &r->files[p->last_file];
	return p->min_file_seq > 0 && last->counters[HX_COUNT_FILES_DELETED] > 0;
}

/* Does the chunk's committed content match its CRC? Only asked for chunks that claim the same
 * (stream, seq) as another: the one with a damaged header must not win over the intact one. */
static int chunk_crc_ok(const hx_reader *r, const hx__rchunk *ch)
{
	if (ch->state == CHUNK_BAD)
		return 0;
	size_t n = HX_CHUNK_HEADER_BYTES + (size_t)ch->committed;
	uint8_t *buf = malloc(n);
	if (!buf)
		return 1; /* cannot tell: keep the reader's usual choice */
	long got = hx__src_read(&r->files[ch->file].src, ch->offset, buf, n);
	int ok = got == (long)n;
	if (ok) {
		uint32_t crc = hx__crc32c(0, buf, HX_CH_CRC_PREFIX);
		crc = hx__crc32c(crc, buf + HX_CHUNK_HEADER_BYTES, ch->committed);
		ok = crc == ch->crc;
	}
	free(buf);
	return ok;
}

static void check_stream(hx_reader *r, hx__rstream *s)
{
	hx__rchunk *c = &r->chunks[s->first];
	if (s->id == HX_STREAM_INDEX)
		return; /* index chunks are numbered per file by some writers: order is irrelevant */
	const hx__rproc *p = &r->procs[s->proc];
	if (c[0].seq > 0 && !leading_gap_expected(r, p))
		hx__reader_damage(r, HX_DMG_SEQ_GAP, r->files[c[0].file].path, 0, 0, s->id, 0,
		                  "stream %u: chunks 0..%u missing", s->id, c[0].seq - 1);
	/* keep: the chunk that stands for its sequence number (the first that is not bad) */
	size_t keep = 0;
	for (size_t i = 1; i < s->count; i++) {
		if (c[i].seq == c[keep].seq) {
			hx__rchunk *drop = &c[i];
			if (!chunk_crc_ok(r, &c[keep]) && chunk_crc_ok(r, &c[i])) {
				drop = &c[keep];
				keep = i;
			}
			if (drop->state != CHUNK_BAD)
				hx__reader_damage(r, HX_DMG_CHUNK_HEADER, r->files[drop->file].path,
				                  drop->offset, HX_CHUNK_HEADER_BYTES + drop->committed,
				                  s->id, drop->seq,
				                  "stream %u: chunk %u appears twice (also in %s at %llu); one skipped",
				                  s->id, drop->seq, r->files[c[keep].file].path,
				                  (unsigned long long)c[keep].offset);
			hx__chunk_bad(r, drop);
			continue;
		}
		if (c[i].seq > c[keep].seq + 1)
			hx__reader_damage(r, HX_DMG_SEQ_GAP, r->files[c[i].file].path, 0, 0, s->id,
			                  c[keep].seq + 1, "stream %u: chunks %u..%u missing", s->id,
			                  c[keep].seq + 1, c[i].seq - 1);
		keep = i;
	}
}

static int build_streams(hx_reader *r)
{
	if (r->nchunks)
		qsort(r->chunks, r->nchunks, sizeof(*r->chunks), chunk_cmp);
	size_t n = 0;
	for (size_t i = 0; i < r->nchunks; i++)
		if (i == 0 || r->chunks[i].proc != r->chunks[i - 1].proc ||
		    r->chunks[i].stream != r->chunks[i - 1].stream)
			n++;
	r->streams = calloc(n ? n : 1, sizeof(*r->streams));
	r->cursors = calloc(n ? n : 1, sizeof(*r->cursors));
	r->heap = calloc(n ? n : 1, sizeof(*r->heap));
	if (!r->streams || !r->cursors || !r->heap)
		return HX_ENOMEM;
	for (size_t i = 0; i < r->nchunks; i++) {
		hx__rchunk *c = &r->chunks[i];
		if (r->nstreams == 0 || c->proc != r->streams[r->nstreams - 1].proc ||
		    c->stream != r->streams[r->nstreams - 1].id) {
			hx__rstream *s = &r->streams[r->nstreams++];
			s->proc = c->proc;
			s->id = c->stream;
			s->first = i;
		}
		r->streams[r->nstreams - 1].count++;
	}
	for (size_t i = 0; i < r->nstreams; i++)
		check_stream(r, &r->streams[i]);
	return HX_OK;
}

/* ---- processes and clocks ---- */

static void fill_process(hx_reader *r, hx__rproc *p)
{
	const hx__rfile *first = &r->files[p->first_file];
	const hx__rfile *last = &r->files[p->last_file];
	hx_process_info *pi = &p->info;
	pi->host = last->host;
	pi->program = last->program;
	pi->service = last->service;
	pi->clean = (last->flags & HX_FLAG_CLEAN) != 0;
	memcpy(pi->counters, last->counters, sizeof(pi->counters));
	pi->clock_kind = first->clock_kind;
	pi->ticks_per_sec = first->clock_kind == HX_CLOCK_MONO
	                        ? 1000000000u
	                        : hx__clock_sane_rate(first->ticks_per_sec);
	p->clock.mono0 = first->anchor_mono;
	p->clock.real0 = first->anchor_real;
}

/* Read a process stream or index stream whole at open: SYNC records feed the clock map, and
 * every chunk's CRC and records are checked (and reported once). */
static int read_stream_at_open(hx_reader *r, size_t si)
{
	hx__rstream *s = &r->streams[si];
	hx__rproc *p = &r->procs[s->proc];
	hx__cursor c;
	hx_event ev;
	hx__sync sync;
	int rc;
	hx__cursor_init(&c, si, s->first);
	if (hx__decoder_init(&c.dec))
		return HX_ENOMEM;
	c.dec_ready = 1;
	while ((rc = hx__cursor_record(r, &c, &ev, &sync)) > 0) {
		if (rc == HX__REC_SYNC && s->id == HX_STREAM_PROCESS) {
			if (hx__clock_add(&p->clock, sync.ticks, sync.mono_ns)) {
				rc = HX_ENOMEM;
				break;
			}
			p->info.syncs++;
		}
	}
	hx__cursor_free(&c);
	return rc < 0 ? rc : HX_OK;
}

int hx__reader_finish_open(hx_reader *r)
{
	if (r->oom || build_streams(r))
		return HX_ENOMEM;
	for (size_t i = 0; i < r->nprocs; i++) {
		hx__rproc *p = &r->procs[i];
		fill_process(r, p);
		for (size_t f = 0; f < r->nfiles; f++)
			if (r->files[f].proc == i &&
			    hx__clock_add(&p->clock, r->files[f].anchor_ticks, r->files[f].anchor_mono))
				return HX_ENOMEM;
	}
	for (size_t i = 0; i < r->nstreams; i++) {
		uint32_t id = r->streams[i].id;
		if (id != HX_STREAM_PROCESS && id != HX_STREAM_INDEX)
			continue;
		int rc = read_stream_at_open(r, i);
		if (rc)
			return rc;
	}
	for (size_t i = 0; i < r->nprocs; i++) {
		hx__rproc *p = &r->procs[i];
		if (hx__clock_build(&p->clock, p->info.ticks_per_sec))
			return HX_ENOMEM;
	}
	return r->oom ? HX_ENOMEM : HX_OK;
}
