/* The OpenSSL library context, the error queue drained into capstan's message,
 * and the few primitives (random, SHA-256, wiping) the rest of the library uses. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "crypto_internal.h"
#include "ossl.h"

#define MD_SLOTS 4
#define SIGN_SLOTS 4

/* By name on every call, OpenSSL 3.0 takes its method store's lock and walks
 * its names (a profile of a 20,000-certificate batch: ~10% of the time). */
struct capstan_ossl_cache {
	struct {
		char name[16];
		EVP_MD *md;
	} md[MD_SLOTS];
	EVP_CIPHER *gcm;
	EVP_MAC *hmac;
	EVP_MAC_CTX *hmac_keyed;          /* HMAC-SHA-256 initialised with hmac_key */
	unsigned char hmac_key[32];
	EVP_PKEY_CTX *keygen[CAPSTAN_KEY__COUNT];
	/* An issuer's signing context, initialised once and copied per signature. */
	struct {
		EVP_PKEY *key;      /* held by tmpl, so the address cannot be reused */
		const char *md;     /* a constant string (capstan_signing_digest) */
		EVP_MD_CTX *tmpl;
	} sign[SIGN_SLOTS];
	unsigned sign_next;     /* the slot replaced next */
};

int capstan_ossl_init(capstan_ctx *ctx)
{
	if (!(ctx->libctx = OSSL_LIB_CTX_new()))
		return capstan_ossl_error(ctx, CAPSTAN_ERROR, "cannot create the OpenSSL library context");
	return 0;
}

void capstan_ossl_free(capstan_ctx *ctx)
{
	OSSL_LIB_CTX_free(ctx->libctx);
	ctx->libctx = NULL;
}

int capstan_ossl_error(capstan_ctx *ctx, int code, const char *fmt, ...)
{
	char message[384], reason[128] = "";
	unsigned long err, last = 0;
	va_list ap;

	/* The last error in the queue is the most specific one. */
	while ((err = ERR_get_error()) != 0)
		last = err;
	if (last)
		ERR_error_string_n(last, reason, sizeof(reason));
	va_start(ap, fmt);
	vsnprintf(message, sizeof(message), fmt, ap);
	va_end(ap);
	if (last) {
		const char *why = ERR_reason_error_string(last);
		return capstan_error(ctx, code, "%s: %s", message, why ? why : reason);
	}
	return capstan_error(ctx, code, "%s", message);
}

int capstan_random_bytes(capstan_ctx *ctx, unsigned char *buf, size_t len)
{
	if (RAND_bytes_ex(ctx->libctx, buf, len, 0) != 1)
		return capstan_ossl_error(ctx, CAPSTAN_ERROR, "cannot get random bytes");
	return 0;
}

static capstan_ossl_cache *cache(capstan_ctx *ctx)
{
	if (!ctx->ossl)
		ctx->ossl = calloc(1, sizeof(*ctx->ossl));
	return ctx->ossl;
}

void capstan_ossl_cache_free(capstan_ctx *ctx)
{
	capstan_ossl_cache *c = ctx->ossl;

	if (!c)
		return;
	for (int i = 0; i < MD_SLOTS; i++)
		EVP_MD_free(c->md[i].md);
	EVP_CIPHER_free(c->gcm);
	EVP_MAC_CTX_free(c->hmac_keyed);
	OPENSSL_cleanse(c->hmac_key, sizeof(c->hmac_key));
	EVP_MAC_free(c->hmac);
	for (int i = 0; i < CAPSTAN_KEY__COUNT; i++)
		EVP_PKEY_CTX_free(c->keygen[i]);
	for (int i = 0; i < SIGN_SLOTS; i++)
		EVP_MD_CTX_free(c->sign[i].tmpl);
	free(c);
	ctx->ossl = NULL;
}

EVP_MD *capstan_ossl_md(capstan_ctx *ctx, const char *name)
{
	capstan_ossl_cache *c = cache(ctx);
	int i;

	if (!c || strlen(name) >= sizeof(c->md[0].name))
		return NULL;
	for (i = 0; i < MD_SLOTS && c->md[i].md; i++)
		if (strcmp(c->md[i].name, name) == 0)
			return c->md[i].md;
	if (i == MD_SLOTS)
		return NULL; /* more digests than anyone signs with: a bug */
	if (!(c->md[i].md = EVP_MD_fetch(ctx->libctx, name, NULL)))
		return NULL;
	memcpy(c->md[i].name, name, strlen(name) + 1); /* fits: checked above */
	return c->md[i].md;
}

EVP_CIPHER *capstan_ossl_gcm(capstan_ctx *ctx)
{
	capstan_ossl_cache *c = cache(ctx);

	if (c && !c->gcm)
		c->gcm = EVP_CIPHER_fetch(ctx->libctx, "AES-256-GCM", NULL);
	return c ? c->gcm : NULL;
}

EVP_MAC_CTX *capstan_ossl_hmac_sha256(capstan_ctx *ctx, const unsigned char *key, size_t key_len)
{
	capstan_ossl_cache *c = cache(ctx);
	OSSL_PARAM params[] = {
		OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)"SHA2-256", 0),
		OSSL_PARAM_construct_end(),
	};

	if (!c)
		return NULL;
	/* Initialising looks the digest up by name: done once per key, and
	 * each MAC starts from a copy. */
	if (!c->hmac_keyed || key_len != sizeof(c->hmac_key) || CRYPTO_memcmp(key, c->hmac_key, key_len) != 0) {
		EVP_MAC_CTX_free(c->hmac_keyed);
		c->hmac_keyed = NULL;
		if (!c->hmac && !(c->hmac = EVP_MAC_fetch(ctx->libctx, "HMAC", NULL)))
			return NULL;
		if (key_len != sizeof(c->hmac_key) || !(c->hmac_keyed = EVP_MAC_CTX_new(c->hmac)) ||
		    EVP_MAC_init(c->hmac_keyed, key, key_len, params) != 1) {
			EVP_MAC_CTX_free(c->hmac_keyed);
			c->hmac_keyed = NULL;
			return NULL;
		}
		memcpy(c->hmac_key, key, key_len);
	}
	return EVP_MAC_CTX_dup(c->hmac_keyed);
}

static EVP_PKEY_CTX *keygen_new(capstan_ctx *ctx, capstan_key_type type)
{
	static const char *const curve[CAPSTAN_KEY__COUNT] = {
		[CAPSTAN_KEY_EC_P256] = "P-256", [CAPSTAN_KEY_EC_P384] = "P-384",
	};
	static const size_t bits[CAPSTAN_KEY__COUNT] = {
		[CAPSTAN_KEY_RSA_2048] = 2048, [CAPSTAN_KEY_RSA_3072] = 3072, [CAPSTAN_KEY_RSA_4096] = 4096,
	};
	const char *alg = curve[type] ? "EC" : bits[type] ? "RSA" : "ED25519";
	EVP_PKEY_CTX *g = EVP_PKEY_CTX_new_from_name(ctx->libctx, alg, NULL);
	size_t b = bits[type];
	OSSL_PARAM params[2] = { OSSL_PARAM_END, OSSL_PARAM_END };

	if (curve[type])
		params[0] = OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, (char *)curve[type], 0);
	else if (b)
		params[0] = OSSL_PARAM_construct_size_t(OSSL_PKEY_PARAM_RSA_BITS, &b);
	if (!g || EVP_PKEY_keygen_init(g) != 1 || EVP_PKEY_CTX_set_params(g, params) != 1) {
		EVP_PKEY_CTX_free(g);
		return NULL;
	}
	return g;
}

EVP_PKEY_CTX *capstan_ossl_keygen(capstan_ctx *ctx, capstan_key_type type)
{
	capstan_ossl_cache *c = cache(ctx);

	if (!c || (unsigned)type >= CAPSTAN_KEY__COUNT)
		return NULL;
	/* The provider keeps the curve it built on the first key for the next. */
	if (!c->keygen[type])
		c->keygen[type] = keygen_new(ctx, type);
	return c->keygen[type];
}

int capstan_ossl_sign_init(capstan_ctx *ctx, EVP_MD_CTX *mctx, EVP_PKEY *key, const char *mdname)
{
	capstan_ossl_cache *c = cache(ctx);
	unsigned i;

	if (!c)
		return 0;
	for (i = 0; i < SIGN_SLOTS; i++)
		if (c->sign[i].tmpl && c->sign[i].key == key &&
		    (c->sign[i].md == mdname || (c->sign[i].md && mdname && strcmp(c->sign[i].md, mdname) == 0)))
			return EVP_MD_CTX_copy_ex(mctx, c->sign[i].tmpl);
	i = c->sign_next++ % SIGN_SLOTS;
	EVP_MD_CTX_free(c->sign[i].tmpl);
	c->sign[i].key = key;
	c->sign[i].md = mdname;
	if (!(c->sign[i].tmpl = EVP_MD_CTX_new()) ||
	    EVP_DigestSignInit_ex(c->sign[i].tmpl, NULL, mdname, ctx->libctx, NULL, key, NULL) != 1) {
		EVP_MD_CTX_free(c->sign[i].tmpl);
		c->sign[i].tmpl = NULL;
		return 0;
	}
	return EVP_MD_CTX_copy_ex(mctx, c->sign[i].tmpl);
}

int capstan_sha256(capstan_ctx *ctx, const void *data, size_t len, unsigned char out[CAPSTAN_SHA256_LEN])
{
	EVP_MD *md = capstan_ossl_md(ctx, "SHA2-256");

	if (!md || EVP_Digest(data, len, out, NULL, md, NULL) != 1)
		return capstan_ossl_error(ctx, CAPSTAN_ERROR, "cannot compute SHA-256");
	return 0;
}

