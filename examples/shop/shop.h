/*
 * shop.h - what the processes of the shop example share: start-up, the HTTP server side (libevent),
 * the HTTP client side (libcurl), and the message format of the order fan-out.
 *
 * The pieces are split by what they link: common.c (this header) needs only libharuspex,
 * server.c (server.h) libevent, call.c (call.h) libcurl, so the worker links neither and the
 * client no libevent. Every function is for one thread (each process of the example is
 * single-threaded).
 */
#ifndef SHOP_H
#define SHOP_H

#include <haruspex.h>

#include <stddef.h>
#include <stdint.h>

/* ---- common.c ------------------------------------------------------------------------------ */

/* Start tracing into `dir` as `service` (hx_init; HARUSPEX_* variables still override). Prints a
 * message and returns nonzero if tracing cannot start at all; an unwritable directory is not
 * fatal (the library counts the drops and the program goes on), as in any traced program. */
int shop_trace_start(const char *prog, const char *dir, const char *service);

/* Tell the launcher that this process is ready: write "PORT\n" (0 when there is no port) to the
 * readiness pipe `fd` and close it. A no-op for fd < 0 (started by hand). Returns 0 or -1. */
int shop_ready(int fd, unsigned port);

/* Parse a decimal number in [min, max] into *out; returns 0 or -1. */
int shop_parse_uint(const char *s, unsigned long min, unsigned long max, unsigned long *out);

/* Find `key` in a form body "k1=v1&k2=v2" and copy its value (up to the next '&') into buf.
 * Returns 0, or -1 when the key is absent or the value does not fit. */
int shop_form_get(const char *body, size_t len, const char *key, char *buf, size_t buflen);

/* A deterministic stand-in for real work that takes long enough to show on a timeline
 * (`rounds` rounds of a 64-bit mix, a few ms for 1e6). Returns the digest, so the compiler keeps it
 * and the caller can record it. */
uint64_t shop_work(uint64_t seed, uint64_t rounds);

/* The order fan-out, gateway -> each worker, one SOCK_SEQPACKET message per order:
 *     u8 n | n bytes: the binary context of the gateway's publish (hx_context_to_binary) | text
 * SOCK_SEQPACKET keeps message boundaries, so no other framing is needed. */
#define SHOP_MSG_MAX 1024

#endif /* SHOP_H */
