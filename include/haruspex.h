/*
 * haruspex.h - the Haruspex instrumentation API: the one header a program needs.
 *
 * A program records *events*. Each recording call below writes exactly one event, and the event is
 * delivered to the sink before the call returns: with the file sink it sits in a shared file mapping
 * (the page cache), so a crash or SIGKILL of the program right after the call cannot lose it.
 *
 * Model (docs/model.md):
 *   trace        one request or job; 128-bit ID whose first 48 bits are ms since the epoch.
 *   entity       a sequential executor: each thread has one implicitly; coroutines and event-loop
 *                tasks create their own (hx_entity_begin) and enter/leave them as they run.
 *   event        entity ID + sequence number (its event ID), kind, time (ns since the epoch), name,
 *                typed attributes.
 *   block        begin/end events on one entity; blocks nest.
 *   interaction  an effect event that names its cause event(s) through an hx_context.
 *
 * Conventions for every function in this header:
 *   - Thread safety: any thread may call any function unless its comment says otherwise. Calls act
 *     on the *current entity* of the calling thread (the thread's own entity, or the explicit
 *     entity it has entered).
 *   - Names (event, attribute key, unit) are copied into the trace during the call; the caller
 *     keeps ownership and may reuse the buffer right after. Names are recorded up to HX_NAME_MAX
 *     bytes; longer ones are truncated and counted as misuse.
 *   - Misuse never crashes the program and never corrupts the trace: a NULL name is recorded as
 *     "(null)"; a call that cannot be honoured (block end without begin, leave without enter, an
 *     ended entity, a handle from the parent used after fork()) records nothing. Every case is
 *     counted (hx_stats_get(), `hx stats`).
 *   - With tracing never started (no hx_init() and no HARUSPEX_* environment) the short forms
 *     below (hx_point, hx_block_begin ...) are one load and a not-taken branch, and the *_attrs
 *     functions return at their first test. After hx_shutdown() calls are counted as
 *     AFTER_SHUTDOWN. With the none sink or a failed sink, calls keep their bookkeeping (block
 *     depth, current trace, sequence numbers) so misuse is judged the same; a dropped event uses
 *     up its sequence number, so readers see the gap.
 *   - Recording calls may be made from a signal handler once the thread has recorded an event
 *     (its first call allocates its writer state): one that interrupts another recording call on
 *     the same thread records nothing (counted as REENTRANT) rather than interleave with it. hx_init(), hx_shutdown() and hx_entity_begin()/hx_entity_end() (which allocate) are not
 *     async-signal-safe.
 */
#ifndef HARUSPEX_H
#define HARUSPEX_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define HX_API __attribute__((visibility("default")))
#else
#define HX_API
#endif

/* ---------------------------------------------------------------------------------------------
 * Versions
 * ------------------------------------------------------------------------------------------- */
#define HX_VERSION_MAJOR 0
#define HX_VERSION_MINOR 1
#define HX_VERSION_PATCH 0
#define HX_VERSION_NUMBER (HX_VERSION_MAJOR * 10000 + HX_VERSION_MINOR * 100 + HX_VERSION_PATCH)

/* The library's version string ("0.1.0") and number; compare with HX_VERSION_NUMBER to detect a
 * header/library mismatch. Any thread. */
HX_API const char *hx_version(void);
HX_API unsigned hx_version_number(void);

/* ---------------------------------------------------------------------------------------------
 * Errors: 0 is success, failures are negative and never renumbered.
 * ------------------------------------------------------------------------------------------- */
#define HX_ERRNO_MAP(XX)                                                                         \
	XX(OK, 0, "success")                                                                         \
	XX(EINVAL, -1, "invalid argument")                                                           \
	XX(ENOMEM, -2, "out of memory")                                                              \
	XX(EIO, -3, "input/output error")                                                            \
	XX(ESTATE, -4, "call not valid in the current state")                                        \
	XX(ESINK, -5, "sink cannot be opened")                                                       \
	XX(ECONFIG, -6, "invalid configuration")                                                     \
	XX(EFORMAT, -7, "not a Haruspex trace, or an unsupported format version")                    \
	XX(EDAMAGED, -8, "trace is damaged")                                                         \
	XX(ENOENT, -9, "no such file or directory")                                                  \
	XX(EOF, -10, "end of input")                                                                 \
	XX(ENOSPC, -11, "no space left on device")                                                   \
	XX(EACCES, -12, "permission denied")

typedef enum hx_result {
#define HX__ERR_ENUM(name, code, text) HX_##name = (code),
	HX_ERRNO_MAP(HX__ERR_ENUM)
#undef HX__ERR_ENUM
} hx_result;

/* A static English description of an error code ("unknown error" for codes not in the table).
 * Any thread; async-signal-safe. */
HX_API const char *hx_strerror(int err);

/* ---------------------------------------------------------------------------------------------
 * Configuration and life cycle
 * ------------------------------------------------------------------------------------------- */
typedef enum hx_sink_kind {
	HX_SINK_FILE = 0,     /* trace files in cfg.dir (default) */
	HX_SINK_STDERR = 1,   /* one human-readable line per event, one write(2) each, for debugging */
	HX_SINK_CALLBACK = 2, /* cfg.callback receives every event, decoded, synchronously */
	HX_SINK_NONE = 3,     /* record nothing, count nothing (bookkeeping and misuse counts go on) */
	HX_SINK_TCP = 4,      /* trace files in cfg.dir as HX_SINK_FILE, and a background thread that
	                         ships them to cfg.ship_to (docs/api.md, "Sinks") */
	HX_SINK_KAFKA = 5,    /* as HX_SINK_TCP, but the thread produces the events to Kafka:
	                         cfg.ship_to is kafka://BROKER[,BROKER...]/TOPIC. Only in a library
	                         built with librdkafka; otherwise hx_init() returns HX_ECONFIG */
	HX_SINK_STATSD = 6    /* trace files as HX_SINK_FILE, and a background thread that sends
	                         metrics made from them to statsd over UDP: block durations as
	                         timers, points as counters, counters as gauges. cfg.ship_to is
	                         statsd://HOST[:PORT][?prefix=P&rate=R&mtu=N], resolved by hx_init()
	                         (docs/interchange.md, "statsd") */
} hx_sink_kind;

typedef enum hx_fsync_policy {
	HX_FSYNC_NONE = 0,     /* the page cache survives a crash of the program, not of the machine */
	HX_FSYNC_INTERVAL = 1, /* a background thread syncs every fsync_interval_ms */
	HX_FSYNC_EVERY = 2     /* the writing thread syncs its chunk every fsync_every events (slow) */
} hx_fsync_policy;

typedef enum hx_sampler {
	HX_SAMPLE_ALWAYS = 0,
	HX_SAMPLE_NEVER = 1,
	HX_SAMPLE_PROBABILITY = 2,
	HX_SAMPLE_RATE = 3
} hx_sampler;

struct hx_event;
/* The callback sink's function: called on the recording thread, before the recording call returns.
 * `ev` and everything it points to is valid only during the call. It must not call back into
 * Haruspex recording functions (such calls are counted as misuse and record nothing). */
typedef void (*hx_event_fn)(const struct hx_event *ev, void *user);

/* Configuration. Start with hx_config_init(); the struct begins with its size so it can grow at the
 * end without breaking programs built against an older header. Strings are copied by hx_init(). */
typedef struct hx_config {
	size_t size;                   /* sizeof(hx_config), set by hx_config_init() */
	hx_sink_kind sink;             /* HARUSPEX_SINK=file|stderr|callback|none; default file */
	const char *dir;               /* HARUSPEX_DIR; default "./haruspex-traces" */
	const char *service;           /* HARUSPEX_SERVICE; default the program name */
	uint64_t max_file_bytes;       /* HARUSPEX_MAX_FILE_BYTES: rotate at this size; default 1 GiB */
	uint32_t max_files;            /* HARUSPEX_MAX_FILES: keep at most this many files of this
	                                  process, deleting the oldest (counted); 0 = keep all */
	hx_fsync_policy fsync;         /* HARUSPEX_FSYNC=none|interval:MS|every:N */
	uint32_t fsync_interval_ms;    /* default 1000 */
	uint32_t fsync_every;          /* default 1 */
	hx_event_fn callback;          /* for HX_SINK_CALLBACK (no environment equivalent) */
	void *callback_user;
	uint32_t chunk_bytes;          /* HARUSPEX_CHUNK_BYTES: 4096..1048576, power of 2; default 65536 */
	int quiet;                     /* HARUSPEX_QUIET=1: no error message on stderr when a sink fails */
	/* Head sampling, decided once per trace where it begins (hx_trace_begin, or hx_trace_continue
	 * without a valid context) and carried in HX_CTX_SAMPLED to every process that joins. */
	hx_sampler sampler;            /* HARUSPEX_SAMPLE=always|never|probability:P|rate:N; always */
	double sample_probability;     /* HX_SAMPLE_PROBABILITY: 0..1 */
	double sample_rate;            /* HX_SAMPLE_RATE: traces begun per second (a token bucket
	                                  holding one second's worth), > 0 */
	const char *disable;           /* HARUSPEX_DISABLE: comma-separated names of points and blocks
	                                  not to record; a trailing '*' matches a prefix ("db.*") */
	/* HX_SINK_TCP: events go to the files first (a dead network never blocks the program, a
	 * SIGKILL loses nothing), then a background thread sends them to a service; at hx_shutdown()
	 * it goes on for up to HARUSPEX_SHIP_LINGER_MS (default 2000), and `hx ship DIR` sends what is
	 * left, resuming where the thread stopped. */
	const char *ship_to;           /* HARUSPEX_SINK=tcp://HOST:PORT: the service to ship to;
	                                  HX_SINK_KAFKA: HARUSPEX_SINK=kafka://BROKERS/TOPIC (the
	                                  token is not used: Kafka's own security is not configured
	                                  by Haruspex) */
	const char *ship_token;        /* HARUSPEX_SHIP_TOKEN: bearer token for the service; NULL none */
} hx_config;

/* Fill *cfg with the defaults. Any thread. */
HX_API void hx_config_init(hx_config *cfg);

/* Start tracing. `cfg` may be NULL for the defaults. HARUSPEX_* environment variables override the
 * fields of `cfg` (so an operator can redirect a program without rebuilding it). Returns HX_OK,
 * HX_ECONFIG for a bad value (nothing started), or HX_ESTATE if tracing is already on. A sink that
 * cannot be opened (unwritable directory) is NOT an error: hx_init() prints one message on stderr,
 * returns HX_ESINK, and tracing stays on with every event counted as dropped, so the program goes on.
 * Call from one thread at a time (not concurrently with hx_shutdown()).
 *
 * Without any hx_init() call, a program whose environment sets HARUSPEX_SINK or HARUSPEX_DIR starts
 * tracing at load time with the defaults plus the environment. */
HX_API int hx_init(const hx_config *cfg);

/* Stop tracing: later recording calls record nothing (counted as misuse). Seals every stream and
 * writes the file's index so readers open it fast; a file without it (a crash) is still read whole.
 * Returns HX_OK or HX_ESTATE if tracing was not on. hx_init() may be called again afterwards and
 * starts new files. Call from one thread; other threads may still be recording (their calls either
 * land before the index or are counted as after-shutdown). */
HX_API int hx_shutdown(void);

/* 1 while tracing is on, else 0. Any thread, async-signal-safe. */
HX_API int hx_enabled(void);

/* ---------------------------------------------------------------------------------------------
 * Attributes: typed key/values attached to an event. Build them with the HX_INT(...) macros in an
 * array; nothing parses a format string or varargs at run time.
 * ------------------------------------------------------------------------------------------- */
typedef enum hx_attr_type {
	HX_ATTR_INT = 1,
	HX_ATTR_DOUBLE = 2,
	HX_ATTR_BOOL = 3,
	HX_ATTR_STRING = 4, /* UTF-8 text, not NUL-terminated in the trace: len bytes */
	HX_ATTR_BYTES = 5   /* opaque bytes */
} hx_attr_type;

typedef struct hx_attr {
	const char *key;   /* copied into the trace; NULL is misuse, recorded as "(null)" */
	hx_attr_type type;
	union {
		int64_t i;
		double d;
		int b;
		struct {
			const void *ptr; /* copied into the trace */
			size_t len;      /* for strings made by HX_STR, strlen(ptr) */
		} s;
	} v;
} hx_attr;

#define HX_NAME_MAX 255        /* longest name, attribute key or unit recorded, in bytes */
#define HX_ATTR_MAX 32         /* most attributes per event; more are dropped and counted */
#define HX_VALUE_MAX 4096      /* longest string/bytes value recorded; longer are truncated, counted.
                                  An event's attributes must also fit in one chunk (chunk_bytes): with
                                  chunks under 16 KiB, attributes that do not fit are dropped, counted */

#define HX_INT(k, x) ((hx_attr){.key = (k), .type = HX_ATTR_INT, .v = {.i = (int64_t)(x)}})
#define HX_DOUBLE(k, x) ((hx_attr){.key = (k), .type = HX_ATTR_DOUBLE, .v = {.d = (double)(x)}})
#define HX_BOOL(k, x) ((hx_attr){.key = (k), .type = HX_ATTR_BOOL, .v = {.b = !!(x)}})
#define HX_STR(k, x) ((hx_attr){.key = (k), .type = HX_ATTR_STRING, .v = {.s = {(x), hx__strlen(x)}}})
#define HX_STRN(k, x, n) ((hx_attr){.key = (k), .type = HX_ATTR_STRING, .v = {.s = {(x), (n)}}})
#define HX_BYTES(k, x, n) ((hx_attr){.key = (k), .type = HX_ATTR_BYTES, .v = {.s = {(x), (n)}}})

/* Count the attributes of an HX_ATTRS(...) list at compile time. */
#define HX_ATTRS(...) ((const hx_attr[]){__VA_ARGS__}), (sizeof((const hx_attr[]){__VA_ARGS__}) / sizeof(hx_attr))

/* ---------------------------------------------------------------------------------------------
 * Context: what crosses a boundary so that an effect can name its cause. A small value type: copy
 * it freely between threads; across processes send its fields (trace ID, entity ID, seq, flags).
 * ------------------------------------------------------------------------------------------- */
#define HX_CTX_SAMPLED 0x1u /* the trace is recorded */
#define HX_CTX_VALID 0x2u   /* the context names an event (an all-zero context names nothing) */
#define HX_CTX_FOREIGN 0x4u /* the cause came from another tracer (a W3C parent-id without the
                               Haruspex event ID): entity_id holds the parent-id, seq is 0 */

typedef struct hx_context {
	uint8_t trace_id[16]; /* big-endian bytes, as in W3C trace-id; all zero = no trace */
	uint64_t entity_id;   /* the cause event's entity */
	uint64_t seq;         /* the cause event's sequence number on that entity */
	uint32_t flags;       /* HX_CTX_* */
	uint32_t reserved;    /* zero */
} hx_context;

/* The context of the last event recorded on the current entity, without recording anything.
 * Returns a context without HX_CTX_VALID while tracing is off or before the entity's first event. */
HX_API hx_context hx_context_current(void);

/* ---------------------------------------------------------------------------------------------
 * Traces
 * ------------------------------------------------------------------------------------------- */
/* Start a new trace on the current entity: records TRACE_BEGIN (named `name`) and makes later
 * events of this entity belong to it. Returns the context of the TRACE_BEGIN event (hand it to
 * other entities so they can join). A trace already current is left without a TRACE_END event:
 * the TRACE_BEGIN marks the switch. */
HX_API hx_context hx_trace_begin(const char *name);

/* Join the trace of a received context: records TRACE_JOIN whose cause is `ctx`; later events of
 * this entity belong to ctx's trace (a trace already current is left without a TRACE_END event).
 * An invalid or NULL ctx is counted as misuse and records nothing. */
HX_API void hx_trace_join(const hx_context *ctx, const char *name);

/* Leave the current trace: records TRACE_END. Without a current trace: misuse, nothing recorded. */
HX_API void hx_trace_end(void);

/* The server side of a hand-off: join ctx's trace when ctx is valid (hx_trace_join, honouring its
 * sampled flag), else begin a new trace (hx_trace_begin, with a fresh sampling decision). Use it
 * with a context from hx_extract(), which is invalid when no or a malformed header arrived.
 * Returns the context of the event recorded (invalid when nothing was recorded). */
HX_API hx_context hx_trace_continue(const hx_context *ctx, const char *name);

/* ---------------------------------------------------------------------------------------------
 * Sampling and name filters
 *
 * A trace that was sampled out at its root stays sampled out everywhere: an entity in it keeps
 * its bookkeeping (trace ID for propagation, block depth) but records nothing, each call costing
 * a couple of nanoseconds; contexts taken from it carry the trace ID without HX_CTX_SAMPLED, so
 * other processes do the same. Events outside any trace are always recorded.
 * ------------------------------------------------------------------------------------------- */
/* 1 if the current entity's trace is recorded (or it is in no trace), 0 if sampled out. */
HX_API int hx_trace_sampled(void);

/* Disable (on = 0) or re-enable (on = 1) recording of points and blocks whose name matches
 * `pattern` (an exact name, or a prefix followed by '*'). Takes effect on every thread at its
 * next call. A block that began while enabled still records its end (and vice versa), so blocks
 * stay balanced. At most HX_FILTER_MAX patterns; returns HX_OK, HX_EINVAL (NULL or empty
 * pattern), HX_ENOSPC (too many patterns). Any thread; not async-signal-safe. */
#define HX_FILTER_MAX 64
HX_API int hx_name_enable(const char *pattern, int on);

/* ---------------------------------------------------------------------------------------------
 * Entities
 * ------------------------------------------------------------------------------------------- */
typedef enum hx_entity_kind {
	HX_ENTITY_THREAD = 1,    /* implicit: one per thread, named from the thread's name */
	HX_ENTITY_COROUTINE = 2,
	HX_ENTITY_TASK = 3,      /* event-loop task, callback chain, actor */
	HX_ENTITY_PROCESS = 4
} hx_entity_kind;

typedef enum hx_state {
	HX_STATE_RUNNING = 1,
	HX_STATE_WAITING = 2
} hx_state;

/* An explicit entity. Opaque; owned by the caller from hx_entity_begin() until hx_entity_end(). */
typedef struct hx_entity hx_entity;

/* Create an entity and record its ENTITY_BEGIN (its first event). The caller owns the handle and
 * must end it with hx_entity_end(). Returns NULL when tracing is off or memory is short (counted);
 * every function accepts a NULL entity and records nothing for it. The new entity inherits the
 * current trace of the calling entity. */
HX_API hx_entity *hx_entity_begin(const char *name, hx_entity_kind kind);

/* Make `e` the current entity of the calling thread (a coroutine resumes): records STATE running
 * on `e`. One thread at a time: entering an entity that another thread has entered is misuse and
 * records nothing. Enters nest: hx_entity_leave() returns to the previous current entity. */
HX_API void hx_entity_enter(hx_entity *e);

/* Leave the entity entered last (a coroutine suspends): records STATE waiting on it. */
HX_API void hx_entity_leave(void);

/* Record ENTITY_END on `e` and free the handle; `e` must not be used afterwards (a later use is
 * undefined: the handle is freed). Ending an entity that is entered ends it and leaves it. */
HX_API void hx_entity_end(hx_entity *e);

/* Record a state change of the current entity (waiting for I/O, a lock, a queue; running again).
 * `reason` names what it waits for (may be NULL for none). */
HX_API void hx_state_set(hx_state state, const char *reason);

/* Name the current thread's implicit entity now (recorded as an ANNOTATE with key "name"); by
 * default the thread's name is taken from pthread_getname_np() at its first event. */
HX_API void hx_thread_name(const char *name);

/* ---------------------------------------------------------------------------------------------
 * Events. Each call records exactly one event on the current entity.
 * ------------------------------------------------------------------------------------------- */
typedef enum hx_annotate_target {
	HX_TARGET_TRACE = 1,
	HX_TARGET_ENTITY = 2,
	HX_TARGET_BLOCK = 3
} hx_annotate_target;

/* Record BLOCK_BEGIN. Blocks nest; each must be ended on the same entity. */
HX_API void hx_block_begin_attrs(const char *name, const hx_attr *attrs, size_t nattrs);
/* Record BLOCK_END of the innermost open block. Without an open block: misuse, nothing recorded. */
HX_API void hx_block_end_attrs(const hx_attr *attrs, size_t nattrs);
/* Record POINT: an instant with a name and attributes. */
HX_API void hx_point_attrs(const char *name, const hx_attr *attrs, size_t nattrs);
/* Record COUNTER: a named numeric value with a unit (may be NULL), for counter tracks. */
HX_API void hx_counter(const char *name, double value, const char *unit);
HX_API void hx_counter_int(const char *name, int64_t value, const char *unit);
/* Record ERROR: marks the current block and trace as failed; `message` is the event's name. */
HX_API void hx_error_attrs(const char *message, const hx_attr *attrs, size_t nattrs);
/* Record ANNOTATE: add attributes to the current trace, entity or innermost block after it began.
 * Annotating a block or trace that is not open is misuse and records nothing. */
HX_API void hx_annotate(hx_annotate_target target, const hx_attr *attrs, size_t nattrs);

/* ---------------------------------------------------------------------------------------------
 * Interactions: a cause event on one side, effect events on the other (same or other entity,
 * process or host). One cause may have many effects (publish/subscribe, fork), and one effect many
 * causes (join).
 * ------------------------------------------------------------------------------------------- */
typedef enum hx_interaction {
	HX_IA_MESSAGE = 1, /* message send -> receive */
	HX_IA_REQUEST = 2, /* request -> server handling */
	HX_IA_REPLY = 3,   /* reply -> client resumption */
	HX_IA_ASYNC = 4,   /* async start -> completion */
	HX_IA_FORK = 5,    /* fork -> each child */
	HX_IA_JOIN = 6,    /* each child's end -> join */
	HX_IA_LOCK = 7,    /* lock release -> acquire */
	HX_IA_PUBLISH = 8, /* publish -> each subscriber */
	HX_IA_CAUSAL = 9   /* any other "caused by" */
} hx_interaction;

/* Record CAUSE (a send, publish, fork, release ...) and return its context for the effect side. */
HX_API hx_context hx_cause_attrs(hx_interaction kind, const char *name, const hx_attr *attrs, size_t nattrs);
/* Record EFFECT whose causes are ncauses contexts (1 for most kinds, several for a join). Contexts
 * without HX_CTX_VALID are skipped and counted; at most HX_CAUSE_MAX are recorded. A cause from
 * another trace is recorded as such (the entity stays in its trace). Returns the effect's context. */
#define HX_CAUSE_MAX 64
HX_API hx_context hx_effect_attrs(hx_interaction kind, const char *name, const hx_context *causes,
                           size_t ncauses, const hx_attr *attrs, size_t nattrs);

/* An EFFECT recorded while the current entity is waiting (hx_state_set(HX_STATE_WAITING, ...),
 * a contended hx_mutex) also ends the wait: the event carries the "resumes" flag, so readers see
 * the interaction as the cause of the resume and no separate STATE running event is needed.
 *
 * One pair of calls per hand-off kind, each side recording one event. The cause side returns the
 * context to hand over (in memory, or with haruspex/propagation.h across processes); the effect
 * side takes it. All are thin wrappers of hx_cause_attrs()/hx_effect_attrs() with the kind set.
 *
 *   message          hx_send(name) -> ctx                 hx_receive(name, &ctx)
 *   request/reply    client: hx_request(name) -> ctx       server: hx_request_received(name, &ctx)
 *                    server: hx_reply(name) -> ctx2        client: hx_reply_received(name, &ctx2)
 *   async            hx_async_start(name) -> ctx          hx_async_complete(name, &ctx)
 *   fork/join        parent: hx_fork(name) -> ctx          each child: hx_forked(name, &ctx)
 *                    each child: hx_child_done(name) -> c  parent: hx_join(name, cs, n)
 *   lock             hx_mutex (below) records release -> acquire when there is contention
 *   publish          hx_publish(name) -> ctx              each subscriber: hx_delivered(name, &ctx)
 *   anything else    hx_cause(HX_IA_CAUSAL, name) -> ctx  hx_caused_by(name, causes, n)
 */
#define HX__CAUSE_FN(fn, kind)                                                                   \
	static inline hx_context fn(const char *name)                                             \
	{                                                                                         \
		return hx_cause(kind, name);                                                      \
	}
#define HX__EFFECT_FN(fn, kind)                                                                  \
	static inline hx_context fn(const char *name, const hx_context *cause)                    \
	{                                                                                         \
		return hx_effect(kind, name, cause);                                              \
	}
#define HX__INTERACTION_FNS(XX)                                                                  \
	XX(send, receive, HX_IA_MESSAGE)                                                          \
	XX(request, request_received, HX_IA_REQUEST)                                              \
	XX(reply, reply_received, HX_IA_REPLY)                                                    \
	XX(async_start, async_complete, HX_IA_ASYNC)                                              \
	XX(fork, forked, HX_IA_FORK)                                                              \
	XX(publish, delivered, HX_IA_PUBLISH)

/* hx_child_done(): a forked child's last event, the cause of the parent's join. */
static inline hx_context hx_child_done(const char *name);
/* hx_join(): the parent's one event that depends on every child (n contexts). */
static inline hx_context hx_join(const char *name, const hx_context *children, size_t n);
/* hx_caused_by(): a generic effect of one or more causes. */
static inline hx_context hx_caused_by(const char *name, const hx_context *causes, size_t n);

/* A mutex that records lock hand-offs: an uncontended lock or unlock records nothing (it costs a
 * trylock and an atomic load over pthread_mutex_*); a thread that has to wait records STATE
 * waiting (reason: the mutex's name), the releasing thread records CAUSE (HX_IA_LOCK), and the
 * waiter records EFFECT (HX_IA_LOCK) when it gets the lock, which resumes it. Opaque; made by
 * hx_mutex_create() (copies the name; NULL when memory is short, and every hx_mutex_* function
 * then falls back to doing nothing: check the result) and freed by hx_mutex_destroy() when
 * unlocked. Works whether tracing is on or not; any thread, as a pthread mutex. */
typedef struct hx_mutex hx_mutex;
HX_API hx_mutex *hx_mutex_create(const char *name);
HX_API void hx_mutex_destroy(hx_mutex *m);
HX_API void hx_mutex_lock(hx_mutex *m);
HX_API int hx_mutex_trylock(hx_mutex *m); /* 0 when locked, EBUSY when held elsewhere */
HX_API void hx_mutex_unlock(hx_mutex *m);

/* ---------------------------------------------------------------------------------------------
 * Counts of what the library did not record. Any thread.
 * ------------------------------------------------------------------------------------------- */
/* Misuse and drop counters; their order is fixed (new ones are added at the end) and is the order
 * of the counters in the trace file header (docs/format.md). */
#define HX_COUNTER_MAP(XX)                                                                       \
	XX(DROPPED, "events dropped: the sink failed (unwritable directory, full disk)")          \
	XX(NULL_NAME, "NULL name or key, recorded as \"(null)\"")                                  \
	XX(NAME_TOO_LONG, "name, key or unit longer than HX_NAME_MAX, truncated")                  \
	XX(ATTRS_DROPPED, "attributes over HX_ATTR_MAX or a bad type, dropped")                    \
	XX(VALUE_TRUNCATED, "string or bytes value longer than HX_VALUE_MAX, truncated")           \
	XX(END_WITHOUT_BEGIN, "block end without an open block, ignored")                          \
	XX(BAD_ENTITY, "NULL, ended, foreign or concurrently entered entity, ignored")             \
	XX(LEAVE_WITHOUT_ENTER, "entity leave without enter, ignored")                             \
	XX(NO_TRACE, "trace end or trace annotation without a current trace, ignored")            \
	XX(BAD_CONTEXT, "invalid or NULL context, ignored")                                        \
	XX(AFTER_SHUTDOWN, "call after hx_shutdown(), ignored")                                    \
	XX(AFTER_FORK, "entity from before a fork() or an earlier hx_init() used, ignored")       \
	XX(BAD_ARGUMENT, "other invalid argument (bad kind, target or state), ignored")            \
	XX(REENTRANT, "recording call nested in another on the same thread (signal handler, callback), ignored")                       \
	XX(FILES_DELETED, "old trace files deleted by the max_files limit")                        \
	XX(SLOW_CHUNKS, "chunks mapped on the recording thread because none was ready")          \
	XX(BAD_HEADER, "malformed propagation header or member (traceparent, tracestate, baggage, binary context) rejected") \
	XX(BAGGAGE_DROPPED, "baggage entries dropped: over the W3C limits, or the trace table was full")

typedef enum hx_counter_id {
#define HX__CTR_ENUM(name, text) HX_COUNT_##name,
	HX_COUNTER_MAP(HX__CTR_ENUM)
#undef HX__CTR_ENUM
	HX_COUNT__MAX
} hx_counter_id;

typedef struct hx_stats {
	uint64_t count[HX_COUNT__MAX]; /* indexed by hx_counter_id */
	uint64_t events;               /* events recorded since the process started */
} hx_stats;

/* Copy the current counters (cumulative since the process started). */
HX_API void hx_stats_get(hx_stats *out);
/* The short name ("dropped", "null_name" ...) and the description of a counter; NULL if unknown. */
HX_API const char *hx_counter_name(int id);
HX_API const char *hx_counter_text(int id);

/* ---------------------------------------------------------------------------------------------
 * Decoded events: what the callback sink receives and what the reader (haruspex/reader.h) returns.
 * ------------------------------------------------------------------------------------------- */
typedef enum hx_event_kind {
	HX_EV_ENTITY_BEGIN = 0x10,
	HX_EV_ENTITY_END = 0x11,
	HX_EV_TRACE_BEGIN = 0x12,
	HX_EV_TRACE_JOIN = 0x13,
	HX_EV_TRACE_END = 0x14,
	HX_EV_BLOCK_BEGIN = 0x15,
	HX_EV_BLOCK_END = 0x16,
	HX_EV_POINT = 0x17,
	HX_EV_COUNTER = 0x18,
	HX_EV_ERROR = 0x19,
	HX_EV_STATE = 0x1a,
	HX_EV_ANNOTATE = 0x1b,
	HX_EV_CAUSE = 0x1c,
	HX_EV_EFFECT = 0x1d
} hx_event_kind;

/* A decoded event. Every pointer is owned by whoever produced the event (the library during a
 * callback, the reader until its next call) and is valid only until then. Fields that do not apply
 * to a kind are zero. New fields are only ever added at the end. */
typedef struct hx_event {
	hx_event_kind kind;
	uint64_t time_ns;       /* ns since the Unix epoch (monotonic per entity) */
	uint64_t entity_id;
	uint64_t seq;           /* sequence number on the entity: (entity_id, seq) is the event ID */
	uint8_t trace_id[16];   /* the trace the entity was in; all zero outside any trace */
	const char *name;       /* NUL-terminated; "" for kinds without a name; for STATE the reason
	                           ("" if none) */
	size_t name_len;
	const hx_attr *attrs;   /* string values point into the record: use v.s.len, not strlen */
	size_t nattrs;
	/* kind-specific */
	hx_entity_kind entity_kind;  /* ENTITY_BEGIN */
	uint64_t tid;                /* ENTITY_BEGIN of a thread: the kernel thread ID */
	hx_state state;              /* STATE */
	hx_annotate_target target;   /* ANNOTATE */
	hx_interaction interaction;  /* CAUSE, EFFECT, TRACE_JOIN (HX_IA_CAUSAL) */
	const hx_context *causes;    /* EFFECT, TRACE_JOIN */
	size_t ncauses;
	const char *unit;            /* COUNTER; "" if none */
	int counter_is_int;          /* COUNTER: 1 if counter_int holds the value */
	int64_t counter_int;
	double counter_double;
	uint64_t parent_id;          /* ENTITY_BEGIN: the entity that created it (0 for threads) */
	int resumes;                 /* EFFECT: the entity was waiting, and this effect (its cause)
	                                ended the wait: the effect is also a STATE running */
	uint64_t time_orig_ns;       /* the time as recorded, before any clock alignment by a reader
	                                that joins hosts (equal to time_ns when none was applied) */
} hx_event;

/* Static names: "point", "block_begin" ..., "message", "request" ..., NULL if unknown. */
HX_API const char *hx_event_kind_name(int kind);
HX_API const char *hx_interaction_name(int kind);

/* ---------------------------------------------------------------------------------------------
 * Internal: the off switch read by the inline wrappers below. Not part of the API.
 * 0 = never started, 1 = on, 2 = shut down.
 * ------------------------------------------------------------------------------------------- */
extern HX_API volatile int hx__state;
HX_API size_t hx__strlen(const char *s); /* strlen that maps NULL to 0 (for HX_STR) */
/* Internal: a thread whose current entity is in a sampled-out trace holds the current mute epoch
 * in hx__tls_mute, so the inline points below skip the call altogether (a couple of loads). The
 * epoch changes at every hx_init(), hx_shutdown() and fork(), which retires stale values. */
#if defined(__GNUC__)
extern HX_API __thread unsigned hx__tls_mute __attribute__((tls_model("initial-exec")));
extern HX_API volatile unsigned hx__mute_epoch;
#define HX__RECORDING() (HX__UNLIKELY(hx__state) && hx__tls_mute != hx__mute_epoch)
#else
#define HX__RECORDING() HX__UNLIKELY(hx__state)
#endif

#if defined(__GNUC__)
#define HX__UNLIKELY(x) __builtin_expect(!!(x), 0)
#else
#define HX__UNLIKELY(x) (x)
#endif

/* Short forms. Each is one load and a not-taken branch while tracing is off. */
static inline void hx_point(const char *name)
{
	if (HX__RECORDING())
		hx_point_attrs(name, NULL, 0);
}
static inline void hx_block_begin(const char *name)
{
	if (HX__UNLIKELY(hx__state))
		hx_block_begin_attrs(name, NULL, 0);
}
static inline void hx_block_end(void)
{
	if (HX__UNLIKELY(hx__state))
		hx_block_end_attrs(NULL, 0);
}
static inline void hx_error(const char *message)
{
	if (HX__RECORDING())
		hx_error_attrs(message, NULL, 0);
}
static inline hx_context hx_cause(hx_interaction kind, const char *name)
{
	if (HX__UNLIKELY(hx__state))
		return hx_cause_attrs(kind, name, NULL, 0);
	hx_context none = {{0}, 0, 0, 0, 0};
	return none;
}
static inline hx_context hx_effect(hx_interaction kind, const char *name, const hx_context *cause)
{
	if (HX__UNLIKELY(hx__state))
		return hx_effect_attrs(kind, name, cause, 1, NULL, 0);
	hx_context none = {{0}, 0, 0, 0, 0};
	return none;
}

#define HX__PAIR_FNS(cause_fn, effect_fn, kind)                                                  \
	HX__CAUSE_FN(hx_##cause_fn, kind)                                                         \
	HX__EFFECT_FN(hx_##effect_fn, kind)
HX__INTERACTION_FNS(HX__PAIR_FNS)
#undef HX__PAIR_FNS

static inline hx_context hx_child_done(const char *name)
{
	return hx_cause(HX_IA_JOIN, name);
}
static inline hx_context hx_join(const char *name, const hx_context *children, size_t n)
{
	if (HX__UNLIKELY(hx__state))
		return hx_effect_attrs(HX_IA_JOIN, name, children, n, NULL, 0);
	hx_context none = {{0}, 0, 0, 0, 0};
	return none;
}
static inline hx_context hx_caused_by(const char *name, const hx_context *causes, size_t n)
{
	if (HX__UNLIKELY(hx__state))
		return hx_effect_attrs(HX_IA_CAUSAL, name, causes, n, NULL, 0);
	hx_context none = {{0}, 0, 0, 0, 0};
	return none;
}

/* HX_POINT_WITH("read", HX_INT("bytes", n), HX_STR("path", p)) */
#define HX_POINT_WITH(name, ...)                                                                  \
	(HX__RECORDING() ? hx_point_attrs((name), HX_ATTRS(__VA_ARGS__)) : (void)0)
#define HX_BLOCK_BEGIN_WITH(name, ...) hx_block_begin_attrs((name), HX_ATTRS(__VA_ARGS__))

/* HX_SCOPE("name"): a block that ends when the enclosing C scope exits (GCC/Clang cleanup
 * attribute, so early returns and breaks end it too); the end is recorded only if the begin was
 * (tracing may start or stop inside the scope). HX_FUNC(): the same, named after the function.
 * One per scope line. */
#if defined(__GNUC__)
static inline void hx__scope_end(int *begun)
{
	if (*begun)
		hx_block_end_attrs(NULL, 0);
}
static inline int hx__scope_begin(const char *name)
{
	if (HX__UNLIKELY(hx__state)) {
		hx_block_begin_attrs(name, NULL, 0);
		return 1;
	}
	return 0;
}
#define HX__CAT2(a, b) a##b
#define HX__CAT(a, b) HX__CAT2(a, b)
#define HX_SCOPE(name)                                                                            \
	int HX__CAT(hx__scope_, __LINE__) __attribute__((cleanup(hx__scope_end), unused)) =        \
	    hx__scope_begin(name)
#define HX_FUNC() HX_SCOPE(__func__)
#endif

#ifdef __cplusplus
}
#endif
#endif /* HARUSPEX_H */
