/* SPDX-License-Identifier: MIT */
/* libFuzzer target: channel files (smr/channel.h) are untrusted input.
 *
 * Each input (format in fuzz_channel.h) becomes a channel in a private
 * directory made once per process (under $SMR_FUZZ_DIR, default /dev/shm;
 * removed at exit and on a failed oracle, not on a sanitizer report): the
 * state file (header and acks), up to two data files, and the readers
 * directory (or something else in its place) with up to three entries of
 * the input's own: forged slot files, alive (we hold their lock) or dead,
 * other users', short, under junk or temporary-looking names, and
 * directories, pipes, symlinks, sockets and hard links in their place; some
 * appear, go away, die or are truncated by another user only after a writer
 * opened.  Another writer may hold the writer lock.  Then a reader opens
 * the channel and reads, verifies, releases, reads again, asks the version,
 * waits (timeout 0) and closes; smr_channel_stat runs with and without
 * SMR_CHANNEL_STAT_VERIFY; depending on the mode a writer takes the channel
 * over (before the reader, or while it holds a guard) and publishes, and
 * the channel may be unlinked.  Every call must return 0 or a documented
 * negative errno; sanitizers catch the rest.  Every input ends with our
 * locks dropped and the directory emptied again.
 *
 * Oracles beyond "no crash" (each abort()s with a message):
 *   - a successful read gives a guard with a version >= 1 (the current one)
 *     and data; waiting for another version than the current returns 0;
 *   - a writer that takes over and publishes makes a fresh reader read
 *     exactly that payload (its checksum verifying);
 *   - the bytes of a guard held across the writer's publishes never change;
 *   - writer_open and unlink return -EBUSY exactly when another writer
 *     holds the lock;
 *   - smr_channel_stat counts exactly the regular files under canonical slot
 *     names r<i> (i < slots), as alive exactly those whose exclusive lock
 *     is held, and the writer as alive exactly when one holds its lock;
 *   - no call leaks a file descriptor, a mapping of a channel file, or a
 *     file outside the channel's names (checked every input).
 * Our own actions stay inside the threat model: we never remove, lock,
 * truncate or chown a file a reader handle of ours created.
 *
 * Built with -DFZ_REPLAY_MAIN (any compiler, no libFuzzer) it is
 * fuzz_channel_replay FILE|DIR...: runs each input once, for regression tests.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/fsuid.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "channel/layout.h"
#include "fuzz_channel.h"
#include "smr/channel.h"

#define FOREIGN_UID 65534u /* "nobody": another user, when we are root */

static char g_dir[256];     /* private to this process */
static char g_name[300];    /* the channel: g_dir/ch */
static char g_state[340];   /* g_name.smr */
static char g_lock[340];    /* g_name.smr-lock */
static char g_readers[340]; /* g_name.smr-readers */
static char g_old[340];     /* where FZ_DIR_SWAP moves it */
static char g_data[FZ_MAX_INDEX][340];
static int g_pid;

/* This input's header, slot contents, and the state of its late actions. */
static struct fz_header g_h;
static const uint8_t *g_slot_data[FZ_MAX_SLOTS];
static size_t g_slot_take[FZ_MAX_SLOTS];
static int g_lock_fd[FZ_MAX_SLOTS] = {-1, -1, -1};
static int g_writer_fd[2] = {-1, -1};     /* FZ_WRITER_LOCKED: lock, state */
static uint64_t g_slot_ino[FZ_MAX_SLOTS]; /* 0: not created by us */
static int g_last_reg = -1;               /* the entry FZ_SLOT_LINK links to */
static char g_slot_name[FZ_MAX_SLOTS][32];
static bool g_late_done;
static bool g_swapped; /* FZ_DIR_SWAP or _REMOVE replaced the directory */

static const char *g_input; /* fuzz_channel_replay: the file being run */
/* SMR_FUZZ_TOLERATE: errnos accepted from every call, to fuzz past a known
 * library bug (off by default; announced at start).  SIGBUS in the list
 * turns FZ_DIR_TRUNCATE off instead (the writer's mapping of a slot file
 * that another user truncated). */
static int g_tolerate[16];
static size_t g_ntolerate;
static bool g_no_truncate;

static void cleanup(void);
static int clear_dir(void);

/* A failed oracle: report, remove the channel files, crash (libFuzzer then
 * saves the input). */
#define FAIL(...)                                                              \
  do {                                                                         \
    if (g_input)                                                               \
      fprintf(stderr, "fuzz_channel: input %s\n", g_input);                    \
    fprintf(stderr, "fuzz_channel: " __VA_ARGS__);                             \
    fprintf(stderr, "\n");                                                     \
    cleanup();                                                                 \
    abort();                                                                   \
  } while (0)

static bool tolerated(int rc) {
  for (size_t i = 0; i < g_ntolerate; i++)
    if (-rc == g_tolerate[i])
      return true;
  return false;
}

/* rc must be 0 or one of the listed negative errnos. */
static void expect_rc(const char *what, int rc, const int *ok, size_t n) {
  if (rc == 0 || tolerated(rc))
    return;
  for (size_t i = 0; i < n; i++)
    if (rc == ok[i])
      return;
  FAIL("%s returned %d (%s)", what, rc, strerror(-rc));
}
#define EXPECT_RC(what, rc, ...)                                               \
  do {                                                                         \
    static const int ok_[] = {__VA_ARGS__};                                    \
    expect_rc(what, rc, ok_, sizeof ok_ / sizeof ok_[0]);                      \
  } while (0)

/* ---- the private directory ------------------------------------------------
 * Everything in it belongs to the current input; it is emptied before and
 * after each one.  Entries are at most two levels deep (the readers
 * directory, a directory in place of a slot file). */

static int g_clear_err; /* errno of the first failed removal */

static void remove_entry(int dfd, const char *name, int depth) {
  struct stat sb;
  if (fstatat(dfd, name, &sb, AT_SYMLINK_NOFOLLOW) != 0)
    return;
  if (S_ISDIR(sb.st_mode) && depth < 4) {
    int fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
    if (!d && fd >= 0)
      close(fd);
    if (d) {
      struct dirent *de;
      while ((de = readdir(d)) != NULL)
        if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
          remove_entry(dirfd(d), de->d_name, depth + 1);
      closedir(d);
    }
    if (unlinkat(dfd, name, AT_REMOVEDIR) != 0 && !g_clear_err)
      g_clear_err = errno;
  } else if (unlinkat(dfd, name, 0) != 0 && !g_clear_err) {
    g_clear_err = errno;
  }
}

/* Drop our slot locks and remove everything in the private directory:
 * 0, or the errno of the first removal that failed. */
static int clear_dir(void) {
  for (unsigned i = 0; i < FZ_MAX_SLOTS; i++)
    if (g_lock_fd[i] >= 0) {
      close(g_lock_fd[i]);
      g_lock_fd[i] = -1;
    }
  for (unsigned i = 0; i < 2; i++)
    if (g_writer_fd[i] >= 0) {
      close(g_writer_fd[i]);
      g_writer_fd[i] = -1;
    }
  g_clear_err = 0;
  DIR *d = opendir(g_dir);
  if (!d)
    return errno;
  struct dirent *de;
  while ((de = readdir(d)) != NULL)
    if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
      remove_entry(dirfd(d), de->d_name, 0);
  closedir(d);
  return g_clear_err;
}

/* Entries left in the private directory whose names are not the channel's
 * (the library wrote through a symlink, or by a name it should not use).
 * Allowed: the channel's files, the readers directory that FZ_DIR_SWAP
 * moved away, and one the writer moved aside because another user's
 * directory in it kept it from being removed (NAME.smr-readers.old-INO). */
static void check_no_strays(void) {
  DIR *d = opendir(g_dir);
  if (!d)
    FAIL("opendir %s: %s", g_dir, strerror(errno));
  struct dirent *de;
  while ((de = readdir(d)) != NULL) {
    const char *n = de->d_name;
    if (strcmp(n, ".") == 0 || strcmp(n, "..") == 0)
      continue;
    if (strcmp(n, "ch.smr") != 0 && strcmp(n, "ch.smr-lock") != 0 &&
        strcmp(n, "ch.smr-readers") != 0 &&
        strcmp(n, "ch.smr-readers-old") != 0 &&
        strncmp(n, "ch.smr-readers.old-", 19) != 0 &&
        strncmp(n, "ch.smr-data-", 12) != 0) {
      closedir(d);
      FAIL("stray file %s/%s", g_dir, n);
    }
  }
  closedir(d);
}

static void cleanup(void) {
  if (!g_dir[0])
    return;
  (void)clear_dir();
  rmdir(g_dir);
}

/* "ENXIO,ENOTEMPTY,39,SIGBUS": errno names (these few) or numbers. */
static void parse_tolerate(const char *s) {
  static const struct {
    const char *name;
    int e;
  } names[] = {
      {"ENXIO", ENXIO},   {"ENOTEMPTY", ENOTEMPTY}, {"EEXIST", EEXIST},
      {"EISDIR", EISDIR}, {"ENOTDIR", ENOTDIR},     {"ELOOP", ELOOP},
      {"EPERM", EPERM},   {"EACCES", EACCES},       {"EINVAL", EINVAL},
      {"ENOENT", ENOENT}, {"EBADMSG", EBADMSG},     {"EAGAIN", EAGAIN},
      {"ESTALE", ESTALE}, {"EBUSY", EBUSY},         {"EOPNOTSUPP", EOPNOTSUPP}};
  while (*s && g_ntolerate < sizeof g_tolerate / sizeof g_tolerate[0]) {
    size_t len = strcspn(s, ",");
    if (len == 6 && strncmp(s, "SIGBUS", 6) == 0) {
      g_no_truncate = true;
      fprintf(stderr, "fuzz_channel: FZ_DIR_TRUNCATE off (SIGBUS tolerated)\n");
      s += len + (s[len] == ',');
      continue;
    }
    int e = atoi(s);
    for (size_t i = 0; !e && i < sizeof names / sizeof names[0]; i++)
      if (strlen(names[i].name) == len && strncmp(s, names[i].name, len) == 0)
        e = names[i].e;
    if (e <= 0) {
      fprintf(stderr, "fuzz_channel: SMR_FUZZ_TOLERATE: unknown %.*s\n",
              (int)len, s);
      abort();
    }
    g_tolerate[g_ntolerate++] = e;
    fprintf(stderr, "fuzz_channel: tolerating -%d (%s) from every call\n", e,
            strerror(e));
    s += len;
    if (*s == ',')
      s++;
  }
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc;
  (void)argv;
  const char *tol = getenv("SMR_FUZZ_TOLERATE");
  if (tol)
    parse_tolerate(tol);
  const char *base = getenv("SMR_FUZZ_DIR");
  if (!base || !*base)
    base = "/dev/shm";
  g_pid = (int)getpid();
  /* One directory per process: fuzzing jobs may share SMR_FUZZ_DIR. */
  char tmpl[sizeof g_dir];
  snprintf(tmpl, sizeof tmpl, "%s/smr-fuzz-%d-XXXXXX", base, g_pid);
  if (!mkdtemp(tmpl)) {
    fprintf(stderr, "fuzz_channel: mkdtemp %s: %s\n", tmpl, strerror(errno));
    abort();
  }
  memcpy(g_dir, tmpl, sizeof g_dir);
  snprintf(g_name, sizeof g_name, "%s/ch", g_dir);
  snprintf(g_state, sizeof g_state, "%s.smr", g_name);
  snprintf(g_lock, sizeof g_lock, "%s.smr-lock", g_name);
  snprintf(g_readers, sizeof g_readers, "%s.smr-readers", g_name);
  snprintf(g_old, sizeof g_old, "%s.smr-readers-old", g_name);
  for (unsigned i = 0; i < FZ_MAX_INDEX; i++)
    snprintf(g_data[i], sizeof g_data[i], "%s.smr-data-%u", g_name, i);
  atexit(cleanup);
  return 0;
}

/* ---- building the channel ------------------------------------------------ */

/* Write one file: `take` bytes of content, then zeros up to len. */
static void put_file(const char *path, const uint8_t *p, size_t take,
                     size_t len) {
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0)
    FAIL("open %s: %s", path, strerror(errno));
  if (take > len)
    take = len;
  if (take && write(fd, p, take) != (ssize_t)take)
    FAIL("write %s: %s", path, strerror(errno));
  if (ftruncate(fd, (off_t)len) != 0)
    FAIL("ftruncate %s: %s", path, strerror(errno));
  close(fd);
}

/* Descriptor `idx` of the state file names the data file at `path`. */
static void put_identity(unsigned idx, const char *path, size_t state_len) {
  uint64_t off = SMR__CHANNEL_DESC_OFFSET +
                 idx * sizeof(struct smr__channel_desc) +
                 offsetof(struct smr__channel_desc, file_dev);
  struct stat sb;
  if (idx >= SMR_CHANNEL_MAX_BUFFERS || off + 16 > state_len || stat(path, &sb))
    return;
  uint64_t id[2] = {(uint64_t)sb.st_dev, (uint64_t)sb.st_ino};
  _Static_assert(offsetof(struct smr__channel_desc, file_ino) ==
                     offsetof(struct smr__channel_desc, file_dev) + 8,
                 "file_dev, file_ino adjacent");
  int fd = open(g_state, O_WRONLY | O_CLOEXEC);
  if (fd < 0 || pwrite(fd, id, sizeof id, (off_t)off) != (ssize_t)sizeof id)
    FAIL("pwrite identity: %s", strerror(errno));
  close(fd);
}

static bool is_root(void) {
  return geteuid() == 0;
}

/* The readers directory (or what stands in its place). */
static void make_readers_dir(const char *path, uint8_t b) {
  switch (FZ_DIR_KIND(b)) {
  case FZ_DIR_DIR: {
    mode_t mode = ((b & FZ_DIR_WRITABLE) ? 0777 : 0755) |
                  ((b & FZ_DIR_STICKY) ? 01000 : 0);
    if (mkdir(path, 0700) != 0 || chmod(path, mode) != 0)
      FAIL("mkdir %s: %s", path, strerror(errno));
    if ((b & FZ_DIR_FOREIGN) && is_root() &&
        chown(path, FOREIGN_UID, FOREIGN_UID) != 0)
      FAIL("chown %s: %s", path, strerror(errno));
    break;
  }
  case FZ_DIR_FILE:
    put_file(path, NULL, 0, 0);
    break;
  case FZ_DIR_SYMLINK:
    if (symlink(".", path) != 0)
      FAIL("symlink %s: %s", path, strerror(errno));
    break;
  default:
    break; /* absent */
  }
}

static int open_readers_dir(void) {
  return open(g_readers, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
}

/* A unix socket bound at dir/name (then closed: the name stays).  0, or
 * -1 with errno EEXIST if the name is taken (or too long: skipped). */
static int make_socket(const char *name) {
  struct sockaddr_un a;
  memset(&a, 0, sizeof a);
  a.sun_family = AF_UNIX;
  int n = snprintf(a.sun_path, sizeof a.sun_path, "%s/%s", g_readers, name);
  if (n < 0 || (size_t)n >= sizeof a.sun_path) {
    errno = EEXIST;
    return -1;
  }
  int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (s < 0)
    FAIL("socket: %s", strerror(errno));
  int r = bind(s, (struct sockaddr *)&a, sizeof a);
  if (r != 0 && errno != EADDRINUSE)
    FAIL("bind %s: %s", a.sun_path, strerror(errno));
  close(s);
  errno = EEXIST;
  return r;
}

/* Take the lock a live reader holds on its slot (exclusive OFD lock on
 * byte 0), or with `shared` a read lock anybody who can read the file may
 * take (which must not make it look alive), through an open file
 * description of our own, kept until the input ends or
 * FZ_SLOT_UNLOCK_LATE. */
static bool take_lock(int fd, bool shared) {
  struct flock fl;
  memset(&fl, 0, sizeof fl);
  fl.l_type = shared ? F_RDLCK : F_WRLCK;
  fl.l_whence = SEEK_SET;
  fl.l_start = 0;
  fl.l_len = 1;
  return fcntl(fd, F_OFD_SETLK, &fl) == 0;
}

static void lock_slot(unsigned i, int fd, bool shared) {
  if (!take_lock(fd, shared)) {
    /* Another entry already locks this inode (a hard link): it stays
     * alive through that one. */
    if (errno != EAGAIN && errno != EACCES)
      FAIL("F_OFD_SETLK: %s", strerror(errno));
    close(fd);
    return;
  }
  g_lock_fd[i] = fd;
}

/* Another writer's locks: the single-writer lock (the lock file) and the
 * observers' one (the state file, if any). */
static void lock_writer(void) {
  g_writer_fd[0] = open(g_lock, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (g_writer_fd[0] < 0 || !take_lock(g_writer_fd[0], false))
    FAIL("writer lock: %s", strerror(errno));
  g_writer_fd[1] = open(g_state, O_RDWR | O_CLOEXEC);
  if (g_writer_fd[1] >= 0 && !take_lock(g_writer_fd[1], false))
    FAIL("state lock: %s", strerror(errno));
}

/* Create slot entry i in the readers directory, if it is one. */
static void make_slot(unsigned i) {
  const struct fz_slot *s = &g_h.slot[i];
  int dfd = open_readers_dir();
  if (dfd < 0)
    return; /* no directory to put it in */
  const char *name = g_slot_name[i];
  unsigned kind = FZ_SLOT_KIND(s->flags);
  if (kind == FZ_SLOT_LINK && g_last_reg < 0)
    kind = FZ_SLOT_REG;
  bool foreign = (s->flags & FZ_SLOT_FOREIGN) && is_root();
  int r = 0;
  switch (kind) {
  case FZ_SLOT_DIR:
    r = mkdirat(dfd, name, 0755);
    break;
  case FZ_SLOT_FIFO:
    r = mkfifoat(dfd, name, 0644);
    break;
  case FZ_SLOT_SYMLINK:
    r = symlinkat("../ch.smr", dfd, name);
    break;
  case FZ_SLOT_SOCKET:
    r = make_socket(name);
    break;
  case FZ_SLOT_LINK: {
    /* Only to our own file: a reader may have taken its name since. */
    const char *from = g_slot_name[g_last_reg];
    struct stat sb;
    if (fstatat(dfd, from, &sb, AT_SYMLINK_NOFOLLOW) != 0 ||
        (uint64_t)sb.st_ino != g_slot_ino[g_last_reg]) {
      close(dfd);
      return;
    }
    r = linkat(dfd, from, dfd, name, 0);
    int fd = r == 0 ? openat(dfd, name, O_RDWR | O_NOFOLLOW | O_CLOEXEC) : -1;
    if (fd >= 0 && (s->flags & FZ_SLOT_LOCKED))
      lock_slot(i, fd, false);
    else if (fd >= 0)
      close(fd);
    break;
  }
  default: {
    int fd = openat(dfd, name,
                    O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
    if (fd < 0) {
      r = -1;
      break;
    }
    size_t take = g_slot_take[i], len = s->file.len;
    if (take > len)
      take = len;
    if (fchmod(fd, kind == FZ_SLOT_REG_0666 ? 0666 : 0644) != 0 ||
        (take && write(fd, g_slot_data[i], take) != (ssize_t)take) ||
        ftruncate(fd, (off_t)len) != 0)
      FAIL("slot file %s: %s", name, strerror(errno));
    if (foreign && fchown(fd, FOREIGN_UID, FOREIGN_UID) != 0)
      FAIL("fchown %s: %s", name, strerror(errno));
    g_last_reg = (int)i;
    if (s->flags & FZ_SLOT_LOCKED)
      lock_slot(i, fd, kind == FZ_SLOT_REG_SHARED);
    else
      close(fd);
    break;
  }
  }
  /* A name taken twice (EEXIST) just leaves the first entry. */
  if (r != 0 && errno != EEXIST)
    FAIL("slot entry %s: %s", name, strerror(errno));
  struct stat sb;
  if (fstatat(dfd, name, &sb, AT_SYMLINK_NOFOLLOW) == 0 && r == 0) {
    g_slot_ino[i] = (uint64_t)sb.st_ino;
    if (foreign &&
        (kind == FZ_SLOT_DIR || kind == FZ_SLOT_FIFO ||
         kind == FZ_SLOT_SYMLINK || kind == FZ_SLOT_SOCKET) &&
        fchownat(dfd, name, FOREIGN_UID, FOREIGN_UID, AT_SYMLINK_NOFOLLOW))
      FAIL("fchownat %s: %s", name, strerror(errno));
  }
  close(dfd);
}

/* Another user (FOREIGN_UID) truncates every entry of ours it may write
 * (setfsuid: this thread's file system identity only). */
static void truncate_as_other(void) {
  int dfd = open_readers_dir();
  if (dfd < 0)
    return;
  setfsgid(FOREIGN_UID);
  setfsuid(FOREIGN_UID);
  for (unsigned i = 0; i < g_h.nslots; i++) {
    struct stat sb;
    if (!g_slot_ino[i] ||
        fstatat(dfd, g_slot_name[i], &sb, AT_SYMLINK_NOFOLLOW) != 0 ||
        (uint64_t)sb.st_ino != g_slot_ino[i])
      continue; /* not ours (any more) */
    int fd = openat(dfd, g_slot_name[i],
                    O_WRONLY | O_TRUNC | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    if (fd >= 0)
      close(fd);
  }
  setfsuid(0);
  setfsgid(0);
  if (setfsuid(0) != 0 || setfsgid(0) != 0)
    FAIL("setfsuid: cannot return to root");
  close(dfd);
}

/* After the first writer_open (or before the reader when no writer runs):
 * swap the directory, create the late entries, unlink and unlock others,
 * truncate. */
/* Remove entry i's name if it still names what we created: a reader of
 * ours may have taken the name since (removing a live reader's name is its
 * owner's privilege only). */
static void unlink_ours(unsigned i) {
  int dfd = open_readers_dir();
  const char *name = g_slot_name[i];
  struct stat sb;
  if (dfd >= 0 && g_slot_ino[i] &&
      fstatat(dfd, name, &sb, AT_SYMLINK_NOFOLLOW) == 0 &&
      (uint64_t)sb.st_ino == g_slot_ino[i])
    unlinkat(dfd, name, S_ISDIR(sb.st_mode) ? AT_REMOVEDIR : 0);
  if (dfd >= 0)
    close(dfd);
}

static void apply_late(void) {
  if (g_late_done)
    return;
  g_late_done = true;
  bool remove = FZ_DIR_KIND(g_h.dir) == FZ_DIR_DIR && (g_h.dir & FZ_DIR_REMOVE);
  if (FZ_DIR_KIND(g_h.dir) == FZ_DIR_DIR && (g_h.dir & FZ_DIR_SWAP) &&
      !remove) {
    /* The writer keeps its directory fd (and sees the readers that have
     * their files there); new readers use the new directory. */
    struct stat sb;
    if (lstat(g_readers, &sb) == 0 && S_ISDIR(sb.st_mode) &&
        rename(g_readers, g_old) == 0) {
      make_readers_dir(g_readers, g_h.dir);
      g_last_reg = -1;
      g_swapped = true;
    }
  }
  for (unsigned i = 0; i < g_h.nslots; i++) {
    uint8_t f = g_h.slot[i].flags;
    if (f & FZ_SLOT_LATE) {
      make_slot(i);
      continue;
    }
    if ((f & FZ_SLOT_UNLOCK_LATE) && g_lock_fd[i] >= 0) {
      close(g_lock_fd[i]);
      g_lock_fd[i] = -1;
    }
    if (f & FZ_SLOT_UNLINK_LATE)
      unlink_ours(i);
  }
  if ((g_h.dir & FZ_DIR_TRUNCATE) && is_root() && !g_no_truncate)
    truncate_as_other();
  if (remove) {
    /* Only if no reader of ours has its file there: the writer watching
     * it then learns that it is gone. */
    for (unsigned i = 0; i < g_h.nslots; i++)
      unlink_ours(i);
    if (rmdir(g_readers) == 0)
      g_swapped = true;
  }
}

/* ---- checks -------------------------------------------------------------- */

static int count_fds(void) {
  DIR *d = opendir("/proc/self/fd");
  if (!d)
    FAIL("opendir /proc/self/fd: %s", strerror(errno));
  int n = 0;
  struct dirent *de;
  while ((de = readdir(d)) != NULL)
    if (de->d_name[0] != '.')
      n++;
  closedir(d);
  return n;
}

static int channel_maps(void) {
  FILE *f = fopen("/proc/self/maps", "re");
  if (!f)
    return 0;
  char line[1024];
  int n = 0;
  while (fgets(line, sizeof line, f))
    if (strstr(line, g_dir))
      n++;
  fclose(f);
  return n;
}

/* Whether a canonical slot name r<i>, i < slots (as
 * smr__channel_parse_slot_name in src/channel/files.c is meant to decide,
 * reimplemented here). */
static bool canonical_slot(const char *n, unsigned slots) {
  if (n[0] != 'r' || n[1] < '0' || n[1] > '9' || (n[1] == '0' && n[2]))
    return false;
  unsigned long v = 0;
  for (const char *p = n + 1; *p; p++) {
    if (*p < '0' || *p > '9')
      return false;
    v = v * 10 + (unsigned long)(*p - '0');
    if (v >= slots)
      return false;
  }
  return true;
}

/* Slot files in the readers directory as stat must see them: regular files
 * under canonical names, and how many of those have their lock held. */
static void count_slots(unsigned slots, unsigned *files, unsigned *alive) {
  *files = *alive = 0;
  int dfd = open_readers_dir();
  DIR *d = dfd >= 0 ? fdopendir(dfd) : NULL;
  if (!d) {
    if (dfd >= 0)
      close(dfd);
    return;
  }
  struct dirent *de;
  while ((de = readdir(d)) != NULL) {
    struct stat sb;
    if (!canonical_slot(de->d_name, slots) ||
        fstatat(dirfd(d), de->d_name, &sb, AT_SYMLINK_NOFOLLOW) != 0 ||
        !S_ISREG(sb.st_mode))
      continue;
    (*files)++;
    int fd = openat(dirfd(d), de->d_name,
                    O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0)
      FAIL("open slot %s: %s", de->d_name, strerror(errno));
    /* A read-lock probe: only an exclusive lock (a live owner) conflicts. */
    struct flock fl;
    memset(&fl, 0, sizeof fl);
    fl.l_type = F_RDLCK;
    fl.l_whence = SEEK_SET;
    fl.l_len = 1;
    if (fcntl(fd, F_OFD_GETLK, &fl) != 0)
      FAIL("F_OFD_GETLK: %s", strerror(errno));
    if (fl.l_type != F_UNLCK)
      (*alive)++;
    close(fd);
  }
  closedir(d);
}

/* ---- the calls ----------------------------------------------------------- */

static void payload_fill(uint8_t *b, size_t n, uint64_t seed) {
  for (size_t j = 0; j < n; j++)
    b[j] = (uint8_t)(seed * 29u + j * 13u + (j >> 8));
}

/* A fresh reader must see exactly what the writer published last. */
static void check_published(const uint8_t *data, uint64_t size,
                            uint64_t version) {
  smr_channel_reader *r;
  int rc = smr_channel_reader_open(g_name, SMR_CHANNEL_VERIFY, &r);
  /* Every slot name taken (by our entries or readers); or the writer made
   * the directory and FZ_DIR_SWAP replaced it with one of the input's
   * (foreign, or writable and not sticky), or FZ_DIR_REMOVE removed it. */
  if (rc == -EUSERS || (rc == -EBADMSG && g_swapped) || tolerated(rc))
    return;
  if (rc != 0)
    FAIL("reader after a successful publish: open %d", rc);
  smr_channel_guard g;
  rc = smr_channel_read(r, &g);
  if (rc != 0)
    FAIL("reader after a successful publish: read %d", rc);
  if (g.version != version || g.size != size ||
      (size && memcmp(g.data, data, size) != 0))
    FAIL("reader after publish: version %llu size %llu, published %llu %llu",
         (unsigned long long)g.version, (unsigned long long)g.size,
         (unsigned long long)version, (unsigned long long)size);
  rc = smr_channel_verify_range(r, &g, size / 3, size - size / 3);
  EXPECT_RC("verify_range after publish", rc, -ENOTSUP);
  rc = smr_channel_verify(r, &g);
  EXPECT_RC("verify after publish", rc, -ENOTSUP);
  smr_channel_release(r, &g);
  if (smr_channel_reader_close(r) != 0)
    FAIL("reader close");
}

/* Take the channel over and publish a few payloads (timeout 0). */
static void writer_round(uint64_t seed) {
  struct smr_channel_options o = {0};
  /* Mostly no waiting for pinned buffers; some inputs wait 1 ms. */
  o.timeout_ns = (seed & 3) == 3 ? 1000000 : 0;
  o.timeout_set = true;
  smr_channel_writer *w;
  int rc = smr_channel_writer_open(g_name, &o, &w);
  apply_late();
  /* The lock comes first: -EBUSY exactly when another writer holds it. */
  if ((rc == -EBUSY) != ((g_h.mode & FZ_WRITER_LOCKED) != 0) && !tolerated(rc))
    FAIL("writer_open returned %d, another writer %s", rc,
         (g_h.mode & FZ_WRITER_LOCKED) ? "holds the lock" : "is not running");
  /* -EAGAIN / -EINVAL: not documented for writer_open, tolerated here so
   * the fuzzer looks further (test_channel_corrupt pins the exact codes).
   * -EPERM / -EEXIST: a file of another user, or a name holding something
   * that is not a regular single-link file, is never adopted. */
  EXPECT_RC("writer_open", rc, -EBADMSG, -EBUSY, -EAGAIN, -EINVAL, -EPERM,
            -EEXIST);
  if (rc != 0)
    return;
  static uint8_t buf[9000];
  static const uint64_t sizes[] = {0, 1, 100, 4096, 9000};
  for (int k = 0; k < 3; k++) {
    uint64_t size = sizes[(seed + (uint64_t)k) % 5];
    payload_fill(buf, (size_t)size, seed + (uint64_t)k);
    struct smr_channel_commit_info info;
    rc = smr_channel_publish(w, size ? buf : NULL, size, &info);
    /* -EOVERFLOW: a forged version near 2^56 - 1. */
    EXPECT_RC("publish", rc, -EBUSY, -EOVERFLOW);
    if (rc == 0) {
      if (info.bytes != size || info.buffer >= SMR_CHANNEL_MAX_BUFFERS)
        FAIL("commit info");
      check_published(buf, size, info.version);
    }
  }
  smr_channel_writer_close(w);
}

static void stat_round(unsigned flags) {
  struct smr_channel_stat st;
  struct smr_channel_reader_stat rs[8];
  size_t nrs = 0;
  int rc = smr_channel_stat(g_name, flags, &st, rs, 8, &nrs);
  EXPECT_RC("stat", rc, -ENOENT, -EAGAIN, -EBADMSG, -EUSERS);
  if (rc != 0)
    return;
  if (st.buffers < 2 || st.buffers > SMR_CHANNEL_MAX_BUFFERS ||
      st.readers_max < 1 || st.readers_max > SMR_CHANNEL_MAX_READERS ||
      st.readers > st.readers_max || nrs > st.readers_max)
    FAIL("stat numbers out of range");
  for (size_t i = 0; i < nrs && i < 8; i++)
    if (rs[i].slot >= st.readers_max)
      FAIL("stat: reader slot %u of %u", rs[i].slot, st.readers_max);
  if (flags & SMR_CHANNEL_STAT_VERIFY)
    return; /* its reader may have removed dead files after the count */
  unsigned files, alive, rs_alive = 0;
  count_slots(st.readers_max, &files, &alive);
  for (size_t i = 0; i < nrs && i < 8; i++)
    rs_alive += rs[i].alive;
  if (nrs != files || st.readers != files || (nrs <= 8 && rs_alive != alive))
    FAIL("stat: %zu slot files (readers %u), %u alive; the directory has %u, "
         "%u alive",
         nrs, st.readers, rs_alive, files, alive);
  /* Observers see the writer through the state file's lock, which a
   * writer (here: FZ_WRITER_LOCKED) holds. */
  if (st.writer_alive != ((g_h.mode & FZ_WRITER_LOCKED) != 0))
    FAIL("stat: writer_alive %d", st.writer_alive);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < FZ_HEADER)
    return 0;
  fz_header_get(&g_h, data);
  const uint8_t *p = data + FZ_HEADER;
  size_t left = size - FZ_HEADER;
  /* libFuzzer opens files between inputs: compare within this one. */
  int fds = count_fds();
  int e = clear_dir();
  if (e)
    FAIL("emptying %s: %s", g_dir, strerror(e));
  g_late_done = g_swapped = false;
  g_last_reg = -1;
  memset(g_slot_ino, 0, sizeof g_slot_ino);

  const char *paths[3] = {g_state, g_data[g_h.idx[0]], g_data[g_h.idx[1]]};
  bool present[3] = {!(g_h.mode & FZ_NO_STATE), g_h.ndata >= 1, g_h.ndata >= 2};
  for (int i = 0; i < 3; i++) {
    size_t take = g_h.file[i].bytes < left ? g_h.file[i].bytes : left;
    if (present[i])
      put_file(paths[i], p, take, g_h.file[i].len);
    p += take;
    left -= take;
  }
  for (unsigned i = 0; i < FZ_MAX_SLOTS; i++) {
    size_t take = g_h.slot[i].file.bytes < left ? g_h.slot[i].file.bytes : left;
    g_slot_data[i] = p;
    g_slot_take[i] = take;
    p += take;
    left -= take;
  }
  for (unsigned i = 0; i < FZ_MAX_SLOTS; i++)
    fz_slot_name(g_slot_name[i], g_h.slot[i].name, g_pid);
  make_readers_dir(g_readers, g_h.dir);
  for (unsigned i = 0; i < g_h.nslots; i++)
    if (!(g_h.slot[i].flags & FZ_SLOT_LATE))
      make_slot(i);
  if (g_h.mode & FZ_WRITER_LOCKED)
    lock_writer();
  if (present[0] && !(g_h.mode & FZ_KEEP_IDS))
    for (int i = 1; i < 3; i++)
      if (present[i])
        put_identity(g_h.idx[i - 1], paths[i], g_h.file[0].len);
  uint64_t seed = left ? p[0] : size;

  if (g_h.mode & FZ_WRITER_FIRST)
    writer_round(seed);
  if (!(g_h.mode & (FZ_WRITER_FIRST | FZ_WRITER_PINNED)))
    apply_late();

  smr_channel_reader *r = NULL, *r2 = NULL;
  int rc = smr_channel_reader_open(
      g_name, (g_h.mode & FZ_VERIFY) ? SMR_CHANNEL_VERIFY : 0, &r);
  EXPECT_RC("reader_open", rc, -ENOENT, -EAGAIN, -EBADMSG, -EUSERS);
  if (rc == 0 && (g_h.mode & FZ_TWO_READERS)) {
    rc = smr_channel_reader_open(g_name, 0, &r2);
    EXPECT_RC("reader_open 2", rc, -EUSERS);
  }
  if (r) {
    smr_channel_guard g;
    rc = smr_channel_read(r, &g);
    EXPECT_RC("read", rc, -ENODATA, -EBADMSG, -ESTALE);
    if (rc == 0) {
      /* Versions start at 1; nothing runs concurrently here. */
      if (g.version == 0 || g.data == NULL ||
          g.version != smr_channel_version(r))
        FAIL("guard: version %llu (current %llu), data %p",
             (unsigned long long)g.version,
             (unsigned long long)smr_channel_version(r), g.data);
      /* A range first (the blocks it touches, and the block sums), then
       * the whole payload: a size or sums past the file would SIGBUS. */
      uint64_t off = g.size ? seed % (g.size + 1) : 0;
      uint64_t len = (seed >> 32) % (g.size - off + 1);
      EXPECT_RC("verify_range", smr_channel_verify_range(r, &g, off, len),
                -EBADMSG, -ENOTSUP);
      EXPECT_RC("verify_range past the end",
                smr_channel_verify_range(r, &g, off, g.size - off + 1),
                -EINVAL);
      EXPECT_RC("verify", smr_channel_verify(r, &g), -EBADMSG, -ENOTSUP);
      uint8_t snap[64];
      size_t ns = g.size < sizeof snap ? (size_t)g.size : sizeof snap;
      memcpy(snap, g.data, ns);
      if (g_h.mode & FZ_WRITER_PINNED) {
        writer_round(seed);
        if (memcmp(snap, g.data, ns) != 0)
          FAIL("a pinned payload changed under its guard");
      }
      if (smr_channel_read(r, &g) != -EBUSY)
        FAIL("second read while holding a guard");
      smr_channel_release(r, &g);
      rc = smr_channel_read(r, &g);
      EXPECT_RC("read again", rc, -ENODATA, -EBADMSG, -ESTALE);
      if (rc == 0)
        smr_channel_release(r, &g);
    } else if (g_h.mode & FZ_WRITER_PINNED) {
      writer_round(seed);
    }
    if (r2) {
      rc = smr_channel_read(r2, &g);
      EXPECT_RC("read 2", rc, -ENODATA, -EBADMSG, -ESTALE);
      if (rc == 0)
        smr_channel_release(r2, &g);
      if (smr_channel_reader_close(r2) != 0)
        FAIL("reader_close 2");
    }
    uint64_t v = smr_channel_version(r);
    rc = smr_channel_wait(r, v, 0);
    EXPECT_RC("wait", rc, -ETIMEDOUT, -ESTALE);
    if (smr_channel_wait(r, v + 1, 0) != 0)
      FAIL("wait for a version other than the current one");
    if (smr_channel_reader_close(r) != 0)
      FAIL("reader_close");
  } else if (g_h.mode & FZ_WRITER_PINNED) {
    writer_round(seed);
  }

  stat_round(0);
  stat_round(SMR_CHANNEL_STAT_VERIFY);
  if (g_h.mode & FZ_UNLINK) {
    rc = smr_channel_unlink(g_name);
    if ((rc == -EBUSY) != ((g_h.mode & FZ_WRITER_LOCKED) != 0))
      FAIL("unlink returned %d, another writer %s", rc,
           (g_h.mode & FZ_WRITER_LOCKED) ? "holds the lock" : "is not running");
    EXPECT_RC("unlink", rc, -ENOENT, -EBADMSG, -EBUSY);
  }

  check_no_strays();
  e = clear_dir();
  if (e)
    FAIL("emptying %s: %s", g_dir, strerror(e));
  int now = count_fds();
  if (now != fds)
    FAIL("file descriptor leak (%d open, %d before)", now, fds);
  if (channel_maps() != 0)
    FAIL("mapping of a channel file leaked");
  return 0;
}

#ifdef FZ_REPLAY_MAIN
#include "fuzz_replay.h"
#include <signal.h>

/* fuzz_channel_replay FILE|DIR...: each input once, directories in name order.
 */
static unsigned long g_replayed;

/* A crash (SIGBUS from a truncated mapping, say): name the input, remove
 * the channel files (best effort), then die of the signal. */
static void say(const char *m) {
  ssize_t n = write(2, m, strlen(m));
  (void)n; /* nothing to do if stderr is gone */
}

static void on_crash(int sig) {
  say("fuzz_channel_replay: crashed on input ");
  say(g_input ? g_input : "?");
  say("\n");
  cleanup();
  signal(sig, SIG_DFL);
  raise(sig);
}

static void replay_file(const char *path) {
  size_t n;
  uint8_t *in = fz_read_file("fuzz_channel_replay", path, &n);
  g_input = path;
  LLVMFuzzerTestOneInput(in, n);
  g_input = NULL;
  free(in);
  g_replayed++;
}

int main(int argc, char **argv) {
  LLVMFuzzerInitialize(&argc, &argv);
  signal(SIGBUS, on_crash);
  signal(SIGSEGV, on_crash);
  int r = fz_replay_args("fuzz_channel_replay", argc, argv, replay_file);
  if (r != 0)
    return r;
  printf("fuzz_channel_replay: %lu inputs, no failure\n", g_replayed);
  return 0;
}
#endif
