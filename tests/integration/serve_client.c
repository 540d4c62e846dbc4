/*
 * serve_client.c - the test client of tests/integration/serve.sh: speaks the native protocol to
 * `hx serve` (plain or TLS) and checks what it stored over the HTTP API.
 *
 *   serve_client send ADDR DIR [--batch N] [--twice] [--compress] [--token T] [--tls]
 *       read the trace directory DIR, send its traced events in batches (one process per batch),
 *       wait for every ACK; --twice sends everything again on a second connection (dedup).
 *       Prints "acked BATCHES EVENTS".
 *   serve_client gen ADDR --acked FILE [--batches B] [--events N] [--pad BYTES] [--window W]
 *       synthetic load: B batches, each one new trace of N events (fresh random entity), W in
 *       flight; every acknowledged trace is appended to FILE as "TRACEID N" (flushed at once), so
 *       a test that kills the server knows what was acknowledged. Exit 0, or 3 when the server
 *       went away.
 *   serve_client bad ADDR KIND [--token T]
 *       send one bad thing after a good HELLO (KIND: garbage, truncated, oversized, version,
 *       checksum, bomb, batch, record, nohello, seq) or a bad HELLO (badtoken); print the reason
 *       of the ERROR frame the server answers with ("error bad_magic"), or "closed".
 *   serve_client post HTTPADDR [--zstd] [--bomb] [--token T]
 *       POST one small batch to /api/events; print the HTTP status.
 *   serve_client verify HTTPADDR --acked FILE [--token T]
 *       fetch every trace named in FILE with ?format=hx, decode its batches, and check it has
 *       exactly the events acknowledged. Prints "verified TRACES EVENTS"; exit 1 on a mismatch.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <zstd.h>

#include <haruspex.h>
#include <haruspex/reader.h>

#include "format/format.h"
#include "net/proto.h"

#define IO_TIMEOUT_MS 30000

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void die(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "serve_client: ");
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\n");
	va_end(ap);
	exit(2);
}

/* ---- connections ---- */

typedef struct conn {
	int fd;
	SSL_CTX *ctx;
	SSL *ssl;
} conn;

static int tcp_connect(const char *addr)
{
	char host[256];
	const char *colon = strrchr(addr, ':');
	if (!colon || (size_t)(colon - addr) >= sizeof(host))
		die("bad address %s", addr);
	memcpy(host, addr, (size_t)(colon - addr));
	host[colon - addr] = '\0';
	char *h = host;
	if (h[0] == '[') {
		h++;
		h[strlen(h) - 1] = '\0';
	}
	struct addrinfo hints, *res;
	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	if (getaddrinfo(h, colon + 1, &hints, &res))
		die("cannot resolve %s", addr);
	int fd = socket(res->ai_family, SOCK_STREAM, 0);
	if (fd < 0 || connect(fd, res->ai_addr, res->ai_addrlen)) {
		freeaddrinfo(res);
		if (fd >= 0)
			close(fd);
		return -1;
	}
	freeaddrinfo(res);
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return fd;
}

static int conn_open(conn *c, const char *addr, int tls)
{
	memset(c, 0, sizeof(*c));
	c->fd = tcp_connect(addr);
	if (c->fd < 0)
		return -1;
	if (tls) {
		c->ctx = SSL_CTX_new(TLS_client_method());
		c->ssl = c->ctx ? SSL_new(c->ctx) : NULL;
		if (!c->ssl || !SSL_set_fd(c->ssl, c->fd) || SSL_connect(c->ssl) != 1) {
			ERR_print_errors_fp(stderr);
			return -1;
		}
	}
	return 0;
}

static void conn_close(conn *c)
{
	if (c->ssl) {
		SSL_shutdown(c->ssl);
		SSL_free(c->ssl);
	}
	if (c->ctx)
		SSL_CTX_free(c->ctx);
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	c->ssl = NULL;
	c->ctx = NULL;
}

static int write_all(conn *c, const void *p, size_t n)
{
	const uint8_t *b = p;
	while (n) {
		ssize_t w = c->ssl ? SSL_write(c->ssl, b, (int)(n > 1 << 30 ? 1 << 30 : n))
		                   : send(c->fd, b, n, MSG_NOSIGNAL);
		if (w <= 0) {
			if (!c->ssl && w < 0 && errno == EINTR)
				continue;
			return -1;
		}
		b += w;
		n -= (size_t)w;
	}
	return 0;
}

/* 1 when bytes can be read within ms milliseconds. */
static int readable(conn *c, int ms)
{
	if (c->ssl && SSL_pending(c->ssl))
		return 1;
	struct pollfd pfd = {c->fd, POLLIN, 0};
	return poll(&pfd, 1, ms) > 0;
}

static int read_all(conn *c, void *p, size_t n)
{
	uint8_t *b = p;
	while (n) {
		if (!readable(c, IO_TIMEOUT_MS))
			return -1;
		ssize_t r = c->ssl ? SSL_read(c->ssl, b, (int)n) : recv(c->fd, b, n, 0);
		if (r <= 0) {
			if (!c->ssl && r < 0 && errno == EINTR)
				continue;
			return -1;
		}
		b += r;
		n -= (size_t)r;
	}
	return 0;
}

static int send_frame(conn *c, hx_frame_type type, uint16_t flags, const uint8_t *p, size_t len)
{
	uint8_t hdr[HX_FRAME_HEADER_BYTES];
	hx_frame_header(hdr, type, flags, p, (uint32_t)len);
	return write_all(c, hdr, sizeof(hdr)) || (len && write_all(c, p, len)) ? -1 : 0;
}

/* Read one frame: its type and payload (malloc'd into *out). -1 when the connection ended. */
static int read_frame(conn *c, int *type, uint8_t **out, size_t *len)
{
	uint8_t hdr[HX_FRAME_HEADER_BYTES];
	if (read_all(c, hdr, sizeof(hdr)))
		return -1;
	uint32_t n = hx__le32(hdr + 8);
	if (n > (16u << 20))
		return -1;
	uint8_t *buf = malloc(sizeof(hdr) + n);
	if (!buf)
		return -1;
	memcpy(buf, hdr, sizeof(hdr));
	if (read_all(c, buf + sizeof(hdr), n)) {
		free(buf);
		return -1;
	}
	hx_frame f;
	hx_proto_reason why;
	if (hx_frame_parse(buf, sizeof(hdr) + n, 16u << 20, &f, &why) <= 0) {
		free(buf);
		return -1;
	}
	*type = f.type;
	*len = f.len;
	*out = malloc(f.len + 1);
	memcpy(*out, f.payload, f.len);
	free(buf);
	return 0;
}

static void print_error(const uint8_t *p, size_t len)
{
	uint16_t reason;
	const char *text;
	size_t tl;
	if (hx_error_parse(p, len, &reason, &text, &tl) == HX_OK)
		printf("error %s %.*s\n", hx_proto_reason_name(reason), (int)tl, text);
	else
		printf("error malformed\n");
}

/* HELLO, then WELCOME. Returns the server's max payload, or 0 after printing its ERROR. */
static uint32_t hello(conn *c, const char *token)
{
	uint8_t buf[HX_HELLO_MAX], session[16];
	for (int i = 0; i < 16; i++)
		session[i] = (uint8_t)rand();
	size_t n = hx_hello_encode(buf, sizeof(buf), token ? token : "", session, "serve_client");
	if (!n)
		die("cannot encode HELLO%s", "");
	if (send_frame(c, HX_FRAME_HELLO, 0, buf, n)) {
		printf("closed\n"); /* the server hung up first (a TLS port refusing plain bytes) */
		return 0;
	}
	int type;
	uint8_t *p;
	size_t len;
	if (read_frame(c, &type, &p, &len)) {
		printf("closed\n");
		return 0;
	}
	uint32_t max = 0, version;
	if (type == HX_FRAME_ERROR)
		print_error(p, len);
	else if (type != HX_FRAME_WELCOME || hx_welcome_parse(p, len, &max, &version))
		die("expected WELCOME%s", "");
	free(p);
	return max;
}

/* ---- batches in flight ---- */

typedef struct sent {
	uint8_t trace[16];
	size_t events;
} sent;

typedef struct session {
	conn c;
	uint64_t next_seq, acked;   /* batches 1..acked are acknowledged */
	sent *v;                    /* by seq - 1 */
	size_t n, cap;
	FILE *acked_file;
	uint64_t acked_events;
	int compress;
} session;

/* Take one frame from the server: an ACK moves `acked`. -1 on anything else. */
static int take_ack(session *s)
{
	int type;
	uint8_t *p;
	size_t len;
	if (read_frame(&s->c, &type, &p, &len))
		return -1;
	uint64_t seq;
	if (type == HX_FRAME_ERROR) {
		print_error(p, len);
		free(p);
		return -1;
	}
	if (type != HX_FRAME_ACK || hx_u64_parse(p, len, &seq) || seq < s->acked || seq > s->n) {
		free(p);
		fprintf(stderr, "serve_client: unexpected frame type %d\n", type);
		return -1;
	}
	free(p);
	for (uint64_t i = s->acked; i < seq; i++) {
		s->acked_events += s->v[i].events;
		if (s->acked_file) {
			for (int b = 0; b < 16; b++)
				fprintf(s->acked_file, "%02x", s->v[i].trace[b]);
			fprintf(s->acked_file, " %zu\n", s->v[i].events);
		}
	}
	if (s->acked_file)
		fflush(s->acked_file);
	s->acked = seq;
	return 0;
}

static int send_batch(session *s, const uint8_t *batch, size_t len, const uint8_t *trace,
                      size_t events, size_t window)
{
	if (s->n == s->cap) {
		s->cap = s->cap ? s->cap * 2 : 256;
		s->v = realloc(s->v, s->cap * sizeof(*s->v));
	}
	memset(&s->v[s->n], 0, sizeof(sent));
	if (trace)
		memcpy(s->v[s->n].trace, trace, 16);
	s->v[s->n].events = events;
	s->n++;
	uint64_t seq = ++s->next_seq;
	uint8_t *payload = malloc(len + 8);
	hx_u64_encode(payload, seq);
	memcpy(payload + 8, batch, len);
	int rc;
	if (s->compress) {
		size_t cap = ZSTD_compressBound(len + 8);
		uint8_t *z = malloc(cap);
		size_t zn = ZSTD_compress(z, cap, payload, len + 8, 3);
		if (ZSTD_isError(zn))
			die("zstd: %s", ZSTD_getErrorName(zn));
		rc = send_frame(&s->c, HX_FRAME_BATCH, HX_FRAME_COMPRESSED, z, zn);
		free(z);
	} else {
		rc = send_frame(&s->c, HX_FRAME_BATCH, 0, payload, len + 8);
	}
	free(payload);
	if (rc)
		return -1;
	while (s->next_seq - s->acked >= window || readable(&s->c, 0))
		if (take_ack(s))
			return -1;
	return 0;
}

static int wait_all(session *s)
{
	while (s->acked < s->next_seq)
		if (take_ack(s))
			return -1;
	return 0;
}

/* ---- send: a trace directory ---- */

typedef struct pbuild {
	hx_batch_builder *b;
} pbuild;

static int send_dir(const char *addr, const char *dir, size_t per_batch, const char *token,
                    int tls, int compress, uint64_t *batches, uint64_t *events)
{
	session s;
	memset(&s, 0, sizeof(s));
	s.compress = compress;
	if (conn_open(&s.c, addr, tls))
		die("cannot connect to %s", addr);
	uint32_t max = hello(&s.c, token);
	if (!max)
		return -1;
	hx_reader *r;
	if (hx_reader_open(&r, dir, HX_ORDER_STREAM) != HX_OK)
		die("cannot read %s", dir);
	size_t np = hx_reader_processes(r);
	pbuild *pb = calloc(np ? np : 1, sizeof(*pb));
	for (size_t i = 0; i < np; i++) {
		const hx_process_info *p = hx_reader_process(r, i);
		const char *kv[6] = {"host", p->host, "service", p->service, "program", p->program};
		pb[i].b = hx_batch_builder_new(p->instance, p->pid, kv, 3);
		if (!pb[i].b)
			die("batch builder for %s", dir);
	}
	hx_event ev;
	int rc = 0;
	while (rc == 0 && hx_reader_next(r, &ev) == HX_OK) {
		static const uint8_t zero[16];
		if (!memcmp(ev.trace_id, zero, 16))
			continue; /* only traced events go to the service */
		size_t pi = hx_reader_event_process(r);
		if (hx_batch_builder_add(pb[pi].b, &ev) != HX_OK)
			die("cannot add an event of %s", dir);
		if (hx_batch_builder_events(pb[pi].b) >= per_batch ||
		    hx_batch_builder_bytes(pb[pi].b) + 64 >= max) {
			size_t n = hx_batch_builder_events(pb[pi].b), len;
			const uint8_t *p = hx_batch_builder_finish(pb[pi].b, &len);
			rc = send_batch(&s, p, len, NULL, n, 64);
		}
	}
	for (size_t i = 0; i < np && rc == 0; i++)
		if (hx_batch_builder_events(pb[i].b)) {
			size_t n = hx_batch_builder_events(pb[i].b), len;
			const uint8_t *p = hx_batch_builder_finish(pb[i].b, &len);
			rc = send_batch(&s, p, len, NULL, n, 64);
		}
	if (rc == 0)
		rc = wait_all(&s);
	*batches += s.acked;
	*events += s.acked_events;
	for (size_t i = 0; i < np; i++)
		hx_batch_builder_free(pb[i].b);
	free(pb);
	hx_reader_close(r);
	conn_close(&s.c);
	free(s.v);
	return rc;
}

/* ---- gen: synthetic traces ---- */

static uint64_t rand64(void)
{
	uint64_t v;
	int fd = open("/dev/urandom", O_RDONLY);
	if (fd < 0 || read(fd, &v, sizeof(v)) != (ssize_t)sizeof(v))
		die("cannot read /dev/urandom%s", "");
	close(fd);
	return v;
}

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int gen(const char *addr, const char *acked, uint64_t nbatches, size_t nevents, size_t pad,
               size_t window, const char *token, int tls, int compress)
{
	session s;
	memset(&s, 0, sizeof(s));
	s.compress = compress;
	s.acked_file = fopen(acked, "a");
	if (!s.acked_file)
		die("cannot open %s", acked);
	if (conn_open(&s.c, addr, tls)) {
		printf("acked 0 0\n");
		return 3;
	}
	if (!hello(&s.c, token))
		return 3;
	uint8_t instance[16];
	uint64_t a = rand64(), b = rand64();
	memcpy(instance, &a, 8);
	memcpy(instance + 8, &b, 8);
	const char *kv[6] = {"host", "genhost", "service", "gen", "program", "serve_client"};
	hx_batch_builder *bb = hx_batch_builder_new(instance, (uint64_t)getpid(), kv, 3);
	char *padding = malloc(pad + 1);
	memset(padding, 'x', pad);
	padding[pad] = '\0';
	int rc = 0;
	for (uint64_t i = 0; i < nbatches && rc == 0; i++) {
		hx_event ev;
		memset(&ev, 0, sizeof(ev));
		uint64_t t = now_ns(), ms = t / 1000000u, r1 = rand64(), r2 = rand64();
		for (int k = 0; k < 6; k++)
			ev.trace_id[k] = (uint8_t)(ms >> (40 - 8 * k));
		memcpy(ev.trace_id + 6, &r1, 8);
		memcpy(ev.trace_id + 14, &r2, 2);
		ev.entity_id = rand64() | 1;
		hx_attr attr = {.key = "pad", .type = HX_ATTR_STRING};
		attr.v.s.ptr = padding;
		attr.v.s.len = pad;
		for (size_t e = 0; e < nevents; e++) {
			ev.kind = e == 0 ? HX_EV_TRACE_BEGIN : HX_EV_POINT;
			ev.name = e == 0 ? "gen" : "tick";
			ev.name_len = strlen(ev.name);
			ev.seq = e;
			ev.time_ns = ev.time_orig_ns = t + e * 1000;
			ev.attrs = pad && e ? &attr : NULL;
			ev.nattrs = pad && e ? 1 : 0;
			if (hx_batch_builder_add(bb, &ev) != HX_OK)
				die("cannot build a batch%s", "");
		}
		size_t len;
		const uint8_t *p = hx_batch_builder_finish(bb, &len);
		rc = send_batch(&s, p, len, ev.trace_id, nevents, window);
	}
	if (rc == 0)
		rc = wait_all(&s);
	printf("acked %llu %llu\n", (unsigned long long)s.acked, (unsigned long long)s.acked_events);
	fclose(s.acked_file);
	hx_batch_builder_free(bb);
	free(padding);
	conn_close(&s.c);
	free(s.v);
	return rc ? 3 : 0;
}

/* ---- bad: one bad frame ---- */

/* A small valid batch (one traced point) into out; returns its length. */
static size_t small_batch(uint8_t *out, size_t cap)
{
	uint8_t instance[16] = {1, 2, 3};
	const char *kv[2] = {"service", "bad"};
	hx_batch_builder *bb = hx_batch_builder_new(instance, 1, kv, 1);
	hx_event ev;
	memset(&ev, 0, sizeof(ev));
	ev.kind = HX_EV_POINT;
	ev.name = "p";
	ev.name_len = 1;
	ev.entity_id = rand64() | 1;
	ev.time_ns = ev.time_orig_ns = now_ns();
	ev.trace_id[0] = 1;
	ev.trace_id[15] = (uint8_t)rand();
	hx_batch_builder_add(bb, &ev);
	size_t len;
	const uint8_t *p = hx_batch_builder_finish(bb, &len);
	if (len > cap)
		die("batch too large%s", "");
	memcpy(out, p, len);
	hx_batch_builder_free(bb);
	return len;
}

/* A zstd frame of `bytes` zeros, without the zeros ever being in memory at once. */
static uint8_t *bomb(size_t bytes, size_t *len)
{
	ZSTD_CCtx *z = ZSTD_createCCtx();
	size_t cap = 1 << 20, pos = 0;
	uint8_t *out = malloc(cap);
	static uint8_t zeros[1 << 16];
	ZSTD_CCtx_setParameter(z, ZSTD_c_compressionLevel, 1);
	ZSTD_CCtx_setPledgedSrcSize(z, ZSTD_CONTENTSIZE_UNKNOWN);
	size_t left = bytes;
	for (;;) {
		size_t n = left < sizeof(zeros) ? left : sizeof(zeros);
		ZSTD_inBuffer in = {zeros, n, 0};
		ZSTD_EndDirective mode = left == n ? ZSTD_e_end : ZSTD_e_continue;
		size_t r;
		do {
			ZSTD_outBuffer o = {out + pos, cap - pos, 0};
			r = ZSTD_compressStream2(z, &o, &in, mode);
			if (ZSTD_isError(r))
				die("zstd: %s", ZSTD_getErrorName(r));
			pos += o.pos;
			if (cap - pos < 4096) {
				cap *= 2;
				out = realloc(out, cap);
			}
		} while (in.pos < in.size || (mode == ZSTD_e_end && r));
		left -= n;
		if (mode == ZSTD_e_end)
			break;
	}
	ZSTD_freeCCtx(z);
	*len = pos;
	return out;
}

static int bad(const char *addr, const char *kind, const char *token, int tls)
{
	conn c;
	if (conn_open(&c, addr, tls))
		die("cannot connect to %s", addr);
	if (!strcmp(kind, "badtoken")) {
		hello(&c, "not-the-token");
		conn_close(&c);
		return 0;
	}
	if (strcmp(kind, "nohello") && !hello(&c, token)) {
		conn_close(&c);
		return 0;
	}
	uint8_t batch[4096], payload[4200], hdr[HX_FRAME_HEADER_BYTES];
	size_t blen = small_batch(batch, sizeof(batch));
	hx_u64_encode(payload, 1);
	memcpy(payload + 8, batch, blen);
	size_t plen = blen + 8;
	if (!strcmp(kind, "garbage")) {
		static const char junk[] = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
		write_all(&c, junk, sizeof(junk) - 1);
	} else if (!strcmp(kind, "truncated")) {
		hx_frame_header(hdr, HX_FRAME_BATCH, 0, payload, (uint32_t)plen);
		write_all(&c, hdr, sizeof(hdr));
		write_all(&c, payload, plen / 2);
		shutdown(c.fd, SHUT_WR);
	} else if (!strcmp(kind, "oversized")) {
		hx_frame_header(hdr, HX_FRAME_BATCH, 0, payload, (uint32_t)plen);
		hx__put_le32(hdr + 8, 0x7fffffffu);
		write_all(&c, hdr, sizeof(hdr));
	} else if (!strcmp(kind, "version")) {
		hx_frame_header(hdr, HX_FRAME_BATCH, 0, payload, (uint32_t)plen);
		hdr[4] = 99;
		write_all(&c, hdr, sizeof(hdr));
		write_all(&c, payload, plen);
	} else if (!strcmp(kind, "checksum")) {
		hx_frame_header(hdr, HX_FRAME_BATCH, 0, payload, (uint32_t)plen);
		payload[plen - 1] ^= 0x55;
		write_all(&c, hdr, sizeof(hdr));
		write_all(&c, payload, plen);
	} else if (!strcmp(kind, "bomb")) {
		size_t zl;
		uint8_t *z = bomb(80u << 20, &zl);
		send_frame(&c, HX_FRAME_BATCH, HX_FRAME_COMPRESSED, z, zl);
		free(z);
	} else if (!strcmp(kind, "batch")) {
		payload[8] = 77; /* batch version */
		send_frame(&c, HX_FRAME_BATCH, 0, payload, plen);
	} else if (!strcmp(kind, "record")) {
		/* the header intact, the body's first record garbled */
		hx_batch_info info;
		hx_proto_reason why;
		if (hx_batch_parse(batch, blen, &info, &why))
			die("own batch does not parse%s", "");
		size_t at = 8 + (size_t)(info.body - batch);
		memset(payload + at, 0xff, plen - at);
		send_frame(&c, HX_FRAME_BATCH, 0, payload, plen);
	} else if (!strcmp(kind, "nohello") || !strcmp(kind, "seq")) {
		send_frame(&c, HX_FRAME_BATCH, 0, payload, plen);
		if (!strcmp(kind, "seq")) {
			int type;
			uint8_t *p;
			size_t len;
			if (read_frame(&c, &type, &p, &len) == 0)
				free(p);
			send_frame(&c, HX_FRAME_BATCH, 0, payload, plen); /* seq 1 again */
		}
	} else {
		die("unknown kind %s", kind);
	}
	int type;
	uint8_t *p;
	size_t len;
	for (;;) {
		if (read_frame(&c, &type, &p, &len)) {
			printf("closed\n");
			break;
		}
		if (type == HX_FRAME_ERROR) {
			print_error(p, len);
			free(p);
			break;
		}
		free(p);
	}
	conn_close(&c);
	return 0;
}

/* ---- HTTP ---- */

/* One request on a fresh connection; returns the status, the body in *body (malloc'd). */
static int http(const char *addr, const char *method, const char *path, const char *headers,
                const uint8_t *body, size_t blen, uint8_t **out, size_t *olen)
{
	conn c;
	if (conn_open(&c, addr, 0))
		die("cannot connect to %s", addr);
	char req[2048];
	int n = snprintf(req, sizeof(req),
	                 "%s %s HTTP/1.1\r\nHost: test\r\nConnection: close\r\nContent-Length: %zu\r\n"
	                 "%s\r\n", method, path, blen, headers ? headers : "");
	if (write_all(&c, req, (size_t)n) || (blen && write_all(&c, body, blen)))
		die("cannot send to %s", addr);
	size_t cap = 1 << 16, len = 0;
	uint8_t *buf = malloc(cap);
	for (;;) {
		if (len == cap) {
			cap *= 2;
			buf = realloc(buf, cap);
		}
		if (!readable(&c, IO_TIMEOUT_MS))
			break;
		ssize_t r = recv(c.fd, buf + len, cap - len, 0);
		if (r <= 0)
			break;
		len += (size_t)r;
	}
	conn_close(&c);
	int status = 0;
	if (len < 12 || sscanf((char *)buf, "HTTP/1.%*d %d", &status) != 1)
		die("no HTTP answer from %s", addr);
	uint8_t *end = NULL;
	for (size_t i = 0; i + 4 <= len; i++)
		if (!memcmp(buf + i, "\r\n\r\n", 4)) {
			end = buf + i + 4;
			break;
		}
	*olen = end ? len - (size_t)(end - buf) : 0;
	*out = malloc(*olen + 1);
	if (*olen)
		memcpy(*out, end, *olen);
	(*out)[*olen] = '\0';
	free(buf);
	return status;
}

static int post(const char *addr, int zstd, int bomb_it, const char *token)
{
	uint8_t batch[4096];
	size_t blen = small_batch(batch, sizeof(batch));
	char headers[1200];
	snprintf(headers, sizeof(headers), "Content-Type: application/x-haruspex-batch\r\n%s%s%s%s",
	         zstd || bomb_it ? "Content-Encoding: zstd\r\n" : "", token ? "Authorization: Bearer " : "",
	         token ? token : "", token ? "\r\n" : "");
	uint8_t *body = batch, *z = NULL;
	size_t len = blen;
	if (bomb_it) {
		z = bomb(80u << 20, &len);
		body = z;
	} else if (zstd) {
		size_t cap = ZSTD_compressBound(blen);
		z = malloc(cap);
		len = ZSTD_compress(z, cap, batch, blen, 3);
		body = z;
	}
	uint8_t *out;
	size_t olen;
	int status = http(addr, "POST", "/api/events", headers, body, len, &out, &olen);
	printf("%d %s", status, (char *)out);
	if (olen == 0 || out[olen - 1] != '\n')
		printf("\n");
	free(out);
	free(z);
	return 0;
}

typedef struct vctx {
	const uint8_t *trace;
	size_t n, other;
} vctx;

static int count_event(const hx_event *ev, void *user)
{
	vctx *v = user;
	if (!memcmp(ev->trace_id, v->trace, 16))
		v->n++;
	else
		v->other++;
	return 0;
}

static int verify(const char *addr, const char *acked, const char *token)
{
	FILE *f = fopen(acked, "r");
	if (!f)
		die("cannot open %s", acked);
	char line[256], headers[1200] = "";
	if (token)
		snprintf(headers, sizeof(headers), "Authorization: Bearer %s\r\n", token);
	uint64_t traces = 0, events = 0, bad_n = 0;
	while (fgets(line, sizeof(line), f)) {
		char id[33];
		size_t want;
		if (sscanf(line, "%32s %zu", id, &want) != 2)
			continue;
		uint8_t trace[16];
		for (int i = 0; i < 16; i++) {
			unsigned v;
			sscanf(id + 2 * i, "%2x", &v);
			trace[i] = (uint8_t)v;
		}
		char path[128];
		snprintf(path, sizeof(path), "/api/traces/%s?format=hx", id);
		uint8_t *body;
		size_t blen;
		int status = http(addr, "GET", path, headers, NULL, 0, &body, &blen);
		vctx v = {trace, 0, 0};
		if (status == 200) {
			size_t at = 0;
			while (at + 4 <= blen) {
				uint32_t n = hx__le32(body + at);
				at += 4;
				if (n > blen - at)
					break;
				hx_batch_info info;
				hx_proto_reason why;
				if (hx_batch_parse(body + at, n, &info, &why) ||
				    hx_batch_events(&info, count_event, &v, &why)) {
					fprintf(stderr, "trace %s: undecodable batch in the hx form\n", id);
					v.other++;
				}
				at += n;
			}
			if (at != blen)
				v.other++;
		}
		if (status != 200 || v.n != want || v.other) {
			if (bad_n++ < 10)
				fprintf(stderr, "trace %s: HTTP %d, %zu events (%zu foreign), %zu acknowledged\n",
				        id, status, v.n, v.other, want);
		}
		free(body);
		traces++;
		events += want;
	}
	fclose(f);
	printf("verified %llu %llu missing %llu\n", (unsigned long long)traces,
	       (unsigned long long)events, (unsigned long long)bad_n);
	return bad_n ? 1 : 0;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"batch", required_argument, NULL, 'b'}, {"twice", no_argument, NULL, '2'},
		{"compress", no_argument, NULL, 'z'},   {"token", required_argument, NULL, 't'},
		{"tls", no_argument, NULL, 's'},         {"acked", required_argument, NULL, 'a'},
		{"batches", required_argument, NULL, 'B'}, {"events", required_argument, NULL, 'e'},
		{"pad", required_argument, NULL, 'p'},   {"window", required_argument, NULL, 'w'},
		{"zstd", no_argument, NULL, 'Z'},         {"bomb", no_argument, NULL, 'X'},
		{NULL, 0, NULL, 0},
	};
	size_t per_batch = 500, nevents = 20, pad = 0, window = 16;
	uint64_t nbatches = 100;
	int twice = 0, compress = 0, tls = 0, zstd = 0, bomb_it = 0, c;
	const char *token = NULL, *acked = NULL;
	srand((unsigned)(getpid() ^ time(NULL)));
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (c) {
		case 'b': per_batch = strtoull(optarg, NULL, 10); break;
		case '2': twice = 1; break;
		case 'z': compress = 1; break;
		case 't': token = optarg; break;
		case 's': tls = 1; break;
		case 'a': acked = optarg; break;
		case 'B': nbatches = strtoull(optarg, NULL, 10); break;
		case 'e': nevents = strtoull(optarg, NULL, 10); break;
		case 'p': pad = strtoull(optarg, NULL, 10); break;
		case 'w': window = strtoull(optarg, NULL, 10); break;
		case 'Z': zstd = 1; break;
		case 'X': bomb_it = 1; break;
		default: die("bad option%s", ""); break;
		}
	}
	if (argc - optind < 2)
		die("usage: see the top of serve_client.c%s", "");
	const char *mode = argv[optind], *addr = argv[optind + 1];
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (!strcmp(mode, "send")) {
		if (argc - optind < 3)
			die("send needs a directory%s", "");
		uint64_t batches = 0, events = 0;
		for (int round = 0; round < (twice ? 2 : 1); round++)
			if (send_dir(addr, argv[optind + 2], per_batch ? per_batch : 1, token, tls, compress,
			             &batches, &events))
				return 1;
		printf("acked %llu %llu\n", (unsigned long long)batches, (unsigned long long)events);
		return 0;
	}
	if (!strcmp(mode, "gen")) {
		if (!acked)
			die("gen needs --acked FILE%s", "");
		return gen(addr, acked, nbatches, nevents ? nevents : 1, pad, window ? window : 1, token,
		           tls, compress);
	}
	if (!strcmp(mode, "bad")) {
		if (argc - optind < 3)
			die("bad needs a kind%s", "");
		return bad(addr, argv[optind + 2], token, tls);
	}
	if (!strcmp(mode, "post"))
		return post(addr, zstd, bomb_it, token);
	if (!strcmp(mode, "verify")) {
		if (!acked)
			die("verify needs --acked FILE%s", "");
		return verify(addr, acked, token);
	}
	die("unknown mode %s", mode);
	return 2;
}
