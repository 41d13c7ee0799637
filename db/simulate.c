/*
 * simulate.c - what the policy simulator reads: each domain's latest
 * published policy, and the records of a period grouped by everything
 * the DMARC result and the sender's class depend on (header_from, the
 * authentication results, the override reasons, the source and what is
 * known of it), so a record type repeated a million times is read once.
 * The reports are chosen as db/export.c chooses them.
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

enum {
	R_DOMAIN, R_FROM, R_DKIM_D, R_DKIM_R, R_SPF_D, R_SPF_S, R_SPF_R,
	R_REASON, R_IP, R_SERVICE, R_TYPE, R_PTR, R_VERIFIED, R_COUNT
};

/* the text[] columns, each parsed into a growable array */
static const int arrays[] = {
	R_DKIM_D, R_DKIM_R, R_SPF_D, R_SPF_S, R_SPF_R, R_REASON
};
#define NARRAYS	(sizeof(arrays) / sizeof(arrays[0]))

struct sim_ctx {
	db_sim_policy_fn	 pfn;
	db_sim_row_fn		 fn;
	void			*ctx;
	char			**v[NARRAYS];
	size_t			 max[NARRAYS];
};

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
	/* parallel arrays: the shortest decides, as the store wrote them */
	memset(&r, 0, sizeof(r));
	r.domain = PQgetvalue(res, 0, R_DOMAIN);
	r.header_from = col(res, R_FROM);
	r.dkim_domain = (const char *const *)x->v[0];
	r.dkim_result = (const char *const *)x->v[1];
	r.ndkim = n[0] < n[1] ? n[0] : n[1];
	r.spf_domain = (const char *const *)x->v[2];
	r.spf_scope = (const char *const *)x->v[3];
	r.spf_result = (const char *const *)x->v[4];
	r.nspf = n[2] < n[4] ? n[2] : n[4];
	if (n[3] < r.nspf)
		r.spf_scope = NULL;
	r.reason_type = (const char *const *)x->v[5];
	r.nreason = n[5];
	r.ip = PQgetvalue(res, 0, R_IP);
	r.service = col(res, R_SERVICE);
	r.service_type = col(res, R_TYPE);
	r.ptr = col(res, R_PTR);
	r.ptr_verified = *PQgetvalue(res, 0, R_VERIFIED) == 't';
	r.count = strtoull(PQgetvalue(res, 0, R_COUNT), NULL, 10);
	return x->fn(x->ctx, &r, err, errlen);
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
