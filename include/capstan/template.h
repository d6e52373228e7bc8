/*
 * capstan — a small logic-less template engine (a mustache subset) for the
 * configuration files bundles carry: {{name}}, dotted names {{a.b}}, {{.}}
 * for the current item, sections {{#list}}...{{/list}} (lists, booleans,
 * maps), inverted sections {{^x}}...{{/x}}, comments {{! ...}}. No HTML
 * escaping. A tag alone on its line takes its line with it. Strict: an
 * unknown name or an unclosed section is an error naming the template and line.
 */
#ifndef CAPSTAN_TEMPLATE_H
#define CAPSTAN_TEMPLATE_H

#include "common.h"

CAPSTAN_BEGIN_API

/* The data a template sees: strings, booleans, lists and maps. A value made
 * by a constructor below (NULL when out of memory) is the caller's until it
 * is put into a map or list, which then owns it; a root is freed with
 * capstan_tv_free(), which frees what it holds. Strings are copied in. */
typedef struct capstan_tvalue capstan_tvalue;

capstan_tvalue *capstan_tv_map(void);
capstan_tvalue *capstan_tv_list(void);
capstan_tvalue *capstan_tv_string(const char *s);
capstan_tvalue *capstan_tv_bool(int value);
/* Adds child under key (map) or at the end (list), taking ownership of child
 * even on failure. 0, or -1 when out of memory. */
int capstan_tv_put(capstan_tvalue *map, const char *key, capstan_tvalue *child);
int capstan_tv_push(capstan_tvalue *list, capstan_tvalue *child);
/* Shorthand for capstan_tv_put(map, key, capstan_tv_string(value)). */
int capstan_tv_put_string(capstan_tvalue *map, const char *key, const char *value);
/* Readers: the pointers they return are borrowed from the value and live
 * while it does (never free them). The map's value under key, or NULL. */
const capstan_tvalue *capstan_tv_get(const capstan_tvalue *map, const char *key);
/* Lists and maps: the number of items, the i-th item and (maps) its key. */
size_t capstan_tv_count(const capstan_tvalue *value);
const capstan_tvalue *capstan_tv_item(const capstan_tvalue *value, size_t i);
const char *capstan_tv_key(const capstan_tvalue *map, size_t i);
/* A string's text ("" for anything else). */
const char *capstan_tv_text(const capstan_tvalue *value);

/* A deep copy (a map put in two places needs two copies). */
capstan_tvalue *capstan_tv_copy(const capstan_tvalue *value);
void capstan_tv_free(capstan_tvalue *value);

/* Renders TEXT (NAME is for messages) with DATA into *out, the caller's:
 * capstan_buf_free(). */
CAPSTAN_WARN_UNUSED int capstan_template_render(capstan_buf *out, capstan_ctx *ctx, const char *name,
	const char *text, size_t len, const capstan_tvalue *data);
/* The same with INNER's names over DATA's (as if INNER's entries had been put
 * into a copy of DATA), without copying DATA: a bundle renders a template per
 * certificate, and its data holds every certificate. */
CAPSTAN_WARN_UNUSED int capstan_template_render_in(capstan_buf *out, capstan_ctx *ctx, const char *name,
	const char *text, size_t len, const capstan_tvalue *data, const capstan_tvalue *inner);

CAPSTAN_END_API

#endif
