/* The API's answers: JSON bodies, errors in one line, certificates as
 * `capstan --json list` shows them, and the query string. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <capstan/parse.h>
#include <capstan/policy.h>

#include "api_internal.h"

void api_body(api_call *c, int status, const char *type, const void *data, size_t len)
{
	capstan_api_response *r = c->resp;

	capstan_buf_free(&r->body);
	r->status = status;
	snprintf(r->content_type, sizeof(r->content_type), "%s", type);
	if (len && capstan_buf_append(c->ctx, &r->body, data, len) < 0) {
		/* No memory for the answer: say so in as few bytes as there are. */
		r->status = 500;
		snprintf(r->content_type, sizeof(r->content_type), "application/json");
	}
}

void api_json(api_call *c, int status, json_t *doc)
{
	char *text = doc ? json_dumps(doc, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;

	json_decref(doc);
	if (!text) {
		api_body(c, 500, "application/json", "{\"error\": \"internal error\"}", 27);
		return;
	}
	api_body(c, status, "application/json", text, strlen(text));
	capstan_wipe(text, strlen(text)); /* a signed chain is public, but a bundle's JSON may not be */
	free(text);
}

void api_error(api_call *c, int status, const char *fmt, ...)
{
	char what[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	/* One line, whatever the library's message held. */
	for (char *p = what; *p; p++)
		if (*p == '\n' || *p == '\r')
			*p = ' ';
	api_json(c, status, json_pack("{s:s}", "error", what));
}

void api_fail(api_call *c, int rc, const char *field)
{
	const char *msg = capstan_error_message(c->ctx);
	const char *sep = field ? ": " : "";

	switch (rc) {
	case CAPSTAN_EINVALID:
	case CAPSTAN_EAMBIGUOUS:
		api_error(c, 400, "%s%s%s", field ? field : "", sep, msg);
		break;
	case CAPSTAN_ENOTFOUND:
		api_error(c, 404, "%s", msg);
		break;
	case CAPSTAN_EEXISTS:
		api_error(c, 409, "%s", msg);
		break;
	default:
		/* The database, a disk, OpenSSL: nothing a client should read. */
		api_error(c, 500, "internal error");
	}
}

static json_t *json_time(time_t t)
{
	char buf[32];

	capstan_format_time(t, buf, sizeof(buf));
	return json_string(buf);
}

static json_t *str_or_null(const char *s)
{
	return s ? json_string(s) : json_null();
}

/* The fields of `capstan --json list` (cmd/capstan/output.c), in its order. */
json_t *api_cert_json(const capstan_cert *cert)
{
	json_t *o = json_object(), *sans = json_array();
	char dur[32];

	for (size_t i = 0; i < cert->san_count; i++)
		json_array_append_new(sans, json_string(cert->sans[i]));
	json_object_set_new(o, "name", json_string(cert->name));
	json_object_set_new(o, "env", json_string(cert->env));
	json_object_set_new(o, "serial", json_string(cert->serial));
	json_object_set_new(o, "status", json_string(capstan_status_name(cert->status)));
	json_object_set_new(o, "kind", json_string(capstan_kind_name(cert->kind)));
	json_object_set_new(o, "profile", cert->has_profile ? json_string(capstan_profile_name(cert->profile)) : json_null());
	json_object_set_new(o, "subject", json_string(cert->subject));
	json_object_set_new(o, "issuer", json_string(cert->issuer));
	json_object_set_new(o, "sans", sans);
	json_object_set_new(o, "service", str_or_null(cert->service));
	json_object_set_new(o, "key_type", json_string(capstan_key_type_name(cert->key_type)));
	json_object_set_new(o, "key_held", json_boolean(cert->has_key));
	json_object_set_new(o, "not_before", json_time(cert->not_before));
	json_object_set_new(o, "not_after", json_time(cert->not_after));
	capstan_format_duration(cert->lifetime, dur, sizeof(dur));
	json_object_set_new(o, "lifetime", json_string(dur));
	capstan_format_duration(capstan_cert_renew_window(cert), dur, sizeof(dur));
	json_object_set_new(o, "renew_before", json_string(dur));
	json_object_set_new(o, "fingerprint_sha256", json_string(cert->fingerprint_sha256));
	if (cert->status == CAPSTAN_STATUS_REVOKED) {
		json_object_set_new(o, "revoked_at", json_time(cert->revoked_at));
		json_object_set_new(o, "revoke_reason", str_or_null(cert->revoke_reason));
	}
	return o;
}

static int hex_digit(int ch)
{
	return ch >= '0' && ch <= '9' ? ch - '0' : ch >= 'a' && ch <= 'f' ? ch - 'a' + 10 :
		ch >= 'A' && ch <= 'F' ? ch - 'A' + 10 : -1;
}

/* s[0..n) percent-decoded ('+' is a space), or NULL (*bad: malformed). */
static char *decode(const char *s, size_t n, int *bad)
{
	char *out = malloc(n + 1), *o = out;

	if (!out)
		return NULL;
	for (size_t i = 0; i < n && !*bad; i++) {
		if (s[i] == '%' && i + 2 < n && hex_digit(s[i + 1]) >= 0 && hex_digit(s[i + 2]) >= 0) {
			*o = (char)(hex_digit(s[i + 1]) * 16 + hex_digit(s[i + 2]));
			i += 2;
		} else {
			*bad |= s[i] == '%';
			*o = s[i] == '+' ? ' ' : s[i];
		}
		/* A NUL or a control character has no place in any parameter. */
		*bad |= (unsigned char)*o < 0x20;
		o++;
	}
	*o = '\0';
	if (*bad) {
		free(out);
		return NULL;
	}
	return out;
}

char *api_query(const char *query, const char *key, int *bad)
{
	size_t klen = strlen(key);

	for (const char *p = query; p && *p; p = strchr(p, '&') ? strchr(p, '&') + 1 : NULL) {
		const char *end = strchr(p, '&');
		size_t n = end ? (size_t)(end - p) : strlen(p);
		if (n > klen && strncmp(p, key, klen) == 0 && p[klen] == '=')
			return decode(p + klen + 1, n - klen - 1, bad);
		if (n == klen && strncmp(p, key, klen) == 0)
			return decode("", 0, bad);
	}
	return NULL;
}
