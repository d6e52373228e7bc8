/* Option parsing: declarative tables, global options accepted anywhere,
 * --name=value and --name value, repeatable options, and "--". */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

int cli_usage_error(cli *c, const char *fmt, ...)
{
	va_list ap;

	fputs("capstan: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	if (c && c->command)
		fprintf(stderr, " (usage: capstan %s)", c->command->usage);
	fputc('\n', stderr);
	return EXIT_USAGE;
}

int cli_error(cli *c, const char *fmt, ...)
{
	va_list ap;

	(void)c;
	fputs("capstan: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return EXIT_FAILED;
}

/* An input file of at most 1 MiB: certificates, keys, chains. */
#define MAX_INPUT_FILE (1024 * 1024)

int cli_read_input(cli *c, const char *option, const char *path, capstan_buf *buf, capstan_input *in)
{
	if (!path)
		return 0;
	if (capstan_file_read(buf, c->ctx, path, MAX_INPUT_FILE) < 0)
		return cli_error(c, "%s: %s", option, capstan_error_message(c->ctx));
	in->name = path;
	in->data = buf->data;
	in->len = buf->len;
	return 0;
}

/* The library says what is wrong; saying where to fix it is ours. */
static const struct {
	unsigned field;
	const char *flag;
} subject_flags[] = {
	{ CAPSTAN_FIELD_ENV, "--env" },
	{ CAPSTAN_FIELD_CN, "--cn" },
	{ CAPSTAN_FIELD_NAME, "--name" },
	{ CAPSTAN_FIELD_SERVICE, "--service" },
	{ CAPSTAN_FIELD_PROFILE, "--profile" },
	{ CAPSTAN_FIELD_KEY, "--key" },
	{ CAPSTAN_FIELD_LIFETIME, "--days" },
	{ CAPSTAN_FIELD_RENEW_BEFORE, "--renew-before" },
	{ CAPSTAN_FIELD_DNS, "--dns" },
	{ CAPSTAN_FIELD_IP, "--ip" },
	{ CAPSTAN_FIELD_URI, "--uri" },
	{ CAPSTAN_FIELD_EMAIL, "--email" },
	{ CAPSTAN_FIELD_CSR, "--csr" },
	{ CAPSTAN_FIELD_ORG, "--org" },
	{ CAPSTAN_FIELD_HOME, "--home DIR or CAPSTAN_HOME" },
	{ CAPSTAN_FIELD_PASSPHRASE, "--passphrase-file or CAPSTAN_PASSPHRASE" },
	{ CAPSTAN_FIELD_PASSWORD, "--password-file or CAPSTAN_STORE_PASSWORD" },
	{ CAPSTAN_FIELD_INPUT_PASSWORD, "--in-password-file or --password-file" },
	{ CAPSTAN_FIELD_LEGACY, "--legacy" },
	{ CAPSTAN_FIELD_CA_KEY, "--ca-key" },
	{ CAPSTAN_FIELD_NEXT_UPDATE, "--next-update" },
	{ CAPSTAN_FIELD_ALIAS, "--alias" },
};

void cli_subject_hint(unsigned subject, int code, char *out, size_t size)
{
	size_t n = sizeof(subject_flags) / sizeof(subject_flags[0]), named = 0, total = 0;

	out[0] = '\0';
	if (subject == CAPSTAN_FIELD_ENV && code == CAPSTAN_ENOTFOUND) {
		snprintf(out, size, " (--env; 'capstan init --env ENV' creates one)");
		return;
	}
	for (size_t i = 0; i < n; i++)
		total += (subject & subject_flags[i].field) != 0;
	for (size_t i = 0; i < n && size > strlen(out); i++) {
		if (!(subject & subject_flags[i].field))
			continue;
		named++;
		snprintf(out + strlen(out), size - strlen(out), "%s%s", named == 1 ? " (" : named == total ? " or " : ", ",
			subject_flags[i].flag);
	}
	if (named)
		snprintf(out + strlen(out), size - strlen(out), ")");
}

int cli_fail(cli *c)
{
	char hint[160];

	cli_subject_hint(capstan_error_subject(c->ctx), capstan_error_last(c->ctx), hint, sizeof(hint));
	/* Damage is check's to describe (and check, failing, says so itself). */
	if (capstan_error_last(c->ctx) == CAPSTAN_EDAMAGED && !(c->command && strcmp(c->command->name, "check") == 0))
		snprintf(hint, sizeof(hint), ": run capstan check");
	return cli_error(c, "%s%s", capstan_error_message(c->ctx), hint);
}

static const cli_opt *find_opt(const cli_opt *opts, const char *name, size_t len)
{
	for (; opts && opts->name; opts++)
		if (strlen(opts->name) == len && strncmp(opts->name, name, len) == 0)
			return opts;
	return NULL;
}

static int list_push(cli_list *list, const char *value)
{
	const char **items = realloc(list->items, (list->count + 1) * sizeof(*items));

	if (!items)
		return -1;
	items[list->count++] = value;
	list->items = items;
	return 0;
}

static int store_value(cli *c, const cli_opt *opt, const char *value)
{
	switch (opt->kind) {
	case OPT_FLAG:
		*(int *)opt->dest = 1;
		return 0;
	case OPT_VALUE:
		if (*(const char **)opt->dest)
			return cli_usage_error(c, "option '--%s' given twice", opt->name);
		*(const char **)opt->dest = value;
		return 0;
	case OPT_LIST:
		if (list_push(opt->dest, value) < 0)
			return cli_error(c, "out of memory");
		return 0;
	}
	return EXIT_USAGE;
}

/* One "--name[=value]" argument; *i advances past a separate value. */
static int parse_long(cli *c, int argc, char **argv, int *i, const cli_opt *global, const cli_opt *opts)
{
	const char *arg = argv[*i] + 2, *eq = strchr(arg, '=');
	size_t len = eq ? (size_t)(eq - arg) : strlen(arg);
	const cli_opt *opt = find_opt(opts, arg, len);
	const char *value = eq ? eq + 1 : NULL;

	if (!opt)
		opt = find_opt(global, arg, len);
	if (!opt)
		return cli_usage_error(c, "unknown option '--%.*s'%s%s", (int)len, arg,
			c->command ? " for " : "", c->command ? c->command->name : "");
	if (opt->kind == OPT_FLAG) {
		if (value)
			return cli_usage_error(c, "option '--%s' takes no value", opt->name);
	} else if (!value) {
		if (*i + 1 >= argc)
			return cli_usage_error(c, "option '--%s' needs a value", opt->name);
		value = argv[++*i];
	}
	return store_value(c, opt, value);
}

int cli_parse(cli *c, int argc, char **argv, const cli_opt *opts,
	const char **positional, size_t max_positional, size_t *npositional)
{
	const cli_opt global[] = {
		{ "home", OPT_VALUE, &c->home_opt },
		{ "inventory", OPT_VALUE, &c->inventory_opt },
		{ "config", OPT_VALUE, &c->config },
		{ "templates", OPT_VALUE, &c->templates },
		{ "passphrase-file", OPT_VALUE, &c->passphrase_file },
		{ "json", OPT_FLAG, &c->json },
		{ "quiet", OPT_FLAG, &c->quiet },
		{ NULL, 0, NULL },
	};
	size_t n = 0;
	int only_positional = 0, rc;

	for (int i = 0; i < argc; i++) {
		const char *arg = argv[i];
		if (!only_positional && strcmp(arg, "--") == 0) {
			only_positional = 1;
		} else if (!only_positional && strncmp(arg, "--", 2) == 0) {
			if ((rc = parse_long(c, argc, argv, &i, global, opts)) != 0)
				return rc;
		} else if (!only_positional && strcmp(arg, "-q") == 0) {
			c->quiet = 1;
		} else if (!only_positional && arg[0] == '-' && arg[1]) {
			return cli_usage_error(c, "unknown option '%s'", arg);
		} else {
			if (n == max_positional)
				return cli_usage_error(c, "unexpected argument '%s'", arg);
			positional[n++] = arg;
		}
	}
	if (npositional)
		*npositional = n;
	return 0;
}

int cli_parse_ref(cli *c, int argc, char **argv, const cli_opt *opts, const char **ref)
{
	size_t n = 0;
	int rc = cli_parse(c, argc, argv, opts, ref, 1, &n);

	if (rc == 0 && n != 1)
		rc = cli_usage_error(c, "a certificate name or serial is required");
	return rc;
}

int cli_duration(cli *c, const char *option, const char *value, int64_t *out)
{
	const char *why = NULL;

	if (capstan_parse_duration(value, out, &why) < 0)
		return cli_usage_error(c, "invalid %s '%s': %s", option, value, why);
	return 0;
}

int cli_key_type(cli *c, const char *option, const char *value, capstan_key_type *out)
{
	if (capstan_key_type_parse(value, out) < 0)
		return cli_usage_error(c, "invalid %s '%s': expected one of %s", option, value,
			capstan_key_type_names());
	return 0;
}

int cli_san_values(cli *c, const char *option, const cli_list *values, capstan_san_type type)
{
	const char *why = NULL;

	for (size_t i = 0; i < values->count; i++)
		if (capstan_check_san(type, values->items[i], &why) < 0)
			return cli_usage_error(c, "invalid %s '%s': %s", option, values->items[i], why);
	return 0;
}
