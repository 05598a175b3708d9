/* SPDX-License-Identifier: MIT */
/* main: the ftvm command, dispatching to its subcommands. */
#include "cli.h"

#include <stdio.h>
#include <string.h>

static void usage(FILE *f)
{
	fprintf(f,
		"usage: ftvm COMMAND [OPTIONS]\n"
		"  run      run a guest (default: the domT Linux guest)\n"
		"Run 'ftvm COMMAND --help' for a command's options.\n");
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return FTVM_EXIT_USAGE;
	}
	if (!strcmp(argv[1], "run"))
		return cli_run(argc - 1, argv + 1);
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "help")) {
		usage(stdout);
		return 0;
	}
	fprintf(stderr, "ftvm: unknown command '%s'\n", argv[1]);
	usage(stderr);
	return FTVM_EXIT_USAGE;
}
