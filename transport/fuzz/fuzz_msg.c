/* SPDX-License-Identifier: MIT */
/* libFuzzer target: one message handler (chosen by -DFUZZ_MSG=hello|chunk|ack|...) fed arbitrary encodings. */
#include "transport/fuzz/fuzz_common.h"

#define BODY_hello FTVM__ENVELOPE__BODY_HELLO
#define BODY_chunk FTVM__ENVELOPE__BODY_CHUNK
#define BODY_ack FTVM__ENVELOPE__BODY_ACK
#define BODY_progress FTVM__ENVELOPE__BODY_PROGRESS
#define BODY_heartbeat FTVM__ENVELOPE__BODY_HEARTBEAT
#define BODY_goodbye FTVM__ENVELOPE__BODY_GOODBYE
#define FUZZ_CAT2(a, b) a##b
#define FUZZ_CAT(a, b) FUZZ_CAT2(a, b)
#define FUZZ_BODY FUZZ_CAT(BODY_, FUZZ_MSG)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct xport *x = fuzz_channel();

	/* Twice: the second time exercises duplicates, repeated Hellos and stale acks. */
	if (xport_detached_message(x, FUZZ_BODY, data, size) == 0)
		(void)xport_detached_message(x, FUZZ_BODY, data, size);
	xport_free(x);
	return 0;
}
