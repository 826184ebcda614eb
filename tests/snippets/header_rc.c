/* SPDX-License-Identifier: MIT */
/* Harness of the usage example at the top of include/smr/rc.h.  Its type
 * definitions (node_edges, node_type) come in at file scope through
 * SMR_SNIPPET_DECLS, the rest runs in main; then the node is unpublished
 * and must be destroyed and freed, the handle and domain go away. */
/* snippet: run */
#include <smr.h>

struct node {
  smr_atomic_rc next; /* all-zero: null */
  int value;
};
static smr_atomic_rc head;
static const struct node *seen;
static void use(const struct node *p) {
  seen = p;
}

#include SMR_SNIPPET_DECLS

int main(void) {
#include SMR_SNIPPET
  smr_rc none = SMR_RC_NULL;
  smr_arc_store(h, &head, &none); /* the node's count reaches zero */
  struct smr_rc_stats st;
  int bad = !seen || smr_rc_barrier(h) != 0 || smr_rc_stats(rd, &st) != 0 ||
            st.created != 1 || st.destroyed != 1 || st.freed != 1 ||
            st.pending != 0;
  bad |= smr_rc_handle_unregister(h) != 0;
  bad |= smr_rc_domain_destroy(rd) != 0;
  return bad;
}
