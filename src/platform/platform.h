/* SPDX-License-Identifier: MIT */
/* Internal: the only interface between libsmr and the operating system.
 * src/platform/linux.c (membarrier, clocks, back-off) and
 * src/platform/linux_file.c (files, mappings, locks, futexes) implement it;
 * nothing else calls the OS directly. */
#ifndef SMR_PLATFORM_H
#define SMR_PLATFORM_H

#include <stdint.h>

/* Query the kernel and register this process for private expedited
 * membarrier.  Returns 0 or a negative errno (-ENOSYS, -EINVAL, ...). */
int smr__membarrier_register(void);

/* Issue membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED): a full memory barrier
 * on every CPU running a thread of this process.  On -EPERM (not registered:
 * defensive, since a fork child inherits the registration) registers again
 * and retries; if that fails, falls back to MEMBARRIER_CMD_GLOBAL (all CPUs,
 * slower).  Returns 0 if one
 * of them succeeded (*retried set to 1 if a fallback was needed), else the
 * negative errno of the last attempt. */
int smr__membarrier(int *retried);

/* Cross-process membarrier (the channel, src/channel/): register this
 * process for MEMBARRIER_CMD_GLOBAL_EXPEDITED (readers), and issue it
 * (writer), falling back to MEMBARRIER_CMD_GLOBAL.  Either acts as a full
 * barrier on every CPU running a registered process (GLOBAL: every
 * process). */
int smr__membarrier_global_register(void);
int smr__membarrier_global(void);

/* Monotonic clock in nanoseconds. */
int64_t smr__now_ns(void);

/* Back off while waiting for another thread: spins with a CPU pause for the
 * first rounds, then yields, then sleeps with exponential growth up to 1 ms.
 * *round starts at 0 and is advanced by each call. */
void smr__backoff(unsigned *round);

/* Environment lookup (NULL if unset). */
const char *smr__getenv(const char *name);

/* ---- Files, mappings, locks and futexes (src/platform/linux_file.c) ----
 * Used by the cross-process channel (src/channel/).  All return 0 (or a
 * non-negative value where stated) or a negative errno. */
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

#define SMR__OPEN_READ   0x0u /* O_RDONLY */
#define SMR__OPEN_RDWR   0x1u /* O_RDWR */
#define SMR__OPEN_CREATE 0x2u /* O_CREAT (with RDWR) */
#define SMR__OPEN_EXCL   0x4u /* O_EXCL (with CREATE) */

/* Open (O_CLOEXEC, O_NOFOLLOW); returns the fd, or -EBADMSG if the path is
 * a symlink or not a regular file.  With CREATE, `mode` goes through the
 * umask unless exact_mode, which applies it with fchmod when the call
 * created the file. */
int smr__file_open(const char *path, unsigned how, unsigned mode,
                   bool exact_mode);
/* The same, relative to directory dirfd (< 0: the working directory). */
int smr__file_openat(int dirfd, const char *path, unsigned how, unsigned mode,
                     bool exact_mode);
void smr__file_close(int fd);
int smr__file_unlink(const char *path);
/* Size and link count (0: unlinked) of an open file. */
int smr__file_stat(int fd, uint64_t *size, uint64_t *nlink);
/* Identity of an open file (device, inode). */
int smr__file_id(int fd, uint64_t *dev, uint64_t *ino);
struct smr__file_info {
  uint64_t dev, ino, size, nlink;
  unsigned uid, gid, mode; /* owner, group; permission bits (07777) */
  bool regular, dir;
};
int smr__file_info(int fd, struct smr__file_info *fi);
/* fstatat without following a symlink (dirfd < 0: the working directory,
 * as for every *at function here). */
int smr__dir_entry_info(int dirfd, const char *name, struct smr__file_info *fi);
/* pread: returns the bytes read (short at end of file) or -errno. */
int smr__file_read(int fd, void *buf, size_t len, uint64_t off);
/* futimens(fd, NULL): an attribute change a directory watch reports. */
int smr__file_touch(int fd);
int smr__file_chmod(int fd, unsigned mode);
unsigned smr__geteuid(void);

/* Directories.  create: mkdir (mode through the umask unless exact_mode;
 * -EEXIST if the name exists: mkdir never adopts);
 * open: O_DIRECTORY | O_NOFOLLOW, -EBADMSG for a symlink or non-directory;
 * link: linkat within dirfd (-EEXIST if `to` exists; never follows `from`);
 * rename: replaces `to` atomically; list: calls fn for
 * each entry but "." and ".." until fn returns non-zero (returned). */
int smr__dir_create(const char *path, unsigned mode, bool exact_mode,
                    int64_t gid);
/* fchown(fd, unchanged, gid): 0 or a negative errno (-EPERM: the caller
 * may not give files to that group). */
int smr__file_set_group(int fd, int64_t gid);
/* An unnamed regular file in dirfd (O_TMPFILE, read-write, `mode` through
 * the umask): the fd, or -EOPNOTSUPP where the file system has none.
 * link_tmp gives it a name (-EEXIST if taken; never replaces). */
int smr__file_tmp(int dirfd, unsigned mode);
int smr__file_link_tmp(int fd, int dirfd, const char *name);
int smr__file_rename(const char *from, const char *to);
int smr__dir_open(const char *path);
int smr__dir_remove(const char *path);
int smr__dir_link(int dirfd, const char *from, const char *to);
int smr__dir_unlink(int dirfd, const char *name);
int smr__dir_list(int dirfd, int (*fn)(const char *name, void *arg), void *arg);

/* Directory watch (inotify): names created, removed or renamed in the
 * directory, files closed after writing, and attribute changes of its files
 * (which only wake a waiter).  open returns a non-blocking fd.  drain reads
 * pending events (at most max_reads reads of 4 KiB; returns 1 if it stopped
 * there, 0 if the queue is empty) and calls fn for each: SMR__WATCH_NAME
 * (name changed), SMR__WATCH_CLOSED (a file opened for writing was closed),
 * SMR__WATCH_OVERFLOW (events lost: list the directory again),
 * SMR__WATCH_GONE (the directory went away).  wait: poll until an event is
 * pending, up to timeout_ns (< 0: forever; fd < 0: just sleep); returns
 * 1 (pending), 0 (timeout) or -errno. */
#define SMR__WATCH_NAME     1u
#define SMR__WATCH_OVERFLOW 2u
#define SMR__WATCH_GONE     3u
#define SMR__WATCH_CLOSED   4u
int smr__watch_open(const char *dirpath);
int smr__watch_drain(int fd,
                     void (*fn)(const char *name, unsigned what, void *arg),
                     void *arg, unsigned max_reads);
int smr__watch_wait(int fd, int64_t timeout_ns);
/* posix_fallocate(fd, 0, size): the file then holds `size` allocated bytes
 * (a full disk is -ENOSPC now, not SIGBUS later).  -EFBIG without trying
 * when `size` exceeds RLIMIT_FSIZE (which would raise SIGXFSZ). */
int smr__file_allocate(int fd, uint64_t size);
int smr__file_truncate(int fd, uint64_t size);
/* fdatasync. */
int smr__file_sync(int fd);
/* Map `len` bytes of fd from offset 0, shared.  populate: prefault. */
int smr__map(int fd, uint64_t len, bool writable, bool populate, void **out);
void smr__unmap(void *addr, uint64_t len);
/* msync(MS_SYNC) of [addr, addr + len) (addr page-aligned). */
int smr__map_sync(void *addr, uint64_t len);

/* Open-file-description byte locks (F_OFD_SETLK / F_OFD_GETLK): owned by
 * the open file description, released by the kernel when its last fd
 * closes (process death included).  lock: exclusive, non-blocking; -EAGAIN
 * if another description holds it. */
int smr__lock_byte(int fd, uint64_t off);
/* Shared (read) lock: needs only a read-only fd; conflicts with the
 * exclusive lock above.  -EAGAIN if an exclusive lock is held. */
int smr__lock_byte_shared(int fd, uint64_t off);
int smr__unlock_byte(int fd, uint64_t off);
/* 1 if another open file description holds an exclusive lock on the byte,
 * 0 if not (shared locks are not reported: anybody may take those). */
int smr__lock_held(int fd, uint64_t off);

/* Shared (cross-process) futex on a 32-bit word of a MAP_SHARED file
 * mapping (read-only mappings may wait).  wait: sleeps while *addr == val,
 * up to timeout_ns (< 0: forever); returns 0 (woken or value changed),
 * -ETIMEDOUT or -EINTR. */
int smr__futex_wait(_Atomic uint32_t *addr, uint32_t val, int64_t timeout_ns);
int smr__futex_wake(_Atomic uint32_t *addr, int n);

int smr__getpid(void);

#endif /* SMR_PLATFORM_H */
