/* SPDX-License-Identifier: MIT */
/* Start-up, trap handlers, console output and pass/fail exits linked into every ISA test. */
#include "common.h"

	.section .text.init, "ax"
	.globl _start
_start:
	/* CSRs an implementation may lack (PMP) trap to the next label instead of hanging. */
	la t0, 1f
	csrw mtvec, t0
	/* One NAPOT region over all memory so that S and U accesses pass PMP (priv spec 3.7.1). */
	li t0, -1
	csrw pmpaddr0, t0
	li t0, 0x1f
	csrw pmpcfg0, t0
	.balign 4
1:	la t0, trap_vector
	csrw mtvec, t0
	la t0, trap_area
	csrw mscratch, t0
	csrw sscratch, t0
	li t0, MSTATUS_FS
	csrs mstatus, t0
	fscsr zero
	csrw mie, zero
	/* mtimecmp resets to 0 on QEMU, leaving MTIP pending: start with no timer armed. */
	csrr t0, mhartid
	slli t0, t0, 3
	li t1, CLINT_MTIMECMP
	add t1, t1, t0
	li t0, -1
	sd t0, 0(t1)
	csrr t0, mhartid
	bnez t0, secondary
	la sp, stack_top
	j test_main

	/* Other harts run secondary_main if the test defines it (smp tests), else park. */
secondary:
	la t1, secondary_main
	beqz t1, park
	slli t0, t0, 12
	la sp, stack_top
	sub sp, sp, t0
	jr t1
park:
	wfi
	j park
	.weak secondary_main

	.text
/* test_fail(a0 = check, a1 = actual, a2 = expected), callable from any mode: an ecall carrying
 * FAIL_MAGIC in a7 reaches M-mode, which reports and exits even if memory is not mapped. */
	.globl test_fail
test_fail:
	li a7, FAIL_MAGIC
	ecall
	j test_fail

	.globl test_pass
test_pass:
	li t0, TEST_DEV
	li t1, 0x5555
	sw t1, 0(t0)
1:	wfi
	j 1b

/* Runs in M-mode with the physical address space; s0-s2 hold a0-a2. */
m_fail:
	mv s0, a0
	mv s1, a1
	mv s2, a2
	la a0, str_fail
	jal print_str
	la a0, test_name
	jal print_str
	la a0, str_check
	jal print_str
	mv a0, s0
	jal print_dec
	la a0, str_got
	jal print_str
	mv a0, s1
	jal print_hex
	la a0, str_exp
	jal print_str
	mv a0, s2
	jal print_hex
	li a0, '\n'
	jal print_char
	mv a0, s0
exit_code:
	slli a0, a0, 16
	li t0, 0x3333
	or a0, a0, t0
	li t0, TEST_DEV
	sw a0, 0(t0)
1:	wfi
	j 1b

m_unexpected:
	la a0, str_unexp_m
	jal print_str
	la a0, test_name
	jal print_str
	la a0, str_cause
	jal print_str
	csrr a0, mcause
	jal print_hex
	la a0, str_epc
	jal print_str
	csrr a0, mepc
	jal print_hex
	la a0, str_tval
	jal print_str
	csrr a0, mtval
	jal print_hex
	li a0, '\n'
	jal print_char
	li a0, EXIT_UNEXPECTED_MTRAP
	j exit_code

/* print_char(a0); leaf, clobbers t0-t1. The LSR poll is bounded so a UART model without it still prints. */
	.globl print_char
print_char:
	li t0, UART_BASE
	li t1, 100000
1:	lbu t2, 5(t0)
	andi t2, t2, 0x20
	bnez t2, 2f
	addi t1, t1, -1
	bnez t1, 1b
2:	sb a0, 0(t0)
	ret

/* print_str(a0 = NUL-terminated string); clobbers a0, t0-t3, t6. */
	.globl print_str
print_str:
	mv t6, ra
	mv t3, a0
1:	lbu a0, 0(t3)
	beqz a0, 2f
	jal print_char
	addi t3, t3, 1
	j 1b
2:	mv ra, t6
	ret

/* print_hex(a0): "0x" and 16 digits; clobbers a0, t0-t4, t6. */
	.globl print_hex
print_hex:
	mv t6, ra
	mv t3, a0
	li a0, '0'
	jal print_char
	li a0, 'x'
	jal print_char
	li t4, 60
1:	srl a0, t3, t4
	andi a0, a0, 15
	addi a0, a0, '0'
	li t0, '9'
	ble a0, t0, 2f
	addi a0, a0, 'a' - '0' - 10
2:	jal print_char
	addi t4, t4, -4
	bgez t4, 1b
	mv ra, t6
	ret

/* print_dec(a0 < 1000); clobbers a0, t0-t4, t6. */
print_dec:
	mv t6, ra
	mv t3, a0
	li t4, 100
	blt t3, t4, 1f
	divu a0, t3, t4
	remu t3, t3, t4
	addi a0, a0, '0'
	jal print_char
	li t4, 10
	divu a0, t3, t4
	j 2f
1:	li t4, 10
	divu a0, t3, t4
	beqz a0, 3f
2:	addi a0, a0, '0'
	jal print_char
3:	li t4, 10
	remu a0, t3, t4
	addi a0, a0, '0'
	jal print_char
	mv ra, t6
	ret

/* Machine trap vector: records cause, epc, tval and mstatus in trap_area. Interrupts are
 * acknowledged by clearing mie and return to mepc; exceptions continue at TA_MRESUME in M-mode. */
	.balign 4
	.globl trap_vector
trap_vector:
	/* test_fail's ecall from U, S or M (causes 8, 9, 11), recognised using a7 alone. */
	addi a7, a7, -(FAIL_MAGIC)
	bnez a7, 4f
	csrr a7, mcause
	addi a7, a7, -8
	beqz a7, m_fail
	addi a7, a7, -1
	beqz a7, m_fail
	addi a7, a7, -2
	beqz a7, m_fail
	li a7, 0
4:	addi a7, a7, FAIL_MAGIC
	csrrw t6, mscratch, t6
	sd t0, TA_T0(t6)
	sd t1, TA_T1(t6)
	csrr t0, mcause
	bltz t0, 1f
	sd t0, TA_MCAUSE(t6)
	csrr t0, mepc
	sd t0, TA_MEPC(t6)
	csrr t0, mtval
	sd t0, TA_MTVAL(t6)
	csrr t0, mstatus
	sd t0, TA_MSTATUS(t6)
	ld t0, TA_MCOUNT(t6)
	addi t0, t0, 1
	sd t0, TA_MCOUNT(t6)
	ld t0, TA_MRESUME(t6)
	beqz t0, m_unexpected
	sd zero, TA_MRESUME(t6)
	csrw mepc, t0
	li t0, MSTATUS_MPP
	csrs mstatus, t0
	j 3f
1:	sd t0, TA_MCAUSE(t6)
	csrr t0, mepc
	sd t0, TA_MEPC(t6)
	csrr t0, mstatus
	sd t0, TA_MSTATUS(t6)
	ld t0, TA_MCOUNT(t6)
	addi t0, t0, 1
	sd t0, TA_MCOUNT(t6)
	csrw mie, zero
3:	ld t0, TA_T0(t6)
	ld t1, TA_T1(t6)
	csrrw t6, mscratch, t6
	mret

/* Supervisor trap vector, same contract with sie/TA_SRESUME; resumes in S-mode.
 * Relies on trap_area being identity mapped when paging is on. */
	.balign 4
	.globl s_trap_vector
s_trap_vector:
	addi a7, a7, -(FAIL_MAGIC)
	bnez a7, 4f
	csrr a7, scause
	addi a7, a7, -8
	bnez a7, 5f
	li a7, FAIL_MAGIC
	ecall			/* test_fail from U-mode with ecalls delegated: forward to M */
5:	li a7, 0
4:	addi a7, a7, FAIL_MAGIC
	csrrw t6, sscratch, t6
	sd t0, TA_T0(t6)
	sd t1, TA_T1(t6)
	csrr t0, scause
	bltz t0, 1f
	sd t0, TA_SCAUSE(t6)
	csrr t0, sepc
	sd t0, TA_SEPC(t6)
	csrr t0, stval
	sd t0, TA_STVAL(t6)
	csrr t0, sstatus
	sd t0, TA_SSTATUS(t6)
	ld t0, TA_SCOUNT(t6)
	addi t0, t0, 1
	sd t0, TA_SCOUNT(t6)
	ld t0, TA_SRESUME(t6)
	beqz t0, s_unexpected
	sd zero, TA_SRESUME(t6)
	csrw sepc, t0
	li t0, MSTATUS_SPP
	csrs sstatus, t0
	j 3f
1:	sd t0, TA_SCAUSE(t6)
	csrr t0, sepc
	sd t0, TA_SEPC(t6)
	csrr t0, sstatus
	sd t0, TA_SSTATUS(t6)
	ld t0, TA_SCOUNT(t6)
	addi t0, t0, 1
	sd t0, TA_SCOUNT(t6)
	csrw sie, zero
3:	ld t0, TA_T0(t6)
	ld t1, TA_T1(t6)
	csrrw t6, sscratch, t6
	sret

s_unexpected:
	csrr a1, scause
	csrr a2, sepc
	li a0, EXIT_UNEXPECTED_STRAP
	li a7, FAIL_MAGIC
	ecall
	j s_unexpected

	.section .rodata
str_fail:	.asciz "FAIL "
str_check:	.asciz ": check "
str_got:	.asciz " got "
str_exp:	.asciz " expected "
str_unexp_m:	.asciz "FAIL unexpected M-mode trap in "
str_cause:	.asciz ": mcause "
str_epc:	.asciz " mepc "
str_tval:	.asciz " mtval "

	.bss
	.balign 64
	.globl trap_area
trap_area:
	.skip TA_SIZE
