/*
 * ids.c - trace and entity IDs.
 *
 * Trace IDs are 128 bits: 48 bits of ms since the epoch, then 80 random bits, so they sort by age,
 * reveal their start time, and are valid W3C trace-ids (never all zero). Entity IDs are 64 random
 * bits. Randomness comes from a per-thread xorshift128+ seeded by getrandom(): no syscall or lock
 * per ID, and two processes started together cannot collide the way time-seeded generators do.
 */
#define _GNU_SOURCE
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "lib/tracer.h"

void hx__rng_seed(uint64_t s[2])
{
	if (getrandom(s, 16, 0) != 16) {
		/* No entropy source (very old kernel, seccomp): mix what differs between threads. */
		s[0] = hx__mono_ns() ^ ((uint64_t)getpid() << 32) ^ (uint64_t)(uintptr_t)s;
		s[1] = hx__real_ns() * 0x9e3779b97f4a7c15ull;
	}
	if (!s[0] && !s[1])
		s[1] = 1;
}

uint64_t hx__rng_next(uint64_t s[2])
{
	uint64_t a = s[0];
	const uint64_t b = s[1];
	s[0] = b;
	a ^= a << 23;
	s[1] = a ^ b ^ (a >> 17) ^ (b >> 26);
	return s[1] + b;
}

void hx__trace_id_new(struct hx__thread *t, uint8_t out[16])
{
	uint64_t ms = hx__ticks_to_real_ns(t->tracer, hx__ticks(t->use_tsc)) / 1000000u;
	uint64_t r0 = hx__rng_next(t->rng), r1 = hx__rng_next(t->rng);
	for (int i = 0; i < 6; i++)
		out[i] = (uint8_t)(ms >> (8 * (5 - i)));
	for (int i = 0; i < 8; i++)
		out[6 + i] = (uint8_t)(r0 >> (8 * i));
	out[14] = (uint8_t)r1;
	out[15] = (uint8_t)(r1 >> 8);
}

uint64_t hx__entity_id_new(struct hx__thread *t)
{
	uint64_t id;
	do
		id = hx__rng_next(t->rng);
	while (id == 0);
	return id;
}
