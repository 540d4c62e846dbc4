/*
 * kafka_ingest.c - `hx serve --kafka kafka://BROKERS/TOPIC [--kafka-group G]`: batches from a Kafka
 * topic into the store, through the same commit thread as the native protocol.
 *
 * The consumer (kafka_consumer.h) runs on the ingest loop's thread, driven by a timer, in rounds:
 * take up to ROUND_MESSAGES messages (without waiting), queue each as an item for the commit
 * thread, and take nothing more until every item of the round has come back committed; then commit
 * the round's offsets to the group, and start the next round. So an offset is committed only after
 * the store has made its events durable: a crash anywhere replays the round (the store drops the
 * duplicates by event ID) and never loses it. A round is a few hundred milliseconds at most (one
 * group commit of the store), and rounds of 1000 messages of per-trace batches keep the commit
 * thread busy.
 *
 * A message that is not a well-formed batch is counted as rejected (hx_frames_rejected_total) and
 * skipped: one bad message must not block its partition forever. When the store cannot take an
 * item (after the commit thread's own retries gave up), the round is not committed: the consumer
 * is recreated, which returns to the last committed offsets, and the round is consumed again.
 */
#include <event2/event.h>
#include <stdlib.h>
#include <string.h>

#include "server/server.h"

#if HX_HAVE_KAFKA
#include "lib/kafkasink.h"
#include "server/kafka_consumer.h"

#define TICK_MS 20
#define ROUND_MESSAGES 1000

struct hx__kafka_ingest {
	hx__server *srv;
	hx__kafka_consumer *c;
	char brokers[4096], topic[256], *group;
	struct event *timer;
	size_t outstanding;      /* items of this round not yet back from the commit thread */
	int uncommitted;         /* a round came back whole: its offsets await a group commit */
	int failed;              /* an item of this round could not be stored */
	int logged;
};

static void on_log(const char *msg, void *user)
{
	struct hx__kafka_ingest *k = user;
	if (!k->logged) /* one line per trouble spell: a down cluster must not flood the log */
		hx__srv_log("kafka: %s", msg);
	k->logged = 1;
}

static int consumer_open(struct hx__kafka_ingest *k)
{
	char err[512] = "";
	hx__kafka_consumer_opts o;
	memset(&o, 0, sizeof o);
	o.client_id = "hx-serve";
	/* A service that dies holds its partitions until its session times out: 10 s rather than
	 * Kafka's 45 s, so another `hx serve` of the group (or this one, restarted) takes over soon. */
	static const char *const props[] = {"session.timeout.ms=10000", "heartbeat.interval.ms=1000"};
	o.props = props;
	o.nprops = 2;
	o.on_log = on_log;
	o.user = k;
	int rc = hx__kafka_consumer_create(&k->c, k->brokers, k->topic, k->group, &o, err, sizeof err);
	if (rc != HX_OK) {
		hx__srv_log("kafka: %s", err[0] ? err : hx_strerror(rc));
		k->c = NULL;
	}
	return rc;
}

static void item_done(hx__item *it)
{
	struct hx__kafka_ingest *k = it->owner;
	k->outstanding--;
	if (it->status != HX_OK)
		k->failed = 1;
	else
		atomic_fetch_add(&k->srv->m.batches_acked, 1);
}

static int take(const uint8_t *value, size_t len, const hx__kafka_meta *meta, void *user)
{
	(void)meta;
	struct hx__kafka_ingest *k = user;
	hx__server *srv = k->srv;
	uint8_t *data = malloc(len ? len : 1);
	if (!data)
		return 1; /* refused: delivered again at the next poll */
	memcpy(data, value, len);
	atomic_fetch_add(&srv->m.bytes_received, len);
	hx_proto_reason why;
	hx__item *it = hx__item_new(srv, data, len, &why);
	if (!it) {
		if (why == HX_REASON_NONE)
			return 1;
		hx__metrics_reject(&srv->m, why);
		return 0; /* a malformed message is skipped, counted */
	}
	it->loop = &srv->ingest;
	it->done = item_done;
	it->owner = k;
	k->outstanding++;
	atomic_fetch_add(&srv->m.events_received, it->nevents);
	hx__commit_enqueue(srv, it);
	return 0;
}

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct hx__kafka_ingest *k = arg;
	if (k->outstanding || atomic_load(&k->srv->stopping))
		return;
	if (k->failed) {
		/* back to the last committed offsets: the failed round is consumed again */
		hx__kafka_consumer_destroy(k->c);
		k->c = NULL;
		k->failed = 0;
		k->uncommitted = 0;
	}
	if (!k->c && consumer_open(k) != HX_OK)
		return;
	if (k->uncommitted && hx__kafka_consumer_commit(k->c) == HX_OK) {
		k->uncommitted = 0;
		k->logged = 0;
	}
	/* A failed commit (the group coordinator away) does not stop consuming: the offsets stay
	 * stored and the next commit that succeeds carries them; a crash meanwhile replays more,
	 * never less. Waiting for the commit instead would stall the service as long as the
	 * coordinator is away, and stop servicing the group in the meantime. */
	if (hx__srv_overloaded(k->srv))
		return;
	long n = hx__kafka_consumer_poll_max(k->c, 0, take, k, ROUND_MESSAGES);
	if (n > 0)
		k->uncommitted = 1;
	/* for /metrics, which runs on the http thread: copies, not the consumer itself */
	atomic_store(&k->srv->m.kafka_lag, hx__kafka_consumer_lag(k->c));
	atomic_store(&k->srv->m.kafka_partitions, hx__kafka_consumer_partitions(k->c));
}

int hx__kafka_ingest_start(hx__server *srv)
{
	const char *url = srv->cfg.kafka_url;
	if (!url)
		return 0;
	struct hx__kafka_ingest *k = calloc(1, sizeof *k);
	if (!k)
		return -1;
	k->srv = srv;
	char err[256] = "";
	if (hx__kafka_url_parse(url, k->brokers, sizeof k->brokers, k->topic, sizeof k->topic, err,
	                        sizeof err) != 0) {
		hx__srv_log("--kafka %s: %s", url, err);
		free(k);
		return -1;
	}
	k->group = strdup(srv->cfg.kafka_group ? srv->cfg.kafka_group : "hx-serve");
	if (!k->group || consumer_open(k) != HX_OK) {
		free(k->group);
		free(k);
		return -1;
	}
	k->timer = event_new(srv->ingest.base, -1, EV_PERSIST, on_tick, k);
	struct timeval tv = {0, TICK_MS * 1000};
	if (!k->timer || event_add(k->timer, &tv)) {
		hx__srv_log("kafka: cannot start the consumer's timer");
		hx__kafka_consumer_destroy(k->c);
		if (k->timer)
			event_free(k->timer);
		free(k->group);
		free(k);
		return -1;
	}
	srv->kafka = k;
	return 0;
}

void hx__kafka_ingest_stop(hx__server *srv)
{
	struct hx__kafka_ingest *k = srv->kafka;
	if (!k)
		return;
	event_free(k->timer);
	/* The commit thread has stopped and its items came back: commit what the store holds, so a
	 * clean restart does not replay it (a failed commit only means a replay). */
	if (k->c && k->uncommitted && !k->failed && !k->outstanding)
		hx__kafka_consumer_commit(k->c);
	hx__kafka_consumer_destroy(k->c);
	free(k->group);
	free(k);
	srv->kafka = NULL;
}

#else /* built without librdkafka */

int hx__kafka_ingest_start(hx__server *srv)
{
	if (!srv->cfg.kafka_url)
		return 0;
	hx__srv_log("--kafka: this hx was built without Kafka support (librdkafka); install "
	            "librdkafka-dev and rebuild");
	return -1;
}

void hx__kafka_ingest_stop(hx__server *srv)
{
	(void)srv;
}
#endif
