/*
 * join.c - reading the files of several processes on several hosts as one input.
 *
 * A client and a server process (forked children, each with its own hx_init() and its own
 * directory) exchange requests and replies over pipes: the client records hx_request() and sends
 * the context's raw bytes, the server records hx_request_received() and answers with hx_reply(),
 * the client records hx_reply_received(). HARUSPEX_HOST gives them different host names, so each
 * is a clock domain. Their clocks are really one (same machine); the test then skews the server's
 * by rewriting the realtime anchor in its file header (offset 72, CRC at 100 recomputed), which
 * moves every time of that process by exactly the skew.
 *
 * Checked:
 *   - the offset recovered is within the measured latency bound of the injected skew (the NTP
 *     midpoint errs by at most half the difference of the two directions' latencies, which is
 *     below the shortest round trip the client saw), for a skew forwards and one backwards;
 *   - after alignment no effect precedes its cause, time_orig_ns keeps the recorded times (those
 *     of the server's file read alone), and the offsets and violations are reported;
 *   - `hx stats --json` and `hx dump --json` over both directories say the same (parsed by python3);
 *   - a dangling cause (the client's file deleted) is reported, not fatal;
 *   - many files given as a list of paths (and a directory that repeats them) are joined once;
 *   - one host: nothing is read for alignment and no time moves.
 */
#include "../hxtest.h"

#include "format/format.h"
#include "format/traces.h"

#include <stdarg.h>
#include <setjmp.h>
#include <cmocka.h>
#include <signal.h>
#include <sys/wait.h>

#define NREQ 40
#define EXTRA_POINTS 200 /* the client has more events: its host is the reference */

typedef struct pair_run {
	char root[512], dir_a[600], dir_b[600];
	int64_t skew_ns;
} pair_run;

static int read_full(int fd, void *buf, size_t n)
{
	size_t got = 0;
	while (got < n) {
		ssize_t k = read(fd, (char *)buf + got, n - got);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			return -1;
		got += (size_t)k;
	}
	return 0;
}

static int write_full(int fd, const void *buf, size_t n)
{
	return write(fd, buf, n) == (ssize_t)n ? 0 : -1;
}

static void start_tracing(const char *dir, const char *host)
{
	setenv("HARUSPEX_HOST", host, 1);
	if (hxt_start_file(dir, 0) != HX_OK)
		_exit(3);
}

static void client(int wfd, int rfd, const char *dir, const char *host)
{
	start_tracing(dir, host);
	hx_trace_begin("join-root");
	for (int i = 0; i < EXTRA_POINTS; i++)
		hx_point("work");
	for (int i = 0; i < NREQ; i++) {
		hx_context req = hx_request("req");
		hx_context rep;
		if (write_full(wfd, &req, sizeof req) || read_full(rfd, &rep, sizeof rep))
			_exit(4);
		hx_reply_received("rep", &rep);
	}
	hx_trace_end();
	hx_shutdown();
	_exit(0);
}

static void server(int wfd, int rfd, const char *dir, const char *host)
{
	start_tracing(dir, host);
	for (int i = 0; i < NREQ; i++) {
		hx_context req;
		if (read_full(rfd, &req, sizeof req))
			_exit(4);
		if (i == 0)
			hx_trace_continue(&req, "serve");
		hx_request_received("req", &req);
		hx_context rep = hx_reply("rep");
		if (write_full(wfd, &rep, sizeof rep))
			_exit(4);
	}
	hx_shutdown();
	_exit(0);
}

/* Run the client on host_a and the server on host_b, into r->dir_a and r->dir_b. */
static void run_pair(pair_run *r, const char *host_a, const char *host_b)
{
	assert_int_equal(hxt_mkdtemp(r->root, sizeof r->root, "join"), 0);
	snprintf(r->dir_a, sizeof r->dir_a, "%s/a", r->root);
	snprintf(r->dir_b, sizeof r->dir_b, "%s/b", r->root);
	int to_server[2], to_client[2];
	assert_int_equal(pipe(to_server), 0);
	assert_int_equal(pipe(to_client), 0);
	pid_t a = fork();
	assert_true(a >= 0);
	if (a == 0) {
		close(to_server[0]);
		close(to_client[1]);
		client(to_server[1], to_client[0], r->dir_a, host_a);
	}
	pid_t b = fork();
	assert_true(b >= 0);
	if (b == 0) {
		close(to_server[1]);
		close(to_client[0]);
		server(to_client[1], to_server[0], r->dir_b, host_b);
	}
	close(to_server[0]);
	close(to_server[1]);
	close(to_client[0]);
	close(to_client[1]);
	int st;
	assert_int_equal(waitpid(a, &st, 0), a);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	assert_int_equal(waitpid(b, &st, 0), b);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	r->skew_ns = 0;
}

/* Move every time of the process that wrote the (single) file in dir by `skew` ns. */
static void skew_dir(pair_run *r, const char *dir, int64_t skew)
{
	char path[1024];
	assert_int_equal(hxt_first_hx_file(dir, path, sizeof path), 0);
	FILE *f = fopen(path, "r+b");
	assert_non_null(f);
	uint8_t h[HX_FH_CRC + 4];
	assert_int_equal(fread(h, 1, sizeof h, f), sizeof h);
	uint64_t real = hx__le64(h + HX_FH_ANCHOR_REAL);
	hx__put_le64(h + HX_FH_ANCHOR_REAL, real + (uint64_t)skew);
	uint8_t c[HX_FH_CRC];
	memcpy(c, h, sizeof c);
	memset(c + HX_FH_FLAGS, 0, 4);
	memset(c + HX_FH_INDEX_OFFSET, 0, HX_FH_CRC - HX_FH_INDEX_OFFSET);
	hx__put_le32(h + HX_FH_CRC, hx__crc32c(0, c, sizeof c));
	assert_int_equal(fseek(f, 0, SEEK_SET), 0);
	assert_int_equal(fwrite(h, 1, sizeof h, f), sizeof h);
	assert_int_equal(fclose(f), 0);
	r->skew_ns += skew;
}

/* Read paths (aligned when `align`) into *ev; the reader is returned open for its reports. */
static hx_reader *read_paths(const char *const *paths, size_t n, int align, hxt_events *ev)
{
	hx_reader *rd = NULL;
	assert_int_equal(hx_reader_open_paths(&rd, paths, n, HX_ORDER_TIME), HX_OK);
	if (align)
		assert_int_equal(hx_reader_align_clocks(rd), HX_OK);
	hx_event e;
	int rc;
	uint64_t last = 0;
	while ((rc = hx_reader_next(rd, &e)) == HX_OK) {
		assert_true(e.time_ns >= last); /* time order is by aligned time */
		last = e.time_ns;
		hxt_event *x = hxt_events_push(ev, &e);
		x->process = hx_reader_event_process(rd);
	}
	assert_int_equal(rc, HX_EOF);
	return rd;
}

/* Effects before their cause, among the causes found in ev; *linked receives those found. */
static size_t effects_before_cause(const hxt_events *ev, size_t *linked)
{
	size_t bad = 0;
	*linked = 0;
	for (size_t i = 0; i < ev->n; i++) {
		const hx_event *e = &ev->v[i].ev;
		for (size_t k = 0; k < e->ncauses; k++) {
			const hxt_event *c = hxt_find(ev, e->causes[k].entity_id, e->causes[k].seq);
			if (!c)
				continue;
			(*linked)++;
			bad += e->time_ns < c->ev.time_ns;
		}
	}
	return bad;
}

static const hx_clock_offset *host_named(hx_reader *rd, const char *name)
{
	const hx_clock_offset *h;
	size_t n = hx_reader_clock_offsets(rd, &h);
	for (size_t i = 0; i < n; i++)
		if (!strcmp(h[i].host, name))
			return &h[i];
	return NULL;
}

/* The shortest round trip the client saw (request to reply received, on its own clock). */
static uint64_t min_round_trip(const hxt_events *ev)
{
	uint64_t best = UINT64_MAX;
	for (size_t i = 0; i < ev->n; i++) {
		const hx_event *e = &ev->v[i].ev;
		if (e->kind != HX_EV_EFFECT || e->interaction != HX_IA_REPLY || e->ncauses != 1)
			continue;
		/* the reply's cause is the server's reply; the request is the client's event before the
		 * reply received on the same entity: seq - 1 */
		const hxt_event *req = hxt_find(ev, e->entity_id, e->seq - 1);
		assert_non_null(req);
		uint64_t rtt = e->time_orig_ns - req->ev.time_orig_ns;
		if (rtt < best)
			best = rtt;
	}
	return best;
}

static void run_cli(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void run_cli(const char *fmt, ...)
{
	char cmd[4096];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(cmd, sizeof cmd, fmt, ap);
	va_end(ap);
	int st = system(cmd);
	if (st != 0)
		fprintf(stderr, "failed (%d): %s\n", st, cmd);
	assert_int_equal(st, 0);
}

static void check_skew(int64_t skew)
{
	pair_run r;
	run_pair(&r, "join-host-a", "join-host-b");
	const char *paths[] = {r.dir_a, r.dir_b};

	/* the server's times as recorded, before the skew: for the round-trip bound below */
	hxt_events plain = {0};
	hx_reader *rd = read_paths(paths, 2, 1, &plain);
	hx_clock_report cr;
	hx_reader_clock_report(rd, &cr);
	assert_int_equal(cr.violations_after, 0);
	hx_reader_close(rd);
	uint64_t rtt = min_round_trip(&plain);
	assert_true(rtt > 0 && rtt < UINT64_MAX);

	skew_dir(&r, r.dir_b, skew);

	/* the server alone: its times as recorded (skewed), the reference for time_orig_ns */
	hxt_events alone = {0};
	const char *bpath[] = {r.dir_b};
	hx_reader_close(read_paths(bpath, 1, 1, &alone));

	hxt_events ev = {0};
	rd = read_paths(paths, 2, 1, &ev);
	hx_reader_clock_report(rd, &cr);
	assert_true(cr.aligned && cr.read_input);
	assert_int_equal(cr.hosts, 2);
	assert_int_equal(cr.pairs, 2 * NREQ + 1); /* requests, replies, the server's trace join */
	assert_int_equal(cr.violations_after, 0);
	/* a forward skew puts every reply before its receipt, a backward one every request */
	assert_int_equal(cr.violations_before, skew > 0 ? NREQ : NREQ + 1);
	assert_int_equal(cr.unresolved, 0);
	const hx_clock_offset *ha = host_named(rd, "join-host-a"), *hb = host_named(rd, "join-host-b");
	assert_non_null(ha);
	assert_non_null(hb);
	assert_true(ha->reference);
	assert_int_equal(ha->offset_ns, 0);
	assert_false(hb->refused);
	int64_t err = hb->offset_ns + skew;
	fprintf(stderr, "skew %+lld ns: offset found %+lld ns, error %lld ns, shortest round trip %llu ns\n",
	        (long long)skew, (long long)hb->offset_ns, (long long)err, (unsigned long long)rtt);
	assert_true(err <= (int64_t)rtt && err >= -(int64_t)rtt);
	assert_true(hb->has_lower && hb->has_upper);
	assert_true(hb->lower_ns <= hb->offset_ns && hb->offset_ns <= hb->upper_ns);
	assert_int_equal(hb->pairs, 2 * NREQ + 1);

	size_t linked;
	assert_int_equal(effects_before_cause(&ev, &linked), 0);
	assert_int_equal(linked, 2 * NREQ + 1);

	/* time_orig_ns: the client's times did not move; the server's are its file's, read alone */
	size_t moved = 0;
	for (size_t i = 0; i < ev.n; i++) {
		const hx_event *e = &ev.v[i].ev;
		const hxt_event *o = hxt_find(&alone, e->entity_id, e->seq);
		if (!o) {
			assert_int_equal(e->time_orig_ns, e->time_ns);
			continue;
		}
		assert_int_equal(e->time_orig_ns, o->ev.time_ns);
		assert_int_equal(o->ev.time_orig_ns, o->ev.time_ns);
		assert_int_equal((int64_t)(e->time_ns - e->time_orig_ns), hb->offset_ns);
		moved++;
	}
	assert_int_equal(moved, alone.n);
	int64_t off_b = hb->offset_ns;
	hx_reader_close(rd);

	/* the tools say the same */
	const char *hx = getenv("HX");
	if (hx && *hx) {
		run_cli("'%s' stats --json '%s' '%s' > '%s/stats.json'", hx, r.dir_a, r.dir_b, r.root);
		run_cli("'%s' dump --json '%s' '%s' > '%s/dump.json' 2>/dev/null", hx, r.dir_a, r.dir_b, r.root);
		run_cli("'%s' stats '%s' '%s' > '%s/stats.txt'", hx, r.dir_a, r.dir_b, r.root);
		run_cli("grep -q '^clocks ' '%s/stats.txt' && grep -q join-root '%s/stats.txt'", r.root, r.root);
		run_cli("python3 - '%s' %lld %zu %d <<'EOF'\n"
		        "import json, sys\n"
		        "root, off, moved, nreq = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])\n"
		        "s = json.load(open(root + '/stats.json'))\n"
		        "c = s['clock']\n"
		        "assert c['aligned'] and c['hosts'] == 2 and c['violations_after'] == 0, c\n"
		        "b = [h for h in c['offsets'] if h['host'] == 'join-host-b'][0]\n"
		        "assert b['offset_ns'] == off, (b, off)\n"
		        "assert s['traces_total'] == 1, s['traces_total']\n"
		        "t = s['traces'][0]\n"
		        "assert t['root'] == 'join-root' and t['processes'] == 2 and t['hosts'] == 2, t\n"
		        "assert t['entities'] == 2 and t['linked'] == 2 * nreq + 1 and t['dangling'] == 0, t\n"
		        "n = 0\n"
		        "for line in open(root + '/dump.json'):\n"
		        "    o = json.loads(line)\n"
		        "    if 'time_orig_ns' in o:\n"
		        "        assert o['time_ns'] - o['time_orig_ns'] == off, o\n"
		        "        n += 1\n"
		        "assert n == moved, (n, moved)\n"
		        "EOF",
		        r.root, (long long)off_b, moved, NREQ);
	}
	hxt_events_free(&plain);
	hxt_events_free(&alone);
	hxt_events_free(&ev);
	hxt_rmrf(r.root);
}

static void test_skew_forward(void **state)
{
	(void)state;
	check_skew(3000000000ll);
}

static void test_skew_backward(void **state)
{
	(void)state;
	check_skew(-2500000000ll);
}

/* The client's file deleted: the server's causes dangle, and that is a report, not an error. */
static void test_dangling(void **state)
{
	(void)state;
	pair_run r;
	run_pair(&r, "join-host-a", "join-host-b");
	char path[1024];
	assert_int_equal(hxt_first_hx_file(r.dir_a, path, sizeof path), 0);
	assert_int_equal(unlink(path), 0);
	assert_int_equal(rmdir(r.dir_a), 0);

	const char *paths[] = {r.dir_b};
	hx_reader *rd = NULL;
	assert_int_equal(hx_reader_open_paths(&rd, paths, 1, HX_ORDER_STREAM), HX_OK);
	assert_int_equal(hx_reader_align_clocks(rd), HX_OK);
	hx__traces tr;
	hx__traces_init(&tr, rd);
	hx_event e;
	int rc;
	while ((rc = hx_reader_next(rd, &e)) == HX_OK)
		assert_int_equal(hx__traces_event(&tr, &e, hx_reader_event_process(rd)), HX_OK);
	assert_int_equal(rc, HX_EOF);
	assert_int_equal(hx__traces_finish(&tr), HX_OK);
	assert_int_equal(tr.totals.traces, 1);
	assert_int_equal(tr.totals.dangling, NREQ + 1); /* the trace join and every request */
	assert_int_equal(tr.totals.linked, 0);
	assert_int_equal(tr.v[0].dangling, NREQ + 1);
	assert_null(tr.v[0].root); /* the root was in the deleted file */
	hx__traces_free(&tr);
	hx_reader_info info;
	hx_reader_info_get(rd, &info);
	assert_false(info.damaged);
	hx_reader_close(rd);

	const char *hx = getenv("HX");
	if (hx && *hx) {
		run_cli("'%s' stats '%s' > '%s/stats.txt'", hx, r.dir_b, r.root);
		run_cli("grep -q '%d dangling' '%s/stats.txt'", NREQ + 1, r.root);
	}
	hxt_rmrf(r.root);
}

/* Files named one by one, plus a directory that names some of them again: read once each. */
static void test_many_files(void **state)
{
	(void)state;
	pair_run runs[3];
	const char *paths[8];
	char files[6][1024];
	size_t n = 0;
	for (int i = 0; i < 3; i++) {
		char ha[32], hb[32];
		snprintf(ha, sizeof ha, "many-%d-a", i);
		snprintf(hb, sizeof hb, "many-%d-b", i);
		run_pair(&runs[i], ha, hb);
		assert_int_equal(hxt_first_hx_file(runs[i].dir_a, files[2 * i], sizeof files[0]), 0);
		assert_int_equal(hxt_first_hx_file(runs[i].dir_b, files[2 * i + 1], sizeof files[0]), 0);
		paths[n++] = files[2 * i];
		paths[n++] = files[2 * i + 1];
	}
	paths[n++] = runs[0].dir_a; /* the same file again, through its directory */

	hxt_events ev = {0};
	hx_reader *rd = read_paths(paths, n, 1, &ev);
	hx_reader_info info;
	hx_reader_info_get(rd, &info);
	assert_int_equal(info.files, 6);
	assert_false(info.damaged);
	assert_int_equal(hx_reader_processes(rd), 6);
	hx_clock_report cr;
	hx_reader_clock_report(rd, &cr);
	assert_int_equal(cr.hosts, 6);
	assert_int_equal(cr.pairs, 3 * (2 * NREQ + 1));
	assert_int_equal(cr.violations_after, 0);
	size_t linked;
	assert_int_equal(effects_before_cause(&ev, &linked), 0);
	assert_int_equal(linked, 3 * (2 * NREQ + 1));
	size_t ents;
	assert_int_equal(hxt_check_entities(&ev, 1, 0, UINT64_MAX, &ents), 0);
	assert_int_equal(ents, 6);
	hx_reader_close(rd);
	hxt_events_free(&ev);

	/* a path that does not exist fails the open, as for one path */
	const char *bad[] = {runs[0].dir_a, "/nonexistent/hx-join"};
	rd = NULL;
	assert_int_equal(hx_reader_open_paths(&rd, bad, 2, HX_ORDER_STREAM), HX_ENOENT);
	assert_null(rd);
	assert_int_equal(hx_reader_open_paths(&rd, bad, 0, HX_ORDER_STREAM), HX_EINVAL);
	for (int i = 0; i < 3; i++)
		hxt_rmrf(runs[i].root);
}

/* Both processes on one host: nothing is read for alignment, and no time moves, even skewed. */
static void test_single_host(void **state)
{
	(void)state;
	pair_run r;
	run_pair(&r, "join-one-host", "join-one-host");
	skew_dir(&r, r.dir_b, 1000000000ll);
	const char *paths[] = {r.dir_a, r.dir_b};
	hxt_events ev = {0};
	hx_reader *rd = read_paths(paths, 2, 1, &ev);
	hx_clock_report cr;
	hx_reader_clock_report(rd, &cr);
	assert_true(cr.aligned);
	assert_false(cr.read_input);
	assert_int_equal(cr.hosts, 1);
	const hx_clock_offset *h;
	assert_int_equal(hx_reader_clock_offsets(rd, &h), 1);
	assert_int_equal(h[0].offset_ns, 0);
	assert_int_equal(h[0].processes, 2);
	assert_int_equal(hx_reader_process_host(rd, 0), 0);
	assert_int_equal(hx_reader_process_host(rd, 1), 0);
	assert_int_equal(hx_reader_process_host(rd, 2), SIZE_MAX);
	for (size_t i = 0; i < ev.n; i++)
		assert_int_equal(ev.v[i].ev.time_orig_ns, ev.v[i].ev.time_ns);
	assert_int_equal(hx_reader_align_clocks(rd), HX_ESTATE);
	hx_reader_close(rd);
	hxt_events_free(&ev);
	hxt_rmrf(r.root);
}

int main(void)
{
	signal(SIGPIPE, SIG_IGN);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_skew_forward),
		cmocka_unit_test(test_skew_backward),
		cmocka_unit_test(test_dangling),
		cmocka_unit_test(test_many_files),
		cmocka_unit_test(test_single_host),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
