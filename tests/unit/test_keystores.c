/*
 * Unit tests: the PKCS12 and JKS writers (pkcs12.c, jks.c), through export.
 * PKCS12 is read back with OpenSSL's PKCS12 API; JKS is walked byte by byte
 * as OpenJDK's JavaKeyStore.engineLoad reads it, its key opened with Sun's
 * KeyProtector and its integrity digest recomputed here.
 */
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/pkcs12.h>
#include <openssl/x509.h>

#include "unit.h"

#define STORE_PASSWORD "store-pass-1"
#define TRUSTED_KEY_USAGE "2.16.840.1.113894.746875.1.1"

typedef struct {
	char *home;
	capstan_ctx *ctx;
	capstan_cert *root, *inter, *leaf;
	EVP_PKEY *key;  /* the leaf's, from a plain PKCS8 export */
} fixture;

static int setup(void **state)
{
	fixture *f = calloc(1, sizeof(*f));
	capstan_init_opts io = CAPSTAN_INIT_OPTS_INIT;
	capstan_issue_opts o = CAPSTAN_ISSUE_OPTS_INIT;
	const char *dns[] = { "web.internal" };
	capstan_buf pem = CAPSTAN_BUF_INIT;
	BIO *bio;

	f->ctx = unit_open_home(&f->home);
	io.env = "dev";
	assert_ok(f->ctx, capstan_env_init(&f->root, &f->inter, f->ctx, &io));
	o.env = "dev";
	o.cn = "Web Server";
	o.name = "web";
	o.profile = CAPSTAN_PROFILE_SERVER;
	o.dns = dns;
	o.dns_count = 1;
	assert_ok(f->ctx, capstan_issue(&f->leaf, f->ctx, &o));
	assert_ok(f->ctx, capstan_export(&pem, f->ctx, f->leaf, CAPSTAN_FORMAT_KEY, NULL));
	bio = BIO_new_mem_buf(pem.data, (int)pem.len);
	f->key = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);
	assert_non_null(f->key);
	BIO_free(bio);
	capstan_buf_free(&pem);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	fixture *f = *state;

	EVP_PKEY_free(f->key);
	capstan_cert_free(f->root);
	capstan_cert_free(f->inter);
	capstan_cert_free(f->leaf);
	capstan_ctx_free(f->ctx);
	unit_remove_home(f->home);
	free(f);
	return 0;
}

static capstan_buf export_store(fixture *f, capstan_format fmt, const char *password, const char *alias, int legacy)
{
	capstan_secret pw = CAPSTAN_SECRET_INIT;
	capstan_write_opts wo = CAPSTAN_WRITE_OPTS_INIT;
	capstan_buf out = CAPSTAN_BUF_INIT;

	assert_ok(f->ctx, capstan_secret_set(&pw, f->ctx, password, strlen(password)));
	wo.password = &pw;
	wo.alias = alias;
	wo.legacy = legacy;
	assert_ok(f->ctx, capstan_export(&out, f->ctx, f->leaf, fmt, &wo));
	capstan_secret_free(&pw);
	return out;
}

static int same_der(X509 *x, const capstan_cert *c)
{
	unsigned char *der = NULL;
	int len = i2d_X509(x, &der), same = len > 0 && (size_t)len == c->der_len && memcmp(der, c->der, c->der_len) == 0;

	OPENSSL_free(der);
	return same;
}

/* ---- PKCS12 ------------------------------------------------------------- */

static PKCS12 *parse_p12(const capstan_buf *der)
{
	const unsigned char *p = der->data;
	PKCS12 *p12 = d2i_PKCS12(NULL, &p, (long)der->len);

	assert_non_null(p12);
	assert_ptr_equal(p, der->data + der->len);
	return p12;
}

static int pbe_nid(const X509_ALGOR *alg)
{
	const ASN1_OBJECT *obj;

	X509_ALGOR_get0(&obj, NULL, NULL, alg);
	return OBJ_obj2nid(obj);
}

/* For a PBES2 algorithm: the cipher its parameters name. */
static int pbes2_cipher_nid(const X509_ALGOR *alg)
{
	const void *param;
	int ptype;
	PBE2PARAM *pbe2;
	int nid;

	X509_ALGOR_get0(NULL, &ptype, &param, alg);
	assert_int_equal(ptype, V_ASN1_SEQUENCE);
	pbe2 = ASN1_item_unpack(param, ASN1_ITEM_rptr(PBE2PARAM));
	assert_non_null(pbe2);
	nid = pbe_nid(pbe2->encryption);
	PBE2PARAM_free(pbe2);
	return nid;
}

/* The Oracle trusted-key-usage attribute of a bag: 1 when it says anyExtendedKeyUsage. */
static int trusted_for_java(const PKCS12_SAFEBAG *bag)
{
	const STACK_OF(X509_ATTRIBUTE) *attrs = PKCS12_SAFEBAG_get0_attrs(bag);
	char oid[64];

	for (int i = 0; i < sk_X509_ATTRIBUTE_num(attrs); i++) {
		X509_ATTRIBUTE *a = sk_X509_ATTRIBUTE_value(attrs, i);
		ASN1_TYPE *v;
		OBJ_obj2txt(oid, sizeof(oid), X509_ATTRIBUTE_get0_object(a), 1);
		if (strcmp(oid, TRUSTED_KEY_USAGE) != 0)
			continue;
		v = X509_ATTRIBUTE_get0_type(a, 0);
		assert_non_null(v);
		assert_int_equal(ASN1_TYPE_get(v), V_ASN1_OBJECT);
		OBJ_obj2txt(oid, sizeof(oid), v->value.object, 1);
		return strcmp(oid, "2.5.29.37.0") == 0;
	}
	return 0;
}

typedef struct {
	int key_bags, cert_bags, trusted_bags;
	int key_pbe, cert_pbe;        /* the outer algorithm: NID_pbes2 or a PKCS12 PBE */
	int key_cipher, cert_cipher;  /* under PBES2 */
} p12_bags;

/* Every bag, decrypted with the password: what they are and how each safe was protected. */
static p12_bags walk_bags(PKCS12 *p12, const char *pass)
{
	STACK_OF(PKCS7) *safes = PKCS12_unpack_authsafes(p12);
	p12_bags r = { 0 };

	assert_non_null(safes);
	for (int i = 0; i < sk_PKCS7_num(safes); i++) {
		PKCS7 *p7 = sk_PKCS7_value(safes, i);
		STACK_OF(PKCS12_SAFEBAG) *bags;
		int nid = OBJ_obj2nid(p7->type);
		if (nid == NID_pkcs7_encrypted) {
			const X509_ALGOR *alg = p7->d.encrypted->enc_data->algorithm;
			r.cert_pbe = pbe_nid(alg);
			if (r.cert_pbe == NID_pbes2)
				r.cert_cipher = pbes2_cipher_nid(alg);
			bags = PKCS12_unpack_p7encdata(p7, pass, -1);
		} else {
			assert_int_equal(nid, NID_pkcs7_data);
			bags = PKCS12_unpack_p7data(p7);
		}
		assert_non_null(bags);
		for (int j = 0; j < sk_PKCS12_SAFEBAG_num(bags); j++) {
			const PKCS12_SAFEBAG *bag = sk_PKCS12_SAFEBAG_value(bags, j);
			if (PKCS12_SAFEBAG_get_nid(bag) == NID_pkcs8ShroudedKeyBag) {
				const X509_ALGOR *alg;
				X509_SIG_get0(PKCS12_SAFEBAG_get0_pkcs8(bag), &alg, NULL);
				r.key_bags++;
				r.key_pbe = pbe_nid(alg);
				if (r.key_pbe == NID_pbes2)
					r.key_cipher = pbes2_cipher_nid(alg);
			} else if (PKCS12_SAFEBAG_get_nid(bag) == NID_certBag) {
				r.cert_bags++;
				r.trusted_bags += trusted_for_java(bag);
			} else {
				fail_msg("unexpected bag type %d", PKCS12_SAFEBAG_get_nid(bag));
			}
		}
		sk_PKCS12_SAFEBAG_pop_free(bags, PKCS12_SAFEBAG_free);
	}
	sk_PKCS7_pop_free(safes, PKCS7_free);
	return r;
}

static void check_mac(PKCS12 *p12, int want_md_nid)
{
	const X509_ALGOR *macalg = NULL;
	const ASN1_INTEGER *iter = NULL;

	assert_true(PKCS12_mac_present(p12));
	PKCS12_get0_mac(NULL, &macalg, NULL, &iter, p12);
	assert_int_equal(pbe_nid(macalg), want_md_nid);
	assert_int_equal(ASN1_INTEGER_get(iter), 100000);
	assert_int_equal(PKCS12_verify_mac(p12, STORE_PASSWORD, -1), 1);
	assert_int_equal(PKCS12_verify_mac(p12, "store-pass-2", -1), 0);
	assert_int_equal(PKCS12_verify_mac(p12, "", -1), 0);
}

static void keystore_p12(fixture *f, int legacy)
{
	/* UTF-8 in, UTF-8 back: the friendlyName is a BMPString, not Latin-1 bytes. */
	capstan_buf der = export_store(f, CAPSTAN_FORMAT_PKCS12, STORE_PASSWORD, "My Caf\xc3\xa9", legacy);
	PKCS12 *p12 = parse_p12(&der);
	EVP_PKEY *key = NULL;
	X509 *cert = NULL;
	STACK_OF(X509) *ca = NULL;
	p12_bags bags;
	const unsigned char *alias;
	int len = 0, found_inter = 0, found_root = 0;

	check_mac(p12, legacy ? NID_sha1 : NID_sha256);
	bags = walk_bags(p12, STORE_PASSWORD);
	assert_int_equal(bags.key_bags, 1);
	assert_int_equal(bags.cert_bags, 3); /* leaf, intermediate, root */
	assert_int_equal(bags.trusted_bags, 0);
	if (legacy) {
		assert_int_equal(bags.key_pbe, NID_pbe_WithSHA1And3_Key_TripleDES_CBC);
		assert_int_equal(bags.cert_pbe, NID_pbe_WithSHA1And3_Key_TripleDES_CBC);
	} else {
		assert_int_equal(bags.key_pbe, NID_pbes2);
		assert_int_equal(bags.key_cipher, NID_aes_256_cbc);
		assert_int_equal(bags.cert_pbe, NID_pbes2);
		assert_int_equal(bags.cert_cipher, NID_aes_256_cbc);
	}

	assert_int_equal(PKCS12_parse(p12, "store-pass-2", &key, &cert, &ca), 0);
	assert_int_equal(PKCS12_parse(p12, STORE_PASSWORD, &key, &cert, &ca), 1);
	assert_non_null(key);
	assert_int_equal(EVP_PKEY_eq(key, f->key), 1);
	assert_non_null(cert); /* the key's certificate: paired by localKeyId */
	assert_true(same_der(cert, f->leaf));
	alias = X509_alias_get0(cert, &len);
	assert_non_null(alias);
	assert_int_equal(len, 8);
	assert_memory_equal(alias, "My Caf\xc3\xa9", 8);
	assert_non_null(X509_keyid_get0(cert, &len));
	assert_int_equal(sk_X509_num(ca), 2);
	for (int i = 0; i < sk_X509_num(ca); i++) {
		found_inter += same_der(sk_X509_value(ca, i), f->inter);
		found_root += same_der(sk_X509_value(ca, i), f->root);
	}
	assert_int_equal(found_inter, 1);
	assert_int_equal(found_root, 1);

	EVP_PKEY_free(key);
	X509_free(cert);
	sk_X509_pop_free(ca, X509_free);
	PKCS12_free(p12);
	capstan_buf_free(&der);
}

static void test_pkcs12_keystore(void **state)
{
	keystore_p12(*state, 0);
}

static void test_pkcs12_keystore_legacy(void **state)
{
	keystore_p12(*state, 1);
}

/* A truststore: no key, one certificate bag per trusted root, each marked for
 * Java; during a root rotation, both roots. */
static void test_pkcs12_truststore(void **state)
{
	fixture *f = *state;
	capstan_ca_rotate_opts ro = CAPSTAN_CA_ROTATE_OPTS_INIT;
	capstan_cert *root2 = NULL, *inter2 = NULL;
	capstan_buf der = export_store(f, CAPSTAN_FORMAT_TRUSTSTORE, STORE_PASSWORD, NULL, 0);
	PKCS12 *p12 = parse_p12(&der);
	p12_bags bags;
	EVP_PKEY *key = NULL;
	X509 *cert = NULL;
	STACK_OF(X509) *ca = NULL;

	check_mac(p12, NID_sha256);
	bags = walk_bags(p12, STORE_PASSWORD);
	assert_int_equal(bags.key_bags, 0);
	assert_int_equal(bags.cert_bags, 1);
	assert_int_equal(bags.trusted_bags, 1);
	assert_int_equal(PKCS12_parse(p12, STORE_PASSWORD, &key, &cert, &ca), 1);
	assert_null(key);
	assert_int_equal(sk_X509_num(ca), 1);
	assert_true(same_der(sk_X509_value(ca, 0), f->root));
	sk_X509_pop_free(ca, X509_free);
	ca = NULL;
	PKCS12_free(p12);
	capstan_buf_free(&der);

	ro.env = "dev";
	ro.root = 1;
	assert_ok(f->ctx, capstan_ca_rotate(&root2, &inter2, f->ctx, &ro));
	der = export_store(f, CAPSTAN_FORMAT_TRUSTSTORE, STORE_PASSWORD, NULL, 0);
	p12 = parse_p12(&der);
	bags = walk_bags(p12, STORE_PASSWORD);
	assert_int_equal(bags.cert_bags, 2);
	assert_int_equal(bags.trusted_bags, 2);
	PKCS12_free(p12);
	capstan_buf_free(&der);
	capstan_cert_free(root2);
	capstan_cert_free(inter2);
}

static void test_password_rules(void **state)
{
	fixture *f = *state;
	capstan_secret pw = CAPSTAN_SECRET_INIT;
	capstan_write_opts wo = CAPSTAN_WRITE_OPTS_INIT;
	capstan_buf out = CAPSTAN_BUF_INIT;
	const capstan_format fmts[] = { CAPSTAN_FORMAT_PKCS12, CAPSTAN_FORMAT_JKS, CAPSTAN_FORMAT_TRUSTSTORE,
		CAPSTAN_FORMAT_JKS_TRUSTSTORE };

	for (size_t i = 0; i < sizeof(fmts) / sizeof(fmts[0]); i++) {
		wo.password = NULL;
		assert_int_equal(capstan_export(&out, f->ctx, f->leaf, fmts[i], &wo), CAPSTAN_EAUTH);
		assert_non_null(strstr(capstan_error_message(f->ctx), "needs a store password"));
		assert_int_equal(capstan_error_subject(f->ctx), CAPSTAN_FIELD_PASSWORD);
		assert_ok(f->ctx, capstan_secret_set(&pw, f->ctx, "12345", 5));
		wo.password = &pw;
		assert_int_equal(capstan_export(&out, f->ctx, f->leaf, fmts[i], &wo), CAPSTAN_EINVALID);
		assert_non_null(strstr(capstan_error_message(f->ctx), "at least 6"));
		capstan_secret_free(&pw);
		assert_null(out.data);
	}
	/* The legacy protection is PKCS12's: a JKS cannot have it. */
	assert_ok(f->ctx, capstan_secret_set(&pw, f->ctx, STORE_PASSWORD, strlen(STORE_PASSWORD)));
	wo.password = &pw;
	wo.legacy = 1;
	assert_int_equal(capstan_export(&out, f->ctx, f->leaf, CAPSTAN_FORMAT_JKS, &wo), CAPSTAN_EINVALID);
	assert_null(out.data);
	capstan_secret_free(&pw);
}

/* ---- JKS ---------------------------------------------------------------- */

typedef struct {
	const unsigned char *p, *end;
} reader;

static uint64_t take_be(reader *r, int bytes)
{
	uint64_t v = 0;

	assert_true(r->end - r->p >= bytes);
	for (int i = 0; i < bytes; i++)
		v = v << 8 | *r->p++;
	return v;
}

static const unsigned char *take(reader *r, size_t len)
{
	const unsigned char *at = r->p;

	assert_true((size_t)(r->end - r->p) >= len);
	r->p += len;
	return at;
}

/* DataInputStream.readUTF (ASCII here); the caller frees. */
static char *take_utf(reader *r)
{
	size_t len = (size_t)take_be(r, 2);
	const unsigned char *s = take(r, len);
	char *out = malloc(len + 1);

	memcpy(out, s, len);
	out[len] = '\0';
	return out;
}

static void sha1_of(unsigned char out[20], const void *a, size_t alen, const void *b, size_t blen,
	const void *c, size_t clen)
{
	EVP_MD_CTX *m = EVP_MD_CTX_new();

	assert_int_equal(EVP_DigestInit_ex(m, EVP_sha1(), NULL), 1);
	EVP_DigestUpdate(m, a, alen);
	EVP_DigestUpdate(m, b, blen);
	if (c)
		EVP_DigestUpdate(m, c, clen);
	assert_int_equal(EVP_DigestFinal_ex(m, out, NULL), 1);
	EVP_MD_CTX_free(m);
}

/* The store's trailing digest: SHA-1(password as UTF-16BE || "Mighty Aphrodite" || body). */
static int jks_digest_ok(const capstan_buf *jks, const unsigned char *pw16, size_t pw16_len)
{
	unsigned char md[20];

	assert_true(jks->len > 20);
	sha1_of(md, pw16, pw16_len, "Mighty Aphrodite", 16, jks->data, jks->len - 20);
	return memcmp(md, jks->data + jks->len - 20, 20) == 0;
}

/* Sun's KeyProtector.recover: salt(20) || key XOR keystream || SHA-1(password || key). */
static EVP_PKEY *jks_recover_key(const unsigned char *epki, size_t len, const unsigned char *pw16, size_t pw16_len)
{
	const unsigned char *p = epki;
	X509_SIG *sig = d2i_X509_SIG(NULL, &p, (long)len);
	const X509_ALGOR *alg;
	const ASN1_OCTET_STRING *data;
	const unsigned char *prot, *enc;
	unsigned char digest[20], check[20], *plain;
	size_t n;
	char oid[64];
	PKCS8_PRIV_KEY_INFO *p8;
	EVP_PKEY *key;

	assert_non_null(sig);
	assert_ptr_equal(p, epki + len);
	X509_SIG_get0(sig, &alg, &data);
	{
		const ASN1_OBJECT *obj;
		X509_ALGOR_get0(&obj, NULL, NULL, alg);
		OBJ_obj2txt(oid, sizeof(oid), obj, 1);
	}
	assert_string_equal(oid, "1.3.6.1.4.1.42.2.17.1.1");
	prot = ASN1_STRING_get0_data(data);
	assert_true(ASN1_STRING_length(data) > 40);
	n = (size_t)ASN1_STRING_length(data) - 40;
	enc = prot + 20;
	plain = malloc(n);
	memcpy(digest, prot, 20); /* the salt starts the keystream */
	for (size_t off = 0; off < n; off += 20) {
		sha1_of(digest, pw16, pw16_len, digest, 20, NULL, 0);
		for (size_t i = 0; i < 20 && off + i < n; i++)
			plain[off + i] = enc[off + i] ^ digest[i];
	}
	sha1_of(check, pw16, pw16_len, plain, n, NULL, 0);
	assert_memory_equal(check, prot + 20 + n, 20);
	p = plain;
	p8 = d2i_PKCS8_PRIV_KEY_INFO(NULL, &p, (long)n);
	assert_non_null(p8);
	assert_ptr_equal(p, plain + n);
	key = EVP_PKCS82PKEY(p8);
	assert_non_null(key);
	PKCS8_PRIV_KEY_INFO_free(p8);
	OPENSSL_cleanse(plain, n);
	free(plain);
	X509_SIG_free(sig);
	return key;
}

static X509 *take_cert(reader *r)
{
	char *type = take_utf(r);
	size_t len;
	const unsigned char *der, *p;
	X509 *x;

	assert_string_equal(type, "X.509");
	free(type);
	len = (size_t)take_be(r, 4);
	der = take(r, len);
	p = der;
	x = d2i_X509(NULL, &p, (long)len);
	assert_non_null(x);
	assert_ptr_equal(p, der + len);
	return x;
}

/* An entry's date: its certificate's notBefore (not the time of writing,
 * which would make every write differ), so shortly before now here. */
static int64_t take_timestamp(reader *r)
{
	int64_t ms = (int64_t)take_be(r, 8), now_ms = (int64_t)time(NULL) * 1000;

	assert_true(ms > now_ms - 600000 && ms <= now_ms + 1000);
	return ms;
}

static int64_t not_before_ms(X509 *x)
{
	ASN1_TIME *epoch = ASN1_TIME_set(NULL, 0);
	int days = 0, secs = 0;

	assert_int_equal(ASN1_TIME_diff(&days, &secs, epoch, X509_get0_notBefore(x)), 1);
	ASN1_TIME_free(epoch);
	return ((int64_t)days * 86400 + secs) * 1000;
}

/* "pä€😀xyz": UTF-8 as given, and the UTF-16BE code units Java hashes
 * (U+1F600 as the surrogate pair D83D DE00), written out by hand. */
static const char pw_utf8[] = "p\xc3\xa4\xe2\x82\xac\xf0\x9f\x98\x80xyz";
static const unsigned char pw_utf16[] = { 0x00, 0x70, 0x00, 0xe4, 0x20, 0xac, 0xd8, 0x3d, 0xde, 0x00,
	0x00, 0x78, 0x00, 0x79, 0x00, 0x7a };

static void test_jks_keystore(void **state)
{
	fixture *f = *state;
	capstan_buf jks = export_store(f, CAPSTAN_FORMAT_JKS, pw_utf8, "Web-Alias", 0);
	reader r = { jks.data, jks.data + jks.len - 20 };
	char *alias;
	size_t keylen;
	const unsigned char *epki;
	EVP_PKEY *key;
	X509 *certs[3];
	const capstan_cert *want[3] = { f->leaf, f->inter, f->root };
	int64_t date;

	assert_int_equal(take_be(&r, 4), 0xFEEDFEEDu);
	assert_int_equal(take_be(&r, 4), 2);
	assert_int_equal(take_be(&r, 4), 1);     /* one entry */
	assert_int_equal(take_be(&r, 4), 1);     /* a private key entry */
	alias = take_utf(&r);
	assert_string_equal(alias, "web-alias"); /* Java lower-cases aliases */
	free(alias);
	date = take_timestamp(&r);
	keylen = (size_t)take_be(&r, 4);
	epki = take(&r, keylen);
	key = jks_recover_key(epki, keylen, pw_utf16, sizeof(pw_utf16));
	assert_int_equal(EVP_PKEY_eq(key, f->key), 1);
	EVP_PKEY_free(key);
	assert_int_equal(take_be(&r, 4), 3);     /* the chain: leaf, intermediate, root */
	for (int i = 0; i < 3; i++) {
		certs[i] = take_cert(&r);
		assert_true(same_der(certs[i], want[i]));
		if (i == 0)
			assert_int_equal(date, not_before_ms(certs[i]));
		X509_free(certs[i]);
	}
	assert_ptr_equal(r.p, r.end);            /* then only the digest */

	assert_true(jks_digest_ok(&jks, pw_utf16, sizeof(pw_utf16)));
	/* The digest is keyed: the password's UTF-8 bytes, or another password, do not match. */
	assert_false(jks_digest_ok(&jks, (const unsigned char *)pw_utf8, strlen(pw_utf8)));
	assert_false(jks_digest_ok(&jks, pw_utf16, sizeof(pw_utf16) - 2));
	/* ...and it covers the body. */
	jks.data[30] ^= 1;
	assert_false(jks_digest_ok(&jks, pw_utf16, sizeof(pw_utf16)));
	capstan_buf_free(&jks);
}

static void test_jks_truststore(void **state)
{
	fixture *f = *state;
	const unsigned char ascii16[] = { 0, 's', 0, 't', 0, 'o', 0, 'r', 0, 'e', 0, '-', 0, 'p', 0, 'a', 0, 's',
		0, 's', 0, '-', 0, '1' };
	capstan_ca_rotate_opts ro = CAPSTAN_CA_ROTATE_OPTS_INIT;
	capstan_cert *root2 = NULL, *inter2 = NULL;
	capstan_buf jks;
	reader r;
	char *aliases[2];

	ro.env = "dev";
	ro.root = 1;
	assert_ok(f->ctx, capstan_ca_rotate(&root2, &inter2, f->ctx, &ro));
	jks = export_store(f, CAPSTAN_FORMAT_JKS_TRUSTSTORE, STORE_PASSWORD, NULL, 0);
	r = (reader){ jks.data, jks.data + jks.len - 20 };
	assert_int_equal(take_be(&r, 4), 0xFEEDFEEDu);
	assert_int_equal(take_be(&r, 4), 2);
	assert_int_equal(take_be(&r, 4), 2);     /* old and new root, during the rotation */
	for (int i = 0; i < 2; i++) {
		X509 *x;
		int64_t date;
		assert_int_equal(take_be(&r, 4), 2); /* trusted certificate entries */
		aliases[i] = take_utf(&r);
		for (const char *p = aliases[i]; *p; p++)
			assert_false(*p >= 'A' && *p <= 'Z');
		date = take_timestamp(&r);
		x = take_cert(&r);
		assert_int_equal(date, not_before_ms(x));
		assert_true(same_der(x, i == 0 ? root2 : f->root) || same_der(x, i == 0 ? f->root : root2));
		X509_free(x);
	}
	assert_string_not_equal(aliases[0], aliases[1]); /* a second alias would replace the first */
	free(aliases[0]);
	free(aliases[1]);
	assert_ptr_equal(r.p, r.end);
	assert_true(jks_digest_ok(&jks, ascii16, sizeof(ascii16)));
	capstan_buf_free(&jks);
	capstan_cert_free(root2);
	capstan_cert_free(inter2);
}

/* A password that is not UTF-8 cannot be turned into Java's char[]. */
static void test_jks_refuses_bad_utf8(void **state)
{
	fixture *f = *state;
	capstan_secret pw = CAPSTAN_SECRET_INIT;
	capstan_write_opts wo = CAPSTAN_WRITE_OPTS_INIT;
	capstan_buf out = CAPSTAN_BUF_INIT;

	assert_ok(f->ctx, capstan_secret_set(&pw, f->ctx, "abc\xff\xfe" "def", 8));
	wo.password = &pw;
	assert_int_equal(capstan_export(&out, f->ctx, f->leaf, CAPSTAN_FORMAT_JKS, &wo), CAPSTAN_EINVALID);
	assert_non_null(strstr(capstan_error_message(f->ctx), "not valid UTF-8"));
	capstan_secret_free(&pw);
	assert_ok(f->ctx, capstan_secret_set(&pw, f->ctx, "abcdef\xc3", 7)); /* cut short */
	wo.password = &pw;
	assert_int_equal(capstan_export(&out, f->ctx, f->leaf, CAPSTAN_FORMAT_JKS, &wo), CAPSTAN_EINVALID);
	capstan_secret_free(&pw);
}

/* ---- The same inputs, the same bytes ----------------------------------- */

static capstan_buf export_of(fixture *f, const capstan_cert *cert, capstan_format fmt, const char *password,
	int legacy)
{
	capstan_secret pw = CAPSTAN_SECRET_INIT;
	capstan_write_opts wo = CAPSTAN_WRITE_OPTS_INIT;
	capstan_buf out = CAPSTAN_BUF_INIT;

	assert_ok(f->ctx, capstan_secret_set(&pw, f->ctx, password, strlen(password)));
	wo.password = &pw;
	wo.alias = "web";
	wo.legacy = legacy;
	assert_ok(f->ctx, capstan_export(&out, f->ctx, cert, fmt, &wo));
	capstan_secret_free(&pw);
	return out;
}

static int same_bytes(const capstan_buf *a, const capstan_buf *b)
{
	return a->len == b->len && memcmp(a->data, b->data, a->len) == 0;
}

/* The MAC's salt: derived from the password too, so it differs with it. */
static capstan_buf mac_salt(const capstan_buf *der)
{
	PKCS12 *p12 = parse_p12(der);
	const ASN1_OCTET_STRING *salt = NULL;
	capstan_buf out = CAPSTAN_BUF_INIT;

	PKCS12_get0_mac(NULL, NULL, &salt, NULL, p12);
	assert_non_null(salt);
	out.data = malloc((size_t)ASN1_STRING_length(salt));
	assert_non_null(out.data);
	out.len = (size_t)ASN1_STRING_length(salt);
	memcpy(out.data, ASN1_STRING_get0_data(salt), out.len);
	PKCS12_free(p12);
	return out;
}

/* Read back by capstan's own PKCS12 reader, as convert reads its input. */
static void reads_back(fixture *f, const capstan_buf *der, const char *password)
{
	capstan_secret pw = CAPSTAN_SECRET_INIT;
	capstan_convert_inputs in = CAPSTAN_CONVERT_INPUTS_INIT;
	capstan_material *m = NULL;

	assert_ok(f->ctx, capstan_secret_set(&pw, f->ctx, password, strlen(password)));
	in.in = (capstan_input){ "store.p12", der->data, der->len };
	in.password = &pw;
	assert_ok(f->ctx, capstan_material_from_files(&m, f->ctx, &in));
	capstan_material_free(m);
	capstan_secret_free(&pw);
}

static void deterministic(fixture *f, const capstan_cert *other, capstan_format fmt, int legacy)
{
	capstan_buf a = export_of(f, f->leaf, fmt, STORE_PASSWORD, legacy);
	capstan_buf b = export_of(f, f->leaf, fmt, STORE_PASSWORD, legacy);
	capstan_buf pw2 = export_of(f, f->leaf, fmt, "store-pass-2", legacy);
	capstan_buf key2 = export_of(f, other, fmt, STORE_PASSWORD, legacy);

	assert_true(same_bytes(&a, &b));
	assert_false(same_bytes(&a, &pw2));
	assert_false(same_bytes(&a, &key2));
	if (fmt == CAPSTAN_FORMAT_PKCS12 || fmt == CAPSTAN_FORMAT_TRUSTSTORE) {
		capstan_buf s1 = mac_salt(&a), s2 = mac_salt(&pw2);
		assert_false(same_bytes(&s1, &s2));
		free(s1.data);
		free(s2.data);
	}
	if (fmt == CAPSTAN_FORMAT_PKCS12) {
		PKCS12 *p12 = parse_p12(&a);
		EVP_PKEY *key = NULL;
		X509 *cert = NULL;
		STACK_OF(X509) *ca = NULL;
		assert_int_equal(PKCS12_parse(p12, STORE_PASSWORD, &key, &cert, &ca), 1);
		assert_int_equal(EVP_PKEY_eq(key, f->key), 1);
		assert_true(same_der(cert, f->leaf));
		EVP_PKEY_free(key);
		X509_free(cert);
		sk_X509_pop_free(ca, X509_free);
		PKCS12_free(p12);
		reads_back(f, &a, STORE_PASSWORD);
		reads_back(f, &key2, STORE_PASSWORD);
	}
	capstan_buf_free(&a);
	capstan_buf_free(&b);
	capstan_buf_free(&pw2);
	capstan_buf_free(&key2);
}

/* Two writes of the same material and password are byte-identical (a
 * bundle's keystores keep its ETag); another password or key changes them. */
static void test_stores_deterministic(void **state)
{
	fixture *f = *state;
	capstan_issue_opts o = CAPSTAN_ISSUE_OPTS_INIT;
	const char *dns[] = { "api.internal" };
	capstan_cert *other = NULL;

	o.env = "dev";
	o.cn = "Api Server";
	o.name = "api";
	o.profile = CAPSTAN_PROFILE_SERVER;
	o.dns = dns;
	o.dns_count = 1;
	assert_ok(f->ctx, capstan_issue(&other, f->ctx, &o));
	deterministic(f, other, CAPSTAN_FORMAT_PKCS12, 0);
	deterministic(f, other, CAPSTAN_FORMAT_PKCS12, 1);
	deterministic(f, other, CAPSTAN_FORMAT_JKS, 0);
	capstan_cert_free(other);
}

/* Truststores hold no key: the same trust and password, the same bytes. */
static void test_truststores_deterministic(void **state)
{
	fixture *f = *state;
	static const capstan_format fmts[] = { CAPSTAN_FORMAT_TRUSTSTORE, CAPSTAN_FORMAT_JKS_TRUSTSTORE };

	for (size_t i = 0; i < sizeof(fmts) / sizeof(fmts[0]); i++) {
		capstan_buf a = export_of(f, f->leaf, fmts[i], STORE_PASSWORD, 0);
		capstan_buf b = export_of(f, f->leaf, fmts[i], STORE_PASSWORD, 0);
		capstan_buf c = export_of(f, f->leaf, fmts[i], "store-pass-2", 0);
		assert_true(same_bytes(&a, &b));
		assert_false(same_bytes(&a, &c));
		capstan_buf_free(&a);
		capstan_buf_free(&b);
		capstan_buf_free(&c);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_pkcs12_keystore, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pkcs12_keystore_legacy, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pkcs12_truststore, setup, teardown),
		cmocka_unit_test_setup_teardown(test_password_rules, setup, teardown),
		cmocka_unit_test_setup_teardown(test_jks_keystore, setup, teardown),
		cmocka_unit_test_setup_teardown(test_jks_truststore, setup, teardown),
		cmocka_unit_test_setup_teardown(test_jks_refuses_bad_utf8, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stores_deterministic, setup, teardown),
		cmocka_unit_test_setup_teardown(test_truststores_deterministic, setup, teardown),
	};
	return cmocka_run_group_tests_name("keystores", tests, NULL, NULL);
}
