/* Keyed digests: what seals the audit log's end (lib/ca/audit.c). */
#ifndef CAPSTAN_LIB_MAC_H
#define CAPSTAN_LIB_MAC_H

#include "base/base.h"

/* HMAC-SHA-256 of data under key. */
int capstan_hmac_sha256(capstan_ctx *ctx, const unsigned char *key, size_t key_len,
	const void *data, size_t len, unsigned char out[CAPSTAN_SHA256_LEN]);

/* HKDF-SHA-256 (RFC 5869, no salt): out_len bytes from ikm for the purpose
 * info names, so one secret yields independent keys for different uses. */
int capstan_hkdf_sha256(capstan_ctx *ctx, unsigned char *out, size_t out_len,
	const unsigned char *ikm, size_t ikm_len, const char *info);

#endif
