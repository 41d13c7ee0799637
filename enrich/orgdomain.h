/*
 * orgdomain.h - the organisational domain of a name (RFC 7489 3.2): its
 * public suffix plus one label, from the system's Public Suffix List
 * through libpsl.  What relaxed alignment compares, and what groups PTR
 * names, DKIM d= and SPF domains by who owns them.
 */
#ifndef DMARCD_ORGDOMAIN_H
#define DMARCD_ORGDOMAIN_H

#include <stddef.h>

#define ORG_NAME_MAX	253	/* bytes of a name, trailing dot left out */

/*
 * Writes the organisational domain of name into out (at least
 * ORG_NAME_MAX + 1 bytes): lower-cased, without a trailing dot.  Returns
 * 0, or -1 with out empty when name is not a domain name (empty, too long,
 * an empty label, a byte outside letters, digits, '-', '_' and '.', or a
 * label over 63 bytes) or is itself a public suffix ("co.uk").  Names are
 * taken as A-labels (xn--...), as DNS and DMARC reports carry them.
 * Thread-safe; the list is loaded once, on the first call.
 */
int	org_domain(const char *name, char *out, size_t outlen);

/* Where the list came from: the newest of the system's file and libpsl's
 * built-in copy (for `check-config -v` and logs). */
const char *org_domain_source(void);

#endif
