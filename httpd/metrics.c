/*
 * metrics.c - the dashboard's /metrics (Prometheus text format: requests
 * by endpoint class and status class, their latency, the database's
 * errors and gauges) and /healthz (does the database answer).
 *
 * May touch: lib/metrics.c's writers, db/metrics.c's gauges, the pool.
 */
#include "config.h"

#include <string.h>

#include "httpd.h"

#define METRICS_TYPE	"text/plain; version=0.0.4; charset=utf-8"

static const char *const endpoint_names[HTTPD_EP_COUNT] = {
	[HTTPD_EP_API] = "api",
	[HTTPD_EP_EDIT] = "edit",
	[HTTPD_EP_STATIC] = "static",
	[HTTPD_EP_METRICS] = "metrics",
	[HTTPD_EP_HEALTHZ] = "healthz",
};

void
httpd_metrics_init(struct httpd_metrics *m)
{
	unsigned	i;

	memset(m, 0, sizeof(*m));
	for (i = 0; i < HTTPD_EP_COUNT; i++)
		metrics_histogram_init(&m->latency[i], metrics_latency_bounds,
		    metrics_latency_nbounds);
}

enum httpd_endpoint
httpd_endpoint_of(const char *method, const char *url)
{
	if (strncmp(url, "/api/", 5) == 0)
		return strcmp(method, "POST") == 0 ? HTTPD_EP_EDIT :
		    HTTPD_EP_API;
	if (strcmp(url, "/metrics") == 0)
		return HTTPD_EP_METRICS;
	if (strcmp(url, "/healthz") == 0)
		return HTTPD_EP_HEALTHZ;
	return HTTPD_EP_STATIC;
}

void
httpd_metrics_request(struct httpd_metrics *m, enum httpd_endpoint ep,
    unsigned status, uint64_t us)
{
	if (ep >= HTTPD_EP_COUNT || status < 200 || status > 599)
		return;
	metrics_add(&m->requests[ep][status / 100 - 2], 1);
	metrics_observe(&m->latency[ep], us);
}

/* The server's own families. */
static int
metrics_server(const struct httpd_metrics *m, struct buf *out)
{
	const char	*labels[5] = { "endpoint", NULL, "code", NULL, NULL };
	unsigned	 e, k;

	if (metrics_family(out, "dmarcd_http_requests_total", "counter",
	    "HTTP requests answered, by endpoint class and status class") ==
	    -1)
		return -1;
	for (e = 0; e < HTTPD_EP_COUNT; e++)
		for (k = 0; k < HTTPD_STATUS_CLASSES; k++) {
			labels[1] = endpoint_names[e];
			labels[3] = metrics_status_classes[k];
			if (metrics_sample(out, "dmarcd_http_requests_total",
			    labels, metrics_get(&m->requests[e][k])) == -1)
				return -1;
		}
	if (metrics_family(out, "dmarcd_http_request_duration_seconds",
	    "histogram", "seconds from a request's arrival to its response "
	    "being queued, by endpoint class") == -1)
		return -1;
	labels[2] = NULL;
	for (e = 0; e < HTTPD_EP_COUNT; e++) {
		labels[1] = endpoint_names[e];
		if (metrics_histogram_write(out,
		    "dmarcd_http_request_duration_seconds", labels,
		    &m->latency[e]) == -1)
			return -1;
	}
	return 0;
}

void
httpd_metrics_reply(struct httpd *h, struct httpd_reply *reply)
{
	struct db_gauges	 g;
	struct db		*db;
	char			 err[512];
	bool			 up = false;

	memset(&g, 0, sizeof(g));
	if ((db = httpd_pool_get(&h->pool, err, sizeof(err))) != NULL) {
		up = db_gauges_read(db, &g, err, sizeof(err)) == 0;
		httpd_pool_put(&h->pool, db);
	}
	if (!up)
		log_warnx("/metrics: %s", err);
	buf_reset(&reply->body);
	reply->status = 200;
	reply->type = METRICS_TYPE;
	if (metrics_server(&h->metrics, &reply->body) == -1 ||
	    db_gauges_write(&reply->body, &g, up) == -1) {
		buf_reset(&reply->body);
		reply->status = 500;
		buf_adds(&reply->body, "metrics too large\n");
	}
}

void
httpd_health_reply(struct httpd *h, struct httpd_reply *reply)
{
	struct db	*db;
	char		 err[512];
	int		 rc = DB_ETEMP;

	if ((db = httpd_pool_get(&h->pool, err, sizeof(err))) != NULL) {
		rc = db_ping(db, err, sizeof(err));
		httpd_pool_put(&h->pool, db);
	}
	buf_reset(&reply->body);
	reply->type = "text/plain; charset=utf-8";
	reply->no_gzip = true;
	if (rc == 0) {
		reply->status = 200;
		buf_adds(&reply->body, "ok\n");
	} else {
		log_warnx("/healthz: %s", err);
		reply->status = 503;
		buf_adds(&reply->body, "database unavailable\n");
	}
}
