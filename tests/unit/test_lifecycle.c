/* Unit tests: renew, rotate, revoke, renew_due, CA rotation, CRLs, verify, metrics. */
#include "unit.h"
#include "store/store.h" /* capstan_store_still_due: the due query itself */

#include "store/store_internal.h" /* to age a stored CRL */

static capstan_ctx *setup(char **home, capstan_cert **leaf, int64_t lifetime)
{
	capstan_ctx *ctx = unit_open_home(home);
	capstan_init_opts io = CAPSTAN_INIT_OPTS_INIT;
	capstan_issue_opts o = CAPSTAN_ISSUE_OPTS_INIT;

	io.env = "dev";
	assert_ok(ctx, capstan_env_init(NULL, NULL, ctx, &io));
	o.env = "dev";
	o.cn = "svc.internal";
	o.profile = CAPSTAN_PROFILE_SERVER;
	o.lifetime = lifetime;
	assert_ok(ctx, capstan_issue(leaf, ctx, &o));
	return ctx;
}

static void teardown(capstan_ctx *ctx, char *home)
{
	capstan_ctx_free(ctx);
	unit_remove_home(home);
}

static void test_renew_keeps_key_rotate_changes_it(void **state)
{
	char *home = NULL;
	capstan_cert *leaf = NULL, *renewed = NULL, *rotated = NULL, *old = NULL;
	capstan_buf k1 = CAPSTAN_BUF_INIT, k2 = CAPSTAN_BUF_INIT, k3 = CAPSTAN_BUF_INIT;
	capstan_ctx *ctx = setup(&home, &leaf, 0);

	(void)state;
	assert_ok(ctx, capstan_export(&k1, ctx, leaf, CAPSTAN_FORMAT_KEY, NULL));
	assert_ok(ctx, capstan_renew(&renewed, ctx, leaf, 30 * 86400));
	assert_string_not_equal(renewed->serial, leaf->serial);
	assert_int_equal(renewed->lifetime, 30 * 86400);
	assert_ok(ctx, capstan_export(&k2, ctx, renewed, CAPSTAN_FORMAT_KEY, NULL));
	assert_int_equal(k1.len, k2.len);
	assert_memory_equal(k1.data, k2.data, k1.len);
	assert_ok(ctx, capstan_cert_lookup(&old, ctx, leaf->serial, NULL));
	assert_int_equal(old->status, CAPSTAN_STATUS_SUPERSEDED);
	/* The superseded serial cannot be renewed again. */
	assert_int_equal(capstan_renew(&rotated, ctx, old, 0), CAPSTAN_EINVALID);
	assert_ok(ctx, capstan_rotate(&rotated, ctx, renewed, 0));
	assert_int_equal(rotated->lifetime, 30 * 86400); /* the line keeps its lifetime */
	assert_ok(ctx, capstan_export(&k3, ctx, rotated, CAPSTAN_FORMAT_KEY, NULL));
	assert_false(k3.len == k1.len && memcmp(k3.data, k1.data, k1.len) == 0);
	capstan_buf_free(&k1);
	capstan_buf_free(&k2);
	capstan_buf_free(&k3);
	capstan_cert_free(old);
	capstan_cert_free(leaf);
	capstan_cert_free(renewed);
	capstan_cert_free(rotated);
	teardown(ctx, home);
}

static void test_revoke(void **state)
{
	char *home = NULL;
	capstan_cert *leaf = NULL, *again = NULL, *rotated = NULL;
	capstan_ctx *ctx = setup(&home, &leaf, 0);
	capstan_buf chain = CAPSTAN_BUF_INIT;
	capstan_revoke_reason r;

	(void)state;
	assert_int_equal(capstan_revoke_reason_parse("keyCompromise", &r), 0);
	assert_int_equal(r, 1);
	assert_int_equal(capstan_revoke_reason_parse("stolen", &r), CAPSTAN_EINVALID);
	assert_ok(ctx, capstan_export(&chain, ctx, leaf, CAPSTAN_FORMAT_CHAIN, NULL));
	assert_ok(ctx, capstan_verify(NULL, ctx, "dev", chain.data, chain.len));
	assert_ok(ctx, capstan_revoke(ctx, leaf, CAPSTAN_REASON_KEY_COMPROMISE));
	assert_int_equal(capstan_verify(NULL, ctx, "dev", chain.data, chain.len), CAPSTAN_EINVALID);
	assert_non_null(strstr(capstan_error_message(ctx), "was revoked"));
	capstan_buf_free(&chain);
	assert_int_equal(capstan_revoke(ctx, leaf, CAPSTAN_REASON_UNSPECIFIED), CAPSTAN_EEXISTS);
	assert_ok(ctx, capstan_cert_lookup(&again, ctx, "svc.internal", NULL));
	assert_int_equal(again->status, CAPSTAN_STATUS_REVOKED);
	assert_string_equal(again->revoke_reason, "keyCompromise");
	assert_int_equal(capstan_renew(&rotated, ctx, again, 0), CAPSTAN_EINVALID);
	assert_ok(ctx, capstan_rotate(&rotated, ctx, again, 0));
	capstan_cert_free(leaf);
	capstan_cert_free(again);
	capstan_cert_free(rotated);
	teardown(ctx, home);
}

static int count_results(const capstan_due_result *r, void *payload)
{
	int *n = payload;

	assert_non_null(r->renewed);
	(*n)++;
	return 0;
}

/* A certificate just issued is not due in its own window nor in a --within
 * shorter than what it has left; a --within that reaches its end renews it,
 * however long (as asked), and the renewed one is not due again by default.
 * (Due certificates are exercised with faketime in tests/e2e/t1000.) */
static void test_renew_due_idempotent(void **state)
{
	char *home = NULL;
	capstan_cert *leaf = NULL;
	capstan_ctx *ctx = setup(&home, &leaf, 2 * 86400);
	capstan_due_opts o = CAPSTAN_DUE_OPTS_INIT;
	/* 2d - 10 min: not 2d - 1 s, which a slow second makes due */
	const int64_t windows[] = { 0, 3600, 2 * 86400 - 600 };
	int n = 0;

	(void)state;
	for (size_t i = 0; i < sizeof(windows) / sizeof(windows[0]); i++) {
		o.within = windows[i];
		assert_ok(ctx, capstan_renew_due(ctx, &o, count_results, &n));
		assert_int_equal(n, 0);
	}
	o.within = 365 * 86400;
	assert_ok(ctx, capstan_renew_due(ctx, &o, count_results, &n));
	assert_int_equal(n, 1);
	o.within = 0;
	assert_ok(ctx, capstan_renew_due(ctx, &o, count_results, &n));
	assert_int_equal(n, 1);
	o.env = "nowhere";
	assert_int_equal(capstan_renew_due(ctx, &o, count_results, &n), CAPSTAN_ENOTFOUND);
	capstan_cert_free(leaf);
	teardown(ctx, home);
}

/* One rule for the renew-before window: whatever window a certificate was
 * issued with (none, shorter than its lifetime, as long, longer), the store's
 * due query turns due exactly where capstan_cert_renew_window says. */
static void test_renew_window_is_one_rule(void **state)
{
	static const struct { int64_t lifetime, renew_before; } lines[] = {
		{ 90 * 86400, 0 }, { 30 * 86400, 0 }, { 60 * 86400, 45 * 86400 },
		{ 30 * 86400, 30 * 86400 }, { 10 * 86400, 20 * 86400 },
	};
	char *home = NULL, name[32];
	capstan_cert *leaf = NULL, *cert = NULL;
	capstan_ctx *ctx = setup(&home, &leaf, 0);

	(void)state;
	for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++) {
		capstan_issue_opts o = CAPSTAN_ISSUE_OPTS_INIT;
		int64_t window;
		snprintf(name, sizeof(name), "line%zu", i);
		o.env = "dev";
		o.cn = name;
		o.profile = CAPSTAN_PROFILE_CLIENT;
		o.lifetime = lines[i].lifetime;
		o.renew_before = lines[i].renew_before;
		assert_ok(ctx, capstan_issue(&cert, ctx, &o));
		window = capstan_cert_renew_window(cert);
		assert_true(window > 0 && window < lines[i].lifetime);
		assert_int_equal(capstan_store_still_due(ctx, cert->id, cert->not_after - window - 60, 0, 0), 0);
		assert_int_equal(capstan_store_still_due(ctx, cert->id, cert->not_after - window + 60, 0, 0), 1);
		capstan_cert_free(cert);
	}
	capstan_cert_free(leaf);
	teardown(ctx, home);
}

static void test_ca_rotation_and_crls(void **state)
{
	char *home = NULL;
	capstan_cert *leaf = NULL, *root = NULL, *inter = NULL;
	capstan_ctx *ctx = setup(&home, &leaf, 0);
	capstan_ca_rotate_opts ro = CAPSTAN_CA_ROTATE_OPTS_INIT;
	capstan_crl_opts co = CAPSTAN_CRL_OPTS_INIT;
	capstan_buf *crls = NULL, trust = CAPSTAN_BUF_INIT, chain = CAPSTAN_BUF_INIT;
	capstan_leaving_root *leaving = NULL;
	size_t n = 0;

	(void)state;
	assert_ok(ctx, capstan_trust_leaving(&leaving, &n, ctx, "dev"));
	assert_int_equal(n, 0); /* no rotation: no root on its way out */
	assert_int_equal(capstan_trust_leaving(&leaving, &n, ctx, "nowhere"), CAPSTAN_ENOTFOUND);
	assert_ok(ctx, capstan_export(&chain, ctx, leaf, CAPSTAN_FORMAT_CHAIN, NULL));
	ro.env = "dev";
	assert_ok(ctx, capstan_ca_rotate(&root, &inter, ctx, &ro));
	assert_null(root);
	assert_non_null(strstr(inter->subject, "Intermediate CA 2"));
	co.env = "dev";
	assert_ok(ctx, capstan_crl_generate(&crls, &n, ctx, &co));
	assert_int_equal(n, 2); /* the old intermediate still has a live leaf */
	capstan_crl_list_free(crls, n);
	co.single = 1;
	assert_int_equal(capstan_crl_generate(&crls, &n, ctx, &co), CAPSTAN_EINVALID);
	ro.root = 1;
	capstan_cert_free(inter);
	assert_ok(ctx, capstan_ca_rotate(&root, &inter, ctx, &ro));
	assert_non_null(strstr(root->subject, "Root CA 2"));
	assert_int_equal(inter->issuer_id, root->id);
	assert_ok(ctx, capstan_trust_pem(&trust, ctx, "dev"));
	assert_non_null(strstr(strstr((char *)trust.data, "END CERTIFICATE") + 1, "BEGIN CERTIFICATE"));
	/* The old leaf still verifies against the environment during the overlap. */
	assert_ok(ctx, capstan_verify(NULL, ctx, "dev", chain.data, chain.len));
	/* The old root is on its way out: it leaves when that leaf expires. */
	assert_ok(ctx, capstan_trust_leaving(&leaving, &n, ctx, NULL));
	assert_int_equal(n, 1);
	assert_int_equal(leaving[0].root->kind, CAPSTAN_KIND_ROOT);
	assert_int_not_equal(leaving[0].root->id, root->id);
	assert_string_equal(leaving[0].root->name, "root-ca");
	assert_string_equal(leaving[0].root->subject, "CN=dev Root CA");
	assert_int_equal(leaving[0].leaves_trust_at, leaf->not_after);
	capstan_leaving_roots_free(leaving, n);
	assert_ok(ctx, capstan_revoke(ctx, leaf, CAPSTAN_REASON_SUPERSEDED));
	assert_ok(ctx, capstan_trust_leaving(&leaving, &n, ctx, "dev"));
	assert_int_equal(n, 0); /* its last leaf revoked, it has left already */
	/* Revoked, it anchors the old root no more: the old root leaves the trust. */
	assert_int_equal(capstan_verify(NULL, ctx, "dev", chain.data, chain.len), CAPSTAN_EINVALID);
	assert_non_null(strstr(capstan_error_message(ctx), "unable to get local issuer"));
	capstan_buf_free(&trust);
	capstan_buf_free(&chain);
	capstan_cert_free(root);
	capstan_cert_free(inter);
	capstan_cert_free(leaf);
	teardown(ctx, home);
}

/* keyCompromise revokes every unexpired certificate of the key; another
 * reason revokes one and reports the others. */
static void test_revoke_key(void **state)
{
	char *home = NULL;
	capstan_cert *leaf = NULL, *renewed = NULL, *newest = NULL, *old = NULL;
	capstan_ctx *ctx = setup(&home, &leaf, 0);
	capstan_revocation r = { 0 };

	(void)state;
	assert_ok(ctx, capstan_renew(&renewed, ctx, leaf, 0));
	assert_ok(ctx, capstan_revoke_ex(&r, ctx, renewed, CAPSTAN_REASON_SUPERSEDED));
	assert_int_equal(r.count, 1);
	assert_false(r.revoked);
	assert_string_equal(r.same_key[0]->serial, leaf->serial);
	assert_int_equal(r.same_key[0]->status, CAPSTAN_STATUS_SUPERSEDED);
	capstan_revocation_clear(&r);
	assert_ok(ctx, capstan_rotate(&newest, ctx, renewed, 0)); /* a new key: not one of them */
	assert_ok(ctx, capstan_revoke_ex(&r, ctx, newest, CAPSTAN_REASON_KEY_COMPROMISE));
	assert_int_equal(r.count, 0);
	capstan_revocation_clear(&r);
	/* The first certificate of the old key: its renewal is revoked already,
	 * nothing else live carries that key. */
	assert_ok(ctx, capstan_cert_lookup(&old, ctx, leaf->serial, NULL));
	assert_ok(ctx, capstan_revoke_ex(&r, ctx, old, CAPSTAN_REASON_KEY_COMPROMISE));
	assert_int_equal(r.count, 0); /* the renewal was revoked already */
	capstan_revocation_clear(&r);
	capstan_cert_free(old);
	capstan_cert_free(leaf);
	capstan_cert_free(renewed);
	capstan_cert_free(newest);
	teardown(ctx, home);
}

static void test_revoke_key_revokes_the_line(void **state)
{
	char *home = NULL;
	capstan_cert *leaf = NULL, *r1 = NULL, *r2 = NULL, *old = NULL;
	capstan_ctx *ctx = setup(&home, &leaf, 0);
	capstan_revocation r = { 0 };

	(void)state;
	assert_ok(ctx, capstan_renew(&r1, ctx, leaf, 0));
	assert_ok(ctx, capstan_renew(&r2, ctx, r1, 0));
	assert_ok(ctx, capstan_revoke_ex(&r, ctx, r2, CAPSTAN_REASON_KEY_COMPROMISE));
	assert_int_equal(r.count, 2);
	assert_true(r.revoked);
	assert_string_equal(r.same_key[0]->serial, leaf->serial); /* oldest first */
	assert_string_equal(r.same_key[1]->serial, r1->serial);
	for (size_t i = 0; i < 2; i++) {
		assert_ok(ctx, capstan_cert_lookup(&old, ctx, r.same_key[i]->serial, NULL));
		assert_int_equal(old->status, CAPSTAN_STATUS_REVOKED);
		assert_string_equal(old->revoke_reason, "keyCompromise");
		assert_int_equal(r.same_key[i]->status, CAPSTAN_STATUS_REVOKED);
		capstan_cert_free(old);
	}
	capstan_revocation_clear(&r);
	capstan_cert_free(leaf);
	capstan_cert_free(r1);
	capstan_cert_free(r2);
	teardown(ctx, home);
}

static void age_crls(capstan_ctx *ctx, int64_t seconds)
{
	char sql[128];

	snprintf(sql, sizeof(sql), "UPDATE crls SET this_update = this_update - %lld, next_update = next_update - %lld",
		(long long)seconds, (long long)seconds);
	assert_int_equal(sqlite3_exec(ctx->store->db, sql, NULL, NULL, NULL), SQLITE_OK);
}

/* The intermediate's and the root's CRL; with reuse, signed once and handed
 * out again until a revocation or the last third of their validity. */
static void test_crl_items_reuse(void **state)
{
	char *home = NULL;
	capstan_cert *leaf = NULL;
	capstan_ctx *ctx = setup(&home, &leaf, 0);
	capstan_crl_opts co = CAPSTAN_CRL_OPTS_INIT;
	capstan_crl_item *a = NULL, *b = NULL;
	size_t na = 0, nb = 0;
	time_t at = 1;

	(void)state;
	co.env = "dev";
	co.reuse = 1;
	assert_ok(ctx, capstan_crl_refresh_at(&at, ctx, "dev"));
	assert_int_equal(at, 0); /* nothing signed yet: due now */
	assert_ok(ctx, capstan_crl_items(&a, &na, ctx, &co));
	assert_int_equal(na, 2);
	assert_string_equal(a[0].issuer_name, "intermediate-ca-1");
	assert_false(a[0].is_root);
	assert_true(a[0].is_current);
	assert_string_equal(a[1].issuer_name, "root-ca");
	assert_true(a[1].is_root);
	assert_true(a[1].is_current);
	assert_false(a[0].reused);
	assert_int_equal(a[0].number, 1);
	assert_int_equal(a[0].next_update - a[0].this_update, 7 * 86400);
	assert_ok(ctx, capstan_crl_refresh_at(&at, ctx, "dev"));
	assert_int_equal(at, a[0].this_update + 7 * 86400 * 2 / 3);

	/* Again: the same CRLs, not signed anew. */
	assert_ok(ctx, capstan_crl_items(&b, &nb, ctx, &co));
	assert_int_equal(nb, 2);
	for (size_t i = 0; i < 2; i++) {
		assert_true(b[i].reused);
		assert_int_equal(b[i].number, 1);
		assert_int_equal(b[i].der.len, a[i].der.len);
		assert_memory_equal(b[i].der.data, a[i].der.data, a[i].der.len);
	}
	capstan_crl_items_free(b, nb);

	/* Four days into seven: still fresh. Five: the last third, signed anew. */
	age_crls(ctx, 4 * 86400);
	assert_ok(ctx, capstan_crl_items(&b, &nb, ctx, &co));
	assert_true(b[0].reused && b[1].reused);
	capstan_crl_items_free(b, nb);
	age_crls(ctx, 86400);
	assert_ok(ctx, capstan_crl_refresh_at(&at, ctx, "dev"));
	assert_true(at <= time(NULL));
	assert_ok(ctx, capstan_crl_items(&b, &nb, ctx, &co));
	assert_false(b[0].reused || b[1].reused);
	assert_int_equal(b[0].number, 2);
	capstan_crl_items_free(b, nb);

	/* A revocation makes only its issuer's CRL stale. */
	assert_ok(ctx, capstan_revoke(ctx, leaf, CAPSTAN_REASON_UNSPECIFIED));
	assert_ok(ctx, capstan_crl_refresh_at(&at, ctx, "dev"));
	assert_int_equal(at, 0);
	assert_ok(ctx, capstan_crl_items(&b, &nb, ctx, &co));
	assert_false(b[0].reused);
	assert_int_equal(b[0].number, 3);
	assert_true(b[1].reused);
	assert_int_equal(b[1].number, 2);
	capstan_crl_items_free(b, nb);

	/* Without reuse every call signs, as the crl command does. */
	co.reuse = 0;
	assert_ok(ctx, capstan_crl_items(&b, &nb, ctx, &co));
	assert_false(b[0].reused || b[1].reused);
	assert_int_equal(b[1].number, 3);
	capstan_crl_items_free(b, nb);
	capstan_crl_items_free(a, na);
	capstan_cert_free(leaf);
	teardown(ctx, home);
}

static void test_metrics(void **state)
{
	char *home = NULL;
	capstan_cert *leaf = NULL;
	capstan_ctx *ctx = setup(&home, &leaf, 0);
	capstan_buf text = CAPSTAN_BUF_INIT;
	char want[160];

	(void)state;
	assert_ok(ctx, capstan_metrics(&text, ctx));
	snprintf(want, sizeof(want), "capstan_cert_not_after_seconds{env=\"dev\",name=\"svc.internal\",serial=\"%s\","
		"profile=\"server\"} %lld\n", leaf->serial, (long long)leaf->not_after);
	assert_non_null(strstr((char *)text.data, want));
	assert_non_null(strstr((char *)text.data, "capstan_certificates{env=\"dev\",status=\"valid\"} 1\n"));
	capstan_buf_free(&text);
	capstan_cert_free(leaf);
	teardown(ctx, home);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_renew_keeps_key_rotate_changes_it),
		cmocka_unit_test(test_revoke),
		cmocka_unit_test(test_renew_due_idempotent),
		cmocka_unit_test(test_renew_window_is_one_rule),
		cmocka_unit_test(test_ca_rotation_and_crls),
		cmocka_unit_test(test_revoke_key),
		cmocka_unit_test(test_revoke_key_revokes_the_line),
		cmocka_unit_test(test_crl_items_reuse),
		cmocka_unit_test(test_metrics),
	};
	return cmocka_run_group_tests_name("lifecycle", tests, NULL, NULL);
}
