/*
 * summary.h - `dmarcd summary`: the figures of a period (summary.c), their
 * rendering as text and HTML (summary_render.c) and the mail that carries
 * them (summary_mail.c).  The figures are plain data; the renderers never
 * touch the database and the collector never formats.
 *
 * Error contract: 0 on success, DB_EPERM / DB_ETEMP (db.h) or -1, with the
 * reason in a caller-owned buffer (err, errlen).
 */
#ifndef DMARCD_SUMMARY_H
#define DMARCD_SUMMARY_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "lib.h"
#include "db.h"

#define SUMMARY_MAX_DAYS	3660	/* longest period */
#define SUMMARY_MAX_DOMAINS	1000	/* domains in one summary */
#define SUMMARY_TOP		10	/* failing and new sources listed */
#define SUMMARY_MAX_REPORTERS	50	/* reporters listed per domain */
#define SUMMARY_REASON_RECORDS	50000	/* records read for the reasons */
#define SUMMARY_TEXT_CAP	(4 << 20)	/* bytes of each rendering */

/* The verdict rule (summary.c, summary_verdict()). */
#define SUMMARY_READY_PERMILLE	980	/* DMARC pass, 98.0 % */
#define SUMMARY_READY_DAYS	30	/* days of history and of the window */
#define SUMMARY_READY_MESSAGES	100	/* messages in the window */

struct summary_opts {
	time_t		 since;		/* UTC midnight, included */
	time_t		 until;		/* UTC midnight, excluded */
	const char	*domain;	/* NULL: every domain with data */
	/* and only these, a text[] literal (summary --user); NULL: no
	 * limit */
	const char	*domains;
};

/* Messages of one period, from the daily rollups. */
struct summary_counts {
	uint64_t	 messages;
	uint64_t	 pass;		/* DKIM or SPF aligned: DMARC pass */
	uint64_t	 dkim;		/* DKIM aligned */
	uint64_t	 spf;		/* SPF aligned */
	uint64_t	 days;		/* days with data */
};

struct summary_source {
	char		*ip;
	char		*name;		/* "Service — ptr (ip)", escaped, or
					 * NULL: only the address is known */
	char		*header_from;
	uint64_t	 messages;	/* failing (top) or all (new) */
	uint64_t	 pass;		/* new sources: of which DMARC pass */
	char		*reasons;	/* failing: auth results, overrides */
};

struct summary_reporter {
	char		*name;
	uint64_t	 reports;	/* in the period; 0 when silent */
};

enum summary_verdict {
	VERDICT_NO_DATA,	/* nothing in the window */
	VERDICT_TOO_NEW,	/* under SUMMARY_READY_DAYS of history */
	VERDICT_LOW_VOLUME,	/* under SUMMARY_READY_MESSAGES */
	VERDICT_FAILING,	/* pass rate under the threshold */
	VERDICT_LEGIT_FAILING,	/* senders that pass sometimes fail too */
	VERDICT_READY,		/* ready for the next step */
	VERDICT_AT_REJECT,	/* p=reject at 100 %: nothing stricter */
};

/* What the next policy step would do over the verdict's window, by the
 * simulator (src/simulation.c): the published policy one step stricter
 * (none -> quarantine, pct -> 100, quarantine -> reject). */
struct summary_step {
	bool		 has;		/* false: no stricter step, or no data */
	char		 p[16];		/* the step's p= */
	unsigned	 pct;
	uint64_t	 messages;	/* of the window */
	uint64_t	 would_fail;	/* quarantined or rejected */
	char		*top_ip;	/* the source losing most, or NULL */
	char		*top_service;
	char		*top_why;
	uint64_t	 top_fail;
};

struct summary_domain {
	char			*name;
	struct summary_counts	 cur, prev;
	/* policy published in the latest report before the period's end */
	char			*p, *sp;	/* NULL: no report */
	int			 pct;		/* -1: absent (100) */
	char			*policy_reporter;
	time_t			 policy_time;
	struct summary_source	 failing[SUMMARY_TOP];
	size_t			 n_failing;
	uint64_t		 failing_total;	/* failing sources in all */
	struct summary_source	 fresh[SUMMARY_TOP];
	size_t			 n_fresh;
	uint64_t		 fresh_total;	/* new sources in all */
	struct summary_reporter	*reporters;	/* seen, then silent */
	size_t			 n_reporters;
	uint64_t		 reports;	/* in the period */
	uint64_t		 quarantined;	/* in the period, this domain */
	/* the verdict and its window */
	enum summary_verdict	 verdict;
	struct summary_counts	 window;
	time_t			 window_since;
	time_t			 first_seen;	/* first rollup day */
	bool			 seen;		/* first_seen is set */
	uint64_t		 legit_failing;	/* sources passing and failing */
	char			*legit_example;
	struct summary_step	 step;
};

struct summary {
	time_t			 since, until, prev_since;
	unsigned		 days;
	time_t			 generated;
	const char		*only_domain;
	const char		*only_domains;	/* text[] literal or NULL */
	struct summary_domain	*domains;
	size_t			 n_domains;
	uint64_t		 quarantined;	/* first seen in the period */
	uint64_t		 quarantine_open;	/* unresolved, any time
						 * (of only_domains) */
	int64_t			 forensic;	/* -1: table absent */
	int64_t			 tlsrpt;	/* -1: table absent */
	time_t			 last_received;	/* 0: nothing ever */
	const char		*public_url;	/* http_public_url, or NULL */
};

/* summary.c */
/* Parses "Nd" (1..SUMMARY_MAX_DAYS) into a period ending at today's UTC
 * midnight. */
int	summary_period_days(const char *s, time_t now, struct summary_opts *o,
	    char *err, size_t errlen);
/* Parses YYYY-MM-DD as UTC midnight. */
int	summary_parse_date(const char *s, time_t *t_r);
/* Reads the figures of o's period and of the period of the same length
 * before it.  *s_r is the caller's (summary_free). */
int	summary_collect(struct db *db, const struct summary_opts *o,
	    struct summary **s_r, char *err, size_t errlen);
void	summary_free(struct summary **s);
/* Whether url may be http_public_url: http:// or https://, at most
 * SUMMARY_URL_MAX bytes of printable ASCII without blanks, quotes, angle
 * brackets or backslashes. */
#define SUMMARY_URL_MAX	512
bool	summary_url_ok(const char *url);
/* A stable name for the verdict (tests, logs). */
const char *summary_verdict_name(enum summary_verdict v);

/* summary_render.c; both return 0 or -1 when out's cap is reached. */
int	summary_render_text(const struct summary *s, struct buf *out);
int	summary_render_html(const struct summary *s, struct buf *out);
/* The Subject: period and domains, free of control characters. */
int	summary_subject(const struct summary *s, struct buf *out);

/* summary_mail.c; the caller has called g_mime_init(). */
struct summary_mail {
	const char	*from;		/* RFC 5322 address list */
	const char	*to;
	const char	*to_setting;	/* its name in errors; NULL:
					 * summary_to */
	const char	*sendmail;	/* path of sendmail */
};

/* Builds the multipart/alternative message; *msg_r (caller frees with
 * free()) holds the bytes, LF line ends. */
int	summary_message(const struct summary *s, const struct summary_mail *m,
	    char **msg_r, size_t *len_r, char *err, size_t errlen);
/* dmarcd@ this host: the From: when summary_from is not set. */
void	mail_default_from(char *buf, size_t len);
/* Date, a Message-ID of the From: domain, Auto-Submitted (RFC 3834) and
 * MIME-Version: what every mail dmarcd sends carries. */
struct _GMimeMessage;
struct _InternetAddressList;
void	mail_headers(struct _GMimeMessage *msg,
	    struct _InternetAddressList *from);
/* msg's bytes (LF line ends) into *msg_r (caller frees) and *len_r. */
int	mail_bytes(struct _GMimeMessage *msg, char **msg_r, size_t *len_r,
	    char *err, size_t errlen);
/* Pipes msg to sendmail with the To: recipients on the command line.
 * Returns 0, DB_ETEMP when sendmail exits EX_TEMPFAIL, else -1. */
int	summary_sendmail(const struct summary_mail *m, const char *msg,
	    size_t len, char *err, size_t errlen);

#endif
