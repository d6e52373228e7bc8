/* PKCS12 keystores and truststores that Java loads, and reading PKCS12 input. */
#include <string.h>

#include <openssl/err.h>
#include <openssl/pkcs12.h>
#include <openssl/x509.h>

#include "base/base.h"
#include "crypto_internal.h"
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
	int key_nid;    /* shrouded key bag */
	int cert_nid;   /* encrypted certificate safe */
	const char *mac_md;
} p12_protection;

static const p12_protection modern = { NID_aes_256_cbc, NID_aes_256_cbc, "SHA2-256" };
/* Java 8 before 8u301: 3DES needs no legacy provider; RC2 would. */
static const p12_protection legacy = {
	NID_pbe_WithSHA1And3_Key_TripleDES_CBC, NID_pbe_WithSHA1And3_Key_TripleDES_CBC, "SHA1"
};

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

/* The key's bag, shrouded (encrypted) with the store password. */
static int add_key_safe(capstan_ctx *ctx, STACK_OF(PKCS7) **safes, EVP_PKEY *key, const char *alias,
	const unsigned char *keyid, const char *pass, const p12_protection *prot)
{
	STACK_OF(PKCS12_SAFEBAG) *bags = NULL;
	PKCS12_SAFEBAG *bag = PKCS12_add_key_ex(&bags, key, 0, P12_ITERATIONS, prot->key_nid, pass,
		ctx->libctx, NULL);
	int ok = bag && PKCS12_add_friendlyname_utf8(bag, alias, -1) == 1 &&
		PKCS12_add_localkeyid(bag, (unsigned char *)keyid, 20) == 1 &&
		PKCS12_add_safe_ex(safes, bags, -1, 0, NULL, ctx->libctx, NULL) == 1;

	sk_PKCS12_SAFEBAG_pop_free(bags, PKCS12_SAFEBAG_free);
	return ok ? 0 : capstan_ossl_error(ctx, CAPSTAN_ERROR, "cannot add the key to the PKCS12");
}

/* Truststore bags get their own aliases; a keystore's leaf carries the alias. */
static int add_cert_safe(capstan_ctx *ctx, STACK_OF(PKCS7) **safes, const capstan_material *m, int truststore,
	const char *alias, const unsigned char *keyid, const char *pass, const p12_protection *prot)
{
	STACK_OF(X509) *certs = truststore ? m->trust : m->chain;
	STACK_OF(PKCS12_SAFEBAG) *bags = NULL;
	int rc = 0;

	for (int i = 0; rc == 0 && i < sk_X509_num(certs); i++) {
		X509 *cert = sk_X509_value(certs, i);
		char *own = truststore ? capstan_cert_alias(cert, i + 1) : NULL;
		if (truststore && !own)
			rc = capstan_error_oom(ctx);
		else
			rc = add_cert_bag(ctx, &bags, cert, truststore ? own : i == 0 ? alias : NULL,
				i == 0 && !truststore ? keyid : NULL, truststore);
		free(own);
	}
	if (rc == 0 && PKCS12_add_safe_ex(safes, bags, prot->cert_nid, P12_ITERATIONS, pass,
			       ctx->libctx, NULL) != 1)
		rc = capstan_ossl_error(ctx, CAPSTAN_ERROR, "cannot encrypt the PKCS12 certificates");
	sk_PKCS12_SAFEBAG_pop_free(bags, PKCS12_SAFEBAG_free);
	return rc;
}

int capstan_pkcs12_write(capstan_buf *out, capstan_ctx *ctx, const capstan_material *m, int truststore,
	const char *alias, const capstan_secret *pass, int legacy_java)
{
	const p12_protection *prot = legacy_java ? &legacy : &modern;
	STACK_OF(PKCS7) *safes = NULL;
	PKCS12 *p12 = NULL;
	EVP_MD *md = EVP_MD_fetch(ctx->libctx, prot->mac_md, NULL);
	unsigned char keyid[CAPSTAN_SHA256_LEN], *der = NULL;
	int rc, len;

	/* The localKeyId pairs the key with its certificate: any stable value works. */
	if (!truststore && (rc = capstan_sha256(ctx, alias, strlen(alias), keyid)) < 0)
		goto done;
	if ((rc = add_cert_safe(ctx, &safes, m, truststore, alias, keyid, pass->data, prot)) < 0 ||
	    (!truststore && (rc = add_key_safe(ctx, &safes, m->key, alias, keyid, pass->data, prot)) < 0))
		goto done;
	if (!md || !(p12 = PKCS12_add_safes_ex(safes, 0, ctx->libctx, NULL)) ||
	    PKCS12_set_mac(p12, pass->data, (int)pass->len, NULL, 0, P12_ITERATIONS, md) != 1 ||
	    (len = i2d_PKCS12(p12, &der)) <= 0) {
		rc = capstan_ossl_error(ctx, CAPSTAN_ERROR, "cannot finish the PKCS12");
		goto done;
	}
	rc = capstan_buf_set(ctx, out, der, (size_t)len);
done:
	OPENSSL_free(der);
	PKCS12_free(p12);
	sk_PKCS7_pop_free(safes, PKCS7_free);
	EVP_MD_free(md);
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
