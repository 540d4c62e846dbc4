/*
 * reader_int.h - the reader's internals, shared by reader.c (the API, iteration and the time
 * merge), reader_scan.c (files, headers, slots, streams, damage) and clockmap.c (ticks to ns).
 * Nothing outside src/format includes this except the fuzz target, through hx__reader_open_mem.
 *
 * How a read goes:
 *   open  - every file's header is checked and every slot's 32-byte chunk header read; chunks are
 *           grouped into streams by (process instance, stream ID) and sorted by chunk sequence;
 *           gaps and duplicates are reported. Each process's stream 0 (SYNC records) and index
 *           chunks are then read whole, which builds the process's clock map.
 *   next  - a cursor per stream reads one slot at a time with pread, checks its CRC and torn tail
 *           the first time the chunk is read, and decodes records until an event. In time order
 *           every stream has a cursor and a binary heap picks the earliest event.
 *
 *   align - optional (reader_align.c): before the first next, every stream is read once with
 *           cursors of its own to collect cross-host cause/effect pairs; the solver (align.c)
 *           gives each host an offset that cursor_event() then adds to every time. The real
 *           cursors have not moved, so nothing needs rewinding, and records, chunk checks and
 *           damage are counted once (reads before `started` do not count records).
 *
 * Thread safety: a reader and everything below it belongs to one thread (reader.h).
 */
#ifndef HX_READER_INT_H
#define HX_READER_INT_H

#include <haruspex/reader.h>

#include "format/decode.h"
#include "format/format.h"

#include <stddef.h>
#include <stdint.h>

/* Open a trace held in memory (one file's bytes) through the same code path as a file: for the
 * fuzz target and tests. `data` must stay valid until hx_reader_close(); it is not copied. */
int hx__reader_open_mem(hx_reader **out, const void *data, size_t len, hx_read_order order);

/* ---- clock map: ticks -> ns since the epoch, per process (clockmap.c) ---- */
__extension__ typedef unsigned __int128 hx__u128;

/* A slope in ns per tick as 64.64 fixed point: exact to the ns for any tick distance. */
typedef struct hx__slope {
	uint64_t whole, frac;
} hx__slope;

/* One sample of the clock and the slope of the segment that starts at it. */
typedef struct hx__clock_pt {
	uint64_t ticks, mono;
	hx__slope slope;
} hx__clock_pt;

/* Sorted points (the header anchors and every SYNC) joined by straight segments; the last point's
 * slope, from ticks_per_sec, extrapolates past it, and the same slope extrapolates before the first
 * point. Built once at open and read-only afterwards. */
typedef struct hx__clock {
	hx__clock_pt *pt;
	size_t n, cap;
	hx__slope edge;          /* slope before the first and after the last point */
	uint64_t mono0, real0;   /* the anchor that turns monotonic ns into ns since the epoch */
} hx__clock;

int hx__clock_add(hx__clock *k, uint64_t ticks, uint64_t mono);       /* HX_OK or HX_ENOMEM */
/* Sort, make non-decreasing and compute slopes. ticks_per_sec outside [1e6, 1e11] means 1e9. */
int hx__clock_build(hx__clock *k, uint64_t ticks_per_sec);
void hx__clock_free(hx__clock *k);
size_t hx__clock_find(const hx__clock *k, uint64_t ticks); /* segment holding ticks (>= pt[0]) */
uint64_t hx__clock_sane_rate(uint64_t ticks_per_sec);
uint64_t hx__clock_before(const hx__clock *k, uint64_t ticks); /* ticks < pt[0].ticks */

/* round(dt * slope), at most 2^128 - 1 */
static inline hx__u128 hx__slope_apply(hx__slope s, uint64_t dt)
{
	return (hx__u128)dt * s.whole + ((((hx__u128)dt * s.frac) + ((hx__u128)1 << 63)) >> 64);
}

static inline uint64_t hx__clock_real(const hx__clock *k, uint64_t mono)
{
	if (mono >= k->mono0) {
		uint64_t d = mono - k->mono0;
		return d > UINT64_MAX - k->real0 ? UINT64_MAX : k->real0 + d;
	}
	uint64_t d = k->mono0 - mono;
	return d > k->real0 ? 0 : k->real0 - d;
}

/* Convert ticks to ns since the epoch. *seg caches the segment of the previous call, since a
 * stream's events come in time order and mostly fall in the same segment. */
static inline uint64_t hx__clock_ns(const hx__clock *k, uint64_t ticks, size_t *seg)
{
	if (k->n == 0)
		return ticks;
	size_t i = *seg;
	if (!(i < k->n && k->pt[i].ticks <= ticks && (i + 1 == k->n || ticks < k->pt[i + 1].ticks))) {
		if (ticks < k->pt[0].ticks)
			return hx__clock_before(k, ticks);
		i = hx__clock_find(k, ticks);
		*seg = i;
	}
	const hx__clock_pt *p = &k->pt[i];
	hx__u128 off = hx__slope_apply(p->slope, ticks - p->ticks);
	uint64_t mono = off > (hx__u128)(UINT64_MAX - p->mono) ? UINT64_MAX : p->mono + (uint64_t)off;
	/* Rounding must not carry a time past the next point. */
	if (i + 1 < k->n && mono > p[1].mono)
		mono = p[1].mono;
	return hx__clock_real(k, mono);
}

/* ---- the reader ---- */

/* Where a file's bytes come from: a descriptor read with pread (a file that shrinks underneath
 * yields short reads, never SIGBUS), or memory for the fuzzer. */
typedef struct hx__src {
	int fd;                 /* -1 for memory */
	const uint8_t *mem;
	uint64_t size;          /* at open */
} hx__src;

typedef struct hx__rfile {
	char *path;
	hx__src src;
	size_t proc;            /* index into hx_reader.procs */
	uint32_t chunk_bytes;
	uint32_t file_seq;
	uint32_t flags;
	uint32_t clock_kind;
	uint64_t anchor_ticks, anchor_mono, anchor_real, ticks_per_sec;
	const char *host, *program, *service; /* from the resource list; "" when absent */
	uint64_t dev, ino;      /* identity, so a file named twice is read once (0, 0: memory) */
	uint64_t counters[HX_FILE_COUNTERS];
} hx__rfile;

enum { CHUNK_UNCHECKED, CHUNK_OK, CHUNK_BAD };

typedef struct hx__rchunk {
	uint64_t offset;        /* of the slot in its file */
	uint64_t base_ticks;
	size_t file;
	size_t proc;
	uint32_t stream;
	uint32_t seq;
	uint32_t committed;     /* payload bytes, <= chunk_bytes - 32 once CHUNK_UNCHECKED */
	uint32_t crc;
	uint8_t state;          /* CHUNK_*: set at open or at the first read of the chunk */
	uint8_t record_reported; /* its HX_DMG_RECORD is reported (stream 0 is read twice) */
} hx__rchunk;

typedef struct hx__rstream {
	size_t proc;
	uint32_t id;
	size_t first, count;    /* range of hx_reader.chunks, sorted by chunk seq */
} hx__rstream;

typedef struct hx__rproc {
	hx_process_info info;
	hx__clock clock;
	uint32_t min_file_seq, max_file_seq;
	size_t first_file;       /* file with the lowest file seq: the time anchor */
	size_t last_file;        /* file with the highest file seq: counters, clean flag */
	size_t host;             /* index into hx_reader.hosts: its clock domain */
	int64_t offset_ns;       /* the host's clock offset, added to every time (0 unaligned) */
} hx__rproc;

/* Reads one stream: the chunk being decoded and the decoder's chunk-local state. */
typedef struct hx__cursor {
	size_t stream;
	size_t next;             /* next chunk index in hx_reader.chunks */
	hx__rchunk *ch;          /* chunk being decoded, NULL between chunks */
	hx__decoder dec;
	int dec_ready;
	uint8_t *buf;            /* the slot's bytes */
	size_t cap;
	const uint8_t *p, *end;  /* records left in the current chunk */
	size_t seg;              /* cached clock segment */
	hx_event ev;             /* time order: the event waiting in the heap */
} hx__cursor;

typedef struct hx__pool_blk hx__pool_blk;

struct hx_reader {
	hx_read_order order;
	hx__rfile *files;
	size_t nfiles, cap_files;
	hx__rproc *procs;
	size_t nprocs, cap_procs;
	hx__rchunk *chunks;
	size_t nchunks, cap_chunks;
	hx__rstream *streams;
	size_t nstreams;
	hx_damage *damage;
	size_t ndamage, cap_damage;
	hx__pool_blk *pool;      /* strings the reader owns (reasons, paths, resources) */
	hx_reader_info info;
	size_t traces;           /* files with the trace magic and a known major version */
	int open_error;          /* first error opening a directory's file, for "nothing readable" */
	int oom;                 /* an allocation failed: results are incomplete */
	uint8_t *scratch;        /* one slot, for reads at open */
	size_t scratch_cap;

	/* iteration */
	hx__cursor *cursors;     /* one per stream, set up on first use */
	size_t cur;              /* stream order: the stream being read */
	size_t *heap;            /* time order: cursor indices, earliest first */
	size_t nheap;
	int started;
	int pending;             /* time order: heap[0]'s event was returned; advance it first */
	size_t last_proc;

	/* clock domains (reader_align.c): one per distinct host name, sorted by name */
	hx_clock_offset *hosts;
	size_t nhosts;
	hx_clock_report clock;
};

/* reader_scan.c */
char *hx__reader_strdup(hx_reader *r, const char *s, size_t len);
void hx__reader_pool_free(hx_reader *r);
void hx__reader_damage(hx_reader *r, hx_damage_kind kind, const char *file, uint64_t offset,
                       uint64_t bytes, uint32_t stream, uint64_t chunk_seq, const char *fmt, ...)
	__attribute__((format(printf, 8, 9)));
int hx__reader_add_file(hx_reader *r, const char *path, int fd, const uint8_t *mem, uint64_t size);
int hx__reader_finish_open(hx_reader *r);
long hx__src_read(const hx__src *s, uint64_t off, void *buf, size_t len);

/* Skip a chunk from now on, counting it once however many reasons it has. */
static inline void hx__chunk_bad(hx_reader *r, hx__rchunk *c)
{
	if (c->state != CHUNK_BAD)
		r->info.chunks_damaged++;
	c->state = CHUNK_BAD;
}

/* reader_align.c: the hosts of the processes, after hx__reader_finish_open. */
int hx__reader_hosts_build(hx_reader *r);

/* t + off, saturated to [0, UINT64_MAX]. */
static inline uint64_t hx__time_shift(uint64_t t, int64_t off)
{
	if (off >= 0)
		return t > UINT64_MAX - (uint64_t)off ? UINT64_MAX : t + (uint64_t)off;
	uint64_t m = (uint64_t)0 - (uint64_t)off;
	return t < m ? 0 : t - m;
}

/* reader.c */
void hx__cursor_init(hx__cursor *c, size_t stream, size_t first);
void hx__cursor_free(hx__cursor *c);
/* Next record of the cursor's stream (skipping damaged chunks): a hx__rec_result, 0 at the end
 * of the stream, or HX_ENOMEM. */
int hx__cursor_record(hx_reader *r, hx__cursor *c, hx_event *ev, hx__sync *sync);

#endif /* HX_READER_INT_H */
