/*
 * cmd_check.c - `hx check`: read a whole trace and say whether it is intact. Exit 0 only when
 * nothing was damaged (torn tails are listed but are what a killed program leaves: not damage),
 * 1 when something was, 2 when the input cannot be read at all.
 */
#include <getopt.h>

#include "cli/cmd.h"

int cmd_check(int argc, char **argv)
{
	static const struct option none[] = {{NULL, 0, NULL, 0}};
	opterr = 0;
	optind = 1;
	if (getopt_long(argc, argv, "", none, NULL) != -1)
		return hx__cli_bad_option("check", argv);
	if (optind != argc - 1)
		return hx__cli_usage("check");
	const char *path = argv[optind];
	hx_reader *r;
	if (hx__cli_open("check", path, HX_ORDER_STREAM, &r))
		return HX_EXIT_USAGE;
	hx_event ev;
	int rc;
	while ((rc = hx_reader_next(r, &ev)) == HX_OK)
		;
	if (rc != HX_EOF) {
		fprintf(stderr, "hx check: %s: %s\n", path, hx_strerror(rc));
		hx_reader_close(r);
		return HX_EXIT_USAGE;
	}
	hx_reader_info info;
	size_t n;
	const hx_damage *d = hx_reader_damage(r, &n);
	hx_reader_info_get(r, &info);
	hx__buf b = HX__BUF_INIT;
	if (!info.damaged)
		hx__buf_printf(&b, "ok: %s: %llu file%s, %llu chunk%s, %llu events, no damage\n", path,
		               (unsigned long long)info.files, info.files == 1 ? "" : "s",
		               (unsigned long long)info.chunks, info.chunks == 1 ? "" : "s",
		               (unsigned long long)info.events);
	else
		hx__buf_printf(&b, "damaged: %s: %zu report%s; %llu of %llu chunks skipped; %llu events readable\n",
		               path, n, n == 1 ? "" : "s", (unsigned long long)info.chunks_damaged,
		               (unsigned long long)info.chunks, (unsigned long long)info.events);
	for (size_t i = 0; i < n; i++) {
		hx__buf_puts(&b, "  ");
		hx__cli_damage_text(&b, &d[i]);
		hx__buf_putc(&b, '\n');
	}
	int werr = hx__cli_flush(&b, stdout) || fflush(stdout);
	hx__buf_free(&b);
	hx_reader_close(r);
	if (werr)
		return HX_EXIT_USAGE;
	return info.damaged ? HX_EXIT_NO : HX_EXIT_OK;
}
