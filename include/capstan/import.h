/*
 * capstan — adopting an existing CA as a new environment.
 */
#ifndef CAPSTAN_IMPORT_H
#define CAPSTAN_IMPORT_H

#include "common.h"
#include "policy.h"
#include "cert.h"
#include "convert.h"

CAPSTAN_BEGIN_API

typedef struct {
	unsigned version;
	const char *env;
	const char *easy_rsa;          /* an easy-rsa 3 PKI directory; NULL: the CA from the inputs */
	const char *openssl_ca;        /* an openssl ca directory (cacert.pem, private/cakey.pem,
	                                  index.txt, newcerts/), imported as easy_rsa is */
	capstan_input ca_cert;         /* the CA's certificate alone (PEM or DER) */
	capstan_input ca_key;          /* its private key (PKCS1, SEC1, PKCS8, encrypted PKCS8) */
	capstan_input chain;           /* its issuers up to the root; data NULL: none (a root) */
	const capstan_secret *key_password; /* opens an encrypted key; NULL: none */
	capstan_key_type key;          /* a new intermediate's key (an imported root) */
	int64_t ca_lifetime;           /* that intermediate's lifetime, seconds; 0: default */
	int64_t leaf_lifetime;         /* the environment's default for leaves; 0: default */
} capstan_import_opts;

#define CAPSTAN_IMPORT_OPTS_VERSION 1
#define CAPSTAN_IMPORT_OPTS_INIT { .version = CAPSTAN_IMPORT_OPTS_VERSION, .key = CAPSTAN_DEFAULT_KEY }

/* What an import made: the caller's, capstan_import_result_clear(). */
typedef struct {
	capstan_cert *root;
	capstan_cert *intermediate;    /* the one that signs new leaves */
	size_t leaves, revoked, keys;  /* easy-rsa: leaves imported, revoked among them, with their key */
	int64_t crl_number;            /* the adopted CA's last CRL number: easy-rsa's (0: none); a CA
	                                  imported alone goes on from the import's time in seconds */
	size_t expired;                /* easy-rsa: leaves not revoked whose validity had ended */
} capstan_import_result;

void capstan_import_result_clear(capstan_import_result *r);

/*
 * Creates ENV around an existing CA; needs an unlocked home. An
 * intermediate (opts->chain up to its root, which becomes the environment's
 * trust, kept without its key) signs the leaves itself; a self-signed root
 * gets a new intermediate under it, as capstan_env_init makes one. Its key
 * is sealed into the inventory; each certificate is recorded in the audit
 * log (op "import"). CAPSTAN_EEXISTS if ENV exists; CAPSTAN_EINVALID for a
 * key that is not the certificate's, a certificate that is not a CA, a
 * chain that does not reach a root.
 *
 * With opts->easy_rsa, the CA is the PKI's (ca.crt, private/ca.key, opened
 * with key_password when encrypted), a root that gets a capstan
 * intermediate, and every certificate of its index.txt is imported too,
 * with its serial, status, revocation time and reason, and its key from
 * private/ (revoked/private_by_serial/) when there is one, sealed. The
 * root's next CRL (capstan_crl_items, roots included) is numbered above the
 * last one easy-rsa issued: crlnumber's, else crl.pem's.
 */
CAPSTAN_WARN_UNUSED int capstan_import_ca(capstan_import_result *out, capstan_ctx *ctx,
	const capstan_import_opts *opts);

CAPSTAN_END_API

#endif
