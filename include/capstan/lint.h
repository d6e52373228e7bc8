/*
 * capstan — linting certificates: RFC 5280's rules and the profile capstan
 * issues by, on any certificate (PEM or DER, capstan's or anyone's). The same
 * checks run on every certificate capstan signs before it is stored; the
 * rules and their names are in capstan(1), LINT RULES.
 */
#ifndef CAPSTAN_LINT_H
#define CAPSTAN_LINT_H

#include "common.h"

CAPSTAN_BEGIN_API

typedef enum {
	CAPSTAN_LINT_ERROR = 0,   /* breaks RFC 5280 or capstan's policy */
	CAPSTAN_LINT_WARNING      /* a SHOULD, or a choice most verifiers dislike */
} capstan_lint_severity;

/* One rule a certificate breaks. */
typedef struct {
	size_t cert;                    /* which certificate of the input, from 0 */
	capstan_lint_severity severity;
	const char *rule;               /* a stable short name, "serial-too-long" (static) */
	char *message;                  /* one line, without the rule's name */
} capstan_lint_finding;

typedef struct {
	capstan_lint_finding *items;
	size_t count;
	size_t cap;
	size_t certs;                   /* certificates read */
	size_t errors;                  /* findings of CAPSTAN_LINT_ERROR */
} capstan_lint_findings;

#define CAPSTAN_LINT_FINDINGS_INIT { NULL, 0, 0, 0, 0 }

/* "error" or "warning" (static). */
const char *capstan_lint_severity_name(capstan_lint_severity severity);

/*
 * Lints every certificate of DATA: PEM with one or more certificates (other
 * PEM blocks are skipped), or one DER certificate. Findings are appended to
 * *out (initialised with CAPSTAN_LINT_FINDINGS_INIT; free it with
 * capstan_lint_findings_free even on failure). Returns 0 when the input was
 * read, whatever it breaks; CAPSTAN_EINVALID when it holds no certificate.
 */
CAPSTAN_WARN_UNUSED int capstan_lint(capstan_lint_findings *out, capstan_ctx *ctx, const unsigned char *data,
	size_t len);
void capstan_lint_findings_free(capstan_lint_findings *findings);

CAPSTAN_END_API

#endif
