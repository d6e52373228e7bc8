/* Filling capstan_buf: every buffer the library returns is followed by a NUL
 * byte that len does not count, so text (PEM) can be used as a C string. */
#ifndef CAPSTAN_LIB_BUFFER_H
#define CAPSTAN_LIB_BUFFER_H

#include "ctx.h"

/* Replaces buf's contents with a copy of len bytes (wiping the old ones). */
int capstan_buf_set(capstan_ctx *ctx, capstan_buf *buf, const void *data, size_t len);
/* Appends len bytes. */
int capstan_buf_append(capstan_ctx *ctx, capstan_buf *buf, const void *data, size_t len);

#endif
