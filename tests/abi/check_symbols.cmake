# SPDX-License-Identifier: MIT
# cmake -DNM=nm [-DOBJDUMP=objdump] -DLIB=libsmr.so.X -DSONAME=libsmr.so.0.1 -DNODE=SMR_0.1
#       -DLIST=tests/abi/symbols.txt [-DUPDATE=ON] -P check_symbols.cmake
# Compares the dynamic symbols LIB defines with LIST (one name a line,
# sorted); with UPDATE=ON rewrites LIST instead.  See tests/abi.cmake.
foreach(v NM LIB SONAME NODE LIST)  # OBJDUMP optional
  if(NOT DEFINED ${v})
    message(FATAL_ERROR "check_symbols.cmake: -D${v}=... missing")
  endif()
endforeach()

execute_process(COMMAND ${NM} -D --defined-only ${LIB}
                OUTPUT_VARIABLE out RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "${NM} -D --defined-only ${LIB} failed (${rc})")
endif()
string(REPLACE "\n" ";" lines "${out}")
set(names "")
set(unversioned "")
foreach(line IN LISTS lines)
  # "<address> <type> <name>[@@VERSION]"
  if(NOT line MATCHES "^[0-9a-fA-F]* *([A-Za-z]) (.+)$")
    continue()
  endif()
  set(type "${CMAKE_MATCH_1}")
  set(sym "${CMAKE_MATCH_2}")
  # The version node itself is listed as an absolute symbol.
  if(type STREQUAL "A" AND sym MATCHES "^${NODE}(@@${NODE})?$")
    continue()
  endif()
  if(sym MATCHES "^([^@]+)@@?(.*)$")
    set(name "${CMAKE_MATCH_1}")
    if(NOT CMAKE_MATCH_2 STREQUAL NODE)
      list(APPEND unversioned "${sym}")
    endif()
  else()
    set(name "${sym}")
    list(APPEND unversioned "${sym}")
  endif()
  list(APPEND names "${name}")
endforeach()
list(SORT names)
list(REMOVE_DUPLICATES names)
list(LENGTH names count)

if(UPDATE)
  string(REPLACE ";" "\n" text "${names}")
  file(WRITE ${LIST} "${text}\n")
  message(STATUS "Wrote ${count} symbols to ${LIST}")
  return()
endif()

file(STRINGS ${LIST} expected)
list(SORT expected)
set(added ${names})
list(REMOVE_ITEM added ${expected})
set(removed ${expected})
list(REMOVE_ITEM removed ${names})

set(errors "")
if(added)
  string(REPLACE ";" "\n    " t "${added}")
  string(APPEND errors "  exported but not in the list:\n    ${t}\n")
endif()
if(removed)
  string(REPLACE ";" "\n    " t "${removed}")
  string(APPEND errors "  in the list but not exported:\n    ${t}\n")
endif()
if(unversioned)
  string(REPLACE ";" "\n    " t "${unversioned}")
  string(APPEND errors "  not in the version node ${NODE}:\n    ${t}\n")
endif()

# The SONAME in the file (objdump -p), as CMake was asked to set it.
if(OBJDUMP)
  execute_process(COMMAND ${OBJDUMP} -p ${LIB} OUTPUT_VARIABLE dyn)
  if(NOT dyn MATCHES "SONAME +([^\n]+)")
    string(APPEND errors "  ${LIB} has no SONAME\n")
  elseif(NOT CMAKE_MATCH_1 STREQUAL SONAME)
    string(APPEND errors "  SONAME ${CMAKE_MATCH_1}, expected ${SONAME}\n")
  endif()
endif()
if(NOT SONAME MATCHES "^libsmr\\.so\\.[0-9]+\\.[0-9]+$")
  string(APPEND errors "  SONAME ${SONAME} is not libsmr.so.<major>.<minor> "
                       "(docs/ABI.md)\n")
endif()

if(errors)
  message(FATAL_ERROR
    "libsmr.so's exported symbols differ from ${LIST}:\n${errors}"
    "If the change is deliberate (a new or removed public function: see "
    "docs/ABI.md), update the list and commit it with the change:\n"
    "  cmake --build <build dir> --target abi_update_symbols\n"
    "Otherwise give the function SMR_API only if it is public API (named "
    "smr_*; smr__* only for what the inline read paths call), or remove "
    "the SMR_API it should not have.")
endif()
message(STATUS "${count} exported symbols, all in ${NODE}, SONAME ${SONAME}: "
               "as ${LIST}")
