/* SPDX-License-Identifier: MIT */
/* libsmr version, at compile time and at run time. */
#ifndef SMR_VERSION_H
#define SMR_VERSION_H

#include "smr/common.h"

#define SMR_VERSION_MAJOR 0
#define SMR_VERSION_MINOR 1
#define SMR_VERSION_PATCH 0
#define SMR_VERSION_HEX                                                        \
  ((SMR_VERSION_MAJOR << 16) | (SMR_VERSION_MINOR << 8) | SMR_VERSION_PATCH)

#ifdef __cplusplus
extern "C" {
#endif

/* The version of the library actually linked, as SMR_VERSION_HEX encodes it.
 * Compare with SMR_VERSION_HEX to detect a header/library mismatch: the inline
 * read paths freeze the layouts they touch for one ABI: before 1.0 one
 * major.minor (SONAME libsmr.so.0.N), from 1.0 one major (docs/ABI.md). */
SMR_API unsigned smr_version(void);

/* The same as a "MAJOR.MINOR.PATCH" string; static storage. */
SMR_API const char *smr_version_string(void);

#ifdef __cplusplus
}
#endif

#endif /* SMR_VERSION_H */
