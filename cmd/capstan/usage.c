/* Usage strings read as data: the options a command's usage names (and which
 * take a value), COMMAND --help, and the scan that finds --help on a line.
 * The command table's usage strings are the one description of the command
 * line: help prints them and the bash completion is generated from them. */
#include <ctype.h>
#include <string.h>

#include "cli.h"

static int option_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
}

/* The value that follows "--name " in a usage string: "ENV", "FILE",
 * "valid|revoked|...", or nothing for a flag ("[--pem]", "--due [--env"). */
static size_t metavar_len(const char *after)
{
	if (after[0] != ' ' || !isalnum((unsigned char)after[1]))
		return 0;
	return strcspn(after + 1, " ])");
}

size_t usage_options(const char *usage, usage_opt *out, size_t max)
{
	size_t n = 0;

	for (const char *p = usage; *p && n < max; p++) {
		const char *name = p + 2;
		size_t len, meta, i;
		if (p[0] != '-' || p[1] != '-' || (p > usage && strchr(" [(|", p[-1]) == NULL))
			continue;
		for (len = 0; option_char(name[len]); len++)
			;
		if (len == 0)
			continue;
		meta = metavar_len(name + len);
		for (i = 0; i < n; i++)
			if (out[i].name_len == len && strncmp(out[i].name, name, len) == 0)
				break;
		if (i == n) /* the first mention says whether it takes a value */
			out[n++] = (usage_opt){ name, len, meta ? name + len + 1 : NULL, meta };
		p = name + len - 1;
	}
	return n;
}

const char *usage_positional(const char *usage, size_t *len)
{
	const char *p = strchr(usage, ' ');

	if (!p || !isalpha((unsigned char)p[1]))
		return NULL;
	*len = strcspn(p + 1, " ");
	return p + 1;
}

/* Whether ARG is --name or --name=... of an option that takes a value
 * (a separate value follows only in the first form). */
static int takes_next(const usage_opt *opts, size_t n, const char *arg)
{
	for (size_t i = 0; i < n; i++)
		if (opts[i].metavar && strncmp(arg, "--", 2) == 0 &&
		    strncmp(arg + 2, opts[i].name, opts[i].name_len) == 0 && arg[2 + opts[i].name_len] == '\0')
			return 1;
	return 0;
}

int usage_asks_help(const cli_command *cmd, int argc, char **argv, int skip)
{
	usage_opt opts[64], global[16];
	size_t n = usage_options(cmd->usage, opts, 64), g = usage_options(CLI_GLOBAL_USAGE, global, 16);

	for (int i = 1; i < argc; i++) {
		if (i == skip)
			continue;
		if (strcmp(argv[i], "--") == 0)
			return 0;
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
			return 1;
		if (takes_next(opts, n, argv[i]) || takes_next(global, g, argv[i]))
			i++; /* its value, whatever it looks like */
	}
	return 0;
}

/* "a | b" at the top level (not inside parentheses) separates two forms of a
 * command; each is printed on its own line. */
void usage_print(FILE *out, const cli_command *cmd)
{
	const char *form = cmd->usage;
	int depth = 0, first = 1;

	for (const char *p = cmd->usage;; p++) {
		depth += *p == '(' ? 1 : *p == ')' ? -1 : 0;
		if (*p && !(depth == 0 && strncmp(p, " | ", 3) == 0))
			continue;
		fprintf(out, "%s capstan %.*s\n", first ? "usage:" : "      ", (int)(p - form), form);
		first = 0;
		if (!*p)
			break;
		form = p + 3;
		p += 2;
	}
	fprintf(out, "global options: %s\n", CLI_GLOBAL_USAGE);
}
