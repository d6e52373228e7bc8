/*
 * Unit tests: a write transaction's BEGIN that the engine ends with a
 * serialization failure or a deadlock (CAPSTAN_DB_ERETRY) is tried again,
 * never reported, up to a limit (store_db.c). No server makes its lock wait
 * fail so on demand, so the inventory's own driver is wrapped: its first
 * BEGINs fail, classed as PostgreSQL's 40P01 would be, and everything else
 * goes through to the engine unchanged.
 */
#include "unit.h"
#include "store/store_internal.h"

static const capstan_db_driver *real;
static capstan_db_driver flaky;
static int fail_next, failed, retry_class;

static int flaky_exec(capstan_db *db, const char *sql)
{
	retry_class = 0;
	if (fail_next > 0 && strcmp(sql, real->dialect->sql[CAPSTAN_DB_BEGIN]) == 0) {
		fail_next--;
		failed++;
		retry_class = 1;
		return CAPSTAN_DB_FAIL;
	}
	return real->exec(db, sql);
}

static capstan_db_class flaky_error(capstan_db *db, const char **message)
{
	if (retry_class) {
		*message = "deadlock detected";
		return CAPSTAN_DB_ERETRY;
	}
	return real->error(db, message);
}

static capstan_ctx *open_flaky(char **home)
{
	capstan_ctx *ctx = unit_open_home(home);
	capstan_init_opts io = CAPSTAN_INIT_OPTS_INIT;

	io.env = "dev";
	assert_ok(ctx, capstan_env_init(NULL, NULL, ctx, &io));
	real = ctx->store->conn->drv;
	flaky = *real;
	flaky.exec = flaky_exec;
	flaky.error = flaky_error;
	ctx->store->conn->drv = &flaky;
	fail_next = failed = retry_class = 0;
	return ctx;
}

static void close_flaky(capstan_ctx *ctx, char *home)
{
	ctx->store->conn->drv = real;
	capstan_ctx_free(ctx);
	unit_remove_home(home);
}

static int issue(capstan_ctx *ctx, const char *cn)
{
	capstan_issue_opts o = CAPSTAN_ISSUE_OPTS_INIT;
	capstan_cert *c = NULL;
	int rc;

	o.env = "dev";
	o.cn = cn;
	o.profile = CAPSTAN_PROFILE_CLIENT;
	rc = capstan_issue(&c, ctx, &o);
	capstan_cert_free(c);
	return rc;
}

static void test_retried(void **state)
{
	char *home = NULL;
	capstan_ctx *ctx = open_flaky(&home);
	capstan_cert *c = NULL;

	(void)state;
	fail_next = 3;
	assert_ok(ctx, issue(ctx, "after-three"));
	assert_int_equal(failed, 3);
	assert_ok(ctx, capstan_cert_lookup(&c, ctx, "after-three", "dev"));
	capstan_cert_free(c);
	/* A group's BEGIN (serve's group commit) alike. */
	fail_next = 1;
	assert_ok(ctx, capstan_store_group_begin(ctx));
	assert_int_equal(failed, 4);
	assert_ok(ctx, capstan_store_group_end(ctx, 0));
	close_flaky(ctx, home);
}

static void test_gives_up(void **state)
{
	char *home = NULL;
	capstan_ctx *ctx = open_flaky(&home);
	capstan_cert *c = NULL;

	(void)state;
	fail_next = 100;
	assert_int_equal(issue(ctx, "never"), CAPSTAN_ERROR);
	assert_int_equal(failed, 5);
	assert_non_null(strstr(capstan_error_message(ctx), "cannot begin a transaction: deadlock detected"));
	assert_int_equal(capstan_cert_lookup(&c, ctx, "never", "dev"), CAPSTAN_ENOTFOUND);
	/* Nothing left open: the next one goes through. */
	fail_next = 0;
	assert_ok(ctx, issue(ctx, "next"));
	close_flaky(ctx, home);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_retried),
		cmocka_unit_test(test_gives_up),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
