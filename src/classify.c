/*
 * classify.c - source_host rows to classify, in batches: read with their
 * PTR name, worked out here, written back in one UPDATE from arrays (SQL
 * by parameters only).  A batch is one transaction; its rows are locked
 * (SKIP LOCKED), so two enrichers never classify the same row.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "classify.h"
#include "dmarcd.h"
#include "geoip.h"
#include "orgdomain.h"
#include "services.h"

#define CLASSIFY_BATCH_MAX	10000
/* a batch's array parameters: an address or a name, escaped, per row */
#define CLASSIFY_ARRAY_CAP	(CLASSIFY_BATCH_MAX * 1100)

/* Bumped when the rules of classify_one and by_records change: the
 * sources already classified are then classified again. */
#define CLASSIFY_RULES	"classify 1"

struct classifier {
	struct catalogue	*cat;
	struct geoip		*geo;
	char			 fingerprint[65];	/* hex SHA-256 */
};

struct host {
	char			*ip;
	char			*ptr;
	bool			 verified;
	char			 base[ORG_NAME_MAX + 1];
	const struct service	*svc;
	/* the service found from the records: its messages, per kind */
	const struct service	*by[SVC_NKINDS];
	int64_t			 by_msgs[SVC_NKINDS];
	struct geoip_info	 geo;
	char			 asn[24];
};

/* What the classification is made with, hashed: the rules, the
 * catalogue's answers, the MMDB files' identities. */
static void
fingerprint(struct classifier *cl)
{
	struct db_sha256	*h;
	unsigned char		 md[32];
	char			*text = NULL;
	size_t			 len = 0, i;
	FILE			*f;

	if ((f = open_memstream(&text, &len)) == NULL)
		fatalx("out of memory");
	fprintf(f, "%s\n", CLASSIFY_RULES);
	catalogue_describe(cl->cat, f);
	geoip_describe(cl->geo, f);
	if (fclose(f) != 0)
		fatalx("out of memory");
	h = db_sha256_new();
	db_sha256_update(h, text, len);
	db_sha256_finish(&h, md);
	for (i = 0; i < sizeof(md); i++)
		snprintf(cl->fingerprint + 2 * i, 3, "%02x", md[i]);
	free(text);
}

int
classifier_open(const struct conf *c, struct classifier **cl_r, FILE *errs)
{
	struct classifier	*cl;
	const char		*paths[GEOIP_FILES_MAX];
	char			*copy;
	int			 n, rc = 0;

	*cl_r = NULL;
	if ((cl = calloc(1, sizeof(*cl))) == NULL)
		fatalx("out of memory");
	cl->cat = catalogue_new();
	if (catalogue_builtin(cl->cat, errs) == -1)
		fatalx("the built-in service catalogue does not parse");
	if (c->services_file != NULL && *c->services_file != '\0' &&
	    catalogue_load(cl->cat, c->services_file, errs) == -1)
		rc = -1;
	if ((n = conf_list(c->geoip_db, paths, GEOIP_FILES_MAX, &copy)) ==
	    -1) {
		fprintf(errs, "geoip_db: more than %d files\n",
		    GEOIP_FILES_MAX);
		rc = -1;
	} else if (n > 0 && geoip_open(paths, n, &cl->geo, errs) == -1)
		rc = -1;
	free(copy);
	if (rc == -1) {
		classifier_free(cl);
		return -1;
	}
	fingerprint(cl);
	*cl_r = cl;
	return 0;
}

void
classifier_free(struct classifier *cl)
{
	if (cl == NULL)
		return;
	catalogue_free(cl->cat);
	geoip_free(cl->geo);
	free(cl);
}

/*
 * What a host is from itself: the organisational domain of its PTR name,
 * the service of a forward-confirmed PTR name (an unverified one is
 * anybody's claim), its network and country.
 */
static void
classify_one(struct classifier *cl, struct host *h)
{
	h->base[0] = '\0';
	if (h->ptr != NULL)
		(void)org_domain(h->ptr, h->base, sizeof(h->base));
	if (h->ptr != NULL && h->verified)
		h->svc = catalogue_match(cl->cat, SVC_PTR, h->ptr);
	if (cl->geo != NULL)
		geoip_lookup(cl->geo, h->ip, &h->geo);
	if (h->geo.asn > 0)
		snprintf(h->asn, sizeof(h->asn), "%lld",
		    (long long)h->geo.asn);
}

static int
host_cmp(const void *a, const void *b)
{
	return strcmp(((const struct host *)a)->ip,
	    ((const struct host *)b)->ip);
}

/*
 * The hosts no PTR name placed: the services of the passing SPF and DKIM
 * domains of their records, the one of most messages per kind (ties: the
 * first name), SPF before DKIM.  An SPF pass says the domain's owner
 * authorised this address to send; a DKIM pass only that the message was
 * signed by the domain, which a forwarder's address also carries.
 */
static int
by_records(struct db *db, struct classifier *cl, struct host *hosts,
    size_t n, char *err, size_t errlen)
{
	struct buf		 ips;
	struct host		 key, *h;
	const struct service	*svc;
	const char		*params[1], **ip;
	PGresult		*res;
	size_t			 i, k = 0;
	int			 row, rows, kind, rc = 0;
	int64_t			 msgs;

	if ((ip = calloc(n, sizeof(*ip))) == NULL)
		fatalx("out of memory");
	for (i = 0; i < n; i++)
		if (hosts[i].svc == NULL)
			ip[k++] = hosts[i].ip;
	if (k == 0) {
		free(ip);
		return 0;
	}
	buf_init(&ips, CLASSIFY_ARRAY_CAP);
	if (db_array_field(&ips, ip, sizeof(*ip), k, false) == -1 ||
	    buf_addc(&ips, '\0') == -1)
		fatalx("out of memory");
	params[0] = ips.data;
	res = PQexecParams(db->conn, "SELECT host(r.source_ip), a.kind,"
	    " lower(a.d), sum(r.count) FROM record r CROSS JOIN LATERAL"
	    " (SELECT 's' AS kind, d FROM unnest(r.spf_domain, r.spf_result)"
	    " x(d, res) WHERE res = 'pass' UNION ALL SELECT 'd', d FROM"
	    " unnest(r.dkim_domain, r.dkim_result) x(d, res) WHERE res ="
	    " 'pass') a WHERE r.source_ip = ANY($1::inet[]) AND a.d <> ''"
	    " GROUP BY 1, 2, 3", 1, NULL, params, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		rc = db_result_error(db, res, "classify: records", err,
		    errlen);
		goto out;
	}
	rows = PQntuples(res);
	for (row = 0; row < rows; row++) {
		key.ip = PQgetvalue(res, row, 0);
		if ((h = bsearch(&key, hosts, n, sizeof(*hosts),
		    host_cmp)) == NULL)
			continue;
		kind = *PQgetvalue(res, row, 1) == 's' ? SVC_SPF : SVC_DKIM;
		if ((svc = catalogue_match(cl->cat, kind,
		    PQgetvalue(res, row, 2))) == NULL)
			continue;
		msgs = strtoll(PQgetvalue(res, row, 3), NULL, 10);
		if (h->by[kind] == NULL || msgs > h->by_msgs[kind] ||
		    (msgs == h->by_msgs[kind] && strcmp(svc->name,
		    h->by[kind]->name) < 0)) {
			h->by[kind] = svc;
			h->by_msgs[kind] = msgs;
		}
	}
	for (i = 0; i < n; i++)
		if (hosts[i].svc == NULL)
			hosts[i].svc = hosts[i].by[SVC_SPF] != NULL ?
			    hosts[i].by[SVC_SPF] : hosts[i].by[SVC_DKIM];
 out:
	PQclear(res);
	buf_free(&ips);
	free(ip);
	return rc;
}

/* The hosts' columns, as text[] parameters, in one UPDATE. */
enum { COL_IP, COL_BASE, COL_SERVICE, COL_TYPE, COL_ASN, COL_ORG,
	COL_COUNTRY, NCOLS };

static int
store(struct db *db, struct host *hosts, size_t n, char *err, size_t errlen)
{
	struct buf	 cols[NCOLS];
	const char	*params[NCOLS], **v;
	PGresult	*res;
	size_t		 i;
	int		 c, rc;

	if ((v = calloc(n * NCOLS, sizeof(*v))) == NULL)
		fatalx("out of memory");
	for (i = 0; i < n; i++) {
		struct host	*h = &hosts[i];
		const char	**r = &v[i * NCOLS];

		r[COL_IP] = h->ip;
		r[COL_BASE] = h->base[0] ? h->base : NULL;
		r[COL_SERVICE] = h->svc ? h->svc->name : NULL;
		r[COL_TYPE] = h->svc ? h->svc->type : NULL;
		r[COL_ASN] = h->asn[0] ? h->asn : NULL;
		r[COL_ORG] = h->geo.as_org[0] ? h->geo.as_org : NULL;
		r[COL_COUNTRY] = h->geo.country[0] ? h->geo.country : NULL;
	}
	for (c = 0; c < NCOLS; c++) {
		buf_init(&cols[c], CLASSIFY_ARRAY_CAP);
		if (db_array_field(&cols[c], &v[c], NCOLS * sizeof(*v), n,
		    false) == -1 || buf_addc(&cols[c], '\0') == -1)
			fatalx("out of memory");
		params[c] = cols[c].data;
	}
	res = PQexecParams(db->conn, "UPDATE source_host h SET"
	    " base_domain = u.base, service = u.service, service_type ="
	    " u.type, asn = u.asn, as_org = u.org, country = u.country,"
	    " classified = now() FROM unnest($1::inet[], $2::text[],"
	    " $3::text[], $4::text[], $5::bigint[], $6::text[], $7::text[])"
	    " u(ip, base, service, type, asn, org, country) WHERE h.ip = u.ip",
	    NCOLS, NULL, params, NULL, NULL, 0);
	rc = PQresultStatus(res) == PGRES_COMMAND_OK ? 0 :
	    db_result_error(db, res, "classify: store", err, errlen);
	PQclear(res);
	for (c = 0; c < NCOLS; c++)
		buf_free(&cols[c]);
	free(v);
	return rc;
}

int
classifier_sync(struct db *db, struct classifier *cl, uint64_t *n_r,
    char *err, size_t errlen)
{
	const char	*params[1] = { cl->fingerprint };
	PGresult	*res;
	int		 rc = -1;

	*n_r = 0;
	if (db_exec(db, "BEGIN", err, errlen) == -1)
		return -1;
	res = PQexecParams(db->conn, "SELECT fingerprint = $1 FROM classifier"
	    " FOR UPDATE", 1, NULL, params, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		db_result_error(db, res, "classify: fingerprint", err, errlen);
		goto out;
	}
	if (PQntuples(res) == 1 && *PQgetvalue(res, 0, 0) == 't') {
		rc = 0;
		goto out;
	}
	PQclear(res);
	res = PQexec(db->conn, "UPDATE source_host SET classified = NULL"
	    " WHERE classified IS NOT NULL");
	if (PQresultStatus(res) != PGRES_COMMAND_OK) {
		db_result_error(db, res, "classify: reset", err, errlen);
		goto out;
	}
	*n_r = strtoull(PQcmdTuples(res), NULL, 10);
	PQclear(res);
	res = PQexecParams(db->conn, "INSERT INTO classifier (fingerprint)"
	    " VALUES ($1) ON CONFLICT (id) DO UPDATE SET fingerprint ="
	    " excluded.fingerprint, changed = now()", 1, NULL, params, NULL,
	    NULL, 0);
	if (PQresultStatus(res) != PGRES_COMMAND_OK) {
		db_result_error(db, res, "classify: fingerprint", err, errlen);
		goto out;
	}
	rc = 0;
 out:
	PQclear(res);
	if (rc == 0 && db_exec(db, "COMMIT", err, errlen) == -1)
		rc = -1;
	if (rc == -1) {
		db_rollback(db);
		*n_r = 0;
	}
	return rc;
}

int
classify_hosts(struct db *db, struct classifier *cl, bool local,
    unsigned max, uint64_t *n_r, char *err, size_t errlen)
{
	struct host	*hosts = NULL;
	const char	*params[2];
	char		 lim[16];
	PGresult	*res = NULL;
	int		 i, n, rc = -1;

	*n_r = 0;
	if (max == 0 || max > CLASSIFY_BATCH_MAX)
		max = CLASSIFY_BATCH_MAX;
	snprintf(lim, sizeof(lim), "%u", max);
	params[0] = local ? "t" : "f";
	params[1] = lim;
	if (db_exec(db, "BEGIN", err, errlen) == -1)
		return -1;
	res = PQexecParams(db->conn, "SELECT host(ip), ptr, ptr_verified"
	    " FROM source_host WHERE classified IS NULL AND (state <>"
	    " 'pending' OR $1::boolean) ORDER BY ip LIMIT $2::int"
	    " FOR UPDATE SKIP LOCKED", 2, NULL, params, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		db_result_error(db, res, "classify: select", err, errlen);
		goto out;
	}
	n = PQntuples(res);
	if (n > 0 && (hosts = calloc(n, sizeof(*hosts))) == NULL)
		fatalx("out of memory");
	for (i = 0; i < n; i++) {
		hosts[i].ip = PQgetvalue(res, i, 0);
		hosts[i].ptr = PQgetisnull(res, i, 1) ? NULL :
		    PQgetvalue(res, i, 1);
		hosts[i].verified = *PQgetvalue(res, i, 2) == 't';
		classify_one(cl, &hosts[i]);
	}
	/* host(ip) in address order is not text order (10.0.0.10 < 10.0.0.9) */
	if (n > 0)
		qsort(hosts, n, sizeof(*hosts), host_cmp);
	if (n > 0 && (by_records(db, cl, hosts, n, err, errlen) == -1 ||
	    store(db, hosts, n, err, errlen) == -1))
		goto out;
	if (db_exec(db, "COMMIT", err, errlen) == -1)
		goto out;
	*n_r = n;
	rc = 0;
 out:
	if (rc == -1)
		db_rollback(db);
	free(hosts);
	PQclear(res);
	return rc;
}
