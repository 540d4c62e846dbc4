/*
 * tracer.h - libharuspex internals: the tracer (one per process while tracing is on), the
 * per-thread writer state, entities, and the sink interface. Not installed.
 *
 * Threads never share a writer: each thread owns one stream (a sequence of chunks) and writes its
 * events there without locks. Shared state is touched only on slow paths (a new chunk, a new
 * thread, init/shutdown), and each field below says what protects it.
 */
#ifndef HX_LIB_TRACER_H
#define HX_LIB_TRACER_H

#include <haruspex.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "format/decode.h"
#include "format/format.h"

#define HX_LIKELY(x) __builtin_expect(!!(x), 1)
#define HX_UNLIKELY(x) __builtin_expect(!!(x), 0)

#if defined(__x86_64__)
#define HX_HAVE_TSC 1
#else
#define HX_HAVE_TSC 0
#endif

struct hx__thread;
struct hx__tracer;

/* An entity: a thread's implicit one (embedded in its hx__thread) or an explicit one (heap). */
struct hx_entity {
	uint64_t id;
	uint64_t next_seq;      /* sequence number of its next event */
	uint8_t trace_id[16];   /* current trace; valid when in_trace */
	int in_trace;
	uint32_t block_depth;   /* open blocks, for end-without-begin detection */
	uint32_t gen;           /* tracer generation that made it (fork/shutdown detection) */
	hx_entity_kind kind;
	int is_explicit;
	int ended;
	/* Sampling and filters (emit.c, sampling.c); touched by the thread running the entity. */
	int muted;              /* in a trace that was sampled out: record nothing, keep bookkeeping */
	int waiting;            /* its last STATE was waiting: the next EFFECT resumes it */
	uint64_t skip_mask;     /* bit d: the open block at depth d was not recorded (sampled out or
	                           filtered), so its end is not recorded either (depths < 64) */
	/* Explicit entities: the thread that has entered it, or NULL. Set with a CAS on enter, so
	 * two threads cannot run one entity at once; the fields above belong to that thread. */
	_Atomic(struct hx__thread *) owner;
	struct hx_entity *prev_current; /* the entity that was current before this one was entered */
};

/* One slot of a thread's name cache: maps a caller's string (by address, verified by content)
 * to its string ID in the current chunk. */
struct hx__name_slot {
	const char *ptr;      /* caller's pointer last seen for this text */
	uint64_t w0, w1;      /* first 16 bytes of the text including its NUL, zero-padded */
	uint64_t m0, m1;      /* masks of the bytes that count in w0/w1 */
	uint32_t id;          /* string ID, valid while gen == thread's chunk_gen */
	uint32_t gen;
	uint32_t len;         /* recorded length (<= HX_NAME_MAX) */
	uint32_t off;         /* offset of the recorded text in the thread's name arena */
	uint8_t truncated;    /* the caller's string is longer than len */
	uint8_t used;
};

#define HX_NAME_SLOTS 256
#define HX_NAME_ARENA 16384

typedef enum hx__sink_mode {
	HX__MODE_FILE = 0,
	HX__MODE_DECODE = 1, /* stderr and callback: each record is decoded and delivered */
	HX__MODE_DROP = 2,   /* a failed file sink: count and discard */
	HX__MODE_NONE = 3    /* the none sink: discard, count nothing */
} hx__sink_mode;

/* A thread's writer state. Only its thread touches it, except `end` (see below), `events` (read
 * by hx_stats_get) and `next` (tracer->lock). */
struct hx__thread {
	/* --- hot: the current chunk --- */
	uint8_t *pos;                 /* where the next record goes */
	_Atomic(uintptr_t) end;       /* records must end before this; hx_shutdown() stores 0 here
	                                 from another thread to push this thread onto the slow path */
	uint8_t *chunk;               /* chunk base (its header) */
	uint64_t last_ticks;          /* time of the last record in this chunk */
	uint32_t crc;                 /* CRC32C of the chunk so far (header prefix + payload) */
	uint32_t chunk_gen;           /* changes with every chunk: invalidates cached string IDs */
	uint32_t next_string_id;      /* next string ID in this chunk */
	int use_tsc;
	struct hx_entity *cur;        /* current entity: &self or an entered explicit entity */
	_Atomic int muted;            /* cur->muted, kept beside the chunk pointers so that a call in a
	                                 sampled-out trace is decided with two loads; 0 in a stale
	                                 state (hx_shutdown()'s fence clears it with `end`) */
	uint64_t ctx_id;              /* entity whose CONTEXT record is in effect in this chunk (by
	                                 ID, not pointer: a freed entity's address may be reused) */
	uint64_t ctx_next_seq;        /* its next_seq at that point (a migrated coroutine moves on) */
	_Atomic uint64_t events;      /* events recorded by this thread */
	uint32_t fsync_every, since_fsync;
	hx__sink_mode mode;
	int busy;                     /* inside emit(): a nested call (signal handler, callback) is
	                                 refused, not interleaved */
	void *text;                   /* stderr sink: the line buffer (an hx__buf) */
	/* --- names --- */
	struct hx__name_slot names[HX_NAME_SLOTS];
	char *arena;                  /* recorded name texts (HX_NAME_ARENA bytes) */
	uint32_t arena_used;
	/* --- stream --- */
	uint32_t stream_id;
	uint32_t chunk_seq;           /* sequence number of the current chunk */
	int chunk_seq_started;        /* a chunk was started (so the next one is chunk_seq + 1) */
	uint32_t chunk_bytes;
	void *window;                 /* file sink: the window the chunk belongs to */
	uint8_t *own_buf;             /* decode sinks: the private chunk buffer */
	hx__decoder *dec;             /* decode sinks */
	uint64_t rng[2];              /* xorshift128+ state for IDs */
	uint32_t gen;                 /* tracer generation */
	struct hx__tracer *tracer;
	struct hx_entity self;        /* the thread's implicit entity */
	struct hx__thread *next;      /* tracer->threads list, protected by tracer->lock */
};

/* The process's tracer. Created by hx_init(), never freed while threads may still hold pointers
 * into it (a shutdown keeps it allocated: a later hx_init() makes a new one). */
struct hx__tracer {
	hx_config cfg;                /* immutable after init; strings point into the fields below */
	char *dir, *service, *program, *host, *disable;
	uint32_t gen;
	uint8_t instance[16];
	pid_t pid;
	/* clock domain, immutable after init */
	int use_tsc;
	uint64_t anchor_ticks, anchor_mono, anchor_real, ticks_per_sec;
	/* threads: list and stream numbering, protected by lock */
	pthread_mutex_t lock;
	struct hx__thread *threads;
	uint32_t next_stream;
	/* sink */
	hx__sink_mode mode;
	struct hx__filesink *fs;      /* file sink state (filesink.c), NULL otherwise */
	struct hx__shipsink *ship;    /* tcp sink's shipping thread (shipsink.c), NULL otherwise */
	struct hx__kafkasink *kafka;  /* kafka sink's thread (kafkasink.c), NULL otherwise */
	char *ship_to, *ship_token;   /* the tracer's copies of cfg.ship_to / cfg.ship_token */
	_Atomic uint64_t exited_events; /* events of this tracer's threads that have exited */
	/* The tracer of the run before this one (hx_shutdown() then hx_init()), immutable: earlier
	 * tracers stay allocated and reachable, their threads' events stay counted. */
	struct hx__tracer *prev;
	/* counters live in the process-wide table (stats.c) and are mirrored into the file */
	/* head sampling (sampling.c), immutable after init except the rate limiter's state */
	uint64_t sample_threshold;    /* PROBABILITY: sampled when a random u64 < this */
	uint64_t rate_interval_ticks; /* RATE: ticks between traces at the configured rate */
	uint64_t rate_burst_ticks;    /* RATE: how far ahead the schedule may run (one second) */
	_Atomic uint64_t rate_tat;    /* RATE: theoretical arrival time of the next trace (GCRA) */
};

/* ---- state shared by the library (lib.c) ---- */
extern struct hx__tracer *_Atomic hx__tracer_cur;
extern _Thread_local struct hx__thread *hx__tls __attribute__((tls_model("initial-exec")));

/* Called by the recording functions when the thread has no usable writer state: makes one, or
 * returns NULL (tracing off/shut down: counted). */
struct hx__thread *hx__thread_slow(void);
void hx__thread_list_fence(struct hx__tracer *tr);

/* The calling thread's state, current for the running tracer (made on its first call), or NULL
 * when tracing is off. For calls that need the current entity before they emit. */
static inline struct hx__thread *hx__thread_current(void)
{
	struct hx__thread *t = hx__tls;
	if (HX_UNLIKELY(!t || !atomic_load_explicit(&t->end, memory_order_relaxed)))
		t = hx__thread_slow();
	return t;
}

/* ---- the inline mute check (haruspex.h's HX__RECORDING) ---- */
/* A new epoch retires every thread's hx__tls_mute: no thread stays muted across hx_init(),
 * hx_shutdown() or fork(). Zero is never an epoch (it means "not muted"). */
static inline void hx__mute_epoch_next(void)
{
	unsigned e = hx__mute_epoch + 1;
	hx__mute_epoch = e ? e : 1;
}
/* Set the calling thread's mute state: t must be the calling thread's own state (hx__tls). */
static inline void hx__mute_set(struct hx__thread *t, int muted)
{
	atomic_store_explicit(&t->muted, muted, memory_order_relaxed);
	hx__tls_mute = muted ? hx__mute_epoch : 0;
}

/* ---- background threads (lib.c) ---- */
/* Around each work step of a library background thread (never around sleeping or blocking I/O):
 * fork() waits for the step to end, so the child never inherits a lock or an allocator the
 * thread was holding. */
void hx__bg_enter(void);
void hx__bg_leave(void);

/* ---- sampling and name filters (sampling.c) ---- */
/* Set while any name filter disables something: the only cost of filters when there are none is
 * this relaxed load. */
extern _Atomic int hx__filters_on;
int hx__sampling_init(struct hx__tracer *tr);  /* from tr->cfg: sampler state, initial filters */
int hx__sample_decide(struct hx__thread *t);    /* 1: record the new trace, 0: sample it out */
int hx__name_disabled(const char *name);        /* 1 if the filters say not to record `name` */
/* Parse a comma-separated filter list (config `disable`): HX_OK or HX_ECONFIG. */
int hx__filters_check(const char *list, char *errbuf, size_t errlen);

/* ---- counters (stats.c) ---- */
void hx__count(hx_counter_id id);
void hx__counters_attach(uint64_t *file_counters); /* mirror into a file header (NULL: detach) */
void hx__counters_reset(void); /* a fork()ed child starts from zero */
uint64_t hx__events_total(struct hx__tracer *tr); /* events of all threads (lib.c) */
uint64_t hx__tracer_events(struct hx__tracer *tr); /* events recorded under tr */

/* ---- clock (clock.c) ---- */
int hx__clock_init(struct hx__tracer *tr);
static inline uint64_t hx__ticks(int use_tsc);
uint64_t hx__mono_ns(void);
/* (ticks, monotonic ns) read together, best of a few tries; returns the tick bracket around it. */
uint64_t hx__clock_sample(int use_tsc, uint64_t *ticks, uint64_t *mono);
uint64_t hx__real_ns(void);
uint64_t hx__ticks_to_real_ns(const struct hx__tracer *tr, uint64_t ticks);

/* ---- IDs (ids.c) ---- */
void hx__rng_seed(uint64_t s[2]);
uint64_t hx__rng_next(uint64_t s[2]);
void hx__trace_id_new(struct hx__thread *t, uint8_t out[16]);
uint64_t hx__entity_id_new(struct hx__thread *t);

/* ---- configuration (config.c) ---- */
int hx__config_resolve(hx_config *out, const hx_config *in, char *errbuf, size_t errlen);

/* ---- chunks (chunk.c): getting a fresh chunk for a thread, by sink ---- */
/* Write a chunk header for (stream, seq, base ticks) with nothing committed; returns the CRC of
 * the header prefix, which the chunk's commit CRC extends. */
uint32_t hx__chunk_header_write(uint8_t *c, uint32_t stream, uint32_t seq, uint64_t base_ticks);
/* Give thread t a new chunk (file window slot or private buffer) and write its header. Returns 0,
 * or -1 if the sink cannot give one (t->end stays 0: the thread's events are dropped). */
int hx__chunk_next(struct hx__thread *t);
/* The thread is done with its chunk (thread exit). */
void hx__chunk_release(struct hx__thread *t);

/* ---- file sink (filesink.c) ---- */
struct hx__filesink;
int hx__filesink_open(struct hx__tracer *tr);
/* A new chunk slot: its mapped address and its window (for release). NULL if the sink failed. */
uint8_t *hx__filesink_slot(struct hx__tracer *tr, void **window);
void hx__filesink_release(struct hx__tracer *tr, void *window);
void hx__filesink_msync(uint8_t *chunk, uint32_t chunk_bytes);
void hx__filesink_close(struct hx__tracer *tr); /* index, clean flag, stop the background thread */
void hx__filesink_remove(struct hx__tracer *tr); /* after close: delete the files (nothing in them) */

/* ---- tcp sink (shipsink.c): a thread that follows this process's files and ships them ---- */
struct hx__shipsink;
int hx__shipsink_start(struct hx__tracer *tr); /* after hx__filesink_open: HX_OK, HX_ENOMEM, ... */
/* After hx__filesink_close: ship what is left for up to the linger time, then stop the thread. */
void hx__shipsink_stop(struct hx__tracer *tr);

/* ---- decode sinks (decodesink.c) ---- */
void hx__decodesink_deliver(struct hx__thread *t, const uint8_t *rec, const uint8_t *end);

/* ---- emitting (emit.c) ---- */
/* Emit a record that is not an event (SYNC) into t's chunk: used by the background thread. */
int hx__emit_sync(struct hx__thread *t, uint64_t ticks, uint64_t mono, uint64_t real);
int hx__emit_entity_begin(struct hx__thread *t, struct hx_entity *e, const char *name, hx_entity_kind kind,
                          uint64_t tid, uint64_t parent);
int hx__emit_entity_end(struct hx__thread *t, struct hx_entity *e);
int hx__emit_state(struct hx__thread *t, struct hx_entity *e, hx_state state);

#if defined(__x86_64__)
#include <x86intrin.h>
#endif
#include <time.h>

static inline uint64_t hx__ticks(int use_tsc)
{
#if defined(__x86_64__)
	if (HX_LIKELY(use_tsc))
		return __rdtsc();
#else
	(void)use_tsc;
#endif
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

#endif /* HX_LIB_TRACER_H */
