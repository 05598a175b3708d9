/* SPDX-License-Identifier: MIT */
/* snapshot: save a whole machine to a file and create a machine from one (format: docs/snapshot-format.md). */
#ifndef HV_SNAPSHOT_H
#define HV_SNAPSHOT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hv.h"

/* A reader accepts major equal and minor no newer than its own. */
#define HV_SNAPSHOT_MAJOR 1
#define HV_SNAPSHOT_MINOR 2

/*
 * Where in a replay log a machine stood when it was saved, so that a replay
 * can go on from the snapshot with the rest of the log (hv/rr/rr.h:
 * rr_player_position and rr_player_seek fill and check it). valid is false
 * for a snapshot of a run that followed no log.
 */
struct hv_snapshot_logpos {
	bool valid;
	uint8_t header_sha256[32];	/* of the log's encoded header */
	uint64_t events;		/* events of the log already applied */
	uint64_t chunk_seq;		/* the chunk that held the last of them */
	uint64_t last_event_step;	/* its step and kind (0 and 0 with no event) */
	uint32_t last_event_kind;
	uint32_t chunk_events;		/* how many of them are chunk_seq's (1.2; 0 in a 1.1 snapshot: not known) */
};

/*
 * Write m's complete state (harts, devices, scheduler, clock, the pages
 * written since the last digest, the non-zero RAM pages, the size and SHA-256
 * of its disk image, and pos when not NULL) to path, through a temporary
 * file renamed into place. Call between hv_run calls. A disk given as
 * "FILE,snapshot" saves the image's digest and the blocks the guest wrote
 * over it; loading then needs "FILE,snapshot" with the same image.
 */
int hv_snapshot_save(struct hv_machine *m, const char *path, const struct hv_snapshot_logpos *pos,
		     char *err, size_t err_len) __attribute__((warn_unused_result));

/*
 * A machine in the state a snapshot holds. RAM size and hart count come from
 * the snapshot; cfg supplies the host side: the disk (required, with the
 * same size and SHA-256, exactly when the snapshot has one), the network
 * (required when the snapshot has virtio-net) and the CPU mode. kernel,
 * initrd, bios and append are not used. Every section is checked before the
 * machine is returned; on any error nothing is returned and err says where.
 */
int hv_machine_create_from_snapshot(const char *path, const struct hv_config *cfg,
				    const struct hv_host_ops *host, void *host_opaque,
				    struct hv_machine **out, struct hv_snapshot_logpos *pos,
				    char *err, size_t err_len) __attribute__((warn_unused_result));

/* The same from bytes in memory, refusing a snapshot of more than max_mem_bytes of RAM (fuzzing, tests). */
int hv_snapshot_load_buffer(const void *buf, size_t len, const struct hv_config *cfg,
			    uint64_t max_mem_bytes, const struct hv_host_ops *host,
			    void *host_opaque, struct hv_machine **out, char *err, size_t err_len)
	__attribute__((warn_unused_result));

struct hv_snapshot_info {
	unsigned major, minor;
	uint64_t mem_bytes;
	int smp;
	bool has_disk, has_net;
	uint64_t disk_bytes;
	uint8_t disk_sha256[32];
	uint64_t steps;		/* machine step count at the save */
	uint64_t ram_pages;	/* non-zero pages stored */
	uint64_t sections;
	uint64_t file_bytes;
	bool has_dirty;		/* the pages written since the last digest are kept */
	bool disk_overlay;	/* the disk is an overlay (",snapshot") over the image */
	uint64_t overlay_blocks;	/* 4 KiB blocks the guest wrote over it, stored */
	bool has_logpos;
	struct hv_snapshot_logpos logpos;
};

/* Read and verify every section of a snapshot (checksums, bounds, completeness) without building a machine. */
int hv_snapshot_info(const char *path, struct hv_snapshot_info *info, char *err, size_t err_len)
	__attribute__((warn_unused_result));

/*
 * Cheap: the step count and the log position (pos->valid false without one),
 * from the header and the sections before RAM, each of those two checksummed.
 * Says nothing of the rest of the file: hv_snapshot_info verifies it all.
 */
int hv_snapshot_peek(const char *path, uint64_t *steps, struct hv_snapshot_logpos *pos, char *err,
		     size_t err_len) __attribute__((warn_unused_result));

#endif
