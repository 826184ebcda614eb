/* SPDX-License-Identifier: MIT */
/* Seed corpus for fuzz_table, in its input format (fuzz_table.h).
 *
 *   fuzz_table_seed OUTDIR        writes OUTDIR/open-* and OUTDIR/build-*
 *
 * OPEN seeds: valid tables made by the builder: empty (one bucket and
 * eight), one entry, the empty key and empty values, binary keys with NULs,
 * duplicates (replaced records left in the bytes), 50 entries of random
 * lengths, 200 short keys in a table sized exactly (long probe runs), a
 * few long keys and values.  BUILD seeds: one record list with duplicates
 * and the empty key, under every max_entries and capacity choice, with and
 * without the mutation; and a list of 300 one-byte keys (many
 * duplicates).  Deterministic (a fixed splitmix64 seed); a few KiB each. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz_table.h"
#include "smr/table.h"
#include "table_layout.h"

static const char *g_out;
static uint64_t g_rng = 0x243f6a8885a308d3ull;

static uint64_t rnd(void) {
  uint64_t z = (g_rng += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

static void die(const char *what) {
  fprintf(stderr, "fuzz_table_seed: %s: %s\n", what, strerror(errno));
  exit(1);
}

static void put(const char *name, const void *head, size_t hn, const void *body,
                size_t bn) {
  char path[4096];
  snprintf(path, sizeof path, "%s/%s", g_out, name);
  FILE *f = fopen(path, "wb");
  if (!f)
    die(path);
  if ((hn && fwrite(head, 1, hn, f) != hn) ||
      (bn && fwrite(body, 1, bn, f) != bn) || fclose(f) != 0)
    die(path);
}

/* One entry of a seed list. */
struct kv {
  unsigned char k[256], v[256];
  size_t kl, vl;
};

static void rand_bytes(unsigned char *p, size_t n, int binary) {
  for (size_t i = 0; i < n; i++)
    p[i] = binary ? (unsigned char)rnd() : (unsigned char)('a' + rnd() % 26);
}

/* A table of the entries, built with max_entries (0: the entry count),
 * written as an OPEN seed. */
static void open_seed(const char *name, const struct kv *e, size_t n,
                      uint64_t max_entries) {
  uint64_t bytes = 0;
  for (size_t i = 0; i < n; i++)
    bytes += e[i].kl + e[i].vl;
  if (!max_entries)
    max_entries = n;
  /* Every add takes a record, duplicates too: the bound counts the adds. */
  uint64_t cap = smr_table_size_bound(max_entries > n ? max_entries : n, bytes);
  uint64_t *buf = calloc((size_t)cap / 8 + 1, 8);
  if (!buf)
    die("calloc");
  smr_table_builder b;
  uint64_t size = 0;
  int rc = smr_table_build_begin(&b, buf, cap, max_entries);
  for (size_t i = 0; i < n && rc == 0; i++)
    rc = smr_table_build_add(&b, e[i].k, e[i].kl, e[i].v, e[i].vl);
  if (rc == 0)
    rc = smr_table_build_end(&b, &size);
  if (rc != 0) {
    errno = -rc;
    die(name);
  }
  unsigned char mode = 0; /* OPEN */
  put(name, &mode, 1, buf, (size_t)size);
  free(buf);
}

/* The entries as BUILD records (lengths cut to one byte). */
static size_t records(unsigned char *out, const struct kv *e, size_t n) {
  size_t p = 0;
  for (size_t i = 0; i < n; i++) {
    out[p++] = (unsigned char)e[i].kl;
    memcpy(out + p, e[i].k, e[i].kl);
    p += e[i].kl;
    out[p++] = (unsigned char)e[i].vl;
    memcpy(out + p, e[i].v, e[i].vl);
    p += e[i].vl;
  }
  return p;
}

static struct kv g_e[300];

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: fuzz_table_seed OUTDIR\n");
    return 2;
  }
  g_out = argv[1];
  if (mkdir(g_out, 0755) != 0 && errno != EEXIST)
    die(g_out);
  char name[64];

  open_seed("open-empty", g_e, 0, 0);
  open_seed("open-empty-8", g_e, 0, 5);

  memset(g_e, 0, sizeof g_e);
  g_e[0].k[0] = 'a';
  g_e[0].kl = 1;
  g_e[0].v[0] = '1';
  g_e[0].vl = 1;
  open_seed("open-one", g_e, 1, 0);

  /* The empty key, an empty value, a key that is a prefix of another. */
  memset(g_e, 0, sizeof g_e);
  g_e[0].vl = 3;
  memcpy(g_e[0].v, "abc", 3);
  memcpy(g_e[1].k, "ab", 2);
  g_e[1].kl = 2;
  memcpy(g_e[2].k, "abc", 3);
  g_e[2].kl = 3;
  memcpy(g_e[2].v, "xyz", 3);
  g_e[2].vl = 3;
  open_seed("open-edges", g_e, 3, 0);

  for (size_t i = 0; i < 10; i++) {
    g_e[i].kl = 1 + rnd() % 12;
    rand_bytes(g_e[i].k, g_e[i].kl, 1);
    g_e[i].k[0] = (unsigned char)i; /* distinct */
    g_e[i].k[g_e[i].kl / 2] = 0;
    g_e[i].vl = rnd() % 12;
    rand_bytes(g_e[i].v, g_e[i].vl, 1);
  }
  open_seed("open-binary", g_e, 10, 0);

  /* Duplicates: a, b, a, c, b, a (3 keys, 6 records). */
  const char *dup = "abacba";
  for (size_t i = 0; i < 6; i++) {
    g_e[i].k[0] = (unsigned char)dup[i];
    g_e[i].kl = 1;
    g_e[i].vl = 1 + i;
    memset(g_e[i].v, '0' + (int)i, g_e[i].vl);
  }
  open_seed("open-dups", g_e, 6, 3);

  for (size_t i = 0; i < 50; i++) {
    g_e[i].kl = 2 + rnd() % 20;
    rand_bytes(g_e[i].k, g_e[i].kl, 0);
    g_e[i].k[0] = (unsigned char)('A' + i % 26);
    g_e[i].k[1] = (unsigned char)('A' + i / 26);
    g_e[i].vl = rnd() % 30;
    rand_bytes(g_e[i].v, g_e[i].vl, 0);
  }
  open_seed("open-50", g_e, 50, 0);

  for (size_t i = 0; i < 200; i++) {
    g_e[i].kl = 2;
    g_e[i].k[0] = (unsigned char)i;
    g_e[i].k[1] = (unsigned char)(i >> 8);
    g_e[i].vl = 1;
    g_e[i].v[0] = (unsigned char)i;
  }
  open_seed("open-200", g_e, 200, 0);

  for (size_t i = 0; i < 8; i++) {
    g_e[i].kl = 100 + rnd() % 150;
    rand_bytes(g_e[i].k, g_e[i].kl, 1);
    g_e[i].k[0] = (unsigned char)i;
    g_e[i].vl = 100 + rnd() % 150;
    rand_bytes(g_e[i].v, g_e[i].vl, 1);
  }
  open_seed("open-long", g_e, 8, 0);

  /* BUILD: 24 records over 16 keys (8 repeated), the empty key among
   * them. */
  unsigned char body[65536];
  for (size_t i = 0; i < 24; i++) {
    if (i < 16) {
      g_e[i].kl = i == 5 ? 0 : 1 + rnd() % 10;
      rand_bytes(g_e[i].k, g_e[i].kl, 0);
      if (g_e[i].kl)
        g_e[i].k[0] = (unsigned char)('a' + i); /* distinct */
    } else { /* record i repeats the key of record i - 16 */
      g_e[i].kl = g_e[i - 16].kl;
      memcpy(g_e[i].k, g_e[i - 16].k, g_e[i].kl);
    }
    g_e[i].vl = rnd() % 20;
    rand_bytes(g_e[i].v, g_e[i].vl, 0);
  }
  size_t bn = records(body, g_e, 24);
  for (unsigned m = 0; m < 4; m++) {
    for (unsigned c = 0; c < 4; c++) {
      for (unsigned mut = 0; mut < 2; mut++) {
        unsigned char head[FZT_BUILD_HEAD];
        head[0] = (unsigned char)(FZT_BUILD | m << FZT_MAX_SHIFT |
                                  c << FZT_CAP_SHIFT | (mut ? FZT_MUTATE : 0));
        head[1] = (unsigned char)(c == FZT_CAP_TINY ? 40 : 3 + m);
        /* The mutant's bytes: bucket m * 4 + c (or past the buckets). */
        uint16_t off = (uint16_t)(SMR__TABLE_HEADER_SIZE +
                                  SMR__TABLE_BUCKET_SIZE * (m * 4 + c));
        memcpy(head + 2, &off, 2);
        snprintf(name, sizeof name, "build-m%u-c%u%s", m, c,
                 mut ? "-mutate" : "");
        put(name, head, sizeof head, body, bn);
      }
    }
  }
  /* 300 one-byte keys over 40 values: many duplicates. */
  for (size_t i = 0; i < 300; i++) {
    g_e[i].kl = 1;
    g_e[i].k[0] = (unsigned char)(rnd() % 40);
    g_e[i].vl = 1 + rnd() % 4;
    rand_bytes(g_e[i].v, g_e[i].vl, 1);
  }
  bn = records(body, g_e, 300);
  unsigned char head[FZT_BUILD_HEAD] = {FZT_BUILD | FZT_MUTATE, 5, 0, 1};
  put("build-many-dups", head, sizeof head, body, bn);
  return 0;
}
