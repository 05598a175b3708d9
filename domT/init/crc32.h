/* SPDX-License-Identifier: MIT */
/* CRC-32 (IEEE 802.3, reflected, poly 0xEDB88320) shared by the domT workloads. */
#ifndef DOMT_CRC32_H
#define DOMT_CRC32_H

#include <stddef.h>
#include <stdint.h>

/* Continue a CRC: start with crc = 0; result equals zlib's crc32(). */
uint32_t domt_crc32(uint32_t crc, const void *buf, size_t len);

#endif
