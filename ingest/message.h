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
#include "message_sink.h"

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
