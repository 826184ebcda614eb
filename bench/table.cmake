# SPDX-License-Identifier: MIT
# bench_table: lookups in a flat table (smr/table.h) that a reader process
# maps from a channel (smr/channel.h), against an in-process open-addressing hash
# table and tinycdb, in one program (issue 5).  Included at the end of
# bench/CMakeLists.txt.
#
#   bench_table [--entries N] [--iters L] [--runs R] [--miss-pct P]
#               [--seq-keys] [--no-chain] [--smoke] ...          (--help)
#   (workloads: hit, 10% miss, chained; loops: smr_table from a reader
#   process, the same table opened lazily (smr_table_open_lazy), the same
#   with smr_channel_read per lookup, hash, tinycdb)
#   cmake --build <dir> --target bench_table_smoke   (part of bench_smoke)
#
# Needs tinycdb (Debian: libcdb-dev, cdb.h and libcdb) and xxhash.h (the
# in-process table hashes with XXH3, as the library does); without tinycdb
# the target is skipped with a message.  A real run puts about 130 MiB in
# /dev/shm (the channel, and the cdb file until it is mapped) and uses a
# few hundred MiB of memory.

find_path(SMR_CDB_INCLUDE cdb.h)
find_library(SMR_CDB_LIB cdb)
if(NOT SMR_CDB_INCLUDE OR NOT SMR_CDB_LIB)
  message(STATUS "bench: tinycdb not found, skipping bench_table "
                 "(install libcdb-dev)")
  return()
endif()

add_executable(bench_table ${CMAKE_CURRENT_SOURCE_DIR}/bench_table.c)
target_include_directories(bench_table PRIVATE ${CMAKE_CURRENT_SOURCE_DIR})
target_include_directories(bench_table SYSTEM PRIVATE ${SMR_CDB_INCLUDE}
                           ${SMR_XXHASH_INCLUDE})
target_link_libraries(bench_table PRIVATE smr_static Threads::Threads
                      ${SMR_CDB_LIB})

add_custom_target(bench_table_smoke
                  COMMAND $<TARGET_FILE:bench_table> --smoke
                  DEPENDS bench_table
                  COMMENT "Running bench_table with --smoke" VERBATIM)
if(TARGET bench_smoke)
  add_dependencies(bench_smoke bench_table_smoke)
endif()
