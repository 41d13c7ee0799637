/*
 * simulate.c - what the policy simulator reads: each domain's latest
 * published policy, and the records of a period grouped by everything
 * the DMARC result and the sender's class depend on (header_from, the
 * authentication results, the override reasons, the source and what is
 * known of it), so a record type repeated a million times is read once.
 * db_simulate chooses the reports as db/export.c chooses them, from
 * record; db_simulate_days by their day, as the dashboard's pages do,
 * from the rollup of sql/015_simulator.sql: the period's distinct
 * profiles first, then (domain, source, profile) sums naming them.
 *
 * May touch: db.c.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "db.h"

#define SIM_FILTER \
	" WHERE ($1::text IS NULL OR r.domain = $1)" \
	" AND ($2::timestamptz IS NULL OR r.end_time >= $2::timestamptz)" \
	" AND ($3::timestamptz IS NULL OR r.begin_time < $3::timestamptz)"

#define SIM_POLICY_QUERY \
	"SELECT DISTINCT ON (r.domain) r.domain, r.p, r.sp, r.np, r.pct," \
	" r.adkim, r.aspf, r.testing FROM report r" SIM_FILTER \
	" ORDER BY r.domain, r.begin_time DESC, r.id DESC"

/* by domain, then source: the caller folds an address's rows as they
 * come */
#define SIM_ROWS_HEAD \
	"SELECT c.domain, c.header_from, c.dkim_domain, c.dkim_result," \
	" c.spf_domain, c.spf_scope, c.spf_result, c.reason_type," \
	" host(c.source_ip), h.service, h.service_type, h.ptr," \
	" coalesce(h.ptr_verified, false), sum(c.count)" \
	" FROM report r JOIN record c ON c.domain = r.domain AND" \
	" c.report = r.id LEFT JOIN source_host h ON h.ip = c.source_ip"
#define SIM_ROWS_TAIL \
	" GROUP BY c.domain, c.source_ip, c.header_from, c.dkim_domain," \
	" c.dkim_result, c.spf_domain, c.spf_scope, c.spf_result," \
	" c.reason_type, h.service, h.service_type, h.ptr, h.ptr_verified" \
	" ORDER BY c.domain COLLATE \"C\", c.source_ip"
#define SIM_ROWS_QUERY	SIM_ROWS_HEAD SIM_FILTER SIM_ROWS_TAIL
/* one source of one domain, every record of it */
#define SIM_SOURCE_QUERY \
	SIM_ROWS_HEAD " WHERE r.domain = $1 AND c.source_ip = $2::inet" \
	SIM_ROWS_TAIL

/* Days of the reports' dmarcd_report_day: those the period overlaps. */
#define SIM_DAYS_FILTER \
	" WHERE ($1::text IS NULL OR s.domain = $1)" \
	" AND ($2::timestamptz IS NULL OR s.day >=" \
	"  ($2::timestamptz AT TIME ZONE 'UTC')::date)" \
	" AND ($3::timestamptz IS NULL OR s.day < (($3::timestamptz" \
	"  AT TIME ZONE 'UTC') + interval '1 day' - interval '1 microsecond')::date)"
#define SIM_DAYS_POLICY_QUERY \
	"SELECT DISTINCT ON (r.domain) r.domain, r.p, r.sp, r.np, r.pct," \
	" r.adkim, r.aspf, r.testing FROM report r, LATERAL (SELECT" \
	" r.domain, dmarcd_report_day(r.begin_time, r.end_time) AS day) s" \
	SIM_DAYS_FILTER " ORDER BY r.domain, r.begin_time DESC, r.id DESC"
/* kind 0: a profile of the period; kind 1, after every profile: the
 * messages of a source under one, by domain then source */
#define SIM_DAYS_QUERY \
	"WITH g AS MATERIALIZED (SELECT s.domain, s.source_ip, s.profile," \
	"  sum(s.messages) AS messages FROM sim_day s" SIM_DAYS_FILTER \
	"  GROUP BY 1, 2, 3)" \
	" SELECT 0 AS kind, p.domain COLLATE \"C\" AS domain," \
	" p.header_from, p.dkim_domain, p.dkim_result, p.spf_domain," \
	" p.spf_scope, p.spf_result," \
	" p.reason_type, NULL::inet AS source_ip, NULL, NULL, NULL, false," \
	" NULL::numeric, p.id" \
	" FROM auth_profile p WHERE (p.domain, p.id) IN" \
	"  (SELECT DISTINCT domain, profile FROM g)" \
	" UNION ALL" \
	" SELECT 1, g.domain COLLATE \"C\", NULL, NULL, NULL, NULL, NULL," \
	" NULL, NULL," \
	" g.source_ip, h.service, h.service_type, h.ptr," \
	" coalesce(h.ptr_verified, false), g.messages, g.profile" \
	" FROM g LEFT JOIN source_host h ON h.ip = g.source_ip" \
	" ORDER BY 1, 2, 10, 16"

enum {
	R_DOMAIN, R_FROM, R_DKIM_D, R_DKIM_R, R_SPF_D, R_SPF_S, R_SPF_R,
	R_REASON, R_IP, R_SERVICE, R_TYPE, R_PTR, R_VERIFIED, R_COUNT
};

/* the text[] columns, each parsed into a growable array */
static const int arrays[] = {
	R_DKIM_D, R_DKIM_R, R_SPF_D, R_SPF_S, R_SPF_R, R_REASON
};
#define NARRAYS	(sizeof(arrays) / sizeof(arrays[0]))

/* A profile of db_simulate_days, its arrays parsed once. */
struct sim_prof {
	long long	 id;
	char		*from;		/* NULL: absent */
	char		*text[NARRAYS];	/* parsed in place */
	char		**v[NARRAYS];
	size_t		 max[NARRAYS], n[NARRAYS];
};

struct sim_ctx {
	db_sim_policy_fn	 pfn;
	db_sim_row_fn		 fn;
	void			*ctx;
	char			**v[NARRAYS];
	size_t			 max[NARRAYS];
	struct sim_prof		*prof;
	size_t			 nprof, profcap;
	bool			 sorted;
};

#define SIM_PROFILES_MAX	10000000
#define SIM_WORK_MEM		"64MB"

static char *
col(const PGresult *res, int c)
{
	return PQgetisnull(res, 0, c) ? NULL : PQgetvalue(res, 0, c);
}

static int
policy_row(void *ctx, const PGresult *res, char *err, size_t errlen)
{
	struct sim_ctx		*x = ctx;
	struct db_sim_policy	 p;

	memset(&p, 0, sizeof(p));
	p.domain = PQgetvalue(res, 0, 0);
	p.p = col(res, 1);
	p.sp = col(res, 2);
	p.np = col(res, 3);
	p.pct = col(res, 4) ? atoi(col(res, 4)) : -1;
	p.adkim = col(res, 5);
	p.aspf = col(res, 6);
	p.testing = col(res, 7);
	return x->pfn(x->ctx, &p, err, errlen);
}

/* parallel arrays: the shortest decides, as the store wrote them */
static void
auth_arrays(struct db_sim_row *r, char **const v[NARRAYS],
    const size_t n[NARRAYS])
{
	r->dkim_domain = (const char *const *)v[0];
	r->dkim_result = (const char *const *)v[1];
	r->ndkim = n[0] < n[1] ? n[0] : n[1];
	r->spf_domain = (const char *const *)v[2];
	r->spf_scope = (const char *const *)v[3];
	r->spf_result = (const char *const *)v[4];
	r->nspf = n[2] < n[4] ? n[2] : n[4];
	if (n[3] < r->nspf)
		r->spf_scope = NULL;
	r->reason_type = (const char *const *)v[5];
	r->nreason = n[5];
}

static int
sim_row(void *ctx, const PGresult *res, char *err, size_t errlen)
{
	struct sim_ctx		*x = ctx;
	struct db_sim_row	 r;
	size_t			 i, n[NARRAYS];
	int			 k;

	for (i = 0; i < NARRAYS; i++)
		if ((k = db_array_parse_grow(PQgetvalue(res, 0, arrays[i]),
		    &x->v[i], &x->max[i])) < 0) {
			snprintf(err, errlen, "simulate: a bad array of %s",
			    PQgetvalue(res, 0, R_IP));
			return DB_EPERM;
		} else
			n[i] = (size_t)k;
	memset(&r, 0, sizeof(r));
	r.domain = PQgetvalue(res, 0, R_DOMAIN);
	r.header_from = col(res, R_FROM);
	auth_arrays(&r, x->v, n);
	r.ip = PQgetvalue(res, 0, R_IP);
	r.service = col(res, R_SERVICE);
	r.service_type = col(res, R_TYPE);
	r.ptr = col(res, R_PTR);
	r.ptr_verified = *PQgetvalue(res, 0, R_VERIFIED) == 't';
	r.count = strtoull(PQgetvalue(res, 0, R_COUNT), NULL, 10);
	return x->fn(x->ctx, &r, err, errlen);
}

enum {
	D_KIND, D_DOMAIN, D_FROM, D_DKIM_D, D_DKIM_R, D_SPF_D, D_SPF_S,
	D_SPF_R, D_REASON, D_IP, D_SERVICE, D_TYPE, D_PTR, D_VERIFIED,
	D_COUNT, D_PROFILE
};

static char *
xstrdup(const char *s)
{
	char	*c;

	if (s == NULL)
		return NULL;
	if ((c = strdup(s)) == NULL)
		fatalx("out of memory");
	return c;
}

static int
prof_cmp(const void *a, const void *b)
{
	const struct sim_prof	*x = a, *y = b;

	return x->id < y->id ? -1 : x->id > y->id;
}

/* A profile row: kept, its arrays parsed. */
static int
days_profile(struct sim_ctx *x, const PGresult *res, char *err,
    size_t errlen)
{
	struct sim_prof	*p;
	size_t		 i;
	int		 k;

	if (x->nprof == SIM_PROFILES_MAX) {
		snprintf(err, errlen, "simulate: more than %d profiles",
		    SIM_PROFILES_MAX);
		return DB_EPERM;
	}
	if (x->nprof == x->profcap) {
		x->profcap = x->profcap ? x->profcap * 2 : 64;
		if ((x->prof = reallocarray(x->prof, x->profcap,
		    sizeof(*x->prof))) == NULL)
			fatalx("out of memory");
	}
	p = &x->prof[x->nprof++];
	memset(p, 0, sizeof(*p));
	p->id = strtoll(PQgetvalue(res, 0, D_PROFILE), NULL, 10);
	p->from = xstrdup(col(res, D_FROM));
	for (i = 0; i < NARRAYS; i++) {
		p->text[i] = xstrdup(PQgetvalue(res, 0, D_DKIM_D + (int)i));
		if ((k = db_array_parse_grow(p->text[i], &p->v[i],
		    &p->max[i])) < 0) {
			snprintf(err, errlen, "simulate: a bad array of a"
			    " profile of %s", PQgetvalue(res, 0, D_DOMAIN));
			return DB_EPERM;
		}
		p->n[i] = (size_t)k;
	}
	return 0;
}

static int
days_row(void *ctx, const PGresult *res, char *err, size_t errlen)
{
	struct sim_ctx		*x = ctx;
	struct sim_prof		*p, key;
	struct db_sim_row	 r;

	if (*PQgetvalue(res, 0, D_KIND) == '0')
		return days_profile(x, res, err, errlen);
	if (!x->sorted) {	/* every profile is in: kind 0 comes first */
		if (x->nprof > 0)
			qsort(x->prof, x->nprof, sizeof(*x->prof), prof_cmp);
		x->sorted = true;
	}
	key.id = strtoll(PQgetvalue(res, 0, D_PROFILE), NULL, 10);
	if (x->nprof == 0 || (p = bsearch(&key, x->prof, x->nprof,
	    sizeof(*x->prof), prof_cmp)) == NULL) {
		snprintf(err, errlen, "simulate: messages of a profile not"
		    " stored (%lld)", key.id);
		return DB_EPERM;
	}
	memset(&r, 0, sizeof(r));
	r.domain = PQgetvalue(res, 0, D_DOMAIN);
	r.header_from = p->from;
	auth_arrays(&r, p->v, p->n);
	r.ip = PQgetvalue(res, 0, D_IP);
	r.service = col(res, D_SERVICE);
	r.service_type = col(res, D_TYPE);
	r.ptr = col(res, D_PTR);
	r.ptr_verified = *PQgetvalue(res, 0, D_VERIFIED) == 't';
	r.count = strtoull(PQgetvalue(res, 0, D_COUNT), NULL, 10);
	r.profile = (size_t)(p - x->prof) + 1;
	return x->fn(x->ctx, &r, err, errlen);
}

int
db_simulate_days(struct db *db, const struct db_export_filter *f,
    db_sim_policy_fn pfn, db_sim_row_fn fn, void *ctx, char *err,
    size_t errlen)
{
	struct sim_ctx	 x;
	const char	*v[3];
	char		 since[40], until[40];
	size_t		 i, j;
	int		 rc;

	memset(&x, 0, sizeof(x));
	x.pfn = pfn;
	x.fn = fn;
	x.ctx = ctx;
	v[0] = f->domain;
	v[1] = db_export_time_param(f->since, since, sizeof(since));
	v[2] = db_export_time_param(f->until, until, sizeof(until));
	rc = db_each_row(db, "simulate: policies", SIM_DAYS_POLICY_QUERY, 3,
	    v, policy_row, &x, err, errlen);
	/* the period's sums are hashed, then sorted, in memory: on disk
	 * (the default 4 MB) they took twice as long (30 days at 10M records:
	 * 14 MB and 7 MB, measured) */
	if (rc == 0)
		rc = db_exec(db, "SET work_mem = '" SIM_WORK_MEM "'", err,
		    errlen);
	if (rc == 0) {
		rc = db_each_row(db, "simulate: the rollup", SIM_DAYS_QUERY,
		    3, v, days_row, &x, err, errlen);
		if (db_exec(db, "RESET work_mem", err, errlen) != 0 &&
		    rc == 0)
			rc = DB_ETEMP;
	}
	for (i = 0; i < x.nprof; i++) {
		free(x.prof[i].from);
		for (j = 0; j < NARRAYS; j++) {
			free(x.prof[i].text[j]);
			free(x.prof[i].v[j]);
		}
	}
	free(x.prof);
	return rc;
}

int
db_simulate_source(struct db *db, const char *domain, const char *ip,
    db_sim_row_fn fn, void *ctx, char *err, size_t errlen)
{
	struct sim_ctx	 x;
	const char	*v[2] = { domain, ip };
	size_t		 i;
	int		 rc;

	memset(&x, 0, sizeof(x));
	x.fn = fn;
	x.ctx = ctx;
	rc = db_each_row(db, "simulate: a source", SIM_SOURCE_QUERY, 2, v,
	    sim_row, &x, err, errlen);
	for (i = 0; i < NARRAYS; i++)
		free(x.v[i]);
	return rc;
}

int
db_simulate(struct db *db, const struct db_export_filter *f,
    db_sim_policy_fn pfn, db_sim_row_fn fn, void *ctx, char *err,
    size_t errlen)
{
	struct sim_ctx	 x;
	const char	*v[3];
	char		 since[40], until[40];
	size_t		 i;
	int		 rc;

	memset(&x, 0, sizeof(x));
	x.pfn = pfn;
	x.fn = fn;
	x.ctx = ctx;
	v[0] = f->domain;
	v[1] = db_export_time_param(f->since, since, sizeof(since));
	v[2] = db_export_time_param(f->until, until, sizeof(until));
	rc = db_each_row(db, "simulate: policies", SIM_POLICY_QUERY, 3, v,
	    policy_row, &x, err, errlen);
	if (rc == 0)
		rc = db_each_row(db, "simulate: records", SIM_ROWS_QUERY, 3,
		    v, sim_row, &x, err, errlen);
	for (i = 0; i < NARRAYS; i++)
		free(x.v[i]);
	return rc;
}
