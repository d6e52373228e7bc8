/*
 * capstan — checked parsers for user input: durations, IP addresses, DNS names,
 * URIs, e-mail addresses and identifiers. None of them uses atoi/strtol blindly:
 * each rejects trailing junk, overflow and empty input.
 *
 * Each returns 0 when the input is acceptable, else CAPSTAN_EINVALID and, when
 * why is not NULL, a static string (never freed) saying what is wrong. None
 * needs a context; all are safe on any thread.
 */
#ifndef CAPSTAN_PARSE_H
#define CAPSTAN_PARSE_H

#include "common.h"

CAPSTAN_BEGIN_API

/* "90d", "12h", "30m", "2w", "1y" (365 days), "45s"; a bare integer means days.
 * The result, in seconds, is positive and at most 1000 years. */
int capstan_parse_duration(const char *s, int64_t *seconds, const char **why);

/* IPv4 dotted quad or IPv6; out receives 4 or 16 bytes in network order. */
int capstan_parse_ip(const char *s, unsigned char out[16], size_t *out_len, const char **why);

/* The canonical text of a 4- or 16-byte address (inet_ntop); size >= 46. */
int capstan_ip_to_text(const unsigned char *ip, size_t len, char *out, size_t size);

/* A DNS name for a SAN: LDH labels, optional leading "*." wildcard label. */
int capstan_check_dns_name(const char *s, const char **why);
/* True when s is a DNS host name (no wildcard): used to copy a CN into the SAN. */
int capstan_is_hostname(const char *s);
int capstan_check_uri(const char *s, const char **why);
int capstan_check_email(const char *s, const char **why);

typedef enum {
	CAPSTAN_SAN_DNS = 0,
	CAPSTAN_SAN_IP,
	CAPSTAN_SAN_URI,
	CAPSTAN_SAN_EMAIL
} capstan_san_type;

/* The one check of a SAN value of TYPE, as the issuer applies it: every front
 * end (flags, configuration, batch lines) calls this, so none accepts a value
 * the issuer would refuse. */
int capstan_check_san(capstan_san_type type, const char *s, const char **why);

/* Names of environments, certificates and services: they become file names in
 * bundles, so 1-64 of [A-Za-z0-9._-], not starting with '.' or '-'. */
int capstan_check_identifier(const char *s, const char **why);

/* A subject attribute value (CN, O): 1-64 characters, no control characters. */
int capstan_check_subject_value(const char *s, const char **why);

/* Formats seconds as the shortest exact duration ("90d", "12h"). buf >= 24 bytes. */
void capstan_format_duration(int64_t seconds, char *buf, size_t size);

/* RFC 3339 UTC ("2026-11-23T18:53:21Z"). buf >= 21 bytes. */
void capstan_format_time(time_t t, char *buf, size_t size);

CAPSTAN_END_API

#endif
