/*
 * fuzz_propagation.c - libFuzzer target for the propagation parsers (haruspex/propagation.h). The
 * input is fed whole to each: traceparent, tracestate (apply, and kept as `prev` by format),
 * baggage and the binary form. Besides crashes, leaks and sanitizer reports, it checks that what
 * a parser accepts, formatted again, parses back to the same value:
 *   traceparent  parse -> format -> parse gives the same context (and for version 00, the
 *                formatted text is the input without its OWS)
 *   tracestate   a member that restores an event names one whose digest is the parent-id; our
 *                own output is always accepted, at most 512 bytes, and restores our event
 *   baggage      format -> parse into another trace -> format gives the same header
 *   binary       parse -> write gives back exactly the bytes consumed
 * Baggage goes to explicit trace IDs (two fresh ones per input), so no tracing needs to be on;
 * the table's LRU bound keeps memory flat over millions of inputs.
 * Seeds: tests/fuzz/corpus/fuzz_propagation/.
 */
#include <stdlib.h>
#include <string.h>

#include <haruspex/propagation.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                                               \
	do {                                                                                      \
		if (!(cond))                                                                      \
			abort();                                                                  \
	} while (0)

static void fresh_id(uint8_t id[16])
{
	static uint64_t next;
	next++;
	memset(id, 0, 16);
	id[0] = 0xf0;
	memcpy(id + 8, &next, 8);
}

static void check_traceparent(const char *s, size_t n)
{
	hx_context c, again;
	char buf[HX_TRACEPARENT_LEN + 1];
	if (hx_traceparent_parse(s, n, &c) != HX_OK)
		return;
	CHECK(c.flags & HX_CTX_VALID && c.flags & HX_CTX_FOREIGN && c.entity_id != 0 && c.seq == 0);
	CHECK(hx_traceparent_format(&c, buf, sizeof buf) == HX_OK);
	CHECK(hx_traceparent_parse(buf, strlen(buf), &again) == HX_OK);
	CHECK(!memcmp(&c, &again, sizeof c));
	while (n && (*s == ' ' || *s == '\t'))
		s++, n--;
	while (n && (s[n - 1] == ' ' || s[n - 1] == '\t'))
		n--;
	if (s[0] == '0' && s[1] == '0') { /* version 00: we write what we read, but for the flags */
		CHECK(n == HX_TRACEPARENT_LEN && !memcmp(buf, s, 53));
		if (s[53] == '0' && (s[54] == '0' || s[54] == '1'))
			CHECK(!memcmp(buf, s, n));
	}
}

/* s: the input (exact size), str: the same bytes NUL-terminated. */
static void check_tracestate(const char *s, size_t n, const char *str)
{
	hx_context c = {{1}, 0x1234, 0, HX_CTX_VALID | HX_CTX_FOREIGN, 0};
	if (hx_tracestate_apply(s, n, &c) == HX_OK && !(c.flags & HX_CTX_FOREIGN))
		CHECK(hx_event_digest(c.entity_id, c.seq) == 0x1234);
	/* Our output with the input as prev (format reads a C string: cut at the first NUL). */
	hx_context mine = {{1}, 0xfeedull, 0x77, HX_CTX_VALID | HX_CTX_SAMPLED, 0};
	char out[HX_TRACESTATE_MAX + 1];
	CHECK(hx_tracestate_format(&mine, str, out, sizeof out) == HX_OK);
	size_t len = strlen(out);
	CHECK(len <= HX_TRACESTATE_MAX);
	hx_context f = {{1}, hx_event_digest(0xfeedull, 0x77), 0, HX_CTX_VALID | HX_CTX_FOREIGN, 0};
	CHECK(hx_tracestate_apply(out, len, &f) == HX_OK);
	CHECK(f.entity_id == 0xfeedull && f.seq == 0x77 && !(f.flags & HX_CTX_FOREIGN));
}

static void check_baggage(const char *s, size_t n)
{
	uint8_t a[16], b[16];
	fresh_id(a);
	fresh_id(b);
	int rc = hx_baggage_parse(a, s, n);
	CHECK(rc == HX_OK || rc == HX_EFORMAT || rc == HX_ENOMEM);
	char *h1 = malloc(2 * (HX_BAGGAGE_MAX_BYTES + 1));
	if (!h1)
		return;
	char *h2 = h1 + HX_BAGGAGE_MAX_BYTES + 1;
	int n1 = hx_baggage_format(a, h1, HX_BAGGAGE_MAX_BYTES + 1);
	CHECK(n1 >= 0 && n1 <= HX_BAGGAGE_MAX_BYTES && (size_t)n1 == strlen(h1));
	CHECK(hx_baggage_parse(b, h1, (size_t)n1) == HX_OK);
	CHECK(hx_baggage_format(b, h2, HX_BAGGAGE_MAX_BYTES + 1) == n1);
	CHECK(!memcmp(h1, h2, (size_t)n1));
	free(h1);
}

static void check_binary(const uint8_t *d, size_t n)
{
	hx_context c;
	uint8_t out[HX_CONTEXT_BINARY_MAX];
	int used = hx_context_from_binary(d, n, &c);
	if (used < 0)
		return;
	CHECK((size_t)used <= n && used <= HX_CONTEXT_BINARY_MAX);
	CHECK(hx_context_to_binary(&c, out, sizeof out) == used);
	CHECK(!memcmp(out, d, (size_t)used));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* Two copies: `exact` has no terminator, so ASan catches a parser that reads past `size`;
	 * `str` is NUL-terminated for tracestate_format's prev, which is a C string. */
	char *exact = malloc(size ? size : 1);
	char *str = malloc(size + 1);
	if (exact && str) {
		memcpy(exact, data, size);
		memcpy(str, data, size);
		str[size] = 0;
		check_traceparent(exact, size);
		check_tracestate(exact, size, str);
		check_baggage(exact, size);
		check_binary((const uint8_t *)exact, size);
	}
	free(exact);
	free(str);
	return 0;
}
