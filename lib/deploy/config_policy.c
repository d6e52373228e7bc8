/* The policy: section (under defaults:, an environment or a service): what
 * may be issued there. Checked whole when the file is loaded; recorded by
 * apply, and obeyed by every issuance from the record (lib/ca). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <capstan/config.h>
#include <capstan/parse.h>

#include "base/base.h"
#include "ca/ca.h"
#include "config_walk.h"

/* nameConstraints cannot say "one label": a '*' anywhere but the leftmost
 * label would be a rule the intermediate could not carry. */
static int check_policy_dns(const char *s, const char **why)
{
	const char *dot;

	if (capstan_dns_pattern_check(s, why) < 0)
		return -1;
	for (dot = strchr(s, '.'); dot; dot = strchr(dot + 1, '.'))
		if (dot[1] == '*') {
			*why = "'*' may only be the whole leftmost label";
			return -1;
		}
	if (s[0] == '*' && s[1] != '.') {
		*why = "'*' may only be the whole leftmost label";
		return -1;
	}
	return 0;
}

static int check_key_name(const char *s, const char **why)
{
	capstan_key_type t;

	if (capstan_key_type_parse(s, &t) < 0) {
		*why = "unknown or weak key type";
		return -1;
	}
	return 0;
}

static int policy_pair(walker *w, const char *key, yaml_node_t *v, const char *path, void *payload)
{
	capstan_config_policy *p = payload;
	const char *s;
	int rc;

	if (strcmp(key, "dns") == 0) {
		p->dns_set = 1;
		return walk_list(w, v, path, check_policy_dns, 0, "DNS pattern", &p->dns, &p->dns_count);
	}
	if (strcmp(key, "ip") == 0) {
		p->ip_set = 1;
		return walk_list(w, v, path, capstan_cidr_check, 0, "CIDR", &p->ip, &p->ip_count);
	}
	if (strcmp(key, "keys") == 0) {
		p->keys_set = 1;
		return walk_list(w, v, path, check_key_name, 0, "key type", &p->keys, &p->key_count);
	}
	if (strcmp(key, "max_days") == 0) {
		if ((rc = walk_duration(w, v, path, &p->max_lifetime)) < 0)
			return rc;
		return p->max_lifetime > 0 ? 0 : walk_fail(w, v, path, "max_days must be positive");
	}
	/* name_constraints: walk_mapping() allowed nothing else */
	if ((rc = walk_scalar(w, v, path, &s)) < 0)
		return rc;
	if (strcmp(s, "true") == 0 || strcmp(s, "false") == 0) {
		p->name_constraints = s[0] == 't';
		return 0;
	}
	return walk_fail(w, v, path, "expected true or false, not '%s'", s);
}

/* What the recorded body and the check can hold (ca/ca.h). */
static int check_count(walker *w, yaml_node_t *v, const char *path, const capstan_config_policy *p)
{
	if (p->dns_count > CAPSTAN_POLICY_MAX_ITEMS || p->ip_count > CAPSTAN_POLICY_MAX_ITEMS)
		return walk_fail(w, v, path, "a list of at most %d entries", CAPSTAN_POLICY_MAX_ITEMS);
	return 0;
}

int capstan_config_policy_section(walker *w, yaml_node_t *v, const char *path, capstan_config_policy *p)
{
	static const char *const policy_keys[] = { "dns", "ip", "max_days", "keys", "name_constraints", NULL };
	int rc;

	p->set = 1;
	p->line = (int)v->start_mark.line + 1;
	if ((rc = walk_mapping(w, v, path, policy_keys)) != 0)
		return rc > 0 ? 0 : rc;
	if ((rc = walk_each_pair(w, v, path, policy_pair, p)) < 0 || (rc = check_count(w, v, path, p)) < 0)
		return rc;
	if (p->name_constraints && !p->dns_set && !p->ip_set)
		return walk_fail(w, v, path, "name_constraints needs a dns or ip list to put in the intermediate");
	return 0;
}
