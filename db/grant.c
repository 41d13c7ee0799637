/*
 * grant.c - least-privilege roles for a shared PostgreSQL server (`dmarcd
 * db grant ROLE --read-only|--ingest`): what a dashboard (serve, on the
 * primary or a hot standby) and what an ingester (ingest, lmtp, enrich,
 * alerts) need of dmarcd's schema, and nothing more.  Neither may create
 * or alter a table: migrations stay with the role that owns the schema,
 * the one that runs this.
 *
 * The role and database names are identifiers, which cannot be query
 * parameters: they are quoted by PQescapeIdentifier, never pasted.
 *
 * May touch: db.c.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "db.h"

/* the schema dmarcd's tables are in: that of its version table */
#define SCHEMA_QUERY \
	"SELECT schemaname FROM pg_tables WHERE tablename = 'dmarcd_schema'"
#define ROLE_QUERY	"SELECT 1 FROM pg_roles WHERE rolname = $1"

/* Runs head, a, mid, b: a statement of two quoted identifiers. */
static int
grant_exec(struct db *db, const char *head, const char *a, const char *mid,
    const char *b, char *err, size_t errlen)
{
	char	sql[1024];

	if ((size_t)snprintf(sql, sizeof(sql), "%s%s%s%s", head, a, mid, b) >=
	    sizeof(sql)) {
		snprintf(err, errlen, "db grant: a name too long");
		return DB_EPERM;
	}
	return db_exec(db, sql, err, errlen);
}

static int
one_value(struct db *db, const char *sql, int n, const char *const *v,
    char *out, size_t outlen, bool *found_r, char *err, size_t errlen)
{
	PGresult	*res;
	int		 rc = 0;

	res = PQexecParams(db->conn, sql, n, NULL, v, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK)
		rc = db_result_error(db, res, "db grant", err, errlen);
	else {
		*found_r = PQntuples(res) > 0;
		if (*found_r && out != NULL)
			snprintf(out, outlen, "%s", PQgetvalue(res, 0, 0));
	}
	PQclear(res);
	return rc;
}

int
db_grant(struct db *db, const char *role, bool ingest, bool *created_r,
    char *err, size_t errlen)
{
	/* each "HEAD schema MID role" */
	static const char *const ingest_sql[][2] = {
		{ "GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA ",
		  " TO " },
		{ "GRANT USAGE ON ALL SEQUENCES IN SCHEMA ", " TO " },
		{ "ALTER DEFAULT PRIVILEGES IN SCHEMA ", " GRANT SELECT, INSERT,"
		  " UPDATE, DELETE ON TABLES TO " },
		{ "ALTER DEFAULT PRIVILEGES IN SCHEMA ", " GRANT USAGE ON"
		  " SEQUENCES TO " },
	};
	static const char *const read_sql[][2] = {
		{ "GRANT SELECT ON ALL TABLES IN SCHEMA ", " TO " },
		{ "ALTER DEFAULT PRIVILEGES IN SCHEMA ", " GRANT SELECT ON TABLES"
		  " TO " },
	};
	const char *const	(*sql)[2] = ingest ? ingest_sql : read_sql;
	size_t			 nsql = ingest ? nitems(ingest_sql) :
				    nitems(read_sql), i;
	char			 schema[256], dbname[256];
	char			*qrole = NULL, *qschema = NULL, *qdb = NULL;
	const char		*v[1];
	bool			 found;
	int			 rc;

	*created_r = false;
	if (*role == '\0' || strlen(role) > 63) {
		snprintf(err, errlen, "db grant: a role name is 1 to 63 bytes");
		return DB_EPERM;
	}
	if ((rc = db_exec(db, "BEGIN", err, errlen)) != 0)
		return rc;
	if ((rc = one_value(db, SCHEMA_QUERY, 0, NULL, schema, sizeof(schema),
	    &found, err, errlen)) != 0)
		goto fail;
	if (!found) {
		snprintf(err, errlen, "db grant: no dmarcd schema in this "
		    "database (run dmarcd db migrate first)");
		rc = DB_EPERM;
		goto fail;
	}
	if ((rc = one_value(db, "SELECT current_database()", 0, NULL, dbname,
	    sizeof(dbname), &found, err, errlen)) != 0)
		goto fail;
	qrole = PQescapeIdentifier(db->conn, role, strlen(role));
	qschema = PQescapeIdentifier(db->conn, schema, strlen(schema));
	qdb = PQescapeIdentifier(db->conn, dbname, strlen(dbname));
	if (qrole == NULL || qschema == NULL || qdb == NULL) {
		rc = db_result_error(db, NULL, "db grant", err, errlen);
		goto fail;
	}
	v[0] = role;
	if ((rc = one_value(db, ROLE_QUERY, 1, v, NULL, 0, &found, err,
	    errlen)) != 0)
		goto fail;
	if (!found) {
		if ((rc = grant_exec(db, "CREATE ROLE ", qrole, " LOGIN", "",
		    err, errlen)) != 0)
			goto fail;
		*created_r = true;
	}
	if ((rc = grant_exec(db, "GRANT CONNECT ON DATABASE ", qdb, " TO ",
	    qrole, err, errlen)) != 0 ||
	    (rc = grant_exec(db, "GRANT USAGE ON SCHEMA ", qschema, " TO ",
	    qrole, err, errlen)) != 0)
		goto fail;
	for (i = 0; i < nsql; i++)
		if ((rc = grant_exec(db, sql[i][0], qschema, sql[i][1], qrole,
		    err, errlen)) != 0)
			goto fail;
	rc = db_exec(db, "COMMIT", err, errlen);
	if (rc != 0)
		goto fail;
	PQfreemem(qrole);
	PQfreemem(qschema);
	PQfreemem(qdb);
	return 0;
fail:
	db_rollback(db);
	*created_r = false;
	PQfreemem(qrole);
	PQfreemem(qschema);
	PQfreemem(qdb);
	return rc;
}
