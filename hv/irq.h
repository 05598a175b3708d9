/* SPDX-License-Identifier: MIT */
/* irq: a level-triggered interrupt line, the only way a device signals a PLIC or a hart. */
#ifndef HV_IRQ_H
#define HV_IRQ_H

/*
 * The receiver (PLIC source, or a hart's mip bit) owns set(); the sender
 * holds a copy of the line and never learns who receives it (TinyEMU's
 * IRQSignal). irq is the receiver's number for the line: a PLIC source or
 * an mip bit.
 */
struct irq_line {
	void (*set)(void *opaque, int irq, int level);
	void *opaque;
	int irq;
};

static inline void irq_set(const struct irq_line *l, int level)
{
	if (l->set)
		l->set(l->opaque, l->irq, level);
}

#endif
