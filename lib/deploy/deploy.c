/* The deploy ledger: what renew --due --bundle-dir owes, and its settling. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <capstan/ca.h>
#include <capstan/deploy.h>
#include <capstan/lifecycle.h>

#include "ca/ca.h"
#include "base/base.h"
#include "bundle_internal.h"
#include "delivery.h"
#include "prom.h"
#include "store/store.h"

int capstan_deploy_lock(int *fd, capstan_ctx *ctx, int wait_seconds)
{
	char *path = capstan_aprintf("%s/deploy.lock", ctx->home ? ctx->home : ".");
	struct timespec pause = { 0, 200 * 1000 * 1000 };
	int rc = 0, tries = wait_seconds * 5;

	if (!path)
		return capstan_error_oom(ctx);
	*fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (*fd < 0)
		rc = capstan_error(ctx, CAPSTAN_ERROR, "cannot open '%s': %s", path, strerror(errno));
	/* Bounded: a run whose hook hangs must not stop every later night at this point. */
	while (rc == 0 && flock(*fd, LOCK_EX | LOCK_NB) < 0) {
		if (errno != EWOULDBLOCK && errno != EINTR)
			rc = capstan_error(ctx, CAPSTAN_ERROR, "cannot lock '%s': %s", path, strerror(errno));
		else if (tries-- <= 0)
			rc = capstan_error(ctx, CAPSTAN_ERROR, "another delivery has held the deploy lock '%s' for %d s"
				" (a hook that hangs?): nothing was delivered by this run, what is owed stays owed",
				path, wait_seconds);
		else
			nanosleep(&pause, NULL);
	}
	if (rc < 0 && *fd >= 0) {
		close(*fd);
		*fd = -1;
	}
	free(path);
	return rc;
}

void capstan_deploy_unlock(int fd)
{
	if (fd >= 0)
		close(fd); /* releases the flock */
}

/* The certificate names a (service, host) renders, in the order a render
 * writes them: the host's, else all. CAPSTAN_ENOTFOUND (no message) when the
 * service or host is no longer recorded. */
static int row_names(capstan_ctx *ctx, int64_t env_id, const char *service, const char *host, capstan_strlist *names)
{
	capstan_store_service sv = { 0 };
	capstan_delivery d = { 0 };
	int rc;

	if ((rc = capstan_store_service_get(ctx, env_id, service, &sv)) == 0 &&
	    (rc = capstan_delivery_decode(ctx, sv.delivery, &d)) == 0 &&
	    (rc = capstan_delivery_lines(ctx, sv.certs, &d, *host ? host : NULL, names)) == 0)
		for (size_t i = 0; i < names->count; i++)
			names->items[i][strcspn(names->items[i], "\t")] = '\0';
	capstan_delivery_clear(&d);
	capstan_store_service_clear(&sv);
	return rc;
}

/* Whether this run renewed (a dry run: would renew) ENV's certificate NAME. */
static int renewed_now(const capstan_deploy_opts *o, const char *env, const char *name)
{
	size_t env_len = strlen(env);

	for (size_t i = 0; o->renewed && i < o->renewed_count; i++)
		if (strncmp(o->renewed[i], env, env_len) == 0 && o->renewed[i][env_len] == '/' &&
		    strcmp(o->renewed[i] + env_len + 1, name) == 0)
			return 1;
	return 0;
}

/* "NAME SERIAL NOT_AFTER" of each name's valid certificate, and the trust
 * bundle's line, as a render records them. In a dry run, a certificate it
 * would renew gets a line no render wrote: changed, as it will be. */
static int current_certs(capstan_ctx *ctx, const capstan_deploy_opts *o, const char *env, int64_t env_id,
	const capstan_strlist *names, capstan_buf *out)
{
	capstan_buf ca = CAPSTAN_BUF_INIT;
	int rc = capstan_buf_append(ctx, out, "", 0);

	for (size_t i = 0; rc == 0 && i < names->count; i++) {
		capstan_cert *cert = NULL;
		if (o->dry_run && renewed_now(o, env, names->items[i])) {
			char *line = capstan_aprintf("%s due\n", names->items[i]);
			rc = line ? capstan_buf_append(ctx, out, line, strlen(line)) : capstan_error_oom(ctx);
			free(line);
			continue;
		}
		rc = capstan_store_cert_latest(ctx, env_id, names->items[i], CAPSTAN_KIND_LEAF, &cert);
		if (rc == 0 && cert->status == CAPSTAN_STATUS_VALID)
			rc = capstan_bundle_cert_line(ctx, cert, out);
		rc = rc == CAPSTAN_ENOTFOUND ? 0 : rc;
		capstan_cert_free(cert);
	}
	if (rc == 0 && (rc = capstan_trust_pem(&ca, ctx, env)) == 0)
		rc = capstan_bundle_trust_line(ctx, &ca, out);
	capstan_buf_free(&ca);
	return rc;
}

typedef int (*target_fn)(capstan_ctx *ctx, int64_t env_id, const char *service, const char *host, void *payload);

/* Every service of the environment, each of its hosts ("" for a service
 * without hosts): what the ledger has a row for once tracked. */
static int each_target(capstan_ctx *ctx, int64_t env_id, target_fn fn, void *payload)
{
	capstan_strlist services = { 0 };
	int rc = capstan_store_service_names(ctx, env_id, &services);

	for (size_t i = 0; rc == 0 && i < services.count; i++) {
		capstan_store_service sv = { 0 };
		capstan_delivery d = { 0 };
		if ((rc = capstan_store_service_get(ctx, env_id, services.items[i], &sv)) == 0 &&
		    (rc = capstan_delivery_decode(ctx, sv.delivery, &d)) == 0) {
			for (size_t h = 0; rc == 0 && h < d.hosts.count; h++)
				rc = fn(ctx, env_id, services.items[i], d.hosts.items[h], payload);
			if (rc == 0 && d.hosts.count == 0)
				rc = fn(ctx, env_id, services.items[i], "", payload);
		}
		capstan_delivery_clear(&d);
		capstan_store_service_clear(&sv);
	}
	capstan_strlist_free(&services);
	return rc;
}

/* A new row is owed until first delivered, whatever its certificates: none are read. */
static int track_target(capstan_ctx *ctx, int64_t env_id, const char *service, const char *host, void *payload)
{
	(void)payload;
	return capstan_store_deploy_track(ctx, env_id, service, host);
}

/* A row whose service, or host, the inventory no longer records. */
static int forget_gone(capstan_ctx *ctx, int64_t env_id)
{
	capstan_store_deploy *rows = NULL;
	size_t n = 0;
	int rc = capstan_store_deploy_list(ctx, env_id, &rows, &n);

	for (size_t i = 0; rc == 0 && i < n; i++) {
		capstan_store_service sv = { 0 };
		capstan_delivery d = { 0 };
		int gone = 0;
		rc = capstan_store_service_get(ctx, rows[i].env_id, rows[i].service, &sv);
		if (rc == CAPSTAN_ENOTFOUND)
			gone = 1, rc = 0;
		else if (rc == 0 && (rc = capstan_delivery_decode(ctx, sv.delivery, &d)) == 0)
			gone = *rows[i].host ? !capstan_delivery_host_certs(&d, rows[i].host) : d.hosts.count > 0;
		if (rc == 0 && gone)
			rc = capstan_store_deploy_forget(ctx, rows[i].id);
		capstan_delivery_clear(&d);
		capstan_store_service_clear(&sv);
	}
	capstan_store_deploy_list_free(rows, n);
	return rc;
}

/* The environment asked for, else every one. */
static int delivery_envs(capstan_ctx *ctx, const capstan_deploy_opts *o, capstan_strlist *envs)
{
	int rc = 0;

	if (o->env ? capstan_strlist_push(envs, o->env) < 0 : (rc = capstan_store_env_names(ctx, envs)) < 0) {
		capstan_strlist_free(envs);
		return rc < 0 ? rc : capstan_error_oom(ctx);
	}
	return 0;
}

int capstan_deploy_track(capstan_ctx *ctx, const capstan_deploy_opts *o)
{
	capstan_strlist envs = { 0 };
	int rc;

	if ((rc = CAPSTAN_OPTS_CHECK(ctx, o, CAPSTAN_DEPLOY_OPTS_VERSION, "capstan_deploy_opts")) < 0 ||
	    (rc = capstan_require_store(ctx)) < 0 || (rc = delivery_envs(ctx, o, &envs)) < 0)
		return rc;
	if ((rc = capstan_store_begin(ctx)) < 0)
		goto done;
	for (size_t i = 0; rc == 0 && i < envs.count; i++) {
		capstan_store_env env = { 0 };
		if ((rc = capstan_store_env_get(ctx, envs.items[i], &env)) == 0 && (rc = forget_gone(ctx, env.id)) == 0)
			rc = each_target(ctx, env.id, track_target, NULL);
		capstan_store_env_clear(&env);
	}
	rc = capstan_store_end(ctx, rc);
done:
	capstan_strlist_free(&envs);
	return rc;
}

/* Names whose line differs between two "NAME SERIAL NOT_AFTER" texts. */
static char *changed_names(const char *was, const char *now)
{
	capstan_strlist a = { 0 }, b = { 0 }, out = { 0 };
	char *joined = NULL;

	if (capstan_strlist_split(&a, was, '\n') < 0 || capstan_strlist_split(&b, now, '\n') < 0)
		goto done;
	for (size_t i = 0; i < b.count; i++)
		if (!capstan_strlist_contains(&a, b.items[i]) && b.items[i][0] != '@') {
			b.items[i][strcspn(b.items[i], " ")] = '\0';
			if (capstan_strlist_push(&out, b.items[i]) < 0)
				goto done;
		}
	joined = capstan_strlist_join(&out, " ");
done:
	capstan_strlist_free(&a);
	capstan_strlist_free(&b);
	capstan_strlist_free(&out);
	return joined;
}

/* Which of names this run renewed, space-separated. */
static char *renewed_names(const capstan_deploy_opts *o, const char *env, const capstan_strlist *names)
{
	capstan_strlist out = { 0 };
	char *joined = NULL;

	for (size_t i = 0; i < names->count; i++)
		if (renewed_now(o, env, names->items[i]) && capstan_strlist_push(&out, names->items[i]) < 0)
			goto done;
	joined = capstan_strlist_join(&out, " ");
done:
	capstan_strlist_free(&out);
	return joined;
}

/* Whether the trust lines of two ledger texts differ. */
static int trust_changed(const char *was, const char *now)
{
	const char *a = strstr(was, CAPSTAN_TRUST_LINE " "), *b = strstr(now, CAPSTAN_TRUST_LINE " ");

	if (!a || !b)
		return a != b;
	return strncmp(a, b, strcspn(a, "\n")) != 0;
}

static char *bundle_path(const char *base, const capstan_store_deploy *row)
{
	return capstan_aprintf("%s/%s/%s%s%s", base, row->env, row->service, *row->host ? "/" : "", row->host);
}

/* Why the row is owed ("" when it is not), in words for the log. */
static void owed_why(const capstan_store_deploy *row, const char *path, const char *now_certs, int64_t revoked,
	char *why, size_t size)
{
	char manifest[4200];
	struct stat sb;
	time_t now = time(NULL);

	why[0] = '\0';
	snprintf(manifest, sizeof(manifest), "%s/MANIFEST", path);
	if (!row->dir)
		snprintf(why, size, "not delivered here yet");
	else if (strcmp(row->certs, now_certs) != 0)
		snprintf(why, size, "%s", trust_changed(row->certs, now_certs) ? "the trust bundle changed" :
			"certificates changed");
	else if (row->stale)
		snprintf(why, size, "%s", row->stale);
	else if (row->failures > 0)
		snprintf(why, size, "retry after %lld failed attempt%s (%s)", (long long)row->failures,
			row->failures == 1 ? "" : "s", row->last_error ? row->last_error : "?");
	else if (row->hook_pending)
		snprintf(why, size, "its hook has not run");
	else if (*path && strcmp(row->dir, path) != 0)
		snprintf(why, size, "the bundle directory changed (was %s)", row->dir);
	else if (lstat(manifest, &sb) < 0)
		snprintf(why, size, "its MANIFEST is missing");
	else if (revoked >= row->rendered_at) /* the same second counts: a render may have missed it */
		snprintf(why, size, "a revocation since it was rendered: new CRLs");
	else if (row->crl_refresh_at && now >= row->crl_refresh_at)
		snprintf(why, size, "its CRLs are in the last third of their validity");
}

static int owed_item(capstan_ctx *ctx, const capstan_deploy_opts *o, const capstan_store_deploy *row, int64_t revoked,
	capstan_deploy_item *it, int *owed)
{
	capstan_strlist names = { 0 };
	capstan_buf certs = CAPSTAN_BUF_INIT;
	/* Without a bundle directory (metrics), where it was last rendered. */
	char why[600], *path = o->dir ? bundle_path(o->dir, row) : strdup(row->dir ? row->dir : "");
	int rc;

	*owed = 0;
	if (!path)
		return capstan_error_oom(ctx);
	rc = row_names(ctx, row->env_id, row->service, row->host, &names);
	if (rc == CAPSTAN_ENOTFOUND)
		rc = 0; /* its service or host is gone: the next delivery run forgets the row */
	else if (rc == 0 && (rc = current_certs(ctx, o, row->env, row->env_id, &names, &certs)) == 0) {
		owed_why(row, path, (const char *)certs.data, revoked, why, sizeof(why));
		if ((*owed = why[0] != '\0')) {
			it->id = row->id;
			it->failures = row->failures;
			it->first = !row->dir;
			it->path = path, path = NULL;
			/* Never delivered: no certificate changed here; only what this run renewed is news. */
			if (!(it->env = strdup(row->env)) || !(it->service = strdup(row->service)) ||
			    !(it->host = strdup(row->host)) || !(it->why = strdup(why)) ||
			    !(it->renewed = row->dir ? changed_names(row->certs, (const char *)certs.data) :
							renewed_names(o, row->env, &names)))
				rc = capstan_error_oom(ctx);
		}
	}
	free(path);
	capstan_buf_free(&certs);
	capstan_strlist_free(&names);
	return rc;
}

typedef struct {
	capstan_store_deploy **rows;
	size_t *count, tracked;
	const char *env;
} untracked_rows;

/* A row as capstan_deploy_track would add it, unless the ledger has it. */
static int add_untracked(capstan_ctx *ctx, int64_t env_id, const char *service, const char *host, void *payload)
{
	untracked_rows *u = payload;
	capstan_store_deploy *grown, *row;

	for (size_t i = 0; i < u->tracked; i++)
		if ((*u->rows)[i].env_id == env_id && strcmp((*u->rows)[i].service, service) == 0 &&
		    strcmp((*u->rows)[i].host, host) == 0)
			return 0;
	if (!(grown = realloc(*u->rows, (*u->count + 1) * sizeof(*grown))))
		return capstan_error_oom(ctx);
	*u->rows = grown;
	row = memset(&grown[(*u->count)++], 0, sizeof(*row));
	row->env_id = env_id;
	row->env = strdup(u->env), row->service = strdup(service), row->host = strdup(host), row->certs = strdup("");
	return row->env && row->service && row->host && row->certs ? 0 : capstan_error_oom(ctx);
}

/* The ledger's order: environment, service, host. */
static int by_place(const void *a, const void *b)
{
	const capstan_store_deploy *x = a, *y = b;
	int d = strcmp(x->env, y->env);

	if (d == 0)
		d = strcmp(x->service, y->service);
	return d ? d : strcmp(x->host, y->host);
}

/* A dry run tracks nothing: the rows capstan_deploy_track would add are
 * made here, never delivered, so the dry run lists first deliveries too. */
static int with_untracked(capstan_ctx *ctx, const capstan_deploy_opts *o, capstan_store_deploy **rows, size_t *count)
{
	capstan_strlist envs = { 0 };
	untracked_rows u = { rows, count, *count, NULL };
	int rc = delivery_envs(ctx, o, &envs);

	for (size_t i = 0; rc == 0 && i < envs.count; i++) {
		capstan_store_env env = { 0 };
		if ((rc = capstan_store_env_get(ctx, envs.items[i], &env)) == 0)
			u.env = env.name, rc = each_target(ctx, env.id, add_untracked, &u);
		capstan_store_env_clear(&env);
	}
	capstan_strlist_free(&envs);
	if (rc == 0 && *count > u.tracked)
		qsort(*rows, *count, sizeof(**rows), by_place);
	return rc;
}

int capstan_deploy_owed(capstan_deploy_item **items, size_t *count, capstan_ctx *ctx, const capstan_deploy_opts *o)
{
	capstan_store_env env = { 0 };
	capstan_store_deploy *rows = NULL;
	capstan_deploy_item *out = NULL;
	size_t n = 0, owed_n = 0;
	int64_t revoked = 0, revoked_env = -1;
	int rc;

	if ((rc = CAPSTAN_OPTS_CHECK(ctx, o, CAPSTAN_DEPLOY_OPTS_VERSION, "capstan_deploy_opts")) < 0 ||
	    (rc = capstan_require_store(ctx)) < 0 || (o->env && (rc = capstan_store_env_get(ctx, o->env, &env)) < 0))
		return rc;
	if ((rc = capstan_store_deploy_list(ctx, env.id, &rows, &n)) == 0 && o->dry_run)
		rc = with_untracked(ctx, o, &rows, &n);
	if (rc == 0 && !(out = calloc(n ? n : 1, sizeof(*out))))
		rc = capstan_error_oom(ctx);
	for (size_t i = 0; rc == 0 && i < n; i++) {
		int owed = 0;
		if (rows[i].env_id != revoked_env &&
		    (rc = capstan_store_last_revocation(ctx, revoked_env = rows[i].env_id, &revoked)) < 0)
			break;
		if ((rc = owed_item(ctx, o, &rows[i], revoked, &out[owed_n], &owed)) == 0 && owed)
			owed_n++;
		else if (rc < 0 && owed)
			owed_n++; /* partly filled: freed below */
	}
	capstan_store_deploy_list_free(rows, n);
	capstan_store_env_clear(&env);
	if (rc < 0) {
		capstan_deploy_items_free(out, owed_n);
		return rc;
	}
	*items = out;
	*count = owed_n;
	return 0;
}

static void item_clear(capstan_deploy_item *it)
{
	free(it->env);
	free(it->service);
	free(it->host);
	free(it->path);
	free(it->renewed);
	free(it->why);
}

void capstan_deploy_items_free(capstan_deploy_item *items, size_t count)
{
	for (size_t i = 0; items && i < count; i++)
		item_clear(&items[i]);
	free(items);
}

/* Lines of the bundle whose certificate is revoked get a new one (new key:
 * the old one may be compromised); apply records what the service names. */
static int reissue_revoked(capstan_ctx *ctx, const capstan_deploy_item *it)
{
	capstan_store_env env = { 0 };
	capstan_strlist names = { 0 };
	int rc;

	if ((rc = capstan_store_env_get(ctx, it->env, &env)) < 0 ||
	    (rc = row_names(ctx, env.id, it->service, it->host, &names)) < 0)
		goto done;
	for (size_t i = 0; rc == 0 && i < names.count; i++) {
		capstan_cert *cert = NULL, *fresh = NULL;
		rc = capstan_store_cert_latest(ctx, env.id, names.items[i], CAPSTAN_KIND_LEAF, &cert);
		/* A line whose key the inventory never held (issued from a CSR, or
		 * imported without it) is not given one unasked: the render leaves
		 * it out, with a warning, until it is rotated or issued again. */
		if (rc == 0 && cert->status == CAPSTAN_STATUS_REVOKED && cert->has_key &&
		    capstan_rotate(&fresh, ctx, cert, 0) < 0 &&
		    capstan_error_last(ctx) != CAPSTAN_EINVALID)
			rc = capstan_error_last(ctx);
		rc = rc == CAPSTAN_ENOTFOUND ? 0 : rc;
		capstan_cert_free(fresh);
		capstan_cert_free(cert);
	}
done:
	capstan_strlist_free(&names);
	capstan_store_env_clear(&env);
	return rc;
}

static int record_failure(capstan_ctx *ctx, int64_t id, int rc)
{
	char *message = strdup(capstan_error_message(ctx));
	int fail = capstan_store_begin(ctx);

	if (fail == 0)
		fail = capstan_store_end(ctx, capstan_store_deploy_failed(ctx, id, message ? message : "out of memory"));
	if (message)
		capstan_error(ctx, rc, "%s", message); /* what failed, not the bookkeeping */
	free(message);
	return rc;
}

int capstan_deploy_render(capstan_bundle **out, capstan_ctx *ctx, const capstan_deploy_opts *o,
	const capstan_deploy_item *it)
{
	capstan_bundle_opts bo = CAPSTAN_BUNDLE_OPTS_INIT;
	capstan_bundle *b = NULL;
	char *installed = NULL;
	int rc;

	if ((rc = CAPSTAN_OPTS_CHECK(ctx, o, CAPSTAN_DEPLOY_OPTS_VERSION, "capstan_deploy_opts")) < 0)
		return rc;
	if (o->prefix && !(installed = capstan_aprintf("%s/%s/%s%s%s", o->prefix, it->env, it->service,
		*it->host ? "/" : "", it->host)))
		return capstan_error_oom(ctx);
	bo.env = it->env, bo.service = it->service, bo.host = *it->host ? it->host : NULL;
	bo.dir = installed ? installed : it->path;
	bo.templates_dir = o->templates_dir;
	bo.password = o->password;
	if ((rc = capstan_bundle_check_dir(ctx, it->path)) == 0 && (rc = reissue_revoked(ctx, it)) == 0 &&
	    (rc = capstan_bundle_build(&b, ctx, &bo)) == 0 &&
	    (rc = capstan_bundle_write_dir(ctx, b, it->path)) == 0 && (rc = capstan_store_begin(ctx)) == 0) {
		rc = capstan_store_deploy_rendered(ctx, it->id, it->path, capstan_bundle_certs(b),
			capstan_bundle_crl_refresh_at(b), (int64_t)time(NULL), o->hook);
		if (rc == 0 && !o->hook && (rc = capstan_store_deploy_done(ctx, it->id, (int64_t)time(NULL), 0)) == 0)
			rc = capstan_audit_record(ctx, "deploy", it->env, it->service, NULL, it->path);
		rc = capstan_store_end(ctx, rc);
	}
	free(installed);
	if (rc < 0) {
		capstan_bundle_free(b);
		return record_failure(ctx, it->id, rc);
	}
	*out = b;
	return 0;
}

int capstan_deploy_finish(capstan_ctx *ctx, const capstan_deploy_item *it, const char *error)
{
	int rc;

	if ((rc = capstan_store_begin(ctx)) < 0)
		return rc;
	rc = error ? capstan_store_deploy_failed(ctx, it->id, error) :
		capstan_store_deploy_done(ctx, it->id, (int64_t)time(NULL), 1);
	if (rc == 0)
		rc = capstan_audit_record(ctx, error ? "deploy-failed" : "deploy", it->env, it->service, NULL,
			error ? error : it->path);
	return capstan_store_end(ctx, rc);
}

static int put_metric(capstan_ctx *ctx, capstan_buf *out, const char *name, const capstan_store_deploy *row,
	long long value)
{
	const char *labels[] = { "env", row->env, "service", row->service, "host", row->host, NULL };

	return capstan_prom_sample(ctx, out, name, labels, value);
}

/* Each certificate as it was rendered: what the service runs on, not what the inventory has. */
static int put_deployed(capstan_ctx *ctx, capstan_buf *out, const capstan_store_deploy *row)
{
	capstan_strlist lines = { 0 };
	int rc = capstan_strlist_split(&lines, row->certs, '\n') < 0 ? capstan_error_oom(ctx) : 0;

	for (size_t i = 0; rc == 0 && i < lines.count; i++) {
		char name[128], serial[80];
		long long not_after;
		if (lines.items[i][0] == '@' || sscanf(lines.items[i], "%127s %79s %lld", name, serial, &not_after) != 3)
			continue;
		const char *labels[] = { "env", row->env, "service", row->service, "host", row->host,
			"name", name, "serial", serial, NULL };
		rc = capstan_prom_sample(ctx, out, "capstan_deployed_cert_not_after_seconds", labels, not_after);
	}
	capstan_strlist_free(&lines);
	return rc;
}

int capstan_deploy_metrics(capstan_buf *out, capstan_ctx *ctx)
{
	capstan_deploy_opts o = CAPSTAN_DEPLOY_OPTS_INIT;
	capstan_store_deploy *rows = NULL;
	size_t n = 0;
	int64_t revoked = 0, revoked_env = -1;
	static const char help[] =
		"# HELP capstan_redeploy_pending 1 when a delivered bundle is owed a render or its hook (the next delivery retries it).\n"
		"# TYPE capstan_redeploy_pending gauge\n"
		"# HELP capstan_redeploy_failures Failed attempts since the bundle was last delivered.\n"
		"# TYPE capstan_redeploy_failures gauge\n"
		"# HELP capstan_redeploy_last_success_seconds When the bundle was last delivered, hook included (Unix time).\n"
		"# TYPE capstan_redeploy_last_success_seconds gauge\n"
		"# HELP capstan_deployed_cert_not_after_seconds When each certificate in a delivered bundle expires.\n"
		"# TYPE capstan_deployed_cert_not_after_seconds gauge\n";
	int rc = capstan_buf_append(ctx, out, help, sizeof(help) - 1);

	if (rc == 0)
		rc = capstan_store_deploy_list(ctx, 0, &rows, &n);
	for (size_t i = 0; rc == 0 && i < n; i++) {
		capstan_deploy_item it = { 0 };
		int owed = 0;
		if (!rows[i].dir)
			continue; /* tracked, never delivered by capstan */
		if (rows[i].env_id != revoked_env &&
		    (rc = capstan_store_last_revocation(ctx, revoked_env = rows[i].env_id, &revoked)) < 0)
			break;
		if ((rc = owed_item(ctx, &o, &rows[i], revoked, &it, &owed)) == 0 &&
		    (rc = put_metric(ctx, out, "capstan_redeploy_pending", &rows[i], owed)) == 0 &&
		    (rc = put_metric(ctx, out, "capstan_redeploy_failures", &rows[i], rows[i].failures)) == 0 &&
		    (rc = put_metric(ctx, out, "capstan_redeploy_last_success_seconds", &rows[i],
				     rows[i].deployed_at)) == 0)
			rc = put_deployed(ctx, out, &rows[i]);
		item_clear(&it);
	}
	capstan_store_deploy_list_free(rows, n);
	return rc;
}
