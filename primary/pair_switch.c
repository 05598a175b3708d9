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

uint32_t ft_handover_grace_ms(const struct ft_opts *o)
{
	uint64_t ms = (uint64_t)o->dead_ms * 10;

	return ms > 5000 ? (ms > UINT32_MAX ? UINT32_MAX : (uint32_t)ms) : 5000;
}

int ft_exec_role(const struct ft_opts *o, bool to_primary, const char *snapshot, uint64_t handover_epoch,
		 bool take_back)
{
	char **av = calloc((size_t)o->argc + 16, sizeof(*av));
	char epoch[24];
	int n = 0, rc;

	if (!av)
		return -ENOMEM;
	av[n++] = (char *)(uintptr_t)"ftvm";
	av[n++] = (char *)(uintptr_t)(to_primary ? "primary" : "backup");
	for (int i = 1; i < o->argc; i++) {
		if ((!strcmp(o->argv[i], "--from") || !strcmp(o->argv[i], "--handover-epoch")) && i + 1 < o->argc) {
			i++;
			continue;
		}
		if (!strcmp(o->argv[i], "--take-back"))
			continue;
		if (strncmp(o->argv[i], "--from=", 7) && strncmp(o->argv[i], "--handover-epoch=", 17))
			av[n++] = o->argv[i];
	}
	/* The defaults follow the role; this host's certificate does not. */
	av[n++] = (char *)(uintptr_t)"--name";
	av[n++] = (char *)(uintptr_t)o->name;
	av[n++] = (char *)(uintptr_t)"--peer-name";
	av[n++] = (char *)(uintptr_t)o->peer_name;
	/* A primary's backup may have moved since it started ('ftvm protect'): the last --peer counts. */
	if (!to_primary && o->addr) {
		av[n++] = (char *)(uintptr_t)"--peer";
		av[n++] = (char *)(uintptr_t)o->addr;
	}
	if (snapshot) {
		av[n++] = (char *)(uintptr_t)"--from";
		av[n++] = (char *)(uintptr_t)snapshot;
	}
	if (handover_epoch) {
		snprintf(epoch, sizeof(epoch), "%llu", (unsigned long long)handover_epoch);
		av[n++] = (char *)(uintptr_t)"--handover-epoch";
		av[n++] = epoch;
	}
	if (take_back)
		av[n++] = (char *)(uintptr_t)"--take-back";
	av[n] = NULL;
	fflush(NULL);
	execv("/proc/self/exe", av);
	rc = -errno;
	free(av);
	return rc;
}

int ft_addr_split(const char *addr, char host[256], char port[16])
{
	const char *colon = addr ? strrchr(addr, ':') : NULL;

	if (!colon || colon == addr || !colon[1] || (size_t)(colon - addr) >= 256 || strlen(colon + 1) >= 16)
		return -EINVAL;
	memcpy(host, addr, (size_t)(colon - addr));
	host[colon - addr] = '\0';
	strcpy(port, colon + 1);
	return 0;
}

int ft_opts_other_role(const struct ft_opts *o, struct ft_opts *out)
{
	char host[sizeof(out->host)], port[sizeof(out->port)];

	if (ft_addr_split(o->switch_addr, host, port))
		return -EINVAL;
	*out = *o;
	out->addr = o->switch_addr;
	out->switch_addr = o->addr;
	memcpy(out->host, host, sizeof(host));
	memcpy(out->port, port, sizeof(port));
	out->from_snapshot = NULL;
	out->handover_epoch = 0;
	out->take_back = false;
	return 0;
}
