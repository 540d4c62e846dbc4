/*
 * batch.c - event batches of the native protocol (proto.h): the header (process, resource, base
 * time, count), the body (records as in src/format/encode.h), the builder and the decoder.
 *
 * The body is decoded with the trace format's own record decoder, so a batch can hold exactly what
 * a trace file can, and nothing new needs its own parser. The decoder is run twice: once to check
 * every record and the count, once to deliver; a receiver never stores half of a malformed batch.
 */
#include "net/proto.h"

#include <stdlib.h>
#include <string.h>

#include "format/decode.h"
#include "format/encode.h"
#include "format/format.h"

/* ---- parsing ---- */

static int get_len_bytes(const uint8_t **p, const uint8_t *end, const uint8_t **out, size_t *len)
{
	uint64_t n;
	if (hx__get_varint(p, end, &n) || n > (uint64_t)(end - *p))
		return -1;
	*out = *p;
	*len = (size_t)n;
	*p += n;
	return 0;
}

int hx_batch_parse(const uint8_t *buf, size_t len, hx_batch_info *out, hx_proto_reason *reason)
{
	const uint8_t *p = buf, *end = buf + len;
	uint64_t npairs;
	memset(out, 0, sizeof *out);
	if (len < 1 + 16 || p[0] != HX_BATCH_VERSION)
		goto bad;
	p++;
	memcpy(out->instance, p, 16);
	p += 16;
	if (hx__get_varint(&p, end, &out->pid) || hx__get_varint(&p, end, &npairs))
		goto bad;
	/* every pair takes at least two bytes: a count beyond that is a lie, whatever follows */
	if (npairs > (uint64_t)(end - p) / 2)
		goto bad;
	for (uint64_t i = 0; i < npairs; i++) {
		const uint8_t *k, *v;
		size_t kl, vl;
		if (get_len_bytes(&p, end, &k, &kl) || get_len_bytes(&p, end, &v, &vl))
			goto bad;
		if (out->nresource < HX_BATCH_RESOURCE_MAX) {
			out->resource[out->nresource].key = (const char *)k;
			out->resource[out->nresource].key_len = kl;
			out->resource[out->nresource].value = (const char *)v;
			out->resource[out->nresource].value_len = vl;
			out->nresource++;
		}
	}
	if (hx__get_varint(&p, end, &out->base_ns) || hx__get_varint(&p, end, &out->nevents))
		goto bad;
	out->body = p;
	out->body_len = (size_t)(end - p);
	if (reason)
		*reason = HX_REASON_NONE;
	return HX_OK;
bad:
	if (reason)
		*reason = HX_REASON_BAD_BATCH;
	return HX_EFORMAT;
}

/* One pass over the body: count events (deliver them when fn is set). Returns HX_OK, HX_EFORMAT
 * with *reason, HX_ENOMEM, or fn's first nonzero result. */
static int body_pass(hx__decoder *d, const hx_batch_info *b, int (*fn)(const hx_event *, void *),
                     void *user, hx_proto_reason *reason)
{
	const uint8_t *p = b->body, *end = b->body + b->body_len;
	uint64_t n = 0;
	hx__decoder_reset(d, b->base_ns);
	while (p < end) {
		hx_event ev;
		const char *why = NULL;
		int rc = hx__decode_record(d, &p, end, &ev, NULL, NULL, &why);
		if (rc == HX_ENOMEM)
			return HX_ENOMEM;
		if (rc < 0 || rc == HX__REC_SYNC || rc == HX__REC_INDEX) {
			*reason = HX_REASON_BAD_RECORD;
			return HX_EFORMAT;
		}
		if (rc == HX__REC_EVENT || rc == HX__REC_SKIPPED_EVENT) {
			/* the count is checked before delivery: more events than announced is caught
			 * here in the first pass, fewer after it */
			if (++n > b->nevents) {
				*reason = HX_REASON_BAD_BATCH;
				return HX_EFORMAT;
			}
		}
		if (rc == HX__REC_EVENT && fn) {
			ev.time_orig_ns = ev.time_ns; /* a batch's times are already converted */
			int r = fn(&ev, user);
			if (r)
				return r;
		}
	}
	if (n != b->nevents) {
		*reason = HX_REASON_BAD_BATCH;
		return HX_EFORMAT;
	}
	return HX_OK;
}

int hx_batch_events(const hx_batch_info *b, int (*fn)(const hx_event *ev, void *user), void *user,
                    hx_proto_reason *reason)
{
	hx_proto_reason why = HX_REASON_NONE;
	hx__decoder d;
	if (hx__decoder_init(&d) != HX_OK)
		return HX_ENOMEM;
	int rc = body_pass(&d, b, NULL, NULL, &why);
	if (rc == HX_OK && fn)
		rc = body_pass(&d, b, fn, user, &why);
	hx__decoder_free(&d);
	if (reason)
		*reason = why;
	return rc;
}

/* ---- building ---- */

struct hx_batch_builder {
	hx__encoder *enc;
	uint8_t *head;          /* version, instance, pid, resource pairs: fixed for the builder */
	size_t head_len;
	uint64_t base_ns;
	int started;            /* an event was added since the last finish: base_ns is set */
	uint8_t *out;           /* the finished batch */
	size_t out_cap;
};

hx_batch_builder *hx_batch_builder_new(const uint8_t instance[16], uint64_t pid,
                                       const char *const *resource_kv, size_t npairs)
{
	if (!instance || npairs > HX_BATCH_RESOURCE_MAX || (npairs && !resource_kv))
		return NULL;
	size_t need = 1 + 16 + 2 * HX_VARINT_MAX;
	for (size_t i = 0; i < 2 * npairs; i++) {
		if (!resource_kv[i] || strlen(resource_kv[i]) > HX_BATCH_STRING_MAX)
			return NULL;
		need += HX_VARINT_MAX + strlen(resource_kv[i]);
	}
	hx_batch_builder *b = calloc(1, sizeof *b);
	if (!b)
		return NULL;
	b->head = malloc(need);
	b->enc = hx__encoder_new();
	if (!b->head || !b->enc) {
		hx_batch_builder_free(b);
		return NULL;
	}
	uint8_t *p = b->head;
	*p++ = HX_BATCH_VERSION;
	memcpy(p, instance, 16);
	p += 16;
	p = hx__put_varint(p, pid);
	p = hx__put_varint(p, npairs);
	for (size_t i = 0; i < 2 * npairs; i++) {
		size_t l = strlen(resource_kv[i]);
		p = hx__put_varint(p, l);
		memcpy(p, resource_kv[i], l);
		p += l;
	}
	b->head_len = (size_t)(p - b->head);
	return b;
}

void hx_batch_builder_free(hx_batch_builder *b)
{
	if (!b)
		return;
	hx__encoder_free(b->enc);
	free(b->head);
	free(b->out);
	free(b);
}

int hx_batch_builder_add(hx_batch_builder *b, const hx_event *ev)
{
	if (!b || !ev)
		return HX_EINVAL;
	if (!b->started) {
		hx__encoder_reset(b->enc, ev->time_ns);
		b->base_ns = ev->time_ns;
	}
	int rc = hx__encode_event(b->enc, ev);
	if (rc == HX_OK)
		b->started = 1;
	return rc;
}

size_t hx_batch_builder_events(const hx_batch_builder *b)
{
	return b && b->started ? hx__encoder_events(b->enc) : 0;
}

size_t hx_batch_builder_bytes(const hx_batch_builder *b)
{
	if (!b)
		return 0;
	size_t body = 0;
	if (b->started)
		hx__encoder_data(b->enc, &body);
	return b->head_len + 2 * HX_VARINT_MAX + body;
}

const uint8_t *hx_batch_builder_finish(hx_batch_builder *b, size_t *len)
{
	size_t body_len = 0;
	const uint8_t *body = NULL;
	uint64_t n = 0;
	if (b->started) {
		body = hx__encoder_data(b->enc, &body_len);
		n = hx__encoder_events(b->enc);
	}
	size_t need = b->head_len + 2 * HX_VARINT_MAX + body_len;
	if (need > b->out_cap) {
		uint8_t *o = realloc(b->out, need);
		if (!o) {
			*len = 0;
			return NULL;
		}
		b->out = o;
		b->out_cap = need;
	}
	uint8_t *p = b->out;
	memcpy(p, b->head, b->head_len);
	p += b->head_len;
	p = hx__put_varint(p, b->started ? b->base_ns : 0);
	p = hx__put_varint(p, n);
	if (body_len)
		memcpy(p, body, body_len);
	p += body_len;
	*len = (size_t)(p - b->out);
	b->started = 0;
	return b->out;
}
