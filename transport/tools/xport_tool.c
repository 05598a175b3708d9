/* SPDX-License-Identifier: MIT */
/* ftvm-xport: certificates, and a serve/send pair that moves patterned chunks over the channel. */
#include "transport/certs.h"
#include "transport/log.h"
#include "transport/xport.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Exit codes: 0 done, 1 transfer failed or timed out, 64 usage. */
#define TOOL_EXIT_FAIL 1
#define TOOL_EXIT_USAGE 64

struct tool {
	struct xport_loop *loop;
	struct xport *x;
	uint64_t count, received, bytes, acked;
	size_t size;
	uint32_t digest;
	bool bad, done;
	uint64_t done_ms;
};

static size_t tool_chunk_len(size_t size, uint64_t seq)
{
	return size > 64 ? size - (size_t)(seq % 61) : size;
}

static void tool_fill(uint8_t *p, size_t len, uint64_t seq)
{
	uint64_t s = seq * 0x9e3779b97f4a7c15ull + 1;

	for (size_t i = 0; i < len; i++) {
		s ^= s << 13;
		s ^= s >> 7;
		s ^= s << 17;
		p[i] = (uint8_t)s;
	}
}

static void tool_on_chunk(void *arg, uint64_t seq, uint64_t first_step, const uint8_t *payload, size_t len)
{
	struct tool *t = arg;
	static uint8_t want[XPORT_MAX_PAYLOAD];

	if (seq != t->received + 1 || first_step != seq * 1000 || len > sizeof(want)) {
		log_warnx("serve: chunk %" PRIu64 " out of order (expected %" PRIu64 ")", seq, t->received + 1);
		t->bad = true;
	} else {
		tool_fill(want, len, seq);
		if (memcmp(want, payload, len) != 0) {
			log_warnx("serve: chunk %" PRIu64 " payload differs", seq);
			t->bad = true;
		}
	}
	t->received = seq;
	t->bytes += len;
	t->digest = t->digest * 31 + (uint32_t)len + payload[len ? len - 1 : 0];
	if (t->count && t->received >= t->count && !t->done) {
		t->done = true;
		t->done_ms = xport_now_ms();
	}
}

static void tool_on_ack(void *arg, uint64_t acked_seq, uint64_t steps)
{
	struct tool *t = arg;

	t->acked = acked_seq;
}

static int tool_usage(void)
{
	fprintf(stderr, "usage: ftvm-xport certs init DIR --hosts a,b\n"
			"       ftvm-xport serve --listen [HOST:]PORT --certs DIR --name ME --peer PEER [--count N]\n"
			"       ftvm-xport send --connect HOST:PORT --certs DIR --name ME --peer PEER --count N [--size BYTES]\n"
			"  common: [--epoch E] [--vm ID] [--timeout SECONDS] [-v]\n");
	return TOOL_EXIT_USAGE;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "listen", required_argument, NULL, 'l' }, { "connect", required_argument, NULL, 'c' },
		{ "certs", required_argument, NULL, 'd' },  { "name", required_argument, NULL, 'n' },
		{ "peer", required_argument, NULL, 'p' },   { "count", required_argument, NULL, 'N' },
		{ "size", required_argument, NULL, 's' },   { "epoch", required_argument, NULL, 'e' },
		{ "vm", required_argument, NULL, 'm' },     { "timeout", required_argument, NULL, 't' },
		{ NULL, 0, NULL, 0 },
	};
	struct xport_config cfg = { .vm_id = "vm0", .epoch = 1 };
	struct xport_callbacks cb = { .on_chunk = tool_on_chunk, .on_ack = tool_on_ack };
	struct tool t = { .size = 65536 };
	char cert[4096], key[4096], ca[4096], addr[256] = "", *colon;
	const char *dir = NULL, *name = NULL;
	uint64_t timeout_s = 60, start, deadline, seq = 1;
	int verbose = 1, o, err, rc = 0;
	uint8_t *buf = NULL;
	bool sending;

	if (argc >= 2 && !strcmp(argv[1], "certs"))
		return xport_certs_main(argc - 1, argv + 1);
	if (argc < 2 || (strcmp(argv[1], "serve") && strcmp(argv[1], "send")))
		return tool_usage();
	sending = !strcmp(argv[1], "send");
	optind = 2;
	while ((o = getopt_long(argc, argv, "v", opts, NULL)) != -1) {
		switch (o) {
		case 'l': case 'c': snprintf(addr, sizeof(addr), "%s", optarg); break;
		case 'd': dir = optarg; break;
		case 'n': name = optarg; break;
		case 'p': cfg.peer_name = optarg; break;
		case 'N': t.count = strtoull(optarg, NULL, 0); break;
		case 's': t.size = strtoull(optarg, NULL, 0); break;
		case 'e': cfg.epoch = strtoull(optarg, NULL, 0); break;
		case 'm': cfg.vm_id = optarg; break;
		case 't': timeout_s = strtoull(optarg, NULL, 0); break;
		case 'v': verbose++; break;
		default: return tool_usage();
		}
	}
	if (!dir || !name || !cfg.peer_name || !*addr || t.size > XPORT_MAX_PAYLOAD || (sending && !t.count))
		return tool_usage();
	log_init(sending ? "xport-send" : "xport-serve", verbose, false);
	snprintf(cert, sizeof(cert), "%s/%s.crt", dir, name);
	snprintf(key, sizeof(key), "%s/%s.key", dir, name);
	snprintf(ca, sizeof(ca), "%s/ca.crt", dir);
	cfg.cert_file = cert;
	cfg.key_file = key;
	cfg.ca_file = ca;
	colon = strrchr(addr, ':');
	if (colon) {
		*colon = '\0';
		cfg.host = addr[0] == '[' ? addr + 1 : addr;
		if (addr[0] == '[' && colon[-1] == ']')
			colon[-1] = '\0';
		cfg.port = colon + 1;
	} else {
		cfg.port = addr;
	}
	cfg.mode = sending ? XPORT_CONNECT : XPORT_LISTEN;
	cfg.role = sending ? XPORT_ROLE_PRIMARY : XPORT_ROLE_BACKUP;
	cfg.credit_chunks = 64;
	cfg.credit_bytes = 64u << 20;
	cfg.auto_credit = true;
	cb.arg = &t;
	if (xport_loop_new(&t.loop))
		fatalx("cannot create the event loop");
	err = xport_new(t.loop, &cfg, &cb, &t.x);
	if (err)
		fatalx("cannot start the channel: %s", strerror(-err));
	if (sending) {
		buf = malloc(t.size ? t.size : 1);
		if (!buf)
			fatalx("out of memory");
	}
	start = xport_now_ms();
	deadline = start + timeout_s * 1000;
	for (;;) {
		if (xport_now_ms() > deadline) {
			log_warnx("timed out after %" PRIu64 " s", timeout_s);
			rc = TOOL_EXIT_FAIL;
			break;
		}
		while (sending && seq <= t.count) {
			size_t len = tool_chunk_len(t.size, seq);

			tool_fill(buf, len, seq);
			if (xport_send_chunk(t.x, seq * 1000, buf, len, NULL))
				break;
			t.bytes += len;
			seq++;
		}
		if (sending && t.acked >= t.count)
			break;
		/* The receiver lingers so its last Ack reaches the sender. */
		if (!sending && t.done && xport_now_ms() - t.done_ms > 500)
			break;
		if (xport_loop_run_once(t.loop, 50) < 0)
			fatal("event loop");
	}
	{
		struct xport_stats st;
		double secs = (double)(xport_now_ms() - start) / 1000.0;

		xport_get_stats(t.x, &st);
		if (sending)
			printf("send: %" PRIu64 " chunks acked, %" PRIu64 " bytes, %" PRIu64 " resent, %" PRIu64
			       " sessions, %.2f s\n", t.acked, t.bytes, st.chunks_resent, st.sessions, secs);
		else
			printf("serve: received %" PRIu64 " chunks, %" PRIu64 " bytes, %" PRIu64 " duplicates dropped, "
			       "%" PRIu64 " sessions, digest %08x%s\n", t.received, t.bytes, st.chunks_duplicate,
			       st.sessions, t.digest, t.bad ? ", CONTENT ERRORS" : "");
	}
	if (t.bad || (!sending && t.count && t.received != t.count))
		rc = TOOL_EXIT_FAIL;
	xport_free(t.x);
	for (int i = 0; i < 5; i++)
		(void)xport_loop_run_once(t.loop, 10);
	xport_loop_free(t.loop);
	free(buf);
	return rc;
}
