/*
 * fuzz_frame.c - libFuzzer target for the native protocol's frame parser and small payloads
 * (src/net/proto.h): the input is a byte stream as a server or client receives it. Frames are
 * parsed one after another, as a receive loop does; each frame's payload is handed to the parser
 * of its type. Invariants: a frame spans no more than the input, its payload lies inside it, a
 * rejection names a reason, and every parser stays inside its bytes (ASan checks).
 * Seeds: tests/fuzz/corpus/fuzz_frame/.
 */
#include <assert.h>

#include "net/proto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t off = 0;
	hx_frame f;
	hx_proto_reason why;
	long n;
	while ((n = hx_frame_parse(data + off, size - off, 1u << 20, &f, &why)) > 0) {
		assert((size_t)n <= size - off && f.payload + f.len == data + off + (size_t)n);
		hx_hello h;
		uint32_t a, b;
		uint64_t v;
		uint16_t r;
		const char *t;
		size_t tl;
		if (f.type == HX_FRAME_HELLO && hx_hello_parse(f.payload, f.len, &h) == HX_OK)
			assert(h.token_len <= HX_HELLO_TOKEN_MAX && h.name_len <= HX_HELLO_NAME_MAX);
		if (f.type == HX_FRAME_WELCOME)
			hx_welcome_parse(f.payload, f.len, &a, &b);
		if (f.type == HX_FRAME_ERROR && hx_error_parse(f.payload, f.len, &r, &t, &tl) == HX_OK)
			assert(tl <= HX_ERROR_TEXT_MAX && hx_proto_reason_name(r) != NULL);
		if (f.type == HX_FRAME_ACK || f.type == HX_FRAME_PING || f.type == HX_FRAME_PONG)
			hx_u64_parse(f.payload, f.len, &v);
		off += (size_t)n;
	}
	assert(n == 0 || (n == -1 && why != HX_REASON_NONE && why < HX_REASON__COUNT));
	return 0;
}
