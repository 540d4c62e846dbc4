/*
 * tls.c - TLS for the native listener (OpenSSL through libevent's bufferevent_openssl).
 *
 * The context is built once from PEM files (certificate chain, private key) and refuses anything
 * older than TLS 1.2, compression and renegotiation. Each accepted socket gets its own SSL object
 * inside an accepting bufferevent; the rest of ingest.c does not know whether a connection is
 * encrypted. A client that closes without a TLS close_notify is accepted (dirty shutdown): the
 * protocol has its own framing, so a cut frame is still caught as truncated.
 */
#include "server/server.h"

#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <stdio.h>
#include <unistd.h>

static void ssl_err(char *err, size_t errlen, const char *what, const char *file)
{
	char why[256];
	unsigned long e = ERR_get_error();
	ERR_error_string_n(e ? e : 0, why, sizeof(why));
	snprintf(err, errlen, "%s %s: %s", what, file, e ? why : "unknown error");
	ERR_clear_error();
}

struct ssl_ctx_st *hx__tls_server_ctx(const char *cert, const char *key, char *err, size_t errlen)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
	if (!ctx) {
		ssl_err(err, errlen, "cannot create a TLS context for", cert);
		return NULL;
	}
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION);
	if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1) {
		ssl_err(err, errlen, "cannot load the certificate", cert);
		goto fail;
	}
	if (SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1) {
		ssl_err(err, errlen, "cannot load the private key", key);
		goto fail;
	}
	if (SSL_CTX_check_private_key(ctx) != 1) {
		ssl_err(err, errlen, "the private key does not match the certificate", cert);
		goto fail;
	}
	return ctx;
fail:
	SSL_CTX_free(ctx);
	return NULL;
}

void hx__tls_ctx_free(struct ssl_ctx_st *ctx)
{
	SSL_CTX_free(ctx);
}

struct bufferevent *hx__tls_bufferevent(struct event_base *base, int fd, struct ssl_ctx_st *ctx)
{
	struct bufferevent *bev;
	if (!ctx) {
		bev = bufferevent_socket_new(base, fd, BEV_OPT_CLOSE_ON_FREE);
		if (!bev)
			close(fd);
		return bev;
	}
	SSL *ssl = SSL_new(ctx);
	if (!ssl) {
		ERR_clear_error();
		close(fd);
		return NULL;
	}
	bev = bufferevent_openssl_socket_new(base, fd, ssl, BUFFEREVENT_SSL_ACCEPTING,
	                                     BEV_OPT_CLOSE_ON_FREE);
	if (!bev) {
		SSL_free(ssl);
		close(fd);
		return NULL;
	}
	bufferevent_openssl_set_allow_dirty_shutdown(bev, 1);
	return bev;
}
