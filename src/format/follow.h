/*
 * follow.h - an incremental follower of a directory of trace files: what `hx ship` and the
 * library's tcp:// sink ship.
 *
 * Each hx__follow_poll() looks at the directory again and hands over only what is new: files that
 * appeared (a program started, a file rotated), and events committed since the last poll in chunks
 * that are still being written, or that a crashed or killed program left behind. Events come per
 * process, stream by stream, each entity's in order, with times already converted to ns since the
 * epoch by the process's clock map (the reader's, src/format/clockmap.c).
 *
 * Positions: the follower counts, per (process instance, stream), the events handed over: "chunk
 * seq S, k events into it". Chunks of a stream are written one after the other, so one position
 * per stream says everything. Positions become *confirmed* only when the caller says so
 * (hx__follow_confirm(), after the server's ACK); confirmed positions are saved in the state
 * directory, one small file per process instance (hxship-<instance>.pos, replaced atomically with
 * rename and fsynced), and a follower started later resumes from them: it neither skips an event
 * that was not confirmed nor hands over again one that was. What was handed over but not
 * confirmed when the process stopped is handed over again: the server deduplicates.
 *
 * Damage: a chunk whose checksum fails once it is complete is skipped and counted; an incomplete
 * chunk whose bytes do not verify yet is read again at the next poll (a write in progress).
 *
 * Thread safety: one thread per follower. Ownership: strings in the options are copied; the event
 * and process passed to the callback are valid during the call only.
 */
#ifndef HX_FOLLOW_H
#define HX_FOLLOW_H

#include <haruspex.h>
#include <stddef.h>
#include <stdint.h>

typedef struct hx__follow hx__follow;

typedef struct hx__follow_proc {
	uint8_t instance[16];
	uint64_t pid;
	const char *const *resource; /* key, value, key, value ... from the file header */
	size_t npairs;
} hx__follow_proc;

/* An event for the caller: return 0 to take it, nonzero to refuse it and end this poll (the
 * event is offered again first at the next poll: a full queue stops the reading). */
typedef int (*hx__follow_fn)(const hx__follow_proc *proc, const hx_event *ev, void *user);

typedef struct hx__follow_opts {
	const char *dir;              /* the trace files (*.hx, not recursive) */
	const char *state_dir;        /* where positions are saved; NULL: nowhere (start from zero) */
	const uint8_t *only_instance; /* NULL: every process; else only this process instance */
} hx__follow_opts;

/* HX_OK, HX_ENOMEM, HX_ENOENT / HX_EACCES (the directories; err says which). */
int hx__follow_open(hx__follow **out, const hx__follow_opts *opts, char *err, size_t errlen);
void hx__follow_close(hx__follow *f); /* NULL is a no-op; unconfirmed positions are not saved */

/* Look for new files and events and hand them to fn, at most max_events (0: no limit). Returns
 * the number of events taken (>= 0), or HX_ENOMEM, HX_EIO, HX_EFORMAT (a malformed state file:
 * hx__follow_error() names it). */
long hx__follow_poll(hx__follow *f, hx__follow_fn fn, void *user, size_t max_events);

/* A ticket for everything taken so far. */
uint64_t hx__follow_mark(hx__follow *f);
/* Everything up to the mark `ticket` is durable at the server: confirm it and save the positions
 * of the processes concerned. HX_OK or HX_EIO (the state could not be written: err filled; the
 * positions stay confirmed in memory and are written at the next confirmation). */
int hx__follow_confirm(hx__follow *f, uint64_t ticket);
/* 1 when everything taken has been confirmed (and no suspected gap awaits the next poll). */
int hx__follow_settled(const hx__follow *f);

typedef struct hx__follow_stats {
	uint64_t files, processes, events, chunks_skipped, gaps;
} hx__follow_stats;
void hx__follow_stats_get(const hx__follow *f, hx__follow_stats *out);
const char *hx__follow_error(const hx__follow *f); /* the last problem, "" if none */

#endif /* HX_FOLLOW_H */
