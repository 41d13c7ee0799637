/*
 * cmd_parse.c - `dmarcd parse`: unpack and parse inputs, print one JSON line
 * per report (or per input that gave none), touch no database.
 *
 * A report's JSON is spooled until the report has parsed to the end, so a
 * report that turns out broken half-way prints one error line, never half a
 * report; the spool spills to a temporary file, so memory stays flat.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib.h"
#include "aggregate.h"
#include "agg_json.h"
#include "forensic.h"
#include "tlsrpt.h"
#include "unpack.h"
#include "dmarcd.h"

#define PARSE_FLUSH_AT	(64 * 1024)	/* move JSON to the spool past this */

struct parse_ctx {
	const char		*source;
	struct buf		 out;	/* JSON being built */
	struct spool		 spool;	/* JSON of the current report */
	struct agg_limits	 agg_lim;
	bool			 first_record;
	unsigned		 reports;	/* good reports from this input */
	unsigned		 errors;	/* error lines from this input */
};

static int
flush_out(struct parse_ctx *pc, const char **error_r)
{
	if (spool_write(&pc->spool, pc->out.data, pc->out.len) == -1) {
		*error_r = "cannot spool output (temporary file)";
		return -1;
	}
	buf_reset(&pc->out);
	return 0;
}

static int
on_begin(void *ctx, const struct agg_report *r, const char **error_r)
{
	struct parse_ctx	*pc = ctx;

	pc->first_record = true;
	if (agg_json_begin(&pc->out, pc->source, r) == -1) {
		*error_r = "output too large";
		return -1;
	}
	return 0;
}

static int
on_record(void *ctx, const struct agg_report *r, const struct agg_record *rec,
    const char **error_r)
{
	struct parse_ctx	*pc = ctx;

	if (agg_json_record(&pc->out, rec, pc->first_record) == -1) {
		*error_r = "output too large";
		return -1;
	}
	pc->first_record = false;
	if (pc->out.len >= PARSE_FLUSH_AT)
		return flush_out(pc, error_r);
	return 0;
}

static int
on_end(void *ctx, const struct agg_report *r, const char **error_r)
{
	struct parse_ctx	*pc = ctx;

	if (agg_json_end(&pc->out) == -1) {
		*error_r = "output too large";
		return -1;
	}
	return flush_out(pc, error_r);
}

static const struct agg_handler parse_handler = {
	on_begin, on_record, on_end,
};

static void
print_error(struct parse_ctx *pc, const char *reason)
{
	struct buf	line;

	buf_init(&line, 1 << 20);
	if (json_error_line(&line, pc->source, reason) == 0)
		fwrite(line.data, 1, line.len, stdout);
	buf_free(&line);
	pc->errors++;
}

/* Prints a report's line from pc->out, or its error line when rc is -1. */
static int
print_line(struct parse_ctx *pc, struct unpack_item *item, int rc,
    const char *err, const char **error_r)
{
	char	reason[600];

	if (rc == -1) {
		snprintf(reason, sizeof(reason), "%s: %s",
		    unpack_item_name(item), err);
		print_error(pc, reason);
		return 0;
	}
	if (fwrite(pc->out.data, 1, pc->out.len, stdout) != pc->out.len) {
		*error_r = "cannot write output";
		return -1;
	}
	pc->reports++;
	return 0;
}

/* A failure report: one line, or one error line (also for a feedback
 * report that is not about DMARC). */
static int
parse_forensic(struct parse_ctx *pc, struct unpack_item *item,
    const char **error_r)
{
	struct arf_limits	 lim;
	struct arf_report	 r;
	char			 err[512];
	int			 rc;

	arf_limits_default(&lim);
	buf_reset(&pc->out);
	if (arf_parse_message(unpack_item_message(item), &lim, &r, err,
	    sizeof(err)) == -1)
		rc = -1;
	else if ((rc = arf_json(&pc->out, pc->source, &r)) == -1)
		snprintf(err, sizeof(err), "output too large");
	arf_report_free(&r);
	return print_line(pc, item, rc, err, error_r);
}

/* An SMTP TLS report: one line, or one error line. */
static int
parse_tlsrpt(struct parse_ctx *pc, struct unpack_item *item,
    const char **error_r)
{
	struct tlsrpt_limits	 lim;
	struct tlsrpt_report	 r;
	char			 err[512];
	int			 rc;

	tlsrpt_limits_default(&lim);
	buf_reset(&pc->out);
	if (tlsrpt_parse(unpack_item_read, unpack_item_error, item, &lim, &r,
	    err, sizeof(err)) == -1)
		rc = -1;
	else if ((rc = tlsrpt_json(&pc->out, pc->source, &r)) == -1)
		snprintf(err, sizeof(err), "output too large");
	tlsrpt_report_free(&r);
	return print_line(pc, item, rc, err, error_r);
}

/* One candidate report out of the unpacker. */
static int
on_item(void *ctx, struct unpack_item *item, const char **error_r)
{
	struct parse_ctx	*pc = ctx;
	char			 err[512], reason[600];

	switch (unpack_item_kind(item)) {
	case UNPACK_AGGREGATE:
		break;
	case UNPACK_FORENSIC:
		return parse_forensic(pc, item, error_r);
	case UNPACK_TLSRPT:
		return parse_tlsrpt(pc, item, error_r);
	default:
		break;
	}
	buf_reset(&pc->out);
	spool_reset(&pc->spool);
	if (agg_parse(unpack_item_read, unpack_item_error, item, &pc->agg_lim,
	    &parse_handler, pc, err, sizeof(err)) == -1) {
		spool_reset(&pc->spool);
		snprintf(reason, sizeof(reason), "%s: %s",
		    unpack_item_name(item), err);
		print_error(pc, reason);
		return 0;
	}
	if (spool_flush_to(&pc->spool, stdout) == -1) {
		*error_r = "cannot write output";
		return -1;
	}
	pc->reports++;
	return 0;
}

int
cmd_parse(int argc, char **argv)
{
	struct unpack_limits	 lim;
	struct parse_ctx	 pc;
	char			 err[512];
	char			 dash[] = "-", *stdin_only[] = { dash };
	char			**paths;
	int			 i, n, npaths, status = EXIT_OK, ch, fd;

	while ((ch = getopt(argc, argv, "h")) != -1) {
		switch (ch) {
		default:
			fprintf(stderr, "usage: dmarcd parse [FILE|-]...\n");
			return ch == 'h' ? 0 : EXIT_USAGE;
		}
	}
	argc -= optind;
	argv += optind;
	paths = argc ? argv : stdin_only;
	npaths = argc ? argc : 1;

	agg_global_init();
	unpack_global_init();
	unpack_limits_default(&lim);
	memset(&pc, 0, sizeof(pc));
	agg_limits_default(&pc.agg_lim);
	buf_init(&pc.out, 64 << 20);
	spool_init(&pc.spool, 4 << 20);

	for (i = 0; i < npaths; i++) {
		pc.source = strcmp(paths[i], "-") == 0 ? "<stdin>" : paths[i];
		pc.reports = pc.errors = 0;
		if (strcmp(paths[i], "-") == 0)
			fd = STDIN_FILENO;
		else if ((fd = open(paths[i], O_RDONLY | O_CLOEXEC)) == -1) {
			snprintf(err, sizeof(err), "cannot open: %s",
			    strerror(errno));
			print_error(&pc, err);
			status = EXIT_INPUT;
			continue;
		}
		n = unpack_fd(fd, pc.source, &lim, on_item, &pc, err,
		    sizeof(err));
		if (fd != STDIN_FILENO)
			close(fd);
		if (n == -1 || (n == 0 && pc.errors == 0))
			print_error(&pc, err);
		else if (pc.reports == 0 && pc.errors == 0)
			print_error(&pc, "no report found");
		if (pc.errors)
			status = EXIT_INPUT;
		fflush(stdout);
	}
	buf_free(&pc.out);
	spool_free(&pc.spool);
	unpack_global_deinit();
	if (fflush(stdout) != 0 || ferror(stdout)) {
		log_warnx("write error on standard output");
		return EXIT_INPUT;
	}
	return status;
}
