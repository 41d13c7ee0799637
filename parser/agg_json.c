/* agg_json.c - aggregate reports as JSON lines (the `parse` format). */
#include "config.h"

#include "report.h"

/*
 * Keys are literals, written with their comma and colon in one append
 * (what json_key() would write for them); this runs once per field of
 * every record.
 */
static int
kv_lit(struct buf *b, const char *lit, size_t len, const char *v)
{
	return buf_add(b, lit, len) == -1 || json_str(b, v) == -1 ? -1 : 0;
}

#define LIT(b, s)	buf_add((b), (s), sizeof(s) - 1)
#define KV(b, k, v)	kv_lit((b), (k), sizeof(k) - 1, (v))

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

	rc |= LIT(b, "{\"type\":\"aggregate\"");
	rc |= kv_str(b, "source", source, false);
	rc |= KV(b, ",\"org_name\":", r->org_name);
	rc |= KV(b, ",\"org_email\":", r->org_email);
	rc |= KV(b, ",\"extra_contact_info\":", r->extra_contact_info);
	rc |= KV(b, ",\"report_id\":", r->report_id);
	rc |= LIT(b, ",\"begin\":");
	rc |= json_int(b, r->begin);
	rc |= LIT(b, ",\"end\":");
	rc |= json_int(b, r->end);
	rc |= LIT(b, ",\"errors\":[");
	for (i = 0; i < r->n_errors; i++) {
		if (i)
			rc |= buf_addc(b, ',');
		rc |= json_str(b, r->errors[i]);
	}
	rc |= buf_addc(b, ']');
	rc |= KV(b, ",\"generator\":", r->generator);
	rc |= KV(b, ",\"version\":", r->version);
	rc |= KV(b, ",\"policy\":{\"domain\":", r->domain);
	rc |= KV(b, ",\"adkim\":", r->adkim);
	rc |= KV(b, ",\"aspf\":", r->aspf);
	rc |= KV(b, ",\"p\":", r->p);
	rc |= KV(b, ",\"sp\":", r->sp);
	rc |= KV(b, ",\"np\":", r->np);
	rc |= LIT(b, ",\"pct\":");
	if (r->has_pct)
		rc |= json_int(b, r->pct);
	else
		rc |= LIT(b, "null");
	rc |= KV(b, ",\"fo\":", r->fo);
	rc |= KV(b, ",\"testing\":", r->testing);
	rc |= KV(b, ",\"discovery_method\":", r->discovery_method);
	rc |= LIT(b, "},\"records\":[");
	return rc ? -1 : 0;
}

int
agg_json_record(struct buf *b, const struct agg_record *rec, bool first)
{
	size_t	i;
	int	rc = 0;

	rc |= first ? KV(b, "{\"source_ip\":", rec->source_ip) :
	    KV(b, ",{\"source_ip\":", rec->source_ip);
	rc |= LIT(b, ",\"count\":");
	rc |= json_uint(b, rec->count);
	rc |= KV(b, ",\"disposition\":", rec->disposition);
	rc |= KV(b, ",\"dkim\":", rec->dkim);
	rc |= KV(b, ",\"spf\":", rec->spf);
	rc |= LIT(b, ",\"reasons\":[");
	for (i = 0; i < rec->n_reasons; i++) {
		rc |= i ? KV(b, ",{\"type\":", rec->reasons[i].type) :
		    KV(b, "{\"type\":", rec->reasons[i].type);
		rc |= KV(b, ",\"comment\":", rec->reasons[i].comment);
		rc |= buf_addc(b, '}');
	}
	rc |= KV(b, "],\"header_from\":", rec->header_from);
	rc |= KV(b, ",\"envelope_from\":", rec->envelope_from);
	rc |= KV(b, ",\"envelope_to\":", rec->envelope_to);
	rc |= LIT(b, ",\"auth_dkim\":[");
	for (i = 0; i < rec->n_dkim; i++) {
		rc |= i ? KV(b, ",{\"domain\":", rec->auth_dkim[i].domain) :
		    KV(b, "{\"domain\":", rec->auth_dkim[i].domain);
		rc |= KV(b, ",\"selector\":", rec->auth_dkim[i].selector);
		rc |= KV(b, ",\"result\":", rec->auth_dkim[i].result);
		rc |= KV(b, ",\"human_result\":",
		    rec->auth_dkim[i].human_result);
		rc |= buf_addc(b, '}');
	}
	rc |= LIT(b, "],\"auth_spf\":[");
	for (i = 0; i < rec->n_spf; i++) {
		rc |= i ? KV(b, ",{\"domain\":", rec->auth_spf[i].domain) :
		    KV(b, "{\"domain\":", rec->auth_spf[i].domain);
		rc |= KV(b, ",\"scope\":", rec->auth_spf[i].scope);
		rc |= KV(b, ",\"result\":", rec->auth_spf[i].result);
		rc |= KV(b, ",\"human_result\":",
		    rec->auth_spf[i].human_result);
		rc |= buf_addc(b, '}');
	}
	rc |= LIT(b, "]}");
	return rc ? -1 : 0;
}

int
agg_json_end(struct buf *b)
{
	return LIT(b, "]}\n");
}

int
json_error_line(struct buf *b, const char *source, const char *reason)
{
	int	rc = 0;

	rc |= LIT(b, "{\"type\":\"error\"");
	rc |= kv_str(b, "source", source, false);
	rc |= kv_str(b, "reason", reason, false);
	rc |= LIT(b, "}\n");
	return rc ? -1 : 0;
}
