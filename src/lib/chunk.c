/*
 * chunk.c - starting a thread's next chunk, whatever the sink: a slot of a file window (file
 * sink) or the thread's private buffer (stderr and callback sinks, which decode each record as it
 * is written and so never need more than one chunk's worth of memory).
 */
#include <stdlib.h>
#include <string.h>

#include "format/crc32c_inline.h"
#include "lib/tracer.h"

uint32_t hx__chunk_header_write(uint8_t *c, uint32_t stream, uint32_t seq, uint64_t base_ticks)
{
	memset(c, 0, HX_CHUNK_HEADER_BYTES);
	hx__put_le32(c + HX_CH_MAGIC, HX_CHUNK_MAGIC);
	hx__put_le32(c + HX_CH_STREAM, stream);
	hx__put_le32(c + HX_CH_SEQ, seq);
	hx__put_le64(c + HX_CH_BASE_TICKS, base_ticks);
	uint32_t crc = hx__crc32c_inline(0, c, HX_CH_CRC_PREFIX);
	__atomic_store_n((uint64_t *)(c + HX_CH_COMMIT), (uint64_t)crc << 32, __ATOMIC_RELEASE);
	return crc;
}

int hx__chunk_next(struct hx__thread *t)
{
	struct hx__tracer *tr = t->tracer;
	int first = t->chunk == NULL;
	uint8_t *c = NULL;

	if (t->mode == HX__MODE_FILE) {
		void *win = NULL;
		if (t->chunk)
			hx__filesink_release(tr, t->window);
		t->chunk = NULL;
		t->window = NULL;
		c = hx__filesink_slot(tr, &win);
		t->window = win;
	} else if (t->mode == HX__MODE_DECODE) {
		c = t->own_buf;
		hx__decoder_reset(t->dec, 0); /* reset again below with the chunk's base */
	}
	if (!c) {
		t->chunk = NULL;
		t->pos = NULL;
		atomic_store_explicit(&t->end, 0, memory_order_relaxed);
		return -1;
	}
	if (!first || t->chunk_seq_started)
		t->chunk_seq++;
	t->chunk_seq_started = 1;
	t->chunk = c;
	/* The base time is "now" rather than the last record's, so the first delta stays small. */
	uint64_t now = hx__ticks(t->use_tsc);
	if (now > t->last_ticks)
		t->last_ticks = now;
	t->crc = hx__chunk_header_write(c, t->stream_id, t->chunk_seq, t->last_ticks);
	if (t->mode == HX__MODE_DECODE)
		hx__decoder_reset(t->dec, t->last_ticks);
	t->pos = c + HX_CHUNK_HEADER_BYTES;
	t->chunk_gen++;
	t->next_string_id = 1;
	t->ctx_id = 0;
	atomic_store_explicit(&t->end, (uintptr_t)(c + t->chunk_bytes), memory_order_relaxed);
	return 0;
}

void hx__chunk_release(struct hx__thread *t)
{
	if (t->mode == HX__MODE_FILE && t->chunk)
		hx__filesink_release(t->tracer, t->window);
	t->chunk = NULL;
	t->window = NULL;
	t->pos = NULL;
	atomic_store_explicit(&t->end, 0, memory_order_relaxed);
}
