/*
 * align.h - the clock offset solver: given cause/effect pairs whose ends lie on different hosts
 * (clock domains), find one offset per host so that no effect precedes its cause, moving clocks
 * as little as the pairs allow. Pure computation on arrays, so tests can hand it constraint sets
 * with known answers; the reader (reader_align.c) collects the pairs and applies the offsets.
 *
 * The algorithm (docs/format.md, "Reading many files"):
 *   1. Pairs are grouped by directed host pair (A, B) = (cause host, effect host). The constraint
 *      effect + off(B) >= cause + off(A) gives off(B) - off(A) >= w_AB = max(cause - effect).
 *      Pairs B -> A give the upper bound off(B) - off(A) <= -w_BA: the NTP interval [L, U].
 *   2. Per connected group of hosts, the reference is the host with the most events (ties: the
 *      smaller name); offset 0. A breadth-first walk from it gives each host reached from A the
 *      offset off(A) + d, where d = 0 if 0 lies in [L, U] (the clocks agree as far as the pairs
 *      tell), the midpoint of [L, U] if both bounds exist (NTP's choice: errs by at most half the
 *      difference of the two directions' latencies), else the smallest shift onto the one bound.
 *   3. Constraints the walk did not use (other edges) are relaxed as difference constraints
 *      (Bellman-Ford): a violated edge moves its non-reference end by exactly the violation. At
 *      most HX__ALIGN_RELAX_ROUNDS rounds; if some edge is still violated the bounds contradict
 *      each other (clock drift over the run, a damaged time) and the walk's offsets are kept, so
 *      one bad pair cannot drag every host.
 *   4. An offset over HX_CLOCK_OFFSET_MAX_NS in size is refused (set to 0, flagged): such a gap
 *      says the files were not written together, or a time is wrong, more likely than a clock.
 *   5. Each host's bounds given the final offsets of its neighbours, its pair count, and the
 *      pairs out of order before and after are reported.
 * Thread safety: none needed (no state).
 */
#ifndef HX_ALIGN_H
#define HX_ALIGN_H

#include <haruspex/reader.h>

#include <stddef.h>
#include <stdint.h>

#define HX__ALIGN_RELAX_ROUNDS 100 /* Bellman-Ford rounds: enough for chains of 100 hosts */

/* One cause/effect pair; times in ns as recorded (before alignment). */
typedef struct hx__align_pair {
	uint32_t cause_host, effect_host; /* indexes into the host array */
	uint64_t cause_ns, effect_ns;
} hx__align_pair;

typedef struct hx__align_result {
	uint64_t pairs;              /* pairs used: cross-host, with valid host indexes */
	uint64_t violations_before;  /* effect before cause with no offsets */
	uint64_t violations_after;   /* ... with the offsets found */
	uint32_t refused;            /* offsets over the limit */
	int converged;               /* 1 if every bound holds after relaxing (0: contradictions) */
} hx__align_result;

/* Solve. In: hosts[i].host and .events (the reference choice); out: offset_ns, lower/upper and
 * has_lower/has_upper, pairs, reference, refused of every host (other fields untouched). `pairs`
 * is reordered. Pairs with a host index out of range or both ends on one host are ignored.
 * Returns HX_OK or HX_ENOMEM (then every offset is 0). */
int hx__align_solve(hx_clock_offset *hosts, size_t nhosts, hx__align_pair *pairs, size_t npairs,
                    hx__align_result *res);

#endif /* HX_ALIGN_H */
