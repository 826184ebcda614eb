/* SPDX-License-Identifier: MIT */
/* Harness of README.md's snippet "treiber_stack": four threads push and pop
 * through the snippet's calls; every pushed value must be popped exactly
 * once and every node reclaimed by destroy. */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>

#include SMR_SNIPPET

#define PER_THREAD 20000
#define THREADS    4

static _Atomic unsigned char seen[THREADS * PER_THREAD];
static _Atomic int failed;

static void *worker(void *arg) {
  int id = (int)(long)arg;
  smr_collector_handle *h;
  if (smr_collector_register(gc, &h) != 0) {
    atomic_store_explicit(&failed, 1, memory_order_relaxed);
    return NULL;
  }
  for (int i = 0; i < PER_THREAD; i++) {
    int v;
    if (push(id * PER_THREAD + i) != 0)
      atomic_store_explicit(&failed, 1, memory_order_relaxed);
    if (i % 2 && pop(h, &v))
      /* relaxed: a counter per value; joined before it is read. */
      atomic_fetch_add_explicit(&seen[v], 1, memory_order_relaxed);
  }
  if (smr_collector_unregister(h) != 0)
    atomic_store_explicit(&failed, 1, memory_order_relaxed);
  return NULL;
}

int main(void) {
  if (smr_collector_create(NULL, &gc) != 0)
    return 1;
  pthread_t th[THREADS];
  for (long i = 0; i < THREADS; i++)
    if (pthread_create(&th[i], NULL, worker, (void *)i) != 0)
      return 1;
  for (int i = 0; i < THREADS; i++)
    pthread_join(th[i], NULL);
  smr_collector_handle *h;
  if (smr_collector_register(gc, &h) != 0)
    return 1;
  int v;
  while (pop(h, &v))
    atomic_fetch_add_explicit(&seen[v], 1, memory_order_relaxed);
  if (smr_collector_unregister(h) != 0)
    return 1;
  for (int i = 0; i < THREADS * PER_THREAD; i++)
    /* relaxed: every writer was joined. */
    if (atomic_load_explicit(&seen[i], memory_order_relaxed) != 1)
      return 1;
  struct smr_collector_stats st;
  if (smr_collector_stats(gc, &st) != 0 || st.handles != 0)
    return 1;
  if (atomic_load_explicit(&failed, memory_order_relaxed))
    return 1;
  return smr_collector_destroy(gc) == 0 ? 0 : 1;
}
