/* SPDX-License-Identifier: MIT */
/* test_devices: syscon, CLINT, PLIC and UART driven through their dev_ops with recorded irq lines. */
#include "hv/dev/devices.h"
#include "hv/bus.h"
#include "hv/hv.h"
#include "hv/le.h"
#include "hv/tests/check.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The machine as the CLINT sees it: a clock the test sets by hand. */
static uint64_t fake_mtime;
static int exit_requests;

static uint64_t test_mtime(void *opaque)
{
	return fake_mtime;
}

static void test_request_exit(void *opaque)
{
	exit_requests++;
}

static const struct bus test_bus = { .mtime = test_mtime, .request_exit = test_request_exit };

/* Irq receiver that records the last level of each line and counts changes. */
struct irq_rec {
	int level[32];
	int edges[32];
};

static void rec_set(void *opaque, int irq, int level)
{
	struct irq_rec *r = opaque;

	if (irq < 0 || irq >= 32) {
		fprintf(stderr, "irq %d out of range\n", irq);
		exit(2);
	}
	if (r->level[irq] != level)
		r->edges[irq]++;
	r->level[irq] = level;
}

static uint64_t rd(const struct dev_ops *ops, void *dev, uint64_t off, int size)
{
	uint64_t v = 0xdeadbeefdeadbeefULL;

	if (ops->read(dev, off, size, &v) != 0) {
		check_failures++;
		fprintf(stderr, "%s read at 0x%llx size %d faulted\n", ops->name,
			(unsigned long long)off, size);
	}
	return v;
}

static void wr(const struct dev_ops *ops, void *dev, uint64_t off, int size, uint64_t val)
{
	if (ops->write(dev, off, size, val) != 0) {
		check_failures++;
		fprintf(stderr, "%s write at 0x%llx size %d faulted\n", ops->name,
			(unsigned long long)off, size);
	}
}

/* syscon */

static int last_action = -1, last_code = -1, action_calls;

static void syscon_record(void *opaque, enum syscon_action a, int code)
{
	last_action = (int)a;
	last_code = code;
	action_calls++;
}

static void test_syscon(void)
{
	struct syscon *s = syscon_create(syscon_record, NULL);

	CHECK(s != NULL, "create");
	wr(&syscon_ops, s, 0, 4, 0x5555);
	CHECK(last_action == SYSCON_POWEROFF && action_calls == 1, "poweroff: action %d", last_action);
	wr(&syscon_ops, s, 0, 4, 0x7777);
	CHECK(last_action == SYSCON_REBOOT && action_calls == 2, "reboot: action %d", last_action);
	wr(&syscon_ops, s, 0, 4, (42u << 16) | 0x3333);
	CHECK(last_action == SYSCON_FAIL && last_code == 42, "fail: action %d code %d",
	      last_action, last_code);
	wr(&syscon_ops, s, 0, 4, 0xffff3333ULL);
	CHECK(last_action == SYSCON_FAIL && last_code == 0xffff, "fail code 0xffff: %d", last_code);
	action_calls = 0;
	wr(&syscon_ops, s, 0, 4, 0x1234);
	wr(&syscon_ops, s, 0, 4, 0x55550000);
	wr(&syscon_ops, s, 4, 4, 0x5555);
	wr(&syscon_ops, s, 0, 1, 0x55);
	CHECK(action_calls == 0, "ignored writes called action %d times", action_calls);
	wr(&syscon_ops, s, 0, 2, 0x5555);	/* OpenSBI's sifive_test driver uses writew */
	CHECK(action_calls == 1 && last_action == SYSCON_POWEROFF, "16-bit poweroff");
	action_calls = 0;
	wr(&syscon_ops, s, 0, 8, 0xffffffff00005555ULL);
	CHECK(action_calls == 1 && last_action == SYSCON_POWEROFF, "64-bit store uses low word");
	CHECK_EQ(rd(&syscon_ops, s, 0, 4), 0, "syscon read");
	CHECK_EQ(rd(&syscon_ops, s, 0xff8, 8), 0, "syscon read far");
	syscon_destroy(s);
}

/* CLINT */

static void test_clint(void)
{
	struct irq_rec msip = { 0 }, mtip = { 0 };
	struct irq_line msip_lines[2], mtip_lines[2];
	struct clint *c;

	for (int h = 0; h < 2; h++) {
		msip_lines[h] = (struct irq_line){ rec_set, &msip, h };
		mtip_lines[h] = (struct irq_line){ rec_set, &mtip, h };
	}
	CHECK(clint_create(&test_bus, 0, msip_lines, mtip_lines) == NULL, "0 harts refused");
	CHECK(clint_create(&test_bus, HV_MAX_HARTS + 1, NULL, NULL) == NULL, "too many harts refused");
	c = clint_create(&test_bus, 2, msip_lines, mtip_lines);
	CHECK(c != NULL, "create");

	fake_mtime = 100;
	CHECK_EQ(rd(&clint_ops, c, 0x4000, 8), UINT64_MAX, "mtimecmp reset");
	CHECK_EQ(rd(&clint_ops, c, 0x400c, 4), 0xffffffff, "mtimecmp[1] high half reset");
	CHECK_EQ(clint_next_deadline(c), UINT64_MAX, "no deadline at reset");
	clint_update(c, 100);
	CHECK(mtip.level[0] == 0 && mtip.level[1] == 0, "no MTIP at reset");

	/* mtime comes from the machine and ignores writes. */
	fake_mtime = 0x123456789aULL;
	CHECK_EQ(rd(&clint_ops, c, 0xbff8, 8), 0x123456789aULL, "mtime");
	CHECK_EQ(rd(&clint_ops, c, 0xbff8, 4), 0x3456789a, "mtime low");
	CHECK_EQ(rd(&clint_ops, c, 0xbffc, 4), 0x12, "mtime high");
	wr(&clint_ops, c, 0xbff8, 8, 0);
	CHECK_EQ(rd(&clint_ops, c, 0xbff8, 8), 0x123456789aULL, "mtime after write");

	/* A future mtimecmp: no MTIP yet, a deadline, and the machine is told. */
	fake_mtime = 100;
	exit_requests = 0;
	wr(&clint_ops, c, 0x4000, 8, 150);
	CHECK(exit_requests == 1, "mtimecmp write requests exit (%d)", exit_requests);
	CHECK(mtip.level[0] == 0, "MTIP low before deadline");
	CHECK_EQ(clint_next_deadline(c), 150, "deadline");
	clint_update(c, 149);
	CHECK(mtip.level[0] == 0, "MTIP low at 149");
	clint_update(c, 150);
	CHECK(mtip.level[0] == 1, "MTIP high at mtimecmp");
	CHECK_EQ(clint_next_deadline(c), UINT64_MAX, "fired timer is no deadline");

	/* Rewriting mtimecmp half by half re-evaluates at once. */
	fake_mtime = 200;
	wr(&clint_ops, c, 0x4004, 4, 0);
	wr(&clint_ops, c, 0x4000, 4, 1000);
	CHECK_EQ(rd(&clint_ops, c, 0x4000, 8), 1000, "mtimecmp from halves");
	CHECK(mtip.level[0] == 0, "MTIP cleared by later mtimecmp");
	CHECK_EQ(clint_next_deadline(c), 1000, "deadline after halves");
	wr(&clint_ops, c, 0x4008, 8, 50);
	CHECK(mtip.level[1] == 1, "mtimecmp in the past raises MTIP at once");
	CHECK(mtip.level[0] == 0, "other hart untouched");
	CHECK_EQ(clint_next_deadline(c), 1000, "deadline ignores fired hart");
	wr(&clint_ops, c, 0x4008, 8, 900);
	CHECK(mtip.level[1] == 0, "MTIP1 cleared");
	CHECK_EQ(clint_next_deadline(c), 900, "min deadline over harts");
	wr(&clint_ops, c, 0x4002, 2, 0xabcd);
	CHECK_EQ(rd(&clint_ops, c, 0x4000, 8), 0xabcd03e8ULL, "16-bit mtimecmp write");
	CHECK_EQ(rd(&clint_ops, c, 0x4003, 1), 0xab, "byte read");

	/* msip: bit 0 only, one word per hart, nothing past the last hart. */
	wr(&clint_ops, c, 0x4, 4, 0xffffffff);
	CHECK(msip.level[1] == 1 && msip.level[0] == 0, "MSIP1 raised");
	CHECK_EQ(rd(&clint_ops, c, 0x4, 4), 1, "msip reads bit 0");
	wr(&clint_ops, c, 0x0, 8, 0x0000000100000000ULL | 1);
	CHECK(msip.level[0] == 1 && msip.level[1] == 1, "64-bit msip write");
	wr(&clint_ops, c, 0x4, 4, 2);
	CHECK(msip.level[1] == 0, "MSIP1 cleared by bit0=0");
	wr(&clint_ops, c, 0x8, 4, 1);
	CHECK_EQ(rd(&clint_ops, c, 0x8, 4), 0, "msip past nharts");
	CHECK_EQ(rd(&clint_ops, c, 0x4010, 8), 0, "mtimecmp past nharts");
	exit_requests = 0;
	wr(&clint_ops, c, 0x4010, 8, 5);
	CHECK(exit_requests == 0, "mtimecmp past nharts ignored");
	CHECK_EQ(rd(&clint_ops, c, 0x4001, 4), 0, "misaligned read");
	wr(&clint_ops, c, 0x4001, 4, 0);
	CHECK_EQ(rd(&clint_ops, c, 0x4000, 8), 0xabcd03e8ULL, "misaligned write ignored");
	clint_destroy(c);
}

/* PLIC */

#define PRIO(s)		(0x000000 + 4 * (s))
#define PENDING(w)	(0x001000 + 4 * (w))
#define ENABLE(c, w)	(0x002000 + 0x80 * (c) + 4 * (w))
#define THRESHOLD(c)	(0x200000 + 0x1000 * (c))
#define CLAIM(c)	(0x200004 + 0x1000 * (c))

static void test_plic(void)
{
	struct irq_rec ctx = { 0 };
	struct irq_line lines[4];
	struct plic *p;
	int edges;

	for (int i = 0; i < 4; i++)
		lines[i] = (struct irq_line){ rec_set, &ctx, i };
	CHECK(plic_create(0, lines) == NULL, "0 harts refused");
	p = plic_create(2, lines);
	CHECK(p != NULL, "create");

	/* WARL fields. */
	wr(&plic_ops, p, PRIO(0), 4, 5);
	CHECK_EQ(rd(&plic_ops, p, PRIO(0), 4), 0, "source 0 priority");
	wr(&plic_ops, p, PRIO(95), 4, 0xff);
	CHECK_EQ(rd(&plic_ops, p, PRIO(95), 4), 7, "priority WARL");
	wr(&plic_ops, p, PRIO(96), 4, 3);
	CHECK_EQ(rd(&plic_ops, p, PRIO(96), 4), 0, "no source 96");
	wr(&plic_ops, p, ENABLE(1, 0), 4, 0xffffffff);
	CHECK_EQ(rd(&plic_ops, p, ENABLE(1, 0), 4), 0xfffffffe, "source 0 enable hardwired");
	wr(&plic_ops, p, ENABLE(1, 0), 4, 0);
	wr(&plic_ops, p, THRESHOLD(1), 4, 9);
	CHECK_EQ(rd(&plic_ops, p, THRESHOLD(1), 4), 1, "threshold WARL");
	wr(&plic_ops, p, THRESHOLD(1), 4, 0);

	/* One source through claim and complete on hart 0's S context. */
	wr(&plic_ops, p, PRIO(10), 4, 3);
	wr(&plic_ops, p, ENABLE(1, 0), 4, 1u << 10);
	plic_set_irq(p, 10, 1);
	CHECK(ctx.level[1] == 1, "S ctx raised");
	CHECK(ctx.level[0] == 0 && ctx.level[2] == 0 && ctx.level[3] == 0, "other ctx low");
	CHECK_EQ(rd(&plic_ops, p, PENDING(0), 4), 1u << 10, "pending bit");
	CHECK_EQ(rd(&plic_ops, p, CLAIM(0), 4), 0, "M ctx not enabled: claim 0");
	CHECK_EQ(rd(&plic_ops, p, CLAIM(1), 4), 10, "claim");
	CHECK(ctx.level[1] == 0, "claim lowers ctx line");
	CHECK_EQ(rd(&plic_ops, p, PENDING(0), 4), 0, "claim clears pending");
	CHECK_EQ(rd(&plic_ops, p, CLAIM(1), 4), 0, "nothing more to claim");
	plic_set_irq(p, 10, 1);
	CHECK(ctx.level[1] == 0, "claimed source does not re-pend");
	wr(&plic_ops, p, CLAIM(1), 4, 10);
	CHECK(ctx.level[1] == 1, "line still high pends again after complete");
	CHECK_EQ(rd(&plic_ops, p, PENDING(0), 4), 1u << 10, "re-pended");
	CHECK_EQ(rd(&plic_ops, p, CLAIM(1), 4), 10, "claim again");
	plic_set_irq(p, 10, 0);
	wr(&plic_ops, p, CLAIM(1), 4, 10);
	CHECK(ctx.level[1] == 0, "low line stays quiet after complete");
	CHECK_EQ(rd(&plic_ops, p, PENDING(0), 4), 0, "not re-pended");

	/* A line that drops before being claimed stays pending until claimed (PLIC spec, gateways). */
	plic_set_irq(p, 10, 1);
	CHECK(ctx.level[1] == 1, "raised");
	plic_set_irq(p, 10, 0);
	CHECK(ctx.level[1] == 1, "dropped line still pending");
	CHECK_EQ(rd(&plic_ops, p, CLAIM(1), 4), 10, "dropped line still claimable");
	CHECK(ctx.level[1] == 0, "claimed");
	wr(&plic_ops, p, CLAIM(1), 4, 10);
	CHECK(ctx.level[1] == 0, "completed low line stays quiet");
	CHECK_EQ(rd(&plic_ops, p, CLAIM(1), 4), 0, "nothing left to claim");

	/* Completing an unclaimed or absent source changes nothing. */
	edges = ctx.edges[1];
	wr(&plic_ops, p, CLAIM(1), 4, 10);
	wr(&plic_ops, p, CLAIM(1), 4, 0);
	wr(&plic_ops, p, CLAIM(1), 4, 1000);
	CHECK(ctx.edges[1] == edges, "bogus completes");

	/* Priority order, lowest id on ties, priority 0 never. */
	wr(&plic_ops, p, PRIO(5), 4, 3);
	wr(&plic_ops, p, PRIO(7), 4, 5);
	wr(&plic_ops, p, PRIO(40), 4, 0);
	wr(&plic_ops, p, ENABLE(1, 0), 4, (1u << 5) | (1u << 7) | (1u << 10));
	wr(&plic_ops, p, ENABLE(1, 1), 4, 1u << (40 - 32));
	plic_set_irq(p, 40, 1);
	CHECK(ctx.level[1] == 0, "priority 0 source never interrupts");
	plic_set_irq(p, 10, 1);
	plic_set_irq(p, 5, 1);
	plic_set_irq(p, 7, 1);
	CHECK_EQ(rd(&plic_ops, p, PENDING(1), 4), 1u << (40 - 32), "pending word 1");

	/* Threshold masks priorities <= threshold for the line and the claim. */
	wr(&plic_ops, p, THRESHOLD(1), 4, 5);
	CHECK(ctx.level[1] == 0, "threshold 5 masks priority 5");
	CHECK_EQ(rd(&plic_ops, p, CLAIM(1), 4), 0, "threshold applies to claim");
	wr(&plic_ops, p, THRESHOLD(1), 4, 4);
	CHECK(ctx.level[1] == 1, "threshold 4 lets priority 5 through");
	wr(&plic_ops, p, THRESHOLD(1), 4, 0);

	CHECK_EQ(rd(&plic_ops, p, CLAIM(1), 4), 7, "highest priority first");
	CHECK_EQ(rd(&plic_ops, p, CLAIM(1), 4), 5, "lowest id on a tie");
	CHECK_EQ(rd(&plic_ops, p, CLAIM(1), 4), 10, "then the other");
	CHECK_EQ(rd(&plic_ops, p, CLAIM(1), 4), 0, "then none");
	CHECK(ctx.level[1] == 0, "all claimed");
	for (int s = 5; s <= 10; s++)
		plic_set_irq(p, s, 0);
	wr(&plic_ops, p, CLAIM(1), 4, 7);
	wr(&plic_ops, p, CLAIM(1), 4, 5);
	wr(&plic_ops, p, CLAIM(1), 4, 10);
	CHECK(ctx.level[1] == 0, "quiet after completing low lines");

	/* Enabling later raises; hart 1's contexts are independent. */
	plic_set_irq(p, 95, 1);
	CHECK(ctx.level[3] == 0, "not enabled yet");
	wr(&plic_ops, p, ENABLE(3, 2), 4, 1u << 31);
	CHECK(ctx.level[3] == 1, "enable raises hart 1 S ctx");
	CHECK(ctx.level[1] == 0 && ctx.level[2] == 0, "only ctx 3");
	wr(&plic_ops, p, ENABLE(2, 2), 4, 1u << 31);
	CHECK(ctx.level[2] == 1, "hart 1 M ctx too");
	CHECK_EQ(rd(&plic_ops, p, CLAIM(2), 4), 95, "M ctx claims");
	CHECK(ctx.level[2] == 0 && ctx.level[3] == 0, "claim is global to the source");
	wr(&plic_ops, p, CLAIM(2), 4, 95);
	CHECK(ctx.level[2] == 1 && ctx.level[3] == 1, "both again after complete");
	wr(&plic_ops, p, PRIO(95), 4, 0);
	CHECK(ctx.level[2] == 0 && ctx.level[3] == 0, "priority 0 masks");

	/* Pending is read-only; sources outside 1..95 and contexts past 3 do nothing. */
	wr(&plic_ops, p, PENDING(0), 4, 0xffffffff);
	CHECK_EQ(rd(&plic_ops, p, PENDING(0), 4), 0, "pending write ignored");
	plic_set_irq(p, 0, 1);
	plic_set_irq(p, 96, 1);
	plic_set_irq(p, -1, 1);
	plic_set_irq(p, 1 << 30, 1);
	CHECK_EQ(rd(&plic_ops, p, PENDING(0), 4), 0, "bad sources ignored");
	CHECK_EQ(rd(&plic_ops, p, PENDING(3), 4), 0, "no pending word 3");
	wr(&plic_ops, p, ENABLE(4, 0), 4, 0xffffffff);
	CHECK_EQ(rd(&plic_ops, p, ENABLE(4, 0), 4), 0, "no ctx 4 enable");
	CHECK_EQ(rd(&plic_ops, p, ENABLE(1, 3), 4), 0, "no enable word 3");
	CHECK_EQ(rd(&plic_ops, p, THRESHOLD(4), 4), 0, "no ctx 4 threshold");
	CHECK_EQ(rd(&plic_ops, p, CLAIM(1) + 4, 4), 0, "reserved ctx word");
	wr(&plic_ops, p, PRIO(10), 2, 7);
	CHECK_EQ(rd(&plic_ops, p, PRIO(10), 4), 3, "16-bit write ignored");
	CHECK_EQ(rd(&plic_ops, p, PRIO(10) + 2, 4), 0, "misaligned read");
	plic_destroy(p);
}

/* UART */

#define RBR 0
#define THR 0
#define DLL 0
#define IER 1
#define DLM 1
#define IIR 2
#define FCR 2
#define LCR 3
#define MCR 4
#define LSR 5
#define MSR 6
#define SCR 7

struct out_buf {
	uint8_t bytes[512];
	size_t len;
};

static void out_record(void *opaque, const uint8_t *buf, size_t len)
{
	struct out_buf *o = opaque;

	for (size_t i = 0; i < len && o->len < sizeof(o->bytes); i++)
		o->bytes[o->len++] = buf[i];
}

static uint64_t urd(struct uart *u, uint64_t off)
{
	return rd(&uart_ops, u, off, 1);
}

static void uwr(struct uart *u, uint64_t off, uint8_t v)
{
	wr(&uart_ops, u, off, 1, v);
}

static void test_uart(void)
{
	struct irq_rec irq = { 0 };
	struct irq_line line = { rec_set, &irq, 10 };
	struct out_buf out = { .len = 0 };
	uint8_t big[300];
	struct uart *u = uart_create(&line, out_record, &out);

	CHECK(u != NULL, "create");
	CHECK_EQ(urd(u, IIR), 0x01, "IIR at reset");
	CHECK_EQ(urd(u, LSR), 0x60, "LSR at reset");
	CHECK_EQ(urd(u, MSR), 0xb0, "MSR: DCD DSR CTS");
	CHECK_EQ(uart_rx_room(u), 256, "room at reset");

	/* Transmit is immediate; a wide store uses its low byte. */
	uwr(u, THR, 'o');
	wr(&uart_ops, u, THR, 4, 0x1234566b);
	CHECK(out.len == 2 && out.bytes[0] == 'o' && out.bytes[1] == 'k', "tx bytes");
	CHECK_EQ(urd(u, LSR), 0x60, "THRE and TEMT after tx");
	CHECK(irq.level[10] == 0, "no irq without IER");

	/* THRE: raised by enabling, cleared by reading IIR, re-armed by THR or IER. */
	uwr(u, IER, 0x02);
	CHECK(irq.level[10] == 1, "ETBEI raises THRE");
	CHECK_EQ(urd(u, IIR), 0x02, "IIR THRE");
	CHECK(irq.level[10] == 0, "IIR read clears THRE");
	CHECK_EQ(urd(u, IIR), 0x01, "IIR none after read");
	uwr(u, THR, '!');
	CHECK(irq.level[10] == 1, "THR write re-arms THRE");
	CHECK_EQ(urd(u, IIR), 0x02, "IIR THRE again");
	uwr(u, IER, 0x02);
	CHECK(irq.level[10] == 0, "rewriting the same IER does not re-arm");
	uwr(u, IER, 0x00);
	uwr(u, IER, 0x02);
	CHECK(irq.level[10] == 1, "IER off/on re-arms (Linux's THRE test)");
	uwr(u, IER, 0x00);
	CHECK(irq.level[10] == 0, "ETBEI off lowers");
	CHECK_EQ(urd(u, IIR), 0x01, "IIR none");

	/* Receive without FIFO: RDA, drains in order. */
	CHECK_EQ(uart_receive(u, (const uint8_t *)"hi", 2), 2, "receive");
	CHECK_EQ(urd(u, LSR), 0x61, "DR");
	CHECK(irq.level[10] == 0, "no rx irq without ERBFI");
	uwr(u, IER, 0x01);
	CHECK(irq.level[10] == 1, "ERBFI raises");
	CHECK_EQ(urd(u, IIR), 0x04, "IIR RDA");
	CHECK_EQ(urd(u, RBR), 'h', "first byte");
	CHECK(irq.level[10] == 1, "still data");
	CHECK_EQ(urd(u, RBR), 'i', "second byte");
	CHECK(irq.level[10] == 0, "drained");
	CHECK_EQ(urd(u, LSR), 0x60, "no DR");
	CHECK_EQ(urd(u, RBR), 0, "empty RBR");

	/* RDA outranks THRE. */
	uwr(u, IER, 0x03);
	CHECK_EQ(uart_receive(u, (const uint8_t *)"x", 1), 1, "receive x");
	CHECK_EQ(urd(u, IIR), 0x04, "RDA before THRE");
	CHECK_EQ(urd(u, RBR), 'x', "x");
	CHECK_EQ(urd(u, IIR), 0x02, "then THRE");
	CHECK_EQ(urd(u, IIR), 0x01, "then none");
	CHECK(irq.level[10] == 0, "low");
	uwr(u, IER, 0x01);

	/* FIFO mode with trigger level 14: timeout id below it, RDA at it. */
	uwr(u, FCR, 0xc1);
	CHECK_EQ(urd(u, IIR), 0xc1, "FIFO bits in IIR");
	CHECK_EQ(uart_receive(u, (const uint8_t *)"abc", 3), 3, "receive abc");
	CHECK_EQ(urd(u, IIR), 0xcc, "character timeout below trigger");
	CHECK_EQ(uart_receive(u, (const uint8_t *)"defghijklmn", 11), 11, "receive 11");
	CHECK_EQ(urd(u, IIR), 0xc4, "RDA at trigger");
	uwr(u, FCR, 0xc3);
	CHECK_EQ(urd(u, LSR), 0x60, "FCR clears rx");
	CHECK(irq.level[10] == 0, "cleared rx lowers irq");
	CHECK_EQ(uart_receive(u, (const uint8_t *)"z", 1), 1, "receive z");
	uwr(u, FCR, 0x00);
	CHECK_EQ(urd(u, LSR), 0x60, "toggling FIFO enable clears rx");
	CHECK_EQ(urd(u, IIR), 0x01, "FIFO bits gone");

	/* The receiver takes what fits and says so. */
	for (size_t i = 0; i < sizeof(big); i++)
		big[i] = (uint8_t)i;
	CHECK_EQ(uart_receive(u, big, sizeof(big)), 256, "partial take");
	CHECK_EQ(uart_rx_room(u), 0, "full");
	CHECK_EQ(uart_receive(u, big, 1), 0, "nothing when full");
	CHECK_EQ(urd(u, RBR), 0, "byte 0");
	CHECK_EQ(urd(u, RBR), 1, "byte 1");
	CHECK_EQ(uart_rx_room(u), 2, "room after reads");
	CHECK_EQ(uart_receive(u, big, 2), 2, "wraps");
	for (int i = 2; i < 256; i++)
		CHECK(urd(u, RBR) == (uint64_t)i, "byte %d in order", i);
	CHECK_EQ(urd(u, RBR), 0, "wrapped byte 0");
	CHECK_EQ(urd(u, RBR), 1, "wrapped byte 1");
	CHECK_EQ(uart_rx_room(u), 256, "empty");

	/* DLAB switches offsets 0 and 1 to the divisor latch. */
	out.len = 0;
	uwr(u, LCR, 0x83);
	uwr(u, DLL, 0x0c);
	uwr(u, DLM, 0x01);
	CHECK(out.len == 0, "DLL write does not transmit");
	CHECK_EQ(urd(u, DLL), 0x0c, "DLL");
	CHECK_EQ(urd(u, DLM), 0x01, "DLM");
	uwr(u, LCR, 0x03);
	CHECK_EQ(urd(u, IER), 0x01, "IER kept under DLAB");
	CHECK_EQ(urd(u, LCR), 0x03, "LCR");
	uwr(u, THR, 'y');
	CHECK(out.len == 1 && out.bytes[0] == 'y', "THR after DLAB");
	uwr(u, LCR, 0x80);
	CHECK_EQ(uart_receive(u, (const uint8_t *)"q", 1), 1, "receive under DLAB");
	CHECK_EQ(urd(u, DLL), 0x0c, "DLAB read of offset 0 leaves rx");
	uwr(u, LCR, 0x03);
	CHECK_EQ(urd(u, RBR), 'q', "q");

	/* Scratch, MCR, loopback. */
	uwr(u, SCR, 0x5a);
	CHECK_EQ(urd(u, SCR), 0x5a, "SCR");
	uwr(u, MCR, 0xff);
	CHECK_EQ(urd(u, MCR), 0x1f, "MCR mask");
	uwr(u, MCR, 0x1a);
	CHECK_EQ(urd(u, MSR) & 0xf0, 0x90, "loopback MSR (Linux's probe)");
	out.len = 0;
	uwr(u, THR, 'L');
	CHECK(out.len == 0, "loopback does not emit");
	CHECK_EQ(urd(u, RBR), 'L', "loopback receives");
	uwr(u, MCR, 0x0b);
	CHECK_EQ(urd(u, MSR), 0xb0, "MSR out of loopback");

	/* Out-of-range offsets and read-only registers. */
	CHECK_EQ(urd(u, 8), 0, "offset 8");
	CHECK_EQ(urd(u, 0xff), 0, "offset 0xff");
	uwr(u, LSR, 0);
	CHECK_EQ(urd(u, LSR), 0x60, "LSR read-only");
	uart_destroy(u);
}

/* Random accesses anywhere, of any size: nothing may crash or read out of bounds. */

static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;

static uint64_t rng(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

static uint64_t fuzz_offset(uint64_t region)
{
	switch (rng() % 8) {
	case 0:
		return rng();
	case 1:
		return region + rng() % 64;
	case 2:
		return region - 1 - rng() % 16;
	default:
		return rng() % region;
	}
}

static void fuzz_device(const struct dev_ops *ops, void *dev, uint64_t region, int rounds)
{
	static const int sizes[] = { 1, 2, 4, 8, 4, 4, 3, 0, 16, -1 };

	for (int i = 0; i < rounds; i++) {
		uint64_t off = fuzz_offset(region), v = 0;
		int size = sizes[rng() % (sizeof(sizes) / sizeof(sizes[0]))];

		if (rng() & 1)
			(void)ops->read(dev, off, size, &v);
		else
			(void)ops->write(dev, off, size, rng());
	}
}

static void fuzz_plic_dense(struct plic *p, int rounds)
{
	for (int i = 0; i < rounds; i++) {
		uint64_t v = 0;
		uint64_t off;

		switch (rng() % 5) {
		case 0:
			off = 4 * (rng() % 128);
			break;
		case 1:
			off = 0x1000 + 4 * (rng() % 8);
			break;
		case 2:
			off = 0x2000 + 4 * (rng() % (0x80 * 20 / 4));
			break;
		default:
			off = 0x200000 + 0x1000 * (rng() % 20) + 4 * (rng() % 4);
			break;
		}
		if (rng() % 3 == 0)
			plic_set_irq(p, (int)(rng() % 200) - 50, (int)(rng() & 1));
		else if (rng() & 1)
			(void)plic_ops.read(p, off, 4, &v);
		else
			(void)plic_ops.write(p, off, 4, rng() % 130);
	}
}

/*
 * Save dev, check every truncation is refused by twin and leaves it as it
 * was, then load into twin and check it saves the same bytes.
 */
#define CHECK_ROUND_TRIP(save, load, dev, twin)                                \
	do {                                                                   \
		struct le_writer a_ = le_writer_grow(), b_ = le_writer_grow(), t0_ = le_writer_grow(); \
		struct le_reader r_;                                           \
		save(dev, &a_);                                                \
		save(twin, &t0_);                                              \
		for (size_t cut_ = 0; cut_ < a_.len; cut_ += 1 + cut_ / 8) {   \
			r_ = le_reader_init(a_.buf, cut_);                     \
			CHECK(load(twin, &r_) == -EINVAL, #load " of %zu bytes refused", cut_); \
		}                                                              \
		save(twin, &b_);                                               \
		CHECK(b_.len == t0_.len && !memcmp(b_.buf, t0_.buf, b_.len), #load " refused: unchanged"); \
		r_ = le_reader_init(a_.buf, a_.len);                           \
		CHECK(load(twin, &r_) == 0 && le_reader_done(&r_), #load);     \
		b_.len = 0;                                                    \
		save(twin, &b_);                                               \
		CHECK(!a_.failed && !b_.failed && a_.len == b_.len && !memcmp(a_.buf, b_.buf, a_.len), \
		      #save " after " #load " gives the same record");        \
		free(a_.buf);                                                  \
		free(b_.buf);                                                  \
		free(t0_.buf);                                                 \
	} while (0)

static void test_fuzz(void)
{
	struct irq_rec rec = { 0 };
	struct irq_line lines[2 * HV_MAX_HARTS];
	struct out_buf out = { .len = 0 };
	struct syscon *s;
	struct clint *c;
	struct plic *p;
	struct uart *u;
	uint8_t in[64];

	for (int i = 0; i < 2 * HV_MAX_HARTS; i++)
		lines[i] = (struct irq_line){ rec_set, &rec, i };
	s = syscon_create(syscon_record, NULL);
	c = clint_create(&test_bus, HV_MAX_HARTS, lines, lines + HV_MAX_HARTS);
	p = plic_create(HV_MAX_HARTS, lines);
	u = uart_create(lines, out_record, &out);
	struct irq_line quiet[2 * HV_MAX_HARTS] = { { 0 } };
	struct clint *c2 = clint_create(&test_bus, HV_MAX_HARTS, quiet, quiet + HV_MAX_HARTS);
	struct plic *p2 = plic_create(HV_MAX_HARTS, quiet);
	struct uart *u2 = uart_create(quiet, out_record, &out);
	CHECK(s && c && p && u && c2 && p2 && u2, "create for fuzz");
	if (!(s && c && p && u && c2 && p2 && u2))
		return;
	memset(in, 'f', sizeof(in));
	for (int round = 0; round < 20; round++) {
		fake_mtime = rng() % 4096;
		fuzz_device(&syscon_ops, s, VIRT_TEST_SIZE, 2000);
		fuzz_device(&clint_ops, c, VIRT_CLINT_SIZE, 5000);
		clint_update(c, rng() % 4096);
		(void)clint_next_deadline(c);
		fuzz_device(&plic_ops, p, VIRT_PLIC_SIZE, 5000);
		fuzz_plic_dense(p, 5000);
		fuzz_device(&uart_ops, u, VIRT_UART0_SIZE, 5000);
		CHECK(uart_receive(u, in, rng() % sizeof(in)) <= sizeof(in), "receive bound");
		CHECK(uart_rx_room(u) <= 256, "room bound");
		if (out.len > 256)
			out.len = 0;
		CHECK_ROUND_TRIP(clint_save, clint_load, c, c2);
		CHECK_ROUND_TRIP(plic_save, plic_load, p, p2);
		CHECK_ROUND_TRIP(uart_save, uart_load, u, u2);
	}
	clint_destroy(c2);
	plic_destroy(p2);
	uart_destroy(u2);
	syscon_destroy(s);
	clint_destroy(c);
	plic_destroy(p);
	uart_destroy(u);
}

int main(void)
{
	test_syscon();
	test_clint();
	test_plic();
	test_uart();
	test_fuzz();
	return check_done("test_devices");
}
