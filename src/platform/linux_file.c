/* SPDX-License-Identifier: MIT */
/* Linux implementation of the file, mapping, lock and futex part of the
 * platform layer (see platform.h).  Thin wrappers: errno becomes a negative
 * return value; the channel protocol lives in src/channel/ (membarrier,
 * the global commands included, is in linux.c). */
#define _GNU_SOURCE
#include "platform.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <linux/futex.h>

int smr__file_openat(int dirfd, const char *path, unsigned how, unsigned mode,
                     bool exact_mode) {
  /* O_NOFOLLOW: a channel file that is a symlink (planted in a shared
   * directory such as /dev/shm) is refused, not followed.  O_NONBLOCK: a
   * FIFO or device in its place must not block the open; anything but a
   * regular file is refused below. */
  int flags = O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK |
              ((how & SMR__OPEN_RDWR) ? O_RDWR : O_RDONLY);
  if (how & SMR__OPEN_CREATE)
    flags |= O_CREAT;
  if (how & SMR__OPEN_EXCL)
    flags |= O_EXCL;
  int fd = openat(dirfd < 0 ? AT_FDCWD : dirfd, path, flags, (mode_t)mode);
  if (fd < 0)
    return errno == ELOOP ? -EBADMSG : -errno;
  struct stat sb;
  if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
    close(fd);
    return -EBADMSG;
  }
  /* Only a file we own gets its mode changed (fchmod fails otherwise). */
  if ((how & SMR__OPEN_CREATE) && exact_mode &&
      (sb.st_mode & 07777) != (mode & 07777) && sb.st_uid == geteuid() &&
      fchmod(fd, (mode_t)mode) != 0) {
    int e = errno;
    close(fd);
    return -e;
  }
  return fd;
}

int smr__file_open(const char *path, unsigned how, unsigned mode,
                   bool exact_mode) {
  return smr__file_openat(-1, path, how, mode, exact_mode);
}

void smr__file_close(int fd) {
  if (fd >= 0)
    close(fd);
}

int smr__file_unlink(const char *path) {
  return unlink(path) == 0 ? 0 : -errno;
}

int smr__file_stat(int fd, uint64_t *size, uint64_t *nlink) {
  struct stat st;
  if (fstat(fd, &st) != 0)
    return -errno;
  if (size)
    *size = (uint64_t)st.st_size;
  if (nlink)
    *nlink = (uint64_t)st.st_nlink;
  return 0;
}

int smr__file_id(int fd, uint64_t *dev, uint64_t *ino) {
  struct smr__file_info fi = {0};
  int r = smr__file_info(fd, &fi);
  if (r == 0) {
    *dev = fi.dev;
    *ino = fi.ino;
  }
  return r;
}

static void fill_info(const struct stat *st, struct smr__file_info *fi) {
  fi->dev = (uint64_t)st->st_dev;
  fi->ino = (uint64_t)st->st_ino;
  fi->size = (uint64_t)st->st_size;
  fi->uid = (unsigned)st->st_uid;
  fi->gid = (unsigned)st->st_gid;
  fi->nlink = (uint64_t)st->st_nlink;
  fi->mode = (unsigned)st->st_mode & 07777;
  fi->regular = S_ISREG(st->st_mode);
  fi->dir = S_ISDIR(st->st_mode);
}

int smr__file_info(int fd, struct smr__file_info *fi) {
  struct stat st;
  if (fstat(fd, &st) != 0)
    return -errno;
  fill_info(&st, fi);
  return 0;
}

int smr__dir_entry_info(int dirfd, const char *name,
                        struct smr__file_info *fi) {
  struct stat st;
  if (fstatat(dirfd < 0 ? AT_FDCWD : dirfd, name, &st, AT_SYMLINK_NOFOLLOW) !=
      0)
    return -errno;
  fill_info(&st, fi);
  return 0;
}

int smr__file_read(int fd, void *buf, size_t len, uint64_t off) {
  ssize_t n = pread(fd, buf, len, (off_t)off);
  return n < 0 ? -errno : (int)n;
}

int smr__file_touch(int fd) {
  return futimens(fd, NULL) == 0 ? 0 : -errno;
}

int smr__file_chmod(int fd, unsigned mode) {
  return fchmod(fd, (mode_t)mode) == 0 ? 0 : -errno;
}

unsigned smr__geteuid(void) {
  return (unsigned)geteuid();
}

/* ---- directories ---- */

int smr__dir_create(const char *path, unsigned mode, bool exact_mode,
                    int64_t gid) {
  /* With a group to give: created for the owner alone, so no member of
   * the default group can enter it before it has its group and mode. */
  if (mkdir(path, (mode_t)(gid < 0 ? mode : mode & 01700)) != 0)
    return -errno;
  if (!exact_mode && gid < 0)
    return 0;
  /* fchmod/fchown of what we opened without following a link: in a
   * directory others may write, the name could name something else by
   * now.  The group first: a chown may clear mode bits.  A group implies
   * the exact mode. */
  int fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0)
    return -errno;
  int r = gid < 0 ? 0 : smr__file_set_group(fd, gid);
  if (r == 0)
    r = fchmod(fd, (mode_t)mode) == 0 ? 0 : -errno;
  close(fd);
  if (r < 0)
    (void)rmdir(path); /* ours, just made, empty: leave no name behind */
  return r;
}

int smr__file_set_group(int fd, int64_t gid) {
  return fchown(fd, (uid_t)-1, (gid_t)gid) == 0 ? 0 : -errno;
}

int smr__dir_open(const char *path) {
  int fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0)
    return errno == ELOOP || errno == ENOTDIR ? -EBADMSG : -errno;
  return fd;
}

int smr__dir_remove(const char *path) {
  return rmdir(path) == 0 ? 0 : -errno;
}

int smr__file_tmp(int dirfd, unsigned mode) {
  /* link_tmp names the file through /proc; without it, use names. */
  if (access("/proc/self/fd", X_OK) != 0)
    return -EOPNOTSUPP;
  int fd = openat(dirfd, ".", O_TMPFILE | O_RDWR | O_CLOEXEC, (mode_t)mode);
  if (fd >= 0)
    return fd;
  /* Old kernels and some file systems: the caller names a file instead. */
  return errno == EISDIR || errno == ENOENT || errno == EINVAL ? -EOPNOTSUPP
                                                               : -errno;
}

int smr__file_link_tmp(int fd, int dirfd, const char *name) {
  char proc[64];
  snprintf(proc, sizeof proc, "/proc/self/fd/%d", fd);
  if (linkat(AT_FDCWD, proc, dirfd, name, AT_SYMLINK_FOLLOW) == 0)
    return 0;
  if (errno != ENOENT && errno != ENOTDIR)
    return -errno;
  /* No /proc: AT_EMPTY_PATH (needs CAP_DAC_READ_SEARCH on older kernels). */
  return linkat(fd, "", dirfd, name, AT_EMPTY_PATH) == 0 ? 0 : -errno;
}

int smr__file_rename(const char *from, const char *to) {
  return rename(from, to) == 0 ? 0 : -errno;
}

int smr__dir_link(int dirfd, const char *from, const char *to) {
  int d = dirfd < 0 ? AT_FDCWD : dirfd;
  return linkat(d, from, d, to, 0) == 0 ? 0 : -errno;
}

int smr__dir_unlink(int dirfd, const char *name) {
  return unlinkat(dirfd < 0 ? AT_FDCWD : dirfd, name, 0) == 0 ? 0 : -errno;
}

int smr__dir_list(int dirfd, int (*fn)(const char *name, void *arg),
                  void *arg) {
  int fd = dup(dirfd);
  if (fd < 0)
    return -errno;
  DIR *d = fdopendir(fd);
  if (!d) {
    int e = errno;
    close(fd);
    return -e;
  }
  rewinddir(d); /* the dup shares the offset with dirfd */
  int r = 0;
  for (;;) {
    errno = 0;
    struct dirent *de = readdir(d);
    if (!de) {
      r = errno ? -errno : 0;
      break;
    }
    if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
      continue;
    r = fn(de->d_name, arg);
    if (r != 0)
      break;
  }
  closedir(d);
  return r;
}

/* ---- directory watch (inotify) ---- */

int smr__watch_open(const char *dirpath) {
  int fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  if (fd < 0)
    return -errno;
  uint32_t mask = IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO |
                  IN_ATTRIB | IN_CLOSE_WRITE | IN_DELETE_SELF | IN_MOVE_SELF |
                  IN_ONLYDIR | IN_DONT_FOLLOW;
  if (inotify_add_watch(fd, dirpath, mask) < 0) {
    int e = errno;
    close(fd);
    return -e;
  }
  return fd;
}

int smr__watch_drain(int fd,
                     void (*fn)(const char *name, unsigned what, void *arg),
                     void *arg, unsigned max_reads) {
  /* Aligned for struct inotify_event; holds many events per read. */
  _Alignas(struct inotify_event) char buf[4096];
  for (unsigned k = 0;; k++) {
    if (k == max_reads)
      return 1;
    ssize_t n = read(fd, buf, sizeof buf);
    if (n < 0)
      return errno == EAGAIN ? 0 : -errno;
    for (char *p = buf; p < buf + n;) {
      struct inotify_event *ev = (struct inotify_event *)(void *)p;
      unsigned what = 0;
      if (ev->mask & IN_Q_OVERFLOW)
        what = SMR__WATCH_OVERFLOW;
      else if (ev->mask & (IN_IGNORED | IN_DELETE_SELF | IN_MOVE_SELF))
        what = SMR__WATCH_GONE;
      else if (ev->mask & (IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO))
        what = SMR__WATCH_NAME;
      else if (ev->mask & IN_CLOSE_WRITE)
        what = SMR__WATCH_CLOSED;
      if (what)
        fn(ev->len ? ev->name : "", what, arg);
      p += sizeof *ev + ev->len;
    }
  }
}

int smr__watch_wait(int fd, int64_t timeout_ns) {
  int ms = timeout_ns < 0 ? -1
           : timeout_ns > INT_MAX / 2 * 1000000ll
               ? INT_MAX / 2
               : (int)((timeout_ns + 999999) / 1000000);
  struct pollfd pfd = {.fd = fd, .events = POLLIN};
  int r = poll(fd >= 0 ? &pfd : NULL, fd >= 0 ? 1 : 0, ms);
  return r < 0 ? -errno : r;
}

int smr__file_allocate(int fd, uint64_t size) {
  struct rlimit rl;
  if (size > (uint64_t)INT64_MAX)
    return -EFBIG;
  if (getrlimit(RLIMIT_FSIZE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY &&
      size > (uint64_t)rl.rlim_cur)
    return -EFBIG;
  if (size == 0)
    return 0;
  int e = posix_fallocate(fd, 0, (off_t)size);
  return -e;
}

int smr__file_truncate(int fd, uint64_t size) {
  if (size > (uint64_t)INT64_MAX)
    return -EFBIG;
  return ftruncate(fd, (off_t)size) == 0 ? 0 : -errno;
}

int smr__file_sync(int fd) {
  return fdatasync(fd) == 0 ? 0 : -errno;
}

int smr__map(int fd, uint64_t len, bool writable, bool populate, void **out) {
  if (len == 0 || len > (uint64_t)SIZE_MAX)
    return -EINVAL;
  int prot = PROT_READ | (writable ? PROT_WRITE : 0);
  int flags = MAP_SHARED | (populate ? MAP_POPULATE : 0);
  void *p = mmap(NULL, (size_t)len, prot, flags, fd, 0);
  if (p == MAP_FAILED)
    return -errno;
  *out = p;
  return 0;
}

void smr__unmap(void *addr, uint64_t len) {
  if (addr && len)
    munmap(addr, (size_t)len);
}

int smr__map_sync(void *addr, uint64_t len) {
  if (len == 0)
    return 0;
  return msync(addr, (size_t)len, MS_SYNC) == 0 ? 0 : -errno;
}

static int ofd_lock(int fd, int cmd, short type, uint64_t off,
                    struct flock *out) {
  struct flock fl;
  memset(&fl, 0, sizeof fl);
  fl.l_type = type;
  fl.l_whence = SEEK_SET;
  fl.l_start = (off_t)off;
  fl.l_len = 1;
  fl.l_pid = 0; /* required by F_OFD_* */
  if (fcntl(fd, cmd, &fl) != 0)
    return -errno;
  if (out)
    *out = fl;
  return 0;
}

int smr__lock_byte(int fd, uint64_t off) {
  int r = ofd_lock(fd, F_OFD_SETLK, F_WRLCK, off, NULL);
  return r == -EACCES ? -EAGAIN : r;
}

int smr__lock_byte_shared(int fd, uint64_t off) {
  int r = ofd_lock(fd, F_OFD_SETLK, F_RDLCK, off, NULL);
  return r == -EACCES ? -EAGAIN : r;
}

int smr__unlock_byte(int fd, uint64_t off) {
  return ofd_lock(fd, F_OFD_SETLK, F_UNLCK, off, NULL);
}

int smr__lock_held(int fd, uint64_t off) {
  struct flock fl = {0};
  /* Probe with a read lock: it conflicts only with exclusive locks, which
   * need write access; read locks anybody with read access may take are
   * not mistaken for an owner. */
  int r = ofd_lock(fd, F_OFD_GETLK, F_RDLCK, off, &fl);
  if (r < 0)
    return r;
  return fl.l_type != F_UNLCK;
}

int smr__futex_wait(_Atomic uint32_t *addr, uint32_t val, int64_t timeout_ns) {
  struct timespec ts, *tp = NULL;
  if (timeout_ns >= 0) {
    ts.tv_sec = (time_t)(timeout_ns / 1000000000);
    ts.tv_nsec = (long)(timeout_ns % 1000000000);
    tp = &ts;
  }
  /* Not FUTEX_PRIVATE_FLAG: the word is shared between processes; the
   * kernel keys it by (inode, offset), so readers' read-only mappings and
   * the writer's read-write mapping meet. */
  long r = syscall(SYS_futex, (uint32_t *)addr, FUTEX_WAIT, val, tp, NULL, 0);
  if (r == 0 || errno == EAGAIN)
    return 0;
  return -errno;
}

int smr__futex_wake(_Atomic uint32_t *addr, int n) {
  long r = syscall(SYS_futex, (uint32_t *)addr, FUTEX_WAKE, n, NULL, NULL, 0);
  return r < 0 ? -errno : 0;
}

int smr__getpid(void) {
  return (int)getpid();
}
