/*
 * report.h - the reports as data: what the parsers of parser/ fill in,
 * what sinks (db/, `dmarcd parse`) and export consume, and their one
 * public JSON form (dmarcd(8)), shared by `dmarcd parse` and `dmarcd
 * export`.  No parsing here: a file that only stores or prints reports
 * includes this, not aggregate.h, forensic.h or tlsrpt.h.
 */
#ifndef DMARCD_REPORT_H
#define DMARCD_REPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib.h"

/* --- aggregate reports (aggregate.c) ----------------------------------- */

/* Caps of the fixed arrays below (more are refused by the parser). */
#define AGG_MAX_ERRORS		16	/* <error> elements kept per report */
#define AGG_MAX_REASONS		16	/* <reason> per record */
#define AGG_MAX_DKIM		32	/* <dkim> auth results per record */
#define AGG_MAX_SPF		32	/* <spf> auth results per record */

struct agg_report {
	char	*version;		/* <version>, e.g. "1.0" */
	/* report_metadata */
	char	*org_name;
	char	*org_email;
	char	*extra_contact_info;
	char	*report_id;
	int64_t	 begin, end;		/* unix seconds (UTC) */
	char	*errors[AGG_MAX_ERRORS];
	size_t	 n_errors;
	char	*generator;		/* DMARCbis */
	/* policy_published */
	char	*domain;
	char	*adkim, *aspf;		/* "r" | "s" */
	char	*p, *sp, *np;		/* "none" | "quarantine" | "reject" */
	bool	 has_pct;
	int	 pct;			/* 0..100 */
	char	*fo;
	char	*testing;		/* DMARCbis: "n" | "y" */
	char	*discovery_method;	/* DMARCbis: "psl" | "treewalk" */
	bool	 dmarcbis;		/* dmarc-2.0 namespace or bis-only fields */
	/* totals so far (complete at report_end) */
	uint64_t n_records;
	uint64_t messages;		/* sum of count */
};

struct agg_reason {
	char	*type;
	char	*comment;
};

struct agg_dkim {
	char	*domain;
	char	*selector;
	char	*result;
	char	*human_result;
};

struct agg_spf {
	char	*domain;
	char	*scope;			/* "mfrom" | "helo" */
	char	*result;
	char	*human_result;
};

struct agg_record {
	char		 source_ip[46];	/* normalised text form (inet_ntop) */
	int		 family;	/* AF_INET or AF_INET6 */
	unsigned char	 addr[16];
	uint64_t	 count;
	char		*disposition;	/* none|quarantine|reject|pass (bis) */
	char		*dkim;		/* policy_evaluated: pass|fail */
	char		*spf;
	struct agg_reason reasons[AGG_MAX_REASONS];
	size_t		 n_reasons;
	char		*header_from;
	char		*envelope_from;
	char		*envelope_to;
	struct agg_dkim	 auth_dkim[AGG_MAX_DKIM];
	size_t		 n_dkim;
	struct agg_spf	 auth_spf[AGG_MAX_SPF];
	size_t		 n_spf;
};

/*
 * What the caller does with a report.  Each callback returns 0 to go on or
 * -1 to stop, with a reason in *error_r (a static or caller-owned string that
 * stays valid until agg_parse returns).  The structures passed are owned by
 * the parser and valid only during the call.
 *   report_begin: metadata and policy are complete (called once, before the
 *                 first record, or at the end if there are none).
 *   record:       one validated record.
 *   report_end:   the document ended well; totals in r are final.
 */
struct agg_handler {
	int	(*report_begin)(void *ctx, const struct agg_report *r,
		    const char **error_r);
	int	(*record)(void *ctx, const struct agg_report *r,
		    const struct agg_record *rec, const char **error_r);
	int	(*report_end)(void *ctx, const struct agg_report *r,
		    const char **error_r);
};

/* agg_json.c: {"type":"aggregate","source":..., ..., "policy":{...},
 * "records":[ */
int	agg_json_begin(struct buf *b, const char *source,
	    const struct agg_report *r);
/* One record object; first is true for the first record of the report. */
int	agg_json_record(struct buf *b, const struct agg_record *rec,
	    bool first);
/* ]}\n */
int	agg_json_end(struct buf *b);
/* {"type":"error","source":...,"reason":...}\n */
int	json_error_line(struct buf *b, const char *source, const char *reason);

/* --- failure reports (forensic.c) -------------------------------------- */

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

void	arf_report_free(struct arf_report *r);
/* {"type":"forensic","source":...,...}\n (see dmarcd(8)); -1 when b's cap
 * is reached. */
int	arf_json(struct buf *b, const char *source, const struct arf_report *r);

/* --- SMTP TLS reports (tlsrpt.c) --------------------------------------- */

/* One failure-details entry; NULL for a member the report left out. */
struct tlsrpt_detail {
	char	*result_type;
	char	*sending_mta_ip;
	char	*receiving_mx_hostname;
	char	*receiving_mx_helo;
	char	*receiving_ip;
	char	*additional_information;
	char	*failure_reason_code;
	int64_t	 failed_session_count;	/* -1: not given */
};

struct tlsrpt_policy {
	char			*policy_type;	/* lower-cased, any value kept */
	char			**policy_string;
	size_t			 n_policy_string;
	char			*policy_domain;	/* lower-cased, no final dot */
	char			**mx_host;
	size_t			 n_mx_host;
	int64_t			 successful;	/* total-successful-session-count */
	int64_t			 failure;	/* total-failure-session-count */
	struct tlsrpt_detail	*details;
	size_t			 n_details;
};

struct tlsrpt_report {
	char			*organization_name;
	char			*contact_info;		/* NULL: absent or null */
	char			*report_id;
	char			*start_datetime;	/* as given */
	char			*end_datetime;
	int64_t			 begin, end;		/* the same, unix time */
	struct tlsrpt_policy	*policies;
	size_t			 n_policies;
	int64_t			 successful;	/* sums over the policies */
	int64_t			 failure;
};

void	tlsrpt_report_free(struct tlsrpt_report *r);
/* tlsrpt.c: the `parse` JSON line (see dmarcd(8)) */
/* {"type":"tlsrpt","source":...,...}\n; -1 when b's cap is reached. */
int	tlsrpt_json(struct buf *b, const char *source,
	    const struct tlsrpt_report *r);

#endif
