/* Output of lint: one line per finding, or one JSON document for every file. */
#include <jansson.h>
#include <stdlib.h>

#include "cli.h"

struct out_lint {
	cli *c;
	json_t *files;   /* --json: the files linted so far */
	size_t errors, warnings;
};

out_lint *out_lint_begin(cli *c)
{
	out_lint *o = calloc(1, sizeof(*o));

	if (o && (o->c = c)->json && !(o->files = json_array())) {
		free(o);
		return NULL;
	}
	return o;
}

static json_t *finding_json(const capstan_lint_finding *x)
{
	json_t *o = json_object();

	json_object_set_new(o, "certificate", json_integer((json_int_t)x->cert + 1));
	json_object_set_new(o, "severity", json_string(capstan_lint_severity_name(x->severity)));
	json_object_set_new(o, "rule", json_string(x->rule));
	json_object_set_new(o, "message", json_string(x->message));
	return o;
}

/* FILE: SEVERITY: RULE: MESSAGE, FILE[N] in a file of several certificates
 * (N from 1); -q keeps the errors only. */
int out_lint_file(out_lint *o, const char *file, const capstan_lint_findings *f)
{
	json_t *list = o->files ? json_array() : NULL;

	for (size_t i = 0; i < f->count; i++) {
		const capstan_lint_finding *x = &f->items[i];
		if (x->severity == CAPSTAN_LINT_ERROR)
			o->errors++;
		else
			o->warnings++;
		if (list)
			json_array_append_new(list, finding_json(x));
		else if (o->c->quiet && x->severity != CAPSTAN_LINT_ERROR)
			continue;
		else if (f->certs > 1)
			printf("%s[%zu]: %s: %s: %s\n", file, x->cert + 1, capstan_lint_severity_name(x->severity), x->rule,
				x->message);
		else
			printf("%s: %s: %s: %s\n", file, capstan_lint_severity_name(x->severity), x->rule, x->message);
	}
	if (list) {
		json_t *doc = json_object();
		json_object_set_new(doc, "file", json_string(file));
		json_object_set_new(doc, "certificates", json_integer((json_int_t)f->certs));
		json_object_set_new(doc, "findings", list);
		json_array_append_new(o->files, doc);
	}
	return f->errors ? EXIT_FAILED : EXIT_OK;
}

/* The JSON document (--json), and o freed. */
int out_lint_end(out_lint *o)
{
	int rc = EXIT_OK;

	if (o->files) {
		json_t *doc = json_object();
		json_object_set_new(doc, "files", o->files);
		json_object_set_new(doc, "errors", json_integer((json_int_t)o->errors));
		json_object_set_new(doc, "warnings", json_integer((json_int_t)o->warnings));
		rc = out_print_doc(o->c, doc);
	}
	fflush(stdout);
	free(o);
	return rc;
}
