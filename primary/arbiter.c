/* SPDX-License-Identifier: MIT */
/*
 * arbiter: ft_arbiter_open picks the kind from the spec (lock:PATH, a file
 * under flock on storage both hosts reach; etcd://HOST:PORT,..., a cluster
 * both hosts reach) and the other calls go to it.
 */
#include "arbiter_internal.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

int ft_arbiter_open(const char *spec, struct ft_arbiter **out, char *err, size_t err_len)
{
	*out = NULL;
	if (!strncmp(spec, "lock:", 5))
		return ft_arbiter_lock_open(spec, out, err, err_len);
	if (!strncmp(spec, "etcd://", 7))
		return ft_arbiter_etcd_open(spec, out, err, err_len);
	snprintf(err, err_len, "arbiter %s: want lock:PATH or etcd://HOST:PORT[,HOST:PORT...][/PREFIX][?OPTIONS]",
		 spec);
	return -EINVAL;
}

int ft_arbiter_read(struct ft_arbiter *a, uint64_t *epoch, char *owner, size_t owner_len,
		    char *err, size_t err_len)
{
	return a->ops->read(a, epoch, owner, owner_len, err, err_len);
}

int ft_arbiter_take(struct ft_arbiter *a, uint64_t expect, const char *owner, char *err,
		    size_t err_len)
{
	return a->ops->take(a, expect, owner, err, err_len);
}

int ft_arbiter_keepalive(struct ft_arbiter *a, char *err, size_t err_len)
{
	return a->ops->keepalive ? a->ops->keepalive(a, err, err_len) : 0;
}

bool ft_arbiter_lease_valid(const struct ft_arbiter *a, uint64_t now_ms)
{
	return a->ops->lease_valid ? a->ops->lease_valid(a, now_ms) : true;
}

uint64_t ft_arbiter_lease_ms(const struct ft_arbiter *a)
{
	return a->ops->lease_ms ? a->ops->lease_ms(a) : 0;
}

void ft_arbiter_adopt(struct ft_arbiter *a, uint64_t epoch, const char *owner)
{
	if (a->ops->adopt)
		a->ops->adopt(a, epoch, owner);
}

uint64_t ft_arbiter_takeover_wait_ms(const struct ft_arbiter *a)
{
	return a->ops->takeover_wait_ms ? a->ops->takeover_wait_ms(a) : 0;
}

const char *ft_arbiter_name(const struct ft_arbiter *a)
{
	return a->name;
}

uint64_t ft_arbiter_round_trips(const struct ft_arbiter *a)
{
	return a->round_trips;
}

void ft_arbiter_free(struct ft_arbiter *a)
{
	if (a)
		a->ops->free(a);
}
