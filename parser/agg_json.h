/*
 * agg_json.h - the public JSON form of an aggregate report, one object per
 * line, shared by `dmarcd parse` and `dmarcd export` (see dmarcd(8)).
 */
#ifndef DMARCD_AGG_JSON_H
#define DMARCD_AGG_JSON_H

#include "lib.h"
#include "aggregate.h"

/* {"type":"aggregate","source":..., ..., "policy":{...},"records":[ */
int	agg_json_begin(struct buf *b, const char *source,
	    const struct agg_report *r);
/* One record object; first is true for the first record of the report. */
int	agg_json_record(struct buf *b, const struct agg_record *rec,
	    bool first);
/* ]}\n */
int	agg_json_end(struct buf *b);
/* {"type":"error","source":...,"reason":...}\n */
int	json_error_line(struct buf *b, const char *source, const char *reason);

#endif
