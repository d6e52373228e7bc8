/* Shared helpers for unit tests that need certificates made outside an
 * inventory (x509.h's signer) or read with OpenSSL. Include after unit.h. */
#ifndef CAPSTAN_TEST_UNIT_PKI_H
#define CAPSTAN_TEST_UNIT_PKI_H

#include <openssl/core_names.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "crypto/crypto_internal.h"
#include "crypto/crypto.h"

/* A certificate of KIND for subject_key, signed by issuer_key under
 * issuer_der (NULL: self-signed), valid from not_before to not_after. */
static inline capstan_buf pki_sign(capstan_ctx *ctx, capstan_cert_kind kind, capstan_profile profile,
	const char *cn, const capstan_strlist *sans, time_t not_before, time_t not_after, capstan_key *subject_key,
	const capstan_buf *issuer_der, capstan_key *issuer_key)
{
	capstan_buf der = CAPSTAN_BUF_INIT;
	char hex[2 * CAPSTAN_SERIAL_LEN + 1];
	capstan_x509_template t = { .kind = kind, .profile = profile, .cn = cn, .org = "Unit Org", .sans = sans,
		.not_before = not_before, .not_after = not_after };

	assert_ok(ctx, capstan_serial_generate(ctx, t.serial, hex));
	assert_ok(ctx, capstan_x509_sign(&der, ctx, &t, subject_key, issuer_der ? issuer_der->data : NULL,
		issuer_der ? issuer_der->len : 0, issuer_key));
	return der;
}

static inline X509 *pki_x509(const unsigned char *der, size_t len)
{
	const unsigned char *p = der;
	X509 *x = d2i_X509(NULL, &p, (long)len);

	assert_non_null(x);
	assert_ptr_equal(p, der + len);
	return x;
}

/* The PEM of DER certificates, concatenated. */
static inline void pki_pem_append(capstan_ctx *ctx, capstan_buf *out, const capstan_buf *der)
{
	assert_ok(ctx, capstan_x509_pem_append(out, ctx, der->data, der->len));
}

/* A time_t from an ASN1_TIME. */
static inline time_t pki_time(const ASN1_TIME *t)
{
	struct tm tm;

	assert_int_equal(ASN1_TIME_to_tm(t, &tm), 1);
	return timegm(&tm);
}

/* A DER CSR for a fresh key of the given algorithm (param: an EC curve's
 * name, an RSA size_t bits), signed with md; an EC point compressed if asked. */
static inline capstan_buf pki_csr(const char *alg, const void *param, const char *md, const char *cn,
	const char *dns, int compressed)
{
	EVP_PKEY *pkey = strcmp(alg, "RSA") == 0 ? EVP_PKEY_Q_keygen(NULL, NULL, "RSA", *(const size_t *)param)
		: EVP_PKEY_Q_keygen(NULL, NULL, alg, (const char *)param);
	X509_REQ *req = X509_REQ_new();
	capstan_buf out = CAPSTAN_BUF_INIT;
	unsigned char *der = NULL;
	int len;

	assert_non_null(pkey);
	if (compressed)
		assert_int_equal(EVP_PKEY_set_utf8_string_param(pkey, OSSL_PKEY_PARAM_EC_POINT_CONVERSION_FORMAT,
			OSSL_PKEY_EC_POINT_CONVERSION_FORMAT_COMPRESSED), 1);
	X509_REQ_set_pubkey(req, pkey);
	X509_NAME_add_entry_by_txt(X509_REQ_get_subject_name(req), "CN", MBSTRING_UTF8,
		(const unsigned char *)cn, -1, -1, 0);
	if (dns) {
		STACK_OF(X509_EXTENSION) *exts = sk_X509_EXTENSION_new_null();
		X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, NULL, NID_subject_alt_name, dns);
		sk_X509_EXTENSION_push(exts, ext);
		X509_REQ_add_extensions(req, exts);
		sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
	}
	assert_true(X509_REQ_sign(req, pkey, md ? EVP_get_digestbyname(md) : NULL) > 0);
	len = i2d_X509_REQ(req, &der);
	assert_true(len > 0);
	out.data = calloc(1, (size_t)len + 1); /* NUL after, as every capstan_buf */
	memcpy(out.data, der, (size_t)len);
	out.len = (size_t)len;
	OPENSSL_free(der);
	X509_REQ_free(req);
	EVP_PKEY_free(pkey);
	return out;
}

#endif
