/* aggregate.c - STUB, replaced by the real streaming parser. */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "aggregate.h"

void
agg_limits_default(struct agg_limits *l)
{
	l->max_depth = 32;
	l->max_elements = 10000000;
	l->max_records = 1000000;
	l->max_text = 1024;
}

void
agg_global_init(void)
{
}

int
agg_parse(agg_read_fn rd, const char *(*read_error)(void *), void *rctx,
    const struct agg_limits *lim, const struct agg_handler *h, void *hctx,
    char *err, size_t errlen)
{
	snprintf(err, errlen, "not implemented");
	return -1;
}

int
agg_parse_mem(const void *data, size_t len, const struct agg_limits *lim,
    const struct agg_handler *h, void *hctx, char *err, size_t errlen)
{
	snprintf(err, errlen, "not implemented");
	return -1;
}
