/*
 * follow.c - the incremental follower (follow.h).
 *
 * Per file it keeps one byte per slot: EMPTY (all zero so far: reserved and not yet written, or
 * never to be), LIVE (a chunk that may still grow) or DONE (nothing more to read: consumed, index,
 * damaged). A poll reads the 32-byte header of every slot that is not DONE, so its cost is the
 * handful of chunks being written plus the slots reserved ahead, not the size of the files.
 *
 * Per process it keeps the clock map (the files' anchors and the SYNC records of stream 0, read
 * once each) and per stream the chunks seen and not yet consumed, in sequence order, and two
 * positions: `taken` (what the caller took) and `confirmed` (what the server acknowledged).
 * A chunk N of a stream is complete once chunk N+1 exists (its thread took a new slot after
 * committing its last record to N); a chunk without a successor is read again whenever its commit
 * word changes, and its events are skipped by count up to the position.
 */
#define _GNU_SOURCE
#include "format/follow.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "format/decode.h"
#include "format/format.h"
#include "format/reader_int.h"

enum { SLOT_EMPTY = 0, SLOT_LIVE = 1, SLOT_DONE = 2 };

struct ffile {
	char *name;              /* in the directory */
	int fd;
	uint64_t dev, ino;
	size_t proc;
	uint32_t chunk_bytes;
	uint8_t *slots;          /* SLOT_* per slot */
	size_t nslots;
	int seen;                /* found in this poll's listing */
};

struct pchunk {              /* a chunk seen and not consumed */
	uint32_t seq;
	size_t file, slot;
	uint64_t base_ticks;
	uint32_t committed_read; /* commit length at the last decode (UINT32_MAX: never decoded) */
};

struct pos {
	uint64_t seq;            /* chunk sequence number */
	uint64_t events;         /* events of that chunk before the position */
};

struct fstream {
	uint32_t id;
	struct pchunk *ch;       /* sorted by seq */
	size_t nch, cap;
	struct pos taken, confirmed;
	int marked;              /* taken moved since the last mark */
	uint64_t sync_off;       /* stream 0: payload bytes of chunk taken.seq already read */
	int gap_seen;            /* a later chunk is there and chunk taken.seq is not: seen once */
};

struct fproc {
	hx__follow_proc pub;
	char **kv;               /* owned resource strings */
	hx__clock clock;
	uint64_t ticks_per_sec;
	int clock_dirty;
	size_t seg;
	struct fstream *streams;
	size_t nstreams;
	int dirty;               /* confirmed positions not yet saved */
};

struct mark_rec {
	uint64_t ticket;
	size_t proc, stream;
	struct pos p;
};

struct hx__follow {
	char *dir, *state_dir;
	uint8_t only[16];
	int has_only;
	struct ffile *files;
	size_t nfiles;
	struct fproc *procs;
	size_t nprocs;
	struct mark_rec *marks;
	size_t nmarks, cap_marks;
	uint64_t next_ticket;
	hx__decoder dec;
	uint8_t *buf;
	size_t cap;
	hx__follow_stats st;
	char err[512];
};

static void set_err(hx__follow *f, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void set_err(hx__follow *f, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(f->err, sizeof f->err, fmt, ap);
	va_end(ap);
}

static int grow(void **p, size_t *cap, size_t need, size_t elem)
{
	if (need <= *cap)
		return 0;
	size_t n = *cap ? *cap * 2 : 8;
	while (n < need)
		n *= 2;
	void *q = realloc(*p, n * elem);
	if (!q)
		return -1;
	*p = q;
	*cap = n;
	return 0;
}

static int errno_result(int e)
{
	return e == ENOENT || e == ENOTDIR ? HX_ENOENT : e == EACCES || e == EPERM ? HX_EACCES : HX_EIO;
}

int hx__follow_open(hx__follow **out, const hx__follow_opts *o, char *err, size_t errlen)
{
	*out = NULL;
	struct stat st;
	if (!o || !o->dir) {
		snprintf(err, errlen, "no directory to follow");
		return HX_EINVAL;
	}
	const char *dirs[2] = {o->dir, o->state_dir};
	for (int i = 0; i < 2; i++) {
		if (!dirs[i])
			continue;
		int e = stat(dirs[i], &st) ? errno : S_ISDIR(st.st_mode) ? 0 : ENOTDIR;
		if (e) {
			snprintf(err, errlen, "%s%s: %s", i ? "state directory " : "", dirs[i], strerror(e));
			return errno_result(e);
		}
	}
	hx__follow *f = calloc(1, sizeof *f);
	if (!f)
		return HX_ENOMEM;
	f->dir = strdup(o->dir);
	f->state_dir = o->state_dir ? strdup(o->state_dir) : NULL;
	if (!f->dir || (o->state_dir && !f->state_dir) || hx__decoder_init(&f->dec) != HX_OK) {
		free(f->dir);
		free(f->state_dir);
		free(f);
		return HX_ENOMEM;
	}
	if (o->only_instance) {
		memcpy(f->only, o->only_instance, 16);
		f->has_only = 1;
	}
	f->next_ticket = 1;
	*out = f;
	return HX_OK;
}

static void proc_free(struct fproc *p)
{
	for (size_t i = 0; p->kv && i < 2 * p->pub.npairs; i++)
		free(p->kv[i]);
	free(p->kv);
	hx__clock_free(&p->clock);
	for (size_t i = 0; i < p->nstreams; i++)
		free(p->streams[i].ch);
	free(p->streams);
}

void hx__follow_close(hx__follow *f)
{
	if (!f)
		return;
	for (size_t i = 0; i < f->nfiles; i++) {
		if (f->files[i].fd >= 0)
			close(f->files[i].fd);
		free(f->files[i].name);
		free(f->files[i].slots);
	}
	free(f->files);
	for (size_t i = 0; i < f->nprocs; i++)
		proc_free(&f->procs[i]);
	free(f->procs);
	free(f->marks);
	hx__decoder_free(&f->dec);
	free(f->buf);
	free(f->dir);
	free(f->state_dir);
	free(f);
}

/* ---- state files ---- */

static void hex16(char *out, const uint8_t in[16])
{
	for (int i = 0; i < 16; i++)
		sprintf(out + 2 * i, "%02x", in[i]);
}

#define STATE_MAGIC "haruspex-ship-position 1"

static struct fstream *stream_get(struct fproc *p, uint32_t id);

/* Load the saved positions of process p: HX_OK (also when there is no file), HX_EFORMAT,
 * HX_ENOMEM, HX_EIO. */
static int state_load(hx__follow *f, struct fproc *p)
{
	if (!f->state_dir)
		return HX_OK;
	char hex[33], path[4096];
	hex16(hex, p->pub.instance);
	snprintf(path, sizeof path, "%s/hxship-%s.pos", f->state_dir, hex);
	FILE *in = fopen(path, "r");
	if (!in) {
		if (errno == ENOENT)
			return HX_OK;
		set_err(f, "%s: %s", path, strerror(errno));
		return HX_EIO;
	}
	char line[256];
	int rc = HX_OK, lineno = 0;
	while (fgets(line, sizeof line, in)) {
		lineno++;
		if (lineno == 1) {
			if (strncmp(line, STATE_MAGIC "\n", sizeof STATE_MAGIC)) {
				rc = HX_EFORMAT;
				break;
			}
			continue;
		}
		unsigned long long sid, seq, ev;
		char extra;
		if (sscanf(line, "%llu %llu %llu %c", &sid, &seq, &ev, &extra) != 3 || sid > UINT32_MAX) {
			rc = HX_EFORMAT;
			break;
		}
		struct fstream *s = stream_get(p, (uint32_t)sid);
		if (!s) {
			rc = HX_ENOMEM;
			break;
		}
		s->taken.seq = s->confirmed.seq = seq;
		s->taken.events = s->confirmed.events = ev;
	}
	if (rc == HX_OK && lineno == 0)
		rc = HX_EFORMAT;
	fclose(in);
	if (rc == HX_EFORMAT)
		set_err(f, "%s: line %d is not a saved position; move the file away to ship this "
		           "process from its beginning", path, lineno);
	return rc;
}

/* Save p's confirmed positions: write a temporary file, sync it, rename it over the old one, sync
 * the directory. A crash leaves the old file or the new one, never a mix. */
static int state_save(hx__follow *f, struct fproc *p)
{
	if (!f->state_dir || !p->dirty)
		return HX_OK;
	char hex[33], path[4096], tmp[4200];
	hex16(hex, p->pub.instance);
	snprintf(path, sizeof path, "%s/hxship-%s.pos", f->state_dir, hex);
	snprintf(tmp, sizeof tmp, "%s/.hxship-%s.%ld.tmp", f->state_dir, hex, (long)getpid());
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) {
		set_err(f, "%s: %s", tmp, strerror(errno));
		return HX_EIO;
	}
	char *text = NULL;
	size_t tlen = 0;
	FILE *m = open_memstream(&text, &tlen);
	if (!m) {
		close(fd);
		unlink(tmp);
		return HX_ENOMEM;
	}
	fprintf(m, "%s\n", STATE_MAGIC);
	for (size_t i = 0; i < p->nstreams; i++) {
		const struct fstream *s = &p->streams[i];
		if (s->id == HX_STREAM_PROCESS || (s->confirmed.seq == 0 && s->confirmed.events == 0))
			continue;
		fprintf(m, "%" PRIu32 " %" PRIu64 " %" PRIu64 "\n", s->id, s->confirmed.seq,
		        s->confirmed.events);
	}
	int ok = fclose(m) == 0 && text;
	ok = ok && write(fd, text, tlen) == (ssize_t)tlen && fsync(fd) == 0;
	free(text);
	ok = close(fd) == 0 && ok;
	if (ok && rename(tmp, path) == 0) {
		int dfd = open(f->state_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (dfd >= 0) {
			fsync(dfd);
			close(dfd);
		}
		p->dirty = 0;
		return HX_OK;
	}
	set_err(f, "cannot save the shipping position in %s: %s", path, strerror(errno));
	unlink(tmp);
	return HX_EIO;
}

/* ---- processes and streams ---- */

static struct fstream *stream_get(struct fproc *p, uint32_t id)
{
	size_t lo = 0, hi = p->nstreams;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (p->streams[mid].id < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo < p->nstreams && p->streams[lo].id == id)
		return &p->streams[lo];
	struct fstream *ns = realloc(p->streams, (p->nstreams + 1) * sizeof *ns);
	if (!ns)
		return NULL;
	p->streams = ns;
	memmove(&ns[lo + 1], &ns[lo], (p->nstreams - lo) * sizeof *ns);
	memset(&ns[lo], 0, sizeof *ns);
	ns[lo].id = id;
	p->nstreams++;
	return &ns[lo];
}

/* The resource list of a file header: (varint key length, key, varint value length, value) pairs
 * ended by a zero key length, before offset 1024. Kept: the first 16 pairs (what a batch keeps). */
static int parse_resource(struct fproc *p, const uint8_t *h)
{
	const uint8_t *q = h + HX_FH_RESOURCE, *end = h + HX_FH_RESOURCE_END;
	p->kv = calloc(32, sizeof *p->kv);
	if (!p->kv)
		return HX_ENOMEM;
	size_t n = 0;
	while (q < end && n < 16) {
		uint64_t kl, vl;
		if (hx__get_varint(&q, end, &kl) || kl == 0 || kl > (uint64_t)(end - q))
			break;
		const uint8_t *k = q;
		q += kl;
		if (hx__get_varint(&q, end, &vl) || vl > (uint64_t)(end - q) || kl > 255 || vl > 255)
			break;
		p->kv[2 * n] = strndup((const char *)k, (size_t)kl);
		p->kv[2 * n + 1] = strndup((const char *)q, (size_t)vl);
		if (!p->kv[2 * n] || !p->kv[2 * n + 1])
			return HX_ENOMEM;
		/* a NUL inside a value would cut it; such a header is damaged, the pair is dropped */
		if (strlen(p->kv[2 * n]) != kl || strlen(p->kv[2 * n + 1]) != vl) {
			free(p->kv[2 * n]);
			free(p->kv[2 * n + 1]);
			p->kv[2 * n] = p->kv[2 * n + 1] = NULL;
		} else {
			n++;
		}
		q += vl;
	}
	p->pub.npairs = n;
	p->pub.resource = (const char *const *)p->kv;
	return HX_OK;
}

/* The process of a file header, made (and its saved positions loaded) on first sight. */
static int proc_for(hx__follow *f, const uint8_t *h, size_t *out)
{
	for (size_t i = 0; i < f->nprocs; i++)
		if (!memcmp(f->procs[i].pub.instance, h + HX_FH_INSTANCE, 16)) {
			*out = i;
			return HX_OK;
		}
	struct fproc *np = realloc(f->procs, (f->nprocs + 1) * sizeof *np);
	if (!np)
		return HX_ENOMEM;
	f->procs = np;
	struct fproc *p = &np[f->nprocs];
	memset(p, 0, sizeof *p);
	memcpy(p->pub.instance, h + HX_FH_INSTANCE, 16);
	p->pub.pid = hx__le64(h + HX_FH_PID);
	uint32_t kind = hx__le32(h + HX_FH_CLOCK_KIND);
	p->ticks_per_sec = kind == HX_CLOCK_MONO ? 1000000000u
	                                         : hx__clock_sane_rate(hx__le64(h + HX_FH_TICKS_PER_SEC));
	int rc = parse_resource(p, h);
	if (rc == HX_OK)
		rc = state_load(f, p);
	if (rc != HX_OK) {
		proc_free(p);
		return rc;
	}
	f->nprocs++;
	f->st.processes++;
	*out = f->nprocs - 1;
	return HX_OK;
}

/* ---- files ---- */

static int is_trace_name(const char *n)
{
	size_t l = strlen(n);
	return l > 3 && !strcmp(n + l - 3, ".hx");
}

/* A new file: open it and read its header. Returns HX_OK when the file was added or should be
 * looked at again later (a header not yet written), HX_ENOMEM/HX_EFORMAT/HX_EIO otherwise. */
static int file_add(hx__follow *f, const char *name)
{
	char path[4096];
	snprintf(path, sizeof path, "%s/%s", f->dir, name);
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	struct stat st;
	if (fd < 0)
		return HX_OK; /* deleted meanwhile, or unreadable: looked at again next time */
	if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
		close(fd);
		return HX_OK;
	}
	for (size_t i = 0; i < f->nfiles; i++)
		if (f->files[i].dev == (uint64_t)st.st_dev && f->files[i].ino == (uint64_t)st.st_ino) {
			close(fd); /* renamed: the same file under a new name */
			f->files[i].seen = 1;
			return HX_OK;
		}
	uint8_t *h = malloc(HX_FILE_HEADER_BYTES);
	if (!h) {
		close(fd);
		return HX_ENOMEM;
	}
	ssize_t got = pread(fd, h, HX_FILE_HEADER_BYTES, 0);
	int rc = HX_OK, keep = 0;
	size_t proc = 0;
	/* A header whose CRC does not match yet is being written (the file sink writes it with one
	 * pwrite before any chunk): look again at the next poll. A file without the magic, or of
	 * another major version, is not ours and is remembered as such (slots 0, all DONE). */
	if (got == (ssize_t)HX_FILE_HEADER_BYTES && !memcmp(h, HX_FORMAT_MAGIC, 8)) {
		uint8_t crcbuf[HX_FH_CRC];
		memcpy(crcbuf, h, sizeof crcbuf);
		memset(crcbuf + HX_FH_FLAGS, 0, 4);
		memset(crcbuf + HX_FH_INDEX_OFFSET, 0, HX_FH_CRC - HX_FH_INDEX_OFFSET);
		uint32_t cb = hx__le32(h + HX_FH_CHUNK_BYTES);
		int sizes_ok = hx__le32(h + HX_FH_HEADER_BYTES) == HX_FILE_HEADER_BYTES &&
		               cb >= HX_CHUNK_MIN && cb <= HX_CHUNK_MAX && !(cb & (cb - 1));
		if (hx__le16(h + HX_FH_MAJOR) != HX_FORMAT_MAJOR || !sizes_ok) {
			keep = 1; /* not readable by this version: ignored */
		} else if (hx__crc32c(0, crcbuf, sizeof crcbuf) == hx__le32(h + HX_FH_CRC)) {
			if (f->has_only && memcmp(h + HX_FH_INSTANCE, f->only, 16)) {
				keep = 1; /* another process's file: remembered, never read */
			} else {
				rc = proc_for(f, h, &proc);
				keep = rc == HX_OK ? 2 : 0;
			}
		}
	} else if (got >= 8 && memcmp(h, HX_FORMAT_MAGIC, 8)) {
		keep = 1;
	}
	if (!keep) {
		free(h);
		close(fd);
		return rc;
	}
	struct ffile *nf = realloc(f->files, (f->nfiles + 1) * sizeof *nf);
	if (!nf) {
		free(h);
		close(fd);
		return HX_ENOMEM;
	}
	f->files = nf;
	struct ffile *fl = &nf[f->nfiles];
	memset(fl, 0, sizeof *fl);
	fl->name = strdup(name);
	if (!fl->name) {
		free(h);
		close(fd);
		return HX_ENOMEM;
	}
	fl->fd = keep == 2 ? fd : -1;
	if (keep != 2)
		close(fd);
	fl->dev = (uint64_t)st.st_dev;
	fl->ino = (uint64_t)st.st_ino;
	fl->seen = 1;
	if (keep == 2) {
		fl->proc = proc;
		fl->chunk_bytes = hx__le32(h + HX_FH_CHUNK_BYTES);
		struct fproc *p = &f->procs[proc];
		/* the anchor of every file is a clock sample; the first file's turns monotonic ns into
		 * ns since the epoch */
		if (hx__clock_add(&p->clock, hx__le64(h + HX_FH_ANCHOR_TICKS), hx__le64(h + HX_FH_ANCHOR_MONO))) {
			free(h);
			return HX_ENOMEM;
		}
		if (hx__le32(h + HX_FH_FILE_SEQ) == 0 || p->clock.real0 == 0) {
			p->clock.mono0 = hx__le64(h + HX_FH_ANCHOR_MONO);
			p->clock.real0 = hx__le64(h + HX_FH_ANCHOR_REAL);
		}
		p->clock_dirty = 1;
		f->st.files++;
	}
	f->nfiles++;
	free(h);
	return HX_OK;
}

static int name_known(hx__follow *f, const char *name)
{
	for (size_t i = 0; i < f->nfiles; i++)
		if (!strcmp(f->files[i].name, name)) {
			f->files[i].seen = 1;
			return 1;
		}
	return 0;
}

/* Add the chunk in slot `slot` of file fi to its stream (once). */
static int chunk_note(hx__follow *f, size_t fi, size_t slot, const uint8_t *hdr)
{
	struct ffile *fl = &f->files[fi];
	struct fproc *p = &f->procs[fl->proc];
	uint32_t sid = hx__le32(hdr + HX_CH_STREAM), seq = hx__le32(hdr + HX_CH_SEQ);
	if (sid == HX_STREAM_INDEX) {
		fl->slots[slot] = SLOT_DONE;
		return HX_OK;
	}
	struct fstream *s = stream_get(p, sid);
	if (!s)
		return HX_ENOMEM;
	if (seq < s->taken.seq) {
		fl->slots[slot] = SLOT_DONE; /* consumed in an earlier run */
		return HX_OK;
	}
	size_t i = s->nch;
	while (i > 0 && s->ch[i - 1].seq > seq)
		i--;
	if (i > 0 && s->ch[i - 1].seq == seq) {
		/* the same (stream, seq) twice: only damage or a copied file does that; keep one */
		fl->slots[slot] = SLOT_DONE;
		f->st.chunks_skipped++;
		return HX_OK;
	}
	if (grow((void **)&s->ch, &s->cap, s->nch + 1, sizeof *s->ch))
		return HX_ENOMEM;
	memmove(&s->ch[i + 1], &s->ch[i], (s->nch - i) * sizeof *s->ch);
	s->ch[i] = (struct pchunk){seq, fi, slot, hx__le64(hdr + HX_CH_BASE_TICKS), UINT32_MAX};
	s->nch++;
	fl->slots[slot] = SLOT_LIVE;
	return HX_OK;
}

/* Read the headers of the file's slots that may hold something new. */
static int file_scan(hx__follow *f, size_t fi)
{
	struct ffile *fl = &f->files[fi];
	struct stat st;
	if (fl->fd < 0 || fstat(fl->fd, &st))
		return HX_OK;
	size_t n = st.st_size > HX_FILE_HEADER_BYTES
	               ? (size_t)((uint64_t)(st.st_size - HX_FILE_HEADER_BYTES) / fl->chunk_bytes)
	               : 0;
	if (n > fl->nslots) {
		uint8_t *s = realloc(fl->slots, n);
		if (!s)
			return HX_ENOMEM;
		memset(s + fl->nslots, SLOT_EMPTY, n - fl->nslots);
		fl->slots = s;
		fl->nslots = n;
	}
	for (size_t i = 0; i < fl->nslots; i++) {
		if (fl->slots[i] != SLOT_EMPTY)
			continue;
		uint8_t hdr[HX_CHUNK_HEADER_BYTES];
		off_t off = (off_t)(HX_FILE_HEADER_BYTES + (uint64_t)i * fl->chunk_bytes);
		if (pread(fl->fd, hdr, sizeof hdr, off) != (ssize_t)sizeof hdr)
			continue;
		if (hx__le32(hdr) == 0)
			continue; /* not written yet (a writer stores the header before it commits) */
		if (hx__le32(hdr + HX_CH_MAGIC) != HX_CHUNK_MAGIC) {
			fl->slots[i] = SLOT_DONE;
			f->st.chunks_skipped++;
			continue;
		}
		int rc = chunk_note(f, fi, i, hdr);
		if (rc)
			return rc;
	}
	return HX_OK;
}

/* ---- reading chunks ---- */

/* Read the committed part of a chunk and check it. Returns 1 with f->buf holding header and
 * payload and *committed set, 0 when the bytes do not verify (yet), -1 for an I/O error or memory. */
static int chunk_read(hx__follow *f, const struct pchunk *c, uint32_t *committed)
{
	struct ffile *fl = &f->files[c->file];
	off_t off = (off_t)(HX_FILE_HEADER_BYTES + (uint64_t)c->slot * fl->chunk_bytes);
	if (f->cap < fl->chunk_bytes) {
		uint8_t *b = realloc(f->buf, fl->chunk_bytes);
		if (!b)
			return -1;
		f->buf = b;
		f->cap = fl->chunk_bytes;
	}
	uint8_t hdr[HX_CHUNK_HEADER_BYTES];
	if (pread(fl->fd, hdr, sizeof hdr, off) != (ssize_t)sizeof hdr)
		return 0;
	uint64_t commit = hx__le64(hdr + HX_CH_COMMIT);
	uint32_t n = (uint32_t)commit, crc = (uint32_t)(commit >> 32);
	if (n > fl->chunk_bytes - HX_CHUNK_HEADER_BYTES)
		return 0;
	/* The committed bytes never change once committed: reading them after the commit word gives
	 * exactly what its CRC covers, however much the writer commits meanwhile. */
	ssize_t got = pread(fl->fd, f->buf, HX_CHUNK_HEADER_BYTES + (size_t)n, off);
	if (got != (ssize_t)(HX_CHUNK_HEADER_BYTES + n))
		return 0;
	uint32_t calc = hx__crc32c(0, f->buf, HX_CH_CRC_PREFIX);
	calc = hx__crc32c(calc, f->buf + HX_CHUNK_HEADER_BYTES, n);
	if (calc != crc || memcmp(f->buf, hdr, HX_CH_COMMIT))
		return 0;
	*committed = n;
	return 1;
}

static void clock_refresh(struct fproc *p)
{
	if (p->clock_dirty) {
		hx__clock_build(&p->clock, p->ticks_per_sec);
		p->clock_dirty = 0;
		p->seg = 0;
	}
}

/* Stream 0: read the SYNC records committed since the last poll into the clock map. */
static int read_syncs(hx__follow *f, struct fproc *p, struct fstream *s)
{
	while (s->nch) {
		struct pchunk *c = &s->ch[0];
		int final = s->nch > 1;
		uint32_t n;
		int r = chunk_read(f, c, &n);
		if (r < 0)
			return HX_ENOMEM;
		if (r == 0 && final && (r = chunk_read(f, c, &n)) == 0) {
			f->st.chunks_skipped++; /* complete and damaged */
			n = 0;
		}
		if (r > 0 && n > s->sync_off) {
			const uint8_t *q = f->buf + HX_CHUNK_HEADER_BYTES + s->sync_off;
			const uint8_t *end = f->buf + HX_CHUNK_HEADER_BYTES + n;
			hx__decoder_reset(&f->dec, c->base_ticks);
			while (q < end) {
				hx_event ev;
				hx__sync sy;
				const char *why;
				int rc = hx__decode_record(&f->dec, &q, end, &ev, &sy, NULL, &why);
				if (rc == HX_ENOMEM)
					return HX_ENOMEM;
				if (rc < 0)
					break; /* a writer bug: the clock keeps what it has */
				if (rc == HX__REC_SYNC) {
					if (hx__clock_add(&p->clock, sy.ticks, sy.mono_ns))
						return HX_ENOMEM;
					p->clock_dirty = 1;
				}
			}
			s->sync_off = n;
		}
		if (!final)
			return HX_OK;
		f->files[c->file].slots[c->slot] = SLOT_DONE;
		memmove(&s->ch[0], &s->ch[1], (s->nch - 1) * sizeof *s->ch);
		s->nch--;
		s->sync_off = 0;
	}
	return HX_OK;
}

/* Hand the new events of one stream to fn. Returns HX_OK, 1 when fn refused (stop the poll),
 * or HX_ENOMEM. */
static int read_stream(hx__follow *f, size_t pi, struct fstream *s, hx__follow_fn fn, void *user,
                       size_t *budget, long *taken)
{
	struct fproc *p = &f->procs[pi];
	while (s->nch) {
		struct pchunk *c = &s->ch[0];
		if (c->seq < s->taken.seq) { /* consumed in an earlier run */
			f->files[c->file].slots[c->slot] = SLOT_DONE;
			memmove(&s->ch[0], &s->ch[1], (s->nch - 1) * sizeof *s->ch);
			s->nch--;
			continue;
		}
		if (c->seq > s->taken.seq) {
			/* Chunk taken.seq is not there but a later one is. A poll reads the slots one
			 * after the other, so chunk taken.seq's slot may have been read just before its
			 * writer stored the header, and the next one's just after (4 KiB chunks fill in
			 * microseconds): wait for one more poll, which reads every unused slot again,
			 * before calling it a gap. Then it is one: damaged, or in a file deleted by
			 * max_files (a header is written before any later one). */
			if (!s->gap_seen) {
				s->gap_seen = 1;
				return HX_OK;
			}
			f->st.gaps++;
			s->taken.seq = c->seq;
			s->taken.events = 0;
			s->marked = 1;
		}
		s->gap_seen = 0;
		int final = s->nch > 1;
		uint32_t n = 0;
		int r = chunk_read(f, c, &n);
		if (r < 0)
			return HX_ENOMEM;
		if (r == 0 && final)
			r = chunk_read(f, c, &n); /* complete now: a second failure is damage */
		if (r == 0 && !final)
			return HX_OK; /* a write in progress, or not verifiable yet: next poll */
		if (r > 0 && (n != c->committed_read || final)) {
			const uint8_t *q = f->buf + HX_CHUNK_HEADER_BYTES, *end = q + n;
			uint64_t idx = 0;
			hx__decoder_reset(&f->dec, c->base_ticks);
			clock_refresh(p);
			while (q < end) {
				hx_event ev;
				const char *why;
				int rc = hx__decode_record(&f->dec, &q, end, &ev, NULL, NULL, &why);
				if (rc == HX_ENOMEM)
					return HX_ENOMEM;
				if (rc < 0) {
					f->st.chunks_skipped++; /* verified bytes that do not decode */
					final = 1;
					break;
				}
				if (rc != HX__REC_EVENT && rc != HX__REC_SKIPPED_EVENT)
					continue;
				if (idx++ < s->taken.events)
					continue;
				if (rc == HX__REC_EVENT) {
					if (*budget == 0)
						return 1;
					uint64_t t = hx__clock_ns(&p->clock, ev.time_ns, &p->seg);
					ev.time_ns = ev.time_orig_ns = t;
					if (fn(&p->pub, &ev, user))
						return 1;
					(*budget)--;
					(*taken)++;
					f->st.events++;
				}
				s->taken.events++;
				s->marked = 1;
			}
			c->committed_read = n;
		} else if (r == 0) {
			f->st.chunks_skipped++;
		}
		if (!final)
			return HX_OK;
		f->files[c->file].slots[c->slot] = SLOT_DONE;
		memmove(&s->ch[0], &s->ch[1], (s->nch - 1) * sizeof *s->ch);
		s->nch--;
		s->taken.seq++;
		s->taken.events = 0;
		s->marked = 1;
	}
	return HX_OK;
}

long hx__follow_poll(hx__follow *f, hx__follow_fn fn, void *user, size_t max_events)
{
	DIR *d = opendir(f->dir);
	if (!d) {
		set_err(f, "%s: %s", f->dir, strerror(errno));
		return HX_EIO;
	}
	for (size_t i = 0; i < f->nfiles; i++)
		f->files[i].seen = 0;
	struct dirent *de;
	int rc = HX_OK;
	while (rc == HX_OK && (de = readdir(d)))
		if (is_trace_name(de->d_name) && !name_known(f, de->d_name))
			rc = file_add(f, de->d_name);
	closedir(d);
	if (rc != HX_OK)
		return rc;
	for (size_t i = 0; i < f->nfiles && rc == HX_OK; i++)
		rc = file_scan(f, i);
	if (rc != HX_OK)
		return rc;

	size_t budget = max_events ? max_events : SIZE_MAX;
	long taken = 0;
	for (size_t pi = 0; pi < f->nprocs; pi++) {
		struct fproc *p = &f->procs[pi];
		struct fstream *s0 = stream_get(p, HX_STREAM_PROCESS);
		if (!s0)
			return HX_ENOMEM;
		if ((rc = read_syncs(f, p, s0)) != HX_OK)
			return rc;
		for (size_t si = 0; si < p->nstreams; si++) {
			if (p->streams[si].id == HX_STREAM_PROCESS)
				continue;
			rc = read_stream(f, pi, &p->streams[si], fn, user, &budget, &taken);
			if (rc == 1)
				return taken;
			if (rc != HX_OK)
				return rc;
		}
	}
	/* Files gone from the directory (deleted by max_files, moved away) whose chunks were all
	 * consumed are forgotten; the others stay open, so what they hold is still read. */
	for (size_t i = 0; i < f->nfiles; i++) {
		struct ffile *fl = &f->files[i];
		if (fl->seen || fl->fd < 0)
			continue;
		int busy = 0;
		for (size_t k = 0; k < fl->nslots && !busy; k++)
			busy = fl->slots[k] == SLOT_LIVE;
		if (!busy) {
			close(fl->fd);
			fl->fd = -1;
		}
	}
	return taken;
}

uint64_t hx__follow_mark(hx__follow *f)
{
	uint64_t t = f->next_ticket++;
	for (size_t pi = 0; pi < f->nprocs; pi++) {
		struct fproc *p = &f->procs[pi];
		for (size_t si = 0; si < p->nstreams; si++) {
			struct fstream *s = &p->streams[si];
			if (!s->marked)
				continue;
			if (grow((void **)&f->marks, &f->cap_marks, f->nmarks + 1, sizeof *f->marks))
				return t - 1; /* out of memory: an older ticket (confirming less is safe) */
			f->marks[f->nmarks++] = (struct mark_rec){t, pi, s->id, s->taken};
			s->marked = 0;
		}
	}
	return t;
}

int hx__follow_confirm(hx__follow *f, uint64_t ticket)
{
	size_t k = 0;
	while (k < f->nmarks && f->marks[k].ticket <= ticket) {
		struct mark_rec *m = &f->marks[k++];
		struct fproc *p = &f->procs[m->proc];
		struct fstream *s = stream_get(p, (uint32_t)m->stream);
		if (!s)
			return HX_ENOMEM;
		s->confirmed = m->p;
		p->dirty = 1;
	}
	if (k) {
		memmove(f->marks, f->marks + k, (f->nmarks - k) * sizeof *f->marks);
		f->nmarks -= k;
	}
	int rc = HX_OK;
	for (size_t pi = 0; pi < f->nprocs; pi++)
		if (f->procs[pi].dirty && state_save(f, &f->procs[pi]) != HX_OK)
			rc = HX_EIO;
	return rc;
}

int hx__follow_settled(const hx__follow *f)
{
	if (f->nmarks)
		return 0;
	for (size_t pi = 0; pi < f->nprocs; pi++)
		for (size_t si = 0; si < f->procs[pi].nstreams; si++)
			if (f->procs[pi].streams[si].marked || f->procs[pi].streams[si].gap_seen)
				return 0; /* a suspected gap is decided by the next poll: not settled yet */
	return 1;
}

void hx__follow_stats_get(const hx__follow *f, hx__follow_stats *out)
{
	*out = f->st;
}

const char *hx__follow_error(const hx__follow *f)
{
	return f->err;
}
