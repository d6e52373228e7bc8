/* The OpenSSL library context, the error queue drained into capstan's message,
 * and the few primitives (random, SHA-256, wiping) the rest of the library uses. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "ossl.h"

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

int capstan_sha256(capstan_ctx *ctx, const void *data, size_t len, unsigned char out[32])
{
	EVP_MD *md = EVP_MD_fetch(ctx->libctx, "SHA2-256", NULL);
	int ok = md && EVP_Digest(data, len, out, NULL, md, NULL) == 1;

	EVP_MD_free(md);
	return ok ? 0 : capstan_ossl_error(ctx, CAPSTAN_ERROR, "cannot compute SHA-256");
}

