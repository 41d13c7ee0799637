/* dmarcd.c - one binary, subcommands (tmux-style table). */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib.h"
#include "conf.h"
#include "dmarcd.h"

#define COMMON_OPTS \
	"  -f FILE              dmarcd.conf to read (default $DMARCD_CONF, " \
	"else /etc/dmarcd.conf)\n" \
	"  --db URL             the database (default $DMARCD_DB, else the " \
	"file's)\n"

static const struct command {
	const char	*name;
	int		(*fn)(int, char **);
	const char	*usage;
	const char	*options;	/* for `dmarcd COMMAND --help` */
} commands[] = {
	{ "parse", cmd_parse, "parse [FILE|-]...   print reports as JSON lines",
	  "  FILE|-               reports or messages to read; none: stdin\n" },
	{ "ingest", cmd_ingest, "ingest [-q] PATH|-...   store reports",
	  COMMON_OPTS
	  "  -q                   no progress line\n"
	  "  PATH|-               files, directories, Maildirs, mbox; "
	  "- is stdin\n" },
	{ "export", cmd_export, "export [--format json|csv] [--domain D] "
	    "[--since T] [--until T]",
	  COMMON_OPTS
	  "  --type TYPE          aggregate (default), forensic, tlsrpt or all\n"
	  "  --format FORMAT      json (default) or csv (aggregate only)\n"
	  "  --domain D           reports for this domain only\n"
	  "  --since T            reports whose period ends at or after T\n"
	  "  --until T            reports whose period begins before T\n"
	  "                       T: unix seconds, YYYY-MM-DD or\n"
	  "                       YYYY-MM-DDTHH:MM:SS[Z|+HH:MM]\n" },
	{ "sources", cmd_sources, "sources [--domain D] [--since T] "
	    "[--until T] [--format json|text]",
	  COMMON_OPTS
	  "  --domain D           reports for this domain only\n"
	  "  --since T, --until T the reports `export` takes with them\n"
	  "  --format FORMAT      json (default: a line per IP) or text\n" },
	{ "simulate", cmd_simulate, "simulate [--domain D] [--since T] "
	    "[--until T | --period Nd] [--p P] [--sp P] [--np P] [--pct N] "
	    "[--adkim r|s] [--aspf r|s] [--testing y|n] [--top N] "
	    "[--format json|text]",
	  COMMON_OPTS
	  "  --domain D           reports for this domain only\n"
	  "  --since T, --until T the reports `export` takes with them\n"
	  "  --period Nd          the reports of the last N days\n"
	  "  --p, --sp, --np P    none, quarantine or reject\n"
	  "  --pct N              0 to 100, --testing y|n (DMARCbis t=)\n"
	  "  --adkim, --aspf M    r (relaxed) or s (strict)\n"
	  "                       not given: the domain's latest published\n"
	  "  --top N              sources that would lose mail listed (20)\n"
	  "  --format FORMAT      json (default: a line per domain) or text\n" },
	{ "senders", cmd_senders, "senders list [DOMAIN] | add DOMAIN RULE "
	    "[--note TEXT] | remove DOMAIN RULE | sync FILE | suggest [DOMAIN]",
	  COMMON_OPTS
	  "  RULE                 service NAME, cidr ADDR/LEN, ptr DOMAIN,\n"
	  "                       dkim DOMAIN or spf DOMAIN\n"
	  "  --note TEXT          add: why the rule is there\n"
	  "  sync FILE            the table made equal to FILE's lines\n"
	  "                       (DOMAIN KIND VALUE [# NOTE])\n"
	  "  --since T, --until T suggest: the period (default the last 30 "
	  "days)\n"
	  "  --format FORMAT      list, suggest: json (default) or text\n" },
	{ "quarantine", cmd_quarantine, "quarantine list [-a] | show ID | "
	    "retry ID|--all",
	  COMMON_OPTS
	  "  list [-a]            unresolved messages; -a: resolved ones too\n"
	  "  show ID              the kept bytes of one message\n"
	  "  retry ID|--all       parse again with this version\n" },
	{ "db", cmd_db, "db migrate|status|start|stop",
	  COMMON_OPTS
	  "  migrate [--to N]     bring the schema up to date (or version N)\n"
	  "  status               where the database is and its schema\n"
	  "  start, stop          the embedded cluster\n" },
	{ "serve", cmd_serve, "serve [--listen HOST:PORT] [--static-dir DIR] "
	    "[--tls-cert F --tls-key F] [--users F]",
	  COMMON_OPTS },
	{ "check-config", cmd_check_config, "check-config [-v] [-f FILE]",
	  "  -f FILE              the file to check (default $DMARCD_CONF, "
	  "else\n"
	  "                       /etc/dmarcd.conf)\n"
	  "  -v                   print every setting with its value\n" },
	{ "lmtp", cmd_lmtp, "lmtp [--listen unix:PATH|HOST:PORT]... "
	    "[--foreground]   LMTP server",
	  COMMON_OPTS
	  "  -v                   more logging (repeatable)\n"
	  "  --foreground         stay in the foreground, log to stderr\n"
	  "  --syslog             log to syslog\n" },
	{ "enrich", cmd_enrich, "enrich [--refresh] [--dns-server ADDR[:PORT]]   "
	    "look up and classify source IPs",
	  COMMON_OPTS
	  "  -v                   log each address (-vv: more)\n"
	  "  --refresh            also look up answers that expired\n" },
	{ "summary", cmd_summary, "summary [--period Nd | --since D --until D] "
	    "[--domain D] [--to ADDR] [--send]",
	  COMMON_OPTS
	  "  --period Nd          the last N days (default 7d)\n"
	  "  --since D --until D  YYYY-MM-DD, until excluded\n"
	  "  --domain D           this domain only\n"
	  "  --send               mail it through sendmail\n"
	  "  --format FORMAT      mime (default), text or html\n" },
	{ "alerts", cmd_alerts, "alerts --check [--dry-run] "
	    "[--format json|text]   evaluate and send alerts",
	  COMMON_OPTS
	  "  --check              evaluate the rules, send what is new\n"
	  "  --dry-run            print what would be sent; store and send "
	  "nothing\n"
	  "  --format FORMAT      text (default: a line per alert) or json\n" },
};

static void
usage(FILE *f)
{
	size_t	i;

	fprintf(f, "usage: dmarcd COMMAND [ARGS]\ncommands:\n");
	for (i = 0; i < nitems(commands); i++)
		fprintf(f, "  %s\n", commands[i].usage);
	fprintf(f, "  version\n"
	    "dmarcd COMMAND --help describes a command's options.\n");
}

/* The command's own options, then those it takes from the settings
 * table, each with its setting and default (conf.c). */
static void
command_help(const struct command *c)
{
	printf("usage: dmarcd %s\noptions:\n%s", c->usage, c->options);
	conf_help(c->name, stdout);
}

/* True when argv (before a "--") asks for help. */
static bool
wants_help(int argc, char **argv)
{
	int	i;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--") == 0)
			break;
		if (strcmp(argv[i], "--help") == 0 ||
		    strcmp(argv[i], "-h") == 0)
			return true;
	}
	return false;
}

/* Edit distance (adjacent transpositions count as one), capped at 9. */
static unsigned
distance(const char *a, const char *b)
{
	unsigned	d[16][16];
	size_t		la = strlen(a), lb = strlen(b), i, j;
	unsigned	v;

	if (la >= 16 || lb >= 16)
		return 9;
	for (i = 0; i <= la; i++)
		d[i][0] = i;
	for (j = 0; j <= lb; j++)
		d[0][j] = j;
	for (i = 1; i <= la; i++)
		for (j = 1; j <= lb; j++) {
			v = d[i - 1][j - 1] + (a[i - 1] != b[j - 1]);
			if (d[i - 1][j] + 1 < v)
				v = d[i - 1][j] + 1;
			if (d[i][j - 1] + 1 < v)
				v = d[i][j - 1] + 1;
			if (i > 1 && j > 1 && a[i - 1] == b[j - 2] &&
			    a[i - 2] == b[j - 1] && d[i - 2][j - 2] + 1 < v)
				v = d[i - 2][j - 2] + 1;
			d[i][j] = v;
		}
	return d[la][lb];
}

/* The command a typo most likely meant, or NULL. */
static const char *
nearest_command(const char *name)
{
	const char	*best = NULL;
	unsigned	 d, best_d = 3;	/* more than two edits: no guess */
	size_t		 i;

	for (i = 0; i < nitems(commands); i++)
		if ((d = distance(name, commands[i].name)) < best_d) {
			best_d = d;
			best = commands[i].name;
		}
	return best;
}

int
main(int argc, char **argv)
{
	const char	*guess;
	char		 clean[64];
	size_t		 i;

	log_init("dmarcd", false, 0);
	if (argc < 2) {
		usage(stderr);
		return EXIT_USAGE;
	}
	if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0 ||
	    strcmp(argv[1], "help") == 0) {
		for (i = 0; argc > 2 && i < nitems(commands); i++)
			if (strcmp(argv[2], commands[i].name) == 0) {
				command_help(&commands[i]);
				return EXIT_OK;
			}
		usage(stdout);
		return EXIT_OK;
	}
	if (strcmp(argv[1], "version") == 0 || strcmp(argv[1], "--version") == 0) {
		printf("%s\n", PACKAGE_STRING);
		return EXIT_OK;
	}
	for (i = 0; i < nitems(commands); i++)
		if (strcmp(argv[1], commands[i].name) == 0) {
			if (wants_help(argc - 1, argv + 1)) {
				command_help(&commands[i]);
				return EXIT_OK;
			}
			return commands[i].fn(argc - 1, argv + 1);
		}
	str_escape(clean, sizeof(clean), argv[1], strlen(argv[1]));
	if ((guess = nearest_command(argv[1])) != NULL)
		log_warnx("unknown command: %s; did you mean '%s'?", clean,
		    guess);
	else
		log_warnx("unknown command: %s", clean);
	usage(stderr);
	return EXIT_USAGE;
}
