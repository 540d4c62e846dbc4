/*
 * threads.c - many threads recording at once into the file sink: after hx_shutdown() the reader
 * finds every event (threads x events), each thread's entity has the sequence numbers 0..N+1 in
 * order (ENTITY_BEGIN, N points, ENTITY_END at thread exit), no damage is reported, and
 * hx_stats_get().events agrees.
 *
 *     threads [--threads T] [--events N] [--keep DIR]
 *
 * Defaults: 8 threads; 1,000,000 events each, 100,000 under AddressSanitizer (the environment
 * variable HX_THREADS_EVENTS overrides both). --keep writes the trace into DIR and leaves it there
 * (tests/integration/check.sh uses it to make a trace with a known event count).
 */
#include "../hxtest.h"

#include <pthread.h>

static int failures;

#define CHECK(cond, ...)                                                                           \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "threads: check failed: %s: ", #cond);                      \
			fprintf(stderr, __VA_ARGS__);                                              \
			fputc('\n', stderr);                                                       \
			failures++;                                                                \
		}                                                                                  \
	} while (0)

static uint64_t g_events_per_thread;
static pthread_barrier_t g_start;

static void *writer(void *arg)
{
	char name[16];
	snprintf(name, sizeof name, "writer-%d", (int)(intptr_t)arg);
	pthread_setname_np(pthread_self(), name);
	pthread_barrier_wait(&g_start);
	for (uint64_t i = 0; i < g_events_per_thread; i++)
		hx_point("p");
	return NULL;
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* What the reader must show for one entity, checked as the events stream by. */
typedef struct ent {
	uint64_t id;
	uint64_t next_seq;
	uint64_t last_time;
	int ended;
} ent;

static char dir[512];

static void remove_dir(void)
{
	hxt_rmrf(dir);
}

int main(int argc, char **argv)
{
	int nthreads = 8;
	uint64_t per = HXT_SANITIZED ? 100000 : 1000000;
	const char *keep = NULL;
	const char *env = getenv("HX_THREADS_EVENTS");
	if (env && *env)
		per = strtoull(env, NULL, 10);
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--threads") && i + 1 < argc)
			nthreads = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--events") && i + 1 < argc)
			per = strtoull(argv[++i], NULL, 10);
		else if (!strcmp(argv[i], "--keep") && i + 1 < argc)
			keep = argv[++i];
		else {
			fprintf(stderr, "usage: threads [--threads T] [--events N] [--keep DIR]\n");
			return 2;
		}
	}
	if (nthreads < 1 || nthreads > 1024 || per < 1) {
		fprintf(stderr, "threads: bad arguments\n");
		return 2;
	}
	g_events_per_thread = per;

	if (keep)
		snprintf(dir, sizeof dir, "%s", keep);
	else if (hxt_mkdtemp(dir, sizeof dir, "threads") != 0) {
		perror("mkdtemp");
		return 1;
	} else {
		atexit(remove_dir); /* also on the early returns of a failing run */
	}
	hx_config cfg;
	hx_config_init(&cfg);
	cfg.dir = dir;
	cfg.service = "threads-test";
	hx_stats before, after;
	hx_stats_get(&before);
	if (hx_init(&cfg) != HX_OK) {
		fprintf(stderr, "threads: hx_init failed\n");
		return 1;
	}
	pthread_t *th = hxt_xmalloc(sizeof(pthread_t) * (size_t)nthreads);
	pthread_barrier_init(&g_start, NULL, (unsigned)nthreads + 1);
	for (int i = 0; i < nthreads; i++)
		if (pthread_create(&th[i], NULL, writer, (void *)(intptr_t)i) != 0) {
			fprintf(stderr, "threads: pthread_create failed\n");
			return 1;
		}
	double t0 = now_s();
	pthread_barrier_wait(&g_start);
	for (int i = 0; i < nthreads; i++)
		pthread_join(th[i], NULL);
	double t1 = now_s();
	hx_stats_get(&after);
	CHECK(hx_shutdown() == HX_OK, "hx_shutdown");
	pthread_barrier_destroy(&g_start);
	free(th);

	/* read it back, checking as we go (the events are not kept: there may be millions) */
	uint64_t want = (uint64_t)nthreads * (per + 2);
	hx_reader *r = NULL;
	int rc = hx_reader_open(&r, dir, HX_ORDER_STREAM);
	CHECK(rc == HX_OK, "hx_reader_open: %s", hx_strerror(rc));
	if (rc != HX_OK)
		return 1;
	ent *ents = calloc((size_t)nthreads + 1, sizeof(ent));
	size_t nent = 0;
	uint64_t total = 0, bad = 0;
	uint64_t lo = hxt_realtime_ns() - 3600ull * 1000000000ull, hi = hxt_realtime_ns() + 5000000000ull;
	hx_event ev;
	ent *cur = NULL;
	while ((rc = hx_reader_next(r, &ev)) == HX_OK) {
		total++;
		if (!cur || cur->id != ev.entity_id) {
			cur = NULL;
			for (size_t i = 0; i < nent; i++)
				if (ents[i].id == ev.entity_id)
					cur = &ents[i];
			if (!cur) {
				if (nent == (size_t)nthreads) {
					if (bad++ < 5)
						fprintf(stderr, "threads: an unexpected entity %016" PRIx64 "\n", ev.entity_id);
					continue;
				}
				cur = &ents[nent++];
				cur->id = ev.entity_id;
			}
		}
		hx_event_kind want_kind = ev.seq == 0 ? HX_EV_ENTITY_BEGIN : ev.seq <= per ? HX_EV_POINT : HX_EV_ENTITY_END;
		if ((ev.seq != cur->next_seq || ev.kind != want_kind || ev.time_ns < cur->last_time ||
		     ev.time_ns < lo || ev.time_ns > hi || cur->ended) &&
		    bad++ < 5)
			fprintf(stderr, "threads: entity %016" PRIx64 ": seq %" PRIu64 " (expected %" PRIu64 ") kind %s\n",
			        ev.entity_id, ev.seq, cur->next_seq, hx_event_kind_name(ev.kind));
		if (ev.kind == HX_EV_POINT && strcmp(ev.name, "p") != 0 && bad++ < 5)
			fprintf(stderr, "threads: a point named '%s'\n", ev.name);
		cur->next_seq = ev.seq + 1;
		cur->last_time = ev.time_ns;
		if (ev.kind == HX_EV_ENTITY_END)
			cur->ended = 1;
	}
	double t2 = now_s();
	CHECK(rc == HX_EOF, "hx_reader_next ended with %s", hx_strerror(rc));
	hx_reader_info info;
	hx_reader_info_get(r, &info);
	size_t ndmg = 0;
	const hx_damage *d = hx_reader_damage(r, &ndmg);
	for (size_t i = 0; i < ndmg && i < 10; i++)
		fprintf(stderr, "threads: damage %s at %" PRIu64 ": %s\n", hx_damage_kind_name(d[i].kind), d[i].offset,
		        d[i].reason);
	CHECK(ndmg == 0, "%zu damage reports", ndmg);
	CHECK(info.damaged == 0, "info.damaged");
	CHECK(bad == 0, "%" PRIu64 " events out of place", bad);
	CHECK(nent == (size_t)nthreads, "%zu entities, expected %d", nent, nthreads);
	for (size_t i = 0; i < nent; i++)
		CHECK(ents[i].ended && ents[i].next_seq == per + 2, "entity %zu ends at seq %" PRIu64, i, ents[i].next_seq);
	CHECK(total == want, "%" PRIu64 " events read, expected %" PRIu64, total, want);
	CHECK(info.events == total, "info.events %" PRIu64, info.events);
	CHECK(after.events - before.events == total, "hx_stats events %" PRIu64 ", read %" PRIu64,
	      after.events - before.events, total);
	CHECK(after.count[HX_COUNT_DROPPED] == before.count[HX_COUNT_DROPPED], "events were dropped");
	hx_reader_close(r);
	free(ents);
	printf("threads: %d threads x %" PRIu64 " events: %" PRIu64 " read back, %" PRIu64 " bytes in %" PRIu64
	       " file(s); recording %.2f s, reading %.2f s%s\n",
	       nthreads, per, total, info.bytes, info.files, t1 - t0, t2 - t1, HXT_SANITIZED ? " (sanitized build)" : "");
	return failures ? 1 : 0;
}
