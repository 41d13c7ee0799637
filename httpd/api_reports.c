/*
 * api_reports.c - the dashboard's failure report and TLS report endpoints:
 * GET /api/forensic, /api/forensic/item, /api/tlsrpt, /api/tlsrpt/item.
 * Parameters are parsed and checked by api.c; every value reaches SQL as a
 * parameter and the reply through lib's JSON encoder.
 */
#include "config.h"

#include <string.h>

#include "httpd.h"

/* The rollup filter: $1 domain, $2 from, $3 to, $4 reporter. */
#define REPORTS_WHERE \
	" ($1::text IS NULL OR domain = $1) AND day BETWEEN $2::date AND" \
	" $3::date AND ($4::text IS NULL OR reporter = $4)"

#define FORENSIC_DAY \
	"dmarcd_forensic_day(arrival, report_date, received)"

/* GET /api/forensic: reports per day, per source IP, and one page of
 * reports (newest first), for domain, period, reporter and ip. */
int
api_forensic(struct api_ctx *x)
{
	const char	*vals[] = { x->domain, x->from, x->to, x->reporter,
			    x->ip, x->limit_s, x->offset_s };

	if (api_begin(x) != 0 ||
	    api_add_query(x, "days", "SELECT day::text, sum(reports)::bigint"
	    " AS reports FROM forensic_daily WHERE" REPORTS_WHERE
	    " GROUP BY day ORDER BY day", 4, vals, false) != 0 ||
	    api_add_query(x, "sources", "SELECT source_ip,"
	    " sum(reports)::bigint AS reports FROM forensic_daily WHERE"
	    REPORTS_WHERE " GROUP BY source_ip ORDER BY 2 DESC, 1 LIMIT 50",
	    4, vals, false) != 0 ||
	    api_add_query(x, "reports", "SELECT domain, id, reporter,"
	    " extract(epoch FROM coalesce(arrival, report_date, received))"
	    "::bigint AS arrival, host(source_ip) AS source_ip, feedback_type,"
	    " auth_failure, original_mail_from, delivery_result, report_subject,"
	    " count(*) OVER () AS total FROM forensic WHERE"
	    " ($1::text IS NULL OR domain = $1) AND " FORENSIC_DAY
	    " BETWEEN $2::date AND $3::date AND ($4::text IS NULL OR"
	    " coalesce(reporter, '') = $4) AND ($5::text IS NULL OR"
	    " source_ip = $5::inet) ORDER BY 4 DESC, id DESC"
	    " LIMIT $6::int OFFSET $7::bigint", 7, vals, false) != 0)
		return -1;
	return api_end(x, 0);
}

/* GET /api/forensic/item?domain=&id=: one report, headers as text. */
int
api_forensic_item(struct api_ctx *x)
{
	const char	*vals[] = { x->domain, x->id_s };

	if (api_begin(x) != 0 ||
	    api_add_query(x, "report", "SELECT domain, id, format, reporter,"
	    " report_message_id, report_subject,"
	    " extract(epoch FROM report_date)::bigint AS report_date,"
	    " feedback_type, user_agent, version, original_mail_from,"
	    " original_rcpt_to, original_rcpt_to_total,"
	    " extract(epoch FROM arrival)::bigint AS arrival, arrival_text,"
	    " host(source_ip) AS source_ip, reported_domain,"
	    " authentication_results, auth_failure, dkim_domain, dkim_identity,"
	    " dkim_selector, delivery_result, identity_alignment, reported_uri,"
	    " original_envelope_id, reporting_mta, incidents, headers,"
	    " headers_truncated, body, body_truncated, redacted, source, item,"
	    " extract(epoch FROM received)::bigint AS received FROM forensic"
	    " WHERE domain = $1 AND id = $2::bigint", 2, vals, true) != 0)
		return -1;
	return api_end(x, 0);
}

/* GET /api/tlsrpt: sessions per day and policy domain, totals per policy
 * domain, failure result types, and one page of reports. */
int
api_tlsrpt(struct api_ctx *x)
{
	const char	*vals[] = { x->domain, x->from, x->to, x->reporter,
			    x->limit_s, x->offset_s };

	if (api_begin(x) != 0 ||
	    api_add_query(x, "days", "SELECT day::text, domain,"
	    " sum(successful)::bigint AS successful, sum(failed)::bigint AS"
	    " failed FROM tlsrpt_daily WHERE" REPORTS_WHERE
	    " GROUP BY day, domain ORDER BY day, domain", 4, vals,
	    false) != 0 ||
	    api_add_query(x, "domains", "SELECT domain, sum(policies)::bigint"
	    " AS policies, sum(successful)::bigint AS successful,"
	    " sum(failed)::bigint AS failed FROM tlsrpt_daily WHERE"
	    REPORTS_WHERE " GROUP BY domain ORDER BY domain LIMIT 500", 4,
	    vals, false) != 0 ||
	    api_add_query(x, "failures", "SELECT f.domain, f.result_type,"
	    " f.receiving_mx_hostname, f.sending_mta_ip,"
	    " sum(coalesce(f.failed_session_count, 0))::bigint AS sessions"
	    " FROM tlsrpt t JOIN tlsrpt_policy p ON p.report_domain = t.domain"
	    " AND p.report = t.id JOIN tlsrpt_failure f ON f.domain = p.domain"
	    " AND f.report = p.report AND f.policy = p.ordinal WHERE"
	    " ($1::text IS NULL OR p.domain = $1) AND"
	    " dmarcd_report_day(t.begin_time, t.end_time) BETWEEN $2::date AND"
	    " $3::date AND ($4::text IS NULL OR t.organization_name = $4)"
	    " GROUP BY 1, 2, 3, 4 ORDER BY 5 DESC, 1, 2, 3, 4 LIMIT 200", 4,
	    vals, false) != 0 ||
	    api_add_query(x, "reports", "SELECT t.domain, t.id,"
	    " t.organization_name, t.report_id,"
	    " extract(epoch FROM t.begin_time)::bigint AS begin,"
	    " extract(epoch FROM t.end_time)::bigint AS end, t.n_policies,"
	    " t.successful, t.failed, count(*) OVER () AS total FROM tlsrpt t"
	    " WHERE ($1::text IS NULL OR t.domain = $1 OR EXISTS (SELECT 1"
	    " FROM tlsrpt_policy p WHERE p.report_domain = t.domain AND"
	    " p.report = t.id AND p.domain = $1)) AND"
	    " dmarcd_report_day(t.begin_time, t.end_time) BETWEEN $2::date AND"
	    " $3::date AND ($4::text IS NULL OR t.organization_name = $4)"
	    " ORDER BY t.begin_time DESC, t.id DESC LIMIT $5::int"
	    " OFFSET $6::bigint", 6, vals, false) != 0)
		return -1;
	return api_end(x, 0);
}

/* GET /api/tlsrpt/item?domain=&id=: a report, its policies and failure
 * details. */
int
api_tlsrpt_item(struct api_ctx *x)
{
	const char	*vals[] = { x->domain, x->id_s };

	if (api_begin(x) != 0 ||
	    api_add_query(x, "report", "SELECT domain, id, organization_name,"
	    " contact_info, report_id, start_datetime, end_datetime,"
	    " n_policies, successful, failed, source, item,"
	    " extract(epoch FROM received)::bigint AS received FROM tlsrpt"
	    " WHERE domain = $1 AND id = $2::bigint", 2, vals, true) != 0 ||
	    api_add_query(x, "policies", "SELECT ordinal, domain, policy_type,"
	    " policy_string, mx_host, successful, failed FROM tlsrpt_policy"
	    " WHERE report_domain = $1 AND report = $2::bigint ORDER BY"
	    " ordinal", 2, vals, false) != 0 ||
	    api_add_query(x, "failures", "SELECT f.policy, f.ordinal,"
	    " f.domain, f.result_type, f.sending_mta_ip,"
	    " f.receiving_mx_hostname, f.receiving_mx_helo, f.receiving_ip,"
	    " f.failed_session_count, f.additional_information,"
	    " f.failure_reason_code FROM tlsrpt_policy p JOIN tlsrpt_failure f"
	    " ON f.domain = p.domain AND f.report = p.report AND"
	    " f.policy = p.ordinal WHERE p.report_domain = $1 AND"
	    " p.report = $2::bigint ORDER BY f.policy, f.ordinal LIMIT 10000",
	    2, vals, false) != 0)
		return -1;
	return api_end(x, 0);
}
