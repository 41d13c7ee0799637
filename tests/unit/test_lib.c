/* test_lib.c - the capped buffer, the JSON encoder, log escaping, spool,
 * the metrics' exposition format. */
#include "config.h"

#include <stdatomic.h>
#include <stdlib.h>

#include "lib.h"
#include "tap.h"

static void
test_buf(void)
{
	struct buf	b;

	buf_init(&b, 8);
	is_int(buf_adds(&b, "1234567"), 0, "buf: fits under its cap");
	is_int(buf_addc(&b, '8'), 0, "buf: fills to exactly its cap");
	is_int(buf_addc(&b, '9'), -1, "buf: refuses to grow past its cap");
	is_str(b.data, "12345678", "buf: content intact after refusal");
	buf_reset(&b);
	is_int(buf_printf(&b, "%d-%s", 42, "x"), 0, "buf_printf");
	is_str(b.data, "42-x", "buf_printf result");
	is_int(buf_printf(&b, "%s", "far too long for it"), -1,
	    "buf_printf respects the cap");
	buf_free(&b);
}

static void
test_json(void)
{
	struct buf	b;

	buf_init(&b, 1 << 16);
	json_str(&b, "a\"b\\c\n\x01<>");
	is_str(b.data, "\"a\\\"b\\\\c\\n\\u0001<>\"", "json: escapes");
	buf_reset(&b);
	json_str(&b, NULL);
	is_str(b.data, "null", "json: NULL is null");
	buf_reset(&b);
	json_str(&b, "caf\xc3\xa9 \xff\xfe \xed\xa0\x80");
	is_str(b.data, "\"caf\xc3\xa9 \\ufffd\\ufffd \\ufffd\\ufffd\\ufffd\"",
	    "json: valid UTF-8 kept, invalid bytes and surrogates replaced");
	buf_reset(&b);
	json_int(&b, -9223372036854775807LL - 1);
	is_str(b.data, "-9223372036854775808", "json: INT64_MIN");
	buf_reset(&b);
	json_uint(&b, 18446744073709551615ULL);
	is_str(b.data, "18446744073709551615", "json: UINT64_MAX");
	buf_free(&b);
}

static void
test_escape(void)
{
	char	out[64];

	str_escape(out, sizeof(out), "a\nb\x1b[31m\\", 9);
	is_str(out, "a\\x0ab\\x1b[31m\\\\", "log: control bytes escaped");
	str_escape(out, 10, "0123456789abcdef", 16);
	ok(strlen(out) < 10 && strstr(out, "...") != NULL,
	    "log: long text truncated with an ellipsis");
}

static void
test_utf8(void)
{
	struct buf	b;

	is_int(utf8_len((const unsigned char *)"a", 1), 1, "utf8: ASCII");
	is_int(utf8_len((const unsigned char *)"\xc3\xa9", 2), 2, "utf8: 2 bytes");
	is_int(utf8_len((const unsigned char *)"\xf0\x9f\x98\x80", 4), 4,
	    "utf8: 4 bytes");
	is_int(utf8_len((const unsigned char *)"\xc3", 1), 0, "utf8: truncated");
	is_int(utf8_len((const unsigned char *)"\xc0\xaf", 2), 0,
	    "utf8: overlong refused");
	is_int(utf8_len((const unsigned char *)"\xed\xa0\x80", 3), 0,
	    "utf8: surrogate refused");
	is_int(utf8_len((const unsigned char *)"\xf4\x90\x80\x80", 4), 0,
	    "utf8: past U+10FFFF refused");
	buf_init(&b, 1 << 12);
	html_escape(&b, "<a href=\"x\">&'\r\xff\xc3\xa9</a>");
	is_str(b.data, "&lt;a href=&quot;x&quot;&gt;&amp;&#39;\xef\xbf\xbd"
	    "\xef\xbf\xbd\xc3\xa9&lt;/a&gt;",
	    "html: markup escaped, CR and bad UTF-8 replaced, UTF-8 kept");
	buf_free(&b);
}

static void
test_spool(void)
{
	struct spool	s;
	FILE		*f = tmpfile();
	char		 big[5000], back[6000];
	size_t		 n;

	memset(big, 'x', sizeof(big));
	spool_init(&s, 1000);
	ok(spool_write(&s, "head", 4) == 0, "spool: small write in memory");
	ok(s.file == NULL, "spool: still in memory");
	ok(spool_write(&s, big, sizeof(big)) == 0, "spool: spills to file");
	ok(s.file != NULL, "spool: file in use past mem_cap");
	ok(spool_flush_to(&s, f) == 0, "spool: flush");
	rewind(f);
	n = fread(back, 1, sizeof(back), f);
	is_int(n, 4 + sizeof(big), "spool: every byte flushed in order");
	ok(memcmp(back, "headxxx", 7) == 0, "spool: order kept");
	spool_free(&s);
	fclose(f);
}

static void
test_util(void)
{
	int64_t	v;
	char	s[] = "  Hello \r\n";

	is_str(str_trim(s), "Hello", "str_trim");
	ok(parse_int64(" 42 ", 0, 100, &v) == 0 && v == 42, "parse_int64");
	ok(parse_int64("4x", 0, 100, &v) == -1, "parse_int64: junk refused");
	ok(parse_int64("101", 0, 100, &v) == -1, "parse_int64: range");
	ok(parse_int64("", 0, 100, &v) == -1, "parse_int64: empty refused");
	ok(parse_int64("99999999999999999999", 0, INT64_MAX, &v) == -1,
	    "parse_int64: overflow refused");
}

/* The users file's domain patterns (http_users). */
static void
test_domain_pattern(void)
{
	ok(domain_pattern_ok("example.com") && domain_pattern_ok("*") &&
	    domain_pattern_ok("*.example.com"), "domain_pattern_ok: forms");
	ok(!domain_pattern_ok("") && !domain_pattern_ok("*.") &&
	    !domain_pattern_ok("a.*.com") && !domain_pattern_ok("Example.com")
	    && !domain_pattern_ok("a..com") && !domain_pattern_ok("a.com.") &&
	    !domain_pattern_ok("**.com") && !domain_pattern_ok("a b") &&
	    !domain_pattern_ok("a,b"), "domain_pattern_ok: refused");
	ok(domain_pattern_match("example.com", "example.com") &&
	    !domain_pattern_match("example.com", "mail.example.com") &&
	    !domain_pattern_match("example.com", "example.co"),
	    "domain_pattern_match: a domain is itself only");
	ok(domain_pattern_match("*.example.com", "mail.example.com") &&
	    domain_pattern_match("*.example.com", "a.b.example.com") &&
	    !domain_pattern_match("*.example.com", "example.com") &&
	    !domain_pattern_match("*.example.com", "badexample.com") &&
	    !domain_pattern_match("*.example.com", ".example.com"),
	    "domain_pattern_match: *.D is D's subdomains");
	ok(domain_pattern_match("*", "anything.example"),
	    "domain_pattern_match: * is every domain");
}

/* buf_wrap: --help's columns and the summary's paragraphs. */
static void
test_wrap(void)
{
	struct buf	b;

	buf_init(&b, 4096);
	buf_wrap(&b, "one two  three", 0, 0, 9);
	ok(b.len == 14 && memcmp(b.data, "one two\nthree\n", 14) == 0,
	    "wrap: words to the width, runs of spaces taken as one");
	buf_reset(&b);
	buf_wrap(&b, "aa bb cc", 4, 6, 12);
	ok(b.len == 17 && memcmp(b.data, "  aa bb\n      cc\n", 17) == 0,
	    "wrap: a first line short of indent is padded, the next indented");
	buf_reset(&b);
	buf_wrap(&b, "averyveryverylongword x", 0, 2, 8);
	ok(b.len == 28 && memcmp(b.data, "  averyveryverylongword\n  x\n",
	    28) == 0, "wrap: a word longer than the width stands alone, whole");
	buf_reset(&b);
	buf_wrap(&b, "", 3, 3, 10);
	ok(b.len == 1 && b.data[0] == '\n', "wrap: nothing is a newline");
	buf_free(&b);
}

/* The exposition format (lib/metrics.c): escaping, buckets, the cap. */
static void
test_metrics(void)
{
	static const double		 bounds[] = { 0.001, 0.5 };
	static struct metrics_histogram	 h;
	const char			*l[] = { "k", "a\\b\"c\nd", "z", "",
					    NULL };
	metrics_counter			 c;
	struct buf			 b;

	buf_init(&b, 4096);
	atomic_init(&c, 0);
	metrics_add(&c, 3);
	metrics_add(&c, 4);
	is_int(metrics_get(&c), 7, "metrics: a counter adds");
	metrics_family(&b, "x_total", "counter", "line\nback\\slash \"q\"");
	metrics_sample(&b, "x_total", l, metrics_get(&c));
	metrics_sample(&b, "y", NULL, 0);
	buf_addc(&b, '\0');
	is_str(b.data, "# HELP x_total line\\nback\\\\slash \"q\"\n"
	    "# TYPE x_total counter\n"
	    "x_total{k=\"a\\\\b\\\"c\\nd\",z=\"\"} 7\n"
	    "y 0\n", "metrics: HELP and label values escaped, no braces "
	    "without labels");
	buf_reset(&b);
	metrics_histogram_init(&h, bounds, nitems(bounds));
	metrics_observe(&h, 1000);	/* 1 ms: le="0.001" holds it */
	metrics_observe(&h, 1001);
	metrics_observe(&h, 2000000);
	metrics_histogram_write(&b, "t_seconds", NULL, &h);
	buf_addc(&b, '\0');
	is_str(b.data, "t_seconds_bucket{le=\"0.001\"} 1\n"
	    "t_seconds_bucket{le=\"0.5\"} 2\n"
	    "t_seconds_bucket{le=\"+Inf\"} 3\n"
	    "t_seconds_sum 2.002001\n"
	    "t_seconds_count 3\n",
	    "metrics: buckets cumulative, +Inf last, _sum in seconds");
	{
		static metrics_counter	two[2];

		buf_reset(&b);
		metrics_add(&two[1], 5);
		metrics_counters(&b, "r_total", "by class", "class",
		    metrics_status_classes, two, 2);
		buf_addc(&b, '\0');
		is_str(b.data, "# HELP r_total by class\n"
		    "# TYPE r_total counter\n"
		    "r_total{class=\"2xx\"} 0\n"
		    "r_total{class=\"3xx\"} 5\n",
		    "metrics: a counter family by one label");
	}
	buf_free(&b);
	buf_init(&b, 8);
	ok(metrics_family(&b, "long_name", "gauge", "h") == -1,
	    "metrics: the buffer's cap is an error");
	buf_free(&b);
}

int
main(void)
{
	test_buf();
	test_metrics();
	test_wrap();
	test_json();
	test_escape();
	test_utf8();
	test_spool();
	test_util();
	test_domain_pattern();
	return done_testing();
}
