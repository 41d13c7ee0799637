/*
 * enricher.c - a pass of the enricher: batches of addresses read from
 * source_host in address order (keyset, so a pass ends even when a batch
 * is answered with the same state again), resolved, written back in one
 * UPDATE from arrays (SQL by parameters only), then classification.
 */
#include "config.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lib.h"
#include "classify.h"
#include "dmarcd.h"
#include "enricher.h"

#define ENRICH_BATCH		2000	/* addresses read, resolved, stored */
#define CLASSIFY_BATCH		1000
#define ENRICH_SERVERS_MAX	32
/* a batch's array parameters: a name of RESOLVER_PTR_MAX, quoted and
 * escaped for an array, per row */
#define ENRICH_ARRAY_CAP	(ENRICH_BATCH * (2 * RESOLVER_PTR_MAX + 8))
#define LOG_NAME_MAX		(RESOLVER_PTR_MAX * 4 + 1)

struct enricher {
	const struct conf	*c;
	bool			 refresh, dns, local;
	struct resolver		*res;
	struct classifier	*cl;
	atomic_bool		 stop;
	/* the pass in progress, for the resolver's progress callback */
	void			(*progress)(void *, const struct enrich_stats *);
	void			*arg;
	struct enrich_stats	*st;
};

struct row {
	const char	*ip;
	const char	*state;
	const char	*ptr;
	const char	*verified;
	char		 ttl[24];
};

/* Whether s is ADDR, ADDR:PORT (IPv4), an IPv6 ADDR or [ADDR]:PORT. */
static bool
server_ok(const char *s)
{
	char		 host[INET6_ADDRSTRLEN];
	unsigned char	 a[16];
	const char	*end, *port = NULL;
	size_t		 len;
	long		 v;
	int		 af = AF_INET;

	if (*s == '[') {
		if ((end = strchr(s, ']')) == NULL ||
		    (end[1] != '\0' && end[1] != ':'))
			return false;
		if (end[1] == ':')
			port = end + 2;
		s++;
		len = end - s;
		af = AF_INET6;
	} else if ((end = strchr(s, ':')) != NULL &&
	    strchr(end + 1, ':') != NULL) {
		len = strlen(s);
		af = AF_INET6;
	} else {
		len = end != NULL ? (size_t)(end - s) : strlen(s);
		if (end != NULL)
			port = end + 1;
	}
	if (len == 0 || len >= sizeof(host))
		return false;
	memcpy(host, s, len);
	host[len] = '\0';
	if (inet_pton(af, host, a) != 1)
		return false;
	if (port == NULL)
		return true;
	for (end = port; isdigit((unsigned char)*end); end++)
		;
	if (end == port || *end != '\0' || end - port > 5)
		return false;
	v = strtol(port, NULL, 10);
	return v >= 1 && v <= 65535;
}

/* The servers' list (commas or white space) as c-ares takes it, commas
 * only, into out; -1 when too long, -2 (written to errs) for an item that
 * is not an address. */
static int
servers_csv(const char *list, char *out, size_t outlen, FILE *errs)
{
	const char	*items[ENRICH_SERVERS_MAX];
	char		*copy = NULL;
	size_t		 o = 0;
	int		 n, i, rc = 0;

	out[0] = '\0';
	if (list == NULL)
		return 0;
	if ((n = conf_list(list, items, ENRICH_SERVERS_MAX, &copy)) == -1)
		return -1;
	for (i = 0; i < n && rc == 0; i++) {
		int l;

		if (!server_ok(items[i])) {
			char	clean[128];

			str_escape(clean, sizeof(clean), items[i],
			    strlen(items[i]));
			fprintf(errs, "dns_servers: expected ADDR, ADDR:PORT or "
			    "[IPV6]:PORT: %s\n", clean);
			rc = -2;
			break;
		}
		l = snprintf(out + o, outlen - o, "%s%s", i ? "," : "",
		    items[i]);
		if (l < 0 || (size_t)l >= outlen - o)
			rc = -1;
		else
			o += l;
	}
	free(copy);
	return rc;
}

int
enricher_new(const struct conf *c, const char *servers, bool refresh,
    struct enricher **e_r, FILE *errs)
{
	struct resolver_config	 rc;
	struct enricher		*e;
	char			 err[512], csv[2048];
	int			 k;

	*e_r = NULL;
	if ((e = calloc(1, sizeof(*e))) == NULL)
		fatalx("out of memory");
	e->c = c;
	e->refresh = refresh;
	e->dns = c->enrich != NULL && strcmp(c->enrich, "on") == 0;
	e->local = c->enrich != NULL && strcmp(c->enrich, "local") == 0;
	atomic_init(&e->stop, false);
	if (e->dns) {
		memset(&rc, 0, sizeof(rc));
		if ((k = servers_csv(servers ? servers : c->dns_servers, csv,
		    sizeof(csv), errs)) != 0) {
			if (k == -1)
				fprintf(errs, "dns_servers: more than %d or too "
				    "long\n", ENRICH_SERVERS_MAX);
			free(e);
			return -1;
		}
		rc.servers = csv;
		rc.stop = &e->stop;
		rc.max_inflight = c->dns_max_inflight;
		rc.timeout = c->dns_timeout;
		rc.max_rate = c->dns_max_rate;
		if (resolver_new(&rc, &e->res, err, sizeof(err)) == -1) {
			fprintf(errs, "%s\n", err);
			free(e);
			return -1;
		}
	}
	if ((e->dns || e->local) && classifier_open(c, &e->cl, errs) == -1) {
		resolver_free(&e->res);
		free(e);
		return -1;
	}
	*e_r = e;
	return 0;
}

void
enricher_free(struct enricher **e)
{
	if (*e == NULL)
		return;
	resolver_free(&(*e)->res);
	if ((*e)->cl != NULL)
		classifier_free((*e)->cl);
	free(*e);
	*e = NULL;
}

void
enricher_stop(struct enricher *e)
{
	atomic_store(&e->stop, true);
}

/* How long an answer is kept (the settings' bounds over the DNS TTL). */
static uint64_t
answer_ttl(const struct conf *c, const struct resolver_result *r)
{
	uint64_t	t;

	switch (r->state) {
	case RESOLVER_OK:
		t = r->ttl;
		if (t < c->dns_min_ttl)
			t = c->dns_min_ttl;
		if (t > c->dns_max_ttl)
			t = c->dns_max_ttl;
		return t;
	case RESOLVER_NXDOMAIN:
		return c->dns_negative_ttl;
	default:
		return c->dns_error_ttl;
	}
}

/*
 * A PTR name for a log line: its stored form is printable ASCII, but
 * whoever reads logs in a browser should not meet markup either, so only
 * letters, digits, '-', '_' and '.' stay and the rest is \DDD.
 */
static void
log_name(const char *s, char *out, size_t outlen)
{
	size_t	o = 0;

	for (; *s != '\0' && o + 5 < outlen; s++) {
		unsigned char c = *s;

		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '-' || c == '_' ||
		    c == '.')
			out[o++] = c;
		else
			o += snprintf(out + o, 5, "\\%03u", c);
	}
	out[o] = '\0';
}

static int
store(struct enricher *e, struct db *db, char **ips,
    const struct resolver_result *rr, size_t n, char *err, size_t errlen)
{
	struct row	*rows;
	struct buf	 b[5];
	const char	*params[5];
	PGresult	*res;
	size_t		 i;
	int		 k, rc;

	if ((rows = calloc(n, sizeof(*rows))) == NULL)
		fatalx("out of memory");
	for (i = 0; i < n; i++) {
		rows[i].ip = ips[i];
		rows[i].state = resolver_state_name(rr[i].state);
		rows[i].ptr = rr[i].state == RESOLVER_OK ? rr[i].ptr : NULL;
		rows[i].verified = rr[i].verified ? "t" : "f";
		snprintf(rows[i].ttl, sizeof(rows[i].ttl), "%llu",
		    (unsigned long long)answer_ttl(e->c, &rr[i]));
	}
	for (k = 0; k < 5; k++)
		buf_init(&b[k], ENRICH_ARRAY_CAP);
	if (db_array_field(&b[0], &rows[0].ip, sizeof(*rows), n, false) ||
	    db_array_field(&b[1], &rows[0].state, sizeof(*rows), n, false) ||
	    db_array_field(&b[2], &rows[0].ptr, sizeof(*rows), n, false) ||
	    db_array_field(&b[3], &rows[0].verified, sizeof(*rows), n,
	    false))
		fatalx("out of memory");
	/* the TTLs: an array of their own, pointing into rows */
	{
		const char **t;

		if ((t = calloc(n, sizeof(*t))) == NULL)
			fatalx("out of memory");
		for (i = 0; i < n; i++)
			t[i] = rows[i].ttl;
		if (db_array_field(&b[4], t, sizeof(*t), n, false) == -1)
			fatalx("out of memory");
		free(t);
	}
	for (k = 0; k < 5; k++) {
		if (buf_addc(&b[k], '\0') == -1)
			fatalx("out of memory");
		params[k] = b[k].data;
	}
	res = PQexecParams(db->conn, "UPDATE source_host h SET"
	    " state = u.state, ptr = u.ptr, ptr_verified = u.verified,"
	    " looked_up = now(), expires = now() + make_interval(secs =>"
	    " u.ttl), classified = NULL FROM unnest($1::inet[], $2::text[],"
	    " $3::text[], $4::boolean[], $5::bigint[]) u(ip, state, ptr,"
	    " verified, ttl) WHERE h.ip = u.ip", 5, NULL, params, NULL, NULL,
	    0);
	rc = PQresultStatus(res) == PGRES_COMMAND_OK ? 0 :
	    db_result_error(db, res, "enrich: store", err, errlen);
	PQclear(res);
	for (k = 0; k < 5; k++)
		buf_free(&b[k]);
	free(rows);
	return rc;
}

static void
dns_progress(void *arg, size_t done)
{
	struct enricher		*e = arg;
	struct enrich_stats	 st = *e->st;

	st.looked_up += done;
	e->progress(e->arg, &st);
}

/* One batch after last (NULL: the first); *n_r addresses, 0 at the end. */
static int
batch(struct enricher *e, struct db *db, char *last, size_t lastlen,
    size_t *n_r, char *err, size_t errlen)
{
	struct resolver_result	*rr = NULL;
	struct timespec		 t0, t1;
	const char		*params[2];
	char			 lim[16], **ips = NULL, logname[LOG_NAME_MAX];
	bool			 stopped;
	PGresult		*res;
	size_t			 i, n;
	int			 rc = 0;

	*n_r = 0;
	snprintf(lim, sizeof(lim), "%d", ENRICH_BATCH);
	params[0] = *last ? last : NULL;
	params[1] = lim;
	res = PQexecParams(db->conn, e->refresh ?
	    "SELECT host(ip) FROM source_host WHERE (state = 'pending' OR"
	    " expires < now()) AND ($1::inet IS NULL OR ip > $1::inet)"
	    " ORDER BY ip LIMIT $2::int" :
	    "SELECT host(ip) FROM source_host WHERE state = 'pending' AND"
	    " ($1::inet IS NULL OR ip > $1::inet) ORDER BY ip LIMIT $2::int",
	    2, NULL, params, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		rc = db_result_error(db, res, "enrich: select", err, errlen);
		PQclear(res);
		return rc;
	}
	if ((n = PQntuples(res)) == 0) {
		PQclear(res);
		return 0;
	}
	if ((ips = calloc(n, sizeof(*ips))) == NULL ||
	    (rr = calloc(n, sizeof(*rr))) == NULL)
		fatalx("out of memory");
	for (i = 0; i < n; i++)
		ips[i] = PQgetvalue(res, i, 0);
	snprintf(last, lastlen, "%s", ips[n - 1]);

	clock_gettime(CLOCK_MONOTONIC, &t0);
	e->st->queries += resolver_run(e->res, (const char *const *)ips, n,
	    rr, e->progress ? dns_progress : NULL, e, &stopped);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	e->st->dns_seconds += (t1.tv_sec - t0.tv_sec) +
	    (t1.tv_nsec - t0.tv_nsec) / 1e9;
	if (stopped) {		/* not answers: the rows stay as they were */
		free(rr);
		free(ips);
		PQclear(res);
		return 0;
	}
	for (i = 0; i < n; i++) {
		e->st->state[rr[i].state]++;
		if (rr[i].verified)
			e->st->verified++;
		log_name(rr[i].ptr, logname, sizeof(logname));
		log_debug("enrich: %s %s%s%s%s", ips[i],
		    resolver_state_name(rr[i].state), *logname ? " " : "",
		    logname, rr[i].verified ? " (verified)" : "");
	}
	rc = store(e, db, ips, rr, n, err, errlen);
	if (rc == 0) {
		e->st->looked_up += n;
		*n_r = n;
	}
	free(rr);
	free(ips);
	PQclear(res);
	return rc;
}

int
enricher_pass(struct enricher *e, struct db *db,
    void (*progress)(void *, const struct enrich_stats *), void *arg,
    struct enrich_stats *st, char *err, size_t errlen)
{
	char		 last[64] = "";
	uint64_t	 k;
	size_t		 n;
	int		 rc;

	if (!e->dns && !e->local)
		return 0;
	e->progress = progress;
	e->arg = arg;
	e->st = st;
	while (e->dns && !atomic_load(&e->stop)) {
		if ((rc = batch(e, db, last, sizeof(last), &n, err,
		    errlen)) != 0)
			return rc;
		if (progress != NULL)
			progress(arg, st);
		if (n < ENRICH_BATCH)
			break;
	}
	if (!atomic_load(&e->stop)) {
		if (classifier_sync(db, e->cl, &k, err, errlen) == -1)
			return DB_ETEMP;
		st->reclassified += k;
	}
	do {
		if (atomic_load(&e->stop))
			break;
		if (classify_hosts(db, e->cl, e->local, CLASSIFY_BATCH, &k,
		    err, errlen) == -1)
			return DB_ETEMP;
		st->classified += k;
	} while (k == CLASSIFY_BATCH);
	return 0;
}
