/*
 * cmd_senders.c - `dmarcd senders list [DOMAIN] | add DOMAIN RULE [--note
 * TEXT] | remove DOMAIN RULE | sync FILE | suggest [DOMAIN] [--since T]
 * [--until T]`: the approved senders of each domain (db/senders.c), the
 * rules as policy/senders.h reads them.
 *
 * sync makes the whole table equal to a file of "DOMAIN KIND VALUE"
 * lines, for configuration management: every error of the file is
 * reported as file:line before anything changes, and running it twice
 * changes nothing the second time.  A comment after a rule is its note.
 *
 * suggest: the rules that would approve the sources of the period no
 * rule approves yet and that pass consistently: at least
 * DB_SUGGEST_MIN_MESSAGES messages, at least DB_SUGGEST_MIN_PASS_PCT % of them
 * passing DMARC.
 */
#include "config.h"

#include <getopt.h>
#include <stdarg.h>
#include <strings.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lib.h"
#include "conf.h"
#include "dmarcd.h"
#include "db.h"
#include "senders.h"
#include "services.h"

#define SENDERS_FILE_MAX	(16 << 20)	/* bytes of a sync file */
#define SENDERS_LINE_MAX	4096		/* bytes of its line */
#define SENDERS_NOTE_MAX	1024		/* bytes of a note */
#define SENDERS_ERRORS_MAX	50		/* file errors written */
#define SENDERS_JSON_CAP	(1 << 20)	/* one JSON line */
#define SUGGEST_DAYS		30	/* the period when none is given */

struct senders_opts {
	bool		 json;
	const char	*note;
	struct db_export_filter filter;
};

static void
senders_usage(void)
{
	fprintf(stderr, "usage: dmarcd senders [-f FILE] [--db URL] "
	    "list [DOMAIN] | add DOMAIN RULE [--note TEXT] |\n"
	    "    remove DOMAIN RULE | sync FILE | suggest [DOMAIN] "
	    "[--since T] [--until T]\n"
	    "    [--format json|text]; RULE: service NAME, cidr ADDR/LEN, "
	    "ptr DOMAIN,\n    dkim DOMAIN or spf DOMAIN\n");
}

/* A policy domain of the command line or a file, normalised into out
 * (SENDER_RULE_LEN_MAX + 1 bytes): 0, or -1 with err. */
static int
domain_norm(const char *s, char *out, char *err, size_t errlen)
{
	const char	*kind;
	char		 text[SENDER_RULE_LEN_MAX + 1], e[256];

	if (strlen(s) > SENDER_DOMAIN_MAX + 1 || strchr(s, ' ') != NULL ||
	    strchr(s, '\t') != NULL) {
		snprintf(err, errlen, "domain: not a domain name");
		return -1;
	}
	snprintf(text, sizeof(text), "dkim %s", s);
	if (sender_rule_parse(text, &kind, out, SENDER_RULE_LEN_MAX + 1, e,
	    sizeof(e)) == -1) {
		snprintf(err, errlen, "domain %s", e);
		return -1;
	}
	return 0;
}

/* A rule's text normalised into kind_r and value; a service named as
 * the catalogue names it (cat NULL: as given, for remove). */
static int
rule_norm(struct catalogue *cat, const char *text, const char **kind_r,
    char *value, char *err, size_t errlen)
{
	const struct service	*svc;
	char			 esc[96];

	if (sender_rule_parse(text, kind_r, value, SENDER_RULE_LEN_MAX + 1,
	    err, errlen) == -1)
		return -1;
	if (cat == NULL || strcmp(*kind_r, "service") != 0)
		return 0;
	svc = catalogue_service(cat, value);
	if (svc == NULL) {
		str_escape(esc, sizeof(esc), value, strlen(value));
		snprintf(err, errlen, "service %s: not in the service "
		    "catalogue (services_file adds services)", esc);
		return -1;
	}
	snprintf(value, SENDER_RULE_LEN_MAX + 1, "%s", svc->name);
	return 0;
}

/* A note: printable, at most SENDERS_NOTE_MAX bytes. */
static int
note_ok(const char *note, char *err, size_t errlen)
{
	const unsigned char	*p;
	size_t			 n;

	if (note == NULL)
		return 0;
	if (strlen(note) > SENDERS_NOTE_MAX) {
		snprintf(err, errlen, "note of %zu bytes (at most %d)",
		    strlen(note), SENDERS_NOTE_MAX);
		return -1;
	}
	for (p = (const unsigned char *)note; *p != '\0'; p += n)
		if (*p < 0x20 || *p == 0x7f ||
		    (n = utf8_len(p, strlen((const char *)p))) == 0) {
			snprintf(err, errlen, "note: a control character or "
			    "invalid UTF-8");
			return -1;
		}
	return 0;
}

static struct catalogue *
catalogue_open(const struct conf *c)
{
	struct catalogue	*cat = catalogue_new();

	if (catalogue_builtin(cat, stderr) == -1)
		fatalx("the built-in service catalogue does not parse");
	if (c->services_file != NULL && *c->services_file != '\0' &&
	    catalogue_load(cat, c->services_file, stderr) == -1) {
		catalogue_free(cat);
		return NULL;
	}
	return cat;
}

/* --- list ------------------------------------------------------------------ */

static int
list_row(void *ctx, const struct db_sender_rule *r, char *err, size_t errlen)
{
	struct senders_opts	*o = ctx;
	struct buf		 b;
	char			 esc[4 * SENDERS_NOTE_MAX + 4];
	int			 rc = 0;

	if (!o->json) {
		printf("%s %s %s", r->domain, r->kind, r->value);
		if (r->note != NULL) {
			str_escape(esc, sizeof(esc), r->note, strlen(r->note));
			printf("  # %s", esc);
		}
		printf("\n");
		return 0;
	}
	buf_init(&b, SENDERS_JSON_CAP);
	rc |= buf_addc(&b, '{');
	rc |= json_key(&b, "domain", true);
	rc |= json_str(&b, r->domain);
	rc |= json_key(&b, "kind", false);
	rc |= json_str(&b, r->kind);
	rc |= json_key(&b, "value", false);
	rc |= json_str(&b, r->value);
	rc |= json_key(&b, "note", false);
	rc |= json_str(&b, r->note);
	rc |= json_key(&b, "added", false);
	rc |= json_str(&b, r->added);
	rc |= buf_adds(&b, "}\n");
	if (rc == 0 && fwrite(b.data, 1, b.len, stdout) != b.len)
		rc = -1;
	buf_free(&b);
	if (rc != 0) {
		snprintf(err, errlen, "senders list: write error");
		return DB_EPERM;
	}
	return 0;
}

/* --- sync ------------------------------------------------------------------ */

struct file_rule {
	char		*domain, *kind, *value, *note;
	unsigned	 line;
};

static int
file_rule_cmp(const void *a, const void *b)
{
	const struct file_rule	*x = a, *y = b;
	int			 c;

	if ((c = strcmp(x->domain, y->domain)) != 0 ||
	    (c = strcmp(x->kind, y->kind)) != 0 ||
	    (c = strcmp(x->value, y->value)) != 0)
		return c;
	return x->line < y->line ? -1 : x->line > y->line;
}

static int
file_rule_line_cmp(const void *a, const void *b)
{
	const struct file_rule	*x = a, *y = b;
	int			 c;

	if ((c = strcmp(x->domain, y->domain)) != 0)
		return c;
	return x->line < y->line ? -1 : x->line > y->line;
}

struct sync_parse {
	const char		*file;
	struct catalogue	*cat;
	struct file_rule	*r;
	size_t			 n, size;
	unsigned		 errors;
};

static void __attribute__((format(printf, 3, 4)))
sync_err(struct sync_parse *p, unsigned line, const char *fmt, ...)
{
	va_list	ap;
	char	msg[512];

	if (p->errors++ >= SENDERS_ERRORS_MAX)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	log_warnx("%s:%u: %s", p->file, line, msg);
}

/* One line: DOMAIN KIND VALUE [# NOTE]. */
static void
sync_line(struct sync_parse *p, unsigned line, char *s)
{
	struct file_rule	*fr;
	const char		*kind;
	char			*hash, *note = NULL, *dom, *rest;
	char			 d[SENDER_RULE_LEN_MAX + 1];
	char			 v[SENDER_RULE_LEN_MAX + 1], err[512];
	size_t			 size;

	if ((hash = strchr(s, '#')) != NULL) {
		*hash = '\0';
		note = str_trim(hash + 1);
		if (*note == '\0')
			note = NULL;
	}
	s = str_trim(s);
	if (*s == '\0')
		return;
	dom = s;
	rest = dom + strcspn(dom, " \t");
	if (*rest != '\0')
		*rest++ = '\0';
	if (domain_norm(dom, d, err, sizeof(err)) == -1 ||
	    rule_norm(p->cat, rest, &kind, v, err, sizeof(err)) == -1 ||
	    note_ok(note, err, sizeof(err)) == -1) {
		sync_err(p, line, "%s", err);
		return;
	}
	if (p->n == p->size) {
		size = p->size ? p->size * 2 : 256;
		if ((fr = reallocarray(p->r, size, sizeof(*fr))) == NULL)
			fatalx("out of memory");
		p->r = fr;
		p->size = size;
	}
	fr = &p->r[p->n++];
	fr->line = line;
	fr->domain = strdup(d);
	fr->kind = strdup(kind);
	fr->value = strdup(v);
	fr->note = note ? strdup(note) : NULL;
	if (fr->domain == NULL || fr->kind == NULL || fr->value == NULL ||
	    (note != NULL && fr->note == NULL))
		fatalx("out of memory");
}

/* The rules of the file, sorted, or -1 after its errors. */
static int
sync_parse(struct sync_parse *p, struct buf *text)
{
	char		*s, *nl, *end;
	size_t		 i, run;
	unsigned	 line = 0;

	if (text->len == 0)
		return 0;
	if (memchr(text->data, '\0', text->len) != NULL) {
		sync_err(p, 1, "a NUL byte in the file");
		return -1;
	}
	end = text->data + text->len;
	for (s = text->data; s < end; s = nl + 1) {
		line++;
		if ((nl = memchr(s, '\n', (size_t)(end - s))) == NULL)
			nl = end;
		*nl = '\0';
		if ((size_t)(nl - s) > SENDERS_LINE_MAX) {
			sync_err(p, line, "line longer than %d bytes",
			    SENDERS_LINE_MAX);
			continue;
		}
		sync_line(p, line, s);
	}
	/* by domain in file order: the line of the rule over the cap */
	if (p->n > 0)
		qsort(p->r, p->n, sizeof(*p->r), file_rule_line_cmp);
	for (i = 0, run = 0; i < p->n; i++) {
		if (i > 0 && strcmp(p->r[i].domain, p->r[i - 1].domain) == 0)
			run++;
		else
			run = 1;
		if (run == SENDER_RULES_MAX + 1)
			sync_err(p, p->r[i].line, "more than %d rules for %s",
			    SENDER_RULES_MAX, p->r[i].domain);
	}
	if (p->n > 0)
		qsort(p->r, p->n, sizeof(*p->r), file_rule_cmp);
	for (i = 0; i < p->n; i++) {
		if (i > 0 && file_rule_cmp(&p->r[i], &p->r[i - 1]) != 0 &&
		    strcmp(p->r[i].domain, p->r[i - 1].domain) == 0 &&
		    strcmp(p->r[i].kind, p->r[i - 1].kind) == 0 &&
		    strcmp(p->r[i].value, p->r[i - 1].value) == 0)
			sync_err(p, p->r[i].line, "the same rule as line %u",
			    p->r[i - 1].line);
	}
	if (p->errors > SENDERS_ERRORS_MAX)
		log_warnx("%s: %u errors, the first %d written", p->file,
		    p->errors, SENDERS_ERRORS_MAX);
	return p->errors ? -1 : 0;
}

static int
senders_sync(struct db *db, struct catalogue *cat, const char *file)
{
	struct sync_parse		 p;
	struct db_senders_sync_counts	 c;
	struct db_sender_rule		*rules = NULL;
	struct buf			 text;
	char				 err[1024];
	size_t				 i;
	int				 rc = 0;

	memset(&p, 0, sizeof(p));
	p.file = file;
	p.cat = cat;
	if (read_file_capped(file, SENDERS_FILE_MAX, &text, err,
	    sizeof(err)) == -1) {
		log_warnx("%s: %s", file, err);
		return EXIT_FAIL;
	}
	if (sync_parse(&p, &text) == -1) {
		log_warnx("%s: nothing changed", file);
		rc = EXIT_FAIL;
		goto out;
	}
	if (p.n > 0 && (rules = calloc(p.n, sizeof(*rules))) == NULL)
		fatalx("out of memory");
	for (i = 0; i < p.n; i++) {
		rules[i].domain = p.r[i].domain;
		rules[i].kind = p.r[i].kind;
		rules[i].value = p.r[i].value;
		rules[i].note = p.r[i].note;
	}
	if ((rc = db_senders_sync(db, rules, p.n, &c, err, sizeof(err))) !=
	    0) {
		log_warnx("%s", err);
		rc = rc == DB_ETEMP ? EXIT_TEMPFAIL : EXIT_FAIL;
		goto out;
	}
	printf("%s: %zu rules: %" PRIu64 " added, %" PRIu64 " removed, %"
	    PRIu64 " notes changed\n", file, p.n, c.added, c.removed,
	    c.noted);
out:
	for (i = 0; i < p.n; i++) {
		free(p.r[i].domain);
		free(p.r[i].kind);
		free(p.r[i].value);
		free(p.r[i].note);
	}
	free(p.r);
	free(rules);
	buf_free(&text);
	return rc;
}

/* --- suggest --------------------------------------------------------------- */

static int
suggest_print(const struct senders_opts *o, const struct db_sender_suggestion *s,
    size_t n)
{
	struct buf	b;
	char		esc[4 * 256 + 4];
	size_t		i, j;
	int		rc = 0;

	buf_init(&b, SENDERS_JSON_CAP);
	if (!o->json && n > 0)
		printf("%-30s %-40s %7s %9s %6s  %s\n", "DOMAIN", "RULE",
		    "SOURCES", "MESSAGES", "PASS%", "IPS");
	for (i = 0; i < n && rc == 0; i++) {
		if (!o->json) {
			str_escape(esc, sizeof(esc), s[i].rule,
			    strlen(s[i].rule));
			printf("%-30s %-40s %7" PRIu64 " %9" PRIu64 " %6.1f  ",
			    s[i].domain, esc, s[i].sources, s[i].messages,
			    100.0 * (double)s[i].dmarc_pass /
			    (double)s[i].messages);
			for (j = 0; j < s[i].nips; j++)
				printf("%s%s", j ? "," : "", s[i].ips[j]);
			printf("%s\n", s[i].sources > s[i].nips ? ",..." : "");
			continue;
		}
		buf_reset(&b);
		rc |= buf_addc(&b, '{');
		rc |= json_key(&b, "domain", true);
		rc |= json_str(&b, s[i].domain);
		rc |= json_key(&b, "rule", false);
		rc |= json_str(&b, s[i].rule);
		rc |= json_key(&b, "service", false);
		rc |= json_str(&b, s[i].service);
		rc |= json_key(&b, "service_type", false);
		rc |= json_str(&b, s[i].service_type);
		rc |= json_key(&b, "sources", false);
		rc |= json_uint(&b, s[i].sources);
		rc |= json_key(&b, "messages", false);
		rc |= json_uint(&b, s[i].messages);
		rc |= json_key(&b, "dmarc_pass", false);
		rc |= json_uint(&b, s[i].dmarc_pass);
		rc |= json_key(&b, "ips", false);
		rc |= buf_addc(&b, '[');
		for (j = 0; j < s[i].nips; j++) {
			if (j)
				rc |= buf_addc(&b, ',');
			rc |= json_str(&b, s[i].ips[j]);
		}
		rc |= buf_adds(&b, "]}\n");
		if (rc == 0 && fwrite(b.data, 1, b.len, stdout) != b.len)
			rc = -1;
	}
	buf_free(&b);
	return rc;
}

static int
senders_suggest(struct db *db, struct senders_opts *o)
{
	struct db_sender_suggestion	*s;
	char				 since[32], err[1024];
	size_t				 n;
	int				 rc;

	if (o->filter.since == NULL && o->filter.until == NULL) {
		snprintf(since, sizeof(since), "%lld", (long long)time(NULL) -
		    SUGGEST_DAYS * 86400LL);
		o->filter.since = since;
	}
	if ((rc = db_senders_suggest(db, &o->filter, DB_SUGGEST_MIN_MESSAGES,
	    DB_SUGGEST_MIN_PASS_PCT, &s, &n, err, sizeof(err))) != 0) {
		log_warnx("%s", err);
		return rc == DB_ETEMP ? EXIT_TEMPFAIL : EXIT_FAIL;
	}
	rc = suggest_print(o, s, n);
	db_senders_suggestions_free(s, n);
	if (rc != 0) {
		log_warnx("senders suggest: write error");
		return EXIT_FAIL;
	}
	return 0;
}

/* --- add, remove ------------------------------------------------------------ */

/* The words of argv from i on, joined by spaces: a rule typed unquoted
 * ("service Amazon SES"). */
static int
join_args(int argc, char **argv, int i, char *out, size_t len)
{
	size_t	n = 0, w;

	out[0] = '\0';
	for (; i < argc; i++) {
		w = strlen(argv[i]);
		if (n + w + 2 > len)
			return -1;
		if (n)
			out[n++] = ' ';
		memcpy(out + n, argv[i], w + 1);
		n += w;
	}
	return 0;
}

static int
senders_edit(struct db *db, struct catalogue *cat, bool add, const char *note,
    int argc, char **argv)
{
	struct db_sender_rule	 r;
	const char		*kind;
	char			 d[SENDER_RULE_LEN_MAX + 1];
	char			 v[SENDER_RULE_LEN_MAX + 1];
	char			 text[SENDER_RULE_LEN_MAX + 2], err[1024];
	bool			 done;
	int			 rc;

	if (join_args(argc, argv, 1, text, sizeof(text)) == -1) {
		log_warnx("senders: rule longer than %d bytes",
		    SENDER_RULE_LEN_MAX);
		return EXIT_USAGE;
	}
	if (domain_norm(argv[0], d, err, sizeof(err)) == -1 ||
	    rule_norm(add ? cat : NULL, text, &kind, v, err,
	    sizeof(err)) == -1 || (add && note_ok(note, err,
	    sizeof(err)) == -1)) {
		log_warnx("senders %s: %s", add ? "add" : "remove", err);
		return EXIT_USAGE;
	}
	memset(&r, 0, sizeof(r));
	r.domain = d;
	r.kind = kind;
	r.value = v;
	r.note = note;
	rc = add ? db_senders_add(db, &r, SENDER_RULES_MAX, &done, err,
	    sizeof(err)) : db_senders_remove(db, &r, &done, err, sizeof(err));
	if (rc != 0) {
		log_warnx("%s", err);
		return rc == DB_ETEMP ? EXIT_TEMPFAIL : EXIT_FAIL;
	}
	if (add)
		printf("%s: %s %s %s\n", done ? "added" : "already there", d,
		    kind, v);
	else if (done)
		printf("removed: %s %s %s\n", d, kind, v);
	else {
		log_warnx("senders remove: no rule %s %s for %s", kind, v, d);
		return EXIT_FAIL;
	}
	return 0;
}

int
cmd_senders(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "db", required_argument, NULL, 'D' },
		{ "format", required_argument, NULL, 'F' },
		{ "note", required_argument, NULL, 'n' },
		{ "since", required_argument, NULL, 's' },
		{ "until", required_argument, NULL, 'u' },
		{ NULL, 0, NULL, 0 },
	};
	struct cmd_env		 env;
	struct senders_opts	 o;
	struct catalogue	*cat = NULL;
	struct db		*db = NULL;
	const char		*sub;
	char			 d[SENDER_RULE_LEN_MAX + 1], err[1024];
	int			 ch, rc, nargs;

	memset(&env, 0, sizeof(env));
	memset(&o, 0, sizeof(o));
	o.json = true;
	while ((ch = getopt_long(argc, argv, "+f:", longopts, NULL)) != -1)
		if (cmd_common_opt(&env, ch, optarg) == -1) {
			senders_usage();
			return EXIT_USAGE;
		}
	if (optind >= argc) {
		senders_usage();
		return EXIT_USAGE;
	}
	sub = argv[optind];
	argc -= optind;
	argv += optind;
	optind = 0;	/* glibc: start again, permuting (no '+' now) */
	while ((ch = getopt_long(argc, argv, "f:", longopts, NULL)) != -1) {
		switch (ch) {
		case 'F':
			if (strcmp(optarg, "json") == 0)
				o.json = true;
			else if (strcmp(optarg, "text") == 0)
				o.json = false;
			else
				return cmd_bad_value("senders", "format",
				    optarg, "json or text");
			break;
		case 'n':
			o.note = optarg;
			break;
		case 's':
		case 'u':
			if ((rc = export_filter_opt("senders", &o.filter, ch,
			    optarg)) != 0)
				return rc;
			break;
		default:
			if (cmd_common_opt(&env, ch, optarg) == -1) {
				senders_usage();
				return EXIT_USAGE;
			}
		}
	}
	argc -= optind;
	argv += optind;
	nargs = argc;
	if (!((strcmp(sub, "list") == 0 && nargs <= 1) ||
	    (strcmp(sub, "suggest") == 0 && nargs <= 1) ||
	    (strcmp(sub, "sync") == 0 && nargs == 1) ||
	    ((strcmp(sub, "add") == 0 || strcmp(sub, "remove") == 0) &&
	    nargs >= 2)) || (o.note != NULL && strcmp(sub, "add") != 0) ||
	    ((o.filter.since || o.filter.until) &&
	    strcmp(sub, "suggest") != 0)) {
		senders_usage();
		return EXIT_USAGE;
	}
	if ((strcmp(sub, "list") == 0 || strcmp(sub, "suggest") == 0) &&
	    nargs == 1) {
		if (domain_norm(argv[0], d, err, sizeof(err)) == -1) {
			log_warnx("senders %s: %s", sub, err);
			return EXIT_USAGE;
		}
		o.filter.domain = d;
	}
	if ((rc = cmd_env_load(&env)) != 0)
		return rc;
	if ((strcmp(sub, "add") == 0 || strcmp(sub, "sync") == 0) &&
	    (cat = catalogue_open(&env.conf)) == NULL) {
		cmd_env_free(&env);
		return EXIT_FAIL;
	}
	if ((rc = cmd_env_open(&env, &db)) != 0) {
		catalogue_free(cat);
		cmd_env_free(&env);
		return rc;
	}
	if (strcmp(sub, "list") == 0) {
		if ((rc = db_senders_list(db, o.filter.domain, list_row, &o, err,
		    sizeof(err))) != 0) {
			log_warnx("%s", err);
			rc = rc == DB_ETEMP ? EXIT_TEMPFAIL : EXIT_FAIL;
		}
	} else if (strcmp(sub, "suggest") == 0)
		rc = senders_suggest(db, &o);
	else if (strcmp(sub, "sync") == 0)
		rc = senders_sync(db, cat, argv[0]);
	else
		rc = senders_edit(db, cat, strcmp(sub, "add") == 0, o.note,
		    argc, argv);
	if (rc == 0 && fflush(stdout) != 0) {
		log_warnx("write error");
		rc = EXIT_FAIL;
	}
	db_close(&db);
	catalogue_free(cat);
	cmd_env_free(&env);
	return rc;
}
