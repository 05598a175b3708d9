/* SPDX-License-Identifier: MIT */
/* test_arbiter: the lock-file arbiter is a compare-and-set: of many contenders for one epoch, one wins. */
#include "primary/pair.h"
#include "hv/tests/check.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static char path[256];
static char spec[300];

static void test_sequence(void)
{
	struct ft_arbiter *a, *b;
	char err[512], owner[128];
	uint64_t e;

	CHECK(ft_arbiter_open("nonsense", &a, err, sizeof(err)) == -EINVAL);
	CHECK(strstr(err, "lock:PATH") != NULL, "message: %s", err);
	CHECK(ft_arbiter_open(spec, &a, err, sizeof(err)) == 0);
	CHECK(ft_arbiter_open(spec, &b, err, sizeof(err)) == 0);
	CHECK(ft_arbiter_read(a, &e, owner, sizeof(owner), err, sizeof(err)) == 0);
	CHECK_EQ(e, 0, "a new arbiter's epoch");
	CHECK(ft_arbiter_take(a, 0, "primary", err, sizeof(err)) == 0);
	/* b saw epoch 0 too, but a moved it first */
	CHECK(ft_arbiter_take(b, 0, "backup", err, sizeof(err)) == -EAGAIN);
	CHECK(strstr(err, "epoch is 1 (owner primary)") != NULL, "message: %s", err);
	CHECK(ft_arbiter_read(b, &e, owner, sizeof(owner), err, sizeof(err)) == 0);
	CHECK(e == 1 && !strcmp(owner, "primary"), "epoch %llu owner %s", (unsigned long long)e, owner);
	CHECK(ft_arbiter_take(b, 1, "backup", err, sizeof(err)) == 0);
	CHECK(ft_arbiter_read(a, &e, owner, sizeof(owner), err, sizeof(err)) == 0);
	CHECK(e == 2 && !strcmp(owner, "backup"));
	CHECK(ft_arbiter_take(a, 1, "primary", err, sizeof(err)) == -EAGAIN, "a stale epoch never wins");
	CHECK(ft_arbiter_take(a, 2, "x\ny", err, sizeof(err)) == -EINVAL, "an owner with a newline");
	ft_arbiter_free(a);
	ft_arbiter_free(b);
}

static void test_garbage(void)
{
	struct ft_arbiter *a;
	char err[512], owner[128];
	uint64_t e;
	FILE *f = fopen(path, "w");

	fputs("not an epoch\n", f);
	fclose(f);
	CHECK(ft_arbiter_open(spec, &a, err, sizeof(err)) == 0);
	CHECK(ft_arbiter_read(a, &e, owner, sizeof(owner), err, sizeof(err)) == -EBADMSG);
	CHECK(strstr(err, "unreadable") != NULL, "message: %s", err);
	CHECK(ft_arbiter_take(a, 0, "p", err, sizeof(err)) == -EBADMSG, "no take over garbage");
	ft_arbiter_free(a);
	unlink(path);
}

/* Twenty processes race for each of ten epochs: exactly one wins each. */
static void test_race(void)
{
	enum { PROCS = 20, ROUNDS = 10 };

	for (int round = 0; round < ROUNDS; round++) {
		pid_t pids[PROCS];
		int wins = 0;
		for (int i = 0; i < PROCS; i++) {
			pids[i] = fork();
			if (pids[i] == 0) {
				struct ft_arbiter *a;
				char err[512], name[32];
				snprintf(name, sizeof(name), "p%d", i);
				if (ft_arbiter_open(spec, &a, err, sizeof(err)))
					_exit(2);
				_exit(ft_arbiter_take(a, (uint64_t)round, name, err, sizeof(err)) == 0 ? 0 : 1);
			}
		}
		for (int i = 0; i < PROCS; i++) {
			int st;
			waitpid(pids[i], &st, 0);
			wins += WIFEXITED(st) && WEXITSTATUS(st) == 0;
			CHECK(WIFEXITED(st) && WEXITSTATUS(st) < 2);
		}
		CHECK_EQ(wins, 1, "winners of one epoch");
	}
	struct ft_arbiter *a;
	char err[512], owner[128];
	uint64_t e;
	CHECK(ft_arbiter_open(spec, &a, err, sizeof(err)) == 0);
	CHECK(ft_arbiter_read(a, &e, owner, sizeof(owner), err, sizeof(err)) == 0);
	CHECK_EQ(e, ROUNDS, "epoch after the races");
	ft_arbiter_free(a);
}

int main(void)
{
	snprintf(path, sizeof(path), "/tmp/ftvm-test-arbiter.%d", (int)getpid());
	snprintf(spec, sizeof(spec), "lock:%s", path);
	unlink(path);
	test_sequence();
	test_garbage();
	unlink(path);
	test_race();
	unlink(path);
	return check_done("test_arbiter");
}
