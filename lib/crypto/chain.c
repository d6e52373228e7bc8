/* Verifying a certificate chain up to an environment's trusted roots. */
#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/err.h>
#include <openssl/x509_vfy.h>

#include "base/base.h"
#include "crypto_internal.h"
#include "ossl.h"
#include "x509.h"

#define MAX_INPUT_CERTS 16

/* Reads INPUT: PEM certificates (up to 16), or one DER certificate. */
static int read_input(capstan_ctx *ctx, const unsigned char *input, size_t len, STACK_OF(X509) *out)
{
	BIO *bio;
	X509 *cert;
	int rc = 0;

	if (len > 0 && input[0] == 0x30) {
		if ((rc = capstan_x509_from_der(ctx, &cert, input, len)) < 0)
			return rc;
		if (!sk_X509_push(out, cert)) {
			X509_free(cert);
			return capstan_error_oom(ctx);
		}
		return 0;
	}
	if (!(bio = BIO_new_mem_buf(input, (int)len)))
		return capstan_error_oom(ctx);
	while (sk_X509_num(out) < MAX_INPUT_CERTS) {
		cert = X509_new_ex(ctx->libctx, NULL);
		if (!cert || !PEM_read_bio_X509(bio, &cert, NULL, NULL)) {
			X509_free(cert);
			break;
		}
		if (!sk_X509_push(out, cert)) {
			X509_free(cert);
			rc = capstan_error_oom(ctx);
			break;
		}
	}
	ERR_clear_error(); /* the end of the PEM data reads as an error */
	BIO_free(bio);
	if (rc == 0 && sk_X509_num(out) == 0)
		rc = capstan_error(ctx, CAPSTAN_EINVALID, "no certificate found (expected PEM or DER)");
	return rc;
}

static int add_ders(capstan_ctx *ctx, const capstan_der *ders, size_t n, X509_STORE *store,
	STACK_OF(X509) *chain)
{
	for (size_t i = 0; i < n; i++) {
		X509 *cert = NULL;
		int rc = capstan_x509_from_der(ctx, &cert, ders[i].der, ders[i].len), ok;
		if (rc < 0)
			return rc;
		ok = store ? X509_STORE_add_cert(store, cert) == 1 : sk_X509_push(chain, cert) > 0;
		if (store || !ok)
			X509_free(cert); /* the store keeps its own reference */
		if (!ok)
			return capstan_ossl_error(ctx, CAPSTAN_ERROR, "cannot load a CA certificate");
	}
	return 0;
}

struct capstan_x509_verifier {
	X509_STORE *store;
	STACK_OF(X509) *untrusted;
	X509_STORE_CTX *sctx;
};

/* A trust anchor is trusted as the environment holds it (RFC 5280 6.1:
 * its certificate is an input of path validation, not a link checked in
 * it). easy-rsa's CA, one capstan imports, marks basicConstraints
 * non-critical, which strict rules refuse in any CA: in the anchor alone,
 * that is let pass; every other strict rule still holds. */
static int anchor_leniency(int ok, X509_STORE_CTX *sctx)
{
	STACK_OF(X509) *chain = X509_STORE_CTX_get0_chain(sctx);
	int depth = X509_STORE_CTX_get_error_depth(sctx);

	if (!ok && X509_STORE_CTX_get_error(sctx) == X509_V_ERR_CA_BCONS_NOT_CRITICAL && chain &&
	    depth == sk_X509_num(chain) - 1 && X509_self_signed(sk_X509_value(chain, depth), 0) == 1) {
		X509_STORE_CTX_set_error(sctx, X509_V_OK);
		return 1;
	}
	return ok;
}

int capstan_x509_verifier_new(capstan_x509_verifier **out, capstan_ctx *ctx, const capstan_der *roots,
	size_t nroots, const capstan_der *intermediates, size_t nintermediates)
{
	capstan_x509_verifier *v = calloc(1, sizeof(*v));
	int rc;

	if (!v || !(v->store = X509_STORE_new()) || !(v->untrusted = sk_X509_new_null()) ||
	    !(v->sctx = X509_STORE_CTX_new_ex(ctx->libctx, NULL))) {
		capstan_x509_verifier_free(v);
		return capstan_error_oom(ctx);
	}
	if ((rc = add_ders(ctx, roots, nroots, v->store, NULL)) < 0 ||
	    (rc = add_ders(ctx, intermediates, nintermediates, NULL, v->untrusted)) < 0) {
		capstan_x509_verifier_free(v);
		return rc;
	}
	X509_STORE_set_flags(v->store, X509_V_FLAG_X509_STRICT);
	X509_STORE_set_verify_cb(v->store, anchor_leniency);
	*out = v;
	return 0;
}

void capstan_x509_verifier_free(capstan_x509_verifier *v)
{
	if (!v)
		return;
	X509_STORE_CTX_free(v->sctx);
	sk_X509_pop_free(v->untrusted, X509_free);
	X509_STORE_free(v->store);
	free(v);
}

/* One certificate up to the verifier's roots, X.509 strict rules. */
static int verify_cert(capstan_x509_verifier *v, capstan_ctx *ctx, X509 *cert)
{
	int rc = 0;

	if (X509_STORE_CTX_init(v->sctx, v->store, cert, v->untrusted) != 1)
		return capstan_ossl_error(ctx, CAPSTAN_ERROR, "cannot set up verification");
	if (X509_verify_cert(v->sctx) != 1) {
		int err = X509_STORE_CTX_get_error(v->sctx);
		ERR_clear_error();
		rc = capstan_error(ctx, CAPSTAN_EINVALID, "does not verify: %s (at depth %d)",
			X509_verify_cert_error_string(err), X509_STORE_CTX_get_error_depth(v->sctx));
	}
	X509_STORE_CTX_cleanup(v->sctx);
	return rc;
}

int capstan_x509_verify_chain(capstan_buf *leaf, capstan_ctx *ctx, const unsigned char *input,
	size_t input_len, const capstan_der *roots, size_t nroots, const capstan_der *intermediates,
	size_t nintermediates)
{
	STACK_OF(X509) *given = sk_X509_new_null();
	capstan_x509_verifier *v = NULL;
	unsigned char *der = NULL;
	int rc, len;

	if (!given)
		return capstan_error_oom(ctx);
	if ((rc = read_input(ctx, input, input_len, given)) < 0 ||
	    (rc = capstan_x509_verifier_new(&v, ctx, roots, nroots, intermediates, nintermediates)) < 0)
		goto done;
	/* The rest of INPUT may complete the chain. */
	for (int i = 1; i < sk_X509_num(given); i++) {
		if (!X509_up_ref(sk_X509_value(given, i)) || !sk_X509_push(v->untrusted, sk_X509_value(given, i))) {
			rc = capstan_error_oom(ctx);
			goto done;
		}
	}
	if ((rc = verify_cert(v, ctx, sk_X509_value(given, 0))) < 0)
		goto done;
	if ((len = i2d_X509(sk_X509_value(given, 0), &der)) <= 0)
		rc = capstan_ossl_error(ctx, CAPSTAN_ERROR, "cannot encode the certificate");
	else
		rc = capstan_buf_set(ctx, leaf, der, (size_t)len);
done:
	OPENSSL_free(der);
	capstan_x509_verifier_free(v);
	sk_X509_pop_free(given, X509_free);
	return rc;
}

/* SHA-256 of the certificate's SubjectPublicKeyInfo, as it is encoded in it. */
static int spki_sha256(capstan_ctx *ctx, X509 *cert, unsigned char out[CAPSTAN_SHA256_LEN])
{
	unsigned char *der = NULL;
	int len = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(cert), &der), rc;

	if (len <= 0)
		return capstan_ossl_error(ctx, CAPSTAN_EINVALID, "cannot read the certificate's public key");
	rc = capstan_sha256(ctx, der, (size_t)len, out);
	OPENSSL_free(der);
	return rc;
}

static int read_facts(capstan_ctx *ctx, X509 *cert, capstan_x509_facts *f)
{
	BIGNUM *bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert), NULL);
	unsigned char serial[20];
	struct tm tm;
	int n = bn ? BN_num_bytes(bn) : -1, rc;

	if (n < 1 || n > 20 || BN_bn2bin(bn, serial) != n)
		rc = capstan_error(ctx, CAPSTAN_EINVALID, "its serial is not 1-20 bytes");
	else if (ASN1_TIME_to_tm(X509_get0_notAfter(cert), &tm) != 1)
		rc = capstan_error(ctx, CAPSTAN_EINVALID, "its notAfter does not read");
	else
		rc = spki_sha256(ctx, cert, f->spki_sha256);
	if (rc == 0) {
		capstan_hex_encode(f->serial, serial, (size_t)n);
		f->not_after = timegm(&tm);
	}
	BN_free(bn);
	return rc;
}

int capstan_x509_verifier_check(capstan_x509_verifier *v, capstan_ctx *ctx, const unsigned char *der,
	size_t len, int check_chain, capstan_x509_facts *facts)
{
	X509 *cert = NULL;
	int rc;

	if ((rc = capstan_x509_from_der(ctx, &cert, der, len)) < 0)
		return rc;
	if ((rc = read_facts(ctx, cert, facts)) == 0 && check_chain)
		rc = verify_cert(v, ctx, cert);
	X509_free(cert);
	return rc;
}
