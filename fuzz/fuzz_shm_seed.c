/* Seed corpus for fuzz_shm: valid channels made by the real writer, dumped
 * in the fuzz input format (fuzz_shm.h).
 *
 *   fuzz_shm_seed OUTDIR        writes OUTDIR/seed-<n> (a few KiB each)
 *
 * Seeds: 2 and 3 buffers, few and many slots, one and two data files, a
 * reader holding a guard while the files are copied (a pinned slot),
 * nothing published yet, an empty payload, no checksum, a symmetric
 * channel; each in reader, verify and writer-takeover modes. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fuzz_shm.h"
#include "smr/shm.h"

static char g_dir[64], g_name[128];

static void die(const char *what, int e) {
  fprintf(stderr, "fuzz_shm_seed: %s: %s\n", what, strerror(e));
  char path[256];
  static const char *const suffix[] = {".smr", ".smr-readers"};
  for (int i = 0; i < 2; i++) {
    snprintf(path, sizeof path, "%s%s", g_name, suffix[i]);
    unlink(path);
  }
  for (int i = 0; i < 34; i++) {
    snprintf(path, sizeof path, "%s.smr-data-%d", g_name, i);
    unlink(path);
  }
  rmdir(g_dir);
  exit(1);
}

/* Whole file (NULL if absent). */
static uint8_t *slurp(const char *path, size_t *n) {
  *n = 0;
  int fd = open(path, O_RDONLY);
  if (fd < 0)
    return NULL;
  struct stat st;
  if (fstat(fd, &st) != 0)
    die("fstat", errno);
  uint8_t *b = malloc((size_t)st.st_size + 1);
  if (!b || pread(fd, b, (size_t)st.st_size, 0) != st.st_size)
    die("read", errno);
  close(fd);
  *n = (size_t)st.st_size;
  return b;
}

static size_t nonzero_prefix(const uint8_t *b, size_t n) {
  while (n && b[n - 1] == 0)
    n--;
  return n;
}

/* Dump the channel as seed files (one per mode). */
static void dump(const char *outdir, int *seq, unsigned data0, int data1) {
  char path[256];
  uint8_t *f[4] = {NULL, NULL, NULL, NULL};
  size_t n[4] = {0, 0, 0, 0};
  snprintf(path, sizeof path, "%s.smr", g_name);
  f[0] = slurp(path, &n[0]);
  snprintf(path, sizeof path, "%s.smr-readers", g_name);
  f[1] = slurp(path, &n[1]);
  snprintf(path, sizeof path, "%s.smr-data-%u", g_name, data0);
  f[2] = slurp(path, &n[2]);
  snprintf(path, sizeof path, "%s.smr-data-%d", g_name, data1);
  f[3] = data1 >= 0 ? slurp(path, &n[3]) : NULL;
  struct fz_header h;
  memset(&h, 0, sizeof h);
  h.idx[0] = (uint8_t)data0;
  h.idx[1] = (uint8_t)(data1 >= 0 ? data1 : 0);
  h.ndata = (uint8_t)(f[3] ? 2 : f[2] ? 1 : 0);
  size_t total = FZ_HEADER;
  for (int i = 0; i < 4; i++) {
    if (n[i] > UINT16_MAX)
      die("file too large for a seed", EFBIG);
    h.file[i].len = (uint16_t)n[i];
    h.file[i].bytes = (uint16_t)(f[i] ? nonzero_prefix(f[i], n[i]) : 0);
    total += h.file[i].bytes;
  }
  static const uint8_t modes[] = {0, FZ_VERIFY | FZ_TWO_READERS,
                                  FZ_WRITER_FIRST,
                                  FZ_WRITER_PINNED | FZ_UNLINK};
  uint8_t *out = malloc(total);
  if (!out)
    die("malloc", ENOMEM);
  for (size_t m = 0; m < sizeof modes; m++) {
    h.mode = modes[m];
    fz_header_put(&h, out);
    size_t off = FZ_HEADER;
    for (int i = 0; i < 4; i++) {
      if (h.file[i].bytes)
        memcpy(out + off, f[i], h.file[i].bytes);
      off += h.file[i].bytes;
    }
    snprintf(path, sizeof path, "%s/seed-%02d", outdir, (*seq)++);
    FILE *o = fopen(path, "wb");
    if (!o || fwrite(out, 1, total, o) != total || fclose(o) != 0)
      die(path, errno);
  }
  free(out);
  for (int i = 0; i < 4; i++)
    free(f[i]);
}

/* Make a channel, publish `npub` payloads of `size` bytes, dump it. */
static void make(const char *outdir, int *seq, unsigned buffers, unsigned slots,
                 unsigned flags, int npub, uint64_t size, int pin) {
  struct smr_shm_options o = {0};
  o.buffers = buffers;
  o.readers = slots;
  o.flags = flags;
  smr_shm_writer *w;
  int r = smr_shm_writer_open(g_name, &o, &w);
  if (r < 0)
    die("writer_open", -r);
  static uint8_t buf[600];
  struct smr_shm_commit_info info = {0}, prev = {0};
  for (int i = 0; i < npub; i++) {
    for (uint64_t j = 0; j < size; j++)
      buf[j] = (uint8_t)(i * 31 + (int)j);
    prev = info;
    r = smr_shm_publish(w, buf, size, &info);
    if (r < 0)
      die("publish", -r);
  }
  smr_shm_reader *rd = NULL;
  smr_shm_guard g;
  if (pin) {
    if ((r = smr_shm_reader_open(g_name, 0, &rd)) < 0 ||
        (r = smr_shm_read(rd, &g)) < 0)
      die("reader", -r);
  }
  dump(outdir, seq, npub ? info.buffer : 0, npub > 1 ? (int)prev.buffer : -1);
  if (rd) {
    smr_shm_release(rd, &g);
    smr_shm_reader_close(rd);
  }
  smr_shm_writer_close(w);
  if ((r = smr_shm_unlink(g_name)) < 0)
    die("unlink", -r);
}

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: fuzz_shm_seed OUTDIR\n");
    return 2;
  }
  snprintf(g_dir, sizeof g_dir, "/dev/shm/smr-fuzz-seed-XXXXXX");
  if (!mkdtemp(g_dir))
    die("mkdtemp", errno);
  snprintf(g_name, sizeof g_name, "%s/ch", g_dir);
  int seq = 0;
  make(argv[1], &seq, 2, 1, 0, 1, 100, 0);
  make(argv[1], &seq, 3, 4, 0, 3, 600, 0);
  make(argv[1], &seq, 3, 4, 0, 2, 300, 1);
  make(argv[1], &seq, 4, 64, 0, 5, 200, 1);
  make(argv[1], &seq, 2, 2, 0, 0, 0, 0);
  make(argv[1], &seq, 2, 2, 0, 1, 0, 0);
  make(argv[1], &seq, 2, 2, SMR_SHM_NO_CHECKSUM, 2, 50, 0);
  make(argv[1], &seq, 3, 2, SMR_SHM_SYMMETRIC, 2, 50, 1);
  rmdir(g_dir);
  printf("fuzz_shm_seed: %d seeds in %s\n", seq, argv[1]);
  return 0;
}
