/* cmd_check_config.c - `dmarcd check-config [-v] [-f FILE]`: validate only. */
#include "config.h"

#include <getopt.h>
#include <stdlib.h>

#include "lib.h"
#include "conf.h"
#include "dmarcd.h"

int
cmd_check_config(int argc, char **argv)
{
	struct conf	 c;
	const char	*file = NULL;
	bool		 verbose = false;
	int		 ch;

	while ((ch = getopt(argc, argv, "f:v")) != -1) {
		switch (ch) {
		case 'f':
			file = optarg;
			break;
		case 'v':
			verbose = true;
			break;
		default:
			fprintf(stderr, "usage: dmarcd check-config [-v] "
			    "[-f FILE]\n");
			return EXIT_USAGE;
		}
	}
	if (conf_load(&c, file, stderr) == -1) {
		conf_free(&c);
		return EXIT_CONFIG;
	}
	if (verbose)
		conf_print(&c, stdout);
	printf("%s: OK\n", c.file ? c.file : "(no file: defaults)");
	conf_free(&c);
	return 0;
}
