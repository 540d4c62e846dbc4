/*
 * cmd_export.c - `hx export`: traces in the formats other tools read, Chrome Trace Event JSON
 * (Perfetto UI, chrome://tracing), OTLP/JSON and Zipkin v2 JSON (docs/interchange.md, "Export").
 *
 *   hx export --format chrome|otlp|zipkin [-o FILE] [--trace ID] PATH|URL... [TRACE]
 *
 * The input is read as `hx critical-path` reads it (several paths as one input, hosts' clocks
 * aligned, URLs of the service fetched first) into the export's input (src/export/export.h),
 * then written in pieces. Without a trace every trace is exported; a trace is named with --trace
 * or as the last argument (the whole ID or its last 8..31 hex digits) when that argument is not
 * a file, a directory or a URL. With -o the document goes to FILE.tmp-XXXXXX beside FILE and is
 * renamed over FILE only once complete, so a failed export never leaves half a document behind.
 * What the format had no place for is summed up on stderr.
 */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cmd.h"
#include "export/export.h"
#include "format/format.h"

/* The whole ID, or its last 8..31 digits, as `hx dump --trace` takes it. */
static int parse_trace(hx__dag_filter *f, const char *s)
{
	size_t n = strlen(s);
	if (n < 8 || n > 32)
		return -1;
	memset(f, 0, sizeof(*f));
	for (size_t i = 0; i < n; i++) {
		int v = hx__hexval(s[i]);
		if (v < 0)
			return -1;
		size_t nib = 32 - n + i; /* right-aligned */
		f->id[nib / 2] |= (uint8_t)(nib % 2 ? v : v << 4);
	}
	f->nibbles = n;
	return 0;
}

/* The last argument names a trace when it reads as one and names no input. */
static int is_trace_arg(const char *s, hx__dag_filter *f)
{
	struct stat st;
	return !hx__cli_is_url(s) && stat(s, &st) != 0 && parse_trace(f, s) == 0;
}

static void left_out(const hx__export_stats *st)
{
	char line[512];
	size_t n = 0;
	line[0] = '\0';
#define PART(cond, ...)                                                                  \
	do {                                                                             \
		if ((cond) && n < sizeof(line))                                          \
			n += (size_t)snprintf(line + n, sizeof(line) - n, __VA_ARGS__); \
	} while (0)
	PART(st->outside_trace, "%s%llu blocks outside any trace", n ? ", " : "",
	     (unsigned long long)st->outside_trace);
	PART(st->without_span, "%s%llu points, errors, counters or waits outside any span", n ? ", " : "",
	     (unsigned long long)st->without_span);
	PART(st->links_dropped, "%s%llu interactions with no span at one end", n ? ", " : "",
	     (unsigned long long)st->links_dropped);
	PART(st->cycles_broken, "%s%llu parent links that closed a cycle", n ? ", " : "",
	     (unsigned long long)st->cycles_broken);
	PART(st->nonfinite, "%s%llu NaN or infinite counter samples", n ? ", " : "",
	     (unsigned long long)st->nonfinite);
#undef PART
	if (n)
		fprintf(stderr, "hx export: left out (the format has no place for them): %s\n", line);
}

int cmd_export(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"format", required_argument, NULL, 'f'},
		{"output", required_argument, NULL, 'o'},
		{"trace", required_argument, NULL, 't'},
		{NULL, 0, NULL, 0},
	};
	hx__dag_filter filter;
	memset(&filter, 0, sizeof(filter));
	int format = 0, c;
	const char *output = NULL, *trace_arg = NULL;
	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, "f:o:t:", longopts, NULL)) != -1) {
		switch (c) {
		case 'f':
			if (!(format = hx__export_format_parse(optarg))) {
				fprintf(stderr, "hx export: --format is chrome, otlp or zipkin, not '%s'\n", optarg);
				return hx__cli_usage("export");
			}
			break;
		case 'o':
			output = optarg;
			break;
		case 't':
			trace_arg = optarg;
			if (parse_trace(&filter, optarg)) {
				fprintf(stderr, "hx export: --trace needs a trace ID (8 to 32 hex digits, its end), not '%s'\n", optarg);
				return hx__cli_usage("export");
			}
			break;
		default:
			return hx__cli_bad_option("export", argv);
		}
	}
	if (!format) {
		fprintf(stderr, "hx export: say which format: --format chrome|otlp|zipkin\n");
		return hx__cli_usage("export");
	}
	if (optind >= argc)
		return hx__cli_usage("export");
	size_t npaths = (size_t)(argc - optind);
	if (!trace_arg && npaths >= 2 && is_trace_arg(argv[argc - 1], &filter)) {
		trace_arg = argv[argc - 1];
		npaths--;
	}

	hx_reader *r;
	char **paths = argv + optind;
	const char *label = npaths == 1 ? paths[0] : "input";
	if (hx__cli_open_paths("export", paths, npaths, HX_ORDER_STREAM, &r))
		return HX_EXIT_USAGE;
	hx__export_input *in = NULL;
	FILE *out = NULL;
	char *tmp = NULL;
	int status = HX_EXIT_USAGE, rc = hx_reader_align_clocks(r);
	if (rc == HX_OK)
		rc = hx__export_input_read(&in, r, filter.nibbles ? &filter : NULL);
	if (rc != HX_OK) {
		fprintf(stderr, "hx export: %s: %s\n", label, hx_strerror(rc));
		goto out;
	}
	const hx__dag *d = hx__export_input_dag(in);
	if (filter.nibbles && d->ntraces != 1) {
		fprintf(stderr, "hx export: trace %s matches %zu traces%s\n", trace_arg, d->ntraces,
		        d->ntraces ? ": give more digits" : "");
		goto out;
	}
	hx_reader_info info;
	hx_reader_info_get(r, &info);
	if (info.damaged)
		fprintf(stderr, "hx export: %s is damaged: exporting what could be read (`hx check` says what was skipped)\n",
		        label);

	if (output) {
		size_t n = strlen(output);
		if (!(tmp = malloc(n + 16))) {
			fprintf(stderr, "hx export: %s\n", hx_strerror(HX_ENOMEM));
			goto out;
		}
		snprintf(tmp, n + 16, "%s.tmp-XXXXXX", output);
		int fd = mkstemp(tmp);
		if (fd < 0 || !(out = fdopen(fd, "w"))) {
			fprintf(stderr, "hx export: %s: cannot create a file beside it\n", output);
			if (fd >= 0) {
				close(fd);
				unlink(tmp);
			}
			free(tmp);
			tmp = NULL;
			goto out;
		}
		/* mkstemp makes it private; the document gets what a new file would get */
		mode_t mask = umask(0);
		umask(mask);
		fchmod(fd, 0666 & ~mask);
	}
	hx__export_stats st;
	rc = hx__export_write(in, format, out ? out : stdout, &st);
	if (rc == HX_OK && out) {
		rc = fclose(out) ? HX_EIO : HX_OK;
		out = NULL;
		if (rc == HX_OK && rename(tmp, output) != 0)
			rc = HX_EIO;
	}
	if (rc != HX_OK) {
		fprintf(stderr, "hx export: writing %s: %s\n", output ? output : "the output", hx_strerror(rc));
		goto out;
	}
	left_out(&st);
	status = HX_EXIT_OK;
out:
	if (out)
		fclose(out);
	if (tmp && status != HX_EXIT_OK)
		unlink(tmp);
	free(tmp);
	hx__export_input_free(in);
	hx_reader_close(r);
	return status;
}
