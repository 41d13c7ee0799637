/*
 * aggregate.h - the streaming DMARC aggregate report parser (RFC 7489 and
 * DMARCbis / RFC 9990), on libxml2's SAX2 push parser (no tree is built).
 *
 * The parser pulls XML through a read callback and hands out the report's
 * metadata and policy once (before the first record), then each record in
 * turn, so memory does not grow with the number of records.  Every string
 * the report carries is trimmed, capped and NUL-terminated; enumerations are
 * lower-cased and normalised (e.g. "hardfail" -> "fail").  Absent values
 * are NULL (pct: has_pct false).  The report and record types and the
 * handler are in report.h.
 */
#ifndef DMARCD_AGGREGATE_H
#define DMARCD_AGGREGATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "report.h"

/* The defaults (dmarcd.conf's xml_max_*, max_records and max_text take
 * them from here). */
#define AGG_DEFAULT_DEPTH	32
#define AGG_DEFAULT_ELEMENTS	10000000
#define AGG_DEFAULT_RECORDS	1000000
#define AGG_DEFAULT_TEXT	1024
/* Messages of one record: far above any receiver's day (Google's largest
 * reports count millions), far enough below 2^63 that the rollups' sums
 * of many reports stay exact in PostgreSQL's bigint. */
#define AGG_COUNT_MAX		((uint64_t)1 << 40)

struct agg_limits {
	unsigned	max_depth;		/* XML element nesting */
	uint64_t	max_elements;		/* elements per report */
	uint64_t	max_records;		/* records per report */
	size_t		max_text;		/* bytes of one text value */
};

void	agg_limits_default(struct agg_limits *l);

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
