/* Unit tests: key types and profiles. */
#include "unit.h"

static void test_key_types(void **state)
{
	capstan_key_type t;

	(void)state;
	for (int i = 0; i < CAPSTAN_KEY__COUNT; i++) {
		assert_int_equal(capstan_key_type_parse(capstan_key_type_name((capstan_key_type)i), &t), 0);
		assert_int_equal(t, i);
	}
	assert_int_equal(capstan_key_type_parse("rsa-1024", &t), CAPSTAN_EINVALID);
	assert_int_equal(capstan_key_type_parse("dsa", &t), CAPSTAN_EINVALID);
	assert_int_equal(capstan_key_type_parse("EC-P256", &t), CAPSTAN_EINVALID);
	assert_int_equal(capstan_key_type_parse(NULL, &t), CAPSTAN_EINVALID);
}

static void test_profiles(void **state)
{
	capstan_profile p;

	(void)state;
	assert_int_equal(capstan_profile_parse("server", &p), 0);
	assert_int_equal(p, CAPSTAN_PROFILE_SERVER);
	assert_int_equal(capstan_profile_parse("peer", &p), 0);
	assert_int_equal(p, CAPSTAN_PROFILE_PEER);
	assert_int_equal(capstan_profile_parse("ca", &p), CAPSTAN_EINVALID);
	assert_string_equal(capstan_profile_name(CAPSTAN_PROFILE_CLIENT), "client");
}

static void test_renew_before(void **state)
{
	(void)state;
	assert_int_equal(capstan_default_renew_before(90 * 86400), 30 * 86400);
	assert_int_equal(capstan_default_renew_before(30 * 86400), 10 * 86400);
	assert_int_equal(capstan_default_renew_before(3 * 86400), 86400);
	/* An own window shorter than the validity is kept; one as long or longer
	 * falls back to a third of the validity, whatever asked for it. */
	assert_int_equal(capstan_renew_window(90 * 86400, 90 * 86400, 0), 30 * 86400);
	assert_int_equal(capstan_renew_window(90 * 86400, 90 * 86400, 45 * 86400), 45 * 86400);
	assert_int_equal(capstan_renew_window(30 * 86400, 30 * 86400, 30 * 86400), 10 * 86400);
	assert_int_equal(capstan_renew_window(30 * 86400, 30 * 86400, 45 * 86400), 10 * 86400);
	/* cut short by the issuer: the validity granted is what counts */
	assert_int_equal(capstan_renew_window(90 * 86400, 12 * 86400, 0), 4 * 86400);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_key_types),
		cmocka_unit_test(test_profiles),
		cmocka_unit_test(test_renew_before),
	};
	return cmocka_run_group_tests_name("policy", tests, NULL, NULL);
}
