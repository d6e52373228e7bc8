/* Unit tests: every change leaves an audit row, written in its transaction. */
#include <unistd.h>

#include "unit.h"

static void test_rows_for_changes(void **state)
{
	char *home = NULL;
	capstan_ctx *ctx = unit_open_home(&home);
	capstan_init_opts io = CAPSTAN_INIT_OPTS_INIT;
	capstan_issue_opts o = CAPSTAN_ISSUE_OPTS_INIT;
	capstan_cert *leaf = NULL;
	capstan_audit_iter *it = NULL;
	capstan_audit_entry *e = NULL;
	int n = 0, rc;

	(void)state;
	io.env = "dev";
	assert_ok(ctx, capstan_env_init(NULL, NULL, ctx, &io));
	o.env = "dev";
	o.cn = "c1";
	o.profile = CAPSTAN_PROFILE_CLIENT;
	assert_ok(ctx, capstan_issue(&leaf, ctx, &o));
	/* A refused change writes nothing. */
	assert_int_equal(capstan_issue(NULL, ctx, &o), CAPSTAN_EEXISTS);
	assert_ok(ctx, capstan_audit_iter_new(&it, ctx));
	while ((rc = capstan_audit_iter_next(&e, it)) == 0) {
		assert_true(n < 3);
		assert_string_equal(e->op, n < 2 ? "init" : "issue");
		assert_int_equal(e->uid, getuid());
		assert_non_null(e->user);
		assert_string_equal(e->env, "dev");
		assert_non_null(e->serial);
		if (n == 2) {
			assert_string_equal(e->op, "issue");
			assert_string_equal(e->serial, leaf->serial);
			assert_string_equal(e->name, "c1");
		}
		capstan_audit_entry_free(e);
		n++;
	}
	assert_int_equal(rc, CAPSTAN_ITEROVER);
	assert_int_equal(n, 3);
	capstan_audit_iter_free(it);
	capstan_cert_free(leaf);
	capstan_ctx_free(ctx);
	unit_remove_home(home);
}

static void test_chain_verifies_and_chains(void **state)
{
	char *home = NULL;
	capstan_ctx *ctx = unit_open_home(&home);
	capstan_init_opts io = CAPSTAN_INIT_OPTS_INIT;
	capstan_audit_iter *it = NULL;
	capstan_audit_entry *first = NULL, *second = NULL;
	static const unsigned char zero[32];
	int64_t bad = -1, rows = -1;

	(void)state;
	assert_ok(ctx, capstan_audit_verify(&bad, &rows, ctx));
	assert_int_equal(rows, 0); /* an empty log is intact */
	io.env = "dev";
	assert_ok(ctx, capstan_env_init(NULL, NULL, ctx, &io));
	assert_ok(ctx, capstan_audit_verify(&bad, &rows, ctx));
	assert_int_equal(rows, 2);
	assert_int_equal(bad, 0);
	assert_ok(ctx, capstan_audit_iter_new(&it, ctx));
	assert_ok(ctx, capstan_audit_iter_next(&first, it));
	assert_ok(ctx, capstan_audit_iter_next(&second, it));
	assert_memory_not_equal(first->hash, zero, 32);
	assert_memory_not_equal(first->hash, second->hash, 32);
	capstan_audit_entry_free(first);
	capstan_audit_entry_free(second);
	capstan_audit_iter_free(it);
	capstan_ctx_free(ctx);
	unit_remove_home(home);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rows_for_changes),
		cmocka_unit_test(test_chain_verifies_and_chains),
	};
	return cmocka_run_group_tests_name("audit", tests, NULL, NULL);
}
