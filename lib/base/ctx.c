/* The context's checks, which every layer makes before it touches what the
 * context holds. The context itself is made and freed with the home (home.c). */
#include "ctx.h"

int capstan_require_store(capstan_ctx *ctx)
{
	return ctx->store ? 0 : capstan_error(ctx, CAPSTAN_ERROR, "no inventory is open");
}

int capstan_require_unlocked(capstan_ctx *ctx)
{
	return ctx->kek_set ? 0 : capstan_error_at(ctx, CAPSTAN_EAUTH, CAPSTAN_FIELD_PASSPHRASE,
		"the inventory is locked: its passphrase is needed");
}
