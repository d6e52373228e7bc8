/*
 * The keyring: unlocking an inventory's keys with its passphrase, and
 * changing that passphrase.
 *
 * Keys at rest are sealed under a random 32-byte data key, which is what an
 * unlocked context holds (ctx->kek). The passphrase reaches it through four
 * metadata values: the scrypt salt, its cost ("scrypt:N:r:p"), a known text
 * sealed under the derived key (keyring.check: a wrong passphrase is told at
 * once) and the data key sealed under it (keyring.wrap). A new passphrase
 * rewrites those four and nothing else: no sealed key changes.
 *
 * A first-version keyring has no wrap: its keys were sealed directly under
 * the passphrase-derived key, which is therefore its data key. Its first
 * unlock that can write adds the wrap under a fresh salt (keyring_upgrade).
 */
#include <stdio.h>
#include <string.h>

#include <capstan/home.h>

#include "audit.h"
#include "base/base.h"
#include "crypto/crypto.h"
#include "store/store.h"

#define MIN_PASSPHRASE_LEN 8

static const char keyring_check_text[] = "capstan keyring check v1";
static const char wrap_aad[] = "keyring wrap";

/* What one passphrase seals: the four metadata values. */
typedef struct {
	unsigned char salt[CAPSTAN_KDF_SALT_LEN];
	char params[64];
	capstan_buf check, wrap;
} keyring_seal;

static void seal_free(keyring_seal *s)
{
	capstan_buf_free(&s->check);
	capstan_buf_free(&s->wrap);
}

/* A fresh salt; the check and DATA_KEY sealed under PASS's key with it. The
 * scrypt runs here, outside any transaction: the write lock is not held for it. */
static int seal_make(capstan_ctx *ctx, keyring_seal *s, const capstan_secret *pass, uint64_t n, uint32_t r,
	uint32_t p, const unsigned char data_key[CAPSTAN_KEK_LEN])
{
	unsigned char kek[CAPSTAN_KEK_LEN];
	int rc;

	snprintf(s->params, sizeof(s->params), "scrypt:%llu:%u:%u", (unsigned long long)n, r, p);
	if ((rc = capstan_random_bytes(ctx, s->salt, sizeof(s->salt))) == 0 &&
	    (rc = capstan_kek_derive(ctx, kek, pass, s->salt, sizeof(s->salt), n, r, p)) == 0 &&
	    (rc = capstan_aead_seal(&s->check, ctx, kek, "keyring", 7, keyring_check_text,
		     sizeof(keyring_check_text) - 1)) == 0)
		rc = capstan_aead_seal(&s->wrap, ctx, kek, wrap_aad, sizeof(wrap_aad) - 1, data_key, CAPSTAN_KEK_LEN);
	capstan_wipe(kek, sizeof(kek));
	return rc;
}

/* Inside the caller's transaction. */
static int seal_write(capstan_ctx *ctx, const keyring_seal *s)
{
	int rc;

	if ((rc = capstan_store_meta_set(ctx, "keyring.salt", s->salt, sizeof(s->salt))) == 0 &&
	    (rc = capstan_store_meta_set(ctx, "keyring.params", s->params, strlen(s->params))) == 0 &&
	    (rc = capstan_store_meta_set(ctx, "keyring.check", s->check.data, s->check.len)) == 0)
		rc = capstan_store_meta_set(ctx, "keyring.wrap", s->wrap.data, s->wrap.len);
	return rc;
}

static void hold_data_key(capstan_ctx *ctx, const unsigned char key[CAPSTAN_KEK_LEN])
{
	memcpy(ctx->kek, key, CAPSTAN_KEK_LEN);
	ctx->kek_set = 1;
}

static void drop_data_key(capstan_ctx *ctx)
{
	capstan_wipe(ctx->kek, sizeof(ctx->kek));
	ctx->kek_set = 0;
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

/* 0 when CHECK opens under KEK to the known text. */
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

/* 0 when WRAP opens under KEK to a data key, then in data_key. */
static int keyring_unwrap(capstan_ctx *ctx, const unsigned char kek[CAPSTAN_KEK_LEN], const capstan_buf *wrap,
	unsigned char data_key[CAPSTAN_KEK_LEN])
{
	capstan_buf plain = CAPSTAN_BUF_INIT;
	int rc = capstan_aead_open(&plain, ctx, kek, wrap_aad, sizeof(wrap_aad) - 1, wrap->data, wrap->len);

	if (rc == 0 && plain.len != CAPSTAN_KEK_LEN)
		rc = CAPSTAN_EAUTH;
	if (rc == 0)
		memcpy(data_key, plain.data, CAPSTAN_KEK_LEN);
	capstan_buf_free(&plain);
	return rc;
}

static int long_enough(const capstan_secret *pass)
{
	return pass && pass->data && pass->len >= MIN_PASSPHRASE_LEN;
}

int capstan_passphrase_check(capstan_ctx *ctx, const capstan_secret *pass)
{
	if (!long_enough(pass))
		return capstan_error_at(ctx, CAPSTAN_EINVALID, CAPSTAN_FIELD_PASSPHRASE,
			"the passphrase is too short: a new inventory needs at least %d characters",
			MIN_PASSPHRASE_LEN);
	return 0;
}

/* A new inventory's keyring: a random data key, wrapped from the start. 1
 * when another process set a keyring first: the caller verifies against it. */
static int keyring_create(capstan_ctx *ctx, const capstan_secret *pass)
{
	unsigned char data_key[CAPSTAN_KEK_LEN];
	keyring_seal seal = { .check = CAPSTAN_BUF_INIT, .wrap = CAPSTAN_BUF_INIT };
	int rc;

	if ((rc = capstan_passphrase_check(ctx, pass)) < 0)
		return rc;
	if ((rc = capstan_random_bytes(ctx, data_key, sizeof(data_key))) < 0 ||
	    (rc = seal_make(ctx, &seal, pass, CAPSTAN_KDF_N, CAPSTAN_KDF_R, CAPSTAN_KDF_P, data_key)) < 0 ||
	    (rc = capstan_store_begin(ctx)) < 0)
		goto done;
	if (capstan_home_has_keyring(ctx)) {
		capstan_store_rollback(ctx);
		rc = 1;
		goto done;
	}
	if ((rc = capstan_store_end(ctx, seal_write(ctx, &seal))) == 0)
		hold_data_key(ctx, data_key);
done:
	capstan_wipe(data_key, sizeof(data_key));
	seal_free(&seal);
	return rc;
}

/* The keyring check failed on a first-version keyring: a wrong passphrase,
 * or a damaged check value (the AEAD cannot tell). The first sealed key can:
 * it opens only with the right passphrase's key. */
static int first_key_opens(capstan_ctx *ctx, const unsigned char kek[CAPSTAN_KEK_LEN])
{
	capstan_buf sealed = CAPSTAN_BUF_INIT;
	unsigned char spki[CAPSTAN_SHA256_LEN];
	capstan_key *key = NULL;
	int opens;

	hold_data_key(ctx, kek);
	opens = capstan_store_key_get(ctx, 1, spki, &sealed) == 0 &&
		capstan_key_unseal(&key, ctx, sealed.data, sealed.len, spki) == 0;
	capstan_key_free(key);
	capstan_buf_free(&sealed);
	drop_data_key(ctx);
	return opens;
}

static const char *home_name(const capstan_ctx *ctx)
{
	return ctx->home ? ctx->home : ctx->inventory ? ctx->inventory : "?";
}

static int damaged_check(capstan_ctx *ctx)
{
	return capstan_error(ctx, CAPSTAN_EDAMAGED, "the inventory's keyring check value in '%s' is damaged"
		" (the passphrase opens its keys)", home_name(ctx));
}

static int wrong_passphrase(capstan_ctx *ctx)
{
	return capstan_error(ctx, CAPSTAN_EAUTH, "wrong passphrase for the inventory in '%s'", home_name(ctx));
}

/* The passphrase's key against the stored values: the data key in ctx, or
 * which of them failed. WRAP NULL: a first-version keyring. */
static int keyring_open(capstan_ctx *ctx, const unsigned char kek[CAPSTAN_KEK_LEN], const capstan_buf *check,
	const capstan_buf *wrap)
{
	unsigned char data_key[CAPSTAN_KEK_LEN];
	int check_ok = keyring_check(ctx, kek, check) == 0, wrap_ok;

	if (!wrap) {
		if (!check_ok)
			return first_key_opens(ctx, kek) ? damaged_check(ctx) : wrong_passphrase(ctx);
		hold_data_key(ctx, kek);
		return 0;
	}
	wrap_ok = keyring_unwrap(ctx, kek, wrap, data_key) == 0;
	if (wrap_ok && check_ok)
		hold_data_key(ctx, data_key);
	capstan_wipe(data_key, sizeof(data_key));
	if (wrap_ok && check_ok)
		return 0;
	if (check_ok)
		return capstan_error(ctx, CAPSTAN_EDAMAGED, "the inventory's keyring wrap in '%s' is damaged:"
			" its keys cannot be opened", home_name(ctx));
	return wrap_ok ? damaged_check(ctx) : wrong_passphrase(ctx);
}

/* A first-version keyring, just opened (ctx holds the derived key, which is
 * its data key): the same passphrase and cost, a new salt, and the data key
 * wrapped, in one transaction. 1 when another process upgraded it meanwhile
 * (verify again); 0 without a change when the database cannot be written (a
 * read-only copy can still be inspected). */
static int keyring_upgrade(capstan_ctx *ctx, const capstan_secret *pass, uint64_t n, uint32_t r, uint32_t p)
{
	keyring_seal seal = { .check = CAPSTAN_BUF_INIT, .wrap = CAPSTAN_BUF_INIT };
	capstan_buf wrap = CAPSTAN_BUF_INIT;
	int rc;

	if ((rc = seal_make(ctx, &seal, pass, n, r, p, ctx->kek)) < 0)
		goto done;
	if ((rc = capstan_store_begin(ctx)) < 0)
		goto done;
	rc = capstan_store_meta_get(ctx, "keyring.wrap", &wrap);
	if (rc == 0) {
		capstan_store_rollback(ctx);
		rc = 1;
		goto done;
	}
	if (rc == CAPSTAN_ENOTFOUND && (rc = seal_write(ctx, &seal)) == 0)
		rc = capstan_audit_keyring_upgraded(ctx);
	rc = capstan_store_end(ctx, rc);
done:
	if (rc < 0 && capstan_store_refused_write(ctx))
		rc = 0;
	capstan_buf_free(&wrap);
	seal_free(&seal);
	return rc;
}

/* 0 with the data key in ctx; 1 when the keyring changed under it (verify again). */
static int keyring_verify(capstan_ctx *ctx, const capstan_secret *pass)
{
	capstan_buf salt = CAPSTAN_BUF_INIT, params = CAPSTAN_BUF_INIT, check = CAPSTAN_BUF_INIT;
	capstan_buf wrap = CAPSTAN_BUF_INIT;
	unsigned char kek[CAPSTAN_KEK_LEN];
	uint64_t n;
	uint32_t r, p;
	int rc, wrapped;

	if ((rc = capstan_store_meta_get(ctx, "keyring.salt", &salt)) < 0 ||
	    (rc = capstan_store_meta_get(ctx, "keyring.params", &params)) < 0 ||
	    (rc = capstan_store_meta_get(ctx, "keyring.check", &check)) < 0)
		goto done;
	if ((rc = capstan_store_meta_get(ctx, "keyring.wrap", &wrap)) < 0 && rc != CAPSTAN_ENOTFOUND)
		goto done;
	wrapped = rc == 0;
	if (parse_params(&params, &n, &r, &p) < 0) {
		rc = capstan_error(ctx, CAPSTAN_ERROR, "the inventory's keyring parameters are corrupt");
		goto done;
	}
	if ((rc = capstan_kek_derive(ctx, kek, pass, salt.data, salt.len, n, r, p)) < 0)
		goto done;
	rc = keyring_open(ctx, kek, &check, wrapped ? &wrap : NULL);
	capstan_wipe(kek, sizeof(kek));
	if (rc == 0 && !wrapped && (rc = keyring_upgrade(ctx, pass, n, r, p)) != 0)
		drop_data_key(ctx);
done:
	capstan_buf_free(&salt);
	capstan_buf_free(&params);
	capstan_buf_free(&check);
	capstan_buf_free(&wrap);
	return rc;
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
	rc = capstan_store_meta_get(ctx, "keyring.salt", &salt);
	capstan_buf_free(&salt);
	if (rc == CAPSTAN_ENOTFOUND)
		rc = keyring_create(ctx, pass);
	else if (rc == 0)
		rc = 1;
	/* At most twice: a keyring another process created or upgraded meanwhile
	 * is a wrapped one, which verifying never changes. */
	for (int tries = 0; rc == 1 && tries < 2; tries++)
		rc = keyring_verify(ctx, pass);
	if (rc == 1)
		rc = capstan_error(ctx, CAPSTAN_ERROR, "the inventory's keyring in '%s' kept changing", home_name(ctx));
	if (rc == 0 && (rc = capstan_audit_unlocked(ctx)) < 0)
		drop_data_key(ctx);
	return rc;
}

/* Whether PASS is the passphrase the keyring holds now: its check opens. */
static int is_current(capstan_ctx *ctx, const capstan_secret *pass, int *current)
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
	if ((rc = capstan_kek_derive(ctx, kek, pass, salt.data, salt.len, n, r, p)) == 0)
		*current = keyring_check(ctx, kek, &check) == 0;
	capstan_wipe(kek, sizeof(kek));
done:
	capstan_buf_free(&salt);
	capstan_buf_free(&params);
	capstan_buf_free(&check);
	return rc;
}

int capstan_home_change_passphrase(capstan_ctx *ctx, const capstan_secret *new_pass)
{
	keyring_seal seal = { .check = CAPSTAN_BUF_INIT, .wrap = CAPSTAN_BUF_INIT };
	int rc, current = 0;

	if ((rc = capstan_require_store(ctx)) < 0)
		return rc;
	if (!ctx->kek_set)
		return capstan_error(ctx, CAPSTAN_ERROR, "the inventory is not unlocked: its passphrase cannot be changed");
	if (!long_enough(new_pass))
		return capstan_error(ctx, CAPSTAN_EINVALID, "the new passphrase is too short: it needs at least %d"
			" characters", MIN_PASSPHRASE_LEN);
	/* The documented cost, not the old one: a change is when a keyring
	 * catches up with it. The data key is the one the context holds. */
	if ((rc = seal_make(ctx, &seal, new_pass, CAPSTAN_KDF_N, CAPSTAN_KDF_R, CAPSTAN_KDF_P, ctx->kek)) < 0 ||
	    (rc = capstan_store_begin(ctx)) < 0)
		goto done;
	/* Under the write lock: the passphrase as it is now, whoever changed it last. */
	if ((rc = is_current(ctx, new_pass, &current)) == 0 && current)
		rc = capstan_error(ctx, CAPSTAN_EINVALID, "the new passphrase is the current one");
	if (rc == 0 && (rc = seal_write(ctx, &seal)) == 0)
		rc = capstan_audit_record(ctx, "passphrase", NULL, NULL, NULL, "the passphrase was changed");
	rc = capstan_store_end(ctx, rc);
done:
	if (rc < 0 && capstan_store_refused_write(ctx))
		rc = capstan_error(ctx, CAPSTAN_ERROR, "the inventory in '%s' is read-only: its passphrase cannot"
			" be changed", home_name(ctx));
	seal_free(&seal);
	return rc;
}
