/*
 * kafkasink.c - the Kafka shipper (kafkasink.h) and the kafka:// sink's thread.
 *
 * Recording is exactly the file sink's (the hot path does not know this file exists): events are
 * in the shared file mapping when the call returns. A thread follows the process's own files and
 * produces them to Kafka; what it had not delivered when the process died stays in the files, and
 * `hx ship DIR --to kafka://...` sends it later, starting from the positions saved here.
 *
 * Tickets: at the end of each poll of the files the shipper takes a follower mark. It covers every
 * event taken so far, which are exactly the events of this poll's messages and of the polls
 * before. Unlike the tcp client's in-order ACKs, delivery reports come back in any order (one
 * partition's leader may be slower than another's), so each poll is a *group* that counts its
 * messages still undelivered; groups are confirmed strictly in order, a group only once it and
 * every group before it reached zero. So a confirmed position never covers an event whose message
 * Kafka has not acknowledged with acks=all.
 *
 * Message memory: the shipper owns every message's bytes until its delivery succeeds and hands
 * librdkafka a reference (no copy). A failed delivery (the message timed out while the cluster
 * was away, or the producer hit a fatal error) therefore costs nothing to retry: the message goes
 * back on the pending list and is produced again.
 */
#define _GNU_SOURCE
#include "lib/kafkasink.h"

#include <librdkafka/rdkafka.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include "format/follow.h"
#include "lib/tracer.h"
#include "net/proto.h"

#define KEYS_SLOTS 512        /* hash slots of one poll's key table (power of two) */
#define KEYS_MAX 256          /* distinct keys (traces) in one poll: a poll ends at this many */
#define POOL_MAX 8            /* spare builders kept between polls */
#define POLL_EVENTS 65536     /* events taken by one poll at most */
#define MESSAGE_TIMEOUT_MS "30000" /* then a message is failed back to us, and produced again */

/* ---- URL ---- */

int hx__kafka_url_parse(const char *url, char *brokers, size_t blen, char *topic, size_t tlen,
                        char *why, size_t whylen)
{
	size_t sl = strlen(HX__KAFKA_SCHEME);
	if (!url || strncmp(url, HX__KAFKA_SCHEME, sl)) {
		snprintf(why, whylen, "%.64s: expected kafka://BROKER[,BROKER...]/TOPIC", url ? url : "(null)");
		return -1;
	}
	const char *b = url + sl, *slash = strchr(b, '/');
	if (!slash || slash == b) {
		snprintf(why, whylen, "%.64s: no %s (kafka://BROKER[,BROKER...]/TOPIC)", url,
		         slash ? "broker list" : "topic");
		return -1;
	}
	size_t bl = (size_t)(slash - b), tl = strlen(slash + 1);
	if (bl >= blen) {
		snprintf(why, whylen, "%.64s...: the broker list is too long", url);
		return -1;
	}
	/* every comma-separated entry must be a non-empty host[:port] without spaces */
	for (const char *p = b; p < slash;) {
		const char *e = memchr(p, ',', (size_t)(slash - p));
		if (!e)
			e = slash;
		if (e == p) {
			snprintf(why, whylen, "%.64s: an empty broker in the list", url);
			return -1;
		}
		for (const char *q = p; q < e; q++) {
			if (*q <= ' ' || *q == '/' || (unsigned char)*q >= 0x7f) {
				snprintf(why, whylen, "%.64s: a broker name with a character it cannot hold", url);
				return -1;
			}
		}
		p = e < slash ? e + 1 : e;
	}
	if (tl == 0 || tl > 249 || tl >= tlen) {
		snprintf(why, whylen, "%.64s: the topic must be 1 to 249 characters", url);
		return -1;
	}
	for (const char *q = slash + 1; *q; q++) {
		char c = *q;
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '.' || c == '_' || c == '-')) {
			snprintf(why, whylen, "%.64s: a topic holds only letters, digits, '.', '_' and '-'", url);
			return -1;
		}
	}
	memcpy(brokers, b, bl);
	brokers[bl] = 0;
	memcpy(topic, slash + 1, tl + 1);
	return 0;
}

/* ---- the shipper's state ---- */

struct kgroup {               /* the messages of one poll, and the mark that covers them */
	struct kgroup *next;
	uint64_t ticket;
	size_t outstanding;       /* messages not yet delivered */
};

struct kmsg {
	struct kmsg *next, *prev; /* on the pending list (singly) or the in-flight list (doubly) */
	struct kgroup *g;
	uint8_t *data;
	size_t len, events;
	uint8_t key[16];
	uint8_t keylen;
};

struct kentry {               /* one key of the poll in progress */
	uint8_t key[16];
	uint8_t keylen;
	hx_batch_builder *b;
	size_t events, bytes;
};

struct hx__kship {
	hx__follow *f;
	rd_kafka_t *rk;
	rd_kafka_topic_t *rkt;
	char *brokers, *topic, *client_id;
	char **props;
	size_t nprops;
	size_t queue_bytes;
	/* the poll in progress: its process, its key table, spare builders of that process */
	int have_proc;
	uint8_t proc_instance[16];
	struct kentry slots[KEYS_SLOTS];
	size_t nkeys;
	size_t poll_bytes;        /* bytes in the builders of the poll in progress */
	hx_batch_builder *pool[POOL_MAX];
	size_t npool;
	struct kgroup *open;      /* the group of the poll in progress (its ticket not yet taken) */
	/* confirmation order */
	struct kgroup *ghead, *gtail;
	/* messages to produce (new, refused by a full local queue, or failed and to retry) */
	struct kmsg *phead, *ptail;
	size_t npending;
	/* messages librdkafka holds, until their delivery report */
	struct kmsg inflight;     /* list head */
	size_t ninflight;
	size_t held;              /* bytes of every message not yet delivered */
	int reading, found, stuck;
	int lost;                 /* taken events that no message holds (memory ran out): this run
	                             must not confirm past them */
	int need_reopen;          /* the producer hit a fatal error */
	int save_failed;
	hx__kship_stats st;
	/* logging, from our thread and librdkafka's */
	void (*on_log)(const char *, void *);
	void *user;
	pthread_mutex_t log_lock;
	char last_log[256];
	char err[512];
};

static void klog(hx__kship *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void klog(hx__kship *s, const char *fmt, ...)
{
	if (!s->on_log)
		return;
	char line[256];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	pthread_mutex_lock(&s->log_lock);
	/* a broker that stays down repeats itself at every reconnection: say it once */
	if (strcmp(line, s->last_log)) {
		memcpy(s->last_log, line, sizeof line);
		s->on_log(line, s->user);
	}
	pthread_mutex_unlock(&s->log_lock);
}

static void on_rdlog(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
	hx__kship *s = rd_kafka_opaque(rk);
	if (level <= LOG_ERR)
		klog(s, "kafka: %s: %s", fac, buf);
}

static void on_rderror(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
	hx__kship *s = opaque;
	(void)rk;
	klog(s, "kafka: %s", reason);
	if (err == RD_KAFKA_RESP_ERR__FATAL)
		s->need_reopen = 1; /* read on our thread after rd_kafka_poll: see step() */
}

static void inflight_add(hx__kship *s, struct kmsg *m)
{
	m->next = s->inflight.next;
	m->prev = &s->inflight;
	s->inflight.next->prev = m;
	s->inflight.next = m;
	s->ninflight++;
}

static void inflight_del(hx__kship *s, struct kmsg *m)
{
	m->prev->next = m->next;
	m->next->prev = m->prev;
	s->ninflight--;
}

static void pending_push(hx__kship *s, struct kmsg *m)
{
	m->next = NULL;
	if (s->ptail)
		s->ptail->next = m;
	else
		s->phead = m;
	s->ptail = m;
	s->npending++;
}

static void msg_free(struct kmsg *m)
{
	free(m->data);
	free(m);
}

/* A delivery report, served by rd_kafka_poll() on the shipper's thread. */
static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *rm, void *opaque)
{
	hx__kship *s = opaque;
	struct kmsg *m = rm->_private;
	(void)rk;
	if (!m)
		return;
	inflight_del(s, m);
	if (rm->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
		m->g->outstanding--;
		s->held -= m->len;
		s->st.events_delivered += m->events;
		s->st.messages_delivered++;
		msg_free(m);
		return;
	}
	/* Not delivered (timed out, purged by a reopen, refused): produce it again. With the
	 * idempotent producer a retry after a timeout may duplicate, never lose; the store
	 * deduplicates by event ID. */
	if (rm->err != RD_KAFKA_RESP_ERR__PURGE_QUEUE && rm->err != RD_KAFKA_RESP_ERR__PURGE_INFLIGHT)
		klog(s, "kafka: a message was not delivered (%s); it is produced again",
		     rd_kafka_err2str(rm->err));
	s->st.messages_retried++;
	pending_push(s, m);
}

static int conf_set(rd_kafka_conf_t *conf, const char *k, const char *v, char *err, size_t errlen)
{
	char why[256];
	if (rd_kafka_conf_set(conf, k, v, why, sizeof why) != RD_KAFKA_CONF_OK) {
		snprintf(err, errlen, "kafka property %s=%s: %s", k, v, why);
		return -1;
	}
	return 0;
}

static int producer_open(hx__kship *s, char *err, size_t errlen)
{
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	if (!conf) {
		snprintf(err, errlen, "out of memory");
		return HX_ENOMEM;
	}
	char kbytes[32];
	/* librdkafka's own queue only ever holds what our queue bound lets through, plus a margin */
	snprintf(kbytes, sizeof kbytes, "%zu", s->queue_bytes / 1024 * 2 + 1024);
	const char *kv[][2] = {
		{"bootstrap.servers", s->brokers},
		{"client.id", s->client_id},
		/* no duplicates or reordering from retries within a session; acks=all: a message is
		 * reported delivered only once every in-sync replica has it */
		{"enable.idempotence", "true"},
		{"acks", "all"},
		/* a few ms of batching: many small per-trace messages share one request */
		{"linger.ms", "5"},
		{"message.timeout.ms", MESSAGE_TIMEOUT_MS},
		{"queue.buffering.max.kbytes", kbytes},
		/* brokers close idle connections; that is no news worth a line */
		{"log.connection.close", "false"},
	};
	for (size_t i = 0; i < sizeof kv / sizeof kv[0]; i++) {
		if (conf_set(conf, kv[i][0], kv[i][1], err, errlen))
			goto bad;
	}
	for (size_t i = 0; i < s->nprops; i++) {
		char *eq = strchr(s->props[i], '=');
		if (!eq) {
			snprintf(err, errlen, "kafka property %s: expected name=value", s->props[i]);
			goto bad;
		}
		*eq = 0;
		int r = conf_set(conf, s->props[i], eq + 1, err, errlen);
		*eq = '=';
		if (r)
			goto bad;
	}
	rd_kafka_conf_set_opaque(conf, s);
	rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
	rd_kafka_conf_set_log_cb(conf, on_rdlog);
	rd_kafka_conf_set_error_cb(conf, on_rderror);
	char why[512];
	s->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, why, sizeof why);
	if (!s->rk) {
		snprintf(err, errlen, "kafka producer: %s", why);
		goto bad;
	}
	s->rkt = rd_kafka_topic_new(s->rk, s->topic, NULL);
	if (!s->rkt) {
		snprintf(err, errlen, "kafka topic %s: %s", s->topic, rd_kafka_err2str(rd_kafka_last_error()));
		rd_kafka_destroy(s->rk);
		s->rk = NULL;
		return HX_ECONFIG;
	}
	return HX_OK;
bad:
	rd_kafka_conf_destroy(conf);
	return HX_ECONFIG;
}

/* Take the producer down; every message it still held goes back to the pending list. */
static void producer_close(hx__kship *s)
{
	if (!s->rk)
		return;
	rd_kafka_purge(s->rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
	rd_kafka_poll(s->rk, 0); /* the purged messages' reports: they move to pending */
	rd_kafka_topic_destroy(s->rkt);
	rd_kafka_destroy(s->rk);
	s->rk = NULL;
	s->rkt = NULL;
	/* reports that never came (librdkafka may drop them at destroy): the same */
	while (s->inflight.next != &s->inflight) {
		struct kmsg *m = s->inflight.next;
		inflight_del(s, m);
		pending_push(s, m);
	}
}

int hx__kship_new(hx__kship **out, const hx__kship_opts *o, char *err, size_t errlen)
{
	*out = NULL;
	char brokers[4096], topic[256];
	if (hx__kafka_url_parse(o->url, brokers, sizeof brokers, topic, sizeof topic, err, errlen))
		return HX_ECONFIG;
	hx__kship *s = calloc(1, sizeof *s);
	if (!s)
		return HX_ENOMEM;
	pthread_mutex_init(&s->log_lock, NULL);
	s->inflight.next = s->inflight.prev = &s->inflight;
	s->on_log = o->on_log;
	s->user = o->user;
	s->queue_bytes = o->queue_bytes ? o->queue_bytes : HX__KSHIP_QUEUE_DEFAULT;
	s->brokers = strdup(brokers);
	s->topic = strdup(topic);
	s->client_id = strdup(o->client_id ? o->client_id : "haruspex");
	s->props = o->nprops ? calloc(o->nprops, sizeof *s->props) : NULL;
	int rc = s->brokers && s->topic && s->client_id && (s->props || !o->nprops) ? HX_OK : HX_ENOMEM;
	for (size_t i = 0; rc == HX_OK && i < o->nprops; i++, s->nprops++)
		if (!(s->props[i] = strdup(o->props[i])))
			rc = HX_ENOMEM;
	if (rc == HX_OK) {
		hx__follow_opts fo = {o->dir, o->state_dir, o->only_instance};
		rc = hx__follow_open(&s->f, &fo, err, errlen);
	}
	if (rc == HX_OK)
		rc = producer_open(s, err, errlen);
	if (rc != HX_OK) {
		if (rc == HX_ENOMEM && !err[0])
			snprintf(err, errlen, "out of memory");
		hx__kship_free(s);
		return rc;
	}
	s->reading = 1;
	s->found = 1;
	*out = s;
	return HX_OK;
}

static void groups_free(struct kgroup *g)
{
	while (g) {
		struct kgroup *n = g->next;
		free(g);
		g = n;
	}
}

void hx__kship_free(hx__kship *s)
{
	if (!s)
		return;
	producer_close(s);
	while (s->phead) {
		struct kmsg *m = s->phead;
		s->phead = m->next;
		msg_free(m);
	}
	for (size_t i = 0; i < KEYS_SLOTS; i++)
		hx_batch_builder_free(s->slots[i].b);
	for (size_t i = 0; i < s->npool; i++)
		hx_batch_builder_free(s->pool[i]);
	groups_free(s->ghead);
	free(s->open);
	hx__follow_close(s->f);
	for (size_t i = 0; i < s->nprops; i++)
		free(s->props[i]);
	free(s->props);
	free(s->brokers);
	free(s->topic);
	free(s->client_id);
	pthread_mutex_destroy(&s->log_lock);
	free(s);
}

/* ---- one poll: events -> per-key builders -> messages of the open group ---- */

static uint32_t key_hash(const uint8_t *k, size_t n)
{
	uint32_t h = 2166136261u; /* FNV-1a: keys are random IDs already, this just folds them */
	for (size_t i = 0; i < n; i++)
		h = (h ^ k[i]) * 16777619u;
	return h;
}

static struct kentry *key_find(hx__kship *s, const uint8_t *key, size_t n)
{
	uint32_t i = key_hash(key, n) & (KEYS_SLOTS - 1);
	for (;; i = (i + 1) & (KEYS_SLOTS - 1)) {
		struct kentry *e = &s->slots[i];
		if (e->keylen == 0) {
			if (s->nkeys >= KEYS_MAX)
				return NULL; /* the table stays at most half full */
			memcpy(e->key, key, n);
			e->keylen = (uint8_t)n;
			s->nkeys++;
			return e;
		}
		if (e->keylen == n && !memcmp(e->key, key, n))
			return e;
	}
}

/* Close an entry's batch into a message of the open group. 0, or -1 when memory ran out (the
 * entry's events are then lost to this run: s->lost). */
static int entry_close(hx__kship *s, struct kentry *e)
{
	if (!e->b || e->events == 0)
		return 0;
	if (!s->open && !(s->open = calloc(1, sizeof *s->open)))
		goto nomem;
	size_t len;
	const uint8_t *bytes = hx_batch_builder_finish(e->b, &len);
	struct kmsg *m = bytes ? calloc(1, sizeof *m) : NULL;
	if (!m || !(m->data = malloc(len))) {
		free(m);
		goto nomem;
	}
	memcpy(m->data, bytes, len);
	m->len = len;
	m->events = e->events;
	memcpy(m->key, e->key, e->keylen);
	m->keylen = e->keylen;
	m->g = s->open;
	s->open->outstanding++;
	s->held += len;
	pending_push(s, m);
	s->poll_bytes -= e->bytes;
	e->events = 0;
	e->bytes = 0;
	return 0;
nomem:
	/* hx_batch_builder_finish reset the builder, or it is unusable: either way these events
	 * are gone from memory but taken in the follower */
	s->lost = 1;
	s->poll_bytes -= e->bytes;
	e->events = 0;
	e->bytes = 0;
	snprintf(s->err, sizeof s->err, "out of memory: events are left for the next run");
	return -1;
}

/* Close every entry, keep a few builders for the next poll of the same process, clear the table. */
static int entries_close(hx__kship *s)
{
	int rc = 0;
	for (size_t i = 0; i < KEYS_SLOTS; i++) {
		struct kentry *e = &s->slots[i];
		if (!e->keylen)
			continue;
		if (entry_close(s, e))
			rc = -1;
		if (e->b) {
			if (s->npool < POOL_MAX)
				s->pool[s->npool++] = e->b;
			else
				hx_batch_builder_free(e->b);
		}
		memset(e, 0, sizeof *e);
	}
	s->nkeys = 0;
	s->poll_bytes = 0;
	return rc;
}

static void pool_clear(hx__kship *s)
{
	for (size_t i = 0; i < s->npool; i++)
		hx_batch_builder_free(s->pool[i]);
	s->npool = 0;
}

static int take(const hx__follow_proc *p, const hx_event *ev, void *user)
{
	hx__kship *s = user;
	if (s->held + s->poll_bytes >= s->queue_bytes) {
		s->stuck = 1; /* the queue is full: the event waits in the file */
		return 1;
	}
	if (!s->have_proc || memcmp(s->proc_instance, p->instance, 16)) {
		/* a batch holds one process: close the other process's batches, drop its builders */
		entries_close(s);
		pool_clear(s);
		memcpy(s->proc_instance, p->instance, 16);
		s->have_proc = 1;
	}
	uint8_t key[16];
	size_t kn = 16;
	static const uint8_t zero[16];
	if (memcmp(ev->trace_id, zero, 16)) {
		memcpy(key, ev->trace_id, 16);
	} else {
		/* outside any trace: keyed by the entity, so its events stay in order in one partition */
		for (int i = 0; i < 8; i++)
			key[i] = (uint8_t)(ev->entity_id >> (56 - 8 * i));
		kn = 8;
	}
	struct kentry *e = key_find(s, key, kn);
	if (!e)
		return 1; /* KEYS_MAX traces in this poll: the rest goes into the next one */
	if (!e->b) {
		e->b = s->npool ? s->pool[--s->npool]
		                : hx_batch_builder_new(p->instance, p->pid, p->resource, p->npairs);
		if (!e->b)
			return 1;
	}
	int rc = hx_batch_builder_add(e->b, ev);
	if (rc == HX_ENOMEM)
		return 1;
	if (rc == HX_OK)
		e->events++;
	else
		s->st.events_refused++; /* the format cannot hold it: counted, the position moves on */
	s->st.events_taken++;
	size_t now = hx_batch_builder_bytes(e->b);
	s->poll_bytes += now - e->bytes;
	e->bytes = now;
	if (now >= HX__KSHIP_MSG_BYTES)
		entry_close(s, e); /* a busy trace: several messages, one key, one partition */
	return 0;
}

/* ---- producing and confirming ---- */

static void produce_pending(hx__kship *s)
{
	while (s->phead && s->rk) {
		struct kmsg *m = s->phead;
		/* rd_kafka_produceva rather than the RD_KAFKA_V_* macros, which are GNU statement
		 * expressions (refused by -Wpedantic -Werror under clang) */
		rd_kafka_vu_t vu[5];
		memset(vu, 0, sizeof vu);
		vu[0].vtype = RD_KAFKA_VTYPE_RKT;
		vu[0].u.rkt = s->rkt;
		vu[1].vtype = RD_KAFKA_VTYPE_MSGFLAGS;
		vu[1].u.i = 0; /* no copy, no free: we keep the bytes until the delivery report */
		vu[2].vtype = RD_KAFKA_VTYPE_KEY;
		vu[2].u.mem.ptr = m->key;
		vu[2].u.mem.size = m->keylen;
		vu[3].vtype = RD_KAFKA_VTYPE_VALUE;
		vu[3].u.mem.ptr = m->data;
		vu[3].u.mem.size = m->len;
		vu[4].vtype = RD_KAFKA_VTYPE_OPAQUE;
		vu[4].u.ptr = m;
		rd_kafka_error_t *pe = rd_kafka_produceva(s->rk, vu, 5);
		rd_kafka_resp_err_t e = pe ? rd_kafka_error_code(pe) : RD_KAFKA_RESP_ERR_NO_ERROR;
		if (pe)
			rd_kafka_error_destroy(pe);
		if (e == RD_KAFKA_RESP_ERR__QUEUE_FULL)
			return; /* librdkafka's queue: next step, after reports free it */
		if (e == RD_KAFKA_RESP_ERR__FATAL) {
			s->need_reopen = 1;
			return;
		}
		s->phead = m->next;
		if (!s->phead)
			s->ptail = NULL;
		s->npending--;
		if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
			/* refused outright (a message over the broker's limit, an unknown topic): it
			 * stays pending at the back and is tried again, never dropped; say why */
			klog(s, "kafka: cannot produce a message of %zu bytes: %s", m->len, rd_kafka_err2str(e));
			pending_push(s, m);
			return;
		}
		inflight_add(s, m);
	}
}

static void confirm_ready(hx__kship *s)
{
	uint64_t ticket = 0;
	int any = 0;
	while (s->ghead && s->ghead->outstanding == 0) {
		struct kgroup *g = s->ghead;
		ticket = g->ticket;
		any = 1;
		s->ghead = g->next;
		if (!s->ghead)
			s->gtail = NULL;
		free(g);
	}
	if (!any || s->lost)
		return;
	/* a write error is remembered; the positions stay confirmed in memory and are written with
	 * the next confirmation, so nothing is lost but a restart might resend a little more */
	if (hx__follow_confirm(s->f, ticket) != HX_OK) {
		s->save_failed = 1;
		snprintf(s->err, sizeof s->err, "%s", hx__follow_error(s->f));
	}
}

static int poll_files(hx__kship *s, long *taken)
{
	s->stuck = 0;
	long n = hx__follow_poll(s->f, take, s, POLL_EVENTS);
	if (n < 0) {
		entries_close(s);
		snprintf(s->err, sizeof s->err, "%s", hx__follow_error(s->f));
		return (int)n;
	}
	int rc = entries_close(s) ? HX_ENOMEM : HX_OK;
	if (n > 0 || s->open) {
		struct kgroup *g = s->open ? s->open : calloc(1, sizeof *g);
		if (!g) {
			s->lost = 1; /* events taken, no group to confirm them by */
			return HX_ENOMEM;
		}
		s->open = NULL;
		g->ticket = hx__follow_mark(s->f);
		if (s->gtail)
			s->gtail->next = g;
		else
			s->ghead = g;
		s->gtail = g;
	}
	*taken = n;
	return rc;
}

int hx__kship_step(hx__kship *s, int timeout_ms)
{
	int rc = HX_OK, wait = timeout_ms;
	if (s->need_reopen || !s->rk) {
		char why[512] = "";
		if (s->rk) {
			char fatal[256] = "";
			rd_kafka_fatal_error(s->rk, fatal, sizeof fatal);
			klog(s, "kafka: the producer failed (%s); starting a new one", fatal);
		}
		producer_close(s);
		s->need_reopen = 0;
		if (producer_open(s, why, sizeof why) != HX_OK)
			klog(s, "%s", why);
		else
			s->st.producer_restarts++;
	}
	produce_pending(s);
	s->found = s->npending > 0;
	/* Read only while nothing waits to be produced and the queue has room: with the cluster
	 * away the events wait in the files, never in memory. */
	if (s->reading && !s->npending && s->held < s->queue_bytes) {
		long n = 0;
		int pr = poll_files(s, &n);
		if (pr != HX_OK)
			rc = pr;
		produce_pending(s);
		s->found = n > 0 || s->stuck || s->npending > 0;
		if (n > 0 && !s->stuck && !s->npending)
			wait = 0; /* more may be coming: produce this and look again at once */
	}
	if (!s->found && !s->ghead && !s->lost && !hx__follow_settled(s->f)) {
		/* positions moved without a message (past finished chunks, or events the format
		 * refused) and nothing is in flight: everything taken is accounted for */
		if (hx__follow_confirm(s->f, hx__follow_mark(s->f)) != HX_OK) {
			snprintf(s->err, sizeof s->err, "%s", hx__follow_error(s->f));
			rc = HX_EIO;
		}
	}
	if (s->rk)
		rd_kafka_poll(s->rk, wait); /* delivery reports: on_delivery() */
	else if (wait > 0) {
		struct timespec ts = {wait / 1000, (long)(wait % 1000) * 1000000L};
		nanosleep(&ts, NULL);
	}
	char fatal[256];
	if (s->rk && rd_kafka_fatal_error(s->rk, fatal, sizeof fatal))
		s->need_reopen = 1; /* the reason is logged when the new producer is made */
	confirm_ready(s);
	if (rc == HX_OK && s->save_failed) {
		s->save_failed = 0;
		rc = HX_EIO;
	}
	return rc;
}

void hx__kship_stop_reading(hx__kship *s)
{
	s->reading = 0;
}

int hx__kship_done(const hx__kship *s)
{
	return !s->found && !s->npending && !s->ninflight && !s->ghead && !s->lost &&
	       hx__follow_settled(s->f);
}

size_t hx__kship_undelivered(const hx__kship *s)
{
	return s->npending + s->ninflight;
}

void hx__kship_stats_get(const hx__kship *s, hx__kship_stats *out)
{
	hx__follow_stats fs;
	hx__follow_stats_get(s->f, &fs);
	*out = s->st;
	out->chunks_skipped = fs.chunks_skipped;
}

const char *hx__kship_error(const hx__kship *s)
{
	return s->err;
}

/* ---- the kafka:// sink ---- */

#define STEP_MS 200          /* how often the files are looked at while nothing happens */
#define LINGER_DEFAULT_MS 2000

struct hx__kafkasink {
	pthread_t thread;
	hx__kship *s;
	_Atomic int stop;
	uint64_t linger_ms;
	int quiet;
	_Atomic int logged;      /* one message per run: a down cluster must not flood stderr */
};

static void sink_log(const char *msg, void *user)
{
	struct hx__kafkasink *k = user;
	if (k->quiet || atomic_exchange(&k->logged, 1))
		return;
	fprintf(stderr, "haruspex: kafka sink: %s; the events stay in the trace files and are sent when "
	                "the cluster answers (or later by `hx ship`)\n", msg);
}

static void *sink_thread(void *arg)
{
	struct hx__kafkasink *k = arg;
	while (!atomic_load(&k->stop))
		hx__kship_step(k->s, STEP_MS);
	/* Shutdown: the files are complete; deliver what is left, for a bounded time. */
	uint64_t deadline = hx__mono_ns() + k->linger_ms * 1000000u;
	while (hx__mono_ns() < deadline) {
		uint64_t left_ms = (deadline - hx__mono_ns()) / 1000000u;
		hx__kship_step(k->s, (int)(left_ms < 50 ? left_ms : 50));
		if (hx__kship_done(k->s))
			break;
	}
	return NULL;
}

int hx__kafkasink_start(struct hx__tracer *tr)
{
	struct hx__kafkasink *k = calloc(1, sizeof *k);
	if (!k)
		return HX_ENOMEM;
	const char *v = getenv("HARUSPEX_SHIP_LINGER_MS"); /* validated by config.c */
	k->linger_ms = v && *v ? strtoull(v, NULL, 10) : LINGER_DEFAULT_MS;
	k->quiet = tr->cfg.quiet;
	hx__kship_opts o;
	memset(&o, 0, sizeof o);
	o.dir = tr->dir;
	o.state_dir = tr->dir;
	o.only_instance = tr->instance;
	o.url = tr->cfg.ship_to;
	o.client_id = tr->program;
	o.on_log = sink_log;
	o.user = k;
	/* librdkafka starts its threads in rd_kafka_new(), and they inherit our signal mask: like the
	 * file sink's thread, none of them may run a signal handler of the program. */
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	char err[512] = "";
	int rc = hx__kship_new(&k->s, &o, err, sizeof err);
	if (rc == HX_OK && pthread_create(&k->thread, NULL, sink_thread, k) != 0) {
		snprintf(err, sizeof err, "cannot start the shipping thread");
		hx__kship_free(k->s);
		rc = HX_ESINK;
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc != HX_OK) {
		if (!tr->cfg.quiet)
			fprintf(stderr, "haruspex: kafka sink: %s; events are written to %s only\n",
			        err[0] ? err : hx_strerror(rc), tr->dir);
		free(k);
		return HX_ESINK;
	}
	tr->kafka = k;
	return HX_OK;
}

void hx__kafkasink_stop(struct hx__tracer *tr)
{
	struct hx__kafkasink *k = tr->kafka;
	if (!k)
		return;
	atomic_store(&k->stop, 1);
	pthread_join(k->thread, NULL);
	hx__kship_free(k->s);
	free(k);
	tr->kafka = NULL;
}
