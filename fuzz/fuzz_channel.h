/* SPDX-License-Identifier: MIT */
/* Input format of the channel fuzz target (fuzz_channel.c), shared with the
 * seed generator (fuzz_channel_seed.c).
 *
 * A fuzz input is a 36-byte header followed by file contents:
 *
 *   byte 0      mode (FZ_* bits below)
 *   byte 1, 2   buffer index of data file 0 and 1 (mod FZ_MAX_INDEX)
 *   byte 3      number of data files (mod 3)
 *   byte 4      the readers directory NAME.smr-readers (FZ_DIR_* below)
 *   byte 5      number of slot entries in it (mod FZ_MAX_SLOTS + 1)
 *   bytes 6-17  three pairs of native-endian uint16, for the state file,
 *               data file 0 and data file 1 in turn: the file's length and
 *               how many of its first bytes come from the input
 *   bytes 18-35 FZ_MAX_SLOTS slot entries of 6 bytes: a name byte
 *               (fz_slot_name), a flags byte (FZ_SLOT_* below), then the
 *               file's length and input bytes as native-endian uint16
 *
 * The contents follow in the same order: state file, data files, slot
 * entries.  A file holds its bytes from the input (fewer if the input ends
 * early), then zeros up to its length: the mostly-zero 4 KiB state header
 * (the acks follow at offset 4096) and slot pages cost the fuzzer only their
 * non-zero prefix, and a length below the content truncates the file.
 * Entries, data files and contents beyond the counts still consume their
 * input bytes, so the layout of an input does not shift when a count
 * changes.
 *
 * Descriptors name their data file by device and inode, which differ on
 * every run: unless FZ_KEEP_IDS, the target writes the identity of each data
 * file it created into the descriptor of that buffer index (when the state
 * file is long enough), so inputs can reach past that check.
 *
 * "Late" actions (FZ_DIR_SWAP, FZ_DIR_TRUNCATE, FZ_DIR_REMOVE,
 * FZ_SLOT_LATE, FZ_SLOT_UNLINK_LATE, FZ_SLOT_UNLOCK_LATE) happen right after
 * the first writer_open of the input, so the writer meets them through its
 * directory watch; in a mode without a writer they happen before the reader
 * opens. */
#ifndef SMR_FUZZ_CHANNEL_H
#define SMR_FUZZ_CHANNEL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

/* byte 0: mode */
#define FZ_VERIFY        0x01u /* reader opened with SMR_CHANNEL_VERIFY */
#define FZ_WRITER_FIRST  0x02u /* writer takeover before the reader opens */
#define FZ_WRITER_PINNED 0x04u /* takeover while a guard is held */
#define FZ_TWO_READERS   0x08u /* a second reader handle alongside */
#define FZ_UNLINK        0x10u /* smr_channel_unlink at the end */
#define FZ_NO_STATE      0x20u /* do not create the state file */
/* Another writer holds the locks: NAME.smr-lock, and byte 0 of the state
 * file for observers. */
#define FZ_WRITER_LOCKED 0x40u
#define FZ_KEEP_IDS      0x80u /* keep the input's descriptor file_dev/ino */

/* byte 4: the readers directory.  Kind in the low two bits. */
#define FZ_DIR_KIND(b) ((b)&3u)
#define FZ_DIR_DIR     0u    /* a directory (the normal case) */
#define FZ_DIR_ABSENT  1u    /* nothing */
#define FZ_DIR_FILE    2u    /* a regular file in its place */
#define FZ_DIR_SYMLINK 3u    /* a symlink to a directory in its place */
#define FZ_DIR_STICKY  0x04u /* mode 01xxx */
/* Group and others may write it: 0777, else 0755. */
#define FZ_DIR_WRITABLE 0x08u
#define FZ_DIR_FOREIGN  0x10u /* owned by another user (when run as root) */
#define FZ_DIR_SWAP     0x20u /* late: renamed away, a new one made in place */
/* Late: another user truncates the slot files it may write (as root). */
#define FZ_DIR_TRUNCATE 0x40u
/* Late: our entries and the directory removed (if no reader has a file in
 * it); takes precedence over FZ_DIR_SWAP. */
#define FZ_DIR_REMOVE 0x80u

/* Slot entry flags.  Kind in bits 2-4. */
#define FZ_SLOT_LOCKED   0x01u /* the fuzzer holds its lock: alive */
#define FZ_SLOT_FOREIGN  0x02u /* another user's (when run as root) */
#define FZ_SLOT_KIND(f)  (((f) >> 2) & 7u)
#define FZ_SLOT_REG      0u /* regular file, 0644 */
#define FZ_SLOT_DIR      1u /* a directory */
#define FZ_SLOT_FIFO     2u /* a named pipe */
#define FZ_SLOT_SYMLINK  3u /* a symlink to the state file */
#define FZ_SLOT_SOCKET   4u /* a bound unix socket */
#define FZ_SLOT_LINK     5u /* hard link to the previous regular entry */
#define FZ_SLOT_REG_0666 6u /* regular file others may write */
/* Regular file, 0644; LOCKED takes a shared lock (not a sign of life). */
#define FZ_SLOT_REG_SHARED  7u
#define FZ_SLOT_LATE        0x20u /* late: created after the writer opened */
#define FZ_SLOT_UNLINK_LATE 0x40u /* late: its name removed */
#define FZ_SLOT_UNLOCK_LATE 0x80u /* late: its lock dropped (it dies) */

/* Data file names 0..33: past SMR_CHANNEL_MAX_BUFFERS. */
#define FZ_MAX_INDEX 34u
#define FZ_MAX_SLOTS 3u
#define FZ_HEADER    36u

struct fz_file {
  uint16_t len;   /* file length */
  uint16_t bytes; /* bytes taken from the input (the rest are zero) */
};

struct fz_slot {
  uint8_t name, flags;
  struct fz_file file;
};

struct fz_header {
  uint8_t mode, idx[2], ndata, dir, nslots;
  struct fz_file file[3]; /* state, data 0, data 1 */
  struct fz_slot slot[FZ_MAX_SLOTS];
};

static inline void fz_header_get(struct fz_header *h, const uint8_t *p) {
  h->mode = p[0];
  h->idx[0] = (uint8_t)(p[1] % FZ_MAX_INDEX);
  h->idx[1] = (uint8_t)(p[2] % FZ_MAX_INDEX);
  h->ndata = (uint8_t)(p[3] % 3u);
  h->dir = p[4];
  h->nslots = (uint8_t)(p[5] % (FZ_MAX_SLOTS + 1));
  for (unsigned i = 0; i < 3; i++) {
    memcpy(&h->file[i].len, p + 6 + 4 * i, 2);
    memcpy(&h->file[i].bytes, p + 8 + 4 * i, 2);
  }
  for (unsigned i = 0; i < FZ_MAX_SLOTS; i++) {
    const uint8_t *s = p + 18 + 6 * i;
    h->slot[i].name = s[0];
    h->slot[i].flags = s[1];
    memcpy(&h->slot[i].file.len, s + 2, 2);
    memcpy(&h->slot[i].file.bytes, s + 4, 2);
  }
}

static inline void fz_header_put(const struct fz_header *h, uint8_t *p) {
  p[0] = h->mode;
  p[1] = h->idx[0];
  p[2] = h->idx[1];
  p[3] = h->ndata;
  p[4] = h->dir;
  p[5] = h->nslots;
  for (unsigned i = 0; i < 3; i++) {
    memcpy(p + 6 + 4 * i, &h->file[i].len, 2);
    memcpy(p + 8 + 4 * i, &h->file[i].bytes, 2);
  }
  for (unsigned i = 0; i < FZ_MAX_SLOTS; i++) {
    uint8_t *s = p + 18 + 6 * i;
    s[0] = h->slot[i].name;
    s[1] = h->slot[i].flags;
    memcpy(s + 2, &h->slot[i].file.len, 2);
    memcpy(s + 4, &h->slot[i].file.bytes, 2);
  }
}

/* Names that are not canonical slot names r<i>, or are at the edges. */
static const char *const fz_junk_names[] = {
    "r",           "r00",        "r01",   "r-1",    "r+1",
    "r 1",         "r1x",        "rr1",   "R1",     ".r1",
    "r1.",         "r4095",      "r4096", "r65536", "r99999",
    "r100000",     "t",          "t.",    "x",      "r0\n",
    "r\t1",        "r000000",    "r63",   "r64",    "r12345",
    "s0",          "t0",         "tr0",   "r1 ",    "r18446744073709551617",
    "r4294967296", "r2147483648"};
#define FZ_NJUNK (sizeof fz_junk_names / sizeof fz_junk_names[0])

/* The file name a slot entry's name byte stands for (buf: 32 bytes):
 *   0x00-0x7f  r<b>: a slot name, canonical when b < the channel's slots
 *   0x80-0x9f  t<pid>.<b & 31>: a temporary-looking name of this process
 *              (readers create their file unnamed, or under t<pid>.<n>.<ns>
 *              where the file system has no O_TMPFILE)
 *   0xa0-0xbf  t1.<b & 31>: another process's temporary name
 *   0xc0-0xff  fz_junk_names[(b & 63) % FZ_NJUNK] */
static inline void fz_slot_name(char *buf, uint8_t b, int pid) {
  if (b < 0x80)
    snprintf(buf, 32, "r%u", (unsigned)b);
  else if (b < 0xa0)
    snprintf(buf, 32, "t%d.%u", pid, (unsigned)(b & 31u));
  else if (b < 0xc0)
    snprintf(buf, 32, "t1.%u", (unsigned)(b & 31u));
  else
    snprintf(buf, 32, "%s", fz_junk_names[(b & 63u) % FZ_NJUNK]);
}

#endif
