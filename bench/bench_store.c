/*
 * bench_store.c - the embedded store (src/store) against its budgets (issue 4, docs/storage.md):
 *
 *   ingest    appends in batches of 1000 events from 8 processes, a commit every 50 ms (group
 *             commit, as `hx serve` does), typical traces: 300 events on 3 entities, blocks and
 *             points with a few attributes, 4 traces in flight per process. Events/s includes
 *             generating the events (a few ns each).
 *   size      bytes on disk (segments + SQLite index, after close) per stored event
 *   fetch     one 100,000-event trace (10 entities), best of 5
 *   search    N small traces (default 1,000,000; 20 services, 50 block names), then queries with
 *             two filters (service + min duration; block name + error), best of 5
 *
 * usage: bench_store [DIR] [--events N] [--trace-events N] [--search-traces N]
 *   DIR: a fresh directory (default a temporary one, removed afterwards); --events: ingest size
 *   (5,000,000); --trace-events: events per ingested trace (300); --search-traces (1,000,000; 0
 *   skips the search part). Prints a RESULT line. Built by meson, not run by the tests.
 */
#define _GNU_SOURCE
#include <haruspex.h>

#include <ftw.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "store/store.h"

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* CPU time of the process (user + system): on a shared machine, wall time also counts waiting
 * for a core, so both are printed. */
static uint64_t cpu_ns(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return (uint64_t)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000000ull +
	       (uint64_t)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1000ull;
}

static uint64_t rs = 0x2545f4914f6cdd1dull;
static uint64_t rnd(void)
{
	rs ^= rs << 13;
	rs ^= rs >> 7;
	rs ^= rs << 17;
	return rs;
}

static void die(const char *what, int rc)
{
	fprintf(stderr, "bench_store: %s: %s: %s\n", what, hx_strerror(rc), hx_store_errmsg());
	exit(1);
}

static const char *const op_names[] = {"db.query", "cache.get", "http.client", "render", "auth.check",
                                       "queue.push", "serialize", "parse", "lock.wait", "io.read"};

/* ---- ingest workload: per process, 4 traces in flight ---- */

enum { INFLIGHT = 4, ENTS = 3 };
static size_t per_trace = 300; /* --trace-events */

typedef struct gtrace {
	uint8_t id[16];
	uint64_t eid[ENTS], seq[ENTS], t[ENTS];
	int depth[ENTS];
	size_t emitted;
} gtrace;

typedef struct gproc {
	hx_store_proc p;
	gtrace tr[INFLIGHT];
	uint64_t next_trace;
	char host[32], svc[32];
} gproc;

static uint64_t trace_counter;
static const uint64_t BASE_NS = 1700000000000000000ull;

static void trace_new(gtrace *t)
{
	uint64_t n = ++trace_counter;
	uint64_t ms = BASE_NS / 1000000 + n;
	for (int i = 0; i < 6; i++)
		t->id[i] = (uint8_t)(ms >> (40 - 8 * i));
	uint64_t r = rnd();
	memcpy(t->id + 6, &n, 2);
	memcpy(t->id + 8, &r, 8);
	for (int e = 0; e < ENTS; e++) {
		t->eid[e] = rnd() | 1;
		t->seq[e] = 0;
		t->t[e] = BASE_NS + n * 1000000ull + (uint64_t)e * 1000;
		t->depth[e] = 0;
	}
	t->emitted = 0;
}

static hx_attr attr_pool[4];

static void gen_event(gtrace *t, hx_event *ev)
{
	int e = (int)(t->emitted % ENTS);
	memset(ev, 0, sizeof *ev);
	ev->entity_id = t->eid[e];
	ev->seq = t->seq[e]++;
	t->t[e] += 500 + rnd() % 20000; /* 0.5-20 us between events of an entity */
	ev->time_ns = ev->time_orig_ns = t->t[e];
	memcpy(ev->trace_id, t->id, 16);
	uint64_t r = rnd();
	const char *name = op_names[r % 10];
	if (t->emitted == 0) {
		ev->kind = HX_EV_TRACE_BEGIN;
		name = "GET /api/orders";
	} else if (t->depth[e] > 0 && (r >> 8) % 3 == 0) {
		ev->kind = HX_EV_BLOCK_END;
		name = "";
		t->depth[e]--;
	} else if ((r >> 8) % 3 == 1 && t->emitted + 8 < per_trace) {
		ev->kind = HX_EV_BLOCK_BEGIN;
		t->depth[e]++;
	} else {
		ev->kind = HX_EV_POINT;
	}
	ev->name = name;
	ev->name_len = strlen(name);
	if ((r >> 16) % 5 == 0 && ev->kind != HX_EV_BLOCK_END) { /* one event in five has an attribute */
		ev->attrs = &attr_pool[(r >> 20) % 4];
		ev->nattrs = 1;
	}
	t->emitted++;
}

static size_t gen_batch(gproc *g, hx_event *out, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		gtrace *t = &g->tr[rnd() % INFLIGHT];
		if (t->emitted >= per_trace)
			trace_new(t);
		gen_event(t, &out[i]);
	}
	return n;
}

static int count_event(const hx_event *ev, const hx_store_proc *proc, void *user)
{
	(void)ev;
	(void)proc;
	++*(size_t *)user;
	return 0;
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	return flag == FTW_DP ? rmdir(path) : unlink(path);
}

int main(int argc, char **argv)
{
	const char *dir = NULL;
	uint64_t total = 5000000, search_traces = 1000000;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--events") && i + 1 < argc)
			total = strtoull(argv[++i], NULL, 10);
		else if (!strcmp(argv[i], "--trace-events") && i + 1 < argc)
			per_trace = strtoull(argv[++i], NULL, 10);
		else if (!strcmp(argv[i], "--search-traces") && i + 1 < argc)
			search_traces = strtoull(argv[++i], NULL, 10);
		else if (argv[i][0] != '-' && !dir)
			dir = argv[i];
		else {
			fprintf(stderr, "usage: %s [DIR] [--events N] [--trace-events N] [--search-traces N]\n", argv[0]);
			return 2;
		}
	}
	char tmp[256];
	int own = !dir;
	if (own) {
		snprintf(tmp, sizeof tmp, "/tmp/hx-bench-store-XXXXXX");
		if (!mkdtemp(tmp)) {
			perror("mkdtemp");
			return 1;
		}
		dir = tmp;
	}
	char ingest_dir[512], search_dir[512];
	snprintf(ingest_dir, sizeof ingest_dir, "%s/ingest", dir);
	snprintf(search_dir, sizeof search_dir, "%s/search", dir);
	attr_pool[0] = HX_INT("http.status_code", 200);
	attr_pool[1] = HX_INT("rows", 42);
	attr_pool[2] = HX_STR("http.method", "GET");
	attr_pool[3] = HX_BOOL("cached", 1);

	/* ---- ingest ---- */
	hx_store *s = NULL;
	int rc = hx_store_open(&s, ingest_dir, NULL);
	if (rc)
		die("open", rc);
	enum { NPROC = 8, BATCH = 1000 };
	static gproc procs[NPROC];
	for (int i = 0; i < NPROC; i++) {
		gproc *g = &procs[i];
		snprintf(g->host, sizeof g->host, "host-%d", i % 4);
		snprintf(g->svc, sizeof g->svc, "service-%d", i % 3);
		for (int k = 0; k < 16; k++)
			g->p.instance[k] = (uint8_t)rnd();
		g->p.pid = 1000 + (uint64_t)i;
		g->p.host = g->host;
		g->p.service = g->svc;
		g->p.program = "shop";
		for (int t = 0; t < INFLIGHT; t++)
			trace_new(&g->tr[t]);
	}
	static hx_event batch[BATCH];
	uint64_t done = 0, commits = 0, t0 = now_ns(), last_commit = t0, max_commit = 0, c0 = cpu_ns();
	while (done < total) {
		gproc *g = &procs[(done / BATCH) % NPROC];
		size_t n = gen_batch(g, batch, BATCH);
		size_t stored = 0;
		if ((rc = hx_store_append(s, &g->p, batch, n, &stored, NULL)))
			die("append", rc);
		done += stored;
		uint64_t t = now_ns();
		if (t - last_commit >= 50000000ull) {
			if ((rc = hx_store_commit(s)))
				die("commit", rc);
			uint64_t t2 = now_ns();
			if (t2 - t > max_commit)
				max_commit = t2 - t;
			last_commit = t2;
			commits++;
		}
	}
	if ((rc = hx_store_commit(s)))
		die("commit", rc);
	uint64_t t1 = now_ns(), c1 = cpu_ns();
	double ev_s = (double)done / ((double)(t1 - t0) / 1e9);
	double ev_cpu_s = (double)done / ((double)(c1 - c0) / 1e9);
	hx_store_info info;
	hx_store_info_get(s, &info);
	uint64_t bytes_open = info.bytes;

	/* ---- fetch of a 100,000-event trace ---- */
	gtrace big;
	trace_new(&big);
	uint64_t big_eids[10];
	for (int e = 0; e < 10; e++)
		big_eids[e] = rnd() | 1;
	for (int b = 0; b < 100; b++) {
		for (int i = 0; i < BATCH; i++) {
			big.emitted = 1; /* never a second TRACE_BEGIN */
			gen_event(&big, &batch[i]);
			int e = (b * BATCH + i) % 10;
			batch[i].entity_id = big_eids[e];
			batch[i].seq = (uint64_t)(b * BATCH + i) / 10;
			batch[i].time_ns = batch[i].time_orig_ns = BASE_NS + (uint64_t)(b * BATCH + i) * 1000;
			if (batch[i].kind == HX_EV_BLOCK_END) /* ends without begins: points instead */
				batch[i].kind = HX_EV_POINT;
		}
		if ((rc = hx_store_append(s, &procs[0].p, batch, BATCH, NULL, NULL)))
			die("append", rc);
		if (b % 20 == 19 && (rc = hx_store_commit(s)))
			die("commit", rc);
	}
	if ((rc = hx_store_commit(s)))
		die("commit", rc);
	double fetch_ms = 1e9, fetch_cpu_ms = 1e9;
	size_t fetched = 0;
	for (int r = 0; r < 5; r++) {
		size_t n = 0;
		uint64_t a = now_ns(), ac = cpu_ns();
		if ((rc = hx_store_fetch(s, big.id, NULL, count_event, &n)))
			die("fetch", rc);
		double ms = (double)(now_ns() - a) / 1e6, cms = (double)(cpu_ns() - ac) / 1e6;
		if (ms < fetch_ms)
			fetch_ms = ms;
		if (cms < fetch_cpu_ms)
			fetch_cpu_ms = cms;
		fetched = n;
	}
	hx_store_close(s);
	/* size after close: the WAL is checkpointed into the database */
	if ((rc = hx_store_open(&s, ingest_dir, NULL)))
		die("reopen", rc);
	hx_store_info_get(s, &info);
	hx_store_close(s);
	double bpe = (double)info.bytes / (double)info.events;
	printf("ingest: %" PRIu64 " events in %.2f s: %.0f events/s (%.0f per CPU second), %" PRIu64
	       " commits (slowest %.1f ms)\n",
	       done, (double)(t1 - t0) / 1e9, ev_s, ev_cpu_s, commits, (double)max_commit / 1e6);
	printf("size: %.2f bytes/event after close (%" PRIu64 " bytes for %" PRIu64 " events, %" PRIu64
	       " traces; %.2f with the WAL before close)\n",
	       bpe, info.bytes, info.events, info.traces, (double)bytes_open / (double)done);
	printf("fetch: %zu events in %.1f ms (%.1f ms CPU)\n", fetched, fetch_ms, fetch_cpu_ms);
	fflush(stdout);

	/* ---- search over many small traces ---- */
	double search_ms = -1, search2_ms = -1, gen_s = 0;
	if (search_traces) {
		if ((rc = hx_store_open(&s, search_dir, NULL)))
			die("open", rc);
		static char svc_names[20][16];
		for (int i = 0; i < 20; i++)
			snprintf(svc_names[i], sizeof svc_names[i], "svc-%02d", i);
		static char blk_names[50][16];
		for (int i = 0; i < 50; i++)
			snprintf(blk_names[i], sizeof blk_names[i], "op-%02d", i);
		uint64_t a = now_ns();
		hx_store_proc p[20];
		for (int i = 0; i < 20; i++) {
			memset(&p[i], 0, sizeof p[i]);
			for (int k = 0; k < 16; k++)
				p[i].instance[k] = (uint8_t)rnd();
			p[i].pid = (uint64_t)i;
			p[i].host = "h";
			p[i].service = svc_names[i];
			p[i].program = "x";
		}
		/* Traces of 4 events; 250 traces (one service) per batch, 20 batches per commit. */
		uint64_t made = 0;
		while (made < search_traces) {
			int sv = (int)(rnd() % 20);
			size_t n = 0;
			for (int k = 0; k < 250 && made < search_traces; k++, made++) {
				gtrace t;
				trace_new(&t);
				uint64_t dur = 1000000 + rnd() % 100000000; /* 1-101 ms */
				uint64_t st = BASE_NS + made * 100000;
				const char *bn = blk_names[rnd() % 50];
				hx_event *v = &batch[n];
				memset(v, 0, 4 * sizeof *v);
				hx_event_kind kinds[4] = {HX_EV_TRACE_BEGIN, HX_EV_BLOCK_BEGIN,
				                          rnd() % 10 == 0 ? HX_EV_ERROR : HX_EV_POINT, HX_EV_BLOCK_END};
				const char *names[4] = {"GET /", bn, "done", ""};
				for (int j = 0; j < 4; j++) {
					v[j].kind = kinds[j];
					v[j].entity_id = t.eid[0];
					v[j].seq = (uint64_t)j;
					v[j].time_ns = v[j].time_orig_ns = st + (j == 3 ? dur : (uint64_t)j * 1000);
					memcpy(v[j].trace_id, t.id, 16);
					v[j].name = names[j];
					v[j].name_len = strlen(names[j]);
				}
				n += 4;
			}
			if ((rc = hx_store_append(s, &p[sv], batch, n, NULL, NULL)))
				die("append", rc);
			if ((made / 250) % 20 == 0 && (rc = hx_store_commit(s)))
				die("commit", rc);
		}
		if ((rc = hx_store_commit(s)))
			die("commit", rc);
		gen_s = (double)(now_ns() - a) / 1e9;
		hx_store_query q;
		for (int which = 0; which < 2; which++) {
			double best = 1e9;
			for (int r = 0; r < 5; r++) {
				memset(&q, 0, sizeof q);
				q.limit = 20;
				if (which == 0) {
					q.service = svc_names[r % 20];
					q.min_duration_ns = 50000000;
				} else {
					q.name = blk_names[r % 50];
					q.error = 1;
				}
				hx_store_result res;
				uint64_t b = now_ns();
				if ((rc = hx_store_search(s, &q, &res)))
					die("search", rc);
				double ms = (double)(now_ns() - b) / 1e6;
				if (res.n != 20)
					fprintf(stderr, "bench_store: search %d returned %zu\n", which, res.n);
				hx_store_result_free(&res);
				if (ms < best)
					best = ms;
			}
			if (which == 0)
				search_ms = best;
			else
				search2_ms = best;
		}
		hx_store_close(s);
		printf("search: %" PRIu64 " traces stored in %.1f s; service+min_duration %.2f ms, "
		       "name+error %.2f ms (20 rows, best of 5)\n",
		       search_traces, gen_s, search_ms, search2_ms);
	}
	printf("RESULT store_ingest_ev_s=%.0f store_ingest_ev_cpu_s=%.0f stored_bytes_per_event=%.2f "
	       "fetch_100k_ms=%.1f search_traces=%" PRIu64 " search_ms=%.2f search2_ms=%.2f\n",
	       ev_s, ev_cpu_s, bpe, fetch_ms, search_traces, search_ms, search2_ms);
	if (own)
		nftw(tmp, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	return 0;
}
