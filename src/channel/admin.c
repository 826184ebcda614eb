/* SPDX-License-Identifier: MIT */
/* Channel administration: smr_channel_unlink and smr_channel_stat.
 *
 * Design: neither needs a handle.  Unlink takes the writer lock (or asks
 * the state file's observer lock) so that no writer runs while the files
 * go.  Stat reads the channel through the channel view (files.c), lists
 * the slot files as untrusted input, and only to verify the checksum joins
 * as an ordinary reader through the public calls (reader.c). */
#define _GNU_SOURCE
#include "channel.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "platform/platform.h"

int smr_channel_unlink(const char *name) {
  smr__channel_clear_path();
  char *prefix;
  int r = smr__channel_make_prefix(name, &prefix);
  if (r < 0)
    return r;
  char path[PATH_MAX];
  /* Hold the writer lock while removing, so no writer runs meanwhile;
   * without access to the lock file, ask the state file's observer lock. */
  smr__channel_path(path, prefix, ".smr-lock", -1);
  int lock_fd = smr__file_open(path, SMR__OPEN_RDWR, 0, false);
  if (lock_fd >= 0) {
    r = smr__lock_byte(lock_fd, 0);
    if (r < 0) {
      smr__file_close(lock_fd);
      free(prefix);
      return r == -EAGAIN ? -EBUSY : r;
    }
  }
  smr__channel_path(path, prefix, ".smr", -1);
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
    smr__channel_remove_readers_dir(
        prefix); /* best effort, like the data files */
    for (int i = 0; i < (int)SMR_CHANNEL_MAX_BUFFERS; i++) {
      smr__channel_path(path, prefix, ".smr-data-", i);
      smr__file_unlink(path);
    }
    smr__channel_path(path, prefix, ".smr-new", -1); /* a creation that died */
    smr__file_unlink(path);
    smr__channel_path(path, prefix, ".smr-lock", -1);
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
  const struct smr__channel_view *v;
  struct smr_channel_stat *st;
  struct smr_channel_reader_stat *rs;
  size_t cap, n;
};

/* One slot file of the directory into the statistics. */
static int stat_one(const char *name, void *arg) {
  struct stat_ctx *c = arg;
  int i = smr__channel_parse_slot_name(name, c->v->nslots);
  if (i < 0)
    return 0;
  int fd = smr__file_openat(c->v->dir_fd, name, SMR__OPEN_READ, 0, false);
  if (fd < 0)
    return smr__channel_not_a_slot(fd) ? 0 : fd;
  struct smr__channel_slot_snap sn = {0, 0, 0, 0};
  int got = smr__channel_slot_read(fd, &sn);
  int alive = smr__lock_held(fd, 0);
  smr__file_close(fd);
  if ((got < 0 && got != -EBADMSG) || alive < 0)
    return alive < 0 ? alive : got;
  uint64_t pin = sn.pin;
  bool active = sn.active != 0;
  uint64_t version = c->st->version;
  c->st->readers++; /* in use: alive, or dead and not yet removed */
  if (alive) {
    if (active && pin && SMR__CHANNEL_INDEX(pin) < c->v->nbuf)
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

/* The state file into *st: version, flags, statistics, writer liveness,
 * the buffers.  *cur: the validated `current`. */
static int stat_state(const struct smr__channel_view *v,
                      struct smr_channel_stat *st, uint64_t *cur_out) {
  struct smr__channel_state *s = v->st;
  /* acquire: pairs with the writer's release store of `current`. */
  uint64_t cur = atomic_load_explicit(&s->current, memory_order_acquire);
  unsigned ci = SMR__CHANNEL_INDEX(cur);
  if (cur && (ci >= v->nbuf || SMR__CHANNEL_VERSION(cur) == 0))
    return -EBADMSG;
  st->version = SMR__CHANNEL_VERSION(cur);
  st->buffers = v->nbuf;
  st->readers_max = v->nslots;
  st->flags = smr__channel_options(v->flags);
  /* relaxed: statistics, informational. */
  st->writer_pid =
      (int)atomic_load_explicit(&s->writer_pid, memory_order_relaxed);
  st->publishes = atomic_load_explicit(&s->publishes, memory_order_relaxed);
  st->dead_reclaimed =
      atomic_load_explicit(&s->dead_reclaimed, memory_order_relaxed);
  int r = smr__lock_held(v->state_fd, 0);
  if (r < 0)
    return r;
  st->writer_alive = r > 0;
  for (unsigned i = 0; i < v->nbuf; i++) {
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
  *cur_out = cur;
  return 0;
}

/* Verify the current payload's checksum by reading it as a reader. */
static int stat_verify(const char *name, struct smr_channel_stat *st) {
  smr_channel_reader *rd;
  int r = smr_channel_reader_open(name, 0, &rd);
  if (r == -EUSERS || r == -EACCES) {
    /* Cannot join (every slot taken, or not allowed to): report the rest
     * unverified rather than nothing. */
    st->checksum = SMR_CHANNEL_CHECKSUM_SKIP;
    return 0;
  }
  if (r < 0)
    return r;
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
  return r;
}

static int stat_view(const struct smr__channel_view *v, const char *name,
                     unsigned flags, struct smr_channel_stat *st,
                     struct smr_channel_reader_stat *rs, size_t cap,
                     size_t *nrs) {
  uint64_t cur;
  int r = stat_state(v, st, &cur);
  if (r < 0)
    return r;
  struct stat_ctx c = {v, st, rs, cap, 0};
  r = smr__dir_list(v->dir_fd, stat_one, &c);
  if (r < 0)
    return r;
  if (nrs)
    *nrs = c.n;
  if (v->flags & SMR__CHANNEL_F_NOSUM)
    st->checksum = SMR_CHANNEL_CHECKSUM_NONE;
  else if (!(flags & SMR_CHANNEL_STAT_VERIFY) || !cur)
    st->checksum = SMR_CHANNEL_CHECKSUM_SKIP;
  else
    return stat_verify(name, st);
  return 0;
}

int smr_channel_stat(const char *name, unsigned flags,
                     struct smr_channel_stat *st,
                     struct smr_channel_reader_stat *rs, size_t cap,
                     size_t *nrs) {
  smr__channel_clear_path();
  if (!st || (cap && !rs) || (flags & ~SMR_CHANNEL_STAT_VERIFY))
    return -EINVAL;
  memset(st, 0, sizeof *st);
  if (nrs)
    *nrs = 0;
  struct smr__channel_view v;
  smr__channel_view_init(&v);
  int r = smr__channel_view_open(&v, name);
  if (r == 0)
    r = stat_view(&v, name, flags, st, rs, cap, nrs);
  smr__channel_view_close(&v);
  return r;
}
