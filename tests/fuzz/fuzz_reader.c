/*
 * fuzz_reader.c - libFuzzer target for the trace reader: the input is one trace file's bytes.
 * Opens it in both orders, reads every event, formats each as text and JSON, and asks for the
 * damage report; any crash, hang, leak or sanitizer report is a bug.
 * Seeds: tests/fuzz/corpus/reader/ (made by gen_corpus.c; run with -max_len=65536 or more).
 */
#include <haruspex/reader.h>

#include "format/reader_int.h"
#include "format/text.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	hx__buf b = HX__BUF_INIT;
	for (int order = HX_ORDER_STREAM; order <= HX_ORDER_TIME; order++) {
		hx_reader *r;
		hx_event ev;
		size_t n;
		if (hx__reader_open_mem(&r, data, size, (hx_read_order)order) != HX_OK)
			continue;
		while (hx_reader_next(r, &ev) == HX_OK) {
			hx__buf_reset(&b);
			hx__event_text(&b, &ev);
			hx__event_json(&b, &ev);
		}
		hx_reader_damage(r, &n);
		hx_reader_close(r);
	}
	hx__buf_free(&b);
	return 0;
}
