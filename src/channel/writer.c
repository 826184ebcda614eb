/* SPDX-License-Identifier: MIT */
/* The writer handle: open and close, begin / commit / publish.
 *
 * Design: publishing is three steps.  reuse.c chooses a buffer no reader
 * can reach (smr_channel_begin), the caller fills it, and the commit writes
 * the buffer's descriptor and makes it current with one release store,
 * then wakes waiting readers.  Opening takes the single-writer lock and
 * creates or takes over the channel's files (create.c), which also opens
 * the readers directory (slots.c); this file holds only the handle's
 * lifetime and the publish path. */
#define _GNU_SOURCE
#include "channel.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "platform/platform.h"

#define SMR__CHANNEL_FLAGS_KNOWN                                               \
  (SMR_CHANNEL_DURABLE | SMR_CHANNEL_NO_CHECKSUM | SMR_CHANNEL_NO_UMASK |      \
   SMR_CHANNEL_SYMMETRIC)
#define DEFAULT_TIMEOUT_NS 10000000000ll

static void writer_free(smr_channel_writer *w) {
  for (unsigned i = 0; i < SMR_CHANNEL_MAX_BUFFERS; i++) {
    smr__unmap(w->map[i], w->map_len[i]);
    smr__file_close(w->data_fd[i]);
  }
  smr__channel_slots_close(&w->slots); /* acks stay: a later writer resets */
  if (w->st)
    smr__unmap(w->st, smr__channel_state_size(w->nslots));
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

static bool options_valid(const struct smr_channel_options *o) {
  return !o || !((o->buffers &&
                  (o->buffers < 2 || o->buffers > SMR_CHANNEL_MAX_BUFFERS)) ||
                 o->readers > SMR_CHANNEL_MAX_READERS ||
                 (o->flags & ~SMR__CHANNEL_FLAGS_KNOWN) || o->mode > 07777 ||
                 o->reader_mode > 07777 ||
                 (o->group_set && o->gid == (unsigned)-1)); /* "no change" */
}

/* A handle with nothing open yet. */
static smr_channel_writer *writer_alloc(const struct smr_channel_options *o) {
  smr_channel_writer *w = calloc(1, sizeof *w);
  if (!w)
    return NULL;
  w->state_fd = w->lock_fd = -1;
  smr__channel_slots_init(&w->slots);
  for (unsigned i = 0; i < SMR_CHANNEL_MAX_BUFFERS; i++)
    w->data_fd[i] = -1;
  w->build = -1;
  w->owner_pid = smr__getpid();
  w->euid = smr__geteuid();
  w->mode = o && o->mode ? o->mode : 0644;
  w->exact_mode = o && (o->flags & SMR_CHANNEL_NO_UMASK);
  w->gid = o && o->group_set ? (int64_t)o->gid : -1;
  /* A group implies exact modes (no umask): so its defaults are the
   * group's, not the world's (0644 / 0666 would make the readers
   * directory world-writable). */
  if (w->gid >= 0 && !o->mode)
    w->mode = 0640;
  w->timeout_ns = o && o->timeout_set ? o->timeout_ns : DEFAULT_TIMEOUT_NS;
  return w;
}

/* The channel's files are ours: announce this writer. */
static void writer_start(smr_channel_writer *w) {
  /* For observers only (smr_channel_stat: writer alive): a reader holding a
   * shared lock here can hide us from them, not keep us out. */
  w->state_locked = smr__lock_byte(w->state_fd, 0) == 0;
  smr__channel_reuse_init(&w->reuse, w->st, &w->slots, w->nbuf,
                          (w->flags & SMR__CHANNEL_F_SYMMETRIC) != 0);
  /* relaxed: statistics and flags only the writer writes; a waiting flag
   * left by a crashed writer is cleared (it only costs readers a syscall). */
  atomic_store_explicit(&w->st->waiting, 0, memory_order_relaxed);
  atomic_store_explicit(&w->st->writer_pid, (uint32_t)smr__getpid(),
                        memory_order_relaxed);
  /* A writer that died between storing `current` and waking readers:
   * bring `notify` up to date and wake them (release: pairs with the
   * readers' load of notify).  relaxed load: we hold the writer lock, and
   * only the holder stores `current`. */
  uint64_t now_cur =
      atomic_load_explicit(&w->st->current, memory_order_relaxed);
  atomic_store_explicit(&w->st->notify, (uint32_t)SMR__CHANNEL_VERSION(now_cur),
                        memory_order_release);
  smr__futex_wake(&w->st->notify, INT_MAX);
}

int smr_channel_writer_open(const char *name,
                            const struct smr_channel_options *o,
                            smr_channel_writer **out) {
  smr__channel_clear_path();
  if (!out)
    return -EINVAL;
  *out = NULL;
  if (!options_valid(o))
    return -EINVAL;
  smr_channel_writer *w = writer_alloc(o);
  if (!w)
    return -ENOMEM;
  int r = smr__channel_make_prefix(name, &w->prefix);
  if (r == 0)
    r = smr__channel_writer_files(w, o);
  if (r < 0) {
    writer_free(w);
    return r;
  }
  writer_start(w);
  smr__channel_clear_path(); /* names of other users the channel does not
                                need */
  *out = w;
  return 0;
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

/* Make buffer i's file hold `cap` bytes and map it for writing. */
static int prepare_buffer(smr_channel_writer *w, unsigned i, uint64_t cap) {
  int r; /* the data files are open since smr_channel_writer_open */
  uint64_t page = 4096;
  /* Room for the block sums of any payload up to cap (layout.h). */
  if (!(w->flags & SMR__CHANNEL_F_NOSUM))
    cap = smr__channel_sum_reserve(cap);
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
    /* Shrink a much too large file.  Safe: nobody pins this buffer, and a
     * reader checks the file's size against each version it maps (it
     * reads the payload and its sums, never past them). */
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
  smr__channel_clear_path();
  if (!w || !buf)
    return -EINVAL;
  if (w->build >= 0)
    return -EBUSY;
  if (capacity > SMR_CHANNEL_MAX_PAYLOAD)
    return -EFBIG;
  struct smr__channel_choice c;
  int r = smr__channel_reuse_choose(&w->reuse, w->timeout_ns, &c);
  w->build_reclaimed = c.reclaimed;
  w->build_waited = c.waited_ns;
  if (r < 0)
    return r;
  unsigned i = c.buffer;
  r = prepare_buffer(w, i, capacity);
  if (r < 0)
    return r;
  w->build = (int)i;
  w->build_cap = capacity;
  *buf = w->map[i] ? (void *)w->map[i] : (void *)smr__channel_empty_payload;
  return 0;
}

int smr_channel_abort(smr_channel_writer *w) {
  smr__channel_clear_path();
  if (!w || w->build < 0)
    return -EINVAL;
  w->build = -1;
  return 0;
}

/* Buffer i's descriptor, written while no reader can reach the buffer. */
static void write_descriptor(smr_channel_writer *w, unsigned i,
                             uint64_t version, uint64_t size, uint64_t sum) {
  struct smr__channel_desc *d = &w->st->desc[i];
  /* relaxed: published by the caller's release store of `current`. */
  atomic_store_explicit(&d->version, version, memory_order_relaxed);
  atomic_store_explicit(&d->size, size, memory_order_relaxed);
  atomic_store_explicit(&d->checksum, sum, memory_order_relaxed);
  atomic_store_explicit(&d->file_size, w->file_size[i], memory_order_relaxed);
  atomic_store_explicit(&d->file_dev, w->file_dev[i], memory_order_relaxed);
  atomic_store_explicit(&d->file_ino, w->file_ino[i], memory_order_relaxed);
}

static int commit_sum(smr_channel_writer *w, uint64_t size, uint64_t sum,
                      bool have_sum, struct smr_channel_commit_info *info) {
  smr__channel_clear_path();
  if (!w || w->build < 0 || size > w->build_cap)
    return -EINVAL;
  unsigned i = (unsigned)w->build;
  int r;
  uint64_t end = size;
  if (w->flags & SMR__CHANNEL_F_NOSUM) {
    sum = 0;
  } else {
    if (!have_sum)
      sum = smr__channel_sum_write(w->map[i], NULL, size);
    end = smr__channel_sum_end(size);
  }
  if ((w->flags & SMR__CHANNEL_F_DURABLE) && end) {
    r = smr__map_sync(w->map[i], end);
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
  write_descriptor(w, i, version, size, sum);
  smr__channel_reuse_published(&w->reuse, old, (version << 8) | i);
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
  if (smr__channel_slots_any_waiting(&w->slots))
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
  /* Copy and hash in one pass, each block hashed while still in cache. */
  uint64_t sum = smr__channel_sum_write(buf, data, size);
  return commit_sum(w, size, sum, true, info);
}
