/* Name and address patterns of the api: filters (netmatch.c): checked when
 * the configuration is loaded, matched on every request. */
#ifndef CAPSTAN_LIB_NETMATCH_H
#define CAPSTAN_LIB_NETMATCH_H

/* A DNS pattern: host-name labels, any of which may be '*' (exactly one
 * label). 0, or -1 and *why. */
int capstan_dns_pattern_check(const char *pattern, const char **why);
/* 1 when name matches pattern (case-insensitive), else 0. */
int capstan_dns_pattern_match(const char *pattern, const char *name);
/* An IPv4 or IPv6 CIDR ("10.0.0.0/8"); an address alone is /32 or /128.
 * Bits below the prefix must be zero. 0, or -1 and *why. */
int capstan_cidr_check(const char *cidr, const char **why);
/* 1 when the address ip (text) lies in cidr, else 0 (also when unparsable). */
int capstan_cidr_match(const char *cidr, const char *ip);

#endif
