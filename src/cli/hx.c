/*
 * hx.c - the `hx` command: find the subcommand in the table and run it.
 */
#include <string.h>

#include "cli/cmd.h"

/* The commands, in the order `hx help` lists them (recipe in cmd.h). */
const hx__cmd hx__commands[] = {
	{"dump", cmd_dump, "[--json] [--order time|stream] [--limit N] [--trace ID] PATH...",
	 "print every event, one line (or JSON object) each"},
	{"stats", cmd_stats, "[--json] [--traces N] PATH...",
	 "summarise a trace: processes, events, traces, clock offsets, sizes, misuse, damage"},
	{"critical-path", cmd_critical_path, "[--json] [--trace ID] PATH...",
	 "what determined a trace's latency: its critical path, by block, entity and host"},
	{"view", cmd_view, "[--http HOST:PORT] [--data DIR] [--no-open] [--view-cache SIZE] PATH...",
	 "show traces in a web browser: timeline, event details, search, critical path"},
	{"analyze", cmd_analyze,
	 "[--where EXPR] [--group-by KEY...] [--metric M] [--since T] [--per-trace] "
	 "[--dependencies[=entity]] [--json|--csv] [--attr KEY...] PATH|URL...",
	 "features of many traces: count and p50/p90/p99/max by name, service, root, host or attribute"},
	{"export", cmd_export, "--format chrome|otlp|zipkin [-o FILE] [--trace ID] PATH|URL... [TRACE]",
	 "traces for other tools: Chrome trace JSON (Perfetto), OTLP/JSON, Zipkin v2 JSON"},
	{"import", cmd_import, "[--format otlp|zipkin|auto] [--max-bytes SIZE] [--max-spans N] FILE... -o DIR",
	 "OTLP/JSON and Zipkin v2 JSON spans into trace files: spans as blocks, links as interactions"},
	{"serve", cmd_serve,
	 "--data DIR [--listen HOST:PORT] [--http HOST:PORT] [--token T | --token-file F] "
	 "[--tls-cert F --tls-key F] [--memory-limit SIZE] [--max-frame SIZE] "
	 "[--retention-bytes SIZE] [--retention-age DURATION] [--kafka kafka://BROKERS/TOPIC "
	 "[--kafka-group G]] [--complete-idle DURATION] [--analysis-attrs KEY,...] "
	 "[--view-cache SIZE]",
	 "run the trace storage service: native ingest, HTTP API, embedded store, web viewer"},
	{"ship", cmd_ship, "DIR --to tcp://HOST:PORT [--token T] [--tls] [--ca FILE] [--state DIR] [--once]",
	 "send trace files to a service, following them as they grow; resumes where it stopped"},
	{"statsd", cmd_statsd, "PATH|URL... --to statsd://HOST:PORT[?prefix=P&rate=R&mtu=N] [--follow] [--quiet]",
	 "send metrics to statsd: block durations as timers, points and errors as counters, counters as gauges"},
	{"check", cmd_check, "PATH", "verify a trace: exit 0 if intact, 1 if damaged"},
	{"help", cmd_help, "[COMMAND]", "show the commands, or one command's usage"},
};
const size_t hx__ncommands = sizeof(hx__commands) / sizeof(hx__commands[0]);

const hx__cmd *hx__cmd_find(const char *name)
{
	for (size_t i = 0; i < hx__ncommands; i++)
		if (!strcmp(hx__commands[i].name, name))
			return &hx__commands[i];
	return NULL;
}

static int is_help(const char *a)
{
	return !strcmp(a, "--help") || !strcmp(a, "-h");
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		cmd_help(1, (char *[]){"help", NULL});
		return HX_EXIT_USAGE;
	}
	if (is_help(argv[1]))
		return cmd_help(1, (char *[]){"help", NULL});
	if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "version")) {
		printf("hx %s\n", hx_version());
		return HX_EXIT_OK;
	}
	const hx__cmd *c = hx__cmd_find(argv[1]);
	if (!c) {
		fprintf(stderr, "hx: '%s' is not an hx command; see 'hx help'\n", argv[1]);
		return HX_EXIT_USAGE;
	}
	/* `hx <cmd> --help` anywhere before "--" is the command's usage, whatever the command */
	for (int i = 2; i < argc && strcmp(argv[i], "--"); i++)
		if (is_help(argv[i]))
			return cmd_help(2, (char *[]){"help", argv[1], NULL});
	return c->fn(argc - 1, argv + 1);
}
