/*
 * test_align.c - the clock offset solver (src/format/align.h) on hand-made constraint sets with
 * known answers: two hosts with both bounds (the NTP midpoint), clocks that already agree, one
 * bound only (the smallest shift), three hosts in a chain, contradicting bounds (reported, the
 * walk's offsets kept), an offset over the limit (refused), groups of hosts not connected, the
 * reference choice, and hostile times (no overflow).
 */
#include "../hxtest.h"

#include "format/align.h"

#include <setjmp.h>
#include <cmocka.h>

#define MS 1000000ll
#define BASE 1700000000000000000ull /* some time in 2023, in ns */

static void hosts_init(hx_clock_offset *h, size_t n, const char *const *names, const uint64_t *events)
{
	memset(h, 0, n * sizeof(*h));
	for (size_t i = 0; i < n; i++) {
		h[i].host = names[i];
		h[i].events = events ? events[i] : 0;
	}
}

/* A message from host a at time t (its clock) to host b, arriving `lat` later in true time,
 * with b's clock ahead of true time by skew_b and a's by skew_a. */
static hx__align_pair msg(uint32_t a, uint32_t b, uint64_t t, int64_t lat, int64_t skew_a, int64_t skew_b)
{
	uint64_t true_send = t - (uint64_t)skew_a;
	return (hx__align_pair){a, b, t, true_send + (uint64_t)lat + (uint64_t)skew_b};
}

static void test_midpoint(void **state)
{
	(void)state;
	const char *names[] = {"a", "b"};
	uint64_t events[] = {100, 10};
	hx_clock_offset h[2];
	hosts_init(h, 2, names, events);
	/* b's clock is 5 s ahead; requests take 2 ms, replies 4 ms */
	int64_t skew = 5000 * MS;
	hx__align_pair p[] = {
		msg(0, 1, BASE, 2 * MS, 0, skew),
		msg(1, 0, BASE + skew + 10 * MS, 4 * MS, skew, 0),
		msg(0, 1, BASE + 100 * MS, 3 * MS, 0, skew),
		msg(1, 0, BASE + skew + 200 * MS, 5 * MS, skew, 0),
	};
	hx__align_result res;
	assert_int_equal(hx__align_solve(h, 2, p, 4, &res), HX_OK);
	assert_true(h[0].reference);
	assert_false(h[1].reference);
	assert_int_equal(h[0].offset_ns, 0);
	/* L = -skew - 2 ms (fastest request), U = -skew + 4 ms (fastest reply): midpoint -skew + 1 ms */
	assert_int_equal(h[1].offset_ns, -skew + 1 * MS);
	assert_true(h[1].has_lower && h[1].has_upper);
	assert_int_equal(h[1].lower_ns, -skew - 2 * MS);
	assert_int_equal(h[1].upper_ns, -skew + 4 * MS);
	assert_int_equal(h[1].pairs, 4);
	assert_int_equal(h[0].pairs, 4);
	assert_int_equal(res.pairs, 4);
	assert_int_equal(res.violations_before, 2); /* the replies */
	assert_int_equal(res.violations_after, 0);
	assert_true(res.converged);
	assert_int_equal(res.refused, 0);
}

static void test_agree(void **state)
{
	(void)state;
	const char *names[] = {"a", "b"};
	hx_clock_offset h[2];
	hosts_init(h, 2, names, NULL);
	/* 1 ms each way, clocks within that: 0 lies in [L, U], nothing moves */
	hx__align_pair p[] = {msg(0, 1, BASE, MS, 0, MS / 2), msg(1, 0, BASE + 50 * MS, MS, MS / 2, 0)};
	hx__align_result res;
	assert_int_equal(hx__align_solve(h, 2, p, 2, &res), HX_OK);
	assert_int_equal(h[0].offset_ns, 0);
	assert_int_equal(h[1].offset_ns, 0);
	assert_int_equal(res.violations_before, 0);
	assert_int_equal(res.violations_after, 0);
	/* ties on events: the smaller name is the reference */
	assert_true(h[0].reference);
}

static void test_one_sided(void **state)
{
	(void)state;
	const char *names[] = {"a", "b"};
	uint64_t events[] = {1, 2};
	hx_clock_offset h[2];
	hosts_init(h, 2, names, events);
	/* only a -> b messages, and b is 3 s behind: b must move forward by just enough */
	hx__align_pair p[] = {msg(0, 1, BASE, 1 * MS, 0, -3000 * MS), msg(0, 1, BASE + MS, 2 * MS, 0, -3000 * MS)};
	hx__align_result res;
	assert_int_equal(hx__align_solve(h, 2, p, 2, &res), HX_OK);
	assert_true(h[1].reference); /* more events */
	/* off(b) - off(a) >= L = 3000 ms - 1 ms; b is the reference, so a moves: off(a) = -L */
	assert_int_equal(h[1].offset_ns, 0);
	assert_int_equal(h[0].offset_ns, -(3000 * MS - 1 * MS));
	assert_int_equal(res.violations_before, 2);
	assert_int_equal(res.violations_after, 0);
	assert_true(h[1].has_lower);
	assert_false(h[1].has_upper);
	assert_false(h[0].has_lower);
	assert_true(h[0].has_upper);

	/* the other way round: only b -> a, with a's clock fine: an upper bound that 0 satisfies */
	hx_clock_offset g[2];
	hosts_init(g, 2, names, NULL);
	hx__align_pair q[] = {msg(1, 0, BASE, 5 * MS, 0, 0)};
	assert_int_equal(hx__align_solve(g, 2, q, 1, &res), HX_OK);
	assert_int_equal(g[0].offset_ns, 0);
	assert_int_equal(g[1].offset_ns, 0);
}

static void test_chain(void **state)
{
	(void)state;
	/* a <-> b <-> c, b 2 s ahead, c 7 s behind; symmetric 1 ms latencies: exact answers */
	const char *names[] = {"a", "b", "c"};
	uint64_t events[] = {50, 20, 10};
	int64_t sb = 2000 * MS, sc = -7000 * MS;
	hx_clock_offset h[3];
	hosts_init(h, 3, names, events);
	hx__align_pair p[] = {
		msg(0, 1, BASE, MS, 0, sb),
		msg(1, 0, BASE + sb + 10 * MS, MS, sb, 0),
		msg(1, 2, BASE + sb + 20 * MS, MS, sb, sc),
		msg(2, 1, BASE + sc + 30 * MS, MS, sc, sb),
	};
	hx__align_result res;
	assert_int_equal(hx__align_solve(h, 3, p, 4, &res), HX_OK);
	assert_int_equal(h[0].offset_ns, 0);
	assert_int_equal(h[1].offset_ns, -sb);
	assert_int_equal(h[2].offset_ns, -sc);
	assert_int_equal(res.violations_after, 0);
	assert_int_equal(h[1].pairs, 4);
	assert_int_equal(h[2].pairs, 2);
	assert_int_equal(h[0].pairs, 2);
}

static void test_relax(void **state)
{
	(void)state;
	/* a -> b and b -> c agree with 0, but a -> c says c is 1 s behind: the edge the walk did not
	 * use must be honoured, by moving c (and not the reference) */
	const char *names[] = {"a", "b", "c"};
	uint64_t events[] = {50, 20, 10};
	hx_clock_offset h[3];
	hosts_init(h, 3, names, events);
	hx__align_pair p[] = {
		msg(0, 1, BASE, MS, 0, 0),
		msg(1, 2, BASE + 10 * MS, MS, 0, 0),
		msg(2, 1, BASE + 20 * MS, MS, 0, 0),
		msg(0, 2, BASE + 30 * MS, MS, 0, -1000 * MS),
	};
	hx__align_result res;
	assert_int_equal(hx__align_solve(h, 3, p, 4, &res), HX_OK);
	assert_int_equal(res.violations_before, 1);
	assert_int_equal(res.violations_after, 0);
	assert_true(res.converged);
	assert_int_equal(h[0].offset_ns, 0);
	assert_true(h[2].offset_ns >= 999 * MS);
}

static void test_inconsistent(void **state)
{
	(void)state;
	/* b -> a says off(b) - off(a) <= -10 ms; a -> b says >= +10 ms: no answer exists */
	const char *names[] = {"a", "b"};
	uint64_t events[] = {5, 1};
	hx_clock_offset h[2];
	hosts_init(h, 2, names, events);
	hx__align_pair p[] = {
		{0, 1, BASE + 10 * MS, BASE},          /* effect on b 10 ms before its cause on a */
		{1, 0, BASE + 10 * MS, BASE},          /* effect on a 10 ms before its cause on b */
	};
	hx__align_result res;
	assert_int_equal(hx__align_solve(h, 2, p, 2, &res), HX_OK);
	assert_false(res.converged);
	assert_int_equal(h[1].offset_ns, 0);   /* the midpoint of [10 ms, -10 ms] */
	assert_int_equal(res.violations_before, 2);
	assert_int_equal(res.violations_after, 2); /* reported, not hidden */
	assert_true(h[1].lower_ns > h[1].upper_ns);
}

static void test_refused(void **state)
{
	(void)state;
	const char *names[] = {"a", "b"};
	uint64_t events[] = {5, 1};
	hx_clock_offset h[2];
	hosts_init(h, 2, names, events);
	int64_t skew = 2 * HX_CLOCK_OFFSET_MAX_NS;
	hx__align_pair p[] = {msg(0, 1, BASE, MS, 0, -skew)};
	hx__align_result res;
	assert_int_equal(hx__align_solve(h, 2, p, 1, &res), HX_OK);
	assert_true(h[1].refused);
	assert_int_equal(h[1].offset_ns, 0);
	assert_int_equal(res.refused, 1);
	assert_int_equal(res.violations_after, 1);
}

static void test_groups(void **state)
{
	(void)state;
	/* {a, b} and {c, d} never talk: each group has its own reference */
	const char *names[] = {"a", "b", "c", "d"};
	uint64_t events[] = {10, 20, 30, 5};
	hx_clock_offset h[4];
	hosts_init(h, 4, names, events);
	hx__align_pair p[] = {
		msg(0, 1, BASE, MS, 0, -500 * MS),
		msg(3, 2, BASE, MS, 0, -700 * MS),
		{0, 0, BASE, 0},        /* one host: ignored */
		{7, 1, BASE, BASE},     /* no such host: ignored */
	};
	hx__align_result res;
	assert_int_equal(hx__align_solve(h, 4, p, 4, &res), HX_OK);
	assert_int_equal(res.pairs, 2);
	assert_true(h[1].reference);
	assert_true(h[2].reference);
	assert_false(h[0].reference);
	assert_false(h[3].reference);
	assert_int_equal(h[0].offset_ns, -(500 * MS - MS));
	assert_int_equal(h[3].offset_ns, -(700 * MS - MS));
	assert_int_equal(res.violations_after, 0);
}

static void test_hostile(void **state)
{
	(void)state;
	const char *names[] = {"a", "b", "c"};
	hx_clock_offset h[3];
	hosts_init(h, 3, names, NULL);
	hx__align_pair p[] = {
		{0, 1, UINT64_MAX, 0},
		{1, 0, 0, UINT64_MAX},
		{1, 2, UINT64_MAX, 0},
		{2, 0, UINT64_MAX, 0},
		{0, 2, 0, UINT64_MAX},
	};
	hx__align_result res;
	assert_int_equal(hx__align_solve(h, 3, p, 5, &res), HX_OK);
	for (int i = 0; i < 3; i++)
		assert_true(h[i].offset_ns <= HX_CLOCK_OFFSET_MAX_NS && h[i].offset_ns >= -HX_CLOCK_OFFSET_MAX_NS);
	assert_int_equal(hx__align_solve(h, 0, NULL, 0, &res), HX_OK);
	assert_int_equal(hx__align_solve(h, 3, NULL, 0, &res), HX_OK);
	assert_int_equal(res.pairs, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_midpoint),   cmocka_unit_test(test_agree),
		cmocka_unit_test(test_one_sided),  cmocka_unit_test(test_chain),
		cmocka_unit_test(test_relax),      cmocka_unit_test(test_inconsistent),
		cmocka_unit_test(test_refused),    cmocka_unit_test(test_groups),
		cmocka_unit_test(test_hostile),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
