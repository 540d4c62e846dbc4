/*
 * tls.h - the TLS transport of the shipping client (client.h), with OpenSSL. Compiled into the hx
 * tool only (src/cli/meson.build): libharuspex must not link OpenSSL, so the library's tcp://
 * sink speaks plain TCP and `hx ship --tls` brings TLS.
 *
 * A configuration holds the OpenSSL context: TLS 1.2 or later, the server's certificate verified
 * against the system's trusted CAs (or the CA file given) and its name against the URL's host.
 * Thread safety: one configuration may serve several clients of one thread.
 */
#ifndef HX_NET_TLS_H
#define HX_NET_TLS_H

#include <stddef.h>

#include "net/client.h"

extern const hx_transport hx_transport_tls;

/* Make a configuration; ca_file NULL means the system's CAs. NULL with err filled on failure
 * (an unreadable CA file, no memory). */
void *hx_tls_config_new(const char *ca_file, char *err, size_t errlen);
void hx_tls_config_free(void *cfg); /* NULL is a no-op */

#endif /* HX_NET_TLS_H */
