/* SPDX-License-Identifier: MIT */
/* Harness of README.md's snippet "rc_list": a writer republishes the list
 * (key k -> value k * round) while three readers look keys up; a reader
 * must see a key with the value of one round (never a mix, never a freed
 * entry under ASAN).  At the end the list is released and every entry
 * destroyed. */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <stdatomic.h>

#include SMR_SNIPPET

#define KEYS    32
#define ROUNDS  2000
#define READERS 3

static smr_rc_domain *rd;
static _Atomic int done, failed;

static void *reader(void *arg) {
  (void)arg;
  smr_rc_handle *h;
  if (smr_rc_handle_register(rd, &h) != 0) {
    atomic_store_explicit(&failed, 1, memory_order_seq_cst);
    return NULL;
  }
  unsigned k = 0;
  while (!atomic_load_explicit(&done, memory_order_seq_cst)) {
    int v, key = (int)(k++ % KEYS) + 1;
    if (lookup(h, key, &v) && (v % key != 0 || v / key > ROUNDS))
      atomic_store_explicit(&failed, 1, memory_order_seq_cst);
  }
  if (smr_rc_handle_unregister(h) != 0)
    atomic_store_explicit(&failed, 1, memory_order_seq_cst);
  return NULL;
}

int main(void) {
  if (smr_rc_domain_create(NULL, &rd) != 0)
    return 1;
  smr_rc_handle *h;
  if (smr_rc_handle_register(rd, &h) != 0)
    return 1;
  pthread_t th[READERS];
  for (int i = 0; i < READERS; i++)
    if (pthread_create(&th[i], NULL, reader, NULL) != 0)
      return 1;
  int kv[KEYS][2];
  for (int round = 1; round <= ROUNDS; round++) {
    for (int i = 0; i < KEYS; i++) {
      kv[i][0] = i + 1;
      kv[i][1] = (i + 1) * round;
    }
    if (publish(h, (const int(*)[2])kv, KEYS) != 0)
      return 1;
  }
  atomic_store_explicit(&done, 1, memory_order_seq_cst);
  for (int i = 0; i < READERS; i++)
    pthread_join(th[i], NULL);
  int v;
  if (!lookup(h, KEYS, &v) || v != KEYS * ROUNDS)
    return 1;
  smr_rc last = smr_arc_swap(h, &table, &(smr_rc){0});
  smr_rc_release(h, &last);
  if (smr_rc_barrier(h) != 0 || smr_rc_handle_unregister(h) != 0)
    return 1;
  struct smr_rc_stats st;
  if (smr_rc_stats(rd, &st) != 0 || st.created != (uint64_t)KEYS * ROUNDS ||
      st.destroyed != st.created || st.freed != st.created)
    return 1;
  if (smr_rc_domain_destroy(rd) != 0)
    return 1;
  return atomic_load_explicit(&failed, memory_order_seq_cst);
}
