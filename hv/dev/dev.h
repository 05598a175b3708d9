/* SPDX-License-Identifier: MIT */
/* Device plumbing shared by every device model: MMIO ops, with irq lines (irq.h) and guest RAM (mem.h). */
#ifndef HV_DEV_H
#define HV_DEV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hv/irq.h"
#include "hv/mem.h"

/*
 * MMIO access. off is relative to the region base; size is 1, 2, 4 or 8.
 * Return 0, or -1 for an access fault delivered to the guest. A device never
 * prints on a guest's behalf: bad guest input moves the device to an error
 * state (virtio: DEVICE_NEEDS_RESET) and is counted, not logged.
 */
struct dev_ops {
	const char *name;
	int (*read)(void *opaque, uint64_t off, int size, uint64_t *val);
	int (*write)(void *opaque, uint64_t off, int size, uint64_t val);
};

#endif
