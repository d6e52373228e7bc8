/* The context and the inventory home: opening it (keyring.c unlocks its keys). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <capstan/home.h>

#include "audit.h"
#include "ca_internal.h"
#include "base/base.h"
#include "crypto/crypto.h"
#include "store/store.h"

int capstan_ctx_new(capstan_ctx **out)
{
	capstan_ctx *ctx = calloc(1, sizeof(*ctx));

	if (!ctx)
		return CAPSTAN_ERROR;
	if (capstan_ossl_init(ctx) < 0) {
		free(ctx);
		return CAPSTAN_ERROR;
	}
	*out = ctx;
	return 0;
}

int capstan_ctx_worker_new(capstan_ctx **out, const capstan_ctx *parent)
{
	capstan_ctx *ctx = calloc(1, sizeof(*ctx));

	if (!ctx)
		return CAPSTAN_ERROR;
	ctx->libctx = parent->libctx;
	memcpy(ctx->kek, parent->kek, sizeof(ctx->kek));
	ctx->kek_set = parent->kek_set;
	ctx->worker = 1;
	/* The provider is in the shared library context already, or not at all. */
	if (parent->pkcs11_loaded && !(ctx->pkcs11_loaded = strdup(parent->pkcs11_loaded))) {
		free(ctx);
		return CAPSTAN_ERROR;
	}
	*out = ctx;
	return 0;
}

void capstan_ctx_free(capstan_ctx *ctx)
{
	if (!ctx)
		return;
	capstan_store_rollback(ctx);
	capstan_ctx_signers_free(ctx);
	capstan_store_close(ctx->store);
	capstan_ossl_cache_free(ctx);
	capstan_ocsp_cache_free(ctx);
	capstan_ocsp_answers_unref(ctx->ocsp_answers);
	free(ctx->user);
	free(ctx->actor);
	free(ctx->pkcs11_module);
	free(ctx->pkcs11_loaded);
	capstan_secret_free(&ctx->pkcs11_pin);
	if (!ctx->worker)
		capstan_ossl_free(ctx);
	capstan_wipe(ctx->kek, sizeof(ctx->kek));
	capstan_wipe(ctx->audit_key, sizeof(ctx->audit_key));
	free(ctx->audit_broken);
	for (size_t i = 0; i < ctx->warning_count; i++)
		free(ctx->warnings[i]);
	free(ctx->home);
	free(ctx->inventory);
	free(ctx);
}

int capstan_home_default(char **out, capstan_ctx *ctx)
{
	const char *env = getenv("CAPSTAN_HOME"), *home = getenv("HOME");
	struct stat sb;

	*out = NULL;
	if (env && *env)
		return (*out = strdup(env)) ? 0 : capstan_error_oom(ctx);
	/* Without a real HOME the default would be relative to wherever capstan
	 * runs (./.local/...) or would create a stray tree (/nonexistent/...):
	 * an inventory must be where it was the last time, so ask instead. */
	if (!home || !*home)
		return capstan_error_at(ctx, CAPSTAN_ENOTFOUND, CAPSTAN_FIELD_HOME,
			"HOME is not set: no default home, one must be named");
	if (stat(home, &sb) < 0)
		return capstan_error_at(ctx, CAPSTAN_ENOTFOUND, CAPSTAN_FIELD_HOME,
			"HOME '%s' %s: no default home, one must be named", home,
			errno == ENOENT ? "does not exist" : strerror(errno));
	if (!S_ISDIR(sb.st_mode))
		return capstan_error_at(ctx, CAPSTAN_EINVALID, CAPSTAN_FIELD_HOME,
			"HOME '%s' is not a directory: no default home, one must be named", home);
	return (*out = capstan_aprintf("%s/.local/share/capstan", home)) ? 0 : capstan_error_oom(ctx);
}

/* mkdir -p; the directories it creates are 0700. */
static int make_dirs(capstan_ctx *ctx, const char *path)
{
	char *copy = strdup(path);
	int rc = 0;

	if (!copy)
		return capstan_error_oom(ctx);
	for (char *p = copy + 1; ; p++) {
		if (*p == '/' || *p == '\0') {
			char saved = *p;
			*p = '\0';
			if (mkdir(copy, 0700) < 0 && errno != EEXIST) {
				rc = capstan_error(ctx, CAPSTAN_ERROR, "cannot create '%s': %s", copy, strerror(errno));
				break;
			}
			*p = saved;
			if (!saved)
				break;
		}
	}
	free(copy);
	return rc;
}

/* The home must be the effective user's and closed to others before
 * anything in it is trusted: whoever can write it can swap the inventory. */
static int check_home_dir(capstan_ctx *ctx, const char *home)
{
	struct stat sb;

	if (stat(home, &sb) < 0)
		return capstan_error_at(ctx, CAPSTAN_ENOTFOUND, CAPSTAN_FIELD_HOME, "cannot open home '%s': %s", home,
			strerror(errno));
	if (!S_ISDIR(sb.st_mode))
		return capstan_error_at(ctx, CAPSTAN_EINVALID, CAPSTAN_FIELD_HOME, "home '%s' is not a directory", home);
	return capstan_private_check(ctx, CAPSTAN_FIELD_HOME, "home", home, &sb, 0);
}

/* A new inventory in HOME: the directories made 0700, and HOME itself made
 * private whoever created it, but only when it is the effective user's: a
 * directory of another user's is refused, unchanged. */
static int prepare_new_home(capstan_ctx *ctx, const char *home)
{
	struct stat sb;
	int rc;

	if ((rc = make_dirs(ctx, home)) < 0)
		return rc;
	if (stat(home, &sb) == 0 && sb.st_uid != geteuid())
		return capstan_private_check(ctx, CAPSTAN_FIELD_HOME, "home", home, &sb, 0);
	if (chmod(home, 0700) < 0)
		return capstan_error(ctx, CAPSTAN_ERROR, "cannot chmod 700 '%s': %s", home, strerror(errno));
	return 0;
}

/* An inventory apart from the home (a server's database, or an SQLite file
 * named by capstan_ctx_set_inventory, which its driver checks): the home is
 * still the home (its configuration, the deploy lock), checked when it is
 * there and made when asked to create, but the inventory is not in it. */
static int open_apart(capstan_ctx *ctx, const char *home, const char *file, int create)
{
	struct stat sb;
	int rc;

	if (file && !create && stat(file, &sb) < 0)
		return capstan_error(ctx, CAPSTAN_ENOTFOUND, "no inventory at '%s'", file);
	if (stat(home, &sb) < 0 && create && (rc = prepare_new_home(ctx, home)) < 0)
		return rc;
	if (stat(home, &sb) == 0 && (rc = check_home_dir(ctx, home)) < 0)
		return rc;
	return capstan_store_open(&ctx->store, ctx, ctx->inventory, create, capstan_x509_spki_sha256);
}

int capstan_home_open(capstan_ctx *ctx, const char *home, unsigned flags)
{
	char *db_path = capstan_aprintf("%s/%s", home, CAPSTAN_DB_NAME);
	int create = (flags & CAPSTAN_OPEN_CREATE) != 0, rc;
	const char *file = ctx->inventory ? capstan_store_file(ctx->inventory) : NULL;
	struct stat sb;

	if (!db_path)
		return capstan_error_oom(ctx);
	if (ctx->store) {
		rc = capstan_error(ctx, CAPSTAN_ERROR, "an inventory is already open");
		goto done;
	}
	if (ctx->inventory) {
		if ((rc = open_apart(ctx, home, file, create)) < 0)
			goto done;
		goto opened;
	}
	if (stat(db_path, &sb) < 0) {
		if (!create) {
			rc = capstan_error(ctx, CAPSTAN_ENOTFOUND, "no inventory in '%s'", home);
			goto done;
		}
		if ((rc = prepare_new_home(ctx, home)) < 0)
			goto done;
	}
	if ((rc = check_home_dir(ctx, home)) < 0 ||
	    (rc = capstan_store_open(&ctx->store, ctx, db_path, create, capstan_x509_spki_sha256)) < 0)
		goto done;
opened:
	if (!(ctx->home = strdup(home)))
		rc = capstan_error_oom(ctx);
	/* A clone has its parent's already. Without one, answers are signed
	 * each time: not worth failing the open for. */
	else if (!ctx->ocsp_answers && capstan_ocsp_answers_new(&ctx->ocsp_answers) < 0)
		ctx->ocsp_answers = NULL;
done:
	free(db_path);
	return rc;
}

int capstan_ctx_set_inventory(capstan_ctx *ctx, const char *where)
{
	char *copy = where ? strdup(where) : NULL;

	if (where && !copy)
		return capstan_error_oom(ctx);
	free(ctx->inventory);
	ctx->inventory = copy;
	return 0;
}

const char *capstan_ctx_inventory(const capstan_ctx *ctx)
{
	return ctx->inventory;
}

size_t capstan_home_warning_count(const capstan_ctx *ctx)
{
	return ctx->warning_count;
}

const char *capstan_home_warning(const capstan_ctx *ctx, size_t i)
{
	return i < ctx->warning_count ? ctx->warnings[i] : NULL;
}

const char *capstan_home_path(const capstan_ctx *ctx)
{
	return ctx->home;
}

int capstan_home_has_keyring(capstan_ctx *ctx)
{
	capstan_buf salt = CAPSTAN_BUF_INIT;
	int rc = capstan_store_meta_get(ctx, "keyring.salt", &salt);

	capstan_buf_free(&salt);
	return rc == 0;
}

int capstan_protect_process(void)
{
	struct rlimit none = { 0, 0 };
	int rc = setrlimit(RLIMIT_CORE, &none);

	return prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0 || rc < 0 ? -1 : 0;
}

int capstan_ctx_clone(capstan_ctx **out, const capstan_ctx *parent)
{
	capstan_ctx *ctx = NULL;
	int rc;

	*out = NULL;
	if (!parent->home || !parent->kek_set || !parent->audit_key_set)
		return CAPSTAN_EINVALID;
	if ((rc = capstan_ctx_new(&ctx)) < 0)
		return rc;
	ctx->ocsp_answers = capstan_ocsp_answers_ref(parent->ocsp_answers);
	if ((rc = capstan_ctx_set_inventory(ctx, parent->inventory)) < 0 ||
	    (rc = capstan_home_open(ctx, parent->home, CAPSTAN_OPEN_EXISTING)) < 0) {
		capstan_ctx_free(ctx);
		return rc;
	}
	memcpy(ctx->kek, parent->kek, sizeof(ctx->kek));
	ctx->kek_set = 1;
	memcpy(ctx->audit_key, parent->audit_key, sizeof(ctx->audit_key));
	ctx->audit_key_set = 1;
	ctx->audit_sealed = parent->audit_sealed;
	if (parent->audit_broken && !(ctx->audit_broken = strdup(parent->audit_broken))) {
		capstan_ctx_free(ctx);
		return CAPSTAN_ERROR;
	}
	*out = ctx;
	return 0;
}

int capstan_ctx_set_pkcs11_module(capstan_ctx *ctx, const char *path)
{
	char *copy = path ? strdup(path) : NULL;

	if (path && !copy)
		return capstan_error_oom(ctx);
	free(ctx->pkcs11_module);
	ctx->pkcs11_module = copy;
	return 0;
}

int capstan_ctx_set_pkcs11_pin(capstan_ctx *ctx, const capstan_secret *pin)
{
	if (!pin || !pin->data) {
		capstan_secret_free(&ctx->pkcs11_pin);
		return 0;
	}
	return capstan_secret_set(&ctx->pkcs11_pin, ctx, pin->data, pin->len);
}

int capstan_ctx_set_actor(capstan_ctx *ctx, const char *actor)
{
	char *copy = actor ? strdup(actor) : NULL;

	if (actor && !copy)
		return capstan_error_oom(ctx);
	free(ctx->actor);
	ctx->actor = copy;
	return 0;
}
