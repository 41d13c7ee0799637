/*
 * forensic.c - failure reports (RFC 6591) into the forensic table and back
 * out.  A report comes parsed (ingest/message.c parses it once) and is one
 * INSERT with parameters, deduplicated by (domain, sha256 of its identity,
 * see message.h); export rebuilds struct arf_report from the row and
 * prints it with parser/forensic.c's arf_json, so `export --type forensic`
 * and `parse` print the same fields.
 *
 * May touch: db.c; parser/report.h (the report type, arf_json for
 * export's output), never the parser.
 */
#include "config.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "db.h"
#include "report.h"

#define FORENSIC_JSON_CAP	(16 << 20)	/* one report's JSON */
#define FORENSIC_ARRAY_CAP	(4 << 20)	/* one text[] parameter */
#define FORENSIC_NPARAMS	38

#define FORENSIC_INSERT \
	"INSERT INTO forensic (domain, sha256, format, reporter," \
	" report_message_id, report_subject, report_date, feedback_type," \
	" user_agent, version, original_mail_from, original_rcpt_to," \
	" original_rcpt_to_total, arrival, arrival_text, source_ip," \
	" reported_domain, authentication_results, auth_failure," \
	" dkim_domain, dkim_identity, dkim_selector, delivery_result," \
	" identity_alignment, reported_uri, original_envelope_id," \
	" reporting_mta, incidents, headers, headers_truncated, body," \
	" body_truncated, redacted, source, item, message_id)" \
	" VALUES ($1, $2, $3, $4, $5, $6, to_timestamp($7::bigint), $8, $9," \
	" $10, $11, $12::text[], $13::bigint, to_timestamp($14::bigint)," \
	" $15, $16::inet, $17, $18::text[], $19::text[], $20, $21, $22, $23," \
	" $24, $25::text[], $26, $27, $28::bigint, $29, $30::boolean, $31," \
	" $32::boolean, $33::boolean, $34, $35, $36)" \
	" ON CONFLICT (domain, sha256) DO NOTHING RETURNING id"

/* The columns export reads, in struct arf_report's order. */
#define FORENSIC_SELECT \
	"SELECT source, format, reporter," \
	" extract(epoch FROM report_date)::bigint, report_message_id," \
	" report_subject, feedback_type, user_agent, version," \
	" original_mail_from, original_rcpt_to, original_rcpt_to_total," \
	" extract(epoch FROM arrival)::bigint, arrival_text, host(source_ip)," \
	" reported_domain, authentication_results, auth_failure, dkim_domain," \
	" dkim_identity, dkim_selector, delivery_result, identity_alignment," \
	" reported_uri, original_envelope_id, reporting_mta, incidents," \
	" headers, headers_truncated, body, body_truncated, redacted" \
	" FROM forensic" \
	" WHERE ($1::text IS NULL OR domain = $1)" \
	DB_DOMAINS_AND("domain", 4) \
	" AND ($2::timestamptz IS NULL OR" \
	"  coalesce(arrival, report_date, received) >= $2::timestamptz)" \
	" AND ($3::timestamptz IS NULL OR" \
	"  coalesce(arrival, report_date, received) < $3::timestamptz)" \
	" ORDER BY domain, id"

enum {
	F_SOURCE, F_FORMAT, F_REPORTER, F_REPORT_DATE, F_REPORT_MSGID,
	F_SUBJECT, F_FEEDBACK_TYPE, F_USER_AGENT, F_VERSION, F_MAIL_FROM,
	F_RCPT_TO, F_RCPT_TO_TOTAL, F_ARRIVAL, F_ARRIVAL_TEXT, F_SOURCE_IP,
	F_REPORTED_DOMAIN, F_AUTH_RESULTS, F_AUTH_FAILURE, F_DKIM_DOMAIN,
	F_DKIM_IDENTITY, F_DKIM_SELECTOR, F_DELIVERY_RESULT,
	F_IDENTITY_ALIGNMENT, F_REPORTED_URI, F_ENVELOPE_ID, F_REPORTING_MTA,
	F_INCIDENTS, F_HEADERS, F_HEADERS_TRUNCATED, F_BODY, F_BODY_TRUNCATED,
	F_REDACTED,
};

static const char *
bool_param(bool v)
{
	return v ? "true" : "false";
}

static int
list_param(struct buf *b, const struct arf_list *l)
{
	return db_array_field(b, (const char *const *)l->v, sizeof(char *),
	    l->n, false);
}

static int
forensic_insert(struct db *db, const struct arf_report *r,
    const unsigned char sha[32], const struct db_report_origin *o,
    bool *duplicate_r, char *err, size_t errlen)
{
	const char	*v[FORENSIC_NPARAMS];
	int		 lens[FORENSIC_NPARAMS] = { 0, 32 };
	int		 fmts[FORENSIC_NPARAMS] = { 0, 1 };
	char		 rdate[24], arrival[24], total[24], incidents[24];
	struct buf	 a[4];
	PGresult	*res;
	size_t		 i;
	int		 rc = 0;

	for (i = 0; i < nitems(a); i++)
		buf_init(&a[i], FORENSIC_ARRAY_CAP);
	if (list_param(&a[0], &r->original_rcpt_to) == -1 ||
	    list_param(&a[1], &r->authentication_results) == -1 ||
	    list_param(&a[2], &r->auth_failure) == -1 ||
	    list_param(&a[3], &r->reported_uri) == -1) {
		snprintf(err, errlen, "failure report: a list is too large");
		rc = DB_EPERM;
		goto out;
	}
	snprintf(rdate, sizeof(rdate), "%" PRId64, r->report_date);
	snprintf(arrival, sizeof(arrival), "%" PRId64, r->arrival_date);
	snprintf(total, sizeof(total), "%zu", r->original_rcpt_to.total);
	snprintf(incidents, sizeof(incidents), "%" PRId64, r->incidents);
	memset(v, 0, sizeof(v));
	v[0] = r->reported_domain != NULL ? r->reported_domain : "";
	v[1] = (const char *)sha;
	v[2] = r->format == ARF_FORMAT_ARF ? "arf" : "exim-text";
	v[3] = r->report_from;
	v[4] = r->report_message_id;
	v[5] = r->report_subject;
	v[6] = r->has_report_date ? rdate : NULL;
	v[7] = r->feedback_type;
	v[8] = r->user_agent;
	v[9] = r->version;
	v[10] = r->original_mail_from;
	v[11] = a[0].data != NULL ? a[0].data : "{}";
	v[12] = total;
	v[13] = r->has_arrival_date ? arrival : NULL;
	v[14] = r->arrival_date_text;
	v[15] = r->source_ip;
	v[16] = r->reported_domain;
	v[17] = a[1].data != NULL ? a[1].data : "{}";
	v[18] = a[2].data != NULL ? a[2].data : "{}";
	v[19] = r->dkim_domain;
	v[20] = r->dkim_identity;
	v[21] = r->dkim_selector;
	v[22] = r->delivery_result;
	v[23] = r->identity_alignment;
	v[24] = a[3].data != NULL ? a[3].data : "{}";
	v[25] = r->original_envelope_id;
	v[26] = r->reporting_mta;
	v[27] = r->incidents >= 0 ? incidents : NULL;
	v[28] = r->headers;
	v[29] = bool_param(r->headers_truncated);
	v[30] = r->body;
	v[31] = bool_param(r->body_truncated);
	v[32] = bool_param(r->redacted);
	v[33] = o->source;
	v[34] = o->item;
	v[35] = o->message_id;
	res = PQexecParams(db->conn, FORENSIC_INSERT, 36, NULL, v, lens, fmts,
	    0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK)
		rc = db_result_error(db, res, "failure report", err, errlen);
	else
		*duplicate_r = PQntuples(res) == 0;
	PQclear(res);
out:
	for (i = 0; i < nitems(a); i++)
		buf_free(&a[i]);
	return rc;
}

int
db_store_forensic(struct db *db, const struct arf_report *r,
    const unsigned char sha[32], const struct db_report_origin *o,
    bool *duplicate_r, char *err, size_t errlen)
{
	char	uerr[256];
	int	rc;

	*duplicate_r = false;
	if ((rc = db_exec(db, "SAVEPOINT forensic", err, errlen)) != 0)
		return DB_ETEMP;
	rc = forensic_insert(db, r, sha, o, duplicate_r, err, errlen);
	if (rc == 0)
		return db_exec(db, "RELEASE SAVEPOINT forensic", err,
		    errlen) == 0 ? 0 : DB_ETEMP;
	if (rc == DB_EPERM && db_exec(db, "ROLLBACK TO SAVEPOINT forensic; "
	    "RELEASE SAVEPOINT forensic", uerr, sizeof(uerr)) != 0)
		return DB_ETEMP;
	return rc;
}

/* --- export ------------------------------------------------------------ */

static char *
fcol(const PGresult *res, int c)
{
	return PQgetisnull(res, 0, c) ? NULL : PQgetvalue(res, 0, c);
}

static int64_t
fint(const PGresult *res, int c, bool *has_r)
{
	if (has_r != NULL)
		*has_r = !PQgetisnull(res, 0, c);
	if (PQgetisnull(res, 0, c))
		return -1;
	return strtoll(PQgetvalue(res, 0, c), NULL, 10);
}

/* A text[] column as an arf_list; the strings point into res, which
 * db_array_parse rewrites in place.  l->v is freed by the caller. */
static int
flist(const PGresult *res, int c, struct arf_list *l)
{
	char	*s = PQgetvalue(res, 0, c);
	size_t	 max = strlen(s) / 2 + 1;
	int	 n;

	if ((l->v = calloc(max, sizeof(char *))) == NULL)
		return -1;
	if ((n = db_array_parse(s, l->v, max)) < 0)
		return -1;
	l->n = l->total = (size_t)n;
	return 0;
}

static bool
fbool(const PGresult *res, int c)
{
	return *PQgetvalue(res, 0, c) == 't';
}

/* One row back into the parser's struct (pointers into res). */
static int
row_forensic(const PGresult *res, struct arf_report *r)
{
	const char	*fmt = PQgetvalue(res, 0, F_FORMAT);
	int		 rc = 0;

	memset(r, 0, sizeof(*r));
	r->format = strcmp(fmt, "arf") == 0 ? ARF_FORMAT_ARF :
	    ARF_FORMAT_EXIM_TEXT;
	r->report_from = fcol(res, F_REPORTER);
	r->report_date = fint(res, F_REPORT_DATE, &r->has_report_date);
	r->report_message_id = fcol(res, F_REPORT_MSGID);
	r->report_subject = fcol(res, F_SUBJECT);
	r->feedback_type = fcol(res, F_FEEDBACK_TYPE);
	r->user_agent = fcol(res, F_USER_AGENT);
	r->version = fcol(res, F_VERSION);
	r->original_mail_from = fcol(res, F_MAIL_FROM);
	rc |= flist(res, F_RCPT_TO, &r->original_rcpt_to);
	r->original_rcpt_to.total = (size_t)fint(res, F_RCPT_TO_TOTAL, NULL);
	r->arrival_date = fint(res, F_ARRIVAL, &r->has_arrival_date);
	r->arrival_date_text = fcol(res, F_ARRIVAL_TEXT);
	r->source_ip = fcol(res, F_SOURCE_IP);
	r->reported_domain = fcol(res, F_REPORTED_DOMAIN);
	rc |= flist(res, F_AUTH_RESULTS, &r->authentication_results);
	rc |= flist(res, F_AUTH_FAILURE, &r->auth_failure);
	r->dkim_domain = fcol(res, F_DKIM_DOMAIN);
	r->dkim_identity = fcol(res, F_DKIM_IDENTITY);
	r->dkim_selector = fcol(res, F_DKIM_SELECTOR);
	r->delivery_result = fcol(res, F_DELIVERY_RESULT);
	r->identity_alignment = fcol(res, F_IDENTITY_ALIGNMENT);
	rc |= flist(res, F_REPORTED_URI, &r->reported_uri);
	r->original_envelope_id = fcol(res, F_ENVELOPE_ID);
	r->reporting_mta = fcol(res, F_REPORTING_MTA);
	r->incidents = fint(res, F_INCIDENTS, NULL);
	r->headers = fcol(res, F_HEADERS);
	r->headers_truncated = fbool(res, F_HEADERS_TRUNCATED);
	r->body = fcol(res, F_BODY);
	r->body_truncated = fbool(res, F_BODY_TRUNCATED);
	r->redacted = fbool(res, F_REDACTED);
	return rc ? -1 : 0;
}

static void
row_forensic_free(struct arf_report *r)
{
	free(r->original_rcpt_to.v);
	free(r->authentication_results.v);
	free(r->auth_failure.v);
	free(r->reported_uri.v);
}

/* The state of one failure-report export. */
struct forensic_export {
	struct buf	 b;
	FILE		*out;
};

/* One stored failure report: its parse-format line. */
static int
forensic_export_row(void *ctx, const PGresult *res, char *err, size_t errlen)
{
	struct forensic_export	*x = ctx;
	struct arf_report	 r;
	int			 rc = 0;

	buf_reset(&x->b);
	if (row_forensic(res, &r) == -1 ||
	    arf_json(&x->b, fcol(res, F_SOURCE), &r) == -1) {
		snprintf(err, errlen, "export: a stored failure report is "
		    "malformed or too large");
		rc = DB_EPERM;
	} else if (fwrite(x->b.data, 1, x->b.len, x->out) != x->b.len) {
		snprintf(err, errlen, "export: write error");
		rc = DB_EPERM;
	}
	row_forensic_free(&r);
	return rc;
}

int
db_export_forensic(struct db *db, const struct db_export_filter *f,
    FILE *out, char *err, size_t errlen)
{
	struct forensic_export	 x;
	const char		*v[4];
	char			 since[40], until[40];
	int			 rc;

	v[0] = f->domain;
	v[1] = db_export_time_param(f->since, since, sizeof(since));
	v[2] = db_export_time_param(f->until, until, sizeof(until));
	v[3] = f->domains;
	buf_init(&x.b, FORENSIC_JSON_CAP);
	x.out = out;
	rc = db_each_row(db, "export", FORENSIC_SELECT, 4, v,
	    forensic_export_row, &x, err, errlen);
	buf_free(&x.b);
	return rc;
}
