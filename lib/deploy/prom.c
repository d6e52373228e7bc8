/* Prometheus sample lines (see prom.h). */
#include <stdio.h>
#include <string.h>

#include "prom.h"

static int put(capstan_ctx *ctx, capstan_buf *out, const char *text)
{
	return capstan_buf_append(ctx, out, text, strlen(text));
}

/* A label value with \, " and newline escaped. */
static int put_value(capstan_ctx *ctx, capstan_buf *out, const char *value)
{
	int rc = 0;

	for (const char *p = value ? value : ""; rc == 0 && *p; p++) {
		const char *esc = *p == '\\' ? "\\\\" : *p == '"' ? "\\\"" : *p == '\n' ? "\\n" : NULL;
		rc = esc ? capstan_buf_append(ctx, out, esc, 2) : capstan_buf_append(ctx, out, p, 1);
	}
	return rc;
}

int capstan_prom_sample(capstan_ctx *ctx, capstan_buf *out, const char *metric, const char *const *labels,
	long long value)
{
	char tail[32];
	int rc = put(ctx, out, metric);

	for (size_t i = 0; rc == 0 && labels[i]; i += 2) {
		if ((rc = put(ctx, out, i ? "," : "{")) == 0 && (rc = put(ctx, out, labels[i])) == 0 &&
		    (rc = put(ctx, out, "=\"")) == 0 && (rc = put_value(ctx, out, labels[i + 1])) == 0)
			rc = put(ctx, out, "\"");
	}
	snprintf(tail, sizeof(tail), "%s %lld\n", labels[0] ? "}" : "", value);
	return rc ? rc : put(ctx, out, tail);
}
