/* capstan metrics: a Prometheus textfile for node_exporter. */
#include "cli.h"

static int to_file(const void *data, size_t len, void *payload)
{
	return capstan_file_append(payload, data, len);
}

int cmd_metrics(cli *c, int argc, char **argv)
{
	const char *out = NULL;
	const cli_opt opts[] = {
		{ "out", OPT_VALUE, &out },
		{ NULL, 0, NULL },
	};
	capstan_file *f = NULL;
	int rc;

	if ((rc = cli_parse(c, argc, argv, opts, NULL, 0, NULL)) != 0)
		return rc;
	if (!out)
		return cli_usage_error(c, "--out is required (node_exporter reads *.prom files; - for standard output)");
	if ((rc = cli_setup(c)) != 0)
		return rc;
	/* Streamed into a temporary file and renamed: the collector never reads
	 * half a file, and memory stays flat however many certificates there are. */
	if (capstan_file_begin(&f, c->ctx, out, 0644) < 0)
		return cli_fail(c);
	if (capstan_metrics_write(c->ctx, to_file, f) < 0) {
		capstan_file_abort(f);
		return cli_fail(c);
	}
	if (capstan_file_commit(f, NULL, 0) < 0)
		return cli_fail(c);
	return out_written(c, out, "metrics", NULL);
}
