/*
 * Unit tests: chain building and verification (chain.c). A small PKI made
 * here with x509.h's signer (root, intermediate with pathlen 0, leaves), so
 * that expired, misplaced and over-long chains can be made at will.
 */
#include "unit.h"
#include "unit_pki.h"

#include "base/base.h"

typedef struct {
	capstan_ctx *ctx;
	capstan_key *root_key, *inter_key, *leaf_key, *other_key;
	capstan_buf root, inter, leaf, other_root, expired, sub_inter, under_sub, leaf_pem, chain_pem;
} pki;

static int setup(void **state)
{
	pki *k = calloc(1, sizeof(*k));
	time_t now = time(NULL);
	capstan_strlist sans = { 0 };

	assert_int_equal(capstan_ctx_new(&k->ctx), 0);
	assert_ok(k->ctx, capstan_key_generate(&k->root_key, k->ctx, CAPSTAN_KEY_EC_P256));
	assert_ok(k->ctx, capstan_key_generate(&k->inter_key, k->ctx, CAPSTAN_KEY_EC_P256));
	assert_ok(k->ctx, capstan_key_generate(&k->leaf_key, k->ctx, CAPSTAN_KEY_EC_P256));
	assert_ok(k->ctx, capstan_key_generate(&k->other_key, k->ctx, CAPSTAN_KEY_EC_P256));
	assert_int_equal(capstan_strlist_push(&sans, "DNS:web.internal"), 0);
	k->root = pki_sign(k->ctx, CAPSTAN_KIND_ROOT, 0, "chain Root CA", NULL, now - 300, now + 86400 * 10,
		k->root_key, NULL, k->root_key);
	k->inter = pki_sign(k->ctx, CAPSTAN_KIND_INTERMEDIATE, 0, "chain Intermediate CA", NULL, now - 300,
		now + 86400 * 5, k->inter_key, &k->root, k->root_key);
	k->leaf = pki_sign(k->ctx, CAPSTAN_KIND_LEAF, CAPSTAN_PROFILE_SERVER, "web.internal", &sans, now - 300,
		now + 86400, k->leaf_key, &k->inter, k->inter_key);
	/* the same subject under a root nobody trusts */
	k->other_root = pki_sign(k->ctx, CAPSTAN_KIND_ROOT, 0, "chain Root CA", NULL, now - 300, now + 86400,
		k->other_key, NULL, k->other_key);
	k->expired = pki_sign(k->ctx, CAPSTAN_KIND_LEAF, CAPSTAN_PROFILE_SERVER, "old.internal", &sans, now - 7200,
		now - 3600, k->leaf_key, &k->inter, k->inter_key);
	/* an intermediate under the pathlen:0 intermediate, and a leaf under it */
	k->sub_inter = pki_sign(k->ctx, CAPSTAN_KIND_INTERMEDIATE, 0, "chain Sub CA", NULL, now - 300, now + 86400,
		k->other_key, &k->inter, k->inter_key);
	k->under_sub = pki_sign(k->ctx, CAPSTAN_KIND_LEAF, CAPSTAN_PROFILE_SERVER, "deep.internal", &sans, now - 300,
		now + 3600, k->leaf_key, &k->sub_inter, k->other_key);
	pki_pem_append(k->ctx, &k->leaf_pem, &k->leaf);
	pki_pem_append(k->ctx, &k->chain_pem, &k->leaf);
	pki_pem_append(k->ctx, &k->chain_pem, &k->inter);
	capstan_strlist_free(&sans);
	*state = k;
	return 0;
}

static int teardown(void **state)
{
	pki *k = *state;
	capstan_buf *bufs[] = { &k->root, &k->inter, &k->leaf, &k->other_root, &k->expired, &k->sub_inter,
		&k->under_sub, &k->leaf_pem, &k->chain_pem };

	for (size_t i = 0; i < sizeof(bufs) / sizeof(bufs[0]); i++)
		capstan_buf_free(bufs[i]);
	capstan_key_free(k->root_key);
	capstan_key_free(k->inter_key);
	capstan_key_free(k->leaf_key);
	capstan_key_free(k->other_key);
	capstan_ctx_free(k->ctx);
	free(k);
	return 0;
}

static capstan_der der_of(const capstan_buf *b)
{
	return (capstan_der){ b->data, b->len };
}

/* verify_chain on INPUT: 0 and the leaf it verified, or the error. */
static int verify(pki *k, const capstan_buf *input, const capstan_buf *const *roots, size_t nroots,
	const capstan_buf *const *inters, size_t ninters, const capstan_buf *want_leaf)
{
	capstan_der r[4], i[4];
	capstan_buf leaf = CAPSTAN_BUF_INIT;
	int rc;

	for (size_t n = 0; n < nroots; n++)
		r[n] = der_of(roots[n]);
	for (size_t n = 0; n < ninters; n++)
		i[n] = der_of(inters[n]);
	rc = capstan_x509_verify_chain(&leaf, k->ctx, input->data, input->len, r, nroots, i, ninters);
	if (rc == 0) {
		assert_non_null(want_leaf);
		assert_int_equal(leaf.len, want_leaf->len);
		assert_memory_equal(leaf.data, want_leaf->data, leaf.len);
	} else {
		assert_null(leaf.data);
	}
	capstan_buf_free(&leaf);
	return rc;
}

static void test_paths_that_verify(void **state)
{
	pki *k = *state;
	const capstan_buf *roots[] = { &k->root }, *inters[] = { &k->inter }, *both[] = { &k->other_root, &k->root };

	/* the intermediate given in the input, or by the caller */
	assert_ok(k->ctx, verify(k, &k->chain_pem, roots, 1, NULL, 0, &k->leaf));
	assert_ok(k->ctx, verify(k, &k->leaf_pem, roots, 1, inters, 1, &k->leaf));
	/* one DER certificate */
	assert_ok(k->ctx, verify(k, &k->leaf, roots, 1, inters, 1, &k->leaf));
	/* among several roots, the one that signed it (another with the same name too) */
	assert_ok(k->ctx, verify(k, &k->chain_pem, both, 2, NULL, 0, &k->leaf));
}

static void test_paths_that_do_not(void **state)
{
	pki *k = *state;
	const capstan_buf *roots[] = { &k->root }, *inters[] = { &k->inter }, *other[] = { &k->other_root };
	const capstan_buf *two_inters[] = { &k->inter, &k->sub_inter };
	capstan_buf pem = CAPSTAN_BUF_INIT, junk = CAPSTAN_BUF_INIT;

	/* no intermediate anywhere */
	assert_int_equal(verify(k, &k->leaf_pem, roots, 1, NULL, 0, NULL), CAPSTAN_EINVALID);
	assert_non_null(strstr(capstan_error_message(k->ctx), "unable to get local issuer certificate"));
	/* a root of the same name but another key */
	assert_int_equal(verify(k, &k->chain_pem, other, 1, NULL, 0, NULL), CAPSTAN_EINVALID);
	/* expired */
	pki_pem_append(k->ctx, &pem, &k->expired);
	assert_int_equal(verify(k, &pem, roots, 1, inters, 1, NULL), CAPSTAN_EINVALID);
	assert_non_null(strstr(capstan_error_message(k->ctx), "certificate has expired"));
	assert_non_null(strstr(capstan_error_message(k->ctx), "at depth 0"));
	capstan_buf_free(&pem);
	/* the intermediate's pathlen 0 forbids a CA under it */
	assert_int_equal(verify(k, &k->under_sub, roots, 1, two_inters, 2, NULL), CAPSTAN_EINVALID);
	assert_non_null(strstr(capstan_error_message(k->ctx), "path length constraint exceeded"));
	/* the intermediate itself is not a trust anchor: without the root nothing verifies */
	assert_int_equal(verify(k, &k->leaf_pem, inters, 1, NULL, 0, NULL), CAPSTAN_EINVALID);
	/* a signature that does not match: flip a byte of the leaf's signature */
	pem = (capstan_buf)CAPSTAN_BUF_INIT;
	{
		capstan_buf bad = CAPSTAN_BUF_INIT;
		assert_ok(k->ctx, capstan_buf_set(k->ctx, &bad, k->leaf.data, k->leaf.len));
		bad.data[bad.len - 3] ^= 0x01;
		pki_pem_append(k->ctx, &pem, &bad);
		capstan_buf_free(&bad);
	}
	assert_int_equal(verify(k, &pem, roots, 1, inters, 1, NULL), CAPSTAN_EINVALID);
	assert_non_null(strstr(capstan_error_message(k->ctx), "signature"));
	capstan_buf_free(&pem);
	/* no certificate at all */
	assert_ok(k->ctx, capstan_buf_set(k->ctx, &junk, "hello", 5));
	assert_int_equal(verify(k, &junk, roots, 1, NULL, 0, NULL), CAPSTAN_EINVALID);
	assert_string_equal(capstan_error_message(k->ctx), "no certificate found (expected PEM or DER)");
	capstan_buf_free(&junk);
	assert_ok(k->ctx, capstan_buf_set(k->ctx, &junk, "\x30\x03\x02\x01\x01", 5));
	assert_int_equal(verify(k, &junk, roots, 1, NULL, 0, NULL), CAPSTAN_EINVALID);
	capstan_buf_free(&junk);
}

/* The verifier set up once: facts read with or without a chain check. */
static void test_verifier_facts(void **state)
{
	pki *k = *state;
	capstan_der roots[] = { der_of(&k->root) }, inters[] = { der_of(&k->inter) };
	capstan_x509_verifier *v = NULL;
	capstan_x509_facts facts;
	capstan_x509_info info;
	unsigned char spki[32];

	assert_ok(k->ctx, capstan_x509_verifier_new(&v, k->ctx, roots, 1, inters, 1));
	assert_ok(k->ctx, capstan_x509_info_read(&info, k->ctx, k->leaf.data, k->leaf.len));
	assert_ok(k->ctx, capstan_key_spki_sha256(k->ctx, k->leaf_key, spki));
	memset(&facts, 0, sizeof(facts));
	assert_ok(k->ctx, capstan_x509_verifier_check(v, k->ctx, k->leaf.data, k->leaf.len, 1, &facts));
	assert_string_equal(facts.serial, info.serial);
	assert_int_equal(facts.not_after, info.not_after);
	assert_memory_equal(facts.spki_sha256, spki, 32);
	capstan_x509_info_clear(&info);
	/* the same verifier again, for another certificate: the context is reused */
	assert_int_equal(capstan_x509_verifier_check(v, k->ctx, k->expired.data, k->expired.len, 1, &facts),
		CAPSTAN_EINVALID);
	assert_non_null(strstr(capstan_error_message(k->ctx), "expired"));
	/* without the chain check the facts are read all the same */
	memset(&facts, 0, sizeof(facts));
	assert_ok(k->ctx, capstan_x509_verifier_check(v, k->ctx, k->expired.data, k->expired.len, 0, &facts));
	assert_memory_equal(facts.spki_sha256, spki, 32); /* the same key as the leaf's */
	assert_ok(k->ctx, capstan_x509_verifier_check(v, k->ctx, k->leaf.data, k->leaf.len, 1, &facts));
	assert_int_equal(capstan_x509_verifier_check(v, k->ctx, k->other_root.data, k->other_root.len, 1, &facts),
		CAPSTAN_EINVALID);
	assert_int_equal(capstan_x509_verifier_check(v, k->ctx, (const unsigned char *)"junk", 4, 0, &facts),
		CAPSTAN_EINVALID);
	capstan_x509_verifier_free(v);
	/* a CA certificate that is not one cannot be loaded as a root */
	roots[0] = (capstan_der){ (const unsigned char *)"junk", 4 };
	assert_int_not_equal(capstan_x509_verifier_new(&v, k->ctx, roots, 1, NULL, 0), 0);
}

/* The public entry: capstan_verify against an environment's trust. */
static void test_capstan_verify(void **state)
{
	char *home = NULL;
	capstan_ctx *ctx = unit_open_home(&home);
	capstan_init_opts io = CAPSTAN_INIT_OPTS_INIT;
	capstan_issue_opts o = CAPSTAN_ISSUE_OPTS_INIT;
	capstan_cert *leaf = NULL, *found = NULL;
	capstan_buf chain = CAPSTAN_BUF_INIT, cert = CAPSTAN_BUF_INIT;
	pki *k = *state;

	io.env = "dev";
	assert_ok(ctx, capstan_env_init(NULL, NULL, ctx, &io));
	io.env = "prod";
	assert_ok(ctx, capstan_env_init(NULL, NULL, ctx, &io));
	o.env = "dev";
	o.cn = "client-a";
	o.profile = CAPSTAN_PROFILE_CLIENT;
	assert_ok(ctx, capstan_issue(&leaf, ctx, &o));
	assert_ok(ctx, capstan_export(&chain, ctx, leaf, CAPSTAN_FORMAT_CHAIN, NULL));
	assert_ok(ctx, capstan_export(&cert, ctx, leaf, CAPSTAN_FORMAT_CERT, NULL));
	assert_ok(ctx, capstan_verify(&found, ctx, "dev", chain.data, chain.len));
	assert_string_equal(found->serial, leaf->serial);
	capstan_cert_free(found);
	/* the leaf alone: the environment supplies its intermediate */
	assert_ok(ctx, capstan_verify(NULL, ctx, "dev", cert.data, cert.len));
	assert_ok(ctx, capstan_verify(NULL, ctx, "dev", leaf->der, leaf->der_len));
	/* another environment's trust does not take it */
	assert_int_equal(capstan_verify(NULL, ctx, "prod", chain.data, chain.len), CAPSTAN_EINVALID);
	assert_int_equal(capstan_verify(NULL, ctx, "nowhere", chain.data, chain.len), CAPSTAN_ENOTFOUND);
	/* nor a chain from outside the inventory */
	assert_int_equal(capstan_verify(NULL, ctx, "dev", k->chain_pem.data, k->chain_pem.len), CAPSTAN_EINVALID);
	capstan_buf_free(&chain);
	capstan_buf_free(&cert);
	capstan_cert_free(leaf);
	capstan_ctx_free(ctx);
	unit_remove_home(home);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_paths_that_verify),
		cmocka_unit_test(test_paths_that_do_not),
		cmocka_unit_test(test_verifier_facts),
		cmocka_unit_test(test_capstan_verify),
	};
	return cmocka_run_group_tests_name("chain", tests, setup, teardown);
}
