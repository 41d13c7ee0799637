/*
 * tlsrpt.c - SMTP TLS reports (RFC 8460) into tlsrpt, tlsrpt_policy and
 * tlsrpt_failure, and back out.  The report row is deduplicated by
 * (domain = first policy domain, organization_name, report_id); its
 * policies follow only when it was new.  A policy's failure details go in
 * with one INSERT over unnest()ed arrays.  A report comes parsed (by
 * ingest/message.c).  Export rebuilds struct tlsrpt_report and prints it
 * with parser/tlsrpt.c's tlsrpt_json.
 *
 * May touch: db.c; parser/report.h (the report type, tlsrpt_json and
 * tlsrpt_report_free for export's output), never the parser.
 */
#include "config.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "db.h"
#include "report.h"

#define TLSRPT_ARRAY_CAP	(64 << 20)	/* one array parameter */
#define TLSRPT_JSON_CAP		(64 << 20)	/* one report's JSON */

#define TLSRPT_INSERT \
	"INSERT INTO tlsrpt (domain, organization_name, contact_info," \
	" report_id, start_datetime, end_datetime, begin_time, end_time," \
	" n_policies, successful, failed, sha256, source, item, message_id)" \
	" VALUES ($1, $2, $3, $4, $5, $6, to_timestamp($7::bigint)," \
	" to_timestamp($8::bigint), $9::integer, $10::bigint, $11::bigint," \
	" $12, $13, $14, $15)" \
	" ON CONFLICT (domain, organization_name, report_id) DO NOTHING" \
	" RETURNING id"

#define TLSRPT_POLICY_INSERT \
	"INSERT INTO tlsrpt_policy (domain, report_domain, report, ordinal," \
	" policy_type, policy_string, policy_domain, mx_host, successful," \
	" failed) VALUES ($1, $2, $3::bigint, $4::integer, $5, $6::text[]," \
	" $7, $8::text[], $9::bigint, $10::bigint)"

#define TLSRPT_FAILURE_INSERT \
	"INSERT INTO tlsrpt_failure (domain, report, policy, ordinal," \
	" result_type, sending_mta_ip, receiving_mx_hostname," \
	" receiving_mx_helo, receiving_ip, failed_session_count," \
	" additional_information, failure_reason_code)" \
	" SELECT $1, $2::bigint, $3::integer, d.n - 1, d.rt, d.smi, d.rmh," \
	" d.rmhelo, d.rip, d.fsc, d.ai, d.frc" \
	" FROM unnest($4::text[], $5::text[], $6::text[], $7::text[]," \
	" $8::text[], $9::bigint[], $10::text[], $11::text[])" \
	" WITH ORDINALITY AS d(rt, smi, rmh, rmhelo, rip, fsc, ai, frc, n)"

static int
exec_params(struct db *db, const char *sql, int n, const char *const *v,
    const int *lens, const int *fmts, bool *none_r, char *err, size_t errlen)
{
	PGresult	*res;
	int		 rc = 0;

	res = PQexecParams(db->conn, sql, n, NULL, v, lens, fmts, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK &&
	    PQresultStatus(res) != PGRES_COMMAND_OK)
		rc = db_result_error(db, res, "TLS report", err, errlen);
	else if (none_r != NULL)
		*none_r = PQntuples(res) == 0;
	PQclear(res);
	return rc;
}

/* A bigint[] literal of the details' failed-session-count (NULL: -1). */
static int
counts_field(struct buf *b, const struct tlsrpt_policy *p)
{
	size_t	i;
	int	rc = 0;

	rc |= buf_addc(b, '{');
	for (i = 0; i < p->n_details; i++) {
		if (i)
			rc |= buf_addc(b, ',');
		if (p->details[i].failed_session_count < 0)
			rc |= buf_adds(b, "NULL");
		else
			rc |= buf_printf(b, "%" PRId64,
			    p->details[i].failed_session_count);
	}
	rc |= buf_addc(b, '}');
	return rc ? -1 : 0;
}

#define DETAIL_FIELD(m) offsetof(struct tlsrpt_detail, m)

static int
store_failures(struct db *db, const struct tlsrpt_policy *p,
    const char *domain, const char *id, const char *ordinal, char *err,
    size_t errlen)
{
	static const size_t	 fields[7] = {
		DETAIL_FIELD(result_type), DETAIL_FIELD(sending_mta_ip),
		DETAIL_FIELD(receiving_mx_hostname),
		DETAIL_FIELD(receiving_mx_helo), DETAIL_FIELD(receiving_ip),
		DETAIL_FIELD(additional_information),
		DETAIL_FIELD(failure_reason_code),
	};
	struct buf	 a[8];
	const char	*v[11];
	size_t		 i;
	int		 rc = 0, bad = 0;

	if (p->n_details == 0)
		return 0;
	for (i = 0; i < nitems(a); i++)
		buf_init(&a[i], TLSRPT_ARRAY_CAP);
	for (i = 0; i < nitems(fields); i++)
		bad |= db_array_field(&a[i], (const char *const *)(const void *)
		    ((const char *)p->details + fields[i]),
		    sizeof(struct tlsrpt_detail), p->n_details, false);
	bad |= counts_field(&a[7], p);
	if (bad) {
		snprintf(err, errlen, "TLS report: failure-details too large");
		rc = DB_EPERM;
		goto out;
	}
	v[0] = domain;
	v[1] = id;
	v[2] = ordinal;
	v[3] = a[0].data;		/* result-type */
	v[4] = a[1].data;		/* sending-mta-ip */
	v[5] = a[2].data;		/* receiving-mx-hostname */
	v[6] = a[3].data;		/* receiving-mx-helo */
	v[7] = a[4].data;		/* receiving-ip */
	v[8] = a[7].data;		/* failed-session-count */
	v[9] = a[5].data;		/* additional-information */
	v[10] = a[6].data;		/* failure-reason-code */
	rc = exec_params(db, TLSRPT_FAILURE_INSERT, 11, v, NULL, NULL, NULL,
	    err, errlen);
out:
	for (i = 0; i < nitems(a); i++)
		buf_free(&a[i]);
	return rc;
}

static int
store_policies(struct db *db, const struct tlsrpt_report *r,
    const char *report_domain, const char *id, char *err, size_t errlen)
{
	const struct tlsrpt_policy	*p;
	struct buf			 ps, mx;
	const char			*v[10];
	char				 ord[24], succ[24], fail[24];
	size_t				 i;
	int				 rc = 0;

	buf_init(&ps, TLSRPT_ARRAY_CAP);
	buf_init(&mx, TLSRPT_ARRAY_CAP);
	for (i = 0; i < r->n_policies && rc == 0; i++) {
		p = &r->policies[i];
		buf_reset(&ps);
		buf_reset(&mx);
		if (db_array_field(&ps, (const char *const *)p->policy_string,
		    sizeof(char *), p->n_policy_string, false) == -1 ||
		    db_array_field(&mx, (const char *const *)p->mx_host,
		    sizeof(char *), p->n_mx_host, false) == -1) {
			snprintf(err, errlen, "TLS report: policy too large");
			rc = DB_EPERM;
			break;
		}
		snprintf(ord, sizeof(ord), "%zu", i);
		snprintf(succ, sizeof(succ), "%" PRId64,
		    p->successful < 0 ? 0 : p->successful);
		snprintf(fail, sizeof(fail), "%" PRId64,
		    p->failure < 0 ? 0 : p->failure);
		v[0] = p->policy_domain != NULL ? p->policy_domain : "";
		v[1] = report_domain;
		v[2] = id;
		v[3] = ord;
		v[4] = p->policy_type;
		v[5] = ps.data;
		v[6] = p->policy_domain;
		v[7] = mx.data;
		v[8] = succ;
		v[9] = fail;
		rc = exec_params(db, TLSRPT_POLICY_INSERT, 10, v, NULL, NULL,
		    NULL, err, errlen);
		if (rc == 0)
			rc = store_failures(db, p, v[0], id, ord, err, errlen);
	}
	buf_free(&ps);
	buf_free(&mx);
	return rc;
}

static int
tlsrpt_insert(struct db *db, const struct tlsrpt_report *r,
    const unsigned char sha[32], const struct db_report_origin *o,
    bool *duplicate_r, char *err, size_t errlen)
{
	const char	*v[15];
	int		 lens[15] = { [11] = 32 };
	int		 fmts[15] = { [11] = 1 };
	char		 begin[24], end[24], np[24], succ[24], fail[24];
	char		 id[24];
	const char	*domain;
	PGresult	*res;
	int		 rc = 0;

	domain = r->n_policies > 0 && r->policies[0].policy_domain != NULL ?
	    r->policies[0].policy_domain : "";
	snprintf(begin, sizeof(begin), "%" PRId64, r->begin);
	snprintf(end, sizeof(end), "%" PRId64, r->end);
	snprintf(np, sizeof(np), "%zu", r->n_policies);
	snprintf(succ, sizeof(succ), "%" PRId64, r->successful);
	snprintf(fail, sizeof(fail), "%" PRId64, r->failure);
	v[0] = domain;
	v[1] = r->organization_name;
	v[2] = r->contact_info;
	v[3] = r->report_id;
	v[4] = r->start_datetime;
	v[5] = r->end_datetime;
	v[6] = begin;
	v[7] = end;
	v[8] = np;
	v[9] = succ;
	v[10] = fail;
	v[11] = (const char *)sha;
	v[12] = o->source;
	v[13] = o->item;
	v[14] = o->message_id;
	res = PQexecParams(db->conn, TLSRPT_INSERT, 15, NULL, v, lens, fmts,
	    0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		rc = db_result_error(db, res, "TLS report", err, errlen);
		PQclear(res);
		return rc;
	}
	*duplicate_r = PQntuples(res) == 0;
	if (!*duplicate_r)
		snprintf(id, sizeof(id), "%s", PQgetvalue(res, 0, 0));
	PQclear(res);
	if (*duplicate_r)
		return 0;
	return store_policies(db, r, domain, id, err, errlen);
}

int
db_store_tlsrpt(struct db *db, const struct tlsrpt_report *r,
    const unsigned char sha[32], const struct db_report_origin *o,
    bool *duplicate_r, char *err, size_t errlen)
{
	char	uerr[256];
	int	rc;

	*duplicate_r = false;
	if (db_exec(db, "SAVEPOINT tlsrpt", err, errlen) != 0)
		return DB_ETEMP;
	rc = tlsrpt_insert(db, r, sha, o, duplicate_r, err, errlen);
	if (rc == 0)
		return db_exec(db, "RELEASE SAVEPOINT tlsrpt", err,
		    errlen) == 0 ? 0 : DB_ETEMP;
	if (rc == DB_EPERM && db_exec(db, "ROLLBACK TO SAVEPOINT tlsrpt; "
	    "RELEASE SAVEPOINT tlsrpt", uerr, sizeof(uerr)) != 0)
		return DB_ETEMP;
	return rc;
}

/* --- export ------------------------------------------------------------ */

/* One row per failure detail (or per policy without any, or per report
 * without policies), in report, policy and detail order; for a user ($4),
 * the policies of their domains only (a report may hold others'). */
#define TLSRPT_SELECT \
	"SELECT t.domain, t.id, t.source, t.organization_name," \
	" t.contact_info, t.report_id, t.start_datetime, t.end_datetime," \
	" extract(epoch FROM t.begin_time)::bigint," \
	" extract(epoch FROM t.end_time)::bigint," \
	" p.ordinal, p.policy_type, p.policy_string, p.policy_domain," \
	" p.mx_host, p.successful, p.failed," \
	" f.ordinal, f.result_type, f.sending_mta_ip," \
	" f.receiving_mx_hostname, f.receiving_mx_helo, f.receiving_ip," \
	" f.failed_session_count, f.additional_information," \
	" f.failure_reason_code" \
	" FROM tlsrpt t" \
	" LEFT JOIN tlsrpt_policy p" \
	"  ON p.report_domain = t.domain AND p.report = t.id" \
	"  AND ($4::text[] IS NULL OR p.domain = ANY ($4::text[]))" \
	" LEFT JOIN tlsrpt_failure f" \
	"  ON f.domain = p.domain AND f.report = p.report" \
	"  AND f.policy = p.ordinal" \
	" WHERE ($1::text IS NULL OR t.domain = $1 OR EXISTS (SELECT 1" \
	"  FROM tlsrpt_policy q WHERE q.report_domain = t.domain" \
	"  AND q.report = t.id AND q.domain = $1))" \
	" AND ($4::text[] IS NULL OR t.domain = ANY ($4::text[]) OR EXISTS" \
	"  (SELECT 1 FROM tlsrpt_policy q WHERE q.report_domain = t.domain" \
	"  AND q.report = t.id AND q.domain = ANY ($4::text[])))" \
	" AND ($2::timestamptz IS NULL OR t.end_time >= $2::timestamptz)" \
	" AND ($3::timestamptz IS NULL OR t.begin_time < $3::timestamptz)" \
	" ORDER BY t.domain, t.id, p.ordinal, f.ordinal"

enum {
	T_DOMAIN, T_ID, T_SOURCE, T_ORG, T_CONTACT, T_REPORT_ID, T_START,
	T_END, T_BEGIN_TIME, T_END_TIME, P_ORDINAL, P_TYPE, P_STRING,
	P_DOMAIN, P_MX, P_SUCC, P_FAIL, D_ORDINAL, D_RESULT_TYPE, D_SMI,
	D_RMH, D_RMHELO, D_RIP, D_FSC, D_AI, D_FRC,
};

/* A report being rebuilt from its rows: strings are copies. */
struct tls_export {
	struct tlsrpt_report	 r;
	char			*source;
	char			 key[128];	/* domain NUL id */
	size_t			 cap_policies, cap_details;
	bool			 open;
};

static char *
tdup(const PGresult *res, int c)
{
	return PQgetisnull(res, 0, c) ? NULL : strdup(PQgetvalue(res, 0, c));
}

static void
tls_export_clear(struct tls_export *x)
{
	tlsrpt_report_free(&x->r);
	free(x->source);
	x->source = NULL;
	x->cap_policies = 0;
	x->open = false;
}

/* A text[] column into a fresh array of copies. */
static int
tstrs(const PGresult *res, int c, char ***v_r, size_t *n_r)
{
	char	*s, **tmp;
	size_t	 max, i;
	int	 n;

	*v_r = NULL;
	*n_r = 0;
	if ((s = strdup(PQgetvalue(res, 0, c))) == NULL)
		return -1;
	max = strlen(s) / 2 + 1;
	if ((tmp = calloc(max, sizeof(char *))) == NULL ||
	    (n = db_array_parse(s, tmp, max)) < 0) {
		free(tmp);
		free(s);
		return -1;
	}
	if (n > 0 && (*v_r = calloc((size_t)n, sizeof(char *))) == NULL) {
		free(tmp);
		free(s);
		return -1;
	}
	for (i = 0; i < (size_t)n; i++)
		(*v_r)[i] = tmp[i] != NULL ? strdup(tmp[i]) : NULL;
	*n_r = (size_t)n;
	free(tmp);
	free(s);
	return 0;
}

static int64_t
tint(const PGresult *res, int c)
{
	return PQgetisnull(res, 0, c) ? -1 :
	    strtoll(PQgetvalue(res, 0, c), NULL, 10);
}

/* Adds what row res holds to x (a new report when its key changed: the
 * finished one is printed first through b). */
static int
tls_export_row(struct tls_export *x, const PGresult *res,
    struct buf *b)
{
	struct tlsrpt_report	*r = &x->r;
	struct tlsrpt_policy	*p, *np;
	struct tlsrpt_detail	*d, *nd;
	char			 key[128];
	size_t			 pi;

	snprintf(key, sizeof(key), "%s/%s", PQgetvalue(res, 0, T_DOMAIN),
	    PQgetvalue(res, 0, T_ID));
	if (!x->open || strcmp(key, x->key) != 0) {
		if (x->open && tlsrpt_json(b, x->source, r) == -1)
			return -1;
		tls_export_clear(x);
		memset(r, 0, sizeof(*r));
		snprintf(x->key, sizeof(x->key), "%s", key);
		x->open = true;
		x->source = tdup(res, T_SOURCE);
		r->organization_name = tdup(res, T_ORG);
		r->contact_info = tdup(res, T_CONTACT);
		r->report_id = tdup(res, T_REPORT_ID);
		r->start_datetime = tdup(res, T_START);
		r->end_datetime = tdup(res, T_END);
		r->begin = tint(res, T_BEGIN_TIME);
		r->end = tint(res, T_END_TIME);
	}
	if (PQgetisnull(res, 0, P_ORDINAL))
		return 0;
	pi = (size_t)tint(res, P_ORDINAL);
	if (pi >= r->n_policies) {
		if (pi >= x->cap_policies) {
			x->cap_policies = x->cap_policies ? x->cap_policies * 2 :
			    8;
			if (pi >= x->cap_policies)
				x->cap_policies = pi + 1;
			np = realloc(r->policies, x->cap_policies *
			    sizeof(*np));
			if (np == NULL)
				return -1;
			r->policies = np;
		}
		p = &r->policies[r->n_policies++];
		memset(p, 0, sizeof(*p));
		x->cap_details = 0;
		p->policy_type = tdup(res, P_TYPE);
		p->policy_domain = tdup(res, P_DOMAIN);
		if (tstrs(res, P_STRING, &p->policy_string,
		    &p->n_policy_string) == -1 ||
		    tstrs(res, P_MX, &p->mx_host, &p->n_mx_host) == -1)
			return -1;
		p->successful = tint(res, P_SUCC);
		p->failure = tint(res, P_FAIL);
		r->successful += p->successful;
		r->failure += p->failure;
	}
	p = &r->policies[r->n_policies - 1];
	if (PQgetisnull(res, 0, D_ORDINAL))
		return 0;
	if (p->n_details >= x->cap_details) {
		x->cap_details = x->cap_details ? x->cap_details * 2 : 8;
		nd = realloc(p->details, x->cap_details * sizeof(*nd));
		if (nd == NULL)
			return -1;
		p->details = nd;
	}
	d = &p->details[p->n_details++];
	d->result_type = tdup(res, D_RESULT_TYPE);
	d->sending_mta_ip = tdup(res, D_SMI);
	d->receiving_mx_hostname = tdup(res, D_RMH);
	d->receiving_mx_helo = tdup(res, D_RMHELO);
	d->receiving_ip = tdup(res, D_RIP);
	d->failed_session_count = tint(res, D_FSC);
	d->additional_information = tdup(res, D_AI);
	d->failure_reason_code = tdup(res, D_FRC);
	return 0;
}

/* The state of one TLS-report export: rows come per failure detail. */
struct tlsrpt_export {
	struct tls_export	 x;
	struct buf		 b;
	FILE			*out;
};

/* One row: a report's line is printed when the next report starts. */
static int
tlsrpt_export_row(void *ctx, const PGresult *res, char *err, size_t errlen)
{
	struct tlsrpt_export	*e = ctx;

	buf_reset(&e->b);
	if (tls_export_row(&e->x, res, &e->b) == -1) {
		snprintf(err, errlen, "export: out of memory or a TLS report "
		    "too large");
		return DB_EPERM;
	}
	if (e->b.len > 0 && fwrite(e->b.data, 1, e->b.len, e->out) !=
	    e->b.len) {
		snprintf(err, errlen, "export: write error");
		return DB_EPERM;
	}
	return 0;
}

int
db_export_tlsrpt(struct db *db, const struct db_export_filter *f,
    FILE *out, char *err, size_t errlen)
{
	struct tlsrpt_export	 e;
	const char		*v[4];
	char			 since[40], until[40];
	int			 rc;

	memset(&e, 0, sizeof(e));
	v[0] = f->domain;
	v[1] = db_export_time_param(f->since, since, sizeof(since));
	v[2] = db_export_time_param(f->until, until, sizeof(until));
	v[3] = f->domains;
	buf_init(&e.b, TLSRPT_JSON_CAP);
	e.out = out;
	rc = db_each_row(db, "export", TLSRPT_SELECT, 4, v, tlsrpt_export_row,
	    &e, err, errlen);
	buf_reset(&e.b);
	if (rc == 0 && e.x.open && (tlsrpt_json(&e.b, e.x.source,
	    &e.x.r) == -1 || fwrite(e.b.data, 1, e.b.len, out) != e.b.len)) {
		snprintf(err, errlen, "export: write error");
		rc = DB_EPERM;
	}
	tls_export_clear(&e.x);
	buf_free(&e.b);
	return rc;
}
