/* SPDX-License-Identifier: MIT */
/* Internal: the on-disk layout of a channel (smr/channel.h).  Native byte order
 * and 64-bit alignment: a channel is shared by processes of one machine.
 * Every field a process uses is validated before use (the state file by
 * smr__channel_map_state, a slot file by smr__channel_slot_read and the
 * writer's slot tracking, a descriptor by the reader before it maps the
 * buffer; see src/channel/files.c, slots.c and reader.c); a file is never
 * trusted.  docs/DESIGN.md ("Channels") explains the protocol.  Tests and
 * the fuzz target include this to forge files. */
#ifndef SMR_CHANNEL_LAYOUT_H
#define SMR_CHANNEL_LAYOUT_H

#include <stdatomic.h>
#include <stdint.h>

#define SMR__CHANNEL_MAGIC       0x31304d4853524d53ull /* "SMRSHM01" */
#define SMR__CHANNEL_SLOT_MAGIC  0x32304c53524d5353ull /* "SSMRSL02" */
#define SMR__CHANNEL_LAYOUT      3u
#define SMR__CHANNEL_HEADER_SIZE 4096u /* state header; acks follow */
#define SMR__CHANNEL_DESC_OFFSET 256u
/* A reader's slot file: one page, the slot at offset 0, byte 0 its lock. */
#define SMR__CHANNEL_SLOT_FILE_SIZE 4096u

/* state flags (smr__channel_state.flags): the SMR_CHANNEL_* creation flags that
 * readers must know about. */
#define SMR__CHANNEL_F_SYMMETRIC 0x8u /* SMR_CHANNEL_SYMMETRIC (mapped) */
#define SMR__CHANNEL_F_NOSUM     0x2u /* SMR_CHANNEL_NO_CHECKSUM (mapped) */
#define SMR__CHANNEL_F_DURABLE   0x1u /* SMR_CHANNEL_DURABLE (mapped) */

/* The checksum algorithm (checksum_alg): XXH3-64 (seed 0) of each block of
 * the payload, stored after it in the data file (the block sums), and the
 * descriptor's checksum the XXH3-64 of those sums.  A reader can so check
 * the few blocks a lookup reads, not the whole payload (smr_channel_verify_
 * range).  Blocks are 2^shift bytes, the last one shorter; shift is the
 * smallest >= 16 that gives at most 4096 blocks, a function of the size
 * alone.  The sums start at the payload's end rounded up to 8. */
#define SMR__CHANNEL_SUM_BLOCKS    2u
#define SMR__CHANNEL_SUM_MIN_SHIFT 16u
#define SMR__CHANNEL_SUM_MAX       4096u /* blocks */

/* One payload buffer's descriptor, written by the writer only while no
 * reader can reach the buffer (before the release store of `current`). */
struct smr__channel_desc {
  _Atomic uint64_t version; /* version stored in the buffer */
  _Atomic uint64_t size;    /* payload bytes */
  _Atomic uint64_t checksum;
  _Atomic uint64_t file_size; /* informational: bytes allocated */
  _Atomic uint64_t file_dev;  /* identity of the data file holding it: a */
  _Atomic uint64_t file_ino;  /* reader refuses a file of another channel */
  uint64_t pad[2];
};

/* NAME.smr: the header (SMR__CHANNEL_HEADER_SIZE bytes), then `slots` acks
 * (uint64_t: the inode of the slot file the writer tracks under name
 * r<i>, 0 for none).  Written by the writer only. */
struct smr__channel_state {
  /* Line 0: immutable after creation.  magic is stored last (release). */
  _Atomic uint64_t magic;
  uint32_t layout;
  uint32_t header_size;
  uint32_t buffers; /* K */
  uint32_t slots;   /* reader slot names r0 .. r<slots-1> */
  uint32_t flags;   /* SMR__CHANNEL_F_* */
  uint32_t checksum_alg;
  uint64_t created_ns;
  uint64_t pad0[3];
  /* Line 1: what readers load on every read. */
  _Atomic uint64_t current; /* (version << 8) | buffer; 0: none yet */
  _Atomic uint32_t notify;  /* futex word: low 32 bits of the version */
  _Atomic uint32_t waiting; /* writer waits for a released buffer */
  uint64_t pad1[6];
  /* Line 2: writer statistics. */
  _Atomic uint64_t publishes;
  _Atomic uint64_t dead_reclaimed;
  _Atomic uint32_t writer_pid;
  uint32_t pad2a;
  uint64_t pad2[5];
  uint64_t pad3[8];
  struct smr__channel_desc
      desc[]; /* at SMR__CHANNEL_DESC_OFFSET, `buffers` of them */
};

/* NAME.smr-readers/ is a directory (sticky, owned by the writer).  Each
 * reader handle creates its own slot file there, named r<i>, writes only
 * that file and holds an OFD lock on its byte 0 for its lifetime.  The
 * writer reads slot files as untrusted input. */
struct smr__channel_slot {
  _Atomic uint64_t magic;   /* SMR__CHANNEL_SLOT_MAGIC (informational) */
  _Atomic uint64_t pin;     /* last `current` validated (sticky); 0: none */
  _Atomic uint32_t active;  /* 1 while the owner holds a guard on pin */
  _Atomic uint32_t pid;     /* owner's pid (informational) */
  _Atomic uint32_t waiting; /* owner is blocked in smr_channel_wait */
  uint32_t pad0;
  uint64_t pad[4];
};

static inline uint64_t smr__channel_state_size(unsigned slots) {
  return SMR__CHANNEL_HEADER_SIZE + (uint64_t)slots * sizeof(uint64_t);
}

static inline _Atomic uint64_t *
smr__channel_acks(struct smr__channel_state *st) {
  return (_Atomic uint64_t *)(void *)((char *)st + SMR__CHANNEL_HEADER_SIZE);
}

/* The block size (log2) of a payload of `size` bytes. */
static inline unsigned smr__channel_sum_shift(uint64_t size) {
  unsigned s = SMR__CHANNEL_SUM_MIN_SHIFT;
  while (((size - 1) >> s) >= SMR__CHANNEL_SUM_MAX && size)
    s++;
  return s;
}

/* The number of blocks (and sums) of a payload of `size` bytes. */
static inline uint64_t smr__channel_sum_count(uint64_t size) {
  unsigned s = smr__channel_sum_shift(size);
  return size ? ((size - 1) >> s) + 1 : 0;
}

/* Where the block sums start: the payload's end rounded up to 8. */
static inline uint64_t smr__channel_sum_offset(uint64_t size) {
  return (size + 7) & ~(uint64_t)7;
}

/* The bytes a data file needs for a payload of `size` bytes and its sums. */
static inline uint64_t smr__channel_sum_end(uint64_t size) {
  return smr__channel_sum_offset(size) + 8 * smr__channel_sum_count(size);
}

/* A bound on smr__channel_sum_end(size) for every size <= cap (the count
 * is never above 4096 nor above a count of 64 KiB blocks). */
static inline uint64_t smr__channel_sum_reserve(uint64_t cap) {
  uint64_t n = cap ? ((cap - 1) >> SMR__CHANNEL_SUM_MIN_SHIFT) + 1 : 0;
  return smr__channel_sum_offset(cap) +
         8 * (n < SMR__CHANNEL_SUM_MAX ? n : SMR__CHANNEL_SUM_MAX);
}

#define SMR__CHANNEL_VERSION(cur) ((cur) >> 8)
#define SMR__CHANNEL_INDEX(cur)   ((unsigned)((cur)&0xffu))

#endif /* SMR_CHANNEL_LAYOUT_H */
