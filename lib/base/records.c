/* The records the library hands out (certificates, audit entries): freeing
 * them, and the names of their kinds and statuses. Plain data: every layer
 * that fills one can free it. */
#include <stdlib.h>
#include <string.h>

#include <capstan/audit.h>
#include <capstan/cert.h>

static const char *const status_names[] = {
	[CAPSTAN_STATUS_VALID] = "valid",
	[CAPSTAN_STATUS_REVOKED] = "revoked",
	[CAPSTAN_STATUS_EXPIRED] = "expired",
	[CAPSTAN_STATUS_SUPERSEDED] = "superseded",
	[CAPSTAN_STATUS_ALL] = "all",
};

void capstan_cert_free(capstan_cert *c)
{
	if (!c)
		return;
	free(c->env);
	free(c->name);
	free(c->serial);
	free(c->subject);
	free(c->issuer);
	free(c->service);
	free(c->fingerprint_sha256);
	for (size_t i = 0; i < c->san_count; i++)
		free(c->sans[i]);
	free(c->sans);
	free(c->revoke_reason);
	free(c->der);
	free(c);
}

void capstan_cert_list_free(capstan_cert **list, size_t count)
{
	for (size_t i = 0; i < count; i++)
		capstan_cert_free(list[i]);
	free(list);
}

const char *capstan_status_name(capstan_status status)
{
	return (unsigned)status <= CAPSTAN_STATUS_ALL ? status_names[status] : "unknown";
}

int capstan_status_parse(const char *name, capstan_status *out)
{
	for (int i = 0; i <= CAPSTAN_STATUS_ALL; i++)
		if (name && strcmp(name, status_names[i]) == 0)
			return *out = (capstan_status)i, 0;
	return CAPSTAN_EINVALID;
}

const char *capstan_kind_name(capstan_cert_kind kind)
{
	switch (kind) {
	case CAPSTAN_KIND_ROOT: return "root";
	case CAPSTAN_KIND_INTERMEDIATE: return "intermediate";
	default: return "leaf";
	}
}

int64_t capstan_cert_renew_window(const capstan_cert *cert)
{
	int64_t granted = (int64_t)(cert->not_after - cert->not_before) - CAPSTAN_BACKDATE_SECONDS;

	return capstan_renew_window(cert->lifetime, granted, cert->renew_before);
}

void capstan_audit_entry_free(capstan_audit_entry *e)
{
	if (!e)
		return;
	free(e->user);
	free(e->op);
	free(e->env);
	free(e->name);
	free(e->serial);
	free(e->detail);
	free(e->state);
	free(e);
}
