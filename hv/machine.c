/* SPDX-License-Identifier: MIT */
/* machine: the virt board (RAM, harts, devices) and its deterministic scheduler. */
#include "machine_internal.h"
#include "errmsg.h"
#include "cpu/jit.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

enum { LINE_MSIP, LINE_MTIP, LINE_MEIP, LINE_SEIP };
static const int line_bits[4] = { RV_IRQ_MSIP, RV_IRQ_MTIP, RV_IRQ_MEIP, RV_IRQ_SEIP };

/* Default clock before the determinism layer sets one: 30 steps per 10 MHz tick. */
#define DEFAULT_RATE_Q32 ((1ULL << 32) / 30)

static void hart_line_set(void *opaque, int bit, int level)
{
	rv_hart_set_irq(opaque, bit, level);
}

uint64_t hv_mem_bytes(const struct hv_machine *m)
{
	return m->ram.size;
}

uint64_t hv_steps(const struct hv_machine *m)
{
	const struct rv_hart *h = m->running;

	if (h)
		return m->slice_base + (h->steps - m->slice_hart_base);
	return m->steps;
}

static uint64_t mtime_at(const struct hv_machine *m, uint64_t steps)
{
	unsigned __int128 d = (unsigned __int128)(steps - m->clock_steps) * m->clock.rate_q32;

	return m->clock.anchor_mtime + (uint64_t)(d >> 32);
}

/* First step at which mtime reaches target, or UINT64_MAX. */
static uint64_t steps_at_mtime(const struct hv_machine *m, uint64_t target)
{
	if (target <= m->clock.anchor_mtime)
		return m->clock_steps;
	if (m->clock.rate_q32 == 0)
		return UINT64_MAX;
	unsigned __int128 need = (unsigned __int128)(target - m->clock.anchor_mtime) << 32;
	unsigned __int128 d = (need + m->clock.rate_q32 - 1) / m->clock.rate_q32;
	if (d > UINT64_MAX - m->clock_steps)
		return UINT64_MAX;
	return m->clock_steps + (uint64_t)d;
}

uint64_t hv_mtime(const struct hv_machine *m)
{
	return mtime_at(m, hv_steps(m));
}

static uint64_t bus_mtime_cb(void *opaque)
{
	return hv_mtime(opaque);
}

struct hv_clock hv_clock_get(const struct hv_machine *m)
{
	return m->clock;
}

static void machine_request_exit(struct hv_machine *m)
{
	if (m->running)
		m->running->exit_req = true;
}

static const struct mmio_region *find_region(const struct hv_machine *m, uint64_t pa)
{
	for (int i = 0; i < m->nregions; i++) {
		const struct mmio_region *r = &m->regions[i];
		if (pa >= r->base && pa - r->base < r->size)
			return r;
	}
	return NULL;
}

static int bus_mmio_read_cb(void *opaque, uint64_t pa, int size, uint64_t *val)
{
	const struct mmio_region *r = find_region(opaque, pa);

	if (!r || pa - r->base + (uint64_t)size > r->size)
		return -1;
	return r->ops->read(r->opaque, pa - r->base, size, val);
}

static int bus_mmio_write_cb(void *opaque, uint64_t pa, int size, uint64_t val)
{
	const struct mmio_region *r = find_region(opaque, pa);

	if (!r || pa - r->base + (uint64_t)size > r->size)
		return -1;
	return r->ops->write(r->opaque, pa - r->base, size, val);
}

static int map_region(struct hv_machine *m, uint64_t base, uint64_t size,
		      const struct dev_ops *ops, void *opaque)
{
	if (m->nregions == MACHINE_MAX_REGIONS)
		return -ENOSPC;
	m->regions[m->nregions++] = (struct mmio_region){ base, size, ops, opaque };
	return 0;
}

static void syscon_action(void *opaque, enum syscon_action a, int code)
{
	struct hv_machine *m = opaque;

	switch (a) {
	case SYSCON_POWEROFF: m->stop = HV_STOP_POWEROFF; break;
	case SYSCON_REBOOT: m->stop = HV_STOP_REBOOT; break;
	case SYSCON_FAIL: m->stop = HV_STOP_FAIL; m->fail_code = code; break;
	}
	machine_request_exit(m);
}

static void console_out(void *opaque, const uint8_t *buf, size_t len)
{
	struct hv_machine *m = opaque;

	if (m->host.console_out)
		m->host.console_out(m->host_opaque, buf, len);
}

void hv_set_observer(struct hv_machine *m, const struct hv_observer *obs)
{
	m->obs = obs ? *obs : (struct hv_observer){ 0 };
	for (int h = 0; h < m->nharts; h++)
		m->harts[h].observe_irqs = m->obs.event != NULL;
}

void hv_observe(struct hv_machine *m, enum hv_obs_kind kind, int hart, uint64_t arg)
{
	if (m->obs.event) {
		struct hv_obs_event ev = { kind, hv_steps(m), hart, arg };
		m->obs.event(m->obs.opaque, &ev);
	}
}

static void bus_observe_irq_cb(void *opaque, int hart, int irq)
{
	hv_observe(opaque, HV_OBS_IRQ, hart, (uint64_t)irq);
}

static void bus_request_exit_cb(void *opaque)
{
	machine_request_exit(opaque);
}

const char *hv_obs_name(enum hv_obs_kind kind)
{
	static const char *const names[] = {
		[HV_OBS_IRQ] = "irq", [HV_OBS_CONSOLE_IN] = "console-in", [HV_OBS_NET_IN] = "net-in",
		[HV_OBS_NET_OUT] = "net-out", [HV_OBS_CLOCK] = "clock", [HV_OBS_DIGEST] = "digest",
		[HV_OBS_PAUSE_BEGIN] = "pause-begin", [HV_OBS_PAUSE_END] = "pause-end",
	};
	return kind >= HV_OBS_IRQ && kind <= HV_OBS_PAUSE_END ? names[kind] : "?";
}

static void net_tx(void *opaque, const uint8_t *frame, size_t len)
{
	struct hv_machine *m = opaque;

	hv_observe(m, HV_OBS_NET_OUT, -1, len);
	if (m->host.net_tx)
		m->host.net_tx(m->host_opaque, frame, len);
}

/* A locally administered MAC derived from nothing but the slot: same on every run. */
static const uint8_t default_mac[6] = { 0x52, 0x54, 0x00, 0x12, 0x34, 0x56 };

static int create_devices(struct hv_machine *m, const struct hv_config *cfg, char *err,
			  size_t err_len)
{
	struct irq_line msip[HV_MAX_HARTS], mtip[HV_MAX_HARTS], ctx[2 * HV_MAX_HARTS];
	int slot = 0, rc;

	for (int h = 0; h < m->nharts; h++) {
		for (int l = 0; l < 4; l++)
			m->hart_lines[h][l] = (struct irq_line){ hart_line_set, &m->harts[h],
								 line_bits[l] };
		msip[h] = m->hart_lines[h][LINE_MSIP];
		mtip[h] = m->hart_lines[h][LINE_MTIP];
		ctx[2 * h] = m->hart_lines[h][LINE_MEIP];
		ctx[2 * h + 1] = m->hart_lines[h][LINE_SEIP];
	}
	m->syscon = syscon_create(syscon_action, m);
	m->clint = clint_create(&m->bus, m->nharts, msip, mtip);
	m->plic = plic_create(m->nharts, ctx);
	struct irq_line uart_irq = { plic_set_irq, m->plic, VIRT_UART0_IRQ };
	m->uart = m->plic ? uart_create(&uart_irq, console_out, m) : NULL;
	if (!m->syscon || !m->clint || !m->plic || !m->uart) {
		hv_errf(err, err_len, "out of memory creating devices");
		return -ENOMEM;
	}
	rc = map_region(m, VIRT_TEST_BASE, VIRT_TEST_SIZE, &syscon_ops, m->syscon);
	rc = rc ?: map_region(m, VIRT_CLINT_BASE, VIRT_CLINT_SIZE, &clint_ops, m->clint);
	rc = rc ?: map_region(m, VIRT_PLIC_BASE, VIRT_PLIC_SIZE, &plic_ops, m->plic);
	rc = rc ?: map_region(m, VIRT_UART0_BASE, VIRT_UART0_SIZE, &uart_ops, m->uart);
	if (rc)
		return rc;

	if (cfg->disk) {
		struct irq_line irq = { plic_set_irq, m->plic, VIRT_VIRTIO_IRQ + slot };
		m->blk = virtio_blk_create(&m->ram, &irq, cfg->disk, err, err_len);
		if (!m->blk)
			return -EINVAL;
		rc = map_region(m, VIRT_VIRTIO_BASE + slot * VIRT_VIRTIO_SIZE, VIRT_VIRTIO_SIZE,
				&virtio_mmio_ops, m->blk);
		if (rc)
			return rc;
		slot++;
	}
	if (cfg->net) {
		struct irq_line irq = { plic_set_irq, m->plic, VIRT_VIRTIO_IRQ + slot };
		m->net = virtio_net_create(&m->ram, &irq, default_mac, net_tx, m);
		if (!m->net) {
			hv_errf(err, err_len, "cannot create virtio-net");
			return -ENOMEM;
		}
		rc = map_region(m, VIRT_VIRTIO_BASE + slot * VIRT_VIRTIO_SIZE, VIRT_VIRTIO_SIZE,
				&virtio_mmio_ops, m->net);
		if (rc)
			return rc;
	}
	return 0;
}

int machine_create_bare(const struct hv_config *cfg, const struct hv_host_ops *host,
			void *host_opaque, struct hv_machine **out, char *err, size_t err_len)
{
	struct hv_machine *m;
	int rc;

	*out = NULL;
	if (cfg->smp < 1 || cfg->smp > HV_MAX_HARTS) {
		hv_errf(err, err_len, "--smp %d: between 1 and %d harts", cfg->smp, HV_MAX_HARTS);
		return -EINVAL;
	}
	if (cfg->mem_bytes < HV_MIN_MEM_BYTES || cfg->mem_bytes > HV_MAX_MEM_BYTES ||
	    cfg->mem_bytes % 4096) {
		hv_errf(err, err_len, "--mem %llu bytes: between 16M and 64G, a multiple of 4K",
			(unsigned long long)cfg->mem_bytes);
		return -EINVAL;
	}
	if (cfg->cpu != HV_CPU_INTERP && (cfg->cpu != HV_CPU_JIT || !rv_jit_supported())) {
		hv_errf(err, err_len, "--cpu jit: the translator needs an x86-64 host");
		return -EINVAL;
	}
	m = calloc(1, sizeof(*m));
	if (!m) {
		hv_errf(err, err_len, "out of memory");
		return -ENOMEM;
	}
	m->digest_hash = HV_DIGEST_XXH3;
	m->ram.base = VIRT_DRAM_BASE;
	m->ram.size = cfg->mem_bytes;
	m->ram.host = mmap(NULL, cfg->mem_bytes, PROT_READ | PROT_WRITE,
			   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (m->ram.host == MAP_FAILED) {
		m->ram.host = NULL;
		hv_errf(err, err_len, "cannot map %llu bytes of guest RAM",
			(unsigned long long)cfg->mem_bytes);
		rc = -ENOMEM;
		goto out;
	}
	if (host)
		m->host = *host;
	m->host_opaque = host_opaque;
	m->nharts = cfg->smp;
	m->cpu_mode = cfg->cpu;
	m->quantum_left = MACHINE_QUANTUM_STEPS;
	m->clock.rate_q32 = DEFAULT_RATE_Q32;
	m->bus = (struct bus){
		.mmio_read = bus_mmio_read_cb,
		.mmio_write = bus_mmio_write_cb,
		.mtime = bus_mtime_cb,
		.request_exit = bus_request_exit_cb,
		.observe_irq = bus_observe_irq_cb,
		.opaque = m,
	};
	for (int h = 0; h < m->nharts; h++)
		rv_hart_init(&m->harts[h], &m->bus, &m->ram, h);
	if (m->cpu_mode == HV_CPU_JIT) {
		m->jit = rv_jit_create(m->harts, m->nharts, &m->ram);
		if (!m->jit) {
			hv_errf(err, err_len, "--cpu jit: out of memory for the translation cache");
			rc = -ENOMEM;
			goto out;
		}
	}

	if (cfg->disk && !(m->disk_spec = strdup(cfg->disk))) {
		hv_errf(err, err_len, "out of memory");
		rc = -ENOMEM;
		goto out;
	}
	rc = create_devices(m, cfg, err, err_len);
	if (rc)
		goto out;
	*out = m;
	return 0;
out:
	hv_machine_destroy(m);
	return rc;
}

int hv_machine_create(const struct hv_config *cfg, const struct hv_host_ops *host,
		      void *host_opaque, struct hv_machine **out, char *err, size_t err_len)
{
	struct hv_machine *m;
	int rc;

	*out = NULL;
	rc = machine_create_bare(cfg, host, host_opaque, &m, err, err_len);
	if (rc)
		return rc;
	rc = loader_load(m, cfg, err, err_len);
	if (rc)
		goto out;
	for (int h = 0; h < m->nharts; h++) {
		struct rv_hart *hart = &m->harts[h];
		rv_hart_reset(hart, m->boot.entry);
		hart->x[10] = (uint64_t)h;
		hart->x[11] = m->boot.fdt_addr;
		hart->x[12] = m->boot.dynamic_info_addr;
	}
	*out = m;
	return 0;
out:
	hv_machine_destroy(m);
	return rc;
}

void hv_machine_destroy(struct hv_machine *m)
{
	if (!m)
		return;
	if (m->blk)
		virtio_mmio_destroy(m->blk);
	if (m->net)
		virtio_mmio_destroy(m->net);
	if (m->uart)
		uart_destroy(m->uart);
	if (m->plic)
		plic_destroy(m->plic);
	if (m->clint)
		clint_destroy(m->clint);
	if (m->syscon)
		syscon_destroy(m->syscon);
	if (m->ram.host)
		munmap(m->ram.host, m->ram.size);
	rv_jit_destroy(m->jit);
	free(m->ram.dirty);
	free(m->append);
	free(m->disk_spec);
	free(m);
}

/* Next hart to run, waking WFI harts whose interrupts are pending; -1 if all idle. */
static int pick_hart(struct hv_machine *m)
{
	for (int i = 0; i < m->nharts; i++) {
		int h = (m->next_hart + i) % m->nharts;
		struct rv_hart *hart = &m->harts[h];

		if (hart->wfi && rv_hart_wakeable(hart))
			hart->wfi = false;
		if (!hart->wfi) {
			if (h != m->next_hart)
				m->quantum_left = MACHINE_QUANTUM_STEPS;
			m->next_hart = h;
			return h;
		}
	}
	return -1;
}

static void fill_stop(struct hv_machine *m, struct hv_stop_info *info, enum hv_stop why)
{
	info->why = why;
	info->fail_code = m->fail_code;
	info->idle_until_mtime = clint_next_deadline(m->clint);
}

int hv_run(struct hv_machine *m, uint64_t budget, struct hv_stop_info *info)
{
	uint64_t end = m->steps + budget;

	memset(info, 0, sizeof(*info));
	while (m->steps < end) {
		if (m->stop != HV_STOP_BUDGET) {
			fill_stop(m, info, m->stop);
			return 0;
		}
		clint_update(m->clint, mtime_at(m, m->steps));
		int h = pick_hart(m);
		if (h < 0) {
			fill_stop(m, info, HV_STOP_IDLE);
			return 0;
		}
		uint64_t slice = end - m->steps;
		if (slice > m->quantum_left)
			slice = m->quantum_left;
		uint64_t deadline = steps_at_mtime(m, clint_next_deadline(m->clint));
		if (deadline > m->steps && deadline - m->steps < slice)
			slice = deadline - m->steps;

		struct rv_hart *hart = &m->harts[h];
		m->running = hart;
		m->slice_base = m->steps;
		m->slice_hart_base = hart->steps;
		uint64_t n = m->jit ? rv_jit_run(hart, slice) : rv_hart_run(hart, slice);
		m->running = NULL;
		m->steps += n;

		if (n >= m->quantum_left || hart->wfi) {
			m->next_hart = (h + 1) % m->nharts;
			m->quantum_left = MACHINE_QUANTUM_STEPS;
		} else {
			m->quantum_left -= n;
		}
		if (m->yield) {
			m->yield = false;
			break;
		}
	}
	if (m->stop != HV_STOP_BUDGET)
		fill_stop(m, info, m->stop);
	else
		fill_stop(m, info, HV_STOP_BUDGET);
	return 0;
}

int hv_net_mac(const struct hv_machine *m, uint8_t mac[6])
{
	if (!m->net)
		return -ENODEV;
	memcpy(mac, default_mac, 6);
	return 0;
}

void hv_yield(struct hv_machine *m)
{
	m->yield = true;
}

int hv_inject(struct hv_machine *m, const struct hv_event *ev)
{
	if (ev->step != m->steps)
		return -EINVAL;
	if (m->obs.event)
		hv_observe(m, ev->kind == HV_EV_CONSOLE_IN ? HV_OBS_CONSOLE_IN :
			   ev->kind == HV_EV_NET_RX ? HV_OBS_NET_IN : HV_OBS_CLOCK, -1,
			   ev->kind == HV_EV_CLOCK ? ev->clock.rate_q32 : ev->len);
	switch (ev->kind) {
	case HV_EV_CONSOLE_IN:
		if (uart_receive(m->uart, ev->data, ev->len) != ev->len)
			return -ENOSPC;
		return 0;
	case HV_EV_NET_RX:
		if (!m->net)
			return -ENODEV;
		return virtio_net_receive(m->net, ev->data, ev->len);
	case HV_EV_CLOCK: {
		uint64_t now = mtime_at(m, m->steps);
		m->clock = ev->clock;
		/* Guest time never runs backwards, whatever the event says. */
		if (m->clock.anchor_mtime < now)
			m->clock.anchor_mtime = now;
		m->clock_steps = m->steps;
		return 0;
	}
	}
	return -EINVAL;
}

int hv_net_rx_ready(const struct hv_machine *m)
{
	return m->net ? virtio_net_rx_ready(m->net) : 0;
}

size_t hv_console_rx_room(const struct hv_machine *m)
{
	return uart_rx_room(m->uart);
}

uint64_t hv_disk_host_errors(const struct hv_machine *m, int *first_errno)
{
	*first_errno = 0;
	return m->blk ? virtio_blk_host_errors(m->blk, first_errno) : 0;
}
