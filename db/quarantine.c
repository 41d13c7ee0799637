/*
 * quarantine.c - what gave no report, kept with its original bytes and the
 * reason until a newer dmarcd parses it.  Rows are never deleted: a retry
 * that stores the report marks the row resolved and keeps the bytes.
 */
#include "config.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "db.h"

#define QUARANTINE_PUT \
	"INSERT INTO quarantine (sha256, bytes, size, reason, source)" \
	" VALUES ($1, $2, $3::bigint, $4, $5)" \
	" ON CONFLICT (domain, sha256) DO UPDATE SET" \
	" times_seen = quarantine.times_seen + 1, last_seen = now()," \
	" reason = excluded.reason"

int
db_quarantine_put(struct db *db, const void *data, size_t len,
    const char *source, const char *reason, char *err, size_t errlen)
{
	struct db_sha256	*h;
	unsigned char		 digest[32];
	const char		*v[5];
	int			 lens[5] = { 32, 0, 0, 0, 0 };
	int			 fmts[5] = { 1, 1, 0, 0, 0 };
	char			 size[24];
	PGresult		*res;
	int			 rc = 0;

	if (len > INT32_MAX) {
		snprintf(err, errlen, "message too large to quarantine");
		return DB_EPERM;
	}
	h = db_sha256_new();
	db_sha256_update(h, data, len);
	db_sha256_finish(&h, digest);
	snprintf(size, sizeof(size), "%zu", len);
	v[0] = (const char *)digest;
	v[1] = len ? data : "";
	lens[1] = (int)len;
	v[2] = size;
	v[3] = reason;
	v[4] = source;
	res = PQexecParams(db->conn, QUARANTINE_PUT, 5, NULL, v, lens, fmts, 0);
	if (PQresultStatus(res) != PGRES_COMMAND_OK)
		rc = db_result_error(db, res, "quarantine", err, errlen);
	PQclear(res);
	return rc;
}

int
db_quarantine_list(struct db *db, bool all, FILE *out, char *err,
    size_t errlen)
{
	PGresult	*res;
	char		 reason[400], source[200];
	const char	*v;
	int		 i, rc = 0;

	res = PQexec(db->conn, all ?
	    "SELECT id, size, times_seen, to_char(first_seen,"
	    " 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), to_char(last_seen,"
	    " 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), resolved IS NOT NULL,"
	    " coalesce(source, ''), reason FROM quarantine ORDER BY id" :
	    "SELECT id, size, times_seen, to_char(first_seen,"
	    " 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), to_char(last_seen,"
	    " 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), resolved IS NOT NULL,"
	    " coalesce(source, ''), reason FROM quarantine"
	    " WHERE resolved IS NULL ORDER BY id");
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		rc = db_result_error(db, res, "quarantine list", err, errlen);
		PQclear(res);
		return rc;
	}
	for (i = 0; i < PQntuples(res); i++) {
		v = PQgetvalue(res, i, 6);
		str_escape(source, sizeof(source), v, strlen(v));
		v = PQgetvalue(res, i, 7);
		str_escape(reason, sizeof(reason), v, strlen(v));
		fprintf(out, "%s\t%s bytes\tseen %s\t%s\t%s\t%s%s\t%s\n",
		    PQgetvalue(res, i, 0), PQgetvalue(res, i, 1),
		    PQgetvalue(res, i, 2), PQgetvalue(res, i, 3),
		    PQgetvalue(res, i, 4),
		    *PQgetvalue(res, i, 5) == 't' ? "resolved " : "",
		    source, reason);
	}
	if (PQntuples(res) == 0)
		fprintf(out, "quarantine: no %smessages\n",
		    all ? "" : "unresolved ");
	PQclear(res);
	return 0;
}

int
db_quarantine_each(struct db *db, int64_t id,
    int (*fn)(void *ctx, const struct db_quarantined *q), void *ctx,
    char *err, size_t errlen)
{
	struct db_quarantined	 q;
	PGresult		*res;
	const char		*v[1];
	char			 idtext[24];
	int64_t			*ids;
	int			 i, n, rc = 0;

	/* ids first, then one row at a time: bytes never pile up in memory */
	snprintf(idtext, sizeof(idtext), "%" PRId64, id);
	v[0] = idtext;
	res = PQexecParams(db->conn, id > 0 ?
	    "SELECT id FROM quarantine WHERE id = $1::bigint ORDER BY id" :
	    "SELECT id FROM quarantine WHERE resolved IS NULL AND"
	    " $1::bigint = 0 ORDER BY id", 1, NULL, v, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		rc = db_result_error(db, res, "quarantine", err, errlen);
		PQclear(res);
		return rc;
	}
	n = PQntuples(res);
	if (id > 0 && n == 0) {
		PQclear(res);
		snprintf(err, errlen, "no quarantine entry %" PRId64, id);
		return DB_EPERM;
	}
	if ((ids = calloc(n ? n : 1, sizeof(*ids))) == NULL) {
		PQclear(res);
		snprintf(err, errlen, "out of memory");
		return DB_ETEMP;
	}
	for (i = 0; i < n; i++)
		ids[i] = strtoll(PQgetvalue(res, i, 0), NULL, 10);
	PQclear(res);
	for (i = 0; i < n && rc == 0; i++) {
		snprintf(idtext, sizeof(idtext), "%" PRId64, ids[i]);
		res = PQexecParams(db->conn, "SELECT id, domain,"
		    " coalesce(source, ''), bytes FROM quarantine"
		    " WHERE id = $1::bigint", 1, NULL, v, NULL, NULL, 1);
		if (PQresultStatus(res) != PGRES_TUPLES_OK) {
			rc = db_result_error(db, res, "quarantine", err,
			    errlen);
		} else if (PQntuples(res) == 1) {
			/* binary results: text columns come as raw bytes */
			char	*dom = strndup(PQgetvalue(res, 0, 1),
				    PQgetlength(res, 0, 1));
			char	*src = strndup(PQgetvalue(res, 0, 2),
				    PQgetlength(res, 0, 2));

			q.id = ids[i];
			q.domain = dom;
			q.source = src;
			q.data = PQgetvalue(res, 0, 3);
			q.len = PQgetlength(res, 0, 3);
			if (dom == NULL || src == NULL) {
				snprintf(err, errlen, "out of memory");
				rc = DB_ETEMP;
			} else
				rc = fn(ctx, &q);
			free(dom);
			free(src);
		}
		PQclear(res);
	}
	free(ids);
	return rc;
}

int
db_quarantine_show(struct db *db, int64_t id, FILE *out, char *err,
    size_t errlen)
{
	const char	*v[1];
	char		 idtext[24];
	PGresult	*res;
	int		 rc = 0;

	snprintf(idtext, sizeof(idtext), "%" PRId64, id);
	v[0] = idtext;
	res = PQexecParams(db->conn, "SELECT bytes FROM quarantine"
	    " WHERE id = $1::bigint", 1, NULL, v, NULL, NULL, 1);
	if (PQresultStatus(res) != PGRES_TUPLES_OK)
		rc = db_result_error(db, res, "quarantine show", err, errlen);
	else if (PQntuples(res) == 0) {
		snprintf(err, errlen, "no quarantine entry %" PRId64, id);
		rc = DB_EPERM;
	} else if (fwrite(PQgetvalue(res, 0, 0), 1, PQgetlength(res, 0, 0),
	    out) != (size_t)PQgetlength(res, 0, 0)) {
		snprintf(err, errlen, "write error");
		rc = DB_EPERM;
	}
	PQclear(res);
	return rc;
}

int
db_quarantine_resolve(struct db *db, const char *domain, int64_t id,
    char *err, size_t errlen)
{
	const char	*v[2];
	char		 idtext[24];
	PGresult	*res;
	int		 rc = 0;

	snprintf(idtext, sizeof(idtext), "%" PRId64, id);
	v[0] = domain;
	v[1] = idtext;
	res = PQexecParams(db->conn, "UPDATE quarantine SET resolved = now()"
	    " WHERE domain = $1 AND id = $2::bigint", 2, NULL, v, NULL, NULL,
	    0);
	if (PQresultStatus(res) != PGRES_COMMAND_OK)
		rc = db_result_error(db, res, "quarantine resolve", err, errlen);
	PQclear(res);
	return rc;
}
