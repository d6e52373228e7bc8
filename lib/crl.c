/* Certificate revocation lists, built and signed with OpenSSL. */
#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "buffer.h"
#include "crypto_internal.h"
#include "ossl.h"
#include "x509.h"

struct capstan_crl {
	X509_CRL *crl;
	X509 *issuer;
	X509_EXTENSION *reasons[11]; /* one per CRLReason code, made once: a CRL may list 100,000 */
};

static int set_time(capstan_ctx *ctx, X509_CRL *crl, time_t t, int next)
{
	ASN1_TIME *at = ASN1_TIME_set(NULL, t);
	int ok = at && (next ? X509_CRL_set1_nextUpdate(crl, at) : X509_CRL_set1_lastUpdate(crl, at)) == 1;

	ASN1_TIME_free(at);
	return ok ? 0 : capstan_ossl_error(ctx, CAPSTAN_ERROR, "cannot set the CRL's update times");
}

static int add_number(capstan_ctx *ctx, X509_CRL *crl, int64_t number)
{
	ASN1_INTEGER *n = ASN1_INTEGER_new();
	int ok = n && ASN1_INTEGER_set_int64(n, number) == 1 &&
		X509_CRL_add1_ext_i2d(crl, NID_crl_number, n, 0, X509V3_ADD_DEFAULT) == 1;

	ASN1_INTEGER_free(n);
	return ok ? 0 : capstan_ossl_error(ctx, CAPSTAN_ERROR, "cannot set the CRL number");
}

static int add_aki(capstan_ctx *ctx, X509_CRL *crl, X509 *issuer)
{
	X509V3_CTX v3;
	X509_EXTENSION *ext;
	int ok;

	X509V3_set_ctx(&v3, issuer, NULL, NULL, crl, 0);
	ext = X509V3_EXT_nconf_nid(NULL, &v3, NID_authority_key_identifier, "keyid:always");
	ok = ext && X509_CRL_add_ext(crl, ext, -1) == 1;
	X509_EXTENSION_free(ext);
	return ok ? 0 : capstan_ossl_error(ctx, CAPSTAN_ERROR, "cannot add the CRL's authority key identifier");
}

int capstan_crl_new(capstan_crl **out, capstan_ctx *ctx, const unsigned char *issuer_der,
	size_t issuer_len, time_t this_update, time_t next_update, int64_t number)
{
	capstan_crl *c = calloc(1, sizeof(*c));
	int rc;

	if (!c)
		return capstan_error_oom(ctx);
	if ((rc = capstan_x509_from_der(ctx, &c->issuer, issuer_der, issuer_len)) < 0)
		goto fail;
	if (!(c->crl = X509_CRL_new_ex(ctx->libctx, NULL)) ||
	    X509_CRL_set_version(c->crl, X509_CRL_VERSION_2) != 1 ||
	    X509_CRL_set_issuer_name(c->crl, X509_get_subject_name(c->issuer)) != 1) {
		rc = capstan_ossl_error(ctx, CAPSTAN_ERROR, "cannot start a CRL");
		goto fail;
	}
	if ((rc = set_time(ctx, c->crl, this_update, 0)) < 0 || (rc = set_time(ctx, c->crl, next_update, 1)) < 0 ||
	    (rc = add_number(ctx, c->crl, number)) < 0 || (rc = add_aki(ctx, c->crl, c->issuer)) < 0)
		goto fail;
	*out = c;
	return 0;
fail:
	capstan_crl_free(c);
	return rc;
}

static int set_reason(capstan_crl *c, X509_REVOKED *rev, int reason_code)
{
	ASN1_ENUMERATED *e;

	if (reason_code <= 0 || reason_code > 10)
		return 1; /* RFC 5280: the reason extension is omitted for unspecified */
	if (!c->reasons[reason_code]) {
		if (!(e = ASN1_ENUMERATED_new()) || ASN1_ENUMERATED_set(e, reason_code) != 1) {
			ASN1_ENUMERATED_free(e);
			return 0;
		}
		c->reasons[reason_code] = X509V3_EXT_i2d(NID_crl_reason, 0, e);
		ASN1_ENUMERATED_free(e);
		if (!c->reasons[reason_code])
			return 0;
	}
	return X509_REVOKED_add_ext(rev, c->reasons[reason_code], -1) == 1;
}

/* A positive INTEGER straight from hex digits, without a BIGNUM. */
static ASN1_INTEGER *serial_from_hex(const char *hex)
{
	unsigned char bytes[20];
	size_t len = strlen(hex), n = (len + 1) / 2, i;
	ASN1_INTEGER *serial;

	if (len == 0 || n > sizeof(bytes))
		return NULL;
	for (i = 0; i < n; i++) {
		int hi = i == 0 && len % 2 ? 0 : OPENSSL_hexchar2int((unsigned char)*hex++);
		int lo = OPENSSL_hexchar2int((unsigned char)*hex++);
		if (hi < 0 || lo < 0)
			return NULL;
		bytes[i] = (unsigned char)(hi << 4 | lo);
	}
	for (i = 0; i + 1 < n && bytes[i] == 0; i++)
		;
	if (!(serial = ASN1_INTEGER_new()) || ASN1_STRING_set(serial, bytes + i, (int)(n - i)) != 1) {
		ASN1_INTEGER_free(serial);
		return NULL;
	}
	return serial;
}

int capstan_crl_add(capstan_crl *c, capstan_ctx *ctx, const char *serial_hex, time_t revoked_at,
	int reason_code)
{
	X509_REVOKED *rev = X509_REVOKED_new();
	ASN1_INTEGER *serial = serial_from_hex(serial_hex);
	ASN1_TIME *at = ASN1_TIME_set(NULL, revoked_at);
	int ok = rev && at && serial &&
		X509_REVOKED_set_serialNumber(rev, serial) == 1 &&
		X509_REVOKED_set_revocationDate(rev, at) == 1 &&
		set_reason(c, rev, reason_code) && X509_CRL_add0_revoked(c->crl, rev) == 1;

	ASN1_INTEGER_free(serial);
	ASN1_TIME_free(at);
	if (!ok) {
		X509_REVOKED_free(rev);
		return capstan_ossl_error(ctx, CAPSTAN_ERROR, "cannot add serial %s to the CRL", serial_hex);
	}
	return 0;
}

int capstan_crl_sign(capstan_buf *der, capstan_crl *c, capstan_ctx *ctx, const capstan_key *issuer_key)
{
	EVP_MD_CTX *mctx = EVP_MD_CTX_new();
	unsigned char *out = NULL;
	int len = 0, rc;

	if (!mctx || X509_CRL_sort(c->crl) != 1 ||
	    EVP_DigestSignInit_ex(mctx, NULL, capstan_signing_digest(issuer_key), ctx->libctx, NULL,
		    issuer_key->pkey, NULL) != 1 ||
	    X509_CRL_sign_ctx(c->crl, mctx) <= 0 || (len = i2d_X509_CRL(c->crl, &out)) <= 0)
		rc = capstan_ossl_error(ctx, CAPSTAN_ERROR, "cannot sign the CRL");
	else
		rc = capstan_buf_set(ctx, der, out, (size_t)len);
	OPENSSL_free(out);
	EVP_MD_CTX_free(mctx);
	return rc;
}

void capstan_crl_free(capstan_crl *c)
{
	if (!c)
		return;
	X509_CRL_free(c->crl);
	X509_free(c->issuer);
	for (size_t i = 0; i < sizeof(c->reasons) / sizeof(c->reasons[0]); i++)
		X509_EXTENSION_free(c->reasons[i]);
	free(c);
}

int capstan_crl_pem_append(capstan_buf *out, capstan_ctx *ctx, const unsigned char *der, size_t len)
{
	BIO *bio = BIO_new(BIO_s_mem());
	char *data;
	long n;
	int rc;

	/* Armour around the DER as it is: no parsing and encoding a CRL again. */
	if (!bio || PEM_write_bio(bio, PEM_STRING_X509_CRL, "", der, (long)len) <= 0) {
		rc = capstan_ossl_error(ctx, CAPSTAN_ERROR, "cannot write the CRL as PEM");
	} else {
		n = BIO_get_mem_data(bio, &data);
		rc = capstan_buf_append(ctx, out, data, (size_t)n);
	}
	BIO_free(bio);
	return rc;
}
