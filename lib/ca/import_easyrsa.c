/*
 * capstan import --easy-rsa: an easy-rsa 3 PKI, whose index.txt is the one
 * openssl ca keeps (--openssl-ca: the same, its CA in cacert.pem and
 * private/cakey.pem, its certificates in newcerts/). Its CA becomes the root, with a capstan intermediate
 * for new leaves; every certificate index.txt lists comes with its serial,
 * status, revocation time and reason, and the key easy-rsa kept for it.
 * Everything is read and checked before the write lock; one transaction
 * stores it all or nothing.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <capstan/file.h>
#include <capstan/lifecycle.h>
#include <capstan/parse.h>

#include "audit.h"
#include "ca_internal.h"
#include "import_internal.h"
#include "store/store.h"

#define MAX_PKI_FILE (1024 * 1024)
#define MAX_INDEX (256 * 1024 * 1024)

typedef struct {
	char status;               /* V, E (expired) or R (revoked) */
	time_t revoked_at;
	char reason[32];           /* as capstan names it */
	char easy_reason[32];      /* as index.txt said it ("" for none) */
	char serial[48];           /* as index.txt writes it */
	char *subject_cn;          /* the CN of index.txt's subject: easy-rsa's file name */
	capstan_buf der;
	capstan_buf sealed;        /* empty: no key kept */
	char *name;
	capstan_profile profile;
} pki_cert;

/* Where a layout keeps its CA, and what it is called in messages. */
typedef struct {
	const char *what, *cert, *key;
} pki_layout;

static const pki_layout easy_rsa = { "an easy-rsa PKI", "ca.crt", "private/ca.key" };
static const pki_layout openssl_ca = { "an openssl ca directory", "cacert.pem", "private/cakey.pem" };

typedef struct {
	const char *dir;
	const pki_layout *layout;
	pki_cert *items;
	size_t count;
	int64_t crl_last;          /* 0: easy-rsa numbered none */
} pki;

static void pki_clear(pki *p)
{
	for (size_t i = 0; i < p->count; i++) {
		free(p->items[i].subject_cn);
		free(p->items[i].name);
		capstan_buf_free(&p->items[i].der);
		capstan_buf_free(&p->items[i].sealed);
	}
	free(p->items);
}

/* Reads DIR/REL when it is there: 1 read, 0 absent. */
static int pki_file(capstan_ctx *ctx, const pki *p, const char *rel, size_t max, capstan_buf *out, char **path)
{
	struct stat sb;
	char *at = capstan_aprintf("%s/%s", p->dir, rel);
	int rc;

	if (!at)
		return capstan_error_oom(ctx);
	if (stat(at, &sb) < 0 && errno == ENOENT) {
		free(at);
		return 0;
	}
	rc = capstan_file_read(out, ctx, at, max);
	if (rc == 0 && path)
		*path = at;
	else
		free(at);
	return rc < 0 ? rc : 1;
}

/* YYMMDDHHMMSSZ (UTCTime) or YYYYMMDDHHMMSSZ, as openssl ca writes them. */
static int index_time(const char *s, size_t len, time_t *out)
{
	struct tm tm = { 0 };
	int v[7], n = len == 13 ? 6 : len == 15 ? 7 : 0, year;

	if (n == 0 || s[len - 1] != 'Z')
		return -1;
	for (int i = 0; i < n; i++) {
		if (s[2 * i] < '0' || s[2 * i] > '9' || s[2 * i + 1] < '0' || s[2 * i + 1] > '9')
			return -1;
		v[i] = (s[2 * i] - '0') * 10 + (s[2 * i + 1] - '0');
	}
	year = n == 6 ? (v[0] < 50 ? 2000 + v[0] : 1900 + v[0]) : v[0] * 100 + v[1];
	tm.tm_year = year - 1900;
	tm.tm_mon = v[n - 5] - 1;
	tm.tm_mday = v[n - 4];
	tm.tm_hour = v[n - 3];
	tm.tm_min = v[n - 2];
	tm.tm_sec = v[n - 1];
	*out = timegm(&tm);
	return 0;
}

/* The revocation field: "TIME" or "TIME,REASON"; reasons capstan does not
 * name (CACompromise, certificateHold, ...) are kept as unspecified, and
 * the audit row says which they were. */
static int index_revocation(pki_cert *c, const char *field, size_t len)
{
	const char *comma = memchr(field, ',', len);
	size_t tlen = comma ? (size_t)(comma - field) : len, rlen = comma ? len - tlen - 1 : 0;
	capstan_revoke_reason code;

	if (index_time(field, tlen, &c->revoked_at) < 0 || rlen >= sizeof(c->easy_reason))
		return -1;
	memcpy(c->easy_reason, comma ? comma + 1 : "", rlen);
	c->easy_reason[rlen] = '\0';
	if (capstan_revoke_reason_parse(c->easy_reason, &code) < 0)
		code = CAPSTAN_REASON_UNSPECIFIED;
	snprintf(c->reason, sizeof(c->reason), "%s", capstan_revoke_reason_name(code));
	return 0;
}

/* The last CN of index.txt's subject ("/O=x/CN=name"): the name easy-rsa gave the files. */
static int subject_cn(capstan_ctx *ctx, const char *s, size_t len, char **out)
{
	const char *cn = NULL;
	size_t n = 0;

	for (size_t i = 0; i + 4 <= len; i++)
		if (memcmp(s + i, "/CN=", 4) == 0)
			cn = s + i + 4;
	if (!cn)
		return 0;
	while (cn + n < s + len && cn[n] != '/')
		n++;
	return (*out = strndup(cn, n)) ? 0 : capstan_error_oom(ctx);
}

/* One line: STATUS, expiry, revocation, serial, file ("unknown"), subject. */
static int index_line(capstan_ctx *ctx, const char *path, size_t lineno, const char *line, size_t len, pki_cert *c)
{
	const char *f[6], *p = line, *end = line + len;
	size_t flen[6], n;

	for (n = 0; n < 6; n++) {
		const char *tab = n < 5 ? memchr(p, '\t', (size_t)(end - p)) : NULL;
		f[n] = p;
		flen[n] = (size_t)((tab ? tab : end) - p);
		if (n < 5 && !tab) {
			n++;
			break;
		}
		p = tab ? tab + 1 : end;
	}
	if (n < 6 || flen[0] != 1 || !strchr("VRE", f[0][0]) || flen[3] == 0 || flen[3] >= sizeof(c->serial) ||
	    (f[0][0] == 'R' && index_revocation(c, f[2], flen[2]) < 0))
		return capstan_error(ctx, CAPSTAN_EINVALID, "'%s' line %zu is not an index.txt line", path, lineno);
	c->status = f[0][0];
	memcpy(c->serial, f[3], flen[3]);
	c->serial[flen[3]] = '\0';
	return subject_cn(ctx, f[5], flen[5], &c->subject_cn);
}

static int read_index(capstan_ctx *ctx, pki *p)
{
	capstan_buf idx = CAPSTAN_BUF_INIT;
	char *path = NULL;
	size_t lineno = 0, lines = 0;
	int rc;

	if ((rc = pki_file(ctx, p, "index.txt", MAX_INDEX, &idx, &path)) == 0)
		rc = capstan_error(ctx, CAPSTAN_ENOTFOUND, "'%s' is not %s: it has no index.txt", p->dir,
			p->layout->what);
	for (size_t i = 0; rc >= 0 && i < idx.len; i++)
		lines += ((const char *)idx.data)[i] == '\n';
	if (rc >= 0 && !(p->items = calloc(lines + 1, sizeof(*p->items))))
		rc = capstan_error_oom(ctx);
	for (const char *s = (const char *)idx.data, *end = s + idx.len; rc >= 0 && s < end;) {
		const char *nl = memchr(s, '\n', (size_t)(end - s));
		size_t len = nl ? (size_t)(nl - s) : (size_t)(end - s);
		lineno++;
		if (len > 0 && (rc = index_line(ctx, path, lineno, s, len, &p->items[p->count])) >= 0)
			p->count++;
		s += len + 1;
	}
	free(path);
	capstan_buf_free(&idx);
	return rc < 0 ? rc : 0;
}

/* Serials compared as numbers: case and leading zeros aside. */
static int same_serial(const char *a, const char *b)
{
	while (*a == '0' && a[1])
		a++;
	while (*b == '0' && b[1])
		b++;
	return strcasecmp(a, b) == 0;
}

/* The first candidate file there that holds the serial index.txt says, into c->der. */
static int cert_file(capstan_ctx *ctx, const pki *p, pki_cert *c, char *const rel[], size_t n, char **path)
{
	capstan_buf raw = CAPSTAN_BUF_INIT;
	char serial[41];
	int rc = 0;

	for (size_t i = 0; i < n && rc >= 0; i++) {
		free(*path);
		*path = NULL;
		if (!rel[i] || (rc = pki_file(ctx, p, rel[i], MAX_PKI_FILE, &raw, path)) != 1)
			continue;
		capstan_input in = { *path, raw.data, raw.len };
		capstan_buf_free(&c->der);
		if ((rc = capstan_x509_read_one(&c->der, ctx, &in)) == 0 &&
		    (rc = capstan_x509_serial_hex(ctx, c->der.data, c->der.len, serial)) == 0 && same_serial(serial, c->serial))
			break; /* else a later certificate of the same name (issued/) */
		capstan_buf_free(&raw);
	}
	capstan_buf_free(&raw);
	if (rc < 0 || (*path && c->der.len))
		return rc < 0 ? rc : 0;
	return capstan_error(ctx, CAPSTAN_ENOTFOUND, "serial %s of %s/index.txt: no certificate file"
		" (certs_by_serial/, issued/, revoked/certs_by_serial/, newcerts/)", c->serial, p->dir);
}

/* The certificate of c: where openssl ca keeps every one by serial, else
 * where easy-rsa keeps it by name (issued/) or, revoked, by serial; checked
 * to be issued by the CA, and a leaf. */
static int find_cert(capstan_ctx *ctx, const pki *p, pki_cert *c, const capstan_buf *ca)
{
	char *rel[4] = { capstan_aprintf("certs_by_serial/%s.pem", c->serial),
			 c->subject_cn ? capstan_aprintf("issued/%s.crt", c->subject_cn) : NULL,
			 capstan_aprintf("revoked/certs_by_serial/%s.crt", c->serial),
			 capstan_aprintf("newcerts/%s.pem", c->serial) };
	char *path = NULL;
	int rc;

	if (!rel[0] || (c->subject_cn && !rel[1]) || !rel[2] || !rel[3])
		rc = capstan_error_oom(ctx);
	else
		rc = cert_file(ctx, p, c, rel, 4, &path);
	if (rc == 0 && capstan_x509_leaf_read(ctx, c->der.data, c->der.len, ca->data, ca->len, &c->profile) < 0)
		rc = capstan_error(ctx, CAPSTAN_EINVALID, "'%s' (serial %s): %s", path, c->serial,
			capstan_error_message(ctx));
	for (int i = 0; i < 4; i++)
		free(rel[i]);
	free(path);
	return rc;
}

/* The key easy-rsa kept for c, sealed, when there is one and it is c's. */
static int find_key(capstan_ctx *ctx, const pki *p, pki_cert *c, const capstan_secret *pass)
{
	unsigned char want[CAPSTAN_SHA256_LEN], have[CAPSTAN_SHA256_LEN];
	char *rel = c->status == 'R' ? capstan_aprintf("revoked/private_by_serial/%s.key", c->serial) :
		c->subject_cn ? capstan_aprintf("private/%s.key", c->subject_cn) : NULL;
	capstan_buf raw = CAPSTAN_BUF_INIT;
	capstan_key *key = NULL;
	char *path = NULL;
	int rc;

	if (!rel)
		return c->status == 'R' || c->subject_cn ? capstan_error_oom(ctx) : 0;
	if ((rc = pki_file(ctx, p, rel, MAX_PKI_FILE, &raw, &path)) == 1) {
		capstan_input in = { path, raw.data, raw.len };
		if ((rc = capstan_key_read(&key, ctx, &in, pass)) == 0 &&
		    (rc = capstan_key_spki_sha256(ctx, key, have)) == 0 &&
		    (rc = capstan_x509_spki_sha256(ctx, c->der.data, c->der.len, want)) == 0 &&
		    memcmp(have, want, sizeof(have)) == 0) /* else a later certificate's key: none for this one */
			rc = capstan_key_seal(&c->sealed, ctx, key);
	}
	capstan_key_free(key);
	capstan_buf_free(&raw);
	free(path);
	free(rel);
	return rc < 0 ? rc : 0;
}

/* Its name in the inventory: the CN when it makes one, else by serial. */
static int cert_name(capstan_ctx *ctx, pki_cert *c)
{
	capstan_x509_info info;
	const char *why = NULL;
	int rc;

	if ((rc = capstan_x509_info_read(&info, ctx, c->der.data, c->der.len)) < 0)
		return rc;
	if (info.cn && capstan_check_identifier(info.cn, &why) == 0)
		c->name = strdup(info.cn);
	else
		c->name = capstan_aprintf("serial-%s", info.serial);
	capstan_x509_info_clear(&info);
	return c->name ? 0 : capstan_error_oom(ctx);
}

/* The last CRL number easy-rsa issued: crlnumber holds the next one (hex)
 * when easy-rsa was set to number CRLs, crl.pem carries the last; the
 * greater of the two, or none (0). */
static int crl_last(capstan_ctx *ctx, pki *p)
{
	capstan_buf b = CAPSTAN_BUF_INIT;
	char text[32], *end = NULL;
	int64_t in_crl = -1;
	int rc;

	if ((rc = pki_file(ctx, p, "crlnumber", 64, &b, NULL)) == 1) {
		snprintf(text, sizeof(text), "%.*s", (int)(b.len < 31 ? b.len : 31), (const char *)b.data);
		errno = 0;
		p->crl_last = strtoll(text, &end, 16) - 1;
		if (errno || end == text || (*end && *end != '\n') || p->crl_last < 0)
			rc = capstan_error(ctx, CAPSTAN_EINVALID, "'%s/crlnumber' is not a CRL number", p->dir);
	}
	capstan_buf_free(&b);
	if (rc >= 0 && (rc = pki_file(ctx, p, "crl.pem", MAX_INDEX, &b, NULL)) == 1 &&
	    (rc = capstan_crl_number_read(ctx, b.data, b.len, &in_crl)) < 0)
		rc = capstan_error(ctx, rc, "'%s/crl.pem': %s", p->dir, capstan_error_message(ctx));
	if (in_crl > p->crl_last)
		p->crl_last = in_crl;
	capstan_buf_free(&b);
	return rc < 0 ? rc : 0;
}

/* Everything read and checked, keys sealed: before the write lock. */
static int pki_read(capstan_ctx *ctx, const capstan_import_opts *o, capstan_import_plan *plan, pki *p)
{
	capstan_buf files[2] = { CAPSTAN_BUF_INIT, CAPSTAN_BUF_INIT };
	char *paths[2] = { NULL, NULL };
	struct stat sb;
	int rc = 0;

	if (stat(p->dir, &sb) < 0)
		return capstan_error(ctx, CAPSTAN_ENOTFOUND, "cannot read %s '%s': %s", p->layout->what, p->dir,
			strerror(errno));
	if (!S_ISDIR(sb.st_mode))
		return capstan_error(ctx, CAPSTAN_EINVALID, "'%s' is not a directory", p->dir);
	for (int i = 0; rc == 0 && i < 2; i++)
		if ((rc = pki_file(ctx, p, i ? p->layout->key : p->layout->cert, MAX_PKI_FILE, &files[i],
			     &paths[i])) == 0)
			rc = capstan_error(ctx, CAPSTAN_ENOTFOUND, "'%s' is not %s: it has no %s", p->dir,
				p->layout->what, i ? p->layout->key : p->layout->cert);
		else if (rc == 1)
			rc = 0;
	if (rc == 0) {
		capstan_input cert = { paths[0], files[0].data, files[0].len }, key = { paths[1], files[1].data, files[1].len };
		rc = capstan_import_plan_make(ctx, o, &cert, &key, plan);
	}
	if (rc == 0)
		rc = read_index(ctx, p);
	for (size_t i = 0; rc == 0 && i < p->count; i++)
		if ((rc = find_cert(ctx, p, &p->items[i], &plan->files.chain[0])) == 0 &&
		    (rc = find_key(ctx, p, &p->items[i], o->key_password)) == 0)
			rc = cert_name(ctx, &p->items[i]);
	if (rc == 0)
		rc = crl_last(ctx, p);
	for (int i = 0; i < 2; i++) {
		capstan_buf_free(&files[i]);
		free(paths[i]);
	}
	return rc;
}

/* Inside the transaction: one certificate, its revocation, their audit rows. */
static int pki_cert_record(capstan_ctx *ctx, const capstan_store_env *env, const capstan_cert *root,
	const pki_cert *c, capstan_import_result *out)
{
	capstan_cert *rec = NULL;
	char detail[96];
	int rc;

	if ((rc = capstan_import_cert(ctx, env, CAPSTAN_KIND_LEAF, c->profile, c->name, &c->der,
		     c->sealed.len ? &c->sealed : NULL, root, &rec)) < 0)
		return rc;
	out->leaves++;
	out->keys += c->sealed.len > 0;
	if (c->status == 'R') {
		snprintf(detail, sizeof(detail), "revoked in easy-rsa (%s)", c->easy_reason[0] ? c->easy_reason : "no reason");
		if ((rc = capstan_store_cert_revoke(ctx, rec->id, c->revoked_at, c->reason)) == 0)
			rc = capstan_audit_record(ctx, "import", env->name, rec->name, rec->serial, detail);
		out->revoked++;
	} else if (rec->not_after <= time(NULL)) {
		out->expired++;
	}
	capstan_cert_free(rec);
	return rc;
}

static int pki_records(capstan_ctx *ctx, const capstan_import_opts *o, capstan_import_plan *plan, const pki *p,
	capstan_import_result *out)
{
	capstan_store_env env;
	int rc;

	if ((rc = capstan_import_records(ctx, o, plan, &env, &out->root, &out->intermediate)) < 0)
		return rc;
	for (size_t i = 0; rc == 0 && i < p->count; i++)
		rc = pki_cert_record(ctx, &env, out->root, &p->items[i], out);
	if (rc == 0 && p->crl_last > 0)
		rc = capstan_store_crl_continue(ctx, out->root->id, p->crl_last);
	out->crl_number = p->crl_last;
	return rc;
}

int capstan_import_easyrsa(capstan_import_result *out, capstan_ctx *ctx, const capstan_import_opts *o)
{
	capstan_import_plan plan;
	pki p = { .dir = o->easy_rsa ? o->easy_rsa : o->openssl_ca,
		  .layout = o->easy_rsa ? &easy_rsa : &openssl_ca };
	int rc;

	memset(&plan, 0, sizeof(plan));
	if ((rc = capstan_ca_env_absent(ctx, o->env)) < 0 || (rc = pki_read(ctx, o, &plan, &p)) < 0)
		goto done;
	if ((rc = capstan_store_begin(ctx)) < 0 || (rc = capstan_store_end(ctx, pki_records(ctx, o, &plan, &p, out))) < 0)
		capstan_import_result_clear(out);
done:
	capstan_import_plan_clear(&plan);
	pki_clear(&p);
	return rc;
}
