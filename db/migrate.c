/*
 * migrate.c - numbered schema migrations (sql/NNN_name.sql, compiled in),
 * the version table that says which ones a database has, and the
 * functions (sql/functions.sql) applied again whenever the database's copy
 * differs from this program's.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "db.h"

/* Any fixed number: the advisory lock that serialises migrating processes
 * (and replacing functions: two sessions replacing one function at once
 * fail with "tuple concurrently updated"). */
#define MIGRATE_LOCK	"SELECT pg_advisory_xact_lock(4242001)"

#define VERSION_TABLE \
	"CREATE TABLE IF NOT EXISTS dmarcd_schema (" \
	" version integer PRIMARY KEY," \
	" name text NOT NULL," \
	" applied timestamptz NOT NULL DEFAULT now())"

/* One row: the SHA-256 (hex) of the functions text last applied. */
#define FUNCTIONS_TABLE \
	"CREATE TABLE IF NOT EXISTS dmarcd_functions (" \
	" sha256 text NOT NULL," \
	" applied timestamptz NOT NULL DEFAULT now())"

int
db_schema_latest(void)
{
	return db_n_migrations ? db_migrations[db_n_migrations - 1].version : 0;
}

int
db_schema_version(struct db *db, int *version_r, char *err, size_t errlen)
{
	PGresult	*res;
	int		 rc = 0;

	*version_r = 0;
	res = PQexec(db->conn, "SELECT coalesce(max(version), 0) FROM dmarcd_schema");
	if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1)
		*version_r = atoi(PQgetvalue(res, 0, 0));
	else if (PQresultStatus(res) == PGRES_FATAL_ERROR &&
	    strcmp(PQresultErrorField(res, PG_DIAG_SQLSTATE) ?
	    PQresultErrorField(res, PG_DIAG_SQLSTATE) : "", "42P01") == 0)
		*version_r = 0;		/* no version table: empty database */
	else
		rc = db_result_error(db, res, "schema version", err, errlen);
	PQclear(res);
	return rc;
}

static bool
sqlstate_is(const PGresult *res, const char *state)
{
	const char	*s = PQresultErrorField(res, PG_DIAG_SQLSTATE);

	return s != NULL && strcmp(s, state) == 0;
}

/* The hex SHA-256 of this program's functions text. */
static void
functions_digest(char hex[65])
{
	struct db_sha256	*h;
	unsigned char		 d[32];
	size_t			 i;

	if ((h = db_sha256_new()) == NULL)
		fatalx("out of memory");
	db_sha256_update(h, db_functions, strlen(db_functions));
	db_sha256_finish(&h, d);
	for (i = 0; i < sizeof(d); i++)
		snprintf(hex + 2 * i, 3, "%02x", d[i]);
}

/* Whether the database has this program's functions (*same_r). */
static int
functions_current(struct db *db, const char *hex, bool *same_r, char *err,
    size_t errlen)
{
	PGresult	*res;
	int		 rc = 0;

	*same_r = false;
	res = PQexecParams(db->conn, "SELECT sha256 FROM dmarcd_functions",
	    0, NULL, NULL, NULL, NULL, 0);
	if (PQresultStatus(res) == PGRES_TUPLES_OK)
		*same_r = PQntuples(res) == 1 &&
		    strcmp(PQgetvalue(res, 0, 0), hex) == 0;
	else if (!sqlstate_is(res, "42P01"))	/* none yet: not current */
		rc = db_result_error(db, res, "schema functions", err, errlen);
	PQclear(res);
	return rc;
}

/* Runs a script of statements; inside the caller's transaction. */
static int
exec_script(struct db *db, const char *sql, const char *what, char *err,
    size_t errlen)
{
	PGresult	*res;
	int		 rc = 0;

	res = PQexec(db->conn, sql);
	if (PQresultStatus(res) != PGRES_COMMAND_OK &&
	    PQresultStatus(res) != PGRES_TUPLES_OK)
		rc = db_result_error(db, res, what, err, errlen);
	PQclear(res);
	return rc;
}

/* Applies one migration and records it; inside the caller's transaction. */
static int
migrate_one(struct db *db, const struct db_migration *m, char *err,
    size_t errlen)
{
	const char	*params[2];
	char		 version[16], what[128];
	PGresult	*res;
	int		 rc;

	snprintf(what, sizeof(what), "migration %s", m->name);
	if ((rc = exec_script(db, m->sql, what, err, errlen)) != 0)
		return rc;
	snprintf(version, sizeof(version), "%d", m->version);
	params[0] = version;
	params[1] = m->name;
	res = PQexecParams(db->conn, "INSERT INTO dmarcd_schema (version, name) "
	    "VALUES ($1, $2)", 2, NULL, params, NULL, NULL, 0);
	rc = PQresultStatus(res) == PGRES_COMMAND_OK ? 0 :
	    db_result_error(db, res, what, err, errlen);
	PQclear(res);
	return rc;
}

/* Applies the functions and records their digest; inside the caller's
 * transaction, under MIGRATE_LOCK. */
static int
functions_apply(struct db *db, const char *hex, char *err, size_t errlen)
{
	const char	*params[1] = { hex };
	PGresult	*res;
	int		 rc;

	if ((rc = exec_script(db, db_functions, "schema functions", err,
	    errlen)) != 0 ||
	    (rc = db_exec(db, "DELETE FROM dmarcd_functions", err,
	    errlen)) != 0)
		return rc;
	res = PQexecParams(db->conn, "INSERT INTO dmarcd_functions (sha256) "
	    "VALUES ($1)", 1, NULL, params, NULL, NULL, 0);
	rc = PQresultStatus(res) == PGRES_COMMAND_OK ? 0 :
	    db_result_error(db, res, "schema functions", err, errlen);
	PQclear(res);
	return rc;
}

/* A version this program cannot migrate from: newer than it knows, or
 * older than its first migration (the schema squashed into it). */
static int
migrate_refuse(int current, char *err, size_t errlen)
{
	if (current > db_schema_latest()) {
		snprintf(err, errlen, "the database schema (version %d) is "
		    "newer than this dmarcd knows (%d)", current,
		    db_schema_latest());
		return DB_EPERM;
	}
	if (current > 0 && db_n_migrations > 0 &&
	    current < db_migrations[0].version) {
		snprintf(err, errlen, "the database schema (version %d) is "
		    "older than this dmarcd can migrate (%d and later): "
		    "export it and store it again in a new database", current,
		    db_migrations[0].version);
		return DB_EPERM;
	}
	return 0;
}

/* A hot standby cannot be migrated: its primary is (the standby then
 * replays it).  Said plainly, not as the first refused statement. */
static int
in_recovery(struct db *db, int current, char *err, size_t errlen)
{
	PGresult	*res;
	int		 rc = 0;

	res = PQexec(db->conn, "SELECT pg_is_in_recovery()");
	if (PQresultStatus(res) != PGRES_TUPLES_OK)
		rc = db_result_error(db, res, "schema", err, errlen);
	else if (*PQgetvalue(res, 0, 0) == 't') {
		snprintf(err, errlen, "schema: the database is a hot standby"
		    " at version %d; this dmarcd needs version %d and its"
		    " functions: run dmarcd db migrate against the primary",
		    current, db_schema_latest());
		rc = DB_EPERM;
	}
	PQclear(res);
	return rc;
}

int
db_migrate(struct db *db, int target, int *from_r, int *to_r, char *err,
    size_t errlen)
{
	char	hex[65];
	size_t	i;
	int	current, rc;
	bool	same = true;

	if (target <= 0)
		target = db_schema_latest();
	functions_digest(hex);
	/* The common case costs two queries and takes no lock. */
	if ((rc = db_schema_version(db, &current, err, errlen)) != 0)
		return rc;
	if ((rc = migrate_refuse(current, err, errlen)) != 0)
		return rc;
	if (current >= target && target == db_schema_latest() &&
	    (rc = functions_current(db, hex, &same, err, errlen)) != 0)
		return rc;
	if (current >= target && same) {
		if (from_r)
			*from_r = current;
		if (to_r)
			*to_r = current;
		return 0;
	}
	if ((rc = in_recovery(db, current, err, errlen)) != 0)
		return rc;
	if ((rc = db_exec(db, "BEGIN", err, errlen)) != 0 ||
	    (rc = db_exec(db, MIGRATE_LOCK, err, errlen)) != 0 ||
	    (rc = db_exec(db, VERSION_TABLE, err, errlen)) != 0 ||
	    (rc = db_exec(db, FUNCTIONS_TABLE, err, errlen)) != 0 ||
	    (rc = db_schema_version(db, &current, err, errlen)) != 0 ||
	    (rc = migrate_refuse(current, err, errlen)) != 0)
		goto fail;
	if (from_r)
		*from_r = current;
	for (i = 0; i < db_n_migrations; i++) {
		if (db_migrations[i].version <= current ||
		    db_migrations[i].version > target)
			continue;
		if ((rc = migrate_one(db, &db_migrations[i], err, errlen)) != 0)
			goto fail;
		current = db_migrations[i].version;
	}
	/* the functions are written for the latest schema only */
	if (current == db_schema_latest() &&
	    ((rc = functions_current(db, hex, &same, err, errlen)) != 0 ||
	    (!same && (rc = functions_apply(db, hex, err, errlen)) != 0)))
		goto fail;
	if ((rc = db_exec(db, "COMMIT", err, errlen)) != 0)
		goto fail;
	if (to_r)
		*to_r = current;
	return 0;
fail:
	db_rollback(db);
	return rc;
}

int
db_status_print(struct db *db, FILE *out, char *err, size_t errlen)
{
	PGresult	*res;
	size_t		 i;
	int		 version, rc, v;

	if ((rc = db_schema_version(db, &version, err, errlen)) != 0)
		return rc;
	/* 150018 is 15.18; before 10, 90624 was 9.6.24 */
	v = PQserverVersion(db->conn);
	if (v >= 100000)
		fprintf(out, "server: PostgreSQL %d.%d\n", v / 10000,
		    v % 10000);
	else
		fprintf(out, "server: PostgreSQL %d.%d.%d\n", v / 10000,
		    v / 100 % 100, v % 100);
	fprintf(out, "schema: version %d of %d%s\n", version,
	    db_schema_latest(), version == db_schema_latest() ? " (up to date)" :
	    version > db_schema_latest() ? " (newer than this dmarcd)" : "");
	for (i = 0; i < db_n_migrations; i++)
		if (db_migrations[i].version > version)
			fprintf(out, "pending: %s\n", db_migrations[i].name);
	if (version == 0)
		return 0;
	res = PQexec(db->conn,
	    "SELECT (SELECT count(*) FROM report),"
	    " (SELECT coalesce(sum(n_records), 0) FROM report),"
	    " (SELECT coalesce(sum(messages), 0) FROM report),"
	    " (SELECT count(*) FROM quarantine WHERE resolved IS NULL),"
	    " (SELECT count(*) FROM daily),"
	    /* record's month partitions (sql/017_partitions.sql) */
	    " (SELECT count(*) || coalesce(', ' || min(m) || ' to ' || max(m),"
	    "  '') FROM (SELECT left((regexp_match(pg_get_expr(c.relpartbound,"
	    "  c.oid), 'FROM [(]''([0-9-]+)'))[1], 7) AS m FROM pg_inherits i"
	    "  JOIN pg_class c ON c.oid = i.inhrelid"
	    "  WHERE i.inhparent = 'record'::regclass) s WHERE m IS NOT NULL)");
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		rc = db_result_error(db, res, "status", err, errlen);
		PQclear(res);
		return rc;
	}
	fprintf(out, "reports: %s\nrecords: %s\nmessages: %s\n"
	    "quarantined: %s\ndaily rows: %s\nrecord months: %s\n",
	    PQgetvalue(res, 0, 0), PQgetvalue(res, 0, 1),
	    PQgetvalue(res, 0, 2), PQgetvalue(res, 0, 3),
	    PQgetvalue(res, 0, 4), PQgetvalue(res, 0, 5));
	PQclear(res);
	return 0;
}
