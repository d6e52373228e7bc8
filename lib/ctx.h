/* The context's insides, shared by the library's files. */
#ifndef CAPSTAN_LIB_CTX_H
#define CAPSTAN_LIB_CTX_H

#include <capstan/common.h>

struct ossl_lib_ctx_st; /* OSSL_LIB_CTX, owned by ossl.c */
typedef struct capstan_store capstan_store;
typedef struct capstan_ossl_cache capstan_ossl_cache;

#define CAPSTAN_KEK_LEN 32

struct capstan_ctx {
	int error_code;
	char error_message[512];
	struct ossl_lib_ctx_st *libctx;
	capstan_store *store;
	char *home;
	unsigned char kek[CAPSTAN_KEK_LEN];
	int kek_set;
	int worker;     /* a batch worker's: the library context is its parent's */
	/* Algorithms fetched once and contexts kept for reuse (ossl.c): this
	 * context's own, so a worker thread's are never shared. */
	capstan_ossl_cache *ossl;
	char *user;     /* the audit log's user name for user_uid, looked up once (audit.c) */
	unsigned user_uid;
};

/* A context for a worker thread: the parent's OpenSSL library context (which
 * is thread-safe) and key-encryption key, its own error message, no store. */
int capstan_ctx_worker_new(capstan_ctx **out, const capstan_ctx *parent);

#if defined(__GNUC__)
#define CAPSTAN_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define CAPSTAN_PRINTF(f, a)
#endif

/* Records a one-line message and returns code, so callers can `return capstan_error(...)`. */
int capstan_error(capstan_ctx *ctx, int code, const char *fmt, ...) CAPSTAN_PRINTF(3, 4);
/* Out of memory: the one error that needs no formatting. */
int capstan_error_oom(capstan_ctx *ctx);

/* Fails with CAPSTAN_EAUTH unless capstan_home_unlock() succeeded. */
int capstan_require_unlocked(capstan_ctx *ctx);
/* Fails unless a home is open. */
int capstan_require_store(capstan_ctx *ctx);

#endif
