/* capstan: the command-line tool. One dispatch table; setup (opening the
 * inventory, unlocking keys) happens here once, as each command's flags ask. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"

static const cli_command commands[] = {
	{ "init", cmd_init, NEEDS_NEW_HOME | NEEDS_PASSPHRASE,
	  "init --env ENV [--org ORG] [--key TYPE] [--root-days N] [--ca-days N] [--days N] [--hsm URI]" },
	{ "import", cmd_import, NEEDS_NEW_HOME | NEEDS_PASSPHRASE,
	  "import --env ENV (--ca-cert FILE --ca-key FILE [--chain FILE] | --easy-rsa PKI_DIR | --openssl-ca DIR)"
	  " [--ca-key-password-file PF] [--key TYPE] [--ca-days N] [--days N]" },
	{ "issue", cmd_issue, NEEDS_HOME | NEEDS_PASSPHRASE,
	  "issue --env ENV --profile P --cn CN [--name NAME] [--dns D]... [--ip A]... [--uri U]..."
	  " [--email E]... [--days N] [--renew-before DUR] [--key TYPE] [--service S] [--csr FILE]"
	  " [--replace] | issue --batch FILE" },
	{ "list", cmd_list, NEEDS_HOME,
	  "list [--env ENV] [--service S] [--status valid|revoked|expired|superseded|all]"
	  " [--expiring-within DUR] [--ca]" },
	{ "show", cmd_show, NEEDS_HOME, "show REF [--env ENV] [--pem]" },
	{ "trust", cmd_trust, NEEDS_HOME, "trust --env ENV --out FILE" },
	{ "export", cmd_export, NEEDS_HOME,
	  "export REF [--env ENV] --format F --out FILE [--password-file PF] [--legacy] [--alias A] [--ca-key]"
	  " (F: cert chain key pkcs8-enc der pkcs12 truststore jks jks-truststore pem)" },
	{ "convert", cmd_convert, 0,
	  "convert --in FILE [--key FILE] [--chain FILE] [--password-file PF] [--in-password-file PF]"
	  " --to F --out FILE [--legacy] [--alias A]" },
	{ "renew", cmd_renew, NEEDS_HOME | NEEDS_PASSPHRASE,
	  "renew REF [--env ENV] [--days N] | renew --due [--env ENV] [--within DUR] [--from-old-ca]"
	  " [--dry-run] [--bundle-dir DIR [--exec CMD [--exec-timeout DUR]] [--prefix DIR] [--password-file PF]]" },
	{ "rotate", cmd_rotate, NEEDS_HOME | NEEDS_PASSPHRASE,
	  "rotate REF [--env ENV] [--days N] | rotate --env ENV --intermediate|--root [--key TYPE]"
	  " [--root-days N] [--ca-days N]" },
	{ "revoke", cmd_revoke, NEEDS_HOME | NEEDS_PASSPHRASE,
	  "revoke REF [--env ENV] [--reason unspecified|keyCompromise|affiliationChanged|superseded"
	  "|cessationOfOperation]" },
	{ "crl", cmd_crl, NEEDS_HOME | NEEDS_PASSPHRASE, "crl --env ENV --out FILE [--der | --all] [--next-update DUR]" },
	{ "verify", cmd_verify, NEEDS_HOME, "verify FILE --env ENV" },
	{ "lint", cmd_lint, 0, "lint FILE..." },
	{ "metrics", cmd_metrics, NEEDS_HOME, "metrics --out FILE" },
	{ "audit", cmd_audit, NEEDS_HOME,
	  "audit [--verify [--anchor FILE]] | audit --anchor [--append FILE] [--syslog] | audit --reseal" },
	{ "check", cmd_check, NEEDS_HOME, "check [--keys]" },
	{ "apply", cmd_apply, 0, "apply [--config FILE] [--env ENV] [--dry-run] [--prune]" },
	{ "bundle", cmd_bundle, NEEDS_HOME | NEEDS_PASSPHRASE,
	  "bundle --env ENV --service S [--host H] (--out DIR | --tar FILE) [--owner U] [--group G] [--prefix DIR]"
	  " [--password-file PF | --new-password] [--keystores]" },
	{ "passphrase", cmd_passphrase, NEEDS_HOME | NEEDS_PASSPHRASE, "passphrase --new-passphrase-file FILE" },
	{ "migrate", cmd_migrate, NEEDS_HOME | NEEDS_PASSPHRASE, "migrate --to URL" },
	{ "backup", cmd_backup, NEEDS_HOME | NEEDS_PASSPHRASE, "backup --out FILE" },
	{ "restore", cmd_restore, 0, "restore --from FILE" },
	{ "serve", cmd_serve, NEEDS_HOME | NEEDS_PASSPHRASE,
	  "serve [--config FILE] [--listen ADDR:PORT] [--http ADDR:PORT] [--workers N]" },
	{ "fetch", cmd_fetch, 0,
	  "fetch --server URL --cert FILE --key FILE --ca FILE --env ENV --service S [--host H] --out DIR"
	  " [--prefix DIR] [--keystores] [--exec CMD]"
	  " | fetch --server URL --cert FILE --key FILE --ca FILE --renew [--within DUR]" },
	{ "completion", cmd_completion, HIDDEN, "completion bash" },
};

#define COMMAND_COUNT (sizeof(commands) / sizeof(commands[0]))

const cli_command *cli_commands(size_t *count)
{
	*count = COMMAND_COUNT;
	return commands;
}

static void print_help(FILE *out)
{
	fputs("usage: capstan [--home DIR] [--inventory URL] [--json] [-q] [--passphrase-file FILE] COMMAND [ARGS]\n\n"
	      "commands:\n", out);
	for (size_t i = 0; i < COMMAND_COUNT; i++)
		if (!(commands[i].needs & HIDDEN))
			fprintf(out, "  capstan %s\n", commands[i].usage);
	fputs("\nThe passphrase that protects keys at rest comes from --passphrase-file,\n"
	      "$CAPSTAN_PASSPHRASE, or a prompt; never from an argument. See capstan(1).\n", out);
}

/* A dry run's throwaway inventory, removed after it was closed. */
static void remove_scratch(const char *dir)
{
	static const char *const files[] = { "capstan.db", "capstan.db-wal", "capstan.db-shm" };
	char path[128];

	for (size_t i = 0; i < 3; i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, files[i]);
		unlink(path);
	}
	rmdir(dir);
}

static const cli_command *find_command(const char *name)
{
	for (size_t i = 0; i < COMMAND_COUNT; i++)
		if (strcmp(commands[i].name, name) == 0)
			return &commands[i];
	return NULL;
}

/* capstan help [COMMAND]: the summary, or one command's usage. */
static int help_command(const char *name)
{
	const cli_command *cmd = name ? find_command(name) : NULL;

	if (name && !cmd)
		return cli_usage_error(NULL, "unknown command '%s' (see 'capstan help')", name);
	if (cmd)
		usage_print(stdout, cmd);
	else
		print_help(stdout);
	return EXIT_OK;
}

/* The command word is the first argument that is neither a global option nor
 * the value of one. Only global options may stand before it: anything else
 * there is reported at once, so its value is never taken for a command. */
static int find_command_word(int argc, char **argv, int *word)
{
	static const char *const flags[] = { "--json", "--quiet", "-q", "--help", "-h", "--version" };
	usage_opt global[16];
	size_t count = usage_options(CLI_GLOBAL_USAGE, global, 16);

	*word = -1;
	for (int i = 1; i < argc; i++) {
		const char *arg = argv[i];
		int known = 0;
		if (arg[0] != '-') {
			*word = i;
			return 0;
		}
		for (size_t j = 0; j < count; j++) {
			size_t n = global[j].name_len;
			if (!global[j].metavar || strncmp(arg, "--", 2) != 0 || strncmp(arg + 2, global[j].name, n) != 0)
				continue;
			if (arg[2 + n] == '\0')
				known = 1, i++;
			else if (arg[2 + n] == '=')
				known = 1;
		}
		for (size_t j = 0; j < sizeof(flags) / sizeof(flags[0]); j++)
			known |= strcmp(arg, flags[j]) == 0;
		if (!known)
			return cli_usage_error(NULL, "unknown option '%s' (global options: --home, --inventory, --config,"
				" --templates, --json, -q, --passphrase-file)", arg);
	}
	return 0;
}

int cli_home_path(cli *c, char **out)
{
	if (c->home_opt)
		return (*out = strdup(c->home_opt)) ? EXIT_OK : cli_error(c, "out of memory");
	return capstan_home_default(out, c->ctx) < 0 ? cli_fail(c) : EXIT_OK;
}

int cli_inventory(cli *c, const char *home, char **out)
{
	const char *env = getenv("CAPSTAN_INVENTORY");
	char *config;
	int rc;

	*out = NULL;
	if (c->inventory_opt || (env && *env))
		return (*out = strdup(c->inventory_opt ? c->inventory_opt : env)) ? 0 : cli_error(c, "out of memory");
	if (!(config = cli_config_path(c, home)))
		return 0;
	rc = capstan_config_inventory(out, c->ctx, config);
	free(config);
	return rc < 0 ? cli_fail(c) : 0;
}

int cli_open_home(cli *c, const char *home, int create)
{
	free(c->home);
	if (!(c->home = strdup(home)))
		return cli_error(c, "out of memory");
	char *inventory = NULL;
	int rc;

	/* A dry run's scratch home plans against an empty inventory of its own. */
	if (!c->scratch[0] && (rc = cli_inventory(c, home, &inventory)) != 0)
		return rc;
	rc = capstan_ctx_set_inventory(c->ctx, inventory);
	free(inventory);
	if (rc < 0)
		return cli_fail(c);
	if (capstan_home_open(c->ctx, c->home, create ? CAPSTAN_OPEN_CREATE : CAPSTAN_OPEN_EXISTING) < 0) {
		if (!create && capstan_error_last(c->ctx) == CAPSTAN_ENOTFOUND)
			return cli_error(c, "%s (create one with 'capstan init --env ENV')", capstan_error_message(c->ctx));
		return cli_fail(c);
	}
	for (size_t i = 0; i < capstan_home_warning_count(c->ctx); i++)
		fprintf(stderr, "capstan: warning: %s\n", capstan_home_warning(c->ctx, i));
	return 0;
}

/* Opens the home and unlocks the keys as the command's flags ask. */
static int setup(cli *c)
{
	unsigned needs = c->command->needs;
	char *home;
	int rc;

	if (!(needs & (NEEDS_HOME | NEEDS_NEW_HOME)))
		return 0;
	if ((rc = cli_home_path(c, &home)) != 0)
		return rc;
	/* Before the home is created, not after: a refused passphrase leaves nothing behind. */
	if ((needs & NEEDS_NEW_HOME) && (needs & NEEDS_PASSPHRASE) && (rc = cli_check_new_passphrase(c, home)) != 0) {
		free(home);
		return rc;
	}
	rc = cli_open_home(c, home, (needs & NEEDS_NEW_HOME) != 0);
	free(home);
	if (rc == 0 && (needs & NEEDS_PASSPHRASE))
		rc = cli_unlock(c);
	if (rc == 0)
		rc = cli_pkcs11_setup(c);
	return rc;
}

/* The command line: the command word found, its help or its run. An exit code. */
static int run(cli *c, int argc, char **argv)
{
	char **args;
	int word, rc, nargs = 0;

	if ((rc = find_command_word(argc, argv, &word)) != 0)
		return rc;
	if (word < 0) {
		for (int i = 1; i < argc; i++) {
			if (strcmp(argv[i], "--version") == 0) {
				printf("capstan %s\n", CAPSTAN_VERSION);
				return EXIT_OK;
			}
			if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
				print_help(stdout);
				return EXIT_OK;
			}
		}
		print_help(stderr);
		return EXIT_USAGE;
	}
	if (strcmp(argv[word], "help") == 0)
		return help_command(word + 1 < argc ? argv[word + 1] : NULL);
	if (!(c->command = find_command(argv[word])))
		return cli_usage_error(NULL, "unknown command '%s' (see 'capstan help')", argv[word]);
	/* Before anything is opened: help needs no home and no passphrase. */
	if (usage_asks_help(c->command, argc, argv, word)) {
		usage_print(stdout, c->command);
		return EXIT_OK;
	}
	if (capstan_ctx_new(&c->ctx) < 0)
		return cli_error(c, "cannot initialise the library");
	/* Global options may stand before the command word: hand them on too. */
	args = calloc((size_t)argc, sizeof(*args));
	if (!args)
		return cli_error(c, "out of memory");
	for (int i = 1; i < argc; i++)
		if (i != word)
			args[nargs++] = argv[i];
	rc = c->command->run(c, nargs, args);
	capstan_secret_free(&c->early_pass);
	capstan_ctx_free(c->ctx);
	if (c->scratch[0])
		remove_scratch(c->scratch);
	free(c->home);
	free(args);
	return rc;
}

int main(int argc, char **argv)
{
	cli c = { 0 };
	int rc;

	umask(077);
	/* First thing, before any secret is read: a failure is reported by
	 * cli_protected() only when this run will hold keys. */
	if (capstan_protect_process() < 0)
		c.unprotected = errno ? errno : EPERM;
	/* Then the secrets leave the environment, whatever the command: none
	 * may reach a hook or outlive its use in /proc/PID/environ. */
	if ((rc = cli_take_env_secrets(&c)) == 0)
		rc = run(&c, argc, argv);
	cli_free_env_secrets(&c);
	return rc;
}

int cli_setup(cli *c)
{
	return setup(c);
}
