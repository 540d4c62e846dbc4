/*
 * tls.c - the TLS transport (tls.h): OpenSSL over the client's non-blocking socket.
 *
 * OpenSSL's WANT_READ / WANT_WRITE map onto the transport's "would block" with the poll() events
 * to wait for, so the client's loop needs no TLS knowledge. The handshake is the only blocking
 * step, bounded by the connect timeout.
 */
#include "net/tls.h"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

struct tls_conn {
	SSL *ssl;
	int fd;
};

static void ssl_err(char *err, size_t errlen, const char *what)
{
	unsigned long e = ERR_get_error();
	char buf[200] = "";
	if (e)
		ERR_error_string_n(e, buf, sizeof buf);
	snprintf(err, errlen, "TLS %s%s%s", what, buf[0] ? ": " : "", buf);
	ERR_clear_error();
}

void *hx_tls_config_new(const char *ca_file, char *err, size_t errlen)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	if (!ctx) {
		ssl_err(err, errlen, "context");
		return NULL;
	}
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	/* the client writes from its queue as the socket allows: partial writes, and a retried
	 * write may come from a buffer that moved (the same bytes) */
	SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	int ok = ca_file ? SSL_CTX_load_verify_locations(ctx, ca_file, NULL)
	                 : SSL_CTX_set_default_verify_paths(ctx);
	if (ok != 1) {
		ssl_err(err, errlen, ca_file ? "cannot load the CA file" : "cannot load the system CAs");
		SSL_CTX_free(ctx);
		return NULL;
	}
	return ctx;
}

void hx_tls_config_free(void *cfg)
{
	if (cfg)
		SSL_CTX_free(cfg);
}

/* Map an SSL_* result: > 0 done, 0 would block (*want), -1 failed. */
static long settle(struct tls_conn *t, int r, short *want, char *err, size_t errlen, const char *what)
{
	if (r > 0)
		return r;
	switch (SSL_get_error(t->ssl, r)) {
	case SSL_ERROR_WANT_READ:
		*want = POLLIN;
		return 0;
	case SSL_ERROR_WANT_WRITE:
		*want = POLLOUT;
		return 0;
	case SSL_ERROR_ZERO_RETURN:
		snprintf(err, errlen, "connection closed by the server");
		return -1;
	default:
		ssl_err(err, errlen, what);
		return -1;
	}
}

static long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void *tls_open(void *cfg, int fd, const char *host, int timeout_ms, char *err, size_t errlen)
{
	struct tls_conn *t = calloc(1, sizeof *t);
	if (!t || !(t->ssl = SSL_new(cfg))) {
		free(t);
		ssl_err(err, errlen, "session");
		return NULL;
	}
	t->fd = fd;
	SSL_set_fd(t->ssl, fd);
	SSL_set_tlsext_host_name(t->ssl, host); /* SNI */
	/* the certificate must name the host we dialled (or its IP address) */
	X509_VERIFY_PARAM *vp = SSL_get0_param(t->ssl);
	if (!X509_VERIFY_PARAM_set1_ip_asc(vp, host))
		X509_VERIFY_PARAM_set1_host(vp, host, 0);
	long deadline = now_ms() + timeout_ms;
	for (;;) {
		short want = 0;
		long r = settle(t, SSL_connect(t->ssl), &want, err, errlen, "handshake");
		if (r > 0)
			return t;
		long left = deadline - now_ms();
		struct pollfd pfd = {fd, want, 0};
		if (r < 0 || left <= 0 || poll(&pfd, 1, (int)left) <= 0) {
			if (r == 0)
				snprintf(err, errlen, "TLS handshake timed out");
			long v = SSL_get_verify_result(t->ssl);
			if (r < 0 && v != X509_V_OK)
				snprintf(err, errlen, "TLS: the server's certificate is not trusted: %s",
				         X509_verify_cert_error_string(v));
			SSL_free(t->ssl);
			free(t);
			return NULL;
		}
	}
}

static long tls_read(void *conn, void *buf, size_t len, short *want, char *err, size_t errlen)
{
	struct tls_conn *t = conn;
	int n = len > 1u << 30 ? 1 << 30 : (int)len;
	return settle(t, SSL_read(t->ssl, buf, n), want, err, errlen, "read");
}

static long tls_write(void *conn, const void *buf, size_t len, short *want, char *err, size_t errlen)
{
	struct tls_conn *t = conn;
	int n = len > 1u << 30 ? 1 << 30 : (int)len;
	return settle(t, SSL_write(t->ssl, buf, n), want, err, errlen, "write");
}

static size_t tls_pending(void *conn)
{
	struct tls_conn *t = conn;
	return (size_t)SSL_pending(t->ssl);
}

static int tls_fd(void *conn)
{
	return ((struct tls_conn *)conn)->fd;
}

static void tls_close(void *conn)
{
	struct tls_conn *t = conn;
	SSL_shutdown(t->ssl); /* best effort: a close_notify, without waiting for the answer */
	SSL_free(t->ssl);
	close(t->fd);
	free(t);
}

const hx_transport hx_transport_tls = {"tls", tls_open, tls_read, tls_write, tls_pending, tls_fd,
                                       tls_close};
