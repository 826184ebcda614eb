/* SPDX-License-Identifier: MIT */
/* Internal: thread liveness tokens (src/thread.c), shared by the epoch
 * domain's readers and the collector's handles.  A token is made on a
 * thread's first registration and holds one reference per record that
 * points to it; the thread holds its robust mutex while it lives. */
#ifndef SMR_THREAD_H
#define SMR_THREAD_H

#include <stdatomic.h>
#include <stddef.h>

/* The per-thread record lists a token keeps (owner only). */
enum { SMR__THREAD_EPOCH, SMR__THREAD_COLLECTOR, SMR__THREAD_LISTS };

struct smr__thread;

/* The calling thread's token, made on first use when `create` (NULL: none
 * yet, or out of memory). */
struct smr__thread *smr__thread_self(int create);

/* Take a reference for a new record.  Owner only. */
void smr__thread_ref(struct smr__thread *t);

/* Drop a record's reference; the last one frees the token (returns 1).
 * `owner`: the caller is the owner, unregistering; else a reaper (the
 * owner is gone). */
int smr__thread_unref(struct smr__thread *t, int owner);

/* Owner only: publish the owner's accesses so far (release) to whoever
 * later sees the thread gone. */
void smr__thread_publish(struct smr__thread *t);

/* The head of the owner's list `which` (SMR__THREAD_*).  Owner only. */
void **smr__thread_list(struct smr__thread *t, int which);

/* Whether t's thread has terminated (after its last key destructor):
 * then everything it did happens before the caller's next accesses.
 * `all`: check even if the thread did not run the exit hook.  The caller
 * holds a reference to t. */
int smr__thread_gone(struct smr__thread *t, int all);

#endif /* SMR_THREAD_H */
