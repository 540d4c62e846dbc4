/*
 * procs.h - the processes of an export, and the order entities and processes are listed in
 * (procs.c says why the Chrome numbers are chosen as they are).
 */
#ifndef HX_EXPORT_PROCS_H
#define HX_EXPORT_PROCS_H

#include "export/export_int.h"

typedef struct hx__xprocs {
	size_t nprocs;
	uint32_t *ent_proc;   /* per DAG entity: its process, HX__DAG_NONE if it has no events */
	uint32_t *proc_ent;   /* per process: its earliest entity (host, program, pid come from it) */
	uint32_t *order;      /* entities with events, process by process, each by first event time */
	size_t *proc_off;     /* nprocs + 1: process q's entities are order[proc_off[q] .. [q + 1]) */
	uint64_t *chrome_pid; /* per process */
	uint64_t *chrome_tid; /* per DAG entity (0 for entities without events) */
} hx__xprocs;

/* HX_OK or HX_ENOMEM (p is then empty). Free with hx__xprocs_free(). */
int hx__xprocs_build(hx__xprocs *p, const hx__export_input *in);
void hx__xprocs_free(hx__xprocs *p);

#endif /* HX_EXPORT_PROCS_H */
