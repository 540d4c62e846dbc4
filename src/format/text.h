/*
 * text.h - events as text: a growable byte buffer, one human-readable line per event (the stderr
 * sink, `hx dump`) and one JSON object per event (`hx dump --json`).
 *
 * hx__buf works like git's strbuf: p is NUL-terminated whenever it is not NULL, len excludes the
 * NUL, and appending grows it. Unlike strbuf it never dies: a failed allocation returns HX_ENOMEM
 * and leaves the contents as they were before that call. One buffer per thread.
 *
 * THE TEXT LINE (no newline at the end), fields separated by spaces:
 *
 *   2026-11-24T10:20:00.123456789Z 3f2a0b1c4d5e6f70:17 trace=9a8b7c6d point        "cache miss" bytes=42 path="x"
 *
 *   time     UTC, ISO 8601 with nanoseconds
 *   event ID the entity ID as 16 hex digits, ':', the sequence number in decimal
 *   trace=   the last 8 hex digits of the trace ID (its random part: the leading digits are the
 *            start time and alike across traces), all 32 on TRACE_BEGIN and TRACE_JOIN so the
 *            full ID can be found; absent outside a trace
 *   kind     hx_event_kind name, padded to 12 columns so names line up
 *   "name"   quoted; absent for kinds without a name and for an empty STATE reason
 *   fields   kind-specific: kind=thread tid=N (ENTITY_BEGIN), state=waiting, target=block,
 *            ia=request, cause=<trace8>/<entity>:<seq> (one per cause, trace "-" if none),
 *            value=1.5 unit="ms" (COUNTER)
 *   attrs    key=value: ints in decimal, doubles shortest round-trip, true/false, strings quoted,
 *            bytes as hex (the first 32 bytes, then "..(N bytes)")
 *
 *   Strings and keys are escaped so no byte can end the line or drive a terminal: \" \\ \n \r \t,
 *   other control bytes and invalid UTF-8 as \xNN, C1 controls as \u0080..\u009f. Keys made only
 *   of [A-Za-z0-9_.:/-] are printed bare, others quoted.
 *
 * THE JSON OBJECT (one line, no newline at the end):
 *
 *   {"time_ns":1795515600123456789,"time":"2026-11-24T10:20:00.123456789Z","kind":"point",
 *    "entity":"3f2a0b1c4d5e6f70","seq":17,"trace":"0192..(32 hex)","name":"cache miss",
 *    "attrs":{"bytes":42,"path":"x"}}
 *
 *   trace is null outside a trace. Kind-specific members: entity_kind, tid (ENTITY_BEGIN), state,
 *   target, interaction, causes:[{"trace","entity","seq","sampled"}], value, unit (COUNTER).
 *   IDs are hex strings; ints are JSON integers; a NaN or infinite double is null; bytes are
 *   base64 strings. Strings are valid JSON whatever the bytes: invalid UTF-8 becomes \ufffd,
 *   control characters, U+2028 and U+2029 are escaped.
 */
#ifndef HX_TEXT_H
#define HX_TEXT_H

#include <haruspex.h>
#include <stddef.h>

typedef struct hx__buf {
	char *p;
	size_t len, cap;
} hx__buf;

#define HX__BUF_INIT {NULL, 0, 0}

void hx__buf_init(hx__buf *b);
void hx__buf_reset(hx__buf *b);                 /* empty it, keep the memory */
void hx__buf_free(hx__buf *b);                  /* release the memory; b is then empty */
int hx__buf_grow(hx__buf *b, size_t extra);     /* room for extra more bytes: HX_OK/HX_ENOMEM */
int hx__buf_append(hx__buf *b, const void *data, size_t n);
int hx__buf_puts(hx__buf *b, const char *s);
int hx__buf_putc(hx__buf *b, char c);
int hx__buf_printf(hx__buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Append one line / one JSON object for ev. HX_OK or HX_ENOMEM (b then holds a partial line). */
int hx__event_text(hx__buf *b, const hx_event *ev);
int hx__event_json(hx__buf *b, const hx_event *ev);

/* Pieces the tools reuse, with the same escaping: a JSON string literal of n bytes, a quoted
 * text-line string, the same without the quotes (for text that is safe to show but not a value:
 * file names in messages), and an ISO 8601 UTC time with ns. */
int hx__json_string(hx__buf *b, const char *s, size_t n);
int hx__text_string(hx__buf *b, const char *s, size_t n);
int hx__text_plain(hx__buf *b, const char *s, size_t n);
int hx__time_iso(hx__buf *b, uint64_t time_ns);

#endif /* HX_TEXT_H */
