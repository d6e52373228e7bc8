/* The fetch layer's insides: one HTTPS client (http.c, the only file that
 * includes curl/curl.h) for the bundle (fetch.c) and the renewal (renew.c). */
#ifndef CAPSTAN_LIB_FETCH_INTERNAL_H
#define CAPSTAN_LIB_FETCH_INTERNAL_H

#include <capstan/fetch.h>

#include "base/base.h"

/* The identity and the trust, read once per run: the key through a check
 * that it is private to the caller, and wiped when the connection ends. */
typedef struct {
	const capstan_fetch_opts *o;
	capstan_buf cert, key, ca;
} fetch_conn;

int fetch_conn_open(fetch_conn *c, capstan_ctx *ctx, const capstan_fetch_opts *o);
void fetch_conn_close(fetch_conn *c);

typedef struct {
	long status;
	capstan_buf body;
	char etag[80];             /* as the server sent it, quotes and all; "" when none */
} fetch_response;

/* METHOD PATH on the server (PATH: from "/v1/..."), with If-None-Match when
 * given. 0 with any HTTP status in r; an error when no answer came (after the
 * retries) or the server could not be verified. r->body: the caller's. */
int fetch_request(capstan_ctx *ctx, const fetch_conn *c, const char *method, const char *path,
	const char *if_none_match, fetch_response *r);
/* An error for a status the caller did not want: the server's message when
 * its body is JSON {"error": ...}. */
int fetch_status_error(capstan_ctx *ctx, const char *what, const fetch_response *r);
/* A query value, percent-encoded (malloc'd; NULL when out of memory). */
char *fetch_escape(const char *s);

#endif
