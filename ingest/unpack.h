/*
 * unpack.h - find every report in a blob of bytes: an email (GMime: MIME
 * parts, base64/quoted-printable, message/rfc822), an archive (libarchive:
 * zip, gzip, gzip in gzip) or a bare document, recursively and with caps.
 *
 * Reports are handed out one at a time as pull streams, so a decompressed
 * report never has to be held in memory.
 */
#ifndef DMARCD_UNPACK_H
#define DMARCD_UNPACK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* The defaults (dmarcd.conf's max_* settings take them from here). */
#define UNPACK_DEFAULT_MESSAGE_SIZE	((uint64_t)50 << 20)
#define UNPACK_DEFAULT_ATTACHMENTS	32
#define UNPACK_DEFAULT_ARCHIVE_ENTRIES	64
#define UNPACK_DEFAULT_REPORT_SIZE	((uint64_t)512 << 20)
#define UNPACK_DEFAULT_RATIO		100
#define UNPACK_DEFAULT_DEPTH		4

struct unpack_limits {
	size_t		max_message_size;	/* bytes of one input/email */
	unsigned	max_attachments;	/* MIME leaf parts examined */
	unsigned	max_archive_entries;	/* entries per archive */
	uint64_t	max_report_size;	/* decompressed bytes per report */
	unsigned	max_ratio;		/* decompressed/compressed bytes */
	unsigned	max_depth;		/* nesting of messages/archives */
};

void	unpack_limits_default(struct unpack_limits *l);

/* What a stream looks like from its first bytes and its labels. */
enum unpack_kind {
	UNPACK_AGGREGATE,	/* XML: an aggregate report (or so it seems) */
	UNPACK_TLSRPT,		/* JSON: an SMTP TLS report (RFC 8460) */
	UNPACK_FORENSIC,	/* a failure report: ARF (RFC 6591), or
				 * Exim's plain text */
	UNPACK_UNKNOWN,		/* a candidate that is none of the above */
};

const char *unpack_kind_name(enum unpack_kind k);

struct unpack_item;

/* The item's data, decompressed, as a pull stream (same contract as
 * agg_read_fn: bytes, 0 at the end, -1 on error or when a cap is hit). */
ssize_t	unpack_item_read(void *item, void *buf, size_t len);
/* Why the last read failed ("report larger than max_report_size ...",
 * "compression ratio above max_ratio ...", "corrupt zip: ..."). */
const char *unpack_item_error(void *item);
/* Name of the item as the sender gave it (attachment or zip entry name,
 * e.g. "google.com!example.com!1700000000!1700086399.zip/report.xml");
 * never NULL. */
const char *unpack_item_name(const struct unpack_item *item);
enum unpack_kind unpack_item_kind(const struct unpack_item *item);
/* For UNPACK_FORENSIC: the whole message that carries the report (the
 * input, or a message/rfc822 attached to it) as a GMimeMessage *, valid as
 * long as the item, for arf_parse_message(); else NULL. */
void	*unpack_item_message(const struct unpack_item *item);

/*
 * Called once per candidate report found.  Return 0 to go on, -1 to stop
 * unpacking (unpack_bytes then returns -1 with the callback's reason).
 * The item is valid only during the call; whatever was not read is skipped.
 */
typedef int (*unpack_cb)(void *ctx, struct unpack_item *item,
    const char **error_r);

/*
 * Finds every report in data[0..len).  Returns the number of items handed
 * to cb (>= 0), or -1 on a fatal problem with a reason in err.  When it
 * returns 0, err says why nothing was found ("no attachment that looks like
 * a report (parts: text/plain, image/png)", "corrupt gzip stream", "input is
 * empty", "message larger than max_message_size ...").  A part that
 * looks like a report but cannot be opened (a corrupt zip beside a good
 * gzip, too many entries) is still handed to cb, as an item whose first read
 * fails with the reason, so every candidate is accounted for.
 */
int	unpack_bytes(const void *data, size_t len, const char *name,
	    const struct unpack_limits *lim, unpack_cb cb, void *ctx,
	    char *err, size_t errlen);

/*
 * The same for an open file or pipe: a bare document (XML, JSON) is streamed
 * from fd as one item and never held whole in memory (max_report_size caps
 * it); anything else is read whole, up to max_message_size, and handed to
 * unpack_bytes.  Returns as unpack_bytes; -1 also on a read error.
 */
int	unpack_fd(int fd, const char *name, const struct unpack_limits *lim,
	    unpack_cb cb, void *ctx, char *err, size_t errlen);

/* GMime set-up and tear-down, once per process. */
void	unpack_global_init(void);
void	unpack_global_deinit(void);

#endif
