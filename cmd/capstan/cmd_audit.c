/* capstan audit: the log of every change; --verify checks it (against
 * anchors kept elsewhere with --anchor FILE), --anchor prints its end for
 * keeping elsewhere, --reseal accepts a log an operator has looked at. */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <syslog.h>
#include <unistd.h>

#include "cli.h"

/* Anchor files are the operator's logs, often shared: 64 MiB is years of nights. */
#define MAX_ANCHOR_FILE (64u << 20)

/* The seal needs the passphrase: used when one is given, never prompted for
 * (reading and checking the log must work in a script that has none). */
static int unlock_if_given(cli *c, int needed)
{
	if (needed || c->passphrase_file || c->env_passphrase.data)
		return cli_unlock(c);
	return 0;
}

static int verify(cli *c, const char *anchor_file)
{
	capstan_buf text = CAPSTAN_BUF_INIT;
	capstan_audit_report r;
	int rc;

	if (anchor_file && capstan_file_read(&text, c->ctx, anchor_file, MAX_ANCHOR_FILE) < 0)
		return cli_error(c, "--anchor: %s", capstan_error_message(c->ctx));
	rc = capstan_audit_verify_ex(&r, c->ctx, anchor_file ? (const char *)text.data : NULL, text.len,
		anchor_file);
	capstan_buf_free(&text);
	if (rc < 0)
		return cli_fail(c);
	return out_audit_verified(c, &r, anchor_file);
}

/* Appends line to path: a regular file, never through a symlink. */
static int append_line(cli *c, const char *path, const capstan_buf *line)
{
	int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK, 0644);
	struct stat sb;
	int rc = 0;

	if (fd < 0)
		return cli_error(c, "--append: cannot open '%s': %s", path, strerror(errno));
	if (fstat(fd, &sb) < 0 || !S_ISREG(sb.st_mode))
		rc = cli_error(c, "--append: '%s' is not a regular file", path);
	else if (write(fd, line->data, line->len) != (ssize_t)line->len || write(fd, "\n", 1) != 1 ||
		 fsync(fd) < 0)
		rc = cli_error(c, "--append: cannot write '%s': %s", path, strerror(errno));
	close(fd);
	return rc;
}

static int anchor(cli *c, const char *append, int to_syslog)
{
	capstan_buf line = CAPSTAN_BUF_INIT;
	capstan_audit_report r;
	int rc = 0;

	if (capstan_audit_anchor(&line, &r, c->ctx) < 0)
		return cli_fail(c);
	if (append)
		rc = append_line(c, append, &line);
	if (rc == 0 && to_syslog) {
		openlog("capstan", LOG_PID, LOG_AUTHPRIV);
		syslog(LOG_NOTICE, "%s", (const char *)line.data);
		closelog();
	}
	if (rc == 0)
		rc = out_audit_anchor(c, &r, (const char *)line.data);
	capstan_buf_free(&line);
	return rc;
}

static int list(cli *c)
{
	capstan_audit_iter *it = NULL;
	capstan_audit_entry *e;
	size_t count = 0;
	int rc = 0, next;

	if (capstan_audit_iter_new(&it, c->ctx) < 0)
		return cli_fail(c);
	out_audit_begin(c);
	while ((next = capstan_audit_iter_next(&e, it)) == 0) {
		rc = out_audit_item(c, e, count++);
		capstan_audit_entry_free(e);
		if (rc != 0)
			break;
	}
	capstan_audit_iter_free(it);
	if (rc == 0 && next != CAPSTAN_ITEROVER)
		return cli_fail(c);
	return rc ? rc : out_audit_end(c, count);
}

/* With --verify, --anchor names the file of anchors to check against;
 * without, it asks for the log's end as an anchor. */
static int verifying(int argc, char **argv)
{
	for (int i = 0; i < argc && strcmp(argv[i], "--") != 0; i++)
		if (strcmp(argv[i], "--verify") == 0)
			return 1;
	return 0;
}

int cmd_audit(cli *c, int argc, char **argv)
{
	int verify_flag = 0, anchor_flag = 0, to_syslog = 0, reseal = 0, rc;
	const char *anchor_file = NULL, *append = NULL;
	const int checking = verifying(argc, argv);
	const cli_opt opts[] = {
		{ "verify", OPT_FLAG, &verify_flag },
		checking ? (cli_opt){ "anchor", OPT_VALUE, &anchor_file } : (cli_opt){ "anchor", OPT_FLAG, &anchor_flag },
		{ "append", OPT_VALUE, &append },
		{ "syslog", OPT_FLAG, &to_syslog },
		{ "reseal", OPT_FLAG, &reseal },
		{ NULL, 0, NULL },
	};

	if ((rc = cli_parse(c, argc, argv, opts, NULL, 0, NULL)) != 0)
		return rc;
	if (verify_flag + anchor_flag + reseal > 1)
		return cli_usage_error(c, "--verify, --anchor and --reseal are separate uses of audit");
	if ((append || to_syslog) && !anchor_flag)
		return cli_usage_error(c, "--append and --syslog go with --anchor");
	if ((rc = cli_setup(c)) != 0 || (rc = unlock_if_given(c, reseal)) != 0)
		return rc;
	if (verify_flag)
		return verify(c, anchor_file);
	if (anchor_flag)
		return anchor(c, append, to_syslog);
	if (reseal) {
		if (capstan_audit_reseal(c->ctx) < 0)
			return cli_fail(c);
		return out_audit_resealed(c);
	}
	return list(c);
}
