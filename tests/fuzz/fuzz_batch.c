/*
 * fuzz_batch.c - libFuzzer target for the event batch (src/net/proto.h): the input is a batch as
 * a BATCH frame (after its sequence number), a Kafka message or POST /api/events carries it.
 * Invariants: a batch whose events decode delivers exactly the count its header states, and those
 * events, built into a new batch, decode again to the same count (the encoder accepts whatever the
 * decoder returns). Seeds: tests/fuzz/corpus/fuzz_batch/.
 */
#include <assert.h>

#include "net/proto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int add(const hx_event *ev, void *user)
{
	return hx_batch_builder_add(user, ev) == HX_OK ? 0 : 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	hx_batch_info info, again;
	hx_proto_reason why;
	if (hx_batch_parse(data, size, &info, &why) != HX_OK)
		return assert(why == HX_REASON_BAD_BATCH), 0;
	assert(info.nresource <= HX_BATCH_RESOURCE_MAX && info.body + info.body_len == data + size);
	hx_batch_builder *b = hx_batch_builder_new(info.instance, info.pid, NULL, 0);
	if (b && hx_batch_events(&info, add, b, &why) == HX_OK) {
		size_t n = hx_batch_builder_events(b), len;
		const uint8_t *out = hx_batch_builder_finish(b, &len);
		if (out && n == info.nevents) {
			assert(hx_batch_parse(out, len, &again, &why) == HX_OK && again.nevents == n);
			assert(hx_batch_events(&again, NULL, NULL, &why) == HX_OK);
		}
	}
	hx_batch_builder_free(b);
	return 0;
}
