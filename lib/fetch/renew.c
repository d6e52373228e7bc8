/* capstan fetch --renew: the host's identity certificate renewed by the
 * server (POST /v1/renew, proven by the certificate itself) once it is in its
 * renew-before window, and the new chain put in its place atomically. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <jansson.h>

#include <capstan/file.h>

#include "crypto/crypto.h"
#include "fetch_internal.h"

#define PEM_BEGIN "-----BEGIN CERTIFICATE-----"
#define PEM_END "-----END CERTIFICATE-----"
#define FETCH_CLOCK_SKEW 300 /* seconds a new certificate may start in the future (clocks differ) */

/* The DER of the first certificate of a PEM text (*der: free()). */
static int first_der(capstan_ctx *ctx, const char *pem, const char *what, unsigned char **der, size_t *len)
{
	const char *b = pem ? strstr(pem, PEM_BEGIN) : NULL, *e = b ? strstr(b, PEM_END) : NULL;
	char *text;
	size_t n = 0;
	int rc;

	if (!e)
		return capstan_error(ctx, CAPSTAN_EINVALID, "%s holds no PEM certificate", what);
	if (!(text = malloc((size_t)(e - b) + 1)))
		return capstan_error_oom(ctx);
	for (const char *p = b + strlen(PEM_BEGIN); p < e; p++)
		if (!strchr(" \t\r\n", *p))
			text[n++] = *p;
	rc = capstan_base64_decode(der, len, text, n) < 0 ?
		capstan_error(ctx, CAPSTAN_EINVALID, "%s: its first certificate is not base64", what) : 0;
	free(text);
	return rc;
}

static int cert_facts(capstan_ctx *ctx, const char *pem, const char *what, capstan_x509_info *info,
	unsigned char spki[CAPSTAN_SHA256_LEN])
{
	unsigned char *der = NULL;
	size_t len = 0;
	int rc;

	if ((rc = first_der(ctx, pem, what, &der, &len)) == 0 && (rc = capstan_x509_info_read(info, ctx, der, len)) == 0)
		rc = capstan_x509_spki_sha256(ctx, der, len, spki);
	free(der);
	return rc;
}

/* The 201's chain, checked to be a certificate of the same key, written over --cert. */
/* What a renewed certificate must be to replace one that works: the same
 * issuer, valid now, and outliving the old one. Written over --cert with no
 * copy kept, a wrong one would leave the host unable to ask again. */
static int check_successor(capstan_ctx *ctx, const capstan_x509_info *old, const capstan_x509_info *new)
{
	time_t now = time(NULL);

	if (!old->issuer || !new->issuer || strcmp(old->issuer, new->issuer) != 0)
		return capstan_error(ctx, CAPSTAN_EINVALID, "the renewed certificate's issuer '%s' is not the old one's '%s'",
			new->issuer ? new->issuer : "", old->issuer ? old->issuer : "");
	if (new->not_before > now + FETCH_CLOCK_SKEW || new->not_after <= now)
		return capstan_error(ctx, CAPSTAN_EINVALID, "the renewed certificate is not valid now");
	if (new->not_after < old->not_after)
		return capstan_error(ctx, CAPSTAN_EINVALID, "the renewed certificate ends before the old one");
	return 0;
}

static int take_answer(capstan_ctx *ctx, const capstan_fetch_opts *o, const fetch_response *r,
	const capstan_x509_info *old, const unsigned char old_spki[CAPSTAN_SHA256_LEN], capstan_fetch_renewal *out)
{
	json_t *doc = json_loadb((const char *)r->body.data, r->body.len, 0, NULL);
	const char *chain = doc ? json_string_value(json_object_get(doc, "chain")) : NULL;
	const char *serial = doc ? json_string_value(json_object_get(doc, "serial")) : NULL;
	unsigned char spki[CAPSTAN_SHA256_LEN];
	capstan_x509_info info = { 0 };
	struct stat sb;
	int rc;

	if (!chain || !serial) {
		rc = capstan_error(ctx, CAPSTAN_EINVALID, "the renewal's answer is not {chain, serial, ...} JSON");
		goto done;
	}
	if ((rc = cert_facts(ctx, chain, "the renewed chain", &info, spki)) < 0)
		goto done;
	if (!capstan_equal_ct(spki, old_spki, sizeof(spki))) {
		rc = capstan_error(ctx, CAPSTAN_EINVALID, "the renewed certificate is not for the key in '%s'", o->key);
		goto done;
	}
	if ((rc = check_successor(ctx, old, &info)) < 0)
		goto done;
	if ((rc = capstan_file_write(ctx, o->cert, chain, strlen(chain),
		     stat(o->cert, &sb) == 0 ? (unsigned)(sb.st_mode & 0644) : 0644)) < 0)
		goto done;
	out->renewed = 1;
	out->not_after = (int64_t)info.not_after;
	snprintf(out->serial, sizeof(out->serial), "%s", serial);
done:
	capstan_x509_info_clear(&info);
	json_decref(doc);
	return rc;
}

int capstan_fetch_renew(capstan_ctx *ctx, const capstan_fetch_opts *o, capstan_fetch_renewal *out)
{
	unsigned char spki[CAPSTAN_SHA256_LEN];
	capstan_x509_info info = { 0 };
	fetch_response r = { .body = CAPSTAN_BUF_INIT };
	fetch_conn c;
	int64_t window;
	int rc;

	*out = (capstan_fetch_renewal){ 0 };
	if ((rc = CAPSTAN_OPTS_CHECK(ctx, o, CAPSTAN_FETCH_OPTS_VERSION, "capstan_fetch_opts")) < 0 ||
	    (rc = fetch_conn_open(&c, ctx, o)) < 0)
		return rc;
	if ((rc = cert_facts(ctx, (const char *)c.cert.data, o->cert, &info, spki)) < 0)
		goto done;
	/* A third of its lifetime, as capstan's own renew-before default. */
	window = o->within > 0 ? o->within : ((int64_t)info.not_after - (int64_t)info.not_before) / 3;
	out->not_after = (int64_t)info.not_after;
	out->due_at = (int64_t)info.not_after - window;
	if ((int64_t)time(NULL) < out->due_at)
		goto done;
	if ((rc = fetch_request(ctx, &c, "POST", "/v1/renew", NULL, &r)) < 0)
		goto done;
	if (r.status != 201)
		rc = fetch_status_error(ctx, "the renewal", &r);
	else
		rc = take_answer(ctx, o, &r, &info, spki, out);
done:
	capstan_x509_info_clear(&info);
	capstan_buf_free(&r.body);
	fetch_conn_close(&c);
	return rc;
}
