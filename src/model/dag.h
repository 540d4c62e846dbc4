/*
 * dag.h - the events of a trace as a directed acyclic graph in memory (docs/model.md, docs/analysis.md).
 *
 * Nodes are events. Edges are of two sorts and neither is stored twice:
 *   - same-entity order: implicit. Events are sorted by (entity, seq), so the predecessor of event
 *     i is i - 1 when both belong to the same entity (hx__dag_prev()).
 *   - interactions: explicit, in compressed-sparse-row form. The causes named by event i (an
 *     EFFECT or TRACE_JOIN) are cause_*[cause_off[i] .. cause_off[i + 1]); cause_ev[] holds the
 *     index of the cause event, or HX__DAG_NONE when it is not in the graph (cause_cls[] says why).
 * Recovered on top of that: blocks with their nesting (unbalanced ones repaired), waiting
 * intervals with the causes that ended them, the traces present, and a report of everything that
 * was odd. Nothing is fatal: the only errors are HX_ENOMEM and HX_EINVAL.
 *
 * LAYOUT. Struct-of-arrays with 4-byte indices, so a 10 M-event graph is about 40 bytes per event
 * plus 21 per cause, and every pass is a sequential sweep. Names (event names, wait reasons,
 * entity names, hosts) are interned once: an event holds a 4-byte name ID. Attributes are not
 * kept: the graph is the structure, the reader has the details. At most 2^32 - 16 events.
 *
 * FINDING AN EVENT BY ID. Rather than one hash table of every (entity, seq), an entity hash maps
 * the 64-bit entity ID to its range of events; inside the range the sequence numbers are dense
 * (the library numbers each entity's events from 0 without gaps), so the event is at
 * first + (seq - first_seq): one probe of a table sized by entities, not events. An entity whose
 * numbers have gaps (lost chunks, a filter that keeps part of an entity) is searched by bisection.
 *
 * Ownership: a built hx__dag owns every array; hx__dag_free() releases it (NULL is a no-op).
 * Thread safety: building is one thread per builder; a finished hx__dag is read-only, and any
 * number of threads may read it at once.
 */
#ifndef HX_MODEL_DAG_H
#define HX_MODEL_DAG_H

#include <haruspex.h>
#include <haruspex/reader.h>

#include <stddef.h>
#include <stdint.h>

#define HX__DAG_NONE UINT32_MAX
#define HX__DAG_MAX_EVENTS (UINT32_MAX - 16u)

/* hx__dag.ev_flags[] */
enum {
	HX__EVF_RESUMES = 0x01,       /* EFFECT that ended its entity's wait (hx_event.resumes) */
	HX__EVF_WAITING_AFTER = 0x02, /* the entity is waiting from this event to the next */
	HX__EVF_WAIT_END = 0x04,      /* this event ends a waiting interval (see waits[]) */
	HX__EVF_RUNNING = 0x08        /* STATE: running (else waiting) */
};

/* hx__dag.cause_cls[]: low bits say what became of the cause, HX__CC_OTHER_TRACE is a flag. */
enum {
	HX__CC_LINKED = 0,      /* cause_ev[] holds it */
	HX__CC_DANGLING = 1,    /* not in the input: its process did not trace, or a file is missing */
	HX__CC_EXTERNAL = 2,    /* HX_CTX_FOREIGN: from another tracer, in no Haruspex file */
	HX__CC_SAMPLED_OUT = 3, /* the context was not sampled: its trace recorded nothing */
	HX__CC_CROSS_TRACE = 4, /* in another trace, which this graph was filtered out */
	HX__CC_MASK = 0x7,
	HX__CC_OTHER_TRACE = 0x8, /* the context named another trace than its effect's */
	HX__CC_UNSAMPLED = 0x10   /* the context did not carry HX_CTX_SAMPLED */
};

/* hx__dag_issue.kind: the odd things found, each with the event where it was found. */
#define HX__DAG_ISSUE_MAP(XX)                                                                    \
	XX(END_WITHOUT_BEGIN, "block end without an open block: ignored")                         \
	XX(BEGIN_WITHOUT_END, "block never ended: closed at its entity's last event")            \
	XX(DUPLICATE, "event ID seen twice: the later copy dropped")                              \
	XX(DANGLING, "cause not in the input")                                                    \
	XX(REVERSED, "effect earlier than its cause (clock skew): edge kept")                     \
	XX(CYCLE, "cause edge closes a cycle (inconsistent IDs): edge kept")                       \
	XX(UNTERMINATED_WAIT, "wait never ended: open until its entity's last event")             \
	XX(RESUME_WITHOUT_WAIT, "resuming effect while not waiting (the wait began outside the input)") \
	XX(SEQ_GAP, "entity's sequence numbers have gaps (events missing)")

typedef enum hx__dag_issue_kind {
#define HX__DAG_ISSUE_ENUM(name, text) HX__DAG_ISSUE_##name,
	HX__DAG_ISSUE_MAP(HX__DAG_ISSUE_ENUM)
#undef HX__DAG_ISSUE_ENUM
	HX__DAG_ISSUE__MAX
} hx__dag_issue_kind;

typedef struct hx__dag_issue {
	uint8_t kind;       /* hx__dag_issue_kind */
	uint32_t event;     /* where (HX__DAG_NONE when the event itself was dropped) */
	uint32_t other;     /* REVERSED/CYCLE: the cause event; DUPLICATE: the entity; else NONE */
} hx__dag_issue;

#define HX__DAG_ISSUES_KEPT 256 /* issues listed with their event; all are counted */

typedef struct hx__dag_report {
	uint64_t count[HX__DAG_ISSUE__MAX];   /* exact, by kind */
	uint64_t causes;                      /* cause references of EFFECT and TRACE_JOIN events */
	uint64_t linked, dangling, external, sampled_out, cross_trace; /* by cause_cls */
	uint64_t other_trace_linked;          /* linked causes that lie in another trace */
	uint64_t filtered_out;                /* events read but not kept (another trace) */
	uint64_t over_limit;                  /* events dropped past HX__DAG_MAX_EVENTS */
	hx__dag_issue issue[HX__DAG_ISSUES_KEPT];
	size_t nissues;                       /* issues listed (<= HX__DAG_ISSUES_KEPT) */
} hx__dag_report;

typedef struct hx__dag_entity {
	uint64_t id;
	uint64_t first_seq;     /* seq of its first event in the graph */
	uint32_t first, count;  /* its events: [first, first + count) */
	uint32_t name;          /* interned: ENTITY_BEGIN's name, or the last "name" annotation */
	uint32_t host;          /* interned host name ("" when unknown) */
	uint32_t program;       /* interned program or service name */
	uint64_t pid;
	uint8_t kind;           /* hx_entity_kind, 0 when its ENTITY_BEGIN was not seen */
	uint8_t dense;          /* seqs are first_seq .. first_seq + count - 1 */
} hx__dag_entity;

/* A block: BLOCK_BEGIN .. matching BLOCK_END on one entity. */
enum { HX__BLK_REPAIRED = 0x1 /* no end was found: end is the entity's last event */ };
typedef struct hx__dag_block {
	uint32_t begin, end;    /* event indices */
	uint32_t parent;        /* enclosing block, HX__DAG_NONE at top level */
	uint32_t name;          /* interned, the begin's name */
	uint32_t entity;
	uint16_t depth;         /* 0 at top level (saturates at 65535) */
	uint8_t flags;
} hx__dag_block;

/* A waiting interval: STATE waiting .. the next STATE running or resuming EFFECT. */
enum {
	HX__WAIT_INFERRED = 0x1,     /* ended by STATE running: resume is the EFFECT right after it,
	                                whose causes that happened during the wait are taken as the
	                                wait's resuming causes */
	HX__WAIT_UNTERMINATED = 0x2  /* never ended: end is the entity's last event */
};
typedef struct hx__dag_wait {
	uint32_t entity;
	uint32_t start, end;    /* STATE waiting; the event that ended it */
	uint32_t resume;        /* event whose causes ended the wait, HX__DAG_NONE if none known */
	uint32_t reason;        /* interned: the waiting STATE's reason */
	uint8_t flags;
} hx__dag_wait;

typedef struct hx__dag_trace {
	uint8_t id[16];
	uint64_t events;
	uint64_t first_ns, last_ns;
	uint32_t first_event, last_event; /* earliest and latest event (ties: the later index) */
	uint32_t root_name;     /* interned name of its TRACE_BEGIN, 0 ("") if none seen */
	uint32_t entities;      /* entities with events in it */
} hx__dag_trace;

typedef struct hx__dag {
	/* events, sorted by (entity, seq) */
	size_t n;
	uint64_t *ev_time;      /* ns since the epoch, after any clock alignment */
	uint64_t *ev_seq;
	uint32_t *ev_entity;
	uint32_t *ev_name;      /* interned; STATE: its reason */
	uint32_t *ev_trace;     /* index in traces[], HX__DAG_NONE outside any trace */
	uint32_t *ev_block;     /* innermost block open just after the event, HX__DAG_NONE if none */
	uint8_t *ev_kind;       /* hx_event_kind */
	uint8_t *ev_ia;         /* hx_interaction of CAUSE/EFFECT/TRACE_JOIN, else 0 */
	uint8_t *ev_flags;      /* HX__EVF_* */
	/* causes, CSR */
	uint32_t *cause_off;    /* n + 1 entries */
	size_t ncauses;
	uint64_t *cause_ent, *cause_seq; /* the cause's event ID as recorded */
	uint32_t *cause_ev;     /* resolved event index, HX__DAG_NONE */
	uint8_t *cause_cls;     /* HX__CC_* */
	/* recovered structure */
	hx__dag_entity *entities;
	size_t nentities;
	hx__dag_block *blocks;  /* in order of their begin event */
	size_t nblocks;
	hx__dag_wait *waits;    /* in order of their start event (and so of their end) */
	size_t nwaits;
	hx__dag_trace *traces;  /* in order of first appearance in the input */
	size_t ntraces;
	hx__dag_report report;
	int filtered;           /* built with a trace filter: absent other-trace causes are
	                           CROSS_TRACE, not DANGLING */
	/* interned strings; ID 0 is "" */
	char *str;              /* NUL-terminated strings back to back */
	uint32_t *str_off;      /* offset of string i in str */
	size_t nstr;
	/* private to the builder: entity ID -> index (open addressing, index + 1, 0 empty) */
	uint32_t *ent_slots;
	size_t ent_cap;
} hx__dag;

/* ---- building ---- */

/* Which events to keep: a trace ID, or its last `nibbles` hex digits (8..32, as `hx dump --trace`
 * accepts); nibbles 0 keeps every event. Entity names are taken from every event either way. */
typedef struct hx__dag_filter {
	uint8_t id[16];
	size_t nibbles;
} hx__dag_filter;

typedef struct hx__dag_builder hx__dag_builder;

/* A builder for events pushed one by one (from a reader, a service, or a test). `filter` may be
 * NULL (every event); it is copied. `expect` is how many events to make room for (0 if unknown).
 * HX_OK or HX_ENOMEM; *out freed by hx__dag_builder_free() or consumed by _finish(). */
int hx__dag_builder_new(hx__dag_builder **out, const hx__dag_filter *filter, size_t expect);
void hx__dag_builder_free(hx__dag_builder *b);
/* Describe process `proc` (an index the caller chooses, as hx_reader_event_process() gives):
 * host and program are copied. Events of an undescribed process have an empty host. */
int hx__dag_builder_process(hx__dag_builder *b, uint32_t proc, const char *host, const char *program,
                            uint64_t pid);
/* One event of process `proc`; everything it points to is copied (names interned). HX_OK,
 * HX_ENOMEM, or HX_EINVAL past HX__DAG_MAX_EVENTS (the event is not added). */
int hx__dag_builder_add(hx__dag_builder *b, const hx_event *ev, uint32_t proc);
/* Sort, link and recover structure; linear in events + causes (one entity's events are sorted
 * only if they arrived out of order). The builder is freed whatever the result. */
int hx__dag_builder_finish(hx__dag_builder *b, hx__dag **out);

/* Every event of a reader, handed to callbacks: for hx__dag_read() and for tools that keep more
 * than the graph does (attributes, say) while they build it. Each process is described once, as
 * its first event appears: its host as clock alignment named it, its service (else its program)
 * and pid. `event` returning HX_EINVAL means it refused the event for being past
 * HX__DAG_MAX_EVENTS (counted where it was refused) and the walk goes on. HX_OK at the reader's
 * end, or the first other error. */
typedef struct hx__dag_feed {
	int (*process)(void *user, uint32_t proc, const char *host, const char *program, uint64_t pid);
	int (*event)(void *user, const hx_event *ev, uint32_t proc);
	void *user;
} hx__dag_feed;
int hx__dag_feed_reader(hx_reader *r, const hx__dag_feed *f);

/* Read every event of `r` (positioned before its first event; align its clocks first if wanted)
 * through a builder. HX_OK, HX_ENOMEM, or a reader error (HX_ENOMEM from the reader). */
int hx__dag_read(hx__dag **out, hx_reader *r, const hx__dag_filter *filter);

/* The graph of one trace of `all` (an index in all->traces), as if built with a filter on its ID:
 * its events only, causes outside it CROSS_TRACE. Linear in the size of `all`. */
int hx__dag_extract(const hx__dag *all, uint32_t trace, hx__dag **out);

void hx__dag_free(hx__dag *d);

/* ---- reading ---- */

/* The interned string `id` (never NULL). */
static inline const char *hx__dag_str(const hx__dag *d, uint32_t id)
{
	return id < d->nstr ? d->str + d->str_off[id] : "";
}

/* The same-entity predecessor of event i, or HX__DAG_NONE for an entity's first event. */
static inline uint32_t hx__dag_prev(const hx__dag *d, uint32_t i)
{
	return i > 0 && d->ev_entity[i - 1] == d->ev_entity[i] ? i - 1 : HX__DAG_NONE;
}

/* Event index of (entity ID, seq), or HX__DAG_NONE. */
uint32_t hx__dag_find(const hx__dag *d, uint64_t entity_id, uint64_t seq);
/* Entity index of an entity ID, or HX__DAG_NONE. */
uint32_t hx__dag_entity_find(const hx__dag *d, uint64_t entity_id);
/* The wait that event i ends (HX__EVF_WAIT_END), or HX__DAG_NONE. O(log waits). */
uint32_t hx__dag_wait_ending(const hx__dag *d, uint32_t i);
/* The wait in progress just after event i (HX__EVF_WAITING_AFTER), or HX__DAG_NONE. */
uint32_t hx__dag_wait_after(const hx__dag *d, uint32_t i);
/* Index in traces[] of a trace ID, or HX__DAG_NONE. */
uint32_t hx__dag_trace_find(const hx__dag *d, const uint8_t id[16]);

/* The report as one JSON object / as text lines listing at most max_listed issues (report.c).
 * HX_OK or HX_ENOMEM. */
struct hx__buf;
int hx__dag_report_json(struct hx__buf *b, const hx__dag *d);
int hx__dag_report_text(struct hx__buf *b, const hx__dag *d, size_t max_listed);

const char *hx__dag_issue_name(int kind);   /* "end_without_begin" ...; NULL if unknown */
const char *hx__dag_issue_text(int kind);
/* Grow the array *p (elements of `size` bytes, *cap of them) by doubling to hold at least `need`;
 * HX_OK or HX_ENOMEM (*p unchanged). For this module and the analyses built on it. */
int hx__dag_grow(void *p, size_t *cap, size_t need, size_t size);

/* malloc(n ? n : 1), asking the kernel for huge pages when the block is large: the arrays of a
 * 10 M-event graph span ~100 k pages, and on a virtual machine each first touch of a 4 KiB page
 * is a costly fault. Free with free(). hx__dag_hugepages() does the asking for a block that
 * realloc() moved or grew. */
void *hx__dag_alloc(size_t n);
void hx__dag_hugepages(void *p, size_t n);

/* Bytes held by the graph (for the benchmark and `--stats`). */
size_t hx__dag_bytes(const hx__dag *d);

#endif /* HX_MODEL_DAG_H */
