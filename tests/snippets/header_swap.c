/* SPDX-License-Identifier: MIT */
/* Harness of the usage example at the top of include/smr/swap.h. */
#include <smr.h>

struct table;
static void table_free(void *value, void *ctx) {
  (void)value, (void)ctx;
}
static void lookup(const struct table *t, const char *key) {
  (void)t, (void)key;
}

void example(struct table *table, struct table *new_table, const char *key);
void example(struct table *table, struct table *new_table, const char *key) {
#include SMR_SNIPPET
}
