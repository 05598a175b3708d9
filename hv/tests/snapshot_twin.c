/* SPDX-License-Identifier: MIT */
/* snapshot_twin: drives one side of the snapshot round trip (hv/tests/snapshot-linux.sh): a fresh boot, or a machine loaded from a snapshot. */

/*
 * snapshot_twin boot   --kernel K --initrd I --append A --disk D --mem M --from-step 0 --until E --out-digests F
 * snapshot_twin resume --snapshot S --disk D --until E --out-digests F
 *
 * Both run with no host input but the same scripted one, a function of the
 * step count only: console lines and Ethernet frames (ARP requests for the
 * guest's address, which its kernel answers) at fixed steps after the step
 * the snapshot was taken at. Guest time is a function of the step count; an
 * idle machine jumps the clock to its next timer deadline, as
 * 'ftvm snapshot save' does. Every 10^7 steps and at E the full machine
 * digest goes to F as "STEP HEX"; the guest's console goes to stdout.
 */
#include "hv/hv.h"
#include "hv/snapshot.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DIGEST_EVERY 10000000ULL

static void console_out(void *opaque, const uint8_t *buf, size_t len)
{
	fwrite(buf, 1, len, stdout);
}

struct input {
	uint64_t after;		/* steps after the base step */
	enum hv_event_kind kind;
	const char *text;	/* CONSOLE_IN */
};

static const struct input script[] = {
	{ 5000000, HV_EV_NET_RX, NULL },
	{ 12000000, HV_EV_CONSOLE_IN, "echo snapshot-twin\n" },
	{ 30000000, HV_EV_NET_RX, NULL },
	{ 47000000, HV_EV_CONSOLE_IN, "cat /proc/uptime\n" },
	{ 60000000, HV_EV_NET_RX, NULL },
	{ 81000000, HV_EV_CONSOLE_IN, "ls /\n" },
};

/* ARP who-has 10.0.2.15 tell 10.0.2.2, broadcast (slirp's gateway asking for the guest). */
static size_t arp_request(uint8_t *f)
{
	static const uint8_t gw_mac[6] = { 0x52, 0x55, 0x0a, 0x00, 0x02, 0x02 };
	size_t n = 0;

	memset(f, 0xff, 6), n += 6;
	memcpy(f + n, gw_mac, 6), n += 6;
	f[n++] = 0x08, f[n++] = 0x06;
	f[n++] = 0, f[n++] = 1, f[n++] = 0x08, f[n++] = 0, f[n++] = 6, f[n++] = 4, f[n++] = 0, f[n++] = 1;
	memcpy(f + n, gw_mac, 6), n += 6;
	f[n++] = 10, f[n++] = 0, f[n++] = 2, f[n++] = 2;
	memset(f + n, 0, 6), n += 6;
	f[n++] = 10, f[n++] = 0, f[n++] = 2, f[n++] = 15;
	memset(f + n, 0, 60 - n);
	return 60;
}

static void put_digest(FILE *f, struct hv_machine *m)
{
	uint8_t d[HV_DIGEST_BYTES];

	hv_digest(m, d);
	fprintf(f, "%llu ", (unsigned long long)hv_steps(m));
	for (int i = 0; i < HV_DIGEST_BYTES; i++)
		fprintf(f, "%02x", d[i]);
	fprintf(f, "\n");
	fflush(f);
}

/* Run to step `to`, jumping the clock over idle stretches. 0, or -1 if the guest stopped. */
static int run_to(struct hv_machine *m, uint64_t to)
{
	struct hv_stop_info info;

	while (hv_steps(m) < to) {
		if (hv_run(m, to - hv_steps(m), &info))
			return -1;
		if (info.why == HV_STOP_IDLE && info.idle_until_mtime != UINT64_MAX) {
			struct hv_event ev = { .kind = HV_EV_CLOCK, .step = hv_steps(m),
					       .clock = hv_clock_get(m) };
			ev.clock.anchor_mtime = info.idle_until_mtime;
			if (hv_inject(m, &ev))
				return -1;
			continue;
		}
		if (info.why != HV_STOP_BUDGET) {
			fprintf(stderr, "snapshot_twin: guest stopped (%d) at step %llu\n", info.why,
				(unsigned long long)hv_steps(m));
			return -1;
		}
	}
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "kernel", required_argument, NULL, 'k' }, { "initrd", required_argument, NULL, 'i' },
		{ "append", required_argument, NULL, 'a' }, { "disk", required_argument, NULL, 'd' },
		{ "mem", required_argument, NULL, 'm' }, { "snapshot", required_argument, NULL, 's' },
		{ "base", required_argument, NULL, 'b' }, { "until", required_argument, NULL, 'u' },
		{ "out-digests", required_argument, NULL, 'o' }, { NULL, 0, NULL, 0 },
	};
	struct hv_config cfg = { .mem_bytes = 128ULL << 20, .smp = 1, .net = "user",
				 .bios = "/usr/lib/riscv64-linux-gnu/opensbi/generic/fw_dynamic.bin" };
	struct hv_host_ops host = { .console_out = console_out };
	const char *snap = NULL, *digests = NULL;
	uint64_t base = 0, until = 0;
	struct hv_machine *m;
	char err[512];
	int c;

	if (argc < 2 || (strcmp(argv[1], "boot") && strcmp(argv[1], "resume"))) {
		fprintf(stderr, "usage: snapshot_twin boot|resume [options] (see the source)\n");
		return 2;
	}
	optind = 2;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'k': cfg.kernel = optarg; break;
		case 'i': cfg.initrd = optarg; break;
		case 'a': cfg.append = optarg; break;
		case 'd': cfg.disk = optarg; break;
		case 'm': cfg.mem_bytes = strtoull(optarg, NULL, 0) << 20; break;
		case 's': snap = optarg; break;
		case 'b': base = strtoull(optarg, NULL, 0); break;
		case 'u': until = strtoull(optarg, NULL, 0); break;
		case 'o': digests = optarg; break;
		default: return 2;
		}
	}
	FILE *df = digests ? fopen(digests, "w") : NULL;
	if (!df || !until) {
		fprintf(stderr, "snapshot_twin: --until and --out-digests are required\n");
		return 2;
	}
	int rc = !strcmp(argv[1], "boot") ? hv_machine_create(&cfg, &host, NULL, &m, err, sizeof(err))
					  : hv_machine_create_from_snapshot(snap, &cfg, &host, NULL, &m, NULL, err,
									    sizeof(err));
	if (rc) {
		fprintf(stderr, "snapshot_twin: %s\n", err);
		return 1;
	}
	/* From the base step (the snapshot's) on, the scripted inputs and the digests. */
	if (hv_steps(m) > base || run_to(m, base))
		return 1;
	put_digest(df, m);
	size_t next = 0;
	uint64_t next_digest = base + DIGEST_EVERY;
	while (hv_steps(m) < until) {
		uint64_t to = until;
		if (next < sizeof(script) / sizeof(script[0]) && base + script[next].after < to)
			to = base + script[next].after;
		if (next_digest < to)
			to = next_digest;
		if (run_to(m, to))
			return 1;
		if (hv_steps(m) == next_digest) {
			put_digest(df, m);
			next_digest += DIGEST_EVERY;
		}
		if (next < sizeof(script) / sizeof(script[0]) && hv_steps(m) == base + script[next].after) {
			uint8_t frame[64];
			struct hv_event ev = { .kind = script[next].kind, .step = hv_steps(m) };
			if (ev.kind == HV_EV_NET_RX) {
				ev.len = arp_request(frame);
				ev.data = frame;
			} else {
				ev.data = (const uint8_t *)script[next].text;
				ev.len = strlen(script[next].text);
			}
			rc = hv_inject(m, &ev);
			fprintf(df, "%llu inject %d -> %d\n", (unsigned long long)hv_steps(m), ev.kind, rc);
			next++;
		}
	}
	if (hv_steps(m) % DIGEST_EVERY)
		put_digest(df, m);
	fclose(df);
	fflush(stdout);
	hv_machine_destroy(m);
	return 0;
}
