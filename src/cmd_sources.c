/*
 * cmd_sources.c - `dmarcd sources [--domain D] [--since T] [--until T]
 * [--format json|text]`: one line per source IP of the period, with what
 * is known of it (source_host) and what it sent.  The reports are those
 * `dmarcd export` selects with the same options (db/sources.c).
 *
 * JSON lines are a public interface (dmarcd(8)): exactly the keys of
 * json_row, in that order.  Text is a table for a terminal, every field
 * escaped; the hostname carries "?" when it is not forward-confirmed.
 */
#include "config.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "lib.h"
#include "conf.h"
#include "dmarcd.h"

#define SOURCES_LINE_CAP	(64 << 20)	/* one JSON line, at most */
#define SOURCES_DOMAINS_CAP	4096		/* the domains of a text row */

enum { T_IP, T_HOST, T_SERVICE, T_TYPE, T_ASN, T_AS_ORG, T_COUNTRY,
    T_MESSAGES, T_PASS, T_DOMAINS, T_NCOLS };

static const char *const text_heads[T_NCOLS] = {
	"IP", "HOSTNAME", "SERVICE", "TYPE", "ASN", "AS ORG", "CC",
	"MESSAGES", "PASS", "DOMAINS",
};

/* The rows of a text table: held until the widths are known. */
struct text_table {
	char		**cells;	/* T_NCOLS per row */
	size_t		  nrows, size;
	size_t		  width[T_NCOLS];
};

struct sources_out {
	bool			 json;
	FILE			*out;
	struct buf		 b;
	struct text_table	 t;
};

static void
sources_usage(void)
{
	fprintf(stderr, "usage: dmarcd sources [-f FILE] [--db URL] "
	    "[--domain D] [--since T] [--until T] [--user NAME]\n"
	    "       [--format json|text]\n");
}

static int
json_row(struct buf *b, const struct db_source *s)
{
	size_t	i;
	int	rc = 0;

	rc |= buf_addc(b, '{');
	rc |= json_key(b, "ip", true);
	rc |= json_str(b, s->ip);
	rc |= json_key(b, "ptr", false);
	rc |= json_str(b, s->ptr);
	rc |= json_key(b, "ptr_verified", false);
	rc |= buf_adds(b, s->ptr_verified ? "true" : "false");
	rc |= json_key(b, "base_domain", false);
	rc |= json_str(b, s->base_domain);
	rc |= json_key(b, "service", false);
	rc |= json_str(b, s->service);
	rc |= json_key(b, "service_type", false);
	rc |= json_str(b, s->service_type);
	rc |= json_key(b, "asn", false);
	rc |= s->has_asn ? json_int(b, s->asn) : buf_adds(b, "null");
	rc |= json_key(b, "as_org", false);
	rc |= json_str(b, s->as_org);
	rc |= json_key(b, "country", false);
	rc |= json_str(b, s->country);
	rc |= json_key(b, "messages", false);
	rc |= json_uint(b, s->messages);
	rc |= json_key(b, "dmarc_pass", false);
	rc |= json_uint(b, s->dmarc_pass);
	rc |= json_key(b, "domains", false);
	rc |= buf_addc(b, '[');
	for (i = 0; i < s->n_domains; i++) {
		if (i)
			rc |= buf_addc(b, ',');
		rc |= json_str(b, s->domains[i]);
	}
	rc |= buf_adds(b, "]}\n");
	return rc ? -1 : 0;
}

/* A cell of the table: report bytes escaped (str_escape), NULL as "-".
 * A PTR is stored printable already (\DDD escapes): shown as stored. */
static char *
text_cell(const char *s, const char *suffix, bool as_stored)
{
	const char	*p;
	char		*c;
	size_t		 n, len;

	if (s == NULL)
		return strdup("-");
	n = strlen(s);
	for (p = s; as_stored && *p != '\0'; p++)
		if (*p < 0x20 || *p > 0x7e)
			as_stored = false;
	len = (as_stored ? n : 4 * n) + strlen(suffix) + 4;
	if ((c = malloc(len)) == NULL)
		return NULL;
	if (as_stored)
		memcpy(c, s, n + 1);
	else
		str_escape(c, len, s, n);
	memcpy(c + strlen(c), suffix, strlen(suffix) + 1);
	return c;
}

static char *
text_domains(const struct db_source *s)
{
	struct buf	 b;
	char		 esc[4 * 256 + 4];
	size_t		 i, n;

	buf_init(&b, SOURCES_DOMAINS_CAP);
	for (i = 0; i < s->n_domains; i++) {
		n = strlen(s->domains[i]);
		str_escape(esc, sizeof(esc), s->domains[i], n);
		if (b.len + strlen(esc) + 5 > SOURCES_DOMAINS_CAP) {
			buf_adds(&b, i ? ",..." : "...");
			break;
		}
		if (i)
			buf_addc(&b, ',');
		buf_adds(&b, esc);
	}
	if (b.len == 0)
		buf_adds(&b, "-");
	return buf_take(&b);
}

/* Terminal columns of an escaped cell: UTF-8 continuation bytes take
 * none. */
static size_t
text_width(const char *s)
{
	size_t	w = 0;

	for (; *s != '\0'; s++)
		w += ((unsigned char)*s & 0xc0) != 0x80;
	return w;
}

static int
text_row(struct text_table *t, const struct db_source *s)
{
	char	**c, num[24];
	size_t	  i;

	if (t->nrows == t->size) {
		c = reallocarray(t->cells, t->size ? t->size * 2 : 256,
		    T_NCOLS * sizeof(*c));
		if (c == NULL)
			return -1;
		t->cells = c;
		t->size = t->size ? t->size * 2 : 256;
	}
	c = t->cells + t->nrows * T_NCOLS;
	c[T_IP] = text_cell(s->ip, "", false);
	c[T_HOST] = text_cell(s->ptr, s->ptr != NULL && !s->ptr_verified ?
	    "?" : "", true);
	c[T_SERVICE] = text_cell(s->service, "", false);
	c[T_TYPE] = text_cell(s->service_type, "", false);
	snprintf(num, sizeof(num), "AS%lld", s->asn);
	c[T_ASN] = text_cell(s->has_asn ? num : NULL, "", false);
	c[T_AS_ORG] = text_cell(s->as_org, "", false);
	c[T_COUNTRY] = text_cell(s->country, "", false);
	snprintf(num, sizeof(num), "%llu", (unsigned long long)s->messages);
	c[T_MESSAGES] = strdup(num);
	snprintf(num, sizeof(num), "%llu", (unsigned long long)s->dmarc_pass);
	c[T_PASS] = strdup(num);
	c[T_DOMAINS] = text_domains(s);
	t->nrows++;
	for (i = 0; i < T_NCOLS; i++) {
		if (c[i] == NULL)
			return -1;
		if (text_width(c[i]) > t->width[i])
			t->width[i] = text_width(c[i]);
	}
	return 0;
}

/* One line of the table: numbers right-aligned, the last column unpadded. */
static void
text_line(FILE *out, const struct text_table *t, const char *const *c)
{
	size_t	i, w;

	for (i = 0; i < T_NCOLS; i++) {
		w = text_width(c[i]);
		if (i == T_MESSAGES || i == T_PASS)
			fprintf(out, "%*s%s  ", (int)(t->width[i] - w), "",
			    c[i]);
		else if (i == T_NCOLS - 1)
			fprintf(out, "%s\n", c[i]);
		else
			fprintf(out, "%s%*s  ", c[i], (int)(t->width[i] - w),
			    "");
	}
}

static void
text_print(FILE *out, struct text_table *t)
{
	size_t	i;

	for (i = 0; i < T_NCOLS; i++)
		if (strlen(text_heads[i]) > t->width[i])
			t->width[i] = strlen(text_heads[i]);
	text_line(out, t, text_heads);
	for (i = 0; i < t->nrows; i++)
		text_line(out, t, (const char *const *)(t->cells + i * T_NCOLS));
}

static void
text_free(struct text_table *t)
{
	size_t	i;

	for (i = 0; i < t->nrows * T_NCOLS; i++)
		free(t->cells[i]);
	free(t->cells);
}

static int
sources_row(void *ctx, const struct db_source *s, char *err, size_t errlen)
{
	struct sources_out	*o = ctx;

	if (!o->json) {
		if (text_row(&o->t, s) == -1) {
			snprintf(err, errlen, "sources: out of memory");
			return DB_ETEMP;
		}
		return 0;
	}
	buf_reset(&o->b);
	if (json_row(&o->b, s) == -1) {
		snprintf(err, errlen, "sources: line too long");
		return DB_EPERM;
	}
	if (fwrite(o->b.data, 1, o->b.len, o->out) != o->b.len) {
		snprintf(err, errlen, "write error");
		return DB_EPERM;
	}
	return 0;
}

int
cmd_sources(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "db", required_argument, NULL, 'D' },
		{ "format", required_argument, NULL, 'F' },
		{ "domain", required_argument, NULL, 'd' },
		{ "since", required_argument, NULL, 's' },
		{ "until", required_argument, NULL, 'u' },
		{ "user", required_argument, NULL, 'U' },
		{ NULL, 0, NULL, 0 },
	};
	struct cmd_env		 env;
	struct db_export_filter	 filter;
	struct sources_out	 o;
	struct db		*db = NULL;
	struct buf		 ub;
	const char		*user = NULL;
	char			 err[1024];
	int			 ch, rc;

	memset(&env, 0, sizeof(env));
	memset(&filter, 0, sizeof(filter));
	memset(&o, 0, sizeof(o));
	o.json = true;
	o.out = stdout;
	while ((ch = getopt_long(argc, argv, "f:", longopts, NULL)) != -1) {
		switch (ch) {
		case 'F':
			if (strcmp(optarg, "json") == 0)
				o.json = true;
			else if (strcmp(optarg, "text") == 0)
				o.json = false;
			else
				return cmd_bad_value("sources", "format",
				    optarg, "json or text");
			break;
		case 'd':
		case 's':
		case 'u':
			if ((rc = export_filter_opt("sources", &filter, ch,
			    optarg)) != 0)
				return rc;
			break;
		case 'U':
			user = optarg;
			break;
		default:
			if (cmd_common_opt(&env, ch, optarg) == -1) {
				sources_usage();
				return EXIT_USAGE;
			}
		}
	}
	if (optind != argc) {
		sources_usage();
		return EXIT_USAGE;
	}
	if ((rc = cmd_env_load(&env)) != 0)
		return rc;
	if ((rc = cmd_env_open(&env, &db)) != 0) {
		cmd_env_free(&env);
		return rc;
	}
	buf_init(&ub, DB_USER_DOMAINS_MAX);
	if (user != NULL && (rc = cmd_user_domains(&env, db, "sources", user,
	    filter.domain, &ub, &filter.domains)) != 0) {
		buf_free(&ub);
		db_close(&db);
		cmd_env_free(&env);
		return rc;
	}
	buf_init(&o.b, SOURCES_LINE_CAP);
	rc = db_sources(db, &filter, sources_row, &o, err, sizeof(err));
	if (rc == 0 && !o.json)
		text_print(stdout, &o.t);
	if (rc == 0 && fflush(stdout) != 0) {
		snprintf(err, sizeof(err), "write error");
		rc = DB_EPERM;
	}
	if (rc != 0)
		log_warnx("%s", err);
	text_free(&o.t);
	buf_free(&o.b);
	buf_free(&ub);
	db_close(&db);
	cmd_env_free(&env);
	return rc == 0 ? 0 : rc == DB_ETEMP ? EXIT_TEMPFAIL : EXIT_FAIL;
}
