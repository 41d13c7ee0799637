/*
 * geoip.c - MMDB lookups.  The files are the operator's but their
 * contents are a third party's: strings are capped, control bytes
 * dropped, a country is two letters or nothing.
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <maxminddb.h>

#include "geoip.h"
#include "lib.h"

struct geoip {
	MMDB_s	dbs[GEOIP_FILES_MAX];
	char	*paths[GEOIP_FILES_MAX];
	int	 n;
};

int
geoip_open(const char *const *paths, int n, struct geoip **g_r, FILE *errs)
{
	struct geoip	*g;
	int		 i, rc, bad = 0;

	*g_r = NULL;
	if ((g = calloc(1, sizeof(*g))) == NULL)
		abort();
	if (n > GEOIP_FILES_MAX) {
		fprintf(errs, "geoip_db: more than %d files\n",
		    GEOIP_FILES_MAX);
		free(g);
		return -1;
	}
	for (i = 0; i < n; i++) {
		if ((rc = MMDB_open(paths[i], MMDB_MODE_MMAP,
		    &g->dbs[g->n])) != MMDB_SUCCESS) {
			int	e = errno;

			/* MMDB_IO_ERROR hides errno's reason: "No such
			 * file", "Permission denied" */
			if (rc == MMDB_IO_ERROR || rc == MMDB_FILE_OPEN_ERROR)
				fprintf(errs, "%s: %s: %s\n", paths[i],
				    MMDB_strerror(rc), strerror(e));
			else
				fprintf(errs, "%s: %s\n", paths[i],
				    MMDB_strerror(rc));
			bad++;
			continue;
		}
		if ((g->paths[g->n] = strdup(paths[i])) == NULL)
			abort();
		g->n++;
	}
	if (bad) {
		geoip_free(g);
		return -1;
	}
	*g_r = g;
	return 0;
}

void
geoip_free(struct geoip *g)
{
	int	i;

	if (g == NULL)
		return;
	for (i = 0; i < g->n; i++) {
		MMDB_close(&g->dbs[i]);
		free(g->paths[i]);
	}
	free(g);
}

/* A string of the entry at path (NULL-terminated names) into out, capped,
 * control bytes left out.  Returns true when there was one. */
static bool
get_string(MMDB_entry_s *e, char *out, size_t outlen, ...)
{
	MMDB_entry_data_s	 d;
	va_list			 ap;
	const unsigned char	*p;
	size_t			 i, n = 0, o = 0;
	int			 rc;

	va_start(ap, outlen);
	rc = MMDB_vget_value(e, &d, ap);
	va_end(ap);
	if (rc != MMDB_SUCCESS || !d.has_data ||
	    d.type != MMDB_DATA_TYPE_UTF8_STRING)
		return false;
	/* whole valid UTF-8 sequences that fit; an invalid byte is left
	 * out (the database's text must be UTF-8) */
	for (i = 0; i < d.data_size; i += n ? n : 1) {
		p = (const unsigned char *)d.utf8_string + i;
		if ((n = utf8_len(p, d.data_size - i)) == 0 ||
		    (n == 1 && (*p < 0x20 || *p == 0x7f)))
			continue;
		if (o + n >= outlen)
			break;
		memcpy(out + o, p, n);
		o += n;
	}
	out[o] = '\0';
	return o > 0;
}

static int64_t
get_asn(MMDB_entry_s *e)
{
	MMDB_entry_data_s	 d;
	char			 s[24], *end;
	long long		 v;

	if (MMDB_get_value(e, &d, "autonomous_system_number", NULL) ==
	    MMDB_SUCCESS && d.has_data) {
		if (d.type == MMDB_DATA_TYPE_UINT32)
			return d.uint32;
		if (d.type == MMDB_DATA_TYPE_UINT64)
			return d.uint64 <= UINT32_MAX ? (int64_t)d.uint64 : 0;
		if (d.type == MMDB_DATA_TYPE_UINT16)
			return d.uint16;
	}
	/* ipinfo lite: "AS123" */
	if (get_string(e, s, sizeof(s), "asn", NULL) &&
	    strncasecmp(s, "AS", 2) == 0 && isdigit((unsigned char)s[2])) {
		v = strtoll(s + 2, &end, 10);
		if (*end == '\0' && v > 0 && v <= UINT32_MAX)
			return v;
	}
	return 0;
}

static bool
get_country(MMDB_entry_s *e, char out[3])
{
	char	s[8];

	if (!get_string(e, s, sizeof(s), "country", "iso_code", NULL) &&
	    !get_string(e, s, sizeof(s), "country_code", NULL))
		return false;
	if (strlen(s) != 2 || !isalpha((unsigned char)s[0]) ||
	    !isalpha((unsigned char)s[1]))
		return false;
	out[0] = toupper((unsigned char)s[0]);
	out[1] = toupper((unsigned char)s[1]);
	out[2] = '\0';
	return true;
}

void
geoip_lookup(struct geoip *g, const char *ip, struct geoip_info *info)
{
	MMDB_lookup_result_s	 res;
	int			 i, gai, err;

	memset(info, 0, sizeof(*info));
	if (g == NULL)
		return;
	for (i = 0; i < g->n; i++) {
		res = MMDB_lookup_string(&g->dbs[i], ip, &gai, &err);
		if (gai != 0 || err != MMDB_SUCCESS || !res.found_entry)
			continue;
		if (info->asn == 0)
			info->asn = get_asn(&res.entry);
		if (info->as_org[0] == '\0' &&
		    !get_string(&res.entry, info->as_org,
		    sizeof(info->as_org), "autonomous_system_organization",
		    NULL))
			(void)get_string(&res.entry, info->as_org,
			    sizeof(info->as_org), "as_name", NULL);
		if (info->country[0] == '\0')
			(void)get_country(&res.entry, info->country);
	}
}

void
geoip_describe(const struct geoip *g, FILE *f)
{
	int	i;

	if (g == NULL)
		return;
	for (i = 0; i < g->n; i++)
		fprintf(f, "mmdb %s %s %llu %u\n", g->paths[i],
		    g->dbs[i].metadata.database_type,
		    (unsigned long long)g->dbs[i].metadata.build_epoch,
		    g->dbs[i].metadata.node_count);
}
