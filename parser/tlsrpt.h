/*
 * tlsrpt.h - SMTP TLS reports (RFC 8460): JSON read with json-c into
 * struct tlsrpt_report (report.h, with its JSON line).
 */
#ifndef DMARCD_TLSRPT_H
#define DMARCD_TLSRPT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "lib.h"
#include "report.h"

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
/* RFC 3339 date-time to unix time; 0, or -1 if malformed. */
int	tlsrpt_parse_datetime(const char *s, int64_t *t_r);

#endif
