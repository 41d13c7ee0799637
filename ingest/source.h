/*
 * source.h - input sources for `dmarcd ingest` and lmtp's Maildir watcher:
 * a file, a directory tree, an mbox, a Maildir or stdin, handed out one
 * message at a time.
 *
 * Nothing here knows about the database.  The caller stores a message,
 * commits, and only then calls source_done(); that is when a Maildir
 * message leaves new/, so no mail is marked read before its reports (or
 * its quarantine row) are stored.  A caller that stops
 * before source_done() (crash, SIGKILL, database down) leaves the message
 * where it was, and the next run picks it up again.  A caller that commits
 * several messages at once (group commit) takes a source_pending for each
 * with source_hold() before the next source_next(), and calls
 * source_pending_done() on each after the COMMIT.
 *
 * What each path is taken for (source_open):
 *   "-"              stdin: one message, or an mbox if it starts "From ".
 *                    Not read before the first source_next(), so opening
 *                    it for source_estimate() and freeing it loses nothing.
 *   Maildir          a directory holding cur/, new/ and tmp/: every message
 *                    in new/, then every message in cur/ without the S
 *                    (seen) flag; source_done() renames it to
 *                    cur/NAME:2,<flags>S.  tmp/ (deliveries under way)
 *                    and cur/ messages flagged S are not read: to ingest
 *                    those again, give cur/ itself (a plain directory:
 *                    read, never renamed).  Maildir++ subfolders (.Name/)
 *                    are not read; give them as paths of their own.
 *                    Two ingests on one Maildir may both read a message;
 *                    dedup makes that harmless and the second done finds
 *                    it gone, which is fine.
 *   other directory  recursively, depth first, names sorted bytewise in
 *                    each directory; names starting with '.' skipped,
 *                    symbolic links and special files skipped (never
 *                    followed); a Maildir met on the way is read as one.
 *   file "From ..."  an mbox (mboxrd or mboxo): split on lines starting
 *                    "From ", one '>' taken off lines matching ^>+From ,
 *                    LF or CRLF.  No lock is taken: do not ingest an mbox
 *                    an MTA is appending to.  (mboxcl's Content-Length is
 *                    not used: such files are split like mboxo.)
 *   other file       one message or blob (.eml, .xml, .zip, .gz...); the
 *                    unpacker looks inside, not this.
 * An empty file (or empty stdin) is handed out as a message of 0 bytes,
 * so that it is kept (quarantined) rather than dropped silently; an
 * empty mbox is an empty file.
 *
 * Memory: one message at a time, capped by max_message_size; an mbox is
 * streamed, so a multi-gigabyte one reads with flat memory.
 */
#ifndef DMARCD_SOURCE_H
#define DMARCD_SOURCE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

struct source_limits {
	size_t	max_message_size;	/* bytes of one message or file */
};

/* Fills l with the defaults (max_message_size as unpack's: 50 MiB). */
void	source_limits_default(struct source_limits *l);

/*
 * One message, owned by the source: valid until the next source_next()
 * or source_free() on that source.
 */
struct source_msg {
	const char	*data;	/* the bytes, NUL-terminated past len (the
				 * NUL is not counted); NULL for an error item */
	size_t		 len;	/* bytes (error item: size seen, 0 unknown) */
	/* Where it came from, for logs and quarantine rows: "dir/a.eml",
	 * "box.mbox:#17", "Maildir/new/1700000000.M1P2.host", "<stdin>". */
	const char	*origin;
	const char	*path;	/* the file itself (origin without ":#17") */
	/* An mbox message's stable identity within path: the byte offset of
	 * its "From " line and its 1-based number; both 0 outside an mbox. */
	uint64_t	 mbox_offset;
	uint64_t	 mbox_index;
	/*
	 * Error item: error says why there are no bytes ("message of 73400320
	 * bytes is larger than max_message_size (52428800)", "cannot open:
	 * Permission denied").  Record it (quarantine row, log) rather than
	 * drop it.  temporary: worth retrying as is (I/O error, permissions),
	 * so leave a Maildir message where it is by not calling source_done();
	 * otherwise it is permanent (too large) and done like any other.
	 */
	const char	*error;
	bool		 temporary;
};

/* A cheap look ahead, for a progress line (see progress_init). */
struct source_estimate {
	uint64_t	messages;	/* files, Maildir entries; an mbox counts
					 * as 1 (it is not opened to count) */
	uint64_t	bytes;		/* their sizes (0 when unknown: a pipe) */
	bool		exact;		/* false for an mbox or a pipe: messages
					 * is a lower bound; a tree says true
					 * even if it holds an mbox */
};

struct source;

/*
 * Opens path ("-" for stdin) and picks the backend as above.  Returns 0
 * with *src_r set, or -1 with a reason in err ("x.mbox: No such file or
 * directory").  A Maildir is listed here: messages delivered later are for
 * the next run.
 */
int	source_open(const char *path, const struct source_limits *lim,
	    struct source **src_r, char *err, size_t errlen);
/*
 * The next message.  Returns 1 with *msg_r set (possibly an error item),
 * 0 at the end, or -1 when the source cannot go on (read error in the
 * middle of an mbox given as the path) with a reason in err.  A file that
 * vanished between listing and reading (another `dmarcd ingest` took it)
 * is skipped quietly.
 */
int	source_next(struct source *src, const struct source_msg **msg_r,
	    char *err, size_t errlen);
/*
 * msg (the one source_next() last handed out) is committed, as reports or
 * as a quarantine row alike: a Maildir message moves to cur/ with the S
 * flag; other sources do nothing.  Call it
 * before the next source_next(), or take a source_hold() then.  Returns 0
 * (also when the message is already gone: another process moved it), or -1
 * with a reason in err: the message stays, and is ingested again -
 * harmlessly - by the next run.
 */
int	source_done(struct source *src, const struct source_msg *msg,
	    char *err, size_t errlen);
/*
 * Group commit: what source_done() will do for msg (the message
 * source_next() last handed out), copied out so that the caller may go on
 * to the next message and call source_pending_done() later, after its
 * COMMIT.  Returns 0 with *pending_r set (caller-owned, also for sources
 * whose done does nothing), or -1 with a reason in err.  Independent of
 * src: a pending handle may outlive the source.
 */
struct source_pending;
int	source_hold(struct source *src, const struct source_msg *msg,
	    struct source_pending **pending_r, char *err, size_t errlen);
/*
 * The held message is committed: done as source_done() would, then frees
 * *pending and sets it to NULL (also on error).  Returns 0, or -1 with a
 * reason in err (the message stays and is ingested again, harmlessly).
 */
int	source_pending_done(struct source_pending **pending, char *err,
	    size_t errlen);
/* Drops a held message without done (it stays where it is); NULL is
 * fine, *pending is set to NULL. */
void	source_pending_free(struct source_pending **pending);
/*
 * Counts what src holds without reading it (directory walk and stat for a
 * tree, the listing for a Maildir, the size for a file).  Returns 0, or -1
 * with a reason in err.
 */
int	source_estimate(struct source *src, struct source_estimate *est_r,
	    char *err, size_t errlen);
/* "file", "stdin", "mbox", "maildir" or "directory". */
const char *source_kind(const struct source *src);
/* Frees the source and sets *srcp to NULL; NULL is fine. */
void	source_free(struct source **srcp);

/*
 * A progress line on a terminal: "\r1200/5000 msgs, 1180 reports,
 * 310.2 msg/s, ETA 0:12".  Prints only when fp is a tty, at most every
 * PROGRESS_INTERVAL_MS; counts are totals so far, not increments.
 */
#define PROGRESS_INTERVAL_MS	250

struct progress {
	FILE		*fp;
	bool		 enabled;	/* fp is a terminal */
	bool		 shown;		/* a line is on the screen */
	uint64_t	 total_messages;
	uint64_t	 total_bytes;
	bool		 exact;
	uint64_t	 start_ms;
	uint64_t	 last_ms;	/* when the line was last drawn */
};

/* est may be NULL (no totals: counts and rate only). */
void	progress_init(struct progress *p, FILE *fp,
	    const struct source_estimate *est);
void	progress_update(struct progress *p, uint64_t messages,
	    uint64_t reports, uint64_t bytes);
/* Clears the line, so what the caller prints next starts clean. */
void	progress_end(struct progress *p);

#endif
