/*
 * message_sink.h - where ingest/message.c takes a message's reports: the
 * sink interface, apart from the pipeline, so a sink (db/sink.c,
 * src/cmd_parse.c) sees the report types (parser/report.h) and nothing of
 * the unpacker or the parsers.
 */
#ifndef DMARCD_MESSAGE_SINK_H
#define DMARCD_MESSAGE_SINK_H

#include <stdbool.h>
#include <stddef.h>

#include "lib.h"
#include "report.h"

/* What a sink's callbacks return besides 0 (taken: stored, a duplicate,
 * printed). */
#define MESSAGE_REFUSED	(-1)	/* this item gave no report: the reason is
				 * in err; the message goes on */
#define MESSAGE_STOP	(-2)	/* stop the message now (the database went
				 * away, output failed): the reason in err */

enum message_kind {
	MESSAGE_AGGREGATE,	/* also a candidate of no known kind: tried as
				 * XML, its parse error is the reason */
	MESSAGE_FAILURE,	/* RFC 6591 */
	MESSAGE_TLSRPT,		/* RFC 8460 */
};

/*
 * Where a message's reports go.  For each item the unpacker finds:
 *   begin(item, kind), then
 *   aggregate: bytes as read, agg's callbacks (hctx: ctx) during the
 *     parse, then aggregate(perr): perr NULL when it parsed to the end,
 *     else the parser's reason (the sink decides: a duplicate stops the
 *     parse early and is still taken);
 *   TLS: bytes as read, then tlsrpt(r) when it parsed;
 *   failure: failure(r, identity) when it parsed; identity is the report's
 *     JSON as read with keep_body and redact off (a dedup key that neither
 *     the settings of the day nor the envelope change), filled only when
 *     want_identity; r is redacted already when lim->arf.redact.
 * Whatever gave no report (a parse error, a callback's MESSAGE_REFUSED,
 * or the message as a whole, item NULL) is told to not_report once.
 * Callbacks other than bytes and not_report return 0, MESSAGE_REFUSED or
 * MESSAGE_STOP.  Structures passed are valid only during the call.
 */
struct message_sink {
	int	(*begin)(void *ctx, const char *item, enum message_kind kind,
		    char *err, size_t errlen);
	/* NULL: not wanted (then nothing is read past what parsing needs);
	 * else an aggregate report is read to its end. */
	void	(*bytes)(void *ctx, const void *p, size_t n);
	const struct agg_handler *agg;
	int	(*aggregate)(void *ctx, const char *perr, char *err,
		    size_t errlen);
	int	(*tlsrpt)(void *ctx, const struct tlsrpt_report *r,
		    char *err, size_t errlen);
	int	(*failure)(void *ctx, const struct arf_report *r,
		    const struct buf *identity, char *err, size_t errlen);
	void	(*not_report)(void *ctx, const char *item,
		    const char *reason);
	bool	want_identity;
};

#endif
