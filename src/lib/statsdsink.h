/*
 * statsdsink.h - metrics from events, sent to statsd over UDP: the statsd:// sink of libharuspex
 * and the engine behind it, which `hx statsd` (src/cli/cmd_statsd.c) runs too.
 * docs/interchange.md, "statsd".
 *
 * The engine turns events into statsd lines (src/format/statsd_line.h) and packs them into
 * datagrams of at most the URL's mtu (1432 bytes by default):
 *   BLOCK_END   a timer NAME:MS|ms with the block's duration (its BLOCK_BEGIN's name and time)
 *   POINT       a counter NAME:1|c
 *   ERROR       a counter BLOCK.error:1|c for the innermost open block of its entity, or
 *               error:1|c outside any block (the message is free text: as a metric name it
 *               would make a new metric per message)
 *   COUNTER     a gauge NAME:VALUE|g (its unit is not sent)
 * Timers and counters of events in a trace carry |@RATE, the probability with which the trace
 * was kept (the URL's rate=, else the sampling probability the caller gives), so statsd scales
 * them back up. Other events send nothing.
 *
 * Blocks are matched per entity, so the engine remembers the open blocks it has seen: at most
 * HX__STATSD_OPEN_MAX of them across all entities; a block beyond that sends no timer (counted
 * as untracked), and a block end whose begin was not seen (before the input started, in a
 * damaged chunk) sends none either (counted as unmatched). Memory is bounded by that limit.
 *
 * Sending never waits when the engine is made non-blocking (the library's sink): a datagram the
 * socket does not take at once, or that the network refuses (nothing listens: ICMP port
 * unreachable), is lost and counted. The destination is resolved once, when the engine is made.
 *
 * Thread safety: one thread per engine.
 */
#ifndef HX_LIB_STATSDSINK_H
#define HX_LIB_STATSDSINK_H

#include <haruspex.h>
#include <stddef.h>
#include <stdint.h>

#define HX__STATSD_SCHEME "statsd://"
#define HX__STATSD_PORT_DEFAULT "8125"
#define HX__STATSD_OPEN_MAX 65536  /* open blocks remembered, across all entities */

/* statsd://HOST[:PORT][?prefix=P&rate=R&mtu=N], split. HOST is a name, an IPv4 address or an
 * IPv6 address in brackets; PORT defaults to 8125. prefix: name characters ([A-Za-z0-9._-]), at
 * most 64 bytes, put before every name; rate: from 0 (excluded) to 1; mtu: datagram size from
 * 512 to 65507. */
typedef struct hx__statsd_url {
	char host[256];
	char port[8];
	char prefix[65];
	double rate;    /* 0 when the URL gives none */
	size_t mtu;
} hx__statsd_url;

/* 0, or -1 with the reason in why. */
int hx__statsd_url_parse(const char *url, hx__statsd_url *out, char *why, size_t whylen);

typedef struct hx__statsd hx__statsd;

typedef struct hx__statsd_opts {
	const char *url;         /* statsd://... */
	double rate;             /* probability traced events were kept with, when the URL has no
	                            rate= (0 or 1: none sent) */
	int blocking;            /* 1: a send may wait for room in the socket's buffer (hx statsd);
	                            0: never (the library) */
} hx__statsd_opts;

typedef struct hx__statsd_stats {
	uint64_t events;            /* events looked at */
	uint64_t lines;             /* metric lines made (a negative gauge's pair counts twice) */
	uint64_t datagrams_sent, lines_sent;
	uint64_t datagrams_failed, lines_failed; /* refused by the socket: lost */
	uint64_t unmatched;         /* block ends without a begin seen */
	uint64_t untracked;         /* blocks not remembered (HX__STATSD_OPEN_MAX reached) */
	uint64_t unended;           /* blocks open when their entity ended */
	uint64_t skipped;           /* gauges with a NaN or infinite value */
	uint64_t chunks_skipped;    /* damaged chunks of the followed files */
	int last_errno;             /* of the last failed send, 0 if none */
} hx__statsd_stats;

/* Parse the URL, resolve the host, open the socket. HX_OK; HX_ECONFIG (bad URL, unknown host:
 * err says which), HX_EIO (no socket), HX_ENOMEM. Strings are copied. */
int hx__statsd_new(hx__statsd **out, const hx__statsd_opts *o, char *err, size_t errlen);
void hx__statsd_free(hx__statsd *s); /* NULL is a no-op; what is not flushed is dropped */

/* One event, in its entity's order: its metric (if any) joins the datagram being filled, which
 * is sent when full. HX_OK or HX_ENOMEM. */
int hx__statsd_event(hx__statsd *s, const hx_event *ev);
/* Send the datagram being filled, if any. */
void hx__statsd_flush(hx__statsd *s);

/* Follow a directory of trace files (src/format/follow.h: every event, from the start of the
 * files, then what is added), only one process's files when only_instance is set. HX_OK,
 * HX_ENOENT/HX_EACCES/HX_ENOMEM (err filled), HX_ESTATE if already following. */
int hx__statsd_follow(hx__statsd *s, const char *dir, const uint8_t *only_instance, char *err,
                      size_t errlen);
/* Read what is new in the followed files (at most max_events, 0: no limit), send it, flush.
 * Events of one poll are sent in each entity's order, whatever stream they were found in. Returns
 * the number of events read, or HX_ENOMEM, HX_EIO (hx__statsd_error() says why). */
long hx__statsd_poll(hx__statsd *s, size_t max_events);

void hx__statsd_stats_get(const hx__statsd *s, hx__statsd_stats *out);
const char *hx__statsd_error(const hx__statsd *s); /* "" when none */
/* "HOST:PORT" as resolved, for messages. */
const char *hx__statsd_peer(const hx__statsd *s);

/* ---- the sink: a thread running an engine over this process's files (lib.c) ---- */
struct hx__tracer;
/* After hx__filesink_open: HX_OK, or HX_ESINK (the files are written anyway; message printed
 * unless quiet). The rate is the tracer's sampling probability (HX_SAMPLE_PROBABILITY). */
int hx__statsdsink_start(struct hx__tracer *tr);
/* After hx__filesink_close: send what is left (for up to HARUSPEX_SHIP_LINGER_MS), stop. Does
 * nothing when tr has no statsd sink. */
void hx__statsdsink_stop(struct hx__tracer *tr);
/* The counts of the sink stopped last (zero before any). For tests and diagnostics. */
void hx__statsdsink_last_stats(hx__statsd_stats *out);

#endif /* HX_LIB_STATSDSINK_H */
