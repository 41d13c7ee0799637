/*
 * migrate.c - numbered schema migrations (sql/NNN_name.sql, compiled in) and
 * the version table that says which ones a database has.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "db.h"

/* Any fixed number: the advisory lock that serialises migrating processes. */
#define MIGRATE_LOCK	"SELECT pg_advisory_xact_lock(4242001)"

#define VERSION_TABLE \
	"CREATE TABLE IF NOT EXISTS dmarcd_schema (" \
	" version integer PRIMARY KEY," \
	" name text NOT NULL," \
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
	res = PQexec(db->conn, m->sql);
	if (PQresultStatus(res) != PGRES_COMMAND_OK &&
	    PQresultStatus(res) != PGRES_TUPLES_OK) {
		rc = db_result_error(db, res, what, err, errlen);
		PQclear(res);
		return rc;
	}
	PQclear(res);
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

int
db_migrate(struct db *db, int target, int *from_r, int *to_r, char *err,
    size_t errlen)
{
	size_t	i;
	int	current, rc;

	if (target <= 0)
		target = db_schema_latest();
	/* The common case costs one query and takes no lock. */
	if ((rc = db_schema_version(db, &current, err, errlen)) != 0)
		return rc;
	if (current >= target) {
		if (from_r)
			*from_r = current;
		if (to_r)
			*to_r = current;
		if (current > db_schema_latest()) {
			snprintf(err, errlen, "the database schema (version %d) "
			    "is newer than this dmarcd knows (%d)", current,
			    db_schema_latest());
			return DB_EPERM;
		}
		return 0;
	}
	if ((rc = db_exec(db, "BEGIN", err, errlen)) != 0 ||
	    (rc = db_exec(db, MIGRATE_LOCK, err, errlen)) != 0 ||
	    (rc = db_exec(db, VERSION_TABLE, err, errlen)) != 0 ||
	    (rc = db_schema_version(db, &current, err, errlen)) != 0)
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
	    " (SELECT count(*) FROM daily)");
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		rc = db_result_error(db, res, "status", err, errlen);
		PQclear(res);
		return rc;
	}
	fprintf(out, "reports: %s\nrecords: %s\nmessages: %s\n"
	    "quarantined: %s\ndaily rows: %s\n", PQgetvalue(res, 0, 0),
	    PQgetvalue(res, 0, 1), PQgetvalue(res, 0, 2),
	    PQgetvalue(res, 0, 3), PQgetvalue(res, 0, 4));
	PQclear(res);
	return 0;
}
