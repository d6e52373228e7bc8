/*
 * TLS for the server (lib/serve): an SSL_CTX that presents an inventory
 * certificate and requires a client certificate chaining to one of the
 * given roots. The layers above see OpenSSL's SSL only as struct ssl_st,
 * which is what libevent's bufferevent_openssl takes.
 */
#ifndef CAPSTAN_LIB_TLS_H
#define CAPSTAN_LIB_TLS_H

#include "base/base.h"

struct ssl_st;
typedef struct capstan_tls capstan_tls;

/* chain_pem: the server's certificate then its intermediates; key_pem:
 * its PKCS8 key; roots_pem: the CA certificates a client's chain must end
 * at. TLS 1.2 and 1.3 only; a client certificate is required. */
int capstan_tls_server_new(capstan_tls **out, capstan_ctx *ctx, const capstan_buf *chain_pem,
	const capstan_buf *key_pem, const capstan_buf *roots_pem);
/* One reference more (connections made before a reload keep theirs). */
capstan_tls *capstan_tls_ref(capstan_tls *tls);
void capstan_tls_unref(capstan_tls *tls);

/* A new server-side SSL for one connection, or NULL. on_free(arg) runs
 * when it is freed (with its connection): what counts open connections. */
struct ssl_st *capstan_tls_ssl_new(capstan_tls *tls, void (*on_free)(void *arg), void *arg);
/* The arg an SSL of capstan_tls_ssl_new was made with. */
void *capstan_tls_ssl_arg(struct ssl_st *ssl);
/* The verified client certificate of an established connection, DER. */
int capstan_tls_peer_der(capstan_buf *out, capstan_ctx *ctx, struct ssl_st *ssl);

#endif
