/*
 * fuzz_forensic.c - libFuzzer target: the input parsed as an email by GMime,
 * then read by arf_parse_message (small caps, redaction and body on so every
 * path runs) and written out as JSON.
 */
#include "config.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <gmime/gmime.h>

#include "lib.h"
#include "forensic.h"

int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int		 inited;
	struct arf_limits	 lim;
	struct arf_report	 r;
	struct buf		 out;
	GMimeStream		*st;
	GMimeParser		*parser;
	GMimeMessage		*msg;
	char			 err[256];

	if (!inited) {
		g_mime_init();
		inited = 1;
	}
	arf_limits_default(&lim);
	lim.max_part = 4096;
	lim.max_field = 256;
	lim.max_rcpt = 4;
	lim.max_multi = 4;
	lim.max_headers = 1024;
	lim.max_body = 512;
	lim.keep_body = size > 0 && (data[0] & 1);
	lim.redact = size > 0 && (data[0] & 2);
	st = g_mime_stream_mem_new_with_buffer((const char *)data, size);
	parser = g_mime_parser_new_with_stream(st);
	msg = g_mime_parser_construct_message(parser, NULL);
	g_object_unref(parser);
	g_object_unref(st);
	if (msg == NULL)
		return 0;
	if (arf_parse_message(msg, &lim, &r, err, sizeof(err)) == 0) {
		buf_init(&out, 1 << 20);
		if (arf_json(&out, "fuzz", &r) == 0 &&
		    (out.len == 0 || out.data[out.len - 1] != '\n'))
			abort();
		buf_free(&out);
	} else if (err[0] == '\0')
		abort();	/* every error has a reason */
	(void)arf_text_is_report(data, size);
	arf_report_free(&r);
	g_object_unref(msg);
	return 0;
}
