/* SPDX-License-Identifier: MIT */
/* PLIC to SEIP: a UART interrupt reaches mip.SEIP, and csrrc on mip never latches the line (priv 3.1.9). */
#include "common.h"
	TEST_NAME plic_seip

#define PLIC_PRIO_UART	(0xc000000 + 4 * 10)
#define PLIC_ENABLE_S0	(0xc000000 + 0x2000 + 0x80 * 1)	/* context 1: hart 0 S-mode */
#define PLIC_THRESH_S0	(0xc000000 + 0x200000 + 0x1000 * 1)
#define PLIC_CLAIM_S0	(PLIC_THRESH_S0 + 4)
#define UART_IER	(UART_BASE + 1)
#define MIP_SEIP	(1 << 9)
#define MIP_STIP	(1 << 5)

	.text
	.globl test_main
test_main:
	li t0, PLIC_PRIO_UART
	li t1, 1
	sw t1, 0(t0)
	li t0, PLIC_THRESH_S0
	sw zero, 0(t0)
	li t0, PLIC_ENABLE_S0
	li t1, 1 << 10
	sw t1, 0(t0)

	/* Transmitter-empty interrupt on: the line goes high at once. */
	li t0, UART_IER
	li t1, 2
	sb t1, 0(t0)
	csrr a0, mip
	li t1, MIP_SEIP
	and a0, a0, t1
	CHECK 1, a0, MIP_SEIP

	/* A read-modify-write of mip while the line is high (OpenSBI does this for STIP). */
	li t1, MIP_STIP
	csrc mip, t1
	csrr a0, mip
	li t1, MIP_SEIP
	and a0, a0, t1
	CHECK 2, a0, MIP_SEIP

	/* The line drops and the source is claimed and completed: SEIP must follow, not stay latched. */
	li t0, UART_IER
	sb zero, 0(t0)
	li t0, PLIC_CLAIM_S0
	lw a0, 0(t0)
	CHECK 6, a0, 10
	sw a0, 0(t0)
	csrr a0, mip
	li t1, MIP_SEIP
	and a0, a0, t1
	CHECK 3, a0, 0

	/* The software bit still works on its own. */
	li t1, MIP_SEIP
	csrs mip, t1
	csrr a0, mip
	and a0, a0, t1
	CHECK 4, a0, MIP_SEIP
	csrc mip, t1
	csrr a0, mip
	and a0, a0, t1
	CHECK 5, a0, 0
	j test_pass
