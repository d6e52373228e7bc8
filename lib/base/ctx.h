/* The context's insides, shared by the library's files. */
#ifndef CAPSTAN_LIB_CTX_H
#define CAPSTAN_LIB_CTX_H

#include <capstan/common.h>

struct ossl_lib_ctx_st; /* OSSL_LIB_CTX, owned by ossl.c */
typedef struct capstan_store capstan_store;
typedef struct capstan_ossl_cache capstan_ossl_cache;
typedef struct capstan_ocsp_cache capstan_ocsp_cache;
typedef struct capstan_ocsp_answers capstan_ocsp_answers;

#define CAPSTAN_KEK_LEN 32
#define CAPSTAN_MAX_WARNINGS 8

struct capstan_ctx {
	int error_code;
	char error_message[1024]; /* room for a quoted value and why it is refused */
	unsigned error_subject; /* capstan_field bits of the last error */
	struct ossl_lib_ctx_st *libctx;
	capstan_store *store;
	char *home;
	char *inventory; /* capstan_ctx_set_inventory: the database, instead of the home's */
	unsigned char kek[CAPSTAN_KEK_LEN];
	int kek_set;
	/* The audit log's sealing key, derived from the data key at unlock, and
	 * why the log may not be extended (its end does not match its seal):
	 * set by capstan_audit_unlocked (audit.c). */
	unsigned char audit_key[CAPSTAN_KEK_LEN];
	int audit_key_set;
	int audit_sealed; /* the log's end is sealed: each append checks the seal first */
	char *audit_broken;
	int worker;     /* a batch worker's: the library context is its parent's */
	/* Algorithms fetched once and contexts kept for reuse (ossl.c): this
	 * context's own, so a worker thread's are never shared. */
	capstan_ossl_cache *ossl;
	/* What the OCSP responder keeps between answers (lib/ca/ocsp.c): each
	 * CA's CertID hashes and its responder, parsed once. */
	capstan_ocsp_cache *ocsp;
	/* OCSP answers kept for reuse (lib/ca/ocsp_answers.c): made when a home
	 * is opened, shared with the context's clones. */
	capstan_ocsp_answers *ocsp_answers;
	char *user;     /* the audit log's user name for user_uid, looked up once (audit.c) */
	char *actor;    /* capstan_ctx_set_actor: the audit rows' user instead */
	void *kept_signers; /* the CA layer's signers kept between calls (ca.c) */
	unsigned user_uid;
	/* PKCS#11 (lib/crypto/pkcs11.c): the module and PIN the program set
	 * (capstan_ctx_set_pkcs11_module/_pin), and the module whose provider
	 * this context's library context has loaded (NULL: none yet). */
	char *pkcs11_module;
	capstan_secret pkcs11_pin;
	char *pkcs11_loaded;
	/* What was found unsafe but not refused (a home readable by others),
	 * for the program to show: capstan_home_warning(). Owned, freed with
	 * the context. */
	char *warnings[CAPSTAN_MAX_WARNINGS];
	size_t warning_count;
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
/* The same, naming the inputs at fault (capstan_field bits). capstan_error
 * itself records no subject, so a stale one never outlives its error. */
int capstan_error_at(capstan_ctx *ctx, int code, unsigned subject, const char *fmt, ...) CAPSTAN_PRINTF(4, 5);
/* Sets the subject of the error just recorded (by a helper that knows the
 * value, not the field it came from); returns code. */
int capstan_error_subject_set(capstan_ctx *ctx, int code, unsigned subject);
/* An options struct at a public entry point: present, and of this header's
 * version (see common.h); else CAPSTAN_EINVALID naming the struct. */
int capstan_opts_check(capstan_ctx *ctx, const void *opts, unsigned version, unsigned want, const char *name);
#define CAPSTAN_OPTS_CHECK(ctx, o, want, name) capstan_opts_check((ctx), (o), (o) ? (o)->version : 0u, (want), (name))
/* Out of memory: the one error that needs no formatting. */
int capstan_error_oom(capstan_ctx *ctx);

struct stat;
/* Opens an input without blocking on a FIFO nobody writes to, then makes it
 * blocking again: a descriptor for a regular file (or, with allow_pipe, a
 * pipe), with its fstat in *sb; else a negative error, recorded. */
int capstan_input_open(capstan_ctx *ctx, const char *path, int allow_pipe, struct stat *sb);

/* Whether the file or directory PATH (its stat in SB), called WHAT in the
 * message ("home", "inventory file"), is private to the effective user: an
 * owner other than the effective uid, or write access for group or others,
 * is an error with subject SUBJECT naming the path, its mode and owner, and
 * the chmod/chown that fixes it. Read access for group or others is an error
 * too when SECRET, else a warning kept in the context. */
int capstan_private_check(capstan_ctx *ctx, unsigned subject, const char *what, const char *path,
	const struct stat *sb, int secret);

/* Fails with CAPSTAN_EAUTH unless capstan_home_unlock() succeeded. */
int capstan_require_unlocked(capstan_ctx *ctx);
/* Fails unless a home is open. */
int capstan_require_store(capstan_ctx *ctx);

#endif
