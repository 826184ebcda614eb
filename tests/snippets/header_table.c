/* SPDX-License-Identifier: MIT */
/* Harness of the usage example at the top of include/smr/table.h. */
#include <smr.h>

static void use(const void *data, size_t size) {
  (void)data, (void)size;
}

void example(smr_channel_writer *w, uint64_t rows, uint64_t key_and_value_bytes,
             smr_channel_guard g);
void example(smr_channel_writer *w, uint64_t rows, uint64_t key_and_value_bytes,
             smr_channel_guard g) {
#include SMR_SNIPPET
}
