/* The API layer's files share these: the loaded configuration, one call in
 * progress, and the answers' helpers (json.c). */
#ifndef CAPSTAN_LIB_API_INTERNAL_H
#define CAPSTAN_LIB_API_INTERNAL_H

#include <jansson.h>

#include <capstan/api.h>
#include <capstan/cert.h>
#include <capstan/config.h>

#include "base/base.h"

struct capstan_api {
	capstan_config *config;          /* owns every string below */
	const capstan_config_api *a;     /* config->api */
	char *listen, *http;             /* the overrides, else copies of the file's */
};

/* One request being answered. */
typedef struct {
	capstan_ctx *ctx;
	const capstan_api *api;
	const capstan_api_request *req;
	capstan_api_response *resp;
	capstan_cert *who;                         /* the caller's certificate (TLS) */
	const capstan_config_api_client *client;   /* its clients: entry; NULL: none */
	char identity[160];                        /* "ENV/NAME" */
	char *seg[8];                              /* the path's segments (into path) */
	size_t nseg;
	char *path;
} api_call;

/* json.c: answers. Each sets status, type and body, replacing what was there. */
void api_error(api_call *c, int status, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* The library's last error as a 4xx (by its code), or a generic 500. */
void api_fail(api_call *c, int rc, const char *field);
void api_json(api_call *c, int status, json_t *doc); /* takes doc */
void api_body(api_call *c, int status, const char *type, const void *data, size_t len);
json_t *api_cert_json(const capstan_cert *cert);
/* The value of KEY in the query string, percent-decoded (the caller's: free);
 * NULL when absent. *bad set when it is not decodable. */
char *api_query(const char *query, const char *key, int *bad);

/* identity.c: the caller from its certificate; 0, or -1 with a 401 answered. */
int api_identify(api_call *c);

/* authz.c: each 0, or -1 with a 403 answered naming the identity and rule. */
int api_allow(api_call *c, unsigned action, const char *action_name, const char *env);
int api_allow_service(api_call *c, const char *service);
int api_allow_host(api_call *c, const char *host);
int api_allow_profile(api_call *c, const char *profile);
int api_allow_sans(api_call *c, const capstan_strlist *sans);
/* The lifetime a signing gets: asked (0: env_default), cut to max_days. */
int64_t api_lifetime(const api_call *c, int64_t asked, int64_t env_default);
/* Sets the audit actor to api:ENV/NAME (NULL: resets it). */
int api_actor(api_call *c, int on);

/* handlers_ocsp.c: the OCSP responder (POST, or GET with the request in
 * b64, RFC 6960 Appendix A) and a CA's CRL by its key identifier. */
void api_ocsp(api_call *c, const char *b64);
void api_crl_by_ski(api_call *c, const char *hex);

/* handlers_change.c: the request body as a JSON object, or NULL with a 400 answered. */
json_t *api_body_json(api_call *c);
/* 201 {env, name, serial, not_after, certificate, chain}. */
void api_issued(api_call *c, const capstan_cert *cert);

/* handlers_read.c, handlers_bundle.c, handlers_change.c, handlers_sign.c */
void api_health(api_call *c);
void api_trust(api_call *c, const char *env);
void api_crl(api_call *c, const char *env);
void api_list(api_call *c, const char *env);
void api_bundle(api_call *c, const char *env, const char *service);
void api_sign(api_call *c, const char *env);
/* The two halves of api_sign (capstan_api_prepare / capstan_api_commit):
 * prepare answers and returns NULL when it refuses. */
capstan_api_change *api_sign_prepare(api_call *c, const char *env);
void api_sign_commit(api_call *c, capstan_api_change *ch);
void api_renew(api_call *c);
void api_revoke(api_call *c, const char *env, const char *name);

#define API_MAX_BODY (64 * 1024)

#endif
