/* test_tlsrpt.c - the SMTP TLS report reader: good reports whole and byte
 * by byte, and hostile JSON (invalid, truncated, huge, deep, numbers out
 * of range). */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "lib.h"
#include "tlsrpt.h"
#include "tap.h"

static struct tlsrpt_limits	lim;

static char *
load(const char *name, size_t *len_r)
{
	const char	*dir = getenv("TESTS_SRCDIR");
	char		 path[1024], err[256];
	struct buf	 b;

	snprintf(path, sizeof(path), "%s/data/tlsrpt/%s", dir ? dir : "tests",
	    name);
	if (read_file_capped(path, 1 << 20, &b, err, sizeof(err)) == -1) {
		diag("%s: %s", path, err);
		exit(1);
	}
	*len_r = b.len;
	return buf_take(&b);
}

/* A pull stream that hands out one byte per read. */
struct drip {
	const char	*p;
	size_t		 len, pos;
};

static ssize_t
drip_read(void *ctx, void *buf, size_t len)
{
	struct drip	*d = ctx;

	if (d->pos == d->len || len == 0)
		return 0;
	*(char *)buf = d->p[d->pos++];
	return 1;
}

static ssize_t
fail_read(void *ctx, void *buf, size_t len)
{
	return -1;
}

static const char *
fail_error(void *ctx)
{
	return "corrupt gzip stream";
}

static void
check_good(const struct tlsrpt_report *r, const char *how)
{
	char	name[128];

#define T(s)	(snprintf(name, sizeof(name), "%s: %s", how, s), name)
	is_str(r->organization_name, "Reporter Test Org", T("organization"));
	is_str(r->report_id, "2023-11-14T00:00:00Z_example.org", T("id"));
	is_str(r->contact_info, "tlsrpt@reporter.test", T("contact"));
	is_int(r->begin, 1699920000, T("begin"));
	is_int(r->end, 1700006399, T("end"));
	is_int(r->n_policies, 2, T("two policies"));
	if (r->n_policies != 2)
		return;
	is_str(r->policies[0].policy_type, "sts", T("sts"));
	is_int(r->policies[0].n_policy_string, 4, T("policy-string"));
	is_int(r->policies[0].n_mx_host, 1, T("mx-host"));
	is_int(r->policies[0].successful, 1200, T("successful"));
	is_int(r->policies[0].failure, 15, T("failure"));
	is_int(r->policies[0].n_details, 2, T("details"));
	if (r->policies[0].n_details == 2) {
		is_str(r->policies[0].details[0].receiving_mx_hostname,
		    "mx1.example.org", T("hostname normalised"));
		is_str(r->policies[0].details[0].failure_reason_code,
		    "X509_V_ERR_CERT_HAS_EXPIRED", T("reason code"));
		is_int(r->policies[0].details[1].failed_session_count, 5,
		    T("count as a string"));
		is_str(r->policies[0].details[1].receiving_ip, NULL,
		    T("absent member is NULL"));
	}
	is_str(r->policies[1].policy_type, "tlsa", T("TLSA lower-cased"));
	is_int(r->policies[1].n_policy_string, 1, T("string as array"));
	is_int(r->policies[1].failure, 0, T("absent count is 0"));
	is_int(r->successful, 1500, T("sum successful"));
	is_int(r->failure, 15, T("sum failure"));
#undef T
}

/* Parses text and expects an error whose reason contains want. */
static void
bad(const char *json, const char *want, const char *name)
{
	struct tlsrpt_report	r;
	char			err[256];
	int			rc;

	rc = tlsrpt_parse_mem(json, strlen(json), &lim, &r, err, sizeof(err));
	ok(rc == -1 && strstr(err, want) != NULL, "%s", name);
	if (rc != -1 || strstr(err, want) == NULL)
		diag("  rc %d, reason \"%s\", want \"%s\"", rc, err, want);
	tlsrpt_report_free(&r);
}

/* A minimal report with one policy whose summary is s. */
static void
bad_summary(const char *s, const char *want, const char *name)
{
	char	json[512];

	snprintf(json, sizeof(json), "{\"organization-name\":\"o\","
	    "\"date-range\":{\"start-datetime\":\"2023-01-01T00:00:00Z\","
	    "\"end-datetime\":\"2023-01-02T00:00:00Z\"},\"report-id\":\"r\","
	    "\"policies\":[{\"policy\":{\"policy-type\":\"sts\"},"
	    "\"summary\":{%s}}]}", s);
	bad(json, want, name);
}

static void
test_numbers(void)
{
	struct tlsrpt_report	r;
	char			json[512], err[256];

	bad_summary("\"total-successful-session-count\":-1", "negative",
	    "negative count");
	bad_summary("\"total-successful-session-count\":9007199254740993",
	    "above 2^53", "count above 2^53");
	bad_summary("\"total-successful-session-count\":"
	    "18446744073709551615", "above 2^53", "count above int64");
	bad_summary("\"total-successful-session-count\":"
	    "1000000000000000000000000", "", "count far above int64");
	bad_summary("\"total-failure-session-count\":1.5", "whole number",
	    "fractional count");
	bad_summary("\"total-failure-session-count\":1e3", "whole number",
	    "exponent count");
	bad_summary("\"total-failure-session-count\":\"12x\"", "whole number",
	    "count string with junk");
	bad_summary("\"total-failure-session-count\":\"-5\"", "negative",
	    "negative count string");
	bad_summary("\"total-failure-session-count\":true", "not a number",
	    "boolean count");
	bad_summary("\"total-failure-session-count\":[1]", "not a number",
	    "array count");

	snprintf(json, sizeof(json), "{\"organization-name\":\"o\","
	    "\"date-range\":{\"start-datetime\":\"2023-01-01T00:00:00Z\","
	    "\"end-datetime\":\"2023-01-02T00:00:00Z\"},\"report-id\":\"r\","
	    "\"policies\":[{\"policy\":{\"policy-type\":\"sts\"},\"summary\":"
	    "{\"total-successful-session-count\":9007199254740992}}]}");
	ok(tlsrpt_parse_mem(json, strlen(json), &lim, &r, err,
	    sizeof(err)) == 0 && r.successful == TLSRPT_COUNT_MAX,
	    "2^53 itself is accepted");
	tlsrpt_report_free(&r);
}

static void
test_invalid(void)
{
	struct tlsrpt_report	r;
	char			err[256];

	bad("", "empty", "empty input");
	bad("{\"organization-name\": \"x\",", "truncated", "truncated JSON");
	bad("{\"policies\":[{\"policy\":", "truncated", "truncated in array");
	bad("{\"a\": tru}", "invalid JSON", "bad literal");
	bad("{\"a\": [1,]}", "invalid JSON", "trailing comma (strict)");
	bad("{\"a\" 1}", "invalid JSON", "missing colon");
	bad("{\"policies\":[]} x", "after the report", "trailing garbage");
	bad("{\"policies\":[]}{}", "after the report", "two documents");
	bad("[1,2,3]", "not an object", "an array, not an object");
	bad("42", "not an object", "a bare number");
	bad("{\"organization-name\":\"x\"}", "no policies", "no policies");
	bad("{\"organization-name\":\"x\",\"policies\":{}}", "report-id",
	    "missing report-id");
	bad("{\"organization-name\":\"x\",\"report-id\":\"r\","
	    "\"policies\":[],\"date-range\":{\"start-datetime\":\"yesterday\","
	    "\"end-datetime\":\"2023-01-01T00:00:00Z\"}}", "RFC 3339",
	    "bad date-time");
	bad("{\"organization-name\":\"x\",\"report-id\":\"r\","
	    "\"policies\":{},\"date-range\":{\"start-datetime\":"
	    "\"2023-01-01T00:00:00Z\",\"end-datetime\":"
	    "\"2023-01-01T00:00:00Z\"}}", "not an array", "policies object");
	bad("{\"organization-name\":\"a\\u0000b\",\"report-id\":\"r\","
	    "\"policies\":[]}", "NUL", "NUL in a string");
	bad("{\"organization-name\":7,\"report-id\":\"r\",\"policies\":[]}",
	    "not a string", "number for a string");
	bad("{\"organization-name\":\"x\",\"report-id\":\"r\","
	    "\"policies\":[{\"policy\":{\"policy-type\":\"sts\"},"
	    "\"summary\":{},\"failure-details\":[42]}],\"date-range\":"
	    "{\"start-datetime\":\"2023-01-01T00:00:00Z\",\"end-datetime\":"
	    "\"2023-01-01T00:00:00Z\"}}", "failure-details[0]: not an object",
	    "detail not an object");

	ok(tlsrpt_parse(fail_read, fail_error, NULL, &lim, &r, err,
	    sizeof(err)) == -1 && strstr(err, "corrupt gzip") != NULL,
	    "a failing stream gives its own reason");
	tlsrpt_report_free(&r);
}

static void
test_caps(void)
{
	struct tlsrpt_limits	 small = lim;
	struct tlsrpt_report	 r;
	struct buf		 b;
	char			 err[256];
	size_t			 i;
	int			 rc;

	/* Deep nesting: json-c's depth limit, not the stack. */
	buf_init(&b, 1 << 20);
	buf_adds(&b, "{\"policies\":");
	for (i = 0; i < 100000; i++)
		buf_addc(&b, '[');
	rc = tlsrpt_parse_mem(b.data, b.len, &lim, &r, err, sizeof(err));
	ok(rc == -1 && strstr(err, "max_depth") != NULL, "deep nesting: %s",
	    err);
	tlsrpt_report_free(&r);
	buf_free(&b);

	/* Bigger than max_size, whole and streamed. */
	buf_init(&b, 20 << 20);
	buf_adds(&b, "{\"organization-name\":\"");
	while (b.len < lim.max_size + 10)
		buf_adds(&b, "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx");
	buf_adds(&b, "\"}");
	rc = tlsrpt_parse_mem(b.data, b.len, &lim, &r, err, sizeof(err));
	ok(rc == -1 && strstr(err, "max_size") != NULL, "huge JSON refused "
	    "whole: %s", err);
	tlsrpt_report_free(&r);
	small.max_size = 1000;
	{
		struct drip d = { b.data, 5000, 0 };

		rc = tlsrpt_parse(drip_read, NULL, &d, &small, &r, err,
		    sizeof(err));
		ok(rc == -1 && strstr(err, "max_size") != NULL &&
		    d.pos <= 1001, "huge JSON refused streamed after %zu "
		    "bytes", d.pos);
		tlsrpt_report_free(&r);
	}
	buf_free(&b);

	/* Too many policies, details, strings; a string too long. */
	small = lim;
	small.max_policies = 1;
	small.max_details = 1;
	small.max_strings = 3;
	small.max_string = 1000;
	{
		size_t	 len;
		char	*json = load("report.json", &len);

		rc = tlsrpt_parse_mem(json, len, &small, &r, err, sizeof(err));
		ok(rc == -1 && strstr(err, "max_policies") != NULL,
		    "max_policies: %s", err);
		tlsrpt_report_free(&r);
		small.max_policies = 10;
		rc = tlsrpt_parse_mem(json, len, &small, &r, err, sizeof(err));
		ok(rc == -1 && strstr(err, "max_strings") != NULL,
		    "max_strings: %s", err);
		tlsrpt_report_free(&r);
		small.max_strings = 10;
		rc = tlsrpt_parse_mem(json, len, &small, &r, err, sizeof(err));
		ok(rc == -1 && strstr(err, "max_details") != NULL,
		    "max_details: %s", err);
		tlsrpt_report_free(&r);
		small.max_string = 16;
		rc = tlsrpt_parse_mem(json, len, &small, &r, err, sizeof(err));
		ok(rc == -1 && strstr(err, "max_string ") != NULL,
		    "max_string: %s", err);
		tlsrpt_report_free(&r);
		free(json);
	}
}

static void
test_datetime(void)
{
	int64_t	t = 0;

	ok(tlsrpt_parse_datetime("1970-01-01T00:00:00Z", &t) == 0 && t == 0,
	    "epoch");
	ok(tlsrpt_parse_datetime("2016-04-01T00:00:00+02:00", &t) == 0 &&
	    t == 1459461600, "offset +02:00");
	ok(tlsrpt_parse_datetime("2016-04-01t00:00:00.123-01:30z", &t) ==
	    -1, "junk after offset");
	ok(tlsrpt_parse_datetime("2016-04-01T00:00:00.123-01:30", &t) == 0 &&
	    t == 1459474200, "fraction and negative offset");
	ok(tlsrpt_parse_datetime("2023-01-10T00:00:00", &t) == 0 &&
	    t == 1673308800, "no offset taken as UTC");
	ok(tlsrpt_parse_datetime("2023-02-29T00:00:00Z", &t) == -1,
	    "29 February in a common year");
	ok(tlsrpt_parse_datetime("2024-02-29T00:00:00Z", &t) == 0,
	    "29 February in a leap year");
	ok(tlsrpt_parse_datetime("2023-13-01T00:00:00Z", &t) == -1,
	    "month 13");
	ok(tlsrpt_parse_datetime("2023-1-01T00:00:00Z", &t) == -1,
	    "one-digit month");
	ok(tlsrpt_parse_datetime("", &t) == -1, "empty");
}

/* The JSON line reads back with json-c and keeps RFC 8460's names. */
static void
test_json(const struct tlsrpt_report *r)
{
	struct buf	 b;
	json_object	*o, *p, *v;

	buf_init(&b, 1 << 20);
	ok(tlsrpt_json(&b, "src \"x\"", r) == 0, "JSON line written");
	ok(b.len > 0 && b.data[b.len - 1] == '\n', "ends with a newline");
	o = json_tokener_parse(b.data);
	ok(o != NULL, "JSON line parses");
	if (o != NULL) {
		ok(json_object_object_get_ex(o, "type", &v) &&
		    strcmp(json_object_get_string(v), "tlsrpt") == 0,
		    "type tlsrpt");
		ok(json_object_object_get_ex(o, "source", &v) &&
		    strcmp(json_object_get_string(v), "src \"x\"") == 0,
		    "source escaped");
		ok(json_object_object_get_ex(o, "policies", &p) &&
		    json_object_array_length(p) == 2, "policies array");
		v = json_object_array_get_idx(p, 0);
		ok(json_object_object_get_ex(v, "summary", &v) &&
		    json_object_object_get_ex(v,
		    "total-successful-session-count", &v) &&
		    json_object_get_int64(v) == 1200, "summary count");
		json_object_put(o);
	}
	buf_free(&b);
}

int
main(void)
{
	struct tlsrpt_report	 r;
	struct drip		 d;
	char			*json, err[256];
	size_t			 len;

	tlsrpt_limits_default(&lim);
	json = load("report.json", &len);
	ok(tlsrpt_parse_mem(json, len, &lim, &r, err, sizeof(err)) == 0,
	    "good report parses: %s", err);
	check_good(&r, "whole");
	test_json(&r);
	tlsrpt_report_free(&r);

	d.p = json;
	d.len = len;
	d.pos = 0;
	ok(tlsrpt_parse(drip_read, NULL, &d, &lim, &r, err, sizeof(err)) ==
	    0, "good report parses byte by byte: %s", err);
	check_good(&r, "byte by byte");
	tlsrpt_report_free(&r);

	/* Every proper prefix is refused as truncated, never accepted. */
	{
		size_t	i, refused = 0, last;

		for (last = len; last > 0 && json[last - 1] != '}'; last--)
			;
		/* Prefixes short of the final brace. */
		for (i = 0; i < last; i++) {
			if (tlsrpt_parse_mem(json, i, &lim, &r, err,
			    sizeof(err)) == -1)
				refused++;
			tlsrpt_report_free(&r);
		}
		is_int(refused, last, "every truncation refused");
	}
	free(json);

	test_numbers();
	test_invalid();
	test_caps();
	test_datetime();
	return done_testing();
}
