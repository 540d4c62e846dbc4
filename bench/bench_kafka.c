/*
 * bench_kafka.c - the Kafka path's throughput: trace files -> the Kafka shipper (the engine of the
 * kafka:// sink and `hx ship --to kafka://`) -> librdkafka's mock cluster (3 brokers, real Kafka
 * protocol over loopback) -> the consumer of `hx serve` (src/server/kafka_consumer.h).
 *
 *   bench_kafka [EVENTS]     (default 2,000,000)
 *
 * First a directory of trace files is written with the file sink (not timed). Then the shipper
 * and the consumer run at the same time, each on its own thread, and the clock runs from the
 * shipper's start until the consumer has every event. The consumer counts events from each
 * batch's header: decoding them is the store's work, measured by the service benchmark. Prints
 *   produce_ev_s=<x>   events/s until the shipper had every delivery confirmed
 *   kafka_ev_s=<x>     events/s end to end (the figure the service benchmark's RESULT line takes)
 * The mock cluster keeps everything in this process's memory and shares its two cores, so the
 * figures are a floor for a real cluster, and comparable from run to run.
 */
#define _GNU_SOURCE
#include <haruspex.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <ftw.h>

#include "lib/kafkasink.h"
#include "net/proto.h"
#include "server/kafka_consumer.h"

#define TOPIC "hx-bench"
#define PARTITIONS 6
#define EVENTS_PER_TRACE 10

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *what)
{
	fprintf(stderr, "bench_kafka: %s\n", what);
	exit(2);
}

/* Write `events` events into dir (plus each thread's begin/end): traces of EVENTS_PER_TRACE. */
static uint64_t write_files(const char *dir, uint64_t events)
{
	hx_config cfg;
	hx_config_init(&cfg);
	cfg.dir = dir;
	if (hx_init(&cfg) != HX_OK)
		die("hx_init failed");
	for (uint64_t i = 0; i < events / EVENTS_PER_TRACE; i++) {
		hx_trace_begin("request");
		for (int k = 0; k < EVENTS_PER_TRACE - 4; k++)
			HX_POINT_WITH("work", HX_INT("k", k));
		hx_block_begin("step");
		hx_block_end();
		hx_trace_end();
	}
	hx_shutdown();
	hx_stats st;
	hx_stats_get(&st);
	return st.events;
}

static void quiet_log(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
	(void)rk, (void)level, (void)fac, (void)buf;
}

typedef struct run {
	const char *dir, *url, *boot;
	uint64_t want;
	_Atomic uint64_t consumed;
	double t0, t_produced, t_consumed;
} run;

static void *ship_thread(void *arg)
{
	run *r = arg;
	hx__kship_opts o;
	memset(&o, 0, sizeof o);
	o.dir = r->dir;
	o.url = r->url;
	char err[512] = "";
	hx__kship *s;
	if (hx__kship_new(&s, &o, err, sizeof err) != HX_OK)
		die(err);
	while (!hx__kship_done(s))
		hx__kship_step(s, 50);
	r->t_produced = now_s();
	hx__kship_free(s);
	return NULL;
}

static int count_message(const uint8_t *v, size_t len, const hx__kafka_meta *m, void *user)
{
	run *r = user;
	hx_batch_info bi;
	(void)m;
	if (hx_batch_parse(v, len, &bi, NULL) == HX_OK)
		atomic_fetch_add(&r->consumed, bi.nevents);
	return 0;
}

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st, (void)ftw;
	return flag == FTW_DP ? rmdir(p) : unlink(p);
}

int main(int argc, char **argv)
{
	uint64_t events = argc > 1 ? strtoull(argv[1], NULL, 10) : 2000000;
	char dir[] = "/tmp/hx-bench-kafka-XXXXXX";
	if (!mkdtemp(dir))
		die("mkdtemp failed");
	run r;
	memset(&r, 0, sizeof r);
	r.dir = dir;
	r.want = write_files(dir, events);

	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	rd_kafka_conf_set_log_cb(conf, quiet_log);
	char err[512];
	rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
	if (!rk)
		die(err);
	rd_kafka_mock_cluster_t *mc = rd_kafka_mock_cluster_new(rk, 3);
	if (!mc || rd_kafka_mock_topic_create(mc, TOPIC, PARTITIONS, 3))
		die("mock cluster failed");
	char url[1024];
	r.boot = rd_kafka_mock_cluster_bootstraps(mc);
	snprintf(url, sizeof url, "kafka://%s/%s", r.boot, TOPIC);
	r.url = url;

	hx__kafka_consumer *c;
	if (hx__kafka_consumer_create(&c, r.boot, TOPIC, "bench", NULL, err, sizeof err) != HX_OK)
		die(err);
	/* join the group before the clock starts: a rebalance is not throughput */
	for (int i = 0; i < 200 && hx__kafka_consumer_partitions(c) < PARTITIONS; i++)
		hx__kafka_consumer_poll(c, 50, count_message, &r);

	r.t0 = now_s();
	pthread_t t;
	pthread_create(&t, NULL, ship_thread, &r);
	double last = now_s();
	uint64_t seen = 0;
	while (atomic_load(&r.consumed) < r.want) {
		if (hx__kafka_consumer_poll_max(c, 100, count_message, &r, 10000) > 0 ||
		    atomic_load(&r.consumed) != seen) {
			seen = atomic_load(&r.consumed);
			last = now_s();
		} else if (now_s() - last > 30) {
			fprintf(stderr, "bench_kafka: stalled at %llu of %llu events\n",
			        (unsigned long long)seen, (unsigned long long)r.want);
			return 1;
		}
	}
	r.t_consumed = now_s();
	pthread_join(t, NULL);
	hx__kafka_consumer_commit(c);
	hx__kafka_consumer_destroy(c);
	rd_kafka_mock_cluster_destroy(mc);
	rd_kafka_destroy(rk);
	nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);

	double produce = r.t_produced - r.t0, total = r.t_consumed - r.t0;
	printf("events=%llu produce_s=%.3f total_s=%.3f\n", (unsigned long long)r.want, produce, total);
	printf("produce_ev_s=%.0f\n", (double)r.want / produce);
	printf("kafka_ev_s=%.0f\n", (double)r.want / total);
	return 0;
}
