/* sha256.c - SHA-256 through GLib (already linked for GMime). */
#include "config.h"

#include <glib.h>

#include "db.h"

struct db_sha256 {
	GChecksum	*ck;
};

struct db_sha256 *
db_sha256_new(void)
{
	struct db_sha256	*h;

	h = g_new0(struct db_sha256, 1);
	h->ck = g_checksum_new(G_CHECKSUM_SHA256);
	return h;
}

void
db_sha256_update(struct db_sha256 *h, const void *p, size_t n)
{
	const guchar	*s = p;
	size_t		 chunk;

	while (n > 0) {
		chunk = n > G_MAXSSIZE ? G_MAXSSIZE : n;
		g_checksum_update(h->ck, s, (gssize)chunk);
		s += chunk;
		n -= chunk;
	}
}

void
db_sha256_finish(struct db_sha256 **hp, unsigned char out[32])
{
	struct db_sha256	*h = *hp;
	gsize			 len = 32;

	g_checksum_get_digest(h->ck, out, &len);
	g_checksum_free(h->ck);
	g_free(h);
	*hp = NULL;
}
