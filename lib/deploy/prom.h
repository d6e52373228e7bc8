/* Prometheus text exposition: one sample line, its label values escaped.
 * metrics.c (certificates, trust) and deploy.c (the deploy ledger) both
 * write samples: every label value goes through here, whatever its source. */
#ifndef CAPSTAN_LIB_PROM_H
#define CAPSTAN_LIB_PROM_H

#include "base/base.h"

/* Appends `metric{name="value",...} value\n` for the NULL-terminated list of
 * label name/value pairs (a NULL value is written empty); \, " and newline
 * in a value are escaped as the exposition format asks. */
int capstan_prom_sample(capstan_ctx *ctx, capstan_buf *out, const char *metric, const char *const *labels,
	long long value);

#endif
