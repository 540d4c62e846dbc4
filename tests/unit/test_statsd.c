/*
 * test_statsd.c - metrics to statsd (src/format/statsd_line.h, src/lib/statsdsink.h, hx statsd):
 * the line format and name sanitising, datagram packing, URLs, and the engine, the library's
 * statsd:// sink and `hx statsd` sending to a UDP socket of this test, which checks the exact
 * lines: timers, counters, errors, gauges, sampling rates, datagram splitting, a port where
 * nothing listens (no send waits), a host that does not resolve, fork(), and an entity that moves
 * between threads.
 */
#include "../hxtest.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <math.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include <cmocka.h>

#include "format/statsd_line.h"
#include "lib/statsdsink.h"

typedef hxt_fixture fixture;

static int setup(void **state)
{
	return hxt_fixture_setup(state, "statsd");
}

static int teardown(void **state)
{
	if (hx_enabled())
		hx_shutdown();
	unsetenv("HARUSPEX_SINK");
	unsetenv("HARUSPEX_DIR");
	return hxt_fixture_teardown(state);
}

/* ---- the receiving side: a UDP socket on loopback ---- */

typedef struct rx {
	int fd;
	int port;
	hxt_buf text;      /* every line received, each followed by '\n' */
	size_t lines, dgrams;
	size_t max_dgram;  /* bytes of the largest datagram */
} rx;

static void rx_open(rx *r)
{
	memset(r, 0, sizeof *r);
	r->fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	assert_true(r->fd >= 0);
	int big = 8 << 20;
	setsockopt(r->fd, SOL_SOCKET, SO_RCVBUF, &big, sizeof big);
	struct sockaddr_in a;
	memset(&a, 0, sizeof a);
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(r->fd, (struct sockaddr *)&a, sizeof a), 0);
	socklen_t al = sizeof a;
	assert_int_equal(getsockname(r->fd, (struct sockaddr *)&a, &al), 0);
	r->port = ntohs(a.sin_port);
}

static void rx_close(rx *r)
{
	close(r->fd);
	free(r->text.p);
}

/* Receive until `want` lines are in (then wait_after_ms more, for lines that should not come),
 * or timeout_ms passed. Returns the lines received in all. */
static size_t rx_wait(rx *r, size_t want, int timeout_ms, int wait_after_ms)
{
	uint64_t deadline = hxt_realtime_ns() + (uint64_t)timeout_ms * 1000000u, extra = 0;
	for (;;) {
		uint64_t now = hxt_realtime_ns();
		if (r->lines >= want && !extra)
			extra = now + (uint64_t)wait_after_ms * 1000000u;
		uint64_t until = extra ? extra : deadline;
		if (now >= until)
			break;
		struct pollfd p = {r->fd, POLLIN, 0};
		if (poll(&p, 1, (int)((until - now) / 1000000u) + 1) <= 0)
			continue;
		char buf[70000];
		ssize_t n = recv(r->fd, buf, sizeof buf, 0);
		if (n <= 0)
			continue;
		assert_true(buf[n - 1] != '\n'); /* lines are separated, not terminated */
		r->dgrams++;
		if ((size_t)n > r->max_dgram)
			r->max_dgram = (size_t)n;
		hxt_buf_printf(&r->text, "%.*s\n", (int)n, buf);
		for (ssize_t i = 0; i < n; i++)
			r->lines += buf[i] == '\n';
		r->lines++;
	}
	return r->lines;
}

static size_t count_lines(const char *text, const char *line)
{
	size_t n = 0, l = strlen(line);
	for (const char *p = text; p && *p;) {
		const char *e = strchr(p, '\n');
		size_t len = e ? (size_t)(e - p) : strlen(p);
		n += len == l && !memcmp(p, line, l);
		p = e ? e + 1 : NULL;
	}
	return n;
}

/* Lines that start with `start` (a name and ':'). */
static size_t count_prefix(const char *text, const char *start)
{
	size_t n = 0, l = strlen(start);
	for (const char *p = text; p && *p;) {
		n += !strncmp(p, start, l);
		const char *e = strchr(p, '\n');
		p = e ? e + 1 : NULL;
	}
	return n;
}

/* ---- names and lines ---- */

static void name_is(const char *prefix, const char *in, size_t n, const char *suffix,
                    const char *want)
{
	char out[HX__STATSD_NAME_MAX + 1];
	size_t len = hx__statsd_name(out, prefix, in, n, suffix);
	assert_string_equal(out, want);
	assert_int_equal(len, strlen(want));
}

static void test_names(void **state)
{
	(void)state;
	name_is(NULL, "db.query", 8, NULL, "db.query");
	name_is(NULL, "Az09._-", 7, NULL, "Az09._-");
	/* the protocol's separators, whitespace and control bytes */
	name_is(NULL, "a:b|c@d#e", 9, NULL, "a_b_c_d_e");
	name_is(NULL, "line\nbreak\r\tx y", 15, NULL, "line_break__x_y");
	name_is(NULL, "nul\0byte", 8, NULL, "nul_byte");
	name_is(NULL, "a,b=c;d", 7, NULL, "a_b_c_d");
	/* '/' as Etsy's statsd maps it */
	name_is(NULL, "GET /api/users", 14, NULL, "GET_-api-users");
	/* one '_' per UTF-8 character; a broken sequence is one per byte */
	name_is(NULL, "caf\xc3\xa9", 5, NULL, "caf_");
	name_is(NULL, "\xe2\x82\xac" "5", 4, NULL, "_5");
	name_is(NULL, "\xf0\x9f\x98\x80!", 5, NULL, "__");
	name_is(NULL, "x\xff\xfey", 4, NULL, "x__y");
	name_is(NULL, "\xe2\x82", 2, NULL, "__");
	name_is(NULL, "", 0, NULL, "unnamed");
	name_is("app.", "", 0, ".error", "app.unnamed.error");
	name_is("app.", "db query", 8, ".error", "app.db_query.error");
	/* bounded: the name is cut, the prefix and the suffix stay whole */
	char longname[400];
	memset(longname, 'a', sizeof longname);
	char out[HX__STATSD_NAME_MAX + 1];
	assert_int_equal(hx__statsd_name(out, "p.", longname, sizeof longname, NULL), HX__STATSD_NAME_MAX);
	assert_true(!strncmp(out, "p.aaa", 5) && strspn(out + 2, "a") == HX__STATSD_NAME_MAX - 2);
	assert_int_equal(hx__statsd_name(out, "p.", longname, sizeof longname, ".error"),
	                 HX__STATSD_NAME_MAX);
	assert_string_equal(out + HX__STATSD_NAME_MAX - 6, ".error");
	/* a multi-byte character at the cut still turns into one byte */
	longname[HX__STATSD_NAME_MAX - 3] = (char)0xc3;
	longname[HX__STATSD_NAME_MAX - 2] = (char)0xa9;
	assert_int_equal(hx__statsd_name(out, "p.", longname, sizeof longname, NULL), HX__STATSD_NAME_MAX);
	for (size_t i = 0; out[i]; i++)
		assert_true(hx__statsd_name_char((unsigned char)out[i]));
}

static void line_is(size_t n, const char *line, const char *want)
{
	assert_string_equal(line, want);
	assert_int_equal(n, strlen(want));
}

static void test_lines(void **state)
{
	(void)state;
	char l[HX__STATSD_LINE_MAX];
	line_is(hx__statsd_timer(l, "t", 1500000, 0), l, "t:1.5|ms");
	line_is(hx__statsd_timer(l, "t", 2000000, 0), l, "t:2|ms");
	line_is(hx__statsd_timer(l, "t", 1, 0), l, "t:0.000001|ms");
	line_is(hx__statsd_timer(l, "t", 0, 0), l, "t:0|ms");
	line_is(hx__statsd_timer(l, "t", 123456789012ull, 0), l, "t:123456.789012|ms");
	line_is(hx__statsd_timer(l, "t", 1230000, 0), l, "t:1.23|ms");
	line_is(hx__statsd_timer(l, "t", 1500000, 0.01), l, "t:1.5|ms|@0.01");
	line_is(hx__statsd_timer(l, "t", 1500000, 1.0), l, "t:1.5|ms");
	line_is(hx__statsd_timer(l, "t", 1500000, 1.0 / 3), l, "t:1.5|ms|@0.3333333333333333");
	line_is(hx__statsd_count(l, "p", 1, 0), l, "p:1|c");
	line_is(hx__statsd_count(l, "p", 1, 0.25), l, "p:1|c|@0.25");
	line_is(hx__statsd_count(l, "p", 1, -1), l, "p:1|c");
	line_is(hx__statsd_count(l, "p", 1, NAN), l, "p:1|c");
	line_is(hx__statsd_gauge_int(l, "g", 42), l, "g:42|g");
	line_is(hx__statsd_gauge_int(l, "g", 0), l, "g:0|g");
	/* a leading '-' is a decrement to statsd: zero first, in the same packet */
	line_is(hx__statsd_gauge_int(l, "g", -5), l, "g:0|g\ng:-5|g");
	line_is(hx__statsd_gauge_int(l, "g", INT64_MIN), l, "g:0|g\ng:-9223372036854775808|g");
	line_is(hx__statsd_gauge_double(l, "g", 2.5), l, "g:2.5|g");
	line_is(hx__statsd_gauge_double(l, "g", 0.1), l, "g:0.1|g");
	line_is(hx__statsd_gauge_double(l, "g", 3.0), l, "g:3|g");
	line_is(hx__statsd_gauge_double(l, "g", 1e20), l, "g:1e+20|g");
	line_is(hx__statsd_gauge_double(l, "g", -0.0), l, "g:0|g");
	line_is(hx__statsd_gauge_double(l, "g", -1.5), l, "g:0|g\ng:-1.5|g");
	assert_int_equal(hx__statsd_gauge_double(l, "g", NAN), 0);
	assert_int_equal(hx__statsd_gauge_double(l, "g", INFINITY), 0);
	assert_int_equal(hx__statsd_gauge_double(l, "g", -INFINITY), 0);
	/* every double reads back as itself */
	char d[40];
	const double vals[] = {0.1 + 0.2, 1.0 / 3, 6.02214076e23, 5e-324, -1.7976931348623157e308};
	for (size_t i = 0; i < sizeof vals / sizeof vals[0]; i++) {
		assert_true(hx__statsd_double(d, sizeof d, vals[i]) > 0);
		assert_true(strtod(d, NULL) == vals[i]);
	}
	/* the longest line fits */
	char name[HX__STATSD_NAME_MAX + 1];
	memset(name, 'n', HX__STATSD_NAME_MAX);
	name[HX__STATSD_NAME_MAX] = '\0';
	size_t n = hx__statsd_gauge_double(l, name, -1.7976931348623157e308);
	assert_int_equal(n, strlen(l));
	assert_non_null(strstr(l, "|g\n"));
	const char *tail = ":-1.7976931348623157e+308|g";
	assert_string_equal(l + n - strlen(tail), tail);
	n = hx__statsd_timer(l, name, UINT64_MAX, 1.0 / 3);
	tail = ":18446744073709.551615|ms|@0.3333333333333333";
	assert_string_equal(l + n - strlen(tail), tail);
}

static void test_datagrams(void **state)
{
	(void)state;
	char buf[20];
	hx__statsd_dgram d = {buf, sizeof buf, 0, 0};
	assert_int_equal(hx__statsd_dgram_add(&d, "aaaaa", 5), 0);
	assert_int_equal(hx__statsd_dgram_add(&d, "bbbbb", 5), 0);
	assert_int_equal(d.len, 11);
	assert_int_equal(hx__statsd_dgram_add(&d, "cccccccc", 8), 0); /* exactly 20 */
	assert_int_equal(d.len, 20);
	assert_int_equal(hx__statsd_dgram_add(&d, "d", 1), 1);
	assert_int_equal(d.len, 20);
	assert_memory_equal(buf, "aaaaa\nbbbbb\ncccccccc", 20);
	assert_int_equal(d.lines, 3);
	hx__statsd_dgram_clear(&d);
	assert_int_equal(hx__statsd_dgram_add(&d, "g:0|g\ng:-5|g", 12), 0);
	assert_int_equal(d.lines, 2);
	assert_int_equal(hx__statsd_dgram_add(&d, "x:1|c", 5), 0);
	assert_int_equal(d.len, 18);
	assert_int_equal(hx__statsd_dgram_add(&d, "y:1|c", 5), 1); /* the pair is never split */
}

static void url_bad(const char *url, const char *why_part)
{
	hx__statsd_url u;
	char why[300];
	why[0] = '\0';
	if (hx__statsd_url_parse(url, &u, why, sizeof why) != -1)
		fail_msg("%s was accepted", url);
	if (!strstr(why, why_part))
		fail_msg("%s: '%s' does not say '%s'", url, why, why_part);
}

static void test_urls(void **state)
{
	(void)state;
	hx__statsd_url u;
	char why[300];
	assert_int_equal(hx__statsd_url_parse("statsd://127.0.0.1:8126", &u, why, sizeof why), 0);
	assert_string_equal(u.host, "127.0.0.1");
	assert_string_equal(u.port, "8126");
	assert_string_equal(u.prefix, "");
	assert_true(u.rate == 0.0);
	assert_int_equal(u.mtu, HX__STATSD_DGRAM_DEFAULT);
	assert_int_equal(hx__statsd_url_parse("statsd://metrics.internal", &u, why, sizeof why), 0);
	assert_string_equal(u.host, "metrics.internal");
	assert_string_equal(u.port, "8125");
	assert_int_equal(hx__statsd_url_parse("statsd://[::1]:9000?prefix=app.&rate=0.25&mtu=512", &u,
	                                      why, sizeof why), 0);
	assert_string_equal(u.host, "::1");
	assert_string_equal(u.port, "9000");
	assert_string_equal(u.prefix, "app.");
	assert_true(u.rate == 0.25);
	assert_int_equal(u.mtu, 512);
	assert_int_equal(hx__statsd_url_parse("statsd://h?rate=1&prefix=", &u, why, sizeof why), 0);
	assert_true(u.rate == 1.0);
	assert_int_equal(hx__statsd_url_parse("statsd://h:1?rate=0.1", &u, why, sizeof why), 0);
	assert_true(u.rate == 0.1); /* the double strtod would give */
	assert_int_equal(hx__statsd_url_parse("statsd://[fe80::1%eth0]", &u, why, sizeof why), 0);
	assert_string_equal(u.host, "fe80::1%eth0");

	url_bad("tcp://h:1", "expected statsd://");
	url_bad("statsd://", "the host must be");
	url_bad("statsd://:8125", "the host must be");
	url_bad("statsd://h:0", "port");
	url_bad("statsd://h:65536", "port");
	url_bad("statsd://h:", "port");
	url_bad("statsd://h:80x", "port");
	url_bad("statsd://::1:80", "the host must be");
	url_bad("statsd://[::1", "IPv6");
	url_bad("statsd://[::1]x", "IPv6");
	url_bad("statsd://a b:1", "host name");
	url_bad("statsd://a/b:1", "host name");
	url_bad("statsd://h:1?bogus=1", "unknown");
	url_bad("statsd://h:1?prefix", "no value");
	url_bad("statsd://h:1?prefix=a:b", "prefix holds");
	url_bad("statsd://h:1?prefix=a&prefix=b", "given twice");
	url_bad("statsd://h:1?rate=0", "rate");
	url_bad("statsd://h:1?rate=1.5", "rate");
	url_bad("statsd://h:1?rate=abc", "rate");
	url_bad("statsd://h:1?rate=1e-3", "rate");
	url_bad("statsd://h:1?rate=", "rate");
	url_bad("statsd://h:1?mtu=100", "mtu");
	url_bad("statsd://h:1?mtu=70000", "mtu");
	char longp[200];
	snprintf(longp, sizeof longp, "statsd://h:1?prefix=%070d", 0);
	url_bad(longp, "longer than");
}

/* ---- the engine ---- */

static const uint8_t a_trace[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};

static void feed(hx__statsd *s, hx_event_kind kind, uint64_t entity, uint64_t seq, uint64_t t_ns,
                 const char *name, int in_trace)
{
	hx_event ev;
	memset(&ev, 0, sizeof ev);
	ev.kind = kind;
	ev.entity_id = entity;
	ev.seq = seq;
	ev.time_ns = ev.time_orig_ns = t_ns;
	ev.name = name ? name : "";
	ev.name_len = strlen(ev.name);
	if (in_trace)
		memcpy(ev.trace_id, a_trace, 16);
	assert_int_equal(hx__statsd_event(s, &ev), HX_OK);
}

static void feed_counter(hx__statsd *s, uint64_t entity, uint64_t seq, const char *name, int is_int,
                         int64_t i, double d)
{
	hx_event ev;
	memset(&ev, 0, sizeof ev);
	ev.kind = HX_EV_COUNTER;
	ev.entity_id = entity;
	ev.seq = seq;
	ev.name = name;
	ev.name_len = strlen(name);
	ev.unit = "ms";
	ev.counter_is_int = is_int;
	ev.counter_int = i;
	ev.counter_double = d;
	memcpy(ev.trace_id, a_trace, 16); /* gauges never carry a rate */
	assert_int_equal(hx__statsd_event(s, &ev), HX_OK);
}

static hx__statsd *engine(const char *url, double rate, int blocking)
{
	hx__statsd_opts o;
	memset(&o, 0, sizeof o);
	o.url = url;
	o.rate = rate;
	o.blocking = blocking;
	hx__statsd *s = NULL;
	char err[512] = "";
	int rc = hx__statsd_new(&s, &o, err, sizeof err);
	if (rc != HX_OK)
		fail_msg("hx__statsd_new(%s): %d %s", url, rc, err);
	return s;
}

static void test_engine_lines(void **state)
{
	(void)state;
	rx r;
	rx_open(&r);
	char url[200];
	snprintf(url, sizeof url, "statsd://127.0.0.1:%d?prefix=t.", r.port);
	hx__statsd *s = engine(url, 0.5, 0);
	const uint64_t T = 1700000000000000000ull;
	feed(s, HX_EV_TRACE_BEGIN, 1, 0, T, "request", 1);                   /* nothing */
	feed(s, HX_EV_BLOCK_BEGIN, 1, 1, T, "outer", 1);
	feed(s, HX_EV_BLOCK_BEGIN, 1, 2, T + 1000000, "db query", 1);
	feed(s, HX_EV_ERROR, 1, 3, T + 2000000, "timeout: 10.0.0.3:5432", 1);
	feed(s, HX_EV_BLOCK_END, 1, 4, T + 3500000, NULL, 1);               /* 2.5 ms */
	feed(s, HX_EV_POINT, 1, 5, T + 4000000, "cache|hit", 1);
	feed_counter(s, 1, 6, "queue depth", 1, 7, 0);
	feed_counter(s, 1, 7, "balance", 0, 0, -1.5);
	feed_counter(s, 1, 8, "broken", 0, 0, NAN);                          /* skipped */
	feed(s, HX_EV_CAUSE, 1, 9, T + 5000000, "send", 1);                  /* nothing */
	feed(s, HX_EV_BLOCK_END, 1, 10, T + 10000001, NULL, 1);             /* outer: 10.000001 */
	feed(s, HX_EV_BLOCK_END, 1, 11, T + 10000002, NULL, 1);             /* no begin */
	/* outside any trace: no rate */
	feed(s, HX_EV_ERROR, 2, 0, T, "lonely", 0);
	feed(s, HX_EV_POINT, 2, 1, T, "tick", 0);
	feed(s, HX_EV_BLOCK_BEGIN, 2, 2, T, "job", 0);
	feed(s, HX_EV_BLOCK_END, 2, 3, T + 999, NULL, 0);
	/* an entity that ends inside a block: forgotten, counted */
	feed(s, HX_EV_BLOCK_BEGIN, 3, 0, T, "never ends", 1);
	feed(s, HX_EV_ENTITY_END, 3, 1, T, NULL, 1);
	feed(s, HX_EV_BLOCK_END, 3, 2, T, NULL, 1);
	hx__statsd_flush(s);
	rx_wait(&r, 10, 20000, 300);
	assert_string_equal(r.text.p, "t.db_query.error:1|c|@0.5\n"
	                              "t.db_query:2.5|ms|@0.5\n"
	                              "t.cache_hit:1|c|@0.5\n"
	                              "t.queue_depth:7|g\n"
	                              "t.balance:0|g\n"
	                              "t.balance:-1.5|g\n"
	                              "t.outer:10.000001|ms|@0.5\n"
	                              "t.error:1|c\n"
	                              "t.tick:1|c\n"
	                              "t.job:0.000999|ms\n");
	assert_int_equal(r.dgrams, 1);
	hx__statsd_stats st;
	hx__statsd_stats_get(s, &st);
	assert_int_equal(st.events, 19);
	assert_int_equal(st.lines, 10);
	assert_int_equal(st.lines_sent, 10);
	assert_int_equal(st.datagrams_sent, 1);
	assert_int_equal(st.datagrams_failed, 0);
	assert_int_equal(st.unmatched, 2);
	assert_int_equal(st.unended, 1);
	assert_int_equal(st.skipped, 1);
	hx__statsd_free(s);

	/* the URL's rate wins over the caller's; a rate of 1 sends none */
	snprintf(url, sizeof url, "statsd://127.0.0.1:%d?rate=0.125", r.port);
	s = engine(url, 0.5, 0);
	feed(s, HX_EV_POINT, 1, 0, T, "p", 1);
	hx__statsd_flush(s);
	hx__statsd_free(s);
	snprintf(url, sizeof url, "statsd://127.0.0.1:%d", r.port);
	s = engine(url, 1.0, 0);
	feed(s, HX_EV_POINT, 1, 0, T, "q", 1);
	hx__statsd_flush(s);
	hx__statsd_free(s);
	rx_wait(&r, 12, 20000, 200);
	assert_non_null(strstr(r.text.p, "\np:1|c|@0.125\nq:1|c\n"));
	rx_close(&r);
}

static void test_engine_split(void **state)
{
	(void)state;
	rx r;
	rx_open(&r);
	char url[200];
	snprintf(url, sizeof url, "statsd://127.0.0.1:%d?mtu=512&prefix=split.", r.port);
	hx__statsd *s = engine(url, 0, 0);
	hxt_buf want = {0};
	size_t dgrams = 0, len = 0;
	for (int i = 0; i < 300; i++) {
		char name[64], line[128];
		snprintf(name, sizeof name, "point.number.%d", i * 7919);
		feed(s, HX_EV_POINT, 9, (uint64_t)i, 1, name, 0);
		int n = snprintf(line, sizeof line, "split.%s:1|c", name);
		hxt_buf_printf(&want, "%s\n", line);
		/* the packing expected: lines while they fit in 512 bytes with their separators */
		if (!len || len + 1 + (size_t)n > 512) {
			dgrams++;
			len = (size_t)n;
		} else {
			len += 1 + (size_t)n;
		}
	}
	hx__statsd_flush(s);
	rx_wait(&r, 300, 20000, 300);
	assert_string_equal(r.text.p, want.p);
	assert_int_equal(r.dgrams, dgrams);
	assert_true(r.max_dgram <= 512 && r.max_dgram > 450);
	hx__statsd_stats st;
	hx__statsd_stats_get(s, &st);
	assert_int_equal(st.datagrams_sent, dgrams);
	hx__statsd_free(s);
	free(want.p);
	rx_close(&r);
}

/* Many entities with open blocks at once, ended in another order; the limit on open blocks. */
static void test_engine_bounds(void **state)
{
	(void)state;
	rx r;
	rx_open(&r);
	int port = r.port;
	rx_close(&r); /* counts only: nothing needs to arrive */
	char url[200];
	snprintf(url, sizeof url, "statsd://127.0.0.1:%d", port);
	hx__statsd *s = engine(url, 0, 0);
	const uint64_t n = 5000;
	for (uint64_t e = 1; e <= n; e++) {
		feed(s, HX_EV_BLOCK_BEGIN, e * 0x9e3779b97f4a7c15ull, 0, 100, "outer", 0);
		feed(s, HX_EV_BLOCK_BEGIN, e * 0x9e3779b97f4a7c15ull, 1, 200, "inner", 0);
	}
	for (uint64_t k = 0; k < n; k++) {
		uint64_t e = (k * 2654435761u) % n + 1; /* every entity once, scattered */
		feed(s, HX_EV_BLOCK_END, e * 0x9e3779b97f4a7c15ull, 2, 300, NULL, 0);
		feed(s, HX_EV_BLOCK_END, e * 0x9e3779b97f4a7c15ull, 3, 400, NULL, 0);
		feed(s, HX_EV_BLOCK_END, e * 0x9e3779b97f4a7c15ull, 4, 500, NULL, 0); /* one too many */
	}
	hx__statsd_stats st;
	hx__statsd_stats_get(s, &st);
	assert_int_equal(st.lines, 2 * n);
	assert_int_equal(st.unmatched, n);
	assert_int_equal(st.untracked, 0);

	/* HX__STATSD_OPEN_MAX open blocks: the next ones are not remembered, and their ends do
	 * not take the remembered ones' */
	for (uint64_t i = 0; i < HX__STATSD_OPEN_MAX; i++)
		feed(s, HX_EV_BLOCK_BEGIN, 1, i, 1000, i ? "deep" : "bottom", 0);
	feed(s, HX_EV_BLOCK_BEGIN, 1, HX__STATSD_OPEN_MAX, 1000, "over", 0);
	feed(s, HX_EV_BLOCK_BEGIN, 1, HX__STATSD_OPEN_MAX + 1, 1000, "over", 0);
	feed(s, HX_EV_BLOCK_BEGIN, 2, 0, 1000, "elsewhere", 0); /* no room for a new entity */
	feed(s, HX_EV_BLOCK_END, 2, 1, 2000, NULL, 0);
	hx__statsd_stats_get(s, &st);
	assert_int_equal(st.untracked, 3);
	assert_int_equal(st.unmatched, n + 1);
	feed(s, HX_EV_BLOCK_END, 1, HX__STATSD_OPEN_MAX + 2, 2000, NULL, 0);
	feed(s, HX_EV_BLOCK_END, 1, HX__STATSD_OPEN_MAX + 3, 2000, NULL, 0);
	hx__statsd_stats_get(s, &st);
	assert_int_equal(st.lines, 2 * n); /* the two untracked ends: no timer */
	for (uint64_t i = 0; i < HX__STATSD_OPEN_MAX; i++)
		feed(s, HX_EV_BLOCK_END, 1, HX__STATSD_OPEN_MAX + 4 + i, 3000, NULL, 0);
	hx__statsd_stats_get(s, &st);
	assert_int_equal(st.lines, 2 * n + HX__STATSD_OPEN_MAX);
	assert_int_equal(st.unmatched, n + 1);
	/* the table is empty again: a new block is remembered */
	feed(s, HX_EV_BLOCK_BEGIN, 2, 2, 1000, "again", 0);
	feed(s, HX_EV_BLOCK_END, 2, 3, 1500, NULL, 0);
	hx__statsd_stats_get(s, &st);
	assert_int_equal(st.lines, 2 * n + HX__STATSD_OPEN_MAX + 1);
	assert_int_equal(st.untracked, 3);
	hx__statsd_free(s);
}

/* Nothing listens: the kernel reports the refusal (ICMP port unreachable on loopback) on later
 * sends, which fail and are counted; no send waits. */
static void test_dead_port(void **state)
{
	rx r;
	rx_open(&r);
	int port = r.port;
	rx_close(&r); /* the port is free now: nothing listens there */
	char url[200];
	snprintf(url, sizeof url, "statsd://127.0.0.1:%d", port);
	hx__statsd *s = engine(url, 0, 0);
	for (int i = 0; i < 2000; i++) {
		feed(s, HX_EV_POINT, 1, (uint64_t)i, 1, "nobody.listens", 0);
		hx__statsd_flush(s); /* one datagram each */
	}
	hx__statsd_stats st;
	hx__statsd_stats_get(s, &st);
	assert_int_equal(st.datagrams_sent + st.datagrams_failed, 2000);
	assert_true(st.datagrams_failed > 0);
	assert_int_equal(st.lines_failed, st.datagrams_failed);
	assert_true(st.last_errno == ECONNREFUSED || st.last_errno == EAGAIN);
	hx__statsd_free(s);

	/* the sink: the program records and shuts down as ever, the failures are counted */
	fixture *f = *state;
	char dir[600];
	snprintf(dir, sizeof dir, "%s/dead", f->dir);
	hx_config cfg;
	hx_config_init(&cfg);
	cfg.sink = HX_SINK_STATSD;
	cfg.ship_to = url;
	cfg.dir = dir;
	cfg.quiet = 1;
	assert_int_equal(hx_init(&cfg), HX_OK);
	for (int i = 0; i < 20000; i++) {
		hx_point("nobody.listens");
		if (i % 1000 == 0) {
			struct timespec ts = {0, 20 * 1000000L}; /* several polls of the thread */
			nanosleep(&ts, NULL);
		}
	}
	assert_int_equal(hx_shutdown(), HX_OK);
	hx__statsdsink_last_stats(&st);
	assert_int_equal(st.lines, 20000);
	assert_int_equal(st.lines_sent + st.lines_failed, 20000);
	assert_true(st.datagrams_failed > 0);
}

static void test_unresolvable(void **state)
{
	fixture *f = *state;
	hx__statsd_opts o;
	memset(&o, 0, sizeof o);
	o.url = "statsd://no-such-host.invalid:8125";
	hx__statsd *s = (hx__statsd *)1;
	char err[512] = "";
	assert_int_equal(hx__statsd_new(&s, &o, err, sizeof err), HX_ECONFIG);
	assert_null(s);
	assert_non_null(strstr(err, "cannot resolve no-such-host.invalid"));

	/* the sink: hx_init() says so, and the files are written all the same */
	char log[600], dir[600];
	snprintf(log, sizeof log, "%s/stderr.txt", f->dir);
	snprintf(dir, sizeof dir, "%s/traces", f->dir);
	hx_config cfg;
	hx_config_init(&cfg);
	cfg.sink = HX_SINK_STATSD;
	cfg.dir = dir;
	cfg.ship_to = "statsd://no-such-host.invalid:8125";
	fflush(stderr);
	int saved = dup(2), fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0 && saved >= 0);
	dup2(fd, 2);
	close(fd);
	int rc = hx_init(&cfg);
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	assert_int_equal(rc, HX_ESINK);
	assert_true(hx_enabled());
	hx_point("still.recorded");
	assert_int_equal(hx_shutdown(), HX_OK);
	size_t n;
	char *text = (char *)hxt_slurp(log, &n);
	assert_non_null(text);
	assert_non_null(strstr(text, "haruspex: statsd sink: statsd://no-such-host.invalid:8125: "
	                             "cannot resolve no-such-host.invalid"));
	assert_non_null(strstr(text, "events are written to"));
	free(text);
	hxt_events evs = {0};
	hxt_read_result res;
	assert_int_equal(hxt_read_all(dir, HX_ORDER_STREAM, &evs, &res, 1), HX_OK);
	assert_non_null(hxt_find_name(&evs, HX_EV_POINT, "still.recorded"));
	hxt_events_free(&evs);

	/* a malformed URL is a configuration error: nothing starts */
	cfg.ship_to = "statsd://host:99999";
	cfg.quiet = 1;
	assert_int_equal(hx_init(&cfg), HX_ECONFIG);
	assert_false(hx_enabled());
	cfg.ship_to = NULL;
	assert_int_equal(hx_init(&cfg), HX_ECONFIG);
	setenv("HARUSPEX_SINK", "statsd://h:1?mtu=1", 1);
	cfg.sink = HX_SINK_FILE;
	assert_int_equal(hx_init(&cfg), HX_ECONFIG);
	unsetenv("HARUSPEX_SINK");
}

/* ---- the library's sink ---- */

/* Events of a kind in the files of dir. */
static size_t count_kind(const char *dir, hx_event_kind kind)
{
	hxt_events evs = {0};
	hxt_read_result res;
	assert_int_equal(hxt_read_all(dir, HX_ORDER_STREAM, &evs, &res, 1), HX_OK);
	size_t n = hxt_count_kind(&evs, kind);
	hxt_events_free(&evs);
	return n;
}

static void test_sink(void **state)
{
	fixture *f = *state;
	rx r;
	rx_open(&r);
	char url[200], dir[600];
	snprintf(url, sizeof url, "statsd://127.0.0.1:%d?prefix=e2e.", r.port);
	snprintf(dir, sizeof dir, "%s/traces", f->dir);
	hx_config cfg;
	hx_config_init(&cfg);
	cfg.sink = HX_SINK_STATSD;
	cfg.ship_to = url;
	cfg.dir = dir;
	cfg.sampler = HX_SAMPLE_PROBABILITY;
	cfg.sample_probability = 0.5;
	assert_int_equal(hx_init(&cfg), HX_OK);
	const int traces = 400;
	for (int i = 0; i < traces; i++) {
		hx_trace_begin("request");
		hx_block_begin("handle");
		hx_point("hit");
		if (i % 50 == 0)
			hx_error("went wrong");
		hx_block_end();
		hx_trace_end();
	}
	hx_point("outside");
	hx_counter_int("depth", 3, NULL);
	hx_counter("ratio", -0.25, NULL);
	assert_int_equal(hx_shutdown(), HX_OK);
	size_t kept = count_kind(dir, HX_EV_TRACE_BEGIN), errors = count_kind(dir, HX_EV_ERROR);
	assert_true(kept > 0 && kept < (size_t)traces); /* p = 0.5: both, but for 2^-399 */
	hx__statsd_stats st;
	hx__statsdsink_last_stats(&st);
	assert_int_equal(st.datagrams_failed, 0);
	assert_int_equal(st.unmatched, 0);
	assert_int_equal(st.lines_sent, 2 * kept + errors + 4);
	rx_wait(&r, st.lines_sent, 30000, 300);
	assert_int_equal(r.lines, st.lines_sent);
	assert_int_equal(count_lines(r.text.p, "e2e.hit:1|c|@0.5"), kept);
	assert_int_equal(count_prefix(r.text.p, "e2e.handle:"), kept);
	assert_int_equal(count_lines(r.text.p, "e2e.handle.error:1|c|@0.5"), errors);
	assert_int_equal(count_lines(r.text.p, "e2e.outside:1|c"), 1);
	assert_int_equal(count_lines(r.text.p, "e2e.depth:3|g"), 1);
	assert_non_null(strstr(r.text.p, "e2e.ratio:0|g\ne2e.ratio:-0.25|g\n"));
	/* each timer: milliseconds, the rate, nothing else */
	for (const char *p = strstr(r.text.p, "e2e.handle:"); p; p = strstr(p + 1, "\ne2e.handle:")) {
		if (*p == '\n')
			p++;
		char *end;
		double ms = strtod(p + strlen("e2e.handle:"), &end);
		assert_true(ms >= 0 && ms < 60000);
		assert_true(!strncmp(end, "|ms|@0.5\n", 9));
	}
	assert_true(r.max_dgram <= HX__STATSD_DGRAM_DEFAULT);
	rx_close(&r);
}

/* HARUSPEX_SINK selects it; an entity that moves between threads still gets its timer, even when
 * its end lies in a stream that is read before the one that holds its begin. */
struct migration {
	pthread_barrier_t bar;
	hx_entity *e;
};

static void *other_thread(void *arg)
{
	struct migration *m = arg;
	hx_point("early"); /* this thread's stream comes before the main thread's */
	pthread_barrier_wait(&m->bar);
	pthread_barrier_wait(&m->bar); /* the main thread began the block */
	hx_entity_enter(m->e);
	hx_block_end(); /* "migrated", begun on the main thread */
	hx_entity_leave();
	return NULL;
}

static void test_sink_env_and_migration(void **state)
{
	fixture *f = *state;
	rx r;
	rx_open(&r);
	char url[200], dir[600];
	snprintf(url, sizeof url, "statsd://localhost:%d", r.port);
	snprintf(dir, sizeof dir, "%s/env", f->dir);
	setenv("HARUSPEX_SINK", url, 1);
	setenv("HARUSPEX_DIR", dir, 1);
	assert_int_equal(hx_init(NULL), HX_OK);
	struct migration m;
	pthread_barrier_init(&m.bar, NULL, 2);
	pthread_t th;
	assert_int_equal(pthread_create(&th, NULL, other_thread, &m), 0);
	pthread_barrier_wait(&m.bar);
	m.e = hx_entity_begin("coroutine", HX_ENTITY_COROUTINE);
	assert_non_null(m.e);
	hx_entity_enter(m.e);
	hx_block_begin("migrated");
	hx_entity_leave();
	pthread_barrier_wait(&m.bar);
	pthread_join(th, NULL);
	pthread_barrier_destroy(&m.bar);
	hx_entity_end(m.e);
	assert_int_equal(hx_shutdown(), HX_OK);
	unsetenv("HARUSPEX_SINK");
	unsetenv("HARUSPEX_DIR");
	rx_wait(&r, 2, 30000, 300);
	assert_int_equal(count_lines(r.text.p, "early:1|c"), 1);
	assert_int_equal(count_prefix(r.text.p, "migrated:"), 1);
	hx__statsd_stats st;
	hx__statsdsink_last_stats(&st);
	assert_int_equal(st.unmatched, 0);
	assert_int_equal(st.lines_sent, 2);

	/* replayed from the files by the engine's follower: the same, whatever the stream order */
	hx__statsd *s = engine(url, 0, 0);
	char err[300];
	assert_int_equal(hx__statsd_follow(s, dir, NULL, err, sizeof err), HX_OK);
	assert_true(hx__statsd_poll(s, 0) > 0);
	hx__statsd_stats_get(s, &st);
	assert_int_equal(st.unmatched, 0);
	assert_int_equal(st.lines_sent, 2);
	assert_int_equal(hx__statsd_poll(s, 0), 0);
	hx__statsd_free(s);
	rx_wait(&r, 4, 30000, 200);
	assert_int_equal(count_prefix(r.text.p, "migrated:"), 2);
	rx_close(&r);
}

/* A fork()ed child gets a sink of its own; the parent's keeps going. */
static void test_sink_fork(void **state)
{
	fixture *f = *state;
	rx r;
	rx_open(&r);
	char url[200], dir[600];
	snprintf(url, sizeof url, "statsd://127.0.0.1:%d", r.port);
	snprintf(dir, sizeof dir, "%s/fork", f->dir);
	hx_config cfg;
	hx_config_init(&cfg);
	cfg.sink = HX_SINK_STATSD;
	cfg.ship_to = url;
	cfg.dir = dir;
	assert_int_equal(hx_init(&cfg), HX_OK);
	for (int i = 0; i < 20; i++) {
		hx_point("parent.before");
		pid_t pid = fork();
		assert_true(pid >= 0);
		if (pid == 0) {
			hx_point("child");
			_exit(hx_shutdown() == HX_OK ? 0 : 1);
		}
		int status;
		assert_int_equal(waitpid(pid, &status, 0), pid);
		assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	}
	hx_point("parent.after");
	assert_int_equal(hx_shutdown(), HX_OK);
	rx_wait(&r, 41, 30000, 300);
	assert_int_equal(count_lines(r.text.p, "parent.before:1|c"), 20);
	assert_int_equal(count_lines(r.text.p, "child:1|c"), 20);
	assert_int_equal(count_lines(r.text.p, "parent.after:1|c"), 1);
	assert_int_equal(r.lines, 41);
	rx_close(&r);
}

/* ---- hx statsd ---- */

static const char *hx_bin(void)
{
	const char *hx = getenv("HX");
	return hx && *hx ? hx : NULL;
}

static int run_hx(const char *const argv[], pid_t *bg)
{
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		execv(argv[0], (char *const *)argv);
		_exit(127);
	}
	if (bg) {
		*bg = pid;
		return 0;
	}
	int status;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static void write_traces(const char *dir, const char *tag)
{
	char block[64];
	snprintf(block, sizeof block, "%s.block", tag);
	assert_int_equal(hxt_start_file(dir, 0), HX_OK);
	hx_trace_begin("t");
	hx_block_begin(block);
	hx_point("p");
	hx_counter_int("c", 12, NULL);
	hx_block_end();
	hx_trace_end();
	assert_int_equal(hx_shutdown(), HX_OK);
}

static void test_cli(void **state)
{
	fixture *f = *state;
	const char *hx = hx_bin();
	if (!hx) {
		fprintf(stderr, "HX is not set (run through meson test): hx statsd not tested\n");
		fail();
	}
	rx r;
	rx_open(&r);
	char url[200], dir[600];
	snprintf(url, sizeof url, "statsd://127.0.0.1:%d?prefix=cli.&rate=0.5", r.port);
	snprintf(dir, sizeof dir, "%s/cli", f->dir);
	write_traces(dir, "replayed");
	const char *replay[] = {hx, "statsd", dir, "--to", url, "--quiet", NULL};
	assert_int_equal(run_hx(replay, NULL), 0);
	rx_wait(&r, 3, 30000, 300);
	const char *want = "cli.p:1|c|@0.5\ncli.c:12|g\ncli.replayed.block:";
	assert_true(!strncmp(r.text.p, want, strlen(want)));
	assert_non_null(strstr(r.text.p, "|ms|@0.5\n"));
	assert_int_equal(r.lines, 3);

	/* --follow: what programs write into the directory later */
	char live[600];
	snprintf(live, sizeof live, "%s/live", f->dir);
	assert_int_equal(mkdir(live, 0700), 0);
	const char *follow[] = {hx, "statsd", live, "--to", url, "--follow", "--quiet", NULL};
	pid_t pid;
	run_hx(follow, &pid);
	write_traces(live, "followed");
	write_traces(live, "again");
	rx_wait(&r, 9, 30000, 300);
	assert_int_equal(count_prefix(r.text.p, "cli.followed.block:"), 1);
	assert_int_equal(count_prefix(r.text.p, "cli.again.block:"), 1);
	assert_int_equal(count_lines(r.text.p, "cli.p:1|c|@0.5"), 3);
	assert_int_equal(r.lines, 9);
	kill(pid, SIGTERM);
	int status;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);

	/* usage and resolution errors */
	const char *no_to[] = {hx, "statsd", dir, NULL};
	assert_int_equal(run_hx(no_to, NULL), 2);
	const char *url_follow[] = {hx, "statsd", "http://127.0.0.1:1/api/traces", "--to", url,
	                            "--follow", NULL};
	assert_int_equal(run_hx(url_follow, NULL), 2);
	const char *bad_host[] = {hx, "statsd", dir, "--to", "statsd://no-such-host.invalid", NULL};
	assert_int_equal(run_hx(bad_host, NULL), 2);
	const char *missing[] = {hx, "statsd", "/nonexistent/traces", "--to", url, NULL};
	assert_int_equal(run_hx(missing, NULL), 2);
	rx_close(&r);
}

int main(void)
{
	signal(SIGPIPE, SIG_IGN);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_lines),
		cmocka_unit_test(test_datagrams),
		cmocka_unit_test(test_urls),
		cmocka_unit_test(test_engine_lines),
		cmocka_unit_test(test_engine_split),
		cmocka_unit_test(test_engine_bounds),
		cmocka_unit_test_setup_teardown(test_dead_port, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unresolvable, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sink, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sink_env_and_migration, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sink_fork, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cli, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
