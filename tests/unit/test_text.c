/*
 * test_text.c - the event text line and JSON object (src/format/text.c): exact output for every
 * kind of field, escaping of hostile strings (control bytes, quotes, invalid UTF-8, C1 controls,
 * U+2028), doubles under a comma-decimal locale, dates across leap years, and the buffer itself.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <locale.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "format/text.h"

static const uint8_t TRACE[16] = {0x01, 0x93, 0x5e, 0x70, 0x00, 0x01, 0x70, 0x00,
                                  0x80, 0x00, 0x00, 0x00, 0x9a, 0x8b, 0x7c, 0x6d};

/* 2026-11-24T10:20:00.123456789Z */
#define T0 1795515600123456789ull

static hx_event base_event(void)
{
	hx_event ev;
	memset(&ev, 0, sizeof(ev));
	ev.kind = HX_EV_POINT;
	ev.time_ns = T0;
	ev.entity_id = 0x3f2a0b1c4d5e6f70ull;
	ev.seq = 17;
	ev.name = "cache miss";
	ev.name_len = 10;
	return ev;
}

static void expect_text(const hx_event *ev, const char *want)
{
	hx__buf b = HX__BUF_INIT;
	assert_int_equal(hx__event_text(&b, ev), HX_OK);
	assert_string_equal(b.p, want);
	assert_int_equal(strlen(b.p), b.len);
	hx__buf_free(&b);
}

static void expect_json(const hx_event *ev, const char *want)
{
	hx__buf b = HX__BUF_INIT;
	assert_int_equal(hx__event_json(&b, ev), HX_OK);
	assert_string_equal(b.p, want);
	hx__buf_free(&b);
}

static void test_buf(void **state)
{
	(void)state;
	hx__buf b = HX__BUF_INIT;
	hx__buf_reset(&b); /* on an empty buffer */
	assert_int_equal(hx__buf_puts(&b, "ab"), HX_OK);
	assert_int_equal(hx__buf_putc(&b, 'c'), HX_OK);
	assert_int_equal(hx__buf_append(&b, "d\0e", 3), HX_OK);
	assert_int_equal(b.len, 6);
	assert_memory_equal(b.p, "abcd\0e", 7);
	char big[3000];
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = 0;
	assert_int_equal(hx__buf_printf(&b, "[%s]%d", big, 42), HX_OK);
	assert_int_equal(b.len, 6 + 1 + 2999 + 1 + 2);
	assert_string_equal(b.p + b.len - 4, "x]42");
	assert_int_equal(b.p[b.len], '\0');
	hx__buf_reset(&b);
	assert_int_equal(b.len, 0);
	assert_string_equal(b.p, "");
	assert_int_equal(hx__buf_grow(&b, SIZE_MAX - 1), HX_ENOMEM);
	hx__buf_free(&b);
	assert_null(b.p);
}

static void test_time(void **state)
{
	(void)state;
	static const struct {
		uint64_t ns;
		const char *iso;
	} cases[] = {
		{0, "1970-01-01T00:00:00.000000000Z"},
		{951782400000000001ull, "2000-02-29T00:00:00.000000001Z"},
		{951868799999999999ull, "2000-02-29T23:59:59.999999999Z"},
		{4107542400000000000ull, "2100-03-01T00:00:00.000000000Z"},
		{T0, "2026-11-24T10:20:00.123456789Z"},
		{UINT64_MAX, "2554-07-21T23:34:33.709551615Z"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		hx__buf b = HX__BUF_INIT;
		assert_int_equal(hx__time_iso(&b, cases[i].ns), HX_OK);
		assert_string_equal(b.p, cases[i].iso);
		hx__buf_free(&b);
	}
}

static void test_point_line(void **state)
{
	(void)state;
	hx_event ev = base_event();
	expect_text(&ev, "2026-11-24T10:20:00.123456789Z 3f2a0b1c4d5e6f70:17 point        \"cache miss\"");
	memcpy(ev.trace_id, TRACE, 16);
	static const uint8_t blob[40] = {0xde, 0xad, 0xbe, 0xef};
	hx_attr a[] = {
		HX_INT("bytes", 42), HX_STR("path", "x"), HX_DOUBLE("ratio", 0.1), HX_DOUBLE("whole", 3),
		HX_BOOL("hit", 0), HX_BYTES("blob", blob, 4), HX_BYTES("big", blob, 40),
		HX_INT("odd key", -7), HX_DOUBLE("nan", NAN),
	};
	ev.attrs = a;
	ev.nattrs = sizeof(a) / sizeof(a[0]);
	expect_text(&ev, "2026-11-24T10:20:00.123456789Z 3f2a0b1c4d5e6f70:17 trace=9a8b7c6d point        "
	                 "\"cache miss\" bytes=42 path=\"x\" ratio=0.1 whole=3.0 hit=false blob=0xdeadbeef "
	                 "big=0xdeadbeef00000000000000000000000000000000000000000000000000000000..(40 bytes) "
	                 "\"odd key\"=-7 nan=nan");
	expect_json(&ev, "{\"time_ns\":1795515600123456789,\"time\":\"2026-11-24T10:20:00.123456789Z\","
	                 "\"kind\":\"point\",\"entity\":\"3f2a0b1c4d5e6f70\",\"seq\":17,"
	                 "\"trace\":\"01935e7000017000800000009a8b7c6d\",\"name\":\"cache miss\","
	                 "\"attrs\":{\"bytes\":42,\"path\":\"x\",\"ratio\":0.1,\"whole\":3.0,\"hit\":false,"
	                 "\"blob\":\"3q2+7w==\",\"big\":\"3q2+7wAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA==\","
	                 "\"odd key\":-7,\"nan\":null}}");
}

static void test_kind_fields(void **state)
{
	(void)state;
	hx_event ev = base_event();
	ev.kind = HX_EV_ENTITY_BEGIN;
	ev.name = "worker";
	ev.name_len = 6;
	ev.entity_kind = HX_ENTITY_THREAD;
	ev.tid = 4321;
	expect_text(&ev, "2026-11-24T10:20:00.123456789Z 3f2a0b1c4d5e6f70:17 entity_begin \"worker\" kind=thread tid=4321");
	expect_json(&ev, "{\"time_ns\":1795515600123456789,\"time\":\"2026-11-24T10:20:00.123456789Z\","
	                 "\"kind\":\"entity_begin\",\"entity\":\"3f2a0b1c4d5e6f70\",\"seq\":17,\"trace\":null,"
	                 "\"name\":\"worker\",\"entity_kind\":\"thread\",\"tid\":4321,\"attrs\":{}}");

	ev = base_event();
	ev.kind = HX_EV_STATE;
	ev.name = "";
	ev.name_len = 0;
	ev.state = HX_STATE_WAITING;
	expect_text(&ev, "2026-11-24T10:20:00.123456789Z 3f2a0b1c4d5e6f70:17 state state=waiting");
	ev.name = "lock";
	ev.name_len = 4;
	ev.state = (hx_state)9; /* unknown values show as numbers */
	expect_text(&ev, "2026-11-24T10:20:00.123456789Z 3f2a0b1c4d5e6f70:17 state        \"lock\" state=9");

	ev = base_event();
	ev.kind = HX_EV_COUNTER;
	ev.name = "queue";
	ev.name_len = 5;
	ev.unit = "ms";
	ev.counter_double = 1.5;
	expect_text(&ev, "2026-11-24T10:20:00.123456789Z 3f2a0b1c4d5e6f70:17 counter      \"queue\" value=1.5 unit=\"ms\"");
	ev.counter_is_int = 1;
	ev.counter_int = -3;
	ev.unit = "";
	expect_json(&ev, "{\"time_ns\":1795515600123456789,\"time\":\"2026-11-24T10:20:00.123456789Z\","
	                 "\"kind\":\"counter\",\"entity\":\"3f2a0b1c4d5e6f70\",\"seq\":17,\"trace\":null,"
	                 "\"name\":\"queue\",\"value\":-3,\"unit\":\"\",\"attrs\":{}}");

	ev = base_event();
	ev.kind = HX_EV_EFFECT;
	ev.name = "recv";
	ev.name_len = 4;
	ev.interaction = HX_IA_MESSAGE;
	hx_context c[2];
	memset(c, 0, sizeof(c));
	memcpy(c[0].trace_id, TRACE, 16);
	c[0].entity_id = 0xab;
	c[0].seq = 5;
	c[0].flags = HX_CTX_VALID | HX_CTX_SAMPLED;
	c[1].entity_id = 0xcd;
	c[1].seq = 6;
	c[1].flags = HX_CTX_VALID | HX_CTX_FOREIGN;
	ev.causes = c;
	ev.ncauses = 2;
	ev.resumes = 1;
	expect_text(&ev, "2026-11-24T10:20:00.123456789Z 3f2a0b1c4d5e6f70:17 effect       \"recv\" ia=message resumes "
	                 "cause=9a8b7c6d/00000000000000ab:5 cause=-/00000000000000cd:6");
	expect_json(&ev, "{\"time_ns\":1795515600123456789,\"time\":\"2026-11-24T10:20:00.123456789Z\","
	                 "\"kind\":\"effect\",\"entity\":\"3f2a0b1c4d5e6f70\",\"seq\":17,\"trace\":null,"
	                 "\"name\":\"recv\",\"interaction\":\"message\",\"resumes\":true,\"causes\":["
	                 "{\"trace\":\"01935e7000017000800000009a8b7c6d\",\"entity\":\"00000000000000ab\",\"seq\":5,\"sampled\":true},"
	                 "{\"trace\":null,\"entity\":\"00000000000000cd\",\"seq\":6,\"sampled\":false,\"foreign\":true}],\"attrs\":{}}");

	ev = base_event();
	ev.kind = HX_EV_TRACE_BEGIN;
	ev.name = "req";
	ev.name_len = 3;
	memcpy(ev.trace_id, TRACE, 16);
	expect_text(&ev, "2026-11-24T10:20:00.123456789Z 3f2a0b1c4d5e6f70:17 "
	                 "trace=01935e7000017000800000009a8b7c6d trace_begin  \"req\"");

	ev = base_event();
	ev.kind = HX_EV_ANNOTATE;
	ev.name = "";
	ev.name_len = 0;
	ev.target = HX_TARGET_BLOCK;
	expect_text(&ev, "2026-11-24T10:20:00.123456789Z 3f2a0b1c4d5e6f70:17 annotate target=block");
	ev.kind = HX_EV_BLOCK_END;
	expect_text(&ev, "2026-11-24T10:20:00.123456789Z 3f2a0b1c4d5e6f70:17 block_end");
}

static void test_escaping(void **state)
{
	(void)state;
	/* quote, backslash, newline, tab, ESC, DEL, a C1 control, valid UTF-8, a lone continuation
	 * byte, a truncated sequence, an overlong encoding, a surrogate, U+2028 */
	static const char s[] = "a\"b\\c\nd\te\x1b[31mf\x7fg\xc2\x85h\xc3\xa9i\x80j\xe2\x82k\xc0\xafl\xed\xa0\x80m\xe2\x80\xa8n";
	size_t n = sizeof(s) - 1;
	hx__buf b = HX__BUF_INIT;
	assert_int_equal(hx__text_string(&b, s, n), HX_OK);
	assert_string_equal(b.p, "\"a\\\"b\\\\c\\nd\\te\\x1b[31mf\\x7fg\\u0085h\xc3\xa9i\\x80j\\xe2\\x82k\\xc0\\xafl"
	                         "\\xed\\xa0\\x80m\xe2\x80\xa8n\"");
	hx__buf_reset(&b);
	assert_int_equal(hx__json_string(&b, s, n), HX_OK);
	assert_string_equal(b.p, "\"a\\\"b\\\\c\\nd\\te\\u001b[31mf\\u007fg\\u0085h\xc3\xa9i\\ufffdj\\ufffd\\ufffdk"
	                         "\\ufffd\\ufffdl\\ufffd\\ufffd\\ufffdm\\u2028n\"");
	hx__buf_reset(&b);
	assert_int_equal(hx__text_plain(&b, "a\x1b[2J\"b\"", 8), HX_OK);
	assert_string_equal(b.p, "a\\x1b[2J\\\"b\\\"");
	hx__buf_reset(&b);
	/* NUL bytes inside a name are data, not an end */
	assert_int_equal(hx__json_string(&b, "x\0y", 3), HX_OK);
	assert_string_equal(b.p, "\"x\\u0000y\"");
	hx__buf_reset(&b);
	/* a 4-byte sequence and the largest code point pass; beyond it does not */
	assert_int_equal(hx__json_string(&b, "\xf0\x9f\x98\x80\xf4\x8f\xbf\xbf\xf4\x90\x80\x80", 12), HX_OK);
	assert_string_equal(b.p, "\"\xf0\x9f\x98\x80\xf4\x8f\xbf\xbf\\ufffd\\ufffd\\ufffd\\ufffd\"");
	hx__buf_free(&b);

	/* an attribute key that could break the line is quoted */
	hx_event ev = base_event();
	hx_attr a[] = {HX_STR("k=v \"x\"\n", "\x01")};
	ev.attrs = a;
	ev.nattrs = 1;
	expect_text(&ev, "2026-11-24T10:20:00.123456789Z 3f2a0b1c4d5e6f70:17 point        \"cache miss\" "
	                 "\"k=v \\\"x\\\"\\n\"=\"\\x01\"");
}

static void test_doubles_locale(void **state)
{
	(void)state;
	const char *loc = setlocale(LC_NUMERIC, "de_DE.UTF-8");
	if (!loc)
		loc = setlocale(LC_NUMERIC, "fr_FR.UTF-8");
	hx_event ev = base_event();
	hx_attr a[] = {HX_DOUBLE("x", 2.5), HX_DOUBLE("y", -1e300), HX_DOUBLE("z", 1.0 / 3.0),
	               HX_DOUBLE("i", INFINITY)};
	ev.attrs = a;
	ev.nattrs = 4;
	hx__buf b = HX__BUF_INIT;
	assert_int_equal(hx__event_json(&b, &ev), HX_OK);
	assert_non_null(strstr(b.p, "\"attrs\":{\"x\":2.5,\"y\":-1e+300,\"z\":0.3333333333333333,\"i\":null}"));
	hx__buf_free(&b);
	setlocale(LC_NUMERIC, "C");
	if (!loc)
		print_message("(no comma-decimal locale installed: checked in the C locale only)\n");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_buf),
		cmocka_unit_test(test_time),
		cmocka_unit_test(test_point_line),
		cmocka_unit_test(test_kind_fields),
		cmocka_unit_test(test_escaping),
		cmocka_unit_test(test_doubles_locale),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
