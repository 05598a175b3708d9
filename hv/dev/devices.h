/* SPDX-License-Identifier: MIT */
/* devices: constructors of the virt machine's device models, as machine.c wires them. */
#ifndef HV_DEVICES_H
#define HV_DEVICES_H

#include <stddef.h>
#include <stdint.h>

#include "hv/dev/dev.h"

struct bus;

/* QEMU virt memory map (hw/riscv/virt.c), kept so the same binaries run on both. */
#define VIRT_TEST_BASE		0x00100000ULL
#define VIRT_TEST_SIZE		0x1000ULL
#define VIRT_CLINT_BASE		0x02000000ULL
#define VIRT_CLINT_SIZE		0x10000ULL
#define VIRT_PLIC_BASE		0x0c000000ULL
#define VIRT_PLIC_SIZE		0x600000ULL
#define VIRT_UART0_BASE		0x10000000ULL
#define VIRT_UART0_SIZE		0x100ULL
#define VIRT_VIRTIO_BASE	0x10001000ULL
#define VIRT_VIRTIO_SIZE	0x1000ULL
#define VIRT_VIRTIO_COUNT	8
#define VIRT_DRAM_BASE		0x80000000ULL

#define VIRT_UART0_IRQ		10
#define VIRT_VIRTIO_IRQ		1	/* slot i uses irq 1 + i */
#define VIRT_PLIC_NDEV		95

struct clint;
struct plic;
struct uart;

/*
 * Device state through the little-endian serializer (le.h): save writes the
 * guest-visible fields in a fixed order, never host pointers or counters; it
 * is what snapshots store and digests hash. load reads the same record and
 * returns -EINVAL, leaving the device unchanged, for a short or inconsistent
 * one. Irq lines are not re-driven: their receivers load their own levels.
 */
struct le_writer;
struct le_reader;
void clint_save(const struct clint *c, struct le_writer *w);
int clint_load(struct clint *c, struct le_reader *r) __attribute__((warn_unused_result));
void plic_save(const struct plic *p, struct le_writer *w);
int plic_load(struct plic *p, struct le_reader *r) __attribute__((warn_unused_result));
void uart_save(const struct uart *u, struct le_writer *w);
int uart_load(struct uart *u, struct le_reader *r) __attribute__((warn_unused_result));

/* SiFive test device: the guest ends the run. */
enum syscon_action { SYSCON_POWEROFF, SYSCON_REBOOT, SYSCON_FAIL };
struct syscon;
struct syscon *syscon_create(void (*action)(void *opaque, enum syscon_action a, int code),
			     void *opaque);
void syscon_destroy(struct syscon *s);
extern const struct dev_ops syscon_ops;

/*
 * CLINT: msip and mtimecmp per hart, mtime from the bus (bus.h). Drives
 * each hart's MSIP and MTIP lines; the machine calls clint_update() at slice
 * boundaries and after clock events, and stops slices at clint_next_deadline().
 */
struct clint;
struct clint *clint_create(const struct bus *bus, int nharts, const struct irq_line *msip,
			   const struct irq_line *mtip);
void clint_destroy(struct clint *c);
void clint_update(struct clint *c, uint64_t mtime);
uint64_t clint_next_deadline(const struct clint *c);	/* min pending mtimecmp, UINT64_MAX if none */
extern const struct dev_ops clint_ops;

/* PLIC: contexts 2h (M) and 2h+1 (S) per hart h, as on QEMU virt. */
struct plic;
struct plic *plic_create(int nharts, const struct irq_line *ctx_lines /* 2*nharts */);
void plic_destroy(struct plic *p);
void plic_set_irq(void *plic, int irq, int level);	/* irq_line.set for sources */
extern const struct dev_ops plic_ops;

/* NS16550A UART. Output goes to out(); input arrives only via uart_receive(). */
struct uart;
struct uart *uart_create(const struct irq_line *irq,
			 void (*out)(void *opaque, const uint8_t *buf, size_t len),
			 void *opaque);
void uart_destroy(struct uart *u);
size_t uart_rx_room(const struct uart *u);
size_t uart_receive(struct uart *u, const uint8_t *buf, size_t len);	/* bytes taken */
extern const struct dev_ops uart_ops;

/* virtio-mmio (version 2) transport with its device behind it. */
struct virtio_mmio;
extern const struct dev_ops virtio_mmio_ops;
void virtio_mmio_destroy(struct virtio_mmio *v);

/*
 * virtio devices keep the ram pointer for their lifetime and mark every page
 * they write (used rings, disk reads, received frames) dirty through it.
 */

/* virtio-blk over a raw image; requests complete synchronously at QueueNotify. */
struct virtio_mmio *virtio_blk_create(const struct guest_ram *ram, const struct irq_line *irq,
				      const char *path, char *err, size_t err_len);
/* "FILE[,snapshot|,ro]" (a disk's spec, hv_config.disk): the file and its options. */
int virtio_blk_parse_spec(const char *spec, char *path, size_t path_len, bool *snapshot, bool *read_only,
			  char *err, size_t err_len) __attribute__((warn_unused_result));
/*
 * A ",snapshot" disk keeps the guest's writes in a private overlay, which a
 * machine snapshot saves block by block: the image's size (0 for a disk
 * without an overlay), a written block's bytes (NULL if never written; the
 * last block may be shorter), and loading blocks back (first block, whole
 * blocks but the image's last; -EINVAL outside the image).
 */
#define VIRTIO_BLK_OVERLAY_BLOCK 4096u
uint64_t virtio_blk_overlay_bytes(const struct virtio_mmio *v);
const uint8_t *virtio_blk_overlay_block(const struct virtio_mmio *v, uint64_t block, size_t *len);
int virtio_blk_overlay_load(struct virtio_mmio *v, uint64_t first, const uint8_t *data, size_t len)
	__attribute__((warn_unused_result));
/* Guest I/Os the host file refused (pread/pwrite/fdatasync failed), and the first one's errno. */
uint64_t virtio_blk_host_errors(const struct virtio_mmio *v, int *first_errno);

/*
 * virtio-net. Frames the guest sends go to tx() synchronously; frames for the
 * guest arrive only through virtio_net_receive() (called by the determinism
 * layer at an exact step count).
 */
struct virtio_mmio *virtio_net_create(const struct guest_ram *ram, const struct irq_line *irq,
				      const uint8_t mac[6],
				      void (*tx)(void *opaque, const uint8_t *frame, size_t len),
				      void *opaque);
int virtio_net_receive(struct virtio_mmio *v, const uint8_t *frame, size_t len);
int virtio_net_rx_ready(const struct virtio_mmio *v);

#endif
