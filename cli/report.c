/* SPDX-License-Identifier: MIT */
/* report: what the host side saw go wrong during a run, told on stderr and in the exit status. */
#include "cli/cli.h"

#include <stdio.h>
#include <string.h>

int cli_disk_report(const char *cmd, const struct hv_machine *m, const char *disk, int status)
{
	int first_errno;
	uint64_t n = m ? hv_disk_host_errors(m, &first_errno) : 0;

	if (!n)
		return status;
	fprintf(stderr, "ftvm %s: disk %s: the host refused %llu of the guest's disk I/Os (the first: %s); "
		"the guest saw I/O errors\n", cmd, disk ? disk : "?", (unsigned long long)n, strerror(first_errno));
	/* A run that would have looked clean must not: the guest's data did not reach the disk. */
	return status == FTVM_EXIT_POWEROFF ? FTVM_EXIT_HOST_ERROR : status;
}
