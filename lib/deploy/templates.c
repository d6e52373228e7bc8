/* Template sets, built in or read from a directory of the same layout:
 * DIR/TARGET/target.conf and DIR/TARGET/FILE.tmpl. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <capstan/file.h>
#include <capstan/parse.h>

#include "templates.h"

#define MAX_TEMPLATE_FILE (1024 * 1024)
#define MAX_FILES 64

void capstan_template_set_free(capstan_template_set *set)
{
	if (!set)
		return;
	for (size_t i = 0; i < set->count; i++) {
		free(set->files[i].name);
		free(set->files[i].text);
	}
	free(set->files);
	capstan_strlist_free(&set->roles);
	free(set->target);
	free(set);
}

/* target.conf: "keystores = yes|no|asked", "pkcs8 = yes|no", "roles = a b",
 * # comments. */
static int parse_target_conf(capstan_ctx *ctx, capstan_template_set *set, const char *text, size_t len,
	const char *where)
{
	capstan_strlist lines = { 0 };
	char *copy = strndup(text, len);
	int rc = 0;

	if (!copy || capstan_strlist_split(&lines, copy, '\n') < 0) {
		free(copy);
		return capstan_error_oom(ctx);
	}
	for (size_t i = 0; rc == 0 && i < lines.count; i++) {
		char key[CAPSTAN_KEK_LEN], value[256];
		const char *line = lines.items[i];
		while (*line == ' ' || *line == '\t')
			line++;
		if (*line == '#' || *line == '\0')
			continue;
		if (sscanf(line, "%31[a-z0-9_] = %255[a-z0-9 ._-]", key, value) != 2)
			rc = capstan_error(ctx, CAPSTAN_EINVALID, "%s: cannot read '%s' (expected key = value)", where, line);
		else if (strcmp(key, "keystores") == 0 && (strcmp(value, "yes") == 0 || strcmp(value, "no") == 0 ||
							      strcmp(value, "asked") == 0))
			set->keystores = value[0] == 'y' ? KEYSTORES_YES : value[0] == 'n' ? KEYSTORES_NO : KEYSTORES_ASKED;
		else if (strcmp(key, "pkcs8") == 0 && (strcmp(value, "yes") == 0 || strcmp(value, "no") == 0))
			set->pkcs8 = value[0] == 'y';
		else if (strcmp(key, "roles") == 0)
			rc = capstan_strlist_split(&set->roles, value, ' ') < 0 ? capstan_error_oom(ctx) : 0;
		else
			rc = capstan_error(ctx, CAPSTAN_EINVALID, "%s: unknown setting '%s = %s'", where, key, value);
	}
	capstan_strlist_free(&lines);
	free(copy);
	return rc;
}

/* Adds one file of the target: target.conf is read, *.tmpl become templates. */
static int add_file(capstan_ctx *ctx, capstan_template_set *set, const char *file, const char *text, size_t len,
	const char *where)
{
	size_t n = strlen(file);
	capstan_template_file *f;

	if (strcmp(file, "target.conf") == 0)
		return parse_target_conf(ctx, set, text, len, where);
	if (n <= 5 || strcmp(file + n - 5, ".tmpl") != 0)
		return 0; /* READMEs and the like travel along unrendered: not part of bundles */
	if (set->count == MAX_FILES)
		return capstan_error(ctx, CAPSTAN_EINVALID, "%s: more than %d templates", where, MAX_FILES);
	f = &set->files[set->count];
	if (!(f->name = strndup(file, n - 5)) || !(f->text = malloc(len + 1))) {
		free(f->name);
		return capstan_error_oom(ctx);
	}
	memcpy(f->text, text, len);
	f->text[len] = '\0';
	f->len = len;
	set->count++;
	return 0;
}

static int load_builtin(capstan_ctx *ctx, capstan_template_set *set, const char *target)
{
	size_t tlen = strlen(target);
	int found = 0, rc;

	for (size_t i = 0; i < capstan_builtin_template_count; i++) {
		const capstan_builtin_template *t = &capstan_builtin_templates[i];
		if (strncmp(t->path, target, tlen) != 0 || t->path[tlen] != '/' || strchr(t->path + tlen + 1, '/'))
			continue;
		found = 1;
		if ((rc = add_file(ctx, set, t->path + tlen + 1, t->text, t->len, t->path)) < 0)
			return rc;
	}
	return found;
}

static int load_dir(capstan_ctx *ctx, capstan_template_set *set, const char *dir, const char *target)
{
	char *path = capstan_aprintf("%s/%s", dir, target);
	DIR *d = path ? opendir(path) : NULL;
	struct dirent *e;
	int rc = 0;

	if (!path)
		return capstan_error_oom(ctx);
	if (!d) {
		rc = errno == ENOENT ? 0 : capstan_error(ctx, CAPSTAN_ERROR, "cannot read '%s': %s", path, strerror(errno));
		free(path);
		return rc;
	}
	while (rc == 0 && (e = readdir(d))) {
		char *file;
		capstan_buf text = CAPSTAN_BUF_INIT;
		if (e->d_name[0] == '.')
			continue;
		if (!(file = capstan_aprintf("%s/%s", path, e->d_name))) {
			rc = capstan_error_oom(ctx);
			break;
		}
		if ((rc = capstan_file_read(&text, ctx, file, MAX_TEMPLATE_FILE)) == 0)
			rc = add_file(ctx, set, e->d_name, (const char *)text.data, text.len, file);
		capstan_buf_free(&text);
		free(file);
	}
	closedir(d);
	free(path);
	return rc < 0 ? rc : 1;
}

/* "etcd, alluxio, ...": the built-in targets, for messages. */
static void builtin_names(char *out, size_t size)
{
	out[0] = '\0';
	for (size_t i = 0; i < capstan_builtin_template_count; i++) {
		const char *p = capstan_builtin_templates[i].path, *slash = strchr(p, '/');
		char name[64];
		if (!slash || (size_t)(slash - p) >= sizeof(name))
			continue;
		snprintf(name, sizeof(name), "%.*s", (int)(slash - p), p);
		if (!strstr(out, name))
			snprintf(out + strlen(out), size - strlen(out), "%s%s", out[0] ? ", " : "", name);
	}
}

int capstan_template_set_load(capstan_template_set **out, capstan_ctx *ctx, const char *dir, const char *target)
{
	capstan_template_set *set = calloc(1, sizeof(*set));
	const char *why = NULL;
	char names[256];
	int rc;

	if (capstan_check_identifier(target, &why) < 0) {
		free(set);
		return capstan_error(ctx, CAPSTAN_EINVALID, "bad template name '%s': %s", target, why);
	}
	if (!set || !(set->target = strdup(target)) || !(set->files = calloc(MAX_FILES, sizeof(*set->files)))) {
		capstan_template_set_free(set);
		return capstan_error_oom(ctx);
	}
	rc = dir ? load_dir(ctx, set, dir, target) : load_builtin(ctx, set, target);
	if (rc == 0) {
		builtin_names(names, sizeof(names));
		rc = dir ? capstan_error(ctx, CAPSTAN_ENOTFOUND, "no template '%s' in '%s'", target, dir) :
			capstan_error(ctx, CAPSTAN_ENOTFOUND, "no template '%s' (built in: %s)", target, names);
	}
	if (rc < 0) {
		capstan_template_set_free(set);
		return rc;
	}
	*out = set;
	return 0;
}
