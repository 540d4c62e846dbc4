/*
 * build.h - the state of turning spans into events (docs/interchange.md, "Import"), shared by its
 * three steps:
 *
 *   resolve.c  which span is whose parent (Zipkin's shared client/server IDs paired), duplicates
 *              rejected, parent cycles broken, nesting depth, the span that begins each trace;
 *   lanes.c    each span onto a lane (an entity) of its service, thread and trace so that blocks on
 *              a lane always nest, and how each span relates to its parent: nested on the same
 *              lane, an interaction from another lane, an external cause, or none;
 *   emit.c     the interactions (causes and effects), the events of each lane in order with
 *              dense sequence numbers, and the processes of the result.
 *
 * Everything is indexed by span index (hx__import.spans) and lives until the importer is freed,
 * because the result's events point into it.
 */
#ifndef HX_IMPORT_BUILD_H
#define HX_IMPORT_BUILD_H

#include "import/import_int.h"

/* how a span relates to its parent */
enum {
	HX__REL_ROOT = 0,     /* no parent */
	HX__REL_NESTED,       /* a block inside its parent's block, on the parent's lane */
	HX__REL_CROSS,        /* parent on another lane: an interaction from it */
	HX__REL_FOREIGN       /* parent not in the input (or not usable): an external cause */
};

typedef struct hx__bspan {
	uint32_t eparent;        /* the parent span in the input, HX__IMP_NONE */
	uint32_t depth;          /* 0 for a span without a parent in the input */
	uint32_t lane;
	uint32_t below;          /* the block under it on its lane's stack while placing */
	uint32_t first_child, last_child; /* blocks nested in it on its lane, in time order */
	uint32_t next;           /* its next sibling on the lane (or the lane's next root) */
	uint32_t kid_first, kid_n;   /* its nested children in hx__imp_out.kids */
	uint32_t eff_first, eff_n;   /* its effects before its BLOCK_BEGIN (parent, links) */
	uint32_t leaf_first, leaf_n; /* its events inside the block, in hx__imp_out.leaves */
	uint32_t back_cause;     /* the CAUSE right after its end (reply, join), HX__IMP_NONE */
	uint32_t pub_cause;      /* a producer's one publish CAUSE for all its consumers */
	uint32_t nmsg;           /* its children reached by a message (publish when >= 2) */
	uint64_t foreign;        /* HX__REL_FOREIGN: the span ID to name as the external cause */
	uint8_t rel;
	uint8_t rejected;
	uint8_t trace_root;      /* gets TRACE_BEGIN and TRACE_END */
	uint8_t mark;            /* resolve.c's walk */
} hx__bspan;

typedef struct hx__blane {
	uint8_t trace[16];
	uint64_t entity;         /* its ID */
	uint64_t free_at;        /* the end of its current root block (lanes.c) */
	uint64_t next_seq;       /* emit.c */
	uint32_t res;
	uint32_t index;          /* within its group: 0, 1 ... */
	uint32_t first_root, last_root; /* its top-level blocks, chained through hx__bspan.next */
	uint32_t top;            /* the innermost open block while placing */
	const char *name;
	uint8_t ekind;           /* hx_entity_kind */
	int64_t tid;
} hx__blane;

typedef struct hx__bcause {
	uint64_t time;
	uint64_t seq;            /* set when emitted */
	uint32_t span;           /* the span whose block holds it, or that it follows (post) */
	uint32_t lane;           /* set when emitted */
	const char *name;
	size_t name_len;
	uint8_t kind;            /* hx_interaction */
	uint8_t post;            /* after the span's BLOCK_END (a reply or join), not inside */
} hx__bcause;

typedef struct hx__beff {
	uint32_t cause;          /* index in causes, or HX__IMP_NONE for an external cause */
	uint8_t kind;
	uint8_t trace[16];       /* external: the other tracer's trace and span */
	uint64_t span;
	const char *name;
	size_t name_len;
	const hx_attr *attrs;    /* a link's attributes */
	size_t nattrs;
} hx__beff;

enum { HX__LEAF_EFFECT = 0, HX__LEAF_POINT, HX__LEAF_CAUSE, HX__LEAF_ERROR };

typedef struct hx__bleaf {   /* an event inside a block that is not a nested block */
	uint64_t time;
	uint32_t span;
	uint32_t ref;            /* effect, point or cause index */
	uint8_t cls;             /* HX__LEAF_*: the order of leaves at one time */
} hx__bleaf;

typedef struct hx__bev {     /* one event of the result, compact */
	uint64_t time, seq;
	uint32_t lane;
	uint32_t ref;            /* EFFECT: effect index */
	uint8_t kind;
	uint8_t aux;             /* CAUSE, EFFECT: interaction; ANNOTATE: target */
	const char *name;
	size_t name_len;
	const hx_attr *attrs;
	size_t nattrs;
} hx__bev;

typedef struct hx__bproc {
	hx__import_proc pub;
	const char *kv[10];
	char pid_text[24];
	size_t first;            /* its events: ev[first .. first + pub.nevents) */
} hx__bproc;

typedef struct hx__imp_out {
	hx__bspan *bs;
	uint32_t *slots;         /* (trace, span ID) -> span index + 1 */
	size_t cap;
	size_t ntraces;
	hx__blane *lanes;
	size_t nlanes, cap_lanes;
	uint32_t *kids;
	hx__bcause *causes;
	size_t ncauses, cap_causes;
	hx__beff *effs;
	size_t neffs, cap_effs;
	hx__bleaf *leaves;
	size_t nleaves, cap_leaves;
	hx__bev *ev;
	size_t nev, cap_ev;
	hx__bproc *procs;
	size_t nprocs;
} hx__imp_out;

/* resolve.c */
int hx__imp_resolve(hx__import *im, hx__imp_out *o);
/* The span with this (trace, ID) to name as a parent or link target of a span of resource `res`
 * (of a Zipkin client/server pair: the half in the same resource, else the server half);
 * HX__IMP_NONE when there is none (or it was rejected). */
uint32_t hx__imp_lookup(const hx__import *im, const hx__imp_out *o, const uint8_t trace[16],
                        uint64_t id, uint32_t res);
/* lanes.c */
int hx__imp_lanes(hx__import *im, hx__imp_out *o);
/* emit.c */
int hx__imp_emit(hx__import *im, hx__imp_out *o);

#endif /* HX_IMPORT_BUILD_H */
