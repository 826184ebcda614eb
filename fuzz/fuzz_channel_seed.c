/* SPDX-License-Identifier: MIT */
/* Seed corpus for fuzz_channel: valid channels made by the real writer and
 * readers, dumped in the fuzz input format (fuzz_channel.h).
 *
 *   fuzz_channel_seed OUTDIR        writes OUTDIR/seed-<n> (a few KiB each)
 *
 * Channels: 2 and 3 buffers, few and many slots, one and two data files,
 * nothing published yet, an empty payload, no checksum, a symmetric
 * channel; with no reader, a reader holding a guard while the files are
 * copied (a live slot file pinning the current version) or an idle one
 * (its pin stays announced).
 * Each is dumped in reader, verify, writer-takeover and pinned-takeover
 * modes.  Channels with a reader also give variants of their slot file:
 * dead (unlocked), next to junk and temporary-looking names, next to a
 * directory, a pipe and a socket under slot names, another user's and
 * short (read with pread), only share-locked (dead too), appearing or
 * going away after the writer opened (with the directory swapped or
 * removed), truncated by another user, and pinning another buffer than
 * the current one.  A few
 * variants of the directory itself: absent, a file, a symlink, writable but
 * not sticky, another user's; and another writer holding the locks. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "channel/layout.h"
#include "fuzz_channel.h"
#include "smr/channel.h"

static char g_dir[64], g_name[128];

static int remove_one(const char *path, const struct stat *sb, int type,
                      struct FTW *ftw) {
  (void)sb;
  (void)type;
  (void)ftw;
  remove(path);
  return 0;
}

static void die(const char *what, int e) {
  fprintf(stderr, "fuzz_channel_seed: %s: %s\n", what, strerror(e));
  if (g_dir[0])
    nftw(g_dir, remove_one, 8, FTW_DEPTH | FTW_PHYS);
  exit(1);
}

/* Whole file (NULL if absent). */
static uint8_t *slurp_at(int dfd, const char *path, size_t *n) {
  *n = 0;
  int fd = openat(dfd, path, O_RDONLY | O_CLOEXEC);
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

/* Whether some open file description holds a lock on byte 0 of the file. */
static int lock_held_at(int dfd, const char *name) {
  int fd = openat(dfd, name, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    die("open slot", errno);
  struct flock fl;
  memset(&fl, 0, sizeof fl);
  fl.l_type = F_WRLCK;
  fl.l_whence = SEEK_SET;
  fl.l_len = 1;
  if (fcntl(fd, F_OFD_GETLK, &fl) != 0)
    die("F_OFD_GETLK", errno);
  close(fd);
  return fl.l_type != F_UNLCK;
}

/* A dumped channel: the header and the content of each file. */
struct dumped {
  struct fz_header h;
  const uint8_t *content[3 + FZ_MAX_SLOTS]; /* state, data 0, 1, slots */
};

/* Write one seed per mode. */
static void emit(const char *outdir, int *seq, const struct dumped *d,
                 const uint8_t *modes, size_t nmodes) {
  struct fz_file f[3 + FZ_MAX_SLOTS];
  for (int i = 0; i < 3; i++)
    f[i] = d->h.file[i];
  for (unsigned i = 0; i < FZ_MAX_SLOTS; i++)
    f[3 + i] = d->h.slot[i].file;
  size_t total = FZ_HEADER;
  for (unsigned i = 0; i < 3 + FZ_MAX_SLOTS; i++)
    total += f[i].bytes;
  uint8_t *out = malloc(total);
  if (!out)
    die("malloc", ENOMEM);
  struct fz_header h = d->h;
  for (size_t m = 0; m < nmodes; m++) {
    h.mode = modes[m];
    fz_header_put(&h, out);
    size_t off = FZ_HEADER;
    for (unsigned i = 0; i < 3 + FZ_MAX_SLOTS; i++) {
      if (f[i].bytes)
        memcpy(out + off, d->content[i], f[i].bytes);
      off += f[i].bytes;
    }
    char path[256];
    snprintf(path, sizeof path, "%s/seed-%03d", outdir, (*seq)++);
    FILE *o = fopen(path, "wb");
    if (!o || fwrite(out, 1, total, o) != total || fclose(o) != 0)
      die(path, errno);
  }
  free(out);
}

static const uint8_t all_modes[] = {0, FZ_VERIFY | FZ_TWO_READERS,
                                    FZ_WRITER_FIRST,
                                    FZ_WRITER_PINNED | FZ_UNLINK};
static const uint8_t writer_modes[] = {FZ_WRITER_FIRST, FZ_WRITER_PINNED};

/* A slot entry with the content of dumped slot `from`. */
static void slot_like(struct dumped *d, unsigned to, const struct dumped *src,
                      unsigned from, uint8_t name, uint8_t flags) {
  d->h.slot[to] = src->h.slot[from];
  d->h.slot[to].name = name;
  d->h.slot[to].flags = flags;
  d->content[3 + to] = src->content[3 + from];
}

/* An entry of another kind (no content). */
static void slot_kind(struct dumped *d, unsigned to, uint8_t name,
                      unsigned kind) {
  memset(&d->h.slot[to], 0, sizeof d->h.slot[to]);
  d->h.slot[to].name = name;
  d->h.slot[to].flags = (uint8_t)(kind << 2);
  d->content[3 + to] = NULL;
}

/* Variants of a channel whose dump holds a reader's slot file (entry 0). */
static void slot_variants(const char *outdir, int *seq, const struct dumped *d,
                          unsigned buffers, unsigned slots) {
  uint8_t live = d->h.slot[0].flags, name0 = d->h.slot[0].name;
  uint8_t other = (uint8_t)((name0 + 1) % (slots < 128 ? slots : 128));
  struct dumped v;

  /* Dead: its owner is gone, its pin stays.  Then only a shared lock on
   * it, which anybody who can read it may take: dead as well. */
  v = *d;
  v.h.slot[0].flags = (uint8_t)(live & ~FZ_SLOT_LOCKED);
  emit(outdir, seq, &v, writer_modes, sizeof writer_modes);
  emit(outdir, seq, &v, all_modes, 2);
  v.h.slot[0].flags = (uint8_t)(FZ_SLOT_LOCKED | FZ_SLOT_REG_SHARED << 2);
  emit(outdir, seq, &v, writer_modes, sizeof writer_modes);

  /* Next to a dead copy under a temporary name of ours and a live one
   * under a non-canonical name ("r01"). */
  v = *d;
  v.h.nslots = 3;
  slot_like(&v, 1, d, 0, 0x80, 0);
  slot_like(&v, 2, d, 0, 0xc2, FZ_SLOT_LOCKED);
  emit(outdir, seq, &v, all_modes, sizeof all_modes);

  /* A directory and a socket under slot names, a pipe past the slots. */
  v = *d;
  v.h.nslots = 3;
  slot_kind(&v, 1, other, FZ_SLOT_DIR);
  slot_kind(&v, 2, (uint8_t)(slots < 128 ? slots : 127), FZ_SLOT_FIFO);
  emit(outdir, seq, &v, all_modes, sizeof all_modes);
  v.h.nslots = 2;
  slot_kind(&v, 1, other, FZ_SLOT_SOCKET);
  emit(outdir, seq, &v, writer_modes, sizeof writer_modes);

  /* Another user's file, live, read by pread; a short one; a hard link. */
  v = *d;
  v.h.nslots = 3;
  v.h.slot[0].flags = (uint8_t)(live | FZ_SLOT_FOREIGN);
  slot_like(&v, 1, d, 0, other, 0);
  v.h.slot[1].file.len = 40; /* shorter than a slot: ignored */
  slot_like(&v, 2, d, 0, (uint8_t)((other + 1) % (slots < 128 ? slots : 128)),
            FZ_SLOT_LINK << 2);
  emit(outdir, seq, &v, all_modes, sizeof all_modes);

  /* After the writer opened: the live slot dies, a dead one appears, the
   * directory is swapped for a new one. */
  v = *d;
  v.h.nslots = 2;
  v.h.slot[0].flags = (uint8_t)(live | FZ_SLOT_UNLOCK_LATE);
  slot_like(&v, 1, d, 0, other, FZ_SLOT_LATE);
  emit(outdir, seq, &v, writer_modes, sizeof writer_modes);
  v.h.slot[0].flags = (uint8_t)(live | FZ_SLOT_UNLINK_LATE);
  v.h.dir |= FZ_DIR_SWAP;
  emit(outdir, seq, &v, writer_modes, sizeof writer_modes);
  /* ... or removed: the writer's watch reports it gone. */
  v.h.dir = (uint8_t)((v.h.dir & ~FZ_DIR_SWAP) | FZ_DIR_REMOVE);
  emit(outdir, seq, &v, writer_modes, sizeof writer_modes);

  /* A copy others may write, which another user truncates after the
   * writer opened; dead (alive: fuzz/corpus/slot-writable-truncated). */
  v = *d;
  v.h.nslots = 2;
  slot_like(&v, 1, d, 0, other, FZ_SLOT_REG_0666 << 2);
  v.h.dir |= FZ_DIR_TRUNCATE;
  emit(outdir, seq, &v, writer_modes, sizeof writer_modes);

  /* Holding a guard on another buffer than the current one, and dying
   * after the writer opened: reclaimed while the writer chooses a buffer. */
  static uint8_t moved[sizeof(struct smr__channel_slot)];
  const size_t pin = offsetof(struct smr__channel_slot, pin);
  const size_t act = offsetof(struct smr__channel_slot, active);
  v = *d;
  if (v.h.slot[0].file.bytes < act + 4 || v.h.slot[0].file.bytes > sizeof moved)
    die("slot file content", EINVAL);
  memcpy(moved, d->content[3], v.h.slot[0].file.bytes);
  moved[pin] = (uint8_t)((moved[pin] + 1) % buffers); /* the index byte */
  moved[act] = 1;
  v.content[3] = moved;
  v.h.slot[0].flags = (uint8_t)(live | FZ_SLOT_UNLOCK_LATE);
  emit(outdir, seq, &v, writer_modes, sizeof writer_modes);
}

/* The directory itself in other shapes. */
static void dir_variants(const char *outdir, int *seq, const struct dumped *d) {
  static const uint8_t dirs[] = {FZ_DIR_ABSENT,
                                 FZ_DIR_FILE,
                                 FZ_DIR_SYMLINK,
                                 FZ_DIR_DIR | FZ_DIR_WRITABLE,
                                 FZ_DIR_DIR | FZ_DIR_FOREIGN | FZ_DIR_STICKY,
                                 FZ_DIR_DIR};
  static const uint8_t modes[] = {0, FZ_WRITER_FIRST,
                                  FZ_NO_STATE | FZ_WRITER_FIRST};
  for (size_t i = 0; i < sizeof dirs; i++) {
    struct dumped v = *d;
    v.h.dir = dirs[i];
    emit(outdir, seq, &v, modes, sizeof modes);
  }
  static const uint8_t locked[] = {
      FZ_WRITER_LOCKED | FZ_WRITER_FIRST | FZ_UNLINK,
      FZ_WRITER_LOCKED | FZ_NO_STATE | FZ_WRITER_FIRST};
  emit(outdir, seq, d, locked, sizeof locked);
}

/* Dump the channel and its variants. */
static void dump(const char *outdir, int *seq, unsigned data0, int data1,
                 unsigned buffers, unsigned slots, bool more) {
  char path[256];
  uint8_t *f[3 + FZ_MAX_SLOTS] = {NULL};
  size_t n[3 + FZ_MAX_SLOTS] = {0};
  struct dumped d;
  memset(&d, 0, sizeof d);
  snprintf(path, sizeof path, "%s.smr", g_name);
  f[0] = slurp_at(AT_FDCWD, path, &n[0]);
  snprintf(path, sizeof path, "%s.smr-data-%u", g_name, data0);
  f[1] = slurp_at(AT_FDCWD, path, &n[1]);
  snprintf(path, sizeof path, "%s.smr-data-%d", g_name, data1);
  f[2] = data1 >= 0 ? slurp_at(AT_FDCWD, path, &n[2]) : NULL;
  d.h.idx[0] = (uint8_t)data0;
  d.h.idx[1] = (uint8_t)(data1 >= 0 ? data1 : 0);
  d.h.ndata = (uint8_t)(f[2] ? 2 : f[1] ? 1 : 0);
  for (int i = 0; i < 3; i++) {
    if (n[i] > UINT16_MAX)
      die("file too large for a seed", EFBIG);
    d.h.file[i].len = (uint16_t)n[i];
    d.h.file[i].bytes = (uint16_t)(f[i] ? nonzero_prefix(f[i], n[i]) : 0);
    d.content[i] = f[i];
  }

  /* The readers directory: its mode, and the slot files r<i> in it. */
  snprintf(path, sizeof path, "%s.smr-readers", g_name);
  struct stat sb;
  if (stat(path, &sb) != 0 || !S_ISDIR(sb.st_mode))
    die("readers directory", errno ? errno : ENOTDIR);
  d.h.dir = (uint8_t)(FZ_DIR_DIR | ((sb.st_mode & 01000) ? FZ_DIR_STICKY : 0) |
                      ((sb.st_mode & 022) ? FZ_DIR_WRITABLE : 0));
  int dfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd < 0)
    die("open readers directory", errno);
  struct dirent **list;
  int nl = scandir(path, &list, NULL, alphasort);
  if (nl < 0)
    die("scandir", errno);
  for (int j = 0; j < nl; j++) {
    const char *nm = list[j]->d_name;
    char *end;
    unsigned long i = nm[0] == 'r' ? strtoul(nm + 1, &end, 10) : 128;
    if (nm[0] == 'r' && *end == 0 && i < 128 && d.h.nslots < FZ_MAX_SLOTS) {
      unsigned k = d.h.nslots++;
      f[3 + k] = slurp_at(dfd, nm, &n[3 + k]);
      if (!f[3 + k] || n[3 + k] > UINT16_MAX)
        die("slot file", EFBIG);
      d.h.slot[k].name = (uint8_t)i;
      d.h.slot[k].flags = lock_held_at(dfd, nm) ? FZ_SLOT_LOCKED : 0;
      d.h.slot[k].file.len = (uint16_t)n[3 + k];
      d.h.slot[k].file.bytes = (uint16_t)nonzero_prefix(f[3 + k], n[3 + k]);
      d.content[3 + k] = f[3 + k];
    }
    free(list[j]);
  }
  free(list);
  close(dfd);

  emit(outdir, seq, &d, all_modes, sizeof all_modes);
  if (more && d.h.nslots)
    slot_variants(outdir, seq, &d, buffers, slots);
  if (more && !d.h.nslots)
    dir_variants(outdir, seq, &d);
  for (int i = 0; i < 3 + (int)FZ_MAX_SLOTS; i++)
    free(f[i]);
}

/* Make a channel, publish `npub` payloads of `size` bytes, dump it.
 * reader: 0 none, 1 holding a guard on the current version, 2 open and
 * idle after a read.  more: also dump the variants. */
static void make(const char *outdir, int *seq, unsigned buffers, unsigned slots,
                 unsigned flags, int npub, uint64_t size, int reader,
                 bool more) {
  struct smr_channel_options o = {0};
  o.buffers = buffers;
  o.readers = slots;
  o.flags = flags;
  smr_channel_writer *w;
  int r = smr_channel_writer_open(g_name, &o, &w);
  if (r < 0)
    die("writer_open", -r);
  static uint8_t buf[600];
  struct smr_channel_commit_info info = {0}, prev = {0};
  for (int i = 0; i < npub; i++) {
    for (uint64_t j = 0; j < size; j++)
      buf[j] = (uint8_t)(i * 31 + (int)j);
    prev = info;
    r = smr_channel_publish(w, buf, size, &info);
    if (r < 0)
      die("publish", -r);
  }
  smr_channel_reader *rd = NULL;
  smr_channel_guard g;
  if (reader) {
    if ((r = smr_channel_reader_open(g_name, 0, &rd)) < 0 ||
        (r = smr_channel_read(rd, &g)) < 0)
      die("reader", -r);
    if (reader == 2)
      smr_channel_release(rd, &g);
  }
  dump(outdir, seq, npub ? info.buffer : 0, npub > 1 ? (int)prev.buffer : -1,
       buffers, slots, more);
  if (rd) {
    if (reader == 1)
      smr_channel_release(rd, &g);
    smr_channel_reader_close(rd);
  }
  smr_channel_writer_close(w);
  if ((r = smr_channel_unlink(g_name)) < 0)
    die("unlink", -r);
}

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: fuzz_channel_seed OUTDIR\n");
    return 2;
  }
  if (mkdir(argv[1], 0755) != 0 && errno != EEXIST) {
    fprintf(stderr, "fuzz_channel_seed: %s: %s\n", argv[1], strerror(errno));
    return 1;
  }
  snprintf(g_dir, sizeof g_dir, "/dev/shm/smr-fuzz-seed-XXXXXX");
  if (!mkdtemp(g_dir))
    die("mkdtemp", errno);
  snprintf(g_name, sizeof g_name, "%s/ch", g_dir);
  int seq = 0;
  make(argv[1], &seq, 2, 1, 0, 1, 100, 0, true);
  make(argv[1], &seq, 3, 4, 0, 3, 600, 0, false);
  make(argv[1], &seq, 3, 4, 0, 2, 300, 1, true);
  make(argv[1], &seq, 4, 64, 0, 5, 200, 1, false);
  make(argv[1], &seq, 3, 3, 0, 4, 100, 2, true);
  make(argv[1], &seq, 2, 2, 0, 3, 100, 2, true);
  make(argv[1], &seq, 2, 2, 0, 0, 0, 0, false);
  make(argv[1], &seq, 2, 2, 0, 1, 0, 0, false);
  make(argv[1], &seq, 2, 2, SMR_CHANNEL_NO_CHECKSUM, 2, 50, 0, false);
  make(argv[1], &seq, 3, 2, SMR_CHANNEL_SYMMETRIC, 2, 50, 1, false);
  rmdir(g_dir);
  printf("fuzz_channel_seed: %d seeds in %s\n", seq, argv[1]);
  return 0;
}
