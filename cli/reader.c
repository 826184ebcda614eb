/* SPDX-License-Identifier: MIT */
/* The reading side's shared steps: open a verifying reader, read the
 * current version, check that its payload is a table (struct table_read),
 * and the messages for each step's failure.  One-shot lookups (smr get)
 * open lazily instead (open_table_lazy): O(1) to open, and the checksum of
 * each block a lookup reads verified before it is used or, with smr get
 * --no-verify, the whole payload's only when in doubt. */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <string.h>

#include "cli.h"

/* Readers verify: a payload whose checksum does not match is refused
 * (-EBADMSG) rather than printed.  bench's lookup processes opt out. */
int open_reader(const char *ch, smr_channel_reader **r) {
  int e = smr_channel_reader_open(ch, SMR_CHANNEL_VERIFY, r);
  if (e < 0) {
    msg("channel '%s': cannot open: %s", ch, chan_strerror(e, false));
    return XS_CHANNEL;
  }
  return XS_OK;
}

int read_error(const char *ch, smr_channel_reader *r, int e) {
  if (e == -EBADMSG)
    msg("channel '%s': version %" PRIu64 " failed verification: its "
        "checksum does not match (corrupt data), or the channel's files are "
        "corrupt; nothing printed from it",
        ch, smr_channel_version(r));
  else
    msg("channel '%s': cannot read: %s", ch, chan_strerror(e, false));
  return XS_CHANNEL;
}

int table_of(struct table_cache *c, const smr_channel_guard *g,
             const smr_table **t) {
  if (c->version != g->version || c->data != g->data) {
    c->version = g->version;
    c->data = g->data;
    /* A payload under 64 bytes is no table (and a 0-byte payload's view
     * need not be 8-byte aligned, which smr_table_open would call -EINVAL). */
    c->error =
        g->size < 64 ? -EBADMSG : smr_table_open(&c->t, g->data, g->size);
  }
  *t = &c->t;
  return c->error;
}

/* The check of a table opened by open_table_lazy(verify): the blocks of
 * each range a lookup reads are verified against the channel's checksum
 * first.  A mismatch is remembered in tr->sum, so that table_get tells it
 * from a corrupt table. */
static int range_check(void *arg, uint64_t offset, uint64_t length) {
  struct table_read *tr = arg;
  int e = smr_channel_verify_range(tr->r, &tr->g, offset, length);
  if (e == -ENOTSUP)
    return 0; /* the channel keeps no checksum */
  if (e == -EBADMSG)
    tr->sum = -EBADMSG;
  return e;
}

enum table_open { OPEN_VALIDATED, OPEN_LAZY, OPEN_CHECKED };

/* table_read; how: validated (cached in tr->tc), lazy (smr_table_open_lazy:
 * O(1), not cached) or lazy with each range verified (range_check). */
static int table_read_as(const char *ch, unsigned flags, enum table_open how,
                         struct table_read *tr, enum table_step *step) {
  memset(tr, 0, sizeof *tr);
  *step = STEP_OPEN;
  int e = smr_channel_reader_open(ch, flags, &tr->r);
  if (e < 0) {
    tr->r = NULL;
    return e;
  }
  *step = STEP_READ;
  e = smr_channel_read(tr->r, &tr->g);
  if (e < 0)
    return e;
  tr->held = true;
  *step = STEP_TABLE;
  if (how == OPEN_VALIDATED)
    return table_of(&tr->tc, &tr->g, &tr->t);
  tr->t = &tr->tc.t;
  tr->checked = how == OPEN_CHECKED;
  /* Under 64 bytes: no table (and maybe a misaligned empty view). */
  if (tr->g.size < 64)
    return -EBADMSG;
  return tr->checked ? smr_table_open_checked(&tr->tc.t, tr->g.data, tr->g.size,
                                              range_check, tr)
                     : smr_table_open_lazy(&tr->tc.t, tr->g.data, tr->g.size);
}

int table_read(const char *ch, unsigned flags, struct table_read *tr,
               enum table_step *step) {
  return table_read_as(ch, flags, OPEN_VALIDATED, tr, step);
}

void table_release(struct table_read *tr) {
  if (tr->held)
    smr_channel_release(tr->r, &tr->g);
  tr->held = false;
}

void table_close(struct table_read *tr) {
  table_release(tr);
  if (tr->r)
    smr_channel_reader_close(tr->r);
  tr->r = NULL;
}

int not_a_table(const char *ch, const smr_channel_guard *g, int e) {
  msg("channel '%s': the payload of version %" PRIu64 " (%" PRIu64
      " bytes) is not a table: %s",
      ch, g->version, g->size, strerror(-e));
  return XS_NOTABLE;
}

int table_read_error(const char *ch, struct table_read *tr, int e,
                     enum table_step step) {
  int x;
  if (step == STEP_OPEN) {
    msg("channel '%s': cannot open: %s", ch, chan_strerror(e, false));
    x = XS_CHANNEL;
  } else if (step == STEP_READ && e == -ENODATA) {
    msg("channel '%s': nothing published yet", ch);
    x = XS_NOTFOUND;
  } else if (step == STEP_READ) {
    x = read_error(ch, tr->r, e);
  } else {
    x = not_a_table(ch, &tr->g, e);
  }
  table_close(tr);
  return x;
}

int open_table(const char *ch, struct table_read *tr) {
  enum table_step step;
  int e = table_read(ch, SMR_CHANNEL_VERIFY, tr, &step);
  return e < 0 ? table_read_error(ch, tr, e, step) : XS_OK;
}

/* The pinned payload's checksum, checked once per table_read: 0 (it
 * matches, or the channel keeps none) or -EBADMSG (it does not). */
static int payload_sum(struct table_read *tr) {
  if (!tr->sum) {
    int e = smr_channel_verify(tr->r, &tr->g);
    tr->sum = e == 0 || e == -ENOTSUP ? 1 : -EBADMSG;
  }
  return tr->sum < 0 ? tr->sum : 0;
}

int open_table_lazy(const char *ch, bool verify, struct table_read *tr) {
  enum table_step step;
  int e = table_read_as(ch, 0, verify ? OPEN_CHECKED : OPEN_LAZY, tr, &step);
  /* Not a table's header: a flipped bit (the checksum says) or not one. */
  if (e == -EBADMSG && step == STEP_TABLE && payload_sum(tr) < 0)
    step = STEP_READ;
  return e < 0 ? table_read_error(ch, tr, e, step) : XS_OK;
}

int table_get(const char *ch, struct table_read *tr, const void *key,
              size_t klen, smr_table_value *v) {
  int e = smr_table_get(tr->t, key, klen, v);
  if (e == 0)
    return 0;
  /* A miss or a corrupt probe: first, are these the committed bytes?  A
   * checked lookup verified every byte it read; an unchecked one (smr get
   * --no-verify) verifies the whole payload now. */
  if (tr->checked ? tr->sum < 0 : payload_sum(tr) < 0)
    return read_error(ch, tr->r, -EBADMSG);
  if (e == -ENOENT)
    return -ENOENT;
  msg("channel '%s': the payload of version %" PRIu64
      " is a corrupt table (a bucket or record out of bounds; its checksum "
      "matches, so its writer wrote it so)",
      ch, tr->g.version);
  return XS_NOTABLE;
}
