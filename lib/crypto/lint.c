/*
 * Linting certificates: RFC 5280's rules and capstan's profile, on an X509 in
 * memory. The signer runs the same checks on each certificate it makes (~2,000
 * a second in a batch), so nothing here re-encodes the certificate or decodes
 * its public key when the signer already knows it, and the extensions are
 * decoded one by one rather than through OpenSSL's cache (which also hashes
 * the whole certificate). Rule names are documented in capstan(1).
 */
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <capstan/lint.h>
#include <capstan/parse.h>

#include "base/base.h"
#include "crypto_internal.h"

typedef enum { FAM_UNKNOWN = 0, FAM_RSA, FAM_EC, FAM_ED25519 } key_family;
typedef enum { EXT_BC, EXT_KU, EXT_EKU, EXT_SAN, EXT_SKI, EXT_AKI, EXT__COUNT } known_ext;

/* What one certificate's checks share. */
typedef struct {
	capstan_lint_findings *out;
	size_t index;
	int oom;
	X509 *cert;
	int is_ca, self_issued;
	key_family subject, issuer; /* FAM_UNKNOWN: cannot be told */
	uint32_t eku;               /* XKU_* bits, as OpenSSL names them */
	int ext_at[EXT__COUNT];     /* index of each known extension, -1: none */
} lint_state;

const char *capstan_lint_severity_name(capstan_lint_severity severity)
{
	return severity == CAPSTAN_LINT_ERROR ? "error" : "warning";
}

static void found(lint_state *s, capstan_lint_severity sev, const char *rule, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static void found(lint_state *s, capstan_lint_severity sev, const char *rule, const char *fmt, ...)
{
	capstan_lint_findings *f = s->out;
	char buf[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (f->count == f->cap) {
		size_t cap = f->cap ? 2 * f->cap : 8;
		capstan_lint_finding *items = realloc(f->items, cap * sizeof(*items));
		if (!items) {
			s->oom = 1;
			return;
		}
		f->items = items;
		f->cap = cap;
	}
	if (!(f->items[f->count].message = strdup(buf))) {
		s->oom = 1;
		return;
	}
	f->items[f->count].cert = s->index;
	f->items[f->count].severity = sev;
	f->items[f->count].rule = rule;
	f->count++;
	if (sev == CAPSTAN_LINT_ERROR)
		f->errors++;
}

#define ERR(s, rule, ...) found((s), CAPSTAN_LINT_ERROR, (rule), __VA_ARGS__)
#define WARN(s, rule, ...) found((s), CAPSTAN_LINT_WARNING, (rule), __VA_ARGS__)

void capstan_lint_findings_free(capstan_lint_findings *f)
{
	if (!f)
		return;
	for (size_t i = 0; i < f->count; i++)
		free(f->items[i].message);
	free(f->items);
	memset(f, 0, sizeof(*f));
}

/* RFC 5280 4.1.2.2: a positive integer of at most 20 octets. */
static void check_serial(lint_state *s)
{
	const ASN1_INTEGER *sn = X509_get0_serialNumber(s->cert);
	const unsigned char *d = ASN1_STRING_get0_data(sn);
	int len = ASN1_STRING_length(sn), zero = 1;

	for (int i = 0; i < len; i++)
		zero = zero && d[i] == 0;
	if (ASN1_STRING_type(sn) == V_ASN1_NEG_INTEGER)
		ERR(s, "serial-not-positive", "the serial number is negative");
	else if (zero)
		ERR(s, "serial-not-positive", "the serial number is zero");
	/* The DER content: the magnitude and, when its top bit is set, a 0x00. */
	else if (len + (d[0] & 0x80 ? 1 : 0) > 20)
		ERR(s, "serial-too-long", "the serial number is %d octets long (at most 20)",
			len + (d[0] & 0x80 ? 1 : 0));
}

/* 1 when t is in DER's form for its type (YYMMDDHHMMSSZ, YYYYMMDDHHMMSSZ);
 * *year receives its year. */
static int time_form(const ASN1_TIME *t, int *year)
{
	const unsigned char *d = ASN1_STRING_get0_data(t);
	int len = ASN1_STRING_length(t), utc = ASN1_STRING_type(t) == V_ASN1_UTCTIME;

	if (len != (utc ? 13 : 15) || d[len - 1] != 'Z')
		return 0;
	for (int i = 0; i < len - 1; i++)
		if (d[i] < '0' || d[i] > '9')
			return 0;
	if (utc) {
		*year = (d[0] - '0') * 10 + (d[1] - '0');
		*year += *year >= 50 ? 1900 : 2000;
	} else {
		*year = (d[0] - '0') * 1000 + (d[1] - '0') * 100 + (d[2] - '0') * 10 + (d[3] - '0');
	}
	return 1;
}

/* RFC 5280 4.1.2.5: UTCTime through 2049, GeneralizedTime from 2050, in Zulu
 * with seconds; and a notBefore not after the notAfter. */
static void check_validity(lint_state *s)
{
	const ASN1_TIME *t[2] = { X509_get0_notBefore(s->cert), X509_get0_notAfter(s->cert) };
	const char *name[2] = { "notBefore", "notAfter" };
	int ok = 1, year;

	for (int i = 0; i < 2; i++) {
		int type = ASN1_STRING_type(t[i]);
		if ((type != V_ASN1_UTCTIME && type != V_ASN1_GENERALIZEDTIME) || !time_form(t[i], &year)) {
			ERR(s, "validity-encoding", "%s is not a DER UTCTime or GeneralizedTime in Zulu time with seconds",
				name[i]);
			ok = 0;
		} else if (type == V_ASN1_GENERALIZEDTIME && year >= 1950 && year < 2050) {
			ERR(s, "validity-encoding", "%s is a GeneralizedTime in %d (UTCTime from 1950 through 2049)",
				name[i], year);
		}
	}
	if (ok && ASN1_TIME_compare(t[0], t[1]) > 0)
		ERR(s, "validity-order", "notBefore is after notAfter");
}

/* RFC 5280 4.1.2.1, 4.1.2.8, 4.1.2.4: version 3 (extensions need it), no
 * unique identifiers, a non-empty issuer. */
static void check_header(lint_state *s)
{
	const ASN1_BIT_STRING *iuid = NULL, *suid = NULL;

	if (X509_get_version(s->cert) != X509_VERSION_3)
		ERR(s, "version-not-v3", "the certificate is version %ld, not 3", X509_get_version(s->cert) + 1);
	X509_get0_uids(s->cert, &iuid, &suid);
	if (iuid || suid)
		ERR(s, "unique-id", "the certificate has an %s unique identifier", iuid ? "issuer" : "subject");
	if (X509_NAME_entry_count(X509_get_issuer_name(s->cert)) == 0)
		ERR(s, "issuer-empty", "the issuer name is empty");
}

/* The extensions the checks decode, found once (X509_get_ext_by_NID would
 * walk the list for each). */
static const int known_nids[EXT__COUNT] = {
	[EXT_BC] = NID_basic_constraints, [EXT_KU] = NID_key_usage, [EXT_EKU] = NID_ext_key_usage,
	[EXT_SAN] = NID_subject_alt_name, [EXT_SKI] = NID_subject_key_identifier,
	[EXT_AKI] = NID_authority_key_identifier,
};

#define MAX_DEDUP_EXTS 64 /* extensions past these are not compared (no CA makes so many) */

/* Whether the extension at i (nid) repeats one before it. Extensions with a
 * NID compare by it; only others compare their OIDs. */
static int is_duplicate(lint_state *s, int i, int nid, const int *nids)
{
	const ASN1_OBJECT *obj = X509_EXTENSION_get_object(X509_get_ext(s->cert, i));

	for (int j = 0; j < i; j++)
		if (nid != NID_undef ? nids[j] == nid :
		    nids[j] == NID_undef && OBJ_cmp(obj, X509_EXTENSION_get_object(X509_get_ext(s->cert, j))) == 0)
			return 1;
	return 0;
}

/* RFC 5280 4.2: one instance of each extension, and no critical one a
 * verifier would not know. Notes where the known ones are. */
static void check_extension_list(lint_state *s)
{
	int n = X509_get_ext_count(s->cert), nids[MAX_DEDUP_EXTS];

	for (int k = 0; k < EXT__COUNT; k++)
		s->ext_at[k] = -1;
	for (int i = 0; i < n; i++) {
		X509_EXTENSION *ext = X509_get_ext(s->cert, i);
		const ASN1_OBJECT *obj = X509_EXTENSION_get_object(ext);
		int nid = OBJ_obj2nid(obj);
		char oid[80];

		for (int k = 0; k < EXT__COUNT; k++)
			if (known_nids[k] == nid && s->ext_at[k] < 0)
				s->ext_at[k] = i;
		if (i < MAX_DEDUP_EXTS && is_duplicate(s, i, nid, nids)) {
			OBJ_obj2txt(oid, sizeof(oid), obj, 0);
			ERR(s, "extension-duplicate", "the extension %s appears more than once", oid);
		}
		if (i < MAX_DEDUP_EXTS)
			nids[i] = nid;
		if (X509_EXTENSION_get_critical(ext) && !X509_supported_extension(ext)) {
			OBJ_obj2txt(oid, sizeof(oid), obj, 0);
			ERR(s, "extension-unknown-critical", "the unknown extension %s is critical", oid);
		}
	}
}

/* The decoded value of the first extension K, or NULL; *crit its flag, or
 * -1 when it is absent, -2 when it does not decode (then a finding). */
static void *ext_get(lint_state *s, int k, int *crit)
{
	X509_EXTENSION *ext;
	void *value;

	*crit = -1;
	if (s->ext_at[k] < 0)
		return NULL;
	ext = X509_get_ext(s->cert, s->ext_at[k]);
	if (!(value = X509V3_EXT_d2i(ext))) {
		ERR(s, "extension-malformed", "the %s extension does not decode", OBJ_nid2sn(known_nids[k]));
		*crit = -2;
		return NULL;
	}
	*crit = X509_EXTENSION_get_critical(ext);
	return value;
}

#define BIT_KEY_ENCIPHERMENT 2
#define BIT_DATA_ENCIPHERMENT 3
#define BIT_KEY_AGREEMENT 4
#define BIT_KEY_CERT_SIGN 5

/* RFC 5280 4.2.1.9 and 4.2.1.3: a CA's basicConstraints critical, its
 * keyUsage with keyCertSign, and keyCertSign only in a CA. */
static void check_ca_usage(lint_state *s)
{
	int bc_crit, ku_crit;
	BASIC_CONSTRAINTS *bc = ext_get(s, EXT_BC, &bc_crit);
	ASN1_BIT_STRING *ku = ext_get(s, EXT_KU, &ku_crit);
	int cert_sign = ku && ASN1_BIT_STRING_get_bit(ku, BIT_KEY_CERT_SIGN), any = 0;

	s->is_ca = bc && bc->ca;
	if (s->is_ca && !bc_crit)
		ERR(s, "basic-constraints-not-critical", "a CA's basicConstraints is not critical");
	if (bc && !bc->ca && bc->pathlen)
		ERR(s, "path-len-not-ca", "basicConstraints has a pathLenConstraint without cA");
	if (s->is_ca && ku_crit == -1)
		ERR(s, "ca-key-usage", "a CA certificate has no keyUsage");
	else if (s->is_ca && ku && !cert_sign)
		ERR(s, "ca-key-usage", "a CA certificate's keyUsage lacks keyCertSign");
	if (cert_sign && !s->is_ca)
		ERR(s, "key-cert-sign-not-ca", "keyUsage has keyCertSign but basicConstraints does not say cA");
	for (int bit = 0; ku && bit < 9; bit++)
		any = any || ASN1_BIT_STRING_get_bit(ku, bit);
	if (ku && !any)
		ERR(s, "key-usage-empty", "keyUsage has no bit set");
	if (ku && !ku_crit)
		WARN(s, "key-usage-not-critical", "keyUsage is not critical");
	if (ku && s->subject == FAM_EC && (ASN1_BIT_STRING_get_bit(ku, BIT_KEY_ENCIPHERMENT) ||
		    ASN1_BIT_STRING_get_bit(ku, BIT_DATA_ENCIPHERMENT)))
		ERR(s, "key-usage-for-key", "keyUsage has encipherment for an EC key (RFC 5480)");
	if (ku && s->subject == FAM_ED25519 && (ASN1_BIT_STRING_get_bit(ku, BIT_KEY_ENCIPHERMENT) ||
		    ASN1_BIT_STRING_get_bit(ku, BIT_DATA_ENCIPHERMENT) || ASN1_BIT_STRING_get_bit(ku, BIT_KEY_AGREEMENT)))
		ERR(s, "key-usage-for-key", "keyUsage has encipherment or keyAgreement for an Ed25519 key (RFC 8410)");
	if (ku && s->subject == FAM_RSA && ASN1_BIT_STRING_get_bit(ku, BIT_KEY_AGREEMENT))
		ERR(s, "key-usage-for-key", "keyUsage has keyAgreement for an RSA key");
	BASIC_CONSTRAINTS_free(bc);
	ASN1_BIT_STRING_free(ku);
}

/* The leaves' extendedKeyUsage: present, without anyExtendedKeyUsage, and
 * OCSP signing kept apart (a responder's certificate is for nothing else). */
static void check_eku(lint_state *s)
{
	int crit;
	EXTENDED_KEY_USAGE *eku = ext_get(s, EXT_EKU, &crit);

	for (int i = 0; eku && i < sk_ASN1_OBJECT_num(eku); i++) {
		switch (OBJ_obj2nid(sk_ASN1_OBJECT_value(eku, i))) {
		case NID_server_auth: s->eku |= XKU_SSL_SERVER; break;
		case NID_client_auth: s->eku |= XKU_SSL_CLIENT; break;
		case NID_OCSP_sign: s->eku |= XKU_OCSP_SIGN; break;
		case NID_code_sign: s->eku |= XKU_CODE_SIGN; break;
		case NID_anyExtendedKeyUsage: s->eku |= XKU_ANYEKU; break;
		default: s->eku |= XKU_DVCS; break; /* another: only its presence counts */
		}
	}
	if (eku && sk_ASN1_OBJECT_num(eku) == 0)
		ERR(s, "eku-empty", "extendedKeyUsage has no purpose");
	if (!eku && crit != -2 && !s->is_ca)
		WARN(s, "eku-missing", "a leaf has no extendedKeyUsage: it is good for any purpose");
	if (s->eku & XKU_ANYEKU)
		WARN(s, "eku-any", "extendedKeyUsage has anyExtendedKeyUsage");
	if ((s->eku & XKU_OCSP_SIGN) && (s->eku & ~XKU_OCSP_SIGN))
		WARN(s, "eku-ocsp-mixed", "extendedKeyUsage has OCSPSigning with other purposes");
	sk_ASN1_OBJECT_pop_free(eku, ASN1_OBJECT_free);
}

/* A DNS name: ASCII without NUL (checked before), not an address, a
 * wildcard only as the whole leftmost label, and LDH labels otherwise. */
static void check_dns_name(lint_state *s, const char *name)
{
	unsigned char ip[16];
	const char *why = NULL, *star = strchr(name, '*');
	size_t len;

	if (capstan_parse_ip(name, ip, &len, NULL) == 0) {
		ERR(s, "san-dns-ip", "the DNS name '%s' is an IP address (it belongs in an IP SAN)", name);
		return;
	}
	if (star && (star != name || name[1] != '.' || strchr(name + 1, '*'))) {
		ERR(s, "san-dns-wildcard", "the DNS name '%s' has a wildcard that is not the whole leftmost label",
			name);
		return;
	}
	if (capstan_check_dns_name(name, &why) < 0)
		ERR(s, "san-dns-syntax", "the DNS name '%s' is malformed: %s", name, why);
}

/* One GeneralName of the SAN. */
static void check_general_name(lint_state *s, const GENERAL_NAME *gen)
{
	int type;
	const ASN1_STRING *v = GENERAL_NAME_get0_value(gen, &type);
	const unsigned char *d;
	char text[300];
	int len;

	if (type == GEN_IPADD) {
		if (ASN1_STRING_length(v) != 4 && ASN1_STRING_length(v) != 16)
			ERR(s, "san-ip-length", "an IP address SAN is %d octets (4 or 16)", ASN1_STRING_length(v));
		return;
	}
	if (type != GEN_DNS && type != GEN_EMAIL && type != GEN_URI)
		return;
	d = ASN1_STRING_get0_data(v);
	len = ASN1_STRING_length(v);
	if (memchr(d, '\0', (size_t)len)) {
		ERR(s, "san-nul", "a %s SAN has a NUL byte in it", type == GEN_DNS ? "DNS" : type == GEN_URI ? "URI"
			: "e-mail");
		return;
	}
	for (int i = 0; i < len; i++)
		if (d[i] > 0x7f) {
			ERR(s, "san-not-ia5", "a %s SAN has a byte past ASCII (an IA5String)", type == GEN_DNS ? "DNS" :
				type == GEN_URI ? "URI" : "e-mail");
			return;
		}
	if (len == 0)
		ERR(s, "san-empty-name", "a %s SAN is empty", type == GEN_DNS ? "DNS" : type == GEN_URI ? "URI" : "e-mail");
	else if (type == GEN_DNS)
		check_dns_name(s, (snprintf(text, sizeof(text), "%.*s", len, (const char *)d), text));
}

/* RFC 5280 4.2.1.6 and 4.1.2.6: a SAN with names, all well formed; critical
 * when the subject is empty; there in every certificate for a TLS server. */
static void check_san(lint_state *s)
{
	int crit, empty_subject = X509_NAME_entry_count(X509_get_subject_name(s->cert)) == 0;
	GENERAL_NAMES *gens = ext_get(s, EXT_SAN, &crit);

	if (gens && sk_GENERAL_NAME_num(gens) == 0)
		ERR(s, "san-empty", "subjectAltName has no names");
	for (int i = 0; gens && i < sk_GENERAL_NAME_num(gens); i++)
		check_general_name(s, sk_GENERAL_NAME_value(gens, i));
	if (empty_subject && crit != 1 && crit != -2)
		ERR(s, "subject-empty-san-not-critical", "the subject is empty and %s", gens ?
			"subjectAltName is not critical" : "there is no subjectAltName");
	if (!gens && crit != -2 && !s->is_ca && (s->eku & XKU_SSL_SERVER))
		ERR(s, "san-missing", "a TLS server certificate has no subjectAltName (verifiers ignore the CN)");
	GENERAL_NAMES_free(gens);
}

/* RFC 5280 4.2.1.1-2: key identifiers, non-critical; the SKI in every CA
 * (SHOULD in leaves), the AKI's keyIdentifier in all but self-signed ones. */
static void check_key_ids(lint_state *s)
{
	int ski_crit, aki_crit;
	ASN1_OCTET_STRING *ski = ext_get(s, EXT_SKI, &ski_crit);
	AUTHORITY_KEYID *aki = ext_get(s, EXT_AKI, &aki_crit);

	if (ski_crit == 1)
		ERR(s, "ski-critical", "subjectKeyIdentifier is critical");
	if (aki_crit == 1)
		ERR(s, "aki-critical", "authorityKeyIdentifier is critical");
	if (ski_crit == -1 && s->is_ca)
		ERR(s, "ski-missing", "a CA certificate has no subjectKeyIdentifier");
	else if (ski_crit == -1)
		WARN(s, "ski-missing", "the certificate has no subjectKeyIdentifier");
	/* Self-issued, and with the same key: what a root is. */
	s->self_issued = X509_NAME_cmp(X509_get_subject_name(s->cert), X509_get_issuer_name(s->cert)) == 0 &&
		(!aki || !aki->keyid || (ski && ASN1_OCTET_STRING_cmp(ski, aki->keyid) == 0));
	if (aki_crit != -2 && (!aki || !aki->keyid) && !s->self_issued)
		ERR(s, "aki-missing", "the certificate has no authorityKeyIdentifier keyIdentifier");
	ASN1_OCTET_STRING_free(ski);
	AUTHORITY_KEYID_free(aki);
}

/* The signature algorithm: the same inside and out, no SHA-1 or MD5, DER
 * parameters, and of the issuer's key family when it can be told. */
static void check_signature(lint_state *s)
{
	const X509_ALGOR *outer, *inner = X509_get0_tbs_sigalg(s->cert);
	const ASN1_BIT_STRING *sig;
	const ASN1_OBJECT *obj;
	const void *pval;
	int ptype, nid;
	key_family fam = FAM_UNKNOWN, issuer = s->self_issued ? s->subject : s->issuer;

	X509_get0_signature(&sig, &outer, s->cert);
	if (X509_ALGOR_cmp(outer, inner) != 0)
		ERR(s, "signature-algorithm-mismatch", "the signatureAlgorithm differs from the TBS signature field");
	X509_ALGOR_get0(&obj, &ptype, &pval, inner);
	switch ((nid = OBJ_obj2nid(obj))) {
	case NID_sha256WithRSAEncryption: case NID_sha384WithRSAEncryption: case NID_sha512WithRSAEncryption:
		fam = FAM_RSA;
		if (ptype != V_ASN1_NULL)
			ERR(s, "signature-algorithm-params", "an RSA signature algorithm without NULL parameters");
		break;
	case NID_rsassaPss:
		fam = FAM_RSA;
		break;
	case NID_ecdsa_with_SHA256: case NID_ecdsa_with_SHA384: case NID_ecdsa_with_SHA512:
	case NID_ED25519:
		fam = nid == NID_ED25519 ? FAM_ED25519 : FAM_EC;
		if (ptype != V_ASN1_UNDEF)
			ERR(s, "signature-algorithm-params", "%s with parameters (they must be absent)", OBJ_nid2sn(nid));
		break;
	case NID_md2WithRSAEncryption: case NID_md4WithRSAEncryption: case NID_md5WithRSAEncryption:
	case NID_sha1WithRSAEncryption: case NID_ecdsa_with_SHA1: case NID_dsaWithSHA1: case NID_sha1WithRSA:
		ERR(s, "signature-weak-hash", "the signature algorithm %s uses a broken hash", OBJ_nid2sn(nid));
		return;
	default:
		ERR(s, "signature-algorithm-unknown", "the signature algorithm %s is not one capstan accepts",
			nid == NID_undef ? "(unknown)" : OBJ_nid2sn(nid));
		return;
	}
	if (issuer != FAM_UNKNOWN && fam != issuer)
		ERR(s, "signature-key-mismatch", "the signature algorithm %s does not fit the issuer's %s key",
			OBJ_nid2sn(nid), issuer == FAM_RSA ? "RSA" : issuer == FAM_EC ? "EC" : "Ed25519");
}

/* capstan's policy on the subject's key: RSA of 2048 bits or more with an
 * odd exponent above 1, EC on P-256 or P-384, or Ed25519. */
static void check_key(lint_state *s)
{
	EVP_PKEY *pkey = X509_get0_pubkey(s->cert);
	BIGNUM *e = NULL;
	char group[64] = "";

	if (!pkey) {
		ERR(s, "key-malformed", "the public key does not decode");
	} else if (EVP_PKEY_is_a(pkey, "RSA")) {
		s->subject = FAM_RSA;
		if (EVP_PKEY_get_bits(pkey) < 2048)
			ERR(s, "key-rsa-too-small", "an RSA key of %d bits (at least 2048)", EVP_PKEY_get_bits(pkey));
		if (EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_RSA_E, &e) != 1 || !BN_is_odd(e) || BN_is_one(e))
			ERR(s, "key-rsa-exponent", "the RSA public exponent is not an odd number above 1");
		BN_free(e);
	} else if (EVP_PKEY_is_a(pkey, "EC")) {
		s->subject = FAM_EC;
		EVP_PKEY_get_group_name(pkey, group, sizeof(group), NULL);
		if (strcmp(group, "prime256v1") != 0 && strcmp(group, "secp384r1") != 0 &&
		    strcmp(group, "P-256") != 0 && strcmp(group, "P-384") != 0)
			ERR(s, "key-ec-curve", "an EC key on %s (P-256 or P-384)", *group ? group : "explicit parameters");
	} else if (EVP_PKEY_is_a(pkey, "ED25519")) {
		s->subject = FAM_ED25519;
	} else {
		ERR(s, "key-type", "a %s key (RSA, EC P-256/P-384 or Ed25519)", EVP_PKEY_get0_type_name(pkey));
	}
}

/* What capstan signs for a profile: exactly its purposes, in a leaf. */
static void check_profile(lint_state *s, capstan_profile profile)
{
	static const uint32_t want[CAPSTAN_PROFILE__COUNT] = {
		[CAPSTAN_PROFILE_SERVER] = XKU_SSL_SERVER,
		[CAPSTAN_PROFILE_CLIENT] = XKU_SSL_CLIENT,
		[CAPSTAN_PROFILE_PEER] = XKU_SSL_SERVER | XKU_SSL_CLIENT,
	};

	if (s->is_ca || (unsigned)profile >= CAPSTAN_PROFILE__COUNT || s->eku != want[profile])
		ERR(s, "eku-profile", "extendedKeyUsage does not match the profile %s", capstan_profile_name(profile));
}

static key_family family_of(capstan_key_type type)
{
	switch (type) {
	case CAPSTAN_KEY_EC_P256: case CAPSTAN_KEY_EC_P384: return FAM_EC;
	case CAPSTAN_KEY_ED25519: return FAM_ED25519;
	default: return FAM_RSA;
	}
}

int capstan_lint_x509(capstan_lint_findings *out, capstan_ctx *ctx, X509 *cert, const capstan_lint_hint *hint,
	size_t index)
{
	lint_state s = { .out = out, .index = index, .cert = cert };

	/* The signer's key is one of the policy's types: no need to decode it. */
	if (hint) {
		s.subject = family_of(hint->subject_key);
		s.issuer = family_of(hint->issuer_key);
	} else {
		check_key(&s);
	}
	check_header(&s);
	check_serial(&s);
	check_validity(&s);
	check_extension_list(&s);
	check_ca_usage(&s);
	check_eku(&s);
	check_san(&s);
	check_key_ids(&s);
	check_signature(&s);
	if (hint && hint->has_profile)
		check_profile(&s, hint->profile);
	out->certs++;
	return s.oom ? capstan_error_oom(ctx) : 0;
}

/* Appends the certificate of DER to out's findings. */
static int lint_der(capstan_lint_findings *out, capstan_ctx *ctx, const unsigned char *der, size_t len)
{
	const unsigned char *p = der;
	X509 *cert = X509_new_ex(ctx->libctx, NULL);
	int rc;

	/* Parsed here, not by x509.c: the signer there calls this file. */
	if (!cert)
		return capstan_error_oom(ctx);
	if (!d2i_X509(&cert, &p, (long)len) || p != der + len) {
		X509_free(cert);
		ERR_clear_error();
		return capstan_error(ctx, CAPSTAN_EINVALID, "not a DER certificate");
	}
	rc = capstan_lint_x509(out, ctx, cert, NULL, out->certs);
	X509_free(cert);
	return rc;
}

/* Each CERTIFICATE block of PEM; other blocks (keys, CRLs) are skipped. */
static int lint_pem(capstan_lint_findings *out, capstan_ctx *ctx, const unsigned char *data, size_t len)
{
	BIO *bio = BIO_new_mem_buf(data, (int)len);
	char *label = NULL, *header = NULL;
	unsigned char *der = NULL;
	long n;
	int rc = bio ? 0 : capstan_error_oom(ctx);

	while (rc == 0 && PEM_read_bio(bio, &label, &header, &der, &n) == 1) {
		if (strcmp(label, PEM_STRING_X509) == 0 || strcmp(label, PEM_STRING_X509_OLD) == 0) {
			size_t at = out->certs;
			if ((rc = lint_der(out, ctx, der, (size_t)n)) < 0)
				rc = capstan_error(ctx, CAPSTAN_EINVALID, "certificate %zu of the PEM does not parse: %s",
					at + 1, capstan_error_message(ctx));
		}
		OPENSSL_free(label);
		OPENSSL_free(header);
		OPENSSL_free(der);
		label = header = NULL;
		der = NULL;
	}
	ERR_clear_error(); /* the end of the input reads as "no start line" */
	BIO_free(bio);
	if (rc == 0 && out->certs == 0)
		rc = capstan_error(ctx, CAPSTAN_EINVALID, "no certificate in the PEM");
	return rc;
}

/* Whether DATA holds a PEM header anywhere (text before it is allowed). */
static int has_pem(const unsigned char *data, size_t len)
{
	static const char begin[] = "-----BEGIN ";

	for (size_t i = 0; i + sizeof(begin) - 1 <= len; i++)
		if (data[i] == '-' && memcmp(data + i, begin, sizeof(begin) - 1) == 0)
			return 1;
	return 0;
}

int capstan_lint(capstan_lint_findings *out, capstan_ctx *ctx, const unsigned char *data, size_t len)
{
	if (!data || len == 0 || len > INT_MAX)
		return capstan_error(ctx, CAPSTAN_EINVALID, "not a certificate (empty or too large)");
	if (has_pem(data, len))
		return lint_pem(out, ctx, data, len);
	if (lint_der(out, ctx, data, len) < 0)
		return capstan_error(ctx, CAPSTAN_EINVALID, "not a certificate (neither PEM nor DER)");
	return 0;
}

int capstan_lint_signed(capstan_ctx *ctx, X509 *cert, const capstan_lint_hint *hint, const char *what)
{
	capstan_lint_findings f = CAPSTAN_LINT_FINDINGS_INIT;
	int rc = capstan_lint_x509(&f, ctx, cert, hint, 0);

	for (size_t i = 0; rc == 0 && i < f.count; i++)
		if (f.items[i].severity == CAPSTAN_LINT_ERROR)
			rc = capstan_error(ctx, CAPSTAN_ERROR, "the certificate for '%s' breaks lint rule %s: %s "
				"(a bug in capstan: nothing was stored)", what, f.items[i].rule, f.items[i].message);
	capstan_lint_findings_free(&f);
	return rc;
}
