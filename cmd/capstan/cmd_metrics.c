/* capstan metrics: a Prometheus textfile for node_exporter. */
#include "cli.h"

int cmd_metrics(cli *c, int argc, char **argv)
{
	const char *out = NULL;
	const cli_opt opts[] = {
		{ "out", OPT_VALUE, &out },
		{ NULL, 0, NULL },
	};
	capstan_buf text = CAPSTAN_BUF_INIT;
	int rc;

	if ((rc = cli_parse(c, argc, argv, opts, NULL, 0, NULL)) != 0)
		return rc;
	if (!out)
		return cli_usage_error(c, "--out is required (node_exporter reads *.prom files; - for standard output)");
	if ((rc = cli_setup(c)) != 0)
		return rc;
	/* Written to a temporary file and renamed: the collector never reads half a file. */
	if (capstan_metrics(&text, c->ctx) < 0 || capstan_file_write(c->ctx, out, text.data, text.len, 0644) < 0)
		rc = cli_fail(c);
	else
		rc = out_written(c, out, "metrics", NULL);
	capstan_buf_free(&text);
	return rc;
}
