/* SPDX-License-Identifier: MIT */
/* Exported twins of the public inline functions, and the guard accessors
 * (docs/DESIGN.md, "Conventions", FFI).  Each twin calls its inline
 * namesake, so the two cannot drift apart. */
#undef SMR_NO_INLINE /* the twins are built from the inline definitions */
#include "smr/channel.h"
#include "smr/collector.h"
#include "smr/epoch.h"
#include "smr/rc.h"
#include "smr/swap.h"

#include <stdalign.h>

/* ---- smr/epoch.h ------------------------------------------------------- */

void smr_enter_ffi(smr_reader *r) {
  smr_enter(r);
}

void smr_leave_ffi(smr_reader *r) {
  smr_leave(r);
}

bool smr_in_section_ffi(const smr_reader *r) {
  return smr_in_section(r);
}

/* ---- smr/rc.h ----------------------------------------------------------- */

void smr_rc_enter_ffi(smr_rc_handle *h) {
  smr_rc_enter(h);
}

void smr_rc_leave_ffi(smr_rc_handle *h) {
  smr_rc_leave(h);
}

smr_snap smr_arc_load_ffi(const smr_atomic_rc *a) {
  return smr_arc_load(a);
}

smr_weak_snap smr_aweak_load_ffi(const smr_atomic_weak *a) {
  return smr_aweak_load(a);
}

/* ---- smr/collector.h --------------------------------------------------- */

void smr_collector_enter_ffi(smr_collector_handle *h) {
  smr_collector_enter(h);
}

void smr_collector_leave_ffi(smr_collector_handle *h) {
  smr_collector_leave(h);
}

void *smr_collector_protect_ffi(smr_collector_handle *h,
                                SMR_ATOMIC(void *) const *src) {
  return smr_collector_protect(h, src);
}

/* ---- smr/swap.h -------------------------------------------------------- */

void *smr_swap_read_ffi(smr_swap_reader *r, smr_swap_guard *g) {
  return smr_swap_read(r, g);
}

void smr_swap_guard_release_ffi(smr_swap_guard *g) {
  smr_swap_guard_release(g);
}

uint64_t smr_swap_guard_version_ffi(const smr_swap_guard *g) {
  return smr_swap_guard_version(g);
}

void *smr_swap_guard_value(const smr_swap_guard *g) {
  return g->value;
}

size_t smr_swap_guard_sizeof(void) {
  return sizeof(smr_swap_guard);
}

size_t smr_swap_guard_alignof(void) {
  return alignof(smr_swap_guard);
}

/* ---- smr/channel.h ----------------------------------------------------- */

int smr_channel_read_ffi(smr_channel_reader *r, smr_channel_guard *g) {
  return smr_channel_read(r, g);
}

void smr_channel_release_ffi(smr_channel_reader *r, smr_channel_guard *g) {
  smr_channel_release(r, g);
}

const void *smr_channel_guard_data(const smr_channel_guard *g) {
  return g->data;
}

uint64_t smr_channel_guard_size(const smr_channel_guard *g) {
  return g->size;
}

uint64_t smr_channel_guard_version(const smr_channel_guard *g) {
  return g->version;
}

bool smr_channel_guard_switched(const smr_channel_guard *g) {
  return g->switched;
}

size_t smr_channel_guard_sizeof(void) {
  return sizeof(smr_channel_guard);
}

size_t smr_channel_guard_alignof(void) {
  return alignof(smr_channel_guard);
}
