/*
 * capstan — common types: the context, error codes, buffers and secrets.
 *
 * Argument order: outputs first, then the context, then inputs
 * (capstan_issue(&cert, ctx, &opts), capstan_file_read(&buf, ctx, path, max)),
 * libgit2's order. Context-free parsers (capstan_parse_*, *_parse(name, out))
 * keep the strtol-like order of their family.
 *
 * Ownership: whatever a call hands out through an out-parameter is the
 * caller's, released with the function its declaration names (capstan_buf:
 * capstan_buf_free; a capstan_cert: capstan_cert_free; a char * or char **:
 * free(), each string and the array). A const char * returned by value is
 * borrowed: *_name() and *_names() return static strings that live for the
 * whole process; anything else says how long it lives. Pointers handed to a
 * callback live only until the callback returns: copy what you keep.
 *
 * Every library call takes a capstan_ctx and returns 0 on success or a negative
 * capstan_error_code; the one-line message that names what went wrong is then
 * available from capstan_error_message(). The library never prints.
 *
 * Options structs (capstan_issue_opts, capstan_list_opts, ...) begin with
 * `unsigned version`. Initialise each with its CAPSTAN_*_INIT macro, which
 * sets the version of the header it was compiled against, then set fields.
 * Every entry point taking one checks it first: a NULL struct (where NULL is
 * not documented as "the defaults") or any version other than the library's
 * own fails with CAPSTAN_EINVALID and a message naming the struct, before
 * anything else is read. Older versions are not read either: fields have been
 * inserted mid-struct before (capstan_bundle_opts 2), so an old layout cannot
 * be told apart safely. A version is raised whenever a struct's layout changes.
 */
#ifndef CAPSTAN_COMMON_H
#define CAPSTAN_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define CAPSTAN_VERSION "0.1.0"

/* Durations are in seconds throughout the API; a day is this many. */
#define CAPSTAN_DAY_SECONDS 86400
/* A SHA-256 digest's length in bytes: fingerprints, key digests, the audit chain. */
#define CAPSTAN_SHA256_LEN 32

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
	CAPSTAN_EDAMAGED = -7,   /* the inventory's database is damaged (corrupt pages, not a database) */
	CAPSTAN_ITEROVER = -31   /* an iterator has nothing more (not an error) */
} capstan_error_code;

/* The context: OpenSSL library context, open inventory, unlocked key-encryption
 * key and the last error. One per thread; nothing in capstan is global. */
typedef struct capstan_ctx capstan_ctx;

/* *out is the caller's: capstan_ctx_free(). */
CAPSTAN_WARN_UNUSED int capstan_ctx_new(capstan_ctx **out);
/* Closes the inventory and wipes every secret the context holds. NULL is a no-op. */
void capstan_ctx_free(capstan_ctx *ctx);

/* The last error's message: one line, never NULL (empty when there was none).
 * It says what is wrong in the library's own terms (the CN, a DNS SAN, the
 * store password); it never names a command-line flag, a configuration key
 * or an environment variable: saying how to fix it is the front end's part,
 * from capstan_error_subject(). The string lives in the context until its
 * next call. */
const char *capstan_error_message(const capstan_ctx *ctx);
int capstan_error_last(const capstan_ctx *ctx);

/* The inputs an error is about, so that each front end can name them its own
 * way: the CLI as flags (--dns), the configuration as YAML paths
 * (services.web.certs[0].dns). A set of bits: a bad value names the one
 * field that holds it; something missing names every field that would
 * supply it (a server certificate without a DNS or IP SAN: DNS | IP). */
typedef enum {
	CAPSTAN_FIELD_NONE = 0,
	CAPSTAN_FIELD_ENV = 1u << 0,          /* the environment's name */
	CAPSTAN_FIELD_CN = 1u << 1,
	CAPSTAN_FIELD_NAME = 1u << 2,         /* a certificate's name */
	CAPSTAN_FIELD_SERVICE = 1u << 3,
	CAPSTAN_FIELD_PROFILE = 1u << 4,
	CAPSTAN_FIELD_KEY = 1u << 5,          /* the key type */
	CAPSTAN_FIELD_LIFETIME = 1u << 6,
	CAPSTAN_FIELD_RENEW_BEFORE = 1u << 7,
	CAPSTAN_FIELD_DNS = 1u << 8,          /* SANs, by type */
	CAPSTAN_FIELD_IP = 1u << 9,
	CAPSTAN_FIELD_URI = 1u << 10,
	CAPSTAN_FIELD_EMAIL = 1u << 11,
	CAPSTAN_FIELD_CSR = 1u << 12,
	CAPSTAN_FIELD_ORG = 1u << 13,         /* the organisation (O=) */
	CAPSTAN_FIELD_HOME = 1u << 14,        /* which inventory home */
	CAPSTAN_FIELD_PASSPHRASE = 1u << 15,  /* the inventory's passphrase */
	CAPSTAN_FIELD_PASSWORD = 1u << 16,    /* the store password of what is written */
	CAPSTAN_FIELD_INPUT_PASSWORD = 1u << 17, /* the password of an encrypted input */
	CAPSTAN_FIELD_LEGACY = 1u << 18,      /* capstan_write_opts.legacy */
	CAPSTAN_FIELD_CA_KEY = 1u << 19,      /* capstan_export_opts.ca_key: a CA's own key may leave */
	CAPSTAN_FIELD_NEXT_UPDATE = 1u << 20, /* capstan_crl_opts.next_update */
	CAPSTAN_FIELD_ALIAS = 1u << 21        /* capstan_write_opts.alias */
} capstan_field;

#define CAPSTAN_FIELD_SANS (CAPSTAN_FIELD_DNS | CAPSTAN_FIELD_IP | CAPSTAN_FIELD_URI | CAPSTAN_FIELD_EMAIL)

/* The last error's subject: capstan_field bits, 0 when it is not about an
 * input (I/O, a database, a crypto failure). */
unsigned capstan_error_subject(const capstan_ctx *ctx);

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
/* Copies len bytes of s into *out, the caller's: capstan_secret_free(). */
CAPSTAN_WARN_UNUSED int capstan_secret_set(capstan_secret *out, capstan_ctx *ctx,
	const char *s, size_t len);
/* The first line of FILE, newline (and CR) stripped; an empty line is an
 * error, and so is a file not private to the effective user (owned by
 * another uid, or readable or writable by group or others: the message names
 * its mode and owner and the chmod/chown that fixes it). *out is the
 * caller's: capstan_secret_free(). */
CAPSTAN_WARN_UNUSED int capstan_secret_from_file(capstan_secret *out, capstan_ctx *ctx,
	const char *path);
void capstan_secret_free(capstan_secret *s);

CAPSTAN_END_API

#endif
