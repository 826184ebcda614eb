# SPDX-License-Identifier: MIT
# FFI tests (docs/DESIGN.md, "Conventions", FFI): every inline fast path has
# an exported twin, usable without the headers' struct layouts.
#  test_no_inline     C compiled with SMR_NO_INLINE: the plain names are the
#                     exported twins (and the macros built on them work)
#  test_ffi_symbols   libsmr.so exports NAME_ffi for every SMR_INLINE NAME in
#                     the headers, plus the guard accessors (nm)
#  test_ffi_bindgen   `bindgen include/smr.h` declares the same functions
#                     (skipped without bindgen)
#  test_ffi_ctypes    Python ctypes drives the epoch domain, a swap cell and
#                     a channel through libsmr.so with opaque guard buffers
#                     (skipped without python3)
smr_test(test_no_inline SOURCES ffi/test_no_inline.c LABELS unit)

add_test(NAME test_ffi_symbols
         COMMAND sh ${CMAKE_CURRENT_LIST_DIR}/ffi/check_twins.sh nm
                 ${PROJECT_SOURCE_DIR} $<TARGET_FILE:smr_shared>)
add_test(NAME test_ffi_bindgen
         COMMAND sh ${CMAKE_CURRENT_LIST_DIR}/ffi/check_twins.sh bindgen
                 ${PROJECT_SOURCE_DIR})
set_tests_properties(test_ffi_symbols test_ffi_bindgen PROPERTIES
                     LABELS unit TIMEOUT 60 SKIP_RETURN_CODE 77)

# A sanitizer-instrumented libsmr.so cannot be loaded into an uninstrumented
# python3 (the sanitizer runtime must come first), so the ctypes test runs in
# the plain builds only.
if(NOT SMR_SANITIZE)
  add_test(NAME test_ffi_ctypes
           COMMAND sh -c "command -v python3 >/dev/null || { echo 'SKIP: \
no python3'; exit 77; }; exec python3 \"$0\" \"$1\""
                   ${CMAKE_CURRENT_LIST_DIR}/ffi/test_ctypes.py
                   $<TARGET_FILE:smr_shared>)
  set_tests_properties(test_ffi_ctypes PROPERTIES LABELS unit TIMEOUT 60
                       SKIP_RETURN_CODE 77)
endif()
