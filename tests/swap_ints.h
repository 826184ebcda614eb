/* SPDX-License-Identifier: MIT */
/* Heap ints as swap cell values, for tests that count them: mk makes one
 * (numbered in creation order), dtor is the cell's destructor and drop
 * frees a value the cell refused; nmade and ndestroyed count them. */
#ifndef SMR_TEST_SWAP_INTS_H
#define SMR_TEST_SWAP_INTS_H

#include <stdlib.h>

#include "check.h"

static int nmade, ndestroyed;

static inline void *mk(void) {
  int *v = malloc(sizeof *v);
  CHECK(v != NULL);
  *v = nmade++;
  return v;
}

/* The cell's destructor: each value destroyed once (a second destroy
 * finds -1, or ASAN reports the use after free). */
static inline void dtor(void *p, void *ctx) {
  (void)ctx;
  CHECK(*(int *)p >= 0);
  *(int *)p = -1;
  free(p);
  ndestroyed++;
}

/* A value the cell refused: ours to free. */
static inline void drop(void *v) {
  free(v);
  ndestroyed++;
}

#endif
