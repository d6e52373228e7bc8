/* Template sets: a bundle target's files (built in, or from --templates DIR). */
#ifndef CAPSTAN_LIB_TEMPLATES_H
#define CAPSTAN_LIB_TEMPLATES_H

#include <stddef.h>

#include "base/base.h"

/* Built-in templates, generated from templates/ at build time. */
typedef struct {
	const char *path;   /* "etcd/{{name}}.env.tmpl" */
	const char *text;
	size_t len;
} capstan_builtin_template;

extern const capstan_builtin_template capstan_builtin_templates[];
extern const size_t capstan_builtin_template_count;

typedef enum { KEYSTORES_NO = 0, KEYSTORES_YES, KEYSTORES_ASKED } capstan_keystores;

typedef struct {
	char *name;         /* the output file name, itself a template; ".tmpl" removed */
	char *text;
	size_t len;
} capstan_template_file;

/* A target: its templates and what target.conf asks the bundle to carry. */
typedef struct {
	char *target;
	capstan_keystores keystores;    /* NAME.p12, truststore.p12, passwords */
	int pkcs8;                      /* NAME-key.pk8 beside NAME-key.pem */
	capstan_strlist roles;          /* roles the templates use: each is {{#role_NAME}} */
	capstan_template_file *files;
	size_t count;
} capstan_template_set;

/* Loads TARGET from DIR (NULL: the built-in ones). CAPSTAN_ENOTFOUND, naming
 * the targets there are, when there is no such target. */
int capstan_template_set_load(capstan_template_set **out, capstan_ctx *ctx, const char *dir, const char *target);
void capstan_template_set_free(capstan_template_set *set);

#endif
