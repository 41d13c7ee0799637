/*
 * document.c - the report document itself, kept beside its report (sql/010):
 * gzipped as it streams past the parser, so what is held in memory is the
 * compressed copy, at most max_stored_document bytes of it.  A document
 * whose copy outgrows that is not kept: its row says how large it was.
 * store.c queues the finished copy with its report's totals (one call at
 * the end of the transaction); db_document_store() inserts one at once.
 */
#include "config.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "db.h"

#define DOC_OUT		(64 * 1024)	/* deflate output per call */
#define DOC_LEVEL	1		/* XML still shrinks ~10x; 3x faster
					 * than the default level (measured) */

struct db_document {
	z_stream	 zs;
	struct buf	 gz;
	uint64_t	 size;		/* bytes of the document */
	bool		 open;		/* zs initialised and not ended */
	bool		 dropped;	/* over the cap (or zlib failed) */
};

struct db_document *
db_document_new(uint64_t max)
{
	struct db_document	*d;

	if ((d = calloc(1, sizeof(*d))) == NULL)
		return NULL;
	buf_init(&d->gz, max > SIZE_MAX ? SIZE_MAX : (size_t)max);
	/* 15 + 16: a gzip member, what the dashboard sends as it is */
	if (max == 0 || deflateInit2(&d->zs, DOC_LEVEL, Z_DEFLATED, 15 + 16,
	    8, Z_DEFAULT_STRATEGY) != Z_OK)
		d->dropped = true;
	else
		d->open = true;
	return d;
}

static void
doc_drop(struct db_document *d)
{
	if (d->open)
		deflateEnd(&d->zs);
	d->open = false;
	d->dropped = true;
	buf_free(&d->gz);
}

static void
doc_deflate(struct db_document *d, const void *p, size_t n, int flush)
{
	unsigned char	 out[DOC_OUT];
	int		 zr;

	d->zs.next_in = (unsigned char *)(uintptr_t)p;
	d->zs.avail_in = (uInt)n;
	do {
		d->zs.next_out = out;
		d->zs.avail_out = sizeof(out);
		zr = deflate(&d->zs, flush);
		if (zr == Z_STREAM_ERROR || buf_add(&d->gz, out,
		    sizeof(out) - d->zs.avail_out) == -1) {
			doc_drop(d);
			return;
		}
	} while (d->zs.avail_out == 0 || (flush == Z_FINISH &&
	    zr != Z_STREAM_END));
}

void
db_document_add(struct db_document *d, const void *p, size_t n)
{
	if (d == NULL || n == 0)
		return;
	d->size += n;
	/* deflate takes uInt: feed a huge chunk in parts */
	while (!d->dropped && n > 0) {
		size_t	 part = n > (1u << 30) ? (1u << 30) : n;

		doc_deflate(d, p, part, Z_NO_FLUSH);
		p = (const char *)p + part;
		n -= part;
	}
}

void
db_document_finish(struct db_document *d, const void **gz_r, size_t *len_r,
    uint64_t *size_r)
{
	if (d->open) {
		doc_deflate(d, NULL, 0, Z_FINISH);
		if (d->open)
			deflateEnd(&d->zs);
		d->open = false;
	}
	*gz_r = d->dropped ? NULL : d->gz.data != NULL ? d->gz.data : "";
	*len_r = d->dropped ? 0 : d->gz.len;
	*size_r = d->size;
}

int
db_document_store(struct db *db, struct db_document *d, const char *domain,
    int64_t report, char *err, size_t errlen)
{
	const char	*v[4];
	const void	*gz;
	int		 len[4] = { 0 }, fmt[4] = { 0, 0, 0, 1 };
	char		 id[24], size[24];
	uint64_t	 docsize;
	size_t		 gzlen;
	PGresult	*res;
	int		 rc = 0;

	if (d == NULL)
		return 0;
	db_document_finish(d, &gz, &gzlen, &docsize);
	snprintf(id, sizeof(id), "%" PRId64, report);
	snprintf(size, sizeof(size), "%" PRIu64, docsize);
	v[0] = domain;
	v[1] = id;
	v[2] = size;
	v[3] = gz;
	len[3] = (int)gzlen;
	res = PQexecParams(db->conn, "INSERT INTO report_document (domain,"
	    " report, size, gz) VALUES ($1, $2::bigint, $3::bigint, $4::bytea)",
	    4, NULL, v, len, fmt, 0);
	if (PQresultStatus(res) != PGRES_COMMAND_OK)
		rc = db_result_error(db, res, "storing the report document",
		    err, errlen);
	PQclear(res);
	return rc;
}

void
db_document_free(struct db_document **dp)
{
	struct db_document	*d = *dp;

	if (d == NULL)
		return;
	if (d->open)
		deflateEnd(&d->zs);
	buf_free(&d->gz);
	free(d);
	*dp = NULL;
}
