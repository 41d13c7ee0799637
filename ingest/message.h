/*
 * message.h - one message's trip: unpacked (unpack.c), each report in it
 * classified and parsed once (parser/), and handed to a sink: the database
 * (db/sink.c) or `dmarcd parse`'s JSON lines (src/cmd_parse.c).  Ingest,
 * LMTP, the watcher, quarantine retry and parse all take this one path.
 *
 * May touch: ingest/unpack, parser/, lib/.  Never the database or stdio:
 * what becomes of a report is the sink's business.
 */
#ifndef DMARCD_MESSAGE_H
#define DMARCD_MESSAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib.h"
#include "aggregate.h"
#include "forensic.h"
#include "tlsrpt.h"
#include "unpack.h"

/* Every cap of the trip, from dmarcd.conf (conf_ingest_limits) or the
 * defaults (message_limits_default). */
struct message_limits {
	struct unpack_limits	unpack;
	struct agg_limits	agg;
	struct arf_limits	arf;	/* keep_body, redact: the config's */
	struct tlsrpt_limits	tls;
	uint64_t		max_document;	/* gzip bytes a sink keeps of
						 * an aggregate report's
						 * document */
};

void	message_limits_default(struct message_limits *l);

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

/*
 * Takes the message data[0..len) (an email, an archive, a bare document;
 * source names it in reasons) to the sink.  Returns 0 when every report
 * found was handed over (and every miss told to not_report), or
 * MESSAGE_STOP when a callback stopped it, its reason in err.
 */
int	message_run(const void *data, size_t len, const char *source,
	    const struct message_limits *lim, const struct message_sink *sink,
	    void *ctx, char *err, size_t errlen);
/* The same for an open file or pipe (see unpack_fd: a bare document is
 * streamed, never held whole). */
int	message_run_fd(int fd, const char *source,
	    const struct message_limits *lim, const struct message_sink *sink,
	    void *ctx, char *err, size_t errlen);

/* The Message-ID of an email (without surrounding blanks), "" when data
 * does not start with a header that has one. */
void	message_header_id(const void *data, size_t len, char *out,
	    size_t outlen);

#endif
