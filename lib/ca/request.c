/* Issuance requests: SANs checked value by value and against the profile. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include <capstan/parse.h>

#include "request.h"

static const struct san_type {
	const char *prefix; /* as stored: "DNS:" */
	const char *what;   /* for messages: "DNS name" */
	capstan_field field; /* where it came from, for the front end to name */
	capstan_san_type type;
} san_types[] = {
	{ "DNS:", "DNS name", CAPSTAN_FIELD_DNS, CAPSTAN_SAN_DNS },
	{ "IP:", "IP address", CAPSTAN_FIELD_IP, CAPSTAN_SAN_IP },
	{ "URI:", "URI", CAPSTAN_FIELD_URI, CAPSTAN_SAN_URI },
	{ "email:", "e-mail address", CAPSTAN_FIELD_EMAIL, CAPSTAN_SAN_EMAIL },
};

static int add_san(capstan_ctx *ctx, capstan_strlist *out, const struct san_type *t, const char *value)
{
	const char *why = NULL;
	char *entry;
	int rc = 0;

	if (capstan_check_san(t->type, value, &why) < 0)
		return capstan_error_at(ctx, CAPSTAN_EINVALID, t->field, "invalid %s '%s': %s", t->what, value, why);
	if (!(entry = capstan_aprintf("%s%s", t->prefix, value)))
		return capstan_error_oom(ctx);
	/* DNS names compare without regard to case: keep one, in lower case. */
	if (t->type == CAPSTAN_SAN_DNS)
		for (char *p = entry + strlen(t->prefix); *p; p++)
			*p = (char)tolower((unsigned char)*p);
	if (!capstan_strlist_contains(out, entry) && capstan_strlist_push(out, entry) < 0)
		rc = capstan_error_oom(ctx);
	free(entry);
	return rc;
}

static int add_from_options(capstan_ctx *ctx, const capstan_issue_opts *o, capstan_strlist *out)
{
	const struct { const char *const *values; size_t count; } lists[] = {
		{ o->dns, o->dns_count }, { o->ip, o->ip_count },
		{ o->uri, o->uri_count }, { o->email, o->email_count },
	};
	int rc;

	for (size_t t = 0; t < 4; t++)
		for (size_t i = 0; i < lists[t].count; i++)
			if ((rc = add_san(ctx, out, &san_types[t], lists[t].values[i])) < 0)
				return rc;
	return 0;
}

static int add_from_csr(capstan_ctx *ctx, const capstan_strlist *csr_sans, capstan_strlist *out)
{
	int rc;

	for (size_t i = 0; i < csr_sans->count; i++) {
		const char *san = csr_sans->items[i];
		size_t t;
		for (t = 0; t < 4; t++)
			if (strncmp(san, san_types[t].prefix, strlen(san_types[t].prefix)) == 0)
				break;
		if (t == 4)
			continue;
		if ((rc = add_san(ctx, out, &san_types[t], san + strlen(san_types[t].prefix))) < 0)
			return capstan_error_at(ctx, rc, CAPSTAN_FIELD_CSR, "the CSR asks for a bad SAN: %s",
				capstan_error_message(ctx));
	}
	return 0;
}

static int has_prefix(const capstan_strlist *list, const char *prefix)
{
	for (size_t i = 0; i < list->count; i++)
		if (strncmp(list->items[i], prefix, strlen(prefix)) == 0)
			return 1;
	return 0;
}

int capstan_request_sans(capstan_ctx *ctx, const capstan_issue_opts *opts, const char *cn,
	const capstan_strlist *csr_sans, capstan_strlist *out)
{
	size_t given = opts->dns_count + opts->ip_count + opts->uri_count + opts->email_count;
	int rc = 0;

	if (opts->profile != CAPSTAN_PROFILE_CLIENT) {
		unsigned char ip[16];
		size_t len;
		/* Verifiers ignore the CN: a server named by its CN must have it in the SAN. */
		if (capstan_parse_ip(cn, ip, &len, NULL) == 0)
			rc = add_san(ctx, out, &san_types[1], cn);
		else if (capstan_is_hostname(cn))
			rc = add_san(ctx, out, &san_types[0], cn);
		if (rc < 0)
			return rc;
	}
	/* The cap first: each SAN added is checked against those before it. */
	if (given > CAPSTAN_MAX_SANS || (!given && csr_sans && csr_sans->count > CAPSTAN_MAX_SANS))
		return capstan_error_at(ctx, CAPSTAN_EINVALID, given ? CAPSTAN_FIELD_SANS : CAPSTAN_FIELD_CSR,
			"%zu subject alternative names: at most %d in one certificate",
			given ? given : csr_sans->count, CAPSTAN_MAX_SANS);
	if (given)
		rc = add_from_options(ctx, opts, out);
	else
		rc = csr_sans ? add_from_csr(ctx, csr_sans, out) : 0;
	if (rc < 0)
		return rc;
	if (out->count > CAPSTAN_MAX_SANS)
		return capstan_error_at(ctx, CAPSTAN_EINVALID, given ? CAPSTAN_FIELD_SANS : CAPSTAN_FIELD_CSR,
			"%zu subject alternative names: at most %d in one certificate", out->count, CAPSTAN_MAX_SANS);
	if (opts->profile == CAPSTAN_PROFILE_SERVER && !has_prefix(out, "DNS:") && !has_prefix(out, "IP:"))
		return capstan_error_at(ctx, CAPSTAN_EINVALID, CAPSTAN_FIELD_DNS | CAPSTAN_FIELD_IP,
			"profile server needs a DNS or IP SAN, or a CN that is a host name");
	if (opts->profile == CAPSTAN_PROFILE_PEER && out->count == 0)
		return capstan_error_at(ctx, CAPSTAN_EINVALID, CAPSTAN_FIELD_SANS, "profile peer needs at least one SAN");
	return 0;
}
