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
	const char	*vals[] = API_VALS(x);

	if (api_begin(x) != 0 ||
	    api_add_query(x, "days", Q_FORENSIC_DAYS, API_NV, vals,
	    false) != 0 ||
	    api_add_query(x, "sources", Q_FORENSIC_SOURCES, API_NV, vals,
	    false) != 0 ||
	    api_add_query(x, "reports", Q_FORENSIC_REPORTS, API_NV, vals,
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
	const char	*vals[] = API_VALS(x);

	if (api_begin(x) != 0 ||
	    api_add_query(x, "days", Q_TLSRPT_DAYS, API_NV, vals, false) != 0 ||
	    api_add_query(x, "domains", Q_TLSRPT_DOMAINS, API_NV, vals,
	    false) != 0 ||
	    api_add_query(x, "failures", Q_TLSRPT_FAILURES, API_NV, vals,
	    false) != 0 ||
	    api_add_query(x, "reports", Q_TLSRPT_REPORTS, API_NV, vals,
	    false) != 0)
		return -1;
	return api_end(x, 0);
}

/* GET /api/tlsrpt/item?domain=&id=: a report, its policies and failure
 * details. */
int
api_tlsrpt_item(struct api_ctx *x)
{
	const char	*vals[API_NV] = { x->domain, x->id_s };
	int		 rc;

	vals[API_NV - 1] = x->domains;
	/* a user sees a report addressed to one of their domains, or with
	 * a policy of one */
	if (x->domains != NULL && x->domain != NULL) {
		rc = api_exists(x, Q_TLSRPT_ITEM_SEEN, API_NV, vals);
		if (rc == -1)
			return -1;
		if (rc == 0) {
			api_error(x->reply, 404, "no such domain");
			return -1;
		}
	}
	if (api_begin(x) != 0 ||
	    api_add_query(x, "report", Q_TLSRPT_ITEM, API_NV, vals,
	    true) != 0 ||
	    api_add_query(x, "policies", Q_TLSRPT_POLICIES, API_NV, vals,
	    false) != 0 ||
	    api_add_query(x, "failures", Q_TLSRPT_ITEM_FAILURES, API_NV, vals,
	    false) != 0)
		return -1;
	return api_end(x, 0);
}
