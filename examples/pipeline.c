/*
 * pipeline.c - a multi-threaded, multi-process program traced with Haruspex.
 *
 *     build/examples/pipeline [--items N] [--workers N] [DIR]
 *
 * The shape:
 *
 *     main --fork()--> child process (traces its own work, reports back through a pipe)
 *       |
 *       +--starts--> producer --work queue--> worker 1..N --done queue--> consumer
 *
 * What each part shows:
 *   - threads are entities without any code: each thread names itself with pthread_setname_np()
 *     before its first event, and that name is the name of its implicit entity;
 *   - causality crosses threads as an hx_context carried inside the data: the producer records a
 *     CAUSE when it enqueues an item and puts the context into the item; the worker that takes it
 *     records the EFFECT. The same happens between workers and the consumer;
 *   - the producer starts one trace per batch of items and the workers join the batch's trace;
 *   - a worker blocked on an empty queue records that it is waiting, and what for;
 *   - one cause with many effects (publish/subscribe: the end-of-work notice reaches every worker)
 *     and one effect with many causes (join: main waits for all workers);
 *   - a fork()ed child gets a fresh entity and its own trace file without doing anything, and a
 *     context can cross a process boundary as plain bytes.
 *
 * The queues are ordinary bounded queues (a mutex and two condition variables); the tracing calls
 * never block and never take the queue's lock themselves.
 */
#define _GNU_SOURCE /* pthread_setname_np */
#include <haruspex.h>

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define BATCH_ITEMS 25 /* items per trace */
#define QUEUE_SLOTS 16 /* capacity of each queue: small, so the producer sometimes waits too */

/* One unit of work. It travels producer -> worker -> consumer; the thread holding it owns it. */
typedef struct item {
	uint64_t id;
	uint64_t batch;
	uint64_t value;
	uint64_t result;
	uint64_t enqueued_ns;  /* CLOCK_MONOTONIC, for the consumer's latency counter */
	hx_context batch_ctx;  /* the TRACE_BEGIN of the item's batch: what workers join */
	hx_context ctx;        /* the CAUSE of the last hand-over: what the receiver names */
} item;

/* ---------------------------------------------------------------------------------------------
 * A bounded blocking queue. All fields are protected by `lock`.
 * ------------------------------------------------------------------------------------------- */
typedef struct queue {
	pthread_mutex_t lock;
	pthread_cond_t not_empty, not_full;
	item *slot[QUEUE_SLOTS];
	size_t head, count;
	int closed;
	hx_context close_ctx;  /* handed to every receiver once the queue is closed and empty */
	const char *name;      /* what a thread blocked on this queue waits for */
} queue;

static void queue_init(queue *q, const char *name)
{
	memset(q, 0, sizeof *q);
	pthread_mutex_init(&q->lock, NULL);
	pthread_cond_init(&q->not_empty, NULL);
	pthread_cond_init(&q->not_full, NULL);
	q->name = name;
}

static void queue_destroy(queue *q)
{
	pthread_cond_destroy(&q->not_full);
	pthread_cond_destroy(&q->not_empty);
	pthread_mutex_destroy(&q->lock);
}

/* Put `it` at the tail, waiting while the queue is full. The caller gives up ownership of `it`. */
static void queue_push(queue *q, item *it)
{
	pthread_mutex_lock(&q->lock);
	if (q->count == QUEUE_SLOTS) {
		/* The entity's timeline shows this stretch as waiting, and for which queue. */
		hx_state_set(HX_STATE_WAITING, q->name);
		while (q->count == QUEUE_SLOTS)
			pthread_cond_wait(&q->not_full, &q->lock);
		hx_state_set(HX_STATE_RUNNING, NULL);
	}
	q->slot[(q->head + q->count) % QUEUE_SLOTS] = it;
	q->count++;
	pthread_cond_signal(&q->not_empty);
	pthread_mutex_unlock(&q->lock);
}

/* Take the item at the head, waiting while the queue is empty. Returns NULL once the queue is
 * closed and drained, and then copies the context given to queue_close() into *closed. */
static item *queue_pop(queue *q, hx_context *closed)
{
	item *it = NULL;
	pthread_mutex_lock(&q->lock);
	if (q->count == 0 && !q->closed) {
		hx_state_set(HX_STATE_WAITING, q->name);
		while (q->count == 0 && !q->closed)
			pthread_cond_wait(&q->not_empty, &q->lock);
		hx_state_set(HX_STATE_RUNNING, NULL);
	}
	if (q->count > 0) {
		it = q->slot[q->head];
		q->head = (q->head + 1) % QUEUE_SLOTS;
		q->count--;
		pthread_cond_signal(&q->not_full);
	} else {
		*closed = q->close_ctx;
	}
	pthread_mutex_unlock(&q->lock);
	return it;
}

/* No more pushes: wake every receiver; each gets `ctx` when it finds the queue drained. */
static void queue_close(queue *q, hx_context ctx)
{
	pthread_mutex_lock(&q->lock);
	q->closed = 1;
	q->close_ctx = ctx;
	pthread_cond_broadcast(&q->not_empty);
	pthread_mutex_unlock(&q->lock);
}

/* ---------------------------------------------------------------------------------------------
 * The threads. Each receives a pointer to shared, read-only setup plus its own slot for results.
 * ------------------------------------------------------------------------------------------- */
typedef struct pipeline {
	uint64_t items;
	unsigned workers;
	queue work, done;
	hx_context start_ctx;  /* main's CAUSE "start threads": every thread's first effect */
} pipeline;

typedef struct worker {
	pthread_t thread;
	unsigned index;
	pipeline *p;
	hx_context done_ctx;   /* the worker's last CAUSE (JOIN), read by main after pthread_join */
	uint64_t processed;
} worker;

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Steps for `n` to reach 1 under the Collatz map: a little CPU work of varying length. */
static uint64_t collatz_steps(uint64_t n)
{
	HX_FUNC();
	uint64_t steps = 0;
	while (n > 1) {
		n = (n % 2) ? 3 * n + 1 : n / 2;
		steps++;
	}
	return steps;
}

/* Pretend to write a result to a slow device: the entity's timeline shows it waiting for it. */
static void store_result(const item *it)
{
	hx_state_set(HX_STATE_WAITING, "device");
	struct timespec ts = {0, 100000 + (long)(it->value % 7) * 20000}; /* 100..220 us */
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
	hx_state_set(HX_STATE_RUNNING, NULL);
}

/* Make the calling thread's entity part of the trace of `batch` (the batch's TRACE_BEGIN), unless
 * it is already: leave the previous batch, join this one. `*current` is the batch it is in. */
static void follow_batch(hx_context *current, const hx_context *batch)
{
	if (memcmp(current->trace_id, batch->trace_id, sizeof batch->trace_id) == 0)
		return;
	if (current->flags & HX_CTX_VALID)
		hx_trace_end();
	hx_trace_join(batch, "batch"); /* its cause: the batch's TRACE_BEGIN on the producer */
	*current = *batch;
}

static void *producer_main(void *arg)
{
	pipeline *p = arg;
	pthread_setname_np(pthread_self(), "producer"); /* before the first event: the entity's name */
	hx_effect(HX_IA_FORK, "started", &p->start_ctx);

	hx_context batch_ctx = {{0}, 0, 0, 0, 0};
	for (uint64_t i = 0; i < p->items; i++) {
		if (i % BATCH_ITEMS == 0) {
			/* A new trace per batch; hx_trace_begin() leaves the previous one first. */
			batch_ctx = hx_trace_begin("batch");
			hx_annotate(HX_TARGET_TRACE, HX_ATTRS(HX_INT("batch", i / BATCH_ITEMS)));
		}
		item *it = calloc(1, sizeof *it);
		if (!it) {
			hx_error("out of memory");
			break;
		}
		it->id = i;
		it->batch = i / BATCH_ITEMS;
		it->value = 27 + i * 7919 % 1000;
		it->batch_ctx = batch_ctx;
		it->enqueued_ns = now_ns();

		HX_BLOCK_BEGIN_WITH("produce", HX_INT("item", it->id));
		/* Record the send and put its context in the message: the receiver names it. Done
		 * before queue_push(), after which another thread owns the item. */
		it->ctx = hx_cause(HX_IA_MESSAGE, "enqueue");
		queue_push(&p->work, it);
		hx_block_end();
	}
	hx_trace_end();

	/* One notice, many receivers: every worker records an effect of this single cause. */
	queue_close(&p->work, hx_cause(HX_IA_PUBLISH, "no more work"));
	return NULL;
}

static void *worker_main(void *arg)
{
	worker *w = arg;
	pipeline *p = w->p;
	char name[16];
	snprintf(name, sizeof name, "worker-%u", w->index);
	pthread_setname_np(pthread_self(), name);
	hx_effect(HX_IA_FORK, "started", &p->start_ctx);

	hx_context current = {{0}, 0, 0, 0, 0}; /* the batch trace this worker is in */
	hx_context notice;
	item *it;
	while ((it = queue_pop(&p->work, &notice)) != NULL) {
		follow_batch(&current, &it->batch_ctx);
		hx_effect(HX_IA_MESSAGE, "dequeue", &it->ctx);

		HX_BLOCK_BEGIN_WITH("process", HX_INT("item", it->id), HX_INT("batch", it->batch),
		                    HX_INT("value", it->value), HX_BOOL("even", it->value % 2 == 0));
		it->result = collatz_steps(it->value);
		store_result(it);
		if (it->result > 150)
			hx_error_attrs("long orbit", HX_ATTRS(HX_INT("steps", it->result)));
		hx_block_end_attrs(HX_ATTRS(HX_INT("steps", it->result)));

		it->ctx = hx_cause(HX_IA_MESSAGE, "send");
		queue_push(&p->done, it);
		w->processed++;
	}
	if (current.flags & HX_CTX_VALID)
		hx_trace_end();

	hx_effect(HX_IA_PUBLISH, "notice", &notice);
	/* This worker's last event; main names all of them as the causes of its join. */
	w->done_ctx = hx_cause_attrs(HX_IA_JOIN, "worker done",
	                             HX_ATTRS(HX_INT("processed", w->processed)));
	return NULL;
}

static void *consumer_main(void *arg)
{
	pipeline *p = arg;
	pthread_setname_np(pthread_self(), "consumer");
	hx_effect(HX_IA_FORK, "started", &p->start_ctx);

	uint64_t received = 0, sum = 0;
	hx_context current = {{0}, 0, 0, 0, 0};
	hx_context notice;
	item *it;
	while ((it = queue_pop(&p->done, &notice)) != NULL) {
		follow_batch(&current, &it->batch_ctx);
		hx_effect(HX_IA_MESSAGE, "receive", &it->ctx);
		received++;
		sum += it->result;
		hx_counter("latency", (double)(now_ns() - it->enqueued_ns) / 1000.0, "us");
		hx_counter_int("received", (int64_t)received, "items");
		free(it);
	}
	if (current.flags & HX_CTX_VALID)
		hx_trace_end();
	hx_effect(HX_IA_MESSAGE, "closed", &notice);
	hx_point_attrs("total", HX_ATTRS(HX_INT("items", received), HX_INT("steps", sum)));
	printf("pipeline: %llu items consumed, %llu Collatz steps in all\n",
	       (unsigned long long)received, (unsigned long long)sum);
	return NULL;
}

/* ---------------------------------------------------------------------------------------------
 * The child process: forked after hx_init(), it records into a file of its own under a fresh
 * entity. It answers the fork with an effect, and sends back the context of its last event so
 * that the parent can record the join.
 * ------------------------------------------------------------------------------------------- */
static void child_main(const hx_context *fork_ctx, int report_fd)
{
	hx_thread_name("child");
	hx_effect(HX_IA_FORK, "forked", fork_ctx);
	hx_trace_begin("child work");
	uint64_t longest = 0;
	for (uint64_t n = 1; n <= 300; n++) {
		uint64_t s = collatz_steps(n);
		if (s > longest) {
			longest = s;
			HX_POINT_WITH("new record", HX_INT("n", n), HX_INT("steps", s));
		}
	}
	hx_trace_end();
	/* Contexts are plain bytes: a pipe between two copies of this program carries one as is. */
	hx_context done = hx_cause_attrs(HX_IA_JOIN, "child done", HX_ATTRS(HX_INT("longest", longest)));
	ssize_t n = write(report_fd, &done, sizeof done);
	close(report_fd);
	hx_shutdown();
	_exit(n == (ssize_t)sizeof done ? 0 : 1);
}

static pid_t start_child(hx_context fork_ctx, int *report_fd)
{
	int fds[2];
	if (pipe(fds) != 0)
		return -1;
	fflush(stdout); /* so the child does not print the parent's buffered output again */
	pid_t pid = fork();
	if (pid == 0) {
		close(fds[0]);
		child_main(&fork_ctx, fds[1]);
	}
	close(fds[1]);
	if (pid < 0) {
		close(fds[0]);
		return -1;
	}
	*report_fd = fds[0];
	return pid;
}

static void finish_child(pid_t pid, int report_fd)
{
	hx_context done;
	ssize_t n;
	do
		n = read(report_fd, &done, sizeof done);
	while (n < 0 && errno == EINTR);
	close(report_fd);
	int status;
	hx_state_set(HX_STATE_WAITING, "child process");
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	hx_state_set(HX_STATE_RUNNING, NULL);
	if (n == (ssize_t)sizeof done)
		hx_effect(HX_IA_JOIN, "child joined", &done);
	else
		hx_error("child sent no report");
}

/* ---------------------------------------------------------------------------------------------
 * main
 * ------------------------------------------------------------------------------------------- */
static void usage(FILE *f)
{
	fprintf(f, "usage: pipeline [--items N] [--workers N] [DIR]\n"
	           "  --items N    items to push through the pipeline (default 200)\n"
	           "  --workers N  worker threads, 1..%d (default 4)\n"
	           "  DIR          trace directory (default ./haruspex-traces; HARUSPEX_DIR overrides)\n",
	        HX_CAUSE_MAX);
}

static int parse_count(const char *s, unsigned long max, unsigned long *out)
{
	char *end;
	errno = 0;
	unsigned long v = strtoul(s, &end, 10);
	if (errno || end == s || *end || v == 0 || v > max || s[0] == '-')
		return -1;
	*out = v;
	return 0;
}

int main(int argc, char **argv)
{
	unsigned long items = 200, workers = 4;
	const char *dir = NULL;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			usage(stdout);
			return 0;
		} else if (!strcmp(argv[i], "--items") && i + 1 < argc) {
			if (parse_count(argv[++i], 100000000ul, &items) != 0) {
				fprintf(stderr, "pipeline: bad --items value '%s'\n", argv[i]);
				return 2;
			}
		} else if (!strcmp(argv[i], "--workers") && i + 1 < argc) {
			if (parse_count(argv[++i], HX_CAUSE_MAX, &workers) != 0) {
				fprintf(stderr, "pipeline: bad --workers value '%s'\n", argv[i]);
				return 2;
			}
		} else if (argv[i][0] != '-' && i == argc - 1) {
			dir = argv[i];
		} else {
			usage(stderr);
			return 2;
		}
	}

	hx_config cfg;
	hx_config_init(&cfg);
	cfg.service = "pipeline";
	if (dir)
		cfg.dir = dir;
	int rc = hx_init(&cfg);
	if (rc != HX_OK && !hx_enabled()) { /* a sink failure leaves tracing on, counting drops */
		fprintf(stderr, "pipeline: hx_init: %s\n", hx_strerror(rc));
		return 1;
	}
	hx_thread_name("main");
	hx_trace_begin("pipeline");

	/* Fork before starting any thread of our own, as POSIX advises for threaded programs. */
	int report_fd = -1;
	pid_t child = start_child(hx_cause(HX_IA_FORK, "fork"), &report_fd);
	if (child < 0)
		hx_error_attrs("fork failed", HX_ATTRS(HX_STR("errno", strerror(errno))));

	pipeline p = {.items = items, .workers = (unsigned)workers};
	queue_init(&p.work, "work queue");
	queue_init(&p.done, "done queue");
	worker *w = calloc(workers, sizeof *w);
	if (!w) {
		fprintf(stderr, "pipeline: out of memory\n");
		return 1;
	}

	/* One cause, one effect per thread: the threads' first events are caused by this one. */
	p.start_ctx = hx_cause_attrs(HX_IA_FORK, "start threads",
	                             HX_ATTRS(HX_INT("workers", workers), HX_INT("items", items)));
	pthread_t producer, consumer;
	if (pthread_create(&consumer, NULL, consumer_main, &p) != 0 ||
	    pthread_create(&producer, NULL, producer_main, &p) != 0) {
		fprintf(stderr, "pipeline: cannot start threads\n");
		return 1;
	}
	for (unsigned i = 0; i < workers; i++) {
		w[i].index = i + 1;
		w[i].p = &p;
		if (pthread_create(&w[i].thread, NULL, worker_main, &w[i]) != 0) {
			fprintf(stderr, "pipeline: cannot start worker %u\n", i + 1);
			return 1;
		}
	}

	/* Join: one effect whose causes are every worker's last event. */
	hx_context done[HX_CAUSE_MAX];
	hx_state_set(HX_STATE_WAITING, "workers");
	pthread_join(producer, NULL);
	for (unsigned i = 0; i < workers; i++) {
		pthread_join(w[i].thread, NULL);
		done[i] = w[i].done_ctx; /* written by the worker before it ended: pthread_join orders it */
	}
	hx_state_set(HX_STATE_RUNNING, NULL);
	hx_effect_attrs(HX_IA_JOIN, "workers joined", done, workers,
	                HX_ATTRS(HX_INT("workers", workers)));

	queue_close(&p.done, hx_cause(HX_IA_MESSAGE, "close"));
	pthread_join(consumer, NULL);
	if (child > 0)
		finish_child(child, report_fd);
	hx_trace_end();

	hx_stats st;
	hx_stats_get(&st);
	printf("pipeline: %llu events recorded in this process, %llu dropped\n",
	       (unsigned long long)st.events, (unsigned long long)st.count[HX_COUNT_DROPPED]);

	free(w);
	queue_destroy(&p.done);
	queue_destroy(&p.work);
	hx_shutdown();
	return 0;
}
