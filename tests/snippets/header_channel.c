/* SPDX-License-Identifier: MIT */
/* Harness of the usage example at the top of include/smr/channel.h. */
#include <smr.h>

static void use(const void *data, uint64_t size) {
  (void)data, (void)size;
}

void example(const void *bytes, uint64_t n);
void example(const void *bytes, uint64_t n) {
#include SMR_SNIPPET
}
