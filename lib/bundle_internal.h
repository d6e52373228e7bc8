/* The bundle's insides, for bundle.c, bundle_write.c and tar.c. */
#ifndef CAPSTAN_LIB_BUNDLE_INTERNAL_H
#define CAPSTAN_LIB_BUNDLE_INTERNAL_H

#include <capstan/bundle.h>

#include "ctx.h"

typedef struct {
	char *path;      /* a plain file name */
	unsigned mode;   /* 0600 for anything secret, else 0644 */
	capstan_buf data;
} capstan_bundle_file;

struct capstan_bundle {
	capstan_bundle_file *files;
	size_t count, alloc;
};

/* Adds a copy of data; a second file of the same name is an error. */
int capstan_bundle_add(capstan_ctx *ctx, capstan_bundle *b, const char *path, unsigned mode,
	const void *data, size_t len);

#endif
