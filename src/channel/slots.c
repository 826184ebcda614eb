/* SPDX-License-Identifier: MIT */
/* The writer's view of the reader slot files: discovery, liveness, reaping.
 *
 * Design: the writer tracks the file under each slot name r<i>.  It learns
 * of names through an inotify watch on the readers directory (a listing
 * where the watch is missing, lost or overflowed) and looks a name up again
 * only when an event says it changed.  Liveness is an OFD lock: a file
 * whose lock nobody holds belongs to a dead reader and is removed here.
 * Slot files are untrusted: mapped only when whoever could truncate them
 * could as well kill the writer, read by pread otherwise.  reuse.c decides
 * what the pins mean; this file only finds, reads and reaps the slots. */
#define _GNU_SOURCE
#include "channel.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "platform/platform.h"

/* A slot file the writer tracks under name r<i>. */
struct smr__channel_slot_ent {
  int fd; /* read-only; -1: no file tracked under this name */
  uint64_t ino;
  const struct smr__channel_slot
      *map; /* same owner as us: mapped; else pread */
};

/* ---- the writer's view of the slot files ----------------------------------
 * ent[i] always names the inode the writer last found under r<i> (or none).
 * Readers link their file in only after locking it, and remove it only
 * after clearing their pin (close) or once dead, so dropping an entry
 * whose name went away never drops a live reader's announcement. */

static void ent_drop(struct smr__channel_slots *s, unsigned i) {
  struct smr__channel_slot_ent *e = &s->ent[i];
  if (e->fd < 0)
    return;
  smr__unmap((void *)e->map, e->map ? SMR__CHANNEL_SLOT_FILE_SIZE : 0);
  smr__file_close(e->fd);
  e->fd = -1;
  e->map = NULL;
  e->ino = 0;
  for (unsigned j = 0; j < s->nlive; j++)
    if (s->live[j] == i) {
      s->live[j] = s->live[--s->nlive];
      break;
    }
  /* relaxed: informational for a reader whose file is gone. */
  if (s->ack)
    atomic_store_explicit(&s->ack[i], 0, memory_order_relaxed);
}

/* Look up name r<i> again and track what it names now. */
static int ent_resolve(struct smr__channel_slots *s, unsigned i) {
  char name[SMR__CHANNEL_SLOT_NAME_MAX];
  smr__channel_slot_name(name, i);
  int fd = smr__file_openat(s->dir_fd, name, SMR__OPEN_READ, 0, false);
  if (fd < 0 && !smr__channel_not_a_slot(fd))
    return fd; /* out of descriptors, I/O error...: look again later */
  if (fd < 0) {
    ent_drop(s, i);
    return 0;
  }
  struct smr__file_info fi;
  int r = smr__file_info(fd, &fi);
  if (r < 0) {
    smr__file_close(fd);
    return r;
  }
  if (s->ent[i].fd >= 0 && s->ent[i].ino == fi.ino) {
    smr__file_close(fd);
    return 0;
  }
  ent_drop(s, i);
  struct smr__channel_slot_ent *e = &s->ent[i];
  e->fd = fd;
  e->ino = fi.ino;
  /* Mapped only if only a process able to kill us could truncate it: our
   * owner, writable by the owner alone (only the owner can change that),
   * one link (not one of our data files linked in where hard links to
   * others' files are allowed).  Anything else is read with pread. */
  if (fi.uid == s->euid && !(fi.mode & 022) && fi.nlink == 1 &&
      fi.size >= SMR__CHANNEL_SLOT_FILE_SIZE) {
    void *p;
    if (smr__map(fd, SMR__CHANNEL_SLOT_FILE_SIZE, false, false, &p) == 0)
      e->map = p;
  }
  s->live[s->nlive++] = i;
  /* release: pairs with the acquire load in smr_channel_wait; a reader that
   * sees its inode here knows every later commit checks its `waiting`. */
  atomic_store_explicit(&s->ack[i], fi.ino, memory_order_release);
  return 0;
}

/* What slot file e announces: 0, -EBADMSG if its owner truncated it (it
 * announces nothing), or the read's error (we cannot know what it
 * announces: the caller treats it as pinning every buffer). */
static int slot_load(const struct smr__channel_slot_ent *e,
                     struct smr__channel_slot_snap *out) {
  if (e->map) {
    /* acquire: pairs with the reader's release store of active = 0, so
     * its reads of a buffer happen before we reuse it. */
    out->pin = atomic_load_explicit(&e->map->pin, memory_order_acquire);
    out->active = atomic_load_explicit(&e->map->active, memory_order_acquire);
    /* relaxed: `waiting` is ordered by the fence in the writer's commit
     * (see smr__channel_slots_any_waiting) where it matters; pid is
     * informational. */
    out->waiting = atomic_load_explicit(&e->map->waiting, memory_order_relaxed);
    out->pid = atomic_load_explicit(&e->map->pid, memory_order_relaxed);
    return 0;
  }
  return smr__channel_slot_read(e->fd, out);
}

/* Remove the file of dead reader i: under a shared lock on it (readers
 * removing a dead file take the exclusive one), and only if its name still
 * names it.  Returns 1 if removed, 0 if someone else is at it. */
static int remove_dead(struct smr__channel_slots *s, unsigned i) {
  struct smr__channel_slot_ent *e = &s->ent[i];
  int r = smr__lock_byte_shared(e->fd, 0);
  if (r == -EAGAIN) {
    ent_drop(s, i);
    return 0;
  }
  if (r < 0)
    return r;
  char name[SMR__CHANNEL_SLOT_NAME_MAX];
  smr__channel_slot_name(name, i);
  struct smr__file_info fi;
  int removed = 0;
  if (smr__dir_entry_info(s->dir_fd, name, &fi) == 0 && fi.ino == e->ino &&
      smr__dir_unlink(s->dir_fd, name) == 0)
    removed = 1;
  smr__unlock_byte(e->fd, 0);
  ent_drop(s, i);
  return removed;
}

/* If nobody holds slot file i's lock, its owner died (or closed, after
 * clearing its pin): stop tracking it, remove it, count it.  Returns 1 if
 * so, 0 if it is alive, or a negative errno. */
static int reap(struct smr__channel_slots *s, unsigned i) {
  int r = smr__lock_held(s->ent[i].fd, 0);
  if (r != 0)
    return r < 0 ? r : 0;
  r = remove_dead(s, i);
  if (r < 0)
    return r;
  if (r > 0)
    /* relaxed: statistics. */
    atomic_fetch_add_explicit(&s->st->dead_reclaimed, 1, memory_order_relaxed);
  return 1;
}

static int list_one(const char *name, void *arg) {
  struct smr__channel_slots *s = arg;
  int i = smr__channel_parse_slot_name(name, s->nslots);
  if (i >= 0)
    s->seen[i] = 1;
  return 0;
}

/* List the directory and track exactly the slot files it names.  On error
 * the listing is redone at the next look (nothing is dropped unseen). */
static int resync_by_listing(struct smr__channel_slots *s) {
  s->resync = true;
  memset(s->seen, 0, s->nslots);
  int r = smr__dir_list(s->dir_fd, list_one, s);
  if (r < 0)
    return r;
  for (unsigned i = 0; i < s->nslots; i++) {
    if (s->seen[i]) {
      r = ent_resolve(s, i);
      if (r < 0)
        return r;
    } else {
      ent_drop(s, i);
    }
    s->dirty[i] = 0; /* looked up just now */
  }
  s->resync = false;
  return 0;
}

/* How long after its close event a file still locked is probed again. */
#define CLOSED_PROBE_NS 100000000ll

/* A reader's slot descriptor comes from O_TMPFILE: the kernel names its
 * events "#<inode>", not r<i>.  Remember the inode; reap_closed matches it
 * to a tracked file once the names of this drain are looked up. */
static void close_by_inode(struct smr__channel_slots *s, const char *digits) {
  uint64_t ino = 0;
  for (const char *p = digits; *p; p++) {
    if (*p < '0' || *p > '9' || ino > UINT64_MAX / 10)
      return;
    ino = ino * 10 + (uint64_t)(*p - '0');
  }
  if (s->nclosed_ino < SMR__CHANNEL_CLOSED_INO_MAX)
    s->closed_ino[s->nclosed_ino++] = ino;
  else
    s->closed_all = true; /* too many at once: probe every file */
}

static void mark_closed(struct smr__channel_slots *s, unsigned i) {
  s->closed[i] = smr__now_ns() + CLOSED_PROBE_NS;
}

static void drain_one(const char *name, unsigned what, void *arg) {
  struct smr__channel_slots *s = arg;
  int i = smr__channel_parse_slot_name(name, s->nslots);
  if (what == SMR__WATCH_NAME && i >= 0)
    s->dirty[i] = 1;
  else if (what == SMR__WATCH_CLOSED && i >= 0)
    mark_closed(s, (unsigned)i);
  else if (what == SMR__WATCH_CLOSED && name[0] == '#')
    close_by_inode(s, name + 1);
  else if (what == SMR__WATCH_OVERFLOW)
    s->resync = true;
  else if (what == SMR__WATCH_GONE)
    s->watch_lost = true; /* directory removed: list it each time */
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
static int reap_closed(struct smr__channel_slots *s) {
  for (unsigned k = 0; k < s->nclosed_ino; k++)
    for (unsigned j = 0; j < s->nlive; j++)
      if (s->ent[s->live[j]].ino == s->closed_ino[k])
        mark_closed(s, s->live[j]);
  s->nclosed_ino = 0;
  if (s->closed_all)
    for (unsigned j = 0; j < s->nlive; j++)
      mark_closed(s, s->live[j]);
  s->closed_all = false;
  int64_t now = 0;
  for (unsigned i = 0; i < s->nslots; i++) {
    if (!s->closed[i])
      continue;
    if (!now)
      now = smr__now_ns();
    if (s->ent[i].fd < 0 || now > s->closed[i]) {
      s->closed[i] = 0;
      continue;
    }
    int r = reap(s, i);
    if (r < 0)
      return r;
    if (r > 0)
      s->closed[i] = 0;
  }
  return 0;
}

/* Bring the slot files up to date.  Afterwards every reader that linked
 * its file before this call is tracked; one that links later loads
 * `current` after it, so cannot announce a buffer retired before it.
 * A name is marked done only once looked up, so an error (out of
 * descriptors) fails the call, the caller does not count it as a look,
 * and the look is redone. */
int smr__channel_slots_update(struct smr__channel_slots *s) {
  int r = 0;
  if (s->watch_fd >= 0 && !s->watch_lost) {
    r = smr__watch_drain(s->watch_fd, drain_one, s, DRAIN_MAX_READS);
    if (r > 0)
      s->resync = true; /* more pending: a listing covers them */
    if (r < 0)
      return r;
  } else {
    s->resync = true;
  }
  if (s->resync) {
    r = resync_by_listing(s);
    if (r < 0)
      return r;
  }
  for (unsigned i = 0; i < s->nslots; i++)
    if (s->dirty[i]) {
      r = ent_resolve(s, i);
      if (r < 0)
        return r;
      s->dirty[i] = 0;
    }
  return reap_closed(s);
}

/* ---- open and close ------------------------------------------------------ */

void smr__channel_slots_init(struct smr__channel_slots *s) {
  memset(s, 0, sizeof *s);
  s->dir_fd = s->watch_fd = -1;
}

/* Open the readers directory, the watch and the slot-file tables, and
 * look at the directory once. */
int smr__channel_slots_open(struct smr__channel_slots *s, const char *prefix,
                            struct smr__channel_state *st, unsigned nslots,
                            unsigned euid, unsigned owner) {
  s->st = st;
  s->nslots = nslots;
  s->euid = euid;
  char path[PATH_MAX];
  smr__channel_path(path, prefix, ".smr-readers", -1);
  int r = smr__dir_open(path);
  if (r < 0)
    return smr__channel_path_error(path, r == -ENOENT ? -EBADMSG : r);
  s->dir_fd = r;
  r = smr__channel_check_dir(s->dir_fd, owner);
  if (r < 0)
    return smr__channel_path_error(path, r);
  s->ent = calloc(s->nslots, sizeof *s->ent);
  s->live = calloc(s->nslots, sizeof *s->live);
  s->dirty = calloc(s->nslots, 1);
  s->closed = calloc(s->nslots, sizeof *s->closed);
  s->seen = calloc(s->nslots, 1);
  if (!s->ent || !s->live || !s->dirty || !s->closed || !s->seen)
    return -ENOMEM;
  for (unsigned i = 0; i < s->nslots; i++)
    s->ent[i].fd = -1;
  s->ack = smr__channel_acks(s->st);
  /* relaxed: acks of an earlier writer are void until we track the file
   * again (the release store in ent_resolve); a reader that still sees an
   * old ack is tracked by our listing below before our first commit. */
  for (unsigned i = 0; i < s->nslots; i++)
    atomic_store_explicit(&s->ack[i], 0, memory_order_relaxed);
  /* Watch first, then list: a name linked in between is in both. */
  s->watch_fd = smr__watch_open(path);
  if (s->watch_fd < 0)
    s->watch_fd = -1; /* no inotify (limits): list on every look */
  r = resync_by_listing(s);
  /* Files of readers that died before we came: remove them now. */
  for (unsigned j = 0; r >= 0 && j < s->nlive;) {
    r = reap(s, s->live[j]);
    if (r == 0)
      j++;
  }
  return r < 0 ? r : 0;
}

void smr__channel_slots_close(struct smr__channel_slots *s) {
  s->ack = NULL; /* acks stay: a later writer resets them */
  if (s->ent)
    for (unsigned i = 0; i < s->nslots; i++)
      ent_drop(s, i);
  free(s->ent);
  free(s->live);
  free(s->dirty);
  free(s->closed);
  free(s->seen);
  smr__file_close(s->watch_fd);
  smr__file_close(s->dir_fd);
}

/* ---- what the rest of the writer asks ------------------------------------ */

unsigned smr__channel_slots_count(const struct smr__channel_slots *s) {
  return s->nlive;
}

/* What the j-th tracked slot file announces: 0, -EBADMSG if its owner
 * truncated it (it announces nothing), or the read's error. */
int smr__channel_slots_read(const struct smr__channel_slots *s, unsigned j,
                            struct smr__channel_slot_snap *out) {
  return slot_load(&s->ent[s->live[j]], out);
}

/* Drop the slot files of dead readers that pin a buffer in `mask`.  Returns
 * how many were reclaimed or a negative errno. */
int smr__channel_slots_reap_pinning(struct smr__channel_slots *s, uint32_t mask,
                                    unsigned nbuf) {
  int n = 0;
  for (unsigned j = 0; j < s->nlive;) {
    unsigned i = s->live[j];
    struct smr__channel_slot_snap sn;
    int lr = slot_load(&s->ent[i], &sn);
    /* Unreadable: it may pin any buffer of `mask`; dead, it pins none. */
    if (lr == -EBADMSG ||
        (lr == 0 && !(mask & smr__channel_pin_bit(sn.pin, nbuf)))) {
      j++;
      continue;
    }
    int r = reap(s, i);
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

/* Whether a tracked reader may be blocked in smr_channel_wait: its flag, or
 * any slot we read by pread (one syscall per slot costs more than the
 * futex_wake it would save). */
bool smr__channel_slots_any_waiting(const struct smr__channel_slots *s) {
  for (unsigned j = 0; j < s->nlive; j++) {
    const struct smr__channel_slot_ent *e = &s->ent[s->live[j]];
    /* relaxed: ordered after our notify store by the caller's fence. */
    if (!e->map || atomic_load_explicit(&e->map->waiting, memory_order_relaxed))
      return true;
  }
  return false;
}

/* Sleep up to ns, or until the watch reports an event (a releasing
 * reader touches its file); without a watch, the whole time. */
void smr__channel_slots_wait(const struct smr__channel_slots *s, int64_t ns) {
  smr__watch_wait(s->watch_lost ? -1 : s->watch_fd, ns);
}
