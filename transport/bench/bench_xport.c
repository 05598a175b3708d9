/* SPDX-License-Identifier: MIT */
/* Loopback benchmark: sustained TLS throughput with 256 KiB and 16 KiB chunks and the CPU it costs, and Ack round-trip latency. */
#include "transport/certs.h"
#include "transport/log.h"
#include "transport/xport.h"

#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define BENCH_CHUNK (256u << 10)
#define BENCH_SECONDS 3
/*
 * What the receiver lets be in flight: three times the bandwidth-delay
 * product of a 10 Gbit/s link with a 1 ms round trip, and far more than
 * loopback needs. A larger credit only spreads the sender's window over
 * more memory than the caches hold: 64 MiB cost a third more CPU per byte.
 */
#define BENCH_CREDIT_BYTES (4u << 20)
/* The primary may ship the log in smaller pieces: the per-chunk costs show here. */
#define BENCH_SMALL_CHUNK (16u << 10)
#define BENCH_SMALL_SECONDS 2
#define BENCH_PINGS 2000

struct bench {
	struct xport_loop *loop;
	struct xport *x;
	bool up;
	uint64_t acked;
	bool was_up;
};

static void bench_on_link(void *arg, bool up)
{
	struct bench *b = arg;

	b->up = up;
	b->was_up |= up;
}

static void bench_on_ack(void *arg, uint64_t acked, uint64_t steps)
{
	((struct bench *)arg)->acked = acked;
}

/* CPU seconds (user + system) used so far by process pid, from /proc: the receiver is our parent. */
static double cpu_seconds(pid_t pid)
{
	char path[64], buf[1024], *p;
	unsigned long long utime, stime;
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	f = fopen(path, "r");
	if (!f)
		return 0;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	/* Fields 14 and 15 follow the command name, which ends at the last ')'. */
	p = strrchr(buf, ')');
	if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &utime, &stime) != 2)
		return 0;
	return (double)(utime + stime) / (double)sysconf(_SC_CLK_TCK);
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static struct xport_config bench_config(const char *dir, bool sender, const char *port, char files[3][128])
{
	snprintf(files[0], 128, "%s/%s.crt", dir, sender ? "primary" : "backup");
	snprintf(files[1], 128, "%s/%s.key", dir, sender ? "primary" : "backup");
	snprintf(files[2], 128, "%s/ca.crt", dir);
	return (struct xport_config){
		.mode = sender ? XPORT_CONNECT : XPORT_LISTEN,
		.role = sender ? XPORT_ROLE_PRIMARY : XPORT_ROLE_BACKUP,
		.host = "127.0.0.1",
		.port = port,
		.cert_file = files[0],
		.key_file = files[1],
		.ca_file = files[2],
		.peer_name = sender ? "backup" : "primary",
		.vm_id = "bench",
		.epoch = 1,
		.heartbeat_ms = 500,
		.window_chunks = 1024,
		.window_bytes = 2 * BENCH_CREDIT_BYTES,
		.credit_chunks = 1024,
		.credit_bytes = BENCH_CREDIT_BYTES,
		.auto_credit = true,
	};
}

/* Sends chunks of one size as fast as credit allows for a while; prints MB/s and the CPU both sides used. */
static void bench_throughput(struct bench *b, const uint8_t *buf, size_t chunk, int seconds)
{
	uint64_t start = xport_now_us(), end = start + (uint64_t)seconds * 1000000u, seq = b->acked, sent = 0;
	double cpu_send = cpu_seconds(getpid()), cpu_recv = cpu_seconds(getppid()), mb;

	while (xport_now_us() < end) {
		while (xport_send_chunk(b->x, sent, buf, chunk, &seq) == 0)
			sent++;
		(void)xport_loop_run_once(b->loop, 1);
	}
	while (b->acked < seq)
		(void)xport_loop_run_once(b->loop, 1);
	end = xport_now_us();
	cpu_send = cpu_seconds(getpid()) - cpu_send;
	cpu_recv = cpu_seconds(getppid()) - cpu_recv;
	mb = (double)sent * (double)chunk / 1e6;
	printf("bench-transport: throughput %.0f MB/s (%" PRIu64 " chunks of %zu KiB acked in %.2f s, credit %u MiB, %s)\n",
	       mb * 1e6 / (double)(end - start), sent, chunk >> 10, (double)(end - start) / 1e6, BENCH_CREDIT_BYTES >> 20,
	       xport_cipher(b->x));
	/* Bytes per CPU second: comparable between runs on a machine others share, unlike MB/s. */
	printf("bench-transport:   CPU %.0f%% sender + %.0f%% receiver of %ld cores; %.0f MB per sender CPU second, %.0f per CPU second in all\n",
	       100 * cpu_send * 1e6 / (double)(end - start), 100 * cpu_recv * 1e6 / (double)(end - start),
	       sysconf(_SC_NPROCESSORS_ONLN), cpu_send > 0 ? mb / cpu_send : 0,
	       cpu_send + cpu_recv > 0 ? mb / (cpu_send + cpu_recv) : 0);
}

static int bench_sender(const char *dir, const char *port)
{
	char files[3][128];
	struct xport_config cfg = bench_config(dir, true, port, files);
	struct bench b = { 0 };
	struct xport_callbacks cb = { .on_link = bench_on_link, .on_ack = bench_on_ack, .arg = &b };
	static uint64_t rtt[BENCH_PINGS];
	uint8_t *buf = malloc(BENCH_CHUNK);
	uint64_t seq = 0, deadline;

	if (!buf || xport_loop_new(&b.loop) || xport_new(b.loop, &cfg, &cb, &b.x))
		return 1;
	memset(buf, 0x5a, BENCH_CHUNK);
	deadline = xport_now_ms() + 5000;
	while (!b.up && xport_now_ms() < deadline)
		(void)xport_loop_run_once(b.loop, 10);
	if (!b.up) {
		fprintf(stderr, "bench-transport: no session\n");
		return 1;
	}
	bench_throughput(&b, buf, BENCH_CHUNK, BENCH_SECONDS);
	bench_throughput(&b, buf, BENCH_SMALL_CHUNK, BENCH_SMALL_SECONDS);

	for (int i = 0; i < BENCH_PINGS; i++) {
		uint64_t t0 = xport_now_us();

		if (xport_send_chunk(b.x, 0, buf, 64, &seq))
			return 1;
		while (b.acked < seq)
			(void)xport_loop_run_once(b.loop, 1);
		rtt[i] = xport_now_us() - t0;
	}
	qsort(rtt, BENCH_PINGS, sizeof(rtt[0]), cmp_u64);
	printf("bench-transport: ack round trip p50 %" PRIu64 " us, p99 %" PRIu64 " us (%d pings of 64 bytes)\n",
	       rtt[BENCH_PINGS / 2], rtt[BENCH_PINGS * 99 / 100], BENCH_PINGS);
	xport_free(b.x);
	for (int i = 0; i < 5; i++)
		(void)xport_loop_run_once(b.loop, 5);
	xport_loop_free(b.loop);
	free(buf);
	return 0;
}

int main(void)
{
	const char *hosts[] = { "primary", "backup" };
	char dir[] = "/tmp/ftvm-bench.XXXXXX", files[3][128], port[16], cmd[64];
	struct xport_config cfg;
	struct bench b = { 0 };
	struct xport_callbacks cb = { .on_link = bench_on_link, .arg = &b };
	int status = 1;
	pid_t pid;

	log_init("bench-transport", 0, false);
	if (!mkdtemp(dir) || xport_certs_init(dir, hosts, 2))
		return 1;
	cfg = bench_config(dir, false, "0", files);
	if (xport_loop_new(&b.loop) || xport_new(b.loop, &cfg, &cb, &b.x))
		return 1;
	snprintf(port, sizeof(port), "%d", xport_local_port(b.x));
	pid = fork();
	if (pid == 0) {
		int rc = bench_sender(dir, port);

		fflush(stdout);
		_exit(rc);
	}
	/* The receiver (this process) serves until the sender says goodbye or exits. */
	for (;;) {
		(void)xport_loop_run_once(b.loop, 50);
		if (waitpid(pid, &status, WNOHANG) == pid)
			break;
	}
	xport_free(b.x);
	xport_loop_free(b.loop);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd) != 0)
		return 1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
}
