/*
 * capstan — the network API's logic, without the network: the `api:`
 * configuration, who a client certificate is, what it may do, and the
 * answer to one request. The HTTP server (serve.h) reads requests off the
 * wire, hands each to capstan_api_handle on a worker thread with a context
 * of that thread's own, and writes the answer back.
 */
#ifndef CAPSTAN_API_H
#define CAPSTAN_API_H

#include "common.h"

CAPSTAN_BEGIN_API

/* The api: section, loaded and checked. Immutable once loaded: shared by
 * every thread; SIGHUP loads a new one and swaps it. */
typedef struct capstan_api capstan_api;

/* Loads the api: section of the YAML configuration at path (NULL: the
 * configuration the CLI would find: $CAPSTAN_CONFIG, else the home's
 * capstan.yaml). listen/http override the file's when not NULL.
 * CAPSTAN_EINVALID naming the YAML path of what is wrong. The server entry
 * is checked against the open inventory: a current certificate with
 * profile server or peer, whose key the inventory holds. */
CAPSTAN_WARN_UNUSED int capstan_api_load(capstan_api **out, capstan_ctx *ctx, const char *path,
	const char *listen, const char *http);
void capstan_api_free(capstan_api *api);

/* Borrowed strings, living as long as api. http and public_url may be NULL. */
const char *capstan_api_listen(const capstan_api *api);
const char *capstan_api_http(const capstan_api *api);
const char *capstan_api_public_url(const capstan_api *api);
const char *capstan_api_server_env(const capstan_api *api);
const char *capstan_api_server_name(const capstan_api *api);

/* One request, as the server read it. */
typedef struct {
	const char *method;              /* "GET", "POST", ... */
	const char *path;                /* percent-decoded, without the query */
	const char *query;               /* raw query string, or NULL */
	const unsigned char *body;
	size_t body_len;
	const char *if_none_match;       /* the If-None-Match header, or NULL */
	int tls;                         /* 1: the mutual-TLS listener; 0: the plain-HTTP one */
	const unsigned char *peer_der;   /* tls: the client certificate the handshake verified (DER) */
	size_t peer_der_len;
} capstan_api_request;

/* The answer. body is the caller's (capstan_api_response_clear). */
typedef struct {
	int status;
	char content_type[64];
	char etag[96];                   /* "" for none */
	char identity[160];              /* "ENV/NAME" of the caller, "-" when none: for the access log */
	capstan_buf body;
} capstan_api_response;

/*
 * Answers one request as api.md says, on any thread, with ctx that thread's
 * own: a home opened and unlocked (capstan_ctx_clone). Never fails: every
 * problem is a 4xx with {"error": "..."} or a 500 that names no internals.
 */
void capstan_api_handle(capstan_api_response *resp, capstan_ctx *ctx, const capstan_api *api,
	const capstan_api_request *req);
void capstan_api_response_clear(capstan_api_response *resp);

/*
 * A change in two halves, so that a server signs on several threads and
 * commits on one. capstan_api_prepare, on any thread with that thread's
 * context and outside any transaction, does what needs none: who asks, what
 * they may do, the body, the CSR's signature, the certificate's signature.
 * It returns what capstan_api_commit finishes; or NULL, when resp is the
 * whole answer already (a refusal), or when resp->status is 0: a request it
 * does not split (answer it with capstan_api_handle). capstan_api_commit
 * records the change inside the caller's transaction and answers; the change
 * is the caller's either way: capstan_api_change_free.
 */
typedef struct capstan_api_change capstan_api_change;
capstan_api_change *capstan_api_prepare(capstan_api_response *resp, capstan_ctx *ctx, const capstan_api *api,
	const capstan_api_request *req);
void capstan_api_commit(capstan_api_response *resp, capstan_ctx *ctx, capstan_api_change *change);
void capstan_api_change_free(capstan_api_change *change);

CAPSTAN_END_API

#endif
