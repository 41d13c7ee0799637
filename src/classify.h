/*
 * classify.h - what a source IP is, from what is known of it: the
 * organisational domain of its PTR name, the service of the catalogue it
 * belongs to, its network and country.  Works on source_host rows
 * (sql/011_source_host.sql) whose classified is NULL; no network: the DNS
 * answers are the enricher's (src/enricher.c), the rest is local data.
 */
#ifndef DMARCD_CLASSIFY_H
#define DMARCD_CLASSIFY_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "conf.h"
#include "db.h"

struct classifier;

/* Loads what classification needs (the settings' catalogue and MMDB
 * files).  Returns 0, or -1 with every error written to errs. */
int	classifier_open(const struct conf *c, struct classifier **cl_r,
	    FILE *errs);
void	classifier_free(struct classifier *cl);

/*
 * Compares what cl classifies with (its catalogue, MMDB files and rules,
 * hashed) with what the database's sources were classified with; when
 * they differ, every source is to be classified again.  *n_r: how many.
 * Returns 0, or -1 with err.
 */
int	classifier_sync(struct db *db, struct classifier *cl, uint64_t *n_r,
	    char *err, size_t errlen);

/*
 * Classifies up to max rows of source_host with classified NULL, in
 * address order; rows still pending their DNS lookup wait, unless local
 * (enrich = local: no lookup will come).  *n_r is the number done: fewer
 * than max when none is left.  Returns 0, or -1 with err.
 */
int	classify_hosts(struct db *db, struct classifier *cl, bool local,
	    unsigned max, uint64_t *n_r, char *err, size_t errlen);

#endif
