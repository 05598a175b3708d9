/* SPDX-License-Identifier: MIT */
/* test_rr_log: the replay-log codec round-trips, and refuses every corruption, version and truncation it must. */
#include "hv/rr/log.h"

#include "hv/crc32c.h"
#include "hv/tests/check.h"

#include <fcntl.h>

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>


/* cli/log_dump.c */
int cli_log(int argc, char **argv);


static void put_le(uint8_t *p, uint64_t v, int bytes)
{
	for (int i = 0; i < bytes; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t get_le(const uint8_t *p, int bytes)
{
	uint64_t v = 0;

	for (int i = bytes - 1; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

static void sample_header(struct rr_header *h)
{
	memset(h, 0, sizeof(*h));
	h->mem_bytes = 512ull << 20;
	h->smp = 2;
	h->flags = RR_FLAG_VIRTUAL_CLOCK;
	h->has_kernel = h->has_disk = true;
	for (int i = 0; i < 32; i++) {
		h->kernel_sha[i] = (uint8_t)i;
		h->disk_sha[i] = (uint8_t)(0xff - i);
	}
	strcpy(h->append, "console=ttyS0 panic=-1 \xc3\xa9");
	strcpy(h->net, "user,hostfwd=tcp::7000-:7000");
	h->digest_interval = 100000000;
	strcpy(h->vm_id, "vm-1");
	h->digest_hash = RR_DIGEST_HASH_XXH3;
}

static bool header_equal(const struct rr_header *a, const struct rr_header *b)
{
	return a->mem_bytes == b->mem_bytes && a->smp == b->smp && a->flags == b->flags &&
	       a->has_fw == b->has_fw && a->has_kernel == b->has_kernel &&
	       a->has_initrd == b->has_initrd && a->has_disk == b->has_disk &&
	       (!a->has_fw || !memcmp(a->fw_sha, b->fw_sha, 32)) &&
	       (!a->has_kernel || !memcmp(a->kernel_sha, b->kernel_sha, 32)) &&
	       (!a->has_initrd || !memcmp(a->initrd_sha, b->initrd_sha, 32)) &&
	       (!a->has_disk || !memcmp(a->disk_sha, b->disk_sha, 32)) &&
	       !strcmp(a->append, b->append) && !strcmp(a->net, b->net) &&
	       a->digest_interval == b->digest_interval && !strcmp(a->vm_id, b->vm_id) &&
	       a->digest_hash == b->digest_hash;
}

/* A header with the given version and raw TLV body, its crc correct. */
static size_t raw_header(uint8_t *buf, uint16_t major, uint16_t minor, const uint8_t *body, size_t body_len)
{
	memcpy(buf, RR_LOG_MAGIC, 8);
	put_le(buf + 8, major, 2);
	put_le(buf + 10, minor, 2);
	put_le(buf + 12, body_len, 4);
	memcpy(buf + 16, body, body_len);
	put_le(buf + 16 + body_len, crc32c(0, buf, 16 + body_len), 4);
	return 16 + body_len + 4;
}

static size_t tlv(uint8_t *p, uint16_t tag, uint64_t v, size_t len)
{
	put_le(p, tag, 2);
	put_le(p + 2, len, 4);
	put_le(p + 6, v, len < 8 ? (int)len : 8);
	return 6 + len;
}

/* A chunk with the given fields and payload, its crc correct. */
static size_t raw_chunk(uint8_t *buf, uint64_t seq, uint64_t first, uint64_t end, uint32_t nev,
			const uint8_t *payload, size_t plen)
{
	memcpy(buf, RR_CHUNK_MAGIC, 4);
	put_le(buf + 4, seq, 8);
	put_le(buf + 12, first, 8);
	put_le(buf + 20, end, 8);
	put_le(buf + 28, plen, 4);
	put_le(buf + 32, nev, 4);
	memcpy(buf + 40, payload, plen);
	put_le(buf + 36, crc32c(crc32c(0, buf, 36), buf + 40, plen), 4);
	return 40 + plen;
}

static void test_crc32c(void)
{
	CHECK(crc32c(0, "123456789", 9) == 0xE3069283, "check value %08x", crc32c(0, "123456789", 9));
	CHECK(crc32c(crc32c(0, "1234", 4), "56789", 5) == 0xE3069283, "chaining");
	CHECK(crc32c(0, "", 0) == 0, "empty");
}

static void test_header(void)
{
	struct rr_header h, d;
	uint8_t buf[8192];
	size_t len, used;
	char err[256];

	sample_header(&h);
	CHECK(rr_header_encode(&h, buf, sizeof(buf), &len) == 0, "encode");
	CHECK(rr_header_decode(buf, len, &d, &used, err, sizeof(err)) == 0, "decode: %s", err);
	CHECK(used == len && d.major == 1 && d.minor == 0 && header_equal(&h, &d), "round trip");

	/* Maximum string lengths and all hashes present. */
	h.has_fw = h.has_initrd = true;
	memset(h.fw_sha, 0xaa, 32);
	memset(h.initrd_sha, 0x55, 32);
	memset(h.append, 'a', RR_APPEND_MAX);
	h.append[RR_APPEND_MAX] = 0;
	memset(h.net, 'n', RR_NET_MAX);
	h.net[RR_NET_MAX] = 0;
	memset(h.vm_id, 'v', RR_VM_ID_MAX);
	h.vm_id[RR_VM_ID_MAX] = 0;
	h.mem_bytes = UINT64_MAX;
	h.digest_interval = UINT64_MAX;
	h.flags = RR_FLAGS_KNOWN;
	CHECK(rr_header_encode(&h, buf, 100, &len) == -ENOSPC && len > 100, "ENOSPC reports the size needed");
	CHECK(rr_header_encode(&h, buf, sizeof(buf), &len) == 0, "encode max");
	CHECK(rr_header_decode(buf, len, &d, &used, err, sizeof(err)) == 0 && header_equal(&h, &d), "max round trip: %s", err);

	/* Every byte flipped: never accepted. */
	sample_header(&h);
	CHECK(rr_header_encode(&h, buf, sizeof(buf), &len) == 0, "encode");
	for (size_t i = 0; i < len; i++) {
		buf[i] ^= 0x10;
		int rc = rr_header_decode(buf, len, &d, &used, err, sizeof(err));
		CHECK(rc == -EBADMSG || rc == -EAGAIN || rc == -EPROTONOSUPPORT, "flip at %zu accepted (rc %d)", i, rc);
		buf[i] ^= 0x10;
	}
	buf[0] = 'X';
	CHECK(rr_header_decode(buf, len, &d, &used, err, sizeof(err)) == -EBADMSG && strstr(err, "magic"), "bad magic: %s", err);
	buf[0] = 'F';
	buf[len - 1] ^= 1;
	CHECK(rr_header_decode(buf, len, &d, &used, err, sizeof(err)) == -EBADMSG && strstr(err, "crc"), "bad crc: %s", err);
	buf[len - 1] ^= 1;
	for (size_t cut = 0; cut < len; cut++)
		CHECK(rr_header_decode(buf, cut, &d, &used, err, sizeof(err)) == -EAGAIN, "cut at %zu", cut);

	/* Encoder refusals. */
	h.smp = 0;
	CHECK(rr_header_encode(&h, buf, sizeof(buf), &len) == -EINVAL, "smp 0");
	sample_header(&h);
	h.flags = 4;
	CHECK(rr_header_encode(&h, buf, sizeof(buf), &len) == -EINVAL, "unknown flag");
	sample_header(&h);
	strcpy(h.append, "bad \xff utf-8");
	CHECK(rr_header_encode(&h, buf, sizeof(buf), &len) == -EINVAL, "bad utf-8");
	sample_header(&h);
	h.digest_hash = 2;
	CHECK(rr_header_encode(&h, buf, sizeof(buf), &len) == -EINVAL, "unknown digest hash");
}

/* Tag 12: written for XXH3-128 only; its absence (every older log) is SHA-256. */
static void test_header_digest_hash(void)
{
	struct rr_header h, d;
	uint8_t x[8192], s[8192];
	size_t xlen, slen, used;
	char err[256];

	sample_header(&h);
	CHECK(rr_header_encode(&h, x, sizeof(x), &xlen) == 0, "encode xxh3");
	h.digest_hash = RR_DIGEST_HASH_SHA256;
	CHECK(rr_header_encode(&h, s, sizeof(s), &slen) == 0, "encode sha256");
	CHECK(xlen == slen + 10, "the tag is 10 bytes (%zu, %zu)", xlen, slen);
	/* The SHA-256 body is the XXH3 one without its last TLV: the layout every older ftvm wrote. */
	CHECK(!memcmp(x + 16, s + 16, slen - 20) && get_le(x + xlen - 14, 2) == RR_TAG_DIGEST_HASH &&
	      get_le(x + xlen - 12, 4) == 4 && get_le(x + xlen - 8, 4) == RR_DIGEST_HASH_XXH3, "tag 12 layout");
	CHECK(get_le(s + 10, 2) == 0 && get_le(x + 10, 2) == 0, "minor stays 0");
	CHECK(rr_header_decode(s, slen, &d, &used, err, sizeof(err)) == 0 && d.digest_hash == RR_DIGEST_HASH_SHA256 &&
	      header_equal(&h, &d), "sha256 round trip: %s", err);
	CHECK(rr_header_decode(x, xlen, &d, &used, err, sizeof(err)) == 0 && d.digest_hash == RR_DIGEST_HASH_XXH3,
	      "xxh3 round trip: %s", err);

	/* The value byte changed to anything else, crc made right: refused, never read as another hash. */
	for (int v = 0; v < 256; v++) {
		if (v == RR_DIGEST_HASH_XXH3)
			continue;
		uint8_t b[8192];
		memcpy(b, x, xlen);
		b[xlen - 8] = (uint8_t)v;
		put_le(b + xlen - 4, crc32c(0, b, xlen - 4), 4);
		int rc = rr_header_decode(b, xlen, &d, &used, err, sizeof(err));
		CHECK(rc == -EBADMSG && strstr(err, "tag 12") && strstr(err, "unknown digest hash"),
		      "digest hash %d: rc %d, %s", v, rc, err);
		/* A newer minor does not make a known tag's bad value acceptable. */
		put_le(b + 10, 5, 2);
		put_le(b + xlen - 4, crc32c(0, b, xlen - 4), 4);
		CHECK(rr_header_decode(b, xlen, &d, &used, err, sizeof(err)) == -EBADMSG, "digest hash %d in 1.5", v);
	}
	/* Any higher byte of the value set. */
	for (int i = 1; i < 4; i++) {
		uint8_t b[8192];
		memcpy(b, x, xlen);
		b[xlen - 8 + i] = 1;
		put_le(b + xlen - 4, crc32c(0, b, xlen - 4), 4);
		CHECK(rr_header_decode(b, xlen, &d, &used, err, sizeof(err)) == -EBADMSG, "digest hash byte %d set", i);
	}
}

static void test_header_versions(void)
{
	uint8_t body[256], buf[512];
	struct rr_header d;
	size_t n = 0, len, used;
	char err[256];

	n += tlv(body + n, RR_TAG_MEM_BYTES, 1 << 20, 8);
	n += tlv(body + n, RR_TAG_SMP, 1, 4);
	size_t base = n;

	len = raw_header(buf, 2, 0, body, n);
	CHECK(rr_header_decode(buf, len, &d, &used, err, sizeof(err)) == -EPROTONOSUPPORT &&
	      !strcmp(err, "log format 2.0 is newer than this ftvm (1.0)"), "newer major: %s", err);
	len = raw_header(buf, 0, 9, body, n);
	CHECK(rr_header_decode(buf, len, &d, &used, err, sizeof(err)) == -EPROTONOSUPPORT && strstr(err, "0.9 is older"),
	      "older major: %s", err);

	n += tlv(body + n, 99, 0x1234, 3);
	len = raw_header(buf, 1, 7, body, n);
	CHECK(rr_header_decode(buf, len, &d, &used, err, sizeof(err)) == 0 && d.minor == 7 && d.smp == 1 &&
	      d.mem_bytes == 1 << 20 && used == len, "newer minor with unknown tag: %s", err);
	len = raw_header(buf, 1, 0, body, n);
	CHECK(rr_header_decode(buf, len, &d, &used, err, sizeof(err)) == -EBADMSG && strstr(err, "tag 99"),
	      "unknown tag in 1.0: %s", err);

	/* Known tags are validated even in a newer minor. */
	static const struct { uint16_t tag; size_t len; uint64_t v; const char *what; } bad[] = {
		{ RR_TAG_MEM_BYTES, 4, 1, "repeated" },
		{ RR_TAG_FLAGS, 8, 1, "wrong size" },
		{ RR_TAG_FLAGS, 4, 8, "unknown flag" },
		{ RR_TAG_FW_SHA, 31, 0, "short sha" },
		{ RR_TAG_NET, RR_NET_MAX + 1, 0x41, "long net" },
		{ RR_TAG_VM_ID, 2, 0x0041, "NUL in string" },
		{ RR_TAG_DIGEST_HASH, 4, 0, "explicit sha256 digest hash" },
		{ RR_TAG_DIGEST_HASH, 4, 2, "unknown digest hash" },
		{ RR_TAG_DIGEST_HASH, 8, 1, "digest hash of 8 bytes" },
		{ RR_TAG_DIGEST_HASH, 1, 1, "digest hash of 1 byte" },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		uint8_t b2[512];
		size_t m = base;
		memcpy(b2, body, base);
		m += tlv(b2 + m, bad[i].tag, bad[i].v, bad[i].len);
		if (bad[i].tag == RR_TAG_NET)
			memset(b2 + m - bad[i].len, 'x', bad[i].len);
		len = raw_header(buf, 1, 3, b2, m);
		CHECK(rr_header_decode(buf, len, &d, &used, err, sizeof(err)) == -EBADMSG, "%s accepted", bad[i].what);
	}
	len = raw_header(buf, 1, 0, body, tlv(body, RR_TAG_MEM_BYTES, 1, 8));
	CHECK(rr_header_decode(buf, len, &d, &used, err, sizeof(err)) == -EBADMSG, "missing smp accepted");
	put_le(body, RR_TAG_SMP, 2);
	put_le(body + 2, 1000, 4);
	len = raw_header(buf, 1, 0, body, 10);
	CHECK(rr_header_decode(buf, len, &d, &used, err, sizeof(err)) == -EBADMSG, "TLV past the body accepted");
	memcpy(buf, RR_LOG_MAGIC, 8);
	put_le(buf + 8, 1, 2);
	put_le(buf + 10, 0, 2);
	put_le(buf + 12, RR_HEADER_MAX_BODY + 1, 4);
	CHECK(rr_header_decode(buf, 16, &d, &used, err, sizeof(err)) == -EBADMSG, "huge body accepted");
}

static uint8_t frame[RR_NET_FRAME_MAX], text[RR_CONSOLE_MAX];

/* Events of every kind with edge values, ending near UINT64_MAX. */
static size_t edge_events(struct rr_event *ev)
{
	size_t n = 0;

	for (size_t i = 0; i < sizeof(frame); i++)
		frame[i] = (uint8_t)(i * 7);
	for (size_t i = 0; i < sizeof(text); i++)
		text[i] = (uint8_t)('a' + i % 26);
	memset(ev, 0, 16 * sizeof(*ev));
	ev[n++] = (struct rr_event){ .kind = RR_CONSOLE_IN, .step = 0, .data = text, .len = 1 };
	ev[n++] = (struct rr_event){ .kind = RR_CHECK, .step = 0, .check = UINT64_MAX };
	ev[n++] = (struct rr_event){ .kind = RR_CONSOLE_IN, .step = 127, .data = text, .len = RR_CONSOLE_MAX };
	ev[n++] = (struct rr_event){ .kind = RR_NET_RX, .step = 128, .data = frame, .len = RR_NET_FRAME_MIN };
	ev[n++] = (struct rr_event){ .kind = RR_NET_RX, .step = 1ull << 40, .data = frame, .len = RR_NET_FRAME_MAX };
	ev[n++] = (struct rr_event){ .kind = RR_CLOCK, .step = 1ull << 40, .anchor_mtime = 0, .rate_q32 = UINT64_MAX };
	ev[n++] = (struct rr_event){ .kind = RR_CLOCK, .step = 1ull << 41, .anchor_mtime = UINT64_MAX, .rate_q32 = 1ull << 32 };
	ev[n] = (struct rr_event){ .kind = RR_DIGEST, .step = UINT64_MAX - 1 };
	for (int i = 0; i < 32; i++)
		ev[n].digest[i] = (uint8_t)(i * 9);
	n++;
	ev[n++] = (struct rr_event){ .kind = RR_CHECK, .step = UINT64_MAX, .check = 0 };
	ev[n++] = (struct rr_event){ .kind = RR_END, .step = UINT64_MAX, .end_reason = RR_END_STOPPED };
	return n;
}

static bool event_equal(const struct rr_event *a, const struct rr_event *b)
{
	if (a->kind != b->kind || a->step != b->step)
		return false;
	switch (a->kind) {
	case RR_CONSOLE_IN:
	case RR_NET_RX: return a->len == b->len && !memcmp(a->data, b->data, a->len);
	case RR_CLOCK: return a->anchor_mtime == b->anchor_mtime && a->rate_q32 == b->rate_q32;
	case RR_DIGEST: return !memcmp(a->digest, b->digest, 32);
	case RR_CHECK: return a->check == b->check;
	case RR_END: return a->end_reason == b->end_reason;
	}
	return false;
}

static void test_chunk_round_trip(void)
{
	struct rr_event ev[16], got;
	size_t n = edge_events(ev), len, used;
	struct rr_chunk_writer *w = rr_chunk_writer_new(5, 0);
	const uint8_t *out;
	struct rr_chunk c;
	struct rr_event_iter it;
	char err[256];
	int rc;

	for (size_t i = 0; i < n; i++)
		CHECK(rr_chunk_writer_add(w, &ev[i]) == 0, "add %zu", i);
	CHECK(rr_chunk_writer_nevents(w) == n, "nevents");
	CHECK(rr_chunk_writer_finish(w, UINT64_MAX, &out, &len) == 0, "finish");
	CHECK(rr_chunk_decode(out, len, &c, &used, err, sizeof(err)) == 0, "decode: %s", err);
	CHECK(used == len && c.seq == 5 && c.first_step == 0 && c.end_step == UINT64_MAX && c.nevents == n, "fields");
	rr_event_iter_init(&it, &c);
	for (size_t i = 0; i < n; i++) {
		rc = rr_event_next(&it, &got, err, sizeof(err));
		CHECK(rc == 1 && event_equal(&ev[i], &got), "event %zu (rc %d: %s)", i, rc, err);
	}
	CHECK(rr_event_next(&it, &got, err, sizeof(err)) == 0, "end of chunk: %s", err);
	CHECK(rr_chunk_writer_add(w, &ev[1]) == -EINVAL, "add after END");
	CHECK(rr_chunk_writer_finish(w, UINT64_MAX, &out, &len) == -EINVAL, "finish after END chunk");
	rr_chunk_writer_free(w);

	/* Writer refusals and continuation. */
	w = rr_chunk_writer_new(0, 100);
	struct rr_event e = { .kind = RR_CHECK, .step = 99 };
	CHECK(rr_chunk_writer_add(w, &e) == -EINVAL, "step before first");
	e = (struct rr_event){ .kind = RR_CONSOLE_IN, .step = 100, .data = text, .len = 0 };
	CHECK(rr_chunk_writer_add(w, &e) == -EINVAL, "console len 0");
	e.len = RR_CONSOLE_MAX + 1;
	CHECK(rr_chunk_writer_add(w, &e) == -EINVAL, "console len 4097");
	e = (struct rr_event){ .kind = RR_NET_RX, .step = 100, .data = frame, .len = 13 };
	CHECK(rr_chunk_writer_add(w, &e) == -EINVAL, "net len 13");
	e.len = RR_NET_FRAME_MAX + 1;
	CHECK(rr_chunk_writer_add(w, &e) == -EINVAL, "net len 65537");
	e = (struct rr_event){ .kind = RR_END, .step = 100, .end_reason = 5 };
	CHECK(rr_chunk_writer_add(w, &e) == -EINVAL, "end reason 5");
	e = (struct rr_event){ .kind = 7, .step = 100 };
	CHECK(rr_chunk_writer_add(w, &e) == -EINVAL, "kind 7");
	e = (struct rr_event){ .kind = RR_CHECK, .step = 200 };
	CHECK(rr_chunk_writer_add(w, &e) == 0, "check");
	e.step = 150;
	CHECK(rr_chunk_writer_add(w, &e) == -EINVAL, "step backwards");
	CHECK(rr_chunk_writer_finish(w, 199, &out, &len) == -EINVAL, "end before last event");

	/* Fill to the payload limit: -ENOSPC, never an oversized chunk. */
	e = (struct rr_event){ .kind = RR_NET_RX, .step = 300, .data = frame, .len = RR_NET_FRAME_MAX };
	int adds = 0;
	while ((rc = rr_chunk_writer_add(w, &e)) == 0)
		adds++;
	CHECK(rc == -ENOSPC && adds == 15, "fill: rc %d after %d adds", rc, adds);
	CHECK(rr_chunk_writer_payload_len(w) <= RR_CHUNK_MAX_PAYLOAD, "payload bound");
	CHECK(rr_chunk_writer_finish(w, 300, &out, &len) == 0, "finish full");
	CHECK(rr_chunk_decode(out, len, &c, &used, err, sizeof(err)) == 0 && c.nevents == 16, "full chunk: %s", err);
	CHECK(rr_chunk_writer_payload_len(w) == 0, "next chunk starts empty");
	CHECK(rr_chunk_writer_finish(w, 400, &out, &len) == 0, "empty chunk");
	CHECK(rr_chunk_decode(out, len, &c, &used, err, sizeof(err)) == 0 && c.seq == 1 && c.first_step == 300 &&
	      c.end_step == 400 && c.nevents == 0 && len == RR_CHUNK_HEADER_BYTES, "empty chunk fields");
	rr_chunk_writer_free(w);
}

/* A log of header + 3 chunks, the last holding END; chunk_end[i] is where chunk i ends. */
static size_t small_log(uint8_t *buf, size_t chunk_end[3])
{
	struct rr_header h;
	struct rr_chunk_writer *w = rr_chunk_writer_new(0, 0);
	const uint8_t *out;
	size_t len, at;
	struct rr_event e;

	sample_header(&h);
	if (rr_header_encode(&h, buf, 4096, &at))
		abort();
	for (int k = 0; k < 3; k++) {
		e = (struct rr_event){ .kind = RR_CONSOLE_IN, .step = 1000 * k + 10, .data = (const uint8_t *)"hi\n", .len = 3 };
		if (rr_chunk_writer_add(w, &e))
			abort();
		e = (struct rr_event){ .kind = RR_CHECK, .step = 1000 * k + 10, .check = 0x1122334455667788ull };
		if (rr_chunk_writer_add(w, &e))
			abort();
		if (k == 2) {
			e = (struct rr_event){ .kind = RR_END, .step = 2500, .end_reason = RR_END_POWEROFF };
			if (rr_chunk_writer_add(w, &e))
				abort();
		}
		if (rr_chunk_writer_finish(w, 1000 * (k + 1), &out, &len))
			abort();
		memcpy(buf + at, out, len);
		at += len;
		chunk_end[k] = at;
	}
	rr_chunk_writer_free(w);
	return at;
}

static void test_chunk_flips(void)
{
	uint8_t log[4096], copy[4096];
	size_t ends[3], total = small_log(log, ends), used, start = 0;
	struct rr_chunk c;
	struct rr_header h;
	char err[256];

	/* The header's size: where chunk 0 starts. */
	CHECK(rr_header_decode(log, total, &h, &start, err, sizeof(err)) == 0, "header: %s", err);
	for (size_t i = start; i < ends[0]; i++) {
		for (int m = 0; m < 3; m++) {
			static const uint8_t masks[] = { 0x01, 0x80, 0xff };
			memcpy(copy, log, total);
			copy[i] ^= masks[m];
			int rc = rr_chunk_decode(copy + start, ends[0] - start, &c, &used, err, sizeof(err));
			CHECK(rc == -EBADMSG || rc == -EAGAIN, "flip %02x at chunk byte %zu accepted by decode", masks[m], i - start);

			struct rr_reader *r = rr_reader_open_mem(copy, total);
			CHECK(rr_reader_read_header(r, &h, err, sizeof(err)) == 0, "header");
			rc = rr_reader_next(r, &c, err, sizeof(err));
			CHECK(rc != 1, "flip %02x at chunk byte %zu accepted by the reader", masks[m], i - start);
			/*
			 * A payload_len grown past the end of the file cannot be told
			 * from a writer killed mid-chunk (docs/log-format.md).
			 */
			bool len_field = i - start >= 28 && i - start < 32;
			CHECK(rr_reader_state(r) == RR_READER_CORRUPT ||
			      (len_field && rr_reader_state(r) == RR_READER_TRUNCATED),
			      "flip %02x at chunk byte %zu not reported corrupt (%d: %s)", masks[m], i - start, rr_reader_state(r), err);
			rr_reader_close(r);
		}
	}
}

static void test_truncation(void)
{
	uint8_t log[4096];
	size_t ends[3], total = small_log(log, ends), hlen;
	struct rr_header h;
	struct rr_chunk c;
	char err[256], want[256];

	CHECK(rr_header_decode(log, total, &h, &hlen, err, sizeof(err)) == 0, "header: %s", err);
	for (size_t cut = 0; cut <= total; cut++) {
		struct rr_reader *r = rr_reader_open_mem(log, cut);
		int rc = rr_reader_read_header(r, &h, err, sizeof(err));
		if (cut < hlen) {
			CHECK(rc == -EAGAIN && rr_reader_state(r) == RR_READER_TRUNCATED, "cut %zu in header: rc %d", cut, rc);
			rr_reader_close(r);
			continue;
		}
		CHECK(rc == 0, "cut %zu: header rc %d", cut, rc);
		size_t complete = 0;
		while (complete < 3 && ends[complete] <= cut)
			complete++;
		size_t got = 0;
		while ((rc = rr_reader_next(r, &c, err, sizeof(err))) == 1)
			got++;
		bool boundary = cut == hlen || cut == ends[0] || cut == ends[1] || cut == ends[2];
		CHECK(rc == 0 && got == complete, "cut %zu: rc %d, %zu chunks, want %zu: %s", cut, rc, got, complete, err);
		CHECK(rr_reader_state(r) == (boundary ? RR_READER_EOF : RR_READER_TRUNCATED), "cut %zu: state %d", cut,
		      rr_reader_state(r));
		CHECK(rr_reader_saw_end(r) == (complete == 3), "cut %zu: END seen", cut);
		if (!boundary) {
			snprintf(want, sizeof(want), "log ends in a partial chunk at offset %zu after %zu complete chunks",
				 complete ? ends[complete - 1] : hlen, complete);
			CHECK(!strcmp(err, want), "cut %zu: message '%s'", cut, err);
		}
		CHECK(rr_reader_next(r, &c, err, sizeof(err)) == 0, "cut %zu: next after the end", cut);
		rr_reader_close(r);
	}

	/* The fd and FILE* sources read the same log. */
	int fd = memfd_create("rrlog", 0);
	CHECK(fd >= 0 && write(fd, log, total) == (ssize_t)total && lseek(fd, 0, SEEK_SET) == 0, "memfd");
	struct rr_reader *r = rr_reader_open_fd(fd);
	int n = 0, rc;
	CHECK(rr_reader_read_header(r, &h, err, sizeof(err)) == 0, "fd header: %s", err);
	while ((rc = rr_reader_next(r, &c, err, sizeof(err))) == 1)
		n++;
	CHECK(rc == 0 && n == 3 && rr_reader_state(r) == RR_READER_EOF && rr_reader_offset(r) == total, "fd read");
	rr_reader_close(r);
	FILE *f = fmemopen(log, total, "r");
	r = rr_reader_open_file(f);
	n = 0;
	CHECK(rr_reader_read_header(r, &h, err, sizeof(err)) == 0, "FILE header: %s", err);
	while ((rc = rr_reader_next(r, &c, err, sizeof(err))) == 1)
		n++;
	CHECK(rc == 0 && n == 3 && rr_reader_state(r) == RR_READER_EOF && rr_reader_chunks(r) == 3, "FILE read");
	rr_reader_close(r);
	fclose(f);
	close(fd);
}

/* Decodes a one-chunk payload and expects the event iterator to refuse it. */
static void expect_bad_events(const char *what, uint64_t first, uint64_t end, uint32_t nev, const uint8_t *p, size_t plen)
{
	uint8_t buf[512];
	size_t len = raw_chunk(buf, 0, first, end, nev, p, plen), used;
	struct rr_chunk c;
	struct rr_event_iter it;
	struct rr_event ev;
	char err[256] = "";
	int rc = rr_chunk_decode(buf, len, &c, &used, err, sizeof(err));

	if (rc == 0) {
		rr_event_iter_init(&it, &c);
		while ((rc = rr_event_next(&it, &ev, err, sizeof(err))) == 1)
			;
	}
	CHECK(rc < 0 && err[0], "%s accepted", what);
}

static void test_bad_events(void)
{
	static const uint8_t ok_max[] = { RR_CHECK, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01, 1, 2, 3, 4, 5, 6, 7, 8 };
	uint8_t buf[512], p[300];
	struct rr_chunk c;
	struct rr_event_iter it;
	struct rr_event ev;
	size_t used, len;
	char err[256];

	/* The largest varint is fine when it lands within the chunk. */
	len = raw_chunk(buf, 0, 0, UINT64_MAX, 1, ok_max, sizeof(ok_max));
	CHECK(rr_chunk_decode(buf, len, &c, &used, err, sizeof(err)) == 0, "decode: %s", err);
	rr_event_iter_init(&it, &c);
	CHECK(rr_event_next(&it, &ev, err, sizeof(err)) == 1 && ev.step == UINT64_MAX, "max varint: %s", err);

	static const uint8_t v11[] = { RR_CHECK, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00, 1, 2, 3, 4, 5, 6, 7, 8 };
	expect_bad_events("11-byte varint", 0, UINT64_MAX, 1, v11, sizeof(v11));
	static const uint8_t vover[] = { RR_CHECK, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02, 1, 2, 3, 4, 5, 6, 7, 8 };
	expect_bad_events("varint past 2^64", 0, UINT64_MAX, 1, vover, sizeof(vover));
	static const uint8_t vlong[] = { RR_CHECK, 0x81, 0x00, 1, 2, 3, 4, 5, 6, 7, 8 };
	expect_bad_events("non-minimal varint", 0, 100, 1, vlong, sizeof(vlong));
	static const uint8_t vcut[] = { RR_CLOCK, 0x00, 0x05, 0x80, 0x80 };
	expect_bad_events("varint cut by the payload end", 0, 100, 1, vcut, sizeof(vcut));
	static const uint8_t ovf[] = { RR_CHECK, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01, 1, 2, 3, 4, 5, 6, 7, 8 };
	expect_bad_events("step overflow", 10, UINT64_MAX, 1, ovf, sizeof(ovf));
	static const uint8_t beyond[] = { RR_CHECK, 101, 1, 2, 3, 4, 5, 6, 7, 8 };
	expect_bad_events("step after end_step", 0, 100, 1, beyond, sizeof(beyond));
	static const uint8_t kind0[] = { 0, 0, 0 }, kind7[] = { 7, 0, 0 };
	expect_bad_events("kind 0", 0, 100, 1, kind0, sizeof(kind0));
	expect_bad_events("kind 7", 0, 100, 1, kind7, sizeof(kind7));
	static const uint8_t con0[] = { RR_CONSOLE_IN, 0, 0 };
	expect_bad_events("console len 0", 0, 100, 1, con0, sizeof(con0));
	static const uint8_t con_big[] = { RR_CONSOLE_IN, 0, 0x81, 0x20, 'a' };	/* 4097 */
	expect_bad_events("console len 4097", 0, 100, 1, con_big, sizeof(con_big));
	static const uint8_t con_past[] = { RR_CONSOLE_IN, 0, 5, 'a', 'b' };
	expect_bad_events("console data past the payload", 0, 100, 1, con_past, sizeof(con_past));
	static const uint8_t net13[] = { RR_NET_RX, 0, 13, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13 };
	expect_bad_events("net len 13", 0, 100, 1, net13, sizeof(net13));
	static const uint8_t net_big[] = { RR_NET_RX, 0, 0x81, 0x80, 0x04, 0 };	/* 65537 */
	expect_bad_events("net len 65537", 0, 100, 1, net_big, sizeof(net_big));
	static const uint8_t dig_short[] = { RR_DIGEST, 0, 1, 2, 3 };
	expect_bad_events("short digest", 0, 100, 1, dig_short, sizeof(dig_short));
	static const uint8_t chk_short[] = { RR_CHECK, 0, 1, 2, 3, 4, 5, 6, 7 };
	expect_bad_events("short check", 0, 100, 1, chk_short, sizeof(chk_short));
	static const uint8_t end0[] = { RR_END, 0, 0 }, end5[] = { RR_END, 0, 5 };
	expect_bad_events("end reason 0", 0, 100, 1, end0, sizeof(end0));
	expect_bad_events("end reason 5", 0, 100, 1, end5, sizeof(end5));
	static const uint8_t end_mid[] = { RR_END, 0, 1, RR_END, 0, 1 };
	expect_bad_events("END before another event", 0, 100, 2, end_mid, sizeof(end_mid));
	static const uint8_t two[] = { RR_END, 0, 1, 0, 0, 0 };
	expect_bad_events("trailing bytes", 0, 100, 1, two, sizeof(two));
	static const uint8_t short_by_one[] = { RR_CONSOLE_IN, 0, 3, 'a', 'b', 'c' };
	expect_bad_events("fewer events than declared", 0, 100, 2, short_by_one, sizeof(short_by_one));
	memset(p, 0, sizeof(p));
	expect_bad_events("end before first", 100, 99, 0, p, 0);
	expect_bad_events("too many events for the payload", 0, 100, 4, p, 9);

	/* Header fields out of bounds are refused before the payload is read. */
	len = raw_chunk(buf, 0, 0, 0, 0, p, 0);
	put_le(buf + 28, RR_CHUNK_MAX_PAYLOAD + 1, 4);
	CHECK(rr_chunk_decode(buf, len, &c, &used, err, sizeof(err)) == -EBADMSG && strstr(err, "exceeds"), "huge payload: %s", err);
	CHECK(rr_chunk_decode(buf, 3, &c, &used, err, sizeof(err)) == -EAGAIN, "3 bytes of magic");
	CHECK(rr_chunk_decode((const uint8_t *)"FTCX", 4, &c, &used, err, sizeof(err)) == -EBADMSG, "bad magic");
}

/* Chunks that decode alone but break the log's continuity. */
static void test_continuity(void)
{
	uint8_t log[1024], body[64], end_ev[] = { RR_END, 0, RR_END_REBOOT };
	struct rr_header h;
	struct rr_chunk c;
	size_t at, hlen;
	char err[256], want[128];
	static const struct { const char *what; uint64_t seq1, first1; bool end0; } cases[] = {
		{ "seq gap", 2, 50, false },
		{ "step gap", 1, 51, false },
		{ "chunk after END", 1, 50, true },
		{ "first chunk seq", 0, 50, false },
	};

	sample_header(&h);
	CHECK(rr_header_encode(&h, log, sizeof(log), &hlen) == 0, "header");
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		at = hlen;
		at += raw_chunk(log + at, 0, 0, 50, cases[i].end0, end_ev, cases[i].end0 ? sizeof(end_ev) : 0);
		size_t second = at;
		at += raw_chunk(log + at, cases[i].seq1, cases[i].first1, 60, 0, body, 0);
		struct rr_reader *r = rr_reader_open_mem(log, at);
		CHECK(rr_reader_read_header(r, &h, err, sizeof(err)) == 0, "header");
		CHECK(rr_reader_next(r, &c, err, sizeof(err)) == 1, "%s: first chunk: %s", cases[i].what, err);
		int rc = rr_reader_next(r, &c, err, sizeof(err));
		snprintf(want, sizeof(want), "corrupt chunk at offset %zu: ", second);
		CHECK(rc == -EBADMSG && !strncmp(err, want, strlen(want)) && rr_reader_state(r) == RR_READER_CORRUPT,
		      "%s: rc %d, '%s'", cases[i].what, rc, err);
		rr_reader_close(r);
	}
	/* A log must start at seq 0 and step 0. */
	at = hlen + raw_chunk(log + hlen, 1, 0, 50, 0, body, 0);
	struct rr_reader *r = rr_reader_open_mem(log, at);
	CHECK(rr_reader_read_header(r, &h, err, sizeof(err)) == 0, "header");
	CHECK(rr_reader_next(r, &c, err, sizeof(err)) == -EBADMSG, "first seq 1 accepted");
	rr_reader_close(r);
}

/* Reads a whole log; returns the chunks read, the first one's seq in *first, the final rc in *rc_out. */
static int read_all(struct rr_reader *r, bool allow, uint64_t *first, int *rc_out, char *err, size_t err_len)
{
	struct rr_header h;
	struct rr_chunk c;
	int n = 0, rc;

	if (allow)
		rr_reader_allow_trimmed(r);
	CHECK(rr_reader_read_header(r, &h, err, err_len) == 0, "trimmed log header: %s", err);
	while ((rc = rr_reader_next(r, &c, err, err_len)) == 1)
		if (!n++)
			*first = c.seq;
	*rc_out = rc;
	return n;
}

/*
 * A trimmed log (ftvm log trim): zero bytes between the header and a later
 * chunk, as a hole punched in a file or as written zeros. Only a reader that
 * allows it reads one, from that chunk on, with continuity checked after it.
 */
static void test_trimmed(void)
{
	enum { CHUNKS = 40, CUT = 20 };
	static uint8_t log[CHUNKS * 4200 + 4096], payload[4100];
	size_t at, hlen, off[CHUNKS + 1];
	struct rr_header h;
	uint64_t first = 0;
	char err[256];
	int rc;

	sample_header(&h);
	CHECK(rr_header_encode(&h, log, sizeof(log), &hlen) == 0, "header");
	payload[0] = RR_CONSOLE_IN;
	payload[1] = 1;			/* delta */
	put_le(payload + 2, 0x80 | (4000 & 0x7f), 1);	/* varint 4000 */
	put_le(payload + 3, 4000 >> 7, 1);
	memset(payload + 4, 'x', 4000);
	at = hlen;
	for (int k = 0; k < CHUNKS; k++) {
		off[k] = at;
		at += raw_chunk(log + at, (uint64_t)k, 100 * (uint64_t)k, 100 * (uint64_t)k + 100, 1, payload, 4004);
	}
	off[CHUNKS] = at;

	int fd = memfd_create("rrlog-trim", 0);
	struct stat before, after;
	CHECK(fd >= 0 && write(fd, log, at) == (ssize_t)at && fstat(fd, &before) == 0, "memfd");
	CHECK(fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)hlen, (off_t)(off[CUT] - hlen)) == 0 &&
	      fstat(fd, &after) == 0, "punch a hole: %s", strerror(errno));
	CHECK(after.st_size == before.st_size && after.st_blocks < before.st_blocks, "the hole frees blocks");

	struct rr_reader *r = rr_reader_open_fd(fd);
	lseek(fd, 0, SEEK_SET);
	int n = read_all(r, false, &first, &rc, err, sizeof(err));
	CHECK(n == 0 && rc == -EBADMSG && strstr(err, "the log was trimmed"), "a trimmed log read as whole: %d, %s", rc, err);
	rr_reader_close(r);

	lseek(fd, 0, SEEK_SET);
	r = rr_reader_open_fd(fd);
	n = read_all(r, true, &first, &rc, err, sizeof(err));
	CHECK(rc == 0 && n == CHUNKS - CUT && first == CUT && rr_reader_state(r) == RR_READER_EOF &&
	      rr_reader_offset(r) == at && rr_reader_hole_bytes(r) == off[CUT] - hlen,
	      "fd: %d chunks from %llu, rc %d, hole %llu: %s", n, (unsigned long long)first, rc,
	      (unsigned long long)rr_reader_hole_bytes(r), err);
	rr_reader_close(r);
	close(fd);

	/* The same as zeros in memory and through a FILE*; a whole log reads with a hole of 0. */
	memset(log + hlen, 0, off[CUT] - hlen);
	r = rr_reader_open_mem(log, at);
	n = read_all(r, true, &first, &rc, err, sizeof(err));
	CHECK(rc == 0 && n == CHUNKS - CUT && first == CUT && rr_reader_hole_bytes(r) == off[CUT] - hlen, "mem: %s", err);
	rr_reader_close(r);
	FILE *f = fmemopen(log, at, "r");
	r = rr_reader_open_file(f);
	n = read_all(r, true, &first, &rc, err, sizeof(err));
	CHECK(rc == 0 && n == CHUNKS - CUT && first == CUT && rr_reader_offset(r) == at, "FILE: %s", err);
	rr_reader_close(r);
	fclose(f);

	/* After the first chunk, continuity holds as ever. */
	raw_chunk(log + off[CUT + 2], CUT + 3, 100 * (CUT + 2), 100 * (CUT + 2) + 100, 1, payload, 4004);
	r = rr_reader_open_mem(log, at);
	n = read_all(r, true, &first, &rc, err, sizeof(err));
	CHECK(n == 2 && rc == -EBADMSG && strstr(err, "seq 23 where 22 was expected"), "a gap after the hole: %s", err);
	rr_reader_close(r);
	/* Garbage after the hole is corrupt; a hole to the end of the file says so. */
	log[off[CUT]] = 'G';
	r = rr_reader_open_mem(log, at);
	n = read_all(r, true, &first, &rc, err, sizeof(err));
	CHECK(n == 0 && rc == -EBADMSG && rr_reader_state(r) == RR_READER_CORRUPT, "garbage after the hole: %s", err);
	rr_reader_close(r);
	r = rr_reader_open_mem(log, off[CUT]);
	n = read_all(r, true, &first, &rc, err, sizeof(err));
	CHECK(n == 0 && rc == 0 && rr_reader_state(r) == RR_READER_TRUNCATED && strstr(err, "trimmed of every chunk"),
	      "a hole to the end: %s", err);
	rr_reader_close(r);
}

/* A log still being written (the backup's feed): a reader that allows a hole waits for no more than a chunk. */
static void test_trimmed_live(void)
{
	uint8_t log[4096];
	size_t ends[3];
	struct rr_header h;
	struct rr_chunk c;
	char err[256];
	int fds[2];

	small_log(log, ends);
	CHECK(pipe(fds) == 0 && write(fds[1], log, ends[0]) == (ssize_t)ends[0], "pipe");
	FILE *f = fdopen(fds[0], "r");	/* as the backup's feed: fread waits until it has all it asked for */
	struct rr_reader *r = rr_reader_open_file(f);
	rr_reader_allow_trimmed(r);
	alarm(60);	/* the write end stays open: a reader that wants more blocks until this kills the test */
	CHECK(rr_reader_read_header(r, &h, err, sizeof(err)) == 0 && rr_reader_next(r, &c, err, sizeof(err)) == 1 &&
	      c.seq == 0 && rr_reader_hole_bytes(r) == 0, "the first chunk of a log being written: %s", err);
	alarm(0);
	close(fds[1]);
	CHECK(rr_reader_next(r, &c, err, sizeof(err)) == 0 && rr_reader_state(r) == RR_READER_EOF, "then its end");
	rr_reader_close(r);
	fclose(f);
}

/* Runs 'ftvm log dump' on the first len bytes of log; returns its status and its output's last line in last. */
static int run_dump(const uint8_t *log, size_t len, char *last, size_t last_len)
{
	char path[] = "/tmp/test_rr_log.XXXXXX", outp[] = "/tmp/test_rr_log_out.XXXXXX", line[1024];
	int fd = mkstemp(path), out = mkstemp(outp), saved = dup(STDOUT_FILENO);

	if (fd < 0 || out < 0 || saved < 0 || write(fd, log, len) != (ssize_t)len) {
		fprintf(stderr, "test_rr_log: cannot set up a temporary file\n");
		exit(1);
	}
	close(fd);
	char a0[] = "log", a1[] = "dump";
	char *argv[] = { a0, a1, path, NULL };
	fflush(stdout);
	dup2(out, STDOUT_FILENO);
	int status = cli_log(3, argv);
	fflush(stdout);
	dup2(saved, STDOUT_FILENO);
	close(saved);
	last[0] = 0;
	FILE *f = fdopen(out, "r");
	rewind(f);
	while (fgets(line, sizeof(line), f))
		snprintf(last, last_len, "%s", line);
	fclose(f);
	unlink(path);
	unlink(outp);
	return status;
}

static void test_dump(void)
{
	uint8_t log[4096];
	size_t ends[3], total = small_log(log, ends);
	char last[1024];
	int st;

	st = run_dump(log, total, last, sizeof(last));
	CHECK(st == 0 && strstr(last, "summary: 3 chunks, 7 events (console_in 3, net_rx 0, clock 0, digest 0, check 3, end 1)") &&
	      strstr(last, "ended cleanly (poweroff at step 2500)"), "clean dump: %d '%s'", st, last);
	st = run_dump(log, ends[1] + 7, last, sizeof(last));
	CHECK(st == 0 && strstr(last, "truncated: log ends in a partial chunk") && strstr(last, "after 2 complete chunks"),
	      "truncated dump: %d '%s'", st, last);
	st = run_dump(log, ends[1], last, sizeof(last));
	CHECK(st == 0 && strstr(last, "without an END"), "unfinished dump: %d '%s'", st, last);
	log[ends[0] + 45] ^= 4;
	st = run_dump(log, total, last, sizeof(last));
	CHECK(st == 2 && strstr(last, "corrupt: corrupt chunk at offset"), "corrupt dump: %d '%s'", st, last);
	log[ends[0] + 45] ^= 4;
	log[8] = 2;
	st = run_dump(log, total, last, sizeof(last));
	CHECK(st == 2, "newer major dump: %d", st);
	char a0[] = "log", a1[] = "dump", a2[] = "/nonexistent/x.ftlog";
	char *argv[] = { a0, a1, a2, NULL };
	CHECK(cli_log(3, argv) == 2, "missing file");
	CHECK(cli_log(2, argv) == 2, "missing argument");
}

int main(void)
{
	test_crc32c();
	test_header();
	test_header_digest_hash();
	test_header_versions();
	test_chunk_round_trip();
	test_chunk_flips();
	test_truncation();
	test_bad_events();
	test_continuity();
	test_trimmed();
	test_trimmed_live();
	test_dump();
	return check_done("test_rr_log");
}
