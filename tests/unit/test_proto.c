/*
 * test_proto.c - the native protocol's codec (src/net/proto.h): frames round-trip and are parsed
 * incrementally (0 until complete, whatever the split), every rejection reason is given for the
 * input that deserves it, the small payloads round-trip and refuse junk, batches carry every event
 * kind and attribute type unchanged, malformed batches are refused with the right reason and no
 * event delivered, and the builder keeps its limits.
 */
#include "../hxtest.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "format/format.h"
#include "net/proto.h"

/* ---- frames ---- */

static size_t make_frame(uint8_t *out, hx_frame_type type, uint16_t flags, const void *payload,
                         uint32_t len)
{
	hx_frame_header(out, type, flags, payload, len);
	if (len)
		memcpy(out + HX_FRAME_HEADER_BYTES, payload, len);
	return HX_FRAME_HEADER_BYTES + len;
}

static void test_frame_round_trip(void **state)
{
	(void)state;
	uint8_t buf[256];
	static const char text[] = "hello, frame";
	for (int t = HX_FRAME_HELLO; t <= HX_FRAME_PONG; t++) {
		size_t n = make_frame(buf, (hx_frame_type)t, t == HX_FRAME_BATCH ? HX_FRAME_COMPRESSED : 0,
		                      text, sizeof text);
		hx_frame f;
		hx_proto_reason why = HX_REASON_BAD_MAGIC;
		long got = hx_frame_parse(buf, n, HX_FRAME_MAX_DEFAULT, &f, &why);
		assert_int_equal(got, (long)n);
		assert_int_equal(why, HX_REASON_NONE);
		assert_int_equal(f.type, t);
		assert_int_equal(f.flags, t == HX_FRAME_BATCH ? HX_FRAME_COMPRESSED : 0);
		assert_int_equal(f.len, sizeof text);
		assert_memory_equal(f.payload, text, sizeof text);
		assert_ptr_equal(f.payload, buf + HX_FRAME_HEADER_BYTES);
	}
	/* an empty payload */
	size_t n = make_frame(buf, HX_FRAME_PING, 0, NULL, 0);
	hx_frame f;
	assert_int_equal(hx_frame_parse(buf, n, 0, &f, NULL), HX_FRAME_HEADER_BYTES);
	assert_int_equal(f.len, 0);
	/* two frames back to back: the first parse spans only the first */
	size_t n2 = make_frame(buf + n, HX_FRAME_ACK, 0, "12345678", 8);
	assert_int_equal(hx_frame_parse(buf, n + n2, 64, &f, NULL), (long)n);
	assert_int_equal(hx_frame_parse(buf + n, n2, 64, &f, NULL), (long)n2);
	assert_int_equal(f.type, HX_FRAME_ACK);
}

static void test_frame_partial(void **state)
{
	(void)state;
	uint8_t buf[HX_FRAME_HEADER_BYTES + 100];
	uint8_t payload[100];
	for (int i = 0; i < 100; i++)
		payload[i] = (uint8_t)(i * 7);
	size_t n = make_frame(buf, HX_FRAME_BATCH, 0, payload, 100);
	for (size_t k = 0; k < n; k++) {
		hx_frame f;
		hx_proto_reason why = HX_REASON_NONE;
		assert_int_equal(hx_frame_parse(buf, k, HX_FRAME_MAX_DEFAULT, &f, &why), 0);
		assert_int_equal(why, HX_REASON_NONE);
	}
	hx_frame f;
	assert_int_equal(hx_frame_parse(buf, n, HX_FRAME_MAX_DEFAULT, &f, NULL), (long)n);
}

static void expect_reject(const uint8_t *buf, size_t n, uint32_t max, hx_proto_reason want)
{
	hx_frame f;
	hx_proto_reason why = HX_REASON_NONE;
	assert_int_equal(hx_frame_parse(buf, n, max, &f, &why), -1);
	assert_int_equal(why, want);
}

static void test_frame_rejections(void **state)
{
	(void)state;
	uint8_t good[HX_FRAME_HEADER_BYTES + 8], buf[sizeof good];
	size_t n = make_frame(good, HX_FRAME_ACK, 0, "abcdefgh", 8);

	/* bad magic: refused from the first wrong byte, before a whole header is in */
	memcpy(buf, good, n);
	buf[0] = 'G';
	expect_reject(buf, 1, 64, HX_REASON_BAD_MAGIC);
	expect_reject(buf, n, 64, HX_REASON_BAD_MAGIC);
	expect_reject((const uint8_t *)"GET / HTTP/1.1\r\n", 16, 64, HX_REASON_BAD_MAGIC);
	memcpy(buf, good, n);
	buf[3] = 'Q';
	expect_reject(buf, 4, 64, HX_REASON_BAD_MAGIC);

	memcpy(buf, good, n);
	buf[4] = 2;
	expect_reject(buf, 5, 64, HX_REASON_BAD_VERSION);
	expect_reject(buf, n, 64, HX_REASON_BAD_VERSION);

	memcpy(buf, good, n);
	buf[5] = 0;
	expect_reject(buf, 6, 64, HX_REASON_BAD_TYPE);
	buf[5] = 8;
	expect_reject(buf, n, 64, HX_REASON_BAD_TYPE);

	memcpy(buf, good, n);
	buf[6] = 0x2; /* a reserved flag bit */
	expect_reject(buf, 8, 64, HX_REASON_PROTOCOL);

	/* too large: refused once the length is in, before the payload arrives */
	make_frame(buf, HX_FRAME_ACK, 0, "abcdefgh", 8);
	expect_reject(buf, 12, 7, HX_REASON_TOO_LARGE);
	hx__put_le32(buf + 8, 0xffffffffu);
	expect_reject(buf, 12, HX_FRAME_MAX_DEFAULT, HX_REASON_TOO_LARGE);

	/* checksum: a flipped bit anywhere (payload, type, flags, length) */
	for (size_t bit = 0; bit < n * 8; bit++) {
		if (bit < 6 * 8)
			continue; /* magic, version and type are judged by their own checks */
		memcpy(buf, good, n);
		buf[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		hx_frame f;
		hx_proto_reason why = HX_REASON_NONE;
		long r = hx_frame_parse(buf, n, 64, &f, &why);
		if (bit / 8 >= 8 && bit / 8 < 12 && hx__le32(buf + 8) < 8) {
			/* a shorter length: the frame parses only if the checksum says so */
			assert_int_equal(r, -1);
			assert_int_equal(why, HX_REASON_BAD_CHECKSUM);
		} else if (bit / 8 >= 8 && bit / 8 < 12) {
			/* a longer length: waits for bytes, or too large */
			assert_true(r == 0 || (r == -1 && why == HX_REASON_TOO_LARGE));
		} else if (bit / 8 >= 6 && bit / 8 < 8) {
			assert_int_equal(r, -1);
			assert_true(why == HX_REASON_PROTOCOL || why == HX_REASON_BAD_CHECKSUM);
		} else {
			assert_int_equal(r, -1);
			assert_int_equal(why, HX_REASON_BAD_CHECKSUM);
		}
	}
	/* a flipped type that is still a known type: caught by the checksum over the header */
	memcpy(buf, good, n);
	buf[5] = HX_FRAME_PONG;
	expect_reject(buf, n, 64, HX_REASON_BAD_CHECKSUM);
}

static void test_reason_names(void **state)
{
	(void)state;
	assert_string_equal(hx_proto_reason_name(HX_REASON_NONE), "none");
	assert_string_equal(hx_proto_reason_name(HX_REASON_BAD_CHECKSUM), "bad_checksum");
	assert_string_equal(hx_proto_reason_name(HX_REASON_STORE), "store");
	assert_string_equal(hx_proto_reason_name(HX_REASON__COUNT), "unknown");
	assert_string_equal(hx_proto_reason_name(-1), "unknown");
	for (int r = 0; r < HX_REASON__COUNT; r++)
		assert_string_not_equal(hx_proto_reason_name(r), "unknown");
}

/* ---- small payloads ---- */

static void test_small_payloads(void **state)
{
	(void)state;
	uint8_t buf[HX_HELLO_MAX], session[16];
	for (int i = 0; i < 16; i++)
		session[i] = (uint8_t)(0xa0 + i);
	size_t n = hx_hello_encode(buf, sizeof buf, "s3cret", session, "hx ship");
	assert_true(n > 0);
	hx_hello h;
	assert_int_equal(hx_hello_parse(buf, n, &h), HX_OK);
	assert_int_equal(h.token_len, 6);
	assert_memory_equal(h.token, "s3cret", 6);
	assert_memory_equal(h.session, session, 16);
	assert_int_equal(h.name_len, 7);
	assert_memory_equal(h.name, "hx ship", 7);
	/* every truncation and an extra byte are refused */
	for (size_t k = 0; k < n; k++)
		assert_int_equal(hx_hello_parse(buf, k, &h), HX_EFORMAT);
	buf[n] = 0;
	assert_int_equal(hx_hello_parse(buf, n + 1, &h), HX_EFORMAT);
	/* empty token and name */
	n = hx_hello_encode(buf, sizeof buf, NULL, session, "");
	assert_int_equal(n, 18);
	assert_int_equal(hx_hello_parse(buf, n, &h), HX_OK);
	assert_int_equal(h.token_len, 0);
	/* limits */
	char big[HX_HELLO_TOKEN_MAX + 2];
	memset(big, 'x', sizeof big - 1);
	big[sizeof big - 1] = 0;
	assert_int_equal(hx_hello_encode(buf, sizeof buf, big, session, "n"), 0);
	assert_int_equal(hx_hello_encode(buf, 10, "t", session, "n"), 0);
	uint8_t evil[32] = {0xff, 0xff, 0xff, 0xff, 0x0f};
	assert_int_equal(hx_hello_parse(evil, sizeof evil, &h), HX_EFORMAT);

	uint8_t w[8];
	uint32_t max, ver;
	hx_welcome_encode(w, 12345, 1);
	assert_int_equal(hx_welcome_parse(w, 8, &max, &ver), HX_OK);
	assert_int_equal(max, 12345);
	assert_int_equal(ver, 1);
	assert_int_equal(hx_welcome_parse(w, 7, &max, &ver), HX_EFORMAT);

	uint64_t v;
	hx_u64_encode(w, 0x0102030405060708ull);
	assert_int_equal(hx_u64_parse(w, 8, &v), HX_OK);
	assert_int_equal(v, 0x0102030405060708ull);
	assert_int_equal(w[0], 8);
	assert_int_equal(hx_u64_parse(w, 9, &v), HX_EFORMAT);

	uint16_t reason;
	const char *text;
	size_t tl;
	n = hx_error_encode(buf, sizeof buf, HX_REASON_UNAUTHORIZED, "bad token");
	assert_int_equal(hx_error_parse(buf, n, &reason, &text, &tl), HX_OK);
	assert_int_equal(reason, HX_REASON_UNAUTHORIZED);
	assert_int_equal(tl, 9);
	assert_memory_equal(text, "bad token", 9);
	assert_int_equal(hx_error_parse(buf, n - 1, &reason, &text, &tl), HX_EFORMAT);
	assert_int_equal(hx_error_parse(buf, 1, &reason, &text, &tl), HX_EFORMAT);
	assert_int_equal(hx_error_encode(buf, 3, HX_REASON_STORE, "long text"), 0);
	assert_int_equal(hx_error_encode(buf, sizeof buf, 70000, "x"), 0);
}

/* ---- batches ---- */

static const uint8_t instance[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
static const char *const resource[] = {"host", "box", "service", "shop", "program", "shopd"};

#define NEV 16
static hx_event evs[NEV];
static hx_attr attrs[5];
static hx_context causes[2];

/* One event of every kind on two entities, with every attribute type and cause form, times that
 * go backwards between entities, and a sequence gap. */
static void make_events(void)
{
	static const uint8_t trace[16] = {0x01, 0x93, 0x5f, 0x2c, 0x8a, 0x00, 0x7e, 0x11,
	                                  0xc4, 0x2d, 0x9b, 0x30, 0x55, 0xa1, 0xe6, 0x0f};
	static const uint8_t other[16] = {9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9};
	static const uint8_t bytes[3] = {0, 0xff, 0x80};
	attrs[0] = HX_INT("n", -300);
	attrs[1] = HX_DOUBLE("d", 2.5);
	attrs[2] = HX_BOOL("b", 1);
	attrs[3] = HX_STR("s", "text value");
	attrs[4] = HX_BYTES("y", bytes, 3);
	memcpy(causes[0].trace_id, trace, 16);
	causes[0].entity_id = 0x77;
	causes[0].seq = 4;
	causes[0].flags = HX_CTX_VALID | HX_CTX_SAMPLED;
	memcpy(causes[1].trace_id, other, 16);
	causes[1].entity_id = 0x88;
	causes[1].seq = 0;
	causes[1].flags = HX_CTX_VALID | HX_CTX_FOREIGN;
	static const hx_event_kind kinds[NEV] = {
		HX_EV_ENTITY_BEGIN, HX_EV_TRACE_BEGIN, HX_EV_BLOCK_BEGIN, HX_EV_POINT, HX_EV_COUNTER,
		HX_EV_COUNTER, HX_EV_ERROR, HX_EV_STATE, HX_EV_ANNOTATE, HX_EV_CAUSE, HX_EV_EFFECT,
		HX_EV_BLOCK_END, HX_EV_TRACE_END, HX_EV_TRACE_JOIN, HX_EV_POINT, HX_EV_ENTITY_END};
	uint64_t t = 1795515600000000000ull;
	for (int i = 0; i < NEV; i++) {
		hx_event *e = &evs[i];
		memset(e, 0, sizeof *e);
		e->kind = kinds[i];
		int second = i % 3 == 2; /* every third event on another entity, earlier in time */
		e->entity_id = second ? 0x2222 : 0x1111;
		e->seq = second ? (uint64_t)(100 + i) : (uint64_t)i + (i > 6 ? 3 : 0);
		t += 1000 + (uint64_t)i * 977;
		e->time_ns = second ? t - 500000 : t;
		e->name = "";
		switch (e->kind) {
		case HX_EV_ENTITY_BEGIN:
			e->name = "worker";
			e->entity_kind = HX_ENTITY_THREAD;
			e->tid = 4242;
			e->parent_id = 0x9;
			break;
		case HX_EV_TRACE_BEGIN:
		case HX_EV_BLOCK_BEGIN:
		case HX_EV_POINT:
		case HX_EV_ERROR:
			e->name = "op";
			break;
		case HX_EV_COUNTER:
			e->name = "queue";
			e->unit = i == 4 ? "items" : "";
			e->counter_is_int = i == 4;
			e->counter_int = -17;
			e->counter_double = i == 4 ? 0 : 3.25;
			break;
		case HX_EV_STATE:
			e->state = HX_STATE_WAITING;
			e->name = "lock";
			break;
		case HX_EV_ANNOTATE:
			e->target = HX_TARGET_BLOCK;
			break;
		case HX_EV_CAUSE:
			e->name = "send";
			e->interaction = HX_IA_MESSAGE;
			break;
		case HX_EV_EFFECT:
			e->name = "recv";
			e->interaction = HX_IA_REPLY;
			e->resumes = 1;
			e->causes = causes;
			e->ncauses = 2;
			break;
		case HX_EV_TRACE_JOIN:
			e->name = "join";
			e->interaction = HX_IA_CAUSAL;
			e->causes = causes;
			e->ncauses = 1;
			break;
		default:
			break;
		}
		e->name_len = strlen(e->name);
		if (e->kind == HX_EV_ANNOTATE || i == 3) {
			e->attrs = attrs;
			e->nattrs = 5;
		}
	}
	/* trace membership as the decoder infers it: entity 0x1111 is in `trace` from its
	 * TRACE_BEGIN (i = 1) up to and including its TRACE_END (i = 12), again from TRACE_JOIN
	 * (i = 13); entity 0x2222 is never in a trace */
	for (int i = 0; i < NEV; i++)
		if (evs[i].entity_id == 0x1111 && ((i >= 1 && i <= 12) || i >= 13))
			memcpy(evs[i].trace_id, trace, 16);
}

struct collect {
	hxt_events got;
	int stop_after;
};

static int collect_fn(const hx_event *ev, void *user)
{
	struct collect *c = user;
	hxt_events_push(&c->got, ev);
	if (c->stop_after && (int)c->got.n == c->stop_after)
		return 99;
	return 0;
}

static void assert_same(const hx_event *a, const hx_event *b)
{
	assert_int_equal(a->kind, b->kind);
	assert_int_equal(a->time_ns, b->time_ns);
	assert_int_equal(b->time_orig_ns, b->time_ns);
	assert_int_equal(a->entity_id, b->entity_id);
	assert_int_equal(a->seq, b->seq);
	assert_memory_equal(a->trace_id, b->trace_id, 16);
	assert_int_equal(a->name_len, b->name_len);
	assert_memory_equal(a->name, b->name, a->name_len);
	assert_int_equal(a->nattrs, b->nattrs);
	for (size_t i = 0; i < a->nattrs; i++) {
		assert_string_equal(a->attrs[i].key, b->attrs[i].key);
		assert_int_equal(a->attrs[i].type, b->attrs[i].type);
	}
	assert_int_equal(a->ncauses, b->ncauses);
	for (size_t i = 0; i < a->ncauses; i++) {
		assert_int_equal(a->causes[i].entity_id, b->causes[i].entity_id);
		assert_int_equal(a->causes[i].seq, b->causes[i].seq);
		assert_memory_equal(a->causes[i].trace_id, b->causes[i].trace_id, 16);
	}
	assert_int_equal(a->resumes, b->resumes);
	if (a->kind == HX_EV_COUNTER) {
		assert_int_equal(a->counter_is_int, b->counter_is_int);
		assert_int_equal(a->counter_int * a->counter_is_int, b->counter_int * b->counter_is_int);
		assert_true(a->counter_double == b->counter_double || a->counter_is_int);
		assert_string_equal(a->unit, b->unit);
	}
	if (a->kind == HX_EV_ENTITY_BEGIN) {
		assert_int_equal(a->tid, b->tid);
		assert_int_equal(a->parent_id, b->parent_id);
		assert_int_equal(a->entity_kind, b->entity_kind);
	}
}

static hx_batch_builder *new_builder(void)
{
	hx_batch_builder *b = hx_batch_builder_new(instance, 4321, resource, 3);
	assert_non_null(b);
	return b;
}

static void test_batch_round_trip(void **state)
{
	(void)state;
	make_events();
	hx_batch_builder *b = new_builder();
	size_t before = hx_batch_builder_bytes(b);
	for (int i = 0; i < NEV; i++)
		assert_int_equal(hx_batch_builder_add(b, &evs[i]), HX_OK);
	assert_int_equal(hx_batch_builder_events(b), NEV);
	assert_true(hx_batch_builder_bytes(b) > before);
	size_t len, estimate = hx_batch_builder_bytes(b);
	const uint8_t *bytes = hx_batch_builder_finish(b, &len);
	assert_non_null(bytes);
	assert_true(len <= estimate); /* the estimate is an upper bound, for the caller's limits */
	assert_true(len + 2 * 10 >= estimate);

	hx_batch_info info;
	hx_proto_reason why = HX_REASON_BAD_MAGIC;
	assert_int_equal(hx_batch_parse(bytes, len, &info, &why), HX_OK);
	assert_int_equal(why, HX_REASON_NONE);
	assert_memory_equal(info.instance, instance, 16);
	assert_int_equal(info.pid, 4321);
	assert_int_equal(info.nresource, 3);
	assert_int_equal(info.resource[1].key_len, 7);
	assert_memory_equal(info.resource[1].key, "service", 7);
	assert_memory_equal(info.resource[1].value, "shop", 4);
	assert_int_equal(info.nevents, NEV);
	assert_int_equal(info.base_ns, evs[0].time_ns);

	struct collect c = {0};
	assert_int_equal(hx_batch_events(&info, collect_fn, &c, &why), HX_OK);
	assert_int_equal(c.got.n, NEV);
	for (int i = 0; i < NEV; i++)
		assert_same(&evs[i], &c.got.v[i].ev);
	hxt_events_free(&c.got);

	/* the callback's nonzero result stops the delivery and is returned */
	c.stop_after = 3;
	assert_int_equal(hx_batch_events(&info, collect_fn, &c, &why), 99);
	assert_int_equal(c.got.n, 3);
	hxt_events_free(&c.got);

	/* the builder is ready for the next batch: an empty one, then one event */
	bytes = hx_batch_builder_finish(b, &len);
	assert_int_equal(hx_batch_parse(bytes, len, &info, &why), HX_OK);
	assert_int_equal(info.nevents, 0);
	assert_int_equal(info.body_len, 0);
	assert_int_equal(hx_batch_events(&info, collect_fn, &c, &why), HX_OK);
	assert_int_equal(c.got.n, 0);
	assert_int_equal(hx_batch_builder_add(b, &evs[5]), HX_OK);
	bytes = hx_batch_builder_finish(b, &len);
	assert_int_equal(hx_batch_parse(bytes, len, &info, &why), HX_OK);
	assert_int_equal(hx_batch_events(&info, collect_fn, &c, &why), HX_OK);
	assert_int_equal(c.got.n, 1);
	assert_same(&evs[5], &c.got.v[0].ev);
	hxt_events_free(&c.got);
	hx_batch_builder_free(b);
}

static void test_batch_malformed(void **state)
{
	(void)state;
	make_events();
	hx_batch_builder *b = new_builder();
	for (int i = 0; i < NEV; i++)
		assert_int_equal(hx_batch_builder_add(b, &evs[i]), HX_OK);
	size_t len;
	const uint8_t *orig = hx_batch_builder_finish(b, &len);
	uint8_t *buf = malloc(len + 16);
	hx_batch_info info;
	hx_proto_reason why;
	struct collect c = {0};

	/* wrong batch version */
	memcpy(buf, orig, len);
	buf[0] = 2;
	assert_int_equal(hx_batch_parse(buf, len, &info, &why), HX_EFORMAT);
	assert_int_equal(why, HX_REASON_BAD_BATCH);
	/* every cut inside the header */
	assert_int_equal(hx_batch_parse(orig, len, &info, &why), HX_OK);
	size_t head = (size_t)(info.body - orig);
	for (size_t k = 0; k < head; k++) {
		why = HX_REASON_NONE;
		assert_int_equal(hx_batch_parse(orig, k, &info, &why), HX_EFORMAT);
		assert_int_equal(why, HX_REASON_BAD_BATCH);
	}
	/* a resource count that cannot be true */
	memcpy(buf, orig, len);
	buf[1 + 16 + 2] = 0x7f; /* pid 4321 takes 2 bytes; then the pair count */
	assert_int_equal(hx_batch_parse(buf, len, &info, &why), HX_EFORMAT);

	/* every cut inside the body: a bad record or a short count, and nothing delivered */
	for (size_t k = head; k < len; k++) {
		assert_int_equal(hx_batch_parse(orig, k, &info, &why), HX_OK);
		int rc = hx_batch_events(&info, collect_fn, &c, &why);
		assert_int_equal(rc, HX_EFORMAT);
		assert_true(why == HX_REASON_BAD_RECORD || why == HX_REASON_BAD_BATCH);
		assert_int_equal(c.got.n, 0);
	}
	/* the count in the header disagrees with the body, both ways */
	assert_int_equal(hx_batch_parse(orig, len, &info, &why), HX_OK);
	info.nevents = NEV + 1;
	assert_int_equal(hx_batch_events(&info, collect_fn, &c, &why), HX_EFORMAT);
	assert_int_equal(why, HX_REASON_BAD_BATCH);
	info.nevents = NEV - 1;
	assert_int_equal(hx_batch_events(&info, collect_fn, &c, &why), HX_EFORMAT);
	assert_int_equal(why, HX_REASON_BAD_BATCH);
	assert_int_equal(c.got.n, 0);
	/* a record a batch may not hold: SYNC appended after the events */
	memcpy(buf, orig, len);
	uint8_t *p = buf + len;
	*p++ = HX_REC_SYNC;
	*p++ = 1;
	*p++ = 2;
	*p++ = 3;
	assert_int_equal(hx_batch_parse(buf, (size_t)(p - buf), &info, &why), HX_OK);
	assert_int_equal(hx_batch_events(&info, collect_fn, &c, &why), HX_EFORMAT);
	assert_int_equal(why, HX_REASON_BAD_RECORD);
	/* garbage in the body */
	memcpy(buf, orig, len);
	buf[head] = 0x0e; /* a reserved record kind */
	assert_int_equal(hx_batch_parse(buf, len, &info, &why), HX_OK);
	assert_int_equal(hx_batch_events(&info, collect_fn, &c, &why), HX_EFORMAT);
	assert_int_equal(why, HX_REASON_BAD_RECORD);
	assert_int_equal(c.got.n, 0);
	free(buf);
	hx_batch_builder_free(b);
}

static void test_builder_limits(void **state)
{
	(void)state;
	const char *many[2 * (HX_BATCH_RESOURCE_MAX + 1)];
	for (size_t i = 0; i < 2 * (HX_BATCH_RESOURCE_MAX + 1); i++)
		many[i] = i % 2 ? "v" : "k";
	hx_batch_builder *b = hx_batch_builder_new(instance, 1, many, HX_BATCH_RESOURCE_MAX + 1);
	assert_null(b);
	b = hx_batch_builder_new(instance, 1, many, HX_BATCH_RESOURCE_MAX);
	assert_non_null(b);
	hx_batch_builder_free(b);
	char longv[HX_BATCH_STRING_MAX + 2];
	memset(longv, 'v', sizeof longv - 1);
	longv[sizeof longv - 1] = 0;
	const char *kv[2] = {"host", longv};
	assert_null(hx_batch_builder_new(instance, 1, kv, 1));
	kv[1] = NULL;
	assert_null(hx_batch_builder_new(instance, 1, kv, 1));
	assert_null(hx_batch_builder_new(NULL, 1, NULL, 0));
	hx_batch_builder_free(NULL);

	/* events the format cannot hold are refused and leave the batch as it was */
	make_events();
	b = hx_batch_builder_new(instance, 1, NULL, 0);
	assert_non_null(b);
	assert_int_equal(hx_batch_builder_add(b, &evs[0]), HX_OK);
	size_t bytes = hx_batch_builder_bytes(b);
	hx_event bad = evs[3];
	bad.entity_id = 0;
	assert_int_equal(hx_batch_builder_add(b, &bad), HX_EINVAL);
	bad = evs[3];
	bad.kind = (hx_event_kind)0x30;
	assert_int_equal(hx_batch_builder_add(b, &bad), HX_EINVAL);
	bad = evs[3];
	bad.nattrs = HX_ATTR_MAX + 1;
	assert_int_equal(hx_batch_builder_add(b, &bad), HX_EINVAL);
	assert_int_equal(hx_batch_builder_add(b, NULL), HX_EINVAL);
	assert_int_equal(hx_batch_builder_events(b), 1);
	assert_int_equal(hx_batch_builder_bytes(b), bytes);
	size_t len;
	const uint8_t *out = hx_batch_builder_finish(b, &len);
	hx_batch_info info;
	assert_int_equal(hx_batch_parse(out, len, &info, NULL), HX_OK);
	assert_int_equal(info.nresource, 0);
	assert_int_equal(hx_batch_events(&info, NULL, NULL, NULL), HX_OK);
	hx_batch_builder_free(b);

	/* a parser keeps 16 resource pairs and skips the rest */
	uint8_t raw[256], *p = raw;
	*p++ = HX_BATCH_VERSION;
	memcpy(p, instance, 16);
	p += 16;
	*p++ = 7;  /* pid */
	*p++ = 20; /* pairs */
	for (int i = 0; i < 20; i++) {
		*p++ = 1;
		*p++ = (uint8_t)('a' + i);
		*p++ = 1;
		*p++ = 'x';
	}
	*p++ = 0; /* base */
	*p++ = 0; /* events */
	assert_int_equal(hx_batch_parse(raw, (size_t)(p - raw), &info, NULL), HX_OK);
	assert_int_equal(info.nresource, HX_BATCH_RESOURCE_MAX);
	assert_memory_equal(info.resource[15].key, "p", 1);
	assert_int_equal(info.body_len, 0);
}

/* Real events recorded by the library travel through a batch unchanged. */
static void test_batch_recorded_events(void **state)
{
	hxt_fixture *fx = *state;
	assert_int_equal(hxt_start_file(fx->dir, 0), HX_OK);
	hx_trace_begin("req");
	for (int i = 0; i < 200; i++)
		HX_POINT_WITH("tick", HX_INT("i", i), HX_STR("s", "v"));
	hx_block_begin("b");
	hx_block_end();
	hx_trace_end();
	assert_int_equal(hx_shutdown(), HX_OK);
	hxt_events evs_read = {0};
	hxt_read_result res;
	assert_int_equal(hxt_read_all(fx->dir, HX_ORDER_STREAM, &evs_read, &res, 1), HX_OK);
	assert_true(evs_read.n > 200);
	hx_batch_builder *b = new_builder();
	for (size_t i = 0; i < evs_read.n; i++)
		assert_int_equal(hx_batch_builder_add(b, &evs_read.v[i].ev), HX_OK);
	size_t len;
	const uint8_t *bytes = hx_batch_builder_finish(b, &len);
	hx_batch_info info;
	assert_int_equal(hx_batch_parse(bytes, len, &info, NULL), HX_OK);
	struct collect c = {0};
	assert_int_equal(hx_batch_events(&info, collect_fn, &c, NULL), HX_OK);
	assert_int_equal(c.got.n, evs_read.n);
	for (size_t i = 0; i < c.got.n; i++)
		assert_same(&evs_read.v[i].ev, &c.got.v[i].ev);
	hxt_events_free(&c.got);
	hxt_events_free(&evs_read);
	hx_batch_builder_free(b);
}

static int setup(void **state)
{
	return hxt_fixture_setup(state, "proto");
}

static int teardown(void **state)
{
	return hxt_fixture_teardown(state);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_frame_round_trip),
		cmocka_unit_test(test_frame_partial),
		cmocka_unit_test(test_frame_rejections),
		cmocka_unit_test(test_reason_names),
		cmocka_unit_test(test_small_payloads),
		cmocka_unit_test(test_batch_round_trip),
		cmocka_unit_test(test_batch_malformed),
		cmocka_unit_test(test_builder_limits),
		cmocka_unit_test_setup_teardown(test_batch_recorded_events, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
