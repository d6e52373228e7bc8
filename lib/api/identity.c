/* Who is asking: the TLS layer verified the client certificate's chain to a
 * root of one of the inventory's environments; here it must also be an
 * inventory line's certificate (the same DER: issuer and serial), not
 * revoked and not expired. Looked up on every request, so a revocation
 * committed by any process counts from the next request on. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "api_internal.h"
#include "crypto/crypto.h"
#include "store/store.h"

static const capstan_config_api_client *client_of(const capstan_api *api, const capstan_cert *who)
{
	for (size_t i = 0; i < api->a->client_count; i++)
		if (strcmp(api->a->clients[i].env, who->env) == 0 && strcmp(api->a->clients[i].name, who->name) == 0)
			return &api->a->clients[i];
	return NULL;
}

int api_identify(api_call *c)
{
	capstan_x509_info info = { 0 };
	char serial[41];
	time_t now = time(NULL);
	int rc;

	if (!c->req->peer_der || !c->req->peer_der_len) {
		api_error(c, 401, "a client certificate is required");
		return -1;
	}
	if (capstan_x509_serial_hex(c->ctx, c->req->peer_der, c->req->peer_der_len, serial) < 0) {
		if (capstan_x509_info_read(&info, c->ctx, c->req->peer_der, c->req->peer_der_len) < 0) {
			api_error(c, 401, "the client certificate cannot be read");
			return -1;
		}
		snprintf(serial, sizeof(serial), "%s", info.serial);
		capstan_x509_info_clear(&info);
	}
	rc = capstan_store_cert_by_der(c->ctx, serial, c->req->peer_der, c->req->peer_der_len, &c->who);
	if (rc == CAPSTAN_ENOTFOUND || (rc == 0 && c->who->kind != CAPSTAN_KIND_LEAF)) {
		api_error(c, 401, "the client certificate is not an inventory line's");
		return -1;
	}
	if (rc < 0) {
		api_error(c, 500, "internal error");
		return -1;
	}
	snprintf(c->identity, sizeof(c->identity), "%s/%s", c->who->env, c->who->name);
	if (c->who->status == CAPSTAN_STATUS_REVOKED) {
		api_error(c, 401, "the client certificate (%s, serial %s) is revoked", c->identity, c->who->serial);
		return -1;
	}
	if (c->who->not_after < now || c->who->not_before > now) {
		api_error(c, 401, "the client certificate (%s, serial %s) is not valid now", c->identity, c->who->serial);
		return -1;
	}
	snprintf(c->resp->identity, sizeof(c->resp->identity), "%s", c->identity);
	c->client = client_of(c->api, c->who);
	return 0;
}
