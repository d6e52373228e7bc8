/*
 * The common CSR read without OpenSSL 3.0's generic key decoder.
 *
 * d2i_X509_REQ decodes the public key as it parses, through a decoder
 * context OpenSSL 3.0 builds anew for every key (it walks every decoder of
 * every provider): ~240 us of the ~400 us a CSR took to read and check,
 * the largest part of what serve spends on a signing. The CSRs clients
 * almost always send (an EC key on P-256 or P-384 as an uncompressed point,
 * or an Ed25519 key, signed with a SHA-2 ECDSA or EdDSA) are read here with
 * a template that leaves the key as bytes, made into a key from its parts
 * (EVP_PKEY_fromdata, EVP_PKEY_new_raw_public_key_ex) and verified over the
 * request info exactly as received.
 *
 * This path only ever says yes: anything it does not read with certainty,
 * including a signature that does not verify, sends the CSR to the generic
 * path (csr.c), which reads everything and words every refusal.
 */
#include <string.h>

#include <openssl/asn1t.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/objects.h>
#include <openssl/x509.h>

#include "crypto_internal.h"
#include "csr_fast.h"

typedef struct {
	ASN1_ENCODING enc; /* the SubjectPublicKeyInfo as received */
	X509_ALGOR *algorithm;
	ASN1_BIT_STRING *public_key;
} RAW_SPKI;

typedef struct {
	ASN1_ENCODING enc; /* the bytes the signature covers */
	ASN1_INTEGER *version;
	X509_NAME *subject;
	RAW_SPKI *spki;
	STACK_OF(X509_ATTRIBUTE) *attributes;
} RAW_REQ_INFO;

typedef struct {
	RAW_REQ_INFO *info;
	X509_ALGOR *signature_algorithm;
	ASN1_BIT_STRING *signature;
} RAW_REQ;

ASN1_SEQUENCE_enc(RAW_SPKI, enc, NULL) = {
	ASN1_SIMPLE(RAW_SPKI, algorithm, X509_ALGOR),
	ASN1_SIMPLE(RAW_SPKI, public_key, ASN1_BIT_STRING),
} ASN1_SEQUENCE_END_enc(RAW_SPKI, RAW_SPKI)

/* As OpenSSL's X509_REQ_INFO, attributes OPTIONAL as there. */
ASN1_SEQUENCE_enc(RAW_REQ_INFO, enc, NULL) = {
	ASN1_SIMPLE(RAW_REQ_INFO, version, ASN1_INTEGER),
	ASN1_SIMPLE(RAW_REQ_INFO, subject, X509_NAME),
	ASN1_SIMPLE(RAW_REQ_INFO, spki, RAW_SPKI),
	ASN1_IMP_SET_OF_OPT(RAW_REQ_INFO, attributes, X509_ATTRIBUTE, 0),
} ASN1_SEQUENCE_END_enc(RAW_REQ_INFO, RAW_REQ_INFO)

ASN1_SEQUENCE(RAW_REQ) = {
	ASN1_SIMPLE(RAW_REQ, info, RAW_REQ_INFO),
	ASN1_SIMPLE(RAW_REQ, signature_algorithm, X509_ALGOR),
	ASN1_SIMPLE(RAW_REQ, signature, ASN1_BIT_STRING),
} ASN1_SEQUENCE_END(RAW_REQ)

static int bits_whole(const ASN1_BIT_STRING *s)
{
	return (s->flags & ASN1_STRING_FLAG_BITS_LEFT) == 0 || (s->flags & 0x07) == 0;
}

/* An EC key on P-256 or P-384 as an uncompressed point, or an Ed25519 key;
 * NULL for anything else. */
static EVP_PKEY *key_from_parts(capstan_ctx *ctx, const RAW_SPKI *spki)
{
	const ASN1_OBJECT *alg;
	const void *param;
	int ptype, curve;
	const unsigned char *bits = spki->public_key->data;
	int len = spki->public_key->length;

	X509_ALGOR_get0(&alg, &ptype, &param, spki->algorithm);
	if (!bits_whole(spki->public_key) || len < 1)
		return NULL;
	if (OBJ_obj2nid(alg) == NID_ED25519)
		return ptype == V_ASN1_UNDEF && len == 32 ?
			EVP_PKEY_new_raw_public_key_ex(ctx->libctx, "ED25519", NULL, bits, 32) : NULL;
	if (OBJ_obj2nid(alg) != NID_X9_62_id_ecPublicKey || ptype != V_ASN1_OBJECT)
		return NULL;
	curve = OBJ_obj2nid(param);
	if (bits[0] != 0x04 || !((curve == NID_X9_62_prime256v1 && len == 65) || (curve == NID_secp384r1 && len == 97)))
		return NULL;

	OSSL_PARAM params[] = {
		OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, (char *)OBJ_nid2sn(curve), 0),
		OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY, (void *)bits, (size_t)len),
		OSSL_PARAM_construct_end(),
	};
	EVP_PKEY_CTX *pctx = EVP_PKEY_CTX_new_from_name(ctx->libctx, "EC", NULL);
	EVP_PKEY *pkey = NULL;

	if (!pctx || EVP_PKEY_fromdata_init(pctx) != 1 || EVP_PKEY_fromdata(pctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) != 1)
		pkey = NULL;
	EVP_PKEY_CTX_free(pctx);
	return pkey;
}

/* 1 when the signature is a SHA-2 ECDSA (or pure EdDSA) by pkey over the
 * request info as received. */
static int signature_verifies(capstan_ctx *ctx, const RAW_REQ *req, EVP_PKEY *pkey, int *sig_nid)
{
	const ASN1_OBJECT *alg;
	int ptype, md_nid = NID_undef, pk_nid = NID_undef, ok;
	const void *param;
	const char *mdname = NULL;
	EVP_MD_CTX *mctx;

	X509_ALGOR_get0(&alg, &ptype, &param, req->signature_algorithm);
	*sig_nid = OBJ_obj2nid(alg);
	if (ptype != V_ASN1_UNDEF || !bits_whole(req->signature))
		return 0;
	if (*sig_nid == NID_ED25519) {
		if (!EVP_PKEY_is_a(pkey, "ED25519"))
			return 0;
	} else {
		if (!OBJ_find_sigid_algs(*sig_nid, &md_nid, &pk_nid) || pk_nid != NID_X9_62_id_ecPublicKey ||
		    !EVP_PKEY_is_a(pkey, "EC") ||
		    (md_nid != NID_sha256 && md_nid != NID_sha384 && md_nid != NID_sha512))
			return 0;
		mdname = OBJ_nid2sn(md_nid);
	}
	if (!(mctx = EVP_MD_CTX_new()))
		return 0;
	ok = EVP_DigestVerifyInit_ex(mctx, NULL, mdname, ctx->libctx, NULL, pkey, NULL) == 1 &&
		EVP_DigestVerify(mctx, req->signature->data, (size_t)req->signature->length, req->info->enc.enc,
			req->info->enc.len) == 1;
	EVP_MD_CTX_free(mctx);
	return ok;
}

/* The extensionRequest attribute as X509_REQ_get_extensions reads it (the
 * PKCS#9 one first, then Microsoft's); 0 when it is there but unreadable. */
static int requested_extensions(const RAW_REQ_INFO *info, STACK_OF(X509_EXTENSION) **out)
{
	static const int nids[] = { NID_ext_req, NID_ms_ext_req };
	const ASN1_TYPE *ext = NULL;

	for (size_t n = 0; n < sizeof(nids) / sizeof(nids[0]) && !ext; n++)
		for (int i = 0; i < sk_X509_ATTRIBUTE_num(info->attributes) && !ext; i++) {
			X509_ATTRIBUTE *attr = sk_X509_ATTRIBUTE_value(info->attributes, i);
			if (OBJ_obj2nid(X509_ATTRIBUTE_get0_object(attr)) == nids[n])
				if (!(ext = X509_ATTRIBUTE_get0_type(attr, 0)))
					return 0;
		}
	if (!ext)
		return (*out = sk_X509_EXTENSION_new_null()) != NULL;
	if (ext->type != V_ASN1_SEQUENCE)
		return 0;
	return (*out = ASN1_TYPE_unpack_sequence(ASN1_ITEM_rptr(X509_EXTENSIONS), ext)) != NULL;
}

static int quick_public_check(capstan_ctx *ctx, EVP_PKEY *pkey)
{
	EVP_PKEY_CTX *pctx = EVP_PKEY_CTX_new_from_pkey(ctx->libctx, pkey, NULL);
	int ok = pctx && EVP_PKEY_public_check_quick(pctx) == 1;

	EVP_PKEY_CTX_free(pctx);
	return ok;
}

/* The key, wrapped and classified, its SPKI kept as received. */
static int wrap_key(capstan_ctx *ctx, EVP_PKEY *pkey, const RAW_SPKI *spki, capstan_key **out)
{
	capstan_key *key = NULL;

	if (capstan_key_wrap(&key, ctx, pkey) < 0)
		return 0;
	if (!(key->spki = malloc(spki->enc.len))) {
		key->pkey = NULL; /* the caller frees pkey */
		capstan_key_free(key);
		return 0;
	}
	memcpy(key->spki, spki->enc.enc, spki->enc.len);
	key->spki_len = spki->enc.len;
	*out = key;
	return 1;
}

int capstan_csr_read_fast(capstan_ctx *ctx, const unsigned char *der, size_t len, capstan_csr_fields *out)
{
	const unsigned char *p = der;
	RAW_REQ *req = (RAW_REQ *)ASN1_item_d2i(NULL, &p, (long)len, ASN1_ITEM_rptr(RAW_REQ));
	EVP_PKEY *pkey = NULL;
	int ok = 0;

	memset(out, 0, sizeof(*out));
	ERR_set_mark();
	if (!req || p != der + len || ASN1_INTEGER_get(req->info->version) != 0 || !req->info->enc.enc ||
	    !req->info->spki->enc.enc || !(pkey = key_from_parts(ctx, req->info->spki)))
		goto done;
	/* The generic path checks the key (capstan_key_wrap's policy, the
	 * provider's check) before the signature, for the same reason. */
	if (!quick_public_check(ctx, pkey) || !wrap_key(ctx, pkey, req->info->spki, &out->key))
		goto done;
	pkey = NULL; /* the key's now */
	if (!signature_verifies(ctx, req, out->key->pkey, &out->sig_nid) ||
	    !requested_extensions(req->info, &out->extensions) || !(out->subject = X509_NAME_dup(req->info->subject)))
		goto done;
	ok = 1;
done:
	ERR_pop_to_mark(); /* a no here is not an error: the generic path decides */
	if (!ok)
		capstan_csr_fields_clear(out);
	EVP_PKEY_free(pkey);
	ASN1_item_free((ASN1_VALUE *)req, ASN1_ITEM_rptr(RAW_REQ));
	return ok;
}

void capstan_csr_fields_clear(capstan_csr_fields *f)
{
	capstan_key_free(f->key);
	sk_X509_EXTENSION_pop_free(f->extensions, X509_EXTENSION_free);
	X509_NAME_free(f->subject);
	memset(f, 0, sizeof(*f));
}
