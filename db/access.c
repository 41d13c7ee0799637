/*
 * access.c - the domains a user of the users file may see: their
 * patterns (lib's domain_pattern_match) resolved against every domain the
 * database holds (Q_KNOWN_DOMAINS) into the text[] literal the queries
 * filter by (DB_DOMAINS_AND).  Resolved per request, so a domain whose
 * first report has just arrived is seen at once.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "db.h"
#include "queries.h"

struct access_ctx {
	const char *const	*patterns;
	size_t			 npatterns;
	char			**seen;		/* the domains matched */
	size_t			 n, max;
};

static int
access_row(void *ctx, const PGresult *row, char *err, size_t errlen)
{
	struct access_ctx	*x = ctx;
	const char		*d = PQgetvalue(row, 0, 0);
	size_t			 i;

	for (i = 0; i < x->npatterns; i++)
		if (domain_pattern_match(x->patterns[i], d))
			break;
	if (i == x->npatterns)
		return 0;
	if (x->n == x->max) {
		x->max = x->max ? x->max * 2 : 64;
		if ((x->seen = reallocarray(x->seen, x->max,
		    sizeof(*x->seen))) == NULL)
			fatalx("out of memory");
	}
	x->seen[x->n++] = xstrdup(d);
	(void)err;
	(void)errlen;
	return 0;
}

int
db_user_domains(struct db *db, const char *const *patterns, size_t n,
    struct buf *out, char *err, size_t errlen)
{
	struct access_ctx	 x;
	size_t			 i;
	int			 rc;

	memset(&x, 0, sizeof(x));
	x.patterns = patterns;
	x.npatterns = n;
	buf_reset(out);
	rc = db_each_row(db, "the domains of a user", Q_KNOWN_DOMAINS, 0, NULL,
	    access_row, &x, err, errlen);
	if (rc == 0 && (db_array_field(out, (const char *const *)x.seen,
	    sizeof(*x.seen), x.n, false) != 0 || buf_addc(out, '\0') != 0)) {
		snprintf(err, errlen, "the domains of a user: too many");
		rc = DB_EPERM;
	}
	for (i = 0; i < x.n; i++)
		free(x.seen[i]);
	free(x.seen);
	return rc;
}
