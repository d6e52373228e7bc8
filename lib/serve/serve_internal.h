/* The server's insides, shared by the files of lib/serve. */
#ifndef CAPSTAN_LIB_SERVE_INTERNAL_H
#define CAPSTAN_LIB_SERVE_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <time.h>

#include <capstan/serve.h>

#include "base/base.h"
#include "crypto/crypto.h"

struct event_base;
struct event;
struct evhttp;
struct evhttp_request;
struct evhttp_bound_socket;
struct bufferevent;
struct ssl_st;

#define SERVE_MAX_CONNECTIONS 1024
#define SERVE_IDLE_SECONDS 60     /* a keep-alive connection between requests */
#define SERVE_REQUEST_SECONDS 10  /* a request, from its first byte until read whole */

/* The configuration in force, shared with the jobs that started under it:
 * a reload swaps in a new one; the old one goes with its last job. */
typedef struct {
	capstan_api *api;
	capstan_tls *tls;
	atomic_int refs;
} serve_config;

typedef struct serve_job serve_job;
typedef struct serve_pool serve_pool;

typedef struct {
	capstan_ctx *ctx;              /* the loop thread's: reloads */
	const capstan_serve_opts *opts;
	struct event_base *base;
	struct evhttp *https, *http;
	struct evhttp_bound_socket *https_sock, *http_sock;
	struct event *done_ev, *sig_term, *sig_int, *sig_hup;
	serve_config *config;
	serve_pool *pool;
	size_t connections;            /* open ones, both listeners */
	int accepting_paused;
	size_t inflight;               /* jobs handed to the pool, not yet answered */
	int draining;
} serve_server;

serve_config *serve_config_ref(serve_config *c);
void serve_config_unref(serve_config *c);
/* The api: section and the TLS context it names, from the inventory. */
int serve_config_load(serve_config **out, capstan_ctx *ctx, const capstan_serve_opts *opts);

/* Logs a line through the program's callback. */
void serve_log(serve_server *s, const char *fmt, ...) CAPSTAN_PRINTF(2, 3);

/* The worker threads (jobs.c). */
int serve_pool_new(serve_pool **out, serve_server *s, unsigned workers);
void serve_pool_free(serve_pool *p);
/* Takes one request off the loop: copies what the API needs and queues it. */
void serve_request(serve_server *s, struct evhttp_request *req, int tls);
/* On the loop thread, when the done event fires: answers finished jobs. */
void serve_answer_done(serve_server *s);

/* Connections (conn.c): one more (pausing the listeners at the cap), one
 * fewer (accepting again under it). */
void serve_connection_opened(serve_server *s);
void serve_connection_closed(serve_server *s);

/* A mutual-TLS connection (conn.c): counted, and its requests held to
 * SERVE_REQUEST_SECONDS; NULL when it cannot be made. */
typedef struct serve_conn serve_conn;
struct bufferevent *serve_conn_new(serve_server *s, struct event_base *base);
/* A request of it was read whole: its clock stops. */
void serve_conn_dispatched(struct evhttp_request *req);
/* The SSL a request came over, or NULL (plain HTTP). */
struct ssl_st *serve_request_ssl(struct evhttp_request *req);

#endif
