# SPDX-License-Identifier: MIT
# bench_lookup_<impl>: the lookup-table workload (issue 3, scenarios 2 and 3),
# one executable per implementation (-DBENCH_IMPL_<IMPL>).  Included at the
# end of bench/CMakeLists.txt, which finds the peers (liburcu memb and qsbr,
# Concurrency Kit); their targets are skipped when they are missing.
#
#   bench_lookup_<impl> [--readers R] [--interval-us U] [--seconds S] ...
#   bench_lookup_<impl> --ratio R:W ...            (read/write ratio sweep)
#   tools/bench_lookup.sh [BUILD_DIR] [--smoke]    (every configuration)
#   cmake --build <dir> --target bench_lookup_smoke
#
# Under TSAN the liburcu and ck targets are not built: those libraries are not
# instrumented, so TSAN cannot see the ordering their grace periods provide
# and reports every reclamation as a race (false positives).

# The peers' link targets come from bench/CMakeLists.txt (smr_bench_urcu,
# smr_bench_urcu_qsbr, smr_bench_ck: empty where the peer is missing).

set(SMR_LOOKUP_PROGRAMS "")

# smr_bench_lookup(<impl> [peer link target])
function(smr_bench_lookup impl)
  set(name bench_lookup_${impl})
  smr_bench_executable(${name} bench_lookup.c ${impl} ${ARGN})
  set(SMR_LOOKUP_PROGRAMS ${SMR_LOOKUP_PROGRAMS} ${name} PARENT_SCOPE)
endfunction()

foreach(impl floor rwlock rwlock_wpref mutex smr_swap smr_epoch)
  smr_bench_lookup(${impl})
endforeach()

if(SMR_SANITIZE MATCHES "thread")
  message(STATUS "bench_lookup: skipping the liburcu and ck_epoch targets "
                 "under TSAN (uninstrumented libraries: false race reports)")
else()
  if(smr_bench_urcu)
    smr_bench_lookup(urcu_memb_callrcu ${smr_bench_urcu})
    smr_bench_lookup(urcu_memb_sync ${smr_bench_urcu})
  else()
    message(STATUS "bench_lookup: liburcu-memb not found, skipping "
                   "urcu_memb_* (install liburcu-dev)")
  endif()
  if(smr_bench_urcu_qsbr)
    smr_bench_lookup(urcu_qsbr ${smr_bench_urcu_qsbr})
  else()
    message(STATUS "bench_lookup: liburcu-qsbr not found, skipping "
                   "urcu_qsbr (install liburcu-dev)")
  endif()
  if(smr_bench_ck)
    smr_bench_lookup(ck_epoch ${smr_bench_ck})
  else()
    message(STATUS "bench_lookup: Concurrency Kit not found, skipping "
                   "ck_epoch (install libck-dev)")
  endif()
endif()

# Both scenarios once per program, with --smoke (0.2 s each).
set(smr_lookup_smoke_cmds "")
foreach(p ${SMR_LOOKUP_PROGRAMS})
  list(APPEND smr_lookup_smoke_cmds
       COMMAND $<TARGET_FILE:${p}> --smoke
       COMMAND $<TARGET_FILE:${p}> --smoke --ratio 10:1)
endforeach()
add_custom_target(bench_lookup_smoke ${smr_lookup_smoke_cmds}
                  DEPENDS ${SMR_LOOKUP_PROGRAMS}
                  COMMENT "Running every bench_lookup program with --smoke"
                  VERBATIM)
if(TARGET bench_smoke)
  add_dependencies(bench_smoke bench_lookup_smoke)
endif()
