/*
 * alerts.h - `dmarcd alerts --check` and the evaluation after an ingest:
 * the rules of dmarcd.conf evaluated by db/alerts.c, their new episodes
 * rendered (alerts.c) and sent by mail, the summary's way, and to a
 * webhook (webhook.c, libcurl).
 *
 * Error contract: 0, DB_ETEMP or -1, the reason in a caller-owned buffer.
 */
#ifndef DMARCD_ALERTS_H
#define DMARCD_ALERTS_H

#include <stdbool.h>
#include <stdio.h>

#include "lib.h"
#include "db.h"
#include "conf.h"

#define ALERTS_BODY_CAP		(4 << 20)	/* bytes of a mail or POST */
#define WEBHOOK_REPLY_CAP	(64 << 10)	/* bytes of an answer read */

enum alerts_format {
	ALERTS_TEXT,
	ALERTS_JSON,
};

/* alerts.c */
/* Whether any rule is on and any destination set. */
bool	alerts_configured(const struct conf *c);
/* Evaluates c's rules and sends each destination what it has not had;
 * writes what was sent (or, dry_run, what would be: then nothing is
 * stored or sent) to out, which may be NULL.  A destination that fails is
 * logged and tried again by the next evaluation; the return is then -1
 * (DB_ETEMP for a temporary failure) after the others were served. */
int	alerts_check(struct db *db, const struct conf *c, bool dry_run,
	    enum alerts_format fmt, FILE *out, char *err, size_t errlen);

/* webhook.c */
/* An http:// or https:// URL with something after the scheme, no blank:
 * what webhook_post takes (check-config asks it too). */
bool	webhook_url_ok(const char *url);
/* POSTs body (JSON) to url, http:// or https:// only, no redirect
 * followed, within timeout seconds; 0 on a 2xx answer. */
int	webhook_post(const char *url, const char *body, size_t len,
	    unsigned timeout, char *err, size_t errlen);

#endif
