/*
 * test_sinks.c - the sinks and their configuration: stderr (one line per event), callback
 * (synchronous, on the recording thread), none, the file sink's rotation, max_files and fsync
 * policies, HARUSPEX_* environment variables overriding hx_config, and tracing started from the
 * environment alone (this program exec'd with HARUSPEX_* set).
 */
#include "../hxtest.h"

#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/wait.h>

#include <cmocka.h>

#include "format/format.h"

typedef hxt_fixture fixture;

static int setup(void **state)
{
	return hxt_fixture_setup(state, "sinks");
}

static int teardown(void **state)
{
	if (hx_enabled())
		hx_shutdown(); /* before the environment changes under a running tracer */
	static const char *const vars[] = {"HARUSPEX_DIR", "HARUSPEX_SINK", "HARUSPEX_SERVICE",
	                                   "HARUSPEX_FSYNC", "HARUSPEX_CHUNK_BYTES", "HARUSPEX_MAX_FILES",
	                                   "HARUSPEX_MAX_FILE_BYTES", "HARUSPEX_QUIET"};
	for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++)
		unsetenv(vars[i]);
	return hxt_fixture_teardown(state);
}

static void read_clean(const char *dir, hxt_events *evs, hxt_read_result *res)
{
	assert_int_equal(hxt_read_all(dir, HX_ORDER_STREAM, evs, res, 1), HX_OK);
	assert_int_equal(res->next_rc, HX_EOF);
	assert_int_equal(res->damage, 0);
	assert_int_equal(res->info.damaged, 0);
}

/* ---- stderr ---- */

static void test_stderr_sink(void **state)
{
	fixture *f = *state;
	char log[600], never[600];
	snprintf(log, sizeof log, "%s/stderr.txt", f->dir);
	snprintf(never, sizeof never, "%s/not-made", f->dir);
	hx_config cfg;
	hx_config_init(&cfg);
	cfg.sink = HX_SINK_STDERR;
	cfg.dir = never;

	fflush(stderr);
	int saved = dup(2);
	int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0 && saved >= 0);
	dup2(fd, 2);
	close(fd);
	hx_context ids[8];
	int n = 0;
	assert_int_equal(hx_init(&cfg), HX_OK);
	hx_point("alpha-point");
	ids[n++] = hx_context_current();
	hx_block_begin("beta-block");
	ids[n++] = hx_context_current();
	HX_POINT_WITH("gamma-attrs", HX_INT("answer", 42), HX_STR("word", "hello"));
	ids[n++] = hx_context_current();
	hx_block_end();
	ids[n++] = hx_context_current();
	hx_counter("delta-counter", 2.5, "ms");
	ids[n++] = hx_context_current();
	hx_error("epsilon-error");
	ids[n++] = hx_context_current();
	assert_int_equal(hx_shutdown(), HX_OK);
	fflush(stderr);
	dup2(saved, 2);
	close(saved);

	size_t len = 0;
	char *text = (char *)hxt_slurp(log, &len);
	assert_non_null(text);
	text = hxt_xrealloc(text, len + 1);
	text[len] = 0;
	/* one line per event: the thread's ENTITY_BEGIN and the six calls */
	char *lines[16];
	size_t nlines = 0;
	for (char *p = text; *p && nlines < 16;) {
		char *nl = strchr(p, '\n');
		assert_non_null(nl); /* every line ends with a newline */
		*nl = 0;
		lines[nlines++] = p;
		p = nl + 1;
	}
	if (nlines != 7)
		fail_msg("stderr sink wrote %zu lines, expected 7:\n%s", nlines, text);
	static const char *const want[] = {"entity_begin", "\"alpha-point\"", "\"beta-block\"", "\"gamma-attrs\"",
	                                   "block_end", "\"delta-counter\"", "\"epsilon-error\""};
	for (size_t i = 0; i < 7; i++) {
		if (!strstr(lines[i], want[i]))
			fail_msg("line %zu lacks %s: %s", i, want[i], lines[i]);
		if (i > 0) {
			/* the event ID: entity as 16 hex digits, ':' and the sequence number */
			char id[64];
			snprintf(id, sizeof id, "%016" PRIx64 ":%" PRIu64, ids[i - 1].entity_id, ids[i - 1].seq);
			if (!strstr(lines[i], id))
				fail_msg("line %zu lacks the event ID %s: %s", i, id, lines[i]);
		}
	}
	assert_non_null(strstr(lines[3], "answer=42"));
	assert_non_null(strstr(lines[3], "\"hello\""));
	assert_non_null(strstr(lines[5], "ms"));
	struct stat st;
	assert_int_not_equal(stat(never, &st), 0); /* the stderr sink makes no directory */
	free(text);
}

/* Several threads on the stderr sink: every line whole (one write each), one per event. */
static void *stderr_writer(void *arg)
{
	(void)arg;
	for (int i = 0; i < 300; i++)
		HX_POINT_WITH("from-a-thread", HX_INT("i", i), HX_STR("s", "some text to make the line long"));
	return NULL;
}

static void test_stderr_sink_threads(void **state)
{
	fixture *f = *state;
	char log[600];
	snprintf(log, sizeof log, "%s/stderr.txt", f->dir);
	hx_config cfg;
	hx_config_init(&cfg);
	cfg.sink = HX_SINK_STDERR;
	fflush(stderr);
	int saved = dup(2);
	int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND, 0600);
	assert_true(fd >= 0 && saved >= 0);
	dup2(fd, 2);
	close(fd);
	assert_int_equal(hx_init(&cfg), HX_OK);
	pthread_t th[4];
	for (int i = 0; i < 4; i++)
		assert_int_equal(pthread_create(&th[i], NULL, stderr_writer, NULL), 0);
	for (int i = 0; i < 4; i++)
		assert_int_equal(pthread_join(th[i], NULL), 0);
	assert_int_equal(hx_shutdown(), HX_OK);
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	FILE *fp = fopen(log, "r");
	assert_non_null(fp);
	char line[4096];
	size_t n = 0, points = 0;
	while (fgets(line, sizeof line, fp)) {
		size_t l = strlen(line);
		assert_true(l > 0 && line[l - 1] == '\n');
		/* a whole line: starts with the time, has exactly one event ID */
		if (!(line[4] == '-' && line[10] == 'T' && strchr(line, 'Z')))
			fail_msg("line %zu is not whole: %s", n, line);
		points += strstr(line, "\"from-a-thread\"") != NULL;
		n++;
	}
	fclose(fp);
	assert_int_equal(points, 4 * 300);
	assert_int_equal(n, 4 * (300 + 2)); /* each thread: ENTITY_BEGIN, 300 points, ENTITY_END */
}

/* ---- callback ---- */

typedef struct cb_state {
	pthread_mutex_t lock;
	size_t calls;
	size_t wrong_thread;
	pthread_t expect_thread;
	int check_thread;
	hxt_events evs;
} cb_state;

static void on_event(const hx_event *ev, void *user)
{
	cb_state *s = user;
	pthread_mutex_lock(&s->lock);
	s->calls++;
	if (s->check_thread && !pthread_equal(pthread_self(), s->expect_thread))
		s->wrong_thread++;
	hxt_events_push(&s->evs, ev);
	pthread_mutex_unlock(&s->lock);
}

static void *cb_worker(void *arg)
{
	(void)arg;
	for (int i = 0; i < 100; i++)
		HX_POINT_WITH("worker", HX_INT("i", i));
	return NULL;
}

static void test_callback_sink(void **state)
{
	(void)state;
	static cb_state s;
	memset(&s, 0, sizeof s);
	pthread_mutex_init(&s.lock, NULL);
	s.expect_thread = pthread_self();
	s.check_thread = 1;
	hx_config cfg;
	hx_config_init(&cfg);
	cfg.sink = HX_SINK_CALLBACK;
	cfg.callback = on_event;
	cfg.callback_user = &s;
	cfg.chunk_bytes = 4096; /* many private chunks: the decoder restarts with each */
	assert_int_equal(hx_init(&cfg), HX_OK);
	/* synchronous: the event has been delivered when the call returns */
	for (int i = 0; i < 2000; i++) {
		size_t before = s.calls;
		HX_POINT_WITH("sync", HX_INT("i", i), HX_STR("pad", "some padding to fill chunks"));
		assert_int_equal(s.calls, before + 1 + (i == 0)); /* the first call adds ENTITY_BEGIN */
		const hx_event *last = &s.evs.v[s.evs.n - 1].ev;
		assert_int_equal(last->kind, HX_EV_POINT);
		assert_string_equal(last->name, "sync");
		assert_int_equal(last->attrs[0].v.i, i);
		hx_context c = hx_context_current();
		assert_int_equal(last->entity_id, c.entity_id);
		assert_int_equal(last->seq, c.seq);
	}
	s.check_thread = 0;
	pthread_t th[3];
	for (int i = 0; i < 3; i++)
		assert_int_equal(pthread_create(&th[i], NULL, cb_worker, &s), 0);
	for (int i = 0; i < 3; i++)
		assert_int_equal(pthread_join(th[i], NULL), 0);
	assert_int_equal(hx_shutdown(), HX_OK);
	assert_int_equal(s.wrong_thread, 0);
	/* 1 + 2000 on main; each worker: ENTITY_BEGIN, 100 points, ENTITY_END at exit */
	assert_int_equal(s.calls, 2001 + 3 * 102);
	size_t nent = 0;
	uint64_t now = hxt_realtime_ns();
	assert_int_equal(hxt_check_entities(&s.evs, 1, now - 60000000000ull, now + 2000000000ull, &nent), 0);
	assert_int_equal(nent, 4);
	hxt_events_free(&s.evs);
	pthread_mutex_destroy(&s.lock);
}

/* ---- none ---- */

static void test_none_sink(void **state)
{
	fixture *f = *state;
	char dir[600];
	snprintf(dir, sizeof dir, "%s/not-made", f->dir);
	hx_config cfg;
	hx_config_init(&cfg);
	cfg.sink = HX_SINK_NONE;
	cfg.dir = dir;
	hx_stats b;
	hx_stats_get(&b);
	assert_int_equal(hx_init(&cfg), HX_OK);
	assert_true(hx_enabled());
	for (int i = 0; i < 100; i++) {
		HX_POINT_WITH("p", HX_INT("i", i));
		/* nothing is stored, but the bookkeeping goes on: each event has its sequence number */
		hx_context c = hx_context_current();
		assert_true(c.flags & HX_CTX_VALID);
		assert_int_equal(c.seq, (uint64_t)i + 1);
	}
	hx_block_begin("b");
	hx_counter("c", 1, "u");
	hx_block_end(); /* the block is open (its begin was not stored, but happened) */
	hx_stats a;
	hx_stats_get(&a);
	/* the none sink counts nothing: no drops (nothing failed), no events */
	assert_int_equal(a.events, b.events);
	for (int i = 0; i < HX_COUNT__MAX; i++)
		assert_int_equal(a.count[i], b.count[i]);
	/* misuse is still judged */
	hx_block_end();
	hx_stats_get(&a);
	assert_int_equal(a.count[HX_COUNT_END_WITHOUT_BEGIN], b.count[HX_COUNT_END_WITHOUT_BEGIN] + 1);
	assert_int_equal(hx_shutdown(), HX_OK);
	struct stat st;
	assert_int_not_equal(stat(dir, &st), 0);
	assert_int_equal(hxt_count_hx_files(f->dir), 0);
}

/* ---- file rotation and max_files ---- */

/* The file sequence number in a trace file name <program>-<pid>-<ms>-<seq>.hx, or -1. */
static long file_seq_of(const char *name)
{
	size_t l = strlen(name);
	if (l < 4 || strcmp(name + l - 3, ".hx") != 0)
		return -1;
	const char *dash = strrchr(name, '-');
	return dash ? strtol(dash + 1, NULL, 10) : -1;
}

static long max_file_seq(const char *dir, int *files)
{
	DIR *dp = opendir(dir);
	assert_non_null(dp);
	struct dirent *de;
	long max = -1;
	*files = 0;
	while ((de = readdir(dp))) {
		long s = file_seq_of(de->d_name);
		if (s >= 0) {
			(*files)++;
			if (s > max)
				max = s;
		}
	}
	closedir(dp);
	return max;
}

static const int rotation_points = 30000;

/* linger_ms: wait before hx_shutdown(), so that the background thread has prepared what comes
 * next (a new file ahead of need) whatever the load on the machine */
static void write_rotating(const char *dir, uint32_t max_files, int linger_ms)
{
	hx_config cfg;
	hx_config_init(&cfg);
	cfg.dir = dir;
	cfg.chunk_bytes = 4096;
	cfg.max_file_bytes = HX_FILE_HEADER_BYTES + 16 * 4096; /* one window of chunks per file */
	cfg.max_files = max_files;
	assert_int_equal(hx_init(&cfg), HX_OK);
	for (int i = 0; i < rotation_points; i++)
		HX_POINT_WITH("rot", HX_INT("i", i), HX_STR("pad", "0123456789"));
	hx_point("last");
	if (linger_ms) {
		struct timespec ts = {0, linger_ms * 1000000L};
		nanosleep(&ts, NULL);
	}
	assert_int_equal(hx_shutdown(), HX_OK);
}

static void test_rotation(void **state)
{
	fixture *f = *state;
	write_rotating(f->dir, 0, 0);
	int files;
	long maxseq = max_file_seq(f->dir, &files);
	assert_true(files >= 4);
	assert_int_equal(maxseq + 1, files); /* nothing deleted */
	hxt_events evs = {0};
	hxt_read_result res;
	read_clean(f->dir, &evs, &res);
	assert_int_equal(res.info.files, (uint64_t)files);
	assert_int_equal(res.processes, 1); /* the files continue one process's streams */
	assert_int_equal(res.proc0.files, (uint32_t)files);
	assert_int_equal(evs.n, 1 + rotation_points + 1);
	/* in order across the files: stream order returns the thread's events by sequence number */
	int next = 0;
	for (size_t i = 0; i < evs.n; i++) {
		const hx_event *e = &evs.v[i].ev;
		assert_int_equal(e->seq, i);
		if (e->kind == HX_EV_POINT && !strcmp(e->name, "rot"))
			assert_int_equal(e->attrs[0].v.i, next++);
	}
	assert_int_equal(next, rotation_points);
	assert_string_equal(evs.v[evs.n - 1].ev.name, "last");
	hxt_events_free(&evs);
}

static void test_max_files(void **state)
{
	fixture *f = *state;
	hx_stats b, a;
	hx_stats_get(&b);
	write_rotating(f->dir, 2, 0);
	hx_stats_get(&a);
	int files;
	long maxseq = max_file_seq(f->dir, &files);
	assert_int_equal(files, 2);
	assert_true(maxseq >= 3);
	/* every file made beyond the newest two was deleted, and counted */
	assert_int_equal(a.count[HX_COUNT_FILES_DELETED] - b.count[HX_COUNT_FILES_DELETED], (uint64_t)(maxseq + 1 - 2));
	hxt_events evs = {0};
	hxt_read_result res;
	assert_int_equal(hxt_read_all(f->dir, HX_ORDER_STREAM, &evs, &res, 1), HX_OK);
	/* What the deleted files held is gone (the reader may say so, as a gap); what is left is
	 * intact: the newest events, contiguous, up to the last one. */
	for (int k = 1; k < 16; k++)
		if (k != HX_DMG_SEQ_GAP && k != HX_DMG_TORN_TAIL && res.damage_kinds[k])
			fail_msg("unexpected damage of kind %s", hx_damage_kind_name(k));
	assert_true(evs.n > 0 && evs.n < (size_t)rotation_points);
	const hx_event *last = &evs.v[evs.n - 1].ev;
	assert_string_equal(last->name, "last");
	assert_int_equal(last->seq, (uint64_t)rotation_points + 1);
	for (size_t i = 1; i < evs.n; i++)
		assert_int_equal(evs.v[i].ev.seq, evs.v[i - 1].ev.seq + 1);
	hxt_events_free(&evs);
}

/* max_files = 1: the one file kept must be the one holding the newest events, not an empty file
 * made ahead of need while the events went on into a deleted one. */
static void test_max_files_one(void **state)
{
	fixture *f = *state;
	write_rotating(f->dir, 1, 100);
	int files;
	max_file_seq(f->dir, &files);
	assert_int_equal(files, 1);
	hxt_events evs = {0};
	hxt_read_result res;
	assert_int_equal(hxt_read_all(f->dir, HX_ORDER_STREAM, &evs, &res, 1), HX_OK);
	if (evs.n == 0 || strcmp(evs.v[evs.n - 1].ev.name, "last") != 0)
		fail_msg("with max_files = 1 the trace holds %zu events and not the last one: the kept file is not "
		         "the one that was being written",
		         evs.n);
	hxt_events_free(&evs);
}

/* ---- fsync policies ---- */

static void record_some(int n)
{
	for (int i = 0; i < n; i++) {
		HX_POINT_WITH("fs", HX_INT("i", i));
		if (i % 10 == 0) {
			struct timespec ts = {0, 3000000};
			nanosleep(&ts, NULL);
		}
	}
}

static void test_fsync_policies(void **state)
{
	fixture *f = *state;
	struct {
		hx_fsync_policy policy;
		uint32_t every, interval;
		const char *env;
	} cases[] = {
		{HX_FSYNC_EVERY, 1, 0, NULL},
		{HX_FSYNC_EVERY, 7, 0, NULL},
		{HX_FSYNC_INTERVAL, 0, 5, NULL},
		{HX_FSYNC_NONE, 0, 0, "every:3"},
		{HX_FSYNC_NONE, 0, 0, "interval:2"},
		{HX_FSYNC_EVERY, 5, 0, "none"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char dir[600];
		snprintf(dir, sizeof dir, "%s/fsync-%zu", f->dir, i);
		hx_config cfg;
		hx_config_init(&cfg);
		cfg.dir = dir;
		cfg.fsync = cases[i].policy;
		if (cases[i].every)
			cfg.fsync_every = cases[i].every;
		if (cases[i].interval)
			cfg.fsync_interval_ms = cases[i].interval;
		if (cases[i].env)
			setenv("HARUSPEX_FSYNC", cases[i].env, 1);
		int rc = hx_init(&cfg);
		unsetenv("HARUSPEX_FSYNC");
		assert_int_equal(rc, HX_OK);
		record_some(100);
		assert_int_equal(hx_shutdown(), HX_OK);
		hxt_events evs = {0};
		hxt_read_result res;
		read_clean(dir, &evs, &res);
		assert_int_equal(evs.n, 101);
		assert_int_equal(res.clean0, 1);
		hxt_events_free(&evs);
	}
}

/* ---- environment over configuration ---- */

static uint32_t header_chunk_bytes(const char *dir)
{
	char path[1024];
	assert_int_equal(hxt_first_hx_file(dir, path, sizeof path), 0);
	size_t len = 0;
	uint8_t *data = hxt_slurp(path, &len);
	assert_non_null(data);
	assert_true(len >= HX_FILE_HEADER_BYTES);
	uint32_t cb = hx__le32(data + HX_FH_CHUNK_BYTES);
	free(data);
	return cb;
}

static void test_env_overrides(void **state)
{
	fixture *f = *state;
	char cfg_dir[600], env_dir[600];
	snprintf(cfg_dir, sizeof cfg_dir, "%s/from-config", f->dir);
	snprintf(env_dir, sizeof env_dir, "%s/from-env", f->dir);
	hx_config cfg;
	hx_config_init(&cfg);
	cfg.dir = cfg_dir;
	cfg.service = "config-service";

	/* HARUSPEX_DIR, HARUSPEX_SERVICE, HARUSPEX_CHUNK_BYTES */
	setenv("HARUSPEX_DIR", env_dir, 1);
	setenv("HARUSPEX_SERVICE", "env-service", 1);
	setenv("HARUSPEX_CHUNK_BYTES", "8192", 1);
	assert_int_equal(hx_init(&cfg), HX_OK);
	hx_point("env");
	assert_int_equal(hx_shutdown(), HX_OK);
	unsetenv("HARUSPEX_DIR");
	unsetenv("HARUSPEX_SERVICE");
	unsetenv("HARUSPEX_CHUNK_BYTES");
	struct stat st;
	assert_int_not_equal(stat(cfg_dir, &st), 0);
	hxt_events evs = {0};
	hxt_read_result res;
	read_clean(env_dir, &evs, &res);
	assert_string_equal(res.service0, "env-service");
	assert_non_null(hxt_find_name(&evs, HX_EV_POINT, "env"));
	assert_int_equal(header_chunk_bytes(env_dir), 8192);
	hxt_events_free(&evs);

	/* without the environment, the configuration counts */
	assert_int_equal(hx_init(&cfg), HX_OK);
	hx_point("cfg");
	assert_int_equal(hx_shutdown(), HX_OK);
	read_clean(cfg_dir, &evs, &res);
	assert_string_equal(res.service0, "config-service");
	assert_int_equal(header_chunk_bytes(cfg_dir), HX_CHUNK_DEFAULT);
	hxt_events_free(&evs);

	/* HARUSPEX_SINK=none over a file sink: nothing written */
	hxt_rmrf(cfg_dir);
	setenv("HARUSPEX_SINK", "none", 1);
	assert_int_equal(hx_init(&cfg), HX_OK);
	hx_point("none");
	assert_int_equal(hx_shutdown(), HX_OK);
	unsetenv("HARUSPEX_SINK");
	assert_int_not_equal(stat(cfg_dir, &st), 0);

	/* HARUSPEX_MAX_FILE_BYTES and HARUSPEX_MAX_FILES: rotation with deletion */
	char rot_dir[600];
	snprintf(rot_dir, sizeof rot_dir, "%s/rotating", f->dir);
	hx_config_init(&cfg);
	cfg.dir = rot_dir;
	cfg.chunk_bytes = 4096;
	setenv("HARUSPEX_MAX_FILE_BYTES", "100k", 1);
	setenv("HARUSPEX_MAX_FILES", "3", 1);
	assert_int_equal(hx_init(&cfg), HX_OK);
	for (int i = 0; i < rotation_points; i++)
		HX_POINT_WITH("rot", HX_INT("i", i), HX_STR("pad", "0123456789"));
	assert_int_equal(hx_shutdown(), HX_OK);
	unsetenv("HARUSPEX_MAX_FILE_BYTES");
	unsetenv("HARUSPEX_MAX_FILES");
	int files;
	long maxseq = max_file_seq(rot_dir, &files);
	assert_int_equal(files, 3);
	assert_true(maxseq >= 4);

	/* HARUSPEX_QUIET=1: a failing sink says nothing */
	char log[600], bad[700];
	snprintf(log, sizeof log, "%s/stderr.txt", f->dir);
	snprintf(bad, sizeof bad, "%s/x", log);
	FILE *fp = fopen(log, "w");
	assert_non_null(fp);
	fclose(fp);
	hx_config_init(&cfg);
	cfg.dir = bad; /* under a regular file */
	setenv("HARUSPEX_QUIET", "1", 1);
	fflush(stderr);
	int saved = dup(2);
	int fd = open(log, O_WRONLY | O_TRUNC);
	assert_true(fd >= 0 && saved >= 0);
	dup2(fd, 2);
	close(fd);
	int rc = hx_init(&cfg);
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	unsetenv("HARUSPEX_QUIET");
	assert_int_equal(rc, HX_ESINK);
	assert_int_equal(hx_shutdown(), HX_OK);
	assert_int_equal(stat(log, &st), 0);
	assert_int_equal(st.st_size, 0);
}

/* A program built against an older, smaller hx_config: the fields it does not have take their
 * defaults, whatever lies in memory after its struct. */
static void test_config_from_older_header(void **state)
{
	fixture *f = *state;
	hx_config cfg;
	hx_config_init(&cfg);
	cfg.dir = f->dir;
	cfg.size = offsetof(hx_config, chunk_bytes); /* the struct ended before chunk_bytes */
	cfg.chunk_bytes = 1000;                       /* not a valid size: must not be looked at */
	cfg.quiet = 12345;
	assert_int_equal(hx_init(&cfg), HX_OK);
	hx_point("old-abi");
	assert_int_equal(hx_shutdown(), HX_OK);
	hxt_events evs = {0};
	hxt_read_result res;
	read_clean(f->dir, &evs, &res);
	assert_non_null(hxt_find_name(&evs, HX_EV_POINT, "old-abi"));
	assert_int_equal(header_chunk_bytes(f->dir), HX_CHUNK_DEFAULT);
	hxt_events_free(&evs);
}

/* ---- tracing started by the environment alone ---- */

/* Child modes, run as this program exec'd with HARUSPEX_* set by the test. */
static int autostart_child(const char *mode, const char *arg)
{
	if (!hx_enabled()) {
		fprintf(stderr, "autostart: tracing is not on at main()\n");
		return 1;
	}
	if (!strcmp(mode, "--autostart")) {
		/* no hx_init() at all, and no hx_shutdown(): exit with the file unclosed */
		hx_point("auto-point");
		return 0;
	}
	/* --autostart-init: the program's own hx_init() replaces the environment's start */
	hx_point("before-init");
	hx_config cfg;
	hx_config_init(&cfg);
	cfg.dir = arg;
	int rc = hx_init(&cfg);
	if (rc != HX_OK) {
		fprintf(stderr, "autostart: hx_init() after an environment start returned %d\n", rc);
		return 1;
	}
	hx_point("after-init");
	if (hx_init(&cfg) != HX_ESTATE) {
		fprintf(stderr, "autostart: a second hx_init() was accepted\n");
		return 1;
	}
	return hx_shutdown() == HX_OK ? 0 : 1;
}

static int run_self(const char *cwd, const char *const env[], const char *mode, const char *arg)
{
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		if (chdir(cwd) != 0)
			_exit(2);
		for (size_t i = 0; env[i]; i += 2)
			setenv(env[i], env[i + 1], 1);
		execl("/proc/self/exe", "test_sinks", mode, arg, (char *)NULL);
		_exit(3);
	}
	int status;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static void test_autostart_from_environment(void **state)
{
	fixture *f = *state;
	char dir[600];
	snprintf(dir, sizeof dir, "%s/auto", f->dir);
	const char *const env[] = {"HARUSPEX_DIR", dir, "HARUSPEX_SERVICE", "auto-service", NULL};
	assert_int_equal(run_self(f->dir, env, "--autostart", ""), 0);
	hxt_events evs = {0};
	hxt_read_result res;
	read_clean(dir, &evs, &res);
	assert_string_equal(res.service0, "auto-service");
	assert_int_equal(res.clean0, 0); /* the program never shut down */
	assert_non_null(hxt_find_name(&evs, HX_EV_POINT, "auto-point"));
	assert_int_equal(evs.n, 2);
	hxt_events_free(&evs);

	/* HARUSPEX_SINK alone starts tracing into ./haruspex-traces; hx_init() then takes over */
	char own[600];
	snprintf(own, sizeof own, "%s/own", f->dir);
	const char *const env2[] = {"HARUSPEX_SINK", "file", NULL};
	assert_int_equal(run_self(f->dir, env2, "--autostart-init", own), 0);
	char def[600];
	snprintf(def, sizeof def, "%s/haruspex-traces", f->dir);
	read_clean(def, &evs, &res);
	assert_non_null(hxt_find_name(&evs, HX_EV_POINT, "before-init"));
	assert_null(hxt_find_name(&evs, HX_EV_POINT, "after-init"));
	assert_int_equal(res.clean0, 1);
	hxt_events_free(&evs);
	read_clean(own, &evs, &res);
	assert_non_null(hxt_find_name(&evs, HX_EV_POINT, "after-init"));
	assert_null(hxt_find_name(&evs, HX_EV_POINT, "before-init"));
	hxt_events_free(&evs);

	/* a bad environment value: tracing stays off and the program runs (exit 1 from the check) */
	const char *const env3[] = {"HARUSPEX_SINK", "bogus", NULL};
	assert_int_equal(run_self(f->dir, env3, "--autostart", ""), 1);
}

int main(int argc, char **argv)
{
	if (argc > 1 && !strncmp(argv[1], "--autostart", 11))
		return autostart_child(argv[1], argc > 2 ? argv[2] : "");
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_stderr_sink, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stderr_sink_threads, setup, teardown),
		cmocka_unit_test_setup_teardown(test_callback_sink, setup, teardown),
		cmocka_unit_test_setup_teardown(test_none_sink, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rotation, setup, teardown),
		cmocka_unit_test_setup_teardown(test_max_files, setup, teardown),
		cmocka_unit_test_setup_teardown(test_max_files_one, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fsync_policies, setup, teardown),
		cmocka_unit_test_setup_teardown(test_env_overrides, setup, teardown),
		cmocka_unit_test_setup_teardown(test_config_from_older_header, setup, teardown),
		cmocka_unit_test_setup_teardown(test_autostart_from_environment, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
