/* SPDX-License-Identifier: MIT */
/* arbiter_internal: what each arbiter kind (lock:, etcd://) provides behind pair.h's ft_arbiter_* calls. */
#ifndef PRIMARY_ARBITER_INTERNAL_H
#define PRIMARY_ARBITER_INTERNAL_H

#include "pair.h"

struct ft_arbiter_ops {
	int (*read)(struct ft_arbiter *a, uint64_t *epoch, char *owner, size_t owner_len,
		    char *err, size_t err_len);
	int (*take)(struct ft_arbiter *a, uint64_t expect, const char *owner, char *err,
		    size_t err_len);
	/* Optional: an arbiter without leases leaves these NULL (always valid, nothing to renew). */
	int (*keepalive)(struct ft_arbiter *a, char *err, size_t err_len);
	bool (*lease_valid)(const struct ft_arbiter *a, uint64_t now_ms);
	uint64_t (*lease_ms)(const struct ft_arbiter *a);
	uint64_t (*takeover_wait_ms)(const struct ft_arbiter *a);
	void (*adopt)(struct ft_arbiter *a, uint64_t epoch, const char *owner);
	void (*free)(struct ft_arbiter *a);
};

/* Every kind's state starts with this. */
struct ft_arbiter {
	const struct ft_arbiter_ops *ops;
	char name[4200];
	uint64_t round_trips;	/* requests to the store (etcd: HTTP requests; lock: file locks) */
};

/* SPEC without its "lock:" or "etcd://" prefix checked by arbiter.c; fill a->name. */
int ft_arbiter_lock_open(const char *spec, struct ft_arbiter **out, char *err, size_t err_len)
	__attribute__((warn_unused_result));
int ft_arbiter_etcd_open(const char *spec, struct ft_arbiter **out, char *err, size_t err_len)
	__attribute__((warn_unused_result));

#endif
