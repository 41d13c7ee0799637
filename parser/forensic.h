/*
 * forensic.h - failure reports (RFC 6591, on the ARF format of RFC 5965)
 * read with GMime into a plain struct, and their JSON line for `dmarcd
 * parse`.  Also Exim's plain-text DMARC failure report, which has no ARF
 * part but a fixed, labelled template.
 */
#ifndef DMARCD_FORENSIC_H
#define DMARCD_FORENSIC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib.h"

struct arf_limits {
	size_t		max_part;	/* decoded bytes of the report part */
	size_t		max_field;	/* bytes of one kept field value */
	unsigned	max_rcpt;	/* Original-Rcpt-To values kept */
	unsigned	max_multi;	/* other repeatable fields kept */
	size_t		max_headers;	/* bytes of returned headers kept */
	size_t		max_body;	/* bytes of returned body kept */
	unsigned	max_depth;	/* MIME nesting searched for the report */
	bool		keep_body;	/* keep the returned message's body */
	bool		redact;		/* replace local parts of addresses */
};

void	arf_limits_default(struct arf_limits *l);

/* A repeatable field: the first values kept, all of them counted. */
struct arf_list {
	char	**v;
	size_t	  n;
	size_t	  total;	/* values in the report, >= n */
};

enum arf_format {
	ARF_FORMAT_ARF,		/* message/feedback-report (RFC 5965/6591) */
	ARF_FORMAT_EXIM_TEXT,	/* Exim's plain-text template */
};

/* One failure report.  Strings are NULL when the report left them out;
 * times are unix time, valid when the has_ flag is set. */
struct arf_report {
	enum arf_format	 format;
	/* The report email. */
	char		*report_from;		/* addr-spec of From */
	char		*report_message_id;	/* without <> */
	char		*report_subject;	/* decoded, UTF-8 */
	int64_t		 report_date;
	bool		 has_report_date;
	/* The message/feedback-report fields. */
	char		*feedback_type;		/* lower case */
	char		*user_agent;
	char		*version;
	char		*original_mail_from;	/* without <>; "" for <> */
	struct arf_list	 original_rcpt_to;
	char		*arrival_date_text;	/* Arrival-Date (or Received-Date) */
	int64_t		 arrival_date;
	bool		 has_arrival_date;
	char		*source_ip;		/* normalised; NULL if not an IP */
	char		*reported_domain;	/* lower case, no final dot */
	struct arf_list	 authentication_results;
	struct arf_list	 auth_failure;		/* lower case */
	char		*dkim_domain;
	char		*dkim_identity;
	char		*dkim_selector;
	char		*delivery_result;	/* lower case */
	char		*identity_alignment;	/* lower case */
	struct arf_list	 reported_uri;
	char		*original_envelope_id;
	char		*reporting_mta;
	int64_t		 incidents;		/* -1: not given */
	/* The returned message (message/rfc822 or text/rfc822-headers). */
	char		*headers;		/* LF line ends; NULL if none */
	bool		 headers_truncated;
	char		*body;			/* only with keep_body */
	bool		 body_truncated;
	bool		 redacted;		/* addresses were redacted */
};

/* forensic.c */
/*
 * Reads the failure report carried by msg (a GMimeMessage *: the message
 * whose MIME tree holds the multipart/report, as unpack_item_message()
 * gives it) into r, zeroed first; free r with arf_report_free, also after
 * an error.  Returns 0, or -1 with a reason in err.  A feedback report that
 * is not about an authentication failure (Feedback-Type abuse, fraud,
 * virus, not-spam, other without Auth-Failure) is an error whose reason
 * starts "not a DMARC failure report: ".
 */
int	arf_parse_message(void *msg, const struct arf_limits *lim,
	    struct arf_report *r, char *err, size_t errlen);
/* Whether decoded text p[0..len) is Exim's plain-text DMARC failure report:
 * unpack can use this to hand such a message out as UNPACK_FORENSIC. */
bool	arf_text_is_report(const void *p, size_t len);
void	arf_report_free(struct arf_report *r);
/* What lim->redact does, on a report read without it: the same fields
 * redacted the same way (so a caller may hash the report as read, then
 * redact it, parsing once).  Returns 0, or -1 with a reason in err. */
int	arf_report_redact(struct arf_report *r, char *err, size_t errlen);

/* {"type":"forensic","source":...,...}\n (see dmarcd(8)); -1 when b's cap
 * is reached. */
int	arf_json(struct buf *b, const char *source, const struct arf_report *r);

#endif
