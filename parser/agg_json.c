/* agg_json.c - aggregate reports as JSON lines (the `parse` format). */
#include "config.h"

#include "agg_json.h"

static int
kv_str(struct buf *b, const char *k, const char *v, bool first)
{
	return json_key(b, k, first) == -1 || json_str(b, v) == -1 ? -1 : 0;
}

int
agg_json_begin(struct buf *b, const char *source, const struct agg_report *r)
{
	size_t	i;
	int	rc = 0;

	rc |= buf_adds(b, "{\"type\":\"aggregate\"");
	rc |= kv_str(b, "source", source, false);
	rc |= kv_str(b, "org_name", r->org_name, false);
	rc |= kv_str(b, "org_email", r->org_email, false);
	rc |= kv_str(b, "extra_contact_info", r->extra_contact_info, false);
	rc |= kv_str(b, "report_id", r->report_id, false);
	rc |= json_key(b, "begin", false);
	rc |= json_int(b, r->begin);
	rc |= json_key(b, "end", false);
	rc |= json_int(b, r->end);
	rc |= json_key(b, "errors", false);
	rc |= buf_addc(b, '[');
	for (i = 0; i < r->n_errors; i++) {
		if (i)
			rc |= buf_addc(b, ',');
		rc |= json_str(b, r->errors[i]);
	}
	rc |= buf_addc(b, ']');
	rc |= kv_str(b, "generator", r->generator, false);
	rc |= kv_str(b, "version", r->version, false);
	rc |= json_key(b, "policy", false);
	rc |= buf_addc(b, '{');
	rc |= kv_str(b, "domain", r->domain, true);
	rc |= kv_str(b, "adkim", r->adkim, false);
	rc |= kv_str(b, "aspf", r->aspf, false);
	rc |= kv_str(b, "p", r->p, false);
	rc |= kv_str(b, "sp", r->sp, false);
	rc |= kv_str(b, "np", r->np, false);
	rc |= json_key(b, "pct", false);
	if (r->has_pct)
		rc |= json_int(b, r->pct);
	else
		rc |= buf_adds(b, "null");
	rc |= kv_str(b, "fo", r->fo, false);
	rc |= kv_str(b, "testing", r->testing, false);
	rc |= kv_str(b, "discovery_method", r->discovery_method, false);
	rc |= buf_adds(b, "},\"records\":[");
	return rc ? -1 : 0;
}

int
agg_json_record(struct buf *b, const struct agg_record *rec, bool first)
{
	size_t	i;
	int	rc = 0;

	if (!first)
		rc |= buf_addc(b, ',');
	rc |= buf_addc(b, '{');
	rc |= kv_str(b, "source_ip", rec->source_ip, true);
	rc |= json_key(b, "count", false);
	rc |= json_uint(b, rec->count);
	rc |= kv_str(b, "disposition", rec->disposition, false);
	rc |= kv_str(b, "dkim", rec->dkim, false);
	rc |= kv_str(b, "spf", rec->spf, false);
	rc |= json_key(b, "reasons", false);
	rc |= buf_addc(b, '[');
	for (i = 0; i < rec->n_reasons; i++) {
		rc |= buf_adds(b, i ? ",{" : "{");
		rc |= kv_str(b, "type", rec->reasons[i].type, true);
		rc |= kv_str(b, "comment", rec->reasons[i].comment, false);
		rc |= buf_addc(b, '}');
	}
	rc |= buf_addc(b, ']');
	rc |= kv_str(b, "header_from", rec->header_from, false);
	rc |= kv_str(b, "envelope_from", rec->envelope_from, false);
	rc |= kv_str(b, "envelope_to", rec->envelope_to, false);
	rc |= json_key(b, "auth_dkim", false);
	rc |= buf_addc(b, '[');
	for (i = 0; i < rec->n_dkim; i++) {
		rc |= buf_adds(b, i ? ",{" : "{");
		rc |= kv_str(b, "domain", rec->auth_dkim[i].domain, true);
		rc |= kv_str(b, "selector", rec->auth_dkim[i].selector, false);
		rc |= kv_str(b, "result", rec->auth_dkim[i].result, false);
		rc |= kv_str(b, "human_result", rec->auth_dkim[i].human_result,
		    false);
		rc |= buf_addc(b, '}');
	}
	rc |= buf_adds(b, "],\"auth_spf\":[");
	for (i = 0; i < rec->n_spf; i++) {
		rc |= buf_adds(b, i ? ",{" : "{");
		rc |= kv_str(b, "domain", rec->auth_spf[i].domain, true);
		rc |= kv_str(b, "scope", rec->auth_spf[i].scope, false);
		rc |= kv_str(b, "result", rec->auth_spf[i].result, false);
		rc |= kv_str(b, "human_result", rec->auth_spf[i].human_result,
		    false);
		rc |= buf_addc(b, '}');
	}
	rc |= buf_adds(b, "]}");
	return rc ? -1 : 0;
}

int
agg_json_end(struct buf *b)
{
	return buf_adds(b, "]}\n");
}

int
json_error_line(struct buf *b, const char *source, const char *reason)
{
	int	rc = 0;

	rc |= buf_adds(b, "{\"type\":\"error\"");
	rc |= kv_str(b, "source", source, false);
	rc |= kv_str(b, "reason", reason, false);
	rc |= buf_adds(b, "}\n");
	return rc ? -1 : 0;
}
