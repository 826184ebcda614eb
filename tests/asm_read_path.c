/* SPDX-License-Identifier: MIT */
/* Read-path assembly check (compiled to assembly by tools/check_asm.sh, not
 * linked into any test program).
 *
 * Two out-of-line functions that contain nothing but a read section.  The
 * fast path of each (between the SMR_ASM_BEGIN/END markers) must contain no
 * fence, no locked or implicitly locked instruction and no call other than
 * the out-of-line slow paths (smr__enter_slow / smr__swap_read_slow, taken
 * only for nesting and symmetric mode).  The markers are empty asm statements
 * with a memory clobber: they emit nothing and keep the compiler from moving
 * the section's accesses across them.
 *
 * SMR_ASM_NEGATIVE_CONTROL (defined only by check_asm.sh's self-test) puts a
 * seq_cst fence inside each region, to prove the checker would catch one. */
#include "smr.h"

struct asm_obj {
  int field;
};

/* The published object, as a reader of a data structure would see it. */
_Atomic(struct asm_obj *) smr_asm_global;

#define SMR_ASM_MARK(text) __asm__ volatile("# " text ::: "memory")

#ifdef SMR_ASM_NEGATIVE_CONTROL
#define SMR_ASM_CONTROL() atomic_thread_fence(memory_order_seq_cst)
#else
#define SMR_ASM_CONTROL() ((void)0)
#endif

int smr_asm_epoch_read(smr_reader *r);
int smr_asm_swap_read(smr_swap_reader *r);

int smr_asm_epoch_read(smr_reader *r) {
  SMR_ASM_MARK("SMR_ASM_BEGIN smr_asm_epoch_read");
  smr_enter(r);
  SMR_ASM_CONTROL();
  /* acquire: pairs with the writer's release publication of the object. */
  struct asm_obj *p =
      atomic_load_explicit(&smr_asm_global, memory_order_acquire);
  int x = p->field;
  smr_leave(r);
  SMR_ASM_MARK("SMR_ASM_END smr_asm_epoch_read");
  return x;
}

int smr_asm_swap_read(smr_swap_reader *r) {
  SMR_ASM_MARK("SMR_ASM_BEGIN smr_asm_swap_read");
  smr_swap_guard g;
  const struct asm_obj *p = smr_swap_read(r, &g);
  SMR_ASM_CONTROL();
  int x = p->field;
  smr_swap_guard_release(&g);
  SMR_ASM_MARK("SMR_ASM_END smr_asm_swap_read");
  return x;
}

_Atomic(void *) smr_asm_collector_global;
int smr_asm_collector_read(smr_collector_handle *h);

int smr_asm_collector_read(smr_collector_handle *h) {
  SMR_ASM_MARK("SMR_ASM_BEGIN smr_asm_collector_read");
  smr_collector_enter(h);
  SMR_ASM_CONTROL();
  const struct asm_obj *p = smr_collector_protect(h, &smr_asm_collector_global);
  int x = p->field;
  smr_collector_leave(h);
  SMR_ASM_MARK("SMR_ASM_END smr_asm_collector_read");
  return x;
}

/* smr/rc.h: a section that follows two counted links by snapshots (a list
 * head and its successor), as a traversal does. */
struct asm_rc_node {
  int field;
  smr_atomic_rc next;
};
smr_atomic_rc smr_asm_rc_global;
int smr_asm_rc_read(smr_rc_handle *h);

int smr_asm_rc_read(smr_rc_handle *h) {
  SMR_ASM_MARK("SMR_ASM_BEGIN smr_asm_rc_read");
  smr_rc_enter(h);
  SMR_ASM_CONTROL();
  const struct asm_rc_node *p = smr_snap_ptr(smr_arc_load(&smr_asm_rc_global));
  const struct asm_rc_node *q = smr_snap_ptr(smr_arc_load(&p->next));
  int x = p->field + q->field;
  smr_rc_leave(h);
  SMR_ASM_MARK("SMR_ASM_END smr_asm_rc_read");
  return x;
}
