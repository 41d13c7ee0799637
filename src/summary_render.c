/*
 * summary_render.c - a summary as text (80 columns, for a terminal or a
 * plain-text mail reader) and as HTML (tables, inline styles, no external
 * resource, no script).  Every string from a report goes through
 * str_escape() for the text and html_escape() for the HTML; numbers are
 * ours.
 */
#include "config.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "summary.h"

#define TEXT_WIDTH	78	/* wrap prose here */
#define CLEAN_MAX	256	/* bytes of one cleaned value */
#define IP_COL		39	/* an IPv6 address in full */
/* a source as named by summary.c (escaped already), else its address */
#define SRC_NAME(src)	((src)->name != NULL ? (src)->name : (src)->ip)
#define SUBJECT_DOMAINS	3	/* named in the Subject, then "and N more" */

/* Every append here is small (CLEAN_MAX, a paragraph) and fails whole at
 * the cap, so one check at the end tells whether anything was dropped. */
#define APPEND_MAX	(64 * 1024)

static bool
buf_near_cap(const struct buf *b)
{
	return b->len + APPEND_MAX >= b->cap;
}

/* Report text made safe for a terminal: control bytes and invalid UTF-8
 * escaped, cut at max bytes. */
static const char *
clean(char *dst, size_t dstlen, const char *s)
{
	if (s == NULL || *s == '\0')
		return "-";
	str_escape(dst, dstlen, s, strlen(s));
	return dst;
}

static void
day_str(time_t t, char *buf, size_t len)
{
	struct tm	tm;

	gmtime_r(&t, &tm);
	strftime(buf, len, "%Y-%m-%d", &tm);
}

/* "99.9 %", or "-" without messages. */
static void
rate_str(uint64_t part, uint64_t whole, char *buf, size_t len)
{
	if (whole == 0)
		snprintf(buf, len, "-");
	else
		snprintf(buf, len, "%.1f %%", 100.0 * part / whole);
}

/* Change of a rate in percentage points. */
static void
rate_change(uint64_t p1, uint64_t w1, uint64_t p0, uint64_t w0, char *buf,
    size_t len)
{
	if (w1 == 0 || w0 == 0)
		snprintf(buf, len, "-");
	else
		snprintf(buf, len, "%+.1f pt", 100.0 * p1 / w1 -
		    100.0 * p0 / w0);
}

static void
count_change(uint64_t cur, uint64_t prev, char *buf, size_t len)
{
	if (prev == 0)
		snprintf(buf, len, "%s", cur == 0 ? "-" : "new");
	else
		snprintf(buf, len, "%+.0f %%",
		    100.0 * ((double)cur - (double)prev) / prev);
}

static const char *
plural(uint64_t n, const char *one, const char *many)
{
	return n == 1 ? one : many;
}

/* The policy step after the published one. */
static const char *
next_step(const struct summary_domain *d)
{
	if (d->p == NULL || *d->p == '\0')
		return "publish a DMARC record, p=none first";
	if (strcasecmp(d->p, "none") == 0)
		return "p=quarantine (pct=25 first, if you want to go slowly)";
	if (d->pct != -1 && d->pct < 100)
		return "pct=100 with the same p=";
	if (strcasecmp(d->p, "quarantine") == 0)
		return "p=reject";
	return "nothing stricter: p=reject already";
}

/* The verdict in plain words, one paragraph. */
static int
verdict_rule(const struct summary *s, const struct summary_domain *d,
    struct buf *out)
{
	char		 rate[16], day[16], ex[CLEAN_MAX];
	unsigned	 wdays = (unsigned)((s->until - d->window_since) / 86400);

	rate_str(d->window.pass, d->window.messages, rate, sizeof(rate));
	switch (d->verdict) {
	case VERDICT_NO_DATA:
		return buf_printf(out, "Cannot tell: no reports in the last "
		    "%u days.", wdays);
	case VERDICT_TOO_NEW:
		day_str(d->first_seen, day, sizeof(day));
		return buf_printf(out, "Not yet: reports for this domain "
		    "start on %s. Wait for %d days of them before a stricter "
		    "policy.", day, SUMMARY_READY_DAYS);
	case VERDICT_LOW_VOLUME:
		return buf_printf(out, "Not yet: only %" PRIu64 " %s in the "
		    "last %u days; at least %d are needed to judge.",
		    d->window.messages, plural(d->window.messages, "message",
		    "messages"), wdays, SUMMARY_READY_MESSAGES);
	case VERDICT_FAILING:
		return buf_printf(out, "Not ready: %s of %" PRIu64 " messages "
		    "passed DMARC in the last %u days; %d.%d %% is needed. "
		    "Fix the failing sources that are yours first; a "
		    "stricter policy would lose their mail.", rate,
		    d->window.messages, wdays, SUMMARY_READY_PERMILLE / 10,
		    SUMMARY_READY_PERMILLE % 10);
	case VERDICT_LEGIT_FAILING:
		return buf_printf(out, "Not ready: %" PRIu64 " %s (such as "
		    "%s) passed DMARC for some messages and failed for others "
		    "in the last %u days: an authorised sender not fully set "
		    "up. A stricter policy would lose its failing mail.",
		    d->legit_failing, plural(d->legit_failing, "source",
		    "sources"), clean(ex, sizeof(ex), d->legit_example),
		    wdays);
	case VERDICT_READY:
		return buf_printf(out, "Ready for a stricter policy: %s of "
		    "%" PRIu64 " messages passed DMARC in the last %u days, "
		    "and no sender fails part of the time. Next step: %s.",
		    rate, d->window.messages, wdays, next_step(d));
	case VERDICT_AT_REJECT:
		return buf_printf(out, "Already at p=reject: nothing stricter "
		    "to move to. %s passed DMARC in the last %u days.", rate,
		    wdays);
	}
	return 0;
}

/* "p=quarantine" or "p=reject, pct=50": the step's policy. */
static void
step_policy(const struct summary_step *st, char *buf, size_t len)
{
	if (st->pct < 100)
		snprintf(buf, len, "p=%s, pct=%u", st->p, st->pct);
	else
		snprintf(buf, len, "p=%s", st->p);
}

/* The simulator's figure for the next step, after the verdict. */
static int
step_words(const struct summary *s, const struct summary_domain *d,
    struct buf *out)
{
	const struct summary_step	*st = &d->step;
	char				 pol[48], rate[16], svc[CLEAN_MAX];
	char				 why[CLEAN_MAX];
	unsigned			 wdays;

	if (!st->has)
		return 0;
	wdays = (unsigned)((s->until - d->window_since) / 86400);
	step_policy(st, pol, sizeof(pol));
	if (st->would_fail == 0)
		return buf_printf(out, " Simulated on the last %u days' "
		    "reports: under %s, none of the %" PRIu64 " messages "
		    "would be quarantined or rejected.", wdays, pol,
		    st->messages);
	rate_str(st->would_fail, st->messages, rate, sizeof(rate));
	if (buf_printf(out, " Simulated on the last %u days' reports: under "
	    "%s, %" PRIu64 " of %" PRIu64 " messages (%s) would be %s.",
	    wdays, pol, st->would_fail, st->messages, rate,
	    strcmp(st->p, "reject") == 0 ? "rejected or quarantined" :
	    "quarantined") == -1)
		return -1;
	if (st->top_ip == NULL)
		return 0;
	return buf_printf(out, " Most of it from %s%s%s%s (%" PRIu64 "): %s.",
	    st->top_ip, st->top_service ? " (" : "",
	    st->top_service ? clean(svc, sizeof(svc), st->top_service) : "",
	    st->top_service ? ")" : "", st->top_fail,
	    clean(why, sizeof(why), st->top_why));
}

/* The domain's Readiness page on the dashboard (http_public_url), the
 * domain percent-encoded; "" without a URL. */
static void
readiness_url(const struct summary *s, const struct summary_domain *d,
    char *buf, size_t len)
{
	static const char	 hex[] = "0123456789ABCDEF";
	const unsigned char	*p;
	size_t			 o;

	*buf = '\0';
	if (s->public_url == NULL)
		return;
	o = (size_t)snprintf(buf, len, "%s%s#/readiness?domain=",
	    s->public_url, s->public_url[strlen(s->public_url) - 1] == '/' ?
	    "" : "/");
	for (p = (const unsigned char *)d->name; *p != '\0' && o + 4 < len;
	    p++) {
		if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		    (*p >= '0' && *p <= '9') || strchr("-._~", *p) != NULL)
			buf[o++] = *p;
		else {
			buf[o++] = '%';
			buf[o++] = hex[*p >> 4];
			buf[o++] = hex[*p & 15];
		}
	}
	buf[o < len ? o : len - 1] = '\0';
}

static int
verdict_words(const struct summary *s, const struct summary_domain *d,
    struct buf *out)
{
	if (verdict_rule(s, d, out) == -1)
		return -1;
	return step_words(s, d, out);
}

/* Domains by what the next step would fail, most first (ties: name). */
static int
attention_cmp(const void *a, const void *b)
{
	const struct summary_domain	*x, *y;

	x = *(const struct summary_domain *const *)a;
	y = *(const struct summary_domain *const *)b;

	if (x->step.would_fail != y->step.would_fail)
		return x->step.would_fail > y->step.would_fail ? -1 : 1;
	return strcmp(x->name, y->name);
}

static const struct summary_domain **
attention_order(const struct summary *s)
{
	const struct summary_domain	**v;
	size_t				  i;

	if ((v = calloc(s->n_domains ? s->n_domains : 1, sizeof(*v))) == NULL)
		return NULL;
	for (i = 0; i < s->n_domains; i++)
		v[i] = &s->domains[i];
	qsort(v, s->n_domains, sizeof(*v), attention_cmp);
	return v;
}

/* Appends text wrapped at TEXT_WIDTH, every line indented by indent. */
static int
text_wrap(struct buf *out, const char *text, int indent)
{
	return buf_wrap(out, text, 0, indent, TEXT_WIDTH);
}

static int
text_heading(struct buf *out, const char *title)
{
	size_t	i, n = strlen(title);

	if (buf_printf(out, "\n%s\n", title) == -1)
		return -1;
	for (i = 0; i < n && i < TEXT_WIDTH; i++)
		if (buf_addc(out, '=') == -1)
			return -1;
	return buf_addc(out, '\n');
}

static int
text_row(struct buf *out, const char *label, const char *cur,
    const char *prev, const char *change)
{
	return buf_printf(out, "  %-20s %12s %12s %12s\n", label, cur, prev,
	    change);
}

static int
text_domain(const struct summary *s, const struct summary_domain *d,
    struct buf *out)
{
	const struct summary_source	*src;
	struct buf			 para;
	char				 a[32], b[32], c[32], day[16];
	char				 x[CLEAN_MAX], y[CLEAN_MAX];
	char				 z[CLEAN_MAX], url[SUMMARY_URL_MAX + 4 * 256];
	size_t				 i;
	int				 rc = 0;
	bool				 first;

	if (text_heading(out, clean(x, sizeof(x), d->name)) == -1)
		return -1;
	if (d->p != NULL) {
		day_str(d->policy_time, day, sizeof(day));
		snprintf(a, sizeof(a), "%d", d->pct == -1 ? 100 : d->pct);
		buf_printf(out, "Policy published: p=%s sp=%s pct=%s\n"
		    "  (latest report: %s, %s)\n", clean(x, 64, d->p),
		    clean(y, 64, d->sp ? d->sp : d->p), a,
		    clean(z, sizeof(z), d->policy_reporter), day);
	} else
		buf_printf(out, "Policy published: unknown (no report yet)\n");

	if (d->cur.messages == 0) {
		buf_addc(out, '\n');
		text_wrap(out, d->prev.messages ? "No reports arrived for "
		    "this domain in this period (there were some in the "
		    "previous one)." : "No reports arrived for this domain in "
		    "this period.", 0);
	}
	buf_printf(out, "\n  %-20s %12s %12s %12s\n", "", "This period",
	    "Previous", "Change");
	snprintf(a, sizeof(a), "%" PRIu64, d->cur.messages);
	snprintf(b, sizeof(b), "%" PRIu64, d->prev.messages);
	count_change(d->cur.messages, d->prev.messages, c, sizeof(c));
	text_row(out, "Messages", a, b, c);
#define RATE_ROW(label, f) do {						\
	rate_str(d->cur.f, d->cur.messages, a, sizeof(a));		\
	rate_str(d->prev.f, d->prev.messages, b, sizeof(b));		\
	rate_change(d->cur.f, d->cur.messages, d->prev.f,		\
	    d->prev.messages, c, sizeof(c));				\
	text_row(out, label, a, b, c);					\
} while (0)
	RATE_ROW("DMARC pass", pass);
	RATE_ROW("DKIM aligned", dkim);
	RATE_ROW("SPF aligned", spf);
#undef RATE_ROW
	buf_printf(out, "  %-20s %12" PRIu64 "\n", "Reports", d->reports);
	buf_printf(out, "  %-20s %12" PRIu64 "\n", "Quarantined",
	    d->quarantined);

	buf_init(&para, 4096);
	if (buf_adds(&para, "Verdict: ") == -1 ||
	    verdict_words(s, d, &para) == -1) {
		buf_free(&para);
		return -1;
	}
	buf_addc(out, '\n');
	rc = text_wrap(out, para.data, 0);
	buf_free(&para);
	if (rc == -1)
		return -1;
	readiness_url(s, d, url, sizeof(url));
	if (*url != '\0')
		buf_printf(out, "Readiness on the dashboard:\n  %s\n", url);

	if (d->n_failing > 0) {
		buf_printf(out, "\nTop failing sources (%zu of %" PRIu64
		    ", messages that failed DMARC)\n", d->n_failing,
		    d->failing_total);
		buf_printf(out, "  %-*s %9s  %s\n", IP_COL, "Source",
		    "Messages", "header_from");
		for (i = 0; i < d->n_failing; i++) {
			src = &d->failing[i];
			buf_printf(out, "  %-*s %9" PRIu64 "  %s\n", IP_COL,
			    SRC_NAME(src), src->messages, clean(x, 64,
			    src->header_from));
			if (src->reasons != NULL)
				text_wrap(out, clean(y, sizeof(y),
				    src->reasons), 6);
		}
	} else if (d->cur.messages > 0)
		buf_printf(out, "\nNo source failed DMARC in this period.\n");

	if (d->n_fresh > 0) {
		buf_printf(out, "\nNew sources (%zu of %" PRIu64 ", not seen "
		    "before this period)\n", d->n_fresh, d->fresh_total);
		buf_printf(out, "  %-*s %9s %6s  %s\n", IP_COL, "Source",
		    "Messages", "Pass", "header_from");
		for (i = 0; i < d->n_fresh; i++) {
			src = &d->fresh[i];
			buf_printf(out, "  %-*s %9" PRIu64 " %6" PRIu64
			    "  %s\n", IP_COL, SRC_NAME(src), src->messages,
			    src->pass, clean(x, 64, src->header_from));
		}
	}

	if (d->n_reporters > 0 && d->reporters[0].reports > 0) {
		buf_init(&para, 16384);
		buf_adds(&para, "Reporters:");
		for (i = 0; i < d->n_reporters; i++)
			if (d->reporters[i].reports > 0)
				buf_printf(&para, "%s %s (%" PRIu64 ")",
				    i ? "," : "", clean(x, 128,
				    d->reporters[i].name),
				    d->reporters[i].reports);
		buf_addc(out, '\n');
		rc = text_wrap(out, para.data, 0);
		buf_free(&para);
	}
	first = true;
	buf_init(&para, 16384);
	for (i = 0; i < d->n_reporters; i++) {
		if (d->reporters[i].reports > 0)
			continue;
		if (first)
			buf_adds(&para, "Gone silent (reported in the "
			    "previous period, not in this one):");
		buf_printf(&para, "%s %s", first ? "" : ",",
		    clean(x, 128, d->reporters[i].name));
		first = false;
	}
	if (!first)
		rc = text_wrap(out, para.data, 0);
	buf_free(&para);
	return rc;
}

/* The opening table: every domain, what needs attention first, then the
 * total of all. */
static int
text_overview(const struct summary *s, struct buf *out)
{
	const struct summary_domain	**v;
	char				  x[CLEAN_MAX], rate[16], pol[48];
	char				  fail[24];
	uint64_t			  m = 0, p = 0, f = 0;
	size_t				  i;

	if (s->n_domains == 0)
		return 0;
	if ((v = attention_order(s)) == NULL)
		return -1;
	text_heading(out, "Domains: what the next policy step would fail");
	buf_printf(out, "  %-28s %9s %7s  %-16s %10s\n", "Domain",
	    "Messages", "Pass", "Next step", "Would fail");
	for (i = 0; i < s->n_domains; i++) {
		const struct summary_domain	*d = v[i];

		rate_str(d->cur.pass, d->cur.messages, rate, sizeof(rate));
		if (d->step.has) {
			step_policy(&d->step, pol, sizeof(pol));
			snprintf(fail, sizeof(fail), "%" PRIu64,
			    d->step.would_fail);
		} else {
			snprintf(pol, sizeof(pol), "-");
			snprintf(fail, sizeof(fail), "-");
		}
		clean(x, sizeof(x), d->name);
		/* a long name on a line of its own: the row stays in 80 */
		if (strlen(x) > 28) {
			buf_wrap(out, x, 0, 2, TEXT_WIDTH);
			x[0] = '\0';
		}
		buf_printf(out, "  %-28s %9" PRIu64 " %7s  %-16s %10s\n", x,
		    d->cur.messages, rate, pol, fail);
		m += d->cur.messages;
		p += d->cur.pass;
		f += d->step.would_fail;
	}
	rate_str(p, m, rate, sizeof(rate));
	buf_printf(out, "  %-28s %9" PRIu64 " %7s  %-16s %10" PRIu64 "\n",
	    "All domains", m, rate, "", f);
	free(v);
	return 0;
}

int
summary_render_text(const struct summary *s, struct buf *out)
{
	char	since[16], last[16], prev[16], prevlast[16], when[32];
	char	x[CLEAN_MAX];
	size_t	i;

	day_str(s->since, since, sizeof(since));
	day_str(s->until - 86400, last, sizeof(last));
	day_str(s->prev_since, prev, sizeof(prev));
	day_str(s->since - 86400, prevlast, sizeof(prevlast));
	buf_printf(out, "DMARC summary: %s to %s (%u %s)\n", since, last,
	    s->days, plural(s->days, "day", "days"));
	buf_printf(out, "Compared with the %u %s before: %s to %s.\n",
	    s->days, plural(s->days, "day", "days"), prev, prevlast);
	if (s->n_domains == 0)
		buf_printf(out, "\nNo reports arrived in this period%s%s. "
		    "dmarcd is running; this message says so.\n",
		    s->only_domain ? " for " : "",
		    s->only_domain ? clean(x, 100, s->only_domain) : "");
	if (text_overview(s, out) == -1)
		return -1;
	for (i = 0; i < s->n_domains; i++)
		if (text_domain(s, &s->domains[i], out) == -1)
			return -1;

	text_heading(out, "All domains");
	buf_printf(out, "Quarantined messages: %" PRIu64 " in this period, "
	    "%" PRIu64 " unresolved in all\n", s->quarantined,
	    s->quarantine_open);
	if (s->forensic >= 0)
		buf_printf(out, "Failure reports: %" PRId64 "\n", s->forensic);
	if (s->tlsrpt >= 0)
		buf_printf(out, "TLS reports: %" PRId64 "\n", s->tlsrpt);
	if (s->last_received != 0) {
		struct tm	tm;

		gmtime_r(&s->last_received, &tm);
		strftime(when, sizeof(when), "%Y-%m-%d %H:%M UTC", &tm);
		buf_printf(out, "Last report stored: %s\n", when);
	} else
		buf_printf(out, "Last report stored: never\n");
	snprintf(x, sizeof(x), "Verdict rule: ready when, over the last %d "
	    "days (or the period, if longer), at least %d.%d %% of at least "
	    "%d messages pass DMARC, reports go back %d days, and no source "
	    "both passes and fails.", SUMMARY_READY_DAYS,
	    SUMMARY_READY_PERMILLE / 10, SUMMARY_READY_PERMILLE % 10,
	    SUMMARY_READY_MESSAGES, SUMMARY_READY_DAYS);
	buf_addc(out, '\n');
	text_wrap(out, x, 0);
	/* every append above is capped; one check covers them all */
	return buf_near_cap(out) ? -1 : 0;
}

/* --- HTML ------------------------------------------------------------ */

#define H_TABLE	"<table style=\"border-collapse:collapse;margin:8px 0;" \
	"font-size:14px\">"
#define H_TH	"<th style=\"text-align:left;padding:3px 10px;" \
	"border-bottom:1px solid #999;background:#f0f0f0\">"
#define H_TD	"<td style=\"padding:3px 10px;border-bottom:1px solid #ddd\">"
#define H_TDR	"<td style=\"padding:3px 10px;border-bottom:1px solid #ddd;" \
	"text-align:right\">"

/* Appends tag + escaped text + "</td>". */
static void
html_cell(struct buf *out, const char *td, const char *text)
{
	buf_adds(out, td);
	html_escape(out, text);
	buf_adds(out, "</td>");
}

static const char *
verdict_colour(enum summary_verdict v)
{
	switch (v) {
	case VERDICT_READY:
	case VERDICT_AT_REJECT:
		return "#e6f4e6";
	case VERDICT_FAILING:
	case VERDICT_LEGIT_FAILING:
		return "#fbe9e7";
	default:
		return "#f5f5f5";
	}
}

static void
html_domain(const struct summary *s, const struct summary_domain *d,
    struct buf *out)
{
	const struct summary_source	*src;
	struct buf			 para;
	char				 a[32], b[32], c[32], day[16];
	char				 url[SUMMARY_URL_MAX + 4 * 256];
	size_t				 i;
	bool				 silent = false;

	buf_adds(out, "<h2 style=\"font-size:18px;margin:24px 0 4px\">");
	html_escape(out, d->name);
	buf_adds(out, "</h2>\n<p style=\"margin:4px 0\">Policy published: ");
	if (d->p != NULL) {
		day_str(d->policy_time, day, sizeof(day));
		buf_adds(out, "<code>p=");
		html_escape(out, d->p);
		buf_adds(out, " sp=");
		html_escape(out, d->sp ? d->sp : d->p);
		buf_printf(out, " pct=%d</code> (latest report: ",
		    d->pct == -1 ? 100 : d->pct);
		html_escape(out, d->policy_reporter);
		buf_printf(out, ", %s)", day);
	} else
		buf_adds(out, "unknown (no report yet)");
	buf_adds(out, "</p>\n");
	if (d->cur.messages == 0)
		buf_adds(out, "<p><strong>No reports arrived for this domain "
		    "in this period.</strong></p>\n");

	buf_adds(out, H_TABLE "<tr>" H_TH "</th>" H_TH "This period</th>"
	    H_TH "Previous</th>" H_TH "Change</th></tr>\n");
	snprintf(a, sizeof(a), "%" PRIu64, d->cur.messages);
	snprintf(b, sizeof(b), "%" PRIu64, d->prev.messages);
	count_change(d->cur.messages, d->prev.messages, c, sizeof(c));
	buf_adds(out, "<tr>" H_TD "Messages</td>");
	html_cell(out, H_TDR, a);
	html_cell(out, H_TDR, b);
	html_cell(out, H_TDR, c);
	buf_adds(out, "</tr>\n");
#define RATE_ROW(label, f) do {						\
	rate_str(d->cur.f, d->cur.messages, a, sizeof(a));		\
	rate_str(d->prev.f, d->prev.messages, b, sizeof(b));		\
	rate_change(d->cur.f, d->cur.messages, d->prev.f,		\
	    d->prev.messages, c, sizeof(c));				\
	buf_adds(out, "<tr>" H_TD label "</td>");			\
	html_cell(out, H_TDR, a);					\
	html_cell(out, H_TDR, b);					\
	html_cell(out, H_TDR, c);					\
	buf_adds(out, "</tr>\n");					\
} while (0)
	RATE_ROW("DMARC pass", pass);
	RATE_ROW("DKIM aligned", dkim);
	RATE_ROW("SPF aligned", spf);
#undef RATE_ROW
	buf_printf(out, "<tr>" H_TD "Reports</td>" H_TDR "%" PRIu64
	    "</td>" H_TD "</td>" H_TD "</td></tr>\n", d->reports);
	buf_printf(out, "<tr>" H_TD "Quarantined</td>" H_TDR "%" PRIu64
	    "</td>" H_TD "</td>" H_TD "</td></tr>\n</table>\n",
	    d->quarantined);

	buf_init(&para, 4096);
	verdict_words(s, d, &para);
	buf_printf(out, "<p style=\"padding:8px;background:%s\">"
	    "<strong>Verdict:</strong> ", verdict_colour(d->verdict));
	html_escape(out, para.data);
	buf_adds(out, "</p>\n");
	buf_free(&para);
	readiness_url(s, d, url, sizeof(url));
	if (*url != '\0') {
		/* the URL is checked (summary_url_ok) and the domain
		 * percent-encoded; escaped all the same */
		buf_adds(out, "<p><a href=\"");
		html_escape(out, url);
		buf_adds(out, "\">Readiness of ");
		html_escape(out, d->name);
		buf_adds(out, " on the dashboard</a></p>\n");
	}

	if (d->n_failing > 0) {
		buf_printf(out, "<h3 style=\"font-size:15px;margin:12px 0 0\">"
		    "Top failing sources (%zu of %" PRIu64 ")</h3>\n" H_TABLE
		    "<tr>" H_TH "Source</th>" H_TH "Messages</th>" H_TH
		    "header_from</th>" H_TH "Why</th></tr>\n", d->n_failing,
		    d->failing_total);
		for (i = 0; i < d->n_failing; i++) {
			src = &d->failing[i];
			snprintf(a, sizeof(a), "%" PRIu64, src->messages);
			buf_adds(out, "<tr>");
			html_cell(out, H_TD, SRC_NAME(src));
			html_cell(out, H_TDR, a);
			html_cell(out, H_TD, src->header_from);
			html_cell(out, H_TD, src->reasons ? src->reasons : "");
			buf_adds(out, "</tr>\n");
		}
		buf_adds(out, "</table>\n");
	}
	if (d->n_fresh > 0) {
		buf_printf(out, "<h3 style=\"font-size:15px;margin:12px 0 0\">"
		    "New sources (%zu of %" PRIu64 ", not seen before)</h3>\n"
		    H_TABLE "<tr>" H_TH "Source</th>" H_TH "Messages</th>"
		    H_TH "DMARC pass</th>" H_TH "header_from</th></tr>\n",
		    d->n_fresh, d->fresh_total);
		for (i = 0; i < d->n_fresh; i++) {
			src = &d->fresh[i];
			buf_adds(out, "<tr>");
			html_cell(out, H_TD, SRC_NAME(src));
			snprintf(a, sizeof(a), "%" PRIu64, src->messages);
			html_cell(out, H_TDR, a);
			snprintf(a, sizeof(a), "%" PRIu64, src->pass);
			html_cell(out, H_TDR, a);
			html_cell(out, H_TD, src->header_from);
			buf_adds(out, "</tr>\n");
		}
		buf_adds(out, "</table>\n");
	}
	if (d->n_reporters > 0) {
		buf_adds(out, H_TABLE "<tr>" H_TH "Reporter</th>" H_TH
		    "Reports</th></tr>\n");
		for (i = 0; i < d->n_reporters; i++) {
			buf_adds(out, "<tr>");
			html_cell(out, H_TD, d->reporters[i].name);
			if (d->reporters[i].reports == 0) {
				silent = true;
				html_cell(out, H_TD, "gone silent");
			} else {
				snprintf(a, sizeof(a), "%" PRIu64,
				    d->reporters[i].reports);
				html_cell(out, H_TDR, a);
			}
			buf_adds(out, "</tr>\n");
		}
		buf_adds(out, "</table>\n");
		if (silent)
			buf_adds(out, "<p style=\"font-size:13px;color:#555\">"
			    "Gone silent: reported in the previous period, "
			    "not in this one.</p>\n");
	}
}

static int
html_overview(const struct summary *s, struct buf *out)
{
	const struct summary_domain	**v;
	char				  rate[16], pol[48];
	uint64_t			  m = 0, p = 0, f = 0;
	size_t				  i;

	if (s->n_domains == 0)
		return 0;
	if ((v = attention_order(s)) == NULL)
		return -1;
	buf_adds(out, "<h2 style=\"font-size:18px;margin:24px 0 4px\">"
	    "Domains: what the next policy step would fail</h2>\n"
	    H_TABLE "<tr>" H_TH "Domain</th>" H_TH "Messages</th>" H_TH
	    "Pass</th>" H_TH "Next step</th>" H_TH "Would fail</th></tr>\n");
	for (i = 0; i < s->n_domains; i++) {
		const struct summary_domain	*d = v[i];

		rate_str(d->cur.pass, d->cur.messages, rate, sizeof(rate));
		buf_adds(out, "<tr>");
		html_cell(out, H_TD, d->name);
		buf_printf(out, H_TDR "%" PRIu64 "</td>" H_TDR "%s</td>",
		    d->cur.messages, rate);
		if (d->step.has) {
			step_policy(&d->step, pol, sizeof(pol));
			html_cell(out, H_TD, pol);
			buf_printf(out, H_TDR "%" PRIu64 "</td></tr>\n",
			    d->step.would_fail);
		} else
			buf_adds(out, H_TD "-</td>" H_TDR "-</td></tr>\n");
		m += d->cur.messages;
		p += d->cur.pass;
		f += d->step.would_fail;
	}
	rate_str(p, m, rate, sizeof(rate));
	buf_printf(out, "<tr>" H_TD "<strong>All domains</strong></td>" H_TDR
	    "%" PRIu64 "</td>" H_TDR "%s</td>" H_TD "</td>" H_TDR "%" PRIu64
	    "</td></tr>\n</table>\n", m, rate, f);
	free(v);
	return 0;
}

int
summary_render_html(const struct summary *s, struct buf *out)
{
	char	since[16], last[16], prev[16], prevlast[16], when[32];
	size_t	i;

	day_str(s->since, since, sizeof(since));
	day_str(s->until - 86400, last, sizeof(last));
	day_str(s->prev_since, prev, sizeof(prev));
	day_str(s->since - 86400, prevlast, sizeof(prevlast));
	buf_printf(out, "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\">"
	    "<title>DMARC summary %s to %s</title></head>\n"
	    "<body style=\"font-family:Helvetica,Arial,sans-serif;"
	    "color:#222;max-width:900px\">\n"
	    "<h1 style=\"font-size:20px\">DMARC summary: %s to %s "
	    "(%u %s)</h1>\n<p>Compared with the %u %s before: %s to %s.</p>\n",
	    since, last, since, last, s->days, plural(s->days, "day", "days"),
	    s->days, plural(s->days, "day", "days"), prev, prevlast);
	if (s->n_domains == 0) {
		buf_adds(out, "<p><strong>No reports arrived in this period");
		if (s->only_domain != NULL) {
			buf_adds(out, " for ");
			html_escape(out, s->only_domain);
		}
		buf_adds(out, ".</strong> dmarcd is running; this message "
		    "says so.</p>\n");
	}
	if (html_overview(s, out) == -1)
		return -1;
	for (i = 0; i < s->n_domains; i++)
		html_domain(s, &s->domains[i], out);

	buf_printf(out, "<h2 style=\"font-size:18px;margin:24px 0 4px\">"
	    "All domains</h2>\n" H_TABLE "<tr>" H_TD "Quarantined messages"
	    "</td>" H_TDR "%" PRIu64 " in this period, %" PRIu64
	    " unresolved in all</td></tr>\n", s->quarantined,
	    s->quarantine_open);
	if (s->forensic >= 0)
		buf_printf(out, "<tr>" H_TD "Failure reports</td>" H_TDR
		    "%" PRId64 "</td></tr>\n", s->forensic);
	if (s->tlsrpt >= 0)
		buf_printf(out, "<tr>" H_TD "TLS reports</td>" H_TDR
		    "%" PRId64 "</td></tr>\n", s->tlsrpt);
	if (s->last_received != 0) {
		struct tm	tm;

		gmtime_r(&s->last_received, &tm);
		strftime(when, sizeof(when), "%Y-%m-%d %H:%M UTC", &tm);
	} else
		snprintf(when, sizeof(when), "never");
	buf_printf(out, "<tr>" H_TD "Last report stored</td>" H_TDR "%s"
	    "</td></tr>\n</table>\n", when);
	buf_printf(out, "<p style=\"font-size:13px;color:#555\">Verdict rule: "
	    "ready when, over the last %d days (or the period, if longer), at "
	    "least %d.%d %% of at least %d messages pass DMARC, reports go "
	    "back %d days, and no source both passes and fails.</p>\n"
	    "</body></html>\n", SUMMARY_READY_DAYS,
	    SUMMARY_READY_PERMILLE / 10, SUMMARY_READY_PERMILLE % 10,
	    SUMMARY_READY_MESSAGES, SUMMARY_READY_DAYS);
	return buf_near_cap(out) ? -1 : 0;
}

int
summary_subject(const struct summary *s, struct buf *out)
{
	char	since[16], last[16], x[CLEAN_MAX];
	size_t	i;
	int	rc;

	day_str(s->since, since, sizeof(since));
	day_str(s->until - 86400, last, sizeof(last));
	if (s->days == 1)
		rc = buf_printf(out, "DMARC summary %s", since);
	else
		rc = buf_printf(out, "DMARC summary %s to %s", since, last);
	if (s->n_domains == 0)
		return rc | buf_printf(out, ": no reports");
	for (i = 0; i < s->n_domains && i < SUBJECT_DOMAINS; i++)
		rc |= buf_printf(out, "%s%s", i ? ", " : ": ",
		    clean(x, 100, s->domains[i].name));
	if (s->n_domains > SUBJECT_DOMAINS)
		rc |= buf_printf(out, " and %zu more", s->n_domains -
		    SUBJECT_DOMAINS);
	return rc;
}
