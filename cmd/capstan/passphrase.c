/* Where the passphrase comes from: --passphrase-file, $CAPSTAN_PASSPHRASE, or a
 * no-echo prompt on the terminal. Never from an argument. */
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "cli.h"

static int prompt_line(capstan_ctx *ctx, FILE *tty, const char *prompt, capstan_secret *out)
{
	struct termios saved, quiet;
	char line[1024];
	int rc, restore;

	/* Echo goes off before the prompt appears: text typed as soon as the
	 * prompt shows must never be echoed. */
	restore = tcgetattr(fileno(tty), &saved) == 0;
	if (restore) {
		quiet = saved;
		quiet.c_lflag &= (tcflag_t)~ECHO;
		tcsetattr(fileno(tty), TCSADRAIN, &quiet);
	}
	fputs(prompt, tty);
	fflush(tty);
	if (!fgets(line, sizeof(line), tty))
		line[0] = '\0';
	if (restore)
		tcsetattr(fileno(tty), TCSADRAIN, &saved);
	fputc('\n', tty);
	rc = capstan_secret_set(out, ctx, line, strcspn(line, "\r\n"));
	capstan_wipe(line, sizeof(line));
	return rc;
}

/* Asks on the terminal; twice (confirm) for a passphrase being set. */
static int prompt_passphrase(cli *c, capstan_secret *out, int confirm)
{
	capstan_secret again = CAPSTAN_SECRET_INIT;
	int rc;
	FILE *tty = fopen("/dev/tty", "r+");
	char iobuf[BUFSIZ];

	if (!tty)
		return cli_error(c, "a passphrase is needed: give --passphrase-file FILE or set CAPSTAN_PASSPHRASE");
	setvbuf(tty, iobuf, _IOFBF, sizeof(iobuf)); /* ours, so that it can be wiped */
	rc = prompt_line(c->ctx, tty, confirm ? "New capstan passphrase: " : "capstan passphrase: ", out);
	if (rc == 0 && confirm) {
		rc = prompt_line(c->ctx, tty, "Repeat the passphrase: ", &again);
		if (rc == 0 && (again.len != out->len || memcmp(again.data, out->data, out->len) != 0)) {
			fclose(tty);
			capstan_wipe(iobuf, sizeof(iobuf));
			capstan_secret_free(&again);
			return cli_error(c, "the passphrases do not match");
		}
	}
	fclose(tty);
	capstan_wipe(iobuf, sizeof(iobuf));
	capstan_secret_free(&again);
	return rc < 0 ? cli_fail(c) : 0;
}

extern char **environ;

const char *const cli_secret_env[] = { "CAPSTAN_PASSPHRASE", "CAPSTAN_STORE_PASSWORD", "CAPSTAN_PKCS11_PIN", NULL };

/* Copies a secret variable's value (NULL: not kept), then wipes and unsets
 * it: it reaches neither a hook, nor a core dump's environment, nor
 * /proc/PID/environ. Runs before the library has a context, hence malloc. */
static int take_env_secret(const char *name, capstan_secret *keep)
{
	char *value = getenv(name);
	size_t len = value ? strlen(value) : 0;
	int rc = 0;

	if (!value)
		return 0;
	if (keep && len > 0) {
		if ((keep->data = malloc(len + 1))) {
			memcpy(keep->data, value, len + 1);
			keep->len = len;
		} else {
			rc = -1;
		}
	}
	/* Every entry of that name: an environment may hold one twice, and
	 * getenv sees only the first. */
	for (char **e = environ; *e; e++)
		if (strncmp(*e, name, strlen(name)) == 0 && (*e)[strlen(name)] == '=')
			capstan_wipe(*e + strlen(name) + 1, strlen(*e + strlen(name) + 1));
	unsetenv(name);
	return rc;
}

int cli_take_env_secrets(cli *c)
{
	int rc = take_env_secret("CAPSTAN_PASSPHRASE", &c->env_passphrase);

	rc |= take_env_secret("CAPSTAN_STORE_PASSWORD", &c->env_store_password);
	rc |= take_env_secret("CAPSTAN_PKCS11_PIN", &c->env_pkcs11_pin);
	/* Any further secret variable is wiped and unset, never read. */
	for (size_t i = 3; cli_secret_env[i]; i++)
		rc |= take_env_secret(cli_secret_env[i], NULL);
	if (rc == 0)
		return 0;
	fputs("capstan: out of memory\n", stderr);
	return EXIT_FAILED;
}

void cli_free_env_secrets(cli *c)
{
	capstan_secret_free(&c->env_passphrase);
	capstan_secret_free(&c->env_store_password);
	capstan_secret_free(&c->env_pkcs11_pin);
}

int cli_pkcs11_setup(cli *c)
{
	const char *module = getenv("CAPSTAN_PKCS11_MODULE");

	if ((module && *module && capstan_ctx_set_pkcs11_module(c->ctx, module) < 0) ||
	    (c->env_pkcs11_pin.data && capstan_ctx_set_pkcs11_pin(c->ctx, &c->env_pkcs11_pin) < 0))
		return cli_fail(c);
	return 0;
}

static int env_secret(cli *c, const capstan_secret *from, capstan_secret *out)
{
	if (!from->data)
		return 0;
	return capstan_secret_set(out, c->ctx, from->data, from->len) < 0 ? cli_fail(c) : 0;
}

int cli_store_password(cli *c, const char *file, capstan_secret *out)
{
	if (file) {
		if (capstan_secret_from_file(out, c->ctx, file) < 0)
			return cli_error(c, "--password-file: %s", capstan_error_message(c->ctx));
		return 0;
	}
	return env_secret(c, &c->env_store_password, out);
}

int cli_protected(cli *c)
{
	if (!c->unprotected)
		return 0;
	return cli_error(c, "cannot keep keys out of core dumps (RLIMIT_CORE, PR_SET_DUMPABLE): %s;"
		" refusing to load them", strerror(c->unprotected));
}

int cli_read_passphrase(cli *c, capstan_secret *pass, int is_new)
{
	int rc;

	if ((rc = cli_protected(c)) != 0)
		return rc;
	if (c->early_pass.data) {
		*pass = c->early_pass; /* taken over */
		c->early_pass = (capstan_secret)CAPSTAN_SECRET_INIT;
	} else if (c->passphrase_file) {
		if (capstan_secret_from_file(pass, c->ctx, c->passphrase_file) < 0)
			return cli_error(c, "--passphrase-file: %s", capstan_error_message(c->ctx));
	} else {
		if ((rc = env_secret(c, &c->env_passphrase, pass)) != 0)
			return rc;
		if (!pass->data && !isatty(STDIN_FILENO))
			return cli_error(c, "a passphrase is needed: give --passphrase-file FILE or set CAPSTAN_PASSPHRASE");
		if (!pass->data && (rc = prompt_passphrase(c, pass, is_new)) != 0) {
			capstan_secret_free(pass);
			return rc;
		}
	}
	return 0;
}

int cli_unlock(cli *c)
{
	capstan_secret pass = CAPSTAN_SECRET_INIT;
	int rc;

	if ((rc = cli_read_passphrase(c, &pass, !capstan_home_has_keyring(c->ctx))) != 0)
		return rc;
	rc = capstan_home_unlock(c->ctx, &pass);
	capstan_secret_free(&pass);
	return rc < 0 ? cli_fail(c) : 0;
}

int cli_check_new_passphrase(cli *c, const char *home)
{
	char db[4096];
	int rc;

	if ((rc = cli_protected(c)) != 0)
		return rc;
	if (c->passphrase_file) {
		if (capstan_secret_from_file(&c->early_pass, c->ctx, c->passphrase_file) < 0)
			return cli_error(c, "--passphrase-file: %s", capstan_error_message(c->ctx));
	} else if ((rc = env_secret(c, &c->env_passphrase, &c->early_pass)) != 0) {
		return rc;
	}
	/* A typed one is asked for before the inventory exists too, so a
	 * mistyped or short one leaves nothing behind; an existing inventory's
	 * is asked for (once) when it is unlocked. */
	snprintf(db, sizeof(db), "%s/capstan.db", home);
	if (!c->early_pass.data && isatty(STDIN_FILENO) && access(db, F_OK) != 0 &&
	    (rc = prompt_passphrase(c, &c->early_pass, 1)) != 0)
		return rc;
	if (c->early_pass.data && capstan_passphrase_check(c->ctx, &c->early_pass) < 0)
		return cli_fail(c);
	return 0;
}
