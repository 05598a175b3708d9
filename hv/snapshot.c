/* SPDX-License-Identifier: MIT */
/* snapshot: the versioned snapshot file (docs/snapshot-format.md): writer, bounded decoder, machine from a snapshot. */
#include "snapshot.h"
#include "crc32c.h"
#include "errmsg.h"
#include "le.h"
#include "machine_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define SNAP_MAGIC "FTVMSNAP"
#define SNAP_HEADER_BYTES 32
#define SEC_HEADER_BYTES 16

/* Section kinds: part of the format, never renumber (a new kind bumps the minor). */
enum {
	SEC_CONFIG = 1,
	SEC_RAM = 2,
	SEC_DIRTY = 3,		/* 1.1: pages written since the last digest */
	SEC_LOGPOS = 4,		/* 1.1: where in a replay log the machine was */
	SEC_DISK_OVERLAY = 5,	/* 1.1: blocks a ",snapshot" disk's guest wrote */
	SEC_PART = 0x100,	/* + enum machine_part (machine_internal.h); index: hart id or 0 */
	SEC_END = 0xffffffffu,
};

#define CONFIG_BYTES (8 + 4 + 4 + 8 + 32 + 8)
#define CONFIG_DISK 1u
#define CONFIG_NET 2u
#define CONFIG_DISK_OVERLAY 4u	/* 1.1: the disk is an overlay over the image; its blocks follow */
#define OVERLAY_DISK_MAX (256ULL << 30)	/* its written-block map stays at 8 MiB */
#define RAM_RUN_MAX_PAGES 256
#define PART_MAX_BYTES (8u << 20)	/* virtio-net's backlog: 64 frames of up to 64 KiB */
#define DISK_SPEC_MAX 4096
#define LOGPOS_BYTES (32 + 8 + 8 + 8 + 4 + 4)
/* One bit per page, as hv_track_dirty sizes it. */
#define DIRTY_WORDS(mem) ((((mem) >> GUEST_PAGE_SHIFT) / 64) + 1)
#define DIRTY_MAX_BYTES (8 + 8 * DIRTY_WORDS(64ULL << 30))

/* The disk file behind a spec "FILE[,ro|,snapshot]"; *overlay when ",snapshot". */
static int disk_file(const char *spec, char *path, size_t len, bool *overlay)
{
	char *comma;

	*overlay = false;
	if (snprintf(path, len, "%s", spec) >= (int)len)
		return -ENAMETOOLONG;
	while ((comma = strrchr(path, ','))) {
		if (!strcmp(comma + 1, "snapshot"))
			*overlay = true;
		else if (strcmp(comma + 1, "ro"))
			break;
		*comma = '\0';
	}
	return 0;
}

static int disk_sha256(const char *spec, uint64_t *bytes, uint8_t out[32], char *err, size_t err_len)
{
	char path[DISK_SPEC_MAX];
	bool overlay;
	uint8_t *buf = NULL;
	EVP_MD_CTX *ctx = NULL;
	unsigned int mdlen = 32;
	ssize_t n;
	int fd, rc = 0;

	if (disk_file(spec, path, sizeof(path), &overlay)) {
		hv_errf(err, err_len, "disk %s: name too long", spec);
		return -ENAMETOOLONG;
	}
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		hv_errf(err, err_len, "disk %s: %s", path, strerror(errno));
		return -errno;
	}
	ctx = EVP_MD_CTX_new();
	buf = malloc(1 << 20);
	if (!ctx || !buf || !EVP_DigestInit_ex(ctx, EVP_sha256(), NULL)) {
		hv_errf(err, err_len, "disk %s: cannot start SHA-256", path);
		rc = -ENOMEM;
		goto out;
	}
	*bytes = 0;
	while ((n = read(fd, buf, 1 << 20)) > 0) {
		EVP_DigestUpdate(ctx, buf, (size_t)n);
		*bytes += (uint64_t)n;
	}
	if (n < 0) {
		hv_errf(err, err_len, "disk %s: %s", path, strerror(errno));
		rc = -errno;
		goto out;
	}
	EVP_DigestFinal_ex(ctx, out, &mdlen);
out:
	free(buf);
	EVP_MD_CTX_free(ctx);
	close(fd);
	return rc;
}

/* ---- writer ---- */

struct snap_out {
	FILE *f;
	bool failed;
	uint64_t sections;
};

static void out_section(struct snap_out *o, uint32_t kind, uint32_t index, const void *a,
			size_t alen, const void *b, size_t blen)
{
	uint8_t hdr[SEC_HEADER_BYTES], crc[4];
	uint32_t c;

	le32_store(hdr, kind);
	le32_store(hdr + 4, index);
	le64_store(hdr + 8, (uint64_t)alen + blen);
	c = crc32c(0, hdr, sizeof(hdr));
	c = crc32c(c, a, alen);
	c = crc32c(c, b, blen);
	le32_store(crc, c);
	if (fwrite(hdr, sizeof(hdr), 1, o->f) != 1 || (alen && fwrite(a, alen, 1, o->f) != 1) ||
	    (blen && fwrite(b, blen, 1, o->f) != 1) || fwrite(crc, sizeof(crc), 1, o->f) != 1)
		o->failed = true;
	o->sections++;
}

static bool page_is_zero(const uint8_t *p)
{
	const uint64_t *w = (const uint64_t *)(const void *)p;

	for (size_t i = 0; i < GUEST_PAGE_SIZE / 8; i++)
		if (w[i])
			return false;
	return true;
}

static void out_ram(struct snap_out *o, const struct hv_machine *m)
{
	uint64_t npages = m->ram.size >> GUEST_PAGE_SHIFT;

	for (uint64_t pn = 0; pn < npages && !o->failed;) {
		if (page_is_zero(m->ram.host + (pn << GUEST_PAGE_SHIFT))) {
			pn++;
			continue;
		}
		uint64_t run = 1;
		while (run < RAM_RUN_MAX_PAGES && pn + run < npages &&
		       !page_is_zero(m->ram.host + ((pn + run) << GUEST_PAGE_SHIFT)))
			run++;
		uint8_t first[8];
		le64_store(first, pn);
		out_section(o, SEC_RAM, 0, first, sizeof(first), m->ram.host + (pn << GUEST_PAGE_SHIFT),
			    run << GUEST_PAGE_SHIFT);
		pn += run;
	}
}

/* Runs of written overlay blocks, as RAM: u64 first block, then the bytes. */
static void out_overlay(struct snap_out *o, const struct hv_machine *m)
{
	uint64_t bytes = virtio_blk_overlay_bytes(m->blk);
	uint64_t nblocks = (bytes + VIRTIO_BLK_OVERLAY_BLOCK - 1) / VIRTIO_BLK_OVERLAY_BLOCK;
	size_t len;

	for (uint64_t blk = 0; blk < nblocks && !o->failed;) {
		const uint8_t *first = virtio_blk_overlay_block(m->blk, blk, &len);
		if (!first) {
			blk++;
			continue;
		}
		uint64_t run = 1, total = len;
		while (run < RAM_RUN_MAX_PAGES && blk + run < nblocks &&
		       virtio_blk_overlay_block(m->blk, blk + run, &len)) {
			total += len;
			run++;
		}
		uint8_t at[8];
		le64_store(at, blk);
		out_section(o, SEC_DISK_OVERLAY, 0, at, sizeof(at), first, total);
		blk += run;
	}
}

static void out_dirty(struct snap_out *o, const struct hv_machine *m)
{
	size_t n = m->ram.dirty_words;
	uint8_t *buf = malloc(8 + 8 * n);

	if (!buf) {
		o->failed = true;
		return;
	}
	le64_store(buf, n);
	for (size_t i = 0; i < n; i++)
		le64_store(buf + 8 + 8 * i, m->ram.dirty[i]);
	out_section(o, SEC_DIRTY, 0, buf, 8 + 8 * n, NULL, 0);
	free(buf);
}

static void out_logpos(struct snap_out *o, const struct hv_snapshot_logpos *pos)
{
	uint8_t b[LOGPOS_BYTES] = { 0 };

	memcpy(b, pos->header_sha256, 32);
	le64_store(b + 32, pos->events);
	le64_store(b + 40, pos->chunk_seq);
	le64_store(b + 48, pos->last_event_step);
	le32_store(b + 56, pos->last_event_kind);
	le32_store(b + 60, pos->chunk_events);
	out_section(o, SEC_LOGPOS, 0, b, sizeof(b), NULL, 0);
}

int hv_snapshot_save(struct hv_machine *m, const char *path, const struct hv_snapshot_logpos *pos,
		     char *err, size_t err_len)
{
	struct snap_out o = { 0 };
	uint8_t hdr[SNAP_HEADER_BYTES] = { 0 }, cfg[CONFIG_BYTES] = { 0 };
	uint8_t sha[32] = { 0 };
	uint64_t disk_bytes = 0;
	struct machine_part_ref parts[MACHINE_MAX_PARTS];
	struct le_writer w = le_writer_grow();
	char *tmp = NULL;
	int rc = 0, n;

	if (m->running) {
		hv_errf(err, err_len, "snapshot: the machine is running");
		return -EBUSY;
	}
	if (m->disk_spec) {
		/* A ",snapshot" disk: the image's digest, then the blocks the guest wrote over it. */
		rc = disk_sha256(m->disk_spec, &disk_bytes, sha, err, err_len);
		if (rc)
			return rc;
	}
	if (asprintf(&tmp, "%s.tmp.%d", path, (int)getpid()) < 0) {
		hv_errf(err, err_len, "out of memory");
		return -ENOMEM;
	}
	o.f = fopen(tmp, "wbx");
	if (!o.f) {
		hv_errf(err, err_len, "snapshot %s: %s", tmp, strerror(errno));
		rc = -errno;
		goto out;
	}

	memcpy(hdr, SNAP_MAGIC, 8);
	le16_store(hdr + 8, HV_SNAPSHOT_MAJOR);
	le16_store(hdr + 10, HV_SNAPSHOT_MINOR);
	le32_store(hdr + 12, SNAP_HEADER_BYTES);
	le32_store(hdr + 28, crc32c(0, hdr, 28));
	if (fwrite(hdr, sizeof(hdr), 1, o.f) != 1)
		o.failed = true;

	le64_store(cfg, m->ram.size);
	le32_store(cfg + 8, (uint32_t)m->nharts);
	le32_store(cfg + 12, (m->blk ? CONFIG_DISK : 0) | (m->net ? CONFIG_NET : 0) |
			     (m->blk && virtio_blk_overlay_bytes(m->blk) ? CONFIG_DISK_OVERLAY : 0));
	le64_store(cfg + 16, disk_bytes);
	memcpy(cfg + 24, sha, 32);
	le64_store(cfg + 56, m->steps);
	out_section(&o, SEC_CONFIG, 0, cfg, sizeof(cfg), NULL, 0);

	n = machine_parts(m, parts);
	for (int i = 0; i < n; i++) {
		w.len = 0;
		machine_part_save(m, parts[i], &w);
		if (w.failed) {
			o.failed = true;
			break;
		}
		out_section(&o, SEC_PART + parts[i].part, (uint32_t)parts[i].index, w.buf, w.len, NULL, 0);
	}
	if (m->ram.dirty && !o.failed)
		out_dirty(&o, m);
	if (pos && !o.failed)
		out_logpos(&o, pos);
	out_ram(&o, m);
	if (m->blk && virtio_blk_overlay_bytes(m->blk))
		out_overlay(&o, m);
	out_section(&o, SEC_END, 0, NULL, 0, NULL, 0);

	if (fflush(o.f) || fsync(fileno(o.f)))
		o.failed = true;
	if (fclose(o.f))
		o.failed = true;
	o.f = NULL;
	if (o.failed) {
		hv_errf(err, err_len, "snapshot %s: write failed: %s", tmp, strerror(errno ? errno : EIO));
		rc = -EIO;
		unlink(tmp);
		goto out;
	}
	if (rename(tmp, path)) {
		hv_errf(err, err_len, "snapshot %s: %s", path, strerror(errno));
		rc = -errno;
		unlink(tmp);
	}
out:
	free(w.buf);
	free(tmp);
	return rc;
}

/* ---- decoder: every length is bounded before it is used, every section checksummed ---- */

struct snap_src {
	const uint8_t *mem;	/* either bytes in memory */
	size_t len;
	FILE *f;		/* or a file */
	uint64_t off;		/* bytes consumed */
};

/* 0, or -1 when fewer than n bytes are left. */
static int src_read(struct snap_src *s, void *buf, size_t n)
{
	if (s->f) {
		if (n && fread(buf, n, 1, s->f) != 1)
			return -1;
	} else {
		if (n > s->len - s->off)
			return -1;
		memcpy(buf, s->mem + s->off, n);
	}
	s->off += n;
	return 0;
}

static bool src_at_end(struct snap_src *s)
{
	if (s->f)
		return fgetc(s->f) == EOF;
	return s->off == s->len;
}

struct snap_config {
	uint64_t mem_bytes;
	uint32_t smp, devices;
	uint64_t disk_bytes;
	uint8_t disk_sha256[32];
	uint64_t steps;
};

/* What a decode pass does with each verified section. */
struct snap_visit {
	int (*config)(void *opaque, const struct snap_config *c, char *err, size_t err_len);
	int (*part)(void *opaque, enum machine_part p, uint32_t index, const uint8_t *buf,
		    size_t len, char *err, size_t err_len);
	int (*ram)(void *opaque, uint64_t first_page, const uint8_t *pages, uint64_t npages,
		   char *err, size_t err_len);
	/* words little-endian u64s, DIRTY_WORDS(mem) of them, no bit beyond the last page. */
	int (*dirty)(void *opaque, const uint8_t *words, size_t nwords, char *err, size_t err_len);
	int (*overlay)(void *opaque, uint64_t first_block, const uint8_t *data, size_t len, char *err,
		       size_t err_len);
	void *opaque;
};

static const char *sec_name(uint32_t kind)
{
	if (kind == SEC_CONFIG)
		return "config";
	if (kind == SEC_RAM)
		return "ram";
	if (kind == SEC_DIRTY)
		return "dirty";
	if (kind == SEC_LOGPOS)
		return "log position";
	if (kind == SEC_DISK_OVERLAY)
		return "disk overlay";
	if (kind == SEC_END)
		return "end";
	if (kind > SEC_PART && kind <= SEC_PART + MPART_VIRTIO_NET)
		return machine_part_name((enum machine_part)(kind - SEC_PART));
	return "unknown";
}

/* Largest payload a section of this kind may have; 0 for an unknown kind. */
static uint64_t sec_max_bytes(uint32_t kind)
{
	if (kind == SEC_CONFIG)
		return CONFIG_BYTES;
	if (kind == SEC_RAM)
		return 8 + (uint64_t)RAM_RUN_MAX_PAGES * GUEST_PAGE_SIZE;
	if (kind == SEC_DIRTY)
		return DIRTY_MAX_BYTES;
	if (kind == SEC_LOGPOS)
		return LOGPOS_BYTES;
	if (kind == SEC_DISK_OVERLAY)
		return 8 + (uint64_t)RAM_RUN_MAX_PAGES * VIRTIO_BLK_OVERLAY_BLOCK;
	if (kind == SEC_END)
		return 0;
	if (kind > SEC_PART && kind <= SEC_PART + MPART_VIRTIO_NET)
		return PART_MAX_BYTES;
	return UINT64_MAX;
}

static int decode(struct snap_src *s, const char *name, uint64_t max_mem, const struct snap_visit *v,
		  struct hv_snapshot_info *info, char *err, size_t err_len)
{
	uint8_t hdr[SNAP_HEADER_BYTES];
	struct snap_config cfg = { 0 };
	uint8_t *buf = NULL, *seen = NULL, *seen_blk = NULL;
	bool have_config = false, have_dirty = false, parts_seen[MACHINE_MAX_PARTS] = { false };
	struct machine_part_ref want[MACHINE_MAX_PARTS];
	int nwant = 0, rc = -EINVAL;
	char sub[256];

	memset(info, 0, sizeof(*info));
	if (src_read(s, hdr, sizeof(hdr))) {
		hv_errf(err, err_len, "snapshot %s: truncated header (%llu bytes)", name,
			(unsigned long long)s->off);
		return -EINVAL;
	}
	if (memcmp(hdr, SNAP_MAGIC, 8)) {
		hv_errf(err, err_len, "snapshot %s: not a snapshot (bad magic)", name);
		return -EINVAL;
	}
	if (le32_load(hdr + 28) != crc32c(0, hdr, 28)) {
		hv_errf(err, err_len, "snapshot %s: header checksum mismatch", name);
		return -EINVAL;
	}
	info->major = le16_load(hdr + 8);
	info->minor = le16_load(hdr + 10);
	if (info->major != HV_SNAPSHOT_MAJOR || info->minor > HV_SNAPSHOT_MINOR) {
		hv_errf(err, err_len, "snapshot %s: format %u.%u, this ftvm reads %u.0 to %u.%u", name,
			info->major, info->minor, HV_SNAPSHOT_MAJOR, HV_SNAPSHOT_MAJOR, HV_SNAPSHOT_MINOR);
		return -EINVAL;
	}
	if (le32_load(hdr + 12) != SNAP_HEADER_BYTES || le64_load(hdr + 16) || le32_load(hdr + 24)) {
		hv_errf(err, err_len, "snapshot %s: unknown header fields", name);
		return -EINVAL;
	}

	for (;;) {
		uint8_t sh[SEC_HEADER_BYTES], crc[4];
		uint64_t at = s->off;

		if (src_read(s, sh, sizeof(sh))) {
			hv_errf(err, err_len, "snapshot %s: truncated at byte %llu: no end section", name,
				(unsigned long long)at);
			goto out;
		}
		uint32_t kind = le32_load(sh), index = le32_load(sh + 4);
		uint64_t len = le64_load(sh + 8), max = sec_max_bytes(kind);
		if (max == UINT64_MAX || len > max) {
			hv_errf(err, err_len, "snapshot %s: at byte %llu: section kind %#x (%s) of %llu bytes: %s",
				name, (unsigned long long)at, kind, sec_name(kind), (unsigned long long)len,
				max == UINT64_MAX ? "unknown kind" : "too long");
			goto out;
		}
		free(buf);
		buf = malloc(len ? len : 1);
		if (!buf) {
			hv_errf(err, err_len, "snapshot %s: out of memory", name);
			rc = -ENOMEM;
			goto out;
		}
		if (src_read(s, buf, len) || src_read(s, crc, sizeof(crc))) {
			hv_errf(err, err_len, "snapshot %s: at byte %llu: %s section truncated", name,
				(unsigned long long)at, sec_name(kind));
			goto out;
		}
		if (le32_load(crc) != crc32c(crc32c(0, sh, sizeof(sh)), buf, len)) {
			hv_errf(err, err_len, "snapshot %s: at byte %llu: %s section checksum mismatch", name,
				(unsigned long long)at, sec_name(kind));
			goto out;
		}
		info->sections++;
		if (kind != SEC_CONFIG && !have_config) {
			hv_errf(err, err_len, "snapshot %s: at byte %llu: %s section before the config", name,
				(unsigned long long)at, sec_name(kind));
			goto out;
		}
		sub[0] = '\0';
		if (kind == SEC_CONFIG) {
			if (have_config || len != CONFIG_BYTES) {
				hv_errf(err, err_len, "snapshot %s: at byte %llu: a second or short config", name,
					(unsigned long long)at);
				goto out;
			}
			cfg.mem_bytes = le64_load(buf);
			cfg.smp = le32_load(buf + 8);
			cfg.devices = le32_load(buf + 12);
			cfg.disk_bytes = le64_load(buf + 16);
			memcpy(cfg.disk_sha256, buf + 24, 32);
			cfg.steps = le64_load(buf + 56);
			if (cfg.mem_bytes < (16ULL << 20) || cfg.mem_bytes > max_mem ||
			    cfg.mem_bytes % GUEST_PAGE_SIZE || cfg.smp < 1 || cfg.smp > HV_MAX_HARTS ||
			    (cfg.devices & ~(CONFIG_DISK | CONFIG_NET | CONFIG_DISK_OVERLAY)) ||
			    ((cfg.devices & CONFIG_DISK_OVERLAY) && !(cfg.devices & CONFIG_DISK))) {
				hv_errf(err, err_len, "snapshot %s: config out of range (%llu bytes of RAM, %u harts, devices %#x)",
					name, (unsigned long long)cfg.mem_bytes, cfg.smp, cfg.devices);
				goto out;
			}
			have_config = true;
			info->mem_bytes = cfg.mem_bytes;
			info->smp = (int)cfg.smp;
			info->has_disk = cfg.devices & CONFIG_DISK;
			info->has_net = cfg.devices & CONFIG_NET;
			info->disk_overlay = cfg.devices & CONFIG_DISK_OVERLAY;
			info->disk_bytes = cfg.disk_bytes;
			memcpy(info->disk_sha256, cfg.disk_sha256, 32);
			info->steps = cfg.steps;
			/* The parts such a machine has, in machine_parts() order. */
			want[nwant++] = (struct machine_part_ref){ MPART_CORE, 0 };
			for (uint32_t h = 0; h < cfg.smp; h++)
				want[nwant++] = (struct machine_part_ref){ MPART_HART, (int)h };
			want[nwant++] = (struct machine_part_ref){ MPART_CLINT, 0 };
			want[nwant++] = (struct machine_part_ref){ MPART_PLIC, 0 };
			want[nwant++] = (struct machine_part_ref){ MPART_UART, 0 };
			if (info->has_disk)
				want[nwant++] = (struct machine_part_ref){ MPART_VIRTIO_BLK, 0 };
			if (info->has_net)
				want[nwant++] = (struct machine_part_ref){ MPART_VIRTIO_NET, 0 };
			seen = calloc((cfg.mem_bytes >> GUEST_PAGE_SHIFT) / 8 + 1, 1);
			if (info->disk_overlay && cfg.disk_bytes > OVERLAY_DISK_MAX) {
				hv_errf(err, err_len, "snapshot %s: an overlay disk of %llu bytes (at most %llu)", name,
					(unsigned long long)cfg.disk_bytes, (unsigned long long)OVERLAY_DISK_MAX);
				goto out;
			}
			if (info->disk_overlay)
				seen_blk = calloc(cfg.disk_bytes / VIRTIO_BLK_OVERLAY_BLOCK / 8 + 1, 1);
			if (!seen || (info->disk_overlay && !seen_blk)) {
				hv_errf(err, err_len, "snapshot %s: out of memory", name);
				rc = -ENOMEM;
				goto out;
			}
			if (v && v->config && (rc = v->config(v->opaque, &cfg, sub, sizeof(sub))))
				goto visit_failed;
			rc = -EINVAL;
		} else if (kind == SEC_RAM) {
			uint64_t npages = cfg.mem_bytes >> GUEST_PAGE_SHIFT;
			if (len < 8 + GUEST_PAGE_SIZE || (len - 8) % GUEST_PAGE_SIZE) {
				hv_errf(err, err_len, "snapshot %s: at byte %llu: ram section of %llu bytes is not whole pages",
					name, (unsigned long long)at, (unsigned long long)len);
				goto out;
			}
			uint64_t first = le64_load(buf), n = (len - 8) >> GUEST_PAGE_SHIFT;
			if (first >= npages || n > npages - first) {
				hv_errf(err, err_len, "snapshot %s: at byte %llu: ram pages %llu+%llu outside %llu pages of RAM",
					name, (unsigned long long)at, (unsigned long long)first,
					(unsigned long long)n, (unsigned long long)npages);
				goto out;
			}
			for (uint64_t p = first; p < first + n; p++) {
				if (seen[p / 8] & (1u << (p % 8))) {
					hv_errf(err, err_len, "snapshot %s: at byte %llu: ram page %llu stored twice",
						name, (unsigned long long)at, (unsigned long long)p);
					goto out;
				}
				seen[p / 8] |= (uint8_t)(1u << (p % 8));
			}
			info->ram_pages += n;
			if (v && v->ram && (rc = v->ram(v->opaque, first, buf + 8, n, sub, sizeof(sub))))
				goto visit_failed;
			rc = -EINVAL;
		} else if (kind == SEC_DIRTY) {
			uint64_t words = DIRTY_WORDS(cfg.mem_bytes), npages = cfg.mem_bytes >> GUEST_PAGE_SHIFT;
			if (have_dirty || len != 8 + 8 * words || le64_load(buf) != words) {
				hv_errf(err, err_len, "snapshot %s: at byte %llu: %s dirty section (%llu bytes, "
					"%llu wanted)", name, (unsigned long long)at, have_dirty ? "a second" : "a wrong-sized",
					(unsigned long long)len, (unsigned long long)(8 + 8 * words));
				goto out;
			}
			/* The last word's bits past the last page must be clear. */
			uint64_t last = le64_load(buf + 8 + 8 * (words - 1));
			unsigned used = (unsigned)(npages - (words - 1) * 64);
			if (used < 64 && last >> used) {
				hv_errf(err, err_len, "snapshot %s: at byte %llu: dirty bits beyond the last page",
					name, (unsigned long long)at);
				goto out;
			}
			have_dirty = true;
			info->has_dirty = true;
			if (v && v->dirty && (rc = v->dirty(v->opaque, buf + 8, words, sub, sizeof(sub))))
				goto visit_failed;
			rc = -EINVAL;
		} else if (kind == SEC_DISK_OVERLAY) {
			uint64_t nblocks = (cfg.disk_bytes + VIRTIO_BLK_OVERLAY_BLOCK - 1) / VIRTIO_BLK_OVERLAY_BLOCK;
			uint64_t first = len >= 8 ? le64_load(buf) : 0, bytes = len >= 8 ? len - 8 : 0;
			uint64_t off = first * VIRTIO_BLK_OVERLAY_BLOCK;
			if (!info->disk_overlay || !bytes || first >= nblocks || bytes > cfg.disk_bytes - off ||
			    (bytes % VIRTIO_BLK_OVERLAY_BLOCK && off + bytes != cfg.disk_bytes)) {
				hv_errf(err, err_len, "snapshot %s: at byte %llu: disk overlay of %llu bytes at block %llu "
					"outside a %llu-byte %sdisk", name, (unsigned long long)at,
					(unsigned long long)bytes, (unsigned long long)first,
					(unsigned long long)cfg.disk_bytes, info->disk_overlay ? "" : "non-overlay ");
				goto out;
			}
			uint64_t last = (off + bytes - 1) / VIRTIO_BLK_OVERLAY_BLOCK;
			for (uint64_t b = first; b <= last; b++) {
				if (seen_blk[b / 8] & (1u << (b % 8))) {
					hv_errf(err, err_len, "snapshot %s: at byte %llu: disk block %llu stored twice",
						name, (unsigned long long)at, (unsigned long long)b);
					goto out;
				}
				seen_blk[b / 8] |= (uint8_t)(1u << (b % 8));
			}
			info->overlay_blocks += last - first + 1;
			if (v && v->overlay && (rc = v->overlay(v->opaque, first, buf + 8, bytes, sub, sizeof(sub))))
				goto visit_failed;
			rc = -EINVAL;
		} else if (kind == SEC_LOGPOS) {
			if (info->has_logpos || len != LOGPOS_BYTES || (info->minor < 2 && le32_load(buf + 60))) {
				hv_errf(err, err_len, "snapshot %s: at byte %llu: %s log position section", name,
					(unsigned long long)at, info->has_logpos ? "a second" : "a malformed");
				goto out;
			}
			info->has_logpos = true;
			info->logpos.valid = true;
			memcpy(info->logpos.header_sha256, buf, 32);
			info->logpos.events = le64_load(buf + 32);
			info->logpos.chunk_seq = le64_load(buf + 40);
			info->logpos.last_event_step = le64_load(buf + 48);
			info->logpos.last_event_kind = le32_load(buf + 56);
			info->logpos.chunk_events = le32_load(buf + 60);
			if (info->logpos.last_event_step > cfg.steps ||
			    (info->logpos.events == 0) != (info->logpos.last_event_kind == 0) ||
			    info->logpos.chunk_events > info->logpos.events ||
			    (info->logpos.events && info->minor >= 2 && !info->logpos.chunk_events)) {
				hv_errf(err, err_len, "snapshot %s: at byte %llu: log position out of range "
					"(%llu events, %u of them in the last one's chunk, the last at step %llu; "
					"the machine at %llu)", name, (unsigned long long)at,
					(unsigned long long)info->logpos.events, info->logpos.chunk_events,
					(unsigned long long)info->logpos.last_event_step,
					(unsigned long long)cfg.steps);
				goto out;
			}
		} else if (kind == SEC_END) {
			if (!src_at_end(s)) {
				hv_errf(err, err_len, "snapshot %s: bytes after the end section", name);
				goto out;
			}
			for (int i = 0; i < nwant; i++)
				if (!parts_seen[i]) {
					hv_errf(err, err_len, "snapshot %s: no %s %d section", name,
						machine_part_name(want[i].part), want[i].index);
					goto out;
				}
			info->file_bytes = s->off;
			rc = 0;
			goto out;
		} else {
			enum machine_part p = (enum machine_part)(kind - SEC_PART);
			int i;
			for (i = 0; i < nwant; i++)
				if (want[i].part == p && (uint32_t)want[i].index == index)
					break;
			if (i == nwant || parts_seen[i]) {
				hv_errf(err, err_len, "snapshot %s: at byte %llu: %s %u section %s", name,
					(unsigned long long)at, sec_name(kind), index,
					i == nwant ? "does not belong to this machine" : "appears twice");
				goto out;
			}
			parts_seen[i] = true;
			/* The config's step is what peek and the log position go by: the machine must resume there. */
			if (p == MPART_CORE && (len < 8 || le64_load(buf) != cfg.steps)) {
				hv_errf(err, err_len, "snapshot %s: at byte %llu: the core section is at step %llu, the "
					"config at %llu", name, (unsigned long long)at,
					(unsigned long long)(len < 8 ? 0 : le64_load(buf)), (unsigned long long)cfg.steps);
				goto out;
			}
			if (v && v->part && (rc = v->part(v->opaque, p, index, buf, len, sub, sizeof(sub))))
				goto visit_failed;
			rc = -EINVAL;
		}
		continue;
visit_failed:
		hv_errf(err, err_len, "snapshot %s: at byte %llu: %s section: %s", name,
			(unsigned long long)at, sec_name(kind), sub);
		goto out;
	}
out:
	free(buf);
	free(seen);
	free(seen_blk);
	return rc;
}

/* ---- building a machine from a decode ---- */

struct snap_load {
	const struct hv_config *cfg;
	const struct hv_host_ops *host;
	void *host_opaque;
	struct hv_machine *m;
};

static int load_config(void *opaque, const struct snap_config *c, char *err, size_t err_len)
{
	struct snap_load *l = opaque;
	struct hv_config cfg = *l->cfg;
	bool has_disk = c->devices & CONFIG_DISK, has_net = c->devices & CONFIG_NET;

	if (has_disk != (cfg.disk != NULL)) {
		hv_errf(err, err_len, has_disk ? "the snapshot has a disk (%llu bytes): give it with --disk" :
			"the snapshot has no disk: do not give one", (unsigned long long)c->disk_bytes);
		return -EINVAL;
	}
	if (has_net != (cfg.net != NULL)) {
		hv_errf(err, err_len, has_net ? "the snapshot has a network device: give --net" :
			"the snapshot has no network device: give no --net");
		return -EINVAL;
	}
	if (has_disk) {
		uint8_t sha[32];
		uint64_t bytes;
		char file[DISK_SPEC_MAX];
		bool overlay = false;
		if (disk_file(cfg.disk, file, sizeof(file), &overlay) == 0 && (c->devices & CONFIG_DISK_OVERLAY) &&
		    !overlay) {
			hv_errf(err, err_len, "the snapshot's disk is an overlay over its image: give --disk %s,snapshot",
				file);
			return -EINVAL;
		}
		int rc = disk_sha256(cfg.disk, &bytes, sha, err, err_len);
		if (rc)
			return rc;
		if (bytes != c->disk_bytes || memcmp(sha, c->disk_sha256, 32)) {
			hv_errf(err, err_len, "disk %s differs from the one saved (%llu bytes, SHA-256 mismatch): "
				"give the image as it was at the save", cfg.disk,
				(unsigned long long)c->disk_bytes);
			return -EINVAL;
		}
	}
	cfg.mem_bytes = c->mem_bytes;
	cfg.smp = (int)c->smp;
	return machine_create_bare(&cfg, l->host, l->host_opaque, &l->m, err, err_len);
}

static int load_part(void *opaque, enum machine_part p, uint32_t index, const uint8_t *buf,
		     size_t len, char *err, size_t err_len)
{
	struct snap_load *l = opaque;
	struct le_reader r = le_reader_init(buf, len);
	int rc = machine_part_load(l->m, (struct machine_part_ref){ p, (int)index }, &r);

	if (rc)
		hv_errf(err, err_len, "%s %u: %zu bytes that do not make a valid state",
			machine_part_name(p), index, len);
	return rc;
}

static int load_ram(void *opaque, uint64_t first, const uint8_t *pages, uint64_t n, char *err,
		    size_t err_len)
{
	struct snap_load *l = opaque;

	memcpy(l->m->ram.host + (first << GUEST_PAGE_SHIFT), pages, n << GUEST_PAGE_SHIFT);
	return 0;
}

/* Dirty bits go on top of hv_track_dirty's, so the next incremental digest is the one the saved machine would have made. */
static int load_dirty(void *opaque, const uint8_t *words, size_t n, char *err, size_t err_len)
{
	struct snap_load *l = opaque;

	if (hv_track_dirty(l->m)) {
		hv_errf(err, err_len, "out of memory");
		return -ENOMEM;
	}
	for (size_t i = 0; i < n && i < l->m->ram.dirty_words; i++)
		l->m->ram.dirty[i] = le64_load(words + 8 * i);
	return 0;
}

static int load_overlay(void *opaque, uint64_t first, const uint8_t *data, size_t len, char *err,
			size_t err_len)
{
	struct snap_load *l = opaque;
	int rc = l->m->blk ? virtio_blk_overlay_load(l->m->blk, first, data, len) : -EINVAL;

	if (rc)
		hv_errf(err, err_len, "the disk given has no overlay for block %llu", (unsigned long long)first);
	return rc;
}

static int load(struct snap_src *s, const char *name, const struct hv_config *cfg, uint64_t max_mem,
		const struct hv_host_ops *host, void *host_opaque, struct hv_machine **out,
		struct hv_snapshot_logpos *pos, char *err, size_t err_len)
{
	struct snap_load l = { .cfg = cfg, .host = host, .host_opaque = host_opaque };
	struct snap_visit v = { load_config, load_part, load_ram, load_dirty, load_overlay, &l };
	struct hv_snapshot_info info;
	int rc = decode(s, name, max_mem, &v, &info, err, err_len);

	*out = NULL;
	if (rc) {
		hv_machine_destroy(l.m);
		return rc;
	}
	if (pos)
		*pos = info.logpos;
	*out = l.m;
	return 0;
}

int hv_machine_create_from_snapshot(const char *path, const struct hv_config *cfg,
				    const struct hv_host_ops *host, void *host_opaque,
				    struct hv_machine **out, struct hv_snapshot_logpos *pos,
				    char *err, size_t err_len)
{
	struct snap_src s = { .f = fopen(path, "rb") };
	int rc;

	*out = NULL;
	if (!s.f) {
		hv_errf(err, err_len, "snapshot %s: %s", path, strerror(errno));
		return -errno;
	}
	rc = load(&s, path, cfg, 64ULL << 30, host, host_opaque, out, pos, err, err_len);
	fclose(s.f);
	return rc;
}

int hv_snapshot_load_buffer(const void *buf, size_t len, const struct hv_config *cfg,
			    uint64_t max_mem_bytes, const struct hv_host_ops *host,
			    void *host_opaque, struct hv_machine **out, char *err, size_t err_len)
{
	struct snap_src s = { .mem = buf, .len = len };

	return load(&s, "(buffer)", cfg, max_mem_bytes, host, host_opaque, out, NULL, err, err_len);
}

int hv_snapshot_info(const char *path, struct hv_snapshot_info *info, char *err, size_t err_len)
{
	struct snap_src s = { .f = fopen(path, "rb") };
	int rc;

	if (!s.f) {
		hv_errf(err, err_len, "snapshot %s: %s", path, strerror(errno));
		return -errno;
	}
	rc = decode(&s, path, 64ULL << 30, NULL, info, err, err_len);
	fclose(s.f);
	return rc;
}

/*
 * Reads the header, then section headers up to the log position, which the
 * writer puts before RAM: the payloads of the sections in between are passed
 * over unread, so the cost does not grow with the guest's memory.
 */
int hv_snapshot_peek(const char *path, uint64_t *steps, struct hv_snapshot_logpos *pos, char *err,
		     size_t err_len)
{
	FILE *f = fopen(path, "rb");
	uint8_t hdr[SNAP_HEADER_BYTES], sh[SEC_HEADER_BYTES], body[LOGPOS_BYTES > CONFIG_BYTES ? LOGPOS_BYTES : CONFIG_BYTES], crc[4];
	bool have_config = false;
	int rc = -EINVAL;

	memset(pos, 0, sizeof(*pos));
	*steps = 0;
	if (!f) {
		hv_errf(err, err_len, "snapshot %s: %s", path, strerror(errno));
		return -errno;
	}
	if (fread(hdr, sizeof(hdr), 1, f) != 1 || memcmp(hdr, SNAP_MAGIC, 8) ||
	    le32_load(hdr + 28) != crc32c(0, hdr, 28) || le16_load(hdr + 8) != HV_SNAPSHOT_MAJOR ||
	    le16_load(hdr + 10) > HV_SNAPSHOT_MINOR) {
		hv_errf(err, err_len, "snapshot %s: not a snapshot this ftvm reads (header)", path);
		goto out;
	}
	for (;;) {
		long at = ftell(f);
		if (fread(sh, sizeof(sh), 1, f) != 1) {
			hv_errf(err, err_len, "snapshot %s: truncated at byte %ld", path, at);
			goto out;
		}
		uint32_t kind = le32_load(sh);
		uint64_t len = le64_load(sh + 8), max = sec_max_bytes(kind);
		if (max == UINT64_MAX || len > max || (!have_config && kind != SEC_CONFIG)) {
			hv_errf(err, err_len, "snapshot %s: at byte %ld: unexpected %s section", path, at, sec_name(kind));
			goto out;
		}
		if (kind == SEC_RAM || kind == SEC_DISK_OVERLAY || kind == SEC_END) {
			rc = 0;	/* past where the writer puts the log position: there is none */
			goto out;
		}
		if (kind != SEC_CONFIG && kind != SEC_LOGPOS) {
			if (fseek(f, (long)len + 4, SEEK_CUR)) {
				hv_errf(err, err_len, "snapshot %s: at byte %ld: %s", path, at, strerror(errno));
				goto out;
			}
			continue;
		}
		if (len != (kind == SEC_CONFIG ? CONFIG_BYTES : LOGPOS_BYTES) || fread(body, len, 1, f) != 1 ||
		    fread(crc, 4, 1, f) != 1 || le32_load(crc) != crc32c(crc32c(0, sh, sizeof(sh)), body, len)) {
			hv_errf(err, err_len, "snapshot %s: at byte %ld: bad %s section", path, at, sec_name(kind));
			goto out;
		}
		if (kind == SEC_CONFIG) {
			*steps = le64_load(body + 56);
			have_config = true;
			continue;
		}
		pos->valid = true;
		memcpy(pos->header_sha256, body, 32);
		pos->events = le64_load(body + 32);
		pos->chunk_seq = le64_load(body + 40);
		pos->last_event_step = le64_load(body + 48);
		pos->last_event_kind = le32_load(body + 56);
		pos->chunk_events = le32_load(body + 60);
		rc = 0;
		goto out;
	}
out:
	fclose(f);
	return rc;
}
