/*
 * statsd_line.h - the statsd line protocol, as Haruspex writes it: metric names made safe, one
 * line per metric, lines packed into datagrams. Pure formatting: no I/O, no allocation, no
 * global state (the locale's decimal point is read, and replaced by '.').
 *
 * A line is   NAME:VALUE|TYPE[|@RATE]   (docs/interchange.md, "statsd"):
 *   timer     NAME:12.5|ms        milliseconds with up to 6 decimals (exact from the ns count)
 *   counter   NAME:1|c|@0.01      @RATE when the event was kept with probability RATE < 1
 *   gauge     NAME:42|g           a negative value is preceded by NAME:0|g in the same packet,
 *                                 because statsd reads a leading '-' as a decrement
 *
 * Names: a character outside [A-Za-z0-9._-] would end the name early (':' '|' '@' '#', newlines)
 * or be taken apart by the servers, so each becomes '_' ('/' becomes '-', as Etsy's statsd itself
 * does); a UTF-8 sequence counts as one character; an empty name is "unnamed". The prefix, the
 * name and the suffix together are cut to HX__STATSD_NAME_MAX bytes.
 */
#ifndef HX_FORMAT_STATSD_LINE_H
#define HX_FORMAT_STATSD_LINE_H

#include <stddef.h>
#include <stdint.h>

#define HX__STATSD_NAME_MAX 200     /* bytes of a metric name, prefix and suffix included */
#define HX__STATSD_PREFIX_MAX 64    /* bytes of a prefix (made of name characters only) */
/* The longest line: a name, ':', a value (a double or an int64 in at most 24 bytes), "|ms",
 * "|@" and a rate (at most 24 bytes); twice that for a negative gauge's pair. */
#define HX__STATSD_LINE_MAX 512
#define HX__STATSD_DGRAM_DEFAULT 1432 /* fits an Ethernet MTU of 1500 with IPv6 and UDP headers
                                        and a margin for tunnels */
#define HX__STATSD_DGRAM_MIN HX__STATSD_LINE_MAX
#define HX__STATSD_DGRAM_MAX 65507    /* the largest UDP payload over IPv4 */

/* 1 if c may appear in a metric name as it is. */
int hx__statsd_name_char(unsigned char c);

/* Write prefix + the sanitised name (n bytes, any bytes) + suffix into out (at least
 * HX__STATSD_NAME_MAX + 1 bytes), NUL-terminated, cut at HX__STATSD_NAME_MAX bytes (the suffix
 * is kept whole: the name is cut first). prefix and suffix must already be made of name
 * characters (NULL for none). Returns the length. */
size_t hx__statsd_name(char *out, const char *prefix, const char *name, size_t n,
                       const char *suffix);

/* The shortest decimal text of d that reads back as d ("0.25", "1e+20"), '.' as the decimal point
 * whatever the locale. out holds at least 32 bytes. -1 (nothing written) for NaN and infinities,
 * else the length. */
int hx__statsd_double(char *out, size_t size, double d);

/* One line into out (HX__STATSD_LINE_MAX bytes), NUL-terminated; returns its length. `name` is
 * a finished name (hx__statsd_name). rate: the probability the event was kept with; a rate that
 * is not in (0, 1) is not written. */
size_t hx__statsd_timer(char *out, const char *name, uint64_t ns, double rate);
size_t hx__statsd_count(char *out, const char *name, int64_t n, double rate);
/* A gauge from an integer or a double; 0 (nothing written) for a NaN or infinite double. */
size_t hx__statsd_gauge_int(char *out, const char *name, int64_t v);
size_t hx__statsd_gauge_double(char *out, const char *name, double v);

/* A datagram being filled: lines separated by '\n', no newline after the last one. */
typedef struct hx__statsd_dgram {
	char *buf;      /* the caller's memory, cap bytes */
	size_t cap;     /* the datagram's size limit */
	size_t len;
	size_t lines;
} hx__statsd_dgram;

/* Append a line of n bytes (n <= HX__STATSD_LINE_MAX). Returns 0, or 1 when it does not fit
 * (the datagram is unchanged: send it, empty it, add again). A line that contains '\n' (a
 * negative gauge's pair) stays in one datagram. */
int hx__statsd_dgram_add(hx__statsd_dgram *d, const char *line, size_t n);
static inline void hx__statsd_dgram_clear(hx__statsd_dgram *d)
{
	d->len = 0;
	d->lines = 0;
}

#endif /* HX_FORMAT_STATSD_LINE_H */
