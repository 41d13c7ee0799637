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
