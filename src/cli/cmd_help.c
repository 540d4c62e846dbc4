/*
 * cmd_help.c - `hx help [COMMAND]`, also `hx`, `hx --help` and `hx COMMAND --help`.
 */
#include "cli/cmd.h"

int cmd_help(int argc, char **argv)
{
	if (argc > 2)
		return hx__cli_usage("help");
	if (argc == 2) {
		const hx__cmd *c = hx__cmd_find(argv[1]);
		if (!c) {
			fprintf(stderr, "hx help: no command '%s'; see 'hx help'\n", argv[1]);
			return HX_EXIT_USAGE;
		}
		printf("usage: hx %s %s\n\n  %s\n", c->name, c->synopsis, c->help);
		return HX_EXIT_OK;
	}
	printf("usage: hx COMMAND [ARGS]   (PATH is a trace file or a directory of them)\n\n");
	for (size_t i = 0; i < hx__ncommands; i++)
		printf("  %-8s %s\n", hx__commands[i].name, hx__commands[i].help);
	printf("\n'hx help COMMAND' shows a command's usage; 'hx --version' the version.\n");
	return HX_EXIT_OK;
}
