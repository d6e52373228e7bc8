/* apply: the inventory made to match the configuration, one transaction per change. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <capstan/apply.h>
#include <capstan/ocsp.h>
#include <capstan/bundle.h>
#include <capstan/ca.h>

#include <capstan/lifecycle.h>
#include <capstan/parse.h>

#include "ca/ca.h"
#include "base/base.h"
#include "apply_policy.h"
#include "config_model.h"
#include "delivery.h"
#include "store/store.h"
#include "crypto/crypto.h"

typedef struct {
	capstan_ctx *ctx;
	const capstan_config *config;
	const capstan_apply_opts *o;
	capstan_apply_fn fn;
	void *payload;
	size_t changes;
	size_t requested, failed; /* certificates sent to be issued, and those that were not */
	const char **names;       /* every certificate name of the configuration, sorted, for bsearch */
	size_t name_count;
} applier;

static int str_cmp(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The configuration's certificate names, sorted once: pruning asks of every
 * certificate of every service whether the file still names it. */
static int sort_names(applier *a)
{
	const capstan_config *c = a->config;
	size_t n = 0;

	for (size_t i = 0; i < c->service_count; i++)
		n += c->services[i].cert_count;
	if (!(a->names = malloc((n ? n : 1) * sizeof(*a->names))))
		return capstan_error_oom(a->ctx);
	for (size_t i = 0; i < c->service_count; i++)
		for (size_t j = 0; j < c->services[i].cert_count; j++)
			a->names[a->name_count++] = c->services[i].certs[j].name;
	qsort(a->names, a->name_count, sizeof(*a->names), str_cmp);
	return 0;
}

static int step(applier *a, capstan_step_kind kind, const char *env, const char *name, const char *reason,
	const char *serial)
{
	capstan_apply_step s = { kind, env, name, reason, serial };

	if (kind != CAPSTAN_STEP_LEFT)
		a->changes++;
	return a->fn ? a->fn(&s, a->payload) : 0;
}

/* Everything is checked before anything changes: templates and environment names. */
static int check_all(applier *a)
{
	const capstan_config *c = a->config;
	int found = a->o->env == NULL, rc;

	for (size_t i = 0; i < c->service_count; i++) {
		const capstan_config_service *s = &c->services[i];
		if ((rc = capstan_template_check(a->ctx, a->o->templates_dir, s->template_name)) < 0)
			return capstan_error(a->ctx, rc, "%s:%d:%d: services.%s.template: %s", c->path, s->template_line,
				s->template_column, s->name, capstan_error_message(a->ctx));
	}
	for (size_t i = 0; i < c->env_count && !found; i++)
		found = strcmp(c->envs[i].name, a->o->env) == 0;
	if (!found)
		return capstan_error(a->ctx, CAPSTAN_ENOTFOUND, "environment '%s' is not in %s", a->o->env, c->path);
	return 0;
}

static int ensure_env(applier *a, const capstan_config_env *e)
{
	capstan_store_env have;
	capstan_init_opts io = CAPSTAN_INIT_OPTS_INIT;
	capstan_config_defaults leaf = capstan_config_effective(a->config, e, NULL);
	int rc = capstan_store_env_get(a->ctx, e->name, &have);

	capstan_store_env_clear(&have);
	if (rc != CAPSTAN_ENOTFOUND)
		return rc;
	io.env = e->name;
	io.org = a->config->organization;
	/* The CA keys: the root's own, else the environment's or the file's default. */
	if (e->root.key_set)
		io.key = e->root.key;
	else if (leaf.key_set)
		io.key = leaf.key;
	io.inter_key_set = e->intermediate.key_set;
	io.inter_key = e->intermediate.key;
	io.root_lifetime = e->root.lifetime;
	io.ca_lifetime = e->intermediate.lifetime;
	io.leaf_lifetime = leaf.lifetime;
	capstan_apply_policy_constraints(a->config, e, &io);
	if (!a->o->dry_run && capstan_env_init(NULL, NULL, a->ctx, &io) < 0)
		return capstan_error(a->ctx, capstan_error_last(a->ctx), "environment '%s': %s", e->name,
			capstan_error_message(a->ctx));
	return step(a, CAPSTAN_STEP_CREATE_ENV, e->name, NULL, "new", NULL);
}

/* "IP:0:0::1" and "IP:::1" are one address: compare canonical text. */
static void canonical_san(const char *san, char *out, size_t size)
{
	unsigned char ip[16];
	size_t len;

	if (strncmp(san, "IP:", 3) == 0 && capstan_parse_ip(san + 3, ip, &len, NULL) == 0 &&
	    capstan_ip_to_text(ip, len, out + 3, size - 3) == 0) {
		memcpy(out, "IP:", 3);
		return;
	}
	snprintf(out, size, "%s", san);
}

static int same_sans(const capstan_strlist *want, char *const *have, size_t have_count)
{
	char a[300], b[300];
	size_t matched = 0;

	if (want->count != have_count)
		return 0;
	for (size_t i = 0; i < want->count; i++) {
		canonical_san(want->items[i], a, sizeof(a));
		for (size_t j = 0; j < have_count; j++) {
			canonical_san(have[j], b, sizeof(b));
			if (strcmp(a, b) == 0) {
				matched++;
				break;
			}
		}
	}
	return matched == want->count;
}

/* What differs between the current certificate and the configuration ("" when nothing). */
static int differences(applier *a, const capstan_cert *cur, const capstan_issue_opts *o, char *why, size_t size)
{
	capstan_strlist want = { 0 };
	capstan_x509_info info;
	capstan_key_type key = o->key_set ? o->key : CAPSTAN_DEFAULT_KEY;
	int rc;

	why[0] = '\0';
	if ((rc = capstan_request_sans(a->ctx, o, o->cn, NULL, &want)) < 0 ||
	    (rc = capstan_x509_info_read(&info, a->ctx, cur->der, cur->der_len)) < 0) {
		capstan_strlist_free(&want);
		return rc;
	}
	if (!info.cn || strcmp(info.cn, o->cn) != 0)
		snprintf(why + strlen(why), size - strlen(why), "%sCN differs", *why ? ", " : "");
	if (!same_sans(&want, cur->sans, cur->san_count))
		snprintf(why + strlen(why), size - strlen(why), "%sSANs differ", *why ? ", " : "");
	if (!cur->has_profile || cur->profile != o->profile)
		snprintf(why + strlen(why), size - strlen(why), "%sprofile differs (%s, want %s)", *why ? ", " : "",
			capstan_profile_name(cur->profile), capstan_profile_name(o->profile));
	if (cur->key_type != key)
		snprintf(why + strlen(why), size - strlen(why), "%skey type differs (%s, want %s)", *why ? ", " : "",
			capstan_key_type_name(cur->key_type), capstan_key_type_name(key));
	capstan_x509_info_clear(&info);
	capstan_strlist_free(&want);
	return 0;
}

/* A certificate apply will issue, waiting for the environment's batch. */
typedef struct {
	capstan_issue_opts o;
	const capstan_config_service *s;
	const capstan_config_cert *c;
	int reissue;
	char reason[200];
} wanted;

/* Whether the certificate needs issuing, and why: 1 (w filled), 0 (as configured). */
static int plan_cert(applier *a, const capstan_config_env *e, const capstan_config_service *s,
	const capstan_config_cert *c, wanted *w)
{
	capstan_config_defaults d = capstan_config_effective(a->config, e, c);
	capstan_store_env env = { 0 };
	capstan_cert *cur = NULL;
	int rc;

	memset(w, 0, sizeof(*w));
	w->o = (capstan_issue_opts)CAPSTAN_ISSUE_OPTS_INIT;
	capstan_config_issue_opts(c, &d, e->name, s->name, &w->o);
	w->s = s;
	w->c = c;
	snprintf(w->reason, sizeof(w->reason), "new");
	rc = capstan_store_env_get(a->ctx, e->name, &env);
	if (rc == 0)
		rc = capstan_store_cert_latest(a->ctx, env.id, c->name, CAPSTAN_KIND_LEAF, &cur);
	if (rc == CAPSTAN_ENOTFOUND) {
		rc = 1; /* a new environment (dry run) or a new certificate */
	} else if (rc == 0 && cur->status == CAPSTAN_STATUS_VALID) {
		if ((rc = differences(a, cur, &w->o, w->reason, sizeof(w->reason))) == 0)
			rc = w->reason[0] != '\0'; /* nothing differs: as configured */
		w->reissue = w->o.replace = rc;
	} else if (rc == 0) {
		snprintf(w->reason, sizeof(w->reason), "%s", capstan_status_name(cur->status));
		rc = 1;
	}
	capstan_cert_free(cur);
	capstan_store_env_clear(&env);
	return rc;
}

typedef struct {
	applier *a;
	const capstan_config_env *e;
	wanted *w;
	int failed;
} batch_run;

/* A certificate that could not be issued: reported with its own reason,
 * naming its entry of the file; the others go on. */
static int report_failure(batch_run *run, const wanted *w, const capstan_batch_result *r)
{
	applier *a = run->a;
	const char *error = r->error;
	char path[200], hint[300];
	char *why;

	snprintf(path, sizeof(path), "services.%s.certs[%zu]", w->s->name, (size_t)(w->c - w->s->certs));
	capstan_config_subject_hint(r->subject, path, hint, sizeof(hint));
	why = capstan_aprintf("%s: services.%s, certificate '%s' in %s: %s%s", a->config->path, w->s->name,
		w->c->name, run->e->name, error, hint);
	capstan_apply_step s = { CAPSTAN_STEP_FAILED, run->e->name, w->c->name, why ? why : error, NULL };
	int rc = a->fn ? a->fn(&s, a->payload) : 0;

	run->failed++;
	free(why);
	return rc;
}

static int batch_sink(const capstan_batch_result *r, void *payload)
{
	batch_run *run = payload;
	const wanted *w = &run->w[r->index];

	if (!r->cert)
		return report_failure(run, w, r);
	return step(run->a, w->reissue ? CAPSTAN_STEP_REISSUE : CAPSTAN_STEP_ISSUE, run->e->name, w->c->name,
		w->reason, r->cert->serial);
}

/* Every certificate of the environment that needs issuing, through the batch
 * path: signed on every core, committed in groups; a re-run picks up whatever
 * an interruption left undone. */
static int ensure_certs(applier *a, const capstan_config_env *e)
{
	size_t total = 0, n = 0;
	wanted *w;
	int rc = 0;

	for (size_t j = 0; j < a->config->service_count; j++)
		total += a->config->services[j].cert_count;
	if (!(w = calloc(total ? total : 1, sizeof(*w))))
		return capstan_error_oom(a->ctx);
	for (size_t j = 0; rc == 0 && j < a->config->service_count; j++) {
		const capstan_config_service *s = &a->config->services[j];
		for (size_t k = 0; rc == 0 && k < s->cert_count; k++)
			if ((rc = plan_cert(a, e, s, &s->certs[k], &w[n])) > 0)
				n++, rc = 0;
	}
	if (rc == 0 && a->o->dry_run) {
		for (size_t i = 0; rc == 0 && i < n; i++)
			rc = step(a, w[i].reissue ? CAPSTAN_STEP_REISSUE : CAPSTAN_STEP_ISSUE, e->name, w[i].c->name,
				w[i].reason, NULL);
	} else if (rc == 0 && n > 0) {
		capstan_issue_opts *reqs = calloc(n, sizeof(*reqs));
		batch_run run = { a, e, w, 0 };
		if (!reqs) {
			free(w);
			return capstan_error_oom(a->ctx);
		}
		for (size_t i = 0; i < n; i++)
			reqs[i] = w[i].o;
		rc = capstan_issue_batch(a->ctx, reqs, n, NULL, batch_sink, &run);
		a->requested += n;
		a->failed += run.failed;
		if (rc == CAPSTAN_EINVALID && run.failed)
			rc = 0; /* each failure was reported; capstan_apply ends with the count */
		free(reqs);
	}
	free(w);
	return rc;
}

static int ensure_service(applier *a, const capstan_config_env *e, const capstan_config_service *s)
{
	capstan_store_env env = { 0 };
	capstan_store_service have = { 0 };
	capstan_buf certs = CAPSTAN_BUF_INIT, delivery = CAPSTAN_BUF_INIT;
	capstan_store_service want = { s->template_name, NULL, NULL };
	int rc = 0, changed;

	for (size_t i = 0; rc == 0 && i < s->cert_count; i++) {
		char *line = capstan_aprintf("%s\t%s\n", s->certs[i].name, s->certs[i].role ? s->certs[i].role : "");
		rc = line ? capstan_buf_append(a->ctx, &certs, line, strlen(line)) : capstan_error_oom(a->ctx);
		free(line);
	}
	if (rc < 0 || (rc = capstan_delivery_encode(a->ctx, s, &delivery)) < 0 ||
	    (rc = capstan_buf_append(a->ctx, &delivery, "", 0)) < 0)
		goto done;
	want.certs = (char *)certs.data;
	want.delivery = (char *)delivery.data;
	if ((rc = capstan_store_env_get(a->ctx, e->name, &env)) == CAPSTAN_ENOTFOUND && a->o->dry_run) {
		rc = step(a, CAPSTAN_STEP_RECORD_SERVICE, e->name, s->name, "new", NULL);
		goto done;
	}
	if (rc < 0)
		goto done;
	if (a->o->dry_run) {
		rc = capstan_store_service_get(a->ctx, env.id, s->name, &have);
		changed = rc == CAPSTAN_ENOTFOUND || (rc == 0 && (strcmp(have.template_name, want.template_name) != 0 ||
			strcmp(have.certs, want.certs) != 0 || strcmp(have.delivery, want.delivery) != 0));
		rc = rc == CAPSTAN_ENOTFOUND ? 0 : rc;
	} else if ((rc = capstan_store_begin(a->ctx)) == 0) {
		changed = rc = capstan_store_service_put(a->ctx, env.id, s->name, &want);
		if (rc > 0)
			rc = capstan_audit_record(a->ctx, "service", e->name, s->name, NULL, s->template_name);
		rc = capstan_store_end(a->ctx, rc < 0 ? rc : 0);
	}
	if (rc == 0 && changed)
		rc = step(a, CAPSTAN_STEP_RECORD_SERVICE, e->name, s->name, have.template_name ? "changed" : "recorded", NULL);
done:
	capstan_store_service_clear(&have);
	capstan_buf_free(&certs);
	capstan_buf_free(&delivery);
	capstan_store_env_clear(&env);
	return rc;
}

static const capstan_config_service *config_service(const capstan_config *c, const char *name)
{
	for (size_t i = 0; i < c->service_count; i++)
		if (strcmp(c->services[i].name, name) == 0)
			return &c->services[i];
	return NULL;
}

/* A certificate line the configuration dropped: revoked with --prune, else said to be left. */
static int prune_line(applier *a, const capstan_store_env *env, const char *service, const char *name)
{
	capstan_cert *cert = NULL;
	char why[160];
	int rc = capstan_store_cert_latest(a->ctx, env->id, name, CAPSTAN_KIND_LEAF, &cert);

	if (rc == CAPSTAN_ENOTFOUND || (rc == 0 && (cert->status != CAPSTAN_STATUS_VALID || cert->not_after <= time(NULL)))) {
		capstan_cert_free(cert);
		return 0;
	}
	snprintf(why, sizeof(why), "service %s no longer names it%s", service,
		a->o->prune ? "" : "; left valid");
	if (rc == 0 && a->o->prune && !a->o->dry_run)
		rc = capstan_revoke(a->ctx, cert, CAPSTAN_REASON_CESSATION_OF_OPERATION);
	if (rc == 0)
		rc = step(a, a->o->prune ? CAPSTAN_STEP_PRUNE : CAPSTAN_STEP_LEFT, env->name, name, why, cert->serial);
	capstan_cert_free(cert);
	return rc;
}

static int config_names(const applier *a, const char *cert_name)
{
	return bsearch(&cert_name, a->names, a->name_count, sizeof(*a->names), str_cmp) != NULL;
}

/* Sorted, each name once: a certificate's line has a row per renewal. */
static void sort_unique(capstan_strlist *list)
{
	size_t kept = 0;

	if (list->count < 2)
		return;
	qsort(list->items, list->count, sizeof(*list->items), str_cmp);
	for (size_t i = 0; i < list->count; i++) {
		if (kept && strcmp(list->items[kept - 1], list->items[i]) == 0)
			free(list->items[i]);
		else
			list->items[kept++] = list->items[i];
	}
	list->count = kept;
}

/* The valid certificates of the environment issued for one of SERVICES
 * (sorted) whose names no service of the configuration has, as "SERVICE<TAB>
 * NAME" lines, sorted (a tab sorts before any character of a name) and each
 * once. One pass over the environment's certificates: a pass per service
 * read the environment once for each, quadratic at scale. */
static int dropped_lines(applier *a, const capstan_store_env *env, const capstan_strlist *services,
	capstan_strlist *dropped)
{
	capstan_list_opts lo = CAPSTAN_LIST_OPTS_INIT;
	capstan_cert_iter *it = NULL;
	capstan_cert *cert;
	int rc;

	lo.env = env->name;
	if ((rc = capstan_cert_iter_new(&it, a->ctx, &lo)) < 0)
		return rc;
	/* Collected first: revoking writes, and the iterator is still reading. A
	 * line another service of the file names has moved there: not dropped. */
	while ((rc = capstan_cert_iter_next(&cert, it)) == 0) {
		const char *service = cert->service;
		char *line;
		if (service && services->count &&
		    bsearch(&service, services->items, services->count, sizeof(*services->items), str_cmp) &&
		    !config_names(a, cert->name)) {
			line = capstan_aprintf("%s\t%s", service, cert->name);
			if (!line || capstan_strlist_push(dropped, line) < 0)
				rc = capstan_error_oom(a->ctx);
			free(line);
		}
		capstan_cert_free(cert);
		if (rc < 0)
			break;
	}
	capstan_cert_iter_free(it);
	if (rc == CAPSTAN_ITEROVER)
		sort_unique(dropped), rc = 0;
	return rc;
}

/* Every service recorded or configured, pruned of what the file dropped; a
 * service gone from the file is forgotten with --prune: nothing reissues its lines. */
static int prune_env(applier *a, const capstan_config_env *e)
{
	capstan_store_env env = { 0 };
	capstan_strlist services = { 0 }, dropped = { 0 };
	size_t stored;
	int rc = capstan_store_env_get(a->ctx, e->name, &env);

	if (rc == CAPSTAN_ENOTFOUND)
		return 0; /* a dry run's new environment */
	if (rc == 0)
		rc = capstan_store_service_names(a->ctx, env.id, &services);
	/* The recorded ones come sorted (by name, bytewise): the configured ones
	 * not among them are looked up there, not in a list that grows. */
	stored = services.count;
	for (size_t i = 0; rc == 0 && i < a->config->service_count; i++) {
		const char *name = a->config->services[i].name;
		/* bsearch's base must not be NULL, even for no elements. */
		if ((!stored || !bsearch(&name, services.items, stored, sizeof(*services.items), str_cmp)) &&
		    capstan_strlist_push(&services, name) < 0)
			rc = capstan_error_oom(a->ctx);
	}
	if (rc == 0)
		sort_unique(&services), rc = dropped_lines(a, &env, &services, &dropped);
	for (size_t i = 0; rc == 0 && i < dropped.count; i++) {
		char *tab = strchr(dropped.items[i], '\t');
		*tab = '\0';
		rc = prune_line(a, &env, dropped.items[i], tab + 1);
	}
	for (size_t i = 0; rc == 0 && i < services.count; i++)
		if (!config_service(a->config, services.items[i]) && a->o->prune && !a->o->dry_run)
			rc = capstan_store_service_forget(a->ctx, env.id, services.items[i]);
	capstan_strlist_free(&dropped);
	capstan_strlist_free(&services);
	capstan_store_env_clear(&env);
	return rc;
}

static int policy_step(const char *env, const char *service, const char *what, void *payload)
{
	return step(payload, CAPSTAN_STEP_RECORD_POLICY, env, service, what, NULL);
}

int capstan_apply(size_t *changes, capstan_ctx *ctx, const capstan_config *config, const capstan_apply_opts *o,
	capstan_apply_fn fn, void *payload)
{
	applier a = { ctx, config, o, fn, payload, 0, 0, 0, NULL, 0 };
	int rc;

	if ((rc = CAPSTAN_OPTS_CHECK(ctx, o, CAPSTAN_APPLY_OPTS_VERSION, "capstan_apply_opts")) < 0 ||
	    (rc = capstan_require_store(ctx)) < 0 || (rc = check_all(&a)) < 0 ||
	    (rc = capstan_apply_policy_check(ctx, config, o->env)) < 0 ||
	    (!o->dry_run && (rc = capstan_require_unlocked(ctx)) < 0) || (rc = sort_names(&a)) < 0) {
		free(a.names);
		return rc;
	}
	/* Before anything is issued: what this apply issues carries the URLs. */
	if (!o->dry_run && config->api && config->api->public_url &&
	    (rc = capstan_public_url_set(ctx, config->api->public_url)) < 0) {
		free(a.names);
		return rc;
	}
	for (size_t i = 0; rc == 0 && i < config->env_count; i++) {
		const capstan_config_env *e = &config->envs[i];
		if (o->env && strcmp(o->env, e->name) != 0)
			continue;
		/* The policy first: what this apply issues obeys it, as everything does. */
		if ((rc = ensure_env(&a, e)) < 0 ||
		    (rc = capstan_apply_policy_record(ctx, config, e, o->dry_run, policy_step, &a)) < 0 ||
		    (rc = ensure_certs(&a, e)) < 0 || (rc = prune_env(&a, e)) < 0)
			break;
		for (size_t j = 0; rc == 0 && j < config->service_count; j++)
			rc = ensure_service(&a, e, &config->services[j]);
	}
	if (rc == 0 && a.failed)
		rc = capstan_error(ctx, CAPSTAN_EINVALID, "%zu of %zu certificates could not be issued", a.failed,
			a.requested);
	if (changes)
		*changes = a.changes;
	free(a.names);
	return rc;
}
