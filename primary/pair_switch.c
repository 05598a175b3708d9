/* SPDX-License-Identifier: MIT */
/* pair_switch: a planned switchover's last step: this process starts again in the other role. */
#include "pair.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void ft_switch_snapshot_path(const struct ft_opts *o, char *buf, size_t len)
{
	snprintf(buf, len, "%s.switch.snap", o->log_path ? o->log_path : "ftvm");
}

int ft_exec_role(const struct ft_opts *o, bool to_primary, const char *snapshot)
{
	char **av = calloc((size_t)o->argc + 10, sizeof(*av));
	int n = 0, rc;

	if (!av)
		return -ENOMEM;
	av[n++] = (char *)(uintptr_t)"ftvm";
	av[n++] = (char *)(uintptr_t)(to_primary ? "primary" : "backup");
	for (int i = 1; i < o->argc; i++) {
		if (!strcmp(o->argv[i], "--from") && i + 1 < o->argc) {
			i++;
			continue;
		}
		if (strncmp(o->argv[i], "--from=", 7))
			av[n++] = o->argv[i];
	}
	/* The defaults follow the role; this host's certificate does not. */
	av[n++] = (char *)(uintptr_t)"--name";
	av[n++] = (char *)(uintptr_t)o->name;
	av[n++] = (char *)(uintptr_t)"--peer-name";
	av[n++] = (char *)(uintptr_t)o->peer_name;
	av[n++] = (char *)(uintptr_t)"--from";
	av[n++] = (char *)(uintptr_t)snapshot;
	av[n] = NULL;
	fflush(NULL);
	execv("/proc/self/exe", av);
	rc = -errno;
	free(av);
	return rc;
}
