/* SPDX-License-Identifier: MIT */
/* loader: puts firmware, kernel, initrd, device tree and OpenSBI's boot info into guest RAM. */
#include "machine_internal.h"
#include "errmsg.h"

#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdbool.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define FDT_MAX_BYTES (64 << 10)
#define FDT_REGION (2ULL << 20)
#define KERNEL_OFFSET_DEFAULT 0x200000ULL
/* OpenSBI's fw_dynamic boot protocol (docs/firmware/fw_dynamic.md in OpenSBI). */
#define FW_DYNAMIC_MAGIC 0x4942534fULL
#define FW_DYNAMIC_VERSION 2ULL
#define FW_NEXT_MODE_S 1ULL

/* Linux RISC-V Image header (Documentation/riscv/boot-image-header.rst). */
struct linux_image_header {
	uint32_t code0, code1;
	uint64_t text_offset, image_size, flags;
	uint32_t version, res1;
	uint64_t res2;
	uint64_t magic;		/* "RISCV\0\0\0", deprecated */
	uint32_t magic2;	/* "RSC\x05" */
	uint32_t res3;
};

/* Reads all of path, refusing files larger than limit. */
static int read_file(const char *what, const char *path, uint64_t limit, uint8_t **out,
		     size_t *out_len, char *err, size_t err_len)
{
	struct stat st;
	uint8_t *buf = NULL;
	int fd, rc = 0;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		hv_errf(err, err_len, "%s %s: %s", what, path, strerror(errno));
		return -errno;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		hv_errf(err, err_len, "%s %s: not a regular file", what, path);
		rc = -EINVAL;
		goto out;
	}
	if (st.st_size == 0) {
		hv_errf(err, err_len, "%s %s: file is empty", what, path);
		rc = -EINVAL;
		goto out;
	}
	if ((uint64_t)st.st_size > limit) {
		hv_errf(err, err_len, "%s %s: %lld bytes do not fit in guest RAM (%llu bytes free); raise --mem",
			what, path, (long long)st.st_size, (unsigned long long)limit);
		rc = -EFBIG;
		goto out;
	}
	buf = malloc(st.st_size);
	if (!buf) {
		rc = -ENOMEM;
		hv_errf(err, err_len, "%s %s: out of memory", what, path);
		goto out;
	}
	size_t got = 0;
	while (got < (size_t)st.st_size) {
		ssize_t n = read(fd, buf + got, st.st_size - got);
		if (n <= 0) {
			hv_errf(err, err_len, "%s %s: read failed: %s", what, path,
				n < 0 ? strerror(errno) : "file shrank");
			rc = -EIO;
			goto out;
		}
		got += n;
	}
	*out = buf;
	*out_len = got;
	buf = NULL;
out:
	free(buf);
	close(fd);
	return rc;
}

static int place(struct hv_machine *m, const char *what, const char *path, uint64_t gpa,
		 const uint8_t *data, uint64_t len, uint64_t limit_gpa, char *err, size_t err_len)
{
	void *dst = guest_ram_ptr(&m->ram, gpa, len);

	if (!dst || gpa + len > limit_gpa) {
		hv_errf(err, err_len, "%s %s: %llu bytes at 0x%llx do not fit in guest RAM; raise --mem",
			what, path, (unsigned long long)len, (unsigned long long)gpa);
		return -EFBIG;
	}
	memcpy(dst, data, len);
	return 0;
}

static int load_elf(struct hv_machine *m, const char *path, const uint8_t *buf, size_t len,
		    uint64_t *entry, uint64_t *end, char *err, size_t err_len)
{
	const Elf64_Ehdr *eh = (const void *)buf;

	if (len < sizeof(*eh)) {
		hv_errf(err, err_len, "kernel %s: truncated ELF header (%zu bytes)", path, len);
		return -ENOEXEC;
	}
	if (buf[EI_CLASS] != ELFCLASS64 || buf[EI_DATA] != ELFDATA2LSB) {
		hv_errf(err, err_len, "kernel %s: not a 64-bit little-endian ELF", path);
		return -ENOEXEC;
	}
	if (eh->e_machine != EM_RISCV) {
		hv_errf(err, err_len, "kernel %s: ELF for machine %u, not RISC-V (%u)", path,
			eh->e_machine, EM_RISCV);
		return -ENOEXEC;
	}
	if (eh->e_phentsize != sizeof(Elf64_Phdr) || eh->e_phoff > len ||
	    (uint64_t)eh->e_phnum * sizeof(Elf64_Phdr) > len - eh->e_phoff) {
		hv_errf(err, err_len, "kernel %s: corrupt ELF program headers", path);
		return -ENOEXEC;
	}
	const Elf64_Phdr *ph = (const void *)(buf + eh->e_phoff);
	int loaded = 0;
	*end = 0;
	for (int i = 0; i < eh->e_phnum; i++) {
		if (ph[i].p_type != PT_LOAD || ph[i].p_memsz == 0)
			continue;
		if (ph[i].p_filesz > ph[i].p_memsz || ph[i].p_offset > len ||
		    ph[i].p_filesz > len - ph[i].p_offset) {
			hv_errf(err, err_len, "kernel %s: segment %d lies outside the file", path, i);
			return -ENOEXEC;
		}
		uint8_t *dst = guest_ram_ptr(&m->ram, ph[i].p_paddr, ph[i].p_memsz);
		if (!dst) {
			hv_errf(err, err_len, "kernel %s: segment %d (0x%llx, %llu bytes) is outside guest RAM",
				path, i, (unsigned long long)ph[i].p_paddr,
				(unsigned long long)ph[i].p_memsz);
			return -ENOEXEC;
		}
		memcpy(dst, buf + ph[i].p_offset, ph[i].p_filesz);
		memset(dst + ph[i].p_filesz, 0, ph[i].p_memsz - ph[i].p_filesz);
		if (ph[i].p_paddr + ph[i].p_memsz > *end)
			*end = ph[i].p_paddr + ph[i].p_memsz;
		loaded++;
	}
	if (!loaded) {
		hv_errf(err, err_len, "kernel %s: ELF has no loadable segment", path);
		return -ENOEXEC;
	}
	*entry = eh->e_entry;
	return 0;
}

static int check_linux_image(const char *path, const uint8_t *buf, size_t len, char *err,
			     size_t err_len)
{
	const struct linux_image_header *h = (const void *)buf;

	if (len < sizeof(*h) || (memcmp(&h->magic2, "RSC\x05", 4) && memcmp(&h->magic, "RISCV\0\0\0", 8))) {
		if (len >= 0x202 + 4 && !memcmp(buf + 0x202, "HdrS", 4))
			hv_errf(err, err_len, "kernel %s: an x86 bzImage, not a RISC-V kernel", path);
		else if (len >= 0x3c && !memcmp(buf + 0x38, "ARM\x64", 4))
			hv_errf(err, err_len, "kernel %s: an arm64 Image, not a RISC-V kernel", path);
		else
			hv_errf(err, err_len, "kernel %s: neither a RISC-V ELF nor a RISC-V Linux Image (no RSC\\x05 magic)", path);
		return -ENOEXEC;
	}
	return 0;
}

static uint64_t align_up(uint64_t v, uint64_t a)
{
	return (v + a - 1) & ~(a - 1);
}

static int load_initrd(struct hv_machine *m, const char *path, uint64_t fdt_addr, char *err,
		       size_t err_len)
{
	uint8_t *buf;
	size_t len;
	int rc;

	rc = read_file("initrd", path, fdt_addr - m->boot.kernel_end, &buf, &len, err, err_len);
	if (rc)
		return rc;
	/* As QEMU: well above the kernel, so its early allocations do not land on it. */
	uint64_t half = m->ram.size / 2 < (128ULL << 20) ? m->ram.size / 2 : (128ULL << 20);
	uint64_t start = align_up(m->ram.base + half, 4096);
	if (start < align_up(m->boot.kernel_end, 4096))
		start = align_up(m->boot.kernel_end, 4096);
	if (start + len > fdt_addr)
		start = (fdt_addr - len) & ~4095ULL;
	if (start < m->boot.kernel_end) {
		hv_errf(err, err_len, "initrd %s: %zu bytes do not fit beside the kernel; raise --mem",
			path, len);
		free(buf);
		return -EFBIG;
	}
	rc = place(m, "initrd", path, start, buf, len, fdt_addr, err, err_len);
	free(buf);
	m->boot.initrd_start = start;
	m->boot.initrd_end = start + len;
	return rc;
}

/* Decodes as an RV64GC instruction (base opcodes and funct fields, unprivileged spec ch. 34). */
static bool rv_legal32(uint32_t i)
{
	uint32_t f3 = (i >> 12) & 7, f7 = i >> 25;

	switch (i & 0x7f) {
	case 0x03: return f3 != 7;				/* LOAD */
	case 0x07: case 0x27: return f3 == 2 || f3 == 3;	/* LOAD-FP, STORE-FP */
	case 0x0f: return f3 <= 1;				/* FENCE, FENCE.I */
	case 0x13: return f3 == 1 ? (i >> 26) == 0 : f3 == 5 ? ((i >> 26) & ~0x10u) == 0 : true;
	case 0x17: case 0x37: case 0x6f: return true;		/* AUIPC, LUI, JAL */
	case 0x1b: return f3 == 0 || (f3 == 1 && f7 == 0) || (f3 == 5 && (f7 & ~0x20u) == 0);
	case 0x23: return f3 <= 3;				/* STORE */
	case 0x2f: return (f3 == 2 || f3 == 3) && (((i >> 27) <= 4) || ((i >> 27) & 3) == 0);
	case 0x33: return f7 == 0 || f7 == 1 || (f7 == 0x20 && (f3 == 0 || f3 == 5));
	case 0x3b: return (f7 == 0 && (f3 == 0 || f3 == 1 || f3 == 5)) || (f7 == 0x20 && (f3 == 0 || f3 == 5)) ||
			  (f7 == 1 && (f3 == 0 || f3 >= 4));
	case 0x43: case 0x47: case 0x4b: case 0x4f: return ((i >> 25) & 3) <= 1;	/* fused multiply-add */
	case 0x53: return true;					/* OP-FP */
	case 0x63: return f3 != 2 && f3 != 3;			/* BRANCH */
	case 0x67: return f3 == 0;				/* JALR */
	case 0x73: return f3 != 4;				/* SYSTEM */
	}
	return false;
}

/*
 * A flat firmware must start with RISC-V code: a file of something else would
 * trap in a loop at mtvec 0 forever with nothing said. Every OpenSBI fw_*.bin
 * begins with straight-line code, so the first 256 bytes must all decode (a
 * random file passes that with a chance far below one in a million).
 */
static int check_firmware(const char *path, const uint8_t *fw, size_t len, char *err, size_t err_len)
{
	static const struct {
		const char *magic;
		size_t off, len;
		const char *what;
	} kinds[] = {
		{ ELFMAG, 0, 4, "an ELF; give the flat fw_dynamic.bin beside it" },
		{ "RSC\x05", 56, 4, "a RISC-V Linux kernel Image; give it as --kernel" },
		{ "MZ", 0, 2, "a PE/EFI image or an x86 or arm64 kernel, not RISC-V firmware" },
		{ "\x1f\x8b", 0, 2, "gzip-compressed; decompress it first" },
		{ "\xfd" "7zXZ", 0, 6, "xz-compressed; decompress it first" },
		{ "\x28\xb5\x2f\xfd", 0, 4, "zstd-compressed; decompress it first" },
		{ "070701", 0, 6, "a cpio archive (an initramfs?); give it as --initrd" },
	};
	size_t text = 0, check = len < 256 ? len : 256;

	for (size_t k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++)
		if (len >= kinds[k].off + kinds[k].len && !memcmp(fw + kinds[k].off, kinds[k].magic, kinds[k].len)) {
			hv_errf(err, err_len, "firmware %s: %s", path, kinds[k].what);
			return -ENOEXEC;
		}
	for (size_t i = 0; i < check; i++)
		text += (fw[i] >= 0x20 && fw[i] < 0x7f) || fw[i] == '\n' || fw[i] == '\r' || fw[i] == '\t';
	if (text == check) {
		hv_errf(err, err_len, "firmware %s: a text file, not RISC-V firmware (give Debian's OpenSBI "
			"fw_dynamic.bin, or --bios none for a bare ELF kernel)", path);
		return -ENOEXEC;
	}
	for (size_t off = 0; off + 2 <= check;) {
		uint32_t i = fw[off] | (uint32_t)fw[off + 1] << 8;
		bool ok;
		size_t n = 2;
		if ((i & 3) == 3) {
			if (off + 4 > len)
				break;
			i |= (uint32_t)fw[off + 2] << 16 | (uint32_t)fw[off + 3] << 24;
			ok = rv_legal32(i);
			n = 4;
		} else {
			/* Compressed: all-zero is defined illegal; quadrant 0 funct3 4 is reserved. */
			ok = i != 0 && !((i & 3) == 0 && (i >> 13) == 4);
		}
		if (!ok) {
			hv_errf(err, err_len, "firmware %s: not RISC-V code (the %zu bytes at offset %zu, 0x%0*x, are "
				"no RV64GC instruction); give Debian's OpenSBI fw_dynamic.bin, or --bios none for a "
				"bare ELF kernel", path, n, off, (int)(2 * n), i);
			return -ENOEXEC;
		}
		off += n;
	}
	return 0;
}

int loader_load(struct hv_machine *m, const struct hv_config *cfg, char *err, size_t err_len)
{
	uint64_t ram_end = m->ram.base + m->ram.size;
	uint64_t fdt_addr = (ram_end - FDT_REGION) & ~(FDT_REGION - 1);
	uint8_t *kbuf = NULL;
	size_t klen;
	int rc;

	if (!cfg->kernel) {
		hv_errf(err, err_len, "no kernel given");
		return -EINVAL;
	}
	rc = read_file("kernel", cfg->kernel, m->ram.size, &kbuf, &klen, err, err_len);
	if (rc)
		return rc;

	if (cfg->bios) {
		uint8_t *fw;
		size_t fwlen;
		rc = read_file("firmware", cfg->bios, m->ram.size, &fw, &fwlen, err, err_len);
		if (rc)
			goto out;
		rc = check_firmware(cfg->bios, fw, fwlen, err, err_len);
		if (!rc && fwlen > KERNEL_OFFSET_DEFAULT) {
			hv_errf(err, err_len, "firmware %s: %zu bytes; firmware must fit in the %u bytes below "
				"the kernel", cfg->bios, fwlen, (unsigned)KERNEL_OFFSET_DEFAULT);
			rc = -EFBIG;
		}
		if (rc) {
			free(fw);
			goto out;
		}
		rc = place(m, "firmware", cfg->bios, m->ram.base, fw, fwlen, fdt_addr, err, err_len);
		free(fw);
		if (rc)
			goto out;
		m->boot.entry = m->ram.base;
		if (klen >= 4 && !memcmp(kbuf, ELFMAG, 4)) {
			uint64_t entry;
			rc = load_elf(m, cfg->kernel, kbuf, klen, &entry, &m->boot.kernel_end, err, err_len);
			m->boot.kernel_addr = entry;
		} else {
			rc = check_linux_image(cfg->kernel, kbuf, klen, err, err_len);
			if (!rc) {
				const struct linux_image_header *h = (const void *)kbuf;
				uint64_t off = h->text_offset ? h->text_offset : KERNEL_OFFSET_DEFAULT;
				uint64_t size = h->image_size > klen ? h->image_size : klen;
				if (off % 4096 || off >= m->ram.size) {
					hv_errf(err, err_len, "kernel %s: bad text_offset 0x%llx", cfg->kernel,
						(unsigned long long)off);
					rc = -ENOEXEC;
					goto out;
				}
				m->boot.kernel_addr = m->ram.base + off;
				m->boot.kernel_end = m->boot.kernel_addr + size;
				rc = place(m, "kernel", cfg->kernel, m->boot.kernel_addr, kbuf, klen, fdt_addr,
					   err, err_len);
				if (!rc && m->boot.kernel_end > fdt_addr) {
					hv_errf(err, err_len, "kernel %s: needs %llu bytes; raise --mem", cfg->kernel,
						(unsigned long long)size);
					rc = -EFBIG;
				}
			}
		}
	} else {
		if (klen < 4 || memcmp(kbuf, ELFMAG, 4)) {
			hv_errf(err, err_len, "kernel %s: without firmware (--bios none) the kernel must be an ELF",
				cfg->kernel);
			rc = -ENOEXEC;
			goto out;
		}
		rc = load_elf(m, cfg->kernel, kbuf, klen, &m->boot.entry, &m->boot.kernel_end, err,
			      err_len);
		m->boot.kernel_addr = m->boot.entry;
	}
	if (rc)
		goto out;
	if (m->boot.kernel_end > fdt_addr) {
		hv_errf(err, err_len, "kernel %s: reaches into the device tree area; raise --mem", cfg->kernel);
		rc = -EFBIG;
		goto out;
	}
	if (cfg->initrd) {
		rc = load_initrd(m, cfg->initrd, fdt_addr, err, err_len);
		if (rc)
			goto out;
	}

	void *fdt = guest_ram_ptr(&m->ram, fdt_addr, FDT_MAX_BYTES);
	rc = fdt_build(m, cfg, fdt, FDT_MAX_BYTES, err, err_len);
	if (rc)
		goto out;
	m->boot.fdt_addr = fdt_addr;
	if (cfg->bios) {
		uint64_t info[6] = { FW_DYNAMIC_MAGIC, FW_DYNAMIC_VERSION, m->boot.kernel_addr,
				     FW_NEXT_MODE_S, 0, 0 };
		m->boot.dynamic_info_addr = fdt_addr + FDT_MAX_BYTES;
		memcpy(guest_ram_ptr(&m->ram, m->boot.dynamic_info_addr, sizeof(info)), info,
		       sizeof(info));
	}
out:
	free(kbuf);
	return rc;
}
