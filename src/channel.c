/* Cross-process channel (smr/channel.h): one writer process, K payload buffers
 * in memory-mapped files, and one slot file per reader handle.
 *
 * Publication: the writer fills a buffer no reader can reach, writes its
 * descriptor, then makes it current with one release store of
 * `current` = (version << 8) | buffer.  A reader announces the value it
 * reads in its slot's `pin` under a fence and re-validates it (slow path,
 * once per new version); `pin` stays after the read, so later reads of the
 * same version only set the slot's `active` word and re-validate, with no
 * fence.  The writer reuses a buffer b only if no active slot pins it and,
 * when an idle slot still announces the version b holds, after a heavy
 * barrier (membarrier GLOBAL_EXPEDITED; readers of a symmetric channel
 * fence instead) that followed b's de-current.
 *
 * Slots: each reader creates its own file r<i> in the sticky directory
 * NAME.smr-readers/ (created under a temporary name, locked, then linked
 * in), so no reader can write another's slot.  The writer finds slot files
 * through a directory watch (inotify) and reads them as untrusted input:
 * by mapping when the file has the writer's owner (whoever could truncate it
 * could also kill the writer), by pread otherwise (a truncated file reads
 * short instead of raising SIGBUS).  A reader whose name the writer has not
 * seen yet linked it after the writer's last look, so it cannot announce a
 * buffer that stopped being current before that look: the writer looks
 * again only before reusing a buffer de-current since.  Liveness is exact: a
 * reader holds an OFD lock on byte 0 of its file; a file nobody locks
 * belongs to a dead reader and is removed.  docs/DESIGN.md ("Channels") has
 * the full argument. */
#define _GNU_SOURCE
#include "smr/channel.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "channel_layout.h"
#include "internal.h"
#include "platform/platform.h"
#ifdef SMR_TEST_HOOKS
#include "test_hooks.h"
#endif

_Static_assert(sizeof(struct smr__channel_desc) == 64, "desc layout");
_Static_assert(sizeof(struct smr__channel_slot) == 64, "slot");
_Static_assert(offsetof(struct smr__channel_state, current) == 64, "line 1");
_Static_assert(offsetof(struct smr__channel_state, desc) ==
                   SMR__CHANNEL_DESC_OFFSET,
               "desc offset");
_Static_assert(SMR__CHANNEL_DESC_OFFSET + SMR_CHANNEL_MAX_BUFFERS * 64 <=
                   SMR__CHANNEL_HEADER_SIZE,
               "descriptors fit the header");

#define SMR__CHANNEL_FLAGS_KNOWN                                               \
  (SMR_CHANNEL_DURABLE | SMR_CHANNEL_NO_CHECKSUM | SMR_CHANNEL_NO_UMASK |      \
   SMR_CHANNEL_SYMMETRIC)
#define SMR__CHANNEL_STATE_FLAGS                                               \
  (SMR__CHANNEL_F_SYMMETRIC | SMR__CHANNEL_F_NOSUM | SMR__CHANNEL_F_DURABLE)

/* The public option flags and the state file's flags (a file format, fixed
 * in channel_layout.h) are distinct namespaces: mapped here both ways. */
static unsigned state_flags_of(unsigned options) {
  return ((options & SMR_CHANNEL_DURABLE) ? SMR__CHANNEL_F_DURABLE : 0) |
         ((options & SMR_CHANNEL_NO_CHECKSUM) ? SMR__CHANNEL_F_NOSUM : 0) |
         ((options & SMR_CHANNEL_SYMMETRIC) ? SMR__CHANNEL_F_SYMMETRIC : 0);
}

static unsigned options_of_state_flags(unsigned state) {
  return ((state & SMR__CHANNEL_F_DURABLE) ? SMR_CHANNEL_DURABLE : 0) |
         ((state & SMR__CHANNEL_F_NOSUM) ? SMR_CHANNEL_NO_CHECKSUM : 0) |
         ((state & SMR__CHANNEL_F_SYMMETRIC) ? SMR_CHANNEL_SYMMETRIC : 0);
}
#define DEFAULT_TIMEOUT_NS 10000000000ll
/* While the writer waits for live readers, it re-checks their liveness this
 * often (the kernel cannot wake a futex when a lock holder dies). */
#define LIVENESS_MIN_NS 1000000ll
#define LIVENESS_MAX_NS 64000000ll

/* The view of an empty payload: 8-byte aligned like every payload (data
 * files are mapped page-aligned), so tables and structs can sit on it. */
static _Alignas(8) const unsigned char empty_payload[8];

/* ---- names and validation ------------------------------------------------ */

/* The longest name the library derives from a channel's: the readers
 * directory moved aside under a 20-digit number (remove_readers_dir).  Every
 * other suffix (".smr", ".smr-lock", ".smr-new", ".smr-data-31",
 * ".smr-readers") is shorter. */
#define SUFFIX_MAX (sizeof ".smr-readers.old-18446744073709551615" - 1)
/* Longest entry a reader creates in the readers directory (its temporary
 * slot name, see slot_file_create; slot names r<i> are shorter). */
#define ENTRY_MAX 64

/* NAME -> the path prefix of its files.  Every name derived from it is
 * checked here, before anything is created: its last component plus the
 * longest suffix must fit NAME_MAX, and the longest path (an entry of the
 * readers directory) PATH_MAX; else -ENAMETOOLONG. */
static int make_prefix(const char *name, char **out) {
  if (!name || !*name)
    return -EINVAL;
  size_t n = strlen(name);
  if (name[n - 1] == '/')
    return -EINVAL;
  const char *slash = strrchr(name, '/');
  size_t base = slash ? n - (size_t)(slash + 1 - name) : n;
  size_t full = slash ? n : n + sizeof "/dev/shm/" - 1;
  if (base + SUFFIX_MAX > NAME_MAX ||
      full + SUFFIX_MAX + 1 + ENTRY_MAX >= PATH_MAX)
    return -ENAMETOOLONG;
  char *p = malloc(full + 1);
  if (!p)
    return -ENOMEM;
  if (slash)
    memcpy(p, name, n + 1);
  else
    snprintf(p, full + 1, "/dev/shm/%s", name);
  *out = p;
  return 0;
}

/* path = prefix + suffix (buf has PATH_MAX bytes). */
static void file_path(char *buf, const char *prefix, const char *suffix,
                      int index) {
  if (index >= 0)
    snprintf(buf, PATH_MAX, "%s%s%d", prefix, suffix, index);
  else
    snprintf(buf, PATH_MAX, "%s%s", prefix, suffix);
}

#define SLOT_NAME_MAX 16

static void slot_name(char *buf, unsigned i) {
  snprintf(buf, SLOT_NAME_MAX, "r%u", i);
}

/* The slot index of a canonical name "r<i>" (no leading zeros), i < slots;
 * -1 for any other name. */
static int parse_slot_name(const char *name, unsigned slots) {
  if (name[0] != 'r' || name[1] < '0' || name[1] > '9' ||
      (name[1] == '0' && name[2]))
    return -1;
  unsigned long v = 0;
  for (const char *p = name + 1; *p; p++) {
    if (*p < '0' || *p > '9' || p - name > 5)
      return -1;
    v = v * 10 + (unsigned long)(*p - '0');
  }
  return v < slots ? (int)v : -1;
}

/* The readers directory: sticky, so only a file's owner (and the directory's
 * owner, the writer) can remove or rename it; writable by those who may
 * read (reader_mode's write bits), searchable by those who may read. */
static unsigned dir_mode_of(unsigned reader_mode) {
  return 01000u | (reader_mode & 0666u) | ((reader_mode & 0444u) >> 2);
}

/* The writer lock file: read-write for whoever may write the state (its
 * write bits), nothing for anybody else. */
static unsigned lock_mode_of(unsigned mode) {
  return (mode & 0222u) | ((mode & 0222u) << 1);
}

/* A readers directory the channel can trust: a directory owned by the
 * state file's owner, sticky unless only its owner may write it. */
static int check_dir(int dir_fd, unsigned owner) {
  struct smr__file_info fi;
  int r = smr__file_info(dir_fd, &fi);
  if (r < 0)
    return r;
  if (!fi.dir || fi.uid != owner || (!(fi.mode & 01000) && (fi.mode & 022)))
    return -EBADMSG;
  return 0;
}

/* Validate a mapped state header (file_size: its file's size). */
static int check_state(struct smr__channel_state *st, uint64_t file_size) {
  if (file_size < SMR__CHANNEL_HEADER_SIZE)
    return -EBADMSG;
  /* acquire: pairs with the release store of magic after initialisation. */
  uint64_t magic = atomic_load_explicit(&st->magic, memory_order_acquire);
  if (magic == 0)
    return -EAGAIN;
  if (magic != SMR__CHANNEL_MAGIC || st->layout != SMR__CHANNEL_LAYOUT ||
      st->header_size != SMR__CHANNEL_HEADER_SIZE || st->buffers < 2 ||
      st->buffers > SMR_CHANNEL_MAX_BUFFERS || st->slots < 1 ||
      st->slots > SMR_CHANNEL_MAX_READERS ||
      (st->flags & ~SMR__CHANNEL_STATE_FLAGS))
    return -EBADMSG;
  if ((st->flags & SMR__CHANNEL_F_NOSUM)
          ? st->checksum_alg != 0
          : st->checksum_alg != SMR__CHANNEL_SUM_XXH3)
    return -EBADMSG;
  return 0;
}

/* Map and validate the state file (read-only or read-write): the header
 * first, then the whole file once `slots` is known. */
static int map_state(int fd, bool writable, struct smr__channel_state **out) {
  uint64_t size;
  int r = smr__file_stat(fd, &size, NULL);
  if (r < 0)
    return r;
  if (size == 0)
    return -EAGAIN; /* created, not yet initialised */
  if (size < SMR__CHANNEL_HEADER_SIZE)
    return -EBADMSG;
  void *p;
  r = smr__map(fd, SMR__CHANNEL_HEADER_SIZE, writable, false, &p);
  if (r < 0)
    return r;
  struct smr__channel_state *st = p;
  r = check_state(st, size);
  unsigned slots = st->slots;
  smr__unmap(p, SMR__CHANNEL_HEADER_SIZE);
  if (r < 0)
    return r;
  if (size < smr__channel_state_size(slots))
    return -EBADMSG;
  r = smr__map(fd, smr__channel_state_size(slots), writable, false, &p);
  if (r < 0)
    return r;
  st = p;
  /* Line 0 is immutable once the magic is set, but the file is untrusted:
   * a writer may have re-created it between the two maps. */
  if (st->slots != slots || check_state(st, size) < 0) {
    smr__unmap(p, smr__channel_state_size(slots));
    return -EBADMSG;
  }
  *out = st;
  return 0;
}

static uint64_t checksum(const void *data, uint64_t size) {
  return smr__hash(data, (size_t)size);
}

static int64_t deadline_of(int64_t timeout_ns) {
  if (timeout_ns < 0)
    return INT64_MAX;
  int64_t now = smr__now_ns();
  return timeout_ns > INT64_MAX - now ? INT64_MAX : now + timeout_ns;
}

/* ---- which file an error is about ---------------------------------------- */

/* The path behind this thread's last error (smr_channel_error_path): its last
 * bytes when longer, so the file name itself is always kept. */
static _Thread_local char err_path[256];

static void note_path(const char *path) {
  size_t n = strlen(path);
  if (n < sizeof err_path) {
    memcpy(err_path, path, n + 1);
    return;
  }
  size_t keep = sizeof err_path - 4;
  memcpy(err_path, "...", 3);
  memcpy(err_path + 3, path + n - keep, keep + 1);
}

const char *smr_channel_error_path(void) {
  return err_path;
}

/* Every public call that can fail starts with this: a path is only ever
 * the one behind the error the call returns, never an earlier call's. */
static void clear_path(void) {
  err_path[0] = '\0';
}

/* An error about the file at `path`: remember the path, return err. */
static int path_error(const char *path, int err) {
  note_path(path);
  return err;
}

/* ---- writer -------------------------------------------------------------- */

#define CLOSED_INO_MAX 64 /* close events by inode kept per drain */

/* A slot file the writer tracks under name r<i>. */
struct slot_ent {
  int fd; /* read-only; -1: no file tracked under this name */
  uint64_t ino;
  const struct smr__channel_slot
      *map; /* same owner as us: mapped; else pread */
};

/* What the writer reads of a slot. */
struct slot_snap {
  uint64_t pin;
  uint32_t active, waiting, pid;
};

/* Read a slot file with pread: 0 if whole, -EBADMSG if short (truncated
 * by its owner), or -errno.  The kernel's copy is plain loads: acquire
 * fence, pairing with the owner's release store of active = 0. */
static int slot_read_fd(int fd, struct slot_snap *out) {
  unsigned char buf[sizeof(struct smr__channel_slot)];
  int n = smr__file_read(fd, buf, sizeof buf, 0);
  if (n < 0)
    return n;
  if (n != (int)sizeof buf)
    return -EBADMSG;
  atomic_thread_fence(memory_order_acquire);
  memcpy(&out->pin, buf + offsetof(struct smr__channel_slot, pin), 8);
  memcpy(&out->active, buf + offsetof(struct smr__channel_slot, active), 4);
  memcpy(&out->waiting, buf + offsetof(struct smr__channel_slot, waiting), 4);
  memcpy(&out->pid, buf + offsetof(struct smr__channel_slot, pid), 4);
  return 0;
}

struct smr_channel_writer {
  char *prefix;
  int lock_fd, state_fd, dir_fd;
  int watch_fd; /* < 0: list the directory on every look */
  bool state_locked;
  struct smr__channel_state *st; /* read-write */
  _Atomic uint64_t *ack;         /* st's acks */
  unsigned nbuf, nslots, flags;  /* flags: the channel's SMR__CHANNEL_F_* */
  unsigned mode, euid;
  bool exact_mode, symmetric, watch_lost;
  int64_t timeout_ns;
  int data_fd[SMR_CHANNEL_MAX_BUFFERS];
  unsigned char *map[SMR_CHANNEL_MAX_BUFFERS];
  uint64_t map_len[SMR_CHANNEL_MAX_BUFFERS];
  uint64_t file_size[SMR_CHANNEL_MAX_BUFFERS];
  uint64_t file_dev[SMR_CHANNEL_MAX_BUFFERS], file_ino[SMR_CHANNEL_MAX_BUFFERS];
  /* Slot files: ent[i] is the file named r<i>; live[0..nlive) the indices
   * with a file; dirty marks names a drain must look up again. */
  struct slot_ent *ent;
  unsigned *live, nlive;
  unsigned char *dirty; /* names to look up again */
  int64_t *closed;      /* names whose file was closed: probe until */
  uint64_t closed_ino[CLOSED_INO_MAX]; /* close events by inode */
  unsigned nclosed_ino;
  bool closed_all;
  unsigned char *seen; /* scratch for listings */
  bool resync;         /* events were lost: list the directory */
  /* Barrier bookkeeping (see the opening comment): pub_seq counts publishes
   * by this writer, decur[i] is pub_seq when buffer i stopped being
   * current, covers is pub_seq at the last barrier, disc_covers at the
   * last look at the readers directory. */
  uint64_t pub_seq, covers, disc_covers, decur[SMR_CHANNEL_MAX_BUFFERS];
  /* held[i]: the `current` value buffer i was last published with; an idle
   * slot announcing exactly that value could still use buffer i. */
  uint64_t held[SMR_CHANNEL_MAX_BUFFERS];
  bool barrier_done; /* one heavy barrier since open (covers takeover) */
  int owner_pid;     /* the process that opened it */
  int build;         /* buffer being built, -1 if none */
  uint64_t build_cap;
  unsigned build_reclaimed;
  int64_t build_waited;
};

/* ---- the writer's view of the slot files ----------------------------------
 * ent[i] always names the inode the writer last found under r<i> (or none).
 * Readers link their file in only after locking it, and remove it only
 * after clearing their pin (close) or once dead, so dropping an entry
 * whose name went away never drops a live reader's announcement. */

static void ent_drop(smr_channel_writer *w, unsigned i) {
  struct slot_ent *e = &w->ent[i];
  if (e->fd < 0)
    return;
  smr__unmap((void *)e->map, e->map ? SMR__CHANNEL_SLOT_FILE_SIZE : 0);
  smr__file_close(e->fd);
  e->fd = -1;
  e->map = NULL;
  e->ino = 0;
  for (unsigned j = 0; j < w->nlive; j++)
    if (w->live[j] == i) {
      w->live[j] = w->live[--w->nlive];
      break;
    }
  /* relaxed: informational for a reader whose file is gone. */
  if (w->ack)
    atomic_store_explicit(&w->ack[i], 0, memory_order_relaxed);
}

/* Open errors that prove a name is not a reader's slot file: gone, not a
 * regular file or a symlink (-EBADMSG), unreadable to us (readers make
 * their file 0644 before linking it), a socket (-ENXIO), a device, a file
 * under a lease.  Any other error (out of descriptors, I/O, interrupted)
 * says nothing about the name: the look fails and is redone. */
static bool not_a_slot(int err) {
  return err == -ENOENT || err == -EBADMSG || err == -EACCES || err == -EPERM ||
         err == -ENXIO || err == -ENODEV || err == -EAGAIN ||
         err == -EOPNOTSUPP;
}

/* Look up name r<i> again and track what it names now. */
static int ent_resolve(smr_channel_writer *w, unsigned i) {
  char name[SLOT_NAME_MAX];
  slot_name(name, i);
  int fd = smr__file_openat(w->dir_fd, name, SMR__OPEN_READ, 0, false);
  if (fd < 0 && !not_a_slot(fd))
    return fd; /* out of descriptors, I/O error...: look again later */
  if (fd < 0) {
    ent_drop(w, i);
    return 0;
  }
  struct smr__file_info fi;
  int r = smr__file_info(fd, &fi);
  if (r < 0) {
    smr__file_close(fd);
    return r;
  }
  if (w->ent[i].fd >= 0 && w->ent[i].ino == fi.ino) {
    smr__file_close(fd);
    return 0;
  }
  ent_drop(w, i);
  struct slot_ent *e = &w->ent[i];
  e->fd = fd;
  e->ino = fi.ino;
  /* Mapped only if only a process able to kill us could truncate it: our
   * owner, writable by the owner alone (only the owner can change that),
   * one link (not one of our data files linked in where hard links to
   * others' files are allowed).  Anything else is read with pread. */
  if (fi.uid == w->euid && !(fi.mode & 022) && fi.nlink == 1 &&
      fi.size >= SMR__CHANNEL_SLOT_FILE_SIZE) {
    void *p;
    if (smr__map(fd, SMR__CHANNEL_SLOT_FILE_SIZE, false, false, &p) == 0)
      e->map = p;
  }
  w->live[w->nlive++] = i;
  /* release: pairs with the acquire load in smr_channel_wait; a reader that
   * sees its inode here knows every later commit checks its `waiting`. */
  atomic_store_explicit(&w->ack[i], fi.ino, memory_order_release);
  return 0;
}

/* What slot file e announces: 0, -EBADMSG if its owner truncated it (it
 * announces nothing), or the read's error (we cannot know what it
 * announces: the caller treats it as pinning every buffer). */
static int slot_load(const struct slot_ent *e, struct slot_snap *out) {
  if (e->map) {
    /* acquire: pairs with the reader's release store of active = 0, so
     * its reads of a buffer happen before we reuse it. */
    out->pin = atomic_load_explicit(&e->map->pin, memory_order_acquire);
    out->active = atomic_load_explicit(&e->map->active, memory_order_acquire);
    /* relaxed: `waiting` is ordered by the fence in commit (see
     * any_waiting) where it matters; pid is informational. */
    out->waiting = atomic_load_explicit(&e->map->waiting, memory_order_relaxed);
    out->pid = atomic_load_explicit(&e->map->pid, memory_order_relaxed);
    return 0;
  }
  return slot_read_fd(e->fd, out);
}

/* Remove the file of dead reader i: under a shared lock on it (readers
 * removing a dead file take the exclusive one), and only if its name still
 * names it.  Returns 1 if removed, 0 if someone else is at it. */
static int remove_dead(smr_channel_writer *w, unsigned i) {
  struct slot_ent *e = &w->ent[i];
  int r = smr__lock_byte_shared(e->fd, 0);
  if (r == -EAGAIN) {
    ent_drop(w, i);
    return 0;
  }
  if (r < 0)
    return r;
  char name[SLOT_NAME_MAX];
  slot_name(name, i);
  struct smr__file_info fi;
  int removed = 0;
  if (smr__dir_entry_info(w->dir_fd, name, &fi) == 0 && fi.ino == e->ino &&
      smr__dir_unlink(w->dir_fd, name) == 0)
    removed = 1;
  smr__unlock_byte(e->fd, 0);
  ent_drop(w, i);
  return removed;
}

/* If nobody holds slot file i's lock, its owner died (or closed, after
 * clearing its pin): stop tracking it, remove it, count it.  Returns 1 if
 * so, 0 if it is alive, or a negative errno. */
static int reap(smr_channel_writer *w, unsigned i) {
  int r = smr__lock_held(w->ent[i].fd, 0);
  if (r != 0)
    return r < 0 ? r : 0;
  r = remove_dead(w, i);
  if (r < 0)
    return r;
  if (r > 0)
    /* relaxed: statistics. */
    atomic_fetch_add_explicit(&w->st->dead_reclaimed, 1, memory_order_relaxed);
  return 1;
}

static int list_one(const char *name, void *arg) {
  smr_channel_writer *w = arg;
  int i = parse_slot_name(name, w->nslots);
  if (i >= 0)
    w->seen[i] = 1;
  return 0;
}

/* List the directory and track exactly the slot files it names.  On error
 * the listing is redone at the next look (nothing is dropped unseen). */
static int disc_resync(smr_channel_writer *w) {
  w->resync = true;
  memset(w->seen, 0, w->nslots);
  int r = smr__dir_list(w->dir_fd, list_one, w);
  if (r < 0)
    return r;
  for (unsigned i = 0; i < w->nslots; i++) {
    if (w->seen[i]) {
      r = ent_resolve(w, i);
      if (r < 0)
        return r;
    } else {
      ent_drop(w, i);
    }
    w->dirty[i] = 0; /* looked up just now */
  }
  w->resync = false;
  return 0;
}

/* How long after its close event a file still locked is probed again. */
#define CLOSED_PROBE_NS 100000000ll

/* A reader's slot descriptor comes from O_TMPFILE: the kernel names its
 * events "#<inode>", not r<i>.  Remember the inode; disc_update matches it
 * to a tracked file once the names of this drain are looked up. */
static void close_by_inode(smr_channel_writer *w, const char *digits) {
  uint64_t ino = 0;
  for (const char *p = digits; *p; p++) {
    if (*p < '0' || *p > '9' || ino > UINT64_MAX / 10)
      return;
    ino = ino * 10 + (uint64_t)(*p - '0');
  }
  if (w->nclosed_ino < CLOSED_INO_MAX)
    w->closed_ino[w->nclosed_ino++] = ino;
  else
    w->closed_all = true; /* too many at once: probe every file */
}

static void mark_closed(smr_channel_writer *w, unsigned i) {
  w->closed[i] = smr__now_ns() + CLOSED_PROBE_NS;
}

static void drain_one(const char *name, unsigned what, void *arg) {
  smr_channel_writer *w = arg;
  int i = parse_slot_name(name, w->nslots);
  if (what == SMR__WATCH_NAME && i >= 0)
    w->dirty[i] = 1;
  else if (what == SMR__WATCH_CLOSED && i >= 0)
    mark_closed(w, (unsigned)i);
  else if (what == SMR__WATCH_CLOSED && name[0] == '#')
    close_by_inode(w, name + 1);
  else if (what == SMR__WATCH_OVERFLOW)
    w->resync = true;
  else if (what == SMR__WATCH_GONE)
    w->watch_lost = true; /* directory removed: list it each time */
}

/* Events to read per look before listing the directory instead: a flood
 * of events costs one listing, not an unbounded drain. */
#define DRAIN_MAX_READS 16u

/* Dead readers whose files pin nothing we need are found here: a reader
 * that closed its slot file's descriptor (process exit included) leaves a
 * close event.  The kernel reports the close just before it drops the
 * lock, so a file still locked is probed again at each look for a while
 * (CLOSED_PROBE_NS); one alive after that is alive (a forked child holds
 * the descriptor, or its owner opened and closed it once more). */
static int disc_reap(smr_channel_writer *w) {
  for (unsigned k = 0; k < w->nclosed_ino; k++)
    for (unsigned j = 0; j < w->nlive; j++)
      if (w->ent[w->live[j]].ino == w->closed_ino[k])
        mark_closed(w, w->live[j]);
  w->nclosed_ino = 0;
  if (w->closed_all)
    for (unsigned j = 0; j < w->nlive; j++)
      mark_closed(w, w->live[j]);
  w->closed_all = false;
  int64_t now = 0;
  for (unsigned i = 0; i < w->nslots; i++) {
    if (!w->closed[i])
      continue;
    if (!now)
      now = smr__now_ns();
    if (w->ent[i].fd < 0 || now > w->closed[i]) {
      w->closed[i] = 0;
      continue;
    }
    int r = reap(w, i);
    if (r < 0)
      return r;
    if (r > 0)
      w->closed[i] = 0;
  }
  return 0;
}

/* Bring the slot files up to date.  Afterwards every reader that linked
 * its file before this call is tracked; one that links later loads
 * `current` after it, so cannot announce a buffer de-current before it.
 * A name is marked done only once looked up, so an error (out of
 * descriptors) leaves disc_covers behind and the look is redone. */
static int disc_update(smr_channel_writer *w) {
  int r = 0;
  if (w->watch_fd >= 0 && !w->watch_lost) {
    r = smr__watch_drain(w->watch_fd, drain_one, w, DRAIN_MAX_READS);
    if (r > 0)
      w->resync = true; /* more pending: a listing covers them */
    if (r < 0)
      return r;
  } else {
    w->resync = true;
  }
  if (w->resync) {
    r = disc_resync(w);
    if (r < 0)
      return r;
  }
  for (unsigned i = 0; i < w->nslots; i++)
    if (w->dirty[i]) {
      r = ent_resolve(w, i);
      if (r < 0)
        return r;
      w->dirty[i] = 0;
    }
  r = disc_reap(w);
  if (r < 0)
    return r;
  w->disc_covers = w->pub_seq;
  return 0;
}

static void writer_free(smr_channel_writer *w) {
  for (unsigned i = 0; i < SMR_CHANNEL_MAX_BUFFERS; i++) {
    smr__unmap(w->map[i], w->map_len[i]);
    smr__file_close(w->data_fd[i]);
  }
  w->ack = NULL; /* acks stay: a later writer resets them */
  if (w->ent)
    for (unsigned i = 0; i < w->nslots; i++)
      ent_drop(w, i);
  free(w->ent);
  free(w->live);
  free(w->dirty);
  free(w->closed);
  free(w->seen);
  if (w->st)
    smr__unmap(w->st, smr__channel_state_size(w->nslots));
  smr__file_close(w->watch_fd);
  smr__file_close(w->dir_fd);
  /* A forked child shares the locks' open file descriptions: unlock them
   * explicitly (closing our fd would leave the child holding them), unless
   * we are such a child. */
  if (w->owner_pid == smr__getpid()) {
    if (w->state_locked)
      smr__unlock_byte(w->state_fd, 0);
    if (w->lock_fd >= 0)
      smr__unlock_byte(w->lock_fd, 0);
  }
  smr__file_close(w->state_fd);
  smr__file_close(w->lock_fd);
  free(w->prefix);
  free(w);
}

static int unlink_one(const char *name, void *arg) {
  smr__dir_unlink(*(int *)arg, name); /* best effort */
  return 0;
}

/* Remove the readers directory (or a file of that name) and its entries. */
static int remove_readers_dir(const char *prefix) {
  char path[PATH_MAX];
  file_path(path, prefix, ".smr-readers", -1);
  int fd = smr__dir_open(path);
  if (fd == -ENOENT)
    return 0;
  if (fd == -EBADMSG) {
    int r = smr__file_unlink(path); /* a file or symlink in its place */
    return r == -ENOENT ? 0 : r;
  }
  if (fd < 0)
    return fd;
  struct smr__file_info fi;
  int r = smr__file_info(fd, &fi);
  if (r == 0)
    r = smr__dir_list(fd, unlink_one, &fd);
  smr__file_close(fd);
  if (r == 0)
    r = smr__dir_remove(path);
  /* Another user left a directory of its own inside (we may remove
   * entries, not what its directories hold): move ours aside, under a name
   * nobody can take first.  One derived from the inode alone could be
   * (readers see the inode), and rename fails on another user's name: a
   * new name from the clock on each try. */
  bool move = r == -ENOTEMPTY || r == -EEXIST;
  for (unsigned k = 0; move && k < 8; k++) {
    char aside[PATH_MAX];
    snprintf(aside, sizeof aside, "%s.smr-readers.old-%llu", prefix,
             (unsigned long long)((uint64_t)smr__now_ns() ^ (fi.ino << 32)));
    r = smr__file_rename(path, aside);
    move = r != 0 && r != -ENOENT;
  }
  return r == -ENOENT ? 0 : r;
}

/* Open the readers directory, the watch and the slot-file tables, and
 * look at the directory once. */
static int open_readers_dir(smr_channel_writer *w, unsigned owner) {
  char path[PATH_MAX];
  file_path(path, w->prefix, ".smr-readers", -1);
  int r = smr__dir_open(path);
  if (r < 0)
    return path_error(path, r == -ENOENT ? -EBADMSG : r);
  w->dir_fd = r;
  r = check_dir(w->dir_fd, owner);
  if (r < 0)
    return path_error(path, r);
  w->ent = calloc(w->nslots, sizeof *w->ent);
  w->live = calloc(w->nslots, sizeof *w->live);
  w->dirty = calloc(w->nslots, 1);
  w->closed = calloc(w->nslots, sizeof *w->closed);
  w->seen = calloc(w->nslots, 1);
  if (!w->ent || !w->live || !w->dirty || !w->closed || !w->seen)
    return -ENOMEM;
  for (unsigned i = 0; i < w->nslots; i++)
    w->ent[i].fd = -1;
  w->ack = smr__channel_acks(w->st);
  /* relaxed: acks of an earlier writer are void until we track the file
   * again (the release store in ent_resolve); a reader that still sees an
   * old ack is tracked by our listing below before our first commit. */
  for (unsigned i = 0; i < w->nslots; i++)
    atomic_store_explicit(&w->ack[i], 0, memory_order_relaxed);
  /* Watch first, then list: a name linked in between is in both. */
  w->watch_fd = smr__watch_open(path);
  if (w->watch_fd < 0)
    w->watch_fd = -1; /* no inotify (limits): list on every look */
  r = disc_resync(w);
  /* Files of readers that died before we came: remove them now. */
  for (unsigned j = 0; r >= 0 && j < w->nlive;) {
    r = reap(w, w->live[j]);
    if (r == 0)
      j++;
  }
  return r < 0 ? r : 0;
}

/* ---- the writer's own files -----------------------------------------------
 * In a shared directory (/dev/shm is world-writable) any local user can
 * create a channel's names before the writer does.  The writer never adopts
 * a file it did not create: it creates each file exclusively (O_EXCL, mkdir,
 * and link, which never replaces, for the state file of a new channel), and
 * accepts an existing one (a channel it takes over, the lock file) only if
 * it is a regular file of its own euid with a single link.  A name another
 * user holds is -EPERM; one of ours that is not such a file is -EEXIST;
 * either way smr_channel_error_path() names it, and nothing is written to it.
 */

/* The name-of-a-channel-file index the writer creates: the readers
 * directory, the new state file, data file i (0 <= i < 32). */
#define NAME_READERS (-2)
#define NAME_NEW     (-1)

static void writer_path(char *buf, const char *prefix, int which) {
  if (which == NAME_READERS)
    file_path(buf, prefix, ".smr-readers", -1);
  else if (which == NAME_NEW)
    file_path(buf, prefix, ".smr-new", -1);
  else
    file_path(buf, prefix, ".smr-data-", which);
}

/* A name that exists, as an error (noted): -EPERM if another user holds
 * it, -EEXIST if it is ours but not a regular file with one link, else
 * `err` (the name is fine or gone: the call failed for another reason). */
static int name_taken(const smr_channel_writer *w, const char *path, int err) {
  struct smr__file_info fi;
  if (smr__dir_entry_info(-1, path, &fi) == 0) {
    if (fi.uid != w->euid)
      err = -EPERM;
    else if (!fi.regular || fi.nlink != 1)
      err = -EEXIST;
  }
  return path_error(path, err);
}

/* An open file the writer will write: a regular file (smr__file_open
 * checked that), ours, one link; one it has just created (`mode` != 0)
 * has no permission bit beyond `mode` (the umask only removes bits). */
static int check_own(const smr_channel_writer *w, int fd, const char *path,
                     unsigned mode) {
  struct smr__file_info fi;
  int r = smr__file_info(fd, &fi);
  if (r < 0)
    return path_error(path, r);
  if (fi.uid != w->euid)
    return path_error(path, -EPERM);
  if (!fi.regular || fi.nlink != 1 || (mode && (fi.mode & ~mode)))
    return path_error(path, -EEXIST);
  return 0;
}

/* Open `path` read-write, created exclusively (`create`) or existing;
 * verified with check_own.  Returns the fd. */
static int open_checked(const smr_channel_writer *w, const char *path,
                        unsigned mode, bool create) {
  unsigned how = SMR__OPEN_RDWR;
  if (create)
    how |= SMR__OPEN_CREATE | SMR__OPEN_EXCL;
  int fd = smr__file_open(path, how, mode, w->exact_mode);
  if (fd == -ENOENT || fd == -EEXIST)
    return fd; /* the caller decides */
  if (fd < 0)
    return name_taken(w, path, fd == -EBADMSG ? -EEXIST : fd);
  int r = check_own(w, fd, path, create ? mode : 0);
  if (r < 0) {
    smr__file_close(fd);
    return r;
  }
  return fd;
}

/* A file of the channel the writer may take over: the existing one if it
 * is ours, else (absent) a new one, created exclusively.  The fd;
 * -ENOENT (noted) if absent and not `create`. */
static int open_own(const smr_channel_writer *w, const char *path,
                    unsigned mode, bool create) {
  for (unsigned k = 0; k < 8; k++) {
    int fd = open_checked(w, path, 0, false);
    if (fd == -ENOENT && create)
      fd = open_checked(w, path, mode, true);
    if (fd == -EEXIST)
      continue; /* created meanwhile: look at that file */
    return fd == -ENOENT ? path_error(path, fd) : fd;
  }
  return name_taken(w, path, -EEXIST);
}

/* A new file, created exclusively: the fd. */
static int create_own(const smr_channel_writer *w, const char *path,
                      unsigned mode) {
  int fd = open_checked(w, path, mode, true);
  return fd == -EEXIST || fd == -ENOENT ? name_taken(w, path, fd) : fd;
}

/* A name the new channel needs: free, or held by something of ours that an
 * earlier channel left (0), or another user's (-EPERM, noted). */
static int check_stale(const smr_channel_writer *w, const char *path) {
  struct smr__file_info fi;
  int r = smr__dir_entry_info(-1, path, &fi);
  if (r == -ENOENT)
    return 0;
  if (r < 0)
    return path_error(path, r);
  return fi.uid == w->euid ? 0 : path_error(path, -EPERM);
}

/* Remove what an earlier channel of ours left under `path`. */
static int remove_stale(const smr_channel_writer *w, const char *path) {
  int r = check_stale(w, path);
  if (r == 0)
    r = smr__file_unlink(path);
  return r == 0 || r == -ENOENT ? 0 : path_error(path, r);
}

/* Remove a name only if it still names inode `ino` (dir_fd < 0: a path). */
static void unlink_if_ours(int dir_fd, const char *name, uint64_t ino) {
  struct smr__file_info fi;
  if (smr__dir_entry_info(dir_fd, name, &fi) == 0 && fi.ino == ino)
    smr__dir_unlink(dir_fd, name);
}

/* Data file i: its descriptor, size and identity. */
static int adopt_data(smr_channel_writer *w, unsigned i, int fd) {
  w->data_fd[i] = fd;
  int r = smr__file_stat(fd, &w->file_size[i], NULL);
  if (r == 0)
    r = smr__file_id(fd, &w->file_dev[i], &w->file_ino[i]);
  return r;
}

/* Undo a creation that failed before the state file was named: remove the
 * names this writer created (it holds the lock: nobody else creates). */
static void create_undo(smr_channel_writer *w, bool dir_made, int new_fd) {
  char path[PATH_MAX];
  for (unsigned i = 0; i < w->nbuf; i++) {
    if (w->data_fd[i] < 0)
      continue;
    writer_path(path, w->prefix, (int)i);
    unlink_if_ours(-1, path, w->file_ino[i]);
  }
  uint64_t dev, ino;
  if (new_fd >= 0 && smr__file_id(new_fd, &dev, &ino) == 0) {
    writer_path(path, w->prefix, NAME_NEW);
    unlink_if_ours(-1, path, ino);
  }
  if (dir_made)
    remove_readers_dir(w->prefix);
}

/* Fill a new state file (mapped at w->st) and open the readers directory;
 * the magic last. */
static int state_init(smr_channel_writer *w, int fd) {
  uint64_t size = smr__channel_state_size(w->nslots);
  int r = smr__file_allocate(fd, size);
  void *p = NULL;
  if (r == 0)
    r = smr__map(fd, size, true, false, &p);
  if (r < 0)
    return r;
  struct smr__channel_state *st = p;
  w->st = st;
  st->layout = SMR__CHANNEL_LAYOUT;
  st->header_size = SMR__CHANNEL_HEADER_SIZE;
  st->buffers = w->nbuf;
  st->slots = w->nslots;
  st->flags = w->flags;
  st->checksum_alg =
      (w->flags & SMR__CHANNEL_F_NOSUM) ? 0 : SMR__CHANNEL_SUM_XXH3;
  st->created_ns = (uint64_t)smr__now_ns();
  r = open_readers_dir(w, w->euid);
  if (r < 0)
    return r;
  if (w->flags & SMR__CHANNEL_F_DURABLE) {
    r = smr__map_sync(st, size);
    if (r < 0)
      return r;
  }
  /* release: everything above is visible to a reader that sees the magic
   * (pairs with the acquire load in check_state). */
  atomic_store_explicit(&st->magic, SMR__CHANNEL_MAGIC, memory_order_release);
  return 0;
}

/* Create the channel: every file new and exclusively created, the state
 * file complete before it gets its name.  `replace`: a state file of ours
 * left by a creation that died stays as it is (a reader may have it
 * mapped): the new one is renamed over it. */
static int writer_create(smr_channel_writer *w,
                         const struct smr_channel_options *o, bool replace) {
  unsigned flags = o ? o->flags : 0;
  w->nbuf = o && o->buffers ? o->buffers : 3;
  w->nslots = o && o->readers ? o->readers : 64;
  w->flags = state_flags_of(flags);
  const char *env = smr__getenv("SMR_FENCE");
  if (env && strcmp(env, "symmetric") == 0)
    w->flags |= SMR__CHANNEL_F_SYMMETRIC;
  /* No usable membarrier here (old kernel, seccomp): readers fence. */
  if (!(w->flags & SMR__CHANNEL_F_SYMMETRIC) && smr__membarrier_global() < 0)
    w->flags |= SMR__CHANNEL_F_SYMMETRIC;
  unsigned reader_mode = o && o->reader_mode ? o->reader_mode : 0666;
  char path[PATH_MAX];
  /* Every name first: another user's anywhere means nothing is touched. */
  for (int k = NAME_READERS; k < (int)w->nbuf; k++) {
    writer_path(path, w->prefix, k);
    int r = check_stale(w, path);
    if (r < 0)
      return r;
  }
  /* New inodes for everything: readers of an earlier channel keep their
   * slot files in the old directory, which we can no longer reach, and
   * their mappings of the old data files. */
  int r = remove_readers_dir(w->prefix);
  if (r < 0) {
    writer_path(path, w->prefix, NAME_READERS);
    return path_error(path, r);
  }
  for (int k = NAME_NEW; k < (int)SMR_CHANNEL_MAX_BUFFERS; k++) {
    writer_path(path, w->prefix, k);
    r = remove_stale(w, path);
    if (r < 0 && k < (int)w->nbuf)
      return r;
  }
  writer_path(path, w->prefix, NAME_READERS);
  r = smr__dir_create(path, dir_mode_of(reader_mode), w->exact_mode);
  if (r < 0)
    return r == -EEXIST ? name_taken(w, path, r) : path_error(path, r);
  int fd = -1;
  for (unsigned i = 0; r == 0 && i < w->nbuf; i++) {
    writer_path(path, w->prefix, (int)i);
    fd = create_own(w, path, w->mode);
    r = fd < 0 ? fd : adopt_data(w, i, fd);
  }
  fd = -1;
  if (r == 0) {
    writer_path(path, w->prefix, NAME_NEW);
    r = fd = create_own(w, path, w->mode);
  }
  if (r >= 0)
    r = state_init(w, fd);
  if (r >= 0) {
    char final[PATH_MAX];
    file_path(final, w->prefix, ".smr", -1);
    /* Named complete: a reader never sees a half-made state file. */
    r = replace ? smr__file_rename(path, final)
                : smr__dir_link(-1, path, final);
    if (r == -EEXIST)
      r = name_taken(w, final, r); /* taken since we looked */
    else if (r < 0)
      r = path_error(final, r);
    else if (!replace)
      smr__file_unlink(path);
  }
  if (r < 0) {
    create_undo(w, true, fd);
    smr__file_close(fd);
    return r;
  }
  w->state_fd = fd;
  return 0;
}

/* Take over the channel whose state file (ours, at `state_path`) is open. */
static int writer_takeover(smr_channel_writer *w, const char *state_path) {
  int r = map_state(w->state_fd, true, &w->st);
  if (r < 0)
    return path_error(state_path, r == -EAGAIN ? -EBADMSG : r);
  w->nbuf = w->st->buffers;
  w->nslots = w->st->slots;
  w->flags = w->st->flags;
  /* relaxed: the lock we hold orders us after the previous writer. */
  uint64_t cur = atomic_load_explicit(&w->st->current, memory_order_relaxed);
  if (cur &&
      (SMR__CHANNEL_INDEX(cur) >= w->nbuf || SMR__CHANNEL_VERSION(cur) == 0))
    return path_error(state_path, -EBADMSG);
  /* A missing directory is refused, not re-created: readers that have the
   * old one open would be invisible to us.  (The state file is ours.) */
  r = open_readers_dir(w, w->euid);
  char path[PATH_MAX];
  /* The data files: ours, or created now where an earlier version of the
   * library had not yet made one. */
  for (unsigned i = 0; r == 0 && i < w->nbuf; i++) {
    writer_path(path, w->prefix, (int)i);
    int fd = open_own(w, path, w->mode, true);
    r = fd < 0 ? fd : adopt_data(w, i, fd);
  }
  return r;
}

/* The single-writer lock, in a file only writers can open: a lock on a
 * file readers can read could be taken (shared) by any of them.  The lock
 * must be on the file that has the name now (smr_channel_unlink removes it). */
static int writer_lock(smr_channel_writer *w) {
  char path[PATH_MAX];
  file_path(path, w->prefix, ".smr-lock", -1);
  for (unsigned k = 0; k < 8; k++) {
    int fd = open_own(w, path, lock_mode_of(w->mode), true);
    if (fd < 0)
      return fd;
    int r = smr__lock_byte(fd, 0);
    uint64_t dev, ino;
    struct smr__file_info fi;
    if (r == 0)
      r = smr__file_id(fd, &dev, &ino);
    if (r == 0 && smr__dir_entry_info(-1, path, &fi) == 0 && fi.ino == ino &&
        fi.dev == dev) {
      w->lock_fd = fd;
      return 0;
    }
    if (r == 0)
      smr__unlock_byte(fd, 0); /* removed meanwhile: take the new one */
    smr__file_close(fd);
    if (r < 0)
      return r == -EAGAIN ? -EBUSY : path_error(path, r);
  }
  return path_error(path, -EBUSY);
}

/* A creation that died between linking NAME.smr-new as NAME.smr and
 * removing the new name left the complete state file with two names (one
 * link too many for open_own): remove the second name.  Only names of our
 * own user that name the same inode; we hold the writer lock, and in a
 * sticky directory nobody else can move our names. */
static void drop_new_link(const smr_channel_writer *w, const char *state_path) {
  char path[PATH_MAX];
  writer_path(path, w->prefix, NAME_NEW);
  struct smr__file_info st, nw;
  if (smr__dir_entry_info(-1, state_path, &st) == 0 &&
      smr__dir_entry_info(-1, path, &nw) == 0 && st.regular && nw.regular &&
      st.uid == w->euid && nw.uid == w->euid && st.dev == nw.dev &&
      st.ino == nw.ino && st.nlink == 2)
    smr__file_unlink(path);
}

/* Open the state file: create the channel, or take it over.  A state file
 * with magic 0 (or empty) was left by a writer that died creating the
 * channel: start again, under a new inode. */
static int writer_state(smr_channel_writer *w,
                        const struct smr_channel_options *o) {
  char path[PATH_MAX];
  file_path(path, w->prefix, ".smr", -1);
  drop_new_link(w, path);
  int fd = open_own(w, path, 0, false);
  if (fd == -ENOENT)
    return writer_create(w, o, false);
  if (fd < 0)
    return fd;
  uint64_t size;
  int r = smr__file_stat(fd, &size, NULL);
  bool fresh = r == 0 && size == 0;
  if (r == 0 && size >= SMR__CHANNEL_HEADER_SIZE) {
    void *p;
    r = smr__map(fd, SMR__CHANNEL_HEADER_SIZE, false, false, &p);
    if (r == 0) {
      /* relaxed: we hold the writer lock; nobody writes the file. */
      fresh = atomic_load_explicit(&((struct smr__channel_state *)p)->magic,
                                   memory_order_relaxed) == 0;
      smr__unmap(p, SMR__CHANNEL_HEADER_SIZE);
    }
  }
  if (r < 0 || fresh) {
    smr__file_close(fd);
    return r < 0 ? path_error(path, r) : writer_create(w, o, true);
  }
  w->state_fd = fd;
  return writer_takeover(w, path);
}

int smr_channel_writer_open(const char *name,
                            const struct smr_channel_options *o,
                            smr_channel_writer **out) {
  clear_path();
  if (!out)
    return -EINVAL;
  *out = NULL;
  if (o && ((o->buffers &&
             (o->buffers < 2 || o->buffers > SMR_CHANNEL_MAX_BUFFERS)) ||
            o->readers > SMR_CHANNEL_MAX_READERS ||
            (o->flags & ~SMR__CHANNEL_FLAGS_KNOWN) || o->mode > 07777 ||
            o->reader_mode > 07777))
    return -EINVAL;
  smr_channel_writer *w = calloc(1, sizeof *w);
  if (!w)
    return -ENOMEM;
  w->state_fd = w->lock_fd = w->dir_fd = w->watch_fd = -1;
  for (unsigned i = 0; i < SMR_CHANNEL_MAX_BUFFERS; i++)
    w->data_fd[i] = -1;
  w->build = -1;
  w->owner_pid = smr__getpid();
  w->euid = smr__geteuid();
  w->mode = o && o->mode ? o->mode : 0644;
  w->exact_mode = o && (o->flags & SMR_CHANNEL_NO_UMASK);
  w->timeout_ns = o && o->timeout_set ? o->timeout_ns : DEFAULT_TIMEOUT_NS;
  int r = make_prefix(name, &w->prefix);
  if (r == 0)
    r = writer_lock(w);
  if (r == 0)
    r = writer_state(w, o);
  if (r < 0)
    goto fail;
  /* For observers only (smr_channel_stat: writer alive): a reader holding a
   * shared lock here can hide us from them, not keep us out. */
  w->state_locked = smr__lock_byte(w->state_fd, 0) == 0;
  w->symmetric = (w->flags & SMR__CHANNEL_F_SYMMETRIC) != 0;
  /* Nothing this writer knows about the readers yet: a barrier comes
   * before the first reuse (decur 1 > covers 0); the directory was listed
   * just now (disc_covers 1). */
  w->pub_seq = 1;
  w->covers = 0;
  w->disc_covers = 1;
  for (unsigned i = 0; i < w->nbuf; i++) {
    w->decur[i] = 1;
    /* relaxed: we hold the writer lock; descriptors are ours. */
    uint64_t v =
        atomic_load_explicit(&w->st->desc[i].version, memory_order_relaxed);
    w->held[i] = v ? (v << 8) | i : 0;
  }
  /* relaxed: statistics and flags only the writer writes; a waiting flag
   * left by a crashed writer is cleared (it only costs readers a syscall). */
  atomic_store_explicit(&w->st->waiting, 0, memory_order_relaxed);
  atomic_store_explicit(&w->st->writer_pid, (uint32_t)smr__getpid(),
                        memory_order_relaxed);
  /* A writer that died between storing `current` and waking readers:
   * bring `notify` up to date and wake them (release: pairs with the
   * readers' load of notify). */
  uint64_t now_cur =
      atomic_load_explicit(&w->st->current, memory_order_relaxed);
  atomic_store_explicit(&w->st->notify, (uint32_t)SMR__CHANNEL_VERSION(now_cur),
                        memory_order_release);
  smr__futex_wake(&w->st->notify, INT_MAX);
  clear_path(); /* names of other users the channel does not need */
  *out = w;
  return 0;
fail:
  writer_free(w);
  return r;
}

int smr_channel_writer_close(smr_channel_writer *w) {
  if (w)
    writer_free(w);
  return 0;
}

int smr_channel_writer_set_timeout(smr_channel_writer *w, int64_t timeout_ns) {
  if (!w)
    return -EINVAL;
  w->timeout_ns = timeout_ns;
  return 0;
}

/* The heavy barrier that lets the writer trust a scan: every reader either
 * made its announcement visible or will see the new `current`. */
static int writer_barrier(smr_channel_writer *w) {
  if (w->symmetric) {
    smr__fence_seq_cst(); /* pairs with the readers' fence after announcing */
    return 0;
  }
  smr__fence_seq_cst(); /* our stores before the barrier (membarrier also
                           fences the caller; this keeps TSAN informed) */
  return smr__membarrier_global();
}

/* Scan the slot files.  *active: bit i set if a slot holds a guard on a
 * version of buffer i.  *idle: bit i set if an idle slot announces held[i],
 * the version buffer i still holds (its owner may be about to mark it
 * active: only a heavy barrier after buffer i stopped being current rules
 * that out).  Idle slots announcing anything else can never use their
 * buffer again without a new announcement (versions only grow).  A slot
 * that cannot be read (pread failed: EIO, ENOMEM, EINTR...) may hold a
 * guard on any buffer: it pins them all, and its error is returned (0 if
 * every slot was read; a slot its owner truncated announces nothing). */
static int scan_pins(smr_channel_writer *w, uint32_t *active, uint32_t *idle) {
  uint32_t a = 0, d = 0;
  int err = 0;
  for (unsigned j = 0; j < w->nlive; j++) {
    struct slot_snap sn;
    int r = slot_load(&w->ent[w->live[j]], &sn);
    if (r == -EBADMSG)
      continue;
    if (r < 0) {
      a = ~0u;
      err = r;
      continue;
    }
    uint64_t p = sn.pin;
    if (!p || SMR__CHANNEL_INDEX(p) >= w->nbuf)
      continue;
    uint32_t bit = 1u << SMR__CHANNEL_INDEX(p);
    if (sn.active)
      a |= bit;
    else if (p == w->held[SMR__CHANNEL_INDEX(p)])
      d |= bit;
  }
  *active = a;
  *idle = d;
  return err;
}

/* Buffers of `candidates` usable now: not held by an active slot, not
 * announced by an idle one unless a heavy barrier followed their
 * de-current, and de-current before the last look at the directory. */
static uint32_t usable(smr_channel_writer *w, uint32_t candidates,
                       uint32_t active, uint32_t idle) {
  uint32_t ok = 0;
  for (unsigned i = 0; i < w->nbuf; i++) {
    uint32_t bit = 1u << i;
    if ((candidates & bit) && !(active & bit) &&
        (!(idle & bit) || w->decur[i] <= w->covers) &&
        w->decur[i] <= w->disc_covers)
      ok |= bit;
  }
  return ok;
}

/* Drop the slot files of dead readers that pin a buffer in `mask`.  Returns
 * how many were reclaimed or a negative errno. */
static int reclaim_dead(smr_channel_writer *w, uint32_t mask) {
  int n = 0;
  for (unsigned j = 0; j < w->nlive;) {
    unsigned i = w->live[j];
    struct slot_snap sn;
    int lr = slot_load(&w->ent[i], &sn);
    /* Unreadable: it may pin any buffer of `mask`; dead, it pins none. */
    if (lr == -EBADMSG ||
        (lr == 0 && (!sn.pin || SMR__CHANNEL_INDEX(sn.pin) >= w->nbuf ||
                     !(mask & (1u << SMR__CHANNEL_INDEX(sn.pin)))))) {
      j++;
      continue;
    }
    int r = reap(w, i);
    if (r < 0)
      return r;
    if (r == 0) {
      j++; /* alive */
      continue;
    }
    n++; /* entry j now holds another index: j stays */
  }
  return n;
}

/* Pick a buffer to build into: not current, de-current before the last
 * barrier and the last look at the directory, unpinned in a scan after
 * them.  Waits for live readers up to the timeout; reclaims dead ones on
 * the way. */
static int choose_buffer(smr_channel_writer *w, unsigned *out) {
  /* relaxed: only this writer stores `current`. */
  uint64_t cur = atomic_load_explicit(&w->st->current, memory_order_relaxed);
  int cur_idx = cur ? (int)SMR__CHANNEL_INDEX(cur) : -1;
  int64_t deadline = 0, start = 0, slice = LIVENESS_MIN_NS;
  uint32_t candidates = 0;
  for (unsigned i = 0; i < w->nbuf; i++)
    if ((int)i != cur_idx)
      candidates |= 1u << i;
  if (!w->barrier_done) {
    /* First choice of this writer: what readers did before it opened
     * (another writer's publishes included) is covered from here on. */
    int r = writer_barrier(w);
    if (r < 0)
      return r;
    w->covers = w->pub_seq;
    w->barrier_done = true;
  }
  for (;;) {
    /* Our store of `current` before the scan's loads (pairs with the
     * reader's fence between announcing and re-validating). */
    smr__fence_seq_cst();
    uint32_t active, idle;
    /* A slot we cannot read pins every buffer; if that lasts until we give
     * up, its error (not -EBUSY) tells the caller why. */
    int rerr = scan_pins(w, &active, &idle);
    uint32_t ok = usable(w, candidates, active, idle);
    int best = -1;
    for (unsigned i = 0; i < w->nbuf; i++)
      if ((ok & (1u << i)) && (best < 0 || w->decur[i] < w->decur[best]))
        best = (int)i;
    if (best >= 0) {
      if (start)
        w->build_waited = smr__now_ns() - start;
      *out = (unsigned)best;
      return 0;
    }
    uint32_t free_ = candidates & ~active;
    bool undiscovered = false, unbarriered = false;
    for (unsigned i = 0; i < w->nbuf; i++)
      if (free_ & (1u << i)) {
        undiscovered |= w->decur[i] > w->disc_covers;
        unbarriered |= (idle & (1u << i)) && w->decur[i] > w->covers;
      }
    if (undiscovered) {
      /* A reader we have not seen yet could announce it: look at the
       * directory (covers every buffer de-current so far), rescan. */
      int r = disc_update(w);
      if (r < 0)
        return r;
      continue;
    }
    if (unbarriered) {
      /* Only idle announcements stand in the way: one barrier covers them
       * (every buffer de-current so far). */
      int r = writer_barrier(w);
      if (r < 0)
        return r;
      w->covers = w->pub_seq;
      continue; /* rescan after the barrier */
    }
    /* Every candidate is pinned.  Dead readers first: no waiting for them. */
    int n = reclaim_dead(w, candidates);
    if (n < 0)
      return n;
    if (w->timeout_ns == 0 && n == 0)
      return rerr ? rerr : -EBUSY;
    int64_t now = smr__now_ns();
    if (!start) {
      start = now;
      deadline = deadline_of(w->timeout_ns);
    }
    if (n > 0) {
      w->build_reclaimed += (unsigned)n;
      continue; /* each dead file is dropped once: this ends */
    }
    if (now >= deadline) {
      w->build_waited = now - start;
      return rerr ? rerr : -EBUSY;
    }
    /* Ask releasing readers to signal us (an attribute change of their
     * slot file, which the directory watch reports), then look once more:
     * a reader that released before seeing the flag is seen by the rescan
     * (the barrier orders its `active = 0` before our loads, or our flag
     * before its load); one that releases after it leaves an event. */
    atomic_store_explicit(&w->st->waiting, 1, memory_order_relaxed);
    int r = writer_barrier(w);
    if (r == 0) {
      w->covers = w->pub_seq;
      r = disc_update(w); /* also consumes stale events */
    }
    if (r < 0) {
      /* relaxed: a hint for releasing readers (see the store above). */
      atomic_store_explicit(&w->st->waiting, 0, memory_order_relaxed);
      return r;
    }
    rerr = scan_pins(w, &active, &idle);
    if (!usable(w, candidates, active, idle)) {
      /* Slices: the kernel tells nobody when a lock holder dies. */
      int64_t wait = deadline - now < slice ? deadline - now : slice;
      smr__watch_wait(w->watch_lost ? -1 : w->watch_fd, wait);
      if (slice < LIVENESS_MAX_NS)
        slice *= 2;
    }
    /* relaxed: see above; cleared so releases stop signalling. */
    atomic_store_explicit(&w->st->waiting, 0, memory_order_relaxed);
  }
}

/* Make buffer i's file hold `cap` bytes and map it for writing. */
static int prepare_buffer(smr_channel_writer *w, unsigned i, uint64_t cap) {
  int r; /* the data files are open since smr_channel_writer_open */
  uint64_t page = 4096;
  uint64_t need = (cap + page - 1) & ~(page - 1);
  uint64_t have = w->file_size[i];
  uint64_t want = have;
  if (need > have) {
    /* Grow by at least a quarter so a slowly growing payload does not
     * fallocate on every publish; fall back to the exact need. */
    want = have + have / 4 > need ? (have + have / 4 + page - 1) & ~(page - 1)
                                  : need;
    r = smr__file_allocate(w->data_fd[i], want);
    if (r < 0 && want != need) {
      want = need;
      r = smr__file_allocate(w->data_fd[i], want);
    }
    if (r < 0)
      return r;
  } else if (have > 4 * need && have - need > (1u << 20)) {
    /* Shrink a much too large file.  Safe: nobody pins this buffer, and
     * readers never touch bytes past the payload they pinned. */
    want = need;
    r = smr__file_truncate(w->data_fd[i], want);
    if (r < 0)
      return r;
  }
  if (want != have || (want && w->map_len[i] != want)) {
    smr__unmap(w->map[i], w->map_len[i]);
    w->map[i] = NULL;
    w->map_len[i] = 0;
    w->file_size[i] = want;
    if (want) {
      void *p;
      r = smr__map(w->data_fd[i], want, true, true, &p);
      if (r < 0)
        return r;
      w->map[i] = p;
      w->map_len[i] = want;
    }
  }
  return 0;
}

int smr_channel_begin(smr_channel_writer *w, uint64_t capacity, void **buf) {
  clear_path();
  if (!w || !buf)
    return -EINVAL;
  if (w->build >= 0)
    return -EBUSY;
  if (capacity > SMR_CHANNEL_MAX_PAYLOAD)
    return -EFBIG;
  w->build_reclaimed = 0;
  w->build_waited = 0;
  unsigned i = 0;
  int r = choose_buffer(w, &i);
  if (r < 0)
    return r;
  r = prepare_buffer(w, i, capacity);
  if (r < 0)
    return r;
  w->build = (int)i;
  w->build_cap = capacity;
  *buf = w->map[i] ? (void *)w->map[i] : (void *)empty_payload;
  return 0;
}

int smr_channel_abort(smr_channel_writer *w) {
  clear_path();
  if (!w || w->build < 0)
    return -EINVAL;
  w->build = -1;
  return 0;
}

/* Whether a tracked reader may be blocked in smr_channel_wait: its flag, or
 * any slot we read by pread (one syscall per slot costs more than the
 * futex_wake it would save). */
static bool any_waiting(smr_channel_writer *w) {
  for (unsigned j = 0; j < w->nlive; j++) {
    const struct slot_ent *e = &w->ent[w->live[j]];
    /* relaxed: ordered after our notify store by the caller's fence. */
    if (!e->map || atomic_load_explicit(&e->map->waiting, memory_order_relaxed))
      return true;
  }
  return false;
}

static int commit_sum(smr_channel_writer *w, uint64_t size, uint64_t sum,
                      bool have_sum, struct smr_channel_commit_info *info) {
  clear_path();
  if (!w || w->build < 0 || size > w->build_cap)
    return -EINVAL;
  unsigned i = (unsigned)w->build;
  int r;
  if (w->flags & SMR__CHANNEL_F_NOSUM)
    sum = 0;
  else if (!have_sum)
    sum = size ? checksum(w->map[i], size) : checksum(empty_payload, 0);
  if ((w->flags & SMR__CHANNEL_F_DURABLE) && size) {
    r = smr__map_sync(w->map[i], size);
    if (r == 0)
      r = smr__file_sync(w->data_fd[i]);
    if (r < 0)
      return -EIO;
  }
  /* relaxed: only this writer stores `current`. */
  uint64_t old = atomic_load_explicit(&w->st->current, memory_order_relaxed);
  uint64_t version = SMR__CHANNEL_VERSION(old) + 1;
  if (version > (UINT64_MAX >> 8))
    return -EOVERFLOW; /* 2^56 versions: only a corrupt file gets here */
  struct smr__channel_desc *d = &w->st->desc[i];
  /* relaxed: published by the release store of `current` below. */
  atomic_store_explicit(&d->version, version, memory_order_relaxed);
  atomic_store_explicit(&d->size, size, memory_order_relaxed);
  atomic_store_explicit(&d->checksum, sum, memory_order_relaxed);
  atomic_store_explicit(&d->file_size, w->file_size[i], memory_order_relaxed);
  atomic_store_explicit(&d->file_dev, w->file_dev[i], memory_order_relaxed);
  atomic_store_explicit(&d->file_ino, w->file_ino[i], memory_order_relaxed);
  w->pub_seq++;
  if (old)
    w->decur[SMR__CHANNEL_INDEX(old)] = w->pub_seq;
  w->held[i] = (version << 8) | i;
  /* release: the payload and descriptor happen before any reader that
   * loads this value (pairs with the acquire loads in smr_channel_read). */
  atomic_store_explicit(&w->st->current, (version << 8) | i,
                        memory_order_release);
  w->build = -1;
  /* relaxed: statistics. */
  atomic_fetch_add_explicit(&w->st->publishes, 1, memory_order_relaxed);
  /* release: pairs with the acquire load of notify in smr_channel_wait. */
  atomic_store_explicit(&w->st->notify, (uint32_t)version,
                        memory_order_release);
  /* StoreLoad: our notify store before the loads of the slots' `waiting`;
   * pairs with the reader's fence between storing `waiting` and loading
   * notify (Dekker: we see its flag, or it sees the new notify).  A reader
   * we have not acked yet does not rely on this (see smr_channel_wait). */
  smr__fence_seq_cst();
  if (any_waiting(w))
    smr__futex_wake(&w->st->notify, INT_MAX);
  if (w->flags & SMR__CHANNEL_F_DURABLE) {
    r = smr__map_sync(w->st, SMR__CHANNEL_HEADER_SIZE);
    if (r < 0)
      return -EIO; /* published, but not yet durable */
  }
  if (info) {
    info->version = version;
    info->bytes = size;
    info->buffer = i;
    info->dead_reclaimed = w->build_reclaimed;
    info->waited_ns = w->build_waited;
  }
  return 0;
}

int smr_channel_commit(smr_channel_writer *w, uint64_t size,
                       struct smr_channel_commit_info *info) {
  return commit_sum(w, size, 0, false, info);
}

int smr_channel_publish(smr_channel_writer *w, const void *data, uint64_t size,
                        struct smr_channel_commit_info *info) {
  if (!w || (!data && size))
    return -EINVAL;
  void *buf;
  int r = smr_channel_begin(w, size, &buf);
  if (r < 0)
    return r;
  if (w->flags & SMR__CHANNEL_F_NOSUM) {
    if (size)
      memcpy(buf, data, (size_t)size);
    return commit_sum(w, size, 0, true, info);
  }
  /* Copy and hash in one pass, each chunk hashed while still in cache. */
  uint64_t sum = smr__copy_hash(buf, data, (size_t)size);
  return commit_sum(w, size, sum, true, info);
}

/* ---- reader -------------------------------------------------------------- */

struct reader {
  smr_channel_reader pub; /* first: the public head */
  char *prefix;
  int state_fd, dir_fd, slot_fd;
  struct smr__channel_state *st;  /* read-only */
  struct smr__channel_slot *slot; /* our slot file, read-write */
  uint64_t slot_ino;
  unsigned nbuf, nslots, slot_index, open_flags, chan_flags;
  unsigned chan_uid; /* owner of the state file: the channel's writer */
  bool symmetric;
  int owner_pid;
  int data_fd[SMR_CHANNEL_MAX_BUFFERS];
  const unsigned char *map[SMR_CHANNEL_MAX_BUFFERS];
  uint64_t map_len[SMR_CHANNEL_MAX_BUFFERS];
  uint64_t file_dev[SMR_CHANNEL_MAX_BUFFERS], file_ino[SMR_CHANNEL_MAX_BUFFERS];
  uint64_t last_read; /* `current` of the previous successful read */
  uint64_t verified;  /* `current` whose checksum was verified */
#ifdef SMR_TEST_HOOKS
  void (*hook)(smr_channel_reader *, void *); /* test_hooks.h */
  void *hook_arg;
  bool skip_validate;
#endif
};

static struct reader *R(smr_channel_reader *r) {
  return (struct reader *)r;
}

static void reader_free(struct reader *h) {
  for (unsigned i = 0; i < SMR_CHANNEL_MAX_BUFFERS; i++) {
    smr__unmap((void *)h->map[i], h->map_len[i]);
    smr__file_close(h->data_fd[i]);
  }
  /* A child after fork shares the slot lock's open file description with
   * its parent: leave the slot alone (closing our fd keeps the lock). */
  if (h->slot && h->owner_pid == smr__getpid()) {
    /* release: our last reads of any buffer happen before a writer that
     * sees the slot empty; then the name goes, then the lock (a file
     * nobody locks is dead; its name must be gone or its pin clear). */
    atomic_store_explicit(&h->slot->active, 0, memory_order_release);
    atomic_store_explicit(&h->slot->pin, 0, memory_order_release);
    char name[SLOT_NAME_MAX];
    slot_name(name, h->slot_index);
    unlink_if_ours(h->dir_fd, name, h->slot_ino);
    smr__unlock_byte(h->slot_fd, 0);
  }
  if (h->slot)
    smr__unmap(h->slot, SMR__CHANNEL_SLOT_FILE_SIZE);
  if (h->st)
    smr__unmap(h->st, smr__channel_state_size(h->nslots));
  smr__file_close(h->slot_fd);
  smr__file_close(h->dir_fd);
  smr__file_close(h->state_fd);
  free(h->prefix);
  free(h);
}

/* Open and validate the state file and the readers directory. */
static int open_channel(struct reader *h, const char *name) {
  int r = make_prefix(name, &h->prefix);
  if (r < 0)
    return r;
  char path[PATH_MAX];
  file_path(path, h->prefix, ".smr", -1);
  r = smr__file_open(path, SMR__OPEN_READ, 0, false);
  if (r < 0)
    return path_error(path, r);
  h->state_fd = r;
  r = map_state(h->state_fd, false, &h->st);
  if (r < 0)
    return path_error(path, r);
  h->nbuf = h->st->buffers;
  h->nslots = h->st->slots;
  h->chan_flags = h->st->flags;
  struct smr__file_info fi;
  r = smr__file_info(h->state_fd, &fi);
  if (r < 0)
    return r;
  h->chan_uid = fi.uid;
  file_path(path, h->prefix, ".smr-readers", -1);
  r = smr__dir_open(path);
  if (r < 0)
    return path_error(path, r == -ENOENT ? -EBADMSG : r);
  h->dir_fd = r;
  r = check_dir(h->dir_fd, fi.uid);
  return r < 0 ? path_error(path, r) : 0;
}

static struct reader *reader_alloc(void) {
  struct reader *h = calloc(1, sizeof *h);
  if (!h)
    return NULL;
  h->state_fd = h->dir_fd = h->slot_fd = -1;
  for (unsigned i = 0; i < SMR_CHANNEL_MAX_BUFFERS; i++)
    h->data_fd[i] = -1;
  return h;
}

/* Remove name r<i> if its file is dead and ours to remove: under its
 * exclusive lock (which a live owner holds, and the writer's shared lock
 * excludes), and only if the name still names it.  1 if removed. */
static int remove_dead_slot(struct reader *h, const char *name) {
  int fd = smr__file_openat(h->dir_fd, name, SMR__OPEN_RDWR, 0, false);
  if (fd < 0)
    return 0; /* another user's, not a file, or gone */
  int removed = 0;
  struct smr__file_info fi;
  if (smr__file_info(fd, &fi) == 0 && smr__lock_byte(fd, 0) == 0) {
    struct smr__file_info now;
    if (smr__dir_entry_info(h->dir_fd, name, &now) == 0 && now.ino == fi.ino &&
        smr__dir_unlink(h->dir_fd, name) == 0)
      removed = 1;
    smr__unlock_byte(fd, 0);
  }
  smr__file_close(fd);
  return removed;
}

/* Our slot file, not yet named: unnamed (O_TMPFILE) where the file system
 * allows, else under a temporary name (*tmp set) that is removed after.
 * Mode 0600 until locked, so nobody else can open it in between. */
static int slot_file_create(struct reader *h, char *tmp, size_t n) {
  static _Atomic unsigned tmp_seq;
  tmp[0] = '\0';
  int fd = smr__file_tmp(h->dir_fd, 0600);
  for (unsigned k = 0; fd == -EOPNOTSUPP || (tmp[0] && fd == -EEXIST); k++) {
    if (k == 64)
      return -EEXIST;
    /* relaxed: only makes names unique among this process's threads; the
     * clock makes them hard to guess for other users (O_EXCL decides). */
    snprintf(tmp, n, "t%d.%u.%lld", h->owner_pid,
             atomic_fetch_add_explicit(&tmp_seq, 1, memory_order_relaxed),
             (long long)smr__now_ns());
    fd = smr__file_openat(h->dir_fd, tmp,
                          SMR__OPEN_RDWR | SMR__OPEN_CREATE | SMR__OPEN_EXCL,
                          0600, false);
  }
  return fd;
}

/* Create our slot file, fill and lock it, then link it in as the first
 * free r<i>.  Nobody ever sees it named and unlocked. */
static int claim_slot(struct reader *h) {
  char tmp[64];
  int fd = slot_file_create(h, tmp, sizeof tmp);
  if (fd < 0)
    return fd;
  h->slot_fd = fd;
  int r = smr__file_allocate(fd, SMR__CHANNEL_SLOT_FILE_SIZE);
  void *p = NULL;
  if (r == 0)
    r = smr__map(fd, SMR__CHANNEL_SLOT_FILE_SIZE, true, false, &p);
  if (r == 0) {
    h->slot = p;
    /* relaxed: published to the writer by the link below (a syscall that
     * the writer's discovery follows). */
    atomic_store_explicit(&h->slot->magic, SMR__CHANNEL_SLOT_MAGIC,
                          memory_order_relaxed);
    atomic_store_explicit(&h->slot->pid, (uint32_t)h->owner_pid,
                          memory_order_relaxed);
    r = smr__lock_byte(fd, 0);
  }
  /* Readable by the writer, whatever our umask; writable by us only. */
  if (r == 0)
    r = smr__file_chmod(fd, 0644);
  struct smr__file_info fi;
  if (r == 0)
    r = smr__file_info(fd, &fi);
  if (r == 0) {
    h->slot_ino = fi.ino;
    unsigned start = (unsigned)h->owner_pid % h->nslots;
    r = -EUSERS;
    for (unsigned j = 0; j < h->nslots; j++) {
      unsigned i = (start + j) % h->nslots;
      char name[SLOT_NAME_MAX];
      slot_name(name, i);
      int lr = tmp[0] ? smr__dir_link(h->dir_fd, tmp, name)
                      : smr__file_link_tmp(fd, h->dir_fd, name);
      if (lr == -EEXIST && remove_dead_slot(h, name))
        lr = tmp[0] ? smr__dir_link(h->dir_fd, tmp, name)
                    : smr__file_link_tmp(fd, h->dir_fd, name);
      if (lr == -EEXIST)
        continue;
      if (lr == 0)
        h->slot_index = i;
      r = lr;
      break;
    }
  }
  if (tmp[0])
    smr__dir_unlink(h->dir_fd, tmp);
  return r;
}

int smr_channel_reader_open(const char *name, unsigned flags,
                            smr_channel_reader **out) {
  clear_path();
  if (!out || (flags & ~SMR_CHANNEL_VERIFY))
    return -EINVAL;
  *out = NULL;
  struct reader *h = reader_alloc();
  if (!h)
    return -ENOMEM;
  h->open_flags = flags;
  h->owner_pid = smr__getpid();
  int r = open_channel(h, name);
  if (r == 0)
    r = claim_slot(h);
  if (r < 0) {
    if (h->slot_fd >= 0)
      smr__unlock_byte(h->slot_fd, 0);
    h->owner_pid = -1; /* no name of ours to remove */
    reader_free(h);
    return r;
  }
  h->symmetric = (h->chan_flags & SMR__CHANNEL_F_SYMMETRIC) != 0;
  /* If registration fails we fence ourselves: always correct, whatever
   * barrier the writer uses. */
  if (!h->symmetric && smr__membarrier_global_register() < 0)
    h->symmetric = true;
  h->pub.current = &h->st->current;
  h->pub.waiting = &h->st->waiting;
  h->pub.active = &h->slot->active;
  /* No view yet: the fast path needs flags == 0. */
  h->pub.flags = SMR__CHANNEL_NOVIEW | (h->symmetric ? SMR__CHANNEL_SLOW : 0);
  h->pub.cached = 0;
  *out = &h->pub;
  return 0;
}

int smr_channel_reader_close(smr_channel_reader *r) {
  clear_path();
  if (!r)
    return 0;
  if (r->flags & SMR__CHANNEL_HELD)
    return -EBUSY;
  reader_free(R(r));
  return 0;
}

/* Validate the descriptor of `cur` (pinned) and map its buffer. */
static int prepare_view(struct reader *h, uint64_t cur) {
  unsigned i = SMR__CHANNEL_INDEX(cur);
  if (i >= h->nbuf || SMR__CHANNEL_VERSION(cur) == 0)
    return -EBADMSG;
  struct smr__channel_desc *d = &h->st->desc[i];
  /* relaxed: ordered after our acquire load of `current`, which the writer
   * stored (release) after these. */
  uint64_t version = atomic_load_explicit(&d->version, memory_order_relaxed);
  uint64_t size = atomic_load_explicit(&d->size, memory_order_relaxed);
  if (version != SMR__CHANNEL_VERSION(cur) || size > SMR_CHANNEL_MAX_PAYLOAD)
    return -EBADMSG;
  int r;
  if (h->data_fd[i] < 0) {
    char path[PATH_MAX];
    file_path(path, h->prefix, ".smr-data-", (int)i);
    int fd = smr__file_open(path, SMR__OPEN_READ, 0, false);
    if (fd < 0)
      return path_error(path, fd == -ENOENT ? -EBADMSG : fd);
    /* Only the channel's writer may own its data: a file another user
     * created under the name could change under a verified guard. */
    struct smr__file_info fi;
    r = smr__file_info(fd, &fi);
    if (r == 0 && fi.uid != h->chan_uid)
      r = -EBADMSG;
    if (r < 0) {
      smr__file_close(fd);
      return path_error(path, r);
    }
    h->data_fd[i] = fd;
    h->file_dev[i] = fi.dev;
    h->file_ino[i] = fi.ino;
  }
  /* The file we hold must be the one the descriptor names: after the
   * channel was unlinked and created again under the same name, the path
   * leads to another channel's file. */
  /* relaxed: ordered like version and size above. */
  if (atomic_load_explicit(&d->file_dev, memory_order_relaxed) !=
          h->file_dev[i] ||
      atomic_load_explicit(&d->file_ino, memory_order_relaxed) !=
          h->file_ino[i])
    return -ESTALE;
  if (size > h->map_len[i]) {
    uint64_t fsize;
    r = smr__file_stat(h->data_fd[i], &fsize, NULL);
    if (r < 0)
      return r;
    if (fsize < size)
      return -EBADMSG;
    smr__unmap((void *)h->map[i], h->map_len[i]);
    h->map[i] = NULL;
    h->map_len[i] = 0;
    void *p;
    r = smr__map(h->data_fd[i], fsize, false, false, &p);
    if (r < 0)
      return r == -EINVAL || r == -EOVERFLOW ? -ENOMEM : r;
    h->map[i] = p;
    h->map_len[i] = fsize;
  }
  const void *data =
      size ? (const void *)h->map[i] : (const void *)empty_payload;
  if ((h->open_flags & SMR_CHANNEL_VERIFY) && h->verified != cur &&
      !(h->chan_flags & SMR__CHANNEL_F_NOSUM)) {
    /* relaxed: ordered like version and size above. */
    uint64_t sum = atomic_load_explicit(&d->checksum, memory_order_relaxed);
    if (checksum(data, size) != sum)
      return -EBADMSG;
    h->verified = cur;
  }
  h->pub.cached = cur;
  h->pub.cached_data = data;
  h->pub.cached_size = size;
  h->pub.flags &= ~SMR__CHANNEL_NOVIEW;
  return 0;
}

static void unpin(struct reader *h) {
  /* release: our reads of the buffer happen before the writer reuses it
   * (pairs with the acquire loads in the writer's scan). */
  atomic_store_explicit(&h->slot->active, 0, memory_order_release);
  h->pub.flags &= ~SMR__CHANNEL_HELD;
  /* StoreLoad before reading `waiting`: the writer's barrier in
   * asymmetric mode, our own fence in symmetric mode. */
  if (h->symmetric)
    smr__fence_seq_cst();
  else
    atomic_signal_fence(memory_order_seq_cst);
}

int smr__channel_read_slow(smr_channel_reader *pub) {
  clear_path();
  struct reader *h = R(pub);
  if (pub->flags & SMR__CHANNEL_HELD)
    return -EBUSY;
  SMR_ASSERT(h->owner_pid == smr__getpid() && "reader handle used after fork");
  uint64_t cur;
  for (;;) {
    /* acquire: pairs with the writer's release store of `current`. */
    cur = atomic_load_explicit(h->pub.current, memory_order_acquire);
    if (cur == 0) {
      /* release: our earlier reads before a writer that sees it idle. */
      atomic_store_explicit(&h->slot->active, 0, memory_order_release);
      return -ENODATA;
    }
#ifdef SMR_TEST_HOOKS
    if (h->hook)
      h->hook(pub, h->hook_arg);
#endif
    /* Announce cur (it stays announced after release: the fast path then
     * only flips `active`).  relaxed: ordered before the re-load by the
     * fence, which pairs with the writer's fence between its store of
     * `current` and its scan (Dekker: it sees our pin, or we see its
     * store). */
    atomic_store_explicit(&h->slot->pin, cur, memory_order_relaxed);
    atomic_store_explicit(&h->slot->active, 1, memory_order_relaxed);
    smr__fence_seq_cst();
#ifdef SMR_TEST_HOOKS
    if (h->skip_validate)
      break;
#endif
    /* acquire: as above. */
    if (atomic_load_explicit(h->pub.current, memory_order_acquire) == cur)
      break;
  }
  pub->flags |= SMR__CHANNEL_HELD;
  if (cur != pub->cached || (pub->flags & SMR__CHANNEL_NOVIEW)) {
    int r = prepare_view(h, cur);
    if (r < 0) {
      /* The fast path needs cached == our announcement: invalidate. */
      pub->flags |= SMR__CHANNEL_NOVIEW;
      smr__channel_release_slow(pub);
      return r;
    }
  }
  pub->switched = cur != h->last_read;
  h->last_read = cur;
  return 0;
}

void smr__channel_release_slow(smr_channel_reader *pub) {
  struct reader *h = R(pub);
  if (pub->flags & SMR__CHANNEL_HELD)
    unpin(h);
  /* relaxed: ordered after the unpin by the barrier discussed there. */
  if (atomic_load_explicit(&h->st->waiting, memory_order_relaxed))
    smr__file_touch(h->slot_fd); /* the writer's directory watch wakes it */
}

int smr_channel_verify(smr_channel_reader *pub, const smr_channel_guard *g) {
  clear_path();
  if (!pub || !g || !(pub->flags & SMR__CHANNEL_HELD))
    return -EINVAL;
  struct reader *h = R(pub);
  if (h->chan_flags & SMR__CHANNEL_F_NOSUM)
    return -ENOTSUP;
  unsigned i = SMR__CHANNEL_INDEX(pub->cached);
  /* relaxed: the descriptor of a pinned buffer does not change. */
  uint64_t sum =
      atomic_load_explicit(&h->st->desc[i].checksum, memory_order_relaxed);
  return checksum(g->data, g->size) == sum ? 0 : -EBADMSG;
}

uint64_t smr_channel_version(smr_channel_reader *pub) {
  if (!pub)
    return 0;
  /* acquire: pairs with the writer's release store of `current`. */
  return SMR__CHANNEL_VERSION(
      atomic_load_explicit(pub->current, memory_order_acquire));
}

/* The state file we hold was removed (smr_channel_unlink): no new versions. */
static bool channel_unlinked(struct reader *h) {
  uint64_t nlink;
  return smr__file_stat(h->state_fd, NULL, &nlink) == 0 && nlink == 0;
}

int smr_channel_wait(smr_channel_reader *pub, uint64_t version,
                     int64_t timeout_ns) {
  clear_path();
  if (!pub)
    return -EINVAL;
  if (pub->flags & SMR__CHANNEL_HELD)
    return -EBUSY;
  struct reader *h = R(pub);
  int64_t deadline = deadline_of(timeout_ns);
  int64_t unacked_slice = LIVENESS_MIN_NS;
  /* relaxed: ordered before the loads below by the fence. */
  atomic_store_explicit(&h->slot->waiting, 1, memory_order_relaxed);
  int r;
  for (;;) {
    /* StoreLoad: our flag before the load of notify; pairs with the
     * writer's fence between storing notify and loading the flags. */
    smr__fence_seq_cst();
    /* acquire: pairs with the writer's release store of our ack.  Once the
     * writer tracks our file, every commit after that looks at our flag;
     * before, a commit may miss it, so we sleep in short slices. */
    bool acked = atomic_load_explicit(&smr__channel_acks(h->st)[h->slot_index],
                                      memory_order_acquire) == h->slot_ino;
    /* acquire: pairs with the writer's release store of notify. */
    uint32_t n = atomic_load_explicit(&h->st->notify, memory_order_acquire);
    /* acquire: pairs with the writer's release store of `current`. */
    uint64_t cur = atomic_load_explicit(h->pub.current, memory_order_acquire);
    int64_t now = smr__now_ns();
    if (SMR__CHANNEL_VERSION(cur) != version) {
      r = 0;
      break;
    }
    if (now >= deadline) {
      r = -ETIMEDOUT;
      break;
    }
    /* Slices of at most 1 s: a writer that died between publishing and
     * waking delays us by a slice, no more; a removed channel is noticed
     * after a slice too. */
    int64_t slice = acked ? 1000000000 : unacked_slice;
    if (!acked && unacked_slice < LIVENESS_MAX_NS)
      unacked_slice *= 2;
    if (deadline - now < slice)
      slice = deadline - now;
    if (smr__futex_wait(&h->st->notify, n, slice) == -ETIMEDOUT &&
        channel_unlinked(h)) {
      r = -ESTALE;
      break;
    }
  }
  /* relaxed: our own slot; only a hint for the writer's wake-up. */
  atomic_store_explicit(&h->slot->waiting, 0, memory_order_relaxed);
  if (r == -ETIMEDOUT && channel_unlinked(h))
    r = -ESTALE;
  return r;
}

#ifdef SMR_TEST_HOOKS
void smr__channel_set_test_hook(smr_channel_reader *pub,
                                void (*hook)(smr_channel_reader *, void *),
                                void *arg, bool unsafe_skip_validate) {
  struct reader *h = R(pub);
  h->hook = hook;
  h->hook_arg = arg;
  h->skip_validate = unsafe_skip_validate;
  if (hook || unsafe_skip_validate)
    pub->flags |= SMR__CHANNEL_SLOW;
  else if (!h->symmetric)
    pub->flags &= ~SMR__CHANNEL_SLOW;
}
#endif

/* ---- unlink and stat ----------------------------------------------------- */

int smr_channel_unlink(const char *name) {
  clear_path();
  char *prefix;
  int r = make_prefix(name, &prefix);
  if (r < 0)
    return r;
  char path[PATH_MAX];
  /* Hold the writer lock while removing, so no writer runs meanwhile;
   * without access to the lock file, ask the state file's observer lock. */
  file_path(path, prefix, ".smr-lock", -1);
  int lock_fd = smr__file_open(path, SMR__OPEN_RDWR, 0, false);
  if (lock_fd >= 0) {
    r = smr__lock_byte(lock_fd, 0);
    if (r < 0) {
      smr__file_close(lock_fd);
      free(prefix);
      return r == -EAGAIN ? -EBUSY : r;
    }
  }
  file_path(path, prefix, ".smr", -1);
  int fd = smr__file_open(path, SMR__OPEN_READ, 0, false);
  if (fd < 0) {
    r = fd;
    goto out;
  }
  r = lock_fd >= 0 ? 0 : smr__lock_held(fd, 0);
  smr__file_close(fd);
  if (r != 0) {
    r = r > 0 ? -EBUSY : r;
    goto out;
  }
  r = smr__file_unlink(path);
  if (r == 0) {
    remove_readers_dir(prefix); /* best effort, like the data files */
    for (int i = 0; i < (int)SMR_CHANNEL_MAX_BUFFERS; i++) {
      file_path(path, prefix, ".smr-data-", i);
      smr__file_unlink(path);
    }
    file_path(path, prefix, ".smr-new", -1); /* a creation that died */
    smr__file_unlink(path);
    file_path(path, prefix, ".smr-lock", -1);
    smr__file_unlink(path);
  }
out:
  if (lock_fd >= 0) {
    smr__unlock_byte(lock_fd, 0);
    smr__file_close(lock_fd);
  }
  free(prefix);
  return r;
}

struct stat_ctx {
  struct reader *h;
  struct smr_channel_stat *st;
  struct smr_channel_reader_stat *rs;
  size_t cap, n;
};

/* One slot file of the directory into the statistics. */
static int stat_one(const char *name, void *arg) {
  struct stat_ctx *c = arg;
  int i = parse_slot_name(name, c->h->nslots);
  if (i < 0)
    return 0;
  int fd = smr__file_openat(c->h->dir_fd, name, SMR__OPEN_READ, 0, false);
  if (fd < 0)
    return not_a_slot(fd) ? 0 : fd;
  struct slot_snap sn = {0, 0, 0, 0};
  int got = slot_read_fd(fd, &sn);
  int alive = smr__lock_held(fd, 0);
  smr__file_close(fd);
  if ((got < 0 && got != -EBADMSG) || alive < 0)
    return alive < 0 ? alive : got;
  uint64_t pin = sn.pin;
  bool active = sn.active != 0;
  uint64_t version = c->st->version;
  c->st->readers++; /* in use: alive, or dead and not yet removed */
  if (alive) {
    if (active && pin && SMR__CHANNEL_INDEX(pin) < c->h->nbuf)
      c->st->buffer[SMR__CHANNEL_INDEX(pin)].pinned++;
  }
  if (c->n < c->cap) {
    struct smr_channel_reader_stat *rs = &c->rs[c->n];
    rs->slot = (unsigned)i;
    rs->pid = (int)sn.pid;
    rs->alive = alive > 0;
    rs->last_version = SMR__CHANNEL_VERSION(pin);
    rs->pinned_version = active ? SMR__CHANNEL_VERSION(pin) : 0;
    rs->lag = pin && SMR__CHANNEL_VERSION(pin) <= version
                  ? version - SMR__CHANNEL_VERSION(pin)
                  : 0;
  }
  c->n++;
  return 0;
}

int smr_channel_stat(const char *name, unsigned flags,
                     struct smr_channel_stat *st,
                     struct smr_channel_reader_stat *rs, size_t cap,
                     size_t *nrs) {
  clear_path();
  if (!st || (cap && !rs) || (flags & ~SMR_CHANNEL_STAT_VERIFY))
    return -EINVAL;
  memset(st, 0, sizeof *st);
  if (nrs)
    *nrs = 0;
  struct reader *h = reader_alloc();
  if (!h)
    return -ENOMEM;
  int r = open_channel(h, name);
  if (r < 0)
    goto out;
  struct smr__channel_state *s = h->st;
  /* acquire: pairs with the writer's release store of `current`. */
  uint64_t cur = atomic_load_explicit(&s->current, memory_order_acquire);
  unsigned ci = SMR__CHANNEL_INDEX(cur);
  if (cur && (ci >= h->nbuf || SMR__CHANNEL_VERSION(cur) == 0)) {
    r = -EBADMSG;
    goto out;
  }
  st->version = SMR__CHANNEL_VERSION(cur);
  st->buffers = h->nbuf;
  st->readers_max = h->nslots;
  st->flags = options_of_state_flags(h->chan_flags);
  /* relaxed: statistics, informational. */
  st->writer_pid =
      (int)atomic_load_explicit(&s->writer_pid, memory_order_relaxed);
  st->publishes = atomic_load_explicit(&s->publishes, memory_order_relaxed);
  st->dead_reclaimed =
      atomic_load_explicit(&s->dead_reclaimed, memory_order_relaxed);
  r = smr__lock_held(h->state_fd, 0);
  if (r < 0)
    goto out;
  st->writer_alive = r > 0;
  for (unsigned i = 0; i < h->nbuf; i++) {
    struct smr__channel_desc *d = &s->desc[i];
    /* relaxed: a snapshot for display; may be mid-update. */
    st->buffer[i].version =
        atomic_load_explicit(&d->version, memory_order_relaxed);
    st->buffer[i].size = atomic_load_explicit(&d->size, memory_order_relaxed);
    st->buffer[i].file_size =
        atomic_load_explicit(&d->file_size, memory_order_relaxed);
    st->buffer[i].current = cur && i == ci;
  }
  if (cur)
    st->size = st->buffer[ci].size;
  struct stat_ctx c = {h, st, rs, cap, 0};
  r = smr__dir_list(h->dir_fd, stat_one, &c);
  if (r < 0)
    goto out;
  if (nrs)
    *nrs = c.n;
  r = 0;
  if (h->chan_flags & SMR__CHANNEL_F_NOSUM) {
    st->checksum = SMR_CHANNEL_CHECKSUM_NONE;
  } else if (!(flags & SMR_CHANNEL_STAT_VERIFY) || !cur) {
    st->checksum = SMR_CHANNEL_CHECKSUM_SKIP;
  } else {
    smr_channel_reader *rd;
    r = smr_channel_reader_open(name, 0, &rd);
    if (r == -EUSERS || r == -EACCES) {
      /* Cannot join (every slot taken, or not allowed to): report the rest
       * unverified rather than nothing. */
      st->checksum = SMR_CHANNEL_CHECKSUM_SKIP;
      r = 0;
      goto out;
    }
    if (r < 0)
      goto out;
    smr_channel_guard g;
    r = smr_channel_read(rd, &g);
    if (r == 0) {
      st->checksum = smr_channel_verify(rd, &g) == 0 ? SMR_CHANNEL_CHECKSUM_OK
                                                     : SMR_CHANNEL_CHECKSUM_BAD;
      smr_channel_release(rd, &g);
    } else if (r == -EBADMSG || r == -ESTALE) {
      st->checksum = SMR_CHANNEL_CHECKSUM_BAD;
      r = 0;
    }
    smr_channel_reader_close(rd);
  }
out:
  reader_free(h);
  return r;
}
