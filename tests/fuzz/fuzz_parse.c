/* The value parsers: durations, IP addresses, DNS names, URIs, e-mail
 * addresses, identifiers, subject values; what parses prints back and parses again. */
#include <stdio.h>

#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = fuzz_string(data, size), text[64];
	unsigned char ip[16], again[16];
	size_t ip_len = 0, again_len = 0;
	int64_t seconds, back;
	const char *why;

	if (capstan_parse_duration(s, &seconds, &why) == 0) {
		capstan_format_duration(seconds, text, sizeof(text));
		if (capstan_parse_duration(text, &back, &why) != 0 || back != seconds)
			abort(); /* a duration printed must parse back to itself */
	}
	if (capstan_parse_ip(s, ip, &ip_len, &why) == 0) {
		if (capstan_ip_to_text(ip, ip_len, text, sizeof(text)) != 0 ||
		    capstan_parse_ip(text, again, &again_len, &why) != 0 || again_len != ip_len ||
		    memcmp(ip, again, ip_len) != 0)
			abort();
	}
	(void)capstan_check_dns_name(s, &why);
	(void)capstan_is_hostname(s);
	(void)capstan_check_uri(s, &why);
	(void)capstan_check_email(s, &why);
	(void)capstan_check_identifier(s, &why);
	(void)capstan_check_subject_value(s, &why);
	free(s);
	return 0;
}
