/* SPDX-License-Identifier: MIT */
/* Harness of README.md's snippet "table": the row type and use(), then a
 * main that publishes a table through a channel and through a swap cell
 * and looks keys up in both. */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct row {
  const char *key, *val;
  size_t klen, vlen;
};
static char last[32];
static void use(const void *data, size_t size) {
  snprintf(last, sizeof last, "%.*s", (int)size, (const char *)data);
}

#include SMR_SNIPPET

static const struct row rows[] = {
    {"user:1", "plan=pro", 6, 8},
    {"user:42", "plan=free", 7, 9},
    {"user:1", "plan=team", 6, 9}, /* last wins */
};
enum { NROWS = 3, BYTES = 6 + 8 + 7 + 9 + 6 + 9 };

static int via_channel(const char *name) {
  smr_channel_writer *w;
  smr_channel_reader *r;
  int rc = smr_channel_writer_open(name, NULL, &w);
  if (rc != 0)
    return rc;
  rc = publish_table(w, rows, NROWS, BYTES);
  if (rc == 0)
    rc = smr_channel_reader_open(name, 0, &r);
  if (rc == 0) {
    struct view vw = {.version = 0};
    if ((rc = lookup(r, &vw, "user:42", 7)) == 0 && strcmp(last, "plan=free"))
      rc = -1;
    if (rc == 0 && (rc = lookup(r, &vw, "user:1", 6)) == 0 &&
        strcmp(last, "plan=team"))
      rc = -1;
    if (rc == 0 && lookup(r, &vw, "user:7", 6) != -ENOENT)
      rc = -1;
    smr_channel_reader_close(r);
  }
  smr_channel_writer_close(w);
  return rc;
}

static int via_swap(void) {
  struct tbl *x = malloc(sizeof *x);
  uint64_t cap = smr_table_size_bound(NROWS, BYTES), size;
  if (!x || !(x->bytes = aligned_alloc(8, (cap + 7) / 8 * 8)))
    return -ENOMEM;
  smr_table_builder b;
  smr_table_build_begin(&b, x->bytes, cap, NROWS);
  for (int i = 0; i < NROWS; i++)
    smr_table_build_add(&b, rows[i].key, rows[i].klen, rows[i].val,
                        rows[i].vlen);
  int rc = smr_table_build_end(&b, &size);
  if (rc == 0)
    rc = smr_table_open(&x->t, x->bytes, size);
  smr_swap *cell;
  smr_swap_reader *r;
  if (rc == 0)
    rc = smr_swap_create(x, tbl_free, NULL, &cell);
  if (rc != 0)
    return rc;
  if ((rc = smr_swap_reader_create(cell, &r)) == 0) {
    if ((rc = lookup_local(r, "user:1", 6)) == 0 && strcmp(last, "plan=team"))
      rc = -1;
    smr_swap_reader_destroy(r);
  }
  int rc2 = smr_swap_destroy(cell);
  return rc ? rc : rc2;
}

int main(void) {
  char dir[] = "/tmp/smr-snippet-XXXXXX", name[64];
  if (!mkdtemp(dir))
    return 1;
  snprintf(name, sizeof name, "%s/table", dir);
  int rc = via_channel(name);
  if (rc == 0)
    rc = via_swap();
  if (rc != 0)
    fprintf(stderr, "table snippet: %d %s\n", rc, smr_strerror(rc));
  smr_channel_unlink(name);
  rmdir(dir);
  return rc == 0 ? 0 : 1;
}
