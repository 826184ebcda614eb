/* SPDX-License-Identifier: MIT */
/* The channel checksum by blocks (src/channel/sums.c, layout.h):
 *  - the block geometry: at most 4096 blocks, 64 KiB up to 256 MiB, the
 *    room the writer reserves enough for every size up to its capacity;
 *  - smr_channel_publish (copy and hash) and begin/commit write the same
 *    sums, which a verifying reader accepts;
 *  - a byte flipped at the first or last byte of a block fails exactly the
 *    ranges that touch that block (smr_channel_verify_range), and the whole
 *    payload (smr_channel_verify, SMR_CHANNEL_VERIFY);
 *  - a stored block sum or the descriptor's checksum flipped fails every
 *    range;
 *  - what passed for one version is not trusted for the next;
 *  - the argument errors, an empty payload, a channel without checksum;
 *  - a reader's old, larger mapping of a file the writer shrank is no
 *    licence to read a descriptor's size past the file (SIGBUS before);
 *  - a guard of an earlier read is refused by verify_range. */
#include "channel_util.h"

#include <fcntl.h>
#include <sys/stat.h>

#include "channel/layout.h"

static struct test_chan chan;

#define BS      (1ull << SMR__CHANNEL_SUM_MIN_SHIFT)
#define PAYLOAD (16 * BS + 1000) /* 17 blocks, the last one short */

static void test_geometry(void) {
  CHECK_EQ(smr__channel_sum_count(0), 0u);
  CHECK_EQ(smr__channel_sum_end(0), 0u);
  CHECK_EQ(smr__channel_sum_count(1), 1u);
  CHECK_EQ(smr__channel_sum_end(1), 16u);
  CHECK_EQ(smr__channel_sum_count(BS), 1u);
  CHECK_EQ(smr__channel_sum_count(BS + 1), 2u);
  CHECK_EQ(smr__channel_sum_shift(4096 * BS), SMR__CHANNEL_SUM_MIN_SHIFT);
  CHECK_EQ(smr__channel_sum_count(4096 * BS), 4096u);
  CHECK_EQ(smr__channel_sum_shift(4096 * BS + 1),
           SMR__CHANNEL_SUM_MIN_SHIFT + 1);
  CHECK_EQ(smr__channel_sum_count(4096 * BS + 1), 2049u);
  CHECK_EQ(smr__channel_sum_count(SMR_CHANNEL_MAX_PAYLOAD), 4096u);
  /* Every size up to a capacity fits the room reserved for it. */
  uint64_t x = 0x9e3779b97f4a7c15ull;
  for (unsigned i = 0; i < 200000; i++) {
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
    uint64_t cap = x >> (x % 46 + 18); /* 0 .. 2^46 */
    if (cap > SMR_CHANNEL_MAX_PAYLOAD)
      cap = SMR_CHANNEL_MAX_PAYLOAD;
    uint64_t size = i % 4 ? cap - (cap ? x % cap : 0) : cap;
    CHECK(smr__channel_sum_count(size) <= SMR__CHANNEL_SUM_MAX);
    CHECK(smr__channel_sum_end(size) <= smr__channel_sum_reserve(cap));
    /* Blocks cover the payload: the last starts inside it. */
    if (size) {
      unsigned s = smr__channel_sum_shift(size);
      CHECK(((smr__channel_sum_count(size) - 1) << s) < size);
      CHECK((smr__channel_sum_count(size) << s) >= size);
    }
  }
}

static smr_channel_writer *writer(unsigned flags) {
  struct smr_channel_options o = {.buffers = 3, .readers = 4, .flags = flags};
  smr_channel_writer *w;
  CHECK_EQ(smr_channel_writer_open(chan.name, &o, &w), 0);
  return w;
}

/* Publish version v's pattern (size bytes): by copy, or built in place. */
static unsigned publish(smr_channel_writer *w, uint64_t size, uint64_t v,
                        bool in_place) {
  struct smr_channel_commit_info ci;
  if (in_place) {
    void *buf;
    CHECK_EQ(smr_channel_begin(w, size + 4096, &buf), 0);
    pattern_fill(buf, size, v);
    CHECK_EQ(smr_channel_commit(w, size, &ci), 0);
  } else {
    void *p = malloc(size ? size : 1);
    CHECK(p);
    pattern_fill(p, size, v);
    CHECK_EQ(smr_channel_publish(w, p, size, &ci), 0);
    free(p);
  }
  CHECK_EQ(ci.version, v);
  return ci.buffer;
}

static void data_path(unsigned buffer, char *path, size_t n) {
  snprintf(path, n, "%s.smr-data-%u", chan.name, buffer);
}

static void flip(const char *path, uint64_t off) {
  int fd = open(path, O_RDWR);
  CHECK(fd >= 0);
  unsigned char b;
  CHECK_EQ(pread(fd, &b, 1, (off_t)off), 1);
  b ^= 0x10;
  CHECK_EQ(pwrite(fd, &b, 1, (off_t)off), 1);
  CHECK_EQ(close(fd), 0);
}

/* A fresh reader (nothing remembered) on the current version: the result
 * of smr_channel_verify_range(off, len). */
static int range_once(uint64_t off, uint64_t len) {
  smr_channel_reader *r;
  smr_channel_guard g;
  CHECK_EQ(smr_channel_reader_open(chan.name, 0, &r), 0);
  CHECK_EQ(smr_channel_read(r, &g), 0);
  int e = smr_channel_verify_range(r, &g, off, len);
  smr_channel_release(r, &g);
  CHECK_EQ(smr_channel_reader_close(r), 0);
  return e;
}

static int verify_once(void) {
  smr_channel_reader *r;
  smr_channel_guard g;
  CHECK_EQ(smr_channel_reader_open(chan.name, 0, &r), 0);
  CHECK_EQ(smr_channel_read(r, &g), 0);
  int e = smr_channel_verify(r, &g);
  smr_channel_release(r, &g);
  CHECK_EQ(smr_channel_reader_close(r), 0);
  return e;
}

static int verifying_read(void) {
  smr_channel_reader *r;
  smr_channel_guard g;
  CHECK_EQ(smr_channel_reader_open(chan.name, SMR_CHANNEL_VERIFY, &r), 0);
  int e = smr_channel_read(r, &g);
  if (e == 0) {
    CHECK(pattern_check(g.data, g.size, g.version));
    smr_channel_release(r, &g);
  }
  CHECK_EQ(smr_channel_reader_close(r), 0);
  return e;
}

/* One byte flipped in block b: every range touching b fails, the others
 * pass; the whole payload fails. */
static void flipped_block(const char *dp, uint64_t b, uint64_t at) {
  flip(dp, at);
  uint64_t nb = smr__channel_sum_count(PAYLOAD);
  CHECK_EQ(range_once(at, 1), -EBADMSG);
  CHECK_EQ(range_once(b * BS, 1), -EBADMSG);
  CHECK_EQ(range_once(0, PAYLOAD), -EBADMSG);
  if (b > 0) {
    CHECK_EQ(range_once(b * BS - 1, 1), 0);
    CHECK_EQ(range_once(0, b * BS), 0);
    CHECK_EQ(range_once(b * BS - 1, 2), -EBADMSG); /* straddles */
  }
  if (b + 1 < nb) {
    CHECK_EQ(range_once((b + 1) * BS, 1), 0);
    CHECK_EQ(range_once((b + 1) * BS, PAYLOAD - (b + 1) * BS), 0);
  }
  CHECK_EQ(verify_once(), -EBADMSG);
  CHECK_EQ(verifying_read(), -EBADMSG);
  flip(dp, at); /* back */
  CHECK_EQ(verify_once(), 0);
}

static void test_blocks(bool in_place) {
  smr_channel_writer *w = writer(0);
  unsigned i = publish(w, PAYLOAD, 1, in_place);
  char dp[160];
  data_path(i, dp, sizeof dp);
  CHECK_EQ(verifying_read(), 0);
  CHECK_EQ(verify_once(), 0);
  uint64_t nb = smr__channel_sum_count(PAYLOAD);
  CHECK_EQ(nb, 17u);
  for (uint64_t b = 0; b < nb; b++) {
    uint64_t last = b + 1 < nb ? (b + 1) * BS - 1 : PAYLOAD - 1;
    CHECK_EQ(range_once(b * BS, last - b * BS + 1), 0);
    if (b % 5 == 0 || b + 1 == nb) {
      flipped_block(dp, b, b * BS);
      flipped_block(dp, b, last);
    }
  }
  /* A stored block sum, or the descriptor's sum of them: every range. */
  uint64_t sums = smr__channel_sum_offset(PAYLOAD);
  flip(dp, sums + 8 * 3);
  CHECK_EQ(range_once(0, 1), -EBADMSG);
  CHECK_EQ(range_once(PAYLOAD - 1, 1), -EBADMSG);
  CHECK_EQ(range_once(0, 0), -EBADMSG);
  CHECK_EQ(verifying_read(), -EBADMSG);
  flip(dp, sums + 8 * 3);
  char sp[160];
  snprintf(sp, sizeof sp, "%s.smr", chan.name);
  uint64_t desc_sum = SMR__CHANNEL_DESC_OFFSET +
                      i * sizeof(struct smr__channel_desc) +
                      offsetof(struct smr__channel_desc, checksum);
  flip(sp, desc_sum);
  CHECK_EQ(range_once(5 * BS, 1), -EBADMSG);
  CHECK_EQ(verify_once(), -EBADMSG);
  flip(sp, desc_sum);
  CHECK_EQ(verify_once(), 0);
  CHECK_EQ(smr_channel_writer_close(w), 0);
  CHECK_EQ(smr_channel_unlink(chan.name), 0);
}

/* A handle that verified every block of one version trusts nothing of the
 * next: a block flipped in version 2 fails though the same block of
 * version 1 passed on this handle. */
static void test_new_version(void) {
  smr_channel_writer *w = writer(0);
  publish(w, PAYLOAD, 1, false);
  smr_channel_reader *r;
  smr_channel_guard g;
  CHECK_EQ(smr_channel_reader_open(chan.name, 0, &r), 0);
  CHECK_EQ(smr_channel_read(r, &g), 0);
  CHECK_EQ(smr_channel_verify(r, &g), 0);
  CHECK_EQ(smr_channel_verify_range(r, &g, 3 * BS, 1), 0);
  smr_channel_release(r, &g);
  unsigned i = publish(w, PAYLOAD, 2, true);
  char dp[160];
  data_path(i, dp, sizeof dp);
  flip(dp, 3 * BS + 7);
  CHECK_EQ(smr_channel_read(r, &g), 0);
  CHECK_EQ(g.version, 2u);
  CHECK_EQ(smr_channel_verify_range(r, &g, 2 * BS, BS), 0);
  CHECK_EQ(smr_channel_verify_range(r, &g, 3 * BS, 1), -EBADMSG);
  CHECK_EQ(smr_channel_verify(r, &g), -EBADMSG);
  smr_channel_release(r, &g);
  CHECK_EQ(smr_channel_reader_close(r), 0);
  CHECK_EQ(smr_channel_writer_close(w), 0);
  CHECK_EQ(smr_channel_unlink(chan.name), 0);
}

static void test_errors(void) {
  smr_channel_writer *w = writer(0);
  publish(w, 1000, 1, false);
  smr_channel_reader *r;
  smr_channel_guard g;
  CHECK_EQ(smr_channel_reader_open(chan.name, 0, &r), 0);
  CHECK_EQ(smr_channel_verify_range(r, &g, 0, 1), -EINVAL); /* no guard */
  CHECK_EQ(smr_channel_read(r, &g), 0);
  CHECK_EQ(smr_channel_verify_range(NULL, &g, 0, 1), -EINVAL);
  CHECK_EQ(smr_channel_verify_range(r, NULL, 0, 1), -EINVAL);
  CHECK_EQ(smr_channel_verify_range(r, &g, 1001, 0), -EINVAL);
  CHECK_EQ(smr_channel_verify_range(r, &g, 1000, 1), -EINVAL);
  CHECK_EQ(smr_channel_verify_range(r, &g, 1, UINT64_MAX), -EINVAL);
  CHECK_EQ(smr_channel_verify_range(r, &g, 1000, 0), 0);
  CHECK_EQ(smr_channel_verify_range(r, &g, 0, 1000), 0);
  smr_channel_release(r, &g);
  /* An empty payload: nothing to hash but the (empty) sums. */
  publish(w, 0, 2, false);
  CHECK_EQ(smr_channel_read(r, &g), 0);
  CHECK_EQ(g.size, 0u);
  CHECK_EQ(smr_channel_verify_range(r, &g, 0, 0), 0);
  CHECK_EQ(smr_channel_verify_range(r, &g, 0, 1), -EINVAL);
  CHECK_EQ(smr_channel_verify(r, &g), 0);
  smr_channel_release(r, &g);
  publish(w, 0, 3, true);
  CHECK_EQ(verifying_read(), 0);
  CHECK_EQ(smr_channel_reader_close(r), 0);
  CHECK_EQ(smr_channel_writer_close(w), 0);
  CHECK_EQ(smr_channel_unlink(chan.name), 0);
  /* No checksum stored: nothing to verify with. */
  w = writer(SMR_CHANNEL_NO_CHECKSUM);
  publish(w, PAYLOAD, 1, false);
  CHECK_EQ(range_once(0, 1), -ENOTSUP);
  CHECK_EQ(verify_once(), -ENOTSUP);
  CHECK_EQ(verifying_read(), 0); /* SMR_CHANNEL_VERIFY: nothing to check */
  CHECK_EQ(smr_channel_writer_close(w), 0);
  CHECK_EQ(smr_channel_unlink(chan.name), 0);
}

/* A reader that mapped a large version of a buffer keeps that mapping; the
 * writer later shrinks the file when it reuses the buffer for a small
 * payload.  A descriptor whose size fits the old mapping but not the file
 * must be refused (the reader checks the file's size for every version),
 * not read: its bytes past the end of the file would be SIGBUS. */
static void test_shrunk_file(void) {
  struct smr_channel_options o = {.buffers = 2, .readers = 2};
  smr_channel_writer *w;
  CHECK_EQ(smr_channel_writer_open(chan.name, &o, &w), 0);
  unsigned big = publish(w, 8u << 20, 1, false);
  smr_channel_reader *r;
  smr_channel_guard g;
  CHECK_EQ(smr_channel_reader_open(chan.name, 0, &r), 0);
  CHECK_EQ(smr_channel_read(r, &g), 0); /* maps 8 MiB of buffer `big` */
  CHECK_EQ(smr_channel_verify_range(r, &g, 0, 1), 0);
  smr_channel_release(r, &g);
  uint64_t v = 2;
  unsigned i;
  do /* until `big` is reused (and shrunk) */
    i = publish(w, 100, v++, false);
  while (i != big && v < 10);
  CHECK_EQ(i, big);
  char dp[160], sp[160];
  data_path(big, dp, sizeof dp);
  struct stat sb;
  CHECK_EQ(stat(dp, &sb), 0);
  CHECK((uint64_t)sb.st_size < (1u << 20)); /* shrunk */
  snprintf(sp, sizeof sp, "%s.smr", chan.name);
  uint64_t size = 4u << 20, at = SMR__CHANNEL_DESC_OFFSET +
                                 big * sizeof(struct smr__channel_desc) +
                                 offsetof(struct smr__channel_desc, size);
  int fd = open(sp, O_WRONLY);
  CHECK(fd >= 0);
  CHECK_EQ(pwrite(fd, &size, 8, (off_t)at), 8);
  CHECK_EQ(close(fd), 0);
  CHECK_EQ(smr_channel_read(r, &g), -EBADMSG);
  CHECK_EQ(smr_channel_reader_close(r), 0);
  CHECK_EQ(smr_channel_writer_close(w), 0);
  CHECK_EQ(smr_channel_unlink(chan.name), 0);
}

/* A guard of an earlier read is not the pinned view: verify_range refuses
 * it rather than verify bytes other than those it points at. */
static void test_stale_guard(void) {
  smr_channel_writer *w = writer(0);
  publish(w, PAYLOAD, 1, false);
  smr_channel_reader *r;
  smr_channel_guard g1, g2;
  CHECK_EQ(smr_channel_reader_open(chan.name, 0, &r), 0);
  CHECK_EQ(smr_channel_read(r, &g1), 0);
  smr_channel_release(r, &g1);
  publish(w, PAYLOAD, 2, true);
  CHECK_EQ(smr_channel_read(r, &g2), 0);
  CHECK_EQ(smr_channel_verify_range(r, &g1, 0, 1), -EINVAL);
  CHECK_EQ(smr_channel_verify_range(r, &g2, 0, 1), 0);
  smr_channel_guard g3 = g2;
  g3.size--;
  CHECK_EQ(smr_channel_verify_range(r, &g3, 0, 1), -EINVAL);
  smr_channel_release(r, &g2);
  CHECK_EQ(smr_channel_reader_close(r), 0);
  /* An empty payload built in place on a buffer never mapped (the sums of
   * nothing, no pointer arithmetic on a NULL map: UBSan checks it). */
  void *buf;
  CHECK_EQ(smr_channel_begin(w, 0, &buf), 0);
  CHECK_EQ(smr_channel_commit(w, 0, NULL), 0);
  CHECK_EQ(verifying_read(), 0);
  CHECK_EQ(smr_channel_writer_close(w), 0);
  CHECK_EQ(smr_channel_unlink(chan.name), 0);
}

int main(void) {
  test_chan_init(&chan);
  test_geometry();
  test_blocks(false);
  test_blocks(true);
  test_new_version();
  test_errors();
  test_shrunk_file();
  test_stale_guard();
  test_chan_done(&chan);
  puts("test_channel_sums: ok");
  return 0;
}
