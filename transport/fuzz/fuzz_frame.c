/* SPDX-License-Identifier: MIT */
/* libFuzzer target: arbitrary stream bytes through the frame decoder and envelope dispatch; the in-place chunk reader against protobuf-c. */
#include "transport/fuzz/fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct xport *x = fuzz_channel();
	struct xport_buf hello = { 0 };
	size_t split;

	if (size == 0)
		goto out;
	fuzz_check_chunk_view(data, size);
	/* Odd first byte: a valid Hello first, so frames reach the session handlers. */
	if (data[0] & 1) {
		fuzz_hello_frame(&hello);
		if (xport_detached_feed(x, hello.data, hello.len))
			abort();
	}
	/* Deliver in two pieces to exercise frames split across reads. */
	split = size > 2 ? data[1] % size : size;
	if (xport_detached_feed(x, data + 1, split > 1 ? split - 1 : 0) == 0)
		(void)xport_detached_feed(x, data + (split > 1 ? split : 1), size - (split > 1 ? split : 1));
out:
	xport_buf_free(&hello);
	xport_free(x);
	return 0;
}
