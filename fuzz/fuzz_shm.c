/* libFuzzer target: channel files (smr/shm.h) are untrusted input.
 *
 * Each input (format in fuzz_shm.h) becomes the state file, the reader table
 * and up to two data files of a channel in a directory created once per
 * process ($SMR_FUZZ_DIR, or a fresh one under /dev/shm that is removed at
 * exit and on a failed oracle, not on a sanitizer report).  Then a reader
 * opens it and reads, verifies, releases, reads again, asks the version,
 * waits (timeout 0) and closes; smr_shm_stat runs with and without
 * SMR_SHM_STAT_VERIFY; depending on the mode a writer takes the channel over
 * (before the reader, or while it holds a guard) and publishes, and the
 * channel may be unlinked.  Every call must return 0 or a documented
 * negative errno; sanitizers catch the rest.
 *
 * Oracles beyond "no crash" (each abort()s with a message):
 *   - a successful read gives a guard with a version >= 1 (the current one)
 *     and data;
 *   - a writer that takes over and publishes makes a fresh reader read
 *     exactly that payload (its checksum verifying);
 *   - the bytes of a guard held across the writer's publishes never change;
 *   - no call leaks a file descriptor (checked every input) or a mapping of
 *     a channel file (checked every 1024 inputs). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fuzz_shm.h"
#include "shm_layout.h"
#include "smr/shm.h"

static char g_dir[256];
static char g_name[300];
static char g_paths[2 + FZ_MAX_INDEX][340]; /* state, readers, data 0.. */
static bool g_own_dir;
static int g_fd_base;
static unsigned long g_runs;

static void cleanup(void);

/* A failed oracle: report, remove the channel files, crash (libFuzzer then
 * saves the input). */
#define FAIL(...)                                                              \
  do {                                                                         \
    fprintf(stderr, "fuzz_shm: " __VA_ARGS__);                                 \
    fprintf(stderr, "\n");                                                     \
    cleanup();                                                                 \
    abort();                                                                   \
  } while (0)

/* rc must be 0 or one of the listed negative errnos. */
static void expect_rc(const char *what, int rc, const int *ok, size_t n) {
  if (rc == 0)
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

static void remove_files(void) {
  for (size_t i = 0; i < sizeof g_paths / sizeof g_paths[0]; i++)
    unlink(g_paths[i]);
}

static void cleanup(void) {
  remove_files();
  if (g_own_dir)
    rmdir(g_dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc;
  (void)argv;
  const char *d = getenv("SMR_FUZZ_DIR");
  if (d && *d) {
    snprintf(g_dir, sizeof g_dir, "%s", d);
  } else {
    snprintf(g_dir, sizeof g_dir, "/dev/shm/smr-fuzz-XXXXXX");
    if (!mkdtemp(g_dir))
      FAIL("mkdtemp: %s", strerror(errno));
    g_own_dir = true;
  }
  snprintf(g_name, sizeof g_name, "%s/ch", g_dir);
  snprintf(g_paths[0], sizeof g_paths[0], "%s.smr", g_name);
  snprintf(g_paths[1], sizeof g_paths[1], "%s.smr-readers", g_name);
  for (unsigned i = 0; i < FZ_MAX_INDEX; i++)
    snprintf(g_paths[2 + i], sizeof g_paths[2 + i], "%s.smr-data-%u", g_name,
             i);
  atexit(cleanup);
  return 0;
}

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
  uint64_t off = SMR__SHM_DESC_OFFSET + idx * sizeof(struct smr__shm_desc) +
                 offsetof(struct smr__shm_desc, file_dev);
  struct stat sb;
  if (idx >= SMR_SHM_MAX_BUFFERS || off + 16 > state_len || stat(path, &sb))
    return;
  uint64_t id[2] = {(uint64_t)sb.st_dev, (uint64_t)sb.st_ino};
  _Static_assert(offsetof(struct smr__shm_desc, file_ino) ==
                     offsetof(struct smr__shm_desc, file_dev) + 8,
                 "file_dev, file_ino adjacent");
  int fd = open(g_paths[0], O_WRONLY | O_CLOEXEC);
  if (fd < 0 || pwrite(fd, id, sizeof id, (off_t)off) != (ssize_t)sizeof id)
    FAIL("pwrite identity: %s", strerror(errno));
  close(fd);
}

static int lowest_free_fd(void) {
  int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    FAIL("open /dev/null: %s", strerror(errno));
  close(fd);
  return fd;
}

static int channel_maps(void) {
  FILE *f = fopen("/proc/self/maps", "r");
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

static void payload_fill(uint8_t *b, size_t n, uint64_t seed) {
  for (size_t j = 0; j < n; j++)
    b[j] = (uint8_t)(seed * 29u + j * 13u + (j >> 8));
}

/* A fresh reader must see exactly what the writer published last. */
static void check_published(const uint8_t *data, uint64_t size,
                            uint64_t version) {
  smr_shm_reader *r;
  int rc = smr_shm_reader_open(g_name, SMR_SHM_VERIFY, &r);
  if (rc == -EUSERS)
    return; /* every slot taken by this input's own readers */
  if (rc != 0)
    FAIL("reader after a successful publish: open %d", rc);
  smr_shm_guard g;
  rc = smr_shm_read(r, &g);
  if (rc != 0)
    FAIL("reader after a successful publish: read %d", rc);
  if (g.version != version || g.size != size ||
      (size && memcmp(g.data, data, size) != 0))
    FAIL("reader after publish: version %llu size %llu, published %llu %llu",
         (unsigned long long)g.version, (unsigned long long)g.size,
         (unsigned long long)version, (unsigned long long)size);
  rc = smr_shm_verify(r, &g);
  EXPECT_RC("verify after publish", rc, -ENOTSUP);
  smr_shm_release(r, &g);
  if (smr_shm_reader_close(r) != 0)
    FAIL("reader close");
}

/* Take the channel over and publish a few payloads (timeout 0). */
static void writer_round(uint64_t seed) {
  struct smr_shm_options o = {0};
  o.timeout_ns = 0;
  o.timeout_set = true;
  smr_shm_writer *w;
  int rc = smr_shm_writer_open(g_name, &o, &w);
  /* -EAGAIN / -EINVAL: not documented for writer_open, tolerated here so
   * the fuzzer looks further (test_shm_corrupt pins the exact codes). */
  EXPECT_RC("writer_open", rc, -EBADMSG, -EBUSY, -EAGAIN, -EINVAL);
  if (rc != 0)
    return;
  static uint8_t buf[9000];
  static const uint64_t sizes[] = {0, 1, 100, 4096, 9000};
  for (int k = 0; k < 3; k++) {
    uint64_t size = sizes[(seed + (uint64_t)k) % 5];
    payload_fill(buf, (size_t)size, seed + (uint64_t)k);
    struct smr_shm_commit_info info;
    rc = smr_shm_publish(w, size ? buf : NULL, size, &info);
    EXPECT_RC("publish", rc, -EBUSY);
    if (rc == 0) {
      if (info.bytes != size || info.buffer >= SMR_SHM_MAX_BUFFERS)
        FAIL("commit info");
      check_published(buf, size, info.version);
    }
  }
  smr_shm_writer_close(w);
}

static void stat_round(unsigned flags) {
  struct smr_shm_stat st;
  struct smr_shm_reader_stat rs[8];
  size_t nrs = 0;
  int rc = smr_shm_stat(g_name, flags, &st, rs, 8, &nrs);
  EXPECT_RC("stat", rc, -ENOENT, -EAGAIN, -EBADMSG, -EUSERS);
  if (rc == 0 && (st.buffers < 2 || st.buffers > SMR_SHM_MAX_BUFFERS ||
                  st.readers_max < 1 || st.readers_max > SMR_SHM_MAX_READERS ||
                  st.readers > st.readers_max || nrs > st.readers_max))
    FAIL("stat numbers out of range");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < FZ_HEADER)
    return 0;
  struct fz_header h;
  fz_header_get(&h, data);
  const uint8_t *p = data + FZ_HEADER;
  size_t left = size - FZ_HEADER;
  const char *paths[4] = {g_paths[0], g_paths[1], g_paths[2 + h.idx[0]],
                          g_paths[2 + h.idx[1]]};
  bool present[4] = {!(h.mode & FZ_NO_STATE), !(h.mode & FZ_NO_READERS),
                     h.ndata >= 1, h.ndata >= 2};
  /* libFuzzer opens files between inputs: compare within this one. */
  g_fd_base = lowest_free_fd();
  remove_files();
  for (int i = 0; i < 4; i++) {
    size_t take = h.file[i].bytes < left ? h.file[i].bytes : left;
    if (present[i])
      put_file(paths[i], p, take, h.file[i].len);
    p += take;
    left -= take;
  }
  if (present[0] && !(h.mode & FZ_KEEP_IDS))
    for (int i = 2; i < 4; i++)
      if (present[i])
        put_identity(h.idx[i - 2], paths[i], h.file[0].len);
  uint64_t seed = left ? p[0] : size;

  if (h.mode & FZ_WRITER_FIRST)
    writer_round(seed);

  smr_shm_reader *r = NULL, *r2 = NULL;
  int rc = smr_shm_reader_open(g_name,
                               (h.mode & FZ_VERIFY) ? SMR_SHM_VERIFY : 0, &r);
  EXPECT_RC("reader_open", rc, -ENOENT, -EAGAIN, -EBADMSG, -EUSERS);
  if (rc == 0 && (h.mode & FZ_TWO_READERS)) {
    rc = smr_shm_reader_open(g_name, 0, &r2);
    EXPECT_RC("reader_open 2", rc, -EUSERS);
  }
  if (r) {
    smr_shm_guard g;
    rc = smr_shm_read(r, &g);
    EXPECT_RC("read", rc, -ENODATA, -EBADMSG, -ESTALE);
    if (rc == 0) {
      /* Versions start at 1; nothing runs concurrently here. */
      if (g.version == 0 || g.data == NULL || g.version != smr_shm_version(r))
        FAIL("guard: version %llu (current %llu), data %p",
             (unsigned long long)g.version,
             (unsigned long long)smr_shm_version(r), g.data);
      /* Touch the whole payload: a size past the file would SIGBUS. */
      EXPECT_RC("verify", smr_shm_verify(r, &g), -EBADMSG, -ENOTSUP);
      uint8_t snap[64];
      size_t ns = g.size < sizeof snap ? (size_t)g.size : sizeof snap;
      memcpy(snap, g.data, ns);
      if (h.mode & FZ_WRITER_PINNED) {
        writer_round(seed);
        if (memcmp(snap, g.data, ns) != 0)
          FAIL("a pinned payload changed under its guard");
      }
      if (smr_shm_read(r, &g) != -EBUSY)
        FAIL("second read while holding a guard");
      smr_shm_release(r, &g);
      rc = smr_shm_read(r, &g);
      EXPECT_RC("read again", rc, -ENODATA, -EBADMSG, -ESTALE);
      if (rc == 0)
        smr_shm_release(r, &g);
    } else if (h.mode & FZ_WRITER_PINNED) {
      writer_round(seed);
    }
    if (r2) {
      rc = smr_shm_read(r2, &g);
      EXPECT_RC("read 2", rc, -ENODATA, -EBADMSG, -ESTALE);
      if (rc == 0)
        smr_shm_release(r2, &g);
      if (smr_shm_reader_close(r2) != 0)
        FAIL("reader_close 2");
    }
    uint64_t v = smr_shm_version(r);
    rc = smr_shm_wait(r, v, 0);
    EXPECT_RC("wait", rc, -ETIMEDOUT, -ESTALE);
    if (smr_shm_reader_close(r) != 0)
      FAIL("reader_close");
  } else if (h.mode & FZ_WRITER_PINNED) {
    writer_round(seed);
  }

  stat_round(0);
  stat_round(SMR_SHM_STAT_VERIFY);
  if (h.mode & FZ_UNLINK) {
    rc = smr_shm_unlink(g_name);
    EXPECT_RC("unlink", rc, -ENOENT, -EBADMSG);
  }

  if (lowest_free_fd() != g_fd_base)
    FAIL("file descriptor leak (lowest free fd %d, was %d)", lowest_free_fd(),
         g_fd_base);
  if ((++g_runs & 1023) == 0 && channel_maps() != 0)
    FAIL("mapping of a channel file leaked");
  return 0;
}
