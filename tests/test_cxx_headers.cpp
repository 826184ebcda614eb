/* SPDX-License-Identifier: MIT */
// C++ header check: every public header compiles as C++11 (with the
// project's -Wall -Wextra -Wpedantic -Werror), and the inline read paths,
// instantiated here with std::atomic, interoperate with the C library (same
// layout, same protocol): a value published by the C code is read through
// the C++-compiled smr_swap_read, and the C grace-period code sees the
// C++-compiled smr_enter/smr_leave.  Then the RAII classes of smr.hpp run
// against the library (sections, swap and channel guards, moves), and
// SMR_PUBLISH / SMR_PROTECT / SMR_CONTAINER_OF work on std::atomic fields.
#include "smr.h"
#include "smr.hpp"
#include "smr/common.h"
#include "smr/epoch.h"
#include "smr/swap.h"
#include "smr/version.h"

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <utility>

#include <unistd.h>

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

struct item {
  int key;
  smr_retired retired;
};

static int items_freed;
static void free_item(smr_retired *rt) {
  item *it = SMR_CONTAINER_OF(rt, item, retired);
  CHECK_EQ(it->key, 5);
  items_freed++;
  delete it;
}

// smr.hpp: epoch sections, SMR_PUBLISH / SMR_PROTECT on std::atomic.
static void test_raii_epoch() {
  smr_domain *d = nullptr;
  CHECK_EQ(smr_domain_create(nullptr, &d), 0);
  {
    smr::epoch_reader er(d);
    CHECK(er);
    CHECK_EQ(er.error(), 0);
    smr_reader *r = er.get();
    SMR_ATOMIC(item *) head(nullptr);
    item *fresh = new item();
    fresh->key = 5;
    SMR_PUBLISH(&head, fresh);
    CHECK(!smr_in_section(r));
    {
      smr::read_section s(r);
      CHECK(smr_in_section(r));
      item *p = SMR_PROTECT(&head);
      CHECK_EQ(p->key, 5);
      {
        smr::read_section nested(r);
        smr::read_section moved(std::move(nested));
        CHECK(nested.reader() == nullptr);
        CHECK(moved.reader() == r);
      }
      CHECK(smr_in_section(r)); // the moved-from nested one left nothing
      CHECK_EQ(smr_synchronize(d), -EDEADLK);
      SMR_PUBLISH(&head, nullptr); // unlink, retire: the section holds it
      CHECK_EQ(smr_retire(d, &p->retired, free_item), 0);
      CHECK_EQ(smr_collect(d), 0);
      CHECK_EQ(items_freed, 0);
      CHECK_EQ(p->key, 5);
    }
    CHECK(!smr_in_section(r));
    CHECK_EQ(smr_barrier(d), 0);
    CHECK_EQ(items_freed, 1);
    smr::epoch_reader moved(std::move(er));
    CHECK(!er);
    CHECK(moved.get() == r);
  } // unregisters
  CHECK_EQ(smr_domain_destroy(d), 0);
}

// smr.hpp: swap reader and guards.
static void test_raii_swap() {
  static cfg one{1}, two{2};
  smr_swap *c = nullptr;
  CHECK_EQ(smr_swap_create(&one, nullptr, nullptr, &c), 0);
  {
    smr::swap_reader sr(c);
    CHECK(sr);
    CHECK_EQ(sr.error(), 0);
    {
      smr::swap_guard<cfg> g(sr.get());
      CHECK(g.held());
      CHECK(g.get() == &one);
      CHECK_EQ(g->answer, 1);
      CHECK_EQ(g.version(), 0);
      CHECK(smr_swap_reader_is_pinned(sr.get()));
      CHECK_EQ(smr_swap_compare_exchange(c, &g.raw(), &two), 0);
      CHECK_EQ(g->answer, 1); // still pinned
      smr::swap_guard<cfg> moved(std::move(g));
      CHECK(!g.held());
      CHECK(moved.held());
      CHECK_EQ(moved->answer, 1);
      g.release(); // moved from: nothing
      CHECK(smr_swap_reader_is_pinned(sr.get()));
    } // moved released
    CHECK(!smr_swap_reader_is_pinned(sr.get()));
    {
      smr::swap_guard<> g(sr.get()); // untyped
      CHECK(g.get() == &two);
      CHECK_EQ(g.version(), 1);
      g.release();
      CHECK(!g.held());
      CHECK(!smr_swap_reader_is_pinned(sr.get()));
      g.release(); // idempotent
    }
    smr::swap_reader moved(std::move(sr));
    CHECK(!sr);
    CHECK(moved);
    CHECK_EQ(sr.error(), 0);
  } // moved destroys the handle, sr nothing
  CHECK_EQ(smr_swap_destroy(c), 0);
}

// smr.hpp: channel guards.
static void test_raii_channel() {
  char dir[] = "/dev/shm/smr-cxx-XXXXXX";
  if (!mkdtemp(dir)) {
    std::snprintf(dir, sizeof dir, "/tmp/smr-cxx-XXXXXX");
    CHECK(mkdtemp(dir) != nullptr);
  }
  std::string name = std::string(dir) + "/ch";
  smr_channel_writer *w = nullptr;
  CHECK_EQ(smr_channel_writer_open(name.c_str(), nullptr, &w), 0);
  smr_channel_reader *r = nullptr;
  CHECK_EQ(smr_channel_reader_open(name.c_str(), 0, &r), 0);
  {
    smr::channel_guard g(r);
    CHECK(!g);
    CHECK_EQ(g.error(), -ENODATA);
  }
  CHECK_EQ(smr_channel_publish(w, "hello", 5, nullptr), 0);
  {
    smr::channel_guard g(r);
    CHECK(g);
    CHECK_EQ(g.error(), 0);
    CHECK_EQ(g.size(), 5);
    CHECK(std::memcmp(g.data(), "hello", 5) == 0);
    CHECK_EQ(g.version(), 1);
    CHECK(g.switched());
    smr::channel_guard moved(std::move(g));
    CHECK(!g);
    CHECK(moved);
    // One guard per handle: a second read while held is refused.
    smr::channel_guard second(r);
    CHECK_EQ(second.error(), -EBUSY);
  } // released
  {
    smr::channel_guard g(r);
    CHECK(g);
    CHECK(!g.switched());
    CHECK_EQ(g.version(), 1);
    g.release();
    CHECK(!g);
  }
  CHECK_EQ(smr_channel_reader_close(r), 0);
  CHECK_EQ(smr_channel_writer_close(w), 0);
  CHECK_EQ(smr_channel_unlink(name.c_str()), 0);
  CHECK_EQ(rmdir(dir), 0);
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

  test_raii_epoch();
  test_raii_swap();
  test_raii_channel();
  std::printf("test_cxx_headers: C++%ld, fence mode %d\n",
              static_cast<long>(__cplusplus), static_cast<int>(fi.mode));
  return 0;
}
