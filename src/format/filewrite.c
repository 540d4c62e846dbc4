/*
 * filewrite.c - a trace file from decoded events (filewrite.h).
 *
 * One stream (1), chunks of the largest size (1 MiB) so that any event the encoder can bound fits,
 * each chunk's payload an encoder body reset at the chunk's base time: exactly what a reader
 * expects from the library, minus the mapping and the concurrency.
 */
#define _GNU_SOURCE
#include "format/filewrite.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "format/encode.h"
#include "format/format.h"

#define CHUNK_BYTES HX_CHUNK_MAX

struct hx__file_writer {
	int fd;
	hx__encoder *enc;
	uint32_t chunk_seq;
	uint64_t base;      /* base time of the chunk being filled */
	int open_chunk;     /* the encoder holds events not yet written */
	uint8_t *chunk;     /* CHUNK_BYTES of scratch: the chunk header and its body */
	uint8_t header[HX_FILE_HEADER_BYTES];
};

static int write_all(int fd, const void *buf, size_t len)
{
	const uint8_t *p = buf;
	while (len) {
		ssize_t n = write(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return errno == ENOSPC ? HX_ENOSPC : HX_EIO;
		p += n;
		len -= (size_t)n;
	}
	return HX_OK;
}

static uint8_t *put_pair(uint8_t *p, const uint8_t *end, const char *k, const char *v)
{
	size_t kl = strlen(k), vl = strlen(v);
	if (kl > 255 || vl > 255 || p + 4 + kl + vl >= end)
		return p; /* does not fit: the resource is a description, dropping a pair is harmless */
	p = hx__put_varint(p, kl);
	memcpy(p, k, kl);
	p += kl;
	p = hx__put_varint(p, vl);
	memcpy(p, v, vl);
	return p + vl;
}

int hx__file_writer_open(hx__file_writer **out, const char *path, const uint8_t instance[16], uint64_t pid,
                         const char *const *resource_kv, size_t npairs)
{
	*out = NULL;
	hx__file_writer *w = calloc(1, sizeof *w);
	if (!w)
		return HX_ENOMEM;
	w->chunk = malloc(CHUNK_BYTES);
	w->enc = hx__encoder_new();
	if (!w->chunk || !w->enc) {
		free(w->chunk);
		hx__encoder_free(w->enc);
		free(w);
		return HX_ENOMEM;
	}
	w->fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (w->fd < 0) {
		int rc = errno == EACCES ? HX_EACCES : errno == ENOENT ? HX_ENOENT : HX_EIO;
		free(w->chunk);
		hx__encoder_free(w->enc);
		free(w);
		return rc;
	}
	uint8_t *h = w->header;
	memcpy(h + HX_FH_MAGIC, HX_FORMAT_MAGIC, 8);
	hx__put_le16(h + HX_FH_MAJOR, HX_FORMAT_MAJOR);
	hx__put_le16(h + HX_FH_MINOR, HX_FORMAT_MINOR);
	hx__put_le32(h + HX_FH_HEADER_BYTES, HX_FILE_HEADER_BYTES);
	hx__put_le32(h + HX_FH_CHUNK_BYTES, CHUNK_BYTES);
	memcpy(h + HX_FH_INSTANCE, instance, 16);
	hx__put_le64(h + HX_FH_PID, pid);
	hx__put_le32(h + HX_FH_CLOCK_KIND, HX_CLOCK_MONO);
	/* anchors all 0 and 10^9 ticks per second: ticks are ns since the epoch */
	hx__put_le64(h + HX_FH_TICKS_PER_SEC, 1000000000ull);
	hx__put_le32(h + HX_FH_CRC, hx__crc32c(0, h, HX_FH_CRC));
	uint8_t *p = h + HX_FH_RESOURCE, *end = h + HX_FH_RESOURCE_END - 1;
	for (size_t i = 0; i < npairs; i++)
		if (resource_kv[2 * i] && resource_kv[2 * i + 1])
			p = put_pair(p, end, resource_kv[2 * i], resource_kv[2 * i + 1]);
	*p = 0;
	int rc = write_all(w->fd, h, HX_FILE_HEADER_BYTES);
	if (rc != HX_OK) {
		close(w->fd);
		unlink(path);
		free(w->chunk);
		hx__encoder_free(w->enc);
		free(w);
		return rc;
	}
	*out = w;
	return HX_OK;
}

/* Seal the encoder's body as the next chunk and write it (a whole slot). */
static int flush_chunk(hx__file_writer *w)
{
	if (!w->open_chunk)
		return HX_OK;
	size_t len;
	const uint8_t *body = hx__encoder_data(w->enc, &len);
	uint8_t *c = w->chunk;
	memset(c, 0, HX_CHUNK_HEADER_BYTES);
	hx__put_le32(c + HX_CH_MAGIC, HX_CHUNK_MAGIC);
	hx__put_le32(c + HX_CH_STREAM, 1);
	hx__put_le32(c + HX_CH_SEQ, w->chunk_seq);
	hx__put_le64(c + HX_CH_BASE_TICKS, w->base);
	memcpy(c + HX_CHUNK_HEADER_BYTES, body, len);
	uint32_t crc = hx__crc32c(0, c, HX_CH_CRC_PREFIX);
	crc = hx__crc32c(crc, c + HX_CHUNK_HEADER_BYTES, len);
	hx__put_le64(c + HX_CH_COMMIT, ((uint64_t)crc << 32) | (uint64_t)len);
	/* Only the committed bytes are written; the rest of the slot is a hole (ftruncate at close),
	 * so a small trace costs its size on disk, not a megabyte a chunk. */
	int rc = write_all(w->fd, c, HX_CHUNK_HEADER_BYTES + len);
	if (rc != HX_OK)
		return rc;
	if (lseek(w->fd, (off_t)HX_FILE_HEADER_BYTES + (off_t)(w->chunk_seq + 1) * CHUNK_BYTES, SEEK_SET) < 0)
		return HX_EIO;
	w->chunk_seq++;
	w->open_chunk = 0;
	return HX_OK;
}

int hx__file_writer_add(hx__file_writer *w, const hx_event *ev)
{
	size_t bound = hx__encode_bound(ev);
	if (bound > CHUNK_BYTES - HX_CHUNK_HEADER_BYTES)
		return HX_EINVAL;
	if (w->open_chunk) {
		size_t len;
		hx__encoder_data(w->enc, &len);
		if (len + bound > CHUNK_BYTES - HX_CHUNK_HEADER_BYTES) {
			int rc = flush_chunk(w);
			if (rc != HX_OK)
				return rc;
		}
	}
	if (!w->open_chunk) {
		w->base = ev->time_ns;
		hx__encoder_reset(w->enc, w->base);
	}
	int rc = hx__encode_event(w->enc, ev);
	if (rc == HX_OK)
		w->open_chunk = 1;
	return rc;
}

int hx__file_writer_close(hx__file_writer *w)
{
	if (!w)
		return HX_OK;
	int rc = flush_chunk(w);
	if (rc == HX_OK) {
		/* clean: closed on purpose (no index: readers scan the slots, which is as correct) */
		hx__put_le32(w->header + HX_FH_FLAGS, HX_FLAG_CLEAN);
		if (ftruncate(w->fd, (off_t)HX_FILE_HEADER_BYTES + (off_t)w->chunk_seq * CHUNK_BYTES) != 0 ||
		    pwrite(w->fd, w->header + HX_FH_FLAGS, 4, HX_FH_FLAGS) != 4)
			rc = HX_EIO;
	}
	if (close(w->fd) != 0 && rc == HX_OK)
		rc = HX_EIO;
	hx__encoder_free(w->enc);
	free(w->chunk);
	free(w);
	return rc;
}
