/*
 * services.c - the catalogue of mail senders: stanzas of text parsed into
 * services and an index of their domains, sorted once and searched by
 * suffix (the longest catalogue domain a name ends in wins).
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "services.h"

#define DOMAIN_MAX	253
#define LABEL_MAX	63

const char *const svc_types[] = {
	"mailbox", "esp", "transactional", "crm", "gateway", "forwarder",
	"hosting", NULL
};

static const char *const kind_words[SVC_NKINDS] = { "ptr", "dkim", "spf" };

struct dom {
	char		*name;
	enum svc_kind	 kind;
	size_t		 svc;	/* index in svcs */
	unsigned	 seq;	/* order added: the last wins */
	unsigned	 line;	/* while parsing */
};

struct catalogue {
	struct service	*svcs;
	size_t		 nsvcs;
	struct dom	*doms;
	size_t		 ndoms, domcap;
	unsigned	 seq;
	bool		 sorted;
};

/* One file being parsed: its services wait here until it has no error. */
struct pending {
	struct service	 svc;
	unsigned	 line;
	size_t		 first, ndoms;	/* in the parse's dom array */
};

struct parse {
	const char	*file;
	FILE		*errs;
	unsigned	 nerr;
	struct pending	*svcs;
	size_t		 nsvcs, svccap;
	struct dom	*doms;
	size_t		 ndoms, domcap;
	bool		 refused;	/* the last service line was: its
					 * stanza's lines are not the one
					 * before's */
};

static void *
xreallocarray(void *p, size_t n, size_t size)
{
	if (size != 0 && n > SIZE_MAX / size)
		abort();
	if ((p = realloc(p, n * size)) == NULL) {
		fputs("dmarcd: out of memory\n", stderr);
		abort();
	}
	return p;
}

/* Text of a stranger's file in a message: printable ASCII, the rest '?'. */
static void
put_clean(FILE *f, const char *s, size_t len)
{
	size_t	i;

	for (i = 0; i < len && i < 80; i++)
		fputc(s[i] >= 0x20 && s[i] < 0x7f ? s[i] : '?', f);
	if (len > 80)
		fputs("...", f);
}

static void __attribute__((format(printf, 3, 4)))
perr(struct parse *p, unsigned line, const char *fmt, ...)
{
	va_list	ap;

	if (++p->nerr > SVC_ERRORS_MAX)
		return;
	if (p->errs == NULL)
		return;
	fprintf(p->errs, "%s:%u: ", p->file, line);
	if (p->nerr == SVC_ERRORS_MAX) {
		fputs("too many errors\n", p->errs);
		return;
	}
	va_start(ap, fmt);
	vfprintf(p->errs, fmt, ap);
	va_end(ap);
	fputc('\n', p->errs);
}

/* perr with a quoted word of the file after the message. */
static void
perr_word(struct parse *p, unsigned line, const char *msg, const char *w,
    size_t len)
{
	if (++p->nerr > SVC_ERRORS_MAX || p->errs == NULL)
		return;
	fprintf(p->errs, "%s:%u: ", p->file, line);
	if (p->nerr == SVC_ERRORS_MAX) {
		fputs("too many errors\n", p->errs);
		return;
	}
	fprintf(p->errs, "%s '", msg);
	put_clean(p->errs, w, len);
	fputs("'\n", p->errs);
}

/*
 * A domain of the catalogue, lower-cased into out: letters, digits, '-'
 * and '_', labels of 1..63 bytes, 253 bytes in all, at least two labels
 * (a bare TLD would name every sender under it).  A trailing dot is
 * dropped.  Returns 0 or -1.
 */
static int
domain_norm(const char *s, size_t len, char *out)
{
	size_t	i, label = 0, dots = 0;

	if (len > 0 && s[len - 1] == '.')
		len--;
	if (len == 0 || len > DOMAIN_MAX)
		return -1;
	for (i = 0; i < len; i++) {
		unsigned char	c = s[i];

		if (c == '.') {
			if (label == 0)
				return -1;
			label = 0;
			dots++;
		} else if (isalnum(c) || c == '-' || c == '_') {
			if (++label > LABEL_MAX)
				return -1;
		} else
			return -1;
		out[i] = tolower(c);
	}
	out[len] = '\0';
	return label == 0 || dots == 0 ? -1 : 0;
}

static const char *
type_word(const char *s, size_t len)
{
	size_t	i;

	for (i = 0; svc_types[i] != NULL; i++)
		if (strlen(svc_types[i]) == len &&
		    strncmp(svc_types[i], s, len) == 0)
			return svc_types[i];
	return NULL;
}

static void
finish_stanza(struct parse *p)
{
	struct pending	*sp;

	/* after a refused service line the last stanza is finished */
	if (p->nsvcs == 0 || p->refused)
		return;
	sp = &p->svcs[p->nsvcs - 1];
	if (sp->svc.type == NULL)
		perr(p, sp->line, "service %s: no type", sp->svc.name);
	if (sp->ndoms == 0)
		perr(p, sp->line, "service %s: no ptr, dkim or spf domain",
		    sp->svc.name);
}

static void
start_stanza(struct parse *p, unsigned line, const char *name, size_t len)
{
	struct pending	*sp;
	size_t		 i;

	finish_stanza(p);
	p->refused = true;
	while (len > 0 && (name[len - 1] == ' ' || name[len - 1] == '\t'))
		len--;
	if (len == 0) {
		perr(p, line, "service without a name");
		return;
	}
	if (len > SVC_NAME_MAX) {
		perr(p, line, "service name longer than %d bytes",
		    SVC_NAME_MAX);
		return;
	}
	for (i = 0; i < len; i++)
		if (name[i] < 0x20 || name[i] >= 0x7f) {
			perr(p, line, "service name: not printable ASCII");
			return;
		}
	if (p->nsvcs >= SVC_MAX) {
		perr(p, line, "more than %d services", SVC_MAX);
		return;
	}
	for (i = 0; i < p->nsvcs; i++)
		if (strlen(p->svcs[i].svc.name) == len &&
		    strncasecmp(p->svcs[i].svc.name, name, len) == 0) {
			perr(p, line, "service %.*s: already defined at line %u",
			    (int)len, name, p->svcs[i].line);
			return;
		}
	if (p->nsvcs == p->svccap) {
		p->svccap = p->svccap ? p->svccap * 2 : 64;
		p->svcs = xreallocarray(p->svcs, p->svccap, sizeof(*p->svcs));
	}
	sp = &p->svcs[p->nsvcs++];
	memset(sp, 0, sizeof(*sp));
	memcpy(sp->svc.name, name, len);
	sp->svc.name[len] = '\0';
	sp->line = line;
	sp->first = p->ndoms;
	p->refused = false;
}

static void
add_domain(struct parse *p, unsigned line, enum svc_kind kind,
    const char *w, size_t len)
{
	struct pending	*sp = &p->svcs[p->nsvcs - 1];
	char		 buf[DOMAIN_MAX + 2];
	struct dom	*d;

	if (len > DOMAIN_MAX + 1 || domain_norm(w, len, buf) == -1) {
		perr_word(p, line, "not a domain name:", w, len);
		return;
	}
	if (sp->ndoms >= SVC_DOMAINS_MAX) {
		perr(p, line, "service %s: more than %d domains",
		    sp->svc.name, SVC_DOMAINS_MAX);
		return;
	}
	if (p->ndoms == p->domcap) {
		p->domcap = p->domcap ? p->domcap * 2 : 256;
		p->doms = xreallocarray(p->doms, p->domcap, sizeof(*p->doms));
	}
	d = &p->doms[p->ndoms++];
	if ((d->name = strdup(buf)) == NULL)
		abort();
	d->kind = kind;
	d->svc = p->nsvcs - 1;
	d->line = line;
	sp->ndoms++;
}

static int
is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r';
}

static void
parse_line(struct parse *p, unsigned line, const char *s, size_t len)
{
	const char	*w, *end;
	size_t		 wl;
	int		 k;

	if ((end = memchr(s, '#', len)) != NULL)
		len = end - s;
	end = s + len;
	while (s < end && is_blank(*s))
		s++;
	if (s == end)
		return;
	for (w = s; s < end && !is_blank(*s); s++)
		;
	wl = s - w;
	while (s < end && is_blank(*s))
		s++;
	if (wl == 7 && strncmp(w, "service", 7) == 0) {
		start_stanza(p, line, s, end - s);
		return;
	}
	if (p->refused)
		return;		/* blamed on its service line */
	if (p->nsvcs == 0) {
		perr_word(p, line, "before any service line:", w, wl);
		return;
	}
	if (wl == 4 && strncmp(w, "type", 4) == 0) {
		struct pending	*sp = &p->svcs[p->nsvcs - 1];
		const char	*v = s, *t;

		while (s < end && !is_blank(*s))
			s++;
		if ((t = type_word(v, s - v)) == NULL)
			perr_word(p, line, "type is not one of mailbox, esp,"
			    " transactional, crm, gateway, forwarder,"
			    " hosting:", v, s - v);
		else if (sp->svc.type != NULL)
			perr(p, line, "service %s: a second type",
			    sp->svc.name);
		else
			sp->svc.type = t;
		while (s < end && is_blank(*s))
			s++;
		if (s < end)
			perr(p, line, "type takes one word");
		return;
	}
	for (k = 0; k < SVC_NKINDS; k++)
		if (strlen(kind_words[k]) == wl &&
		    strncmp(kind_words[k], w, wl) == 0)
			break;
	if (k == SVC_NKINDS) {
		perr_word(p, line, "unknown keyword", w, wl);
		return;
	}
	if (s == end)
		perr(p, line, "%s without a domain", kind_words[k]);
	while (s < end) {
		for (w = s; s < end && !is_blank(*s); s++)
			;
		add_domain(p, line, k, w, s - w);
		while (s < end && is_blank(*s))
			s++;
	}
}

static int
dom_cmp(const void *a, const void *b)
{
	const struct dom	*x = a, *y = b;
	int			 c;

	if (x->kind != y->kind)
		return x->kind < y->kind ? -1 : 1;
	if ((c = strcmp(x->name, y->name)) != 0)
		return c;
	/* the newest first: it is the one a lookup returns */
	return x->seq > y->seq ? -1 : x->seq < y->seq;
}

/* A domain listed twice in one file is a mistake (which would win?). */
static void
check_duplicates(struct parse *p)
{
	struct dom	*sorted;
	size_t		 i;

	if (p->ndoms < 2)
		return;
	sorted = xreallocarray(NULL, p->ndoms, sizeof(*sorted));
	memcpy(sorted, p->doms, p->ndoms * sizeof(*sorted));
	for (i = 0; i < p->ndoms; i++)
		sorted[i].seq = p->ndoms - i;	/* ties in file order */
	qsort(sorted, p->ndoms, sizeof(*sorted), dom_cmp);
	for (i = 1; i < p->ndoms; i++)
		if (sorted[i].kind == sorted[i - 1].kind &&
		    strcmp(sorted[i].name, sorted[i - 1].name) == 0)
			perr(p, sorted[i].line, "%s %s: already listed at"
			    " line %u (service %s)", kind_words[sorted[i].kind],
			    sorted[i].name, sorted[i - 1].line,
			    p->svcs[sorted[i - 1].svc].svc.name);
	free(sorted);
}

static void
commit(struct catalogue *cat, struct parse *p)
{
	size_t	 i, j, *slot;

	slot = xreallocarray(NULL, p->nsvcs ? p->nsvcs : 1, sizeof(*slot));
	for (i = 0; i < p->nsvcs; i++) {
		for (j = 0; j < cat->nsvcs; j++)
			if (strcasecmp(cat->svcs[j].name,
			    p->svcs[i].svc.name) == 0)
				break;
		if (j == cat->nsvcs) {
			cat->svcs = xreallocarray(cat->svcs, cat->nsvcs + 1,
			    sizeof(*cat->svcs));
			cat->nsvcs++;
		} else {
			/* replaced whole: its old domains go */
			size_t	k, n = 0;

			for (k = 0; k < cat->ndoms; k++)
				if (cat->doms[k].svc == j)
					free(cat->doms[k].name);
				else
					cat->doms[n++] = cat->doms[k];
			cat->ndoms = n;
		}
		cat->svcs[j] = p->svcs[i].svc;
		slot[i] = j;
	}
	for (i = 0; i < p->ndoms; i++) {
		if (cat->ndoms == cat->domcap) {
			cat->domcap = cat->domcap ? cat->domcap * 2 : 1024;
			cat->doms = xreallocarray(cat->doms, cat->domcap,
			    sizeof(*cat->doms));
		}
		cat->doms[cat->ndoms] = p->doms[i];
		cat->doms[cat->ndoms].svc = slot[p->doms[i].svc];
		cat->doms[cat->ndoms].seq = ++cat->seq;
		cat->ndoms++;
	}
	p->ndoms = 0;	/* the names are the catalogue's now */
	cat->sorted = false;
	free(slot);
}

struct catalogue *
catalogue_new(void)
{
	struct catalogue	*cat;

	if ((cat = calloc(1, sizeof(*cat))) == NULL)
		abort();
	return cat;
}

void
catalogue_free(struct catalogue *cat)
{
	size_t	i;

	if (cat == NULL)
		return;
	for (i = 0; i < cat->ndoms; i++)
		free(cat->doms[i].name);
	free(cat->doms);
	free(cat->svcs);
	free(cat);
}

int
catalogue_parse(struct catalogue *cat, const char *text, size_t len,
    const char *file, FILE *errs)
{
	struct parse	 p;
	const char	*s = text, *end = text + len, *nl;
	unsigned	 line = 0;
	size_t		 i;

	memset(&p, 0, sizeof(p));
	p.file = file;
	p.errs = errs;
	if (len > SVC_FILE_MAX)
		perr(&p, 0, "larger than %d bytes", SVC_FILE_MAX);
	else if (memchr(text, '\0', len) != NULL)
		perr(&p, 0, "a NUL byte: not a text file");
	if (p.nerr != 0)
		s = end;
	while (s < end) {
		line++;
		if ((nl = memchr(s, '\n', end - s)) == NULL)
			nl = end;
		if (nl - s > SVC_LINE_MAX)
			perr(&p, line, "line longer than %d bytes",
			    SVC_LINE_MAX);
		else
			parse_line(&p, line, s, nl - s);
		s = nl + 1;
	}
	finish_stanza(&p);
	check_duplicates(&p);
	if (p.nerr == 0 && cat->nsvcs + p.nsvcs > SVC_MAX)
		perr(&p, line, "more than %d services in all", SVC_MAX);
	if (p.nerr == 0)
		commit(cat, &p);
	for (i = 0; i < p.ndoms; i++)
		free(p.doms[i].name);
	free(p.doms);
	free(p.svcs);
	return p.nerr == 0 ? 0 : -1;
}

int
catalogue_load(struct catalogue *cat, const char *path, FILE *errs)
{
	FILE	*f;
	char	*text;
	size_t	 n;
	int	 rc;

	if ((f = fopen(path, "r")) == NULL) {
		if (errs != NULL)
			fprintf(errs, "%s: %s\n", path, strerror(errno));
		return -1;
	}
	text = xreallocarray(NULL, SVC_FILE_MAX + 1, 1);
	n = fread(text, 1, SVC_FILE_MAX + 1, f);
	if (ferror(f)) {
		if (errs != NULL)
			fprintf(errs, "%s: %s\n", path, strerror(errno));
		rc = -1;
	} else
		rc = catalogue_parse(cat, text, n, path, errs);
	fclose(f);
	free(text);
	return rc;
}

int
catalogue_builtin(struct catalogue *cat, FILE *errs)
{
	return catalogue_parse(cat, services_builtin,
	    strlen(services_builtin), "services.conf (built in)", errs);
}

size_t
catalogue_count(const struct catalogue *cat)
{
	return cat->nsvcs;
}

const struct service *
catalogue_service(const struct catalogue *cat, const char *name)
{
	size_t	i;

	for (i = 0; name != NULL && i < cat->nsvcs; i++)
		if (strcasecmp(cat->svcs[i].name, name) == 0)
			return &cat->svcs[i];
	return NULL;
}

static const struct dom *
find(const struct catalogue *cat, enum svc_kind kind, const char *name)
{
	size_t	lo = 0, hi = cat->ndoms, mid;
	int	c;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		c = cat->doms[mid].kind != kind ?
		    (cat->doms[mid].kind < kind ? -1 : 1) :
		    strcmp(cat->doms[mid].name, name);
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	/* lo is the first of its (kind, name): the newest */
	if (lo < cat->ndoms && cat->doms[lo].kind == kind &&
	    strcmp(cat->doms[lo].name, name) == 0)
		return &cat->doms[lo];
	return NULL;
}

const struct service *
catalogue_match(struct catalogue *cat, enum svc_kind kind, const char *name)
{
	char			 buf[DOMAIN_MAX + 2];
	const char		*s;
	const struct dom	*d;
	size_t			 len, i;

	if (name == NULL || (len = strlen(name)) == 0 || len > DOMAIN_MAX + 1)
		return NULL;
	for (i = 0; i < len; i++)
		buf[i] = tolower((unsigned char)name[i]);
	buf[len] = '\0';
	if (buf[len - 1] == '.')
		buf[len - 1] = '\0';
	if (!cat->sorted) {
		qsort(cat->doms, cat->ndoms, sizeof(*cat->doms), dom_cmp);
		cat->sorted = true;
	}
	/* the whole name first, then each shorter suffix at a dot */
	for (s = buf; s != NULL && *s != '\0'; s = strchr(s, '.'), s =
	    s != NULL ? s + 1 : NULL)
		if ((d = find(cat, kind, s)) != NULL)
			return &cat->svcs[d->svc];
	return NULL;
}

void
catalogue_describe(struct catalogue *cat, FILE *f)
{
	const struct dom	*d;
	size_t			 i;

	if (!cat->sorted) {
		qsort(cat->doms, cat->ndoms, sizeof(*cat->doms), dom_cmp);
		cat->sorted = true;
	}
	/* what a lookup can answer: the first of each (kind, name) wins */
	for (i = 0; i < cat->ndoms; i++) {
		d = &cat->doms[i];
		if (i > 0 && d->kind == d[-1].kind &&
		    strcmp(d->name, d[-1].name) == 0)
			continue;
		fprintf(f, "%s %s %s|%s\n", kind_words[d->kind], d->name,
		    cat->svcs[d->svc].name, cat->svcs[d->svc].type);
	}
}
