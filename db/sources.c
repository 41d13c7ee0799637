/*
 * sources.c - the source IPs of a period, one row each: what is known of
 * the address (source_host) and what it sent (record).  The reports are
 * chosen exactly as db/export.c chooses them, so that the figures of
 * `dmarcd sources` are the sums of `dmarcd export` over the same options.
 *
 * May touch: db.c.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "db.h"

/* Pass is dmarcd_record_pass(), the one definition (sql/functions.sql);
 * domains are sorted by byte, whatever the database's collation. */
#define SOURCES_QUERY \
	"SELECT host(s.source_ip), h.ptr, coalesce(h.ptr_verified, false)," \
	" h.base_domain, h.service, h.service_type, h.asn, h.as_org," \
	" h.country, s.messages, s.pass, s.domains" \
	" FROM (SELECT c.source_ip, sum(c.count) AS messages," \
	"  coalesce(sum(c.count) FILTER (WHERE" \
	"   dmarcd_record_pass(c.dkim, c.spf)), 0) AS pass," \
	"  coalesce(array_agg(DISTINCT c.header_from COLLATE \"C\"" \
	"   ORDER BY c.header_from COLLATE \"C\")" \
	"   FILTER (WHERE c.header_from IS NOT NULL), '{}') AS domains" \
	"  FROM report r JOIN record c" \
	"  ON c.domain = r.domain AND c.report = r.id" \
	"  AND c.month = dmarcd_report_month(r.begin_time, r.end_time)" \
	"  WHERE ($1::text IS NULL OR r.domain = $1)" \
	DB_DOMAINS_AND("r.domain", 4) \
	"  AND ($2::timestamptz IS NULL OR r.end_time >= $2::timestamptz)" \
	"  AND ($3::timestamptz IS NULL OR r.begin_time < $3::timestamptz)" \
	"  GROUP BY c.source_ip) s" \
	" LEFT JOIN source_host h ON h.ip = s.source_ip" \
	" ORDER BY s.messages DESC, s.source_ip"

enum {
	S_IP, S_PTR, S_VERIFIED, S_BASE, S_SERVICE, S_TYPE, S_ASN, S_AS_ORG,
	S_COUNTRY, S_MESSAGES, S_PASS, S_DOMAINS,
};

struct sources_ctx {
	db_source_fn	 fn;
	void		*ctx;
	char		**domains;
	size_t		 max;
};

static char *
scol(const PGresult *res, int c)
{
	return PQgetisnull(res, 0, c) ? NULL : PQgetvalue(res, 0, c);
}

/* One IP: its text[] of domains parsed in place. */
static int
sources_row(void *ctx, const PGresult *res, char *err, size_t errlen)
{
	struct sources_ctx	*x = ctx;
	struct db_source	 s;
	int			 n;

	memset(&s, 0, sizeof(s));
	s.ip = PQgetvalue(res, 0, S_IP);
	s.ptr = scol(res, S_PTR);
	s.ptr_verified = *PQgetvalue(res, 0, S_VERIFIED) == 't';
	s.base_domain = scol(res, S_BASE);
	s.service = scol(res, S_SERVICE);
	s.service_type = scol(res, S_TYPE);
	s.has_asn = !PQgetisnull(res, 0, S_ASN);
	s.asn = s.has_asn ? strtoll(PQgetvalue(res, 0, S_ASN), NULL, 10) : 0;
	s.as_org = scol(res, S_AS_ORG);
	s.country = scol(res, S_COUNTRY);
	s.messages = strtoull(PQgetvalue(res, 0, S_MESSAGES), NULL, 10);
	s.dmarc_pass = strtoull(PQgetvalue(res, 0, S_PASS), NULL, 10);
	if ((n = db_array_parse_grow(PQgetvalue(res, 0, S_DOMAINS),
	    &x->domains, &x->max)) < 0) {
		snprintf(err, errlen, "sources: bad domains of %s", s.ip);
		return DB_EPERM;
	}
	s.domains = (const char *const *)x->domains;
	s.n_domains = (size_t)n;
	return x->fn(x->ctx, &s, err, errlen);
}

int
db_sources(struct db *db, const struct db_export_filter *f, db_source_fn fn,
    void *ctx, char *err, size_t errlen)
{
	struct sources_ctx	 x;
	const char		*v[4];
	char			 since[40], until[40];
	int			 rc;

	memset(&x, 0, sizeof(x));
	x.fn = fn;
	x.ctx = ctx;
	v[0] = f->domain;
	v[1] = db_export_time_param(f->since, since, sizeof(since));
	v[2] = db_export_time_param(f->until, until, sizeof(until));
	v[3] = f->domains;
	rc = db_each_row(db, "sources", SOURCES_QUERY, 4, v, sources_row, &x,
	    err, errlen);
	free(x.domains);
	return rc;
}
