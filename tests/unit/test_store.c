/* Unit tests: the inventory store — schema, transactions, rows, file modes. */
#include <sys/stat.h>

#include "unit.h"

#include "store/store.h"

static void test_create_modes_and_schema(void **state)
{
	char *home = NULL, path[512];
	capstan_ctx *ctx = unit_open_home(&home);
	struct stat sb;

	(void)state;
	assert_int_equal(stat(home, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0700);
	snprintf(path, sizeof(path), "%s/capstan.db", home);
	assert_int_equal(stat(path, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0600);
	capstan_ctx_free(ctx);
	/* Reopening an existing inventory migrates nothing and works. */
	assert_int_equal(capstan_ctx_new(&ctx), 0);
	assert_ok(ctx, capstan_home_open(ctx, home, CAPSTAN_OPEN_EXISTING));
	assert_true(capstan_home_has_keyring(ctx));
	capstan_ctx_free(ctx);
	unit_remove_home(home);
}

static void test_missing_home(void **state)
{
	capstan_ctx *ctx = NULL;

	(void)state;
	assert_int_equal(capstan_ctx_new(&ctx), 0);
	assert_int_equal(capstan_home_open(ctx, "/nonexistent/capstan", CAPSTAN_OPEN_EXISTING),
		CAPSTAN_ENOTFOUND);
	assert_non_null(strstr(capstan_error_message(ctx), "no inventory in '/nonexistent/capstan'"));
	capstan_ctx_free(ctx);
}

static void test_rollback_leaves_nothing(void **state)
{
	char *home = NULL;
	capstan_ctx *ctx = unit_open_home(&home);
	capstan_store_env env = { 0, "dev", NULL, CAPSTAN_KEY_EC_P256, 86400 }, got;

	(void)state;
	assert_ok(ctx, capstan_store_begin(ctx));
	assert_ok(ctx, capstan_store_env_insert(ctx, &env));
	assert_ok(ctx, capstan_store_env_get(ctx, "dev", &got));
	capstan_store_env_clear(&got);
	capstan_store_rollback(ctx);
	assert_int_equal(capstan_store_env_get(ctx, "dev", &got), CAPSTAN_ENOTFOUND);
	assert_non_null(strstr(capstan_error_message(ctx), "unknown environment 'dev'"));
	/* Committed, it stays; a duplicate name is refused by the schema. */
	assert_ok(ctx, capstan_store_begin(ctx));
	assert_ok(ctx, capstan_store_env_insert(ctx, &env));
	assert_ok(ctx, capstan_store_commit(ctx));
	assert_ok(ctx, capstan_store_begin(ctx));
	assert_int_equal(capstan_store_env_insert(ctx, &env), CAPSTAN_ERROR);
	capstan_store_rollback(ctx);
	capstan_ctx_free(ctx);
	unit_remove_home(home);
}

static void test_meta_and_audit_rules(void **state)
{
	char *home = NULL;
	capstan_ctx *ctx = unit_open_home(&home);
	capstan_buf value = CAPSTAN_BUF_INIT;
	capstan_audit_entry e = { .at = 1, .uid = 0, .user = "root", .op = "test" };

	(void)state;
	assert_int_equal(capstan_store_meta_get(ctx, "nothing", &value), CAPSTAN_ENOTFOUND);
	assert_ok(ctx, capstan_store_meta_set(ctx, "k", "v1", 2));
	assert_ok(ctx, capstan_store_meta_set(ctx, "k", "v2", 2));
	assert_ok(ctx, capstan_store_meta_get(ctx, "k", &value));
	assert_memory_equal(value.data, "v2", 2);
	capstan_buf_free(&value);
	/* Audit rows belong to a change: outside a transaction they are refused. */
	assert_int_equal(capstan_store_audit_insert(ctx, &e, NULL), CAPSTAN_ERROR);
	capstan_ctx_free(ctx);
	unit_remove_home(home);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_create_modes_and_schema),
		cmocka_unit_test(test_missing_home),
		cmocka_unit_test(test_rollback_leaves_nothing),
		cmocka_unit_test(test_meta_and_audit_rules),
	};
	return cmocka_run_group_tests_name("store", tests, NULL, NULL);
}
