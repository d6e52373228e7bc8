/* Unit tests: checked parsers for durations, addresses and names. */
#include "unit.h"

static void test_durations(void **state)
{
	static const struct { const char *in; int64_t seconds; } good[] = {
		{ "90d", 90 * 86400 }, { "90", 90 * 86400 }, { "12h", 12 * 3600 }, { "30m", 1800 },
		{ "2w", 14 * 86400 }, { "1y", 365 * 86400 }, { "45s", 45 },
	};
	static const char *const bad[] = {
		"", "-5", "0", "0d", "d", "12x", "12dd", "1.5d", " 1d", "1d ", "99999999999999999999d",
		"1001y", "+3d",
	};
	int64_t s;
	const char *why;

	(void)state;
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		assert_int_equal(capstan_parse_duration(good[i].in, &s, NULL), 0);
		assert_int_equal(s, good[i].seconds);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		why = NULL;
		assert_int_equal(capstan_parse_duration(bad[i], &s, &why), CAPSTAN_EINVALID);
		assert_non_null(why);
	}
}

static void test_format_duration(void **state)
{
	char buf[32];

	(void)state;
	capstan_format_duration(90 * 86400, buf, sizeof(buf));
	assert_string_equal(buf, "90d");
	capstan_format_duration(14 * 86400, buf, sizeof(buf));
	assert_string_equal(buf, "2w");
	capstan_format_duration(365 * 86400, buf, sizeof(buf));
	assert_string_equal(buf, "1y");
	capstan_format_duration(3600 + 1, buf, sizeof(buf));
	assert_string_equal(buf, "3601s");
	capstan_format_time(0, buf, sizeof(buf));
	assert_string_equal(buf, "1970-01-01T00:00:00Z");
}

static void test_ip(void **state)
{
	unsigned char ip[16];
	size_t len;

	(void)state;
	assert_int_equal(capstan_parse_ip("127.0.0.1", ip, &len, NULL), 0);
	assert_int_equal(len, 4);
	assert_int_equal(ip[0], 127);
	assert_int_equal(capstan_parse_ip("::1", ip, &len, NULL), 0);
	assert_int_equal(len, 16);
	assert_int_equal(capstan_parse_ip("fe80::1:2", ip, &len, NULL), 0);
	assert_int_equal(capstan_parse_ip("300.1.1.1", ip, &len, NULL), CAPSTAN_EINVALID);
	assert_int_equal(capstan_parse_ip("1.2.3", ip, &len, NULL), CAPSTAN_EINVALID);
	assert_int_equal(capstan_parse_ip("", ip, &len, NULL), CAPSTAN_EINVALID);
	assert_int_equal(capstan_parse_ip("10.0.0.1/8", ip, &len, NULL), CAPSTAN_EINVALID);
}

static void test_dns_names(void **state)
{
	static const char *const good[] = {
		"localhost", "etcd-1", "web.internal", "a.b.c.example.com", "*.apps.example.com", "x1",
		"10.0.0.1.example.com", "a.b1",
	};
	static const char *const bad[] = {
		"", "-web", "web-", "we_b", "web..internal", "web.internal.", "*.com", "a.*.b",
		"has space", "émoji.example", "*",
		/* addresses, and names a resolver reads as one */
		"10.0.0.1", "::1", "2001:db8::1", "10.1", "host.123", "*.0.0.1", "web\xe9.internal",
	};

	(void)state;
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		assert_int_equal(capstan_check_dns_name(good[i], NULL), 0);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(capstan_check_dns_name(bad[i], NULL), CAPSTAN_EINVALID);
	assert_true(capstan_is_hostname("web.internal"));
	assert_false(capstan_is_hostname("10.0.0.1"));
	assert_false(capstan_is_hostname("My Service"));
}

static void test_uri_email_identifier(void **state)
{
	(void)state;
	assert_int_equal(capstan_check_uri("spiffe://example.org/web", NULL), 0);
	assert_int_equal(capstan_check_uri("urn:example:x", NULL), 0);
	assert_int_equal(capstan_check_uri("no-scheme", NULL), CAPSTAN_EINVALID);
	assert_int_equal(capstan_check_uri("http://a b", NULL), CAPSTAN_EINVALID);
	assert_int_equal(capstan_check_uri("1http://x", NULL), CAPSTAN_EINVALID);
	/* IA5String: Go refuses a certificate with a byte past 0x7f in one */
	assert_int_equal(capstan_check_uri("spiffe://example/caf\xc3\xa9", NULL), CAPSTAN_EINVALID);
	assert_int_equal(capstan_check_uri("spiffe://example/caf\xe9", NULL), CAPSTAN_EINVALID);
	assert_int_equal(capstan_check_email("jos\xc3\xa9@example.com", NULL), CAPSTAN_EINVALID);
	assert_int_equal(capstan_check_email("ops@10.0.0.1", NULL), CAPSTAN_EINVALID);
	assert_int_equal(capstan_check_email("ops@example.com", NULL), 0);
	assert_int_equal(capstan_check_email("ops@", NULL), CAPSTAN_EINVALID);
	assert_int_equal(capstan_check_email("@example.com", NULL), CAPSTAN_EINVALID);
	assert_int_equal(capstan_check_email("a@b@example.com", NULL), CAPSTAN_EINVALID);
	assert_int_equal(capstan_check_identifier("etcd-1", NULL), 0);
	assert_int_equal(capstan_check_identifier("web.internal", NULL), 0);
	assert_int_equal(capstan_check_identifier("../etc/passwd", NULL), CAPSTAN_EINVALID);
	assert_int_equal(capstan_check_identifier("a/b", NULL), CAPSTAN_EINVALID);
	assert_int_equal(capstan_check_identifier("-x", NULL), CAPSTAN_EINVALID);
	assert_int_equal(capstan_check_identifier("", NULL), CAPSTAN_EINVALID);
	assert_int_equal(capstan_check_subject_value("Example Corp", NULL), 0);
	assert_int_equal(capstan_check_subject_value("bad\nline", NULL), CAPSTAN_EINVALID);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_durations),
		cmocka_unit_test(test_format_duration),
		cmocka_unit_test(test_ip),
		cmocka_unit_test(test_dns_names),
		cmocka_unit_test(test_uri_email_identifier),
	};
	return cmocka_run_group_tests_name("parse", tests, NULL, NULL);
}
