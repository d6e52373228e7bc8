/*
 * capstan — the HTTPS server (serve): mutual TLS on one listener, plain
 * HTTP for public data on another, requests answered by capstan_api_handle
 * on worker threads.
 */
#ifndef CAPSTAN_SERVE_H
#define CAPSTAN_SERVE_H

#include "api.h"
#include "common.h"

CAPSTAN_BEGIN_API

/* One line per request (or per event worth telling: a reload, a refused
 * configuration), for the program to print. */
typedef void (*capstan_serve_log_fn)(const char *line, void *payload);

#define CAPSTAN_SERVE_OPTS_VERSION 1
typedef struct {
	unsigned version;
	const char *config;       /* what capstan_api_load reads, and re-reads on SIGHUP */
	const char *listen;       /* overrides api.listen */
	const char *http;         /* overrides api.http */
	unsigned workers;         /* 0: one per core */
	capstan_serve_log_fn log;
	void *log_payload;
} capstan_serve_opts;
#define CAPSTAN_SERVE_OPTS_INIT { CAPSTAN_SERVE_OPTS_VERSION, NULL, NULL, NULL, 0, NULL, NULL }

/*
 * Serves until SIGTERM or SIGINT (then stops accepting, finishes what is in
 * flight, returns 0). ctx: a home opened and unlocked. SIGHUP re-reads the
 * api: section and the server's certificate and key; a bad one is logged
 * and the old one stays. Installs its own handlers for those signals.
 */
CAPSTAN_WARN_UNUSED int capstan_serve(capstan_ctx *ctx, const capstan_serve_opts *opts);

CAPSTAN_END_API

#endif
