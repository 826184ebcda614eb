/* SPDX-License-Identifier: MIT */
/* Harness of the usage example at the top of include/smr/collector.h. */
#include <smr.h>
#include <stdlib.h>

struct item {
  struct smr_collector_node node;
  int value;
};
static _Atomic(void *) head;
static void use(const struct item *p) {
  (void)p;
}
static void free_item(struct smr_collector_node *n, smr_collector_handle *h) {
  (void)h;
  free(SMR_CONTAINER_OF(n, struct item, node));
}

void example(struct item *n);
void example(struct item *n) {
#include SMR_SNIPPET
}
