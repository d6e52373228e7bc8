/* Key types and profiles: the only ones capstan will issue. */
#include <string.h>

#include <capstan/policy.h>

static const char *const key_names[CAPSTAN_KEY__COUNT] = {
	[CAPSTAN_KEY_EC_P256] = "ec-p256",
	[CAPSTAN_KEY_EC_P384] = "ec-p384",
	[CAPSTAN_KEY_RSA_2048] = "rsa-2048",
	[CAPSTAN_KEY_RSA_3072] = "rsa-3072",
	[CAPSTAN_KEY_RSA_4096] = "rsa-4096",
	[CAPSTAN_KEY_ED25519] = "ed25519",
};

static const char *const profile_names[CAPSTAN_PROFILE__COUNT] = {
	[CAPSTAN_PROFILE_SERVER] = "server",
	[CAPSTAN_PROFILE_CLIENT] = "client",
	[CAPSTAN_PROFILE_PEER] = "peer",
};

int capstan_key_type_parse(const char *name, capstan_key_type *out)
{
	for (int i = 0; i < CAPSTAN_KEY__COUNT; i++) {
		if (name && strcmp(name, key_names[i]) == 0) {
			*out = (capstan_key_type)i;
			return 0;
		}
	}
	return CAPSTAN_EINVALID;
}

const char *capstan_key_type_name(capstan_key_type type)
{
	return (unsigned)type < CAPSTAN_KEY__COUNT ? key_names[type] : "unknown";
}

const char *capstan_key_type_names(void)
{
	return "ec-p256, ec-p384, rsa-2048, rsa-3072, rsa-4096, ed25519";
}

int capstan_profile_parse(const char *name, capstan_profile *out)
{
	for (int i = 0; i < CAPSTAN_PROFILE__COUNT; i++) {
		if (name && strcmp(name, profile_names[i]) == 0) {
			*out = (capstan_profile)i;
			return 0;
		}
	}
	return CAPSTAN_EINVALID;
}

const char *capstan_profile_name(capstan_profile profile)
{
	return (unsigned)profile < CAPSTAN_PROFILE__COUNT ? profile_names[profile] : "unknown";
}

const char *capstan_profile_names(void)
{
	return "server, client, peer";
}

int64_t capstan_default_renew_before(int64_t lifetime)
{
	int64_t third = lifetime / 3;

	return third < CAPSTAN_DEFAULT_RENEW_BEFORE ? third : CAPSTAN_DEFAULT_RENEW_BEFORE;
}

int64_t capstan_renew_window(int64_t lifetime, int64_t granted, int64_t renew_before)
{
	int64_t own = renew_before > 0 ? renew_before : capstan_default_renew_before(lifetime);

	return own < granted ? own : granted / 3;
}
