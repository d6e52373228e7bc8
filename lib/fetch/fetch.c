/* capstan fetch: a service's bundle from capstan serve, checked and swapped
 * into place by the deploy layer, with what the next run needs kept beside
 * it (the ETag it asks with, a hook still owed). */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <capstan/bundle.h>
#include <capstan/file.h>
#include <capstan/parse.h>

#include "deploy/deploy.h"
#include "fetch_internal.h"

#define MAX_STATE 4096

/* What a run leaves for the next one, in PARENT/.NAME.capstan-fetch: outside
 * DIR, which each install replaces whole. */
typedef struct {
	char *path;                /* the state file */
	char *parent;              /* DIR's parent */
	char etag[80];             /* the installed bundle's, "" when unknown */
	char what[300];            /* "ENV/SERVICE host H prefix P keystores K" it was fetched for */
	int hook_owed;
} fetch_state;

static void state_clear(fetch_state *s)
{
	free(s->path);
	free(s->parent);
}

static int state_paths(capstan_ctx *ctx, fetch_state *s, const char *dir)
{
	char *a = strdup(dir), *b = strdup(dir);
	int rc = 0;

	if (!a || !b || !(s->parent = strdup(dirname(a))) ||
	    !(s->path = capstan_aprintf("%s/.%s.capstan-fetch", s->parent, basename(b))))
		rc = capstan_error_oom(ctx);
	free(a);
	free(b);
	return rc;
}

static void describe(const capstan_fetch_opts *o, char *out, size_t size)
{
	snprintf(out, size, "%s/%s host %s prefix %s keystores %d", o->env, o->service, o->host ? o->host : "-",
		o->prefix ? o->prefix : o->dir, o->keystores ? 1 : 0);
}

/* An ETag fit to send back: visible ASCII only (no header injection). */
static int plain_etag(const char *etag)
{
	for (const char *p = etag; *p; p++)
		if (*p < 0x21 || *p > 0x7e)
			return 0;
	return 1;
}

/* Reads the state; none yet is an empty one. Lines: "etag X", "for WHAT",
 * "hook owed"; others are ignored (a later version's). */
static int state_read(capstan_ctx *ctx, fetch_state *s)
{
	capstan_buf buf = CAPSTAN_BUF_INIT;
	struct stat sb;
	char *line, *save = NULL;
	int rc;

	if (lstat(s->path, &sb) < 0 && errno == ENOENT)
		return 0;
	/* Another user's file (or link) there could fake an owed hook or an ETag. */
	if (!S_ISREG(sb.st_mode) || sb.st_uid != geteuid())
		return capstan_error(ctx, CAPSTAN_EINVALID, "'%s' is not a file of this user: remove it", s->path);
	if ((rc = capstan_file_read(&buf, ctx, s->path, MAX_STATE)) < 0)
		return rc;
	for (line = strtok_r((char *)buf.data, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		if (strncmp(line, "etag ", 5) == 0 && plain_etag(line + 5) && strlen(line + 5) < sizeof(s->etag))
			snprintf(s->etag, sizeof(s->etag), "%s", line + 5);
		else if (strncmp(line, "for ", 4) == 0)
			snprintf(s->what, sizeof(s->what), "%s", line + 4);
		else if (strcmp(line, "hook owed") == 0)
			s->hook_owed = 1;
	}
	capstan_buf_free(&buf);
	return 0;
}

static int state_write(capstan_ctx *ctx, const fetch_state *s)
{
	char *text = capstan_aprintf("# capstan fetch: the bundle installed beside this file\netag %s\nfor %s\n%s",
		s->etag, s->what, s->hook_owed ? "hook owed\n" : "");
	int rc;

	if (!text)
		return capstan_error_oom(ctx);
	rc = capstan_file_write(ctx, s->path, text, strlen(text), 0644);
	free(text);
	return rc;
}

/* Whether DIR still holds the bundle the state describes: a MANIFEST there
 * (one removed by hand is fetched again in full). */
static int installed(const char *dir)
{
	char *m = capstan_aprintf("%s/MANIFEST", dir);
	struct stat sb;
	int yes = m && lstat(m, &sb) == 0 && S_ISREG(sb.st_mode);

	free(m);
	return yes;
}

static char *bundle_path(capstan_ctx *ctx, const capstan_fetch_opts *o)
{
	char *env = fetch_escape(o->env), *svc = fetch_escape(o->service);
	char *prefix = fetch_escape(o->prefix ? o->prefix : o->dir), *host = o->host ? fetch_escape(o->host) : NULL;
	char *path = NULL;

	if (env && svc && prefix && (!o->host || host))
		path = capstan_aprintf("/v1/environments/%s/services/%s/bundle?prefix=%s%s%s%s", env, svc, prefix,
			host ? "&host=" : "", host ? host : "", o->keystores ? "&keystores=1" : "");
	if (!path)
		capstan_error_oom(ctx);
	free(env);
	free(svc);
	free(prefix);
	free(host);
	return path;
}

static int check_opts(capstan_ctx *ctx, const capstan_fetch_opts *o)
{
	int rc;

	if ((rc = CAPSTAN_OPTS_CHECK(ctx, o, CAPSTAN_FETCH_OPTS_VERSION, "capstan_fetch_opts")) < 0)
		return rc;
	const char *why = NULL;

	if (!o->env || !*o->env || !o->service || !*o->service)
		return capstan_error(ctx, CAPSTAN_EINVALID, "a bundle is fetched for an environment and a service");
	/* Names, as the inventory's: a '/' would change the request's path. */
	if (capstan_check_identifier(o->env, &why) < 0 || capstan_check_identifier(o->service, &why) < 0 ||
	    (o->host && capstan_check_identifier(o->host, &why) < 0))
		return capstan_error(ctx, CAPSTAN_EINVALID, "invalid environment, service or host name: %s", why);
	if (!o->dir || o->dir[0] != '/' || (o->prefix && o->prefix[0] != '/'))
		return capstan_error(ctx, CAPSTAN_EINVALID, "the bundle's directory and prefix are absolute paths");
	return 0;
}

/* The answer is a new bundle: checked whole, then swapped in, then its ETag kept. */
static int install(capstan_ctx *ctx, const capstan_fetch_opts *o, fetch_state *s, const fetch_response *r,
	capstan_fetch_result *out)
{
	capstan_bundle *b = NULL;
	int rc;

	if ((rc = capstan_bundle_from_tar(&b, ctx, r->body.data, r->body.len)) < 0 ||
	    (rc = capstan_bundle_write_dir(ctx, b, o->dir)) < 0)
		goto done;
	out->installed = 1;
	out->files = capstan_bundle_count(b);
	/* Sent back in a header and kept in a file of lines: visible ASCII only,
	 * else none (the next run then downloads in full). */
	snprintf(s->etag, sizeof(s->etag), "%s", plain_etag(r->etag) ? r->etag : "");
	describe(o, s->what, sizeof(s->what));
	/* Owed before it runs: a run killed between the swap and the hook still owes it. */
	s->hook_owed = o->hook;
	rc = state_write(ctx, s);
done:
	capstan_bundle_free(b);
	return rc;
}

/* One fetch into a directory at a time: a lock on DIR's parent, held to the
 * end (*fd -1 when the parent is not there yet: the first install makes it). */
static int lock_parent(capstan_ctx *ctx, const fetch_state *s, int *fd)
{
	if ((*fd = open(s->parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		return errno == ENOENT ? 0 : capstan_error(ctx, CAPSTAN_ERROR, "cannot open '%s': %s", s->parent,
			strerror(errno));
	while (flock(*fd, LOCK_EX) < 0)
		if (errno != EINTR)
			return capstan_error(ctx, CAPSTAN_ERROR, "cannot lock '%s': %s", s->parent, strerror(errno));
	return 0;
}

/* The request and what its answer asks for. */
static int fetch_once(capstan_ctx *ctx, const capstan_fetch_opts *o, fetch_state *s, const fetch_conn *c,
	fetch_response *r, capstan_fetch_result *out)
{
	char what[300], *path = bundle_path(ctx, o);
	const char *inm;
	int rc;

	if (!path)
		return CAPSTAN_ERROR;
	describe(o, what, sizeof(what));
	/* The ETag only for the bundle it names, still in place. */
	inm = s->etag[0] && strcmp(s->what, what) == 0 && installed(o->dir) ? s->etag : NULL;
	rc = fetch_request(ctx, c, "GET", path, inm, r);
	free(path);
	if (rc < 0)
		return rc;
	if (r->status == 304 && !inm)
		return capstan_error(ctx, CAPSTAN_ERROR, "the server answered 304 Not Modified to a request that named no"
			" installed bundle: nothing installed");
	if (r->status == 304) {
		out->hook_owed = s->hook_owed && o->hook;
		return 0;
	}
	if (r->status != 200)
		return fetch_status_error(ctx, "the bundle", r);
	if ((rc = install(ctx, o, s, r, out)) == 0)
		out->hook_owed = o->hook;
	return rc;
}

int capstan_fetch_bundle(capstan_ctx *ctx, const capstan_fetch_opts *o, capstan_fetch_result *out)
{
	fetch_state s = { 0 };
	fetch_conn c;
	fetch_response r = { .body = CAPSTAN_BUF_INIT };
	int rc, lock = -1;

	*out = (capstan_fetch_result){ 0 };
	if ((rc = check_opts(ctx, o)) < 0 || (rc = capstan_bundle_check_dir(ctx, o->dir)) < 0 ||
	    (rc = state_paths(ctx, &s, o->dir)) < 0 || (rc = lock_parent(ctx, &s, &lock)) < 0 ||
	    (rc = state_read(ctx, &s)) < 0 || (rc = fetch_conn_open(&c, ctx, o)) < 0)
		goto done;
	rc = fetch_once(ctx, o, &s, &c, &r, out);
	fetch_conn_close(&c);
done:
	if (lock >= 0)
		close(lock);
	capstan_wipe(r.body.data, r.body.len); /* it held keys */
	capstan_buf_free(&r.body);
	state_clear(&s);
	return rc;
}

int capstan_fetch_hook_ran(capstan_ctx *ctx, const capstan_fetch_opts *o)
{
	fetch_state s = { 0 };
	int rc;

	if ((rc = check_opts(ctx, o)) == 0 && (rc = state_paths(ctx, &s, o->dir)) == 0 &&
	    (rc = state_read(ctx, &s)) == 0 && s.hook_owed) {
		s.hook_owed = 0;
		rc = state_write(ctx, &s);
	}
	state_clear(&s);
	return rc;
}
