/*
 * commit.c - the ingest queue, the group-commit thread, and the loops batches come back to.
 *
 * A batch that passed every check becomes an item (it holds the batch bytes and its process) and
 * joins one FIFO queue. The commit thread takes everything queued since its last round, appends
 * each batch to the store, and then makes the whole group durable with one hx_store_commit(): the
 * cost of a sync is shared by every batch that arrived while the previous one ran, so the busier
 * the service, the larger the groups. Only after that commit returned HX_OK are the items handed
 * back to their loops, which acknowledge them; nothing is acknowledged before it is durable.
 *
 * Store failures: a full disk (HX_ENOSPC), an I/O error or a memory shortage is retried with a
 * growing pause (50 ms up to 2 s) for as long as it lasts, holding the current group; one line is
 * logged when it starts and one when it ends. Meanwhile nothing is acknowledged, the queue fills,
 * and the loops stop reading (backpressure), so clients simply wait. An append that fails after
 * part of a batch went in resumes after the part (item->appended), so a retry neither loses nor
 * duplicates. Any other error refuses that one batch (its connection gets ERROR store).
 *
 * Shutdown (hx__commit_stop): the thread finishes what is queued, one last commit, and exits; a
 * store that fails at that point is not retried (the batches stay unacknowledged and clients
 * resend them to the next run).
 */
#include "server/server.h"

#include <errno.h>
#include <event2/event.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define GROUP_EVENTS 8192u          /* events per hx_store_append */
#define GROUP_BYTES (4u << 20)      /* or this many bytes of copies */
#define BACKOFF_MIN_MS 50u
#define BACKOFF_MAX_MS 2000u
#define RETAIN_EVERY_NS (60ull * 1000000000ull)

static uint64_t now_ns(clockid_t clk)
{
	struct timespec ts;
	clock_gettime(clk, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* ---- loops ---- */

static void loop_notified(evutil_socket_t fd, short what, void *arg)
{
	hx__loop_drain(arg);
}

int hx__loop_init(hx__loop *l, hx__server *srv)
{
	memset(l, 0, sizeof(*l));
	l->srv = srv;
	if (pthread_mutex_init(&l->lock, NULL))
		return -1;
	l->base = event_base_new();
	if (!l->base)
		return -1;
	l->notify = event_new(l->base, -1, 0, loop_notified, l);
	return l->notify ? 0 : -1;
}

void hx__loop_free(hx__loop *l)
{
	if (l->notify)
		event_free(l->notify);
	if (l->base)
		event_base_free(l->base);
	pthread_mutex_destroy(&l->lock);
	l->notify = NULL;
	l->base = NULL;
}

void hx__loop_drain(hx__loop *l)
{
	pthread_mutex_lock(&l->lock);
	hx__item *it = l->done_head;
	l->done_head = l->done_tail = NULL;
	pthread_mutex_unlock(&l->lock);
	while (it) {
		hx__item *next = it->next;
		it->done(it);
		hx__item_free(l->srv, it);
		it = next;
	}
	if (l->after_done)
		l->after_done(l);
}

static void loop_give(hx__loop *l, hx__item *it)
{
	it->next = NULL;
	pthread_mutex_lock(&l->lock);
	if (l->done_tail)
		l->done_tail->next = it;
	else
		l->done_head = it;
	l->done_tail = it;
	pthread_mutex_unlock(&l->lock);
}

/* ---- items ---- */

static int key_is(const hx_batch_info *b, size_t i, const char *k)
{
	size_t n = strlen(k);
	return b->resource[i].key_len == n && !memcmp(b->resource[i].key, k, n);
}

hx__item *hx__item_new(hx__server *srv, uint8_t *data, size_t len, hx_proto_reason *reason)
{
	*reason = HX_REASON_NONE;
	hx__item *it = calloc(1, sizeof(*it));
	if (!it) {
		free(data);
		return NULL;
	}
	it->data = data;
	it->len = len;
	if (hx_batch_parse(data, len, &it->info, reason) != HX_OK)
		goto fail;
	/* check the whole body now, so that a bad batch fails its own connection at once and the
	 * commit thread never meets it */
	int rc = hx_batch_events(&it->info, NULL, NULL, reason);
	if (rc != HX_OK) {
		if (rc == HX_ENOMEM)
			*reason = HX_REASON_NONE;
		else if (*reason == HX_REASON_NONE)
			*reason = HX_REASON_BAD_RECORD;
		goto fail;
	}
	it->nevents = (size_t)it->info.nevents;

	const char *val[3] = {"", "", ""};
	size_t vlen[3] = {0, 0, 0};
	static const char *const keys[3] = {"host", "service", "program"};
	for (size_t i = 0; i < it->info.nresource; i++)
		for (int k = 0; k < 3; k++)
			if (key_is(&it->info, i, keys[k])) {
				val[k] = it->info.resource[i].value;
				vlen[k] = it->info.resource[i].value_len;
			}
	it->strs = malloc(vlen[0] + vlen[1] + vlen[2] + 3);
	if (!it->strs)
		goto fail;
	char *p = it->strs;
	const char **dst[3] = {&it->proc.host, &it->proc.service, &it->proc.program};
	for (int k = 0; k < 3; k++) {
		if (vlen[k])
			memcpy(p, val[k], vlen[k]);
		p[vlen[k]] = '\0';
		*dst[k] = p;
		p += vlen[k] + 1;
	}
	memcpy(it->proc.instance, it->info.instance, 16);
	it->proc.pid = it->info.pid;
	it->status = HX_OK;
	it->charge = sizeof(*it) + len + (size_t)(p - it->strs);
	hx__srv_charge(srv, it->charge);
	atomic_fetch_add(&srv->m.queue_depth, 1);
	atomic_fetch_add(&srv->m.queue_bytes, it->charge);
	return it;
fail:
	free(it->strs);
	free(it->data);
	free(it);
	return NULL;
}

void hx__item_free(hx__server *srv, hx__item *it)
{
	if (!it)
		return;
	atomic_fetch_sub(&srv->m.queue_depth, 1);
	atomic_fetch_sub(&srv->m.queue_bytes, it->charge);
	hx__srv_release(srv, it->charge);
	free(it->strs);
	free(it->data);
	free(it);
}

void hx__commit_enqueue(hx__server *srv, hx__item *it)
{
	it->next = NULL;
	pthread_mutex_lock(&srv->qlock);
	if (srv->qtail)
		srv->qtail->next = it;
	else
		srv->qhead = it;
	srv->qtail = it;
	pthread_cond_signal(&srv->qcond);
	pthread_mutex_unlock(&srv->qlock);
}

/* ---- the commit thread ---- */

typedef struct committer {
	hx__server *srv;
	hx__evcopy copy;
	int failing;               /* a store error streak is going on (logged once) */
	uint64_t failing_since;
	unsigned backoff_ms;
	uint64_t last_retain;
} committer;

typedef struct decode_ctx {
	committer *c;
	hx__item *it;
	size_t index;
} decode_ctx;

static void store_lock(hx__server *srv)
{
	if (!srv->store_concurrent)
		pthread_mutex_lock(&srv->store_lock);
}

static void store_unlock(hx__server *srv)
{
	if (!srv->store_concurrent)
		pthread_mutex_unlock(&srv->store_lock);
}

static int group_flush(committer *c, hx__item *it)
{
	if (!c->copy.n)
		return HX_OK;
	size_t stored = 0, dup = 0;
	store_lock(c->srv);
	int rc = hx_store_append(c->srv->store, &it->proc, c->copy.ev, c->copy.n, &stored, &dup);
	store_unlock(c->srv);
	if (rc != HX_OK)
		return rc;
	hx__extract_note(c->srv, c->copy.ev, c->copy.n); /* analysis: which traces got events */
	it->appended += c->copy.n;
	it->stored += stored;
	it->duplicates += dup;
	hx__evcopy_reset(&c->copy);
	return HX_OK;
}

static int on_event(const hx_event *ev, void *user)
{
	decode_ctx *d = user;
	if (d->index++ < d->it->appended) /* went in on an earlier try */
		return 0;
	if (hx__evcopy_add(&d->c->copy, ev) != HX_OK)
		return HX_ENOMEM;
	if (d->c->copy.n >= GROUP_EVENTS || d->c->copy.bytes >= GROUP_BYTES)
		return group_flush(d->c, d->it);
	return 0;
}

static int append_item(committer *c, hx__item *it)
{
	if (it->appended >= it->nevents)
		return HX_OK;
	hx__evcopy_reset(&c->copy);
	decode_ctx d = {c, it, 0};
	hx_proto_reason why;
	int rc = hx_batch_events(&it->info, on_event, &d, &why);
	if (rc == HX_OK)
		rc = group_flush(c, it);
	if (rc != HX_OK)
		hx__evcopy_reset(&c->copy);
	return rc;
}

static int retryable(int rc)
{
	return rc == HX_ENOSPC || rc == HX_EIO || rc == HX_ENOMEM;
}

/* A store call failed: log the start of a streak, then sleep the backoff. Returns 0 when the
 * service is stopping (give up), 1 to retry. */
static int wait_retry(committer *c, int rc, const char *what)
{
	hx__server *srv = c->srv;
	atomic_fetch_add(&srv->m.store_errors, 1);
	atomic_store(&srv->m.store_last_error, rc);
	atomic_store(&srv->m.store_ok, 0);
	if (!c->failing) {
		c->failing = 1;
		c->failing_since = now_ns(CLOCK_MONOTONIC);
		c->backoff_ms = BACKOFF_MIN_MS;
		hx__srv_log("store %s failed: %s; no batch is acknowledged and ingest waits until it "
		            "succeeds (retrying every %u ms to %u ms)", what, hx_strerror(rc),
		            BACKOFF_MIN_MS, BACKOFF_MAX_MS);
	}
	pthread_mutex_lock(&srv->qlock);
	int stop = srv->qstop;
	if (!stop) {
		struct timespec ts;
		clock_gettime(CLOCK_MONOTONIC, &ts);
		uint64_t ns = (uint64_t)ts.tv_nsec + (uint64_t)c->backoff_ms * 1000000u;
		ts.tv_sec += (time_t)(ns / 1000000000u);
		ts.tv_nsec = (long)(ns % 1000000000u);
		while (!srv->qstop && pthread_cond_timedwait(&srv->qcond, &srv->qlock, &ts) != ETIMEDOUT)
			;
		stop = srv->qstop;
	}
	pthread_mutex_unlock(&srv->qlock);
	c->backoff_ms = c->backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : c->backoff_ms * 2;
	return !stop;
}

static void recovered(committer *c)
{
	atomic_store(&c->srv->m.store_ok, 1);
	if (!c->failing)
		return;
	c->failing = 0;
	double secs = (double)(now_ns(CLOCK_MONOTONIC) - c->failing_since) / 1e9;
	hx__srv_log("store writable again after %.1f s; acknowledging resumes", secs);
}

static void update_info(hx__server *srv)
{
	hx_store_info info;
	store_lock(srv);
	int rc = hx_store_info_get(srv->store, &info);
	store_unlock(srv);
	if (rc != HX_OK)
		return;
	atomic_store(&srv->m.store_bytes, info.bytes);
	atomic_store(&srv->m.store_events, info.events);
	atomic_store(&srv->m.store_traces, info.traces);
}

static void maybe_retain(committer *c)
{
	hx__server *srv = c->srv;
	if (!srv->cfg.retention_bytes && !srv->cfg.retention_age_ns)
		return;
	uint64_t now = now_ns(CLOCK_MONOTONIC);
	if (c->last_retain && now - c->last_retain < RETAIN_EVERY_NS)
		return;
	c->last_retain = now;
	store_lock(srv);
	int rc = hx_store_retain(srv->store, now_ns(CLOCK_REALTIME));
	store_unlock(srv);
	if (rc != HX_OK)
		hx__srv_log("retention failed: %s (tried again in a minute)", hx_strerror(rc));
	else
		update_info(srv);
}

/* One group: append every item, commit once, hand each item back.
 *
 * A failed append or commit puts the store back at its last commit (store.h): whatever this group
 * had appended is gone, not just the call that failed. So every failure starts the whole group
 * again from its first event (after the backoff, for a full disk or an I/O error); an item the
 * store refuses for good is set aside and the others go again without it. Only a commit that
 * returned HX_OK makes the group's items acknowledged. */
static void round_commit(committer *c, hx__item *list)
{
	hx__server *srv = c->srv;
	int rc = HX_OK;
	for (;;) {
		int restart = 0, stopping = 0;
		for (hx__item *it = list; it && !restart; it = it->next) {
			if (it->status != HX_OK)
				continue; /* refused for good in an earlier pass */
			it->appended = it->stored = it->duplicates = 0;
		}
		for (hx__item *it = list; it && !restart; it = it->next) {
			if (it->status != HX_OK)
				continue;
			rc = append_item(c, it);
			if (rc == HX_OK)
				continue;
			restart = 1;
			if (!retryable(rc)) {
				it->status = rc;
				hx__srv_log("store refused a batch of %zu events: %s", it->nevents,
				            hx_strerror(rc));
			} else if (!wait_retry(c, rc, "append")) {
				stopping = 1;
			}
		}
		if (!restart) {
			store_lock(srv);
			rc = hx_store_commit(srv->store);
			store_unlock(srv);
			if (rc == HX_OK)
				break;
			if (!wait_retry(c, rc, "commit"))
				stopping = 1;
		}
		if (stopping) {
			/* the service stops: nothing of this group is acknowledged (its clients resend) */
			rc = HX_ESTATE;
			break;
		}
	}
	if (rc == HX_OK) {
		recovered(c);
		atomic_fetch_add(&srv->m.commits, 1);
	}
	/* hand back: each item to its loop, in order; each loop woken once */
	hx__loop *woken[2] = {NULL, NULL};
	hx__item *it = list;
	while (it) {
		hx__item *next = it->next;
		if (rc != HX_OK && it->status == HX_OK)
			it->status = rc;
		if (it->status == HX_OK) {
			atomic_fetch_add(&srv->m.events_stored, it->stored);
			atomic_fetch_add(&srv->m.events_duplicate, it->duplicates);
		}
		loop_give(it->loop, it);
		if (woken[0] != it->loop && woken[1] != it->loop)
			woken[woken[0] ? 1 : 0] = it->loop;
		it = next;
	}
	for (int i = 0; i < 2; i++)
		if (woken[i])
			event_active(woken[i]->notify, EV_READ, 0);
	if (rc == HX_OK)
		update_info(srv);
}

static void *commit_main(void *arg)
{
	committer c;
	memset(&c, 0, sizeof(c));
	c.srv = arg;
	hx__server *srv = c.srv;
	hx__evcopy_init(&c.copy);
	maybe_retain(&c);
	for (;;) {
		pthread_mutex_lock(&srv->qlock);
		while (!srv->qhead && !srv->qstop) {
			/* wake once a second for retention */
			struct timespec ts;
			clock_gettime(CLOCK_MONOTONIC, &ts);
			ts.tv_sec += 1;
			if (pthread_cond_timedwait(&srv->qcond, &srv->qlock, &ts) == ETIMEDOUT)
				break;
		}
		hx__item *list = srv->qhead;
		int stop = srv->qstop;
		srv->qhead = srv->qtail = NULL;
		pthread_mutex_unlock(&srv->qlock);
		if (list)
			round_commit(&c, list);
		else if (stop)
			break;
		else
			maybe_retain(&c);
	}
	hx__evcopy_free(&c.copy);
	return NULL;
}

int hx__commit_start(hx__server *srv)
{
	pthread_condattr_t ca;
	if (pthread_mutex_init(&srv->qlock, NULL) || pthread_condattr_init(&ca))
		return -1;
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	int rc = pthread_cond_init(&srv->qcond, &ca);
	pthread_condattr_destroy(&ca);
	if (rc)
		return -1;
	if (pthread_create(&srv->commit_thread, NULL, commit_main, srv))
		return -1;
	srv->commit_running = 1;
	return 0;
}

void hx__commit_stop(hx__server *srv)
{
	if (!srv->commit_running)
		return;
	pthread_mutex_lock(&srv->qlock);
	srv->qstop = 1;
	pthread_cond_broadcast(&srv->qcond);
	pthread_mutex_unlock(&srv->qlock);
	pthread_join(srv->commit_thread, NULL);
	srv->commit_running = 0;
}
