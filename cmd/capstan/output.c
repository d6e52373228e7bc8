/* What capstan prints: a text form for people, one JSON document for scripts.
 * The only file of the tool that uses jansson. */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static void time_string(time_t t, char *buf, size_t size)
{
	capstan_format_time(t, buf, size);
}

static json_t *json_time(time_t t)
{
	char buf[32];

	time_string(t, buf, sizeof(buf));
	return json_string(buf);
}

static json_t *json_str_or_null(const char *s)
{
	return s ? json_string(s) : json_null();
}

static json_t *cert_json(const capstan_cert *cert)
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
	json_object_set_new(o, "profile",
		cert->has_profile ? json_string(capstan_profile_name(cert->profile)) : json_null());
	json_object_set_new(o, "subject", json_string(cert->subject));
	json_object_set_new(o, "issuer", json_string(cert->issuer));
	json_object_set_new(o, "sans", sans);
	json_object_set_new(o, "service", json_str_or_null(cert->service));
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
		json_object_set_new(o, "revoke_reason", json_str_or_null(cert->revoke_reason));
	}
	return o;
}

/* Prints one JSON document and frees it. */
int out_print_doc(cli *c, json_t *doc)
{
	int rc = doc ? json_dumpf(doc, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER) : -1;

	json_decref(doc);
	if (rc < 0)
		return cli_error(c, "cannot write JSON");
	fputc('\n', stdout);
	return EXIT_OK;
}

int out_init(cli *c, const char *verb, const capstan_cert *root, const capstan_cert *inter, json_t *extra)
{
	char nb[32], na[32];

	if (c->json) {
		json_t *doc = json_object();
		json_object_set_new(doc, "env", json_string(root->env));
		json_object_set_new(doc, "root", cert_json(root));
		json_object_set_new(doc, "intermediate", cert_json(inter));
		if (extra)
			json_object_update(doc, extra);
		json_decref(extra);
		return out_print_doc(c, doc);
	}
	json_decref(extra);
	if (c->quiet)
		return EXIT_OK;
	printf("%s environment '%s' (%s keys)\n", verb, root->env,
		capstan_key_type_name(root->key_type));
	time_string(root->not_after, na, sizeof(na));
	printf("  root CA          %s  %s  until %s\n", root->serial, root->subject, na);
	time_string(inter->not_after, nb, sizeof(nb));
	printf("  intermediate CA  %s  %s  until %s\n", inter->serial, inter->subject, nb);
	return EXIT_OK;
}

int out_issued(cli *c, const capstan_cert *cert, int64_t requested)
{
	int64_t window = capstan_cert_renew_window(cert);

	/* A leaf never outlives its issuer: say so when the lifetime was cut. */
	if (requested && cert->not_after < cert->not_before + CAPSTAN_BACKDATE_SECONDS + requested &&
	    !c->quiet && !c->json) {
		char na[32];
		time_string(cert->not_after, na, sizeof(na));
		fprintf(stderr, "capstan: note: '%s' ends with its issuer, at %s\n", cert->name, na);
	}
	/* A window asked for that does not fit the lifetime: say what it became. */
	if (cert->renew_before && window != cert->renew_before && !c->quiet && !c->json) {
		char asked[32], third[32];
		capstan_format_duration(cert->renew_before, asked, sizeof(asked));
		capstan_format_duration(window, third, sizeof(third));
		fprintf(stderr, "capstan: note: '%s': a renew-before window of %s is not shorter than its lifetime:"
			" it is renewed in its last third (%s)\n", cert->name, asked, third);
	}
	if (c->json)
		return out_print_doc(c, cert_json(cert));
	if (!c->quiet)
		printf("%s\n", cert->serial);
	return EXIT_OK;
}

int out_show(cli *c, const capstan_cert *cert)
{
	char nb[32], na[32], dur[32];

	if (c->json)
		return out_print_doc(c, cert_json(cert));
	time_string(cert->not_before, nb, sizeof(nb));
	time_string(cert->not_after, na, sizeof(na));
	printf("name:         %s\n", cert->name);
	printf("environment:  %s\n", cert->env);
	printf("kind:         %s\n", capstan_kind_name(cert->kind));
	if (cert->has_profile)
		printf("profile:      %s\n", capstan_profile_name(cert->profile));
	printf("status:       %s\n", capstan_status_name(cert->status));
	printf("serial:       %s\n", cert->serial);
	printf("subject:      %s\n", cert->subject);
	printf("issuer:       %s\n", cert->issuer);
	for (size_t i = 0; i < cert->san_count; i++)
		printf("%s%s\n", i ? "              " : "SANs:         ", cert->sans[i]);
	if (cert->service)
		printf("service:      %s\n", cert->service);
	printf("key:          %s (%s)\n", capstan_key_type_name(cert->key_type),
		cert->has_key ? "held, encrypted" : "not held: issued from a CSR");
	printf("not before:   %s\n", nb);
	printf("not after:    %s\n", na);
	capstan_format_duration(cert->lifetime, dur, sizeof(dur));
	printf("lifetime:     %s\n", dur);
	printf("sha256:       %s\n", cert->fingerprint_sha256);
	if (cert->status == CAPSTAN_STATUS_REVOKED) {
		time_string(cert->revoked_at, na, sizeof(na));
		printf("revoked:      %s (%s)\n", na, cert->revoke_reason ? cert->revoke_reason : "unspecified");
	}
	return EXIT_OK;
}

int out_written(cli *c, const char *path, const char *what, const capstan_cert *cert)
{
	if (strcmp(path, "-") == 0)
		return EXIT_OK; /* the data itself went to standard output */
	if (c->json) {
		json_t *doc = json_object();
		json_object_set_new(doc, "path", json_string(path));
		json_object_set_new(doc, "content", json_string(what));
		if (cert) {
			json_object_set_new(doc, "name", json_string(cert->name));
			json_object_set_new(doc, "env", json_string(cert->env));
			json_object_set_new(doc, "serial", json_string(cert->serial));
		}
		return out_print_doc(c, doc);
	}
	return EXIT_OK;
}

void out_list_begin(cli *c)
{
	if (c->json)
		fputs("[", stdout);
	else if (!c->quiet)
		printf("%-24s %-10s %-32s %-10s %-12s %s\n", "NAME", "ENV", "SERIAL", "STATUS",
			"PROFILE", "NOT AFTER");
}

int out_list_item(cli *c, const capstan_cert *cert, size_t index)
{
	if (c->json) {
		json_t *o = cert_json(cert);
		int rc;
		/* One object at a time, so a million rows need no more memory than one. */
		fputs(index ? ",\n  " : "\n  ", stdout);
		rc = json_dumpf(o, stdout, JSON_COMPACT | JSON_PRESERVE_ORDER);
		json_decref(o);
		return rc < 0 ? cli_error(c, "cannot write JSON") : EXIT_OK;
	}
	if (!c->quiet) {
		char na[32];
		time_string(cert->not_after, na, sizeof(na));
		printf("%-24s %-10s %-32s %-10s %-12s %s\n", cert->name, cert->env, cert->serial,
			capstan_status_name(cert->status),
			cert->has_profile ? capstan_profile_name(cert->profile) : capstan_kind_name(cert->kind),
			na);
	}
	return EXIT_OK;
}

void out_ca_list_begin(cli *c)
{
	if (c->json)
		fputs("[", stdout);
	else if (!c->quiet)
		printf("%-24s %-10s %-32s %-12s %-10s %-20s %s\n", "NAME", "ENV", "SERIAL", "KIND", "STATUS",
			"NOT AFTER", "TRUST BUNDLE");
}

int out_ca_list_item(cli *c, const capstan_cert *cert, size_t index, int in_trust, time_t until)
{
	int root = cert->kind == CAPSTAN_KIND_ROOT;
	char na[32], at[32] = "";

	if (until)
		time_string(until, at, sizeof(at));
	if (c->json) {
		json_t *o = cert_json(cert);
		int rc;
		if (root)
			json_object_set_new(o, "in_trust_bundle", json_boolean(in_trust));
		if (root && until)
			json_object_set_new(o, "leaves_trust_at", json_string(at));
		fputs(index ? ",\n  " : "\n  ", stdout);
		rc = json_dumpf(o, stdout, JSON_COMPACT | JSON_PRESERVE_ORDER);
		json_decref(o);
		return rc < 0 ? cli_error(c, "cannot write JSON") : EXIT_OK;
	}
	if (!c->quiet) {
		time_string(cert->not_after, na, sizeof(na));
		printf("%-24s %-10s %-32s %-12s %-10s %-20s %s%s\n", cert->name, cert->env, cert->serial,
			capstan_kind_name(cert->kind), capstan_status_name(cert->status), na,
			!root ? "-" : !in_trust ? "no" : until ? "until " : "yes", at);
	}
	return EXIT_OK;
}

static int end_array(cli *c, size_t count)
{
	if (c->json) {
		fputs(count ? "\n]\n" : "]\n", stdout);
	}
	if (fflush(stdout) != 0)
		return cli_error(c, "cannot write to standard output");
	return EXIT_OK;
}

int out_list_end(cli *c, size_t count)
{
	return end_array(c, count);
}

/* An audit row's certificate states as [{serial, status, fingerprint}]. */
static json_t *state_json(const char *state)
{
	json_t *arr = json_array();

	for (const char *p = state; p && *p;) {
		const char *nl = strchr(p, '\n'), *end = nl ? nl : p + strlen(p);
		const char *sp1 = memchr(p, ' ', (size_t)(end - p));
		const char *sp2 = sp1 ? memchr(sp1 + 1, ' ', (size_t)(end - sp1 - 1)) : NULL;
		if (sp2) {
			json_t *o = json_object();
			json_object_set_new(o, "serial", json_stringn(p, (size_t)(sp1 - p)));
			json_object_set_new(o, "status", json_stringn(sp1 + 1, (size_t)(sp2 - sp1 - 1)));
			json_object_set_new(o, "fingerprint", json_stringn(sp2 + 1, (size_t)(end - sp2 - 1)));
			json_array_append_new(arr, o);
		}
		p = nl ? nl + 1 : end;
	}
	return arr;
}

void out_audit_begin(cli *c)
{
	if (c->json)
		fputs("[", stdout);
}

int out_audit_item(cli *c, const capstan_audit_entry *e, size_t index)
{
	char at[32];

	time_string(e->at, at, sizeof(at));
	if (c->json) {
		json_t *o = json_object();
		int rc;
		json_object_set_new(o, "id", json_integer(e->id));
		json_object_set_new(o, "time", json_string(at));
		json_object_set_new(o, "uid", json_integer(e->uid));
		json_object_set_new(o, "user", json_string(e->user));
		json_object_set_new(o, "operation", json_string(e->op));
		json_object_set_new(o, "env", json_str_or_null(e->env));
		json_object_set_new(o, "name", json_str_or_null(e->name));
		json_object_set_new(o, "serial", json_str_or_null(e->serial));
		json_object_set_new(o, "detail", json_str_or_null(e->detail));
		json_object_set_new(o, "state", state_json(e->state));
		fputs(index ? ",\n  " : "\n  ", stdout);
		rc = json_dumpf(o, stdout, JSON_COMPACT | JSON_PRESERVE_ORDER);
		json_decref(o);
		return rc < 0 ? cli_error(c, "cannot write JSON") : EXIT_OK;
	}
	if (!c->quiet)
		printf("%s  %-10s %-15s %-10s %-24s %s%s%s\n", at, e->user, e->op, e->env ? e->env : "-",
			e->name ? e->name : "-", e->serial ? e->serial : "-",
			e->detail ? "  " : "", e->detail ? e->detail : "");
	return EXIT_OK;
}

int out_audit_end(cli *c, size_t count)
{
	return end_array(c, count);
}

int out_reissued(cli *c, const capstan_cert *old, const capstan_cert *cert)
{
	if (c->json) {
		json_t *doc = cert_json(cert);
		json_object_set_new(doc, "replaces", json_string(old->serial));
		return out_print_doc(c, doc);
	}
	if (!c->quiet)
		printf("%s\n", cert->serial);
	return EXIT_OK;
}

/* "spark-2 (serial X, superseded), ..." */
static void print_same_key(const capstan_revocation *r)
{
	for (size_t i = 0; i < r->count; i++)
		printf("%s%s (serial %s, %s)", i ? ", " : "", r->same_key[i]->name, r->same_key[i]->serial,
			capstan_status_name(r->same_key[i]->status));
}

int out_revoked(cli *c, const capstan_cert *cert, const char *reason, const capstan_revocation *r)
{
	if (c->json) {
		json_t *doc = json_object(), *same = json_array();
		for (size_t i = 0; i < r->count; i++)
			json_array_append_new(same, cert_json(r->same_key[i]));
		json_object_set_new(doc, "name", json_string(cert->name));
		json_object_set_new(doc, "env", json_string(cert->env));
		json_object_set_new(doc, "serial", json_string(cert->serial));
		json_object_set_new(doc, "reason", json_string(reason));
		json_object_set_new(doc, "same_key", same);
		json_object_set_new(doc, "same_key_revoked", json_boolean(r->revoked));
		return out_print_doc(c, doc);
	}
	if (c->quiet)
		return EXIT_OK;
	if (r->revoked && r->count > 0) {
		printf("revoked %zu certificates that carry the key of %s (%s): %s", r->count + 1, cert->name,
			reason, cert->serial);
		for (size_t i = 0; i < r->count; i++)
			printf(", %s", r->same_key[i]->serial);
		putchar('\n');
		return EXIT_OK;
	}
	printf("revoked '%s' in %s (serial %s): %s\n", cert->name, cert->env, cert->serial, reason);
	if (r->count > 0) {
		printf("note: %zu other unexpired certificate%s the same key: ", r->count,
			r->count == 1 ? " carries" : "s carry");
		print_same_key(r);
		printf("; revoke with --reason keyCompromise to revoke them all, or rotate for a new key\n");
	}
	return EXIT_OK;
}

int out_ca_rotated(cli *c, const capstan_cert *root, const capstan_cert *inter)
{
	char na[32];

	if (c->json) {
		json_t *doc = json_object();
		json_object_set_new(doc, "env", json_string(inter->env));
		json_object_set_new(doc, "root", root ? cert_json(root) : json_null());
		json_object_set_new(doc, "intermediate", cert_json(inter));
		return out_print_doc(c, doc);
	}
	if (c->quiet)
		return EXIT_OK;
	if (root) {
		time_string(root->not_after, na, sizeof(na));
		printf("new root CA          %s  %s  until %s\n", root->serial, root->subject, na);
	}
	time_string(inter->not_after, na, sizeof(na));
	printf("new intermediate CA  %s  %s  until %s\n", inter->serial, inter->subject, na);
	return EXIT_OK;
}

int out_verified(cli *c, const char *file, const capstan_cert *cert)
{
	char na[32];

	if (c->json) {
		json_t *doc = cert_json(cert);
		json_object_set_new(doc, "file", json_string(file));
		json_object_set_new(doc, "verified", json_true());
		return out_print_doc(c, doc);
	}
	if (!c->quiet) {
		time_string(cert->not_after, na, sizeof(na));
		printf("%s: OK ('%s' in %s, serial %s, %s, until %s)\n", file, cert->name, cert->env,
			cert->serial, capstan_status_name(cert->status), na);
	}
	return EXIT_OK;
}

static json_t *audit_report_json(const capstan_audit_report *r)
{
	json_t *doc = json_object();

	json_object_set_new(doc, "intact", json_true());
	json_object_set_new(doc, "rows", json_integer(r->rows));
	json_object_set_new(doc, "seal_checked", json_boolean(r->seal_checked));
	json_object_set_new(doc, "anchors", json_integer((json_int_t)r->anchors));
	return doc;
}

int out_audit_verified(cli *c, const capstan_audit_report *r, const char *anchor_file)
{
	if (c->json)
		return out_print_doc(c, audit_report_json(r));
	if (c->quiet)
		return EXIT_OK;
	printf("audit log intact: %lld rows", (long long)r->rows);
	if (anchor_file)
		printf(", extending all %zu anchors in %s", r->anchors, anchor_file);
	/* Said every time: without the seal, a cut at the end goes unseen. */
	printf(r->seal_checked ? "; its end matches its seal\n" :
		"; its end's seal was not checked (it needs the passphrase)\n");
	return EXIT_OK;
}

int out_audit_anchor(cli *c, const capstan_audit_report *r, const char *line)
{
	if (c->json) {
		json_t *doc = audit_report_json(r);
		json_object_set_new(doc, "anchor", json_string(line));
		return out_print_doc(c, doc);
	}
	if (!c->quiet)
		printf("%s\n", line);
	return EXIT_OK;
}

int out_audit_resealed(cli *c)
{
	if (c->json) {
		json_t *doc = json_object();
		json_object_set_new(doc, "resealed", json_true());
		return out_print_doc(c, doc);
	}
	if (!c->quiet)
		printf("resealed the audit log at its end (a reseal row records what the seal named before)\n");
	return EXIT_OK;
}

int out_passphrase_changed(cli *c, const char *home)
{
	if (c->json) {
		json_t *doc = json_object();
		json_object_set_new(doc, "home", json_string(home));
		json_object_set_new(doc, "passphrase_changed", json_true());
		return out_print_doc(c, doc);
	}
	if (!c->quiet)
		printf("changed the passphrase of the inventory in %s\n", home);
	return EXIT_OK;
}

struct out_check {
	cli *c;
	json_t *problems;
};

out_check *out_check_begin(cli *c)
{
	out_check *o = calloc(1, sizeof(*o));

	if (o && !(o->problems = json_array())) {
		free(o);
		return NULL;
	}
	if (o)
		o->c = c;
	return o;
}

int out_check_problem(const capstan_check_problem *problem, void *payload)
{
	out_check *o = payload;
	json_t *item;

	if (!o->c->json) {
		fprintf(stderr, "capstan: check: %s: %s\n", problem->area, problem->message);
		return 0;
	}
	item = json_object();
	json_object_set_new(item, "area", json_string(problem->area));
	json_object_set_new(item, "message", json_string(problem->message));
	return json_array_append_new(o->problems, item) == 0 ? 0 : CAPSTAN_ERROR;
}

int out_check_end(out_check *o, const capstan_check_summary *sum)
{
	cli *c = o->c;
	int rc = !sum ? cli_fail(c) : sum->problems ? EXIT_FAILED : EXIT_OK;

	if (sum && c->json) {
		json_t *doc = json_object();
		json_object_set_new(doc, "home", json_string(capstan_home_path(c->ctx)));
		json_object_set_new(doc, "ok", json_boolean(sum->problems == 0));
		json_object_set(doc, "problems", o->problems);
		json_object_set_new(doc, "certificates", json_integer((json_int_t)sum->certs));
		json_object_set_new(doc, "chains_verified", json_integer((json_int_t)sum->verified));
		json_object_set_new(doc, "keys_opened", json_integer((json_int_t)sum->keys_opened));
		json_object_set_new(doc, "audit_rows", json_integer(sum->audit_rows));
		if (out_print_doc(c, doc) != EXIT_OK)
			rc = EXIT_FAILED;
	} else if (sum && !c->quiet) {
		printf("%s: %s: %zu certificates (%zu live chains verified, %zu keys opened), %lld audit rows\n",
			capstan_home_path(c->ctx), sum->problems ? "PROBLEMS FOUND" : "OK", sum->certs,
			sum->verified, sum->keys_opened, (long long)sum->audit_rows);
	}
	json_decref(o->problems);
	free(o);
	return rc;
}

struct out_due {
	cli *c;
	json_t *renewed;
	json_t *failed;
};

out_due *out_due_begin(cli *c)
{
	out_due *d = calloc(1, sizeof(*d));

	if (d) {
		d->c = c;
		d->renewed = json_array();
		d->failed = json_array();
	}
	return d;
}

/* A dry run's line: what would be renewed. */
static int out_due_planned(out_due *d, const capstan_due_result *r)
{
	char na[32];

	time_string(r->old->not_after, na, sizeof(na));
	if (d->c->json) {
		json_t *o = json_object();
		json_object_set_new(o, "env", json_string(r->old->env));
		json_object_set_new(o, "name", json_string(r->old->name));
		json_object_set_new(o, "serial", json_string(r->old->serial));
		json_object_set_new(o, "not_after", json_time(r->old->not_after));
		json_array_append_new(d->renewed, o);
	} else if (!d->c->quiet) {
		printf("would renew %s/%s: %s, until %s\n", r->old->env, r->old->name, r->old->serial, na);
	}
	return 0;
}

int out_due_item(out_due *d, const capstan_due_result *r)
{
	const capstan_cert *old = r->old;
	char na[32];

	if (r->planned)
		return out_due_planned(d, r);
	if (d->c->json) {
		json_t *o = json_object();
		json_object_set_new(o, "env", json_string(old->env));
		json_object_set_new(o, "name", json_string(old->name));
		json_object_set_new(o, r->renewed ? "old_serial" : "serial", json_string(old->serial));
		if (r->renewed) {
			json_object_set_new(o, "serial", json_string(r->renewed->serial));
			json_object_set_new(o, "not_after", json_time(r->renewed->not_after));
			json_array_append_new(d->renewed, o);
		} else {
			json_object_set_new(o, "problem", json_string(r->problem));
			json_array_append_new(d->failed, o);
		}
	}
	if (!r->renewed) {
		/* Failures are errors: they are said even with -q or --json. */
		fprintf(stderr, "capstan: %s\n", r->problem);
	} else if (!d->c->json && !d->c->quiet) {
		time_string(r->renewed->not_after, na, sizeof(na));
		printf("renewed %s/%s: %s -> %s, until %s\n", old->env, old->name, old->serial,
			r->renewed->serial, na);
	}
	return 0;
}

/* An old root about to leave the trust bundle: said by renew --due in the last
 * 30 days, so the admin knows which clients must have the new root by then. */
void out_root_leaving(cli *c, const capstan_leaving_root *r)
{
	char when[32];

	if (c->quiet || c->json || r->leaves_trust_at - time(NULL) > 30 * CAPSTAN_DAY_SECONDS)
		return;
	time_string(r->leaves_trust_at, when, sizeof(when));
	printf("note: the old root %s of %s (serial %s) leaves the trust bundle at %s, when the last certificate"
		" under it expires: every client must trust the new root by then\n", r->root->name, r->root->env,
		r->root->serial, when);
}

int out_due_end(out_due *d)
{
	int rc = EXIT_OK;

	if (d->c->json) {
		json_t *doc = json_object();
		json_object_set(doc, "renewed", d->renewed);
		json_object_set(doc, "failed", d->failed);
		rc = out_print_doc(d->c, doc);
	}
	json_decref(d->renewed);
	json_decref(d->failed);
	free(d);
	return rc;
}

struct out_apply {
	cli *c;
	int dry_run;
	json_t *steps;
};

out_apply *out_apply_begin(cli *c, int dry_run)
{
	out_apply *o = calloc(1, sizeof(*o));

	if (o) {
		o->c = c;
		o->dry_run = dry_run;
		o->steps = json_array();
	}
	return o;
}

int out_apply_step(out_apply *o, const capstan_apply_step *s)
{
	/* By capstan_step_kind. */
	static const char *const done[] = { "created", "issued", "reissued", "recorded", "failed", "revoked", "left",
		"recorded" };
	static const char *const planned[] = { "would create", "would issue", "would reissue", "would record",
		"failed", "would revoke", "left", "would record" };
	static const char *const kinds[] = { "create-env", "issue", "reissue", "record-service", "failed", "prune",
		"left", "record-policy" };

	if (s->kind == CAPSTAN_STEP_FAILED) {
		/* Each failure as it comes, like issue --batch; apply's count follows. */
		fprintf(stderr, "capstan: %s\n", s->reason);
		return 0;
	}
	if (o->c->json) {
		json_t *j = json_object();
		json_object_set_new(j, "action", json_string(kinds[s->kind]));
		json_object_set_new(j, "env", json_string(s->env));
		json_object_set_new(j, "name", json_str_or_null(s->name));
		json_object_set_new(j, "reason", json_str_or_null(s->reason));
		json_object_set_new(j, "serial", json_str_or_null(s->serial));
		json_array_append_new(o->steps, j);
	} else if (!o->c->quiet) {
		const char *verb = (o->dry_run ? planned : done)[s->kind];
		if (s->kind == CAPSTAN_STEP_CREATE_ENV)
			printf("%c environment %s: %s\n", o->dry_run ? '?' : '+', s->env, verb);
		else if (s->kind == CAPSTAN_STEP_RECORD_SERVICE)
			printf("%c service %s/%s: %s\n", o->dry_run ? '?' : '+', s->env, s->name, verb);
		else if (s->kind == CAPSTAN_STEP_RECORD_POLICY)
			printf("%c policy %s%s%s: %s (%s)\n", o->dry_run ? '?' : '+', s->env, s->name ? "/" : "",
				s->name ? s->name : "", verb, s->reason);
		else
			printf("%c %s/%s: %s (%s%s)%s%s\n", o->dry_run ? '?' : s->kind == CAPSTAN_STEP_REISSUE ? '~' :
				s->kind == CAPSTAN_STEP_PRUNE ? '-' : s->kind == CAPSTAN_STEP_LEFT ? '!' : '+',
				s->env, s->name, verb, s->reason, s->kind == CAPSTAN_STEP_LEFT ? "; apply --prune revokes it" : "",
				s->serial ? " " : "", s->serial ? s->serial : "");
	}
	return 0;
}

int out_apply_end(out_apply *o, size_t changes, const char *config)
{
	int rc = EXIT_OK;

	if (!config) {
		/* apply failed: the error was said; no summary */
	} else if (o->c->json) {
		json_t *doc = json_object();
		json_object_set_new(doc, "config", json_string(config));
		json_object_set_new(doc, "dry_run", json_boolean(o->dry_run));
		json_object_set_new(doc, "changes", json_integer((json_int_t)changes));
		json_object_set(doc, "steps", o->steps);
		rc = out_print_doc(o->c, doc);
	} else if (!o->c->quiet && changes == 0) {
		printf("nothing to change: the inventory matches %s\n", config);
	} else if (!o->c->quiet && o->dry_run) {
		printf("%zu change%s planned; nothing was changed (--dry-run)\n", changes, changes == 1 ? "" : "s");
	}
	json_decref(o->steps);
	free(o);
	return rc;
}

int out_bundle(cli *c, const char *env, const char *service, const char *where, size_t files)
{
	if (c->json) {
		json_t *doc = json_object();
		json_object_set_new(doc, "env", json_string(env));
		json_object_set_new(doc, "service", json_string(service));
		json_object_set_new(doc, "path", json_string(where));
		json_object_set_new(doc, "files", json_integer((json_int_t)files));
		return out_print_doc(c, doc);
	}
	if (!c->quiet && strcmp(where, "-") != 0)
		printf("wrote the %s bundle of %s (%zu files) to %s\n", service, env, files, where);
	return EXIT_OK;
}

int out_identity_renewed(cli *c, const char *cert_file, const char *serial, int64_t not_after)
{
	char na[32];

	capstan_format_time((time_t)not_after, na, sizeof(na));
	if (c->json) {
		json_t *doc = json_object();
		json_object_set_new(doc, "path", json_string(cert_file));
		json_object_set_new(doc, "serial", json_string(serial));
		json_object_set_new(doc, "not_after", json_string(na));
		return out_print_doc(c, doc);
	}
	if (!c->quiet)
		printf("renewed %s (serial %s, valid until %s)\n", cert_file, serial, na);
	return EXIT_OK;
}

static size_t batch_items;

void out_batch_begin(cli *c)
{
	batch_items = 0;
	if (c->json)
		fputs("[", stdout);
}

int out_batch_item(cli *c, const capstan_cert *cert, size_t line)
{
	if (c->json) {
		json_t *o = json_object();
		int rc;
		json_object_set_new(o, "line", json_integer((json_int_t)line));
		json_object_set_new(o, "env", json_string(cert->env));
		json_object_set_new(o, "name", json_string(cert->name));
		json_object_set_new(o, "serial", json_string(cert->serial));
		json_object_set_new(o, "not_after", json_time(cert->not_after));
		fputs(batch_items++ ? ",\n  " : "\n  ", stdout);
		rc = json_dumpf(o, stdout, JSON_COMPACT | JSON_PRESERVE_ORDER);
		json_decref(o);
		return rc < 0 ? cli_error(c, "cannot write JSON") : EXIT_OK;
	}
	if (!c->quiet)
		printf("%s %s/%s\n", cert->serial, cert->env, cert->name);
	return EXIT_OK;
}

void out_batch_end(cli *c, size_t count)
{
	(void)count;
	if (c->json)
		fputs(batch_items ? "\n]\n" : "]\n", stdout);
	fflush(stdout);
}
