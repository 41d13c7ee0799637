/*
 * simulate.c - what the policy simulator reads: each domain's latest
 * published policy, and the records of a period grouped by everything
 * the DMARC result and the sender's class depend on (header_from, the
 * authentication results, the override reasons, the source and what is
 * known of it), so a record type repeated a million times is read once.
 * db_simulate chooses the reports as db/export.c chooses them, from
 * record; db_simulate_days by their day, as the dashboard's pages do,
 * from the rollup of sql/015_simulator.sql: the period's sums by profile
 * and source, then the profiles they name, the rows put in the order the
 * caller folds them here rather than by the database.
 *
 * May touch: db.c.
 */
#include "config.h"

#include <sys/socket.h>
#include <arpa/inet.h>

#include <stdlib.h>
#include <string.h>

#include "db.h"

#define SIM_FILTER \
	" WHERE ($1::text IS NULL OR r.domain = $1)" \
	" AND ($2::timestamptz IS NULL OR r.end_time >= $2::timestamptz)" \
	" AND ($3::timestamptz IS NULL OR r.begin_time < $3::timestamptz)" \
	DB_DOMAINS_AND("r.domain", 4)

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
	" c.report = r.id" \
	" AND c.month = dmarcd_report_month(r.begin_time, r.end_time)" \
	" LEFT JOIN source_host h ON h.ip = c.source_ip"
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
	DB_DOMAINS_AND("s.domain", 4) SIM_DAYS_FILTER_DAY
#define SIM_DAYS_FILTER_DAY \
	" AND ($2::timestamptz IS NULL OR s.day >=" \
	"  ($2::timestamptz AT TIME ZONE 'UTC')::date)" \
	" AND ($3::timestamptz IS NULL OR s.day < (($3::timestamptz" \
	"  AT TIME ZONE 'UTC') + interval '1 day' -" \
	"  interval '1 microsecond')::date)"
/* Each domain of the period (dash_day, tiny) and its latest report there,
 * found backwards from the period's end in report_period: a report's
 * day is the middle of its period, so it begins before its day ends. */
#define SIM_DAYS_POLICY_QUERY \
	"SELECT d.domain, r.p, r.sp, r.np, r.pct, r.adkim, r.aspf, r.testing" \
	" FROM (SELECT DISTINCT s.domain FROM dash_day s" SIM_DAYS_FILTER \
	"  ) d CROSS JOIN LATERAL (SELECT r.* FROM report r" \
	"  WHERE r.domain = d.domain AND ($3::timestamptz IS NULL OR" \
	"  r.begin_time < (($3::timestamptz AT TIME ZONE 'UTC') +" \
	"  interval '1 day' - interval '1 microsecond')::date::timestamp" \
	"  AT TIME ZONE 'UTC') AND EXISTS (SELECT 1 FROM (SELECT" \
	"  dmarcd_report_day(r.begin_time, r.end_time) AS day) s" \
	"  WHERE true" SIM_DAYS_FILTER_DAY ")" \
	"  ORDER BY r.begin_time DESC, r.id DESC LIMIT 1) r"
/* the period's sums by profile and source (a profile is of one domain:
 * no domain in the key), with what is known of the source */
#define SIM_DAYS_QUERY \
	"SELECT g.profile, host(g.source_ip), g.messages, h.service," \
	" h.service_type, h.ptr, coalesce(h.ptr_verified, false)" \
	" FROM (SELECT s.profile, s.source_ip, sum(s.messages)::bigint AS" \
	"  messages" \
	"  FROM sim_day s" SIM_DAYS_FILTER " GROUP BY 1, 2) g" \
	" LEFT JOIN source_host h ON h.ip = g.source_ip"
/* the profiles those rows name */
#define SIM_PROFILES_QUERY \
	"SELECT p.id, p.domain, p.header_from, p.dkim_domain, p.dkim_result," \
	" p.spf_domain, p.spf_scope, p.spf_result, p.reason_type" \
	" FROM auth_profile p WHERE p.id = ANY($1::bigint[])"

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
	char		*domain;
	size_t		 rank;		/* of domain, in byte order */
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
	struct sim_prof		*prof;	/* by id */
	size_t			 nprof, profcap;
};

#define SIM_WORK_MEM		"64MB"
#define SIM_TIME_LEN		40	/* a time parameter as text */
#define SIM_IDS_CAP		(64 * 1024 * 1024)	/* the profiles' ids,
							 * as text */

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

/* The callbacks into x, and the filter's parameters into v: domain,
 * since, until (SIM_TIME_LEN bytes each), domains. */
static void
sim_start(struct sim_ctx *x, const struct db_export_filter *f,
    db_sim_policy_fn pfn, db_sim_row_fn fn, void *ctx, const char *v[4],
    char *since, char *until)
{
	memset(x, 0, sizeof(*x));
	x->pfn = pfn;
	x->fn = fn;
	x->ctx = ctx;
	v[0] = f->domain;
	v[1] = db_export_time_param(f->since, since, SIM_TIME_LEN);
	v[2] = db_export_time_param(f->until, until, SIM_TIME_LEN);
	v[3] = f->domains;
}

enum { D_PROFILE, D_IP, D_COUNT, D_SERVICE, D_TYPE, D_PTR, D_VERIFIED };
enum { P_ID, P_DOMAIN, P_FROM, P_ARRAYS };	/* P_ARRAYS: NARRAYS of them */

static int
prof_cmp(const void *a, const void *b)
{
	const struct sim_prof	*x = a, *y = b;

	return x->id < y->id ? -1 : x->id > y->id;
}

static struct sim_prof *
prof_find(struct sim_ctx *x, long long id)
{
	struct sim_prof	 key;

	if (x->nprof == 0)
		return NULL;
	key.id = id;
	return bsearch(&key, x->prof, x->nprof, sizeof(*x->prof), prof_cmp);
}

/* Row i of res (SIM_PROFILES_QUERY): kept, its arrays parsed. */
static int
days_profile(struct sim_ctx *x, const PGresult *res, int i, char *err,
    size_t errlen)
{
	struct sim_prof	*p;
	size_t		 j;
	int		 k;

	if (x->nprof == x->profcap) {
		x->profcap = x->profcap ? x->profcap * 2 : 64;
		if ((x->prof = reallocarray(x->prof, x->profcap,
		    sizeof(*x->prof))) == NULL)
			fatalx("out of memory");
	}
	p = &x->prof[x->nprof++];
	memset(p, 0, sizeof(*p));
	p->id = strtoll(PQgetvalue(res, i, P_ID), NULL, 10);
	p->domain = xstrdup(PQgetvalue(res, i, P_DOMAIN));
	p->from = PQgetisnull(res, i, P_FROM) ? NULL :
	    xstrdup(PQgetvalue(res, i, P_FROM));
	for (j = 0; j < NARRAYS; j++) {
		p->text[j] = xstrdup(PQgetvalue(res, i, P_ARRAYS + (int)j));
		if ((k = db_array_parse_grow(p->text[j], &p->v[j],
		    &p->max[j])) < 0) {
			snprintf(err, errlen, "simulate: a bad array of a"
			    " profile of %s", p->domain);
			return DB_EPERM;
		}
		p->n[j] = (size_t)k;
	}
	return 0;
}

static int
name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Each profile's domain rank, by byte order of the names. */
static void
days_ranks(struct sim_ctx *x)
{
	char		**names, **at;
	size_t		 i, n = 0;

	if (x->nprof == 0)
		return;
	if ((names = reallocarray(NULL, x->nprof, sizeof(*names))) == NULL)
		fatalx("out of memory");
	for (i = 0; i < x->nprof; i++)
		names[i] = x->prof[i].domain;
	qsort(names, x->nprof, sizeof(*names), name_cmp);
	for (i = 0; i < x->nprof; i++)
		if (n == 0 || strcmp(names[n - 1], names[i]) != 0)
			names[n++] = names[i];
	for (i = 0; i < x->nprof; i++) {
		at = bsearch(&x->prof[i].domain, names, n, sizeof(*names),
		    name_cmp);
		x->prof[i].rank = (size_t)(at - names);
	}
	free(names);
}

static int
id_cmp(const void *a, const void *b)
{
	long long	x = *(const long long *)a, y = *(const long long *)b;

	return x < y ? -1 : x > y;
}

/* The profiles the rows of res name, into x->prof by id. */
static int
days_profiles(struct db *db, struct sim_ctx *x, const PGresult *res,
    char *err, size_t errlen)
{
	struct buf	 b;
	PGresult	*pres;
	long long	*ids;
	const char	*v[1];
	size_t		 n = (size_t)PQntuples(res), i, m = 0;
	int		 rc = 0;

	if (n == 0)
		return 0;
	if ((ids = reallocarray(NULL, n, sizeof(*ids))) == NULL)
		fatalx("out of memory");
	for (i = 0; i < n; i++)
		ids[i] = strtoll(PQgetvalue(res, (int)i, D_PROFILE), NULL, 10);
	qsort(ids, n, sizeof(*ids), id_cmp);
	buf_init(&b, SIM_IDS_CAP);
	rc |= buf_addc(&b, '{');
	for (i = 0; i < n; i++)
		if (i == 0 || ids[i] != ids[i - 1])
			rc |= buf_printf(&b, m++ ? ",%lld" : "%lld", ids[i]);
	rc |= buf_adds(&b, "}");
	free(ids);
	if (rc != 0) {
		buf_free(&b);
		snprintf(err, errlen, "simulate: more profiles in the period"
		    " than %d bytes of their numbers", SIM_IDS_CAP);
		return DB_EPERM;
	}
	v[0] = b.data;
	pres = PQexecParams(db->conn, SIM_PROFILES_QUERY, 1, NULL, v, NULL,
	    NULL, 0);
	buf_free(&b);
	if (PQresultStatus(pres) != PGRES_TUPLES_OK)
		rc = db_result_error(db, pres, "simulate: profiles", err,
		    errlen);
	for (i = 0; rc == 0 && i < (size_t)PQntuples(pres); i++)
		rc = days_profile(x, pres, (int)i, err, errlen);
	PQclear(pres);
	if (rc == 0 && x->nprof > 0) {
		qsort(x->prof, x->nprof, sizeof(*x->prof), prof_cmp);
		days_ranks(x);
	}
	return rc;
}

/* A row of the rollup, in the order the caller folds them: by domain
 * (byte order: its rank among the profiles' domains), then source (its
 * address's bytes), then profile.  Keys of fixed size: 43,000 rows
 * sorted by their strings took a third of the call (measured). */
struct days_ord {
	size_t			 rank;
	unsigned char		 addr[17];	/* family, address */
	const struct sim_prof	*p;
	int			 row;
};

static int
ord_cmp(const void *a, const void *b)
{
	const struct days_ord	*x = a, *y = b;
	int			 c;

	if (x->rank != y->rank)
		return x->rank < y->rank ? -1 : 1;
	if ((c = memcmp(x->addr, y->addr, sizeof(x->addr))) != 0)
		return c;
	return x->p->id < y->p->id ? -1 : x->p->id > y->p->id;
}

/* The address's sort key: what host() printed, back to bytes. */
static void
addr_key(const char *ip, unsigned char key[17])
{
	memset(key, 0, 17);
	if (inet_pton(AF_INET, ip, key + 1) == 1)
		key[0] = 4;
	else if (inet_pton(AF_INET6, ip, key + 1) == 1)
		key[0] = 6;
	else	/* not from PostgreSQL's host(): last, by its bytes */
		snprintf((char *)key, 17, "\377%s", ip);
}

/* The rows of res to fn, in that order. */
static int
days_rows(struct sim_ctx *x, const PGresult *res, char *err, size_t errlen)
{
	struct days_ord		*o;
	struct db_sim_row	 r;
	const struct sim_prof	*p;
	size_t			 n = (size_t)PQntuples(res), i;
	int			 k, rc = 0;

	if (n == 0)
		return 0;
	if ((o = reallocarray(NULL, n, sizeof(*o))) == NULL)
		fatalx("out of memory");
	for (i = 0; i < n; i++) {
		k = (int)i;
		if ((p = prof_find(x, strtoll(PQgetvalue(res, k, D_PROFILE),
		    NULL, 10))) == NULL) {
			snprintf(err, errlen, "simulate: messages of a profile"
			    " not stored (%s)", PQgetvalue(res, k, D_PROFILE));
			free(o);
			return DB_EPERM;
		}
		o[i].rank = p->rank;
		addr_key(PQgetvalue(res, k, D_IP), o[i].addr);
		o[i].p = p;
		o[i].row = k;
	}
	qsort(o, n, sizeof(*o), ord_cmp);
	for (i = 0; i < n && rc == 0; i++) {
		k = o[i].row;
		p = o[i].p;
		memset(&r, 0, sizeof(r));
		r.domain = p->domain;
		r.header_from = p->from;
		auth_arrays(&r, p->v, p->n);
		r.ip = PQgetvalue(res, k, D_IP);
		r.service = PQgetisnull(res, k, D_SERVICE) ? NULL :
		    PQgetvalue(res, k, D_SERVICE);
		r.service_type = PQgetisnull(res, k, D_TYPE) ? NULL :
		    PQgetvalue(res, k, D_TYPE);
		r.ptr = PQgetisnull(res, k, D_PTR) ? NULL :
		    PQgetvalue(res, k, D_PTR);
		r.ptr_verified = *PQgetvalue(res, k, D_VERIFIED) == 't';
		r.count = strtoull(PQgetvalue(res, k, D_COUNT), NULL, 10);
		r.profile = (size_t)(p - x->prof) + 1;
		rc = x->fn(x->ctx, &r, err, errlen);
	}
	free(o);
	return rc;
}

int
db_simulate_days(struct db *db, const struct db_export_filter *f,
    db_sim_policy_fn pfn, db_sim_row_fn fn, void *ctx, char *err,
    size_t errlen)
{
	struct sim_ctx	 x;
	PGresult	*res = NULL;
	const char	*v[4];
	char		 since[SIM_TIME_LEN], until[SIM_TIME_LEN];
	size_t		 i, j;
	int		 rc;

	sim_start(&x, f, pfn, fn, ctx, v, since, until);
	rc = db_each_row(db, "simulate: policies", SIM_DAYS_POLICY_QUERY, 4,
	    v, policy_row, &x, err, errlen);
	/* the period's sums are hashed in memory: on disk (the default
	 * 4 MB) they took twice as long (30 days at 10M records: 14 MB,
	 * measured) */
	if (rc == 0)
		rc = db_exec(db, "SET work_mem = '" SIM_WORK_MEM "'", err,
		    errlen);
	if (rc == 0) {
		res = PQexecParams(db->conn, SIM_DAYS_QUERY, 4, NULL, v, NULL,
		    NULL, 0);
		if (PQresultStatus(res) != PGRES_TUPLES_OK)
			rc = db_result_error(db, res, "simulate: the rollup",
			    err, errlen);
		if (db_exec(db, "RESET work_mem", err, errlen) != 0 &&
		    rc == 0)
			rc = DB_ETEMP;
	}
	if (rc == 0)
		rc = days_profiles(db, &x, res, err, errlen);
	if (rc == 0)
		rc = days_rows(&x, res, err, errlen);
	PQclear(res);
	for (i = 0; i < x.nprof; i++) {
		free(x.prof[i].domain);
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
	const char	*v[4];
	char		 since[SIM_TIME_LEN], until[SIM_TIME_LEN];
	size_t		 i;
	int		 rc;

	sim_start(&x, f, pfn, fn, ctx, v, since, until);
	rc = db_each_row(db, "simulate: policies", SIM_POLICY_QUERY, 4, v,
	    policy_row, &x, err, errlen);
	if (rc == 0)
		rc = db_each_row(db, "simulate: records", SIM_ROWS_QUERY, 4,
		    v, sim_row, &x, err, errlen);
	for (i = 0; i < NARRAYS; i++)
		free(x.v[i]);
	return rc;
}
