/* SPDX-License-Identifier: MIT */
/* The reader handle: join, read, release, wait.
 *
 * Design: a reader opens the channel view (files.c), then joins by
 * creating its own slot file, locking it and only then linking it in
 * under the first free name r<i>.  The read fast path (inline, in
 * smr/channel.h) flips `active` and re-validates; the slow path here
 * announces a new version in `pin` under a fence, re-validates, then
 * validates the buffer's descriptor and maps its file.  A reader writes
 * only its own slot file; everything it reads from the others is checked
 * first. */
#define _GNU_SOURCE
#include "channel.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "platform/platform.h"
#ifdef SMR_TEST_HOOKS
#include "test_hooks.h"
#endif

static struct smr__channel_reader *reader_of(smr_channel_reader *r) {
  return (struct smr__channel_reader *)r;
}

static void reader_free(struct smr__channel_reader *h) {
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
    char name[SMR__CHANNEL_SLOT_NAME_MAX];
    smr__channel_slot_name(name, h->slot_index);
    smr__channel_unlink_if_ours(h->chan.dir_fd, name, h->slot_ino);
    smr__unlock_byte(h->slot_fd, 0);
  }
  if (h->slot)
    smr__unmap(h->slot, SMR__CHANNEL_SLOT_FILE_SIZE);
  smr__file_close(h->slot_fd);
  smr__channel_view_close(&h->chan);
  free(h);
}

static struct smr__channel_reader *reader_alloc(void) {
  struct smr__channel_reader *h = calloc(1, sizeof *h);
  if (!h)
    return NULL;
  smr__channel_view_init(&h->chan);
  h->slot_fd = -1;
  for (unsigned i = 0; i < SMR_CHANNEL_MAX_BUFFERS; i++)
    h->data_fd[i] = -1;
  return h;
}

/* Remove name r<i> if its file is dead and ours to remove: under its
 * exclusive lock (which a live owner holds, and the writer's shared lock
 * excludes), and only if the name still names it.  1 if removed. */
static int remove_dead_slot(struct smr__channel_reader *h, const char *name) {
  int fd = smr__file_openat(h->chan.dir_fd, name, SMR__OPEN_RDWR, 0, false);
  if (fd < 0)
    return 0; /* another user's, not a file, or gone */
  int removed = 0;
  struct smr__file_info fi;
  if (smr__file_info(fd, &fi) == 0 && smr__lock_byte(fd, 0) == 0) {
    struct smr__file_info now;
    if (smr__dir_entry_info(h->chan.dir_fd, name, &now) == 0 &&
        now.ino == fi.ino && smr__dir_unlink(h->chan.dir_fd, name) == 0)
      removed = 1;
    smr__unlock_byte(fd, 0);
  }
  smr__file_close(fd);
  return removed;
}

/* Our slot file, not yet named: unnamed (O_TMPFILE) where the file system
 * allows, else under a temporary name (*tmp set) that is removed after.
 * Mode 0600 until locked, so nobody else can open it in between. */
static int slot_file_create(struct smr__channel_reader *h, char *tmp,
                            size_t n) {
  static _Atomic unsigned tmp_seq;
  tmp[0] = '\0';
  int fd = smr__file_tmp(h->chan.dir_fd, 0600);
  for (unsigned k = 0; fd == -EOPNOTSUPP || (tmp[0] && fd == -EEXIST); k++) {
    if (k == 64)
      return -EEXIST;
    /* relaxed: only makes names unique among this process's threads; the
     * clock makes them hard to guess for other users (O_EXCL decides). */
    snprintf(tmp, n, "t%d.%u.%lld", h->owner_pid,
             atomic_fetch_add_explicit(&tmp_seq, 1, memory_order_relaxed),
             (long long)smr__now_ns());
    fd = smr__file_openat(h->chan.dir_fd, tmp,
                          SMR__OPEN_RDWR | SMR__OPEN_CREATE | SMR__OPEN_EXCL,
                          0600, false);
  }
  return fd;
}

/* Create our slot file, fill and lock it, then link it in as the first
 * free r<i>.  Nobody ever sees it named and unlocked. */
static int claim_slot(struct smr__channel_reader *h) {
  char tmp[SMR__CHANNEL_ENTRY_MAX];
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
    unsigned start = (unsigned)h->owner_pid % h->chan.nslots;
    r = -EUSERS;
    for (unsigned j = 0; j < h->chan.nslots; j++) {
      unsigned i = (start + j) % h->chan.nslots;
      char name[SMR__CHANNEL_SLOT_NAME_MAX];
      smr__channel_slot_name(name, i);
      int lr = tmp[0] ? smr__dir_link(h->chan.dir_fd, tmp, name)
                      : smr__file_link_tmp(fd, h->chan.dir_fd, name);
      if (lr == -EEXIST && remove_dead_slot(h, name))
        lr = tmp[0] ? smr__dir_link(h->chan.dir_fd, tmp, name)
                    : smr__file_link_tmp(fd, h->chan.dir_fd, name);
      if (lr == -EEXIST)
        continue;
      if (lr == 0)
        h->slot_index = i;
      r = lr;
      break;
    }
  }
  if (tmp[0])
    smr__dir_unlink(h->chan.dir_fd, tmp);
  return r;
}

int smr_channel_reader_open(const char *name, unsigned flags,
                            smr_channel_reader **out) {
  smr__channel_clear_path();
  if (!out || (flags & ~SMR_CHANNEL_VERIFY))
    return -EINVAL;
  *out = NULL;
  struct smr__channel_reader *h = reader_alloc();
  if (!h)
    return -ENOMEM;
  h->open_flags = flags;
  h->owner_pid = smr__getpid();
  int r = smr__channel_view_open(&h->chan, name);
  if (r == 0)
    r = claim_slot(h);
  if (r < 0) {
    if (h->slot_fd >= 0)
      smr__unlock_byte(h->slot_fd, 0);
    h->owner_pid = -1; /* no name of ours to remove */
    reader_free(h);
    return r;
  }
  h->symmetric = (h->chan.flags & SMR__CHANNEL_F_SYMMETRIC) != 0;
  /* If registration fails we fence ourselves: always correct, whatever
   * barrier the writer uses. */
  if (!h->symmetric && smr__membarrier_global_register() < 0)
    h->symmetric = true;
  h->pub.current = &h->chan.st->current;
  h->pub.waiting = &h->chan.st->waiting;
  h->pub.active = &h->slot->active;
  /* No view yet: the fast path needs flags == 0. */
  h->pub.flags = SMR__CHANNEL_NOVIEW | (h->symmetric ? SMR__CHANNEL_SLOW : 0);
  h->pub.cached = 0;
  *out = &h->pub;
  return 0;
}

int smr_channel_reader_close(smr_channel_reader *r) {
  smr__channel_clear_path();
  if (!r)
    return 0;
  if (r->flags & SMR__CHANNEL_HELD)
    return -EBUSY;
  reader_free(reader_of(r));
  return 0;
}

/* Open data file i.  Only the channel's writer may own its data: a file
 * another user created under the name could change under a verified
 * guard. */
static int open_data(struct smr__channel_reader *h, unsigned i) {
  char path[PATH_MAX];
  smr__channel_path(path, h->chan.prefix, ".smr-data-", (int)i);
  int fd = smr__file_open(path, SMR__OPEN_READ, 0, false);
  if (fd < 0)
    return smr__channel_path_error(path, fd == -ENOENT ? -EBADMSG : fd);
  struct smr__file_info fi;
  int r = smr__file_info(fd, &fi);
  if (r == 0 && fi.uid != h->chan.uid)
    r = -EBADMSG;
  if (r < 0) {
    smr__file_close(fd);
    return smr__channel_path_error(path, r);
  }
  h->data_fd[i] = fd;
  h->file_dev[i] = fi.dev;
  h->file_ino[i] = fi.ino;
  return 0;
}

/* Check blocks [first, end) of the pinned payload of `cur` (data, size:
 * its view) against their sums, the sums against the descriptor first;
 * what passed is remembered until another version is pinned.  0 or
 * -EBADMSG. */
static int sum_check(struct smr__channel_reader *h, uint64_t cur,
                     const void *data, uint64_t size, uint64_t first,
                     uint64_t end) {
  const unsigned char *base = data;
  if (h->sum_cur != cur) {
    h->sum_cur = cur;
    h->sum_top = false;
    h->sum_shift = smr__channel_sum_shift(size);
    memset(h->sum_blocks, 0, sizeof h->sum_blocks);
  }
  if (!h->sum_top) {
    /* relaxed: the descriptor of a pinned buffer does not change; ordered
     * after our acquire load of `current` (see prepare_view). */
    uint64_t sum = atomic_load_explicit(
        &h->chan.st->desc[SMR__CHANNEL_INDEX(cur)].checksum,
        memory_order_relaxed);
    if (!smr__channel_sum_top_ok(base, size, sum))
      return -EBADMSG;
    h->sum_top = true;
  }
  for (uint64_t b = first; b < end; b++) {
    uint64_t bit = 1ull << (b % 64);
    if (h->sum_blocks[b / 64] & bit)
      continue;
    if (!smr__channel_sum_block_ok(base, size, b))
      return -EBADMSG;
    h->sum_blocks[b / 64] |= bit;
  }
  return 0;
}

/* Validate the descriptor of `cur` (pinned) and map its buffer. */
static int prepare_view(struct smr__channel_reader *h, uint64_t cur) {
  unsigned i = SMR__CHANNEL_INDEX(cur);
  if (i >= h->chan.nbuf || SMR__CHANNEL_VERSION(cur) == 0)
    return -EBADMSG;
  struct smr__channel_desc *d = &h->chan.st->desc[i];
  /* relaxed: ordered after our acquire load of `current`, which the writer
   * stored (release) after these. */
  uint64_t version = atomic_load_explicit(&d->version, memory_order_relaxed);
  uint64_t size = atomic_load_explicit(&d->size, memory_order_relaxed);
  if (version != SMR__CHANNEL_VERSION(cur) || size > SMR_CHANNEL_MAX_PAYLOAD)
    return -EBADMSG;
  int r = h->data_fd[i] < 0 ? open_data(h, i) : 0;
  if (r < 0)
    return r;
  /* The file we hold must be the one the descriptor names: after the
   * channel was unlinked and created again under the same name, the path
   * leads to another channel's file. */
  /* relaxed: ordered like version and size above. */
  if (atomic_load_explicit(&d->file_dev, memory_order_relaxed) !=
          h->file_dev[i] ||
      atomic_load_explicit(&d->file_ino, memory_order_relaxed) !=
          h->file_ino[i])
    return -ESTALE;
  /* The payload and, with a checksum, its block sums must lie in the file
   * as it is now (the writer shrinks a file it reuses: a mapping made for
   * an older, larger version is no proof; a byte past the end would be
   * SIGBUS) and be mapped.  Once per new version; the file cannot shrink
   * while we pin it. */
  uint64_t need = (h->chan.flags & SMR__CHANNEL_F_NOSUM)
                      ? size
                      : smr__channel_sum_end(size);
  uint64_t fsize;
  r = smr__file_stat(h->data_fd[i], &fsize, NULL);
  if (r < 0)
    return r;
  if (fsize < need)
    return -EBADMSG;
  if (need > h->map_len[i]) {
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
      size ? (const void *)h->map[i] : (const void *)smr__channel_empty_payload;
  /* Nothing checked for an earlier view carries over, even one with the
   * same `current` (only a corrupt state file could bring one back). */
  h->sum_cur = 0;
  if ((h->open_flags & SMR_CHANNEL_VERIFY) &&
      !(h->chan.flags & SMR__CHANNEL_F_NOSUM)) {
    r = sum_check(h, cur, data, size, 0, smr__channel_sum_count(size));
    if (r < 0)
      return r;
  }
  h->pub.cached = cur;
  h->pub.cached_data = data;
  h->pub.cached_size = size;
  h->pub.flags &= ~SMR__CHANNEL_NOVIEW;
  return 0;
}

static void unpin(struct smr__channel_reader *h) {
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
  smr__channel_clear_path();
  struct smr__channel_reader *h = reader_of(pub);
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
  struct smr__channel_reader *h = reader_of(pub);
  if (pub->flags & SMR__CHANNEL_HELD)
    unpin(h);
  /* relaxed: ordered after the unpin by the barrier discussed there. */
  if (atomic_load_explicit(&h->chan.st->waiting, memory_order_relaxed))
    smr__file_touch(h->slot_fd); /* the writer's directory watch wakes it */
}

int smr_channel_verify(smr_channel_reader *pub, const smr_channel_guard *g) {
  smr__channel_clear_path();
  if (!pub || !g || !(pub->flags & SMR__CHANNEL_HELD))
    return -EINVAL;
  struct smr__channel_reader *h = reader_of(pub);
  if (h->chan.flags & SMR__CHANNEL_F_NOSUM)
    return -ENOTSUP;
  uint64_t size = pub->cached_size;
  return sum_check(h, pub->cached, pub->cached_data, size, 0,
                   smr__channel_sum_count(size));
}

int smr_channel_verify_range(smr_channel_reader *pub,
                             const smr_channel_guard *g, uint64_t offset,
                             uint64_t length) {
  smr__channel_clear_path();
  if (!pub || !g || !(pub->flags & SMR__CHANNEL_HELD))
    return -EINVAL;
  /* The pinned view, and *g must be it: a guard of an older read (a table
   * opened on it and kept) would have us verify other bytes than it reads. */
  uint64_t size = pub->cached_size;
  if (g->data != pub->cached_data || g->size != size ||
      g->version != SMR__CHANNEL_VERSION(pub->cached))
    return -EINVAL;
  if (offset > size || length > size - offset)
    return -EINVAL;
  struct smr__channel_reader *h = reader_of(pub);
  if (h->chan.flags & SMR__CHANNEL_F_NOSUM)
    return -ENOTSUP;
  /* The common case of a table lookup: one block, checked before. */
  if (h->sum_cur == pub->cached && h->sum_top && length) {
    uint64_t b = offset >> h->sum_shift;
    if (b == (offset + length - 1) >> h->sum_shift &&
        (h->sum_blocks[b / 64] >> (b % 64) & 1))
      return 0;
  }
  unsigned shift = smr__channel_sum_shift(size);
  uint64_t first = offset >> shift,
           end = length ? ((offset + length - 1) >> shift) + 1 : first;
  return sum_check(h, pub->cached, pub->cached_data, size, first, end);
}

uint64_t smr_channel_version(smr_channel_reader *pub) {
  if (!pub)
    return 0;
  /* acquire: pairs with the writer's release store of `current`. */
  return SMR__CHANNEL_VERSION(
      atomic_load_explicit(pub->current, memory_order_acquire));
}

/* The state file we hold was removed (smr_channel_unlink): no new versions. */
static bool channel_unlinked(struct smr__channel_reader *h) {
  uint64_t nlink;
  return smr__file_stat(h->chan.state_fd, NULL, &nlink) == 0 && nlink == 0;
}

int smr_channel_wait(smr_channel_reader *pub, uint64_t version,
                     int64_t timeout_ns) {
  smr__channel_clear_path();
  if (!pub)
    return -EINVAL;
  if (pub->flags & SMR__CHANNEL_HELD)
    return -EBUSY;
  struct smr__channel_reader *h = reader_of(pub);
  int64_t deadline = smr__channel_deadline(timeout_ns);
  int64_t unacked_slice = SMR__CHANNEL_LIVENESS_MIN_NS;
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
    bool acked =
        atomic_load_explicit(&smr__channel_acks(h->chan.st)[h->slot_index],
                             memory_order_acquire) == h->slot_ino;
    /* acquire: pairs with the writer's release store of notify. */
    uint32_t n =
        atomic_load_explicit(&h->chan.st->notify, memory_order_acquire);
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
    if (!acked && unacked_slice < SMR__CHANNEL_LIVENESS_MAX_NS)
      unacked_slice *= 2;
    if (deadline - now < slice)
      slice = deadline - now;
    if (smr__futex_wait(&h->chan.st->notify, n, slice) == -ETIMEDOUT &&
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
  struct smr__channel_reader *h = reader_of(pub);
  h->hook = hook;
  h->hook_arg = arg;
  h->skip_validate = unsafe_skip_validate;
  if (hook || unsafe_skip_validate)
    pub->flags |= SMR__CHANNEL_SLOW;
  else if (!h->symmetric)
    pub->flags &= ~SMR__CHANNEL_SLOW;
}
#endif
