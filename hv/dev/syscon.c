/* SPDX-License-Identifier: MIT */
/* syscon: the SiFive test device through which the guest powers off, reboots or fails. */

/*
 * Register map (QEMU hw/misc/sifive_test.c, the "sifive,test0" device that
 * QEMU virt places at 0x100000 and OpenSBI/Linux use as syscon-poweroff and
 * syscon-reboot):
 *
 *   0x000  FINISHER  W  16 or 32-bit; bits 15:0 status, bits 31:16 code
 *                       0x3333 FAIL (exit code = bits 31:16)
 *                       0x5555 PASS (power off)
 *                       0x7777 RESET (reboot)
 *                       any other status is ignored
 *   all reads return 0; writes elsewhere are ignored.
 */
#include "hv/dev/devices.h"

#include <stdlib.h>

#define SYSCON_FINISHER		0x0
#define SYSCON_STATUS_FAIL	0x3333
#define SYSCON_STATUS_PASS	0x5555
#define SYSCON_STATUS_RESET	0x7777

struct syscon {
	void (*action)(void *opaque, enum syscon_action a, int code);
	void *opaque;
};

struct syscon *syscon_create(void (*action)(void *opaque, enum syscon_action a, int code),
			     void *opaque)
{
	struct syscon *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	s->action = action;
	s->opaque = opaque;
	return s;
}

void syscon_destroy(struct syscon *s)
{
	free(s);
}

static int syscon_read(void *opaque, uint64_t off, int size, uint64_t *val)
{
	*val = 0;
	return 0;
}

static int syscon_write(void *opaque, uint64_t off, int size, uint64_t val)
{
	struct syscon *s = opaque;
	uint32_t v = (uint32_t)val;

	/* OpenSBI's sifive_test driver stores 16 bits (writew); QEMU accepts 2 and 4 bytes. */
	if (off != SYSCON_FINISHER || size < 2 || !s->action)
		return 0;
	switch (v & 0xffff) {
	case SYSCON_STATUS_FAIL:
		s->action(s->opaque, SYSCON_FAIL, (int)(v >> 16));
		break;
	case SYSCON_STATUS_PASS:
		s->action(s->opaque, SYSCON_POWEROFF, 0);
		break;
	case SYSCON_STATUS_RESET:
		s->action(s->opaque, SYSCON_REBOOT, 0);
		break;
	default:
		break;
	}
	return 0;
}

const struct dev_ops syscon_ops = {
	.name = "syscon",
	.read = syscon_read,
	.write = syscon_write,
};
