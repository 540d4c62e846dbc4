/*
 * server.h - `hx serve`'s internals: the pieces of the service and the one context they share.
 *
 * THREADS
 *   ingest thread (the caller of hx__serve_run): one libevent loop for the native listener and
 *       its connections (ingest.c), the signals, and the ACKs;
 *   http thread: a second libevent loop for the HTTP API (http.c, api_*.c), so a slow query never
 *       stalls ingest;
 *   commit thread (commit.c): takes every batch queued since its last round, appends them to the
 *       store and makes them durable with one hx_store_commit() (group commit), then hands each
 *       batch back to the loop that queued it, which acknowledges it (ACK frame, HTTP 202).
 *   extraction thread (extract.c): once a second, extracts the features of the traces that are
 *       complete into features.db (the commit thread tells it which traces got events); it
 *       reads the store like a query.
 *   Only the commit thread appends and commits; queries run on the http thread, under store_lock
 *   when the backend does not allow concurrent reads (hx_store_info.concurrent_reads).
 *
 * MEMORY
 *   Every byte that an outside peer can make the service hold is charged to one budget
 *   (mem_used / mem_budget): each connection's receive window, each queued batch. When the budget
 *   or the queue's depth is reached, the ingest loop stops reading from every connection (libevent
 *   EV_READ off) and the http loop answers POST /api/events with 503, until the commit thread has
 *   drained it to three quarters. The rest of --memory-limit goes to the fixed scratch buffers
 *   (one inflated frame, one copy group, one HTTP response) and to the store's own buffer; serve.c
 *   splits it (hx__limits_init).
 *
 * Naming: hx__srv_* for what serve.c offers the other files, hx__<file>_* otherwise. Nothing here
 * is public API.
 */
#ifndef HX_SERVER_H
#define HX_SERVER_H

#include <event2/listener.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "format/text.h"
#include "net/proto.h"
#include "server/query.h"
#include "store/store.h"

struct event_base;
struct event;
struct evhttp;
struct evhttp_request;
struct bufferevent;
struct ssl_ctx_st;

/* ---- configuration (cmd_serve.c fills it) ---- */

typedef struct hx__serve_config {
	const char *data_dir;        /* the store's directory */
	const char *listen;          /* native listener HOST:PORT */
	const char *http;            /* HTTP listener HOST:PORT */
	const char *token;           /* bearer token, NULL for none */
	const char *tls_cert, *tls_key; /* PEM files: TLS on the native listener when both are set */
	uint64_t memory_limit;       /* bytes */
	uint64_t max_frame;          /* payload bytes of one native frame; 0 = default */
	uint64_t retention_bytes;    /* 0 = unlimited */
	uint64_t retention_age_ns;   /* 0 = unlimited */
	const char *kafka_url;       /* kafka://BROKERS/TOPIC to consume, or NULL */
	const char *kafka_group;     /* consumer group; NULL = "hx-serve" */
	uint64_t complete_idle_ns;   /* a trace is complete this long after its last event (once
	                                its root ended); 0 = HX__COMPLETE_IDLE_DEFAULT (extract.c) */
	const char *analysis_attrs;  /* attribute keys kept as features, comma-separated, or NULL */
	uint64_t view_cache;         /* bytes of viewer models kept (api_view.c); 0 = memory_limit/4 */
	/* `hx view` (cmd_view.c): the same service over the traces it loaded, HTTP only */
	int no_native;               /* no native listener, no Kafka */
	const struct hx__clock_entry *clock_offsets; /* what clock alignment added, per process */
	size_t nclock_offsets;
	const uint8_t *warm_trace;   /* a trace whose model is built before ready() (NULL: none) */
	struct hx__view **warm_model; /* or its model, built while loading: the service takes it
	                                 into its cache (*warm_model = NULL); left: the caller's */
	/* Events outside any trace that name entities (ENTITY_BEGIN, "name" annotations): the store
	 * keeps traced events only, and a thread's ENTITY_BEGIN usually comes before its first
	 * trace. The viewer's loader gives them to the model of every trace the entity is in. */
	const struct hx_event *entity_events;
	size_t nentity_events;
	/* once listening, instead of printing the "listening" line; NULL for hx serve */
	void (*ready)(const char *http_addr, void *arg);
	void *ready_arg;
} hx__serve_config;

/* The clock offset `hx view` applied to one process, for the viewer's model (time_orig_ns). */
typedef struct hx__clock_entry {
	uint8_t instance[16];
	uint64_t pid;
	int64_t offset_ns;
} hx__clock_entry;

#define HX__SERVE_LISTEN_DEFAULT "127.0.0.1:7311"
#define HX__SERVE_HTTP_DEFAULT "127.0.0.1:7312"
#define HX__SERVE_MEMORY_DEFAULT (512ull << 20)
#define HX__SERVE_MEMORY_MIN (16ull << 20)

/* Run the service until SIGTERM or SIGINT. Prints the listening line on stdout; complaints go to
 * stderr prefixed "hx serve: ". Returns 0 after a clean stop, 2 when it could not start. */
int hx__serve_run(const hx__serve_config *cfg);

/* ---- limits derived from the configuration (serve.c) ---- */

typedef struct hx__limits {
	uint64_t memory_limit;
	size_t mem_budget;           /* connection windows + queued batches */
	size_t queue_max;            /* batches queued or committing */
	uint32_t max_frame;          /* native frame payload; also POST /api/events raw body */
	size_t inflate_max;          /* a decompressed frame or body */
	size_t response_max;         /* one HTTP response body */
	uint64_t store_memory;       /* hx_store_config.memory_limit */
	size_t max_connections;      /* native connections */
} hx__limits;

/* 0, or -1 with a message in err when the configuration cannot fit the memory limit. */
int hx__limits_init(hx__limits *l, const hx__serve_config *cfg, char *err, size_t errlen);

/* ---- metrics (metrics.c) ---- */

#define HX__HTTP_CODES 600

/* Counters only grow; gauges are set. Every field is atomic: any thread updates, any reads. */
typedef struct hx__metrics {
	_Atomic uint64_t events_received, bytes_received, batches_acked, events_duplicate;
	_Atomic uint64_t events_stored, commits;
	_Atomic uint64_t frames_rejected[HX_REASON__COUNT];
	_Atomic uint64_t queue_depth, queue_bytes;         /* gauges */
	_Atomic uint64_t store_bytes, store_events, store_traces; /* gauges, after each commit */
	_Atomic uint64_t connections, http_connections;    /* gauges */
	_Atomic uint64_t http_requests[HX__HTTP_CODES];    /* by status code */
	_Atomic uint64_t store_errors;                     /* failed appends and commits (retried) */
	_Atomic int store_ok;                              /* 1 while the store accepts writes */
	_Atomic int store_last_error;                      /* hx_result of the last failure */
	_Atomic int64_t kafka_lag;                         /* gauge: -1 = unknown or no consumer */
	_Atomic int64_t kafka_partitions;                  /* gauge */
	_Atomic uint64_t traces_extracted, extraction_errors; /* extract.c: counters */
	_Atomic uint64_t extract_tracked, extract_dropped;  /* traces tracked (gauge), dropped */
	int kafka;                                         /* a consumer is configured (set once) */
} hx__metrics;

void hx__metrics_init(hx__metrics *m);
void hx__metrics_reject(hx__metrics *m, int reason);
void hx__metrics_http(hx__metrics *m, int code);
/* The Prometheus text exposition of every metric. HX_OK or HX_ENOMEM. */
int hx__metrics_render(hx__metrics *m, hx__buf *out);

/* ---- event loops and the batches that travel between them (commit.c) ---- */

struct hx__server;

/* A libevent loop that batches come back to once committed. `done` is filled by the commit
 * thread (under lock) and emptied by the loop's own thread when `notify` fires. */
typedef struct hx__loop {
	struct hx__server *srv;
	struct event_base *base;
	struct event *notify;
	pthread_mutex_t lock;        /* protects done_head/done_tail */
	struct hx__item *done_head, *done_tail;
	void (*after_done)(struct hx__loop *l); /* run after a round of done items; may be NULL */
} hx__loop;

int hx__loop_init(hx__loop *l, struct hx__server *srv);
void hx__loop_free(hx__loop *l);
/* Run every done item's callback now (the loop's thread, or any thread once the loop stopped). */
void hx__loop_drain(hx__loop *l);

/* One batch on its way to the store. Created by its loop (ingest.c, api_events.c), read by the
 * commit thread while queued, finished (done callback, then hx__item_free) by its loop. */
typedef struct hx__item {
	struct hx__item *next;
	hx__loop *loop;
	void (*done)(struct hx__item *it);   /* on the loop's thread: acknowledge or fail */
	void *owner;                          /* the connection or the HTTP request state */
	uint64_t seq;                         /* BATCH sequence number (native) */
	int status;                           /* set by the commit thread: HX_OK, or why not */
	uint8_t *data;                        /* the batch bytes, owned */
	size_t len;
	hx_batch_info info;                   /* parsed from data */
	hx_store_proc proc;                   /* strings in strs */
	char *strs;
	size_t nevents;                       /* events in the batch */
	size_t appended;                      /* events appended so far (a retry resumes here) */
	size_t stored, duplicates;
	size_t charge;                        /* bytes charged to the memory budget */
} hx__item;

/* Make an item that takes ownership of data (malloc'd, len bytes: a batch without the BATCH
 * frame's sequence number). Parses and checks the whole batch; on failure returns NULL with
 * *reason set (BAD_BATCH, BAD_RECORD) or HX_REASON_NONE for a memory shortage, and frees data. */
hx__item *hx__item_new(struct hx__server *srv, uint8_t *data, size_t len, hx_proto_reason *reason);
void hx__item_free(struct hx__server *srv, hx__item *it); /* releases its charge */

/* Queue an item for the commit thread; it comes back through its loop's done list. Never blocks:
 * callers check hx__srv_overloaded() before taking more input. */
void hx__commit_enqueue(struct hx__server *srv, hx__item *it);
int hx__commit_start(struct hx__server *srv);
/* Ask the commit thread to finish what is queued and stop; wait for it. */
void hx__commit_stop(struct hx__server *srv);

/* ---- the event copies the commit thread appends (evcopy.c) ---- */

/* A group of events deep-copied out of a batch decoder's callback, for one hx_store_append. */
typedef struct hx__evcopy {
	hx_event *ev;
	size_t n, cap;
	struct hx__evblock *blocks;   /* bump allocator for names, attributes, causes */
	size_t bytes;                 /* bytes allocated in blocks */
} hx__evcopy;

void hx__evcopy_init(hx__evcopy *c);
void hx__evcopy_reset(hx__evcopy *c);   /* keeps one block */
void hx__evcopy_free(hx__evcopy *c);
int hx__evcopy_add(hx__evcopy *c, const hx_event *ev); /* HX_OK or HX_ENOMEM */

/* ---- native ingest (ingest.c) ---- */

int hx__ingest_start(struct hx__server *srv);   /* bind the listener */
void hx__ingest_stop_accepting(struct hx__server *srv);
void hx__ingest_close_all(struct hx__server *srv); /* flush and close every connection */
void hx__ingest_resume(hx__loop *l);             /* after_done of the ingest loop */
void hx__ingest_pause_all(struct hx__server *srv);

/* ---- Kafka (kafka_ingest.c) ---- */

/* With cfg.kafka_url: join the group and consume on the ingest loop (see kafka_ingest.c). 0, or -1
 * after a message. Without: nothing, 0. */
int hx__kafka_ingest_start(struct hx__server *srv);
/* After the commit thread stopped and the ingest loop drained: commit what was stored, leave. */
void hx__kafka_ingest_stop(struct hx__server *srv);

/* ---- TLS (tls.c) ---- */

/* An SSL_CTX for a server with this certificate chain and key; NULL with a message in err. */
struct ssl_ctx_st *hx__tls_server_ctx(const char *cert, const char *key, char *err, size_t errlen);
void hx__tls_ctx_free(struct ssl_ctx_st *ctx);
/* A bufferevent for an accepted socket: TLS when ctx is set, plain otherwise. NULL on failure
 * (the socket is then closed). */
struct bufferevent *hx__tls_bufferevent(struct event_base *base, int fd, struct ssl_ctx_st *ctx);

/* ---- HTTP (http.c and the api_*.c handlers) ---- */

/* A handler answers every request it gets (hx__http_reply / hx__http_error), now or later. */
typedef void (*hx__route_fn)(struct hx__server *srv, struct evhttp_request *req, const char *tail,
                             const char *query);

int hx__http_start(struct hx__server *srv);   /* bind; handlers run on the http loop */
void hx__http_free(struct hx__server *srv);

/* Send a response; body may be NULL. Counts it in hx_http_requests_total{code}. */
void hx__http_reply(struct hx__server *srv, struct evhttp_request *req, int code,
                    const char *content_type, const void *body, size_t len);
/* The same with a body built in an hx__buf, which is taken over (and left empty). */
void hx__http_reply_buf(struct hx__server *srv, struct evhttp_request *req, int code,
                        const char *content_type, hx__buf *body);
/* {"error":"<msg>"} with the given status. */
void hx__http_error(struct hx__server *srv, struct evhttp_request *req, int code, const char *msg);
/* Run a store query from the http thread: the lock when the backend needs it. */
void hx__store_read_lock(struct hx__server *srv);
void hx__store_read_unlock(struct hx__server *srv);

void hx__api_traces(struct hx__server *srv, struct evhttp_request *req, const char *tail,
                    const char *query);
void hx__api_trace(struct hx__server *srv, struct evhttp_request *req, const char *tail,
                   const char *query);
void hx__api_services(struct hx__server *srv, struct evhttp_request *req, const char *tail,
                      const char *query);
void hx__api_names(struct hx__server *srv, struct evhttp_request *req, const char *tail,
                   const char *query);
void hx__api_health(struct hx__server *srv, struct evhttp_request *req, const char *tail,
                    const char *query);
void hx__api_metrics(struct hx__server *srv, struct evhttp_request *req, const char *tail,
                     const char *query);
void hx__api_events(struct hx__server *srv, struct evhttp_request *req, const char *tail,
                    const char *query);
/* api_import.c: OTLP/HTTP JSON and Zipkin v2 JSON spans, imported (src/import/import.h) */
void hx__api_otlp_traces(struct hx__server *srv, struct evhttp_request *req, const char *tail,
                         const char *query);
void hx__api_zipkin_spans(struct hx__server *srv, struct evhttp_request *req, const char *tail,
                          const char *query);

/* ---- continuous analysis (extract.c, api_analysis.c; docs/operations.md) ---- */

#define HX__COMPLETE_IDLE_DEFAULT (30ull * 1000000000ull)

/* Open DATA/features.db and start the extraction thread (after the store is open). 0, or -1
 * after a message. */
int hx__extract_start(struct hx__server *srv);
/* Stop the thread and close the database (before the store closes); nothing when not started. */
void hx__extract_stop(struct hx__server *srv);
/* The commit thread appended these events (any number, of any traces). */
void hx__extract_note(struct hx__server *srv, const hx_event *ev, size_t n);
/* Extract every trace of the store now, on the caller's thread (hx view, after loading its
 * files): opens features.db when hx__extract_start was not called. HX_OK or an error. */
int hx__extract_all_now(struct hx__server *srv);
struct hx__fdb *hx__extract_db(struct hx__server *srv);   /* NULL when not started */

void hx__api_aggregates(struct hx__server *srv, struct evhttp_request *req, const char *tail,
                        const char *query);
void hx__api_dependencies(struct hx__server *srv, struct evhttp_request *req, const char *tail,
                          const char *query);
void hx__api_complete(struct hx__server *srv, struct evhttp_request *req, const char *tail,
                      const char *query);

/* The viewer: its endpoints, model cache and build threads (api_view.c), its files (assets.c). */
void hx__api_view(struct hx__server *srv, struct evhttp_request *req, const char *tail,
                  const char *query);
void hx__static_index(struct hx__server *srv, struct evhttp_request *req, const char *tail,
                      const char *query);
void hx__static_asset(struct hx__server *srv, struct evhttp_request *req, const char *tail,
                      const char *query);
int hx__viewer_start(struct hx__server *srv);   /* srv->views and the build threads; 0 or -1 */
/* The model of a trace, built now on the calling thread (if not cached), or cfg.warm_model's
 * taken into the cache: HX_OK or why not. */
int hx__viewer_warm(struct hx__server *srv, const uint8_t trace_id[16]);
void hx__viewer_stop(struct hx__server *srv);   /* join the build threads (http loop stopped) */
void hx__viewer_free(struct hx__server *srv);   /* after hx__http_free, before the loops go */

/* ---- inflating zstd (inflate.c) ---- */

/* Decompress src into a new malloc'd buffer of at most max bytes. HX_OK with *out and *out_len, or
 * HX_EFORMAT with *reason BAD_COMPRESSION (not a valid zstd frame) or INFLATE_LIMIT (more than
 * max bytes), or HX_ENOMEM. */
int hx__inflate(const uint8_t *src, size_t len, size_t max, uint8_t **out, size_t *out_len,
                hx_proto_reason *reason);

/* ---- the service (serve.c) ---- */

typedef struct hx__conn hx__conn;

typedef struct hx__server {
	hx__serve_config cfg;
	hx__limits lim;
	hx_store *store;
	int store_concurrent;        /* hx_store_info.concurrent_reads */
	pthread_mutex_t store_lock;  /* queries vs appends when !store_concurrent */
	hx__metrics m;

	_Atomic size_t mem_used;     /* charged bytes (see MEMORY above) */
	_Atomic int ingest_paused;   /* the ingest loop stopped reading for lack of budget */
	_Atomic int stopping;        /* a signal arrived */

	hx__loop ingest, http;
	pthread_t http_thread;
	int http_running;

	/* commit thread (commit.c): queue under qlock */
	pthread_mutex_t qlock;
	pthread_cond_t qcond;
	hx__item *qhead, *qtail;
	int qstop;
	pthread_t commit_thread;
	int commit_running;

	/* native ingest (ingest.c): ingest thread only */
	struct evconnlistener *listener;
	struct ssl_ctx_st *tls;
	hx__conn *conns;             /* every open connection */
	size_t nconns;
	char native_addr[80];

	/* HTTP (http.c): http thread only (after start) */
	struct evhttp *evh;
	char http_addr[80];

	struct event *sig_term, *sig_int, *stop_timer;
	struct hx__kafka_ingest *kafka; /* kafka_ingest.c, ingest thread only */

	struct hx__view_cache *views;   /* api_view.c: models of traces for the viewer (any thread) */
	struct hx__viewer *viewer;      /* api_view.c: the build threads and their queues */
	struct hx__extract *extract;    /* extract.c: completeness tracking, features, aggregates */
} hx__server;

/* Budget: charge/release bytes (any thread). Releasing wakes a paused ingest loop when the
 * budget falls to three quarters. */
void hx__srv_charge(hx__server *srv, size_t n);
void hx__srv_release(hx__server *srv, size_t n);
/* 1 when no more input should be taken: the budget or the queue is full. */
int hx__srv_overloaded(hx__server *srv);
/* 1 when a paused ingest loop may read again (hysteresis: three quarters). */
int hx__srv_can_resume(hx__server *srv);

/* Listen on addr ("HOST:PORT", "[V6]:PORT"; port 0 picks one) with cb (NULL: set later, as
 * evhttp does); the address actually bound goes to name ("HOST:PORT"). NULL with err set. */
struct evconnlistener *hx__srv_listen(struct event_base *base, const char *addr,
                                      evconnlistener_cb cb, void *arg, char *name,
                                      size_t namelen, char *err, size_t errlen);

/* Constant-time comparison of a presented token with the configured one; 1 when they match or no
 * token is configured. */
int hx__srv_token_ok(const hx__server *srv, const char *tok, size_t len);

/* One line on stderr, "hx serve: ..." plus a newline, written whole (any thread). */
void hx__srv_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif /* HX_SERVER_H */
