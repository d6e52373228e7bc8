/*
 * capstan — checking a home: the database's integrity and schema, every live
 * certificate's key and chain, serial uniqueness, the audit chain and the
 * files' modes. Read-only: a check never changes the inventory.
 */
#ifndef CAPSTAN_CHECK_H
#define CAPSTAN_CHECK_H

#include "common.h"

CAPSTAN_BEGIN_API

/* One thing wrong. area: database, schema, key, chain, serial, record, audit, file. */
typedef struct {
	const char *area;
	const char *message;
} capstan_check_problem;

/* Runs on the thread that called capstan_check, once per problem; it must
 * not use the context. The problem and its strings live only until it
 * returns: copy what you keep. A negative return stops the check. */
typedef int (*capstan_check_fn)(const capstan_check_problem *problem, void *payload);

typedef struct {
	size_t certs;        /* certificate rows read */
	size_t verified;     /* live certificates whose chain was verified */
	size_t keys_opened;  /* sealed keys opened and matched (only with an unlocked home) */
	int64_t audit_rows;
	size_t problems;
} capstan_check_summary;

/*
 * Checks the open home, calling fn for each problem found. Returns 0 when
 * the check ran (summary->problems says whether anything is wrong), or an
 * error when it could not run at all. With an unlocked home every sealed key
 * is also opened and matched against its certificate.
 */
CAPSTAN_WARN_UNUSED int capstan_check(capstan_check_summary *summary, capstan_ctx *ctx, capstan_check_fn fn,
	void *payload);

CAPSTAN_END_API

#endif
