/*
 * orgdomain.c - organisational domains through libpsl.  A name from a
 * report or a PTR answer is checked and lower-cased here, so libpsl only
 * ever sees a well-formed ASCII name.
 */
#include "config.h"

#include <pthread.h>
#include <string.h>

#include <libpsl.h>

#include "orgdomain.h"

#define ORG_LABEL_MAX	63

static pthread_once_t	 psl_once = PTHREAD_ONCE_INIT;
static const psl_ctx_t	*psl;
static const char	*psl_source = "none";

static void
psl_load(void)
{
	/* the newer of the system's list (Debian's publicsuffix) and the
	 * one built into libpsl */
	if ((psl = psl_latest(NULL)) != NULL)
		psl_source = psl_dist_filename()[0] != '\0' ?
		    psl_dist_filename() : "libpsl built-in";
	else if ((psl = psl_builtin()) != NULL)
		psl_source = "libpsl built-in";
}

/* Lower-cases a well-formed name into buf; -1 when it is not one. */
static int
name_clean(const char *name, char *buf, size_t buflen)
{
	size_t	len = strlen(name), i, label = 0;
	char	c;

	if (len > 0 && name[len - 1] == '.')
		len--;
	if (len == 0 || len > ORG_NAME_MAX || len >= buflen)
		return -1;
	for (i = 0; i < len; i++) {
		c = name[i];
		if (c >= 'A' && c <= 'Z')
			c += 'a' - 'A';
		if (c == '.') {
			if (label == 0)
				return -1;
			label = 0;
		} else if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		    c == '-' || c == '_') {
			if (++label > ORG_LABEL_MAX)
				return -1;
		} else
			return -1;
		buf[i] = c;
	}
	buf[len] = '\0';
	return 0;
}

int
org_domain(const char *name, char *out, size_t outlen)
{
	char		 clean[ORG_NAME_MAX + 1];
	const char	*reg;

	if (outlen > 0)
		*out = '\0';
	pthread_once(&psl_once, psl_load);
	if (psl == NULL || name_clean(name, clean, sizeof(clean)) == -1)
		return -1;
	/* NULL: clean is a public suffix, or no registrable part */
	if ((reg = psl_registrable_domain(psl, clean)) == NULL ||
	    strlen(reg) >= outlen)
		return -1;
	memcpy(out, reg, strlen(reg) + 1);
	return 0;
}

const char *
org_domain_source(void)
{
	pthread_once(&psl_once, psl_load);
	return psl_source;
}
