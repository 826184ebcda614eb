/* SPDX-License-Identifier: MIT */
/* Smoke test: one domain and one cell end to end, single thread. */
#include <errno.h>
#include <stdlib.h>

#include "check.h"
#include "smr.h"

static int freed;
static void free_obj(struct smr_retired *r) {
  freed++;
  free(r);
}
static void free_val(void *v, void *ctx) {
  (void)ctx;
  freed++;
  free(v);
}

int main(void) {
  struct smr_fence_info fi;
  CHECK_EQ(smr_fence_init(&fi), 0);
  smr_domain *d;
  CHECK_EQ(smr_domain_create(NULL, &d), 0);
  smr_reader *r;
  CHECK_EQ(smr_reader_register(d, &r), 0);
  smr_enter(r);
  CHECK(smr_in_section(r));
  CHECK_EQ(smr_synchronize(d), -EDEADLK);
  smr_leave(r);
  struct smr_retired *o = malloc(sizeof *o);
  CHECK_EQ(smr_retire(d, o, free_obj), 0);
  CHECK_EQ(smr_garbage_count(d), 1);
  CHECK_EQ(smr_barrier(d), 0);
  CHECK_EQ(freed, 1);
  CHECK_EQ(smr_domain_destroy(d), -EBUSY);
  CHECK_EQ(smr_reader_unregister(r), 0);
  CHECK_EQ(smr_domain_destroy(d), 0);

  freed = 0;
  smr_swap *c;
  CHECK_EQ(smr_swap_create(malloc(8), free_val, NULL, &c), 0);
  smr_swap_reader *sr;
  CHECK_EQ(smr_swap_reader_create(c, &sr), 0);
  smr_swap_guard g;
  void *v0 = smr_swap_read(sr, &g);
  CHECK(v0 == smr_swap_get(c));
  for (int i = 0; i < 1000; i++)
    CHECK_EQ(smr_swap_store(c, malloc(8)), 0);
  CHECK(g.value == v0);
  CHECK(smr_swap_garbage_count(c) <= 256 + 1);
  smr_swap_guard_release(&g);
  CHECK_EQ(smr_swap_version(c), 1000);
  CHECK_EQ(smr_swap_reader_destroy(sr), 0);
  CHECK_EQ(smr_swap_destroy(c), 0);
  CHECK_EQ(freed, 1001);
  return 0;
}
