/* Certificate signing requests: read, check the self-signature and the key. */
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "crypto_internal.h"
#include "csr_fast.h"
#include "ossl.h"
#include "x509.h"

#define MAX_CSR_LEN (64 * 1024)

static X509_REQ *csr_parse(capstan_ctx *ctx, const unsigned char *data, size_t len)
{
	X509_REQ *req = X509_REQ_new_ex(ctx->libctx, NULL);
	BIO *bio;

	if (!req)
		return NULL;
	/* DER starts with a SEQUENCE tag; anything else is tried as PEM. */
	if (data[0] != 0x30) {
		bio = BIO_new_mem_buf(data, (int)len);
		if (!bio || !PEM_read_bio_X509_REQ(bio, &req, NULL, NULL)) {
			X509_REQ_free(req);
			req = NULL;
		}
		BIO_free(bio);
		return req;
	}
	const unsigned char *p = data;
	if (!d2i_X509_REQ(&req, &p, (long)len) || p != data + len) {
		X509_REQ_free(req);
		return NULL;
	}
	return req;
}

static int signature_is_strong(int sig_nid)
{
	int md_nid = NID_undef, pk_nid = NID_undef;

	if (sig_nid == NID_ED25519)
		return 1;
	if (!OBJ_find_sigid_algs(sig_nid, &md_nid, &pk_nid))
		return 0;
	return md_nid == NID_sha256 || md_nid == NID_sha384 || md_nid == NID_sha512;
}

static int requested_sans(capstan_ctx *ctx, const STACK_OF(X509_EXTENSION) *exts, capstan_strlist *sans)
{
	GENERAL_NAMES *gens = NULL;
	int rc = 0, i;

	if (exts && (i = X509v3_get_ext_by_NID(exts, NID_subject_alt_name, -1)) >= 0) {
		if (!(gens = X509V3_EXT_d2i(X509v3_get_ext(exts, i))))
			rc = capstan_ossl_error(ctx, CAPSTAN_EINVALID, "the CSR's subjectAltName cannot be read");
		else
			rc = capstan_general_names_to_strlist(ctx, gens, "the CSR's", sans);
	}
	GENERAL_NAMES_free(gens);
	return rc;
}

/* The CN as text. A NUL inside it would cut the name a C consumer reads
 * ("good.internal\0.evil.com" shows as good.internal), so it is refused. */
static int requested_cn(capstan_ctx *ctx, const X509_NAME *name, char **cn)
{
	int i = X509_NAME_get_index_by_NID(name, NID_commonName, -1);
	unsigned char *utf8 = NULL;
	int n, rc = 0;

	*cn = NULL;
	if (i < 0)
		return 0;
	n = ASN1_STRING_to_UTF8(&utf8, X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, i)));
	if (n < 0)
		rc = capstan_ossl_error(ctx, CAPSTAN_EINVALID, "the CSR's CN is not valid text");
	else if (memchr(utf8, '\0', (size_t)n))
		rc = capstan_error(ctx, CAPSTAN_EINVALID, "the CSR's CN has a NUL byte in it");
	else if (!(*cn = strndup((const char *)utf8, (size_t)n)))
		rc = capstan_error_oom(ctx);
	OPENSSL_free(utf8);
	return rc;
}

/* The provider's own checks of the public key (an even RSA modulus or one
 * with small factors, an exponent out of range): the CSR's signature says
 * nothing about them, and the key is certified as it is. */
static int public_key_check(capstan_ctx *ctx, EVP_PKEY *pkey)
{
	EVP_PKEY_CTX *pctx = EVP_PKEY_CTX_new_from_pkey(ctx->libctx, pkey, NULL);
	int ok = pctx && EVP_PKEY_public_check(pctx) == 1;

	EVP_PKEY_CTX_free(pctx);
	return ok ? 0 : capstan_ossl_error(ctx, CAPSTAN_EINVALID, "the CSR's public key fails its validity check");
}

/* The generic read: any CSR OpenSSL reads, every refusal worded. */
static int read_generic(capstan_ctx *ctx, const unsigned char *data, size_t len, capstan_csr_fields *out)
{
	X509_REQ *req = NULL;
	EVP_PKEY *pkey = NULL;
	int rc;

	if (!(req = csr_parse(ctx, data, len))) {
		rc = capstan_ossl_error(ctx, CAPSTAN_EINVALID, "not a PEM or DER certificate signing request");
		goto done;
	}
	if (!(pkey = X509_REQ_get_pubkey(req))) {
		rc = capstan_ossl_error(ctx, CAPSTAN_EINVALID, "the CSR's public key cannot be read");
		goto done;
	}
	/* The key before the signature: a key anyone can sign for (RSA e = 3,
	 * an Ed25519 point of small order) has a signature that verifies. */
	if ((rc = capstan_key_wrap(&out->key, ctx, pkey)) < 0)
		goto done;
	pkey = NULL;
	if ((rc = public_key_check(ctx, out->key->pkey)) < 0)
		goto done;
	if (X509_REQ_verify_ex(req, out->key->pkey, ctx->libctx, NULL) != 1) {
		rc = capstan_ossl_error(ctx, CAPSTAN_EINVALID, "the CSR's signature does not verify");
		goto done;
	}
	out->sig_nid = X509_REQ_get_signature_nid(req);
	out->extensions = X509_REQ_get_extensions(req);
	if (!(out->subject = X509_NAME_dup(X509_REQ_get_subject_name(req))))
		rc = capstan_error_oom(ctx);
done:
	EVP_PKEY_free(pkey);
	X509_REQ_free(req);
	return rc;
}

/* DER as it is, or the PEM block's; *copy: what to free. 0 when it is neither. */
static int csr_der(const unsigned char *data, size_t len, const unsigned char **der, size_t *der_len,
	unsigned char **copy)
{
	BIO *bio;
	char *name = NULL;
	long n = 0;
	int ok;

	*copy = NULL;
	if (data[0] == 0x30) {
		*der = data;
		*der_len = len;
		return 1;
	}
	if (!(bio = BIO_new_mem_buf(data, (int)len)))
		return 0;
	ERR_set_mark();
	ok = PEM_bytes_read_bio(copy, &n, &name, PEM_STRING_X509_REQ, bio, NULL, NULL) == 1;
	ERR_pop_to_mark();
	BIO_free(bio);
	OPENSSL_free(name);
	*der = *copy;
	*der_len = ok ? (size_t)n : 0;
	return ok;
}

int capstan_csr_read(capstan_ctx *ctx, const unsigned char *data, size_t len,
	capstan_key **pubkey, char **cn, capstan_strlist *sans)
{
	capstan_csr_fields f = { 0 };
	const unsigned char *der;
	unsigned char *copy = NULL;
	size_t der_len;
	int rc = 0;

	*cn = NULL;
	if (len == 0 || len > MAX_CSR_LEN)
		return capstan_error(ctx, CAPSTAN_EINVALID, "the CSR is empty or larger than 64 KiB");
	if (!(csr_der(data, len, &der, &der_len, &copy) && capstan_csr_read_fast(ctx, der, der_len, &f)) &&
	    (rc = read_generic(ctx, data, len, &f)) < 0)
		goto done;
	if (!signature_is_strong(f.sig_nid)) {
		rc = capstan_error(ctx, CAPSTAN_EINVALID, "the CSR is signed with a weak algorithm (%s)",
			OBJ_nid2ln(f.sig_nid));
		goto done;
	}
	if ((rc = requested_cn(ctx, f.subject, cn)) < 0 || (rc = requested_sans(ctx, f.extensions, sans)) < 0)
		goto done;
	*pubkey = f.key;
	f.key = NULL;
done:
	if (rc < 0) { /* nothing half read is handed back */
		free(*cn);
		*cn = NULL;
		capstan_strlist_free(sans);
	}
	capstan_csr_fields_clear(&f);
	OPENSSL_free(copy);
	return rc;
}
