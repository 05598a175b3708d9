/* SPDX-License-Identifier: MIT */
/* virtio-blk over a raw image file; each request completes before its QueueNotify write retires. */

/*
 * Device configuration (virtio 1.1 section 5.2.4), at 0x100 in the mmio slot:
 *   0x00 capacity   le64  512-byte sectors (file size / 512)
 *   0x08 size_max   le32  (not offered)
 *   0x0c seg_max    le32  VIRTIO_BLK_F_SEG_MAX
 *   0x10 geometry   4 bytes (not offered)
 *   0x14 blk_size   le32  VIRTIO_BLK_F_BLK_SIZE, 512
 *   0x18 topology   8 bytes (not offered)
 *   0x20 writeback  u8    (not offered)
 * One request queue (5.2.2). A request (5.2.6) is a 16-byte readable header
 * {le32 type, le32 reserved, le64 sector}, data, and a final writable status byte.
 * Features: SEG_MAX, BLK_SIZE, FLUSH, and RO for a disk given as "FILE,ro".
 * "FILE,snapshot" maps the image MAP_PRIVATE: the guest's writes land in
 * copy-on-write pages of this process and the file stays as it was.
 */
#include "hv/dev/virtio.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define VIRTIO_ID_BLOCK		2
#define VIRTIO_BLK_F_SEG_MAX	2
#define VIRTIO_BLK_F_RO		5
#define VIRTIO_BLK_F_BLK_SIZE	6
#define VIRTIO_BLK_F_FLUSH	9

#define VIRTIO_BLK_T_IN		0
#define VIRTIO_BLK_T_OUT	1
#define VIRTIO_BLK_T_FLUSH	4
#define VIRTIO_BLK_T_GET_ID	8

#define VIRTIO_BLK_S_OK		0
#define VIRTIO_BLK_S_IOERR	1
#define VIRTIO_BLK_S_UNSUPP	2

#define BLK_SECTOR_BYTES	512
#define BLK_HDR_BYTES		16
#define BLK_ID_BYTES		20
/* Header and status take two of the segments a request may have. */
#define BLK_SEG_MAX		(VIRTQ_MAX_SEGS - 2)

struct virtio_blk {
	int fd;
	bool read_only;
	uint8_t *map;		/* snapshot: the private copy-on-write mapping of the image */
	size_t map_bytes;
	uint64_t *written;	/* snapshot: one bit per overlay block the guest wrote */
	uint64_t capacity_sectors;
	uint64_t reads, writes, flushes, io_errors, unsupported;
	uint64_t host_errors;	/* reads, writes or flushes the host file refused */
	int first_host_errno;
};

struct blk_io {
	int fd;
	uint8_t *map;
	uint64_t *written;
	uint64_t pos;
	bool write;
	int err;	/* errno of a failed pread/pwrite */
};

static int blk_io_piece(void *opaque, uint8_t *p, size_t n)
{
	struct blk_io *io = opaque;

	if (io->map) {	/* bounds checked against capacity_sectors by blk_rw */
		if (io->write) {
			memcpy(io->map + io->pos, p, n);
			for (uint64_t blk = io->pos / VIRTIO_BLK_OVERLAY_BLOCK;
			     n && blk <= (io->pos + n - 1) / VIRTIO_BLK_OVERLAY_BLOCK; blk++)
				io->written[blk / 64] |= 1ULL << (blk % 64);
		} else
			memcpy(p, io->map + io->pos, n);
		io->pos += n;
		return 0;
	}
	while (n) {
		ssize_t r = io->write ? pwrite(io->fd, p, n, (off_t)io->pos)
				      : pread(io->fd, p, n, (off_t)io->pos);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			io->err = r < 0 ? errno : EIO;
			return -EIO;
		}
		p += r;
		n -= (size_t)r;
		io->pos += (uint64_t)r;
	}
	return 0;
}

/* The host refused an I/O the guest asked for: the guest sees IOERR, the host is told at the end. */
static uint8_t blk_host_error(struct virtio_blk *b, int err)
{
	if (!b->host_errors++)
		b->first_host_errno = err ? err : EIO;
	return VIRTIO_BLK_S_IOERR;
}

static uint8_t blk_rw(struct virtio_blk *b, const struct virtq_req *req, bool write,
		      uint64_t sector, uint64_t data_bytes)
{
	struct blk_io io = { .fd = b->fd, .map = b->map, .written = b->written,
			     .pos = sector * BLK_SECTOR_BYTES, .write = write };
	uint64_t nsect = data_bytes / BLK_SECTOR_BYTES;

	if (data_bytes % BLK_SECTOR_BYTES || sector > b->capacity_sectors ||
	    nsect > b->capacity_sectors - sector)
		return VIRTIO_BLK_S_IOERR;
	if (write && b->read_only)
		return VIRTIO_BLK_S_IOERR;
	if (write) {
		b->writes++;
		if (virtq_req_for_each(req, false, BLK_HDR_BYTES, data_bytes, blk_io_piece, &io) < 0)
			return io.err ? blk_host_error(b, io.err) : VIRTIO_BLK_S_IOERR;
	} else {
		b->reads++;
		if (virtq_req_for_each(req, true, 0, data_bytes, blk_io_piece, &io) < 0)
			return io.err ? blk_host_error(b, io.err) : VIRTIO_BLK_S_IOERR;
	}
	return VIRTIO_BLK_S_OK;
}

/* Returns the bytes written into the request, or -EINVAL for a malformed request. */
static int64_t blk_request(struct virtio_blk *b, const struct virtq_req *req)
{
	uint8_t hdr[BLK_HDR_BYTES], status;
	uint64_t sector, in_bytes, written = 0;
	uint32_t type;

	if (req->read_bytes < BLK_HDR_BYTES || req->write_bytes < 1)
		return -EINVAL;
	virtq_req_copy_from(req, 0, hdr, sizeof(hdr));
	type = le32_load(hdr);
	sector = le64_load(hdr + 8);
	in_bytes = req->write_bytes - 1;

	switch (type) {
	case VIRTIO_BLK_T_IN:
		status = blk_rw(b, req, false, sector, in_bytes);
		if (status == VIRTIO_BLK_S_OK)
			written = in_bytes;
		break;
	case VIRTIO_BLK_T_OUT:
		status = blk_rw(b, req, true, sector, req->read_bytes - BLK_HDR_BYTES);
		break;
	case VIRTIO_BLK_T_FLUSH:
		b->flushes++;
		status = b->map || b->read_only || fdatasync(b->fd) == 0 ? VIRTIO_BLK_S_OK : blk_host_error(b, errno);
		break;
	case VIRTIO_BLK_T_GET_ID: {
		static const char id[BLK_ID_BYTES] = "ftvm-virtio-blk";
		written = in_bytes < BLK_ID_BYTES ? in_bytes : BLK_ID_BYTES;
		virtq_req_copy_to(req, 0, id, written);
		status = VIRTIO_BLK_S_OK;
		break;
	}
	default:
		b->unsupported++;
		status = VIRTIO_BLK_S_UNSUPP;
		break;
	}
	if (status == VIRTIO_BLK_S_IOERR)
		b->io_errors++;
	virtq_req_copy_to(req, in_bytes, &status, 1);
	return (int64_t)written + 1;
}

static int blk_notify(struct virtio_mmio *v, int qi)
{
	struct virtio_blk *b = v->dev;
	struct virtq_req req;
	int ret = 0;

	/* At most one queue's worth: a request may overwrite the ring it came from. */
	for (uint32_t n = 0; n < v->q[qi].num; n++) {
		int64_t len;
		int r = virtq_pop(v, qi, &req);

		if (r <= 0) {
			ret = r;
			break;
		}
		len = blk_request(b, &req);
		if (len < 0) {
			ret = (int)len;
			break;
		}
		if (virtq_push(v, qi, req.head, (uint32_t)len) < 0) {
			ret = -EINVAL;
			break;
		}
	}
	virtq_interrupt(v, qi);
	return ret;
}

static void blk_destroy(struct virtio_mmio *v)
{
	struct virtio_blk *b = v->dev;

	if (b->map)
		munmap(b->map, b->map_bytes);
	if (b->fd >= 0)
		close(b->fd);
	free(b->written);
	free(b);
}

static const struct virtio_device_ops blk_ops = {
	.device_id = VIRTIO_ID_BLOCK,
	.num_queues = 1,
	.notify = blk_notify,
	.destroy = blk_destroy,
};

uint64_t virtio_blk_overlay_bytes(const struct virtio_mmio *v)
{
	const struct virtio_blk *b = v->dev;

	return b->map ? b->map_bytes : 0;
}

const uint8_t *virtio_blk_overlay_block(const struct virtio_mmio *v, uint64_t block, size_t *len)
{
	const struct virtio_blk *b = v->dev;
	uint64_t off = block * VIRTIO_BLK_OVERLAY_BLOCK;

	if (!b->map || off >= b->map_bytes || !(b->written[block / 64] & (1ULL << (block % 64))))
		return NULL;
	*len = b->map_bytes - off < VIRTIO_BLK_OVERLAY_BLOCK ? b->map_bytes - off : VIRTIO_BLK_OVERLAY_BLOCK;
	return b->map + off;
}

int virtio_blk_overlay_load(struct virtio_mmio *v, uint64_t first, const uint8_t *data, size_t len)
{
	struct virtio_blk *b = v->dev;
	uint64_t off = first * VIRTIO_BLK_OVERLAY_BLOCK;

	if (!b->map || off >= b->map_bytes || len > b->map_bytes - off ||
	    (len % VIRTIO_BLK_OVERLAY_BLOCK && off + len != b->map_bytes) || !len)
		return -EINVAL;
	memcpy(b->map + off, data, len);
	for (uint64_t blk = first; blk <= (off + len - 1) / VIRTIO_BLK_OVERLAY_BLOCK; blk++)
		b->written[blk / 64] |= 1ULL << (blk % 64);
	return 0;
}

uint64_t virtio_blk_host_errors(const struct virtio_mmio *v, int *first_errno)
{
	const struct virtio_blk *b = v->dev;

	*first_errno = b->first_host_errno;
	return b->host_errors;
}

int virtio_blk_parse_spec(const char *spec, char *path, size_t path_len, bool *snapshot, bool *read_only,
			  char *err, size_t err_len)
{
	bool snap = false, ro = false;
	char *comma;

	if (snprintf(path, path_len, "%s", spec) >= (int)path_len) {
		snprintf(err, err_len, "disk %s: path too long", spec);
		return -ENAMETOOLONG;
	}
	while ((comma = strrchr(path, ','))) {
		if (!strcmp(comma + 1, "snapshot"))
			snap = true;
		else if (!strcmp(comma + 1, "ro"))
			ro = true;
		else
			break;
		*comma = '\0';
	}
	if (snap && ro) {
		snprintf(err, err_len, "disk %s: ',snapshot' or ',ro', not both", spec);
		return -EINVAL;
	}
	if (!*path) {
		snprintf(err, err_len, "disk %s: no file name", spec);
		return -EINVAL;
	}
	if (snapshot)
		*snapshot = snap;
	if (read_only)
		*read_only = ro;
	return 0;
}

struct virtio_mmio *virtio_blk_create(const struct guest_ram *ram, const struct irq_line *irq,
				      const char *spec, char *err, size_t err_len)
{
	struct virtio_blk *b = calloc(1, sizeof(*b));
	char path[4096];
	bool snapshot;
	struct virtio_mmio *v = NULL;
	uint64_t features;
	struct stat st;
	off_t size;

	if (!b) {
		snprintf(err, err_len, "virtio-blk: out of memory");
		return NULL;
	}
	b->fd = -1;
	if (virtio_blk_parse_spec(spec, path, sizeof(path), &snapshot, &b->read_only, err, err_len))
		goto fail;
	if (snapshot || b->read_only) {
		b->fd = open(path, O_RDONLY | O_CLOEXEC);
	} else {
		/* A file without write permission bits is read-only even for root. */
		struct stat pst;
		if (stat(path, &pst) == 0 && S_ISREG(pst.st_mode) && !(pst.st_mode & 0222))
			errno = EACCES;
		else
			b->fd = open(path, O_RDWR | O_CLOEXEC);
		if (b->fd < 0 && (errno == EACCES || errno == EROFS || errno == EPERM)) {
			/* The guest would see its writes fail while the host said nothing: refuse instead. */
			snprintf(err, err_len, "disk %s: not writable here (%s): add ',snapshot' for a "
				 "writable overlay that leaves the file unchanged, or ',ro' for a read-only disk",
				 path, strerror(errno));
			goto fail;
		}
	}
	if (b->fd < 0) {
		snprintf(err, err_len, "disk %s: %s", path, strerror(errno));
		goto fail;
	}
	if (fstat(b->fd, &st) == 0 && S_ISDIR(st.st_mode)) {
		snprintf(err, err_len, "disk %s: %s", path, strerror(EISDIR));
		goto fail;
	}
	size = lseek(b->fd, 0, SEEK_END);
	if (size < 0) {
		snprintf(err, err_len, "disk %s: %s", path, strerror(errno));
		goto fail;
	}
	if (size < BLK_SECTOR_BYTES) {
		snprintf(err, err_len, "disk %s: %lld bytes; a raw image needs at least one %d-byte sector",
			 path, (long long)size, BLK_SECTOR_BYTES);
		goto fail;
	}
	b->capacity_sectors = (uint64_t)size / BLK_SECTOR_BYTES;
	if (snapshot) {
		b->map_bytes = (size_t)size;
		b->map = mmap(NULL, b->map_bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE, b->fd, 0);
		if (b->map == MAP_FAILED) {
			b->map = NULL;
			snprintf(err, err_len, "disk %s: cannot map a snapshot overlay: %s", path, strerror(errno));
			goto fail;
		}
		b->written = calloc(b->map_bytes / VIRTIO_BLK_OVERLAY_BLOCK / 64 + 1, sizeof(uint64_t));
		if (!b->written) {
			snprintf(err, err_len, "virtio-blk: out of memory");
			goto fail;
		}
	}

	features = (1ULL << VIRTIO_BLK_F_SEG_MAX) | (1ULL << VIRTIO_BLK_F_BLK_SIZE) |
		   (1ULL << VIRTIO_BLK_F_FLUSH);
	if (b->read_only)
		features |= 1ULL << VIRTIO_BLK_F_RO;
	v = virtio_mmio_create(ram, irq, &blk_ops, b, features);
	if (!v) {
		snprintf(err, err_len, "virtio-blk: out of memory");
		goto fail;
	}
	le64_store(v->config + 0x00, b->capacity_sectors);
	le32_store(v->config + 0x0c, BLK_SEG_MAX);
	le32_store(v->config + 0x14, BLK_SECTOR_BYTES);
	v->config_len = 0x24;
	return v;
fail:
	free(b->written);
	if (b->map)
		munmap(b->map, b->map_bytes);
	if (b->fd >= 0)
		close(b->fd);
	free(b);
	return NULL;
}
