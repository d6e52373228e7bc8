/*
 * Unit tests: a serial its issuer used already, met at the record. Signing
 * draws the serial before the write lock (a batch's workers, serve's
 * signing threads, renew --due's workers), so another writer may take it
 * first; with 126 random bits that never happens by chance, so it is made
 * to: a certificate is signed under a serial the issuer has just used, as
 * the batch's writer receives one (the subject's private key dropped), and
 * recorded. It must come back under a new serial, signed again, the
 * transaction going on (on PostgreSQL a failed statement would end it);
 * also in the batch's multi-row insert, where the others of its chunk go in.
 * $CAPSTAN_INVENTORY, when set, names the inventory (tests/e2e/t2410 runs
 * this on PostgreSQL); each test has an environment of its own there.
 */
#include <openssl/bn.h>
#include <openssl/x509.h>

#include "unit.h"
#include "ca/audit.h"
#include "ca/ca_internal.h"
#include "crypto/crypto.h"
#include "store/store.h"

/* The serial of a DER certificate, as hex in capstan's spelling (lower case). */
static char *der_serial(const capstan_cert *c)
{
	const unsigned char *p = c->der;
	X509 *x = d2i_X509(NULL, &p, (long)c->der_len);
	BIGNUM *bn;
	char *hex, *out;

	assert_non_null(x);
	bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(x), NULL);
	assert_non_null(bn);
	hex = BN_bn2hex(bn);
	assert_non_null(hex);
	out = strdup(hex);
	for (char *q = out; *q; q++)
		if (*q >= 'A' && *q <= 'F')
			*q = (char)(*q - 'A' + 'a');
	OPENSSL_free(hex);
	BN_free(bn);
	X509_free(x);
	return out;
}

/* One leaf signed under serial, as a batch job is (issue.c's parts), and
 * recorded in a transaction of its own. */
static int record_under(capstan_ctx *ctx, const char *env, const char *cn, capstan_key_type type,
	const unsigned char serial[CAPSTAN_SERIAL_LEN], capstan_cert **out)
{
	capstan_issue_opts o = CAPSTAN_ISSUE_OPTS_INIT;
	capstan_issue_plan p = { 0 };
	capstan_signers signers = { 0 };
	capstan_buf der = CAPSTAN_BUF_INIT;
	capstan_x509_info info;
	capstan_mint m;
	int rc;

	o.env = env;
	o.cn = cn;
	o.profile = CAPSTAN_PROFILE_CLIENT;
	o.key_set = 1;
	o.key = type;
	assert_ok(ctx, capstan_issue_check(ctx, &o, &p));
	assert_ok(ctx, capstan_signers_get(ctx, &signers, p.env.id, &p.signer));
	assert_ok(ctx, capstan_key_generate(&p.key, ctx, type));
	assert_ok(ctx, capstan_key_seal(&p.sealed, ctx, p.key));
	m = capstan_issue_mint(&o, &p, time(NULL));
	memcpy(m.tmpl.serial, serial, CAPSTAN_SERIAL_LEN);
	assert_ok(ctx, capstan_ca_sign(ctx, &m, &der, &info));
	/* As the batch's writer gets it: the private key gone with the worker. */
	unsigned char spki[CAPSTAN_SHA256_LEN];
	assert_ok(ctx, capstan_key_spki_sha256(ctx, p.key, spki));
	capstan_key_drop_private(p.key);
	assert_ok(ctx, capstan_store_begin(ctx));
	rc = capstan_store_end(ctx, capstan_issue_record(ctx, &o, &p, &m, info, &der, out));
	capstan_buf_free(&der);
	capstan_issue_plan_clear(&p);
	capstan_signers_clear(&signers);
	return rc;
}

/* A context on a new home, its inventory $CAPSTAN_INVENTORY's when set. */
static capstan_ctx *open_home(char **home_out)
{
	capstan_ctx *ctx = NULL;
	capstan_secret pass = CAPSTAN_SECRET_INIT;
	const char *where = getenv("CAPSTAN_INVENTORY");
	char *home = unit_temp_home();

	assert_int_equal(capstan_ctx_new(&ctx), 0);
	if (where && *where)
		assert_ok(ctx, capstan_ctx_set_inventory(ctx, where));
	assert_ok(ctx, capstan_home_open(ctx, home, CAPSTAN_OPEN_CREATE));
	assert_ok(ctx, capstan_secret_set(&pass, ctx, TEST_PASSPHRASE, strlen(TEST_PASSPHRASE)));
	assert_ok(ctx, capstan_home_unlock(ctx, &pass));
	capstan_secret_free(&pass);
	*home_out = home;
	return ctx;
}

static void taken_serial(const char *env, capstan_key_type type)
{
	char *home = NULL, *signed_as;
	capstan_ctx *ctx = open_home(&home);
	capstan_init_opts io = CAPSTAN_INIT_OPTS_INIT;
	unsigned char serial[CAPSTAN_SERIAL_LEN];
	char hex[2 * CAPSTAN_SERIAL_LEN + 1];
	capstan_cert *first = NULL, *second = NULL, *found = NULL;
	capstan_check_summary sum;
	int64_t bad = 0, rows = 0;

	io.env = env;
	assert_ok(ctx, capstan_env_init(NULL, NULL, ctx, &io));
	assert_ok(ctx, capstan_serial_generate(ctx, serial, hex));
	assert_ok(ctx, record_under(ctx, env, "first", type, serial, &first));
	assert_string_equal(first->serial, hex);

	assert_ok(ctx, record_under(ctx, env, "second", type, serial, &second));
	assert_string_not_equal(second->serial, hex);
	/* Signed again under the new serial, not only filed under it. */
	signed_as = der_serial(second);
	assert_string_equal(signed_as, second->serial);
	free(signed_as);
	assert_ok(ctx, capstan_cert_lookup(&found, ctx, second->serial, NULL));
	assert_string_equal(found->name, "second");
	assert_string_equal(found->fingerprint_sha256, second->fingerprint_sha256);
	capstan_cert_free(found);
	found = NULL;
	assert_ok(ctx, capstan_cert_lookup(&found, ctx, hex, NULL));
	assert_string_equal(found->name, "first");

	/* The audit log names the serial recorded, and check finds the
	 * certificate's key and chain whole. */
	assert_ok(ctx, capstan_audit_verify(&bad, &rows, ctx));
	assert_ok(ctx, capstan_check(&sum, ctx, NULL, NULL));
	assert_int_equal(sum.problems, 0);
	capstan_cert_free(found);
	capstan_cert_free(first);
	capstan_cert_free(second);
	capstan_ctx_free(ctx);
	unit_remove_home(home);
}

static void test_taken_serial_ec(void **state)
{
	(void)state;
	taken_serial("ec", CAPSTAN_KEY_EC_P256);
}

/* RSA's public key is set from the kept SPKI once the key is dropped. */
static void test_taken_serial_rsa(void **state)
{
	(void)state;
	taken_serial("rsa", CAPSTAN_KEY_RSA_2048);
}

/* A leaf of env signed under serial, as a batch's worker leaves it: its
 * record made, its key's digest, the private key dropped. */
typedef struct {
	capstan_issue_opts o;
	capstan_issue_plan p;
	capstan_mint m;
	capstan_cert *cert;
	unsigned char spki[CAPSTAN_SHA256_LEN];
} signed_leaf;

static void sign_leaf(capstan_ctx *ctx, capstan_signers *signers, const char *env, const char *cn,
	const unsigned char serial[CAPSTAN_SERIAL_LEN], signed_leaf *l)
{
	capstan_buf der = CAPSTAN_BUF_INIT;
	capstan_x509_info info;

	memset(l, 0, sizeof(*l));
	l->o = (capstan_issue_opts)CAPSTAN_ISSUE_OPTS_INIT;
	l->o.env = env;
	l->o.cn = cn;
	l->o.profile = CAPSTAN_PROFILE_CLIENT;
	assert_ok(ctx, capstan_issue_check(ctx, &l->o, &l->p));
	assert_ok(ctx, capstan_signers_get(ctx, signers, l->p.env.id, &l->p.signer));
	assert_ok(ctx, capstan_key_generate(&l->p.key, ctx, CAPSTAN_KEY_EC_P256));
	assert_ok(ctx, capstan_key_seal(&l->p.sealed, ctx, l->p.key));
	l->m = capstan_issue_mint(&l->o, &l->p, time(NULL));
	memcpy(l->m.tmpl.serial, serial, CAPSTAN_SERIAL_LEN);
	assert_ok(ctx, capstan_ca_sign(ctx, &l->m, &der, &info));
	assert_ok(ctx, capstan_key_spki_sha256(ctx, l->p.key, l->spki));
	capstan_key_drop_private(l->p.key);
	assert_ok(ctx, capstan_ca_record_row(ctx, &l->m, info, &der, &l->cert));
	capstan_buf_free(&der);
}

/* The batch's multi-row path (store_batch.c): one row of a chunk whose
 * serial its issuer used already is left out of the insert, the others go
 * in; it is signed again and inserted alone; each audit row takes exactly
 * its certificate's state, and check finds the whole consistent. */
static void test_taken_serial_in_chunk(void **state)
{
	char *home = NULL, *states[3] = { 0 };
	capstan_ctx *ctx = open_home(&home);
	capstan_init_opts io = CAPSTAN_INIT_OPTS_INIT;
	capstan_signers signers = { 0 };
	unsigned char taken[CAPSTAN_SERIAL_LEN], fresh[CAPSTAN_SERIAL_LEN];
	char hex[2 * CAPSTAN_SERIAL_LEN + 1], fresh_hex[2 * CAPSTAN_SERIAL_LEN + 1];
	capstan_cert *first = NULL, *found = NULL;
	signed_leaf l[3];
	capstan_store_new_leaf rows[3];
	capstan_audit_change changes[3];
	capstan_store_latest latest[3];
	const char *names[3] = { "c-one", "c-two", "c-three" };
	capstan_check_summary sum;
	int64_t bad = 0, audit_rows = 0;

	(void)state;
	io.env = "chunk";
	assert_ok(ctx, capstan_env_init(NULL, NULL, ctx, &io));
	assert_ok(ctx, capstan_serial_generate(ctx, taken, hex));
	assert_ok(ctx, record_under(ctx, "chunk", "first", CAPSTAN_KEY_EC_P256, taken, &first));
	for (int i = 0; i < 3; i++) {
		assert_ok(ctx, capstan_serial_generate(ctx, fresh, fresh_hex));
		sign_leaf(ctx, &signers, "chunk", names[i], i == 1 ? taken : fresh, &l[i]);
		rows[i] = (capstan_store_new_leaf){ l[i].cert, &l[i].p.sealed, l[i].spki, 0 };
	}
	assert_ok(ctx, capstan_store_begin(ctx));
	assert_ok(ctx, capstan_store_leaves_latest(ctx, l[0].p.env.id, names, 3, latest));
	for (int i = 0; i < 3; i++)
		assert_int_equal(latest[i].id, 0);
	assert_ok(ctx, capstan_store_leaves_insert(ctx, l[0].p.env.id, rows, 3));
	assert_true(rows[0].cert->id > 0 && rows[2].cert->id > 0);
	assert_int_equal(rows[1].cert->id, 0);
	assert_true(rows[1].key_id > 0);
	assert_ok(ctx, capstan_ca_insert_unused(ctx, &l[1].m, &rows[1].cert, rows[1].key_id, l[1].spki, 1));
	assert_true(rows[1].cert->id > 0);
	assert_string_not_equal(rows[1].cert->serial, hex);
	for (int i = 2; i >= 0; i--) { /* out of order: each takes its own line only */
		const char *serial = rows[i].cert->serial;
		assert_ok(ctx, capstan_store_state_take_of(ctx, &serial, 1, &states[i]));
		assert_non_null(strstr(states[i], serial));
		assert_null(strchr(states[i], '\n'));
	}
	for (int i = 0; i < 3; i++)
		changes[i] = (capstan_audit_change){ "issue", "chunk", names[i], rows[i].cert->serial, "ec-p256",
			states[i] };
	assert_ok(ctx, capstan_audit_append_rows(ctx, changes, 3));
	assert_ok(ctx, capstan_store_commit(ctx));

	assert_ok(ctx, capstan_cert_lookup(&found, ctx, "c-two", "chunk"));
	assert_string_equal(found->serial, rows[1].cert->serial);
	assert_true(found->has_key);
	capstan_cert_free(found);
	assert_ok(ctx, capstan_store_begin(ctx));
	assert_ok(ctx, capstan_store_leaves_latest(ctx, l[0].p.env.id, names, 3, latest));
	capstan_store_rollback(ctx);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(latest[i].id, rows[i].cert->id);
		assert_string_equal(latest[i].serial, rows[i].cert->serial);
		assert_int_equal(latest[i].status, CAPSTAN_STATUS_VALID);
	}
	assert_ok(ctx, capstan_audit_verify(&bad, &audit_rows, ctx));
	assert_ok(ctx, capstan_check(&sum, ctx, NULL, NULL));
	assert_int_equal(sum.problems, 0);
	for (int i = 0; i < 3; i++) {
		free(states[i]);
		capstan_cert_free(rows[i].cert);
		capstan_issue_plan_clear(&l[i].p);
	}
	capstan_signers_clear(&signers);
	capstan_cert_free(first);
	capstan_ctx_free(ctx);
	unit_remove_home(home);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_taken_serial_ec),
		cmocka_unit_test(test_taken_serial_rsa),
		cmocka_unit_test(test_taken_serial_in_chunk),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
