/* POST .../sign: a CSR signed under the environment's intermediate, within
 * the identity's filters. The names checked are the ones the certificate
 * will carry: the request's, else the CSR's, plus a CN capstan copies in. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <capstan/ca.h>
#include <capstan/parse.h>

#include "api_internal.h"
#include "ca/ca.h"
#include "crypto/crypto.h"
#include "store/store.h"

typedef struct {
	json_t *doc;
	const char *csr, *profile_name, *name, *service;
	const char *dns[CAPSTAN_MAX_SANS + 1], *ip[CAPSTAN_MAX_SANS + 1];
	size_t dns_count, ip_count;
	int64_t days;                    /* seconds; 0: not given */
	int replace;                     /* supersede the line's valid certificate */
	capstan_profile profile;
	capstan_key *pubkey;             /* the CSR's */
	char *csr_cn;
	capstan_strlist csr_sans, sans;
} sign_req;

static void sign_clear(sign_req *s)
{
	json_decref(s->doc);
	capstan_key_free(s->pubkey);
	free(s->csr_cn);
	capstan_strlist_free(&s->csr_sans);
	capstan_strlist_free(&s->sans);
}

/* An optional string field: 0, or -1 with a 400. */
static int str_field(api_call *c, json_t *doc, const char *key, const char **out)
{
	json_t *v = json_object_get(doc, key);

	if (v && !json_is_string(v)) {
		api_error(c, 400, "%s: expected a string", key);
		return -1;
	}
	*out = v ? json_string_value(v) : NULL;
	return 0;
}

static int list_field(api_call *c, json_t *doc, const char *key, const char **out, size_t *count)
{
	json_t *v = json_object_get(doc, key), *item;
	size_t i;

	if (!v)
		return 0;
	if (!json_is_array(v) || json_array_size(v) > CAPSTAN_MAX_SANS) {
		api_error(c, 400, "%s: expected a list of at most %d strings", key, CAPSTAN_MAX_SANS);
		return -1;
	}
	json_array_foreach(v, i, item) {
		if (!json_is_string(item)) {
			api_error(c, 400, "%s: expected a list of strings", key);
			return -1;
		}
		out[(*count)++] = json_string_value(item);
	}
	return 0;
}

static int days_field(api_call *c, json_t *doc, int64_t *out)
{
	json_t *v = json_object_get(doc, "days");
	const char *why = NULL;

	if (!v)
		return 0;
	if (json_is_integer(v) && json_integer_value(v) > 0 && json_integer_value(v) <= 365000) {
		*out = (int64_t)json_integer_value(v) * CAPSTAN_DAY_SECONDS;
		return 0;
	}
	if (json_is_string(v) && capstan_parse_duration(json_string_value(v), out, &why) == 0)
		return 0;
	api_error(c, 400, "days: %s", why ? why : "expected a positive number of days");
	return -1;
}

static int bool_field(api_call *c, json_t *doc, const char *key, int *out)
{
	json_t *v = json_object_get(doc, key);

	if (v && !json_is_boolean(v)) {
		api_error(c, 400, "%s: expected true or false", key);
		return -1;
	}
	*out = v && json_is_true(v);
	return 0;
}

static int read_body(api_call *c, sign_req *s)
{
	if (!(s->doc = api_body_json(c)) || str_field(c, s->doc, "csr", &s->csr) < 0 ||
	    bool_field(c, s->doc, "replace", &s->replace) < 0 ||
	    str_field(c, s->doc, "profile", &s->profile_name) < 0 || str_field(c, s->doc, "name", &s->name) < 0 ||
	    str_field(c, s->doc, "service", &s->service) < 0 ||
	    list_field(c, s->doc, "dns", s->dns, &s->dns_count) < 0 ||
	    list_field(c, s->doc, "ip", s->ip, &s->ip_count) < 0 || days_field(c, s->doc, &s->days) < 0)
		return -1;
	if (!s->csr || !s->profile_name) {
		api_error(c, 400, "%s: required", !s->csr ? "csr" : "profile");
		return -1;
	}
	if (capstan_profile_parse(s->profile_name, &s->profile) < 0) {
		api_error(c, 400, "profile: unknown '%s' (expected %s)", s->profile_name, capstan_profile_names());
		return -1;
	}
	return 0;
}

/* The body's field an issuance error is about (capstan_field bits). */
static const char *field_of(unsigned subject)
{
	static const struct { unsigned bit; const char *field; } fields[] = {
		{ CAPSTAN_FIELD_NAME, "name" }, { CAPSTAN_FIELD_CN, "csr" }, { CAPSTAN_FIELD_CSR, "csr" },
		{ CAPSTAN_FIELD_SERVICE, "service" }, { CAPSTAN_FIELD_PROFILE, "profile" },
		{ CAPSTAN_FIELD_LIFETIME, "days" }, { CAPSTAN_FIELD_DNS, "dns" }, { CAPSTAN_FIELD_IP, "ip" },
	};

	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++)
		if (subject & fields[i].bit)
			return fields[i].field;
	return subject ? "body" : NULL;
}

/* The issuance request, and its SANs worked out as the issuer will. */
static int plan(api_call *c, sign_req *s, capstan_issue_opts *o)
{
	int rc;

	if ((rc = capstan_csr_read(c->ctx, (const unsigned char *)s->csr, strlen(s->csr), &s->pubkey, &s->csr_cn,
		     &s->csr_sans)) < 0) {
		api_fail(c, rc == CAPSTAN_ERROR ? CAPSTAN_EINVALID : rc, "csr");
		return -1;
	}
	o->cn = s->csr_cn ? s->csr_cn : s->name;
	o->name = s->name;
	o->service = s->service;
	o->profile = s->profile;
	o->dns = s->dns, o->dns_count = s->dns_count;
	o->ip = s->ip, o->ip_count = s->ip_count;
	o->csr = (const unsigned char *)s->csr;
	o->csr_len = strlen(s->csr);
	if (!o->cn) {
		api_error(c, 400, "name: required when the CSR has no CN");
		return -1;
	}
	if ((rc = capstan_request_sans(c->ctx, o, o->cn, &s->csr_sans, &s->sans)) < 0) {
		const char *field = field_of(capstan_error_subject(c->ctx));
		api_fail(c, rc, field ? field : "dns");
		return -1;
	}
	return 0;
}

struct capstan_api_change {
	sign_req s;
	capstan_issue_opts o;
	capstan_presigned *presigned;
	char *env;                       /* o.env: the request's path does not outlive prepare */
	int64_t who_id;                  /* the caller's certificate, checked again at the commit */
	char identity[160];
};

void capstan_api_change_free(capstan_api_change *ch)
{
	if (!ch)
		return;
	capstan_presigned_free(ch->presigned);
	sign_clear(&ch->s);
	free(ch->env);
	free(ch);
}

/* Everything but the record: on a worker thread, outside any transaction. */
capstan_api_change *api_sign_prepare(api_call *c, const char *env)
{
	capstan_api_change *ch = calloc(1, sizeof(*ch));
	capstan_store_env e = { 0 };
	sign_req *s;
	int rc;

	if (!ch) {
		api_error(c, 503, "the server is out of memory");
		return NULL;
	}
	s = &ch->s;
	ch->o = (capstan_issue_opts)CAPSTAN_ISSUE_OPTS_INIT;
	if (api_allow(c, CAPSTAN_API_SIGN, "sign", env) < 0 || read_body(c, s) < 0 ||
	    api_allow_profile(c, s->profile_name) < 0 || api_allow_service(c, s->service) < 0)
		goto fail;
	if ((rc = capstan_store_env_get(c->ctx, env, &e)) < 0) {
		if (rc == CAPSTAN_ENOTFOUND)
			api_error(c, 404, "no environment '%s'", env);
		else
			api_fail(c, rc, NULL);
		goto fail;
	}
	if (!(ch->o.env = ch->env = strdup(env))) {
		api_error(c, 503, "the server is out of memory");
		goto fail;
	}
	if (plan(c, s, &ch->o) < 0 || api_allow_sans(c, &s->sans) < 0)
		goto fail;
	ch->o.lifetime = api_lifetime(c, s->days, e.leaf_lifetime);
	ch->o.replace = s->replace;
	if ((rc = capstan_issue_presign(&ch->presigned, c->ctx, &ch->o, &s->pubkey, &s->csr_cn, &s->csr_sans)) < 0) {
		api_fail(c, rc, field_of(capstan_error_subject(c->ctx)));
		goto fail;
	}
	ch->who_id = c->who->id;
	snprintf(ch->identity, sizeof(ch->identity), "%s", c->identity);
	capstan_store_env_clear(&e);
	return ch;
fail:
	capstan_store_env_clear(&e);
	capstan_api_change_free(ch);
	return NULL;
}

/* The record, in the writer's transaction; the caller may have been revoked meanwhile. */
void api_sign_commit(api_call *c, capstan_api_change *ch)
{
	capstan_cert *who = NULL, *cert = NULL;
	int rc;

	snprintf(c->identity, sizeof(c->identity), "%s", ch->identity);
	snprintf(c->resp->identity, sizeof(c->resp->identity), "%s", ch->identity);
	if ((rc = capstan_store_cert_get(c->ctx, ch->who_id, &who)) < 0)
		api_error(c, 500, "internal error");
	else if (who->status == CAPSTAN_STATUS_REVOKED)
		api_error(c, 401, "the client certificate (%s, serial %s) is revoked", c->identity, who->serial);
	else if ((rc = api_actor(c, 1)) < 0 || (rc = capstan_issue_commit(&cert, c->ctx, ch->presigned)) < 0) {
		api_fail(c, rc, field_of(capstan_error_subject(c->ctx)));
		if (rc == CAPSTAN_EEXISTS) /* what a caller of the API can do of the three */
			api_error(c, 409, "%s, or sign it again with \"replace\": true", capstan_error_message(c->ctx));
	}
	else
		api_issued(c, cert);
	capstan_cert_free(who);
	capstan_cert_free(cert);
}

void api_sign(api_call *c, const char *env)
{
	capstan_api_change *ch = api_sign_prepare(c, env);

	if (ch)
		api_sign_commit(c, ch);
	capstan_api_change_free(ch);
}
