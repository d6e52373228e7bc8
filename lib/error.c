/* Errors: one line per context, naming what is wrong. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "ctx.h"

int capstan_error(capstan_ctx *ctx, int code, const char *fmt, ...)
{
	va_list ap;

	if (!ctx)
		return code;
	ctx->error_code = code;
	va_start(ap, fmt);
	vsnprintf(ctx->error_message, sizeof(ctx->error_message), fmt, ap);
	va_end(ap);
	/* One line: a message quoting user input must not smuggle in a newline. */
	for (char *p = ctx->error_message; *p; p++)
		if (*p == '\n' || *p == '\r')
			*p = ' ';
	return code;
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
