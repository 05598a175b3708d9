/* SPDX-License-Identifier: MIT */
/*
 * test_ckpt_transfer: a checkpoint sent in pieces (primary/pair_ckpt.c)
 * arrives byte for byte and replaces the receiver's only when it names the
 * receiver's log and stands later; pieces out of order, of another size or
 * of a sane size never leave a file behind; a peer that holds the
 * checkpoint's place is sent none.
 */
#include "primary/pair.h"
#include "hv/hv.h"
#include "hv/le.h"
#include "hv/rr/log.h"
#include "hv/rr/rr.h"
#include "hv/snapshot.h"
#include "hv/tests/check.h"
#include "hv/tests/elf.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char dir[] = "/tmp/test_ckpt_transfer_XXXXXX";
static char log_a[300], log_b[300], elf[300], ckpt_a[300], ckpt_b[300];

static void write_log_header(const char *path, const char *vm, uint8_t sha[32])
{
	struct rr_header h = { .mem_bytes = 16ull << 20, .smp = 1 };
	uint8_t buf[1024];
	size_t len;
	FILE *f = fopen(path, "wb");

	strcpy(h.vm_id, vm);
	CHECK(rr_header_encode(&h, buf, sizeof(buf), &len) == 0 && f && fwrite(buf, len, 1, f) == 1 &&
	      rr_header_sha256(&h, sha) == 0, "write the log header %s", path);
	if (f)
		fclose(f);
}

/* A small machine at step `steps`, saved with its place in the log named by sha (chunk chunk_seq). */
static void save_checkpoint(const char *path, uint64_t steps, const uint8_t sha[32], uint64_t chunk_seq)
{
	struct hv_config cfg = { .mem_bytes = 16ull << 20, .smp = 1, .kernel = elf };
	struct hv_machine *m;
	struct hv_stop_info info;
	char err[512];

	CHECK(hv_machine_create(&cfg, NULL, NULL, &m, err, sizeof(err)) == 0, "create: %s", err);
	if (!m)
		return;
	while (hv_steps(m) < steps && hv_run(m, steps - hv_steps(m), &info) == 0 && info.why == HV_STOP_BUDGET)
		;
	struct hv_snapshot_logpos pos = { .valid = true, .events = 1, .chunk_seq = chunk_seq,
					  .last_event_step = 1, .last_event_kind = RR_CLOCK, .chunk_events = 1 };
	memcpy(pos.header_sha256, sha, 32);
	CHECK(hv_snapshot_save(m, path, &pos, err, sizeof(err)) == 0, "save: %s", err);
	hv_machine_destroy(m);
}

static bool same_file(const char *a, const char *b)
{
	FILE *fa = fopen(a, "rb"), *fb = fopen(b, "rb");
	int ca, cb;
	bool same = fa && fb;

	while (same && ((ca = fgetc(fa)) != EOF || (cb = fgetc(fb)) != EOF))
		same = ca == (cb = fgetc(fb));
	if (same)
		same = fgetc(fb) == EOF;
	if (fa)
		fclose(fa);
	if (fb)
		fclose(fb);
	return same;
}

/* Every piece of s into r; false on the first refusal. */
static bool transfer(struct ft_ckpt_send *s, struct ft_ckpt_recv *r, int *pieces)
{
	const uint8_t *piece;
	size_t len;
	char why[512];

	*pieces = 0;
	while (ft_ckpt_send_next(s, &piece, &len) == 1) {
		CHECK(ft_ckpt_is_piece(piece, len), "a piece says it is one");
		if (ft_ckpt_recv_piece(r, piece, len, why, sizeof(why)))
			return false;
		ft_ckpt_send_taken(s);
		(*pieces)++;
	}
	return true;
}

static void test_round_trip(void)
{
	uint8_t sha_a[32], sha_b[32];
	struct ft_ckpt_send s;
	struct ft_ckpt_recv r;
	uint64_t steps;
	int pieces;
	char why[512];
	struct stat st;

	write_log_header(log_a, "vm-a", sha_a);
	write_log_header(log_b, "vm-b", sha_b);
	save_checkpoint(ckpt_a, 40000, sha_a, 7);

	/* The peer holds the log to item 8 (chunk 7): it needs none. */
	CHECK(ft_ckpt_send_open(&s, ckpt_a, log_a, 9, why, sizeof(why)) == 0 && s.fd < 0,
	      "a peer holding the checkpoint's place is sent none");
	CHECK(ft_ckpt_send_open(&s, ckpt_a, log_b, 0, why, sizeof(why)) == 0 && strstr(why, "no place in this log"),
	      "a checkpoint of another log is not sent: %s", why);
	CHECK(ft_ckpt_send_open(&s, "/nonexistent.ckpt", log_a, 0, why, sizeof(why)) == 0, "no checkpoint, none sent");

	CHECK(ft_ckpt_send_open(&s, ckpt_a, log_a, 8, why, sizeof(why)) == 1 && s.steps == 40000 &&
	      s.place_items == 9, "a peer short of the place is sent it: %s", why);
	ft_ckpt_recv_init(&r, ckpt_b);
	CHECK(transfer(&s, &r, &pieces) && r.whole && pieces >= 1, "every piece taken");
	ft_ckpt_send_close(&s);
	CHECK(same_file(r.path, ckpt_a), "the received file is the checkpoint, byte for byte");

	/* It names log a: a receiver of log b keeps its own, and the received file goes. */
	CHECK(ft_ckpt_recv_take(&r, ckpt_b, sha_b, 0, &steps, why, sizeof(why)) == 0 && strstr(why, "another log"),
	      "refused for another log: %s", why);
	CHECK(stat(r.path, &st) < 0 && stat(ckpt_b, &st) < 0, "nothing left behind");

	/* Later than ours: it replaces it. Not later: ours stays. */
	CHECK(ft_ckpt_send_open(&s, ckpt_a, log_a, 0, why, sizeof(why)) == 1, "open again: %s", why);
	CHECK(transfer(&s, &r, &pieces), "sent again");
	ft_ckpt_send_close(&s);
	CHECK(ft_ckpt_recv_take(&r, ckpt_b, sha_a, 40000, &steps, why, sizeof(why)) == 0 && strstr(why, "own"),
	      "not later than ours: %s", why);
	CHECK(ft_ckpt_send_open(&s, ckpt_a, log_a, 0, why, sizeof(why)) == 1, "open again: %s", why);
	CHECK(transfer(&s, &r, &pieces), "sent again");
	ft_ckpt_send_close(&s);
	CHECK(ft_ckpt_recv_take(&r, ckpt_b, sha_a, 30000, &steps, why, sizeof(why)) == 1 && steps == 40000,
	      "later than ours: taken: %s", why);
	CHECK(same_file(ckpt_b, ckpt_a) && stat(r.path, &st) < 0, "in place, the received file renamed");
	unlink(ckpt_b);
}

static void test_refusals(void)
{
	struct ft_ckpt_recv r;
	uint8_t piece[FT_CKPT_PIECE_HEADER + 16] = { 0 };
	uint64_t steps;
	char why[512];
	struct stat st;
	uint8_t sha[32] = { 0 };

	ft_ckpt_recv_init(&r, ckpt_b);
	memcpy(piece, FT_CKPT_PIECE_MAGIC, 8);
	le64_store(piece + 16, 32);	/* a file of 32 bytes */
	le64_store(piece + 8, 16);
	CHECK(ft_ckpt_recv_piece(&r, piece, sizeof(piece), why, sizeof(why)) == -EPROTO,
	      "a first piece not at offset 0 is refused");
	le64_store(piece + 8, 0);
	CHECK(ft_ckpt_recv_piece(&r, piece, sizeof(piece), why, sizeof(why)) == 0 && !r.whole, "first half");
	CHECK(ft_ckpt_recv_piece(&r, piece, sizeof(piece), why, sizeof(why)) == 0 && r.got == 16,
	      "offset 0 again: a new transfer (a renewed channel) starts over");
	le64_store(piece + 8, 24);
	CHECK(ft_ckpt_recv_piece(&r, piece, 8 + FT_CKPT_PIECE_HEADER, why, sizeof(why)) == -EPROTO &&
	      stat(r.path, &st) < 0, "a gap: refused, the file goes");
	le64_store(piece + 8, 0);
	CHECK(ft_ckpt_recv_piece(&r, piece, sizeof(piece), why, sizeof(why)) == 0, "first half again");
	le64_store(piece + 8, 16);
	le64_store(piece + 16, 33);
	CHECK(ft_ckpt_recv_piece(&r, piece, sizeof(piece), why, sizeof(why)) == -EPROTO && stat(r.path, &st) < 0,
	      "a piece that names another size is refused");
	le64_store(piece + 8, 0);
	le64_store(piece + 16, 8);
	CHECK(ft_ckpt_recv_piece(&r, piece, sizeof(piece), why, sizeof(why)) == -EPROTO,
	      "a piece longer than the file is refused");
	le64_store(piece + 16, FT_CKPT_MAX_BYTES + 1);
	CHECK(ft_ckpt_recv_piece(&r, piece, sizeof(piece), why, sizeof(why)) == -EPROTO,
	      "a file over the bound is refused before anything is written");
	le64_store(piece + 16, 16);
	CHECK(ft_ckpt_recv_piece(&r, piece, sizeof(piece), why, sizeof(why)) == 0 && r.whole, "a whole file");
	CHECK(ft_ckpt_recv_take(&r, ckpt_b, sha, 0, &steps, why, sizeof(why)) == 0 && stat(r.path, &st) < 0 &&
	      stat(ckpt_b, &st) < 0, "not a snapshot: not taken, removed: %s", why);
	CHECK(ft_ckpt_recv_take(&r, ckpt_b, sha, 0, &steps, why, sizeof(why)) == 0 && strstr(why, "none"),
	      "nothing received: %s", why);
}

int main(void)
{
	uint32_t loop[] = { 0x0000006f };	/* j . */

	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 1;
	}
	snprintf(log_a, sizeof(log_a), "%s/a.ftlog", dir);
	snprintf(log_b, sizeof(log_b), "%s/b.ftlog", dir);
	snprintf(elf, sizeof(elf), "%s/loop.elf", dir);
	snprintf(ckpt_a, sizeof(ckpt_a), "%s/a.ftlog.ckpt", dir);
	snprintf(ckpt_b, sizeof(ckpt_b), "%s/b.ftlog.ckpt", dir);
	CHECK(test_write_elf(elf, loop, 1) == 0, "write the kernel");
	test_round_trip();
	test_refusals();
	unlink(log_a);
	unlink(log_b);
	unlink(elf);
	unlink(ckpt_a);
	rmdir(dir);
	if (check_failures) {
		fprintf(stderr, "test_ckpt_transfer: %d failures\n", check_failures);
		return 1;
	}
	printf("test_ckpt_transfer: ok\n");
	return 0;
}
