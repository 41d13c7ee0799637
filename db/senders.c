/*
 * senders.c - the approved-sender rules (sql/013_senders.sql): listing,
 * adding, removing, making the table equal to a file's rules, loading a
 * domain's rules for policy/senders.c, and the suggested approvals of a
 * period (the sources that pass consistently and no rule approves yet).
 * Rules arrive normalised (sender_rule_parse): the key finds them.
 *
 * May touch: db.c; policy/senders.h (rules and classes, no database).
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "db.h"
#include "senders.h"

/* The writers of sender_rule queue behind each other: the count of a
 * domain's rules stays true between the check and the insert. */
#define SENDERS_LOCK	"LOCK TABLE sender_rule IN SHARE ROW EXCLUSIVE MODE"

#define SENDERS_LIST \
	"SELECT domain, kind, value, note," \
	" to_char(added AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')" \
	" FROM sender_rule WHERE ($1::text IS NULL OR domain = $1)" \
	" ORDER BY domain COLLATE \"C\", array_position(ARRAY['service'," \
	" 'cidr', 'ptr', 'dkim', 'spf'], kind), value COLLATE \"C\""

/* One value of a one-row result, or an error naming what. */
static int
exec_params(struct db *db, const char *what, const char *sql, int n,
    const char *const *v, PGresult **res_r, char *err, size_t errlen)
{
	PGresult	*res;
	int		 rc;

	res = PQexecParams(db->conn, sql, n, NULL, v, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_COMMAND_OK &&
	    PQresultStatus(res) != PGRES_TUPLES_OK) {
		rc = db_result_error(db, res, what, err, errlen);
		PQclear(res);
		return rc;
	}
	if (res_r != NULL)
		*res_r = res;
	else
		PQclear(res);
	return 0;
}

static const char *
col(const PGresult *res, int row, int c)
{
	return PQgetisnull(res, row, c) ? NULL : PQgetvalue(res, row, c);
}

struct list_ctx {
	db_sender_rule_fn	 fn;
	void			*ctx;
};

static int
list_row(void *ctx, const PGresult *res, char *err, size_t errlen)
{
	struct list_ctx		*x = ctx;
	struct db_sender_rule	 r;

	r.domain = col(res, 0, 0);
	r.kind = col(res, 0, 1);
	r.value = col(res, 0, 2);
	r.note = col(res, 0, 3);
	r.added = col(res, 0, 4);
	return x->fn(x->ctx, &r, err, errlen);
}

int
db_senders_list(struct db *db, const char *domain, db_sender_rule_fn fn,
    void *ctx, char *err, size_t errlen)
{
	struct list_ctx	x = { fn, ctx };
	const char	*v[1] = { domain };

	return db_each_row(db, "senders list", SENDERS_LIST, 1, v, list_row,
	    &x, err, errlen);
}

int
db_senders_add(struct db *db, const struct db_sender_rule *r, size_t max,
    bool *added_r, char *err, size_t errlen)
{
	PGresult	*res = NULL;
	const char	*v[4] = { r->domain, r->kind, r->value, r->note };
	int		 rc;

	*added_r = false;
	if ((rc = db_exec(db, "BEGIN", err, errlen)) != 0)
		return rc;
	if ((rc = db_exec(db, SENDERS_LOCK, err, errlen)) != 0)
		goto fail;
	if ((rc = exec_params(db, "senders add", "SELECT count(*), count(*)"
	    " FILTER (WHERE kind = $2 AND value = $3) FROM sender_rule"
	    " WHERE domain = $1", 3, v, &res, err, errlen)) != 0)
		goto fail;
	if (strcmp(PQgetvalue(res, 0, 1), "0") == 0 &&
	    strtoull(PQgetvalue(res, 0, 0), NULL, 10) >= max) {
		snprintf(err, errlen, "senders add: the domain has %zu rules "
		    "already (at most %zu)", max, max);
		rc = DB_EFULL;
		goto fail;
	}
	*added_r = strcmp(PQgetvalue(res, 0, 1), "0") == 0;
	PQclear(res);
	res = NULL;
	/* a rule already there keeps its note unless a new one is given */
	if ((rc = exec_params(db, "senders add", "INSERT INTO sender_rule"
	    " (domain, kind, value, note) VALUES ($1, $2, $3, $4)"
	    " ON CONFLICT (domain, kind, value) DO UPDATE SET note ="
	    " coalesce(EXCLUDED.note, sender_rule.note)", 4, v, NULL, err,
	    errlen)) != 0)
		goto fail;
	if ((rc = db_exec(db, "COMMIT", err, errlen)) != 0)
		goto fail;
	return 0;
fail:
	PQclear(res);
	db_rollback(db);
	*added_r = false;
	return rc;
}

int
db_senders_remove(struct db *db, const struct db_sender_rule *r,
    bool *removed_r, char *err, size_t errlen)
{
	PGresult	*res;
	const char	*v[3] = { r->domain, r->kind, r->value };
	int		 rc;

	*removed_r = false;
	if ((rc = exec_params(db, "senders remove", "DELETE FROM sender_rule"
	    " WHERE domain = $1 AND kind = $2 AND (value = $3 OR"
	    " (kind = 'service' AND lower(value) = lower($3)))", 3, v, &res,
	    err, errlen)) != 0)
		return rc;
	*removed_r = strcmp(PQcmdTuples(res), "0") != 0;
	PQclear(res);
	return 0;
}

/* The text[] parameter of field off of each rule. */
static int
rules_array(struct buf *b, const struct db_sender_rule *rules, size_t n,
    size_t off)
{
	return db_array_field(b, (const char *const *)(const void *)
	    ((const char *)rules + off), sizeof(*rules), n, false);
}

int
db_senders_sync(struct db *db, const struct db_sender_rule *rules, size_t n,
    struct db_senders_sync_counts *c_r, char *err, size_t errlen)
{
	struct buf	 a[4];
	PGresult	*res = NULL;
	const char	*v[4];
	size_t		 i;
	int		 rc = 0;

	memset(c_r, 0, sizeof(*c_r));
	for (i = 0; i < 4; i++)
		buf_init(&a[i], SIZE_MAX / 2);
	if (rules_array(&a[0], rules, n, offsetof(struct db_sender_rule,
	    domain)) == -1 || rules_array(&a[1], rules, n,
	    offsetof(struct db_sender_rule, kind)) == -1 ||
	    rules_array(&a[2], rules, n, offsetof(struct db_sender_rule,
	    value)) == -1 || rules_array(&a[3], rules, n,
	    offsetof(struct db_sender_rule, note)) == -1) {
		snprintf(err, errlen, "senders sync: out of memory");
		rc = DB_ETEMP;
		goto out;
	}
	for (i = 0; i < 4; i++)
		v[i] = a[i].len ? a[i].data : "{}";
	if ((rc = db_exec(db, "BEGIN", err, errlen)) != 0)
		goto out;
	if ((rc = db_exec(db, SENDERS_LOCK, err, errlen)) != 0)
		goto fail;
	/* the rules of the file (distinct: the caller checked) kept or
	 * added, their notes as the file says; every other rule removed */
	if ((rc = exec_params(db, "senders sync",
	    "WITH f AS (SELECT * FROM unnest($1::text[], $2::text[],"
	    "  $3::text[], $4::text[]) AS f(domain, kind, value, note)),"
	    " d AS (DELETE FROM sender_rule s WHERE NOT EXISTS (SELECT 1"
	    "  FROM f WHERE f.domain = s.domain AND f.kind = s.kind AND"
	    "  f.value = s.value) RETURNING 1),"
	    " i AS (INSERT INTO sender_rule (domain, kind, value, note)"
	    "  SELECT domain, kind, value, note FROM f"
	    "  ON CONFLICT (domain, kind, value) DO UPDATE SET note ="
	    "  EXCLUDED.note WHERE sender_rule.note IS DISTINCT FROM"
	    "  EXCLUDED.note RETURNING (xmax = 0) AS added)"
	    " SELECT (SELECT count(*) FROM d),"
	    "  (SELECT count(*) FROM i WHERE added),"
	    "  (SELECT count(*) FROM i WHERE NOT added)", 4, v, &res, err,
	    errlen)) != 0)
		goto fail;
	c_r->removed = strtoull(PQgetvalue(res, 0, 0), NULL, 10);
	c_r->added = strtoull(PQgetvalue(res, 0, 1), NULL, 10);
	c_r->noted = strtoull(PQgetvalue(res, 0, 2), NULL, 10);
	if ((rc = db_exec(db, "COMMIT", err, errlen)) != 0)
		goto fail;
	goto out;
fail:
	db_rollback(db);
	memset(c_r, 0, sizeof(*c_r));
out:
	PQclear(res);
	for (i = 0; i < 4; i++)
		buf_free(&a[i]);
	return rc;
}

struct load_ctx {
	struct sender_rules	*rs;
	const char		*domain;
};

static int
load_row(void *ctx, const PGresult *res, char *err, size_t errlen)
{
	struct load_ctx	*x = ctx;
	char		 e[256];

	if (sender_rules_add(x->rs, PQgetvalue(res, 0, 0), e,
	    sizeof(e)) == -1) {
		snprintf(err, errlen, "sender_rule of %s: %s", x->domain, e);
		return DB_EPERM;
	}
	return 0;
}

int
db_senders_load(struct db *db, const char *domain, struct sender_rules *rs,
    char *err, size_t errlen)
{
	struct load_ctx	x = { rs, domain };
	const char	*v[1] = { domain };

	return db_each_row(db, "senders load", "SELECT kind || ' ' || value"
	    " FROM sender_rule WHERE domain = $1", 1, v, load_row, &x, err,
	    errlen);
}

/* --- suggested approvals ------------------------------------------------- */

/* Each source of each domain in the period: what it sent and passed,
 * what is known of it, and the domains of its passing DKIM signatures
 * and SPF results (what a dkim or spf rule would match). */
#define SENDERS_SOURCES \
	"SELECT r.domain, host(c.source_ip), sum(c.count)," \
	" coalesce(sum(c.count) FILTER (WHERE" \
	"  dmarcd_record_pass(c.dkim, c.spf)), 0)," \
	" h.service, h.service_type, h.ptr, coalesce(h.ptr_verified, false)," \
	" h.base_domain," \
	" dmarcd_text_distinct(dmarcd_text_cat(ARRAY(SELECT lower(u.d)" \
	"  FROM unnest(c.dkim_domain, c.dkim_result) AS u(d, res)" \
	"  WHERE u.res = 'pass' AND u.d IS NOT NULL)))," \
	" dmarcd_text_distinct(dmarcd_text_cat(ARRAY(SELECT lower(u.d)" \
	"  FROM unnest(c.spf_domain, c.spf_result) AS u(d, res)" \
	"  WHERE u.res = 'pass' AND u.d IS NOT NULL)))" \
	" FROM report r JOIN record c" \
	" ON c.domain = r.domain AND c.report = r.id" \
	" AND c.month = dmarcd_report_month(r.begin_time, r.end_time)" \
	" LEFT JOIN source_host h ON h.ip = c.source_ip" \
	" WHERE ($1::text IS NULL OR r.domain = $1)" \
	DB_DOMAINS_AND("r.domain", 4) \
	" AND ($2::timestamptz IS NULL OR r.end_time >= $2::timestamptz)" \
	" AND ($3::timestamptz IS NULL OR r.begin_time < $3::timestamptz)" \
	" GROUP BY r.domain, c.source_ip, h.ip" \
	" ORDER BY r.domain COLLATE \"C\", c.source_ip"

#define SUGGEST_DOMAINS_MAX	64	/* passing domains of a source used */

struct suggest_rules {
	char			*domain;
	struct sender_rules	*rules;
};

struct suggest_ctx {
	struct db_sender_suggestion	*s;	/* by domain, then as found */
	size_t				 n, size;
	struct suggest_rules		*doms;	/* by domain, byte order */
	size_t				 ndoms, sizedoms, cur;
	char				 err[256];
};

/* Rules come by domain: a new domain starts a new entry. */
static int
suggest_rules_row(void *ctx, const struct db_sender_rule *r, char *err,
    size_t errlen)
{
	struct suggest_ctx	*x = ctx;
	struct suggest_rules	*d;
	char			 text[SENDER_RULE_LEN_MAX + 32], e[256];
	size_t			 size;

	if (x->ndoms == 0 || strcmp(x->doms[x->ndoms - 1].domain,
	    r->domain) != 0) {
		if (x->ndoms == x->sizedoms) {
			size = x->sizedoms ? x->sizedoms * 2 : 16;
			if ((d = reallocarray(x->doms, size, sizeof(*d))) ==
			    NULL)
				goto nomem;
			x->doms = d;
			x->sizedoms = size;
		}
		d = &x->doms[x->ndoms];
		if ((d->domain = strdup(r->domain)) == NULL)
			goto nomem;
		if ((d->rules = sender_rules_new()) == NULL) {
			free(d->domain);
			goto nomem;
		}
		x->ndoms++;
	}
	d = &x->doms[x->ndoms - 1];
	snprintf(text, sizeof(text), "%s %s", r->kind, r->value);
	if (sender_rules_add(d->rules, text, e, sizeof(e)) == -1) {
		snprintf(err, errlen, "sender_rule of %s: %s", r->domain, e);
		return DB_EPERM;
	}
	return 0;
nomem:
	snprintf(err, errlen, "senders suggest: out of memory");
	return DB_ETEMP;
}

/* The rules of domain (NULL: none); sources come by domain too. */
static const struct sender_rules *
suggest_rules_of(struct suggest_ctx *x, const char *domain)
{
	while (x->cur < x->ndoms && strcmp(x->doms[x->cur].domain, domain) < 0)
		x->cur++;
	if (x->cur < x->ndoms && strcmp(x->doms[x->cur].domain, domain) == 0)
		return x->doms[x->cur].rules;
	return NULL;
}

static struct db_sender_suggestion *
suggest_find(struct suggest_ctx *x, const char *domain, const char *rule)
{
	struct db_sender_suggestion	*p;
	size_t				 i, size;

	/* rows come by domain: only this domain's are searched */
	for (i = x->n; i-- > 0 && strcmp(x->s[i].domain, domain) == 0; )
		if (strcmp(x->s[i].rule, rule) == 0)
			return &x->s[i];
	if (x->n == x->size) {
		size = x->size ? x->size * 2 : 64;
		if ((p = reallocarray(x->s, size, sizeof(*p))) == NULL)
			return NULL;
		x->s = p;
		x->size = size;
	}
	p = &x->s[x->n];
	memset(p, 0, sizeof(*p));
	if ((p->domain = strdup(domain)) == NULL ||
	    (p->rule = strdup(rule)) == NULL) {
		free(p->domain);
		return NULL;
	}
	x->n++;
	return p;
}

/* The rule that would approve a source: its service when known, its
 * verified PTR's base domain, else its address alone. */
static void
suggest_rule(const char *ip, const char *service, const char *ptr_base,
    char *rule, size_t len)
{
	const char	*kind;
	char		 text[SENDER_RULE_LEN_MAX + 1];
	char		 value[SENDER_RULE_LEN_MAX + 1], e[256];

	if (service != NULL) {
		snprintf(text, sizeof(text), "service %s", service);
		if (sender_rule_parse(text, &kind, value, sizeof(value), e,
		    sizeof(e)) == 0)
			goto done;
	}
	if (ptr_base != NULL) {
		snprintf(text, sizeof(text), "ptr %s", ptr_base);
		if (sender_rule_parse(text, &kind, value, sizeof(value), e,
		    sizeof(e)) == 0)
			goto done;
	}
	snprintf(text, sizeof(text), "cidr %s", ip);
	if (sender_rule_parse(text, &kind, value, sizeof(value), e,
	    sizeof(e)) == -1) {
		kind = "cidr";
		snprintf(value, sizeof(value), "%s", ip);
	}
done:
	snprintf(rule, len, "%s %s", kind, value);
}

/* One source of a domain: left out when a rule approves it, else added
 * to the suggestion of the rule that would. */
static int
suggest_row(void *ctx, const PGresult *res, char *err, size_t errlen)
{
	struct suggest_ctx		*x = ctx;
	struct db_sender_suggestion	*s;
	struct sender_record		 rec;
	const char			*domain = PQgetvalue(res, 0, 0);
	const char			*ip = PQgetvalue(res, 0, 1);
	char				*dk[SUGGEST_DOMAINS_MAX];
	char				*sp[SUGGEST_DOMAINS_MAX];
	const char			*pass[SUGGEST_DOMAINS_MAX];
	char				 rule[SENDER_RULE_LEN_MAX + 8];
	int				 ndk, nsp, i;

	/* more passing domains than SUGGEST_DOMAINS_MAX: not read, and
	 * the source counts as matching no dkim or spf rule */
	if ((ndk = db_array_parse(PQgetvalue(res, 0, 9), dk, nitems(dk))) < 0)
		ndk = 0;
	if ((nsp = db_array_parse(PQgetvalue(res, 0, 10), sp, nitems(sp))) < 0)
		nsp = 0;
	for (i = 0; i < SUGGEST_DOMAINS_MAX; i++)
		pass[i] = "pass";
	memset(&rec, 0, sizeof(rec));
	rec.domain = domain;
	rec.ip = ip;
	rec.service = col(res, 0, 4);
	rec.service_type = col(res, 0, 5);
	rec.ptr = col(res, 0, 6);
	rec.ptr_verified = *PQgetvalue(res, 0, 7) == 't';
	rec.dkim_domain = (const char *const *)dk;
	rec.dkim_result = pass;
	rec.ndkim = (size_t)ndk;
	rec.spf_domain = (const char *const *)sp;
	rec.spf_result = pass;
	rec.nspf = (size_t)nsp;
	if (sender_classify(suggest_rules_of(x, domain), &rec, NULL) ==
	    SENDER_APPROVED)
		return 0;
	suggest_rule(ip, rec.service, rec.ptr_verified ? col(res, 0, 8) :
	    NULL, rule, sizeof(rule));
	if ((s = suggest_find(x, domain, rule)) == NULL) {
		snprintf(err, errlen, "senders suggest: out of memory");
		return DB_ETEMP;
	}
	if (s->service == NULL && rec.service != NULL) {
		s->service = strdup(rec.service);
		s->service_type = rec.service_type ? strdup(rec.service_type) :
		    NULL;
	}
	s->sources++;
	s->messages += strtoull(PQgetvalue(res, 0, 2), NULL, 10);
	s->dmarc_pass += strtoull(PQgetvalue(res, 0, 3), NULL, 10);
	if (s->nips < DB_SUGGEST_IPS_MAX &&
	    (s->ips[s->nips] = strdup(ip)) != NULL)
		s->nips++;
	return 0;
}

static int
suggestion_cmp(const void *a, const void *b)
{
	const struct db_sender_suggestion	*x = a, *y = b;
	int					 c;

	if ((c = strcmp(x->domain, y->domain)) != 0)
		return c;
	if (x->messages != y->messages)
		return x->messages > y->messages ? -1 : 1;
	return strcmp(x->rule, y->rule);
}

void
db_senders_suggestions_free(struct db_sender_suggestion *s, size_t n)
{
	size_t	i, j;

	for (i = 0; i < n; i++) {
		free(s[i].domain);
		free(s[i].rule);
		free(s[i].service);
		free(s[i].service_type);
		for (j = 0; j < s[i].nips; j++)
			free(s[i].ips[j]);
	}
	free(s);
}

int
db_senders_suggest(struct db *db, const struct db_export_filter *f,
    uint64_t min_messages, unsigned min_pass_pct,
    struct db_sender_suggestion **s_r, size_t *n_r, char *err, size_t errlen)
{
	struct suggest_ctx	 x;
	const char		*v[4];
	char			 since[40], until[40];
	size_t			 i, kept;
	int			 rc;

	memset(&x, 0, sizeof(x));
	*s_r = NULL;
	*n_r = 0;
	rc = db_senders_list(db, f->domain, suggest_rules_row, &x, err,
	    errlen);
	v[0] = f->domain;
	v[1] = db_export_time_param(f->since, since, sizeof(since));
	v[2] = db_export_time_param(f->until, until, sizeof(until));
	v[3] = f->domains;
	if (rc == 0)
		rc = db_each_row(db, "senders suggest", SENDERS_SOURCES, 4, v,
		    suggest_row, &x, err, errlen);
	for (i = 0; i < x.ndoms; i++) {
		free(x.doms[i].domain);
		sender_rules_free(x.doms[i].rules);
	}
	free(x.doms);
	if (rc != 0) {
		db_senders_suggestions_free(x.s, x.n);
		return rc;
	}
	/* what passes consistently: enough messages, enough of them pass */
	for (i = kept = 0; i < x.n; i++) {
		if (x.s[i].messages >= min_messages && x.s[i].dmarc_pass *
		    100 >= (uint64_t)min_pass_pct * x.s[i].messages) {
			x.s[kept++] = x.s[i];
			continue;
		}
		free(x.s[i].domain);
		free(x.s[i].rule);
		free(x.s[i].service);
		free(x.s[i].service_type);
		while (x.s[i].nips > 0)
			free(x.s[i].ips[--x.s[i].nips]);
	}
	if (kept > 0)
		qsort(x.s, kept, sizeof(*x.s), suggestion_cmp);
	*s_r = x.s;
	*n_r = kept;
	return 0;
}
