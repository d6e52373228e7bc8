/* Writing audit rows: who did what, in the change's own transaction. */
#ifndef CAPSTAN_LIB_AUDIT_H
#define CAPSTAN_LIB_AUDIT_H

#include <capstan/audit.h>
#include <capstan/convert.h>

#include "base/base.h"

/* Records OP by the current user; must be called inside the change's transaction.
 * env, name, serial and detail may be NULL. */
int capstan_audit_record(capstan_ctx *ctx, const char *op, const char *env,
	const char *name, const char *serial, const char *detail);

/* capstan_export without its audit row, for a caller that records the keys
 * itself where they leave (a bundle, when it is written). */
int capstan_export_unrecorded(capstan_buf *out, capstan_ctx *ctx, const capstan_cert *cert,
	capstan_format fmt, const capstan_write_opts *opts);

#endif
