/* test_forensic.c - the failure report reader: ARF reports, the privacy
 * options, Exim's plain-text report, non-DMARC feedback reports, and
 * hostile input (huge fields, a million recipients, deep multiparts). */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <gmime/gmime.h>
#include <json-c/json.h>

#include "lib.h"
#include "forensic.h"
#include "tap.h"

static struct arf_limits	lim;

static void
load(const char *name, struct buf *b)
{
	const char	*dir = getenv("TESTS_SRCDIR");
	char		 path[1024], err[256];

	snprintf(path, sizeof(path), "%s/data/forensic/%s",
	    dir ? dir : "tests", name);
	if (read_file_capped(path, 1 << 20, b, err, sizeof(err)) == -1) {
		diag("%s: %s", path, err);
		exit(1);
	}
}

/* Parses p[0..len) as an email and reads its failure report. */
static int
parse(const char *p, size_t len, const struct arf_limits *l,
    struct arf_report *r, char *err, size_t errlen)
{
	GMimeStream	*st;
	GMimeParser	*parser;
	GMimeMessage	*msg;
	int		 rc;

	st = g_mime_stream_mem_new_with_buffer(p, len);
	parser = g_mime_parser_new_with_stream(st);
	msg = g_mime_parser_construct_message(parser, NULL);
	g_object_unref(parser);
	g_object_unref(st);
	rc = arf_parse_message(msg, l, r, err, errlen);
	if (msg != NULL)
		g_object_unref(msg);
	return rc;
}

static int
parse_file(const char *name, const struct arf_limits *l,
    struct arf_report *r, char *err, size_t errlen)
{
	struct buf	b;
	int		rc;

	load(name, &b);
	rc = parse(b.data, b.len, l, r, err, errlen);
	buf_free(&b);
	return rc;
}

static void
test_good(void)
{
	struct arf_report	r;
	char			err[256];

	ok(parse_file("auth-failure.eml", &lim, &r, err, sizeof(err)) == 0,
	    "auth-failure report parses: %s", err);
	is_str(r.report_from, "ruf-sender@reporter.test", "reporter");
	is_str(r.report_message_id, "fr-1@reporter.test", "report id");
	is_int(r.report_date, 1700042400, "report date");
	is_str(r.feedback_type, "auth-failure", "feedback type");
	is_str(r.user_agent, "dmarcd-test/1.0", "user agent");
	is_str(r.original_mail_from, "alice.sender@example.org",
	    "mail from without <>");
	is_int(r.original_rcpt_to.n, 2, "two recipients");
	is_int(r.original_rcpt_to.total, 2, "two recipients counted");
	is_str(r.original_rcpt_to.v[0], "bob@reporter.test", "recipient 1");
	ok(r.has_arrival_date && r.arrival_date == 1700042398,
	    "arrival date");
	is_str(r.source_ip, "2001:db8::25", "IPv6 source normalised");
	is_str(r.reported_domain, "example.org", "domain normalised");
	is_int(r.authentication_results.n, 1, "one Authentication-Results");
	is_str(r.authentication_results.v[0],
	    "mx.reporter.test; dmarc=fail  header.from=example.org",
	    "Authentication-Results unfolded");
	is_int(r.auth_failure.n, 2, "two Auth-Failure");
	is_str(r.auth_failure.v[0], "dmarc", "Auth-Failure lower-cased");
	is_str(r.auth_failure.v[1], "signature", "second Auth-Failure");
	is_str(r.dkim_domain, "example.org", "DKIM-Domain");
	is_str(r.dkim_identity, "@example.org", "DKIM-Identity");
	is_str(r.dkim_selector, "s1", "DKIM-Selector");
	is_str(r.delivery_result, "reject", "Delivery-Result");
	is_str(r.identity_alignment, "none", "Identity-Alignment");
	is_int(r.reported_uri.n, 1, "Reported-URI");
	is_int(r.incidents, 3, "Incidents");
	ok(r.headers != NULL && strstr(r.headers, "Subject: Invoice\n") !=
	    NULL, "returned headers kept");
	ok(r.headers != NULL && strstr(r.headers, "pay the attached") == NULL,
	    "no body in the headers");
	is_str(r.body, NULL, "body dropped by default");
	ok(!r.redacted, "not redacted by default");
	arf_report_free(&r);
}

static void
test_privacy(void)
{
	struct arf_limits	l = lim;
	struct arf_report	r;
	char			err[256];

	l.keep_body = true;
	ok(parse_file("auth-failure.eml", &l, &r, err, sizeof(err)) == 0,
	    "keep_body parses");
	ok(r.body != NULL && strstr(r.body, "Please pay") != NULL,
	    "keep_body keeps the body");
	arf_report_free(&r);

	l.keep_body = false;
	l.redact = true;
	ok(parse_file("auth-failure.eml", &l, &r, err, sizeof(err)) == 0,
	    "redact parses");
	ok(r.redacted, "marked redacted");
	is_str(r.original_mail_from, "redacted@example.org",
	    "Original-Mail-From redacted");
	is_str(r.original_rcpt_to.v[0], "redacted@reporter.test",
	    "Original-Rcpt-To redacted");
	ok(r.headers && strstr(r.headers, "alice.sender") == NULL &&
	    strstr(r.headers, "From: \"Alice\" <redacted@example.org>") !=
	    NULL, "From: redacted");
	ok(r.headers && strstr(r.headers, "To: redacted@reporter.test, "
	    "\"Carol C\" <redacted@reporter.test>") != NULL,
	    "To: every address redacted");
	ok(r.headers && strstr(r.headers, "Cc: redacted@reporter.test") !=
	    NULL, "quoted local part redacted");
	ok(r.headers && strstr(r.headers, "<msg-1@attacker.test>") != NULL,
	    "Message-ID left alone");
	arf_report_free(&r);
}

static void
test_other_forms(void)
{
	struct arf_limits	l = lim;
	struct arf_report	r;
	char			err[256];

	ok(parse_file("abuse.eml", &lim, &r, err, sizeof(err)) == -1 &&
	    strncmp(err, "not a DMARC failure report: ", 28) == 0 &&
	    strstr(err, "abuse") != NULL, "abuse report refused: %s", err);
	arf_report_free(&r);

	ok(parse_file("headers-only.eml", &lim, &r, err, sizeof(err)) == 0,
	    "nested, base64, text/rfc822-headers: %s", err);
	is_str(r.source_ip, "192.0.2.10", "v4-mapped source IP");
	ok(r.has_arrival_date && r.arrival_date == 1700121540,
	    "Received-Date read as Arrival-Date");
	ok(r.headers && strstr(r.headers, "Subject: spf fail") != NULL,
	    "rfc822-headers kept");
	arf_report_free(&r);

	l.redact = true;
	ok(parse_file("exim-text.eml", &l, &r, err, sizeof(err)) == 0,
	    "Exim plain-text report: %s", err);
	ok(r.format == ARF_FORMAT_EXIM_TEXT, "format exim-text");
	is_str(r.reported_domain, "example.org", "Exim domain");
	is_str(r.source_ip, "198.51.100.7", "Exim source IP");
	is_str(r.identity_alignment, "dkim", "Exim alignment");
	ok(r.has_arrival_date && r.arrival_date == 1700117999, "Exim date");
	ok(r.auth_failure.n == 1 && strcmp(r.auth_failure.v[0], "dmarc") ==
	    0, "Exim auth failure dmarc");
	ok(r.headers && strstr(r.headers, "To: <redacted@reporter.test>") !=
	    NULL && strstr(r.headers, "Subject: Hello") != NULL,
	    "Exim headers kept and redacted");
	arf_report_free(&r);

	ok(parse("From: a@b\nSubject: x\n\nhello\n", 25, &lim, &r, err,
	    sizeof(err)) == -1 && strstr(err, "not a failure report") != NULL,
	    "plain email refused: %s", err);
	arf_report_free(&r);
	ok(arf_parse_message(NULL, &lim, &r, err, sizeof(err)) == -1,
	    "NULL message refused");
	arf_report_free(&r);
}

static const char arf_head[] =
    "From: r@reporter.test\nSubject: x\nMIME-Version: 1.0\n"
    "Content-Type: multipart/report; report-type=feedback-report; "
    "boundary=\"b\"\n\n--b\nContent-Type: message/feedback-report\n\n"
    "Feedback-Type: auth-failure\nAuth-Failure: dmarc\n";

static void
test_hostile(void)
{
	struct arf_limits	 l = lim;
	struct arf_report	 r;
	struct buf		 b;
	char			 err[256];
	size_t			 i;
	int			 rc;

	/* A field longer than max_field. */
	buf_init(&b, 64 << 20);
	buf_adds(&b, arf_head);
	buf_adds(&b, "Authentication-Results: ");
	for (i = 0; i < 100000; i++)
		buf_adds(&b, "x");
	buf_adds(&b, "\n--b--\n");
	rc = parse(b.data, b.len, &lim, &r, err, sizeof(err));
	ok(rc == -1 && strstr(err, "max_field") != NULL, "long field: %s",
	    err);
	arf_report_free(&r);

	/* A long unknown field is skipped, not copied. */
	buf_reset(&b);
	buf_adds(&b, arf_head);
	buf_adds(&b, "X-Junk: ");
	for (i = 0; i < 100000; i++)
		buf_adds(&b, "y");
	buf_adds(&b, "\n--b--\n");
	ok(parse(b.data, b.len, &lim, &r, err, sizeof(err)) == 0,
	    "long unknown field ignored: %s", err);
	arf_report_free(&r);

	/* A million recipients: bigger than max_part, refused... */
	buf_reset(&b);
	buf_adds(&b, arf_head);
	for (i = 0; i < 1000000; i++)
		buf_printf(&b, "Original-Rcpt-To: u%zu@reporter.test\n", i);
	buf_adds(&b, "\n--b--\n");
	rc = parse(b.data, b.len, &lim, &r, err, sizeof(err));
	ok(rc == -1 && strstr(err, "larger than") != NULL,
	    "a million recipients refused by max_part: %s", err);
	arf_report_free(&r);
	/* ...and with a larger max_part, capped at max_rcpt but counted. */
	l.max_part = 64 << 20;
	rc = parse(b.data, b.len, &l, &r, err, sizeof(err));
	ok(rc == 0, "a million recipients with a larger max_part: %s", err);
	is_int(r.original_rcpt_to.n, lim.max_rcpt, "recipients kept");
	is_int(r.original_rcpt_to.total, 1000000, "recipients counted");
	arf_report_free(&r);
	l = lim;

	/* Returned headers longer than max_headers: cut at a line. */
	buf_reset(&b);
	buf_adds(&b, arf_head);
	buf_adds(&b, "\n--b\nContent-Type: text/rfc822-headers\n\n");
	for (i = 0; i < 20000; i++)
		buf_printf(&b, "X-Filler-%zu: %s\n", i,
		    "zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz");
	buf_adds(&b, "\n--b--\n");
	rc = parse(b.data, b.len, &lim, &r, err, sizeof(err));
	ok(rc == 0 && r.headers_truncated && strlen(r.headers) <=
	    lim.max_headers && r.headers[strlen(r.headers) - 1] == '\n',
	    "long returned headers truncated at a line end");
	arf_report_free(&r);

	/* Deep multiparts: the report below max_depth is not looked for. */
	for (i = 0; i < 2; i++) {
		size_t	j, depth = i == 0 ? 5 : 200;

		buf_reset(&b);
		buf_adds(&b, "From: r@reporter.test\nMIME-Version: 1.0\n");
		for (j = 0; j < depth; j++)
			buf_printf(&b, "Content-Type: multipart/mixed; "
			    "boundary=\"d%zu\"\n\n--d%zu\n", j, j);
		buf_adds(&b, "Content-Type: multipart/report; "
		    "boundary=\"b\"\n\n--b\nContent-Type: "
		    "message/feedback-report\n\nFeedback-Type: "
		    "auth-failure\n\n--b--\n");
		for (j = depth; j > 0; j--)
			buf_printf(&b, "--d%zu--\n", j - 1);
		rc = parse(b.data, b.len, &lim, &r, err, sizeof(err));
		if (depth == 5)
			ok(rc == 0, "report 5 multiparts deep found: %s",
			    err);
		else
			ok(rc == -1 && strstr(err, "no message/feedback") !=
			    NULL, "report 200 multiparts deep: %s", err);
		arf_report_free(&r);
	}

	/* Garbage in the feedback part: no Feedback-Type. */
	buf_reset(&b);
	buf_adds(&b, "From: r@reporter.test\nMIME-Version: 1.0\n"
	    "Content-Type: multipart/report; boundary=\"b\"\n\n--b\n"
	    "Content-Type: message/feedback-report\n\n"
	    ": no name\n\tcontinued\nnot a field\nFeedback Type: x\n--b--\n");
	rc = parse(b.data, b.len, &lim, &r, err, sizeof(err));
	ok(rc == -1 && strstr(err, "without Feedback-Type") != NULL,
	    "garbage feedback part: %s", err);
	arf_report_free(&r);
	buf_free(&b);
}

static void
test_json(void)
{
	struct arf_report	 r;
	struct buf		 b;
	json_object		*o, *v;
	char			 err[256];

	buf_init(&b, 1 << 20);
	parse_file("auth-failure.eml", &lim, &r, err, sizeof(err));
	ok(arf_json(&b, "in.eml", &r) == 0, "JSON line written");
	o = json_tokener_parse(b.data);
	ok(o != NULL, "JSON line parses");
	if (o != NULL) {
		ok(json_object_object_get_ex(o, "type", &v) &&
		    strcmp(json_object_get_string(v), "forensic") == 0,
		    "type forensic");
		ok(json_object_object_get_ex(o, "original_rcpt_to", &v) &&
		    json_object_array_length(v) == 2, "recipients array");
		ok(json_object_object_get_ex(o, "body", &v) && v == NULL,
		    "body null");
		ok(json_object_object_get_ex(o, "arrival_date", &v) &&
		    json_object_get_int64(v) == 1700042398, "arrival_date");
		json_object_put(o);
	}
	arf_report_free(&r);
	buf_free(&b);
}

int
main(void)
{
	g_mime_init();
	arf_limits_default(&lim);
	test_good();
	test_privacy();
	test_other_forms();
	test_hostile();
	test_json();
	g_mime_shutdown();
	return done_testing();
}
