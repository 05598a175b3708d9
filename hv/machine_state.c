/* SPDX-License-Identifier: MIT */
/* machine_state: the machine's state as a list of parts, each saved and loaded through le.h; snapshots and digests walk the same list. */
#include "machine_internal.h"
#include "le.h"
#include "hv/dev/virtio.h"

#include <errno.h>

int machine_parts(const struct hv_machine *m, struct machine_part_ref out[MACHINE_MAX_PARTS])
{
	int n = 0;

	out[n++] = (struct machine_part_ref){ MPART_CORE, 0 };
	for (int h = 0; h < m->nharts; h++)
		out[n++] = (struct machine_part_ref){ MPART_HART, h };
	out[n++] = (struct machine_part_ref){ MPART_CLINT, 0 };
	out[n++] = (struct machine_part_ref){ MPART_PLIC, 0 };
	out[n++] = (struct machine_part_ref){ MPART_UART, 0 };
	if (m->blk)
		out[n++] = (struct machine_part_ref){ MPART_VIRTIO_BLK, 0 };
	if (m->net)
		out[n++] = (struct machine_part_ref){ MPART_VIRTIO_NET, 0 };
	return n;
}

const char *machine_part_name(enum machine_part p)
{
	switch (p) {
	case MPART_CORE: return "core";
	case MPART_HART: return "hart";
	case MPART_CLINT: return "clint";
	case MPART_PLIC: return "plic";
	case MPART_UART: return "uart";
	case MPART_VIRTIO_BLK: return "virtio-blk";
	case MPART_VIRTIO_NET: return "virtio-net";
	}
	return "?";
}

/* The scheduler and the clock: what hv_run and mtime depend on besides the harts. */
static void core_save(const struct hv_machine *m, struct le_writer *w)
{
	le_put_u64(w, m->steps);
	le_put_u64(w, m->clock.anchor_mtime);
	le_put_u64(w, m->clock.rate_q32);
	le_put_u64(w, m->clock_steps);
	le_put_u32(w, (uint32_t)m->nharts);
	le_put_u32(w, (uint32_t)m->next_hart);
	le_put_u64(w, m->quantum_left);
	le_put_u32(w, (uint32_t)m->stop);
	le_put_u32(w, (uint32_t)m->fail_code);
}

static int core_load(struct hv_machine *m, struct le_reader *r)
{
	uint64_t steps = le_get_u64(r);
	struct hv_clock clock = { .anchor_mtime = le_get_u64(r), .rate_q32 = le_get_u64(r) };
	uint64_t clock_steps = le_get_u64(r);
	uint32_t nharts = le_get_u32(r), next_hart = le_get_u32(r);
	uint64_t quantum_left = le_get_u64(r);
	uint32_t stop = le_get_u32(r), fail_code = le_get_u32(r);

	if (!le_reader_ok(r) || nharts != (uint32_t)m->nharts || next_hart >= nharts ||
	    quantum_left == 0 || quantum_left > MACHINE_QUANTUM_STEPS || clock_steps > steps ||
	    stop > HV_STOP_HOST_ERROR)
		return -EINVAL;
	m->steps = steps;
	m->clock = clock;
	m->clock_steps = clock_steps;
	m->next_hart = (int)next_hart;
	m->quantum_left = quantum_left;
	m->stop = (enum hv_stop)stop;
	m->fail_code = (int)fail_code;
	return 0;
}

void machine_part_save(const struct hv_machine *m, struct machine_part_ref p, struct le_writer *w)
{
	switch (p.part) {
	case MPART_CORE: core_save(m, w); break;
	case MPART_HART: rv_hart_save(&m->harts[p.index], w); break;
	case MPART_CLINT: clint_save(m->clint, w); break;
	case MPART_PLIC: plic_save(m->plic, w); break;
	case MPART_UART: uart_save(m->uart, w); break;
	case MPART_VIRTIO_BLK: virtio_mmio_save(m->blk, w); break;
	case MPART_VIRTIO_NET: virtio_mmio_save(m->net, w); break;
	}
}

int machine_part_load(struct hv_machine *m, struct machine_part_ref p, struct le_reader *r)
{
	int rc = -EINVAL;

	switch (p.part) {
	case MPART_CORE: rc = core_load(m, r); break;
	case MPART_HART:
		if (p.index >= 0 && p.index < m->nharts)
			rc = rv_hart_load(&m->harts[p.index], r);
		break;
	case MPART_CLINT: rc = clint_load(m->clint, r); break;
	case MPART_PLIC: rc = plic_load(m->plic, r); break;
	case MPART_UART: rc = uart_load(m->uart, r); break;
	case MPART_VIRTIO_BLK:
		if (m->blk)
			rc = virtio_mmio_load(m->blk, r);
		break;
	case MPART_VIRTIO_NET:
		if (m->net)
			rc = virtio_mmio_load(m->net, r);
		break;
	}
	/* A part is one record: bytes left over mean another layout. */
	if (!rc && !le_reader_done(r))
		rc = -EINVAL;
	return rc;
}
