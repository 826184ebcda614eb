/* Cross-process channel (smr/shm.h): one writer process, K payload buffers
 * in memory-mapped files, a reader table with one slot per reader handle.
 *
 * Publication: the writer fills a buffer no reader can reach, writes its
 * descriptor, then makes it current with one release store of
 * `current` = (version << 8) | buffer.  A reader announces the value it
 * reads in its slot's `pin` under a fence and re-validates it (slow path,
 * once per new version); `pin` stays after the read, so later reads of the
 * same version only set the slot's `active` word and re-validate, with no
 * fence.  The writer reuses a buffer b only if no active slot pins it and,
 * when an idle slot still announces the version b holds, after a heavy
 * barrier (membarrier GLOBAL_EXPEDITED; readers of a symmetric channel
 * fence instead) that followed b's de-current.  Slots whose owner died are
 * found exactly: a reader holds an OFD lock on its slot's byte for its
 * lifetime; the writer takes that lock to reclaim a slot (nobody can claim
 * it meanwhile).  docs/DESIGN.md ("Channels") has the full argument. */
#define _GNU_SOURCE
#include "smr/shm.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "platform/platform.h"
#include "shm_layout.h"

_Static_assert(sizeof(struct smr__shm_desc) == 64, "desc layout");
_Static_assert(sizeof(struct smr__shm_slot) == SMR__SHM_SLOT_SIZE, "slot");
_Static_assert(sizeof(struct smr__shm_readers) == 128, "readers header");
_Static_assert(offsetof(struct smr__shm_state, current) == 64, "line 1");
_Static_assert(offsetof(struct smr__shm_state, desc) == SMR__SHM_DESC_OFFSET,
               "desc offset");
_Static_assert(SMR__SHM_DESC_OFFSET + SMR_SHM_MAX_BUFFERS * 64 <=
                   SMR__SHM_HEADER_SIZE,
               "descriptors fit the header");
_Static_assert(SMR__SHM_F_SYMMETRIC == SMR_SHM_SYMMETRIC &&
                   SMR__SHM_F_NOSUM == SMR_SHM_NO_CHECKSUM &&
                   SMR__SHM_F_DURABLE == SMR_SHM_DURABLE,
               "flags");

#define SMR__SHM_FLAGS_KNOWN                                                   \
  (SMR_SHM_DURABLE | SMR_SHM_NO_CHECKSUM | SMR_SHM_NO_UMASK | SMR_SHM_SYMMETRIC)
#define SMR__SHM_STATE_FLAGS                                                   \
  (SMR__SHM_F_SYMMETRIC | SMR__SHM_F_NOSUM | SMR__SHM_F_DURABLE)
#define DEFAULT_TIMEOUT_NS 10000000000ll
#define PATH_EXTRA         32 /* ".smr-data-31" and friends */
/* While the writer waits for live readers, it re-checks their liveness this
 * often (the kernel cannot wake a futex when a lock holder dies). */
#define LIVENESS_MIN_NS 1000000ll
#define LIVENESS_MAX_NS 64000000ll

static const unsigned char empty_payload[1];

/* ---- names and validation ------------------------------------------------ */

static int make_prefix(const char *name, char **out) {
  if (!name || !*name)
    return -EINVAL;
  size_t n = strlen(name);
  if (n + PATH_EXTRA + sizeof "/dev/shm/" > PATH_MAX || name[n - 1] == '/')
    return -EINVAL;
  char *p = malloc(n + sizeof "/dev/shm/");
  if (!p)
    return -ENOMEM;
  if (strchr(name, '/'))
    memcpy(p, name, n + 1);
  else
    snprintf(p, n + sizeof "/dev/shm/", "/dev/shm/%s", name);
  *out = p;
  return 0;
}

/* path = prefix + suffix (buf has PATH_MAX bytes). */
static void file_path(char *buf, const char *prefix, const char *suffix,
                      int index) {
  if (index >= 0)
    snprintf(buf, PATH_MAX, "%s%s%d", prefix, suffix, index);
  else
    snprintf(buf, PATH_MAX, "%s%s", prefix, suffix);
}

static struct smr__shm_slot *slot_at(struct smr__shm_readers *rt, unsigned i) {
  return (struct smr__shm_slot *)((char *)rt + SMR__SHM_HEADER_SIZE +
                                  (size_t)i * SMR__SHM_SLOT_SIZE);
}

static uint64_t slot_off(unsigned i) {
  return SMR__SHM_HEADER_SIZE + (uint64_t)i * SMR__SHM_SLOT_SIZE;
}

static uint64_t readers_size(unsigned slots) {
  return SMR__SHM_HEADER_SIZE + (uint64_t)slots * SMR__SHM_SLOT_SIZE;
}

/* Validate a mapped state header (file_size: its file's size). */
static int check_state(struct smr__shm_state *st, uint64_t file_size) {
  if (file_size < SMR__SHM_HEADER_SIZE)
    return -EBADMSG;
  /* acquire: pairs with the release store of magic after initialisation. */
  uint64_t magic = atomic_load_explicit(&st->magic, memory_order_acquire);
  if (magic == 0)
    return -EAGAIN;
  if (magic != SMR__SHM_MAGIC || st->layout != SMR__SHM_LAYOUT ||
      st->header_size != SMR__SHM_HEADER_SIZE || st->buffers < 2 ||
      st->buffers > SMR_SHM_MAX_BUFFERS || st->slots < 1 ||
      st->slots > SMR_SHM_MAX_READERS || (st->flags & ~SMR__SHM_STATE_FLAGS))
    return -EBADMSG;
  if ((st->flags & SMR__SHM_F_NOSUM) ? st->checksum_alg != 0
                                     : st->checksum_alg != SMR__SHM_SUM_XXH3)
    return -EBADMSG;
  return 0;
}

static int check_readers(struct smr__shm_readers *rt, uint64_t file_size,
                         unsigned slots) {
  if (file_size < readers_size(slots))
    return -EBADMSG;
  /* acquire: pairs with the release store of magic at creation. */
  if (atomic_load_explicit(&rt->magic, memory_order_acquire) !=
          SMR__SHM_READERS_MAGIC ||
      rt->layout != SMR__SHM_LAYOUT || rt->slots != slots)
    return -EBADMSG;
  return 0;
}

/* Map and validate the state file (read-only or read-write). */
static int map_state(int fd, bool writable, struct smr__shm_state **out) {
  uint64_t size;
  int r = smr__file_stat(fd, &size, NULL);
  if (r < 0)
    return r;
  if (size == 0)
    return -EAGAIN; /* created, not yet initialised */
  if (size < SMR__SHM_HEADER_SIZE)
    return -EBADMSG;
  void *p;
  r = smr__map(fd, SMR__SHM_HEADER_SIZE, writable, false, &p);
  if (r < 0)
    return r;
  *out = p;
  return 0;
}

static int map_readers(int fd, unsigned slots, bool writable,
                       struct smr__shm_readers **out) {
  uint64_t size;
  int r = smr__file_stat(fd, &size, NULL);
  if (r < 0)
    return r;
  if (size < readers_size(slots))
    return -EBADMSG;
  void *p;
  r = smr__map(fd, readers_size(slots), writable, false, &p);
  if (r < 0)
    return r;
  r = check_readers(p, size, slots);
  if (r < 0) {
    smr__unmap(p, readers_size(slots));
    return r;
  }
  *out = p;
  return 0;
}

static uint64_t checksum(const void *data, uint64_t size) {
  return smr__hash(data, (size_t)size);
}

static int64_t deadline_of(int64_t timeout_ns) {
  if (timeout_ns < 0)
    return INT64_MAX;
  int64_t now = smr__now_ns();
  return timeout_ns > INT64_MAX - now ? INT64_MAX : now + timeout_ns;
}

/* ---- writer -------------------------------------------------------------- */

struct smr_shm_writer {
  char *prefix;
  int state_fd, readers_fd;
  struct smr__shm_state *st;    /* read-write */
  struct smr__shm_readers *rt;  /* read-write */
  unsigned nbuf, nslots, flags; /* flags: the channel's SMR__SHM_F_* */
  unsigned mode;
  bool exact_mode, symmetric;
  int64_t timeout_ns;
  int data_fd[SMR_SHM_MAX_BUFFERS];
  unsigned char *map[SMR_SHM_MAX_BUFFERS];
  uint64_t map_len[SMR_SHM_MAX_BUFFERS];
  uint64_t file_size[SMR_SHM_MAX_BUFFERS];
  uint64_t file_dev[SMR_SHM_MAX_BUFFERS], file_ino[SMR_SHM_MAX_BUFFERS];
  /* Barrier bookkeeping (see the opening comment): pub_seq counts publishes
   * by this writer, decur[i] is pub_seq when buffer i stopped being
   * current, covers is pub_seq at the last barrier. */
  uint64_t pub_seq, covers, decur[SMR_SHM_MAX_BUFFERS];
  /* held[i]: the `current` value buffer i was last published with; an idle
   * slot announcing exactly that value could still use buffer i. */
  uint64_t held[SMR_SHM_MAX_BUFFERS];
  bool barrier_done; /* one heavy barrier since open (covers takeover) */
  int owner_pid;     /* the process that opened it */
  int build;         /* buffer being built, -1 if none */
  uint64_t build_cap;
  unsigned build_reclaimed;
  int64_t build_waited;
};

static void writer_free(smr_shm_writer *w) {
  for (unsigned i = 0; i < SMR_SHM_MAX_BUFFERS; i++) {
    smr__unmap(w->map[i], w->map_len[i]);
    smr__file_close(w->data_fd[i]);
  }
  if (w->rt)
    smr__unmap(w->rt, readers_size(w->nslots));
  if (w->st)
    smr__unmap(w->st, SMR__SHM_HEADER_SIZE);
  smr__file_close(w->readers_fd);
  /* A forked child shares the lock's open file description: unlock it
   * explicitly (closing our fd would leave the child holding it), unless
   * we are such a child. */
  if (w->state_fd >= 0 && w->owner_pid == smr__getpid())
    smr__unlock_byte(w->state_fd, 0);
  smr__file_close(w->state_fd);
  free(w->prefix);
  free(w);
}

/* Create a fresh reader table (new inode: nobody can hold a mapping). */
static int create_readers(smr_shm_writer *w, unsigned readers_mode) {
  char path[PATH_MAX];
  file_path(path, w->prefix, ".smr-readers", -1);
  int r = smr__file_unlink(path);
  if (r < 0 && r != -ENOENT)
    return r;
  int fd =
      smr__file_open(path, SMR__OPEN_RDWR | SMR__OPEN_CREATE | SMR__OPEN_EXCL,
                     readers_mode, w->exact_mode);
  if (fd < 0)
    return fd;
  w->readers_fd = fd;
  r = smr__file_allocate(fd, readers_size(w->nslots));
  if (r < 0)
    return r;
  void *p;
  r = smr__map(fd, readers_size(w->nslots), true, false, &p);
  if (r < 0)
    return r;
  w->rt = p;
  w->rt->layout = SMR__SHM_LAYOUT;
  w->rt->slots = w->nslots;
  /* release: readers validate magic with acquire, then read the rest. */
  atomic_store_explicit(&w->rt->magic, SMR__SHM_READERS_MAGIC,
                        memory_order_release);
  return 0;
}

static int writer_create(smr_shm_writer *w, const struct smr_shm_options *o) {
  unsigned flags = o ? o->flags : 0;
  w->nbuf = o && o->buffers ? o->buffers : 3;
  w->nslots = o && o->readers ? o->readers : 64;
  w->flags = flags & SMR__SHM_STATE_FLAGS;
  const char *env = smr__getenv("SMR_FENCE");
  if (env && strcmp(env, "symmetric") == 0)
    w->flags |= SMR__SHM_F_SYMMETRIC;
  /* No usable membarrier here (old kernel, seccomp): readers fence. */
  if (!(w->flags & SMR__SHM_F_SYMMETRIC) && smr__membarrier_global() < 0)
    w->flags |= SMR__SHM_F_SYMMETRIC;
  unsigned readers_mode = o && o->reader_mode ? o->reader_mode : 0666;
  int r = create_readers(w, readers_mode);
  if (r < 0)
    return r;
  /* Stale data files of an earlier channel: new inodes for those too. */
  char path[PATH_MAX];
  for (unsigned i = 0; i < SMR_SHM_MAX_BUFFERS; i++) {
    file_path(path, w->prefix, ".smr-data-", (int)i);
    r = smr__file_unlink(path);
    if (r < 0 && r != -ENOENT)
      return r;
  }
  r = smr__file_truncate(w->state_fd, 0);
  if (r == 0)
    r = smr__file_allocate(w->state_fd, SMR__SHM_HEADER_SIZE);
  if (r < 0)
    return r;
  void *p;
  r = smr__map(w->state_fd, SMR__SHM_HEADER_SIZE, true, false, &p);
  if (r < 0)
    return r;
  struct smr__shm_state *st = p;
  w->st = st;
  st->layout = SMR__SHM_LAYOUT;
  st->header_size = SMR__SHM_HEADER_SIZE;
  st->buffers = w->nbuf;
  st->slots = w->nslots;
  st->flags = w->flags;
  st->checksum_alg = (w->flags & SMR__SHM_F_NOSUM) ? 0 : SMR__SHM_SUM_XXH3;
  st->created_ns = (uint64_t)smr__now_ns();
  if (w->flags & SMR__SHM_F_DURABLE) {
    r = smr__map_sync(st, SMR__SHM_HEADER_SIZE);
    if (r < 0)
      return r;
  }
  /* release: everything above is visible to a reader that sees the magic
   * (pairs with the acquire load in check_state). */
  atomic_store_explicit(&st->magic, SMR__SHM_MAGIC, memory_order_release);
  return 0;
}

static int writer_takeover(smr_shm_writer *w) {
  void *p;
  int r = smr__map(w->state_fd, SMR__SHM_HEADER_SIZE, true, false, &p);
  if (r < 0)
    return r;
  w->st = p;
  uint64_t size;
  r = smr__file_stat(w->state_fd, &size, NULL);
  if (r == 0)
    r = check_state(w->st, size);
  if (r < 0)
    return r == -EAGAIN ? -EBADMSG : r;
  w->nbuf = w->st->buffers;
  w->nslots = w->st->slots;
  w->flags = w->st->flags;
  /* relaxed: the lock we hold orders us after the previous writer. */
  uint64_t cur = atomic_load_explicit(&w->st->current, memory_order_relaxed);
  if (cur && (SMR__SHM_INDEX(cur) >= w->nbuf || SMR__SHM_VERSION(cur) == 0))
    return -EBADMSG;
  char path[PATH_MAX];
  file_path(path, w->prefix, ".smr-readers", -1);
  /* A missing table is refused, not re-created: readers that have the old
   * one open would be invisible to us. */
  int fd = smr__file_open(path, SMR__OPEN_RDWR, 0, false);
  if (fd < 0)
    return fd == -ENOENT ? -EBADMSG : fd;
  w->readers_fd = fd;
  return map_readers(fd, w->nslots, true, &w->rt);
}

int smr_shm_writer_open(const char *name, const struct smr_shm_options *o,
                        smr_shm_writer **out) {
  if (!out)
    return -EINVAL;
  *out = NULL;
  if (o &&
      ((o->buffers && (o->buffers < 2 || o->buffers > SMR_SHM_MAX_BUFFERS)) ||
       o->readers > SMR_SHM_MAX_READERS || (o->flags & ~SMR__SHM_FLAGS_KNOWN) ||
       o->mode > 07777 || o->reader_mode > 07777))
    return -EINVAL;
  smr_shm_writer *w = calloc(1, sizeof *w);
  if (!w)
    return -ENOMEM;
  w->state_fd = w->readers_fd = -1;
  for (unsigned i = 0; i < SMR_SHM_MAX_BUFFERS; i++)
    w->data_fd[i] = -1;
  w->build = -1;
  w->owner_pid = smr__getpid();
  w->mode = o && o->mode ? o->mode : 0644;
  w->exact_mode = o && (o->flags & SMR_SHM_NO_UMASK);
  w->timeout_ns = o && o->timeout_set ? o->timeout_ns : DEFAULT_TIMEOUT_NS;
  int r = make_prefix(name, &w->prefix);
  if (r < 0) {
    free(w);
    return r;
  }
  char path[PATH_MAX];
  file_path(path, w->prefix, ".smr", -1);
  r = smr__file_open(path, SMR__OPEN_RDWR | SMR__OPEN_CREATE, w->mode,
                     w->exact_mode);
  if (r < 0)
    goto fail;
  w->state_fd = r;
  r = smr__lock_byte(w->state_fd, 0);
  if (r < 0) {
    r = r == -EAGAIN ? -EBUSY : r;
    goto fail;
  }
  uint64_t size;
  r = smr__file_stat(w->state_fd, &size, NULL);
  if (r < 0)
    goto fail;
  bool fresh = size == 0;
  if (!fresh && size >= SMR__SHM_HEADER_SIZE) {
    /* A writer that died while creating left magic 0: start again. */
    struct smr__shm_state *st;
    r = map_state(w->state_fd, false, &st);
    if (r < 0)
      goto fail;
    /* relaxed: we hold the writer lock; nobody writes the file. */
    fresh = atomic_load_explicit(&st->magic, memory_order_relaxed) == 0;
    smr__unmap(st, SMR__SHM_HEADER_SIZE);
  }
  r = fresh ? writer_create(w, o) : writer_takeover(w);
  if (r < 0)
    goto fail;
  w->symmetric = (w->flags & SMR__SHM_F_SYMMETRIC) != 0;
  /* Nothing this writer knows about the readers yet: a barrier comes
   * before the first reuse (decur 1 > covers 0). */
  w->pub_seq = 1;
  w->covers = 0;
  for (unsigned i = 0; i < w->nbuf; i++) {
    w->decur[i] = 1;
    /* relaxed: we hold the writer lock; descriptors are ours. */
    uint64_t v =
        atomic_load_explicit(&w->st->desc[i].version, memory_order_relaxed);
    w->held[i] = v ? (v << 8) | i : 0;
  }
  /* relaxed: statistics and flags only the writer writes; a waiting flag
   * left by a crashed writer is cleared (it only costs readers a syscall). */
  atomic_store_explicit(&w->st->waiting, 0, memory_order_relaxed);
  atomic_store_explicit(&w->st->writer_pid, (uint32_t)smr__getpid(),
                        memory_order_relaxed);
  /* A writer that died between storing `current` and waking readers:
   * bring `notify` up to date and wake them (release: pairs with the
   * readers' load of notify). */
  uint64_t now_cur =
      atomic_load_explicit(&w->st->current, memory_order_relaxed);
  atomic_store_explicit(&w->st->notify, (uint32_t)SMR__SHM_VERSION(now_cur),
                        memory_order_release);
  smr__futex_wake(&w->st->notify, INT_MAX);
  *out = w;
  return 0;
fail:
  writer_free(w);
  return r;
}

void smr_shm_writer_close(smr_shm_writer *w) {
  if (!w)
    return;
  writer_free(w);
}

void smr_shm_writer_set_timeout(smr_shm_writer *w, int64_t timeout_ns) {
  if (w)
    w->timeout_ns = timeout_ns;
}

/* The heavy barrier that lets the writer trust a scan: every reader either
 * made its announcement visible or will see the new `current`. */
static int writer_barrier(smr_shm_writer *w) {
  if (w->symmetric) {
    smr__fence_seq_cst(); /* pairs with the readers' fence after announcing */
    return 0;
  }
  smr__fence_seq_cst(); /* our stores before the barrier (membarrier also
                           fences the caller; this keeps TSAN informed) */
  return smr__membarrier_global();
}

/* Scan the table.  *active: bit i set if a slot holds a guard on a version
 * of buffer i.  *idle: bit i set if an idle slot announces held[i], the
 * version buffer i still holds (its owner may be about to mark it active:
 * only a heavy barrier after buffer i stopped being current rules that
 * out).  Idle slots announcing anything else can never use their buffer
 * again without a new announcement (versions only grow). */
static void scan_pins(smr_shm_writer *w, uint32_t *active, uint32_t *idle) {
  uint32_t a = 0, d = 0;
  for (unsigned i = 0; i < w->nslots; i++) {
    struct smr__shm_slot *s = slot_at(w->rt, i);
    /* acquire (both): pairs with the reader's release store of active = 0,
     * so its reads of a buffer happen before we reuse it. */
    uint64_t p = atomic_load_explicit(&s->pin, memory_order_acquire);
    if (!p || SMR__SHM_INDEX(p) >= w->nbuf)
      continue;
    uint32_t bit = 1u << SMR__SHM_INDEX(p);
    if (atomic_load_explicit(&s->active, memory_order_acquire))
      a |= bit;
    else if (p == w->held[SMR__SHM_INDEX(p)])
      d |= bit;
  }
  *active = a;
  *idle = d;
}

/* Buffers of `candidates` usable now: not held by an active slot, and not
 * announced by an idle one unless a heavy barrier followed their
 * de-current. */
static uint32_t usable(smr_shm_writer *w, uint32_t candidates, uint32_t active,
                       uint32_t idle) {
  uint32_t ok = 0;
  for (unsigned i = 0; i < w->nbuf; i++) {
    uint32_t bit = 1u << i;
    if ((candidates & bit) && !(active & bit) &&
        (!(idle & bit) || w->decur[i] <= w->covers))
      ok |= bit;
  }
  return ok;
}

/* Reclaim the slots of dead readers that pin a buffer in `mask`.  Returns
 * how many were reclaimed or a negative errno. */
static int reclaim_dead(smr_shm_writer *w, uint32_t mask) {
  int n = 0;
  for (unsigned i = 0; i < w->nslots; i++) {
    struct smr__shm_slot *s = slot_at(w->rt, i);
    /* relaxed: a hint; the lock below decides. */
    uint64_t p = atomic_load_explicit(&s->pin, memory_order_relaxed);
    if (!p || SMR__SHM_INDEX(p) >= w->nbuf ||
        !(mask & (1u << SMR__SHM_INDEX(p))))
      continue;
    int r = smr__lock_byte(w->readers_fd, slot_off(i));
    if (r == -EAGAIN)
      continue; /* alive */
    if (r < 0)
      return r;
    /* We hold the slot's lock: its owner is dead and nobody can claim it
     * until we unlock.  release: orders nothing we need, but keeps the
     * slot's stores in order for a reader that claims it next. */
    atomic_store_explicit(&s->active, 0, memory_order_release);
    atomic_store_explicit(&s->pin, 0, memory_order_release);
    atomic_store_explicit(&s->pid, 0, memory_order_relaxed);
    /* `waiters` is not decremented for a dead waiter: counting too high
     * costs a futex_wake per publish, too low would lose a live waiter's
     * wake-up (its `waiting` flag does not say whether it was counted). */
    atomic_store_explicit(&s->waiting, 0, memory_order_relaxed);
    smr__unlock_byte(w->readers_fd, slot_off(i));
    /* relaxed: statistics. */
    atomic_fetch_add_explicit(&w->st->dead_reclaimed, 1, memory_order_relaxed);
    n++;
  }
  return n;
}

/* Pick a buffer to build into: not current, de-current before the last
 * barrier, unpinned in a scan after it.  Waits for live readers up to the
 * timeout; reclaims dead ones on the way. */
static int choose_buffer(smr_shm_writer *w, unsigned *out) {
  /* relaxed: only this writer stores `current`. */
  uint64_t cur = atomic_load_explicit(&w->st->current, memory_order_relaxed);
  int cur_idx = cur ? (int)SMR__SHM_INDEX(cur) : -1;
  int64_t deadline = 0, start = 0, slice = LIVENESS_MIN_NS;
  uint32_t candidates = 0;
  for (unsigned i = 0; i < w->nbuf; i++)
    if ((int)i != cur_idx)
      candidates |= 1u << i;
  if (!w->barrier_done) {
    /* First choice of this writer: what readers did before it opened
     * (another writer's publishes included) is covered from here on. */
    int r = writer_barrier(w);
    if (r < 0)
      return r;
    w->covers = w->pub_seq;
    w->barrier_done = true;
  }
  for (;;) {
    /* Our store of `current` before the scan's loads (pairs with the
     * reader's fence between announcing and re-validating). */
    smr__fence_seq_cst();
    uint32_t active, idle;
    scan_pins(w, &active, &idle);
    uint32_t ok = usable(w, candidates, active, idle);
    int best = -1;
    for (unsigned i = 0; i < w->nbuf; i++)
      if ((ok & (1u << i)) && (best < 0 || w->decur[i] < w->decur[best]))
        best = (int)i;
    if (best >= 0) {
      if (start)
        w->build_waited = smr__now_ns() - start;
      *out = (unsigned)best;
      return 0;
    }
    if (candidates & ~active) {
      /* Only idle announcements stand in the way: one barrier covers them
       * (every buffer de-current so far). */
      int r = writer_barrier(w);
      if (r < 0)
        return r;
      w->covers = w->pub_seq;
      continue; /* rescan after the barrier */
    }
    /* Every candidate is pinned.  Dead readers first: no waiting for them. */
    int n = reclaim_dead(w, candidates);
    if (n < 0)
      return n;
    if (w->timeout_ns == 0 && n == 0)
      return -EBUSY;
    int64_t now = smr__now_ns();
    if (n > 0) {
      /* Re-check, but a table rewritten under us (hostile) must not keep
       * us here past the deadline. */
      w->build_reclaimed += (unsigned)n;
      if (!start) {
        start = now;
        deadline = deadline_of(w->timeout_ns);
      }
      if (now >= deadline && w->timeout_ns >= 0 &&
          w->build_reclaimed > w->nslots)
        return -EBUSY;
      continue;
    }
    if (!start) {
      start = now;
      deadline = deadline_of(w->timeout_ns);
    }
    if (now >= deadline) {
      w->build_waited = now - start;
      return -EBUSY;
    }
    /* Ask releasing readers to wake us, then look once more: a reader that
     * released before seeing the flag is seen by the rescan (the barrier
     * orders its `pin = 0` before our loads, or our flag before its load). */
    atomic_store_explicit(&w->st->waiting, 1, memory_order_relaxed);
    /* acquire: pairs with the readers' release increment. */
    uint32_t seq =
        atomic_load_explicit(&w->rt->release_seq, memory_order_acquire);
    int r = writer_barrier(w);
    if (r < 0) {
      /* relaxed: a hint for releasing readers (see the store above). */
      atomic_store_explicit(&w->st->waiting, 0, memory_order_relaxed);
      return r;
    }
    w->covers = w->pub_seq;
    scan_pins(w, &active, &idle);
    if (usable(w, candidates, active, idle)) {
      /* relaxed: as above. */
      atomic_store_explicit(&w->st->waiting, 0, memory_order_relaxed);
      continue;
    }
    int64_t wait = deadline - now < slice ? deadline - now : slice;
    smr__futex_wait(&w->rt->release_seq, seq, wait);
    if (slice < LIVENESS_MAX_NS)
      slice *= 2;
    /* relaxed: see above; cleared so releases stop calling futex_wake. */
    atomic_store_explicit(&w->st->waiting, 0, memory_order_relaxed);
  }
}

/* Make buffer i's file hold `cap` bytes and map it for writing. */
static int prepare_buffer(smr_shm_writer *w, unsigned i, uint64_t cap) {
  int r;
  if (w->data_fd[i] < 0) {
    char path[PATH_MAX];
    file_path(path, w->prefix, ".smr-data-", (int)i);
    r = smr__file_open(path, SMR__OPEN_RDWR | SMR__OPEN_CREATE, w->mode,
                       w->exact_mode);
    if (r < 0)
      return r;
    w->data_fd[i] = r;
    r = smr__file_stat(r, &w->file_size[i], NULL);
    if (r == 0)
      r = smr__file_id(w->data_fd[i], &w->file_dev[i], &w->file_ino[i]);
    if (r < 0)
      return r;
  }
  uint64_t page = 4096;
  uint64_t need = (cap + page - 1) & ~(page - 1);
  uint64_t have = w->file_size[i];
  uint64_t want = have;
  if (need > have) {
    /* Grow by at least a quarter so a slowly growing payload does not
     * fallocate on every publish; fall back to the exact need. */
    want = have + have / 4 > need ? (have + have / 4 + page - 1) & ~(page - 1)
                                  : need;
    r = smr__file_allocate(w->data_fd[i], want);
    if (r < 0 && want != need) {
      want = need;
      r = smr__file_allocate(w->data_fd[i], want);
    }
    if (r < 0)
      return r;
  } else if (have > 4 * need && have - need > (1u << 20)) {
    /* Shrink a much too large file.  Safe: nobody pins this buffer, and
     * readers never touch bytes past the payload they pinned. */
    want = need;
    r = smr__file_truncate(w->data_fd[i], want);
    if (r < 0)
      return r;
  }
  if (want != have || (want && w->map_len[i] != want)) {
    smr__unmap(w->map[i], w->map_len[i]);
    w->map[i] = NULL;
    w->map_len[i] = 0;
    w->file_size[i] = want;
    if (want) {
      void *p;
      r = smr__map(w->data_fd[i], want, true, true, &p);
      if (r < 0)
        return r;
      w->map[i] = p;
      w->map_len[i] = want;
    }
  }
  return 0;
}

int smr_shm_begin(smr_shm_writer *w, uint64_t capacity, void **buf) {
  if (!w || !buf)
    return -EINVAL;
  if (w->build >= 0)
    return -EBUSY;
  if (capacity > SMR_SHM_MAX_PAYLOAD)
    return -EFBIG;
  w->build_reclaimed = 0;
  w->build_waited = 0;
  unsigned i;
  int r = choose_buffer(w, &i);
  if (r < 0)
    return r;
  r = prepare_buffer(w, i, capacity);
  if (r < 0)
    return r;
  w->build = (int)i;
  w->build_cap = capacity;
  *buf = w->map[i] ? (void *)w->map[i] : (void *)empty_payload;
  return 0;
}

int smr_shm_abort(smr_shm_writer *w) {
  if (!w || w->build < 0)
    return -EINVAL;
  w->build = -1;
  return 0;
}

static int commit_sum(smr_shm_writer *w, uint64_t size, uint64_t sum,
                      bool have_sum, struct smr_shm_commit_info *info) {
  if (!w || w->build < 0 || size > w->build_cap)
    return -EINVAL;
  unsigned i = (unsigned)w->build;
  int r;
  if (w->flags & SMR__SHM_F_NOSUM)
    sum = 0;
  else if (!have_sum)
    sum = size ? checksum(w->map[i], size) : checksum(empty_payload, 0);
  if ((w->flags & SMR__SHM_F_DURABLE) && size) {
    r = smr__map_sync(w->map[i], size);
    if (r == 0)
      r = smr__file_sync(w->data_fd[i]);
    if (r < 0)
      return -EIO;
  }
  /* relaxed: only this writer stores `current`. */
  uint64_t old = atomic_load_explicit(&w->st->current, memory_order_relaxed);
  uint64_t version = SMR__SHM_VERSION(old) + 1;
  if (version > (UINT64_MAX >> 8))
    return -EOVERFLOW; /* 2^56 versions: only a corrupt file gets here */
  struct smr__shm_desc *d = &w->st->desc[i];
  /* relaxed: published by the release store of `current` below. */
  atomic_store_explicit(&d->version, version, memory_order_relaxed);
  atomic_store_explicit(&d->size, size, memory_order_relaxed);
  atomic_store_explicit(&d->checksum, sum, memory_order_relaxed);
  atomic_store_explicit(&d->file_size, w->file_size[i], memory_order_relaxed);
  atomic_store_explicit(&d->file_dev, w->file_dev[i], memory_order_relaxed);
  atomic_store_explicit(&d->file_ino, w->file_ino[i], memory_order_relaxed);
  w->pub_seq++;
  if (old)
    w->decur[SMR__SHM_INDEX(old)] = w->pub_seq;
  w->held[i] = (version << 8) | i;
  /* release: the payload and descriptor happen before any reader that
   * loads this value (pairs with the acquire loads in smr_shm_read). */
  atomic_store_explicit(&w->st->current, (version << 8) | i,
                        memory_order_release);
  w->build = -1;
  /* relaxed: statistics. */
  atomic_fetch_add_explicit(&w->st->publishes, 1, memory_order_relaxed);
  /* release: pairs with the acquire load of notify in smr_shm_wait. */
  atomic_store_explicit(&w->st->notify, (uint32_t)version,
                        memory_order_release);
  /* StoreLoad: our notify store before the waiters load; pairs with the
   * seq_cst increment of waiters before the reader's load of notify. */
  smr__fence_seq_cst();
  if (atomic_load_explicit(&w->rt->waiters, memory_order_relaxed))
    smr__futex_wake(&w->st->notify, INT_MAX);
  if (w->flags & SMR__SHM_F_DURABLE) {
    r = smr__map_sync(w->st, SMR__SHM_HEADER_SIZE);
    if (r < 0)
      return -EIO; /* published, but not yet durable */
  }
  if (info) {
    info->version = version;
    info->bytes = size;
    info->buffer = i;
    info->dead_reclaimed = w->build_reclaimed;
    info->waited_ns = w->build_waited;
  }
  return 0;
}

int smr_shm_commit(smr_shm_writer *w, uint64_t size,
                   struct smr_shm_commit_info *info) {
  return commit_sum(w, size, 0, false, info);
}

int smr_shm_publish(smr_shm_writer *w, const void *data, uint64_t size,
                    struct smr_shm_commit_info *info) {
  if (!w || (!data && size))
    return -EINVAL;
  void *buf;
  int r = smr_shm_begin(w, size, &buf);
  if (r < 0)
    return r;
  if (w->flags & SMR__SHM_F_NOSUM) {
    if (size)
      memcpy(buf, data, (size_t)size);
    return commit_sum(w, size, 0, true, info);
  }
  /* Copy and hash in one pass, each chunk hashed while still in cache. */
  uint64_t sum = smr__copy_hash(buf, data, (size_t)size);
  return commit_sum(w, size, sum, true, info);
}

/* ---- reader -------------------------------------------------------------- */

struct reader {
  smr_shm_reader pub; /* first: the public head */
  char *prefix;
  int state_fd, readers_fd;
  struct smr__shm_state *st;   /* read-only */
  struct smr__shm_readers *rt; /* read-write (our slot only) */
  struct smr__shm_slot *slot;
  unsigned nbuf, nslots, slot_index, open_flags, chan_flags;
  bool symmetric;
  int owner_pid;
  int data_fd[SMR_SHM_MAX_BUFFERS];
  const unsigned char *map[SMR_SHM_MAX_BUFFERS];
  uint64_t map_len[SMR_SHM_MAX_BUFFERS];
  uint64_t file_dev[SMR_SHM_MAX_BUFFERS], file_ino[SMR_SHM_MAX_BUFFERS];
  uint64_t last_read; /* `current` of the previous successful read */
  uint64_t verified;  /* `current` whose checksum was verified */
  void (*hook)(smr_shm_reader *, void *);
  void *hook_arg;
  bool skip_validate;
};

static struct reader *R(smr_shm_reader *r) {
  return (struct reader *)r;
}

static void reader_free(struct reader *h) {
  for (unsigned i = 0; i < SMR_SHM_MAX_BUFFERS; i++) {
    smr__unmap((void *)h->map[i], h->map_len[i]);
    smr__file_close(h->data_fd[i]);
  }
  /* A child after fork shares the slot lock's open file description with
   * its parent: leave the slot alone (closing our fd keeps the lock). */
  if (h->slot && h->owner_pid == smr__getpid()) {
    /* release: our last reads of any buffer happen before a writer that
     * sees the slot empty; then the lock is dropped. */
    atomic_store_explicit(&h->slot->active, 0, memory_order_release);
    atomic_store_explicit(&h->slot->pin, 0, memory_order_release);
    atomic_store_explicit(&h->slot->pid, 0, memory_order_relaxed);
    smr__unlock_byte(h->readers_fd, slot_off(h->slot_index));
  }
  if (h->rt)
    smr__unmap(h->rt, readers_size(h->nslots));
  if (h->st)
    smr__unmap(h->st, SMR__SHM_HEADER_SIZE);
  smr__file_close(h->readers_fd);
  smr__file_close(h->state_fd);
  free(h->prefix);
  free(h);
}

/* Open and validate the state and reader table; writable_table selects
 * whether the table is mapped for writing (readers) or not (stat). */
static int open_channel(struct reader *h, const char *name,
                        bool writable_table) {
  int r = make_prefix(name, &h->prefix);
  if (r < 0)
    return r;
  char path[PATH_MAX];
  file_path(path, h->prefix, ".smr", -1);
  r = smr__file_open(path, SMR__OPEN_READ, 0, false);
  if (r < 0)
    return r;
  h->state_fd = r;
  r = map_state(h->state_fd, false, &h->st);
  if (r < 0)
    return r;
  uint64_t size;
  r = smr__file_stat(h->state_fd, &size, NULL);
  if (r == 0)
    r = check_state(h->st, size);
  if (r < 0)
    return r;
  h->nbuf = h->st->buffers;
  h->nslots = h->st->slots;
  h->chan_flags = h->st->flags;
  file_path(path, h->prefix, ".smr-readers", -1);
  r = smr__file_open(path, writable_table ? SMR__OPEN_RDWR : SMR__OPEN_READ, 0,
                     false);
  if (r < 0)
    return r == -ENOENT ? -EBADMSG : r;
  h->readers_fd = r;
  return map_readers(h->readers_fd, h->nslots, writable_table, &h->rt);
}

static struct reader *reader_alloc(void) {
  struct reader *h = calloc(1, sizeof *h);
  if (!h)
    return NULL;
  h->state_fd = h->readers_fd = -1;
  for (unsigned i = 0; i < SMR_SHM_MAX_BUFFERS; i++)
    h->data_fd[i] = -1;
  return h;
}

int smr_shm_reader_open(const char *name, unsigned flags,
                        smr_shm_reader **out) {
  if (!out || (flags & ~SMR_SHM_VERIFY))
    return -EINVAL;
  *out = NULL;
  struct reader *h = reader_alloc();
  if (!h)
    return -ENOMEM;
  h->open_flags = flags;
  int r = open_channel(h, name, true);
  if (r < 0)
    goto fail;
  h->owner_pid = smr__getpid();
  /* Claim a slot: the first whose lock we get (free, or its owner died). */
  unsigned start = (unsigned)h->owner_pid % h->nslots;
  r = -EUSERS;
  for (unsigned j = 0; j < h->nslots; j++) {
    unsigned i = (start + j) % h->nslots;
    int lr = smr__lock_byte(h->readers_fd, slot_off(i));
    if (lr == -EAGAIN)
      continue;
    if (lr < 0) {
      r = lr;
      break;
    }
    h->slot_index = i;
    h->slot = slot_at(h->rt, i);
    r = 0;
    break;
  }
  if (r < 0)
    goto fail;
  /* Our own slot; a stale pin of a dead owner is overwritten (release so
   * the writer's acquire scan orders nothing stale after it). */
  atomic_store_explicit(&h->slot->active, 0, memory_order_release);
  atomic_store_explicit(&h->slot->pin, 0, memory_order_release);
  atomic_store_explicit(&h->slot->waiting, 0, memory_order_relaxed);
  atomic_store_explicit(&h->slot->pid, (uint32_t)h->owner_pid,
                        memory_order_relaxed);
  /* relaxed: a statistic of our own slot. */
  atomic_fetch_add_explicit(&h->slot->claims, 1, memory_order_relaxed);
  h->symmetric = (h->chan_flags & SMR__SHM_F_SYMMETRIC) != 0;
  /* If registration fails we fence ourselves: always correct, whatever
   * barrier the writer uses. */
  if (!h->symmetric && smr__membarrier_global_register() < 0)
    h->symmetric = true;
  h->pub.current = &h->st->current;
  h->pub.waiting = &h->st->waiting;
  h->pub.active = &h->slot->active;
  /* No view yet: the fast path needs flags == 0. */
  h->pub.flags = SMR__SHM_NOVIEW | (h->symmetric ? SMR__SHM_SLOW : 0);
  h->pub.cached = 0;
  *out = &h->pub;
  return 0;
fail:
  reader_free(h);
  return r;
}

int smr_shm_reader_close(smr_shm_reader *r) {
  if (!r)
    return 0;
  if (r->flags & SMR__SHM_HELD)
    return -EBUSY;
  reader_free(R(r));
  return 0;
}

/* Validate the descriptor of `cur` (pinned) and map its buffer. */
static int prepare_view(struct reader *h, uint64_t cur) {
  unsigned i = SMR__SHM_INDEX(cur);
  if (i >= h->nbuf || SMR__SHM_VERSION(cur) == 0)
    return -EBADMSG;
  struct smr__shm_desc *d = &h->st->desc[i];
  /* relaxed: ordered after our acquire load of `current`, which the writer
   * stored (release) after these. */
  uint64_t version = atomic_load_explicit(&d->version, memory_order_relaxed);
  uint64_t size = atomic_load_explicit(&d->size, memory_order_relaxed);
  if (version != SMR__SHM_VERSION(cur) || size > SMR_SHM_MAX_PAYLOAD)
    return -EBADMSG;
  int r;
  if (h->data_fd[i] < 0) {
    char path[PATH_MAX];
    file_path(path, h->prefix, ".smr-data-", (int)i);
    r = smr__file_open(path, SMR__OPEN_READ, 0, false);
    if (r < 0)
      return r == -ENOENT ? -EBADMSG : r;
    h->data_fd[i] = r;
    r = smr__file_id(r, &h->file_dev[i], &h->file_ino[i]);
    if (r < 0)
      return r;
  }
  /* The file we hold must be the one the descriptor names: after the
   * channel was unlinked and created again under the same name, the path
   * leads to another channel's file. */
  if (atomic_load_explicit(&d->file_dev, memory_order_relaxed) !=
          h->file_dev[i] ||
      atomic_load_explicit(&d->file_ino, memory_order_relaxed) !=
          h->file_ino[i])
    return -ESTALE;
  if (size > h->map_len[i]) {
    uint64_t fsize;
    r = smr__file_stat(h->data_fd[i], &fsize, NULL);
    if (r < 0)
      return r;
    if (fsize < size)
      return -EBADMSG;
    smr__unmap((void *)h->map[i], h->map_len[i]);
    h->map[i] = NULL;
    h->map_len[i] = 0;
    void *p;
    r = smr__map(h->data_fd[i], fsize, false, false, &p);
    if (r < 0)
      return r == -EINVAL || r == -EOVERFLOW ? -ENOMEM : r;
    h->map[i] = p;
    h->map_len[i] = fsize;
  }
  const void *data =
      size ? (const void *)h->map[i] : (const void *)empty_payload;
  if ((h->open_flags & SMR_SHM_VERIFY) && h->verified != cur &&
      !(h->chan_flags & SMR__SHM_F_NOSUM)) {
    /* relaxed: ordered like version and size above. */
    uint64_t sum = atomic_load_explicit(&d->checksum, memory_order_relaxed);
    if (checksum(data, size) != sum)
      return -EBADMSG;
    h->verified = cur;
  }
  h->pub.cached = cur;
  h->pub.cached_data = data;
  h->pub.cached_size = size;
  h->pub.flags &= ~SMR__SHM_NOVIEW;
  return 0;
}

static void unpin(struct reader *h) {
  /* release: our reads of the buffer happen before the writer reuses it
   * (pairs with the acquire loads in the writer's scan). */
  atomic_store_explicit(&h->slot->active, 0, memory_order_release);
  h->pub.flags &= ~SMR__SHM_HELD;
  /* StoreLoad before reading `waiting`: the writer's barrier in
   * asymmetric mode, our own fence in symmetric mode. */
  if (h->symmetric)
    smr__fence_seq_cst();
  else
    atomic_signal_fence(memory_order_seq_cst);
}

int smr__shm_read_slow(smr_shm_reader *pub) {
  struct reader *h = R(pub);
  if (pub->flags & SMR__SHM_HELD)
    return -EBUSY;
  SMR_ASSERT(h->owner_pid == smr__getpid() && "reader handle used after fork");
  uint64_t cur;
  for (;;) {
    /* acquire: pairs with the writer's release store of `current`. */
    cur = atomic_load_explicit(h->pub.current, memory_order_acquire);
    if (cur == 0) {
      /* release: our earlier reads before a writer that sees it idle. */
      atomic_store_explicit(&h->slot->active, 0, memory_order_release);
      return -ENODATA;
    }
    if (h->hook)
      h->hook(pub, h->hook_arg);
    /* Announce cur (it stays announced after release: the fast path then
     * only flips `active`).  relaxed: ordered before the re-load by the
     * fence, which pairs with the writer's fence between its store of
     * `current` and its scan (Dekker: it sees our pin, or we see its
     * store). */
    atomic_store_explicit(&h->slot->pin, cur, memory_order_relaxed);
    atomic_store_explicit(&h->slot->active, 1, memory_order_relaxed);
    smr__fence_seq_cst();
    if (h->skip_validate)
      break;
    /* acquire: as above. */
    if (atomic_load_explicit(h->pub.current, memory_order_acquire) == cur)
      break;
  }
  pub->flags |= SMR__SHM_HELD;
  if (cur != pub->cached || (pub->flags & SMR__SHM_NOVIEW)) {
    int r = prepare_view(h, cur);
    if (r < 0) {
      /* The fast path needs cached == our announcement: invalidate. */
      pub->flags |= SMR__SHM_NOVIEW;
      smr__shm_release_slow(pub);
      return r;
    }
  }
  pub->switched = cur != h->last_read;
  h->last_read = cur;
  return 0;
}

void smr__shm_release_slow(smr_shm_reader *pub) {
  struct reader *h = R(pub);
  if (pub->flags & SMR__SHM_HELD)
    unpin(h);
  /* relaxed: ordered after the unpin by the barrier discussed there. */
  if (atomic_load_explicit(&h->st->waiting, memory_order_relaxed)) {
    /* release: pairs with the writer's acquire load of release_seq. */
    atomic_fetch_add_explicit(&h->rt->release_seq, 1, memory_order_release);
    smr__futex_wake(&h->rt->release_seq, 1);
  }
}

int smr_shm_verify(smr_shm_reader *pub, const smr_shm_guard *g) {
  if (!pub || !g || !(pub->flags & SMR__SHM_HELD))
    return -EINVAL;
  struct reader *h = R(pub);
  if (h->chan_flags & SMR__SHM_F_NOSUM)
    return -ENOTSUP;
  unsigned i = SMR__SHM_INDEX(pub->cached);
  /* relaxed: the descriptor of a pinned buffer does not change. */
  uint64_t sum =
      atomic_load_explicit(&h->st->desc[i].checksum, memory_order_relaxed);
  return checksum(g->data, g->size) == sum ? 0 : -EBADMSG;
}

uint64_t smr_shm_version(smr_shm_reader *pub) {
  if (!pub)
    return 0;
  /* acquire: pairs with the writer's release store of `current`. */
  return SMR__SHM_VERSION(
      atomic_load_explicit(pub->current, memory_order_acquire));
}

int smr_shm_wait(smr_shm_reader *pub, uint64_t version, int64_t timeout_ns) {
  if (!pub)
    return -EINVAL;
  if (pub->flags & SMR__SHM_HELD)
    return -EBUSY;
  struct reader *h = R(pub);
  int64_t deadline = deadline_of(timeout_ns);
  /* relaxed: our own slot; informs the writer's dead-slot bookkeeping. */
  atomic_store_explicit(&h->slot->waiting, 1, memory_order_relaxed);
  int r;
  for (;;) {
    /* seq_cst RMW: our increment before our load of notify; pairs with
     * the writer's fence between its notify store and waiters load. */
    atomic_fetch_add_explicit(&h->rt->waiters, 1, memory_order_seq_cst);
    /* seq_cst: must not be ordered before the increment above (an acquire
     * load may be, in C11); also pairs with the writer's notify store. */
    uint32_t n = atomic_load_explicit(&h->st->notify, memory_order_seq_cst);
    /* acquire: pairs with the writer's release store of `current`. */
    uint64_t cur = atomic_load_explicit(h->pub.current, memory_order_acquire);
    int64_t now = smr__now_ns();
    r = 1; /* wait again */
    if (SMR__SHM_VERSION(cur) != version) {
      r = 0;
    } else if (now >= deadline) {
      r = -ETIMEDOUT;
    } else {
      /* Slices of at most 1 s: a writer that died between publishing and
       * waking, or a hostile `waiters`, delays us by a slice, no more. */
      int64_t slice = deadline - now < 1000000000 ? deadline - now : 1000000000;
      smr__futex_wait(&h->st->notify, n, slice);
    }
    /* relaxed: the count is only a hint for the writer's wake-up. */
    atomic_fetch_sub_explicit(&h->rt->waiters, 1, memory_order_relaxed);
    if (r <= 0)
      break;
  }
  /* relaxed: our own slot, as above. */
  atomic_store_explicit(&h->slot->waiting, 0, memory_order_relaxed);
  if (r == -ETIMEDOUT) {
    uint64_t nlink;
    if (smr__file_stat(h->state_fd, NULL, &nlink) == 0 && nlink == 0)
      r = -ESTALE;
  }
  return r;
}

void smr__shm_set_test_hook(smr_shm_reader *pub,
                            void (*hook)(smr_shm_reader *, void *), void *arg,
                            bool unsafe_skip_validate) {
  struct reader *h = R(pub);
  h->hook = hook;
  h->hook_arg = arg;
  h->skip_validate = unsafe_skip_validate;
  if (hook || unsafe_skip_validate)
    pub->flags |= SMR__SHM_SLOW;
  else if (!h->symmetric)
    pub->flags &= ~SMR__SHM_SLOW;
}

/* ---- unlink and stat ----------------------------------------------------- */

int smr_shm_unlink(const char *name) {
  char *prefix;
  int r = make_prefix(name, &prefix);
  if (r < 0)
    return r;
  char path[PATH_MAX];
  file_path(path, prefix, ".smr", -1);
  int fd = smr__file_open(path, SMR__OPEN_READ, 0, false);
  if (fd < 0) {
    free(prefix);
    return fd;
  }
  r = smr__lock_held(fd, 0);
  smr__file_close(fd);
  if (r != 0) {
    free(prefix);
    return r > 0 ? -EBUSY : r;
  }
  r = smr__file_unlink(path);
  if (r == 0) {
    file_path(path, prefix, ".smr-readers", -1);
    smr__file_unlink(path);
    for (int i = 0; i < (int)SMR_SHM_MAX_BUFFERS; i++) {
      file_path(path, prefix, ".smr-data-", i);
      smr__file_unlink(path);
    }
  }
  free(prefix);
  return r;
}

int smr_shm_stat(const char *name, unsigned flags, struct smr_shm_stat *st,
                 struct smr_shm_reader_stat *rs, size_t cap, size_t *nrs) {
  if (!st || (cap && !rs) || (flags & ~SMR_SHM_STAT_VERIFY))
    return -EINVAL;
  memset(st, 0, sizeof *st);
  if (nrs)
    *nrs = 0;
  struct reader *h = reader_alloc();
  if (!h)
    return -ENOMEM;
  int r = open_channel(h, name, false);
  if (r < 0)
    goto out;
  struct smr__shm_state *s = h->st;
  /* acquire: pairs with the writer's release store of `current`. */
  uint64_t cur = atomic_load_explicit(&s->current, memory_order_acquire);
  unsigned ci = SMR__SHM_INDEX(cur);
  if (cur && (ci >= h->nbuf || SMR__SHM_VERSION(cur) == 0)) {
    r = -EBADMSG;
    goto out;
  }
  st->version = SMR__SHM_VERSION(cur);
  st->buffers = h->nbuf;
  st->readers_max = h->nslots;
  st->flags = h->chan_flags;
  /* relaxed: statistics, informational. */
  st->writer_pid =
      (int)atomic_load_explicit(&s->writer_pid, memory_order_relaxed);
  st->publishes = atomic_load_explicit(&s->publishes, memory_order_relaxed);
  st->dead_reclaimed =
      atomic_load_explicit(&s->dead_reclaimed, memory_order_relaxed);
  r = smr__lock_held(h->state_fd, 0);
  if (r < 0)
    goto out;
  st->writer_alive = r > 0;
  for (unsigned i = 0; i < h->nbuf; i++) {
    struct smr__shm_desc *d = &s->desc[i];
    /* relaxed: a snapshot for display; may be mid-update. */
    st->buffer[i].version =
        atomic_load_explicit(&d->version, memory_order_relaxed);
    st->buffer[i].size = atomic_load_explicit(&d->size, memory_order_relaxed);
    st->buffer[i].file_size =
        atomic_load_explicit(&d->file_size, memory_order_relaxed);
    st->buffer[i].current = cur && i == ci;
  }
  if (cur)
    st->size = st->buffer[ci].size;
  size_t n = 0;
  for (unsigned i = 0; i < h->nslots; i++) {
    struct smr__shm_slot *sl = slot_at(h->rt, i);
    /* relaxed: display only. */
    uint64_t pin = atomic_load_explicit(&sl->pin, memory_order_relaxed);
    bool active = atomic_load_explicit(&sl->active, memory_order_relaxed);
    uint32_t pid = atomic_load_explicit(&sl->pid, memory_order_relaxed);
    r = smr__lock_held(h->readers_fd, slot_off(i));
    if (r < 0)
      goto out;
    if (!pid && !pin && !r)
      continue;
    if (r) {
      st->readers++;
      if (active && pin && SMR__SHM_INDEX(pin) < h->nbuf)
        st->buffer[SMR__SHM_INDEX(pin)].pinned++;
    }
    if (n < cap) {
      rs[n].slot = i;
      rs[n].pid = (int)pid;
      rs[n].alive = r > 0;
      rs[n].last_version = SMR__SHM_VERSION(pin);
      rs[n].pinned_version = active ? SMR__SHM_VERSION(pin) : 0;
      rs[n].lag = pin && SMR__SHM_VERSION(pin) <= st->version
                      ? st->version - SMR__SHM_VERSION(pin)
                      : 0;
    }
    n++;
  }
  if (nrs)
    *nrs = n;
  r = 0;
  if (h->chan_flags & SMR__SHM_F_NOSUM) {
    st->checksum = SMR_SHM_CHECKSUM_NONE;
  } else if (!(flags & SMR_SHM_STAT_VERIFY) || !cur) {
    st->checksum = SMR_SHM_CHECKSUM_SKIP;
  } else {
    smr_shm_reader *rd;
    r = smr_shm_reader_open(name, 0, &rd);
    if (r < 0)
      goto out;
    smr_shm_guard g;
    r = smr_shm_read(rd, &g);
    if (r == 0) {
      st->checksum = smr_shm_verify(rd, &g) == 0 ? SMR_SHM_CHECKSUM_OK
                                                 : SMR_SHM_CHECKSUM_BAD;
      smr_shm_release(rd, &g);
    } else if (r == -EBADMSG || r == -ESTALE) {
      st->checksum = SMR_SHM_CHECKSUM_BAD;
      r = 0;
    }
    smr_shm_reader_close(rd);
  }
out:
  reader_free(h);
  return r;
}
