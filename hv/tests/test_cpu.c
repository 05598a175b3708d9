/* SPDX-License-Identifier: MIT */
/* test_cpu: step accounting and slicing invariance of the hart, through the public machine API. */
#include "hv/hv.h"

#include <elf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define LOOPS 100
#define RAM_BASE 0x80000000ull

static int failures;

#define CHECK_EQ(got, want, what)                                              \
	do {                                                                   \
		uint64_t got_ = (got), want_ = (want);                         \
		if (got_ != want_) {                                           \
			failures++;                                            \
			fprintf(stderr, "%s:%d: FAIL %s: got %llu, want %llu\n", \
				__FILE__, __LINE__, what, (unsigned long long)got_, \
				(unsigned long long)want_);                    \
		}                                                              \
	} while (0)

enum { ZERO = 0, T0 = 5, T1 = 6, T2 = 7, A0 = 10, A1 = 11, A2 = 12, T3 = 28 };

static uint32_t i_type(int32_t imm, unsigned rs1, unsigned f3, unsigned rd, unsigned op)
{
	return ((uint32_t)imm & 0xfff) << 20 | rs1 << 15 | f3 << 12 | rd << 7 | op;
}

static uint32_t csr(unsigned num, unsigned rs1, unsigned f3, unsigned rd)
{
	return num << 20 | rs1 << 15 | f3 << 12 | rd << 7 | 0x73;
}

static uint32_t branch(int32_t off, unsigned rs2, unsigned rs1, unsigned f3)
{
	uint32_t u = (uint32_t)off;

	return ((u >> 12) & 1) << 31 | ((u >> 5) & 0x3f) << 25 | rs2 << 20 | rs1 << 15 |
	       f3 << 12 | ((u >> 1) & 0xf) << 8 | ((u >> 11) & 1) << 7 | 0x63;
}

/*
 * LOOPS iterations of: addi, ecall (a trap: one step, not retired), a
 * four-instruction handler that returns past the ecall, and blt. Then the
 * guest checks minstret against the retired count it must see and reports
 * through the test device: 0x5555 (poweroff) or 1 << 16 | 0x3333 (failure).
 */
static size_t build_program(uint32_t *p)
{
	size_t n = 0;
	const int handler = 18 * 4;

	p[n++] = 0x00000297;				/* 0  auipc t0, 0 */
	p[n++] = i_type(handler, T0, 0, T0, 0x13);	/* 4  addi t0, t0, handler */
	p[n++] = csr(0x305, T0, 1, ZERO);		/* 8  csrw mtvec, t0 */
	p[n++] = i_type(0, ZERO, 0, A0, 0x13);		/* 12 li a0, 0 */
	p[n++] = i_type(LOOPS, ZERO, 0, A1, 0x13);	/* 16 li a1, LOOPS */
	p[n++] = i_type(1, A0, 0, A0, 0x13);		/* 20 loop: addi a0, a0, 1 */
	p[n++] = 0x00000073;				/* 24 ecall */
	p[n++] = branch(-8, A1, A0, 4);			/* 28 blt a0, a1, loop */
	p[n++] = csr(0xb02, ZERO, 2, A2);		/* 32 csrr a2, minstret */
	/* 5 before the loop, 6 retired per iteration (addi, 4 in the handler, blt). */
	p[n++] = i_type(5 + 6 * LOOPS, ZERO, 0, T3, 0x13); /* 36 li t3, expected */
	p[n++] = (0x100u << 12) | T0 << 7 | 0x37;	/* 40 lui t0, 0x100 (test device) */
	p[n++] = (0x5u << 12) | T1 << 7 | 0x37;		/* 44 lui t1, 5 */
	p[n++] = i_type(0x555, T1, 0, T1, 0x13);	/* 48 addi t1, t1, 0x555 */
	p[n++] = branch(12, T3, A2, 0);			/* 52 beq a2, t3, 64 */
	p[n++] = (0x13u << 12) | T1 << 7 | 0x37;	/* 56 lui t1, 0x13 */
	p[n++] = i_type(0x333, T1, 0, T1, 0x13);	/* 60 addi t1, t1, 0x333 */
	p[n++] = (uint32_t)T1 << 20 | T0 << 15 | 2 << 12 | 0x23; /* 64 sw t1, 0(t0) */
	p[n++] = 0x0000006f;				/* 68 j . */
	p[n++] = csr(0x341, ZERO, 2, T2);		/* 72 handler: csrr t2, mepc */
	p[n++] = i_type(4, T2, 0, T2, 0x13);		/* 76 addi t2, t2, 4 */
	p[n++] = csr(0x341, T2, 1, ZERO);		/* 80 csrw mepc, t2 */
	p[n++] = 0x30200073;				/* 84 mret */
	return n;
}

/* Steps to the retirement of the poweroff store: a trap counts one step. */
#define EXPECTED_STEPS (5 + 7 * LOOPS + 7)

static int write_elf(const char *path)
{
	uint32_t prog[64];
	size_t words = build_program(prog);
	Elf64_Ehdr eh = {
		.e_ident = { ELFMAG0, ELFMAG1, ELFMAG2, ELFMAG3, ELFCLASS64, ELFDATA2LSB, EV_CURRENT },
		.e_type = ET_EXEC, .e_machine = EM_RISCV, .e_version = EV_CURRENT,
		.e_entry = RAM_BASE, .e_phoff = sizeof(Elf64_Ehdr), .e_ehsize = sizeof(Elf64_Ehdr),
		.e_phentsize = sizeof(Elf64_Phdr), .e_phnum = 1,
	};
	Elf64_Phdr ph = {
		.p_type = PT_LOAD, .p_flags = PF_R | PF_X,
		.p_offset = sizeof(Elf64_Ehdr) + sizeof(Elf64_Phdr),
		.p_vaddr = RAM_BASE, .p_paddr = RAM_BASE,
		.p_filesz = words * 4, .p_memsz = words * 4, .p_align = 4,
	};
	FILE *f = fopen(path, "wb");

	if (!f)
		return -1;
	if (fwrite(&eh, sizeof(eh), 1, f) != 1 || fwrite(&ph, sizeof(ph), 1, f) != 1 ||
	    fwrite(prog, 4, words, f) != words) {
		fclose(f);
		return -1;
	}
	return fclose(f);
}

static struct hv_machine *create(const char *elf)
{
	struct hv_config cfg = { .mem_bytes = 16 << 20, .smp = 1, .kernel = elf };
	struct hv_machine *m;
	char err[256];

	if (hv_machine_create(&cfg, NULL, NULL, &m, err, sizeof(err))) {
		fprintf(stderr, "test_cpu: cannot create machine: %s\n", err);
		exit(1);
	}
	return m;
}

/* Runs to `until` steps in slices of `slice`; returns the last stop reason. */
static enum hv_stop run_sliced(struct hv_machine *m, uint64_t until, uint64_t slice)
{
	struct hv_stop_info info = { .why = HV_STOP_BUDGET };

	while (hv_icount(m) < until) {
		uint64_t b = until - hv_icount(m) < slice ? until - hv_icount(m) : slice;
		uint64_t before = hv_icount(m);
		if (hv_run(m, b, &info)) {
			fprintf(stderr, "test_cpu: hv_run failed\n");
			exit(1);
		}
		if (info.why != HV_STOP_BUDGET)
			break;
		CHECK_EQ(hv_icount(m) - before, b, "steps taken for a budget");
	}
	return info.why;
}

int main(void)
{
	char path[] = "/tmp/test_cpu_XXXXXX";
	int fd = mkstemp(path);
	static const uint64_t slices[] = { 1, 3, 7, 64, 1000000 };
	uint8_t ref_mid[HV_DIGEST_BYTES], ref_end[HV_DIGEST_BYTES], d[HV_DIGEST_BYTES];
	const uint64_t mid = EXPECTED_STEPS / 2 + 1;

	if (fd < 0 || close(fd) || write_elf(path)) {
		fprintf(stderr, "test_cpu: cannot write %s\n", path);
		return 1;
	}
	for (size_t i = 0; i < sizeof(slices) / sizeof(slices[0]); i++) {
		struct hv_machine *m = create(path);

		CHECK_EQ(run_sliced(m, mid, slices[i]), HV_STOP_BUDGET, "stop reason at mid");
		CHECK_EQ(hv_icount(m), mid, "icount at mid");
		hv_digest(m, d);
		if (i == 0)
			memcpy(ref_mid, d, sizeof(d));
		else if (memcmp(ref_mid, d, sizeof(d)))
			CHECK_EQ(slices[i], 0, "digest at mid differs for slice size");

		enum hv_stop why = run_sliced(m, 10 * EXPECTED_STEPS, slices[i]);
		CHECK_EQ(why, HV_STOP_POWEROFF, "stop reason (HV_STOP_FAIL: minstret wrong)");
		CHECK_EQ(hv_icount(m), EXPECTED_STEPS, "steps to poweroff");
		hv_digest(m, d);
		if (i == 0)
			memcpy(ref_end, d, sizeof(d));
		else if (memcmp(ref_end, d, sizeof(d)))
			CHECK_EQ(slices[i], 0, "final digest differs for slice size");
		hv_machine_destroy(m);
	}
	unlink(path);
	if (failures) {
		fprintf(stderr, "test_cpu: %d failures\n", failures);
		return 1;
	}
	printf("test_cpu: ok\n");
	return 0;
}
