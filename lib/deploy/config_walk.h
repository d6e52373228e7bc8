/* Walking the loaded YAML document against the configuration's schema: the
 * primitives config.c defines and the section parsers share (config_api.c).
 * With yaml.h: included by the configuration loader's files only. */
#ifndef CAPSTAN_LIB_DEPLOY_CONFIG_WALK_H
#define CAPSTAN_LIB_DEPLOY_CONFIG_WALK_H

#include <stddef.h>
#include <stdint.h>

#include <yaml.h>

#include <capstan/config.h>

typedef struct {
	capstan_ctx *ctx;
	const char *file;
	yaml_document_t *doc;
	long visits;
	long max_visits;
} walker;

/* "FILE:LINE:COLUMN: PATH: what" and CAPSTAN_EINVALID. */
int walk_fail(walker *w, const yaml_node_t *node, const char *path, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
/* The node at index, counted against the visit budget. */
yaml_node_t *walk_node(walker *w, int index);
int walk_scalar(walker *w, yaml_node_t *n, const char *path, const char **out);
int walk_scalar_dup(walker *w, yaml_node_t *n, const char *path, char **out);
/* A mapping whose keys are all in allowed (NULL-terminated) and unique; 1
 * when it is empty (or null), 0 otherwise. */
int walk_mapping(walker *w, yaml_node_t *n, const char *path, const char *const *allowed);
typedef int (*walk_pair_fn)(walker *w, const char *key, yaml_node_t *value, const char *path, void *payload);
/* fn for each key and value of the mapping, path extended by the key. */
int walk_each_pair(walker *w, yaml_node_t *n, const char *path, walk_pair_fn fn, void *payload);
int walk_duration(walker *w, yaml_node_t *n, const char *path, int64_t *out);
typedef int (*walk_check_fn)(const char *, const char **);
/* A list of values (a single value counts as a list of one), each checked:
 * by check, or (check NULL) as a SAN of type san. */
int walk_list(walker *w, yaml_node_t *n, const char *path, walk_check_fn check, capstan_san_type san,
	const char *what, char ***items, size_t *count);
/* A name (of an environment, certificate...) of at most max bytes. */
int walk_identifier(walker *w, yaml_node_t *n, const char *path, const char *what, char **out, size_t max);
int walk_check_name(const char *s, const char **why);

/* The api: section (config_api.c). */
int capstan_config_api_section(walker *w, yaml_node_t *v, const char *path, capstan_config *c);

/* A policy: block (config_policy.c), into *p. */
int capstan_config_policy_section(walker *w, yaml_node_t *v, const char *path, capstan_config_policy *p);

#endif
