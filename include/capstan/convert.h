/*
 * capstan — formats: certificates and keys out of the inventory (export) or
 * from files (convert) into PEM, DER, PKCS8 (plain and encrypted), PKCS12
 * keystores and truststores that Java loads, and JKS.
 *
 * What is written is first gathered as "material": an ordered chain (leaf
 * first), the certificates to trust (truststores), and the private key.
 */
#ifndef CAPSTAN_CONVERT_H
#define CAPSTAN_CONVERT_H

#include "common.h"
#include "cert.h"

CAPSTAN_BEGIN_API

typedef enum {
	CAPSTAN_FORMAT_CERT = 0,      /* leaf, PEM */
	CAPSTAN_FORMAT_CHAIN,         /* leaf + intermediates, PEM */
	CAPSTAN_FORMAT_KEY,           /* PKCS8 PEM, unencrypted */
	CAPSTAN_FORMAT_PKCS8_ENC,     /* PKCS8 PEM, PBES2 AES-256-CBC, PBKDF2-HMAC-SHA256 */
	CAPSTAN_FORMAT_DER,           /* leaf, DER */
	CAPSTAN_FORMAT_PKCS12,        /* keystore: key + full chain, alias = name */
	CAPSTAN_FORMAT_TRUSTSTORE,    /* PKCS12 of trusted certificates Java takes as trustedCertEntry */
	CAPSTAN_FORMAT_JKS,           /* the same as a Java KeyStore (JKS) */
	CAPSTAN_FORMAT_JKS_TRUSTSTORE,
	CAPSTAN_FORMAT_PEM,           /* leaf + intermediates + key, PEM */
	CAPSTAN_FORMAT__COUNT
} capstan_format;

/* The name and the list are static strings (never freed). */
int capstan_format_parse(const char *name, capstan_format *out);
const char *capstan_format_name(capstan_format fmt);
/* "cert, chain, key, ...", for messages. */
const char *capstan_format_names(void);
/* Holds a private key: written 0600. */
int capstan_format_has_key(capstan_format fmt);
/* Protected by a store password (pkcs8-enc, PKCS12, JKS). */
int capstan_format_needs_password(capstan_format fmt);
/* Made of trusted certificates rather than a chain. */
int capstan_format_is_truststore(capstan_format fmt);

/* Material owns copies of everything it holds (keys wiped when freed). */
typedef struct capstan_material capstan_material;
void capstan_material_free(capstan_material *material);

/*
 * Material for FMT from the inventory: the certificate's chain up to its
 * root, its private key when FMT holds one (the home must be unlocked), or,
 * for truststores, the environment's trust bundle. A key is recorded in the
 * audit log as capstan_export records it (no transaction may be open), and a
 * CA's own key is refused: capstan_export_to() takes it when asked. *out is
 * the caller's: capstan_material_free().
 */
CAPSTAN_WARN_UNUSED int capstan_material_from_cert(capstan_material **out, capstan_ctx *ctx,
	const capstan_cert *cert, capstan_format fmt);

typedef struct {
	const char *name;           /* for messages */
	const unsigned char *data;  /* NULL: no such input */
	size_t len;
} capstan_input;

typedef struct {
	unsigned version;
	capstan_input in;           /* certificates, a chain, a key or a PKCS12 */
	capstan_input key;          /* a key: PKCS1, SEC1, PKCS8 or encrypted PKCS8, PEM or DER */
	capstan_input chain;        /* more certificates */
	const capstan_secret *password; /* for encrypted inputs */
	int truststore;             /* the output trusts certificates: no chain is built */
} capstan_convert_inputs;

#define CAPSTAN_CONVERT_INPUTS_VERSION 1
#define CAPSTAN_CONVERT_INPUTS_INIT { .version = CAPSTAN_CONVERT_INPUTS_VERSION }

/*
 * Material from files, their formats detected, not declared. The key must
 * match a certificate (which becomes the leaf); the chain is put in order
 * (leaf, then each issuer, each signature checked) and a certificate that
 * does not fit in it is an error (a gap). The inputs' bytes and password are
 * only read during the call (the material keeps its own copies); *out is the
 * caller's: capstan_material_free().
 */
CAPSTAN_WARN_UNUSED int capstan_material_from_files(capstan_material **out, capstan_ctx *ctx,
	const capstan_convert_inputs *inputs);

typedef struct {
	unsigned version;
	const capstan_secret *password; /* needed by capstan_format_needs_password formats */
	const char *alias;          /* keystore alias; NULL: the material's own */
	int legacy;                 /* PKCS12 for Java 8 before 8u301: PBE-SHA1-3DES, SHA-1 MAC */
} capstan_write_opts;

#define CAPSTAN_WRITE_OPTS_VERSION 1
#define CAPSTAN_WRITE_OPTS_INIT { CAPSTAN_WRITE_OPTS_VERSION, NULL, NULL, 0 }

/* *out is the caller's: capstan_buf_free() (it wipes key material). */
CAPSTAN_WARN_UNUSED int capstan_material_write(capstan_buf *out, capstan_ctx *ctx,
	const capstan_material *material, capstan_format fmt, const capstan_write_opts *opts);

/* Store passwords: at least 6 characters (keytool's rule), at most 1024. */
#define CAPSTAN_MIN_STORE_PASSWORD 6

CAPSTAN_END_API

#endif
