/*
 * prune.c - retention (`dmarcd db prune [--dry-run]`): drops the months of
 * records older than retention, as whole partitions of record and sim_day
 * (sql/017_partitions.sql), and the per-day rollups and reports'
 * headers older than rollup_retention; says what it drops, or with
 * --dry-run what it would; and, retention or not, the housekeeping of the
 * partitions: next month's made ahead, record and sim_day analysed.  The
 * work is dmarcd_prune() (sql/functions.sql), in one transaction: all of it
 * or nothing.
 *
 * May touch: db.c, store.c (db_rollup_drain); drops partitions of record
 * and sim_day, deletes from their default partitions, dash_ip,
 * dash_ip_all, report_document, the per-day rollups, rollup_queue and
 * report.
 */
#include "config.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "db.h"

#define PRUNE_SQL	"SELECT action, tbl, rows, bytes FROM" \
			" dmarcd_prune($1::int, $2::int, $3::boolean)"
/* a partition is dropped under an ACCESS EXCLUSIVE lock of its table,
 * which waits for the dashboard's queries on it: not for ever */
#define PRUNE_LOCK	"SET LOCAL lock_timeout = '10s'"
#define PRUNE_ANALYZE	"ANALYZE record, sim_day"

static void
print_row(FILE *out, PGresult *res, int i, bool dry)
{
	const char	*action = PQgetvalue(res, i, 0);
	char		 clean[128];
	double		 bytes;

	if (PQgetisnull(res, i, 1)) {
		fprintf(out, "%s:\n", action);
		return;
	}
	str_escape(clean, sizeof(clean), PQgetvalue(res, i, 1),
	    strlen(PQgetvalue(res, i, 1)));
	fprintf(out, "  %s %s: %s rows", dry ? (strcmp(action, "drop") == 0 ?
	    "would drop" : "would delete from") : (strcmp(action, "drop") ==
	    0 ? "dropped" : "deleted from"), clean, PQgetvalue(res, i, 2));
	if (!PQgetisnull(res, i, 3)) {
		bytes = strtod(PQgetvalue(res, i, 3), NULL);
		if (bytes < 1024 * 1024)
			fprintf(out, ", %.0f kB", bytes / 1024);
		else
			fprintf(out, ", %.1f MB", bytes / (1024 * 1024));
	}
	fputc('\n', out);
}

/* attaching a partition waits for the queries on the default partition,
 * and queries after it wait behind it: briefly, else the next time */
#define AHEAD_LOCK	"SET LOCAL lock_timeout = '2s'"

int
db_partitions_ahead(struct db *db, char *err, size_t errlen)
{
	int	rc;

	if ((rc = db_exec(db, "BEGIN", err, errlen)) != 0)
		return rc;
	if ((rc = db_exec(db, AHEAD_LOCK, err, errlen)) != 0 ||
	    (rc = db_exec(db, "SELECT dmarcd_partitions_ahead()", err,
	    errlen)) != 0) {
		db_rollback(db);
		return rc;
	}
	return db_exec(db, "COMMIT", err, errlen);
}

int
db_prune(struct db *db, unsigned months, unsigned rollup_months, bool dry,
    FILE *out, unsigned *n_r, char *err, size_t errlen)
{
	PGresult	*res;
	const char	*v[3];
	char		 m[16], rm[16];
	int		 i, rc;

	*n_r = 0;
	/* the queued reports into the rollups before their records go */
	if (!dry && (rc = db_rollup_drain(db, err, errlen)) != 0)
		return rc;
	snprintf(m, sizeof(m), "%u", months);
	snprintf(rm, sizeof(rm), "%u", rollup_months);
	v[0] = m;
	v[1] = rm;
	v[2] = dry ? "true" : "false";
	if ((rc = db_exec(db, "BEGIN", err, errlen)) != 0)
		return rc;
	if ((rc = db_exec(db, PRUNE_LOCK, err, errlen)) != 0) {
		db_rollback(db);
		return rc;
	}
	res = PQexecParams(db->conn, PRUNE_SQL, 3, NULL, v, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		rc = db_result_error(db, res, "db prune", err, errlen);
		PQclear(res);
		db_rollback(db);
		return rc;
	}
	for (i = 0; i < PQntuples(res); i++) {
		print_row(out, res, i, dry);
		if (!PQgetisnull(res, i, 1))
			(*n_r)++;
	}
	PQclear(res);
	if ((rc = db_exec(db, dry ? "ROLLBACK" : "COMMIT", err, errlen)) != 0)
		return rc;
	/* autovacuum never analyses a partitioned table itself: this does,
	 * whether or not anything went (the daily timer's other job) */
	if (!dry)
		rc = db_exec(db, PRUNE_ANALYZE, err, errlen);
	return rc;
}
