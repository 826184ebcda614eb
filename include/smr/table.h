/* SPDX-License-Identifier: MIT */
/* clang-format off: the usage example below is laid out by hand. */
/* smr/table.h - a flat, immutable key -> value table that lives in one block
 * of bytes: a channel buffer, a file, or plain memory.  Offsets, no
 * pointers, so a reader process looks keys up in place in the writer's
 * bytes, with no deserialisation.
 *
 *   // writer: build straight into the channel's in-place buffer
 *   uint64_t cap = smr_table_size_bound(rows, key_and_value_bytes);
 *   void *buf;  smr_channel_begin(w, cap, &buf);
 *   smr_table_builder b;  smr_table_build_begin(&b, buf, cap, rows);
 *   smr_table_build_add(&b, "k", 1, "v", 1);   // ... once per row
 *   uint64_t size;  smr_table_build_end(&b, &size);
 *   smr_channel_commit(w, size, NULL);
 *
 *   // reader: validate once per version, then look up
 *   smr_table t;  smr_table_open(&t, g.data, g.size);
 *   smr_table_value v;
 *   if (smr_table_get(&t, "k", 1, &v) == 0) use(v.data, v.size);
 *
 *   // one-shot reader (a few lookups): check the header only
 *   smr_table_open_lazy(&t, g.data, g.size);   // O(1)
 *   if (smr_table_get(&t, "k", 1, &v) == 0)    // or -ENOENT, -EBADMSG
 *     use(v.data, v.size);
 *
 * Layout (native byte order, 8-byte aligned; docs/DESIGN.md "Tables"): a
 * 64-byte header, a power-of-two array of 8-byte buckets (linear probing;
 * each holds 16 bits of the key's hash and the offset of its record), then
 * the records in insertion order: key length, value length, key bytes,
 * value bytes, padded to 8.  Keys are hashed with XXH3-64.  Keys and values
 * are arbitrary bytes (NULs included), up to 2^31 - 1 bytes each; a table
 * may hold up to 2^32 - 1 entries and 2^51 bytes.
 *
 * Duplicate keys: the last one added wins (the earlier record stays in the
 * bytes, marked replaced, and iteration skips it).
 *
 * The bytes are untrusted.  Two ways to open them, both safe on any bytes
 * (no read outside [bytes, bytes + size), no endless loop, no crash):
 *   - smr_table_open checks every header field, bucket, offset and length
 *     once (O(n)), so lookups afterwards need no checks and always agree
 *     with iteration; a corrupt table gives -EBADMSG at open.
 *   - smr_table_open_lazy checks the header only (O(1)); each lookup and
 *     iteration step then checks what it reads, and a corrupt table may
 *     give wrong answers (below) or -EBADMSG from smr_table_get and
 *     smr_table_next.  For a process that looks up a few keys once.
 */
/* clang-format on */
#ifndef SMR_TABLE_H
#define SMR_TABLE_H

#include "smr/common.h"
#include <stdbool.h>

#ifdef __cplusplus
extern "C" {
#endif

#define SMR_TABLE_MAX_ENTRIES 0xffffffffull
#define SMR_TABLE_MAX_FIELD   0x7fffffffull /* bytes per key or value */

/* A view of a table's bytes, validated or lazily opened (caller-owned;
 * fields private).  It stays valid while the bytes do (for a channel:
 * while the guard is held, or for the version it was opened on). */
typedef struct smr_table {
  const unsigned char *base;
  const uint64_t *buckets;
  uint64_t mask; /* buckets - 1 */
  uint64_t count;
  uint64_t records, end; /* offsets: first record, end of records */
  bool lazy;             /* smr_table_open_lazy: lookups check their reads */
  int (*check)(void *, uint64_t, uint64_t); /* smr_table_open_checked */
  void *check_arg;
} smr_table;

/* A value (or key) view into the table's bytes. */
typedef struct smr_table_value {
  const void *data;
  size_t size;
} smr_table_value;

/* One entry during iteration. */
typedef struct smr_table_entry {
  smr_table_value key, value;
} smr_table_entry;

/* Validate `size` bytes at `bytes` (8-byte aligned) as a table and fill
 * *t.  O(entries + key bytes): every bucket, record and key hash is
 * checked, and each live record must be referenced by exactly one bucket
 * (a scratch bitmap of size/64 bytes is allocated meanwhile).  Errors:
 * -EINVAL (NULL, misaligned), -EBADMSG (not a table, or corrupt), -ENOMEM.
 * Any thread; does not block. */
SMR_API int smr_table_open(smr_table *t, const void *bytes, uint64_t size);

/* Open `size` bytes at `bytes` (8-byte aligned) as a table without
 * validating the buckets and records: O(1), no allocation, reads only the
 * 64-byte header, and checks all of it as smr_table_open does (magic,
 * layout, flags 0, nbuckets a power of two whose array fits in size, the
 * records right after it, their end aligned and within size, count <
 * nbuckets).  Errors: -EINVAL (NULL, misaligned), -EBADMSG (the header is
 * not a table's).  On failure *t is cleared (lookups on it: -EINVAL).
 *
 * Guaranteed for any bytes: smr_table_get, smr_table_next and
 * smr_table_count on *t read only [bytes, bytes + size) (in fact only the
 * header, the buckets and [records, end)), never crash, and end: a lookup
 * reads at most nbuckets buckets, a next call advances by at least 8
 * bytes per record.  A value or key they return lies inside the records.
 * For a table smr_table_open accepts, every call gives exactly what it
 * gives after smr_table_open (but -EBADMSG for a cursor smr_table_next
 * calls -EINVAL).
 *
 * Not guaranteed on corrupt bytes (those smr_table_open refuses): right
 * answers.  smr_table_get may say -ENOENT for a key that iteration yields
 * (a bucket or record changed, a record marked replaced), find a key that
 * iteration never yields (a record forged inside a value), return either
 * of two records of one key or a value changed in place; it returns
 * -EBADMSG when its probe meets a bucket of the key's tag that points
 * outside the records, a record of the key's length whose key and value
 * run past them, or no empty bucket in the whole array.  smr_table_count
 * is the header's, unchecked.  smr_table_next returns -EBADMSG at a record
 * that runs past the records (the entries before it were yielded).
 * Whether the bytes are the ones their writer committed is the channel
 * checksum's business (SMR_CHANNEL_VERIFY, smr_channel_verify in
 * smr/channel.h): it covers bit flips, which a lazy open mostly does not
 * see.  Use a lazy open where only a trusted writer can write the bytes
 * (a channel's data files: its owner), so corruption means a bug or a
 * flipped bit, not an attack; then a lookup is never unsafe, at worst
 * wrong.
 *
 * Cost per lookup: the validated lookup's, plus a bounds check of each
 * matching tag's offset, of the key and value lengths of a record of the
 * key's length, and a probe counter: a few compares on bytes it reads
 * anyway, no extra memory access (about 20 more instructions, ~15%; the
 * time of a lookup in a large table is its two cache misses, the same).
 * Any thread; does not block. */
SMR_API int smr_table_open_lazy(smr_table *t, const void *bytes, uint64_t size);

/* The check of smr_table_open_checked: 0 if the `length` bytes at
 * `offset` (from the table's start, inside it) may be read, or a negative
 * errno code, which the lookup then returns. */
typedef int smr_table_check_fn(void *arg, uint64_t offset, uint64_t length);

/* smr_table_open_lazy, plus a check of every byte range before it is read:
 * check(arg, 0, 64) for the header, here, then, in smr_table_get and
 * smr_table_next, each bucket, each record's lengths and each key and
 * value (or record) before its bytes are compared or returned.  A check's
 * error is returned as is (so it can be told from -EBADMSG: pick another
 * code, or record it in arg).  So a lookup's answer depends only on bytes
 * the check passed: with smr_channel_verify_range (smr/channel.h) as the
 * check, a one-shot reader of a large channel table verifies the few
 * blocks each lookup reads, not the whole payload, and every value it
 * returns and every -ENOENT it gives comes from bytes that match the
 * writer's checksum.  The check is called a few times per lookup; it must
 * be cheap when it passes again (smr_channel_verify_range remembers).
 * Errors: those of smr_table_open_lazy, -EINVAL for a NULL check, and the
 * check's.  On failure *t is cleared.  Lookups may run concurrently only
 * if the check allows it (smr_channel_verify_range: the thread of the
 * reader handle).  Does not block unless the check does. */
SMR_API int smr_table_open_checked(smr_table *t, const void *bytes,
                                   uint64_t size, smr_table_check_fn *check,
                                   void *arg);

/* Number of entries (keys). */
SMR_API uint64_t smr_table_count(const smr_table *t);

/* Look key up: 0 and *v set, or -ENOENT.  -EINVAL for NULL arguments (a
 * NULL key is allowed with klen 0).  On a lazily opened table also
 * -EBADMSG: the probe met corrupt bytes (smr_table_open_lazy).  Reads only
 * the table; any number of threads may look up concurrently. */
SMR_API int smr_table_get(const smr_table *t, const void *key, size_t klen,
                          smr_table_value *v);

/* Iterate in insertion order: *cursor starts at 0 (then pass back what the
 * previous call left); returns 1 and fills *e for each entry, 0 at the end,
 * -EINVAL for NULL arguments or a cursor that cannot be this table's (an
 * invented cursor never reads out of bounds, but may yield garbage).  On
 * a lazily opened table, a record that runs past the records gives
 * -EBADMSG instead (a corrupt table, or an invented cursor). */
SMR_API int smr_table_next(const smr_table *t, uint64_t *cursor,
                           smr_table_entry *e);

/* ---- Building ------------------------------------------------------------ */

/* Builder state (caller-owned; fields private). */
typedef struct smr_table_builder {
  unsigned char *base;
  uint64_t cap, mask, count, max_entries, records, pos;
  int error; /* first error, sticky */
} smr_table_builder;

/* Bytes a table built from `entries` smr_table_build_add calls (replaced
 * duplicates included) whose keys and values total `bytes` bytes needs at
 * most (0 if that exceeds the limits above). */
SMR_API uint64_t smr_table_size_bound(uint64_t entries, uint64_t bytes);

/* Start a table in buf[0, cap) (8-byte aligned) that will hold at most
 * `max_entries` distinct keys (it sizes the buckets).  Errors: -EINVAL,
 * -E2BIG (max_entries above SMR_TABLE_MAX_ENTRIES), -ENOSPC (cap too small
 * for the buckets); except -EINVAL for a NULL builder, the error is kept
 * in the builder, so later adds and build_end return it too. */
SMR_API int smr_table_build_begin(smr_table_builder *b, void *buf, uint64_t cap,
                                  uint64_t max_entries);

/* Add an entry (a key added before is replaced: last wins).  Errors
 * (sticky: later calls and build_end return the first): -EINVAL, -EFBIG
 * (key or value above SMR_TABLE_MAX_FIELD), -ENOSPC (cap exceeded),
 * -E2BIG (more than max_entries distinct keys). */
SMR_API int smr_table_build_add(smr_table_builder *b, const void *key,
                                size_t klen, const void *value, size_t vlen);

/* Distinct keys added so far (0 for NULL). */
SMR_API uint64_t smr_table_build_count(const smr_table_builder *b);

/* Finish: writes the header; *size = bytes used (publish that many).
 * Returns the builder's first error if any. */
SMR_API int smr_table_build_end(smr_table_builder *b, uint64_t *size);

#ifdef __cplusplus
}
#endif

#endif /* SMR_TABLE_H */
