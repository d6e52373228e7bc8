/* Keys in a PKCS#11 token (RFC 7512 pkcs11: URIs), through pkcs11-provider
 * loaded into the context's library context on first need. The module comes
 * from the URI's module-path= or capstan_ctx_set_pkcs11_module, the PIN from
 * its pin-source=file:PATH (a private file) or capstan_ctx_set_pkcs11_pin;
 * never a prompt. */
#ifndef CAPSTAN_LIB_PKCS11_H
#define CAPSTAN_LIB_PKCS11_H

#include "keys.h"

/* Generates a key of TYPE inside the token TOKEN_URI names, labelled LABEL
 * (sensitive, never extractable); *uri_out (the caller's, free()) is the
 * key's URI as the inventory records it: token, object and the query as
 * given (module-path, pin-source), no PIN. CAPSTAN_EEXISTS when the token
 * holds a key of that label already (the message says how to delete it). */
int capstan_pkcs11_generate(capstan_key **out, char **uri_out, capstan_ctx *ctx, const char *token_uri,
	const char *label, capstan_key_type type);
/* 0 when the token TOKEN_URI names holds no private key labelled LABEL,
 * else CAPSTAN_EEXISTS (or why the token cannot be asked). */
int capstan_pkcs11_label_free(capstan_ctx *ctx, const char *token_uri, const char *label);
/* After a failure (rc, its message recorded) that follows making keys in a
 * token: the keys stay there (OpenSSL cannot delete one), so the message
 * gains which keys (by the URIs recorded for them; NULLs skipped) and the
 * pkcs11-tool command that deletes them. Returns rc. */
int capstan_pkcs11_keys_left(capstan_ctx *ctx, int rc, const char *const *key_uris, size_t n);
/* Loads the private key URI names (logging in): the key signs as any other. */
int capstan_pkcs11_load(capstan_key **out, capstan_ctx *ctx, const char *uri);
/* Signs a random message with the key and verifies the signature under the
 * key's public key: a token key is there, usable, and the pair it claims. */
int capstan_key_prove(capstan_ctx *ctx, capstan_key *key);
/* The token part of a key's URI (object dropped, query kept), the caller's. */
int capstan_pkcs11_token_of(capstan_ctx *ctx, char **out, const char *key_uri);

#endif
