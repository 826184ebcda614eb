/* SPDX-License-Identifier: MIT */
/* SMR_NO_INLINE: defined before the headers, it makes the plain names of
 * the inline fast paths (smr_enter, smr_swap_read, smr_channel_read ...)
 * name their exported twins (docs/DESIGN.md, "Conventions", FFI).  Checks
 * that they are the twins (same address), that code written against the
 * plain names, the typed and scoped swap macros included, works unchanged,
 * and the guard accessors and layout functions against the fields. */
#define _POSIX_C_SOURCE 200809L
#define SMR_NO_INLINE
#include "smr.h"

#include <errno.h>
#include <stdalign.h>
#include <stdlib.h>
#include <unistd.h>

#include "channel_util.h"
#include "check.h"

#ifndef smr_enter
#error "SMR_NO_INLINE: smr_enter is not a macro"
#endif

struct item {
  int key;
  struct smr_retired retired;
};

SMR_SWAP_TYPED(item_cell, struct item)

static int freed;
static void free_item(struct smr_retired *rt) {
  struct item *it = SMR_CONTAINER_OF(rt, struct item, retired);
  CHECK_EQ(it->key, 7);
  freed++;
  free(it);
}

static void test_epoch(void) {
  /* The plain names are the exported functions. */
  void (*enter)(smr_reader *) = smr_enter;
  void (*leave)(smr_reader *) = smr_leave;
  CHECK(enter == smr_enter_ffi);
  CHECK(leave == smr_leave_ffi);

  smr_domain *d;
  CHECK_EQ(smr_domain_create(NULL, &d), 0);
  smr_reader *r;
  CHECK_EQ(smr_reader_register(d, &r), 0);
  SMR_ATOMIC(struct item *) head = NULL;
  struct item *it = malloc(sizeof *it);
  CHECK(it != NULL);
  it->key = 7;
  SMR_PUBLISH(&head, it);
  smr_enter(r);
  CHECK(smr_in_section(r));
  struct item *p = SMR_PROTECT(&head);
  CHECK_EQ(p->key, 7);
  CHECK_EQ(smr_synchronize(d), -EDEADLK);
  smr_leave(r);
  CHECK(!smr_in_section(r));
  SMR_PUBLISH(&head, NULL);
  CHECK_EQ(smr_retire(d, &p->retired, free_item), 0);
  CHECK_EQ(smr_barrier(d), 0);
  CHECK_EQ(freed, 1);
  CHECK_EQ(smr_reader_unregister(r), 0);
  CHECK_EQ(smr_domain_destroy(d), 0);
}

static void test_swap(void) {
  void *(*read)(smr_swap_reader *, smr_swap_guard *) = smr_swap_read;
  CHECK(read == smr_swap_read_ffi);
  CHECK_EQ(smr_swap_guard_sizeof(), sizeof(smr_swap_guard));
  CHECK_EQ(smr_swap_guard_alignof(), alignof(smr_swap_guard));

  static struct item a = {.key = 1}, b = {.key = 2};
  smr_swap *cell;
  CHECK_EQ(smr_swap_create(&a, NULL, NULL, &cell), 0);
  smr_swap_reader *r;
  CHECK_EQ(smr_swap_reader_create(cell, &r), 0);
  smr_swap_guard g;
  const struct item *v = item_cell_read(r, &g);
  CHECK(v == &a);
  CHECK(smr_swap_guard_value(&g) == &a);
  CHECK(smr_swap_guard_value(&g) == g.value);
  CHECK_EQ(smr_swap_guard_version(&g), 0);
  CHECK_EQ(item_cell_store(cell, &b), 0);
  smr_swap_guard_release(&g);
  {
#ifdef SMR_SWAP_SCOPED_READ
    SMR_SWAP_SCOPED_READ(const struct item *, w, r);
    CHECK(w == &b);
    CHECK(smr_swap_reader_is_pinned(r));
#endif
  }
  CHECK(!smr_swap_reader_is_pinned(r));
  CHECK_EQ(smr_swap_reader_destroy(r), 0);
  CHECK_EQ(smr_swap_destroy(cell), 0);
}

static void test_channel(void) {
  int (*read)(smr_channel_reader *, smr_channel_guard *) = smr_channel_read;
  CHECK(read == smr_channel_read_ffi);
  CHECK_EQ(smr_channel_guard_sizeof(), sizeof(smr_channel_guard));
  CHECK_EQ(smr_channel_guard_alignof(), alignof(smr_channel_guard));

  struct test_chan c;
  test_chan_init(&c);
  smr_channel_writer *w;
  CHECK_EQ(smr_channel_writer_open(c.name, NULL, &w), 0);
  CHECK_EQ(smr_channel_publish(w, "abc", 3, NULL), 0);
  smr_channel_reader *r;
  CHECK_EQ(smr_channel_reader_open(c.name, 0, &r), 0);
  smr_channel_guard g;
  for (int i = 0; i < 2; i++) {
    CHECK_EQ(smr_channel_read(r, &g), 0);
    CHECK(smr_channel_guard_data(&g) == g.data);
    CHECK_EQ(smr_channel_guard_size(&g), 3);
    CHECK(memcmp(smr_channel_guard_data(&g), "abc", 3) == 0);
    CHECK_EQ(smr_channel_guard_version(&g), 1);
    CHECK_EQ(smr_channel_guard_switched(&g), i == 0);
    smr_channel_release(r, &g);
  }
  CHECK_EQ(smr_channel_reader_close(r), 0);
  CHECK_EQ(smr_channel_writer_close(w), 0);
  test_chan_done(&c);
}

int main(void) {
  test_epoch();
  test_swap();
  test_channel();
  printf("test_no_inline: plain names are the exported twins\n");
  return 0;
}
