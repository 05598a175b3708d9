/* SPDX-License-Identifier: MIT */
/* elf: the tests' bare-metal guests, a few RV64 instructions at RAM's start in a one-segment ELF file. */
#ifndef HV_TESTS_ELF_H
#define HV_TESTS_ELF_H

#include <elf.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define TEST_ELF_BASE 0x80000000ull

/* Write prog (words instructions) as an executable loaded and entered at TEST_ELF_BASE: 0 or -1. */
static inline int test_write_elf(const char *path, const uint32_t *prog, size_t words)
{
	Elf64_Ehdr eh = {
		.e_ident = { ELFMAG0, ELFMAG1, ELFMAG2, ELFMAG3, ELFCLASS64, ELFDATA2LSB, EV_CURRENT },
		.e_type = ET_EXEC, .e_machine = EM_RISCV, .e_version = EV_CURRENT,
		.e_entry = TEST_ELF_BASE, .e_phoff = sizeof(Elf64_Ehdr), .e_ehsize = sizeof(Elf64_Ehdr),
		.e_phentsize = sizeof(Elf64_Phdr), .e_phnum = 1,
	};
	Elf64_Phdr ph = {
		.p_type = PT_LOAD, .p_flags = PF_R | PF_X,
		.p_offset = sizeof(Elf64_Ehdr) + sizeof(Elf64_Phdr),
		.p_vaddr = TEST_ELF_BASE, .p_paddr = TEST_ELF_BASE,
		.p_filesz = words * 4, .p_memsz = words * 4, .p_align = 4,
	};
	FILE *f = fopen(path, "wb");

	if (!f)
		return -1;
	if (fwrite(&eh, sizeof(eh), 1, f) != 1 || fwrite(&ph, sizeof(ph), 1, f) != 1 ||
	    fwrite(prog, words * 4, 1, f) != 1) {
		fclose(f);
		return -1;
	}
	return fclose(f);
}

#endif
