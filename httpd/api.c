/*
 * api.c - the JSON API under /api/: read-only, parameterised queries on the
 * dashboard rollups (db/queries.h, sql/010_schema.sql), bounded
 * responses.  Every parameter is checked
 * here and refused with 400 and a reason; every value goes out through the
 * JSON encoder of lib/.
 */
#include "config.h"

#include <arpa/inet.h>

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "httpd.h"
#include "queries.h"
#include "senders.h"

#define API_LIMIT_MAX		500	/* rows of one page */
#define API_LIMIT_DEFAULT	100
#define API_OFFSET_MAX		1000000
#define API_DAYS_MAX		(100 * 366)	/* span of one period */
#define API_PERIOD_DEFAULT	30	/* days, when no from/to */
#define API_TEXT_MAX		1024	/* bytes of a domain or reporter */
#define API_RAW_MAX		(64 << 20)	/* a download (quarantine, document) */

/* Parameters an endpoint takes. */
#define P_DOMAIN	0x001
#define P_REPORTER	0x002
#define P_PERIOD	0x004	/* from, to */
#define P_IP		0x008
#define P_PAGE		0x010	/* limit, offset */
#define P_SORT		0x020	/* sort, order */
#define P_ID		0x040
#define P_ALL		0x080
#define P_SERVICE	0x100	/* service, type */
#define P_POLICY	0x200	/* p, sp, np, pct, adkim, aspf, testing */
#define P_FILTER	(P_DOMAIN | P_REPORTER | P_PERIOD)

/* The checked parameters; NULL when absent.  vals[] are the SQL
 * parameters $1.. of every filtered query: domain, from, to, reporter. */

/* Sortable columns: a name from the client, an SQL expression from us. */
struct api_sort {
	const char	*name;
	const char	*sql;
};

void
api_error(struct httpd_reply *reply, unsigned status, const char *msg)
{
	buf_reset(&reply->body);
	reply->status = status;
	reply->type = "application/json; charset=utf-8";
	reply->disposition[0] = '\0';
	buf_adds(&reply->body, "{");
	json_key(&reply->body, "error", true);
	json_str(&reply->body, msg);
	buf_adds(&reply->body, "}\n");
}

/* YYYY-MM-DD, a real date; normalised into out. */
static int
api_parse_date(const char *s, char out[16])
{
	struct tm	 tm;
	const char	*end;
	time_t		 t;

	if (strlen(s) != 10)
		return -1;
	memset(&tm, 0, sizeof(tm));
	if ((end = strptime(s, "%Y-%m-%d", &tm)) == NULL || *end != '\0')
		return -1;
	tm.tm_hour = 12;
	if ((t = timegm(&tm)) == (time_t)-1 || tm.tm_year < 70 ||
	    tm.tm_year > 200)
		return -1;
	/* timegm normalises 02-30 to 03-02: compare back */
	strftime(out, 16, "%Y-%m-%d", &tm);
	return strcmp(out, s) == 0 ? 0 : -1;
}

static int64_t
api_day_number(const char *d)
{
	struct tm	tm;

	memset(&tm, 0, sizeof(tm));
	strptime(d, "%Y-%m-%d", &tm);
	tm.tm_hour = 12;
	return (int64_t)timegm(&tm) / 86400;
}

/* Text without control characters, at most API_TEXT_MAX bytes. */
static bool
api_text_ok(const char *s)
{
	const unsigned char	*p;

	if (strlen(s) > API_TEXT_MAX)
		return false;
	for (p = (const unsigned char *)s; *p != '\0'; p++)
		if (*p < 0x20 || *p == 0x7f)
			return false;
	return true;
}

/* One of the simulator's policy parameters, checked; -1 with msg. */
static int
api_policy_param(struct api_ctx *x, const char *k, const char *v,
    char *msg, size_t msglen)
{
	int64_t	n;

	if (strcmp(k, "pct") == 0) {
		if (parse_int64(v, 0, 100, &n) != 0) {
			snprintf(msg, msglen, "pct: expected 0..100");
			return -1;
		}
		x->pct = (int)n;
		return 0;
	}
	if (strcmp(k, "adkim") == 0 || strcmp(k, "aspf") == 0) {
		if (strcmp(v, "r") != 0 && strcmp(v, "s") != 0) {
			snprintf(msg, msglen, "%s: expected r or s", k);
			return -1;
		}
		*(k[1] == 'd' ? &x->adkim : &x->aspf) = v;
		return 0;
	}
	if (strcmp(k, "testing") == 0) {
		if (strcmp(v, "y") != 0 && strcmp(v, "n") != 0) {
			snprintf(msg, msglen, "testing: expected y or n");
			return -1;
		}
		x->testing = v;
		return 0;
	}
	if (strcmp(v, "none") != 0 && strcmp(v, "quarantine") != 0 &&
	    strcmp(v, "reject") != 0) {
		snprintf(msg, msglen, "%s: expected none, quarantine or reject",
		    k);
		return -1;
	}
	if (strcmp(k, "p") == 0)
		x->p = v;
	else if (strcmp(k, "sp") == 0)
		x->sp = v;
	else
		x->np = v;
	return 0;
}

/* Checks params against what the endpoint takes; 400 and -1 on error. */
static int
api_parse_params(struct api_ctx *x, unsigned allowed,
    const struct api_param *params, size_t n)
{
	static const struct {
		const char	*name;
		unsigned	 bit;
	} known[] = {
		{ "domain", P_DOMAIN }, { "reporter", P_REPORTER },
		{ "from", P_PERIOD }, { "to", P_PERIOD }, { "ip", P_IP },
		{ "limit", P_PAGE }, { "offset", P_PAGE }, { "sort", P_SORT },
		{ "order", P_SORT }, { "id", P_ID }, { "all", P_ALL },
		{ "service", P_SERVICE }, { "type", P_SERVICE },
		{ "p", P_POLICY }, { "sp", P_POLICY }, { "np", P_POLICY },
		{ "pct", P_POLICY }, { "adkim", P_POLICY },
		{ "aspf", P_POLICY }, { "testing", P_POLICY },
	};
	struct in6_addr	 a6;
	struct in_addr	 a4;
	const char	*k, *v;
	char		 msg[160], today[16];
	time_t		 now;
	struct tm	 tm;
	size_t		 i, j;
	bool		 seen[nitems(known)];

	memset(seen, 0, sizeof(seen));
	x->limit = API_LIMIT_DEFAULT;
	x->pct = -1;
	for (i = 0; i < n; i++) {
		k = params[i].key;
		v = params[i].value;
		for (j = 0; j < nitems(known); j++)
			if (strcmp(k, known[j].name) == 0)
				break;
		if (j == nitems(known) || !(allowed & known[j].bit)) {
			snprintf(msg, sizeof(msg), "unknown parameter: %.40s",
			    k);
			goto bad_msg;
		}
		if (seen[j]) {
			snprintf(msg, sizeof(msg), "repeated parameter: %s", k);
			goto bad_msg;
		}
		seen[j] = true;
		if (known[j].bit == P_SERVICE) {
			/* empty is a value here: the sources of no service */
			if (!api_text_ok(v)) {
				snprintf(msg, sizeof(msg), "%s: control "
				    "characters or longer than %d bytes", k,
				    API_TEXT_MAX);
				goto bad_msg;
			}
			if (*k == 's')
				x->service = v;
			else
				x->service_type = v;
			continue;
		}
		if (*v == '\0')
			continue;	/* empty: not set */
		if (known[j].bit == P_POLICY) {
			if (api_policy_param(x, k, v, msg, sizeof(msg)) != 0)
				goto bad_msg;
			continue;
		}
		if (strcmp(k, "domain") == 0 || strcmp(k, "reporter") == 0) {
			if (!api_text_ok(v)) {
				snprintf(msg, sizeof(msg), "%s: control "
				    "characters or longer than %d bytes", k,
				    API_TEXT_MAX);
				goto bad_msg;
			}
			if (*k == 'd')
				x->domain = v;
			else
				x->reporter = v;
		} else if (strcmp(k, "from") == 0 || strcmp(k, "to") == 0) {
			if (api_parse_date(v, *k == 'f' ? x->from : x->to)
			    != 0) {
				snprintf(msg, sizeof(msg), "%s: expected a date "
				    "YYYY-MM-DD", k);
				goto bad_msg;
			}
		} else if (strcmp(k, "ip") == 0) {
			if (inet_pton(AF_INET, v, &a4) != 1 &&
			    inet_pton(AF_INET6, v, &a6) != 1) {
				snprintf(msg, sizeof(msg), "ip: not an IPv4 or "
				    "IPv6 address");
				goto bad_msg;
			}
			x->ip = v;
		} else if (strcmp(k, "limit") == 0) {
			if (parse_int64(v, 1, API_LIMIT_MAX, &x->limit) != 0) {
				snprintf(msg, sizeof(msg), "limit: expected "
				    "1..%d", API_LIMIT_MAX);
				goto bad_msg;
			}
		} else if (strcmp(k, "offset") == 0) {
			if (parse_int64(v, 0, API_OFFSET_MAX, &x->offset)
			    != 0) {
				snprintf(msg, sizeof(msg), "offset: expected "
				    "0..%d", API_OFFSET_MAX);
				goto bad_msg;
			}
		} else if (strcmp(k, "id") == 0) {
			if (parse_int64(v, 1, INT64_MAX, &x->id) != 0) {
				snprintf(msg, sizeof(msg), "id: expected a "
				    "positive number");
				goto bad_msg;
			}
		} else if (strcmp(k, "sort") == 0) {
			x->sort = v;	/* checked by the endpoint */
		} else if (strcmp(k, "order") == 0) {
			if (strcmp(v, "asc") != 0 && strcmp(v, "desc") != 0) {
				snprintf(msg, sizeof(msg), "order: expected "
				    "asc or desc");
				goto bad_msg;
			}
			x->order = v;
		} else if (strcmp(k, "all") == 0) {
			if (strcmp(v, "0") != 0 && strcmp(v, "1") != 0) {
				snprintf(msg, sizeof(msg), "all: expected 0 or "
				    "1");
				goto bad_msg;
			}
			x->all = *v == '1';
		}
	}
	/* The period: default the last API_PERIOD_DEFAULT days (UTC). */
	now = time(NULL);
	gmtime_r(&now, &tm);
	strftime(today, sizeof(today), "%Y-%m-%d", &tm);
	if (x->to[0] == '\0')
		memcpy(x->to, today, sizeof(today));
	if (x->from[0] == '\0') {
		now = (time_t)(api_day_number(x->to) -
		    (API_PERIOD_DEFAULT - 1)) * 86400;
		gmtime_r(&now, &tm);
		strftime(x->from, sizeof(x->from), "%Y-%m-%d", &tm);
	}
	if (api_day_number(x->from) > api_day_number(x->to)) {
		snprintf(msg, sizeof(msg), "from: after to");
		goto bad_msg;
	}
	if (api_day_number(x->to) - api_day_number(x->from) > API_DAYS_MAX) {
		snprintf(msg, sizeof(msg), "period longer than %d days",
		    API_DAYS_MAX);
		goto bad_msg;
	}
	snprintf(x->limit_s, sizeof(x->limit_s), "%lld", (long long)x->limit);
	snprintf(x->offset_s, sizeof(x->offset_s), "%lld",
	    (long long)x->offset);
	snprintf(x->id_s, sizeof(x->id_s), "%lld", (long long)x->id);
	return 0;
bad_msg:
	api_error(x->reply, 400, msg);
	return -1;
}

/* The ORDER BY for x->sort/x->order from the endpoint's table; 400 when
 * the name is not in it.  The first entry is the default. */
static int
api_order_by(struct api_ctx *x, const struct api_sort *s, size_t n,
    char *out, size_t outlen)
{
	size_t	i = 0;
	char	msg[200];
	bool	asc;

	if (x->sort != NULL) {
		for (i = 0; i < n; i++)
			if (strcmp(x->sort, s[i].name) == 0)
				break;
		if (i == n) {
			snprintf(msg, sizeof(msg), "sort: unknown column");
			api_error(x->reply, 400, msg);
			return -1;
		}
	}
	/* numbers largest first, names in alphabetical order by default */
	if (x->order != NULL)
		asc = strcmp(x->order, "asc") == 0;
	else
		asc = strcmp(s[i].name, "ip") == 0;
	snprintf(out, outlen, "%s %s NULLS LAST", s[i].sql, asc ? "ASC" : "DESC");
	return 0;
}

/* Runs a query with params; on failure answers 503 (database down) or
 * 500 and returns NULL.  The server's message goes to the log only. */
static PGresult *
api_exec(struct api_ctx *x, const char *sql, int n, const char *const *vals,
    int format)
{
	PGresult	*res;
	char		 err[512];

	/* all text, so a parameter a query leaves unused is no error; $11,
	 * the user's domains, a text[] as it is: sent as text, its cast
	 * would parse it for each row (array_in is not immutable, so the
	 * planner cannot fold it) */
	static const Oid types[] = { 25, 25, 25, 25, 25, 25, 25, 25, 25, 25,
	    1009 };

	if ((size_t)n > nitems(types))
		fatalx("api_exec: %d parameters", n);
	res = PQexecParams(x->db->conn, sql, n, types, vals, NULL, NULL,
	    format);
	if (PQresultStatus(res) == PGRES_TUPLES_OK)
		return res;
	if (db_result_error(x->db, res, "api query", err, sizeof(err)) ==
	    DB_ETEMP) {
		log_warnx("%s", err);
		api_error(x->reply, 503, "database unavailable");
	} else {
		log_warnx("%s", err);
		api_error(x->reply, 500, "query failed");
	}
	PQclear(res);
	return NULL;
}

/*
 * One value of a result as JSON by its column type.  A text[] is sent
 * whole: its size was capped when the report was stored (max_rcpt,
 * max_strings ...), dashboard lists are cut in SQL beside a count, and the
 * reply buffer caps the rest.
 */
static int
api_value(struct buf *b, const PGresult *res, int row, int col)
{
	const char	*v;
	char		*copy, **el;
	size_t		 max;
	int		 i, n, rc = 0;

	if (PQgetisnull(res, row, col))
		return buf_adds(b, "null");
	v = PQgetvalue(res, row, col);
	switch (PQftype(res, col)) {
	case 20:	/* int8 */
	case 21:	/* int2 */
	case 23:	/* int4 */
		return json_int(b, strtoll(v, NULL, 10));
	case 16:	/* bool */
		return buf_adds(b, *v == 't' ? "true" : "false");
	case 1009:	/* text[] */
		/* every element but the last ends at a comma */
		for (max = 1; *v != '\0'; v++)
			max += *v == ',';
		v = PQgetvalue(res, row, col);
		if ((copy = strdup(v)) == NULL ||
		    (el = calloc(max, sizeof(*el))) == NULL) {
			free(copy);
			return -1;
		}
		/* malformed (never from PostgreSQL): an error, not a [] */
		if ((n = db_array_parse(copy, el, max)) == -1)
			rc = -1;
		rc |= buf_addc(b, '[');
		for (i = 0; i < n; i++) {
			if (i > 0)
				rc |= buf_addc(b, ',');
			rc |= json_str(b, el[i]);
		}
		rc |= buf_addc(b, ']');
		free(el);
		free(copy);
		return rc;
	default:
		return json_str(b, v);
	}
}

/* Appends "key":[{col: value, ...}, ...] (columns named by the query). */
static int
api_rows(struct buf *b, const char *key, bool first, const PGresult *res)
{
	int	row, col, rc;

	rc = json_key(b, key, first);
	rc |= buf_addc(b, '[');
	for (row = 0; row < PQntuples(res) && rc == 0; row++) {
		rc |= buf_adds(b, row > 0 ? ",{" : "{");
		for (col = 0; col < PQnfields(res); col++) {
			rc |= json_key(b, PQfname(res, col), col == 0);
			rc |= api_value(b, res, row, col);
		}
		rc |= buf_addc(b, '}');
	}
	rc |= buf_addc(b, ']');
	return rc;
}

/* Appends "key":{...} of a one-row result, or null. */
static int
api_row(struct buf *b, const char *key, bool first, const PGresult *res)
{
	int	col, rc;

	rc = json_key(b, key, first);
	if (PQntuples(res) == 0)
		return rc | buf_adds(b, "null");
	rc |= buf_addc(b, '{');
	for (col = 0; col < PQnfields(res); col++) {
		rc |= json_key(b, PQfname(res, col), col == 0);
		rc |= api_value(b, res, 0, col);
	}
	return rc | buf_addc(b, '}');
}

/* Opens the response object with the filter as applied. */
int
api_begin(struct api_ctx *x)
{
	struct buf	*b = &x->reply->body;
	int		 rc;

	rc = buf_adds(b, "{");
	json_key(b, "filter", true);
	rc |= buf_adds(b, "{");
	rc |= json_key(b, "domain", true);
	rc |= json_str(b, x->domain);
	rc |= json_key(b, "reporter", false);
	rc |= json_str(b, x->reporter);
	rc |= json_key(b, "from", false);
	rc |= json_str(b, x->from);
	rc |= json_key(b, "to", false);
	rc |= json_str(b, x->to);
	return rc | buf_adds(b, "}");
}

int
api_end(struct api_ctx *x, int rc)
{
	if (rc != 0 || buf_adds(&x->reply->body, "}\n") != 0) {
		api_error(x->reply, 500, "response too large");
		return -1;
	}
	return 0;
}

int
api_exists(struct api_ctx *x, const char *sql, int n,
    const char *const *vals)
{
	PGresult	*res;
	int		 rc;

	if ((res = api_exec(x, sql, n, vals, 0)) == NULL)
		return -1;
	rc = PQntuples(res) > 0;
	PQclear(res);
	return rc;
}

/* Runs one query and appends its rows under key; -1 when answered. */
int
api_add_query(struct api_ctx *x, const char *key, const char *sql, int n,
    const char *const *vals, bool one)
{
	PGresult	*res;
	int		 rc;

	if ((res = api_exec(x, sql, n, vals, 0)) == NULL)
		return -1;
	rc = one ? api_row(&x->reply->body, key, false, res) :
	    api_rows(&x->reply->body, key, false, res);
	PQclear(res);
	if (rc != 0) {
		api_error(x->reply, 500, "response too large");
		return -1;
	}
	return 0;
}

/* The per-IP rows of the filter (Q_IP_ROWS_*): a reporter's records, one
 * domain's or every domain's rollup. */
static const char *
api_ip_rows(const struct api_ctx *x)
{
	if (x->reporter != NULL)
		return Q_IP_ROWS_REPORTER;
	if (x->domain != NULL)
		return Q_IP_ROWS_DOMAIN;
	/* dash_ip_all is every domain's: a user's are summed from dash_ip */
	if (x->domains != NULL)
		return Q_IP_ROWS_USER;
	return Q_IP_ROWS_ALL;
}

/* The reporter-free rollup when no reporter is chosen: far fewer rows. */
#define SUMMARY_TABLE(x) \
	((x)->reporter != NULL ? Q_SUMMARY_REPORTER : Q_SUMMARY_DAY)

/* The user of the request as the pages show it: {"name", "senders",
 * "domains": their patterns, null for every domain}; null without a
 * users file. */
static int
api_user_json(struct buf *b, const struct httpd_user *u)
{
	size_t	i;
	int	rc;

	if (u == NULL)
		return buf_adds(b, "null");
	rc = buf_addc(b, '{');
	rc |= json_key(b, "name", true);
	rc |= json_str(b, u->name);
	rc |= json_key(b, "senders", false);
	rc |= buf_adds(b, u->senders ? "true" : "false");
	rc |= json_key(b, "domains", false);
	if (u->domains == NULL)
		rc |= buf_adds(b, "null");
	else {
		rc |= buf_addc(b, '[');
		for (i = 0; i < u->ndomains; i++) {
			if (i > 0)
				rc |= buf_addc(b, ',');
			rc |= json_str(b, u->domains[i]);
		}
		rc |= buf_addc(b, ']');
	}
	return rc | buf_addc(b, '}');
}

/* GET /api/meta: domains, reporters, the span of the data (aggregate,
 * failure and TLS reports), features, the user. */
static int
api_meta(struct api_ctx *x)
{
	const char	*vals[] = API_VALS(x);
	struct buf	*b = &x->reply->body;
	int		 rc;

	rc = buf_adds(b, "{");
	rc |= json_key(b, "version", true);
	rc |= json_str(b, PACKAGE_VERSION);
	/* what an approved-sender edit must carry (X-Dmarcd-CSRF) */
	rc |= json_key(b, "csrf", false);
	rc |= json_str(b, x->h->csrf);
	rc |= json_key(b, "user", false);
	rc |= api_user_json(b, x->user);
	if (rc != 0 ||
	    api_add_query(x, "domains", Q_META_DOMAINS, API_NV, vals,
	    false) != 0 ||
	    api_add_query(x, "reporters", Q_META_REPORTERS, API_NV, vals,
	    false) != 0 ||
	    api_add_query(x, "forensic_domains", Q_META_FORENSIC, API_NV, vals,
	    false) != 0 ||
	    api_add_query(x, "tlsrpt_domains", Q_META_TLSRPT, API_NV, vals,
	    false) != 0 ||
	    api_add_query(x, "features", Q_META_FEATURES, API_NV, vals,
	    true) != 0)
		return -1;
	return api_end(x, 0);
}

/* GET /api/overview: per domain totals and the daily series. */
static int
api_overview(struct api_ctx *x)
{
	const char	*vals[] = API_VALS(x);
	char		 sql[2048];

	snprintf(sql, sizeof(sql), Q_OVERVIEW_DOMAINS, SUMMARY_TABLE(x));
	if (api_begin(x) != 0 ||
	    api_add_query(x, "domains", sql, API_NV, vals, false) != 0)
		return -1;
	snprintf(sql, sizeof(sql), Q_OVERVIEW_DAYS, SUMMARY_TABLE(x));
	if (api_add_query(x, "days", sql, API_NV, vals, false) != 0)
		return -1;
	return api_end(x, 0);
}

/* The same for dash_auth and dash_reason. */
#define AUTH_TABLE(x) \
	((x)->reporter != NULL ? Q_AUTH_REPORTER : Q_AUTH_DAY)
#define REASON_TABLE(x) \
	((x)->reporter != NULL ? Q_REASON_REPORTER : Q_REASON_DAY)

/* GET /api/alignment: auth results over time, reasons, failing sources,
 * DKIM selectors. */
static int
api_alignment(struct api_ctx *x)
{
	const char	*vals[] = API_VALS(x);
	char		 sql[4096];

	snprintf(sql, sizeof(sql), Q_ALIGNMENT_DAYS, AUTH_TABLE(x));
	if (api_begin(x) != 0 ||
	    api_add_query(x, "days", sql, API_NV, vals, false) != 0)
		return -1;
	snprintf(sql, sizeof(sql), Q_ALIGNMENT_SERIES, SUMMARY_TABLE(x));
	if (api_add_query(x, "alignment", sql, API_NV, vals, false) != 0)
		return -1;
	snprintf(sql, sizeof(sql), Q_ALIGNMENT_REASONS, REASON_TABLE(x));
	if (api_add_query(x, "reasons", sql, API_NV, vals, false) != 0)
		return -1;
	snprintf(sql, sizeof(sql), Q_ALIGNMENT_FAILING, api_ip_rows(x),
	    api_ip_rows(x));
	if (api_add_query(x, "failing_sources", sql, API_NV, vals, false) != 0)
		return -1;
	snprintf(sql, sizeof(sql), Q_ALIGNMENT_SELECTORS, AUTH_TABLE(x));
	if (api_add_query(x, "selectors", sql, API_NV, vals, false) != 0)
		return -1;
	return api_end(x, 0);
}

/* GET /api/sources: every sending IP, paginated and sortable.  The page
 * is chosen on the sums alone; header_from and domains are gathered for
 * its IPs only. */
static int
api_sources(struct api_ctx *x)
{
	static const struct api_sort sorts[] = {
		{ "messages", "messages" }, { "pass", "pass" },
		{ "fail", "fail" }, { "ip", "source_ip" }, { "records", "records" },
		{ "service", "service" }, { "type", "service_type" },
		{ "ptr", "ptr" }, { "asn", "asn" }, { "country", "country" },
	};
	const char	*vals[] = API_VALS(x);
	char		 order[64], sql[4096];

	if (api_order_by(x, sorts, nitems(sorts), order, sizeof(order)) != 0)
		return -1;
	snprintf(sql, sizeof(sql), Q_SOURCES, api_ip_rows(x), order,
	    api_ip_rows(x), order);
	if (api_begin(x) != 0 ||
	    api_add_query(x, "sources", sql, API_NV, vals, false) != 0)
		return -1;
	return api_end(x, 0);
}

/* GET /api/services: the sources of the filter by service. */
static int
api_services(struct api_ctx *x)
{
	const char	*vals[] = API_VALS(x);
	char		 sql[2048];

	snprintf(sql, sizeof(sql), Q_SERVICES, api_ip_rows(x));
	if (api_begin(x) != 0 ||
	    api_add_query(x, "services", sql, API_NV, vals, false) != 0)
		return -1;
	return api_end(x, 0);
}

/* GET /api/source?ip=: one sending IP: its records, summed and listed
 * (record_source_ip). */
static int
api_source(struct api_ctx *x)
{
	const char	*vals[] = API_VALS(x);

	if (x->ip == NULL) {
		api_error(x->reply, 400, "ip: required");
		return -1;
	}
	if (api_begin(x) != 0 ||
	    api_add_query(x, "host", Q_SOURCE_HOST, API_NV, vals, true) != 0 ||
	    api_add_query(x, "summary", Q_SOURCE_SUMMARY, API_NV, vals,
	    false) != 0 ||
	    api_add_query(x, "records", Q_SOURCE_RECORDS, API_NV, vals,
	    false) != 0)
		return -1;
	return api_end(x, 0);
}

struct senders_out {
	struct buf	*b;
	bool		 first;
};

static int
api_senders_rule(void *ctx, const struct db_sender_rule *r, char *err,
    size_t errlen)
{
	struct senders_out	*o = ctx;
	struct buf		*b = o->b;
	int			 rc = 0;

	if (!o->first)
		rc |= buf_addc(b, ',');
	o->first = false;
	rc |= buf_addc(b, '{');
	rc |= json_key(b, "kind", true);
	rc |= json_str(b, r->kind);
	rc |= json_key(b, "value", false);
	rc |= json_str(b, r->value);
	rc |= json_key(b, "note", false);
	rc |= json_str(b, r->note);
	rc |= json_key(b, "added", false);
	rc |= json_str(b, r->added);
	rc |= buf_addc(b, '}');
	if (rc != 0) {
		snprintf(err, errlen, "response too large");
		return DB_EPERM;
	}
	return 0;
}

/* A db_senders_* failure as the reply: 503 when temporary. */
static int
api_db_error(struct api_ctx *x, int rc, const char *err)
{
	log_warnx("%s", err);
	if (rc == DB_ETEMP)
		api_error(x->reply, 503, "database unavailable");
	else
		api_error(x->reply, 500, "query failed");
	return -1;
}

/* GET /api/senders?domain=: the domain's approved-sender rules and the
 * suggested approvals of the period (as `dmarcd senders suggest`).
 * Read-only. */
static int
api_senders(struct api_ctx *x)
{
	struct db_sender_suggestion	*s = NULL;
	struct db_export_filter		 f;
	struct senders_out		 o;
	struct buf			*b = &x->reply->body;
	struct tm			 tm;
	time_t				 t;
	char				 domain[API_TEXT_MAX + 1], until[16];
	char				 err[512];
	size_t				 n = 0, i, j;
	int				 rc;

	if (x->domain == NULL) {
		api_error(x->reply, 400, "domain: required");
		return -1;
	}
	snprintf(domain, sizeof(domain), "%s", x->domain);
	str_domain_norm(domain);
	x->domain = domain;
	/* to is a day included: the reports beginning before the next */
	t = (time_t)(api_day_number(x->to) + 1) * 86400;
	gmtime_r(&t, &tm);
	strftime(until, sizeof(until), "%Y-%m-%d", &tm);
	memset(&f, 0, sizeof(f));
	f.domain = domain;
	f.since = x->from;
	f.until = until;
	if ((rc = db_senders_suggest(x->db, &f, DB_SUGGEST_MIN_MESSAGES,
	    DB_SUGGEST_MIN_PASS_PCT, &s, &n, err, sizeof(err))) != 0)
		return api_db_error(x, rc, err);
	rc = api_begin(x);
	rc |= json_key(b, "rules", false);
	rc |= buf_addc(b, '[');
	o.b = b;
	o.first = true;
	if (rc == 0 && (rc = db_senders_list(x->db, domain, api_senders_rule,
	    &o, err, sizeof(err))) != 0) {
		db_senders_suggestions_free(s, n);
		return api_db_error(x, rc, err);
	}
	rc |= buf_addc(b, ']');
	rc |= json_key(b, "suggested", false);
	rc |= buf_addc(b, '[');
	for (i = 0; i < n && rc == 0; i++) {
		if (i)
			rc |= buf_addc(b, ',');
		rc |= buf_addc(b, '{');
		rc |= json_key(b, "rule", true);
		rc |= json_str(b, s[i].rule);
		rc |= json_key(b, "service", false);
		rc |= json_str(b, s[i].service);
		rc |= json_key(b, "service_type", false);
		rc |= json_str(b, s[i].service_type);
		rc |= json_key(b, "sources", false);
		rc |= json_uint(b, s[i].sources);
		rc |= json_key(b, "messages", false);
		rc |= json_uint(b, s[i].messages);
		rc |= json_key(b, "dmarc_pass", false);
		rc |= json_uint(b, s[i].dmarc_pass);
		rc |= json_key(b, "ips", false);
		rc |= buf_addc(b, '[');
		for (j = 0; j < s[i].nips; j++) {
			if (j)
				rc |= buf_addc(b, ',');
			rc |= json_str(b, s[i].ips[j]);
		}
		rc |= buf_adds(b, "]}");
	}
	rc |= buf_addc(b, ']');
	db_senders_suggestions_free(s, n);
	return api_end(x, rc);
}

/* GET /api/reporters: who reports, how often, last seen. */
static int
api_reporters(struct api_ctx *x)
{
	const char	*vals[] = API_VALS(x);

	if (api_begin(x) != 0 ||
	    api_add_query(x, "reporters", Q_REPORTERS, API_NV, vals,
	    false) != 0)
		return -1;
	return api_end(x, 0);
}

/* GET /api/reports: the reports behind a figure (same day rule as the
 * rollups), newest first, paginated. */
static int
api_reports(struct api_ctx *x)
{
	const char	*vals[] = API_VALS(x);

	if (api_begin(x) != 0 ||
	    api_add_query(x, "reports", Q_REPORTS, API_NV, vals, false) != 0)
		return -1;
	return api_end(x, 0);
}

/* GET /api/report?domain=&id=: one report, its records (paginated). */
static int
api_report(struct api_ctx *x)
{
	const char	*vals[] = API_VALS(x);
	struct buf	*b = &x->reply->body;
	int		 rc;

	if (x->domain == NULL || x->id == 0) {
		api_error(x->reply, 400, "domain and id: required");
		return -1;
	}
	rc = buf_adds(b, "{");
	rc |= json_key(b, "id", true);
	rc |= buf_adds(b, x->id_s);
	if (rc != 0 ||
	    api_add_query(x, "document", Q_REPORT_DOCUMENT, API_NV, vals,
	    true) != 0 ||
	    api_add_query(x, "report", Q_REPORT, API_NV, vals, true) != 0 ||
	    api_add_query(x, "records", Q_REPORT_RECORDS, API_NV, vals,
	    false) != 0)
		return -1;
	return api_end(x, 0);
}

/* Answers with the bytes of a one-row, one-column binary result as a
 * download (attachment, never rendered; nosniff is on every response):
 * 404 with missing when there is no row, 413 with too_large when over
 * API_RAW_MAX.  Clears res; -1 when answered with an error. */
static int
api_download(struct api_ctx *x, PGresult *res, const char *type,
    const char *filename, const char *missing, const char *too_large)
{
	struct buf	*b = &x->reply->body;

	if (PQntuples(res) == 0) {
		PQclear(res);
		api_error(x->reply, 404, missing);
		return -1;
	}
	buf_free(b);
	buf_init(b, API_RAW_MAX);
	if (buf_add(b, PQgetvalue(res, 0, 0),
	    (size_t)PQgetlength(res, 0, 0)) != 0) {
		PQclear(res);
		buf_init(b, HTTPD_JSON_MAX);
		api_error(x->reply, 413, too_large);
		return -1;
	}
	PQclear(res);
	x->reply->type = type;
	snprintf(x->reply->disposition, sizeof(x->reply->disposition),
	    "attachment; filename=\"%s\"", filename);
	return 0;
}

/* GET /api/report/document?domain=&id=: the report's XML as it arrived
 * (report_document), a download: attacker-written XML is never rendered
 * by the browser (attachment, nosniff; the page shows it as text).
 * Stored gzipped and sent so when the client takes gzip. */
static int
api_report_document(struct api_ctx *x)
{
	const char	*vals[] = { x->domain, x->id_s };
	PGresult	*res;
	char		 name[48];

	if (x->domain == NULL || x->id == 0) {
		api_error(x->reply, 400, "domain and id: required");
		return -1;
	}
	if ((res = api_exec(x, Q_REPORT_GZ, 2, vals, 1)) == NULL)
		return -1;
	snprintf(name, sizeof(name), "report-%lld.xml", (long long)x->id);
	if (api_download(x, res, "application/xml", name,
	    "no stored document for this report",
	    "document too large to send") != 0)
		return -1;
	x->reply->gzipped = true;
	return 0;
}

/* GET /api/quarantine: what failed to parse and why (no bytes). */
static int
api_quarantine(struct api_ctx *x)
{
	const char	*vals[API_NV] = { x->all ? "t" : "f", x->limit_s,
			    x->offset_s };
	struct buf	*b = &x->reply->body;

	vals[API_NV - 1] = x->domains;
	if (buf_adds(b, "{") != 0 || json_key(b, "all", true) != 0 ||
	    buf_adds(b, x->all ? "true" : "false") != 0 ||
	    api_add_query(x, "quarantine", Q_QUARANTINE_LIST, API_NV, vals,
	    false) != 0)
		return -1;
	return api_end(x, 0);
}

/* GET /api/quarantine/raw?domain=&id=: the original bytes, as a
 * download (never rendered: octet-stream, attachment, nosniff). */
static int
api_quarantine_raw(struct api_ctx *x)
{
	const char	*vals[] = { x->domain != NULL ? x->domain : "",
			    x->id_s };
	PGresult	*res;
	char		 name[48];

	if (x->id == 0) {
		api_error(x->reply, 400, "id: required");
		return -1;
	}
	/* a message of no known domain is nobody's but an admin's */
	if (x->domain == NULL && x->domains != NULL) {
		api_error(x->reply, 404, "no such quarantined message");
		return -1;
	}
	if ((res = api_exec(x, Q_QUARANTINE_RAW, 2, vals, 1)) == NULL)
		return -1;
	snprintf(name, sizeof(name), "quarantine-%lld.eml", (long long)x->id);
	if (api_download(x, res, "application/octet-stream", name,
	    "no such quarantined message", "too large to download here; use"
	    " dmarcd quarantine show ID") != 0)
		return -1;
	x->reply->no_gzip = true;
	return 0;
}

/* GET /api/simulate: what a policy would do over the filter's period
 * (dmarcd simulate's figures, per domain; the reports whose period ends
 * on or after from and begins before the day after to). */
static int
api_simulate(struct api_ctx *x)
{
	struct httpd_sim_query	 q;
	struct buf		*b = &x->reply->body;
	char			 until[16], err[512];
	time_t			 t;
	struct tm		 tm;
	int			 rc;

	if (x->h->cfg.simulate == NULL) {
		api_error(x->reply, 404, "no simulator in this server");
		return -1;
	}
	t = (time_t)(api_day_number(x->to) + 1) * 86400;
	gmtime_r(&t, &tm);
	strftime(until, sizeof(until), "%Y-%m-%d", &tm);
	memset(&q, 0, sizeof(q));
	q.domain = x->domain;
	q.domains = x->domains;
	q.since = x->from;
	q.until = until;
	q.p = x->p;
	q.sp = x->sp;
	q.np = x->np;
	q.adkim = x->adkim;
	q.aspf = x->aspf;
	q.testing = x->testing;
	q.pct = x->pct;
	q.top = 20;
	rc = api_begin(x);
	rc |= json_key(b, "domains", false);
	if (rc != 0) {
		api_error(x->reply, 500, "response too large");
		return -1;
	}
	if ((rc = x->h->cfg.simulate(x->db, &q, b, err, sizeof(err))) != 0) {
		log_warnx("%s", err);
		api_error(x->reply, rc == DB_ETEMP ? 503 : 500,
		    rc == DB_ETEMP ? "database unavailable" :
		    "the simulation failed (the server's log says why)");
		return -1;
	}
	return api_end(x, 0);
}

/*
 * POST /api/senders?action=add|remove&domain=D&rule=KIND VALUE[&note=N]:
 * an edit of the approved senders, by a user of the users file with the
 * senders right, carrying the CSRF token.  The dashboard's connections
 * are read-only: the edit opens a connection of its own.
 */
static void
api_senders_edit(struct httpd *h, const struct httpd_user *user,
    const struct api_param *params, size_t n, struct httpd_reply *reply)
{
	struct db_sender_rule	 r;
	struct db		*db = NULL;
	const char		*action = NULL, *domain = NULL, *rule = NULL;
	const char		*note = NULL, *kind, **slot, *why;
	char			 value[SENDER_RULE_LEN_MAX + 1], dom[256];
	char			 err[512], msg[600];
	char			 text[SENDER_RULE_LEN_MAX + 16];
	struct buf		*b = &reply->body;
	size_t			 i;
	bool			 done = false;
	int			 rc;

	for (i = 0; i < n; i++) {
		if (strcmp(params[i].key, "action") == 0)
			slot = &action;
		else if (strcmp(params[i].key, "domain") == 0)
			slot = &domain;
		else if (strcmp(params[i].key, "rule") == 0)
			slot = &rule;
		else if (strcmp(params[i].key, "note") == 0)
			slot = &note;
		else {
			snprintf(msg, sizeof(msg), "unknown parameter: %.40s",
			    params[i].key);
			api_error(reply, 400, msg);
			return;
		}
		if (*slot != NULL) {
			snprintf(msg, sizeof(msg), "repeated parameter: %s",
			    params[i].key);
			api_error(reply, 400, msg);
			return;
		}
		*slot = params[i].value;
	}
	if (action == NULL || (strcmp(action, "add") != 0 &&
	    strcmp(action, "remove") != 0)) {
		api_error(reply, 400, "action: expected add or remove");
		return;
	}
	if (domain == NULL || *domain == '\0' || strlen(domain) >=
	    sizeof(dom) || !api_text_ok(domain)) {
		api_error(reply, 400, "domain: expected a domain");
		return;
	}
	/* as every domain is stored (the reports' and the CLI's) */
	snprintf(dom, sizeof(dom), "%s", domain);
	str_domain_norm(dom);
	if (!httpd_user_sees(user, dom)) {
		api_error(reply, 404, "no such domain");
		return;
	}
	if (rule == NULL || sender_rule_parse(rule, &kind, value,
	    sizeof(value), err, sizeof(err)) != 0) {
		snprintf(msg, sizeof(msg), "rule: %s", rule == NULL ?
		    "expected KIND VALUE" : err);
		api_error(reply, 400, msg);
		return;
	}
	/* an added service rule names a service of the catalogue, as
	 * `dmarcd senders add` requires, spelt as the catalogue does */
	if (*action == 'a' && strcmp(kind, "service") == 0 &&
	    h->cfg.service_name != NULL) {
		const char	*canon = h->cfg.service_name(h->cfg.service_arg,
				    value);

		if (canon == NULL) {
			api_error(reply, 400, "rule: service not in the service "
			    "catalogue (services_file adds services)");
			return;
		}
		snprintf(value, sizeof(value), "%s", canon);
	}
	if (note != NULL && (*note == '\0' || !api_text_ok(note)))
		note = NULL;
	memset(&r, 0, sizeof(r));
	r.domain = dom;
	r.kind = kind;
	r.value = value;
	r.note = note;
	if ((rc = db_open(&h->cfg.dbc, false, &db, err, sizeof(err))) != 0) {
		log_warnx("%s", err);
		api_error(reply, 503, "database unavailable");
		return;
	}
	if (*action == 'a')
		rc = db_senders_add(db, &r, SENDER_RULES_MAX, &done, err,
		    sizeof(err));
	else
		rc = db_senders_remove(db, &r, &done, err, sizeof(err));
	why = rc != 0 ? db_write_refused(db) : NULL;
	db_close(&db);
	if (rc == DB_EFULL) {
		snprintf(msg, sizeof(msg), "the domain has %d rules already",
		    SENDER_RULES_MAX);
		api_error(reply, 409, msg);
		return;
	}
	if (rc != 0) {
		log_warnx("%s", err);
		/* a dashboard on a hot standby, or with a read-only role */
		if (why != NULL && strcmp(why, "read-only") == 0)
			api_error(reply, 503, "the database is read-only here"
			    " (a hot standby): edit the approved senders on the"
			    " primary (dmarcd senders)");
		else if (why != NULL)
			api_error(reply, 503, "this server's database role may"
			    " not write: edit the approved senders as one that"
			    " may (dmarcd senders)");
		else
			api_error(reply, 503, "database unavailable");
		return;
	}
	snprintf(text, sizeof(text), "%s %s", kind, value);
	log_info("senders: %s %s %s", action, dom, text);
	rc = buf_adds(b, "{");
	rc |= json_key(b, "domain", true);
	rc |= json_str(b, dom);
	rc |= json_key(b, "rule", false);
	rc |= json_str(b, text);
	rc |= json_key(b, *action == 'a' ? "added" : "removed", false);
	rc |= buf_adds(b, done ? "true}\n" : "false}\n");
	if (rc != 0)
		api_error(reply, 500, "response too large");
}

void
api_handle_post(struct httpd *h, const char *path,
    const struct api_param *params, size_t nparams,
    const struct httpd_user *user, bool csrf_ok, struct httpd_reply *reply)
{
	reply->status = 200;
	reply->type = "application/json; charset=utf-8";
	if (strcmp(path, "senders") != 0) {
		api_error(reply, 404, "no such API endpoint");
		return;
	}
	if (user == NULL || !user->senders) {
		api_error(reply, 403, "edits need a user of the users file "
		    "with the senders right");
		return;
	}
	if (!csrf_ok) {
		api_error(reply, 403, "edits need the X-Dmarcd-CSRF token of "
		    "/api/meta, from this origin");
		return;
	}
	api_senders_edit(h, user, params, nparams, reply);
}

static const struct api_endpoint {
	const char	*path;
	unsigned	 params;
	int		(*fn)(struct api_ctx *);
	/* the endpoint decides whether a user sees its domain parameter */
	bool		 own_check;
} api_endpoints[] = {
	{ "meta", 0, api_meta, false },
	{ "overview", P_FILTER, api_overview, false },
	{ "alignment", P_FILTER, api_alignment, false },
	{ "sources", P_FILTER | P_PAGE | P_SORT | P_SERVICE, api_sources,
	    false },
	{ "services", P_FILTER, api_services, false },
	{ "simulate", P_DOMAIN | P_PERIOD | P_POLICY, api_simulate, false },
	{ "source", P_FILTER | P_IP | P_PAGE, api_source, false },
	{ "reporters", P_FILTER, api_reporters, false },
	{ "senders", P_DOMAIN | P_PERIOD, api_senders, false },
	{ "reports", P_FILTER | P_IP | P_PAGE, api_reports, false },
	{ "report", P_DOMAIN | P_ID | P_PAGE, api_report, false },
	{ "report/document", P_DOMAIN | P_ID, api_report_document, false },
	{ "quarantine", P_ALL | P_PAGE, api_quarantine, false },
	{ "quarantine/raw", P_DOMAIN | P_ID, api_quarantine_raw, false },
	/* api_reports.c */
	{ "forensic", P_FILTER | P_IP | P_PAGE, api_forensic, false },
	{ "forensic/item", P_DOMAIN | P_ID, api_forensic_item, false },
	{ "tlsrpt", P_FILTER | P_PAGE, api_tlsrpt, false },
	/* a TLS report is also its policy domains' */
	{ "tlsrpt/item", P_DOMAIN | P_ID, api_tlsrpt_item, true },
};

/* A user with a domain list: the domains of it the database holds into
 * x->domains, and the one asked for checked (404 when not theirs: as one
 * that does not exist).  0, or -1 when answered. */
static int
api_user_domains(struct api_ctx *x, const struct httpd_user *user,
    bool own_check)
{
	char		 domain[API_TEXT_MAX + 1], err[512];
	const char	*d = domain;
	int		 rc;

	if (user == NULL || user->domains == NULL)
		return 0;
	buf_init(&x->domains_buf, DB_USER_DOMAINS_MAX);
	if (x->domain != NULL && !own_check) {
		snprintf(domain, sizeof(domain), "%s", x->domain);
		str_domain_norm(domain);
		if (!httpd_user_sees(user, domain)) {
			api_error(x->reply, 404, "no such domain");
			return -1;
		}
		/* every query is of that one domain ($1): it is the list, no
		 * need to ask the database for the others */
		if (db_array_field(&x->domains_buf, &d, 0, 1, false) != 0 ||
		    buf_addc(&x->domains_buf, '\0') != 0) {
			api_error(x->reply, 500, "response too large");
			return -1;
		}
	} else if ((rc = db_user_domains(x->db,
	    (const char *const *)user->domains, user->ndomains,
	    &x->domains_buf, err, sizeof(err))) != 0)
		return api_db_error(x, rc, err);
	x->domains = x->domains_buf.data;
	return 0;
}

void
api_handle(struct httpd *h, const char *path, const struct api_param *params,
    size_t nparams, const struct httpd_user *user, struct httpd_reply *reply)
{
	const struct api_endpoint	*e = NULL;
	struct api_ctx			 x;
	char				 err[512];
	size_t				 i;

	reply->status = 200;
	reply->type = "application/json; charset=utf-8";
	for (i = 0; i < nitems(api_endpoints); i++)
		if (strcmp(path, api_endpoints[i].path) == 0)
			e = &api_endpoints[i];
	if (e == NULL) {
		api_error(reply, 404, "no such API endpoint");
		return;
	}
	memset(&x, 0, sizeof(x));
	x.h = h;
	x.reply = reply;
	x.user = user;
	if (api_parse_params(&x, e->params, params, nparams) != 0)
		return;
	if ((x.db = httpd_pool_get(&h->pool, err, sizeof(err))) == NULL) {
		log_warnx("%s", err);
		api_error(reply, 503, "database unavailable");
		return;
	}
	if (api_user_domains(&x, user, e->own_check) == 0)
		e->fn(&x);
	httpd_pool_put(&h->pool, x.db);
	buf_free(&x.domains_buf);
}
