/* cmd_check_config.c - `dmarcd check-config [-v] [-f FILE]`: validate only. */
#include "config.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "lib.h"
#include "conf.h"
#include "dmarcd.h"
#include "httpd.h"

int
cmd_check_config(int argc, char **argv)
{
	struct conf		 c;
	struct httpd_config	 hc;
	const char		*file = NULL;
	char			 err[512];
	bool			 verbose = false;
	int			 ch;

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
	/* what serve would refuse at start, without reading its files */
	memset(&hc, 0, sizeof(hc));
	serve_config(&hc, &c);
	if (httpd_check_config(&hc, err, sizeof(err)) != 0) {
		fprintf(stderr, "%s: serve: %s\n", c.file ? c.file :
		    "(defaults)", err);
		conf_free(&c);
		return EXIT_CONFIG;
	}
	if (verbose)
		conf_print(&c, stdout);
	printf("%s: OK\n", c.file ? c.file : "(no file: defaults)");
	conf_free(&c);
	return 0;
}
