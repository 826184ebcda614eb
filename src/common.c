/* SPDX-License-Identifier: MIT */
/* Error strings and version queries.
 *
 * Every text is a string literal: smr_strerror never calls strerror(3),
 * whose buffer glibc reuses (and frees) for codes it does not know. */
#define _GNU_SOURCE /* strerrordesc_np (glibc >= 2.32) */
#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <string.h>

#include "smr/common.h"
#include "smr/version.h"

struct err_text {
  int module; /* enum smr_module; SMR_MODULE_ANY for the generic texts */
  int err;    /* positive errno */
  const char *text;
};

/* Module-specific meanings first (looked up by module and code), then the
 * generic ones, which must be true for every module. */
static const struct err_text err_texts[] = {
    {SMR_MODULE_EPOCH, EBUSY,
     "readers still registered, or the record is inside a read section"},
    {SMR_MODULE_EPOCH, EDEADLK,
     "would deadlock: called inside the caller's own read section or a "
     "reclaim callback"},
    {SMR_MODULE_EPOCH, EAGAIN, "grace period not elapsed yet"},
    {SMR_MODULE_EPOCH, EPERM, "not the thread that owns the reader record"},

    {SMR_MODULE_SWAP, EINVAL,
     "invalid argument (NULL, unknown flag, a guard of another cell, or a "
     "cell already destroyed)"},
    {SMR_MODULE_SWAP, ENOMEM, "out of memory (nothing published)"},
    {SMR_MODULE_SWAP, EBUSY, "a guard of this reader is still held"},
    {SMR_MODULE_SWAP, EDEADLK,
     "would deadlock: the caller's own reader pins the value"},
    {SMR_MODULE_SWAP, EAGAIN,
     "another value was published since the guard was taken"},
    {SMR_MODULE_SWAP, ENOENT, "the current value is NULL"},
    {SMR_MODULE_SWAP, ESHUTDOWN,
     "the cell is being destroyed (writer call from a destructor)"},
    {SMR_MODULE_SWAP, ENOBUFS,
     "retired values at their bound and the writer-side barrier is refused "
     "(membarrier blocked?): nothing published"},
    {SMR_MODULE_SWAP, ECANCELED,
     "value published, but the old value stays with the cell: the "
     "writer-side barrier kept failing"},

    {SMR_MODULE_CHANNEL, ENOENT, "no such channel"},
    {SMR_MODULE_CHANNEL, EAGAIN, "channel still being created"},
    {SMR_MODULE_CHANNEL, ENODATA, "nothing published yet"},
    {SMR_MODULE_CHANNEL, EBUSY,
     "another writer holds the channel, every buffer is pinned by readers, "
     "or a guard is already held"},
    {SMR_MODULE_CHANNEL, EBADMSG,
     "channel file corrupt, truncated or foreign, or checksum mismatch"},
    {SMR_MODULE_CHANNEL, EUSERS, "all reader slots taken"},
    {SMR_MODULE_CHANNEL, EFBIG,
     "payload above SMR_CHANNEL_MAX_PAYLOAD or RLIMIT_FSIZE"},
    {SMR_MODULE_CHANNEL, ESTALE,
     "the channel was removed or created anew: open it again"},
    {SMR_MODULE_CHANNEL, ETIMEDOUT, "nothing new within the timeout"},

    {SMR_MODULE_TABLE, ENOENT, "no such key"},
    {SMR_MODULE_TABLE, EBADMSG, "not a table, or corrupt"},
    {SMR_MODULE_TABLE, E2BIG, "more entries than SMR_TABLE_MAX_ENTRIES"},
    {SMR_MODULE_TABLE, ENOSPC, "table buffer capacity exceeded"},
    {SMR_MODULE_TABLE, EFBIG, "key or value above SMR_TABLE_MAX_FIELD"},

    {SMR_MODULE_RC, EBUSY,
     "a live thread still has a handle registered, or the handle is inside "
     "a read section or a type callback"},
    {SMR_MODULE_RC, EDEADLK,
     "would deadlock: called inside a read section of the domain or a type "
     "callback"},
    {SMR_MODULE_RC, EPERM, "not the thread that owns the handle"},
    {SMR_MODULE_RC, EAGAIN,
     "the location does not hold the expected reference"},
    {SMR_MODULE_RC, ESTALE,
     "the object is no longer alive (strong count zero, or destroyed)"},
    {SMR_MODULE_RC, EOVERFLOW,
     "reference count at its limit (strong 2^27 - 1, weak 2^24 - 1)"},

    {SMR_MODULE_COLLECTOR, EBUSY,
     "a live thread still has a handle registered, or the handle is inside "
     "a section"},
    {SMR_MODULE_COLLECTOR, EPERM, "not the thread that owns the handle"},
    {SMR_MODULE_COLLECTOR, EINVAL,
     "invalid argument, unknown flags, a handle unregistered already, or "
     "refresh outside an outermost section"},

    {SMR_MODULE_ANY, EINVAL, "invalid argument"},
    {SMR_MODULE_ANY, ENOMEM, "out of memory"},
    {SMR_MODULE_ANY, EBUSY, "resource busy"},
    {SMR_MODULE_ANY, EDEADLK,
     "would deadlock (the caller would wait for "
     "itself)"},
    {SMR_MODULE_ANY, EAGAIN, "not now: try again later"},
    {SMR_MODULE_ANY, EPERM, "operation not permitted"},
    {SMR_MODULE_ANY, EACCES, "permission denied"},
    {SMR_MODULE_ANY, ENOENT, "no such entry"},
    {SMR_MODULE_ANY, EEXIST, "already exists"},
    {SMR_MODULE_ANY, ENODATA, "no data available"},
    {SMR_MODULE_ANY, EBADMSG, "corrupt, truncated or foreign data"},
    {SMR_MODULE_ANY, EUSERS, "too many users"},
    {SMR_MODULE_ANY, ESHUTDOWN, "the object is being shut down"},
    {SMR_MODULE_ANY, ENOBUFS, "no room left: a bound was reached"},
    {SMR_MODULE_ANY, ECANCELED, "operation cancelled after a partial effect"},
    {SMR_MODULE_ANY, EFBIG, "too large"},
    {SMR_MODULE_ANY, E2BIG, "too many"},
    {SMR_MODULE_ANY, ENOSPC, "no space left"},
    {SMR_MODULE_ANY, EIO, "input/output error"},
    {SMR_MODULE_ANY, EMFILE, "too many open files"},
    {SMR_MODULE_ANY, ETIMEDOUT, "timed out"},
    {SMR_MODULE_ANY, ESTALE, "stale handle: open it again"},
    {SMR_MODULE_ANY, EOVERFLOW, "value too large for its type"},
    {SMR_MODULE_ANY, ENOTSUP, "not supported"},
    {SMR_MODULE_ANY, ENOSYS, "function not implemented"},
};

static const char *find_text(int module, int err) {
  for (size_t i = 0; i < sizeof err_texts / sizeof err_texts[0]; i++)
    if (err_texts[i].module == module && err_texts[i].err == err)
      return err_texts[i].text;
  return NULL;
}

const char *smr_strerror(int err) {
  if (err == 0)
    return "success";
  /* Compare before negating: -INT_MIN overflows. */
  if (err > 0 || err < -4095)
    return "unknown error code (not a negative errno)";
  const char *t = find_text(SMR_MODULE_ANY, -err);
#if defined(__GLIBC__) &&                                                      \
    (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 32))
  if (!t) /* a static string from glibc's table, or NULL */
    t = strerrordesc_np(-err);
#endif
  return t ? t : "unknown error code";
}

const char *smr_strerror_in(enum smr_module m, int err) {
  const char *t = NULL;
  if (m != SMR_MODULE_ANY && err < 0 && err >= -4095)
    t = find_text((int)m, -err);
  return t ? t : smr_strerror(err);
}

#define SMR__STR2(x) #x
#define SMR__STR(x)  SMR__STR2(x)

unsigned smr_version(void) {
  return SMR_VERSION_HEX;
}

const char *smr_version_string(void) {
  return SMR__STR(SMR_VERSION_MAJOR) "." SMR__STR(
      SMR_VERSION_MINOR) "." SMR__STR(SMR_VERSION_PATCH);
}
