/*
 * haruspex/reader.h - read trace files back: the one reader every Haruspex tool uses.
 *
 * The reader accepts any bytes. From a truncated, torn or corrupted file it returns every record of
 * every chunk whose checksum verifies (the committed prefix of chunks that were being written when
 * the program died included), and reports each thing it skipped, with where and why, as an
 * hx_damage entry. It never crashes on hostile input and never returns a record it could not
 * verify.
 *
 * Thread safety: one hx_reader per thread; different readers are independent.
 * Ownership: the reader owns every pointer it returns (events, names, damage reports, resources);
 * they stay valid until the next call on the same reader, or until hx_reader_close() for the
 * results of hx_reader_info()/hx_reader_damage()/hx_reader_process().
 */
#ifndef HARUSPEX_READER_H
#define HARUSPEX_READER_H

#include <haruspex.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct hx_reader hx_reader;

typedef enum hx_read_order {
	HX_ORDER_STREAM = 0, /* fastest: stream by stream (each entity's events in order) */
	HX_ORDER_TIME = 1    /* all events merged by time (ties by stream), for display */
} hx_read_order;

/* Open `path`: a trace file, or a directory whose *.hx files (not recursive) are read together;
 * rotated files of one process continue each other's streams. Returns HX_OK, HX_ENOENT,
 * HX_EACCES, HX_EIO, HX_ENOMEM, or HX_EFORMAT when no file is a Haruspex trace (a directory's
 * non-trace files are reported as damage, not an error). On success *out must be closed with
 * hx_reader_close(). */
HX_API int hx_reader_open(hx_reader **out, const char *path, hx_read_order order);

/* Open several paths as one input: any mix of trace files and directories (each read as by
 * hx_reader_open), typically the files that the processes of one system wrote on different hosts.
 * Events are joined by trace ID downstream (every event carries it); the processes, streams and
 * clocks of all paths are read together. A file named twice (directly and through its directory)
 * is read once. hx_reader_open(out, path, order) is hx_reader_open_paths(out, &path, 1, order).
 * Returns what hx_reader_open returns for the first path that fails (HX_EINVAL when n is 0 or a
 * path is NULL); HX_EFORMAT when no path holds a trace. */
HX_API int hx_reader_open_paths(hx_reader **out, const char *const *paths, size_t n,
                                hx_read_order order);

/* Release everything; NULL is a no-op. */
HX_API void hx_reader_close(hx_reader *r);

/* Next event: HX_OK and *ev filled, HX_EOF at the end, or HX_ENOMEM (also when a damage report
 * could not be stored: the reader stops rather than lose it silently). Damage does not stop the
 * reading: it is reported by hx_reader_damage(). */
HX_API int hx_reader_next(hx_reader *r, hx_event *ev);

/* Index of the process (see hx_reader_process) whose files held the event returned last. */
HX_API size_t hx_reader_event_process(const hx_reader *r);

/* What was skipped, and why. */
typedef enum hx_damage_kind {
	HX_DMG_NOT_A_TRACE = 1,    /* file without a valid header (bad magic, unknown major version) */
	HX_DMG_HEADER = 2,         /* header checksum or field invalid; read with what could be used */
	HX_DMG_CHUNK_HEADER = 3,   /* slot with a bad magic or impossible header fields */
	HX_DMG_CHECKSUM = 4,       /* chunk whose CRC does not match its committed bytes */
	HX_DMG_TRUNCATED = 5,      /* file ends inside a chunk's committed bytes */
	HX_DMG_RECORD = 6,         /* malformed record in a chunk that passed its CRC */
	HX_DMG_TORN_TAIL = 7,      /* bytes after a chunk's commit point (an interrupted write): info */
	HX_DMG_SEQ_GAP = 8,        /* a stream misses chunk sequence numbers (lost or damaged chunks) */
	HX_DMG_IO = 9              /* read error */
} hx_damage_kind;

typedef struct hx_damage {
	hx_damage_kind kind;
	const char *file;      /* path of the file */
	uint64_t offset;       /* file offset where the damage starts */
	uint64_t bytes;        /* bytes skipped */
	uint32_t stream;       /* stream of the chunk, when known */
	uint64_t chunk_seq;    /* sequence number of the chunk, when known */
	const char *reason;    /* human-readable detail */
} hx_damage;

/* The damage found so far (all of it after HX_EOF). `*n` receives the count. Torn tails are
 * included as HX_DMG_TORN_TAIL but do not make a file damaged (see hx_reader_info.damaged). */
HX_API const hx_damage *hx_reader_damage(const hx_reader *r, size_t *n);
HX_API const char *hx_damage_kind_name(int kind);

#define HX_FILE_COUNTERS_PUBLIC 128 /* counter slots in a file header (docs/format.md) */

/* One traced process (process instance) found in the input. */
typedef struct hx_process_info {
	uint8_t instance[16];
	uint64_t pid;
	const char *host, *program, *service; /* "" when absent */
	uint32_t files;          /* files of this process read */
	int clean;               /* 1 if its last file was closed by hx_shutdown() */
	uint64_t counters[HX_FILE_COUNTERS_PUBLIC]; /* misuse/drop counters from the file header */
	uint32_t clock_kind;     /* 1 TSC, 2 monotonic */
	uint64_t ticks_per_sec;
	uint32_t syncs;          /* clock SYNC records found */
} hx_process_info;
HX_API size_t hx_reader_processes(const hx_reader *r);
HX_API const hx_process_info *hx_reader_process(const hx_reader *r, size_t i);

/* Totals for the whole input, complete after HX_EOF (files/bytes/chunks are known after open). */
typedef struct hx_reader_info {
	uint64_t files, bytes;        /* trace files read and their total size */
	uint64_t chunks;              /* chunks holding data */
	uint64_t chunks_damaged;      /* chunks skipped (checksum, header, truncation, record) */
	uint64_t events;              /* events returned so far */
	uint64_t records;             /* all records decoded so far (strings, contexts ...) */
	uint64_t payload_bytes;       /* committed payload bytes of intact chunks */
	uint64_t event_bytes;         /* bytes of event records, definitions excluded */
	int damaged;                  /* 1 if anything but torn tails was found */
} hx_reader_info;

HX_API void hx_reader_info_get(const hx_reader *r, hx_reader_info *out);

/* ---- clock alignment across hosts (docs/format.md, "Reading many files") ----
 *
 * Processes on one host share its clock; different hosts' clocks disagree by whatever their time
 * synchronisation left (often milliseconds, sometimes seconds). Each host is a *clock domain*.
 * Every cause/effect pair whose ends lie on two hosts bounds the offset between their clocks
 * (the effect cannot precede its cause); pairs in both directions (a request and its reply) give
 * an interval, as in NTP. hx_reader_align_clocks() reads the input once to collect those pairs,
 * computes one offset per host, and from then on hx_reader_next() returns time_ns + offset of the
 * event's host in time_ns and the recorded time in time_orig_ns (equal when nothing was applied).
 * Offsets are relative to a reference host (the one with the most events, ties by name), one per
 * connected group of hosts; an offset whose size would exceed HX_CLOCK_OFFSET_MAX_NS is refused
 * (left at 0, reported). */
#define HX_CLOCK_OFFSET_MAX_NS 3600000000000ll /* one hour */

/* Align the hosts' clocks: call after opening and before the first hx_reader_next(). Reads the
 * whole input once (damage found is reported as usual, once); does not read when every process
 * is on one host. Returns HX_OK (also when nothing needed adjusting), HX_ESTATE after the first
 * hx_reader_next() or a second call, HX_ENOMEM, HX_EINVAL for NULL. Memory: one entry per
 * interaction event (cause, effect, trace begin/join) and per cause reference, not per event. */
HX_API int hx_reader_align_clocks(hx_reader *r);

/* One clock domain (host): what alignment found. Valid until hx_reader_close(). */
typedef struct hx_clock_offset {
	const char *host;       /* the "host" resource of its processes ("" when absent) */
	int64_t offset_ns;      /* added to the times of every event of this host */
	int64_t lower_ns;       /* the offset range the pairs with other hosts allow, given those */
	int64_t upper_ns;       /*   hosts' offsets: valid when has_lower / has_upper */
	int has_lower, has_upper;
	uint64_t pairs;         /* cross-host cause/effect pairs with one end on this host */
	uint64_t events;        /* events of this host (counted by hx_reader_align_clocks) */
	uint32_t processes;     /* processes of the input on this host */
	int reference;          /* 1 for the reference host of its group (offset 0 by definition) */
	int refused;            /* 1 if the offset computed was over HX_CLOCK_OFFSET_MAX_NS: not
	                           applied (offset_ns is 0) */
} hx_clock_offset;

/* The hosts of the input (known after open; offsets are 0 until hx_reader_align_clocks), sorted
 * by name. `*out` receives the array (NULL when r is NULL). */
HX_API size_t hx_reader_clock_offsets(const hx_reader *r, const hx_clock_offset **out);
/* Index into hx_reader_clock_offsets() of process i's host; SIZE_MAX if i is out of range. */
HX_API size_t hx_reader_process_host(const hx_reader *r, size_t i);

/* The alignment as a whole. */
typedef struct hx_clock_report {
	int aligned;                 /* hx_reader_align_clocks() ran */
	int read_input;              /* ... and read the input (more than one host) */
	uint64_t pairs;              /* cross-host cause/effect pairs found */
	uint64_t violations_before;  /* pairs whose effect precedes its cause in recorded times */
	uint64_t violations_after;   /* the same with the offsets applied (inconsistent bounds:
	                                clock drift, or a bound over the limit) */
	uint32_t hosts, refused;     /* hosts; offsets refused for exceeding the limit */
	uint64_t unresolved;         /* cause references to events not in the input (their processes
	                                did not trace, or their files are missing): no bound */
} hx_clock_report;
HX_API void hx_reader_clock_report(const hx_reader *r, hx_clock_report *out);

#ifdef __cplusplus
}
#endif
#endif /* HARUSPEX_READER_H */
