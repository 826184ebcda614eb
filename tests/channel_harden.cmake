# SPDX-License-Identifier: MIT
# Channel hardening regressions (issue 10, part A; tests/test_channel_harden.c):
#  test_channel_harden_pread     a slot file the writer cannot read (injected
#                            pread failure: EIO, ENOMEM, EINTR) pins every
#                            buffer: the publish fails with that errno, the
#                            guarded bytes never change
#  test_channel_harden_recreate  a state file left by a creation that died, mapped
#                            by a reader, is replaced by a new inode, never
#                            truncated
#  test_channel_harden_crashlink a writer killed between naming the new state
#                            file and removing NAME.smr-new: the next writer
#                            takes over (never -EEXIST)
#  test_channel_harden_errpath   smr_channel_error_path is never an earlier call's
#                            file; long paths keep their file name
#  test_channel_harden_longname  last components of 200..300 bytes: -ENAMETOOLONG
#                            before anything is created, or a working channel
#  test_channel_harden_signal    a handler reading through the handle it
#                            interrupted: the SMR_DEBUG assertion aborts
#  test_channel_squat            (test_channel_corrupt squat) another user creates a
#                            channel's names first: the writer refuses (-EPERM,
#                            -EEXIST) and names the file, writes nothing,
#                            readers never see the squatter's bytes (root);
#                            a reader's undeletable directory plus the old
#                            predictable aside name cannot keep the channel
#                            from being created again
add_executable(test_channel_harden test_channel_harden.c)
target_link_libraries(test_channel_harden PRIVATE smr_test)
target_include_directories(test_channel_harden PRIVATE ${PROJECT_SOURCE_DIR}/tests
                           ${PROJECT_SOURCE_DIR}/src)
# The signal section checks the debug assertion in the inline read path.
target_compile_definitions(test_channel_harden PRIVATE SMR_DEBUG)
# Fault injection without a hook in the library: the library's calls of the
# platform function go to the test's __wrap_smr__file_read.
target_link_options(test_channel_harden PRIVATE -Wl,--wrap=smr__file_read
                    -Wl,--wrap=smr__file_unlink)
foreach(section pread recreate crashlink errpath longname signal)
  add_test(NAME test_channel_harden_${section}
           COMMAND test_channel_harden ${section})
  set_tests_properties(test_channel_harden_${section} PROPERTIES TIMEOUT 120
                       LABELS "unit")
endforeach()
add_test(NAME test_channel_squat COMMAND test_channel_corrupt squat)
set_tests_properties(test_channel_squat PROPERTIES TIMEOUT 60 LABELS "unit")
