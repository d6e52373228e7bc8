/* Issuance requests: the SAN list a leaf gets, checked against its profile. */
#ifndef CAPSTAN_LIB_REQUEST_H
#define CAPSTAN_LIB_REQUEST_H

#include <capstan/ca.h>

#include "base/base.h"

/*
 * Builds the SANs ("DNS:x", "IP:x", "URI:x", "email:x") for a leaf from the
 * options, or from csr_sans when the options name none; adds the CN when it is
 * a host name or an address and the profile serves TLS; checks every value and
 * the profile's needs. Names the offending value on error.
 */
int capstan_request_sans(capstan_ctx *ctx, const capstan_issue_opts *opts, const char *cn,
	const capstan_strlist *csr_sans, capstan_strlist *out);

#endif
