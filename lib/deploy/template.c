/* A small, strict mustache subset. Parsed into a tree, then rendered. */
#include <stdlib.h>
#include <string.h>

#include <capstan/template.h>

#include "base/base.h"

#define MAX_TEMPLATE (1024 * 1024)
#define MAX_DEPTH 32
#define MAX_OUTPUT (16 * 1024 * 1024)
/* Nodes visited in one rendering: sections nested over lists multiply, and
 * ones that print nothing would never reach MAX_OUTPUT. A bundle's templates
 * take a few thousand, and some tens per certificate when they go over the
 * certificates: the budget is MAX_STEPS plus STEPS_PER_ITEM for each item of
 * the data's lists, so a service of a hundred thousand certificates renders,
 * and a section nested in itself over them is still refused, after work in
 * proportion to the data. The output is bounded the same way. */
#define MAX_STEPS 1000000
#define STEPS_PER_ITEM 1000
#define OUTPUT_PER_ITEM (64 * 1024)
#define MAX_NAME 128

/* Data. */
typedef enum { TV_STRING, TV_BOOL, TV_LIST, TV_MAP } tv_type;

struct capstan_tvalue {
	tv_type type;
	char *string;             /* TV_STRING */
	int boolean;              /* TV_BOOL */
	char **keys;              /* TV_MAP */
	capstan_tvalue **items;   /* TV_LIST and TV_MAP values */
	size_t count, alloc;
};

static capstan_tvalue *tv_new(tv_type type)
{
	capstan_tvalue *v = calloc(1, sizeof(*v));

	if (v)
		v->type = type;
	return v;
}

capstan_tvalue *capstan_tv_map(void) { return tv_new(TV_MAP); }
capstan_tvalue *capstan_tv_list(void) { return tv_new(TV_LIST); }

capstan_tvalue *capstan_tv_string(const char *s)
{
	capstan_tvalue *v = tv_new(TV_STRING);

	if (v && !(v->string = strdup(s ? s : ""))) {
		free(v);
		return NULL;
	}
	return v;
}

capstan_tvalue *capstan_tv_bool(int value)
{
	capstan_tvalue *v = tv_new(TV_BOOL);

	if (v)
		v->boolean = value != 0;
	return v;
}

void capstan_tv_free(capstan_tvalue *v)
{
	if (!v)
		return;
	for (size_t i = 0; i < v->count; i++) {
		capstan_tv_free(v->items[i]);
		if (v->keys)
			free(v->keys[i]);
	}
	free(v->items);
	free(v->keys);
	/* Strings carry store passwords and base64 keys: every one is wiped, it
	 * costs less than knowing which. */
	if (v->string)
		capstan_wipe(v->string, strlen(v->string));
	free(v->string);
	free(v);
}

static int grow(capstan_tvalue *v)
{
	size_t n = v->alloc ? v->alloc * 2 : 8;
	capstan_tvalue **items = realloc(v->items, n * sizeof(*items));

	if (!items)
		return -1;
	v->items = items;
	if (v->type == TV_MAP) {
		char **keys = realloc(v->keys, n * sizeof(*keys));
		if (!keys)
			return -1;
		v->keys = keys;
	}
	v->alloc = n;
	return 0;
}

int capstan_tv_push(capstan_tvalue *list, capstan_tvalue *child)
{
	if (!child || !list || list->type != TV_LIST || (list->count == list->alloc && grow(list) < 0)) {
		capstan_tv_free(child);
		return -1;
	}
	list->items[list->count++] = child;
	return 0;
}

int capstan_tv_put(capstan_tvalue *map, const char *key, capstan_tvalue *child)
{
	char *k = NULL;

	if (!child || !map || map->type != TV_MAP || !(k = strdup(key)) ||
	    (map->count == map->alloc && grow(map) < 0)) {
		free(k);
		capstan_tv_free(child);
		return -1;
	}
	map->keys[map->count] = k;
	map->items[map->count++] = child;
	return 0;
}

int capstan_tv_put_string(capstan_tvalue *map, const char *key, const char *value)
{
	return capstan_tv_put(map, key, capstan_tv_string(value));
}

const capstan_tvalue *capstan_tv_get(const capstan_tvalue *map, const char *key)
{
	if (!map || map->type != TV_MAP)
		return NULL;
	/* The last one put wins, so a key can be overridden. */
	for (size_t i = map->count; i-- > 0;)
		if (strcmp(map->keys[i], key) == 0)
			return map->items[i];
	return NULL;
}

size_t capstan_tv_count(const capstan_tvalue *v)
{
	return v && (v->type == TV_LIST || v->type == TV_MAP) ? v->count : 0;
}

const capstan_tvalue *capstan_tv_item(const capstan_tvalue *v, size_t i)
{
	return i < capstan_tv_count(v) ? v->items[i] : NULL;
}

const char *capstan_tv_key(const capstan_tvalue *v, size_t i)
{
	return v && v->type == TV_MAP && i < v->count ? v->keys[i] : NULL;
}

const char *capstan_tv_text(const capstan_tvalue *v)
{
	return v && v->type == TV_STRING ? v->string : "";
}

capstan_tvalue *capstan_tv_copy(const capstan_tvalue *v)
{
	capstan_tvalue *c;

	if (!v)
		return NULL;
	if (v->type == TV_STRING)
		return capstan_tv_string(v->string);
	if (v->type == TV_BOOL)
		return capstan_tv_bool(v->boolean);
	if (!(c = tv_new(v->type)))
		return NULL;
	for (size_t i = 0; i < v->count; i++) {
		int rc = v->type == TV_MAP ? capstan_tv_put(c, v->keys[i], capstan_tv_copy(v->items[i])) :
			capstan_tv_push(c, capstan_tv_copy(v->items[i]));
		if (rc < 0) {
			capstan_tv_free(c);
			return NULL;
		}
	}
	return c;
}

/* The template tree. */
typedef enum { NODE_TEXT, NODE_VAR, NODE_SECTION, NODE_INVERTED } node_type;

typedef struct node {
	node_type type;
	const char *text;         /* NODE_TEXT: into the template */
	size_t len;
	char name[MAX_NAME];      /* tags */
	int line;
	struct node *children;    /* sections */
	struct node *next;
} node;

static void nodes_free(node *n)
{
	while (n) {
		node *next = n->next;
		nodes_free(n->children);
		free(n);
		n = next;
	}
}

typedef struct {
	capstan_ctx *ctx;
	const char *name;         /* the template's, for messages */
	const char *text, *end;
	int line;
} parser;

static int line_of(const parser *p, const char *at)
{
	int line = 1;

	for (const char *c = p->text; c < at; c++)
		line += *c == '\n';
	return line;
}

static node *new_node(parser *p, node_type type, const char *at)
{
	node *n = calloc(1, sizeof(*n));

	if (!n)
		capstan_error_oom(p->ctx);
	else {
		n->type = type;
		n->line = line_of(p, at);
	}
	return n;
}

/* A section, inverted, closing or comment tag alone on its line is
 * "standalone": the line's indentation before it and its newline after it go too. */
static void standalone(const char *line_start, const char *tag_end, const char *end,
	const char **cut_from, const char **resume)
{
	const char *p = *cut_from;

	while (p > line_start && (p[-1] == ' ' || p[-1] == '\t'))
		p--;
	if (p != line_start)
		return;
	const char *q = tag_end;
	while (q < end && (*q == ' ' || *q == '\t'))
		q++;
	if (q < end && *q == '\r')
		q++;
	if (q < end && *q != '\n')
		return;
	*cut_from = p;
	*resume = q < end ? q + 1 : q;
}

static int parse_name(parser *p, const char *start, const char *stop, char name[MAX_NAME], const char *at)
{
	while (start < stop && (*start == ' ' || *start == '\t'))
		start++;
	while (stop > start && (stop[-1] == ' ' || stop[-1] == '\t'))
		stop--;
	if (stop == start || (size_t)(stop - start) >= MAX_NAME)
		return capstan_error(p->ctx, CAPSTAN_EINVALID, "%s:%d: empty or over-long tag name", p->name, line_of(p, at));
	for (const char *c = start; c < stop; c++)
		if (!(*c == '.' || *c == '_' || *c == '-' || (*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
		      (*c >= '0' && *c <= '9')))
			return capstan_error(p->ctx, CAPSTAN_EINVALID, "%s:%d: bad character in tag '%.*s'", p->name,
				line_of(p, at), (int)(stop - start), start);
	memcpy(name, start, (size_t)(stop - start));
	name[stop - start] = '\0';
	return 0;
}

static int append(node ***tail, node *n)
{
	**tail = n;
	*tail = &n->next;
	return 0;
}

static int add_text(parser *p, node ***tail, const char *from, const char *to)
{
	node *n;

	if (to <= from)
		return 0;
	if (!(n = new_node(p, NODE_TEXT, from)))
		return CAPSTAN_ERROR;
	n->text = from;
	n->len = (size_t)(to - from);
	return append(tail, n);
}

/* Parses until the end, or until the {{/name}} closing `open` (NULL at top level). */
static int parse_nodes(parser *p, const char **pos, const node *open, node **out, int depth)
{
	node **tail = out;
	const char *s = *pos, *line_start = *pos;

	if (depth > MAX_DEPTH)
		return capstan_error(p->ctx, CAPSTAN_EINVALID, "%s:%d: sections nested more than %d deep", p->name,
			line_of(p, s), MAX_DEPTH);
	for (;;) {
		const char *open_tag = s, *close_tag, *cut, *resume;
		node *n;
		char kind, name[MAX_NAME];
		int rc;

		while (open_tag + 1 < p->end && !(open_tag[0] == '{' && open_tag[1] == '{'))
			open_tag++;
		if (open_tag + 1 >= p->end) {
			if (open)
				return capstan_error(p->ctx, CAPSTAN_EINVALID, "%s:%d: section '%s' is not closed",
					p->name, open->line, open->name);
			*pos = p->end;
			return add_text(p, &tail, s, p->end);
		}
		for (const char *c = s; c < open_tag; c++)
			if (*c == '\n')
				line_start = c + 1;
		close_tag = open_tag + 2;
		while (close_tag + 1 < p->end && !(close_tag[0] == '}' && close_tag[1] == '}'))
			close_tag++;
		if (close_tag + 1 >= p->end)
			return capstan_error(p->ctx, CAPSTAN_EINVALID, "%s:%d: '{{' is not closed by '}}'",
				p->name, line_of(p, open_tag));
		kind = open_tag[2];
		cut = open_tag;
		resume = close_tag + 2;
		if (kind == '#' || kind == '^' || kind == '/' || kind == '!')
			standalone(line_start, close_tag + 2, p->end, &cut, &resume);
		if ((rc = add_text(p, &tail, s, cut)) < 0)
			return rc;
		if (kind == '!') {
			s = line_start = resume;
			continue;
		}
		if ((rc = parse_name(p, open_tag + 2 + (kind == '#' || kind == '^' || kind == '/'), close_tag, name,
			     open_tag)) < 0)
			return rc;
		if (kind == '/') {
			if (!open)
				return capstan_error(p->ctx, CAPSTAN_EINVALID, "%s:%d: '{{/%s}}' closes no open section",
					p->name, line_of(p, open_tag), name);
			if (strcmp(open->name, name) != 0)
				return capstan_error(p->ctx, CAPSTAN_EINVALID,
					"%s:%d: '{{/%s}}' closes no open section: expected {{/%s}}",
					p->name, line_of(p, open_tag), name, open->name);
			*pos = resume;
			return 0;
		}
		if (!(n = new_node(p, kind == '#' ? NODE_SECTION : kind == '^' ? NODE_INVERTED : NODE_VAR, open_tag)))
			return CAPSTAN_ERROR;
		memcpy(n->name, name, sizeof(name));
		append(&tail, n);
		s = line_start = resume;
		if (n->type != NODE_VAR && (rc = parse_nodes(p, &s, n, &n->children, depth + 1)) < 0)
			return rc;
		line_start = s;
	}
}

/* Rendering, into a capstan_buf (it doubles; wiped when freed, as configs hold passwords). */
typedef struct {
	capstan_ctx *ctx;
	const char *name;
	capstan_buf out;
	const capstan_tvalue *stack[MAX_DEPTH + 2];
	int depth;
	size_t steps, max_steps, max_output;
} renderer;

/* The items of the lists a map holds (not deeper): what the budgets grow with. */
static size_t list_items(const capstan_tvalue *map)
{
	size_t n = 0;

	for (size_t i = 0; map && map->type == TV_MAP && i < map->count; i++)
		if (map->items[i]->type == TV_LIST)
			n += map->items[i]->count;
	return n;
}

static int emit(renderer *r, const void *data, size_t len)
{
	if (len > r->max_output || r->out.len + len > r->max_output)
		return capstan_error(r->ctx, CAPSTAN_EINVALID, "%s: output larger than %zu MiB", r->name,
			r->max_output >> 20);
	return capstan_buf_append(r->ctx, &r->out, data, len);
}

static int lookup(renderer *r, const node *n, const capstan_tvalue **out)
{
	char name[MAX_NAME], *dot, *seg;
	const capstan_tvalue *v = NULL;

	if (strcmp(n->name, ".") == 0) {
		*out = r->stack[r->depth - 1];
		return 0;
	}
	memcpy(name, n->name, sizeof(name));
	dot = strchr(name, '.');
	if (dot)
		*dot = '\0';
	/* The first part is looked up from the innermost context outwards. */
	for (int i = r->depth - 1; i >= 0 && !v; i--)
		v = capstan_tv_get(r->stack[i], name);
	for (seg = dot ? dot + 1 : NULL; v && seg;) {
		char *next = strchr(seg, '.');
		if (next)
			*next = '\0';
		v = capstan_tv_get(v, seg);
		seg = next ? next + 1 : NULL;
	}
	if (!v)
		return capstan_error(r->ctx, CAPSTAN_EINVALID, "%s:%d: unknown name '%s'", r->name, n->line, n->name);
	*out = v;
	return 0;
}

static int truthy(const capstan_tvalue *v)
{
	switch (v->type) {
	case TV_BOOL: return v->boolean;
	case TV_STRING: return v->string[0] != '\0';
	case TV_LIST: return v->count > 0;
	default: return 1;
	}
}

static int render_nodes(renderer *r, const node *n);

static int render_with(renderer *r, const node *n, const capstan_tvalue *top)
{
	int rc;

	if (r->depth >= MAX_DEPTH + 2)
		return capstan_error(r->ctx, CAPSTAN_EINVALID, "%s:%d: sections nested too deep", r->name, n->line);
	r->stack[r->depth++] = top;
	rc = render_nodes(r, n->children);
	r->depth--;
	return rc;
}

static int render_section(renderer *r, const node *n, const capstan_tvalue *v)
{
	int rc = 0;

	if (n->type == NODE_INVERTED)
		return truthy(v) ? 0 : render_nodes(r, n->children);
	switch (v->type) {
	case TV_LIST:
		for (size_t i = 0; rc == 0 && i < v->count; i++)
			rc = render_with(r, n, v->items[i]);
		return rc;
	case TV_BOOL:
		return v->boolean ? render_nodes(r, n->children) : 0;
	default:
		return truthy(v) ? render_with(r, n, v) : 0;
	}
}

static int render_nodes(renderer *r, const node *n)
{
	const capstan_tvalue *v = NULL;
	int rc;

	for (; n; n = n->next) {
		if (++r->steps > r->max_steps)
			return capstan_error(r->ctx, CAPSTAN_EINVALID,
				"%s:%d: too much to render (sections nested over lists?)", r->name, n->line);
		if (n->type == NODE_TEXT) {
			rc = emit(r, n->text, n->len);
		} else if ((rc = lookup(r, n, &v)) == 0) {
			if (n->type != NODE_VAR)
				rc = render_section(r, n, v);
			else if (v->type == TV_STRING)
				rc = emit(r, v->string, strlen(v->string));
			else if (v->type == TV_BOOL)
				rc = emit(r, v->boolean ? "true" : "false", v->boolean ? 4 : 5);
			else
				rc = capstan_error(r->ctx, CAPSTAN_EINVALID, "%s:%d: '%s' is a %s, not text (use a section)",
					r->name, n->line, n->name, v->type == TV_LIST ? "list" : "map");
		}
		if (rc < 0)
			return rc;
	}
	return 0;
}

int capstan_template_render_in(capstan_buf *out, capstan_ctx *ctx, const char *name, const char *text, size_t len,
	const capstan_tvalue *data, const capstan_tvalue *inner)
{
	parser p = { ctx, name, text, text + len, 1 };
	size_t items = list_items(data) + list_items(inner);
	renderer r = { .ctx = ctx, .name = name, .stack = { data, inner }, .depth = inner ? 2 : 1,
		.max_steps = MAX_STEPS + STEPS_PER_ITEM * items, .max_output = MAX_OUTPUT + OUTPUT_PER_ITEM * items };
	const char *pos = text;
	node *tree = NULL;
	int rc;

	if (len > MAX_TEMPLATE)
		return capstan_error(ctx, CAPSTAN_EINVALID, "%s: template larger than 1 MiB", name);
	if (!data || data->type != TV_MAP || (inner && inner->type != TV_MAP))
		return capstan_error(ctx, CAPSTAN_EINVALID, "%s: template data must be a map", name);
	if ((rc = parse_nodes(&p, &pos, NULL, &tree, 0)) == 0 && (rc = render_nodes(&r, tree)) == 0)
		rc = capstan_buf_append(ctx, out, r.out.data, r.out.len);
	nodes_free(tree);
	capstan_buf_free(&r.out);
	if (rc < 0)
		capstan_buf_free(out);
	return rc;
}

int capstan_template_render(capstan_buf *out, capstan_ctx *ctx, const char *name, const char *text, size_t len,
	const capstan_tvalue *data)
{
	return capstan_template_render_in(out, ctx, name, text, len, data, NULL);
}
