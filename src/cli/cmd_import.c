/*
 * cmd_import.c - `hx import`: OTLP/JSON and Zipkin v2 JSON documents into trace files that every
 * hx tool reads (src/import/import.h; the mapping is in docs/interchange.md, "Import").
 *
 * All the inputs are read before anything is written and imported together, so a parent in one
 * file and its child in another are linked. Each process (resource: service, host, pid) becomes
 * one file DIR/<service>-<instance>.hx. The process instance IDs are salted with the inputs'
 * bytes: importing other documents into the same directory makes other files, and importing the
 * same documents again is refused (the files exist) rather than duplicating their events.
 *
 * A malformed input, or one over a limit, fails the whole command before anything is written
 * (exit 2). Spans rejected one by one are reported and the rest is written (exit 1); repairs are
 * reported as warnings (exit 0).
 */
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cmd.h"
#include "format/filewrite.h"
#include "import/import.h"
#include "server/query.h"

/* The whole of a file (or stdin for "-"), at most max bytes: 0, or -1 after a message. */
static int slurp(const char *path, size_t max, char **out, size_t *len)
{
	FILE *f = strcmp(path, "-") ? fopen(path, "rb") : stdin;
	if (!f) {
		fprintf(stderr, "hx import: %s: %s\n", path, strerror(errno));
		return -1;
	}
	size_t cap = 65536, n = 0;
	char *buf = malloc(cap);
	int rc = buf ? 0 : -1;
	while (rc == 0) {
		if (n == cap) {
			if (cap > max) {
				fprintf(stderr, "hx import: %s: larger than %zu bytes (the limit: --max-bytes)\n",
				        path, max);
				rc = -1;
				break;
			}
			size_t ncap = cap * 2 > max + 1 ? max + 1 : cap * 2;
			char *nb = realloc(buf, ncap);
			if (!nb) {
				rc = -1;
				break;
			}
			buf = nb;
			cap = ncap;
		}
		size_t got = fread(buf + n, 1, cap - n, f);
		n += got;
		if (got == 0) {
			if (ferror(f)) {
				fprintf(stderr, "hx import: %s: %s\n", path, strerror(errno));
				rc = -1;
			}
			break;
		}
	}
	if (n > max && rc == 0) {
		fprintf(stderr, "hx import: %s: larger than %zu bytes (the limit: --max-bytes)\n", path, max);
		rc = -1;
	}
	if (!buf)
		fprintf(stderr, "hx import: %s: %s\n", path, hx_strerror(HX_ENOMEM));
	if (f != stdin)
		fclose(f);
	if (rc) {
		free(buf);
		return -1;
	}
	*out = buf;
	*len = n;
	return 0;
}

/* DIR/<service>-<instance, 16 hex digits>.hx, the service's name made safe for a file name */
static int file_name(hx__buf *b, const char *dir, const hx__import_proc *p)
{
	int err = hx__buf_puts(b, dir);
	err |= hx__buf_putc(b, '/');
	size_t n = 0;
	for (const char *s = p->service; *s && n < 64; s++, n++) {
		char c = *s;
		int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		         c == '-' || c == '_' || (c == '.' && n > 0);
		err |= hx__buf_putc(b, ok ? c : '_');
	}
	err |= hx__buf_putc(b, '-');
	for (int i = 0; i < 8; i++)
		err |= hx__buf_printf(b, "%02x", p->instance[i]);
	err |= hx__buf_puts(b, ".hx");
	return err;
}

static int add_event(const hx_event *ev, void *user)
{
	return hx__file_writer_add(user, ev);
}

static int write_files(hx__import *im, const char *dir)
{
	size_t n = hx__import_nprocs(im);
	hx__buf *names = calloc(n ? n : 1, sizeof(*names));
	if (!names) {
		fprintf(stderr, "hx import: %s\n", hx_strerror(HX_ENOMEM));
		return HX_EXIT_USAGE;
	}
	int status = HX_EXIT_OK;
	for (size_t i = 0; i < n && status == HX_EXIT_OK; i++) {
		struct stat st;
		if (file_name(&names[i], dir, hx__import_proc_get(im, i))) {
			fprintf(stderr, "hx import: %s\n", hx_strerror(HX_ENOMEM));
			status = HX_EXIT_USAGE;
		} else if (lstat(names[i].p, &st) == 0) {
			fprintf(stderr, "hx import: %s exists: these documents were imported there already "
			                "(import into another directory, or remove the file)\n", names[i].p);
			status = HX_EXIT_USAGE;
		}
	}
	size_t written = 0;
	for (; written < n && status == HX_EXIT_OK; written++) {
		const hx__import_proc *p = hx__import_proc_get(im, written);
		hx__file_writer *w;
		int rc = hx__file_writer_open(&w, names[written].p, p->instance, p->pid, p->resource_kv,
		                              p->npairs);
		if (rc == HX_OK) {
			rc = hx__import_events(im, written, add_event, w);
			int crc = hx__file_writer_close(w);
			if (rc == HX_OK)
				rc = crc;
			if (rc != HX_OK)
				unlink(names[written].p);
		}
		if (rc != HX_OK) {
			fprintf(stderr, "hx import: writing %s: %s\n", names[written].p, hx_strerror(rc));
			status = HX_EXIT_USAGE;
			break;
		}
		printf("%s: %zu events of %s\n", names[written].p, p->nevents, p->service);
	}
	/* all or nothing: a failed write takes the files written before it */
	for (size_t i = 0; status != HX_EXIT_OK && i < written; i++)
		unlink(names[i].p);
	for (size_t i = 0; i < n; i++)
		hx__buf_free(&names[i]);
	free(names);
	return status;
}

int cmd_import(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"format", required_argument, NULL, 'f'},
		{"output", required_argument, NULL, 'o'},
		{"max-bytes", required_argument, NULL, 'b'},
		{"max-spans", required_argument, NULL, 's'},
		{NULL, 0, NULL, 0},
	};
	hx__import_limits lim;
	hx__import_limits_default(&lim);
	hx__import_format fmt = HX__IMPORT_AUTO;
	const char *dir = NULL;
	uint64_t v;
	int c;
	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, "f:o:", longopts, NULL)) != -1) {
		switch (c) {
		case 'f':
			if (!strcmp(optarg, "otlp"))
				fmt = HX__IMPORT_OTLP;
			else if (!strcmp(optarg, "zipkin"))
				fmt = HX__IMPORT_ZIPKIN;
			else if (!strcmp(optarg, "auto"))
				fmt = HX__IMPORT_AUTO;
			else {
				fprintf(stderr, "hx import: --format takes otlp, zipkin or auto, not '%s'\n", optarg);
				return hx__cli_usage("import");
			}
			break;
		case 'o':
			dir = optarg;
			break;
		case 'b':
			if (hx__parse_size(optarg, &v) || !v || v > SIZE_MAX / 4) {
				fprintf(stderr, "hx import: --max-bytes takes a size (16M, 1G ...), not '%s'\n", optarg);
				return hx__cli_usage("import");
			}
			lim.max_bytes = (size_t)v;
			break;
		case 's':
			if (hx__cli_parse_u64(optarg, &v) || !v || v > UINT32_MAX / 2) {
				fprintf(stderr, "hx import: --max-spans takes a count from 1, not '%s'\n", optarg);
				return hx__cli_usage("import");
			}
			lim.max_spans = (size_t)v;
			break;
		default:
			return hx__cli_bad_option("import", argv);
		}
	}
	if (optind >= argc || !dir) {
		if (!dir)
			fprintf(stderr, "hx import: -o DIR is required: where the trace files go\n");
		return hx__cli_usage("import");
	}
	hx__import *im;
	if (hx__import_new(&im, &lim)) {
		fprintf(stderr, "hx import: %s\n", hx_strerror(HX_ENOMEM));
		return HX_EXIT_USAGE;
	}
	int status = HX_EXIT_OK;
	for (int i = optind; i < argc && status == HX_EXIT_OK; i++) {
		char *data, err[512];
		size_t len;
		if (slurp(argv[i], lim.max_bytes, &data, &len)) {
			status = HX_EXIT_USAGE;
			break;
		}
		hx__import_salt(im, data, len);
		int rc = hx__import_name(im, argv[i]);
		if (rc == HX_OK)
			rc = hx__import_add(im, data, len, fmt, HX__IMPORT_SEQUENCE, err, sizeof(err));
		free(data);
		if (rc != HX_OK) {
			/* the message starts with the file's name */
			if (err[0])
				fprintf(stderr, "hx import: %s\n", err);
			else
				fprintf(stderr, "hx import: %s: %s\n", argv[i], hx_strerror(rc));
			status = HX_EXIT_USAGE;
		}
	}
	if (status == HX_EXIT_OK && hx__import_finish(im)) {
		fprintf(stderr, "hx import: %s\n", hx_strerror(HX_ENOMEM));
		status = HX_EXIT_USAGE;
	}
	if (status == HX_EXIT_OK && mkdir(dir, 0755) && errno != EEXIST) {
		fprintf(stderr, "hx import: cannot create %s: %s\n", dir, strerror(errno));
		status = HX_EXIT_USAGE;
	}
	if (status == HX_EXIT_OK)
		status = write_files(im, dir);
	if (status == HX_EXIT_OK) {
		hx__buf b = HX__BUF_INIT;
		const hx__import_stats *st = hx__import_get_stats(im);
		int noisy = st->rejected != 0;
		for (int k = 0; k < HX__IMPORT_WARN__MAX; k++)
			noisy |= st->warn[k] != 0;
		/* rejections and repairs are diagnostics: they go where the errors go */
		if (hx__import_summary(im, &b) == HX_OK)
			fprintf(noisy ? stderr : stdout, "%s%s\n", noisy ? "hx import: " : "", b.p);
		hx__buf_free(&b);
		if (st->rejected)
			status = HX_EXIT_NO;
	}
	if (fflush(stdout)) {
		fprintf(stderr, "hx import: writing the output: %s\n", hx_strerror(HX_EIO));
		status = HX_EXIT_USAGE;
	}
	hx__import_free(im);
	return status;
}
