/*
 * db.c - connecting, running commands, telling temporary from permanent
 * failures, and the escaping of COPY fields and text[] values.
 *
 * May touch: libpq, cluster.c and migrate.c (db_open); no transaction
 * state (that is store.c's struct db_batch).
 */
#include "config.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "db.h"

/* every failed query and connection of the process (db_error_count) */
static metrics_counter db_errors;

uint64_t
db_error_count(void)
{
	return metrics_get(&db_errors);
}

/* SQLSTATE classes and codes after which the same input may well succeed
 * later: connection problems, resources, shutdown, system errors. */
static bool
sqlstate_temporary(const char *st)
{
	if (st == NULL || strlen(st) != 5)
		return true;	/* no server answer at all: connection lost */
	return strncmp(st, "08", 2) == 0 ||	/* connection exception */
	    strncmp(st, "53", 2) == 0 ||	/* insufficient resources */
	    strncmp(st, "57", 2) == 0 ||	/* operator intervention */
	    strncmp(st, "58", 2) == 0 ||	/* system error */
	    strcmp(st, "40001") == 0 ||		/* serialization failure */
	    strcmp(st, "40P01") == 0 ||		/* deadlock */
	    strcmp(st, "55P03") == 0 ||		/* lock not available */
	    strncmp(st, "XX", 2) == 0;		/* internal error */
}

bool
db_result_retryable(const PGresult *res)
{
	const char	*st;

	if (res == NULL)
		return false;
	st = PQresultErrorField(res, PG_DIAG_SQLSTATE);
	return st != NULL &&
	    (strcmp(st, "40001") == 0 || strcmp(st, "40P01") == 0);
}

bool
db_may_retry(const struct db *db)
{
	return db->retryable && PQstatus(db->conn) == CONNECTION_OK;
}

int
db_result_error(struct db *db, const PGresult *res, const char *what,
    char *err, size_t errlen)
{
	const char	*msg, *st = NULL;
	char		 clean[400];

	metrics_add(&db_errors, 1);
	msg = res != NULL ? PQresultErrorMessage(res) : "";
	if (res != NULL)
		st = PQresultErrorField(res, PG_DIAG_SQLSTATE);
	if (*msg == '\0' && db != NULL && db->conn != NULL)
		msg = PQerrorMessage(db->conn);
	str_escape(clean, sizeof(clean), msg, strcspn(msg, "\n"));
	snprintf(err, errlen, "%s: %s", what, *clean ? clean : "no answer");
	if (db != NULL) {
		db->retryable = db_result_retryable(res);
		snprintf(db->sqlstate, sizeof(db->sqlstate), "%s",
		    st != NULL ? st : "");
	}
	if (db != NULL && db->conn != NULL &&
	    PQstatus(db->conn) != CONNECTION_OK)
		return DB_ETEMP;
	return sqlstate_temporary(st) ? DB_ETEMP : DB_EPERM;
}

const char *
db_write_refused(const struct db *db)
{
	if (db == NULL)
		return NULL;
	if (strcmp(db->sqlstate, "25006") == 0)	/* read_only_sql_transaction */
		return "read-only";
	if (strcmp(db->sqlstate, "42501") == 0)	/* insufficient_privilege */
		return "not allowed";
	return NULL;
}

void
db_rollback(struct db *db)
{
	if (db != NULL && db->conn != NULL)
		PQclear(PQexec(db->conn, "ROLLBACK"));
}

int
db_exec(struct db *db, const char *sql, char *err, size_t errlen)
{
	PGresult	*res;
	int		 rc = 0;

	res = PQexec(db->conn, sql);
	if (PQresultStatus(res) != PGRES_COMMAND_OK &&
	    PQresultStatus(res) != PGRES_TUPLES_OK)
		rc = db_result_error(db, res, sql, err, errlen);
	PQclear(res);
	return rc;
}

/* Quiet notices ("relation already exists, skipping"). */
static void
notice_ignore(void *arg, const char *message)
{
	(void)arg;
	(void)message;
}

int
db_open(const struct db_config *cfg, bool migrate, struct db **db_r,
    char *err, size_t errlen)
{
	/* connect_timeout before dbname: the URL's own overrides it */
	const char	*keys[] = { "connect_timeout", "dbname",
			    "client_encoding", "options",
			    "fallback_application_name", NULL };
	const char	*vals[] = { DB_CONNECT_TIMEOUT, NULL, "UTF8",
			    "-c TimeZone=UTC", "dmarcd", NULL };
	char		 conninfo[1024], clean[400], *perr = NULL;
	PQconninfoOption *opts;
	struct db	*db;
	const char	*msg;
	int		 rc;

	*db_r = NULL;
	if (cfg->url == NULL || *cfg->url == '\0') {
		if ((rc = db_cluster_start(cfg, conninfo, sizeof(conninfo),
		    err, errlen)) != 0)
			return rc;
		vals[1] = conninfo;
	} else {
		if ((opts = PQconninfoParse(cfg->url, &perr)) == NULL) {
			snprintf(err, errlen, "database URL: %s",
			    perr ? perr : "out of memory");
			PQfreemem(perr);
			return DB_EPERM;
		}
		PQconninfoFree(opts);
		vals[1] = cfg->url;
	}
	if ((db = calloc(1, sizeof(*db))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return DB_ETEMP;
	}
	db->conn = PQconnectdbParams(keys, vals, 1);
	if (db->conn == NULL || PQstatus(db->conn) != CONNECTION_OK) {
		msg = db->conn ? PQerrorMessage(db->conn) : "out of memory";
		str_escape(clean, sizeof(clean), msg, strcspn(msg, "\n"));
		snprintf(err, errlen, "cannot connect to the database: %s",
		    clean);
		metrics_add(&db_errors, 1);
		db_close(&db);
		return DB_ETEMP;
	}
	PQsetNoticeProcessor(db->conn, notice_ignore, NULL);
	if (migrate && (rc = db_migrate(db, 0, NULL, NULL, err, errlen)) != 0) {
		db_close(&db);
		return rc;
	}
	*db_r = db;
	return 0;
}

void
db_close(struct db **dbp)
{
	struct db	*db = *dbp;

	if (db == NULL)
		return;
	if (db->conn != NULL)
		PQfinish(db->conn);
	free(db);
	*dbp = NULL;
}

int
db_copy_field(struct buf *b, const char *s)
{
	const char	*run;
	int		 rc = 0;

	if (s == NULL)
		return buf_add(b, "\\N", 2);
	for (run = s; *s != '\0'; s++) {
		const char	*esc;

		switch (*s) {
		case '\\': esc = "\\\\"; break;
		case '\t': esc = "\\t"; break;
		case '\n': esc = "\\n"; break;
		case '\r': esc = "\\r"; break;
		default: continue;
		}
		rc |= buf_add(b, run, s - run);
		rc |= buf_add(b, esc, 2);
		run = s + 1;
	}
	rc |= buf_add(b, run, s - run);
	return rc ? -1 : 0;
}

int
db_array_field(struct buf *b, const char *const *first, size_t stride,
    size_t n, bool copy)
{
	const char	*s, *p;
	size_t		 i;
	int		 rc = 0;

	rc |= buf_addc(b, '{');
	for (i = 0; i < n; i++) {
		s = *(const char *const *)(const void *)
		    ((const char *)first + i * stride);
		if (i)
			rc |= buf_addc(b, ',');
		if (s == NULL) {
			rc |= buf_adds(b, "NULL");
			continue;
		}
		rc |= buf_addc(b, '"');
		for (p = s; *p != '\0'; p++) {
			if (*p == '"' || *p == '\\')
				rc |= buf_adds(b, copy ? "\\\\" : "\\");
			if (copy && *p == '\\')
				rc |= buf_adds(b, "\\\\");
			else if (copy && *p == '\t')
				rc |= buf_adds(b, "\\t");
			else if (copy && *p == '\n')
				rc |= buf_adds(b, "\\n");
			else if (copy && *p == '\r')
				rc |= buf_adds(b, "\\r");
			else
				rc |= buf_addc(b, *p);
		}
		rc |= buf_addc(b, '"');
	}
	rc |= buf_addc(b, '}');
	return rc ? -1 : 0;
}

int
db_array_parse_grow(char *s, char ***v, size_t *max)
{
	const char	*q;
	char		**p;
	size_t		 need = 1;

	for (q = s; *q != '\0'; q++)
		need += *q == ',';
	if (need > *max) {
		if ((p = reallocarray(*v, need, sizeof(*p))) == NULL)
			return -1;
		*v = p;
		*max = need;
	}
	return db_array_parse(s, *v, *max);
}

int
db_array_parse(char *s, char **out, size_t max)
{
	size_t	 n = 0;
	char	*w, *start;
	bool	 quoted;

	if (*s++ != '{')
		return -1;
	if (*s == '}')
		return s[1] == '\0' ? 0 : -1;
	for (;;) {
		if (n == max)
			return -1;
		quoted = *s == '"';
		if (quoted)
			s++;
		start = w = s;
		for (;;) {
			if (*s == '\0')
				return -1;
			if (quoted) {
				if (*s == '"')
					break;
				if (*s == '\\' && s[1] != '\0')
					s++;
			} else if (*s == ',' || *s == '}')
				break;
			*w++ = *s++;
		}
		if (quoted)
			s++;
		if (*s != ',' && *s != '}')
			return -1;
		/* decide NULL before terminating: w may overwrite the separator */
		out[n] = !quoted && w - start == 4 &&
		    strncasecmp(start, "NULL", 4) == 0 ? NULL : start;
		n++;
		if (*s == '}') {
			*w = '\0';
			return s[1] == '\0' ? (int)n : -1;
		}
		s++;
		*w = '\0';
	}
}

int
db_each_row(struct db *db, const char *what, const char *sql, int nparams,
    const char *const *values, db_row_fn row, void *ctx, char *err,
    size_t errlen)
{
	PGresult	*res;
	int		 rc = 0;

	if (!PQsendQueryParams(db->conn, sql, nparams, NULL, values, NULL,
	    NULL, 0) || !PQsetSingleRowMode(db->conn))
		return db_result_error(db, NULL, what, err, errlen);
	while ((res = PQgetResult(db->conn)) != NULL) {
		switch (PQresultStatus(res)) {
		case PGRES_SINGLE_TUPLE:
			if (rc == 0)
				rc = row(ctx, res, err, errlen);
			break;
		case PGRES_TUPLES_OK:	/* the end of the rows */
			break;
		default:
			if (rc == 0)
				rc = db_result_error(db, res, what, err,
				    errlen);
			break;
		}
		PQclear(res);
	}
	return rc;
}
