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

extern char **environ;

/* What the hook is told, by name: the documented CAPSTAN_* values. */
static const char *const hook_vars[] = {
	"CAPSTAN_ENV", "CAPSTAN_SERVICE", "CAPSTAN_HOST", "CAPSTAN_BUNDLE", "CAPSTAN_RENEWED", "CAPSTAN_REASON",
};
#define HOOK_VARS (sizeof(hook_vars) / sizeof(hook_vars[0]))

/* Whether the entry NAME=VALUE of an environment has this name. */
static int named(const char *entry, const char *name)
{
	size_t n = strlen(name);

	return strncmp(entry, name, n) == 0 && entry[n] == '=';
}

static int excluded(const char *entry)
{
	for (size_t i = 0; cli_secret_env[i]; i++)
		if (named(entry, cli_secret_env[i]))
			return 1;
	for (size_t i = 0; i < HOOK_VARS; i++)
		if (named(entry, hook_vars[i]))
			return 1;
	return 0;
}

static char *env_entry(const char *name, const char *value)
{
	size_t size = strlen(name) + strlen(value) + 2;
	char *entry = malloc(size);

	if (entry)
		snprintf(entry, size, "%s=%s", name, value);
	return entry;
}

static void hook_env_free(char **env)
{
	if (!env)
		return;
	for (size_t i = 0; env[i]; i++)
		free(env[i]);
	free(env);
}

/* The hook's environment, given to execve explicitly rather than inherited:
 * what was delivered (hook_vars), and ours less every secret variable (main
 * took those out already; this holds if one is ever set again), with a PATH
 * (a default when there is none). Built before fork, as malloc may not be
 * safe in the child. NULL when out of memory. */
static char **hook_env(const capstan_deploy_item *it)
{
	const char *values[HOOK_VARS] = { it->env, it->service, it->host, it->path, it->renewed, it->why };
	size_t n = 0, count = 0;
	int has_path = 0;
	char **env;

	while (environ && environ[count])
		count++;
	if (!(env = calloc(count + HOOK_VARS + 2, sizeof(*env))))
		return NULL;
	for (size_t i = 0; i < count; i++) {
		if (excluded(environ[i]))
			continue;
		has_path |= named(environ[i], "PATH");
		if (!(env[n++] = strdup(environ[i])))
			goto oom;
	}
	for (size_t i = 0; i < HOOK_VARS; i++)
		if (!(env[n++] = env_entry(hook_vars[i], values[i])))
			goto oom;
	if (!has_path && !(env[n++] = strdup("PATH=/usr/local/bin:/usr/bin:/bin")))
		goto oom;
	return env;
oom:
	hook_env_free(env);
	return NULL;
}

/* Runs the hook in a process group of its own, killed (group and all) when it
 * outlives timeout seconds: a reload that hangs is a failure, owed like any
 * other, not a job that never ends. 0, or -1 with what went wrong in why. */
int cli_run_hook(const char *cmd, int64_t timeout, const capstan_deploy_item *it, char *why, size_t size)
{
	struct timespec pause = { 0, 50 * 1000 * 1000 };
	char **env = hook_env(it);
	int64_t waited_ms = 0;
	pid_t pid, done;
	int status;

	if (!env) {
		snprintf(why, size, "--exec: out of memory");
		return -1;
	}
	fflush(NULL);
	if ((pid = fork()) < 0) {
		snprintf(why, size, "--exec: cannot start a process: %s", strerror(errno));
		hook_env_free(env);
		return -1;
	}
	if (pid == 0) {
		setpgid(0, 0);
		execve("/bin/sh", (char *const[]){ "sh", "-c", (char *)cmd, NULL }, env);
		_exit(127);
	}
	hook_env_free(env);
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

/* "redeployed ENV/SERVICE[/HOST] to PATH (WHY)" (a dry run: "would
 * redeploy"). Why: what was renewed (a dry run: is due) when anything was,
 * else why it is owed; both on a first delivery, which renewed nothing there. */
static void say_delivery(cli *c, const capstan_deploy_item *it, int dry_run)
{
	const char *verb = dry_run ? "due" : "renewed";
	char name[300];

	if (c->quiet || c->json)
		return;
	printf("%s %s to %s (", dry_run ? "would redeploy" : "redeployed", where(it, name, sizeof(name)), it->path);
	if (!*it->renewed)
		printf("%s)\n", it->why);
	else if (it->first)
		printf("%s; %s: %s)\n", it->why, verb, it->renewed);
	else
		printf("%s: %s)\n", verb, it->renewed);
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
	rc = cmd ? cli_run_hook(cmd, timeout, it, why, sizeof(why)) : 0;
	if (cmd && capstan_deploy_finish(c->ctx, it, rc < 0 ? why : NULL) < 0)
		return cli_fail(c);
	if (rc < 0) {
		fprintf(stderr, "capstan: redeploy %s: %s (owed: the next renew --due --bundle-dir runs it again)\n", name,
			why);
		return EXIT_FAILED;
	}
	say_delivery(c, it, 0);
	return EXIT_OK;
}

int redeploy_owed(cli *c, const capstan_deploy_opts *o, const char *cmd, int64_t timeout)
{
	capstan_deploy_item *items = NULL;
	size_t n = 0;
	int rc = EXIT_OK;

	if (capstan_deploy_owed(&items, &n, c->ctx, o) < 0)
		return cli_fail(c);
	for (size_t i = 0; i < n; i++) {
		int one;
		if (o->dry_run) {
			say_delivery(c, &items[i], 1);
			continue;
		}
		if ((one = deliver(c, o, &items[i], cmd, timeout)) != EXIT_OK && rc == EXIT_OK)
			rc = one;
	}
	capstan_deploy_items_free(items, n);
	return rc;
}
