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
	{"serve", cmd_serve,
	 "--data DIR [--listen HOST:PORT] [--http HOST:PORT] [--token T | --token-file F] "
	 "[--tls-cert F --tls-key F] [--memory-limit SIZE] [--max-frame SIZE] "
	 "[--retention-bytes SIZE] [--retention-age DURATION] [--kafka kafka://BROKERS/TOPIC "
	 "[--kafka-group G]]",
	 "run the trace storage service: native ingest, HTTP API, embedded store"},
	{"ship", cmd_ship, "DIR --to tcp://HOST:PORT [--token T] [--tls] [--ca FILE] [--state DIR] [--once]",
	 "send trace files to a service, following them as they grow; resumes where it stopped"},
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
