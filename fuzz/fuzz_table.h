/* SPDX-License-Identifier: MIT */
/* Input format of the table fuzz target (fuzz_table.c), shared with its
 * seed generator (fuzz_table_seed.c).
 *
 * Byte 0 is the mode.  Bit 0 clear: OPEN mode, the rest of the input is a
 * table's bytes (copied to an 8-byte aligned buffer of exactly that size).
 * Bit 0 set: BUILD mode, the input is a list of entries to build a table
 * from:
 *
 *   byte 0      mode: FZT_BUILD | max_entries choice << 1 | cap choice << 3
 *               | FZT_MUTATE
 *   byte 1      parameter a (a small cap, a small max_entries, the mutant's
 *               bytes)
 *   bytes 2, 3  parameter b, native-endian uint16 (the mutant's offset)
 *   then        records: key length (1 byte), key, value length (1 byte),
 *               value; a length past the end of the input is cut short.
 *
 * max_entries choices (FZT_MAX_*): the record count (always enough), the
 * distinct key count (exactly enough), one less (-E2BIG), a % 8.
 * Capacity choices (FZT_CAP_*): smr_table_size_bound(max(max_entries,
 * records), key and value bytes) (always enough), that minus 8 * a (maybe
 * -ENOSPC), 8 * a (tiny), that bound plus a (not a multiple of 8).
 * FZT_MUTATE: after the built table is checked, overwrite 1 to 8 of its
 * bytes at offset b (mod its size) with a-derived bytes, then open the
 * mutant as in OPEN mode. */
#ifndef SMR_FUZZ_TABLE_H
#define SMR_FUZZ_TABLE_H

#define FZT_BUILD      0x01u
#define FZT_MAX_SHIFT  1
#define FZT_MAX_MASK   0x3u
#define FZT_MAX_RECS   0u /* max_entries = records */
#define FZT_MAX_EXACT  1u /* max_entries = distinct keys */
#define FZT_MAX_SHORT  2u /* max_entries = distinct keys - 1 */
#define FZT_MAX_SMALL  3u /* max_entries = a % 8 */
#define FZT_CAP_SHIFT  3
#define FZT_CAP_MASK   0x3u
#define FZT_CAP_BOUND  0u /* cap = the size bound */
#define FZT_CAP_MINUS  1u /* cap = bound - 8 * a */
#define FZT_CAP_TINY   2u /* cap = 8 * a */
#define FZT_CAP_ODD    3u /* cap = bound + a */
#define FZT_MUTATE     0x20u
#define FZT_BUILD_HEAD 4u /* mode, a, b */

#endif /* SMR_FUZZ_TABLE_H */
