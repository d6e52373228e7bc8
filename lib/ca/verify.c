/* Verifying a certificate against an environment: its chain up to the
 * environment's trust, then its revocation status in the inventory. */
#include <stdlib.h>
#include <string.h>

#include <capstan/lifecycle.h>
#include <capstan/parse.h>

#include "store/store.h"
#include "crypto/crypto.h"

capstan_der *capstan_ders_of(capstan_cert **certs, size_t n)
{
	capstan_der *ders = calloc(n ? n : 1, sizeof(*ders));

	for (size_t i = 0; ders && i < n; i++) {
		ders[i].der = certs[i]->der;
		ders[i].len = certs[i]->der_len;
	}
	return ders;
}

/* The verified certificate's record, and whether it was revoked. */
static int check_record(capstan_ctx *ctx, const capstan_buf *leaf, const char *env, capstan_cert **out)
{
	capstan_x509_info info;
	capstan_cert *cert = NULL;
	char at[32];
	int rc;

	if ((rc = capstan_x509_info_read(&info, ctx, leaf->data, leaf->len)) < 0)
		return rc;
	rc = capstan_store_cert_by_serial(ctx, info.serial, &cert);
	if (rc == 0 && (strcmp(cert->env, env) != 0 || cert->der_len != leaf->len ||
			memcmp(cert->der, leaf->data, leaf->len) != 0))
		rc = CAPSTAN_ENOTFOUND;
	if (rc == CAPSTAN_ENOTFOUND)
		rc = capstan_error(ctx, CAPSTAN_EINVALID,
			"serial %s chains to '%s' but is not in the inventory, so its revocation status is unknown",
			info.serial, env);
	if (rc == 0 && cert->status == CAPSTAN_STATUS_REVOKED) {
		capstan_format_time(cert->revoked_at, at, sizeof(at));
		rc = capstan_error(ctx, CAPSTAN_EINVALID, "'%s' (serial %s) was revoked at %s (%s)",
			cert->name, cert->serial, at, cert->revoke_reason ? cert->revoke_reason : "unspecified");
	}
	capstan_x509_info_clear(&info);
	if (out && rc == 0)
		*out = cert, cert = NULL;
	capstan_cert_free(cert);
	return rc;
}

int capstan_verify(capstan_cert **out, capstan_ctx *ctx, const char *env_name, const unsigned char *data,
	size_t len)
{
	capstan_store_env env;
	capstan_cert **roots = NULL, **inters = NULL;
	size_t nroots = 0, ninters = 0;
	capstan_der *root_ders = NULL, *inter_ders = NULL;
	capstan_buf leaf = CAPSTAN_BUF_INIT;
	int rc;

	if ((rc = capstan_require_store(ctx)) < 0 ||
	    (rc = capstan_store_env_get(ctx, env_name ? env_name : "", &env)) < 0)
		return rc;
	if ((rc = capstan_store_env_roots(ctx, env.id, &roots, &nroots)) < 0 ||
	    (rc = capstan_store_env_intermediates(ctx, env.id, &inters, &ninters)) < 0)
		goto done;
	if (!(root_ders = capstan_ders_of(roots, nroots)) || !(inter_ders = capstan_ders_of(inters, ninters))) {
		rc = capstan_error_oom(ctx);
		goto done;
	}
	if ((rc = capstan_x509_verify_chain(&leaf, ctx, data, len, root_ders, nroots, inter_ders, ninters)) < 0)
		goto done;
	rc = check_record(ctx, &leaf, env.name, out);
done:
	capstan_buf_free(&leaf);
	free(root_ders);
	free(inter_ders);
	capstan_cert_list_free(roots, nroots);
	capstan_cert_list_free(inters, ninters);
	capstan_store_env_clear(&env);
	return rc;
}
