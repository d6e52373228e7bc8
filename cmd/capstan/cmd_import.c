/* capstan import: an existing CA adopted as a new environment. */
#include <string.h>

#include <jansson.h>

#include "cli.h"

typedef struct {
	const char *env, *easy_rsa, *openssl_ca, *ca_cert, *ca_key, *chain, *password_file, *key, *ca_days, *days;
} import_args;

static int check_args(cli *c, const import_args *a, capstan_import_opts *o)
{
	const char *why = NULL;
	int rc;

	if (!a->env)
		return cli_usage_error(c, "--env is required");
	if (capstan_check_identifier(a->env, &why) < 0)
		return cli_usage_error(c, "invalid --env '%s': %s", a->env, why);
	if (a->easy_rsa && a->openssl_ca)
		return cli_usage_error(c, "give one of --easy-rsa and --openssl-ca");
	if ((a->easy_rsa || a->openssl_ca) && (a->ca_cert || a->ca_key || a->chain))
		return cli_usage_error(c,
			"--%s takes the CA from the directory: leave out --ca-cert, --ca-key and --chain",
			a->easy_rsa ? "easy-rsa" : "openssl-ca");
	if (!a->easy_rsa && !a->openssl_ca && (!a->ca_cert || !a->ca_key))
		return cli_usage_error(c, "--ca-cert and --ca-key are required (or --easy-rsa DIR, --openssl-ca DIR)");
	if ((a->key && (rc = cli_key_type(c, "--key", a->key, &o->key)) != 0) ||
	    (a->ca_days && (rc = cli_duration(c, "--ca-days", a->ca_days, &o->ca_lifetime)) != 0) ||
	    (a->days && (rc = cli_duration(c, "--days", a->days, &o->leaf_lifetime)) != 0))
		return rc;
	o->env = a->env;
	o->easy_rsa = a->easy_rsa;
	o->openssl_ca = a->openssl_ca;
	return 0;
}

/* --json's counts: what came with a directory (easy-rsa, openssl ca), zero
 * for a CA imported alone, and the number the imported CA's next CRL takes. */
static json_t *import_counts(const capstan_import_result *r)
{
	return json_pack("{s:{s:I, s:I, s:I, s:I, s:I}, s:I}", "certificates",
		"imported", (json_int_t)r->leaves, "valid", (json_int_t)(r->leaves - r->revoked - r->expired),
		"revoked", (json_int_t)r->revoked, "expired", (json_int_t)r->expired,
		"keys_sealed", (json_int_t)r->keys, "next_crl_number", (json_int_t)r->crl_number + 1);
}

/* As init says what it made, and for a directory (easy-rsa, openssl ca) what came with it. */
static int out_imported(cli *c, const capstan_import_result *r)
{
	int rc = out_init(c, "imported", r->root, r->intermediate, c->json ? import_counts(r) : NULL);

	if (rc == EXIT_OK && !c->json && !c->quiet && (r->leaves || r->crl_number))
		printf("  certificates     %zu (%zu revoked, %zu expired, %zu with their key); last CRL number %lld\n",
			r->leaves, r->revoked, r->expired, r->keys, (long long)r->crl_number);
	return rc;
}

int cmd_import(cli *c, int argc, char **argv)
{
	import_args a = { 0 };
	const cli_opt opts[] = {
		{ "env", OPT_VALUE, &a.env }, { "ca-cert", OPT_VALUE, &a.ca_cert }, { "ca-key", OPT_VALUE, &a.ca_key },
		{ "chain", OPT_VALUE, &a.chain }, { "easy-rsa", OPT_VALUE, &a.easy_rsa },
		{ "openssl-ca", OPT_VALUE, &a.openssl_ca },
		{ "ca-key-password-file", OPT_VALUE, &a.password_file },
		{ "key", OPT_VALUE, &a.key }, { "ca-days", OPT_VALUE, &a.ca_days }, { "days", OPT_VALUE, &a.days },
		{ NULL, 0, NULL },
	};
	capstan_import_opts o = CAPSTAN_IMPORT_OPTS_INIT;
	capstan_buf files[3] = { CAPSTAN_BUF_INIT, CAPSTAN_BUF_INIT, CAPSTAN_BUF_INIT };
	capstan_secret pw = CAPSTAN_SECRET_INIT;
	capstan_import_result r = { 0 };
	int rc;

	if ((rc = cli_parse(c, argc, argv, opts, NULL, 0, NULL)) != 0 || (rc = check_args(c, &a, &o)) != 0)
		return rc;
	/* The CA key is read into memory: protect first. */
	if ((rc = cli_protected(c)) != 0 || (rc = cli_setup(c)) != 0)
		return rc;
	if (a.password_file && capstan_secret_from_file(&pw, c->ctx, a.password_file) < 0) {
		rc = cli_error(c, "--ca-key-password-file: %s", capstan_error_message(c->ctx));
		goto done;
	}
	if ((rc = cli_read_input(c, "--ca-cert", a.ca_cert, &files[0], &o.ca_cert)) != 0 ||
	    (rc = cli_read_input(c, "--ca-key", a.ca_key, &files[1], &o.ca_key)) != 0 ||
	    (rc = cli_read_input(c, "--chain", a.chain, &files[2], &o.chain)) != 0)
		goto done;
	o.key_password = pw.data ? &pw : NULL;
	/* The CA key's password is this command's own option, not convert's. */
	if (capstan_import_ca(&r, c->ctx, &o) < 0)
		rc = capstan_error_subject(c->ctx) & CAPSTAN_FIELD_INPUT_PASSWORD ?
			cli_error(c, "%s (--ca-key-password-file)", capstan_error_message(c->ctx)) : cli_fail(c);
	else
		rc = out_imported(c, &r);
done:
	capstan_import_result_clear(&r);
	for (int i = 0; i < 3; i++)
		capstan_buf_free(&files[i]);
	capstan_secret_free(&pw);
	return rc;
}
