/*
 * crc32c_inline.h - CRC32C for the writer's hot path: records are a few bytes long, so the call
 * and loop set-up of hx__crc32c() would cost more than the instructions. Same result as
 * hx__crc32c() (format.h) for any split of the input.
 */
#ifndef HX_CRC32C_INLINE_H
#define HX_CRC32C_INLINE_H

#include "format/format.h"

#if defined(__x86_64__) && defined(__SSE4_2__)
#include <nmmintrin.h>

static inline uint32_t hx__crc32c_inline(uint32_t crc, const void *buf, size_t len)
{
	const uint8_t *p = buf;
	uint64_t c = (uint32_t)~crc;
	while (len >= 8) {
		uint64_t v;
		memcpy(&v, p, 8);
		c = _mm_crc32_u64(c, v);
		p += 8;
		len -= 8;
	}
	uint32_t c32 = (uint32_t)c;
	if (len >= 4) {
		uint32_t v;
		memcpy(&v, p, 4);
		c32 = _mm_crc32_u32(c32, v);
		p += 4;
		len -= 4;
	}
	if (len >= 2) {
		uint16_t v;
		memcpy(&v, p, 2);
		c32 = _mm_crc32_u16(c32, v);
		p += 2;
		len -= 2;
	}
	if (len)
		c32 = _mm_crc32_u8(c32, *p);
	return ~c32;
}
#else
static inline uint32_t hx__crc32c_inline(uint32_t crc, const void *buf, size_t len)
{
	return hx__crc32c(crc, buf, len);
}
#endif

#endif /* HX_CRC32C_INLINE_H */
