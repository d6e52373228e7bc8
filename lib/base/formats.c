/* The output formats and what each needs. */
#include <string.h>

#include <capstan/convert.h>

static const struct {
	const char *name;
	unsigned has_key : 1, password : 1, truststore : 1;
} formats[CAPSTAN_FORMAT__COUNT] = {
	[CAPSTAN_FORMAT_CERT] = { "cert", 0, 0, 0 },
	[CAPSTAN_FORMAT_CHAIN] = { "chain", 0, 0, 0 },
	[CAPSTAN_FORMAT_KEY] = { "key", 1, 0, 0 },
	[CAPSTAN_FORMAT_PKCS8_ENC] = { "pkcs8-enc", 1, 1, 0 },
	[CAPSTAN_FORMAT_DER] = { "der", 0, 0, 0 },
	[CAPSTAN_FORMAT_PKCS12] = { "pkcs12", 1, 1, 0 },
	[CAPSTAN_FORMAT_TRUSTSTORE] = { "truststore", 0, 1, 1 },
	[CAPSTAN_FORMAT_JKS] = { "jks", 1, 1, 0 },
	[CAPSTAN_FORMAT_JKS_TRUSTSTORE] = { "jks-truststore", 0, 1, 1 },
	[CAPSTAN_FORMAT_PEM] = { "pem", 1, 0, 0 },
};

int capstan_format_parse(const char *name, capstan_format *out)
{
	for (int i = 0; i < CAPSTAN_FORMAT__COUNT; i++)
		if (name && strcmp(name, formats[i].name) == 0)
			return *out = (capstan_format)i, 0;
	return CAPSTAN_EINVALID;
}

const char *capstan_format_name(capstan_format fmt)
{
	return (unsigned)fmt < CAPSTAN_FORMAT__COUNT ? formats[fmt].name : "unknown";
}

const char *capstan_format_names(void)
{
	return "cert, chain, key, pkcs8-enc, der, pkcs12, truststore, jks, jks-truststore, pem";
}

int capstan_format_has_key(capstan_format fmt)
{
	return (unsigned)fmt < CAPSTAN_FORMAT__COUNT && formats[fmt].has_key;
}

int capstan_format_needs_password(capstan_format fmt)
{
	return (unsigned)fmt < CAPSTAN_FORMAT__COUNT && formats[fmt].password;
}

int capstan_format_is_truststore(capstan_format fmt)
{
	return (unsigned)fmt < CAPSTAN_FORMAT__COUNT && formats[fmt].truststore;
}
