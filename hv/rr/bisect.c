/* SPDX-License-Identifier: MIT */
/* bisect: names the first instruction where a diverging replay departs from a clean one. */
#include "hv/rr/rr.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

/* Coarse pass compares every BLOCK steps; the fine pass re-runs that block one step at a time. */
#define BLOCK 4096

struct side {
	struct hv_machine *m;
	struct rr_player *p;
	struct rr_play_status st;
	const struct rr_perturb *perturb;
	bool perturbed;
};

static int side_open(struct side *s, const char *log, const struct hv_config *cfg,
		     const struct rr_perturb *perturb, char *err, size_t err_len)
{
	struct rr_header h;
	int rc;

	memset(s, 0, sizeof(*s));
	s->perturb = perturb;
	rc = rr_player_open(&s->p, log, &h, err, err_len);
	if (rc)
		return rc;
	rr_player_set_verify(s->p, false);
	rc = hv_machine_create(cfg, NULL, NULL, &s->m, err, err_len);
	if (!rc)
		rc = hv_track_dirty(s->m);
	return rc;
}

static void side_close(struct side *s)
{
	hv_machine_destroy(s->m);
	rr_player_close(s->p);
	memset(s, 0, sizeof(*s));
}

/* Run to target, flipping the perturbation's bit when its step is reached. */
static int side_run(struct side *s, uint64_t target, char *err, size_t err_len)
{
	/* As in the replay that diverged: the bit flips after step perturb->step, before the next. */
	if (s->perturb && s->perturb->on && !s->perturbed && s->perturb->step < target) {
		if (rr_player_run(s->p, s->m, s->perturb->step, &s->st) != RR_PLAY_REACHED)
			goto fail;
		hv_perturb(s->m, s->perturb->reg, s->perturb->bit);
		s->perturbed = true;
	}
	if (rr_player_run(s->p, s->m, target, &s->st) == RR_PLAY_REACHED)
		return 0;
fail:
	snprintf(err, err_len, "bisect: cannot replay to step %" PRIu64 ": %s", target,
		 s->st.msg[0] ? s->st.msg : "the log ends first");
	return -EINVAL;
}

static void describe(const struct hv_machine *bad, const struct hv_machine *good, uint64_t step,
		     uint64_t pc, uint32_t insn, char *out, size_t len)
{
	size_t off = insn ? snprintf(out, len, "first differing step %" PRIu64 ": the instruction at pc 0x%"
				     PRIx64 " (0x%08x) leaves", step, pc, insn)
			  : snprintf(out, len, "first differing step %" PRIu64 ": the instruction at pc 0x%"
				     PRIx64 " leaves", step, pc);
	int diffs = 0;
	for (int h = 0; h < hv_nharts(bad); h++) {
		uint64_t xb[32], xg[32], pcb, pcg;
		hv_hart_regs(bad, h, xb, &pcb);
		hv_hart_regs(good, h, xg, &pcg);
		if (pcb != pcg && off < len)
			off += snprintf(out + off, len - off, " hart %d pc 0x%" PRIx64 " (clean 0x%" PRIx64 ")",
					h, pcb, pcg), diffs++;
		for (int r = 1; r < 32; r++)
			if (xb[r] != xg[r] && off < len)
				off += snprintf(out + off, len - off, " hart %d x%d = 0x%" PRIx64
						" (clean 0x%" PRIx64 ")", h, r, xb[r], xg[r]), diffs++;
	}
	if (!diffs && off < len)
		snprintf(out + off, len - off, " the same registers but different CSR or FP state");
}

int rr_bisect(const char *log, const struct hv_config *cfg, const struct rr_perturb *perturb,
	      uint64_t from, uint64_t to, char *report, size_t report_len)
{
	struct side bad = { 0 }, good = { 0 };
	uint64_t block = from;
	int rc;

	/* Pass 1: find the first block whose end differs. */
	rc = side_open(&bad, log, cfg, perturb, report, report_len);
	rc = rc ?: side_open(&good, log, cfg, NULL, report, report_len);
	rc = rc ?: side_run(&bad, from, report, report_len);
	rc = rc ?: side_run(&good, from, report, report_len);
	if (rc)
		goto out;
	if (hv_check(bad.m) != hv_check(good.m)) {
		snprintf(report, report_len, "bisect: the replays already differ at step %" PRIu64
			 ", the start of the window", from);
		rc = -EINVAL;
		goto out;
	}
	for (;;) {
		uint64_t next = block + BLOCK < to ? block + BLOCK : to;
		rc = side_run(&bad, next, report, report_len);
		rc = rc ?: side_run(&good, next, report, report_len);
		if (rc)
			goto out;
		if (hv_check(bad.m) != hv_check(good.m))
			break;
		if (next == to) {
			snprintf(report, report_len, "bisect: no difference in registers between steps %"
				 PRIu64 " and %" PRIu64 " (memory or device state differs)", from, to);
			rc = -ENOENT;
			goto out;
		}
		block = next;
	}
	side_close(&bad);
	side_close(&good);

	/* Pass 2: replay again to the block and step both one instruction at a time. */
	rc = side_open(&bad, log, cfg, perturb, report, report_len);
	rc = rc ?: side_open(&good, log, cfg, NULL, report, report_len);
	rc = rc ?: side_run(&bad, block, report, report_len);
	rc = rc ?: side_run(&good, block, report, report_len);
	for (uint64_t s = block; !rc && s < to; s++) {
		uint64_t pc = hv_hart_pc(good.m, 0);
		rc = side_run(&bad, s + 1, report, report_len);
		rc = rc ?: side_run(&good, s + 1, report, report_len);
		if (!rc && hv_check(bad.m) != hv_check(good.m)) {
			/* Read after the step: the code TLB now holds the page just executed. */
			describe(bad.m, good.m, s + 1, pc, hv_hart_insn(good.m, 0, pc), report, report_len);
			break;
		}
	}
out:
	side_close(&bad);
	side_close(&good);
	return rc;
}
