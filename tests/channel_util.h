/* SPDX-License-Identifier: MIT */
/* Helpers shared by the channel tests: a private channel directory under
 * /dev/shm and a payload pattern that names its version, so a reader can
 * tell a payload of another version (a reused buffer) from the right one. */
#ifndef SMR_TEST_CHANNEL_UTIL_H
#define SMR_TEST_CHANNEL_UTIL_H

#define _GNU_SOURCE
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "smr/channel.h"

struct test_chan {
  char dir[64];
  char name[96];
};

/* mkdtemp under /dev/shm; name = dir + "/ch". */
static inline void test_chan_init(struct test_chan *c) {
  snprintf(c->dir, sizeof c->dir, "/dev/shm/smr-test-XXXXXX");
  CHECK(mkdtemp(c->dir) != NULL);
  snprintf(c->name, sizeof c->name, "%s/ch", c->dir);
}

static inline void test_chan_done(struct test_chan *c) {
  int r = smr_channel_unlink(c->name);
  CHECK(r == 0 || r == -ENOENT);
  CHECK(rmdir(c->dir) == 0);
}

static inline uint8_t pattern_byte(uint64_t v, uint64_t i) {
  return (uint8_t)(v * 131u + i * 7u + (i >> 8));
}

/* Payload for version v: the version in the first 8 bytes, then bytes that
 * depend on v and the position. */
static inline void pattern_fill(void *buf, uint64_t size, uint64_t v) {
  uint8_t *p = buf;
  for (uint64_t i = 0; i < size; i++)
    p[i] = pattern_byte(v, i);
  if (size >= 8)
    memcpy(p, &v, 8);
}

/* Does data hold the payload of version v?  Checks every byte. */
static inline bool pattern_check(const void *data, uint64_t size, uint64_t v) {
  const uint8_t *p = data;
  uint64_t i = 0;
  if (size >= 8) {
    uint64_t got;
    memcpy(&got, p, 8);
    if (got != v)
      return false;
    i = 8;
  }
  for (; i < size; i++)
    if (p[i] != pattern_byte(v, i))
      return false;
  return true;
}

/* A size that varies with v between 0 and max (growth and shrink). */
static inline uint64_t pattern_size(uint64_t v, uint64_t max) {
  static const uint64_t sizes[] = {64, 1, 4096, 100000, 8, 0, 65536, 3000};
  uint64_t s = sizes[v % (sizeof sizes / sizeof sizes[0])];
  if (v % 13 == 0)
    s = max;
  return s > max ? max : s;
}

#endif
