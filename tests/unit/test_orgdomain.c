/*
 * test_orgdomain.c - organisational domains (enrich/orgdomain.c) from the
 * system's Public Suffix List: ICANN and private suffixes, case and the
 * trailing dot, and names written by strangers (PTR answers, report
 * fields) refused rather than passed on.
 */
#include "config.h"

#include <pthread.h>
#include <string.h>

#include "orgdomain.h"
#include "tap.h"

static void
expect(const char *name, const char *want)
{
	char	out[ORG_NAME_MAX + 1];
	int	rc;

	rc = org_domain(name, out, sizeof(out));
	if (want == NULL)
		ok(rc == -1 && *out == '\0', "%.60s: none", name);
	else
		ok(rc == 0 && strcmp(out, want) == 0, "%.60s -> %s (got %s)",
		    name, want, rc == 0 ? out : "none");
}

static void *
worker(void *arg)
{
	char	out[ORG_NAME_MAX + 1];
	int	i, *bad = arg;

	for (i = 0; i < 2000; i++)
		if (org_domain("a8-30.smtp-out.amazonses.com", out,
		    sizeof(out)) != 0 || strcmp(out, "amazonses.com") != 0)
			(*bad)++;
	return NULL;
}

int
main(void)
{
	char		long_name[400], label[80], out[ORG_NAME_MAX + 1];
	pthread_t	t[4];
	int		bad = 0, i;

	/* ICANN suffixes, one label and more */
	expect("example.com", "example.com");
	expect("mail.example.com", "example.com");
	expect("a.b.c.example.co.uk", "example.co.uk");
	expect("mail-ed1-f54.google.com", "google.com");
	expect("a8-30.smtp-out.amazonses.com", "amazonses.com");
	expect("mail-db8eur05on2047.outbound.protection.outlook.com",
	    "outlook.com");
	expect("mx.example.com.au", "example.com.au");
	/* a private suffix is a suffix too: one github.io site is not
	 * another's organisation */
	expect("a.alice.github.io", "alice.github.io");
	/* case and the root's dot */
	expect("MAIL.Example.COM.", "example.com");
	/* DKIM and SPF names carry underscores */
	expect("s1._domainkey.example.org", "example.org");
	/* a public suffix has no organisation */
	expect("com", NULL);
	expect("co.uk", NULL);
	expect("github.io", NULL);
	/* what a stranger may write */
	expect("", NULL);
	expect(".", NULL);
	expect("a..example.com", NULL);
	expect(".example.com", NULL);
	expect("<script>.example.com", NULL);
	expect("ex ample.com", NULL);
	expect("caf\xc3\xa9.example.com", NULL);
	expect("192.0.2.1.in-addr\x01.arpa", NULL);
	/* lengths: 253 bytes is a name, 254 is not; a 63-byte label is one,
	 * 64 is not */
	memset(label, 'a', 63);
	label[63] = '\0';
	snprintf(long_name, sizeof(long_name), "%s.%s.%s.%.49s.example.com",
	    label, label, label, label);
	ok(strlen(long_name) == 253 && org_domain(long_name, out,
	    sizeof(out)) == 0 && strcmp(out, "example.com") == 0,
	    "a name of 253 bytes (%zu)", strlen(long_name));
	snprintf(long_name, sizeof(long_name), "%s.%s.%s.%.50s.example.com",
	    label, label, label, label);
	ok(strlen(long_name) == 254 && org_domain(long_name, out,
	    sizeof(out)) == -1, "a name of 254 bytes: none");
	snprintf(long_name, sizeof(long_name), "%sa.example.com", label);
	expect(long_name, NULL);
	/* too small an output is refused, not cut */
	ok(org_domain("mail.example.com", out, 5) == -1 && *out == '\0',
	    "an output too small: none");
	/* threads share the list loaded once */
	for (i = 0; i < 4; i++)
		pthread_create(&t[i], NULL, worker, &bad);
	for (i = 0; i < 4; i++)
		pthread_join(t[i], NULL);
	ok(bad == 0, "4 threads, 8000 look-ups: all right (%d wrong)", bad);
	ok(strcmp(org_domain_source(), "none") != 0, "the list: %s",
	    org_domain_source());
	return done_testing();
}
