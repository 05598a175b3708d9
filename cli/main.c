/* SPDX-License-Identifier: MIT */
/* main: the ftvm command, dispatching to its subcommands. */
#include "cli/cli.h"
#include "primary/pair.h"
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
		"  snapshot save a whole machine at a step, or check one: ftvm snapshot save|info\n"
		"  primary  run a guest protected by a backup host: record and stream its log\n"
		"  backup   follow a primary's log, replaying it; go live when the primary dies\n"
		"  status   show a daemon's role, epoch, lag and held output: ftvm status --control SOCK\n"
		"  promote  a planned switchover: the backup becomes the primary, nothing lost\n"
		"  protect  give a primary that runs alone a backup on another host\n"
		"  version  print the version, formats and features (--json)\n"
		"Run 'ftvm COMMAND --help' for a command's options; 'man ftvm' for all of them.\n"
		"Exit status 2 means bad usage everywhere (docs/exit-codes.md).\n");
}

/* A closed stdin/stdout/stderr would let the next open() (a disk, a log) take its number. */
static void keep_std_fds(void)
{
	for (int fd = 0; fd < 3; fd++)
		if (fcntl(fd, F_GETFD) < 0 && open("/dev/null", fd ? O_WRONLY : O_RDONLY) != fd)
			_exit(FTVM_EXIT_HOST_ERROR);
}

/* argv[0] is the command's name; 1 when it is not one. */
static int dispatch(int argc, char **argv, int *status)
{
	if (!strcmp(argv[0], "run") || !strcmp(argv[0], "record"))
		*status = cli_run(argc, argv);
	else if (!strcmp(argv[0], "replay"))
		*status = cli_replay(argc, argv);
	else if (!strcmp(argv[0], "log") && argc >= 2 && !strcmp(argv[1], "trim"))
		*status = cli_log_trim(argc, argv);
	else if (!strcmp(argv[0], "log"))
		*status = cli_log(argc, argv);
	else if (!strcmp(argv[0], "snapshot"))
		*status = cli_snapshot(argc, argv);
	else if (!strcmp(argv[0], "certs"))
		*status = xport_certs_main(argc, argv);
	else if (!strcmp(argv[0], "primary"))
		*status = cli_primary(argc, argv);
	else if (!strcmp(argv[0], "backup"))
		*status = cli_backup(argc, argv);
	else if (!strcmp(argv[0], "status"))
		*status = cli_status(argc, argv);
	else if (!strcmp(argv[0], "promote"))
		*status = cli_promote(argc, argv);
	else if (!strcmp(argv[0], "protect"))
		*status = cli_protect(argc, argv);
	else if (!strcmp(argv[0], "version") || !strcmp(argv[0], "--version") || !strcmp(argv[0], "-V"))
		*status = cli_version(argc, argv);
	else
		return 1;
	return 0;
}

int main(int argc, char **argv)
{
	int status;

	keep_std_fds();
	if (argc < 2) {
		usage(stderr);
		return FTVM_EXIT_USAGE;
	}
	if (cli_is_help(argv[1])) {
		/* 'ftvm help COMMAND' is 'ftvm COMMAND --help'. */
		if (argc > 2 && !cli_is_help(argv[2])) {
			char help[] = "--help";
			char *args[] = { argv[2], help, NULL };
			if (!dispatch(2, args, &status))
				return status;
			fprintf(stderr, "ftvm help: unknown command '%s'\n", argv[2]);
			usage(stderr);
			return FTVM_EXIT_USAGE;
		}
		usage(stdout);
		return 0;
	}
	if (!dispatch(argc - 1, argv + 1, &status))
		return status;
	fprintf(stderr, "ftvm: unknown command '%s'\n", argv[1]);
	usage(stderr);
	return FTVM_EXIT_USAGE;
}
