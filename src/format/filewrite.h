/*
 * filewrite.h - write a trace file from events that are already decoded: the events of one
 * process, with times in ns since the epoch, into a valid .hx file that every reader and tool
 * accepts.
 *
 * Used where events come from somewhere else than the library's own hot path: `hx` fetching a
 * trace from the service (http:// inputs), importers of foreign formats. The file says clock kind
 * CLOCK_MONOTONIC with all anchors at 0 and 10^9 ticks per second, so that ticks *are* ns since
 * the epoch and the reader's conversion is the identity (times were converted, and clocks aligned,
 * by whoever produced the events). Chunks are encoded with src/format/encode.h and sealed with
 * their CRC like the library's; the file is written with ordinary write(2) and flagged clean.
 *
 * Thread safety: one writer per thread. Errors: HX_OK or a negative hx_result; HX_EINVAL for an
 * event that cannot fit in a chunk (a value larger than a chunk) or that the format cannot hold.
 */
#ifndef HX_FILEWRITE_H
#define HX_FILEWRITE_H

#include <haruspex.h>
#include <stddef.h>
#include <stdint.h>

typedef struct hx__file_writer hx__file_writer;

/* Create `path` (it must not exist) for process `instance` / pid, with resource pairs (key, value,
 * key, value ...: host, service, program ...). */
int hx__file_writer_open(hx__file_writer **out, const char *path, const uint8_t instance[16], uint64_t pid,
                         const char *const *resource_kv, size_t npairs);
/* Append one event (time_ns = ns since the epoch). Events of one entity must come in seq order. */
int hx__file_writer_add(hx__file_writer *w, const hx_event *ev);
/* Write the last chunk, set the clean flag, close. Frees w even on error. */
int hx__file_writer_close(hx__file_writer *w);

#endif /* HX_FILEWRITE_H */
