# SPDX-License-Identifier: MIT
# ABI checks (docs/ABI.md).
#  abi_symbols  the symbols libsmr.so exports (nm -D --defined-only) are
#               exactly tests/abi/symbols.txt, each with the version node
#               SMR_<major>.<minor> of src/libsmr.map.in, and the SONAME is
#               libsmr.so.<major>.<minor>: an accidental export or removal
#               fails.  After a deliberate change of the exported API,
#               update the list with
#                 cmake --build <build dir> --target abi_update_symbols
#               and commit tests/abi/symbols.txt with the change (and a
#               CHANGELOG.md entry).
# Needs the version script (gcc or clang on an ELF platform) and nm.
if(TARGET smr_shared AND SMR_ABI_NODE AND CMAKE_NM)
  set(smr_abi_args -DNM=${CMAKE_NM} -DOBJDUMP=${CMAKE_OBJDUMP} -DLIB=$<TARGET_FILE:smr_shared>
      -DSONAME=$<TARGET_SONAME_FILE_NAME:smr_shared> -DNODE=${SMR_ABI_NODE}
      -DLIST=${CMAKE_CURRENT_LIST_DIR}/abi/symbols.txt)
  add_test(NAME abi_symbols COMMAND ${CMAKE_COMMAND} ${smr_abi_args}
           -P ${CMAKE_CURRENT_LIST_DIR}/abi/check_symbols.cmake)
  set_tests_properties(abi_symbols PROPERTIES LABELS unit TIMEOUT 60)
  add_custom_target(abi_update_symbols
    COMMAND ${CMAKE_COMMAND} ${smr_abi_args} -DUPDATE=ON
            -P ${CMAKE_CURRENT_LIST_DIR}/abi/check_symbols.cmake
    DEPENDS smr_shared VERBATIM
    COMMENT "Writing tests/abi/symbols.txt from libsmr.so")
endif()
# spdx  every tracked source file carries "SPDX-License-Identifier: MIT"
#       (tools/check_spdx.sh; skipped outside a git checkout).
find_program(SMR_GIT git)
if(SMR_GIT)
  add_test(NAME spdx COMMAND sh ${PROJECT_SOURCE_DIR}/tools/check_spdx.sh
                             ${PROJECT_SOURCE_DIR})
  set_tests_properties(spdx PROPERTIES LABELS unit TIMEOUT 60
                       SKIP_RETURN_CODE 77)
endif()
