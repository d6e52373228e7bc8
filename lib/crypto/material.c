/* Output material: building it, and writing it in each format. */
#include <stdlib.h>
#include <string.h>

#include <openssl/pem.h>
#include <openssl/x509.h>

#include <capstan/convert.h>

#include "base/base.h"
#include "crypto_internal.h"
#include "ossl.h"
#include "x509.h"

void capstan_material_free(capstan_material *m)
{
	if (!m)
		return;
	sk_X509_pop_free(m->chain, X509_free);
	sk_X509_pop_free(m->trust, X509_free);
	EVP_PKEY_free(m->key);
	free(m->alias);
	free(m);
}

static int push_ders(capstan_ctx *ctx, STACK_OF(X509) *stack, const capstan_der *ders, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		X509 *cert = NULL;
		int rc = capstan_x509_from_der(ctx, &cert, ders[i].der, ders[i].len);
		if (rc < 0)
			return rc;
		if (!sk_X509_push(stack, cert)) {
			X509_free(cert);
			return capstan_error_oom(ctx);
		}
	}
	return 0;
}

int capstan_material_new(capstan_material **out, capstan_ctx *ctx, const capstan_der *chain, size_t nchain,
	const capstan_der *trust, size_t ntrust, capstan_key *key, const char *alias)
{
	capstan_material *m = calloc(1, sizeof(*m));
	int rc;

	if (!m || !(m->chain = sk_X509_new_null()) || !(m->trust = sk_X509_new_null()) ||
	    !(m->alias = strdup(alias ? alias : "key"))) {
		rc = capstan_error_oom(ctx);
		goto fail;
	}
	if ((rc = push_ders(ctx, m->chain, chain, nchain)) < 0 || (rc = push_ders(ctx, m->trust, trust, ntrust)) < 0)
		goto fail;
	if (key) {
		m->key = key->pkey;
		key->pkey = NULL;
		capstan_key_free(key);
	}
	*out = m;
	return 0;
fail:
	capstan_key_free(key);
	capstan_material_free(m);
	return rc;
}

/* Appends the PEM of the chain's first `count` certificates. */
static int chain_pem(capstan_buf *out, capstan_ctx *ctx, const STACK_OF(X509) *chain, int count)
{
	for (int i = 0; i < count; i++) {
		unsigned char *der = NULL;
		int len = i2d_X509(sk_X509_value(chain, i), &der), rc;
		if (len <= 0)
			return capstan_ossl_error(ctx, CAPSTAN_ERROR, "cannot encode a certificate");
		rc = capstan_x509_pem_append(out, ctx, der, (size_t)len);
		OPENSSL_free(der);
		if (rc < 0)
			return rc;
	}
	return 0;
}

/* The leaf and its intermediates: the chain without a root at its end. */
static int chain_without_root(const STACK_OF(X509) *chain)
{
	int n = sk_X509_num(chain);

	if (n > 1 && X509_self_signed(sk_X509_value(chain, n - 1), 0) == 1)
		n--;
	return n;
}

static int key_pem(capstan_buf *out, capstan_ctx *ctx, EVP_PKEY *key)
{
	BIO *bio = BIO_new(BIO_s_secmem());
	char *data;
	long len;
	int rc;

	if (!bio || PEM_write_bio_PrivateKey_ex(bio, key, NULL, NULL, 0, NULL, NULL, ctx->libctx, NULL) != 1) {
		rc = capstan_ossl_error(ctx, CAPSTAN_ERROR, "cannot write the private key as PKCS8");
	} else {
		len = BIO_get_mem_data(bio, &data);
		rc = capstan_buf_append(ctx, out, data, (size_t)len);
	}
	BIO_free(bio);
	return rc;
}

static int leaf_der(capstan_buf *out, capstan_ctx *ctx, const STACK_OF(X509) *chain)
{
	unsigned char *der = NULL;
	int len = i2d_X509(sk_X509_value(chain, 0), &der), rc;

	if (len <= 0)
		return capstan_ossl_error(ctx, CAPSTAN_ERROR, "cannot encode the certificate");
	rc = capstan_buf_set(ctx, out, der, (size_t)len);
	OPENSSL_free(der);
	return rc;
}

/* Bytes of the UTF-8 sequence at p (1-4), or 0 when it is not one. */
static size_t utf8_len(const unsigned char *p)
{
	size_t n = *p < 0x80 ? 1 : (*p & 0xe0) == 0xc0 && *p >= 0xc2 ? 2 : (*p & 0xf0) == 0xe0 ? 3 :
		(*p & 0xf8) == 0xf0 && *p <= 0xf4 ? 4 : 0;

	for (size_t i = 1; i < n; i++)
		if ((p[i] & 0xc0) != 0x80)
			return 0;
	return n;
}

/* A keystore alias as every reader takes it, refused rather than cut or
 * mangled: 1 to 255 bytes of UTF-8 without control characters (a PKCS12
 * friendlyName is a BMPString); for JKS, ASCII only: Java lower-cases a JKS
 * alias with its own rules, which capstan mirrors for ASCII, and writes
 * modified UTF-8. */
static int check_alias(capstan_ctx *ctx, const char *alias, int jks)
{
	const unsigned char *p = (const unsigned char *)alias;
	size_t len = strlen(alias), n;

	if (len == 0 || len > 255)
		return capstan_error_at(ctx, CAPSTAN_EINVALID, CAPSTAN_FIELD_ALIAS,
			"invalid alias: it needs 1 to 255 bytes, not %zu", len);
	for (; *p; p += n) {
		if (!(n = utf8_len(p)) || *p < 0x20 || *p == 0x7f || (jks && n > 1))
			return capstan_error_at(ctx, CAPSTAN_EINVALID, CAPSTAN_FIELD_ALIAS,
				"invalid alias '%s': %s (byte 0x%02x at %zu)", alias,
				jks ? "a JKS alias is printable ASCII" : "control characters and bytes that are not UTF-8"
				" are refused", *p, (size_t)(p - (const unsigned char *)alias));
	}
	return 0;
}

/* What the format needs and the material lacks, said before anything is written. */
static int check_writable(capstan_ctx *ctx, const capstan_material *m, capstan_format fmt,
	const capstan_write_opts *o)
{
	const char *name = capstan_format_name(fmt);
	int rc;

	if (o->alias && (rc = check_alias(ctx, o->alias, fmt == CAPSTAN_FORMAT_JKS ||
						  fmt == CAPSTAN_FORMAT_JKS_TRUSTSTORE)) < 0)
		return rc;
	if (capstan_format_has_key(fmt) && !m->key)
		return capstan_error(ctx, CAPSTAN_EINVALID, "format %s needs a private key, and none was given", name);
	if (capstan_format_is_truststore(fmt) ? sk_X509_num(m->trust) == 0 :
	    fmt != CAPSTAN_FORMAT_KEY && fmt != CAPSTAN_FORMAT_PKCS8_ENC && sk_X509_num(m->chain) == 0)
		return capstan_error(ctx, CAPSTAN_EINVALID, "format %s needs a certificate, and none was given", name);
	if (capstan_format_needs_password(fmt)) {
		if (!o->password || !o->password->data)
			return capstan_error_at(ctx, CAPSTAN_EAUTH, CAPSTAN_FIELD_PASSWORD,
				"format %s needs a store password", name);
		if (o->password->len < CAPSTAN_MIN_STORE_PASSWORD)
			return capstan_error_at(ctx, CAPSTAN_EINVALID, CAPSTAN_FIELD_PASSWORD,
				"the store password is too short: at least %d characters (keytool's rule)",
				CAPSTAN_MIN_STORE_PASSWORD);
	}
	if (o->legacy && fmt != CAPSTAN_FORMAT_PKCS12 && fmt != CAPSTAN_FORMAT_TRUSTSTORE)
		return capstan_error_at(ctx, CAPSTAN_EINVALID, CAPSTAN_FIELD_LEGACY,
			"legacy encryption is for PKCS12 (pkcs12, truststore) only");
	return 0;
}

int capstan_material_write(capstan_buf *out, capstan_ctx *ctx, const capstan_material *m,
	capstan_format fmt, const capstan_write_opts *o)
{
	const char *alias;
	int rc;

	if ((rc = CAPSTAN_OPTS_CHECK(ctx, o, CAPSTAN_WRITE_OPTS_VERSION, "capstan_write_opts")) < 0)
		return rc;
	alias = o->alias ? o->alias : m->alias;
	if ((rc = check_writable(ctx, m, fmt, o)) < 0)
		return rc;
	switch (fmt) {
	case CAPSTAN_FORMAT_CERT: rc = chain_pem(out, ctx, m->chain, 1); break;
	case CAPSTAN_FORMAT_CHAIN: rc = chain_pem(out, ctx, m->chain, chain_without_root(m->chain)); break;
	case CAPSTAN_FORMAT_DER: rc = leaf_der(out, ctx, m->chain); break;
	case CAPSTAN_FORMAT_KEY: rc = key_pem(out, ctx, m->key); break;
	case CAPSTAN_FORMAT_PKCS8_ENC: rc = capstan_pkcs8_encrypt_pem(out, ctx, m->key, o->password); break;
	case CAPSTAN_FORMAT_PEM:
		if ((rc = chain_pem(out, ctx, m->chain, chain_without_root(m->chain))) == 0)
			rc = key_pem(out, ctx, m->key);
		break;
	case CAPSTAN_FORMAT_PKCS12:
	case CAPSTAN_FORMAT_TRUSTSTORE:
		rc = capstan_pkcs12_write(out, ctx, m, fmt == CAPSTAN_FORMAT_TRUSTSTORE, alias, o->password, o->legacy);
		break;
	case CAPSTAN_FORMAT_JKS:
	case CAPSTAN_FORMAT_JKS_TRUSTSTORE:
		rc = capstan_jks_write(out, ctx, m, fmt == CAPSTAN_FORMAT_JKS_TRUSTSTORE, alias, o->password);
		break;
	default:
		rc = capstan_error(ctx, CAPSTAN_EINVALID, "unknown format");
	}
	if (rc < 0)
		capstan_buf_free(out);
	return rc;
}
