/* The audit log: who did what, written in the same transaction as the change. */
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "audit.h"
#include "store.h"

int capstan_audit_record(capstan_ctx *ctx, const char *op, const char *env,
	const char *name, const char *serial, const char *detail)
{
	struct passwd pw, *found = NULL;
	char pwbuf[4096], uidname[32];
	uid_t uid = getuid();
	capstan_audit_entry e = { 0 };

	if (getpwuid_r(uid, &pw, pwbuf, sizeof(pwbuf), &found) != 0 || !found) {
		snprintf(uidname, sizeof(uidname), "uid:%u", (unsigned)uid);
		e.user = uidname;
	} else {
		e.user = found->pw_name;
	}
	e.at = time(NULL);
	e.uid = (unsigned)uid;
	e.op = (char *)op;
	e.env = (char *)env;
	e.name = (char *)name;
	e.serial = (char *)serial;
	e.detail = (char *)detail;
	return capstan_store_audit_insert(ctx, &e);
}

void capstan_audit_entry_free(capstan_audit_entry *e)
{
	if (!e)
		return;
	free(e->user);
	free(e->op);
	free(e->env);
	free(e->name);
	free(e->serial);
	free(e->detail);
	free(e);
}
