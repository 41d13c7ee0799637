/*
 * alerts.c - one evaluation of the alert rules (db/alerts.c) and the
 * sending of its new episodes: one mail (text/plain, through the
 * summary's sendmail) and one webhook POST (JSON, webhook.c) per
 * evaluation, each holding every alert that destination has not had.
 *
 * Keys (a source IP, a reporter's name) come from reports: the text forms
 * go through str_escape(), the JSON through the one encoder, and the mail
 * headers carry no report data at all.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <gmime/gmime.h>

#include "alerts.h"
#include "simulation.h"
#include "summary.h"

#define ALERT_LINE_MAX	2048	/* bytes of one escaped summary line */

bool
alerts_configured(const struct conf *c)
{
	bool	dest, rule;

	dest = (c->alert_mail_to != NULL && *c->alert_mail_to != '\0') ||
	    (c->alert_webhook != NULL && *c->alert_webhook != '\0');
	rule = c->alert_new_source > 0 || c->alert_pass_drop > 0 ||
	    c->alert_reporter_silent > 0 || c->alert_quarantine_growth > 0 ||
	    c->alert_approved_fail > 0;
	return dest && rule;
}

/* A new source's messages by class (simulation_class: the domain's
 * approved senders, forwarders, the rest). */
struct alert_class {
	const struct sender_rules	*rules;
	uint64_t			 messages[SIM_CLASSES];
};

static int
alert_class_row(void *ctx, const struct db_sim_row *r, char *err,
    size_t errlen)
{
	struct alert_class	*ac = ctx;

	(void)err;
	(void)errlen;
	ac->messages[simulation_class(ac->rules, r, NULL)] += r->count;
	return 0;
}

/* The filter's state: the database, and the rules of the domain last
 * asked about (candidates come by domain: loaded once a domain). */
struct alert_filter {
	struct db		*db;
	char			*domain;
	struct sender_rules	*rules;
};

/*
 * The new-source rule alerts for unknown sources only: a source most of
 * whose messages an approved-sender rule of the domain covers, or that
 * forwards (dmarcd senders), is expected mail.  The approved-failing rule
 * alerts for approved sources only: most of the source's messages (every
 * report of it) covered by a rule.  A source that cannot be classed (the
 * database failing) alerts: better a needless alert than a missed one.
 */
static bool
alerts_filter(void *ctx, const struct db_alert *a)
{
	struct alert_filter	*f = ctx;
	struct alert_class	 ac;
	char			 err[512];
	int			 c, most = SENDER_UNKNOWN;

	if (a->rule != DB_ALERT_NEW_SOURCE && a->rule != DB_ALERT_APPROVED_FAIL)
		return true;
	if (f->domain == NULL || strcmp(f->domain, a->domain) != 0) {
		sender_rules_free(f->rules);
		free(f->domain);
		if ((f->rules = sender_rules_new()) == NULL ||
		    (f->domain = strdup(a->domain)) == NULL)
			fatalx("out of memory");
		if (db_senders_load(f->db, a->domain, f->rules, err,
		    sizeof(err)) != 0) {
			log_warnx("alerts: %s", err);
			free(f->domain);
			f->domain = NULL;
			return true;
		}
	}
	memset(&ac, 0, sizeof(ac));
	ac.rules = f->rules;
	if (db_simulate_source(f->db, a->domain, a->key, alert_class_row, &ac,
	    err, sizeof(err)) != 0) {
		log_warnx("alerts: %s", err);
		return true;
	}
	for (c = 0; c < SIM_CLASSES; c++)
		if (ac.messages[c] > ac.messages[most])
			most = c;
	return most == (a->rule == DB_ALERT_NEW_SOURCE ? SENDER_UNKNOWN :
	    SENDER_APPROVED);
}

/* One alert as a sentence, unescaped (the callers escape). */
static int
alert_summary(const struct db_alert *a, struct buf *b)
{
	switch (a->rule) {
	case DB_ALERT_NEW_SOURCE:
		return buf_printf(b, "new source %s for %s: %s", a->key,
		    a->domain, a->detail);
	case DB_ALERT_PASS_DROP:
		return buf_printf(b, "DMARC pass rate of %s fell by %lld "
		    "points: %s", a->domain, (long long)a->value, a->detail);
	case DB_ALERT_REPORTER_SILENT:
		return buf_printf(b, "reporter \"%s\" silent for %s for %lld "
		    "days: %s", a->key, a->domain, (long long)a->value,
		    a->detail);
	case DB_ALERT_QUARANTINE_GROWTH:
		return buf_printf(b, "quarantine grew by %lld items: %s",
		    (long long)a->value, a->detail);
	case DB_ALERT_APPROVED_FAIL:
		return buf_printf(b, "approved source %s of %s failing DMARC"
		    " (%lld %%): %s", a->key, a->domain, (long long)a->value,
		    a->detail);
	default:
		return buf_adds(b, "?");
	}
}

/* The summary of a, escaped for a line of text. */
static void
alert_line(const struct db_alert *a, char *line, size_t len)
{
	struct buf	b;

	buf_init(&b, ALERT_LINE_MAX);
	(void)alert_summary(a, &b);	/* truncated at the cap */
	str_escape(line, len, b.data ? b.data : "", b.len);
	buf_free(&b);
}

/* The webhook's body (its keys are a public interface: dmarcd(8)). */
static int
alerts_json(const struct db_alert *const *v, size_t n, struct buf *b)
{
	const struct db_alert	*a;
	struct buf		 s;
	size_t			 i;
	int			 rc = 0;

	rc |= buf_adds(b, "{\"generator\":\"dmarcd " PACKAGE_VERSION "\"");
	rc |= json_key(b, "alerts", false);
	rc |= buf_addc(b, '[');
	for (i = 0; i < n && rc == 0; i++) {
		a = v[i];
		if (i > 0)
			rc |= buf_addc(b, ',');
		rc |= buf_addc(b, '{');
		rc |= json_key(b, "id", true);
		rc |= json_int(b, a->id);
		rc |= json_key(b, "rule", false);
		rc |= json_str(b, db_alert_rule_name(a->rule));
		rc |= json_key(b, "domain", false);
		rc |= json_str(b, a->domain);
		rc |= json_key(b, "key", false);
		rc |= json_str(b, a->key);
		rc |= json_key(b, "value", false);
		rc |= json_int(b, a->value);
		rc |= json_key(b, "threshold", false);
		rc |= json_int(b, a->threshold);
		rc |= json_key(b, "detail", false);
		rc |= json_str(b, a->detail);
		rc |= json_key(b, "opened", false);
		rc |= json_str(b, a->opened);
		rc |= json_key(b, "open", false);
		rc |= buf_adds(b, a->open ? "true" : "false");
		rc |= json_key(b, "summary", false);
		buf_init(&s, ALERT_LINE_MAX);
		(void)alert_summary(a, &s);
		rc |= json_strn(b, s.data ? s.data : "", s.len);
		buf_free(&s);
		rc |= buf_addc(b, '}');
	}
	rc |= buf_adds(b, "]}");
	return rc == 0 ? 0 : -1;
}

/* The alert mail: text/plain, 7bit or quoted-printable; *msg_r is the
 * caller's. */
static int
alerts_message(const struct db_alert *const *v, size_t n, const char *from,
    const char *to, char **msg_r, size_t *len_r, char *err, size_t errlen)
{
	InternetAddressList	*fl, *tl;
	GMimeMessage		*msg;
	GMimeTextPart		*tp;
	struct buf		 text;
	char			 line[ALERT_LINE_MAX], subject[128];
	size_t			 i;
	int			 rc = -1;

	fl = internet_address_list_parse(NULL, from);
	tl = internet_address_list_parse(NULL, to);
	if (fl == NULL || internet_address_list_length(fl) == 0 ||
	    tl == NULL || internet_address_list_length(tl) == 0) {
		snprintf(err, errlen, "alerts: no valid %s address",
		    fl == NULL || internet_address_list_length(fl) == 0 ?
		    "summary_from" : "alert_mail_to");
		goto out;
	}
	buf_init(&text, ALERTS_BODY_CAP);
	buf_printf(&text, "dmarcd: %zu new alert%s.\n\n", n, n == 1 ? "" :
	    "s");
	for (i = 0; i < n; i++) {
		alert_line(v[i], line, sizeof(line));
		if (buf_printf(&text, "- %s\n  (%s since %s)\n", line,
		    db_alert_rule_name(v[i]->rule), v[i]->opened) == -1)
			break;
	}
	buf_adds(&text, "\nEach alert is sent once; it is sent again only "
	    "after its condition has\nstopped holding and holds anew.\n");

	msg = g_mime_message_new(TRUE);
	internet_address_list_append(g_mime_message_get_addresses(msg,
	    GMIME_ADDRESS_TYPE_FROM), fl);
	internet_address_list_append(g_mime_message_get_addresses(msg,
	    GMIME_ADDRESS_TYPE_TO), tl);
	/* no report data in a header: the count and the first rule only */
	snprintf(subject, sizeof(subject), "dmarcd alert: %s%s",
	    db_alert_rule_name(v[0]->rule), n > 1 ? " and more" : "");
	g_mime_message_set_subject(msg, subject, "utf-8");
	mail_headers(msg, fl);
	tp = g_mime_text_part_new_with_subtype("plain");
	g_mime_text_part_set_text(tp, text.data);
	g_mime_part_set_content_encoding(GMIME_PART(tp),
	    g_mime_part_get_best_content_encoding(GMIME_PART(tp),
	    GMIME_ENCODING_CONSTRAINT_7BIT));
	g_mime_message_set_mime_part(msg, GMIME_OBJECT(tp));
	g_object_unref(tp);
	buf_free(&text);

	rc = mail_bytes(msg, msg_r, len_r, err, errlen);
	g_object_unref(msg);
out:
	if (fl != NULL)
		g_object_unref(fl);
	if (tl != NULL)
		g_object_unref(tl);
	return rc;
}

/* Mails v to alert_mail_to. */
static int
alerts_send_mail(const struct conf *c, const struct db_alert *const *v,
    size_t n, char *err, size_t errlen)
{
	struct summary_mail	 m;
	char			 from[300], *msg = NULL;
	size_t			 len;
	int			 rc;

	if (c->summary_from != NULL && *c->summary_from != '\0')
		snprintf(from, sizeof(from), "%s", c->summary_from);
	else
		mail_default_from(from, sizeof(from));
	g_mime_init();
	rc = alerts_message(v, n, from, c->alert_mail_to, &msg, &len, err,
	    errlen);
	if (rc == 0) {
		memset(&m, 0, sizeof(m));
		m.from = from;
		m.to = c->alert_mail_to;
		m.to_setting = "alert_mail_to";
		m.sendmail = c->sendmail_path;
		rc = summary_sendmail(&m, msg, len, err, errlen);
	}
	free(msg);
	g_mime_shutdown();
	return rc;
}

/* POSTs v to alert_webhook. */
static int
alerts_send_webhook(const struct conf *c, const struct db_alert *const *v,
    size_t n, char *err, size_t errlen)
{
	struct buf	body;
	int		rc;

	buf_init(&body, ALERTS_BODY_CAP);
	if (alerts_json(v, n, &body) == -1) {
		snprintf(err, errlen, "alerts: more than %d bytes of JSON",
		    ALERTS_BODY_CAP);
		rc = -1;
	} else
		rc = webhook_post(c->alert_webhook, body.data, body.len,
		    (unsigned)c->alert_webhook_timeout, err, errlen);
	buf_free(&body);
	return rc;
}

/* Writes what was sent: a line each (text) or the webhook's object with
 * each alert's destinations (json). */
static void
alerts_print(FILE *out, enum alerts_format fmt, const struct db_alerts *l,
    const bool *mail, const bool *hook, bool dry_run)
{
	const struct db_alert	**v;
	struct buf		  b;
	char			  line[ALERT_LINE_MAX];
	size_t			  i, n = 0;

	if (out == NULL)
		return;
	if (fmt == ALERTS_TEXT) {
		for (i = 0; i < l->n; i++) {
			if (!mail[i] && !hook[i])
				continue;
			alert_line(&l->v[i], line, sizeof(line));
			fprintf(out, "%s%s%s%s: %s\n", dry_run ?
			    "would send " : "sent ", mail[i] ? "mail" : "",
			    mail[i] && hook[i] ? "," : "",
			    hook[i] ? "webhook" : "", line);
		}
		return;
	}
	if ((v = calloc(l->n + 1, sizeof(*v))) == NULL)
		fatalx("out of memory");
	for (i = 0; i < l->n; i++)
		if (mail[i] || hook[i])
			v[n++] = &l->v[i];
	buf_init(&b, ALERTS_BODY_CAP);
	if (alerts_json(v, n, &b) == 0)
		fprintf(out, "%s\n", b.data);
	buf_free(&b);
	free(v);
}

int
alerts_check(struct db *db, const struct conf *c, bool dry_run,
    enum alerts_format fmt, FILE *out, char *err, size_t errlen)
{
	struct db_alert_rules	  r;
	struct alert_filter	  flt;
	struct db_alerts	  l;
	const struct db_alert	**v = NULL;
	char			  e2[1024];
	bool			  want_mail, want_hook, *mail, *hook;
	size_t			  i, n;
	int			  rc, failed = 0;

	want_mail = c->alert_mail_to != NULL && *c->alert_mail_to != '\0';
	want_hook = c->alert_webhook != NULL && *c->alert_webhook != '\0';
	if (dry_run && !want_mail && !want_hook)
		want_mail = want_hook = true;	/* what either would get */
	memset(&r, 0, sizeof(r));
	r.threshold[DB_ALERT_NEW_SOURCE] = c->alert_new_source;
	r.threshold[DB_ALERT_PASS_DROP] = c->alert_pass_drop;
	r.threshold[DB_ALERT_REPORTER_SILENT] = c->alert_reporter_silent;
	r.threshold[DB_ALERT_QUARANTINE_GROWTH] = c->alert_quarantine_growth;
	r.threshold[DB_ALERT_APPROVED_FAIL] = c->alert_approved_fail;
	memset(&flt, 0, sizeof(flt));
	flt.db = db;
	rc = db_alerts_evaluate(db, &r, want_mail, want_hook, !dry_run,
	    alerts_filter, &flt, &l, err, errlen);
	sender_rules_free(flt.rules);
	free(flt.domain);
	if (rc != 0)
		return rc;
	if ((mail = calloc(l.n + 1, sizeof(*mail))) == NULL ||
	    (hook = calloc(l.n + 1, sizeof(*hook))) == NULL ||
	    (v = calloc(l.n + 1, sizeof(*v))) == NULL)
		fatalx("out of memory");
	for (i = 0; i < l.n; i++) {
		mail[i] = want_mail && !l.v[i].mail_sent;
		hook[i] = want_hook && !l.v[i].webhook_sent;
	}
	if (dry_run)
		goto print;

	for (i = n = 0; i < l.n; i++)
		if (mail[i])
			v[n++] = &l.v[i];
	if (n > 0 && (rc = alerts_send_mail(c, v, n, e2, sizeof(e2))) != 0) {
		log_warnx("alerts: mail: %s", e2);
		snprintf(err, errlen, "alerts: mail: %s", e2);
		failed = rc == DB_ETEMP ? DB_ETEMP : -1;
		memset(mail, 0, (l.n + 1) * sizeof(*mail));
	}
	for (i = 0; i < l.n && failed != DB_ETEMP; i++)
		if (mail[i] && (rc = db_alerts_mark_sent(db, &l.v[i], false,
		    err, errlen)) != 0)
			failed = rc;

	for (i = n = 0; i < l.n; i++)
		if (hook[i])
			v[n++] = &l.v[i];
	if (n > 0 && (rc = alerts_send_webhook(c, v, n, e2,
	    sizeof(e2))) != 0) {
		log_warnx("alerts: %s", e2);
		if (failed == 0) {
			snprintf(err, errlen, "alerts: %s", e2);
			failed = rc;
		}
		memset(hook, 0, (l.n + 1) * sizeof(*hook));
	}
	for (i = 0; i < l.n; i++)
		if (hook[i] && (rc = db_alerts_mark_sent(db, &l.v[i], true,
		    err, errlen)) != 0 && failed == 0)
			failed = rc;
print:
	alerts_print(out, fmt, &l, mail, hook, dry_run);
	db_alerts_done(db);
	db_alerts_free(&l);
	free(mail);
	free(hook);
	free(v);
	return failed;
}
