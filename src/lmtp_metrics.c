/*
 * lmtp_metrics.c - `dmarcd lmtp`'s counters and the small HTTP listener
 * (lmtp_metrics_listen, loopback only) that serves them as /metrics in
 * the Prometheus text format, with /healthz beside it.
 *
 * The event loop counts (lmtp_metrics_delivered, lmtp_metrics_reply);
 * the listener is one libmicrohttpd thread that only reads the atomic
 * counters and, for the gauges and /healthz, a database connection of
 * its own (store_connect, so it follows a reload).  Nothing here can hold
 * up a delivery.
 *
 * May touch: struct lmtp_metrics, runconf_get/put, store_connect.
 */
#include "config.h"

#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <microhttpd.h>

#include "lib.h"
#include "dmarcd.h"
#include "httpd.h"
#include "lmtp_daemon.h"

#define METRICS_TYPE		"text/plain; version=0.0.4; charset=utf-8"
#define METRICS_CONNECTIONS	8	/* concurrent scrapers */
#define METRICS_TIMEOUT		10	/* seconds of client inactivity */
#define METRICS_CONN_MEMORY	(16 * 1024)	/* request headers */

static const char *const delivery_names[LMTP_DELIVERY_COUNT] = {
	[LMTP_DELIVERY_STORED] = "stored",
	[LMTP_DELIVERY_DUPLICATE] = "duplicate",
	[LMTP_DELIVERY_QUARANTINED] = "quarantined",
	[LMTP_DELIVERY_TEMPFAIL] = "tempfail",
};
static const char *const kind_names[LMTP_KIND_COUNT] = {
	[LMTP_KIND_AGGREGATE] = "aggregate",
	[LMTP_KIND_FAILURE] = "failure",
	[LMTP_KIND_TLS] = "tls",
};

void
lmtp_metrics_init(struct lmtp_metrics *m)
{
	memset(m, 0, sizeof(*m));
	m->fd = -1;
	metrics_histogram_init(&m->latency, metrics_latency_bounds,
	    metrics_latency_nbounds);
}

/* --- counting (the event loop) ---------------------------------------- */

void
lmtp_metrics_delivered(struct daemon *d, const struct job *j, uint64_t us)
{
	struct lmtp_metrics		*m = &d->metrics;
	const struct db_message_result	*r = &j->res;
	enum lmtp_delivery		 out;

	if (j->rc != 0)
		out = LMTP_DELIVERY_TEMPFAIL;
	else if (r->reports + r->forensic + r->tlsrpt > 0)
		out = LMTP_DELIVERY_STORED;
	else if (r->duplicates + r->forensic_duplicates +
	    r->tlsrpt_duplicates > 0)
		out = LMTP_DELIVERY_DUPLICATE;
	else
		out = LMTP_DELIVERY_QUARANTINED;
	metrics_add(&m->deliveries[out], 1);
	metrics_observe(&m->latency, us);
	if (j->rc != 0)
		return;		/* nothing of it was committed */
	metrics_add(&m->reports[LMTP_KIND_AGGREGATE], r->reports);
	metrics_add(&m->reports[LMTP_KIND_FAILURE], r->forensic);
	metrics_add(&m->reports[LMTP_KIND_TLS], r->tlsrpt);
	metrics_add(&m->duplicates[LMTP_KIND_AGGREGATE], r->duplicates);
	metrics_add(&m->duplicates[LMTP_KIND_FAILURE],
	    r->forensic_duplicates);
	metrics_add(&m->duplicates[LMTP_KIND_TLS], r->tlsrpt_duplicates);
	metrics_add(&m->records, r->records);
	if (r->quarantined)	/* in whole or in part */
		metrics_add(&m->quarantined, 1);
}

void
lmtp_metrics_reply(void *ctx, unsigned code)
{
	struct conn	*c = ctx;

	if (code >= 200 && code <= 599)
		metrics_add(&c->d->metrics.replies[code / 100 - 2], 1);
}

void
lmtp_metrics_reply_busy(struct daemon *d)
{
	metrics_add(&d->metrics.replies[2], 1);
}

/* --- the listener ----------------------------------------------------- */

int
lmtp_metrics_bind(struct daemon *d)
{
	struct lmtp_metrics	*m = &d->metrics;
	struct sockaddr_storage	 ss;
	struct sockaddr_in	*sin = (struct sockaddr_in *)&ss;
	struct sockaddr_in6	*sin6 = (struct sockaddr_in6 *)&ss;
	const char		*spec = d->set->metrics_listen;
	char			 host[INET6_ADDRSTRLEN + 1], err[256];
	socklen_t		 sl;
	uint16_t		 port;
	int			 fd, one = 1;

	if (spec == NULL || *spec == '\0')
		return 0;
	if (lmtp_metrics_check(spec, err, sizeof(err)) != 0) {
		log_warnx("lmtp_metrics_listen: %s", err);
		return -1;
	}
	(void)httpd_parse_listen(spec, host, sizeof(host), &port, err,
	    sizeof(err));
	memset(&ss, 0, sizeof(ss));
	if (strchr(host, ':') != NULL) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(port);
		inet_pton(AF_INET6, host, &sin6->sin6_addr);
		sl = sizeof(*sin6);
	} else {
		sin->sin_family = AF_INET;
		sin->sin_port = htons(port);
		inet_pton(AF_INET, host, &sin->sin_addr);
		sl = sizeof(*sin);
	}
	if ((fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0)) ==
	    -1 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one,
	    sizeof(one)) == -1 || bind(fd, (struct sockaddr *)&ss, sl) == -1 ||
	    listen(fd, 16) == -1) {
		log_warnx("lmtp_metrics_listen: %s: %s", spec,
		    strerror(errno));
		if (fd != -1)
			close(fd);
		return -1;
	}
	m->fd = fd;
	snprintf(m->name, sizeof(m->name), "%s", spec);
	return 0;
}

int
lmtp_metrics_check(const char *spec, char *err, size_t errlen)
{
	char		host[INET6_ADDRSTRLEN + 1];
	uint16_t	port;

	if (spec == NULL || *spec == '\0')
		return 0;
	if (httpd_parse_listen(spec, host, sizeof(host), &port, err,
	    errlen) != 0)
		return -1;
	if (!httpd_is_loopback(host)) {
		/* no TLS and no users here: serve's /metrics has both */
		snprintf(err, errlen, "%s: not a loopback address (the "
		    "metrics listener has no TLS and no users)", host);
		return -1;
	}
	return 0;
}

/* The counters, then the database's gauges. */
static int
metrics_render(struct daemon *d, struct buf *out, bool up,
    const struct db_gauges *g)
{
	struct lmtp_metrics	*m = &d->metrics;

	if (metrics_counters(out, "dmarcd_lmtp_deliveries_total",
	    "LMTP messages delivered, by outcome (one per message after "
	    "DATA)", "outcome", delivery_names, m->deliveries,
	    LMTP_DELIVERY_COUNT) == -1 ||
	    metrics_counters(out, "dmarcd_lmtp_replies_total",
	    "LMTP replies sent, by status class", "class",
	    metrics_status_classes, m->replies, LMTP_REPLY_CLASSES) == -1 ||
	    metrics_counters(out, "dmarcd_reports_stored_total",
	    "new reports stored, by kind", "kind", kind_names, m->reports,
	    LMTP_KIND_COUNT) == -1 ||
	    metrics_counters(out, "dmarcd_report_duplicates_total",
	    "reports received again (stored before, not stored twice), by "
	    "kind", "kind", kind_names, m->duplicates, LMTP_KIND_COUNT) == -1)
		return -1;
	if (metrics_family(out, "dmarcd_records_stored_total", "counter",
	    "records of the new aggregate reports stored") == -1 ||
	    metrics_sample(out, "dmarcd_records_stored_total", NULL,
	    metrics_get(&m->records)) == -1 ||
	    metrics_family(out, "dmarcd_quarantined_total", "counter",
	    "messages kept in the quarantine, in whole or in part") == -1 ||
	    metrics_sample(out, "dmarcd_quarantined_total", NULL,
	    metrics_get(&m->quarantined)) == -1 ||
	    metrics_family(out, "dmarcd_lmtp_sessions_total", "counter",
	    "LMTP connections accepted") == -1 ||
	    metrics_sample(out, "dmarcd_lmtp_sessions_total", NULL,
	    metrics_get(&m->sessions)) == -1 ||
	    metrics_family(out, "dmarcd_lmtp_delivery_duration_seconds",
	    "histogram", "seconds from a message's final dot to its reply "
	    "(queue, storing, commit)") == -1 ||
	    metrics_histogram_write(out,
	    "dmarcd_lmtp_delivery_duration_seconds", NULL, &m->latency) == -1)
		return -1;
	return db_gauges_write(out, g, up);
}

/* The listener thread's database work: the gauges, or the ping. */
static int
metrics_db(struct daemon *d, bool health, struct db_gauges *g, char *err,
    size_t errlen)
{
	struct lmtp_metrics	*m = &d->metrics;
	struct runconf		*rc = runconf_get(d);
	int			 r;

	r = store_connect(d, rc, &m->db, &m->gen, err, errlen);
	runconf_put(d, rc);
	if (r == 0)
		r = health ? db_ping(m->db, err, errlen) :
		    db_gauges_read(m->db, g, err, errlen);
	if (r != 0)
		db_close(&m->db);	/* maybe broken: connect next time */
	return r;
}

static enum MHD_Result
metrics_send(struct MHD_Connection *c, unsigned status, const char *type,
    struct buf *body)
{
	struct MHD_Response	*r;
	enum MHD_Result		 ret;
	size_t			 len = body->len;
	char			*data = buf_take(body);

	r = MHD_create_response_from_buffer(data != NULL ? len : 0,
	    data != NULL ? data : "", data != NULL ? MHD_RESPMEM_MUST_FREE :
	    MHD_RESPMEM_PERSISTENT);
	if (r == NULL) {
		free(data);
		return MHD_NO;
	}
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
	MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
	if (status == MHD_HTTP_METHOD_NOT_ALLOWED)
		MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
	ret = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result
metrics_access(void *cls, struct MHD_Connection *c, const char *url,
    const char *method, const char *version, const char *upload_data,
    size_t *upload_data_size, void **con_cls)
{
	struct daemon		*d = cls;
	struct db_gauges	 g;
	struct buf		 body;
	enum MHD_Result		 ret;
	char			 err[512];
	const char		*type = "text/plain; charset=utf-8";
	unsigned		 status;
	bool			 up;

	(void)version;
	(void)upload_data;
	(void)upload_data_size;
	(void)con_cls;
	buf_init(&body, METRICS_TEXT_MAX);
	memset(&g, 0, sizeof(g));
	if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 &&
	    strcmp(method, MHD_HTTP_METHOD_HEAD) != 0) {
		status = MHD_HTTP_METHOD_NOT_ALLOWED;
		buf_adds(&body, "method not allowed\n");
	} else if (strcmp(url, "/healthz") == 0) {
		if (metrics_db(d, true, NULL, err, sizeof(err)) == 0) {
			status = MHD_HTTP_OK;
			buf_adds(&body, "ok\n");
		} else {
			log_warnx("/healthz: %s", err);
			status = MHD_HTTP_SERVICE_UNAVAILABLE;
			buf_adds(&body, "database unavailable\n");
		}
	} else if (strcmp(url, "/metrics") == 0) {
		up = metrics_db(d, false, &g, err, sizeof(err)) == 0;
		if (!up)
			log_warnx("/metrics: %s", err);
		status = MHD_HTTP_OK;
		type = METRICS_TYPE;
		if (metrics_render(d, &body, up, &g) == -1) {
			buf_reset(&body);
			status = MHD_HTTP_INTERNAL_SERVER_ERROR;
			type = "text/plain; charset=utf-8";
			buf_adds(&body, "metrics too large\n");
		}
	} else {
		status = MHD_HTTP_NOT_FOUND;
		buf_adds(&body, "not found (/metrics, /healthz)\n");
	}
	ret = metrics_send(c, status, type, &body);
	buf_free(&body);
	return ret;
}

void
lmtp_metrics_start(struct daemon *d)
{
	struct lmtp_metrics	*m = &d->metrics;

	if (m->fd == -1)
		return;
	/* one thread (no pool): the handler and m->db are never used
	 * concurrently; epoll where there is one, as lmtp's descriptors may
	 * be many */
	m->mhd = MHD_start_daemon(MHD_USE_AUTO_INTERNAL_THREAD |
	    MHD_USE_ERROR_LOG, 0, NULL, NULL, metrics_access, d,
	    MHD_OPTION_LISTEN_SOCKET, (MHD_socket)m->fd,
	    MHD_OPTION_CONNECTION_LIMIT, (unsigned)METRICS_CONNECTIONS,
	    MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)METRICS_TIMEOUT,
	    MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)METRICS_CONN_MEMORY,
	    MHD_OPTION_END);
	if (m->mhd == NULL)
		fatalx("metrics: cannot serve on %s", m->name);
	log_info("metrics on http://%s/metrics", m->name);
}

void
lmtp_metrics_stop(struct daemon *d)
{
	struct lmtp_metrics	*m = &d->metrics;

	if (m->mhd != NULL)
		MHD_stop_daemon(m->mhd);	/* closes m->fd */
	else if (m->fd != -1)
		close(m->fd);
	m->mhd = NULL;
	m->fd = -1;
	db_close(&m->db);
}
