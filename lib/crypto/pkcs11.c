/* Keys in a PKCS#11 token, through pkcs11-provider: the only file that knows
 * the provider. It is loaded into the context's own library context on first
 * need (never the machine's openssl.cnf), keys are generated inside the
 * token and loaded by their RFC 7512 URI through OSSL_STORE; the EVP_PKEY
 * that comes back signs through X509_sign and the rest unchanged.
 *
 * Threads. Batch workers share their parent's library context, so one
 * provider instance and one EVP_PKEY per CA key, each worker copying an
 * initialised signing context of its own (capstan_ossl_sign_init); serve's
 * workers each open the home anew (capstan_ctx_clone) and load the provider
 * and the key into their own library context. What makes that safe, read in
 * pkcs11-provider 1.0's source: a signing context holds no session until it
 * operates (p11prov_sig_dupctx copies none), then takes an unused one from
 * the slot's pool under the pool's lock, opening another when all are busy
 * (session.c, fetch_session), and gives it back when the signature is done
 * (p11prov_sig_digest_final; SoftHSM2 2.6.1 has no ECDSA-SHA256, so the
 * provider hashes and signs through p11prov_sig_operate, which does the
 * same); the module is initialised with CKF_OS_LOCKING_OK, on which
 * SoftHSM2 2.6.1 turns on its own mutexes (SoftHSM.cpp, C_Initialize).
 * Tested (t2500): 1,000 certificates from the batch's 16 workers and 64 sign
 * requests from 32 clients at once to serve's 32 workers, all verified. A module
 * that needs its calls serialised would need a lock here: none is taken. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/provider.h>
#include <openssl/store.h>
#include <openssl/x509.h>

#include "base/base.h"
#include "crypto_internal.h"
#include "ossl.h"
#include "pkcs11.h"

#define URI_MAX 1024

/* What capstan reads from a pkcs11: URI: the path attributes naming the
 * token (object, id and type dropped: capstan names keys itself), the query
 * as given (PIN values dropped), and the module and PIN file it names. */
typedef struct {
	char token[URI_MAX];
	char object[256];
	char query[URI_MAX];
	char module[512];
	char pin_file[512];
} p11_uri;

static int hexval(int c)
{
	return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 :
		c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/* Percent-decodes len bytes of s into out (cap bytes); -1 when it does not fit. */
static int pct_decode(char *out, size_t cap, const char *s, size_t len)
{
	size_t o = 0;

	for (size_t i = 0; i < len; i++) {
		int c = (unsigned char)s[i];
		if (c == '%' && i + 2 < len && hexval(s[i + 1]) >= 0 && hexval(s[i + 2]) >= 0) {
			c = hexval(s[i + 1]) * 16 + hexval(s[i + 2]);
			i += 2;
		}
		if (o + 1 >= cap || c == 0)
			return -1;
		out[o++] = (char)c;
	}
	out[o] = '\0';
	return 0;
}

static int append(char *buf, size_t cap, const char *sep, const char *s, size_t len)
{
	size_t have = strlen(buf), seplen = have ? strlen(sep) : 0;

	if (have + seplen + len + 1 > cap)
		return -1;
	memcpy(buf + have, sep, seplen);
	memcpy(buf + have + seplen, s, len);
	buf[have + seplen + len] = '\0';
	return 0;
}

static int is_attr(const char *a, size_t len, const char *name)
{
	size_t n = strlen(name);

	return len > n && strncmp(a, name, n) == 0 && a[n] == '=';
}

static int parse_query(capstan_ctx *ctx, p11_uri *u, const char *q)
{
	while (*q) {
		size_t len = strcspn(q, "&");
		if (is_attr(q, len, "pin-value"))
			return capstan_error(ctx, CAPSTAN_EINVALID,
				"a PIN in the token URI is not taken: give pin-source=file:PATH or set $CAPSTAN_PKCS11_PIN");
		if (is_attr(q, len, "module-path") &&
		    pct_decode(u->module, sizeof(u->module), q + 12, len - 12) < 0)
			return capstan_error(ctx, CAPSTAN_EINVALID, "the token URI's module-path is too long");
		if (is_attr(q, len, "pin-source")) {
			if (len < 16 || strncmp(q + 11, "file:", 5) != 0 ||
			    pct_decode(u->pin_file, sizeof(u->pin_file), q + 16, len - 16) < 0)
				return capstan_error(ctx, CAPSTAN_EINVALID,
					"the token URI's pin-source must be file:PATH");
		}
		if (append(u->query, sizeof(u->query), "&", q, len) < 0)
			return capstan_error(ctx, CAPSTAN_EINVALID, "the token URI is too long");
		q += len + (q[len] == '&');
	}
	return 0;
}

static int parse_uri(capstan_ctx *ctx, p11_uri *u, const char *uri)
{
	const char *p;

	memset(u, 0, sizeof(*u));
	if (strncmp(uri, "pkcs11:", 7) != 0)
		return capstan_error(ctx, CAPSTAN_EINVALID, "'%s' is not a pkcs11: URI", uri);
	for (p = uri + 7; *p && *p != '?';) {
		size_t len = strcspn(p, ";?");
		if (is_attr(p, len, "object")) {
			if (pct_decode(u->object, sizeof(u->object), p + 7, len - 7) < 0)
				return capstan_error(ctx, CAPSTAN_EINVALID, "the token URI's object is too long");
		} else if (len && !is_attr(p, len, "id") && !is_attr(p, len, "type") &&
			   append(u->token, sizeof(u->token), ";", p, len) < 0) {
			return capstan_error(ctx, CAPSTAN_EINVALID, "the token URI is too long");
		}
		p += len + (p[len] == ';');
	}
	if (!u->token[0])
		return capstan_error(ctx, CAPSTAN_EINVALID, "the URI '%s' names no token (pkcs11:token=LABEL)", uri);
	return *p == '?' ? parse_query(ctx, u, p + 1) : 0;
}

/* The provider's configuration, written 0600 into a private directory,
 * loaded and removed: OpenSSL 3.0 takes provider parameters from a file
 * only. It names the module, never the PIN. no-deinit: SoftHSM's teardown
 * order crashes processes at exit otherwise (openssl#22508). */
static int write_config(capstan_ctx *ctx, const char *path, const char *module)
{
	FILE *f;
	int ok;

	if (!(f = fopen(path, "wx")))
		return capstan_error(ctx, CAPSTAN_ERROR, "cannot write '%s': %s", path, strerror(errno));
	/* Section names of its own: "default" is the file's unnamed top section. */
	ok = fprintf(f, "openssl_conf = capstan_conf\n[capstan_conf]\nproviders = capstan_providers\n"
			"[capstan_providers]\ndefault = capstan_default\npkcs11 = capstan_pkcs11\n"
			"[capstan_default]\nactivate = 1\n"
			"[capstan_pkcs11]\npkcs11-module-path = %s\npkcs11-module-quirks = no-deinit\nactivate = 1\n",
			module) > 0;
	return fclose(f) == 0 && ok ? 0 : capstan_error(ctx, CAPSTAN_ERROR, "cannot write '%s'", path);
}

static int module_check(capstan_ctx *ctx, const char *module)
{
	if (!module[0])
		return capstan_error(ctx, CAPSTAN_EINVALID,
			"no PKCS#11 module: give module-path= in the token URI or set $CAPSTAN_PKCS11_MODULE");
	/* The value goes into a configuration file: nothing that file would read otherwise. */
	for (const char *c = module; *c; c++)
		if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789/._+-", *c))
			return capstan_error(ctx, CAPSTAN_EINVALID,
				"the PKCS#11 module path '%s' has a character capstan does not take", module);
	if (access(module, R_OK) != 0)
		return capstan_error(ctx, CAPSTAN_ENOTFOUND, "cannot read the PKCS#11 module '%s': %s", module, strerror(errno));
	return 0;
}

static int provider_load(capstan_ctx *ctx, const p11_uri *u)
{
	const char *module = u->module[0] ? u->module : ctx->pkcs11_module ? ctx->pkcs11_module : "";
	char dir[] = "/tmp/capstan-p11-XXXXXX", path[sizeof(dir) + 16];
	int rc, loaded;

	if ((rc = module_check(ctx, module)) < 0)
		return rc;
	if (ctx->pkcs11_loaded)
		return strcmp(ctx->pkcs11_loaded, module) == 0 ? 0 :
			capstan_error(ctx, CAPSTAN_EINVALID, "the PKCS#11 module '%s' is loaded already, not '%s'",
				ctx->pkcs11_loaded, module);
	if (ctx->worker)
		return capstan_error(ctx, CAPSTAN_EINVALID, "a worker cannot load the PKCS#11 provider");
	if (!mkdtemp(dir))
		return capstan_error(ctx, CAPSTAN_ERROR, "cannot create a temporary directory: %s", strerror(errno));
	snprintf(path, sizeof(path), "%s/p11.cnf", dir);
	rc = write_config(ctx, path, module);
	loaded = rc == 0 && OSSL_LIB_CTX_load_config(ctx->libctx, path) == 1;
	unlink(path);
	rmdir(dir);
	if (rc < 0)
		return rc;
	if (!loaded || !OSSL_PROVIDER_available(ctx->libctx, "pkcs11"))
		return capstan_ossl_error(ctx, CAPSTAN_ERROR,
			"cannot load pkcs11-provider with the module '%s' (is pkcs11-provider installed?)", module);
	/* Digests, ciphers and software keys stay the default provider's; only
	 * a token key's operations go to the token. */
	if (EVP_set_default_properties(ctx->libctx, "?provider=default") != 1)
		return capstan_ossl_error(ctx, CAPSTAN_ERROR, "cannot set the default properties");
	ERR_clear_error(); /* SoftHSM leaves "rdrand engine not found" behind */
	if (!(ctx->pkcs11_loaded = strdup(module)))
		return capstan_error_oom(ctx);
	return 0;
}

/* The PIN, from the URI's pin-source file (checked private like a
 * passphrase file) or the context's (capstan_ctx_set_pkcs11_pin). */
static int pin_get(capstan_ctx *ctx, const p11_uri *u, capstan_secret *pin)
{
	if (u->pin_file[0])
		return capstan_secret_from_file(pin, ctx, u->pin_file);
	if (ctx->pkcs11_pin.data)
		return capstan_secret_set(pin, ctx, ctx->pkcs11_pin.data, ctx->pkcs11_pin.len);
	return capstan_error(ctx, CAPSTAN_EAUTH,
		"no PIN for the token: give pin-source=file:PATH in its URI or set $CAPSTAN_PKCS11_PIN");
}

/* The URI handed to the provider, in memory only: the token, the object,
 * and the PIN as pin-value, percent-encoded. Wiped by the caller. */
static int provider_uri(capstan_ctx *ctx, char out[URI_MAX], const p11_uri *u, const char *object,
	const char *type, const capstan_secret *pin)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t n;
	int len = snprintf(out, URI_MAX, "pkcs11:%s;object=%s%s%s?pin-value=", u->token, object,
		type ? ";type=" : "", type ? type : "");

	if (len < 0 || (size_t)len >= URI_MAX)
		return capstan_error(ctx, CAPSTAN_EINVALID, "the token URI is too long");
	n = (size_t)len;
	for (size_t i = 0; i < pin->len; i++) {
		if (n + 4 > URI_MAX)
			return capstan_error(ctx, CAPSTAN_EINVALID, "the PIN is too long");
		out[n++] = '%';
		out[n++] = hex[(unsigned char)pin->data[i] >> 4];
		out[n++] = hex[(unsigned char)pin->data[i] & 15];
	}
	out[n] = '\0';
	return 0;
}

/* The URI recorded for a key: the token, the object, the query as given. */
static int key_uri(capstan_ctx *ctx, char **out, const p11_uri *u, const char *object)
{
	size_t len = strlen(u->token) + strlen(object) + strlen(u->query) + 32;

	if (!(*out = malloc(len)))
		return capstan_error_oom(ctx);
	snprintf(*out, len, "pkcs11:%s;object=%s%s%s", u->token, object, u->query[0] ? "?" : "", u->query);
	return 0;
}

static int setup(capstan_ctx *ctx, p11_uri *u, const char *uri, capstan_secret *pin)
{
	int rc;

	if ((rc = parse_uri(ctx, u, uri)) < 0 || (rc = provider_load(ctx, u)) < 0)
		return rc;
	return pin_get(ctx, u, pin);
}

/* Label characters kept plain in a URI (capstan makes its labels from them). */
static int label_check(capstan_ctx *ctx, const char *label)
{
	for (const char *c = label; *c; c++)
		if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-", *c))
			return capstan_error(ctx, CAPSTAN_EINVALID, "the key label '%s' has a character capstan does not take", label);
	return 0;
}

/* The token's label from a URI's token= attribute, for pkcs11-tool; empty
 * when the URI names the token otherwise or the label needs shell quoting. */
static void token_label(char *out, size_t cap, const p11_uri *u)
{
	const char *t = strstr(u->token, "token=");

	*out = '\0';
	while (t && t != u->token && t[-1] != ';')
		t = strstr(t + 1, "token=");
	if (!t || pct_decode(out, cap, t + 6, strcspn(t + 6, ";")) < 0) {
		*out = '\0';
		return;
	}
	for (const char *c = out; *c; c++)
		if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-", *c)) {
			*out = '\0';
			return;
		}
}

/* How the token's owner deletes a key capstan made and cannot take back
 * (OpenSSL has no delete): both halves by label with OpenSC's pkcs11-tool,
 * which asks for the PIN itself. LABEL may be a placeholder. */
static void delete_hint(capstan_ctx *ctx, char *out, size_t cap, const p11_uri *u, const char *label)
{
	const char *module = u->module[0] ? u->module : ctx->pkcs11_module ? ctx->pkcs11_module : "MODULE";
	char token[256], which[320];

	token_label(token, sizeof(token), u);
	if (token[0])
		snprintf(which, sizeof(which), "--token-label %s", token);
	else
		snprintf(which, sizeof(which), "--slot N (the slot of pkcs11:%.200s)", u->token);
	snprintf(out, cap, "pkcs11-tool --module %s %s --login --delete-object --type privkey --label %s, "
		"then the same with --type pubkey", module, which, label);
}

/* A label the token holds already: capstan never takes over a key it did
 * not record making, so the admin is told which object it is and how to
 * delete it when it is what a failed init or rotate left behind. */
static int label_taken(capstan_ctx *ctx, const p11_uri *u, const char *label)
{
	char hint[1600];

	delete_hint(ctx, hint, sizeof(hint), u, label);
	return capstan_error(ctx, CAPSTAN_EEXISTS,
		"pkcs11:%s already holds a key '%s': if no capstan inventory uses it (an init --hsm or rotate that "
		"failed after making it leaves one), delete it with %s", u->token, label, hint);
}

int capstan_pkcs11_keys_left(capstan_ctx *ctx, int rc, const char *const *key_uris, size_t n)
{
	char why[1024], labels[512] = "", hint[1600] = "", token[URI_MAX] = "";
	size_t count = 0;
	p11_uri u;

	snprintf(why, sizeof(why), "%s", capstan_error_message(ctx));
	for (size_t i = 0; i < n; i++) {
		if (!key_uris[i] || parse_uri(ctx, &u, key_uris[i]) < 0 ||
		    append(labels, sizeof(labels), ", ", u.object, strlen(u.object)) < 0)
			continue;
		if (!count++) {
			snprintf(token, sizeof(token), "%s", u.token);
			delete_hint(ctx, hint, sizeof(hint), &u, "LABEL");
		}
	}
	if (!count)
		return capstan_error(ctx, rc, "%s", why);
	return capstan_error(ctx, rc, "%s; the key%s %s made before that stay%s in pkcs11:%s (OpenSSL cannot "
		"delete a key): before trying again, delete %s with %s", why, count > 1 ? "s" : "", labels,
		count > 1 ? "" : "s", token, count > 1 ? "each" : "it", hint);
}

static EVP_PKEY *find_key(capstan_ctx *ctx, const char *puri, int want)
{
	OSSL_STORE_CTX *s = OSSL_STORE_open_ex(puri, ctx->libctx, "provider=pkcs11", NULL, NULL, NULL, NULL, NULL);
	EVP_PKEY *pkey = NULL;

	if (!s)
		return NULL;
	while (!pkey && !OSSL_STORE_eof(s)) {
		OSSL_STORE_INFO *info = OSSL_STORE_load(s);
		if (!info)
			break;
		if (OSSL_STORE_INFO_get_type(info) == want)
			pkey = want == OSSL_STORE_INFO_PKEY ? OSSL_STORE_INFO_get1_PKEY(info) :
				OSSL_STORE_INFO_get1_PUBKEY(info);
		OSSL_STORE_INFO_free(info);
	}
	OSSL_STORE_close(s);
	return pkey;
}

/* The private key object carries no public value (no CKA_EC_POINT): the
 * key's SubjectPublicKeyInfo comes from its public key object. Takes priv. */
static int wrap_loaded(capstan_key **out, capstan_ctx *ctx, EVP_PKEY *priv, EVP_PKEY *pub)
{
	unsigned char *der = NULL;
	int n = i2d_PUBKEY(pub, &der), rc;

	if (n <= 0) {
		EVP_PKEY_free(priv);
		return capstan_ossl_error(ctx, CAPSTAN_ERROR, "cannot encode the token key's public key");
	}
	if ((rc = capstan_key_wrap(out, ctx, priv)) < 0) {
		EVP_PKEY_free(priv);
	} else if (!((*out)->spki = malloc((size_t)n))) {
		capstan_key_free(*out);
		*out = NULL;
		rc = capstan_error_oom(ctx);
	} else {
		memcpy((*out)->spki, der, (size_t)n);
		(*out)->spki_len = (size_t)n;
	}
	OPENSSL_free(der);
	return rc;
}

int capstan_pkcs11_load(capstan_key **out, capstan_ctx *ctx, const char *uri)
{
	capstan_secret pin = CAPSTAN_SECRET_INIT;
	char puri[URI_MAX];
	EVP_PKEY *pkey = NULL, *pub = NULL;
	p11_uri u;
	int rc;

	*out = NULL;
	if ((rc = setup(ctx, &u, uri, &pin)) < 0)
		return rc;
	if (!u.object[0])
		rc = capstan_error(ctx, CAPSTAN_EINVALID, "the key URI '%s' names no object", uri);
	else if ((rc = label_check(ctx, u.object)) == 0 &&
		 (rc = provider_uri(ctx, puri, &u, u.object, "private", &pin)) == 0 &&
		 !(pkey = find_key(ctx, puri, OSSL_STORE_INFO_PKEY)))
		/* The provider says nothing of a refused login: the store is just empty. */
		rc = ERR_peek_error() ? capstan_ossl_error(ctx, CAPSTAN_ENOTFOUND, "cannot load the key '%s' from pkcs11:%s",
						  u.object, u.token) :
			capstan_error(ctx, CAPSTAN_ENOTFOUND,
				"cannot load the key '%s' from pkcs11:%s: the token has no such private key, or refused the PIN",
				u.object, u.token);
	if (rc == 0 && (rc = provider_uri(ctx, puri, &u, u.object, "public", &pin)) == 0 &&
	    !(pub = find_key(ctx, puri, OSSL_STORE_INFO_PUBKEY)))
		rc = capstan_ossl_error(ctx, CAPSTAN_ENOTFOUND, "cannot load the public key '%s' from pkcs11:%s",
			u.object, u.token);
	capstan_wipe(puri, sizeof(puri));
	capstan_secret_free(&pin);
	if (rc == 0) {
		ERR_clear_error();
		rc = wrap_loaded(out, ctx, pkey, pub);
	} else {
		EVP_PKEY_free(pkey);
	}
	EVP_PKEY_free(pub);
	return rc;
}

static EVP_PKEY_CTX *token_keygen(capstan_ctx *ctx, capstan_key_type type, const char *puri)
{
	static const char *const curve[CAPSTAN_KEY__COUNT] = {
		[CAPSTAN_KEY_EC_P256] = "P-256", [CAPSTAN_KEY_EC_P384] = "P-384",
	};
	static const size_t bits[CAPSTAN_KEY__COUNT] = {
		[CAPSTAN_KEY_RSA_2048] = 2048, [CAPSTAN_KEY_RSA_3072] = 3072, [CAPSTAN_KEY_RSA_4096] = 4096,
	};
	const char *alg = curve[type] ? "EC" : bits[type] ? "RSA" : "ED25519";
	size_t b = bits[type];
	EVP_PKEY_CTX *g = EVP_PKEY_CTX_new_from_name(ctx->libctx, alg, "provider=pkcs11");
	/* construct_utf8_string with the length computed: the OSSL_PARAM_utf8_string
	 * initialiser's size 0 sends an empty string. The provider maps only
	 * digitalSignature to CKA_SIGN ("keyCertSign cRLSign" fails to map). */
	OSSL_PARAM p[] = {
		OSSL_PARAM_construct_utf8_string("pkcs11_uri", (char *)puri, 0),
		OSSL_PARAM_construct_utf8_string("pkcs11_key_usage", (char *)"digitalSignature", 0),
		OSSL_PARAM_END, OSSL_PARAM_END,
	};

	if (curve[type])
		p[2] = OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, (char *)curve[type], 0);
	else if (b)
		p[2] = OSSL_PARAM_construct_size_t(OSSL_PKEY_PARAM_RSA_BITS, &b);
	if (!g || EVP_PKEY_keygen_init(g) != 1 || EVP_PKEY_CTX_set_params(g, p) != 1) {
		EVP_PKEY_CTX_free(g);
		return NULL;
	}
	return g;
}

int capstan_pkcs11_label_free(capstan_ctx *ctx, const char *token_uri, const char *label)
{
	capstan_secret pin = CAPSTAN_SECRET_INIT;
	char puri[URI_MAX];
	EVP_PKEY *pkey = NULL;
	p11_uri u;
	int rc;

	if ((rc = label_check(ctx, label)) < 0 || (rc = setup(ctx, &u, token_uri, &pin)) < 0)
		return rc;
	if ((rc = provider_uri(ctx, puri, &u, label, "private", &pin)) == 0 &&
	    (pkey = find_key(ctx, puri, OSSL_STORE_INFO_PKEY)))
		rc = label_taken(ctx, &u, label);
	EVP_PKEY_free(pkey);
	ERR_clear_error();
	capstan_wipe(puri, sizeof(puri));
	capstan_secret_free(&pin);
	return rc;
}

int capstan_pkcs11_generate(capstan_key **out, char **uri_out, capstan_ctx *ctx, const char *token_uri,
	const char *label, capstan_key_type type)
{
	capstan_secret pin = CAPSTAN_SECRET_INIT;
	char puri[URI_MAX];
	EVP_PKEY_CTX *g = NULL;
	EVP_PKEY *pkey = NULL;
	p11_uri u;
	int rc;

	if ((unsigned)type >= CAPSTAN_KEY__COUNT)
		return capstan_error(ctx, CAPSTAN_EINVALID, "unknown key type %d", (int)type);
	if ((rc = label_check(ctx, label)) < 0 || (rc = setup(ctx, &u, token_uri, &pin)) < 0)
		return rc;
	if ((rc = provider_uri(ctx, puri, &u, label, "private", &pin)) == 0 &&
	    (pkey = find_key(ctx, puri, OSSL_STORE_INFO_PKEY))) {
		EVP_PKEY_free(pkey);
		pkey = NULL;
		rc = label_taken(ctx, &u, label);
	}
	ERR_clear_error();
	if (rc == 0 && (rc = provider_uri(ctx, puri, &u, label, NULL, &pin)) == 0 &&
	    (!(g = token_keygen(ctx, type, puri)) || EVP_PKEY_generate(g, &pkey) != 1))
		rc = capstan_ossl_error(ctx, g || type != CAPSTAN_KEY_ED25519 ? CAPSTAN_ERROR : CAPSTAN_EINVALID,
			"cannot generate a %s key in pkcs11:%s", capstan_key_type_name(type), u.token);
	capstan_wipe(puri, sizeof(puri));
	capstan_secret_free(&pin);
	EVP_PKEY_CTX_free(g);
	if (rc < 0)
		return rc;
	ERR_clear_error();
	if ((rc = capstan_key_wrap(out, ctx, pkey)) < 0) {
		EVP_PKEY_free(pkey);
		return rc;
	}
	if ((rc = key_uri(ctx, uri_out, &u, label)) < 0) {
		capstan_key_free(*out);
		*out = NULL;
	}
	return rc;
}

int capstan_key_prove(capstan_ctx *ctx, capstan_key *key)
{
	unsigned char msg[32], *sig = NULL;
	const unsigned char *der, *p;
	const char *md = capstan_signing_digest(key);
	EVP_MD_CTX *s = EVP_MD_CTX_new(), *v = EVP_MD_CTX_new();
	EVP_PKEY *pub = NULL;
	size_t der_len, sig_len = 0;
	int rc;

	if ((rc = capstan_random_bytes(ctx, msg, sizeof(msg))) < 0 || (rc = capstan_key_spki(ctx, key, &der, &der_len)) < 0)
		goto done;
	p = der;
	if (!s || !v || !(pub = d2i_PUBKEY_ex(NULL, &p, (long)der_len, ctx->libctx, NULL)) ||
	    EVP_DigestSignInit_ex(s, NULL, md, ctx->libctx, NULL, key->pkey, NULL) != 1 ||
	    EVP_DigestSign(s, NULL, &sig_len, msg, sizeof(msg)) != 1 || !(sig = OPENSSL_malloc(sig_len)) ||
	    EVP_DigestSign(s, sig, &sig_len, msg, sizeof(msg)) != 1) {
		rc = capstan_ossl_error(ctx, CAPSTAN_ERROR, "the key does not sign");
		goto done;
	}
	if (EVP_DigestVerifyInit_ex(v, NULL, md, ctx->libctx, NULL, pub, NULL) != 1 ||
	    EVP_DigestVerify(v, sig, sig_len, msg, sizeof(msg)) != 1)
		rc = capstan_ossl_error(ctx, CAPSTAN_EINVALID, "its signature does not verify under its public key");
done:
	OPENSSL_free(sig);
	EVP_PKEY_free(pub);
	EVP_MD_CTX_free(s);
	EVP_MD_CTX_free(v);
	return rc;
}

int capstan_pkcs11_token_of(capstan_ctx *ctx, char **out, const char *key_uri)
{
	p11_uri u;
	int rc;

	if ((rc = parse_uri(ctx, &u, key_uri)) < 0)
		return rc;
	size_t len = strlen(u.token) + strlen(u.query) + 16;

	if (!(*out = malloc(len)))
		return capstan_error_oom(ctx);
	snprintf(*out, len, "pkcs11:%s%s%s", u.token, u.query[0] ? "?" : "", u.query);
	return 0;
}
