/* The capstan command-line tool: shared state, option tables, output helpers. */
#ifndef CAPSTAN_CLI_H
#define CAPSTAN_CLI_H

#include <stdio.h>

#include <capstan/capstan.h>

/* Exit codes of the contract. */
#define EXIT_OK 0
#define EXIT_FAILED 1
#define EXIT_USAGE 2

/* A repeatable option's values. */
typedef struct {
	const char **items;
	size_t count;
} cli_list;

typedef enum { OPT_FLAG, OPT_VALUE, OPT_LIST } cli_opt_kind;

/* One option of a command: --name, what it takes, where it goes. */
typedef struct {
	const char *name;
	cli_opt_kind kind;
	void *dest; /* int* for OPT_FLAG, const char** for OPT_VALUE, cli_list* for OPT_LIST */
} cli_opt;

typedef struct cli cli;

/* A subcommand: its name, what it needs opened, and its function. */
typedef struct {
	const char *name;
	int (*run)(cli *c, int argc, char **argv);
	unsigned needs;
	const char *usage;
} cli_command;

#define NEEDS_HOME       1u /* open the inventory (it must exist) */
#define NEEDS_NEW_HOME   2u /* open the inventory, creating it if missing */
#define NEEDS_PASSPHRASE 4u /* unlock the keys before running */
#define HIDDEN           8u /* not in capstan --help (completion bash) */

/* The global options, accepted before or after the command word. */
#define CLI_GLOBAL_USAGE \
	"[--home DIR] [--inventory URL] [--config FILE] [--templates DIR] [--passphrase-file FILE] [--json] [-q|--quiet]"

/* The command table (main.c), hidden commands included. */
const cli_command *cli_commands(size_t *count);

/* Usage strings as data (usage.c). One option a usage names: "--name" or
 * "--name METAVAR" (metavar NULL for a flag); pointers into the usage. */
typedef struct {
	const char *name;
	size_t name_len;
	const char *metavar;
	size_t metavar_len;
} usage_opt;
/* The options USAGE names, each once, in order (at most max); the count. */
size_t usage_options(const char *usage, usage_opt *out, size_t max);
/* The argument before any option in USAGE ("REF", "FILE", "bash"), or NULL. */
const char *usage_positional(const char *usage, size_t *len);
/* True when argv asks for help (--help or -h, not as an option's value and
 * not after "--"); argv[skip] is the command word. */
int usage_asks_help(const cli_command *cmd, int argc, char **argv, int skip);
/* usage: capstan COMMAND ..., one line per form, then the global options. */
void usage_print(FILE *out, const cli_command *cmd);

struct cli {
	capstan_ctx *ctx;
	const cli_command *command;
	const char *home_opt; /* --home as given */
	const char *inventory_opt; /* --inventory as given */
	char *home;           /* the home in use */
	const char *config;   /* --config as given */
	const char *templates;/* --templates as given */
	char scratch[64];     /* a throwaway home to remove at exit (apply --dry-run) */
	const char *passphrase_file;
	/* $CAPSTAN_PASSPHRASE and $CAPSTAN_STORE_PASSWORD, taken out of the
	 * environment first thing (cli_take_env_secrets), used only by commands
	 * that need them; freed (wiped) at exit. */
	capstan_secret env_passphrase;
	capstan_secret env_store_password;
	capstan_secret env_pkcs11_pin;  /* $CAPSTAN_PKCS11_PIN, taken the same way */
	capstan_secret early_pass; /* read before a new home is created (cli_check_new_passphrase) */
	int unprotected;      /* errno of a failed capstan_protect_process(); 0 when it held */
	int json;
	int quiet;
};

/*
 * Parses argv (the command's arguments, global options allowed anywhere) with
 * the command's option table. Positional arguments are returned in positional
 * (at most max_positional). Prints a usage error and returns EXIT_USAGE, or 0.
 */
int cli_parse(cli *c, int argc, char **argv, const cli_opt *opts,
	const char **positional, size_t max_positional, size_t *npositional);

/* cli_parse for commands that take exactly one certificate REF (name or serial). */
int cli_parse_ref(cli *c, int argc, char **argv, const cli_opt *opts, const char **ref);

/* After a command parsed its options: opens the home and unlocks the keys as
 * the command's flags ask. Returns an exit code (0 when all is ready). */
int cli_setup(cli *c);

/* The home: --home, else $CAPSTAN_HOME, else under $HOME (*out: caller
 * frees). An exit code: no usable HOME is refused. */
int cli_home_path(cli *c, char **out);
/* Opens HOME (creating it when asked). An exit code. */
int cli_open_home(cli *c, const char *home, int create);
/* The inventory's database when it is not the home's capstan.db: --inventory,
 * else $CAPSTAN_INVENTORY, else the configuration's inventory: (*out NULL:
 * the home's; else the caller's). An exit code. */
int cli_inventory(cli *c, const char *home, char **out);

/* Prints "capstan: <message>" and returns EXIT_USAGE. */
int cli_usage_error(cli *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The one wording for a missing --out, for every command that writes a file. */
#define CLI_OUT_REQUIRED "--out is required (a file, or - for standard output)"
/* Prints "capstan: <library message>", with the options that supply what it
 * is about (capstan_error_subject: " (--dns or --ip)"), and returns EXIT_FAILED. */
int cli_fail(cli *c);
/* That hint alone, "" when the subject is none of the CLI's (code: the error's). */
void cli_subject_hint(unsigned subject, int code, char *out, size_t size);
/* Prints "capstan: <message>" and returns EXIT_FAILED. */
int cli_error(cli *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Reads the file PATH given with OPTION (nothing when PATH is NULL) into buf,
 * with in naming it; an exit code, the error printed. */
int cli_read_input(cli *c, const char *option, const char *path, capstan_buf *buf, capstan_input *in);

/* Hands $CAPSTAN_PKCS11_MODULE and $CAPSTAN_PKCS11_PIN to the context (token keys). */
int cli_pkcs11_setup(cli *c);
/* Reads the passphrase (file, $CAPSTAN_PASSPHRASE, prompt) and unlocks;
 * refused (cli_protected) when core dumps could not be turned off. */
int cli_unlock(cli *c);
/* The passphrase alone, from where cli_unlock takes it (is_new: a prompt asks
 * twice); *pass is the caller's: capstan_secret_free(). An exit code. */
int cli_read_passphrase(cli *c, capstan_secret *pass, int is_new);
/* Before a command that may create the home opens it: a passphrase given by
 * file or environment is read and checked now, so a refused one leaves no
 * empty inventory behind; cli_unlock then uses it. An exit code, or 0. */
int cli_check_new_passphrase(cli *c, const char *home);
/* Before keys are in memory: an error when main's capstan_protect_process()
 * failed, so no passphrase or key goes where a core dump could take it. */
int cli_protected(cli *c);
/* A store password from FILE (first line) or $CAPSTAN_STORE_PASSWORD (as
 * main took it). 0 with out->data NULL when neither is given. */
int cli_store_password(cli *c, const char *file, capstan_secret *out);
/* Every environment variable that holds a secret, NULL-terminated: none may
 * reach a process capstan starts. */
extern const char *const cli_secret_env[];
/* First thing in main, whatever the command: each secret variable copied
 * into c (the two capstan reads), its value wiped in place (so that
 * /proc/PID/environ no longer shows it) and unset. An exit code. */
int cli_take_env_secrets(cli *c);
/* The copies' wipe, at exit. */
void cli_free_env_secrets(cli *c);

/* Checked option values: each prints a usage error naming the option. */
int cli_duration(cli *c, const char *option, const char *value, int64_t *out);
int cli_key_type(cli *c, const char *option, const char *value, capstan_key_type *out);
/* Each value a SAN of TYPE (capstan_check_san, as the issuer checks it). */
int cli_san_values(cli *c, const char *option, const cli_list *values, capstan_san_type type);

/* issue --batch's input (batch_input.c): JSON lines, every one checked first. */
typedef struct batch_input batch_input;
int batch_input_read(cli *c, const char *file, batch_input **out);
void batch_input_free(batch_input *in);
size_t batch_input_count(const batch_input *in);
const capstan_issue_opts *batch_input_requests(const batch_input *in);
size_t batch_input_line(const batch_input *in, size_t i);
/* A line's fields that an error's subject names: " (field dns or ip)", or "". */
void batch_input_hint(unsigned subject, char *out, size_t size);

/* renew --due's redeployment (redeploy.c). */
/* Delivers (or, dry, lists) what the deploy ledger owes; redeploy.c. */
int redeploy_owed(cli *c, const capstan_deploy_opts *o, const char *cmd, int64_t timeout);
/* Runs a reload hook (sh -c CMD) with what was delivered in CAPSTAN_ENV,
 * CAPSTAN_SERVICE, CAPSTAN_HOST, CAPSTAN_BUNDLE, CAPSTAN_RENEWED and
 * CAPSTAN_REASON, no secret variable, killed after timeout seconds. 0, or -1
 * with why it failed in why. (renew --due and fetch.) */
int cli_run_hook(const char *cmd, int64_t timeout, const capstan_deploy_item *it, char *why, size_t size);

/* Output (output.c): text, or one JSON document with --json. */
struct json_t;
/* Prints one JSON document (jansson's) and frees it. An exit code. */
int out_print_doc(cli *c, struct json_t *doc);
/* migrate, backup, restore (output_copy.c): verb ("migrated to") and where. */
int out_copied(cli *c, const char *verb, const char *where, const capstan_copy_summary *s);
/* verb: "initialized", "imported"; extra (may be NULL, taken): more keys for --json's document. */
int out_init(cli *c, const char *verb, const capstan_cert *root, const capstan_cert *intermediate,
	struct json_t *extra);
int out_issued(cli *c, const capstan_cert *cert, int64_t requested_lifetime);
int out_show(cli *c, const capstan_cert *cert);
/* A file written: path, what it holds (e.g. "chain"), the certificate or NULL. */
int out_written(cli *c, const char *path, const char *what, const capstan_cert *cert);

/* Lifecycle. */
int out_reissued(cli *c, const capstan_cert *old, const capstan_cert *cert);
/* Look REF up, renew or rotate it, print the outcome (cmd_renew.c). */
typedef int (*cli_reissue_fn)(capstan_cert **out, capstan_ctx *ctx, const capstan_cert *cert, int64_t lifetime);
int cli_reissue(cli *c, const char *ref, const char *env, int64_t lifetime, cli_reissue_fn reissue);
/* r: the other certificates of the key, revoked too or (a note) not. */
int out_revoked(cli *c, const capstan_cert *cert, const char *reason, const capstan_revocation *r);
int out_ca_rotated(cli *c, const capstan_cert *root, const capstan_cert *intermediate);
int out_verified(cli *c, const char *file, const capstan_cert *cert);
int out_audit_verified(cli *c, const capstan_audit_report *r, const char *anchor_file);
int out_audit_anchor(cli *c, const capstan_audit_report *r, const char *line);
int out_audit_resealed(cli *c);
/* passphrase: the home whose passphrase changed. */
int out_passphrase_changed(cli *c, const char *home);
/* apply: one call per step, then the summary. */
typedef struct out_apply out_apply;
out_apply *out_apply_begin(cli *c, int dry_run);
int out_apply_step(out_apply *o, const capstan_apply_step *step);
/* config NULL: apply failed; nothing more is printed. Frees o. */
int out_apply_end(out_apply *o, size_t changes, const char *config);
int out_bundle(cli *c, const char *env, const char *service, const char *where, size_t files);
/* fetch --renew: the identity certificate file replaced by a renewed one. */
int out_identity_renewed(cli *c, const char *cert_file, const char *serial, int64_t not_after);
/* issue --batch: a line per certificate issued (a JSON array with --json). */
void out_batch_begin(cli *c);
int out_batch_item(cli *c, const capstan_cert *cert, size_t line);
void out_batch_end(cli *c, size_t count);
/* renew --due: one call per result, then the end (which prints the JSON document). */
typedef struct out_due out_due;
out_due *out_due_begin(cli *c);
int out_due_item(out_due *d, const capstan_due_result *result);
int out_due_end(out_due *d);
void out_root_leaving(cli *c, const capstan_leaving_root *root);

/* check: each problem as it is found (stderr; collected with --json), then
 * the summary (NULL: the check could not run). Frees o; returns the exit code. */
/* lint (output_lint.c): out_lint_file's exit is EXIT_FAILED when the file has an error. */
typedef struct out_lint out_lint;
out_lint *out_lint_begin(cli *c);
int out_lint_file(out_lint *o, const char *file, const capstan_lint_findings *findings);
int out_lint_end(out_lint *o);
typedef struct out_check out_check;
out_check *out_check_begin(cli *c);
int out_check_problem(const capstan_check_problem *problem, void *o);
int out_check_end(out_check *o, const capstan_check_summary *summary);

/* Streams: begin, one call per item, end. Nothing is held in memory. */
void out_list_begin(cli *c);
int out_list_item(cli *c, const capstan_cert *cert, size_t index);
int out_list_end(cli *c, size_t count);
/* list --ca: CAs with their kind; a root says whether it is in the trust
 * bundle and, for an old root on its way out, until when (0: no end). Ends
 * with out_list_end. */
void out_ca_list_begin(cli *c);
int out_ca_list_item(cli *c, const capstan_cert *cert, size_t index, int in_trust, time_t until);
void out_audit_begin(cli *c);
int out_audit_item(cli *c, const capstan_audit_entry *entry, size_t index);
int out_audit_end(cli *c, size_t count);

/* Commands. */
int cmd_init(cli *c, int argc, char **argv);
int cmd_check(cli *c, int argc, char **argv);
int cmd_issue(cli *c, int argc, char **argv);
int cmd_list(cli *c, int argc, char **argv);
int cmd_show(cli *c, int argc, char **argv);
int cmd_trust(cli *c, int argc, char **argv);
int cmd_export(cli *c, int argc, char **argv);
int cmd_audit(cli *c, int argc, char **argv);
int cmd_serve(cli *c, int argc, char **argv);
int cmd_renew(cli *c, int argc, char **argv);
int cmd_rotate(cli *c, int argc, char **argv);
int cmd_revoke(cli *c, int argc, char **argv);
int cmd_crl(cli *c, int argc, char **argv);
int cmd_verify(cli *c, int argc, char **argv);
int cmd_lint(cli *c, int argc, char **argv);
int cmd_metrics(cli *c, int argc, char **argv);
int cmd_convert(cli *c, int argc, char **argv);
int cmd_import(cli *c, int argc, char **argv);
int cmd_apply(cli *c, int argc, char **argv);
int cmd_bundle(cli *c, int argc, char **argv);
int cmd_passphrase(cli *c, int argc, char **argv);
int cmd_migrate(cli *c, int argc, char **argv);
int cmd_backup(cli *c, int argc, char **argv);
int cmd_restore(cli *c, int argc, char **argv);
int cmd_completion(cli *c, int argc, char **argv);
int cmd_fetch(cli *c, int argc, char **argv);

/* The configuration file: --config, $CAPSTAN_CONFIG, else HOME/capstan.yaml
 * when it exists; NULL when none (caller frees). */
char *cli_config_path(cli *c, const char *home);
/* The templates directory: --templates, $CAPSTAN_TEMPLATES, else NULL (built in). */
const char *cli_templates_dir(cli *c);
/* Renders a bundle and writes it into DIR (absolute) and/or TAR, saying what
 * it left out; *kept (may be NULL) gets the bundle. */
int cli_write_bundle(cli *c, const capstan_bundle_opts *o, const char *dir, const char *tar, capstan_bundle **kept);
/* DIR made absolute (its parent need not exist); NULL on failure. */
char *cli_absolute_path(const char *dir);
/* A usage error unless path may be written into configuration files. */
int cli_check_bundle_path(cli *c, const char *option, const char *path);

#endif
