/*
 * lib.h - small shared helpers: the capped buffer, the JSON encoder, escaped
 * logging and the output spool.  Nothing here knows about DMARC.
 */
#ifndef DMARCD_LIB_H
#define DMARCD_LIB_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define nitems(a) (sizeof(a) / sizeof((a)[0]))

/* buf.c: the one growable buffer.  Every buffer has a named cap; growth past
 * it fails instead of allocating (curl's dynbuf). */
struct buf {
	char	*data;	/* NUL-terminated when len > 0 */
	size_t	 len;
	size_t	 size;
	size_t	 cap;	/* most bytes this buffer may ever hold */
};

void	buf_init(struct buf *b, size_t cap);
/* Returns 0, or -1 when the cap would be exceeded (nothing appended). */
int	buf_add(struct buf *b, const void *p, size_t n);
int	buf_addc(struct buf *b, char c);
int	buf_adds(struct buf *b, const char *s);
int	buf_printf(struct buf *b, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));
/* Appends text's words wrapped before column width, then a newline: out
 * is at column col now; a first line short of indent, and every further
 * line, starts at indent. */
int	buf_wrap(struct buf *b, const char *text, int col, int indent,
	    int width);
void	buf_reset(struct buf *b);
void	buf_free(struct buf *b);
/* Hands the data out (caller frees) and resets the buffer. */
char	*buf_take(struct buf *b);

/* json.c: the one JSON encoder.  Appends to an uncapped-enough buffer; the
 * return value is that of buf_add (-1 when the buffer's cap is reached). */
int	json_str(struct buf *b, const char *s);	/* NULL -> null */
int	json_strn(struct buf *b, const char *s, size_t n);
int	json_int(struct buf *b, long long v);
int	json_uint(struct buf *b, unsigned long long v);
/* Appends ,"key": (without the comma when first is true). */
int	json_key(struct buf *b, const char *key, bool first);

/* html.c: the one HTML escaper (for server-built HTML: the summary mail).
 * Escapes & < > " ' and replaces invalid UTF-8 and control characters;
 * NULL appends nothing.  Returns as buf_add. */
int	html_escape(struct buf *b, const char *s);

/* log.c: logging to stderr or syslog; every message is escaped so report
 * bytes cannot forge log lines or terminal sequences. */
void	log_init(const char *ident, bool use_syslog, int verbose);
void	log_warnx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void	log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void	log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void	fatalx(const char *fmt, ...)
	    __attribute__((format(printf, 1, 2), noreturn));
/* strdup, NULL for NULL; out of memory is fatal (fatalx). */
char	*xstrdup(const char *s);
/* Escapes control characters and invalid UTF-8 of s[0..n) into dst (size
 * dstlen, always terminated, truncated with "..." when short). */
void	str_escape(char *dst, size_t dstlen, const char *s, size_t n);

/* spool.c: output held back until a unit of work succeeds, in memory up to
 * mem_cap bytes and in an unlinked temporary file beyond, so a huge report's
 * output never has to fit in memory. */
struct spool {
	struct buf	 mem;
	FILE		*file;	/* NULL until the memory part is full */
	size_t		 mem_cap;
};

void	spool_init(struct spool *s, size_t mem_cap);
int	spool_write(struct spool *s, const void *p, size_t n);
/* Copies everything spooled to out and empties the spool. */
int	spool_flush_to(struct spool *s, FILE *out);
void	spool_reset(struct spool *s);
void	spool_free(struct spool *s);

/* util.c */
/* Reads a whole file (or stdin for "-") of at most cap bytes.  Returns 0, or
 * -1 with a reason in err. */
int	read_file_capped(const char *path, size_t cap, struct buf *out,
	    char *err, size_t errlen);
/* Trims ASCII white space in place; returns the start. */
char	*str_trim(char *s);
void	str_lower(char *s);
/* Length (1..4) of the valid UTF-8 sequence at s, n bytes left; 0 when it
 * is invalid: truncated, overlong, a surrogate or past U+10FFFF.  The one
 * UTF-8 check of the JSON encoder, the HTML escaper and the log escaper. */
size_t	utf8_len(const unsigned char *s, size_t n);
/* A domain name as stored: lower case, without the root's final dot; NULL
 * is left alone. */
void	str_domain_norm(char *s);
/* A pattern of the domains a user may see (http_users): a domain, "*.D"
 * (every subdomain of D, at any depth, not D itself) or "*" (every
 * domain); as stored (str_domain_norm).  domain_pattern_match compares a
 * stored domain with one. */
bool	domain_pattern_ok(const char *pattern);
bool	domain_pattern_match(const char *pattern, const char *domain);
/* strtoll on a trimmed decimal string; 0 on success, -1 if not a whole
 * number in [min, max]. */
int	parse_int64(const char *s, int64_t min, int64_t max, int64_t *v_r);
/* Seconds on CLOCK_MONOTONIC, for intervals. */
double	now_seconds(void);

/* metrics.c: counters and fixed-bucket histograms that any thread may bump
 * (C11 atomics, relaxed: a scrape needs no ordering), and the Prometheus
 * text exposition format 0.0.4 they are scraped in.  The writers append
 * to a capped buffer and return as buf_add (-1: the cap is reached). */
#define METRICS_BUCKETS_MAX	16
#define METRICS_TEXT_MAX	(1 << 20)	/* bytes of one scrape */

typedef _Atomic uint64_t metrics_counter;

struct metrics_histogram {
	const double	*bounds;	/* upper bounds in seconds, ascending;
					 * +Inf is implied */
	unsigned	 nbounds;	/* <= METRICS_BUCKETS_MAX */
	metrics_counter	 bucket[METRICS_BUCKETS_MAX + 1]; /* not cumulative */
	metrics_counter	 sum_us;	/* microseconds observed */
};

/* The latency buckets both servers use: 1 ms to 10 s. */
extern const double metrics_latency_bounds[];
extern const unsigned metrics_latency_nbounds;

void	metrics_add(metrics_counter *c, uint64_t n);
uint64_t metrics_get(const metrics_counter *c);
void	metrics_histogram_init(struct metrics_histogram *h,
	    const double *bounds, unsigned nbounds);
void	metrics_observe(struct metrics_histogram *h, uint64_t us);
/* Microseconds on CLOCK_MONOTONIC, for metrics_observe. */
uint64_t metrics_now_us(void);
/* The "# HELP" and "# TYPE" lines of a family (type "counter", "gauge"
 * or "histogram"); its samples follow, all of them before the next
 * family. */
int	metrics_family(struct buf *out, const char *name, const char *type,
	    const char *help);
/* One sample line "name{k="v",...} value".  labels: key, value pairs
 * ending with NULL (NULL: none); values are escaped as the format wants
 * (backslash, double quote, newline). */
int	metrics_sample(struct buf *out, const char *name,
	    const char *const *labels, uint64_t value);
int	metrics_sample_double(struct buf *out, const char *name,
	    const char *const *labels, double value);
/* A counter family with one sample per value of one label: name{label=
 * "values[i]"} c[i], i < n. */
int	metrics_counters(struct buf *out, const char *name, const char *help,
	    const char *label, const char *const *values,
	    const metrics_counter *c, size_t n);
/* The label values of HTTP and LMTP status classes, 2xx to 5xx. */
#define METRICS_STATUS_CLASSES	4
extern const char *const metrics_status_classes[METRICS_STATUS_CLASSES];
/* A histogram's _bucket lines (cumulative, le="+Inf" last), _sum and
 * _count, with labels on each. */
int	metrics_histogram_write(struct buf *out, const char *name,
	    const char *const *labels, const struct metrics_histogram *h);

#endif
