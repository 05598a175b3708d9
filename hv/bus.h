/* SPDX-License-Identifier: MIT */
/* bus: what a hart or the CLINT may ask of the board around it (MMIO, guest time, slice end, irq observation). */
#ifndef HV_BUS_H
#define HV_BUS_H

#include <stdint.h>

/*
 * The machine fills one bus and hands harts and the CLINT a pointer to it
 * (TinyEMU's PhysMemoryMap passed to riscv_cpu_init), so that neither knows
 * the machine. A test fills its own.
 */
struct bus {
	/* Physical accesses outside RAM. Return 0, or -1 for an access fault. */
	int (*mmio_read)(void *opaque, uint64_t pa, int size, uint64_t *val);
	int (*mmio_write)(void *opaque, uint64_t pa, int size, uint64_t val);
	/*
	 * Guest time now: a function of the machine step count, which the
	 * running hart's steps must hold exactly whenever it calls the bus.
	 */
	uint64_t (*mtime)(void *opaque);
	/* End the current run slice after the current instruction (timer change, poweroff). Optional. */
	void (*request_exit)(void *opaque);
	/* A hart took interrupt cause irq (called only while the hart's observe_irqs is set). Optional. */
	void (*observe_irq)(void *opaque, int hart, int irq);
	void *opaque;
};

static inline int bus_mmio_read(const struct bus *b, uint64_t pa, int size, uint64_t *val)
{
	return b->mmio_read ? b->mmio_read(b->opaque, pa, size, val) : -1;
}

static inline int bus_mmio_write(const struct bus *b, uint64_t pa, int size, uint64_t val)
{
	return b->mmio_write ? b->mmio_write(b->opaque, pa, size, val) : -1;
}

static inline uint64_t bus_mtime(const struct bus *b)
{
	return b->mtime ? b->mtime(b->opaque) : 0;
}

static inline void bus_request_exit(const struct bus *b)
{
	if (b->request_exit)
		b->request_exit(b->opaque);
}

static inline void bus_observe_irq(const struct bus *b, int hart, int irq)
{
	if (b->observe_irq)
		b->observe_irq(b->opaque, hart, irq);
}

#endif
