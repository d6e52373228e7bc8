/* Unit tests: the YAML configuration loader. */
#include <unistd.h>

#include "unit.h"

static const char good[] =
	"organization: Example Corp\n"
	"defaults:            # for every environment unless overridden\n"
	"  key: ec-p256\n"
	"  days: 90\n"
	"  renew_before: 30d\n"
	"environments:\n"
	"  dev: {}\n"
	"  staging:\n"
	"  prod:\n"
	"    root: { key: ec-p384, days: 3650 }\n"
	"    intermediate: { key: ec-p384, days: 1825 }\n"
	"    defaults: { days: 60 }\n"
	"base: &peer { profile: peer, ip: [127.0.0.1] }\n"
	"services:\n"
	"  etcd:\n"
	"    template: etcd\n"
	"    certs:\n"
	"      - { name: etcd-1, profile: peer, dns: [etcd-1.internal, localhost], ip: [127.0.0.1] }\n"
	"      - { name: root, profile: client }\n"
	"  alluxio:\n"
	"    template: alluxio\n"
	"    certs:\n"
	"      - { name: alluxio-etcd-client, profile: client, role: etcd-client, key: rsa-2048, days: 30d }\n";

static capstan_config *parse(capstan_ctx *ctx, const char *text, int *rc)
{
	capstan_config *c = NULL;

	*rc = capstan_config_parse(&c, ctx, "capstan.yaml", text, strlen(text));
	return c;
}

static void test_good(void **state)
{
	capstan_ctx *ctx = NULL;
	capstan_config *c;
	capstan_config_defaults d;
	int rc;

	(void)state;
	assert_int_equal(capstan_ctx_new(&ctx), 0);
	/* "base:" is not a known key: the anchor trick needs to live elsewhere. */
	c = parse(ctx, good, &rc);
	assert_int_equal(rc, CAPSTAN_EINVALID);
	assert_string_equal(capstan_error_message(ctx),
		"capstan.yaml:13:1: unknown key 'base' (expected organization, defaults, environments, services, api, inventory)");
	char *fixed = strdup(good), *base = strstr(fixed, "base:");
	memset(base, ' ', strcspn(base, "\n"));
	base[0] = '#';
	c = parse(ctx, fixed, &rc);
	free(fixed);
	if (rc)
		fail_msg("%s", capstan_error_message(ctx));
	assert_string_equal(c->organization, "Example Corp");
	assert_int_equal(c->env_count, 3);
	assert_string_equal(c->envs[1].name, "staging");
	assert_int_equal(c->envs[2].root.key, CAPSTAN_KEY_EC_P384);
	assert_int_equal(c->service_count, 2);
	assert_string_equal(c->services[0].certs[0].name, "etcd-1");
	assert_string_equal(c->services[0].certs[0].cn, "etcd-1");
	assert_int_equal(c->services[0].certs[0].dns_count, 2);
	assert_string_equal(c->services[1].certs[0].role, "etcd-client");
	d = capstan_config_effective(c, &c->envs[2], &c->services[0].certs[0]);
	assert_int_equal(d.lifetime, 60 * 86400);          /* prod's own default */
	assert_int_equal(d.renew_before, 30 * 86400);      /* the file's */
	d = capstan_config_effective(c, &c->envs[0], &c->services[1].certs[0]);
	assert_int_equal(d.lifetime, 30 * 86400);          /* the certificate's */
	assert_int_equal(d.key, CAPSTAN_KEY_RSA_2048);
	capstan_config_free(c);
	capstan_ctx_free(ctx);
}

static void test_bad(void **state)
{
	static const struct { const char *yaml, *message; } cases[] = {
		{ "environments: { dev: {} }\nservices:\n  web:\n    template: kubernetes\n    certs:\n"
		  "      - { name: web, profile: server, ip: [300.1.2.3] }\n",
		  "capstan.yaml:6:44: services.web.certs[0].ip: bad IP address '300.1.2.3': not an IPv4 or IPv6 address" },
		{ "environments: { dev: { defaults: { days: -3 } } }\n",
		  "capstan.yaml:1:42: environments.dev.defaults.days: bad duration '-3': a duration must be positive" },
		{ "environments: { dev: {} }\nsevrices: {}\n",
		  "capstan.yaml:2:1: unknown key 'sevrices' (expected organization, defaults, environments, services, api, inventory)" },
		{ "environments: { dev: {} }\nservices:\n  a:\n    template: etcd\n    certs: [ { name: x, profile: client } ]\n"
		  "  b:\n    template: etcd\n    certs: [ { name: x, profile: client } ]\n",
		  "capstan.yaml:8: services.b: certificate name 'x' is used twice (also at line 5)" },
		{ "environments: { dev: {} }\nservices:\n  a:\n    template: etcd\n    certs: [ { name: x, profile: server, cn: Web Server } ]\n",
		  "capstan.yaml:5:14: services.a.certs[0]: profile server needs a DNS or IP SAN, or a CN that is a host "
		  "name (services.a.certs[0].dns or .ip)" },
		{ "environments: { dev: {} }\nservices:\n  a:\n    template: etcd\n    certs: [ { name: x } ]\n",
		  "capstan.yaml:5:14: services.a.certs[0]: a certificate needs a profile (server, client, peer)" },
		{ "environments: { dev: { root: { key: rsa-1024 } } }\n",
		  "capstan.yaml:1:37: environments.dev.root.key: unknown or weak key type 'rsa-1024' (expected ec-p256, "
		  "ec-p384, rsa-2048, rsa-3072, rsa-4096, ed25519)" },
		{ "environments: [dev]\n", "capstan.yaml:1:15: environments: expected a mapping, found a list" },
		{ "environments: { dev: {}, dev: {} }\n", "capstan.yaml:1:26: environments: key 'dev' given twice (also at line 1)" },
		{ "environments: { ../x: {} }\n",
		  "capstan.yaml:1:23: environments.../x: bad environment name '../x' (letters, digits, '.', '_', '-'; at most 32)" },
		{ "organization: x\n", "capstan.yaml:1:1: environments: at least one environment is needed" },
		{ "", "capstan.yaml: the configuration is empty" },
		{ "environments: {\n  dev: [\n", "capstan.yaml:3:1: not valid YAML: did not find expected node content" },
		{ "environments: { dev: {} }\nservices: { a: { template: etcd } }\n",
		  "capstan.yaml:2:16: services.a: a service needs certs" },
	};
	capstan_ctx *ctx = NULL;
	int rc, bad = 0;

	(void)state;
	assert_int_equal(capstan_ctx_new(&ctx), 0);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		capstan_config *got = parse(ctx, cases[i].yaml, &rc);
		if (got)
			fail_msg("case %zu was accepted", i);
		assert_int_equal(rc, CAPSTAN_EINVALID);
		if (strcmp(capstan_error_message(ctx), cases[i].message) != 0)
			print_message("case %zu:\n got  %s\n want %s\n", i, capstan_error_message(ctx), cases[i].message), bad++;
	}
	assert_int_equal(bad, 0);
	capstan_ctx_free(ctx);
}

static void test_alias_bomb(void **state)
{
	capstan_ctx *ctx = NULL;
	char *yaml = malloc(1 << 16), *p = yaml;
	int rc;

	(void)state;
	assert_int_equal(capstan_ctx_new(&ctx), 0);
	/* Each level lists the one before it ten times: 10^9 certificates once expanded. */
	p += sprintf(p, "environments: { dev: {} }\nx0: &a0 [ { name: n, profile: client } ]\n");
	for (int i = 1; i < 10; i++)
		p += sprintf(p, "x%d: &a%d [ *a%d, *a%d, *a%d, *a%d, *a%d, *a%d, *a%d, *a%d, *a%d, *a%d ]\n",
			i, i, i - 1, i - 1, i - 1, i - 1, i - 1, i - 1, i - 1, i - 1, i - 1, i - 1);
	assert_null(parse(ctx, yaml, &rc));
	assert_int_equal(rc, CAPSTAN_EINVALID); /* refused at once, whatever the reason */
	sprintf(yaml, "environments: { dev: {} }\nservices:\n  s:\n    template: t\n    certs: &c [ { name: n, profile: client } ]\n");
	capstan_config *c = parse(ctx, yaml, &rc);
	assert_int_equal(rc, 0);
	capstan_config_free(c);
	free(yaml);
	capstan_ctx_free(ctx);
}

/* inventory: in the file, and read alone by capstan_config_inventory. */
static void test_inventory(void **state)
{
	static const char *const bad[] = { "inventory: mysql://db\n", "inventory: sqlite:\n", "inventory: [a]\n" };
	char path[] = "/tmp/capstan-unit-inv-XXXXXX";
	capstan_ctx *ctx = NULL;
	capstan_config *c;
	char *inv = NULL;
	int rc, fd;
	FILE *f;

	(void)state;
	assert_int_equal(capstan_ctx_new(&ctx), 0);
	c = parse(ctx, "inventory: postgresql://ca@db.internal/capstan\nenvironments: { dev: {} }\n", &rc);
	assert_int_equal(rc, 0);
	assert_string_equal(c->inventory, "postgresql://ca@db.internal/capstan");
	capstan_config_free(c);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char text[128];
		snprintf(text, sizeof(text), "%senvironments: { dev: {} }\n", bad[i]);
		assert_null(parse(ctx, text, &rc));
		assert_int_equal(rc, CAPSTAN_EINVALID);
	}
	/* Alone: the rest of the file is not validated (no environments here). */
	assert_true((fd = mkstemp(path)) >= 0);
	assert_non_null(f = fdopen(fd, "w"));
	fputs("# the inventory only\ninventory: sqlite:/srv/ca/capstan.db\nservices: 42\n", f);
	fclose(f);
	assert_int_equal(capstan_config_inventory(&inv, ctx, path), 0);
	assert_string_equal(inv, "sqlite:/srv/ca/capstan.db");
	free(inv);
	assert_non_null(f = fopen(path, "w"));
	fputs("organization: x\n", f);
	fclose(f);
	assert_int_equal(capstan_config_inventory(&inv, ctx, path), 0);
	assert_null(inv);
	assert_non_null(f = fopen(path, "w"));
	fputs("inventory: ftp://x\n", f);
	fclose(f);
	assert_int_equal(capstan_config_inventory(&inv, ctx, path), CAPSTAN_EINVALID);
	assert_null(inv);
	unlink(path);
	capstan_ctx_free(ctx);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_good),
		cmocka_unit_test(test_bad),
		cmocka_unit_test(test_alias_bomb),
		cmocka_unit_test(test_inventory),
	};
	return cmocka_run_group_tests_name("config", tests, NULL, NULL);
}
