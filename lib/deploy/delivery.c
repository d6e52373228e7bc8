/* A service's delivery settings: to and from the text the inventory keeps. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/base.h"
#include "delivery.h"

static int line(capstan_ctx *ctx, capstan_buf *out, const char *a, const char *b, const char *c, const char *d)
{
	char *s = capstan_aprintf("%s\t%s%s%s%s%s\n", a, b, c ? "\t" : "", c ? c : "", d ? "\t" : "", d ? d : "");
	int rc = s ? capstan_buf_append(ctx, out, s, strlen(s)) : capstan_error_oom(ctx);

	free(s);
	return rc;
}

static int perms(capstan_ctx *ctx, capstan_buf *out, const char *role, const char *perm, char **prefixes, size_t n)
{
	int rc = 0;

	for (size_t i = 0; rc == 0 && i < n; i++)
		rc = line(ctx, out, "perm", role, perm, prefixes[i]);
	return rc;
}

int capstan_delivery_encode(capstan_ctx *ctx, const capstan_config_service *s, capstan_buf *out)
{
	int rc = 0;

	if (s->owner)
		rc = line(ctx, out, "owner", s->owner, NULL, NULL);
	if (rc == 0 && s->group)
		rc = line(ctx, out, "group", s->group, NULL, NULL);
	for (size_t i = 0; rc == 0 && i < s->host_count; i++) {
		capstan_strlist names = { s->hosts[i].certs, s->hosts[i].cert_count, 0 };
		char *joined = capstan_strlist_join(&names, " ");
		rc = joined ? line(ctx, out, "host", s->hosts[i].name, joined, NULL) : capstan_error_oom(ctx);
		free(joined);
	}
	for (size_t i = 0; rc == 0 && i < s->etcd_role_count; i++) {
		const capstan_config_etcd_role *r = &s->etcd_roles[i];
		if ((rc = line(ctx, out, "role", r->name, NULL, NULL)) == 0 &&
		    (rc = perms(ctx, out, r->name, "read", r->read, r->read_count)) == 0 &&
		    (rc = perms(ctx, out, r->name, "write", r->write, r->write_count)) == 0)
			rc = perms(ctx, out, r->name, "readwrite", r->readwrite, r->readwrite_count);
	}
	for (size_t i = 0; rc == 0 && i < s->etcd_user_count; i++)
		for (size_t j = 0; rc == 0 && j < s->etcd_users[i].role_count; j++)
			rc = line(ctx, out, "user", s->etcd_users[i].name, s->etcd_users[i].roles[j], NULL);
	/* Service certificates whose role is an etcd role: their CN is the user. */
	for (size_t i = 0; rc == 0 && i < s->cert_count; i++)
		for (size_t j = 0; rc == 0 && s->certs[i].role && j < s->etcd_role_count; j++)
			if (strcmp(s->certs[i].role, s->etcd_roles[j].name) == 0)
				rc = line(ctx, out, "user", s->certs[i].cn, s->certs[i].role, NULL);
	return rc;
}

/* One decoded line into d. */
static int take(capstan_delivery *d, char *kind, char *a, char *b)
{
	int rc = 0;

	if (strcmp(kind, "owner") == 0)
		rc = (d->owner = strdup(a)) ? 0 : -1;
	else if (strcmp(kind, "group") == 0)
		rc = (d->group = strdup(a)) ? 0 : -1;
	else if (strcmp(kind, "host") == 0 && b)
		rc = capstan_strlist_push(&d->hosts, a) < 0 || capstan_strlist_push(&d->host_certs, b) < 0 ? -1 : 0;
	else if (strcmp(kind, "role") == 0)
		rc = capstan_strlist_push(&d->roles, a);
	else if (strcmp(kind, "perm") == 0 && b)
		rc = capstan_strlist_push(&d->perms, a);
	else if (strcmp(kind, "user") == 0 && b)
		rc = capstan_strlist_push(&d->users, a);
	return rc;
}

int capstan_delivery_decode(capstan_ctx *ctx, const char *text, capstan_delivery *d)
{
	capstan_strlist lines = { 0 };
	int rc = 0;

	memset(d, 0, sizeof(*d));
	if (capstan_strlist_split(&lines, text, '\n') < 0)
		return capstan_error_oom(ctx);
	for (size_t i = 0; rc == 0 && i < lines.count; i++) {
		char *kind = lines.items[i], *a = strchr(kind, '\t'), *b;
		if (!a)
			continue;
		*a++ = '\0';
		/* perm and user keep their tabs: "ROLE\tPERM\tPREFIX", "USER\tROLE". */
		b = strchr(a, '\t');
		if (b && strcmp(kind, "perm") != 0 && strcmp(kind, "user") != 0)
			*b++ = '\0';
		else if (b)
			b = b + 1;
		rc = take(d, kind, a, b);
	}
	capstan_strlist_free(&lines);
	if (rc < 0) {
		capstan_delivery_clear(d);
		return capstan_error_oom(ctx);
	}
	return 0;
}

void capstan_delivery_clear(capstan_delivery *d)
{
	free(d->owner);
	free(d->group);
	capstan_strlist_free(&d->hosts);
	capstan_strlist_free(&d->host_certs);
	capstan_strlist_free(&d->roles);
	capstan_strlist_free(&d->perms);
	capstan_strlist_free(&d->users);
	memset(d, 0, sizeof(*d));
}

const char *capstan_delivery_host_certs(const capstan_delivery *d, const char *host)
{
	for (size_t i = 0; i < d->hosts.count; i++)
		if (strcmp(d->hosts.items[i], host) == 0)
			return d->host_certs.items[i];
	return NULL;
}

int capstan_delivery_lines(capstan_ctx *ctx, const char *certs, const capstan_delivery *d, const char *host,
	capstan_strlist *out)
{
	capstan_strlist all = { 0 }, mine = { 0 };
	const char *names = host ? capstan_delivery_host_certs(d, host) : NULL;
	int rc = 0;

	if (host && !names)
		return CAPSTAN_ENOTFOUND;
	if (capstan_strlist_split(&all, certs, '\n') < 0 || (names && capstan_strlist_split(&mine, names, ' ') < 0))
		rc = capstan_error_oom(ctx);
	for (size_t i = 0; rc == 0 && i < all.count; i++) {
		char name[128];
		snprintf(name, sizeof(name), "%.*s", (int)strcspn(all.items[i], "\t"), all.items[i]);
		if ((!names || capstan_strlist_contains(&mine, name)) && capstan_strlist_push(out, all.items[i]) < 0)
			rc = capstan_error_oom(ctx);
	}
	capstan_strlist_free(&all);
	capstan_strlist_free(&mine);
	return rc;
}
