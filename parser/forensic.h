/*
 * forensic.h - failure reports (RFC 6591, on the ARF format of RFC 5965)
 * read with GMime into struct arf_report (report.h, with its JSON line).  Also Exim's plain-text DMARC failure report, which has no ARF
 * part but a fixed, labelled template.
 */
#ifndef DMARCD_FORENSIC_H
#define DMARCD_FORENSIC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib.h"
#include "report.h"

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
/* What lim->redact does, on a report read without it: the same fields
 * redacted the same way (so a caller may hash the report as read, then
 * redact it, parsing once).  Returns 0, or -1 with a reason in err. */
int	arf_report_redact(struct arf_report *r, char *err, size_t errlen);

#endif
