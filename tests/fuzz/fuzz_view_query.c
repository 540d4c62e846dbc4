/*
 * fuzz_view_query.c - the viewer endpoints' parser (src/server/query_view.c): the input is split at
 * its first '?' into the path after /api/traces/ and the query string, and the query string is
 * also tried on every endpoint of a valid trace ID, and as an event ID.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/query_view.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const eps[] = {"view", "lod", "event", "find", "range", "critical-path"};
	char err[256], tail[64], id[HX__VIEW_EVENT_ID_MAX], *s = malloc(size + 1);
	if (!s)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	hx__view_params p;
	char *q = memchr(s, '?', size);
	if (q) {
		*q = '\0';
		if (hx__view_parse(&p, s, q + 1, size - (size_t)(q + 1 - s), err, sizeof(err)) == 0)
			hx__view_params_free(&p);
		*q = '?';
	}
	for (size_t i = 0; i < sizeof(eps) / sizeof(eps[0]); i++) {
		snprintf(tail, sizeof(tail), "0123456789abcdef0123456789ABCDEF/%s", eps[i]);
		if (hx__view_parse(&p, tail, s, size, err, sizeof(err)) == 0)
			hx__view_params_free(&p);
	}
	hx__view_parse_event_id(s, id);
	free(s);
	return 0;
}
