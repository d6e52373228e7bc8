/* The parsed configuration's uses beyond loading (config_model.c), for the
 * loader's own checks and for apply. */
#ifndef CAPSTAN_LIB_CONFIG_MODEL_H
#define CAPSTAN_LIB_CONFIG_MODEL_H

#include <capstan/ca.h>
#include <capstan/config.h>

/* The one mapping of a configured certificate to an issuance request, for
 * apply and for the loader's own checks: *o (initialised by the caller) points
 * into c. d: the effective key and lifetimes (NULL: none); env and service
 * may be NULL. */
void capstan_config_issue_opts(const capstan_config_cert *c, const capstan_config_defaults *d, const char *env,
	const char *service, capstan_issue_opts *o);
/* The configuration's words for an error's subject (capstan_field bits) in the
 * certificate at PATH: " (PATH.dns or .ip)", "" when none is a key of it. */
void capstan_config_subject_hint(unsigned subject, const char *path, char *out, size_t size);

/* The api: section's values (check_fn form: 0, or -1 and *why): an action
 * (bundle, sign, revoke, list), a profile name, an ADDRESS:PORT. */
int capstan_config_check_action(const char *s, const char **why);
int capstan_config_check_profile(const char *s, const char **why);
int capstan_config_check_listen(const char *s, const char **why);

#endif
