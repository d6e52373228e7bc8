/* fetch's HTTPS client, with libcurl (its OpenSSL build): the only file that
 * includes curl/curl.h. Mutual TLS from files read once, the server checked
 * against the given trust alone (no system store) and the URL's host name,
 * TLS 1.2 at least, bounded in time, retried with back-off when no answer
 * came, never when one did (a 4xx is an answer). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include <capstan/file.h>

#include "fetch_internal.h"

#define MAX_PEM_FILE (1024 * 1024)
#define MAX_BODY (300u * 1024 * 1024)

/* The key: opened once, checked private (as a passphrase file is), read from
 * that descriptor. */
static int read_key(capstan_ctx *ctx, const char *path, capstan_buf *out)
{
	unsigned char buf[4096];
	struct stat sb;
	ssize_t n;
	int rc, fd = capstan_input_open(ctx, path, 0, &sb);

	if (fd < 0)
		return fd;
	if ((rc = capstan_private_check(ctx, CAPSTAN_FIELD_NONE, "key file", path, &sb, 1)) < 0) {
		close(fd);
		return rc;
	}
	while (rc == 0 && (n = read(fd, buf, sizeof(buf))) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			rc = capstan_error(ctx, CAPSTAN_ERROR, "cannot read '%s': %s", path, strerror(errno));
		else if (out->len + (size_t)n > MAX_PEM_FILE)
			rc = capstan_error(ctx, CAPSTAN_EINVALID, "'%s' is larger than %d bytes", path, MAX_PEM_FILE);
		else
			rc = capstan_buf_append(ctx, out, buf, (size_t)n);
	}
	capstan_wipe(buf, sizeof(buf));
	close(fd);
	return rc;
}

int fetch_conn_open(fetch_conn *c, capstan_ctx *ctx, const capstan_fetch_opts *o)
{
	int rc;

	*c = (fetch_conn){ .o = o, .cert = CAPSTAN_BUF_INIT, .key = CAPSTAN_BUF_INIT, .ca = CAPSTAN_BUF_INIT };
	if (!o->server || strncmp(o->server, "https://", 8) != 0 || !o->server[8])
		return capstan_error(ctx, CAPSTAN_EINVALID, "server '%s': expected https://HOST[:PORT]",
			o->server ? o->server : "");
	if (!o->cert || !o->key || !o->ca)
		return capstan_error(ctx, CAPSTAN_EINVALID, "an identity certificate, its key and a trust bundle are needed");
	if ((rc = capstan_file_read(&c->cert, ctx, o->cert, MAX_PEM_FILE)) < 0 ||
	    (rc = read_key(ctx, o->key, &c->key)) < 0 || (rc = capstan_file_read(&c->ca, ctx, o->ca, MAX_PEM_FILE)) < 0)
		fetch_conn_close(c);
	return rc;
}

void fetch_conn_close(fetch_conn *c)
{
	capstan_wipe(c->key.data, c->key.len);
	capstan_buf_free(&c->key);
	capstan_buf_free(&c->cert);
	capstan_buf_free(&c->ca);
}

typedef struct {
	capstan_ctx *ctx;
	fetch_response *r;
	int too_large, oom;
} sink;

static size_t on_body(char *p, size_t size, size_t n, void *arg)
{
	sink *s = arg;
	size_t len = size * n;

	if (s->r->body.len + len > MAX_BODY) {
		s->too_large = 1;
		return 0;
	}
	if (capstan_buf_append(s->ctx, &s->r->body, p, len) < 0) {
		s->oom = 1;
		return 0;
	}
	return len;
}

static size_t on_header(char *p, size_t size, size_t n, void *arg)
{
	sink *s = arg;
	size_t len = size * n, start = 5, end;

	if (len > 5 && strncasecmp(p, "etag:", 5) == 0) {
		while (start < len && (p[start] == ' ' || p[start] == '\t'))
			start++;
		for (end = len; end > start && strchr(" \t\r\n", p[end - 1]); end--)
			;
		/* One that does not fit is dropped, not cut: a cut one would never match. */
		if (end - start < sizeof(s->r->etag))
			snprintf(s->r->etag, sizeof(s->r->etag), "%.*s", (int)(end - start), p + start);
		else
			s->r->etag[0] = '\0';
	}
	return len;
}

/* Each option in turn, stopping at the first refused: its code is the one reported. */
#define SET(opt, val) do { if (e == CURLE_OK) e = curl_easy_setopt(h, opt, val); } while (0)

static CURLcode setup(CURL *h, const fetch_conn *c, const char *method, const char *url, struct curl_slist *headers,
	sink *s, char *errbuf)
{
	const capstan_fetch_opts *o = c->o;
	/* Not copied: the key stays in the one buffer that is wiped. */
	struct curl_blob ca = { c->ca.data, c->ca.len, CURL_BLOB_NOCOPY };
	struct curl_blob cert = { c->cert.data, c->cert.len, CURL_BLOB_NOCOPY };
	struct curl_blob key = { c->key.data, c->key.len, CURL_BLOB_NOCOPY };
	CURLcode e = CURLE_OK;

	SET(CURLOPT_ERRORBUFFER, errbuf);
	/* Only the given trust: no system store, no CA directory. */
	SET(CURLOPT_CAINFO, NULL);
	SET(CURLOPT_CAPATH, NULL);
	SET(CURLOPT_CAINFO_BLOB, &ca);
	SET(CURLOPT_SSLCERT_BLOB, &cert);
	SET(CURLOPT_SSLKEY_BLOB, &key);
	SET(CURLOPT_SSLCERTTYPE, "PEM");
	SET(CURLOPT_SSLKEYTYPE, "PEM");
	SET(CURLOPT_SSL_VERIFYPEER, 1L);
	SET(CURLOPT_SSL_VERIFYHOST, 2L);
	SET(CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
	SET(CURLOPT_PROTOCOLS_STR, "https");
	/* Straight to the server: no proxy from https_proxy/ALL_PROXY in a
	 * timer's environment, and no proxy's headers taken for the server's. */
	SET(CURLOPT_PROXY, "");
	SET(CURLOPT_SUPPRESS_CONNECT_HEADERS, 1L);
	SET(CURLOPT_NOSIGNAL, 1L);
	SET(CURLOPT_CONNECTTIMEOUT, (long)(o->connect_timeout ? o->connect_timeout : 10));
	SET(CURLOPT_TIMEOUT, (long)(o->timeout ? o->timeout : 120));
	SET(CURLOPT_URL, url);
	SET(CURLOPT_CUSTOMREQUEST, method);
	if (strcmp(method, "POST") == 0) {
		SET(CURLOPT_POST, 1L);
		SET(CURLOPT_POSTFIELDSIZE, 0L);
		SET(CURLOPT_POSTFIELDS, "");
	}
	SET(CURLOPT_HTTPHEADER, headers);
	SET(CURLOPT_USERAGENT, "capstan-fetch/" CAPSTAN_VERSION);
	SET(CURLOPT_WRITEFUNCTION, on_body);
	SET(CURLOPT_WRITEDATA, s);
	SET(CURLOPT_HEADERFUNCTION, on_header);
	SET(CURLOPT_HEADERDATA, s);
	return e;
}

#undef SET

/* Worth another try: no answer came (not a TLS verdict, which would only
 * repeat). A change (POST) is tried again only when it cannot have reached
 * the server: after that, a second try could renew twice. */
static int retryable(const char *method, CURLcode e, long status)
{
	if (strcmp(method, "GET") != 0)
		return e == CURLE_COULDNT_CONNECT || e == CURLE_COULDNT_RESOLVE_HOST;
	if (e == CURLE_OK)
		return status == 502 || status == 503 || status == 504;
	return e == CURLE_COULDNT_CONNECT || e == CURLE_OPERATION_TIMEDOUT || e == CURLE_COULDNT_RESOLVE_HOST ||
		e == CURLE_SEND_ERROR || e == CURLE_RECV_ERROR || e == CURLE_GOT_NOTHING || e == CURLE_PARTIAL_FILE;
}

static void back_off(unsigned attempt)
{
	long ms = 500L << (attempt < 4 ? attempt : 4); /* 0.5 s, 1 s, 2 s ... 8 s */
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static int one_try(capstan_ctx *ctx, const fetch_conn *c, const char *method, const char *url,
	struct curl_slist *headers, fetch_response *r, CURLcode *e)
{
	CURL *h = curl_easy_init();
	char errbuf[CURL_ERROR_SIZE] = "";
	sink s = { ctx, r, 0, 0 };

	capstan_wipe(r->body.data, r->body.len); /* an earlier try's part of a bundle: keys */
	capstan_buf_free(&r->body);
	r->etag[0] = '\0';
	r->status = 0;
	if (!h)
		return capstan_error_oom(ctx);
	if ((*e = setup(h, c, method, url, headers, &s, errbuf)) != CURLE_OK) {
		curl_easy_cleanup(h);
		return capstan_error(ctx, CAPSTAN_ERROR, "cannot set up the HTTPS client: %s", curl_easy_strerror(*e));
	}
	*e = curl_easy_perform(h);
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &r->status);
	curl_easy_cleanup(h);
	if (s.oom)
		return capstan_error_oom(ctx);
	if (s.too_large)
		return capstan_error(ctx, CAPSTAN_EINVALID, "%s: the answer is larger than %u bytes", url, MAX_BODY);
	/* curl says which check failed, not which option feeds it. */
	if (*e == CURLE_PEER_FAILED_VERIFICATION && strstr(errbuf, "certificate problem"))
		return capstan_error(ctx, CAPSTAN_ERROR, "%s %s: %s (is --ca '%s' the trust bundle of serve's environment?)",
			method, url, errbuf[0] ? errbuf : curl_easy_strerror(*e), c->o->ca);
	if (*e != CURLE_OK)
		return capstan_error(ctx, CAPSTAN_ERROR, "%s %s: %s", method, url, errbuf[0] ? errbuf : curl_easy_strerror(*e));
	return 0;
}

int fetch_request(capstan_ctx *ctx, const fetch_conn *c, const char *method, const char *path,
	const char *if_none_match, fetch_response *r)
{
	struct curl_slist *headers = NULL, *more;
	size_t base = strlen(c->o->server);
	char *url, *inm = NULL;
	CURLcode e = CURLE_OK;
	int rc = 0;

	/* https://HOST:PORT/ names the same server as https://HOST:PORT. */
	while (base > 8 && c->o->server[base - 1] == '/')
		base--;
	url = capstan_aprintf("%.*s%s", (int)base, c->o->server, path);
	if (!url || (if_none_match && !(inm = capstan_aprintf("If-None-Match: %s", if_none_match))))
		rc = capstan_error_oom(ctx);
	/* No "Expect: 100-continue" wait; the If-None-Match when there is one. */
	if (rc == 0 && (!(more = curl_slist_append(headers, "Expect:")) || !(headers = more) ||
			(inm && (!(more = curl_slist_append(headers, inm)) || !(headers = more)))))
		rc = capstan_error_oom(ctx);
	for (unsigned attempt = 0; rc == 0; attempt++) {
		rc = one_try(ctx, c, method, url, headers, r, &e);
		if (rc < 0 && attempt > 0 && e != CURLE_OK) {
			char why[512];
			snprintf(why, sizeof(why), "%s", capstan_error_message(ctx));
			rc = capstan_error(ctx, rc, "%s (%u attempts)", why, attempt + 1);
		}
		if (attempt >= c->o->retries || (rc < 0 ? e == CURLE_OK || !retryable(method, e, 0) : !retryable(method, CURLE_OK, r->status)))
			break;
		back_off(attempt);
		rc = 0;
	}
	curl_slist_free_all(headers);
	free(inm);
	free(url);
	return rc;
}

/* The "error" string of a JSON body, for a message: printable characters
 * only, escapes left as they are. */
static void json_error_text(const fetch_response *r, char *out, size_t size)
{
	const char *p = r->body.data ? strstr((const char *)r->body.data, "\"error\"") : NULL;
	size_t n = 0;

	out[0] = '\0';
	if (!p || !(p = strchr(p + 7, '"')))
		return;
	for (p++; *p && *p != '"' && n + 1 < size; p++) {
		if (*p == '\\' && p[1])
			out[n++] = *p++;
		if (n + 1 < size)
			out[n++] = (*p >= 0x20 && *p < 0x7f) ? *p : '?';
	}
	out[n] = '\0';
}

int fetch_status_error(capstan_ctx *ctx, const char *what, const fetch_response *r)
{
	char msg[300];

	json_error_text(r, msg, sizeof(msg));
	return capstan_error(ctx, r->status == 403 || r->status == 401 ? CAPSTAN_EAUTH :
		r->status == 404 ? CAPSTAN_ENOTFOUND : r->status >= 400 && r->status < 500 ? CAPSTAN_EINVALID :
		CAPSTAN_ERROR, "%s: the server answered %ld%s%s", what, r->status, msg[0] ? ": " : "", msg);
}

char *fetch_escape(const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	char *out = malloc(3 * strlen(s) + 1), *o = out;

	for (; out && *s; s++) {
		unsigned char ch = (unsigned char)*s;
		if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || strchr("-._~/", ch)) {
			*o++ = (char)ch;
		} else {
			*o++ = '%';
			*o++ = hex[ch >> 4];
			*o++ = hex[ch & 15];
		}
	}
	if (out)
		*o = '\0';
	return out;
}
