/* issue --batch's JSON lines (cmd/capstan/batch_input.c): every line parsed and
 * checked before anything is issued, whatever the bytes. The reader is the
 * tool's, so this target links the tool's objects (all but main.o). */
#include "fuzz.h"

#include <unistd.h>

#include "cli.h"

static char path[] = "/tmp/capstan-fuzz-batch-XXXXXX";

static void remove_input(void)
{
	unlink(path);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int fd = -1;
	batch_input *in = NULL;
	cli c;

	/* The reader takes a file (a regular one): each input is written to the same. */
	if (fd < 0) {
		if ((fd = mkstemp(path)) < 0)
			abort();
		atexit(remove_input);
	}
	if (ftruncate(fd, 0) < 0 || pwrite(fd, data, size, 0) != (ssize_t)size)
		abort();
	memset(&c, 0, sizeof(c));
	c.ctx = fuzz_ctx();
	if (batch_input_read(&c, path, &in) == 0)
		batch_input_free(in);
	return 0;
}
