/* dmarcd.c - one binary, subcommands (tmux-style table). */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib.h"
#include "dmarcd.h"

static const struct command {
	const char	*name;
	int		(*fn)(int, char **);
	const char	*usage;
} commands[] = {
	{ "parse", cmd_parse, "parse [FILE|-]...   print reports as JSON lines" },
	{ "ingest", cmd_ingest, "ingest [-q] PATH|-...   store reports" },
	{ "export", cmd_export, "export [--format json|csv] [--domain D] "
	    "[--since T] [--until T]" },
	{ "quarantine", cmd_quarantine, "quarantine list [-a] | show ID | "
	    "retry ID|--all" },
	{ "db", cmd_db, "db migrate|status|start|stop" },
	{ "serve", cmd_serve, "serve [--listen HOST:PORT] [--static-dir DIR] "
	    "[--tls-cert F --tls-key F] [--users F]" },
	{ "check-config", cmd_check_config, "check-config [-v] [-f FILE]" },
	{ "lmtp", cmd_lmtp, "lmtp [--listen unix:PATH|HOST:PORT]... "
	    "[--foreground]   LMTP server" },
	{ "summary", cmd_summary, "summary [--period Nd | --since D --until D] "
	    "[--domain D] [--to ADDR] [--send]" },
};

static void
usage(FILE *f)
{
	size_t	i;

	fprintf(f, "usage: dmarcd COMMAND [ARGS]\ncommands:\n");
	for (i = 0; i < nitems(commands); i++)
		fprintf(f, "  %s\n", commands[i].usage);
	fprintf(f, "  version\n");
}

int
main(int argc, char **argv)
{
	size_t	i;

	log_init("dmarcd", false, 0);
	if (argc < 2) {
		usage(stderr);
		return 64;
	}
	if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0 ||
	    strcmp(argv[1], "help") == 0) {
		usage(stdout);
		return 0;
	}
	if (strcmp(argv[1], "version") == 0 || strcmp(argv[1], "--version") == 0) {
		printf("%s\n", PACKAGE_STRING);
		return 0;
	}
	for (i = 0; i < nitems(commands); i++)
		if (strcmp(argv[1], commands[i].name) == 0)
			return commands[i].fn(argc - 1, argv + 1);
	log_warnx("unknown command: %s", argv[1]);
	usage(stderr);
	return 64;
}
