/* Error strings and version queries. */
#include <errno.h>
#include <string.h>

#include "smr/common.h"
#include "smr/version.h"

const char *smr_strerror(int err) {
  switch (err) {
  case 0:
    return "success";
  case -EINVAL:
    return "invalid argument";
  case -ENOMEM:
    return "out of memory";
  case -EBUSY:
    return "resource busy (readers still registered or a guard is held)";
  case -EDEADLK:
    return "would deadlock (called inside the caller's own read section)";
  case -EAGAIN:
    return "not yet (grace period not elapsed, or value changed)";
  case -EPERM:
    return "operation not permitted (not the owning thread)";
  case -ENOENT:
    return "no such value or channel";
  case -ENODATA:
    return "nothing published yet";
  case -EBADMSG:
    return "corrupt, truncated or foreign data (or checksum mismatch)";
  case -EUSERS:
    return "reader table full";
  default:
    return err < 0 ? strerror(-err) : "unknown result";
  }
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
