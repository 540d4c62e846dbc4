/*
 * test_propagation.c - haruspex/propagation.h: traceparent and tracestate against the W3C Trace
 * Context test-suite cases (github.com/w3c/trace-context, test/test.py, restated here as tables),
 * the parent-id digest, round trips context -> headers -> context, a foreign (OpenTelemetry)
 * parent, tracestate member limits, the binary form byte by byte and its rejections, and W3C
 * Baggage: limits, percent-encoding, properties, the per-trace table shared by the threads of a
 * trace, and its LRU bound. Every rejection must move the bad_header counter by exactly one.
 *
 * Built a second time as test_propagation_curl with -DHXT_CURL=1 where libcurl is installed: that
 * binary also runs the haruspex/curl.h test (the header needs <curl/curl.h> and libcurl).
 */
#include "../hxtest.h"

#include <haruspex/propagation.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#ifdef HXT_CURL
#include <haruspex/curl.h>
#endif

/* ---- helpers ---- */

static uint64_t counter(hx_counter_id id)
{
	hx_stats s;
	hx_stats_get(&s);
	return s.count[id];
}

static int setup(void **state)
{
	return hxt_fixture_setup(state, "prop");
}

static int teardown(void **state)
{
	return hxt_fixture_teardown(state);
}

/* Tracing on with the none sink: bookkeeping (current trace, sequence numbers) without files. */
static void start_none(void)
{
	hx_config cfg;
	hx_config_init(&cfg);
	cfg.sink = HX_SINK_NONE;
	assert_int_equal(hx_init(&cfg), HX_OK);
}

/* A fresh trace ID for tests that use the baggage table with explicit IDs (the table lives as
 * long as the process, so every test takes its own IDs). */
static void fresh_trace_id(uint8_t id[16])
{
	static uint64_t next = 1;
	memset(id, 0, 16);
	id[0] = 0xab;
	uint64_t v = next++;
	for (int i = 0; i < 8; i++)
		id[15 - i] = (uint8_t)(v >> (8 * i));
}

static void hex_to_bytes(const char *hex, uint8_t *out, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned v;
		assert_int_equal(sscanf(hex + 2 * i, "%2x", &v), 1);
		out[i] = (uint8_t)v;
	}
}

static hx_context make_ctx(const char *trace_hex, uint64_t entity, uint64_t seq, uint32_t flags)
{
	hx_context c;
	memset(&c, 0, sizeof c);
	hex_to_bytes(trace_hex, c.trace_id, 16);
	c.entity_id = entity;
	c.seq = seq;
	c.flags = flags;
	return c;
}

static void assert_ctx_equal(const hx_context *a, const hx_context *b)
{
	assert_memory_equal(a->trace_id, b->trace_id, 16);
	assert_int_equal(a->entity_id, b->entity_id);
	assert_int_equal(a->seq, b->seq);
	assert_int_equal(a->flags, b->flags);
}

/* A header list carrier: what hx_inject() sets, and hx_extract_pairs() input. */
typedef struct hdrs {
	hx_header_pair p[8];
	char name[8][32];
	char *value[8];
	size_t n;
	int fail_on; /* fail the set of this header index + 1 (0: never) */
} hdrs;

static int hdrs_set(void *carrier, const char *name, const char *value)
{
	hdrs *h = carrier;
	if (h->fail_on && (size_t)h->fail_on == h->n + 1)
		return -1;
	assert_true(h->n < 8);
	snprintf(h->name[h->n], sizeof h->name[h->n], "%s", name);
	h->value[h->n] = strdup(value);
	assert_non_null(h->value[h->n]);
	h->p[h->n].name = h->name[h->n];
	h->p[h->n].value = h->value[h->n];
	h->n++;
	return 0;
}

static const char *hdrs_value(const hdrs *h, const char *name)
{
	for (size_t i = 0; i < h->n; i++)
		if (!strcmp(h->name[i], name))
			return h->value[i];
	return NULL;
}

static void hdrs_free(hdrs *h)
{
	for (size_t i = 0; i < h->n; i++)
		free(h->value[i]);
	memset(h, 0, sizeof *h);
}

#define TRACE_HEX "12345678901234567890123456789012"
#define TP_VALID "00-" TRACE_HEX "-1234567890123456-01"

/* ---- traceparent: the W3C test suite's cases ---- */

typedef struct tp_ok_case {
	const char *header;
	int sampled;
} tp_ok_case;

static void test_traceparent_valid(void **state)
{
	(void)state;
	static const tp_ok_case cases[] = {
		{TP_VALID, 1},
		{"00-" TRACE_HEX "-1234567890123456-00", 0},
		/* OWS around the value (test_traceparent_ows_handling) */
		{" " TP_VALID, 1},
		{"\t" TP_VALID, 1},
		{TP_VALID " ", 1},
		{TP_VALID "\t", 1},
		{"\t " TP_VALID " \t", 1},
		/* a future version is read by the version-00 layout (test_traceparent_version_0xcc) */
		{"cc-" TRACE_HEX "-1234567890123456-01", 1},
		{"cc-" TRACE_HEX "-1234567890123456-01-what-the-future-will-be-like", 1},
		{"01-" TRACE_HEX "-1234567890123456-00-", 0},
		/* only bit 0 of the flags means something in level 1 */
		{"00-" TRACE_HEX "-1234567890123456-09", 1},
		{"00-" TRACE_HEX "-1234567890123456-fe", 0},
	};
	uint64_t bad0 = counter(HX_COUNT_BAD_HEADER);
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		hx_context c;
		memset(&c, 0x5a, sizeof c);
		int rc = hx_traceparent_parse(cases[i].header, strlen(cases[i].header), &c);
		if (rc != HX_OK)
			fail_msg("case %zu '%s': %d", i, cases[i].header, rc);
		hx_context want = make_ctx(TRACE_HEX, 0x1234567890123456ull, 0,
		                           HX_CTX_VALID | HX_CTX_FOREIGN | (cases[i].sampled ? HX_CTX_SAMPLED : 0));
		assert_ctx_equal(&c, &want);
		assert_int_equal(c.reserved, 0);
	}
	assert_int_equal(counter(HX_COUNT_BAD_HEADER), bad0);
	/* Not NUL-terminated: len bounds the read. */
	char buf[HX_TRACEPARENT_LEN + 8];
	memcpy(buf, TP_VALID "XXXXXXXX", sizeof buf);
	hx_context c;
	assert_int_equal(hx_traceparent_parse(buf, HX_TRACEPARENT_LEN, &c), HX_OK);
	assert_int_equal(c.entity_id, 0x1234567890123456ull);
}

static void test_traceparent_invalid(void **state)
{
	(void)state;
	char key257[300];
	const char *const cases[] = {
		/* test_traceparent_version_0x00: trailing data after a version-00 value */
		"00-" TRACE_HEX "-1234567890123456-01.",
		"00-" TRACE_HEX "-1234567890123456-01-what-the-future-will-be-like",
		/* future version, but the extra data does not start with '-' */
		"cc-" TRACE_HEX "-1234567890123456-01.what-the-future-will-be-like",
		/* version ff */
		"ff-" TRACE_HEX "-1234567890123456-01",
		/* illegal characters, wrong lengths of the version */
		".0-" TRACE_HEX "-1234567890123456-01",
		"0.-" TRACE_HEX "-1234567890123456-01",
		"000-" TRACE_HEX "-1234567890123456-01",
		"0000-" TRACE_HEX "-1234567890123456-01",
		"0-" TRACE_HEX "-1234567890123456-01",
		/* trace-id: all zero, illegal characters, too long, too short */
		"00-00000000000000000000000000000000-1234567890123456-01",
		"00-.2345678901234567890123456789012-1234567890123456-01",
		"00-1234567890123456789012345678901.-1234567890123456-01",
		"00-123456789012345678901234567890123-1234567890123456-01",
		"00-1234567890123456789012345678901-1234567890123456-01",
		/* parent-id: all zero, illegal characters, too long, too short */
		"00-" TRACE_HEX "-0000000000000000-01",
		"00-" TRACE_HEX "-.234567890123456-01",
		"00-" TRACE_HEX "-123456789012345.-01",
		"00-" TRACE_HEX "-12345678901234567-01",
		"00-" TRACE_HEX "-123456789012345-01",
		/* trace-flags: illegal characters, too long, too short */
		"00-" TRACE_HEX "-1234567890123456-.0",
		"00-" TRACE_HEX "-1234567890123456-0.",
		"00-" TRACE_HEX "-1234567890123456-001",
		"00-" TRACE_HEX "-1234567890123456-1",
		/* upper-case hex anywhere (HEXDIGLC) */
		"0A-" TRACE_HEX "-1234567890123456-01",
		"00-1234567890ABCDEF1234567890123456-1234567890123456-01",
		"00-" TRACE_HEX "-1234567890ABCDEF-01",
		"00-" TRACE_HEX "-1234567890123456-0A",
		/* wrong separators, empty, blank, OWS inside */
		"00_" TRACE_HEX "-1234567890123456-01",
		"00-" TRACE_HEX "_1234567890123456-01",
		"00-" TRACE_HEX "-1234567890123456_01",
		"",
		" \t ",
		"00- " TRACE_HEX "-1234567890123456-01",
		key257, /* filled below: 257 bytes of garbage */
	};
	memset(key257, 'z', 257);
	key257[257] = 0;
	uint64_t bad0 = counter(HX_COUNT_BAD_HEADER);
	size_t n = sizeof cases / sizeof cases[0];
	for (size_t i = 0; i < n; i++) {
		hx_context c;
		memset(&c, 0x5a, sizeof c);
		int rc = hx_traceparent_parse(cases[i], strlen(cases[i]), &c);
		if (rc != HX_EFORMAT)
			fail_msg("case %zu '%s' gave %d, not HX_EFORMAT", i, cases[i], rc);
		hx_context zero;
		memset(&zero, 0, sizeof zero);
		assert_memory_equal(&c, &zero, sizeof c); /* invalid: hx_trace_continue starts anew */
	}
	assert_int_equal(counter(HX_COUNT_BAD_HEADER), bad0 + n);
	/* NULL arguments are caller errors, not headers: HX_EINVAL, not counted. */
	hx_context c;
	assert_int_equal(hx_traceparent_parse(NULL, 0, &c), HX_EINVAL);
	assert_int_equal(c.flags, 0);
	assert_int_equal(hx_traceparent_parse(TP_VALID, strlen(TP_VALID), NULL), HX_EINVAL);
	assert_int_equal(counter(HX_COUNT_BAD_HEADER), bad0 + n);
}

static void test_traceparent_format(void **state)
{
	(void)state;
	char buf[HX_TRACEPARENT_LEN + 1], want[HX_TRACEPARENT_LEN + 1];
	hx_context c = make_ctx("4bf92f3577b34da6a3ce929d0e0e4736", 0x1122334455667788ull, 42,
	                        HX_CTX_VALID | HX_CTX_SAMPLED);
	assert_int_equal(hx_traceparent_format(&c, buf, sizeof buf), HX_OK);
	snprintf(want, sizeof want, "00-4bf92f3577b34da6a3ce929d0e0e4736-%016" PRIx64 "-01",
	         hx_event_digest(0x1122334455667788ull, 42));
	assert_string_equal(buf, want);
	assert_int_equal(strlen(buf), HX_TRACEPARENT_LEN);

	c.flags = HX_CTX_VALID; /* not sampled */
	assert_int_equal(hx_traceparent_format(&c, buf, sizeof buf), HX_OK);
	assert_string_equal(buf + 53, "00");

	/* A foreign context goes on with the parent-id it came with. */
	c.flags = HX_CTX_VALID | HX_CTX_FOREIGN | HX_CTX_SAMPLED;
	c.entity_id = 0x00f067aa0ba902b7ull;
	c.seq = 0;
	assert_int_equal(hx_traceparent_format(&c, buf, sizeof buf), HX_OK);
	assert_string_equal(buf, "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");

	/* No traceparent: invalid, no trace, no buffer room. */
	c.flags = 0;
	assert_int_equal(hx_traceparent_format(&c, buf, sizeof buf), HX_EINVAL);
	assert_string_equal(buf, "");
	hx_context notrace = make_ctx("00000000000000000000000000000000", 5, 1, HX_CTX_VALID);
	assert_int_equal(hx_traceparent_format(&notrace, buf, sizeof buf), HX_EINVAL);
	assert_int_equal(hx_traceparent_format(NULL, buf, sizeof buf), HX_EINVAL);
	c.flags = HX_CTX_VALID;
	assert_int_equal(hx_traceparent_format(&c, buf, HX_TRACEPARENT_LEN), HX_ENOSPC);
	assert_string_equal(buf, "");
	assert_int_equal(hx_traceparent_format(&c, NULL, 0), HX_EINVAL);
}

static void test_event_digest(void **state)
{
	(void)state;
	/* Fixed values: the digest is part of the wire format (a peer running another build must
	 * compute the same parent-id), so it must never change. docs/propagation.md shows the first. */
	assert_int_equal(hx_event_digest(0x1122334455667788ull, 42), 0x6c136eaa82446340ull);
	assert_int_equal(hx_event_digest(1, 0), 0x445018e305810b78ull);
	/* Never zero, and distinct for the events of one entity. */
	enum { N = 20000 };
	static uint64_t seen[N];
	for (uint64_t s = 0; s < N; s++) {
		seen[s] = hx_event_digest(0xdeadbeefcafef00dull, s);
		assert_true(seen[s] != 0);
	}
	for (size_t i = 0; i < N; i++)
		for (size_t j = i + 1; j < i + 64 && j < N; j++)
			assert_true(seen[i] != seen[j]);
	assert_true(hx_event_digest(1, 2) != hx_event_digest(2, 1));
	assert_true(hx_event_digest(0, 0) != 0);
}

/* ---- tracestate ---- */

/* A foreign context whose parent-id is the digest of (entity, seq), as if sent by Haruspex. */
static hx_context foreign_for(uint64_t entity, uint64_t seq)
{
	return make_ctx(TRACE_HEX, hx_event_digest(entity, seq), 0,
	                HX_CTX_VALID | HX_CTX_FOREIGN | HX_CTX_SAMPLED);
}

static void test_tracestate_apply(void **state)
{
	(void)state;
	uint64_t bad0 = counter(HX_COUNT_BAD_HEADER);
	hx_context c = foreign_for(0xa1b2c3d4e5f60718ull, 0x2a);
	const char *ts = "foo=1,hx=a1b2c3d4e5f60718-2a,bar=2";
	assert_int_equal(hx_tracestate_apply(ts, strlen(ts), &c), HX_OK);
	hx_context want = make_ctx(TRACE_HEX, 0xa1b2c3d4e5f60718ull, 0x2a, HX_CTX_VALID | HX_CTX_SAMPLED);
	assert_ctx_equal(&c, &want);

	/* The digest does not match (a foreign tracer in between kept our member): stays foreign. */
	c = foreign_for(0xa1b2c3d4e5f60718ull, 0x2b);
	hx_context before = c;
	assert_int_equal(hx_tracestate_apply(ts, strlen(ts), &c), HX_OK);
	assert_ctx_equal(&c, &before);

	/* No hx member, an empty header, only empty members: nothing to do, no error. */
	const char *none[] = {"foo=1,bar=2", "", ",,", " , \t ,", "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE"};
	for (size_t i = 0; i < sizeof none / sizeof none[0]; i++) {
		c = foreign_for(7, 7);
		before = c;
		assert_int_equal(hx_tracestate_apply(none[i], strlen(none[i]), &c), HX_OK);
		assert_ctx_equal(&c, &before);
	}

	/* Duplicate hx members: the first counts. */
	const char *dup = "hx=0000000000000001-1,hx=0000000000000002-2";
	c = foreign_for(1, 1);
	assert_int_equal(hx_tracestate_apply(dup, strlen(dup), &c), HX_OK);
	assert_int_equal(c.entity_id, 1);
	assert_int_equal(c.flags & HX_CTX_FOREIGN, 0);
	c = foreign_for(2, 2);
	before = c;
	assert_int_equal(hx_tracestate_apply(dup, strlen(dup), &c), HX_OK);
	assert_ctx_equal(&c, &before);

	/* Not foreign (already restored, or our own): left alone. */
	c = want;
	assert_int_equal(hx_tracestate_apply(ts, strlen(ts), &c), HX_OK);
	assert_ctx_equal(&c, &want);

	/* OWS around members, and a full 64-bit seq. */
	const char *ows = " \tfoo=1 \t , \t hx=00000000000000ff-ffffffffffffffff\t,,";
	c = foreign_for(0xff, UINT64_MAX);
	assert_int_equal(hx_tracestate_apply(ows, strlen(ows), &c), HX_OK);
	assert_int_equal(c.entity_id, 0xff);
	assert_int_equal(c.seq, UINT64_MAX);
	assert_int_equal(c.flags, HX_CTX_VALID | HX_CTX_SAMPLED);
	assert_int_equal(counter(HX_COUNT_BAD_HEADER), bad0);
	assert_int_equal(hx_tracestate_apply(NULL, 0, &c), HX_OK);
	assert_int_equal(hx_tracestate_apply(NULL, 3, &c), HX_EINVAL);
	assert_int_equal(hx_tracestate_apply("", 0, NULL), HX_EINVAL);
}

/* The W3C test suite's tracestate cases: well-formed ones apply (HX_OK) and are propagated by
 * hx_tracestate_format() unchanged; malformed ones are rejected by apply, counted once each. */
static void test_tracestate_w3c_vectors(void **state)
{
	(void)state;
	static char allowed_key[64], vendor_key[80], allowed_value[128], max_key[260], max_tenant[260];
	static char members32[512], members33[512];
	snprintf(allowed_key, sizeof allowed_key, "abcdefghijklmnopqrstuvwxyz0123456789_-*/");
	snprintf(vendor_key, sizeof vendor_key, "%s@a-z0-9_-*/", allowed_key);
	size_t n = 0;
	for (int ch = 0x20; ch <= 0x7e; ch++)
		if (ch != ',' && ch != '=')
			allowed_value[n++] = (char)ch;
	allowed_value[n] = 0;
	memset(max_key, 'z', 256);
	memcpy(max_key + 256, "=1", 3);
	memset(max_tenant, 't', 241);
	max_tenant[241] = '@';
	memset(max_tenant + 242, 'v', 14);
	memcpy(max_tenant + 256, "=1", 3);
	size_t o32 = 0, o33 = 0;
	for (int i = 1; i <= 33; i++) {
		if (i <= 32)
			o32 += (size_t)snprintf(members32 + o32, sizeof members32 - o32, "%sbar%02d=%02d", i > 1 ? "," : "", i, i);
		o33 += (size_t)snprintf(members33 + o33, sizeof members33 - o33, "%sbar%02d=%02d", i > 1 ? "," : "", i, i);
	}
	char member_ak[256], member_vk[256];
	snprintf(member_ak, sizeof member_ak, "%s=%s", allowed_key, allowed_value);
	snprintf(member_vk, sizeof member_vk, "%s=%s", vendor_key, allowed_value);

	const char *valid[] = {
		"foo=1,bar=2",
		member_ak,            /* test_tracestate_all_allowed_characters */
		member_vk,
		"foo=1 \t , \t bar=2, \t baz=3", /* test_tracestate_ows_handling */
		"foo=1\t \t,\t \tbar=2,\t \tbaz=3",
		" foo=1",
		"\tfoo=1",
		"foo=1 ",
		"foo=1\t",
		"\t foo=1 \t",
		max_key,              /* test_tracestate_key_length_limit: 256 */
		max_tenant,           /* 241 @ 14 */
		members32,            /* test_tracestate_member_count_limit: 32 */
		"foo=1,,bar=2",       /* empty members */
		"",
		"k= v",               /* a value may begin with a space */
		"0tenant@sys=x",      /* a tenant-id may begin with a digit */
	};
	uint64_t bad0 = counter(HX_COUNT_BAD_HEADER);
	for (size_t i = 0; i < sizeof valid / sizeof valid[0]; i++) {
		hx_context c = foreign_for(3, 3);
		int rc = hx_tracestate_apply(valid[i], strlen(valid[i]), &c);
		if (rc != HX_OK)
			fail_msg("valid case %zu '%s': %d", i, valid[i], rc);
	}
	assert_int_equal(counter(HX_COUNT_BAD_HEADER), bad0);

	/* Propagated as received (foreign context: no hx member of ours in front). */
	char out[HX_TRACESTATE_MAX + 1];
	hx_context fc = foreign_for(3, 3);
	assert_int_equal(hx_tracestate_format(&fc, member_vk, out, sizeof out), HX_OK);
	assert_string_equal(out, member_vk);
	assert_int_equal(hx_tracestate_format(&fc, "foo=1 \t , \t bar=2, \t baz=3", out, sizeof out), HX_OK);
	assert_string_equal(out, "foo=1,bar=2,baz=3");
	assert_int_equal(hx_tracestate_format(&fc, max_tenant, out, sizeof out), HX_OK);
	assert_string_equal(out, max_tenant);
	assert_int_equal(hx_tracestate_format(&fc, members32, out, sizeof out), HX_OK);
	assert_string_equal(out, members32);

	static char key257[300], tenant242[300], system15[64];
	memset(key257, 'z', 257);
	memcpy(key257 + 257, "=1", 3);
	memset(tenant242, 't', 242);
	memcpy(tenant242 + 242, "@v=1", 5);
	snprintf(system15, sizeof system15, "t@vvvvvvvvvvvvvvv=1");
	static char value257[300];
	memcpy(value257, "foo=", 4);
	memset(value257 + 4, 'v', 257);
	value257[261] = 0;
	const char *invalid[] = {
		"foo =1",             /* test_tracestate_key_illegal_characters */
		"FOO=1",
		"foo.bar=1",
		"foo@=1,bar=2",       /* test_tracestate_key_illegal_vendor_format */
		"@foo=1,bar=2",
		"foo@@bar=1,bar=2",
		"foo@bar@baz=1,bar=2",
		members33,            /* 33 members */
		key257,               /* test_tracestate_key_length_limit */
		tenant242,
		system15,
		"foo=bar=baz",        /* test_tracestate_value_illegal_characters */
		"foo=,bar=3",
		"foo=1 x,bar",        /* a member without '=' */
		"foo=a\tb",           /* tab inside a value */
		"foo=\x7f",
		"1foo=1",             /* a simple key begins with lcalpha */
		"t@1v=1",             /* so does a system-id */
		value257,             /* values are at most 256 characters */
		"hx=zz",              /* our member, malformed */
		"hx=0000000000000000-1", /* entity 0 names nothing */
		"hx=00000000000000011",
		"hx=0000000000000001-",
		"hx=0000000000000001-00000000000000001", /* seq of 17 digits */
		"hx=000000000000000A-1",
	};
	size_t ninv = sizeof invalid / sizeof invalid[0];
	for (size_t i = 0; i < ninv; i++) {
		hx_context c = foreign_for(1, 1), before = c;
		int rc = hx_tracestate_apply(invalid[i], strlen(invalid[i]), &c);
		if (rc != HX_EFORMAT)
			fail_msg("invalid case %zu '%.40s': %d", i, invalid[i], rc);
		assert_ctx_equal(&c, &before);
	}
	assert_int_equal(counter(HX_COUNT_BAD_HEADER), bad0 + ninv);

	/* A malformed header does not restore the event even when it holds a good hx member. */
	const char *mixed = "hx=0000000000000001-1,FOO=1";
	hx_context c = foreign_for(1, 1), before = c;
	assert_int_equal(hx_tracestate_apply(mixed, strlen(mixed), &c), HX_EFORMAT);
	assert_ctx_equal(&c, &before);
}

static void test_tracestate_format(void **state)
{
	(void)state;
	char out[HX_TRACESTATE_MAX + 1];
	hx_context c = make_ctx(TRACE_HEX, 0x00000000deadbeefull, 0x10, HX_CTX_VALID | HX_CTX_SAMPLED);
	uint64_t bad0 = counter(HX_COUNT_BAD_HEADER);

	assert_int_equal(hx_tracestate_format(&c, NULL, out, sizeof out), HX_OK);
	assert_string_equal(out, "hx=00000000deadbeef-10");
	c.seq = 0;
	assert_int_equal(hx_tracestate_format(&c, "", out, sizeof out), HX_OK);
	assert_string_equal(out, "hx=00000000deadbeef-0");
	c.seq = 0x10;

	/* Ours first, the old hx member replaced, the others kept in order. */
	assert_int_equal(hx_tracestate_format(&c, "rojo=00f067aa0ba902b7,hx=0000000000000001-5,congo=t61rcWkgMzE", out, sizeof out), HX_OK);
	assert_string_equal(out, "hx=00000000deadbeef-10,rojo=00f067aa0ba902b7,congo=t61rcWkgMzE");
	assert_int_equal(counter(HX_COUNT_BAD_HEADER), bad0);

	/* Malformed and repeated members are dropped, one count each. */
	assert_int_equal(hx_tracestate_format(&c, "a=1,BAD=2,b=2,a=3,,c", out, sizeof out), HX_OK);
	assert_string_equal(out, "hx=00000000deadbeef-10,a=1,b=2");
	assert_int_equal(counter(HX_COUNT_BAD_HEADER), bad0 + 3);

	/* At most 32 members: ours and the first 31 of prev. */
	char prev[1024];
	size_t o = 0;
	for (int i = 1; i <= 40; i++)
		o += (size_t)snprintf(prev + o, sizeof prev - o, "%sk%d=%d", i > 1 ? "," : "", i, i);
	assert_int_equal(hx_tracestate_format(&c, prev, out, sizeof out), HX_OK);
	size_t members = 1;
	for (const char *p = out; *p; p++)
		members += *p == ',';
	assert_int_equal(members, 32);
	assert_non_null(strstr(out, ",k31=31"));
	assert_null(strstr(out, ",k32=32"));

	/* At most 512 bytes: members over 128 bytes go first, then from the right. */
	char big[150];
	memset(big, 'x', sizeof big - 1);
	big[sizeof big - 1] = 0;
	o = (size_t)snprintf(prev, sizeof prev, "long1=%s,s1=1,long2=%s,s2=2", big, big);
	for (int i = 3; i <= 25; i++)
		o += (size_t)snprintf(prev + o, sizeof prev - o, ",short%02d=%s", i, "0123456789");
	assert_int_equal(hx_tracestate_format(&c, prev, out, sizeof out), HX_OK);
	assert_true(strlen(out) <= HX_TRACESTATE_MAX);
	assert_null(strstr(out, "long1="));
	assert_null(strstr(out, "long2="));
	assert_true(strncmp(out, "hx=00000000deadbeef-10,s1=1,s2=2,short03=0123456789", 51) == 0);
	/* 22 + 2*4 + 23 members of 18 bytes + commas: 22 + 10 + 23*18 + 25 = 471, all short ones fit */
	assert_non_null(strstr(out, ",short25=0123456789"));
	assert_int_equal(strlen(out), 22 + 5 + 5 + 23 * 19);

	/* Under the limit, a long member stays. */
	o = (size_t)snprintf(prev, sizeof prev, "long1=%s,s1=1", big);
	assert_int_equal(hx_tracestate_format(&c, prev, out, sizeof out), HX_OK);
	assert_non_null(strstr(out, "long1="));

	/* A foreign context: no member of ours, the others kept; "" when there are none. */
	hx_context f = foreign_for(1, 1);
	assert_int_equal(hx_tracestate_format(&f, "hx=0000000000000001-1,foo=1", out, sizeof out), HX_OK);
	assert_string_equal(out, "foo=1");
	assert_int_equal(hx_tracestate_format(&f, NULL, out, sizeof out), HX_OK);
	assert_string_equal(out, "");

	/* Errors. */
	assert_int_equal(hx_tracestate_format(&c, "foo=1", out, 10), HX_ENOSPC);
	assert_string_equal(out, "");
	assert_int_equal(hx_tracestate_format(&c, NULL, out, 22), HX_ENOSPC);
	assert_int_equal(hx_tracestate_format(&c, NULL, out, 23), HX_OK);
	hx_context inv = c;
	inv.flags = 0;
	assert_int_equal(hx_tracestate_format(&inv, NULL, out, sizeof out), HX_EINVAL);
	assert_int_equal(hx_tracestate_format(NULL, NULL, out, sizeof out), HX_EINVAL);
	assert_int_equal(hx_tracestate_format(&c, NULL, NULL, 0), HX_EINVAL);
}

/* ---- round trips and carriers ---- */

static void roundtrip_one(const hx_context *c)
{
	hdrs h = {0};
	assert_int_equal(hx_inject(c, NULL, hdrs_set, &h), HX_OK);
	assert_non_null(hdrs_value(&h, "traceparent"));
	hx_context back;
	assert_int_equal(hx_extract_pairs(h.p, h.n, &back), HX_OK);
	assert_ctx_equal(&back, c);
	hdrs_free(&h);
}

static void test_roundtrip(void **state)
{
	(void)state;
	uint64_t bad0 = counter(HX_COUNT_BAD_HEADER);
	/* Hand-made contexts: sampled or not, seq 0 and the largest, foreign. */
	hx_context c = make_ctx("0af7651916cd43dd8448eb211c80319c", 0x0123456789abcdefull, 0,
	                        HX_CTX_VALID | HX_CTX_SAMPLED);
	roundtrip_one(&c);
	c.flags = HX_CTX_VALID;
	c.seq = UINT64_MAX;
	roundtrip_one(&c);
	c = make_ctx("0af7651916cd43dd8448eb211c80319c", 0x00f067aa0ba902b7ull, 0,
	             HX_CTX_VALID | HX_CTX_FOREIGN | HX_CTX_SAMPLED);
	roundtrip_one(&c);

	/* Live contexts of a real trace. */
	start_none();
	hx_context begun = hx_trace_begin("request");
	assert_true(begun.flags & HX_CTX_VALID);
	roundtrip_one(&begun);
	hx_point("work");
	hx_context cur = hx_context_current();
	assert_int_equal(cur.entity_id, begun.entity_id);
	assert_int_equal(cur.seq, begun.seq + 1);
	roundtrip_one(&cur);
	assert_int_equal(counter(HX_COUNT_BAD_HEADER), bad0);

	/* Header names in any case; tracestate split over several fields. */
	char tp[HX_TRACEPARENT_LEN + 1], ts[HX_TRACESTATE_MAX + 1];
	assert_int_equal(hx_traceparent_format(&cur, tp, sizeof tp), HX_OK);
	assert_int_equal(hx_tracestate_format(&cur, NULL, ts, sizeof ts), HX_OK);
	hx_header_pair pairs[] = {
		{"Content-Type", "text/plain"},
		{"TrAcEpArEnT", tp},
		{"TRACESTATE", "foo=1"},
		{"x-other", NULL},
		{NULL, "ignored"},
		{"TraceState", ts},
	};
	hx_context back;
	assert_int_equal(hx_extract_pairs(pairs, 6, &back), HX_OK);
	assert_ctx_equal(&back, &cur);

	/* Without a traceparent: HX_ENOENT, invalid, not counted. With two: malformed, counted. */
	assert_int_equal(hx_extract_pairs(pairs + 2, 4, &back), HX_ENOENT);
	assert_int_equal(back.flags, 0);
	assert_int_equal(counter(HX_COUNT_BAD_HEADER), bad0);
	hx_header_pair two[] = {{"traceparent", tp}, {"traceparent", tp}};
	assert_int_equal(hx_extract_pairs(two, 2, &back), HX_EFORMAT);
	assert_int_equal(back.flags, 0);
	assert_int_equal(counter(HX_COUNT_BAD_HEADER), bad0 + 1);
	/* A malformed traceparent: HX_EFORMAT, invalid. */
	hx_header_pair badtp[] = {{"traceparent", "00-xyz"}, {"tracestate", ts}};
	assert_int_equal(hx_extract_pairs(badtp, 2, &back), HX_EFORMAT);
	assert_int_equal(back.flags, 0);
	assert_int_equal(counter(HX_COUNT_BAD_HEADER), bad0 + 2);
	/* A malformed tracestate: the traceparent still counts, as a foreign parent. */
	hx_header_pair badts[] = {{"traceparent", tp}, {"tracestate", "FOO=1"}};
	assert_int_equal(hx_extract_pairs(badts, 2, &back), HX_OK);
	assert_int_equal(back.flags, HX_CTX_VALID | HX_CTX_FOREIGN | (cur.flags & HX_CTX_SAMPLED));
	assert_int_equal(back.entity_id, hx_event_digest(cur.entity_id, cur.seq));
	assert_int_equal(counter(HX_COUNT_BAD_HEADER), bad0 + 3);
	assert_int_equal(hx_extract_pairs(NULL, 1, &back), HX_EINVAL);
	assert_int_equal(hx_extract_pairs(NULL, 0, &back), HX_ENOENT);

	/* inject: prev tracestate kept behind ours; a failing carrier gives HX_EIO. */
	hdrs h = {0};
	assert_int_equal(hx_inject(&cur, "congo=t61rcWkgMzE", hdrs_set, &h), HX_OK);
	assert_int_equal(h.n, 2); /* no baggage in this trace */
	char want[HX_TRACESTATE_MAX + 32];
	snprintf(want, sizeof want, "%s,congo=t61rcWkgMzE", ts);
	assert_string_equal(hdrs_value(&h, "tracestate"), want);
	assert_string_equal(hdrs_value(&h, "traceparent"), tp);
	hdrs_free(&h);
	h.fail_on = 2;
	assert_int_equal(hx_inject(&cur, NULL, hdrs_set, &h), HX_EIO);
	hdrs_free(&h);
	hx_context inv;
	memset(&inv, 0, sizeof inv);
	assert_int_equal(hx_inject(&inv, NULL, hdrs_set, &h), HX_EINVAL);
	assert_int_equal(h.n, 0);
	assert_int_equal(hx_inject(&cur, NULL, NULL, &h), HX_EINVAL);
	assert_int_equal(hx_extract(NULL, NULL, &back), HX_EINVAL);
}

/* An OpenTelemetry service calls us: its traceparent starts our part of the trace, with its span
 * as the (foreign) cause; what we send on carries the same trace ID and its tracestate. */
static void test_foreign_parent(void **state)
{
	(void)state;
	start_none();
	hx_header_pair in[] = {
		{"traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"},
		{"tracestate", "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE"},
	};
	hx_context ctx;
	assert_int_equal(hx_extract_pairs(in, 2, &ctx), HX_OK);
	hx_context want = make_ctx("4bf92f3577b34da6a3ce929d0e0e4736", 0x00f067aa0ba902b7ull, 0,
	                           HX_CTX_VALID | HX_CTX_SAMPLED | HX_CTX_FOREIGN);
	assert_ctx_equal(&ctx, &want);

	hx_trace_join(&ctx, "server");
	hx_context cur = hx_context_current();
	assert_memory_equal(cur.trace_id, want.trace_id, 16);
	assert_int_equal(cur.flags & HX_CTX_FOREIGN, 0);
	assert_true(cur.entity_id != 0);

	hdrs h = {0};
	assert_int_equal(hx_inject(&cur, in[1].value, hdrs_set, &h), HX_OK);
	char tp[HX_TRACEPARENT_LEN + 1];
	snprintf(tp, sizeof tp, "00-4bf92f3577b34da6a3ce929d0e0e4736-%016" PRIx64 "-%s",
	         hx_event_digest(cur.entity_id, cur.seq), (cur.flags & HX_CTX_SAMPLED) ? "01" : "00");
	assert_string_equal(hdrs_value(&h, "traceparent"), tp);
	char ts[200];
	snprintf(ts, sizeof ts, "hx=%016" PRIx64 "-%" PRIx64 ",rojo=00f067aa0ba902b7,congo=t61rcWkgMzE",
	         cur.entity_id, cur.seq);
	assert_string_equal(hdrs_value(&h, "tracestate"), ts);
	hdrs_free(&h);

	/* A proxy that only forwards: the foreign parent goes on unchanged. */
	assert_int_equal(hx_inject(&ctx, in[1].value, hdrs_set, &h), HX_OK);
	assert_string_equal(hdrs_value(&h, "traceparent"), in[0].value);
	assert_string_equal(hdrs_value(&h, "tracestate"), in[1].value);
	hdrs_free(&h);
}

/* ---- binary form ---- */

static void test_binary(void **state)
{
	(void)state;
	uint8_t buf[HX_CONTEXT_BINARY_MAX];
	/* The worked example of docs/propagation.md. */
	hx_context c = make_ctx("4bf92f3577b34da6a3ce929d0e0e4736", 0x1122334455667788ull, 300,
	                        HX_CTX_VALID | HX_CTX_SAMPLED);
	static const uint8_t want[] = {
		0x01, 0x01,
		0x4b, 0xf9, 0x2f, 0x35, 0x77, 0xb3, 0x4d, 0xa6, 0xa3, 0xce, 0x92, 0x9d, 0x0e, 0x0e, 0x47, 0x36,
		0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11,
		0xac, 0x02,
	};
	assert_int_equal(hx_context_to_binary(&c, buf, sizeof buf), (int)sizeof want);
	assert_memory_equal(buf, want, sizeof want);
	hx_context back;
	assert_int_equal(hx_context_from_binary(want, sizeof want, &back), (int)sizeof want);
	assert_ctx_equal(&back, &c);

	/* Round trips over flags and seq sizes; the size is 26 + the varint's. */
	static const uint64_t seqs[] = {0, 1, 127, 128, 16383, 16384, UINT32_MAX, UINT64_MAX - 1, UINT64_MAX};
	static const int seq_bytes[] = {1, 1, 1, 2, 2, 3, 5, 10, 10};
	static const uint32_t flags[] = {HX_CTX_VALID, HX_CTX_VALID | HX_CTX_SAMPLED,
	                                 HX_CTX_VALID | HX_CTX_FOREIGN, HX_CTX_VALID | HX_CTX_SAMPLED | HX_CTX_FOREIGN};
	for (size_t i = 0; i < sizeof seqs / sizeof seqs[0]; i++)
		for (size_t f = 0; f < 4; f++) {
			c.seq = seqs[i];
			c.flags = flags[f];
			int n = hx_context_to_binary(&c, buf, sizeof buf);
			assert_int_equal(n, 26 + seq_bytes[i]);
			assert_true(n <= HX_CONTEXT_BINARY_MAX);
			assert_int_equal(hx_context_from_binary(buf, (size_t)n, &back), n);
			assert_ctx_equal(&back, &c);
			/* Trailing bytes are the caller's: only the context is consumed. */
			uint8_t longer[HX_CONTEXT_BINARY_MAX + 4];
			memcpy(longer, buf, (size_t)n);
			memset(longer + n, 0xee, 4);
			assert_int_equal(hx_context_from_binary(longer, (size_t)n + 4, &back), n);
			assert_ctx_equal(&back, &c);
		}

	/* Writing: too small a buffer, an invalid context. */
	c.seq = 300;
	c.flags = HX_CTX_VALID;
	assert_int_equal(hx_context_to_binary(&c, buf, 27), HX_ENOSPC);
	assert_int_equal(hx_context_to_binary(&c, buf, 28), 28);
	hx_context inv = c;
	inv.flags = 0;
	assert_int_equal(hx_context_to_binary(&inv, buf, sizeof buf), HX_EINVAL);
	inv = c;
	memset(inv.trace_id, 0, 16);
	assert_int_equal(hx_context_to_binary(&inv, buf, sizeof buf), HX_EINVAL);
	inv = c;
	inv.entity_id = 0;
	assert_int_equal(hx_context_to_binary(&inv, buf, sizeof buf), HX_EINVAL);
	assert_int_equal(hx_context_to_binary(NULL, buf, sizeof buf), HX_EINVAL);

	/* Rejections, one count each; *out is left invalid. */
	uint64_t bad0 = counter(HX_COUNT_BAD_HEADER);
	size_t rejected = 0;
	uint8_t m[64];
#define REJECT(bytes, n)                                                                  \
	do {                                                                              \
		memset(&back, 0x5a, sizeof back);                                         \
		assert_int_equal(hx_context_from_binary((bytes), (n), &back), HX_EFORMAT); \
		assert_int_equal(back.flags, 0);                                          \
		assert_int_equal(back.entity_id, 0);                                      \
		rejected++;                                                               \
	} while (0)
	for (size_t n = 0; n < sizeof want; n++) /* truncated anywhere */
		REJECT(want, n);
	memcpy(m, want, sizeof want);
	m[0] = 0;
	REJECT(m, sizeof want); /* version 0 */
	m[0] = 2;
	REJECT(m, sizeof want); /* a future version */
	m[0] = 1;
	m[1] = 0x04;
	REJECT(m, sizeof want); /* a reserved flag bit */
	m[1] = 0x80;
	REJECT(m, sizeof want);
	memcpy(m, want, sizeof want);
	memset(m + 2, 0, 16);
	REJECT(m, sizeof want); /* zero trace ID */
	memcpy(m, want, sizeof want);
	memset(m + 18, 0, 8);
	REJECT(m, sizeof want); /* zero entity ID */
	memcpy(m, want, 26);
	memcpy(m + 26, "\x80\x00", 2);
	REJECT(m, 28); /* seq 0 padded to two bytes */
	memcpy(m + 26, "\xac\x82\x00", 3);
	REJECT(m, 29); /* 300 padded to three */
	memset(m + 26, 0xff, 9);
	m[35] = 0x02;
	REJECT(m, 36); /* 2^64 and more: overflow */
	memset(m + 26, 0x80, 11);
	m[37] = 0x01;
	REJECT(m, 38); /* eleven bytes */
	memset(m + 26, 0xff, 20);
	REJECT(m, 46); /* never ends */
#undef REJECT
	assert_int_equal(counter(HX_COUNT_BAD_HEADER), bad0 + rejected);
	assert_int_equal(hx_context_from_binary(NULL, 5, &back), HX_EINVAL);
	assert_int_equal(hx_context_from_binary(want, sizeof want, NULL), HX_EINVAL);
	assert_int_equal(counter(HX_COUNT_BAD_HEADER), bad0 + rejected);
}

/* ---- baggage ---- */

static void test_baggage_state(void **state)
{
	(void)state;
	char buf[64];
	/* Tracing off: no current trace. */
	assert_int_equal(hx_baggage_set("k", "v"), HX_ESTATE);
	assert_int_equal(hx_baggage_get("k", buf, sizeof buf), HX_ESTATE);
	assert_int_equal(hx_baggage_format(NULL, buf, sizeof buf), HX_ESTATE);
	assert_int_equal(hx_baggage_parse(NULL, "k=v", 3), HX_ESTATE);
	start_none();
	/* On, but in no trace. */
	assert_int_equal(hx_baggage_set("k", "v"), HX_ESTATE);
	hx_point("outside");
	assert_int_equal(hx_baggage_set("k", "v"), HX_ESTATE);
	hx_context t = hx_trace_begin("job");
	assert_int_equal(hx_baggage_set("k", "v"), HX_OK);
	assert_int_equal(hx_baggage_get("k", buf, sizeof buf), 1);
	assert_string_equal(buf, "v");
	assert_int_equal(hx_baggage_set("k", "value2"), HX_OK); /* replace */
	assert_int_equal(hx_baggage_get("k", buf, sizeof buf), 6);
	assert_string_equal(buf, "value2");
	assert_int_equal(hx_baggage_get("k", buf, 6), HX_ENOSPC);
	assert_string_equal(buf, "");
	assert_int_equal(hx_baggage_get("nope", buf, sizeof buf), HX_ENOENT);
	assert_int_equal(hx_baggage_set("bad key", "v"), HX_EINVAL);
	assert_int_equal(hx_baggage_set("", "v"), HX_EINVAL);
	assert_int_equal(hx_baggage_set("k=", "v"), HX_EINVAL);
	assert_int_equal(hx_baggage_set(NULL, "v"), HX_EINVAL);
	assert_int_equal(hx_baggage_get(NULL, buf, sizeof buf), HX_EINVAL);
	assert_int_equal(hx_baggage_set("a", ""), HX_OK); /* an empty value is a value */
	assert_int_equal(hx_baggage_get("a", buf, sizeof buf), 0);
	assert_int_equal(hx_baggage_format(NULL, buf, sizeof buf), 11);
	assert_string_equal(buf, "k=value2,a=");
	assert_int_equal(hx_baggage_format(t.trace_id, buf, sizeof buf), 11);
	assert_int_equal(hx_baggage_format(t.trace_id, NULL, 0), 11); /* size query */
	assert_int_equal(hx_baggage_format(t.trace_id, buf, 11), HX_ENOSPC);
	assert_string_equal(buf, "");
	assert_int_equal(hx_baggage_set("k", NULL), HX_OK); /* remove */
	assert_int_equal(hx_baggage_get("k", buf, sizeof buf), HX_ENOENT);
	assert_int_equal(hx_baggage_set("k", NULL), HX_OK); /* removing twice is fine */
	assert_int_equal(hx_baggage_format(NULL, buf, sizeof buf), 2);
	assert_string_equal(buf, "a=");

	/* After the trace ends, the entity is in no trace; the baggage stays with the trace. */
	hx_trace_end();
	assert_int_equal(hx_baggage_get("a", buf, sizeof buf), HX_ESTATE);
	assert_int_equal(hx_baggage_format(t.trace_id, buf, sizeof buf), 2);
	/* And it outlives a restart of tracing (traces outlive it too). */
	assert_int_equal(hx_shutdown(), HX_OK);
	assert_int_equal(hx_baggage_set("k", "v"), HX_ESTATE);
	assert_int_equal(hx_baggage_format(t.trace_id, buf, sizeof buf), 2);
	start_none();
	hx_trace_join(&t, "again");
	assert_int_equal(hx_baggage_get("a", buf, sizeof buf), 0);

	uint8_t zero[16] = {0};
	assert_int_equal(hx_baggage_format(zero, buf, sizeof buf), HX_EINVAL);
	assert_int_equal(hx_baggage_parse(zero, "k=v", 3), HX_EINVAL);
	assert_int_equal(hx_baggage_format(t.trace_id, NULL, 5), HX_EINVAL);
}

static void test_baggage_limits(void **state)
{
	(void)state;
	start_none();
	hx_trace_begin("limits");
	uint64_t drop0 = counter(HX_COUNT_BAGGAGE_DROPPED);
	char key[16], buf[64];
	for (int i = 0; i < HX_BAGGAGE_MAX_ENTRIES; i++) {
		snprintf(key, sizeof key, "k%d", i);
		assert_int_equal(hx_baggage_set(key, "v"), HX_OK);
	}
	assert_int_equal(hx_baggage_set("k64", "v"), HX_ENOSPC); /* the 65th entry */
	assert_int_equal(counter(HX_COUNT_BAGGAGE_DROPPED), drop0 + 1);
	assert_int_equal(hx_baggage_get("k64", buf, sizeof buf), HX_ENOENT);
	assert_int_equal(hx_baggage_set("k63", "replaced"), HX_OK); /* replacing adds no entry */
	assert_int_equal(counter(HX_COUNT_BAGGAGE_DROPPED), drop0 + 1);

	/* Bytes: "big=" + value, alone in the trace, may be 8192 bytes serialized, not 8193. */
	hx_trace_begin("bytes");
	char *v = hxt_xmalloc(HX_BAGGAGE_MAX_BYTES + 1);
	memset(v, 'x', HX_BAGGAGE_MAX_BYTES);
	v[HX_BAGGAGE_MAX_BYTES - 4] = 0;
	assert_int_equal(hx_baggage_set("big", v), HX_OK);
	assert_int_equal(hx_baggage_format(NULL, NULL, 0), HX_BAGGAGE_MAX_BYTES);
	assert_int_equal(hx_baggage_set("a", "b"), HX_ENOSPC); /* ",a=b" would exceed */
	assert_int_equal(counter(HX_COUNT_BAGGAGE_DROPPED), drop0 + 2);
	memset(v, 'x', HX_BAGGAGE_MAX_BYTES);
	v[HX_BAGGAGE_MAX_BYTES - 3] = 0;
	assert_int_equal(hx_baggage_set("big", v), HX_ENOSPC); /* one byte over: the old value stays */
	assert_int_equal(counter(HX_COUNT_BAGGAGE_DROPPED), drop0 + 3);
	char *out = hxt_xmalloc(HX_BAGGAGE_MAX_BYTES + 1);
	assert_int_equal(hx_baggage_get("big", out, HX_BAGGAGE_MAX_BYTES + 1), HX_BAGGAGE_MAX_BYTES - 4);
	/* Percent-encoding counts: a space takes 3 bytes. */
	hx_trace_begin("encoded");
	memset(v, ' ', HX_BAGGAGE_MAX_BYTES);
	v[(HX_BAGGAGE_MAX_BYTES - 4) / 3] = 0; /* 2729 spaces: 4 + 8187 bytes */
	assert_int_equal(hx_baggage_set("big", v), HX_OK);
	assert_int_equal(hx_baggage_format(NULL, NULL, 0), 4 + 3 * ((HX_BAGGAGE_MAX_BYTES - 4) / 3));
	v[(HX_BAGGAGE_MAX_BYTES - 4) / 3] = ' ';
	v[(HX_BAGGAGE_MAX_BYTES - 4) / 3 + 1] = 0;
	assert_int_equal(hx_baggage_set("big", v), HX_ENOSPC);
	assert_int_equal(counter(HX_COUNT_BAGGAGE_DROPPED), drop0 + 4);
	free(v);
	free(out);

	/* Through a header: 70 members, 64 kept, 6 dropped and counted. */
	uint8_t id[16];
	fresh_trace_id(id);
	char hdr[1024];
	size_t o = 0;
	for (int i = 0; i < 70; i++)
		o += (size_t)snprintf(hdr + o, sizeof hdr - o, "%sm%d=%d", i ? "," : "", i, i);
	assert_int_equal(hx_baggage_parse(id, hdr, o), HX_OK);
	assert_int_equal(counter(HX_COUNT_BAGGAGE_DROPPED), drop0 + 10);
	char *fmt = hxt_xmalloc(HX_BAGGAGE_MAX_BYTES + 1);
	int n = hx_baggage_format(id, fmt, HX_BAGGAGE_MAX_BYTES + 1);
	assert_true(n > 0);
	assert_non_null(strstr(fmt, "m63=63"));
	assert_null(strstr(fmt, "m64="));
	/* A member over 8192 bytes by itself is dropped, counted. */
	uint8_t id2[16];
	fresh_trace_id(id2);
	char *huge = hxt_xmalloc(HX_BAGGAGE_MAX_BYTES + 16);
	memcpy(huge, "a=1,h=", 6);
	memset(huge + 6, 'y', HX_BAGGAGE_MAX_BYTES + 4);
	assert_int_equal(hx_baggage_parse(id2, huge, HX_BAGGAGE_MAX_BYTES + 10), HX_OK);
	assert_int_equal(counter(HX_COUNT_BAGGAGE_DROPPED), drop0 + 11);
	assert_int_equal(hx_baggage_format(id2, fmt, HX_BAGGAGE_MAX_BYTES + 1), 3);
	assert_string_equal(fmt, "a=1");
	free(huge);
	free(fmt);
}

static void test_baggage_parse(void **state)
{
	(void)state;
	uint8_t id[16];
	fresh_trace_id(id);
	uint64_t bad0 = counter(HX_COUNT_BAD_HEADER);
	char out[512];
	/* OWS, properties (dropped), empty members, percent-decoding, an empty value. */
	const char *h = " userId = alice ;prop=1;flag , , serverNode=DF%2028,isProduction=false;x,e= ,pct=%25%2C%3b ";
	assert_int_equal(hx_baggage_parse(id, h, strlen(h)), HX_OK);
	assert_int_equal(counter(HX_COUNT_BAD_HEADER), bad0);
	int n = hx_baggage_format(id, out, sizeof out);
	assert_string_equal(out, "userId=alice,serverNode=DF%2028,isProduction=false,e=,pct=%25%2C%3B");
	assert_int_equal(n, (int)strlen(out));

	/* Malformed members are skipped and counted; the good ones are kept; later keys replace. */
	uint8_t id2[16];
	fresh_trace_id(id2);
	const char *bad = "a=1,b=x y,=v,c,d=%zz,e=%4,f=\"q\",g=back\\slash,h=ok;bad prop,i=2;=v,a=3";
	assert_int_equal(hx_baggage_parse(id2, bad, strlen(bad)), HX_EFORMAT);
	assert_int_equal(counter(HX_COUNT_BAD_HEADER), bad0 + 9);
	assert_int_equal(hx_baggage_format(id2, out, sizeof out), 3);
	assert_string_equal(out, "a=3");

	/* Merging into existing baggage. */
	assert_int_equal(hx_baggage_parse(id2, "z=26", 4), HX_OK);
	assert_int_equal(hx_baggage_format(id2, out, sizeof out), 8);
	assert_string_equal(out, "a=3,z=26");
	/* Only the first len bytes are read. */
	assert_int_equal(hx_baggage_parse(id2, "y=1,x=2", 3), HX_OK);
	hx_baggage_format(id2, out, sizeof out);
	assert_string_equal(out, "a=3,z=26,y=1");
	assert_int_equal(hx_baggage_parse(id2, NULL, 0), HX_OK);
	assert_int_equal(hx_baggage_parse(id2, NULL, 1), HX_EINVAL);
	/* A header of empty members adds nothing and creates no table entry. */
	uint8_t id3[16];
	fresh_trace_id(id3);
	assert_int_equal(hx_baggage_parse(id3, " , ,", 4), HX_OK);
	assert_int_equal(hx_baggage_format(id3, out, sizeof out), 0);
	assert_string_equal(out, "");
}

static void test_baggage_encoding(void **state)
{
	(void)state;
	start_none();
	hx_context a = hx_trace_begin("encode");
	/* Every byte but NUL, and the characters W3C forbids raw. */
	char value[256];
	for (int i = 1; i < 256; i++)
		value[i - 1] = (char)i;
	value[255] = 0;
	assert_int_equal(hx_baggage_set("all", value), HX_OK);
	assert_int_equal(hx_baggage_set("text", "Hello, world; \"100%\" \\o/"), HX_OK);
	char hdr[2048];
	int n = hx_baggage_format(NULL, hdr, sizeof hdr);
	assert_true(n > 0);
	for (int i = 0; i < n; i++) {
		unsigned char c = (unsigned char)hdr[i];
		assert_true(c >= 0x21 && c <= 0x7e && c != '"' && c != ';' && c != '\\');
	}
	assert_non_null(strstr(hdr, "text=Hello%2C%20world%3B%20%22100%25%22%20%5Co/"));

	/* Another process receives the header for a trace of its own. */
	hx_context b = a;
	fresh_trace_id(b.trace_id);
	b.flags = HX_CTX_VALID | HX_CTX_FOREIGN | HX_CTX_SAMPLED;
	assert_int_equal(hx_baggage_parse(b.trace_id, hdr, (size_t)n), HX_OK);
	char hdr2[2048];
	assert_int_equal(hx_baggage_format(b.trace_id, hdr2, sizeof hdr2), n);
	assert_string_equal(hdr2, hdr);
	hx_trace_join(&b, "receiver");
	char got[300];
	assert_int_equal(hx_baggage_get("all", got, sizeof got), 255);
	assert_memory_equal(got, value, 256);
	assert_int_equal(hx_baggage_get("text", got, sizeof got), 24);
	assert_string_equal(got, "Hello, world; \"100%\" \\o/");

	/* Lower-case escapes decode too; a NUL byte survives (get returns the length). */
	uint8_t id[16];
	fresh_trace_id(id);
	assert_int_equal(hx_baggage_parse(id, "z=a%00b%e2%82%ac", 16), HX_OK);
	hx_baggage_format(id, hdr2, sizeof hdr2);
	assert_string_equal(hdr2, "z=a%00b%E2%82%AC");
}

/* In-process propagation: a thread that joins the trace sees its baggage, and adds to it. */
static hx_context g_join_ctx;
static char g_seen[64];
static int g_seen_rc, g_set_rc;

static void *joiner(void *arg)
{
	(void)arg;
	hx_trace_join(&g_join_ctx, "worker");
	g_seen_rc = hx_baggage_get("tenant", g_seen, sizeof g_seen);
	g_set_rc = hx_baggage_set("worker", "done");
	return NULL;
}

static void test_baggage_threads(void **state)
{
	(void)state;
	start_none();
	g_join_ctx = hx_trace_begin("fanout");
	assert_int_equal(hx_baggage_set("tenant", "acme"), HX_OK);
	pthread_t th;
	assert_int_equal(pthread_create(&th, NULL, joiner, NULL), 0);
	assert_int_equal(pthread_join(th, NULL), 0);
	assert_int_equal(g_seen_rc, 4);
	assert_string_equal(g_seen, "acme");
	assert_int_equal(g_set_rc, HX_OK);
	char buf[64];
	assert_int_equal(hx_baggage_get("worker", buf, sizeof buf), 4);
	assert_string_equal(buf, "done");
	/* And across processes: inject carries it, extract stores it for the trace. */
	hdrs h = {0};
	hx_context cur = hx_context_current();
	assert_int_equal(hx_inject(&cur, NULL, hdrs_set, &h), HX_OK);
	assert_int_equal(h.n, 3);
	assert_string_equal(hdrs_value(&h, "baggage"), "tenant=acme,worker=done");
	hdrs_free(&h);

	hx_header_pair in[] = {
		{"traceparent", "00-5bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"},
		{"Baggage", "a=1"},
		{"baggage", "b=2"},
	};
	hx_context x;
	assert_int_equal(hx_extract_pairs(in, 3, &x), HX_OK);
	assert_int_equal(hx_baggage_format(x.trace_id, buf, sizeof buf), 7);
	assert_string_equal(buf, "a=1,b=2");
}

static void test_baggage_lru(void **state)
{
	(void)state;
	/* Fill the table with traces of one entry each, then one more: the least recently used
	 * trace is forgotten (its entry counted), the one touched recently stays. */
	uint8_t first[16], second[16], id[16];
	fresh_trace_id(first);
	fresh_trace_id(second);
	assert_int_equal(hx_baggage_parse(first, "k=first", 7), HX_OK);
	assert_int_equal(hx_baggage_parse(second, "k=second", 8), HX_OK);
	for (int i = 0; i < HX_BAGGAGE_MAX_TRACES; i++) {
		fresh_trace_id(id);
		assert_int_equal(hx_baggage_parse(id, "k=v", 3), HX_OK);
		if (i == HX_BAGGAGE_MAX_TRACES / 2) /* touch `first`: it becomes the most recent */
			assert_int_equal(hx_baggage_format(first, NULL, 0), 7);
	}
	uint64_t drop0 = counter(HX_COUNT_BAGGAGE_DROPPED);
	char buf[32];
	assert_int_equal(hx_baggage_format(second, buf, sizeof buf), 0); /* evicted */
	assert_int_equal(hx_baggage_format(first, buf, sizeof buf), 7);
	assert_string_equal(buf, "k=first");
	fresh_trace_id(id);
	assert_int_equal(hx_baggage_parse(id, "a=1,b=2", 7), HX_OK);
	assert_int_equal(counter(HX_COUNT_BAGGAGE_DROPPED), drop0 + 1); /* one trace of one entry */
	assert_int_equal(hx_baggage_format(first, buf, sizeof buf), 7);
	assert_int_equal(hx_baggage_format(id, buf, sizeof buf), 7);
}

#ifdef HXT_CURL
static void test_curl_inject(void **state)
{
	(void)state;
	struct curl_slist *headers = NULL;
	hx_context c = make_ctx("4bf92f3577b34da6a3ce929d0e0e4736", 0x1122334455667788ull, 42,
	                        HX_CTX_VALID | HX_CTX_SAMPLED);
	assert_int_equal(hx_curl_inject(&c, &headers), HX_OK);
	assert_non_null(headers);
	char want[128];
	snprintf(want, sizeof want, "traceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736-%016" PRIx64 "-01",
	         hx_event_digest(c.entity_id, c.seq));
	assert_string_equal(headers->data, want);
	assert_non_null(headers->next);
	assert_string_equal(headers->next->data, "tracestate: hx=1122334455667788-2a");
	assert_null(headers->next->next); /* no baggage for this trace */
	curl_slist_free_all(headers);

	headers = NULL;
	c.flags = 0;
	assert_int_equal(hx_curl_inject(&c, &headers), HX_EINVAL);
	assert_null(headers);
	assert_int_equal(hx_curl_inject(&c, NULL), HX_EINVAL);
}
#endif

int main(void)
{
	const struct CMUnitTest tests[] = {
#ifdef HXT_CURL
		cmocka_unit_test_setup_teardown(test_curl_inject, setup, teardown),
#endif
		cmocka_unit_test_setup_teardown(test_traceparent_valid, setup, teardown),
		cmocka_unit_test_setup_teardown(test_traceparent_invalid, setup, teardown),
		cmocka_unit_test_setup_teardown(test_traceparent_format, setup, teardown),
		cmocka_unit_test_setup_teardown(test_event_digest, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tracestate_apply, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tracestate_w3c_vectors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tracestate_format, setup, teardown),
		cmocka_unit_test_setup_teardown(test_roundtrip, setup, teardown),
		cmocka_unit_test_setup_teardown(test_foreign_parent, setup, teardown),
		cmocka_unit_test_setup_teardown(test_binary, setup, teardown),
		cmocka_unit_test_setup_teardown(test_baggage_state, setup, teardown),
		cmocka_unit_test_setup_teardown(test_baggage_limits, setup, teardown),
		cmocka_unit_test_setup_teardown(test_baggage_parse, setup, teardown),
		cmocka_unit_test_setup_teardown(test_baggage_encoding, setup, teardown),
		cmocka_unit_test_setup_teardown(test_baggage_threads, setup, teardown),
		cmocka_unit_test_setup_teardown(test_baggage_lru, setup, teardown),
	};
	return cmocka_run_group_tests_name("propagation", tests, NULL, NULL);
}
