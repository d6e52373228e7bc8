/* DNS patterns and CIDRs for the api: filters. A pattern's '*' stands for
 * exactly one label, so "*.dev.internal" grants a.dev.internal but neither
 * dev.internal nor a.b.dev.internal: a grant never reaches further down the
 * tree than its author wrote. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <capstan/parse.h>

#include "netmatch.h"

int capstan_dns_pattern_check(const char *pattern, const char **why)
{
	char copy[256];
	size_t n = strlen(pattern);

	if (n == 0 || n >= sizeof(copy)) {
		*why = "1 to 253 characters";
		return -1;
	}
	/* Each '*' label stands for one label: check the name it could be. */
	memcpy(copy, pattern, n + 1);
	for (char *label = copy, *end; label; label = end ? end + 1 : NULL) {
		end = strchr(label, '.');
		size_t len = end ? (size_t)(end - label) : strlen(label);
		if (len == 1 && label[0] == '*')
			label[0] = 'x';
		else if (memchr(label, '*', len)) {
			*why = "'*' must be a whole label";
			return -1;
		}
	}
	if (!capstan_is_hostname(copy)) {
		*why = "not a host name pattern (labels of letters, digits and '-', or '*')";
		return -1;
	}
	return 0;
}

int capstan_dns_pattern_match(const char *pattern, const char *name)
{
	while (*pattern && *name) {
		const char *pe = strchr(pattern, '.'), *ne = strchr(name, '.');
		size_t pl = pe ? (size_t)(pe - pattern) : strlen(pattern);
		size_t nl = ne ? (size_t)(ne - name) : strlen(name);
		if (!(pl == 1 && *pattern == '*' && nl > 0) && (pl != nl || strncasecmp(pattern, name, pl) != 0))
			return 0;
		if (!pe != !ne)
			return 0;
		if (!pe)
			return 1;
		pattern = pe + 1;
		name = ne + 1;
	}
	return 0;
}

/* Address and prefix length of "ADDR[/N]"; -1 when malformed. */
static int cidr_parse(const char *cidr, unsigned char addr[16], size_t *len, unsigned *bits, const char **why)
{
	char text[64];
	const char *slash = strchr(cidr, '/');
	size_t n = slash ? (size_t)(slash - cidr) : strlen(cidr);
	const char *w = NULL;

	if (n == 0 || n >= sizeof(text)) {
		*why = "not an address";
		return -1;
	}
	memcpy(text, cidr, n);
	text[n] = '\0';
	if (capstan_parse_ip(text, addr, len, &w) < 0) {
		*why = w ? w : "not an address";
		return -1;
	}
	*bits = (unsigned)(*len * 8);
	if (slash) {
		char *end;
		long v = slash[1] >= '0' && slash[1] <= '9' ? strtol(slash + 1, &end, 10) : -1;
		if (v < 0 || *end || v > (long)(*len * 8)) {
			*why = "bad prefix length";
			return -1;
		}
		*bits = (unsigned)v;
	}
	return 0;
}

static int prefix_equal(const unsigned char *a, const unsigned char *b, unsigned bits)
{
	unsigned whole = bits / 8, rest = bits % 8;

	if (memcmp(a, b, whole) != 0)
		return 0;
	return rest == 0 || ((a[whole] ^ b[whole]) & (0xffu << (8 - rest)) & 0xff) == 0;
}

int capstan_cidr_check(const char *cidr, const char **why)
{
	unsigned char addr[16];
	size_t len;
	unsigned bits;

	if (cidr_parse(cidr, addr, &len, &bits, why) < 0)
		return -1;
	/* 10.1.0.0/8 is a typo more often than a wish: refuse host bits. */
	for (unsigned i = bits; i < len * 8; i++)
		if (addr[i / 8] & (0x80u >> (i % 8))) {
			*why = "bits set below the prefix length";
			return -1;
		}
	return 0;
}

int capstan_cidr_match(const char *cidr, const char *ip)
{
	unsigned char net[16], addr[16];
	size_t net_len, len;
	unsigned bits;
	const char *why;

	if (cidr_parse(cidr, net, &net_len, &bits, &why) < 0 || capstan_parse_ip(ip, addr, &len, NULL) < 0)
		return 0;
	return len == net_len && prefix_equal(net, addr, bits);
}
