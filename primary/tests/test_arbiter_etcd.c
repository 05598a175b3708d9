/* SPDX-License-Identifier: MIT */
/*
 * test_arbiter_etcd: the etcd arbiter against a real cluster that
 * test_arbiter_etcd.sh starts and breaks. One subcommand per phase:
 *   basic SPEC          empty read, take 0 wins, a second take 0 loses naming the winner,
 *                       stale epochs never win, bad specs refused
 *   race SPEC N         N processes race for each of 5 epochs: exactly one wins each
 *   lease SPEC KEY      keepalive keeps the lease; without it the lease lapses, the key
 *                       KEY vanishes on etcd, and a later keepalive re-attaches only while the
 *                       epoch is still ours; a successor's win revokes it
 *   works SPEC          a minority outage: read and take still work
 *   bench SPEC [N]      prints how long N takes last (p50, p90, max), with a lease at hand
 *   down SPEC BOUND_MS  no majority (or refused): read and take fail with -EIO within BOUND_MS, naming
 *                       the endpoints
 */
#include "primary/pair.h"
#include "hv/tests/check.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static uint64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static struct ft_arbiter *open_ok(const char *spec)
{
	struct ft_arbiter *a = NULL;
	char err[1024];

	if (ft_arbiter_open(spec, &a, err, sizeof(err))) {
		fprintf(stderr, "open %s: %s\n", spec, err);
		exit(1);
	}
	return a;
}

static void test_basic(const char *spec)
{
	struct ft_arbiter *a = open_ok(spec), *b = open_ok(spec);
	char err[1024], owner[128], bad[512];
	uint64_t e = 99;

	CHECK(!strncmp(ft_arbiter_name(a), "etcd://", 7), "name %s", ft_arbiter_name(a));
	CHECK(ft_arbiter_read(a, &e, owner, sizeof(owner), err, sizeof(err)) == 0, "read: %s", err);
	CHECK(e == 0 && !owner[0], "an empty key reads as epoch 0, no owner (got %" PRIu64 " '%s')", e, owner);
	CHECK(ft_arbiter_take(a, 0, "primary", err, sizeof(err)) == 0, "take 0: %s", err);
	CHECK(ft_arbiter_lease_valid(a, mono_ms()), "the winner holds a lease");
	CHECK(!ft_arbiter_lease_valid(b, mono_ms()), "a side that won nothing holds no valid lease");
	CHECK(ft_arbiter_lease_ms(a) >= 1000, "lease %" PRIu64 " ms", ft_arbiter_lease_ms(a));
	CHECK(ft_arbiter_take(b, 0, "backup", err, sizeof(err)) == -EAGAIN, "a second take of 0 loses");
	CHECK(strstr(err, "epoch is 1 (owner primary)") != NULL, "message: %s", err);
	CHECK(ft_arbiter_read(b, &e, owner, sizeof(owner), err, sizeof(err)) == 0);
	CHECK(e == 1 && !strcmp(owner, "primary"), "epoch %" PRIu64 " owner %s", e, owner);
	CHECK(ft_arbiter_take(b, 1, "backup", err, sizeof(err)) == 0, "take 1: %s", err);
	CHECK(ft_arbiter_takeover_wait_ms(b) >= ft_arbiter_lease_ms(a),
	      "primary's lease was alive: a successor that did not protect it waits %" PRIu64 " ms",
	      ft_arbiter_takeover_wait_ms(b));
	CHECK(ft_arbiter_read(a, &e, owner, sizeof(owner), err, sizeof(err)) == 0);
	CHECK(e == 2 && !strcmp(owner, "backup"), "epoch %" PRIu64 " owner %s", e, owner);
	CHECK(ft_arbiter_take(a, 1, "primary", err, sizeof(err)) == -EAGAIN, "a stale epoch never wins");
	CHECK(ft_arbiter_take(a, 0, "primary", err, sizeof(err)) == -EAGAIN, "nor epoch 0 again");
	CHECK(ft_arbiter_take(a, 2, "x\ny", err, sizeof(err)) == -EINVAL, "an owner with a newline");
	/* b's next keepalive revokes a's lease: a learns at its own next keepalive that epoch 1 is gone. */
	CHECK(ft_arbiter_keepalive(b, err, sizeof(err)) == 0, "the owner's keepalive: %s", err);
	CHECK(ft_arbiter_keepalive(a, err, sizeof(err)) == -EAGAIN, "the old owner's keepalive after a successor won");
	CHECK(strstr(err, "epoch is 2 (owner backup)") != NULL, "message: %s", err);
	CHECK(!ft_arbiter_lease_valid(a, mono_ms()), "and its lease is no longer valid");
	CHECK(ft_arbiter_keepalive(b, err, sizeof(err)) == 0, "the owner's keepalive: %s", err);
	CHECK(ft_arbiter_lease_valid(b, mono_ms()));
	ft_arbiter_free(a);
	ft_arbiter_free(b);

	static const char *const bads[] = {
		"etcd://", "etcd://host", "etcd://host:", "etcd://h:1/", "etcd://h:1?lease_s=0",
		"etcd://h:1?timeout_ms=abc", "etcd://h:1?frobnicate=1", "etcd://h:1?cacert=/nonexistent/ca.crt",
		"etcd://h:1?cert=/etc/hostname",
	};
	for (size_t i = 0; i < sizeof(bads) / sizeof(bads[0]); i++) {
		struct ft_arbiter *x = NULL;
		CHECK(ft_arbiter_open(bads[i], &x, bad, sizeof(bad)) == -EINVAL && !x, "spec %s refused", bads[i]);
		CHECK(strstr(bad, "arbiter") != NULL, "message for %s: %s", bads[i], bad);
	}
	/* An old owner still reaching etcd, whose lease nobody revoked, learns of the win at its next keepalive. */
	struct ft_arbiter *p = open_ok(spec), *q = open_ok(spec);
	CHECK(ft_arbiter_read(p, &e, owner, sizeof(owner), err, sizeof(err)) == 0);
	CHECK(ft_arbiter_take(p, e, "p", err, sizeof(err)) == 0, "%s", err);
	CHECK(ft_arbiter_keepalive(p, err, sizeof(err)) == 0, "%s", err);
	CHECK(ft_arbiter_take(q, e + 1, "q", err, sizeof(err)) == 0, "%s", err);
	CHECK(ft_arbiter_lease_valid(p, mono_ms()), "p cannot know yet");
	CHECK(ft_arbiter_keepalive(p, err, sizeof(err)) == -EAGAIN, "p's keepalive reads the epoch back");
	CHECK(strstr(err, "owner q") != NULL, "message: %s", err);
	CHECK(!ft_arbiter_lease_valid(p, mono_ms()), "and p's lease no longer counts");
	ft_arbiter_free(p);
	ft_arbiter_free(q);

	/* A take on a lease that a successor revoked: etcd refuses the lease, a fresh one is granted. */
	struct ft_arbiter *x = open_ok(spec), *y = open_ok(spec);
	CHECK(ft_arbiter_read(x, &e, owner, sizeof(owner), err, sizeof(err)) == 0);
	uint64_t e0 = e;
	CHECK(ft_arbiter_take(x, e, "x", err, sizeof(err)) == 0, "%s", err);
	CHECK(ft_arbiter_take(y, e + 1, "y", err, sizeof(err)) == 0, "%s", err);
	CHECK(ft_arbiter_keepalive(y, err, sizeof(err)) == 0, "%s", err);	/* revokes x's lease */
	CHECK(ft_arbiter_take(x, e + 2, "x", err, sizeof(err)) == 0, "take with a revoked lease at hand: %s", err);
	CHECK(ft_arbiter_lease_valid(x, mono_ms()));
	CHECK(ft_arbiter_read(y, &e, owner, sizeof(owner), err, sizeof(err)) == 0);
	CHECK(e == e0 + 3 && !strcmp(owner, "x"), "epoch %" PRIu64 " owner %s", e, owner);
	ft_arbiter_free(x);
	ft_arbiter_free(y);

	/* lock: still reaches the lock kind, through the same dispatch */
	snprintf(bad, sizeof(bad), "lock:/tmp/ftvm-test-arbiter-etcd.%d", (int)getpid());
	struct ft_arbiter *l = open_ok(bad);
	CHECK(ft_arbiter_lease_ms(l) == 0 && ft_arbiter_lease_valid(l, mono_ms()), "lock: has no lease to lose");
	CHECK(ft_arbiter_takeover_wait_ms(l) == 0);
	CHECK(ft_arbiter_keepalive(l, err, sizeof(err)) == 0);
	ft_arbiter_free(l);
	unlink(bad + 5);
}

static void test_race(const char *spec, int procs)
{
	enum { ROUNDS = 5 };
	pid_t pids[64];

	if (procs > 64)
		procs = 64;
	for (int round = 0; round < ROUNDS; round++) {
		int wins = 0, pipefd[2];
		CHECK(pipe(pipefd) == 0);
		for (int i = 0; i < procs; i++) {
			pids[i] = fork();
			if (pids[i] == 0) {
				struct ft_arbiter *a;
				char err[1024], name[32], go;
				close(pipefd[1]);
				snprintf(name, sizeof(name), "p%d", i);
				if (ft_arbiter_open(spec, &a, err, sizeof(err)))
					_exit(2);
				/* everyone starts together, once the pipe closes */
				if (read(pipefd[0], &go, 1) < 0)
					_exit(2);
				int rc = ft_arbiter_take(a, (uint64_t)round, name, err, sizeof(err));
				if (rc && rc != -EAGAIN)
					fprintf(stderr, "p%d: %s\n", i, err);
				if (rc == -EAGAIN && !strstr(err, "owner p"))
					fprintf(stderr, "p%d: the loser's message names no winner: %s\n", i, err);
				_exit(rc == 0 ? 0 : rc == -EAGAIN && strstr(err, "owner p") ? 1 : 2);
			}
		}
		close(pipefd[0]);
		close(pipefd[1]);
		for (int i = 0; i < procs; i++) {
			int st;
			waitpid(pids[i], &st, 0);
			wins += WIFEXITED(st) && WEXITSTATUS(st) == 0;
			CHECK(WIFEXITED(st) && WEXITSTATUS(st) < 2, "contender %d: status %d", i, st);
		}
		CHECK_EQ(wins, 1, "winners of one epoch");
	}
	struct ft_arbiter *a = open_ok(spec);
	char err[1024], owner[128];
	uint64_t e;
	CHECK(ft_arbiter_read(a, &e, owner, sizeof(owner), err, sizeof(err)) == 0, "%s", err);
	CHECK_EQ(e, ROUNDS, "epoch after the races");
	CHECK(owner[0] == 'p', "owner %s", owner);
	ft_arbiter_free(a);
	printf("race: %d processes, %d epochs, one winner each\n", procs, ROUNDS);
}

/* Whether etcdctl (ETCDCTL_ENDPOINTS from the script) finds KEY: 1, 0, or -1 if it cannot tell. */
static int lease_key_present(const char *key)
{
	char cmd[512], line[256];
	int n = 0;
	FILE *f;

	snprintf(cmd, sizeof(cmd), "ETCDCTL_API=3 etcdctl get --keys-only '%s'", key);
	f = popen(cmd, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		n += !strncmp(line, key, strlen(key));
	return pclose(f) == 0 ? n > 0 : -1;
}

static void test_lease(const char *spec, const char *lease_key)
{
	struct ft_arbiter *a = open_ok(spec), *b = open_ok(spec);
	char err[1024], owner[128];
	uint64_t e, lease_ms, t0 = 0;

	CHECK(ft_arbiter_read(a, &e, owner, sizeof(owner), err, sizeof(err)) == 0, "%s", err);
	CHECK(ft_arbiter_take(a, e, "primary", err, sizeof(err)) == 0, "take: %s", err);
	lease_ms = ft_arbiter_lease_ms(a);
	/* Kept alive for three leases, it stays valid throughout. */
	uint64_t start = mono_ms();
	while (mono_ms() - start < 3 * lease_ms) {
		t0 = mono_ms();
		CHECK(ft_arbiter_keepalive(a, err, sizeof(err)) == 0, "keepalive: %s", err);
		CHECK(ft_arbiter_lease_valid(a, mono_ms()), "valid while kept alive");
		usleep((useconds_t)(lease_ms / 4 * 1000));
	}
	CHECK(ft_arbiter_keepalive(a, err, sizeof(err)) == 0, "keepalive: %s", err);
	t0 = mono_ms();
	CHECK(lease_key_present(lease_key) == 1, "%s is on etcd while the lease lives", lease_key);
	/* Left alone, it lapses locally within the lease of the last keepalive... */
	while (ft_arbiter_lease_valid(a, mono_ms()) && mono_ms() - t0 < 2 * lease_ms)
		usleep(10000);
	uint64_t lapsed = mono_ms() - t0;
	CHECK(!ft_arbiter_lease_valid(a, mono_ms()), "the lease lapses without keepalive");
	CHECK(lapsed <= lease_ms, "lapsed after %" PRIu64 " ms, lease %" PRIu64 " ms", lapsed, lease_ms);
	printf("lease: %" PRIu64 " ms, lapsed locally %" PRIu64 " ms after the last keepalive\n", lease_ms, lapsed);
	/* ...and on etcd soon after: the lease key is gone (asked of etcdctl, not of us). */
	usleep((useconds_t)(lease_ms / 2 + 1500) * 1000);
	CHECK(lease_key_present(lease_key) == 0, "etcd dropped %s with the lease", lease_key);
	/* Nobody took over: a keepalive re-attaches a new lease to the same epoch. */
	CHECK(ft_arbiter_keepalive(a, err, sizeof(err)) == 0, "re-attach: %s", err);
	CHECK(ft_arbiter_lease_valid(a, mono_ms()), "valid again: the epoch was still ours");
	CHECK(ft_arbiter_read(b, &e, owner, sizeof(owner), err, sizeof(err)) == 0);
	CHECK(!strcmp(owner, "primary"), "owner %s", owner);
	/* Now let it lapse and have a successor win: the old owner's keepalive must not come back. */
	CHECK(ft_arbiter_take(b, e, "backup", err, sizeof(err)) == 0, "successor: %s", err);
	CHECK(ft_arbiter_keepalive(b, err, sizeof(err)) == 0, "successor's keepalive: %s", err);
	CHECK(ft_arbiter_keepalive(a, err, sizeof(err)) == -EAGAIN, "the old owner cannot renew");
	CHECK(strstr(err, "owner backup") != NULL, "message: %s", err);
	CHECK(!ft_arbiter_lease_valid(a, mono_ms()));
	CHECK(ft_arbiter_keepalive(a, err, sizeof(err)) == 0, "a spare lease for a side that owns nothing: %s", err);
	CHECK(!ft_arbiter_lease_valid(a, mono_ms()), "which is not the arbiter's");
	/* The owner stops renewing; once its lease is gone from etcd, a successor has nothing to wait out. */
	CHECK(ft_arbiter_read(a, &e, owner, sizeof(owner), err, sizeof(err)) == 0);
	usleep((useconds_t)(2 * lease_ms + 1500) * 1000);
	CHECK(lease_key_present(lease_key) == 0, "the lapsed owner's lease key is gone");
	CHECK(ft_arbiter_take(a, e, "primary", err, sizeof(err)) == 0, "%s", err);
	CHECK(ft_arbiter_takeover_wait_ms(a) == 0, "wait %" PRIu64 " ms after a lapsed owner",
	      ft_arbiter_takeover_wait_ms(a));
	ft_arbiter_free(a);
	ft_arbiter_free(b);
}

static void test_works(const char *spec)
{
	struct ft_arbiter *a = open_ok(spec);
	char err[1024], owner[128];
	uint64_t e, t0 = mono_ms();

	CHECK(ft_arbiter_read(a, &e, owner, sizeof(owner), err, sizeof(err)) == 0, "read: %s", err);
	CHECK(ft_arbiter_take(a, e, "minority-survivor", err, sizeof(err)) == 0, "take: %s", err);
	CHECK(ft_arbiter_take(a, e, "again", err, sizeof(err)) == -EAGAIN, "and the CAS still holds");
	printf("works: read and take in %" PRIu64 " ms\n", mono_ms() - t0);
	ft_arbiter_free(a);
}

static void test_down(const char *spec, uint64_t bound_ms)
{
	struct ft_arbiter *a = open_ok(spec);
	char err[1024], owner[128];
	uint64_t e, t0 = mono_ms(), took;
	int rc;

	rc = ft_arbiter_take(a, 7, "nobody", err, sizeof(err));
	took = mono_ms() - t0;
	CHECK(rc == -EIO, "take without a majority: %d (%s)", rc, err);
	CHECK(took <= bound_ms, "take gave up after %" PRIu64 " ms, bound %" PRIu64, took, bound_ms);
	CHECK(strstr(err, "unreachable, no member answered") != NULL, "message: %s", err);
	printf("unreachable: take failed in %" PRIu64 " ms: %s\n", took, err);
	t0 = mono_ms();
	rc = ft_arbiter_read(a, &e, owner, sizeof(owner), err, sizeof(err));
	took = mono_ms() - t0;
	CHECK(rc == -EIO && took <= bound_ms, "read without a majority: %d after %" PRIu64 " ms (%s)", rc, took, err);
	ft_arbiter_free(a);
}

static int cmp_u64(const void *x, const void *y)
{
	uint64_t a = *(const uint64_t *)x, b = *(const uint64_t *)y;

	return a < b ? -1 : a > b;
}

/* Printed, not asserted: how long a take (the step between losing the peer and going live) takes. */
static void bench(const char *spec, int n)
{
	struct ft_arbiter *a = open_ok(spec);
	char err[1024], owner[128];
	uint64_t us[200], e;

	if (n > 200)
		n = 200;
	for (int i = 0; i < n; i++) {
		struct timespec t0, t1;
		CHECK(ft_arbiter_keepalive(a, err, sizeof(err)) == 0, "%s", err);	/* the daemon's timer */
		CHECK(ft_arbiter_read(a, &e, owner, sizeof(owner), err, sizeof(err)) == 0, "%s", err);
		clock_gettime(CLOCK_MONOTONIC, &t0);
		CHECK(ft_arbiter_take(a, e, i % 2 ? "backup" : "primary", err, sizeof(err)) == 0, "%s", err);
		clock_gettime(CLOCK_MONOTONIC, &t1);
		us[i] = (uint64_t)((int64_t)(t1.tv_sec - t0.tv_sec) * 1000000 + (t1.tv_nsec - t0.tv_nsec) / 1000);
	}
	qsort(us, n, sizeof(us[0]), cmp_u64);
	printf("take on %s: p50 %.2f ms, p90 %.2f ms, max %.2f ms over %d\n", ft_arbiter_name(a),
	       us[n / 2] / 1e3, us[n * 9 / 10] / 1e3, us[n - 1] / 1e3, n);
	ft_arbiter_free(a);
}

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: %s basic|race|lease|works|down SPEC [N|BOUND_MS]\n", argv[0]);
		return 2;
	}
	const char *what = argv[1], *spec = argv[2];
	if (!strcmp(what, "basic"))
		test_basic(spec);
	else if (!strcmp(what, "race"))
		test_race(spec, argc > 3 ? atoi(argv[3]) : 20);
	else if (!strcmp(what, "lease") && argc > 3)
		test_lease(spec, argv[3]);
	else if (!strcmp(what, "works"))
		test_works(spec);
	else if (!strcmp(what, "bench"))
		bench(spec, argc > 3 ? atoi(argv[3]) : 50);
	else if (!strcmp(what, "down") && argc > 3)
		test_down(spec, strtoull(argv[3], NULL, 10));
	else
		return 2;
	return check_done(what);
}
