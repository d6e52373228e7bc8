/*
 * capstan — files written safely: a temporary file in the target's directory,
 * created with the final mode, written, fsynced, renamed over the target, and
 * the directory fsynced. A failure leaves the target as it was.
 */
#ifndef CAPSTAN_FILE_H
#define CAPSTAN_FILE_H

#include "common.h"

CAPSTAN_BEGIN_API

/* PATH "-" writes to standard output instead. */
CAPSTAN_WARN_UNUSED int capstan_file_write(capstan_ctx *ctx, const char *path,
	const void *data, size_t len, unsigned mode);

/*
 * The same in steps, for outputs that must be known writable before the work
 * that fills them: capstan_file_begin creates the temporary file (failing if
 * the directory is not writable), capstan_file_commit writes, fsyncs and
 * renames it, capstan_file_abort removes it. Both end the handle (free it,
 * whatever the outcome): each *out gets exactly one of them.
 */
typedef struct capstan_file capstan_file;
CAPSTAN_WARN_UNUSED int capstan_file_begin(capstan_file **out, capstan_ctx *ctx, const char *path,
	unsigned mode);
CAPSTAN_WARN_UNUSED int capstan_file_commit(capstan_file *file, const void *data, size_t len);
/* Writes len bytes into the file before capstan_file_commit (which may then
 * add none), for outputs produced in pieces; the target still changes only
 * at the commit. A failure leaves the handle to capstan_file_abort. */
CAPSTAN_WARN_UNUSED int capstan_file_append(capstan_file *file, const void *data, size_t len);
void capstan_file_abort(capstan_file *file);
/* The temporary file's path, for a writer that opens it by name (a
 * database), or NULL when writing to standard output. The handle's string. */
const char *capstan_file_temp(const capstan_file *file);

/* Reads a whole file of at most max_len bytes into *out, the caller's:
 * capstan_buf_free(). */
CAPSTAN_WARN_UNUSED int capstan_file_read(capstan_buf *out, capstan_ctx *ctx,
	const char *path, size_t max_len);

CAPSTAN_END_API

#endif
