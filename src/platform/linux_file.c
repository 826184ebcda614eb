/* Linux implementation of the file, mapping, lock and futex part of the
 * platform layer (see platform.h).  Thin wrappers: errno becomes a negative
 * return value; the channel protocol lives in src/shm.c. */
#define _GNU_SOURCE
#include "platform.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <linux/futex.h>
#include <linux/membarrier.h>

int smr__file_open(const char *path, unsigned how, unsigned mode,
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
  int fd = open(path, flags, (mode_t)mode);
  if (fd < 0)
    return errno == ELOOP ? -EBADMSG : -errno;
  struct stat sb;
  if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
    close(fd);
    return -EBADMSG;
  }
  if ((how & SMR__OPEN_CREATE) && exact_mode) {
    struct stat st;
    /* Only a file we own gets its mode changed (fchmod fails otherwise). */
    if (fstat(fd, &st) == 0 && (st.st_mode & 07777) != (mode & 07777) &&
        st.st_uid == geteuid() && fchmod(fd, (mode_t)mode) != 0) {
      int e = errno;
      close(fd);
      return -e;
    }
  }
  return fd;
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
  struct stat st;
  if (fstat(fd, &st) != 0)
    return -errno;
  *dev = (uint64_t)st.st_dev;
  *ino = (uint64_t)st.st_ino;
  return 0;
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

int smr__unlock_byte(int fd, uint64_t off) {
  return ofd_lock(fd, F_OFD_SETLK, F_UNLCK, off, NULL);
}

int smr__lock_held(int fd, uint64_t off) {
  struct flock fl = {0};
  int r = ofd_lock(fd, F_OFD_GETLK, F_WRLCK, off, &fl);
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

static int sys_membarrier(int cmd) {
  long r = syscall(__NR_membarrier, cmd, 0, 0);
  return r < 0 ? -errno : (int)r;
}

int smr__membarrier_global_register(void) {
  int q = sys_membarrier(MEMBARRIER_CMD_QUERY);
  if (q < 0)
    return q;
  if (!(q & MEMBARRIER_CMD_REGISTER_GLOBAL_EXPEDITED))
    return -ENOTSUP;
  int r = sys_membarrier(MEMBARRIER_CMD_REGISTER_GLOBAL_EXPEDITED);
  return r < 0 ? r : 0;
}

int smr__membarrier_global(void) {
  int r = sys_membarrier(MEMBARRIER_CMD_GLOBAL_EXPEDITED);
  if (r >= 0)
    return 0;
  /* Stronger (every CPU, every process), only slower. */
  r = sys_membarrier(MEMBARRIER_CMD_GLOBAL);
  return r < 0 ? r : 0;
}

int smr__getpid(void) {
  return (int)getpid();
}
