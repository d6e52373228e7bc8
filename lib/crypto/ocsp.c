/* OCSP (RFC 6960): requests read, basic responses signed, and the delegated
 * responder certificates (RFC 6960 4.2.2.2) that sign them. */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/ocsp.h>
#include <openssl/x509v3.h>

#include "base/base.h"
#include "crypto_internal.h"
#include "ocsp.h"
#include "ossl.h"
#include "x509.h"

struct capstan_ocsp_request {
	OCSP_REQUEST *req;
};

static int digest(capstan_ctx *ctx, const char *name, const unsigned char *data, size_t len, unsigned char *out)
{
	EVP_MD *md = capstan_ossl_md(ctx, name);

	if (!md || EVP_Digest(data, len, out, NULL, md, NULL) != 1)
		return capstan_ossl_error(ctx, CAPSTAN_ERROR, "cannot compute %s", name);
	return 0;
}

int capstan_ocsp_issuer_read(capstan_ocsp_issuer *out, capstan_ctx *ctx, const unsigned char *der, size_t len)
{
	X509 *cert = NULL;
	unsigned char *name = NULL;
	const ASN1_BIT_STRING *key;
	const ASN1_OCTET_STRING *ski;
	int rc, name_len;

	memset(out, 0, sizeof(*out));
	if ((rc = capstan_x509_from_der(ctx, &cert, der, len)) < 0)
		return rc;
	/* CertID: the hash of the DER of the issuer's name and of the value of
	 * its subjectPublicKey BIT STRING (RFC 6960 4.1.1). */
	name_len = i2d_X509_NAME(X509_get_subject_name(cert), &name);
	key = X509_get0_pubkey_bitstr(cert);
	if (name_len <= 0 || !key) {
		rc = capstan_ossl_error(ctx, CAPSTAN_EINVALID, "cannot read the CA certificate's name and key");
		goto done;
	}
	if ((rc = digest(ctx, "SHA1", name, (size_t)name_len, out->name_sha1)) < 0 ||
	    (rc = digest(ctx, "SHA1", key->data, (size_t)key->length, out->key_sha1)) < 0 ||
	    (rc = digest(ctx, "SHA2-256", name, (size_t)name_len, out->name_sha256)) < 0 ||
	    (rc = digest(ctx, "SHA2-256", key->data, (size_t)key->length, out->key_sha256)) < 0)
		goto done;
	if ((ski = X509_get0_subject_key_id(cert)) && ski->length > 0 && (size_t)ski->length <= sizeof(out->ski)) {
		memcpy(out->ski, ski->data, (size_t)ski->length);
		out->ski_len = (size_t)ski->length;
	}
done:
	OPENSSL_free(name);
	X509_free(cert);
	return rc;
}

int capstan_ocsp_request_read(capstan_ocsp_request **out, capstan_ctx *ctx, const unsigned char *der,
	size_t len)
{
	const unsigned char *p = der;
	OCSP_REQUEST *req = len > 0 && len < (size_t)LONG_MAX ? d2i_OCSP_REQUEST(NULL, &p, (long)len) : NULL;

	if (!req || p != der + len || OCSP_request_onereq_count(req) <= 0) {
		OCSP_REQUEST_free(req);
		return capstan_ossl_error(ctx, CAPSTAN_EINVALID, "not a DER OCSP request");
	}
	if (!(*out = calloc(1, sizeof(**out)))) {
		OCSP_REQUEST_free(req);
		return capstan_error_oom(ctx);
	}
	(*out)->req = req;
	return 0;
}

size_t capstan_ocsp_request_count(const capstan_ocsp_request *req)
{
	int n = OCSP_request_onereq_count(req->req);

	return n > 0 ? (size_t)n : 0;
}

static OCSP_CERTID *request_id(const capstan_ocsp_request *req, size_t i)
{
	return OCSP_onereq_get0_id(OCSP_request_onereq_get0(req->req, (int)i));
}

static int same(const ASN1_OCTET_STRING *s, const unsigned char *want, size_t len)
{
	return s && (size_t)s->length == len && memcmp(s->data, want, len) == 0;
}

int capstan_ocsp_request_names(const capstan_ocsp_request *req, size_t i, const capstan_ocsp_issuer *issuer)
{
	ASN1_OCTET_STRING *name = NULL, *key = NULL;
	ASN1_OBJECT *alg = NULL;

	if (OCSP_id_get0_info(&name, &alg, &key, NULL, request_id(req, i)) != 1)
		return 0;
	switch (OBJ_obj2nid(alg)) {
	case NID_sha1:
		return same(name, issuer->name_sha1, 20) && same(key, issuer->key_sha1, 20);
	case NID_sha256:
		return same(name, issuer->name_sha256, 32) && same(key, issuer->key_sha256, 32);
	default:
		return 0;
	}
}

void capstan_ocsp_request_serial(const capstan_ocsp_request *req, size_t i, char serial[2 * 20 + 1])
{
	ASN1_INTEGER *number = NULL;
	BIGNUM *bn = NULL;
	unsigned char bytes[20];
	int n;

	serial[0] = '\0';
	if (OCSP_id_get0_info(NULL, NULL, NULL, &number, request_id(req, i)) != 1 || !number ||
	    !(bn = ASN1_INTEGER_to_BN(number, NULL)))
		return;
	n = BN_num_bytes(bn);
	if (!BN_is_negative(bn) && n >= 1 && n <= 20 && BN_bn2bin(bn, bytes) == n)
		capstan_hex_encode(serial, bytes, (size_t)n);
	BN_free(bn);
}

int capstan_ocsp_request_reuse_key(const capstan_ocsp_request *req, unsigned char *out, size_t cap, size_t *len)
{
	unsigned char *p = out;
	int n;

	*len = 0;
	if (capstan_ocsp_request_count(req) != 1 || OCSP_REQUEST_get_ext_by_NID(req->req, NID_id_pkix_OCSP_Nonce, -1) >= 0)
		return 0;
	if ((n = i2d_OCSP_CERTID(request_id(req, 0), NULL)) <= 0 || (size_t)n > cap)
		return 0;
	if (i2d_OCSP_CERTID(request_id(req, 0), &p) != n)
		return 0;
	*len = (size_t)n;
	return 1;
}

void capstan_ocsp_request_free(capstan_ocsp_request *req)
{
	if (!req)
		return;
	OCSP_REQUEST_free(req->req);
	free(req);
}

/* One SingleResponse per CertID, in the request's order. */
static int add_answers(capstan_ctx *ctx, OCSP_BASICRESP *bs, const capstan_ocsp_request *req,
	const capstan_ocsp_answer *answers, time_t this_update, time_t next_update)
{
	static const int codes[] = {
		[CAPSTAN_OCSP_GOOD] = V_OCSP_CERTSTATUS_GOOD,
		[CAPSTAN_OCSP_REVOKED] = V_OCSP_CERTSTATUS_REVOKED,
		[CAPSTAN_OCSP_UNKNOWN] = V_OCSP_CERTSTATUS_UNKNOWN,
	};
	ASN1_TIME *thisupd = ASN1_TIME_set(NULL, this_update), *nextupd = ASN1_TIME_set(NULL, next_update);
	ASN1_TIME *rev = NULL;
	int ok = thisupd && nextupd;

	for (size_t i = 0; ok && i < capstan_ocsp_request_count(req); i++) {
		const capstan_ocsp_answer *a = &answers[i];
		int revoked = a->status == CAPSTAN_OCSP_REVOKED;

		ASN1_TIME_free(rev);
		rev = revoked ? ASN1_TIME_set(NULL, a->revoked_at) : NULL;
		/* RFC 5280 5.3.1: unspecified is said by leaving the reason out. */
		ok = (!revoked || rev) && OCSP_basic_add1_status(bs, request_id(req, i), codes[a->status],
			revoked && a->reason > 0 ? a->reason : OCSP_REVOKED_STATUS_NOSTATUS, rev, thisupd, nextupd);
	}
	ASN1_TIME_free(rev);
	ASN1_TIME_free(thisupd);
	ASN1_TIME_free(nextupd);
	return ok ? 0 : capstan_ossl_error(ctx, CAPSTAN_ERROR, "cannot add an OCSP answer");
}

static int response_der(capstan_buf *out, capstan_ctx *ctx, OCSP_RESPONSE *resp)
{
	unsigned char *der = NULL;
	int len = resp ? i2d_OCSP_RESPONSE(resp, &der) : 0;
	int rc;

	if (len <= 0)
		return capstan_ossl_error(ctx, CAPSTAN_ERROR, "cannot encode the OCSP response");
	rc = capstan_buf_set(ctx, out, der, (size_t)len);
	OPENSSL_free(der);
	return rc;
}

struct capstan_ocsp_signer {
	X509 *cert;
	capstan_key *key;
};

int capstan_ocsp_signer_new(capstan_ocsp_signer **out, capstan_ctx *ctx, const unsigned char *der, size_t len,
	capstan_key *key)
{
	capstan_ocsp_signer *s = calloc(1, sizeof(*s));
	int rc;

	if (!s) {
		capstan_key_free(key);
		return capstan_error_oom(ctx);
	}
	s->key = key;
	if ((rc = capstan_x509_from_der(ctx, &s->cert, der, len)) < 0) {
		capstan_ocsp_signer_free(s);
		return rc;
	}
	*out = s;
	return 0;
}

void capstan_ocsp_signer_free(capstan_ocsp_signer *s)
{
	if (!s)
		return;
	X509_free(s->cert);
	capstan_key_free(s->key);
	free(s);
}

int capstan_ocsp_response_sign(capstan_buf *out, capstan_ctx *ctx, const capstan_ocsp_request *req,
	const capstan_ocsp_answer *answers, time_t this_update, time_t next_update,
	const capstan_ocsp_signer *signer)
{
	OCSP_BASICRESP *bs = OCSP_BASICRESP_new();
	OCSP_RESPONSE *resp = NULL;
	EVP_MD_CTX *mctx = EVP_MD_CTX_new();
	int rc;

	if (!bs || !mctx) {
		rc = capstan_error_oom(ctx);
		goto done;
	}
	if ((rc = add_answers(ctx, bs, req, answers, this_update, next_update)) < 0)
		goto done;
	/* 2: the request had no nonce, nothing to echo */
	if (OCSP_copy_nonce(bs, req->req) <= 0 ||
	    capstan_ossl_sign_init(ctx, mctx, signer->key->pkey, capstan_signing_digest(signer->key)) != 1 ||
	    OCSP_basic_sign_ctx(bs, signer->cert, mctx, NULL, OCSP_RESPID_KEY) != 1 ||
	    !(resp = OCSP_response_create(OCSP_RESPONSE_STATUS_SUCCESSFUL, bs))) {
		rc = capstan_ossl_error(ctx, CAPSTAN_ERROR, "cannot sign the OCSP response");
		goto done;
	}
	rc = response_der(out, ctx, resp);
done:
	OCSP_RESPONSE_free(resp);
	OCSP_BASICRESP_free(bs);
	EVP_MD_CTX_free(mctx);
	return rc;
}

int capstan_ocsp_response_error(capstan_buf *out, capstan_ctx *ctx, capstan_ocsp_error status)
{
	OCSP_RESPONSE *resp = OCSP_response_create((int)status, NULL);
	int rc = response_der(out, ctx, resp);

	OCSP_RESPONSE_free(resp);
	return rc;
}

static int add_ext(capstan_ctx *ctx, X509 *cert, X509V3_CTX *v3, int nid, const char *value)
{
	X509_EXTENSION *ext = X509V3_EXT_nconf_nid(NULL, v3, nid, value);
	int ok = ext && X509_add_ext(cert, ext, -1) == 1;

	X509_EXTENSION_free(ext);
	return ok ? 0 : capstan_ossl_error(ctx, CAPSTAN_ERROR, "cannot add extension %s", OBJ_nid2sn(nid));
}

/* id-pkix-ocsp-nocheck: its value is NULL (RFC 6960 4.2.2.2.1). */
static int add_nocheck(capstan_ctx *ctx, X509 *cert)
{
	static const unsigned char null_der[] = { 0x05, 0x00 };
	ASN1_OCTET_STRING *value = ASN1_OCTET_STRING_new();
	X509_EXTENSION *ext = NULL;
	int ok = value && ASN1_OCTET_STRING_set(value, null_der, sizeof(null_der)) == 1 &&
		(ext = X509_EXTENSION_create_by_NID(NULL, NID_id_pkix_OCSP_noCheck, 0, value)) &&
		X509_add_ext(cert, ext, -1) == 1;

	X509_EXTENSION_free(ext);
	ASN1_OCTET_STRING_free(value);
	return ok ? 0 : capstan_ossl_error(ctx, CAPSTAN_ERROR, "cannot add extension noCheck");
}

/* The CA's subject with its CN replaced by "<CN> OCSP Responder". */
static int responder_subject(capstan_ctx *ctx, X509 *cert, X509 *ca)
{
	X509_NAME *name = X509_NAME_dup(X509_get_subject_name(ca));
	char *cn = capstan_x509_name_cn(X509_get_subject_name(ca));
	char *subject = capstan_aprintf("%s OCSP Responder", cn ? cn : "CA");
	int i, ok = name && subject;

	while (ok && (i = X509_NAME_get_index_by_NID(name, NID_commonName, -1)) >= 0)
		X509_NAME_ENTRY_free(X509_NAME_delete_entry(name, i));
	ok = ok && X509_NAME_add_entry_by_NID(name, NID_commonName, MBSTRING_UTF8, (unsigned char *)subject, -1, -1, 0) == 1 &&
		X509_set_subject_name(cert, name) == 1 && X509_set_issuer_name(cert, X509_get_subject_name(ca)) == 1;
	X509_NAME_free(name);
	free(cn);
	free(subject);
	return ok ? 0 : capstan_ossl_error(ctx, CAPSTAN_ERROR, "cannot name the OCSP responder");
}

static int responder_fields(capstan_ctx *ctx, X509 *cert, X509 *ca, const capstan_key *key, time_t nb, time_t na)
{
	unsigned char serial[CAPSTAN_SERIAL_LEN];
	char hex[2 * CAPSTAN_SERIAL_LEN + 1];
	BIGNUM *bn = NULL;
	ASN1_INTEGER *number = NULL;
	int rc, ok;

	if ((rc = capstan_serial_generate(ctx, serial, hex)) < 0)
		return rc;
	ok = (bn = BN_bin2bn(serial, sizeof(serial), NULL)) && (number = BN_to_ASN1_INTEGER(bn, NULL)) &&
		X509_set_version(cert, X509_VERSION_3) == 1 && X509_set_serialNumber(cert, number) == 1 &&
		X509_time_adj_ex(X509_getm_notBefore(cert), 0, 0, &nb) && X509_time_adj_ex(X509_getm_notAfter(cert), 0, 0, &na);
	BN_free(bn);
	ASN1_INTEGER_free(number);
	if (!ok)
		return capstan_ossl_error(ctx, CAPSTAN_ERROR, "cannot set the OCSP responder's serial and validity");
	if ((rc = responder_subject(ctx, cert, ca)) < 0)
		return rc;
	return capstan_key_set_cert_pubkey(ctx, (capstan_key *)key, cert);
}

int capstan_ocsp_responder_sign(capstan_buf *out, capstan_ctx *ctx, const unsigned char *ca_der, size_t ca_len,
	const capstan_key *ca_key, const capstan_key *responder_key, time_t not_before, time_t not_after)
{
	X509 *ca = NULL, *cert = NULL;
	EVP_MD_CTX *mctx = NULL;
	unsigned char *der = NULL;
	X509V3_CTX v3;
	int rc, len;

	if ((rc = capstan_x509_from_der(ctx, &ca, ca_der, ca_len)) < 0)
		return rc;
	if (!(cert = X509_new_ex(ctx->libctx, NULL)) || !(mctx = EVP_MD_CTX_new())) {
		rc = capstan_error_oom(ctx);
		goto done;
	}
	X509V3_set_ctx(&v3, ca, cert, NULL, NULL, 0);
	if ((rc = responder_fields(ctx, cert, ca, responder_key, not_before, not_after)) < 0 ||
	    (rc = add_ext(ctx, cert, &v3, NID_basic_constraints, "critical,CA:FALSE")) < 0 ||
	    (rc = add_ext(ctx, cert, &v3, NID_key_usage, "critical,digitalSignature")) < 0 ||
	    (rc = add_ext(ctx, cert, &v3, NID_ext_key_usage, "OCSPSigning")) < 0 ||
	    (rc = add_nocheck(ctx, cert)) < 0 ||
	    (rc = add_ext(ctx, cert, &v3, NID_subject_key_identifier, "hash")) < 0 ||
	    (rc = add_ext(ctx, cert, &v3, NID_authority_key_identifier, "keyid:always")) < 0)
		goto done;
	if (capstan_ossl_sign_init(ctx, mctx, ca_key->pkey, capstan_signing_digest(ca_key)) != 1 ||
	    X509_sign_ctx(cert, mctx) <= 0) {
		rc = capstan_ossl_error(ctx, CAPSTAN_ERROR, "cannot sign the OCSP responder certificate");
		goto done;
	}
	if ((rc = capstan_lint_signed(ctx, cert, &(capstan_lint_hint){ .subject_key = responder_key->type,
		    .issuer_key = ca_key->type }, "the OCSP responder")) < 0)
		goto done;
	if ((len = i2d_X509(cert, &der)) <= 0) {
		rc = capstan_ossl_error(ctx, CAPSTAN_ERROR, "cannot encode the OCSP responder certificate");
		goto done;
	}
	rc = capstan_buf_set(ctx, out, der, (size_t)len);
done:
	OPENSSL_free(der);
	EVP_MD_CTX_free(mctx);
	X509_free(cert);
	X509_free(ca);
	return rc;
}
