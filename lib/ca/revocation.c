/* CRLs: one per intermediate that still has unexpired certificates, and
 * one per trusted root, each with the next number of its issuer, listing
 * only revoked rows; stored, and handed out again while fresh when asked. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <capstan/lifecycle.h>
#include <capstan/parse.h>

#include "audit.h"
#include "base/base.h"
#include "ca_internal.h"
#include "store/store.h"
#include "crypto/crypto.h"

#define DEFAULT_NEXT_UPDATE (7 * CAPSTAN_DAY_SECONDS)

typedef struct {
	capstan_ctx *ctx;
	capstan_crl *crl;
	int64_t entries;
} crl_fill;

static int add_revoked(const char *serial, time_t revoked_at, const char *reason, void *payload)
{
	crl_fill *f = payload;
	capstan_revoke_reason code = CAPSTAN_REASON_UNSPECIFIED;

	if (reason && capstan_revoke_reason_parse(reason, &code) < 0)
		code = CAPSTAN_REASON_UNSPECIFIED;
	f->entries++;
	return capstan_crl_add(f->crl, f->ctx, serial, revoked_at, (int)code);
}

/* A CRL that outlives its issuer promises what nobody can keep: an asked-for
 * nextUpdate past the issuer's notAfter is refused; the default stops there. */
static int within_issuer(capstan_ctx *ctx, const capstan_cert *issuer, time_t now, time_t *next, int asked)
{
	char want[32], until[32];

	if (*next <= issuer->not_after || issuer->not_after <= now)
		return 0;
	if (!asked) {
		*next = issuer->not_after;
		return 0;
	}
	capstan_format_time(*next, want, sizeof(want));
	capstan_format_time(issuer->not_after, until, sizeof(until));
	return capstan_error_at(ctx, CAPSTAN_EINVALID, CAPSTAN_FIELD_NEXT_UPDATE,
		"a CRL of '%s' next updated at %s would outlive its issuer, which expires at %s", issuer->name, want, until);
}

/* Inside the transaction: a new CRL of the issuer, signed and stored. */
static int issuer_crl(capstan_ctx *ctx, const capstan_cert *issuer, time_t now, time_t next, int asked,
	capstan_crl_item *item)
{
	crl_fill fill = { ctx, NULL, 0 };
	capstan_key *key = NULL;
	char detail[96];
	int rc;

	if ((rc = within_issuer(ctx, issuer, now, &next, asked)) < 0 || (rc = capstan_require_unlocked(ctx)) < 0 || (rc = capstan_ca_load_key(ctx, issuer, &key)) < 0 ||
	    (rc = capstan_store_crl_next_number(ctx, issuer->id, now, next, &item->number)) < 0 ||
	    (rc = capstan_crl_new(&fill.crl, ctx, issuer->der, issuer->der_len, now, next, item->number)) < 0 ||
	    (rc = capstan_store_revoked_each(ctx, issuer->id, now, add_revoked, &fill)) < 0 ||
	    (rc = capstan_crl_sign(&item->der, fill.crl, ctx, key)) < 0 ||
	    (rc = capstan_store_crl_keep(ctx, issuer->id, item->der.data, item->der.len)) < 0)
		goto done;
	item->this_update = now;
	item->next_update = next;
	snprintf(detail, sizeof(detail), "CRL number %lld, %lld revoked", (long long)item->number,
		(long long)fill.entries);
	rc = capstan_audit_record(ctx, "crl", issuer->env, issuer->name, issuer->serial, detail);
done:
	capstan_crl_free(fill.crl);
	capstan_key_free(key);
	return rc;
}

/* Fresh: nothing revoked since it was signed, and not yet in the last third of its validity. */
static int is_fresh(const capstan_store_crl *last, time_t now)
{
	return last->der.len > 0 && !last->revoked_since && last->next_update > last->this_update &&
		now < last->this_update + (last->next_update - last->this_update) * 2 / 3;
}

/* Inside the transaction: the issuer's stored CRL when reuse allows, else a new one. */
static int item_for(capstan_ctx *ctx, const capstan_cert *issuer, int reuse, time_t now, time_t next, int asked,
	capstan_crl_item *item)
{
	capstan_store_crl last;
	int rc;

	item->is_root = issuer->kind == CAPSTAN_KIND_ROOT;
	if (!(item->issuer_name = strdup(issuer->name)) || !(item->issuer_serial = strdup(issuer->serial)))
		return capstan_error_oom(ctx);
	if (!reuse)
		return issuer_crl(ctx, issuer, now, next, asked, item);
	if ((rc = capstan_store_crl_last(ctx, issuer->id, &last)) < 0)
		return rc;
	if (!is_fresh(&last, now)) {
		capstan_buf_free(&last.der);
		return issuer_crl(ctx, issuer, now, next, asked, item);
	}
	item->der = last.der; /* taken over */
	item->this_update = last.this_update;
	item->next_update = last.next_update;
	item->number = last.number;
	item->reused = 1;
	return 0;
}

/* The issuers whose CRLs are wanted: the intermediates that need one, then
 * (with roots) every trusted root; each kind current first. */
static int crl_issuers(capstan_ctx *ctx, int64_t env_id, time_t now, int roots, capstan_cert ***out,
	size_t *count, size_t *inters)
{
	capstan_cert **list = NULL, **r = NULL, **grown;
	size_t n = 0, nr = 0;
	int rc;

	if ((rc = capstan_store_crl_issuers(ctx, env_id, now, &list, &n)) < 0)
		return rc;
	*inters = n;
	if (roots && (rc = capstan_store_env_roots(ctx, env_id, &r, &nr)) == 0 && nr > 0) {
		if (!(grown = realloc(list, (n + nr) * sizeof(*list)))) {
			rc = capstan_error_oom(ctx);
		} else {
			list = grown;
			memcpy(list + n, r, nr * sizeof(*r));
			n += nr, nr = 0;
		}
	}
	capstan_cert_list_free(r, nr);
	if (rc < 0) {
		capstan_cert_list_free(list, n);
		return rc;
	}
	*out = list;
	*count = n;
	return 0;
}

/* capstan_crl_generate (intermediates only, always signed) and capstan_crl_items. */
static int crl_build(capstan_ctx *ctx, const capstan_crl_opts *opts, int roots, int reuse,
	capstan_crl_item **items, size_t *count)
{
	capstan_store_env env;
	capstan_cert **issuers = NULL;
	capstan_crl_item *out = NULL;
	size_t n = 0, inters = 0;
	time_t now = time(NULL), next;
	int rc;

	if ((rc = capstan_require_store(ctx)) < 0 ||
	    (rc = capstan_store_env_get(ctx, opts->env ? opts->env : "", &env)) < 0)
		return rc;
	next = now + (opts->next_update > 0 ? opts->next_update : DEFAULT_NEXT_UPDATE);
	if ((rc = capstan_store_begin(ctx)) < 0)
		goto done;
	if ((rc = crl_issuers(ctx, env.id, now, roots, &issuers, &n, &inters)) == 0 && inters == 0)
		rc = capstan_error(ctx, CAPSTAN_ENOTFOUND, "environment '%s' has no current intermediate CA", env.name);
	if (rc == 0 && opts->single && inters > 1)
		rc = capstan_error(ctx, CAPSTAN_EINVALID,
			"%zu intermediates of '%s' have unexpired certificates: one DER CRL cannot cover them (use PEM)",
			inters, env.name);
	if (rc == 0 && !(out = calloc(n, sizeof(*out))))
		rc = capstan_error_oom(ctx);
	for (size_t i = 0; rc == 0 && i < n; i++) {
		/* each kind lists its valid (current) CA first */
		out[i].is_current = issuers[i]->status == CAPSTAN_STATUS_VALID && (i == 0 || i == inters);
		rc = item_for(ctx, issuers[i], reuse, now, next, opts->next_update > 0, &out[i]);
	}
	if ((rc = capstan_store_end(ctx, rc)) < 0) {
		capstan_crl_items_free(out, out ? n : 0);
		goto done;
	}
	*items = out;
	*count = n;
done:
	capstan_cert_list_free(issuers, n);
	capstan_store_env_clear(&env);
	return rc;
}

int capstan_crl_generate(capstan_buf **crls, size_t *count, capstan_ctx *ctx, const capstan_crl_opts *opts)
{
	capstan_crl_item *items = NULL;
	capstan_buf *out;
	size_t n = 0;
	int rc;

	if ((rc = CAPSTAN_OPTS_CHECK(ctx, opts, CAPSTAN_CRL_OPTS_VERSION, "capstan_crl_opts")) < 0 ||
	    (rc = crl_build(ctx, opts, 0, 0, &items, &n)) < 0)
		return rc;
	if (!(out = calloc(n ? n : 1, sizeof(*out)))) {
		capstan_crl_items_free(items, n);
		return capstan_error_oom(ctx);
	}
	for (size_t i = 0; i < n; i++) {
		out[i] = items[i].der; /* taken over */
		items[i].der = (capstan_buf)CAPSTAN_BUF_INIT;
	}
	capstan_crl_items_free(items, n);
	*crls = out;
	*count = n;
	return 0;
}

int capstan_crl_items(capstan_crl_item **items, size_t *count, capstan_ctx *ctx, const capstan_crl_opts *opts)
{
	capstan_crl_opts o;
	int rc;

	if ((rc = CAPSTAN_OPTS_CHECK(ctx, opts, CAPSTAN_CRL_OPTS_VERSION, "capstan_crl_opts")) < 0)
		return rc;
	o = *opts;
	o.single = 0; /* roots come too: never one CRL */
	return crl_build(ctx, &o, 1, opts->reuse, items, count);
}

void capstan_crl_items_free(capstan_crl_item *items, size_t count)
{
	for (size_t i = 0; items && i < count; i++) {
		capstan_buf_free(&items[i].der);
		free(items[i].issuer_name);
		free(items[i].issuer_serial);
	}
	free(items);
}

int capstan_crl_refresh_at(time_t *refresh_at, capstan_ctx *ctx, const char *env_name)
{
	capstan_store_env env;
	capstan_cert **issuers = NULL;
	capstan_store_crl last;
	size_t n = 0, inters = 0;
	time_t now = time(NULL), at = 0;
	int rc;

	if ((rc = capstan_require_store(ctx)) < 0 ||
	    (rc = capstan_store_env_get(ctx, env_name ? env_name : "", &env)) < 0)
		return rc;
	if ((rc = crl_issuers(ctx, env.id, now, 1, &issuers, &n, &inters)) < 0)
		goto done;
	for (size_t i = 0; rc == 0 && i < n; i++) {
		time_t t;
		if ((rc = capstan_store_crl_last(ctx, issuers[i]->id, &last)) < 0)
			break;
		t = is_fresh(&last, now) ? last.this_update + (last.next_update - last.this_update) * 2 / 3 : 0;
		if (i == 0 || t < at)
			at = t;
		capstan_buf_free(&last.der);
	}
	if (rc == 0)
		*refresh_at = at;
done:
	capstan_cert_list_free(issuers, n);
	capstan_store_env_clear(&env);
	return rc;
}

void capstan_crl_list_free(capstan_buf *crls, size_t count)
{
	for (size_t i = 0; crls && i < count; i++)
		capstan_buf_free(&crls[i]);
	free(crls);
}

int capstan_crl_pem(capstan_buf *out, capstan_ctx *ctx, const capstan_buf *crls, size_t count)
{
	int rc = 0;

	for (size_t i = 0; rc == 0 && i < count; i++)
		rc = capstan_crl_pem_append(out, ctx, crls[i].data, crls[i].len);
	if (rc < 0)
		capstan_buf_free(out);
	return rc;
}

int capstan_crl_of_issuer(capstan_buf *der, capstan_ctx *ctx, const capstan_cert *issuer)
{
	capstan_crl_item item = { .der = CAPSTAN_BUF_INIT };
	capstan_store_crl last;
	time_t now = time(NULL);
	int rc;

	/* A fresh CRL is handed out without taking the write lock: the plain
	 * HTTP endpoint asks on every fetch. */
	if ((rc = capstan_store_crl_last(ctx, issuer->id, &last)) < 0)
		return rc;
	if (is_fresh(&last, now)) {
		*der = last.der; /* taken over */
		return 0;
	}
	capstan_buf_free(&last.der);
	if ((rc = capstan_store_begin(ctx)) < 0)
		return rc;
	rc = item_for(ctx, issuer, 1, now, now + DEFAULT_NEXT_UPDATE, 0, &item);
	if ((rc = capstan_store_end(ctx, rc)) == 0) {
		*der = item.der;
		item.der = (capstan_buf)CAPSTAN_BUF_INIT;
	}
	capstan_buf_free(&item.der);
	free(item.issuer_name);
	free(item.issuer_serial);
	return rc;
}
