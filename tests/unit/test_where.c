/*
 * test_where.c - the --where expressions (src/analysis/where.c): what parses and what does not
 * (with the offset of the error), precedence (not, and, or, parentheses), every field and
 * operator on hand-made features, units and exact integers, multi-valued fields, attributes,
 * block fields with and without a block in scope, and the limits (length, nesting).
 */
#include "../hxtest.h"

#include "analysis/trace_features.h"

#include <setjmp.h>
#include <cmocka.h>

static hx__feat_block blocks[] = {
    {"cache", 3, 2000000, 1500000, 0, 100},
    {"db.query", 1, 12000000, 9000000, 4000000, 11000000},
};
static char *services[] = {"cart", "payment"};
static char *hosts[] = {"web-1"};

/* A trace: 250 ms, 40 events, 3 entities, 2 processes, 1 host, 1 error, fan-out 3, critical
 * 250 ms, root "GET /cart", services cart and payment, blocks cache and db.query, attributes
 * http.route=/cart, status=200, ratio=0.5. */
static hx__features feat(void)
{
	hx__features f;
	memset(&f, 0, sizeof(f));
	for (int i = 0; i < 16; i++)
		f.trace_id[i] = (uint8_t)(0xa0 + i);
	f.duration_ns = 250000000;
	f.critical_ns = 250000000;
	f.events = 40;
	f.entities = 3;
	f.processes = 2;
	f.hosts = 1;
	f.errors = 1;
	f.fanout = 3;
	f.root_name = "GET /cart";
	f.services = services;
	f.nservices = 2;
	f.host_names = hosts;
	f.nhost_names = 1;
	f.blocks = blocks;
	f.nblocks = 2;
	f.attrs[0].key = "http.route";
	f.attrs[0].value = "/cart";
	f.attrs[1].key = "status";
	f.attrs[1].value = "200";
	f.attrs[2].key = "ratio";
	f.attrs[2].value = "0.5";
	f.nattrs = 3;
	return f;
}

/* The expression's verdict on feat() (block: an index in blocks[], or -1), parsing must succeed. */
static int verdict(const char *expr, int block)
{
	hx__where *w;
	char err[256];
	int rc = hx__where_parse(expr, &w, err, sizeof err);
	if (rc != HX_OK)
		fail_msg("'%s' did not parse: %s", expr, err);
	hx__features f = feat();
	int v = hx__where_match(w, &f, block >= 0 ? &blocks[block] : NULL);
	hx__where_free(w);
	return v;
}

#define YES(e) assert_int_equal(verdict((e), -1), 1)
#define NO(e) assert_int_equal(verdict((e), -1), 0)

/* Parsing must fail with a message holding `want` (and "at offset N" when off >= 0). */
static void bad(const char *expr, int off, const char *want)
{
	hx__where *w = (hx__where *)1;
	char err[256];
	assert_int_equal(hx__where_parse(expr, &w, err, sizeof err), HX_EINVAL);
	assert_null(w);
	if (!strstr(err, want))
		fail_msg("'%s': error '%s' does not say '%s'", expr, err, want);
	if (off >= 0) {
		char at[32];
		snprintf(at, sizeof at, "at offset %d:", off);
		if (strncmp(err, at, strlen(at)))
			fail_msg("'%s': error '%s' is not %s", expr, err, at);
	}
}

static void test_numbers_and_units(void **state)
{
	(void)state;
	YES("duration > 249ms");
	YES("duration = 250ms");
	YES("duration = 0.25s");
	YES("duration == 250000000");
	YES("duration >= 250000us");
	YES("duration <= 250000000ns");
	NO("duration < 250ms");
	NO("duration != 250ms");
	YES("duration < 1m");
	YES("duration < 1h");
	YES("duration > 1.5e2ms");
	YES("duration > 249999\xc2\xb5s");
	YES("duration_ns = 250ms");
	YES("critical = 250ms");
	YES("critical_ns > 10ms");
	YES("events = 40");
	YES("entities = 3 and processes = 2 and hosts = 1");
	YES("errors >= 1");
	NO("errors > 1");
	YES("fanout = 3");
	YES("events > -5");
	YES("events < 40.5");
	NO("events = 40.5");
	/* exact integers: 2^63 + 1 is not 2^63 */
	NO("events = 9223372036854775809");
	YES("events < 18446744073709551615");
	YES("duration < 99999999999h"); /* past 2^64 ns: compared as a double */
}

static void test_strings(void **state)
{
	(void)state;
	YES("root = \"GET /cart\"");
	YES("root ~ \"GET\"");
	YES("root ~ 'cart'");
	NO("root ~ \"POST\"");
	YES("root != \"POST\"");
	YES("root > \"GET\"");
	YES("root < \"GET /z\"");
	YES("trace = \"a0a1a2a3a4a5a6a7a8a9aaabacadaeaf\"");
	YES("trace ~ \"adaeaf\"");
	/* escapes */
	YES("root != \"a\\\"b\\\\c\\n\\t\\r\\'\"");
	/* multi-valued: any matches; != when none equals */
	YES("service = \"cart\"");
	YES("service = \"payment\"");
	NO("service = \"shipping\"");
	YES("service != \"shipping\"");
	NO("service != \"cart\"");
	YES("service ~ \"pay\"");
	YES("host = \"web-1\"");
	NO("host != \"web-1\"");
	YES("name = \"db.query\"");
	YES("name ~ \"cach\"");
	NO("name = \"render\"");
	NO("name != \"cache\"");
}

static void test_attributes(void **state)
{
	(void)state;
	YES("attr.http.route = \"/cart\"");
	YES("attr.http.route ~ \"ca\"");
	NO("attr.http.route = \"/pay\"");
	YES("attr.status = 200");
	YES("attr.status >= 200 and attr.status < 300");
	YES("attr.status = \"200\"");
	YES("attr.ratio < 1");
	YES("attr.ratio = 0.5");
	/* a string value against a number: not a number, so only != holds */
	NO("attr.http.route = 5");
	YES("attr.http.route != 5");
	/* missing: only != holds */
	NO("attr.missing = \"x\"");
	NO("attr.missing ~ \"x\"");
	NO("attr.missing < 5");
	YES("attr.missing != \"x\"");
	YES("attr.\"http.route\" = \"/cart\"");
	/* the keys an expression reads, each once */
	hx__where *w;
	char err[200];
	assert_int_equal(hx__where_parse("attr.a = 1 or (attr.b = 2 and attr.a != 3) or duration > 1", &w, err, sizeof err),
	                 HX_OK);
	const char *keys[4];
	assert_int_equal(hx__where_attr_keys(w, keys, 4), 2);
	assert_string_equal(keys[0], "a");
	assert_string_equal(keys[1], "b");
	assert_int_equal(hx__where_attr_keys(w, keys, 1), 2); /* counts past max */
	hx__where_free(w);
	assert_int_equal(hx__where_attr_keys(NULL, keys, 4), 0);
}

static void test_precedence(void **state)
{
	(void)state;
	/* or binds looser than and: true or (false and false) */
	YES("errors = 1 or events = 0 and fanout = 0");
	/* (true or false) and false */
	NO("(errors = 1 or events = 0) and fanout = 0");
	/* not binds tighter than and: (not true) and true */
	NO("not errors = 1 and fanout = 3");
	YES("not (errors = 0 and fanout = 3)");
	YES("not not errors = 1");
	YES("! events = 1 && events = 40");
	YES("events = 1 || events = 40");
	YES("NOT events = 1 AND events = 40 OR events = 2");
	/* left to right: a or b or c, a and b and c */
	YES("events = 1 or events = 2 or events = 40");
	NO("events = 40 and fanout = 3 and errors = 0");
	YES("((((events = 40))))");
	YES("  events=40  ");
	YES("\tevents\n=\r40");
	/* words are words: "notes" is not "not", "order" not "or" */
	bad("notes = 1", 0, "unknown field 'notes'");
	bad("events = 40 order", 12, "unexpected 'o'");
}

static void test_blocks(void **state)
{
	(void)state;
	/* with a block in scope: its fields; name and critical are its own */
	assert_int_equal(verdict("name = \"db.query\" and total > 10ms", 1), 1);
	assert_int_equal(verdict("name = \"db.query\" and total > 10ms", 0), 0);
	assert_int_equal(verdict("count = 3 and self = 1.5ms and wait = 0", 0), 1);
	assert_int_equal(verdict("wait = 4ms", 1), 1);
	assert_int_equal(verdict("critical = 11ms", 1), 1);
	assert_int_equal(verdict("critical = 250ms", 1), 0);
	assert_int_equal(verdict("name != \"cache\"", 1), 1);
	/* without one: critical is the trace's, and block fields hold when one block makes the whole
	 * expression true, with that block's name */
	YES("critical = 250ms");
	YES("self > 5ms");
	YES("name = \"db.query\" and self > 5ms");
	NO("name = \"cache\" and self > 5ms");
	YES("count = 3 and name = \"cache\"");
	NO("count = 3 and name = \"db.query\"");
	NO("total > 1s");
	/* a trace without blocks: block fields hold for no block */
	hx__where *w;
	char err[200];
	assert_int_equal(hx__where_parse("total > 0 or errors = 1", &w, err, sizeof err), HX_OK);
	hx__features f = feat();
	f.nblocks = 0;
	assert_int_equal(hx__where_match(w, &f, NULL), 1);
	f.errors = 0;
	assert_int_equal(hx__where_match(w, &f, NULL), 0);
	hx__where_free(w);
	/* no expression passes everything */
	assert_int_equal(hx__where_match(NULL, &f, NULL), 1);
}

static void test_errors(void **state)
{
	(void)state;
	bad("", 0, "expected a field");
	bad("   ", 3, "found the end");
	bad("speed > 3", 0, "unknown field 'speed'");
	bad("duration", 8, "expected a comparison");
	bad("duration 5", 9, "expected a comparison");
	bad("duration >", 10, "expected a value");
	bad("duration > fast", 11, "expected a value");
	bad("duration > 5 parsecs", 13, "unexpected 'p'");
	bad("duration > 5parsecs", 12, "unknown unit 'parsecs'");
	bad("events > 5ms", 9, "events is a count: no unit");
	bad("duration > \"5\"", 11, "compares with a number");
	bad("duration ~ 5", 9, "~ (contains) compares strings");
	bad("root = 5", 7, "compares with a \"quoted string\"");
	bad("service = cart", 10, "expected a value");
	bad("root = \"open", 7, "string not closed");
	bad("root = \"a\\qb\"", 9, "unknown escape");
	bad("(events = 1", 0, "'(' not closed");
	bad("events = 1)", 10, "unexpected ')'");
	bad("events = 1 and", 14, "found the end");
	bad("events = 1 or or events = 2", 14, "unknown field 'or'");
	bad("not", 3, "found the end");
	bad("attr. = 1", 0, "attr. needs a key");
	bad("attr.\"\" = 1", 0, "attr. needs a key");
	bad("attr.x = 5ms", 9, "no unit");
	bad("attr.x ~ 5", 7, "needs a \"quoted string\"");
	bad("events = .", 9, "expected a number");
	bad("events = 1e999", 9, "out of range");
	bad("events = 12345678901234567890123456789012345678901234567890123456789012345678901234", 9, "too long");
	bad("duration = 5 ms", 13, "unexpected 'm'");
	bad("events = 5x", 10, "unknown unit 'x'");
	bad("events = 1 & events = 2", 11, "unexpected '&'");
	/* NULL and a NULL error buffer */
	hx__where *w;
	assert_int_equal(hx__where_parse(NULL, &w, NULL, 0), HX_EINVAL);
	assert_int_equal(hx__where_parse("bogus", &w, NULL, 0), HX_EINVAL);
	char tiny[8];
	assert_int_equal(hx__where_parse("bogus", &w, tiny, sizeof tiny), HX_EINVAL);
	assert_int_equal(strlen(tiny), 7);
}

static void test_limits(void **state)
{
	(void)state;
	char *s = hxt_xmalloc(HX__WHERE_MAX_LEN + 100);
	/* nesting: 64 parentheses parse, 65 do not */
	for (int depth = HX__WHERE_MAX_DEPTH; depth <= HX__WHERE_MAX_DEPTH + 1; depth++) {
		size_t n = 0;
		for (int i = 0; i < depth; i++)
			s[n++] = '(';
		n += (size_t)sprintf(s + n, "events = 40");
		for (int i = 0; i < depth; i++)
			s[n++] = ')';
		s[n] = 0;
		hx__where *w;
		char err[200];
		int rc = hx__where_parse(s, &w, err, sizeof err);
		if (depth <= HX__WHERE_MAX_DEPTH) {
			assert_int_equal(rc, HX_OK);
			hx__features f = feat();
			assert_int_equal(hx__where_match(w, &f, NULL), 1);
			hx__where_free(w);
		} else {
			assert_int_equal(rc, HX_EINVAL);
			assert_non_null(strstr(err, "nested more than"));
		}
	}
	/* nots nest too */
	size_t n = 0;
	for (int i = 0; i < 1000; i++)
		n += (size_t)sprintf(s + n, "not ");
	sprintf(s + n, "events = 40");
	bad(s, -1, "nested more than");
	/* a long flat chain is fine (no recursion per "or") up to the length limit */
	n = 0;
	while (n + 25 <= HX__WHERE_MAX_LEN)
		n += (size_t)sprintf(s + n, "events = 1 or ");
	sprintf(s + n, "events = 40");
	assert_int_equal(verdict(s, -1), 1);
	memset(s, ' ', HX__WHERE_MAX_LEN + 1);
	s[HX__WHERE_MAX_LEN + 1] = 0;
	bad(s, 0, "longer than");
	free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_numbers_and_units),
		cmocka_unit_test(test_strings),
		cmocka_unit_test(test_attributes),
		cmocka_unit_test(test_precedence),
		cmocka_unit_test(test_blocks),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_limits),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
