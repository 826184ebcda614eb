# Untrusted channel files (include/smr/shm.h, src/shm_layout.h).
#  test_shm_corrupt  a valid channel damaged by hand (truncated, foreign,
#                    wrong magic/layout/sizes, out-of-range indices, bad
#                    descriptors, missing/short/flipped data files, FIFOs,
#                    planted symlinks): every reader, stat and writer-takeover
#                    call returns the documented errno, never crashes, hangs,
#                    leaks or writes a refused file; then a hostile process
#                    scribbles the whole reader table while an honest reader
#                    checks every payload (SMR_TEST_SECONDS, default 1.5)
smr_test(test_shm_corrupt LABELS unit TIMEOUT 60)
# Forges files with the on-disk layout.
target_include_directories(test_shm_corrupt PRIVATE ${PROJECT_SOURCE_DIR}/src)
