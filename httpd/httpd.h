/*
 * httpd.h - the dashboard: a libmicrohttpd server with a read-only JSON API
 * under /api/, the single-page app from static/, and /metrics, /healthz.
 *
 * Error contract: functions return 0 or -1 with a reason in a caller-owned
 * buffer (err, errlen; always terminated) unless stated otherwise.
 */
#ifndef DMARCD_HTTPD_H
#define DMARCD_HTTPD_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib.h"
#include "db.h"

#define HTTPD_THREADS		4	/* worker threads = DB connections */
#define HTTPD_MAX_CONNECTIONS	64	/* concurrent HTTP connections */
#define HTTPD_TIMEOUT		30	/* seconds of client inactivity */
#define HTTPD_CONN_MEMORY	(64 * 1024)	/* request headers per connection */
#define HTTPD_STATIC_MAX	(8 << 20)	/* bytes of one static file */
#define HTTPD_STATIC_FILES	64	/* files in static/ */
#define HTTPD_JSON_MAX		(16 << 20)	/* bytes of one API response */
#define HTTPD_GZIP_MIN		1024	/* smaller bodies go uncompressed */
#define HTTPD_USERS_MAX		64	/* users in the users file */
#define HTTPD_USERS_FILE_MAX	(64 * 1024)	/* bytes of the users file */
#define HTTPD_USER_DOMAINS_MAX	256	/* domain patterns of one user */
#define HTTPD_STATEMENT_TIMEOUT	"15s"	/* of one API query */

/* The policy simulator behind /api/simulate (src/simulation.c, given by
 * cmd_serve.c, so httpd/ needs nothing of policy/): appends a JSON array
 * of the domains' simulations to out.  0, or DB_ETEMP / DB_EPERM (out
 * full too) with err. */
struct httpd_sim_query {
	const char	*domain;		/* NULL: every domain */
	const char	*domains;		/* and only these (a text[]
						 * literal); NULL: no limit */
	const char	*since, *until;		/* as dmarcd export takes */
	const char	*p, *sp, *np, *adkim, *aspf, *testing; /* NULL: as
						 * published */
	int		 pct;			/* -1: as published */
	unsigned	 top;
};
typedef int (*httpd_simulate_fn)(struct db *db,
    const struct httpd_sim_query *q, struct buf *out, char *err,
    size_t errlen);

struct httpd_config {
	const char	*listen;	/* HOST:PORT, [v6]:PORT */
	const char	*static_dir;	/* the app (index.html, app.js ...) */
	const char	*vendor_dir;	/* Chart.js (libjs-chart.js) */
	const char	*tls_cert;	/* PEM files; both or neither */
	const char	*tls_key;
	const char	*users_file;	/* "name:crypt-hash" lines */
	/* http_public_url: its origin is this dashboard's too (behind a
	 * reverse proxy, whatever Host the proxy sends); NULL: none */
	const char	*public_url;
	httpd_simulate_fn simulate;	/* NULL: /api/simulate is 404 */
	/* a service rule's name as the catalogue spells it, or NULL when
	 * the catalogue has no such service (NULL hook: taken as given) */
	const char	*(*service_name)(void *arg, const char *name);
	void		*service_arg;
	struct db_config dbc;
};

/* One file served from memory: read once at start-up, so a request never
 * touches the file system (no traversal, no symlink races). */
struct httpd_file {
	char		*path;		/* URL path, e.g. "/static/app.js" */
	const char	*type;		/* Content-Type */
	char		*data;
	size_t		 len;
	char		*gz;		/* gzip of data, NULL when not worth it */
	size_t		 gzlen;
	char		 etag[24];	/* "hex" of a content hash */
	char		 last_modified[40];
	bool		 immutable;	/* vendor files: cache for a day */
};

struct httpd_user {
	char		*name;
	char		*hash;		/* crypt(3) hash */
	bool		 senders;	/* may edit approved senders */
	/* the domain patterns the user may see (domain_pattern_ok); NULL:
	 * every domain (no list in the users file, or "*") */
	char		**domains;
	size_t		 ndomains;
};

/* The connection pool: one read-only connection per worker thread. */
struct httpd_pool {
	pthread_mutex_t	 lock;
	pthread_cond_t	 cond;
	struct db	*conns[HTTPD_THREADS];
	bool		 busy[HTTPD_THREADS];
	const struct db_config *dbc;
};

/* What dmarcd_http_requests_total and _duration_seconds are labelled
 * with: a fixed set, so no client can make up series. */
enum httpd_endpoint {
	HTTPD_EP_API,		/* GET /api/... */
	HTTPD_EP_EDIT,		/* POST /api/senders */
	HTTPD_EP_STATIC,	/* the pages, and any other path */
	HTTPD_EP_METRICS,
	HTTPD_EP_HEALTHZ,
	HTTPD_EP_COUNT
};
#define HTTPD_STATUS_CLASSES	METRICS_STATUS_CLASSES	/* 2xx .. 5xx */

struct httpd_metrics {
	metrics_counter		 requests[HTTPD_EP_COUNT][HTTPD_STATUS_CLASSES];
	struct metrics_histogram latency[HTTPD_EP_COUNT];
};

struct httpd {
	struct httpd_config	 cfg;
	struct httpd_metrics	 metrics;
	struct httpd_file	 files[HTTPD_STATIC_FILES];
	size_t			 nfiles;
	struct httpd_user	 users[HTTPD_USERS_MAX];
	size_t			 nusers;
	struct httpd_pool	 pool;
	struct MHD_Daemon	*daemon;
	char			*tls_cert_pem, *tls_key_pem;
	char			 csrf[33];	/* the edits' token (hex) */
};

/* A response being built by the API: status, type and a capped body. */
struct httpd_reply {
	unsigned	 status;
	const char	*type;
	struct buf	 body;
	char		 disposition[96];	/* Content-Disposition or "" */
	bool		 no_gzip;
	bool		 gzipped;	/* body is a gzip member: sent as it is
					 * when accepted, else inflated */
};

/* server.c */
/* Checks the configuration (loopback or TLS + users), loads the files and
 * users, opens the database pool, and starts listening. */
int	httpd_start(struct httpd *h, const struct httpd_config *cfg,
	    char *err, size_t errlen);
void	httpd_stop(struct httpd *h);
/* What serve refuses before reading any file: a bad listen address, TLS
 * with only one of its files, anything but loopback without TLS and a
 * users file.  check-config runs the same check.  0, or -1 with err. */
int	httpd_check_config(const struct httpd_config *cfg, char *err,
	    size_t errlen);
/* True when host (numeric) is a loopback address. */
bool	httpd_is_loopback(const char *host);
/* Splits HOST:PORT / [V6]:PORT into host (numeric) and port. */
int	httpd_parse_listen(const char *listen, char *host, size_t hostlen,
	    uint16_t *port_r, char *err, size_t errlen);

/* static.c */
/* Loads every regular file of dir (not following symlinks, no
 * subdirectories) under prefix, and the named files of vendor_dir. */
int	httpd_static_load(struct httpd *h, char *err, size_t errlen);
/* The static directory when none is configured: the source tree's static/
 * for a binary run from its build tree, else the installed one. */
const char *httpd_static_default(char *buf, size_t len);
void	httpd_static_free(struct httpd *h);
/* The file for a request path, or NULL.  *bad_r is set when the path is
 * malformed (.., %, backslash, //): the caller answers 400, not 404. */
const struct httpd_file *httpd_static_find(const struct httpd *h,
	    const char *path, bool *bad_r);
/* gzip of data[0..len) into out (capped). */
int	httpd_gzip(const void *data, size_t len, struct buf *out);
/* The inflated gzip member data[0..len) into out (capped). */
int	httpd_gunzip(const void *data, size_t len, struct buf *out);

/* auth.c */
/* Reads a users file of "name:hash[:rights[:domains]]" lines (refused
 * when others may read it) into users[0..max); *n_r: how many. */
int	httpd_users_load(const char *path, struct httpd_user *users,
	    size_t max, size_t *n_r, char *err, size_t errlen);
void	httpd_users_free(struct httpd_user *users, size_t n);
void	httpd_user_free_domains(struct httpd_user *u);
/* Whether u (NULL: no users file) may see domain (as stored). */
bool	httpd_user_sees(const struct httpd_user *u, const char *domain);
/* httpd_users_load of cfg.users_file into h. */
int	httpd_auth_load(struct httpd *h, char *err, size_t errlen);
void	httpd_auth_free(struct httpd *h);
/* The user when name/password match (crypt_r, constant-time compare),
 * else NULL. */
const struct httpd_user *httpd_auth_check(const struct httpd *h,
	    const char *name, const char *password);

/* pool.c */
int	httpd_pool_open(struct httpd_pool *p, const struct db_config *dbc,
	    char *err, size_t errlen);
void	httpd_pool_close(struct httpd_pool *p);
/* Waits for a free connection (reconnecting a broken one); NULL when the
 * database is unreachable. */
struct db *httpd_pool_get(struct httpd_pool *p, char *err, size_t errlen);
void	httpd_pool_put(struct httpd_pool *p, struct db *db);

/* metrics.c: GET /metrics and /healthz of the dashboard */
void	httpd_metrics_init(struct httpd_metrics *m);
/* The endpoint class of a request (its method and path). */
enum httpd_endpoint httpd_endpoint_of(const char *method, const char *url);
/* Counts a request answered with status after us microseconds. */
void	httpd_metrics_request(struct httpd_metrics *m, enum httpd_endpoint ep,
	    unsigned status, uint64_t us);
/* The scrape into reply: the server's counters, the database's gauges
 * (200, or 500 when it does not fit HTTPD_JSON_MAX). */
void	httpd_metrics_reply(struct httpd *h, struct httpd_reply *reply);
/* 200 "ok" when the database answers SELECT 1, else 503. */
void	httpd_health_reply(struct httpd *h, struct httpd_reply *reply);

/* api.c */
/* A query-string parameter as the API saw it. */
struct api_param {
	const char	*key;
	const char	*value;
};

#define API_PARAMS_MAX	16

/* Answers GET /api/<path> with params into reply (status 200, 400, 404,
 * 503 with a JSON {"error": ...} body), for user (NULL: no users file):
 * only what is of the domains the user may see (a domain they may not is
 * 404, as one that does not exist). */
void	api_handle(struct httpd *h, const char *path,
	    const struct api_param *params, size_t nparams,
	    const struct httpd_user *user, struct httpd_reply *reply);
/* Answers POST /api/<path>: the approved-sender edits (POST /api/senders),
 * for user (NULL: no users file, no edits); csrf_ok: the request carried
 * the token of /api/meta and came from this origin. */
void	api_handle_post(struct httpd *h, const char *path,
	    const struct api_param *params, size_t nparams,
	    const struct httpd_user *user, bool csrf_ok,
	    struct httpd_reply *reply);
/* Fills reply with {"error": msg}. */
void	api_error(struct httpd_reply *reply, unsigned status,
	    const char *msg);

/* The request being answered (api.c parses it; api_reports.c reads it). */
struct api_ctx {
	struct httpd		*h;
	struct db		*db;
	struct httpd_reply	*reply;
	const struct httpd_user	*user;		/* NULL: no users file */
	const char		*domain, *reporter, *ip, *sort, *order;
	const char		*service, *service_type;	/* "": none */
	/* the domains the user may see, a text[] literal (in domains_buf);
	 * NULL: every domain.  $11 of every filtered query. */
	const char		*domains;
	struct buf		 domains_buf;
	char			 from[16], to[16];
	char			 limit_s[24], offset_s[24], id_s[24];
	int64_t			 limit, offset, id;
	bool			 all;
	/* /api/simulate: the policy asked for; NULL / -1: as published */
	const char		*p, *sp, *np, *adkim, *aspf, *testing;
	int			 pct;
};

/* The parameters of every filtered query, as db/queries.h numbers them
 * ($1 ...); each query is sent all of them. */
#define API_VALS(x) \
	{ (x)->domain, (x)->from, (x)->to, (x)->reporter, (x)->ip, \
	  (x)->limit_s, (x)->offset_s, (x)->id_s, (x)->service, \
	  (x)->service_type, (x)->domains }
#define API_NV	11

/* Opens the response object with the filter as applied. */
int	api_begin(struct api_ctx *x);
/* Closes it; rc != 0 (or no room) answers 500.  Returns 0 or -1. */
int	api_end(struct api_ctx *x, int rc);
/* Runs one query with n text parameters and appends its rows (one: the
 * first row as an object) under key; -1 when the reply is already an
 * error. */
int	api_add_query(struct api_ctx *x, const char *key, const char *sql,
	    int n, const char *const *vals, bool one);

/* Runs a query: 1 when it has a row, 0 when none, -1 when answered with
 * an error. */
int	api_exists(struct api_ctx *x, const char *sql, int n,
	    const char *const *vals);

/* api_reports.c: failure and TLS reports */
int	api_forensic(struct api_ctx *x);
int	api_forensic_item(struct api_ctx *x);
int	api_tlsrpt(struct api_ctx *x);
int	api_tlsrpt_item(struct api_ctx *x);

#endif
