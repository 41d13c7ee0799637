/* spool.c - output held until a unit of work succeeds, memory then file. */
#include "config.h"

#include <stdlib.h>

#include "lib.h"

void
spool_init(struct spool *s, size_t mem_cap)
{
	buf_init(&s->mem, mem_cap);
	s->file = NULL;
	s->mem_cap = mem_cap;
}

int
spool_write(struct spool *s, const void *p, size_t n)
{
	if (s->file == NULL && buf_add(&s->mem, p, n) == 0)
		return 0;
	if (s->file == NULL) {
		if ((s->file = tmpfile()) == NULL)
			return -1;
		if (s->mem.len &&
		    fwrite(s->mem.data, 1, s->mem.len, s->file) != s->mem.len)
			return -1;
		buf_reset(&s->mem);
	}
	return fwrite(p, 1, n, s->file) == n ? 0 : -1;
}

int
spool_flush_to(struct spool *s, FILE *out)
{
	char	chunk[65536];
	size_t	n;
	int	rc = 0;

	if (s->file != NULL) {
		if (fflush(s->file) != 0 || fseek(s->file, 0, SEEK_SET) != 0)
			rc = -1;
		while (rc == 0 && (n = fread(chunk, 1, sizeof(chunk), s->file)) > 0)
			if (fwrite(chunk, 1, n, out) != n)
				rc = -1;
	} else if (s->mem.len && fwrite(s->mem.data, 1, s->mem.len, out) != s->mem.len)
		rc = -1;
	spool_reset(s);
	return rc;
}

void
spool_reset(struct spool *s)
{
	if (s->file != NULL) {
		fclose(s->file);
		s->file = NULL;
	}
	buf_reset(&s->mem);
}

void
spool_free(struct spool *s)
{
	spool_reset(s);
	buf_free(&s->mem);
}
