/* Input format of the channel fuzz target (fuzz_shm.c), shared with the
 * seed generator (fuzz_shm_seed.c).
 *
 * A fuzz input is a 20-byte header followed by file contents:
 *
 *   byte 0      mode (FZ_* bits below)
 *   byte 1, 2   buffer index of data file 0 and 1 (mod FZ_MAX_INDEX)
 *   byte 3      number of data files (mod 3)
 *   then eight native-endian uint16: for the state file, the reader table,
 *   data file 0 and data file 1 in turn, the file's length and how many of
 *   its first bytes come from the input.
 *
 * The contents follow in the same order.  A file holds its bytes from the
 * input (fewer if the input ends early), then zeros up to its length: the
 * mostly-zero 4 KiB state and table headers cost the fuzzer only their
 * non-zero prefix, and a length below the content truncates the file.
 *
 * Descriptors name their data file by device and inode, which differ on
 * every run: unless FZ_KEEP_IDS, the target writes the identity of each data
 * file it created into the descriptor of that buffer index (when the state
 * file is long enough), so inputs can reach past that check. */
#ifndef SMR_FUZZ_SHM_H
#define SMR_FUZZ_SHM_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define FZ_VERIFY        0x01u /* reader opened with SMR_SHM_VERIFY */
#define FZ_WRITER_FIRST  0x02u /* writer takeover before the reader opens */
#define FZ_WRITER_PINNED 0x04u /* takeover while a guard is held */
#define FZ_TWO_READERS   0x08u /* a second reader handle alongside */
#define FZ_UNLINK        0x10u /* smr_shm_unlink at the end */
#define FZ_NO_STATE      0x20u /* do not create the state file */
#define FZ_NO_READERS    0x40u /* do not create the reader table */
#define FZ_KEEP_IDS      0x80u /* keep the input's descriptor file_dev/ino */

#define FZ_MAX_INDEX 34u /* data file names 0..33: past SMR_SHM_MAX_BUFFERS */
#define FZ_HEADER    20u

struct fz_file {
  uint16_t len;   /* file length */
  uint16_t bytes; /* bytes taken from the input (the rest are zero) */
};

struct fz_header {
  uint8_t mode, idx[2], ndata;
  struct fz_file file[4]; /* state, readers, data 0, data 1 */
};

static inline void fz_header_get(struct fz_header *h, const uint8_t *p) {
  h->mode = p[0];
  h->idx[0] = (uint8_t)(p[1] % FZ_MAX_INDEX);
  h->idx[1] = (uint8_t)(p[2] % FZ_MAX_INDEX);
  h->ndata = (uint8_t)(p[3] % 3u);
  for (int i = 0; i < 4; i++) {
    memcpy(&h->file[i].len, p + 4 + 4 * i, 2);
    memcpy(&h->file[i].bytes, p + 6 + 4 * i, 2);
  }
}

static inline void fz_header_put(const struct fz_header *h, uint8_t *p) {
  p[0] = h->mode;
  p[1] = h->idx[0];
  p[2] = h->idx[1];
  p[3] = h->ndata;
  for (int i = 0; i < 4; i++) {
    memcpy(p + 4 + 4 * i, &h->file[i].len, 2);
    memcpy(p + 6 + 4 * i, &h->file[i].bytes, 2);
  }
}

#endif
