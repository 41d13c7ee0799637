/* buf.c - the capped growable buffer. */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "lib.h"

void
buf_init(struct buf *b, size_t cap)
{
	b->data = NULL;
	b->len = b->size = 0;
	b->cap = cap;
}

static int
buf_grow(struct buf *b, size_t need)
{
	size_t	 nsize;
	char	*p;

	if (need > b->cap || need + 1 < need) {
		errno = EFBIG;
		return -1;
	}
	if (need + 1 <= b->size)
		return 0;
	nsize = b->size ? b->size : 256;
	while (nsize < need + 1)
		nsize = nsize > SIZE_MAX / 2 ? need + 1 : nsize * 2;
	if (b->cap < SIZE_MAX && nsize > b->cap + 1)
		nsize = b->cap + 1;	/* SIZE_MAX: cap + 1 would wrap */
	if ((p = realloc(b->data, nsize)) == NULL)
		return -1;
	b->data = p;
	b->size = nsize;
	return 0;
}

int
buf_add(struct buf *b, const void *p, size_t n)
{
	if (b->len + n + 1 > b->size && buf_grow(b, b->len + n) == -1)
		return -1;
	if (n)
		memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = '\0';
	return 0;
}

int
buf_addc(struct buf *b, char c)
{
	if (b->len + 2 > b->size && buf_grow(b, b->len + 1) == -1)
		return -1;
	b->data[b->len++] = c;
	b->data[b->len] = '\0';
	return 0;
}

int
buf_adds(struct buf *b, const char *s)
{
	return buf_add(b, s, strlen(s));
}

int
buf_printf(struct buf *b, const char *fmt, ...)
{
	va_list	 ap;
	char	 small[256];
	int	 n;

	va_start(ap, fmt);
	n = vsnprintf(small, sizeof(small), fmt, ap);
	va_end(ap);
	if (n < 0)
		return -1;
	if ((size_t)n < sizeof(small))
		return buf_add(b, small, n);
	if (buf_grow(b, b->len + n) == -1)
		return -1;
	va_start(ap, fmt);
	vsnprintf(b->data + b->len, n + 1, fmt, ap);
	va_end(ap);
	b->len += n;
	return 0;
}

void
buf_reset(struct buf *b)
{
	b->len = 0;
	if (b->data)
		b->data[0] = '\0';
}

void
buf_free(struct buf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = b->size = 0;
}

char *
buf_take(struct buf *b)
{
	char	*p = b->data;

	if (p == NULL)
		p = strdup("");
	b->data = NULL;
	b->len = b->size = 0;
	return p;
}

int
buf_wrap(struct buf *b, const char *text, int col, int indent, int width)
{
	const char	*p = text;
	int		 w;

	while (*p != '\0') {
		while (*p == ' ')
			p++;
		if (*p == '\0')
			break;
		w = (int)strcspn(p, " ");
		if (col > indent && col + 1 + w > width) {
			if (buf_addc(b, '\n') == -1)
				return -1;
			col = 0;
		}
		if (col < indent) {
			if (buf_printf(b, "%*s", indent - col, "") == -1)
				return -1;
			col = indent;
		} else if (col > indent) {
			if (buf_addc(b, ' ') == -1)
				return -1;
			col++;
		}
		if (buf_add(b, p, w) == -1)
			return -1;
		col += w;
		p += w;
	}
	return buf_addc(b, '\n');
}
