/*
 * cmd_dump.c - `hx dump`: every event of a trace on stdout, one text line or JSON object each,
 * then a summary of what was damaged on stderr (stdout stays clean for pipes).
 */
#include <getopt.h>
#include <string.h>

#include "cli/cmd.h"

#define FLUSH_AT (64 * 1024)

/* With several processes in the input a line says whose event it is. */
static int add_process(hx__buf *b, const hx_reader *r, int json, size_t start)
{
	size_t i = hx_reader_event_process(r);
	const hx_process_info *p = hx_reader_process(r, i);
	if (!p)
		return HX_OK;
	if (json) {
		/* the object ends with '}': reopen it for two more members */
		b->len--;
		return hx__buf_printf(b, ",\"pid\":%llu,\"process\":%zu}", (unsigned long long)p->pid, i);
	}
	/* prefix the line just written: "[pid] " */
	char tag[32];
	int n = snprintf(tag, sizeof(tag), "[%llu] ", (unsigned long long)p->pid);
	if (hx__buf_grow(b, (size_t)n))
		return HX_ENOMEM;
	memmove(b->p + start + n, b->p + start, b->len - start + 1);
	memcpy(b->p + start, tag, (size_t)n);
	b->len += (size_t)n;
	return HX_OK;
}

static void summary(const hx_reader *r, uint64_t shown, int limited)
{
	hx_reader_info info;
	size_t n;
	const hx_damage *d = hx_reader_damage(r, &n);
	hx_reader_info_get(r, &info);
	if (limited)
		fprintf(stderr, "hx dump: stopped after %llu events (--limit)\n", (unsigned long long)shown);
	if (n == 0) {
		if (!limited)
			fprintf(stderr, "hx dump: %llu events, no damage\n", (unsigned long long)shown);
		return;
	}
	fprintf(stderr, "hx dump: %llu events; %zu damage report%s, %llu of %llu chunks skipped%s\n",
	        (unsigned long long)shown, n, n == 1 ? "" : "s",
	        (unsigned long long)info.chunks_damaged, (unsigned long long)info.chunks,
	        info.damaged ? "" : " (torn tails only: the trace is intact)");
	hx__buf b = HX__BUF_INIT;
	for (size_t i = 0; i < n; i++) {
		hx__buf_puts(&b, "  ");
		hx__cli_damage_text(&b, &d[i]);
		hx__buf_putc(&b, '\n');
	}
	hx__cli_flush(&b, stderr);
	hx__buf_free(&b);
}

int cmd_dump(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"json", no_argument, NULL, 'j'},
		{"order", required_argument, NULL, 'o'},
		{"limit", required_argument, NULL, 'n'},
		{NULL, 0, NULL, 0},
	};
	int json = 0, c;
	hx_read_order order = HX_ORDER_TIME;
	uint64_t limit = UINT64_MAX;
	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, "jo:n:", longopts, NULL)) != -1) {
		switch (c) {
		case 'j':
			json = 1;
			break;
		case 'o':
			if (!strcmp(optarg, "time"))
				order = HX_ORDER_TIME;
			else if (!strcmp(optarg, "stream"))
				order = HX_ORDER_STREAM;
			else {
				fprintf(stderr, "hx dump: --order is 'time' or 'stream', not '%s'\n", optarg);
				return hx__cli_usage("dump");
			}
			break;
		case 'n':
			if (hx__cli_parse_u64(optarg, &limit)) {
				fprintf(stderr, "hx dump: --limit needs a number, not '%s'\n", optarg);
				return hx__cli_usage("dump");
			}
			break;
		default:
			return hx__cli_bad_option("dump", argv);
		}
	}
	if (optind != argc - 1)
		return hx__cli_usage("dump");

	hx_reader *r;
	if (hx__cli_open("dump", argv[optind], order, &r))
		return HX_EXIT_USAGE;
	int tag = hx_reader_processes(r) > 1;
	hx__buf b = HX__BUF_INIT;
	hx_event ev;
	uint64_t shown = 0;
	int rc = HX_OK, status = HX_EXIT_OK;
	while (shown < limit && (rc = hx_reader_next(r, &ev)) == HX_OK) {
		size_t start = b.len;
		int err = json ? hx__event_json(&b, &ev) : hx__event_text(&b, &ev);
		if (!err && tag)
			err = add_process(&b, r, json, start);
		if (err || hx__buf_putc(&b, '\n')) {
			rc = HX_ENOMEM;
			break;
		}
		shown++;
		if (b.len >= FLUSH_AT && hx__cli_flush(&b, stdout)) {
			rc = HX_EIO;
			break;
		}
	}
	if (hx__cli_flush(&b, stdout) || fflush(stdout))
		rc = HX_EIO;
	if (rc != HX_OK && rc != HX_EOF) {
		fprintf(stderr, "hx dump: %s: %s\n", argv[optind], hx_strerror(rc));
		status = HX_EXIT_USAGE;
	}
	summary(r, shown, shown == limit && rc == HX_OK);
	hx__buf_free(&b);
	hx_reader_close(r);
	return status;
}
