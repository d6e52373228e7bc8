/* Writing audit rows: who did what, in the change's own transaction. */
#ifndef CAPSTAN_LIB_AUDIT_H
#define CAPSTAN_LIB_AUDIT_H

#include <capstan/audit.h>

#include "base/base.h"

/* Records OP by the current user; must be called inside the change's transaction.
 * env, name, serial and detail may be NULL. */
int capstan_audit_record(capstan_ctx *ctx, const char *op, const char *env,
	const char *name, const char *serial, const char *detail);

#endif
