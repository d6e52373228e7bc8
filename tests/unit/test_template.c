/* Unit tests: the template engine. */
#include "unit.h"

static capstan_tvalue *data(void)
{
	capstan_tvalue *d = capstan_tv_map(), *certs = capstan_tv_list(), *c1 = capstan_tv_map(), *c2 = capstan_tv_map();
	capstan_tvalue *dns = capstan_tv_list(), *nested = capstan_tv_map();

	capstan_tv_put_string(d, "env", "dev");
	capstan_tv_put_string(d, "empty", "");
	capstan_tv_put(d, "yes", capstan_tv_bool(1));
	capstan_tv_put(d, "no", capstan_tv_bool(0));
	capstan_tv_put_string(c1, "name", "etcd-1");
	capstan_tv_put(c1, "server", capstan_tv_bool(1));
	capstan_tv_push(dns, capstan_tv_string("a.internal"));
	capstan_tv_push(dns, capstan_tv_string("b.internal"));
	capstan_tv_put(c1, "dns", dns);
	capstan_tv_put_string(c2, "name", "root");
	capstan_tv_put(c2, "server", capstan_tv_bool(0));
	capstan_tv_put(c2, "dns", capstan_tv_list());
	capstan_tv_push(certs, c1);
	capstan_tv_push(certs, c2);
	capstan_tv_put(d, "certs", certs);
	capstan_tv_put_string(nested, "path", "/etc/tls");
	capstan_tv_put(d, "dir", nested);
	return d;
}

static char *render(capstan_ctx *ctx, const char *text, int *rc)
{
	capstan_tvalue *d = data();
	capstan_buf out = CAPSTAN_BUF_INIT;
	char *s;

	*rc = capstan_template_render(&out, ctx, "t.tmpl", text, strlen(text), d);
	capstan_tv_free(d);
	s = *rc == 0 ? strdup((char *)out.data) : NULL;
	capstan_buf_free(&out);
	return s;
}

#define assert_renders(ctx, text, want) do { \
	int rc_; \
	char *got_ = render(ctx, text, &rc_); \
	if (rc_ != 0) \
		fail_msg("render failed: %s", capstan_error_message(ctx)); \
	assert_string_equal(got_, want); \
	free(got_); \
} while (0)

#define assert_refuses(ctx, text, message) do { \
	int rc_; \
	char *got_ = render(ctx, text, &rc_); \
	assert_null(got_); \
	assert_int_equal(rc_, CAPSTAN_EINVALID); \
	assert_string_equal(capstan_error_message(ctx), message); \
} while (0)

static void test_render(void **state)
{
	capstan_ctx *ctx = NULL;

	(void)state;
	assert_int_equal(capstan_ctx_new(&ctx), 0);
	assert_renders(ctx, "env={{env}} {{ env }}", "env=dev dev");
	assert_renders(ctx, "{{dir.path}}/ca.pem", "/etc/tls/ca.pem");
	assert_renders(ctx, "{{#certs}}[{{name}} in {{env}}]{{/certs}}", "[etcd-1 in dev][root in dev]");
	assert_renders(ctx, "{{#certs}}{{#server}}{{name}} {{/server}}{{/certs}}", "etcd-1 ");
	assert_renders(ctx, "{{#certs}}{{^server}}{{name}}{{/server}}{{/certs}}", "root");
	assert_renders(ctx, "{{#certs}}{{#dns}}{{.}},{{/dns}}{{/certs}}", "a.internal,b.internal,");
	assert_renders(ctx, "{{^empty}}none{{/empty}}{{#empty}}some{{/empty}}", "none");
	assert_renders(ctx, "{{#yes}}y{{/yes}}{{#no}}n{{/no}}{{yes}}", "ytrue");
	assert_renders(ctx, "a{{! a comment }}b", "ab");
	assert_renders(ctx, "no tags & <no> escaping\n", "no tags & <no> escaping\n");
	/* Standalone section lines vanish with their newline. */
	assert_renders(ctx, "begin\n{{#certs}}\n  {{name}}\n{{/certs}}\nend\n", "begin\n  etcd-1\n  root\nend\n");
	assert_renders(ctx, "x\n  {{! note }}\ny\n", "x\ny\n");
	assert_renders(ctx, "", "");
	capstan_ctx_free(ctx);
}

static void test_refusals(void **state)
{
	capstan_ctx *ctx = NULL;

	(void)state;
	assert_int_equal(capstan_ctx_new(&ctx), 0);
	assert_refuses(ctx, "line 1\n{{nope}}", "t.tmpl:2: unknown name 'nope'");
	assert_refuses(ctx, "{{dir.nope}}", "t.tmpl:1: unknown name 'dir.nope'");
	assert_refuses(ctx, "a\n{{#certs}}\nx", "t.tmpl:2: section 'certs' is not closed");
	assert_refuses(ctx, "{{/certs}}", "t.tmpl:1: '{{/certs}}' closes no open section");
	assert_refuses(ctx, "{{#certs}}{{/dir}}", "t.tmpl:1: '{{/dir}}' closes no open section: expected {{/certs}}");
	assert_refuses(ctx, "\n\n{{env", "t.tmpl:3: '{{' is not closed by '}}'");
	assert_refuses(ctx, "{{certs}}", "t.tmpl:1: 'certs' is a list, not text (use a section)");
	assert_refuses(ctx, "{{}}", "t.tmpl:1: empty or over-long tag name");
	assert_refuses(ctx, "{{a b}}", "t.tmpl:1: bad character in tag 'a b'");
	assert_refuses(ctx, "{{#a}}{{#a}}{{#a}}{{#a}}{{#a}}{{#a}}{{#a}}{{#a}}{{#a}}{{#a}}{{#a}}{{#a}}{{#a}}{{#a}}{{#a}}{{#a}}"
		"{{#a}}{{#a}}{{#a}}{{#a}}{{#a}}{{#a}}{{#a}}{{#a}}{{#a}}{{#a}}{{#a}}{{#a}}{{#a}}{{#a}}{{#a}}{{#a}}{{#a}}",
		"t.tmpl:1: sections nested more than 32 deep");
	capstan_ctx_free(ctx);
}

/* Sections nested over a list multiply: 25 deep over two items is 2^25
 * renderings of nothing, which no output limit would stop (found by fuzz_template). */
static void test_work_is_bounded(void **state)
{
	capstan_ctx *ctx = NULL;
	char text[25 * 20 + 1];

	(void)state;
	assert_int_equal(capstan_ctx_new(&ctx), 0);
	for (int i = 0; i < 25; i++) {
		memcpy(text + 10 * i, "{{#certs}}", 10);
		memcpy(text + 250 + 10 * i, "{{/certs}}", 10);
	}
	text[500] = '\0';
	assert_refuses(ctx, text, "t.tmpl:1: too much to render (sections nested over lists?)");
	capstan_ctx_free(ctx);
}

static void test_copy(void **state)
{
	capstan_tvalue *d = data(), *c = capstan_tv_copy(d);

	(void)state;
	assert_non_null(c);
	assert_non_null(capstan_tv_get(c, "certs"));
	assert_ptr_not_equal(capstan_tv_get(c, "certs"), capstan_tv_get(d, "certs"));
	capstan_tv_free(d);
	capstan_tv_free(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_render),
		cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_work_is_bounded),
		cmocka_unit_test(test_copy),
	};
	return cmocka_run_group_tests_name("template", tests, NULL, NULL);
}
