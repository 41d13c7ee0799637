/*
 * geoip.h - an address's network (AS number and organisation) and
 * country from MMDB files through libmaxminddb: GeoLite2 and DB-IP lite
 * ASN (autonomous_system_number, autonomous_system_organization),
 * GeoLite2 / DB-IP country (country.iso_code), ipinfo lite (asn "AS123",
 * as_name, country_code).  No database, no network.
 */
#ifndef DMARCD_GEOIP_H
#define DMARCD_GEOIP_H

#include <stdint.h>
#include <stdio.h>

#define GEOIP_FILES_MAX	16
#define GEOIP_ORG_MAX	255	/* bytes of an AS organisation kept */

struct geoip;

struct geoip_info {
	int64_t	asn;		/* 0: not known */
	char	as_org[GEOIP_ORG_MAX + 1];	/* "": not known */
	char	country[3];	/* ISO 3166 alpha-2, upper case; "": not known */
};

/*
 * Opens the n MMDB files of paths.  Returns 0, or -1 having written a
 * "path: reason" line per file that cannot be opened to errs.
 */
int	geoip_open(const char *const *paths, int n, struct geoip **g_r,
	    FILE *errs);
void	geoip_free(struct geoip *g);

/* Fills *info for ip (text form); each field from the first file that
 * has it.  A field no file has stays empty. */
void	geoip_lookup(struct geoip *g, const char *ip, struct geoip_info *info);

/* Appends to f what identifies the files' contents (type and build time
 * of each), so a changed file is noticed. */
void	geoip_describe(const struct geoip *g, FILE *f);

#endif
