/* issue --batch FILE: JSON lines, one request each, with issue's fields
 * (env profile cn name dns ip uri email days key service renew_before). Every
 * line is checked before anything is issued; one bad line refuses the file
 * (exit 2, naming file and line; not followed by the command line's usage). */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"

#define MAX_BATCH_FILE (256 * 1024 * 1024)
/* One request: 100 SANs of 253 bytes are about 26 KB. A 100 MB line of
 * duplicate SANs once took 2.4 GB as JSON and was issued. */
#define MAX_BATCH_LINE (64 * 1024)

struct batch_input {
	json_t **lines;             /* kept alive: requests point into them */
	capstan_issue_opts *reqs;
	size_t *line_no;
	size_t count;
};

/* A list field: an array of strings, or one string. */
static int string_list(json_t *v, const char *const **out, size_t *count)
{
	const char **items;
	size_t n = json_is_array(v) ? json_array_size(v) : 1;

	if (!json_is_array(v) && !json_is_string(v))
		return -1;
	if (!(items = calloc(n ? n : 1, sizeof(*items))))
		return -1;
	for (size_t i = 0; i < n; i++) {
		json_t *item = json_is_array(v) ? json_array_get(v, i) : v;
		if (!json_is_string(item)) {
			free(items);
			return -1;
		}
		items[i] = json_string_value(item);
	}
	*out = items;
	*count = n;
	return 0;
}

static int duration_field(json_t *v, int64_t *out)
{
	char text[32];

	if (json_is_integer(v))
		snprintf(text, sizeof(text), "%lld", (long long)json_integer_value(v));
	else if (json_is_string(v))
		snprintf(text, sizeof(text), "%s", json_string_value(v));
	else
		return -1;
	return capstan_parse_duration(text, out, NULL);
}

/* One field of one line into o; "what" says what is wrong when it is. */
static int take_field(const char *key, json_t *v, capstan_issue_opts *o, const char **what)
{
	const char *s = json_string_value(v);
	const char *const **lists[] = { &o->dns, &o->ip, &o->uri, &o->email };
	size_t *counts[] = { &o->dns_count, &o->ip_count, &o->uri_count, &o->email_count };
	static const char *const list_keys[] = { "dns", "ip", "uri", "email" };
	static const char *const string_keys[] = { "env", "cn", "name", "service" };
	const char **strings[] = { &o->env, &o->cn, &o->name, &o->service };

	for (int i = 0; i < 4; i++) {
		if (strcmp(key, list_keys[i]) == 0)
			return string_list(v, lists[i], counts[i]) < 0 ? (*what = "expected a string or a list of strings", -1) : 0;
		if (strcmp(key, string_keys[i]) == 0)
			return s ? (*strings[i] = s, 0) : (*what = "expected a string", -1);
	}
	if (strcmp(key, "profile") == 0)
		return s && capstan_profile_parse(s, &o->profile) == 0 ? 0 : (*what = "expected server, client or peer", -1);
	if (strcmp(key, "key") == 0)
		return s && capstan_key_type_parse(s, &o->key) == 0 ? (o->key_set = 1, 0) :
			(*what = "expected a key type (ec-p256, ec-p384, rsa-2048, rsa-3072, rsa-4096, ed25519)", -1);
	if (strcmp(key, "days") == 0)
		return duration_field(v, &o->lifetime) == 0 ? 0 : (*what = "expected a duration such as 90d", -1);
	if (strcmp(key, "renew_before") == 0)
		return duration_field(v, &o->renew_before) == 0 ? 0 : (*what = "expected a duration such as 30d", -1);
	*what = "unknown field";
	return -1;
}

static int check_values(const char *file, size_t line, const capstan_issue_opts *o)
{
	struct { const char *name; const char *const *items; size_t count; capstan_san_type type; } lists[] = {
		{ "dns", o->dns, o->dns_count, CAPSTAN_SAN_DNS }, { "ip", o->ip, o->ip_count, CAPSTAN_SAN_IP },
		{ "uri", o->uri, o->uri_count, CAPSTAN_SAN_URI }, { "email", o->email, o->email_count, CAPSTAN_SAN_EMAIL },
	};
	const char *why = NULL;

	if (!o->env || !o->cn)
		return cli_usage_error(NULL, "%s:%zu: env, profile and cn are required", file, line);
	for (size_t i = 0; i < 4; i++)
		for (size_t j = 0; j < lists[i].count; j++)
			if (capstan_check_san(lists[i].type, lists[i].items[j], &why) < 0)
				return cli_usage_error(NULL, "%s:%zu: bad %s '%s': %s", file, line, lists[i].name, lists[i].items[j], why);
	return 0;
}

static int parse_line(const char *file, size_t line, json_t *obj, capstan_issue_opts *o)
{
	const char *key, *what = NULL;
	int has_profile = 0;
	json_t *v;

	if (!json_is_object(obj))
		return cli_usage_error(NULL, "%s:%zu: expected a JSON object", file, line);
	json_object_foreach(obj, key, v) {
		if (take_field(key, v, o, &what) < 0)
			return cli_usage_error(NULL, "%s:%zu: field '%s': %s", file, line, key, what);
		has_profile |= strcmp(key, "profile") == 0;
	}
	if (!has_profile)
		return cli_usage_error(NULL, "%s:%zu: env, profile and cn are required", file, line);
	return check_values(file, line, o);
}

void batch_input_free(batch_input *in)
{
	if (!in)
		return;
	for (size_t i = 0; i < in->count; i++) {
		free((void *)in->reqs[i].dns);
		free((void *)in->reqs[i].ip);
		free((void *)in->reqs[i].uri);
		free((void *)in->reqs[i].email);
		json_decref(in->lines[i]);
	}
	free(in->lines);
	free(in->reqs);
	free(in->line_no);
	free(in);
}

int batch_input_read(cli *c, const char *file, batch_input **out)
{
	capstan_buf data = CAPSTAN_BUF_INIT;
	batch_input *in = calloc(1, sizeof(*in));
	size_t alloc = 0, line = 0;
	char *p, *next;
	int rc = 0;

	if (!in)
		return cli_error(c, "out of memory");
	if (capstan_file_read(&data, c->ctx, file, MAX_BATCH_FILE) < 0) {
		free(in);
		return cli_error(c, "--batch: %s", capstan_error_message(c->ctx));
	}
	for (p = (char *)data.data; rc == 0 && p && *p; p = next) {
		json_error_t err;
		json_t *obj;
		next = strchr(p, '\n');
		if (next)
			*next++ = '\0';
		line++;
		if (strlen(p) > MAX_BATCH_LINE) {
			rc = cli_usage_error(NULL, "%s:%zu: line longer than %d bytes: one request is far shorter",
				file, line, MAX_BATCH_LINE);
			break;
		}
		if (strspn(p, " \t\r") == strlen(p))
			continue;
		if (in->count == alloc) {
			alloc = alloc ? alloc * 2 : 256;
			in->lines = realloc(in->lines, alloc * sizeof(*in->lines));
			in->reqs = realloc(in->reqs, alloc * sizeof(*in->reqs));
			in->line_no = realloc(in->line_no, alloc * sizeof(*in->line_no));
			if (!in->lines || !in->reqs || !in->line_no) {
				rc = cli_error(c, "out of memory");
				break;
			}
		}
		if (!(obj = json_loads(p, JSON_REJECT_DUPLICATES, &err))) {
			rc = cli_usage_error(NULL, "%s:%zu: not JSON: %s", file, line, err.text);
			break;
		}
		in->lines[in->count] = obj;
		in->reqs[in->count] = (capstan_issue_opts)CAPSTAN_ISSUE_OPTS_INIT;
		in->line_no[in->count] = line;
		in->count++;
		rc = parse_line(file, line, obj, &in->reqs[in->count - 1]);
	}
	capstan_buf_free(&data);
	if (rc == 0 && in->count == 0)
		rc = cli_usage_error(NULL, "%s: no request in it", file);
	if (rc != 0) {
		batch_input_free(in);
		return rc;
	}
	*out = in;
	return 0;
}

/* A line's fields, by the library's names for what they fill. */
static const struct {
	unsigned field;
	const char *key;
} fields[] = {
	{ CAPSTAN_FIELD_ENV, "env" }, { CAPSTAN_FIELD_CN, "cn" }, { CAPSTAN_FIELD_NAME, "name" },
	{ CAPSTAN_FIELD_SERVICE, "service" }, { CAPSTAN_FIELD_PROFILE, "profile" }, { CAPSTAN_FIELD_KEY, "key" },
	{ CAPSTAN_FIELD_LIFETIME, "days" }, { CAPSTAN_FIELD_RENEW_BEFORE, "renew_before" },
	{ CAPSTAN_FIELD_DNS, "dns" }, { CAPSTAN_FIELD_IP, "ip" }, { CAPSTAN_FIELD_URI, "uri" },
	{ CAPSTAN_FIELD_EMAIL, "email" },
};

void batch_input_hint(unsigned subject, char *out, size_t size)
{
	size_t named = 0;

	out[0] = '\0';
	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]) && size > strlen(out); i++)
		if (subject & fields[i].field)
			snprintf(out + strlen(out), size - strlen(out), "%s%s", named++ ? " or " : " (field ", fields[i].key);
	if (named)
		snprintf(out + strlen(out), size - strlen(out), ")");
}

size_t batch_input_count(const batch_input *in) { return in->count; }
const capstan_issue_opts *batch_input_requests(const batch_input *in) { return in->reqs; }
size_t batch_input_line(const batch_input *in, size_t i) { return in->line_no[i]; }
