/* SPDX-License-Identifier: MIT */
/* Early-collection pacing, shared by the epoch domain (src/epoch.c: when
 * smr_retire polls) and the swap cell (src/swap.c: when a publish collects
 * below the threshold).  src/pace.c has the rule and its history.
 *
 * Each domain or cell embeds one struct smr__pace.  Its collector times the
 * writer-side barrier of each collection step (smr__pace_cost) and stamps
 * the end of each step (smr__pace_stepped); whoever decides whether to
 * collect early asks smr__pace_due (reads the clock every time) or
 * smr__pace_check (the same gate, with a clock back-off for callers that
 * ask on every retire).  Every field is a relaxed atomic: heuristics only,
 * they pair with nothing, and a stale value only moves the next early step. */
#ifndef SMR_PACE_H
#define SMR_PACE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

struct smr__pace {
  /* Written by the collector (under the domain's or cell's lock), read by
   * whoever decides: the end of the last collection step, and the running
   * estimate of one step's barrier cost. */
  _Atomic int64_t last_step_ns;
  _Atomic int64_t cost_ns;
  /* How fast the estimate follows a higher sample (1/rise of the
   * difference); set once by smr__pace_init. */
  int rise;
  /* smr__pace_check's clock back-off (written by the deciders, racily):
   * calls left to skip, calls since the previous clock read, time of that
   * read. */
  _Atomic unsigned skip, span;
  _Atomic int64_t last_check_ns;
};

/* Before the object is shared: no step yet (the gate opens 20 x the
 * initial cost estimate from now).  The estimate follows a higher sample by
 * 1/rise of the difference: SMR__PACE_RISE_SLOW (16, the epoch domain) or
 * SMR__PACE_RISE_FAST (4, the swap cell: its rule before the two shared
 * this code). */
#define SMR__PACE_RISE_SLOW 16
#define SMR__PACE_RISE_FAST 4
void smr__pace_init(struct smr__pace *p, int rise);

/* A step's barrier (with whatever the caller chose to time) began at
 * clock t0 and has just ended: fold its duration into the estimate.
 * Collector only. */
void smr__pace_cost(struct smr__pace *p, int64_t t0);

/* A collection step has just ended.  Collector only. */
void smr__pace_stepped(struct smr__pace *p);

/* Whether at least 20 step costs of time have passed since the last step.
 * Reads the clock. */
bool smr__pace_due(struct smr__pace *p);

/* smr__pace_due for callers that ask on every retire: a call that finds the
 * gate closed skips the clock for the calls expected before it opens (at
 * most 15), answering false for them. */
bool smr__pace_check(struct smr__pace *p);

#endif /* SMR_PACE_H */
