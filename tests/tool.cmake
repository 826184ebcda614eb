# SPDX-License-Identifier: MIT
# End-to-end tests of the smr command (cli/), one ctest per case of
# test_tool.sh (bash): each uses its own channel directory under /dev/shm.
#  test_tool_basic          publish/get/dump/stat across processes, last
#                           row wins, get's status 1 for a missing key
#  test_tool_roundtrip      publish + dump byte-exact: TSV, TSV CRLF, CSV
#                           (quotes, commas, newlines, all bytes but NUL)
#  test_tool_bad_input      ragged rows, bad quoting, CR, empty, header
#                           only, missing file, directory: FILE:LINE error,
#                           exit 3, version unchanged; usage errors
#  test_tool_watch          watch in the background sees each new version
#                           (stat --json parses and lists it as a live
#                           reader) and exits 4 when the channel is removed
#  test_tool_stat_full      every reader slot taken: stat still works
#                           (checksum not verified), get says why it fails
#  test_tool_publish_watch  publish --watch: write, rename, bad input, a
#                           second writer refused, SIGTERM exits 0
#  test_tool_bench          bench with 2 processes finds every key
#  test_tool_progress       --progress reaches 100%; quiet otherwise
#  test_tool_help           --help of every command, usage errors
#  test_tool_partial_write  publish --watch publishes only whole files: not
#                           one modified after its close, not one another
#                           process has open for writing (read lease); the
#                           rename workflow
#  test_tool_corrupt        one bit flipped in a data file: get, dump, watch
#                           (and bench) refuse it with status 4, and so does
#                           a running watch when the new version is corrupt
#  test_tool_corrupt_blocks a bit flipped in one 64 KiB block: get of a key
#                           in other blocks prints it, of the flipped key
#                           (alone or with others) status 4, nothing printed
#  test_tool_output_errors  stdout on /dev/full: --help, --version and every
#                           command exit 6
#  test_tool_json_names     stat --json is valid JSON for names holding
#                           quotes, backslashes, control bytes, bad UTF-8
#  test_tool_squat          a name taken by another user: publish exits 4
#                           and its message names the file (root only)
#  test_tool_ls             ls of a directory: each channel's version, size,
#                           readers, writer; one it cannot inspect listed
#                           with its error; --json parsed; nothing created;
#                           /dev/shm by default
#  test_tool_rm             rm; a missing channel (1); a live writer refused
#                           (4) unless --force, a watcher then exits 4
#  test_tool_get_formats    get --json (parsed; null, escapes), -0, keys from
#                           stdin (-), the placeholder and --missing
#  test_tool_watch_json     watch --json prints NDJSON, one object a version
#  test_tool_publish_mode   publish --mode: exact file modes whatever the
#                           umask, default 0600; warnings for --buffers,
#                           --readers, --mode an existing channel ignores
#  test_tool_completion     cli/completion/smr.bash: complete -p smr and
#                           completions of commands, options, channels
# The cases that need python3 (JSON, generated binary input) are skipped
# without it.
if(TARGET smr_tool)
  find_program(SMR_PYTHON3 python3)
  if(NOT SMR_PYTHON3)
    set(SMR_PYTHON3 "")
  endif()
  foreach(case basic roundtrip bad_input watch stat_full publish_watch bench
          progress help partial_write corrupt corrupt_blocks output_errors json_names
          squat ls rm get_formats watch_json publish_mode completion)
    add_test(NAME test_tool_${case}
             COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/test_tool.sh
                     $<TARGET_FILE:smr_tool> ${case} "${SMR_PYTHON3}")
    set_tests_properties(test_tool_${case} PROPERTIES TIMEOUT 120
                         LABELS unit SKIP_RETURN_CODE 77)
  endforeach()
endif()
