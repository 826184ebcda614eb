/* SPDX-License-Identifier: MIT */
/* Channel files: names and paths, the path behind an error, validation of
 * untrusted files, and the channel view.
 *
 * Design: everything a process learns from a channel file goes through a
 * check here first (the state file's header and size, the readers
 * directory's owner and mode, a slot file's length), and every name the
 * library derives from a channel's is bounded here before anything is
 * created.  This file calls only the platform layer: every other file of
 * the channel builds on it, and it on none of them. */
#define _GNU_SOURCE
#include "channel.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "platform/platform.h"

_Static_assert(sizeof(struct smr__channel_desc) == 64, "desc layout");
_Static_assert(sizeof(struct smr__channel_slot) == 64, "slot");
_Static_assert(offsetof(struct smr__channel_state, current) == 64, "line 1");
_Static_assert(offsetof(struct smr__channel_state, desc) ==
                   SMR__CHANNEL_DESC_OFFSET,
               "desc offset");
_Static_assert(SMR__CHANNEL_DESC_OFFSET + SMR_CHANNEL_MAX_BUFFERS * 64 <=
                   SMR__CHANNEL_HEADER_SIZE,
               "descriptors fit the header");

#define SMR__CHANNEL_STATE_FLAGS                                               \
  (SMR__CHANNEL_F_SYMMETRIC | SMR__CHANNEL_F_NOSUM | SMR__CHANNEL_F_DURABLE)

/* The public option flags and the state file's flags (a file format, fixed
 * in layout.h) are distinct namespaces: mapped here both ways. */
unsigned smr__channel_state_flags(unsigned options) {
  return ((options & SMR_CHANNEL_DURABLE) ? SMR__CHANNEL_F_DURABLE : 0) |
         ((options & SMR_CHANNEL_NO_CHECKSUM) ? SMR__CHANNEL_F_NOSUM : 0) |
         ((options & SMR_CHANNEL_SYMMETRIC) ? SMR__CHANNEL_F_SYMMETRIC : 0);
}

unsigned smr__channel_options(unsigned state) {
  return ((state & SMR__CHANNEL_F_DURABLE) ? SMR_CHANNEL_DURABLE : 0) |
         ((state & SMR__CHANNEL_F_NOSUM) ? SMR_CHANNEL_NO_CHECKSUM : 0) |
         ((state & SMR__CHANNEL_F_SYMMETRIC) ? SMR_CHANNEL_SYMMETRIC : 0);
}

/* The view of an empty payload: 8-byte aligned like every payload (data
 * files are mapped page-aligned), so tables and structs can sit on it. */
_Alignas(8) const unsigned char smr__channel_empty_payload[8];

int64_t smr__channel_deadline(int64_t timeout_ns) {
  if (timeout_ns < 0)
    return INT64_MAX;
  int64_t now = smr__now_ns();
  return timeout_ns > INT64_MAX - now ? INT64_MAX : now + timeout_ns;
}

/* ---- names and paths ----------------------------------------------------- */

/* The longest name the library derives from a channel's: the readers
 * directory moved aside under a 20-digit number
 * (smr__channel_remove_readers_dir).  Every
 * other suffix (".smr", ".smr-lock", ".smr-new", ".smr-data-31",
 * ".smr-readers") is shorter. */
#define SUFFIX_MAX (sizeof ".smr-readers.old-18446744073709551615" - 1)

/* NAME -> the path prefix of its files.  Every name derived from it is
 * checked here, before anything is created: its last component plus the
 * longest suffix must fit NAME_MAX, and the longest path (an entry of the
 * readers directory) PATH_MAX; else -ENAMETOOLONG. */
int smr__channel_make_prefix(const char *name, char **out) {
  if (!name || !*name)
    return -EINVAL;
  size_t n = strlen(name);
  if (name[n - 1] == '/')
    return -EINVAL;
  const char *slash = strrchr(name, '/');
  size_t base = slash ? n - (size_t)(slash + 1 - name) : n;
  size_t full = slash ? n : n + sizeof "/dev/shm/" - 1;
  if (base + SUFFIX_MAX > NAME_MAX ||
      full + SUFFIX_MAX + 1 + SMR__CHANNEL_ENTRY_MAX >= PATH_MAX)
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

void smr__channel_path(char *buf, const char *prefix, const char *suffix,
                       int index) {
  if (index >= 0)
    snprintf(buf, PATH_MAX, "%s%s%d", prefix, suffix, index);
  else
    snprintf(buf, PATH_MAX, "%s%s", prefix, suffix);
}

void smr__channel_slot_name(char *buf, unsigned i) {
  snprintf(buf, SMR__CHANNEL_SLOT_NAME_MAX, "r%u", i);
}

/* The slot index of a canonical name "r<i>" (no leading zeros), i < slots;
 * -1 for any other name. */
int smr__channel_parse_slot_name(const char *name, unsigned slots) {
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
void smr__channel_clear_path(void) {
  err_path[0] = '\0';
}

/* An error about the file at `path`: remember the path, return err. */
int smr__channel_path_error(const char *path, int err) {
  note_path(path);
  return err;
}

/* ---- untrusted files ------------------------------------------------------
 */

/* A readers directory the channel can trust: a directory owned by the
 * state file's owner, sticky unless only its owner may write it. */
int smr__channel_check_dir(int dir_fd, unsigned owner) {
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
          : st->checksum_alg != SMR__CHANNEL_SUM_BLOCKS)
    return -EBADMSG;
  return 0;
}

/* Map and validate the state file (read-only or read-write): the header
 * first, then the whole file once `slots` is known. */
int smr__channel_map_state(int fd, bool writable,
                           struct smr__channel_state **out) {
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

/* Read a slot file with pread: 0 if whole, -EBADMSG if short (truncated
 * by its owner), or -errno.  The kernel's copy is plain loads: acquire
 * fence, pairing with the owner's release store of active = 0. */
int smr__channel_slot_read(int fd, struct smr__channel_slot_snap *out) {
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

/* Open errors that prove a name is not a reader's slot file: gone, not a
 * regular file or a symlink (-EBADMSG), unreadable to us (readers make
 * their file 0644 before linking it), a socket (-ENXIO), a device, a file
 * under a lease.  Any other error (out of descriptors, I/O, interrupted)
 * says nothing about the name: the look fails and is redone. */
bool smr__channel_not_a_slot(int err) {
  return err == -ENOENT || err == -EBADMSG || err == -EACCES || err == -EPERM ||
         err == -ENXIO || err == -ENODEV || err == -EAGAIN ||
         err == -EOPNOTSUPP;
}

/* ---- removing files -------------------------------------------------------
 */

/* Remove a name only if it still names inode `ino` (dir_fd < 0: a path). */
void smr__channel_unlink_if_ours(int dir_fd, const char *name, uint64_t ino) {
  struct smr__file_info fi;
  if (smr__dir_entry_info(dir_fd, name, &fi) == 0 && fi.ino == ino)
    smr__dir_unlink(dir_fd, name);
}

static int unlink_one(const char *name, void *arg) {
  smr__dir_unlink(*(int *)arg, name); /* best effort */
  return 0;
}

/* Remove the readers directory (or a file of that name) and its entries. */
int smr__channel_remove_readers_dir(const char *prefix) {
  char path[PATH_MAX];
  smr__channel_path(path, prefix, ".smr-readers", -1);
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

/* ---- the channel view -----------------------------------------------------
 */

void smr__channel_view_init(struct smr__channel_view *v) {
  memset(v, 0, sizeof *v);
  v->state_fd = v->dir_fd = -1;
}

/* Open and validate the state file and the readers directory. */
int smr__channel_view_open(struct smr__channel_view *v, const char *name) {
  int r = smr__channel_make_prefix(name, &v->prefix);
  if (r < 0)
    return r;
  char path[PATH_MAX];
  smr__channel_path(path, v->prefix, ".smr", -1);
  r = smr__file_open(path, SMR__OPEN_READ, 0, false);
  if (r < 0)
    return smr__channel_path_error(path, r);
  v->state_fd = r;
  r = smr__channel_map_state(v->state_fd, false, &v->st);
  if (r < 0)
    return smr__channel_path_error(path, r);
  v->nbuf = v->st->buffers;
  v->nslots = v->st->slots;
  v->flags = v->st->flags;
  struct smr__file_info fi;
  r = smr__file_info(v->state_fd, &fi);
  if (r < 0)
    return r;
  v->uid = fi.uid;
  smr__channel_path(path, v->prefix, ".smr-readers", -1);
  r = smr__dir_open(path);
  if (r < 0)
    return smr__channel_path_error(path, r == -ENOENT ? -EBADMSG : r);
  v->dir_fd = r;
  r = smr__channel_check_dir(v->dir_fd, fi.uid);
  return r < 0 ? smr__channel_path_error(path, r) : 0;
}

void smr__channel_view_close(struct smr__channel_view *v) {
  if (v->st)
    smr__unmap(v->st, smr__channel_state_size(v->nslots));
  smr__file_close(v->dir_fd);
  smr__file_close(v->state_fd);
  free(v->prefix);
}
