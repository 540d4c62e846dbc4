/*
 * hello.c - a first Haruspex program: one thread that starts a trace, opens nested blocks, records
 * points with typed attributes, a counter and an error, then shuts tracing down.
 *
 *     build/examples/hello [DIR]      record into DIR (default ./haruspex-traces)
 *     build/src/cli/hx dump DIR       show what was recorded
 *
 * Every recording call writes one event into the trace file before it returns, so even if this
 * program crashed half-way, the events recorded up to the crash would be in the file.
 */
#include <haruspex.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* HX_FUNC() opens a block named after the function ("parse_number") and ends it when the function
 * returns, whichever return that is. */
static int parse_number(const char *text, long *out)
{
	HX_FUNC();
	char *end;
	long v = strtol(text, &end, 10);
	if (end == text || *end != '\0') {
		/* An error marks the enclosing block and the trace as failed. Attributes say why. */
		hx_error_attrs("not a number", HX_ATTRS(HX_STR("text", text)));
		return -1;
	}
	*out = v;
	return 0;
}

int main(int argc, char **argv)
{
	/* Configure, then start. HARUSPEX_* environment variables override these fields, so an
	 * operator can redirect the files without rebuilding (docs/api.md). */
	hx_config cfg;
	hx_config_init(&cfg);
	cfg.service = "hello";
	if (argc > 1)
		cfg.dir = argv[1];
	int rc = hx_init(&cfg);
	if (rc != HX_OK && !hx_enabled()) {
		/* A bad configuration (HX_ECONFIG): nothing was started, and the message says why. */
		fprintf(stderr, "hello: hx_init: %s\n", hx_strerror(rc));
		return 1;
	}
	/* Any other failure (HX_ESINK: the directory cannot be written) leaves tracing on, counting
	 * every event as dropped: the program itself goes on unharmed. */

	/* A trace is one job or request. Events of this thread belong to it until hx_trace_end(). */
	hx_trace_begin("hello");

	/* An explicit block: begin and end on the same thread, properly nested. */
	hx_block_begin("setup");
	static const char *const inputs[] = {"3", "14", "15", "nine", "26", "535"};
	const size_t ninputs = sizeof inputs / sizeof inputs[0];
	hx_point("inputs ready");
	hx_block_end();

	long sum = 0;
	for (size_t i = 0; i < ninputs; i++) {
		/* HX_SCOPE opens a block that ends when this loop body is left, `continue` included. */
		HX_SCOPE("item");
		long v;
		if (parse_number(inputs[i], &v) != 0)
			continue;
		sum += v;

		/* A point is an instant. Attributes are typed and built without any format string:
		 * int, double, bool, string and raw bytes. */
		unsigned char digest[4] = {(unsigned char)v, (unsigned char)(v >> 8), 0xbe, 0xef};
		HX_POINT_WITH("parsed",
		              HX_INT("value", v),
		              HX_DOUBLE("share", (double)v / 1000.0),
		              HX_BOOL("odd", v % 2 != 0),
		              HX_STR("text", inputs[i]),
		              HX_BYTES("digest", digest, sizeof digest));

		/* A counter is a named value over time, with a unit: a counter track in a viewer. */
		hx_counter_int("running sum", sum, "units");
	}

	hx_point_attrs("done", HX_ATTRS(HX_INT("sum", sum)));
	hx_trace_end();

	/* Nothing is ever lost silently: the library counts every call it could not honour. */
	hx_stats st;
	hx_stats_get(&st);
	printf("hello: sum %ld, %llu events recorded, %llu dropped\n", sum,
	       (unsigned long long)st.events, (unsigned long long)st.count[HX_COUNT_DROPPED]);

	/* Seal the file and write its index. Events recorded so far are already in the file. */
	hx_shutdown();
	return 0;
}
