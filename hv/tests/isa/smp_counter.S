/* SPDX-License-Identifier: MIT */
/* Two harts (run with -smp 2): an IPI through CLINT msip wakes hart 1, then both harts increment
 * shared counters with amoadd and with lr/sc loops; hart 0 waits for hart 1 and checks the sums. */
#include "common.h"
	TEST_NAME smp_counter

#define ITERS		20000
#define WAIT_LIMIT	200000000

	.data
	.balign 64
counter_amo:	.dword 0
	.balign 64
counter_lrsc:	.dword 0
	.balign 64
hart1_done:	.dword 0
hart1_id:	.dword 0

	.text
/* Adds 1 to both counters ITERS times; clobbers t0-t3. */
count:
	la t0, counter_amo
	la t1, counter_lrsc
	li t2, ITERS
	li t3, 1
1:	amoadd.d zero, t3, (t0)
2:	lr.d a0, (t1)
	addi a0, a0, 1
	sc.d a1, a0, (t1)
	bnez a1, 2b
	addi t2, t2, -1
	bnez t2, 1b
	ret

	.globl secondary_main
secondary_main:
	csrr t0, mhartid
	li t1, 1
	bne t0, t1, 9f		/* only hart 1 takes part */
	la t1, hart1_id
	sd t0, 0(t1)
	/* Wait for the IPI: WFI wakes on MSIP with mie.MSIE = 1 and mstatus.MIE = 0 (no trap). */
	li t0, 1 << 3
	csrw mie, t0
3:	wfi
	csrr t0, mip
	andi t0, t0, 1 << 3
	beqz t0, 3b
	li t0, CLINT_MSIP + 4
	sw zero, 0(t0)
	csrw mie, zero
	call count
	fence rw, rw
	la t0, hart1_done
	li t1, 1
	amoswap.d.rl zero, t1, (t0)
9:	wfi
	j 9b

	.globl test_main
test_main:
	li t0, CLINT_MSIP + 4
	li t1, 1
	sw t1, 0(t0)
	call count
	la t0, hart1_done
	li t1, WAIT_LIMIT
1:	ld t2, 0(t0)
	bnez t2, 2f
	addi t1, t1, -1
	bnez t1, 1b
	FAIL 1
2:	fence rw, rw
	la t0, hart1_id
	ld a0, 0(t0)
	CHECK 2, a0, 1
	la t0, counter_amo
	ld a0, 0(t0)
	CHECK 3, a0, 2 * ITERS
	la t0, counter_lrsc
	ld a0, 0(t0)
	CHECK 4, a0, 2 * ITERS
	li t0, CLINT_MSIP + 4
	lw a0, 0(t0)
	CHECK 5, a0, 0
	j test_pass
