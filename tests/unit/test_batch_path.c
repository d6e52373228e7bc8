/* Unit tests: what the batch paths rest on. The worker pool with no thread
 * to be had (capstan_pool_thread_create made to fail), a batch issued that
 * way, and the hand-built PKCS8 of a sealed key against OpenSSL's. */
#include "unit.h"

#include <errno.h>
#include <pthread.h>

#include <openssl/x509.h>

#include "crypto/crypto_internal.h"
#include "crypto/crypto.h"
#include "ca/workers.h"

static int creates;

static int no_thread(pthread_t *thread, const pthread_attr_t *attr, void *(*start)(void *), void *arg)
{
	(void)thread, (void)attr, (void)start, (void)arg;
	creates++;
	return EAGAIN;
}

/* Each item records which thread did it. */
typedef struct {
	pthread_t by[100];
	int times[100];
} work;

static void note(capstan_ctx *w, void *arg, size_t i)
{
	work *k = arg;

	assert_non_null(w);
	k->by[i] = pthread_self();
	k->times[i]++;
}

static void run_pool(unsigned threads, size_t window, int expect_caller)
{
	capstan_ctx *ctx = NULL;
	capstan_pool *pool = NULL;
	work k = { 0 };

	assert_int_equal(capstan_ctx_new(&ctx), 0);
	assert_ok(ctx, capstan_pool_start(&pool, ctx, 100, window, threads, note, &k));
	for (size_t i = 0; i < 100; i++) {
		assert_ok(ctx, capstan_pool_wait(pool, i));
		assert_int_equal(k.times[i], 1);
		if (expect_caller)
			assert_true(pthread_equal(k.by[i], pthread_self()));
		capstan_pool_release(pool, i + 1);
	}
	capstan_pool_stop(pool);
	capstan_ctx_free(ctx);
}

static void test_pool_threads(void **state)
{
	(void)state;
	run_pool(2, 8, 0);
	run_pool(0, 1024, 0);
}

static void test_pool_without_threads(void **state)
{
	(void)state;
	creates = 0;
	capstan_pool_thread_create = no_thread;
	run_pool(2, 8, 1);
	capstan_pool_thread_create = pthread_create;
	assert_true(creates > 0);
}

static int count_issued(const capstan_batch_result *r, void *payload)
{
	if (r->cert)
		(*(size_t *)payload)++;
	return 0;
}

static void test_batch_without_threads(void **state)
{
	char *home = NULL, names[40][32];
	capstan_ctx *ctx = unit_open_home(&home);
	capstan_init_opts io = CAPSTAN_INIT_OPTS_INIT;
	capstan_issue_opts reqs[40];
	capstan_batch_opts bo = CAPSTAN_BATCH_OPTS_INIT;
	size_t issued = 0;

	(void)state;
	io.env = "dev";
	assert_ok(ctx, capstan_env_init(NULL, NULL, ctx, &io));
	for (int i = 0; i < 40; i++) {
		capstan_issue_opts o = CAPSTAN_ISSUE_OPTS_INIT;
		snprintf(names[i], sizeof(names[i]), "n%d.internal", i);
		o.env = "dev", o.cn = names[i], o.profile = CAPSTAN_PROFILE_SERVER;
		reqs[i] = o;
	}
	bo.group = 16; /* several groups */
	creates = 0;
	capstan_pool_thread_create = no_thread;
	assert_ok(ctx, capstan_issue_batch(ctx, reqs, 40, &bo, count_issued, &issued));
	capstan_pool_thread_create = pthread_create;
	assert_true(creates > 0);
	assert_int_equal(issued, 40);
	capstan_ctx_free(ctx);
	unit_remove_home(home);
}

static void test_pkcs8_as_openssl(void **state)
{
	static const capstan_key_type types[] = { CAPSTAN_KEY_EC_P256, CAPSTAN_KEY_EC_P384, CAPSTAN_KEY_ED25519 };
	capstan_ctx *ctx = NULL;

	(void)state;
	assert_int_equal(capstan_ctx_new(&ctx), 0);
	for (size_t t = 0; t < sizeof(types) / sizeof(types[0]); t++) {
		for (int n = 0; n < 20; n++) { /* scalars with leading zero bytes, sometimes */
			capstan_key *key = NULL;
			PKCS8_PRIV_KEY_INFO *p8;
			unsigned char mine[300], *theirs = NULL;
			size_t len = 0;
			int theirs_len;

			assert_ok(ctx, capstan_key_generate(&key, ctx, types[t]));
			assert_ok(ctx, capstan_key_pkcs8_der(ctx, key, mine, sizeof(mine), &len));
			assert_non_null(p8 = EVP_PKEY2PKCS8(key->pkey));
			assert_true((theirs_len = i2d_PKCS8_PRIV_KEY_INFO(p8, &theirs)) > 0);
			assert_int_equal(len, (size_t)theirs_len);
			assert_memory_equal(mine, theirs, len);
			OPENSSL_free(theirs);
			PKCS8_PRIV_KEY_INFO_free(p8);
			capstan_key_free(key);
		}
	}
	capstan_ctx_free(ctx);
}

static void test_pkcs8_leaves_rsa_to_openssl(void **state)
{
	capstan_ctx *ctx = NULL;
	capstan_key *key = NULL;
	unsigned char der[300];
	size_t len = 0;

	(void)state;
	assert_int_equal(capstan_ctx_new(&ctx), 0);
	assert_ok(ctx, capstan_key_generate(&key, ctx, CAPSTAN_KEY_RSA_2048));
	assert_int_equal(capstan_key_pkcs8_der(ctx, key, der, sizeof(der), &len), 1);
	capstan_key_free(key);
	capstan_ctx_free(ctx);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pool_threads),
		cmocka_unit_test(test_pool_without_threads),
		cmocka_unit_test(test_batch_without_threads),
		cmocka_unit_test(test_pkcs8_as_openssl),
		cmocka_unit_test(test_pkcs8_leaves_rsa_to_openssl),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
