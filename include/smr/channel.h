/* SPDX-License-Identifier: MIT */
/* clang-format off: the usage example below is laid out by hand. */
/* smr/channel.h - cross-process publication: one writer process publishes byte
 * payloads through a channel of memory-mapped files; any number of reader
 * processes read the current payload in place, zero-copy.
 *
 *   // writer process
 *   smr_channel_writer *w;  smr_channel_writer_open("routes", NULL, &w);
 *   smr_channel_publish(w, bytes, n, NULL);            // or begin/fill/commit
 *
 *   // each reader process (one handle per thread)
 *   smr_channel_reader *r;  smr_channel_reader_open("routes", 0, &r);
 *   smr_channel_guard g;  uint64_t seen = 0;          // 0: none read yet
 *   if (smr_channel_read(r, &g) == 0) {
 *     use(g.data, g.size);  seen = g.version;  smr_channel_release(r, &g);
 *   }
 *   smr_channel_wait(r, seen, 1000000000);             // block for a newer one
 *
 * A channel NAME is a set of files: NAME.smr (the state: header, current
 * version, one descriptor per buffer), NAME.smr-data-0 .. NAME.smr-data-(K-1)
 * (the K payload buffers), NAME.smr-lock (the single-writer lock, readable
 * by writers only) and the directory NAME.smr-readers/, where each reader
 * handle keeps its own small slot file.  A NAME without '/' lives in
 * /dev/shm; otherwise it is a path prefix in any directory.  NAME's last
 * component may have at most 218 bytes (NAME_MAX 255 less the longest
 * suffix the library adds, ".smr-readers.old-" and a 20-digit number), else
 * -ENAMETOOLONG before anything is created.  The writer
 * alone writes the state and data files; readers map them read-only and
 * write only their own slot file, so no reader can make another read wrong
 * data or crash the writer.
 *
 * Ownership: a channel belongs to the user (euid) that created it.  Its
 * writer creates every file exclusively and with the whole channel (the
 * data files too), and uses an existing file only if it is a regular file
 * of its own euid with one link; readers refuse data files whose owner is
 * not the state file's.  In a shared directory such as /dev/shm another
 * user who creates one of the names first makes smr_channel_writer_open fail
 * (-EPERM, or -EEXIST for a symlink, FIFO, directory or hard link of the
 * writer's own user), never write into that user's file; the name is in
 * smr_channel_error_path().  Readers trust whoever owns the state file.
 *
 * Signal handlers: a handle must not be used from a signal handler that can
 * interrupt a call on the same handle (a read in progress would then hold a
 * guard the writer cannot see).  A handler may use a handle of its own.
 * Debug builds (SMR_DEBUG) abort on a read that interrupts a read of the
 * same handle.
 *
 * Safety: a reader announces the version it is about to read in its slot and
 * re-validates it before touching data; the writer never reuses a buffer a
 * live reader announced, however slow the reader is.  Reader liveness is
 * exact: each reader holds an open-file-description lock on its slot file,
 * which the kernel drops when no process holds its descriptor any more
 * (death included; a child forked meanwhile keeps it until it exits or
 * execs), and the writer reclaims such a slot at once.  A published payload is
 * never modified; a writer that crashes mid-publish leaves the last complete
 * version in place, and a new writer takes over where it stopped.
 * docs/DESIGN.md ("Channels") has the file layout, the protocol and its
 * correctness argument.
 *
 * Errors (negative errno): -EINVAL bad argument; -ENAMETOOLONG NAME too
 * long; -ENOENT no such channel;
 * -EAGAIN channel still being created; -ENODATA nothing published yet;
 * -EBUSY another writer holds the channel, or every buffer is pinned by live
 * readers past the timeout, or a guard is already held; -EBADMSG a file is
 * corrupt, truncated, foreign or of another layout version, or a checksum did
 * not verify; -EUSERS all reader slots taken; -EFBIG payload above
 * SMR_CHANNEL_MAX_PAYLOAD or above RLIMIT_FSIZE; -ENOSPC out of space; -EACCES
 * permissions; -ETIMEDOUT nothing new within the timeout; -EPERM (writer) a
 * channel file is another user's; -EEXIST (writer) a channel file's name is
 * taken by something that is not a regular file with one link.
 */
/* clang-format on */
#ifndef SMR_CHANNEL_H
#define SMR_CHANNEL_H

#include "smr/common.h"
#include <stdbool.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Largest payload: 2^46 bytes (64 TiB); files need 64-bit offsets. */
#define SMR_CHANNEL_MAX_PAYLOAD (1ull << 46)
#define SMR_CHANNEL_MAX_BUFFERS 32u   /* K, the ring of payload buffers */
#define SMR_CHANNEL_MAX_READERS 4096u /* reader slot names r0 .. r4095 */

/* ---- Writer -------------------------------------------------------------- */

typedef struct smr_channel_writer smr_channel_writer;

/* Option flags (smr_channel_options.flags; also smr_channel_stat.flags).
 * Values are unique across libsmr's flag sets: a reader or stat flag here is
 * refused with -EINVAL. */
/* fdatasync payload, then state, per publish. */
#define SMR_CHANNEL_DURABLE 0x100u
/* Store no checksum (readers cannot verify). */
#define SMR_CHANNEL_NO_CHECKSUM 0x200u
/* Apply the modes exactly (fchmod). */
#define SMR_CHANNEL_NO_UMASK 0x400u
/* Readers fence; the writer uses no membarrier. */
#define SMR_CHANNEL_SYMMETRIC 0x800u

/* Channel creation options.  Zero-initialise, then set what you need; zero
 * fields take the defaults.  Only used when the writer creates the channel:
 * a writer that takes over an existing channel keeps its layout (buffers,
 * slots, flags) and uses only timeout_ns from here. */
struct smr_channel_options {
  unsigned buffers;     /* K payload buffers, 2..32 (default 3) */
  unsigned readers;     /* reader slots, 1..4096 (default 64); the writer
                           holds one descriptor per reader */
  unsigned flags;       /* SMR_CHANNEL_* above */
  unsigned mode;        /* state and data files (default 0644) */
  unsigned reader_mode; /* who may join as reader: the readers directory
                           gets these write bits, x for each r, and the
                           sticky bit (default 0666: directory 01777) */
  /* The group of the files and directory the writer creates (fchown; the
   * writer must belong to it, else -EPERM naming the file), so that mode
   * and reader_mode's group bits mean that group; each is created for its
   * owner alone and gets its group, then its mode, exactly (no umask);
   * so with a group, mode defaults to 0640 and reader_mode to mode's read
   * bits as write bits (0660).  A failure leaves no name behind.
   * group_set false: the default (the writer's group, or the directory's
   * if it is setgid).  A writer taking over gives a data file it must
   * re-create the state file's group and mode. */
  unsigned gid;
  bool group_set;
  /* How long begin/publish wait for a buffer when all K-1 non-current
   * buffers are pinned by live readers: 0 = do not wait, < 0 = forever,
   * default (0 in a zeroed struct) is taken from timeout_set. */
  int64_t timeout_ns;
  bool timeout_set; /* false: timeout_ns ignored, default 10 s */
};

/* Create the channel, or take over an existing one (after a writer exited or
 * crashed).  Takes the channel's single-writer lock: -EBUSY if another
 * writer holds it (the lock dies with its process).  Creating makes every
 * file new (exclusive creation; an earlier channel's leftovers of the same
 * user are removed first) and names the state file last, complete; a state
 * file left by a creation that died is replaced by a new inode, never
 * truncated.  Taking over needs every existing file (lock, state, data) to
 * be a regular file of the caller's euid with one link: the same user as
 * the writer that created the channel.  Modes go through the
 * process umask as in open(2) unless SMR_CHANNEL_NO_UMASK: with the usual umask
 * 022 the readers directory becomes 01755 and only the owner's processes
 * can open readers; use NO_UMASK (or umask 0) to let other users read.
 * opts may be NULL.
 * A child forked while the writer is open shares its lock until the parent
 * closes the writer (the child must not use the handle; after exec the
 * descriptors are closed).
 * Errors: -EINVAL, -ENAMETOOLONG, -EBUSY, -EBADMSG (existing files corrupt,
 * or the readers directory missing, not a directory, not owned by the state
 * file's owner, or writable by others without the sticky bit), -EPERM (a
 * channel file, or a name the channel needs, belongs to another user: it
 * may be squatted), -EEXIST (a name the channel needs holds a symlink,
 * FIFO, directory or a file with more than one link), -EACCES, -ENOMEM,
 * -ENOSPC, -EMFILE.  smr_channel_error_path() names the file behind -EPERM,
 * -EEXIST and -EBADMSG (and most others).  Nothing is ever written to a
 * refused file.  Blocks on file system calls. */
SMR_API int smr_channel_writer_open(const char *name,
                                    const struct smr_channel_options *opts,
                                    smr_channel_writer **out);

/* Release the writer lock, unmap and free.  The channel and its current
 * payload stay readable.  Returns 0 (also for NULL: free-like). */
SMR_API int smr_channel_writer_close(smr_channel_writer *w);

/* What a publish did (optional out parameter). */
struct smr_channel_commit_info {
  uint64_t version;        /* the version now current */
  uint64_t bytes;          /* payload bytes published */
  unsigned buffer;         /* buffer index it went to */
  unsigned dead_reclaimed; /* dead readers' slots reclaimed on the way */
  int64_t waited_ns;       /* time spent waiting for live readers */
};

/* Build in place: get a writable buffer of at least `capacity` bytes in a
 * buffer no reader can see, fill it, then smr_channel_commit() or
 * smr_channel_abort().  Waits (futex, no polling) up to the timeout while every
 * free buffer is pinned by live readers; never waits for a dead one.  Grows
 * the file with posix_fallocate, so a full disk is -ENOSPC here, never a
 * SIGBUS later.  A reader's slot file the writer cannot read (pread fails:
 * -EIO, -ENOMEM, -EINTR...) counts as pinning every buffer; when that is
 * still so at the timeout, that error is returned instead of -EBUSY (a slot
 * its owner truncated pins nothing).  Errors: -EINVAL, -EBUSY (a build
 * already open, or every buffer pinned past the timeout), -EFBIG, -ENOSPC,
 * -ENOMEM, -EIO, -EINTR, -EMFILE (no descriptor left to track a new reader:
 * nothing is reused).  Writer thread only; may block. */
SMR_API int smr_channel_begin(smr_channel_writer *w, uint64_t capacity,
                              void **buf);

/* Publish the first `size` bytes (<= capacity) of the buffer from
 * smr_channel_begin(): checksum, sync when durable, then one release store
 * makes it current (pairs with the readers' acquire loads of the version), and
 * readers blocked in smr_channel_wait() are woken.  Versions increase by one
 * per publish.  Errors: -EINVAL (no build open, size > capacity), -EIO (durable
 * sync failed; nothing published), -EOVERFLOW (the version would pass 2^56 - 1:
 * only a corrupted state file gets there). */
SMR_API int smr_channel_commit(smr_channel_writer *w, uint64_t size,
                               struct smr_channel_commit_info *info);

/* Drop the open build; nothing is published.  -EINVAL if none is open. */
SMR_API int smr_channel_abort(smr_channel_writer *w);

/* Copy `size` bytes and publish them: begin + copy + commit, the checksum
 * computed while the data is still in cache.  data may be NULL if size is 0.
 * Errors as begin and commit. */
SMR_API int smr_channel_publish(smr_channel_writer *w, const void *data,
                                uint64_t size,
                                struct smr_channel_commit_info *info);

/* Change the buffer wait timeout (see smr_channel_options.timeout_ns).
 * Errors: -EINVAL (NULL).  Writer thread. */
SMR_API int smr_channel_writer_set_timeout(smr_channel_writer *w,
                                           int64_t timeout_ns);

/* The path of the file behind the last error a smr_channel_* call returned in
 * this thread, where one file was at fault (a squatted name, a corrupt or
 * foreign file); "" if none.  Every smr_channel_* call that can fail clears it
 * when it starts, so it never names the file of an earlier call's error.
 * Thread-local (another thread's errors are not seen); valid until this
 * thread's next smr_channel_* call or its exit: copy it to keep it.  A path
 * longer than 255 bytes is cut to its last bytes after "...", so the file
 * name itself is always whole.  Never NULL. */
SMR_API const char *smr_channel_error_path(void);

/* Remove a channel's files (readers that have it open keep their mappings).
 * Errors: -ENOENT (no state file), -EINVAL, -EACCES, -EBUSY (a writer is
 * running). */
SMR_API int smr_channel_unlink(const char *name);

/* ---- Reader -------------------------------------------------------------- */

/* Reader flags (smr_channel_reader_open; unique across libsmr's flag sets).
 * Verify each new version's checksum on read. */
#define SMR_CHANNEL_VERIFY 0x10000u

/* Public head of a reader handle; the library allocates the whole handle.
 * Fields are private: read the payload through smr_channel_read(). */
typedef struct smr_channel_reader {
  SMR_ATOMIC(uint64_t) *current; /* state file: (version << 8) | buffer */
  SMR_ATOMIC(uint32_t) *waiting; /* state file: writer waits for a buffer */
  SMR_ATOMIC(uint32_t) *active;  /* our slot: 1 while a guard is held */
  uint64_t cached;               /* `current` the view below belongs to */
  const void *cached_data;
  uint64_t cached_size;
  uint32_t flags;    /* SMR__CHANNEL_HELD | _SLOW | _NOVIEW | _INREAD */
  uint32_t switched; /* set by the slow path: a new version was pinned */
} smr_channel_reader;

/* smr_channel_reader.flags (private):
 * HELD    a guard is held;
 * SLOW    symmetric mode or a test hook: always the slow path;
 * NOVIEW  `cached` is not a valid view: the slow path;
 * INREAD  SMR_DEBUG: a read is in progress. */
#define SMR__CHANNEL_HELD   0x1u
#define SMR__CHANNEL_SLOW   0x2u
#define SMR__CHANNEL_NOVIEW 0x4u
#define SMR__CHANNEL_INREAD 0x8u

/* A zero-copy view of one payload.  Valid until smr_channel_release(). */
typedef struct smr_channel_guard {
  const void *data; /* read-only; never NULL (size may be 0); aligned to a
                       page (to 8 bytes when size is 0) */
  uint64_t size;    /* payload bytes */
  uint64_t version; /* its version (>= 1) */
  bool switched;    /* another version than this reader's previous read */
} smr_channel_guard;

/* Open a channel for reading: maps the state read-only, creates this
 * handle's slot file in the readers directory, locks it and links it in
 * under a free slot name.  Creates nothing else.  A handle is used by one
 * thread at a time and holds at most one guard; give each reading thread
 * its own handle, and a signal handler that reads a handle of its own
 * (never the one whose call it may interrupt: see the top of this file).
 * Not inherited across fork: a child opens its own (and
 * must not use or close the parent's).  Errors: -EINVAL, -ENAMETOOLONG,
 * -ENOENT, -EAGAIN, -EBADMSG, -EACCES, -EUSERS, -ENOMEM, -ENOSPC, -EMFILE.
 * Blocks on file system calls. */
SMR_API int smr_channel_reader_open(const char *name, unsigned flags,
                                    smr_channel_reader **out);

/* Remove the slot file, unmap and free.  -EBUSY if a guard is held (nothing is
 * closed then).  NULL is accepted. */
SMR_API int smr_channel_reader_close(smr_channel_reader *r);

SMR_API int smr__channel_read_slow(smr_channel_reader *r);
SMR_API void smr__channel_release_slow(smr_channel_reader *r);

/* Exported twins of the inline functions below (docs/DESIGN.md,
 * "Conventions", FFI): the same contract as smr_channel_read and
 * smr_channel_release, plus the cost of a call.  Compiled with
 * SMR_NO_INLINE, the plain names are these. */
SMR_API int smr_channel_read_ffi(smr_channel_reader *r, smr_channel_guard *g);
SMR_API void smr_channel_release_ffi(smr_channel_reader *r,
                                     smr_channel_guard *g);

/* Guard accessors and layout, for a caller that treats smr_channel_guard as
 * opaque (a foreign language): allocate smr_channel_guard_sizeof() bytes
 * aligned to smr_channel_guard_alignof() and pass their address as the
 * guard.  The accessors read the fields of a guard that a successful read
 * filled (held or not: after the release they still return what the read
 * saw, but the bytes at data may then be reused by the writer). */
/* The payload's first byte (read-only; never NULL after a read). */
SMR_API const void *smr_channel_guard_data(const smr_channel_guard *g);
/* The payload's size in bytes. */
SMR_API uint64_t smr_channel_guard_size(const smr_channel_guard *g);
/* The payload's version (>= 1). */
SMR_API uint64_t smr_channel_guard_version(const smr_channel_guard *g);
/* Whether the read returned another version than this handle's previous
 * read. */
SMR_API bool smr_channel_guard_switched(const smr_channel_guard *g);
/* sizeof(smr_channel_guard) and its alignment, as this library was built. */
SMR_API size_t smr_channel_guard_sizeof(void);
SMR_API size_t smr_channel_guard_alignof(void);

#ifndef SMR_NO_INLINE
/* Pin the current payload and return a view of it.  Not re-entrant for one
 * handle (no use from a signal handler that interrupts it; SMR_DEBUG builds
 * abort on that).  Lock-free; the common
 * case (payload unchanged since this handle's last read) is three loads and
 * a store to the reader's own slot, with no fence and no atomic RMW; a new
 * version costs a call that announces it under a fence, validates its
 * descriptor and maps the file.
 * While the guard is held the payload's bytes never change.
 * Ordering: acquire, pairs with the writer's release store of the version,
 * so the whole payload is visible.  Errors: -ENODATA (nothing published
 * yet), -EBUSY (this handle already holds a guard), -EBADMSG (descriptor or
 * file corrupt, a data file not owned by the state file's owner, or
 * checksum mismatch under SMR_CHANNEL_VERIFY), -ESTALE (the
 * channel was removed and created anew: open it again), -ENOMEM.
 * On error no guard is held. */
SMR_INLINE int smr_channel_read(smr_channel_reader *r, smr_channel_guard *g) {
#ifdef SMR_DEBUG
  /* A read that interrupts a read of the same handle (a signal handler
   * using the handle it interrupted) would leave the interrupted one
   * holding a guard the writer cannot see. */
  SMR_ASSERT(!(r->flags & SMR__CHANNEL_INREAD) &&
             "smr_channel_read interrupted a read of the same handle");
  r->flags |= SMR__CHANNEL_INREAD;
  SMR__SIGNAL_FENCE(SMR__SEQ_CST); /* set before anything a handler sees */
  const uint32_t idle = SMR__CHANNEL_INREAD;
#else
  const uint32_t idle = 0;
#endif
  /* Locals: the compiler barrier below would otherwise reload them. */
  SMR_ATOMIC(uint64_t) *current = r->current;
  SMR_ATOMIC(uint32_t) *active = r->active;
  /* acquire: pairs with the writer's release store of `current`. */
  uint64_t cur = SMR__LOAD(current, SMR__ACQUIRE);
  bool fast = false;
  if (SMR_LIKELY(cur == r->cached && r->flags == idle)) {
    /* Our slot already announces `cur` (the slow path stored it under a
     * fence); mark it in use.  relaxed: the StoreLoad order between this
     * store and the re-load below is supplied by the writer's membarrier,
     * which it issues before reusing a buffer an idle slot announces. */
    SMR__STORE(active, 1u, SMR__RELAXED);
    SMR__SIGNAL_FENCE(SMR__SEQ_CST);
    /* acquire: as above; unchanged means the announcement protects it. */
    fast = SMR__LOAD(current, SMR__ACQUIRE) == cur;
  }
  if (SMR_LIKELY(fast)) {
    r->flags = SMR__CHANNEL_HELD;
    g->switched = false;
  } else {
    /* Fills r->cached* (and sets HELD) for the version it pinned. */
    int rc = smr__channel_read_slow(r);
#ifdef SMR_DEBUG
    SMR__SIGNAL_FENCE(SMR__SEQ_CST);
    r->flags &= ~SMR__CHANNEL_INREAD;
#endif
    if (rc != 0)
      return rc;
    cur = r->cached;
    g->switched = r->switched != 0;
  }
  g->data = r->cached_data;
  g->size = r->cached_size;
  g->version = cur >> 8;
  return 0;
}

/* End the read: after this the guard's bytes may be reused by the writer.
 * Ordering: release store to the slot (pairs with the writer's acquire scan
 * of its slot file), so every read of the payload happens before the writer
 * reuses the buffer.  Wakes the writer if it waits for a buffer.
 * Wait-free (one system call, touching the slot file, only when the writer
 * is waiting). */
SMR_INLINE void smr_channel_release(smr_channel_reader *r,
                                    smr_channel_guard *g) {
  (void)g;
  SMR_ASSERT((r->flags & SMR__CHANNEL_HELD) &&
             "smr_channel_release without read");
  if (SMR_LIKELY(r->flags == SMR__CHANNEL_HELD)) {
    SMR_ATOMIC(uint32_t) *waiting = r->waiting; /* kept across the barrier */
    SMR__STORE(r->active, 0u, SMR__RELEASE);
    r->flags = 0;
    SMR__SIGNAL_FENCE(SMR__SEQ_CST);
    /* relaxed: the writer's membarrier orders our store above before this
     * load, or the writer sees the store (pairs with the waiting flag's
     * store + barrier + rescan in the writer). */
    if (SMR_LIKELY(SMR__LOAD(waiting, SMR__RELAXED) == 0))
      return;
  }
  smr__channel_release_slow(r);
}
#else /* SMR_NO_INLINE: the plain names call the exported twins. */
#define smr_channel_read    smr_channel_read_ffi
#define smr_channel_release smr_channel_release_ffi
#endif

/* Check the guard's payload against the writer's checksum: XXH3-64 of
 * each block of at most 2^16..2^34 bytes (at most 4096 blocks), and of the
 * block sums.  0 if it matches, -EBADMSG if not, -ENOTSUP if the channel
 * stores no checksum, -EINVAL if no guard is held.  Reads the whole
 * payload once per version: what was checked is remembered by the handle
 * until it pins another version (then it costs nothing).  Calling thread
 * of r; does not block. */
SMR_API int smr_channel_verify(smr_channel_reader *r,
                               const smr_channel_guard *g);

/* Check only the blocks that [offset, offset + length) of the guard's
 * payload touches, and the block sums (at most 32 KiB) against the
 * descriptor: what a reader that reads a few bytes of a large payload
 * needs (a table lookup: smr_table_open_checked in smr/table.h), at the
 * cost of those blocks, not of the payload.  A block that passed is not
 * hashed again for this version (nor after smr_channel_verify or a
 * SMR_CHANNEL_VERIFY read).  0 if they match, -EBADMSG if not, -ENOTSUP
 * without a checksum, -EINVAL if no guard is held or the range is not
 * inside the payload.  Calling thread of r; does not block. */
SMR_API int smr_channel_verify_range(smr_channel_reader *r,
                                     const smr_channel_guard *g,
                                     uint64_t offset, uint64_t length);

/* The current version without pinning anything (0: nothing published yet).
 * For change detection.  Acquire load. */
SMR_API uint64_t smr_channel_version(smr_channel_reader *r);

/* Block until the current version differs from `version`, up to timeout_ns
 * (< 0: forever).  Futex wait, woken by the writer's commit; no polling.
 * Returns 0 (a newer version is current), -ETIMEDOUT, -ESTALE (the channel
 * was unlinked: noticed within a second, even with no timeout), -EINVAL.
 * Must not be called while holding a guard (-EBUSY): the writer may be
 * waiting for it. */
SMR_API int smr_channel_wait(smr_channel_reader *r, uint64_t version,
                             int64_t timeout_ns);

/* ---- Observability ------------------------------------------------------- */

struct smr_channel_buffer_stat {
  uint64_t version;   /* version it holds (0: never written) */
  uint64_t size;      /* payload bytes */
  uint64_t file_size; /* bytes allocated to its file */
  unsigned pinned;    /* live readers pinning it */
  bool current;
};

struct smr_channel_reader_stat {
  unsigned slot;
  int pid;                 /* as written by the reader (untrusted) */
  bool alive;              /* its slot lock is held (exact) */
  uint64_t pinned_version; /* held by a guard now; 0: not inside a read */
  uint64_t last_version;   /* last version it read (0: none yet) */
  uint64_t lag;            /* current version - last_version */
};

#define SMR_CHANNEL_CHECKSUM_NONE 0 /* channel stores none */
#define SMR_CHANNEL_CHECKSUM_OK   1
#define SMR_CHANNEL_CHECKSUM_BAD  2
/* Not verified (no SMR_CHANNEL_STAT_VERIFY). */
#define SMR_CHANNEL_CHECKSUM_SKIP 3

/* smr_channel_stat flag (unique across libsmr's flag sets): verify the
 * current payload's checksum. */
#define SMR_CHANNEL_STAT_VERIFY 0x1000000u

struct smr_channel_stat {
  uint64_t version; /* current (0: nothing published) */
  uint64_t size;    /* current payload bytes */
  unsigned buffers, readers_max, flags;
  unsigned readers;   /* slots in use (alive or not yet reclaimed) */
  int writer_pid;     /* last writer (as it wrote it) */
  bool writer_alive;  /* a writer holds byte 0 of the state file (a reader
                         holding a shared lock there when the writer
                         started hides it: informational) */
  uint64_t publishes; /* by the current and earlier writers */
  uint64_t dead_reclaimed;
  int checksum; /* SMR_CHANNEL_CHECKSUM_* for the current payload */
  struct smr_channel_buffer_stat buffer[SMR_CHANNEL_MAX_BUFFERS];
};

/* Inspect a channel without joining it (read-only opens, no slot claimed;
 * SMR_CHANNEL_STAT_VERIFY opens a reader handle briefly, and reports
 * SMR_CHANNEL_CHECKSUM_SKIP if it cannot: every slot taken, or no permission).
 * Fills *st and up to `cap` entries of `rs` (one per used slot, *nrs set to how
 * many exist). rs may be NULL with cap 0.  Errors as smr_channel_reader_open.
 */
SMR_API int smr_channel_stat(const char *name, unsigned flags,
                             struct smr_channel_stat *st,
                             struct smr_channel_reader_stat *rs, size_t cap,
                             size_t *nrs);

#ifdef __cplusplus
}
#endif

#endif /* SMR_CHANNEL_H */
