/* What capstan import's two forms share (import_ca.c) and the easy-rsa form
 * (import_easyrsa.c), for import.c, the public entry. */
#ifndef CAPSTAN_LIB_IMPORT_INTERNAL_H
#define CAPSTAN_LIB_IMPORT_INTERNAL_H

#include <capstan/import.h>

#include "crypto/crypto.h"
#include "store/store.h"

/* The CA's files read and checked, its key sealed, and a new intermediate's
 * key made when it is a root: all before the write lock. */
typedef struct {
	capstan_ca_files files;
	capstan_buf sealed;            /* the imported CA's key */
	capstan_key *new_key;          /* a new intermediate's, for an imported root */
	capstan_buf new_sealed;
	int64_t lifetimes[2];          /* new intermediate, leaves */
} capstan_import_plan;

int capstan_import_plan_make(capstan_ctx *ctx, const capstan_import_opts *o, const capstan_input *cert,
	const capstan_input *key, capstan_import_plan *p);
void capstan_import_plan_clear(capstan_import_plan *p);

/* Inside the transaction: the environment (*env, its name o->env's), its
 * root and the intermediate that signs its leaves (imported, or new under
 * an imported root), each with its audit row. */
int capstan_import_records(capstan_ctx *ctx, const capstan_import_opts *o, capstan_import_plan *p,
	capstan_store_env *env, capstan_cert **root, capstan_cert **inter);

/* Inside the transaction: one certificate signed elsewhere, stored as it is
 * with its sealed key (NULL: none), and its audit row ("import"). */
int capstan_import_cert(capstan_ctx *ctx, const capstan_store_env *env, capstan_cert_kind kind,
	capstan_profile profile, const char *name, const capstan_buf *der, const capstan_buf *sealed,
	const capstan_cert *issuer, capstan_cert **out);

/* capstan_import_ca with opts->easy_rsa or opts->openssl_ca (import_easyrsa.c). */
int capstan_import_easyrsa(capstan_import_result *out, capstan_ctx *ctx, const capstan_import_opts *o);

#endif
