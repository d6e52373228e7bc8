/* renew --due --bundle-dir DIR [--exec CMD]: deliver what the deploy ledger
 * says is owed — each bundle rendered into DIR/ENV/SERVICE[/HOST] and its
 * reload hook run — recording each outcome, so that what failed is retried by
 * the next run until it succeeds. */
#include <errno.h>
#include <signal.h>
#include <time.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli.h"

/* The hook's environment: what was delivered, and nothing secret (the
 * passphrase and store password were taken out of ours when read). */
static void hook_env(const capstan_deploy_item *it)
{
	unsetenv("CAPSTAN_PASSPHRASE");
	unsetenv("CAPSTAN_STORE_PASSWORD");
	setenv("CAPSTAN_ENV", it->env, 1);
	setenv("CAPSTAN_SERVICE", it->service, 1);
	setenv("CAPSTAN_HOST", it->host, 1);
	setenv("CAPSTAN_BUNDLE", it->path, 1);
	setenv("CAPSTAN_RENEWED", it->renewed, 1);
	setenv("CAPSTAN_REASON", it->why, 1);
}

/* Runs the hook in a process group of its own, killed (group and all) when it
 * outlives timeout seconds: a reload that hangs is a failure, owed like any
 * other, not a job that never ends. 0, or -1 with what went wrong in why. */
static int run_hook(const char *cmd, int64_t timeout, const capstan_deploy_item *it, char *why, size_t size)
{
	struct timespec pause = { 0, 50 * 1000 * 1000 };
	int64_t waited_ms = 0;
	pid_t pid, done;
	int status;

	fflush(NULL);
	if ((pid = fork()) < 0) {
		snprintf(why, size, "--exec: cannot start a process: %s", strerror(errno));
		return -1;
	}
	if (pid == 0) {
		setpgid(0, 0);
		hook_env(it);
		execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
		_exit(127);
	}
	setpgid(pid, pid);
	while ((done = waitpid(pid, &status, WNOHANG)) == 0 || (done < 0 && errno == EINTR)) {
		if (done == 0 && waited_ms >= timeout * 1000) {
			kill(-pid, SIGKILL);
			while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
				;
			snprintf(why, size, "the hook did not finish in %lld s (--exec-timeout): killed", (long long)timeout);
			return -1;
		}
		nanosleep(&pause, NULL);
		waited_ms += 50;
	}
	if (done < 0) {
		snprintf(why, size, "--exec: cannot wait for the hook: %s", strerror(errno));
		return -1;
	}
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return 0;
	snprintf(why, size, "the hook failed (%s %d)", WIFEXITED(status) ? "exit status" : "signal",
		WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
	return -1;
}

static const char *where(const capstan_deploy_item *it, char *buf, size_t size)
{
	snprintf(buf, size, "%s/%s%s%s", it->env, it->service, *it->host ? "/" : "", it->host);
	return buf;
}

/* One owed bundle: rendered, swapped in, hook run, outcome recorded. */
static int deliver(cli *c, const capstan_deploy_opts *o, const capstan_deploy_item *it, const char *cmd,
	int64_t timeout)
{
	capstan_bundle *b = NULL;
	char name[300], why[300];
	int rc;

	where(it, name, sizeof(name));
	if (capstan_deploy_render(&b, c->ctx, o, it) < 0) {
		fprintf(stderr, "capstan: redeploy %s: %s (owed: the next renew --due --bundle-dir retries it)\n", name,
			capstan_error_message(c->ctx));
		return EXIT_FAILED;
	}
	for (size_t i = 0; i < capstan_bundle_warning_count(b); i++)
		fprintf(stderr, "capstan: warning: %s\n", capstan_bundle_warning(b, i));
	capstan_bundle_free(b);
	rc = cmd ? run_hook(cmd, timeout, it, why, sizeof(why)) : 0;
	if (cmd && capstan_deploy_finish(c->ctx, it, rc < 0 ? why : NULL) < 0)
		return cli_fail(c);
	if (rc < 0) {
		fprintf(stderr, "capstan: redeploy %s: %s (owed: the next renew --due --bundle-dir runs it again)\n", name,
			why);
		return EXIT_FAILED;
	}
	if (!c->quiet && !c->json)
		printf("redeployed %s to %s (%s%s%s)\n", name, it->path, *it->renewed ? "renewed: " : "",
			*it->renewed ? it->renewed : "", *it->renewed ? "" : it->why);
	return EXIT_OK;
}

int redeploy_owed(cli *c, const capstan_deploy_opts *o, const char *cmd, int64_t timeout, int dry_run)
{
	capstan_deploy_item *items = NULL;
	size_t n = 0;
	int rc = EXIT_OK;

	if (capstan_deploy_owed(&items, &n, c->ctx, o) < 0)
		return cli_fail(c);
	for (size_t i = 0; i < n; i++) {
		char name[300];
		int one;
		if (dry_run) {
			if (!c->quiet)
				printf("would redeploy %s to %s (%s)\n", where(&items[i], name, sizeof(name)), items[i].path,
					items[i].why);
			continue;
		}
		if ((one = deliver(c, o, &items[i], cmd, timeout)) != EXIT_OK && rc == EXIT_OK)
			rc = one;
	}
	capstan_deploy_items_free(items, n);
	return rc;
}
