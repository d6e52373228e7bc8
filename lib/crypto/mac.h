/* Keyed digests: what seals the audit log's end (lib/ca/audit.c), and what
 * keystores derive their salts and IVs with (pkcs12.c, jks.c). */
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

/* The first out_len (at most 32) bytes of HMAC-SHA-256 under key (any
 * length, may be empty) over label, its terminating 0 byte, then data. */
int capstan_hmac_label(capstan_ctx *ctx, const void *key, size_t key_len, const char *label,
	const void *data, size_t len, unsigned char *out, size_t out_len);

/* PBKDF2-HMAC-SHA-256 (RFC 8018): out_len bytes from pass and salt. */
int capstan_pbkdf2_sha256(capstan_ctx *ctx, const char *pass, size_t pass_len, const void *salt,
	size_t salt_len, unsigned int iterations, unsigned char *out, size_t out_len);

#endif
