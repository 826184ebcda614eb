/* SPDX-License-Identifier: MIT */
/* test_channel_corrupt's shared pieces: the case bookkeeping (EXPECT),
 * the channel's paths, raw file access, leak checks, payloads and the
 * checks run on every damaged channel (channel_corrupt_util.c), and what
 * the hostile and buggy reader processes share with the writer that runs
 * them.  One file per section: channel_corrupt_state.c, _readers.c,
 * _files.c (payload, special, symlink), _squat.c, _hostile.c (the honest
 * and the bad reader processes), _hostile_run.c (the writer and the
 * case), _robust.c; test_channel_corrupt.c has main. */
#ifndef SMR_TEST_CHANNEL_CORRUPT_H
#define SMR_TEST_CHANNEL_CORRUPT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "channel/layout.h"
#include "check.h"
#include "smr/channel.h"

/* Other users for the cross-uid cases (root only): the hostile reader and
 * a third party (an honest reader, or the owner of a relocated channel). */
#define UID_HOSTILE 65534u /* nobody */
#define UID_OTHER   65533u

#define EXPECT(cond)                                                           \
  do {                                                                         \
    if (!(cond)) {                                                             \
      fprintf(stderr, "case '%s':\n", g_case);                                 \
      CHECK(cond);                                                             \
    }                                                                          \
  } while (0)

#define EXPECT_EQ(a, b)                                                        \
  do {                                                                         \
    long long expect_a_ = (long long)(a), expect_b_ = (long long)(b);          \
    if (expect_a_ != expect_b_) {                                              \
      fprintf(stderr, "case '%s':\n", g_case);                                 \
      CHECK_EQ(expect_a_, expect_b_);                                          \
    }                                                                          \
  } while (0)

#define ST_OFF(f) ((uint64_t)offsetof(struct smr__channel_state, f))
#define DESC_OFF(i, f)                                                         \
  ((uint64_t)SMR__CHANNEL_DESC_OFFSET +                                        \
   (uint64_t)(i) * sizeof(struct smr__channel_desc) +                          \
   offsetof(struct smr__channel_desc, f))
#define ACK_OFF(i) ((uint64_t)SMR__CHANNEL_HEADER_SIZE + (uint64_t)(i)*8u)

#define PAYLOAD 5000u /* bytes per version in the corruption cases */
#define NPUB    3u    /* versions published by fresh_channel */

/* Outcome of a writer takeover on damaged files. */
enum takeover {
  TK_REFUSE, /* -EBADMSG, and neither file was modified */
  TK_ANY,    /* refuse as above, or succeed and then work end to end */
  TK_SKIP    /* not checked here */
};

/* Buffers: the current one, two honest pins, one more (the bad reader's
 * pins can take it, and the writer says -EBUSY; once it is gone, every
 * publish finds a buffer). */
#define H_BUFFERS 4u
#define H_SLOTS   16u
#define H_MIN     20u /* progress each party makes before the stop */
#define H_AFTER   40u /* publishes after the bad reader exited: all succeed */
#define H_JUNK    12  /* junk names the hostile keeps at once */

enum hmode { HM_HOSTILE, HM_BUGGY };
struct hshared {          /* MAP_SHARED | MAP_ANONYMOUS: parent and children */
  atomic_int stop_bad;    /* parent -> bad reader: stop */
  atomic_int stop_honest; /* parent -> honest process: stop */
  atomic_ulong passes;    /* scribble passes of the bad reader */
  atomic_ulong denied;    /* (a): attempts refused as they must be */
  atomic_ulong truncs;    /* (b): own slot file truncations */
  atomic_ulong junk;      /* (c): junk entries created */
  atomic_ulong own_reads, own_wrong; /* bad reader's own reads, wrong ones */
  atomic_ulong honest_reads, honest_seen; /* honest process */
};

/* ---- channel_corrupt_util.c ---- */

extern const char *g_case;

extern bool g_root; /* euid 0: the cross-uid cases run */

void skip_note(const char *what);

extern char g_dir[64]; /* mkdtemp under /dev/shm, mode 0755 */

extern char g_name[128]; /* "<dir>/ch" */

extern char g_state[160]; /* NAME.smr */

extern char g_readers[160]; /* NAME.smr-readers (a directory) */

extern char g_lock[160]; /* NAME.smr-lock (the single-writer lock) */

extern char g_victim[160]; /* symlink target in the symlink cases */

extern char g_vdir[160]; /* a directory a planted link points to */

void data_path(unsigned i, char *out, size_t n);

void slot_path(const char *entry, char *out, size_t n);

void rm_tree(const char *path);

extern pid_t g_main_pid;

void kid_add(pid_t pid);

/* pid was reaped: the abort handler must not kill a reused pid. */
void kid_done(pid_t pid);

void on_abort(int sig);

/* In a forked child: die with the parent (a failed CHECK there must not
 * leave us running).  Call after any credential change, which clears it. */
void die_with_parent(void);

/* In a forked child: become uid (and gid) `uid`, no supplementary groups. */
void become(unsigned uid);

void poke(const char *path, uint64_t off, const void *p, size_t n);

void poke32(const char *path, uint64_t off, uint32_t v);

void poke64(const char *path, uint64_t off, uint64_t v);

uint64_t peek64(const char *path, uint64_t off);

uint64_t file_size(const char *path);

void trunc_to(const char *path, uint64_t len);

/* Whole file into a malloc'd buffer (NULL, *n = 0 if it does not exist or
 * is not a regular file; links are not followed). */
unsigned char *slurp(const char *path, size_t *n);

/* Remove every file a channel (or a case) may have left behind, readers
 * directories a writer moved aside ("ch.smr-readers.old-<inode>")
 * included. */
void remove_channel_files(void);

int fd_count(void);

int map_count(void);

/* The path and, for a directory, each entry (sorted by name). */
char *describe(const char *path);

/* `path` must still look as `before` (from describe) did; frees it. */
void expect_same_tree(char *before, const char *path);

unsigned char pattern_byte(uint64_t version, uint64_t j);

void fill(unsigned char *b, uint64_t n, uint64_t version);

int matches(const unsigned char *b, uint64_t n, uint64_t version);

/* Set by fresh_channel(): the current version and its buffer index. */
extern uint64_t g_cur_version;
extern uint64_t g_cur_pattern; /* fill() key of the current payload */
extern unsigned g_cur_index;
extern unsigned g_buffers, g_slots;

/* A valid channel: NPUB versions of PAYLOAD bytes, writer closed. */
void fresh_channel(unsigned buffers, unsigned slots, unsigned flags);

void cur_data_path(char *out, size_t n);

/* A reader with `flags` on the damaged channel: open must give open_err;
 * when open succeeds, read must give read_err (twice: the error is not a
 * one-shot).  On success `content` says whether the bytes are the original
 * current payload (else they are only read to the last one: a size past the
 * end of the file would SIGBUS) and smr_channel_verify must say verify_err.
 * After an error no guard is held: close succeeds. */
void check_reader(unsigned flags, int open_err, int read_err, int content,
                  int verify_err);

/* Everything on the damaged channel.  open_err: expected from reader_open
 * and stat; read_err / vread_err: from smr_channel_read without / with
 * SMR_CHANNEL_VERIFY; content, verify_err: see check_reader; sum: expected
 * SMR_CHANNEL_STAT_VERIFY checksum state (-1: not checked); tk, tk_also: see
 * check_takeover.  Nothing may leak a descriptor or a mapping. */
void check_case(const char *what, int open_err, int read_err, int vread_err,
                int content, int verify_err, int sum, enum takeover tk,
                int tk_also);

/* Header damage: every reader entry point says open_err, a writer refuses. */
void check_bad_header(const char *what, int open_err);

/* A readers directory the channel cannot trust (missing, not a directory,
 * wrong owner, writable by others without the sticky bit): readers and stat
 * say -EBADMSG, a writer taking over refuses without touching anything
 * (readers that have the real directory open would be invisible to it). */
void check_bad_dir(const char *what);

/* A valid channel (after a change that must be accepted). */
void check_valid(const char *what);

/* Current payload damaged: open works, reads give -EBADMSG.  A writer may
 * take over, or refuse: -EBADMSG, or -EEXIST where the data file's name
 * holds something it did not create (a directory). */
void check_bad_current(const char *what);

/* Runs fn in a child as uid `uid` (root only), checks it exited 0. */
void run_as(const char *what, unsigned uid, void (*fn)(void));

/* Runs fn in a child, as uid `uid` (root only) unless it is OWN_UID, with
 * an alarm of alarm_s seconds unless 0 (a call that would block forever
 * fails the case instead of hanging the test); checks it exited 0. */
#define OWN_UID (~0u)
void run_child(const char *what, unsigned uid, unsigned alarm_s,
               void (*fn)(void));

/* ---- channel_corrupt_state.c ---- */

void state_cases(void);

/* ---- channel_corrupt_readers.c ---- */

void readers_cases(void);

/* ---- channel_corrupt_files.c ---- */

void payload_cases(void);

void special_file_cases(void);

void symlink_cases(void);

/* ---- channel_corrupt_squat.c ---- */

extern char g_sdir[96]; /* "<dir>/shared", mode 01777 */

extern char g_sname[128]; /* "<sdir>/ch" */

extern char g_svictim[160]; /* a file of the writer's user */

void squat_cases(void);

/* ---- channel_corrupt_hostile.c ---- */

extern struct hshared *g_hs;

extern enum hmode g_hmode;

extern bool g_cross; /* root: honest process UID_OTHER, hostile
                        UID_HOSTILE (buggy: always our uid) */

extern unsigned g_hslot[2]; /* slots: honest thread, honest process */

extern uint64_t g_vbase; /* version = g_vbase + n for payload number n */

extern atomic_ulong g_seen; /* distinct versions the honest thread saw */

extern atomic_ulong g_reads; /* reads the honest thread checked */

extern atomic_int g_wstop; /* writer -> honest thread: stop */

extern unsigned long g_ok, g_busy, g_after;

extern pid_t g_bad_pid, g_honest_pid;

extern int g_bad_status;

uint64_t h_size(uint64_t n);

void h_fill(unsigned char *b, uint64_t n);

/* An honest read: the right payload, its checksum, versions never go
 * back.  Returns whether the version is new. */
bool h_read_check(smr_channel_reader *r, uint64_t *last);

/* stat while the bad reader works on the directory: no crash, sane. */
void h_stat_check(uint64_t seen_version);

unsigned own_slot(void);

/* A message through a pipe; end of file: the other side died. */
void read_full(int fd, void *p, size_t n);

void honest_main(int go_fd, int ready_fd);

void bad_main(int go_fd, int ready_fd);

/* Overflow the writer's directory watch (it must list the directory). */
void watch_flood(int fd1, int fd2);

/* ---- channel_corrupt_hostile_run.c ---- */

void bad_reader_case(enum hmode mode);

/* ---- channel_corrupt_robust.c ---- */

void robust_cases(void);

#endif
