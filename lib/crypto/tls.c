/* The server's TLS context (see tls.h). */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "ossl.h"
#include "tls.h"

struct capstan_tls {
	SSL_CTX *ssl_ctx;
	atomic_int refs;
};

static BIO *mem_bio(const capstan_buf *b)
{
	return BIO_new_mem_buf(b->data, (int)b->len);
}

static int use_chain(capstan_ctx *ctx, SSL_CTX *s, const capstan_buf *chain_pem, const capstan_buf *key_pem)
{
	BIO *bio = mem_bio(chain_pem), *kbio = mem_bio(key_pem);
	X509 *cert = bio ? PEM_read_bio_X509(bio, NULL, NULL, NULL) : NULL, *extra;
	EVP_PKEY *key = kbio ? PEM_read_bio_PrivateKey_ex(kbio, NULL, NULL, NULL, ctx->libctx, NULL) : NULL;
	int rc = 0;

	if (!cert || !key || SSL_CTX_use_certificate(s, cert) != 1 || SSL_CTX_use_PrivateKey(s, key) != 1 ||
	    SSL_CTX_check_private_key(s) != 1)
		rc = capstan_ossl_error(ctx, CAPSTAN_EINVALID, "cannot use the server's certificate and key");
	while (rc == 0 && (extra = PEM_read_bio_X509(bio, NULL, NULL, NULL)))
		if (SSL_CTX_add0_chain_cert(s, extra) != 1) {
			X509_free(extra);
			rc = capstan_ossl_error(ctx, CAPSTAN_ERROR, "cannot add the server's chain");
		}
	ERR_clear_error(); /* the end of the PEM */
	X509_free(cert);
	EVP_PKEY_free(key);
	BIO_free(bio);
	BIO_free(kbio);
	return rc;
}

static int use_roots(capstan_ctx *ctx, SSL_CTX *s, const capstan_buf *roots_pem)
{
	X509_STORE *store = SSL_CTX_get_cert_store(s);
	BIO *bio = mem_bio(roots_pem);
	X509 *root;
	int n = 0;

	while (bio && (root = PEM_read_bio_X509(bio, NULL, NULL, NULL))) {
		n += X509_STORE_add_cert(store, root) == 1;
		X509_free(root);
	}
	ERR_clear_error();
	BIO_free(bio);
	if (n == 0)
		return capstan_error(ctx, CAPSTAN_EINVALID, "no root to verify client certificates against");
	X509_STORE_set_flags(store, X509_V_FLAG_X509_STRICT);
	return 0;
}

int capstan_tls_server_new(capstan_tls **out, capstan_ctx *ctx, const capstan_buf *chain_pem,
	const capstan_buf *key_pem, const capstan_buf *roots_pem)
{
	capstan_tls *tls = calloc(1, sizeof(*tls));
	SSL_CTX *s = SSL_CTX_new_ex(ctx->libctx, NULL, TLS_server_method());
	int rc = 0;

	*out = NULL;
	if (!tls || !s) {
		rc = capstan_ossl_error(ctx, CAPSTAN_ERROR, "cannot make a TLS context");
		goto fail;
	}
	if (SSL_CTX_set_min_proto_version(s, TLS1_2_VERSION) != 1 ||
	    SSL_CTX_set_cipher_list(s, "ECDHE+AESGCM:ECDHE+CHACHA20") != 1) {
		rc = capstan_ossl_error(ctx, CAPSTAN_ERROR, "cannot restrict the TLS versions and ciphers");
		goto fail;
	}
	/* No session tickets or cache: each connection proves its certificate. */
	SSL_CTX_set_options(s, SSL_OP_NO_TICKET | SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
	SSL_CTX_set_session_cache_mode(s, SSL_SESS_CACHE_OFF);
	SSL_CTX_set_verify(s, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
	SSL_CTX_set_verify_depth(s, 4);
	if ((rc = use_chain(ctx, s, chain_pem, key_pem)) < 0 || (rc = use_roots(ctx, s, roots_pem)) < 0)
		goto fail;
	tls->ssl_ctx = s;
	atomic_init(&tls->refs, 1);
	*out = tls;
	return 0;
fail:
	SSL_CTX_free(s);
	free(tls);
	return rc;
}

capstan_tls *capstan_tls_ref(capstan_tls *tls)
{
	atomic_fetch_add(&tls->refs, 1);
	return tls;
}

void capstan_tls_unref(capstan_tls *tls)
{
	if (tls && atomic_fetch_sub(&tls->refs, 1) == 1) {
		SSL_CTX_free(tls->ssl_ctx);
		free(tls);
	}
}

typedef struct {
	void (*fn)(void *arg);
	void *arg;
} free_hook;

static void run_free_hook(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx, long argl, void *argp)
{
	free_hook *h = ptr;

	(void)parent, (void)ad, (void)idx, (void)argl, (void)argp;
	if (h) {
		h->fn(h->arg);
		free(h);
	}
}

static int hook_index = -1;
static pthread_once_t hook_once = PTHREAD_ONCE_INIT;

static void hook_index_new(void)
{
	hook_index = CRYPTO_get_ex_new_index(CRYPTO_EX_INDEX_SSL, 0, NULL, NULL, NULL, run_free_hook);
}

struct ssl_st *capstan_tls_ssl_new(capstan_tls *tls, void (*on_free)(void *arg), void *arg)
{
	SSL *ssl = SSL_new(tls->ssl_ctx);
	free_hook *h = malloc(sizeof(*h));

	pthread_once(&hook_once, hook_index_new);
	if (!ssl || !h || hook_index < 0 || (h->fn = on_free, h->arg = arg, SSL_set_ex_data(ssl, hook_index, h) != 1)) {
		free(h);
		SSL_free(ssl);
		return NULL;
	}
	return ssl;
}

void *capstan_tls_ssl_arg(struct ssl_st *ssl)
{
	free_hook *h = hook_index >= 0 ? SSL_get_ex_data(ssl, hook_index) : NULL;

	return h ? h->arg : NULL;
}

int capstan_tls_peer_der(capstan_buf *out, capstan_ctx *ctx, struct ssl_st *ssl)
{
	X509 *peer = SSL_get0_peer_certificate(ssl);
	unsigned char *der = NULL;
	int len;

	if (!peer || SSL_get_verify_result(ssl) != X509_V_OK)
		return capstan_error(ctx, CAPSTAN_EAUTH, "no verified client certificate");
	if ((len = i2d_X509(peer, &der)) <= 0)
		return capstan_ossl_error(ctx, CAPSTAN_ERROR, "cannot encode the client certificate");
	len = capstan_buf_append(ctx, out, der, (size_t)len);
	OPENSSL_free(der);
	return len;
}
