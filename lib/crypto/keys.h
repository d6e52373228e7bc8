/*
 * Private keys: generation, classification against the policy, and encryption
 * at rest. At rest every key is PKCS8 DER sealed with AES-256-GCM under the
 * key-encryption key (KEK) that capstan_home_unlock() derived once per process
 * from the passphrase with scrypt; the additional data binds each sealed key to
 * the SHA-256 of its public key, so sealed keys cannot be swapped between rows.
 */
#ifndef CAPSTAN_LIB_KEYS_H
#define CAPSTAN_LIB_KEYS_H

#include <capstan/common.h>
#include <capstan/policy.h>

#include "base/base.h"

typedef struct capstan_key capstan_key;

/* scrypt cost for the KEK: N=2^15, r=8, p=1 is ~100 ms and 32 MiB. */
#define CAPSTAN_KDF_N 32768
#define CAPSTAN_KDF_R 8
#define CAPSTAN_KDF_P 1
#define CAPSTAN_KDF_SALT_LEN 16

int capstan_key_generate(capstan_key **out, capstan_ctx *ctx, capstan_key_type type);
void capstan_key_free(capstan_key *key);
/* Frees the key itself, keeping its type and the SubjectPublicKeyInfo made
 * so far (capstan_key_spki_sha256 still answers from it, and a certificate
 * can still be signed for it): a batch worker's key once sealed and
 * certified, so the writer does not free it. */
void capstan_key_drop_private(capstan_key *key);
capstan_key_type capstan_key_get_type(const capstan_key *key);

/* SHA-256 of the DER SubjectPublicKeyInfo. */
int capstan_key_spki_sha256(capstan_ctx *ctx, const capstan_key *key, unsigned char out[CAPSTAN_SHA256_LEN]);

/* Seals the private key under the context's KEK (see above). */
int capstan_key_seal(capstan_buf *out, capstan_ctx *ctx, const capstan_key *key);
/* The key's PKCS8 DER into out (cap bytes), as OpenSSL would write it, for
 * EC and Ed25519 keys; 1 for other kinds (RSA: OpenSSL's encoder does it). */
int capstan_key_pkcs8_der(capstan_ctx *ctx, const capstan_key *key, unsigned char *out, size_t cap, size_t *len);
/* Opens a sealed key; spki_sha256 must be the one it was sealed with. */
/* A sealed key as PEM ("PRIVATE KEY", PKCS8) without decoding it: the seal's
 * authenticated data names spki_sha256, so the seal opening is the check
 * capstan_key_unseal's comparison makes. */
int capstan_key_unseal_pem(capstan_buf *out, capstan_ctx *ctx, const unsigned char *blob, size_t len,
	const unsigned char spki_sha256[CAPSTAN_SHA256_LEN]);
int capstan_key_unseal(capstan_key **out, capstan_ctx *ctx, const unsigned char *blob,
	size_t len, const unsigned char spki_sha256[CAPSTAN_SHA256_LEN]);

/* Unencrypted PKCS8 PEM ("BEGIN PRIVATE KEY"). */
int capstan_key_pkcs8_pem(capstan_buf *out, capstan_ctx *ctx, const capstan_key *key);

/* The KEK from a passphrase: scrypt with the given salt and cost. */
int capstan_kek_derive(capstan_ctx *ctx, unsigned char kek[CAPSTAN_KEK_LEN], const capstan_secret *pass,
	const unsigned char *salt, size_t salt_len, uint64_t n, uint32_t r, uint32_t p);

/* AES-256-GCM with a random nonce: out = nonce(12) || ciphertext || tag(16). */
int capstan_aead_seal(capstan_buf *out, capstan_ctx *ctx, const unsigned char key[CAPSTAN_KEK_LEN],
	const void *aad, size_t aad_len, const void *plain, size_t plain_len);
/* CAPSTAN_EAUTH when the tag does not verify (wrong key, tampered data). */
int capstan_aead_open(capstan_buf *out, capstan_ctx *ctx, const unsigned char key[CAPSTAN_KEK_LEN],
	const void *aad, size_t aad_len, const unsigned char *sealed, size_t sealed_len);

#endif
