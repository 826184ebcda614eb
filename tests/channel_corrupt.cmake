# SPDX-License-Identifier: MIT
# Untrusted channel files (include/smr/channel.h, src/channel/layout.h).
#  test_channel_corrupt  a valid channel damaged by hand (truncated, foreign,
#                    wrong magic/layout/sizes, out-of-range indices, bad
#                    descriptors, missing/short/flipped data files, FIFOs,
#                    planted symlinks, an untrustworthy readers directory,
#                    junk and dead slot files in it): every reader, stat and
#                    writer-takeover call returns the documented errno, never
#                    crashes, hangs, leaks or writes a refused file; then a
#                    hostile reader of another uid (nobody: needs root, else
#                    skipped with a message) attacks the honest readers' slot
#                    files and truncates its own, and a buggy reader of the
#                    writer's uid scribbles its own, while honest readers
#                    check every payload (SMR_TEST_SECONDS per phase, default
#                    1.5); last, the writer's slot-file discovery under
#                    stress (out of descriptors, sockets, watch overflow)
# One program, a source file per section (channel_corrupt.h): the sections
# are its arguments (test_channel_squat runs one).
smr_test(test_channel_corrupt LABELS unit TIMEOUT 60 SOURCES
         test_channel_corrupt.c channel_corrupt_util.c channel_corrupt_state.c
         channel_corrupt_readers.c channel_corrupt_files.c
         channel_corrupt_squat.c channel_corrupt_hostile.c
         channel_corrupt_hostile_run.c channel_corrupt_robust.c)
# Forges files with the on-disk layout.
target_include_directories(test_channel_corrupt PRIVATE ${PROJECT_SOURCE_DIR}/src)
