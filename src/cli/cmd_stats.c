/*
 * cmd_stats.c - `hx stats`: what a trace holds and what it lost. Reads every event once (stream
 * order, the fastest), then prints files, processes, events by kind, entity and name, the time
 * span, bytes per event, the traces (joined across every file given: processes, hosts, causes
 * linked or dangling), the clock offsets applied between hosts, chunk health, the misuse and drop
 * counters from the file headers, and the damage found. --json prints the same as one JSON
 * object. With several hosts in the input the clocks are aligned first, which reads the input
 * once more (hx_reader_align_clocks); with one host nothing extra is read.
 */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cmd.h"
#include "cli/tally.h"
#include "format/traces.h"

#define TOP 20

typedef struct stats {
	const char *path;
	char **paths;
	size_t npaths;
	uint64_t max_traces;     /* --traces N */
	hx__traces tr;
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

/* A signed offset with the unit that keeps it exact to the ns. */
static int put_offset(hx__buf *b, int64_t v)
{
	char sign = v < 0 ? '-' : '+';
	uint64_t m = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
	if (m < 1000)
		return hx__buf_printf(b, "%c%llu ns", sign, (unsigned long long)m);
	if (m < 1000000)
		return hx__buf_printf(b, "%c%llu.%03llu us", sign, (unsigned long long)(m / 1000),
		                      (unsigned long long)(m % 1000));
	if (m < 1000000000)
		return hx__buf_printf(b, "%c%llu.%06llu ms", sign, (unsigned long long)(m / 1000000),
		                      (unsigned long long)(m % 1000000));
	return hx__buf_printf(b, "%c%llu.%09llu s", sign, (unsigned long long)(m / 1000000000),
	                      (unsigned long long)(m % 1000000000));
}

static int put_trace_id(hx__buf *b, const uint8_t *id)
{
	int err = 0;
	for (int i = 0; i < 16; i++)
		err |= hx__buf_printf(b, "%02x", id[i]);
	return err;
}

static uint64_t trace_duration(const hx__trace_stat *t)
{
	return t->last_ns > t->begin_ns ? t->last_ns - t->begin_ns : 0;
}

static const char *plural(uint64_t n, const char *one, const char *many)
{
	return n == 1 ? one : many;
}

static int text_traces(hx__buf *b, const stats *s)
{
	int err = 0, oom;
	const hx__traces_totals *tt = &s->tr.totals;
	size_t n;
	const hx__trace_stat **v = hx__traces_sorted(&s->tr, &n, &oom);
	if (oom)
		return HX_ENOMEM;
	size_t shown = n < s->max_traces ? n : (size_t)s->max_traces;
	err |= hx__buf_printf(b, "traces       %llu", (unsigned long long)tt->traces);
	if (n)
		err |= hx__buf_printf(b, " (by start time%s)", shown < n ? ", first ones" : "");
	err |= hx__buf_putc(b, '\n');
	for (size_t i = 0; i < shown; i++) {
		const hx__trace_stat *t = v[i];
		err |= hx__buf_puts(b, "  ");
		err |= put_trace_id(b, t->id);
		err |= hx__buf_puts(b, "  ");
		if (t->root)
			err |= hx__text_string(b, t->root, t->root_len);
		else
			err |= hx__buf_puts(b, "(no trace_begin)");
		err |= hx__buf_puts(b, "  ");
		err |= put_duration(b, trace_duration(t));
		err |= hx__buf_printf(b, "  %llu events  %llu %s  %llu %s  %llu %s",
		                      (unsigned long long)t->events, (unsigned long long)t->entities,
		                      plural(t->entities, "entity", "entities"),
		                      (unsigned long long)t->processes,
		                      plural(t->processes, "process", "processes"),
		                      (unsigned long long)t->hosts, plural(t->hosts, "host", "hosts"));
		err |= hx__buf_printf(b, "  causes %llu linked %llu dangling %llu external",
		                      (unsigned long long)t->linked, (unsigned long long)t->dangling,
		                      (unsigned long long)t->external);
		if (t->cross_trace)
			err |= hx__buf_printf(b, " (%llu from other traces)", (unsigned long long)t->cross_trace);
		if (t->errors)
			err |= hx__buf_printf(b, "  %llu %s", (unsigned long long)t->errors,
			                      plural(t->errors, "error", "errors"));
		err |= hx__buf_putc(b, '\n');
	}
	if (shown < n)
		err |= hx__buf_printf(b, "  ... %zu more not shown (--traces N)\n", n - shown);
	free(v);
	if (tt->events_outside)
		err |= hx__buf_printf(b, "  %llu events in no trace\n", (unsigned long long)tt->events_outside);
	err |= hx__buf_printf(b, "causes       %llu linked, %llu dangling, %llu external",
	                      (unsigned long long)tt->linked, (unsigned long long)tt->dangling,
	                      (unsigned long long)tt->external);
	if (tt->cross_trace)
		err |= hx__buf_printf(b, "; %llu cross-trace", (unsigned long long)tt->cross_trace);
	err |= hx__buf_putc(b, '\n');
	return err;
}

static int text_clocks(hx__buf *b, const stats *s)
{
	int err = 0;
	hx_clock_report cr;
	const hx_clock_offset *h;
	size_t nh = hx_reader_clock_offsets(s->r, &h);
	hx_reader_clock_report(s->r, &cr);
	if (!cr.read_input) {
		err |= hx__buf_printf(b, "clocks       %zu host%s: no alignment needed\n", nh, nh == 1 ? "" : "s");
		return err;
	}
	err |= hx__buf_printf(b, "clocks       %zu hosts aligned from %llu cross-host cause/effect pairs; effects before their cause: %llu as recorded, %llu after alignment\n",
	                      nh, (unsigned long long)cr.pairs, (unsigned long long)cr.violations_before,
	                      (unsigned long long)cr.violations_after);
	for (size_t i = 0; i < nh; i++) {
		err |= hx__buf_puts(b, "  ");
		err |= hx__text_string(b, h[i].host, strlen(h[i].host));
		if (h[i].reference)
			err |= hx__buf_puts(b, "  reference (offset 0)");
		else if (h[i].refused)
			err |= hx__buf_puts(b, "  offset refused (over 1 hour), not applied");
		else {
			err |= hx__buf_puts(b, "  offset ");
			err |= put_offset(b, h[i].offset_ns);
		}
		if (h[i].has_lower || h[i].has_upper) {
			err |= hx__buf_puts(b, "  allowed [");
			err |= h[i].has_lower ? put_offset(b, h[i].lower_ns) : hx__buf_puts(b, "-inf");
			err |= hx__buf_puts(b, ", ");
			err |= h[i].has_upper ? put_offset(b, h[i].upper_ns) : hx__buf_puts(b, "+inf");
			err |= hx__buf_putc(b, ']');
		}
		err |= hx__buf_printf(b, "  %llu pairs  %u %s  %llu events\n", (unsigned long long)h[i].pairs,
		                      h[i].processes, plural(h[i].processes, "process", "processes"),
		                      (unsigned long long)h[i].events);
	}
	if (cr.unresolved)
		err |= hx__buf_printf(b, "  %llu cause references to events in no file read gave no bound\n",
		                      (unsigned long long)cr.unresolved);
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
	err |= text_traces(b, s);
	err |= text_clocks(b, s);
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

static int json_i64_or_null(hx__buf *b, int has, int64_t v)
{
	return has ? hx__buf_printf(b, "%lld", (long long)v) : hx__buf_puts(b, "null");
}

static int json_traces(hx__buf *b, const stats *s)
{
	int err = 0, oom;
	const hx__traces_totals *tt = &s->tr.totals;
	size_t n;
	const hx__trace_stat **v = hx__traces_sorted(&s->tr, &n, &oom);
	if (oom)
		return HX_ENOMEM;
	size_t shown = n < s->max_traces ? n : (size_t)s->max_traces;
	err |= hx__buf_printf(b, "\"traces_total\":%llu,\"traces_shown\":%zu,\"events_outside_traces\":%llu,"
	                         "\"causes\":{\"total\":%llu,\"linked\":%llu,\"dangling\":%llu,"
	                         "\"external\":%llu,\"cross_trace\":%llu},\"traces\":[",
	                      (unsigned long long)tt->traces, shown, (unsigned long long)tt->events_outside,
	                      (unsigned long long)tt->causes, (unsigned long long)tt->linked,
	                      (unsigned long long)tt->dangling, (unsigned long long)tt->external,
	                      (unsigned long long)tt->cross_trace);
	for (size_t i = 0; i < shown; i++) {
		const hx__trace_stat *t = v[i];
		err |= hx__buf_puts(b, i ? ",{\"id\":\"" : "{\"id\":\"");
		err |= put_trace_id(b, t->id);
		err |= hx__buf_puts(b, "\",\"root\":");
		err |= t->root ? hx__json_string(b, t->root, t->root_len) : hx__buf_puts(b, "null");
		err |= hx__buf_printf(b, ",\"start_ns\":%llu,\"end_ns\":%llu,\"duration_ns\":%llu,"
		                         "\"events\":%llu,\"errors\":%llu,\"entities\":%llu,\"processes\":%llu,"
		                         "\"hosts\":%llu,\"effects\":%llu,\"linked\":%llu,\"dangling\":%llu,"
		                         "\"external\":%llu,\"cross_trace\":%llu}",
		                      (unsigned long long)t->begin_ns, (unsigned long long)t->last_ns,
		                      (unsigned long long)trace_duration(t), (unsigned long long)t->events,
		                      (unsigned long long)t->errors, (unsigned long long)t->entities,
		                      (unsigned long long)t->processes, (unsigned long long)t->hosts,
		                      (unsigned long long)t->effects, (unsigned long long)t->linked,
		                      (unsigned long long)t->dangling, (unsigned long long)t->external,
		                      (unsigned long long)t->cross_trace);
	}
	free(v);
	err |= hx__buf_puts(b, "],");
	return err;
}

static int json_clocks(hx__buf *b, const stats *s)
{
	int err = 0;
	hx_clock_report cr;
	const hx_clock_offset *h;
	size_t nh = hx_reader_clock_offsets(s->r, &h);
	hx_reader_clock_report(s->r, &cr);
	err |= hx__buf_printf(b, "\"clock\":{\"aligned\":%s,\"hosts\":%zu,\"pairs\":%llu,"
	                         "\"violations_before\":%llu,\"violations_after\":%llu,\"refused\":%u,"
	                         "\"unresolved\":%llu,\"offset_max_ns\":%lld,\"offsets\":[",
	                      cr.read_input ? "true" : "false", nh, (unsigned long long)cr.pairs,
	                      (unsigned long long)cr.violations_before,
	                      (unsigned long long)cr.violations_after, cr.refused,
	                      (unsigned long long)cr.unresolved, (long long)HX_CLOCK_OFFSET_MAX_NS);
	for (size_t i = 0; i < nh; i++) {
		err |= hx__buf_puts(b, i ? ",{" : "{");
		err |= json_str(b, "host", h[i].host, strlen(h[i].host));
		err |= hx__buf_printf(b, ",\"offset_ns\":%lld,\"lower_ns\":", (long long)h[i].offset_ns);
		err |= json_i64_or_null(b, h[i].has_lower, h[i].lower_ns);
		err |= hx__buf_puts(b, ",\"upper_ns\":");
		err |= json_i64_or_null(b, h[i].has_upper, h[i].upper_ns);
		err |= hx__buf_printf(b, ",\"pairs\":%llu,\"events\":%llu,\"processes\":%u,"
		                         "\"reference\":%s,\"refused\":%s}",
		                      (unsigned long long)h[i].pairs, (unsigned long long)h[i].events,
		                      h[i].processes, h[i].reference ? "true" : "false",
		                      h[i].refused ? "true" : "false");
	}
	err |= hx__buf_puts(b, "]},");
	return err;
}

static int print_json(hx__buf *b, const stats *s)
{
	int err = 0;
	const hx_reader_info *in = &s->info;
	const hx__tally *t = &s->t;
	err |= hx__buf_puts(b, "{");
	err |= json_str(b, "path", s->path, strlen(s->path));
	err |= hx__buf_puts(b, ",\"paths\":[");
	for (size_t i = 0; i < s->npaths; i++) {
		if (i)
			err |= hx__buf_putc(b, ',');
		err |= hx__json_string(b, s->paths[i], strlen(s->paths[i]));
	}
	err |= hx__buf_putc(b, ']');
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
	err |= json_traces(b, s);
	err |= json_clocks(b, s);
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
		{"traces", required_argument, NULL, 't'},
		{NULL, 0, NULL, 0},
	};
	int json = 0, c;
	uint64_t max_traces = TOP;
	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, "jt:", longopts, NULL)) != -1) {
		if (c == 'j') {
			json = 1;
		} else if (c == 't') {
			if (hx__cli_parse_u64(optarg, &max_traces)) {
				fprintf(stderr, "hx stats: --traces needs a number, not '%s'\n", optarg);
				return hx__cli_usage("stats");
			}
		} else {
			return hx__cli_bad_option("stats", argv);
		}
	}
	if (optind >= argc)
		return hx__cli_usage("stats");

	stats s;
	memset(&s, 0, sizeof(s));
	s.path = argv[optind];
	s.paths = argv + optind;
	s.npaths = (size_t)(argc - optind);
	s.max_traces = max_traces;
	if (hx__cli_open_paths("stats", s.paths, s.npaths, HX_ORDER_STREAM, &s.r))
		return HX_EXIT_USAGE;
	hx__tally_init(&s.t);
	hx__traces_init(&s.tr, s.r);
	hx_event ev;
	int rc = hx_reader_align_clocks(s.r);
	while (rc == HX_OK && (rc = hx_reader_next(s.r, &ev)) == HX_OK) {
		size_t proc = hx_reader_event_process(s.r);
		if ((rc = hx__tally_event(&s.t, &ev, proc)) != HX_OK ||
		    (rc = hx__traces_event(&s.tr, &ev, proc)) != HX_OK)
			break;
	}
	if (rc == HX_EOF && hx__traces_finish(&s.tr))
		rc = HX_ENOMEM;
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
	hx__traces_free(&s.tr);
	hx_reader_close(s.r);
	return status;
}
