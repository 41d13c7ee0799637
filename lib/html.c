/*
 * html.c - the one HTML escaper.  Text from reports (org names, header_from,
 * reasons) reaches HTML only through html_escape(), in element content or in
 * a double- or single-quoted attribute value; never in a tag, attribute
 * name, URL, style or script.
 */
#include "config.h"

#include <string.h>

#include "lib.h"

static const char html_replacement[] = "\xef\xbf\xbd";	/* U+FFFD */


/*
 * Appends s (NULL: nothing) escaped for HTML text and quoted attribute
 * values: & < > " ' become entities; control characters other than tab and
 * newline, DEL and invalid UTF-8 become U+FFFD, so the part stays valid
 * UTF-8 and a stray CR cannot reach the MIME layer.  Returns 0, or -1 when
 * b's cap is reached.
 */
int
html_escape(struct buf *b, const char *s)
{
	const unsigned char	*p = (const unsigned char *)s, *end;
	size_t			 n, run;
	int			 rc;

	if (s == NULL)
		return 0;
	end = p + strlen(s);
	while (*p != '\0') {
		/* copy the longest run that needs nothing */
		for (run = 0; p[run] != '\0'; run += n) {
			if (p[run] == '&' || p[run] == '<' || p[run] == '>' ||
			    p[run] == '"' || p[run] == '\'' || p[run] == 0x7f ||
			    (p[run] < 0x20 && p[run] != '\t' && p[run] != '\n'))
				break;
			if ((n = utf8_len(p + run, end - (p + run))) == 0)
				break;
		}
		if (run > 0 && buf_add(b, p, run) == -1)
			return -1;
		p += run;
		if (*p == '\0')
			break;
		switch (*p) {
		case '&':
			rc = buf_adds(b, "&amp;");
			break;
		case '<':
			rc = buf_adds(b, "&lt;");
			break;
		case '>':
			rc = buf_adds(b, "&gt;");
			break;
		case '"':
			rc = buf_adds(b, "&quot;");
			break;
		case '\'':
			rc = buf_adds(b, "&#39;");
			break;
		default:
			rc = buf_adds(b, html_replacement);
			break;
		}
		if (rc != 0)
			return -1;
		p++;
	}
	return 0;
}
