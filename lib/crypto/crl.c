/* Certificate revocation lists: the header built by OpenSSL, the entries by hand. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "base/base.h"
#include "crypto_internal.h"
#include "ossl.h"
#include "x509.h"

/*
 * The header (issuer, times, extensions, signature algorithm) is built by
 * OpenSSL on an empty X509_CRL; the revoked entries are DER-encoded here
 * into fixed slots and spliced into its TBSCertList.  Building 100,000
 * X509_REVOKED objects and letting OpenSSL encode them (twice: to sign and
 * to write) cost ~0.6 s; this costs a tenth of that.
 */
#define ENTRY_MAX 63 /* SEQ(2) + INTEGER(2+21) + GeneralizedTime(2+15) + reason(14) = 56 */

typedef struct {
	unsigned char len;
	unsigned char der[ENTRY_MAX];
	unsigned char serial_at, serial_len; /* the INTEGER's contents within der, for sorting */
} crl_entry;

struct capstan_crl {
	X509_CRL *crl;
	X509 *issuer;
	crl_entry *entries;
	size_t count, cap;
};

static int set_time(capstan_ctx *ctx, X509_CRL *crl, time_t t, int next)
{
	ASN1_TIME *at = ASN1_TIME_set(NULL, t);
	int ok = at && (next ? X509_CRL_set1_nextUpdate(crl, at) : X509_CRL_set1_lastUpdate(crl, at)) == 1;

	ASN1_TIME_free(at);
	return ok ? 0 : capstan_ossl_error(ctx, CAPSTAN_ERROR, "cannot set the CRL's update times");
}

static int add_number(capstan_ctx *ctx, X509_CRL *crl, int64_t number)
{
	ASN1_INTEGER *n = ASN1_INTEGER_new();
	int ok = n && ASN1_INTEGER_set_int64(n, number) == 1 &&
		X509_CRL_add1_ext_i2d(crl, NID_crl_number, n, 0, X509V3_ADD_DEFAULT) == 1;

	ASN1_INTEGER_free(n);
	return ok ? 0 : capstan_ossl_error(ctx, CAPSTAN_ERROR, "cannot set the CRL number");
}

static int add_aki(capstan_ctx *ctx, X509_CRL *crl, X509 *issuer)
{
	X509V3_CTX v3;
	X509_EXTENSION *ext;
	int ok;

	X509V3_set_ctx(&v3, issuer, NULL, NULL, crl, 0);
	ext = X509V3_EXT_nconf_nid(NULL, &v3, NID_authority_key_identifier, "keyid:always");
	ok = ext && X509_CRL_add_ext(crl, ext, -1) == 1;
	X509_EXTENSION_free(ext);
	return ok ? 0 : capstan_ossl_error(ctx, CAPSTAN_ERROR, "cannot add the CRL's authority key identifier");
}

int capstan_crl_new(capstan_crl **out, capstan_ctx *ctx, const unsigned char *issuer_der,
	size_t issuer_len, time_t this_update, time_t next_update, int64_t number)
{
	capstan_crl *c = calloc(1, sizeof(*c));
	int rc;

	if (!c)
		return capstan_error_oom(ctx);
	if ((rc = capstan_x509_from_der(ctx, &c->issuer, issuer_der, issuer_len)) < 0)
		goto fail;
	if (!(c->crl = X509_CRL_new_ex(ctx->libctx, NULL)) ||
	    X509_CRL_set_version(c->crl, X509_CRL_VERSION_2) != 1 ||
	    X509_CRL_set_issuer_name(c->crl, X509_get_subject_name(c->issuer)) != 1) {
		rc = capstan_ossl_error(ctx, CAPSTAN_ERROR, "cannot start a CRL");
		goto fail;
	}
	if ((rc = set_time(ctx, c->crl, this_update, 0)) < 0 || (rc = set_time(ctx, c->crl, next_update, 1)) < 0 ||
	    (rc = add_number(ctx, c->crl, number)) < 0 || (rc = add_aki(ctx, c->crl, c->issuer)) < 0)
		goto fail;
	*out = c;
	return 0;
fail:
	capstan_crl_free(c);
	return rc;
}

/* A DER tag and length; returns the bytes written (at most 6). */
static size_t der_header(unsigned char *p, unsigned char tag, size_t len)
{
	size_t octets = 0, i;

	p[0] = tag;
	if (len < 0x80) {
		p[1] = (unsigned char)len;
		return 2;
	}
	for (i = len; i; i >>= 8)
		octets++;
	p[1] = (unsigned char)(0x80 | octets);
	for (i = octets; i > 0; i--, len >>= 8)
		p[1 + i] = (unsigned char)(len & 0xff);
	return 2 + octets;
}

/* Reads a tag and length at p (within end); 0 on malformed input. */
static size_t der_read_header(const unsigned char *p, const unsigned char *end, size_t *len)
{
	size_t n = 2, i, octets;

	if (end - p < 2)
		return 0;
	if (!(p[1] & 0x80)) {
		*len = p[1];
	} else {
		octets = p[1] & 0x7f;
		if (octets == 0 || octets > sizeof(size_t) || (size_t)(end - p) < 2 + octets)
			return 0;
		for (*len = 0, i = 0; i < octets; i++)
			*len = *len << 8 | p[n++];
	}
	return *len <= (size_t)(end - p) - n ? n : 0;
}

/* The serial as a DER INTEGER's contents: minimal, positive. */
static int serial_bytes(unsigned char *out, size_t *out_len, const char *hex)
{
	unsigned char bytes[21];
	size_t len = strlen(hex), n = (len + 1) / 2, i, skip;

	if (len == 0 || n > 20)
		return 0;
	bytes[0] = 0;
	for (i = 0; i < n; i++) {
		int hi = i == 0 && len % 2 ? 0 : OPENSSL_hexchar2int((unsigned char)*hex++);
		int lo = OPENSSL_hexchar2int((unsigned char)*hex++);
		if (hi < 0 || lo < 0)
			return 0;
		bytes[i + 1] = (unsigned char)(hi << 4 | lo);
	}
	for (skip = 1; skip < n && bytes[skip] == 0; skip++)
		;
	if (bytes[skip] & 0x80)
		skip--; /* a leading zero keeps it positive */
	*out_len = n + 1 - skip;
	memcpy(out, bytes + skip, *out_len);
	return 1;
}

/* RFC 5280 4.1.2.5: UTCTime through 2049, GeneralizedTime from 2050. */
static size_t der_time(unsigned char *p, time_t t)
{
	struct tm tm;
	char text[16];
	int year, n;

	if (!OPENSSL_gmtime(&t, &tm))
		return 0;
	year = tm.tm_year + 1900;
	if (year < 1950 || year > 9999)
		return 0;
	n = year < 2050 ?
		snprintf(text, sizeof(text), "%02d%02d%02d%02d%02d%02dZ", year % 100, tm.tm_mon + 1,
			tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec) :
		snprintf(text, sizeof(text), "%04d%02d%02d%02d%02d%02dZ", year, tm.tm_mon + 1,
			tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
	p[0] = year < 2050 ? V_ASN1_UTCTIME : V_ASN1_GENERALIZEDTIME;
	p[1] = (unsigned char)n;
	memcpy(p + 2, text, (size_t)n);
	return (size_t)n + 2;
}

/* crlEntryExtensions with reasonCode (2.5.29.21); omitted for unspecified (RFC 5280 5.3.1). */
static size_t der_reason(unsigned char *p, int code)
{
	static const unsigned char ext[] = { 0x30, 0x0c, 0x30, 0x0a, 0x06, 0x03, 0x55, 0x1d, 0x15,
					     0x04, 0x03, 0x0a, 0x01, 0x00 };

	if (code <= 0 || code > 10)
		return 0;
	memcpy(p, ext, sizeof(ext));
	p[sizeof(ext) - 1] = (unsigned char)code;
	return sizeof(ext);
}

static int grow_entries(capstan_crl *c)
{
	size_t cap = c->cap ? c->cap * 2 : 1024;
	crl_entry *grown;

	if (cap > SIZE_MAX / sizeof(*grown) || !(grown = realloc(c->entries, cap * sizeof(*grown))))
		return 0;
	c->entries = grown;
	c->cap = cap;
	return 1;
}

int capstan_crl_add(capstan_crl *c, capstan_ctx *ctx, const char *serial_hex, time_t revoked_at,
	int reason_code)
{
	unsigned char body[ENTRY_MAX], serial[21];
	size_t serial_len, n = 0, t;
	crl_entry *e;

	if (!serial_bytes(serial, &serial_len, serial_hex))
		return capstan_error(ctx, CAPSTAN_ERROR, "cannot add serial %s to the CRL", serial_hex);
	if (c->count == c->cap && !grow_entries(c))
		return capstan_error_oom(ctx);
	body[n++] = V_ASN1_INTEGER;
	body[n++] = (unsigned char)serial_len;
	memcpy(body + n, serial, serial_len);
	n += serial_len;
	if (!(t = der_time(body + n, revoked_at)))
		return capstan_error(ctx, CAPSTAN_ERROR, "revocation time of serial %s out of range", serial_hex);
	n += t;
	n += der_reason(body + n, reason_code);
	e = &c->entries[c->count++];
	e->len = (unsigned char)(der_header(e->der, V_ASN1_SEQUENCE | V_ASN1_CONSTRUCTED, n) + n);
	memcpy(e->der + 2, body, n);
	/* sort on the magnitude, as OpenSSL does: without the sign-keeping zero */
	e->serial_at = (unsigned char)(serial_len > 1 && serial[0] == 0 ? 5 : 4);
	e->serial_len = (unsigned char)(serial_len - (e->serial_at - 4u));
	return 0;
}

/* As X509_CRL_sort: by serial number, shorter (smaller) first. */
static int entry_cmp(const void *a, const void *b)
{
	const crl_entry *x = a, *y = b;

	if (x->serial_len != y->serial_len)
		return x->serial_len < y->serial_len ? -1 : 1;
	return memcmp(x->der + x->serial_at, y->der + y->serial_at, x->serial_len);
}

/*
 * The TBSCertList OpenSSL encoded for the empty CRL, with revokedCertificates
 * put before crlExtensions ([0]), the only element after it.
 */
static int splice_tbs(capstan_ctx *ctx, capstan_crl *c, const unsigned char *tbs, size_t tbs_len,
	unsigned char **out, size_t *out_len)
{
	const unsigned char *end = tbs + tbs_len, *p, *ext;
	size_t hdr, len, revoked_len = 0, content, seq_len, i, n;
	unsigned char *w, seq[6];

	if (!(hdr = der_read_header(tbs, end, &len)) || hdr + len != tbs_len)
		return capstan_error(ctx, CAPSTAN_ERROR, "cannot read the CRL OpenSSL encoded");
	for (p = tbs + hdr; p < end && *p != 0xa0; p += n + len)
		if (!(n = der_read_header(p, end, &len)))
			return capstan_error(ctx, CAPSTAN_ERROR, "cannot read the CRL OpenSSL encoded");
	ext = p;
	for (i = 0; i < c->count; i++)
		revoked_len += c->entries[i].len;
	seq_len = c->count ? der_header(seq, V_ASN1_SEQUENCE | V_ASN1_CONSTRUCTED, revoked_len) : 0;
	content = tbs_len - hdr + seq_len + revoked_len;
	if (!(*out = w = malloc(content + 6)))
		return capstan_error_oom(ctx);
	w += der_header(w, V_ASN1_SEQUENCE | V_ASN1_CONSTRUCTED, content);
	memcpy(w, tbs + hdr, (size_t)(ext - tbs) - hdr);
	w += (size_t)(ext - tbs) - hdr;
	memcpy(w, seq, seq_len);
	w += seq_len;
	for (i = 0; i < c->count; i++) {
		memcpy(w, c->entries[i].der, c->entries[i].len);
		w += c->entries[i].len;
	}
	memcpy(w, ext, (size_t)(end - ext));
	w += end - ext;
	*out_len = (size_t)(w - *out);
	return 0;
}

static EVP_MD_CTX *sign_init(capstan_ctx *ctx, const capstan_key *key)
{
	EVP_MD_CTX *mctx = EVP_MD_CTX_new();

	if (mctx && EVP_DigestSignInit_ex(mctx, NULL, capstan_signing_digest(key), ctx->libctx, NULL,
			    key->pkey, NULL) == 1)
		return mctx;
	EVP_MD_CTX_free(mctx);
	return NULL;
}

/* CertificateList ::= SEQUENCE { tbsCertList, signatureAlgorithm, signatureValue BIT STRING } */
static int assemble(capstan_buf *der, capstan_ctx *ctx, const unsigned char *tbs, size_t tbs_len,
	const unsigned char *alg, size_t alg_len, const unsigned char *sig, size_t sig_len)
{
	unsigned char head[6], bits[6], *out;
	size_t bits_len = der_header(bits, V_ASN1_BIT_STRING, sig_len + 1);
	size_t content = tbs_len + alg_len + bits_len + 1 + sig_len;
	size_t head_len = der_header(head, V_ASN1_SEQUENCE | V_ASN1_CONSTRUCTED, content), n = 0;
	int rc;

	if (!(out = malloc(head_len + content)))
		return capstan_error_oom(ctx);
	memcpy(out + n, head, head_len), n += head_len;
	memcpy(out + n, tbs, tbs_len), n += tbs_len;
	memcpy(out + n, alg, alg_len), n += alg_len;
	memcpy(out + n, bits, bits_len), n += bits_len;
	out[n++] = 0; /* no unused bits */
	memcpy(out + n, sig, sig_len), n += sig_len;
	rc = capstan_buf_set(ctx, der, out, n);
	free(out);
	return rc;
}

int capstan_crl_sign(capstan_buf *der, capstan_crl *c, capstan_ctx *ctx, const capstan_key *issuer_key)
{
	EVP_MD_CTX *mctx = sign_init(ctx, issuer_key);
	unsigned char *head = NULL, *tbs = NULL, *alg = NULL, *sig = NULL;
	const X509_ALGOR *palg = NULL;
	size_t tbs_len = 0, sig_len = 0;
	int head_len, alg_len, rc;

	/* Signing the empty CRL fills in its signature algorithm, in the TBS and outside. */
	if (!mctx || X509_CRL_sign_ctx(c->crl, mctx) <= 0 ||
	    (head_len = i2d_re_X509_CRL_tbs(c->crl, &head)) <= 0 ||
	    (X509_CRL_get0_signature(c->crl, NULL, &palg), (alg_len = i2d_X509_ALGOR(palg, &alg)) <= 0)) {
		rc = capstan_ossl_error(ctx, CAPSTAN_ERROR, "cannot sign the CRL");
		goto done;
	}
	if (c->count > 1)
		qsort(c->entries, c->count, sizeof(*c->entries), entry_cmp);
	if ((rc = splice_tbs(ctx, c, head, (size_t)head_len, &tbs, &tbs_len)) < 0)
		goto done;
	EVP_MD_CTX_free(mctx);
	if (!(mctx = sign_init(ctx, issuer_key)) || EVP_DigestSign(mctx, NULL, &sig_len, tbs, tbs_len) != 1 ||
	    !(sig = OPENSSL_malloc(sig_len)) || EVP_DigestSign(mctx, sig, &sig_len, tbs, tbs_len) != 1) {
		rc = capstan_ossl_error(ctx, CAPSTAN_ERROR, "cannot sign the CRL");
		goto done;
	}
	rc = assemble(der, ctx, tbs, tbs_len, alg, (size_t)alg_len, sig, sig_len);
done:
	OPENSSL_free(head);
	OPENSSL_free(alg);
	OPENSSL_free(sig);
	free(tbs);
	EVP_MD_CTX_free(mctx);
	return rc;
}

void capstan_crl_free(capstan_crl *c)
{
	if (!c)
		return;
	X509_CRL_free(c->crl);
	X509_free(c->issuer);
	free(c->entries);
	free(c);
}
int capstan_crl_pem_append(capstan_buf *out, capstan_ctx *ctx, const unsigned char *der, size_t len)
{
	BIO *bio = BIO_new(BIO_s_mem());
	char *data;
	long n;
	int rc;

	/* Armour around the DER as it is: no parsing and encoding a CRL again. */
	if (!bio || PEM_write_bio(bio, PEM_STRING_X509_CRL, "", der, (long)len) <= 0) {
		rc = capstan_ossl_error(ctx, CAPSTAN_ERROR, "cannot write the CRL as PEM");
	} else {
		n = BIO_get_mem_data(bio, &data);
		rc = capstan_buf_append(ctx, out, data, (size_t)n);
	}
	BIO_free(bio);
	return rc;
}

int capstan_crl_number_read(capstan_ctx *ctx, const unsigned char *data, size_t len, int64_t *number)
{
	BIO *bio = BIO_new_mem_buf(data, (int)len);
	const unsigned char *p = data;
	X509_CRL *crl = NULL;
	ASN1_INTEGER *n = NULL;
	int crit = 0, rc = 0;

	*number = -1;
	if (!bio)
		return capstan_error_oom(ctx);
	if (!(crl = PEM_read_bio_X509_CRL(bio, NULL, NULL, NULL)))
		crl = d2i_X509_CRL(NULL, &p, (long)len);
	BIO_free(bio);
	if (!crl)
		return capstan_ossl_error(ctx, CAPSTAN_EINVALID, "not a CRL");
	if ((n = X509_CRL_get_ext_d2i(crl, NID_crl_number, &crit, NULL))) {
		int64_t v = -1;
		if (ASN1_INTEGER_get_int64(&v, n) != 1 || v < 0)
			rc = capstan_ossl_error(ctx, CAPSTAN_EINVALID, "its CRL number is out of range");
		*number = v;
	}
	ASN1_INTEGER_free(n);
	X509_CRL_free(crl);
	ERR_clear_error();
	return rc;
}
