/*
 * fuzz_http_query.c - the HTTP API's query-string parser (src/server/query.c): every endpoint's
 * validator, the path's trace ID, and the value parsers, on arbitrary bytes.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "server/query.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[256], *s = malloc(size + 1);
	if (!s)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	hx__search_req r;
	if (hx__search_parse(&r, s, size, err, sizeof(err)) == 0)
		hx__search_free(&r);
	hx__fetch_req f;
	const char *amp = memchr(s, '&', size);
	hx__fetch_parse(&f, "0123456789abcdef0123456789ABCDEF", s, size, err, sizeof(err));
	if (amp)
		hx__fetch_parse(&f, s + (amp - s) + 1, s, (size_t)(amp - s), err, sizeof(err));
	int kind;
	hx__names_parse(&kind, s, size, err, sizeof(err));
	hx__noparams_parse(s, size, err, sizeof(err));
	uint64_t v;
	hx__parse_time(s, &v);
	hx__parse_duration(s, &v);
	hx__parse_size(s, &v);
	free(s);
	return 0;
}
