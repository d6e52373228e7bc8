/*
 * Unit tests: the Prometheus text exposition (metrics.c). The whole output
 * is checked against the format (version 0.0.4): HELP and TYPE before a
 * family's samples, each family in one group, label names and values
 * well formed, no sample twice; the values are what the inventory holds; and
 * label values with '\', '"' and a newline come out escaped.
 */
#include <ctype.h>

#include "unit.h"
#include "store/store_internal.h" /* to give a row a name no command would accept */

#define MAX_FAMILIES 16
#define MAX_SAMPLES 64
#define MAX_LABELS 8

typedef struct {
	char name[64];
	int labels;
	char label[MAX_LABELS][32];
	char value[MAX_LABELS][128];   /* unescaped */
	long long number;
} sample;

typedef struct {
	char families[MAX_FAMILIES][64];
	int helped[MAX_FAMILIES], typed[MAX_FAMILIES];
	size_t nfamilies;
	sample samples[MAX_SAMPLES];
	size_t nsamples;
} exposition;

static int metric_name_char(int c, int first)
{
	return isalpha(c) || c == '_' || c == ':' || (!first && isdigit(c));
}

static size_t family_index(exposition *e, const char *name)
{
	for (size_t i = 0; i < e->nfamilies; i++)
		if (strcmp(e->families[i], name) == 0)
			return i;
	assert_true(e->nfamilies < MAX_FAMILIES);
	snprintf(e->families[e->nfamilies], sizeof(e->families[0]), "%s", name);
	return e->nfamilies++;
}

/* name{l="v",...} value */
static void parse_sample(const char *line, sample *s)
{
	const char *p = line;
	size_t n = 0;
	char *end;

	memset(s, 0, sizeof(*s));
	assert_true(metric_name_char((unsigned char)*p, 1));
	while (metric_name_char((unsigned char)*p, 0))
		s->name[n++] = *p++;
	if (*p == '{') {
		p++;
		while (*p != '}') {
			size_t ln = 0, vn = 0;
			assert_true(s->labels < MAX_LABELS);
			assert_true(isalpha((unsigned char)*p) || *p == '_');
			while (isalnum((unsigned char)*p) || *p == '_')
				s->label[s->labels][ln++] = *p++;
			assert_int_equal(*p++, '=');
			assert_int_equal(*p++, '"');
			while (*p != '"') {
				char c = *p++;
				assert_int_not_equal(c, '\0');
				assert_int_not_equal(c, '\n');
				if (c == '\\') {
					c = *p++;
					assert_true(c == '\\' || c == '"' || c == 'n');
					c = c == 'n' ? '\n' : c;
				}
				assert_true(vn < sizeof(s->value[0]) - 1);
				s->value[s->labels][vn++] = c;
			}
			p++;
			for (int i = 0; i < s->labels; i++)
				assert_string_not_equal(s->label[i], s->label[s->labels]); /* no label twice */
			s->labels++;
			if (*p == ',')
				p++;
			else
				assert_int_equal(*p, '}');
		}
		p++;
	}
	assert_int_equal(*p++, ' ');
	s->number = strtoll(p, &end, 10);
	assert_true(end > p);
	assert_int_equal(*end, '\0');
}

static const char *label(const sample *s, const char *name)
{
	for (int i = 0; i < s->labels; i++)
		if (strcmp(s->label[i], name) == 0)
			return s->value[i];
	return NULL;
}

static int same_sample(const sample *a, const sample *b)
{
	if (strcmp(a->name, b->name) != 0 || a->labels != b->labels)
		return 0;
	for (int i = 0; i < a->labels; i++) {
		const char *v = label(b, a->label[i]);
		if (!v || strcmp(v, a->value[i]) != 0)
			return 0;
	}
	return 1;
}

/* Reads the whole text, failing on anything the format does not allow. */
static void parse_exposition(const capstan_buf *text, exposition *e)
{
	char *copy = strndup((const char *)text->data, text->len), *line, *save = NULL;
	size_t current = (size_t)-1;

	memset(e, 0, sizeof(*e));
	assert_true(text->len > 0);
	assert_int_equal(text->data[text->len - 1], '\n');
	assert_null(strstr(copy, "\n\n"));
	for (line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char name[64];
		size_t f;
		if (strncmp(line, "# HELP ", 7) == 0 || strncmp(line, "# TYPE ", 7) == 0) {
			int help = line[2] == 'H';
			assert_int_equal(sscanf(line + 7, "%63s", name), 1);
			f = family_index(e, name);
			if (help) {
				assert_int_equal(e->helped[f]++, 0);
				assert_int_equal(e->typed[f], 0); /* HELP first */
				assert_true(strlen(line) > 8 + strlen(name));
			} else {
				assert_int_equal(e->typed[f]++, 0);
				assert_string_equal(line + 8 + strlen(name), "gauge");
			}
			current = f;
			continue;
		}
		assert_int_not_equal(line[0], '#');
		assert_true(e->nsamples < MAX_SAMPLES);
		parse_sample(line, &e->samples[e->nsamples]);
		f = family_index(e, e->samples[e->nsamples].name);
		assert_int_equal(f, current);          /* its family's group, after its HELP and TYPE */
		assert_true(e->helped[f] && e->typed[f]);
		for (size_t i = 0; i < e->nsamples; i++)
			assert_false(same_sample(&e->samples[i], &e->samples[e->nsamples]));
		e->nsamples++;
	}
	for (size_t f = 0; f < e->nfamilies; f++)
		assert_true(e->helped[f] && e->typed[f]);
	free(copy);
}

static const sample *find(const exposition *e, const char *name, const char *l1, const char *v1, const char *l2,
	const char *v2)
{
	const sample *hit = NULL;

	for (size_t i = 0; i < e->nsamples; i++) {
		const sample *s = &e->samples[i];
		if (strcmp(s->name, name) != 0)
			continue;
		if (l1 && (!label(s, l1) || strcmp(label(s, l1), v1) != 0))
			continue;
		if (l2 && (!label(s, l2) || strcmp(label(s, l2), v2) != 0))
			continue;
		assert_null(hit); /* exactly one */
		hit = s;
	}
	return hit;
}

static capstan_cert *issue(capstan_ctx *ctx, const char *env, const char *name, capstan_profile profile)
{
	capstan_issue_opts o = CAPSTAN_ISSUE_OPTS_INIT;
	capstan_cert *c = NULL;

	o.env = env;
	o.cn = name;
	o.profile = profile;
	assert_ok(ctx, capstan_issue(&c, ctx, &o));
	return c;
}

static void test_exposition(void **state)
{
	char *home = NULL;
	capstan_ctx *ctx = unit_open_home(&home);
	capstan_init_opts io = CAPSTAN_INIT_OPTS_INIT;
	capstan_ca_rotate_opts ro = CAPSTAN_CA_ROTATE_OPTS_INIT;
	capstan_cert *root = NULL, *inter = NULL, *root2 = NULL, *inter2 = NULL;
	capstan_cert *web, *api, *cli, *gone, *old, *renewed = NULL;
	capstan_buf text = CAPSTAN_BUF_INIT;
	exposition e;
	const sample *s;
	time_t before = time(NULL);

	(void)state;
	io.env = "dev";
	assert_ok(ctx, capstan_env_init(&root, &inter, ctx, &io));
	io.env = "prod";
	assert_ok(ctx, capstan_env_init(NULL, NULL, ctx, &io));
	web = issue(ctx, "dev", "web.internal", CAPSTAN_PROFILE_SERVER);
	api = issue(ctx, "dev", "api.internal", CAPSTAN_PROFILE_PEER);
	cli = issue(ctx, "prod", "cli", CAPSTAN_PROFILE_CLIENT);
	gone = issue(ctx, "dev", "gone", CAPSTAN_PROFILE_CLIENT);
	old = issue(ctx, "dev", "old", CAPSTAN_PROFILE_CLIENT);
	assert_ok(ctx, capstan_revoke(ctx, gone, CAPSTAN_REASON_CESSATION_OF_OPERATION));
	assert_ok(ctx, capstan_renew(&renewed, ctx, old, 0));
	ro.env = "dev";
	ro.root = 1;
	assert_ok(ctx, capstan_ca_rotate(&root2, &inter2, ctx, &ro));

	assert_ok(ctx, capstan_metrics(&text, ctx));
	parse_exposition(&text, &e);

	/* one expiry per current certificate, CAs included, with its profile or kind */
	s = find(&e, "capstan_cert_not_after_seconds", "env", "dev", "name", "web.internal");
	assert_non_null(s);
	assert_string_equal(label(s, "serial"), web->serial);
	assert_string_equal(label(s, "profile"), "server");
	assert_int_equal(s->number, web->not_after);
	s = find(&e, "capstan_cert_not_after_seconds", "env", "dev", "name", "api.internal");
	assert_string_equal(label(s, "profile"), "peer");
	s = find(&e, "capstan_cert_not_after_seconds", "env", "prod", "name", "cli");
	assert_string_equal(label(s, "profile"), "client");
	assert_int_equal(s->number, cli->not_after);
	s = find(&e, "capstan_cert_not_after_seconds", "env", "dev", "name", "old");
	assert_string_equal(label(s, "serial"), renewed->serial); /* the current one, not the superseded */
	assert_null(find(&e, "capstan_cert_not_after_seconds", "env", "dev", "name", "gone"));
	s = find(&e, "capstan_cert_not_after_seconds", "env", "dev", "serial", root2->serial);
	assert_non_null(s);
	assert_string_equal(label(s, "profile"), "root");
	assert_int_equal(s->number, root2->not_after);

	/* leaves by status */
	s = find(&e, "capstan_certificates", "env", "dev", "status", "valid");
	assert_int_equal(s->number, 3);  /* web, api, old's renewal */
	s = find(&e, "capstan_certificates", "env", "dev", "status", "revoked");
	assert_int_equal(s->number, 1);
	s = find(&e, "capstan_certificates", "env", "dev", "status", "superseded");
	assert_int_equal(s->number, 1);
	s = find(&e, "capstan_certificates", "env", "prod", "status", "valid");
	assert_int_equal(s->number, 1);

	/* the old root on its way out of the trust bundle */
	s = find(&e, "capstan_trust_root_leaves_seconds", "env", "dev", NULL, NULL);
	assert_non_null(s);
	assert_string_equal(label(s, "serial"), root->serial);
	assert_true(s->number > before);

	s = find(&e, "capstan_metrics_generated_seconds", NULL, NULL, NULL, NULL);
	assert_int_equal(s->labels, 0);
	assert_true(s->number >= before && s->number <= time(NULL));

	capstan_buf_free(&text);
	capstan_cert_free(root);
	capstan_cert_free(inter);
	capstan_cert_free(root2);
	capstan_cert_free(inter2);
	capstan_cert_free(web);
	capstan_cert_free(api);
	capstan_cert_free(cli);
	capstan_cert_free(gone);
	capstan_cert_free(old);
	capstan_cert_free(renewed);
	capstan_ctx_free(ctx);
	unit_remove_home(home);
}

/*
 * Escaping: names are identifiers, so no command makes one with a quote; the
 * rows are given such names here, as an edited or damaged inventory could
 * have them. Each label value must come out with '\' as "\\", '"' as "\""
 * and a newline as "\n", and the whole must still be the format.
 */
static void test_label_escaping(void **state)
{
	static const char weird_env[] = "de\"v\\x\ny";
	static const char weird_name[] = "a\\b\"c\nd\\\\e\"\"";
	char *home = NULL;
	capstan_ctx *ctx = unit_open_home(&home);
	capstan_init_opts io = CAPSTAN_INIT_OPTS_INIT;
	capstan_ca_rotate_opts ro = CAPSTAN_CA_ROTATE_OPTS_INIT;
	capstan_cert *leaf;
	capstan_buf text = CAPSTAN_BUF_INIT;
	sqlite3_stmt *stmt = NULL;
	exposition e;
	const sample *s;
	char want[256];

	(void)state;
	io.env = "dev";
	assert_ok(ctx, capstan_env_init(NULL, NULL, ctx, &io));
	leaf = issue(ctx, "dev", "svc", CAPSTAN_PROFILE_CLIENT);
	/* an old root leaving trust: its line carries the environment's name too */
	ro.env = "dev";
	ro.root = 1;
	assert_ok(ctx, capstan_ca_rotate(NULL, NULL, ctx, &ro));
	assert_int_equal(sqlite3_prepare_v2(ctx->store->db, "UPDATE certs SET name = ?1 WHERE id = ?2", -1, &stmt, NULL),
		SQLITE_OK);
	sqlite3_bind_text(stmt, 1, weird_name, -1, SQLITE_STATIC);
	sqlite3_bind_int64(stmt, 2, leaf->id);
	assert_int_equal(sqlite3_step(stmt), SQLITE_DONE);
	sqlite3_finalize(stmt);
	assert_int_equal(sqlite3_prepare_v2(ctx->store->db, "UPDATE envs SET name = ?1", -1, &stmt, NULL), SQLITE_OK);
	sqlite3_bind_text(stmt, 1, weird_env, -1, SQLITE_STATIC);
	assert_int_equal(sqlite3_step(stmt), SQLITE_DONE);
	sqlite3_finalize(stmt);

	assert_ok(ctx, capstan_metrics(&text, ctx));
	/* the bytes, as the format spells them */
	snprintf(want, sizeof(want), "capstan_cert_not_after_seconds{env=\"de\\\"v\\\\x\\ny\",name=\"a\\\\b\\\"c\\nd\\\\\\\\e"
		"\\\"\\\"\",serial=\"%s\",profile=\"client\"} %lld\n", leaf->serial, (long long)leaf->not_after);
	assert_non_null(strstr((char *)text.data, want));
	assert_non_null(strstr((char *)text.data, "capstan_certificates{env=\"de\\\"v\\\\x\\ny\",status=\"valid\"} 1\n"));
	/* and read back, the values are the rows' */
	parse_exposition(&text, &e);
	s = find(&e, "capstan_cert_not_after_seconds", "name", weird_name, NULL, NULL);
	assert_non_null(s);
	assert_string_equal(label(s, "env"), weird_env);
	s = find(&e, "capstan_certificates", "env", weird_env, "status", "valid");
	assert_non_null(s);
	s = find(&e, "capstan_trust_root_leaves_seconds", "env", weird_env, NULL, NULL);
	assert_non_null(s);
	capstan_buf_free(&text);
	capstan_cert_free(leaf);
	capstan_ctx_free(ctx);
	unit_remove_home(home);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_exposition),
		cmocka_unit_test(test_label_escaping),
	};
	return cmocka_run_group_tests_name("metrics", tests, NULL, NULL);
}
