/* Shared helpers for the cmocka unit tests. */
#ifndef CAPSTAN_TEST_UNIT_H
#define CAPSTAN_TEST_UNIT_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <capstan/capstan.h>

#define TEST_PASSPHRASE "unit-test passphrase"

/* Asserts a library call succeeded, printing the context's message if not. */
#define assert_ok(ctx, call) do { \
	int rc_ = (call); \
	if (rc_ != 0) \
		fail_msg("%s returned %d: %s", #call, rc_, capstan_error_message(ctx)); \
} while (0)

/* A fresh temporary home path (the directory does not exist yet). */
static inline char *unit_temp_home(void)
{
	char tmpl[] = "/tmp/capstan-unit-XXXXXX";
	char *dir = mkdtemp(tmpl), *home;

	assert_non_null(dir);
	home = malloc(strlen(dir) + 6);
	assert_non_null(home);
	sprintf(home, "%s/home", dir);
	return home;
}

static inline void unit_remove_home(char *home)
{
	char cmd[512];

	/* home is "/tmp/capstan-unit-XXXXXX/home": remove its parent. */
	snprintf(cmd, sizeof(cmd), "rm -rf '%.*s'", (int)(strlen(home) - 5), home);
	if (system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", home);
	free(home);
}

/* A context with a new, unlocked inventory in a temporary home. */
static inline capstan_ctx *unit_open_home(char **home_out)
{
	capstan_ctx *ctx = NULL;
	capstan_secret pass = CAPSTAN_SECRET_INIT;
	char *home = unit_temp_home();

	assert_int_equal(capstan_ctx_new(&ctx), 0);
	assert_ok(ctx, capstan_home_open(ctx, home, CAPSTAN_OPEN_CREATE));
	assert_ok(ctx, capstan_secret_set(&pass, ctx, TEST_PASSPHRASE, strlen(TEST_PASSPHRASE)));
	assert_ok(ctx, capstan_home_unlock(ctx, &pass));
	capstan_secret_free(&pass);
	*home_out = home;
	return ctx;
}

#endif
