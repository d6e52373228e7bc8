/* Building, signing and reading X.509 certificates. */
#include <stdio.h>
#include <arpa/inet.h>
#include <ctype.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <capstan/parse.h>

#include "base/base.h"
#include "crypto_internal.h"
#include "ossl.h"
#include "x509.h"

int capstan_serial_generate(capstan_ctx *ctx, unsigned char serial[CAPSTAN_SERIAL_LEN],
	char hex[2 * CAPSTAN_SERIAL_LEN + 1])
{
	int rc;

	if ((rc = capstan_random_bytes(ctx, serial, CAPSTAN_SERIAL_LEN)) < 0)
		return rc;
	/* Positive (top bit clear) and with a non-zero first byte, so the DER
	 * INTEGER keeps all 16 bytes and the hex form always has 32 digits. */
	serial[0] = (unsigned char)((serial[0] & 0x7f) | 0x40);
	capstan_hex_encode(hex, serial, CAPSTAN_SERIAL_LEN);
	return 0;
}

static int add_ext(capstan_ctx *ctx, X509 *cert, X509V3_CTX *v3, int nid, const char *value)
{
	/* Only constant strings reach here: user input never goes through the
	 * configuration syntax, where a comma could add an extension. */
	X509_EXTENSION *ext = X509V3_EXT_nconf_nid(NULL, v3, nid, value);
	int ok = ext && X509_add_ext(cert, ext, -1) == 1;

	X509_EXTENSION_free(ext);
	return ok ? 0 : capstan_ossl_error(ctx, CAPSTAN_ERROR, "cannot add extension %s = %s",
		OBJ_nid2sn(nid), value);
}

static GENERAL_NAME *san_to_general_name(const char *san)
{
	GENERAL_NAME *gen = GENERAL_NAME_new();
	const char *value = strchr(san, ':') + 1;
	unsigned char ip[16];
	size_t iplen;
	int type;

	if (!gen)
		return NULL;
	if (strncmp(san, "IP:", 3) == 0) {
		ASN1_OCTET_STRING *os = ASN1_OCTET_STRING_new();
		if (!os || capstan_parse_ip(value, ip, &iplen, NULL) < 0 ||
		    ASN1_OCTET_STRING_set(os, ip, (int)iplen) != 1) {
			ASN1_OCTET_STRING_free(os);
			GENERAL_NAME_free(gen);
			return NULL;
		}
		GENERAL_NAME_set0_value(gen, GEN_IPADD, os);
		return gen;
	}
	if (strncmp(san, "DNS:", 4) == 0)
		type = GEN_DNS;
	else if (strncmp(san, "URI:", 4) == 0)
		type = GEN_URI;
	else
		type = GEN_EMAIL;
	ASN1_IA5STRING *ia5 = ASN1_IA5STRING_new();
	if (!ia5 || ASN1_STRING_set(ia5, value, -1) != 1) {
		ASN1_IA5STRING_free(ia5);
		GENERAL_NAME_free(gen);
		return NULL;
	}
	GENERAL_NAME_set0_value(gen, type, ia5);
	return gen;
}

static int add_sans(capstan_ctx *ctx, X509 *cert, const capstan_strlist *sans)
{
	GENERAL_NAMES *gens = sk_GENERAL_NAME_new_null();
	int rc = 0;

	if (!gens)
		return capstan_error_oom(ctx);
	for (size_t i = 0; i < sans->count; i++) {
		GENERAL_NAME *gen = san_to_general_name(sans->items[i]);
		if (!gen || !sk_GENERAL_NAME_push(gens, gen)) {
			GENERAL_NAME_free(gen);
			rc = capstan_ossl_error(ctx, CAPSTAN_EINVALID, "cannot encode SAN '%s'", sans->items[i]);
			goto done;
		}
	}
	if (X509_add1_ext_i2d(cert, NID_subject_alt_name, gens, 0, X509V3_ADD_DEFAULT) != 1)
		rc = capstan_ossl_error(ctx, CAPSTAN_ERROR, "cannot add the subjectAltName");
done:
	GENERAL_NAMES_free(gens);
	return rc;
}

static int add_extensions(capstan_ctx *ctx, X509 *cert, X509 *issuer,
	const capstan_x509_template *tmpl, const capstan_key *subject_key)
{
	static const char *const eku[CAPSTAN_PROFILE__COUNT] = {
		[CAPSTAN_PROFILE_SERVER] = "serverAuth",
		[CAPSTAN_PROFILE_CLIENT] = "clientAuth",
		[CAPSTAN_PROFILE_PEER] = "serverAuth,clientAuth",
	};
	int is_rsa = EVP_PKEY_is_a(subject_key->pkey, "RSA");
	X509V3_CTX v3;
	int rc;

	X509V3_set_ctx(&v3, issuer, cert, NULL, NULL, 0);
	switch (tmpl->kind) {
	case CAPSTAN_KIND_ROOT:
		if ((rc = add_ext(ctx, cert, &v3, NID_basic_constraints, "critical,CA:TRUE")) < 0 ||
		    (rc = add_ext(ctx, cert, &v3, NID_key_usage, "critical,keyCertSign,cRLSign")) < 0 ||
		    (rc = add_ext(ctx, cert, &v3, NID_subject_key_identifier, "hash")) < 0)
			return rc;
		return 0;
	case CAPSTAN_KIND_INTERMEDIATE:
		if ((rc = add_ext(ctx, cert, &v3, NID_basic_constraints, "critical,CA:TRUE,pathlen:0")) < 0 ||
		    (rc = add_ext(ctx, cert, &v3, NID_key_usage, "critical,keyCertSign,cRLSign")) < 0 ||
		    (rc = add_ext(ctx, cert, &v3, NID_subject_key_identifier, "hash")) < 0 ||
		    (rc = add_ext(ctx, cert, &v3, NID_authority_key_identifier, "keyid:always")) < 0)
			return rc;
		if (tmpl->name_constraints)
			return add_ext(ctx, cert, &v3, NID_name_constraints, tmpl->name_constraints);
		return 0;
	case CAPSTAN_KIND_LEAF:
		if ((rc = add_ext(ctx, cert, &v3, NID_basic_constraints, "critical,CA:FALSE")) < 0 ||
		    (rc = add_ext(ctx, cert, &v3, NID_key_usage, is_rsa
			    ? "critical,digitalSignature,keyEncipherment" : "critical,digitalSignature")) < 0 ||
		    (rc = add_ext(ctx, cert, &v3, NID_ext_key_usage, eku[tmpl->profile])) < 0 ||
		    (rc = add_ext(ctx, cert, &v3, NID_subject_key_identifier, "hash")) < 0 ||
		    (rc = add_ext(ctx, cert, &v3, NID_authority_key_identifier, "keyid:always")) < 0)
			return rc;
		if (tmpl->sans && tmpl->sans->count)
			return add_sans(ctx, cert, tmpl->sans);
		return 0;
	}
	return capstan_error(ctx, CAPSTAN_EINVALID, "unknown certificate kind");
}

static char *name_to_string(const X509_NAME *name);

struct capstan_x509_issuer {
	X509 *cert;
	/* The authorityKeyIdentifier of what it signs, DER (SEQUENCE { [0] its
	 * subjectKeyIdentifier }): made once, not per certificate. 0: none. */
	unsigned char akid[4 + 64];
	size_t akid_len;
	char *subject;          /* its subject as text, what it signs say as issuer */
	/* The crlDistributionPoints and authorityInfoAccess values (DER) of the
	 * leaves it signs (capstan_x509_issuer_set_public_url); NULL: none. */
	unsigned char *cdp, *aia;
	size_t cdp_len, aia_len;
};

/* One extension from its value's DER. */
static int add_ext_der(X509 *cert, int nid, int critical, const unsigned char *der, size_t len)
{
	ASN1_OCTET_STRING *value = ASN1_OCTET_STRING_new();
	X509_EXTENSION *ext = NULL;
	int ok = value && ASN1_OCTET_STRING_set(value, der, (int)len) == 1 &&
		(ext = X509_EXTENSION_create_by_NID(NULL, nid, critical, value)) && X509_add_ext(cert, ext, -1) == 1;

	X509_EXTENSION_free(ext);
	ASN1_OCTET_STRING_free(value);
	return ok;
}

/*
 * A leaf's extensions, the bytes add_extensions() makes, from their DER:
 * X509V3_EXT_nconf_nid parses its strings and looks each name up, computes
 * the key identifier through a fetch of SHA-1 and reads the issuer's, per
 * certificate (~5% of a batch).
 */
static int add_leaf_extensions(capstan_ctx *ctx, X509 *cert, const capstan_x509_issuer *issuer,
	const capstan_x509_template *tmpl, capstan_key *subject_key)
{
	static const unsigned char not_ca[] = { 0x30, 0x00 };
	static const unsigned char sign[] = { 0x03, 0x02, 0x07, 0x80 }, sign_encipher[] = { 0x03, 0x02, 0x05, 0xa0 };
	/* SEQUENCE OF serverAuth (1.3.6.1.5.5.7.3.1), clientAuth (.2) or both */
	static const unsigned char eku[CAPSTAN_PROFILE__COUNT][22] = {
		[CAPSTAN_PROFILE_SERVER] = { 0x30, 0x0a, 0x06, 0x08, 0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x03, 0x01 },
		[CAPSTAN_PROFILE_CLIENT] = { 0x30, 0x0a, 0x06, 0x08, 0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x03, 0x02 },
		[CAPSTAN_PROFILE_PEER] = { 0x30, 0x14, 0x06, 0x08, 0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x03, 0x01,
			0x06, 0x08, 0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x03, 0x02 },
	};
	unsigned char skid[2 + 20] = { V_ASN1_OCTET_STRING, 20 };
	int rsa = subject_key->type == CAPSTAN_KEY_RSA_2048 || subject_key->type == CAPSTAN_KEY_RSA_3072 ||
		subject_key->type == CAPSTAN_KEY_RSA_4096, rc;

	if ((unsigned)tmpl->profile >= CAPSTAN_PROFILE__COUNT)
		return capstan_error(ctx, CAPSTAN_EINVALID, "unknown profile");
	if ((rc = capstan_key_skid(ctx, subject_key, skid + 2)) < 0)
		return rc;
	if (!add_ext_der(cert, NID_basic_constraints, 1, not_ca, sizeof(not_ca)) ||
	    !add_ext_der(cert, NID_key_usage, 1, rsa ? sign_encipher : sign, sizeof(sign)) ||
	    !add_ext_der(cert, NID_ext_key_usage, 0, eku[tmpl->profile], 2 + (size_t)eku[tmpl->profile][1]) ||
	    !add_ext_der(cert, NID_subject_key_identifier, 0, skid, sizeof(skid)) ||
	    !add_ext_der(cert, NID_authority_key_identifier, 0, issuer->akid, issuer->akid_len))
		return capstan_ossl_error(ctx, CAPSTAN_ERROR, "cannot add the extensions");
	if (tmpl->sans && tmpl->sans->count)
		return add_sans(ctx, cert, tmpl->sans);
	return 0;
}

static int set_subject(capstan_ctx *ctx, X509 *cert, const capstan_x509_template *tmpl)
{
	X509_NAME *name = X509_get_subject_name(cert);

	if ((tmpl->org && X509_NAME_add_entry_by_txt(name, "O", MBSTRING_UTF8,
		    (const unsigned char *)tmpl->org, -1, -1, 0) != 1) ||
	    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
		    (const unsigned char *)tmpl->cn, -1, -1, 0) != 1)
		return capstan_ossl_error(ctx, CAPSTAN_EINVALID, "cannot set the subject CN '%s'", tmpl->cn);
	return 0;
}

const char *capstan_signing_digest(const capstan_key *issuer_key)
{
	switch (issuer_key->type) {
	case CAPSTAN_KEY_EC_P384: return "SHA2-384";
	case CAPSTAN_KEY_ED25519: return NULL;
	default: return "SHA2-256";
	}
}

static int set_validity_and_serial(capstan_ctx *ctx, X509 *cert, const capstan_x509_template *tmpl)
{
	BIGNUM *bn = BN_bin2bn(tmpl->serial, CAPSTAN_SERIAL_LEN, NULL);
	ASN1_INTEGER *serial = bn ? BN_to_ASN1_INTEGER(bn, NULL) : NULL;
	ASN1_TIME *nb = ASN1_TIME_set(NULL, tmpl->not_before);
	ASN1_TIME *na = ASN1_TIME_set(NULL, tmpl->not_after);
	int ok = serial && nb && na &&
		X509_set_version(cert, X509_VERSION_3) == 1 &&
		X509_set_serialNumber(cert, serial) == 1 &&
		X509_set1_notBefore(cert, nb) == 1 &&
		X509_set1_notAfter(cert, na) == 1;

	BN_free(bn);
	ASN1_INTEGER_free(serial);
	ASN1_TIME_free(nb);
	ASN1_TIME_free(na);
	return ok ? 0 : capstan_ossl_error(ctx, CAPSTAN_ERROR, "cannot set the serial and validity");
}

int capstan_x509_from_der(capstan_ctx *ctx, X509 **out, const unsigned char *der, size_t len)
{
	const unsigned char *p = der;

	if (!(*out = X509_new_ex(ctx->libctx, NULL)))
		return capstan_error_oom(ctx);
	if (!d2i_X509(out, &p, (long)len) || p != der + len) {
		X509_free(*out);
		*out = NULL;
		return capstan_ossl_error(ctx, CAPSTAN_EINVALID, "not a DER certificate");
	}
	return 0;
}

int capstan_x509_issuer_new(capstan_x509_issuer **out, capstan_ctx *ctx, const unsigned char *der, size_t len)
{
	capstan_x509_issuer *i = calloc(1, sizeof(*i));
	const ASN1_OCTET_STRING *skid;
	int rc;

	if (!i)
		return capstan_error_oom(ctx);
	if ((rc = capstan_x509_from_der(ctx, &i->cert, der, len)) < 0) {
		free(i);
		return rc;
	}
	if (!(i->subject = name_to_string(X509_get_subject_name(i->cert)))) {
		capstan_x509_issuer_free(i);
		return capstan_error_oom(ctx);
	}
	if ((skid = X509_get0_subject_key_id(i->cert)) && skid->length > 0 && skid->length <= 64) {
		i->akid[0] = V_ASN1_SEQUENCE | V_ASN1_CONSTRUCTED;
		i->akid[1] = (unsigned char)(2 + skid->length);
		i->akid[2] = V_ASN1_CONTEXT_SPECIFIC | 0; /* [0] IMPLICIT keyIdentifier */
		i->akid[3] = (unsigned char)skid->length;
		memcpy(i->akid + 4, skid->data, (size_t)skid->length);
		i->akid_len = 4 + (size_t)skid->length;
	}
	*out = i;
	return 0;
}

static GENERAL_NAME *uri_name(const char *uri)
{
	GENERAL_NAME *gen = GENERAL_NAME_new();
	ASN1_IA5STRING *ia5 = ASN1_IA5STRING_new();

	if (!gen || !ia5 || ASN1_STRING_set(ia5, uri, -1) != 1) {
		GENERAL_NAME_free(gen);
		ASN1_IA5STRING_free(ia5);
		return NULL;
	}
	GENERAL_NAME_set0_value(gen, GEN_URI, ia5);
	return gen;
}

/* CRLDistributionPoints: one DistributionPoint whose fullName is the URI. */
static int cdp_der(const char *uri, unsigned char **der, size_t *len)
{
	CRL_DIST_POINTS *points = sk_DIST_POINT_new_null();
	DIST_POINT *dp = DIST_POINT_new();
	GENERAL_NAME *gen = uri_name(uri);
	int n = -1;

	if (dp && gen && (dp->distpoint = DIST_POINT_NAME_new())) {
		dp->distpoint->type = 0; /* fullName */
		if ((dp->distpoint->name.fullname = sk_GENERAL_NAME_new_null()) &&
		    sk_GENERAL_NAME_push(dp->distpoint->name.fullname, gen)) {
			gen = NULL;
			if (points && sk_DIST_POINT_push(points, dp)) {
				dp = NULL;
				n = i2d_CRL_DIST_POINTS(points, der);
			}
		}
	}
	GENERAL_NAME_free(gen);
	DIST_POINT_free(dp);
	sk_DIST_POINT_pop_free(points, DIST_POINT_free);
	*len = n > 0 ? (size_t)n : 0;
	return n > 0;
}

/* AuthorityInfoAccess: one id-ad-ocsp AccessDescription. */
static int aia_der(const char *uri, unsigned char **der, size_t *len)
{
	AUTHORITY_INFO_ACCESS *aia = sk_ACCESS_DESCRIPTION_new_null();
	ACCESS_DESCRIPTION *ad = ACCESS_DESCRIPTION_new();
	int n = -1;

	if (aia && ad && sk_ACCESS_DESCRIPTION_push(aia, ad)) {
		ASN1_OBJECT_free(ad->method);
		ad->method = OBJ_nid2obj(NID_ad_OCSP);
		GENERAL_NAME_free(ad->location);
		if ((ad->location = uri_name(uri)))
			n = i2d_AUTHORITY_INFO_ACCESS(aia, der);
	} else {
		ACCESS_DESCRIPTION_free(ad);
	}
	sk_ACCESS_DESCRIPTION_pop_free(aia, ACCESS_DESCRIPTION_free);
	*len = n > 0 ? (size_t)n : 0;
	return n > 0;
}

int capstan_x509_issuer_set_public_url(capstan_x509_issuer *i, capstan_ctx *ctx, const char *url)
{
	const ASN1_OCTET_STRING *skid = X509_get0_subject_key_id(i->cert);
	char *crl = NULL, *ocsp = NULL, hex[2 * 64 + 1];
	int ok = 1;

	OPENSSL_free(i->cdp);
	OPENSSL_free(i->aia);
	i->cdp = i->aia = NULL;
	i->cdp_len = i->aia_len = 0;
	if (!url)
		return 0;
	/* The CRL is named by its issuer's key identifier: the same name for
	 * every certificate it signs, and a new one when the CA is rotated. */
	if (skid && skid->length > 0 && skid->length <= 64) {
		capstan_hex_encode(hex, skid->data, (size_t)skid->length);
		ok = (crl = capstan_aprintf("%s/crl/%s.crl", url, hex)) && cdp_der(crl, &i->cdp, &i->cdp_len);
	}
	ok = ok && (ocsp = capstan_aprintf("%s/ocsp", url)) && aia_der(ocsp, &i->aia, &i->aia_len);
	free(crl);
	free(ocsp);
	return ok ? 0 : capstan_ossl_error(ctx, CAPSTAN_ERROR, "cannot encode the revocation URLs of '%s'", url);
}

void capstan_x509_issuer_free(capstan_x509_issuer *i)
{
	if (!i)
		return;
	OPENSSL_free(i->cdp);
	OPENSSL_free(i->aia);
	X509_free(i->cert);
	free(i->subject);
	free(i);
}

/* What the certificate says, from the template and the certificate in memory. */
static int info_from_memory(capstan_x509_info *info, capstan_ctx *ctx, X509 *cert, const capstan_buf *der,
	const capstan_x509_template *tmpl, const capstan_key *subject_key, const capstan_x509_issuer *issuer)
{
	unsigned char md[CAPSTAN_SHA256_LEN], ip[16];
	char text[64];
	size_t len;
	int rc;

	memset(info, 0, sizeof(*info));
	capstan_hex_encode(info->serial, tmpl->serial, CAPSTAN_SERIAL_LEN);
	if ((rc = capstan_sha256(ctx, der->data, der->len, md)) < 0)
		return rc;
	capstan_hex_encode(info->fingerprint_sha256, md, CAPSTAN_SHA256_LEN);
	info->not_before = tmpl->not_before;
	info->not_after = tmpl->not_after;
	info->key_type = subject_key->type;
	info->subject = name_to_string(X509_get_subject_name(cert));
	info->issuer = issuer ? strdup(issuer->subject) : name_to_string(X509_get_issuer_name(cert));
	info->cn = strdup(tmpl->cn);
	for (size_t i = 0; rc == 0 && tmpl->sans && i < tmpl->sans->count; i++) {
		const char *san = tmpl->sans->items[i];
		/* Addresses as the certificate will read back: canonical text. */
		if (strncmp(san, "IP:", 3) == 0 && capstan_parse_ip(san + 3, ip, &len, NULL) == 0 &&
		    capstan_ip_to_text(ip, len, text + 3, sizeof(text) - 3) == 0) {
			memcpy(text, "IP:", 3);
			san = text;
		}
		rc = capstan_strlist_push(&info->sans, san);
	}
	if (rc < 0 || !info->subject || !info->issuer || !info->cn) {
		capstan_x509_info_clear(info);
		return capstan_error_oom(ctx);
	}
	return 0;
}

int capstan_x509_sign_with(capstan_buf *out, capstan_x509_info *info, capstan_ctx *ctx,
	const capstan_x509_template *tmpl, const capstan_key *subject_key, const capstan_x509_issuer *issuer_handle,
	const capstan_key *issuer_key)
{
	X509 *cert = NULL, *issuer = issuer_handle ? issuer_handle->cert : NULL;
	EVP_MD_CTX *mctx = NULL;
	unsigned char *der = NULL;
	capstan_lint_hint hint;
	int rc, len;

	if (!(cert = X509_new_ex(ctx->libctx, NULL)) || !(mctx = EVP_MD_CTX_new())) {
		rc = capstan_error_oom(ctx);
		goto done;
	}
	if ((rc = set_validity_and_serial(ctx, cert, tmpl)) < 0 ||
	    (rc = set_subject(ctx, cert, tmpl)) < 0)
		goto done;
	if (X509_set_issuer_name(cert, X509_get_subject_name(issuer ? issuer : cert)) != 1) {
		rc = capstan_ossl_error(ctx, CAPSTAN_ERROR, "cannot set the issuer name");
		goto done;
	}
	if ((rc = capstan_key_set_cert_pubkey(ctx, (capstan_key *)subject_key, cert)) < 0)
		goto done;
	if (tmpl->kind == CAPSTAN_KIND_LEAF && issuer_handle && issuer_handle->akid_len)
		rc = add_leaf_extensions(ctx, cert, issuer_handle, tmpl, (capstan_key *)subject_key);
	else
		rc = add_extensions(ctx, cert, issuer ? issuer : cert, tmpl, subject_key);
	if (rc == 0 && tmpl->kind == CAPSTAN_KIND_LEAF && issuer_handle &&
	    ((issuer_handle->cdp && !add_ext_der(cert, NID_crl_distribution_points, 0, issuer_handle->cdp,
		    issuer_handle->cdp_len)) ||
	     (issuer_handle->aia && !add_ext_der(cert, NID_info_access, 0, issuer_handle->aia, issuer_handle->aia_len))))
		rc = capstan_ossl_error(ctx, CAPSTAN_ERROR, "cannot add the revocation URLs");
	if (rc < 0)
		goto done;
	if (capstan_ossl_sign_init(ctx, mctx, issuer_key->pkey, capstan_signing_digest(issuer_key)) != 1 ||
	    X509_sign_ctx(cert, mctx) <= 0) {
		rc = capstan_ossl_error(ctx, CAPSTAN_ERROR, "cannot sign the certificate for '%s'", tmpl->cn);
		goto done;
	}
	/* Before it is encoded, so a certificate that breaks a rule is never
	 * handed back (nor stored). */
	hint = (capstan_lint_hint){ .subject_key = subject_key->type, .issuer_key = issuer_key->type,
		.has_profile = tmpl->kind == CAPSTAN_KIND_LEAF, .profile = tmpl->profile };
	if ((rc = capstan_lint_signed(ctx, cert, &hint, tmpl->cn)) < 0)
		goto done;
	if ((len = i2d_X509(cert, &der)) <= 0) {
		rc = capstan_ossl_error(ctx, CAPSTAN_ERROR, "cannot encode the certificate");
		goto done;
	}
	if ((rc = capstan_buf_set(ctx, out, der, (size_t)len)) == 0 && info &&
	    (rc = info_from_memory(info, ctx, cert, out, tmpl, subject_key, issuer_handle)) < 0)
		capstan_buf_free(out);
done:
	OPENSSL_free(der);
	EVP_MD_CTX_free(mctx);
	X509_free(cert);
	return rc;
}

int capstan_x509_sign(capstan_buf *out, capstan_ctx *ctx, const capstan_x509_template *tmpl,
	const capstan_key *subject_key, const unsigned char *issuer_der, size_t issuer_len,
	const capstan_key *issuer_key)
{
	capstan_x509_issuer *issuer = NULL;
	int rc;

	if (issuer_der && (rc = capstan_x509_issuer_new(&issuer, ctx, issuer_der, issuer_len)) < 0)
		return rc;
	rc = capstan_x509_sign_with(out, NULL, ctx, tmpl, subject_key, issuer, issuer_key);
	capstan_x509_issuer_free(issuer);
	return rc;
}

int capstan_x509_renewal_read(char **cn, capstan_key **key, capstan_ctx *ctx, const unsigned char *der,
	size_t len)
{
	X509 *cert = NULL;
	EVP_PKEY *pkey = NULL;
	int rc;

	if ((rc = capstan_x509_from_der(ctx, &cert, der, len)) < 0)
		return rc;
	*cn = capstan_x509_name_cn(X509_get_subject_name(cert));
	if (key && !(pkey = X509_get_pubkey(cert)))
		rc = capstan_ossl_error(ctx, CAPSTAN_EINVALID, "cannot read the certificate's public key");
	else if (key && (rc = capstan_key_wrap(key, ctx, pkey)) < 0)
		EVP_PKEY_free(pkey);
	X509_free(cert);
	if (rc < 0) {
		free(*cn);
		*cn = NULL;
	}
	return rc;
}

static char *name_to_string(const X509_NAME *name)
{
	BIO *bio = BIO_new(BIO_s_mem());
	char *data, *out = NULL;
	long len;

	/* RFC 2253 order and escaping, but UTF-8 left as it is. */
	if (bio && X509_NAME_print_ex(bio, name, 0, XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB) >= 0) {
		len = BIO_get_mem_data(bio, &data);
		/* An empty name (a SAN-only certificate's subject) prints nothing: no data at all. */
		out = len > 0 ? strndup(data, (size_t)len) : strdup("");
	}
	BIO_free(bio);
	return out;
}

char *capstan_x509_name_cn(const X509_NAME *name)
{
	int i = X509_NAME_get_index_by_NID(name, NID_commonName, -1);
	unsigned char *utf8 = NULL;
	char *out = NULL;
	int n;

	if (i < 0)
		return NULL;
	n = ASN1_STRING_to_UTF8(&utf8, X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, i)));
	if (n >= 0 && !memchr(utf8, '\0', (size_t)n))
		out = strndup((const char *)utf8, (size_t)n);
	OPENSSL_free(utf8);
	return out;
}

static int asn1_time_to_time_t(const ASN1_TIME *t, time_t *out)
{
	struct tm tm;

	if (ASN1_TIME_to_tm(t, &tm) != 1)
		return -1;
	*out = timegm(&tm);
	return 0;
}

int capstan_general_names_to_strlist(capstan_ctx *ctx, const GENERAL_NAMES *gens, const char *whose,
	capstan_strlist *out)
{
	for (int i = 0; i < sk_GENERAL_NAME_num(gens); i++) {
		const GENERAL_NAME *gen = sk_GENERAL_NAME_value(gens, i);
		char buf[1100], addr[INET6_ADDRSTRLEN];
		int type;
		const ASN1_STRING *s = GENERAL_NAME_get0_value(gen, &type);
		const char *prefix = type == GEN_DNS ? "DNS" : type == GEN_URI ? "URI" :
			type == GEN_EMAIL ? "email" : NULL;

		if (type == GEN_IPADD) {
			int len = ASN1_STRING_length(s);
			if ((len != 4 && len != 16) || !inet_ntop(len == 4 ? AF_INET : AF_INET6,
				    ASN1_STRING_get0_data(s), addr, sizeof(addr)))
				continue;
			snprintf(buf, sizeof(buf), "IP:%s", addr);
		} else if (prefix) {
			int len = ASN1_STRING_length(s);
			/* "good.internal\0.evil.com" would read as good.internal here
			 * and as itself to a consumer that keeps the length. */
			if (memchr(ASN1_STRING_get0_data(s), '\0', (size_t)len))
				return capstan_error(ctx, CAPSTAN_EINVALID, "%s subjectAltName has %s with a NUL byte in it",
					whose, type == GEN_DNS ? "a DNS name" : type == GEN_URI ? "a URI" : "an e-mail address");
			snprintf(buf, sizeof(buf), "%s:%.*s", prefix, len, (const char *)ASN1_STRING_get0_data(s));
		} else {
			continue;
		}
		if (capstan_strlist_push(out, buf) < 0)
			return capstan_error_oom(ctx);
	}
	return 0;
}

int capstan_x509_info_read(capstan_x509_info *out, capstan_ctx *ctx,
	const unsigned char *der, size_t len)
{
	X509 *cert = NULL;
	GENERAL_NAMES *gens = NULL;
	BIGNUM *bn = NULL;
	unsigned char md[CAPSTAN_SHA256_LEN], serial[20];
	int rc, n;

	memset(out, 0, sizeof(*out));
	if ((rc = capstan_x509_from_der(ctx, &cert, der, len)) < 0)
		return rc;
	bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert), NULL);
	n = bn ? BN_num_bytes(bn) : -1;
	if (n < 1 || n > 20 || BN_bn2bin(bn, serial) != n) {
		rc = capstan_error(ctx, CAPSTAN_EINVALID, "certificate serial is not 1-20 bytes");
		goto done;
	}
	capstan_hex_encode(out->serial, serial, (size_t)n);
	if ((rc = capstan_sha256(ctx, der, len, md)) < 0)
		goto done;
	capstan_hex_encode(out->fingerprint_sha256, md, CAPSTAN_SHA256_LEN);
	out->subject = name_to_string(X509_get_subject_name(cert));
	out->cn = capstan_x509_name_cn(X509_get_subject_name(cert));
	out->issuer = name_to_string(X509_get_issuer_name(cert));
	if (!out->subject || !out->issuer ||
	    asn1_time_to_time_t(X509_get0_notBefore(cert), &out->not_before) < 0 ||
	    asn1_time_to_time_t(X509_get0_notAfter(cert), &out->not_after) < 0) {
		rc = capstan_ossl_error(ctx, CAPSTAN_EINVALID, "cannot read the certificate's names and dates");
		goto done;
	}
	if (!X509_get0_pubkey(cert) ||
	    (rc = capstan_key_classify(ctx, X509_get0_pubkey(cert), &out->key_type)) < 0) {
		rc = rc < 0 ? rc : capstan_ossl_error(ctx, CAPSTAN_EINVALID, "cannot read the public key");
		goto done;
	}
	gens = X509_get_ext_d2i(cert, NID_subject_alt_name, NULL, NULL);
	if (gens && (rc = capstan_general_names_to_strlist(ctx, gens, "the certificate's", &out->sans)) < 0)
		goto done;
	rc = 0;
done:
	GENERAL_NAMES_free(gens);
	BN_free(bn);
	X509_free(cert);
	if (rc < 0)
		capstan_x509_info_clear(out);
	return rc;
}

void capstan_x509_info_clear(capstan_x509_info *info)
{
	free(info->subject);
	free(info->cn);
	free(info->issuer);
	capstan_strlist_free(&info->sans);
	memset(info, 0, sizeof(*info));
}

/* Steps over one DER element at *p (within end), checking its tag; 0 when it
 * is not there or does not fit. With enter, *p moves into its contents. */
static int der_step(const unsigned char **p, const unsigned char *end, int want_tag, int enter)
{
	const unsigned char *q = *p;
	long len;
	int tag, xclass, ret;

	if (q >= end)
		return 0;
	/* 0x80: malformed or longer than the input; 0x01: indefinite length, not DER */
	ret = ASN1_get_object(&q, &len, &tag, &xclass, end - q);
	if ((ret & 0x81) || tag != want_tag || (want_tag && xclass != V_ASN1_UNIVERSAL))
		return 0;
	*p = enter ? q : q + len;
	return 1;
}

/* PEM is base64 around the DER: stored certificates were parsed when they
 * came in, so one is not parsed again (a decode per certificate is most of a
 * chain's cost in OpenSSL 3.0); only its outer element is checked. */
int capstan_x509_pem_append(capstan_buf *out, capstan_ctx *ctx, const unsigned char *der, size_t len)
{
	const unsigned char *p = der, *end = der + len;
	BIO *bio = NULL;
	char *data;
	long n;
	int rc;

	if (!der || len > LONG_MAX || !der_step(&p, end, V_ASN1_SEQUENCE, 0) || p != end)
		return capstan_error(ctx, CAPSTAN_ERROR, "cannot write PEM: not one DER certificate");
	if (!(bio = BIO_new(BIO_s_mem())) || PEM_write_bio(bio, PEM_STRING_X509, "", der, (long)len) <= 0) {
		rc = capstan_ossl_error(ctx, CAPSTAN_ERROR, "cannot write PEM");
		goto done;
	}
	n = BIO_get_mem_data(bio, &data);
	rc = capstan_buf_append(ctx, out, data, (size_t)n);
done:
	BIO_free(bio);
	return rc;
}

int capstan_x509_spki_sha256(capstan_ctx *ctx, const unsigned char *der, size_t len, unsigned char out[CAPSTAN_SHA256_LEN])
{
	const unsigned char *p = der, *end = der + len, *spki;

	/* Certificate ::= SEQUENCE { tbsCertificate SEQUENCE { [0] version OPTIONAL,
	 * serialNumber, signature, issuer, validity, subject, subjectPublicKeyInfo, ... } } */
	if (!der_step(&p, end, V_ASN1_SEQUENCE, 1) || !der_step(&p, end, V_ASN1_SEQUENCE, 1))
		goto bad;
	if (p < end && *p == 0xa0 && !der_step(&p, end, 0, 0))
		goto bad;
	if (!der_step(&p, end, V_ASN1_INTEGER, 0))
		goto bad;
	for (int i = 0; i < 4; i++)
		if (!der_step(&p, end, V_ASN1_SEQUENCE, 0))
			goto bad;
	spki = p;
	if (!der_step(&p, end, V_ASN1_SEQUENCE, 0))
		goto bad;
	return capstan_sha256(ctx, spki, (size_t)(p - spki), out);
bad:
	return capstan_error(ctx, CAPSTAN_EINVALID, "cannot find the certificate's public key");
}

int capstan_x509_serial_hex(capstan_ctx *ctx, const unsigned char *der, size_t len, char out[41])
{
	const unsigned char *p = der, *end = der + len, *q;
	long n;
	int tag, xclass;

	/* Walked, not parsed: an identity lookup per request must not pay for
	 * OpenSSL 3.0's decoding of the public key. */
	if (!der_step(&p, end, V_ASN1_SEQUENCE, 1) || !der_step(&p, end, V_ASN1_SEQUENCE, 1) ||
	    (p < end && *p == 0xa0 && !der_step(&p, end, 0, 0)))
		goto bad;
	q = p;
	if (!der_step(&p, end, V_ASN1_INTEGER, 0) || (ASN1_get_object(&q, &n, &tag, &xclass, end - q) & 0x80) ||
	    n < 1 || (*q & 0x80))
		goto bad; /* a negative serial is left to the parser */
	for (; n > 1 && *q == 0; q++, n--)
		;
	if (n > 20)
		goto bad;
	capstan_hex_encode(out, q, (size_t)n);
	return 0;
bad:
	return capstan_error(ctx, CAPSTAN_EINVALID, "cannot find the certificate's serial");
}

/* A keystore alias made from a certificate's CN (see crypto_internal.h). */
char *capstan_cert_alias(X509 *cert, int n)
{
	char *cn = capstan_x509_name_cn(X509_get_subject_name(cert));
	size_t len;

	if (!cn || !*cn) {
		free(cn);
		return capstan_aprintf("cert-%d", n);
	}
	for (char *p = cn; *p; p++)
		*p = isalnum((unsigned char)*p) || *p == '.' || *p == '_' ? (char)tolower((unsigned char)*p) : '-';
	len = strlen(cn);
	if (len > 64)
		cn[64] = '\0';
	return cn;
}
