/* The OpenSSL library context and error queue, for the crypto files. */
#ifndef CAPSTAN_LIB_OSSL_H
#define CAPSTAN_LIB_OSSL_H

#include "base/base.h"

int capstan_ossl_init(capstan_ctx *ctx);
void capstan_ossl_free(capstan_ctx *ctx);
/* Frees what the context fetched and kept (crypto_internal.h). */
void capstan_ossl_cache_free(capstan_ctx *ctx);

/* Like capstan_error(), with ": <OpenSSL's reason>" appended from the error
 * queue, which is then emptied. */
int capstan_ossl_error(capstan_ctx *ctx, int code, const char *fmt, ...) CAPSTAN_PRINTF(3, 4);

int capstan_random_bytes(capstan_ctx *ctx, unsigned char *buf, size_t len);
int capstan_sha256(capstan_ctx *ctx, const void *data, size_t len, unsigned char out[CAPSTAN_SHA256_LEN]);

#endif
