/* SPDX-License-Identifier: MIT */
/* main: the ftvm command, dispatching to its subcommands. */
#include "cli.h"
#include "transport/certs.h"

#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static void usage(FILE *f)
{
	fprintf(f,
		"usage: ftvm COMMAND [OPTIONS]\n"
		"  run      run a guest (default: the domT Linux guest)\n"
		"  record   run a guest and write every input to a replay log\n"
		"  replay   re-execute a replay log, optionally going live at its end\n"
		"  log      inspect a replay log: ftvm log dump FILE\n"
		"  certs    make a CA and host certificates: ftvm certs init DIR --hosts a,b\n"
		"Run 'ftvm COMMAND --help' for a command's options.\n");
}

/* A closed stdin/stdout/stderr would let the next open() (a disk, a log) take its number. */
static void keep_std_fds(void)
{
	for (int fd = 0; fd < 3; fd++)
		if (fcntl(fd, F_GETFD) < 0 && open("/dev/null", fd ? O_WRONLY : O_RDONLY) != fd)
			_exit(FTVM_EXIT_HOST_ERROR);
}

int main(int argc, char **argv)
{
	keep_std_fds();
	if (argc < 2) {
		usage(stderr);
		return FTVM_EXIT_USAGE;
	}
	if (!strcmp(argv[1], "run") || !strcmp(argv[1], "record"))
		return cli_run(argc - 1, argv + 1);
	if (!strcmp(argv[1], "replay"))
		return cli_replay(argc - 1, argv + 1);
	if (!strcmp(argv[1], "log"))
		return cli_log(argc - 1, argv + 1);
	if (!strcmp(argv[1], "certs"))
		return xport_certs_main(argc - 1, argv + 1);
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "help")) {
		usage(stdout);
		return 0;
	}
	fprintf(stderr, "ftvm: unknown command '%s'\n", argv[1]);
	usage(stderr);
	return FTVM_EXIT_USAGE;
}
