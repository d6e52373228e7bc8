/* The public URL that certificates issued from now on name their CRL and
 * OCSP responder by: kept in the inventory, read by every signer when loaded
 * (ca.c). */
#include <stdlib.h>
#include <string.h>

#include <capstan/ocsp.h>

#include "audit.h"
#include "base/base.h"
#include "ca_internal.h"
#include "store/store.h"

#define PUBLIC_URL_KEY "api.public_url"
#define PUBLIC_URL_MAX 512

/* http:// or https://, a host, nothing a URL cannot hold unescaped, and no
 * query or fragment (paths are appended to it). */
static int public_url_check(capstan_ctx *ctx, const char *url, size_t *len)
{
	const char *host = strncmp(url, "https://", 8) == 0 ? url + 8 : strncmp(url, "http://", 7) == 0 ? url + 7 : NULL;

	*len = strlen(url);
	if (!host)
		return capstan_error(ctx, CAPSTAN_EINVALID, "public URL '%s' is not http:// or https://", url);
	if (*len > PUBLIC_URL_MAX)
		return capstan_error(ctx, CAPSTAN_EINVALID, "public URL is longer than %d characters", PUBLIC_URL_MAX);
	for (const char *p = url; *p; p++)
		if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f || strchr("?#@\"<>\\^`{|}", *p))
			return capstan_error(ctx, CAPSTAN_EINVALID,
				"public URL has a character it cannot hold (a space, control, non-ASCII, '?', '#' or '@')");
	if (!*host || *host == '/' || *host == ':')
		return capstan_error(ctx, CAPSTAN_EINVALID, "public URL '%s' has no host", url);
	while (*len > (size_t)(host - url) && url[*len - 1] == '/')
		(*len)--; /* PUBLIC_URL/ocsp, not PUBLIC_URL//ocsp */
	return 0;
}

int capstan_public_url_get(capstan_ctx *ctx, char **url)
{
	capstan_buf value = CAPSTAN_BUF_INIT;
	int rc = capstan_store_meta_get(ctx, PUBLIC_URL_KEY, &value);

	*url = NULL;
	if (rc == CAPSTAN_ENOTFOUND)
		return 0;
	if (rc < 0)
		return rc;
	*url = (char *)value.data; /* NUL-terminated by meta_get */
	return 0;
}

int capstan_public_url_set(capstan_ctx *ctx, const char *url)
{
	char *old = NULL, *want = NULL;
	size_t len = 0;
	int rc;

	if ((rc = capstan_require_store(ctx)) < 0 || (url && (rc = public_url_check(ctx, url, &len)) < 0))
		return rc;
	if (url && !(want = strndup(url, len)))
		return capstan_error_oom(ctx);
	if ((rc = capstan_store_begin(ctx)) < 0)
		goto done;
	if ((rc = capstan_public_url_get(ctx, &old)) == 0 && !(old == want || (old && want && strcmp(old, want) == 0))) {
		rc = want ? capstan_store_meta_set(ctx, PUBLIC_URL_KEY, want, len) : capstan_store_meta_delete(ctx, PUBLIC_URL_KEY);
		if (rc == 0)
			rc = capstan_audit_record(ctx, "public-url", NULL, NULL, NULL, want ? want : "removed");
	}
	rc = capstan_store_end(ctx, rc);
done:
	free(old);
	free(want);
	return rc;
}
