/* Errors: one line per context, naming what is wrong. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "ctx.h"

int capstan_error(capstan_ctx *ctx, int code, const char *fmt, ...)
{
	char message[sizeof(ctx->error_message)];
	va_list ap;

	if (!ctx)
		return code;
	/* Formatted aside first: callers may prefix the current message, passing
	 * capstan_error_message(ctx) as an argument. */
	va_start(ap, fmt);
	vsnprintf(message, sizeof(message), fmt, ap);
	va_end(ap);
	memcpy(ctx->error_message, message, sizeof(message));
	ctx->error_code = code;
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
