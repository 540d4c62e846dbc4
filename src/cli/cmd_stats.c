/*
 * cmd_stats.c - `hx stats`: what a trace holds and what it lost. Reads every event once (stream
 * order, the fastest), then prints files, processes, events by kind, entity and name, the time
 * span, bytes per event, chunk health, the misuse and drop counters from the file headers, and the
 * damage found. --json prints the same as one JSON object.
 */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cmd.h"
#include "cli/tally.h"

#define TOP 20

typedef struct stats {
	const char *path;
	hx_reader *r;
	hx_reader_info info;
	hx__tally t;
	const hx_damage *dmg;
	size_t ndmg;
} stats;

static const char *kind_name(int k)
{
	const char *s = hx_event_kind_name(k);
	return s ? s : "unknown";
}

static const char *counter_name(int k, char *tmp, size_t n)
{
	const char *s = hx_counter_name(k);
	if (s)
		return s;
	snprintf(tmp, n, "counter_%d", k);
	return tmp;
}

static uint64_t misuse_total(const stats *s)
{
	uint64_t sum = 0;
	for (size_t p = 0; p < hx_reader_processes(s->r); p++) {
		const hx_process_info *pi = hx_reader_process(s->r, p);
		for (int k = 0; k < HX_FILE_COUNTERS_PUBLIC; k++)
			sum += pi->counters[k];
	}
	return sum;
}

static double per_event(uint64_t bytes, uint64_t events)
{
	return events ? (double)bytes / (double)events : 0.0;
}

/* ---- text ---- */

static int put_size(hx__buf *b, uint64_t n)
{
	int err = 0;
	static const char *const unit[] = {"B", "KiB", "MiB", "GiB", "TiB"};
	double v = (double)n;
	int u = 0;
	while (v >= 1024 && u < 4) {
		v /= 1024;
		u++;
	}
	if (u == 0)
		err |= hx__buf_printf(b, "%llu B", (unsigned long long)n);
	else
		err |= hx__buf_printf(b, "%.1f %s", v, unit[u]);
	return err;
}

static int put_duration(hx__buf *b, uint64_t ns)
{
	int err = 0;
	if (ns < 1000)
		err |= hx__buf_printf(b, "%llu ns", (unsigned long long)ns);
	else if (ns < 1000000)
		err |= hx__buf_printf(b, "%.3f us", (double)ns / 1e3);
	else if (ns < 1000000000)
		err |= hx__buf_printf(b, "%.3f ms", (double)ns / 1e6);
	else
		err |= hx__buf_printf(b, "%.3f s", (double)ns / 1e9);
	return err;
}

static int text_processes(hx__buf *b, const stats *s)
{
	int err = 0;
	size_t np = hx_reader_processes(s->r);
	err |= hx__buf_printf(b, "processes    %zu\n", np);
	for (size_t p = 0; p < np; p++) {
		const hx_process_info *pi = hx_reader_process(s->r, p);
		err |= hx__buf_printf(b, "  pid %llu  program ", (unsigned long long)pi->pid);
		err |= hx__text_string(b, pi->program, strlen(pi->program));
		err |= hx__buf_puts(b, "  host ");
		err |= hx__text_string(b, pi->host, strlen(pi->host));
		err |= hx__buf_puts(b, "  service ");
		err |= hx__text_string(b, pi->service, strlen(pi->service));
		err |= hx__buf_printf(b, "  %u file%s  %s\n", pi->files, pi->files == 1 ? "" : "s",
		               pi->clean ? "clean (shut down)" : "not shut down (crashed, killed or running)");
	}
	return err;
}

static int text_events(hx__buf *b, const stats *s)
{
	int err = 0;
	const hx__tally *t = &s->t;
	err |= hx__buf_printf(b, "events       %llu", (unsigned long long)t->events);
	if (t->events) {
		err |= hx__buf_puts(b, "  from ");
		err |= hx__time_iso(b, t->first_ns);
		err |= hx__buf_puts(b, " to ");
		err |= hx__time_iso(b, t->last_ns);
		err |= hx__buf_puts(b, " (");
		err |= put_duration(b, t->last_ns - t->first_ns);
		err |= hx__buf_putc(b, ')');
	}
	err |= hx__buf_putc(b, '\n');
	for (int k = HX_EV_ENTITY_BEGIN; k <= HX_EV_EFFECT; k++)
		if (t->by_kind[k - HX_EV_ENTITY_BEGIN])
			err |= hx__buf_printf(b, "  %-13s %llu\n", kind_name(k),
			               (unsigned long long)t->by_kind[k - HX_EV_ENTITY_BEGIN]);
	err |= hx__buf_printf(b, "bytes/event  %.2f in event records, %.2f of file bytes\n",
	               per_event(s->info.event_bytes, t->events), per_event(s->info.bytes, t->events));
	return err;
}

static int text_entities(hx__buf *b, const stats *s)
{
	int err = 0;
	size_t n;
	const hx__ent_stat **top = hx__tally_top_entities(&s->t, TOP, &n);
	if (!top)
		err |= HX_ENOMEM;
	err |= hx__buf_printf(b, "entities     %zu%s\n", s->t.nents, s->t.nents > TOP ? " (busiest 20)" : "");
	for (size_t i = 0; i < n; i++) {
		const hx__ent_stat *e = top[i];
		const hx_process_info *pi = hx_reader_process(s->r, e->proc);
		err |= hx__buf_printf(b, "  %016llx  %10llu events  ", (unsigned long long)e->id,
		               (unsigned long long)e->events);
		if (e->name)
			err |= hx__text_string(b, e->name, e->name_len);
		else
			err |= hx__buf_puts(b, "(unnamed)");
		if (e->tid)
			err |= hx__buf_printf(b, "  tid %llu", (unsigned long long)e->tid);
		if (pi && hx_reader_processes(s->r) > 1)
			err |= hx__buf_printf(b, "  pid %llu", (unsigned long long)pi->pid);
		err |= hx__buf_putc(b, '\n');
	}
	free(top);
	return err;
}

static int text_names(hx__buf *b, const stats *s)
{
	int err = 0;
	size_t n;
	const hx__name_stat **top = hx__tally_top_names(&s->t, TOP, &n);
	if (!top)
		err |= HX_ENOMEM;
	err |= hx__buf_printf(b, "names        %zu%s\n", s->t.nnames, s->t.nnames > TOP ? " (most frequent 20)" : "");
	for (size_t i = 0; i < n; i++) {
		err |= hx__buf_printf(b, "  %10llu  ", (unsigned long long)top[i]->events);
		err |= hx__text_string(b, top[i]->name, top[i]->len);
		err |= hx__buf_putc(b, '\n');
	}
	free(top);
	return err;
}

static int text_counters(hx__buf *b, const stats *s)
{
	int err = 0;
	if (misuse_total(s) == 0) {
		err |= hx__buf_puts(b, "misuse       no misuse and no drops counted\n");
		return err;
	}
	err |= hx__buf_puts(b, "misuse       counted by the library (not recorded in the trace):\n");
	size_t np = hx_reader_processes(s->r);
	for (size_t p = 0; p < np; p++) {
		const hx_process_info *pi = hx_reader_process(s->r, p);
		for (int k = 0; k < HX_FILE_COUNTERS_PUBLIC; k++) {
			if (!pi->counters[k])
				continue;
			char tmp[32];
			const char *text = hx_counter_text(k);
			err |= hx__buf_printf(b, "  %10llu  %-20s %s", (unsigned long long)pi->counters[k],
			               counter_name(k, tmp, sizeof(tmp)),
			               text ? text : "(a counter this hx does not know)");
			if (np > 1)
				err |= hx__buf_printf(b, "  [pid %llu]", (unsigned long long)pi->pid);
			err |= hx__buf_putc(b, '\n');
		}
	}
	return err;
}

static int print_text(hx__buf *b, const stats *s)
{
	int err = 0;
	const hx_reader_info *in = &s->info;
	err |= hx__buf_printf(b, "files        %llu (", (unsigned long long)in->files);
	err |= put_size(b, in->bytes);
	err |= hx__buf_puts(b, ")\n");
	err |= text_processes(b, s);
	err |= text_events(b, s);
	err |= text_entities(b, s);
	err |= text_names(b, s);
	err |= hx__buf_printf(b, "chunks       %llu intact, %llu damaged\n",
	               (unsigned long long)(in->chunks - in->chunks_damaged),
	               (unsigned long long)in->chunks_damaged);
	err |= text_counters(b, s);
	if (s->ndmg == 0) {
		err |= hx__buf_puts(b, "damage       none\n");
		return err;
	}
	err |= hx__buf_printf(b, "damage       %zu report%s%s\n", s->ndmg, s->ndmg == 1 ? "" : "s",
	               in->damaged ? "" : " (torn tails only: intact)");
	for (size_t i = 0; i < s->ndmg; i++) {
		err |= hx__buf_puts(b, "  ");
		err |= hx__cli_damage_text(b, &s->dmg[i]);
		err |= hx__buf_putc(b, '\n');
	}
	return err;
}

/* ---- JSON ---- */

static int json_str(hx__buf *b, const char *key, const char *v, size_t n)
{
	int err = 0;
	err |= hx__json_string(b, key, strlen(key));
	err |= hx__buf_putc(b, ':');
	err |= hx__json_string(b, v, n);
	return err;
}

static int json_processes(hx__buf *b, const stats *s)
{
	int err = 0;
	err |= hx__buf_puts(b, "\"processes\":[");
	for (size_t p = 0; p < hx_reader_processes(s->r); p++) {
		const hx_process_info *pi = hx_reader_process(s->r, p);
		err |= hx__buf_printf(b, "%s{\"pid\":%llu,", p ? "," : "", (unsigned long long)pi->pid);
		err |= json_str(b, "program", pi->program, strlen(pi->program));
		err |= hx__buf_putc(b, ',');
		err |= json_str(b, "host", pi->host, strlen(pi->host));
		err |= hx__buf_putc(b, ',');
		err |= json_str(b, "service", pi->service, strlen(pi->service));
		err |= hx__buf_printf(b, ",\"files\":%u,\"clean\":%s,\"clock_kind\":%u,\"ticks_per_sec\":%llu,"
		                  "\"syncs\":%u,\"counters\":{",
		               pi->files, pi->clean ? "true" : "false", pi->clock_kind,
		               (unsigned long long)pi->ticks_per_sec, pi->syncs);
		int first = 1;
		for (int k = 0; k < HX_FILE_COUNTERS_PUBLIC; k++) {
			if (!pi->counters[k])
				continue;
			char tmp[32];
			const char *name = counter_name(k, tmp, sizeof(tmp));
			if (!first)
				err |= hx__buf_putc(b, ',');
			first = 0;
			err |= hx__json_string(b, name, strlen(name));
			err |= hx__buf_printf(b, ":%llu", (unsigned long long)pi->counters[k]);
		}
		err |= hx__buf_puts(b, "}}");
	}
	err |= hx__buf_puts(b, "],");
	return err;
}

static int json_tops(hx__buf *b, const stats *s)
{
	int err = 0;
	size_t n;
	const hx__ent_stat **te = hx__tally_top_entities(&s->t, TOP, &n);
	if (!te)
		err |= HX_ENOMEM;
	err |= hx__buf_printf(b, "\"entities\":%zu,\"top_entities\":[", s->t.nents);
	for (size_t i = 0; i < n; i++) {
		const hx__ent_stat *e = te[i];
		const hx_process_info *pi = hx_reader_process(s->r, e->proc);
		err |= hx__buf_printf(b, "%s{\"id\":\"%016llx\",\"events\":%llu,\"tid\":%llu,\"pid\":%llu,\"name\":",
		               i ? "," : "", (unsigned long long)e->id, (unsigned long long)e->events,
		               (unsigned long long)e->tid, (unsigned long long)(pi ? pi->pid : 0));
		if (e->name)
			err |= hx__json_string(b, e->name, e->name_len);
		else
			err |= hx__buf_puts(b, "null");
		err |= hx__buf_putc(b, '}');
	}
	free(te);
	const hx__name_stat **tn = hx__tally_top_names(&s->t, TOP, &n);
	if (!tn)
		err |= HX_ENOMEM;
	err |= hx__buf_printf(b, "],\"names\":%zu,\"top_names\":[", s->t.nnames);
	for (size_t i = 0; i < n; i++) {
		err |= hx__buf_puts(b, i ? ",{" : "{");
		err |= json_str(b, "name", tn[i]->name, tn[i]->len);
		err |= hx__buf_printf(b, ",\"events\":%llu}", (unsigned long long)tn[i]->events);
	}
	free(tn);
	err |= hx__buf_puts(b, "],");
	return err;
}

static int print_json(hx__buf *b, const stats *s)
{
	int err = 0;
	const hx_reader_info *in = &s->info;
	const hx__tally *t = &s->t;
	err |= hx__buf_puts(b, "{");
	err |= json_str(b, "path", s->path, strlen(s->path));
	err |= hx__buf_printf(b, ",\"files\":%llu,\"bytes\":%llu,", (unsigned long long)in->files,
	               (unsigned long long)in->bytes);
	err |= json_processes(b, s);
	err |= hx__buf_printf(b, "\"events\":%llu,\"by_kind\":{", (unsigned long long)t->events);
	int first = 1;
	for (int k = HX_EV_ENTITY_BEGIN; k <= HX_EV_EFFECT; k++) {
		uint64_t c = t->by_kind[k - HX_EV_ENTITY_BEGIN];
		if (!c)
			continue;
		err |= hx__buf_printf(b, "%s\"%s\":%llu", first ? "" : ",", kind_name(k), (unsigned long long)c);
		first = 0;
	}
	err |= hx__buf_puts(b, "},");
	err |= json_tops(b, s);
	if (t->events)
		err |= hx__buf_printf(b, "\"first_ns\":%llu,\"last_ns\":%llu,\"duration_ns\":%llu,",
		               (unsigned long long)t->first_ns, (unsigned long long)t->last_ns,
		               (unsigned long long)(t->last_ns - t->first_ns));
	else
		err |= hx__buf_puts(b, "\"first_ns\":null,\"last_ns\":null,\"duration_ns\":0,");
	err |= hx__buf_printf(b, "\"event_bytes\":%llu,\"bytes_per_event\":%.3f,\"file_bytes_per_event\":%.3f,",
	               (unsigned long long)in->event_bytes, per_event(in->event_bytes, t->events),
	               per_event(in->bytes, t->events));
	err |= hx__buf_printf(b, "\"chunks\":%llu,\"chunks_intact\":%llu,\"chunks_damaged\":%llu,",
	               (unsigned long long)in->chunks,
	               (unsigned long long)(in->chunks - in->chunks_damaged),
	               (unsigned long long)in->chunks_damaged);
	err |= hx__buf_printf(b, "\"misuse_total\":%llu,\"damaged\":%s,\"damage\":[",
	               (unsigned long long)misuse_total(s), in->damaged ? "true" : "false");
	for (size_t i = 0; i < s->ndmg; i++) {
		if (i)
			err |= hx__buf_putc(b, ',');
		err |= hx__cli_damage_json(b, &s->dmg[i]);
	}
	err |= hx__buf_puts(b, "]}\n");
	return err;
}

int cmd_stats(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"json", no_argument, NULL, 'j'},
		{NULL, 0, NULL, 0},
	};
	int json = 0, c;
	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, "j", longopts, NULL)) != -1) {
		if (c != 'j')
			return hx__cli_bad_option("stats", argv);
		json = 1;
	}
	if (optind != argc - 1)
		return hx__cli_usage("stats");

	stats s;
	memset(&s, 0, sizeof(s));
	s.path = argv[optind];
	if (hx__cli_open("stats", s.path, HX_ORDER_STREAM, &s.r))
		return HX_EXIT_USAGE;
	hx__tally_init(&s.t);
	hx_event ev;
	int rc;
	while ((rc = hx_reader_next(s.r, &ev)) == HX_OK)
		if ((rc = hx__tally_event(&s.t, &ev, hx_reader_event_process(s.r))) != HX_OK)
			break;
	int status = HX_EXIT_OK;
	if (rc != HX_EOF) {
		fprintf(stderr, "hx stats: %s: %s\n", s.path, hx_strerror(rc));
		status = HX_EXIT_USAGE;
	} else {
		hx_reader_info_get(s.r, &s.info);
		s.dmg = hx_reader_damage(s.r, &s.ndmg);
		hx__buf b = HX__BUF_INIT;
		int err = json ? print_json(&b, &s) : print_text(&b, &s);
		/* a report cut short by a failed allocation must not pass for a whole one */
		if (err || hx__cli_flush(&b, stdout) || fflush(stdout)) {
			fprintf(stderr, "hx stats: cannot write the report\n");
			status = HX_EXIT_USAGE;
		}
		hx__buf_free(&b);
	}
	hx__tally_free(&s.t);
	hx_reader_close(s.r);
	return status;
}
