# SPDX-License-Identifier: MIT
# bench_ds_<scheme>: lock-free data structures (Treiber stack, Michael-Scott
# queue, Harris-Michael list, Michael hash map, DoubleLink queue) over each
# reclamation scheme (issue 13), one executable per scheme
# (-DBENCH_SCHEME_<SCHEME>, see bench/ds/scheme.h).  Included from bench/CMakeLists.txt before its
# bench_smoke target, which runs every program of SMR_BENCH_PROGRAMS with
# --smoke (here: a small matrix of every structure and workload).
#
#   bench_ds_<scheme> --ds list|hashmap|stack|queue --threads N ...
#   tools/bench_ds.sh [BUILD_DIR] [--smoke]     the full matrix, JSON lines
#   tools/bench_ds_plot.sh JSONL [OUTDIR]       the charts
#
# Schemes: collector, collector_robust, smr_epoch and none always; rc and
# rc_deferred (reference counting, smr/rc.h, issue 14: the list, the hash
# map and the DoubleLink queue only) always; ck_epoch and ck_hp with
# Concurrency Kit, urcu with liburcu-memb.
#   tools/bench_rc.sh [BUILD_DIR] [--quick|--smoke]   rc side by side
#   tools/bench_rc_long.sh [BUILD_DIR] [--smoke]      memory over 60 s  Under TSAN the
# peers are skipped (their grace periods are invisible to TSAN: false
# reports, see bench/CMakeLists.txt).
#
# Tests (label stress): ds_<scheme> runs bench_ds_<scheme> --smoke, which
# checks every structure's contents after each run (exit 1 on a wrong
# result), so the structures and schemes are exercised under ASAN and TSAN.

set(SMR_DS_SCHEMES collector collector_robust smr_epoch none rc rc_deferred)
if(NOT smr_bench_tsan)
  if(smr_bench_ck)
    list(APPEND SMR_DS_SCHEMES ck_epoch ck_hp)
  endif()
  if(smr_bench_urcu)
    list(APPEND SMR_DS_SCHEMES urcu)
  endif()
endif()

foreach(scheme ${SMR_DS_SCHEMES})
  set(name bench_ds_${scheme})
  set(peer "")
  if(scheme MATCHES "^ck_")
    set(peer ${smr_bench_ck})
  elseif(scheme STREQUAL "urcu")
    set(peer ${smr_bench_urcu})
  endif()
  smr_bench_executable(${name} bench_ds.c ds_${scheme} ${peer})
  string(TOUPPER ${scheme} SCHEME)
  target_compile_definitions(${name} PRIVATE BENCH_SCHEME_${SCHEME})
  list(APPEND SMR_BENCH_PROGRAMS ${name})
  if(SMR_BUILD_TESTS)
    add_test(NAME ds_${scheme} COMMAND ${name} --smoke)
    set_tests_properties(ds_${scheme} PROPERTIES TIMEOUT 120 LABELS stress)
  endif()
endforeach()
message(STATUS "bench: bench_ds schemes: ${SMR_DS_SCHEMES}")
