# bench_lookup_<impl>: the lookup-table workload (issue 3, scenarios 2 and 3),
# one executable per implementation (-DBENCH_IMPL_<IMPL>).  Included at the
# end of bench/CMakeLists.txt; finds its peers itself (liburcu memb and qsbr,
# Concurrency Kit) and skips their targets when they are missing.
#
#   bench_lookup_<impl> [--readers R] [--interval-us U] [--seconds S] ...
#   bench_lookup_<impl> --ratio R:W ...            (read/write ratio sweep)
#   tools/bench_lookup.sh [BUILD_DIR] [--smoke]    (every configuration)
#   cmake --build <dir> --target bench_lookup_smoke
#
# Under TSAN the liburcu and ck targets are not built: those libraries are not
# instrumented, so TSAN cannot see the ordering their grace periods provide
# and reports every reclamation as a race (false positives).

find_package(PkgConfig QUIET)

# smr_lookup_peer(<var> <pkg-config module> <header> <libraries...>): sets
# <var> to a link target for the peer, or leaves it empty.
function(smr_lookup_peer var module header)
  set(${var} "" PARENT_SCOPE)
  string(MAKE_C_IDENTIFIER "SMR_LK_${module}" prefix)
  string(TOUPPER ${prefix} prefix)
  if(PkgConfig_FOUND)
    pkg_check_modules(${prefix} QUIET IMPORTED_TARGET GLOBAL ${module})
    if(${prefix}_FOUND)
      set(${var} PkgConfig::${prefix} PARENT_SCOPE)
      return()
    endif()
  endif()
  find_path(${prefix}_INC ${header})
  set(libs "")
  foreach(l ${ARGN})
    find_library(${prefix}_LIB_${l} ${l})
    if(NOT ${prefix}_LIB_${l})
      return()
    endif()
    list(APPEND libs ${${prefix}_LIB_${l}})
  endforeach()
  if(NOT ${prefix}_INC)
    return()
  endif()
  add_library(${prefix}_iface INTERFACE)
  target_include_directories(${prefix}_iface SYSTEM INTERFACE ${${prefix}_INC})
  target_link_libraries(${prefix}_iface INTERFACE ${libs})
  set(${var} ${prefix}_iface PARENT_SCOPE)
endfunction()

smr_lookup_peer(smr_lookup_memb liburcu-memb urcu/urcu-memb.h
                urcu-memb urcu-common)
smr_lookup_peer(smr_lookup_qsbr liburcu-qsbr urcu/urcu-qsbr.h
                urcu-qsbr urcu-common)
smr_lookup_peer(smr_lookup_ck ck ck_epoch.h ck)

set(SMR_LOOKUP_PROGRAMS "")

# smr_bench_lookup(<impl> [peer link target])
function(smr_bench_lookup impl)
  set(name bench_lookup_${impl})
  string(TOUPPER ${impl} IMPL)
  add_executable(${name} ${CMAKE_CURRENT_SOURCE_DIR}/bench_lookup.c)
  target_compile_definitions(${name} PRIVATE BENCH_IMPL_${IMPL})
  target_include_directories(${name} PRIVATE ${CMAKE_CURRENT_SOURCE_DIR})
  target_link_libraries(${name} PRIVATE smr_static Threads::Threads ${ARGN})
  set(SMR_LOOKUP_PROGRAMS ${SMR_LOOKUP_PROGRAMS} ${name} PARENT_SCOPE)
endfunction()

foreach(impl floor rwlock rwlock_wpref mutex smr_swap smr_epoch)
  smr_bench_lookup(${impl})
endforeach()

if(SMR_SANITIZE MATCHES "thread")
  message(STATUS "bench_lookup: skipping the liburcu and ck_epoch targets "
                 "under TSAN (uninstrumented libraries: false race reports)")
else()
  if(smr_lookup_memb)
    smr_bench_lookup(urcu_memb_callrcu ${smr_lookup_memb})
    smr_bench_lookup(urcu_memb_sync ${smr_lookup_memb})
  else()
    message(STATUS "bench_lookup: liburcu-memb not found, skipping "
                   "urcu_memb_* (install liburcu-dev)")
  endif()
  if(smr_lookup_qsbr)
    smr_bench_lookup(urcu_qsbr ${smr_lookup_qsbr})
  else()
    message(STATUS "bench_lookup: liburcu-qsbr not found, skipping "
                   "urcu_qsbr (install liburcu-dev)")
  endif()
  if(smr_lookup_ck)
    smr_bench_lookup(ck_epoch ${smr_lookup_ck})
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
