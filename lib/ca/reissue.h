/* Reissuing a leaf (renew, rotate), in parts shared by the single path
 * (lifecycle.c) and renew --due (renew_due.c), which plans in the writer,
 * signs on every core and records in the writer. */
#ifndef CAPSTAN_LIB_REISSUE_H
#define CAPSTAN_LIB_REISSUE_H

#include "ca_internal.h"

typedef enum { REISSUE_RENEW, REISSUE_ROTATE } reissue_kind;

/* What a reissue needs, gathered before the transaction. */
typedef struct {
	capstan_store_env env;
	char *cn;                   /* of the old certificate */
	capstan_strlist sans;
	const capstan_signer *signer; /* lent by the caller's capstan_signers */
	capstan_key *key;           /* the subject's key: the old public key, or a new key */
	capstan_buf sealed;         /* a new key's sealed form */
	int64_t key_id;             /* renew: the stored key it certifies again */
	int64_t lifetime;
	int proven;                 /* renew: the holder proved it has the key (a TLS
	                               handshake), so a CSR-issued certificate renews too */
} reissue_plan;

void capstan_reissue_plan_clear(reissue_plan *p);
/* In the writer: whether OLD may be reissued, its environment, lifetime and
 * signer (from SIGNERS), and for a renewal its stored key's row. */
int capstan_reissue_plan(capstan_ctx *ctx, const capstan_cert *old, reissue_kind kind, int64_t lifetime,
	reissue_plan *p, capstan_signers *signers);
/* What capstan_reissue_plan would refuse, found without the passphrase: a
 * dry run's forecast. CAPSTAN_EINVALID naming the reason, as the plan would. */
int capstan_reissue_forecast(capstan_ctx *ctx, const capstan_cert *old, reissue_kind kind);
/* No database: the CN (and for a renewal, the public key) from OLD's
 * certificate; for a rotation, a new key, sealed. */
int capstan_reissue_subject(capstan_ctx *ctx, const capstan_cert *old, reissue_kind kind, reissue_plan *p);
/* The new certificate, from the plan, valid from now. */
capstan_mint capstan_reissue_mint(const capstan_cert *old, reissue_kind kind, const reissue_plan *p, time_t now);

/* A certificate signed ahead of its recording (renew --due's workers). */
typedef struct {
	capstan_mint mint;
	capstan_buf der;
	capstan_x509_info info;
} reissue_signed;

/* In the writer's transaction: OLD read again under the lock, the new
 * certificate recorded (signed now, or SIGNED's, consumed), OLD superseded,
 * the audit row. CAPSTAN_EEXISTS when another run replaced OLD meanwhile. */
int capstan_reissue_records(capstan_ctx *ctx, const capstan_cert *old, reissue_kind kind, reissue_plan *p,
	reissue_signed *presigned, capstan_cert **out);

#endif
