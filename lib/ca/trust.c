/* Trust bundles over time: the old roots a root rotation keeps in an
 * environment's bundle, and when each leaves it. */
#include <stdlib.h>

#include <capstan/ca.h>

#include "base/base.h"
#include "store/store.h"

int capstan_trust_leaving(capstan_leaving_root **out, size_t *count, capstan_ctx *ctx, const char *env)
{
	capstan_store_env e = { 0 };
	capstan_leaving_root *list = NULL;
	capstan_cert **roots = NULL;
	time_t *until = NULL;
	size_t n = 0;
	int rc;

	*out = NULL;
	*count = 0;
	if ((rc = capstan_require_store(ctx)) < 0 || (env && (rc = capstan_store_env_get(ctx, env, &e)) < 0))
		return rc;
	rc = capstan_store_roots_leaving(ctx, e.id, time(NULL), &roots, &until, &n);
	capstan_store_env_clear(&e);
	if (rc < 0)
		return rc;
	if (n && !(list = calloc(n, sizeof(*list)))) {
		capstan_cert_list_free(roots, n);
		free(until);
		return capstan_error_oom(ctx);
	}
	for (size_t i = 0; i < n; i++)
		list[i] = (capstan_leaving_root){ roots[i], until[i] };
	free(roots); /* the certificates now belong to list */
	free(until);
	*out = list;
	*count = n;
	return 0;
}

void capstan_leaving_roots_free(capstan_leaving_root *roots, size_t count)
{
	if (!roots)
		return;
	for (size_t i = 0; i < count; i++)
		capstan_cert_free(roots[i].root);
	free(roots);
}
