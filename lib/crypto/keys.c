/* Private keys: generation, policy classification, sealing at rest. */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/kdf.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "base/base.h"
#include "crypto_internal.h"
#include "ossl.h"

#define GCM_NONCE_LEN 12
#define GCM_TAG_LEN 16
static const char seal_aad_label[] = "capstan-key-v1";

int capstan_key_generate(capstan_key **out, capstan_ctx *ctx, capstan_key_type type)
{
	EVP_PKEY_CTX *gen;
	EVP_PKEY *pkey = NULL;

	if ((unsigned)type >= CAPSTAN_KEY__COUNT)
		return capstan_error(ctx, CAPSTAN_EINVALID, "unknown key type %d", (int)type);
	if (!(gen = capstan_ossl_keygen(ctx, type)) || EVP_PKEY_generate(gen, &pkey) != 1)
		return capstan_ossl_error(ctx, CAPSTAN_ERROR, "cannot generate a %s key",
			capstan_key_type_name(type));
	if (capstan_key_wrap(out, ctx, pkey) < 0) {
		EVP_PKEY_free(pkey);
		return capstan_error_last(ctx);
	}
	return 0;
}

/* An exponent of 1 makes the "signature" the padded digest itself, and 3
 * invites forgeries against verifiers with lax padding checks: anyone can
 * sign for such a key. Only odd exponents from 65537 up are taken. */
static int rsa_exponent_check(capstan_ctx *ctx, const EVP_PKEY *pkey)
{
	BIGNUM *e = NULL;
	char *dec = NULL;
	int rc = 0;

	if (EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_RSA_E, &e) != 1)
		return capstan_ossl_error(ctx, CAPSTAN_EINVALID, "cannot read the RSA public exponent");
	if (!BN_is_odd(e) || BN_num_bits(e) <= 16) {
		dec = BN_bn2dec(e);
		rc = capstan_error(ctx, CAPSTAN_EINVALID,
			"RSA public exponent %s is not accepted (it must be odd and at least 65537)", dec ? dec : "?");
	}
	OPENSSL_free(dec);
	BN_free(e);
	return rc;
}

/* The y coordinates of the eight Ed25519 points of order 1, 2, 4 or 8, with
 * the non-canonical encodings of 0 and 1 (y + p): for such a public key
 * [k]A vanishes and a signature verifies without any private key. They are
 * compared with the sign bit (x's parity, bit 255) masked, so all fourteen
 * encodings are caught, as libsodium's blocklist does. */
static const unsigned char ed25519_small_order[][32] = {
	{ 0 },                                                        /* y = 0: order 4 */
	{ 0x01 },                                                     /* y = 1: the identity */
	{ 0x26, 0xe8, 0x95, 0x8f, 0xc2, 0xb2, 0x27, 0xb0, 0x45, 0xc3, 0xf4, 0x89, 0xf2, 0xef, 0x98, 0xf0,
	  0xd5, 0xdf, 0xac, 0x05, 0xd3, 0xc6, 0x33, 0x39, 0xb1, 0x38, 0x02, 0x88, 0x6d, 0x53, 0xfc, 0x05 }, /* order 8 */
	{ 0xc7, 0x17, 0x6a, 0x70, 0x3d, 0x4d, 0xd8, 0x4f, 0xba, 0x3c, 0x0b, 0x76, 0x0d, 0x10, 0x67, 0x0f,
	  0x2a, 0x20, 0x53, 0xfa, 0x2c, 0x39, 0xcc, 0xc6, 0x4e, 0xc7, 0xfd, 0x77, 0x92, 0xac, 0x03, 0x7a }, /* order 8 */
	{ 0xec, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
	  0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f }, /* y = p - 1: order 2 */
	{ 0xed, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
	  0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f }, /* y = p, i.e. 0 */
	{ 0xee, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
	  0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f }, /* y = p + 1, i.e. 1 */
};

static int ed25519_point_check(capstan_ctx *ctx, const EVP_PKEY *pkey)
{
	unsigned char pub[32];
	size_t len = sizeof(pub);

	if (EVP_PKEY_get_raw_public_key(pkey, pub, &len) != 1 || len != sizeof(pub))
		return capstan_ossl_error(ctx, CAPSTAN_EINVALID, "cannot read the Ed25519 public key");
	for (size_t i = 0; i < sizeof(ed25519_small_order) / sizeof(ed25519_small_order[0]); i++)
		if (memcmp(pub, ed25519_small_order[i], 31) == 0 && (pub[31] & 0x7f) == ed25519_small_order[i][31])
			return capstan_error(ctx, CAPSTAN_EINVALID,
				"the Ed25519 public key is a point of small order, for which anyone can sign");
	return 0;
}

int capstan_key_classify(capstan_ctx *ctx, EVP_PKEY *pkey, capstan_key_type *out)
{
	int rc;

	if (EVP_PKEY_is_a(pkey, "EC")) {
		char group[64] = "";
		if (EVP_PKEY_get_group_name(pkey, group, sizeof(group), NULL) != 1)
			return capstan_ossl_error(ctx, CAPSTAN_EINVALID, "EC key without a named curve");
		if (strcmp(group, "prime256v1") == 0 || strcmp(group, "P-256") == 0)
			*out = CAPSTAN_KEY_EC_P256;
		else if (strcmp(group, "secp384r1") == 0 || strcmp(group, "P-384") == 0)
			*out = CAPSTAN_KEY_EC_P384;
		else
			return capstan_error(ctx, CAPSTAN_EINVALID,
				"EC curve '%s' is not accepted (use P-256 or P-384)", group);
		return 0;
	}
	if (EVP_PKEY_is_a(pkey, "RSA")) {
		int bits = EVP_PKEY_get_bits(pkey);
		if ((rc = rsa_exponent_check(ctx, pkey)) < 0)
			return rc;
		if (bits == 2048)
			*out = CAPSTAN_KEY_RSA_2048;
		else if (bits == 3072)
			*out = CAPSTAN_KEY_RSA_3072;
		else if (bits == 4096)
			*out = CAPSTAN_KEY_RSA_4096;
		else if (bits < 2048)
			return capstan_error(ctx, CAPSTAN_EINVALID,
				"RSA key of %d bits is too weak (at least 2048)", bits);
		else
			return capstan_error(ctx, CAPSTAN_EINVALID,
				"RSA key of %d bits is not accepted (use 2048, 3072 or 4096)", bits);
		return 0;
	}
	if (EVP_PKEY_is_a(pkey, "ED25519")) {
		if ((rc = ed25519_point_check(ctx, pkey)) < 0)
			return rc;
		*out = CAPSTAN_KEY_ED25519;
		return 0;
	}
	return capstan_error(ctx, CAPSTAN_EINVALID, "key algorithm '%s' is not accepted",
		EVP_PKEY_get0_type_name(pkey) ? EVP_PKEY_get0_type_name(pkey) : "unknown");
}

int capstan_key_wrap(capstan_key **out, capstan_ctx *ctx, EVP_PKEY *pkey)
{
	capstan_key *key;
	capstan_key_type type;
	int rc;

	if ((rc = capstan_key_classify(ctx, pkey, &type)) < 0)
		return rc;
	if (!(key = calloc(1, sizeof(*key))))
		return capstan_error_oom(ctx);
	key->pkey = pkey;
	key->type = type;
	*out = key;
	return 0;
}

void capstan_key_free(capstan_key *key)
{
	if (!key)
		return;
	EVP_PKEY_free(key->pkey); /* OpenSSL clears private key material on free */
	free(key->spki);
	free(key);
}

void capstan_key_drop_private(capstan_key *key)
{
	EVP_PKEY_free(key->pkey);
	key->pkey = NULL;
}

capstan_key_type capstan_key_get_type(const capstan_key *key)
{
	return key->type;
}

/* The algorithm identifier and key bits of an EC or Ed25519 key, read as
 * parameters; 0 when the key is of another kind (the caller encodes it). */
static int spki_split(const unsigned char *der, size_t len, const unsigned char **alg, size_t *alg_len,
	const unsigned char **bits, size_t *bits_len);

/* The key's bits out of its cached SubjectPublicKeyInfo, a copy: once the
 * SPKI is made (sealing makes it), asking the provider again is a waste. */
static int spki_bits(const capstan_key *key, unsigned char **bits, size_t *len)
{
	const unsigned char *alg, *p;
	size_t alg_len, p_len;
	long n = 0;
	int tag, xclass;

	if (spki_split(key->spki, key->spki_len, &alg, &alg_len, &p, &p_len) < 0 ||
	    ASN1_get_object(&p, &n, &tag, &xclass, (long)p_len) & 0x80 || n < 2 || !(*bits = OPENSSL_malloc((size_t)n - 1)))
		return -1;
	memcpy(*bits, p + 1, (size_t)n - 1); /* after the unused-bits byte */
	*len = (size_t)n - 1;
	return 0;
}

static int pubkey_parts(capstan_key *key, int *alg_nid, int *param_nid, unsigned char **bits, size_t *len)
{
	size_t n = 0;

	*bits = NULL;
	if (key->spki && (key->type == CAPSTAN_KEY_EC_P256 || key->type == CAPSTAN_KEY_EC_P384 ||
		key->type == CAPSTAN_KEY_ED25519)) {
		*alg_nid = key->type == CAPSTAN_KEY_ED25519 ? NID_ED25519 : NID_X9_62_id_ecPublicKey;
		*param_nid = key->type == CAPSTAN_KEY_EC_P256 ? NID_X9_62_prime256v1 :
			key->type == CAPSTAN_KEY_EC_P384 ? NID_secp384r1 : NID_undef;
		return spki_bits(key, bits, len) < 0 ? -1 : 1;
	}
	if (key->type == CAPSTAN_KEY_EC_P256 || key->type == CAPSTAN_KEY_EC_P384) {
		*alg_nid = NID_X9_62_id_ecPublicKey;
		*param_nid = key->type == CAPSTAN_KEY_EC_P256 ? NID_X9_62_prime256v1 : NID_secp384r1;
		if (EVP_PKEY_get_octet_string_param(key->pkey, OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, NULL, 0, &n) != 1 ||
		    !(*bits = OPENSSL_malloc(n)) ||
		    EVP_PKEY_get_octet_string_param(key->pkey, OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, *bits, n, &n) != 1)
			return -1;
	} else if (key->type == CAPSTAN_KEY_ED25519) {
		*alg_nid = NID_ED25519;
		*param_nid = NID_undef;
		if (EVP_PKEY_get_raw_public_key(key->pkey, NULL, &n) != 1 || !(*bits = OPENSSL_malloc(n)) ||
		    EVP_PKEY_get_raw_public_key(key->pkey, *bits, &n) != 1)
			return -1;
	} else {
		return 0;
	}
	*len = n;
	return 1;
}

/* Fills pub from the key's parts; pub takes the bits. */
static int set_pubkey_parts(X509_PUBKEY *pub, int alg_nid, int param_nid, unsigned char *bits, size_t len)
{
	return X509_PUBKEY_set0_param(pub, OBJ_nid2obj(alg_nid), param_nid == NID_undef ? V_ASN1_UNDEF : V_ASN1_OBJECT,
		param_nid == NID_undef ? NULL : OBJ_nid2obj(param_nid), bits, (int)len) == 1;
}

int capstan_key_spki(capstan_ctx *ctx, capstan_key *key, const unsigned char **der, size_t *len)
{
	X509_PUBKEY *pub = NULL;
	unsigned char *bits = NULL, *out = NULL;
	int alg, param, n = -1, kind;

	if (!key->spki) {
		if ((kind = pubkey_parts(key, &alg, &param, &bits, len)) < 0) {
			OPENSSL_free(bits);
			return capstan_ossl_error(ctx, CAPSTAN_ERROR, "cannot read the public key");
		}
		if (kind == 0)
			n = i2d_PUBKEY(key->pkey, &out); /* RSA: keygen dwarfs the encoder anyway */
		else if ((pub = X509_PUBKEY_new()) && set_pubkey_parts(pub, alg, param, bits, *len))
			bits = NULL, n = i2d_X509_PUBKEY(pub, &out);
		OPENSSL_free(bits);
		X509_PUBKEY_free(pub);
		if (n <= 0 || !(key->spki = malloc((size_t)n))) {
			OPENSSL_free(out);
			return n <= 0 ? capstan_ossl_error(ctx, CAPSTAN_ERROR, "cannot encode the public key") :
				capstan_error_oom(ctx);
		}
		memcpy(key->spki, out, (size_t)n);
		key->spki_len = (size_t)n;
		OPENSSL_free(out);
	}
	*der = key->spki;
	*len = key->spki_len;
	return 0;
}

int capstan_key_set_cert_pubkey(capstan_ctx *ctx, capstan_key *key, X509 *cert)
{
	unsigned char *bits = NULL;
	int alg, param, kind;
	size_t len;

	if ((kind = pubkey_parts(key, &alg, &param, &bits, &len)) == 0 && !key->pkey && key->spki) {
		/* An RSA key whose private part went (capstan_key_drop_private),
		 * certified again (a batch's serial taken meanwhile): from its SPKI. */
		const unsigned char *p = key->spki;
		EVP_PKEY *pub = d2i_PUBKEY(NULL, &p, (long)key->spki_len);
		int ok = pub && X509_set_pubkey(cert, pub) == 1;

		EVP_PKEY_free(pub);
		return ok ? 0 : capstan_ossl_error(ctx, CAPSTAN_ERROR, "cannot set the public key");
	}
	if (kind == 0)
		return X509_set_pubkey(cert, key->pkey) == 1 ? 0 :
			capstan_ossl_error(ctx, CAPSTAN_ERROR, "cannot set the public key");
	if (kind < 0 || !set_pubkey_parts(X509_get_X509_PUBKEY(cert), alg, param, bits, len)) {
		OPENSSL_free(bits);
		return capstan_ossl_error(ctx, CAPSTAN_ERROR, "cannot set the public key");
	}
	return 0;
}

int capstan_key_spki_sha256(capstan_ctx *ctx, const capstan_key *key, unsigned char out[CAPSTAN_SHA256_LEN])
{
	const unsigned char *der;
	size_t len;
	int rc;

	/* The cache is not the key's meaning: filling it is not a change to the key. */
	if ((rc = capstan_key_spki(ctx, (capstan_key *)key, &der, &len)) < 0)
		return rc;
	return capstan_sha256(ctx, der, len, out);
}

static void seal_aad(unsigned char aad[sizeof(seal_aad_label) + CAPSTAN_SHA256_LEN], const unsigned char spki[CAPSTAN_SHA256_LEN])
{
	memcpy(aad, seal_aad_label, sizeof(seal_aad_label));
	memcpy(aad + sizeof(seal_aad_label), spki, CAPSTAN_SHA256_LEN);
}

/* A DER header (tag, definite length) at p; its size. Lengths here are < 64 KiB. */
static size_t der_header(unsigned char *p, unsigned char tag, size_t len)
{
	p[0] = tag;
	if (len < 0x80)
		return p[1] = (unsigned char)len, 2;
	if (len < 0x100)
		return p[1] = 0x81, p[2] = (unsigned char)len, 3;
	p[1] = 0x82, p[2] = (unsigned char)(len >> 8), p[3] = (unsigned char)len;
	return 4;
}

/* Splits a DER SubjectPublicKeyInfo into its AlgorithmIdentifier and its
 * subjectPublicKey BIT STRING, each a whole element (header included). */
static int spki_split(const unsigned char *der, size_t len, const unsigned char **alg, size_t *alg_len,
	const unsigned char **bits, size_t *bits_len)
{
	const unsigned char *p = der, *q;
	long n;
	int tag, xclass;

	if (ASN1_get_object(&p, &n, &tag, &xclass, (long)len) & 0x80 || tag != V_ASN1_SEQUENCE)
		return -1;
	q = p;
	if (ASN1_get_object(&p, &n, &tag, &xclass, (long)(der + len - p)) & 0x80 || tag != V_ASN1_SEQUENCE)
		return -1;
	*alg = q, *alg_len = (size_t)(p + n - q);
	q = p += n;
	if (ASN1_get_object(&p, &n, &tag, &xclass, (long)(der + len - p)) & 0x80 || tag != V_ASN1_BIT_STRING ||
	    p + n != der + len)
		return -1;
	*bits = q, *bits_len = (size_t)(p + n - q);
	return 0;
}

int capstan_key_skid(capstan_ctx *ctx, capstan_key *key, unsigned char out[20])
{
	const unsigned char *spki, *alg, *bits;
	size_t spki_len, alg_len, bits_len;
	EVP_MD *sha1 = capstan_ossl_md(ctx, "SHA1");
	long n = 0;
	int rc, tag, xclass;

	if ((rc = capstan_key_spki(ctx, key, &spki, &spki_len)) < 0)
		return rc;
	/* The BIT STRING's contents: the unused-bits byte, then the key's bits. */
	if (spki_split(spki, spki_len, &alg, &alg_len, &bits, &bits_len) < 0 ||
	    ASN1_get_object(&bits, &n, &tag, &xclass, (long)bits_len) & 0x80 || n < 1 || !sha1 ||
	    EVP_Digest(bits + 1, (size_t)n - 1, out, NULL, sha1, NULL) != 1)
		return capstan_ossl_error(ctx, CAPSTAN_ERROR, "cannot compute the key identifier");
	return 0;
}

/* The private part: an EC key's scalar, padded to the order's length, or
 * Ed25519's 32 bytes. */
static int private_bytes(const capstan_key *key, unsigned char *out, size_t *len)
{
	BIGNUM *priv = NULL;
	int ok;

	if (key->type == CAPSTAN_KEY_ED25519) {
		*len = 32;
		return EVP_PKEY_get_raw_private_key(key->pkey, out, len) == 1 && *len == 32 ? 0 : -1;
	}
	*len = key->type == CAPSTAN_KEY_EC_P256 ? 32 : 48;
	ok = EVP_PKEY_get_bn_param(key->pkey, OSSL_PKEY_PARAM_PRIV_KEY, &priv) == 1 &&
		BN_bn2binpad(priv, out, (int)*len) == (int)*len;
	BN_clear_free(priv);
	return ok ? 0 : -1;
}

/*
 * PKCS8 PrivateKeyInfo of an EC or Ed25519 key, the bytes OpenSSL writes
 * (RFC 5915 ECPrivateKey with the public key and without parameters; RFC 8410
 * CurvePrivateKey), built from the key's SubjectPublicKeyInfo and private
 * bytes: EVP_PKEY2PKCS8 goes through OpenSSL 3.0's encoder lookup, ~100 us a
 * key, a fifth of a batch's time. Other keys: 1, the caller uses OpenSSL.
 */
int capstan_key_pkcs8_der(capstan_ctx *ctx, const capstan_key *key, unsigned char *out, size_t cap, size_t *len)
{
	static const unsigned char version0[] = { 0x02, 0x01, 0x00 }, version1[] = { 0x02, 0x01, 0x01 };
	unsigned char inner[256], priv[48];
	const unsigned char *spki, *alg, *bits;
	size_t spki_len, alg_len, bits_len, priv_len, n = 0, body;
	int ed = key->type == CAPSTAN_KEY_ED25519, rc = 0;

	if (!ed && key->type != CAPSTAN_KEY_EC_P256 && key->type != CAPSTAN_KEY_EC_P384)
		return 1;
	if ((rc = capstan_key_spki(ctx, (capstan_key *)key, &spki, &spki_len)) < 0)
		return rc;
	if (spki_split(spki, spki_len, &alg, &alg_len, &bits, &bits_len) < 0 || private_bytes(key, priv, &priv_len) < 0 ||
	    priv_len > sizeof(priv) || bits_len > 120) {
		rc = capstan_ossl_error(ctx, CAPSTAN_ERROR, "cannot encode the private key");
		goto done;
	}
	if (ed) {
		n = der_header(inner, V_ASN1_OCTET_STRING, priv_len);
	} else {
		body = sizeof(version1) + 2 + priv_len + 2 + bits_len;
		n = der_header(inner, V_ASN1_SEQUENCE | V_ASN1_CONSTRUCTED, body);
		memcpy(inner + n, version1, sizeof(version1)), n += sizeof(version1);
		n += der_header(inner + n, V_ASN1_OCTET_STRING, priv_len);
	}
	memcpy(inner + n, priv, priv_len), n += priv_len;
	if (!ed) {
		n += der_header(inner + n, 0xa1, bits_len);
		memcpy(inner + n, bits, bits_len), n += bits_len;
	}
	body = sizeof(version0) + alg_len + (n < 0x80 ? 2 : 3) + n;
	if (body + 4 > cap) {
		rc = capstan_error(ctx, CAPSTAN_ERROR, "the private key does not fit");
		goto done;
	}
	*len = der_header(out, V_ASN1_SEQUENCE | V_ASN1_CONSTRUCTED, body);
	memcpy(out + *len, version0, sizeof(version0)), *len += sizeof(version0);
	memcpy(out + *len, alg, alg_len), *len += alg_len;
	*len += der_header(out + *len, V_ASN1_OCTET_STRING, n);
	memcpy(out + *len, inner, n), *len += n;
done:
	capstan_wipe(inner, sizeof(inner));
	capstan_wipe(priv, sizeof(priv));
	return rc;
}

int capstan_key_seal(capstan_buf *out, capstan_ctx *ctx, const capstan_key *key)
{
	PKCS8_PRIV_KEY_INFO *p8 = NULL;
	unsigned char *der = NULL, spki[CAPSTAN_SHA256_LEN], aad[sizeof(seal_aad_label) + CAPSTAN_SHA256_LEN], small[300];
	size_t n = 0;
	int len = 0, rc;

	if ((rc = capstan_require_unlocked(ctx)) < 0)
		return rc;
	if ((rc = capstan_key_spki_sha256(ctx, key, spki)) < 0)
		return rc;
	seal_aad(aad, spki);
	if ((rc = capstan_key_pkcs8_der(ctx, key, small, sizeof(small), &n)) <= 0) {
		if (rc == 0)
			rc = capstan_aead_seal(out, ctx, ctx->kek, aad, sizeof(aad), small, n);
		capstan_wipe(small, sizeof(small));
		return rc;
	}
	if (!(p8 = EVP_PKEY2PKCS8(key->pkey)) || (len = i2d_PKCS8_PRIV_KEY_INFO(p8, &der)) <= 0) {
		rc = capstan_ossl_error(ctx, CAPSTAN_ERROR, "cannot encode the private key");
		goto done;
	}
	rc = capstan_aead_seal(out, ctx, ctx->kek, aad, sizeof(aad), der, (size_t)len);
done:
	if (der)
		OPENSSL_clear_free(der, (size_t)len);
	PKCS8_PRIV_KEY_INFO_free(p8);
	return rc;
}

int capstan_key_unseal(capstan_key **out, capstan_ctx *ctx, const unsigned char *blob,
	size_t len, const unsigned char spki_sha256[CAPSTAN_SHA256_LEN])
{
	capstan_buf plain = CAPSTAN_BUF_INIT;
	PKCS8_PRIV_KEY_INFO *p8 = NULL;
	EVP_PKEY *pkey = NULL;
	unsigned char aad[sizeof(seal_aad_label) + CAPSTAN_SHA256_LEN], spki[CAPSTAN_SHA256_LEN];
	const unsigned char *p;
	int rc;

	if ((rc = capstan_require_unlocked(ctx)) < 0)
		return rc;
	seal_aad(aad, spki_sha256);
	if ((rc = capstan_aead_open(&plain, ctx, ctx->kek, aad, sizeof(aad), blob, len)) < 0) {
		rc = capstan_error(ctx, CAPSTAN_EAUTH,
			"a stored private key does not open with this passphrase (or was tampered with)");
		goto done;
	}
	p = plain.data;
	if (!(p8 = d2i_PKCS8_PRIV_KEY_INFO(NULL, &p, (long)plain.len)) ||
	    !(pkey = EVP_PKCS82PKEY_ex(p8, ctx->libctx, NULL))) {
		rc = capstan_ossl_error(ctx, CAPSTAN_ERROR, "a stored private key cannot be decoded");
		goto done;
	}
	if ((rc = capstan_key_wrap(out, ctx, pkey)) < 0)
		goto done;
	pkey = NULL;
	if ((rc = capstan_key_spki_sha256(ctx, *out, spki)) < 0 || memcmp(spki, spki_sha256, CAPSTAN_SHA256_LEN) != 0) {
		capstan_key_free(*out);
		*out = NULL;
		if (rc == 0)
			rc = capstan_error(ctx, CAPSTAN_EAUTH, "a stored private key does not match its record");
	}
done:
	EVP_PKEY_free(pkey);
	PKCS8_PRIV_KEY_INFO_free(p8);
	capstan_buf_free(&plain);
	return rc;
}

int capstan_key_unseal_pem(capstan_buf *out, capstan_ctx *ctx, const unsigned char *blob, size_t len,
	const unsigned char spki_sha256[CAPSTAN_SHA256_LEN])
{
	capstan_buf plain = CAPSTAN_BUF_INIT;
	unsigned char aad[sizeof(seal_aad_label) + CAPSTAN_SHA256_LEN];
	BIO *bio = NULL;
	char *data;
	long n;
	int rc;

	if ((rc = capstan_require_unlocked(ctx)) < 0)
		return rc;
	seal_aad(aad, spki_sha256);
	if (capstan_aead_open(&plain, ctx, ctx->kek, aad, sizeof(aad), blob, len) < 0)
		return capstan_error(ctx, CAPSTAN_EAUTH,
			"a stored private key does not open with this passphrase (or was tampered with)");
	/* What was sealed is the PKCS8 DER PEM carries: base64 around it. */
	if (plain.len > LONG_MAX || !(bio = BIO_new(BIO_s_secmem())) ||
	    PEM_write_bio(bio, PEM_STRING_PKCS8INF, "", plain.data, (long)plain.len) <= 0) {
		rc = capstan_ossl_error(ctx, CAPSTAN_ERROR, "cannot write the private key as PKCS8");
	} else {
		n = BIO_get_mem_data(bio, &data);
		rc = capstan_buf_append(ctx, out, data, (size_t)n);
	}
	BIO_free(bio);
	capstan_buf_free(&plain);
	return rc;
}

int capstan_key_pkcs8_pem(capstan_buf *out, capstan_ctx *ctx, const capstan_key *key)
{
	BIO *bio = BIO_new(BIO_s_secmem());
	char *data;
	long len;
	int rc = 0;

	if (!bio || PEM_write_bio_PrivateKey_ex(bio, key->pkey, NULL, NULL, 0, NULL, NULL,
		    ctx->libctx, NULL) != 1) {
		rc = capstan_ossl_error(ctx, CAPSTAN_ERROR, "cannot write the private key as PKCS8");
		goto done;
	}
	len = BIO_get_mem_data(bio, &data);
	rc = capstan_buf_set(ctx, out, data, (size_t)len);
done:
	BIO_free(bio); /* a secmem BIO clears its buffer */
	return rc;
}

int capstan_kek_derive(capstan_ctx *ctx, unsigned char kek[CAPSTAN_KEK_LEN], const capstan_secret *pass,
	const unsigned char *salt, size_t salt_len, uint64_t n, uint32_t r, uint32_t p)
{
	EVP_KDF *kdf = EVP_KDF_fetch(ctx->libctx, "SCRYPT", NULL);
	EVP_KDF_CTX *kctx = kdf ? EVP_KDF_CTX_new(kdf) : NULL;
	OSSL_PARAM params[6];
	int rc = 0;

	params[0] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_PASSWORD, pass->data, pass->len);
	params[1] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, (void *)salt, salt_len);
	params[2] = OSSL_PARAM_construct_uint64(OSSL_KDF_PARAM_SCRYPT_N, &n);
	params[3] = OSSL_PARAM_construct_uint32(OSSL_KDF_PARAM_SCRYPT_R, &r);
	params[4] = OSSL_PARAM_construct_uint32(OSSL_KDF_PARAM_SCRYPT_P, &p);
	params[5] = OSSL_PARAM_construct_end();
	if (!kctx || EVP_KDF_derive(kctx, kek, CAPSTAN_KEK_LEN, params) != 1)
		rc = capstan_ossl_error(ctx, CAPSTAN_ERROR, "cannot derive the key-encryption key");
	EVP_KDF_CTX_free(kctx);
	EVP_KDF_free(kdf);
	return rc;
}

static int aead(capstan_ctx *ctx, int encrypt, EVP_CIPHER_CTX **cctx, const unsigned char key[CAPSTAN_KEK_LEN],
	const unsigned char nonce[GCM_NONCE_LEN], const void *aad, size_t aad_len)
{
	EVP_CIPHER *cipher = capstan_ossl_gcm(ctx);
	int outl, ok;

	*cctx = EVP_CIPHER_CTX_new();
	ok = cipher && *cctx &&
		EVP_CipherInit_ex2(*cctx, cipher, key, nonce, encrypt, NULL) == 1 &&
		EVP_CipherUpdate(*cctx, NULL, &outl, aad, (int)aad_len) == 1;
	return ok ? 0 : capstan_ossl_error(ctx, CAPSTAN_ERROR, "cannot set up AES-256-GCM");
}

int capstan_aead_seal(capstan_buf *out, capstan_ctx *ctx, const unsigned char key[CAPSTAN_KEK_LEN],
	const void *aad, size_t aad_len, const void *plain, size_t plain_len)
{
	EVP_CIPHER_CTX *cctx = NULL;
	unsigned char *buf;
	size_t total = GCM_NONCE_LEN + plain_len + GCM_TAG_LEN;
	int outl = 0, finl = 0, rc;

	if (plain_len > INT32_MAX || !(buf = malloc(total + 1)))
		return capstan_error_oom(ctx);
	buf[total] = '\0';
	if ((rc = capstan_random_bytes(ctx, buf, GCM_NONCE_LEN)) < 0 ||
	    (rc = aead(ctx, 1, &cctx, key, buf, aad, aad_len)) < 0)
		goto fail;
	if (EVP_CipherUpdate(cctx, buf + GCM_NONCE_LEN, &outl, plain, (int)plain_len) != 1 ||
	    EVP_CipherFinal_ex(cctx, buf + GCM_NONCE_LEN + outl, &finl) != 1 ||
	    EVP_CIPHER_CTX_ctrl(cctx, EVP_CTRL_AEAD_GET_TAG, GCM_TAG_LEN,
		    buf + GCM_NONCE_LEN + plain_len) != 1) {
		rc = capstan_ossl_error(ctx, CAPSTAN_ERROR, "cannot encrypt with AES-256-GCM");
		goto fail;
	}
	EVP_CIPHER_CTX_free(cctx);
	out->data = buf;
	out->len = total;
	out->cap = 0;
	return 0;
fail:
	EVP_CIPHER_CTX_free(cctx);
	capstan_wipe(buf, total);
	free(buf);
	return rc;
}

int capstan_aead_open(capstan_buf *out, capstan_ctx *ctx, const unsigned char key[CAPSTAN_KEK_LEN],
	const void *aad, size_t aad_len, const unsigned char *sealed, size_t sealed_len)
{
	EVP_CIPHER_CTX *cctx = NULL;
	unsigned char *buf;
	size_t plain_len;
	int outl = 0, finl = 0, rc;

	if (sealed_len < GCM_NONCE_LEN + GCM_TAG_LEN || sealed_len > INT32_MAX)
		return capstan_error(ctx, CAPSTAN_EAUTH, "sealed data is truncated");
	plain_len = sealed_len - GCM_NONCE_LEN - GCM_TAG_LEN;
	if (!(buf = malloc(plain_len + 1)))
		return capstan_error_oom(ctx);
	if ((rc = aead(ctx, 0, &cctx, key, sealed, aad, aad_len)) < 0)
		goto fail;
	if (EVP_CipherUpdate(cctx, buf, &outl, sealed + GCM_NONCE_LEN, (int)plain_len) != 1 ||
	    EVP_CIPHER_CTX_ctrl(cctx, EVP_CTRL_AEAD_SET_TAG, GCM_TAG_LEN,
		    (void *)(sealed + GCM_NONCE_LEN + plain_len)) != 1 ||
	    EVP_CipherFinal_ex(cctx, buf + outl, &finl) != 1) {
		ERR_clear_error();
		rc = capstan_error(ctx, CAPSTAN_EAUTH, "authentication failed (wrong key or tampered data)");
		goto fail;
	}
	EVP_CIPHER_CTX_free(cctx);
	buf[plain_len] = '\0';
	out->data = buf;
	out->len = plain_len;
	out->cap = 0;
	return 0;
fail:
	EVP_CIPHER_CTX_free(cctx);
	capstan_wipe(buf, plain_len + 1);
	free(buf);
	return rc;
}
