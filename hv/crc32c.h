/* SPDX-License-Identifier: MIT */
/* crc32c: the CRC-32C checksum (Castagnoli) that protects replay-log headers and chunks. */
#ifndef HV_CRC32C_H
#define HV_CRC32C_H

#include <stddef.h>
#include <stdint.h>

/*
 * Extends crc (0 to start) over buf. Chaining is exact:
 * crc32c(crc32c(0, a, n), b, m) == crc32c over a then b.
 * Check value: crc32c(0, "123456789", 9) == 0xE3069283.
 */
uint32_t crc32c(uint32_t crc, const void *buf, size_t len);
/* CRC-32C of a file's first len bytes: 0, or -errno (-EIO: the file is shorter). */
int crc32c_file_prefix(int fd, uint64_t len, uint32_t *out) __attribute__((warn_unused_result));
/* Extends *crc over a file's bytes [off, off + len): 0, or -errno (-EIO: the file is shorter). */
int crc32c_file_range(int fd, uint64_t off, uint64_t len, uint32_t *crc) __attribute__((warn_unused_result));

#endif
