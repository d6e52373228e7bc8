/* The unit tests' view of the store (tests/unit/): its insides, and SQLite,
 * through which some tests tamper with an inventory's rows (ctx->store->db
 * is the sqlite3 handle). No library file includes this header: the store's
 * own files include store_impl.h and reach SQLite only through the driver
 * (db.h, db_sqlite.c). */
#ifndef CAPSTAN_LIB_STORE_INTERNAL_H
#define CAPSTAN_LIB_STORE_INTERNAL_H

#include <sqlite3.h>

#include "store_impl.h"

#endif
