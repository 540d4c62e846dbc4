/*
 * extract.c - continuous analysis in `hx serve`: which traces are complete, and the thread that
 * extracts their features into features.db (docs/operations.md, "Continuous analysis").
 *
 * COMPLETENESS. A trace is complete when its root ended and no event of it arrived for
 * --complete-idle (default 30 s); one whose root end was never seen (a root that crashed, spans
 * imported over OTLP or Zipkin, a root that switched to its next trace without TRACE_END) is taken
 * as complete after ten times that. "The root ended" is a TRACE_END on the entity of the trace's
 * TRACE_BEGIN, or that entity beginning or joining another trace (hx_trace_begin leaves the
 * current trace without TRACE_END: the switch is its end).
 *
 * THE TRACKER. The commit thread reports every group of events it appended (hx__extract_note):
 * per trace the time it last got events (monotonic), its root entity, whether that root ended.
 * Traces sit in a hash table and in a list ordered by that time, oldest first, so the extraction
 * thread finds the idle ones at the head of the list without looking at the others. Noting at
 * append time rather than after the commit spares a second decoding of every batch; a commit that
 * fails appends the same events again (commit.c), which notes them again, and the idle time is
 * orders of magnitude longer than a commit.
 *
 * MEMORY. At most --memory-limit / 4096 traces are tracked (131,072 for the default 512 MiB; at
 * least 1024), each ~100 bytes with its hash slots. When a new trace finds the table full, the
 * oldest is taken out and queued to be extracted at once ("early", up to 4096 of them); when that
 * queue is full too it is dropped and counted (hx_extract_dropped_total). A trace with more than
 * max_events events is not extracted (its DAG would not fit): counted as an error and logged.
 *
 * THE THREAD wakes every second: takes the complete traces (and the early ones), extracts them
 * (extract_trace.c) in transactions of up to 64, and every minute, when a retention limit is set,
 * removes the rows of traces the store no longer has. At start it catches up: the newest traces of
 * the store whose features are missing or older than their events (the service stopped before
 * they were complete, or features.db was deleted) are tracked as if they had just arrived.
 *
 * A trace that gets events after it was extracted is tracked again and extracted again when it is
 * complete again; its row is replaced (and gets a new place in the completion log).
 *
 * Locks: x->lock protects the tracker (commit thread, extraction thread); x->work makes one
 * extraction run at a time (the thread, or hx__extract_all_now from another).
 */
#include "server/extract.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define NONE UINT32_MAX
#define TRACK_MIN 1024u
#define TRACK_PER_BYTES 4096u      /* one tracked trace per this many bytes of --memory-limit */
#define EARLY_MAX 4096u
#define ROUND_MAX 1024u            /* traces taken per round */
#define CHECK_MAX 256u             /* features.db look-ups per round (see take_ready) */
#define TXN_TRACES 64u
#define IDLE_FACTOR 10u            /* complete without a root end after 10 x --complete-idle */
#define RETAIN_EVERY_NS (60ull * 1000000000ull)
#define RETAIN_CHECK_MAX 100000u   /* traces checked per retention round */
#define RETAIN_RUN 1000u           /* consecutive traces still in the store that end it */
#define CATCHUP_MAX 100000u
#define CATCHUP_RUN 1000u
#define LOG_EVERY_NS (10ull * 1000000000ull)

enum {
	F_ROOT_ENDED = 0x1,          /* its root entity left it */
	F_RECOVERED = 0x2,           /* tracked by the catch-up at start: complete once idle */
	F_CHECKED = 0x4              /* features.db was asked whether it ended before */
};

typedef struct tentry {
	uint8_t tid[16];
	uint64_t last_ns;            /* monotonic: when it last got events */
	uint64_t root_entity;        /* entity of its TRACE_BEGIN, 0 before it arrived */
	uint64_t ended[2];           /* entities whose TRACE_END arrived (before the BEGIN did) */
	uint64_t want_events;        /* F_RECOVERED: the store's events when it was found */
	uint32_t prev, next;         /* the list by last_ns; next also links the free entries */
	uint8_t flags, used;
} tentry;

typedef struct early {
	uint8_t tid[16];
	uint8_t flags;
} early;

typedef struct rslot {
	uint64_t entity;             /* 0: empty */
	uint32_t idx;                /* the trace it is the root of */
} rslot;

struct hx__extract {
	hx__server *srv;
	hx__fdb *db;
	hx__xconf conf;
	uint64_t idle_ns;
	char *keys_buf;
	const char *keys[HX__FEAT_MAX_ATTRS + 1];

	pthread_mutex_t lock;        /* everything down to `early` */
	pthread_cond_t cond;
	int stop;
	tentry *e;
	size_t cap, n;
	uint32_t free_head, head, tail;
	uint32_t *slot;              /* trace ID -> entry index + 1 (0 empty), linear probing */
	rslot *root;                 /* root entity -> entry, linear probing */
	size_t nslots;               /* of both tables: a power of two >= 2 cap */
	early *early;
	size_t nearly;

	pthread_mutex_t work;        /* one extraction run at a time */
	hx__xscratch *scratch;       /* under work */
	pthread_t thread;
	int running;
	/* the thread's own */
	uint64_t last_retain, last_log;
	uint64_t logged_errors;
};

static uint64_t mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* ---- the tables ---- */

static size_t hash_tid(const hx__extract *x, const uint8_t tid[16])
{
	/* the last 8 bytes of a trace ID are random: fold them */
	uint64_t h = 0;
	for (int i = 8; i < 16; i++)
		h = h << 8 | tid[i];
	h ^= (uint64_t)tid[5] << 17 ^ (uint64_t)tid[4] << 29; /* some of the time part too */
	h *= 0x9e3779b97f4a7c15ull;
	return (size_t)(h >> 20) & (x->nslots - 1);
}

static size_t hash_ent(const hx__extract *x, uint64_t ent)
{
	return (size_t)((ent * 0x9e3779b97f4a7c15ull) >> 20) & (x->nslots - 1);
}

static uint32_t t_find(const hx__extract *x, const uint8_t tid[16])
{
	for (size_t i = hash_tid(x, tid); x->slot[i]; i = (i + 1) & (x->nslots - 1))
		if (!memcmp(x->e[x->slot[i] - 1].tid, tid, 16))
			return x->slot[i] - 1;
	return NONE;
}

/* Remove slot i of a linear-probing table, moving later members of its run back (no
 * tombstones, so lookups stay short however long the service runs). */
static void t_unslot(hx__extract *x, size_t i)
{
	size_t mask = x->nslots - 1;
	x->slot[i] = 0;
	for (size_t j = (i + 1) & mask; x->slot[j]; j = (j + 1) & mask) {
		size_t home = hash_tid(x, x->e[x->slot[j] - 1].tid);
		/* move j to the hole when its home is not in (i, j] cyclically */
		if ((j > i && (home <= i || home > j)) || (j < i && home <= i && home > j)) {
			x->slot[i] = x->slot[j];
			x->slot[j] = 0;
			i = j;
		}
	}
}

static size_t r_pos(const hx__extract *x, uint64_t ent)
{
	size_t i = hash_ent(x, ent);
	while (x->root[i].entity && x->root[i].entity != ent)
		i = (i + 1) & (x->nslots - 1);
	return i;
}

static void r_del(hx__extract *x, uint64_t ent)
{
	size_t mask = x->nslots - 1, i = r_pos(x, ent);
	if (!x->root[i].entity)
		return;
	x->root[i].entity = 0;
	for (size_t j = (i + 1) & mask; x->root[j].entity; j = (j + 1) & mask) {
		size_t home = hash_ent(x, x->root[j].entity);
		if ((j > i && (home <= i || home > j)) || (j < i && home <= i && home > j)) {
			x->root[i] = x->root[j];
			x->root[j].entity = 0;
			i = j;
		}
	}
}

static void lru_unlink(hx__extract *x, uint32_t i)
{
	tentry *e = &x->e[i];
	if (e->prev != NONE)
		x->e[e->prev].next = e->next;
	else
		x->head = e->next;
	if (e->next != NONE)
		x->e[e->next].prev = e->prev;
	else
		x->tail = e->prev;
	e->prev = e->next = NONE;
}

static void lru_append(hx__extract *x, uint32_t i)
{
	tentry *e = &x->e[i];
	e->next = NONE;
	e->prev = x->tail;
	if (x->tail != NONE)
		x->e[x->tail].next = i;
	else
		x->head = i;
	x->tail = i;
}

static void t_remove(hx__extract *x, uint32_t i)
{
	tentry *e = &x->e[i];
	size_t s = hash_tid(x, e->tid);
	while (x->slot[s] != i + 1)
		s = (s + 1) & (x->nslots - 1);
	t_unslot(x, s);
	if (e->root_entity) {
		size_t r = r_pos(x, e->root_entity);
		if (x->root[r].entity && x->root[r].idx == i)
			r_del(x, e->root_entity);
	}
	lru_unlink(x, i);
	e->used = 0;
	e->next = x->free_head;
	x->free_head = i;
	x->n--;
}

/* The oldest trace leaves the table to make room: queued for extraction now, or dropped. */
static void evict_oldest(hx__extract *x)
{
	uint32_t i = x->head;
	if (x->nearly < EARLY_MAX) {
		memcpy(x->early[x->nearly].tid, x->e[i].tid, 16);
		x->early[x->nearly].flags = x->e[i].flags;
		x->nearly++;
	} else {
		atomic_fetch_add(&x->srv->m.extract_dropped, 1);
	}
	t_remove(x, i);
}

/* The entry of a trace, made (at the list's end) when missing. *evicted says that making it
 * took another entry out. */
static uint32_t t_get(hx__extract *x, const uint8_t tid[16], uint64_t now, int *evicted)
{
	uint32_t i = t_find(x, tid);
	if (i != NONE)
		return i;
	if (x->n == x->cap) {
		evict_oldest(x);
		*evicted = 1;
	}
	i = x->free_head;
	tentry *e = &x->e[i];
	x->free_head = e->next;
	memset(e, 0, sizeof(*e));
	memcpy(e->tid, tid, 16);
	e->used = 1;
	e->last_ns = now;
	e->prev = e->next = NONE;
	lru_append(x, i);
	size_t s = hash_tid(x, tid);
	while (x->slot[s])
		s = (s + 1) & (x->nslots - 1);
	x->slot[s] = i + 1;
	x->n++;
	return i;
}

static int zero_id(const uint8_t id[16])
{
	for (int i = 0; i < 16; i++)
		if (id[i])
			return 0;
	return 1;
}

/* ---- what the commit thread reports ---- */

void hx__extract_note(hx__server *srv, const hx_event *ev, size_t n)
{
	hx__extract *x = srv->extract;
	if (!x || !n)
		return;
	uint64_t now = mono_ns();
	pthread_mutex_lock(&x->lock);
	uint32_t last = NONE;
	const uint8_t *last_tid = NULL;
	for (size_t k = 0; k < n; k++) {
		const hx_event *v = &ev[k];
		if (zero_id(v->trace_id))
			continue;
		uint32_t i = last;
		if (!last_tid || memcmp(last_tid, v->trace_id, 16)) {
			int evicted = 0;
			i = t_get(x, v->trace_id, now, &evicted);
			tentry *e = &x->e[i];
			e->want_events = 0; /* new events: whatever the catch-up saw is old */
			if (e->last_ns != now || e->next != NONE) { /* to the end of the list */
				e->last_ns = now;
				lru_unlink(x, i);
				lru_append(x, i);
			}
			last = i;
			last_tid = v->trace_id;
			(void)evicted; /* i is valid: eviction took the oldest entry, never the new one */
		}
		tentry *e = &x->e[i];
		if (v->kind == HX_EV_TRACE_BEGIN || v->kind == HX_EV_TRACE_JOIN) {
			/* the entity leaves the trace it was the root of, if another */
			size_t r = r_pos(x, v->entity_id);
			if (x->root[r].entity && x->root[r].idx != i) {
				x->e[x->root[r].idx].flags |= F_ROOT_ENDED;
				r_del(x, v->entity_id);
			}
			if (v->kind == HX_EV_TRACE_BEGIN && !e->root_entity) {
				e->root_entity = v->entity_id;
				if (e->ended[0] == v->entity_id || e->ended[1] == v->entity_id)
					e->flags |= F_ROOT_ENDED;
				r = r_pos(x, v->entity_id);
				x->root[r].entity = v->entity_id;
				x->root[r].idx = i;
			}
		} else if (v->kind == HX_EV_TRACE_END) {
			if (e->root_entity == v->entity_id) {
				e->flags |= F_ROOT_ENDED;
				size_t r = r_pos(x, v->entity_id);
				if (x->root[r].entity && x->root[r].idx == i)
					r_del(x, v->entity_id);
			} else if (!e->root_entity) {
				e->ended[1] = e->ended[0];
				e->ended[0] = v->entity_id;
			}
		}
	}
	atomic_store(&srv->m.extract_tracked, x->n);
	pthread_mutex_unlock(&x->lock);
}

/* ---- extraction runs ---- */

typedef struct work {
	uint8_t tid[16];
	uint8_t flags;
	uint64_t want_events;        /* F_RECOVERED: skip it if features.db has caught up since */
} work;

static void log_error(hx__extract *x, const uint8_t tid[16], const char *what, int rc)
{
	uint64_t now = mono_ns();
	uint64_t errors = atomic_load(&x->srv->m.extraction_errors);
	if (x->last_log && now - x->last_log < LOG_EVERY_NS)
		return;
	char id[33];
	static const char hexd[] = "0123456789abcdef";
	for (int i = 0; i < 16; i++) {
		id[2 * i] = hexd[tid[i] >> 4];
		id[2 * i + 1] = hexd[tid[i] & 15];
	}
	id[32] = '\0';
	hx__srv_log("analysis: trace %s not extracted: %s%s%s (%llu extraction errors so far; at most "
	            "one line in 10 s)", id, what, rc ? ": " : "", rc ? hx_strerror(rc) : "",
	            (unsigned long long)errors);
	x->last_log = now;
}

static int stopping(hx__extract *x)
{
	pthread_mutex_lock(&x->lock);
	int s = x->stop;
	pthread_mutex_unlock(&x->lock);
	return s;
}

/* Extract the traces of w[0..n), TXN_TRACES per transaction, until the service stops (what is
 * left is found again by the next start's catch-up). Returns HX_OK, or the error of features.db
 * that made a transaction fail (its traces are counted as errors). Holds x->work. */
static int run(hx__extract *x, const work *w, size_t n)
{
	int res = HX_OK;
	pthread_mutex_lock(&x->work);
	for (size_t at = 0; at < n && !stopping(x);) {
		size_t end = at + TXN_TRACES < n ? at + TXN_TRACES : n;
		/* a trace the catch-up found may have been extracted meanwhile (hx__extract_all_now):
		 * asked before the transaction, which holds the writer */
		uint8_t skip[TXN_TRACES];
		for (size_t i = at; i < end; i++) {
			uint64_t events;
			int ended;
			skip[i - at] = (w[i].flags & F_RECOVERED) && w[i].want_events &&
			               hx__fdb_state(x->db, w[i].tid, &events, &ended) == HX_OK &&
			               events == w[i].want_events;
		}
		int rc = hx__fdb_begin(x->db);
		if (rc != HX_OK) {
			atomic_fetch_add(&x->srv->m.extraction_errors, end - at);
			log_error(x, w[at].tid, "features.db", rc);
			res = rc;
			at = end;
			continue;
		}
		uint64_t stored = 0;
		size_t i;
		int failed_db = 0;
		for (i = at; i < end && !failed_db; i++) {
			uint64_t events;
			int why = HX_OK;
			if (skip[i - at])
				continue;
			hx__xresult r = hx__extract_trace(&x->conf, x->scratch, w[i].tid,
			                                  (w[i].flags & F_ROOT_ENDED) != 0, &events, &why);
			if (r == HX__X_STORED) {
				stored++;
			} else if (r == HX__X_TOO_LARGE) {
				atomic_fetch_add(&x->srv->m.extraction_errors, 1);
				log_error(x, w[i].tid, "more events than the extraction limit", 0);
			} else if (r == HX__X_FAILED) {
				atomic_fetch_add(&x->srv->m.extraction_errors, 1);
				log_error(x, w[i].tid, "extraction failed", why);
			} else if (r == HX__X_DB_FAILED) {
				/* it may have left a half-written row: undo the transaction */
				atomic_fetch_add(&x->srv->m.extraction_errors, 1);
				log_error(x, w[i].tid, "features.db failed", why);
				failed_db = 1;
				res = why;
			}
		}
		if (failed_db) {
			/* what was stored went with the rollback, and the rest was not tried */
			hx__fdb_rollback(x->db);
			atomic_fetch_add(&x->srv->m.extraction_errors, stored + (end - i));
		} else if ((rc = hx__fdb_commit(x->db)) != HX_OK) {
			atomic_fetch_add(&x->srv->m.extraction_errors, stored);
			log_error(x, w[at].tid, "features.db commit", rc);
			res = rc;
		} else {
			atomic_fetch_add(&x->srv->m.traces_extracted, stored);
		}
		at = end;
	}
	pthread_mutex_unlock(&x->work);
	return res;
}

/* Take the complete traces out of the tracker (and the early ones): at most ROUND_MAX. Traces
 * idle long enough whose root end was not seen are looked up in features.db once (an earlier
 * extraction may have seen it: late events then need no second wait). */
static size_t take_ready(hx__extract *x, work *w, uint8_t (*check)[16], size_t *ncheck)
{
	size_t n = 0;
	*ncheck = 0;
	uint64_t now = mono_ns();
	pthread_mutex_lock(&x->lock);
	while (x->nearly && n < ROUND_MAX) {
		x->nearly--;
		memcpy(w[n].tid, x->early[x->nearly].tid, 16);
		w[n].flags = x->early[x->nearly].flags & ~F_RECOVERED;
		w[n].want_events = 0;
		n++;
	}
	uint32_t i = x->head;
	while (i != NONE && n < ROUND_MAX) {
		tentry *e = &x->e[i];
		uint32_t next = e->next;
		uint64_t age = now - e->last_ns;
		if (age < x->idle_ns)
			break; /* the rest of the list is younger */
		int complete = (e->flags & (F_ROOT_ENDED | F_RECOVERED)) ||
		               age >= x->idle_ns * IDLE_FACTOR;
		if (complete) {
			memcpy(w[n].tid, e->tid, 16);
			w[n].flags = e->flags;
			w[n].want_events = e->want_events;
			n++;
			t_remove(x, i);
		} else if (!(e->flags & F_CHECKED) && *ncheck < CHECK_MAX) {
			e->flags |= F_CHECKED;
			memcpy(check[(*ncheck)++], e->tid, 16);
		}
		i = next;
	}
	atomic_store(&x->srv->m.extract_tracked, x->n);
	pthread_mutex_unlock(&x->lock);
	return n;
}

static void mark_ended(hx__extract *x, uint8_t (*check)[16], size_t n)
{
	for (size_t k = 0; k < n; k++) {
		uint64_t events;
		int ended = 0;
		if (hx__fdb_state(x->db, check[k], &events, &ended) != HX_OK || !ended)
			continue;
		pthread_mutex_lock(&x->lock);
		uint32_t i = t_find(x, check[k]);
		if (i != NONE)
			x->e[i].flags |= F_ROOT_ENDED;
		pthread_mutex_unlock(&x->lock);
	}
}

/* Track a trace found by the catch-up (unless it is tracked already). */
static void track_recovered(hx__extract *x, const uint8_t tid[16], uint64_t events)
{
	pthread_mutex_lock(&x->lock);
	if (t_find(x, tid) == NONE) {
		int evicted = 0;
		uint32_t i = t_get(x, tid, mono_ns(), &evicted);
		x->e[i].flags |= F_RECOVERED;
		x->e[i].want_events = events;
	}
	atomic_store(&x->srv->m.extract_tracked, x->n);
	pthread_mutex_unlock(&x->lock);
}

/* At start: the newest traces of the store whose features are missing or stale. Stops after
 * CATCHUP_MAX traces, or CATCHUP_RUN in a row that are up to date. */
static void catch_up(hx__extract *x)
{
	hx__server *srv = x->srv;
	char *cursor = NULL;
	size_t seen = 0, run = 0, tracked = 0;
	while (seen < CATCHUP_MAX && run < CATCHUP_RUN && !stopping(x)) {
		hx_store_query q;
		memset(&q, 0, sizeof(q));
		q.sort = HX_SORT_START_DESC;
		q.limit = 1000;
		q.cursor = cursor;
		hx_store_result res;
		memset(&res, 0, sizeof(res));
		hx__store_read_lock(srv);
		int rc = hx_store_search(srv->store, &q, &res);
		hx__store_read_unlock(srv);
		free(cursor);
		cursor = NULL;
		if (rc != HX_OK) {
			hx__srv_log("analysis: cannot list the store's traces to catch up: %s",
			            hx_strerror(rc));
			break;
		}
		for (size_t i = 0; i < res.n && run < CATCHUP_RUN; i++, seen++) {
			uint64_t events = 0;
			int ended = 0;
			if (hx__fdb_state(x->db, res.traces[i].trace_id, &events, &ended) == HX_OK &&
			    events == res.traces[i].events) {
				run++;
				continue;
			}
			run = 0;
			track_recovered(x, res.traces[i].trace_id, res.traces[i].events);
			tracked++;
		}
		if (res.next_cursor && !(cursor = strdup(res.next_cursor))) {
			hx_store_result_free(&res);
			break;
		}
		int last = !res.next_cursor || !res.n;
		hx_store_result_free(&res);
		if (last)
			break;
	}
	free(cursor);
	if (tracked)
		hx__srv_log("analysis: %zu traces of the store have no current features: extracting them "
		            "once idle", tracked);
}

static int on_nothing(const hx_event *ev, const hx_store_proc *proc, void *user)
{
	return 1;
}

/* Every minute with a retention limit: rows of traces the store dropped go too. Retention drops
 * the oldest segments first, so the oldest rows are checked, until RETAIN_RUN in a row are still
 * in the store. */
static void sync_retention(hx__extract *x)
{
	hx__server *srv = x->srv;
	hx__fdb_pos after = {0, 0, {0}}, page[256];
	size_t checked = 0, run = 0, removed = 0;
	while (checked < RETAIN_CHECK_MAX && run < RETAIN_RUN && !stopping(x)) {
		long got = hx__fdb_oldest(x->db, &after, page, 256);
		if (got <= 0)
			break;
		uint8_t gone[256][16];
		size_t ngone = 0;
		for (long i = 0; i < got && run < RETAIN_RUN; i++, checked++) {
			/* a window that holds no event: only whether the trace is there is asked */
			hx_store_window w = {1, 1, 0};
			hx__store_read_lock(srv);
			int rc = hx_store_fetch(srv->store, page[i].trace_id, &w, on_nothing, NULL);
			hx__store_read_unlock(srv);
			if (rc == HX_ENOENT) {
				memcpy(gone[ngone++], page[i].trace_id, 16);
				run = 0;
			} else {
				run++;
			}
		}
		after = page[got - 1];
		if (ngone && hx__fdb_begin(x->db) == HX_OK) {
			int rc = HX_OK;
			for (size_t k = 0; k < ngone && rc == HX_OK; k++)
				rc = hx__fdb_remove(x->db, gone[k]);
			if (rc == HX_OK && hx__fdb_commit(x->db) == HX_OK)
				removed += ngone;
			else if (rc != HX_OK)
				hx__fdb_rollback(x->db);
		}
	}
	if (removed)
		hx__srv_log("analysis: removed the features of %zu traces that retention dropped", removed);
}

static void *extract_main(void *arg)
{
	hx__extract *x = arg;
	hx__server *srv = x->srv;
	work *w = malloc(ROUND_MAX * sizeof(*w));
	uint8_t (*check)[16] = malloc(CHECK_MAX * 16);
	if (!w || !check) {
		hx__srv_log("analysis: out of memory: no traces will be extracted");
		free(w);
		free(check);
		return NULL;
	}
	catch_up(x);
	for (;;) {
		pthread_mutex_lock(&x->lock);
		if (!x->stop) {
			struct timespec ts;
			clock_gettime(CLOCK_MONOTONIC, &ts);
			ts.tv_sec += 1;
			while (!x->stop && pthread_cond_timedwait(&x->cond, &x->lock, &ts) != ETIMEDOUT)
				;
		}
		int stop = x->stop;
		pthread_mutex_unlock(&x->lock);
		if (stop)
			break;
		size_t ncheck, n;
		/* several rounds while a backlog lasts, checking for the stop between them */
		do {
			n = take_ready(x, w, check, &ncheck);
			mark_ended(x, check, ncheck);
			if (n)
				run(x, w, n);
		} while (n == ROUND_MAX && !stopping(x));
		if (srv->cfg.retention_bytes || srv->cfg.retention_age_ns) {
			uint64_t now = mono_ns();
			if (!x->last_retain || now - x->last_retain >= RETAIN_EVERY_NS) {
				x->last_retain = now;
				sync_retention(x);
			}
		}
	}
	free(w);
	free(check);
	return NULL;
}

/* ---- start, stop ---- */

static void x_free(hx__extract *x)
{
	if (!x)
		return;
	hx__fdb_close(x->db);
	hx__xscratch_free(x->scratch);
	free(x->keys_buf);
	free(x->e);
	free(x->slot);
	free(x->root);
	free(x->early);
	pthread_mutex_destroy(&x->lock);
	pthread_mutex_destroy(&x->work);
	pthread_cond_destroy(&x->cond);
	free(x);
}

/* The extraction state without its thread: the database, the tracker, the configuration. */
static hx__extract *x_new(hx__server *srv)
{
	hx__extract *x = calloc(1, sizeof(*x));
	if (!x)
		return NULL;
	x->srv = srv;
	pthread_mutex_init(&x->lock, NULL);
	pthread_mutex_init(&x->work, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&x->cond, &ca);
	pthread_condattr_destroy(&ca);
	x->idle_ns = srv->cfg.complete_idle_ns ? srv->cfg.complete_idle_ns : HX__COMPLETE_IDLE_DEFAULT;
	uint64_t mem = srv->lim.memory_limit ? srv->lim.memory_limit : HX__SERVE_MEMORY_DEFAULT;
	x->cap = mem / TRACK_PER_BYTES < TRACK_MIN ? TRACK_MIN : (size_t)(mem / TRACK_PER_BYTES);
	x->nslots = 1;
	while (x->nslots < 2 * x->cap)
		x->nslots *= 2;
	x->e = malloc(x->cap * sizeof(*x->e));
	x->slot = calloc(x->nslots, sizeof(*x->slot));
	x->root = calloc(x->nslots, sizeof(*x->root));
	x->early = malloc(EARLY_MAX * sizeof(*x->early));
	x->scratch = hx__xscratch_new();
	if (!x->e || !x->slot || !x->root || !x->early || !x->scratch) {
		hx__srv_log("analysis: out of memory");
		x_free(x);
		return NULL;
	}
	for (size_t i = 0; i < x->cap; i++) {
		x->e[i].used = 0;
		x->e[i].next = i + 1 < x->cap ? (uint32_t)(i + 1) : NONE;
	}
	x->free_head = 0;
	x->head = x->tail = NONE;
	/* --analysis-attrs: keys separated by commas (checked by cmd_serve.c) */
	size_t nk = 0;
	if (srv->cfg.analysis_attrs && *srv->cfg.analysis_attrs) {
		if (!(x->keys_buf = strdup(srv->cfg.analysis_attrs))) {
			x_free(x);
			return NULL;
		}
		for (char *p = x->keys_buf; p && nk < HX__FEAT_MAX_ATTRS;) {
			char *comma = strchr(p, ',');
			if (comma)
				*comma = '\0';
			if (*p)
				x->keys[nk++] = p;
			p = comma ? comma + 1 : NULL;
		}
	}
	x->keys[nk] = NULL;
	char err[512];
	int rc = hx__fdb_open(&x->db, srv->cfg.data_dir, err, sizeof(err));
	if (rc != HX_OK) {
		hx__srv_log("analysis: %s", err);
		x_free(x);
		return NULL;
	}
	x->conf.srv = srv;
	x->conf.db = x->db;
	x->conf.attr_keys = x->keys;
	/* a DAG takes ~40 bytes an event plus its causes and names while it is built: an eighth
	 * of the memory limit at ~128 bytes an event */
	x->conf.max_events = mem / 8 / 128;
	if (x->conf.max_events < 100000)
		x->conf.max_events = 100000;
	return x;
}

int hx__extract_start(hx__server *srv)
{
	if (!srv->extract && !(srv->extract = x_new(srv)))
		return -1;
	hx__extract *x = srv->extract;
	if (x->running)
		return 0;
	if (pthread_create(&x->thread, NULL, extract_main, x)) {
		hx__srv_log("analysis: cannot start the extraction thread");
		return -1;
	}
	x->running = 1;
	return 0;
}

void hx__extract_stop(hx__server *srv)
{
	hx__extract *x = srv->extract;
	if (!x)
		return;
	if (x->running) {
		pthread_mutex_lock(&x->lock);
		x->stop = 1;
		pthread_cond_broadcast(&x->cond);
		pthread_mutex_unlock(&x->lock);
		pthread_join(x->thread, NULL);
		x->running = 0;
	}
	srv->extract = NULL;
	x_free(x);
}

hx__fdb *hx__extract_db(hx__server *srv)
{
	return srv->extract ? srv->extract->db : NULL;
}

/* ---- everything at once (hx view) ---- */

int hx__extract_all_now(hx__server *srv)
{
	if (!srv->extract && !(srv->extract = x_new(srv)))
		return HX_ENOMEM;
	hx__extract *x = srv->extract;
	work *w = malloc(ROUND_MAX * sizeof(*w));
	if (!w)
		return HX_ENOMEM;
	char *cursor = NULL;
	int res = HX_OK;
	for (;;) {
		hx_store_query q;
		memset(&q, 0, sizeof(q));
		q.sort = HX_SORT_START_ASC;
		q.limit = ROUND_MAX < 1000 ? ROUND_MAX : 1000;
		q.cursor = cursor;
		hx_store_result r;
		memset(&r, 0, sizeof(r));
		hx__store_read_lock(srv);
		res = hx_store_search(srv->store, &q, &r);
		hx__store_read_unlock(srv);
		free(cursor);
		cursor = NULL;
		if (res != HX_OK)
			break;
		size_t n = 0;
		for (size_t i = 0; i < r.n; i++) {
			/* the summary says how big it is: a trace past the limit is refused here, before
			 * a fetch of all its events (seconds and gigabytes for a 10 M-event trace) */
			if (r.traces[i].events > x->conf.max_events) {
				atomic_fetch_add(&x->srv->m.extraction_errors, 1);
				log_error(x, r.traces[i].trace_id, "more events than the extraction limit", 0);
				continue;
			}
			memcpy(w[n].tid, r.traces[i].trace_id, 16);
			w[n].flags = F_ROOT_ENDED; /* whatever arrived is all there is */
			w[n].want_events = 0;
			n++;
		}
		if (n && (res = run(x, w, n)) != HX_OK) {
			hx_store_result_free(&r);
			break;
		}
		int last = !r.next_cursor || !r.n;
		if (!last && !(cursor = strdup(r.next_cursor)))
			res = HX_ENOMEM;
		hx_store_result_free(&r);
		if (last || res != HX_OK)
			break;
	}
	free(cursor);
	free(w);
	return res;
}
