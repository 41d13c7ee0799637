/*
 * resolver.h - reverse DNS of many addresses at once, on c-ares: the PTR
 * name of each address, forward-confirmed (the name's A or AAAA, of the
 * address's family, holds the address).  Bounded: so many lookups in
 * flight, so many queries a second, and a deadline per lookup.  No
 * database, no global state; one resolver is used by one thread.
 */
#ifndef DMARCD_RESOLVER_H
#define DMARCD_RESOLVER_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * A PTR name as text: DNS presentation form without the trailing dot,
 * every byte outside printable ASCII, a backslash and a dot inside a
 * label written \DDD, so it is ASCII (valid UTF-8) whatever the server
 * sent.  A name is at most 255 bytes on the wire, so a 253-byte name is
 * kept whole, and its worst case, every byte escaped, fits.
 */
#define RESOLVER_PTR_MAX	1020

enum resolver_state {
	RESOLVER_OK,		/* a PTR name */
	RESOLVER_NXDOMAIN,	/* no PTR: NXDOMAIN or NODATA */
	RESOLVER_SERVFAIL,
	RESOLVER_REFUSED,
	RESOLVER_TIMEOUT,	/* no answer within the deadline */
	RESOLVER_ERROR,		/* anything else: a malformed answer, ... */
};

struct resolver_result {
	enum resolver_state	 state;
	char			 ptr[RESOLVER_PTR_MAX + 1];	/* "" if none */
	bool			 verified;
	uint32_t		 ttl;	/* of the PTR answer (ok only) */
};

struct resolver_config {
	const char	*servers;	/* "ADDR[:PORT],..." or NULL:
					 * /etc/resolv.conf */
	unsigned	 max_inflight;	/* lookups at once */
	unsigned	 timeout;	/* seconds, a whole lookup */
	unsigned	 max_rate;	/* queries a second */
	/* if not NULL: when it turns true, a run ends at once, its
	 * unfinished lookups as RESOLVER_TIMEOUT (see resolver_run) */
	const atomic_bool *stop;
};

struct resolver;

/* Returns 0, or -1 with err (bad servers, no resolv.conf). */
int	resolver_new(const struct resolver_config *cfg, struct resolver **r_r,
	    char *err, size_t errlen);
void	resolver_free(struct resolver **r);

/*
 * Looks up ips[0..n) (addresses as text, IPv4 or IPv6) into res[0..n).
 * Every lookup ends with a state: an address that is not one is ERROR.
 * progress, if not NULL, is called now and then with the number done.
 * Returns the number of DNS queries sent; *stopped_r (may be NULL) says
 * whether the config's stop ended the run (its results are then not
 * answers: the caller drops them).
 */
uint64_t resolver_run(struct resolver *r, const char *const *ips, size_t n,
	    struct resolver_result *res,
	    void (*progress)(void *, size_t), void *arg, bool *stopped_r);

const char *resolver_state_name(enum resolver_state s);

#endif
