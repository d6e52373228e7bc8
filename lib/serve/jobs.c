/*
 * Requests off the event loop: each is copied into a job, answered by
 * capstan_api_handle on a worker thread with a context of its own (signing
 * and committing never hold up the loop), and handed back to the loop,
 * which writes the answer and the access-log line.
 *
 * Changes (POST under /v1/: sign, renew, revoke) go on to one writer thread
 * (a signing after a worker checked and signed it: capstan_api_prepare),
 * which answers every change queued meanwhile inside one
 * transaction (each its own savepoint) and commits them together: one fsync
 * for the group, every answer sent after the commit that made it durable.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include <capstan/home.h>

#include "serve_internal.h"
#include "store/store.h"

struct serve_job {
	serve_server *srv;
	serve_config *config;
	struct evhttp_request *req;      /* NULL once its connection closed */
	struct evhttp_connection *conn;
	int tls, change;
	capstan_api_change *prepared;    /* a change's first half, done by a worker */
	char *method, *path, *query, *if_none_match;
	capstan_buf body, peer;
	capstan_api_response out;
	struct timespec start;
	serve_job *next;
};

typedef struct {
	serve_job *head, *tail;
} job_queue;

struct serve_pool {
	serve_server *srv;
	pthread_t *threads;
	unsigned count;                 /* threads[0] is the writer */
	pthread_mutex_t lock;
	pthread_cond_t wake, wake_writer;
	job_queue reads, changes;
	serve_job *done;
	int stop;
};

static void push(job_queue *q, serve_job *j)
{
	j->next = NULL;
	if (q->tail)
		q->tail->next = j;
	else
		q->head = j;
	q->tail = j;
}

static serve_job *take_all(job_queue *q)
{
	serve_job *all = q->head;

	q->head = q->tail = NULL;
	return all;
}

/* Finished jobs back to the loop (lock held). */
static void hand_back(serve_pool *p, serve_job *j)
{
	j->next = p->done;
	p->done = j;
	event_active(p->srv->done_ev, EV_READ, 0);
}

static void job_free(serve_job *j)
{
	if (!j)
		return;
	serve_config_unref(j->config);
	free(j->method);
	free(j->path);
	free(j->query);
	free(j->if_none_match);
	capstan_buf_free(&j->body);
	capstan_buf_free(&j->peer);
	capstan_api_response_clear(&j->out);
	capstan_api_change_free(j->prepared);
	free(j);
}

static void answer(capstan_ctx *ctx, serve_job *j)
{
	capstan_api_request in = {
		.method = j->method, .path = j->path, .query = j->query,
		.body = j->body.data, .body_len = j->body.len, .if_none_match = j->if_none_match,
		.tls = j->tls, .peer_der = j->peer.data, .peer_der_len = j->peer.len,
	};

	if (j->prepared)
		capstan_api_commit(&j->out, ctx, j->prepared);
	else
		capstan_api_handle(&j->out, ctx, j->config->api, &in);
}

/* A change's half that needs no transaction (a signing's checks and
 * signature), here on a worker; 1 when the writer must go on with it. */
static int prepare(capstan_ctx *ctx, serve_job *j)
{
	capstan_api_request in = {
		.method = j->method, .path = j->path, .query = j->query,
		.body = j->body.data, .body_len = j->body.len, .if_none_match = j->if_none_match,
		.tls = j->tls, .peer_der = j->peer.data, .peer_der_len = j->peer.len,
	};

	j->prepared = capstan_api_prepare(&j->out, ctx, j->config->api, &in);
	return j->prepared || j->out.status == 0;
}

static void *worker(void *arg)
{
	serve_pool *p = arg;
	capstan_ctx *ctx = NULL;
	serve_job *j;

	/* A worker that cannot open the inventory answers 503: the loop never waits on it. */
	if (capstan_ctx_clone(&ctx, p->srv->ctx) < 0)
		ctx = NULL;
	pthread_mutex_lock(&p->lock);
	for (;;) {
		while (!p->reads.head && !p->stop)
			pthread_cond_wait(&p->wake, &p->lock);
		if (!(j = p->reads.head))
			break;
		if (!(p->reads.head = j->next))
			p->reads.tail = NULL;
		pthread_mutex_unlock(&p->lock);
		if (!ctx)
			j->out.status = 503;
		else if (!j->change)
			answer(ctx, j);
		else if (prepare(ctx, j)) {
			pthread_mutex_lock(&p->lock);
			push(&p->changes, j);
			pthread_cond_signal(&p->wake_writer);
			continue;
		}
		pthread_mutex_lock(&p->lock);
		hand_back(p, j);
	}
	pthread_mutex_unlock(&p->lock);
	capstan_ctx_free(ctx);
	return NULL;
}

/* A group that did not commit: what it said it did, it did not. */
static void not_durable(serve_job *group)
{
	static const char body[] = "{\"error\": \"the change could not be committed; try again\"}\n";

	for (serve_job *j = group; j; j = j->next)
		if (j->out.status >= 200 && j->out.status < 300) {
			j->out.status = 503;
			j->out.etag[0] = '\0';
			snprintf(j->out.content_type, sizeof(j->out.content_type), "application/json");
			capstan_buf_free(&j->out.body);
			if ((j->out.body.data = (unsigned char *)strdup(body)))
				j->out.body.len = sizeof(body) - 1;
		}
}

/* Answers one group of changes in one transaction; 0 when it committed. */
static int answer_group(capstan_ctx *ctx, serve_job *group)
{
	int rc = capstan_store_group_begin(ctx);

	for (serve_job *j = group; j; j = j->next) {
		if (rc == 0)
			answer(ctx, j);
		else
			j->out.status = 503;
	}
	if (rc == 0 && (rc = capstan_store_group_end(ctx, 1)) < 0)
		not_durable(group);
	return rc;
}

static void *writer(void *arg)
{
	serve_pool *p = arg;
	capstan_ctx *ctx = NULL;
	serve_job *group, *next;

	if (capstan_ctx_clone(&ctx, p->srv->ctx) < 0)
		ctx = NULL;
	pthread_mutex_lock(&p->lock);
	for (;;) {
		while (!p->changes.head && !p->stop)
			pthread_cond_wait(&p->wake_writer, &p->lock);
		if (!(group = take_all(&p->changes)))
			break;
		pthread_mutex_unlock(&p->lock);
		if (ctx)
			answer_group(ctx, group);
		else
			for (serve_job *j = group; j; j = j->next)
				j->out.status = 503;
		pthread_mutex_lock(&p->lock);
		for (serve_job *j = group; j; j = next) {
			next = j->next;
			hand_back(p, j);
		}
	}
	pthread_mutex_unlock(&p->lock);
	capstan_ctx_free(ctx);
	return NULL;
}

int serve_pool_new(serve_pool **out, serve_server *s, unsigned workers)
{
	serve_pool *p = calloc(1, sizeof(*p));

	if (!p || !(p->threads = calloc(workers, sizeof(*p->threads)))) {
		free(p);
		return capstan_error_oom(s->ctx);
	}
	p->srv = s;
	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->wake, NULL);
	pthread_cond_init(&p->wake_writer, NULL);
	for (; p->count < workers; p->count++)
		if (pthread_create(&p->threads[p->count], NULL, p->count == 0 ? writer : worker, p) != 0)
			break;
	if (p->count < 2) {
		serve_pool_free(p);
		return capstan_error(s->ctx, CAPSTAN_ERROR, "cannot start worker threads");
	}
	*out = p;
	return 0;
}

void serve_pool_free(serve_pool *p)
{
	if (!p)
		return;
	pthread_mutex_lock(&p->lock);
	p->stop = 1;
	pthread_cond_broadcast(&p->wake);
	pthread_cond_broadcast(&p->wake_writer);
	pthread_mutex_unlock(&p->lock);
	for (unsigned i = 0; i < p->count; i++)
		pthread_join(p->threads[i], NULL);
	while (p->done) {
		serve_job *j = p->done;
		p->done = j->next;
		job_free(j);
	}
	pthread_mutex_destroy(&p->lock);
	pthread_cond_destroy(&p->wake);
	pthread_cond_destroy(&p->wake_writer);
	free(p->threads);
	free(p);
}

static void connection_gone(struct evhttp_connection *conn, void *arg)
{
	serve_job *j = arg;

	(void)conn;
	j->req = NULL; /* libevent frees it: answer no one */
}

static const char *method_name(enum evhttp_cmd_type m)
{
	switch (m) {
	case EVHTTP_REQ_GET: return "GET";
	case EVHTTP_REQ_POST: return "POST";
	case EVHTTP_REQ_HEAD: return "HEAD";
	case EVHTTP_REQ_PUT: return "PUT";
	case EVHTTP_REQ_DELETE: return "DELETE";
	case EVHTTP_REQ_OPTIONS: return "OPTIONS";
	case EVHTTP_REQ_PATCH: return "PATCH";
	default: return "OTHER";
	}
}

/* The request's parts the API reads, copied: the job outlives the loop's turn. */
static int job_fill(serve_job *j, capstan_ctx *ctx, struct evhttp_request *req)
{
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
	const char *raw = uri ? evhttp_uri_get_path(uri) : NULL, *q = uri ? evhttp_uri_get_query(uri) : NULL;
	const char *inm = evhttp_find_header(evhttp_request_get_input_headers(req), "If-None-Match");
	struct evbuffer *in = evhttp_request_get_input_buffer(req);
	size_t len = evbuffer_get_length(in), plen = 0;

	j->method = strdup(method_name(evhttp_request_get_command(req)));
	j->path = raw ? evhttp_uridecode(raw, 0, &plen) : strdup("/");
	j->query = q ? strdup(q) : NULL;
	j->if_none_match = inm ? strdup(inm) : NULL;
	if (!j->method || !j->path || (q && !j->query) || (inm && !j->if_none_match))
		return capstan_error_oom(ctx);
	if (raw && plen != strlen(j->path))
		return capstan_error(ctx, CAPSTAN_EINVALID, "a NUL in the path");
	if (len && capstan_buf_append(ctx, &j->body, evbuffer_pullup(in, (ev_ssize_t)len), len) < 0)
		return CAPSTAN_ERROR;
	if (j->tls) {
		struct ssl_st *ssl = serve_request_ssl(req);
		if (!ssl || capstan_tls_peer_der(&j->peer, ctx, ssl) < 0)
			return CAPSTAN_EAUTH;
	}
	return 0;
}

static void reply_plain(struct evhttp_request *req, int status, const char *why)
{
	struct evbuffer *b = evbuffer_new();

	evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type", "application/json");
	if (b)
		evbuffer_add_printf(b, "{\"error\": \"%s\"}\n", why);
	evhttp_send_reply(req, status, NULL, b);
	if (b)
		evbuffer_free(b);
}

void serve_request(serve_server *s, struct evhttp_request *req, int tls)
{
	serve_job *j = calloc(1, sizeof(*j));
	int rc;

	if (!j) {
		reply_plain(req, 503, "the server is out of memory");
		return;
	}
	clock_gettime(CLOCK_MONOTONIC, &j->start);
	j->srv = s;
	j->req = req;
	j->tls = tls;
	j->conn = evhttp_request_get_connection(req);
	if ((rc = job_fill(j, s->ctx, req)) < 0) {
		reply_plain(req, rc == CAPSTAN_EAUTH ? 401 : rc == CAPSTAN_EINVALID ? 400 : 503,
			rc == CAPSTAN_EAUTH ? "no verified client certificate" :
			rc == CAPSTAN_EINVALID ? "a NUL in the path" : "the server is out of memory");
		job_free(j);
		return;
	}
	j->config = serve_config_ref(s->config);
	j->change = tls && strcmp(j->method, "POST") == 0 && strncmp(j->path, "/v1/", 4) == 0;
	evhttp_connection_set_closecb(j->conn, connection_gone, j);
	s->inflight++;
	pthread_mutex_lock(&s->pool->lock);
	push(&s->pool->reads, j); /* a change, too: a worker prepares it for the writer */
	pthread_cond_signal(&s->pool->wake);
	pthread_mutex_unlock(&s->pool->lock);
}

static void access_log(serve_server *s, serve_job *j)
{
	struct timespec now;
	char at[32];
	time_t t = time(NULL);
	struct tm tm;
	long ms;

	clock_gettime(CLOCK_MONOTONIC, &now);
	ms = (now.tv_sec - j->start.tv_sec) * 1000 + (now.tv_nsec - j->start.tv_nsec) / 1000000;
	gmtime_r(&t, &tm);
	strftime(at, sizeof(at), "%Y-%m-%dT%H:%M:%SZ", &tm);
	serve_log(s, "%s %s %s %s %d %ldms%s", at, j->out.identity[0] ? j->out.identity : "-", j->method,
		j->path, j->out.status, ms, j->req ? "" : " (client gone)");
}

static void send_answer(serve_job *j)
{
	struct evkeyvalq *h = evhttp_request_get_output_headers(j->req);
	struct evbuffer *b = evbuffer_new();
	int status = j->out.status ? j->out.status : 500;

	evhttp_connection_set_closecb(j->conn, NULL, NULL);
	if (j->out.content_type[0])
		evhttp_add_header(h, "Content-Type", j->out.content_type);
	if (j->out.etag[0])
		evhttp_add_header(h, "ETag", j->out.etag);
	if (status == 503 && !j->out.body.len) {
		reply_plain(j->req, 503, "the server cannot answer now");
		evbuffer_free(b);
		return;
	}
	if (b && j->out.body.len)
		evbuffer_add(b, j->out.body.data, j->out.body.len);
	evhttp_send_reply(j->req, status, NULL, b);
	if (b)
		evbuffer_free(b);
}

void serve_answer_done(serve_server *s)
{
	serve_job *done, *next;

	pthread_mutex_lock(&s->pool->lock);
	done = s->pool->done;
	s->pool->done = NULL;
	pthread_mutex_unlock(&s->pool->lock);
	for (serve_job *j = done; j; j = next) {
		next = j->next;
		if (j->req)
			send_answer(j);
		access_log(s, j);
		s->inflight--;
		job_free(j);
	}
	if (s->draining && s->inflight == 0)
		event_base_loopexit(s->base, NULL);
}
