/*
 * fuzz_zipkin.c - libFuzzer target for the importer (src/import/import.h): the input is a Zipkin v2 JSON list of spans, as a POST /api/v2/spans body.
 * Invariants: a document is imported or refused with a message; what is imported are events that
 * the native batch (the service's path) takes and decodes back to the same count. Seeds:
 * tests/fuzz/corpus/fuzz_zipkin/ (real documents, and documents made to hit every repair and limit).
 */
#include <assert.h>

#include "import/import.h"
#include "net/proto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int add(const hx_event *ev, void *user)
{
	return hx_batch_builder_add(user, ev) == HX_OK ? 0 : 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	hx__import_limits lim;
	hx__import_limits_default(&lim);
	lim.max_spans = 5000; /* small limits, so that they are reached too */
	lim.max_depth = 64;
	lim.max_attrs = 100;
	hx__import *im;
	char err[256];
	if (hx__import_new(&im, &lim) != HX_OK)
		return 0;
	int rc = hx__import_add(im, data, size, HX__IMPORT_ZIPKIN, 0, err, sizeof(err));
	assert(rc == HX_OK || ((rc == HX_EFORMAT || rc == HX_EINVAL) && err[0]) || rc == HX_ENOMEM);
	if (rc == HX_OK && hx__import_finish(im) == HX_OK) {
		size_t events = 0;
		for (size_t i = 0; i < hx__import_nprocs(im); i++) {
			const hx__import_proc *p = hx__import_proc_get(im, i);
			hx_batch_builder *b = hx_batch_builder_new(p->instance, p->pid, p->resource_kv, p->npairs);
			assert(b);
			assert(hx__import_events(im, i, add, b) == HX_OK);
			size_t n = hx_batch_builder_events(b), len;
			const uint8_t *out = hx_batch_builder_finish(b, &len);
			hx_batch_info info;
			hx_proto_reason why;
			assert(n == p->nevents && out && hx_batch_parse(out, len, &info, &why) == HX_OK);
			assert(info.nevents == n && hx_batch_events(&info, NULL, NULL, &why) == HX_OK);
			hx_batch_builder_free(b);
			events += n;
		}
		assert(events == hx__import_get_stats(im)->events);
	}
	hx__import_free(im);
	return 0;
}
