/*
 * capstan — the declarative configuration (YAML): environments and the
 * services whose certificates exist in each. The whole file is validated
 * before anything uses it; an error names the file, line, column and key.
 */
#ifndef CAPSTAN_CONFIG_H
#define CAPSTAN_CONFIG_H

#include "common.h"
#include "policy.h"

CAPSTAN_BEGIN_API

/* A key type and lifetimes; *_set tells which were given. */
typedef struct {
	int key_set;
	capstan_key_type key;
	int64_t lifetime;        /* seconds; 0: not given */
	int64_t renew_before;    /* seconds; 0: not given */
} capstan_config_defaults;

/* policy: what may be issued, under defaults:, an environment or a service;
 * each level narrows the one above. A list with set 0 was not given: it adds
 * no restriction at its level. */
typedef struct {
	int set;                              /* the level has a policy: block */
	int dns_set; char **dns; size_t dns_count; /* patterns: '*' is exactly one leftmost label */
	int ip_set; char **ip; size_t ip_count;    /* CIDRs (an address alone: /32 or /128) */
	int keys_set; char **keys; size_t key_count; /* key type names */
	int64_t max_lifetime;                 /* max_days, in seconds; 0: not given */
	int name_constraints;                 /* the lists go into the intermediate */
	int line;
} capstan_config_policy;

typedef struct {
	char *name;
	char *cn;                /* the name when not given */
	capstan_profile profile;
	char **dns;   size_t dns_count;
	char **ip;    size_t ip_count;
	char **uri;   size_t uri_count;
	char **email; size_t email_count;
	capstan_config_defaults settings; /* key, days, renew_before of this certificate */
	char *role;              /* NULL when none */
	int line;
} capstan_config_cert;

/* hosts: which certificates (and keys) live on a host. */
typedef struct {
	char *name;
	char **certs; size_t cert_count;
	int line;
} capstan_config_host;

/* etcd: { roles: NAME: { read, write, readwrite: [key prefixes] } }. */
typedef struct {
	char *name;
	char **read; size_t read_count;
	char **write; size_t write_count;
	char **readwrite; size_t readwrite_count;
} capstan_config_etcd_role;

/* etcd: { users: CN: [roles] }: users beyond the service's own client certificates. */
typedef struct {
	char *name;
	char **roles; size_t role_count;
} capstan_config_etcd_user;

typedef struct {
	char *name;
	char *template_name;
	int template_line, template_column;
	int line;
	capstan_config_cert *certs;
	size_t cert_count;
	char *owner;             /* user and group of rendered files; NULL: unchanged */
	char *group;
	capstan_config_host *hosts;
	size_t host_count;
	capstan_config_etcd_role *etcd_roles;
	size_t etcd_role_count;
	capstan_config_etcd_user *etcd_users;
	size_t etcd_user_count;
	capstan_config_policy policy;
} capstan_config_service;

typedef struct {
	char *name;
	capstan_config_defaults root;
	capstan_config_defaults intermediate;
	capstan_config_defaults defaults;
	capstan_config_policy policy;
	int line;
} capstan_config_env;

/* api: (capstan serve). An action a client may be allowed, as bits. */
typedef enum {
	CAPSTAN_API_BUNDLE = 1u << 0,
	CAPSTAN_API_SIGN = 1u << 1,
	CAPSTAN_API_REVOKE = 1u << 2,
	CAPSTAN_API_LIST = 1u << 3
} capstan_api_action;

/* api.clients[]: an inventory line (env/name) and what it may do. A filter
 * with a count of 0 was not given: it does not limit. */
typedef struct {
	char *env;
	char *name;
	unsigned allow;                       /* capstan_api_action bits */
	char **environments; size_t environment_count;
	char **services; size_t service_count;
	char **hosts; size_t host_count;
	char **profiles; size_t profile_count;
	char **dns; size_t dns_count;         /* patterns: '*' is exactly one label */
	char **ip; size_t ip_count;           /* CIDRs (an address alone: /32 or /128) */
	int64_t max_lifetime;                 /* max_days, in seconds; 0: not given */
	int line;
} capstan_config_api_client;

typedef struct {
	char *listen;                         /* NULL when not given */
	char *http;
	char *public_url;
	char *server_env, *server_name;       /* NULL when not given */
	capstan_config_api_client *clients;
	size_t client_count;
	int line;
} capstan_config_api;

typedef struct {
	char *path;
	char *organization;      /* NULL when none */
	capstan_config_defaults defaults;
	capstan_config_policy policy;   /* defaults.policy */
	capstan_config_env *envs;
	size_t env_count;
	capstan_config_service *services;
	size_t service_count;
	capstan_config_api *api;  /* the api: section; NULL when none */
	char *inventory;          /* inventory: the inventory's database (capstan_ctx_set_inventory); NULL when none */
} capstan_config;

/* Reads and validates FILE (at most 1 MiB). *out is the caller's:
 * capstan_config_free(), which frees every string and array in it (they are
 * the configuration's: never free them one by one). */
CAPSTAN_WARN_UNUSED int capstan_config_load(capstan_config **out, capstan_ctx *ctx, const char *path);
/* The same from memory; NAME is used in messages. TEXT is only read during
 * the call. */
CAPSTAN_WARN_UNUSED int capstan_config_parse(capstan_config **out, capstan_ctx *ctx, const char *name,
	const char *text, size_t len);
void capstan_config_free(capstan_config *config);
/* The top-level inventory: of FILE (sqlite:PATH or a postgresql:// URL), read
 * without validating the rest of the file; *out NULL when it has none. *out
 * is the caller's (free()). CAPSTAN_EINVALID when FILE is not YAML or the
 * value has no known scheme. */
CAPSTAN_WARN_UNUSED int capstan_config_inventory(char **out, capstan_ctx *ctx, const char *path);

/* The settings that apply to a certificate: its own, else its environment's,
 * else the file's defaults. */
capstan_config_defaults capstan_config_effective(const capstan_config *config, const capstan_config_env *env,
	const capstan_config_cert *cert);

CAPSTAN_END_API

#endif
