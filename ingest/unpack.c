/* unpack.c - STUB, replaced by the real unpacker. */
#include "config.h"

#include <stdio.h>

#include "unpack.h"

void
unpack_limits_default(struct unpack_limits *l)
{
	l->max_message_size = 50 << 20;
	l->max_attachments = 32;
	l->max_archive_entries = 64;
	l->max_report_size = 512 << 20;
	l->max_ratio = 200;
	l->max_depth = 4;
}

const char *
unpack_kind_name(enum unpack_kind k)
{
	return "unknown";
}

ssize_t unpack_item_read(void *item, void *buf, size_t len) { return -1; }
const char *unpack_item_error(void *item) { return "stub"; }
const char *unpack_item_name(const struct unpack_item *item) { return "?"; }
enum unpack_kind unpack_item_kind(const struct unpack_item *item) { return UNPACK_UNKNOWN; }
void *unpack_item_message(const struct unpack_item *item) { return NULL; }

int
unpack_bytes(const void *data, size_t len, const char *name,
    const struct unpack_limits *lim, unpack_cb cb, void *ctx,
    char *err, size_t errlen)
{
	snprintf(err, errlen, "not implemented");
	return -1;
}

void unpack_global_init(void) {}
void unpack_global_deinit(void) {}
