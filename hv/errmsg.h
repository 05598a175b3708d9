/* SPDX-License-Identifier: MIT */
/* errmsg: the one way hv fills a caller's error buffer. */
#ifndef HV_ERRMSG_H
#define HV_ERRMSG_H

#include <stddef.h>

/* printf into err (err may be NULL or err_len 0: then nothing is written). */
__attribute__((format(printf, 3, 4)))
void hv_errf(char *err, size_t err_len, const char *fmt, ...);

#endif
