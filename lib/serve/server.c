/*
 * capstan serve: the event loop. Two evhttp servers (mutual TLS on listen,
 * plain HTTP on http), connections counted against a cap, requests handed
 * to the worker pool (jobs.c), signals: SIGTERM/SIGINT drain and stop,
 * SIGHUP reloads the api: section and the server's certificate.
 */
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/thread.h>

#include "serve_internal.h"

#define MAX_BODY (64 * 1024)
#define MAX_HEADERS (16 * 1024)

/* Plain-HTTP connections are not counted: they carry only public data
 * answered at once, and their one timeout (SERVE_REQUEST_SECONDS) bounds them. */
static struct bufferevent *tls_connection(struct event_base *base, void *arg)
{
	return serve_conn_new(arg, base);
}

static struct bufferevent *plain_connection(struct event_base *base, void *arg)
{
	(void)arg;
	return bufferevent_socket_new(base, -1, BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS);
}

static void on_https(struct evhttp_request *req, void *arg)
{
	serve_conn_dispatched(req);
	serve_request(arg, req, 1);
}

static void on_http(struct evhttp_request *req, void *arg)
{
	serve_request(arg, req, 0);
}

static void on_done(evutil_socket_t fd, short what, void *arg)
{
	(void)fd, (void)what;
	serve_answer_done(arg);
}

static void reload(serve_server *s)
{
	serve_config *fresh = NULL;

	if (serve_config_load(&fresh, s->ctx, s->opts) < 0) {
		serve_log(s, "reload refused, the configuration in force stays: %s", capstan_error_message(s->ctx));
		return;
	}
	serve_config_unref(s->config);
	s->config = fresh;
	serve_log(s, "reloaded: api configuration and the server certificate of %s/%s",
		capstan_api_server_env(fresh->api), capstan_api_server_name(fresh->api));
}

static void stop(serve_server *s)
{
	if (s->draining)
		return;
	serve_log(s, "stopping: no new connections, %zu requests in flight", s->inflight);
	if (s->https_sock)
		evhttp_del_accept_socket(s->https, s->https_sock);
	if (s->http_sock)
		evhttp_del_accept_socket(s->http, s->http_sock);
	s->https_sock = s->http_sock = NULL;
	s->draining = 1;
	if (s->inflight == 0)
		event_base_loopexit(s->base, NULL);
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
	(void)what;
	if (sig == SIGHUP)
		reload(arg);
	else
		stop(arg);
}

/* "ADDR:PORT" or "[V6]:PORT". */
static int split_address(capstan_ctx *ctx, const char *what, const char *in, char *host, size_t cap,
	unsigned short *port)
{
	const char *colon = strrchr(in, ':');
	const char *h = in, *he = colon;
	char *end;
	unsigned long p;

	if (in[0] == '[') {
		h = in + 1;
		he = strchr(in, ']');
		if (!he || he[1] != ':')
			colon = NULL;
	}
	if (!colon || !he || he == h || (size_t)(he - h) >= cap)
		return capstan_error(ctx, CAPSTAN_EINVALID, "%s '%s': expected ADDRESS:PORT", what, in);
	p = strtoul(colon + 1, &end, 10);
	if (*end || p == 0 || p > 65535)
		return capstan_error(ctx, CAPSTAN_EINVALID, "%s '%s': the port is not 1-65535", what, in);
	memcpy(host, h, (size_t)(he - h));
	host[he - h] = '\0';
	*port = (unsigned short)p;
	return 0;
}

static struct evhttp *http_new(serve_server *s, int tls, const char *addr, struct evhttp_bound_socket **sock)
{
	struct evhttp *h = evhttp_new(s->base);
	char host[256];
	unsigned short port = 0;

	if (!h)
		return NULL;
	evhttp_set_max_body_size(h, MAX_BODY);
	/* A body over the limit is read (and dropped) before the 413 goes out:
	 * closing on a client still sending resets the connection, and the
	 * client sees no answer at all. The request clock still bounds it. */
	evhttp_set_flags(h, EVHTTP_SERVER_LINGERING_CLOSE);
	evhttp_set_max_headers_size(h, MAX_HEADERS);
	/* Between requests of a keep-alive connection; TLS requests are held to
	 * SERVE_REQUEST_SECONDS by conn.c, plain ones by this. */
	evhttp_set_timeout(h, tls ? SERVE_IDLE_SECONDS : SERVE_REQUEST_SECONDS);
	evhttp_set_allowed_methods(h, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_HEAD | EVHTTP_REQ_PUT |
		EVHTTP_REQ_DELETE | EVHTTP_REQ_PATCH | EVHTTP_REQ_OPTIONS);
	evhttp_set_bevcb(h, tls ? tls_connection : plain_connection, s);
	evhttp_set_gencb(h, tls ? on_https : on_http, s);
	if (split_address(s->ctx, tls ? "listen" : "http", addr, host, sizeof(host), &port) < 0 ||
	    !(*sock = evhttp_bind_socket_with_handle(h, host, port))) {
		if (!*sock && s->ctx->error_code == 0)
			capstan_error(s->ctx, CAPSTAN_EINVALID, "cannot listen on %s (in use, or not an address of this host)",
				addr);
		evhttp_free(h);
		return NULL;
	}
	/* Accepted sockets inherit it: evhttp writes headers and body apart, and
	 * Nagle with the client's delayed ACK held every answer back 40 ms. */
	(void)setsockopt(evhttp_bound_socket_get_fd(*sock), IPPROTO_TCP, TCP_NODELAY, &(int){ 1 }, sizeof(int));
	return h;
}

static unsigned worker_count(const capstan_serve_opts *o)
{
	long n = o->workers ? (long)o->workers : sysconf(_SC_NPROCESSORS_ONLN) * 2;

	return n < 2 ? 2 : n > 64 ? 64 : (unsigned)n;
}

static int start(serve_server *s)
{
	const char *listen = capstan_api_listen(s->config->api), *http = capstan_api_http(s->config->api);

	s->base = event_base_new();
	if (!s->base || !(s->done_ev = event_new(s->base, -1, EV_PERSIST | EV_READ, on_done, s)))
		return capstan_error(s->ctx, CAPSTAN_ERROR, "cannot start the event loop");
	s->sig_term = evsignal_new(s->base, SIGTERM, on_signal, s);
	s->sig_int = evsignal_new(s->base, SIGINT, on_signal, s);
	s->sig_hup = evsignal_new(s->base, SIGHUP, on_signal, s);
	if (!s->sig_term || !s->sig_int || !s->sig_hup || evsignal_add(s->sig_term, NULL) < 0 ||
	    evsignal_add(s->sig_int, NULL) < 0 || evsignal_add(s->sig_hup, NULL) < 0)
		return capstan_error(s->ctx, CAPSTAN_ERROR, "cannot handle signals");
	s->ctx->error_code = 0;
	if (!(s->https = http_new(s, 1, listen, &s->https_sock)) ||
	    (http && !(s->http = http_new(s, 0, http, &s->http_sock))))
		return s->ctx->error_code ? s->ctx->error_code : CAPSTAN_ERROR;
	serve_log(s, "serving https://%s%s%s (%u workers)", listen, http ? " and http://" : "", http ? http : "",
		worker_count(s->opts));
	return serve_pool_new(&s->pool, s, worker_count(s->opts));
}

static void teardown(serve_server *s)
{
	if (s->https)
		evhttp_free(s->https);
	if (s->http)
		evhttp_free(s->http);
	serve_pool_free(s->pool);
	if (s->sig_term)
		event_free(s->sig_term);
	if (s->sig_int)
		event_free(s->sig_int);
	if (s->sig_hup)
		event_free(s->sig_hup);
	if (s->done_ev)
		event_free(s->done_ev);
	if (s->base)
		event_base_free(s->base);
	serve_config_unref(s->config);
}

int capstan_serve(capstan_ctx *ctx, const capstan_serve_opts *opts)
{
	serve_server s = { .ctx = ctx, .opts = opts };
	int rc;

	if ((rc = CAPSTAN_OPTS_CHECK(ctx, opts, CAPSTAN_SERVE_OPTS_VERSION, "capstan_serve_opts")) < 0)
		return rc;
	if (!ctx->kek_set)
		return capstan_error(ctx, CAPSTAN_EAUTH, "serve needs an unlocked inventory");
	if (evthread_use_pthreads() < 0)
		return capstan_error(ctx, CAPSTAN_ERROR, "cannot make libevent thread-safe");
	if ((rc = serve_config_load(&s.config, ctx, opts)) == 0 && (rc = start(&s)) == 0) {
		if (event_base_dispatch(s.base) < 0)
			rc = capstan_error(ctx, CAPSTAN_ERROR, "the event loop failed");
		else
			serve_log(&s, "stopped");
	}
	teardown(&s);
	return rc;
}
