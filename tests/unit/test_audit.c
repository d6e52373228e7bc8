/* Unit tests: every change leaves an audit row, written in its transaction. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <sqlite3.h>

#include "unit.h"
#include "store/store.h"

/* An SQL statement run behind capstan's back, as someone with the file would. */
static void tamper(const char *home, const char *sql)
{
	char path[4096];
	sqlite3 *db = NULL;

	snprintf(path, sizeof(path), "%s/capstan.db", home);
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
}

static int count_findings(const capstan_check_problem *problem, void *payload)
{
	assert_string_equal(problem->area, "audit");
	(*(int *)payload)++;
	return 0;
}

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

/* A home with environment dev and one client certificate c1 (*leaf, when asked). */
static void dev_with_leaf(capstan_ctx *ctx, capstan_cert **leaf)
{
	capstan_init_opts io = CAPSTAN_INIT_OPTS_INIT;
	capstan_issue_opts o = CAPSTAN_ISSUE_OPTS_INIT;

	io.env = "dev";
	assert_ok(ctx, capstan_env_init(NULL, NULL, ctx, &io));
	o.env = "dev";
	o.cn = "c1";
	o.profile = CAPSTAN_PROFILE_CLIENT;
	assert_ok(ctx, capstan_issue(leaf, ctx, &o));
}

/* Rows carry the states they set; a state set without a row is not committed. */
static void test_states_in_rows(void **state)
{
	char *home = NULL;
	capstan_ctx *ctx = unit_open_home(&home);
	capstan_cert *leaf = NULL, *renewed = NULL;
	capstan_audit_iter *it = NULL;
	capstan_audit_entry *e = NULL;
	char want[256];

	(void)state;
	dev_with_leaf(ctx, &leaf);
	assert_ok(ctx, capstan_renew(&renewed, ctx, leaf, 0));
	assert_ok(ctx, capstan_audit_iter_new(&it, ctx));
	for (int i = 0; i < 4; i++) {
		capstan_audit_entry_free(e);
		assert_ok(ctx, capstan_audit_iter_next(&e, it));
	}
	assert_int_equal(e->form, 2);
	snprintf(want, sizeof(want), "%s valid %s\n%s superseded %s", renewed->serial, renewed->fingerprint_sha256,
		leaf->serial, leaf->fingerprint_sha256);
	assert_string_equal(e->state, want);
	capstan_audit_entry_free(e);
	capstan_audit_iter_free(it);
	/* The store's guard: a revocation with no audit row does not commit. */
	assert_ok(ctx, capstan_store_begin(ctx));
	assert_ok(ctx, capstan_store_cert_revoke(ctx, renewed->id, time(NULL), "unspecified"));
	assert_int_equal(capstan_store_commit(ctx), CAPSTAN_ERROR);
	capstan_cert_free(leaf);
	leaf = NULL;
	assert_ok(ctx, capstan_cert_lookup(&leaf, ctx, renewed->serial, NULL));
	assert_int_equal(leaf->status, CAPSTAN_STATUS_VALID); /* rolled back */
	capstan_cert_free(leaf);
	capstan_cert_free(renewed);
	capstan_ctx_free(ctx);
	unit_remove_home(home);
}

/* check's replay: a certificate set back to valid behind capstan's back. */
static void test_replay_finds_unrevoked(void **state)
{
	char *home = NULL;
	capstan_ctx *ctx = unit_open_home(&home);
	capstan_cert *leaf = NULL;
	capstan_check_summary sum;
	int findings = 0;
	char sql[256];

	(void)state;
	dev_with_leaf(ctx, &leaf);
	assert_ok(ctx, capstan_revoke(ctx, leaf, CAPSTAN_REASON_KEY_COMPROMISE));
	assert_ok(ctx, capstan_check(&sum, ctx, NULL, NULL));
	assert_int_equal(sum.problems, 0);
	snprintf(sql, sizeof(sql), "UPDATE certs SET status = 'valid', revoked_at = NULL WHERE serial = '%s'",
		leaf->serial);
	tamper(home, sql);
	assert_ok(ctx, capstan_check(&sum, ctx, count_findings, &findings));
	assert_int_equal(findings, 1);
	capstan_cert_free(leaf);
	capstan_ctx_free(ctx);
	unit_remove_home(home);
}

/* Anchors: this log's are checked, another's skipped, a rewritten row caught. */
static void test_anchors(void **state)
{
	char *home = NULL;
	capstan_ctx *ctx = unit_open_home(&home);
	capstan_init_opts io = CAPSTAN_INIT_OPTS_INIT;
	capstan_buf line = CAPSTAN_BUF_INIT;
	capstan_audit_report r;
	char text[1024];

	(void)state;
	assert_int_equal(capstan_audit_anchor(&line, &r, ctx), CAPSTAN_EINVALID); /* empty log */
	io.env = "dev";
	assert_ok(ctx, capstan_env_init(NULL, NULL, ctx, &io));
	assert_ok(ctx, capstan_audit_anchor(&line, &r, ctx));
	assert_non_null(strstr((char *)line.data, " row=2 sha256="));
	snprintf(text, sizeof(text), "Nov 28 host capstan[1]: %s\nnoise\n"
		"capstan-audit-anchor log=0123456789abcdef row=9 sha256=%064d\n", (char *)line.data, 0);
	assert_ok(ctx, capstan_audit_verify_ex(&r, ctx, text, strlen(text), "syslog"));
	assert_int_equal(r.anchors, 1);
	assert_int_equal(r.other_logs, 1);
	/* The same anchor against a log whose row 2 was rewritten. */
	tamper(home, "UPDATE audit SET detail = 'x' WHERE id = 2");
	assert_int_equal(capstan_audit_verify_ex(&r, ctx, text, strlen(text), "syslog"), CAPSTAN_EINVALID);
	/* Only other logs' anchors: an error, not a pass. */
	snprintf(text, sizeof(text), "capstan-audit-anchor log=0123456789abcdef row=9 sha256=%064d\n", 0);
	assert_int_equal(capstan_audit_verify_ex(&r, ctx, text, strlen(text), "f"), CAPSTAN_EINVALID);
	capstan_buf_free(&line);
	capstan_ctx_free(ctx);
	unit_remove_home(home);
}

/* Without the passphrase nothing extends the log. */
static void test_locked_cannot_append(void **state)
{
	char *home = NULL;
	capstan_ctx *ctx = unit_open_home(&home), *locked = NULL;
	capstan_cert *leaf = NULL;

	(void)state;
	dev_with_leaf(ctx, NULL);
	assert_int_equal(capstan_ctx_new(&locked), 0);
	assert_ok(locked, capstan_home_open(locked, home, CAPSTAN_OPEN_EXISTING));
	assert_ok(locked, capstan_cert_lookup(&leaf, locked, "c1", "dev"));
	assert_int_equal(capstan_revoke(locked, leaf, CAPSTAN_REASON_UNSPECIFIED), CAPSTAN_EAUTH);
	capstan_cert_free(leaf);
	capstan_ctx_free(locked);
	capstan_ctx_free(ctx);
	unit_remove_home(home);
}

/* A context unlocked before the log was cut (a long-running serve) does not
 * extend the cut log: each append checks the seal again. */
static void test_cut_while_unlocked(void **state)
{
	char *home = NULL;
	capstan_ctx *ctx = unit_open_home(&home);
	capstan_issue_opts o = CAPSTAN_ISSUE_OPTS_INIT;

	(void)state;
	dev_with_leaf(ctx, NULL);
	tamper(home, "DELETE FROM audit WHERE id = (SELECT max(id) FROM audit)");
	o.env = "dev";
	o.cn = "c2";
	o.profile = CAPSTAN_PROFILE_CLIENT;
	assert_int_equal(capstan_issue(NULL, ctx, &o), CAPSTAN_EDAMAGED);
	assert_non_null(strstr(capstan_error_message(ctx), "ends at row 2 but its sealed end is row 3"));
	capstan_ctx_free(ctx);
	unit_remove_home(home);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rows_for_changes),
		cmocka_unit_test(test_chain_verifies_and_chains),
		cmocka_unit_test(test_states_in_rows),
		cmocka_unit_test(test_replay_finds_unrevoked),
		cmocka_unit_test(test_anchors),
		cmocka_unit_test(test_locked_cannot_append),
		cmocka_unit_test(test_cut_while_unlocked),
	};
	return cmocka_run_group_tests_name("audit", tests, NULL, NULL);
}
