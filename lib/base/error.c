/* Errors: one line per context, naming what is wrong. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "ctx.h"

static int record(capstan_ctx *ctx, int code, unsigned subject, const char *fmt, va_list ap)
	CAPSTAN_PRINTF(4, 0);
static int record(capstan_ctx *ctx, int code, unsigned subject, const char *fmt, va_list ap)
{
	char message[sizeof(ctx->error_message)];

	if (!ctx)
		return code;
	/* Formatted aside first: callers may prefix the current message, passing
	 * capstan_error_message(ctx) as an argument. */
	vsnprintf(message, sizeof(message), fmt, ap);
	memcpy(ctx->error_message, message, sizeof(message));
	ctx->error_code = code;
	ctx->error_subject = subject;
	/* One line, and nothing for a terminal to act on: a message quoting user
	 * input (a CSR's CN, a file name) must not smuggle in a newline or an
	 * escape sequence. */
	for (unsigned char *p = (unsigned char *)ctx->error_message; *p; p++)
		if (*p == '\n' || *p == '\r')
			*p = ' ';
		else if (*p < 0x20 || *p == 0x7f)
			*p = '?';
	return code;
}

int capstan_error(capstan_ctx *ctx, int code, const char *fmt, ...)
{
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = record(ctx, code, CAPSTAN_FIELD_NONE, fmt, ap);
	va_end(ap);
	return rc;
}

int capstan_error_at(capstan_ctx *ctx, int code, unsigned subject, const char *fmt, ...)
{
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = record(ctx, code, subject, fmt, ap);
	va_end(ap);
	return rc;
}

int capstan_error_subject_set(capstan_ctx *ctx, int code, unsigned subject)
{
	if (ctx)
		ctx->error_subject = subject;
	return code;
}

int capstan_opts_check(capstan_ctx *ctx, const void *opts, unsigned version, unsigned want, const char *name)
{
	if (!opts)
		return capstan_error(ctx, CAPSTAN_EINVALID, "no %s given", name);
	if (version != want)
		return capstan_error(ctx, CAPSTAN_EINVALID,
			"%s has version %u, and this library takes version %u: initialise it with its _INIT macro",
			name, version, want);
	return 0;
}

int capstan_error_oom(capstan_ctx *ctx)
{
	return capstan_error(ctx, CAPSTAN_ERROR, "out of memory");
}

const char *capstan_error_message(const capstan_ctx *ctx)
{
	return ctx ? ctx->error_message : "no context";
}

int capstan_error_last(const capstan_ctx *ctx)
{
	return ctx ? ctx->error_code : CAPSTAN_ERROR;
}

unsigned capstan_error_subject(const capstan_ctx *ctx)
{
	return ctx ? ctx->error_subject : CAPSTAN_FIELD_NONE;
}
