/* capstan bundle: one service's files and configuration for one environment. */
#include <limits.h>
#include <libgen.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

/* Absolute, plain characters, and no "." or ".." component: paths land in
 * env, properties, YAML and XML files, and what a config file says must be
 * where the bundle really is. */
static int plain_path(const char *p)
{
	const char *start = p;

	if (p[0] != '/')
		return 0;
	for (; *p; p++)
		if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789/._-", *p))
			return 0;
	for (p = start; (p = strstr(p, "/.")); p++)
		if (p[2] == '/' || p[2] == '\0' || (p[2] == '.' && (p[3] == '/' || p[3] == '\0')))
			return 0;
	return 1;
}

int cli_check_bundle_path(cli *c, const char *option, const char *path)
{
	if (plain_path(path))
		return 0;
	return cli_usage_error(c, "%s '%s' must be an absolute path of letters, digits and / . _ - only, without . or .. parts"
		" (it is written into configuration files)", option, path);
}

/* DIR made absolute through its parent (which need not exist yet). */
char *cli_absolute_path(const char *dir)
{
	char *copy = strdup(dir), *base = copy ? strdup(basename(copy)) : NULL, *parent, *real = NULL, *out = NULL;
	char buf[PATH_MAX];

	if (!copy || !base)
		goto done;
	snprintf(buf, sizeof(buf), "%s", dir);
	parent = dirname(buf);
	if (dir[0] == '/') {
		out = strdup(dir);
	} else if ((real = realpath(parent, NULL))) {
		size_t n = strlen(real) + strlen(base) + 2;
		if ((out = malloc(n)))
			snprintf(out, n, "%s/%s", real, base);
	} else if ((real = realpath(".", NULL))) {
		size_t n = strlen(real) + strlen(dir) + 2;
		if ((out = malloc(n)))
			snprintf(out, n, "%s/%s", real, dir);
	}
done:
	free(real);
	free(base);
	free(copy);
	return out;
}

/* A bundle rendered and written; what it left out is said on stderr, -q or not. */
int cli_write_bundle(cli *c, const capstan_bundle_opts *o, const char *dir, const char *tar, capstan_bundle **kept)
{
	capstan_bundle *b = NULL;
	int rc = 0;

	if ((dir && capstan_bundle_check_dir(c->ctx, dir) < 0) || capstan_bundle_build(&b, c->ctx, o) < 0 ||
	    (dir && capstan_bundle_write_dir(c->ctx, b, dir) < 0) ||
	    (tar && capstan_bundle_write_tar(c->ctx, b, tar) < 0) || capstan_bundle_keep_password(c->ctx, b) < 0) {
		rc = cli_fail(c);
	} else {
		for (size_t i = 0; i < capstan_bundle_warning_count(b); i++)
			fprintf(stderr, "capstan: warning: %s\n", capstan_bundle_warning(b, i));
	}
	if (rc == 0 && kept)
		*kept = b, b = NULL;
	capstan_bundle_free(b);
	return rc;
}

int cmd_bundle(cli *c, int argc, char **argv)
{
	const char *env = NULL, *service = NULL, *out = NULL, *tar = NULL, *prefix = NULL, *password_file = NULL;
	const char *host = NULL, *owner = NULL, *group = NULL;
	int keystores = 0, new_password = 0;
	const cli_opt opts[] = {
		{ "env", OPT_VALUE, &env }, { "service", OPT_VALUE, &service }, { "out", OPT_VALUE, &out },
		{ "tar", OPT_VALUE, &tar }, { "prefix", OPT_VALUE, &prefix },
		{ "password-file", OPT_VALUE, &password_file }, { "keystores", OPT_FLAG, &keystores },
		{ "host", OPT_VALUE, &host }, { "owner", OPT_VALUE, &owner }, { "group", OPT_VALUE, &group },
		{ "new-password", OPT_FLAG, &new_password },
		{ NULL, 0, NULL },
	};
	capstan_bundle_opts o = CAPSTAN_BUNDLE_OPTS_INIT;
	capstan_secret password = CAPSTAN_SECRET_INIT;
	capstan_bundle *b = NULL;
	char *dir = NULL;
	int rc;

	if ((rc = cli_parse(c, argc, argv, opts, NULL, 0, NULL)) != 0)
		return rc;
	if (!env || !service)
		return cli_usage_error(c, "--env and --service are required");
	if (!out && !tar)
		return cli_usage_error(c, "--out DIR or --tar FILE is required");
	if ((out && !*out) || (tar && !*tar) || (prefix && !*prefix))
		return cli_usage_error(c, "%s is empty: it needs a path", out && !*out ? "--out" : tar && !*tar ? "--tar" : "--prefix");
	if (new_password && password_file)
		return cli_usage_error(c, "--new-password makes a password: it does not go with --password-file");
	if (out && !(dir = cli_absolute_path(out)))
		return cli_error(c, "cannot resolve '%s'", out);
	if (!prefix && !dir) {
		rc = cli_usage_error(c, "--tar needs --prefix: where the bundle will be installed, for the paths in its configs");
		goto done;
	}
	if ((rc = cli_check_bundle_path(c, prefix ? "--prefix" : "--out", prefix ? prefix : dir)) != 0)
		goto done;
	if ((rc = cli_setup(c)) != 0 || (rc = cli_store_password(c, password_file, &password)) != 0)
		goto done;
	o.env = env, o.service = service, o.host = host, o.dir = prefix ? prefix : dir;
	o.templates_dir = cli_templates_dir(c);
	o.password = password.data ? &password : NULL;
	o.new_password = new_password, o.keystores = keystores, o.owner = owner, o.group = group;
	rc = cli_write_bundle(c, &o, dir, tar, &b);
	if (rc == 0)
		rc = out_bundle(c, env, service, out ? dir : tar, capstan_bundle_count(b));
done:
	capstan_bundle_free(b);
	capstan_secret_free(&password);
	free(dir);
	return rc;
}
