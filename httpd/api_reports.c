/*
 * api_reports.c - the dashboard's failure report and TLS report endpoints:
 * GET /api/forensic, /api/forensic/item, /api/tlsrpt, /api/tlsrpt/item.
 * Parameters are parsed and checked by api.c; every value reaches SQL as a
 * parameter and the reply through lib's JSON encoder.
 */
#include "config.h"

#include <string.h>

#include "httpd.h"
#include "queries.h"

/* GET /api/forensic: reports per day, per source IP, and one page of
 * reports (newest first), for domain, period, reporter and ip. */
int
api_forensic(struct api_ctx *x)
{
	const char	*vals[] = { x->domain, x->from, x->to, x->reporter,
			    x->ip, x->limit_s, x->offset_s };

	if (api_begin(x) != 0 ||
	    api_add_query(x, "days", Q_FORENSIC_DAYS, 4, vals, false) != 0 ||
	    api_add_query(x, "sources", Q_FORENSIC_SOURCES, 4, vals,
	    false) != 0 ||
	    api_add_query(x, "reports", Q_FORENSIC_REPORTS, 7, vals,
	    false) != 0)
		return -1;
	return api_end(x, 0);
}

/* GET /api/forensic/item?domain=&id=: one report, headers as text. */
int
api_forensic_item(struct api_ctx *x)
{
	const char	*vals[] = { x->domain, x->id_s };

	if (api_begin(x) != 0 ||
	    api_add_query(x, "report", Q_FORENSIC_ITEM, 2, vals, true) != 0)
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
	    api_add_query(x, "days", Q_TLSRPT_DAYS, 4, vals, false) != 0 ||
	    api_add_query(x, "domains", Q_TLSRPT_DOMAINS, 4, vals,
	    false) != 0 ||
	    api_add_query(x, "failures", Q_TLSRPT_FAILURES, 4, vals,
	    false) != 0 ||
	    api_add_query(x, "reports", Q_TLSRPT_REPORTS, 6, vals,
	    false) != 0)
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
	    api_add_query(x, "report", Q_TLSRPT_ITEM, 2, vals, true) != 0 ||
	    api_add_query(x, "policies", Q_TLSRPT_POLICIES, 2, vals,
	    false) != 0 ||
	    api_add_query(x, "failures", Q_TLSRPT_ITEM_FAILURES, 2, vals,
	    false) != 0)
		return -1;
	return api_end(x, 0);
}
