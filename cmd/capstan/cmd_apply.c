/* capstan apply: make the inventory what the configuration describes. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

char *cli_config_path(cli *c, const char *home)
{
	const char *env = getenv("CAPSTAN_CONFIG");
	size_t n = strlen(home) + sizeof("/capstan.yaml");
	char *path;

	if (c->config)
		return strdup(c->config);
	if (env && *env)
		return strdup(env);
	if ((path = malloc(n)))
		snprintf(path, n, "%s/capstan.yaml", home);
	if (path && access(path, R_OK) != 0) {
		free(path);
		path = NULL;
	}
	return path;
}

const char *cli_templates_dir(cli *c)
{
	const char *env = getenv("CAPSTAN_TEMPLATES");

	return c->templates ? c->templates : env && *env ? env : NULL;
}

static int apply_sink(const capstan_apply_step *step, void *payload)
{
	return out_apply_step(payload, step);
}

/* A dry run against a home that does not exist plans against an empty
 * inventory in a throwaway directory: nothing is created where asked. */
static int open_for_dry_run(cli *c, const char *home)
{
	size_t n = strlen(home) + sizeof("/capstan.db");
	char *db = malloc(n), *inventory = NULL;
	int exists, rc;

	if (!db)
		return cli_error(c, "out of memory");
	/* An inventory named apart from the home is planned against as it is,
	 * when it is there (a database without the schema is none yet). */
	if ((rc = cli_inventory(c, home, &inventory)) != 0) {
		free(db);
		return rc;
	}
	snprintf(db, n, "%s/capstan.db", home);
	if (inventory) {
		exists = capstan_ctx_set_inventory(c->ctx, inventory) == 0 &&
			capstan_home_open(c->ctx, home, CAPSTAN_OPEN_EXISTING) == 0;
		free(inventory);
		free(db);
		if (exists)
			return (c->home = strdup(home)) ? 0 : cli_error(c, "out of memory");
		if (capstan_error_last(c->ctx) != CAPSTAN_ENOTFOUND)
			return cli_fail(c);
	} else {
		exists = access(db, F_OK) == 0;
		free(db);
	}
	if (exists)
		return cli_open_home(c, home, 0);
	/* main removes it once the inventory is closed. */
	snprintf(c->scratch, sizeof(c->scratch), "/tmp/capstan-dry-run-XXXXXX");
	if (!mkdtemp(c->scratch)) {
		c->scratch[0] = '\0';
		return cli_error(c, "cannot make a scratch directory for the dry run");
	}
	return cli_open_home(c, c->scratch, 1);
}

int cmd_apply(cli *c, int argc, char **argv)
{
	const char *env = NULL;
	int dry_run = 0, prune = 0;
	const cli_opt opts[] = {
		{ "env", OPT_VALUE, &env },
		{ "dry-run", OPT_FLAG, &dry_run },
		{ "prune", OPT_FLAG, &prune },
		{ NULL, 0, NULL },
	};
	capstan_apply_opts o = CAPSTAN_APPLY_OPTS_INIT;
	capstan_config *config = NULL;
	char *home = NULL, *path = NULL;
	out_apply *out = NULL;
	size_t changes = 0;
	int rc;

	if ((rc = cli_parse(c, argc, argv, opts, NULL, 0, NULL)) != 0)
		return rc;
	if ((rc = cli_home_path(c, &home)) != 0)
		return rc;
	if (!(path = cli_config_path(c, home))) {
		rc = cli_usage_error(c, "no configuration: give --config FILE (or set CAPSTAN_CONFIG)");
		goto done;
	}
	/* The whole file is validated before the inventory is touched. */
	if (capstan_config_load(&config, c->ctx, path) < 0) {
		rc = cli_fail(c);
		goto done;
	}
	if ((rc = dry_run ? open_for_dry_run(c, home) : cli_open_home(c, home, 1)) != 0 ||
	    (!dry_run && (rc = cli_unlock(c)) != 0))
		goto done;
	o.env = env;
	o.dry_run = dry_run;
	o.prune = prune;
	o.templates_dir = cli_templates_dir(c);
	if (!(out = out_apply_begin(c, dry_run))) {
		rc = cli_error(c, "out of memory");
		goto done;
	}
	if (capstan_apply(&changes, c->ctx, config, &o, apply_sink, out) < 0) {
		rc = cli_fail(c);
		/* No summary: "nothing to change" beside an error would be a lie. */
		out_apply_end(out, 0, NULL);
	} else {
		rc = out_apply_end(out, changes, path);
	}
done:
	capstan_config_free(config);
	free(path);
	free(home);
	return rc;
}
