/*
 * capstan check: everything a home must be, verified without changing it.
 * Each finding goes to the caller's callback; the check goes on after one,
 * so a single run lists everything that is wrong.
 */
#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <capstan/audit.h>
#include <capstan/check.h>
#include <capstan/home.h>

#include "audit.h"
#include "crypto/crypto.h"
#include "store/store.h"

#define MAX_ENVS 64

typedef struct {
	int64_t env_id;
	capstan_x509_verifier *verifier; /* NULL: the environment has no trust to verify against */
} env_trust;

typedef struct {
	capstan_ctx *ctx;
	capstan_check_fn fn;
	void *payload;
	capstan_check_summary *sum;
	env_trust envs[MAX_ENVS];
	size_t nenvs;
	time_t now;
	int stop; /* the callback asked to stop */
} checker;

static int report(checker *k, const char *area, const char *fmt, ...) CAPSTAN_PRINTF(3, 4);

static int report(checker *k, const char *area, const char *fmt, ...)
{
	capstan_check_problem p = { area, NULL };
	char msg[768];
	va_list ap;
	int rc;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	p.message = msg;
	k->sum->problems++;
	rc = k->fn ? k->fn(&p, k->payload) : 0;
	if (rc < 0)
		k->stop = 1;
	return rc < 0 ? rc : 0;
}

static int database_problem(const char *problem, void *payload)
{
	return report(payload, "database", "%s", problem);
}

static int serial_problem(const char *problem, void *payload)
{
	return report(payload, "serial", "%s", problem);
}

/* The home and every file in it: owned by us, nothing for group or others. */
static int check_files(checker *k)
{
	const char *home = capstan_home_path(k->ctx);
	struct dirent *d;
	struct stat sb;
	DIR *dir;
	int rc = 0;

	/* An inventory apart from the home needs none: a missing one is fine,
	 * and an inventory opened with no home at all (a copy's target) has none. */
	if (!home || (capstan_ctx_inventory(k->ctx) && stat(home, &sb) < 0 && errno == ENOENT))
		return 0;
	if (stat(home, &sb) < 0 || !S_ISDIR(sb.st_mode))
		return report(k, "file", "home '%s' is not a directory", home);
	if ((sb.st_mode & 077) != 0)
		rc = report(k, "file", "home '%s' has mode %03o: expected 700 (chmod 700 '%s')", home,
			(unsigned)(sb.st_mode & 0777), home);
	if (rc == 0 && sb.st_uid != geteuid())
		rc = report(k, "file", "home '%s' is owned by uid %u, not by this user (%u)", home,
			(unsigned)sb.st_uid, (unsigned)geteuid());
	if (rc < 0 || !(dir = opendir(home)))
		return rc;
	while (rc == 0 && (d = readdir(dir))) {
		char *path;
		if (strcmp(d->d_name, ".") == 0 || strcmp(d->d_name, "..") == 0)
			continue;
		if (!(path = capstan_aprintf("%s/%s", home, d->d_name))) {
			rc = capstan_error_oom(k->ctx);
			break;
		}
		if (lstat(path, &sb) == 0 && (sb.st_mode & 077) != 0)
			rc = report(k, "file", "'%s' has mode %03o: expected 600 (chmod 600 '%s')", path,
				(unsigned)(sb.st_mode & 0777), path);
		free(path);
	}
	closedir(dir);
	return rc;
}

static int check_schema(checker *k)
{
	int version = -1, rc;

	if ((rc = capstan_store_schema_version(k->ctx, &version)) < 0)
		return rc;
	if (version != capstan_store_schema_latest())
		return report(k, "schema", "schema version %d, expected %d", version, capstan_store_schema_latest());
	return 0;
}

static int replay_problem(const char *problem, void *payload)
{
	return report(payload, "audit", "%s", problem);
}

/* The chain, its end and (unlocked) its seal; then, on a log that holds
 * together, its replay against the certificates. */
static int check_audit(checker *k)
{
	capstan_audit_report r;
	int rc = capstan_audit_verify_ex(&r, k->ctx, NULL, 0, NULL);

	k->sum->audit_rows = r.rows;
	if (rc == CAPSTAN_EINVALID)
		return report(k, "audit", "%s", capstan_error_message(k->ctx));
	if (rc < 0)
		return rc;
	rc = capstan_audit_replay(k->ctx, replay_problem, k);
	if (rc == CAPSTAN_EINVALID)
		return report(k, "audit", "%s", capstan_error_message(k->ctx));
	return rc;
}

/* The environment's trust, as `capstan verify` sees it: its live roots and
 * intermediates. An environment without a valid root is itself a finding. */
static int load_trust(checker *k, int64_t env_id, const char *env, env_trust *out)
{
	capstan_cert **roots = NULL, **inters = NULL;
	capstan_der *rd = NULL, *id = NULL;
	size_t nroots = 0, ninters = 0;
	int rc;

	out->env_id = env_id;
	out->verifier = NULL;
	if ((rc = capstan_store_env_roots(k->ctx, env_id, &roots, &nroots)) < 0 ||
	    (rc = capstan_store_env_intermediates(k->ctx, env_id, &inters, &ninters)) < 0)
		goto done;
	if (nroots == 0 || ninters == 0) {
		rc = report(k, "chain", "environment '%s' has no valid %s", env, nroots ? "intermediate" : "root");
		goto done;
	}
	if (!(rd = capstan_ders_of(roots, nroots)) || !(id = capstan_ders_of(inters, ninters))) {
		rc = capstan_error_oom(k->ctx);
		goto done;
	}
	rc = capstan_x509_verifier_new(&out->verifier, k->ctx, rd, nroots, id, ninters);
done:
	free(rd);
	free(id);
	capstan_cert_list_free(roots, nroots);
	capstan_cert_list_free(inters, ninters);
	return rc;
}

static int trust_for(checker *k, const capstan_store_check_row *row, env_trust **out)
{
	int rc;

	for (size_t i = 0; i < k->nenvs; i++)
		if (k->envs[i].env_id == row->env_id)
			return *out = &k->envs[i], 0;
	if (k->nenvs == MAX_ENVS)
		return capstan_error(k->ctx, CAPSTAN_ERROR, "more than %d environments", MAX_ENVS);
	if ((rc = load_trust(k, row->env_id, row->env, &k->envs[k->nenvs])) < 0)
		return rc;
	*out = &k->envs[k->nenvs++];
	return 0;
}

/* A sealed key opens under the KEK, with its row's SPKI hash as additional data. */
static int check_sealed_key(checker *k, const capstan_store_check_row *row, const char *what)
{
	capstan_key *key = NULL;
	unsigned char spki[CAPSTAN_SHA256_LEN];
	int rc = capstan_key_unseal(&key, k->ctx, row->sealed, row->sealed_len, row->spki);

	if (rc == 0 && (rc = capstan_key_spki_sha256(k->ctx, key, spki)) == 0 && memcmp(spki, row->spki, CAPSTAN_SHA256_LEN) != 0)
		rc = capstan_error(k->ctx, CAPSTAN_EINVALID, "it is not the key its row says");
	capstan_key_free(key);
	if (rc == CAPSTAN_EAUTH || rc == CAPSTAN_EINVALID)
		return report(k, "key", "%s: its sealed key does not open: %s", what, capstan_error_message(k->ctx));
	if (rc == 0)
		k->sum->keys_opened++;
	return rc;
}

/* A token key: the token is reached, the key loads, it is the row's, and it
 * signs (a signature verified under the certified public key). */
static int check_token_key(checker *k, const capstan_store_check_row *row, const char *what)
{
	capstan_key *key = NULL;
	unsigned char spki[CAPSTAN_SHA256_LEN];
	int rc = capstan_pkcs11_load(&key, k->ctx, row->key_uri);

	if (rc == 0 && (rc = capstan_key_spki_sha256(k->ctx, key, spki)) == 0 && memcmp(spki, row->spki, CAPSTAN_SHA256_LEN) != 0)
		rc = capstan_error(k->ctx, CAPSTAN_EINVALID, "it is not the key its row says");
	if (rc == 0)
		rc = capstan_key_prove(k->ctx, key);
	capstan_key_free(key);
	if (rc < 0)
		return report(k, "key", "%s: its token key %s: %s", what, row->key_uri, capstan_error_message(k->ctx));
	k->sum->keys_opened++;
	return 0;
}

static int check_key(checker *k, const capstan_store_check_row *row, const unsigned char spki[CAPSTAN_SHA256_LEN],
	const char *what)
{
	if (row->key_id == 0) {
		/* from_csr: a leaf issued from a CSR, or a certificate imported without its key. */
		if (!row->from_csr)
			return report(k, "key", "%s has no key, and was not issued from a CSR", what);
		return 0;
	}
	if (!row->spki || row->spki_len != CAPSTAN_SHA256_LEN ||
	    ((!row->sealed || row->sealed_len == 0) && !row->key_uri))
		return report(k, "key", "%s: its key (row %lld) is missing", what, (long long)row->key_id);
	if (memcmp(spki, row->spki, CAPSTAN_SHA256_LEN) != 0)
		return report(k, "key", "%s: its key (row %lld) is not the key the certificate certifies", what,
			(long long)row->key_id);
	if (row->sealed_len == 0)
		return check_token_key(k, row, what);
	return capstan_require_unlocked(k->ctx) == 0 ? check_sealed_key(k, row, what) : 0;
}

/* Whether the row still says what its DER says, then key and chain. */
static int check_row(const capstan_store_check_row *row, void *payload)
{
	checker *k = payload;
	int live = strcmp(row->status, "valid") == 0 && row->not_after > k->now;
	unsigned char md[CAPSTAN_SHA256_LEN];
	capstan_x509_facts facts;
	char hex[65], what[256];
	env_trust *trust = NULL;
	int rc;

	memset(&facts, 0, sizeof(facts));
	k->sum->certs++;
	snprintf(what, sizeof(what), "%s '%s' in %s (serial %s)", row->kind, row->name, row->env, row->serial);
	if ((rc = capstan_sha256(k->ctx, row->der, row->der_len, md)) < 0)
		return rc;
	capstan_hex_encode(hex, md, CAPSTAN_SHA256_LEN);
	if (!row->fingerprint || strcmp(hex, row->fingerprint) != 0)
		return report(k, "record", "%s: its certificate does not match its recorded fingerprint", what);
	if ((rc = trust_for(k, row, &trust)) < 0)
		return rc;
	/* Every row is read, live or not: revoking a key finds even superseded
	 * certificates by their key digest. Only live ones need a chain. */
	rc = capstan_x509_verifier_check(trust->verifier, k->ctx, row->der, row->der_len,
		live && trust->verifier != NULL, &facts);
	if (rc == CAPSTAN_EINVALID && facts.serial[0] == '\0')
		return report(k, "record", "%s: its certificate does not read: %s", what, capstan_error_message(k->ctx));
	if (rc == CAPSTAN_EINVALID)
		rc = report(k, "chain", "%s %s", what, capstan_error_message(k->ctx));
	else if (rc == 0 && live && trust->verifier)
		k->sum->verified++;
	if (rc == 0 && (row->cert_spki_len != CAPSTAN_SHA256_LEN || memcmp(row->cert_spki, facts.spki_sha256, CAPSTAN_SHA256_LEN) != 0))
		rc = report(k, "record", "%s: its row's key digest (spki_sha256) is not its certificate's public key",
			what);
	if (rc < 0 || !live)
		return rc; /* revoked, superseded and expired certificates need neither key nor chain */
	/* What lookups and renew --due go by must be what the certificate says. */
	if (strcmp(facts.serial, row->serial) != 0 || facts.not_after != row->not_after)
		return report(k, "record", "%s: its row's serial or expiry differs from its certificate's", what);
	return check_key(k, row, facts.spki_sha256, what);
}

int capstan_check(capstan_check_summary *summary, capstan_ctx *ctx, capstan_check_fn fn, void *payload)
{
	checker k = { .ctx = ctx, .fn = fn, .payload = payload, .sum = summary, .now = time(NULL) };
	int rc;

	memset(summary, 0, sizeof(*summary));
	if ((rc = capstan_require_store(ctx)) < 0)
		return rc;
	/* A damaged database comes first: the rest reads through it. */
	if ((rc = capstan_store_integrity(ctx, database_problem, &k)) < 0 || k.stop ||
	    (rc = check_schema(&k)) < 0 || k.stop || (rc = check_files(&k)) < 0 || k.stop ||
	    (rc = capstan_store_duplicate_serials(ctx, serial_problem, &k)) < 0 || k.stop ||
	    (rc = capstan_store_check_rows(ctx, check_row, &k)) < 0 || k.stop)
		goto done;
	rc = check_audit(&k);
done:
	for (size_t i = 0; i < k.nenvs; i++)
		capstan_x509_verifier_free(k.envs[i].verifier);
	return rc;
}
