/* Unit tests: the CA engine through the public API. */
#include "unit.h"

static capstan_ctx *ctx_with_env(char **home, const char *env)
{
	capstan_ctx *ctx = unit_open_home(home);
	capstan_init_opts o = CAPSTAN_INIT_OPTS_INIT;
	capstan_cert *root = NULL, *inter = NULL;

	o.env = env;
	o.org = "Unit Org";
	assert_ok(ctx, capstan_env_init(&root, &inter, ctx, &o));
	assert_int_equal(root->kind, CAPSTAN_KIND_ROOT);
	assert_int_equal(inter->issuer_id, root->id);
	assert_true(inter->not_after <= root->not_after);
	capstan_cert_free(root);
	capstan_cert_free(inter);
	return ctx;
}

static void test_init_twice_refused(void **state)
{
	char *home = NULL;
	capstan_ctx *ctx = ctx_with_env(&home, "dev");
	capstan_init_opts o = CAPSTAN_INIT_OPTS_INIT;
	char **names = NULL;
	size_t n = 0;

	(void)state;
	o.env = "dev";
	assert_int_equal(capstan_env_init(NULL, NULL, ctx, &o), CAPSTAN_EEXISTS);
	assert_string_equal(capstan_error_message(ctx), "environment 'dev' already exists");
	o.env = "../prod";
	assert_int_equal(capstan_env_init(NULL, NULL, ctx, &o), CAPSTAN_EINVALID);
	assert_ok(ctx, capstan_env_list(&names, &n, ctx));
	assert_int_equal(n, 1);
	assert_string_equal(names[0], "dev");
	free(names[0]);
	free(names);
	capstan_ctx_free(ctx);
	unit_remove_home(home);
}

static void test_issue_and_lookup(void **state)
{
	char *home = NULL;
	capstan_ctx *ctx = ctx_with_env(&home, "dev");
	const char *dns[] = { "alt.internal" };
	capstan_issue_opts o = CAPSTAN_ISSUE_OPTS_INIT;
	capstan_cert *cert = NULL, *found = NULL;

	(void)state;
	o.env = "dev";
	o.cn = "web.internal";
	o.profile = CAPSTAN_PROFILE_SERVER;
	o.dns = dns;
	o.dns_count = 1;
	assert_ok(ctx, capstan_issue(&cert, ctx, &o));
	assert_string_equal(cert->name, "web.internal");
	assert_int_equal(cert->san_count, 2);
	assert_string_equal(cert->sans[0], "DNS:web.internal"); /* the CN, first */
	assert_true(cert->has_key);
	assert_int_equal(cert->lifetime, 90 * 86400);
	assert_ok(ctx, capstan_cert_lookup(&found, ctx, "web.internal", NULL));
	assert_int_equal(found->id, cert->id);
	capstan_cert_free(found);
	assert_ok(ctx, capstan_cert_lookup(&found, ctx, cert->serial, NULL));
	assert_int_equal(found->id, cert->id);
	capstan_cert_free(found);
	/* A second certificate for a line that has a valid one is refused. */
	assert_int_equal(capstan_issue(NULL, ctx, &o), CAPSTAN_EEXISTS);
	assert_non_null(strstr(capstan_error_message(ctx), "renew or rotate"));
	assert_int_equal(capstan_cert_lookup(&found, ctx, "nothing", NULL), CAPSTAN_ENOTFOUND);
	assert_int_equal(capstan_cert_lookup(&found, ctx, "web.internal", "prod"), CAPSTAN_ENOTFOUND);
	capstan_cert_free(cert);
	capstan_ctx_free(ctx);
	unit_remove_home(home);
}

static void test_profile_rules(void **state)
{
	char *home = NULL;
	capstan_ctx *ctx = ctx_with_env(&home, "dev");
	capstan_issue_opts o = CAPSTAN_ISSUE_OPTS_INIT;
	const char *bad_ip[] = { "300.0.0.1" };

	(void)state;
	o.env = "dev";
	o.cn = "My Server";
	o.name = "mine";
	o.profile = CAPSTAN_PROFILE_SERVER;
	assert_int_equal(capstan_issue(NULL, ctx, &o), CAPSTAN_EINVALID);
	assert_non_null(strstr(capstan_error_message(ctx), "needs a DNS or IP SAN"));
	o.profile = CAPSTAN_PROFILE_PEER;
	assert_int_equal(capstan_issue(NULL, ctx, &o), CAPSTAN_EINVALID);
	o.profile = CAPSTAN_PROFILE_SERVER;
	o.ip = bad_ip;
	o.ip_count = 1;
	assert_int_equal(capstan_issue(NULL, ctx, &o), CAPSTAN_EINVALID);
	assert_string_equal(capstan_error_message(ctx), "invalid IP address '300.0.0.1': not an IPv4 or IPv6 address");
	assert_int_equal(capstan_error_subject(ctx), CAPSTAN_FIELD_IP);
	/* A client needs no SAN; a CN that is not a file-safe name needs --name. */
	o.ip_count = 0;
	o.profile = CAPSTAN_PROFILE_CLIENT;
	o.name = NULL;
	assert_int_equal(capstan_issue(NULL, ctx, &o), CAPSTAN_EINVALID);
	assert_non_null(strstr(capstan_error_message(ctx), "the certificate needs a name"));
	assert_int_equal(capstan_error_subject(ctx), CAPSTAN_FIELD_NAME);
	o.name = "mine";
	assert_ok(ctx, capstan_issue(NULL, ctx, &o));
	capstan_ctx_free(ctx);
	unit_remove_home(home);
}

static void test_leaf_never_outlives_issuer(void **state)
{
	char *home = NULL;
	capstan_ctx *ctx = unit_open_home(&home);
	capstan_init_opts io = CAPSTAN_INIT_OPTS_INIT;
	capstan_issue_opts o = CAPSTAN_ISSUE_OPTS_INIT;
	capstan_cert *root = NULL, *inter = NULL, *leaf = NULL;

	(void)state;
	io.env = "short";
	io.ca_lifetime = 10 * 86400;
	assert_ok(ctx, capstan_env_init(&root, &inter, ctx, &io));
	o.env = "short";
	o.cn = "long-lived";
	o.profile = CAPSTAN_PROFILE_CLIENT;
	o.lifetime = 365 * 86400;
	assert_ok(ctx, capstan_issue(&leaf, ctx, &o));
	assert_int_equal(leaf->not_after, inter->not_after);
	assert_int_equal(leaf->lifetime, 365 * 86400); /* the line keeps what was asked */
	capstan_cert_free(root);
	capstan_cert_free(inter);
	capstan_cert_free(leaf);
	capstan_ctx_free(ctx);
	unit_remove_home(home);
}

static void test_wrong_and_short_passphrase(void **state)
{
	char *home = NULL;
	capstan_ctx *ctx = ctx_with_env(&home, "dev");
	capstan_secret pass = CAPSTAN_SECRET_INIT;
	capstan_issue_opts o = CAPSTAN_ISSUE_OPTS_INIT;
	capstan_ctx *fresh = NULL;
	char *other = unit_temp_home();

	(void)state;
	capstan_ctx_free(ctx);
	assert_int_equal(capstan_ctx_new(&ctx), 0);
	assert_ok(ctx, capstan_home_open(ctx, home, CAPSTAN_OPEN_EXISTING));
	assert_ok(ctx, capstan_secret_set(&pass, ctx, "wrong passphrase", 16));
	assert_int_equal(capstan_home_unlock(ctx, &pass), CAPSTAN_EAUTH);
	assert_non_null(strstr(capstan_error_message(ctx), "wrong passphrase"));
	o.env = "dev";
	o.cn = "c";
	o.profile = CAPSTAN_PROFILE_CLIENT;
	assert_int_equal(capstan_issue(NULL, ctx, &o), CAPSTAN_EAUTH);
	capstan_ctx_free(ctx);
	/* A new inventory refuses a short passphrase. */
	assert_int_equal(capstan_ctx_new(&fresh), 0);
	assert_ok(fresh, capstan_home_open(fresh, other, CAPSTAN_OPEN_CREATE));
	assert_ok(fresh, capstan_secret_set(&pass, fresh, "short", 5));
	assert_int_equal(capstan_home_unlock(fresh, &pass), CAPSTAN_EINVALID);
	assert_false(capstan_home_has_keyring(fresh));
	capstan_secret_free(&pass);
	capstan_ctx_free(fresh);
	unit_remove_home(home);
	unit_remove_home(other);
}

static void test_export_and_trust(void **state)
{
	char *home = NULL;
	capstan_ctx *ctx = ctx_with_env(&home, "dev");
	capstan_issue_opts o = CAPSTAN_ISSUE_OPTS_INIT;
	capstan_buf buf = CAPSTAN_BUF_INIT;
	capstan_cert *cert = NULL;
	size_t begins = 0;

	(void)state;
	o.env = "dev";
	o.cn = "db";
	o.profile = CAPSTAN_PROFILE_PEER;
	assert_ok(ctx, capstan_issue(&cert, ctx, &o));
	assert_ok(ctx, capstan_export(&buf, ctx, cert, CAPSTAN_FORMAT_CHAIN, NULL));
	for (char *p = (char *)buf.data; (p = strstr(p, "BEGIN CERTIFICATE")); p++)
		begins++;
	assert_int_equal(begins, 2); /* leaf + intermediate, not the root */
	capstan_buf_free(&buf);
	assert_ok(ctx, capstan_export(&buf, ctx, cert, CAPSTAN_FORMAT_DER, NULL));
	assert_int_equal(buf.len, cert->der_len);
	capstan_buf_free(&buf);
	assert_ok(ctx, capstan_export(&buf, ctx, cert, CAPSTAN_FORMAT_KEY, NULL));
	assert_memory_equal(buf.data, "-----BEGIN PRIVATE KEY-----", 27);
	capstan_buf_free(&buf);
	assert_ok(ctx, capstan_trust_pem(&buf, ctx, "dev"));
	assert_non_null(strstr((char *)buf.data, "BEGIN CERTIFICATE"));
	capstan_buf_free(&buf);
	assert_int_equal(capstan_trust_pem(&buf, ctx, "prod"), CAPSTAN_ENOTFOUND);
	capstan_cert_free(cert);
	capstan_ctx_free(ctx);
	unit_remove_home(home);
}

/* An options struct of another version is refused, naming it; nothing is read. */
static void test_options_version_checked(void **state)
{
	char *home = NULL;
	capstan_ctx *ctx = ctx_with_env(&home, "dev");
	capstan_issue_opts o = CAPSTAN_ISSUE_OPTS_INIT;
	capstan_list_opts lo = CAPSTAN_LIST_OPTS_INIT;
	capstan_cert_iter *it = NULL;

	(void)state;
	o.version = 0; /* a struct set up by hand, without CAPSTAN_ISSUE_OPTS_INIT */
	o.env = "dev";
	o.cn = "web.internal";
	assert_int_equal(capstan_issue(NULL, ctx, &o), CAPSTAN_EINVALID);
	assert_non_null(strstr(capstan_error_message(ctx), "capstan_issue_opts has version 0"));
	lo.version = CAPSTAN_LIST_OPTS_VERSION + 1;
	assert_int_equal(capstan_cert_iter_new(&it, ctx, &lo), CAPSTAN_EINVALID);
	assert_non_null(strstr(capstan_error_message(ctx), "capstan_list_opts"));
	assert_int_equal(capstan_cert_iter_new(&it, ctx, NULL), CAPSTAN_EINVALID);
	capstan_ctx_free(ctx);
	unit_remove_home(home);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_init_twice_refused),
		cmocka_unit_test(test_issue_and_lookup),
		cmocka_unit_test(test_profile_rules),
		cmocka_unit_test(test_leaf_never_outlives_issuer),
		cmocka_unit_test(test_wrong_and_short_passphrase),
		cmocka_unit_test(test_export_and_trust),
		cmocka_unit_test(test_options_version_checked),
	};
	return cmocka_run_group_tests_name("ca", tests, NULL, NULL);
}
