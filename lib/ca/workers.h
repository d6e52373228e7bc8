/*
 * The worker pool of the batch paths (issue --batch, renew --due): items
 * 0..count-1 done by fn on worker threads, each thread with a context of its
 * own (ctx.h: capstan_ctx_worker_new), taken in order and never more than
 * window ahead of what the caller has released, so memory stays bounded.
 * The caller waits for each item in order. When no thread can be started (or
 * none can make its context), the caller's wait does the item itself: the
 * pool is slower then, never stuck.
 */
#ifndef CAPSTAN_LIB_WORKERS_H
#define CAPSTAN_LIB_WORKERS_H

#include <pthread.h>
#include <stddef.h>

#include "base/base.h"

typedef struct capstan_pool capstan_pool;

/* Does item i with w, a context of the thread it runs on (no store, the
 * parent's key-encryption key). What it makes goes into the caller's item:
 * capstan_pool_wait() returning is what makes it visible to the caller. */
typedef void (*capstan_pool_fn)(capstan_ctx *w, void *arg, size_t i);

/* threads 0: one per online CPU. Fails only for want of memory. */
int capstan_pool_start(capstan_pool **out, capstan_ctx *ctx, size_t count, size_t window, unsigned threads,
	capstan_pool_fn fn, void *arg);
/* Until item i is done (i below count); CAPSTAN_ERROR when it cannot be. */
int capstan_pool_wait(capstan_pool *p, size_t i);
/* The caller is done with the items below n: workers may take up to n + window. */
void capstan_pool_release(capstan_pool *p, size_t n);
/* Stops the workers (items not yet taken stay undone), joins them, frees p. */
void capstan_pool_stop(capstan_pool *p);

/* How the pool makes a thread: pthread_create. Internal: a test replaces it
 * to see the pool work with no thread at all. */
extern int (*capstan_pool_thread_create)(pthread_t *thread, const pthread_attr_t *attr,
	void *(*start)(void *), void *arg);

#endif
