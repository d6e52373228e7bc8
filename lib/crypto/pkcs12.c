/* PKCS12 keystores and truststores that Java loads, and reading PKCS12 input. */
#include <stdio.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/pkcs12.h>
#include <openssl/x509.h>

#include "base/base.h"
#include "crypto_internal.h"
#include "mac.h"
#include "ossl.h"

/* PBKDF2 iterations (modern) and PKCS12-KDF iterations (legacy), and the MAC's.
 * Java's keytool writes 10,000; this is stronger and still loads in well
 * under a second. */
#define P12_ITERATIONS 100000

/* Java takes a certificate bag as a trustedCertEntry only when the bag carries
 * Oracle's trusted-key-usage attribute (value: anyExtendedKeyUsage). */
#define ORACLE_TRUSTED_KEY_USAGE "2.16.840.1.113894.746875.1.1"
#define ANY_EXTENDED_KEY_USAGE "2.5.29.37.0"

typedef struct {
	int pbes2;      /* key_nid and cert_nid name PBES2 ciphers, not PKCS12 PBEs */
	int key_nid;    /* shrouded key bag */
	int cert_nid;   /* encrypted certificate safe */
	const char *mac_md;
} p12_protection;

static const p12_protection modern = { 1, NID_aes_256_cbc, NID_aes_256_cbc, "SHA2-256" };
/* Java 8 before 8u301: 3DES needs no legacy provider; RC2 would. */
static const p12_protection legacy = {
	0, NID_pbe_WithSHA1And3_Key_TripleDES_CBC, NID_pbe_WithSHA1And3_Key_TripleDES_CBC, "SHA1"
};

/* Salt lengths: 16 for PBES2 (what OpenSSL 3.2 and later choose), 8 for the
 * PKCS12 PBEs and the MAC (OpenSSL's PKCS5_SALT_LEN and PKCS12_SALT_LEN). */
#define PBES2_SALT_LEN 16
#define LEGACY_SALT_LEN 8
#define MAC_SALT_LEN 8

/*
 * Salts and IVs are derived, not random, so that the same material written
 * twice with the same password is the same bytes: a bundle holding a keystore
 * then keeps its ETag, and a deploy host's fetch sees it unchanged.
 *
 * Each is HMAC-SHA-256 over a label naming its use and the DER it protects
 * (the key's PKCS8, the certificate bags, the authsafe), so it repeats only
 * when the password and the protected content both repeat, and the repeated
 * ciphertext then says only "unchanged", which the ETag says anyway.
 *
 * The HMAC is not keyed by the password itself: the certificate bags are
 * public and the authsafe is in the file, so a salt of HMAC(password, ...)
 * would let anyone test a guessed password with one HMAC, going around the
 * iteration count. It is keyed by a seed, PBKDF2 of the password with as many
 * iterations as the file's own KDFs and the certificate bags as PBKDF2 salt:
 * a guess tested through a salt costs what one tested on the file does.
 */
typedef struct {
	unsigned char seed[CAPSTAN_SHA256_LEN];
	const char *pass;
	const p12_protection *prot;
} p12_writer;

static int derive(capstan_ctx *ctx, const p12_writer *w, const char *label, const unsigned char *der,
	size_t len, unsigned char *out, size_t out_len)
{
	return capstan_hmac_label(ctx, w->seed, sizeof(w->seed), label, der, len, out, out_len);
}

/* The algorithm (with derived salt and IV) that encrypts der under the
 * protection's nid; WHAT names the use in the labels ("key", "certs"). */
static X509_ALGOR *make_pbe(capstan_ctx *ctx, const p12_writer *w, int nid, const char *what,
	const unsigned char *der, size_t len)
{
	unsigned char salt[PBES2_SALT_LEN], iv[EVP_MAX_IV_LENGTH];
	char salt_label[64], iv_label[64];
	EVP_CIPHER *cipher = NULL;
	X509_ALGOR *alg = NULL;
	int ivlen;

	snprintf(salt_label, sizeof(salt_label), "capstan p12 %s salt", what);
	snprintf(iv_label, sizeof(iv_label), "capstan p12 %s iv", what);
	if (!w->prot->pbes2) {
		if (derive(ctx, w, salt_label, der, len, salt, LEGACY_SALT_LEN) == 0 &&
		    !(alg = PKCS5_pbe_set_ex(nid, P12_ITERATIONS, salt, LEGACY_SALT_LEN, ctx->libctx)))
			capstan_ossl_error(ctx, CAPSTAN_ERROR, "cannot set up the PKCS12 encryption");
		return alg;
	}
	if (!(cipher = EVP_CIPHER_fetch(ctx->libctx, OBJ_nid2sn(nid), NULL)) ||
	    (ivlen = EVP_CIPHER_get_iv_length(cipher)) < 0 || ivlen > (int)sizeof(iv)) {
		capstan_ossl_error(ctx, CAPSTAN_ERROR, "cannot set up the PKCS12 encryption");
	} else if (derive(ctx, w, salt_label, der, len, salt, PBES2_SALT_LEN) == 0 &&
		   derive(ctx, w, iv_label, der, len, iv, (size_t)ivlen) == 0) {
		/* prf -1: OpenSSL's default, HMAC-SHA-256, as PKCS12_add_key_ex used. */
		alg = PKCS5_pbe2_set_iv_ex(cipher, P12_ITERATIONS, salt, PBES2_SALT_LEN, iv, -1, ctx->libctx);
		if (!alg)
			capstan_ossl_error(ctx, CAPSTAN_ERROR, "cannot set up the PKCS12 encryption");
	}
	EVP_CIPHER_free(cipher);
	return alg;
}

static int add_cert_bag(capstan_ctx *ctx, STACK_OF(PKCS12_SAFEBAG) **bags, X509 *cert, const char *alias,
	const unsigned char *keyid, int trusted)
{
	PKCS12_SAFEBAG *bag = PKCS12_add_cert(bags, cert);
	ASN1_OBJECT *any_eku = NULL;
	int ok = bag != NULL;

	if (ok && alias)
		ok = PKCS12_add_friendlyname_utf8(bag, alias, -1) == 1;
	if (ok && keyid)
		ok = PKCS12_add_localkeyid(bag, (unsigned char *)keyid, 20) == 1;
	if (ok && trusted) {
		/* len -1: the value is the ASN1_OBJECT itself, as openssl 3.2's -jdktrust does. */
		ok = (any_eku = OBJ_txt2obj(ANY_EXTENDED_KEY_USAGE, 1)) != NULL &&
			PKCS12_add1_attr_by_txt(bag, ORACLE_TRUSTED_KEY_USAGE, V_ASN1_OBJECT,
				(const unsigned char *)any_eku, -1) == 1;
	}
	ASN1_OBJECT_free(any_eku);
	return ok ? 0 : capstan_ossl_error(ctx, CAPSTAN_ERROR, "cannot add a certificate to the PKCS12");
}

/* The key's bag, shrouded (encrypted) with the store password: what
 * PKCS12_add_key_ex does, with the salt and IV derived from the key. */
static int add_key_safe(capstan_ctx *ctx, STACK_OF(PKCS7) **safes, EVP_PKEY *key, const char *alias,
	const unsigned char *keyid, const p12_writer *w)
{
	PKCS8_PRIV_KEY_INFO *p8 = EVP_PKEY2PKCS8(key);
	STACK_OF(PKCS12_SAFEBAG) *bags = sk_PKCS12_SAFEBAG_new_null();
	unsigned char *der = NULL;
	int len = p8 ? i2d_PKCS8_PRIV_KEY_INFO(p8, &der) : -1, ok;
	X509_ALGOR *pbe = len > 0 && bags ? make_pbe(ctx, w, w->prot->key_nid, "key", der, (size_t)len) : NULL;
	X509_SIG *sig = pbe ? PKCS8_set0_pbe_ex(w->pass, -1, p8, pbe, ctx->libctx, NULL) : NULL;
	PKCS12_SAFEBAG *bag = sig ? PKCS12_SAFEBAG_create0_pkcs8(sig) : NULL;

	if (pbe && !sig)
		X509_ALGOR_free(pbe); /* PKCS8_set0_pbe_ex owns it only on success */
	if (sig && !bag)
		X509_SIG_free(sig);
	ok = bag && sk_PKCS12_SAFEBAG_push(bags, bag) > 0;
	if (bag && !ok)
		PKCS12_SAFEBAG_free(bag);
	ok = ok && PKCS12_add_friendlyname_utf8(bag, alias, -1) == 1 &&
		PKCS12_add_localkeyid(bag, (unsigned char *)keyid, 20) == 1 &&
		PKCS12_add_safe_ex(safes, bags, -1, 0, NULL, ctx->libctx, NULL) == 1;
	if (der)
		OPENSSL_clear_free(der, (size_t)len);
	PKCS8_PRIV_KEY_INFO_free(p8);
	sk_PKCS12_SAFEBAG_pop_free(bags, PKCS12_SAFEBAG_free);
	return ok ? 0 : capstan_ossl_error(ctx, CAPSTAN_ERROR, "cannot add the key to the PKCS12");
}

/* Truststore bags get their own aliases; a keystore's leaf carries the alias. */
static int make_cert_bags(capstan_ctx *ctx, STACK_OF(PKCS12_SAFEBAG) **bags, const capstan_material *m,
	int truststore, const char *alias, const unsigned char *keyid)
{
	STACK_OF(X509) *certs = truststore ? m->trust : m->chain;
	int rc = 0;

	for (int i = 0; rc == 0 && i < sk_X509_num(certs); i++) {
		X509 *cert = sk_X509_value(certs, i);
		char *own = truststore ? capstan_cert_alias(cert, i + 1) : NULL;
		if (truststore && !own)
			rc = capstan_error_oom(ctx);
		else
			rc = add_cert_bag(ctx, bags, cert, truststore ? own : i == 0 ? alias : NULL,
				i == 0 && !truststore ? keyid : NULL, truststore);
		free(own);
	}
	return rc;
}

/* The encrypted certificate safe: what PKCS12_pack_p7encdata_ex builds, with
 * the algorithm's salt and IV derived from the bags (der, their DER). */
static int add_cert_safe(capstan_ctx *ctx, STACK_OF(PKCS7) **safes, STACK_OF(PKCS12_SAFEBAG) *bags,
	const unsigned char *der, size_t len, const p12_writer *w)
{
	X509_ALGOR *pbe = make_pbe(ctx, w, w->prot->cert_nid, "certs", der, len);
	PKCS7 *p7 = pbe ? PKCS7_new_ex(ctx->libctx, NULL) : NULL;
	int ok = p7 && PKCS7_set_type(p7, NID_pkcs7_encrypted) == 1;

	if (!pbe)
		return -1;
	if (ok) {
		PKCS7_ENC_CONTENT *enc = p7->d.encrypted->enc_data;
		X509_ALGOR_free(enc->algorithm);
		enc->algorithm = pbe;
		pbe = NULL;
		ASN1_OCTET_STRING_free(enc->enc_data);
		enc->enc_data = PKCS12_item_i2d_encrypt_ex(enc->algorithm, ASN1_ITEM_rptr(PKCS12_SAFEBAGS),
			w->pass, -1, bags, 1, ctx->libctx, NULL);
		ok = enc->enc_data && (*safes || (*safes = sk_PKCS7_new_null())) && sk_PKCS7_push(*safes, p7) > 0;
	}
	if (!ok)
		PKCS7_free(p7);
	X509_ALGOR_free(pbe);
	return ok ? 0 : capstan_ossl_error(ctx, CAPSTAN_ERROR, "cannot encrypt the PKCS12 certificates");
}

/* The certificate safe, and the seed (see p12_writer) from its bags. */
static int add_certs(capstan_ctx *ctx, STACK_OF(PKCS7) **safes, const capstan_material *m, int truststore,
	const char *alias, const unsigned char *keyid, p12_writer *w)
{
	STACK_OF(PKCS12_SAFEBAG) *bags = NULL;
	unsigned char *der = NULL;
	int len = 0, rc;

	if ((rc = make_cert_bags(ctx, &bags, m, truststore, alias, keyid)) == 0 &&
	    (len = ASN1_item_i2d((const ASN1_VALUE *)bags, &der, ASN1_ITEM_rptr(PKCS12_SAFEBAGS))) <= 0)
		rc = capstan_ossl_error(ctx, CAPSTAN_ERROR, "cannot encode the PKCS12 certificates");
	if (rc == 0)
		rc = capstan_pbkdf2_sha256(ctx, w->pass, strlen(w->pass), der, (size_t)len, P12_ITERATIONS,
			w->seed, sizeof(w->seed));
	if (rc == 0)
		rc = add_cert_safe(ctx, safes, bags, der, (size_t)len, w);
	OPENSSL_free(der);
	sk_PKCS12_SAFEBAG_pop_free(bags, PKCS12_SAFEBAG_free);
	return rc;
}

/* The MAC over the authsafe, its salt derived from the authsafe's DER. */
static int set_mac(capstan_ctx *ctx, PKCS12 *p12, STACK_OF(PKCS7) *safes, const capstan_secret *pass,
	const p12_writer *w)
{
	EVP_MD *md = EVP_MD_fetch(ctx->libctx, w->prot->mac_md, NULL);
	unsigned char *der = NULL, salt[MAC_SALT_LEN];
	int len = ASN1_item_i2d((const ASN1_VALUE *)safes, &der, ASN1_ITEM_rptr(PKCS12_AUTHSAFES)), rc = -1;

	if (!md || len <= 0)
		rc = capstan_ossl_error(ctx, CAPSTAN_ERROR, "cannot finish the PKCS12");
	else if ((rc = derive(ctx, w, "capstan p12 mac salt", der, (size_t)len, salt, sizeof(salt))) == 0 &&
		 PKCS12_set_mac(p12, pass->data, (int)pass->len, salt, sizeof(salt), P12_ITERATIONS, md) != 1)
		rc = capstan_ossl_error(ctx, CAPSTAN_ERROR, "cannot set the PKCS12 MAC");
	OPENSSL_free(der);
	EVP_MD_free(md);
	return rc;
}

int capstan_pkcs12_write(capstan_buf *out, capstan_ctx *ctx, const capstan_material *m, int truststore,
	const char *alias, const capstan_secret *pass, int legacy_java)
{
	p12_writer w = { .pass = pass->data, .prot = legacy_java ? &legacy : &modern };
	STACK_OF(PKCS7) *safes = NULL;
	PKCS12 *p12 = NULL;
	unsigned char keyid[CAPSTAN_SHA256_LEN], *der = NULL;
	int rc, len;

	/* The localKeyId pairs the key with its certificate: any stable value works. */
	if (!truststore && (rc = capstan_sha256(ctx, alias, strlen(alias), keyid)) < 0)
		goto done;
	if ((rc = add_certs(ctx, &safes, m, truststore, alias, keyid, &w)) < 0 ||
	    (!truststore && (rc = add_key_safe(ctx, &safes, m->key, alias, keyid, &w)) < 0))
		goto done;
	if (!(p12 = PKCS12_add_safes_ex(safes, 0, ctx->libctx, NULL))) {
		rc = capstan_ossl_error(ctx, CAPSTAN_ERROR, "cannot finish the PKCS12");
		goto done;
	}
	if ((rc = set_mac(ctx, p12, safes, pass, &w)) < 0)
		goto done;
	if ((len = i2d_PKCS12(p12, &der)) <= 0) {
		rc = capstan_ossl_error(ctx, CAPSTAN_ERROR, "cannot finish the PKCS12");
		goto done;
	}
	rc = capstan_buf_set(ctx, out, der, (size_t)len);
done:
	OPENSSL_cleanse(&w, sizeof(w));
	OPENSSL_free(der);
	PKCS12_free(p12);
	sk_PKCS7_pop_free(safes, PKCS7_free);
	return rc;
}

static int check_bags(capstan_ctx *ctx, const char *name, const STACK_OF(PKCS12_SAFEBAG) *bags, int depth)
{
	int rc = 0;

	for (int i = 0; rc == 0 && i < sk_PKCS12_SAFEBAG_num(bags); i++) {
		const PKCS12_SAFEBAG *bag = sk_PKCS12_SAFEBAG_value(bags, i);
		const X509_ALGOR *alg = NULL;

		if (PKCS12_SAFEBAG_get_nid(bag) == NID_pkcs8ShroudedKeyBag) {
			X509_SIG_get0(PKCS12_SAFEBAG_get0_pkcs8(bag), &alg, NULL);
			rc = capstan_pbe_check(ctx, name, "key encryption", alg);
		} else if (PKCS12_SAFEBAG_get_nid(bag) == NID_safeContentsBag) {
			/* Nested bags: OpenSSL follows them; a few levels are all any writer makes. */
			rc = depth >= 4 ? capstan_error(ctx, CAPSTAN_EINVALID, "'%s' nests its bags too deep", name) :
				check_bags(ctx, name, PKCS12_SAFEBAG_get0_safes(bag), depth + 1);
		}
	}
	return rc;
}

/* Every iteration count the file asks for, before PKCS12_parse derives a
 * key from any: the encrypted safes', then (decrypted with a count already
 * checked) the shrouded keys' inside. What cannot be opened here is left to
 * PKCS12_parse to refuse. */
static int check_iterations(capstan_ctx *ctx, const char *name, PKCS12 *p12, const char *pw)
{
	STACK_OF(PKCS7) *safes = PKCS12_unpack_authsafes(p12);
	int rc = 0;

	for (int i = 0; rc == 0 && i < sk_PKCS7_num(safes); i++) {
		PKCS7 *p7 = sk_PKCS7_value(safes, i);
		STACK_OF(PKCS12_SAFEBAG) *bags = NULL;
		int nid = OBJ_obj2nid(p7->type);

		if (nid == NID_pkcs7_encrypted && p7->d.encrypted && p7->d.encrypted->enc_data &&
		    (rc = capstan_pbe_check(ctx, name, "certificate encryption",
			     p7->d.encrypted->enc_data->algorithm)) < 0)
			break;
		bags = nid == NID_pkcs7_data ? PKCS12_unpack_p7data(p7) :
			nid == NID_pkcs7_encrypted ? PKCS12_unpack_p7encdata(p7, pw, -1) : NULL;
		rc = check_bags(ctx, name, bags, 0);
		sk_PKCS12_SAFEBAG_pop_free(bags, PKCS12_SAFEBAG_free);
	}
	sk_PKCS7_pop_free(safes, PKCS7_free);
	ERR_clear_error();
	return rc;
}

int capstan_pkcs12_read(capstan_ctx *ctx, const char *name, const unsigned char *data, size_t len,
	const capstan_secret *pass, EVP_PKEY **key, STACK_OF(X509) *certs)
{
	const unsigned char *p = data;
	PKCS12 *p12 = d2i_PKCS12(NULL, &p, (long)len);
	const char *pw = pass && pass->data ? pass->data : "";
	X509 *cert = NULL;
	STACK_OF(X509) *ca = NULL;
	int rc = 0;

	if (!p12 || p != data + len) {
		PKCS12_free(p12);
		ERR_clear_error();
		return 1; /* not a PKCS12: the caller tries other formats */
	}
	if (PKCS12_mac_present(p12)) {
		const ASN1_INTEGER *mac_iter = NULL;
		PKCS12_get0_mac(NULL, NULL, NULL, &mac_iter, p12);
		if ((rc = capstan_iterations_check(ctx, name, "MAC", mac_iter)) < 0)
			goto done;
	}
	if (PKCS12_mac_present(p12) && PKCS12_verify_mac(p12, pw, -1) != 1) {
		ERR_clear_error();
		rc = pass && pass->data ? capstan_error(ctx, CAPSTAN_EAUTH, "wrong password for '%s'", name) :
			capstan_error_at(ctx, CAPSTAN_EAUTH, CAPSTAN_FIELD_INPUT_PASSWORD,
				"'%s' is a password-protected PKCS12: its password is needed", name);
		goto done;
	}
	if ((rc = check_iterations(ctx, name, p12, pw)) < 0)
		goto done;
	if (PKCS12_parse(p12, pw, key, &cert, &ca) != 1) {
		rc = capstan_ossl_error(ctx, CAPSTAN_EINVALID, "cannot read the PKCS12 '%s'", name);
		goto done;
	}
	if (cert && !sk_X509_push(certs, cert)) {
		rc = capstan_error_oom(ctx);
		goto done;
	}
	cert = NULL;
	while (sk_X509_num(ca) > 0) {
		X509 *x = sk_X509_shift(ca);
		if (!sk_X509_push(certs, x)) {
			X509_free(x);
			rc = capstan_error_oom(ctx);
			break;
		}
	}
done:
	X509_free(cert);
	sk_X509_pop_free(ca, X509_free);
	PKCS12_free(p12);
	return rc;
}
