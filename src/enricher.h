/*
 * enricher.h - one enrichment pass over source_host: the DNS of the
 * addresses pending (and, with refresh, of the answers expired), then the
 * classification of what changed (src/classify.c).  For `dmarcd enrich`
 * and lmtp's background enricher; never on a delivery path: no row is
 * locked while DNS is asked, so the rollup never waits on a lookup.
 */
#ifndef DMARCD_ENRICHER_H
#define DMARCD_ENRICHER_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "conf.h"
#include "db.h"
#include "resolver.h"

#define ENRICH_STATES	6	/* enum resolver_state */

struct enrich_stats {
	uint64_t	 looked_up;
	uint64_t	 state[ENRICH_STATES];
	uint64_t	 verified;
	uint64_t	 queries;
	uint64_t	 classified;
	uint64_t	 reclassified;	/* reset by a changed catalogue */
	double		 dns_seconds;
};

struct enricher;

/* From the settings (enrich, dns_*, the classifier's); servers, if not
 * NULL, over dns_servers (a list, as the setting); refresh: look up
 * expired answers again too.  Returns 0, or -1 with the errors written
 * to errs. */
int	enricher_new(const struct conf *c, const char *servers, bool refresh,
	    struct enricher **e_r, FILE *errs);
void	enricher_free(struct enricher **e);
/* Asks a running pass to end after the batch it is in (any thread). */
void	enricher_stop(struct enricher *e);

/*
 * One pass: every address pending (or expired, with refresh) looked up in
 * batches, then every row to classify classified.  enrich = off: nothing;
 * local: classification only.  progress, if not NULL, is called now and
 * then with the counts so far.  Adds to *st.  Returns 0, or a DB_E*
 * status with err.
 */
int	enricher_pass(struct enricher *e, struct db *db,
	    void (*progress)(void *, const struct enrich_stats *), void *arg,
	    struct enrich_stats *st, char *err, size_t errlen);

#endif
