/* SPDX-License-Identifier: MIT */
/* test_channel_corrupt, section "state": a damaged state file header. */
#define _GNU_SOURCE
#include <errno.h>
#include <sys/stat.h>
#include <unistd.h>

#include "channel_corrupt.h"

/* ---- State file header --------------------------------------------------- */

/* The 32-bit header field at off set to each of vals[0..n) in turn, on a
 * fresh channel: every reader entry point and a writer refuse the header
 * (-EBADMSG).  The case is "state NAME = VALUE" (hex: in hex) + note. */
static void bad_field32(const char *name, uint64_t off, const uint32_t *vals,
                        size_t n, bool hex, const char *note) {
  for (size_t i = 0; i < n; i++) {
    char what[96];
    if (hex)
      snprintf(what, sizeof what, "state %s = %#x%s", name, vals[i], note);
    else
      snprintf(what, sizeof what, "state %s = %u%s", name, vals[i], note);
    fresh_channel(3, 8, 0);
    poke32(g_state, off, vals[i]);
    check_bad_header(what, -EBADMSG);
  }
}

#define BAD_FIELD32(field, vals, hex, note)                                    \
  bad_field32(#field, ST_OFF(field), vals, sizeof(vals) / sizeof((vals)[0]),   \
              hex, note)

/* No channel, no state file, or one still being created. */
static void missing_cases(void) {
  /* The clean channel first: the baseline every case departs from. */
  fresh_channel(3, 8, 0);
  check_case("valid channel", 0, 0, 0, 1, 0, SMR_CHANNEL_CHECKSUM_OK, TK_SKIP,
             0);

  remove_channel_files();
  check_case("no channel at all", -ENOENT, 0, 0, 0, 0, -1, TK_SKIP, 0);

  fresh_channel(3, 8, 0);
  unlink(g_state);
  /* Only the state file missing: no channel; a writer creates a new one. */
  check_case("state file missing", -ENOENT, 0, 0, 0, 0, -1, TK_SKIP, 0);
  g_case = "state file missing: writer creates";
  {
    smr_channel_writer *w;
    EXPECT_EQ(smr_channel_writer_open(g_name, NULL, &w), 0);
    smr_channel_writer_close(w);
  }
}

/* Being created (size 0, zero filled, magic not yet stored). */
static void created_cases(void) {
  /* Being created (size 0, zero filled, magic not yet stored): -EAGAIN.  A
   * writer (no creator holds the lock) may finish or redo the creation. */
  fresh_channel(3, 8, 0);
  trunc_to(g_state, 0);
  check_case("state file 0 bytes", -EAGAIN, 0, 0, 0, 0, -1, TK_ANY, -EAGAIN);
  fresh_channel(3, 8, 0);
  {
    static const unsigned char zero[SMR__CHANNEL_HEADER_SIZE];
    poke(g_state, 0, zero, sizeof zero);
  }
  check_case("state file all zero", -EAGAIN, 0, 0, 0, 0, -1, TK_ANY, -EAGAIN);
  fresh_channel(3, 8, 0);
  poke64(g_state, ST_OFF(magic), 0);
  check_case("state magic 0 (being created)", -EAGAIN, 0, 0, 0, 0, -1, TK_ANY,
             -EAGAIN);
}

/* The file's size, magic, or a foreign file. */
static void size_magic_cases(void) {
  /* Shorter than the header, or than the header plus one ack per slot
   * (smr__channel_state_size(slots)). */
  const uint64_t full = smr__channel_state_size(8);
  const uint64_t sizes[] = {8,
                            100,
                            SMR__CHANNEL_DESC_OFFSET,
                            SMR__CHANNEL_HEADER_SIZE - 1,
                            SMR__CHANNEL_HEADER_SIZE,
                            SMR__CHANNEL_HEADER_SIZE + 8,
                            full - 8,
                            full - 1};
  for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
    char what[80];
    snprintf(what, sizeof what, "state file truncated to %llu (needs %llu)",
             (unsigned long long)sizes[i], (unsigned long long)full);
    fresh_channel(3, 8, 0);
    trunc_to(g_state, sizes[i]);
    check_bad_header(what, -EBADMSG);
  }
  /* Longer than needed: the tail is not part of the layout. */
  fresh_channel(3, 8, 0);
  trunc_to(g_state, full + 12345);
  check_valid("state file longer than header + acks");

  fresh_channel(3, 8, 0);
  poke64(g_state, ST_OFF(magic), SMR__CHANNEL_MAGIC ^ 0x100);
  check_bad_header("state wrong magic", -EBADMSG);
  fresh_channel(3, 8, 0);
  poke64(g_state, ST_OFF(magic), SMR__CHANNEL_SLOT_MAGIC);
  check_bad_header("state has the slot-file magic", -EBADMSG);
  fresh_channel(3, 8, 0);
  {
    /* A foreign file: text. */
    char text[SMR__CHANNEL_HEADER_SIZE];
    for (size_t i = 0; i < sizeof text; i++)
      text[i] = "not a channel\n"[i % 14];
    poke(g_state, 0, text, sizeof text);
  }
  check_bad_header("state is a text file", -EBADMSG);
}

/* Each header field out of range, or inconsistent with the others. */
static void field_cases(void) {
  static const uint32_t layouts[] = {0, 1, SMR__CHANNEL_LAYOUT + 1,
                                     0xffffffffu};
  BAD_FIELD32(layout, layouts, false, "");
  static const uint32_t hsizes[] = {0, 256, SMR__CHANNEL_HEADER_SIZE - 8,
                                    SMR__CHANNEL_HEADER_SIZE * 2, 0xffffffffu};
  BAD_FIELD32(header_size, hsizes, false, "");
  static const uint32_t bufs[] = {
      0, 1, SMR_CHANNEL_MAX_BUFFERS + 1, 255, 256, 0x80000000u, 0xffffffffu};
  BAD_FIELD32(buffers, bufs, false, "");
  /* More slots than the file has acks for (9 .. 4096: in range, but the
   * acks would run past the end of the file), or out of range. */
  static const uint32_t slots[] = {0, 9, SMR_CHANNEL_MAX_READERS,
                                   SMR_CHANNEL_MAX_READERS + 1, 0xffffffffu};
  BAD_FIELD32(slots, slots, false, " (file has 8 acks)");
  /* Fewer slots than the file has acks for: a consistent smaller channel
   * (the acks it names are a prefix of the file). */
  static const uint32_t fewer[] = {1, 7};
  for (size_t i = 0; i < 2; i++) {
    char what[64];
    snprintf(what, sizeof what, "state slots = %u (file has 8 acks)", fewer[i]);
    fresh_channel(3, 8, 0);
    poke32(g_state, ST_OFF(slots), fewer[i]);
    g_slots = fewer[i];
    check_valid(what);
  }
  static const uint32_t flags[] = {0x10u, 0x80000000u, 0xffffffffu};
  BAD_FIELD32(flags, flags, true, " (unknown bits)");
  /* No checksum stored but an algorithm named (and the reverse below). */
  fresh_channel(3, 8, 0);
  poke32(g_state, ST_OFF(flags), SMR__CHANNEL_F_NOSUM);
  check_bad_header("state NO_CHECKSUM with checksum_alg XXH3", -EBADMSG);
  static const uint32_t algs[] = {0, 1, SMR__CHANNEL_SUM_BLOCKS + 1,
                                  0xffffffffu};
  BAD_FIELD32(checksum_alg, algs, false, "");
}

/* Garbage in the acks. */
static void ack_cases(void) {
  /* Acks are informational for readers (they only shorten smr_channel_wait's
   * sleep slices): garbage there changes no read, and a writer taking over
   * resets them to what it tracks. */
  fresh_channel(3, 8, 0);
  for (unsigned i = 0; i < 8; i++)
    poke64(g_state, ACK_OFF(i),
           i & 1 ? UINT64_MAX : 0x0123456789abcdefull * (i + 1));
  check_valid("acks hold garbage");
  fresh_channel(3, 8, 0);
  for (unsigned i = 0; i < 8; i++)
    poke64(g_state, ACK_OFF(i), UINT64_MAX - i);
  g_case = "acks hold garbage: a writer resets them";
  {
    smr_channel_reader *r;
    EXPECT_EQ(smr_channel_reader_open(g_name, 0, &r), 0);
    struct smr_channel_stat st;
    struct smr_channel_reader_stat rs[2];
    size_t nrs = 0;
    EXPECT_EQ(smr_channel_stat(g_name, 0, &st, rs, 2, &nrs), 0);
    EXPECT_EQ(nrs, 1);
    EXPECT(rs[0].alive);
    char p[192], nm[16];
    snprintf(nm, sizeof nm, "r%u", rs[0].slot);
    slot_path(nm, p, sizeof p);
    struct stat sb;
    EXPECT_EQ(lstat(p, &sb), 0);
    EXPECT(S_ISREG(sb.st_mode));
    EXPECT_EQ(sb.st_mode & 07777, 0644);
    EXPECT_EQ(sb.st_size, SMR__CHANNEL_SLOT_FILE_SIZE);
    smr_channel_writer *w;
    EXPECT_EQ(smr_channel_writer_open(g_name, NULL, &w), 0);
    /* It listed the directory when it opened: our file is tracked. */
    for (unsigned i = 0; i < 8; i++)
      EXPECT_EQ(peek64(g_state, ACK_OFF(i)),
                i == rs[0].slot ? (uint64_t)sb.st_ino : 0);
    smr_channel_writer_close(w);
    EXPECT_EQ(smr_channel_reader_close(r), 0);
    EXPECT_EQ(lstat(p, &sb), -1); /* a closing reader removes its file */
  }
}

void state_cases(void) {
  missing_cases();
  created_cases();
  size_magic_cases();
  field_cases();
  ack_cases();
}
