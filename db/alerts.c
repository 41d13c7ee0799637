/*
 * alerts.c - the alert rules' conditions, read from the rollups (dash_ip,
 * dash_day, dash_reporter) and the quarantine, and their episodes
 * (sql/014_alerts.sql): opened when a condition starts to hold for a key,
 * kept while it holds, closed at the first evaluation where it does not.
 * Rendering and sending are src/alerts.c's.
 *
 * Each condition is one query returning (domain, key, value, detail):
 * detail is a phrase made of numbers and dates only, so nothing a report
 * wrote reaches it (the key, a reporter's name, does; its readers escape).
 *
 * May touch: db.c.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "db.h"

/* Any fixed number: one evaluation (and its sends) at a time, so the
 * timer's and an ingest's never send an episode twice. */
#define ALERTS_LOCK	"SELECT pg_advisory_lock(4242014)"
#define ALERTS_UNLOCK	"SELECT pg_advisory_unlock(4242014)"

#define STR(x)	#x
#define XSTR(x)	STR(x)
/* today: $1, else the server's UTC date */
#define TODAY	"coalesce($1::date, (now() AT TIME ZONE 'UTC')::date)"
#define LIMIT	" LIMIT " XSTR(DB_ALERTS_MAX)

/* A source whose first day of the last week had at least $2 messages,
 * with no row of the 30 days before that day. */
#define NEW_SOURCE_QUERY \
	"SELECT n.domain, host(n.source_ip), n.messages," \
	" n.messages || ' messages on ' || n.day" \
	" FROM (SELECT DISTINCT ON (i.domain, i.source_ip) i.domain," \
	"  i.source_ip, i.day, i.messages" \
	"  FROM dash_ip i WHERE i.day > " TODAY " - " \
	XSTR(DB_ALERTS_NEW_DAYS) " AND i.day <= " TODAY \
	"  AND i.messages >= $2::bigint" \
	"  AND NOT EXISTS (SELECT 1 FROM dash_ip o WHERE o.domain = i.domain" \
	"   AND o.day >= i.day - " XSTR(DB_ALERTS_HISTORY_DAYS) \
	"   AND o.day < i.day AND o.source_ip = i.source_ip)" \
	"  ORDER BY i.domain, i.source_ip, i.day) n" \
	" ORDER BY n.messages DESC, n.domain, n.source_ip" LIMIT

/* A domain's latest day of the last week against the day before it. */
#define PASS_DROP_QUERY \
	"WITH d AS (SELECT domain, day, sum(messages) AS m," \
	"  coalesce(sum(messages) FILTER (WHERE dkim_aligned OR" \
	"  spf_aligned), 0) AS p" \
	"  FROM dash_day WHERE day > " TODAY " - " \
	XSTR(DB_ALERTS_NEW_DAYS) " - 1 AND day <= " TODAY \
	"  GROUP BY domain, day)," \
	" l AS (SELECT DISTINCT ON (domain) domain, day, m, p FROM d" \
	"  WHERE day > " TODAY " - " XSTR(DB_ALERTS_NEW_DAYS) \
	"  ORDER BY domain, day DESC)" \
	" SELECT l.domain, '', floor(100.0 * y.p / y.m -" \
	"  100.0 * l.p / l.m)::bigint," \
	" 'from ' || round(100.0 * y.p / y.m, 1) || ' % on ' || y.day ||" \
	" ' to ' || round(100.0 * l.p / l.m, 1) || ' % on ' || l.day" \
	" FROM l JOIN d y ON y.domain = l.domain AND y.day = l.day - 1" \
	" WHERE y.m > 0 AND l.m > 0" \
	" AND 100.0 * y.p / y.m - 100.0 * l.p / l.m > $2::bigint" \
	" ORDER BY 3 DESC, 1" LIMIT

/* A reporter of the 30 days before the last $2 with no day in them (a
 * day after today counts as having sent). */
#define REPORTER_SILENT_QUERY \
	"SELECT domain, reporter, (" TODAY " - max(day))::bigint," \
	" 'last report day ' || max(day)" \
	" FROM dash_reporter" \
	" WHERE day >= " TODAY " - $2::integer - " \
	XSTR(DB_ALERTS_HISTORY_DAYS) \
	" GROUP BY domain, reporter" \
	" HAVING max(day) < " TODAY " - $2::integer" \
	" ORDER BY 3 DESC, 1, 2" LIMIT

/* A source of a domain with approved senders whose latest day of the last
 * week had at least $2 % of its messages failing DMARC (as the reporters
 * evaluated it), while under $2 % failed in the 30 days before the week.
 * The caller keeps the sources the domain's rules approve. */
#define APPROVED_FAIL_QUERY \
	"WITH l AS (SELECT DISTINCT ON (domain, source_ip) domain," \
	"  source_ip, day, messages, messages - pass AS fail FROM dash_ip" \
	"  WHERE day > " TODAY " - " XSTR(DB_ALERTS_NEW_DAYS) \
	"  AND day <= " TODAY " AND messages >= " \
	XSTR(DB_ALERTS_MIN_MESSAGES) \
	"  AND domain IN (SELECT DISTINCT domain FROM sender_rule)" \
	"  ORDER BY domain, source_ip, day DESC)," \
	" h AS (SELECT i.domain, i.source_ip, sum(i.messages) AS messages," \
	"  sum(i.messages - i.pass) AS fail FROM dash_ip i" \
	"  JOIN l ON l.domain = i.domain AND l.source_ip = i.source_ip" \
	"  WHERE i.day > " TODAY " - " XSTR(DB_ALERTS_NEW_DAYS) " - " \
	XSTR(DB_ALERTS_HISTORY_DAYS) \
	"  AND i.day <= " TODAY " - " XSTR(DB_ALERTS_NEW_DAYS) \
	"  GROUP BY 1, 2)" \
	" SELECT l.domain, host(l.source_ip)," \
	" floor(100.0 * l.fail / l.messages)::bigint," \
	" l.fail || ' of ' || l.messages || ' messages failing on ' ||" \
	" l.day || ', ' || round(100.0 * h.fail / h.messages, 1) ||" \
	" ' % in the 30 days before the last 7'" \
	" FROM l JOIN h ON h.domain = l.domain AND h.source_ip = l.source_ip" \
	" WHERE 100.0 * l.fail >= $2::bigint * l.messages" \
	" AND h.messages > 0 AND 100.0 * h.fail < $2::bigint * h.messages" \
	" ORDER BY 3 DESC, l.messages DESC, 1, 2" LIMIT

#define UPSERT \
	"INSERT INTO alert_episode (domain, rule, key, value, threshold," \
	" detail) VALUES ($1, $2, $3, $4, $5, $6)" \
	" ON CONFLICT (domain, rule, key) WHERE closed IS NULL" \
	" DO UPDATE SET seen = now(), value = excluded.value," \
	" threshold = excluded.threshold, detail = excluded.detail"

/* what was not upserted by this transaction no longer holds */
#define CLOSE \
	"UPDATE alert_episode SET closed = now()" \
	" WHERE rule = $1 AND closed IS NULL AND seen < now()"

#define UNSENT_QUERY \
	"SELECT domain, id, rule, key, value, threshold, detail," \
	" to_char(opened AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')," \
	" closed IS NULL, mail_sent IS NOT NULL, webhook_sent IS NOT NULL" \
	" FROM alert_episode" \
	" WHERE (mail_sent IS NULL OR webhook_sent IS NULL)" \
	" AND opened > now() - interval '" XSTR(DB_ALERTS_RETRY_DAYS) " days'" \
	" AND (($1::boolean AND mail_sent IS NULL) OR" \
	" ($2::boolean AND webhook_sent IS NULL))" \
	" ORDER BY opened, id" LIMIT

#define QUARANTINE_MARK	"quarantine_open"

static const char *const rule_names[DB_ALERT_NRULES] = {
	"new_source", "pass_drop", "reporter_silent", "quarantine_growth",
	"approved_fail",
};

const char *
db_alert_rule_name(enum db_alert_rule rule)
{
	return rule < DB_ALERT_NRULES ? rule_names[rule] : "?";
}

static int
rule_from_name(const char *s, enum db_alert_rule *r)
{
	int	i;

	for (i = 0; i < DB_ALERT_NRULES; i++)
		if (strcmp(s, rule_names[i]) == 0) {
			*r = (enum db_alert_rule)i;
			return 0;
		}
	return -1;
}

/* Opens or keeps the episode of a (the filter first). */
static int
alerts_hold(struct db *db, struct db_alert *a, db_alert_filter_fn filter,
    void *ctx, char *err, size_t errlen)
{
	const char	*v[6];
	char		 value[24], threshold[24];
	PGresult	*res;
	int		 rc = 0;

	if (filter != NULL && !filter(ctx, a))
		return 0;
	snprintf(value, sizeof(value), "%lld", (long long)a->value);
	snprintf(threshold, sizeof(threshold), "%lld",
	    (long long)a->threshold);
	v[0] = a->domain;
	v[1] = db_alert_rule_name(a->rule);
	v[2] = a->key;
	v[3] = value;
	v[4] = threshold;
	v[5] = a->detail;
	res = PQexecParams(db->conn, UPSERT, 6, NULL, v, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_COMMAND_OK)
		rc = db_result_error(db, res, "alerts: episode", err, errlen);
	PQclear(res);
	return rc;
}

/* Runs one rule's condition query and holds every key it returns. */
static int
alerts_rule_query(struct db *db, const struct db_alert_rules *r,
    enum db_alert_rule rule, const char *sql, db_alert_filter_fn filter,
    void *ctx, char *err, size_t errlen)
{
	struct db_alert	 a;
	const char	*v[2];
	char		 threshold[24];
	PGresult	*res;
	int		 i, rc = 0;

	snprintf(threshold, sizeof(threshold), "%llu",
	    (unsigned long long)r->threshold[rule]);
	v[0] = r->today;
	v[1] = threshold;
	res = PQexecParams(db->conn, sql, 2, NULL, v, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		rc = db_result_error(db, res, "alerts: rule", err, errlen);
		PQclear(res);
		return rc;
	}
	for (i = 0; i < PQntuples(res) && rc == 0; i++) {
		memset(&a, 0, sizeof(a));
		a.rule = rule;
		a.domain = PQgetvalue(res, i, 0);
		a.key = PQgetvalue(res, i, 1);
		a.value = strtoll(PQgetvalue(res, i, 2), NULL, 10);
		a.threshold = (int64_t)r->threshold[rule];
		a.detail = PQgetvalue(res, i, 3);
		a.open = true;
		rc = alerts_hold(db, &a, filter, ctx, err, errlen);
	}
	PQclear(res);
	return rc;
}

/* Runs a query of params (all text) that returns nothing or one row;
 * *res_r gets the result when one is wanted. */
static int
alerts_exec(struct db *db, const char *sql, int n, const char *const *v,
    PGresult **res_r, char *err, size_t errlen)
{
	PGresult	*res;
	int		 rc = 0;

	res = PQexecParams(db->conn, sql, n, NULL, v, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_COMMAND_OK &&
	    PQresultStatus(res) != PGRES_TUPLES_OK) {
		rc = db_result_error(db, res, "alerts", err, errlen);
		PQclear(res);
		return rc;
	}
	if (res_r != NULL)
		*res_r = res;
	else
		PQclear(res);
	return 0;
}

/* The quarantine's growth since its mark: the count of the first
 * evaluation, of the last alert, or the lowest since.  The mark follows
 * the count while the rule is off, so turning it on starts from now. */
static int
alerts_quarantine(struct db *db, const struct db_alert_rules *r,
    db_alert_filter_fn filter, void *ctx, char *err, size_t errlen)
{
	struct db_alert	 a;
	PGresult	*res;
	const char	*v[2];
	char		 count_s[24], detail[128];
	long long	 count, mark;
	bool		 have_mark;
	int		 rc;

	if ((rc = alerts_exec(db, "SELECT count(*) FROM quarantine"
	    " WHERE resolved IS NULL", 0, NULL, &res, err, errlen)) != 0)
		return rc;
	count = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
	PQclear(res);
	if ((rc = alerts_exec(db, "SELECT value FROM alert_mark"
	    " WHERE domain = '' AND name = '" QUARANTINE_MARK "' FOR UPDATE",
	    0, NULL, &res, err, errlen)) != 0)
		return rc;
	have_mark = PQntuples(res) == 1;
	mark = have_mark ? strtoll(PQgetvalue(res, 0, 0), NULL, 10) : 0;
	PQclear(res);

	snprintf(count_s, sizeof(count_s), "%lld", count);
	v[0] = count_s;
	if (have_mark && r->threshold[DB_ALERT_QUARANTINE_GROWTH] > 0 &&
	    count - mark >= (long long)r->threshold[
	    DB_ALERT_QUARANTINE_GROWTH]) {
		memset(&a, 0, sizeof(a));
		a.rule = DB_ALERT_QUARANTINE_GROWTH;
		a.domain = "";
		a.key = "";
		a.value = count - mark;
		a.threshold = (int64_t)r->threshold[DB_ALERT_QUARANTINE_GROWTH];
		snprintf(detail, sizeof(detail), "from %lld to %lld unresolved",
		    mark, count);
		a.detail = detail;
		a.open = true;
		if ((rc = alerts_hold(db, &a, filter, ctx, err, errlen)) != 0)
			return rc;
	} else if (have_mark && count >= mark &&
	    r->threshold[DB_ALERT_QUARANTINE_GROWTH] > 0)
		return 0;	/* growing, not yet by enough: keep the mark */
	return alerts_exec(db, "INSERT INTO alert_mark (domain, name, value)"
	    " VALUES ('', '" QUARANTINE_MARK "', $1)"
	    " ON CONFLICT (domain, name) DO UPDATE SET value = excluded.value,"
	    " at = now()", 1, v, NULL, err, errlen);
}

/* Every rule: hold what holds, close the rest. */
static int
alerts_rules(struct db *db, const struct db_alert_rules *r,
    db_alert_filter_fn filter, void *ctx, char *err, size_t errlen)
{
	static const struct {
		enum db_alert_rule	 rule;
		const char		*sql;
	} q[] = {
		{ DB_ALERT_NEW_SOURCE, NEW_SOURCE_QUERY },
		{ DB_ALERT_PASS_DROP, PASS_DROP_QUERY },
		{ DB_ALERT_REPORTER_SILENT, REPORTER_SILENT_QUERY },
		{ DB_ALERT_APPROVED_FAIL, APPROVED_FAIL_QUERY },
	};
	const char	*v[1];
	size_t		 j;
	int		 i, rc;

	for (j = 0; j < nitems(q); j++)
		if (r->threshold[q[j].rule] > 0 && (rc = alerts_rule_query(db,
		    r, q[j].rule, q[j].sql, filter, ctx, err, errlen)) != 0)
			return rc;
	if ((rc = alerts_quarantine(db, r, filter, ctx, err, errlen)) != 0)
		return rc;
	for (i = 0; i < DB_ALERT_NRULES; i++) {
		v[0] = db_alert_rule_name((enum db_alert_rule)i);
		if ((rc = alerts_exec(db, CLOSE, 1, v, NULL, err,
		    errlen)) != 0)
			return rc;
	}
	return 0;
}

static int
alerts_unsent(struct db *db, bool want_mail, bool want_webhook,
    struct db_alerts *out, char *err, size_t errlen)
{
	struct db_alert	*a;
	PGresult	*res;
	const char	*v[2];
	int		 i, rc;

	v[0] = want_mail ? "true" : "false";
	v[1] = want_webhook ? "true" : "false";
	if ((rc = alerts_exec(db, UNSENT_QUERY, 2, v, &res, err,
	    errlen)) != 0)
		return rc;
	if (PQntuples(res) > 0 && (out->v = calloc(PQntuples(res),
	    sizeof(*out->v))) == NULL)
		fatalx("out of memory");
	for (i = 0; i < PQntuples(res); i++) {
		a = &out->v[out->n];
		if (rule_from_name(PQgetvalue(res, i, 2), &a->rule) == -1)
			continue;	/* a newer dmarcd's rule */
		a->domain = xstrdup(PQgetvalue(res, i, 0));
		a->id = strtoll(PQgetvalue(res, i, 1), NULL, 10);
		a->key = xstrdup(PQgetvalue(res, i, 3));
		a->value = strtoll(PQgetvalue(res, i, 4), NULL, 10);
		a->threshold = strtoll(PQgetvalue(res, i, 5), NULL, 10);
		a->detail = xstrdup(PQgetvalue(res, i, 6));
		a->opened = xstrdup(PQgetvalue(res, i, 7));
		a->open = *PQgetvalue(res, i, 8) == 't';
		a->mail_sent = *PQgetvalue(res, i, 9) == 't';
		a->webhook_sent = *PQgetvalue(res, i, 10) == 't';
		out->n++;
	}
	PQclear(res);
	return 0;
}

int
db_alerts_evaluate(struct db *db, const struct db_alert_rules *r,
    bool want_mail, bool want_webhook, bool commit,
    db_alert_filter_fn filter, void *ctx, struct db_alerts *out,
    char *err, size_t errlen)
{
	int	rc;

	memset(out, 0, sizeof(*out));
	if ((rc = db_exec(db, ALERTS_LOCK, err, errlen)) != 0)
		return rc;
	if ((rc = db_exec(db, "BEGIN", err, errlen)) != 0 ||
	    (rc = alerts_rules(db, r, filter, ctx, err, errlen)) != 0 ||
	    (rc = alerts_unsent(db, want_mail, want_webhook, out, err,
	    errlen)) != 0 ||
	    (rc = db_exec(db, commit ? "COMMIT" : "ROLLBACK", err,
	    errlen)) != 0) {
		db_rollback(db);
		db_alerts_free(out);
		db_alerts_done(db);
	}
	return rc;
}

int
db_alerts_mark_sent(struct db *db, const struct db_alert *a, bool webhook,
    char *err, size_t errlen)
{
	const char	*v[2];
	char		 id[24];

	snprintf(id, sizeof(id), "%lld", (long long)a->id);
	v[0] = a->domain;
	v[1] = id;
	return alerts_exec(db, webhook ?
	    "UPDATE alert_episode SET webhook_sent = now()"
	    " WHERE domain = $1 AND id = $2" :
	    "UPDATE alert_episode SET mail_sent = now()"
	    " WHERE domain = $1 AND id = $2", 2, v, NULL, err, errlen);
}

void
db_alerts_done(struct db *db)
{
	char	err[256];

	(void)db_exec(db, ALERTS_UNLOCK, err, sizeof(err));
}

void
db_alerts_free(struct db_alerts *a)
{
	size_t	i;

	for (i = 0; i < a->n; i++) {
		free(a->v[i].domain);
		free(a->v[i].key);
		free(a->v[i].detail);
		free(a->v[i].opened);
	}
	free(a->v);
	memset(a, 0, sizeof(*a));
}
