/*
 * metrics.c - what /metrics reads from the database when it is scraped
 * (the rollup queue, the enrichment backlog, the open quarantine) and
 * the trivial query behind /healthz.  Shared by lmtp's metrics listener
 * (src/lmtp_metrics.c) and serve (httpd/metrics.c).
 *
 * May touch: db.c (db_result_error); reads rollup_queue, report,
 * source_host and quarantine, each through an index or a small table.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "db.h"

/* rollup_queue has no time of its own: the lag is that of the oldest
 * queued report's arrival.  The counts use the partial indexes
 * source_host_pending and quarantine_open. */
#define GAUGES_SQL \
	"SELECT (SELECT count(*) FROM rollup_queue)," \
	" (SELECT coalesce(extract(epoch FROM now() - min(r.received)), 0)" \
	"  FROM rollup_queue q JOIN report r" \
	"  ON r.domain = q.domain AND r.id = q.report)," \
	" (SELECT count(*) FROM source_host WHERE state = 'pending')," \
	" (SELECT count(*) FROM quarantine WHERE resolved IS NULL)"

int
db_gauges_read(struct db *db, struct db_gauges *g, char *err, size_t errlen)
{
	PGresult	*res;
	int		 rc = 0;

	memset(g, 0, sizeof(*g));
	res = PQexec(db->conn, GAUGES_SQL);
	if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1)
		rc = db_result_error(db, res, "gauges", err, errlen);
	else {
		g->rollup_queue = strtoull(PQgetvalue(res, 0, 0), NULL, 10);
		g->rollup_lag = strtod(PQgetvalue(res, 0, 1), NULL);
		if (g->rollup_lag < 0)	/* a clock stepped back */
			g->rollup_lag = 0;
		g->enrich_pending = strtoull(PQgetvalue(res, 0, 2), NULL, 10);
		g->quarantine_open = strtoull(PQgetvalue(res, 0, 3), NULL,
		    10);
	}
	PQclear(res);
	return rc;
}

int
db_gauges_write(struct buf *out, const struct db_gauges *g, bool up)
{
	if (metrics_family(out, "dmarcd_database_errors_total", "counter",
	    "failed database queries and connections of this process") ==
	    -1 || metrics_sample(out, "dmarcd_database_errors_total", NULL,
	    db_error_count()) == -1)
		return -1;
	if (metrics_family(out, "dmarcd_database_up", "gauge",
	    "1 when the database answered this scrape's queries, else 0") ==
	    -1 || metrics_sample(out, "dmarcd_database_up", NULL, up) == -1)
		return -1;
	if (!up)
		return 0;	/* no figure rather than a false 0 */
	if (metrics_family(out, "dmarcd_rollup_queue_reports", "gauge",
	    "reports stored but not yet added to the dashboard's rollups") ==
	    -1 || metrics_sample(out, "dmarcd_rollup_queue_reports", NULL,
	    g->rollup_queue) == -1 ||
	    metrics_family(out, "dmarcd_rollup_queue_lag_seconds", "gauge",
	    "seconds since the oldest report waiting for the rollups was "
	    "received (0: none waits)") == -1 ||
	    metrics_sample_double(out, "dmarcd_rollup_queue_lag_seconds",
	    NULL, g->rollup_lag) == -1 ||
	    metrics_family(out, "dmarcd_enrich_pending_sources", "gauge",
	    "source addresses waiting for the enricher (source_host "
	    "'pending')") == -1 ||
	    metrics_sample(out, "dmarcd_enrich_pending_sources", NULL,
	    g->enrich_pending) == -1 ||
	    metrics_family(out, "dmarcd_quarantine_open_items", "gauge",
	    "quarantine items not resolved") == -1 ||
	    metrics_sample(out, "dmarcd_quarantine_open_items", NULL,
	    g->quarantine_open) == -1)
		return -1;
	return 0;
}

int
db_ping(struct db *db, char *err, size_t errlen)
{
	PGresult	*res;
	int		 rc = 0;

	res = PQexec(db->conn, "SELECT 1");
	if (PQresultStatus(res) != PGRES_TUPLES_OK)
		rc = db_result_error(db, res, "health", err, errlen);
	PQclear(res);
	return rc;
}
