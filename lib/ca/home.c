/* The context and the inventory home: opening it and unlocking its keys. */
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
#include "base/base.h"
#include "crypto/crypto.h"
#include "store/store.h"

#define MIN_PASSPHRASE_LEN 8

/* The keyring is three metadata values: the scrypt salt, its cost, and a known
 * text sealed with the derived key, which tells a wrong passphrase at once. */
static const char keyring_check_text[] = "capstan keyring check v1";

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
	*out = ctx;
	return 0;
}

void capstan_ctx_free(capstan_ctx *ctx)
{
	if (!ctx)
		return;
	capstan_store_rollback(ctx);
	capstan_store_close(ctx->store);
	capstan_ossl_cache_free(ctx);
	free(ctx->user);
	if (!ctx->worker)
		capstan_ossl_free(ctx);
	capstan_wipe(ctx->kek, sizeof(ctx->kek));
	capstan_wipe(ctx->audit_key, sizeof(ctx->audit_key));
	free(ctx->audit_broken);
	for (size_t i = 0; i < ctx->warning_count; i++)
		free(ctx->warnings[i]);
	free(ctx->home);
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

int capstan_home_open(capstan_ctx *ctx, const char *home, unsigned flags)
{
	char *db_path = capstan_aprintf("%s/%s", home, CAPSTAN_DB_NAME);
	int create = (flags & CAPSTAN_OPEN_CREATE) != 0, rc;
	struct stat sb;

	if (!db_path)
		return capstan_error_oom(ctx);
	if (ctx->store) {
		rc = capstan_error(ctx, CAPSTAN_ERROR, "an inventory is already open");
		goto done;
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
	if (!(ctx->home = strdup(home)))
		rc = capstan_error_oom(ctx);
done:
	free(db_path);
	return rc;
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

static int parse_params(const capstan_buf *b, uint64_t *n, uint32_t *r, uint32_t *p)
{
	unsigned long long nn;
	unsigned rr, pp;
	char tail;

	/* Stored by this file as "scrypt:N:r:p"; anything else is corruption. */
	if (!b->data || sscanf((const char *)b->data, "scrypt:%llu:%u:%u%c", &nn, &rr, &pp, &tail) != 3 ||
	    nn < 1024 || nn > (1u << 24) || rr < 1 || rr > 32 || pp < 1 || pp > 16)
		return -1;
	*n = nn;
	*r = rr;
	*p = pp;
	return 0;
}

static int keyring_check(capstan_ctx *ctx, const unsigned char kek[CAPSTAN_KEK_LEN], const capstan_buf *check)
{
	capstan_buf plain = CAPSTAN_BUF_INIT;
	int rc = capstan_aead_open(&plain, ctx, kek, "keyring", 7, check->data, check->len);

	if (rc == 0 && (plain.len != sizeof(keyring_check_text) - 1 ||
			memcmp(plain.data, keyring_check_text, plain.len) != 0))
		rc = CAPSTAN_EAUTH;
	capstan_buf_free(&plain);
	return rc;
}

int capstan_passphrase_check(capstan_ctx *ctx, const capstan_secret *pass)
{
	if (!pass || pass->len < MIN_PASSPHRASE_LEN)
		return capstan_error_at(ctx, CAPSTAN_EINVALID, CAPSTAN_FIELD_PASSPHRASE,
			"the passphrase is too short: a new inventory needs at least %d characters",
			MIN_PASSPHRASE_LEN);
	return 0;
}

static int keyring_create(capstan_ctx *ctx, const capstan_secret *pass)
{
	unsigned char salt[CAPSTAN_KDF_SALT_LEN], kek[CAPSTAN_KEK_LEN];
	capstan_buf check = CAPSTAN_BUF_INIT;
	char params[64];
	int rc;

	if ((rc = capstan_passphrase_check(ctx, pass)) < 0)
		return rc;
	snprintf(params, sizeof(params), "scrypt:%u:%u:%u", CAPSTAN_KDF_N, CAPSTAN_KDF_R, CAPSTAN_KDF_P);
	if ((rc = capstan_random_bytes(ctx, salt, sizeof(salt))) < 0 ||
	    (rc = capstan_kek_derive(ctx, kek, pass, salt, sizeof(salt),
		     CAPSTAN_KDF_N, CAPSTAN_KDF_R, CAPSTAN_KDF_P)) < 0 ||
	    (rc = capstan_aead_seal(&check, ctx, kek, "keyring", 7, keyring_check_text,
		     sizeof(keyring_check_text) - 1)) < 0)
		goto done;
	/* Written in a transaction of its own: if another process set a keyring
	 * first, this one must verify against it rather than overwrite it. */
	if ((rc = capstan_store_begin(ctx)) < 0)
		goto done;
	if (capstan_home_has_keyring(ctx)) {
		capstan_store_rollback(ctx);
		rc = 1; /* set meanwhile: the caller verifies instead */
		goto done;
	}
	if ((rc = capstan_store_meta_set(ctx, "keyring.salt", salt, sizeof(salt))) == 0 &&
	    (rc = capstan_store_meta_set(ctx, "keyring.params", params, strlen(params))) == 0)
		rc = capstan_store_meta_set(ctx, "keyring.check", check.data, check.len);
	if ((rc = capstan_store_end(ctx, rc)) < 0)
		goto done;
	memcpy(ctx->kek, kek, sizeof(kek));
	ctx->kek_set = 1;
done:
	capstan_wipe(kek, sizeof(kek));
	capstan_buf_free(&check);
	return rc;
}

/* The keyring check failed: a wrong passphrase, or a damaged check value
 * (the AEAD cannot tell). The first sealed key can: it opens only with the
 * right passphrase. */
static int first_key_opens(capstan_ctx *ctx, const unsigned char kek[CAPSTAN_KEK_LEN])
{
	capstan_buf sealed = CAPSTAN_BUF_INIT;
	unsigned char spki[CAPSTAN_SHA256_LEN];
	capstan_key *key = NULL;
	int opens;

	memcpy(ctx->kek, kek, CAPSTAN_KEK_LEN);
	ctx->kek_set = 1;
	opens = capstan_store_key_get(ctx, 1, spki, &sealed) == 0 &&
		capstan_key_unseal(&key, ctx, sealed.data, sealed.len, spki) == 0;
	capstan_key_free(key);
	capstan_buf_free(&sealed);
	capstan_wipe(ctx->kek, sizeof(ctx->kek));
	ctx->kek_set = 0;
	return opens;
}

static int keyring_verify(capstan_ctx *ctx, const capstan_secret *pass)
{
	capstan_buf salt = CAPSTAN_BUF_INIT, params = CAPSTAN_BUF_INIT, check = CAPSTAN_BUF_INIT;
	unsigned char kek[CAPSTAN_KEK_LEN];
	uint64_t n;
	uint32_t r, p;
	int rc;

	if ((rc = capstan_store_meta_get(ctx, "keyring.salt", &salt)) < 0 ||
	    (rc = capstan_store_meta_get(ctx, "keyring.params", &params)) < 0 ||
	    (rc = capstan_store_meta_get(ctx, "keyring.check", &check)) < 0)
		goto done;
	if (parse_params(&params, &n, &r, &p) < 0) {
		rc = capstan_error(ctx, CAPSTAN_ERROR, "the inventory's keyring parameters are corrupt");
		goto done;
	}
	if ((rc = capstan_kek_derive(ctx, kek, pass, salt.data, salt.len, n, r, p)) < 0)
		goto done;
	if (keyring_check(ctx, kek, &check) < 0) {
		rc = first_key_opens(ctx, kek) ?
			capstan_error(ctx, CAPSTAN_EDAMAGED, "the inventory's keyring check value in '%s' is damaged"
				" (the passphrase opens its keys)", ctx->home ? ctx->home : "?") :
			capstan_error(ctx, CAPSTAN_EAUTH, "wrong passphrase for the inventory in '%s'",
				ctx->home ? ctx->home : "?");
		goto done;
	}
	memcpy(ctx->kek, kek, sizeof(kek));
	ctx->kek_set = 1;
done:
	capstan_wipe(kek, sizeof(kek));
	capstan_buf_free(&salt);
	capstan_buf_free(&params);
	capstan_buf_free(&check);
	return rc;
}

int capstan_protect_process(void)
{
	struct rlimit none = { 0, 0 };
	int rc = setrlimit(RLIMIT_CORE, &none);

	return prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0 || rc < 0 ? -1 : 0;
}

int capstan_home_unlock(capstan_ctx *ctx, const capstan_secret *pass)
{
	capstan_buf salt = CAPSTAN_BUF_INIT;
	int rc;

	if ((rc = capstan_require_store(ctx)) < 0)
		return rc;
	if (!pass || !pass->data || pass->len == 0)
		return capstan_error(ctx, CAPSTAN_EAUTH, "empty passphrase");
	/* A keyring that cannot be read is not a missing one: never made afresh over damage. */
	if ((rc = capstan_store_meta_get(ctx, "keyring.salt", &salt)) == CAPSTAN_ENOTFOUND &&
	    (rc = keyring_create(ctx, pass)) <= 0)
		return rc < 0 ? rc : capstan_audit_unlocked(ctx);
	capstan_buf_free(&salt);
	if (rc < 0 || (rc = keyring_verify(ctx, pass)) < 0)
		return rc;
	return capstan_audit_unlocked(ctx);
}
