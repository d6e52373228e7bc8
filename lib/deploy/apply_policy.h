/* apply's half of the issuance policy (apply_policy.c). */
#ifndef CAPSTAN_LIB_APPLY_POLICY_H
#define CAPSTAN_LIB_APPLY_POLICY_H

#include <capstan/ca.h>
#include <capstan/config.h>

/* A level's recorded body: three lists of at most 256 entries of at most
 * 253 bytes (config_policy.c), within this. */
#define CAPSTAN_POLICY_BODY_MAX (3 * 256 * 256 + 64)

/* Every certificate of every environment (only_env: that one) checked
 * against the file's policy: the first that breaks it, named by file, line
 * and rule. Nothing is changed. */
int capstan_apply_policy_check(capstan_ctx *ctx, const capstan_config *c, const char *only_env);

/* Called for each level recorded (or, dry_run, that would be): service NULL
 * for the environment's own levels. Non-zero stops. */
typedef int (*capstan_apply_policy_fn)(const char *env, const char *service, const char *what, void *payload);
/* Records e's levels where they differ from the inventory's, each with its
 * audit row; a dry run records nothing. */
int capstan_apply_policy_record(capstan_ctx *ctx, const capstan_config *c, const capstan_config_env *e,
	int dry_run, capstan_apply_policy_fn fn, void *payload);

/* The intermediate's nameConstraints for a new environment e, into *io:
 * the environment's lists, else the defaults', when either level asks for
 * name_constraints (as capstan_policy_name_constraints reads the record). */
void capstan_apply_policy_constraints(const capstan_config *c, const capstan_config_env *e,
	capstan_init_opts *io);

#endif
