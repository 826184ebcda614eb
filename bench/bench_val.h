/* SPDX-License-Identifier: MIT */
/* The published value of bench_write and bench_stall: 64 bytes of payload,
 * after the retire header of the implementation where its API embeds one
 * (first member: the reclamation callbacks cast back), and the callbacks
 * that hand a reclaimed value to the program's val_free_now (which counts
 * it, and for bench_stall poisons it, then frees it).
 *
 * Include after bench_impl.h and bench_common.h; the program defines
 * val_free_now.
 */
#ifndef SMR_BENCH_VAL_H
#define SMR_BENCH_VAL_H

#define PAYLOAD 64

struct val {
#if defined(BENCH_IMPL_SMR_EPOCH)
  struct smr_retired hdr; /* first member: the callback casts back */
#elif defined(BENCH_IMPL_CK_EPOCH)
  ck_epoch_entry_t entry; /* first member: the callback casts back */
#elif defined(BENCH_IMPL_URCU_MEMB_CALLRCU)
  struct rcu_head head; /* first member: the callback casts back */
#endif
  unsigned char data[PAYLOAD];
};

static void val_free_now(struct val *v); /* defined by the program */

#if defined(BENCH_IMPL_SMR_SWAP)
static void val_destroy(void *value, void *ctx) {
  (void)ctx;
  val_free_now(value);
}
#elif defined(BENCH_IMPL_SMR_EPOCH)
static void val_free(struct smr_retired *node) {
  val_free_now((struct val *)node);
}
#elif defined(BENCH_IMPL_CK_EPOCH)
static void val_free(ck_epoch_entry_t *e) {
  val_free_now((struct val *)e);
}
#elif defined(BENCH_IMPL_URCU_MEMB_CALLRCU)
static void val_free(struct rcu_head *h) {
  val_free_now((struct val *)h);
}
#endif

#endif /* SMR_BENCH_VAL_H */
