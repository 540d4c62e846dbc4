/*
 * sort.c - the one sort the model needs at scale: (time, index) pairs, ten million of them for
 * the time order of a large trace. A least-significant-digit radix sort over only the bits in
 * which the keys differ (a trace spans seconds, so ~34 bits of nanoseconds: three passes of 12
 * bits) is linear and stable, so equal times keep their index order; qsort would be 5x slower.
 */
#include <stdlib.h>
#include <string.h>

#include "view/view_int.h"

int hx__vsort(uint64_t *key, uint32_t *idx, size_t n)
{
	if (n < 2)
		return HX_OK;
	uint64_t mn = key[0], mx = key[0];
	int sorted = 1;
	for (size_t i = 1; i < n; i++) {
		mn = key[i] < mn ? key[i] : mn;
		mx = key[i] > mx ? key[i] : mx;
		sorted &= key[i - 1] <= key[i];
	}
	if (sorted)
		return HX_OK;
	uint64_t span = mx - mn;
	int bits = 0;
	while (bits < 64 && (span >> bits))
		bits++;
	int passes = (bits + 11) / 12;
	int width = (bits + passes - 1) / passes;
	size_t buckets = (size_t)1 << width;
	uint64_t *k2 = hx__dag_alloc(n * sizeof(*k2));
	uint32_t *i2 = hx__dag_alloc(n * sizeof(*i2));
	size_t *count = malloc(buckets * sizeof(*count));
	if (!k2 || !i2 || !count) {
		free(k2);
		free(i2);
		free(count);
		return HX_ENOMEM;
	}
	uint64_t mask = buckets - 1;
	uint64_t *ks = key, *kd = k2;
	uint32_t *is = idx, *id = i2;
	for (int p = 0; p < passes; p++) {
		int shift = p * width;
		memset(count, 0, buckets * sizeof(*count));
		for (size_t i = 0; i < n; i++)
			count[((ks[i] - mn) >> shift) & mask]++;
		size_t acc = 0;
		for (size_t b = 0; b < buckets; b++) {
			size_t c = count[b];
			count[b] = acc;
			acc += c;
		}
		for (size_t i = 0; i < n; i++) {
			size_t d = count[((ks[i] - mn) >> shift) & mask]++;
			kd[d] = ks[i];
			id[d] = is[i];
		}
		uint64_t *tk = ks;
		ks = kd;
		kd = tk;
		uint32_t *ti = is;
		is = id;
		id = ti;
	}
	if (ks != key) {
		memcpy(key, ks, n * sizeof(*key));
		memcpy(idx, is, n * sizeof(*idx));
	}
	free(k2);
	free(i2);
	free(count);
	return HX_OK;
}
