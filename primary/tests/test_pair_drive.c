/* SPDX-License-Identifier: MIT */
/*
 * test_pair_drive: the daemons' driver of pair_sm against a real lock-file
 * arbiter: actions reach the daemon in order, an event fed from inside an
 * action waits its turn, the arbiter's answers (won, lost, unreachable with
 * its backoff) become the machine's next event.
 */
#include "primary/pair_drive.h"
#include "primary/pair.h"
#include "transport/xport.h"
#include "hv/tests/check.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char dir[256], spec[300];

struct daemon {
	struct pair_drive d;
	enum pair_action_kind kinds[64];
	enum pair_state state_at[64];	/* the machine's state when the action was carried out */
	bool after_lost[64];
	int n;
	bool lose_link_on_release;	/* a send that loses the link, inside an action */
	int unreachable;
	unsigned retry_ms;
	bool over;
};

static bool over(void *opaque)
{
	return ((struct daemon *)opaque)->over;
}

static void act(void *opaque, const struct pair_action *a, bool after_lost)
{
	struct daemon *t = opaque;

	if (t->n < 64) {
		t->kinds[t->n] = a->kind;
		t->state_at[t->n] = t->d.sm.state;
		t->after_lost[t->n] = after_lost;
		t->n++;
	}
	if (a->kind == PX_RELEASE_OUTPUT_UP_TO && t->lose_link_on_release) {
		t->lose_link_on_release = false;
		pair_drive_feed(&t->d, (struct pair_event){ .kind = PE_LINK_DOWN });
		CHECK(t->d.sm.state == PS_PROTECTED, "an event fed inside an action waits: %s",
		      pair_state_name(t->d.sm.state));
	}
}

static void stepped(void *opaque, enum pair_state was)
{
}

static void unreachable(void *opaque, const char *why, unsigned retry_ms)
{
	struct daemon *t = opaque;

	t->unreachable++;
	t->retry_ms = retry_ms;
}

static const struct pair_drive_ops ops = { .over = over, .act = act, .stepped = stepped,
					   .unreachable = unreachable };

static int find(const struct daemon *t, enum pair_action_kind k, int from)
{
	for (int i = from; i < t->n; i++)
		if (t->kinds[i] == k)
			return i;
	return -1;
}

static void msg(struct daemon *t, enum pair_msg_kind k, uint64_t epoch, uint64_t a, uint64_t b)
{
	pair_drive_feed(&t->d, (struct pair_event){ .kind = PE_MSG_IN,
		.msg = { .kind = k, .epoch = epoch, .a = a, .b = b, .c = PAIR_BACKUP } });
}

/* A primary that took epoch 1 before its loop ran; its backup says hello and acks: protected, guest started. */
static void start_protected(struct daemon *t, struct ft_arbiter *arb, uint64_t epoch)
{
	memset(t, 0, sizeof(*t));
	pair_drive_init(&t->d, 50, "primary", arb, "p", &ops, t);
	t->d.won = epoch;
	pair_drive_feed(&t->d, (struct pair_event){ .kind = PE_START, .role = PAIR_PRIMARY, .new_vm = true,
		.durable_epoch = epoch - 1 });
	CHECK(t->d.sm.state == PS_WAIT_PEER, "%s", pair_state_name(t->d.sm.state));
	CHECK_EQ(t->d.trips, 0, "round trips: the epoch won before the loop answers the first take");
	pair_drive_feed(&t->d, (struct pair_event){ .kind = PE_LINK_UP });
	msg(t, PM_HELLO, epoch, 0, epoch);
	msg(t, PM_ACK, epoch, 0, 0);
	CHECK(t->d.sm.state == PS_PROTECTED, "%s", pair_state_name(t->d.sm.state));
	int synced = -1;
	for (int i = 0; i < t->n; i++)
		if (t->kinds[i] == PX_SEND && synced < 0)
			synced = i;
	int go = find(t, PX_START_GUEST, 0);
	CHECK(synced >= 0 && go > synced, "SYNCED (%d) before START_GUEST (%d)", synced, go);
}

static void test_won_then_lost(void)
{
	struct ft_arbiter *arb, *other;
	char err[512];
	static struct daemon t;

	CHECK(ft_arbiter_open(spec, &arb, err, sizeof(err)) == 0, "%s", err);
	CHECK(ft_arbiter_open(spec, &other, err, sizeof(err)) == 0, "%s", err);
	CHECK(ft_arbiter_take(arb, 0, "p", err, sizeof(err)) == 0, "%s", err);
	start_protected(&t, arb, 1);

	/* Output up to 100 leaves once acked; the send that follows loses the link. */
	t.n = 0;
	t.lose_link_on_release = true;
	pair_drive_feed(&t.d, (struct pair_event){ .kind = PE_CHUNK_READY, .step = 100 });
	msg(&t, PM_ACK, 1, 100, 100);
	int rel = find(&t, PX_RELEASE_OUTPUT_UP_TO, 0), alone = find(&t, PX_CARRY_ON_UNPROTECTED, 0);
	CHECK(rel >= 0 && alone > rel, "RELEASE (%d), then the queued LINK_DOWN's CARRY_ON (%d)", rel, alone);
	CHECK(t.d.sm.state == PS_ALONE && t.d.sm.epoch == 2, "%s in epoch %llu", pair_state_name(t.d.sm.state),
	      (unsigned long long)t.d.sm.epoch);
	CHECK(!strcmp(t.d.take_why, "link lost"), "why: %s", t.d.take_why);

	/* Protected again; meanwhile the backup took epoch 3: the primary's take is lost, and it stops. */
	pair_drive_feed(&t.d, (struct pair_event){ .kind = PE_LINK_UP });
	msg(&t, PM_HELLO, 2, 100, 2);
	msg(&t, PM_ACK, 2, 100, 100);
	CHECK(t.d.sm.state == PS_PROTECTED, "%s", pair_state_name(t.d.sm.state));
	CHECK(ft_arbiter_take(other, 2, "b", err, sizeof(err)) == 0, "%s", err);
	t.n = 0;
	pair_drive_feed(&t.d, (struct pair_event){ .kind = PE_LINK_DOWN });
	int stop = find(&t, PX_STOP_VM, 0);
	CHECK(stop >= 0 && t.after_lost[stop], "STOP_VM after the arbiter's LOST (%d)", stop);
	CHECK(find(&t, PX_CARRY_ON_UNPROTECTED, 0) < 0, "a loser never carries on");
	CHECK(t.d.sm.state == PS_STOPPED, "%s", pair_state_name(t.d.sm.state));
	CHECK(strstr(t.d.arb_why, "owner b") != NULL, "the arbiter's word names the winner: %s", t.d.arb_why);
	ft_arbiter_free(arb);
	ft_arbiter_free(other);
}

static void test_unreachable(void)
{
	struct ft_arbiter *arb, *other;
	char err[512], path[300];
	static struct daemon t;

	snprintf(path, sizeof(path), "%s/arb", dir);
	CHECK(ft_arbiter_open(spec, &arb, err, sizeof(err)) == 0, "%s", err);
	CHECK(ft_arbiter_take(arb, 0, "p", err, sizeof(err)) == 0, "%s", err);
	start_protected(&t, arb, 1);

	/* The store goes away: the machine holds, and is asked again only after the backoff. */
	unlink(path);
	rmdir(dir);
	pair_drive_feed(&t.d, (struct pair_event){ .kind = PE_LINK_DOWN });
	CHECK(t.d.sm.state == PS_TAKING && t.unreachable == 1 && t.retry_ms == 100, "%s, %d tries, retry %u ms",
	      pair_state_name(t.d.sm.state), t.unreachable, t.retry_ms);
	usleep(130 * 1000);
	uint64_t asked_ms = xport_now_ms();
	pair_drive_tick(&t.d);
	CHECK(t.unreachable == 2 && t.retry_ms == 200, "%d tries, retry %u ms", t.unreachable, t.retry_ms);
	/* The machine alone would ask at its next heartbeat (50 ms); the backoff holds it to 200 ms. */
	usleep(70 * 1000);
	uint64_t now = xport_now_ms();
	pair_drive_tick(&t.d);
	if (now < asked_ms + 150)	/* a host that stalled that long has no "within" to test */
		CHECK_EQ(t.unreachable, 2, "tries within the backoff");

	/* It comes back as it was (epoch 1, ours): the next try after the backoff wins epoch 2. */
	CHECK(mkdir(dir, 0700) == 0);
	CHECK(ft_arbiter_open(spec, &other, err, sizeof(err)) == 0, "%s", err);
	CHECK(ft_arbiter_take(other, 0, "p", err, sizeof(err)) == 0, "%s", err);
	usleep(200 * 1000);
	t.n = 0;
	pair_drive_tick(&t.d);
	CHECK(t.d.sm.state == PS_ALONE && t.d.sm.epoch == 2, "%s in epoch %llu", pair_state_name(t.d.sm.state),
	      (unsigned long long)t.d.sm.epoch);
	CHECK(find(&t, PX_CARRY_ON_UNPROTECTED, 0) >= 0, "carried on alone");

	/* The run is over: nothing more is fed. */
	t.over = true;
	t.n = 0;
	pair_drive_feed(&t.d, (struct pair_event){ .kind = PE_LINK_UP });
	CHECK(!t.d.sm.link_up && t.n == 0, "fed after the run ended");
	ft_arbiter_free(arb);
	ft_arbiter_free(other);
	unlink(path);
}

int main(void)
{
	snprintf(dir, sizeof(dir), "/tmp/ftvm-test-pair-drive.%d", (int)getpid());
	snprintf(spec, sizeof(spec), "lock:%s/arb", dir);
	if (mkdir(dir, 0700)) {
		perror(dir);
		return 1;
	}
	test_won_then_lost();
	snprintf(spec, sizeof(spec), "lock:%s/arb", dir);
	char path[300];
	snprintf(path, sizeof(path), "%s/arb", dir);
	unlink(path);
	test_unreachable();
	rmdir(dir);
	return check_done("test_pair_drive");
}
