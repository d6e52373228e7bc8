/* Checked parsers for user input. No atoi: every number is range-checked. */
#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include <capstan/parse.h>

#define MAX_DURATION_SECONDS ((int64_t)1000 * 365 * CAPSTAN_DAY_SECONDS)

static int invalid(const char **why, const char *reason)
{
	if (why)
		*why = reason;
	return CAPSTAN_EINVALID;
}

int capstan_parse_duration(const char *s, int64_t *seconds, const char **why)
{
	int64_t value = 0, unit;
	const char *p = s;

	if (!s || !*s)
		return invalid(why, "empty duration");
	if (*p == '-')
		return invalid(why, "a duration must be positive");
	if (!isdigit((unsigned char)*p))
		return invalid(why, "expected a number followed by s, m, h, d, w or y");
	for (; isdigit((unsigned char)*p); p++) {
		value = value * 10 + (*p - '0');
		if (value > MAX_DURATION_SECONDS)
			return invalid(why, "duration too long");
	}
	switch (*p) {
	case '\0': unit = CAPSTAN_DAY_SECONDS; break; /* a bare integer means days */
	case 's': unit = 1; break;
	case 'm': unit = 60; break;
	case 'h': unit = 3600; break;
	case 'd': unit = CAPSTAN_DAY_SECONDS; break;
	case 'w': unit = 7 * CAPSTAN_DAY_SECONDS; break;
	case 'y': unit = 365 * CAPSTAN_DAY_SECONDS; break;
	default:
		return invalid(why, "unknown unit (use s, m, h, d, w or y)");
	}
	if (*p && p[1])
		return invalid(why, "trailing characters after the unit");
	if (value == 0)
		return invalid(why, "a duration must be positive");
	if (value > MAX_DURATION_SECONDS / unit)
		return invalid(why, "duration too long");
	*seconds = value * unit;
	return 0;
}

int capstan_parse_ip(const char *s, unsigned char out[16], size_t *out_len, const char **why)
{
	if (!s || !*s)
		return invalid(why, "empty address");
	if (inet_pton(AF_INET, s, out) == 1) {
		*out_len = 4;
		return 0;
	}
	if (inet_pton(AF_INET6, s, out) == 1) {
		*out_len = 16;
		return 0;
	}
	return invalid(why, "not an IPv4 or IPv6 address");
}

int capstan_ip_to_text(const unsigned char *ip, size_t len, char *out, size_t size)
{
	if ((len != 4 && len != 16) || !inet_ntop(len == 4 ? AF_INET : AF_INET6, ip, out, (socklen_t)size))
		return CAPSTAN_EINVALID;
	return 0;
}

/* ASCII by value, not by locale: a Latin-1 locale's isalnum takes 0xe9. */
static int is_ascii_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

static int check_label(const char *s, size_t n, const char **why)
{
	if (n == 0)
		return invalid(why, "empty label");
	if (n > 63)
		return invalid(why, "label longer than 63 characters");
	if (s[0] == '-' || s[n - 1] == '-')
		return invalid(why, "label starts or ends with '-'");
	for (size_t i = 0; i < n; i++)
		if (!is_ascii_alnum(s[i]) && s[i] != '-')
			return invalid(why, "only letters, digits, '-' and '.' are allowed");
	return 0;
}

static int all_digits(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return 0;
	return 1;
}

static int check_hostname(const char *s, const char **why)
{
	size_t len = s ? strlen(s) : 0;

	if (len == 0)
		return invalid(why, "empty name");
	if (len > 253)
		return invalid(why, "name longer than 253 characters");
	while (*s) {
		const char *dot = strchr(s, '.');
		size_t n = dot ? (size_t)(dot - s) : strlen(s);
		if (check_label(s, n, why) < 0)
			return CAPSTAN_EINVALID;
		/* No top-level domain is numeric; resolvers read "10.1" or
		 * "host.0x7f.1" as an address, and so may a verifier. */
		if (!dot && all_digits(s, n))
			return invalid(why, "the last label is all digits, which reads as an IP address");
		if (!dot)
			break;
		s = dot + 1;
		if (!*s)
			return invalid(why, "name ends with '.'");
	}
	return 0;
}

int capstan_check_dns_name(const char *s, const char **why)
{
	unsigned char ip[16];
	size_t len;

	/* Verifiers match an address only against IP SANs: as a DNS name it
	 * matches nothing, or, to a lax one, the wrong thing. */
	if (capstan_parse_ip(s, ip, &len, NULL) == 0)
		return invalid(why, "an IP address is not a DNS name (it goes in an IP SAN)");
	if (s && strncmp(s, "*.", 2) == 0) {
		if (!strchr(s + 2, '.'))
			return invalid(why, "a wildcard needs at least two labels after '*.'");
		return check_hostname(s + 2, why);
	}
	return check_hostname(s, why);
}

int capstan_is_hostname(const char *s)
{
	unsigned char ip[16];
	size_t len;

	/* "10.0.0.1" is LDH too, but it is an address, not a host name. */
	if (capstan_parse_ip(s, ip, &len, NULL) == 0)
		return 0;
	return check_hostname(s, NULL) == 0;
}

static int has_control_or_space(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s <= 0x20 || *s == 0x7f)
			return 1;
	return 0;
}

/* URIs and e-mail addresses are IA5Strings: a byte past 0x7f in one makes
 * strict parsers (Go's crypto/x509, so etcd and Kubernetes) refuse the whole
 * certificate. */
static int has_non_ascii(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s > 0x7f)
			return 1;
	return 0;
}

int capstan_check_uri(const char *s, const char **why)
{
	const char *p = s;

	if (!s || !*s)
		return invalid(why, "empty URI");
	if (strlen(s) > 1024)
		return invalid(why, "URI longer than 1024 characters");
	if (!isalpha((unsigned char)*p))
		return invalid(why, "a URI starts with a scheme such as 'spiffe:'");
	while (isalnum((unsigned char)*p) || *p == '+' || *p == '-' || *p == '.')
		p++;
	if (*p != ':' || !p[1])
		return invalid(why, "a URI needs 'scheme:' and a body");
	if (has_control_or_space(s))
		return invalid(why, "spaces and control characters are not allowed in a URI");
	if (has_non_ascii(s))
		return invalid(why, "only ASCII is allowed in a URI (percent-encode other characters)");
	return 0;
}

int capstan_check_email(const char *s, const char **why)
{
	const char *at = s ? strrchr(s, '@') : NULL;

	if (!s || !*s)
		return invalid(why, "empty address");
	if (!at || at == s)
		return invalid(why, "expected local@domain");
	if (strlen(s) > 254)
		return invalid(why, "address longer than 254 characters");
	if (has_control_or_space(s) || memchr(s, '@', (size_t)(at - s)))
		return invalid(why, "spaces, control characters and a second '@' are not allowed");
	if (has_non_ascii(s))
		return invalid(why, "only ASCII is allowed in an e-mail address");
	return check_hostname(at + 1, why);
}

int capstan_check_san(capstan_san_type type, const char *s, const char **why)
{
	unsigned char ip[16];
	size_t len;

	switch (type) {
	case CAPSTAN_SAN_DNS:
		return capstan_check_dns_name(s, why);
	case CAPSTAN_SAN_IP:
		return capstan_parse_ip(s, ip, &len, why);
	case CAPSTAN_SAN_URI:
		return capstan_check_uri(s, why);
	case CAPSTAN_SAN_EMAIL:
		return capstan_check_email(s, why);
	}
	return invalid(why, "unknown SAN type");
}

int capstan_check_identifier(const char *s, const char **why)
{
	size_t len = s ? strlen(s) : 0;

	if (len == 0)
		return invalid(why, "empty name");
	if (len > 64)
		return invalid(why, "longer than 64 characters");
	if (s[0] == '.' || s[0] == '-')
		return invalid(why, "must not start with '.' or '-'");
	for (size_t i = 0; i < len; i++)
		if (!isalnum((unsigned char)s[i]) && !strchr("._-", s[i]))
			return invalid(why, "only letters, digits, '.', '_' and '-' are allowed");
	return 0;
}

int capstan_check_subject_value(const char *s, const char **why)
{
	size_t len = s ? strlen(s) : 0;

	if (len == 0)
		return invalid(why, "empty value");
	if (len > 64)
		return invalid(why, "longer than 64 characters (the X.509 upper bound)");
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return invalid(why, "control characters are not allowed");
	return 0;
}

void capstan_format_duration(int64_t seconds, char *buf, size_t size)
{
	static const struct { int64_t unit; char suffix; } units[] = {
		{ 365 * CAPSTAN_DAY_SECONDS, 'y' }, { 7 * CAPSTAN_DAY_SECONDS, 'w' }, { CAPSTAN_DAY_SECONDS, 'd' }, { 3600, 'h' }, { 60, 'm' },
	};

	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (seconds >= units[i].unit && seconds % units[i].unit == 0) {
			snprintf(buf, size, "%lld%c", (long long)(seconds / units[i].unit), units[i].suffix);
			return;
		}
	}
	snprintf(buf, size, "%llds", (long long)seconds);
}

void capstan_format_time(time_t t, char *buf, size_t size)
{
	struct tm tm;

	if (!gmtime_r(&t, &tm) || strftime(buf, size, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		snprintf(buf, size, "%lld", (long long)t);
}
