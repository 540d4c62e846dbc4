/*
 * viewer-gen.c - writes one large trace for the viewer benchmark (bench/run-viewer.sh): THREADS
 * threads join one trace and each records nested blocks (request > parse, handle > db.query), a
 * point per request, a counter, short waits, and messages to the next thread (arrows across
 * lanes), until the trace holds about EVENTS events. Recording is the library's normal path, so
 * 10 M events take well under a second of recording.
 *
 *     viewer-gen EVENTS DIR
 */
#include <haruspex.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define THREADS 8
#define EVENTS_PER_ITER 9    /* 4 blocks (8 events) and a point */
#define SEND_EVERY 997       /* iterations between messages to the next thread */
#define WAIT_EVERY 499       /* iterations between short waits */
#define COUNTER_EVERY 101    /* iterations between counter samples */

typedef struct mailbox {
	pthread_mutex_t lock;
	hx_context ctx;
	int full;
} mailbox;

static mailbox boxes[THREADS];
static hx_context root;
static unsigned long iters;

static void *worker(void *arg)
{
	unsigned id = (unsigned)(size_t)arg;
	char name[32];
	snprintf(name, sizeof(name), "worker-%u", id);
	hx_thread_name(name);
	hx_trace_join(&root, name);
	for (unsigned long i = 0; i < iters; i++) {
		hx_block_begin("request");
		hx_block_begin("parse");
		hx_block_end();
		hx_block_begin("handle");
		hx_block_begin("db.query");
		hx_block_end();
		HX_POINT_WITH("row", HX_INT("i", (int64_t)i));
		hx_block_end();
		hx_block_end();
		if (i % SEND_EVERY == 0) {
			mailbox *next = &boxes[(id + 1) % THREADS];
			hx_context c = hx_send("handoff");
			pthread_mutex_lock(&next->lock);
			next->ctx = c;
			next->full = 1;
			pthread_mutex_unlock(&next->lock);
		}
		if (i % SEND_EVERY == SEND_EVERY / 2) {
			mailbox *me = &boxes[id];
			hx_context c;
			int full;
			pthread_mutex_lock(&me->lock);
			c = me->ctx;
			full = me->full;
			me->full = 0;
			pthread_mutex_unlock(&me->lock);
			if (full)
				hx_receive("handoff received", &c);
		}
		if (i % WAIT_EVERY == 0) {
			hx_state_set(HX_STATE_WAITING, "lock");
			hx_state_set(HX_STATE_RUNNING, NULL);
		}
		if (i % COUNTER_EVERY == 0)
			hx_counter_int("queue.depth", (int64_t)(i % 50), "items");
	}
	hx_trace_end();
	return NULL;
}

int main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: viewer-gen EVENTS DIR\n");
		return 2;
	}
	unsigned long events = strtoul(argv[1], NULL, 10);
	if (events < 1000) {
		fprintf(stderr, "viewer-gen: EVENTS must be at least 1000\n");
		return 2;
	}
	iters = events / THREADS / EVENTS_PER_ITER;
	hx_config cfg;
	hx_config_init(&cfg);
	cfg.dir = argv[2];
	cfg.service = "viewer-bench";
	if (hx_init(&cfg) != HX_OK) {
		fprintf(stderr, "viewer-gen: cannot trace into %s\n", argv[2]);
		return 1;
	}
	hx_thread_name("main");
	root = hx_trace_begin("viewer bench");
	pthread_t t[THREADS];
	for (unsigned i = 0; i < THREADS; i++) {
		pthread_mutex_init(&boxes[i].lock, NULL);
		if (pthread_create(&t[i], NULL, worker, (void *)(size_t)i) != 0) {
			fprintf(stderr, "viewer-gen: cannot start a thread\n");
			return 1;
		}
	}
	for (unsigned i = 0; i < THREADS; i++)
		pthread_join(t[i], NULL);
	hx_trace_end();
	hx_shutdown();
	printf("viewer-gen: %lu iterations x %d threads in %s\n", iters, THREADS, argv[2]);
	return 0;
}
