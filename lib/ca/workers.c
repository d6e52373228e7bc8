/* The batch paths' worker pool (workers.h). One lock guards the queue and
 * publishes each item's outcome to the caller. */
#include <stdlib.h>
#include <unistd.h>

#include "workers.h"

#define MAX_THREADS 16

int (*capstan_pool_thread_create)(pthread_t *thread, const pthread_attr_t *attr, void *(*start)(void *),
	void *arg) = pthread_create;

struct capstan_pool {
	capstan_ctx *ctx;
	capstan_pool_fn fn;
	void *arg;
	size_t count, window;
	unsigned char *done;    /* per item, under mu */
	pthread_mutex_t mu;
	pthread_cond_t done_cv, room_cv;
	size_t next;            /* the next item to take */
	size_t released;        /* the caller is done with the items below */
	unsigned running;       /* workers that have not exited */
	int stop;
	pthread_t threads[MAX_THREADS];
	unsigned started;
	capstan_ctx *self;      /* the caller's own worker context, once it needs one */
};

static void *worker(void *arg)
{
	capstan_pool *p = arg;
	capstan_ctx *w = NULL;
	int ok = capstan_ctx_worker_new(&w, p->ctx) == 0;

	pthread_mutex_lock(&p->mu);
	while (ok) {
		size_t i;
		while (!p->stop && p->next < p->count && p->next >= p->released + p->window)
			pthread_cond_wait(&p->room_cv, &p->mu);
		if (p->stop || p->next >= p->count)
			break;
		i = p->next++;
		pthread_mutex_unlock(&p->mu);
		p->fn(w, p->arg, i);
		pthread_mutex_lock(&p->mu);
		p->done[i] = 1;
		pthread_cond_broadcast(&p->done_cv);
	}
	/* A waiter that finds no worker left does the rest itself. */
	p->running--;
	pthread_cond_broadcast(&p->done_cv);
	pthread_mutex_unlock(&p->mu);
	capstan_ctx_free(w);
	return NULL;
}

int capstan_pool_start(capstan_pool **out, capstan_ctx *ctx, size_t count, size_t window, unsigned threads,
	capstan_pool_fn fn, void *arg)
{
	long online = sysconf(_SC_NPROCESSORS_ONLN);
	unsigned n = threads ? threads : online > 0 ? (unsigned)online : 1;
	capstan_pool *p = calloc(1, sizeof(*p));

	if (!p || !(p->done = calloc(count ? count : 1, 1))) {
		free(p);
		return capstan_error_oom(ctx);
	}
	p->ctx = ctx, p->fn = fn, p->arg = arg, p->count = count, p->window = window ? window : 1;
	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->done_cv, NULL);
	pthread_cond_init(&p->room_cv, NULL);
	if (n > MAX_THREADS)
		n = MAX_THREADS;
	if (n > count)
		n = (unsigned)count;
	pthread_mutex_lock(&p->mu);
	for (; p->started < n; p->started++, p->running++)
		if (capstan_pool_thread_create(&p->threads[p->started], NULL, worker, p) != 0)
			break; /* fewer threads, or none: see capstan_pool_wait */
	pthread_mutex_unlock(&p->mu);
	*out = p;
	return 0;
}

int capstan_pool_wait(capstan_pool *p, size_t i)
{
	int done;

	pthread_mutex_lock(&p->mu);
	while (!p->done[i] && p->running > 0)
		pthread_cond_wait(&p->done_cv, &p->mu);
	/* No worker left: items are taken in order, so those up to i are the caller's. */
	while (!p->done[i] && p->next <= i) {
		size_t j = p->next++;
		pthread_mutex_unlock(&p->mu);
		if (!p->self && capstan_ctx_worker_new(&p->self, p->ctx) < 0)
			return capstan_error(p->ctx, CAPSTAN_ERROR, "cannot start a signing context");
		p->fn(p->self, p->arg, j);
		pthread_mutex_lock(&p->mu);
		p->done[j] = 1;
	}
	done = p->done[i];
	pthread_mutex_unlock(&p->mu);
	return done ? 0 : capstan_error(p->ctx, CAPSTAN_ERROR, "cannot start a signing context");
}

void capstan_pool_release(capstan_pool *p, size_t n)
{
	pthread_mutex_lock(&p->mu);
	if (n > p->released) {
		p->released = n;
		pthread_cond_broadcast(&p->room_cv);
	}
	pthread_mutex_unlock(&p->mu);
}

void capstan_pool_stop(capstan_pool *p)
{
	if (!p)
		return;
	pthread_mutex_lock(&p->mu);
	p->stop = 1;
	pthread_cond_broadcast(&p->room_cv);
	pthread_mutex_unlock(&p->mu);
	for (unsigned i = 0; i < p->started; i++)
		pthread_join(p->threads[i], NULL);
	capstan_ctx_free(p->self);
	pthread_cond_destroy(&p->done_cv);
	pthread_cond_destroy(&p->room_cv);
	pthread_mutex_destroy(&p->mu);
	free(p->done);
	free(p);
}
