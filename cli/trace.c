/* SPDX-License-Identifier: MIT */
/* trace: the CLI's observer: counts hv's reported events for --stats and prints them for --trace. */
#include "cli/cli.h"

#include <inttypes.h>
#include <stdio.h>

static void on_event(void *opaque, const struct hv_obs_event *ev)
{
	struct cli_trace *t = opaque;

	if (ev->kind >= HV_OBS_IRQ && ev->kind <= HV_OBS_PAUSE_END)
		t->counts[ev->kind]++;
	if (t->print)
		fprintf(stderr, "trace: step %" PRIu64 " %s hart %d arg 0x%" PRIx64 "\n", ev->step,
			hv_obs_name(ev->kind), ev->hart, ev->arg);
}

void cli_trace_attach(struct cli_trace *t, struct hv_machine *m)
{
	struct hv_observer obs = { on_event, t };

	if (t->print || t->count)
		hv_set_observer(m, &obs);
}

void cli_trace_report(const struct cli_trace *t)
{
	if (!t->count)
		return;
	fprintf(stderr, "ftvm: observed");
	for (int k = HV_OBS_IRQ; k <= HV_OBS_PAUSE_END; k++)
		fprintf(stderr, " %s=%" PRIu64, hv_obs_name(k), t->counts[k]);
	fprintf(stderr, "\n");
}

void cli_trace_json(const struct cli_trace *t, FILE *f)
{
	if (!t->count)
		return;
	fprintf(f, ",\"observed\":{");
	for (int k = HV_OBS_IRQ; k <= HV_OBS_PAUSE_END; k++)
		fprintf(f, "%s\"%s\":%" PRIu64, k == HV_OBS_IRQ ? "" : ",", hv_obs_name(k), t->counts[k]);
	fprintf(f, "}");
}
