/*
 * reader.c - the reader API (haruspex/reader.h): open, iterate in stream or time order, report.
 *
 * Iteration reads one chunk at a time per stream. A chunk's bytes are trusted only after its CRC
 * matches; the decoder then bounds every record inside the committed payload. Stream order reads
 * the streams one after the other and holds one chunk in memory; time order keeps a cursor (one
 * chunk, one decoder) per stream and merges them with a binary heap keyed by (time, stream).
 */
#include "format/reader_int.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- cursors ---- */

void hx__cursor_init(hx__cursor *c, size_t stream, size_t first)
{
	memset(c, 0, sizeof(*c));
	c->stream = stream;
	c->next = first;
}

void hx__cursor_free(hx__cursor *c)
{
	if (c->dec_ready)
		hx__decoder_free(&c->dec);
	free(c->buf);
	c->buf = NULL;
	c->cap = 0;
	c->dec_ready = 0;
	c->ch = NULL;
}

/* Read a chunk's slot, check it, and point the cursor at its records. Returns 1 when the cursor
 * is ready, 0 when the chunk is skipped (damage reported), HX_ENOMEM. */
static int load_chunk(hx_reader *r, hx__cursor *c, hx__rchunk *ch)
{
	hx__rfile *f = &r->files[ch->file];
	uint64_t avail = f->src.size > ch->offset ? f->src.size - ch->offset : 0;
	size_t want = avail < f->chunk_bytes ? (size_t)avail : f->chunk_bytes;
	size_t need = HX_CHUNK_HEADER_BYTES + ch->committed;
	if (c->cap < want) {
		uint8_t *b = realloc(c->buf, want);
		if (!b)
			return HX_ENOMEM;
		c->buf = b;
		c->cap = want;
	}
	long got = hx__src_read(&f->src, ch->offset, c->buf, want);
	if (got < 0) {
		hx__reader_damage(r, HX_DMG_IO, f->path, ch->offset, need, ch->stream, ch->seq,
		                  "read: %s", strerror(errno));
		hx__chunk_bad(r, ch);
		return 0;
	}
	if ((size_t)got < need || hx__le32(c->buf) != HX_CHUNK_MAGIC) {
		/* The file shrank or changed since open. */
		hx__reader_damage(r, HX_DMG_TRUNCATED, f->path, ch->offset, need, ch->stream, ch->seq,
		                  "chunk changed or cut short since the file was opened");
		hx__chunk_bad(r, ch);
		return 0;
	}
	/* A commit word of zero is a chunk whose first record never completed: nothing to check,
	 * and whatever follows is a torn tail. Otherwise the CRC covers header and payload. The
	 * commit word read at open is used, not the one just read: a file still being written
	 * commits more records meanwhile, and those are not this chunk's checked bytes. */
	if (ch->committed != 0 || ch->crc != 0) {
		uint32_t crc = hx__crc32c(0, c->buf, HX_CH_CRC_PREFIX);
		crc = hx__crc32c(crc, c->buf + HX_CHUNK_HEADER_BYTES, ch->committed);
		if (crc != ch->crc) {
			hx__reader_damage(r, HX_DMG_CHECKSUM, f->path, ch->offset, need, ch->stream,
			                  ch->seq, "CRC mismatch over %u committed bytes (stored %08x, computed %08x)",
			                  ch->committed, ch->crc, crc);
			hx__chunk_bad(r, ch);
			return 0;
		}
	}
	if (ch->state == CHUNK_UNCHECKED) {
		/* the torn tail runs from the commit point to the last byte that is not zero */
		const uint8_t *tail = c->buf + need, *end = c->buf + got;
		while (end > tail && !end[-1])
			end--;
		if (end > tail)
			hx__reader_damage(r, HX_DMG_TORN_TAIL, f->path, ch->offset + need,
			                  (uint64_t)(end - tail), ch->stream, ch->seq,
			                  "%llu bytes written after the commit point (an interrupted write)",
			                  (unsigned long long)(end - tail));
		ch->state = CHUNK_OK;
		r->info.payload_bytes += ch->committed;
	}
	c->ch = ch;
	c->p = c->buf + HX_CHUNK_HEADER_BYTES;
	c->end = c->p + ch->committed;
	hx__decoder_reset(&c->dec, ch->base_ticks);
	return 1;
}

static void record_damage(hx_reader *r, hx__cursor *c, const uint8_t *at, const char *why)
{
	hx__rchunk *ch = c->ch;
	if (!ch->record_reported) {
		uint64_t off = ch->offset + (uint64_t)(at - c->buf);
		hx__reader_damage(r, HX_DMG_RECORD, r->files[ch->file].path, off,
		                  (uint64_t)(c->end - at), ch->stream, ch->seq, "%s", why);
		ch->record_reported = 1;
		r->info.chunks_damaged++;
	}
	c->p = c->end; /* the rest of the chunk cannot be framed */
}

int hx__cursor_record(hx_reader *r, hx__cursor *c, hx_event *ev, hx__sync *sync)
{
	const hx__rstream *s = &r->streams[c->stream];
	int index_stream = s->id == HX_STREAM_INDEX;
	for (;;) {
		if (!c->ch || c->p >= c->end) {
			c->ch = NULL;
			if (c->next >= s->first + s->count)
				return 0;
			hx__rchunk *ch = &r->chunks[c->next];
			if (ch->state != CHUNK_BAD) {
				int rc = load_chunk(r, c, ch);
				if (rc < 0)
					return rc; /* retried at the same chunk */
			}
			c->next++;
			continue;
		}
		const uint8_t *at = c->p;
		const char *why = "";
		hx__index_entry idx;
		int rc = hx__decode_record(&c->dec, &c->p, c->end, ev, sync, &idx, &why);
		if (rc == HX_ENOMEM)
			return rc;
		if (rc < 0) {
			record_damage(r, c, at, why);
			continue;
		}
		int is_event = rc == HX__REC_EVENT || rc == HX__REC_SKIPPED_EVENT;
		if (index_stream && is_event) {
			record_damage(r, c, at, "event record in an index chunk");
			continue;
		}
		if (!index_stream && rc == HX__REC_INDEX) {
			record_damage(r, c, at, "index record outside an index chunk");
			continue;
		}
		/* Process streams are read at open and again while iterating: count them once. */
		if (r->started || index_stream) {
			r->info.records++;
			if (is_event)
				r->info.event_bytes += (uint64_t)(c->p - at);
		}
		return rc;
	}
}

/* The cursor's next event with its time converted to ns: HX_OK, HX_EOF or HX_ENOMEM. */
static int cursor_event(hx_reader *r, hx__cursor *c, hx_event *ev)
{
	const hx__rstream *s = &r->streams[c->stream];
	for (;;) {
		int rc = hx__cursor_record(r, c, ev, NULL);
		if (rc < 0)
			return rc;
		if (rc == 0)
			return HX_EOF;
		if (rc == HX__REC_EVENT) {
			const hx__rproc *p = &r->procs[s->proc];
			uint64_t t = hx__clock_ns(&p->clock, ev->time_ns, &c->seg);
			ev->time_orig_ns = t;
			/* The offset is per process (its host's), so each entity's times keep their order
			 * and the time merge sees aligned times. */
			ev->time_ns = p->offset_ns ? hx__time_shift(t, p->offset_ns) : t;
			return HX_OK;
		}
	}
}

static int cursor_start(hx_reader *r, size_t si)
{
	hx__cursor *c = &r->cursors[si];
	if (c->dec_ready)
		return HX_OK;
	hx__cursor_init(c, si, r->streams[si].first);
	if (hx__decoder_init(&c->dec))
		return HX_ENOMEM;
	c->dec_ready = 1;
	return HX_OK;
}

/* ---- time order: a binary min-heap of cursors keyed by (time, stream) ---- */

static int heap_less(const hx_reader *r, size_t a, size_t b)
{
	uint64_t ta = r->cursors[a].ev.time_ns, tb = r->cursors[b].ev.time_ns;
	return ta < tb || (ta == tb && a < b);
}

static void heap_down(hx_reader *r, size_t i)
{
	size_t n = r->nheap, *h = r->heap;
	for (;;) {
		size_t l = 2 * i + 1, m = i;
		if (l < n && heap_less(r, h[l], h[m]))
			m = l;
		if (l + 1 < n && heap_less(r, h[l + 1], h[m]))
			m = l + 1;
		if (m == i)
			return;
		size_t t = h[i];
		h[i] = h[m];
		h[m] = t;
		i = m;
	}
}

static void heap_up(hx_reader *r, size_t i)
{
	size_t *h = r->heap;
	while (i > 0) {
		size_t parent = (i - 1) / 2;
		if (!heap_less(r, h[i], h[parent]))
			return;
		size_t t = h[i];
		h[i] = h[parent];
		h[parent] = t;
		i = parent;
	}
}

static int next_time(hx_reader *r, hx_event *ev)
{
	/* Fill the heap: r->cur counts the streams started, so a retry after ENOMEM resumes. */
	for (; r->cur < r->nstreams; r->cur++) {
		if (r->streams[r->cur].id == HX_STREAM_INDEX)
			continue;
		hx__cursor *c = &r->cursors[r->cur];
		if (cursor_start(r, r->cur))
			return HX_ENOMEM;
		int rc = cursor_event(r, c, &c->ev);
		if (rc == HX_ENOMEM)
			return rc;
		if (rc == HX_EOF) {
			hx__cursor_free(c);
			continue;
		}
		r->heap[r->nheap++] = r->cur;
		heap_up(r, r->nheap - 1);
	}
	if (r->pending) {
		/* The event returned last still lives in heap[0]'s cursor: only now may it move on. */
		hx__cursor *c = &r->cursors[r->heap[0]];
		int rc = cursor_event(r, c, &c->ev);
		if (rc == HX_ENOMEM)
			return rc;
		r->pending = 0;
		if (rc == HX_EOF) {
			hx__cursor_free(c);
			r->heap[0] = r->heap[--r->nheap];
		}
		heap_down(r, 0);
	}
	if (r->nheap == 0)
		return HX_EOF;
	size_t si = r->heap[0];
	*ev = r->cursors[si].ev;
	r->pending = 1;
	r->last_proc = r->streams[si].proc;
	return HX_OK;
}

static int next_stream(hx_reader *r, hx_event *ev)
{
	while (r->cur < r->nstreams) {
		if (r->streams[r->cur].id == HX_STREAM_INDEX) {
			r->cur++;
			continue;
		}
		if (cursor_start(r, r->cur))
			return HX_ENOMEM;
		int rc = cursor_event(r, &r->cursors[r->cur], ev);
		if (rc == HX_OK) {
			r->last_proc = r->streams[r->cur].proc;
			return rc;
		}
		if (rc != HX_EOF)
			return rc;
		hx__cursor_free(&r->cursors[r->cur]);
		r->cur++;
	}
	return HX_EOF;
}

int hx_reader_next(hx_reader *r, hx_event *ev)
{
	if (!r || !ev)
		return HX_EINVAL;
	r->started = 1;
	int rc = r->order == HX_ORDER_TIME ? next_time(r, ev) : next_stream(r, ev);
	if (rc == HX_OK)
		r->info.events++;
	if (rc == HX_EOF && r->oom)
		return HX_ENOMEM; /* a damage report or string was lost: say so rather than be silent */
	return rc;
}

/* ---- open and close ---- */

static int errno_result(int e)
{
	switch (e) {
	case ENOENT:
	case ENOTDIR:
		return HX_ENOENT;
	case EACCES:
	case EPERM:
		return HX_EACCES;
	case ENOMEM:
		return HX_ENOMEM;
	default:
		return HX_EIO;
	}
}

static hx_reader *reader_new(hx_read_order order)
{
	hx_reader *r = calloc(1, sizeof(*r));
	if (r)
		r->order = order == HX_ORDER_TIME ? HX_ORDER_TIME : HX_ORDER_STREAM;
	return r;
}

/* Open one file of a directory or the path itself. A file that cannot be opened is damage when it
 * is one of a directory's, and the error when it is the path given. */
static int open_one(hx_reader *r, const char *path, int in_dir)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	struct stat st;
	if (fd < 0 || fstat(fd, &st)) {
		int e = errno;
		if (fd >= 0)
			close(fd);
		if (!in_dir)
			return errno_result(e);
		if (!r->open_error)
			r->open_error = errno_result(e);
		const char *p = hx__reader_strdup(r, path, strlen(path));
		hx__reader_damage(r, HX_DMG_IO, p, 0, 0, 0, 0, "open: %s", strerror(e));
		return r->oom ? HX_ENOMEM : HX_OK;
	}
	for (size_t i = 0; S_ISREG(st.st_mode) && i < r->nfiles; i++) {
		if (r->files[i].dev == (uint64_t)st.st_dev && r->files[i].ino == (uint64_t)st.st_ino) {
			/* named twice (a file and its directory, overlapping lists): its chunks would
			 * all be duplicates */
			close(fd);
			return HX_OK;
		}
	}
	if (!S_ISREG(st.st_mode)) {
		/* A FIFO or device has no slots to pread: not a trace file. */
		close(fd);
		if (in_dir)
			return HX_OK;
		const char *p = hx__reader_strdup(r, path, strlen(path));
		hx__reader_damage(r, HX_DMG_NOT_A_TRACE, p, 0, 0, 0, 0, "not a regular file");
		return r->oom ? HX_ENOMEM : HX_OK;
	}
	size_t before = r->nfiles;
	int rc = hx__reader_add_file(r, path, fd, NULL, (uint64_t)st.st_size);
	if (r->nfiles > before) {
		r->files[before].dev = (uint64_t)st.st_dev;
		r->files[before].ino = (uint64_t)st.st_ino;
	}
	return rc;
}

static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int is_trace_name(const char *name)
{
	size_t n = strlen(name);
	return n > 3 && !strcmp(name + n - 3, ".hx");
}

static int open_dir(hx_reader *r, const char *path)
{
	DIR *d = opendir(path);
	if (!d)
		return errno_result(errno);
	char **names = NULL;
	size_t n = 0, cap = 0;
	int rc = HX_OK;
	struct dirent *e;
	size_t plen = strlen(path);
	while (plen > 1 && path[plen - 1] == '/')
		plen--; /* "dir/" names its files "dir/x.hx", not "dir//x.hx" */
	while ((e = readdir(d))) {
		if (!is_trace_name(e->d_name))
			continue;
		if (n == cap) {
			size_t c2 = cap ? cap * 2 : 16;
			char **nn = realloc(names, c2 * sizeof(*nn));
			if (!nn) {
				rc = HX_ENOMEM;
				break;
			}
			names = nn;
			cap = c2;
		}
		size_t nlen = strlen(e->d_name);
		names[n] = malloc(plen + 1 + nlen + 1);
		if (!names[n]) {
			rc = HX_ENOMEM;
			break;
		}
		memcpy(names[n], path, plen);
		names[n][plen] = '/';
		memcpy(names[n] + plen + 1, e->d_name, nlen + 1);
		n++;
	}
	closedir(d);
	if (n)
		qsort(names, n, sizeof(*names), name_cmp);
	for (size_t i = 0; i < n && rc == HX_OK; i++)
		rc = open_one(r, names[i], 1);
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
	return rc;
}

static int finish(hx_reader *r, int rc, hx_reader **out)
{
	if (rc == HX_OK && r->traces == 0)
		rc = r->open_error ? r->open_error : HX_EFORMAT;
	if (rc == HX_OK)
		rc = hx__reader_finish_open(r);
	if (rc == HX_OK)
		rc = hx__reader_hosts_build(r);
	if (rc != HX_OK) {
		hx_reader_close(r);
		return rc;
	}
	*out = r;
	return HX_OK;
}

int hx_reader_open_paths(hx_reader **out, const char *const *paths, size_t n, hx_read_order order)
{
	if (!out)
		return HX_EINVAL;
	*out = NULL;
	if (!paths || n == 0)
		return HX_EINVAL;
	for (size_t i = 0; i < n; i++)
		if (!paths[i])
			return HX_EINVAL;
	hx_reader *r = reader_new(order);
	if (!r)
		return HX_ENOMEM;
	int rc = HX_OK;
	for (size_t i = 0; i < n && rc == HX_OK; i++) {
		struct stat st;
		if (stat(paths[i], &st))
			rc = errno_result(errno);
		else
			rc = S_ISDIR(st.st_mode) ? open_dir(r, paths[i]) : open_one(r, paths[i], 0);
	}
	return finish(r, rc, out);
}

int hx_reader_open(hx_reader **out, const char *path, hx_read_order order)
{
	return hx_reader_open_paths(out, &path, 1, order);
}

int hx__reader_open_mem(hx_reader **out, const void *data, size_t len, hx_read_order order)
{
	if (!out || (!data && len))
		return HX_EINVAL;
	*out = NULL;
	hx_reader *r = reader_new(order);
	if (!r)
		return HX_ENOMEM;
	int rc = hx__reader_add_file(r, "<memory>", -1, data, len);
	return finish(r, rc, out);
}

void hx_reader_close(hx_reader *r)
{
	if (!r)
		return;
	for (size_t i = 0; i < r->nfiles; i++)
		if (r->files[i].src.fd >= 0)
			close(r->files[i].src.fd);
	if (r->cursors)
		for (size_t i = 0; i < r->nstreams; i++)
			hx__cursor_free(&r->cursors[i]);
	for (size_t i = 0; i < r->nprocs; i++)
		hx__clock_free(&r->procs[i].clock);
	hx__reader_pool_free(r);
	free(r->files);
	free(r->procs);
	free(r->chunks);
	free(r->streams);
	free(r->cursors);
	free(r->heap);
	free(r->damage);
	free(r->scratch);
	free(r->hosts);
	free(r);
}

/* ---- reports ---- */

size_t hx_reader_event_process(const hx_reader *r)
{
	return r ? r->last_proc : 0;
}

const hx_damage *hx_reader_damage(const hx_reader *r, size_t *n)
{
	if (n)
		*n = r ? r->ndamage : 0;
	return r ? r->damage : NULL;
}

const char *hx_damage_kind_name(int kind)
{
	static const char *const names[] = {
		[HX_DMG_NOT_A_TRACE] = "not_a_trace", [HX_DMG_HEADER] = "header",
		[HX_DMG_CHUNK_HEADER] = "chunk_header", [HX_DMG_CHECKSUM] = "checksum",
		[HX_DMG_TRUNCATED] = "truncated",     [HX_DMG_RECORD] = "record",
		[HX_DMG_TORN_TAIL] = "torn_tail",     [HX_DMG_SEQ_GAP] = "seq_gap",
		[HX_DMG_IO] = "io",
	};
	if (kind <= 0 || (size_t)kind >= sizeof(names) / sizeof(names[0]))
		return NULL;
	return names[kind];
}

size_t hx_reader_processes(const hx_reader *r)
{
	return r ? r->nprocs : 0;
}

const hx_process_info *hx_reader_process(const hx_reader *r, size_t i)
{
	if (!r || i >= r->nprocs)
		return NULL;
	return &r->procs[i].info;
}

void hx_reader_info_get(const hx_reader *r, hx_reader_info *out)
{
	if (!out)
		return;
	if (!r) {
		memset(out, 0, sizeof(*out));
		return;
	}
	*out = r->info;
}
