/* SPDX-License-Identifier: MIT */
/* log: encoder and decoder for the replay-log format v1.0 (docs/log-format.md); no host I/O (the reader is reader.c). */
#include "hv/rr/log.h"
#include "hv/errmsg.h"

#include "hv/crc32c.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

/* The smallest event (END: kind, delta, reason) bounds nevents by payload_len. */
#define RR_MIN_EVENT_BYTES 3

static void put_le(uint8_t *p, uint64_t v, int bytes)
{
	for (int i = 0; i < bytes; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t get_le(const uint8_t *p, int bytes)
{
	uint64_t v = 0;

	for (int i = 0; i < bytes; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

static size_t varint_len(uint64_t v)
{
	size_t n = 1;

	while (v >= 0x80) {
		v >>= 7;
		n++;
	}
	return n;
}

static size_t varint_put(uint8_t *p, uint64_t v)
{
	size_t n = 0;

	while (v >= 0x80) {
		p[n++] = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	p[n++] = (uint8_t)v;
	return n;
}

/*
 * Only the shortest encoding is accepted, so that a decoded log re-encodes
 * byte for byte: at most 10 bytes, the 10th carrying only bit 63, and no
 * final 0x00 after a continuation byte.
 */
static const char *varint_get(const uint8_t *p, size_t avail, uint64_t *v, size_t *n)
{
	uint64_t x = 0;

	for (size_t i = 0; i < RR_VARINT_MAX_BYTES; i++) {
		if (i >= avail)
			return "varint runs past the end of the payload";
		uint8_t b = p[i];
		if (i == RR_VARINT_MAX_BYTES - 1 && b > 1)
			return "varint overflows 64 bits";
		x |= (uint64_t)(b & 0x7f) << (7 * i);
		if (!(b & 0x80)) {
			if (i > 0 && b == 0)
				return "varint is not in its shortest form";
			*v = x;
			*n = i + 1;
			return NULL;
		}
	}
	return "varint longer than 10 bytes";
}

/* RFC 3629 UTF-8 without overlongs, surrogates or code points above U+10FFFF; NUL is refused too. */
static bool utf8_valid(const uint8_t *s, size_t len)
{
	size_t i = 0;

	while (i < len) {
		uint8_t b = s[i];
		size_t n;
		uint32_t cp, min;

		if (b == 0)
			return false;
		if (b < 0x80) {
			i++;
			continue;
		} else if ((b & 0xe0) == 0xc0) {
			n = 1, cp = b & 0x1f, min = 0x80;
		} else if ((b & 0xf0) == 0xe0) {
			n = 2, cp = b & 0x0f, min = 0x800;
		} else if ((b & 0xf8) == 0xf0) {
			n = 3, cp = b & 0x07, min = 0x10000;
		} else {
			return false;
		}
		if (len - i - 1 < n)
			return false;
		for (size_t k = 1; k <= n; k++) {
			if ((s[i + k] & 0xc0) != 0x80)
				return false;
			cp = (cp << 6) | (s[i + k] & 0x3f);
		}
		if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return false;
		i += n + 1;
	}
	return true;
}

const char *rr_kind_name(enum rr_kind k)
{
	switch (k) {
	case RR_CONSOLE_IN: return "console_in";
	case RR_NET_RX: return "net_rx";
	case RR_CLOCK: return "clock";
	case RR_DIGEST: return "digest";
	case RR_CHECK: return "check";
	case RR_END: return "end";
	}
	return "unknown";
}

const char *rr_end_reason_name(uint64_t reason)
{
	switch (reason) {
	case RR_END_POWEROFF: return "poweroff";
	case RR_END_REBOOT: return "reboot";
	case RR_END_FAIL: return "fail";
	case RR_END_STOPPED: return "stopped";
	}
	return "unknown";
}

/* ---- header ---- */

struct tlv_out {
	uint8_t *buf;
	size_t cap, len;
};

static void tlv_put(struct tlv_out *o, uint16_t tag, const void *val, size_t len)
{
	if (o->len + 6 + len <= o->cap) {
		put_le(o->buf + o->len, tag, 2);
		put_le(o->buf + o->len + 2, len, 4);
		memcpy(o->buf + o->len + 6, val, len);
	}
	o->len += 6 + len;
}

static void tlv_put_uint(struct tlv_out *o, uint16_t tag, uint64_t v, int bytes)
{
	uint8_t b[8];

	put_le(b, v, bytes);
	tlv_put(o, tag, b, bytes);
}

/* Length of a NUL-terminated string field, or -1 when it fills its array or is not UTF-8. */
static long header_string_len(const char *s, size_t size)
{
	size_t n = strnlen(s, size);

	if (n == size || !utf8_valid((const uint8_t *)s, n))
		return -1;
	return (long)n;
}

int rr_header_encode(const struct rr_header *h, uint8_t *buf, size_t cap, size_t *len)
{
	long append_len = header_string_len(h->append, sizeof(h->append));
	long net_len = header_string_len(h->net, sizeof(h->net));
	long id_len = header_string_len(h->vm_id, sizeof(h->vm_id));
	struct tlv_out o = { .buf = buf, .cap = cap, .len = RR_HEADER_FIXED_BYTES };

	if (append_len < 0 || net_len < 0 || id_len < 0 || h->smp == 0 || (h->flags & ~RR_FLAGS_KNOWN) ||
	    (h->digest_hash != RR_DIGEST_HASH_SHA256 && h->digest_hash != RR_DIGEST_HASH_XXH3))
		return -EINVAL;
	tlv_put_uint(&o, RR_TAG_MEM_BYTES, h->mem_bytes, 8);
	tlv_put_uint(&o, RR_TAG_SMP, h->smp, 4);
	tlv_put_uint(&o, RR_TAG_FLAGS, h->flags, 4);
	if (h->has_fw)
		tlv_put(&o, RR_TAG_FW_SHA, h->fw_sha, 32);
	if (h->has_kernel)
		tlv_put(&o, RR_TAG_KERNEL_SHA, h->kernel_sha, 32);
	if (h->has_initrd)
		tlv_put(&o, RR_TAG_INITRD_SHA, h->initrd_sha, 32);
	if (h->has_disk)
		tlv_put(&o, RR_TAG_DISK_SHA, h->disk_sha, 32);
	if (append_len)
		tlv_put(&o, RR_TAG_APPEND, h->append, append_len);
	if (net_len)
		tlv_put(&o, RR_TAG_NET, h->net, net_len);
	tlv_put_uint(&o, RR_TAG_DIGEST_INTERVAL, h->digest_interval, 8);
	if (id_len)
		tlv_put(&o, RR_TAG_VM_ID, h->vm_id, id_len);
	if (h->digest_hash != RR_DIGEST_HASH_SHA256)
		tlv_put_uint(&o, RR_TAG_DIGEST_HASH, h->digest_hash, 4);

	size_t body_len = o.len - RR_HEADER_FIXED_BYTES;
	*len = o.len + 4;
	if (*len > cap)
		return -ENOSPC;
	memcpy(buf, RR_LOG_MAGIC, 8);
	put_le(buf + 8, RR_LOG_MAJOR, 2);
	put_le(buf + 10, RR_LOG_MINOR, 2);
	put_le(buf + 12, body_len, 4);
	put_le(buf + o.len, crc32c(0, buf, o.len), 4);
	return 0;
}

static int header_string(char *dst, size_t max, const uint8_t *val, uint32_t len)
{
	if (len > max || !utf8_valid(val, len))
		return -1;
	memcpy(dst, val, len);
	dst[len] = '\0';
	return 0;
}

/* One TLV of a header whose crc matched; returns a reason or NULL. */
static const char *header_tlv(struct rr_header *h, uint16_t tag, const uint8_t *val, uint32_t len)
{
	switch (tag) {
	case RR_TAG_MEM_BYTES:
		if (len != 8)
			return "mem_bytes is not 8 bytes";
		h->mem_bytes = get_le(val, 8);
		return NULL;
	case RR_TAG_SMP:
		if (len != 4)
			return "smp is not 4 bytes";
		h->smp = (uint32_t)get_le(val, 4);
		return h->smp ? NULL : "smp is 0";
	case RR_TAG_FLAGS:
		if (len != 4)
			return "flags is not 4 bytes";
		h->flags = (uint32_t)get_le(val, 4);
		return (h->flags & ~RR_FLAGS_KNOWN) ? "unknown flag bits" : NULL;
	case RR_TAG_FW_SHA:
	case RR_TAG_KERNEL_SHA:
	case RR_TAG_INITRD_SHA:
	case RR_TAG_DISK_SHA: {
		static const size_t at[] = {
			offsetof(struct rr_header, fw_sha), offsetof(struct rr_header, kernel_sha),
			offsetof(struct rr_header, initrd_sha), offsetof(struct rr_header, disk_sha),
		};
		bool *has[] = { &h->has_fw, &h->has_kernel, &h->has_initrd, &h->has_disk };
		if (len != 32)
			return "sha256 is not 32 bytes";
		memcpy((uint8_t *)h + at[tag - RR_TAG_FW_SHA], val, 32);
		*has[tag - RR_TAG_FW_SHA] = true;
		return NULL;
	}
	case RR_TAG_APPEND:
		return header_string(h->append, RR_APPEND_MAX, val, len) ? "bad kernel command line (too long or not UTF-8)" : NULL;
	case RR_TAG_NET:
		return header_string(h->net, RR_NET_MAX, val, len) ? "bad net spec (too long or not UTF-8)" : NULL;
	case RR_TAG_DIGEST_INTERVAL:
		if (len != 8)
			return "digest interval is not 8 bytes";
		h->digest_interval = get_le(val, 8);
		return NULL;
	case RR_TAG_VM_ID:
		return header_string(h->vm_id, RR_VM_ID_MAX, val, len) ? "bad vm identity (too long or not UTF-8)" : NULL;
	case RR_TAG_DIGEST_HASH:
		if (len != 4)
			return "digest hash is not 4 bytes";
		h->digest_hash = (uint32_t)get_le(val, 4);
		/* SHA-256 is the tag's absence: an explicit 0 would not re-encode to the same bytes. */
		return h->digest_hash == RR_DIGEST_HASH_XXH3 ? NULL : "unknown digest hash";
	}
	return "unknown tag";
}

int rr_header_decode(const uint8_t *buf, size_t len, struct rr_header *h, size_t *consumed, char *err, size_t err_len)
{
	uint32_t seen = 0;

	if (memcmp(buf, RR_LOG_MAGIC, len < 8 ? len : 8)) {
		hv_errf(err, err_len, "not an ftvm replay log (bad magic at offset 0)");
		return -EBADMSG;
	}
	if (len < 12)
		goto short_buf;
	uint16_t major = (uint16_t)get_le(buf + 8, 2), minor = (uint16_t)get_le(buf + 10, 2);
	if (major != RR_LOG_MAJOR) {
		hv_errf(err, err_len, "log format %u.%u is %s than this ftvm (%u.%u)", major, minor,
			major > RR_LOG_MAJOR ? "newer" : "older", RR_LOG_MAJOR, RR_LOG_MINOR);
		return -EPROTONOSUPPORT;
	}
	if (len < RR_HEADER_FIXED_BYTES)
		goto short_buf;
	uint32_t body_len = (uint32_t)get_le(buf + 12, 4);
	if (body_len > RR_HEADER_MAX_BODY) {
		hv_errf(err, err_len, "header body of %" PRIu32 " bytes exceeds %u (offset 12)", body_len, RR_HEADER_MAX_BODY);
		return -EBADMSG;
	}
	size_t end = RR_HEADER_FIXED_BYTES + body_len;
	if (len < end + 4)
		goto short_buf;
	uint32_t want = (uint32_t)get_le(buf + end, 4), got = crc32c(0, buf, end);
	if (want != got) {
		hv_errf(err, err_len, "header crc mismatch at offset %zu (stored %08" PRIx32 ", computed %08" PRIx32 ")", end, want, got);
		return -EBADMSG;
	}

	memset(h, 0, sizeof(*h));
	h->major = major;
	h->minor = minor;
	for (size_t off = RR_HEADER_FIXED_BYTES; off < end;) {
		if (end - off < 6) {
			hv_errf(err, err_len, "header TLV at offset %zu runs past the body", off);
			return -EBADMSG;
		}
		uint16_t tag = (uint16_t)get_le(buf + off, 2);
		uint32_t tlen = (uint32_t)get_le(buf + off + 2, 4);
		if (tlen > end - off - 6) {
			hv_errf(err, err_len, "header tag %u at offset %zu: length %" PRIu32 " runs past the body", tag, off, tlen);
			return -EBADMSG;
		}
		bool known = tag >= RR_TAG_MEM_BYTES && tag <= RR_TAG_DIGEST_HASH;
		if (known) {
			const char *why = (seen & (1u << tag)) ? "repeated tag" : header_tlv(h, tag, buf + off + 6, tlen);
			if (why) {
				hv_errf(err, err_len, "header tag %u at offset %zu: %s", tag, off, why);
				return -EBADMSG;
			}
			seen |= 1u << tag;
		} else if (minor <= RR_LOG_MINOR) {
			hv_errf(err, err_len, "header tag %u at offset %zu is unknown in format %u.%u", tag, off, major, minor);
			return -EBADMSG;
		}
		off += 6 + tlen;
	}
	if (!(seen & (1u << RR_TAG_MEM_BYTES)) || !(seen & (1u << RR_TAG_SMP))) {
		hv_errf(err, err_len, "header lacks mem_bytes or smp");
		return -EBADMSG;
	}
	*consumed = end + 4;
	return 0;

short_buf:
	hv_errf(err, err_len, "log ends inside its header (%zu bytes)", len);
	return -EAGAIN;
}

/* ---- chunks ---- */

int rr_chunk_decode(const uint8_t *buf, size_t len, struct rr_chunk *c, size_t *consumed, char *err, size_t err_len)
{
	if (memcmp(buf, RR_CHUNK_MAGIC, len < 4 ? len : 4)) {
		hv_errf(err, err_len, "bad chunk magic");
		return -EBADMSG;
	}
	if (len < RR_CHUNK_HEADER_BYTES) {
		hv_errf(err, err_len, "chunk header cut after %zu bytes", len);
		return -EAGAIN;
	}
	uint64_t seq = get_le(buf + 4, 8), first = get_le(buf + 12, 8), end = get_le(buf + 20, 8);
	uint32_t plen = (uint32_t)get_le(buf + 28, 4), nev = (uint32_t)get_le(buf + 32, 4);
	uint32_t want = (uint32_t)get_le(buf + 36, 4);
	if (plen > RR_CHUNK_MAX_PAYLOAD) {
		hv_errf(err, err_len, "payload of %" PRIu32 " bytes exceeds %u (byte 28 of the chunk)", plen, RR_CHUNK_MAX_PAYLOAD);
		return -EBADMSG;
	}
	if ((uint64_t)nev * RR_MIN_EVENT_BYTES > plen) {
		hv_errf(err, err_len, "%" PRIu32 " events cannot fit in %" PRIu32 " payload bytes (byte 32 of the chunk)", nev, plen);
		return -EBADMSG;
	}
	if (end < first) {
		hv_errf(err, err_len, "end step %" PRIu64 " before first step %" PRIu64 " (byte 20 of the chunk)", end, first);
		return -EBADMSG;
	}
	if (len - RR_CHUNK_HEADER_BYTES < plen) {
		hv_errf(err, err_len, "chunk payload cut after %zu of %" PRIu32 " bytes", len - RR_CHUNK_HEADER_BYTES, plen);
		return -EAGAIN;
	}
	uint32_t got = crc32c(crc32c(0, buf, 36), buf + RR_CHUNK_HEADER_BYTES, plen);
	if (got != want) {
		hv_errf(err, err_len, "crc mismatch (stored %08" PRIx32 ", computed %08" PRIx32 ")", want, got);
		return -EBADMSG;
	}
	*c = (struct rr_chunk){
		.seq = seq, .first_step = first, .end_step = end, .nevents = nev,
		.payload = buf + RR_CHUNK_HEADER_BYTES, .payload_len = plen, .offset = 0,
	};
	*consumed = RR_CHUNK_HEADER_BYTES + (size_t)plen;
	return 0;
}

void rr_event_iter_init(struct rr_event_iter *it, const struct rr_chunk *c)
{
	*it = (struct rr_event_iter){ .c = c, .off = 0, .step = c->first_step, .seen = 0 };
}

/* Decodes the event at it->off; returns a reason or NULL, advancing it->off past the event. */
static const char *event_decode(struct rr_event_iter *it, struct rr_event *ev)
{
	const struct rr_chunk *c = it->c;
	const uint8_t *p = c->payload;
	size_t off = it->off, plen = c->payload_len, n;
	uint64_t delta, v;
	const char *why;

	memset(ev, 0, sizeof(*ev));
	ev->kind = (enum rr_kind)p[off++];
	if (ev->kind < RR_CONSOLE_IN || ev->kind > RR_END)
		return "unknown event kind";
	if ((why = varint_get(p + off, plen - off, &delta, &n)))
		return why;
	off += n;
	if (delta > UINT64_MAX - it->step)
		return "step overflows 64 bits";
	ev->step = it->step + delta;
	if (ev->step > c->end_step)
		return "step beyond the chunk's end step";

	switch (ev->kind) {
	case RR_CONSOLE_IN:
	case RR_NET_RX:
		if ((why = varint_get(p + off, plen - off, &v, &n)))
			return why;
		off += n;
		if (ev->kind == RR_CONSOLE_IN && (v < RR_CONSOLE_MIN || v > RR_CONSOLE_MAX))
			return "console input length outside 1..4096";
		if (ev->kind == RR_NET_RX && (v < RR_NET_FRAME_MIN || v > RR_NET_FRAME_MAX))
			return "frame length outside 14..65536";
		if (v > plen - off)
			return "data runs past the end of the payload";
		ev->data = p + off;
		ev->len = (size_t)v;
		off += (size_t)v;
		break;
	case RR_CLOCK:
		if ((why = varint_get(p + off, plen - off, &ev->anchor_mtime, &n)))
			return why;
		off += n;
		if ((why = varint_get(p + off, plen - off, &ev->rate_q32, &n)))
			return why;
		off += n;
		break;
	case RR_DIGEST:
		if (plen - off < 32)
			return "digest runs past the end of the payload";
		memcpy(ev->digest, p + off, 32);
		off += 32;
		break;
	case RR_CHECK:
		if (plen - off < 8)
			return "check runs past the end of the payload";
		ev->check = get_le(p + off, 8);
		off += 8;
		break;
	case RR_END:
		if ((why = varint_get(p + off, plen - off, &ev->end_reason, &n)))
			return why;
		off += n;
		if (ev->end_reason < RR_END_POWEROFF || ev->end_reason > RR_END_STOPPED)
			return "unknown end reason";
		if (it->seen + 1 != c->nevents)
			return "END is not the chunk's last event";
		break;
	}
	it->off = off;
	it->step = ev->step;
	return NULL;
}

int rr_event_next(struct rr_event_iter *it, struct rr_event *ev, char *err, size_t err_len)
{
	const struct rr_chunk *c = it->c;
	uint64_t at = c->offset + RR_CHUNK_HEADER_BYTES + it->off;
	const char *why;

	if (it->seen == c->nevents) {
		if (it->off == c->payload_len)
			return 0;
		hv_errf(err, err_len, "%zu bytes after the last of %" PRIu32 " events at offset %" PRIu64,
			c->payload_len - it->off, c->nevents, at);
		return -EBADMSG;
	}
	if (it->off >= c->payload_len) {
		hv_errf(err, err_len, "payload ends after %" PRIu32 " of %" PRIu32 " events at offset %" PRIu64,
			it->seen, c->nevents, at);
		return -EBADMSG;
	}
	if ((why = event_decode(it, ev))) {
		hv_errf(err, err_len, "event %" PRIu32 " (%s) at offset %" PRIu64 ": %s",
			it->seen, rr_kind_name(c->payload[it->off]), at, why);
		return -EBADMSG;
	}
	it->seen++;
	return 1;
}

/* ---- chunk writer ---- */

struct rr_chunk_writer {
	uint8_t *buf;		/* chunk header space, then the payload */
	size_t cap;
	size_t payload_len;
	uint32_t nevents;
	uint64_t seq, first_step, last_step;
	bool ended;		/* END added: the log is over after this chunk */
	bool closed;		/* the chunk holding END was finished */
};

struct rr_chunk_writer *rr_chunk_writer_new(uint64_t first_seq, uint64_t first_step)
{
	struct rr_chunk_writer *w = calloc(1, sizeof(*w));

	if (!w)
		return NULL;
	w->cap = RR_CHUNK_HEADER_BYTES + 4096;
	w->buf = malloc(w->cap);
	if (!w->buf) {
		free(w);
		return NULL;
	}
	w->seq = first_seq;
	w->first_step = w->last_step = first_step;
	return w;
}

void rr_chunk_writer_free(struct rr_chunk_writer *w)
{
	if (!w)
		return;
	free(w->buf);
	free(w);
}

size_t rr_chunk_writer_payload_len(const struct rr_chunk_writer *w)
{
	return w->payload_len;
}

uint32_t rr_chunk_writer_nevents(const struct rr_chunk_writer *w)
{
	return w->nevents;
}

/* Encoded size of ev after its kind and delta, or 0 when ev is out of bounds. */
static size_t event_body_len(const struct rr_event *ev)
{
	switch (ev->kind) {
	case RR_CONSOLE_IN:
		if (ev->len < RR_CONSOLE_MIN || ev->len > RR_CONSOLE_MAX || !ev->data)
			return 0;
		return varint_len(ev->len) + ev->len;
	case RR_NET_RX:
		if (ev->len < RR_NET_FRAME_MIN || ev->len > RR_NET_FRAME_MAX || !ev->data)
			return 0;
		return varint_len(ev->len) + ev->len;
	case RR_CLOCK:
		return varint_len(ev->anchor_mtime) + varint_len(ev->rate_q32);
	case RR_DIGEST:
		return 32;
	case RR_CHECK:
		return 8;
	case RR_END:
		if (ev->end_reason < RR_END_POWEROFF || ev->end_reason > RR_END_STOPPED)
			return 0;
		return varint_len(ev->end_reason);
	}
	return 0;
}

int rr_chunk_writer_add(struct rr_chunk_writer *w, const struct rr_event *ev)
{
	size_t body = event_body_len(ev);

	if (!body || w->ended || ev->step < w->last_step)
		return -EINVAL;
	uint64_t delta = ev->step - w->last_step;
	size_t need = 1 + varint_len(delta) + body;
	if (need > RR_CHUNK_MAX_PAYLOAD - w->payload_len)
		return -ENOSPC;
	size_t total = RR_CHUNK_HEADER_BYTES + w->payload_len + need;
	if (total > w->cap) {
		size_t cap = w->cap;
		while (cap < total)
			cap *= 2;
		if (cap > RR_CHUNK_HEADER_BYTES + RR_CHUNK_MAX_PAYLOAD)
			cap = RR_CHUNK_HEADER_BYTES + RR_CHUNK_MAX_PAYLOAD;
		uint8_t *nb = realloc(w->buf, cap);
		if (!nb)
			return -ENOMEM;
		w->buf = nb;
		w->cap = cap;
	}

	uint8_t *p = w->buf + RR_CHUNK_HEADER_BYTES + w->payload_len;
	*p++ = (uint8_t)ev->kind;
	p += varint_put(p, delta);
	switch (ev->kind) {
	case RR_CONSOLE_IN:
	case RR_NET_RX:
		p += varint_put(p, ev->len);
		memcpy(p, ev->data, ev->len);
		break;
	case RR_CLOCK:
		p += varint_put(p, ev->anchor_mtime);
		varint_put(p, ev->rate_q32);
		break;
	case RR_DIGEST:
		memcpy(p, ev->digest, 32);
		break;
	case RR_CHECK:
		put_le(p, ev->check, 8);
		break;
	case RR_END:
		varint_put(p, ev->end_reason);
		w->ended = true;
		break;
	}
	w->payload_len += need;
	w->nevents++;
	w->last_step = ev->step;
	return 0;
}

int rr_chunk_writer_finish(struct rr_chunk_writer *w, uint64_t end_step, const uint8_t **out, size_t *out_len)
{
	uint8_t *b = w->buf;

	if (w->closed || end_step < w->last_step)
		return -EINVAL;
	memcpy(b, RR_CHUNK_MAGIC, 4);
	put_le(b + 4, w->seq, 8);
	put_le(b + 12, w->first_step, 8);
	put_le(b + 20, end_step, 8);
	put_le(b + 28, w->payload_len, 4);
	put_le(b + 32, w->nevents, 4);
	put_le(b + 36, crc32c(crc32c(0, b, 36), b + RR_CHUNK_HEADER_BYTES, w->payload_len), 4);
	*out = b;
	*out_len = RR_CHUNK_HEADER_BYTES + w->payload_len;

	w->seq++;
	w->first_step = w->last_step = end_step;
	w->payload_len = 0;
	w->nevents = 0;
	w->closed = w->ended;
	return 0;
}
