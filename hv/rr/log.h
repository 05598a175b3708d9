/* SPDX-License-Identifier: MIT */
/* log: the replay-log format v1.0 (docs/log-format.md): header, chunks and events, encode, decode (log.c) and a streaming reader (reader.c). */
#ifndef HV_RR_LOG_H
#define HV_RR_LOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/*
 * Every number in this header that appears in the bytes of a log (magics,
 * tags, kinds, bounds, field sizes) is part of format 1.x: changing one
 * bumps RR_LOG_MAJOR. A minor bump may only add header tags.
 */
#define RR_LOG_MAJOR 1
#define RR_LOG_MINOR 0
#define RR_CHUNK_MAX_PAYLOAD (1u << 20)

#define RR_LOG_MAGIC "FTVMLOG\0"	/* 8 bytes */
#define RR_CHUNK_MAGIC "FTCK"		/* 4 bytes */
#define RR_HEADER_FIXED_BYTES 16	/* magic, major, minor, body_len */
#define RR_HEADER_MAX_BODY (64u * 1024)
#define RR_CHUNK_HEADER_BYTES 40	/* magic, seq, first, end, payload_len, nevents, crc */

/* Header TLV tags. */
enum rr_tag {
	RR_TAG_MEM_BYTES = 1,
	RR_TAG_SMP = 2,
	RR_TAG_FLAGS = 3,
	RR_TAG_FW_SHA = 4,
	RR_TAG_KERNEL_SHA = 5,
	RR_TAG_INITRD_SHA = 6,
	RR_TAG_DISK_SHA = 7,
	RR_TAG_APPEND = 8,
	RR_TAG_NET = 9,
	RR_TAG_DIGEST_INTERVAL = 10,
	RR_TAG_VM_ID = 11,
	RR_TAG_DIGEST_HASH = 12,
};

/*
 * The digest hash (tag 12, u32): absent means SHA-256 (every log written
 * before the tag existed), 1 XXH3-128. The values are enum hv_digest_hash's;
 * the tag is written only for XXH3-128, so an explicit 0 is refused (the
 * encoding stays canonical). The minor stays 0: an older reader refuses the
 * unknown tag of a 1.0 log instead of skipping it and then reporting every
 * DIGEST as a divergence.
 */
#define RR_DIGEST_HASH_SHA256 0
#define RR_DIGEST_HASH_XXH3 1

#define RR_FLAG_VIRTUAL_CLOCK (1u << 0)
#define RR_FLAG_NO_FIRMWARE (1u << 1)
#define RR_FLAGS_KNOWN (RR_FLAG_VIRTUAL_CLOCK | RR_FLAG_NO_FIRMWARE)

#define RR_APPEND_MAX 4096
#define RR_NET_MAX 256
#define RR_VM_ID_MAX 128

/* Event kinds. Adding one bumps the major: older readers cannot skip an unknown kind. */
enum rr_kind { RR_CONSOLE_IN = 1, RR_NET_RX = 2, RR_CLOCK = 3, RR_DIGEST = 4, RR_CHECK = 5, RR_END = 6 };

#define RR_CONSOLE_MIN 1
#define RR_CONSOLE_MAX 4096
#define RR_NET_FRAME_MIN 14
#define RR_NET_FRAME_MAX 65536
#define RR_VARINT_MAX_BYTES 10

enum rr_end_reason { RR_END_POWEROFF = 1, RR_END_REBOOT = 2, RR_END_FAIL = 3, RR_END_STOPPED = 4 };

/*
 * The header. major/minor are filled by decode (the encoder always writes
 * RR_LOG_MAJOR.RR_LOG_MINOR). Strings are NUL-terminated; empty ones are not
 * written. mem_bytes and smp are required (smp >= 1).
 */
struct rr_header {
	uint16_t major, minor;
	uint64_t mem_bytes;
	uint32_t smp, flags;
	uint8_t fw_sha[32], kernel_sha[32], initrd_sha[32], disk_sha[32];
	bool has_fw, has_kernel, has_initrd, has_disk;
	char append[RR_APPEND_MAX + 1];
	char net[RR_NET_MAX + 1];
	uint64_t digest_interval;
	char vm_id[RR_VM_ID_MAX + 1];
	uint32_t digest_hash;	/* RR_DIGEST_HASH_*: 0 when the tag is absent */
};

/*
 * One event. Which fields matter depends on kind: data/len for CONSOLE_IN and
 * NET_RX, anchor_mtime/rate_q32 for CLOCK, digest for DIGEST, check for CHECK,
 * end_reason for END.
 */
struct rr_event {
	enum rr_kind kind;
	uint64_t step;
	const uint8_t *data;
	size_t len;
	uint64_t anchor_mtime, rate_q32;
	uint8_t digest[32];
	uint64_t check;
	uint64_t end_reason;
};

/*
 * Decoders return 0 or a negative errno and, on failure, a message in err
 * (may be NULL) that names the offset within buf, or for events the offset
 * c->offset + RR_CHUNK_HEADER_BYTES + offset in the payload.
 * -EAGAIN: buf is a truncated prefix, more bytes are needed;
 * -EBADMSG: corrupt (magic, crc, bounds, tags); -EPROTONOSUPPORT: another major.
 */

/* -ENOSPC when cap is too small (*len then holds the size needed); -EINVAL for a header that cannot be written. */
__attribute__((warn_unused_result))
int rr_header_encode(const struct rr_header *h, uint8_t *buf, size_t cap, size_t *len);
__attribute__((warn_unused_result))
int rr_header_decode(const uint8_t *buf, size_t len, struct rr_header *h, size_t *consumed, char *err, size_t err_len);

/* Accumulates events and emits complete chunks; seq and step continue from chunk to chunk. */
struct rr_chunk_writer;

struct rr_chunk_writer *rr_chunk_writer_new(uint64_t first_seq, uint64_t first_step);
/*
 * Appends ev (copied). -ENOSPC when the payload would exceed the maximum
 * (finish first); -EINVAL for an event out of bounds, before the previous
 * event or the chunk's first step, or after an END; -ENOMEM.
 */
__attribute__((warn_unused_result))
int rr_chunk_writer_add(struct rr_chunk_writer *w, const struct rr_event *ev);
size_t rr_chunk_writer_payload_len(const struct rr_chunk_writer *w);
uint32_t rr_chunk_writer_nevents(const struct rr_chunk_writer *w);
/*
 * Close the current chunk at end_step (>= its last event and first step,
 * else -EINVAL); *out points into the writer, valid until the next call.
 * Starts the next chunk at seq + 1 and first_step = end_step.
 * A chunk with no events is legal: it announces progress.
 */
__attribute__((warn_unused_result))
int rr_chunk_writer_finish(struct rr_chunk_writer *w, uint64_t end_step, const uint8_t **out, size_t *out_len);
void rr_chunk_writer_free(struct rr_chunk_writer *w);

/* offset: where the chunk starts in its stream, only for messages (rr_chunk_decode sets 0, the reader the file offset). */
struct rr_chunk {
	uint64_t seq, first_step, end_step;
	uint32_t nevents;
	const uint8_t *payload;
	size_t payload_len;
	uint64_t offset;
};

/* Validate one chunk at buf (magic, bounds, crc); -EAGAIN if incomplete; *consumed = its full size. */
__attribute__((warn_unused_result))
int rr_chunk_decode(const uint8_t *buf, size_t len, struct rr_chunk *c, size_t *consumed, char *err, size_t err_len);

struct rr_event_iter {
	const struct rr_chunk *c;
	size_t off;
	uint64_t step;
	uint32_t seen;
};

void rr_event_iter_init(struct rr_event_iter *it, const struct rr_chunk *c);
/*
 * 1 = *ev filled (data points into the chunk), 0 = end of chunk (nevents
 * matched), <0 corrupt (message in err). Checks bounds, canonical varints,
 * steps within [first_step, end_step], and that END is the chunk's last event.
 */
__attribute__((warn_unused_result))
int rr_event_next(struct rr_event_iter *it, struct rr_event *ev, char *err, size_t err_len);

/* "console_in", "net_rx", "clock", "digest", "check", "end", or "unknown". */
const char *rr_kind_name(enum rr_kind k);
/* "poweroff", "reboot", "fail", "stopped", or "unknown". */
const char *rr_end_reason_name(uint64_t reason);

/*
 * Streaming reader over a whole log (fd, FILE* or memory): the header, then
 * chunks one by one, each fully validated (crc, events) and checked for
 * continuity: seq 0, 1, 2, ...; first_step 0 then the previous end_step;
 * nothing after a chunk holding END. The fd / FILE* stays the caller's.
 *
 *   r = rr_reader_open_fd(fd);
 *   rc = rr_reader_read_header(r, &h, err, sizeof(err));
 *   while ((rc = rr_reader_next(r, &c, err, sizeof(err))) == 1)
 *           ... rr_event_iter_init(&it, &c) ...
 *   rc == 0: end of log; rr_reader_state() tells a clean end of file from a
 *   truncated tail ("log ends in a partial chunk at offset N after M complete
 *   chunks" in err), which a replayer treats as the end of the log.
 *   rc == -EBADMSG: "corrupt chunk at offset N: reason"; -EIO etc.: read error.
 *
 * rr_reader_read_header returns -EAGAIN (state TRUNCATED) when the log ends
 * inside its header, else as rr_header_decode. c->payload stays valid until
 * the next call.
 */
struct rr_reader;

enum rr_reader_state {
	RR_READER_OPEN,		/* more may follow */
	RR_READER_EOF,		/* clean end of file at a chunk boundary */
	RR_READER_TRUNCATED,	/* the log ends in a partial header or chunk */
	RR_READER_CORRUPT,	/* bad magic, crc, bounds, event or continuity */
	RR_READER_IO_ERROR,	/* read() failed */
};

struct rr_reader *rr_reader_open_fd(int fd);
struct rr_reader *rr_reader_open_file(FILE *f);
struct rr_reader *rr_reader_open_mem(const uint8_t *buf, size_t len);
__attribute__((warn_unused_result))
int rr_reader_read_header(struct rr_reader *r, struct rr_header *h, char *err, size_t err_len);
__attribute__((warn_unused_result))
int rr_reader_next(struct rr_reader *r, struct rr_chunk *c, char *err, size_t err_len);
enum rr_reader_state rr_reader_state(const struct rr_reader *r);
/* Bytes consumed so far (the offset of the next chunk). */
uint64_t rr_reader_offset(const struct rr_reader *r);
uint64_t rr_reader_chunks(const struct rr_reader *r);
/* True once a chunk holding END was read: the log ended cleanly if the state is then EOF. */
bool rr_reader_saw_end(const struct rr_reader *r);
/*
 * Accept a trimmed log (ftvm log trim): zero bytes between the header and the
 * first chunk, which may then have any seq and first_step. Without this, such
 * a log is corrupt, with a message that says it was trimmed. Call before the
 * first rr_reader_next; rr_reader_hole_bytes then says how many zero bytes
 * were passed over (0: the log starts at its beginning).
 */
void rr_reader_allow_trimmed(struct rr_reader *r);
uint64_t rr_reader_hole_bytes(const struct rr_reader *r);
void rr_reader_close(struct rr_reader *r);

#endif
