/*
 * dmarcd.h - the program: subcommands and what they share.
 */
#ifndef DMARCD_H
#define DMARCD_H

/* Exit statuses (sysexits.h values where one fits). */
#define EXIT_OK		0
#define EXIT_INPUT	1	/* some input gave no report */
#define EXIT_USAGE	64	/* EX_USAGE */
#define EXIT_TEMPFAIL	75	/* EX_TEMPFAIL */

/* cmd_parse.c */
int	cmd_parse(int argc, char **argv);

#endif
