/*
 * test_services.c - the service catalogue (enrich/services.c): each type
 * of the built-in catalogue matched, the longest suffix winning, a name
 * that only looks like a domain's not matching, a user file overriding
 * and adding, and every error of a bad file reported with its line.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "services.h"
#include "tap.h"

static void
expect(struct catalogue *cat, enum svc_kind kind, const char *name,
    const char *want, const char *type)
{
	const struct service	*s = catalogue_match(cat, kind, name);

	if (want == NULL)
		ok(s == NULL, "%s: no service (got %s)", name,
		    s ? s->name : "none");
	else
		ok(s != NULL && strcmp(s->name, want) == 0 &&
		    strcmp(s->type, type) == 0, "%s -> %s (%s) (got %s %s)",
		    name, want, type, s ? s->name : "none", s ? s->type : "");
}

/* Parses text; returns what was written to errs (caller frees). */
static char *
parse_errs(struct catalogue *cat, const char *text, int *rc_r)
{
	char	*buf = NULL;
	size_t	 len = 0;
	FILE	*f = open_memstream(&buf, &len);

	*rc_r = catalogue_parse(cat, text, strlen(text), "user.conf", f);
	fclose(f);
	return buf;
}

int
main(void)
{
	struct catalogue	*cat = catalogue_new();
	char			*errs, *big;
	size_t			 i, n;
	int			 rc;

	ok(catalogue_builtin(cat, stderr) == 0, "built-in catalogue parses");
	n = catalogue_count(cat);
	ok(n >= 150, "built-in catalogue has >= 150 services (%zu)", n);

	/* one of each type, through each kind */
	expect(cat, SVC_PTR, "mail-ed1-f54.google.com", "Google", "mailbox");
	expect(cat, SVC_DKIM, "amazonses.com", "Amazon SES", "transactional");
	expect(cat, SVC_SPF, "bounce.mcsv.net", "Mailchimp", "esp");
	expect(cat, SVC_DKIM, "zendesk.com", "Zendesk", "crm");
	expect(cat, SVC_PTR, "mx0a-001.pphosted.com", "Proofpoint", "gateway");
	expect(cat, SVC_DKIM, "googlegroups.com", "Google Groups",
	    "forwarder");
	expect(cat, SVC_PTR, "ec2-203-0-113-7.compute-1.amazonaws.com",
	    "Amazon EC2", "hosting");
	/* the longest suffix wins: M365 under outlook.com */
	expect(cat, SVC_PTR,
	    "mail-db8eur05on2047.outbound.protection.outlook.com",
	    "Microsoft 365", "mailbox");
	expect(cat, SVC_PTR, "mail.hotmail.com", "Outlook.com", "mailbox");
	expect(cat, SVC_PTR, "outbound.outlook.com", "Outlook.com", "mailbox");
	/* case and a trailing dot */
	expect(cat, SVC_PTR, "A8-30.SMTP-OUT.AmazonSES.com.", "Amazon SES",
	    "transactional");
	/* a name that only ends in the same letters */
	expect(cat, SVC_PTR, "notgoogle.com", NULL, NULL);
	expect(cat, SVC_PTR, "google.com.evil.example", NULL, NULL);
	expect(cat, SVC_PTR, "com", NULL, NULL);
	expect(cat, SVC_PTR, "", NULL, NULL);
	/* kinds are apart: a DKIM domain is not a PTR name */
	expect(cat, SVC_PTR, "googlegroups.com", NULL, NULL);
	expect(cat, SVC_SPF, "mail-ed1-f54.google.com", NULL, NULL);

	/* a user file: overrides one service whole, adds another */
	errs = parse_errs(cat,
	    "# mine\n"
	    "service amazon ses\n"
	    "type esp\n"
	    "dkim ses.example.net\n"
	    "\n"
	    "service Our Relay\n"
	    "type hosting\n"
	    "ptr relay.example.org\n"
	    "dkim google.com  # takes a built-in domain over\n", &rc);
	ok(rc == 0 && errs[0] == '\0', "user file parses (%s)", errs);
	free(errs);
	ok(catalogue_count(cat) == n + 1, "one added, one replaced (%zu)",
	    catalogue_count(cat));
	expect(cat, SVC_DKIM, "ses.example.net", "amazon ses", "esp");
	expect(cat, SVC_DKIM, "amazonses.com", NULL, NULL);
	expect(cat, SVC_PTR, "a8-30.smtp-out.amazonses.com", NULL, NULL);
	expect(cat, SVC_PTR, "mx1.relay.example.org", "Our Relay", "hosting");
	expect(cat, SVC_DKIM, "google.com", "Our Relay", "hosting");
	expect(cat, SVC_PTR, "mail-ed1-f54.google.com", "Google", "mailbox");

	/* errors: every one, with its line; nothing of the file kept */
	n = catalogue_count(cat);
	errs = parse_errs(cat,
	    "ptr early.example.com\n"		/* 1 */
	    "service Bad\n"			/* 2 */
	    "type spammer\n"			/* 3 */
	    "ptr not_a..domain\n"		/* 4 */
	    "frobnicate x\n"			/* 5 */
	    "dkim com\n"			/* 6 */
	    "service NoType\n"			/* 7 */
	    "ptr a.example.com\n"		/* 8 */
	    "service Empty\n"			/* 9 */
	    "type esp\n"			/* 10 */
	    "service Dup\n"			/* 11 */
	    "type esp\n"			/* 12 */
	    "ptr a.example.com\n"		/* 13 */
	    "service\n"				/* 14 */
	    "service Bad\n"			/* 15 */
	    "service Good\n"			/* 16 */
	    "type esp\n"			/* 17 */
	    "spf fine.example.com\n", &rc);	/* 18 */
	ok(rc == -1, "bad file refused");
	ok(strstr(errs, "user.conf:1: before any service line: 'ptr'") !=
	    NULL, "line 1: before any service");
	ok(strstr(errs, "user.conf:3: type is not one of") != NULL &&
	    strstr(errs, "'spammer'") != NULL, "line 3: unknown type");
	ok(strstr(errs, "user.conf:4: not a domain name: 'not_a..domain'") !=
	    NULL, "line 4: bad domain");
	ok(strstr(errs, "user.conf:5: unknown keyword 'frobnicate'") != NULL,
	    "line 5: unknown keyword");
	ok(strstr(errs, "user.conf:6: not a domain name: 'com'") != NULL,
	    "line 6: a bare TLD");
	ok(strstr(errs, "user.conf:2: service Bad: no type") != NULL,
	    "line 2: stanza without a type");
	ok(strstr(errs, "user.conf:7: service NoType: no type") != NULL,
	    "line 7: stanza without a type");
	ok(strstr(errs, "user.conf:9: service Empty: no ptr, dkim or spf") !=
	    NULL, "line 9: stanza without domains");
	ok(strstr(errs, "user.conf:13: ptr a.example.com: already listed at"
	    " line 8") != NULL, "line 13: domain listed twice");
	ok(strstr(errs, "user.conf:14: service without a name") != NULL,
	    "line 14: service without a name");
	ok(strstr(errs, "user.conf:15: service Bad: already defined at line"
	    " 2") != NULL, "line 15: service defined twice");
	ok(strstr(errs, "user.conf:16") == NULL &&
	    strstr(errs, "user.conf:18") == NULL, "good lines not blamed");
	diag("%s", errs);
	free(errs);
	ok(catalogue_count(cat) == n &&
	    catalogue_match(cat, SVC_SPF, "fine.example.com") == NULL,
	    "a refused file changes nothing");

	/* the lines of a refused service line are not the stanza before's:
	 * not its second type, not its domain listed twice */
	errs = parse_errs(cat, "service One\n"	/* 1 */
	    "type esp\n"				/* 2 */
	    "ptr one.example.com\n"		/* 3 */
	    "service one\n"			/* 4 */
	    "type crm\n"				/* 5 */
	    "ptr one.example.com\n"		/* 6 */
	    "service Two\n"			/* 7 */
	    "spf two.example.com\n", &rc);	/* 8 */
	ok(rc == -1 && strstr(errs, "user.conf:4: service one: already "
	    "defined at line 1") != NULL, "a service defined twice, in "
	    "another case: refused");
	ok(strstr(errs, "user.conf:5") == NULL &&
	    strstr(errs, "user.conf:6") == NULL &&
	    strstr(errs, "user.conf:1:") == NULL,
	    "its lines are not blamed on the stanza before");
	ok(strstr(errs, "user.conf:7: service Two: no type") != NULL &&
	    strstr(errs, "user.conf:8") == NULL, "the next stanza checked");
	diag("%s", errs);
	free(errs);

	/* caps: a long line, a long name, a NUL, too many errors */
	big = malloc(SVC_LINE_MAX + 64);
	strcpy(big, "service X\ntype esp\nptr ");
	n = strlen(big);
	memset(big + n, 'a', SVC_LINE_MAX);
	strcpy(big + n + SVC_LINE_MAX, ".com\n");
	errs = parse_errs(cat, big, &rc);
	ok(rc == -1 && strstr(errs, "user.conf:3: line longer than") != NULL,
	    "an overlong line refused");
	free(errs);
	free(big);
	errs = parse_errs(cat, "service "
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n"
	    "type esp\nptr a.example.com\n", &rc);
	ok(rc == -1 && strstr(errs, "user.conf:1: service name longer") !=
	    NULL, "a 65-byte name refused");
	free(errs);
	ok(catalogue_parse(cat, "service A\0B\ntype esp\nptr a.example.com\n",
	    38, "nul", NULL) == -1, "a NUL byte refused");
	big = malloc(200 * 8 + 1);
	for (i = 0, big[0] = '\0'; i < 200; i++)
		strcat(big, "bogus\n\n");
	errs = parse_errs(cat, big, &rc);
	for (i = 0, n = 0; errs[i] != '\0'; i++)
		n += errs[i] == '\n';
	ok(rc == -1 && n == SVC_ERRORS_MAX &&
	    strstr(errs, "too many errors") != NULL,
	    "errors capped at %d lines (%zu)", SVC_ERRORS_MAX, n);
	free(errs);
	free(big);

	catalogue_free(cat);
	printf("1..%d\n", tap_n);
	return tap_failed != 0;
}
