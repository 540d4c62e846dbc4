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

#ifdef __cplusplus
}
#endif
#endif /* HARUSPEX_READER_H */
