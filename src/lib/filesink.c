/*
 * filesink.c - the file sink: trace files made of chunks that threads write through shared
 * mappings, so an event is in the page cache (and survives the death of the process) the moment
 * its commit word is stored.
 *
 * Files grow by *windows* of 16 to 256 chunk slots (bigger while threads write fast). A background thread reserves the disk
 * space (fallocate: a full disk is an error here, never a SIGBUS in a writer), maps the window
 * and touches its pages, one window ahead of the writers. A writer takes a slot with one atomic
 * fetch-add on the current window; it only ever maps a window itself (counted as SLOW_CHUNKS) if
 * the background thread has fallen behind. The background thread also writes clock SYNC records
 * into the process stream, syncs the files for the interval fsync policy, and rotates files at the
 * size cap. At shutdown each file gets an index chunk and the clean flag.
 *
 * Window structs are never freed while the tracer lives: a writer may still be reading
 * `cur`/`successor` of a window that the others have moved past. They are small (one per
 * window), and the background thread unmaps a window as soon as every slot was released.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/futex.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "format/crc32c_inline.h"
#include "lib/tracer.h"

#define WINDOW_MIN_CHUNKS 16u
#define WINDOW_MAX_CHUNKS 256u
#define WINDOW_FAST_NS 100000000u /* a window used up faster than this: make the next one twice as big */

struct hx__file {
	int fd;
	uint32_t seq;
	char *path;
	uint64_t size;          /* bytes allocated so far (header + windows); lock */
	uint8_t *header;        /* the mapped header page (counters are updated through it) */
	struct hx__file *next;
};

struct hx__window {
	uint8_t *base;
	struct hx__file *file;
	uint64_t file_off;
	uint32_t nchunks;
	_Atomic uint32_t next;      /* next slot to hand out */
	_Atomic uint32_t released;  /* slots given back; at nchunks the mapping goes */
	_Atomic(struct hx__window *) successor;
	_Atomic int dead;           /* every slot released: the background thread unmaps it */
	struct hx__window *all_next; /* every window, for cleanup; lock */
};

struct hx__filesink {
	_Atomic(struct hx__window *) cur;
	pthread_mutex_t lock;       /* files, windows list, window creation */
	struct hx__file *files;     /* newest first */
	struct hx__file *current;
	struct hx__window *windows;
	uint32_t next_file_seq;
	_Atomic int failed;         /* no more windows: writers drop (counted) */
	int closing;                /* lock */
	/* background thread */
	pthread_t thread;
	int thread_started;
	_Atomic int stop;
	_Atomic uint32_t doorbell;  /* futex word: writers ring it when a window starts to be used */
	_Atomic int sleeping;       /* the background thread waits on the doorbell: wake it */
	_Atomic uint32_t dead_pending; /* windows waiting to be unmapped */
	_Atomic uint32_t running;   /* futex word: set once the background thread reached its loop */
	uint32_t window_chunks;     /* size of the next window; lock */
	uint64_t last_window_ns;    /* when the last window was made; lock */
	struct hx__thread *proc;    /* the process stream's writer (SYNC records) */
	uint64_t start_ms;
};

static int futex_wait(_Atomic uint32_t *addr, uint32_t val, uint64_t timeout_ns)
{
	struct timespec ts = {(time_t)(timeout_ns / 1000000000u), (long)(timeout_ns % 1000000000u)};
	return (int)syscall(SYS_futex, (uint32_t *)addr, FUTEX_WAIT_PRIVATE, val, &ts, NULL, 0);
}

static void futex_wake(_Atomic uint32_t *addr)
{
	syscall(SYS_futex, (uint32_t *)addr, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
}

/* Report a sink failure once per tracer, then count drops. */
static void fail(struct hx__tracer *tr, const char *what, const char *path, int err)
{
	struct hx__filesink *fs = tr->fs;
	if (atomic_exchange(&fs->failed, 1))
		return;
	if (!tr->cfg.quiet)
		fprintf(stderr,
		        "haruspex: %s %s: %s; events from now on are counted as dropped, the program goes on\n",
		        what, path ? path : "", strerror(err));
}

static int mkdir_p(const char *dir)
{
	char buf[PATH_MAX];
	size_t n = strlen(dir);
	if (n == 0 || n >= sizeof buf)
		return ENAMETOOLONG;
	memcpy(buf, dir, n + 1);
	for (size_t i = 1; i <= n; i++) {
		if (buf[i] == '/' || buf[i] == 0) {
			char c = buf[i];
			buf[i] = 0;
			if (mkdir(buf, 0755) != 0 && errno != EEXIST)
				return errno;
			buf[i] = c;
		}
	}
	struct stat st;
	if (stat(dir, &st) != 0)
		return errno;
	return S_ISDIR(st.st_mode) ? 0 : ENOTDIR;
}

/* Resource pairs in the header: (varint key len, key, varint value len, value)..., 0. */
static uint8_t *put_pair(uint8_t *p, uint8_t *end, const char *k, const char *v)
{
	size_t kl = strlen(k), vl = strlen(v);
	if (vl > 200)
		vl = 200;
	if (p + 2 * HX_VARINT_MAX + kl + vl + 1 > end)
		return p;
	p = hx__put_varint(p, kl);
	memcpy(p, k, kl);
	p += kl;
	p = hx__put_varint(p, vl);
	memcpy(p, v, vl);
	return p + vl;
}

static void build_header(struct hx__tracer *tr, uint8_t *h, uint32_t file_seq)
{
	memset(h, 0, HX_FILE_HEADER_BYTES);
	memcpy(h + HX_FH_MAGIC, HX_FORMAT_MAGIC, 8);
	hx__put_le16(h + HX_FH_MAJOR, HX_FORMAT_MAJOR);
	hx__put_le16(h + HX_FH_MINOR, HX_FORMAT_MINOR);
	hx__put_le32(h + HX_FH_HEADER_BYTES, HX_FILE_HEADER_BYTES);
	hx__put_le32(h + HX_FH_CHUNK_BYTES, tr->cfg.chunk_bytes);
	memcpy(h + HX_FH_INSTANCE, tr->instance, 16);
	hx__put_le64(h + HX_FH_PID, (uint64_t)tr->pid);
	hx__put_le32(h + HX_FH_FILE_SEQ, file_seq);
	hx__put_le32(h + HX_FH_CLOCK_KIND, tr->use_tsc ? HX_CLOCK_TSC : HX_CLOCK_MONO);
	hx__put_le64(h + HX_FH_ANCHOR_TICKS, tr->anchor_ticks);
	hx__put_le64(h + HX_FH_ANCHOR_MONO, tr->anchor_mono);
	hx__put_le64(h + HX_FH_ANCHOR_REAL, tr->anchor_real);
	hx__put_le64(h + HX_FH_TICKS_PER_SEC, tr->ticks_per_sec);
	hx__put_le32(h + HX_FH_CRC, hx__crc32c(0, h, HX_FH_CRC));
	char pid[32];
	snprintf(pid, sizeof pid, "%ld", (long)tr->pid);
	uint8_t *p = h + HX_FH_RESOURCE, *end = h + HX_FH_RESOURCE_END - 1;
	p = put_pair(p, end, "host", tr->host);
	p = put_pair(p, end, "program", tr->program);
	p = put_pair(p, end, "service", tr->service);
	p = put_pair(p, end, "pid", pid);
	p = put_pair(p, end, "hx.version", hx_version());
	*p = 0;
}

/* Delete this process's oldest files beyond max_files, counting from the file writers are in now:
 * a file prepared ahead of a rotation does not count until writers move into it, so the limit
 * never deletes the file that is being written. Caller holds fs->lock. */
static void enforce_max_files(struct hx__tracer *tr)
{
	struct hx__filesink *fs = tr->fs;
	struct hx__window *w = atomic_load(&fs->cur);
	struct hx__file *in_use = w ? w->file : NULL;
	uint32_t keep = tr->cfg.max_files, n = 0;
	if (!keep || !in_use)
		return;
	int counting = 0;
	for (struct hx__file *f = fs->files; f; f = f->next) {
		counting |= f == in_use;
		if (counting && ++n > keep && f->path && f->path[0]) {
			if (unlink(f->path) == 0)
				hx__count(HX_COUNT_FILES_DELETED);
			f->path[0] = 0; /* gone; shutdown writes no index into it */
		}
	}
}

/* Create the next file of this process. Caller holds fs->lock. */
static struct hx__file *file_create(struct hx__tracer *tr)
{
	struct hx__filesink *fs = tr->fs;
	struct hx__file *f = calloc(1, sizeof *f);
	if (!f)
		return NULL;
	f->fd = -1;
	f->seq = fs->next_file_seq;
	char path[PATH_MAX];
	for (int attempt = 0;; attempt++) {
		int n = snprintf(path, sizeof path, "%s/%s-%ld-%llu-%u.hx", tr->dir, tr->program, (long)tr->pid,
		                 (unsigned long long)fs->start_ms, f->seq);
		if (n < 0 || (size_t)n >= sizeof path) {
			fail(tr, "trace file name too long in", tr->dir, ENAMETOOLONG);
			free(f);
			return NULL;
		}
		/* A restart within the same millisecond (or a reused pid) must not fail on O_EXCL:
		 * move the name's start time on until it is free. */
		if (access(path, F_OK) != 0 || attempt == 1000)
			break;
		fs->start_ms++;
	}
	f->path = strdup(path);
	uint8_t *h = calloc(1, HX_FILE_HEADER_BYTES);
	if (!f->path || !h) {
		free(h);
		free(f->path);
		free(f);
		return NULL;
	}
	build_header(tr, h, f->seq);
	f->fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	int err = errno;
	if (f->fd < 0 || pwrite(f->fd, h, HX_FILE_HEADER_BYTES, 0) != HX_FILE_HEADER_BYTES) {
		if (f->fd >= 0)
			err = errno ? errno : EIO, close(f->fd), unlink(path);
		fail(tr, "cannot create trace file", path, err);
		free(h);
		free(f->path);
		free(f);
		return NULL;
	}
	free(h);
	f->header = mmap(NULL, HX_FILE_HEADER_BYTES, PROT_READ | PROT_WRITE, MAP_SHARED, f->fd, 0);
	if (f->header == MAP_FAILED) {
		err = errno;
		close(f->fd);
		unlink(path);
		fail(tr, "cannot map trace file", path, err);
		free(f->path);
		free(f);
		return NULL;
	}
	f->size = HX_FILE_HEADER_BYTES;
	fs->next_file_seq++;
	f->next = fs->files;
	fs->files = f;
	fs->current = f;
	hx__counters_attach((uint64_t *)(f->header + HX_FH_COUNTERS));
	return f;
}

/* Map the next window (rotating to a new file at the size cap). Caller holds fs->lock. */
static struct hx__window *window_create(struct hx__tracer *tr)
{
	struct hx__filesink *fs = tr->fs;
	if (fs->closing || atomic_load(&fs->failed))
		return NULL;
	/* Size: doubled while windows last less than WINDOW_FAST_NS (fewer, larger reservations
	 * for a fast writer), back to the minimum for a slow one (little disk held ahead). */
	uint64_t now = hx__mono_ns();
	uint32_t nch = fs->window_chunks ? fs->window_chunks : WINDOW_MIN_CHUNKS;
	if (fs->last_window_ns && now - fs->last_window_ns < WINDOW_FAST_NS && nch < WINDOW_MAX_CHUNKS)
		nch *= 2;
	else if (fs->last_window_ns && now - fs->last_window_ns >= WINDOW_FAST_NS)
		nch = WINDOW_MIN_CHUNKS;
	size_t cb = tr->cfg.chunk_bytes;
	uint64_t room = (tr->cfg.max_file_bytes - HX_FILE_HEADER_BYTES) / cb; /* >= 16: config.c */
	if (nch > room)
		nch = (uint32_t)room;
	size_t bytes = (size_t)nch * cb;
	struct hx__file *f = fs->current;
	if (!f || f->size + bytes > tr->cfg.max_file_bytes) {
		f = file_create(tr);
		if (!f)
			return NULL;
	}
	int err = posix_fallocate(f->fd, (off_t)f->size, (off_t)bytes);
	if (err == EOPNOTSUPP || err == EINVAL) {
		/* Filesystems without fallocate: extend the file; a full disk may then show later. */
		err = ftruncate(f->fd, (off_t)(f->size + bytes)) == 0 ? 0 : errno;
	}
	if (err) {
		fail(tr, err == ENOSPC ? "disk full writing" : "cannot extend", f->path, err);
		return NULL;
	}
	uint8_t *base = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, f->fd, (off_t)f->size);
	if (base == MAP_FAILED) {
		fail(tr, "cannot map", f->path, errno);
		return NULL;
	}
	struct hx__window *w = calloc(1, sizeof *w);
	if (!w) {
		munmap(base, bytes);
		fail(tr, "out of memory for", f->path, ENOMEM);
		return NULL;
	}
	/* Touch every page now so that writers do not take the page faults. */
	long page = sysconf(_SC_PAGESIZE);
	for (size_t off = 0; off < bytes; off += (size_t)page)
		((volatile uint8_t *)base)[off] = 0;
	w->base = base;
	w->file = f;
	w->file_off = f->size;
	w->nchunks = nch;
	fs->window_chunks = nch;
	fs->last_window_ns = now;
	f->size += bytes;
	w->all_next = fs->windows;
	fs->windows = w;
	return w;
}

/* Make sure the current window has a successor ready. */
static void prepare_ahead(struct hx__tracer *tr)
{
	struct hx__filesink *fs = tr->fs;
	struct hx__window *w = atomic_load(&fs->cur);
	if (!w)
		return;
	if (atomic_load(&w->successor)) {
		if (tr->cfg.max_files) {
			pthread_mutex_lock(&fs->lock);
			enforce_max_files(tr);
			pthread_mutex_unlock(&fs->lock);
		}
		return;
	}
	pthread_mutex_lock(&fs->lock);
	enforce_max_files(tr); /* writers may have moved into a new file since the last look */
	if (!atomic_load(&w->successor)) {
		struct hx__window *s = window_create(tr);
		if (s)
			atomic_store(&w->successor, s);
	}
	pthread_mutex_unlock(&fs->lock);
}

/* Ask the background thread to look at its work. The system call only when it sleeps: a wake-up
 * it does not need would only preempt the writer on its core. */
static void ring(struct hx__filesink *fs)
{
	atomic_store(&fs->doorbell, 1);
	if (atomic_load(&fs->sleeping))
		futex_wake(&fs->doorbell);
}

uint8_t *hx__filesink_slot(struct hx__tracer *tr, void **window)
{
	struct hx__filesink *fs = tr->fs;
	if (!fs)
		return NULL;
	for (;;) {
		struct hx__window *w = atomic_load(&fs->cur);
		if (!w)
			return NULL;
		uint32_t i = atomic_fetch_add(&w->next, 1);
		if (i < w->nchunks) {
			if (i == 0) /* this window just became current: its successor is wanted */
				ring(fs);
			*window = w;
			return w->base + (size_t)i * tr->cfg.chunk_bytes;
		}
		struct hx__window *s = atomic_load(&w->successor);
		if (!s) {
			/* The background thread is behind: map the window here (rare, counted). */
			if (atomic_load(&fs->failed))
				return NULL;
			pthread_mutex_lock(&fs->lock);
			s = atomic_load(&w->successor);
			if (!s) {
				s = window_create(tr);
				if (s) {
					atomic_store(&w->successor, s);
					hx__count(HX_COUNT_SLOW_CHUNKS);
				}
			}
			pthread_mutex_unlock(&fs->lock);
			if (!s)
				return NULL;
		}
		atomic_compare_exchange_strong(&fs->cur, &w, s);
	}
}

void hx__filesink_release(struct hx__tracer *tr, void *window)
{
	struct hx__window *w = window;
	if (!w)
		return;
	if (atomic_fetch_add(&w->released, 1) + 1 != w->nchunks)
		return;
	struct hx__filesink *fs = tr->fs;
	if (atomic_load(&fs->stop)) {
		munmap(w->base, (size_t)w->nchunks * tr->cfg.chunk_bytes); /* no background thread now */
		return;
	}
	atomic_store(&w->dead, 1);
	atomic_fetch_add(&fs->dead_pending, 1);
	ring(fs);
}

void hx__filesink_msync(uint8_t *chunk, uint32_t chunk_bytes)
{
	msync(chunk, chunk_bytes, MS_SYNC);
}

/* ---- the background thread ---- */
/* A clock sample for readers. Readers interpolate between samples, so one taken badly (this thread
 * preempted between its tick and monotonic reads) would bend every event time around it, by as
 * much as the preemption lasted: the best of a few tries is kept, and a sample still bracketed
 * wider than 20 us is not written at all (the next one, a moment later, will do). */
static int write_sync(struct hx__tracer *tr)
{
	struct hx__filesink *fs = tr->fs;
	uint64_t ticks, mono;
	uint64_t bracket = hx__clock_sample(tr->use_tsc, &ticks, &mono);
	if (bracket > tr->ticks_per_sec / 50000)
		return -1;
	hx__emit_sync(fs->proc, ticks, mono, hx__real_ns());
	return 0;
}

static void sync_files(struct hx__filesink *fs)
{
	pthread_mutex_lock(&fs->lock);
	for (struct hx__file *f = fs->files; f; f = f->next)
		if (f->fd >= 0)
			fdatasync(f->fd);
	pthread_mutex_unlock(&fs->lock);
}

/* Unmap windows whose slots were all released (on this thread, not on a writer's). */
static void unmap_dead(struct hx__tracer *tr)
{
	struct hx__filesink *fs = tr->fs;
	if (!atomic_load(&fs->dead_pending))
		return;
	pthread_mutex_lock(&fs->lock);
	for (struct hx__window *w = fs->windows; w; w = w->all_next) {
		if (w->base && atomic_load(&w->dead)) {
			munmap(w->base, (size_t)w->nchunks * tr->cfg.chunk_bytes);
			w->base = NULL;
			atomic_fetch_sub(&fs->dead_pending, 1);
		}
	}
	pthread_mutex_unlock(&fs->lock);
}

static void *background(void *arg)
{
	struct hx__tracer *tr = arg;
	struct hx__filesink *fs = tr->fs;
	/* Clock samples at 10 ms, 100 ms, then every second: early ones pin the rate quickly for
	 * short programs, later ones follow drift. */
	uint64_t start = hx__mono_ns(), next_sync = start + 10000000, next_fsync = UINT64_MAX;
	uint64_t step = 90000000;
	/* Tell hx__filesink_open() we are past thread start-up (see there). */
	atomic_store(&fs->running, 1);
	futex_wake(&fs->running);
	if (tr->cfg.fsync == HX_FSYNC_INTERVAL)
		next_fsync = start + (uint64_t)tr->cfg.fsync_interval_ms * 1000000u;
	while (!atomic_load(&fs->stop)) {
		hx__bg_enter(); /* a fork() waits for this step: see hx__bg_enter() */
		prepare_ahead(tr);
		unmap_dead(tr);
		uint64_t now = hx__mono_ns();
		if (now >= next_sync) {
			if (write_sync(tr) == 0) {
				next_sync = now + step;
				step = 1000000000;
			} else {
				next_sync = now + 1000000; /* a noisy moment: try again in 1 ms */
			}
		}
		hx__bg_leave();
		if (now >= next_fsync) {
			sync_files(fs);
			next_fsync = now + (uint64_t)tr->cfg.fsync_interval_ms * 1000000u;
		}
		uint64_t wake = next_sync < next_fsync ? next_sync : next_fsync;
		now = hx__mono_ns();
		atomic_store(&fs->sleeping, 1);
		if (wake > now && !atomic_exchange(&fs->doorbell, 0))
			futex_wait(&fs->doorbell, 0, wake - now);
		atomic_store(&fs->sleeping, 0);
		atomic_store(&fs->doorbell, 0);
	}
	hx__bg_enter();
	write_sync(tr);
	hx__bg_leave();
	return NULL;
}

int hx__filesink_open(struct hx__tracer *tr)
{
	struct hx__filesink *fs = calloc(1, sizeof *fs);
	if (!fs)
		return HX_ENOMEM;
	pthread_mutex_init(&fs->lock, NULL);
	fs->start_ms = tr->anchor_real / 1000000u;
	tr->fs = fs;
	int err = mkdir_p(tr->dir);
	if (err) {
		fail(tr, "cannot create trace directory", tr->dir, err);
		return HX_ESINK; /* haruspex.h: an unwritable directory is HX_ESINK, whatever the errno */
	}
	pthread_mutex_lock(&fs->lock);
	struct hx__window *w = window_create(tr);
	if (w) {
		atomic_store(&fs->cur, w);
		struct hx__window *s = window_create(tr);
		if (s)
			atomic_store(&w->successor, s);
	}
	pthread_mutex_unlock(&fs->lock);
	if (!w)
		return atomic_load(&fs->failed) ? HX_ESINK : HX_ENOMEM;

	/* The process stream: stream 0, written only by the background thread. */
	fs->proc = calloc(1, sizeof *fs->proc);
	if (!fs->proc)
		return HX_ENOMEM;
	fs->proc->tracer = tr;
	fs->proc->gen = tr->gen;
	fs->proc->use_tsc = tr->use_tsc;
	fs->proc->mode = HX__MODE_FILE;
	fs->proc->chunk_bytes = tr->cfg.chunk_bytes;
	fs->proc->stream_id = HX_STREAM_PROCESS;
	write_sync(tr);
	/* The thread blocks every signal (it inherits the mask): the program's handlers must run on the
	 * program's threads, never on ours (a handler that records would give it a thread state). */
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	if (pthread_create(&fs->thread, NULL, background, tr) == 0)
		fs->thread_started = 1;
	else
		atomic_store(&fs->stop, 1); /* no background thread: writers unmap windows themselves */
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	/* Wait (briefly) until the thread runs: a thread still starting up holds locks of the C
	 * library and of some allocators (thread registries, AddressSanitizer's), and a program that
	 * fork()s right after hx_init() would leave them locked in its child, which then hangs. Once
	 * in its loop the thread is fork-safe (hx__bg_enter). */
	for (int i = 0; fs->thread_started && i < 100 && !atomic_load(&fs->running); i++)
		futex_wait(&fs->running, 0, 10000000);
	/* Without the thread writers map windows themselves (counted): slower, nothing lost. */
	return HX_OK;
}

/* ---- shutdown: index and clean flag ---- */

/* Write the index chunk of file f after its last window: one INDEX record per chunk slot in use.
 * Readers may use it to find chunks without scanning; the chunks' own commit words stay the
 * authority (a thread that raced the shutdown may have committed more since). */
static void write_index(struct hx__tracer *tr, struct hx__file *f)
{
	uint32_t cb = tr->cfg.chunk_bytes;
	uint64_t slots = (f->size - HX_FILE_HEADER_BYTES) / cb;
	uint8_t *chunk = calloc(1, cb);
	if (!chunk)
		return;
	uint64_t index_off = f->size;
	uint32_t index_chunks = 0, seq = 0;
	uint8_t *p = NULL, *end = chunk + cb;
	uint32_t crc = 0;
	for (uint64_t s = 0; s <= slots; s++) {
		uint8_t hdr[HX_CHUNK_HEADER_BYTES];
		int have = 0;
		if (s < slots) {
			off_t off = (off_t)(HX_FILE_HEADER_BYTES + s * cb);
			have = pread(f->fd, hdr, sizeof hdr, off) == (ssize_t)sizeof hdr &&
			       hx__le32(hdr + HX_CH_MAGIC) == HX_CHUNK_MAGIC;
		}
		/* flush a full (or the last) index chunk */
		if (p && (s == slots || p + 64 > end)) {
			uint64_t len = (uint64_t)(p - chunk - HX_CHUNK_HEADER_BYTES);
			crc = hx__crc32c(crc, chunk + HX_CHUNK_HEADER_BYTES, len);
			hx__put_le64(chunk + HX_CH_COMMIT, ((uint64_t)crc << 32) | len);
			if (pwrite(f->fd, chunk, cb, (off_t)(index_off + (uint64_t)index_chunks * cb)) != (ssize_t)cb)
				break;
			index_chunks++;
			p = NULL;
		}
		if (s == slots)
			break;
		if (!have)
			continue;
		if (!p) {
			memset(chunk, 0, cb);
			crc = hx__chunk_header_write(chunk, HX_STREAM_INDEX, seq++, 0);
			p = chunk + HX_CHUNK_HEADER_BYTES;
		}
		uint64_t commit = hx__le64(hdr + HX_CH_COMMIT);
		*p++ = HX_REC_INDEX;
		p = hx__put_varint(p, s);
		hx__put_le32(p, hx__le32(hdr + HX_CH_STREAM));
		p += 4;
		p = hx__put_varint(p, hx__le32(hdr + HX_CH_SEQ));
		p = hx__put_varint(p, (uint32_t)commit);
		p = hx__put_varint(p, hx__le64(hdr + HX_CH_BASE_TICKS));
	}
	free(chunk);
	if (index_chunks) {
		hx__put_le64(f->header + HX_FH_INDEX_OFFSET, index_off);
		hx__put_le32(f->header + HX_FH_INDEX_CHUNKS, index_chunks);
	}
	hx__put_le32(f->header + HX_FH_FLAGS, hx__le32(f->header + HX_FH_FLAGS) | HX_FLAG_CLEAN);
}

/* Give the disk space of slots never handed out back to the filesystem. A hole, not a truncation:
 * a writer that raced the shutdown and still takes a slot writes into the hole, which the kernel
 * fills again; a truncated mapping would kill it with SIGBUS. Readers skip all-zero slots. */
static void release_unused(struct hx__tracer *tr)
{
	struct hx__filesink *fs = tr->fs;
	size_t cb = tr->cfg.chunk_bytes;
	for (struct hx__window *w = fs->windows; w; w = w->all_next) {
		uint32_t used = atomic_load(&w->next);
		if (used >= w->nchunks || w->file->fd < 0)
			continue;
		fallocate(w->file->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
		          (off_t)(w->file_off + used * cb), (off_t)((w->nchunks - used) * cb));
	}
}

/* A file prepared ahead of a rotation that no writer reached holds nothing: remove it, so a
 * run leaves only files with data. Caller holds fs->lock. */
static void remove_unused_files(struct hx__tracer *tr)
{
	struct hx__filesink *fs = tr->fs;
	for (struct hx__file *f = fs->files; f; f = f->next) {
		int used = 0;
		for (struct hx__window *w = fs->windows; w && !used; w = w->all_next)
			used = w->file == f && atomic_load(&w->next) > 0;
		if (!used && f->path && f->path[0] && unlink(f->path) == 0)
			f->path[0] = 0;
	}
}

void hx__filesink_close(struct hx__tracer *tr)
{
	struct hx__filesink *fs = tr->fs;
	if (!fs)
		return;
	if (fs->thread_started) {
		atomic_store(&fs->stop, 1);
		atomic_store(&fs->doorbell, 1);
		futex_wake(&fs->doorbell);
		pthread_join(fs->thread, NULL);
		fs->thread_started = 0;
	}
	atomic_store(&fs->stop, 1); /* from now on writers unmap their last windows themselves */
	unmap_dead(tr);
	pthread_mutex_lock(&fs->lock);
	fs->closing = 1;
	remove_unused_files(tr);
	enforce_max_files(tr);
	hx__counters_attach(NULL);
	release_unused(tr);
	for (struct hx__file *f = fs->files; f; f = f->next) {
		if (f->fd < 0)
			continue;
		if (f->path && f->path[0])
			write_index(tr, f);
		if (tr->cfg.fsync != HX_FSYNC_NONE) {
			msync(f->header, HX_FILE_HEADER_BYTES, MS_SYNC);
			fdatasync(f->fd);
		}
		/* The header stays mapped (a racing writer may still count a misuse into it, and
		 * chunk mappings of running threads stay valid after close). */
		close(f->fd);
		f->fd = -1;
	}
	pthread_mutex_unlock(&fs->lock);
}

void hx__filesink_remove(struct hx__tracer *tr)
{
	struct hx__filesink *fs = tr->fs;
	pthread_mutex_lock(&fs->lock);
	for (struct hx__file *f = fs->files; f; f = f->next)
		if (f->path && f->path[0] && unlink(f->path) == 0)
			f->path[0] = 0;
	pthread_mutex_unlock(&fs->lock);
}
