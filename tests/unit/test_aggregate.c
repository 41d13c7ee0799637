/*
 * test_aggregate.c - the aggregate report parser against the fixtures in
 * tests/data/aggregate/, whole-buffer and one byte at a time.
 */
#include "config.h"

#include <iconv.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aggregate.h"
#include "tap.h"

/* Everything the handler saw, as "key=value" lines. */
struct dump {
	FILE	*f;
	char	*text;
	size_t	 len;
	int	 begins;
};

struct feed {
	const char	*data;
	size_t		 len, off, step;
};

static const char *
nz(const char *s)
{
	return s != NULL ? s : "(null)";
}

static int
on_begin(void *ctx, const struct agg_report *r, const char **error_r)
{
	struct dump	*d = ctx;
	size_t		 i;

	d->begins++;
	fprintf(d->f, "begin.records=%llu\n",
	    (unsigned long long)r->n_records);
	fprintf(d->f, "version=%s\norg_name=%s\nemail=%s\nextra=%s\n",
	    nz(r->version), nz(r->org_name), nz(r->org_email),
	    nz(r->extra_contact_info));
	fprintf(d->f, "report_id=%s\nbegin=%lld\nend=%lld\nn_errors=%zu\n",
	    nz(r->report_id), (long long)r->begin, (long long)r->end,
	    r->n_errors);
	for (i = 0; i < r->n_errors; i++)
		fprintf(d->f, "error%zu=%s\n", i, nz(r->errors[i]));
	fprintf(d->f, "generator=%s\ndomain=%s\nadkim=%s\naspf=%s\n",
	    nz(r->generator), nz(r->domain), nz(r->adkim), nz(r->aspf));
	fprintf(d->f, "p=%s\nsp=%s\nnp=%s\n", nz(r->p), nz(r->sp), nz(r->np));
	if (r->has_pct)
		fprintf(d->f, "pct=%d\n", r->pct);
	else
		fprintf(d->f, "pct=(null)\n");
	fprintf(d->f, "fo=%s\ntesting=%s\ndiscovery=%s\ndmarcbis=%d\n",
	    nz(r->fo), nz(r->testing), nz(r->discovery_method),
	    r->dmarcbis ? 1 : 0);
	return 0;
}

static int
on_record(void *ctx, const struct agg_report *r, const struct agg_record *x,
    const char **error_r)
{
	struct dump	*d = ctx;
	unsigned long long n = (unsigned long long)r->n_records;
	size_t		 i;

	fprintf(d->f, "%llu.ip=%s\n%llu.family=%s\n%llu.count=%llu\n",
	    n, x->source_ip, n, x->family == 2 ? "v4" : "v6", n,
	    (unsigned long long)x->count);
	fprintf(d->f, "%llu.disposition=%s\n%llu.dkim=%s\n%llu.spf=%s\n",
	    n, nz(x->disposition), n, nz(x->dkim), n, nz(x->spf));
	fprintf(d->f, "%llu.n_reasons=%zu\n", n, x->n_reasons);
	for (i = 0; i < x->n_reasons; i++)
		fprintf(d->f, "%llu.reason%zu=%s/%s\n", n, i,
		    nz(x->reasons[i].type), nz(x->reasons[i].comment));
	fprintf(d->f, "%llu.header_from=%s\n%llu.envelope_from=%s\n"
	    "%llu.envelope_to=%s\n", n, nz(x->header_from), n,
	    nz(x->envelope_from), n, nz(x->envelope_to));
	fprintf(d->f, "%llu.n_dkim=%zu\n", n, x->n_dkim);
	for (i = 0; i < x->n_dkim; i++)
		fprintf(d->f, "%llu.dkim%zu=%s/%s/%s/%s\n", n, i,
		    nz(x->auth_dkim[i].domain), nz(x->auth_dkim[i].selector),
		    nz(x->auth_dkim[i].result),
		    nz(x->auth_dkim[i].human_result));
	fprintf(d->f, "%llu.n_spf=%zu\n", n, x->n_spf);
	for (i = 0; i < x->n_spf; i++)
		fprintf(d->f, "%llu.spf%zu=%s/%s/%s/%s\n", n, i,
		    nz(x->auth_spf[i].domain), nz(x->auth_spf[i].scope),
		    nz(x->auth_spf[i].result),
		    nz(x->auth_spf[i].human_result));
	return 0;
}

static int
on_end(void *ctx, const struct agg_report *r, const char **error_r)
{
	struct dump	*d = ctx;

	fprintf(d->f, "records=%llu\nmessages=%llu\nend.dmarcbis=%d\n",
	    (unsigned long long)r->n_records,
	    (unsigned long long)r->messages, r->dmarcbis ? 1 : 0);
	return 0;
}

static const struct agg_handler handler = { on_begin, on_record, on_end };

/* Hands out step bytes per call (1: the byte-by-byte test). */
static ssize_t
feed_read(void *ctx, void *buf, size_t len)
{
	struct feed	*fd = ctx;

	if (len > fd->step)
		len = fd->step;
	if (len > fd->len - fd->off)
		len = fd->len - fd->off;
	memcpy(buf, fd->data + fd->off, len);
	fd->off += len;
	return (ssize_t)len;
}

static char *
slurp(const char *name, size_t *len_r)
{
	const char	*dir;
	char		 path[1024];
	char		*data = NULL;
	FILE		*f;
	long		 n;

	if ((dir = getenv("TESTS_SRCDIR")) == NULL)
		dir = "../tests";
	snprintf(path, sizeof(path), "%s/data/aggregate/%s", dir, name);
	if ((f = fopen(path, "rb")) == NULL)
		return NULL;
	if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 &&
	    fseek(f, 0, SEEK_SET) == 0 &&
	    (data = malloc((size_t)n + 1)) != NULL &&
	    fread(data, 1, (size_t)n, f) == (size_t)n)
		*len_r = (size_t)n;
	else {
		free(data);
		data = NULL;
	}
	fclose(f);
	return data;
}

struct result {
	int	 rc;
	char	 err[512];
	char	*text;		/* the dump, malloc'd */
	int	 begins;
};

static void
run(const char *data, size_t len, size_t step, const struct agg_limits *lim,
    struct result *res)
{
	struct dump	d;
	struct feed	fd = { data, len, 0, step };

	memset(&d, 0, sizeof(d));
	d.f = open_memstream(&d.text, &d.len);
	if (step == 0)
		res->rc = agg_parse_mem(data, len, lim, &handler, &d,
		    res->err, sizeof(res->err));
	else
		res->rc = agg_parse(feed_read, NULL, &fd, lim, &handler, &d,
		    res->err, sizeof(res->err));
	fclose(d.f);
	res->text = d.text;
	res->begins = d.begins;
}

/* The value of "key=" in a dump, or NULL. */
static const char *
get(const struct result *res, const char *key)
{
	static char	 val[512];
	const char	*p, *e;
	size_t		 klen = strlen(key);

	for (p = res->text; p != NULL && *p != '\0'; p = e + 1) {
		if ((e = strchr(p, '\n')) == NULL)
			break;
		if (strncmp(p, key, klen) == 0 && p[klen] == '=') {
			snprintf(val, sizeof(val), "%.*s",
			    (int)(e - p - klen - 1), p + klen + 1);
			return val;
		}
	}
	return NULL;
}

static int
contains(const char *s, const char *sub)
{
	return s != NULL && strstr(s, sub) != NULL;
}

/*
 * Parses a fixture whole and one byte at a time; both must agree exactly.
 * The whole-buffer result stays in res for the caller's checks.
 */
/* Parses data whole and one byte at a time; both must agree exactly. */
static void
parse_both(const char *name, const char *data, size_t len,
    const struct agg_limits *lim, struct result *res)
{
	struct result	 bytewise;
	int		 same;

	run(data, len, 0, lim, res);
	run(data, len, 1, lim, &bytewise);
	/*
	 * On failure only the verdict must agree: how many records were
	 * handed out before the error may differ.
	 */
	same = bytewise.rc == res->rc && strcmp(bytewise.err, res->err) == 0 &&
	    (res->rc != 0 || strcmp(bytewise.text, res->text) == 0);
	ok(same, "%s: byte-by-byte gives the same result", name);
	if (!same)
		diag("  whole: rc %d '%s'; bytewise: rc %d '%s'", res->rc,
		    res->err, bytewise.rc, bytewise.err);
	free(bytewise.text);
}

/* A fixture, whole and byte by byte; the whole result stays in res. */
static int
parse_fixture(const char *name, const struct agg_limits *lim,
    struct result *res)
{
	char		*data;
	size_t		 len = 0;

	memset(res, 0, sizeof(*res));
	if ((data = slurp(name, &len)) == NULL) {
		ok(0, "%s: fixture readable", name);
		res->rc = -2;
		return -1;
	}
	parse_both(name, data, len, lim, res);
	free(data);
	return 0;
}

static void
expect_ok(const char *name, const struct agg_limits *lim, struct result *res)
{
	if (parse_fixture(name, lim, res) == -1)
		return;
	ok(res->rc == 0, "%s: parses", name);
	if (res->rc != 0)
		diag("  error: %s", res->err);
	is_int(res->begins, 1, "report_begin called once");
}

static void
expect_error(const char *name, const struct agg_limits *lim,
    const char *words1, const char *words2)
{
	struct result	res;

	if (parse_fixture(name, lim, &res) == -1)
		return;
	ok(res.rc == -1, "%s: refused", name);
	ok(contains(res.err, words1) && (words2 == NULL ||
	    contains(res.err, words2)), "%s: reason names '%s'%s%s", name,
	    words1, words2 ? " and " : "", words2 ? words2 : "");
	if (!contains(res.err, words1) || (words2 != NULL &&
	    !contains(res.err, words2)))
		diag("  reason: %s", res.err);
	free(res.text);
}

static void
test_basic(const struct agg_limits *lim)
{
	struct result	r;

	expect_ok("basic.xml", lim, &r);
	is_str(get(&r, "begin.records"), "0", "begin before the first record");
	is_str(get(&r, "version"), "1.0", "version");
	is_str(get(&r, "org_name"), "Example Receiver", "org_name");
	is_str(get(&r, "email"), "dmarc@receiver.example", "email");
	is_str(get(&r, "extra"), "https://receiver.example/dmarc",
	    "extra_contact_info");
	is_str(get(&r, "report_id"), "r-0001", "report_id");
	is_str(get(&r, "begin"), "1700000000", "begin");
	is_str(get(&r, "end"), "1700086399", "end");
	is_str(get(&r, "domain"), "example.org", "domain");
	is_str(get(&r, "adkim"), "r", "adkim");
	is_str(get(&r, "aspf"), "s", "aspf");
	is_str(get(&r, "p"), "reject", "p");
	is_str(get(&r, "sp"), "quarantine", "sp");
	is_str(get(&r, "np"), "(null)", "np absent");
	is_str(get(&r, "pct"), "100", "pct");
	is_str(get(&r, "fo"), "1", "fo");
	is_str(get(&r, "dmarcbis"), "0", "not DMARCbis");
	is_str(get(&r, "1.ip"), "192.0.2.1", "record 1 ip");
	is_str(get(&r, "1.count"), "3", "record 1 count");
	is_str(get(&r, "1.disposition"), "none", "record 1 disposition");
	is_str(get(&r, "1.dkim"), "pass", "record 1 dkim");
	is_str(get(&r, "1.spf"), "fail", "record 1 spf");
	is_str(get(&r, "1.header_from"), "example.org", "header_from");
	is_str(get(&r, "1.envelope_to"), "(null)", "envelope_to absent");
	is_str(get(&r, "1.dkim0"), "example.org/s1/pass/(null)", "auth dkim");
	is_str(get(&r, "1.spf0"), "example.org/mfrom/fail/(null)", "auth spf");
	is_str(get(&r, "2.ip"), "198.51.100.7", "record 2 ip");
	is_str(get(&r, "2.disposition"), "reject", "record 2 disposition");
	is_str(get(&r, "records"), "2", "two records");
	is_str(get(&r, "messages"), "13", "13 messages");
	free(r.text);
}

static void
test_tolerance(const struct agg_limits *lim)
{
	struct result	r;

	expect_ok("enum-case.xml", lim, &r);
	is_str(get(&r, "adkim"), "r", "Relaxed -> r");
	is_str(get(&r, "aspf"), "s", "STRICT -> s");
	is_str(get(&r, "p"), "reject", "REJECT -> reject");
	is_str(get(&r, "sp"), "quarantine", "Quarantine -> quarantine");
	is_str(get(&r, "1.disposition"), "none", "None -> none");
	is_str(get(&r, "1.dkim"), "pass", "Pass -> pass");
	is_str(get(&r, "1.spf"), "fail", "FAIL -> fail");
	is_str(get(&r, "1.reason0"), "forwarded/(null)", "reason type case");
	is_str(get(&r, "2.disposition"), "weird-value",
	    "unknown enumeration kept, lower-cased");
	is_str(get(&r, "2.dkim"), "softfail-ish", "unknown result kept");
	free(r.text);

	expect_ok("hardfail.xml", lim, &r);
	is_str(get(&r, "1.spf"), "fail", "policy HardFail -> fail");
	is_str(get(&r, "1.spf0"), "example.org/mfrom/fail/(null)",
	    "auth hardfail -> fail, MFrom -> mfrom");
	is_str(get(&r, "1.spf1"), "example.org/helo/temperror/(null)",
	    "temp_error -> temperror, HELO -> helo");
	free(r.text);

	expect_ok("whitespace.xml", lim, &r);
	is_str(get(&r, "org_name"), "Example Receiver", "org_name trimmed");
	is_str(get(&r, "email"), "dmarc@receiver.example", "tabs trimmed");
	is_str(get(&r, "report_id"), "r-0001", "report_id trimmed");
	is_str(get(&r, "begin"), "1700000000", "begin across lines");
	is_str(get(&r, "domain"), "example.org", "domain trimmed");
	is_str(get(&r, "pct"), "50", "pct trimmed");
	is_str(get(&r, "1.ip"), "192.0.2.1", "source_ip trimmed");
	is_str(get(&r, "1.count"), "7", "count trimmed");
	is_str(get(&r, "1.disposition"), "quarantine", "disposition trimmed");
	is_str(get(&r, "1.dkim"), "pass", "dkim trimmed");
	is_str(get(&r, "1.spf"), "fail", "CDATA text trimmed");
	free(r.text);

	expect_ok("empty-optional.xml", lim, &r);
	is_str(get(&r, "email"), "(null)", "empty email -> NULL");
	is_str(get(&r, "extra"), "(null)", "<extra_contact_info/> -> NULL");
	is_str(get(&r, "sp"), "(null)", "<sp/> -> NULL");
	is_str(get(&r, "fo"), "(null)", "blank fo -> NULL");
	is_str(get(&r, "pct"), "(null)", "empty pct -> absent");
	is_str(get(&r, "1.envelope_from"), "(null)", "blank envelope_from");
	is_str(get(&r, "1.envelope_to"), "(null)", "<envelope_to/>");
	is_str(get(&r, "1.n_dkim"), "1", "<dkim/> dropped");
	is_str(get(&r, "1.dkim0"), "example.org/(null)/pass/(null)",
	    "empty selector and human_result -> NULL");
	is_str(get(&r, "1.spf0"), "example.org/(null)/pass/(null)",
	    "empty scope -> NULL");
	is_str(get(&r, "1.n_reasons"), "0", "<reason/> dropped");
	free(r.text);

	expect_ok("bom.xml", lim, &r);
	is_str(get(&r, "org_name"), "Example Receiver", "BOM skipped");
	free(r.text);

	expect_ok("latin1.xml", lim, &r);
	is_str(get(&r, "org_name"), "Empf\xc3\xa4nger GmbH",
	    "ISO-8859-1 converted to UTF-8");
	free(r.text);

	expect_ok("windows1252.xml", lim, &r);
	is_str(get(&r, "extra"), "Preis \xe2\x82\xac 5",
	    "windows-1252 euro sign converted");
	free(r.text);

	expect_ok("utf16.xml", lim, &r);
	is_str(get(&r, "org_name"), "R\xc3\xa9" "cepteur \xc3\xa9xemple",
	    "UTF-16 converted to UTF-8");
	is_str(get(&r, "records"), "2", "UTF-16: both records");
	free(r.text);

	expect_ok("unknown-elements.xml", lim, &r);
	is_str(get(&r, "records"), "1",
	    "record inside an unknown element ignored");
	is_str(get(&r, "domain"), "example.org",
	    "domain inside an unknown element ignored");
	is_str(get(&r, "report_id"), "r-0001", "unknown sibling skipped");
	is_str(get(&r, "1.count"), "3", "markup inside count ignored");
	free(r.text);

	expect_ok("out-of-order.xml", lim, &r);
	is_str(get(&r, "begin"), "1700000000", "end before begin");
	is_str(get(&r, "version"), "1.0", "version after metadata");
	is_str(get(&r, "1.ip"), "203.0.113.9", "ip after count");
	is_str(get(&r, "1.count"), "4", "count");
	is_str(get(&r, "1.dkim"), "fail", "policy_evaluated reversed");
	is_str(get(&r, "1.dkim0"), "example.org/s1/pass/(null)",
	    "auth_results before row");
	free(r.text);

	expect_ok("zero-records.xml", lim, &r);
	is_str(get(&r, "records"), "0", "zero records accepted");
	is_str(get(&r, "report_id"), "r-0001", "report_begin at the end");
	free(r.text);
}

static void
test_namespaces(const struct agg_limits *lim)
{
	struct result	r;

	expect_ok("bis-namespace.xml", lim, &r);
	is_str(get(&r, "dmarcbis"), "1", "dmarc-2.0 namespace -> dmarcbis");
	is_str(get(&r, "generator"), "Example Reporter 2.0", "generator");
	is_str(get(&r, "np"), "reject", "np");
	is_str(get(&r, "testing"), "y", "testing");
	is_str(get(&r, "discovery"), "treewalk", "discovery_method");
	is_str(get(&r, "pct"), "(null)", "no pct in DMARCbis");
	is_str(get(&r, "1.disposition"), "pass", "disposition pass");
	is_str(get(&r, "1.reason0"), "policy_test_mode/testing", "bis reason");
	is_str(get(&r, "1.dkim0"), "example.org/s1/pass/good signature",
	    "dkim human_result");
	is_str(get(&r, "1.spf0"), "example.org/mfrom/pass/sender allowed",
	    "spf human_result");
	free(r.text);

	expect_ok("prefixed.xml", lim, &r);
	is_str(get(&r, "dmarcbis"), "1", "prefixed dmarc-2.0 -> dmarcbis");
	is_str(get(&r, "report_id"), "r-0001", "prefixed report_id");
	is_str(get(&r, "1.ip"), "192.0.2.1", "prefixed record");
	is_str(get(&r, "1.spf0"), "example.org/mfrom/pass/sender allowed",
	    "prefixed auth results");
	free(r.text);

	expect_ok("other-namespace.xml", lim, &r);
	is_str(get(&r, "dmarcbis"), "0", "other namespace: RFC 7489");
	is_str(get(&r, "records"), "1", "other namespace parsed");
	free(r.text);
}

static void
test_records(const struct agg_limits *lim)
{
	struct result	r;

	expect_ok("multi.xml", lim, &r);
	is_str(get(&r, "n_errors"), "2", "two <error>s");
	is_str(get(&r, "error1"), "second problem", "second error");
	is_str(get(&r, "1.n_reasons"), "3", "three reasons");
	is_str(get(&r, "1.reason0"), "forwarded/via list", "reason 1");
	is_str(get(&r, "1.reason1"), "local_policy/(null)", "reason 2");
	is_str(get(&r, "1.reason2"), "mailing_list/second", "reason 3");
	is_str(get(&r, "1.n_dkim"), "3", "three dkim results");
	is_str(get(&r, "1.dkim2"), "d2.example/s2/none/(null)", "third dkim");
	is_str(get(&r, "1.n_spf"), "2", "two spf results");
	is_str(get(&r, "1.spf1"), "bounce.example.org/mfrom/softfail/(null)",
	    "second spf");
	free(r.text);

	expect_ok("ipv6.xml", lim, &r);
	is_str(get(&r, "1.ip"), "2001:db8::1", "IPv6 normalised");
	is_str(get(&r, "1.family"), "v6", "IPv6 family");
	is_str(get(&r, "2.ip"), "::ffff:192.0.2.1", "v4-mapped IPv6");
	is_str(get(&r, "3.ip"), "fe80::202:b3ff:fe1e:8329", "long IPv6");
	free(r.text);
}

static void
test_caps(const struct agg_limits *def)
{
	struct agg_limits	lim = *def;
	struct result		r;

	lim.max_text = 32;
	expect_ok("long-text.xml", &lim, &r);
	is_int(strlen(get(&r, "extra")), 32,
	    "extra_contact_info cut at max_text");
	is_str(get(&r, "extra"), "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\xc3\xa9",
	    "cut at a UTF-8 boundary");
	is_str(get(&r, "1.reason0"),
	    "other/cccccccccccccccccccccccccccccc",
	    "comment: a split character is dropped");
	free(r.text);
	expect_error("long-id.xml", &lim, "<report_id>", "max_text");
	expect_ok("long-id.xml", def, &r);
	free(r.text);

	lim = *def;
	lim.max_elements = 20;
	expect_error("basic.xml", &lim, "max_elements", NULL);
	lim = *def;
	lim.max_records = 1;
	expect_error("basic.xml", &lim, "max_records", NULL);
	lim = *def;
	lim.max_depth = 3;
	expect_error("basic.xml", &lim, "max_depth", NULL);
	expect_error("err-depth.xml", def, "max_depth", NULL);
	expect_error("err-too-many-dkim.xml", def, "record 1",
	    "AGG_MAX_DKIM");
}

static void
test_errors(const struct agg_limits *lim)
{
	expect_error("err-missing-count.xml", lim, "record 3", "<count>");
	expect_error("err-bad-count.xml", lim, "record 1: <count> '-5'",
	    "not a number");
	expect_error("err-huge-count.xml", lim, "record 1: <count> "
	    "1099511627777", "(2^40)");
	expect_error("err-bad-ip.xml", lim,
	    "record 3: <source_ip> 'not-an-ip' is not an IPv4 or IPv6 address",
	    NULL);
	expect_error("err-missing-ip.xml", lim, "record 1", "<source_ip>");
	expect_error("err-missing-report-id.xml", lim, "missing",
	    "<report_id>");
	expect_error("err-missing-date-range.xml", lim, "missing",
	    "<date_range>");
	expect_error("err-missing-end.xml", lim, "missing", "<end>");
	expect_error("err-bad-date.xml", lim, "<begin> '2023-11-14'",
	    "not a number");
	expect_error("err-missing-domain.xml", lim, "missing", "<domain>");
	expect_error("err-not-wellformed.xml", lim, "XML error at line 36",
	    "mismatch");
	expect_error("err-truncated.xml", lim, "XML error at line", NULL);
	expect_error("err-trailing.xml", lim, "XML error at line",
	    "Extra content");
	expect_error("err-doctype.xml", lim, "DTD not allowed", NULL);
	expect_error("err-xxe.xml", lim, "DTD not allowed", NULL);
	expect_error("err-undefined-entity.xml", lim, "XML error",
	    "Entity 'ext' not defined");
	expect_error("err-wrong-root.xml", lim,
	    "not a DMARC aggregate report (root element <html>)", NULL);
	expect_error("err-empty.xml", lim, "empty document", NULL);
	expect_error("err-meta-after-record.xml", lim, "<report_metadata>",
	    "after the first <record>");
}

/*
 * The parser hands libxml2 its input AGG_CHUNK (64 KiB) bytes at a time.
 * These documents are padded with a comment so that a marker straddles
 * that boundary at every possible split: a multi-byte character, a CDATA
 * section, a tag, the DOCTYPE keyword, a UTF-16 surrogate pair.
 */
#define CHUNK	65536

static const char bnd_prolog[] = "<?xml version=\"1.0\" encoding=\"%s\"?>\n";
static const char bnd_body[] =
    "<feedback><report_metadata><org_name>\xf0\x9f\x98\x80 Empf\xc3\xa4nger"
    "</org_name><report_id>r-1</report_id><date_range><begin>1</begin>"
    "<end>2</end></date_range></report_metadata><policy_published>"
    "<domain>example.org</domain></policy_published><record><row>"
    "<source_ip>192.0.2.1</source_ip><count>3</count><policy_evaluated>"
    "<dkim><![CDATA[ pass ]]></dkim></policy_evaluated></row></record>"
    "</feedback>\n";
static const char bnd_doctype[] =
    "<!DOCTYPE feedback [<!ENTITY e SYSTEM \"file:///etc/passwd\">]>\n";

/* prolog, "<!--" pad "-->\n", then body; malloc'd, length in *len_r. */
static char *
bnd_doc(const char *encoding, size_t pad, const char *body, size_t *len_r)
{
	char	 prolog[128];
	char	*d;
	size_t	 pl, bl = strlen(body);

	pl = (size_t)snprintf(prolog, sizeof(prolog), bnd_prolog, encoding);
	if ((d = malloc(pl + pad + 8 + bl)) == NULL)
		return NULL;
	memcpy(d, prolog, pl);
	memcpy(d + pl, "<!--", 4);
	memset(d + pl + 4, 'x', pad);
	memcpy(d + pl + 4 + pad, "-->\n", 4);
	memcpy(d + pl + 8 + pad, body, bl);
	*len_r = pl + pad + 8 + bl;
	return d;
}

/* The pad that puts body[at] at CHUNK - split in the UTF-8 document. */
static size_t
bnd_pad(size_t at, size_t split)
{
	char	prolog[128];
	size_t	pl = (size_t)snprintf(prolog, sizeof(prolog), bnd_prolog,
		    "UTF-8");

	return CHUNK - split - at - pl - 8;
}

static void
bnd_check(const char *what, const struct result *r, int *fine)
{
	if (r->rc == 0 && strcmp(get(r, "org_name"),
	    "\xf0\x9f\x98\x80 Empf\xc3\xa4nger") == 0 &&
	    strcmp(get(r, "1.dkim"), "pass") == 0 &&
	    strcmp(get(r, "records"), "1") == 0)
		return;
	*fine = 0;
	diag("  %s: rc %d '%s'", what, r->rc, r->err);
}

static void
test_chunk_boundaries(const struct agg_limits *lim)
{
	static const char *const markers[] = {
		"\xf0\x9f\x98\x80", "\xc3\xa4", "<![CDATA[", "]]>", "</org_name>",
	};
	struct result	 r;
	const char	*m;
	char		*d, *u16, *in, *out, what[64];
	size_t		 i, split, len, at, inleft, outleft;
	int		 fine;
	iconv_t		 cd;

	for (i = 0; i < sizeof(markers) / sizeof(markers[0]); i++) {
		m = markers[i];
		at = (size_t)(strstr(bnd_body, m) - bnd_body);
		fine = 1;
		for (split = 1; split < strlen(m); split++) {
			if ((d = bnd_doc("UTF-8", bnd_pad(at, split), bnd_body,
			    &len)) == NULL)
				break;
			snprintf(what, sizeof(what), "marker %zu split %zu",
			    i, split);
			parse_both(what, d, len, lim, &r);
			bnd_check(what, &r, &fine);
			free(r.text);
			free(d);
		}
		ok(fine, "marker %zu across the chunk boundary, every split", i);
	}

	/* The DOCTYPE keyword split: still refused. */
	fine = 1;
	for (split = 1; split < 9; split++) {
		if ((d = bnd_doc("UTF-8", bnd_pad(0, split), bnd_doctype,
		    &len)) == NULL)
			break;
		snprintf(what, sizeof(what), "DOCTYPE split %zu", split);
		parse_both(what, d, len, lim, &r);
		if (r.rc != -1 || strcmp(r.err, "DTD not allowed") != 0) {
			fine = 0;
			diag("  %s: rc %d '%s'", what, r.rc, r.err);
		}
		free(r.text);
		free(d);
	}
	ok(fine, "<!DOCTYPE across the chunk boundary refused, every split");

	/*
	 * UTF-16LE with a BOM: the emoji's surrogate pair split in two.  What
	 * precedes it is ASCII, two bytes a character.
	 */
	at = (size_t)(strstr(bnd_body, "\xf0") - bnd_body);
	{
		char	prolog[128];
		size_t	pl = (size_t)snprintf(prolog, sizeof(prolog),
			    bnd_prolog, "UTF-16");

		/* 2 (BOM) + 2 * (pl + 8 + pad + at) = CHUNK - 2 */
		d = bnd_doc("UTF-16", (CHUNK - 4) / 2 - pl - 8 - at, bnd_body,
		    &len);
	}
	fine = 0;
	if (d != NULL && (cd = iconv_open("UTF-16LE", "UTF-8")) !=
	    (iconv_t)-1) {
		if ((u16 = malloc(2 * len + 2)) != NULL) {
			u16[0] = (char)0xff;
			u16[1] = (char)0xfe;
			in = d;
			inleft = len;
			out = u16 + 2;
			outleft = 2 * len;
			if (iconv(cd, &in, &inleft, &out, &outleft) !=
			    (size_t)-1 && inleft == 0) {
				fine = 1;
				parse_both("UTF-16 surrogate pair split", u16,
				    (size_t)(out - u16), lim, &r);
				bnd_check("UTF-16", &r, &fine);
				free(r.text);
			}
			free(u16);
		}
		iconv_close(cd);
	}
	free(d);
	ok(fine, "UTF-16 surrogate pair across the chunk boundary");
}

/* Fewer than the 4 bytes libxml2 guesses the encoding from. */
static void
test_tiny(const struct agg_limits *lim)
{
	static const char *const docs[] = { "", "<", "<a", "<a>", "\xef\xbb\xbf" };
	char		 what[48];
	size_t		 i;
	struct result	 r;
	int		 fine = 1;

	for (i = 0; i < sizeof(docs) / sizeof(docs[0]); i++) {
		snprintf(what, sizeof(what), "%zu-byte document", strlen(docs[i]));
		parse_both(what, docs[i], strlen(docs[i]), lim, &r);
		if (r.rc != -1 || r.err[0] == '\0')
			fine = 0;
		free(r.text);
	}
	ok(fine, "documents under 4 bytes refused with a reason");
	parse_both("0-byte document", "", 0, lim, &r);
	is_str(r.err, "empty document", "0 bytes: empty document");
	free(r.text);
}

static int
fail_record(void *ctx, const struct agg_report *r,
    const struct agg_record *x, const char **error_r)
{
	*error_r = "handler says no";
	return -1;
}

static void
test_handler_stop(const struct agg_limits *lim)
{
	static const struct agg_handler	h = { NULL, fail_record, NULL };
	static const char doc[] = "<feedback><report_metadata><report_id>x"
	    "</report_id><date_range><begin>1</begin><end>2</end></date_range>"
	    "</report_metadata><policy_published><domain>d</domain>"
	    "</policy_published><record><row><source_ip>192.0.2.1</source_ip>"
	    "<count>1</count></row></record></feedback>";
	char	err[256];

	is_int(agg_parse_mem(doc, sizeof(doc) - 1, lim, &h, NULL, err,
	    sizeof(err)), -1, "a handler's -1 stops the parse");
	is_str(err, "handler says no", "with the handler's reason");
}

int
main(void)
{
	struct agg_limits	lim;

	agg_global_init();
	agg_limits_default(&lim);
	test_basic(&lim);
	test_tolerance(&lim);
	test_namespaces(&lim);
	test_records(&lim);
	test_caps(&lim);
	test_errors(&lim);
	test_handler_stop(&lim);
	test_chunk_boundaries(&lim);
	test_tiny(&lim);
	return done_testing();
}
