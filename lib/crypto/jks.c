/*
 * JKS, Java's own keystore format, for configurations that still say
 * keyStoreType=JKS. Layout (OpenJDK JavaKeyStore.engineStore):
 *   0xFEEDFEED, version 2, entry count; per entry a tag (1 private key,
 *   2 trusted certificate), the alias (writeUTF), a timestamp in ms, then
 *   the protected key and its chain, or one certificate; finally SHA-1 over
 *   the password (UTF-16BE), "Mighty Aphrodite" and every byte before it.
 * The key is protected with Sun's KeyProtector (OID 1.3.6.1.4.1.42.2.17.1.1):
 *   salt(20) || key XOR SHA-1 keystream || SHA-1(password || key).
 * SHA-1 is the format's, not a choice: prefer PKCS12 where the consumer allows.
 */
#include <string.h>

#include <openssl/x509.h>

#include "base/base.h"
#include "crypto_internal.h"
#include "mac.h"
#include "ossl.h"

#define JKS_MAGIC 0xFEEDFEEDu
#define JKS_VERSION 2
#define JKS_PRIVATE_KEY 1
#define JKS_TRUSTED_CERT 2
#define KEY_PROTECTOR_OID "1.3.6.1.4.1.42.2.17.1.1"
#define SHA1_LEN 20

static int put_be(capstan_ctx *ctx, capstan_buf *b, uint64_t v, int bytes)
{
	unsigned char out[8];

	for (int i = 0; i < bytes; i++)
		out[i] = (unsigned char)(v >> (8 * (bytes - 1 - i)));
	return capstan_buf_append(ctx, b, out, (size_t)bytes);
}

/* DataOutputStream.writeUTF: a 2-byte length, then (ASCII here) the bytes. */
static int put_utf(capstan_ctx *ctx, capstan_buf *b, const char *s)
{
	size_t len = strlen(s);
	int rc;

	if (len > 0xffff)
		return capstan_error(ctx, CAPSTAN_EINVALID, "JKS string too long");
	if ((rc = put_be(ctx, b, len, 2)) < 0)
		return rc;
	return capstan_buf_append(ctx, b, s, len);
}

/* The password as Java's char[]: UTF-16BE code units from UTF-8. */
static int password_utf16(capstan_ctx *ctx, const capstan_secret *pass, capstan_buf *out)
{
	const unsigned char *p = (const unsigned char *)pass->data, *end = p + pass->len;
	int rc = 0;

	while (p < end && rc == 0) {
		uint32_t cp;
		int extra = *p < 0x80 ? 0 : (*p & 0xe0) == 0xc0 ? 1 : (*p & 0xf0) == 0xe0 ? 2 : (*p & 0xf8) == 0xf0 ? 3 : -1;
		if (extra < 0 || end - p < extra + 1)
			return capstan_error(ctx, CAPSTAN_EINVALID, "the store password is not valid UTF-8");
		cp = extra ? *p & (0x3f >> extra) : *p;
		for (int i = 1; i <= extra; i++) {
			if ((p[i] & 0xc0) != 0x80)
				return capstan_error(ctx, CAPSTAN_EINVALID, "the store password is not valid UTF-8");
			cp = (cp << 6) | (p[i] & 0x3f);
		}
		p += extra + 1;
		if (cp >= 0x10000) {
			cp -= 0x10000;
			if ((rc = put_be(ctx, out, 0xd800 | (cp >> 10), 2)) == 0)
				rc = put_be(ctx, out, 0xdc00 | (cp & 0x3ff), 2);
		} else {
			rc = put_be(ctx, out, cp, 2);
		}
	}
	return rc;
}

static int sha1(capstan_ctx *ctx, const void *a, size_t alen, const void *b, size_t blen, unsigned char out[SHA1_LEN])
{
	EVP_MD *md = EVP_MD_fetch(ctx->libctx, "SHA1", NULL);
	EVP_MD_CTX *mctx = EVP_MD_CTX_new();
	int ok = md && mctx && EVP_DigestInit_ex(mctx, md, NULL) == 1 &&
		EVP_DigestUpdate(mctx, a, alen) == 1 && EVP_DigestUpdate(mctx, b, blen) == 1 &&
		EVP_DigestFinal_ex(mctx, out, NULL) == 1;

	EVP_MD_CTX_free(mctx);
	EVP_MD_free(md);
	return ok ? 0 : capstan_ossl_error(ctx, CAPSTAN_ERROR, "cannot compute SHA-1 for JKS");
}

/* Sun's KeyProtector.protect, wrapped as an EncryptedPrivateKeyInfo. */
static int protect_key(capstan_ctx *ctx, EVP_PKEY *key, const capstan_buf *pw, capstan_buf *out)
{
	PKCS8_PRIV_KEY_INFO *p8 = EVP_PKEY2PKCS8(key);
	unsigned char *plain = NULL, *der = NULL, digest[SHA1_LEN];
	capstan_buf prot = CAPSTAN_BUF_INIT;
	X509_SIG *sig = NULL;
	X509_ALGOR *alg;
	ASN1_OCTET_STRING *data;
	int len = p8 ? i2d_PKCS8_PRIV_KEY_INFO(p8, &plain) : -1, rc, derlen;

	if (len <= 0) {
		rc = capstan_ossl_error(ctx, CAPSTAN_ERROR, "cannot encode the key for JKS");
		goto done;
	}
	/* digest starts as the salt, which also opens the protected key. It is
	 * derived, not random, so the same key and password make the same store
	 * (a bundle keeps its ETag): HMAC-SHA-256 under the password over a label
	 * and the key, so it repeats only when both do. Keying by the password
	 * opens no shortcut: testing a guess needs the key, and the store's own
	 * integrity digest is one SHA-1 per guess anyway. */
	if ((rc = capstan_hmac_label(ctx, pw->data, pw->len, "capstan jks key salt", plain, (size_t)len,
		     digest, SHA1_LEN)) < 0 ||
	    (rc = capstan_buf_append(ctx, &prot, digest, SHA1_LEN)) < 0)
		goto done;
	/* Keystream: d1 = SHA1(pw || salt), d(i+1) = SHA1(pw || d(i)). */
	for (int off = 0; off < len; off += SHA1_LEN) {
		unsigned char x[SHA1_LEN];
		int n = len - off < SHA1_LEN ? len - off : SHA1_LEN;
		if ((rc = sha1(ctx, pw->data, pw->len, digest, SHA1_LEN, digest)) < 0)
			goto done;
		for (int i = 0; i < n; i++)
			x[i] = plain[off + i] ^ digest[i];
		if ((rc = capstan_buf_append(ctx, &prot, x, (size_t)n)) < 0)
			goto done;
	}
	if ((rc = sha1(ctx, pw->data, pw->len, plain, (size_t)len, digest)) < 0 ||
	    (rc = capstan_buf_append(ctx, &prot, digest, SHA1_LEN)) < 0)
		goto done;
	if (!(sig = X509_SIG_new())) {
		rc = capstan_error_oom(ctx);
		goto done;
	}
	X509_SIG_getm(sig, &alg, &data);
	if (X509_ALGOR_set0(alg, OBJ_txt2obj(KEY_PROTECTOR_OID, 1), V_ASN1_NULL, NULL) != 1 ||
	    ASN1_OCTET_STRING_set(data, prot.data, (int)prot.len) != 1 || (derlen = i2d_X509_SIG(sig, &der)) <= 0) {
		rc = capstan_ossl_error(ctx, CAPSTAN_ERROR, "cannot wrap the key for JKS");
		goto done;
	}
	rc = capstan_buf_set(ctx, out, der, (size_t)derlen);
done:
	if (plain)
		OPENSSL_clear_free(plain, (size_t)len);
	OPENSSL_free(der);
	X509_SIG_free(sig);
	PKCS8_PRIV_KEY_INFO_free(p8);
	capstan_buf_free(&prot);
	return rc;
}

static int put_cert(capstan_ctx *ctx, capstan_buf *b, X509 *cert)
{
	unsigned char *der = NULL;
	int len = i2d_X509(cert, &der), rc;

	if (len <= 0)
		return capstan_ossl_error(ctx, CAPSTAN_ERROR, "cannot encode a certificate for JKS");
	if ((rc = put_utf(ctx, b, "X.509")) == 0 && (rc = put_be(ctx, b, (uint64_t)len, 4)) == 0)
		rc = capstan_buf_append(ctx, b, der, (size_t)len);
	OPENSSL_free(der);
	return rc;
}

/* The entry's date in ms since 1970: the certificate's notBefore rather than
 * now, so that the same material makes the same store. keytool shows it as
 * the entry's creation date, which notBefore is, near enough. */
static int entry_date(capstan_ctx *ctx, X509 *cert, uint64_t *ms)
{
	ASN1_TIME *epoch = ASN1_TIME_set(NULL, 0);
	int days = 0, secs = 0;
	int ok = epoch && cert && ASN1_TIME_diff(&days, &secs, epoch, X509_get0_notBefore(cert)) == 1;

	ASN1_TIME_free(epoch);
	if (!ok)
		return capstan_ossl_error(ctx, CAPSTAN_EINVALID, "cannot date a JKS entry");
	/* Before 1970 (no real certificate): the epoch, as Java's date is signed. */
	*ms = days < 0 || secs < 0 ? 0 : ((uint64_t)days * 86400 + (uint64_t)secs) * 1000;
	return 0;
}

/* JKS aliases are case-insensitive: Java lower-cases them on load. */
static int put_entry_head(capstan_ctx *ctx, capstan_buf *b, int tag, const char *alias, X509 *cert)
{
	char lower[256];
	size_t n = strlen(alias) < sizeof(lower) - 1 ? strlen(alias) : sizeof(lower) - 1;
	uint64_t ms = 0;
	int rc;

	for (size_t i = 0; i < n; i++)
		lower[i] = (char)((alias[i] >= 'A' && alias[i] <= 'Z') ? alias[i] + 32 : alias[i]);
	lower[n] = '\0';
	if ((rc = entry_date(ctx, cert, &ms)) == 0 && (rc = put_be(ctx, b, (uint64_t)tag, 4)) == 0 &&
	    (rc = put_utf(ctx, b, lower)) == 0)
		rc = put_be(ctx, b, ms, 8);
	return rc;
}

static int put_entries(capstan_ctx *ctx, capstan_buf *b, const capstan_material *m, int truststore,
	const char *alias, const capstan_buf *pw)
{
	capstan_buf key = CAPSTAN_BUF_INIT;
	int rc = 0;

	if (truststore) {
		for (int i = 0; rc == 0 && i < sk_X509_num(m->trust); i++) {
			char *own = capstan_cert_alias(sk_X509_value(m->trust, i), i + 1);
			if (!own)
				return capstan_error_oom(ctx);
			if ((rc = put_entry_head(ctx, b, JKS_TRUSTED_CERT, own, sk_X509_value(m->trust, i))) == 0)
				rc = put_cert(ctx, b, sk_X509_value(m->trust, i));
			free(own);
		}
		return rc;
	}
	if ((rc = protect_key(ctx, m->key, pw, &key)) < 0 ||
	    (rc = put_entry_head(ctx, b, JKS_PRIVATE_KEY, alias, sk_X509_value(m->chain, 0))) < 0 ||
	    (rc = put_be(ctx, b, key.len, 4)) < 0 || (rc = capstan_buf_append(ctx, b, key.data, key.len)) < 0 ||
	    (rc = put_be(ctx, b, (uint64_t)sk_X509_num(m->chain), 4)) < 0)
		goto done;
	for (int i = 0; rc == 0 && i < sk_X509_num(m->chain); i++)
		rc = put_cert(ctx, b, sk_X509_value(m->chain, i));
done:
	capstan_buf_free(&key);
	return rc;
}

int capstan_jks_write(capstan_buf *out, capstan_ctx *ctx, const capstan_material *m, int truststore,
	const char *alias, const capstan_secret *pass)
{
	static const char whitener[] = "Mighty Aphrodite";
	capstan_buf pw = CAPSTAN_BUF_INIT, body = CAPSTAN_BUF_INIT, keyed = CAPSTAN_BUF_INIT;
	unsigned char digest[SHA1_LEN];
	int rc;

	if ((rc = password_utf16(ctx, pass, &pw)) < 0 ||
	    (rc = put_be(ctx, &body, JKS_MAGIC, 4)) < 0 || (rc = put_be(ctx, &body, JKS_VERSION, 4)) < 0 ||
	    (rc = put_be(ctx, &body, truststore ? (uint64_t)sk_X509_num(m->trust) : 1, 4)) < 0 ||
	    (rc = put_entries(ctx, &body, m, truststore, alias, &pw)) < 0)
		goto done;
	/* The integrity digest: SHA-1(password || "Mighty Aphrodite" || body). */
	if ((rc = capstan_buf_append(ctx, &keyed, pw.data, pw.len)) < 0 ||
	    (rc = capstan_buf_append(ctx, &keyed, whitener, sizeof(whitener) - 1)) < 0 ||
	    (rc = sha1(ctx, keyed.data, keyed.len, body.data, body.len, digest)) < 0 ||
	    (rc = capstan_buf_append(ctx, &body, digest, SHA1_LEN)) < 0)
		goto done;
	*out = body;
	body = (capstan_buf)CAPSTAN_BUF_INIT;
done:
	capstan_buf_free(&pw);
	capstan_buf_free(&body);
	capstan_buf_free(&keyed);
	return rc;
}
