/*
 * A service's delivery settings as the inventory records them: who owns its
 * rendered files, which certificates live on which host, and the etcd roles
 * and users its RBAC script creates. Stored as text lines with the service
 * ("owner\tU", "group\tG", "host\tH\tNAME NAME", "role\tR",
 * "perm\tR\tread|write|readwrite\tPREFIX", "user\tU\tR"), so apply can tell
 * whether anything changed by comparing text.
 */
#ifndef CAPSTAN_LIB_DELIVERY_H
#define CAPSTAN_LIB_DELIVERY_H

#include <capstan/config.h>

#include "base/base.h"

typedef struct {
	char *owner;               /* NULL: none */
	char *group;
	capstan_strlist hosts;     /* host names, in order */
	capstan_strlist host_certs;/* for each host: its certificate names, space-separated */
	capstan_strlist roles;     /* etcd role names */
	capstan_strlist perms;     /* "ROLE\tPERM\tPREFIX" */
	capstan_strlist users;     /* "USER\tROLE" */
} capstan_delivery;

int capstan_delivery_encode(capstan_ctx *ctx, const capstan_config_service *s, capstan_buf *out);
int capstan_delivery_decode(capstan_ctx *ctx, const char *text, capstan_delivery *out);
void capstan_delivery_clear(capstan_delivery *d);

/* The certificate names of HOST, space-separated; NULL when there is no such host. */
const char *capstan_delivery_host_certs(const capstan_delivery *d, const char *host);

/* The service's "NAME\tROLE" lines (its recorded certs text) that HOST holds,
 * in the service's order, so that every reader sees one order; all of them
 * when host is NULL. CAPSTAN_ENOTFOUND (no message) when there is no such host. */
int capstan_delivery_lines(capstan_ctx *ctx, const char *certs, const capstan_delivery *d, const char *host,
	capstan_strlist *out);

#endif
