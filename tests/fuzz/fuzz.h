/* Shared by the libFuzzer targets: one library context per process. */
#ifndef CAPSTAN_FUZZ_H
#define CAPSTAN_FUZZ_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <capstan/capstan.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static inline capstan_ctx *fuzz_ctx(void)
{
	static capstan_ctx *ctx;

	if (!ctx && capstan_ctx_new(&ctx) < 0)
		abort();
	return ctx;
}

/* The input as a NUL-terminated string (the caller frees). */
static inline char *fuzz_string(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);

	if (!s)
		abort();
	memcpy(s, data, size);
	s[size] = '\0';
	return s;
}

#endif
