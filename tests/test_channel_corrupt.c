/* SPDX-License-Identifier: MIT */
/* Untrusted channel files (smr/channel.h, src/channel/layout.h).
 *
 * A valid channel is built with the real writer in a fresh directory under
 * /dev/shm, the writer is closed, then the files are damaged by hand
 * (pwrite, truncate, unlink, chmod, chown, symlink, mkfifo, junk entries in
 * the readers directory).  Every entry point that reads the files -
 * smr_channel_reader_open, smr_channel_read (with and without
 * SMR_CHANNEL_VERIFY), smr_channel_verify, smr_channel_stat (with and without
 * SMR_CHANNEL_STAT_VERIFY) and the writer takeover smr_channel_writer_open -
 * must return the documented negative errno and never crash, hang, leak a file
 * descriptor or a mapping, or write to a file it refused.
 *
 * Then the threat model of the slot files (one file per reader in the
 * sticky NAME.smr-readers/ directory): a hostile reader of another uid
 * (nobody) cannot open, truncate, remove or replace an honest reader's slot
 * file, and scribbles and truncates its own while the writer publishes with
 * timeout 0 and honest readers (a thread of the writer's uid, a process of a
 * third uid) check every payload; a buggy reader of the writer's own uid
 * scribbles its own slot mapping.  Cross-uid parts need root (CI runs as
 * root); without it they are skipped with a message on stderr.
 *
 * Last, regression cases for the writer's discovery of slot files under
 * stress (out of descriptors, sockets, an overflowing watch, taken
 * temporary names, leftover directories).
 *
 * SMR_TEST_SECONDS bounds each hostile phase (default 1.5 s).  Arguments
 * select sections (see main); default all. */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "channel/layout.h"
#include "check.h"
#include "smr/channel.h"

_Static_assert(offsetof(struct smr__channel_state, desc) ==
                   SMR__CHANNEL_DESC_OFFSET,
               "descriptor offset");
_Static_assert(sizeof(struct smr__channel_desc) == 64, "descriptor size");
_Static_assert(sizeof(struct smr__channel_slot) == 64, "slot");
_Static_assert(SMR__CHANNEL_SLOT_FILE_SIZE >= sizeof(struct smr__channel_slot),
               "slot file");

/* The sections are in channel_corrupt_*.c (channel_corrupt.h). */
#include "channel_corrupt.h"

/* Arguments (optional): the sections to run - state readers payload special
 * symlink squat hostile buggy robust; default all. */
int main(int argc, char **argv) {
  snprintf(g_dir, sizeof g_dir, "/dev/shm/smr-corrupt-XXXXXX");
  CHECK(mkdtemp(g_dir) != NULL);
  /* Other users (the hostile reader, the honest process) must reach the
   * channel; nobody but us can create anything here. */
  CHECK_EQ(chmod(g_dir, 0755), 0);
  snprintf(g_name, sizeof g_name, "%s/ch", g_dir);
  snprintf(g_state, sizeof g_state, "%s.smr", g_name);
  snprintf(g_readers, sizeof g_readers, "%s.smr-readers", g_name);
  snprintf(g_lock, sizeof g_lock, "%s.smr-lock", g_name);
  snprintf(g_victim, sizeof g_victim, "%s/victim", g_dir);
  snprintf(g_vdir, sizeof g_vdir, "%s/victim-dir", g_dir);
  snprintf(g_sdir, sizeof g_sdir, "%s/shared", g_dir);
  snprintf(g_sname, sizeof g_sname, "%s/ch", g_sdir);
  snprintf(g_svictim, sizeof g_svictim, "%s/victim", g_sdir);
  g_main_pid = getpid();
  g_root = geteuid() == 0;
  signal(SIGABRT, on_abort);
  if (!g_root)
    fprintf(stderr, "not running as root: the cross-uid cases are skipped "
                    "(CI runs as root)\n");

  if (test_section(argc, argv, "state"))
    state_cases();
  if (test_section(argc, argv, "readers"))
    readers_cases();
  if (test_section(argc, argv, "payload"))
    payload_cases();
  if (test_section(argc, argv, "special"))
    special_file_cases();
  if (test_section(argc, argv, "symlink"))
    symlink_cases();
  if (test_section(argc, argv, "squat"))
    squat_cases();
  if (test_section(argc, argv, "hostile"))
    bad_reader_case(HM_HOSTILE);
  if (test_section(argc, argv, "buggy"))
    bad_reader_case(HM_BUGGY);
  if (test_section(argc, argv, "robust"))
    robust_cases();

  /* A valid channel again, removed by the library: nothing else is left. */
  g_case = "cleanup";
  fresh_channel(3, 8, 0);
  EXPECT_EQ(smr_channel_unlink(g_name), 0);
  EXPECT_EQ(smr_channel_unlink(g_name), -ENOENT);
  EXPECT_EQ(rmdir(g_dir), 0);
  return 0;
}
