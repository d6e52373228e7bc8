/* capstan lint: certificates against RFC 5280 and capstan's profile. */
#include <stdlib.h>

#include "cli.h"

#define MAX_LINT_FILE (16 * 1024 * 1024)

/* One file: its findings said (output_lint.c). 1 when it has an error or
 * cannot be read (then one capstan: line), 0 otherwise. */
static int lint_file(cli *c, out_lint *o, const char *file)
{
	capstan_lint_findings f = CAPSTAN_LINT_FINDINGS_INIT;
	capstan_buf data = CAPSTAN_BUF_INIT;
	int failed;

	if (capstan_file_read(&data, c->ctx, file, MAX_LINT_FILE) < 0) {
		cli_fail(c);
		return 1;
	}
	if (capstan_lint(&f, c->ctx, data.data, data.len) < 0) {
		cli_error(c, "%s: %s", file, capstan_error_message(c->ctx));
		failed = 1;
	} else {
		failed = out_lint_file(o, file, &f) != EXIT_OK;
	}
	capstan_lint_findings_free(&f);
	capstan_buf_free(&data);
	return failed;
}

int cmd_lint(cli *c, int argc, char **argv)
{
	const cli_opt opts[] = { { NULL, 0, NULL } };
	const char **files = calloc((size_t)argc + 1, sizeof(*files));
	out_lint *o = NULL;
	size_t n = 0;
	int rc, failed = 0;

	if (!files)
		return cli_error(c, "out of memory");
	if ((rc = cli_parse(c, argc, argv, opts, files, (size_t)argc, &n)) != 0)
		goto done;
	if (n == 0) {
		rc = cli_usage_error(c, "a certificate file is required");
		goto done;
	}
	if ((rc = cli_setup(c)) != 0)
		goto done;
	if (!(o = out_lint_begin(c))) {
		rc = cli_error(c, "out of memory");
		goto done;
	}
	/* Every file is linted, whatever the ones before it held. */
	for (size_t i = 0; i < n; i++)
		failed |= lint_file(c, o, files[i]);
	rc = out_lint_end(o);
	if (rc == EXIT_OK && failed)
		rc = EXIT_FAILED;
done:
	free(files);
	return rc;
}
