/*
 * server.c - the libmicrohttpd daemon: routing, the headers every response
 * carries (CSP, nosniff, caching), gzip, HTTP basic authentication, and
 * the count and time of every request answered (metrics.c).
 */
#include "config.h"

#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <microhttpd.h>

#include "httpd.h"

#define HTTPD_CSP "default-src 'self'; script-src 'self'; style-src 'self'; " \
	"img-src 'self' data:; connect-src 'self'; object-src 'none'; " \
	"base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

#define HTTPD_PUBLIC_REFUSED	"refusing to listen on %s without TLS and " \
	"users (http_tls_cert, http_tls_key, http_users); or listen on " \
	"loopback behind a reverse proxy"
#define HTTPD_PEM_MAX	(1 << 20)	/* bytes of a key or certificate */

/* The status of the response this thread queued for the request it is
 * answering (libmicrohttpd runs the access handler and queues its response
 * in one thread), for dmarcd_http_requests_total; 0: none yet. */
static _Thread_local unsigned httpd_status;

bool
httpd_is_loopback(const char *host)
{
	struct in_addr	 a4;
	struct in6_addr	 a6;

	if (inet_pton(AF_INET, host, &a4) == 1)
		return (ntohl(a4.s_addr) >> 24) == 127;
	if (inet_pton(AF_INET6, host, &a6) == 1)
		return IN6_IS_ADDR_LOOPBACK(&a6) ||
		    (IN6_IS_ADDR_V4MAPPED(&a6) && a6.s6_addr[12] == 127);
	return false;
}

int
httpd_parse_listen(const char *listen, char *host, size_t hostlen,
    uint16_t *port_r, char *err, size_t errlen)
{
	const char	*colon, *h = listen;
	size_t		 hl;
	int64_t		 port;
	struct in6_addr	 a6;
	struct in_addr	 a4;

	if (*listen == '[') {
		h = listen + 1;
		if ((colon = strchr(h, ']')) == NULL || colon[1] != ':')
			goto bad;
		hl = (size_t)(colon - h);
		colon++;
	} else {
		if ((colon = strrchr(listen, ':')) == NULL)
			goto bad;
		hl = (size_t)(colon - listen);
	}
	if (hl == 0 || hl >= hostlen)
		goto bad;
	memcpy(host, h, hl);
	host[hl] = '\0';
	if (strcmp(host, "localhost") == 0)
		snprintf(host, hostlen, "127.0.0.1");
	if (parse_int64(colon + 1, 1, 65535, &port) != 0)
		goto bad;
	if (inet_pton(AF_INET, host, &a4) != 1 &&
	    inet_pton(AF_INET6, host, &a6) != 1) {
		snprintf(err, errlen, "listen: %s: not a numeric address",
		    host);
		return -1;
	}
	*port_r = (uint16_t)port;
	return 0;
bad:
	snprintf(err, errlen, "listen: expected HOST:PORT or [V6]:PORT");
	return -1;
}

/* Whether the client takes gzip (a "gzip" token not weighted q=0). */
static bool
httpd_accepts_gzip(struct MHD_Connection *c)
{
	const char	*ae, *p;

	ae = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
	    MHD_HTTP_HEADER_ACCEPT_ENCODING);
	if (ae == NULL || (p = strstr(ae, "gzip")) == NULL)
		return false;
	p += 4;
	while (*p == ' ')
		p++;
	if (strncmp(p, ";q=0", 4) != 0)
		return true;
	p += 4;
	if (*p == '.')
		p += 1 + strspn(p + 1, "0");
	return *p != '\0' && *p != ',' && *p != ' ';
}

/* Headers of every response. */
static void
httpd_common_headers(const struct httpd *h, struct MHD_Response *r)
{
	MHD_add_response_header(r, "Content-Security-Policy", HTTPD_CSP);
	MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
	MHD_add_response_header(r, "X-Frame-Options", "DENY");
	MHD_add_response_header(r, "Referrer-Policy", "no-referrer");
	MHD_add_response_header(r, "Cross-Origin-Opener-Policy",
	    "same-origin");
	if (h->cfg.tls_cert != NULL)
		MHD_add_response_header(r, "Strict-Transport-Security",
		    "max-age=31536000");
}

static enum MHD_Result
httpd_queue(const struct httpd *h, struct MHD_Connection *c,
    unsigned status, struct MHD_Response *r)
{
	enum MHD_Result	 ret;

	if (r == NULL)
		return MHD_NO;
	httpd_common_headers(h, r);
	httpd_status = status;
	ret = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result httpd_send_text(const struct httpd *,
	    struct MHD_Connection *, unsigned, const char *);

/* Sends reply (taking its body), gzipped when worth it and accepted. */
static enum MHD_Result
httpd_send_reply(const struct httpd *h, struct MHD_Connection *c,
    struct httpd_reply *reply)
{
	struct MHD_Response	*r;
	struct buf		 gz;
	size_t			 len = reply->body.len;
	bool			 zipped = false;
	char			*data;

	if (reply->gzipped && !httpd_accepts_gzip(c)) {
		buf_init(&gz, reply->body.cap);
		if (httpd_gunzip(reply->body.data, len, &gz) != 0) {
			buf_free(&gz);
			buf_free(&reply->body);
			return httpd_send_text(h, c, 500, "cannot send it "
			    "uncompressed (over 64 MiB or damaged); ask with "
			    "Accept-Encoding: gzip\n");
		}
		buf_free(&reply->body);
		reply->body = gz;
		len = reply->body.len;
		reply->gzipped = false;
	}
	buf_init(&gz, HTTPD_JSON_MAX);
	if (reply->gzipped) {
		buf_free(&gz);
		data = buf_take(&reply->body);
		zipped = true;
	} else if (!reply->no_gzip && len >= HTTPD_GZIP_MIN &&
	    httpd_accepts_gzip(c) &&
	    httpd_gzip(reply->body.data, len, &gz) == 0) {
		buf_free(&reply->body);
		len = gz.len;
		data = buf_take(&gz);
		zipped = true;
	} else {
		buf_free(&gz);
		data = buf_take(&reply->body);
	}
	if (data == NULL)
		len = 0;
	r = MHD_create_response_from_buffer(len, data != NULL ? data : "",
	    data != NULL ? MHD_RESPMEM_MUST_FREE : MHD_RESPMEM_PERSISTENT);
	if (r == NULL) {
		free(data);
		return MHD_NO;
	}
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, reply->type);
	MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	MHD_add_response_header(r, MHD_HTTP_HEADER_VARY, "Accept-Encoding");
	if (zipped)
		MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_ENCODING,
		    "gzip");
	if (reply->disposition[0] != '\0')
		MHD_add_response_header(r, "Content-Disposition",
		    reply->disposition);
	return httpd_queue(h, c, reply->status, r);
}

static enum MHD_Result
httpd_send_text(const struct httpd *h, struct MHD_Connection *c,
    unsigned status, const char *text)
{
	struct MHD_Response	*r;

	r = MHD_create_response_from_buffer(strlen(text), (void *)(uintptr_t)text,
	    MHD_RESPMEM_PERSISTENT);
	if (r == NULL)
		return MHD_NO;
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE,
	    "text/plain; charset=utf-8");
	MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	if (status == MHD_HTTP_METHOD_NOT_ALLOWED)
		MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW,
		    "GET, HEAD, POST");
	return httpd_queue(h, c, status, r);
}

/* A static file, 304 when the client's copy is current. */
static enum MHD_Result
httpd_send_file(const struct httpd *h, struct MHD_Connection *c,
    const struct httpd_file *f)
{
	struct MHD_Response	*r;
	const char		*inm;
	bool			 zipped;

	inm = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
	    MHD_HTTP_HEADER_IF_NONE_MATCH);
	if (inm != NULL && strstr(inm, f->etag) != NULL) {
		r = MHD_create_response_from_buffer(0, "",
		    MHD_RESPMEM_PERSISTENT);
		if (r == NULL)
			return MHD_NO;
		MHD_add_response_header(r, MHD_HTTP_HEADER_ETAG, f->etag);
		return httpd_queue(h, c, MHD_HTTP_NOT_MODIFIED, r);
	}
	zipped = f->gz != NULL && httpd_accepts_gzip(c);
	r = MHD_create_response_from_buffer(zipped ? f->gzlen : f->len,
	    zipped ? f->gz : f->data, MHD_RESPMEM_PERSISTENT);
	if (r == NULL)
		return MHD_NO;
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, f->type);
	MHD_add_response_header(r, MHD_HTTP_HEADER_ETAG, f->etag);
	MHD_add_response_header(r, MHD_HTTP_HEADER_LAST_MODIFIED,
	    f->last_modified);
	MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL,
	    f->immutable ? "public, max-age=86400" : "no-cache");
	if (f->gz != NULL)
		MHD_add_response_header(r, MHD_HTTP_HEADER_VARY,
		    "Accept-Encoding");
	if (zipped)
		MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_ENCODING,
		    "gzip");
	return httpd_queue(h, c, MHD_HTTP_OK, r);
}

struct httpd_args {
	struct api_param	p[API_PARAMS_MAX];
	size_t			n;
	bool			overflow;
};

static enum MHD_Result
httpd_collect_arg(void *cls, enum MHD_ValueKind kind, const char *key,
    const char *value)
{
	struct httpd_args	*a = cls;

	(void)kind;
	if (a->n == nitems(a->p)) {
		a->overflow = true;
		return MHD_NO;
	}
	a->p[a->n].key = key;
	a->p[a->n].value = value != NULL ? value : "";
	a->n++;
	return MHD_YES;
}

/* Basic authentication, when users are configured; false: 401 queued. */
static bool
httpd_authorized(const struct httpd *h, struct MHD_Connection *c,
    enum MHD_Result *ret_r, const struct httpd_user **who_r)
{
	struct MHD_Response	*r;
	char			*user, *pass = NULL;
	bool			 ok;
	static const char	 msg[] = "authentication required\n";

	*who_r = NULL;
	if (h->nusers == 0)
		return true;
	user = MHD_basic_auth_get_username_password(c, &pass);
	ok = user != NULL && pass != NULL &&
	    (*who_r = httpd_auth_check(h, user, pass)) != NULL;
	if (pass != NULL) {
		explicit_bzero(pass, strlen(pass));
		MHD_free(pass);
	}
	if (user != NULL)
		MHD_free(user);
	if (ok)
		return true;
	r = MHD_create_response_from_buffer(sizeof(msg) - 1, (void *)(uintptr_t)msg,
	    MHD_RESPMEM_PERSISTENT);
	if (r == NULL) {
		*ret_r = MHD_NO;
		return false;
	}
	httpd_common_headers(h, r);
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE,
	    "text/plain; charset=utf-8");
	httpd_status = MHD_HTTP_UNAUTHORIZED;
	*ret_r = MHD_queue_basic_auth_fail_response(c, "dmarcd", r);
	MHD_destroy_response(r);
	return false;
}

/* Whether origin (scheme://host[:port], as a browser sends it) is that of
 * url (http_public_url): the same up to the path, case ignored. */
static bool
same_origin(const char *origin, const char *url)
{
	const char	*s;
	size_t		 n;

	if (url == NULL || (s = strstr(url, "://")) == NULL)
		return false;
	n = (size_t)(s + 3 - url) + strcspn(s + 3, "/?#");
	return strlen(origin) == n && strncasecmp(origin, url, n) == 0;
}

/*
 * An edit's protection against cross-site requests: the token of
 * /api/meta in X-Dmarcd-CSRF (a page of another site cannot set the
 * header without a CORS preflight, which is never granted), and an
 * Origin, when the browser sends one, of this very host, or of the
 * http_public_url a reverse proxy serves this dashboard at.
 */
static bool
httpd_csrf_ok(const struct httpd *h, struct MHD_Connection *c)
{
	const char	*tok, *origin, *host, *o;
	unsigned char	 diff = 0;
	size_t		 i;

	tok = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
	    "X-Dmarcd-CSRF");
	if (tok == NULL || strlen(tok) != sizeof(h->csrf) - 1)
		return false;
	for (i = 0; i < sizeof(h->csrf) - 1; i++)
		diff |= (unsigned char)(tok[i] ^ h->csrf[i]);
	if (diff != 0)
		return false;
	origin = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Origin");
	if (origin == NULL)
		return true;
	if (same_origin(origin, h->cfg.public_url))
		return true;
	host = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
	    MHD_HTTP_HEADER_HOST);
	if (host == NULL)
		return false;
	if (strncmp(origin, "https://", 8) == 0)
		o = origin + 8;
	else if (strncmp(origin, "http://", 7) == 0)
		o = origin + 7;
	else
		return false;
	return strcmp(o, host) == 0;
}

/* An /api/ request: its query arguments to api_handle (GET) or
 * api_handle_post (POST). */
static enum MHD_Result
httpd_api(struct httpd *h, struct MHD_Connection *c, const char *method,
    const char *url, const struct httpd_user *who)
{
	struct httpd_reply	 reply;
	struct httpd_args	 args;
	enum MHD_Result		 ret;

	memset(&args, 0, sizeof(args));
	MHD_get_connection_values(c, MHD_GET_ARGUMENT_KIND,
	    httpd_collect_arg, &args);
	memset(&reply, 0, sizeof(reply));
	buf_init(&reply.body, HTTPD_JSON_MAX);
	if (args.overflow)
		api_error(&reply, MHD_HTTP_BAD_REQUEST, "too many parameters");
	else if (strcmp(method, MHD_HTTP_METHOD_POST) == 0)
		api_handle_post(h, url + 5, args.p, args.n, who,
		    httpd_csrf_ok(h, c), &reply);
	else
		api_handle(h, url + 5, args.p, args.n, who, &reply);
	ret = httpd_send_reply(h, c, &reply);
	buf_free(&reply.body);
	log_debug("%s %s %u", method, url, reply.status);
	return ret;
}

/* /metrics or /healthz (metrics.c). */
static enum MHD_Result
httpd_probe(struct httpd *h, struct MHD_Connection *c, bool health)
{
	struct httpd_reply	 reply;
	enum MHD_Result		 ret;

	memset(&reply, 0, sizeof(reply));
	buf_init(&reply.body, HTTPD_JSON_MAX);
	if (health)
		httpd_health_reply(h, &reply);
	else
		httpd_metrics_reply(h, &reply);
	ret = httpd_send_reply(h, c, &reply);
	buf_free(&reply.body);
	return ret;
}

/* Routes a request: GET/HEAD, and POST of the approved-sender edits
 * (parameters in the query string, no body); /api/..., /metrics,
 * /healthz or a static file. */
static enum MHD_Result
httpd_route(void *cls, struct MHD_Connection *c, const char *url,
    const char *method, const char *version, const char *upload_data,
    size_t *upload_data_size, void **con_cls)
{
	struct httpd		*h = cls;
	const char		*cl;
	const struct httpd_file	*f;
	const struct httpd_user	*who;
	enum MHD_Result		 ret = MHD_NO;
	bool			 bad = false;

	(void)version;
	(void)upload_data;
	if (strcmp(method, MHD_HTTP_METHOD_POST) == 0 &&
	    strcmp(url, "/api/senders") == 0) {
		/* the first call comes before any body: an edit has none
		 * (its parameters are the query's), so one announced is
		 * refused there, and bytes that come all the same end the
		 * connection; the last call answers */
		if (*con_cls == NULL) {
			/* who may edit is known before the body: anyone
			 * else is answered at once (401, 403) */
			if (!httpd_authorized(h, c, &ret, &who))
				return ret;
			if (who == NULL || !who->senders ||
			    !httpd_csrf_ok(h, c))
				return httpd_api(h, c, method, url, who);
			cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
			    MHD_HTTP_HEADER_CONTENT_LENGTH);
			if (cl != NULL && strcmp(cl, "0") != 0)
				return httpd_send_text(h, c,
				    MHD_HTTP_CONTENT_TOO_LARGE,
				    "an edit takes no body\n");
			/* the user, for the last call (users live as long
			 * as the server) */
			*con_cls = (void *)(uintptr_t)who;
			return MHD_YES;
		}
		if (*upload_data_size != 0)
			return MHD_NO;
		return httpd_api(h, c, method, url, *con_cls);
	} else if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 &&
	    strcmp(method, MHD_HTTP_METHOD_HEAD) != 0)
		/* answered at once, before any request body is read */
		return httpd_send_text(h, c, MHD_HTTP_METHOD_NOT_ALLOWED,
		    "method not allowed\n");
	/* before the users: a probe may not hold a password, and all it
	 * tells is whether the database answers */
	if (strcmp(url, "/healthz") == 0)
		return httpd_probe(h, c, true);
	if (!httpd_authorized(h, c, &ret, &who))
		return ret;
	/* the server's counters are every domain's */
	if (strcmp(url, "/metrics") == 0 && who != NULL &&
	    who->domains != NULL)
		return httpd_send_text(h, c, MHD_HTTP_FORBIDDEN, "the metrics "
		    "are every domain's: for a user who sees every domain\n");
	if (strcmp(url, "/metrics") == 0)
		return httpd_probe(h, c, false);
	if (strncmp(url, "/api/", 5) == 0)
		return httpd_api(h, c, method, url, who);
	if (strcmp(url, "/") == 0)
		url = "/index.html";
	if ((f = httpd_static_find(h, url, &bad)) != NULL)
		return httpd_send_file(h, c, f);
	return httpd_send_text(h, c, bad ? MHD_HTTP_BAD_REQUEST :
	    MHD_HTTP_NOT_FOUND, bad ? "bad path\n" : "not found\n");
}

/* The access handler: httpd_route, timed and counted once it answered. */
static enum MHD_Result
httpd_access(void *cls, struct MHD_Connection *c, const char *url,
    const char *method, const char *version, const char *upload_data,
    size_t *upload_data_size, void **con_cls)
{
	struct httpd	*h = cls;
	uint64_t	 start = metrics_now_us();
	enum MHD_Result	 ret;

	httpd_status = 0;
	ret = httpd_route(cls, c, url, method, version, upload_data,
	    upload_data_size, con_cls);
	if (httpd_status != 0)
		httpd_metrics_request(&h->metrics,
		    httpd_endpoint_of(method, url), httpd_status,
		    metrics_now_us() - start);
	return ret;
}

static int
httpd_read_pem(const char *path, char **pem_r, char *err, size_t errlen)
{
	struct buf	b;

	buf_init(&b, HTTPD_PEM_MAX);
	if (read_file_capped(path, HTTPD_PEM_MAX, &b, err, errlen) != 0) {
		buf_free(&b);
		return -1;
	}
	if (buf_addc(&b, '\0') != 0 || (*pem_r = buf_take(&b)) == NULL) {
		snprintf(err, errlen, "%s: empty or too large", path);
		buf_free(&b);
		return -1;
	}
	return 0;
}

/* Refuses a private key others may read. */
static int
httpd_check_secret(const char *path, char *err, size_t errlen)
{
	struct stat	st;

	if (stat(path, &st) == -1) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	if (st.st_mode & (S_IRWXO)) {
		snprintf(err, errlen, "%s: readable by others; chmod o-rwx",
		    path);
		return -1;
	}
	return 0;
}

int
httpd_check_config(const struct httpd_config *cfg, char *err, size_t errlen)
{
	char		 host[INET6_ADDRSTRLEN + 1];
	uint16_t	 port;
	bool		 tls, users;

	if (httpd_parse_listen(cfg->listen, host, sizeof(host), &port, err,
	    errlen) != 0)
		return -1;
	tls = cfg->tls_cert != NULL && *cfg->tls_cert != '\0';
	if (tls != (cfg->tls_key != NULL && *cfg->tls_key != '\0')) {
		snprintf(err, errlen, "TLS needs both a certificate and a key");
		return -1;
	}
	users = cfg->users_file != NULL && *cfg->users_file != '\0';
	if (!httpd_is_loopback(host) && (!tls || !users)) {
		snprintf(err, errlen, HTTPD_PUBLIC_REFUSED, host);
		return -1;
	}
	return 0;
}

int
httpd_start(struct httpd *h, const struct httpd_config *cfg, char *err,
    size_t errlen)
{
	struct sockaddr_storage	 ss;
	struct sockaddr_in	*sin = (struct sockaddr_in *)&ss;
	struct sockaddr_in6	*sin6 = (struct sockaddr_in6 *)&ss;
	char			 host[INET6_ADDRSTRLEN + 1];
	unsigned char		 rnd[16];
	uint16_t		 port;
	unsigned		 flags;
	size_t			 i;
	bool			 tls, v6;

	memset(h, 0, sizeof(*h));
	httpd_metrics_init(&h->metrics);
	h->cfg = *cfg;
	if (httpd_check_config(cfg, err, errlen) != 0 ||
	    httpd_parse_listen(cfg->listen, host, sizeof(host), &port, err,
	    errlen) != 0)
		return -1;
	tls = cfg->tls_cert != NULL && *cfg->tls_cert != '\0';
	if (!tls)
		h->cfg.tls_cert = h->cfg.tls_key = NULL;
	if (cfg->users_file != NULL && *cfg->users_file != '\0' &&
	    httpd_auth_load(h, err, errlen) != 0)
		return -1;
	if (!httpd_is_loopback(host) && (!tls || h->nusers == 0)) {
		snprintf(err, errlen, HTTPD_PUBLIC_REFUSED, host);
		goto fail;
	}
	if (tls && (httpd_check_secret(cfg->tls_key, err, errlen) != 0 ||
	    httpd_read_pem(cfg->tls_cert, &h->tls_cert_pem, err,
	    errlen) != 0 ||
	    httpd_read_pem(cfg->tls_key, &h->tls_key_pem, err, errlen) != 0))
		goto fail;
	if (httpd_static_load(h, err, errlen) != 0)
		goto fail;
	if (httpd_pool_open(&h->pool, &h->cfg.dbc, err, errlen) != 0)
		goto fail;
	/* the edits' CSRF token, new each start */
	if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd)) {
		snprintf(err, errlen, "getrandom: %s", strerror(errno));
		goto fail;
	}
	for (i = 0; i < sizeof(rnd); i++)
		snprintf(h->csrf + 2 * i, 3, "%02x", rnd[i]);

	memset(&ss, 0, sizeof(ss));
	v6 = strchr(host, ':') != NULL;
	if (v6) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(port);
		inet_pton(AF_INET6, host, &sin6->sin6_addr);
	} else {
		sin->sin_family = AF_INET;
		sin->sin_port = htons(port);
		inet_pton(AF_INET, host, &sin->sin_addr);
	}
	flags = MHD_USE_AUTO_INTERNAL_THREAD | MHD_USE_ERROR_LOG;
	if (v6)
		flags |= MHD_USE_IPv6;
	if (tls)
		flags |= MHD_USE_TLS;
	h->daemon = MHD_start_daemon(flags, port, NULL, NULL, httpd_access, h,
	    MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
	    MHD_OPTION_THREAD_POOL_SIZE, (unsigned)HTTPD_THREADS,
	    MHD_OPTION_CONNECTION_LIMIT, (unsigned)HTTPD_MAX_CONNECTIONS,
	    MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)HTTPD_TIMEOUT,
	    MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)HTTPD_CONN_MEMORY,
	    tls ? MHD_OPTION_HTTPS_MEM_CERT : MHD_OPTION_END,
	    h->tls_cert_pem,
	    MHD_OPTION_HTTPS_MEM_KEY, h->tls_key_pem,
	    MHD_OPTION_END);
	if (h->daemon == NULL) {
		snprintf(err, errlen, "cannot listen on %s: %s",
		    cfg->listen, errno ? strerror(errno) : "failed");
		goto fail;
	}
	return 0;
fail:
	httpd_stop(h);
	return -1;
}

void
httpd_stop(struct httpd *h)
{
	if (h->daemon != NULL)
		MHD_stop_daemon(h->daemon);
	h->daemon = NULL;
	httpd_pool_close(&h->pool);
	httpd_static_free(h);
	httpd_auth_free(h);
	if (h->tls_key_pem != NULL)
		explicit_bzero(h->tls_key_pem, strlen(h->tls_key_pem));
	free(h->tls_key_pem);
	free(h->tls_cert_pem);
	h->tls_key_pem = h->tls_cert_pem = NULL;
}
