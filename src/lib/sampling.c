/*
 * sampling.c - head sampling of traces and per-name filters of points and blocks.
 *
 * Sampling is decided once, where a trace begins, and travels in the context's sampled flag, so
 * every process of a trace agrees without asking anyone. A sampled-out trace is not a cheaper
 * trace but no trace: its entities keep their bookkeeping (the trace ID, for propagation; block
 * depth, for misuse checks) and record nothing (emit.c tests the entity's `muted` flag first).
 *
 * The rate limiter is a GCRA (generic cell rate algorithm): one atomic "theoretical arrival
 * time" that each admitted trace pushes forward by 1/rate seconds, admitted while it is less than
 * a second ahead of now. It needs no timer thread and no lock, and it never admits more than
 * rate traces per second plus one second's burst.
 *
 * Name filters are an ordered list of rules (pattern, on): the last rule that matches a name
 * decides, and a name no rule matches is recorded. The list is immutable once published through
 * an atomic pointer; a change builds a new list under a mutex. Recording threads may still be
 * matching against the old list, and nothing tells us when they are done, so old lists are kept
 * (linked from the new one) for the life of the process: a few hundred bytes per change, which is
 * why filters are meant to change rarely (an operator's switch, not a per-request toggle).
 */
#define _GNU_SOURCE
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "lib/tracer.h"

/* ---- head sampling ---- */

int hx__sample_decide(struct hx__thread *t)
{
	struct hx__tracer *tr = t->tracer;
	switch (tr->cfg.sampler) {
	case HX_SAMPLE_NEVER:
		return 0;
	case HX_SAMPLE_PROBABILITY:
		/* threshold 2^64 - 1 for p = 1 would miss one value in 2^64: treat it as always */
		if (tr->cfg.sample_probability >= 1.0)
			return 1;
		return hx__rng_next(t->rng) < tr->sample_threshold;
	case HX_SAMPLE_RATE: {
		uint64_t now = hx__ticks(t->use_tsc);
		uint64_t tat = atomic_load_explicit(&tr->rate_tat, memory_order_relaxed);
		for (;;) {
			uint64_t start = tat > now ? tat : now;
			if (start - now > tr->rate_burst_ticks)
				return 0;
			if (atomic_compare_exchange_weak_explicit(&tr->rate_tat, &tat,
			                                          start + tr->rate_interval_ticks,
			                                          memory_order_relaxed, memory_order_relaxed))
				return 1;
		}
	}
	case HX_SAMPLE_ALWAYS:
	default:
		return 1;
	}
}

/* ---- name filters ---- */

struct rule {
	char *pattern; /* without the trailing '*' */
	size_t len;
	int prefix;    /* the pattern ended in '*' */
	int on;
};

struct filterset {
	size_t n;
	struct rule rules[HX_FILTER_MAX];
	struct filterset *older; /* kept alive: threads may still be reading it (see the top) */
};

_Atomic int hx__filters_on;
static struct filterset *_Atomic filters;
static pthread_mutex_t filters_lock = PTHREAD_MUTEX_INITIALIZER;

static int rule_matches(const struct rule *r, const char *name)
{
	if (r->prefix)
		return strncmp(name, r->pattern, r->len) == 0;
	return strcmp(name, r->pattern) == 0;
}

int hx__name_disabled(const char *name)
{
	const struct filterset *fs = atomic_load_explicit(&filters, memory_order_acquire);
	if (!fs || !name)
		return 0;
	for (size_t i = fs->n; i-- > 0;)
		if (rule_matches(&fs->rules[i], name))
			return !fs->rules[i].on;
	return 0;
}

/* Validate one pattern of `len` bytes: not empty, not longer than a name, '*' only at the end. */
static int pattern_ok(const char *p, size_t len)
{
	if (len == 0 || len > HX_NAME_MAX + 1)
		return 0;
	for (size_t i = 0; i + 1 < len; i++)
		if (p[i] == '*')
			return 0;
	return 1; /* a lone "*" matches every name: allowed */
}

/* Make rule r from pattern p (len bytes). Returns -1 when memory is short. */
static int rule_make(struct rule *r, const char *p, size_t len, int on)
{
	r->prefix = p[len - 1] == '*';
	r->len = r->prefix ? len - 1 : len;
	r->pattern = strndup(p, r->len);
	r->on = on;
	return r->pattern ? 0 : -1;
}

/* Publish `next` (built by the caller, under filters_lock) in place of the current list. */
static void publish(struct filterset *next)
{
	int any_off = 0;
	for (size_t i = 0; i < next->n; i++)
		any_off |= !next->rules[i].on;
	next->older = atomic_load_explicit(&filters, memory_order_relaxed);
	atomic_store_explicit(&filters, next, memory_order_release);
	atomic_store_explicit(&hx__filters_on, any_off, memory_order_release);
}

int hx_name_enable(const char *pattern, int on)
{
	if (!pattern || !*pattern || !pattern_ok(pattern, strlen(pattern)))
		return HX_EINVAL;
	pthread_mutex_lock(&filters_lock);
	const struct filterset *cur = atomic_load_explicit(&filters, memory_order_relaxed);
	struct filterset *next = calloc(1, sizeof *next);
	if (!next) {
		pthread_mutex_unlock(&filters_lock);
		return HX_ENOMEM;
	}
	size_t len = strlen(pattern);
	int prefix = pattern[len - 1] == '*';
	size_t plen = len - (size_t)prefix;
	/* The last matching rule decides, so the new rule makes every earlier rule it covers
	 * pointless: drop those ("db.*" covers "db.query" and "db.q*"; "*" covers everything, so
	 * hx_name_enable("*", 1) clears the list). The rules stay shared with older lists: rule
	 * strings are never freed either. */
	for (size_t i = 0; cur && i < cur->n; i++) {
		const struct rule *r = &cur->rules[i];
		int covered = prefix ? r->len >= plen && memcmp(r->pattern, pattern, plen) == 0
		                     : !r->prefix && r->len == plen && memcmp(r->pattern, pattern, plen) == 0;
		if (!covered)
			next->rules[next->n++] = *r;
	}
	if (next->n == HX_FILTER_MAX) {
		free(next);
		pthread_mutex_unlock(&filters_lock);
		return HX_ENOSPC;
	}
	if (rule_make(&next->rules[next->n], pattern, len, on != 0) != 0) {
		free(next);
		pthread_mutex_unlock(&filters_lock);
		return HX_ENOMEM;
	}
	next->n++;
	/* Enabling rules before the first disabling one change nothing (names are enabled by
	 * default): drop them, so that an all-enabled list is empty and costs nothing. */
	size_t lead = 0;
	while (lead < next->n && next->rules[lead].on)
		lead++;
	memmove(next->rules, next->rules + lead, (next->n - lead) * sizeof next->rules[0]);
	next->n -= lead;
	publish(next);
	pthread_mutex_unlock(&filters_lock);
	return HX_OK;
}

int hx__filters_check(const char *list, char *errbuf, size_t errlen)
{
	size_t n = 0;
	for (const char *p = list; p && *p;) {
		const char *comma = strchr(p, ',');
		size_t len = comma ? (size_t)(comma - p) : strlen(p);
		if (len && !pattern_ok(p, len)) {
			snprintf(errbuf, errlen, "disable list: bad pattern \"%.*s\" ('*' only at the end, "
			         "at most %d bytes)", (int)(len > 64 ? 64 : len), p, HX_NAME_MAX);
			return HX_ECONFIG;
		}
		n += len != 0;
		p = comma ? comma + 1 : p + len;
	}
	if (n > HX_FILTER_MAX) {
		snprintf(errbuf, errlen, "disable list: %zu patterns, at most %d", n, HX_FILTER_MAX);
		return HX_ECONFIG;
	}
	return HX_OK;
}

/* Replace the filters with the configuration's list (validated by hx__filters_check). */
static int filters_from_config(const char *list)
{
	struct filterset *next = calloc(1, sizeof *next);
	if (!next)
		return HX_ENOMEM;
	for (const char *p = list; p && *p;) {
		const char *comma = strchr(p, ',');
		size_t len = comma ? (size_t)(comma - p) : strlen(p);
		if (len && next->n < HX_FILTER_MAX) {
			if (rule_make(&next->rules[next->n], p, len, 0) != 0) {
				for (size_t i = 0; i < next->n; i++)
					free(next->rules[i].pattern);
				free(next);
				return HX_ENOMEM;
			}
			next->n++;
		}
		p = comma ? comma + 1 : p + len;
	}
	pthread_mutex_lock(&filters_lock);
	publish(next);
	pthread_mutex_unlock(&filters_lock);
	return HX_OK;
}

int hx__sampling_init(struct hx__tracer *tr)
{
	double p = tr->cfg.sample_probability;
	/* 2^64 * p, computed so that p just below 1 does not overflow the conversion */
	tr->sample_threshold = p <= 0.0 ? 0 : p >= 1.0 ? UINT64_MAX : (uint64_t)(p * 18446744073709549568.0);
	if (tr->cfg.sampler == HX_SAMPLE_RATE) {
		double interval = (double)tr->ticks_per_sec / tr->cfg.sample_rate;
		tr->rate_interval_ticks = interval < 1.0 ? 1 : (uint64_t)interval;
		tr->rate_burst_ticks = tr->ticks_per_sec;
		atomic_store(&tr->rate_tat, 0);
	}
	/* Only a configured list replaces the filters: a program that set them with
	 * hx_name_enable() before hx_init() keeps them. */
	if (tr->cfg.disable && *tr->cfg.disable)
		return filters_from_config(tr->cfg.disable);
	return HX_OK;
}
