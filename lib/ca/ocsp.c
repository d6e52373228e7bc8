/*
 * The OCSP responder (RFC 6960), CRLs by their issuer's key identifier, and
 * the public URL issued certificates name them by. Each answer reads the
 * statuses from the inventory, so a revocation committed by any process
 * shows on the next request; each CA signs through a delegated responder
 * certificate kept in the inventory, so processes answering for it share one.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <capstan/lifecycle.h>
#include <capstan/ocsp.h>
#include <capstan/parse.h>

#include "audit.h"
#include "base/base.h"
#include "ca_internal.h"
#include "crypto/crypto.h"
#include "store/store.h"

#define PUBLIC_URL_KEY "api.public_url"
#define PUBLIC_URL_MAX 512
/* A responder certificate lives a few days and is replaced once less than a
 * third of that is left; an answer is good for an hour. */
#define RESPONDER_LIFETIME (4 * CAPSTAN_DAY_SECONDS)
#define ANSWER_VALIDITY 3600

/* Every unexpired CA and what CertIDs and CRL URLs know it by. */
typedef struct {
	capstan_cert **cas;
	capstan_ocsp_issuer *ids;
	size_t count;
} ca_set;

static void ca_set_free(ca_set *s)
{
	capstan_cert_list_free(s->cas, s->count);
	free(s->ids);
	memset(s, 0, sizeof(*s));
}

static int ca_set_load(capstan_ctx *ctx, time_t now, ca_set *s)
{
	int rc;

	memset(s, 0, sizeof(*s));
	if ((rc = capstan_store_cas(ctx, now, &s->cas, &s->count)) < 0)
		return rc;
	if (s->count && !(s->ids = calloc(s->count, sizeof(*s->ids))))
		rc = capstan_error_oom(ctx);
	for (size_t i = 0; rc == 0 && i < s->count; i++)
		rc = capstan_ocsp_issuer_read(&s->ids[i], ctx, s->cas[i]->der, s->cas[i]->der_len);
	if (rc < 0)
		ca_set_free(s);
	return rc;
}

/* Usable, and not yet in the last third of its life; one cut short by its
 * CA's end serves to the end (no longer one can be issued). */
static int responder_fresh(const capstan_store_ocsp_responder *r, const capstan_cert *ca, time_t now)
{
	if (!r->found || now < r->not_before || now >= r->not_after)
		return 0;
	if (r->not_after >= ca->not_after)
		return 1;
	return r->not_after - now > (r->not_after - r->not_before) / 3;
}

/* Inside the transaction: a new responder certificate and key for the CA,
 * recorded with its audit row. */
static int responder_issue(capstan_ctx *ctx, const capstan_cert *ca, time_t now, capstan_store_ocsp_responder *r)
{
	capstan_key *ca_key = NULL, *key = NULL;
	capstan_x509_info info;
	char until[32], detail[128];
	int rc;

	capstan_store_ocsp_responder_clear(r);
	r->not_before = now - CAPSTAN_BACKDATE_SECONDS;
	r->not_after = now + RESPONDER_LIFETIME < ca->not_after ? now + RESPONDER_LIFETIME : ca->not_after;
	if ((rc = capstan_ca_load_key(ctx, ca, &ca_key)) < 0 ||
	    (rc = capstan_key_generate(&key, ctx, CAPSTAN_KEY_EC_P256)) < 0 ||
	    (rc = capstan_key_seal(&r->sealed, ctx, key)) < 0 ||
	    (rc = capstan_ocsp_responder_sign(&r->der, ctx, ca->der, ca->der_len, ca_key, key, r->not_before,
		     r->not_after)) < 0 ||
	    (rc = capstan_store_ocsp_responder_put(ctx, ca->id, r)) < 0 ||
	    (rc = capstan_x509_info_read(&info, ctx, r->der.data, r->der.len)) < 0)
		goto done;
	capstan_format_time(r->not_after, until, sizeof(until));
	snprintf(detail, sizeof(detail), "OCSP responder serial %s until %s", info.serial, until);
	capstan_x509_info_clear(&info);
	rc = capstan_audit_record(ctx, "ocsp-responder", ca->env, ca->name, ca->serial, detail);
	r->found = 1;
done:
	capstan_key_free(ca_key);
	capstan_key_free(key);
	return rc;
}

/* The CA's responder certificate and key: the stored one while fresh, else
 * a new one (unless another process made one meanwhile). */
static int responder_for(capstan_ctx *ctx, const capstan_cert *ca, time_t now, capstan_store_ocsp_responder *r,
	capstan_key **key)
{
	unsigned char spki[CAPSTAN_SHA256_LEN];
	int rc;

	if ((rc = capstan_require_unlocked(ctx)) < 0 || (rc = capstan_store_ocsp_responder_get(ctx, ca->id, r)) < 0)
		return rc;
	if (!responder_fresh(r, ca, now)) {
		if ((rc = capstan_store_begin(ctx)) < 0)
			return rc;
		if ((rc = capstan_store_ocsp_responder_get(ctx, ca->id, r)) == 0 && !responder_fresh(r, ca, now))
			rc = responder_issue(ctx, ca, now, r);
		if ((rc = capstan_store_end(ctx, rc)) < 0)
			goto fail;
	}
	if ((rc = capstan_x509_spki_sha256(ctx, r->der.data, r->der.len, spki)) < 0 ||
	    (rc = capstan_key_unseal(key, ctx, r->sealed.data, r->sealed.len, spki)) < 0)
		goto fail;
	return 0;
fail:
	capstan_store_ocsp_responder_clear(r);
	return rc;
}

/* The CA that the request's first CertID of a known CA names; -1: none. */
static long signing_ca(const capstan_ocsp_request *req, const ca_set *s)
{
	for (size_t i = 0; i < capstan_ocsp_request_count(req); i++)
		for (size_t c = 0; c < s->count; c++)
			if (capstan_ocsp_request_names(req, i, &s->ids[c]))
				return (long)c;
	return -1;
}

/* Each CertID of the signing CA answered from the inventory. Those of other
 * CAs are unknown here: one response has one signer, and a client asks each
 * issuer's responder about its own certificates. */
static int answer_all(capstan_ctx *ctx, const capstan_ocsp_request *req, const ca_set *s, size_t ca,
	capstan_ocsp_answer *answers)
{
	capstan_store_serial_state st;
	capstan_revoke_reason reason;
	char serial[2 * 20 + 1];
	int rc;

	for (size_t i = 0; i < capstan_ocsp_request_count(req); i++) {
		answers[i] = (capstan_ocsp_answer){ .status = CAPSTAN_OCSP_UNKNOWN };
		capstan_ocsp_request_serial(req, i, serial);
		if (!serial[0] || !capstan_ocsp_request_names(req, i, &s->ids[ca]))
			continue;
		if ((rc = capstan_store_serial_status(ctx, s->cas[ca]->id, serial, &st)) < 0)
			return rc;
		if (!st.issued)
			continue;
		answers[i].status = st.revoked ? CAPSTAN_OCSP_REVOKED : CAPSTAN_OCSP_GOOD;
		answers[i].revoked_at = st.revoked_at;
		if (st.revoked && capstan_revoke_reason_parse(st.reason, &reason) == 0)
			answers[i].reason = (int)reason;
	}
	return 0;
}

static int respond_signed(capstan_buf *response, capstan_ctx *ctx, const capstan_ocsp_request *req,
	const ca_set *s, size_t ca, time_t now)
{
	capstan_store_ocsp_responder r = { 0 };
	capstan_ocsp_answer *answers = calloc(capstan_ocsp_request_count(req), sizeof(*answers));
	capstan_key *key = NULL;
	time_t next;
	int rc;

	if (!answers)
		return capstan_error_oom(ctx);
	if ((rc = answer_all(ctx, req, s, ca, answers)) < 0 || (rc = responder_for(ctx, s->cas[ca], now, &r, &key)) < 0)
		goto done;
	/* Never promised past the certificate that signs it. */
	next = now + ANSWER_VALIDITY < r.not_after ? now + ANSWER_VALIDITY : r.not_after;
	rc = capstan_ocsp_response_sign(response, ctx, req, answers, now, next, r.der.data, r.der.len, key);
done:
	capstan_store_ocsp_responder_clear(&r);
	capstan_key_free(key);
	free(answers);
	return rc;
}

int capstan_ocsp_respond(capstan_buf *response, capstan_ctx *ctx, const unsigned char *request, size_t request_len)
{
	capstan_ocsp_request *req = NULL;
	ca_set s;
	time_t now = time(NULL);
	long ca;
	int rc;

	if ((rc = capstan_require_store(ctx)) < 0)
		return rc;
	if ((rc = capstan_ocsp_request_read(&req, ctx, request, request_len)) == CAPSTAN_EINVALID)
		return capstan_ocsp_response_error(response, ctx, CAPSTAN_OCSP_MALFORMED_REQUEST);
	if (rc < 0)
		return rc;
	if ((rc = ca_set_load(ctx, now, &s)) < 0) {
		capstan_ocsp_request_free(req);
		return rc;
	}
	if ((ca = signing_ca(req, &s)) < 0)
		rc = capstan_ocsp_response_error(response, ctx, CAPSTAN_OCSP_UNAUTHORIZED);
	else
		rc = respond_signed(response, ctx, req, &s, (size_t)ca, now);
	ca_set_free(&s);
	capstan_ocsp_request_free(req);
	return rc;
}

int capstan_crl_by_ski(capstan_buf *der, capstan_ctx *ctx, const unsigned char *ski, size_t ski_len)
{
	ca_set s;
	int rc;

	if ((rc = capstan_require_store(ctx)) < 0 || (rc = ca_set_load(ctx, time(NULL), &s)) < 0)
		return rc;
	rc = CAPSTAN_ENOTFOUND;
	for (size_t i = 0; i < s.count && rc == CAPSTAN_ENOTFOUND; i++)
		if (ski && ski_len > 0 && s.ids[i].ski_len == ski_len && memcmp(s.ids[i].ski, ski, ski_len) == 0)
			rc = capstan_crl_of_issuer(der, ctx, s.cas[i]);
	if (rc == CAPSTAN_ENOTFOUND)
		rc = capstan_error(ctx, CAPSTAN_ENOTFOUND, "no CA of the inventory has that key identifier");
	ca_set_free(&s);
	return rc;
}

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
