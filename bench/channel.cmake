# SPDX-License-Identifier: MIT
# bench_channel: the cross-process channel (smr/channel.h) against its baselines, in
# one program (no per-implementation builds: the baselines are the in-process
# swap cell and memcpy, measured in the same run).  Included at the end of
# bench/CMakeLists.txt.
#
#   bench_channel [--only read,publish,scale] [--runs R] [--smoke] ...  (--help)
#   tools/bench_channel.sh [BUILD_DIR] [--smoke]      (real settings, the tables)
#   tools/bench_callgrind.sh                      (Ir per smr_channel_read too)
#   cmake --build <dir> --target bench_channel_smoke  (part of bench_smoke)
#
# The channels go to /dev/shm; the --smoke run needs a few MiB there, a real
# run about 4 x 64 MiB (K + 1 buffers of the largest payload).

add_executable(bench_channel ${CMAKE_CURRENT_SOURCE_DIR}/bench_channel.c)
target_include_directories(bench_channel PRIVATE ${CMAKE_CURRENT_SOURCE_DIR})
target_link_libraries(bench_channel PRIVATE smr_static Threads::Threads)

add_custom_target(bench_channel_smoke
                  COMMAND $<TARGET_FILE:bench_channel> --smoke
                  DEPENDS bench_channel
                  COMMENT "Running bench_channel with --smoke" VERBATIM)
if(TARGET bench_smoke)
  add_dependencies(bench_smoke bench_channel_smoke)
endif()
