# bench_shm: the cross-process channel (smr/shm.h) against its baselines, in
# one program (no per-implementation builds: the baselines are the in-process
# swap cell and memcpy, measured in the same run).  Included at the end of
# bench/CMakeLists.txt.
#
#   bench_shm [--only read,publish,scale] [--runs R] [--smoke] ...  (--help)
#   tools/bench_shm.sh [BUILD_DIR] [--smoke]      (real settings, the tables)
#   tools/bench_callgrind.sh                      (Ir per smr_shm_read too)
#   cmake --build <dir> --target bench_shm_smoke  (part of bench_smoke)
#
# The channels go to /dev/shm; the --smoke run needs a few MiB there, a real
# run about 4 x 64 MiB (K + 1 buffers of the largest payload).

add_executable(bench_shm ${CMAKE_CURRENT_SOURCE_DIR}/bench_shm.c)
target_include_directories(bench_shm PRIVATE ${CMAKE_CURRENT_SOURCE_DIR})
target_link_libraries(bench_shm PRIVATE smr_static Threads::Threads)

add_custom_target(bench_shm_smoke
                  COMMAND $<TARGET_FILE:bench_shm> --smoke
                  DEPENDS bench_shm
                  COMMENT "Running bench_shm with --smoke" VERBATIM)
if(TARGET bench_smoke)
  add_dependencies(bench_smoke bench_shm_smoke)
endif()
