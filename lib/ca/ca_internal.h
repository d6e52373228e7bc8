/* What the CA layer's signing paths share (ca.c, issue.c, batch.c, lifecycle.c,
 * ca_rotate.c, revocation.c, export.c): the mint, the issuer, the record. */
#ifndef CAPSTAN_LIB_CA_INTERNAL_H
#define CAPSTAN_LIB_CA_INTERNAL_H

#include <capstan/ca.h>

#include "base/base.h"
#include "ca.h"
#include "crypto/crypto.h"
#include "store/store.h"

/* Everything needed to sign and record one certificate. */
typedef struct {
	capstan_x509_template tmpl;     /* serial is filled in by capstan_ca_mint */
	const char *name;
	const char *service;            /* may be NULL */
	int64_t env_id;
	const char *env_name;
	const capstan_key *subject_key;
	const capstan_buf *sealed_key;  /* a new key to store; NULL: see key_id */
	const char *key_uri;            /* the new key is in a token: its URI (sealed_key empty) */
	int64_t key_id;                 /* the stored key it certifies again; 0: none (CSR) */
	const capstan_cert *issuer;     /* NULL: self-signed root */
	const capstan_x509_issuer *issuer_parsed; /* the issuer parsed already, or NULL */
	const capstan_key *issuer_key;
	int64_t lifetime;
	int64_t renew_before;
	int imported;                   /* signed elsewhere: a serial its issuer used already is an
	                                   error, never a reason to sign again */
} capstan_mint;

/* Inside a transaction: picks a serial unused by the issuer, cuts notAfter to
 * the issuer's, signs, stores the sealed key (if any) and the certificate. */
int capstan_ca_mint(capstan_ctx *ctx, capstan_mint *m, capstan_cert **out);
/* The two halves of mint. sign needs no database (m->tmpl.serial must be
 * set): batch workers call it. record stores what sign made (info is
 * consumed, der taken over) inside a transaction. */
int capstan_ca_sign(capstan_ctx *ctx, capstan_mint *m, capstan_buf *der, capstan_x509_info *info);
int capstan_ca_record(capstan_ctx *ctx, const capstan_mint *m, capstan_x509_info info, capstan_buf *der,
	capstan_cert **out);

/* record's parts, for a writer that stores many at once (batch.c): the
 * record of what sign made (info consumed, der taken over), no database;
 * and *c inserted with its key's row key_id (or CAPSTAN_STORE_KEY_LAST),
 * signed again under a new serial while its issuer used the serial already
 * (taken: the caller's own insert found it so). */
int capstan_ca_record_row(capstan_ctx *ctx, const capstan_mint *m, capstan_x509_info info, capstan_buf *der,
	capstan_cert **c);
int capstan_ca_insert_unused(capstan_ctx *ctx, const capstan_mint *m, capstan_cert **c, int64_t key_id,
	const unsigned char spki[CAPSTAN_SHA256_LEN], int taken);

/* An environment's current intermediate, its unsealed key and its parsed
 * form: loaded once and lent to every certificate signed under it. */
typedef struct {
	int64_t env_id;
	capstan_cert *issuer;
	capstan_key *key;
	capstan_x509_issuer *parsed;
	char *url;       /* the public URL its leaves carry (NULL: none), as last read */
} capstan_signer;

/* The signers loaded so far (by issue, batch, reissue and renew --due). Their
 * addresses stay put while more are loaded; clearing frees them all. */
typedef struct {
	capstan_signer **items;
	size_t count;
	int kept; /* the context's own, used across calls: each use checks the CA is still current */
} capstan_signers;

/* ENV_ID's signer, loaded on first use; nothing is kept when loading fails. */
int capstan_signers_get(capstan_ctx *ctx, capstan_signers *signers, int64_t env_id,
	const capstan_signer **out);
void capstan_signers_clear(capstan_signers *signers);
/* The context's signers, kept from one issuance to the next (a server signs
 * many: unsealing the CA key each time cost more than the signing); NULL
 * when out of memory. Freed with the context (capstan_ctx_signers_free). */
capstan_signers *capstan_ctx_signers(capstan_ctx *ctx);
void capstan_ctx_signers_free(capstan_ctx *ctx);

/* Issuance, in parts the batch path shares (issue.c). */
typedef struct {
	capstan_store_env env;
	const char *cn;
	const char *name;
	int64_t lifetime;
	capstan_strlist sans;
	capstan_key *key;            /* the subject's key: fresh, or the CSR's public key */
	capstan_buf sealed;          /* empty for a CSR */
	char *csr_cn;
	capstan_strlist csr_sans;
	const capstan_signer *signer; /* lent by the caller's capstan_signers */
	capstan_policy_cache *policy; /* lent by a caller checking many (batch); NULL: read each time */
} capstan_issue_plan;

/* Checks the request and resolves names, lifetime and SANs: no key, no issuer
 * yet. p->env is read from the store unless the caller filled it (batch: the
 * previous request's, when it names the same environment). */
int capstan_issue_check(capstan_ctx *ctx, const capstan_issue_opts *o, capstan_issue_plan *p);
/* The mint for a planned request. */
capstan_mint capstan_issue_mint(const capstan_issue_opts *o, const capstan_issue_plan *p, time_t now);
/* Inside the transaction: refuses a line that has a valid certificate (unless
 * replacing), stores what was signed, supersedes the old, writes the audit row. */
int capstan_issue_record(capstan_ctx *ctx, const capstan_issue_opts *o, capstan_issue_plan *p,
	capstan_mint *m, capstan_x509_info info, capstan_buf *der, capstan_cert **out);
void capstan_issue_plan_clear(capstan_issue_plan *p);
/* The refusal of a line that has a valid certificate (serial) already. */
int capstan_issue_conflict(capstan_ctx *ctx, const capstan_issue_plan *p, const char *serial);


/* A CA certificate to mint: a root (self-signed) or an intermediate under root. */
typedef struct {
	capstan_cert_kind kind;
	int64_t env_id;
	const char *env_name;
	const char *org;
	int64_t generation;            /* 1 for the first of its kind in the environment */
	const capstan_key *key;
	const capstan_buf *sealed_key;
	const char *key_uri;           /* a token key: its URI, and sealed_key empty */
	int64_t lifetime;
	time_t now;
	const capstan_cert *root;      /* intermediates: the issuing root */
	const capstan_key *root_key;
	int64_t supersedes;            /* the CA certificate this one replaces (0: none) */
	const char *name_constraints;  /* intermediates: capstan_x509_template's; NULL: none */
} capstan_ca_spec;

/* Inside a transaction: mints the CA certificate, supersedes the one it
 * replaces, and writes the audit row (op) that records both. */
int capstan_ca_mint_ca(capstan_ctx *ctx, const capstan_ca_spec *spec, const char *op, capstan_cert **out);

/* Opens the private key the inventory holds for cert (needs an unlocked home). */
int capstan_ca_load_key(capstan_ctx *ctx, const capstan_cert *cert, capstan_key **key);
/* A new CA key of ENV made in the token TOKEN_URI names, labelled
 * capstan-ENV-ROLE-GENERATION; *sealed is set empty and *uri is the key's
 * URI (the caller's), to record with it. */
int capstan_ca_token_key(capstan_ctx *ctx, const char *token_uri, const char *env, capstan_cert_kind kind,
	int64_t generation, capstan_key_type type, capstan_key **key, capstan_buf *sealed, char **uri);
/* 0 when the token TOKEN_URI names holds no key of the label
 * capstan_ca_token_key would give, else why (CAPSTAN_EEXISTS: how to delete it). */
int capstan_ca_token_label_free(capstan_ctx *ctx, const char *token_uri, const char *env, capstan_cert_kind kind,
	int64_t generation);
/* The URI of cert's key when it is kept in a PKCS#11 token; *uri NULL when
 * it is sealed in the inventory, else the caller's (free()). */
int capstan_ca_key_uri(capstan_ctx *ctx, const capstan_cert *cert, char **uri);
/* Its key as PKCS8 PEM, straight from the seal (export and bundles);
 * refused for a key in a token. */
int capstan_ca_key_pem(capstan_ctx *ctx, const capstan_cert *cert, capstan_buf *out);

/* The issuer's CRL as capstan crl signs it: the stored one while it is
 * fresh, else a new one (revocation.c). */
int capstan_crl_of_issuer(capstan_buf *der, capstan_ctx *ctx, const capstan_cert *issuer);

/* Frees what the OCSP responder kept in the context (ocsp.c). */
void capstan_ocsp_cache_free(capstan_ctx *ctx);

/* OCSP answers kept for reuse, shared by a context and its clones
 * (ocsp_answers.c). new: one reference; ref/unref count them, the last
 * unref frees. get: 1 with *out a copy of the answer kept for that CA's
 * CertID when it still says what says does and is fresh enough, 0 when none
 * is, <0 out of memory. put keeps a copy (or nothing, silently: the next
 * request signs again). A NULL cache keeps nothing. */
int capstan_ocsp_answers_new(capstan_ocsp_answers **out);
capstan_ocsp_answers *capstan_ocsp_answers_ref(capstan_ocsp_answers *a);
void capstan_ocsp_answers_unref(capstan_ocsp_answers *a);
int capstan_ocsp_answers_get(capstan_ocsp_answers *a, capstan_ctx *ctx, int64_t ca_id, const unsigned char *certid,
	size_t len, const capstan_ocsp_answer *says, time_t now, capstan_buf *out);
void capstan_ocsp_answers_put(capstan_ocsp_answers *a, int64_t ca_id, const unsigned char *certid, size_t len,
	const capstan_ocsp_answer *said, time_t this_update, time_t next_update, const capstan_buf *response);

/* The inventory's public URL (capstan_public_url_set), or NULL: the caller's (ocsp.c). */
int capstan_public_url_get(capstan_ctx *ctx, char **url);

/* 0 when there is no environment NAME; CAPSTAN_EEXISTS, said, when there is. */
int capstan_ca_env_absent(capstan_ctx *ctx, const char *name);

/* value, or fallback when value is 0, checked to lie within 1h..100y. */
int capstan_ca_lifetime(capstan_ctx *ctx, const char *what, int64_t value, int64_t fallback,
	int64_t *out);

#endif
