/*
 * cmd_parse.c - `dmarcd parse`: unpack and parse inputs, print one JSON line
 * per report (or per input that gave none), touch no database.  The JSON
 * sink of ingest/message.c: the same pipeline and the same limits
 * (dmarcd.conf's) as ingest and lmtp, so parse shows what they would store.
 *
 * A report's JSON is spooled until the report has parsed to the end, so a
 * report that turns out broken half-way prints one error line, never half a
 * report; the spool spills to a temporary file, so memory stays flat.
 *
 * May touch: ingest/message.h (the pipeline), parser/report.h (the reports'
 * JSON forms), conf.h (the limits), stdout.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib.h"
#include "report.h"
#include "message.h"
#include "conf.h"
#include "dmarcd.h"

#define PARSE_FLUSH_AT	(64 * 1024)	/* move JSON to the spool past this */

struct parse_ctx {
	const char		*source;
	struct buf		 out;	/* JSON being built */
	struct spool		 spool;	/* JSON of the current report */
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

/* A whole line in pc->out: to stdout. */
static int
print_out(struct parse_ctx *pc, char *err, size_t errlen)
{
	if (fwrite(pc->out.data, 1, pc->out.len, stdout) != pc->out.len) {
		snprintf(err, errlen, "cannot write output");
		return MESSAGE_STOP;
	}
	pc->reports++;
	return 0;
}

static int
sink_begin(void *ctx, const char *item, enum message_kind kind, char *err,
    size_t errlen)
{
	struct parse_ctx	*pc = ctx;

	(void)item;
	(void)kind;
	(void)err;
	(void)errlen;
	buf_reset(&pc->out);
	spool_reset(&pc->spool);
	return 0;
}

/* An aggregate report: its spooled line, or (perr) nothing of it. */
static int
sink_aggregate(void *ctx, const char *perr, char *err, size_t errlen)
{
	struct parse_ctx	*pc = ctx;

	if (perr != NULL) {
		spool_reset(&pc->spool);
		snprintf(err, errlen, "%s", perr);
		return MESSAGE_REFUSED;
	}
	if (spool_flush_to(&pc->spool, stdout) == -1) {
		snprintf(err, errlen, "cannot write output");
		return MESSAGE_STOP;
	}
	pc->reports++;
	return 0;
}

static int
sink_failure(void *ctx, const struct arf_report *r,
    const struct buf *identity, char *err, size_t errlen)
{
	struct parse_ctx	*pc = ctx;

	(void)identity;
	if (arf_json(&pc->out, pc->source, r) == -1) {
		snprintf(err, errlen, "output too large");
		return MESSAGE_REFUSED;
	}
	return print_out(pc, err, errlen);
}

static int
sink_tlsrpt(void *ctx, const struct tlsrpt_report *r, char *err,
    size_t errlen)
{
	struct parse_ctx	*pc = ctx;

	if (tlsrpt_json(&pc->out, pc->source, r) == -1) {
		snprintf(err, errlen, "output too large");
		return MESSAGE_REFUSED;
	}
	return print_out(pc, err, errlen);
}

/* An item (or, item NULL, the input) that gave no report: its line. */
static void
sink_not_report(void *ctx, const char *item, const char *reason)
{
	struct parse_ctx	*pc = ctx;
	char			 line[600];

	if (item == NULL) {
		print_error(pc, reason);
		return;
	}
	snprintf(line, sizeof(line), "%s: %s", item, reason);
	print_error(pc, line);
}

static const struct message_sink parse_sink = {
	.begin = sink_begin,
	.agg = &parse_handler,
	.aggregate = sink_aggregate,
	.tlsrpt = sink_tlsrpt,
	.failure = sink_failure,
	.not_report = sink_not_report,
};

int
cmd_parse(int argc, char **argv)
{
	struct message_limits	 lim;
	struct cmd_env		 env;
	struct parse_ctx	 pc;
	char			 err[512];
	char			 dash[] = "-", *stdin_only[] = { dash };
	char			**paths;
	int			 i, npaths, status = EXIT_OK, ch, fd, rc;

	memset(&env, 0, sizeof(env));
	while ((ch = getopt(argc, argv, "f:h")) != -1) {
		if (ch == 'f')
			env.conf_file = optarg;
		else {
			fprintf(stderr, "usage: dmarcd parse [-f FILE] "
			    "[FILE|-]...\n");
			return ch == 'h' ? 0 : EXIT_USAGE;
		}
	}
	argc -= optind;
	argv += optind;
	paths = argc ? argv : stdin_only;
	npaths = argc ? argc : 1;

	/* the limits ingest and lmtp use, so parse shows what they keep */
	if ((rc = cmd_env_load(&env)) != 0)
		return rc;
	conf_ingest_limits(&env.conf, &lim);
	cmd_env_free(&env);
	agg_global_init();
	unpack_global_init();
	memset(&pc, 0, sizeof(pc));
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
		if (message_run_fd(fd, pc.source, &lim, &parse_sink, &pc, err,
		    sizeof(err)) != 0)
			print_error(&pc, err);
		if (fd != STDIN_FILENO)
			close(fd);
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
