/* Issuance requests: the SAN list a leaf gets, checked against its profile. */
#ifndef CAPSTAN_LIB_REQUEST_H
#define CAPSTAN_LIB_REQUEST_H

#include <capstan/ca.h>
#include <capstan/config.h>

#include "base/base.h"

/*
 * Builds the SANs ("DNS:x", "IP:x", "URI:x", "email:x") for a leaf from the
 * options, or from csr_sans when the options name none; adds the CN when it is
 * a host name or an address and the profile serves TLS; checks every value and
 * the profile's needs. Names the offending value on error.
 */
int capstan_request_sans(capstan_ctx *ctx, const capstan_issue_opts *opts, const char *cn,
	const capstan_strlist *csr_sans, capstan_strlist *out);

/* The one mapping of a configured certificate to an issuance request, for
 * apply and for the loader's own checks: *o (initialised by the caller) points
 * into c. d: the effective key and lifetimes (NULL: none); env and service
 * may be NULL. */
void capstan_config_issue_opts(const capstan_config_cert *c, const capstan_config_defaults *d, const char *env,
	const char *service, capstan_issue_opts *o);
/* The configuration's words for an error's subject (capstan_field bits) in the
 * certificate at PATH: " (PATH.dns or .ip)", "" when none is a key of it. */
void capstan_config_subject_hint(unsigned subject, const char *path, char *out, size_t size);

#endif
