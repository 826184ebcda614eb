/* SPDX-License-Identifier: MIT */
/* Helpers shared by the collector tests: a node type that records its
 * reclamation, a step handshake between threads (yielding, no sleep), and
 * a reader thread that protects one node in a section and stays there until
 * told to go (or exits inside it). */
/* Memory orders: the test threads' handshakes (steps, flags) and the
 * reclaim counters use seq_cst throughout: every such store pairs with the
 * other thread's seq_cst load of the same variable, and the total order
 * keeps the tests' reasoning simple (what the library orders is what they
 * check; their own accesses add no weaker order to reason about). */
#ifndef SMR_TEST_COLLECTOR_UTIL_H
#define SMR_TEST_COLLECTOR_UTIL_H

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>

#include "check.h"
#include "smr/collector.h"

struct item {
  struct smr_collector_node node;
  _Atomic int reclaimed; /* times reclaimed */
  pthread_t by;          /* the thread that reclaimed it */
  struct item *chain;    /* retire this one when reclaimed */
  bool heap;             /* free it when reclaimed */
};

/* n zeroed items, their nodes initialised for c (calloc'd: free them). */
static inline struct item *items(smr_collector *c, size_t n) {
  struct item *a = calloc(n, sizeof *a);
  CHECK(a);
  for (size_t i = 0; i < n; i++)
    smr_collector_node_init(c, &a[i].node);
  return a;
}

/* A collector with exact batches: no pacing (a full batch is submitted at
 * once) and no submission by age. */
static inline smr_collector *make(unsigned flags, unsigned batch) {
  struct smr_collector_attr a = {.flags = flags | SMR_COLLECTOR_NO_PACING,
                                 .batch = batch,
                                 .flush_ns = UINT64_MAX};
  smr_collector *c;
  CHECK_EQ(smr_collector_create(&a, &c), 0);
  return c;
}

/* Wait until *s >= want (the other thread moves it on). */
static inline void wait_step(_Atomic int *s, int want) {
  while (atomic_load_explicit(s, memory_order_seq_cst) < want)
    sched_yield();
}

/* reader_main's argument.  step: 1 it protected *slot (in seen) and waits in
 * its section; 2 (set by the test) it may go; 3 it left and unregistered.
 * exit_inside: it exits at 2 inside its section, still registered. */
struct reader_arg {
  smr_collector *c;
  _Atomic(void *) *slot;
  _Atomic int step;
  void *seen;
  int exit_inside;
};

static inline void *reader_main(void *p) {
  struct reader_arg *a = p;
  smr_collector_handle *h;
  CHECK_EQ(smr_collector_register(a->c, &h), 0);
  smr_collector_enter(h);
  a->seen = smr_collector_protect(h, a->slot);
  atomic_store_explicit(&a->step, 1, memory_order_seq_cst);
  wait_step(&a->step, 2);
  if (a->exit_inside)
    return NULL; /* gone inside the section, handle registered */
  smr_collector_leave(h);
  CHECK_EQ(smr_collector_unregister(h), 0);
  atomic_store_explicit(&a->step, 3, memory_order_seq_cst);
  return NULL;
}

#endif
