/* Shared helpers for unit tests that need certificates made outside an
 * inventory (x509.h's signer) or read with OpenSSL. Include after unit.h. */
#ifndef CAPSTAN_TEST_UNIT_PKI_H
#define CAPSTAN_TEST_UNIT_PKI_H

#include <openssl/x509.h>

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

#endif
