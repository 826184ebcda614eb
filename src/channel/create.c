/* SPDX-License-Identifier: MIT */
/* The writer's own files: exclusive creation, takeover, the single-writer
 * lock.
 *
 * Design: in a shared directory (/dev/shm is world-writable) any local
 * user can create a channel's names before the writer does.  The writer
 * never adopts a file it did not create: it creates each file exclusively
 * (O_EXCL, mkdir, and link, which never replaces, for the state file of a
 * new channel), and accepts an existing one (a channel it takes over, the
 * lock file) only if it is a regular file of its own euid with a single
 * link.  A name another user holds is -EPERM; one of ours that is not such
 * a file is -EEXIST; either way smr_channel_error_path() names it, and
 * nothing is written to it.  A new channel's state file is complete before
 * it gets its name, so a reader never sees a half-made one. */
#define _GNU_SOURCE
#include "channel.h"

#include <errno.h>
#include <limits.h>
#include <string.h>

#include "platform/platform.h"

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

/* The name-of-a-channel-file index the writer creates: the readers
 * directory, the new state file, data file i (0 <= i < 32). */
#define NAME_READERS (-2)
#define NAME_NEW     (-1)

static void writer_path(char *buf, const char *prefix, int which) {
  if (which == NAME_READERS)
    smr__channel_path(buf, prefix, ".smr-readers", -1);
  else if (which == NAME_NEW)
    smr__channel_path(buf, prefix, ".smr-new", -1);
  else
    smr__channel_path(buf, prefix, ".smr-data-", which);
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
  return smr__channel_path_error(path, err);
}

/* An open file the writer will write: a regular file (smr__file_open
 * checked that), ours, one link; one it has just created (`mode` != 0)
 * has no permission bit beyond `mode` (the umask only removes bits). */
static int check_own(const smr_channel_writer *w, int fd, const char *path,
                     unsigned mode) {
  struct smr__file_info fi;
  int r = smr__file_info(fd, &fi);
  if (r < 0)
    return smr__channel_path_error(path, r);
  if (fi.uid != w->euid)
    return smr__channel_path_error(path, -EPERM);
  if (!fi.regular || fi.nlink != 1 || (mode && (fi.mode & ~mode)))
    return smr__channel_path_error(path, -EEXIST);
  return 0;
}

/* Open `path` read-write, created exclusively (`create`) or existing;
 * verified with check_own.  Returns the fd. */
static int open_checked(const smr_channel_writer *w, const char *path,
                        unsigned mode, bool create) {
  unsigned how = SMR__OPEN_RDWR;
  if (create)
    how |= SMR__OPEN_CREATE | SMR__OPEN_EXCL;
  /* With a group to give, a new file is created for the owner alone and
   * gets its group, then its mode (exactly), below: no member of the
   * default group can open it in between and keep reading it. */
  bool regroup = create && w->gid >= 0;
  int fd = smr__file_open(path, how, regroup ? mode & 0700 : mode,
                          regroup || w->exact_mode);
  if (fd == -ENOENT || fd == -EEXIST)
    return fd; /* the caller decides */
  if (fd < 0)
    return name_taken(w, path, fd == -EBADMSG ? -EEXIST : fd);
  int r = check_own(w, fd, path, create ? mode : 0);
  if (r == 0 && regroup) {
    r = smr__file_set_group(fd, w->gid);
    if (r == 0)
      r = smr__file_chmod(fd, mode);
    if (r < 0) {
      /* Ours, just created (the lock is held or the name was free): leave
       * no name behind that a later creation would have to clear. */
      (void)smr__file_unlink(path);
      r = smr__channel_path_error(path, r);
    }
  }
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
    return fd == -ENOENT ? smr__channel_path_error(path, fd) : fd;
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
    return smr__channel_path_error(path, r);
  return fi.uid == w->euid ? 0 : smr__channel_path_error(path, -EPERM);
}

/* Remove what an earlier channel of ours left under `path`. */
static int remove_stale(const smr_channel_writer *w, const char *path) {
  int r = check_stale(w, path);
  if (r == 0)
    r = smr__file_unlink(path);
  return r == 0 || r == -ENOENT ? 0 : smr__channel_path_error(path, r);
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
    smr__channel_unlink_if_ours(-1, path, w->file_ino[i]);
  }
  uint64_t dev, ino;
  if (new_fd >= 0 && smr__file_id(new_fd, &dev, &ino) == 0) {
    writer_path(path, w->prefix, NAME_NEW);
    smr__channel_unlink_if_ours(-1, path, ino);
  }
  if (dir_made)
    smr__channel_remove_readers_dir(w->prefix);
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
      (w->flags & SMR__CHANNEL_F_NOSUM) ? 0 : SMR__CHANNEL_SUM_BLOCKS;
  st->created_ns = (uint64_t)smr__now_ns();
  r = smr__channel_slots_open(&w->slots, w->prefix, w->st, w->nslots, w->euid,
                              w->euid);
  if (r < 0)
    return r;
  if (w->flags & SMR__CHANNEL_F_DURABLE) {
    r = smr__map_sync(st, size);
    if (r < 0)
      return r;
  }
  /* release: everything above is visible to a reader that sees the magic
   * (pairs with the acquire load in check_state, files.c). */
  atomic_store_explicit(&st->magic, SMR__CHANNEL_MAGIC, memory_order_release);
  return 0;
}

/* The shape of a new channel, from the options and the environment. */
static void creation_params(smr_channel_writer *w,
                            const struct smr_channel_options *o) {
  unsigned flags = o ? o->flags : 0;
  w->nbuf = o && o->buffers ? o->buffers : 3;
  w->nslots = o && o->readers ? o->readers : 64;
  w->flags = smr__channel_state_flags(flags);
  const char *env = smr__getenv("SMR_FENCE");
  if (env && strcmp(env, "symmetric") == 0)
    w->flags |= SMR__CHANNEL_F_SYMMETRIC;
  /* No usable membarrier here (old kernel, seccomp): readers fence. */
  if (!(w->flags & SMR__CHANNEL_F_SYMMETRIC) && smr__membarrier_global() < 0)
    w->flags |= SMR__CHANNEL_F_SYMMETRIC;
}

/* Every name a new channel needs, freed of what an earlier channel of ours
 * left; another user's name anywhere means nothing is touched. */
static int clear_names(smr_channel_writer *w) {
  char path[PATH_MAX];
  for (int k = NAME_READERS; k < (int)w->nbuf; k++) {
    writer_path(path, w->prefix, k);
    int r = check_stale(w, path);
    if (r < 0)
      return r;
  }
  /* New inodes for everything: readers of an earlier channel keep their
   * slot files in the old directory, which we can no longer reach, and
   * their mappings of the old data files. */
  int r = smr__channel_remove_readers_dir(w->prefix);
  if (r < 0) {
    writer_path(path, w->prefix, NAME_READERS);
    return smr__channel_path_error(path, r);
  }
  for (int k = NAME_NEW; k < (int)SMR_CHANNEL_MAX_BUFFERS; k++) {
    writer_path(path, w->prefix, k);
    r = remove_stale(w, path);
    if (r < 0 && k < (int)w->nbuf)
      return r;
  }
  return 0;
}

/* Create the channel: every file new and exclusively created, the state
 * file complete before it gets its name.  `replace`: a state file of ours
 * left by a creation that died stays as it is (a reader may have it
 * mapped): the new one is renamed over it. */
static int writer_create(smr_channel_writer *w,
                         const struct smr_channel_options *o, bool replace) {
  creation_params(w, o);
  unsigned reader_mode = o && o->reader_mode ? o->reader_mode : 0666;
  /* With a group (exact modes): who may read may join, nobody else. */
  if (w->gid >= 0 && !(o && o->reader_mode))
    reader_mode = w->mode | ((w->mode & 0444) >> 1);
  int r = clear_names(w);
  if (r < 0)
    return r;
  char path[PATH_MAX];
  writer_path(path, w->prefix, NAME_READERS);
  r = smr__dir_create(path, dir_mode_of(reader_mode),
                      w->exact_mode || w->gid >= 0, w->gid);
  if (r < 0)
    return r == -EEXIST ? name_taken(w, path, r)
                        : smr__channel_path_error(path, r);
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
    smr__channel_path(final, w->prefix, ".smr", -1);
    /* Named complete: a reader never sees a half-made state file. */
    r = replace ? smr__file_rename(path, final)
                : smr__dir_link(-1, path, final);
    if (r == -EEXIST)
      r = name_taken(w, final, r); /* taken since we looked */
    else if (r < 0)
      r = smr__channel_path_error(final, r);
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
  int r = smr__channel_map_state(w->state_fd, true, &w->st);
  if (r < 0)
    return smr__channel_path_error(state_path, r == -EAGAIN ? -EBADMSG : r);
  w->nbuf = w->st->buffers;
  w->nslots = w->st->slots;
  w->flags = w->st->flags;
  /* relaxed: the lock we hold orders us after the previous writer. */
  uint64_t cur = atomic_load_explicit(&w->st->current, memory_order_relaxed);
  if (cur &&
      (SMR__CHANNEL_INDEX(cur) >= w->nbuf || SMR__CHANNEL_VERSION(cur) == 0))
    return smr__channel_path_error(state_path, -EBADMSG);
  /* A missing directory is refused, not re-created: readers that have the
   * old one open would be invisible to us.  (The state file is ours.) */
  r = smr__channel_slots_open(&w->slots, w->prefix, w->st, w->nslots, w->euid,
                              w->euid);
  char path[PATH_MAX];
  /* The data files: ours, or created now where an earlier version of the
   * library had not yet made one (or one went missing): a new one gets the
   * state file's group and mode, the channel's, not this open's options. */
  struct smr__file_info sfi;
  if (r == 0 && (r = smr__file_info(w->state_fd, &sfi)) == 0) {
    w->gid = sfi.gid;
    w->mode = sfi.mode;
  }
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
  smr__channel_path(path, w->prefix, ".smr-lock", -1);
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
      return r == -EAGAIN ? -EBUSY : smr__channel_path_error(path, r);
  }
  return smr__channel_path_error(path, -EBUSY);
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
  smr__channel_path(path, w->prefix, ".smr", -1);
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
    return r < 0 ? smr__channel_path_error(path, r) : writer_create(w, o, true);
  }
  w->state_fd = fd;
  return writer_takeover(w, path);
}

int smr__channel_writer_files(smr_channel_writer *w,
                              const struct smr_channel_options *o) {
  int r = writer_lock(w);
  return r < 0 ? r : writer_state(w, o);
}
