/*
 * services.h - the catalogue of mail senders (enrich/services.conf,
 * compiled in, plus the operator's services_file): which service a PTR
 * name, a DKIM d= domain or an SPF domain belongs to.  No database, no
 * network: text in, lookups out.
 */
#ifndef DMARCD_SERVICES_H
#define DMARCD_SERVICES_H

#include <stddef.h>
#include <stdio.h>

#define SVC_FILE_MAX	(4 * 1024 * 1024)	/* bytes of a catalogue file */
#define SVC_LINE_MAX	4096	/* bytes of a line */
#define SVC_NAME_MAX	64	/* bytes of a service name */
#define SVC_MAX		20000	/* services in a catalogue */
#define SVC_DOMAINS_MAX	512	/* domains of a service, all kinds */
#define SVC_ERRORS_MAX	50	/* errors written before giving up */

/* What a domain is matched against. */
enum svc_kind {
	SVC_PTR,	/* a forward-confirmed PTR name */
	SVC_DKIM,	/* d= of a passing DKIM signature */
	SVC_SPF,	/* domain of a passing SPF result */
	SVC_NKINDS
};

struct service {
	char		 name[SVC_NAME_MAX + 1];
	const char	*type;	/* one of svc_types[] */
};

struct catalogue;

/* The seven type words (mailbox, esp, transactional, crm, gateway,
 * forwarder, hosting), NULL-terminated. */
extern const char *const svc_types[];

/* The built-in catalogue's text (generated from enrich/services.conf). */
extern const char services_builtin[];

struct catalogue *catalogue_new(void);
void	catalogue_free(struct catalogue *cat);

/*
 * Adds the services of text (len bytes, named file in errors) to cat: a
 * service of a name already there (case ignored) replaces it whole, a new
 * one is added.  Returns 0, or -1 having written every error (up to
 * SVC_ERRORS_MAX) as "file:line: message" lines to errs; cat is then
 * unchanged.
 */
int	catalogue_parse(struct catalogue *cat, const char *text, size_t len,
	    const char *file, FILE *errs);
/* catalogue_parse of the file at path (at most SVC_FILE_MAX bytes). */
int	catalogue_load(struct catalogue *cat, const char *path, FILE *errs);
/* catalogue_parse of the built-in text. */
int	catalogue_builtin(struct catalogue *cat, FILE *errs);

size_t	catalogue_count(const struct catalogue *cat);
/* The service named name (case ignored), or NULL: what a `service NAME`
 * sender rule names (policy/senders.h). */
const struct service *catalogue_service(const struct catalogue *cat,
	    const char *name);

/*
 * The service of the longest catalogue domain of kind that name equals
 * or ends in "." + domain (case and a trailing dot ignored), or NULL.
 * When two services list the same domain, the one added last wins (the
 * services_file over the built-in catalogue).
 */
const struct service *catalogue_match(struct catalogue *cat,
	    enum svc_kind kind, const char *name);

/* Writes to f what catalogue_match can answer, one line per domain and
 * kind, in a fixed order: two catalogues that match alike write the same
 * text (what the classifier's fingerprint is made of). */
void	catalogue_describe(struct catalogue *cat, FILE *f);

#endif
