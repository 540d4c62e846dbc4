/*
 * bench_lttng.c - the peer of bench_core.c: the same point workload recorded through LTTng-UST.
 *
 *   bench_lttng point|point2 [--threads N] [--events N] [--warmup N]
 *
 * The session (daemon, channel, enabled events) is set up by bench/run-core.sh before this program
 * starts; LTTng-UST's constructor registers with the session daemon and waits (up to
 * LTTNG_UST_REGISTER_TIMEOUT ms) for the enabled events before main() runs. The program refuses to
 * time anything if the tracepoint is not enabled by then (exit 3), so a misconfigured session
 * cannot pass for a fast tracer. Prints one key=value line like bench_core (bench=lttng ...).
 */
#define LTTNG_UST_TRACEPOINT_CREATE_PROBES
#define LTTNG_UST_TRACEPOINT_DEFINE
#include "hx_bench_tp.h"

#include "bench_common.h"

static void loop_point(uint64_t n)
{
	for (uint64_t i = 0; i < n; i++)
		lttng_ust_tracepoint(hx_bench, point);
}

static void loop_point2(uint64_t n)
{
	for (uint64_t i = 0; i < n; i++)
		lttng_ust_tracepoint(hx_bench, point2, (int64_t)(i & 4095), "/var/lib/hx/data");
}

static const char usage[] =
    "usage: bench_lttng point|point2 [--threads N] [--events N per thread] [--warmup N]\n";

int main(int argc, char **argv)
{
	struct bench_opts o;
	if (bench_parse(argc, argv, &o, usage))
		return 2;
	bench_loop_fn loop;
	uint64_t events;
	int enabled;
	if (!strcmp(o.mode, "point")) {
		loop = loop_point;
		events = 10000000;
		enabled = lttng_ust_tracepoint_enabled(hx_bench, point) != 0;
	} else if (!strcmp(o.mode, "point2")) {
		loop = loop_point2;
		events = 5000000;
		enabled = lttng_ust_tracepoint_enabled(hx_bench, point2) != 0;
	} else {
		fputs(usage, stderr);
		return 2;
	}
	if (!enabled) {
		fprintf(stderr, "bench_lttng: tracepoint hx_bench:%s is not enabled: no session daemon, "
		                "no session, or registration timed out\n", o.mode);
		return 3;
	}
	if (o.events)
		events = o.events;
	uint64_t warmup = o.warmup == UINT64_MAX ? events / 10 : o.warmup;

	struct bench_result r;
	bench_run(o.threads, events, warmup, loop, &r);
	bench_print_result("lttng", &o, events, warmup, &r);
	printf(" recorded_attempts=%" PRIu64 "\n", (events + warmup) * o.threads);
	return 0;
}
