/*
 * A whole inventory copied from one store into another, of either engine
 * (migrate, backup, restore), and the copy compared with its source.
 *
 * Rows go through the driver as typed values (integer, text, blob, NULL),
 * table by table in an order that keeps every foreign key satisfied, with
 * their ids: what refers to a row by id still finds it. The one reference
 * that points forward (certs.superseded_by names a newer certificate) is
 * filled in a second pass. Tables keyed by id are read in pages by id, so
 * that a million certificates never sit in memory at once.
 *
 * The caller holds the transactions: a snapshot on the source (so that a
 * copy made while others write is of one moment) and a write transaction on
 * the target (so that a copy that fails, or does not compare equal, leaves
 * nothing behind).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_impl.h"

/* Rows read at a time from a table keyed by id. */
#define PAGE_ROWS 2000
/* Rows written by one INSERT: a round trip for many on PostgreSQL (a
 * migrate of 100,000 certificates sent as many, and took minutes), within
 * both engines' limits on parameters (SQLite's 32,766, PostgreSQL's 65,535). */
#define CHUNK_PARAMS 2000
#define CHUNK_ROWS 100

typedef struct {
	const char *name;
	const char *key;      /* ORDER BY for the tables not paged by id */
	int by_id;            /* paged by its id column */
	const char *deferred; /* a column referring forward: filled after every row is in */
} copy_table;

/* Parents before children. A table a migration adds joins this list in the
 * same commit: a source with a table not named here is refused. */
static const copy_table tables[] = {
	{ "meta", "key", 0, NULL },
	{ "envs", NULL, 1, NULL },
	{ "keys", NULL, 1, NULL },
	{ "certs", NULL, 1, "superseded_by" },
	{ "crls", "issuer_id", 0, NULL },
	{ "audit", NULL, 1, NULL },
	{ "services", NULL, 1, NULL },
	{ "bundle_passwords", "env_id, service", 0, NULL },
	{ "deploys", NULL, 1, NULL },
	{ "service_certs", "env_id, cert, service", 0, NULL },
	{ "ocsp_responders", "issuer_id", 0, NULL },
	{ "policies", "env_id, service, level", 0, NULL },
};
#define TABLE_COUNT (sizeof(tables) / sizeof(tables[0]))

/* An error of store st's connection, which need not be the context's. */
static int db_error(capstan_ctx *ctx, capstan_store *st, const char *what)
{
	const char *msg = capstan_db_errmsg(st->conn);

	return capstan_error(ctx, CAPSTAN_ERROR, "database '%s': %s: %s", st->path, what, msg);
}

static int prepare(capstan_ctx *ctx, capstan_store *st, const char *sql, capstan_db_stmt **out)
{
	*out = NULL;
	if (st->conn->drv->prepare(st->conn, sql, out) < 0)
		return db_error(ctx, st, "cannot prepare a statement");
	return 0;
}

static void finalize(capstan_db_stmt *s)
{
	if (s)
		capstan_db_finalize(s);
}

static const copy_table *table_named(const char *name)
{
	for (size_t i = 0; i < TABLE_COUNT; i++)
		if (strcmp(tables[i].name, name) == 0)
			return &tables[i];
	return NULL;
}

/* Every table of the source is one this copy knows. */
static int known_tables(capstan_ctx *ctx, capstan_store *from)
{
	capstan_db_stmt *s = NULL;
	int rc, step;

	if ((rc = prepare(ctx, from, capstan_db_sql(from->conn, CAPSTAN_DB_TABLES), &s)) < 0)
		return rc;
	while ((step = capstan_db_step(s)) == CAPSTAN_DB_ROW) {
		const char *name = capstan_db_text(s, 0);

		if (name && !table_named(name)) {
			rc = capstan_error(ctx, CAPSTAN_ERROR, "database '%s': table '%s' is unknown to this capstan: "
				"not copied", from->path, name);
			break;
		}
	}
	if (rc == 0 && step != CAPSTAN_DB_DONE)
		rc = db_error(ctx, from, "cannot list the tables");
	finalize(s);
	return rc;
}

static int count_rows(capstan_ctx *ctx, capstan_store *st, const char *table, int64_t *count)
{
	char sql[96];
	capstan_db_stmt *s = NULL;
	int rc;

	snprintf(sql, sizeof(sql), "SELECT count(*) FROM %s", table);
	if ((rc = prepare(ctx, st, sql, &s)) < 0)
		return rc;
	if (capstan_db_step(s) == CAPSTAN_DB_ROW)
		*count = capstan_db_int64(s, 0);
	else
		rc = db_error(ctx, st, "cannot count rows");
	finalize(s);
	return rc;
}

/* A target with any row of the inventory's in it is refused: a copy never merges. */
static int target_empty(capstan_ctx *ctx, capstan_store *to)
{
	for (size_t i = 0; i < TABLE_COUNT; i++) {
		int64_t n = 0;
		int rc = count_rows(ctx, to, tables[i].name, &n);

		if (rc < 0)
			return rc;
		if (n)
			return capstan_error(ctx, CAPSTAN_EEXISTS,
				"the target inventory '%s' is not empty (%lld rows in %s): a copy goes into an empty one",
				to->path, (long long)n, tables[i].name);
	}
	return 0;
}

/* The source's columns as a list for SQL, each quoted (audit has "user"),
 * read from a statement that has run (its shape is known after a step). */
static char *column_list(capstan_ctx *ctx, capstan_db_stmt *s)
{
	capstan_buf b = CAPSTAN_BUF_INIT;
	int n = capstan_db_column_count(s);

	for (int i = 0; i < n; i++) {
		const char *name = capstan_db_column_name(s, i);

		if (capstan_buf_append(ctx, &b, i ? ", \"" : "\"", i ? 3 : 1) < 0 ||
		    capstan_buf_append(ctx, &b, name, strlen(name)) < 0 || capstan_buf_append(ctx, &b, "\"", 1) < 0) {
			capstan_buf_free(&b);
			return NULL;
		}
	}
	if (capstan_buf_append(ctx, &b, "", 1) < 0) {
		capstan_buf_free(&b);
		return NULL;
	}
	return (char *)b.data;
}

/* The SELECT of a table's rows: a page after ?1 for a table keyed by id. */
static char *select_sql(const copy_table *t, const char *columns)
{
	if (t->by_id)
		return capstan_aprintf("SELECT %s FROM %s WHERE id > ?1 ORDER BY id LIMIT %d", columns, t->name,
			PAGE_ROWS);
	return capstan_aprintf("SELECT %s FROM %s ORDER BY %s", columns, t->name, t->key);
}

/* The INSERT of n rows of ncols values each. */
static char *insert_sql(capstan_ctx *ctx, const copy_table *t, const char *columns, int ncols, int n)
{
	capstan_buf values = CAPSTAN_BUF_INIT;
	char num[24], *sql = NULL;

	for (int r = 0; r < n; r++)
		for (int i = 0; i < ncols; i++) {
			snprintf(num, sizeof(num), "%s?%d%s", i ? ", " : r ? ", (" : "(", r * ncols + i + 1,
				i == ncols - 1 ? ")" : "");
			if (capstan_buf_append(ctx, &values, num, strlen(num)) < 0)
				goto done;
		}
	if (capstan_buf_append(ctx, &values, "", 1) == 0)
		sql = capstan_aprintf("INSERT INTO %s (%s) VALUES %s", t->name, columns, (char *)values.data);
done:
	capstan_buf_free(&values);
	return sql;
}

/* Binds column i of the source row as parameter p, by its type. */
static int bind_value(capstan_db_stmt *row, int i, capstan_db_stmt *ins, int p, int as_null)
{
	switch (as_null ? CAPSTAN_DB_NULL : capstan_db_type_of(row, i)) {
	case CAPSTAN_DB_NULL:
		return capstan_db_bind_null(ins, p);
	case CAPSTAN_DB_INTEGER:
		return capstan_db_bind_int64(ins, p, capstan_db_int64(row, i));
	case CAPSTAN_DB_BLOB:
		return capstan_db_bind_blob(ins, p, capstan_db_blob(row, i), capstan_db_bytes(row, i), CAPSTAN_DB_COPY);
	default:
		return capstan_db_bind_textn(ins, p, capstan_db_text(row, i), capstan_db_bytes(row, i), CAPSTAN_DB_COPY);
	}
}

/* One table's copy under way. Its rows go in chunks of per rows (ins),
 * the last total % per of them together (tail): counted before the copy,
 * in the source's snapshot, which no writer changes. */
typedef struct {
	const copy_table *t;
	capstan_store *from, *to;
	capstan_db_stmt *read, *ins, *tail;
	int ncols, id_col, later_col, per;
	int64_t last_id, rows, total;
	capstan_buf later; /* (id, value) pairs of the deferred column */
} table_copy;

/* Learns the table's shape from the read that has run, and prepares the inserts. */
static int copy_shape(capstan_ctx *ctx, table_copy *c)
{
	char *columns = column_list(ctx, c->read), *sql = NULL, *tail = NULL;
	int rc, rest;

	if (!columns)
		return capstan_error_oom(ctx);
	c->ncols = capstan_db_column_count(c->read);
	c->id_col = c->later_col = -1;
	for (int i = 0; i < c->ncols; i++) {
		if (strcmp(capstan_db_column_name(c->read, i), "id") == 0)
			c->id_col = i;
		if (c->t->deferred && strcmp(capstan_db_column_name(c->read, i), c->t->deferred) == 0)
			c->later_col = i;
	}
	c->per = CHUNK_PARAMS / c->ncols < 1 ? 1 : CHUNK_PARAMS / c->ncols > CHUNK_ROWS ? CHUNK_ROWS :
		CHUNK_PARAMS / c->ncols;
	rest = (int)(c->total % c->per);
	sql = insert_sql(ctx, c->t, columns, c->ncols, c->per);
	tail = rest ? insert_sql(ctx, c->t, columns, c->ncols, rest) : NULL;
	free(columns);
	if (!sql || (rest && !tail))
		rc = capstan_error_oom(ctx);
	else if ((rc = prepare(ctx, c->to, sql, &c->ins)) == 0 && tail)
		rc = prepare(ctx, c->to, tail, &c->tail);
	free(sql);
	free(tail);
	if (rc == 0 && c->t->by_id && c->id_col < 0)
		rc = capstan_error(ctx, CAPSTAN_ERROR, "table %s has no id column", c->t->name);
	return rc;
}

/* Binds the read row into its place in its chunk; the chunk's last row sends it. */
static int copy_row(capstan_ctx *ctx, table_copy *c)
{
	int later = c->later_col >= 0 && !capstan_db_is_null(c->read, c->later_col);
	int64_t full = c->total / c->per * c->per;
	int in_tail = c->rows >= full;
	capstan_db_stmt *ins = in_tail ? c->tail : c->ins;
	int slot = (int)(in_tail ? c->rows - full : c->rows % c->per);
	int size = in_tail ? (int)(c->total - full) : c->per;

	if (c->rows >= c->total)
		return capstan_error(ctx, CAPSTAN_ERROR, "table %s changed during the copy", c->t->name);
	for (int i = 0; i < c->ncols; i++)
		if (bind_value(c->read, i, ins, slot * c->ncols + i + 1, i == c->later_col) < 0)
			return capstan_error_oom(ctx);
	if (c->id_col >= 0)
		c->last_id = capstan_db_int64(c->read, c->id_col);
	if (later) {
		int64_t pair[2] = { c->last_id, capstan_db_int64(c->read, c->later_col) };

		if (capstan_buf_append(ctx, &c->later, pair, sizeof(pair)) < 0)
			return CAPSTAN_ERROR;
	}
	c->rows++;
	if (slot < size - 1)
		return 0;
	if (capstan_db_step(ins) != CAPSTAN_DB_DONE)
		return db_error(ctx, c->to, c->t->name);
	capstan_db_clear(ins);
	return 0;
}

/* One page of the table (all of it when not keyed by id): the rows it copied in *n. */
static int copy_page(capstan_ctx *ctx, table_copy *c, int *n)
{
	int step, rc = 0;

	*n = 0;
	if (c->t->by_id && capstan_db_bind_int64(c->read, 1, c->last_id) < 0)
		return capstan_error_oom(ctx);
	while (rc == 0 && (step = capstan_db_step(c->read)) == CAPSTAN_DB_ROW) {
		if (!c->ins)
			rc = copy_shape(ctx, c);
		if (rc == 0 && (rc = copy_row(ctx, c)) == 0)
			(*n)++;
	}
	if (rc == 0 && step != CAPSTAN_DB_DONE)
		rc = db_error(ctx, c->from, c->t->name);
	capstan_db_reset(c->read);
	return rc;
}

/* The deferred column, now that every row it may name is in. */
static int copy_later(capstan_ctx *ctx, table_copy *c)
{
	const int64_t *pair = (const int64_t *)c->later.data;
	size_t count = c->later.len / (2 * sizeof(int64_t));
	capstan_db_stmt *up = NULL;
	char *sql;
	int rc;

	if (!count)
		return 0;
	if (!(sql = capstan_aprintf("UPDATE %s SET %s = ?2 WHERE id = ?1", c->t->name, c->t->deferred)))
		return capstan_error_oom(ctx);
	rc = prepare(ctx, c->to, sql, &up);
	free(sql);
	for (size_t i = 0; rc == 0 && i < count; i++, pair += 2) {
		capstan_db_bind_int64(up, 1, pair[0]);
		capstan_db_bind_int64(up, 2, pair[1]);
		if (capstan_db_step(up) != CAPSTAN_DB_DONE)
			rc = db_error(ctx, c->to, c->t->name);
		capstan_db_reset(up);
	}
	finalize(up);
	return rc;
}

static int copy_one(capstan_ctx *ctx, capstan_store *from, capstan_store *to, const copy_table *t, int64_t *rows)
{
	table_copy c = { .t = t, .from = from, .to = to, .later = CAPSTAN_BUF_INIT };
	char *sql = select_sql(t, "*");
	int rc, n;

	if (!sql)
		return capstan_error_oom(ctx);
	if ((rc = count_rows(ctx, from, t->name, &c.total)) == 0)
		rc = prepare(ctx, from, sql, &c.read);
	free(sql);
	do {
		if (rc == 0)
			rc = copy_page(ctx, &c, &n);
	} while (rc == 0 && t->by_id && n == PAGE_ROWS);
	if (rc == 0 && c.rows != c.total)
		rc = capstan_error(ctx, CAPSTAN_ERROR, "table %s changed during the copy", t->name);
	if (rc == 0)
		rc = copy_later(ctx, &c);
	*rows = c.rows;
	finalize(c.read);
	finalize(c.ins);
	finalize(c.tail);
	capstan_buf_free(&c.later);
	return rc;
}

int capstan_store_copy(capstan_ctx *ctx, capstan_store *from, capstan_store *to, capstan_store_copy_stats *stats)
{
	const char *finish = capstan_db_sql(to->conn, CAPSTAN_DB_COPY_FINISH);
	int rc;

	memset(stats, 0, sizeof(*stats));
	if ((rc = known_tables(ctx, from)) < 0 || (rc = target_empty(ctx, to)) < 0)
		return rc;
	for (size_t i = 0; i < TABLE_COUNT; i++) {
		int64_t rows = 0;

		if ((rc = copy_one(ctx, from, to, &tables[i], &rows)) < 0)
			return rc;
		stats->rows += rows;
		stats->tables++;
		if (strcmp(tables[i].name, "certs") == 0)
			stats->certs = rows;
		else if (strcmp(tables[i].name, "audit") == 0)
			stats->audit_rows = rows;
	}
	if (*finish && capstan_db_exec(to->conn, finish) < 0)
		return db_error(ctx, to, "cannot move the ids past the copied rows");
	return 0;
}

/*
 * Comparing a copy with its source, row for row, in any order: each side's
 * rows are hashed one by one (every column's type and bytes) and the hashes
 * summed, so that the two engines need not sort text alike. Two 64-bit
 * FNV-1a hashes with different bases: this finds a copy gone wrong (a value
 * changed, a row lost or doubled), which is what it is for; the audit chain
 * and check then vouch for the content itself.
 */
typedef struct {
	int64_t rows;
	uint64_t sum1, sum2;
} table_digest;

static void fnv(uint64_t h[2], const void *data, size_t len)
{
	const unsigned char *p = data;

	for (size_t i = 0; i < len; i++) {
		h[0] = (h[0] ^ p[i]) * 0x100000001b3ULL;
		h[1] = (h[1] ^ p[i]) * 0x100000001b3ULL;
		h[1] ^= h[1] >> 29;
	}
}

static void digest_row(capstan_db_stmt *s, int ncols, table_digest *d)
{
	uint64_t h[2] = { 0xcbf29ce484222325ULL, 0x84222325cbf29ce4ULL };

	for (int i = 0; i < ncols; i++) {
		unsigned char type = (unsigned char)capstan_db_type_of(s, i);
		int64_t v;
		uint64_t len;

		fnv(h, &type, 1);
		switch (type) {
		case CAPSTAN_DB_NULL:
			break;
		case CAPSTAN_DB_INTEGER:
			v = capstan_db_int64(s, i);
			fnv(h, &v, sizeof(v));
			break;
		default:
			len = capstan_db_bytes(s, i);
			fnv(h, &len, sizeof(len));
			fnv(h, type == CAPSTAN_DB_BLOB ? capstan_db_blob(s, i) : (const void *)capstan_db_text(s, i),
				(size_t)len);
		}
	}
	d->rows++;
	d->sum1 += h[0];
	d->sum2 += h[1];
}

/* Every row of table t in st, by the columns given. */
static int digest_table(capstan_ctx *ctx, capstan_store *st, const copy_table *t, const char *columns,
	table_digest *d)
{
	char *sql = select_sql(t, columns);
	capstan_db_stmt *s = NULL;
	int rc, step, n, id_col = -1;
	int64_t last_id = 0;

	if (!sql)
		return capstan_error_oom(ctx);
	rc = prepare(ctx, st, sql, &s);
	free(sql);
	do {
		n = 0;
		if (rc < 0 || (t->by_id && capstan_db_bind_int64(s, 1, last_id) < 0))
			break;
		while ((step = capstan_db_step(s)) == CAPSTAN_DB_ROW) {
			int ncols = capstan_db_column_count(s);

			for (int i = 0; id_col < 0 && i < ncols; i++)
				if (strcmp(capstan_db_column_name(s, i), "id") == 0)
					id_col = i;
			digest_row(s, ncols, d);
			if (id_col >= 0)
				last_id = capstan_db_int64(s, id_col);
			n++;
		}
		if (step != CAPSTAN_DB_DONE)
			rc = db_error(ctx, st, t->name);
		capstan_db_reset(s);
	} while (rc == 0 && t->by_id && n == PAGE_ROWS);
	finalize(s);
	return rc;
}

/* The source's columns of t, named so that the target is read in the same order. */
static int source_columns(capstan_ctx *ctx, capstan_store *from, const copy_table *t, char **out)
{
	char *sql = capstan_aprintf("SELECT * FROM %s WHERE 1 = 0", t->name);
	capstan_db_stmt *s = NULL;
	int rc;

	*out = NULL;
	if (!sql)
		return capstan_error_oom(ctx);
	rc = prepare(ctx, from, sql, &s);
	free(sql);
	if (rc == 0 && capstan_db_step(s) == CAPSTAN_DB_FAIL)
		rc = db_error(ctx, from, t->name);
	if (rc == 0 && !(*out = column_list(ctx, s)))
		rc = CAPSTAN_ERROR;
	finalize(s);
	return rc;
}

int capstan_store_copy_compare(capstan_ctx *ctx, capstan_store *from, capstan_store *to)
{
	for (size_t i = 0; i < TABLE_COUNT; i++) {
		table_digest a = { 0 }, b = { 0 };
		char *columns = NULL;
		int rc;

		if ((rc = source_columns(ctx, from, &tables[i], &columns)) < 0)
			return rc;
		if ((rc = digest_table(ctx, from, &tables[i], columns, &a)) == 0)
			rc = digest_table(ctx, to, &tables[i], columns, &b);
		free(columns);
		if (rc < 0)
			return rc;
		if (a.rows != b.rows || a.sum1 != b.sum1 || a.sum2 != b.sum2)
			return capstan_error(ctx, CAPSTAN_EDAMAGED,
				"the copy's %s differs from its source's (%lld rows copied of %lld)", tables[i].name,
				(long long)b.rows, (long long)a.rows);
	}
	return 0;
}

int capstan_store_snapshot(capstan_ctx *ctx, capstan_store *st, int begin)
{
	const char *sql = begin ? capstan_db_sql(st->conn, CAPSTAN_DB_SNAPSHOT_BEGIN) : "ROLLBACK";

	if (capstan_db_exec(st->conn, sql) < 0)
		return begin ? db_error(ctx, st, "cannot begin a snapshot") : 0;
	return 0;
}

int capstan_store_self_contained(capstan_ctx *ctx, capstan_store *st)
{
	const char *sql = capstan_db_sql(st->conn, CAPSTAN_DB_SELF_CONTAINED);

	if (*sql && capstan_db_exec(st->conn, sql) < 0)
		return db_error(ctx, st, "cannot leave the database in one file");
	return 0;
}
