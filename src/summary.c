/*
 * summary.c - the figures of a summary: per domain, messages and alignment
 * of the period and of the period of the same length before it, the top
 * failing and the new sources, reporters seen and gone silent, the policy
 * published and a verdict on moving to a stricter one.
 *
 * The queries are db/queries.h's Q_SUMMARY_*: totals and the sources seen
 * before from the rollups, the period's sources from the daily view, the
 * reasons of the top failing sources from record.  A report belongs to
 * its dmarcd_report_day(), as in the rollups and the dashboard.  The
 * session runs in UTC so that dates mean UTC days.
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "summary.h"
#include "queries.h"
#include "simulation.h"

#define DAY	86400

struct summary_q {
	struct db	*db;
	char		*err;
	size_t		 errlen;
};

static uint64_t
col_u64(PGresult *res, int row, int c)
{
	if (PQgetisnull(res, row, c))
		return 0;
	return strtoull(PQgetvalue(res, row, c), NULL, 10);
}

static const char *
col_str(PGresult *res, int row, int c)
{
	return PQgetisnull(res, row, c) ? NULL : PQgetvalue(res, row, c);
}

/* Runs one query; *res_r is the caller's on 0. */
static int
summary_query(struct summary_q *q, const char *what, const char *sql,
    int n, const char *const *params, PGresult **res_r)
{
	PGresult	*res;
	int		 rc;

	res = PQexecParams(q->db->conn, sql, n, NULL, params, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		rc = db_result_error(q->db, res, what, q->err, q->errlen);
		PQclear(res);
		return rc;
	}
	*res_r = res;
	return 0;
}

static void
summary_date(time_t t, char *buf, size_t len)
{
	struct tm	tm;

	gmtime_r(&t, &tm);
	strftime(buf, len, "%Y-%m-%d", &tm);
}

int
summary_parse_date(const char *s, time_t *t_r)
{
	struct tm	 tm;
	const char	*end;
	char		 back[16];
	time_t		 t;

	memset(&tm, 0, sizeof(tm));
	if (strlen(s) != 10 || (end = strptime(s, "%Y-%m-%d", &tm)) == NULL ||
	    *end != '\0' || tm.tm_year < 70 || tm.tm_year > 1100)
		return -1;
	if ((t = timegm(&tm)) == (time_t)-1)
		return -1;
	/* strptime takes 2024-02-31; the round trip does not */
	summary_date(t, back, sizeof(back));
	if (strcmp(back, s) != 0)
		return -1;
	*t_r = t;
	return 0;
}

int
summary_period_days(const char *s, time_t now, struct summary_opts *o,
    char *err, size_t errlen)
{
	int64_t		 days;
	size_t		 l = strlen(s);
	char		 num[16];

	if (l < 2 || l >= sizeof(num) || s[l - 1] != 'd') {
		snprintf(err, errlen, "period: expected Nd (1d, 7d, 30d)");
		return -1;
	}
	memcpy(num, s, l - 1);
	num[l - 1] = '\0';
	if (parse_int64(num, 1, SUMMARY_MAX_DAYS, &days) == -1) {
		snprintf(err, errlen, "period: days must be 1..%d",
		    SUMMARY_MAX_DAYS);
		return -1;
	}
	/* whole UTC days up to today: today's reports are still arriving */
	o->until = now - now % DAY;
	o->since = o->until - (time_t)days * DAY;
	return 0;
}

/* Reads one period's totals for every domain (or the one asked for). */
static int
summary_totals(struct summary_q *q, struct summary *s)
{
	struct summary_domain	*d = NULL;
	struct summary_counts	*c;
	PGresult		*res;
	char			 prev[16], since[16], until[16];
	const char		*p[5], *name;
	int			 rc, i, n;

	summary_date(s->prev_since, prev, sizeof(prev));
	summary_date(s->since, since, sizeof(since));
	summary_date(s->until, until, sizeof(until));
	p[0] = prev;
	p[1] = since;
	p[2] = until;
	p[3] = s->only_domain;
	p[4] = s->only_domains;
	if ((rc = summary_query(q, "summary totals", Q_SUMMARY_TOTALS, 5, p,
	    &res)) != 0)
		return rc;
	n = PQntuples(res);
	/* at most two rows (previous, current) per domain */
	s->domains = calloc((size_t)n + 1, sizeof(*s->domains));
	if (s->domains == NULL)
		fatalx("out of memory");
	for (i = 0; i < n; i++) {
		name = PQgetvalue(res, i, 0);
		if (d == NULL || strcmp(d->name, name) != 0) {
			if (s->n_domains == SUMMARY_MAX_DOMAINS)
				break;
			d = &s->domains[s->n_domains++];
			d->name = xstrdup(name);
			d->pct = -1;
		}
		c = strcmp(PQgetvalue(res, i, 1), "t") == 0 ? &d->cur :
		    &d->prev;
		c->messages = col_u64(res, i, 2);
		c->pass = col_u64(res, i, 3);
		c->dkim = col_u64(res, i, 4);
		c->spf = col_u64(res, i, 5);
		c->days = col_u64(res, i, 6);
	}
	PQclear(res);
	/* a domain asked for by name is reported even when silent */
	if (s->only_domain != NULL && s->n_domains == 0) {
		d = &s->domains[s->n_domains++];
		d->name = xstrdup(s->only_domain);
		d->pct = -1;
	}
	return 0;
}

static int
summary_policy(struct summary_q *q, struct summary_domain *d,
    const char *until)
{
	PGresult	*res;
	const char	*p[2] = { d->name, until };
	int		 rc;

	if ((rc = summary_query(q, "summary policy", Q_SUMMARY_POLICY, 2, p,
	    &res)) != 0)
		return rc;
	if (PQntuples(res) == 1) {
		d->p = xstrdup(col_str(res, 0, 0) ? col_str(res, 0, 0) : "");
		d->sp = xstrdup(col_str(res, 0, 1));
		d->pct = PQgetisnull(res, 0, 2) ? -1 :
		    atoi(PQgetvalue(res, 0, 2));
		d->policy_reporter = xstrdup(PQgetvalue(res, 0, 3));
		d->policy_time = (time_t)strtoll(PQgetvalue(res, 0, 4), NULL,
		    10);
	}
	PQclear(res);
	return 0;
}

/* "Amazon SES — a8-30.smtp-out.amazonses.com (203.0.113.7)": the service,
 * then the PTR name ("?" when not forward-confirmed), then the address.
 * The PTR is stored printable (\DDD escapes) and shown as stored; anything
 * else in it, or in the service, is escaped. */
static char *
source_name(const char *ip, const char *service, const char *ptr,
    bool verified)
{
	char		 svc[256], host[4 * 253 + 8], name[1400];
	const char	*p = NULL;

	if (ptr != NULL)
		for (p = ptr; *p != '\0'; p++)
			if (*p < 0x20 || *p > 0x7e)
				break;
	if (ptr != NULL && *p == '\0')
		snprintf(host, sizeof(host), "%s%s", ptr, verified ? "" : "?");
	else if (ptr != NULL)
		str_escape(host, sizeof(host), ptr, strlen(ptr));
	else
		host[0] = '\0';
	if (service != NULL)
		str_escape(svc, sizeof(svc), service, strlen(service));
	else
		svc[0] = '\0';
	if (*svc == '\0' && *host == '\0')
		return NULL;
	snprintf(name, sizeof(name), "%s%s%s (%s)", svc, *svc && *host ?
	    " \xe2\x80\x94 " : "", host, ip);
	return xstrdup(name);
}

/* Names the listed sources from source_host (src->name). */
static int
summary_hosts(struct summary_q *q, struct summary_source *srcs, size_t n)
{
	struct buf	 ips;
	PGresult	*res;
	const char	*p[1];
	int		 rc, i;
	size_t		 j;

	if (n == 0)
		return 0;
	buf_init(&ips, 64 * SUMMARY_TOP);
	if (db_array_field(&ips, (const char *const *)&srcs[0].ip,
	    sizeof(srcs[0]), n, false) == -1) {
		buf_free(&ips);
		snprintf(q->err, q->errlen, "summary: address list too long");
		return DB_EPERM;
	}
	p[0] = ips.data;
	rc = summary_query(q, "summary source names", Q_SUMMARY_HOSTS, 1, p,
	    &res);
	buf_free(&ips);
	if (rc != 0)
		return rc;
	for (i = 0; i < PQntuples(res); i++)
		for (j = 0; j < n; j++)
			if (srcs[j].name == NULL &&
			    strcmp(srcs[j].ip, PQgetvalue(res, i, 0)) == 0)
				srcs[j].name = source_name(srcs[j].ip,
				    col_str(res, i, 1), col_str(res, i, 2),
				    *PQgetvalue(res, i, 3) == 't');
	PQclear(res);
	return 0;
}

/* The failing sources and, from record, why they failed. */
static int
summary_failing(struct summary_q *q, struct summary_domain *d,
    const char *since, const char *until)
{
	struct summary_source	*src;
	struct buf		 ips;
	PGresult		*res;
	const char		*p[4] = { d->name, since, until, NULL };
	int			 rc, i, n;
	size_t			 j;

	if ((rc = summary_query(q, "summary failing sources",
	    Q_SUMMARY_FAILING, 3, p, &res)) != 0)
		return rc;
	n = PQntuples(res);
	for (i = 0; i < n && d->n_failing < SUMMARY_TOP; i++) {
		src = &d->failing[d->n_failing++];
		src->ip = xstrdup(PQgetvalue(res, i, 0));
		src->header_from = xstrdup(PQgetvalue(res, i, 1));
		src->messages = col_u64(res, i, 2);
		d->failing_total = col_u64(res, i, 3);
	}
	PQclear(res);
	if (d->n_failing == 0)
		return 0;

	buf_init(&ips, 64 * SUMMARY_TOP);
	if (db_array_field(&ips, (const char *const *)&d->failing[0].ip,
	    sizeof(d->failing[0]), d->n_failing, false) == -1) {
		buf_free(&ips);
		snprintf(q->err, q->errlen, "summary: address list too long");
		return DB_EPERM;
	}
	p[3] = ips.data;
	rc = summary_query(q, "summary failure reasons", Q_SUMMARY_REASONS, 4,
	    p, &res);
	buf_free(&ips);
	if (rc != 0)
		return rc;
	for (i = 0; i < PQntuples(res); i++)
		for (j = 0; j < d->n_failing; j++) {
			src = &d->failing[j];
			if (src->reasons == NULL && !PQgetisnull(res, i, 2) &&
			    strcmp(src->ip, PQgetvalue(res, i, 0)) == 0 &&
			    strcmp(src->header_from, PQgetvalue(res, i, 1)) == 0)
				src->reasons = xstrdup(PQgetvalue(res, i, 2));
		}
	PQclear(res);
	return summary_hosts(q, d->failing, d->n_failing);
}

static int
summary_new_sources(struct summary_q *q, struct summary_domain *d,
    const char *since, const char *until)
{
	struct summary_source	*src;
	PGresult		*res;
	const char		*p[3] = { d->name, since, until };
	int			 rc, i;

	if ((rc = summary_query(q, "summary new sources", Q_SUMMARY_NEW, 3, p,
	    &res)) != 0)
		return rc;
	for (i = 0; i < PQntuples(res) && d->n_fresh < SUMMARY_TOP; i++) {
		src = &d->fresh[d->n_fresh++];
		src->ip = xstrdup(PQgetvalue(res, i, 0));
		src->header_from = xstrdup(col_str(res, i, 1) ?
		    col_str(res, i, 1) : "");
		src->messages = col_u64(res, i, 2);
		src->pass = col_u64(res, i, 3);
		d->fresh_total = col_u64(res, i, 4);
	}
	PQclear(res);
	return summary_hosts(q, d->fresh, d->n_fresh);
}

static int
summary_reporters(struct summary_q *q, struct summary_domain *d,
    const char *since, const char *until, const char *prev)
{
	PGresult	*res;
	const char	*p[4] = { d->name, since, until, prev };
	int		 rc, i, n;

	if ((rc = summary_query(q, "summary reporters", Q_SUMMARY_REPORTERS,
	    4, p, &res)) != 0)
		return rc;
	n = PQntuples(res);
	if (n > 0 && (d->reporters = calloc(n, sizeof(*d->reporters))) ==
	    NULL)
		fatalx("out of memory");
	for (i = 0; i < n; i++) {
		d->reporters[i].name = xstrdup(PQgetvalue(res, i, 0));
		d->reporters[i].reports = col_u64(res, i, 1);
		d->reports = col_u64(res, i, 2);
	}
	d->n_reporters = n;
	PQclear(res);
	return 0;
}

/*
 * The verdict on a stricter policy.  Over a window of SUMMARY_READY_DAYS
 * (or the period, when longer) ending with the period, a domain is ready
 * when it has at least SUMMARY_READY_DAYS of history, at least
 * SUMMARY_READY_MESSAGES messages in the window, at least 98.0 % of them
 * pass DMARC, and no source both passes and fails: a sender that passes
 * for some mail is authorised, so its failures are mail a stricter policy
 * would lose.  Sources that only ever fail are what the policy is for.
 */
static int
summary_verdict(struct summary_q *q, struct summary *s,
    struct summary_domain *d)
{
	PGresult	*res;
	char		 wsince[16], until[16];
	const char	*p[3];
	time_t		 w;
	int		 rc;

	w = s->until - SUMMARY_READY_DAYS * DAY;
	d->window_since = w < s->since ? w : s->since;
	summary_date(d->window_since, wsince, sizeof(wsince));
	summary_date(s->until, until, sizeof(until));
	p[0] = d->name;
	p[1] = wsince;
	p[2] = until;
	if ((rc = summary_query(q, "summary window", Q_SUMMARY_WINDOW, 3, p,
	    &res)) != 0)
		return rc;
	d->window.messages = col_u64(res, 0, 0);
	d->window.pass = col_u64(res, 0, 1);
	d->window.dkim = col_u64(res, 0, 2);
	d->window.spf = col_u64(res, 0, 3);
	d->window.days = col_u64(res, 0, 4);
	d->seen = !PQgetisnull(res, 0, 5);
	d->first_seen = (time_t)strtoll(d->seen ? PQgetvalue(res, 0, 5) : "0",
	    NULL, 10);
	PQclear(res);
	if ((rc = summary_query(q, "summary sources",
	    Q_SUMMARY_LEGIT_FAILING, 3, p, &res)) != 0)
		return rc;
	d->legit_failing = col_u64(res, 0, 0);
	d->legit_example = xstrdup(col_str(res, 0, 1));
	PQclear(res);

	if (d->window.messages == 0)
		d->verdict = VERDICT_NO_DATA;
	else if (!d->seen ||
	    d->first_seen > s->until - SUMMARY_READY_DAYS * DAY)
		d->verdict = VERDICT_TOO_NEW;
	else if (d->window.messages < SUMMARY_READY_MESSAGES)
		d->verdict = VERDICT_LOW_VOLUME;
	else if (d->window.pass * 1000 <
	    d->window.messages * SUMMARY_READY_PERMILLE)
		d->verdict = VERDICT_FAILING;
	else if (d->legit_failing > 0)
		d->verdict = VERDICT_LEGIT_FAILING;
	else if (d->p != NULL && strcasecmp(d->p, "reject") == 0 &&
	    (d->pct == -1 || d->pct == 100))
		d->verdict = VERDICT_AT_REJECT;
	else
		d->verdict = VERDICT_READY;
	return 0;
}

bool
summary_url_ok(const char *url)
{
	const char	*p, *host;

	if (url == NULL || strlen(url) > SUMMARY_URL_MAX)
		return false;
	if (strncmp(url, "https://", 8) == 0)
		host = url + 8;
	else if (strncmp(url, "http://", 7) == 0)
		host = url + 7;
	else
		return false;
	if (*host == '\0' || *host == '/')
		return false;
	for (p = url; *p != '\0'; p++)
		if (*p <= ' ' || *p >= 0x7f || strchr("\"'<>\\`", *p) != NULL)
			return false;
	return true;
}

const char *
summary_verdict_name(enum summary_verdict v)
{
	switch (v) {
	case VERDICT_NO_DATA:
		return "no-data";
	case VERDICT_TOO_NEW:
		return "too-new";
	case VERDICT_LOW_VOLUME:
		return "low-volume";
	case VERDICT_FAILING:
		return "failing";
	case VERDICT_LEGIT_FAILING:
		return "legitimate-failing";
	case VERDICT_READY:
		return "ready";
	case VERDICT_AT_REJECT:
		return "at-reject";
	}
	return "?";
}

/* The published policy one step stricter: none (or nothing published)
 * -> quarantine, a pct under 100 -> 100, quarantine -> reject; t=y -> n.
 * A domain at p=reject, 100 % has no step: its policy is left as is. */
static void
next_step(void *arg, struct sim_domain *d)
{
	(void)arg;
	if (d->pol.testing && d->pol.p != SIM_NONE)
		d->pol.testing = false;		/* t=y -> n, the same p */
	else if (d->pol.p == SIM_NONE) {
		d->pol.p = SIM_QUARANTINE;
		d->pol.pct = 100;
		d->pol.testing = false;
	} else if (d->pol.pct < 100)
		d->pol.pct = 100;
	else if (d->pol.p == SIM_QUARANTINE)
		d->pol.p = SIM_REJECT;
	/* else p=reject at 100 %: no step; summary_steps leaves it out */
	if (d->pub[1] == NULL)		/* subdomains follow p */
		d->pol.sp = d->pol.p;
}

/* What the next step would do, per domain, over the verdict's window. */
static int
summary_steps(struct db *db, struct summary *s, char *err, size_t errlen)
{
	struct db_export_filter	 f;
	struct sim_opts		 o;
	struct sim_result	*r = NULL;
	struct sim_domain	*sd;
	struct summary_domain	*d;
	char			 since[24], until[24];
	time_t			 w;
	size_t			 i, j;
	int			 rc;

	w = s->until - SUMMARY_READY_DAYS * DAY;
	snprintf(since, sizeof(since), "%lld",
	    (long long)(w < s->since ? w : s->since));
	snprintf(until, sizeof(until), "%lld", (long long)s->until);
	memset(&f, 0, sizeof(f));
	f.domain = s->only_domain;
	f.domains = s->only_domains;
	f.since = since;
	f.until = until;
	memset(&o, 0, sizeof(o));
	o.pct = -1;
	if ((rc = simulation_run(db, &f, &o, next_step, NULL, &r, err,
	    errlen)) != 0)
		return rc;
	for (i = 0; i < r->ndom; i++) {
		sd = &r->dom[i];
		for (j = 0; j < s->n_domains; j++)
			if (strcmp(s->domains[j].name, sd->name) == 0)
				break;
		if (j == s->n_domains)
			continue;
		d = &s->domains[j];
		if (sd->pol.p == SIM_REJECT && sd->pol.pct == 100 &&
		    !sd->pol.testing && sd->pub[0] != NULL &&
		    strcasecmp(sd->pub[0], "reject") == 0 &&
		    (sd->pub_pct == -1 || sd->pub_pct == 100) &&
		    (sd->pub[5] == NULL || strcasecmp(sd->pub[5], "y") != 0))
			continue;	/* at p=reject already: no step */
		d->step.has = sd->messages > 0;
		snprintf(d->step.p, sizeof(d->step.p), "%s",
		    sim_disp_name(sd->pol.p));
		d->step.pct = sd->pol.pct;
		d->step.messages = sd->messages;
		d->step.would_fail = sd->would_quarantine + sd->would_reject;
		if (sd->nsrc > 0) {
			d->step.top_ip = xstrdup(sd->src[0].ip);
			d->step.top_service = xstrdup(sd->src[0].service);
			d->step.top_why = xstrdup(sd->src[0].why);
			d->step.top_fail = sd->src[0].would_fail;
		}
	}
	simulation_free(&r);
	return 0;
}

/* Quarantine, failure and TLS report counts, the last report's arrival. */
static int
summary_global(struct summary_q *q, struct summary *s, const char *since,
    const char *until)
{
	static const char *const tables[2] = { "forensic", "tlsrpt" };
	static const char *const days[2] = {
		Q_FORENSIC_DAY, Q_TLSRPT_REPORT_DAY
	};
	PGresult	*res;
	const char	*p[3] = { since, until, s->only_domains };
	const char	*cp[4] = { since, until, s->only_domain,
			    s->only_domains };
	char		 sql[512];
	bool		 exists[2];
	size_t		 i, j;
	int		 rc;

	if ((rc = summary_query(q, "summary quarantine",
	    Q_SUMMARY_QUARANTINE, 3, p, &res)) != 0)
		return rc;
	for (i = 0; i < (size_t)PQntuples(res); i++) {
		const char	*dom = PQgetvalue(res, i, 0);
		uint64_t	 n = col_u64(res, i, 1);

		if (s->only_domain != NULL && *dom != '\0' &&
		    strcmp(dom, s->only_domain) != 0)
			continue;
		s->quarantined += n;
		for (j = 0; j < s->n_domains; j++)
			if (strcmp(s->domains[j].name, dom) == 0)
				s->domains[j].quarantined = n;
	}
	PQclear(res);

	if ((rc = summary_query(q, "summary status", Q_SUMMARY_GLOBAL, 1,
	    &s->only_domains, &res)) != 0)
		return rc;
	s->quarantine_open = col_u64(res, 0, 0);
	s->last_received = (time_t)col_u64(res, 0, 1);
	exists[0] = strcmp(PQgetvalue(res, 0, 2), "t") == 0;
	exists[1] = strcmp(PQgetvalue(res, 0, 3), "t") == 0;
	PQclear(res);

	s->forensic = s->tlsrpt = -1;
	for (i = 0; i < nitems(tables); i++) {
		if (!exists[i])
			continue;
		/* fixed strings only */
		snprintf(sql, sizeof(sql), Q_SUMMARY_REPORT_COUNT, tables[i],
		    days[i], days[i]);
		if ((rc = summary_query(q, "summary report counts", sql, 4, cp,
		    &res)) != 0)
			return rc;
		if (i == 0)
			s->forensic = (int64_t)col_u64(res, 0, 0);
		else
			s->tlsrpt = (int64_t)col_u64(res, 0, 0);
		PQclear(res);
	}
	return 0;
}

int
summary_collect(struct db *db, const struct summary_opts *o,
    struct summary **s_r, char *err, size_t errlen)
{
	struct summary_q	 q = { db, err, errlen };
	struct summary		*s;
	struct summary_domain	*d;
	char			 since[16], until[16], prev[16];
	size_t			 i;
	int			 rc;

	if (o->until <= o->since ||
	    (o->until - o->since) / DAY > SUMMARY_MAX_DAYS ||
	    (o->until - o->since) % DAY != 0) {
		snprintf(err, errlen, "summary: the period must be 1..%d "
		    "whole days", SUMMARY_MAX_DAYS);
		return -1;
	}
	if ((s = calloc(1, sizeof(*s))) == NULL)
		fatalx("out of memory");
	s->since = o->since;
	s->until = o->until;
	s->days = (unsigned)((o->until - o->since) / DAY);
	s->prev_since = o->since - (o->until - o->since);
	s->only_domain = o->domain;
	s->only_domains = o->domains;
	s->generated = time(NULL);
	summary_date(s->prev_since, prev, sizeof(prev));
	summary_date(s->since, since, sizeof(since));
	summary_date(s->until, until, sizeof(until));

	/* one snapshot for every figure; dates are UTC days */
	if ((rc = db_exec(db, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY",
	    err, errlen)) != 0 ||
	    (rc = db_exec(db, "SET LOCAL TimeZone = 'UTC'", err, errlen)) != 0)
		goto fail;
	if ((rc = summary_totals(&q, s)) != 0)
		goto fail;
	for (i = 0; i < s->n_domains; i++) {
		d = &s->domains[i];
		if ((rc = summary_policy(&q, d, until)) != 0 ||
		    (rc = summary_failing(&q, d, since, until)) != 0 ||
		    (rc = summary_new_sources(&q, d, since, until)) != 0 ||
		    (rc = summary_reporters(&q, d, since, until, prev)) != 0 ||
		    (rc = summary_verdict(&q, s, d)) != 0)
			goto fail;
	}
	if ((rc = summary_steps(db, s, err, errlen)) != 0 ||
	    (rc = summary_global(&q, s, since, until)) != 0)
		goto fail;
	if ((rc = db_exec(db, "COMMIT", err, errlen)) != 0)
		goto fail;
	*s_r = s;
	return 0;
fail:
	db_rollback(db);
	summary_free(&s);
	return rc;
}

static void
summary_source_free(struct summary_source *src)
{
	free(src->ip);
	free(src->name);
	free(src->header_from);
	free(src->reasons);
}

void
summary_free(struct summary **sp)
{
	struct summary		*s = *sp;
	struct summary_domain	*d;
	size_t			 i, j;

	if (s == NULL)
		return;
	for (i = 0; i < s->n_domains; i++) {
		d = &s->domains[i];
		free(d->name);
		free(d->p);
		free(d->sp);
		free(d->policy_reporter);
		free(d->legit_example);
		free(d->step.top_ip);
		free(d->step.top_service);
		free(d->step.top_why);
		for (j = 0; j < d->n_failing; j++)
			summary_source_free(&d->failing[j]);
		for (j = 0; j < d->n_fresh; j++)
			summary_source_free(&d->fresh[j]);
		for (j = 0; j < d->n_reporters; j++)
			free(d->reporters[j].name);
		free(d->reporters);
	}
	free(s->domains);
	free(s);
	*sp = NULL;
}
