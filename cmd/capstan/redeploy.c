/* renew --due --bundle-dir DIR --exec CMD: after renewal, re-render the bundle
 * of every service that had a certificate renewed into DIR/ENV/SERVICE, then
 * run the reload hook once per such service. */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli.h"

typedef struct {
	char env[64];
	char service[80];
	char renewed[1024];   /* names, space-separated */
} redeploy;

struct redeploys {
	redeploy *items;
	size_t count;
};

redeploys *redeploys_new(void)
{
	return calloc(1, sizeof(redeploys));
}

void redeploys_free(redeploys *r)
{
	if (r)
		free(r->items);
	free(r);
}

/* Notes that cert NAME of ENV was renewed: each service it belongs to is to be redeployed. */
int redeploys_add(cli *c, redeploys *r, const char *env, const char *name)
{
	char **services = NULL;
	size_t n = 0, i, j;

	if (capstan_cert_services(c->ctx, env, name, &services, &n) < 0)
		return cli_fail(c);
	for (i = 0; i < n; i++) {
		for (j = 0; j < r->count; j++)
			if (strcmp(r->items[j].env, env) == 0 && strcmp(r->items[j].service, services[i]) == 0)
				break;
		if (j == r->count) {
			redeploy *grown = realloc(r->items, (r->count + 1) * sizeof(*grown));
			if (!grown)
				break;
			r->items = grown;
			memset(&r->items[j], 0, sizeof(r->items[j]));
			snprintf(r->items[j].env, sizeof(r->items[j].env), "%s", env);
			snprintf(r->items[j].service, sizeof(r->items[j].service), "%s", services[i]);
			r->count++;
		}
		size_t used = strlen(r->items[j].renewed);
		snprintf(r->items[j].renewed + used, sizeof(r->items[j].renewed) - used, "%s%s", used ? " " : "", name);
	}
	for (i = 0; i < n; i++)
		free(services[i]);
	free(services);
	return i == n ? 0 : cli_error(c, "out of memory");
}

static int run_hook(cli *c, const char *cmd, const redeploy *d, const char *bundle)
{
	pid_t pid;
	int status;

	fflush(NULL);
	if ((pid = fork()) < 0)
		return cli_error(c, "--exec: cannot start a process: %s", strerror(errno));
	if (pid == 0) {
		setenv("CAPSTAN_ENV", d->env, 1);
		setenv("CAPSTAN_SERVICE", d->service, 1);
		setenv("CAPSTAN_BUNDLE", bundle, 1);
		setenv("CAPSTAN_RENEWED", d->renewed, 1);
		execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
		_exit(127);
	}
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return cli_error(c, "--exec: cannot wait for the hook: %s", strerror(errno));
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		return cli_error(c, "--exec for %s/%s failed (%s %d)", d->env, d->service,
			WIFEXITED(status) ? "exit status" : "signal", WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
	return 0;
}

/* Every bundle is re-rendered, every hook run; the first failure decides the exit. */
int redeploys_run(cli *c, const redeploys *r, const char *dir, const char *cmd)
{
	char base[PATH_MAX], bundle[PATH_MAX + 160];
	int rc = 0;

	if (!realpath(dir, base))
		return cli_error(c, "--bundle-dir '%s': %s", dir, strerror(errno));
	for (size_t i = 0; i < r->count; i++) {
		const redeploy *d = &r->items[i];
		int one;
		snprintf(bundle, sizeof(bundle), "%s/%s/%s", base, d->env, d->service);
		one = cli_write_bundle(c, d->env, d->service, bundle, NULL, NULL, NULL, 0, NULL);
		if (one == 0 && !c->quiet && !c->json)
			printf("redeployed %s/%s to %s (%s)\n", d->env, d->service, bundle, d->renewed);
		if (one == 0 && cmd)
			one = run_hook(c, cmd, d, bundle);
		if (rc == 0)
			rc = one;
	}
	return rc;
}
