/*
 * inflate.c - zstd decompression with a hard output limit (the decompression-bomb guard).
 *
 * A frame that declares its size is refused before any output is produced when the size is over
 * the limit; one that does not is decompressed in steps into a buffer that grows up to the limit
 * and no further. The decoder's window is capped too, so a frame asking for a huge window cannot
 * make zstd allocate it.
 */
#include "server/server.h"

#include <stdlib.h>
#include <zstd.h>
#include <zstd_errors.h>

#define FIRST_CAP (256u * 1024u)

static int bad(hx_proto_reason *reason, hx_proto_reason why)
{
	*reason = why;
	return HX_EFORMAT;
}

int hx__inflate(const uint8_t *src, size_t len, size_t max, uint8_t **out, size_t *out_len,
                hx_proto_reason *reason)
{
	*reason = HX_REASON_NONE;
	*out = NULL;
	*out_len = 0;
	unsigned long long fcs = ZSTD_getFrameContentSize(src, len);
	if (fcs == ZSTD_CONTENTSIZE_ERROR)
		return bad(reason, HX_REASON_BAD_COMPRESSION);
	if (fcs != ZSTD_CONTENTSIZE_UNKNOWN && fcs > max)
		return bad(reason, HX_REASON_INFLATE_LIMIT);
	size_t cap = fcs != ZSTD_CONTENTSIZE_UNKNOWN ? (size_t)fcs : FIRST_CAP;
	if (cap > max)
		cap = max;
	if (cap == 0)
		cap = 1;
	ZSTD_DCtx *d = ZSTD_createDCtx();
	uint8_t *buf = malloc(cap);
	if (!d || !buf) {
		ZSTD_freeDCtx(d);
		free(buf);
		return HX_ENOMEM;
	}
	/* no window beyond what the output may hold (at least zstd's minimum, 2^10) */
	int wlog = 10;
	while (wlog < 27 && ((size_t)1 << wlog) < max)
		wlog++;
	ZSTD_DCtx_setParameter(d, ZSTD_d_windowLogMax, wlog);
	ZSTD_inBuffer in = {src, len, 0};
	ZSTD_outBuffer o = {buf, cap, 0};
	int rc = HX_OK;
	for (;;) {
		if (o.pos == o.size) {
			if (o.size >= max) {
				/* full: fine only if the input is done and nothing is left to flush */
				ZSTD_outBuffer probe_o = {NULL, 0, 0};
				uint8_t one;
				probe_o.dst = &one;
				probe_o.size = 1;
				size_t r = ZSTD_decompressStream(d, &probe_o, &in);
				if (ZSTD_isError(r))
					rc = bad(reason, HX_REASON_BAD_COMPRESSION);
				else if (probe_o.pos || r != 0 || in.pos != in.size)
					rc = bad(reason, HX_REASON_INFLATE_LIMIT);
				break;
			}
			size_t ncap = o.size * 2 > max || o.size * 2 < o.size ? max : o.size * 2;
			uint8_t *nb = realloc(buf, ncap);
			if (!nb) {
				rc = HX_ENOMEM;
				break;
			}
			buf = nb;
			o.dst = buf;
			o.size = ncap;
		}
		size_t r = ZSTD_decompressStream(d, &o, &in);
		if (ZSTD_isError(r)) {
			rc = bad(reason, ZSTD_getErrorCode(r) == ZSTD_error_frameParameter_windowTooLarge
			                     ? HX_REASON_INFLATE_LIMIT
			                     : HX_REASON_BAD_COMPRESSION);
			break;
		}
		if (r == 0 && in.pos == in.size)
			break;                       /* every frame complete */
		if (in.pos == in.size && o.pos < o.size) {
			rc = bad(reason, HX_REASON_BAD_COMPRESSION); /* cut short */
			break;
		}
	}
	ZSTD_freeDCtx(d);
	if (rc != HX_OK) {
		free(buf);
		return rc;
	}
	*out = buf;
	*out_len = o.pos;
	return HX_OK;
}
