/* SPDX-License-Identifier: MIT */
/* feed: the log as received, handed to the replaying thread as a stream that blocks for more. */
#ifndef BACKUP_FEED_H
#define BACKUP_FEED_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

struct hv_machine;
struct feed;

/* efd: written to whenever the reader consumed a chunk or blocks (the event loop grants credit then). */
struct feed *feed_new(int efd);
/* A FILE* for rr_reader: reads block until data arrives; end of file once closed and drained. */
FILE *feed_stream(struct feed *f);
/* Reader's thread, before it reads: wait until the stream has a first byte (pushed or held), or is closed. */
void feed_wait_begun(struct feed *f);
/* Event-loop thread: append one received chunk (copied). */
int feed_push(struct feed *f, const void *data, size_t len) __attribute__((warn_unused_result));
/* No more data will come: the reader sees end of file after what is buffered. */
void feed_close(struct feed *f);
/*
 * Before any thread reads: the stream starts with bytes [0, end) of fd (the
 * log this host already held when it started), then what is pushed. fd stays
 * the caller's and must outlive the reader. A trimmed log's hole, between
 * its header's end and data_at (its first chunk), reads as FEED_HOLE_PAD
 * zero bytes, which a reader takes for a hole as well, however long it was.
 */
#define FEED_HOLE_PAD 8u
void feed_set_prefix(struct feed *f, int fd, uint64_t header_end, uint64_t data_at, uint64_t end);
/* How many more bytes of the file the prefix spans than the stream gave for it (its hole's, less the pad). */
int64_t feed_bytes_unread(const struct feed *f);
/* The replaying machine, so consumption can report the step replayed (set from the reader's thread). */
void feed_set_machine(struct feed *f, struct hv_machine *m);
/* What the reader has finished (chunks, bytes) and the step it had replayed to when it asked for more. */
void feed_consumed(struct feed *f, uint64_t *chunks, uint64_t *bytes, uint64_t *replayed_steps);
size_t feed_buffered(struct feed *f);
void feed_free(struct feed *f);

#endif
