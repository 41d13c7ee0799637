/*
 * fuzz_unpack.c - libFuzzer target: unpack_bytes on the input with small
 * caps, every item read to its end in odd-sized chunks.
 */
#include "config.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "unpack.h"

int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int
fuzz_item(void *ctx, struct unpack_item *item, const char **error_r)
{
	unsigned char	buf[777];
	ssize_t		n;

	(void)ctx;
	(void)error_r;
	(void)unpack_item_name(item);
	(void)unpack_item_kind(item);
	(void)unpack_item_message(item);
	while ((n = unpack_item_read(item, buf, sizeof(buf))) > 0)
		;
	if (n < 0 && unpack_item_error(item) == NULL)
		abort();
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int		 inited;
	struct unpack_limits	 lim;
	char			 err[256];

	if (!inited) {
		unpack_global_init();
		inited = 1;
	}
	unpack_limits_default(&lim);
	lim.max_message_size = 1 << 20;
	lim.max_attachments = 8;
	lim.max_archive_entries = 8;
	lim.max_report_size = 4 << 20;
	lim.max_ratio = 100;
	lim.max_depth = 3;
	if (unpack_bytes(data, size, "fuzz", &lim, fuzz_item, NULL, err,
	    sizeof(err)) <= 0 && err[0] == '\0')
		abort();
	return 0;
}
