/* SPDX-License-Identifier: MIT */
/* fdt: the flattened device tree describing the virt board, built with libfdt at boot. */
#include "machine_internal.h"

#include <errno.h>
#include <libfdt.h>
#include <stdio.h>
#include <string.h>

#define ISA_STRING "rv64imafdc_zicsr_zifencei"
#define UART_CLOCK_HZ 3686400
#define PHANDLE_PLIC 1
#define PHANDLE_TEST 2
#define PHANDLE_CPU_INTC(h) (16 + (h))

/* Every fdt_* call below returns 0 or a negative libfdt error; the first one wins. */
#define TRY(call)                      \
	do {                           \
		int rc_ = (call);      \
		if (rc_ < 0) {         \
			rc = rc_;      \
			goto out;      \
		}                      \
	} while (0)

static int prop_reg(void *fdt, uint64_t base, uint64_t size)
{
	fdt64_t reg[2] = { cpu_to_fdt64(base), cpu_to_fdt64(size) };

	return fdt_property(fdt, "reg", reg, sizeof(reg));
}

static int begin_node_at(void *fdt, const char *name, uint64_t addr)
{
	char buf[64];

	snprintf(buf, sizeof(buf), "%s@%llx", name, (unsigned long long)addr);
	return fdt_begin_node(fdt, buf);
}

static int add_cpus(void *fdt, int nharts)
{
	int rc = 0;

	TRY(fdt_begin_node(fdt, "cpus"));
	TRY(fdt_property_cell(fdt, "#address-cells", 1));
	TRY(fdt_property_cell(fdt, "#size-cells", 0));
	TRY(fdt_property_cell(fdt, "timebase-frequency", (uint32_t)HV_MTIME_HZ));
	for (int h = 0; h < nharts; h++) {
		TRY(begin_node_at(fdt, "cpu", h));
		TRY(fdt_property_string(fdt, "device_type", "cpu"));
		TRY(fdt_property_cell(fdt, "reg", h));
		TRY(fdt_property_string(fdt, "status", "okay"));
		TRY(fdt_property_string(fdt, "compatible", "riscv"));
		TRY(fdt_property_string(fdt, "riscv,isa", ISA_STRING));
		TRY(fdt_property_string(fdt, "mmu-type", "riscv,sv48"));
		TRY(fdt_begin_node(fdt, "interrupt-controller"));
		TRY(fdt_property_cell(fdt, "#interrupt-cells", 1));
		TRY(fdt_property(fdt, "interrupt-controller", NULL, 0));
		TRY(fdt_property_string(fdt, "compatible", "riscv,cpu-intc"));
		TRY(fdt_property_cell(fdt, "phandle", PHANDLE_CPU_INTC(h)));
		TRY(fdt_end_node(fdt));
		TRY(fdt_end_node(fdt));
	}
	TRY(fdt_end_node(fdt));
out:
	return rc;
}

/* interrupts-extended pairs: <cpu-intc cause> for each hart and each cause. */
static int prop_irqs_ext(void *fdt, int nharts, const uint32_t *causes, int ncauses)
{
	fdt32_t cells[HV_MAX_HARTS * 4];
	int n = 0;

	for (int h = 0; h < nharts; h++)
		for (int c = 0; c < ncauses; c++) {
			cells[n++] = cpu_to_fdt32(PHANDLE_CPU_INTC(h));
			cells[n++] = cpu_to_fdt32(causes[c]);
		}
	return fdt_property(fdt, "interrupts-extended", cells, n * sizeof(cells[0]));
}

static int add_virtio(void *fdt, uint64_t base, int irq)
{
	int rc = 0;

	TRY(begin_node_at(fdt, "virtio_mmio", base));
	TRY(fdt_property_string(fdt, "compatible", "virtio,mmio"));
	TRY(prop_reg(fdt, base, VIRT_VIRTIO_SIZE));
	TRY(fdt_property_cell(fdt, "interrupt-parent", PHANDLE_PLIC));
	TRY(fdt_property_cell(fdt, "interrupts", irq));
	TRY(fdt_end_node(fdt));
out:
	return rc;
}

/* syscon-poweroff / syscon-reboot at the root, as QEMU places them (OpenSBI and Linux use them). */
static int add_reset_nodes(void *fdt)
{
	int rc = 0;

	TRY(fdt_begin_node(fdt, "poweroff"));
	TRY(fdt_property_string(fdt, "compatible", "syscon-poweroff"));
	TRY(fdt_property_cell(fdt, "regmap", PHANDLE_TEST));
	TRY(fdt_property_cell(fdt, "offset", 0));
	TRY(fdt_property_cell(fdt, "value", 0x5555));
	TRY(fdt_end_node(fdt));
	TRY(fdt_begin_node(fdt, "reboot"));
	TRY(fdt_property_string(fdt, "compatible", "syscon-reboot"));
	TRY(fdt_property_cell(fdt, "regmap", PHANDLE_TEST));
	TRY(fdt_property_cell(fdt, "offset", 0));
	TRY(fdt_property_cell(fdt, "value", 0x7777));
	TRY(fdt_end_node(fdt));

out:
	return rc;
}

static int add_soc(void *fdt, const struct hv_machine *m)
{
	static const uint32_t clint_causes[] = { RV_IRQ_MSIP, RV_IRQ_MTIP };
	static const uint32_t plic_causes[] = { RV_IRQ_MEIP, RV_IRQ_SEIP };
	static const char test_compat[] = "sifive,test1\0sifive,test0\0syscon";
	static const char clint_compat[] = "sifive,clint0\0riscv,clint0";
	static const char plic_compat[] = "sifive,plic-1.0.0\0riscv,plic0";
	int rc = 0, slot = 0;

	TRY(fdt_begin_node(fdt, "soc"));
	TRY(fdt_property_cell(fdt, "#address-cells", 2));
	TRY(fdt_property_cell(fdt, "#size-cells", 2));
	TRY(fdt_property_string(fdt, "compatible", "simple-bus"));
	TRY(fdt_property(fdt, "ranges", NULL, 0));

	TRY(begin_node_at(fdt, "test", VIRT_TEST_BASE));
	TRY(fdt_property(fdt, "compatible", test_compat, sizeof(test_compat)));
	TRY(prop_reg(fdt, VIRT_TEST_BASE, VIRT_TEST_SIZE));
	TRY(fdt_property_cell(fdt, "phandle", PHANDLE_TEST));
	TRY(fdt_end_node(fdt));
	TRY(begin_node_at(fdt, "clint", VIRT_CLINT_BASE));
	TRY(fdt_property(fdt, "compatible", clint_compat, sizeof(clint_compat)));
	TRY(prop_reg(fdt, VIRT_CLINT_BASE, VIRT_CLINT_SIZE));
	TRY(prop_irqs_ext(fdt, m->nharts, clint_causes, 2));
	TRY(fdt_end_node(fdt));

	TRY(begin_node_at(fdt, "plic", VIRT_PLIC_BASE));
	TRY(fdt_property(fdt, "compatible", plic_compat, sizeof(plic_compat)));
	TRY(prop_reg(fdt, VIRT_PLIC_BASE, VIRT_PLIC_SIZE));
	TRY(fdt_property_cell(fdt, "#address-cells", 0));
	TRY(fdt_property_cell(fdt, "#interrupt-cells", 1));
	TRY(fdt_property(fdt, "interrupt-controller", NULL, 0));
	TRY(fdt_property_cell(fdt, "riscv,ndev", VIRT_PLIC_NDEV));
	TRY(prop_irqs_ext(fdt, m->nharts, plic_causes, 2));
	TRY(fdt_property_cell(fdt, "phandle", PHANDLE_PLIC));
	TRY(fdt_end_node(fdt));

	TRY(begin_node_at(fdt, "serial", VIRT_UART0_BASE));
	TRY(fdt_property_string(fdt, "compatible", "ns16550a"));
	TRY(prop_reg(fdt, VIRT_UART0_BASE, VIRT_UART0_SIZE));
	TRY(fdt_property_cell(fdt, "clock-frequency", UART_CLOCK_HZ));
	TRY(fdt_property_cell(fdt, "interrupt-parent", PHANDLE_PLIC));
	TRY(fdt_property_cell(fdt, "interrupts", VIRT_UART0_IRQ));
	TRY(fdt_end_node(fdt));

	/* Slots in the order machine.c fills them: disk first, then network. */
	if (m->blk) {
		TRY(add_virtio(fdt, VIRT_VIRTIO_BASE + slot * VIRT_VIRTIO_SIZE, VIRT_VIRTIO_IRQ + slot));
		slot++;
	}
	if (m->net)
		TRY(add_virtio(fdt, VIRT_VIRTIO_BASE + slot * VIRT_VIRTIO_SIZE, VIRT_VIRTIO_IRQ + slot));
	TRY(fdt_end_node(fdt));
out:
	return rc;
}

int fdt_build(struct hv_machine *m, const struct hv_config *cfg, void *fdt, size_t len,
	      char *err, size_t err_len)
{
	int rc = 0;
	char path[64];

	TRY(fdt_create(fdt, len));
	TRY(fdt_finish_reservemap(fdt));
	TRY(fdt_begin_node(fdt, ""));
	TRY(fdt_property_cell(fdt, "#address-cells", 2));
	TRY(fdt_property_cell(fdt, "#size-cells", 2));
	TRY(fdt_property_string(fdt, "compatible", "riscv-virtio"));
	TRY(fdt_property_string(fdt, "model", "ftvm,virt"));

	TRY(fdt_begin_node(fdt, "chosen"));
	snprintf(path, sizeof(path), "/soc/serial@%llx", (unsigned long long)VIRT_UART0_BASE);
	TRY(fdt_property_string(fdt, "stdout-path", path));
	if (cfg->append)
		TRY(fdt_property_string(fdt, "bootargs", cfg->append));
	if (m->boot.initrd_end) {
		TRY(fdt_property_u64(fdt, "linux,initrd-start", m->boot.initrd_start));
		TRY(fdt_property_u64(fdt, "linux,initrd-end", m->boot.initrd_end));
	}
	TRY(fdt_end_node(fdt));

	TRY(begin_node_at(fdt, "memory", m->ram.base));
	TRY(fdt_property_string(fdt, "device_type", "memory"));
	TRY(prop_reg(fdt, m->ram.base, m->ram.size));
	TRY(fdt_end_node(fdt));

	TRY(add_cpus(fdt, m->nharts));
	TRY(add_reset_nodes(fdt));
	TRY(add_soc(fdt, m));
	TRY(fdt_end_node(fdt));
	TRY(fdt_finish(fdt));
out:
	if (rc < 0)
		snprintf(err, err_len, "building the device tree: %s", fdt_strerror(rc));
	return rc < 0 ? -EINVAL : 0;
}
