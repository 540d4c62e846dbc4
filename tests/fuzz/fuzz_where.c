/*
 * fuzz_where.c - the --where parser of `hx analyze` (src/analysis/where.c) on arbitrary bytes,
 * and each expression that parses evaluated on a trace with blocks, with one in scope, and on a
 * trace without any.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "analysis/trace_features.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static hx__feat_block blocks[] = {{"db", 2, 3000, 2000, 500, 1000}, {"cache", 1, 10, 10, 0, 0}};
	static char *services[] = {"cart", "pay"}, *hosts[] = {"h1"};
	char err[256], *s = malloc(size + 1);
	if (!s)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	hx__where *w;
	if (hx__where_parse(s, &w, err, sizeof(err)) == HX_OK) {
		hx__features f;
		memset(&f, 0, sizeof(f));
		f.duration_ns = f.critical_ns = 5000;
		f.events = 12;
		f.errors = 1;
		f.root_name = "GET /";
		f.services = services;
		f.nservices = 2;
		f.host_names = hosts;
		f.nhost_names = 1;
		f.blocks = blocks;
		f.nblocks = 2;
		f.attrs[0].key = "route";
		f.attrs[0].value = "/cart";
		f.attrs[1].key = "n";
		f.attrs[1].value = "42";
		f.nattrs = 2;
		const char *keys[4];
		hx__where_attr_keys(w, keys, 4);
		hx__where_match(w, &f, NULL);
		hx__where_match(w, &f, &blocks[0]);
		f.nblocks = 0;
		hx__where_match(w, &f, NULL);
		hx__where_free(w);
	}
	free(s);
	return 0;
}
