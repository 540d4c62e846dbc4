/*
 * crc32c.c - CRC32C (Castagnoli), the chunk checksum of the trace format.
 *
 * zlib-style interface: hx__crc32c(0, buf, len) is the CRC of buf, and
 * hx__crc32c(hx__crc32c(0, a, n), b, m) is the CRC of a followed by b, which lets the writer extend
 * a chunk's checksum record by record. x86-64 uses the SSE4.2 instruction (the library is built
 * with -msse4.2 and checks the CPU at init); other machines use a table.
 */
#include "format/format.h"

#if defined(__x86_64__) && defined(__SSE4_2__)
#include "format/crc32c_inline.h"

uint32_t hx__crc32c(uint32_t crc, const void *buf, size_t len)
{
	return hx__crc32c_inline(crc, buf, len);
}
#else
static uint32_t crc_table[256];
static int crc_table_ready;

static void crc_table_init(void)
{
	for (uint32_t i = 0; i < 256; i++) {
		uint32_t c = i;
		for (int k = 0; k < 8; k++)
			c = (c & 1) ? (c >> 1) ^ 0x82f63b78u : c >> 1;
		crc_table[i] = c;
	}
	__atomic_store_n(&crc_table_ready, 1, __ATOMIC_RELEASE);
}

uint32_t hx__crc32c(uint32_t crc, const void *buf, size_t len)
{
	/* Building the table twice from two threads writes identical values: harmless. */
	if (!__atomic_load_n(&crc_table_ready, __ATOMIC_ACQUIRE))
		crc_table_init();
	const uint8_t *p = buf;
	uint32_t c = ~crc;
	while (len--)
		c = crc_table[(c ^ *p++) & 0xff] ^ (c >> 8);
	return ~c;
}
#endif
