/*
 * bench_core.c - the cost of Haruspex's recording calls, measured like a user program sees them:
 * linked against the shared libharuspex, calling the public API from haruspex.h.
 *
 *   bench_core MODE [--threads N] [--events N] [--warmup N] [--dir DIR] [--no-verify]
 *
 * Modes (one iteration each):
 *   point   hx_point("tick")
 *   point2  hx_point_attrs("request", HX_ATTRS(HX_INT("bytes", n), HX_STR("path", "...")))
 *   block   hx_block_begin("work"); hx_block_end();   (ns are per begin+end pair)
 *   off     hx_point("tick") with tracing never initialised: the disabled-call cost
 *   sampled hx_point("tick") inside a trace that head sampling dropped (sampler never): the cost
 *           of a call on a sampled-out trace; nothing is recorded
 *   filtered hx_point("tick") with "tick" disabled by a name filter: the cost of a filtered call
 *   read    no recording: read the trace in DIR with the reader API (stream order) and print
 *           events and Mev/s: the decoder alone, for comparison with `hx stats`, which also
 *           tallies every event by kind, entity and name
 *
 * Tracing writes to the file sink in DIR (required except for off), with the library's defaults
 * otherwise. After the run the program shuts tracing down and, unless --no-verify, reads the trace
 * back with the reader API: every iteration must be in the trace (else exit 4), and the on-disk
 * cost is reported as
 *   bytes_per_iter = (committed payload bytes + 32-byte chunk headers) / iterations
 * where the payload counts every record (events, the string and context definitions each chunk
 * repeats, the threads' entity events), so it is the amortised cost of one iteration in the file,
 * not just its own record (event_bytes_per_iter reports that one). The file sizes (apparent and
 * allocated) are printed too. Timing keys are described in bench_common.h.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* nftw */
#endif
#include "bench_common.h"

#include <ftw.h>
#include <sys/stat.h>

#include <haruspex.h>
#include <haruspex/reader.h>

/* Every chunk starts with a 32-byte header (docs/format.md); the reader's payload_bytes excludes
 * it, the file holds it. */
#define HX_BENCH_CHUNK_HEADER 32u

static void loop_point(uint64_t n)
{
	for (uint64_t i = 0; i < n; i++)
		hx_point("tick");
}

static void loop_point2(uint64_t n)
{
	for (uint64_t i = 0; i < n; i++)
		hx_point_attrs("request", HX_ATTRS(HX_INT("bytes", i & 4095), HX_STR("path", "/var/lib/hx/data")));
}

static void loop_block(uint64_t n)
{
	for (uint64_t i = 0; i < n; i++) {
		hx_block_begin("work");
		hx_block_end();
	}
}

/* off: the same call as point; tracing is simply never started. hx_point() reads the volatile
 * hx__state on every iteration, so the compiler cannot drop the loop. */
#define loop_off loop_point
#define loop_filtered loop_point

/* sampled: each thread's loop runs inside a trace that the sampler (never) dropped. */
static void loop_sampled(uint64_t n)
{
	hx_trace_begin("sampled out");
	for (uint64_t i = 0; i < n; i++)
		hx_point("tick");
	hx_trace_end();
}

/* File totals of the trace directory: file scope because nftw() passes its callback no context. */
static uint64_t g_file_bytes, g_alloc_bytes, g_files;

static int sum_file(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	(void)path;
	(void)ftw;
	if (type == FTW_F && S_ISREG(st->st_mode)) {
		g_file_bytes += (uint64_t)st->st_size;
		g_alloc_bytes += (uint64_t)st->st_blocks * 512u;
		g_files++;
	}
	return 0;
}

/* Read the trace in `dir` back; count events of `kind` (and block ends for blocks). Prints the
 * trace keys and returns the number of complete iterations found, or UINT64_MAX on error. */
static uint64_t verify(const char *dir, hx_event_kind kind, uint64_t iterations)
{
	hx_reader *r;
	int err = hx_reader_open(&r, dir, HX_ORDER_STREAM);
	if (err) {
		fprintf(stderr, "bench_core: cannot read the trace in %s: %s\n", dir, hx_strerror(err));
		return UINT64_MAX;
	}
	uint64_t n_kind = 0, n_end = 0;
	hx_event ev;
	while ((err = hx_reader_next(r, &ev)) == HX_OK) {
		if (ev.kind == kind)
			n_kind++;
		else if (ev.kind == HX_EV_BLOCK_END)
			n_end++;
	}
	if (err != HX_EOF) {
		fprintf(stderr, "bench_core: reading %s: %s\n", dir, hx_strerror(err));
		hx_reader_close(r);
		return UINT64_MAX;
	}
	hx_reader_info info;
	hx_reader_info_get(r, &info);
	size_t ndamage = 0, nserious = 0;
	const hx_damage *dmg = hx_reader_damage(r, &ndamage);
	for (size_t i = 0; i < ndamage; i++) {
		if (dmg[i].kind != HX_DMG_TORN_TAIL) {
			if (nserious++ < 5)
				fprintf(stderr, "bench_core: damage %s at %s+%" PRIu64 ": %s\n",
				        hx_damage_kind_name(dmg[i].kind), dmg[i].file, dmg[i].offset,
				        dmg[i].reason ? dmg[i].reason : "");
		}
	}
	hx_reader_close(r);

	g_file_bytes = g_alloc_bytes = g_files = 0;
	nftw(dir, sum_file, 16, FTW_PHYS);

	uint64_t found = kind == HX_EV_BLOCK_BEGIN && n_end < n_kind ? n_end : n_kind;
	double per = found ? 1.0 / (double)found : 0.0;
	printf(" trace_events=%" PRIu64 " iterations_found=%" PRIu64 " payload_bytes=%" PRIu64
	       " chunks=%" PRIu64 " event_bytes=%" PRIu64 " files=%" PRIu64 " file_bytes=%" PRIu64
	       " alloc_bytes=%" PRIu64 " damage=%zu bytes_per_iter=%.3f event_bytes_per_iter=%.3f"
	       " file_bytes_per_iter=%.3f",
	       info.events, found, info.payload_bytes, info.chunks, info.event_bytes, g_files,
	       g_file_bytes, g_alloc_bytes, nserious,
	       (double)(info.payload_bytes + HX_BENCH_CHUNK_HEADER * info.chunks) * per,
	       (double)info.event_bytes * per, (double)g_file_bytes * per);
	if (found != iterations)
		fprintf(stderr, "bench_core: %" PRIu64 " iterations recorded, %" PRIu64 " in the trace\n",
		        iterations, found);
	return found;
}

/* read mode: decode every event of `dir` once, as fast as the reader goes. */
static int read_speed(const char *dir)
{
	uint64_t t0 = bench_now(CLOCK_MONOTONIC), n = 0;
	hx_reader *r;
	int err = hx_reader_open(&r, dir, HX_ORDER_STREAM);
	if (err) {
		fprintf(stderr, "bench_core: cannot read the trace in %s: %s\n", dir, hx_strerror(err));
		return 1;
	}
	hx_event ev;
	uint64_t sum = 0;
	while ((err = hx_reader_next(r, &ev)) == HX_OK) {
		sum += ev.time_ns ^ (uint64_t)ev.kind; /* use the event, as any consumer would */
		n++;
	}
	hx_reader_info info;
	hx_reader_info_get(r, &info);
	hx_reader_close(r);
	uint64_t t1 = bench_now(CLOCK_MONOTONIC);
	if (err != HX_EOF) {
		fprintf(stderr, "bench_core: reading %s: %s\n", dir, hx_strerror(err));
		return 1;
	}
	printf("bench=hx mode=read events=%" PRIu64 " bytes=%" PRIu64 " seconds=%.3f mev_s=%.2f"
	       " checksum=%" PRIu64 "\n",
	       n, info.bytes, (double)(t1 - t0) / 1e9, (double)n / (double)(t1 - t0) * 1e3, sum & 0xffff);
	return 0;
}

static const char usage[] =
    "usage: bench_core point|point2|block|off|sampled|filtered [--threads N] [--events N per thread]\n"
    "                  [--warmup N per thread] [--dir TRACE_DIR] [--no-verify]\n"
    "       bench_core read --dir TRACE_DIR\n";

int main(int argc, char **argv)
{
	struct bench_opts o;
	if (bench_parse(argc, argv, &o, usage))
		return 2;
	if (!strcmp(o.mode, "read")) {
		if (!o.dir) {
			fputs(usage, stderr);
			return 2;
		}
		return read_speed(o.dir);
	}

	static const struct {
		const char *name;
		bench_loop_fn loop;
		uint64_t events; /* default per thread: about 0.3-1 s on the 2-core machine */
		hx_event_kind kind;
	} modes[] = {
		{"point", loop_point, 40000000, HX_EV_POINT},
		{"point2", loop_point2, 15000000, HX_EV_POINT},
		{"block", loop_block, 20000000, HX_EV_BLOCK_BEGIN},
		{"off", loop_off, 1000000000, HX_EV_POINT},
		{"sampled", loop_sampled, 200000000, HX_EV_POINT},
		{"filtered", loop_filtered, 100000000, HX_EV_POINT},
	};
	size_t m = 0;
	while (m < sizeof modes / sizeof modes[0] && strcmp(modes[m].name, o.mode))
		m++;
	if (m == sizeof modes / sizeof modes[0]) {
		fputs(usage, stderr);
		return 2;
	}
	int off = !strcmp(o.mode, "off");
	uint64_t events = o.events ? o.events : modes[m].events;
	uint64_t warmup = o.warmup == UINT64_MAX ? events / 10 : o.warmup;

	if (hx_version_number() != HX_VERSION_NUMBER)
		fprintf(stderr, "bench_core: warning: header %d, library %u\n", HX_VERSION_NUMBER,
		        hx_version_number());
	if (off) {
		if (hx_enabled()) {
			fputs("bench_core: tracing is on (HARUSPEX_* in the environment?): cannot measure "
			      "the disabled call\n", stderr);
			return 2;
		}
	} else {
		if (!o.dir) {
			fputs("bench_core: --dir is required for this mode\n", stderr);
			return 2;
		}
		hx_config cfg;
		hx_config_init(&cfg);
		cfg.sink = HX_SINK_FILE;
		cfg.dir = o.dir;
		cfg.service = "bench_core";
		/* sampled and filtered record no point at all: verify() then expects none */
		if (!strcmp(o.mode, "sampled"))
			cfg.sampler = HX_SAMPLE_NEVER;
		if (!strcmp(o.mode, "filtered"))
			cfg.disable = "tick";
		int err = hx_init(&cfg);
		if (err) {
			fprintf(stderr, "bench_core: hx_init: %s\n", hx_strerror(err));
			return 1;
		}
	}

	struct bench_result r;
	bench_run(o.threads, events, warmup, modes[m].loop, &r);
	bench_print_result("hx", &o, events, warmup, &r);
	if (off) {
		printf("\n");
		return 0;
	}

	hx_stats st;
	hx_stats_get(&st);
	int err = hx_shutdown();
	uint64_t iterations = (events + warmup) * o.threads;
	printf(" iterations=%" PRIu64 " lib_events=%" PRIu64 " dropped=%" PRIu64 " slow_chunks=%" PRIu64,
	       iterations, st.events, st.count[HX_COUNT_DROPPED], st.count[HX_COUNT_SLOW_CHUNKS]);
	if (err) {
		printf("\n");
		fprintf(stderr, "bench_core: hx_shutdown: %s\n", hx_strerror(err));
		return 1;
	}
	if (!o.verify) {
		printf("\n");
		return 0;
	}
	uint64_t found = verify(o.dir, modes[m].kind, iterations);
	printf("\n");
	if (!strcmp(o.mode, "sampled") || !strcmp(o.mode, "filtered"))
		return found == 0 ? 0 : 4; /* not one of them may have been recorded */
	return found == iterations ? 0 : 4;
}
