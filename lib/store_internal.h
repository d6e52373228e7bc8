/* The store's insides, for store*.c only: these are the files that include sqlite3.h. */
#ifndef CAPSTAN_LIB_STORE_INTERNAL_H
#define CAPSTAN_LIB_STORE_INTERNAL_H

#include <sqlite3.h>

#include "store.h"

struct capstan_store {
	sqlite3 *db;
	char *path;
	int in_tx;
};

/* Records sqlite's message for the store's database and returns CAPSTAN_ERROR. */
int capstan_store_error(capstan_ctx *ctx, const char *what);
int capstan_store_prepare(capstan_ctx *ctx, sqlite3_stmt **stmt, const char *sql);
/* Binds text, or NULL when s is NULL. */
int capstan_store_bind_text(sqlite3_stmt *stmt, int i, const char *s);
/* A copy of column i as a string, or NULL when the column is NULL. */
char *capstan_store_column_strdup(sqlite3_stmt *stmt, int i);

#endif
