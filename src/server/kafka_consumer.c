/*
 * kafka_consumer.c - the Kafka consumer of `hx serve` (kafka_consumer.h), on librdkafka's
 * high-level (group) consumer.
 *
 * Offsets: enable.auto.commit=false and enable.auto.offset.store=false, so librdkafka neither
 * commits nor even records a position on its own. A poll collects, per partition, the offset after
 * the last message the callback took and stores them at the end of the poll (or before a rewind:
 * librdkafka wants stores before seeks); commit() sends what is stored. A message is therefore in
 * a commit only after the callback took it and the caller said its batch is durable.
 *
 * Lag and assignment are computed on the polling thread (at most every LAG_EVERY_NS) and kept in
 * atomics, so /metrics reads them from its own thread without touching librdkafka.
 */
#define _GNU_SOURCE
#include "server/kafka_consumer.h"

#include <haruspex.h>
#include <librdkafka/rdkafka.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>

#define LAG_EVERY_NS 500000000ull

struct hx__kafka_consumer {
	rd_kafka_t *rk;
	char *topic;
	rd_kafka_topic_partition_list_t *taken; /* offsets to store at the end of this poll */
	_Atomic int64_t lag;
	_Atomic int partitions;
	uint64_t lag_at;
	hx__kafka_consumer_stats st;
	void (*on_log)(const char *, void *);
	void *user;
	pthread_mutex_t log_lock;
	char last_log[256];
	char err[512];
};

static uint64_t mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void clog_line(hx__kafka_consumer *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void clog_line(hx__kafka_consumer *c, const char *fmt, ...)
{
	if (!c->on_log)
		return;
	char line[256];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	pthread_mutex_lock(&c->log_lock);
	/* a broker that stays down repeats itself at every reconnection: say it once */
	if (strcmp(line, c->last_log)) {
		memcpy(c->last_log, line, sizeof line);
		c->on_log(line, c->user);
	}
	pthread_mutex_unlock(&c->log_lock);
}

static void on_rdlog(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
	hx__kafka_consumer *c = rd_kafka_opaque(rk);
	if (c && level <= LOG_ERR)
		clog_line(c, "kafka: %s: %s", fac, buf);
}

static void on_rderror(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
	hx__kafka_consumer *c = opaque;
	(void)rk;
	(void)err;
	clog_line(c, "kafka: %s", reason);
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

int hx__kafka_consumer_create(hx__kafka_consumer **out, const char *brokers, const char *topic,
                              const char *group, const hx__kafka_consumer_opts *o, char *err,
                              size_t errlen)
{
	*out = NULL;
	static const hx__kafka_consumer_opts none;
	if (!o)
		o = &none;
	if (!brokers || !*brokers || !topic || !*topic || !group || !*group) {
		snprintf(err, errlen, "kafka consumer: brokers, topic and group are required");
		return HX_ECONFIG;
	}
	hx__kafka_consumer *c = calloc(1, sizeof *c);
	if (!c || !(c->topic = strdup(topic))) {
		free(c);
		snprintf(err, errlen, "out of memory");
		return HX_ENOMEM;
	}
	pthread_mutex_init(&c->log_lock, NULL);
	c->on_log = o->on_log;
	c->user = o->user;
	atomic_store(&c->lag, -1);
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	if (!conf) {
		hx__kafka_consumer_destroy(c);
		snprintf(err, errlen, "out of memory");
		return HX_ENOMEM;
	}
	const char *kv[][2] = {
		{"bootstrap.servers", brokers},
		{"group.id", group},
		{"client.id", o->client_id ? o->client_id : "hx-serve"},
		/* offsets move only when the store has the events (see the top of this file) */
		{"enable.auto.commit", "false"},
		{"enable.auto.offset.store", "false"},
		/* a new group reads each partition from its start: nothing produced is skipped */
		{"auto.offset.reset", "earliest"},
		{"enable.partition.eof", "false"},
		/* the prefetch queue is the consumer's memory: bounded, well under the service's */
		{"queued.max.messages.kbytes", "16384"},
		{"log.connection.close", "false"},
	};
	for (size_t i = 0; i < sizeof kv / sizeof kv[0]; i++) {
		if (conf_set(conf, kv[i][0], kv[i][1], err, errlen))
			goto bad;
	}
	for (size_t i = 0; i < o->nprops; i++) {
		char name[256];
		const char *eq = strchr(o->props[i], '=');
		if (!eq || (size_t)(eq - o->props[i]) >= sizeof name) {
			snprintf(err, errlen, "kafka property %.64s: expected name=value", o->props[i]);
			goto bad;
		}
		memcpy(name, o->props[i], (size_t)(eq - o->props[i]));
		name[eq - o->props[i]] = 0;
		if (conf_set(conf, name, eq + 1, err, errlen))
			goto bad;
	}
	rd_kafka_conf_set_opaque(conf, c);
	rd_kafka_conf_set_log_cb(conf, on_rdlog);
	rd_kafka_conf_set_error_cb(conf, on_rderror);
	char why[512];
	c->rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, why, sizeof why);
	if (!c->rk) {
		snprintf(err, errlen, "kafka consumer: %s", why);
		goto bad;
	}
	conf = NULL;
	/* every event (errors, rebalances) on the consumer queue: one poll call serves them all */
	rd_kafka_poll_set_consumer(c->rk);
	rd_kafka_topic_partition_list_t *sub = rd_kafka_topic_partition_list_new(1);
	rd_kafka_topic_partition_list_add(sub, topic, RD_KAFKA_PARTITION_UA);
	rd_kafka_resp_err_t e = rd_kafka_subscribe(c->rk, sub);
	rd_kafka_topic_partition_list_destroy(sub);
	if (e) {
		snprintf(err, errlen, "kafka consumer: subscribing to %s: %s", topic, rd_kafka_err2str(e));
		goto bad;
	}
	*out = c;
	return HX_OK;
bad:
	if (conf)
		rd_kafka_conf_destroy(conf);
	hx__kafka_consumer_destroy(c);
	return HX_ECONFIG;
}

/* Store the offsets collected by this poll (before any seek, and at its end). */
static void store_taken(hx__kafka_consumer *c)
{
	if (!c->taken)
		return;
	if (c->taken->cnt) {
		/* a partition revoked meanwhile fails with __STATE: its new owner replays it */
		rd_kafka_offsets_store(c->rk, c->taken);
	}
	rd_kafka_topic_partition_list_destroy(c->taken);
	c->taken = NULL;
}

static void note_taken(hx__kafka_consumer *c, const rd_kafka_message_t *m)
{
	const char *topic = rd_kafka_topic_name(m->rkt);
	if (!c->taken && !(c->taken = rd_kafka_topic_partition_list_new(8)))
		return; /* out of memory: the offset is not stored, the message is replayed: safe */
	rd_kafka_topic_partition_t *p = rd_kafka_topic_partition_list_find(c->taken, topic, m->partition);
	if (!p)
		p = rd_kafka_topic_partition_list_add(c->taken, topic, m->partition);
	p->offset = m->offset + 1; /* the next message to read, as Kafka commits it */
}

static void rewind_to(hx__kafka_consumer *c, const rd_kafka_message_t *m)
{
	store_taken(c);
	rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
	if (!l)
		return;
	rd_kafka_topic_partition_list_add(l, rd_kafka_topic_name(m->rkt), m->partition)->offset = m->offset;
	rd_kafka_error_t *e = rd_kafka_seek_partitions(c->rk, l, 2000);
	if (e) {
		clog_line(c, "kafka: rewinding partition %d: %s", (int)m->partition, rd_kafka_error_string(e));
		rd_kafka_error_destroy(e);
	}
	rd_kafka_topic_partition_list_destroy(l);
}

static void update_lag(hx__kafka_consumer *c)
{
	uint64_t now = mono_ns();
	if (now - c->lag_at < LAG_EVERY_NS && c->lag_at)
		return;
	c->lag_at = now;
	rd_kafka_topic_partition_list_t *a = NULL;
	if (rd_kafka_assignment(c->rk, &a) || !a)
		return;
	rd_kafka_position(c->rk, a);
	int64_t lag = 0;
	int known = 0;
	for (int i = 0; i < a->cnt; i++) {
		int64_t lo = -1, hi = -1;
		/* cached from the fetch responses: no request to the broker */
		if (rd_kafka_get_watermark_offsets(c->rk, a->elems[i].topic, a->elems[i].partition, &lo, &hi))
			continue;
		int64_t pos = a->elems[i].offset >= 0 ? a->elems[i].offset : lo;
		if (hi < 0 || pos < 0)
			continue;
		known = 1;
		if (hi > pos)
			lag += hi - pos;
	}
	atomic_store(&c->partitions, a->cnt);
	atomic_store(&c->lag, known || a->cnt == 0 ? lag : -1);
	rd_kafka_topic_partition_list_destroy(a);
}

long hx__kafka_consumer_poll_max(hx__kafka_consumer *c, int timeout_ms, hx__kafka_msg_fn fn,
                                 void *user, size_t max_messages)
{
	long taken = 0;
	int wait = timeout_ms;
	while (!max_messages || (size_t)taken < max_messages) {
		rd_kafka_message_t *m = rd_kafka_consumer_poll(c->rk, wait);
		if (!m)
			break;
		wait = 0; /* after the first, only what is already fetched */
		if (m->err) {
			/* informational (a broker went away) or about one partition: librdkafka goes on */
			c->st.errors++;
			clog_line(c, "kafka: %s", rd_kafka_message_errstr(m));
			rd_kafka_message_destroy(m);
			continue;
		}
		hx__kafka_meta meta = {m->partition, m->offset, m->key, m->key ? m->key_len : 0};
		int r = fn(m->payload, m->payload ? m->len : 0, &meta, user);
		if (r) {
			c->st.refused++;
			rewind_to(c, m);
			rd_kafka_message_destroy(m);
			break;
		}
		c->st.messages++;
		c->st.bytes += m->len;
		note_taken(c, m);
		rd_kafka_message_destroy(m);
		taken++;
	}
	store_taken(c);
	update_lag(c);
	return taken;
}

long hx__kafka_consumer_poll(hx__kafka_consumer *c, int timeout_ms, hx__kafka_msg_fn fn, void *user)
{
	return hx__kafka_consumer_poll_max(c, timeout_ms, fn, user, 0);
}

int hx__kafka_consumer_commit(hx__kafka_consumer *c)
{
	rd_kafka_resp_err_t e = rd_kafka_commit(c->rk, NULL, 0);
	if (e == RD_KAFKA_RESP_ERR_NO_ERROR || e == RD_KAFKA_RESP_ERR__NO_OFFSET) {
		c->st.commits += e == RD_KAFKA_RESP_ERR_NO_ERROR;
		return HX_OK;
	}
	c->st.commit_failures++;
	snprintf(c->err, sizeof c->err, "kafka offset commit: %s", rd_kafka_err2str(e));
	return HX_EIO;
}

int64_t hx__kafka_consumer_lag(const hx__kafka_consumer *c)
{
	return atomic_load(&((hx__kafka_consumer *)c)->lag);
}

int hx__kafka_consumer_partitions(const hx__kafka_consumer *c)
{
	return atomic_load(&((hx__kafka_consumer *)c)->partitions);
}

void hx__kafka_consumer_stats_get(const hx__kafka_consumer *c, hx__kafka_consumer_stats *out)
{
	*out = c->st;
}

const char *hx__kafka_consumer_error(const hx__kafka_consumer *c)
{
	return c->err;
}

void hx__kafka_consumer_destroy(hx__kafka_consumer *c)
{
	if (!c)
		return;
	if (c->rk) {
		/* leave the group now, so the partitions move to the other members at once; nothing
		 * is committed here (auto commit is off) */
		rd_kafka_consumer_close(c->rk);
		rd_kafka_destroy(c->rk);
	}
	if (c->taken)
		rd_kafka_topic_partition_list_destroy(c->taken);
	pthread_mutex_destroy(&c->log_lock);
	free(c->topic);
	free(c);
}
