/*
 * export.c - stored reports back out: JSON lines in the `parse` format
 * (parser/agg_json.c builds them from the same structures) with, in each
 * record, what the enricher knows of its source (source_host), or CSV, one
 * row per record.  Rows stream in single-row mode, so memory holds one
 * record and one output chunk whatever the size of the export.
 *
 * May touch: db.c; parser/report.h: the report types and their one JSON
 * form (agg_json.c), so export and parse cannot drift.
 */
#include "config.h"

#include <ctype.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "db.h"
#include "report.h"

#define EXPORT_FLUSH_AT	(64 * 1024)	/* output bytes held before fwrite */
#define EXPORT_BUF_CAP	(64 << 20)	/* one record's output, at most */

#define EXPORT_QUERY \
	"SELECT r.domain, r.id, r.org_name, r.org_email," \
	" r.extra_contact_info, r.report_id," \
	" extract(epoch FROM r.begin_time)::bigint," \
	" extract(epoch FROM r.end_time)::bigint, r.errors, r.generator," \
	" r.version, r.adkim, r.aspf, r.p, r.sp, r.np, r.pct, r.fo," \
	" r.testing, r.discovery_method, r.dmarcbis, r.source," \
	" c.ordinal, host(c.source_ip), c.count, c.disposition, c.dkim," \
	" c.spf, c.reason_type, c.reason_comment, c.header_from," \
	" c.envelope_from, c.envelope_to, c.dkim_domain, c.dkim_selector," \
	" c.dkim_result, c.dkim_human_result, c.spf_domain, c.spf_scope," \
	" c.spf_result, c.spf_human_result," \
	" h.ptr, coalesce(h.ptr_verified, false), h.service, h.service_type," \
	" h.asn, h.as_org, h.country" \
	" FROM report r LEFT JOIN record c" \
	" ON c.domain = r.domain AND c.report = r.id" \
	" AND c.month = dmarcd_report_month(r.begin_time, r.end_time)" \
	" LEFT JOIN source_host h ON h.ip = c.source_ip" \
	" WHERE ($1::text IS NULL OR r.domain = $1)" \
	DB_DOMAINS_AND("r.domain", 4) \
	" AND ($2::timestamptz IS NULL OR r.end_time >= $2::timestamptz)" \
	" AND ($3::timestamptz IS NULL OR r.begin_time < $3::timestamptz)" \
	" ORDER BY r.domain, r.id, c.ordinal"

/* Column numbers of EXPORT_QUERY. */
enum {
	C_DOMAIN, C_ID, C_ORG_NAME, C_ORG_EMAIL, C_EXTRA, C_REPORT_ID,
	C_BEGIN, C_END, C_ERRORS, C_GENERATOR, C_VERSION, C_ADKIM, C_ASPF,
	C_P, C_SP, C_NP, C_PCT, C_FO, C_TESTING, C_DISCOVERY, C_DMARCBIS,
	C_SOURCE, C_ORDINAL, C_IP, C_COUNT, C_DISPOSITION, C_DKIM, C_SPF,
	C_REASON_TYPE, C_REASON_COMMENT, C_HEADER_FROM, C_ENVELOPE_FROM,
	C_ENVELOPE_TO, C_DKIM_DOMAIN, C_DKIM_SELECTOR, C_DKIM_RESULT,
	C_DKIM_HUMAN, C_SPF_DOMAIN, C_SPF_SCOPE, C_SPF_RESULT, C_SPF_HUMAN,
	C_PTR, C_PTR_VERIFIED, C_SERVICE, C_SERVICE_TYPE, C_ASN, C_AS_ORG,
	C_COUNTRY,
};

/* What the enricher knows of a record's source (source_host), after the
 * record's parse fields: JSON keys and CSV columns, in this order. */
static const struct {
	const char	*key;
	int		 col;
} host_cols[] = {
	{ "ptr", C_PTR }, { "ptr_verified", C_PTR_VERIFIED },
	{ "service", C_SERVICE }, { "service_type", C_SERVICE_TYPE },
	{ "asn", C_ASN }, { "as_org", C_AS_ORG }, { "country", C_COUNTRY },
};

static const char csv_header[] = "org_name,org_email,extra_contact_info,"
    "report_id,begin,end,errors,generator,version,domain,adkim,aspf,p,sp,np,"
    "pct,fo,testing,discovery_method,source_ip,count,disposition,dkim,spf,"
    "reasons,header_from,envelope_from,envelope_to,auth_dkim,auth_spf,"
    "ptr,ptr_verified,service,service_type,asn,as_org,country\r\n";

static char *
col(const PGresult *res, int c)
{
	return PQgetisnull(res, 0, c) ? NULL : PQgetvalue(res, 0, c);
}

/* A timestamp parameter: unix seconds become ISO 8601 UTC; anything else
 * goes to PostgreSQL's timestamptz input as is. */
const char *
db_export_time_param(const char *s, char *buf, size_t len)
{
	const char	*p;
	time_t		 t;
	struct tm	 tm;

	if (s == NULL || *s == '\0')
		return NULL;
	for (p = s; isdigit((unsigned char)*p); p++)
		;
	if (*p != '\0')
		return s;
	t = (time_t)strtoll(s, NULL, 10);
	if (gmtime_r(&t, &tm) == NULL)
		return s;
	strftime(buf, len, "%Y-%m-%d %H:%M:%S+00", &tm);
	return buf;
}

static void
row_report(const PGresult *res, struct agg_report *r)
{
	static char	*errors[AGG_MAX_ERRORS];
	int		 n;

	memset(r, 0, sizeof(*r));
	r->domain = col(res, C_DOMAIN);
	r->org_name = col(res, C_ORG_NAME);
	r->org_email = col(res, C_ORG_EMAIL);
	r->extra_contact_info = col(res, C_EXTRA);
	r->report_id = col(res, C_REPORT_ID);
	r->begin = strtoll(PQgetvalue(res, 0, C_BEGIN), NULL, 10);
	r->end = strtoll(PQgetvalue(res, 0, C_END), NULL, 10);
	n = db_array_parse(PQgetvalue(res, 0, C_ERRORS), errors,
	    AGG_MAX_ERRORS);
	r->n_errors = n > 0 ? (size_t)n : 0;
	memcpy(r->errors, errors, sizeof(errors));
	r->generator = col(res, C_GENERATOR);
	r->version = col(res, C_VERSION);
	r->adkim = col(res, C_ADKIM);
	r->aspf = col(res, C_ASPF);
	r->p = col(res, C_P);
	r->sp = col(res, C_SP);
	r->np = col(res, C_NP);
	r->has_pct = !PQgetisnull(res, 0, C_PCT);
	r->pct = r->has_pct ? atoi(PQgetvalue(res, 0, C_PCT)) : 0;
	r->fo = col(res, C_FO);
	r->testing = col(res, C_TESTING);
	r->discovery_method = col(res, C_DISCOVERY);
	r->dmarcbis = *PQgetvalue(res, 0, C_DMARCBIS) == 't';
}

/* Parses text[] column c into at most max strings; returns the count. */
static size_t
row_array(const PGresult *res, int c, char **out, size_t max)
{
	int	n;

	if (PQgetisnull(res, 0, c))
		return 0;
	n = db_array_parse(PQgetvalue(res, 0, c), out, max);
	return n > 0 ? (size_t)n : 0;
}

static size_t
min_n(size_t a, size_t b)
{
	return a < b ? a : b;
}

static void
row_record(const PGresult *res, struct agg_record *rec)
{
	char	*a[4][AGG_MAX_DKIM > AGG_MAX_SPF ? AGG_MAX_DKIM : AGG_MAX_SPF];
	size_t	 i, n;

	memset(rec, 0, offsetof(struct agg_record, reasons));
	snprintf(rec->source_ip, sizeof(rec->source_ip), "%s",
	    PQgetvalue(res, 0, C_IP));
	rec->count = strtoull(PQgetvalue(res, 0, C_COUNT), NULL, 10);
	rec->disposition = col(res, C_DISPOSITION);
	rec->dkim = col(res, C_DKIM);
	rec->spf = col(res, C_SPF);
	n = row_array(res, C_REASON_TYPE, a[0], AGG_MAX_REASONS);
	n = min_n(n, row_array(res, C_REASON_COMMENT, a[1], AGG_MAX_REASONS));
	for (i = 0; i < n; i++) {
		rec->reasons[i].type = a[0][i];
		rec->reasons[i].comment = a[1][i];
	}
	rec->n_reasons = n;
	rec->header_from = col(res, C_HEADER_FROM);
	rec->envelope_from = col(res, C_ENVELOPE_FROM);
	rec->envelope_to = col(res, C_ENVELOPE_TO);
	n = row_array(res, C_DKIM_DOMAIN, a[0], AGG_MAX_DKIM);
	n = min_n(n, row_array(res, C_DKIM_SELECTOR, a[1], AGG_MAX_DKIM));
	n = min_n(n, row_array(res, C_DKIM_RESULT, a[2], AGG_MAX_DKIM));
	n = min_n(n, row_array(res, C_DKIM_HUMAN, a[3], AGG_MAX_DKIM));
	for (i = 0; i < n; i++) {
		rec->auth_dkim[i].domain = a[0][i];
		rec->auth_dkim[i].selector = a[1][i];
		rec->auth_dkim[i].result = a[2][i];
		rec->auth_dkim[i].human_result = a[3][i];
	}
	rec->n_dkim = n;
	n = row_array(res, C_SPF_DOMAIN, a[0], AGG_MAX_SPF);
	n = min_n(n, row_array(res, C_SPF_SCOPE, a[1], AGG_MAX_SPF));
	n = min_n(n, row_array(res, C_SPF_RESULT, a[2], AGG_MAX_SPF));
	n = min_n(n, row_array(res, C_SPF_HUMAN, a[3], AGG_MAX_SPF));
	for (i = 0; i < n; i++) {
		rec->auth_spf[i].domain = a[0][i];
		rec->auth_spf[i].scope = a[1][i];
		rec->auth_spf[i].result = a[2][i];
		rec->auth_spf[i].human_result = a[3][i];
	}
	rec->n_spf = n;
}

int
db_csv_field(struct buf *b, const char *s, bool first)
{
	const char	*p;
	int		 rc = 0;

	if (!first)
		rc |= buf_addc(b, ',');
	if (s == NULL)
		return rc ? -1 : 0;
	if (strpbrk(s, "\",\r\n") == NULL && *s != ' ' &&
	    (*s == '\0' || s[strlen(s) - 1] != ' '))
		return rc | buf_adds(b, s) ? -1 : 0;
	rc |= buf_addc(b, '"');
	for (p = s; *p != '\0'; p++) {
		if (*p == '"')
			rc |= buf_addc(b, '"');
		rc |= buf_addc(b, *p);
	}
	rc |= buf_addc(b, '"');
	return rc ? -1 : 0;
}

/* "a:b:c d:e:f": a list in one CSV cell (NULL parts empty). */
static void
csv_join(struct buf *tmp, const char *parts[], size_t nparts, bool first)
{
	size_t	i;

	if (!first)
		buf_addc(tmp, ' ');
	for (i = 0; i < nparts; i++) {
		if (i)
			buf_addc(tmp, ':');
		if (parts[i] != NULL)
			buf_adds(tmp, parts[i]);
	}
}

static int
csv_time(struct buf *b, int64_t t)
{
	time_t		 tt = (time_t)t;
	struct tm	 tm;
	char		 s[32];

	if (gmtime_r(&tt, &tm) == NULL)
		snprintf(s, sizeof(s), "%" PRId64, t);
	else
		strftime(s, sizeof(s), "%Y-%m-%dT%H:%M:%SZ", &tm);
	return db_csv_field(b, s, false);
}

static int
csv_row(struct buf *b, const struct agg_report *r,
    const struct agg_record *rec)
{
	struct buf	 tmp;
	const char	*parts[3];
	char		 num[24];
	size_t		 i;
	int		 rc = 0;

	buf_init(&tmp, EXPORT_BUF_CAP);
	rc |= db_csv_field(b, r->org_name, true);
	rc |= db_csv_field(b, r->org_email, false);
	rc |= db_csv_field(b, r->extra_contact_info, false);
	rc |= db_csv_field(b, r->report_id, false);
	rc |= csv_time(b, r->begin);
	rc |= csv_time(b, r->end);
	for (i = 0; i < r->n_errors; i++) {
		if (i)
			buf_adds(&tmp, "; ");
		buf_adds(&tmp, r->errors[i] ? r->errors[i] : "");
	}
	rc |= db_csv_field(b, tmp.len ? tmp.data : NULL, false);
	buf_reset(&tmp);
	rc |= db_csv_field(b, r->generator, false);
	rc |= db_csv_field(b, r->version, false);
	rc |= db_csv_field(b, r->domain, false);
	rc |= db_csv_field(b, r->adkim, false);
	rc |= db_csv_field(b, r->aspf, false);
	rc |= db_csv_field(b, r->p, false);
	rc |= db_csv_field(b, r->sp, false);
	rc |= db_csv_field(b, r->np, false);
	snprintf(num, sizeof(num), "%d", r->pct);
	rc |= db_csv_field(b, r->has_pct ? num : NULL, false);
	rc |= db_csv_field(b, r->fo, false);
	rc |= db_csv_field(b, r->testing, false);
	rc |= db_csv_field(b, r->discovery_method, false);
	if (rec == NULL) {
		rc |= buf_adds(b, ",,,,,,,,,,,,,,,,,\r\n");
		buf_free(&tmp);
		return rc ? -1 : 0;
	}
	rc |= db_csv_field(b, rec->source_ip, false);
	snprintf(num, sizeof(num), "%" PRIu64, rec->count);
	rc |= db_csv_field(b, num, false);
	rc |= db_csv_field(b, rec->disposition, false);
	rc |= db_csv_field(b, rec->dkim, false);
	rc |= db_csv_field(b, rec->spf, false);
	for (i = 0; i < rec->n_reasons; i++) {
		parts[0] = rec->reasons[i].type;
		parts[1] = rec->reasons[i].comment;
		csv_join(&tmp, parts, 2, i == 0);
	}
	rc |= db_csv_field(b, tmp.len ? tmp.data : NULL, false);
	buf_reset(&tmp);
	rc |= db_csv_field(b, rec->header_from, false);
	rc |= db_csv_field(b, rec->envelope_from, false);
	rc |= db_csv_field(b, rec->envelope_to, false);
	for (i = 0; i < rec->n_dkim; i++) {
		parts[0] = rec->auth_dkim[i].domain;
		parts[1] = rec->auth_dkim[i].selector;
		parts[2] = rec->auth_dkim[i].result;
		csv_join(&tmp, parts, 3, i == 0);
	}
	rc |= db_csv_field(b, tmp.len ? tmp.data : NULL, false);
	buf_reset(&tmp);
	for (i = 0; i < rec->n_spf; i++) {
		parts[0] = rec->auth_spf[i].domain;
		parts[1] = rec->auth_spf[i].scope;
		parts[2] = rec->auth_spf[i].result;
		csv_join(&tmp, parts, 3, i == 0);
	}
	rc |= db_csv_field(b, tmp.len ? tmp.data : NULL, false);
	buf_free(&tmp);
	return rc ? -1 : 0;
}

/* The source fields of a record, appended to its JSON object (which
 * agg_json_record closed: reopened here) or its CSV row. */
static int
host_fields(struct buf *b, const PGresult *res, enum db_export_format fmt)
{
	const char	*v;
	size_t		 i;
	int		 rc = 0;

	if (fmt == DB_EXPORT_JSON) {
		if (b->len == 0 || b->data[b->len - 1] != '}')
			return -1;
		b->len--;
	}
	for (i = 0; i < nitems(host_cols); i++) {
		v = col(res, host_cols[i].col);
		if (fmt == DB_EXPORT_CSV) {
			if (host_cols[i].col == C_PTR_VERIFIED)
				v = *v == 't' ? "true" : "false";
			rc |= db_csv_field(b, v, false);
			continue;
		}
		rc |= json_key(b, host_cols[i].key, false);
		if (host_cols[i].col == C_PTR_VERIFIED)
			rc |= buf_adds(b, *v == 't' ? "true" : "false");
		else if (host_cols[i].col == C_ASN && v != NULL)
			rc |= buf_adds(b, v);	/* a bigint's digits */
		else
			rc |= json_str(b, v);
	}
	if (fmt == DB_EXPORT_JSON)
		rc |= buf_addc(b, '}');
	return rc ? -1 : 0;
}

static int
out_flush(struct buf *b, FILE *out, bool force, char *err, size_t errlen)
{
	if (b->len == 0 || (!force && b->len < EXPORT_FLUSH_AT))
		return 0;
	if (fwrite(b->data, 1, b->len, out) != b->len) {
		snprintf(err, errlen, "write error");
		return DB_EPERM;
	}
	buf_reset(b);
	return 0;
}

/* The state of one aggregate export: rows come one per record, ordered by
 * report, so a report's line is closed when the next report starts. */
struct agg_export {
	enum db_export_format	 fmt;
	FILE			*out;
	struct buf		 b;
	struct agg_report	 r;
	struct agg_record	*rec;
	char			*key_domain;
	char			 key_id[24];
	bool			 open, first;
};

/* One row: a record (or a report without records). */
static int
agg_export_row(void *ctx, const PGresult *res, char *err, size_t errlen)
{
	struct agg_export	*x = ctx;
	int			 rc = 0;

	row_report(res, &x->r);
	if (x->key_domain == NULL ||
	    strcmp(x->key_domain, PQgetvalue(res, 0, C_DOMAIN)) != 0 ||
	    strcmp(x->key_id, PQgetvalue(res, 0, C_ID)) != 0) {
		/* a new report */
		if (x->open && x->fmt == DB_EXPORT_JSON)
			rc |= agg_json_end(&x->b);
		free(x->key_domain);
		if ((x->key_domain = strdup(PQgetvalue(res, 0, C_DOMAIN))) ==
		    NULL) {
			snprintf(err, errlen, "out of memory");
			return DB_ETEMP;
		}
		snprintf(x->key_id, sizeof(x->key_id), "%s",
		    PQgetvalue(res, 0, C_ID));
		if (x->fmt == DB_EXPORT_JSON)
			rc |= agg_json_begin(&x->b, col(res, C_SOURCE), &x->r);
		x->open = true;
		x->first = true;
	}
	if (!PQgetisnull(res, 0, C_ORDINAL)) {
		row_record(res, x->rec);
		if (x->fmt == DB_EXPORT_JSON)
			rc |= agg_json_record(&x->b, x->rec, x->first);
		else
			rc |= csv_row(&x->b, &x->r, x->rec);
		rc |= host_fields(&x->b, res, x->fmt);
		if (x->fmt == DB_EXPORT_CSV)
			rc |= buf_adds(&x->b, "\r\n");
		x->first = false;
	} else if (x->fmt == DB_EXPORT_CSV)
		rc |= csv_row(&x->b, &x->r, NULL);
	if (rc != 0) {
		snprintf(err, errlen, "export: record too large");
		return DB_EPERM;
	}
	return out_flush(&x->b, x->out, false, err, errlen);
}

int
db_export(struct db *db, const struct db_export_filter *f,
    enum db_export_format fmt, FILE *out, char *err, size_t errlen)
{
	struct agg_export	 x;
	const char		*v[4];
	char			 since[40], until[40];
	int			 rc;

	memset(&x, 0, sizeof(x));
	if ((x.rec = calloc(1, sizeof(*x.rec))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return DB_ETEMP;
	}
	x.fmt = fmt;
	x.out = out;
	v[0] = f->domain;
	v[1] = db_export_time_param(f->since, since, sizeof(since));
	v[2] = db_export_time_param(f->until, until, sizeof(until));
	v[3] = f->domains;
	buf_init(&x.b, EXPORT_BUF_CAP);
	if (fmt == DB_EXPORT_CSV)
		buf_adds(&x.b, csv_header);
	rc = db_each_row(db, "export", EXPORT_QUERY, 4, v, agg_export_row, &x,
	    err, errlen);
	if (rc == 0 && x.open && fmt == DB_EXPORT_JSON)
		rc = agg_json_end(&x.b) == 0 ? 0 : DB_EPERM;
	if (rc == 0)
		rc = out_flush(&x.b, out, true, err, errlen);
	if (rc == 0 && fflush(out) != 0) {
		snprintf(err, errlen, "write error");
		rc = DB_EPERM;
	}
	buf_free(&x.b);
	free(x.key_domain);
	free(x.rec);
	return rc;
}
