/* SPDX-License-Identifier: MIT */
/* Private header of the cross-process channel (smr/channel.h): the protocol,
 * the handles, the channel view and the calls between the channel's files.
 * Not installed.  The on-disk format is in layout.h.
 *
 * ---- Publication ---------------------------------------------------------
 * One writer process, K payload buffers in memory-mapped files, and one
 * slot file per reader handle.  The writer fills a buffer no reader can
 * reach, writes its descriptor, then makes it current with one release
 * store of `current` = (version << 8) | buffer.  A reader announces the
 * value it reads in its slot's `pin` under a fence and re-validates it
 * (slow path, once per new version); `pin` stays after the read, so later
 * reads of the same version only set the slot's `active` word and
 * re-validate, with no fence.  The writer reuses a buffer b only if no
 * active slot pins it and, when an idle slot still announces the version b
 * holds, after a heavy barrier (membarrier GLOBAL_EXPEDITED; readers of a
 * symmetric channel fence instead) that followed b's retirement (the
 * publish that made another buffer current).
 *
 * ---- Slots ---------------------------------------------------------------
 * Each reader creates its own file r<i> in the sticky directory
 * NAME.smr-readers/ (created unnamed or under a temporary name, locked,
 * then linked in), so no reader can write another's slot.  The writer finds
 * slot files through a directory watch (inotify) and reads them as
 * untrusted input: by mapping when the file has the writer's owner
 * (whoever could truncate it could also kill the writer), by pread
 * otherwise (a truncated file reads short instead of raising SIGBUS).  A
 * reader whose name the writer has not seen yet linked it after the
 * writer's last look, so it cannot announce a buffer retired before that
 * look: the writer looks again only before reusing a buffer retired since.
 * Liveness is exact: a reader holds an OFD lock on byte 0 of its file; a
 * file nobody locks belongs to a dead reader and is removed.
 *
 * ---- Files ---------------------------------------------------------------
 *   layout.h   the on-disk format (state file, descriptors, slot files)
 *   channel.h  this header
 *   files.c    names and paths, the path behind an error, validation of
 *              untrusted files, the channel view (a channel opened
 *              read-only)
 *   slots.c    the writer's reader slot files: discovery (inotify or
 *              listing), liveness (OFD locks), reaping dead readers
 *   reuse.c    which buffer the writer may overwrite: the reclamation
 *              state machine, sole owner of its bookkeeping
 *   create.c   the writer's own files: exclusive creation, takeover, the
 *              single-writer lock
 *   writer.c   the writer handle: open, begin / commit / publish
 *   reader.c   the reader handle: join, read, release, wait
 *   admin.c    smr_channel_unlink and smr_channel_stat
 * Calls run one way: writer -> create -> slots -> files,
 * writer -> reuse -> slots -> files, admin -> reader -> files.  Following
 * smr_channel_publish: writer.c (begin) -> reuse.c (choose a buffer, which
 * asks slots.c to look at the directory or reap) -> writer.c (commit).
 *
 * docs/DESIGN.md ("Channels") has the full argument. */
#ifndef SMR_CHANNEL_CHANNEL_H
#define SMR_CHANNEL_CHANNEL_H

#include "smr/channel.h"

#include <stdbool.h>
#include <stdint.h>

#include "internal.h"
#include "layout.h"

/* While a process waits for live readers (the writer) or for a writer that
 * has not yet tracked it (a reader), it re-checks this often: the kernel
 * cannot wake a futex when a lock holder dies. */
#define SMR__CHANNEL_LIVENESS_MIN_NS 1000000ll
#define SMR__CHANNEL_LIVENESS_MAX_NS 64000000ll

/* Room for a slot name r<i>. */
#define SMR__CHANNEL_SLOT_NAME_MAX 16
/* Longest entry a reader creates in the readers directory (its temporary
 * slot name, reader.c; slot names r<i> are shorter). */
#define SMR__CHANNEL_ENTRY_MAX 64

/* ---- files.c: names, paths, errors ---- */

/* NAME -> the path prefix of its files (malloc'd), every derived name
 * checked against NAME_MAX and PATH_MAX first (-ENAMETOOLONG). */
int smr__channel_make_prefix(const char *name, char **out);
/* buf (PATH_MAX bytes) = prefix + suffix, + index when index >= 0. */
void smr__channel_path(char *buf, const char *prefix, const char *suffix,
                       int index);
/* buf (SMR__CHANNEL_SLOT_NAME_MAX bytes) = "r<i>". */
void smr__channel_slot_name(char *buf, unsigned i);
/* The slot index of a canonical name "r<i>", i < slots; -1 otherwise. */
int smr__channel_parse_slot_name(const char *name, unsigned slots);

/* The path behind this thread's last error (smr_channel_error_path).
 * Every public call that can fail clears it first; path_error notes `path`
 * and returns err. */
void smr__channel_clear_path(void);
int smr__channel_path_error(const char *path, int err);

/* The public option flags <-> the state file's SMR__CHANNEL_F_* flags. */
unsigned smr__channel_state_flags(unsigned options);
unsigned smr__channel_options(unsigned state_flags);

/* The view of an empty payload: 8-byte aligned like every payload. */
extern const unsigned char smr__channel_empty_payload[8];

/* ---- sums.c: the checksum (layout.h) ---- */

/* Write the block sums of the `size`-byte payload at base (a mapping of at
 * least smr__channel_sum_end(size) bytes) after it; return the top sum.
 * src: copy the payload from there first, block by block (NULL: it is in
 * place). */
uint64_t smr__channel_sum_write(unsigned char *base, const void *src,
                                uint64_t size);

/* Whether the stored sums hash to `sum` (the descriptor's). */
bool smr__channel_sum_top_ok(const unsigned char *base, uint64_t size,
                             uint64_t sum);

/* Whether block b (< smr__channel_sum_count(size)) matches its stored sum. */
bool smr__channel_sum_block_ok(const unsigned char *base, uint64_t size,
                               uint64_t b);

/* The deadline `timeout_ns` from now (< 0: none, INT64_MAX). */
int64_t smr__channel_deadline(int64_t timeout_ns);

/* ---- files.c: untrusted files ---- */

/* Map and validate the state file (header, then the whole file). */
int smr__channel_map_state(int fd, bool writable,
                           struct smr__channel_state **out);
/* A readers directory the channel can trust (owned by `owner`). */
int smr__channel_check_dir(int dir_fd, unsigned owner);

/* What a process reads of a slot file. */
struct smr__channel_slot_snap {
  uint64_t pin;
  uint32_t active, waiting, pid;
};
/* Read a slot file with pread: 0 if whole, -EBADMSG if short, or -errno. */
int smr__channel_slot_read(int fd, struct smr__channel_slot_snap *out);
/* Whether an open error proves a name is not a reader's slot file. */
bool smr__channel_not_a_slot(int err);
/* The buffer bit a pin names (bit of SMR__CHANNEL_INDEX(pin)); 0 for no
 * pin or an index >= nbuf. */
static inline uint32_t smr__channel_pin_bit(uint64_t pin, unsigned nbuf) {
  return pin && SMR__CHANNEL_INDEX(pin) < nbuf ? 1u << SMR__CHANNEL_INDEX(pin)
                                               : 0;
}

/* Remove a name only if it still names inode `ino` (dir_fd < 0: a path). */
void smr__channel_unlink_if_ours(int dir_fd, const char *name, uint64_t ino);
/* Remove NAME.smr-readers/ and its entries (or move it aside). */
int smr__channel_remove_readers_dir(const char *prefix);

/* ---- files.c: the channel view --------------------------------------------
 * A channel opened read-only and validated: what a reader handle and
 * smr_channel_stat start from.  Read-only: nothing here writes the files. */
struct smr__channel_view {
  char *prefix;
  int state_fd, dir_fd;
  struct smr__channel_state *st; /* read-only, validated */
  unsigned nbuf, nslots;         /* read once: the file cannot move them */
  unsigned flags;                /* the channel's SMR__CHANNEL_F_* */
  unsigned uid; /* owner of the state file: the channel's writer */
};

void smr__channel_view_init(struct smr__channel_view *v);
int smr__channel_view_open(struct smr__channel_view *v, const char *name);
void smr__channel_view_close(struct smr__channel_view *v);

/* ---- slots.c: the writer's reader slot files ------------------------------
 * Fields are slots.c's alone. */
#define SMR__CHANNEL_CLOSED_INO_MAX 64 /* close events by inode per drain */

struct smr__channel_slot_ent; /* a tracked slot file (slots.c) */

struct smr__channel_slots {
  int dir_fd;
  int watch_fd;    /* < 0: list the directory on every look */
  bool watch_lost; /* the directory was removed: list it each time */
  unsigned nslots, euid;
  struct smr__channel_state *st; /* its acks and dead_reclaimed */
  _Atomic uint64_t *ack;         /* st's acks; NULL: leave them */
  /* ent[i] is the file named r<i>; live[0..nlive) the indices with a
   * file; dirty marks names a drain must look up again. */
  struct smr__channel_slot_ent *ent;
  unsigned *live, nlive;
  unsigned char *dirty; /* names to look up again */
  int64_t *closed;      /* names whose file was closed: probe until */
  uint64_t closed_ino[SMR__CHANNEL_CLOSED_INO_MAX]; /* close events by inode */
  unsigned nclosed_ino;
  bool closed_all;
  unsigned char *seen; /* scratch for listings */
  bool resync;         /* events were lost: list the directory */
};

void smr__channel_slots_init(struct smr__channel_slots *s);
/* Open the readers directory (owned by `owner`), the watch and the tables;
 * list the directory once and reap the files of dead readers. */
int smr__channel_slots_open(struct smr__channel_slots *s, const char *prefix,
                            struct smr__channel_state *st, unsigned nslots,
                            unsigned euid, unsigned owner);
void smr__channel_slots_close(struct smr__channel_slots *s);
/* Look at the directory: afterwards every reader that linked its file
 * before the call is tracked. */
int smr__channel_slots_update(struct smr__channel_slots *s);
/* How many slot files are tracked; read the j-th of them (j < that). */
unsigned smr__channel_slots_count(const struct smr__channel_slots *s);
int smr__channel_slots_read(const struct smr__channel_slots *s, unsigned j,
                            struct smr__channel_slot_snap *out);
/* Reap the dead readers among those that pin a buffer of `mask` (or cannot
 * be read): how many, or a negative errno. */
int smr__channel_slots_reap_pinning(struct smr__channel_slots *s, uint32_t mask,
                                    unsigned nbuf);
/* Whether a tracked reader may be blocked in smr_channel_wait. */
bool smr__channel_slots_any_waiting(const struct smr__channel_slots *s);
/* Sleep up to ns, or until the directory watch reports an event. */
void smr__channel_slots_wait(const struct smr__channel_slots *s, int64_t ns);

/* ---- reuse.c: which buffer may be overwritten -----------------------------
 * A logical clock, publish_seq, counts this writer's publishes; each event
 * the safety argument needs is stamped with it.  Fields are reuse.c's
 * alone. */
struct smr__channel_reuse {
  struct smr__channel_state *st;    /* `current`, `waiting` */
  struct smr__channel_slots *slots; /* whose pins it scans */
  unsigned nbuf;
  bool symmetric;          /* readers fence: the barrier is a fence */
  bool first_barrier_done; /* one heavy barrier since open (takeover) */
  uint64_t publish_seq;    /* publishes by this writer, from 1 */
  /* retired_at[i]: publish_seq when buffer i stopped being current. */
  uint64_t retired_at[SMR_CHANNEL_MAX_BUFFERS];
  /* published_as[i]: the `current` value buffer i was last published
   * with; an idle slot announcing exactly that value could still use it. */
  uint64_t published_as[SMR_CHANNEL_MAX_BUFFERS];
  uint64_t last_barrier; /* publish_seq at the last heavy barrier */
  uint64_t last_look;    /* publish_seq at the last look at the directory */
};

/* What choosing a buffer found. */
struct smr__channel_choice {
  unsigned buffer;
  unsigned reclaimed; /* dead readers' files dropped on the way */
  int64_t waited_ns;  /* time spent waiting for live readers */
};

void smr__channel_reuse_init(struct smr__channel_reuse *u,
                             struct smr__channel_state *st,
                             struct smr__channel_slots *slots, unsigned nbuf,
                             bool symmetric);
/* A buffer to build into, waiting up to timeout_ns for live readers. */
int smr__channel_reuse_choose(struct smr__channel_reuse *u, int64_t timeout_ns,
                              struct smr__channel_choice *out);
/* The writer is about to store `current` := now (it was `old`). */
void smr__channel_reuse_published(struct smr__channel_reuse *u, uint64_t old,
                                  uint64_t now);

/* ---- the handles ---- */

struct smr_channel_writer {
  char *prefix;
  int lock_fd, state_fd;
  bool state_locked;
  struct smr__channel_state *st; /* read-write */
  unsigned nbuf, nslots, flags;  /* flags: the channel's SMR__CHANNEL_F_* */
  unsigned mode, euid;
  bool exact_mode;
  int64_t gid; /* group of the files it creates; -1: the default */
  int64_t timeout_ns;
  int data_fd[SMR_CHANNEL_MAX_BUFFERS];
  unsigned char *map[SMR_CHANNEL_MAX_BUFFERS];
  uint64_t map_len[SMR_CHANNEL_MAX_BUFFERS];
  uint64_t file_size[SMR_CHANNEL_MAX_BUFFERS];
  uint64_t file_dev[SMR_CHANNEL_MAX_BUFFERS], file_ino[SMR_CHANNEL_MAX_BUFFERS];
  struct smr__channel_slots slots; /* slots.c */
  struct smr__channel_reuse reuse; /* reuse.c */
  int owner_pid;                   /* the process that opened it */
  int build;                       /* buffer being built, -1 if none */
  uint64_t build_cap;
  unsigned build_reclaimed;
  int64_t build_waited;
};

/* create.c: take the writer lock, then create the channel or take it over
 * (w's prefix, euid, mode and exact_mode set). */
int smr__channel_writer_files(smr_channel_writer *w,
                              const struct smr_channel_options *o);

struct smr__channel_reader {
  smr_channel_reader pub; /* first: the public head */
  struct smr__channel_view chan;
  int slot_fd;
  struct smr__channel_slot *slot; /* our slot file, read-write */
  uint64_t slot_ino;
  unsigned slot_index, open_flags;
  bool symmetric;
  int owner_pid;
  int data_fd[SMR_CHANNEL_MAX_BUFFERS];
  const unsigned char *map[SMR_CHANNEL_MAX_BUFFERS];
  uint64_t map_len[SMR_CHANNEL_MAX_BUFFERS];
  uint64_t file_dev[SMR_CHANNEL_MAX_BUFFERS], file_ino[SMR_CHANNEL_MAX_BUFFERS];
  uint64_t last_read; /* `current` of the previous successful read */
  /* The checksum checks of `sum_cur` (a pinned `current`; 0: none): its
   * top sum checked (sum_top), and which of its blocks (sum_blocks, a bit
   * each).  Reset when another version is pinned. */
  uint64_t sum_cur;
  bool sum_top;
  unsigned sum_shift; /* its block size (log2) */
  uint64_t sum_blocks[SMR__CHANNEL_SUM_MAX / 64];
#ifdef SMR_TEST_HOOKS
  void (*hook)(smr_channel_reader *, void *); /* test_hooks.h */
  void *hook_arg;
  bool skip_validate;
#endif
};

#endif /* SMR_CHANNEL_CHANNEL_H */
