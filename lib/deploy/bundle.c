/* Bundles: a service's certificate files and its rendered configuration. */
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <capstan/bundle.h>
#include <capstan/ca.h>
#include <capstan/parse.h>
#include <capstan/template.h>

#include "base/base.h"
#include "ca/ca.h"
#include "delivery.h"
#include "bundle_internal.h"
#include "crypto/crypto.h"
#include "store/store.h"
#include "templates.h"

#define MAX_BUNDLE_CERTS 100000

/* What bundle building carries along. */
typedef struct {
	const capstan_bundle_opts *o;
	capstan_template_set *set;
	capstan_bundle *b;
	capstan_tvalue *top;       /* the service's data */
	capstan_tvalue *certs;     /* list of certificate maps (owned by top) */
	char password[64];
	int keystores;
	capstan_buf manifest;
	capstan_buf certs_lines;   /* the ledger's "NAME SERIAL NOT_AFTER" lines */
	capstan_delivery delivery;
	capstan_cert *first;       /* the first certificate rendered */
	const char *key_prefix;    /* what every key_b64 starts with (NULL: no keys), */
	size_t key_prefix_len;     /* computed when first needed */
	int key_prefix_done;
	int chown, group_reads;    /* give the files to uid:gid; keys 0640 */
	int64_t current_issuer;    /* the environment's current intermediate */
	size_t old_issuers;        /* certificates under an older one */
	uid_t uid;
	gid_t gid;
} build;

static int put_b64(capstan_tvalue *map, const char *key, const capstan_buf *data)
{
	char *b64 = capstan_base64(data->data, data->len);
	int rc = b64 ? capstan_tv_put_string(map, key, b64) : -1;

	if (b64)
		capstan_wipe(b64, strlen(b64));
	free(b64);
	return rc;
}

static int add_export(capstan_ctx *ctx, build *bd, const capstan_cert *cert, capstan_format fmt, const char *file,
	capstan_buf *keep)
{
	capstan_secret pw = { bd->password, strlen(bd->password) };
	capstan_write_opts wo = CAPSTAN_WRITE_OPTS_INIT;
	capstan_buf data = CAPSTAN_BUF_INIT;
	int rc;

	wo.password = &pw;
	/* Recorded in the audit log when the bundle is written, where its keys leave. */
	if ((rc = capstan_export_unrecorded(&data, ctx, cert, fmt, &wo)) == 0)
		rc = capstan_bundle_add(ctx, bd->b, file, capstan_format_has_key(fmt) ? 0600 : 0644, data.data, data.len);
	if (rc == 0 && keep)
		*keep = data, data = (capstan_buf)CAPSTAN_BUF_INIT;
	capstan_buf_free(&data);
	return rc;
}

static int put_sans(capstan_tvalue *map, const capstan_cert *cert)
{
	capstan_tvalue *dns = capstan_tv_list(), *ip = capstan_tv_list();
	int rc = dns && ip ? 0 : -1;

	for (size_t i = 0; rc == 0 && i < cert->san_count; i++) {
		if (strncmp(cert->sans[i], "DNS:", 4) == 0)
			rc = capstan_tv_push(dns, capstan_tv_string(cert->sans[i] + 4));
		else if (strncmp(cert->sans[i], "IP:", 3) == 0)
			rc = capstan_tv_push(ip, capstan_tv_string(cert->sans[i] + 3));
	}
	if (rc < 0) {
		capstan_tv_free(dns);
		capstan_tv_free(ip);
		return -1;
	}
	/* Each put takes its list, even when it fails: both are always made. */
	rc = capstan_tv_put(map, "dns", dns);
	return capstan_tv_put(map, "ip", ip) < 0 || rc < 0 ? -1 : 0;
}

/* Kubernetes object names: lower case, digits, '-' and '.'. */
static void k8s_name(const char *name, char out[65])
{
	size_t i = 0;

	for (; name[i] && i < 64; i++)
		out[i] = name[i] >= 'A' && name[i] <= 'Z' ? (char)(name[i] + 32) : name[i] == '_' ? '-' : name[i];
	out[i] = '\0';
}

/* The data templates see for one certificate. */
static int cert_data(capstan_ctx *ctx, build *bd, const capstan_cert *cert, const char *role, const char *cn,
	const capstan_buf files[4], capstan_tvalue *m)
{
	const char *dir = bd->o->dir;
	int server = !cert->has_profile || cert->profile != CAPSTAN_PROFILE_CLIENT;
	int client = cert->profile != CAPSTAN_PROFILE_SERVER;
	char file[128], na[32], k8s[65];
	int rc = 0;

	capstan_format_time(cert->not_after, na, sizeof(na));
	k8s_name(cert->name, k8s);
	rc |= capstan_tv_put_string(m, "name", cert->name) | capstan_tv_put_string(m, "cn", cn) |
		capstan_tv_put_string(m, "profile", capstan_profile_name(cert->profile)) |
		capstan_tv_put_string(m, "role", role) | capstan_tv_put_string(m, "serial", cert->serial) |
		capstan_tv_put_string(m, "not_after", na) | capstan_tv_put_string(m, "k8s_name", k8s) |
		capstan_tv_put(m, "server", capstan_tv_bool(server)) | capstan_tv_put(m, "client", capstan_tv_bool(client)) |
		capstan_tv_put(m, "client_only", capstan_tv_bool(!server)) | put_sans(m, cert);
	snprintf(file, sizeof(file), "%s.pem", cert->name);
	rc |= capstan_bundle_put_path(m, "cert_file", dir, file);
	snprintf(file, sizeof(file), "%s-key.pem", cert->name);
	rc |= capstan_bundle_put_path(m, "key_file", dir, file);
	snprintf(file, sizeof(file), "%s-key.pk8", cert->name);
	rc |= capstan_bundle_put_path(m, "pk8_file", dir, bd->set->pkcs8 ? file : "");
	rc |= put_b64(m, "chain_b64", &files[0]) | put_b64(m, "key_b64", &files[1]);
	if (bd->keystores) {
		snprintf(file, sizeof(file), "%s.p12", cert->name);
		rc |= capstan_bundle_put_path(m, "keystore_file", dir, file) | put_b64(m, "keystore_b64", &files[2]);
		snprintf(file, sizeof(file), "%s.password", cert->name);
		rc |= capstan_bundle_put_path(m, "password_file", dir, file) | capstan_tv_put_string(m, "password", bd->password);
	}
	return rc ? capstan_error_oom(ctx) : 0;
}

/* One certificate's files and its entry in the template data and MANIFEST. */
static int add_cert(capstan_ctx *ctx, build *bd, const capstan_store_env *env, const char *name, const char *role)
{
	capstan_cert *cert = NULL;
	capstan_buf files[4] = { CAPSTAN_BUF_INIT, CAPSTAN_BUF_INIT, CAPSTAN_BUF_INIT, CAPSTAN_BUF_INIT };
	capstan_x509_info info = { 0 };
	capstan_tvalue *m = capstan_tv_map();
	char file[128], line[256], na[32];
	int rc;

	if (!m)
		return capstan_error_oom(ctx);
	if ((rc = capstan_store_cert_latest(ctx, env->id, name, CAPSTAN_KIND_LEAF, &cert)) == CAPSTAN_ENOTFOUND ||
	    (rc == 0 && cert->status != CAPSTAN_STATUS_VALID)) {
		/* One revoked or missing line does not hold back the rest of the service. */
		char *why = capstan_aprintf("%s/%s: '%s' is left out: it has no valid certificate (%s); applying the configuration issues one",
			env->name, bd->o->service, name, cert ? capstan_status_name(cert->status) : "none issued");
		rc = why && capstan_strlist_push(&bd->b->warnings, why) == 0 ? 0 : capstan_error_oom(ctx);
		free(why);
		goto done;
	}
	if (rc < 0)
		goto done;
	snprintf(file, sizeof(file), "%s.pem", name);
	if ((rc = add_export(ctx, bd, cert, CAPSTAN_FORMAT_CHAIN, file, &files[0])) < 0)
		goto done;
	snprintf(file, sizeof(file), "%s-key.pem", name);
	if ((rc = add_export(ctx, bd, cert, CAPSTAN_FORMAT_KEY, file, &files[1])) < 0)
		goto done;
	snprintf(file, sizeof(file), "%s-key.pk8", name);
	if (bd->set->pkcs8 && (rc = capstan_bundle_add(ctx, bd->b, file, 0600, files[1].data, files[1].len)) < 0)
		goto done;
	if (bd->keystores) {
		snprintf(file, sizeof(file), "%s.p12", name);
		if ((rc = add_export(ctx, bd, cert, CAPSTAN_FORMAT_PKCS12, file, &files[2])) < 0)
			goto done;
		snprintf(file, sizeof(file), "%s.password", name);
		snprintf(line, sizeof(line), "%s\n", bd->password);
		if ((rc = capstan_bundle_add(ctx, bd->b, file, 0600, line, strlen(line))) < 0)
			goto done;
	}
	if ((rc = capstan_x509_info_read(&info, ctx, cert->der, cert->der_len)) < 0 ||
	    (rc = cert_data(ctx, bd, cert, role, info.cn ? info.cn : name, files, m)) < 0)
		goto done;
	capstan_format_time(cert->not_after, na, sizeof(na));
	snprintf(line, sizeof(line), "cert %s serial %s not_after %s\n", name, cert->serial, na);
	if ((rc = capstan_buf_append(ctx, &bd->manifest, line, strlen(line))) < 0)
		goto done;
	/* The tar's file times: the newest certificate's issue, not the render's. */
	if ((int64_t)info.not_before > bd->b->mtime)
		bd->b->mtime = (int64_t)info.not_before;
	if ((rc = capstan_bundle_cert_line(ctx, cert, &bd->certs_lines)) < 0)
		goto done;
	rc = capstan_tv_push(bd->certs, m) < 0 ? capstan_error_oom(ctx) : 0;
	m = NULL;
	if (rc == 0 && bd->current_issuer && cert->issuer_id != bd->current_issuer)
		bd->old_issuers++;
	if (rc == 0 && !bd->first)
		bd->first = cert, cert = NULL;
done:
	capstan_wipe(line, sizeof(line)); /* it held the password */
	capstan_tv_free(m);
	capstan_x509_info_clear(&info);
	for (int i = 0; i < 4; i++)
		capstan_buf_free(&files[i]);
	capstan_cert_free(cert);
	return rc;
}

/* The longest prefix every certificate's key_b64 shares (they are all PEM,
 * so "-----BEGIN PRIVATE KEY-----" in base64, ~36 characters), once a bundle. */
static void key_prefix(build *bd)
{
	size_t len = 0;

	bd->key_prefix_len = 0;
	for (size_t i = 0; i < capstan_tv_count(bd->certs); i++) {
		const capstan_tvalue *key = capstan_tv_get(capstan_tv_item(bd->certs, i), "key_b64");
		const char *text = key ? capstan_tv_text(key) : NULL;
		if (!text)
			continue;
		if (!bd->key_prefix) {
			bd->key_prefix = text;
			len = strlen(text) < 64 ? strlen(text) : 64; /* enough to rule a file out */
		}
		while (len && strncmp(text, bd->key_prefix, len) != 0)
			len--;
	}
	bd->key_prefix_len = len;
	bd->key_prefix_done = 1;
}

/* True when a rendered file holds a secret: the store password or a key. */
static int holds_secret(build *bd, const capstan_buf *body)
{
	const char *text = (const char *)body->data;
	char prefix[128];

	if ((bd->keystores && strstr(text, bd->password)) || strstr(text, "PRIVATE KEY"))
		return 1;
	/* Every key starts with the common prefix: a file without it holds none,
	 * known in one scan rather than one per certificate (a bundle renders a
	 * file per certificate: that was quadratic). */
	if (!bd->key_prefix_done)
		key_prefix(bd);
	if (!bd->key_prefix)
		return 0;
	if (bd->key_prefix_len > 0 && bd->key_prefix_len < sizeof(prefix)) {
		memcpy(prefix, bd->key_prefix, bd->key_prefix_len);
		prefix[bd->key_prefix_len] = '\0';
		if (!strstr(text, prefix))
			return 0;
	}
	for (size_t i = 0; i < capstan_tv_count(bd->certs); i++) {
		const capstan_tvalue *key = capstan_tv_get(capstan_tv_item(bd->certs, i), "key_b64");
		if (key && strstr(text, capstan_tv_text(key)))
			return 1; /* a Kubernetes Secret carries the key in base64 */
	}
	return 0;
}

/* Renders one template, once with data (and a certificate's names over it);
 * an empty (blank) result writes nothing. */
static int render_one(capstan_ctx *ctx, build *bd, const capstan_template_file *t, const capstan_tvalue *data,
	const capstan_tvalue *cert)
{
	capstan_buf name = CAPSTAN_BUF_INIT, body = CAPSTAN_BUF_INIT;
	char where[160];
	int rc, blank = 1;

	snprintf(where, sizeof(where), "%s/%s.tmpl", bd->set->target, t->name);
	if ((rc = capstan_template_render_in(&name, ctx, where, t->name, strlen(t->name), data, cert)) < 0 ||
	    (rc = capstan_template_render_in(&body, ctx, where, t->text, t->len, data, cert)) < 0)
		goto done;
	for (size_t i = 0; i < body.len && blank; i++)
		blank = body.data[i] == ' ' || body.data[i] == '\t' || body.data[i] == '\n' || body.data[i] == '\r';
	if (!blank)
		rc = capstan_bundle_add(ctx, bd->b, (const char *)name.data, holds_secret(bd, &body) ? 0600 : 0644,
			body.data, body.len);
done:
	capstan_buf_free(&name);
	capstan_buf_free(&body);
	return rc;
}

/* A template whose file name is itself a template is rendered once per
 * certificate, with the certificate's fields over the service's. */
static int render_templates(capstan_ctx *ctx, build *bd)
{
	int rc = 0;

	for (size_t i = 0; rc == 0 && i < bd->set->count; i++) {
		const capstan_template_file *t = &bd->set->files[i];
		if (!strstr(t->name, "{{")) {
			rc = render_one(ctx, bd, t, bd->top, NULL);
			continue;
		}
		/* The certificate's names looked up before the service's, not put
		 * into a copy of them: that copy held every certificate. */
		for (size_t c = 0; rc == 0 && c < capstan_tv_count(bd->certs); c++)
			rc = render_one(ctx, bd, t, bd->top, capstan_tv_item(bd->certs, c));
	}
	return rc;
}

/* The trust files, shared by every certificate of the bundle. */
static int add_trust(capstan_ctx *ctx, build *bd, const capstan_store_env *env, const capstan_cert *any)
{
	capstan_buf ca = CAPSTAN_BUF_INIT, trust = CAPSTAN_BUF_INIT;
	char line[80];
	int rc;

	if ((rc = capstan_trust_pem(&ca, ctx, env->name)) < 0 ||
	    (rc = capstan_bundle_add(ctx, bd->b, "ca.pem", 0644, ca.data, ca.len)) < 0 ||
	    (rc = capstan_bundle_trust_line(ctx, &ca, &bd->certs_lines)) < 0)
		goto done;
	rc |= capstan_bundle_put_path(bd->top, "ca_file", bd->o->dir, "ca.pem") | put_b64(bd->top, "ca_b64", &ca);
	if (rc == 0 && bd->keystores) {
		snprintf(line, sizeof(line), "%s\n", bd->password);
		if ((rc = add_export(ctx, bd, any, CAPSTAN_FORMAT_TRUSTSTORE, "truststore.p12", &trust)) < 0 ||
		    (rc = capstan_bundle_add(ctx, bd->b, "truststore.password", 0600, line, strlen(line))) < 0)
			goto done;
		rc |= capstan_bundle_put_path(bd->top, "truststore_file", bd->o->dir, "truststore.p12") |
			capstan_bundle_put_path(bd->top, "truststore_password_file", bd->o->dir, "truststore.password") |
			put_b64(bd->top, "truststore_b64", &trust) | capstan_tv_put_string(bd->top, "password", bd->password);
	}
	if (rc > 0)
		rc = capstan_error_oom(ctx);
done:
	capstan_wipe(line, sizeof(line)); /* it held the password */
	capstan_buf_free(&ca);
	capstan_buf_free(&trust);
	return rc;
}

/* first, first_server and the lists by role: what templates pick from. */
static int add_selections(capstan_ctx *ctx, build *bd)
{
	capstan_tvalue *first_server = capstan_tv_list(), *first_client = capstan_tv_list(), *by_role = capstan_tv_map();
	int rc = first_server && first_client && by_role ? 0 : -1;

	/* The roles the target's templates use exist even when no certificate has them. */
	for (size_t i = 0; rc == 0 && i < bd->set->roles.count; i++) {
		char key[80];
		snprintf(key, sizeof(key), "role_%s", bd->set->roles.items[i]);
		for (char *p = key; *p; p++)
			*p = *p == '-' || *p == '.' ? '_' : *p;
		rc |= capstan_tv_put(by_role, key, capstan_tv_list());
	}

	for (size_t i = 0; rc == 0 && i < capstan_tv_count(bd->certs); i++) {
		const capstan_tvalue *c = capstan_tv_item(bd->certs, i);
		const char *role = capstan_tv_text(capstan_tv_get(c, "role"));
		char key[80];
		const char *profile = capstan_tv_text(capstan_tv_get(c, "profile"));
		if (capstan_tv_count(first_server) == 0 && strcmp(profile, "client") != 0)
			rc |= capstan_tv_push(first_server, capstan_tv_copy(c));
		if (capstan_tv_count(first_client) == 0 && strcmp(profile, "server") != 0)
			rc |= capstan_tv_push(first_client, capstan_tv_copy(c));
		if (*role) {
			/* role "etcd-client" is reachable as {{#role_etcd_client}} */
			snprintf(key, sizeof(key), "role_%s", role);
			for (char *p = key; *p; p++)
				*p = *p == '-' || *p == '.' ? '_' : *p;
			if (!capstan_tv_get(by_role, key))
				rc |= capstan_tv_put(by_role, key, capstan_tv_list());
			rc |= capstan_tv_push((capstan_tvalue *)capstan_tv_get(by_role, key), capstan_tv_copy(c));
		}
	}
	for (size_t i = 0; rc == 0 && i < capstan_tv_count(by_role); i++)
		rc |= capstan_tv_put(bd->top, capstan_tv_key(by_role, i), capstan_tv_copy(capstan_tv_item(by_role, i)));
	rc |= capstan_tv_put(bd->top, "first", capstan_tv_copy(capstan_tv_item(bd->certs, 0)));
	rc |= capstan_tv_put(bd->top, "first_server", first_server);
	rc |= capstan_tv_put(bd->top, "first_client", first_client);
	rc |= capstan_tv_put(bd->top, "several", capstan_tv_bool(capstan_tv_count(bd->certs) > 1));
	capstan_tv_free(by_role);
	return rc ? capstan_error_oom(ctx) : 0;
}

/* The service's certificate names and roles, as apply recorded them; with a
 * host, only the lines that live there. */
static int service_certs(capstan_ctx *ctx, build *bd, const capstan_store_env *env, char **template_name,
	capstan_strlist *lines)
{
	const char *service = bd->o->service ? bd->o->service : "", *host = bd->o->host;
	capstan_store_service sv = { 0 };
	const char *why = NULL;
	int rc = capstan_store_service_get(ctx, env->id, service, &sv);

	if (rc == CAPSTAN_ENOTFOUND && capstan_check_identifier(service, &why) < 0)
		rc = capstan_error_at(ctx, CAPSTAN_EINVALID, CAPSTAN_FIELD_SERVICE, "invalid service name '%s': %s", service, why);
	else if (rc == CAPSTAN_ENOTFOUND)
		rc = capstan_error(ctx, rc, "no service '%s' in environment '%s': applying the configuration records it", service, env->name);
	if (rc == 0 && (rc = capstan_delivery_decode(ctx, sv.delivery, &bd->delivery)) == 0 &&
	    (rc = capstan_delivery_lines(ctx, sv.certs, &bd->delivery, host, lines)) == CAPSTAN_ENOTFOUND)
		rc = capstan_error(ctx, CAPSTAN_ENOTFOUND, "service '%s' has no host '%s'%s", service, host,
			bd->delivery.hosts.count ? " (see its hosts: in the configuration)" : ": it has no hosts: mapping");
	if (rc == 0 && (lines->count == 0 || lines->count > MAX_BUNDLE_CERTS))
		rc = capstan_error(ctx, CAPSTAN_EINVALID, "service '%s' has %zu certificates%s%s (1 to %d)", service,
			lines->count, host ? " on host " : "", host ? host : "", MAX_BUNDLE_CERTS);
	if (rc == 0) {
		*template_name = sv.template_name;
		sv.template_name = NULL;
	}
	capstan_store_service_clear(&sv);
	return rc;
}

static int add_manifest(capstan_ctx *ctx, build *bd)
{
	unsigned char md[CAPSTAN_SHA256_LEN];
	char hex[65], line[200];
	int rc = 0;

	if ((rc = capstan_buf_append(ctx, &bd->manifest, CAPSTAN_MANIFEST_SUMS, strlen(CAPSTAN_MANIFEST_SUMS))) < 0)
		return rc;
	for (size_t i = 0; rc == 0 && i < bd->b->count; i++) {
		const capstan_bundle_file *f = &bd->b->files[i];
		if ((rc = capstan_sha256(ctx, f->data.data, f->data.len, md)) < 0)
			break;
		capstan_hex_encode(hex, md, CAPSTAN_SHA256_LEN);
		snprintf(line, sizeof(line), "%s  %s\n", hex, f->path);
		rc = capstan_buf_append(ctx, &bd->manifest, line, strlen(line));
	}
	return rc < 0 ? rc : capstan_bundle_add(ctx, bd->b, "MANIFEST", 0644, bd->manifest.data, bd->manifest.len);
}

static int current_issuer(capstan_ctx *ctx, const capstan_store_env *env, int64_t *id)
{
	capstan_cert *current = NULL;
	int rc = capstan_store_current_ca(ctx, env->id, CAPSTAN_KIND_INTERMEDIATE, &current);

	*id = rc == 0 ? current->id : 0;
	capstan_cert_free(current);
	return rc == CAPSTAN_ENOTFOUND ? 0 : rc;
}

/* Leaves under another CA (an older intermediate, or a CA imported with
 * them): crl.pem (the one CRL etcd reads) is the current intermediate's, so
 * their revocations would not reach etcd. */
static int warn_old_issuers(capstan_ctx *ctx, build *bd, const capstan_store_env *env)
{
	char *why;
	int rc;

	if (!bd->old_issuers)
		return 0;
	why = capstan_aprintf("%s/%s: %zu certificate%s under a CA other than the current intermediate (an older"
		" one, or an imported CA), whose revocations crl.pem"
		" (the current intermediate's CRL) does not list: renew them onto the current intermediate", env->name,
		bd->o->service, bd->old_issuers, bd->old_issuers == 1 ? " is" : "s are");
	rc = why && capstan_strlist_push(&bd->b->warnings, why) == 0 ? 0 : capstan_error_oom(ctx);
	free(why);
	return rc;
}

static int build_all(capstan_ctx *ctx, build *bd, const capstan_store_env *env, const capstan_strlist *lines)
{
	char head[256];
	int rc;

	/* No render time: a render's bytes are a function of its certificates,
	 * CRLs, templates and options only, so an unchanged bundle is the same
	 * bytes (and ETag) each time it is asked for. */
	snprintf(head, sizeof(head), "# capstan bundle: environment %s, service %s%s%s, template %s\n",
		env->name, bd->o->service, bd->o->host ? ", host " : "", bd->o->host ? bd->o->host : "", bd->set->target);
	if ((rc = capstan_buf_append(ctx, &bd->manifest, head, strlen(head))) < 0 ||
	    (rc = current_issuer(ctx, env, &bd->current_issuer)) < 0)
		return rc;
	for (size_t i = 0; rc == 0 && i < lines->count; i++) {
		char *tab = strchr(lines->items[i], '\t');
		if (tab)
			*tab = '\0';
		rc = add_cert(ctx, bd, env, lines->items[i], tab ? tab + 1 : "");
	}
	if (rc == 0 && capstan_tv_count(bd->certs) == 0)
		rc = capstan_error(ctx, CAPSTAN_EINVALID, "%s", bd->b->warnings.items[0]);
	if (rc < 0 || (rc = warn_old_issuers(ctx, bd, env)) < 0)
		return rc;
	if ((rc = add_trust(ctx, bd, env, bd->first)) == 0 &&
	    (rc = capstan_bundle_crl_paths(ctx, bd->top, bd->o->dir)) == 0 &&
	    (rc = capstan_bundle_add_rbac(ctx, bd->top, &bd->delivery)) == 0 &&
	    (rc = add_selections(ctx, bd)) == 0 && (rc = render_templates(ctx, bd)) == 0 &&
	    (rc = capstan_bundle_add_crls(ctx, bd->b, env)) == 0)
		rc = add_manifest(ctx, bd);
	return rc;
}

/* The files' owner, resolved before anything is rendered: the options', else
 * the service's; only root gives files away. */
static int resolve_owner(capstan_ctx *ctx, build *bd)
{
	const char *owner = bd->o->owner ? bd->o->owner : bd->delivery.owner;
	const char *group = bd->o->group ? bd->o->group : bd->delivery.group;
	struct passwd *pw = NULL;
	struct group *gr = NULL;

	if (!owner && !group)
		return 0;
	if (owner && !(pw = getpwnam(owner)))
		return capstan_error(ctx, CAPSTAN_ENOTFOUND, "owner '%s' of %s/%s: no such user on this machine", owner,
			bd->o->env, bd->o->service);
	if (group && !(gr = getgrnam(group)))
		return capstan_error(ctx, CAPSTAN_ENOTFOUND, "group '%s' of %s/%s: no such group on this machine", group,
			bd->o->env, bd->o->service);
	if (geteuid() != 0 && ((pw && pw->pw_uid != geteuid()) || (gr && gr->gr_gid != getegid())))
		return capstan_error(ctx, CAPSTAN_EINVALID, "files of %s/%s are to be owned by %s:%s: that needs root",
			bd->o->env, bd->o->service, owner ? owner : "-", group ? group : "-");
	bd->uid = pw ? pw->pw_uid : (uid_t)-1;
	bd->gid = gr ? gr->gr_gid : pw ? pw->pw_gid : (gid_t)-1;
	/* Keys for the owner alone (0600), or for a group beside it (0640). */
	bd->group_reads = gr && (!pw || gr->gr_gid != pw->pw_gid);
	bd->chown = 1;
	return 0;
}

static void apply_owner(build *bd)
{
	bd->b->chown = bd->chown;
	bd->b->uid = bd->uid;
	bd->b->gid = bd->gid;
	snprintf(bd->b->owner, sizeof(bd->b->owner), "%s", bd->o->owner ? bd->o->owner :
		bd->delivery.owner ? bd->delivery.owner : "");
	snprintf(bd->b->group, sizeof(bd->b->group), "%s", bd->o->group ? bd->o->group :
		bd->delivery.group ? bd->delivery.group : "");
	for (size_t i = 0; bd->group_reads && i < bd->b->count; i++)
		if (bd->b->files[i].mode == 0600)
			bd->b->files[i].mode = 0640;
}

int capstan_bundle_build(capstan_bundle **out, capstan_ctx *ctx, const capstan_bundle_opts *o)
{
	build bd = { .o = o };
	capstan_store_env env = { 0 };
	capstan_strlist lines = { 0 };
	char *template_name = NULL;
	int rc, new_password = 0;

	if ((rc = CAPSTAN_OPTS_CHECK(ctx, o, CAPSTAN_BUNDLE_OPTS_VERSION, "capstan_bundle_opts")) < 0 ||
	    (rc = capstan_require_store(ctx)) < 0 || (rc = capstan_require_unlocked(ctx)) < 0 ||
	    (rc = capstan_store_env_get(ctx, o->env ? o->env : "", &env)) < 0 ||
	    (rc = service_certs(ctx, &bd, &env, &template_name, &lines)) < 0 ||
	    (rc = capstan_template_set_load(&bd.set, ctx, o->templates_dir, template_name)) < 0 ||
	    (rc = resolve_owner(ctx, &bd)) < 0)
		goto done;
	bd.keystores = bd.set->keystores == KEYSTORES_YES || (bd.set->keystores == KEYSTORES_ASKED && o->keystores);
	if (o->new_password && !bd.keystores) {
		rc = capstan_error(ctx, CAPSTAN_EINVALID, "service '%s' has no keystores (template %s): a new keystore"
			" password has nothing to change", o->service, template_name);
		goto done;
	}
	if (bd.keystores && (rc = capstan_bundle_password(ctx, &env, o->service, o->password, o->new_password,
				     bd.password, sizeof(bd.password))) < 0)
		goto done;
	new_password = rc == 1;
	if (!(bd.b = calloc(1, sizeof(*bd.b))) || !(bd.top = capstan_tv_map()) || !(bd.certs = capstan_tv_list()) ||
	    capstan_tv_put_string(bd.top, "env", env.name) < 0 || capstan_tv_put_string(bd.top, "service", o->service) < 0 ||
	    capstan_tv_put_string(bd.top, "host", o->host ? o->host : "") < 0 ||
	    capstan_tv_put_string(bd.top, "dir", o->dir) < 0 ||
	    capstan_tv_put(bd.top, "keystores", capstan_tv_bool(bd.keystores)) < 0) {
		rc = capstan_error_oom(ctx);
		goto done;
	}
	if ((rc = build_all(ctx, &bd, &env, &lines)) < 0)
		goto done;
	apply_owner(&bd);
	bd.b->keystores = bd.keystores;
	bd.b->env_id = env.id;
	snprintf(bd.b->env_name, sizeof(bd.b->env_name), "%s", env.name);
	snprintf(bd.b->service, sizeof(bd.b->service), "%s", o->service);
	if (new_password && !(bd.b->new_password = strdup(bd.password))) {
		rc = capstan_error_oom(ctx);
		goto done;
	}
	bd.b->certs = (char *)bd.certs_lines.data;
	bd.certs_lines = (capstan_buf)CAPSTAN_BUF_INIT;
	*out = bd.b;
	bd.b = NULL;
done:
	capstan_tv_free(bd.certs);
	capstan_tv_free(bd.top);
	capstan_bundle_free(bd.b);
	capstan_template_set_free(bd.set);
	capstan_buf_free(&bd.manifest);
	capstan_buf_free(&bd.certs_lines);
	capstan_delivery_clear(&bd.delivery);
	capstan_cert_free(bd.first);
	capstan_wipe(bd.password, sizeof(bd.password));
	capstan_strlist_free(&lines);
	capstan_store_env_clear(&env);
	free(template_name);
	return rc;
}

int capstan_template_check(capstan_ctx *ctx, const char *dir, const char *target)
{
	capstan_template_set *set = NULL;
	int rc = capstan_template_set_load(&set, ctx, dir, target);

	capstan_template_set_free(set);
	return rc;
}

int capstan_cert_services(char ***names, size_t *count, capstan_ctx *ctx, const char *env_name, const char *cert_name)
{
	capstan_store_env env;
	capstan_strlist list = { 0 };
	int rc;

	if ((rc = capstan_require_store(ctx)) < 0 || (rc = capstan_store_env_get(ctx, env_name, &env)) < 0)
		return rc;
	rc = capstan_store_services_of_cert(ctx, env.id, cert_name, &list);
	capstan_store_env_clear(&env);
	if (rc < 0) {
		capstan_strlist_free(&list);
		return rc;
	}
	*names = list.items;
	*count = list.count;
	return 0;
}
