/*
 * Unit tests: the batch path (batch.c): many requests signed on worker
 * threads, committed in groups by one writer. Each request is reported once,
 * a bad one for its own line only, and a certificate only once its group has
 * committed (another connection sees it from inside the callback).
 */
#include "unit.h"

#define MAX_REQ 32

typedef struct {
	capstan_ctx *reader;        /* a second connection to the same home */
	size_t count;
	int seen[MAX_REQ];
	char *serial[MAX_REQ];
	char *error[MAX_REQ];
	capstan_key_type key[MAX_REQ];
	int64_t lifetime[MAX_REQ];
	char *name[MAX_REQ];
	int committed[MAX_REQ];     /* the reader found it when it was reported */
} results;

static int collect(const capstan_batch_result *r, void *payload)
{
	results *res = payload;
	capstan_cert *found = NULL;

	assert_true(r->index < res->count);
	res->seen[r->index]++;
	if (!r->cert) {
		assert_non_null(r->error);
		res->error[r->index] = strdup(r->error);
		return 0;
	}
	assert_null(r->error);
	res->serial[r->index] = strdup(r->cert->serial);
	res->name[r->index] = strdup(r->cert->name);
	res->key[r->index] = r->cert->key_type;
	res->lifetime[r->index] = r->cert->lifetime;
	assert_int_equal(r->cert->status, CAPSTAN_STATUS_VALID);
	if (res->reader && capstan_cert_lookup(&found, res->reader, r->cert->serial, "dev") == 0) {
		res->committed[r->index] = found->status == CAPSTAN_STATUS_VALID;
		capstan_cert_free(found);
	}
	return 0;
}

static void results_clear(results *res)
{
	for (size_t i = 0; i < MAX_REQ; i++) {
		free(res->serial[i]);
		free(res->error[i]);
		free(res->name[i]);
	}
	capstan_ctx_free(res->reader);
	memset(res, 0, sizeof(*res));
}

static capstan_ctx *with_env(char **home)
{
	capstan_ctx *ctx = unit_open_home(home);
	capstan_init_opts io = CAPSTAN_INIT_OPTS_INIT;

	io.env = "dev";
	assert_ok(ctx, capstan_env_init(NULL, NULL, ctx, &io));
	return ctx;
}

static capstan_ctx *reader_of(const char *home)
{
	capstan_ctx *r = NULL;

	assert_int_equal(capstan_ctx_new(&r), 0);
	assert_ok(r, capstan_home_open(r, home, CAPSTAN_OPEN_EXISTING));
	return r;
}

static capstan_issue_opts client(const char *env, const char *cn)
{
	capstan_issue_opts o = CAPSTAN_ISSUE_OPTS_INIT;

	o.env = env;
	o.cn = cn;
	o.profile = CAPSTAN_PROFILE_CLIENT;
	return o;
}

static void assert_distinct_serials(results *res)
{
	for (size_t i = 0; i < res->count; i++)
		for (size_t j = i + 1; j < res->count; j++)
			if (res->serial[i] && res->serial[j])
				assert_string_not_equal(res->serial[i], res->serial[j]);
}

static void test_bad_requests_fail_alone(void **state)
{
	char *home = NULL;
	capstan_ctx *ctx = with_env(&home);
	const char *dns[] = { "s1.internal" };
	capstan_issue_opts req[8];
	capstan_batch_opts bo = CAPSTAN_BATCH_OPTS_INIT;
	results res = { 0 };
	int64_t rows_before = 0, rows_after = 0, bad = 0;
	const char csr[] = "-----BEGIN CERTIFICATE REQUEST-----\n";

	(void)state;
	req[0] = client("dev", "c0");
	req[1] = client("dev", "s1");
	req[1].profile = CAPSTAN_PROFILE_SERVER;
	req[1].dns = dns;
	req[1].dns_count = 1;
	req[2] = client("dev", "My Server");       /* a server without a SAN */
	req[2].name = "bad";
	req[2].profile = CAPSTAN_PROFILE_SERVER;
	req[3] = client("dev", "c3");
	req[3].key_set = 1;
	req[3].key = CAPSTAN_KEY_ED25519;
	req[4] = client("dev", "c0");              /* the line request 0 makes */
	req[5] = client("nowhere", "c5");          /* no such environment */
	req[6] = client("dev", "c6");
	req[6].key_set = 1;
	req[6].key = CAPSTAN_KEY_EC_P384;
	req[6].lifetime = 10 * 86400;
	req[7] = client("dev", "c7");              /* a CSR: not for the batch */
	req[7].csr = (const unsigned char *)csr;
	req[7].csr_len = sizeof(csr) - 1;

	bo.threads = 2;
	bo.group = 2;
	res.count = 8;
	res.reader = reader_of(home);
	assert_ok(ctx, capstan_audit_verify(&bad, &rows_before, ctx));
	assert_int_equal(capstan_issue_batch(ctx, req, 8, &bo, collect, &res), CAPSTAN_EINVALID);
	assert_string_equal(capstan_error_message(ctx), "4 of 8 certificates could not be issued");

	for (size_t i = 0; i < 8; i++)
		assert_int_equal(res.seen[i], 1);
	assert_non_null(strstr(res.error[2], "needs a DNS or IP SAN"));
	assert_non_null(strstr(res.error[4], "already has a valid certificate"));
	assert_non_null(strstr(res.error[5], "nowhere"));
	assert_non_null(strstr(res.error[7], "a batch takes no CSR"));
	for (size_t i = 0; i < 8; i++) {
		int ok = i == 0 || i == 1 || i == 3 || i == 6;
		assert_int_equal(res.serial[i] != NULL, ok);
		if (!ok)
			continue;
		assert_true(res.committed[i]);
		assert_string_equal(res.name[i], req[i].cn);
	}
	assert_int_equal(res.key[0], CAPSTAN_KEY_EC_P256);
	assert_int_equal(res.key[3], CAPSTAN_KEY_ED25519);
	assert_int_equal(res.key[6], CAPSTAN_KEY_EC_P384);
	assert_int_equal(res.lifetime[6], 10 * 86400);
	assert_int_equal(res.lifetime[0], 90 * 86400);
	assert_distinct_serials(&res);

	/* Each one in the inventory, valid, and verifying against the environment;
	 * the refused ones left nothing behind. */
	for (size_t i = 0; i < 8; i++) {
		capstan_cert *c = NULL;
		if (!res.serial[i])
			continue;
		assert_ok(ctx, capstan_cert_lookup(&c, ctx, res.serial[i], "dev"));
		assert_int_equal(c->status, CAPSTAN_STATUS_VALID);
		assert_true(c->has_key);
		assert_ok(ctx, capstan_verify(NULL, ctx, "dev", c->der, c->der_len));
		capstan_cert_free(c);
	}
	{
		capstan_cert *c = NULL;
		assert_int_equal(capstan_cert_lookup(&c, ctx, "bad", "dev"), CAPSTAN_ENOTFOUND);
		assert_int_equal(capstan_cert_lookup(&c, ctx, "c7", "dev"), CAPSTAN_ENOTFOUND);
		/* c0 has one certificate: the second request did not supersede it */
		assert_ok(ctx, capstan_cert_lookup(&c, ctx, "c0", "dev"));
		assert_string_equal(c->serial, res.serial[0]);
		capstan_cert_free(c);
	}
	/* one audit row per certificate issued, and the chain intact */
	assert_ok(ctx, capstan_audit_verify(&bad, &rows_after, ctx));
	assert_int_equal(rows_after, rows_before + 4);
	results_clear(&res);
	capstan_ctx_free(ctx);
	unit_remove_home(home);
}

/* Many requests, more groups than threads: every one issued once, serials
 * distinct, and what the callback gets is what the inventory has. */
static void test_many_in_groups(void **state)
{
	char *home = NULL;
	capstan_ctx *ctx = with_env(&home);
	capstan_issue_opts req[MAX_REQ];
	char names[MAX_REQ][16];
	capstan_batch_opts bo = CAPSTAN_BATCH_OPTS_INIT;
	results res = { 0 };
	capstan_list_opts lo = CAPSTAN_LIST_OPTS_INIT;
	capstan_cert_iter *it = NULL;
	capstan_cert *c;
	size_t listed = 0;
	int rc;

	(void)state;
	for (size_t i = 0; i < MAX_REQ; i++) {
		snprintf(names[i], sizeof(names[i]), "node-%02zu", i);
		req[i] = client("dev", names[i]);
	}
	bo.threads = 3;
	bo.group = 5;
	res.count = MAX_REQ;
	res.reader = reader_of(home);
	assert_ok(ctx, capstan_issue_batch(ctx, req, MAX_REQ, &bo, collect, &res));
	for (size_t i = 0; i < MAX_REQ; i++) {
		assert_int_equal(res.seen[i], 1);
		assert_non_null(res.serial[i]);
		assert_string_equal(res.name[i], names[i]);
		assert_true(res.committed[i]);
	}
	assert_distinct_serials(&res);
	lo.env = "dev";
	assert_ok(ctx, capstan_cert_iter_new(&it, ctx, &lo));
	while ((rc = capstan_cert_iter_next(&c, it)) == 0) {
		int match = 0;
		for (size_t i = 0; i < MAX_REQ; i++)
			match += strcmp(c->serial, res.serial[i]) == 0 && strcmp(c->name, names[i]) == 0;
		assert_int_equal(match, 1);
		listed++;
		capstan_cert_free(c);
	}
	assert_int_equal(rc, CAPSTAN_ITEROVER);
	capstan_cert_iter_free(it);
	assert_int_equal(listed, MAX_REQ);
	results_clear(&res);
	capstan_ctx_free(ctx);
	unit_remove_home(home);
}

static int stop_at_first(const capstan_batch_result *r, void *payload)
{
	(void)r;
	(*(int *)payload)++;
	return CAPSTAN_ERROR;
}

static void test_edges(void **state)
{
	char *home = NULL;
	capstan_ctx *ctx = with_env(&home), *locked = NULL;
	capstan_issue_opts req[3] = { client("dev", "a"), client("dev", "b"), client("dev", "c") };
	int calls = 0;

	(void)state;
	/* nothing to do */
	assert_ok(ctx, capstan_issue_batch(ctx, req, 0, NULL, collect, NULL));
	/* the callback's error stops the batch and is what it returns */
	assert_int_equal(capstan_issue_batch(ctx, req, 3, NULL, stop_at_first, &calls), CAPSTAN_ERROR);
	assert_int_equal(calls, 1);
	/* a locked inventory: nothing signed, nothing reported */
	assert_int_equal(capstan_ctx_new(&locked), 0);
	assert_ok(locked, capstan_home_open(locked, home, CAPSTAN_OPEN_EXISTING));
	calls = 0;
	assert_int_equal(capstan_issue_batch(locked, req, 3, NULL, stop_at_first, &calls), CAPSTAN_EAUTH);
	assert_int_equal(calls, 0);
	capstan_ctx_free(locked);
	capstan_ctx_free(ctx);
	unit_remove_home(home);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bad_requests_fail_alone),
		cmocka_unit_test(test_many_in_groups),
		cmocka_unit_test(test_edges),
	};
	return cmocka_run_group_tests_name("batch", tests, NULL, NULL);
}
