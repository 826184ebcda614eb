/* SPDX-License-Identifier: MIT */
/* test_channel_corrupt, sections "hostile" and "buggy": the reader
 * processes (the honest one and the bad one); channel_corrupt_hostile_run.c
 * runs them. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "channel_corrupt.h"

/* ---- Hostile and buggy readers ------------------------------------------
 * The writer (this process) publishes with timeout 0 while two honest
 * readers check every payload: a thread here (the writer's uid: the writer
 * maps its slot file) and a process of a third uid (read by pread).  A bad
 * reader process runs beside them:
 *   hostile (another uid, nobody): (a) every way to reach an honest
 *     reader's slot file, the writer lock or the directory is refused;
 *     (b) with two reader handles of its own, it scribbles the first one's
 *     slot file through a second mapping and pwrite and keeps truncating it
 *     to 0 and back (the writer reads it with pread: no SIGBUS); (c) it
 *     fills the directory with junk names, dead slot files, one live locked
 *     one, hard links and renames of its second handle's file, and
 *     overflows the writer's directory watch.
 *   buggy (the writer's uid): wild writes over its own slot mapping.
 * The writer may be pinned (-EBUSY at timeout 0), never crash or serve a
 * wrong payload; once the bad reader exited, every publish succeeds.
 * Children are forked before the channel exists: they inherit no
 * descriptor or mapping of it. */

struct hshared *g_hs;
enum hmode g_hmode;
bool g_cross;         /* root: honest process UID_OTHER, hostile
                                UID_HOSTILE (buggy: always our uid) */
unsigned g_hslot[2];  /* slots: honest thread, honest process */
uint64_t g_vbase;     /* version = g_vbase + n for payload number n */
atomic_ulong g_seen;  /* distinct versions the honest thread saw */
atomic_ulong g_reads; /* reads the honest thread checked */
atomic_int g_wstop;   /* writer -> honest thread: stop */
unsigned long g_ok, g_busy, g_after;
pid_t g_bad_pid, g_honest_pid;
int g_bad_status = -1;

static uint64_t xorshift(uint64_t *s) {
  uint64_t x = *s;
  x ^= x << 13;
  x ^= x >> 7;
  x ^= x << 17;
  return *s = x;
}

uint64_t h_size(uint64_t n) {
  return 16 + (n * 977u) % 7000u;
}

void h_fill(unsigned char *b, uint64_t n) {
  uint64_t size = h_size(n);
  memcpy(b, &n, 8);
  memcpy(b + 8, &size, 8);
  for (uint64_t j = 16; j < size; j++)
    b[j] = pattern_byte(n, j);
}

/* Is this guard's payload exactly the one its version names? */
static bool h_good(const smr_channel_guard *g) {
  if (g->size < 16)
    return false;
  const unsigned char *p = g->data;
  uint64_t n, size;
  memcpy(&n, p, 8);
  memcpy(&size, p + 8, 8);
  if (g->version != g_vbase + n || size != g->size || size != h_size(n))
    return false;
  for (uint64_t j = 16; j < size; j++)
    if (p[j] != pattern_byte(n, j))
      return false;
  return true;
}

bool h_read_check(smr_channel_reader *r, uint64_t *last) {
  smr_channel_guard g;
  CHECK_EQ(smr_channel_read(r, &g), 0);
  CHECK(g.version >= *last);
  CHECK(h_good(&g));
  CHECK_EQ(smr_channel_verify(r, &g), 0);
  bool fresh = g.version != *last;
  *last = g.version;
  smr_channel_release(r, &g);
  return fresh;
}

void h_stat_check(uint64_t seen_version) {
  struct smr_channel_stat st;
  struct smr_channel_reader_stat rs[H_SLOTS];
  size_t nrs = 999;
  CHECK_EQ(smr_channel_stat(g_name, 0, &st, rs, H_SLOTS, &nrs), 0);
  CHECK(st.buffers == H_BUFFERS && st.readers_max == H_SLOTS);
  CHECK(st.version >= seen_version);
  CHECK(st.readers <= H_SLOTS && nrs <= H_SLOTS);
  for (size_t k = 0; k < nrs; k++)
    CHECK(rs[k].slot < H_SLOTS);
}

/* This process's slot: the one alive with our pid, other than `except`
 * (H_SLOTS: none; our readers must be the only ones with our pid). */
static unsigned own_slot_except(unsigned except) {
  struct smr_channel_stat st;
  struct smr_channel_reader_stat rs[H_SLOTS];
  size_t nrs = 0;
  CHECK_EQ(smr_channel_stat(g_name, 0, &st, rs, H_SLOTS, &nrs), 0);
  CHECK(nrs <= H_SLOTS);
  unsigned found = H_SLOTS;
  for (size_t k = 0; k < nrs; k++)
    if (rs[k].alive && rs[k].pid == getpid() && rs[k].slot != except) {
      CHECK(found == H_SLOTS);
      found = rs[k].slot;
    }
  CHECK(found < H_SLOTS);
  return found;
}

unsigned own_slot(void) {
  return own_slot_except(H_SLOTS);
}

void read_full(int fd, void *p, size_t n) {
  ssize_t k = read(fd, p, n);
  if (k == 0)
    fprintf(stderr, "%s: the other side exited before its message\n", g_case);
  CHECK_EQ(k, (ssize_t)n);
}

/* ---- the honest process ---- */

void honest_main(int go_fd, int ready_fd) {
  if (g_cross)
    become(UID_OTHER);
  else
    die_with_parent();
  char go;
  read_full(go_fd, &go, 1);
  smr_channel_reader *r;
  CHECK_EQ(smr_channel_reader_open(g_name, SMR_CHANNEL_VERIFY, &r), 0);
  uint64_t last = 0;
  unsigned long reads = 1, seen = h_read_check(r, &last);
  unsigned slot = own_slot();
  CHECK_EQ(write(ready_fd, &slot, sizeof slot), (ssize_t)sizeof slot);
  /* relaxed: stop flag (pairs with the writer thread's store); the counters
   * below are read by the parent only for progress and after waitpid. */
  while (!atomic_load_explicit(&g_hs->stop_honest, memory_order_relaxed)) {
    seen += h_read_check(r, &last);
    if ((++reads & 63) == 0) {
      h_stat_check(last);
      /* relaxed: progress counters (see above). */
      atomic_store_explicit(&g_hs->honest_reads, reads, memory_order_relaxed);
      atomic_store_explicit(&g_hs->honest_seen, seen, memory_order_relaxed);
    }
  }
  atomic_store_explicit(&g_hs->honest_reads, reads, memory_order_relaxed);
  atomic_store_explicit(&g_hs->honest_seen, seen, memory_order_relaxed);
  CHECK_EQ(smr_channel_reader_close(r), 0);
  _exit(0);
}

/* ---- the bad reader ---- */

/* (a) The honest readers' slot files, the state and data files and the
 * directory are out of reach: each attempt fails with the errno the
 * permission model gives (a slot file is 0644 of its reader, the directory
 * sticky, the channel files 0644 of the writer). */
static void denied(const char *what, long rc, int want) {
  if (!(rc == -1 && errno == want)) {
    fprintf(stderr, "hostile: %s: rc %ld errno %d (%s), want errno %d\n", what,
            rc, errno, strerror(errno), want);
    CHECK(!"a hostile attempt was not refused");
  }
  /* relaxed: a counter the parent reads after waitpid. */
  atomic_fetch_add_explicit(&g_hs->denied, 1, memory_order_relaxed);
}

/* fcntl(cmd) of an OFD lock of `type` on byte 0; fl receives the result. */
static int byte0_lock(int fd, int cmd, short type, struct flock *fl) {
  memset(fl, 0, sizeof *fl);
  fl->l_type = type;
  fl->l_whence = SEEK_SET;
  fl->l_len = 1;
  return fcntl(fd, cmd, fl);
}

static void attacks(void) {
  char mine[192], stolen[192];
  slot_path("x-hostile", mine, sizeof mine);
  slot_path("r-stolen", stolen, sizeof stolen);
  int fd = open(mine, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  CHECK(fd >= 0);
  CHECK_EQ(close(fd), 0);
  bool protected_links = false;
  {
    FILE *f = fopen("/proc/sys/fs/protected_hardlinks", "r");
    int v = 0;
    if (f) {
      protected_links = fscanf(f, "%d", &v) == 1 && v == 1;
      fclose(f);
    }
  }
  for (int k = 0; k < 2; k++) {
    char nm[16], p[192];
    snprintf(nm, sizeof nm, "r%u", g_hslot[k]);
    slot_path(nm, p, sizeof p);
    struct stat before, after;
    CHECK_EQ(lstat(p, &before), 0);
    CHECK(S_ISREG(before.st_mode) && before.st_uid != geteuid());
    CHECK_EQ(before.st_mode & 07777, 0644);
    errno = 0;
    denied("open O_RDWR", open(p, O_RDWR | O_CLOEXEC), EACCES);
    denied("open O_WRONLY|O_TRUNC", open(p, O_WRONLY | O_TRUNC | O_CLOEXEC),
           EACCES);
    denied("truncate", truncate(p, 0), EACCES);
    denied("unlink (sticky)", unlink(p), EPERM);
    denied("rename away (sticky)", rename(p, stolen), EPERM);
    denied("rename over it (sticky)", rename(mine, p), EPERM);
    denied("chmod", chmod(p, 0666), EPERM);
    denied("touch", utimensat(AT_FDCWD, p, NULL, 0), EACCES);
    if (protected_links)
      denied("hard link (protected_hardlinks)", link(p, stolen), EPERM);
    /* Readable: but not writable through a mapping, not lockable for
     * writing, and visibly locked by its live reader. */
    int rfd = open(p, O_RDONLY | O_CLOEXEC);
    CHECK(rfd >= 0);
    void *m = mmap(NULL, SMR__CHANNEL_SLOT_FILE_SIZE, PROT_READ | PROT_WRITE,
                   MAP_SHARED, rfd, 0);
    denied("mmap PROT_WRITE", m == MAP_FAILED ? -1 : 0, EACCES);
    struct flock fl;
    denied("write lock", byte0_lock(rfd, F_OFD_SETLK, F_WRLCK, &fl), EBADF);
    /* A read lock (any reader may take one) conflicts with its owner's. */
    denied("read lock", byte0_lock(rfd, F_OFD_SETLK, F_RDLCK, &fl), EAGAIN);
    CHECK_EQ(byte0_lock(rfd, F_OFD_GETLK, F_RDLCK, &fl), 0);
    CHECK(fl.l_type == F_WRLCK); /* its reader holds it */
    CHECK_EQ(close(rfd), 0);
    CHECK_EQ(lstat(p, &after), 0);
    CHECK(after.st_ino == before.st_ino && after.st_size == before.st_size &&
          after.st_mode == before.st_mode && after.st_uid == before.st_uid);
  }
  char dp[192];
  data_path(0, dp, sizeof dp);
  denied("open state O_RDWR", open(g_state, O_RDWR | O_CLOEXEC), EACCES);
  denied("open the writer lock file", open(g_lock, O_RDONLY | O_CLOEXEC),
         EACCES);
  {
    /* The state file is readable: a read lock on it would only hide the
     * writer from smr_channel_stat; the writer holds it exclusively. */
    int sfd = open(g_state, O_RDONLY | O_CLOEXEC);
    CHECK(sfd >= 0);
    struct flock fl;
    denied("read lock on the state file",
           byte0_lock(sfd, F_OFD_SETLK, F_RDLCK, &fl), EAGAIN);
    CHECK_EQ(close(sfd), 0);
  }
  denied("open data O_RDWR", open(dp, O_RDWR | O_CLOEXEC), EACCES);
  denied("chmod readers directory", chmod(g_readers, 0777), EPERM);
  denied("rename readers directory", rename(g_readers, g_victim),
         EACCES); /* g_dir: 0755 root */
  CHECK_EQ(unlink(mine), 0);
}

struct jentry {
  char path[192];
  bool dir;
};

/* A plausible-looking value for a slot word: pins of the current buffer,
 * of any buffer, out of range, all ones, zero. */
static uint64_t wild(uint64_t *seed, uint64_t cur) {
  uint64_t r = xorshift(seed);
  switch (r & 7) {
  case 0:
    return r;
  case 1:
    return ((r >> 16) << 8) | ((r >> 3) & 0xff);
  case 2:
    return cur;
  case 3:
    return cur - (((r >> 3) & 3) << 8) + ((r >> 5) & 7);
  case 4:
    return 0;
  case 5:
    return UINT64_MAX;
  case 6:
    return 1;
  default:
    return (r >> 3) & 0xffff;
  }
}

static void scribble(volatile uint64_t *word, size_t n, uint64_t *seed,
                     uint64_t cur) {
  for (size_t i = 0; i < n; i++)
    word[i] = wild(seed, cur);
}

/* A dead slot file of any size (chosen by r) at p: 0, or -1 if the name
 * exists. */
static int plant_dead(const char *p, uint64_t r, uint64_t *seed, uint64_t cur) {
  static const uint64_t sizes[] = {0, 40, 64, 100, 4096, 4096};
  uint64_t buf[8];
  scribble(buf, 8, seed, cur);
  int fd = open(p, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0)
    return -1;
  uint64_t size = sizes[(r >> 20) % 6];
  CHECK_EQ(pwrite(fd, buf, size < 64 ? size : 64, 0),
           (ssize_t)(size < 64 ? size : 64));
  CHECK_EQ(ftruncate(fd, (off_t)size), 0);
  CHECK_EQ(close(fd), 0);
  return 0;
}

/* One live slot file of ours at p, made as a reader makes it: locked
 * before it is named (a named file nobody locks is dead, and may be
 * removed at once).  0 with *live_fd its descriptor (the previous one
 * closed: that file dies), or -1 if the name exists. */
static int plant_live(const char *p, uint64_t *seed, uint64_t cur,
                      int *live_fd) {
  char tmp[192];
  slot_path("x-live", tmp, sizeof tmp);
  int fd = open(tmp, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  CHECK(fd >= 0);
  uint64_t buf[8];
  scribble(buf, 8, seed, cur);
  CHECK_EQ(pwrite(fd, buf, 64, 0), 64);
  CHECK_EQ(ftruncate(fd, SMR__CHANNEL_SLOT_FILE_SIZE), 0);
  struct flock fl;
  memset(&fl, 0, sizeof fl);
  fl.l_type = F_WRLCK;
  fl.l_whence = SEEK_SET;
  fl.l_len = 1;
  CHECK_EQ(fcntl(fd, F_OFD_SETLK, &fl), 0);
  int rc = renameat2(AT_FDCWD, tmp, AT_FDCWD, p, RENAME_NOREPLACE);
  if (rc != 0) {
    CHECK_EQ(unlink(tmp), 0);
    CHECK_EQ(close(fd), 0);
    return rc;
  }
  if (*live_fd >= 0)
    CHECK_EQ(close(*live_fd), 0); /* the previous one dies */
  *live_fd = fd;
  return 0;
}

/* (c) One junk operation in the readers directory. */
static void junk_op(uint64_t *seed, uint64_t cur, const char *own_path,
                    struct jentry *junk, int *njunk, int *live_fd) {
  uint64_t r = xorshift(seed);
  unsigned j = (unsigned)(r >> 8) % (H_SLOTS + 2);
  char nm[32], p[192];
  switch ((r >> 4) % 9) {
  case 0:
    snprintf(nm, sizeof nm, "r0%u", j);
    break;
  case 1:
    snprintf(nm, sizeof nm, "x%u", j);
    break;
  default:
    snprintf(nm, sizeof nm, "r%u", j);
    break;
  }
  slot_path(nm, p, sizeof p);
  bool dir = false;
  int rc = -1;
  switch (r % 7) {
  case 0:
  case 1:
    rc = plant_dead(p, r, seed, cur);
    break;
  case 2:
    rc = mkfifo(p, 0644);
    break;
  case 3:
    rc = mkdir(p, 0755);
    dir = true;
    break;
  case 4:
    rc = symlink((r >> 24) & 1 ? own_path : g_state, p);
    break;
  case 5: /* another name for our own slot file */
    rc = link(own_path, p);
    break;
  default: /* one live slot file of ours: a real (bogus) pin */
    rc = plant_live(p, seed, cur, live_fd);
    break;
  }
  if (rc != 0)
    return; /* the name exists (an honest reader's, or junk) */
  /* relaxed: a counter the parent reads after waitpid. */
  atomic_fetch_add_explicit(&g_hs->junk, 1, memory_order_relaxed);
  if (*njunk == H_JUNK) { /* forget the oldest: remove it */
    if (junk[0].dir)
      rmdir(junk[0].path);
    else
      unlink(junk[0].path); /* the writer may have removed it: ENOENT */
    memmove(junk, junk + 1, sizeof junk[0] * (H_JUNK - 1));
    (*njunk)--;
  }
  snprintf(junk[*njunk].path, sizeof junk[0].path, "%s", p);
  junk[*njunk].dir = dir;
  (*njunk)++;
}

void watch_flood(int fd1, int fd2) {
  long max = 0;
  FILE *f = fopen("/proc/sys/fs/inotify/max_queued_events", "r");
  if (f) {
    if (fscanf(f, "%ld", &max) != 1)
      max = 0;
    fclose(f);
  }
  if (max <= 0 || max > (1l << 20))
    return;
  for (long i = 0; i < max + 1000; i++)
    CHECK_EQ(futimens(i & 1 ? fd1 : fd2, NULL), 0);
}

/* Our slot file `own` opened (*fd) and mapped a second time: the
 * mapping. */
static volatile uint64_t *map_own(const char *own, int *fd) {
  *fd = open(own, O_RDWR | O_CLOEXEC);
  CHECK(*fd >= 0);
  struct stat sb;
  CHECK_EQ(fstat(*fd, &sb), 0);
  CHECK(sb.st_uid == geteuid() && sb.st_size == SMR__CHANNEL_SLOT_FILE_SIZE);
  volatile uint64_t *m = mmap(NULL, SMR__CHANNEL_SLOT_FILE_SIZE,
                              PROT_READ | PROT_WRITE, MAP_SHARED, *fd, 0);
  CHECK(m != MAP_FAILED);
  return m;
}

/* An odd pass (of another uid): our file fd stays cut for the whole pass,
 * to nothing (mostly), to a partial slot, or grown huge (sparse). */
static void cut_own(int fd, unsigned long pass) {
  static const off_t cuts[] = {0, 0, 40, 1l << 30};
  CHECK_EQ(ftruncate(fd, cuts[(pass / 2) % 4]), 0);
  /* relaxed: a counter the parent reads after waitpid. */
  atomic_fetch_add_explicit(&g_hs->truncs, 1, memory_order_relaxed);
  h_stat_check(0); /* stat reads the cut file too */
}

/* Another pass: our file fd back to its size (truncate_own), a read
 * through our handle mine, then wild writes over our slot through the
 * mapping m and the file. */
static void scribble_own(smr_channel_reader *mine, volatile uint64_t *m, int fd,
                         bool truncate_own, uint64_t *seed, uint64_t cur) {
  if (truncate_own)
    CHECK_EQ(ftruncate(fd, SMR__CHANNEL_SLOT_FILE_SIZE), 0);
  /* Our own reads: whatever our wild writes did to our slot, the
   * library call works; the bytes are right unless we broke our own
   * pin. */
  smr_channel_guard g;
  CHECK_EQ(smr_channel_read(mine, &g), 0);
  bool good = h_good(&g);
  smr_channel_release(mine, &g);
  /* relaxed: counters the parent reads after waitpid. */
  atomic_fetch_add_explicit(&g_hs->own_reads, 1, memory_order_relaxed);
  if (!good)
    atomic_fetch_add_explicit(&g_hs->own_wrong, 1, memory_order_relaxed);
  /* Wild writes: the whole slot and past it, through our second
   * mapping and through the file. */
  scribble(m, 16, seed, cur);
  uint64_t w8[8];
  scribble(w8, 8, seed, cur);
  CHECK_EQ(pwrite(fd, w8, sizeof w8, 0), (ssize_t)sizeof w8);
}

/* Move our second file's name (own2, n bytes) to a free slot name (ours to
 * move); its reader mine2 keeps its pin and its lock. */
static void move_second(smr_channel_reader *mine2, char *own2, size_t n,
                        uint64_t *seed) {
  char to[192], nm[16];
  snprintf(nm, sizeof nm, "r%u", (unsigned)(xorshift(seed) % H_SLOTS));
  slot_path(nm, to, sizeof to);
  if (renameat2(AT_FDCWD, own2, AT_FDCWD, to, RENAME_NOREPLACE) == 0)
    snprintf(own2, n, "%s", to);
  /* ... and read through it: its pin stands. */
  smr_channel_guard g;
  CHECK_EQ(smr_channel_read(mine2, &g), 0);
  smr_channel_release(mine2, &g);
}

void bad_main(int go_fd, int ready_fd) {
  bool hostile = g_hmode == HM_HOSTILE;
  if (hostile && g_cross)
    become(UID_HOSTILE);
  else
    die_with_parent(); /* buggy: the writer's own uid */
  read_full(go_fd, g_hslot, sizeof g_hslot);
  if (hostile && g_cross)
    attacks();
  /* mine: the handle whose slot file we scribble and truncate; mine2 (the
   * hostile's): the one whose file we also link and rename around. */
  smr_channel_reader *mine, *mine2 = NULL;
  CHECK_EQ(smr_channel_reader_open(g_name, 0, &mine), 0);
  char own[192], own2[192], nm[16];
  unsigned slot = own_slot();
  snprintf(nm, sizeof nm, "r%u", slot);
  slot_path(nm, own, sizeof own);
  if (hostile) {
    CHECK_EQ(smr_channel_reader_open(g_name, 0, &mine2), 0);
    snprintf(nm, sizeof nm, "r%u", own_slot_except(slot));
    slot_path(nm, own2, sizeof own2);
  }
  int fd;
  volatile uint64_t *m = map_own(own, &fd);
  int sfd = open(g_state, O_RDONLY | O_CLOEXEC);
  CHECK(sfd >= 0);
  struct smr__channel_state *sm =
      mmap(NULL, SMR__CHANNEL_HEADER_SIZE, PROT_READ, MAP_SHARED, sfd, 0);
  CHECK(sm != MAP_FAILED);
  int flood_fd = -1;
  if (hostile) {
    char p[192];
    slot_path("x-flood", p, sizeof p);
    flood_fd = open(p, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    CHECK(flood_fd >= 0);
  }
  char one = 1;
  CHECK_EQ(write(ready_fd, &one, 1), 1);

  struct jentry junk[H_JUNK];
  int njunk = 0, live_fd = -1;
  uint64_t seed = 0x9e3779b97f4a7c15ull ^ (uint64_t)getpid();
  /* Truncating our own file is harmless only to a writer that reads it
   * by pread: one of another uid. */
  bool truncate_own = hostile && g_cross;
  unsigned long pass = 0;
  /* relaxed: stop flag (pairs with the writer thread's store). */
  while (!atomic_load_explicit(&g_hs->stop_bad, memory_order_relaxed)) {
    /* relaxed: a snapshot of the writer's `current`, only used to make
     * plausible-looking pins (no ordering needed). */
    uint64_t cur = atomic_load_explicit(&sm->current, memory_order_relaxed);
    /* Odd passes (of another uid): our file stays cut for the whole pass,
     * to nothing (mostly), to a partial slot, or grown huge (sparse); our
     * mapping and our handle are not touched until its size is back. */
    bool cut = truncate_own && (pass & 1);
    if (cut)
      cut_own(fd, pass);
    else
      scribble_own(mine, m, fd, truncate_own, &seed, cur);
    if (hostile)
      junk_op(&seed, cur, own2, junk, &njunk, &live_fd);
    if (hostile && pass == 30)
      watch_flood(fd, flood_fd);
    if (hostile && (pass & 15) == 7)
      move_second(mine2, own2, sizeof own2, &seed);
    pass++;
    /* relaxed: progress counter for the writer thread's stop condition. */
    atomic_fetch_add_explicit(&g_hs->passes, 1, memory_order_relaxed);
  }
  CHECK_EQ(ftruncate(fd, SMR__CHANNEL_SLOT_FILE_SIZE), 0);
  munmap((void *)m, SMR__CHANNEL_SLOT_FILE_SIZE);
  munmap(sm, SMR__CHANNEL_HEADER_SIZE);
  CHECK_EQ(close(fd), 0);
  CHECK_EQ(close(sfd), 0);
  /* The junk stays (dead): the writer must cope with what is left. */
  if (live_fd >= 0)
    CHECK_EQ(close(live_fd), 0);
  if (flood_fd >= 0)
    CHECK_EQ(close(flood_fd), 0);
  CHECK_EQ(smr_channel_reader_close(mine), 0);
  CHECK_EQ(smr_channel_reader_close(mine2), 0);
  _exit(0);
}
