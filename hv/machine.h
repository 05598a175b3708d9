/* SPDX-License-Identifier: MIT */
/* machine: what the harts and devices may ask of the machine that holds them. */
#ifndef HV_MACHINE_H
#define HV_MACHINE_H

#include <stdint.h>

struct hv_machine;

/* Physical accesses outside RAM. Return 0, or -1 for an access fault. */
int machine_mmio_read(struct hv_machine *m, uint64_t pa, int size, uint64_t *val)
	__attribute__((warn_unused_result));
int machine_mmio_write(struct hv_machine *m, uint64_t pa, int size, uint64_t val)
	__attribute__((warn_unused_result));

/*
 * Guest time now: a function of the machine step count, which the running
 * hart's h->steps must hold exactly whenever it calls into the machine.
 */
uint64_t machine_mtime(struct hv_machine *m);

/* A hart took interrupt cause irq (called only while an observer is set). */
void machine_observe_irq(struct hv_machine *m, int hart, int irq);

/* End the current run slice after the current instruction (timer change, poweroff). */
void machine_request_exit(struct hv_machine *m);

#endif
