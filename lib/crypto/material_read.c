/* Material from files: formats detected, not declared; the chain put in order. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <capstan/convert.h>

#include "crypto_internal.h"
#include "ossl.h"
#include "x509.h"

/* What the inputs held, before it is put in order. */
typedef struct {
	STACK_OF(X509) *certs;
	EVP_PKEY *key;
	const char *key_from;
} loaded;

static int take_key(capstan_ctx *ctx, loaded *l, EVP_PKEY *key, const char *name)
{
	capstan_key_type type;
	int rc;

	if (l->key) {
		EVP_PKEY_free(key);
		return capstan_error(ctx, CAPSTAN_EINVALID, "two private keys given ('%s' and '%s'): give one",
			l->key_from, name);
	}
	if ((rc = capstan_key_classify(ctx, key, &type)) < 0) {
		EVP_PKEY_free(key);
		return capstan_error(ctx, rc, "the key in '%s': %s", name, capstan_error_message(ctx));
	}
	l->key = key;
	l->key_from = name;
	return 0;
}

static int take_cert(capstan_ctx *ctx, loaded *l, const unsigned char *der, size_t len, const char *name)
{
	X509 *cert = NULL;

	if (capstan_x509_from_der(ctx, &cert, der, len) < 0)
		return capstan_error(ctx, CAPSTAN_EINVALID, "'%s' holds a malformed certificate", name);
	if (!sk_X509_push(l->certs, cert)) {
		X509_free(cert);
		return capstan_error_oom(ctx);
	}
	return 0;
}

/* A plain key in DER: PKCS8, or PKCS1/SEC1 (type given); NULL when it is not one. */
static EVP_PKEY *decode_der_key(capstan_ctx *ctx, int type, const unsigned char *der, size_t len)
{
	const unsigned char *p = der;
	EVP_PKEY *key = NULL;

	if (type == EVP_PKEY_NONE) {
		PKCS8_PRIV_KEY_INFO *p8 = d2i_PKCS8_PRIV_KEY_INFO(NULL, &p, (long)len);
		if (p8 && p == der + len)
			key = EVP_PKCS82PKEY_ex(p8, ctx->libctx, NULL);
		PKCS8_PRIV_KEY_INFO_free(p8);
	} else if ((key = d2i_PrivateKey_ex(type, NULL, &p, (long)len, ctx->libctx, NULL)) && p != der + len) {
		EVP_PKEY_free(key);
		key = NULL;
	}
	return key;
}

static int take_der_key(capstan_ctx *ctx, loaded *l, int type, const unsigned char *der, size_t len,
	const char *name)
{
	EVP_PKEY *key = decode_der_key(ctx, type, der, len);

	if (!key)
		return capstan_ossl_error(ctx, CAPSTAN_EINVALID, "'%s' holds a malformed private key", name);
	return take_key(ctx, l, key, name);
}

static int take_pem_object(capstan_ctx *ctx, loaded *l, const char *label, const unsigned char *der,
	long len, const char *name, const capstan_secret *pass)
{
	EVP_PKEY *key = NULL;
	int rc;

	if (strcmp(label, "CERTIFICATE") == 0 || strcmp(label, "X509 CERTIFICATE") == 0)
		return take_cert(ctx, l, der, (size_t)len, name);
	if (strcmp(label, "PRIVATE KEY") == 0)
		return take_der_key(ctx, l, EVP_PKEY_NONE, der, (size_t)len, name);
	if (strcmp(label, "RSA PRIVATE KEY") == 0)
		return take_der_key(ctx, l, EVP_PKEY_RSA, der, (size_t)len, name);
	if (strcmp(label, "EC PRIVATE KEY") == 0)
		return take_der_key(ctx, l, EVP_PKEY_EC, der, (size_t)len, name);
	if (strcmp(label, "ENCRYPTED PRIVATE KEY") == 0) {
		if ((rc = capstan_pkcs8_decrypt(&key, ctx, name, der, (size_t)len, pass)) < 0)
			return rc;
		return take_key(ctx, l, key, name);
	}
	if (strstr(label, "CERTIFICATE REQUEST"))
		return capstan_error(ctx, CAPSTAN_EINVALID,
			"'%s' is a certificate signing request: a CA issues a certificate for it; it is not converted", name);
	if (strcmp(label, "PUBLIC KEY") == 0)
		return capstan_error(ctx, CAPSTAN_EINVALID, "'%s' holds a public key: a private key is needed", name);
	return capstan_error(ctx, CAPSTAN_EINVALID, "'%s' holds a PEM '%s', which capstan does not read", name, label);
}

static int load_pem(capstan_ctx *ctx, loaded *l, const capstan_input *in, const capstan_secret *pass)
{
	BIO *bio = BIO_new_mem_buf(in->data, (int)in->len);
	char *label = NULL, *header = NULL;
	unsigned char *der = NULL;
	long len = 0;
	int rc = 0, objects = 0;

	if (!bio)
		return capstan_error_oom(ctx);
	while (rc == 0 && PEM_read_bio(bio, &label, &header, &der, &len) == 1) {
		objects++;
		if (header && strstr(header, "ENCRYPTED"))
			rc = capstan_error(ctx, CAPSTAN_EINVALID,
				"'%s' uses legacy PEM encryption (DEK-Info): convert it to PKCS8 first", in->name);
		else
			rc = take_pem_object(ctx, l, label, der, len, in->name, pass);
		OPENSSL_free(label);
		OPENSSL_free(header);
		OPENSSL_clear_free(der, (size_t)len);
		label = header = NULL;
		der = NULL;
	}
	if (rc == 0) {
		/* The end of the data reads as "no start line"; anything else is damage. */
		unsigned long err = ERR_peek_last_error();
		if (objects == 0 || ERR_GET_REASON(err) != PEM_R_NO_START_LINE)
			rc = capstan_ossl_error(ctx, CAPSTAN_EINVALID, "'%s' is truncated or not valid PEM", in->name);
	}
	ERR_clear_error();
	BIO_free(bio);
	return rc;
}

static int load_der(capstan_ctx *ctx, loaded *l, const capstan_input *in, const capstan_secret *pass)
{
	const unsigned char *p = in->data;
	EVP_PKEY *key = NULL;
	X509 *cert = d2i_X509(NULL, &p, (long)in->len);
	X509_SIG *enc;
	int rc;

	if (cert && p == in->data + in->len) {
		X509_free(cert);
		return take_cert(ctx, l, in->data, in->len, in->name);
	}
	X509_free(cert);
	if ((rc = capstan_pkcs12_read(ctx, in->name, in->data, in->len, pass, &key, l->certs)) <= 0)
		return rc < 0 ? rc : key ? take_key(ctx, l, key, in->name) : 0;
	p = in->data;
	if ((enc = d2i_X509_SIG(NULL, &p, (long)in->len)) && p == in->data + in->len) {
		X509_SIG_free(enc);
		if ((rc = capstan_pkcs8_decrypt(&key, ctx, in->name, in->data, in->len, pass)) < 0)
			return rc;
		return take_key(ctx, l, key, in->name);
	}
	X509_SIG_free(enc);
	if ((key = decode_der_key(ctx, EVP_PKEY_NONE, in->data, in->len)) ||
	    (key = decode_der_key(ctx, EVP_PKEY_RSA, in->data, in->len)) ||
	    (key = decode_der_key(ctx, EVP_PKEY_EC, in->data, in->len))) {
		ERR_clear_error();
		return take_key(ctx, l, key, in->name);
	}
	ERR_clear_error();
	return capstan_error(ctx, CAPSTAN_EINVALID,
		"'%s' is not a certificate, a private key or a PKCS12 file (PEM or DER)", in->name);
}

static int load_input(capstan_ctx *ctx, loaded *l, const capstan_input *in, const capstan_secret *pass)
{
	size_t skip = 0;

	if (!in->data)
		return 0;
	if (in->len == 0)
		return capstan_error(ctx, CAPSTAN_EINVALID, "'%s' is empty", in->name);
	while (skip < in->len && isspace(in->data[skip]))
		skip++;
	if (in->len - skip >= 10 && memcmp(in->data + skip, "-----BEGIN", 10) == 0)
		return load_pem(ctx, l, in, pass);
	if (in->len >= 4 && memcmp(in->data, "\xfe\xed\xfe\xed", 4) == 0)
		return capstan_error(ctx, CAPSTAN_EINVALID,
			"'%s' is a JKS keystore: capstan writes JKS but reads PKCS12 (keytool -importkeystore"
			" -deststoretype pkcs12 converts it)", in->name);
	return load_der(ctx, l, in, pass);
}

static char *subject_of(X509 *cert)
{
	char *cn = capstan_x509_name_cn(X509_get_subject_name(cert));

	return cn ? cn : strdup("(no CN)");
}

/* Drops certificates given twice (a PKCS12's chain repeated in --chain, say). */
static void drop_duplicates(STACK_OF(X509) *certs)
{
	for (int i = sk_X509_num(certs) - 1; i > 0; i--)
		for (int j = 0; j < i; j++)
			if (X509_cmp(sk_X509_value(certs, i), sk_X509_value(certs, j)) == 0) {
				X509_free(sk_X509_delete(certs, i));
				break;
			}
}

/* True when `issuer` issued `cert`: names, key identifiers and the signature. */
static int issued(X509 *issuer, X509 *cert)
{
	int ok = X509_check_issued(issuer, cert) == X509_V_OK &&
		X509_verify(cert, X509_get0_pubkey(issuer)) == 1;

	ERR_clear_error();
	return ok;
}

/* The leaf: the certificate of the key, else the one certificate that issued none of the others. */
static int find_leaf(capstan_ctx *ctx, STACK_OF(X509) *pool, EVP_PKEY *key, int *leaf)
{
	int n = sk_X509_num(pool), found = -1;

	for (int i = 0; i < n; i++) {
		X509 *c = sk_X509_value(pool, i);
		int issues_other = 0;
		if (key) {
			if (EVP_PKEY_eq(X509_get0_pubkey(c), key) == 1) {
				*leaf = i;
				return 0;
			}
			continue;
		}
		for (int j = 0; j < n && !issues_other; j++)
			issues_other = j != i && issued(c, sk_X509_value(pool, j));
		if (issues_other)
			continue;
		if (found >= 0) {
			char *a = subject_of(sk_X509_value(pool, found)), *b = subject_of(c);
			int rc = capstan_error(ctx, CAPSTAN_EINVALID,
				"cannot tell the leaf: '%s' and '%s' are both end certificates (give one chain)", a, b);
			free(a);
			free(b);
			return rc;
		}
		found = i;
	}
	ERR_clear_error();
	if (key)
		return capstan_error(ctx, CAPSTAN_EINVALID, "the private key does not match any certificate given");
	*leaf = found >= 0 ? found : 0;
	return 0;
}

/* Moves the chain out of pool in order: leaf, then each issuer. What is left is a gap. */
static int order_chain(capstan_ctx *ctx, STACK_OF(X509) *pool, EVP_PKEY *key, STACK_OF(X509) *chain)
{
	X509 *cur;
	int leaf, rc;

	if ((rc = find_leaf(ctx, pool, key, &leaf)) < 0)
		return rc;
	cur = sk_X509_delete(pool, leaf);
	while (cur) {
		X509 *next = NULL;
		if (!sk_X509_push(chain, cur)) {
			X509_free(cur);
			return capstan_error_oom(ctx);
		}
		for (int i = 0; X509_self_signed(cur, 0) != 1 && i < sk_X509_num(pool) && !next; i++)
			if (issued(sk_X509_value(pool, i), cur))
				next = sk_X509_delete(pool, i);
		cur = next;
	}
	if (sk_X509_num(pool) > 0) {
		char *stray = subject_of(sk_X509_value(pool, 0));
		char *last = subject_of(sk_X509_value(chain, sk_X509_num(chain) - 1));
		rc = capstan_error(ctx, CAPSTAN_EINVALID,
			"'%s' does not fit in the chain, which ends at '%s': a certificate between them is missing"
			" (or it belongs to another chain)", stray, last);
		free(stray);
		free(last);
	}
	return rc;
}

int capstan_material_from_files(capstan_material **out, capstan_ctx *ctx, const capstan_convert_inputs *in)
{
	loaded l = { NULL, NULL, NULL };
	capstan_material *m = NULL;
	int rc;

	if ((rc = CAPSTAN_OPTS_CHECK(ctx, in, CAPSTAN_CONVERT_INPUTS_VERSION, "capstan_convert_inputs")) < 0)
		return rc;
	l.certs = sk_X509_new_null();
	m = calloc(1, sizeof(*m));
	if (!l.certs || !m || !(m->chain = sk_X509_new_null()) || !(m->trust = sk_X509_new_null())) {
		rc = capstan_error_oom(ctx);
		goto done;
	}
	if ((rc = load_input(ctx, &l, &in->in, in->password)) < 0 ||
	    (rc = load_input(ctx, &l, &in->key, in->password)) < 0 ||
	    (rc = load_input(ctx, &l, &in->chain, in->password)) < 0)
		goto done;
	drop_duplicates(l.certs);
	if (in->truststore) {
		if (l.key) {
			rc = capstan_error(ctx, CAPSTAN_EINVALID, "a truststore holds no private key: leave out the key ('%s')",
				l.key_from);
			goto done;
		}
		sk_X509_pop_free(m->trust, X509_free);
		m->trust = l.certs;
		l.certs = NULL;
	} else if (sk_X509_num(l.certs) > 0 && (rc = order_chain(ctx, l.certs, l.key, m->chain)) < 0) {
		goto done;
	}
	m->alias = sk_X509_num(m->chain) ? capstan_cert_alias(sk_X509_value(m->chain, 0), 1) : strdup("key");
	if (!m->alias) {
		rc = capstan_error_oom(ctx);
		goto done;
	}
	m->key = l.key;
	l.key = NULL;
	*out = m;
	m = NULL;
done:
	sk_X509_pop_free(l.certs, X509_free);
	EVP_PKEY_free(l.key);
	capstan_material_free(m);
	return rc;
}

/* A CA signs certificates: basicConstraints CA:TRUE, and keyCertSign when
 * it says what its key is for. */
static int is_ca(X509 *cert)
{
	uint32_t flags = X509_get_extension_flags(cert);

	return (flags & EXFLAG_CA) && (!(flags & EXFLAG_KUSAGE) || (X509_get_key_usage(cert) & KU_KEY_CERT_SIGN));
}

/* Each certificate of the ordered chain a CA, unexpired, and the first one the key's. */
static int ca_chain_check(capstan_ctx *ctx, STACK_OF(X509) *chain, EVP_PKEY *key, const capstan_input *cert)
{
	for (int i = 0; i < sk_X509_num(chain); i++) {
		X509 *c = sk_X509_value(chain, i);
		char *name = subject_of(c);
		int rc = 0;
		if (i == 0 && EVP_PKEY_eq(X509_get0_pubkey(c), key) != 1)
			rc = capstan_error(ctx, CAPSTAN_EINVALID, "the private key is not the key of '%s' ('%s')",
				name, cert->name);
		else if (!is_ca(c))
			rc = capstan_error(ctx, CAPSTAN_EINVALID, "'%s'%s%s is not a CA certificate (no basicConstraints"
				" CA:TRUE with keyCertSign): only a CA is imported", name, i ? "" : " in ", i ? "" : cert->name);
		else if (X509_cmp_time(X509_get0_notAfter(c), NULL) <= 0)
			rc = capstan_error(ctx, CAPSTAN_EINVALID, "'%s' has expired", name);
		free(name);
		ERR_clear_error();
		if (rc < 0)
			return rc;
	}
	return 0;
}

static int ca_files_out(capstan_ca_files *out, capstan_ctx *ctx, STACK_OF(X509) *chain, EVP_PKEY **key)
{
	int n = sk_X509_num(chain), rc;

	if (!(out->chain = calloc((size_t)n, sizeof(*out->chain))))
		return capstan_error_oom(ctx);
	for (int i = 0; i < n; i++) {
		unsigned char *der = NULL;
		int len = i2d_X509(sk_X509_value(chain, i), &der);
		if (len <= 0)
			return capstan_ossl_error(ctx, CAPSTAN_ERROR, "cannot encode a certificate");
		rc = capstan_buf_append(ctx, &out->chain[i], der, (size_t)len);
		OPENSSL_free(der);
		if (rc < 0)
			return rc;
		out->count++;
	}
	out->rooted = X509_self_signed(sk_X509_value(chain, n - 1), 1) == 1;
	ERR_clear_error();
	if ((rc = capstan_key_wrap(&out->key, ctx, *key)) == 0)
		*key = NULL;
	return rc;
}

int capstan_ca_files_read(capstan_ca_files *out, capstan_ctx *ctx, const capstan_input *cert,
	const capstan_input *key, const capstan_input *chain, const capstan_secret *pass)
{
	loaded c = { sk_X509_new_null(), NULL, NULL }, k = { sk_X509_new_null(), NULL, NULL };
	STACK_OF(X509) *ordered = sk_X509_new_null();
	int rc;

	memset(out, 0, sizeof(*out));
	if (!c.certs || !k.certs || !ordered) {
		rc = capstan_error_oom(ctx);
		goto done;
	}
	if ((rc = load_input(ctx, &c, cert, pass)) < 0 || (rc = load_input(ctx, &k, key, pass)) < 0)
		goto done;
	if (sk_X509_num(c.certs) != 1 || c.key)
		rc = capstan_error(ctx, CAPSTAN_EINVALID, "'%s' must hold the CA's certificate alone", cert->name);
	else if (!k.key || sk_X509_num(k.certs))
		rc = capstan_error(ctx, CAPSTAN_EINVALID, "'%s' must hold the CA's private key alone", key->name);
	/* The chain read after the CA, so that the CA comes first in the pool. */
	if (rc < 0 || (rc = load_input(ctx, &c, chain, pass)) < 0)
		goto done;
	if (c.key) {
		rc = capstan_error(ctx, CAPSTAN_EINVALID, "'%s' holds a private key: the chain is certificates only",
			chain->name);
		goto done;
	}
	drop_duplicates(c.certs);
	if ((rc = ca_chain_check(ctx, c.certs, k.key, cert)) < 0 ||
	    (rc = order_chain(ctx, c.certs, k.key, ordered)) < 0 || (rc = ca_files_out(out, ctx, ordered, &k.key)) < 0)
		goto done;
done:
	if (rc < 0)
		capstan_ca_files_clear(out);
	sk_X509_pop_free(c.certs, X509_free);
	sk_X509_pop_free(k.certs, X509_free);
	sk_X509_pop_free(ordered, X509_free);
	EVP_PKEY_free(c.key);
	EVP_PKEY_free(k.key);
	return rc;
}

void capstan_ca_files_clear(capstan_ca_files *f)
{
	for (size_t i = 0; i < f->count; i++)
		capstan_buf_free(&f->chain[i]);
	free(f->chain);
	capstan_key_free(f->key);
	memset(f, 0, sizeof(*f));
}

int capstan_key_read(capstan_key **out, capstan_ctx *ctx, const capstan_input *in, const capstan_secret *pass)
{
	loaded l = { sk_X509_new_null(), NULL, NULL };
	int rc;

	*out = NULL;
	if (!l.certs)
		return capstan_error_oom(ctx);
	if ((rc = load_input(ctx, &l, in, pass)) == 0 && (!l.key || sk_X509_num(l.certs)))
		rc = capstan_error(ctx, CAPSTAN_EINVALID, "'%s' must hold a private key alone", in->name);
	if (rc == 0 && (rc = capstan_key_wrap(out, ctx, l.key)) == 0)
		l.key = NULL;
	sk_X509_pop_free(l.certs, X509_free);
	EVP_PKEY_free(l.key);
	return rc;
}

int capstan_x509_leaf_read(capstan_ctx *ctx, const unsigned char *der, size_t len, const unsigned char *ca_der,
	size_t ca_len, capstan_profile *profile)
{
	X509 *cert = NULL, *ca = NULL;
	uint32_t xku;
	int rc;

	if ((rc = capstan_x509_from_der(ctx, &cert, der, len)) < 0 || (rc = capstan_x509_from_der(ctx, &ca, ca_der, ca_len)) < 0)
		goto done;
	if (!issued(ca, cert))
		rc = capstan_error(ctx, CAPSTAN_EINVALID, "it was not issued by the CA");
	else if (X509_get_extension_flags(cert) & EXFLAG_CA)
		rc = capstan_error(ctx, CAPSTAN_EINVALID, "it is a CA certificate, not a leaf");
	xku = X509_get_extended_key_usage(cert); /* all bits when there is no EKU */
	if ((xku & XKU_SSL_SERVER) && (xku & XKU_SSL_CLIENT))
		*profile = CAPSTAN_PROFILE_PEER;
	else
		*profile = (xku & XKU_SSL_CLIENT) ? CAPSTAN_PROFILE_CLIENT : CAPSTAN_PROFILE_SERVER;
done:
	ERR_clear_error();
	X509_free(cert);
	X509_free(ca);
	return rc;
}

int capstan_x509_read_one(capstan_buf *der, capstan_ctx *ctx, const capstan_input *in)
{
	loaded l = { sk_X509_new_null(), NULL, NULL };
	capstan_input pem = *in;
	unsigned char *p = NULL;
	int rc, len;

	if (!l.certs)
		return capstan_error_oom(ctx);
	/* openssl ca writes its text dump before the PEM (certs_by_serial/, newcerts/). */
	for (size_t i = 0; i + 10 <= in->len; i++)
		if (memcmp(in->data + i, "-----BEGIN", 10) == 0) {
			pem.data = in->data + i;
			pem.len = in->len - i;
			break;
		}
	if ((rc = load_input(ctx, &l, &pem, NULL)) == 0 && (l.key || sk_X509_num(l.certs) != 1))
		rc = capstan_error(ctx, CAPSTAN_EINVALID, "'%s' must hold one certificate alone", in->name);
	if (rc == 0 && (len = i2d_X509(sk_X509_value(l.certs, 0), &p)) <= 0)
		rc = capstan_ossl_error(ctx, CAPSTAN_ERROR, "cannot encode '%s'", in->name);
	if (rc == 0)
		rc = capstan_buf_set(ctx, der, p, (size_t)len);
	OPENSSL_free(p);
	sk_X509_pop_free(l.certs, X509_free);
	EVP_PKEY_free(l.key);
	return rc;
}
