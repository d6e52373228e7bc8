/* What the API changes: signing a CSR, renewing the caller's own
 * certificate, revoking. Each runs with the audit actor api:ENV/NAME. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <capstan/ca.h>
#include <capstan/lifecycle.h>
#include <capstan/parse.h>

#include "api_internal.h"
#include "ca/ca.h"

/* The request's JSON object, or NULL with a 400 answered. */
json_t *api_body_json(api_call *c)
{
	json_error_t err;
	json_t *doc = json_loadb((const char *)c->req->body, c->req->body_len, JSON_REJECT_DUPLICATES, &err);

	if (!doc || !json_is_object(doc)) {
		api_error(c, 400, "body: %s%s", doc ? "expected a JSON object" : "not JSON: ", doc ? "" : err.text);
		json_decref(doc);
		return NULL;
	}
	return doc;
}

/* 201 {env, name, serial, not_after, certificate, chain}. */
void api_issued(api_call *c, const capstan_cert *cert)
{
	capstan_buf pem = CAPSTAN_BUF_INIT, chain = CAPSTAN_BUF_INIT;
	char na[32];

	if (capstan_export(&pem, c->ctx, cert, CAPSTAN_FORMAT_CERT, NULL) < 0 ||
	    capstan_export(&chain, c->ctx, cert, CAPSTAN_FORMAT_CHAIN, NULL) < 0) {
		api_error(c, 500, "internal error");
	} else {
		capstan_format_time(cert->not_after, na, sizeof(na));
		api_json(c, 201, json_pack("{s:s,s:s,s:s,s:s,s:s,s:s}", "env", cert->env, "name", cert->name,
			"serial", cert->serial, "not_after", na, "certificate", (const char *)pem.data,
			"chain", (const char *)chain.data));
	}
	capstan_buf_free(&pem);
	capstan_buf_free(&chain);
}

void api_renew(api_call *c)
{
	capstan_cert *line = NULL, *out = NULL;
	const capstan_cert *old = c->who;
	int rc;

	/* The line's newest certificate when it is the one to renew (the caller
	 * may present a superseded one); else the caller's own. */
	if (capstan_cert_lookup(&line, c->ctx, c->who->name, c->who->env) == 0 &&
	    line->status == CAPSTAN_STATUS_VALID && line->kind == CAPSTAN_KIND_LEAF)
		old = line;
	if ((rc = api_actor(c, 1)) < 0 || (rc = capstan_renew_proven(&out, c->ctx, old)) < 0)
		api_fail(c, rc, NULL);
	else
		api_issued(c, out);
	capstan_cert_free(line);
	capstan_cert_free(out);
}

void api_revoke(api_call *c, const char *env, const char *name)
{
	capstan_cert *cert = NULL;
	capstan_revoke_reason reason = CAPSTAN_REASON_UNSPECIFIED;
	json_t *doc = NULL, *r;
	int rc;

	if (api_allow(c, CAPSTAN_API_REVOKE, "revoke", env) < 0 || !(doc = api_body_json(c)))
		goto done;
	r = json_object_get(doc, "reason");
	if (r && (!json_is_string(r) || capstan_revoke_reason_parse(json_string_value(r), &reason) < 0)) {
		api_error(c, 400, "reason: expected one of %s", capstan_revoke_reason_names());
		goto done;
	}
	if ((rc = capstan_cert_lookup(&cert, c->ctx, name, env)) < 0 || cert->kind != CAPSTAN_KIND_LEAF) {
		api_error(c, rc == CAPSTAN_ENOTFOUND || rc == 0 ? 404 : rc == CAPSTAN_EAMBIGUOUS ? 400 : 500,
			"%s", rc == 0 ? "no such leaf certificate" : rc == CAPSTAN_ERROR ? "internal error" :
			capstan_error_message(c->ctx));
		goto done;
	}
	if (api_allow_service(c, cert->service) < 0)
		goto done;
	if ((rc = api_actor(c, 1)) < 0 || (rc = capstan_revoke(c->ctx, cert, reason)) < 0)
		api_fail(c, rc, NULL);
	else
		api_json(c, 200, json_pack("{s:s,s:s}", "serial", cert->serial, "status", "revoked"));
done:
	json_decref(doc);
	capstan_cert_free(cert);
}
