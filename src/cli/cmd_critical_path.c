/*
 * cmd_critical_path.c - `hx critical-path`: what determined a trace's end-to-end latency.
 *
 * Reads the input into a trace DAG (src/model/dag.h) and walks the critical path
 * (src/analysis/critpath.h). With --trace the reader keeps only that trace's events (entity
 * names are still taken from all of them); without it every event is read, the longest trace is
 * chosen and cut out of the whole graph, so both ways give the same answer for the same trace.
 * Several paths are read as one input, with the hosts' clocks aligned first.
 */
#include <getopt.h>
#include <string.h>

#include "analysis/critpath.h"
#include "cli/cmd.h"
#include "model/dag.h"
#include "format/format.h"

#define FLUSH_AT (64 * 1024)
#define ISSUES_SHOWN 10


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

static int trace_hex(hx__buf *b, const uint8_t id[16])
{
	int err = 0;
	for (int i = 0; i < 16; i++)
		err |= hx__buf_printf(b, "%02x", id[i]);
	return err;
}

/* ns as milliseconds with 6 decimals, exact (no floating point) */
static int ms(hx__buf *b, uint64_t ns)
{
	return hx__buf_printf(b, "%llu.%06llu", (unsigned long long)(ns / 1000000u),
	                      (unsigned long long)(ns % 1000000u));
}

static int pct(hx__buf *b, uint64_t part, uint64_t whole)
{
	/* tenths of a percent, rounded, in integers */
	uint64_t t = whole ? (part * 1000u + whole / 2) / whole : 0;
	return hx__buf_printf(b, "%3llu.%llu%%", (unsigned long long)(t / 10), (unsigned long long)(t % 10));
}

static int entity_label(hx__buf *b, const hx__dag *d, uint32_t e)
{
	const hx__dag_entity *en = &d->entities[e];
	const char *name = hx__dag_str(d, en->name);
	if (*name)
		return hx__text_plain(b, name, strlen(name));
	return hx__buf_printf(b, "%016llx", (unsigned long long)en->id);
}

static int print_text(hx__buf *b, const hx__dag *d, const hx__critpath *cp, const char *why)
{
	const hx__dag_trace *t = &d->traces[cp->trace];
	uint64_t dur = cp->end_ns - cp->start_ns;
	const char *root = hx__dag_str(d, t->root_name);
	int err = hx__buf_puts(b, "trace ");
	err |= trace_hex(b, t->id);
	if (*root) {
		err |= hx__buf_putc(b, ' ');
		err |= hx__text_string(b, root, strlen(root));
	}
	err |= hx__buf_printf(b, "%s\nduration ", why);
	err |= ms(b, dur);
	err |= hx__buf_puts(b, " ms, from ");
	err |= hx__time_iso(b, cp->start_ns);
	err |= hx__buf_puts(b, " to ");
	err |= hx__time_iso(b, cp->end_ns);
	err |= hx__buf_printf(b, "; %llu events on the path, %zu segments\n\n",
	                      (unsigned long long)cp->path_events, cp->nseg);
	err |= hx__buf_puts(b, "   start ms    length ms  kind         entity               block and detail\n");
	for (size_t i = 0; i < cp->nseg && !err; i++) {
		const hx__cp_segment *s = &cp->seg[i];
		size_t col = b->len;
		err |= hx__buf_puts(b, "  +");
		err |= ms(b, s->start_ns - cp->start_ns);
		while (b->len - col < 13)
			err |= hx__buf_putc(b, ' ');
		err |= ms(b, s->end_ns - s->start_ns);
		while (b->len - col < 26)
			err |= hx__buf_putc(b, ' ');
		err |= hx__buf_puts(b, hx__seg_kind_name(s->kind));
		while (b->len - col < 39)
			err |= hx__buf_putc(b, ' ');
		if (s->kind == HX__SEG_TRANSFER) {
			err |= entity_label(b, d, s->from_entity);
			err |= hx__buf_puts(b, " -> ");
		}
		err |= entity_label(b, d, s->entity);
		while (b->len - col < 60)
			err |= hx__buf_putc(b, ' ');
		err |= hx__buf_putc(b, ' ');
		if (s->block != HX__DAG_NONE) {
			const char *bn = hx__dag_str(d, d->blocks[s->block].name);
			err |= hx__text_plain(b, bn, strlen(bn));
		} else {
			err |= hx__buf_putc(b, '-');
		}
		if (s->kind == HX__SEG_WAITING) {
			const char *r = s->reason == HX__CP_REASON_GAP ? "(events outside the graph)"
			                                               : hx__dag_str(d, s->reason);
			err |= hx__buf_puts(b, "  waiting for ");
			err |= *r ? hx__text_string(b, r, strlen(r)) : hx__buf_puts(b, "(no reason given)");
		}
		if (s->steps > 1)
			err |= hx__buf_printf(b, "  (%u steps)", s->steps);
		err |= hx__buf_putc(b, '\n');
	}
	err |= hx__buf_puts(b, "\ncritical time by kind:");
	for (int k = 0; k < HX__SEG__MAX; k++) {
		if (!cp->by_kind[k])
			continue;
		err |= hx__buf_printf(b, "  %s ", hx__seg_kind_name(k));
		err |= ms(b, cp->by_kind[k]);
		err |= hx__buf_puts(b, " ms (");
		err |= pct(b, cp->by_kind[k], dur);
		err |= hx__buf_putc(b, ')');
	}
	err |= hx__buf_puts(b, "\ncritical time by block:\n");
	for (size_t i = 0; i < cp->nby_block; i++) {
		err |= hx__buf_puts(b, "  ");
		err |= pct(b, cp->by_block[i].ns, dur);
		err |= hx__buf_puts(b, "  ");
		err |= ms(b, cp->by_block[i].ns);
		err |= hx__buf_puts(b, " ms  ");
		if (cp->by_block[i].key == HX__DAG_NONE) {
			err |= hx__buf_puts(b, "(outside any block)");
		} else {
			const char *bn = hx__dag_str(d, cp->by_block[i].key);
			err |= hx__text_plain(b, bn, strlen(bn));
		}
		err |= hx__buf_putc(b, '\n');
	}
	err |= hx__buf_puts(b, "critical time by entity:\n");
	for (size_t i = 0; i < cp->nby_entity; i++) {
		err |= hx__buf_puts(b, "  ");
		err |= pct(b, cp->by_entity[i].ns, dur);
		err |= hx__buf_puts(b, "  ");
		err |= ms(b, cp->by_entity[i].ns);
		err |= hx__buf_puts(b, " ms  ");
		err |= entity_label(b, d, cp->by_entity[i].key);
		err |= hx__buf_printf(b, " (%016llx)\n", (unsigned long long)d->entities[cp->by_entity[i].key].id);
	}
	err |= hx__buf_puts(b, "critical time by host:\n");
	for (size_t i = 0; i < cp->nby_host; i++) {
		const char *h = hx__dag_str(d, cp->by_host[i].key);
		err |= hx__buf_puts(b, "  ");
		err |= pct(b, cp->by_host[i].ns, dur);
		err |= hx__buf_puts(b, "  ");
		err |= ms(b, cp->by_host[i].ns);
		err |= hx__buf_puts(b, " ms  ");
		err |= *h ? hx__text_plain(b, h, strlen(h)) : hx__buf_puts(b, "(unknown host)");
		err |= hx__buf_putc(b, '\n');
	}
	if (cp->clamped || cp->cycles || cp->missing || cp->inferred) {
		err |= hx__buf_printf(b, "walk: %llu steps clamped to 0 (clock skew, ", (unsigned long long)cp->clamped);
		err |= ms(b, cp->clamped_ns);
		err |= hx__buf_printf(b, " ms), %llu predecessors skipped as cycles, %llu causes not in the "
		                         "graph, %llu waits attributed to what woke them\n",
		                      (unsigned long long)cp->cycles, (unsigned long long)cp->missing,
		                      (unsigned long long)cp->inferred);
	}
	err |= hx__dag_report_text(b, d, ISSUES_SHOWN);
	return err ? HX_ENOMEM : HX_OK;
}

static int print_json(hx__buf *b, const hx__dag *d, const hx__critpath *cp, const char *selected,
                      size_t traces_in_input)
{
	int err = hx__critpath_json(b, d, cp);
	if (err)
		return err;
	b->len--; /* reopen the object for the members only the command knows */
	err |= hx__buf_printf(b, ",\"selected\":\"%s\",\"traces_in_input\":%zu,\"graph\":", selected,
	                      traces_in_input);
	err |= hx__dag_report_json(b, d);
	err |= hx__buf_puts(b, "}\n");
	return err ? HX_ENOMEM : HX_OK;
}

int cmd_critical_path(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"json", no_argument, NULL, 'j'},
		{"trace", required_argument, NULL, 't'},
		{NULL, 0, NULL, 0},
	};
	hx__dag_filter filter;
	memset(&filter, 0, sizeof(filter));
	int json = 0, c;
	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, "jt:", longopts, NULL)) != -1) {
		switch (c) {
		case 'j':
			json = 1;
			break;
		case 't':
			if (parse_trace(&filter, optarg)) {
				fprintf(stderr, "hx critical-path: --trace needs a trace ID (8 to 32 hex digits, its end), not '%s'\n", optarg);
				return hx__cli_usage("critical-path");
			}
			break;
		default:
			return hx__cli_bad_option("critical-path", argv);
		}
	}
	if (optind >= argc)
		return hx__cli_usage("critical-path");

	hx_reader *r;
	char **paths = argv + optind;
	size_t npaths = (size_t)(argc - optind);
	if (hx__cli_open_paths("critical-path", paths, npaths, HX_ORDER_STREAM, &r))
		return HX_EXIT_USAGE;
	hx__dag *all = NULL, *one = NULL;
	hx__critpath cp;
	memset(&cp, 0, sizeof(cp));
	hx__buf b = HX__BUF_INIT;
	int status = HX_EXIT_USAGE, rc = hx_reader_align_clocks(r);
	if (rc == HX_OK)
		rc = hx__dag_read(&all, r, filter.nibbles ? &filter : NULL);
	if (rc != HX_OK) {
		fprintf(stderr, "hx critical-path: %s: %s\n", npaths == 1 ? paths[0] : "input", hx_strerror(rc));
		goto out;
	}
	size_t ntraces = all->ntraces;
	char why[96];
	const char *selected;
	uint32_t pick = HX__DAG_NONE;
	if (filter.nibbles) {
		if (ntraces != 1) {
			fprintf(stderr, "hx critical-path: --trace %s matches %zu traces%s\n", argv[optind - 1],
			        ntraces, ntraces ? ": give more digits" : "");
			goto out;
		}
		pick = 0;
		one = all;
		all = NULL;
		selected = "given";
		why[0] = '\0';
	} else {
		/* the longest; ties go to the trace seen first */
		for (uint32_t t = 0; t < ntraces; t++) {
			const hx__dag_trace *tr = &all->traces[t];
			if (tr->events && (pick == HX__DAG_NONE ||
			                   tr->last_ns - tr->first_ns >
			                       all->traces[pick].last_ns - all->traces[pick].first_ns))
				pick = t;
		}
		if (pick == HX__DAG_NONE) {
			fprintf(stderr, "hx critical-path: no traces in the input (events outside any trace "
			                "have no end-to-end latency)\n");
			goto out;
		}
		if ((rc = hx__dag_extract(all, pick, &one))) {
			fprintf(stderr, "hx critical-path: %s\n", hx_strerror(rc));
			goto out;
		}
		hx__dag_free(all);
		all = NULL;
		pick = 0;
		selected = "longest";
		snprintf(why, sizeof(why), " (the longest of %zu trace%s in the input)", ntraces,
		         ntraces == 1 ? "" : "s");
	}
	if ((rc = hx__critpath_compute(one, pick, &cp)) ||
	    (rc = json ? print_json(&b, one, &cp, selected, ntraces) : print_text(&b, one, &cp, why))) {
		fprintf(stderr, "hx critical-path: %s\n", hx_strerror(rc));
		goto out;
	}
	if (hx__cli_flush(&b, stdout) || fflush(stdout)) {
		fprintf(stderr, "hx critical-path: writing the output: %s\n", hx_strerror(HX_EIO));
		goto out;
	}
	status = HX_EXIT_OK;
out:
	hx__buf_free(&b);
	hx__critpath_free(&cp);
	hx__dag_free(all);
	hx__dag_free(one);
	hx_reader_close(r);
	return status;
}
