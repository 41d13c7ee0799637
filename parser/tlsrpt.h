/*
 * tlsrpt.h - SMTP TLS reports (RFC 8460): JSON read with json-c into plain
 * structs, and their JSON line for `dmarcd parse`.
 */
#ifndef DMARCD_TLSRPT_H
#define DMARCD_TLSRPT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "lib.h"

/* Largest count accepted: JSON numbers are exact up to 2^53. */
#define TLSRPT_COUNT_MAX	((int64_t)1 << 53)

struct tlsrpt_limits {
	size_t		max_size;	/* bytes of JSON (not streamed: a tree) */
	int		max_depth;	/* JSON nesting (json_tokener depth) */
	unsigned	max_policies;	/* policies per report */
	unsigned	max_details;	/* failure-details per policy */
	unsigned	max_strings;	/* policy-string / mx-host entries */
	size_t		max_string;	/* bytes of one string value */
};

void	tlsrpt_limits_default(struct tlsrpt_limits *l);

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

typedef ssize_t (*tlsrpt_read_fn)(void *rctx, void *buf, size_t len);

/* tlsrpt.c */
/*
 * Parses one report from data[0..len) into r (zeroed first; free it with
 * tlsrpt_report_free, also after an error).  Returns 0, or -1 with a reason
 * in err ("invalid JSON: ...", "policies[2].summary: total-failure-session-
 * count is negative", "more than max_policies (1000) policies", ...).
 */
int	tlsrpt_parse_mem(const void *data, size_t len,
	    const struct tlsrpt_limits *lim, struct tlsrpt_report *r,
	    char *err, size_t errlen);
/* The same from a pull stream (bytes, 0 at the end, -1 on error, the
 * reason then from read_error(rctx)); at most lim->max_size bytes. */
int	tlsrpt_parse(tlsrpt_read_fn rd, const char *(*read_error)(void *),
	    void *rctx, const struct tlsrpt_limits *lim,
	    struct tlsrpt_report *r, char *err, size_t errlen);
void	tlsrpt_report_free(struct tlsrpt_report *r);
/* RFC 3339 date-time to unix time; 0, or -1 if malformed. */
int	tlsrpt_parse_datetime(const char *s, int64_t *t_r);

/* tlsrpt.c: the `parse` JSON line (see dmarcd(8)) */
/* {"type":"tlsrpt","source":...,...}\n; -1 when b's cap is reached. */
int	tlsrpt_json(struct buf *b, const char *source,
	    const struct tlsrpt_report *r);

#endif
