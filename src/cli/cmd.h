/*
 * cmd.h - the `hx` command's subcommands and what they share.
 *
 * Adding a subcommand (git's builtin recipe):
 *   1. Write src/cli/cmd_<name>.c defining `int cmd_<name>(int argc, char **argv)`. argv[0] is the
 *      subcommand's name, argv[1..] its arguments. Return the exit status: HX_EXIT_OK,
 *      HX_EXIT_NO (the answer is "no": damage found) or HX_EXIT_USAGE (bad usage or unreadable
 *      input, after a message on stderr that starts with "hx <name>: ").
 *   2. Declare it below.
 *   3. Add a row to hx__commands in hx.c: name, function, synopsis, one-line help. Rows are in
 *      the order `hx help` lists them.
 *   4. Add the file to src/cli/meson.build.
 * `hx <name> --help` and `hx help <name>` then work without code in the command itself.
 *
 * The commands run single-threaded; nothing here is shared between threads.
 */
#ifndef HX_CLI_CMD_H
#define HX_CLI_CMD_H

#include <haruspex.h>
#include <haruspex/reader.h>

#include <stdint.h>
#include <stdio.h>

#include "format/text.h"

enum { HX_EXIT_OK = 0, HX_EXIT_NO = 1, HX_EXIT_USAGE = 2 };

typedef struct hx__cmd {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *synopsis; /* arguments after "hx <name>" */
	const char *help;     /* one line */
} hx__cmd;

extern const hx__cmd hx__commands[];
extern const size_t hx__ncommands;
const hx__cmd *hx__cmd_find(const char *name); /* NULL if there is no such command */

int cmd_analyze(int argc, char **argv);
int cmd_check(int argc, char **argv);
int cmd_critical_path(int argc, char **argv);
int cmd_dump(int argc, char **argv);
int cmd_export(int argc, char **argv);
int cmd_help(int argc, char **argv);
int cmd_import(int argc, char **argv);
int cmd_ship(int argc, char **argv);
int cmd_serve(int argc, char **argv);
int cmd_stats(int argc, char **argv);
int cmd_view(int argc, char **argv);
int cmd_statsd(int argc, char **argv);

/* ---- shared helpers (common.c) ---- */

/* Print "usage: hx <name> <synopsis>" on stderr and return HX_EXIT_USAGE. */
int hx__cli_usage(const char *name);
/* Complain about an option getopt rejected (argv[optind - 1]) and return HX_EXIT_USAGE. */
int hx__cli_bad_option(const char *name, char **argv);
/* Open a trace, or say why not on stderr ("hx <name>: <path>: <reason>"); 0 or HX_EXIT_USAGE. */
int hx__cli_open(const char *name, const char *path, hx_read_order order, hx_reader **out);
/* The same for several paths read as one input (hx_reader_open_paths). */
int hx__cli_open_paths(const char *name, char **paths, size_t n, hx_read_order order,
                       hx_reader **out);
/* Service URLs as inputs (fetch.c): 1 for http:// and https://. hx__cli_fetch() downloads the
 * trace(s) a URL names into a temporary directory (removed at exit) and returns its path in
 * *dir_out: 0, or -1 with err filled. HX_TOKEN in the environment is the bearer token. */
int hx__cli_is_url(const char *path);
int hx__cli_fetch(const char *url, char **dir_out, char *err, size_t errlen);
/* A decimal number with nothing after it; 0 or -1. */
int hx__cli_parse_u64(const char *s, uint64_t *out);
/* One damage report as a line (no newline): kind, where, what was skipped, why. */
int hx__cli_damage_text(hx__buf *b, const hx_damage *d);
/* The same as a JSON object. */
int hx__cli_damage_json(hx__buf *b, const hx_damage *d);
/* Write b to f and empty it; -1 if the write failed (a closed pipe, a full disk). */
int hx__cli_flush(hx__buf *b, FILE *f);

#endif /* HX_CLI_CMD_H */
