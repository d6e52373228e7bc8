/* The public revocation data a certificate points at: OCSP and CRLs by issuer key identifier. */
#include <stdlib.h>
#include <string.h>

#include <capstan/ocsp.h>

#include "api_internal.h"

void api_ocsp(api_call *c, const char *b64)
{
	capstan_buf resp = CAPSTAN_BUF_INIT;
	unsigned char *der = NULL;
	size_t len = 0;
	int rc;

	if (b64) {
		if (capstan_base64_decode(&der, &len, b64, strlen(b64)) < 0) {
			api_error(c, 400, "the request in the path is not base64");
			return;
		}
	} else if (!c->req->body_len) {
		api_error(c, 400, "an OCSP request is the body (application/ocsp-request)");
		return;
	}
	/* Failures other than the request's own come back as internalError
	 * responses (resp filled): OCSP clients read those, not HTTP statuses. */
	rc = capstan_ocsp_respond(&resp, c->ctx, b64 ? der : c->req->body, b64 ? len : c->req->body_len);
	if (resp.len)
		api_body(c, 200, "application/ocsp-response", resp.data, resp.len);
	else
		api_fail(c, rc < 0 ? rc : CAPSTAN_ERROR, NULL);
	capstan_buf_free(&resp);
	free(der);
}

void api_crl_by_ski(api_call *c, const char *hex)
{
	unsigned char ski[64];
	size_t n = strlen(hex) / 2;
	capstan_buf der = CAPSTAN_BUF_INIT;
	int rc;

	if (n == 0 || n > sizeof(ski) || capstan_hex_decode(ski, n, hex) < 0) {
		api_error(c, 404, "no CA has the key identifier '%s'", hex);
		return;
	}
	if ((rc = api_actor(c, 1)) == 0 && (rc = capstan_crl_by_ski(&der, c->ctx, ski, n)) == 0)
		api_body(c, 200, "application/pkix-crl", der.data, der.len);
	else if (rc == CAPSTAN_ENOTFOUND)
		api_error(c, 404, "no CA has the key identifier '%s'", hex);
	else
		api_fail(c, rc, NULL);
	capstan_buf_free(&der);
}
