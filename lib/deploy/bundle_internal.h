/* The bundle's insides, for bundle*.c, tar.c and the deploy ledger. */
#ifndef CAPSTAN_LIB_BUNDLE_INTERNAL_H
#define CAPSTAN_LIB_BUNDLE_INTERNAL_H

#include <capstan/bundle.h>

#include <sys/types.h>

#include <capstan/template.h>

#include "base/base.h"
#include "delivery.h"
#include "store/store.h"

typedef struct {
	char *path;      /* a plain file name */
	unsigned mode;   /* 0600 for anything secret, else 0644 */
	capstan_buf data;
} capstan_bundle_file;

struct capstan_bundle {
	capstan_bundle_file *files;
	size_t count, alloc;
	size_t *names, names_size; /* files by name (see bundle.c), for the duplicate check */
	int chown;                 /* give the files to uid:gid (capstan runs as root) */
	uid_t uid;
	gid_t gid;
	char owner[33], group[33]; /* their names, for a tar's entries ("" when not given) */
	capstan_strlist warnings;  /* lines left out, and why */
	char *certs;               /* "NAME SERIAL NOT_AFTER" lines, as rendered */
	int64_t crl_refresh_at;    /* when its CRLs are in the last third of their life */
	int64_t mtime;             /* its files' time in a tar: the newest certificate's notBefore */
	int fetched;               /* read from a server's tar (fetch): its keys were recorded there */
	char *new_password;        /* --new-password: kept by capstan_bundle_keep_password */
	int keystores;             /* a PKCS12 of each key beside it */
	int64_t env_id;
	char env_name[64], service[128];
};

/* What a MANIFEST's first line starts with (build_all writes it). */
#define CAPSTAN_MANIFEST_HEAD "# capstan bundle: "
/* The line after which a MANIFEST lists "SHA256  FILE", one line each. */
#define CAPSTAN_MANIFEST_SUMS "# sha256 of each file\n"

/* Adds a copy of data; a second file of the same name is an error. */
int capstan_bundle_add(capstan_ctx *ctx, capstan_bundle *b, const char *path, unsigned mode,
	const void *data, size_t len);

/* Each key the bundle holds, recorded in the audit log in a transaction of
 * its own before the bundle is written to WHERE ("-": stdout). */
int capstan_bundle_record_keys(capstan_ctx *ctx, const capstan_bundle *b, const char *where);

/* bundle_extras.c: crl_file and crl_all_file for the templates; the CRL
 * files themselves (signed or reused: the last step before the MANIFEST, so a
 * render that fails changes nothing); the etcd RBAC data (etcd_rbac,
 * etcd_roles, etcd_users). */
/* The deploy ledger's line for the trust bundle a render holds ("@trust
 * SHA256 0"), beside its "NAME SERIAL NOT_AFTER" lines: when a root joins or
 * leaves the trust bundle, the bundle is owed a render. Also for deploy.c. */
#define CAPSTAN_TRUST_LINE "@trust"
/* The ledger's line for a certificate: "NAME SERIAL NOT_AFTER". */
int capstan_bundle_cert_line(capstan_ctx *ctx, const capstan_cert *cert, capstan_buf *out);
/* map[key] = "DIR/FILE"; -1 when out of memory. */
int capstan_bundle_put_path(capstan_tvalue *map, const char *key, const char *dir, const char *file);
int capstan_bundle_trust_line(capstan_ctx *ctx, const capstan_buf *ca_pem, capstan_buf *out);
int capstan_bundle_crl_paths(capstan_ctx *ctx, capstan_tvalue *top, const char *dir);
int capstan_bundle_add_crls(capstan_ctx *ctx, capstan_bundle *b, const capstan_store_env *env);
int capstan_bundle_add_rbac(capstan_ctx *ctx, capstan_tvalue *top, const capstan_delivery *d);

/* The keystore password for a render: given (checked), else the stored one,
 * else a new one, generated, sealed and stored; with renew, a new one that is
 * not stored (1): capstan_bundle_keep_password() keeps it once written. */
int capstan_bundle_password(capstan_ctx *ctx, const capstan_store_env *env, const char *service,
	const capstan_secret *given, int renew, char *out, size_t size);

#endif
