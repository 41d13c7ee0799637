/*
 * metrics.c - counters and fixed-bucket histograms shared between threads,
 * written in the Prometheus text exposition format, version 0.0.4
 * (https://prometheus.io/docs/instrumenting/exposition_formats/).
 *
 * May touch: nothing but the buffer it writes to; what is counted, and
 * where, is the daemons' (src/lmtp_metrics.c, httpd/metrics.c).
 */
#include "config.h"

#include <math.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>

#include "lib.h"

const double metrics_latency_bounds[] = {
	0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
};
const unsigned metrics_latency_nbounds = nitems(metrics_latency_bounds);

void
metrics_add(metrics_counter *c, uint64_t n)
{
	atomic_fetch_add_explicit(c, n, memory_order_relaxed);
}

uint64_t
metrics_get(const metrics_counter *c)
{
	return atomic_load_explicit(c, memory_order_relaxed);
}

void
metrics_histogram_init(struct metrics_histogram *h, const double *bounds,
    unsigned nbounds)
{
	unsigned	i;

	if (nbounds > METRICS_BUCKETS_MAX)
		fatalx("metrics: %u buckets, at most %u", nbounds,
		    METRICS_BUCKETS_MAX);
	h->bounds = bounds;
	h->nbounds = nbounds;
	for (i = 0; i <= METRICS_BUCKETS_MAX; i++)
		atomic_init(&h->bucket[i], 0);
	atomic_init(&h->sum_us, 0);
}

void
metrics_observe(struct metrics_histogram *h, uint64_t us)
{
	unsigned	i;

	/* the first bucket that holds it; le is "less or equal" */
	for (i = 0; i < h->nbounds; i++)
		if ((double)us <= h->bounds[i] * 1e6)
			break;
	metrics_add(&h->bucket[i], 1);
	metrics_add(&h->sum_us, us);
}

uint64_t
metrics_now_us(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

const char *const metrics_status_classes[METRICS_STATUS_CLASSES] = {
	"2xx", "3xx", "4xx", "5xx",
};

/* HELP text and label values: backslash and newline escaped, and in a
 * label value the double quote (the format allows it in HELP). */
static int
metrics_escape(struct buf *out, const char *s, bool quote)
{
	int	r = 0;

	for (; *s != '\0' && r == 0; s++)
		if (*s == '\\')
			r = buf_adds(out, "\\\\");
		else if (*s == '"' && quote)
			r = buf_adds(out, "\\\"");
		else if (*s == '\n')
			r = buf_adds(out, "\\n");
		else
			r = buf_addc(out, *s);
	return r;
}

int
metrics_family(struct buf *out, const char *name, const char *type,
    const char *help)
{
	if (buf_printf(out, "# HELP %s ", name) == -1 ||
	    metrics_escape(out, help, false) == -1 ||
	    buf_printf(out, "\n# TYPE %s %s\n", name, type) == -1)
		return -1;
	return 0;
}

/* name{labels[,le="le"]} without the value; le may be NULL. */
static int
metrics_series(struct buf *out, const char *name, const char *suffix,
    const char *const *labels, const char *le)
{
	bool	open = false;

	if (buf_printf(out, "%s%s", name, suffix) == -1)
		return -1;
	for (; labels != NULL && labels[0] != NULL; labels += 2) {
		if (buf_printf(out, "%s%s=\"", open ? "," : "{",
		    labels[0]) == -1 ||
		    metrics_escape(out, labels[1] != NULL ? labels[1] :
		    "", true) == -1 || buf_addc(out, '"') == -1)
			return -1;
		open = true;
	}
	if (le != NULL) {
		if (buf_printf(out, "%sle=\"%s\"", open ? "," : "{",
		    le) == -1)
			return -1;
		open = true;
	}
	return open ? buf_addc(out, '}') : 0;
}

int
metrics_sample(struct buf *out, const char *name, const char *const *labels,
    uint64_t value)
{
	if (metrics_series(out, name, "", labels, NULL) == -1)
		return -1;
	return buf_printf(out, " %llu\n", (unsigned long long)value);
}

int
metrics_sample_double(struct buf *out, const char *name,
    const char *const *labels, double value)
{
	if (metrics_series(out, name, "", labels, NULL) == -1)
		return -1;
	if (isnan(value))
		return buf_adds(out, " NaN\n");
	if (isinf(value))
		return buf_adds(out, value > 0 ? " +Inf\n" : " -Inf\n");
	return buf_printf(out, " %.9g\n", value);
}

int
metrics_histogram_write(struct buf *out, const char *name,
    const char *const *labels, const struct metrics_histogram *h)
{
	char		 le[32];
	uint64_t	 cum = 0;
	unsigned	 i;

	/* _count is the +Inf bucket's sum, read once: a scrape racing an
	 * observation stays consistent with itself */
	for (i = 0; i <= h->nbounds; i++) {
		cum += metrics_get(&h->bucket[i]);
		if (i < h->nbounds)
			snprintf(le, sizeof(le), "%g", h->bounds[i]);
		else
			snprintf(le, sizeof(le), "+Inf");
		if (metrics_series(out, name, "_bucket", labels, le) == -1 ||
		    buf_printf(out, " %llu\n", (unsigned long long)cum) == -1)
			return -1;
	}
	if (metrics_series(out, name, "_sum", labels, NULL) == -1 ||
	    buf_printf(out, " %.6f\n",
	    (double)metrics_get(&h->sum_us) / 1e6) == -1 ||
	    metrics_series(out, name, "_count", labels, NULL) == -1 ||
	    buf_printf(out, " %llu\n", (unsigned long long)cum) == -1)
		return -1;
	return 0;
}

int
metrics_counters(struct buf *out, const char *name, const char *help,
    const char *label, const char *const *values, const metrics_counter *c,
    size_t n)
{
	const char	*l[3] = { label, NULL, NULL };
	size_t		 i;

	if (metrics_family(out, name, "counter", help) == -1)
		return -1;
	for (i = 0; i < n; i++) {
		l[1] = values[i];
		if (metrics_sample(out, name, l, metrics_get(&c[i])) == -1)
			return -1;
	}
	return 0;
}
