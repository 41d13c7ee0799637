/*
 * classify.c - source_host rows to classify, in batches: read with their
 * PTR name, worked out here, written back in one UPDATE from arrays (SQL
 * by parameters only).  A batch is one transaction; its rows are locked
 * (SKIP LOCKED), so two enrichers never classify the same row.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "classify.h"
#include "dmarcd.h"
#include "orgdomain.h"

#define CLASSIFY_BATCH_MAX	10000
/* a batch's array parameters: an address or a name, escaped, per row */
#define CLASSIFY_ARRAY_CAP	(CLASSIFY_BATCH_MAX * 1100)

struct classifier {
	bool	 unused;	/* the catalogue and MMDB files come here */
};

struct host {
	char	*ip;
	char	*ptr;
	bool	 verified;
	char	 base[ORG_NAME_MAX + 1];
};

int
classifier_open(const struct conf *c, struct classifier **cl_r, FILE *errs)
{
	(void)c;
	(void)errs;
	if ((*cl_r = calloc(1, sizeof(**cl_r))) == NULL)
		fatalx("out of memory");
	return 0;
}

void
classifier_free(struct classifier *cl)
{
	free(cl);
}

static void
classify_one(struct classifier *cl, struct host *h)
{
	(void)cl;
	h->base[0] = '\0';
	if (h->ptr != NULL)
		(void)org_domain(h->ptr, h->base, sizeof(h->base));
}

static int
store(struct db *db, struct host *hosts, size_t n, char *err, size_t errlen)
{
	struct buf	 ips, bases;
	const char	*params[2], **bp;
	PGresult	*res;
	size_t		 i;
	int		 rc;

	if ((bp = calloc(n, sizeof(*bp))) == NULL)
		fatalx("out of memory");
	for (i = 0; i < n; i++)
		bp[i] = hosts[i].base[0] ? hosts[i].base : NULL;
	buf_init(&ips, CLASSIFY_ARRAY_CAP);
	buf_init(&bases, CLASSIFY_ARRAY_CAP);
	if (db_array_field(&ips, (const char *const *)&hosts[0].ip,
	    sizeof(*hosts), n, false) == -1 || db_array_field(&bases, bp,
	    sizeof(*bp), n, false) == -1 || buf_addc(&ips, '\0') == -1 ||
	    buf_addc(&bases, '\0') == -1)
		fatalx("out of memory");
	params[0] = ips.data;
	params[1] = bases.data;
	res = PQexecParams(db->conn, "UPDATE source_host h SET"
	    " base_domain = u.base, classified = now() FROM"
	    " unnest($1::inet[], $2::text[]) u(ip, base) WHERE h.ip = u.ip",
	    2, NULL, params, NULL, NULL, 0);
	rc = PQresultStatus(res) == PGRES_COMMAND_OK ? 0 :
	    db_result_error(db, res, "classify: store", err, errlen);
	PQclear(res);
	buf_free(&ips);
	buf_free(&bases);
	free(bp);
	return rc;
}

int
classify_hosts(struct db *db, struct classifier *cl, bool local,
    unsigned max, uint64_t *n_r, char *err, size_t errlen)
{
	struct host	*hosts = NULL;
	const char	*params[2];
	char		 lim[16];
	PGresult	*res = NULL;
	int		 i, n, rc = -1;

	*n_r = 0;
	if (max == 0 || max > CLASSIFY_BATCH_MAX)
		max = CLASSIFY_BATCH_MAX;
	snprintf(lim, sizeof(lim), "%u", max);
	params[0] = local ? "t" : "f";
	params[1] = lim;
	if (db_exec(db, "BEGIN", err, errlen) == -1)
		return -1;
	res = PQexecParams(db->conn, "SELECT host(ip), ptr, ptr_verified"
	    " FROM source_host WHERE classified IS NULL AND (state <>"
	    " 'pending' OR $1::boolean) ORDER BY ip LIMIT $2::int"
	    " FOR UPDATE SKIP LOCKED", 2, NULL, params, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		db_result_error(db, res, "classify: select", err, errlen);
		goto out;
	}
	n = PQntuples(res);
	if (n > 0 && (hosts = calloc(n, sizeof(*hosts))) == NULL)
		fatalx("out of memory");
	for (i = 0; i < n; i++) {
		hosts[i].ip = PQgetvalue(res, i, 0);
		hosts[i].ptr = PQgetisnull(res, i, 1) ? NULL :
		    PQgetvalue(res, i, 1);
		hosts[i].verified = *PQgetvalue(res, i, 2) == 't';
		classify_one(cl, &hosts[i]);
	}
	if (n > 0 && store(db, hosts, n, err, errlen) == -1)
		goto out;
	if (db_exec(db, "COMMIT", err, errlen) == -1)
		goto out;
	*n_r = n;
	rc = 0;
 out:
	if (rc == -1)
		db_rollback(db);
	free(hosts);
	PQclear(res);
	return rc;
}
