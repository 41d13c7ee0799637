/*
 * aggregate.h - the streaming DMARC aggregate report parser (RFC 7489 and
 * DMARCbis / RFC 9990), on libxml2's SAX2 push parser (no tree is built).
 *
 * The parser pulls XML through a read callback and hands out the report's
 * metadata and policy once (before the first record), then each record in
 * turn, so memory does not grow with the number of records.  Every string
 * the report carries is trimmed, capped and NUL-terminated; enumerations are
 * lower-cased and normalised (e.g. "hardfail" -> "fail").  Absent values
 * are NULL (pct: has_pct false).
 */
#ifndef DMARCD_AGGREGATE_H
#define DMARCD_AGGREGATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Limits, named and configurable (struct agg_limits). */
#define AGG_MAX_ERRORS		16	/* <error> elements kept per report */
#define AGG_MAX_REASONS		16	/* <reason> per record */
#define AGG_MAX_DKIM		32	/* <dkim> auth results per record */
#define AGG_MAX_SPF		32	/* <spf> auth results per record */

struct agg_limits {
	unsigned	max_depth;		/* XML element nesting */
	uint64_t	max_elements;		/* elements per report */
	uint64_t	max_records;		/* records per report */
	size_t		max_text;		/* bytes of one text value */
};

/* The defaults (documented in dmarcd.conf(5)). */
void	agg_limits_default(struct agg_limits *l);

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

/* Pulls up to len bytes; returns bytes read, 0 at the end, -1 on error (the
 * reader's own reason is then fetched by the caller, see agg_parse). */
typedef ssize_t (*agg_read_fn)(void *rctx, void *buf, size_t len);

/*
 * Parses one aggregate report from the stream.  Returns 0 when a whole
 * report was delivered through h (report_end called), -1 otherwise with a
 * human-readable reason in err (errlen bytes, always terminated): XML
 * errors with their line, missing required fields (report_id, date_range,
 * policy domain), a record without a valid source_ip or count, caps
 * exceeded, DTDs, or a callback's own error.  When the read callback fails,
 * the reason is read_error(rctx) if read_error is not NULL.
 */
int	agg_parse(agg_read_fn rd, const char *(*read_error)(void *rctx),
	    void *rctx, const struct agg_limits *lim,
	    const struct agg_handler *h, void *hctx, char *err, size_t errlen);

/* Parses a whole in-memory document (tests, fuzzing). */
int	agg_parse_mem(const void *data, size_t len,
	    const struct agg_limits *lim, const struct agg_handler *h,
	    void *hctx, char *err, size_t errlen);

/* One-time libxml2 set-up (no network, no external entities, quiet). */
void	agg_global_init(void);

#endif
