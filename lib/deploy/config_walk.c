/* The configuration walker's primitives (config_walk.h): values, mappings
 * (unknown and duplicate keys refused, each named with its file, line and
 * path), lists, durations and names, each visit counted against the budget
 * capstan_config_parse set. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <capstan/parse.h>

#include "base/base.h"
#include "config_model.h"
#include "config_walk.h"

/* Up to this many keys, a mapping's duplicates are found pairwise; above, by sorting. */
#define SMALL_MAPPING 16

typedef struct {
	const yaml_node_t *key;
	size_t order;
} key_entry;

int walk_fail(walker *w, const yaml_node_t *node, const char *path, const char *fmt, ...)
{
	char what[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	return capstan_error(w->ctx, CAPSTAN_EINVALID, "%s:%zu:%zu: %s%s%s", w->file,
		node ? node->start_mark.line + 1 : 0, node ? node->start_mark.column + 1 : 0,
		path ? path : "", path ? ": " : "", what);
}

yaml_node_t *walk_node(walker *w, int index)
{
	w->visits++;
	return yaml_document_get_node(w->doc, index);
}

static const char *type_name(const yaml_node_t *n)
{
	return n->type == YAML_MAPPING_NODE ? "a mapping" : n->type == YAML_SEQUENCE_NODE ? "a list" : "a value";
}

int walk_scalar(walker *w, yaml_node_t *n, const char *path, const char **out)
{
	if (n->type != YAML_SCALAR_NODE)
		return walk_fail(w, n, path, "expected a value, found %s", type_name(n));
	if (memchr(n->data.scalar.value, '\0', n->data.scalar.length))
		return walk_fail(w, n, path, "NUL byte in a value");
	*out = (const char *)n->data.scalar.value;
	return 0;
}

int walk_scalar_dup(walker *w, yaml_node_t *n, const char *path, char **out)
{
	const char *s = NULL;
	int rc = walk_scalar(w, n, path, &s);

	if (rc == 0 && !(*out = strdup(s)))
		rc = capstan_error_oom(w->ctx);
	return rc;
}

static int key_cmp(const void *a, const void *b)
{
	const key_entry *x = a, *y = b;
	int c = strcmp((const char *)x->key->data.scalar.value, (const char *)y->key->data.scalar.value);

	return c ? c : (x->order > y->order) - (x->order < y->order);
}

/* A big mapping's keys (services: thousands) sorted, not compared pairwise;
 * the same answer: the first key, in the file's order, given before. */
static int duplicate_keys(walker *w, yaml_node_t *n, const char *path)
{
	size_t count = (size_t)(n->data.mapping.pairs.top - n->data.mapping.pairs.start);
	key_entry *keys = malloc(count * sizeof(*keys)), *dup = NULL, *first = NULL;
	int rc = 0;

	if (!keys)
		return capstan_error_oom(w->ctx);
	/* walk_mapping() has checked that every key is a scalar. */
	for (size_t i = 0; i < count; i++)
		keys[i] = (key_entry){ yaml_document_get_node(w->doc, n->data.mapping.pairs.start[i].key), i };
	qsort(keys, count, sizeof(*keys), key_cmp);
	for (size_t i = 1; i < count; i++)
		if (strcmp((const char *)keys[i].key->data.scalar.value, (const char *)keys[i - 1].key->data.scalar.value) == 0 &&
		    (i < 2 || strcmp((const char *)keys[i].key->data.scalar.value,
				      (const char *)keys[i - 2].key->data.scalar.value) != 0) &&
		    (!dup || keys[i].order < dup->order))
			dup = &keys[i], first = &keys[i - 1];
	if (dup)
		rc = walk_fail(w, (yaml_node_t *)dup->key, path, "key '%s' given twice (also at line %zu)",
			(const char *)dup->key->data.scalar.value, first->key->start_mark.line + 1);
	free(keys);
	return rc;
}

/* A mapping whose keys are all in `allowed` (NULL: any key) and none twice. */
int walk_mapping(walker *w, yaml_node_t *n, const char *path, const char *const *allowed)
{
	if (n->type == YAML_SCALAR_NODE && n->data.scalar.length == 0)
		return 1; /* "dev:" with nothing: an empty mapping */
	if (n->type != YAML_MAPPING_NODE)
		return walk_fail(w, n, path, "expected a mapping, found %s", type_name(n));
	for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
		yaml_node_t *k = walk_node(w, p->key);
		const char *key;
		int known = !allowed, rc;
		if (!k || (rc = walk_scalar(w, k, path, &key)) < 0)
			return k ? rc : walk_fail(w, n, path, "broken mapping");
		for (const char *const *a = allowed; a && *a; a++)
			known |= strcmp(*a, key) == 0;
		if (!known) {
			char list[256] = "";
			for (const char *const *a = allowed; *a; a++)
				snprintf(list + strlen(list), sizeof(list) - strlen(list), "%s%s", a == allowed ? "" : ", ", *a);
			return walk_fail(w, k, path, "unknown key '%s' (expected %s)", key, list);
		}
		if (n->data.mapping.pairs.top - n->data.mapping.pairs.start > SMALL_MAPPING)
			continue;
		/* Not node_at: looking back is bookkeeping, not a visit of the document. */
		for (yaml_node_pair_t *q = n->data.mapping.pairs.start; q < p; q++) {
			yaml_node_t *other = yaml_document_get_node(w->doc, q->key);
			if (other && other->type == YAML_SCALAR_NODE && strcmp((char *)other->data.scalar.value, key) == 0)
				return walk_fail(w, k, path, "key '%s' given twice (also at line %zu)", key, other->start_mark.line + 1);
		}
	}
	return n->data.mapping.pairs.top - n->data.mapping.pairs.start > SMALL_MAPPING ? duplicate_keys(w, n, path) : 0;
}

int walk_each_pair(walker *w, yaml_node_t *n, const char *path, walk_pair_fn fn, void *payload)
{
	char sub[256];

	if (n->type != YAML_MAPPING_NODE)
		return 0;
	for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
		yaml_node_t *k = walk_node(w, p->key), *v = walk_node(w, p->value);
		int rc;
		if (w->visits > w->max_visits)
			return walk_fail(w, n, path, "the document is too large (aliases expand past %ld nodes)", w->max_visits);
		if (!k || !v)
			return walk_fail(w, n, path, "broken mapping");
		snprintf(sub, sizeof(sub), "%s%s%s", path ? path : "", path ? "." : "", (char *)k->data.scalar.value);
		if ((rc = fn(w, (char *)k->data.scalar.value, v, sub, payload)) < 0)
			return rc;
	}
	return 0;
}

int walk_duration(walker *w, yaml_node_t *n, const char *path, int64_t *out)
{
	const char *s = NULL, *why = NULL;
	int rc;

	if ((rc = walk_scalar(w, n, path, &s)) < 0)
		return rc;
	if (capstan_parse_duration(s, out, &why) < 0)
		return walk_fail(w, n, path, "bad duration '%s': %s", s, why);
	return 0;
}

/* A list of values (a single value counts as a list of one), each checked:
 * by check, or (check NULL) as a SAN of type san. */
int walk_list(walker *w, yaml_node_t *n, const char *path, walk_check_fn check, capstan_san_type san,
	const char *what, char ***items, size_t *count)
{
	yaml_node_item_t *start = NULL, *top = NULL;
	size_t n_items;

	if (n->type == YAML_SEQUENCE_NODE) {
		start = n->data.sequence.items.start;
		top = n->data.sequence.items.top;
	} else if (n->type != YAML_SCALAR_NODE) {
		return walk_fail(w, n, path, "expected a list of values, found %s", type_name(n));
	}
	n_items = start ? (size_t)(top - start) : 1;
	if (!(*items = calloc(n_items ? n_items : 1, sizeof(**items))))
		return capstan_error_oom(w->ctx);
	for (size_t i = 0; i < n_items; i++) {
		yaml_node_t *item = start ? walk_node(w, start[i]) : n;
		const char *s = NULL, *why = NULL;
		int rc;
		if (!item || (rc = walk_scalar(w, item, path, &s)) < 0)
			return item ? rc : walk_fail(w, n, path, "broken list");
		if ((check ? check(s, &why) : capstan_check_san(san, s, &why)) < 0)
			return walk_fail(w, item, path, "bad %s '%s': %s", what, s, why);
		if (!((*items)[i] = strdup(s)))
			return capstan_error_oom(w->ctx);
		(*count)++;
	}
	return 0;
}

int walk_identifier(walker *w, yaml_node_t *n, const char *path, const char *what, char **out, size_t max)
{
	const char *why = NULL;
	int rc;

	if ((rc = walk_scalar_dup(w, n, path, out)) < 0)
		return rc;
	if (capstan_check_identifier(*out, &why) < 0 || strlen(*out) > max)
		return walk_fail(w, n, path, "bad %s '%s': %s", what, *out, why ? why : "too long");
	return 0;
}

int walk_check_name(const char *s, const char **why)
{
	return capstan_check_identifier(s, why);
}
