/*
 * frame.c - frames of the native protocol (proto.h): the 16-byte header, the incremental parser,
 * and the small fixed payloads (HELLO, WELCOME, ACK, PING/PONG, ERROR).
 *
 * The parser is written for a receive buffer that fills a little at a time: it judges each header
 * field as soon as its bytes are there, so a peer that sends garbage (an HTTP request, a TLS hello
 * to a plain port) is refused after a few bytes, and an oversized length before any of its payload
 * is buffered. The payload's checksum is checked once the whole frame is in.
 */
#include "net/proto.h"

#include <string.h>

#include "format/format.h"

const char *hx_proto_reason_name(int reason)
{
	switch (reason) {
#define HX__REASON_CASE(name, code, text)                                                         \
	case code:                                                                                \
		return text;
		HX_PROTO_REASON_MAP(HX__REASON_CASE)
#undef HX__REASON_CASE
	default:
		return "unknown";
	}
}

static uint32_t frame_crc(const uint8_t *header, const uint8_t *payload, uint32_t len)
{
	uint32_t crc = hx__crc32c(0, header, 12);
	return len ? hx__crc32c(crc, payload, len) : crc;
}

void hx_frame_header(uint8_t *out, hx_frame_type type, uint16_t flags, const uint8_t *payload,
                     uint32_t len)
{
	memcpy(out, HX_PROTO_MAGIC, 4);
	out[4] = HX_PROTO_VERSION;
	out[5] = (uint8_t)type;
	hx__put_le16(out + 6, flags);
	hx__put_le32(out + 8, len);
	hx__put_le32(out + 12, frame_crc(out, payload, len));
}

static int type_known(unsigned t)
{
	return t >= HX_FRAME_HELLO && t <= HX_FRAME_PONG;
}

long hx_frame_parse(const uint8_t *buf, size_t len, uint32_t max_payload, hx_frame *f,
                    hx_proto_reason *reason)
{
	hx_proto_reason why = HX_REASON_NONE;
	if (len == 0)
		return 0;
	size_t m = len < 4 ? len : 4;
	if (memcmp(buf, HX_PROTO_MAGIC, m))
		why = HX_REASON_BAD_MAGIC;
	else if (len > 4 && buf[4] != HX_PROTO_VERSION)
		why = HX_REASON_BAD_VERSION;
	else if (len > 5 && !type_known(buf[5]))
		why = HX_REASON_BAD_TYPE;
	else if (len >= 8 && (hx__le16(buf + 6) & ~HX_FRAME_FLAGS_KNOWN))
		why = HX_REASON_PROTOCOL;
	else if (len >= 12 && hx__le32(buf + 8) > max_payload)
		why = HX_REASON_TOO_LARGE;
	if (why != HX_REASON_NONE) {
		if (reason)
			*reason = why;
		return -1;
	}
	if (len < HX_FRAME_HEADER_BYTES)
		return 0;
	uint32_t plen = hx__le32(buf + 8);
	if (len - HX_FRAME_HEADER_BYTES < plen)
		return 0;
	const uint8_t *payload = buf + HX_FRAME_HEADER_BYTES;
	if (frame_crc(buf, payload, plen) != hx__le32(buf + 12)) {
		if (reason)
			*reason = HX_REASON_BAD_CHECKSUM;
		return -1;
	}
	f->type = (hx_frame_type)buf[5];
	f->flags = hx__le16(buf + 6);
	f->payload = payload;
	f->len = plen;
	if (reason)
		*reason = HX_REASON_NONE;
	return (long)(HX_FRAME_HEADER_BYTES + (size_t)plen);
}

/* ---- small payloads ---- */

/* A varint length and that many bytes, at most max. */
static int get_bytes(const uint8_t **p, const uint8_t *end, size_t max, const uint8_t **out,
                     size_t *out_len)
{
	uint64_t n;
	if (hx__get_varint(p, end, &n) || n > max || n > (uint64_t)(end - *p))
		return -1;
	*out = *p;
	*out_len = (size_t)n;
	*p += n;
	return 0;
}

size_t hx_hello_encode(uint8_t *out, size_t cap, const char *token, const uint8_t session[16],
                       const char *name)
{
	size_t tl = token ? strlen(token) : 0, nl = name ? strlen(name) : 0;
	if (tl > HX_HELLO_TOKEN_MAX || nl > HX_HELLO_NAME_MAX ||
	    cap < 2 * HX_VARINT_MAX + tl + 16 + nl)
		return 0;
	uint8_t *p = hx__put_varint(out, tl);
	if (tl)
		memcpy(p, token, tl);
	p += tl;
	memcpy(p, session, 16);
	p += 16;
	p = hx__put_varint(p, nl);
	if (nl)
		memcpy(p, name, nl);
	return (size_t)(p + nl - out);
}

int hx_hello_parse(const uint8_t *p, size_t len, hx_hello *out)
{
	const uint8_t *end = p + len, *tok, *name;
	size_t tl, nl;
	if (get_bytes(&p, end, HX_HELLO_TOKEN_MAX, &tok, &tl) || end - p < 16)
		return HX_EFORMAT;
	memcpy(out->session, p, 16);
	p += 16;
	if (get_bytes(&p, end, HX_HELLO_NAME_MAX, &name, &nl) || p != end)
		return HX_EFORMAT;
	out->token = (const char *)tok;
	out->token_len = tl;
	out->name = (const char *)name;
	out->name_len = nl;
	return HX_OK;
}

void hx_welcome_encode(uint8_t out[8], uint32_t max_payload, uint32_t version)
{
	hx__put_le32(out, max_payload);
	hx__put_le32(out + 4, version);
}

int hx_welcome_parse(const uint8_t *p, size_t len, uint32_t *max_payload, uint32_t *version)
{
	if (len != 8)
		return HX_EFORMAT;
	*max_payload = hx__le32(p);
	*version = hx__le32(p + 4);
	return HX_OK;
}

void hx_u64_encode(uint8_t out[8], uint64_t v)
{
	hx__put_le64(out, v);
}

int hx_u64_parse(const uint8_t *p, size_t len, uint64_t *v)
{
	if (len != 8)
		return HX_EFORMAT;
	*v = hx__le64(p);
	return HX_OK;
}

size_t hx_error_encode(uint8_t *out, size_t cap, int reason, const char *text)
{
	size_t tl = text ? strlen(text) : 0;
	if (tl > HX_ERROR_TEXT_MAX)
		tl = HX_ERROR_TEXT_MAX;
	if (reason < 0 || reason > 0xffff || cap < 2 + HX_VARINT_MAX + tl)
		return 0;
	hx__put_le16(out, (uint16_t)reason);
	uint8_t *p = hx__put_varint(out + 2, tl);
	if (tl)
		memcpy(p, text, tl);
	return (size_t)(p + tl - out);
}

int hx_error_parse(const uint8_t *p, size_t len, uint16_t *reason, const char **text,
                   size_t *text_len)
{
	const uint8_t *end = p + len, *t;
	size_t tl;
	if (len < 2)
		return HX_EFORMAT;
	uint16_t r = hx__le16(p);
	p += 2;
	if (get_bytes(&p, end, HX_ERROR_TEXT_MAX, &t, &tl) || p != end)
		return HX_EFORMAT;
	*reason = r;
	*text = (const char *)t;
	*text_len = tl;
	return HX_OK;
}
