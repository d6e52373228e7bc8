/*
 * Unit tests: renew --due's planner and renewer (renew_due.c). Certificates
 * are moved in time by shifting their rows' validity (notBefore and notAfter
 * together, so the validity they were granted is kept): the due rule reads
 * the rows, and the renewal reads the line, not the dates in the DER.
 */
#include <pthread.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "unit.h"
#include "unit_pki.h"
#include "store/store_internal.h" /* the rows' dates */

#define DAY 86400

static void shift_to(capstan_ctx *ctx, const capstan_cert *c, int64_t remaining)
{
	char sql[256];
	time_t now = time(NULL);

	snprintf(sql, sizeof(sql),
		"UPDATE certs SET not_before = not_before - (not_after - %lld), not_after = %lld WHERE id = %lld",
		(long long)(now + remaining), (long long)(now + remaining), (long long)c->id);
	assert_int_equal(sqlite3_exec(ctx->store->db, sql, NULL, NULL, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_changes(ctx->store->db), 1);
}

static capstan_cert *issue(capstan_ctx *ctx, const char *env, const char *name, int64_t lifetime,
	int64_t renew_before)
{
	capstan_issue_opts o = CAPSTAN_ISSUE_OPTS_INIT;
	capstan_cert *c = NULL;

	o.env = env;
	o.cn = name;
	o.profile = CAPSTAN_PROFILE_CLIENT;
	o.lifetime = lifetime;
	o.renew_before = renew_before;
	assert_ok(ctx, capstan_issue(&c, ctx, &o));
	return c;
}

static capstan_status status_of(capstan_ctx *ctx, const char *serial)
{
	capstan_cert *c = NULL;
	capstan_status s;

	assert_ok(ctx, capstan_cert_lookup(&c, ctx, serial, NULL));
	s = c->status;
	capstan_cert_free(c);
	return s;
}

#define MAX_SEEN 16

typedef struct {
	size_t n;
	char *old_name[MAX_SEEN];
	char *old_serial[MAX_SEEN];
	time_t old_not_after[MAX_SEEN];
	char *new_serial[MAX_SEEN];
	char *problem[MAX_SEEN];
	int planned[MAX_SEEN];
	capstan_cert *renewed[MAX_SEEN];
} seen;

static void seen_clear(seen *s)
{
	for (size_t i = 0; i < MAX_SEEN; i++) {
		free(s->old_name[i]);
		free(s->old_serial[i]);
		free(s->new_serial[i]);
		free(s->problem[i]);
		capstan_cert_free(s->renewed[i]);
	}
	memset(s, 0, sizeof(*s));
}

/* The seen record and the context its callback looks renewed certificates up in. */
typedef struct {
	seen s;
	capstan_ctx *ctx;
} run;

static int record(const capstan_due_result *r, void *payload)
{
	run *run = payload;
	seen *s = &run->s;
	size_t i = s->n++;

	assert_true(i < MAX_SEEN);
	s->old_name[i] = strdup(r->old->name);
	s->old_serial[i] = strdup(r->old->serial);
	s->old_not_after[i] = r->old->not_after;
	s->planned[i] = r->planned;
	s->problem[i] = r->problem ? strdup(r->problem) : NULL;
	if (r->renewed) {
		s->new_serial[i] = strdup(r->renewed->serial);
		/* reported once committed: the inventory has it already */
		assert_ok(run->ctx, capstan_cert_lookup(&s->renewed[i], run->ctx, r->renewed->serial, NULL));
	}
	return 0;
}

static int seen_has(const seen *s, const char *name)
{
	int n = 0;

	for (size_t i = 0; i < s->n; i++)
		n += strcmp(s->old_name[i], name) == 0;
	return n;
}

static void due(capstan_ctx *ctx, run *r, const char *env, int64_t within, int from_old_ca, int dry_run, int want_rc)
{
	capstan_due_opts o = CAPSTAN_DUE_OPTS_INIT;

	seen_clear(&r->s);
	r->ctx = ctx;
	o.env = env;
	o.within = within;
	o.from_old_ca = from_old_ca;
	o.dry_run = dry_run;
	assert_int_equal(capstan_renew_due(ctx, &o, record, r), want_rc);
}

typedef struct {
	const char *name;
	const char *env;
	int64_t lifetime, renew_before, remaining;
	capstan_cert *cert;
} line;

/* Which certificates are due: each inside its own window (the default
 * 30 days or a third of its lifetime; its renew_before; a third of its
 * validity when the window would be as long as it), not one day outside it;
 * an expired one; never a revoked or a superseded one. A dry run reports
 * them, soonest first, and changes nothing. */
static void test_planner(void **state)
{
	char *home = NULL;
	capstan_ctx *ctx = unit_open_home(&home);
	capstan_init_opts io = CAPSTAN_INIT_OPTS_INIT;
	line lines[] = {
		{ "d90-in", "dev", 90 * DAY, 0, 29 * DAY, NULL },
		{ "d90-out", "dev", 90 * DAY, 0, 31 * DAY, NULL },
		{ "d12-in", "dev", 12 * DAY, 0, 3 * DAY + 3600, NULL },   /* a third of 12 days: 4 */
		{ "d12-out", "dev", 12 * DAY, 0, 4 * DAY + 3600, NULL },
		{ "rb45-in", "dev", 60 * DAY, 45 * DAY, 44 * DAY, NULL },
		{ "rb45-out", "dev", 60 * DAY, 45 * DAY, 46 * DAY, NULL },
		{ "long-in", "dev", 30 * DAY, 30 * DAY, 9 * DAY, NULL },  /* window = validity: a third */
		{ "long-out", "dev", 30 * DAY, 30 * DAY, 11 * DAY, NULL },
		{ "expired", "dev", 90 * DAY, 0, -DAY, NULL },
		{ "revoked", "dev", 90 * DAY, 0, DAY, NULL },
		{ "superseded", "dev", 90 * DAY, 0, DAY, NULL },
		{ "prod-in", "prod", 90 * DAY, 0, DAY, NULL },
	};
	const size_t n = sizeof(lines) / sizeof(lines[0]);
	const char *due_all[] = { "expired", "prod-in", "d12-in", "long-in", "d90-in", "rb45-in" };
	capstan_cert *newer = NULL;
	run r = { 0 };

	(void)state;
	io.env = "dev";
	assert_ok(ctx, capstan_env_init(NULL, NULL, ctx, &io));
	io.env = "prod";
	assert_ok(ctx, capstan_env_init(NULL, NULL, ctx, &io));
	for (size_t i = 0; i < n; i++) {
		lines[i].cert = issue(ctx, lines[i].env, lines[i].name, lines[i].lifetime, lines[i].renew_before);
		shift_to(ctx, lines[i].cert, lines[i].remaining);
	}
	assert_ok(ctx, capstan_revoke(ctx, lines[9].cert, CAPSTAN_REASON_CESSATION_OF_OPERATION));
	assert_ok(ctx, capstan_renew(&newer, ctx, lines[10].cert, 0)); /* fresh: not due */
	shift_to(ctx, lines[10].cert, DAY);

	/* every environment, each certificate's own window */
	due(ctx, &r, NULL, 0, 0, 1, 0);
	assert_int_equal(r.s.n, sizeof(due_all) / sizeof(due_all[0]));
	for (size_t i = 0; i < r.s.n; i++) {
		assert_string_equal(r.s.old_name[i], due_all[i]); /* soonest first */
		assert_true(r.s.planned[i]);
		assert_null(r.s.new_serial[i]);
		assert_null(r.s.problem[i]);
		if (i)
			assert_true(r.s.old_not_after[i - 1] <= r.s.old_not_after[i]);
	}
	/* nothing changed */
	for (size_t i = 0; i < n; i++)
		assert_int_equal(status_of(ctx, lines[i].cert->serial),
			i == 9 ? CAPSTAN_STATUS_REVOKED : i == 10 ? CAPSTAN_STATUS_SUPERSEDED :
			i == 8 ? CAPSTAN_STATUS_EXPIRED : CAPSTAN_STATUS_VALID);

	/* one environment */
	due(ctx, &r, "dev", 0, 0, 1, 0);
	assert_int_equal(r.s.n, 5);
	assert_int_equal(seen_has(&r.s, "prod-in"), 0);
	due(ctx, &r, "prod", 0, 0, 1, 0);
	assert_int_equal(r.s.n, 1);
	assert_string_equal(r.s.old_name[0], "prod-in");
	due(ctx, &r, "nowhere", 0, 0, 1, CAPSTAN_ENOTFOUND);

	/* --within replaces every window, shorter or longer than their own */
	due(ctx, &r, "dev", 10 * DAY, 0, 1, 0);
	assert_int_equal(r.s.n, 4);
	assert_int_equal(seen_has(&r.s, "expired") + seen_has(&r.s, "d12-in") + seen_has(&r.s, "d12-out") +
		seen_has(&r.s, "long-in"), 4);
	due(ctx, &r, "dev", 45 * DAY, 0, 1, 0);
	assert_int_equal(r.s.n, 8); /* all but rb45-out, and never the revoked or the superseded */
	assert_int_equal(seen_has(&r.s, "rb45-out") + seen_has(&r.s, "revoked") + seen_has(&r.s, "superseded"), 0);

	seen_clear(&r.s);
	capstan_cert_free(newer);
	for (size_t i = 0; i < n; i++)
		capstan_cert_free(lines[i].cert);
	capstan_ctx_free(ctx);
	unit_remove_home(home);
}

/* The renewals: each due certificate renewed once (same line, key, lifetime
 * and window; a new serial), the old one superseded, reported once committed;
 * one that cannot be renewed is reported with its problem and the rest go
 * on; a second run finds nothing; --from-old-ca moves leaves to a rotated CA. */
static void test_renewals(void **state)
{
	char *home = NULL;
	capstan_ctx *ctx = unit_open_home(&home);
	capstan_init_opts io = CAPSTAN_INIT_OPTS_INIT;
	capstan_issue_opts o = CAPSTAN_ISSUE_OPTS_INIT;
	capstan_ca_rotate_opts ro = CAPSTAN_CA_ROTATE_OPTS_INIT;
	capstan_cert *a, *b, *c, *fresh, *csr_cert = NULL, *root = NULL, *inter2 = NULL;
	capstan_buf csr = pki_csr("EC", "P-256", "SHA256", "from-csr", NULL, 0), k_old = CAPSTAN_BUF_INIT, k_new = CAPSTAN_BUF_INIT;
	run r = { 0 };
	int renewed = 0, failed = 0;

	(void)state;
	io.env = "dev";
	assert_ok(ctx, capstan_env_init(NULL, NULL, ctx, &io));
	a = issue(ctx, "dev", "a", 90 * DAY, 0);
	b = issue(ctx, "dev", "b", 60 * DAY, 45 * DAY);
	c = issue(ctx, "dev", "c", 90 * DAY, 0);
	fresh = issue(ctx, "dev", "fresh", 90 * DAY, 0);
	o.env = "dev";
	o.cn = "from-csr";
	o.profile = CAPSTAN_PROFILE_CLIENT;
	o.csr = csr.data;
	o.csr_len = csr.len;
	assert_ok(ctx, capstan_issue(&csr_cert, ctx, &o));
	shift_to(ctx, a, 5 * DAY);
	shift_to(ctx, b, 40 * DAY);
	shift_to(ctx, c, -2 * DAY);  /* expired */
	shift_to(ctx, csr_cert, DAY);

	due(ctx, &r, "dev", 0, 0, 0, CAPSTAN_EINVALID);
	assert_string_equal(capstan_error_message(ctx), "1 certificate due could not be renewed");
	assert_int_equal(r.s.n, 4);
	for (size_t i = 0; i < r.s.n; i++) {
		capstan_cert *old = NULL;
		assert_false(r.s.planned[i]);
		if (strcmp(r.s.old_name[i], "from-csr") == 0) {
			failed++;
			assert_null(r.s.new_serial[i]);
			assert_non_null(r.s.problem[i]);
			assert_non_null(strstr(r.s.problem[i], "CSR"));
			assert_int_equal(status_of(ctx, r.s.old_serial[i]), CAPSTAN_STATUS_VALID);
			continue;
		}
		renewed++;
		assert_null(r.s.problem[i]);
		assert_non_null(r.s.renewed[i]); /* the callback found it in the inventory: committed */
		assert_string_not_equal(r.s.new_serial[i], r.s.old_serial[i]);
		assert_string_equal(r.s.renewed[i]->name, r.s.old_name[i]);
		assert_int_equal(r.s.renewed[i]->status, CAPSTAN_STATUS_VALID);
		assert_ok(ctx, capstan_cert_lookup(&old, ctx, r.s.old_serial[i], NULL));
		assert_int_equal(old->status, CAPSTAN_STATUS_SUPERSEDED);
		assert_int_equal(r.s.renewed[i]->lifetime, old->lifetime);
		assert_int_equal(r.s.renewed[i]->renew_before, old->renew_before);
		assert_true(llabs((long long)(r.s.renewed[i]->not_after - time(NULL) - old->lifetime)) < 120);
		/* renew keeps the key */
		assert_ok(ctx, capstan_export(&k_old, ctx, old, CAPSTAN_FORMAT_KEY, NULL));
		assert_ok(ctx, capstan_export(&k_new, ctx, r.s.renewed[i], CAPSTAN_FORMAT_KEY, NULL));
		assert_int_equal(k_old.len, k_new.len);
		assert_memory_equal(k_old.data, k_new.data, k_old.len);
		capstan_buf_free(&k_old);
		capstan_buf_free(&k_new);
		capstan_cert_free(old);
	}
	assert_int_equal(renewed, 3);
	assert_int_equal(failed, 1);
	assert_int_equal(seen_has(&r.s, "fresh"), 0);
	assert_int_equal(status_of(ctx, fresh->serial), CAPSTAN_STATUS_VALID);

	/* again: only the one that cannot be renewed, nothing renewed twice */
	due(ctx, &r, "dev", 0, 0, 0, CAPSTAN_EINVALID);
	assert_int_equal(r.s.n, 1);
	assert_string_equal(r.s.old_name[0], "from-csr");
	assert_ok(ctx, capstan_revoke(ctx, csr_cert, CAPSTAN_REASON_CESSATION_OF_OPERATION));
	due(ctx, &r, "dev", 0, 0, 0, 0);
	assert_int_equal(r.s.n, 0);

	/* A new intermediate: the leaves under the old one are due only with --from-old-ca. */
	ro.env = "dev";
	assert_ok(ctx, capstan_ca_rotate(&root, &inter2, ctx, &ro));
	due(ctx, &r, "dev", 0, 0, 1, 0);
	assert_int_equal(r.s.n, 0);
	due(ctx, &r, "dev", 0, 1, 1, 0);
	assert_int_equal(r.s.n, 4); /* a, b, c renewed under the old CA, and fresh */
	due(ctx, &r, "dev", 0, 1, 0, 0);
	assert_int_equal(r.s.n, 4);
	for (size_t i = 0; i < r.s.n; i++) {
		assert_non_null(r.s.renewed[i]);
		assert_int_equal(r.s.renewed[i]->issuer_id, inter2->id);
	}
	due(ctx, &r, "dev", 0, 1, 1, 0);
	assert_int_equal(r.s.n, 0);

	seen_clear(&r.s);
	capstan_buf_free(&csr);
	capstan_cert_free(a);
	capstan_cert_free(b);
	capstan_cert_free(c);
	capstan_cert_free(fresh);
	capstan_cert_free(csr_cert);
	capstan_cert_free(root);
	capstan_cert_free(inter2);
	capstan_ctx_free(ctx);
	unit_remove_home(home);
}


/* Two runs at once, each with its own connection, over more certificates than
 * one group (64), so that each run takes the write lock several times and the
 * other may find its candidates renewed meanwhile (how the work splits is
 * SQLite's business): every due certificate is renewed exactly once between
 * them, and each run reports only what it renewed. */
typedef struct {
	const char *home;
	capstan_ctx *ctx;
	size_t renewed;
	char *olds[256];
	int rc;
} racer;

static int count_renewed(const capstan_due_result *r, void *payload)
{
	racer *x = payload;

	if (r->renewed && x->renewed < 256)
		x->olds[x->renewed++] = strdup(r->old->serial);
	return 0;
}

static void *race(void *arg)
{
	racer *x = arg;
	capstan_due_opts o = CAPSTAN_DUE_OPTS_INIT;

	x->rc = capstan_renew_due(x->ctx, &o, count_renewed, x);
	return NULL;
}

static void test_concurrent_runs(void **state)
{
	char *home = NULL;
	capstan_ctx *ctx = unit_open_home(&home);
	capstan_init_opts io = CAPSTAN_INIT_OPTS_INIT;
	capstan_secret pass = CAPSTAN_SECRET_INIT;
	capstan_list_opts lo = CAPSTAN_LIST_OPTS_INIT;
	capstan_cert_iter *it = NULL;
	capstan_cert *c;
	racer x[2] = { { 0 } };
	pthread_t t[2];
	enum { n = 200 };
	char names[n][8];
	capstan_issue_opts reqs[n];
	size_t valid = 0;
	int rc;

	(void)state;
	io.env = "dev";
	assert_ok(ctx, capstan_env_init(NULL, NULL, ctx, &io));
	for (size_t i = 0; i < n; i++) {
		snprintf(names[i], sizeof(names[i]), "c%03zu", i);
		reqs[i] = (capstan_issue_opts)CAPSTAN_ISSUE_OPTS_INIT;
		reqs[i].env = "dev";
		reqs[i].cn = names[i];
		reqs[i].profile = CAPSTAN_PROFILE_CLIENT;
	}
	assert_ok(ctx, capstan_issue_batch(ctx, reqs, n, NULL, NULL, NULL));
	/* all of them a day from their end */
	assert_int_equal(sqlite3_exec(ctx->store->db, "UPDATE certs SET not_before = not_before - (not_after - strftime('%s',"
		" 'now') - 86400), not_after = strftime('%s', 'now') + 86400 WHERE kind = 'leaf'", NULL, NULL, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_changes(ctx->store->db), n);
	for (int i = 0; i < 2; i++) {
		assert_int_equal(capstan_ctx_new(&x[i].ctx), 0);
		assert_ok(x[i].ctx, capstan_home_open(x[i].ctx, home, CAPSTAN_OPEN_EXISTING));
		assert_ok(x[i].ctx, capstan_secret_set(&pass, x[i].ctx, TEST_PASSPHRASE, strlen(TEST_PASSPHRASE)));
		assert_ok(x[i].ctx, capstan_home_unlock(x[i].ctx, &pass));
		capstan_secret_free(&pass);
	}
	for (int i = 0; i < 2; i++)
		assert_int_equal(pthread_create(&t[i], NULL, race, &x[i]), 0);
	for (int i = 0; i < 2; i++)
		pthread_join(t[i], NULL);
	assert_int_equal(x[0].rc, 0);
	assert_int_equal(x[1].rc, 0);
	assert_int_equal(x[0].renewed + x[1].renewed, n);
	for (size_t i = 0; i < x[0].renewed; i++)
		for (size_t j = 0; j < x[1].renewed; j++)
			assert_string_not_equal(x[0].olds[i], x[1].olds[j]);
	/* one valid certificate per line, none due */
	lo.env = "dev";
	assert_ok(ctx, capstan_cert_iter_new(&it, ctx, &lo));
	while ((rc = capstan_cert_iter_next(&c, it)) == 0) {
		valid++;
		assert_true(c->not_after > time(NULL) + 80 * DAY);
		capstan_cert_free(c);
	}
	assert_int_equal(rc, CAPSTAN_ITEROVER);
	capstan_cert_iter_free(it);
	assert_int_equal(valid, n);
	for (int i = 0; i < 2; i++) {
		for (size_t j = 0; j < x[i].renewed; j++)
			free(x[i].olds[j]);
		capstan_ctx_free(x[i].ctx);
	}
	capstan_ctx_free(ctx);
	unit_remove_home(home);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_planner),
		cmocka_unit_test(test_renewals),
		cmocka_unit_test(test_concurrent_runs),
	};
	return cmocka_run_group_tests_name("renew_due", tests, NULL, NULL);
}
