/*
 * common.c - start-up and small helpers shared by every process of the shop example.
 */
#include "shop.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int shop_trace_start(const char *prog, const char *dir, const char *service)
{
	hx_config cfg;
	hx_config_init(&cfg);
	cfg.dir = dir;
	cfg.service = service;
	int err = hx_init(&cfg);
	/* HX_ESINK: the library said why on stderr and goes on counting drops; the shop still runs. */
	if (err != HX_OK && err != HX_ESINK) {
		fprintf(stderr, "%s: hx_init: %s\n", prog, hx_strerror(err));
		return -1;
	}
	return 0;
}

int shop_ready(int fd, unsigned port)
{
	if (fd < 0)
		return 0;
	char line[16];
	int n = snprintf(line, sizeof line, "%u\n", port);
	ssize_t w;
	do
		w = write(fd, line, (size_t)n);
	while (w < 0 && errno == EINTR);
	close(fd);
	return w == n ? 0 : -1;
}

int shop_parse_uint(const char *s, unsigned long min, unsigned long max, unsigned long *out)
{
	char *end;
	if (!s || *s < '0' || *s > '9')
		return -1;
	errno = 0;
	unsigned long v = strtoul(s, &end, 10);
	if (errno || *end || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

int shop_form_get(const char *body, size_t len, const char *key, char *buf, size_t buflen)
{
	size_t klen = strlen(key);
	const char *p = body, *end = body + len;
	while (p < end) {
		const char *amp = memchr(p, '&', (size_t)(end - p));
		const char *field_end = amp ? amp : end;
		if ((size_t)(field_end - p) > klen && !memcmp(p, key, klen) && p[klen] == '=') {
			const char *v = p + klen + 1;
			size_t vlen = (size_t)(field_end - v);
			if (vlen >= buflen)
				return -1;
			memcpy(buf, v, vlen);
			buf[vlen] = '\0';
			return 0;
		}
		p = field_end + 1;
	}
	return -1;
}

uint64_t shop_work(uint64_t seed, uint64_t rounds)
{
	/* splitmix64: each round depends on the last, so it cannot be folded or vectorised away. */
	uint64_t x = seed;
	for (uint64_t i = 0; i < rounds; i++) {
		x += 0x9e3779b97f4a7c15ull;
		uint64_t z = x;
		z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
		z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
		x ^= z ^ (z >> 31);
	}
	return x;
}
