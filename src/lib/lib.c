/*
 * lib.c - the life cycle: hx_init(), hx_shutdown(), start-up from the environment, per-thread
 * writer state, thread exit and fork().
 *
 * The one process-wide anchor: instrumentation can be called from any code in the process, with
 * no handle to pass around, so the current tracer is a global (hx__tracer_cur) and each thread
 * finds its writer through one thread-local pointer (hx__tls). STYLE.md's "no globals" does not
 * fit a tracer's entry points; everything else hangs off the tracer struct.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "format/text.h"
#include "lib/statsdsink.h"
#include "lib/tracer.h"
#if HX_HAVE_KAFKA
#include "lib/kafkasink.h"
#endif

volatile int hx__state;
__thread unsigned hx__tls_mute __attribute__((tls_model("initial-exec")));
volatile unsigned hx__mute_epoch = 1;
struct hx__tracer *_Atomic hx__tracer_cur;
_Thread_local struct hx__thread *hx__tls __attribute__((tls_model("initial-exec")));

/* Generations tell handles and thread states of an earlier tracer (before a shutdown, or the
 * parent's before fork()) from the current one's. */
static _Atomic uint32_t generation;
/* Serialises hx_init()/hx_shutdown() and the lazy start in a fork()ed child. */
static pthread_mutex_t life_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_key_t thread_key;
static pthread_once_t key_once = PTHREAD_ONCE_INIT;
static int started_by_env;
/* Set by the fork() child handler: the first call in the child starts a fresh tracer. */
static volatile int child_restart;
static hx_config child_cfg;
static _Atomic uint64_t events_of_exited_threads;
/* In a fork()ed child: the parent's tracers, abandoned (see atfork_child). */
static struct hx__tracer *parent_tracers;

static void thread_exit(void *arg);

static int thread_key_made;

static void key_create(void)
{
	thread_key_made = pthread_key_create(&thread_key, thread_exit) == 0;
}

static char *dup_or_null(const char *s)
{
	return s ? strdup(s) : NULL;
}

static const char *program_name(void)
{
	extern char *program_invocation_short_name;
	return program_invocation_short_name && *program_invocation_short_name
	           ? program_invocation_short_name
	           : "program";
}

#if defined(__x86_64__)
#include <cpuid.h>
static int cpu_has_sse42(void)
{
	unsigned a, b, c, d;
	if (!__get_cpuid(1, &a, &b, &c, &d))
		return 0;
	return (c & bit_SSE4_2) != 0;
}
#else
static int cpu_has_sse42(void)
{
	return 1;
}
#endif

static void tracer_free(struct hx__tracer *tr)
{
	if (!tr)
		return;
	free(tr->dir);
	free(tr->service);
	free(tr->program);
	free(tr->host);
	free(tr->disable);
	free(tr->ship_to);
	free(tr->ship_token);
	free(tr);
}

static void atfork_child(void);
static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;

/* The library's background threads (file sink, shippers) hold bg_work while they work and
 * release it before they sleep or block on I/O; fork() takes it first. So a fork() never catches
 * one of them inside malloc() or holding an internal lock. glibc's malloc is fork-safe anyway,
 * but not every allocator is (AddressSanitizer's, before LLVM 16, leaves a size class locked in
 * the child forever when another thread was allocating: the child's first allocation of that
 * size then hangs), and a tracing library must not be the thread that makes a program's fork()
 * hang. The cost: a fork() waits for the end of one background work step (microseconds). */
static pthread_mutex_t bg_work = PTHREAD_MUTEX_INITIALIZER;

void hx__bg_enter(void)
{
	pthread_mutex_lock(&bg_work);
}

void hx__bg_leave(void)
{
	pthread_mutex_unlock(&bg_work);
}

static void bg_fork_prepare(void)
{
	pthread_mutex_lock(&bg_work);
}

static void bg_fork_parent(void)
{
	pthread_mutex_unlock(&bg_work);
}

static void atfork_register(void)
{
	pthread_atfork(bg_fork_prepare, bg_fork_parent, atfork_child);
}

/* The host recorded in the file header: HARUSPEX_HOST when it is set to a usable name (printable
 * ASCII, at most 255 bytes), else gethostname(). Readers treat each host as one clock domain, so
 * the variable lets tests fake a second host, and lets containers that share a made-up hostname
 * say which machine (which clock) they run on. A value that is not usable is ignored. */
static void host_name(char *buf, size_t len)
{
	const char *env = getenv("HARUSPEX_HOST");
	size_t n = env ? strlen(env) : 0;
	int ok = n > 0 && n < len;
	for (size_t i = 0; ok && i < n; i++)
		ok = env[i] >= 0x20 && env[i] < 0x7f;
	if (ok) {
		memcpy(buf, env, n + 1);
		return;
	}
	gethostname(buf, len - 1);
}

/* Start a tracer for the resolved configuration `cfg`. Caller holds life_lock. */
static int start_locked(const hx_config *cfg)
{
	if (!cpu_has_sse42()) {
		if (!cfg->quiet)
			fprintf(stderr, "haruspex: this CPU lacks SSE4.2 (CRC32C); tracing stays off\n");
		return HX_ECONFIG;
	}
	pthread_once(&key_once, key_create);
	pthread_once(&atfork_once, atfork_register);

	struct hx__tracer *tr = calloc(1, sizeof *tr);
	if (!tr)
		return HX_ENOMEM;
	tr->cfg = *cfg;
	char host[256] = "";
	host_name(host, sizeof host);
	tr->dir = dup_or_null(cfg->dir ? cfg->dir : "");
	tr->program = strdup(program_name());
	tr->service = strdup(cfg->service && *cfg->service ? cfg->service : program_name());
	tr->host = strdup(host);
	if (!tr->dir || !tr->program || !tr->service || !tr->host) {
		tracer_free(tr);
		return HX_ENOMEM;
	}
	tr->cfg.dir = tr->dir;
	tr->cfg.service = tr->service;
	tr->gen = atomic_fetch_add(&generation, 1) + 1;
	tr->pid = getpid();
	uint64_t seed[2];
	hx__rng_seed(seed);
	for (int i = 0; i < 16; i++)
		tr->instance[i] = (uint8_t)(hx__rng_next(seed) >> 24);
	pthread_mutex_init(&tr->lock, NULL);
	tr->next_stream = 1; /* stream 0 is the process stream */
	hx__clock_init(tr);
	if (cfg->disable && !(tr->disable = strdup(cfg->disable))) {
		tracer_free(tr);
		return HX_ENOMEM;
	}
	tr->cfg.disable = tr->disable;
	/* The tcp sink's strings: the caller's may go away, and a fork()ed child restarts with them. */
	if ((cfg->ship_to && !(tr->ship_to = strdup(cfg->ship_to))) ||
	    (cfg->ship_token && !(tr->ship_token = strdup(cfg->ship_token)))) {
		tracer_free(tr);
		return HX_ENOMEM;
	}
	tr->cfg.ship_to = tr->ship_to;
	tr->cfg.ship_token = tr->ship_token;
	if (hx__sampling_init(tr) != HX_OK) {
		tracer_free(tr);
		return HX_ENOMEM;
	}

	int rc = HX_OK;
	switch (cfg->sink) {
	case HX_SINK_FILE:
	case HX_SINK_TCP:
	case HX_SINK_KAFKA:
	case HX_SINK_STATSD:
		tr->mode = HX__MODE_FILE;
		rc = hx__filesink_open(tr);
		if (rc != HX_OK)
			tr->mode = HX__MODE_DROP; /* degraded: count drops, the program goes on */
		else if (cfg->sink == HX_SINK_TCP)
			rc = hx__shipsink_start(tr); /* the files are written whatever happens to it */
		else if (cfg->sink == HX_SINK_STATSD)
			rc = hx__statsdsink_start(tr); /* likewise */
#if HX_HAVE_KAFKA
		else if (cfg->sink == HX_SINK_KAFKA)
			rc = hx__kafkasink_start(tr); /* likewise; config.c refuses kafka without it */
#endif
		break;
	case HX_SINK_STDERR:
	case HX_SINK_CALLBACK:
		tr->mode = HX__MODE_DECODE;
		break;
	case HX_SINK_NONE:
		tr->mode = HX__MODE_NONE;
		break;
	}
	tr->prev = atomic_load(&hx__tracer_cur);
	atomic_store(&hx__tracer_cur, tr);
	hx__mute_epoch_next();
	__atomic_store_n(&hx__state, 1, __ATOMIC_RELEASE);
	return rc;
}

/* Stop the current tracer. Caller holds life_lock. */
static int stop_locked(void)
{
	struct hx__tracer *tr = atomic_load(&hx__tracer_cur);
	if (!tr || hx__state != 1)
		return HX_ESTATE;
	__atomic_store_n(&hx__state, 2, __ATOMIC_SEQ_CST);
	hx__mute_epoch_next();
	/* Push every thread onto its slow path, where it sees the state and stops recording. */
	hx__thread_list_fence(tr);
	if (tr->fs)
		hx__filesink_close(tr);
	if (tr->ship)
		hx__shipsink_stop(tr); /* after the close: the files are complete, indexes included */
	hx__statsdsink_stop(tr);   /* likewise; nothing when tr has no statsd sink */
#if HX_HAVE_KAFKA
	if (tr->kafka)
		hx__kafkasink_stop(tr);
#endif
	hx__counters_attach(NULL);
	/* The tracer stays allocated: threads that raced the state change may still read it. */
	return HX_OK;
}

int hx_init(const hx_config *cfg)
{
	hx_config resolved;
	char err[256];
	int rc = hx__config_resolve(&resolved, cfg, err, sizeof err);
	if (rc != HX_OK) {
		if (!(cfg && cfg->quiet))
			fprintf(stderr, "haruspex: %s; tracing stays off\n", err);
		return rc;
	}
	pthread_mutex_lock(&life_lock);
	if (hx__state == 1) {
		if (!started_by_env) {
			pthread_mutex_unlock(&life_lock);
			return HX_ESTATE;
		}
		/* Started from the environment at load time: restart with the program's settings. If
		 * nothing was recorded yet (the usual case: hx_init() early in main), the first run's
		 * files hold nothing and are removed, so one run leaves one process instance. */
		struct hx__tracer *old = atomic_load(&hx__tracer_cur);
		int empty = old && hx__tracer_events(old) == 0;
		stop_locked();
		if (empty && old->fs)
			hx__filesink_remove(old);
	}
	started_by_env = 0;
	rc = start_locked(&resolved);
	/* A fork()ed child restarts with this configuration: with the tracer's copies of the strings
	 * (they stay allocated), not the caller's, which hx_init() promises not to keep. */
	struct hx__tracer *tr = atomic_load(&hx__tracer_cur);
	child_cfg = tr && hx__state == 1 ? tr->cfg : resolved;
	pthread_mutex_unlock(&life_lock);
	return rc;
}

int hx_shutdown(void)
{
	pthread_mutex_lock(&life_lock);
	if (child_restart) {
		/* A fork()ed child that never recorded: its tracer was never started, just stop. */
		child_restart = 0;
		__atomic_store_n(&hx__state, 2, __ATOMIC_SEQ_CST);
	hx__mute_epoch_next();
		started_by_env = 0;
		pthread_mutex_unlock(&life_lock);
		return HX_OK;
	}
	int rc = stop_locked();
	started_by_env = 0;
	pthread_mutex_unlock(&life_lock);
	return rc;
}

int hx_enabled(void)
{
	return hx__state == 1;
}

/* A program run with HARUSPEX_SINK or HARUSPEX_DIR set traces without calling hx_init(). */
__attribute__((constructor)) static void start_from_environment(void)
{
	const char *s = getenv("HARUSPEX_SINK"), *d = getenv("HARUSPEX_DIR");
	if (!(s && *s) && !(d && *d))
		return;
	hx_config resolved;
	char err[256];
	if (hx__config_resolve(&resolved, NULL, err, sizeof err) != HX_OK) {
		fprintf(stderr, "haruspex: %s; tracing stays off\n", err);
		return;
	}
	pthread_mutex_lock(&life_lock);
	if (hx__state != 1 && start_locked(&resolved) != HX_ECONFIG)
		started_by_env = 1;
	child_cfg = resolved;
	pthread_mutex_unlock(&life_lock);
}

/* ---- fork(): the child must never write into the parent's shared mappings ---- */
static void atfork_child(void)
{
	/* Runs in the child, on the thread that called fork(). Only plain stores here: the real
	 * restart (files, a thread) happens on the child's first recording call. The parent's tracer
	 * and thread states are abandoned, not freed: other threads' states are unreachable and the
	 * parent's locks may have been held by threads that do not exist here. */
	hx__tls = NULL;
	hx__tls_mute = 0;
	hx__mute_epoch_next();
	/* bg_work was taken by bg_fork_prepare() on this very thread: release it, as POSIX allows
	 * for a lock the forking thread holds. */
	pthread_mutex_unlock(&bg_work);
	/* Forget the parent's state in the child: the key's destructor would otherwise run on it at
	 * thread exit and take the parent's locks; the counters would go into the parent's file. */
	if (thread_key_made)
		pthread_setspecific(thread_key, NULL);
	hx__counters_attach(NULL);
	hx__counters_reset();
	atomic_store(&events_of_exited_threads, 0);
	if (hx__state == 1) {
		child_restart = 1;
		atomic_store(&generation, atomic_load(&generation) + 1);
	}
	/* The parent's tracers (the current one and, through prev, the earlier runs) stay reachable
	 * but out of the child's way: hx__events_total() would take their locks, which threads that
	 * do not exist here may have held. */
	parent_tracers = atomic_load(&hx__tracer_cur);
	atomic_store(&hx__tracer_cur, NULL);
	pthread_mutex_t fresh = PTHREAD_MUTEX_INITIALIZER;
	life_lock = fresh;
}

static struct hx__tracer *restart_in_child(void)
{
	pthread_mutex_lock(&life_lock);
	if (child_restart) {
		child_restart = 0;
		hx_config cfg = child_cfg;
		start_locked(&cfg);
	}
	pthread_mutex_unlock(&life_lock);
	return atomic_load(&hx__tracer_cur);
}

/* ---- thread states ---- */

/* Events recorded by the threads still on tr's list. */
static uint64_t live_events(struct hx__tracer *tr)
{
	uint64_t n = 0;
	pthread_mutex_lock(&tr->lock);
	for (struct hx__thread *t = tr->threads; t; t = t->next)
		n += atomic_load_explicit(&t->events, memory_order_relaxed);
	pthread_mutex_unlock(&tr->lock);
	return n;
}

uint64_t hx__events_total(struct hx__tracer *tr)
{
	uint64_t n = atomic_load(&events_of_exited_threads);
	/* Threads of earlier runs that have not recorded since are still on their run's list. */
	for (; tr; tr = tr->prev)
		n += live_events(tr);
	return n;
}

uint64_t hx__tracer_events(struct hx__tracer *tr)
{
	return atomic_load(&tr->exited_events) + live_events(tr);
}

void hx__thread_list_fence(struct hx__tracer *tr)
{
	pthread_mutex_lock(&tr->lock);
	for (struct hx__thread *t = tr->threads; t; t = t->next) {
		atomic_store_explicit(&t->end, 0, memory_order_relaxed);
		atomic_store_explicit(&t->muted, 0, memory_order_relaxed);
	}
	pthread_mutex_unlock(&tr->lock);
}

static void thread_unlink(struct hx__thread *t)
{
	struct hx__tracer *tr = t->tracer;
	pthread_mutex_lock(&tr->lock);
	for (struct hx__thread **pp = &tr->threads; *pp; pp = &(*pp)->next) {
		if (*pp == t) {
			*pp = t->next;
			break;
		}
	}
	pthread_mutex_unlock(&tr->lock);
	atomic_fetch_add(&events_of_exited_threads, atomic_load(&t->events));
	atomic_fetch_add(&tr->exited_events, atomic_load(&t->events));
}

static void thread_free(struct hx__thread *t)
{
	if (t->dec) {
		hx__decoder_free(t->dec);
		free(t->dec);
	}
	free(t->own_buf);
	if (t->text)
		free(((hx__buf *)t->text)->p);
	free(t->text);
	free(t->arena);
	free(t);
}

/* Make the thread state for tracer tr (first event of a thread). */
static struct hx__thread *thread_create(struct hx__tracer *tr)
{
	struct hx__thread *t = calloc(1, sizeof *t);
	if (!t)
		return NULL;
	t->arena = malloc(HX_NAME_ARENA);
	if (!t->arena) {
		free(t);
		return NULL;
	}
	t->tracer = tr;
	t->gen = tr->gen;
	t->use_tsc = tr->use_tsc;
	t->mode = tr->mode;
	t->chunk_bytes = tr->cfg.chunk_bytes;
	t->fsync_every = tr->cfg.fsync == HX_FSYNC_EVERY ? tr->cfg.fsync_every : 0;
	hx__rng_seed(t->rng);
	if (t->mode == HX__MODE_DECODE) {
		t->dec = malloc(sizeof *t->dec);
		t->own_buf = malloc(t->chunk_bytes);
		if (!t->dec || !t->own_buf || hx__decoder_init(t->dec) != HX_OK) {
			free(t->dec);
			t->dec = NULL;
			thread_free(t);
			return NULL;
		}
	}
	pthread_mutex_lock(&tr->lock);
	t->stream_id = tr->next_stream++;
	t->next = tr->threads;
	tr->threads = t;
	pthread_mutex_unlock(&tr->lock);
	t->cur = &t->self;
	t->self.id = hx__entity_id_new(t);
	t->self.kind = HX_ENTITY_THREAD;
	t->self.gen = tr->gen;
	return t;
}

/* Name the implicit entity after the thread, as the user named it with pthread_setname_np(). */
static void emit_thread_begin(struct hx__thread *t)
{
	char name[64] = "";
	if (pthread_getname_np(pthread_self(), name, sizeof name) != 0 || !name[0])
		snprintf(name, sizeof name, "thread");
	hx__emit_entity_begin(t, &t->self, name, HX_ENTITY_THREAD, (uint64_t)syscall(SYS_gettid), 0);
}

struct hx__thread *hx__thread_slow(void)
{
	struct hx__thread *t = hx__tls;
	int state = __atomic_load_n(&hx__state, __ATOMIC_ACQUIRE);
	struct hx__tracer *tr = atomic_load(&hx__tracer_cur);
	if (HX_UNLIKELY(child_restart))
		tr = restart_in_child(), state = hx__state;
	if (state != 1 || !tr) {
		if (state == 2)
			hx__count(HX_COUNT_AFTER_SHUTDOWN);
		return NULL;
	}
	if (t && t->gen == tr->gen) {
		/* Our state is current; we are here because the chunk is full or the sink failed. */
		return t;
	}
	/* First call on this thread for this tracer. A state left from an earlier tracer is simply
	 * replaced: its chunk belongs to closed files. */
	if (t) {
		hx__tls = NULL;
		hx__chunk_release(t);
		thread_unlink(t);
		thread_free(t);
	}
	t = thread_create(tr);
	if (!t) {
		hx__count(HX_COUNT_DROPPED);
		return NULL;
	}
	hx__tls = t;
	pthread_setspecific(thread_key, t);
	emit_thread_begin(t);
	return t;
}

static void thread_exit(void *arg)
{
	struct hx__thread *t = arg;
	if (!t)
		return;
	struct hx__tracer *tr = atomic_load(&hx__tracer_cur);
	int live = hx__state == 1 && tr == t->tracer && t->gen == tr->gen;
	/* Explicit entities still entered are left, as by hx_entity_leave(): otherwise their owner
	 * would point at this freed state, and no thread could ever enter or end them again. */
	while (t->cur && t->cur != &t->self) {
		struct hx_entity *e = t->cur;
		if (live)
			hx__emit_state(t, e, HX_STATE_WAITING);
		t->cur = e->prev_current ? e->prev_current : &t->self;
		e->prev_current = NULL;
		atomic_store(&e->owner, NULL);
	}
	if (live)
		hx__emit_entity_end(t, &t->self);
	hx__chunk_release(t);
	hx__tls = NULL;
	thread_unlink(t);
	thread_free(t);
}
