/* SPDX-License-Identifier: MIT */
// libsmr C++ header: RAII over the C API (C++11, no exceptions needed).
//
//   smr::read_section s(reader);            // smr_enter ... smr_leave
//   smr::swap_reader sr(cell);              // smr_swap_reader_create/destroy
//   smr::swap_guard<config> g(sr.get());    // smr_swap_read ... release
//   use(g->field);
//   smr::channel_guard cg(channel_reader);  // smr_channel_read ... release
//   if (cg) use(cg.data(), cg.size());
//
// Every class is non-copyable and movable (a moved-from object owns
// nothing), and wraps the inline fast paths of the C headers, so it costs
// what the C calls cost.  The C contracts apply unchanged: a guard or
// section belongs to the thread that took it, guards of one swap reader are
// released in reverse order of their reads (destroy them in reverse order:
// automatic variables of one scope do), a channel handle holds at most one
// guard.  Constructors that can fail (the handles; a channel read) do not
// throw: test the object (explicit operator bool) or error().
#ifndef SMR_HPP
#define SMR_HPP

#include "smr.h"

#include <cstdint>

namespace smr {

// An epoch read section on a registered reader record: smr_enter in the
// constructor, smr_leave in the destructor.  Nestable (sections of one
// record may overlap when they are destroyed in reverse order).  Owning
// thread of the record only.
class read_section {
public:
  explicit read_section(smr_reader *r) noexcept : r_(r) {
    smr_enter(r_);
  }
  ~read_section() {
    if (r_)
      smr_leave(r_);
  }
  read_section(read_section &&o) noexcept : r_(o.r_) {
    o.r_ = nullptr;
  }
  read_section(const read_section &) = delete;
  read_section &operator=(const read_section &) = delete;
  read_section &operator=(read_section &&) = delete;
  // The record, or nullptr when moved from.
  smr_reader *reader() const noexcept {
    return r_;
  }

private:
  smr_reader *r_;
};

namespace detail {
// A handle the library creates in Open(owner, &handle) and frees in
// Close(handle) (free-like: Close(nullptr) is 0).
template <typename Owner, typename Handle, int (*Open)(Owner *, Handle **),
          int (*Close)(Handle *)>
class handle {
public:
  explicit handle(Owner *o) noexcept : h_(nullptr), err_(Open(o, &h_)) {}
  ~handle() {
    Close(h_);
  }
  handle(handle &&o) noexcept : h_(o.h_), err_(o.err_) {
    o.h_ = nullptr;
  }
  handle(const handle &) = delete;
  handle &operator=(const handle &) = delete;
  handle &operator=(handle &&) = delete;
  // 0, or the negative errno the create call returned.
  int error() const noexcept {
    return err_;
  }
  // Whether it owns a handle (false after a failed create or a move).
  explicit operator bool() const noexcept {
    return h_ != nullptr;
  }
  Handle *get() const noexcept {
    return h_;
  }

private:
  Handle *h_;
  int err_;
};
} // namespace detail

// A reader record registered in a domain for the calling thread
// (smr_reader_register in the constructor, smr_reader_unregister in the
// destructor: end every read_section on it first).  Owning thread only.
typedef detail::handle<smr_domain, smr_reader, smr_reader_register,
                       smr_reader_unregister>
    epoch_reader;

// A swap cell reader handle (smr_swap_reader_create in the constructor,
// smr_swap_reader_destroy in the destructor: release every guard taken
// through it first).
typedef detail::handle<smr_swap, smr_swap_reader, smr_swap_reader_create,
                       smr_swap_reader_destroy>
    swap_reader;

// A read of a swap cell: smr_swap_read in the constructor (it cannot fail),
// smr_swap_guard_release in the destructor or release().  T is the type of
// the published values (void: untyped).
template <typename T = void> class swap_guard {
public:
  explicit swap_guard(smr_swap_reader *r) noexcept
      : v_(static_cast<const T *>(smr_swap_read(r, &g_))), held_(true) {}
  ~swap_guard() {
    release();
  }
  swap_guard(swap_guard &&o) noexcept : g_(o.g_), v_(o.v_), held_(o.held_) {
    o.held_ = false;
  }
  swap_guard(const swap_guard &) = delete;
  swap_guard &operator=(const swap_guard &) = delete;
  swap_guard &operator=(swap_guard &&) = delete;
  // Release now (idempotent); get() then still returns the pointer, which
  // must no longer be dereferenced.
  void release() noexcept {
    if (held_) {
      held_ = false;
      smr_swap_guard_release(&g_);
    }
  }
  bool held() const noexcept {
    return held_;
  }
  // The pinned value (may be nullptr: the cell published NULL).
  const T *get() const noexcept {
    return v_;
  }
  const T *operator->() const noexcept {
    return v_;
  }
  // Version of the pinned value (smr_swap_guard_version).
  uint64_t version() const noexcept {
    return smr_swap_guard_version(&g_);
  }
  // The C guard, e.g. for smr_swap_compare_exchange.
  const smr_swap_guard &raw() const noexcept {
    return g_;
  }

private:
  smr_swap_guard g_;
  const T *v_;
  bool held_;
};

// A read of a channel: smr_channel_read in the constructor,
// smr_channel_release in the destructor or release().  The read can fail
// (-ENODATA before the first publish ...): test the guard or error().
class channel_guard {
public:
  explicit channel_guard(smr_channel_reader *r) noexcept
      : r_(r), g_(), err_(smr_channel_read(r, &g_)) {
    if (err_ != 0)
      r_ = nullptr;
  }
  ~channel_guard() {
    release();
  }
  channel_guard(channel_guard &&o) noexcept : r_(o.r_), g_(o.g_), err_(o.err_) {
    o.r_ = nullptr;
  }
  channel_guard(const channel_guard &) = delete;
  channel_guard &operator=(const channel_guard &) = delete;
  channel_guard &operator=(channel_guard &&) = delete;
  // Release now (idempotent); the accessors then return what the read saw,
  // but the bytes at data() may be reused by the writer.
  void release() noexcept {
    if (r_) {
      smr_channel_release(r_, &g_);
      r_ = nullptr;
    }
  }
  // 0, or the negative errno of the read (nothing is held then).
  int error() const noexcept {
    return err_;
  }
  // Whether the guard holds a payload.
  explicit operator bool() const noexcept {
    return r_ != nullptr;
  }
  // Valid after a successful read (error() == 0).
  const void *data() const noexcept {
    return g_.data;
  }
  uint64_t size() const noexcept {
    return g_.size;
  }
  uint64_t version() const noexcept {
    return g_.version;
  }
  bool switched() const noexcept {
    return g_.switched;
  }
  const smr_channel_guard &raw() const noexcept {
    return g_;
  }

private:
  smr_channel_reader *r_;
  smr_channel_guard g_;
  int err_;
};

} // namespace smr

#endif // SMR_HPP
