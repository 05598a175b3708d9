/* SPDX-License-Identifier: MIT */
/* Shared constants and assembler macros for the bare-metal ISA tests (include from .S files). */
#ifndef ISA_COMMON_H
#define ISA_COMMON_H

/* QEMU virt memory map, which hv/ reproduces. */
#define TEST_DEV	0x100000	/* SiFive test finisher: 0x5555 pass, (code << 16) | 0x3333 fail */
#define UART_BASE	0x10000000	/* 16550: THR at +0, LSR at +5 (bit 5 = THR empty) */
#define CLINT_MSIP	0x2000000
#define CLINT_MTIMECMP	0x2004000
#define CLINT_MTIME	0x200bff8

/* a7 holds this when test_fail raises its ecall, so that handlers can tell it from a tested ecall
 * before touching memory (a test may have clobbered mscratch). Fits an addi immediate. */
#define FAIL_MAGIC	(-1234)

/* Exit codes for failures of the harness itself; test checks use 1..249. */
#define EXIT_UNEXPECTED_MTRAP	251
#define EXIT_UNEXPECTED_STRAP	252

/* Trap record, pointed at by mscratch and sscratch (crt.S: trap_area). */
#define TA_T0		0
#define TA_T1		8
#define TA_T2		16
#define TA_MCAUSE	24
#define TA_MEPC		32
#define TA_MTVAL	40
#define TA_MSTATUS	48
#define TA_MCOUNT	56
#define TA_MRESUME	64
#define TA_SCAUSE	72
#define TA_SEPC		80
#define TA_STVAL	88
#define TA_SSTATUS	96
#define TA_SCOUNT	104
#define TA_SRESUME	112
#define TA_SIZE		128

#define MSTATUS_SIE	(1 << 1)
#define MSTATUS_MIE	(1 << 3)
#define MSTATUS_SPIE	(1 << 5)
#define MSTATUS_MPIE	(1 << 7)
#define MSTATUS_SPP	(1 << 8)
#define MSTATUS_MPP	(3 << 11)
#define MSTATUS_MPP_S	(1 << 11)
#define MSTATUS_FS	(3 << 13)
#define MSTATUS_MPRV	(1 << 17)
#define MSTATUS_SUM	(1 << 18)
#define MSTATUS_MXR	(1 << 19)

#ifdef __ASSEMBLER__

/* Names the test for diagnostics; use once per test file. */
.macro TEST_NAME name
	.pushsection .rodata
	.globl test_name
test_name:
	.asciz "\name"
	.popsection
.endm

/* Fails with check number \n (1..249) unconditionally. */
.macro FAIL n
	.if (\n < 1) || (\n > 249)
	.error "check number out of range"
	.endif
	li a1, 0
	li a2, 0
	li a0, \n
	j test_fail
.endm

/* Compares integer register \reg with the 64-bit constant \val; clobbers t6 (and a0-a2 on failure). */
.macro CHECK n, reg, val
	.if (\n < 1) || (\n > 249)
	.error "check number out of range"
	.endif
	li t6, \val
	beq \reg, t6, .Lok\@
	mv a1, \reg
	mv a2, t6
	li a0, \n
	j test_fail
.Lok\@:
.endm

/* Compares two integer registers. */
.macro CHECKR n, reg, exp
	beq \reg, \exp, .Lok\@
	mv a1, \reg
	mv a2, \exp
	li a0, \n
	j test_fail
.Lok\@:
.endm

/* Compares the raw 64 bits of FP register \freg with \val; clobbers t5, t6. */
.macro CHECKF n, freg, val
	fmv.x.d t5, \freg
	CHECK \n, t5, \val
.endm

/* Loads raw bits into FP registers (single: the low 32 bits, NaN-boxed by fmv.w.x); clobber t5. */
.macro FLI_S freg, bits
	li t5, \bits
	fmv.w.x \freg, t5
.endm
.macro FLI_D freg, bits
	li t5, \bits
	fmv.d.x \freg, t5
.endm

/* Compares a NaN-boxed single result with the 32-bit pattern \bits. */
.macro CHECKS n, freg, bits
	CHECKF \n, \freg, (0xffffffff00000000 | \bits)
.endm

/* Compares fflags with \val and clears them; clobbers t5, t6. */
.macro CHECK_FFLAGS n, val
	csrrw t5, fflags, zero
	CHECK \n, t5, \val
.endm

/* Compares a CSR with \val; clobbers t5, t6. */
.macro CHECK_CSR n, csr, val
	csrr t5, \csr
	CHECK \n, t5, \val
.endm

/* Compares a trap_area field with \val; clobbers t5, t6. */
.macro CHECK_TA n, field, val
	la t5, trap_area
	ld t5, \field(t5)
	CHECK \n, t5, \val
.endm

/* Compares a trap_area field with register \reg; clobbers t5. */
.macro CHECK_TA_REG n, field, reg
	la t5, trap_area
	ld t5, \field(t5)
	CHECKR \n, t5, \reg
.endm

/* Compares a trap_area field with the address of \label; clobbers t4, t5, t6. */
.macro CHECK_TA_ADDR n, field, label
	la t5, trap_area
	ld t5, \field(t5)
	la t4, \label
	CHECKR \n, t5, t4
.endm

/* The next exception taken to M-mode resumes, in M-mode, at \label. */
.macro M_RESUME label
	la t5, \label
	la t6, trap_area
	sd t5, TA_MRESUME(t6)
.endm

/* The next exception taken to S-mode resumes, in S-mode, at \label. */
.macro S_RESUME label
	la t5, \label
	la t6, trap_area
	sd t5, TA_SRESUME(t6)
.endm

/* Clears the recorded causes and counts. */
.macro TA_CLEAR
	la t6, trap_area
	sd zero, TA_MCAUSE(t6)
	sd zero, TA_MCOUNT(t6)
	sd zero, TA_SCAUSE(t6)
	sd zero, TA_SCOUNT(t6)
.endm

/* From M-mode, continue at \label in privilege \mode (0 U, 1 S, 3 M) with mstatus.MIE unchanged. */
.macro MRET_TO mode, label
	li t5, MSTATUS_MPP
	csrc mstatus, t5
	li t5, (\mode << 11)
	csrs mstatus, t5
	la t5, \label
	csrw mepc, t5
	mret
.endm

/* From S-mode or U-mode, return to M-mode at \label (through ecall). */
.macro BACK_TO_M label
	M_RESUME \label
	ecall
.endm

#endif /* __ASSEMBLER__ */
#endif /* ISA_COMMON_H */
