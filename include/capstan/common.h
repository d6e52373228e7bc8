/*
 * capstan — common types: the context, error codes, buffers and secrets.
 *
 * Every library call takes a capstan_ctx and returns 0 on success or a negative
 * capstan_error_code; the one-line message that names what went wrong is then
 * available from capstan_error_message(). The library never prints.
 */
#ifndef CAPSTAN_COMMON_H
#define CAPSTAN_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define CAPSTAN_VERSION "0.1.0"

/* Durations are in seconds throughout the API; a day is this many. */
#define CAPSTAN_DAY_SECONDS 86400

#if defined(__GNUC__)
#define CAPSTAN_WARN_UNUSED __attribute__((warn_unused_result))
#else
#define CAPSTAN_WARN_UNUSED
#endif

/*
 * The public API. Each header declares it between CAPSTAN_BEGIN_API and
 * CAPSTAN_END_API: C linkage for C++ callers, and default visibility in a
 * library built with -fvisibility=hidden, so that libcapstan.so exports these
 * declarations and nothing else (the library's internal calls stay hidden).
 */
#if defined(__GNUC__)
#define CAPSTAN_VISIBLE_PUSH _Pragma("GCC visibility push(default)")
#define CAPSTAN_VISIBLE_POP _Pragma("GCC visibility pop")
#else
#define CAPSTAN_VISIBLE_PUSH
#define CAPSTAN_VISIBLE_POP
#endif
#ifdef __cplusplus
#define CAPSTAN_BEGIN_API CAPSTAN_VISIBLE_PUSH extern "C" {
#define CAPSTAN_END_API } CAPSTAN_VISIBLE_POP
#else
#define CAPSTAN_BEGIN_API CAPSTAN_VISIBLE_PUSH
#define CAPSTAN_END_API CAPSTAN_VISIBLE_POP
#endif

CAPSTAN_BEGIN_API

typedef enum {
	CAPSTAN_OK = 0,
	CAPSTAN_ERROR = -1,      /* the operation failed (I/O, crypto, database) */
	CAPSTAN_EINVALID = -2,   /* a value or an input file is not acceptable */
	CAPSTAN_ENOTFOUND = -3,  /* no such environment, certificate, file */
	CAPSTAN_EEXISTS = -4,    /* it is there already */
	CAPSTAN_EAUTH = -5,      /* wrong or missing passphrase or password */
	CAPSTAN_EAMBIGUOUS = -6, /* a reference names more than one thing */
	CAPSTAN_ITEROVER = -31   /* an iterator has nothing more (not an error) */
} capstan_error_code;

/* The context: OpenSSL library context, open inventory, unlocked key-encryption
 * key and the last error. One per thread; nothing in capstan is global. */
typedef struct capstan_ctx capstan_ctx;

CAPSTAN_WARN_UNUSED int capstan_ctx_new(capstan_ctx **out);
/* Closes the inventory and wipes every secret the context holds. NULL is a no-op. */
void capstan_ctx_free(capstan_ctx *ctx);

/* The last error's message: one line, never NULL (empty when there was none). */
const char *capstan_error_message(const capstan_ctx *ctx);
int capstan_error_last(const capstan_ctx *ctx);

/* A byte buffer returned by the library. The caller owns it and releases it with
 * capstan_buf_free(), which wipes it (buffers may hold key material). data is
 * always followed by a NUL byte that len does not count, so text such as PEM
 * can be used as a C string. */
typedef struct {
	unsigned char *data;
	size_t len;
	size_t cap;   /* bytes allocated (appends double it); 0: exactly len + 1, or none */
} capstan_buf;

#define CAPSTAN_BUF_INIT { NULL, 0, 0 }
void capstan_buf_free(capstan_buf *buf);

/* Overwrite memory in a way the compiler may not optimise away. */
void capstan_wipe(void *p, size_t len);

/* A passphrase or password: NUL-terminated, wiped by capstan_secret_free(). */
typedef struct {
	char *data;
	size_t len;
} capstan_secret;

#define CAPSTAN_SECRET_INIT { NULL, 0 }
/* Copies len bytes of s. */
CAPSTAN_WARN_UNUSED int capstan_secret_set(capstan_ctx *ctx, capstan_secret *out,
	const char *s, size_t len);
/* The first line of FILE, newline (and CR) stripped; an empty line is an error. */
CAPSTAN_WARN_UNUSED int capstan_secret_from_file(capstan_ctx *ctx, capstan_secret *out,
	const char *path);
void capstan_secret_free(capstan_secret *s);

CAPSTAN_END_API

#endif
