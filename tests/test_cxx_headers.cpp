// C++ header check: every public header compiles as C++11 (with the
// project's -Wall -Wextra -Wpedantic -Werror), and the inline read paths,
// instantiated here with std::atomic, interoperate with the C library (same
// layout, same protocol): a value published by the C code is read through
// the C++-compiled smr_swap_read, and the C grace-period code sees the
// C++-compiled smr_enter/smr_leave.
#include "smr.h"
#include "smr/common.h"
#include "smr/epoch.h"
#include "smr/swap.h"
#include "smr/version.h"

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "check.h"

struct cfg {
  int answer;
};

// The typed wrappers must be usable from C++ too.
SMR_SWAP_TYPED(cfg_cell, cfg)

static int destroyed;
static void destroy_cfg(void *v, void *) {
  destroyed++;
  delete static_cast<cfg *>(v);
}

int main() {
  CHECK_EQ(smr_version(), SMR_VERSION_HEX);
  CHECK(std::strlen(smr_version_string()) >= 5);
  CHECK(smr_strerror(-EINVAL) != nullptr);

  // std::atomic must have the layout the C library expects.
  static_assert(sizeof(smr_reader) == sizeof(uint64_t), "reader head layout");
  static_assert(sizeof(SMR_ATOMIC(smr_swap_node *)) == sizeof(void *),
                "swap slot layout");

  struct smr_fence_info fi;
  CHECK_EQ(smr_fence_init(&fi), 0);

  // Epoch domain: C++-compiled enter/leave, C-compiled grace periods.
  smr_domain *d = nullptr;
  CHECK_EQ(smr_domain_create(nullptr, &d), 0);
  smr_reader *r = nullptr;
  CHECK_EQ(smr_reader_register(d, &r), 0);
  CHECK(!smr_in_section(r));
  smr_enter(r);
  CHECK(smr_in_section(r));
  smr_enter(r); // nested: the out-of-line slow path
  smr_leave(r);
  CHECK(smr_in_section(r));
  // The library sees the section the inline code opened.
  CHECK_EQ(smr_synchronize(d), -EDEADLK);
  smr_leave(r);
  CHECK(!smr_in_section(r));
  CHECK_EQ(smr_synchronize(d), 0);
  CHECK_EQ(smr_reader_unregister(r), 0);
  CHECK_EQ(smr_domain_destroy(d), 0);

  // Swap cell: C++-compiled read path on C-published values.
  smr_swap *c = nullptr;
  CHECK_EQ(smr_swap_create(new cfg{1}, destroy_cfg, nullptr, &c), 0);
  smr_swap_reader *sr = nullptr;
  CHECK_EQ(smr_swap_reader_create(c, &sr), 0);
  smr_swap_guard g;
  const cfg *v = cfg_cell_read(sr, &g);
  CHECK(v != nullptr);
  CHECK_EQ(v->answer, 1);
  CHECK_EQ(smr_swap_guard_version(&g), 0);
  CHECK(smr_swap_reader_is_pinned(sr));
  CHECK_EQ(cfg_cell_store(c, new cfg{42}), 0);
  CHECK_EQ(smr_swap_collect(c), 0); // previous value, and pinned anyway
  CHECK_EQ(v->answer, 1);           // still pinned by g
  smr_swap_guard_release(&g);
  CHECK(!smr_swap_reader_is_pinned(sr));
  const cfg *w = static_cast<const cfg *>(smr_swap_read(sr, &g));
  CHECK_EQ(w->answer, 42);
  CHECK_EQ(smr_swap_guard_version(&g), 1);
  smr_swap_guard_release(&g);
  CHECK_EQ(cfg_cell_get(c)->answer, 42);
  // The cell's own reader (the writer's load).
  const cfg *x = cfg_cell_load(c, &g);
  CHECK(x == w);
  smr_swap_guard_release(&g);
  CHECK_EQ(smr_swap_reader_destroy(sr), 0);
  CHECK_EQ(smr_swap_destroy(c), 0);
  CHECK_EQ(destroyed, 2);
  std::printf("test_cxx_headers: C++%ld, fence mode %d\n",
              static_cast<long>(__cplusplus), static_cast<int>(fi.mode));
  return 0;
}
