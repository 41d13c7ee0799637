/*
 * queries.h - the SQL the dashboard's API (httpd/api.c, httpd/api_reports.c)
 * and the summary (src/summary.c) run, in one place, each with its
 * parameters ($n) and result columns.  The API sends a result's column
 * names as its JSON keys, so those names are part of the API.
 *
 * What the figures mean is defined once, in the database: the day of a
 * report is dmarcd_report_day() (sql/010_schema.sql, which the report_day
 * index is built on), DMARC pass is dmarcd_pass() of the rollups'
 * dkim_aligned and spf_aligned or dmarcd_record_pass() of a record, and
 * dmarcd_aligned() decides those (sql/functions.sql).  The rollups and
 * their keys are in sql/010_schema.sql; a query here that changes the
 * expression an index is on must change the index too.
 *
 * String literals, not variables, so that the ones with a %s (a rollup
 * chosen by the filter) are checked as printf formats; the %s is always
 * one of the fragments here, never a value.  Values are parameters only.
 */
#ifndef DMARCD_QUERIES_H
#define DMARCD_QUERIES_H

#define Q_STR(x)	Q_STR2(x)
#define Q_STR2(x)	#x

/* --- httpd/api.c ---------------------------------------------------------
 * Every filtered query takes the same text parameters (api_exec): $1
 * domain, $2 from, $3 to (dates, inclusive), $4 reporter, NULL when not
 * chosen; $5 ip, $6 limit, $7 offset, $8 id where the endpoint has them;
 * $9, $10 below; $11 the domains the user may see (DB_DOMAINS_AND: a
 * text[], NULL for every domain), in every query that is not of one
 * domain the API has checked already ($1 given).
 */
#define Q_USER(col)	DB_DOMAINS_AND(col, 11)

/* A join of record c to its report r whose report days are from..to
 * (date expressions): the month of each (sql/017_partitions.sql), so that
 * only those months' partitions of record are read. */
#define Q_RECORD_MONTH(from, to) \
	" AND c.month = dmarcd_report_month(r.begin_time, r.end_time) AND" \
	" c.month BETWEEN date_trunc('month', (" from ")::timestamp)::date" \
	" AND (" to ")"

/* The filter of a rollup with a reporter column. */
#define Q_ROLLUP_WHERE \
	" ($1::text IS NULL OR domain = $1) AND day BETWEEN $2::date AND" \
	" $3::date AND ($4::text IS NULL OR reporter = $4)" Q_USER("domain")

/* The same for the rollups without a reporter (dash_day ...): read only
 * when none is chosen; $4 unused. */
#define Q_DAY_WHERE \
	" ($1::text IS NULL OR domain = $1) AND day BETWEEN $2::date AND" \
	" $3::date AND $4::text IS NULL" Q_USER("domain")

/* The rollups by alignment and disposition (dash_summary with a reporter,
 * else dash_day), by auth result (dash_auth, dash_auth_day) and by
 * override (dash_reason, dash_reason_day), filtered: "FROM %s". */
#define Q_SUMMARY_REPORTER	"dash_summary WHERE" Q_ROLLUP_WHERE
#define Q_SUMMARY_DAY		"dash_day WHERE" Q_DAY_WHERE
#define Q_AUTH_REPORTER		"dash_auth WHERE" Q_ROLLUP_WHERE
#define Q_AUTH_DAY		"dash_auth_day WHERE" Q_DAY_WHERE
#define Q_REASON_REPORTER	"dash_reason WHERE" Q_ROLLUP_WHERE
#define Q_REASON_DAY		"dash_reason_day WHERE" Q_DAY_WHERE

/* The per-IP rows of the filter, "FROM (%s) s": source_ip, messages,
 * pass, fail_quarantine, fail_reject, records, header_from[],
 * fail_header_from[], domains[].  With a reporter: its reports' records
 * (report_day, record's key); one domain: dash_ip; all domains:
 * dash_ip_all (its primary key INCLUDEs the sums). */
#define Q_IP_ROWS_REPORTER \
	"SELECT c.source_ip, c.count AS messages, CASE WHEN" \
	" dmarcd_record_pass(c.dkim, c.spf) THEN c.count ELSE 0" \
	" END AS pass, CASE WHEN dmarcd_record_pass(c.dkim, c.spf)" \
	" THEN 0 WHEN c.disposition =" \
	" 'quarantine' THEN c.count ELSE 0 END AS fail_quarantine," \
	" CASE WHEN dmarcd_record_pass(c.dkim, c.spf)" \
	" THEN 0 WHEN c.disposition = 'reject' THEN c.count" \
	" ELSE 0 END AS fail_reject, 1 AS records," \
	" ARRAY[coalesce(c.header_from, '')] AS header_from, CASE" \
	" WHEN dmarcd_record_pass(c.dkim, c.spf)" \
	" THEN '{}'::text[] ELSE ARRAY[coalesce(c.header_from," \
	" '')] END AS fail_header_from, ARRAY[r.domain] AS domains" \
	" FROM report r JOIN record c ON c.domain = r.domain AND" \
	" c.report = r.id" Q_RECORD_MONTH("$2::date", "$3::date") \
	" WHERE ($1::text IS NULL OR r.domain = $1)" \
	Q_USER("r.domain") " AND coalesce(r.org_name, '') = $4 AND" \
	" dmarcd_report_day(r.begin_time, r.end_time) BETWEEN" \
	" $2::date AND $3::date"
#define Q_IP_ROWS_DOMAIN \
	"SELECT source_ip, messages, pass, fail_quarantine," \
	" fail_reject, records, header_from, fail_header_from," \
	" ARRAY[domain] AS domains FROM dash_ip WHERE domain = $1" \
	" AND day BETWEEN $2::date AND $3::date"
/* A user's domains (none chosen, $11 not NULL): dash_ip. */
#define Q_IP_ROWS_USER \
	"SELECT source_ip, messages, pass, fail_quarantine," \
	" fail_reject, records, header_from, fail_header_from," \
	" ARRAY[domain] AS domains FROM dash_ip WHERE domain =" \
	" ANY ($11::text[]) AND day BETWEEN $2::date AND $3::date" \
	" AND $1::text IS NULL"
#define Q_IP_ROWS_ALL \
	"SELECT source_ip, messages, pass, fail_quarantine," \
	" fail_reject, records, header_from, fail_header_from, domains" \
	" FROM dash_ip_all WHERE day BETWEEN $2::date AND $3::date" \
	" AND $1::text IS NULL"

/* Every domain the database holds anything of (reports, failure and TLS
 * reports and their policy domains, quarantine, approved senders), from
 * which a user's patterns are resolved (httpd_user_domains): a loose
 * index scan of each table's primary key (domain first), one probe per
 * domain.  Rows: domain. */
#define Q_DOMAINS_OF(t) \
	" SELECT d FROM (WITH RECURSIVE w(d) AS (SELECT min(domain) FROM " t \
	" UNION ALL SELECT (SELECT min(domain) FROM " t " WHERE domain > w.d)" \
	" FROM w WHERE w.d IS NOT NULL) SELECT d FROM w) x WHERE d IS NOT NULL"
#define Q_KNOWN_DOMAINS \
	Q_DOMAINS_OF("report") " UNION" Q_DOMAINS_OF("forensic") " UNION" \
	Q_DOMAINS_OF("tlsrpt") " UNION" Q_DOMAINS_OF("tlsrpt_policy") \
	" UNION" Q_DOMAINS_OF("quarantine") " UNION" \
	Q_DOMAINS_OF("sender_rule")

/* GET /api/meta, $11.  domains: domain, first_day, last_day,
 * messages.  reporters: reporter, last_day.  features (one row):
 * forensic, tlsrpt (the tables exist), today, quarantined (open). */
#define Q_META_DOMAINS \
	"SELECT domain, min(day)::text AS" \
	" first_day, max(day)::text AS last_day, sum(messages)::bigint AS" \
	" messages FROM dash_day WHERE true" Q_USER("domain") \
	" GROUP BY domain ORDER BY domain" \
	" LIMIT 500"
#define Q_META_REPORTERS \
	"SELECT reporter, max(day)::text AS" \
	" last_day FROM dash_reporter WHERE true" Q_USER("domain") \
	" GROUP BY reporter ORDER BY reporter" \
	" LIMIT 500"
#define Q_META_FEATURES \
	"SELECT to_regclass('forensic') IS" \
	" NOT NULL AS forensic, to_regclass('tlsrpt') IS NOT NULL AS" \
	" tlsrpt, current_date::text AS today, (SELECT count(*) FROM" \
	" quarantine WHERE resolved IS NULL" Q_USER("domain") ") AS" \
	" quarantined"
/* forensic_domains, tlsrpt_domains: domain (a TLS report's policy
 * domain), first_day, last_day of its failure or TLS reports, by their
 * rollups' day: the empty state and "all time" of those pages, which
 * the aggregate reports' span does not give. */
#define Q_META_FORENSIC \
	"SELECT domain, min(day)::text AS" \
	" first_day, max(day)::text AS last_day FROM forensic_daily WHERE" \
	" true" Q_USER("domain") " GROUP BY domain ORDER BY domain LIMIT 500"
#define Q_META_TLSRPT \
	"SELECT domain, min(day)::text AS" \
	" first_day, max(day)::text AS last_day FROM tlsrpt_daily WHERE" \
	" true" Q_USER("domain") " GROUP BY domain ORDER BY domain LIMIT 500"

/* GET /api/overview, $1-$4; %s: Q_SUMMARY_*.  domains: domain,
 * messages, pass, spf_aligned, dkim_aligned (messages), records,
 * reports. */
#define Q_OVERVIEW_DOMAINS \
	"SELECT s.domain, s.messages, s.pass," \
	" s.spf_aligned, s.dkim_aligned, s.records," \
	" coalesce(r.reports, 0)::bigint AS reports FROM (SELECT domain," \
	" sum(messages)::bigint AS messages, coalesce(sum(messages) FILTER" \
	" (WHERE dmarcd_pass(dkim_aligned, spf_aligned)), 0)::bigint AS" \
	" pass," \
	" coalesce(sum(messages) FILTER (WHERE spf_aligned), 0)::bigint" \
	" AS spf_aligned, coalesce(sum(messages) FILTER (WHERE" \
	" dkim_aligned), 0)::bigint AS dkim_aligned, sum(records)::bigint" \
	" AS records FROM %s GROUP BY domain) s LEFT JOIN (SELECT domain," \
	" sum(reports) AS reports FROM dash_reporter WHERE" Q_ROLLUP_WHERE \
	" GROUP BY domain) r USING (domain) ORDER BY s.messages DESC," \
	" s.domain LIMIT 500"
/* days: day, pass, fail_none, fail_quarantine, fail_reject (messages;
 * fail_*: DMARC fail by disposition). */
#define Q_OVERVIEW_DAYS \
	"SELECT day::text AS day," \
	" coalesce(sum(messages) FILTER (WHERE dmarcd_pass(dkim_aligned," \
	" spf_aligned)), 0)::bigint AS pass, coalesce(sum(messages) FILTER" \
	" (WHERE NOT dmarcd_pass(dkim_aligned, spf_aligned) AND" \
	" disposition IN ('none', '')), 0)::bigint AS fail_none," \
	" coalesce(sum(messages) FILTER (WHERE NOT dmarcd_pass(" \
	"dkim_aligned, spf_aligned) AND disposition = 'quarantine')," \
	" 0)::bigint AS fail_quarantine, coalesce(sum(messages) FILTER" \
	" (WHERE NOT dmarcd_pass(dkim_aligned, spf_aligned) AND" \
	" disposition = 'reject'), 0)::bigint AS" \
	" fail_reject FROM %s GROUP BY day ORDER BY day LIMIT 40000"

/* GET /api/alignment, $1-$4.  days (%s: Q_AUTH_*): day, method ('dkim',
 * 'spf'), result, messages. */
#define Q_ALIGNMENT_DAYS \
	"SELECT day::text AS day, method, result," \
	" sum(messages)::bigint AS messages FROM %s GROUP BY 1, 2, 3" \
	" ORDER BY 1, 2, 3 LIMIT 50000"
/* alignment (%s: Q_SUMMARY_*): day, messages, spf_aligned,
 * dkim_aligned. */
#define Q_ALIGNMENT_SERIES \
	"SELECT day::text AS day," \
	" sum(messages)::bigint AS messages, coalesce(sum(messages) FILTER" \
	" (WHERE spf_aligned), 0)::bigint AS spf_aligned," \
	" coalesce(sum(messages) FILTER (WHERE dkim_aligned), 0)::bigint" \
	" AS dkim_aligned FROM %s GROUP BY day ORDER BY day LIMIT 40000"
/* reasons (%s: Q_REASON_*): reason ('' none), messages, fail (of them,
 * DMARC fail). */
#define Q_ALIGNMENT_REASONS \
	"SELECT reason, sum(messages)::bigint" \
	" AS messages, coalesce(sum(messages) FILTER (WHERE NOT" \
	" dmarc_pass), 0)::bigint AS fail FROM %s GROUP BY reason" \
	" ORDER BY 2 DESC, 1 LIMIT 100"
/* failing_sources (both %s: Q_IP_ROWS_*): ip, messages (failing),
 * quarantine, reject, header_from[] (of failing records, at most 10),
 * Q_HOST_COLUMNS (defined below).
 * The top IPs by failing messages first, then their header_from; not
 * MATERIALIZED: each pass reads only the columns it needs, the first none
 * but the sums of the primary key. */
#define Q_ALIGNMENT_FAILING \
	"WITH t AS (SELECT source_ip," \
	" sum(messages - pass)::bigint AS messages," \
	" sum(fail_quarantine)::bigint AS quarantine," \
	" sum(fail_reject)::bigint AS reject FROM (%s) s GROUP BY source_ip" \
	" HAVING sum(messages - pass) > 0" \
	" ORDER BY 2 DESC, host(source_ip) LIMIT 50), h AS (SELECT" \
	" s.source_ip, dmarcd_text_distinct(dmarcd_text_cat(" \
	"s.fail_header_from)) AS hf FROM (%s) s JOIN t USING (source_ip)" \
	" GROUP BY 1) SELECT host(t.source_ip) AS ip, t.messages," \
	" t.quarantine, t.reject, coalesce(h.hf[1:10], '{}') AS" \
	" header_from," Q_HOST_COLUMNS " FROM t LEFT JOIN h USING" \
	" (source_ip) LEFT JOIN source_host e ON e.ip = t.source_ip" \
	" ORDER BY 2 DESC, 1"
/* selectors (%s: Q_AUTH_*): domain, selector, messages, pass (of the
 * signatures, DKIM result pass: not DMARC). */
#define Q_ALIGNMENT_SELECTORS \
	"SELECT auth_domain AS domain," \
	" selector, sum(messages)::bigint AS messages," \
	" coalesce(sum(messages) FILTER (WHERE result = 'pass')," \
	" 0)::bigint AS pass FROM %s AND method = 'dkim' GROUP BY 1, 2" \
	" ORDER BY 3 DESC, 1, 2 LIMIT 200"

/* What is known of an IP (source_host, sql/011_source_host.sql), as the
 * columns ptr, ptr_verified, service, service_type, asn, as_org, country
 * of the alias e; LEFT JOINed: an IP not looked up yet has NULLs. */
#define Q_HOST_COLUMNS \
	" e.ptr, coalesce(e.ptr_verified, false) AS ptr_verified," \
	" e.service, e.service_type, e.asn, e.as_org, e.country"

/* GET /api/sources, $1-$4, $6 limit, $7 offset, $9 service, $10
 * service_type (NULL: any; '' : none found); %s, %s, %s, %s: Q_IP_ROWS_*,
 * the ORDER BY, Q_IP_ROWS_* again, the ORDER BY.  sources: ip, messages,
 * pass, fail, records, header_from[] (at most 10), n_header_from,
 * domains[] (at most 10), Q_HOST_COLUMNS, total (IPs before the page).
 * The page is chosen on the sums and source_host alone (its primary key
 * per IP); header_from and domains are gathered for its IPs only. */
#define Q_SOURCES \
	"WITH g AS (SELECT source_ip," \
	" sum(messages)::bigint AS messages, sum(pass)::bigint AS pass," \
	" sum(messages - pass)::bigint AS fail, sum(records)::bigint AS" \
	" records FROM (%s) s GROUP BY source_ip), t AS (SELECT g.*," \
	Q_HOST_COLUMNS ", count(*) OVER () AS total FROM g LEFT JOIN" \
	" source_host e ON e.ip = g.source_ip WHERE ($9::text IS NULL OR" \
	" coalesce(e.service, '') = $9) AND ($10::text IS NULL OR" \
	" coalesce(e.service_type, '') = $10) ORDER BY %s, source_ip" \
	" LIMIT $6::int OFFSET $7::bigint), h AS (SELECT s.source_ip," \
	" dmarcd_text_distinct(dmarcd_text_cat(s.header_from)) AS hf," \
	" dmarcd_text_distinct(dmarcd_text_cat(s.domains)) AS dm" \
	" FROM (%s) s JOIN t USING (source_ip) GROUP BY 1)" \
	" SELECT host(source_ip) AS ip, messages, pass, fail, records," \
	" coalesce(h.hf[1:10], '{}') AS header_from," \
	" coalesce(cardinality(h.hf), 0)::bigint AS n_header_from," \
	" coalesce(h.dm[1:10], '{}') AS domains, ptr, ptr_verified," \
	" service, service_type, asn, as_org, country, total FROM t" \
	" LEFT JOIN h USING (source_ip) ORDER BY %s, source_ip"

/* GET /api/services, $1-$4 (%s: Q_IP_ROWS_*): the sources grouped by
 * service: service, service_type ('' when none was found), ips,
 * messages, pass, fail; most messages first. */
#define Q_SERVICES \
	"WITH g AS (SELECT source_ip, sum(messages)::bigint AS messages," \
	" sum(pass)::bigint AS pass FROM (%s) s GROUP BY source_ip)" \
	" SELECT coalesce(e.service, '') AS service," \
	" coalesce(e.service_type, '') AS service_type, count(*)::bigint" \
	" AS ips, sum(g.messages)::bigint AS messages, sum(g.pass)::bigint" \
	" AS pass, sum(g.messages - g.pass)::bigint AS fail FROM g LEFT" \
	" JOIN source_host e ON e.ip = g.source_ip GROUP BY 1, 2" \
	" ORDER BY 4 DESC, 1 LIMIT 1000"

/* GET /api/source: host (one row, $5): ip, state, ptr, ptr_verified,
 * base_domain, service, service_type, asn, as_org, country, looked_up,
 * expires (epoch). */
#define Q_SOURCE_HOST \
	"SELECT host(ip) AS ip, state, ptr, ptr_verified, base_domain," \
	" service, service_type, asn, as_org, country," \
	" extract(epoch FROM looked_up)::bigint AS looked_up," \
	" extract(epoch FROM expires)::bigint AS expires FROM source_host" \
	" WHERE ip = $5::inet AND ($11::text[] IS NULL OR EXISTS (SELECT 1" \
	" FROM record WHERE source_ip = $5::inet AND domain = ANY" \
	" ($11::text[])))"

/* GET /api/source, $1-$5 (record_source_ip).  summary: domain,
 * header_from, dkim_aligned, spf_aligned, disposition, messages,
 * records. */
#define Q_SOURCE_SUMMARY \
	"SELECT c.domain," \
	" coalesce(c.header_from, '') AS header_from," \
	" dmarcd_aligned(c.dkim) AS dkim_aligned," \
	" dmarcd_aligned(c.spf) AS spf_aligned," \
	" coalesce(c.disposition, '') AS disposition," \
	" sum(c.count)::bigint AS messages, count(*)::bigint AS records" \
	" FROM record c JOIN report r ON r.domain = c.domain AND r.id =" \
	" c.report" Q_RECORD_MONTH("$2::date", "$3::date") \
	" WHERE c.source_ip = $5::inet AND ($1::text IS NULL OR" \
	" c.domain = $1)" Q_USER("c.domain") " AND" \
	" dmarcd_report_day(r.begin_time, r.end_time)" \
	" BETWEEN $2::date AND $3::date AND ($4::text IS NULL OR" \
	" coalesce(r.org_name, '') = $4) GROUP BY 1, 2, 3, 4, 5" \
	" ORDER BY 6 DESC, 1, 2 LIMIT 500"
/* records, also $6, $7: domain, report, org_name, report_id, day,
 * ordinal, count, disposition, dkim, spf, header_from, envelope_from,
 * dkim_domain[], dkim_selector[], dkim_result[], spf_domain[],
 * spf_result[], reason_type[], total. */
#define Q_SOURCE_RECORDS \
	"SELECT r.domain, r.id AS report," \
	" r.org_name, r.report_id, dmarcd_report_day(r.begin_time," \
	" r.end_time)::text AS day, c.ordinal, c.count, c.disposition," \
	" c.dkim, c.spf, c.header_from, c.envelope_from, c.dkim_domain," \
	" c.dkim_selector, c.dkim_result, c.spf_domain, c.spf_result," \
	" c.reason_type, count(*) OVER () AS total FROM record c JOIN" \
	" report r ON r.domain = c.domain AND r.id = c.report" \
	Q_RECORD_MONTH("$2::date", "$3::date") \
	" WHERE c.source_ip = $5::inet AND ($1::text IS NULL OR" \
	" c.domain = $1)" \
	Q_USER("c.domain") " AND dmarcd_report_day(r.begin_time," \
	" r.end_time) BETWEEN" \
	" $2::date AND $3::date AND ($4::text IS NULL OR" \
	" coalesce(r.org_name, '') = $4) ORDER BY r.end_time DESC, r.id" \
	" DESC, c.ordinal LIMIT $6::int OFFSET $7::bigint"

/* GET /api/reporters, $1-$4.  reporters: reporter, reports, messages,
 * records, days, domains, first_day, last_day, last_received (epoch). */
#define Q_REPORTERS \
	"SELECT reporter," \
	" sum(reports)::bigint AS reports, sum(messages)::bigint AS" \
	" messages, sum(records)::bigint AS records, count(DISTINCT day)" \
	" AS days, count(DISTINCT domain) AS domains, min(day)::text AS" \
	" first_day, max(day)::text AS last_day," \
	" extract(epoch FROM max(last_received))::bigint AS last_received" \
	" FROM dash_reporter WHERE" Q_ROLLUP_WHERE " GROUP BY reporter" \
	" ORDER BY 2 DESC, 1 LIMIT 500"

/* The columns of a report in /api/reports and /api/report: domain, id,
 * org_name, report_id, begin_time, end_time (epoch), day, records,
 * messages, p, n_errors. */
#define Q_REPORT_COLUMNS \
	" r.domain, r.id, r.org_name, r.report_id," \
	" extract(epoch FROM r.begin_time)::bigint AS begin_time," \
	" extract(epoch FROM r.end_time)::bigint AS end_time," \
	" dmarcd_report_day(r.begin_time, r.end_time)::text AS day," \
	" r.n_records AS records, r.messages, r.p," \
	" cardinality(r.errors) AS n_errors"

/* GET /api/reports, $1-$7 (report_day; the ip through record_source_ip):
 * reports: Q_REPORT_COLUMNS, total; newest day first. */
#define Q_REPORTS \
	"SELECT" Q_REPORT_COLUMNS "," \
	" count(*) OVER () AS total FROM report r WHERE ($1::text IS NULL" \
	" OR r.domain = $1)" Q_USER("r.domain") " AND" \
	" dmarcd_report_day(r.begin_time," \
	" r.end_time) BETWEEN $2::date AND $3::date AND ($4::text IS NULL" \
	" OR coalesce(r.org_name, '') = $4) AND ($5::inet IS NULL OR" \
	" (r.domain, r.id) IN (SELECT domain, report FROM record WHERE" \
	" source_ip = $5::inet AND month BETWEEN date_trunc('month'," \
	" $2::date::timestamp)::date AND $3::date)) ORDER BY 7 DESC," \
	" r.id DESC LIMIT $6::int OFFSET $7::bigint"

/* GET /api/report: $1 domain, $8 id.  document (one row or none): size,
 * kept. */
#define Q_REPORT_DOCUMENT \
	"SELECT size, gz IS NOT NULL AS" \
	" kept FROM report_document WHERE domain = $1 AND report =" \
	" $8::bigint"
/* report (one row or none): Q_REPORT_COLUMNS and every other column of
 * report (sha256 in hex, received as epoch); records_pruned: retention
 * dropped its records (and document), rollup_retention kept the header. */
#define Q_REPORT \
	"SELECT" Q_REPORT_COLUMNS "," \
	" r.org_email, r.extra_contact_info, r.errors, r.generator," \
	" r.version, r.adkim, r.aspf, r.sp, r.np, r.pct, r.fo, r.testing," \
	" r.discovery_method, r.dmarcbis, r.source, r.item," \
	" r.message_id, encode(r.sha256, 'hex') AS sha256," \
	" extract(epoch FROM r.received)::bigint AS received," \
	" r.n_records > 0 AND NOT EXISTS (SELECT FROM record c WHERE" \
	" c.domain = r.domain AND c.report = r.id AND c.month =" \
	" dmarcd_report_month(r.begin_time, r.end_time)) AS records_pruned" \
	" FROM report r WHERE r.domain = $1 AND r.id = $8::bigint"
/* records, also $6 limit, $7 offset: ordinal, ip and every column of
 * record, in report order, and Q_HOST_COLUMNS of its IP. */
#define Q_REPORT_RECORDS \
	"SELECT ordinal, host(source_ip) AS ip," \
	" count, disposition, dkim, spf, reason_type, reason_comment," \
	" header_from, envelope_from, envelope_to, dkim_domain," \
	" dkim_selector, dkim_result, dkim_human_result, spf_domain," \
	" spf_scope, spf_result, spf_human_result," Q_HOST_COLUMNS \
	" FROM record LEFT JOIN source_host e ON e.ip = source_ip WHERE" \
	" domain = $1 AND report = $8::bigint AND month = (SELECT" \
	" dmarcd_report_month(begin_time, end_time) FROM report WHERE" \
	" domain = $1 AND id = $8::bigint) AND $6::int > 0 AND" \
	" $7::bigint >= 0 ORDER BY ordinal LIMIT $6::int OFFSET" \
	" $7::bigint"

/* GET /api/report/document: $1 domain, $2 id; binary result: gz. */
#define Q_REPORT_GZ \
	"SELECT gz FROM report_document WHERE domain =" \
	" $1 AND report = $2::bigint AND gz IS NOT NULL"

/* GET /api/quarantine: $1 all ('t': resolved ones too), $2 limit,
 * $3 offset, $11 the user's domains (DB_DOMAINS_AND).  quarantine:
 * domain, id, sha256 (hex), size, reason, source, first_seen, last_seen
 * (epoch), times_seen, resolved (epoch or null), total. */
#define Q_QUARANTINE_LIST \
	"SELECT domain, id," \
	" encode(sha256, 'hex') AS sha256, size, reason, source," \
	" extract(epoch FROM first_seen)::bigint AS first_seen," \
	" extract(epoch FROM last_seen)::bigint AS last_seen, times_seen," \
	" extract(epoch FROM resolved)::bigint AS resolved," \
	" count(*) OVER () AS total FROM quarantine WHERE ($1::boolean OR" \
	" resolved IS NULL)" Q_USER("domain") \
	" ORDER BY last_seen DESC, id DESC LIMIT $2::int" \
	" OFFSET $3::bigint"

/* GET /api/quarantine/raw: $1 domain, $2 id; binary result: bytes. */
#define Q_QUARANTINE_RAW \
	"SELECT bytes FROM quarantine WHERE domain =" \
	" $1 AND id = $2::bigint"

/* --- httpd/api_reports.c ------------------------------------------------
 * Failure and TLS reports: $1 domain, $2 from, $3 to, $4 reporter, $11
 * the user's domains as in api.c; the day of a failure report is
 * dmarcd_forensic_day(), of a TLS report dmarcd_report_day() of its
 * period, as their rollups'. */

#define Q_FORENSIC_DAY \
	"dmarcd_forensic_day(arrival, report_date, received)"

/* GET /api/forensic, $1-$4.  days: day, reports.  sources: source_ip
 * ('' none), reports. */
#define Q_FORENSIC_DAYS \
	"SELECT day::text, sum(reports)::bigint" \
	" AS reports FROM forensic_daily WHERE" Q_ROLLUP_WHERE \
	" GROUP BY day ORDER BY day"
#define Q_FORENSIC_SOURCES \
	"SELECT source_ip," \
	" sum(reports)::bigint AS reports FROM forensic_daily WHERE" \
	Q_ROLLUP_WHERE " GROUP BY source_ip ORDER BY 2 DESC, 1 LIMIT 50"
/* reports, also $5 ip, $6 limit, $7 offset: domain, id, reporter,
 * arrival (epoch), source_ip, feedback_type, auth_failure[],
 * original_mail_from, delivery_result, report_subject, total. */
#define Q_FORENSIC_REPORTS \
	"SELECT domain, id, reporter," \
	" extract(epoch FROM coalesce(arrival, report_date, received))" \
	"::bigint AS arrival, host(source_ip) AS source_ip, feedback_type," \
	" auth_failure, original_mail_from, delivery_result, report_subject," \
	" count(*) OVER () AS total FROM forensic WHERE" \
	" ($1::text IS NULL OR domain = $1)" Q_USER("domain") " AND " \
	Q_FORENSIC_DAY \
	" BETWEEN $2::date AND $3::date AND ($4::text IS NULL OR" \
	" coalesce(reporter, '') = $4) AND ($5::text IS NULL OR" \
	" source_ip = $5::inet) ORDER BY 4 DESC, id DESC" \
	" LIMIT $6::int OFFSET $7::bigint"

/* GET /api/forensic/item: $1 domain, $2 id.  report (one row or none):
 * every column of forensic (times as epoch). */
#define Q_FORENSIC_ITEM \
	"SELECT domain, id, format, reporter," \
	" report_message_id, report_subject," \
	" extract(epoch FROM report_date)::bigint AS report_date," \
	" feedback_type, user_agent, version, original_mail_from," \
	" original_rcpt_to, original_rcpt_to_total," \
	" extract(epoch FROM arrival)::bigint AS arrival, arrival_text," \
	" host(source_ip) AS source_ip, reported_domain," \
	" authentication_results, auth_failure, dkim_domain, dkim_identity," \
	" dkim_selector, delivery_result, identity_alignment, reported_uri," \
	" original_envelope_id, reporting_mta, incidents, headers," \
	" headers_truncated, body, body_truncated, redacted, source, item," \
	" extract(epoch FROM received)::bigint AS received FROM forensic" \
	" WHERE domain = $1 AND id = $2::bigint"

/* GET /api/tlsrpt, $1-$4.  days: day, domain (the policy's), successful,
 * failed (sessions).  domains: domain, policies, successful, failed. */
#define Q_TLSRPT_DAYS \
	"SELECT day::text, domain," \
	" sum(successful)::bigint AS successful, sum(failed)::bigint AS" \
	" failed FROM tlsrpt_daily WHERE" Q_ROLLUP_WHERE \
	" GROUP BY day, domain ORDER BY day, domain"
#define Q_TLSRPT_DOMAINS \
	"SELECT domain, sum(policies)::bigint" \
	" AS policies, sum(successful)::bigint AS successful," \
	" sum(failed)::bigint AS failed FROM tlsrpt_daily WHERE" \
	Q_ROLLUP_WHERE " GROUP BY domain ORDER BY domain LIMIT 500"
/* failures: domain, result_type, receiving_mx_hostname, sending_mta_ip,
 * sessions. */
#define Q_TLSRPT_FAILURES \
	"SELECT f.domain, f.result_type," \
	" f.receiving_mx_hostname, f.sending_mta_ip," \
	" sum(coalesce(f.failed_session_count, 0))::bigint AS sessions" \
	" FROM tlsrpt t JOIN tlsrpt_policy p ON p.report_domain = t.domain" \
	" AND p.report = t.id JOIN tlsrpt_failure f ON f.domain = p.domain" \
	" AND f.report = p.report AND f.policy = p.ordinal WHERE" \
	" ($1::text IS NULL OR p.domain = $1)" Q_USER("p.domain") " AND" \
	" dmarcd_report_day(t.begin_time, t.end_time) BETWEEN $2::date AND" \
	" $3::date AND ($4::text IS NULL OR t.organization_name = $4)" \
	" GROUP BY 1, 2, 3, 4 ORDER BY 5 DESC, 1, 2, 3, 4 LIMIT 200"
/* reports, $6 limit, $7 offset: domain (the one asked for, else
 * Q_TLSRPT_VISIBLE's v.d, else its own), id, organization_name,
 * report_id, begin, end (epoch), n_policies, successful, failed, total;
 * a report is a domain's when it is addressed to it or any of its
 * policies is (Q_TLSRPT_SEEN). */
#define Q_TLSRPT_SEEN(d) \
	" (t.domain = " d " OR EXISTS (SELECT 1 FROM tlsrpt_policy p WHERE" \
	" p.report_domain = t.domain AND p.report = t.id AND p.domain = " d \
	"))"
/* A TLS report t's n_policies, successful and failed: its own, or for a
 * user ($11) those of the policies of their domains only (a report can
 * hold policies of several domains); with Q_TLSRPT_VISIBLE after FROM.
 * v.d: the first of those policies' domains, the report's name for that
 * user (t.domain, its first policy's, may be another's). */
#define Q_TLSRPT_TOTALS \
	" coalesce(v.n, t.n_policies) AS n_policies, coalesce(v.s," \
	" t.successful) AS successful, coalesce(v.f, t.failed) AS failed"
#define Q_TLSRPT_VISIBLE \
	" LEFT JOIN LATERAL (SELECT count(*)::int AS n," \
	" coalesce(sum(p.successful), 0)::bigint AS s," \
	" coalesce(sum(p.failed), 0)::bigint AS f, (array_agg(p.domain" \
	" ORDER BY p.ordinal))[1] AS d FROM tlsrpt_policy p" \
	" WHERE $11::text[] IS NOT NULL AND p.report_domain = t.domain AND" \
	" p.report = t.id AND p.domain = ANY ($11::text[])) v ON $11::text[]" \
	" IS NOT NULL"
#define Q_TLSRPT_REPORTS \
	"SELECT coalesce($1, v.d, t.domain) AS domain, t.id," \
	" t.organization_name, t.report_id," \
	" extract(epoch FROM t.begin_time)::bigint AS begin," \
	" extract(epoch FROM t.end_time)::bigint AS end," Q_TLSRPT_TOTALS \
	", count(*) OVER () AS total FROM tlsrpt t" Q_TLSRPT_VISIBLE \
	" WHERE ($1::text IS NULL OR" Q_TLSRPT_SEEN("$1") ") AND" \
	" ($11::text[] IS NULL OR" Q_TLSRPT_SEEN("ANY ($11::text[])") ")" \
	" AND dmarcd_report_day(t.begin_time, t.end_time) BETWEEN" \
	" $2::date AND $3::date AND ($4::text IS NULL OR" \
	" t.organization_name = $4) ORDER BY t.begin_time DESC, t.id DESC" \
	" LIMIT $6::int OFFSET $7::bigint"

/* GET /api/tlsrpt/item: report t is $2 (an identity) and $1 its domain
 * or one of its policies' (the name Q_TLSRPT_REPORTS gives a user). */
#define Q_TLSRPT_KEY \
	" t.id = $2::bigint AND t.domain IN ($1, (SELECT k.report_domain" \
	" FROM tlsrpt_policy k WHERE k.domain = $1 AND k.report =" \
	" $2::bigint LIMIT 1))"
/* whether the user ($11) may see report $2 as $1: one row or none. */
#define Q_TLSRPT_ITEM_SEEN \
	"SELECT 1 FROM tlsrpt t WHERE" Q_TLSRPT_KEY \
	" AND ($11::text[] IS NULL OR $1 = ANY ($11::text[]))"
/* GET /api/tlsrpt/item: $1 domain, $2 id.  report (one row or none):
 * domain, id, organization_name, contact_info, report_id,
 * start_datetime, end_datetime, n_policies, successful, failed
 * (Q_TLSRPT_TOTALS), source, item, received (epoch). */
#define Q_TLSRPT_ITEM \
	"SELECT CASE WHEN $11::text[] IS NULL THEN t.domain ELSE $1 END AS" \
	" domain, t.id, t.organization_name," \
	" t.contact_info, t.report_id, t.start_datetime, t.end_datetime," \
	Q_TLSRPT_TOTALS ", t.source, t.item," \
	" extract(epoch FROM t.received)::bigint AS received FROM tlsrpt t" \
	Q_TLSRPT_VISIBLE " WHERE" Q_TLSRPT_KEY
/* policies: ordinal, domain, policy_type, policy_string[], mx_host[],
 * successful, failed; a user's ($11) of their domains only. */
#define Q_TLSRPT_POLICIES \
	"SELECT p.ordinal, p.domain, p.policy_type, p.policy_string," \
	" p.mx_host, p.successful, p.failed FROM tlsrpt t JOIN" \
	" tlsrpt_policy p ON p.report_domain = t.domain AND p.report = t.id" \
	" WHERE" Q_TLSRPT_KEY Q_USER("p.domain") " ORDER BY p.ordinal"
/* failures: policy, ordinal and every column of tlsrpt_failure; a
 * user's of their domains' policies only. */
#define Q_TLSRPT_ITEM_FAILURES \
	"SELECT f.policy, f.ordinal," \
	" f.domain, f.result_type, f.sending_mta_ip," \
	" f.receiving_mx_hostname, f.receiving_mx_helo, f.receiving_ip," \
	" f.failed_session_count, f.additional_information," \
	" f.failure_reason_code FROM tlsrpt t JOIN tlsrpt_policy p ON" \
	" p.report_domain = t.domain AND p.report = t.id JOIN" \
	" tlsrpt_failure f ON f.domain = p.domain AND f.report = p.report" \
	" AND f.policy = p.ordinal WHERE" Q_TLSRPT_KEY Q_USER("p.domain") \
	" ORDER BY f.policy, f.ordinal LIMIT 10000"

/* --- src/summary.c -------------------------------------------------------
 * Dates are UTC days (the session runs in UTC), periods half-open:
 * since <= day < until.  Totals and the sources seen before come from the
 * rollups (dash_day, dash_ip); the period's sources from daily, a view
 * over record bounded by domain and day (report_day); the reasons of the
 * top failing sources read record, bounded by the period, the sources
 * listed and SUMMARY_REASON_RECORDS. */

/* A report's day, as the rollups' (report r). */
#define Q_SUMMARY_REPORT_DAY \
	"dmarcd_report_day(r.begin_time, r.end_time)"

/* $1 prev_since, $2 since, $3 until, $4 domain or NULL, $5 the domains
 * of summary --user (DB_DOMAINS_AND) or NULL.  Per domain and
 * period (current: true): domain, current, messages, pass, dkim, spf
 * (messages aligned), days with data. */
#define Q_SUMMARY_TOTALS \
	"SELECT domain, day >= $2::date," \
	" sum(messages)," \
	" coalesce(sum(messages) FILTER (WHERE dmarcd_pass(dkim_aligned," \
	" spf_aligned)), 0)," \
	" coalesce(sum(messages) FILTER (WHERE dkim_aligned), 0)," \
	" coalesce(sum(messages) FILTER (WHERE spf_aligned), 0)," \
	" count(DISTINCT day)" \
	" FROM dash_day WHERE day >= $1::date AND day < $3::date" \
	" AND ($4::text IS NULL OR domain = $4)" DB_DOMAINS_AND("domain", 5) \
	" GROUP BY 1, 2 ORDER BY 1, 2"

/* $1 domain, $2 window since, $3 until.  One row: messages, pass, dkim,
 * spf, days, the domain's first day before until (epoch or null). */
#define Q_SUMMARY_WINDOW \
	"SELECT coalesce(sum(messages), 0)," \
	" coalesce(sum(messages) FILTER (WHERE dmarcd_pass(dkim_aligned," \
	" spf_aligned)), 0)," \
	" coalesce(sum(messages) FILTER (WHERE dkim_aligned), 0)," \
	" coalesce(sum(messages) FILTER (WHERE spf_aligned), 0)," \
	" count(DISTINCT day)," \
	" (SELECT extract(epoch FROM min(day)::timestamp)::bigint FROM dash_day" \
	"  WHERE domain = $1 AND day < $3::date)" \
	" FROM dash_day WHERE domain = $1 AND day >= $2::date AND day < $3::date"

/* Sources that pass for some messages and fail for others in the window:
 * authorised senders with a gap.  $1 domain, $2 window since, $3 until.
 * One row: how many, the lowest address (or null). */
#define Q_SUMMARY_LEGIT_FAILING \
	"SELECT count(*), min(ip) FROM (SELECT host(source_ip) AS ip" \
	" FROM daily WHERE domain = $1 AND day >= $2::date AND day < $3::date" \
	" GROUP BY source_ip HAVING bool_or(dmarcd_pass(dkim_aligned," \
	" spf_aligned)) AND bool_or(NOT dmarcd_pass(dkim_aligned," \
	" spf_aligned))) s"

/* The latest report of the period or before it (by its day, as
 * everywhere).  $1 domain, $2 until.  One row or none: p, sp, pct,
 * reporter ('(unnamed)' when none), end_time (epoch). */
#define Q_SUMMARY_POLICY \
	"SELECT p, sp, pct, coalesce(nullif(org_name, ''), '(unnamed)')," \
	" extract(epoch FROM end_time)::bigint FROM report r" \
	" WHERE domain = $1 AND begin_time < $2::date" \
	" AND " Q_SUMMARY_REPORT_DAY " < $2::date" \
	" ORDER BY begin_time DESC, id DESC LIMIT 1"

/* $1 domain, $2 since, $3 until.  The top failing (source, header_from):
 * address, header_from, messages, how many failing pairs before the
 * LIMIT. */
#define Q_SUMMARY_FAILING \
	"SELECT host(source_ip), header_from, sum(messages), count(*) OVER ()" \
	" FROM daily WHERE domain = $1 AND day >= $2::date AND day < $3::date" \
	" AND NOT dmarcd_pass(dkim_aligned, spf_aligned)" \
	" GROUP BY source_ip, header_from" \
	" ORDER BY 3 DESC, source_ip, header_from LIMIT " \
	Q_STR(SUMMARY_TOP)

/* Why the top failing sources failed: auth results and overrides of their
 * failing records in the period.  $1 domain, $2 since, $3 until, $4 the
 * sources' addresses (inet[]).  Rows: address, header_from, the sorted
 * distinct tokens dkim=R spf=R override=R. */
#define Q_SUMMARY_REASONS \
	"WITH f AS (SELECT c.source_ip, coalesce(c.header_from, '') AS hf," \
	" c.reason_type, c.dkim_result, c.spf_result" \
	" FROM report r JOIN record c ON c.domain = r.domain AND c.report = r.id" \
	Q_RECORD_MONTH("$2::date", "$3::date - 1") \
	" WHERE r.domain = $1 AND r.begin_time < $3::date" \
	" AND r.end_time >= $2::date" \
	" AND " Q_SUMMARY_REPORT_DAY " >= $2::date AND " \
	Q_SUMMARY_REPORT_DAY " < $3::date" \
	" AND c.source_ip = ANY ($4::inet[])" \
	" AND NOT dmarcd_record_pass(c.dkim, c.spf)" \
	" LIMIT " Q_STR(SUMMARY_REASON_RECORDS) ")" \
	" SELECT host(f.source_ip), f.hf," \
	" string_agg(DISTINCT t.tok, ' ' ORDER BY t.tok)" \
	" FROM f CROSS JOIN LATERAL (" \
	"  SELECT 'dkim=' || lower(x) FROM unnest(CASE WHEN" \
	"   cardinality(f.dkim_result) = 0 THEN '{none}' ELSE f.dkim_result END) x" \
	"  UNION ALL SELECT 'spf=' || lower(x) FROM unnest(CASE WHEN" \
	"   cardinality(f.spf_result) = 0 THEN '{none}' ELSE f.spf_result END) x" \
	"  UNION ALL SELECT 'override=' || lower(x) FROM unnest(f.reason_type) x" \
	" ) t(tok) GROUP BY 1, 2"

/* Sources of the period never seen for the domain before it.  $1 domain,
 * $2 since, $3 until.  Rows: address, a header_from, messages, pass, how
 * many new sources before the LIMIT. */
#define Q_SUMMARY_NEW \
	"SELECT host(source_ip), min(nullif(header_from, '')), sum(messages)," \
	" coalesce(sum(messages) FILTER (WHERE dmarcd_pass(dkim_aligned," \
	" spf_aligned)), 0)," \
	" count(*) OVER ()" \
	" FROM daily d WHERE domain = $1 AND day >= $2::date AND day < $3::date" \
	" AND source_ip NOT IN (SELECT source_ip FROM dash_ip" \
	"  WHERE domain = $1 AND day < $2::date)" \
	" GROUP BY source_ip ORDER BY 3 DESC, source_ip LIMIT " \
	Q_STR(SUMMARY_TOP)

/* What the enricher knows of the listed sources (source_host).  $1 the
 * addresses (inet[]).  Rows: address, service, ptr, ptr_verified. */
#define Q_SUMMARY_HOSTS \
	"SELECT host(ip), service, ptr, ptr_verified FROM source_host" \
	" WHERE ip = ANY ($1::inet[])"

/* Reporters of the period and of the one before.  $1 domain, $2 since,
 * $3 until, $4 prev_since.  Rows: reporter ('(unnamed)' when none),
 * reports of the period, reports of all reporters in the period. */
#define Q_SUMMARY_REPORTERS \
	"SELECT name, cur, sum(cur) OVER () FROM (" \
	" SELECT coalesce(nullif(org_name, ''), '(unnamed)') AS name," \
	" count(*) FILTER (WHERE day >= $2::date) AS cur," \
	" count(*) FILTER (WHERE day < $2::date) AS prev FROM (" \
	"  SELECT org_name, " Q_SUMMARY_REPORT_DAY " AS day FROM report r" \
	"  WHERE domain = $1 AND begin_time < $3::date" \
	"  AND end_time >= $4::date) x" \
	" WHERE day >= $4::date AND day < $3::date GROUP BY 1) y" \
	" ORDER BY cur DESC, name LIMIT " Q_STR(SUMMARY_MAX_REPORTERS)

/* Quarantined messages of the period by domain ('' unknown); $1 since,
 * $2 until, $3 the user's domains or NULL.  Rows: domain, count. */
#define Q_SUMMARY_QUARANTINE \
	"SELECT domain, count(*) FROM quarantine" \
	" WHERE first_seen >= $1::date AND first_seen < $2::date" \
	DB_DOMAINS_AND("domain", 3) \
	" GROUP BY 1 ORDER BY 1"

/* $1 the user's domains or NULL.  One row: open quarantine rows, the
 * last report's arrival (epoch), whether the forensic and tlsrpt tables
 * exist. */
#define Q_SUMMARY_GLOBAL \
	"SELECT (SELECT count(*) FROM quarantine WHERE resolved IS NULL" \
	DB_DOMAINS_AND("domain", 1) ")," \
	" (SELECT extract(epoch FROM max(received))::bigint FROM report" \
	" WHERE true" DB_DOMAINS_AND("domain", 1) ")," \
	" to_regclass('forensic') IS NOT NULL," \
	" to_regclass('tlsrpt') IS NOT NULL"

/* Failure or TLS reports of the period, by the day of their rollups, so
 * that the summary and the dashboard count the same reports.  $1 since,
 * $2 until, $3 domain or NULL, $4 the user's domains or NULL.  %s: table,
 * day expression twice (Q_FORENSIC_DAY; Q_TLSRPT_REPORT_DAY).  One row:
 * count. */
#define Q_TLSRPT_REPORT_DAY	"dmarcd_report_day(begin_time, end_time)"
#define Q_SUMMARY_REPORT_COUNT \
	"SELECT count(*) FROM %s WHERE %s >= $1::date AND %s < $2::date" \
	" AND ($3::text IS NULL OR domain = $3)" DB_DOMAINS_AND("domain", 4)

#endif
