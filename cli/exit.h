/* SPDX-License-Identifier: MIT */
/* exit: the exit status of every ftvm command and daemon, one table (docs/exit-codes.md). */
#ifndef FTVM_CLI_EXIT_H
#define FTVM_CLI_EXIT_H

enum ftvm_exit {
	FTVM_EXIT_POWEROFF = 0,	/* guest powered off (or a bare test passed) */
	FTVM_EXIT_HOST_ERROR = 1,	/* host-side failure while running */
	FTVM_EXIT_USAGE = 2,	/* bad arguments or input files; nothing ran */
	FTVM_EXIT_REBOOT = 3,	/* guest asked for a reset, or panicked (panic reboots) */
	FTVM_EXIT_GUEST_FAIL = 4,	/* guest reported failure through the test device */
	FTVM_EXIT_USER = 5,	/* stopped by the user: Ctrl-A x, SIGINT, SIGTERM */
	FTVM_EXIT_LIMIT = 6,	/* --max-steps reached */
	FTVM_EXIT_STUCK = 7,	/* every hart waits with nothing left to wake it */
	FTVM_EXIT_DIVERGED = 8,	/* replay: the machine departed from the log */
	FTVM_EXIT_LOG_CORRUPT = 9,	/* replay: the log is damaged past its header */
	FTVM_EXIT_FENCED = 10,	/* a daemon lost the arbiter, or a newer epoch exists: it must not serve */
	FTVM_EXIT_PEER_REFUSED = 11,	/* a daemon's peer is not its pair (images, VM, certificates) */
};

/* A live run's end (enum live_end, hv/rr/live.h) as the documented exit status (exit.c). */
int cli_exit_status(int live_end);

#endif
