/*
 * crash.c - SIGKILL loses nothing that was returned.
 *
 * Each round forks a child that calls hx_init() itself (file sink, 4 KiB chunks so that chunk
 * boundaries come often, a fresh directory per round) and records from three threads in a loop:
 * points with attributes, blocks, counters. Right after each call returns, the thread reports the
 * event (entity ID and sequence number from hx_context_current(), kind, name, value) through a
 * pipe. The parent kills the child with SIGKILL at a random moment (0-50 ms after it started
 * recording), drains the pipe, then reads the round's directory and checks that every reported
 * event is there with its kind, name and value, that each entity's sequence numbers run from 0
 * without a gap, and that nothing is reported damaged except torn tails.
 *
 *     crash [ROUNDS]       (default 50; the environment variable HX_CRASH_ROUNDS too)
 */
#include "../hxtest.h"

#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/wait.h>

#define CHILD_THREADS 3

/* One report: what a thread recorded and got back from hx_context_current(). 32 bytes, so a
 * write() of one is atomic on a pipe. */
typedef struct report {
	uint64_t entity_id;
	uint64_t seq;
	int64_t value;
	uint8_t thread;
	uint8_t kind;
	uint8_t name;
	uint8_t pad[5];
} report;

enum { NAME_NONE, NAME_WORK, NAME_STEP, NAME_DEPTH, NAME_READY };
static const char *const names[] = {"", "work", "step", "depth", "ready"};

static int g_report_fd;

static void send_report(uint8_t thread, hx_event_kind kind, uint8_t name, int64_t value)
{
	hx_context c = hx_context_current();
	report r = {c.entity_id, c.seq, value, thread, (uint8_t)kind, name, {0}};
	if (!(c.flags & HX_CTX_VALID))
		r.kind = 0; /* the parent counts these as failures */
	if (write(g_report_fd, &r, sizeof r) != (ssize_t)sizeof r)
		_exit(5);
}

static void *child_thread(void *arg)
{
	uint8_t idx = (uint8_t)(intptr_t)arg;
	char tname[16];
	snprintf(tname, sizeof tname, "crash-%u", idx);
	pthread_setname_np(pthread_self(), tname);
	static const char payload[] = "payload that makes records long enough to fill chunks quickly";
	for (int64_t i = 0;; i++) {
		switch (i % 4) {
		case 0:
			HX_POINT_WITH("work", HX_INT("i", i), HX_STR("s", payload), HX_DOUBLE("d", (double)i / 3));
			send_report(idx, HX_EV_POINT, NAME_WORK, i);
			break;
		case 1:
			hx_block_begin("step");
			send_report(idx, HX_EV_BLOCK_BEGIN, NAME_STEP, 0);
			break;
		case 2:
			hx_counter_int("depth", i, "items");
			send_report(idx, HX_EV_COUNTER, NAME_DEPTH, i);
			break;
		case 3:
			hx_block_end();
			send_report(idx, HX_EV_BLOCK_END, NAME_NONE, 0);
			break;
		}
	}
	return NULL;
}

static void child_main(const char *dir, int fd)
{
	g_report_fd = fd;
	hx_config cfg;
	hx_config_init(&cfg);
	cfg.dir = dir;
	cfg.chunk_bytes = 4096;
	if (hx_init(&cfg) != HX_OK)
		_exit(4);
	hx_point("ready");
	send_report(CHILD_THREADS, HX_EV_POINT, NAME_READY, 0);
	pthread_t th[CHILD_THREADS];
	for (int i = 0; i < CHILD_THREADS; i++)
		pthread_create(&th[i], NULL, child_thread, (void *)(intptr_t)i);
	for (;;)
		pause();
}

/* ---- the parent's view ---- */

typedef struct key_ev {
	uint64_t entity_id, seq;
	int64_t value;
	uint8_t kind, name, has_value;
} key_ev;

static int cmp_key(const void *a, const void *b)
{
	const key_ev *x = a, *y = b;
	if (x->entity_id != y->entity_id)
		return x->entity_id < y->entity_id ? -1 : 1;
	return x->seq < y->seq ? -1 : x->seq > y->seq ? 1 : 0;
}

static uint8_t name_code(const char *n)
{
	for (uint8_t i = 0; i < sizeof names / sizeof names[0]; i++)
		if (!strcmp(n, names[i]))
			return i;
	return 255;
}

static uint64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Read whole reports from fd into *reps; returns 0 at EOF, 1 if more may come. */
static int drain(int fd, report **reps, size_t *n, size_t *cap, uint8_t *partial, size_t *npartial)
{
	uint8_t buf[65536];
	ssize_t got = read(fd, buf, sizeof buf);
	if (got == 0)
		return 0;
	if (got < 0)
		return errno == EINTR || errno == EAGAIN ? 1 : 0;
	for (ssize_t i = 0; i < got; i++) {
		partial[(*npartial)++] = buf[i];
		if (*npartial == sizeof(report)) {
			if (*n == *cap) {
				*cap = *cap ? *cap * 2 : 4096;
				*reps = hxt_xrealloc(*reps, *cap * sizeof(report));
			}
			memcpy(&(*reps)[(*n)++], partial, sizeof(report));
			*npartial = 0;
		}
	}
	return 1;
}

static int failures;

static void round_fail(int round, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void round_fail(int round, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "crash: round %d: ", round);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	failures++;
}

/* One round. Returns the number of reported events verified. */
static size_t run_round(int round, const char *base, unsigned *rng, size_t *torn_total)
{
	char dir[600];
	snprintf(dir, sizeof dir, "%s/round-%03d", base, round);
	int fds[2];
	if (pipe(fds) != 0) {
		perror("pipe");
		exit(1);
	}
	pid_t pid = fork();
	if (pid < 0) {
		perror("fork");
		exit(1);
	}
	if (pid == 0) {
		close(fds[0]);
		child_main(dir, fds[1]);
	}
	close(fds[1]);
	report *reps = NULL;
	size_t n = 0, cap = 0, npartial = 0;
	uint8_t partial[sizeof(report)];

	/* wait for "ready" (after hx_init), at most 30 s, then 0-50 ms more */
	uint64_t deadline = mono_ms() + 30000;
	int open_pipe = 1;
	while (open_pipe && n == 0 && mono_ms() < deadline) {
		struct pollfd p = {fds[0], POLLIN, 0};
		if (poll(&p, 1, 100) > 0)
			open_pipe = drain(fds[0], &reps, &n, &cap, partial, &npartial);
	}
	if (n == 0)
		round_fail(round, "the child never reported (open pipe: %d)", open_pipe);
	*rng = *rng * 1103515245u + 12345u;
	unsigned delay = (*rng >> 8) % 51;
	deadline = mono_ms() + delay;
	while (open_pipe) {
		uint64_t now = mono_ms();
		if (now >= deadline)
			break;
		struct pollfd p = {fds[0], POLLIN, 0};
		if (poll(&p, 1, (int)(deadline - now)) > 0)
			open_pipe = drain(fds[0], &reps, &n, &cap, partial, &npartial);
	}
	kill(pid, SIGKILL);
	int status;
	waitpid(pid, &status, 0);
	if (!(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL))
		round_fail(round, "the child ended by itself (status %d)", status);
	while (open_pipe)
		open_pipe = drain(fds[0], &reps, &n, &cap, partial, &npartial);
	close(fds[0]);

	/* read the trace: every event, keyed by (entity, seq) */
	hx_reader *r = NULL;
	int rc = hx_reader_open(&r, dir, HX_ORDER_STREAM);
	if (rc != HX_OK) {
		round_fail(round, "hx_reader_open: %s", hx_strerror(rc));
		free(reps);
		return 0;
	}
	key_ev *evs = NULL;
	size_t nev = 0, capev = 0;
	hx_event ev;
	while ((rc = hx_reader_next(r, &ev)) == HX_OK) {
		if (nev == capev) {
			capev = capev ? capev * 2 : 4096;
			evs = hxt_xrealloc(evs, capev * sizeof(key_ev));
		}
		key_ev *k = &evs[nev++];
		memset(k, 0, sizeof(*k));
		k->entity_id = ev.entity_id;
		k->seq = ev.seq;
		k->kind = (uint8_t)ev.kind;
		k->name = name_code(ev.name);
		if (ev.kind == HX_EV_COUNTER) {
			k->value = ev.counter_int;
			k->has_value = ev.counter_is_int;
		} else if (ev.kind == HX_EV_POINT && ev.nattrs == 3 && ev.attrs[0].type == HX_ATTR_INT) {
			k->value = ev.attrs[0].v.i;
			k->has_value = 1;
		}
	}
	if (rc != HX_EOF)
		round_fail(round, "hx_reader_next: %s", hx_strerror(rc));
	size_t nd = 0;
	const hx_damage *d = hx_reader_damage(r, &nd);
	for (size_t i = 0; i < nd; i++) {
		if (d[i].kind == HX_DMG_TORN_TAIL) {
			(*torn_total)++;
			continue;
		}
		round_fail(round, "damage %s at %" PRIu64 " (stream %u, chunk %" PRIu64 "): %s", hx_damage_kind_name(d[i].kind),
		           d[i].offset, d[i].stream, d[i].chunk_seq, d[i].reason);
	}
	hx_reader_info info;
	hx_reader_info_get(r, &info);
	if (info.damaged)
		round_fail(round, "hx_reader_info.damaged is set");
	hx_reader_close(r);

	/* each entity: 0, 1, 2 ... without gaps (the trace is a prefix of what was recorded) */
	qsort(evs, nev, sizeof(key_ev), cmp_key);
	for (size_t i = 0; i < nev; i++) {
		int first = i == 0 || evs[i - 1].entity_id != evs[i].entity_id;
		uint64_t want = first ? 0 : evs[i - 1].seq + 1;
		if (evs[i].seq != want) {
			round_fail(round, "entity %016" PRIx64 ": seq %" PRIu64 " where %" PRIu64 " was expected",
			           evs[i].entity_id, evs[i].seq, want);
			break;
		}
	}
	/* every reported event is there */
	size_t verified = 0;
	for (size_t i = 0; i < n; i++) {
		const report *rp = &reps[i];
		if (rp->kind == 0) {
			round_fail(round, "thread %u: hx_context_current() was not valid after a call", rp->thread);
			continue;
		}
		key_ev k = {rp->entity_id, rp->seq, 0, 0, 0, 0};
		key_ev *f = bsearch(&k, evs, nev, sizeof(key_ev), cmp_key);
		if (!f) {
			round_fail(round, "reported event %016" PRIx64 ":%" PRIu64 " (%s '%s', thread %u, report %zu of %zu) "
			           "is not in the trace",
			           rp->entity_id, rp->seq, hx_event_kind_name(rp->kind), names[rp->name], rp->thread, i, n);
			break;
		}
		if (f->kind != rp->kind || f->name != rp->name) {
			round_fail(round, "event %016" PRIx64 ":%" PRIu64 " is %s/%u, reported %s '%s'", rp->entity_id, rp->seq,
			           hx_event_kind_name(f->kind), f->name, hx_event_kind_name(rp->kind), names[rp->name]);
			break;
		}
		if ((rp->name == NAME_WORK || rp->name == NAME_DEPTH) && (!f->has_value || f->value != rp->value)) {
			round_fail(round, "event %016" PRIx64 ":%" PRIu64 " has value %" PRId64 ", reported %" PRId64,
			           rp->entity_id, rp->seq, f->value, rp->value);
			break;
		}
		verified++;
	}
	free(evs);
	free(reps);
	hxt_rmrf(dir);
	return verified;
}

static char base[512];

static void remove_base(void)
{
	if (base[0])
		hxt_rmrf(base);
}

int main(int argc, char **argv)
{
	int rounds = 50;
	const char *env = getenv("HX_CRASH_ROUNDS");
	if (env && *env)
		rounds = atoi(env);
	if (argc > 1)
		rounds = atoi(argv[1]);
	if (rounds < 1) {
		fprintf(stderr, "usage: crash [ROUNDS]\n");
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	if (hxt_mkdtemp(base, sizeof base, "crash") != 0) {
		perror("mkdtemp");
		return 1;
	}
	atexit(remove_base); /* the children leave with _exit() or SIGKILL: only the parent runs it */
	unsigned rng = 12345;
	size_t total = 0, torn = 0, min = SIZE_MAX, max = 0;
	for (int i = 0; i < rounds; i++) {
		size_t v = run_round(i, base, &rng, &torn);
		total += v;
		if (v < min)
			min = v;
		if (v > max)
			max = v;
	}
	printf("crash: %d rounds, %zu reported events verified (%zu to %zu per round), %zu torn tails, %d failures\n",
	       rounds, total, min, max, torn, failures);
	return failures ? 1 : 0;
}
