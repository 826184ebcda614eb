/* SPDX-License-Identifier: MIT */
/* Harness of the usage example at the top of include/smr/epoch.h. */
#include <smr.h>
#include <stdlib.h>

struct node {
  struct smr_retired retired;
  int value;
};
static _Atomic(struct node *) head;
static void use(const struct node *p) {
  (void)p;
}
static void free_old(struct smr_retired *n) {
  free(n);
}

void example(smr_domain *d, struct node *new);
void example(smr_domain *d, struct node *new) {
  struct node *p, *old;
#include SMR_SNIPPET
}
