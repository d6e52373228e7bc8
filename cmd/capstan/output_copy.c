/* Output of migrate, backup and restore: what was copied where, and what verified it. */
#include <jansson.h>

#include "cli.h"

/* What was copied where: one line, or a JSON document. */
int out_copied(cli *c, const char *verb, const char *where, const capstan_copy_summary *s)
{
	if (c->json) {
		json_t *doc = json_object();

		json_object_set_new(doc, verb, json_string(where));
		json_object_set_new(doc, "rows", json_integer(s->rows));
		json_object_set_new(doc, "certs", json_integer(s->certs));
		json_object_set_new(doc, "audit_rows", json_integer(s->audit_rows));
		json_object_set_new(doc, "tables", json_integer((json_int_t)s->tables));
		json_object_set_new(doc, "verified", json_integer((json_int_t)s->verified));
		json_object_set_new(doc, "keys_opened", json_integer((json_int_t)s->keys_opened));
		json_object_set_new(doc, "problems", json_integer((json_int_t)s->problems));
		return out_print_doc(c, doc);
	}
	/* A copy of a source that check faults is made, and said: quiet or not. */
	if (s->problems)
		fprintf(stderr, "capstan: warning: the inventory has %zu problem%s that check reports, the copy as many:"
			" run capstan check\n", s->problems, s->problems == 1 ? "" : "s");
	if (!c->quiet)
		printf("%s %s: %lld certificates, %lld audit rows, %lld rows in %zu tables;"
			" verified: the rows compare equal, %zu chains, %zu keys, the audit chain\n",
			verb, where, (long long)s->certs, (long long)s->audit_rows, (long long)s->rows, s->tables,
			s->verified, s->keys_opened);
	return EXIT_OK;
}
