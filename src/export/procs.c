/*
 * procs.c - the processes of an export and the order things are listed in: entities grouped by
 * the process they ran in (host, program or service, pid), processes and the entities of each in
 * the order they first did something (ties by index), and the numbers Chrome's format shows as
 * pid and tid.
 *
 * Chrome identifies processes and threads by number only. The real pid and kernel tid are what a
 * reader expects to see, so they are used whenever they are unambiguous; a number that would
 * repeat (two hosts, pid reuse, an entity without a kernel thread: a coroutine, a task) is
 * replaced by one from 4194305 up, above Linux's largest pid, so it never looks like a real one.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* qsort_r */
#endif
#include <stdlib.h>
#include <string.h>

#include "export/procs.h"

#define SYNTHETIC_BASE 4194305u /* PID_MAX_LIMIT + 1 */

typedef struct idset {
	uint64_t *v; /* 0 empty */
	size_t n, cap;
} idset;

static uint64_t mix(uint64_t x)
{
	x ^= x >> 31;
	x *= 0x9e3779b97f4a7c15ull;
	x ^= x >> 29;
	return x;
}

static int idset_has(const idset *s, uint64_t id)
{
	if (!s->cap)
		return 0;
	for (size_t j = mix(id) & (s->cap - 1); s->v[j]; j = (j + 1) & (s->cap - 1))
		if (s->v[j] == id)
			return 1;
	return 0;
}

static int idset_add(idset *s, uint64_t id)
{
	if ((s->n + 1) * 2 > s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 64;
		uint64_t *v = calloc(cap, sizeof(*v));
		if (!v)
			return HX_ENOMEM;
		for (size_t i = 0; i < s->cap; i++) {
			if (!s->v[i])
				continue;
			size_t j = mix(s->v[i]) & (cap - 1);
			while (v[j])
				j = (j + 1) & (cap - 1);
			v[j] = s->v[i];
		}
		free(s->v);
		s->v = v;
		s->cap = cap;
	}
	size_t j = mix(id) & (s->cap - 1);
	for (; s->v[j]; j = (j + 1) & (s->cap - 1))
		if (s->v[j] == id)
			return HX_OK;
	s->v[j] = id;
	s->n++;
	return HX_OK;
}

/* the next synthetic number not taken */
static uint64_t synthetic(const idset *s, uint64_t *next)
{
	while (idset_has(s, *next))
		(*next)++;
	return (*next)++;
}

static uint64_t ent_start(const hx__dag *d, uint32_t e)
{
	return d->ev_time[d->entities[e].first];
}

/* entities by process (host, program, pid), then by first event time, then index */
static int ent_cmp(const void *x, const void *y, void *ctx)
{
	const hx__dag *d = ctx;
	uint32_t a = *(const uint32_t *)x, b = *(const uint32_t *)y;
	const hx__dag_entity *ea = &d->entities[a], *eb = &d->entities[b];
	if (ea->host != eb->host)
		return ea->host < eb->host ? -1 : 1;
	if (ea->program != eb->program)
		return ea->program < eb->program ? -1 : 1;
	if (ea->pid != eb->pid)
		return ea->pid < eb->pid ? -1 : 1;
	uint64_t ta = ent_start(d, a), tb = ent_start(d, b);
	if (ta != tb)
		return ta < tb ? -1 : 1;
	return a < b ? -1 : a > b;
}

/* processes by their first entity's first event time, then that entity's index */
static int proc_cmp(const void *x, const void *y, void *ctx)
{
	const hx__dag *d = ctx;
	uint32_t a = *(const uint32_t *)x, b = *(const uint32_t *)y;
	uint64_t ta = ent_start(d, a), tb = ent_start(d, b);
	if (ta != tb)
		return ta < tb ? -1 : 1;
	return a < b ? -1 : a > b;
}

static int u64_cmp(const void *x, const void *y)
{
	uint64_t a = *(const uint64_t *)x, b = *(const uint64_t *)y;
	return a < b ? -1 : a > b;
}

void hx__xprocs_free(hx__xprocs *p)
{
	free(p->ent_proc);
	free(p->proc_ent);
	free(p->order);
	free(p->proc_off);
	free(p->chrome_pid);
	free(p->chrome_tid);
	memset(p, 0, sizeof(*p));
}

int hx__xprocs_build(hx__xprocs *p, const hx__export_input *in)
{
	const hx__dag *d = in->dag;
	size_t ne = d->nentities;
	memset(p, 0, sizeof(*p));
	p->ent_proc = malloc((ne ? ne : 1) * sizeof(*p->ent_proc));
	p->proc_ent = malloc((ne ? ne : 1) * sizeof(*p->proc_ent));
	p->order = malloc((ne ? ne : 1) * sizeof(*p->order));
	p->proc_off = calloc(ne + 2, sizeof(*p->proc_off));
	p->chrome_tid = calloc(ne ? ne : 1, sizeof(*p->chrome_tid));
	uint32_t *by_key = malloc((ne ? ne : 1) * sizeof(*by_key));
	uint64_t *pids = NULL;
	uint8_t *main_taken = NULL;
	idset taken = {NULL, 0, 0};
	int rc = HX_ENOMEM;
	if (!p->ent_proc || !p->proc_ent || !p->order || !p->proc_off || !p->chrome_tid || !by_key)
		goto out;

	/* entities that did something, grouped by process */
	size_t nlive = 0;
	for (uint32_t e = 0; e < ne; e++) {
		p->ent_proc[e] = HX__DAG_NONE;
		if (d->entities[e].count)
			by_key[nlive++] = e;
	}
	if (nlive > 1)
		qsort_r(by_key, nlive, sizeof(*by_key), ent_cmp, (void *)d);
	for (size_t k = 0; k < nlive; k++) {
		const hx__dag_entity *en = &d->entities[by_key[k]];
		const hx__dag_entity *prev = k ? &d->entities[by_key[k - 1]] : NULL;
		if (!prev || prev->host != en->host || prev->program != en->program || prev->pid != en->pid)
			p->proc_ent[p->nprocs++] = by_key[k]; /* the group's earliest entity */
	}
	/* processes in the order they first did something; their entities likewise */
	if (p->nprocs > 1)
		qsort_r(p->proc_ent, p->nprocs, sizeof(*p->proc_ent), proc_cmp, (void *)d);
	for (size_t q = 0; q < p->nprocs; q++)
		p->ent_proc[p->proc_ent[q]] = (uint32_t)q;
	for (size_t k = 0, q = HX__DAG_NONE; k < nlive; k++) {
		uint32_t e = by_key[k];
		if (p->ent_proc[e] != HX__DAG_NONE)
			q = p->ent_proc[e]; /* a group starts with its representative */
		p->ent_proc[e] = (uint32_t)q;
		p->proc_off[q + 1]++;
	}
	for (size_t q = 0; q < p->nprocs; q++)
		p->proc_off[q + 1] += p->proc_off[q];
	{
		size_t *fill = calloc(p->nprocs + 1, sizeof(*fill));
		if (!fill)
			goto out;
		for (size_t k = 0; k < nlive; k++) {
			uint32_t q = p->ent_proc[by_key[k]];
			p->order[p->proc_off[q] + fill[q]++] = by_key[k];
		}
		free(fill);
	}

	/* Chrome's numbers: real ones where unambiguous */
	p->chrome_pid = calloc(p->nprocs ? p->nprocs : 1, sizeof(*p->chrome_pid));
	if (!p->chrome_pid)
		goto out;
	pids = malloc((p->nprocs ? p->nprocs : 1) * sizeof(*pids));
	if (!pids)
		goto out;
	for (size_t q = 0; q < p->nprocs; q++)
		pids[q] = d->entities[p->proc_ent[q]].pid;
	qsort(pids, p->nprocs, sizeof(*pids), u64_cmp);
	for (size_t q = 0; q < p->nprocs; q++) {
		uint64_t pid = d->entities[p->proc_ent[q]].pid;
		size_t lo = 0, hi = p->nprocs; /* pid's first place among the sorted pids */
		while (lo < hi) {
			size_t m = lo + (hi - lo) / 2;
			if (pids[m] < pid)
				lo = m + 1;
			else
				hi = m;
		}
		int unique = pid && pid < SYNTHETIC_BASE && (lo + 1 >= p->nprocs || pids[lo + 1] != pid);
		if (unique) {
			p->chrome_pid[q] = pid;
			if (idset_add(&taken, pid))
				goto out;
		}
	}
	/* kernel tids: unique among all pids and tids, except a main thread's (tid == its pid) */
	main_taken = calloc(p->nprocs ? p->nprocs : 1, 1);
	if (!main_taken)
		goto out;
	for (size_t k = 0; k < nlive; k++) {
		uint32_t e = p->order[k];
		uint64_t tid = in->ent_tid[e], pid = p->chrome_pid[p->ent_proc[e]];
		if (!tid || tid >= SYNTHETIC_BASE)
			continue;
		if (tid == pid && pid) {
			/* the first entity of the process with the main thread's tid */
			if (!main_taken[p->ent_proc[e]])
				p->chrome_tid[e] = tid;
			main_taken[p->ent_proc[e]] = 1;
			continue;
		}
		if (idset_has(&taken, tid))
			continue;
		p->chrome_tid[e] = tid;
		if (idset_add(&taken, tid))
			goto out;
	}
	uint64_t next = SYNTHETIC_BASE;
	for (size_t q = 0; q < p->nprocs; q++)
		if (!p->chrome_pid[q] && idset_add(&taken, p->chrome_pid[q] = synthetic(&taken, &next)))
			goto out;
	for (size_t k = 0; k < nlive; k++) {
		uint32_t e = p->order[k];
		if (!p->chrome_tid[e] && idset_add(&taken, p->chrome_tid[e] = synthetic(&taken, &next)))
			goto out;
	}
	rc = HX_OK;
out:
	free(by_key);
	free(pids);
	free(main_taken);
	free(taken.v);
	if (rc)
		hx__xprocs_free(p);
	return rc;
}
