/* SPDX-License-Identifier: MIT */
/* Early-collection pacing (pace.h): the one rule behind the epoch domain's
 * early polls (src/epoch.c, retire_should_collect) and the swap cell's
 * early collections (src/swap.c, collect_early).
 *
 * A writer that collects in batches, up to a threshold, also collects early
 * whenever at least SMR__PACE_GATE (20) writer-side barriers' worth of time
 * has passed since the last collection step, so early steps cost the writer
 * at most ~5% of its time: a writer retiring or publishing big values every
 * millisecond or so then keeps only a couple of them, while a tight loop
 * still batches up to the threshold.
 *
 * The cost estimate follows decreases fast (1/4 of the difference per
 * sample) and increases at the owner's rate (1/16 for the epoch domain;
 * 1/4 for the swap cell, its rule before the two shared this code), each
 * sample clamped to twice the
 * estimate plus 1 us: a writer preempted inside the barrier (oversubscribed
 * CPUs) must not inflate it, or early collection would back off exactly when
 * memory piles up.
 *
 * smr__pace_check keeps the clock read off a tight retire loop: a call that
 * finds the gate closed skips the clock for the calls expected before it
 * opens, estimated from the pace of the calls since the previous check, at
 * most SMR__PACE_SKIP_MAX of them: a tight loop reads the clock once per 16
 * calls, while calls that come about as often as the gate opens still check
 * every time.  (A back-off by count alone made such retires skip steps they
 * needed, the garbage piled up, glibc gave the freed memory back in bursts
 * and the copies faulted it in again.) */
#include "pace.h"

#include "platform/platform.h"

/* Early steps wait for this many step costs of time (1/20: ~5%). */
#define SMR__PACE_GATE 20
/* The cost estimate until the first barrier is timed. */
#define SMR__PACE_COST_INIT_NS 20000
/* smr__pace_check skips the clock for at most this many calls. */
#define SMR__PACE_SKIP_MAX 15

void smr__pace_init(struct smr__pace *p, int rise) {
  p->rise = rise;
  atomic_init(&p->cost_ns, SMR__PACE_COST_INIT_NS);
  atomic_init(&p->last_step_ns, smr__now_ns());
  atomic_init(&p->skip, 0);
  atomic_init(&p->span, 1);
  atomic_init(&p->last_check_ns, smr__now_ns());
}

void smr__pace_cost(struct smr__pace *p, int64_t t0) {
  /* relaxed: a cost estimate, read opportunistically by the deciders; only
   * the collector (under its lock) writes it. */
  int64_t est = atomic_load_explicit(&p->cost_ns, memory_order_relaxed);
  int64_t sample = smr__now_ns() - t0;
  if (sample > 2 * est + 1000)
    sample = 2 * est + 1000;
  est += sample < est ? (sample - est) / 4 : (sample - est) / p->rise;
  /* relaxed: as above. */
  atomic_store_explicit(&p->cost_ns, est, memory_order_relaxed);
}

void smr__pace_stepped(struct smr__pace *p) {
  /* relaxed: a heuristic, pairs with nothing. */
  atomic_store_explicit(&p->last_step_ns, smr__now_ns(), memory_order_relaxed);
}

/* The gate's width at the moment: SMR__PACE_GATE step costs. */
static int64_t gate_ns(struct smr__pace *p) {
  /* relaxed: a heuristic, pairs with nothing. */
  return SMR__PACE_GATE *
         atomic_load_explicit(&p->cost_ns, memory_order_relaxed);
}

bool smr__pace_due(struct smr__pace *p) {
  /* relaxed: a heuristic, pairs with nothing. */
  return smr__now_ns() -
             atomic_load_explicit(&p->last_step_ns, memory_order_relaxed) >=
         gate_ns(p);
}

bool smr__pace_check(struct smr__pace *p) {
  /* relaxed: heuristics; pair with nothing.  The plain loads and stores
   * below (no RMW) may race between concurrent callers, which only shifts
   * the next check. */
  unsigned skip = atomic_load_explicit(&p->skip, memory_order_relaxed);
  if (skip) {
    atomic_store_explicit(&p->skip, skip - 1, memory_order_relaxed);
    return false;
  }
  int64_t now = smr__now_ns();
  int64_t last = atomic_load_explicit(&p->last_step_ns, memory_order_relaxed);
  int64_t gate = gate_ns(p);
  int64_t prev = atomic_load_explicit(&p->last_check_ns, memory_order_relaxed);
  unsigned n = atomic_load_explicit(&p->span, memory_order_relaxed);
  atomic_store_explicit(&p->last_check_ns, now, memory_order_relaxed);
  if (now - last >= gate) {
    atomic_store_explicit(&p->span, 1, memory_order_relaxed);
    return true;
  }
  /* Too soon: n calls took now - prev; skip those that fit in the time
   * left before the gate opens (the last of them checks). */
  int64_t per = (now - prev) / (n ? n : 1);
  int64_t fit = per > 0 ? (gate - (now - last)) / per : SMR__PACE_SKIP_MAX;
  unsigned k = fit > SMR__PACE_SKIP_MAX ? SMR__PACE_SKIP_MAX
               : fit > 1                ? (unsigned)fit - 1
                                        : 0;
  atomic_store_explicit(&p->span, k + 1, memory_order_relaxed);
  atomic_store_explicit(&p->skip, k, memory_order_relaxed);
  return false;
}
