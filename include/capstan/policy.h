/*
 * capstan — what capstan will issue: key types, certificate profiles and the
 * defaults. Weak choices (RSA < 2048, SHA-1) have no name here, so they cannot be
 * asked for.
 */
#ifndef CAPSTAN_POLICY_H
#define CAPSTAN_POLICY_H

#include "common.h"

CAPSTAN_BEGIN_API

typedef enum {
	CAPSTAN_KEY_EC_P256 = 0,
	CAPSTAN_KEY_EC_P384,
	CAPSTAN_KEY_RSA_2048,
	CAPSTAN_KEY_RSA_3072,
	CAPSTAN_KEY_RSA_4096,
	CAPSTAN_KEY_ED25519,
	CAPSTAN_KEY__COUNT
} capstan_key_type;

typedef enum {
	CAPSTAN_PROFILE_SERVER = 0, /* EKU serverAuth; needs a DNS or IP SAN */
	CAPSTAN_PROFILE_CLIENT,     /* EKU clientAuth */
	CAPSTAN_PROFILE_PEER,       /* serverAuth + clientAuth; needs a SAN */
	CAPSTAN_PROFILE__COUNT
} capstan_profile;

#define CAPSTAN_DEFAULT_KEY          CAPSTAN_KEY_EC_P256
#define CAPSTAN_DEFAULT_ROOT_DAYS    3650
#define CAPSTAN_DEFAULT_CA_DAYS      1825
#define CAPSTAN_DEFAULT_LEAF_DAYS    90
#define CAPSTAN_DEFAULT_RENEW_BEFORE (30 * CAPSTAN_DAY_SECONDS)
/* Subject alternative names in one certificate: plenty for a service, and a
 * bound on what one request (or CSR) can make the CA sign. */
#define CAPSTAN_MAX_SANS             100
/* notBefore is set this far in the past so that clocks a little behind accept it. */
#define CAPSTAN_BACKDATE_SECONDS     300
/* An environment's name: an identifier (capstan_check_identifier) this long at most. */
#define CAPSTAN_MAX_ENV_NAME         32

/* Parse a key type name ("ec-p256", ...); CAPSTAN_EINVALID for an unknown or weak one.
 * The *_name() and *_names() functions return static strings (never freed). */
int capstan_key_type_parse(const char *name, capstan_key_type *out);
const char *capstan_key_type_name(capstan_key_type type);

int capstan_profile_parse(const char *name, capstan_profile *out);
const char *capstan_profile_name(capstan_profile profile);

/* The list of accepted names, for messages: "ec-p256, ec-p384, ...". */
const char *capstan_key_type_names(void);
const char *capstan_profile_names(void);

/* The renew-before window for a lifetime when none was set: 30 days, or a third
 * of the lifetime if that is shorter. */
int64_t capstan_default_renew_before(int64_t lifetime);

/*
 * The window renew --due uses: RENEW_BEFORE (0: the default for LIFETIME),
 * unless that is not shorter than the validity the certificate was GRANTED
 * (its lifetime, or less when its issuer ends first); then a third of the
 * validity, as cert-manager does, so that a renewal is never due at once.
 * Every way in (issue, issue --batch, apply, renew) takes such a window and
 * lets this rule apply; the store's due query says the same in SQL.
 */
int64_t capstan_renew_window(int64_t lifetime, int64_t granted, int64_t renew_before);

CAPSTAN_END_API

#endif
