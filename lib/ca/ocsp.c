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

/* A responder certificate lives a few days and is replaced once less than a
 * third of that is left; an answer is good for an hour. */
#define RESPONDER_LIFETIME (4 * CAPSTAN_DAY_SECONDS)
#define ANSWER_VALIDITY 3600
/* The CAs are read again after this long even when every request names a
 * known one (a request naming none reads them again at once). */
#define CA_SET_MAX_AGE 60

/* Every unexpired CA and what CertIDs and CRL URLs know it by. */
typedef struct {
	capstan_cert **cas;
	capstan_ocsp_issuer *ids;
	size_t count;
} ca_set;

/* Kept in the context between answers: a CA's hashes never change (its row
 * id names one certificate), and its responder is parsed again only when
 * the inventory holds another. The set of CAs is kept too: rows are never
 * taken out of the inventory and a CA's row never changes what an answer
 * reads of it, so a kept set is only short of CAs made since (a request
 * naming an unknown CA reads the set again before it is refused) and long
 * of ones expired since (skipped by their end). Reading the set and its
 * certificates was a quarter of an answer's cost. */
struct capstan_ocsp_cache {
	const capstan_store *store; /* the inventory it is about */
	ca_set set;
	time_t set_read_at;         /* 0: not read */
	struct known_ca {
		int64_t id;
		capstan_ocsp_issuer ids;
	} *cas;
	size_t ncas;
	struct known_responder {
		int64_t issuer_id;
		capstan_buf der;
		capstan_ocsp_signer *signer;
	} *responders;
	size_t nresponders;
};

static void ca_set_free(ca_set *s)
{
	capstan_cert_list_free(s->cas, s->count);
	free(s->ids);
	memset(s, 0, sizeof(*s));
}

void capstan_ocsp_cache_free(capstan_ctx *ctx)
{
	capstan_ocsp_cache *c = ctx->ocsp;

	if (!c)
		return;
	for (size_t i = 0; i < c->nresponders; i++) {
		capstan_buf_free(&c->responders[i].der);
		capstan_ocsp_signer_free(c->responders[i].signer);
	}
	ca_set_free(&c->set);
	free(c->responders);
	free(c->cas);
	free(c);
	ctx->ocsp = NULL;
}

static capstan_ocsp_cache *cache_of(capstan_ctx *ctx)
{
	if (ctx->ocsp && ctx->ocsp->store != ctx->store)
		capstan_ocsp_cache_free(ctx);
	if (!ctx->ocsp && (ctx->ocsp = calloc(1, sizeof(*ctx->ocsp))))
		ctx->ocsp->store = ctx->store;
	return ctx->ocsp;
}

/* The CA's hashes, from the cache or read (and kept). */
static int ca_ids(capstan_ctx *ctx, capstan_ocsp_cache *c, const capstan_cert *ca, capstan_ocsp_issuer *out)
{
	struct known_ca *grown;
	int rc;

	for (size_t i = 0; i < c->ncas; i++)
		if (c->cas[i].id == ca->id)
			return *out = c->cas[i].ids, 0;
	if ((rc = capstan_ocsp_issuer_read(out, ctx, ca->der, ca->der_len)) < 0)
		return rc;
	if (!(grown = realloc(c->cas, (c->ncas + 1) * sizeof(*grown))))
		return capstan_error_oom(ctx);
	c->cas = grown;
	c->cas[c->ncas].id = ca->id;
	c->cas[c->ncas++].ids = *out;
	return 0;
}

static int ca_set_load(capstan_ctx *ctx, capstan_ocsp_cache *c, time_t now, ca_set *s)
{
	int rc;

	memset(s, 0, sizeof(*s));
	if ((rc = capstan_store_cas(ctx, now, &s->cas, &s->count)) < 0)
		return rc;
	if (s->count && !(s->ids = calloc(s->count, sizeof(*s->ids))))
		rc = capstan_error_oom(ctx);
	for (size_t i = 0; rc == 0 && i < s->count; i++)
		rc = ca_ids(ctx, c, s->cas[i], &s->ids[i]);
	if (rc < 0)
		ca_set_free(s);
	return rc;
}

/* The CAs as kept, read again when asked (again), when never read or too
 * old, or when the inventory is another. *fresh: read by this call. */
static int ca_set_get(capstan_ctx *ctx, time_t now, int again, const ca_set **out, int *fresh)
{
	capstan_ocsp_cache *c = cache_of(ctx);
	ca_set s;
	int rc;

	*fresh = 0;
	if (!c)
		return capstan_error_oom(ctx);
	if (again || !c->set_read_at || now < c->set_read_at || now - c->set_read_at >= CA_SET_MAX_AGE) {
		if ((rc = ca_set_load(ctx, c, now, &s)) < 0)
			return rc;
		ca_set_free(&c->set);
		c->set = s;
		c->set_read_at = now;
		*fresh = 1;
	}
	*out = &c->set;
	return 0;
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

/* The responder parsed for r: kept from an earlier answer when the
 * inventory still holds the same one, else opened and kept. */
static int responder_signer(capstan_ctx *ctx, int64_t issuer_id, const capstan_store_ocsp_responder *r,
	const capstan_ocsp_signer **out)
{
	capstan_ocsp_cache *c = cache_of(ctx);
	struct known_responder *k = NULL, *grown;
	unsigned char spki[CAPSTAN_SHA256_LEN];
	capstan_key *key = NULL;
	capstan_ocsp_signer *signer = NULL;
	int rc;

	if (!c)
		return capstan_error_oom(ctx);
	for (size_t i = 0; i < c->nresponders && !k; i++)
		if (c->responders[i].issuer_id == issuer_id)
			k = &c->responders[i];
	if (k && k->der.len == r->der.len && memcmp(k->der.data, r->der.data, r->der.len) == 0)
		return *out = k->signer, 0;
	if ((rc = capstan_x509_spki_sha256(ctx, r->der.data, r->der.len, spki)) < 0 ||
	    (rc = capstan_key_unseal(&key, ctx, r->sealed.data, r->sealed.len, spki)) < 0 ||
	    (rc = capstan_ocsp_signer_new(&signer, ctx, r->der.data, r->der.len, key)) < 0)
		return rc;
	if (!k) {
		if (!(grown = realloc(c->responders, (c->nresponders + 1) * sizeof(*grown)))) {
			capstan_ocsp_signer_free(signer);
			return capstan_error_oom(ctx);
		}
		c->responders = grown;
		k = &c->responders[c->nresponders++];
		*k = (struct known_responder){ .issuer_id = issuer_id, .der = CAPSTAN_BUF_INIT };
	}
	capstan_ocsp_signer_free(k->signer);
	k->signer = signer;
	if ((rc = capstan_buf_set(ctx, &k->der, r->der.data, r->der.len)) < 0)
		k->der.len = 0; /* never matches: opened again next time */
	*out = k->signer;
	return 0;
}

/* The CA's responder: the stored one while fresh, else a new one (unless
 * another process made one meanwhile). *not_after: its end. */
static int responder_for(capstan_ctx *ctx, const capstan_cert *ca, time_t now, const capstan_ocsp_signer **signer,
	time_t *not_after)
{
	capstan_store_ocsp_responder r = { 0 };
	int rc;

	if ((rc = capstan_require_unlocked(ctx)) < 0 || (rc = capstan_store_ocsp_responder_get(ctx, ca->id, &r)) < 0)
		return rc;
	if (!responder_fresh(&r, ca, now)) {
		capstan_store_ocsp_responder_clear(&r);
		if ((rc = capstan_store_begin(ctx)) < 0)
			goto done;
		/* Read again under the write lock: another process may have made one. */
		if ((rc = capstan_store_ocsp_responder_get(ctx, ca->id, &r)) == 0 && !responder_fresh(&r, ca, now))
			rc = responder_issue(ctx, ca, now, &r);
		if ((rc = capstan_store_end(ctx, rc)) < 0)
			goto done;
	}
	*not_after = r.not_after;
	rc = responder_signer(ctx, ca->id, &r, signer);
done:
	capstan_store_ocsp_responder_clear(&r);
	return rc;
}

/* The CA that the request's first CertID of a known, unexpired CA names; -1: none. */
static long signing_ca(const capstan_ocsp_request *req, const ca_set *s, time_t now)
{
	for (size_t i = 0; i < capstan_ocsp_request_count(req); i++)
		for (size_t c = 0; c < s->count; c++)
			if (now < s->cas[c]->not_after && capstan_ocsp_request_names(req, i, &s->ids[c]))
				return (long)c;
	return -1;
}

/* The CA the request is for in the kept set, or in the set read again
 * when the kept one knows none it names. */
static int find_signing_ca(capstan_ctx *ctx, const capstan_ocsp_request *req, time_t now, const ca_set **s,
	long *ca)
{
	int rc, fresh;

	if ((rc = ca_set_get(ctx, now, 0, s, &fresh)) < 0)
		return rc;
	if ((*ca = signing_ca(req, *s, now)) < 0 && !fresh) {
		if ((rc = ca_set_get(ctx, now, 1, s, &fresh)) < 0)
			return rc;
		*ca = signing_ca(req, *s, now);
	}
	return 0;
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

/* An answer that may be given again (ocsp_answers.c) is looked up after the
 * inventory is read, and kept once signed. */
static int respond_signed(capstan_buf *response, capstan_ctx *ctx, const capstan_ocsp_request *req,
	const ca_set *s, size_t ca, time_t now)
{
	capstan_ocsp_answer *answers = calloc(capstan_ocsp_request_count(req), sizeof(*answers));
	const capstan_ocsp_signer *signer = NULL;
	unsigned char certid[160];
	size_t certid_len = 0;
	int reusable = capstan_ocsp_request_reuse_key(req, certid, sizeof(certid), &certid_len);
	time_t until = 0, next = 0;
	int rc;

	if (!answers)
		return capstan_error_oom(ctx);
	if ((rc = answer_all(ctx, req, s, ca, answers)) == 0 && reusable &&
	    (rc = capstan_ocsp_answers_get(ctx->ocsp_answers, ctx, s->cas[ca]->id, certid, certid_len, answers, now,
		     response)) != 0) {
		free(answers);
		return rc < 0 ? capstan_error_oom(ctx) : 0;
	}
	if (rc == 0 && (rc = responder_for(ctx, s->cas[ca], now, &signer, &until)) == 0) {
		/* Never promised past the certificate that signs it. */
		next = now + ANSWER_VALIDITY < until ? now + ANSWER_VALIDITY : until;
		rc = capstan_ocsp_response_sign(response, ctx, req, answers, now, next, signer);
	}
	if (rc == 0 && reusable)
		capstan_ocsp_answers_put(ctx->ocsp_answers, s->cas[ca]->id, certid, certid_len, answers, now, next,
			response);
	free(answers);
	return rc;
}

/* A failure is still answered: *response says internalError (RFC 6960
 * 2.3) for the caller to send, and the error (with its message) is returned. */
static int internal_error(capstan_buf *response, capstan_ctx *ctx, int rc)
{
	char message[sizeof(ctx->error_message)];

	memcpy(message, ctx->error_message, sizeof(message));
	capstan_buf_free(response);
	if (capstan_ocsp_response_error(response, ctx, CAPSTAN_OCSP_INTERNAL_ERROR) < 0)
		capstan_buf_free(response);
	return capstan_error(ctx, rc, "%s", message);
}

int capstan_ocsp_respond(capstan_buf *response, capstan_ctx *ctx, const unsigned char *request, size_t request_len)
{
	capstan_ocsp_request *req = NULL;
	const ca_set *s;
	time_t now = time(NULL);
	long ca;
	int rc;

	if ((rc = capstan_require_store(ctx)) < 0)
		return rc;
	if ((rc = capstan_ocsp_request_read(&req, ctx, request, request_len)) == CAPSTAN_EINVALID)
		return capstan_ocsp_response_error(response, ctx, CAPSTAN_OCSP_MALFORMED_REQUEST);
	if (rc < 0)
		return rc;
	if ((rc = find_signing_ca(ctx, req, now, &s, &ca)) < 0) {
		capstan_ocsp_request_free(req);
		return internal_error(response, ctx, rc);
	}
	if (ca < 0)
		rc = capstan_ocsp_response_error(response, ctx, CAPSTAN_OCSP_UNAUTHORIZED);
	else
		rc = respond_signed(response, ctx, req, s, (size_t)ca, now);
	capstan_ocsp_request_free(req);
	return rc < 0 ? internal_error(response, ctx, rc) : rc;
}

/* The unexpired CA of the set with that key identifier; -1: none. */
static long ca_by_ski(const ca_set *s, time_t now, const unsigned char *ski, size_t ski_len)
{
	for (size_t i = 0; i < s->count; i++)
		if (now < s->cas[i]->not_after && ski && ski_len > 0 && s->ids[i].ski_len == ski_len &&
		    memcmp(s->ids[i].ski, ski, ski_len) == 0)
			return (long)i;
	return -1;
}

int capstan_crl_by_ski(capstan_buf *der, capstan_ctx *ctx, const unsigned char *ski, size_t ski_len)
{
	const ca_set *s;
	time_t now = time(NULL);
	long i;
	int rc, fresh;

	if ((rc = capstan_require_store(ctx)) < 0 || (rc = ca_set_get(ctx, now, 0, &s, &fresh)) < 0)
		return rc;
	if ((i = ca_by_ski(s, now, ski, ski_len)) < 0 && !fresh) {
		if ((rc = ca_set_get(ctx, now, 1, &s, &fresh)) < 0)
			return rc;
		i = ca_by_ski(s, now, ski, ski_len);
	}
	if (i < 0)
		return capstan_error(ctx, CAPSTAN_ENOTFOUND, "no CA of the inventory has that key identifier");
	return capstan_crl_of_issuer(der, ctx, s->cas[i]);
}
