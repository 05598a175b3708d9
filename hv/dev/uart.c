/* SPDX-License-Identifier: MIT */
/* uart: the NS16550A console UART, with instant transmit and an injected-only receiver. */

/*
 * Register map (TI PC16550D datasheet, section 8.6 "Register Description";
 * QEMU virt's "ns16550a" at 0x10000000, reg-shift 0, byte registers; a wider
 * access uses its low byte):
 *
 *   off  DLAB=0 read  DLAB=0 write  DLAB=1
 *   0    RBR          THR           DLL
 *   1    IER          IER           DLM     IER: 0 ERBFI 1 ETBEI 2 ELSI 3 EDSSI
 *   2    IIR          FCR                   IIR: 0 no-int, 3:1 id, 7:6 FIFOs on
 *   3    LCR          LCR                   LCR: 7 DLAB
 *   4    MCR          MCR                   MCR: 0 DTR 1 RTS 2 OUT1 3 OUT2 4 LOOP
 *   5    LSR          -                     LSR: 0 DR 1 OE 5 THRE 6 TEMT
 *   6    MSR          -                     MSR: 4 CTS 5 DSR 6 RI 7 DCD
 *   7    SCR          SCR
 *
 * Interrupt identification in priority order (datasheet table 4): line
 * status 0x6, received data 0x4 (or character timeout 0xc while the FIFO
 * holds less than its trigger level: with no receive timing the timeout is
 * taken as already expired), THR empty 0x2. Reading IIR when it reports THR
 * empty clears that source until the next THR write or an IER write that
 * turns ETBEI on (section 8.6.3). Transmission is instant, so THRE and TEMT
 * always read 1. The receiver holds UART_RX_BYTES (more than a 16550's 16
 * so injected input need not be paced) and is filled only by uart_receive().
 */
#include "hv/dev/devices.h"
#include "hv/le.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>

#define UART_RX_BYTES	256

#define UART_RBR	0
#define UART_THR	0
#define UART_DLL	0
#define UART_IER	1
#define UART_DLM	1
#define UART_IIR	2
#define UART_FCR	2
#define UART_LCR	3
#define UART_MCR	4
#define UART_LSR	5
#define UART_MSR	6
#define UART_SCR	7
#define UART_NREGS	8

#define IER_ERBFI	0x01
#define IER_ETBEI	0x02
#define IER_ELSI	0x04
#define IER_MASK	0x0f

#define IIR_NO_INT	0x01
#define IIR_THRE	0x02
#define IIR_RDA		0x04
#define IIR_RLS		0x06
#define IIR_CTI		0x0c
#define IIR_FIFOS_ON	0xc0

#define FCR_FE		0x01
#define FCR_RFR		0x02
#define FCR_XFR		0x04
#define FCR_KEEP	0xc9	/* FIFO enable, DMA mode, trigger level */

#define LCR_DLAB	0x80

#define MCR_DTR		0x01
#define MCR_RTS		0x02
#define MCR_OUT1	0x04
#define MCR_OUT2	0x08
#define MCR_LOOP	0x10
#define MCR_MASK	0x1f

#define LSR_DR		0x01
#define LSR_OE		0x02
#define LSR_THRE	0x20
#define LSR_TEMT	0x40

#define MSR_CTS		0x10
#define MSR_DSR		0x20
#define MSR_RI		0x40
#define MSR_DCD		0x80

struct uart {
	struct irq_line irq;
	bool irq_level;
	void (*out)(void *opaque, const uint8_t *buf, size_t len);
	void *opaque;

	uint8_t rx[UART_RX_BYTES];
	size_t rx_head, rx_count;
	bool overrun;		/* only loopback can overrun: uart_receive never drops */
	bool thre_pending;

	uint8_t ier, fcr, lcr, mcr, scr, dll, dlm;
};

struct uart *uart_create(const struct irq_line *irq,
			 void (*out)(void *opaque, const uint8_t *buf, size_t len),
			 void *opaque)
{
	struct uart *u = calloc(1, sizeof(*u));

	if (!u)
		return NULL;
	if (irq)
		u->irq = *irq;
	u->out = out;
	u->opaque = opaque;
	return u;
}

void uart_destroy(struct uart *u)
{
	free(u);
}

static size_t uart_trigger_level(const struct uart *u)
{
	static const size_t levels[4] = { 1, 4, 8, 14 };

	return levels[u->fcr >> 6];
}

static uint8_t uart_iir_id(const struct uart *u)
{
	if ((u->ier & IER_ELSI) && u->overrun)
		return IIR_RLS;
	if ((u->ier & IER_ERBFI) && u->rx_count) {
		if ((u->fcr & FCR_FE) && u->rx_count < uart_trigger_level(u))
			return IIR_CTI;
		return IIR_RDA;
	}
	if ((u->ier & IER_ETBEI) && u->thre_pending)
		return IIR_THRE;
	return IIR_NO_INT;
}

static void uart_update_irq(struct uart *u)
{
	bool level = uart_iir_id(u) != IIR_NO_INT;

	if (level != u->irq_level) {
		u->irq_level = level;
		irq_set(&u->irq, level);
	}
}

size_t uart_rx_room(const struct uart *u)
{
	return UART_RX_BYTES - u->rx_count;
}

static bool uart_rx_push(struct uart *u, uint8_t byte)
{
	if (u->rx_count == UART_RX_BYTES)
		return false;
	u->rx[(u->rx_head + u->rx_count) % UART_RX_BYTES] = byte;
	u->rx_count++;
	return true;
}

size_t uart_receive(struct uart *u, const uint8_t *buf, size_t len)
{
	size_t n = 0;

	while (n < len && uart_rx_push(u, buf[n]))
		n++;
	uart_update_irq(u);
	return n;
}

static uint8_t uart_msr(const struct uart *u)
{
	uint8_t msr = 0;

	if (!(u->mcr & MCR_LOOP))
		return MSR_DCD | MSR_DSR | MSR_CTS;	/* a modem that is always there */
	if (u->mcr & MCR_RTS)
		msr |= MSR_CTS;
	if (u->mcr & MCR_DTR)
		msr |= MSR_DSR;
	if (u->mcr & MCR_OUT1)
		msr |= MSR_RI;
	if (u->mcr & MCR_OUT2)
		msr |= MSR_DCD;
	return msr;
}

static uint8_t uart_read_reg(struct uart *u, unsigned reg)
{
	uint8_t v = 0;

	switch (reg) {
	case UART_RBR:
		if (u->lcr & LCR_DLAB)
			return u->dll;
		if (u->rx_count) {
			v = u->rx[u->rx_head];
			u->rx_head = (u->rx_head + 1) % UART_RX_BYTES;
			u->rx_count--;
		}
		break;
	case UART_IER:
		return (u->lcr & LCR_DLAB) ? u->dlm : u->ier;
	case UART_IIR:
		v = uart_iir_id(u);
		if (v == IIR_THRE)
			u->thre_pending = false;
		if (u->fcr & FCR_FE)
			v |= IIR_FIFOS_ON;
		break;
	case UART_LCR:
		return u->lcr;
	case UART_MCR:
		return u->mcr;
	case UART_LSR:
		v = LSR_THRE | LSR_TEMT;
		if (u->rx_count)
			v |= LSR_DR;
		if (u->overrun)
			v |= LSR_OE;
		u->overrun = false;
		break;
	case UART_MSR:
		return uart_msr(u);
	case UART_SCR:
		return u->scr;
	default:
		return 0;
	}
	uart_update_irq(u);
	return v;
}

static void uart_transmit(struct uart *u, uint8_t byte)
{
	if (u->mcr & MCR_LOOP) {
		if (!uart_rx_push(u, byte))
			u->overrun = true;
	} else if (u->out) {
		u->out(u->opaque, &byte, 1);
	}
	/* The byte left at once, so the holding register is empty again. */
	u->thre_pending = true;
}

static void uart_write_reg(struct uart *u, unsigned reg, uint8_t v)
{
	switch (reg) {
	case UART_THR:
		if (u->lcr & LCR_DLAB)
			u->dll = v;
		else
			uart_transmit(u, v);
		break;
	case UART_IER:
		if (u->lcr & LCR_DLAB) {
			u->dlm = v;
		} else {
			uint8_t changed = (u->ier ^ v) & IER_MASK;

			u->ier = v & IER_MASK;
			if (changed & IER_ETBEI)
				u->thre_pending = (u->ier & IER_ETBEI) != 0;
		}
		break;
	case UART_FCR:
		/* Toggling FIFO enable resets both FIFOs (datasheet 8.6.4). */
		if ((v ^ u->fcr) & FCR_FE)
			v |= FCR_RFR | FCR_XFR;
		if (v & FCR_RFR) {
			u->rx_head = 0;
			u->rx_count = 0;
		}
		u->fcr = v & FCR_KEEP;
		break;
	case UART_LCR:
		u->lcr = v;
		break;
	case UART_MCR:
		u->mcr = v & MCR_MASK;
		break;
	case UART_SCR:
		u->scr = v;
		break;
	default:
		return;	/* LSR and MSR are read-only */
	}
	uart_update_irq(u);
}

static int uart_read(void *opaque, uint64_t off, int size, uint64_t *val)
{
	*val = off < UART_NREGS ? uart_read_reg(opaque, (unsigned)off) : 0;
	return 0;
}

static int uart_write(void *opaque, uint64_t off, int size, uint64_t val)
{
	if (off < UART_NREGS)
		uart_write_reg(opaque, (unsigned)off, (uint8_t)val);
	return 0;
}

const struct dev_ops uart_ops = {
	.name = "uart",
	.read = uart_read,
	.write = uart_write,
};

void uart_save(const struct uart *u, struct le_writer *w)
{
	const uint8_t regs[] = { u->ier, u->fcr, u->lcr, u->mcr, u->scr, u->dll, u->dlm,
				 u->overrun, u->thre_pending, u->irq_level };

	le_put_bytes(w, regs, sizeof(regs));
	le_put_u64(w, u->rx_count);
	for (size_t i = 0; i < u->rx_count; i++)	/* the queued bytes, oldest first */
		le_put_u8(w, u->rx[(u->rx_head + i) % UART_RX_BYTES]);
}

int uart_load(struct uart *u, struct le_reader *r)
{
	struct uart t = *u;
	uint64_t count;

	t.ier = le_get_u8(r);
	t.fcr = le_get_u8(r);
	t.lcr = le_get_u8(r);
	t.mcr = le_get_u8(r);
	t.scr = le_get_u8(r);
	t.dll = le_get_u8(r);
	t.dlm = le_get_u8(r);
	t.overrun = le_get_bool(r);
	t.thre_pending = le_get_bool(r);
	t.irq_level = le_get_bool(r);
	count = le_get_u64(r);
	if (!le_reader_ok(r) || count > UART_RX_BYTES)
		return -EINVAL;
	t.rx_head = 0;
	t.rx_count = (size_t)count;
	if (!le_get_bytes(r, t.rx, t.rx_count))
		return -EINVAL;
	*u = t;
	return 0;
}
