/*
 * cmd_dump.c - `hx dump`: every event of a trace on stdout, one text line or JSON object each,
 * then a summary of what was damaged on stderr (stdout stays clean for pipes). Several paths are
 * read as one input; with several hosts their clocks are aligned first, and an event whose time
 * moved also shows the time it was recorded with.
 */
#include <getopt.h>
#include <string.h>

#include "cli/cmd.h"
#include "format/format.h"

#define FLUSH_AT (64 * 1024)

/* --trace: the whole ID, or its last digits as the text lines show them (at least 8). */
typedef struct trace_filter {
	int on;
	uint8_t id[16];
	size_t nibbles;          /* digits given, matched against the end of the ID */
} trace_filter;


static int filter_parse(trace_filter *f, const char *s)
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
	f->on = 1;
	return 0;
}

static int filter_match(const trace_filter *f, const uint8_t *id)
{
	for (size_t nib = 32 - f->nibbles; nib < 32; nib++) {
		unsigned a = nib % 2 ? id[nib / 2] & 15u : (unsigned)id[nib / 2] >> 4;
		unsigned b = nib % 2 ? f->id[nib / 2] & 15u : (unsigned)f->id[nib / 2] >> 4;
		if (a != b)
			return 0;
	}
	return 1;
}

/* An event whose time alignment moved: say how far the recorded time is from the one shown. */
static int add_orig(hx__buf *b, const hx_event *ev, int json, size_t start)
{
	if (json) {
		b->len--; /* reopen the object */
		return hx__buf_printf(b, ",\"time_orig_ns\":%llu}", (unsigned long long)ev->time_orig_ns);
	}
	/* after the time, which ends at the line's first space: "(orig -2.000123456s)" */
	char *sp = memchr(b->p + start, ' ', b->len - start);
	if (!sp)
		return HX_OK;
	size_t at = (size_t)(sp - b->p);
	int neg = ev->time_orig_ns < ev->time_ns;
	uint64_t d = neg ? ev->time_ns - ev->time_orig_ns : ev->time_orig_ns - ev->time_ns;
	char tag[64];
	int n = snprintf(tag, sizeof(tag), " (orig %c%llu.%09llus)", neg ? '-' : '+',
	                 (unsigned long long)(d / 1000000000u), (unsigned long long)(d % 1000000000u));
	if (n < 0 || (size_t)n >= sizeof(tag) || hx__buf_grow(b, (size_t)n))
		return HX_ENOMEM;
	memmove(b->p + at + n, b->p + at, b->len - at + 1);
	memcpy(b->p + at, tag, (size_t)n);
	b->len += (size_t)n;
	return HX_OK;
}

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
		{"trace", required_argument, NULL, 't'},
		{NULL, 0, NULL, 0},
	};
	trace_filter filter = {0, {0}, 0};
	int json = 0, c;
	hx_read_order order = HX_ORDER_TIME;
	uint64_t limit = UINT64_MAX;
	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, "jo:n:t:", longopts, NULL)) != -1) {
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
		case 't':
			if (filter_parse(&filter, optarg)) {
				fprintf(stderr, "hx dump: --trace needs a trace ID (8 to 32 hex digits, its end), not '%s'\n", optarg);
				return hx__cli_usage("dump");
			}
			break;
		default:
			return hx__cli_bad_option("dump", argv);
		}
	}
	if (optind >= argc)
		return hx__cli_usage("dump");

	hx_reader *r;
	char **paths = argv + optind;
	size_t npaths = (size_t)(argc - optind);
	if (hx__cli_open_paths("dump", paths, npaths, order, &r))
		return HX_EXIT_USAGE;
	int tag = hx_reader_processes(r) > 1;
	hx__buf b = HX__BUF_INIT;
	hx_event ev;
	uint64_t shown = 0;
	int rc = hx_reader_align_clocks(r), status = HX_EXIT_OK;
	while (rc == HX_OK && shown < limit && (rc = hx_reader_next(r, &ev)) == HX_OK) {
		if (filter.on && !filter_match(&filter, ev.trace_id))
			continue;
		size_t start = b.len;
		int err = json ? hx__event_json(&b, &ev) : hx__event_text(&b, &ev);
		if (!err && ev.time_orig_ns != ev.time_ns)
			err = add_orig(&b, &ev, json, start);
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
		fprintf(stderr, "hx dump: %s: %s\n", npaths == 1 ? paths[0] : "input", hx_strerror(rc));
		status = HX_EXIT_USAGE;
	}
	summary(r, shown, shown == limit && rc == HX_OK);
	hx__buf_free(&b);
	hx_reader_close(r);
	return status;
}
