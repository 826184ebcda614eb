/* SPDX-License-Identifier: MIT */
/* libsmr: shared definitions for every public header.
 *
 * Conventions used by all modules:
 *  - Functions that can fail return 0 on success or a negative errno code
 *    (-EINVAL, -ENOMEM, -EBUSY, -EDEADLK, -EAGAIN, -EPERM ...); smr_strerror()
 *    turns one into its generic text, smr_strerror_in() into what it means
 *    for the module that returned it.  Counters and lookups return their value
 * directly.
 *  - Only the read fast paths are inline; everything else is exported.
 *    Every public inline function NAME has an exported twin NAME_ffi with
 *    the same parameters and contract (smr_enter_ffi, smr_swap_read_ffi,
 *    smr_channel_read_ffi ...), for languages that can only call symbols
 *    (ctypes, bindgen); define SMR_NO_INLINE before including any libsmr
 *    header to make the plain names macros for the twins (liburcu's
 *    _LGPL_SOURCE, inverted).  Guards have exported accessors and size and
 *    alignment functions (smr_swap_guard_value, smr_swap_guard_sizeof ...), so
 *    a foreign caller needs no struct layout: it allocates a guard as an
 *    opaque buffer.  Internal inline helpers (smr__*) have no twin, nor
 *    do smr/rc.h's accessors (smr_rc_ptr, smr_snap_tag, smr_rc_snapshot
 *    ...): pure functions of a one-word value that a foreign caller
 *    computes itself (the tag is the low SMR_RC_TAG_BITS bits).
 *  - Define SMR_DEBUG (the CMake Debug build does) to turn on the assertions
 *    that catch misuse too costly to check on a fast path.
 */
#ifndef SMR_COMMON_H
#define SMR_COMMON_H

#include <stddef.h>
#include <stdint.h>

#if defined(_WIN32) && defined(SMR_SHARED_BUILD)
#define SMR_API __declspec(dllexport)
#elif defined(_WIN32) && defined(SMR_SHARED_IMPORT)
#define SMR_API __declspec(dllimport)
#elif defined(__GNUC__)
#define SMR_API __attribute__((visibility("default")))
#else
#define SMR_API
#endif

#if defined(__GNUC__)
#define SMR_LIKELY(x)   __builtin_expect(!!(x), 1)
#define SMR_UNLIKELY(x) __builtin_expect(!!(x), 0)
#define SMR_INLINE      static inline __attribute__((always_inline))
#define SMR__UNUSED     __attribute__((unused))
#else
#define SMR_LIKELY(x)   (x)
#define SMR_UNLIKELY(x) (x)
#define SMR_INLINE      static inline
#define SMR__UNUSED
#endif

/* Atomics that compile both as C11 (<stdatomic.h>) and as C++11 (<atomic>),
 * so the inline fast paths in the public headers work in either language.
 * std::atomic<T> and _Atomic(T) have the same size and layout on the
 * supported compilers (gcc, clang). */
#ifdef __cplusplus
#include <atomic>
#define SMR_ATOMIC(T)         std::atomic<T>
#define SMR__RELAXED          std::memory_order_relaxed
#define SMR__ACQUIRE          std::memory_order_acquire
#define SMR__RELEASE          std::memory_order_release
#define SMR__SEQ_CST          std::memory_order_seq_cst
#define SMR__LOAD(p, mo)      std::atomic_load_explicit((p), (mo))
#define SMR__STORE(p, v, mo)  std::atomic_store_explicit((p), (v), (mo))
#define SMR__SIGNAL_FENCE(mo) std::atomic_signal_fence(mo)
#else
#include <stdatomic.h>
#define SMR_ATOMIC(T)         _Atomic(T)
#define SMR__RELAXED          memory_order_relaxed
#define SMR__ACQUIRE          memory_order_acquire
#define SMR__RELEASE          memory_order_release
#define SMR__SEQ_CST          memory_order_seq_cst
#define SMR__LOAD(p, mo)      atomic_load_explicit((p), (mo))
#define SMR__STORE(p, v, mo)  atomic_store_explicit((p), (v), (mo))
#define SMR__SIGNAL_FENCE(mo) atomic_signal_fence(mo)
#endif

/* The struct of type `type` whose member `member` is at ptr: the way back
 * from an embedded header (struct smr_retired in a reclaim callback) to the
 * object that embeds it.  ptr must point to that member of a live `type`
 * (NULL is not accepted: it does not map back to NULL). */
#define SMR_CONTAINER_OF(ptr, type, member)                                    \
  ((type *)(void *)((char *)(ptr)-offsetof(type, member)))

#ifdef SMR_DEBUG
/* Independent of NDEBUG: SMR_DEBUG alone decides. */
#include <stdio.h>
#include <stdlib.h>
#define SMR_ASSERT(x)                                                          \
  ((x) ? (void)0                                                               \
       : (fprintf(stderr, "%s:%d: libsmr assertion failed: %s\n", __FILE__,    \
                  __LINE__, #x),                                               \
          abort()))
#else
#define SMR_ASSERT(x) ((void)0)
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* The modules whose functions return error codes (smr_strerror_in). */
enum smr_module {
  SMR_MODULE_ANY = 0,  /* generic texts only (smr_strerror) */
  SMR_MODULE_EPOCH,    /* smr/epoch.h */
  SMR_MODULE_SWAP,     /* smr/swap.h */
  SMR_MODULE_CHANNEL,  /* smr/channel.h */
  SMR_MODULE_TABLE,    /* smr/table.h */
  SMR_MODULE_RC,       /* smr/rc.h */
  SMR_MODULE_COLLECTOR /* smr/collector.h */
};

/* Text for a negative errno code returned by libsmr (or for 0): the
 * generic meaning of the code, true whichever module returned it (e.g.
 * -EBUSY is "resource busy").  Any int is accepted: a positive value, a
 * code libsmr does not know or one out of errno's range (INT_MIN included)
 * gives a fixed text such as "unknown error code".  Never NULL; the string
 * is static (never overwritten, never freed) and the call thread-safe and
 * async-signal-safe. */
SMR_API const char *smr_strerror(int err);

/* What err means when returned by a function of module m: the module's own
 * text where it gives the code a specific meaning (-EBUSY from smr/epoch.h:
 * "readers still registered, or the record is inside a read section"),
 * otherwise smr_strerror(err).  Same guarantees as smr_strerror; an unknown
 * module gives the generic text. */
SMR_API const char *smr_strerror_in(enum smr_module m, int err);

#ifdef __cplusplus
}
#endif

#endif /* SMR_COMMON_H */
