/*
 * One mutual-TLS connection's life: counted against the cap from its SSL's
 * creation to its free, and held to two clocks. evhttp has one timeout for
 * every read, so it is set to the idle limit (60 s between requests of a
 * keep-alive connection); the request limit (a request read whole within
 * 10 s of its first byte) is this file's: a client that trickles a header
 * line every few seconds would otherwise keep its connection for hours.
 */
#include <stdlib.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/listener.h>

#include "serve_internal.h"

struct serve_conn {
	serve_server *srv;
	struct bufferevent *bev;
	struct event *deadline;  /* armed at a request's first byte, until it is read */
	int reading;
};

/* The cap: past it, the listeners stop accepting (more wait in the kernel's queue). */
static void accepting(serve_server *s, int on)
{
	struct evhttp_bound_socket *socks[] = { s->https_sock, s->http_sock };

	if (s->accepting_paused == !on || s->draining)
		return;
	for (size_t i = 0; i < 2; i++) {
		struct evconnlistener *l = socks[i] ? evhttp_bound_socket_get_listener(socks[i]) : NULL;
		if (l)
			(on ? evconnlistener_enable : evconnlistener_disable)(l);
	}
	s->accepting_paused = !on;
}

void serve_connection_opened(serve_server *s)
{
	if (++s->connections >= SERVE_MAX_CONNECTIONS)
		accepting(s, 0);
}

void serve_connection_closed(serve_server *s)
{
	s->connections--;
	if (s->connections < SERVE_MAX_CONNECTIONS)
		accepting(s, 1);
}

static void request_late(evutil_socket_t fd, short what, void *arg)
{
	serve_conn *c = arg;

	(void)fd, (void)what;
	/* evhttp's own timeout path closes and frees the connection. */
	bufferevent_trigger_event(c->bev, BEV_EVENT_READING | BEV_EVENT_TIMEOUT, 0);
}

static void arm(serve_conn *c)
{
	struct timeval limit = { SERVE_REQUEST_SECONDS, 0 };

	c->reading = 1;
	evtimer_add(c->deadline, &limit);
}

/* Bytes in: the first of a request starts its clock. */
static void input_changed(struct evbuffer *buf, const struct evbuffer_cb_info *info, void *arg)
{
	serve_conn *c = arg;

	(void)buf;
	if (info->n_added && !c->reading)
		arm(c);
}

static void conn_freed(void *arg)
{
	serve_conn *c = arg;

	if (c->deadline)
		event_free(c->deadline);
	serve_connection_closed(c->srv);
	free(c);
}

struct bufferevent *serve_conn_new(serve_server *s, struct event_base *base)
{
	serve_conn *c = calloc(1, sizeof(*c));
	struct ssl_st *ssl;

	if (!c)
		return NULL;
	c->srv = s;
	if (!(ssl = capstan_tls_ssl_new(s->config->tls, conn_freed, c))) {
		free(c);
		return NULL;
	}
	serve_connection_opened(s);
	/* From here on the SSL owns c: freeing it (alone, or with the bufferevent) frees c. */
	c->bev = bufferevent_openssl_socket_new(base, -1, ssl, BUFFEREVENT_SSL_ACCEPTING,
		BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS);
	if (!c->bev)
		return NULL;
	if (!(c->deadline = evtimer_new(base, request_late, c)) ||
	    !evbuffer_add_cb(bufferevent_get_input(c->bev), input_changed, c)) {
		bufferevent_free(c->bev);
		return NULL;
	}
	arm(c); /* the handshake and the first request share the first clock */
	return c->bev;
}

struct ssl_st *serve_request_ssl(struct evhttp_request *req)
{
	struct evhttp_connection *conn = evhttp_request_get_connection(req);
	struct bufferevent *bev = conn ? evhttp_connection_get_bufferevent(conn) : NULL;
	struct bufferevent *under = bev ? bufferevent_get_underlying(bev) : NULL;

	return bev ? bufferevent_openssl_get_ssl(under ? under : bev) : NULL;
}

void serve_conn_dispatched(struct evhttp_request *req)
{
	struct ssl_st *ssl = serve_request_ssl(req);
	serve_conn *c = ssl ? capstan_tls_ssl_arg(ssl) : NULL;

	if (!c)
		return;
	evtimer_del(c->deadline);
	c->reading = 0;
	/* A pipelined request's bytes may be in already: its clock runs now. */
	if (evbuffer_get_length(bufferevent_get_input(c->bev)) > 0)
		arm(c);
}
