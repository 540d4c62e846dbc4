/*
 * haruspex/propagation.h - carrying an hx_context across process and host boundaries.
 *
 * Text forms: W3C Trace Context (`traceparent`, `tracestate`) and W3C Baggage (`baggage`), so a
 * Haruspex program and any W3C-compliant tracer (OpenTelemetry, Jaeger, Zipkin's B3 bridge) join
 * the same traces. A compact binary form for custom transports. docs/propagation.md explains the
 * mapping; this header is the reference.
 *
 * Mapping of an hx_context onto W3C Trace Context:
 *   trace-id    the context's trace_id (32 lower-case hex digits)
 *   parent-id   a 64-bit digest of the cause event ID (entity_id, seq), never zero
 *   flags       01 when HX_CTX_SAMPLED is set, else 00
 *   tracestate  the member `hx=<entity_id as 16 hex>-<seq as hex>` carries the full event ID,
 *               placed first (the W3C rule for a vendor's updated member), other members kept.
 * On extraction, a `hx` member whose digest matches the parent-id restores the full event ID. A
 * parent-id without a matching `hx` member came from another tracer: the context gets
 * entity_id = parent-id, seq = 0 and HX_CTX_FOREIGN, and an effect recorded with it names an
 * event that no Haruspex file holds (readers report it as an external cause, not as damage).
 *
 * Errors: functions return HX_OK or a negative hx_result: HX_EINVAL (NULL or impossible
 * arguments), HX_EFORMAT (a malformed header; each rejection is also counted as bad_header),
 * HX_ENOSPC (the output buffer is too small; nothing useful was written, the buffer holds "").
 * A parser that rejects its input leaves *out as an invalid context (flags without
 * HX_CTX_VALID), so `hx_trace_continue(&ctx, ...)` then starts a new trace: the program keeps
 * going, as the W3C rules ask.
 *
 * Thread safety: every function may be called from any thread. Formatting and parsing functions
 * touch only their arguments; the baggage functions act on the current trace of the calling
 * thread's current entity and take an internal lock (they are not for the hot path).
 * None of these functions records an event. Ownership: the caller owns every buffer.
 */
#ifndef HARUSPEX_PROPAGATION_H
#define HARUSPEX_PROPAGATION_H

#include <haruspex.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- W3C Trace Context ----------------------------------------------------------------- */

#define HX_TRACEPARENT_LEN 55  /* "00-" 32 hex "-" 16 hex "-" 2 hex, without the NUL */
#define HX_TRACESTATE_MAX 512  /* the longest tracestate we write (W3C: 32 members, 512 bytes
                                  is the size a vendor must be able to propagate) */

/* Write the traceparent of `ctx` (version 00) into buf as a NUL-terminated string. Needs
 * len >= HX_TRACEPARENT_LEN + 1. A context without HX_CTX_VALID or with an all-zero trace ID has
 * no traceparent: HX_EINVAL. A foreign context is written with the parent-id it arrived with
 * (its entity_id), so a process that only forwards a request passes the foreign span on. */
HX_API int hx_traceparent_format(const hx_context *ctx, char *buf, size_t len);

/* Parse a traceparent header value of `len` bytes (not necessarily NUL-terminated). Follows the
 * W3C rules: version ff, all-zero trace-id or parent-id, wrong lengths, upper-case or non-hex
 * digits and (for version 00) trailing data are rejected with HX_EFORMAT. Spaces and tabs
 * around the value (HTTP's OWS) are ignored; flag bits other than sampled are ignored. A higher
 * version than 00 is parsed by the version-00 layout when its fields are well formed, as the
 * spec asks. On success *out is a valid context with HX_CTX_FOREIGN set (entity_id = parent-id,
 * seq = 0) until hx_tracestate_apply() finds the Haruspex member. */
HX_API int hx_traceparent_parse(const char *s, size_t len, hx_context *out);

/* Write a tracestate for `ctx`: the `hx` member first, then the members of `prev` (the value that
 * arrived with the request, a NUL-terminated string, may be NULL) other than `hx`, up to 32
 * members and HX_TRACESTATE_MAX bytes (as W3C says: members over 128 bytes are dropped first,
 * then members from the end). Malformed members of prev, and repeats of a key already kept, are
 * dropped (each counted as bad_header); OWS and empty members are removed. A foreign context has
 * no `hx` member (only prev's members, possibly ""). Returns HX_OK, HX_EINVAL, or HX_ENOSPC when
 * the result does not fit in len bytes (len >= HX_TRACESTATE_MAX + 1 always suffices). */
HX_API int hx_tracestate_format(const hx_context *ctx, const char *prev, char *buf, size_t len);

/* Read the `hx` member of a tracestate value (`len` bytes, not necessarily NUL-terminated) and,
 * if it names the event whose digest is ctx's parent-id (ctx->entity_id while HX_CTX_FOREIGN),
 * restore the full event ID in *ctx and clear HX_CTX_FOREIGN. Returns HX_OK whether or not a
 * member was found (a tracestate without `hx` is normal), HX_EFORMAT for a malformed header: a
 * malformed member anywhere, more than 32 members, or a malformed `hx` value (ctx left
 * unchanged). Empty members and OWS are allowed. Of several `hx` members the first counts. */
HX_API int hx_tracestate_apply(const char *s, size_t len, hx_context *ctx);

/* The 64-bit parent-id used for an event ID (never 0). */
HX_API uint64_t hx_event_digest(uint64_t entity_id, uint64_t seq);

/* ---- Binary form ------------------------------------------------------------------------ */

#define HX_CONTEXT_BINARY_MAX 40 /* bytes, without baggage */
#define HX_CONTEXT_BINARY_VERSION 1

/* Binary form: u8 version (1), u8 flags (bit 0 sampled, bit 1 foreign, the others zero), 16 bytes
 * trace ID, u64 little-endian entity ID, varint seq (unsigned LEB128, shortest form): 27 to 36
 * bytes. Returns the number of bytes written (> 0) or a negative hx_result (HX_ENOSPC if len is
 * too small, HX_EINVAL for an invalid context, one without a trace, or entity ID 0). */
HX_API int hx_context_to_binary(const hx_context *ctx, uint8_t *buf, size_t len);
/* Parse the binary form; returns the bytes consumed (> 0; bytes after the context are the
 * caller's) or HX_EFORMAT (unknown version, reserved flag bits set, truncated, zero IDs, a
 * varint that overflows or is not in its shortest form), counted as bad_header. */
HX_API int hx_context_from_binary(const uint8_t *buf, size_t len, hx_context *out);

/* ---- Baggage (W3C Baggage) --------------------------------------------------------------
 * Key/values that travel with a trace: every hand-off carries them (inject/extract across
 * processes; within a process every entity in the same trace sees the same baggage). Limits
 * follow W3C Baggage: at most HX_BAGGAGE_MAX_ENTRIES members and HX_BAGGAGE_MAX_BYTES bytes when
 * serialized; an entry that would exceed them is dropped and counted as baggage_dropped. Keys
 * are W3C tokens; values are any bytes (percent-encoded in the header). The process keeps the
 * baggage of at most HX_BAGGAGE_MAX_TRACES traces; the least recently used is forgotten
 * (each of its entries counted as baggage_dropped) beyond that. The table outlives
 * hx_shutdown(): a trace goes on across a restart of tracing. */
#define HX_BAGGAGE_MAX_ENTRIES 64
#define HX_BAGGAGE_MAX_BYTES 8192
#define HX_BAGGAGE_MAX_TRACES 4096

/* Set (or replace, with value NULL: remove) a baggage entry of the current trace. The key and
 * value are copied. Returns HX_OK, HX_ESTATE without a current trace (tracing off, or the
 * current entity is in no trace), HX_EINVAL for a key that is not a token, HX_ENOSPC when the
 * limits would be exceeded (the entry is dropped, counted; a value it would replace stays),
 * HX_ENOMEM. Records no event, and makes no thread state on a thread that has none. */
HX_API int hx_baggage_set(const char *key, const char *value);
/* Copy the value of `key` into buf (NUL-terminated; a value decoded from a header may hold NUL
 * bytes, hence the length). Returns its length (>= 0), HX_ENOENT when absent, HX_ESTATE without a
 * current trace, HX_ENOSPC when buf is too small (it then holds ""). */
HX_API int hx_baggage_get(const char *key, char *buf, size_t len);
/* The baggage header value of trace `trace_id` (NULL: the current trace) into buf; "" when it
 * has none. Values are percent-encoded (every byte that is not a W3C baggage-octet, and '%').
 * Returns the length, HX_ENOSPC (buf too small: it holds ""), HX_ESTATE, or HX_EINVAL (an
 * all-zero trace ID). With buf NULL and len 0 it only returns the length (a size query);
 * the length is at most HX_BAGGAGE_MAX_BYTES. */
HX_API int hx_baggage_format(const uint8_t *trace_id, char *buf, size_t len);
/* Parse a baggage header value (`len` bytes) and merge its entries into the baggage of trace
 * `trace_id` (usually the one just extracted; NULL: the current trace), a later value of a key
 * replacing an earlier one. Values are percent-decoded. Properties (";name=value" after a
 * member) are checked and dropped: they are not stored or sent on. Empty members and OWS are
 * allowed. Malformed members are skipped and counted (bad_header); members over the limits are
 * dropped and counted (baggage_dropped). Returns HX_OK, HX_EFORMAT if some member was malformed
 * (the well-formed ones are kept), HX_ENOMEM, HX_ESTATE or HX_EINVAL as hx_baggage_format(). */
HX_API int hx_baggage_parse(const uint8_t *trace_id, const char *s, size_t len);

/* ---- Carriers: inject into / extract from any header list ------------------------------- */

/* Store header `name` = `value` in the carrier (both NUL-terminated, valid only during the call).
 * Return 0 on success, nonzero on failure (inject then returns HX_EIO). */
typedef int (*hx_header_set_fn)(void *carrier, const char *name, const char *value);
/* Find header `name` (lower case; match case-insensitively) in the carrier: return its value and
 * its length in *len, or NULL if absent. The value must stay valid until extract returns. */
typedef const char *(*hx_header_get_fn)(void *carrier, const char *name, size_t *len);

/* Set traceparent, tracestate (kept from `prev_tracestate`, may be NULL; not set when empty) and,
 * when the context's trace has baggage in this process, baggage. Returns HX_OK, an error of
 * the format functions (HX_EINVAL for a context without a trace: nothing is set), HX_ENOMEM, or
 * HX_EIO when `set` failed (the headers set before it stay set). */
HX_API int hx_inject(const hx_context *ctx, const char *prev_tracestate, hx_header_set_fn set,
                     void *carrier);
/* Read traceparent, tracestate and baggage from the carrier into *out (the baggage is stored for
 * out's trace in this process). Returns HX_OK, HX_ENOENT without a traceparent, or HX_EFORMAT for
 * a malformed one; in both failure cases *out is invalid and hx_trace_continue() starts a new
 * trace, and the tracestate and baggage are dropped (W3C: a tracestate without its traceparent
 * is discarded). A malformed tracestate or baggage is counted and does not fail the call: the
 * parent then stays foreign, and the baggage keeps its well-formed members. */
HX_API int hx_extract(hx_header_get_fn get, void *carrier, hx_context *out);

/* Ready-made carrier: an array of key/value pairs, as many HTTP servers hand headers over
 * (libmicrohttpd, libevent's evkeyvalq after copying, CGI). Matching is case-insensitive. */
typedef struct hx_header_pair {
	const char *name;
	const char *value;
} hx_header_pair;
/* Extract from n pairs (pairs with a NULL name or value are skipped). Fields that occur several
 * times are joined with ',' (tracestate, baggage: RFC 7230); two traceparent fields are a
 * malformed request (HX_EFORMAT, counted). */
HX_API int hx_extract_pairs(const hx_header_pair *pairs, size_t n, hx_context *out);

#ifdef __cplusplus
}
#endif
#endif /* HARUSPEX_PROPAGATION_H */
