/* Whether what capstan trusts is private to the user running it: the home,
 * the inventory's files, a file holding a secret. Another user who can write
 * the inventory can plant a root that trust hands out; one who can read a
 * passphrase file can unseal every key. */
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ctx.h"
#include "util.h"

/* "alice (uid 1000)", or "uid 1000" for a uid with no name. */
static void describe_uid(char *out, size_t size, uid_t uid)
{
	struct passwd pw, *found = NULL;
	char buf[1024];

	if (getpwuid_r(uid, &pw, buf, sizeof(buf), &found) == 0 && found)
		snprintf(out, size, "%s (uid %u)", found->pw_name, (unsigned)uid);
	else
		snprintf(out, size, "uid %u", (unsigned)uid);
}

/* What a chown to the effective user is spelled with: its name, or its uid. */
static void owner_arg(char *out, size_t size, uid_t uid)
{
	struct passwd pw, *found = NULL;
	char buf[1024];

	if (getpwuid_r(uid, &pw, buf, sizeof(buf), &found) == 0 && found)
		snprintf(out, size, "%s", found->pw_name);
	else
		snprintf(out, size, "%u", (unsigned)uid);
}

/* "its group", "others", "its group and others" for the bits of mask set. */
static const char *who(mode_t mode, mode_t group_bit, mode_t other_bit)
{
	if ((mode & group_bit) && (mode & other_bit))
		return "its group and others";
	return (mode & group_bit) ? "its group" : "others";
}

static int record_warning(capstan_ctx *ctx, char *text)
{
	if (!text)
		return capstan_error_oom(ctx);
	if (ctx->warning_count == CAPSTAN_MAX_WARNINGS) {
		free(text);
		return 0;
	}
	ctx->warnings[ctx->warning_count++] = text;
	return 0;
}

int capstan_private_check(capstan_ctx *ctx, unsigned subject, const char *what, const char *path,
	const struct stat *sb, int secret)
{
	const char *fix_mode = S_ISDIR(sb->st_mode) ? "700" : "600";
	mode_t mode = sb->st_mode & 07777;
	uid_t me = geteuid();
	char owner[300], user[300], chown_to[256];

	describe_uid(owner, sizeof(owner), sb->st_uid);
	if (sb->st_uid != me) {
		char also[16] = "";
		describe_uid(user, sizeof(user), me);
		owner_arg(chown_to, sizeof(chown_to), me);
		/* The mode is as much the owner's as the file: both, in one line. */
		if (mode & (secret ? 077 : 022))
			snprintf(also, sizeof(also), " && chmod %s", fix_mode);
		return capstan_error_at(ctx, CAPSTAN_EINVALID, subject,
			"%s '%s' is owned by %s, not by %s who runs capstan: mode %04o; another user controls it;"
			" fix: chown %s '%s'%s%s%s%s", what, path, owner, user, (unsigned)mode, chown_to, path,
			also, *also ? " '" : "", *also ? path : "", *also ? "'" : "");
	}
	if (mode & (S_IWGRP | S_IWOTH))
		return capstan_error_at(ctx, CAPSTAN_EINVALID, subject,
			"%s '%s' is writable by %s: mode %04o, owner %s; another user could change it; fix: chmod %s '%s'",
			what, path, who(mode, S_IWGRP, S_IWOTH), (unsigned)mode, owner, fix_mode, path);
	if (!(mode & (S_IRGRP | S_IROTH)))
		return 0;
	if (secret)
		return capstan_error_at(ctx, CAPSTAN_EINVALID, subject,
			"%s '%s' is readable by %s: mode %04o, owner %s; a secret must be private; fix: chmod %s '%s'",
			what, path, who(mode, S_IRGRP, S_IROTH), (unsigned)mode, owner, fix_mode, path);
	return record_warning(ctx, capstan_aprintf("%s '%s' is readable by %s: mode %04o, owner %s; chmod %s '%s'"
		" keeps it private", what, path, who(mode, S_IRGRP, S_IROTH), (unsigned)mode, owner, fix_mode, path));
}
