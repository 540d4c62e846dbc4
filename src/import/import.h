/*
 * import.h - spans from other tracers as Haruspex events: OTLP/HTTP JSON (ExportTraceServiceRequest)
 * and Zipkin v2 JSON (a list of spans). The mapping is in docs/interchange.md, "Import"; in short:
 * each span becomes a block (BLOCK_BEGIN .. BLOCK_END) on an entity of its service and thread, span
 * events and annotations become points, parent/child across entities and links become
 * interactions, an error status becomes an ERROR, and the first parentless span of a trace gets
 * TRACE_BEGIN/TRACE_END.
 *
 * USE. One importer (hx__import) takes one or more documents (hx__import_add), then builds the
 * events of all of them at once (hx__import_finish), so parents and links between documents given
 * together are resolved. The result is a list of processes, one per resource (service, host, pid),
 * each with its events in time order: what a trace file (src/format/filewrite.h) or a native batch
 * (src/net/proto.h) holds. Every ID is derived from the input (hashes of the resource, trace, lane
 * and span IDs), so importing the same spans twice gives the same events, which the service then
 * drops as duplicates.
 *
 * ERRORS, three levels:
 *   - the document: not JSON, not the shape of its format, over a limit. hx__import_add() fails
 *     (HX_EFORMAT malformed, HX_EINVAL over the byte or span limit) with a message in err that
 *     says where (line and column, or the field path); nothing of that document is kept.
 *   - one span: an invalid or zero trace or span ID, no start time, a string over the limit, a
 *     duplicate span ID, nesting too deep. The span is rejected (counted, the first message kept
 *     with its path) and the others are imported.
 *   - repairable: an end before the start, an unknown enum, an event outside its span... The span
 *     is imported as repaired and a warning of that kind is counted (HX__IMPORT_WARN_MAP).
 * Every input, however hostile, gets one of these answers; memory is bounded by the limits (about
 * twelve times the document's size while it is parsed).
 *
 * Thread safety: one importer per thread. Ownership: the importer owns everything it returns;
 * pointers stay valid until hx__import_free().
 */
#ifndef HX_IMPORT_H
#define HX_IMPORT_H

#include <haruspex.h>
#include <stddef.h>
#include <stdint.h>

#include "format/text.h"

typedef enum hx__import_format {
	HX__IMPORT_AUTO = 0,   /* '[' first: Zipkin; '{' first: OTLP */
	HX__IMPORT_OTLP = 1,
	HX__IMPORT_ZIPKIN = 2
} hx__import_format;

/* hx__import_add() flags */
#define HX__IMPORT_SEQUENCE 0x1u /* the input may hold several JSON documents one after another
                                    (JSON Lines, as the OpenTelemetry collector's file exporter
                                    writes): each is imported in turn */

#define HX__IMPORT_MAX_BYTES (16u << 20)
#define HX__IMPORT_MAX_SPANS 200000u
#define HX__IMPORT_MAX_DEPTH 1024u
#define HX__IMPORT_MAX_STRING 65535u   /* the format holds names up to 65535 bytes */
#define HX__IMPORT_MAX_ATTRS 1024u
#define HX__IMPORT_VALUE_DEPTH 16      /* nesting of OTLP array and kvlist values */

typedef struct hx__import_limits {
	size_t max_bytes;    /* one document (for a sequence: the whole input), bytes */
	size_t max_spans;    /* spans over every document of one importer */
	size_t max_depth;    /* span nesting: a span deeper in its parent chain is rejected */
	size_t max_string;   /* bytes of a name, key or string value: a span with more is rejected */
	size_t max_attrs;    /* attributes of one span, event, link or resource; more: rejected */
} hx__import_limits;

void hx__import_limits_default(hx__import_limits *l);

/* Warnings: what was repaired, counted by kind. Never renumbered. */
#define HX__IMPORT_WARN_MAP(XX)                                                                  \
	XX(END_BEFORE_START, "end_before_start", "span ends before it starts: its end set to its start") \
	XX(NO_END, "no_end", "span without an end time or duration: its end set to its start") \
	XX(NO_START, "no_start", "Zipkin span without a timestamp: its annotations' times used") \
	XX(EVENT_OUTSIDE, "event_outside", "span event or annotation outside its span's time: moved to the nearer end") \
	XX(UNKNOWN_KIND, "unknown_kind", "unknown span kind: taken as internal") \
	XX(UNKNOWN_STATUS, "unknown_status", "unknown status code: taken as unset") \
	XX(PARENT_CYCLE, "parent_cycle", "parent IDs form a cycle: one link kept as an external cause") \
	XX(PARENT_LATER, "parent_later", "parent starts after its child in the same process: kept as an external cause") \
	XX(LINK_LATER, "link_later", "link to the span itself or to one that starts after it ends: kept as an external cause") \
	XX(ATTRS_DROPPED, "attrs_dropped", "attributes of a span event or link over 32 (or 512 KiB): the rest dropped") \
	XX(VALUE_DROPPED, "value_dropped", "attribute without a value or of an unknown type: dropped") \
	XX(RESOURCE_CUT, "resource_cut", "service, host or program name over 255 bytes: cut") \
	XX(BASE64_ID, "base64_id", "ID in base64 rather than hex: decoded") \
	XX(NO_SERVICE, "no_service", "no service name: \"unknown_service\" used")

typedef enum hx__import_warn {
#define HX__IMPORT_WARN_ENUM(name, lower, text) HX__IMPORT_WARN_##name,
	HX__IMPORT_WARN_MAP(HX__IMPORT_WARN_ENUM)
#undef HX__IMPORT_WARN_ENUM
	HX__IMPORT_WARN__MAX
} hx__import_warn;

const char *hx__import_warn_name(int kind);   /* "end_before_start" ...; NULL if unknown */
const char *hx__import_warn_text(int kind);

#define HX__IMPORT_MSG_MAX 256

typedef struct hx__import_stats {
	uint64_t documents;     /* documents added */
	uint64_t spans;         /* spans read (imported + rejected) */
	uint64_t rejected;      /* spans rejected */
	uint64_t events;        /* events built (after hx__import_finish) */
	uint64_t traces, entities, processes;
	uint64_t warn[HX__IMPORT_WARN__MAX];
	char rejection[HX__IMPORT_MSG_MAX];                   /* the first rejection: where, why */
	char warning[HX__IMPORT_WARN__MAX][HX__IMPORT_MSG_MAX]; /* where each kind was first seen */
} hx__import_stats;

/* A process of the result: the resource its spans came from. */
typedef struct hx__import_proc {
	uint8_t instance[16];   /* the process instance ID (a hash of the resource and the salt) */
	uint64_t pid;           /* process.pid, or 0 */
	const char *service, *host, *program; /* never NULL; "" unknown (service: "unknown_service") */
	const char *const *resource_kv;       /* key, value, ...: host, service, program, pid,
	                                         imported (otlp or zipkin); for the file header or batch */
	size_t npairs;
	size_t nevents;
} hx__import_proc;

typedef struct hx__import hx__import;

/* A new importer with these limits (NULL: the defaults). HX_OK or HX_ENOMEM. */
int hx__import_new(hx__import **out, const hx__import_limits *lim);
void hx__import_free(hx__import *im);  /* NULL is a no-op */

/* Mix `salt` into the process instance IDs (not into entity IDs). `hx import` salts with its
 * inputs' contents, so two imports of different documents into one directory never make two
 * files claim one process instance; the service does not salt, so one service's spans stay one
 * process across requests. Call before hx__import_finish(). */
void hx__import_salt(hx__import *im, const void *salt, size_t len);

/* Name the input that the next hx__import_add() reads (a file name), for the messages about its
 * spans ("FILE: resourceSpans[0]..."); copied. NULL: none (the default). */
int hx__import_name(hx__import *im, const char *name);

/* Read one document (or a sequence, with HX__IMPORT_SEQUENCE) of `len` bytes. HX_OK (its valid
 * spans are kept; rejections and warnings are counted), HX_EFORMAT (malformed) or HX_EINVAL (over
 * max_bytes or max_spans) with a message in err, HX_ENOMEM, HX_ESTATE after hx__import_finish(). */
int hx__import_add(hx__import *im, const void *data, size_t len, hx__import_format fmt,
                   unsigned flags, char *err, size_t errlen);

/* Build the events of every span added. HX_OK or HX_ENOMEM (the importer is then only freed). */
int hx__import_finish(hx__import *im);

const hx__import_stats *hx__import_get_stats(const hx__import *im);
size_t hx__import_nprocs(const hx__import *im);
const hx__import_proc *hx__import_proc_get(const hx__import *im, size_t i);
/* Call fn for each event of process i, in time order (ties: by entity, then sequence number).
 * The event and what it points to are valid during the call. Returns HX_OK or fn's first nonzero
 * value. */
int hx__import_events(const hx__import *im, size_t i, int (*fn)(const hx_event *ev, void *user),
                      void *user);

/* One line for a person: spans imported, rejected (with the first rejection), warnings by kind
 * (with where each was first seen). No newline. HX_OK or HX_ENOMEM. */
int hx__import_summary(const hx__import *im, hx__buf *b);

/* Decompress a gzip body (Content-Encoding: gzip, as the OpenTelemetry collector sends by
 * default) into a new malloc'd buffer of at most max bytes. HX_OK with *out and *out_len,
 * HX_EFORMAT (not gzip), HX_EINVAL (more than max bytes), HX_ENOMEM. */
int hx__import_gunzip(const void *src, size_t len, size_t max, uint8_t **out, size_t *out_len);

#endif /* HX_IMPORT_H */
