# SPDX-License-Identifier: MIT
# smr/rc.h review cases (tests/test_rc_review.c; each failed on the first
# version), one ctest entry per part:
#  stamp_release, stamp_store, stamp_upgrade  an event 128-255 grace
#                      periods after an object's last stamp stamps it
#  shared_child        a child held twice by a dying parent goes at once
#  barrier_orphans     smr_rc_barrier destroys what unregistered handles and
#                      terminated threads left
#  exit_registered     threads exiting registered: smr_rc_domain_destroy
#                      destroys their pending objects
#  destroy_drop_section  a drop run by smr_rc_domain_destroy uses a section
#  destroy_in_section  destroy inside a section of the given domain: -EDEADLK
#  own_domain_busy     the own smr_domain with a reader registered: -EBUSY
#  release_null        releases with a NULL handle (and edges pushes with
#                      a NULL out) keep the reference
#  root_reuse          a root freed in its own step, its memory reused by
#                      an object destroyed later in the same loop: that
#                      object is not taken for the root
add_executable(test_rc_review test_rc_review.c)
target_link_libraries(test_rc_review PRIVATE smr_test)
target_include_directories(test_rc_review PRIVATE ${PROJECT_SOURCE_DIR}/tests
                           ${PROJECT_SOURCE_DIR}/src)
foreach(part stamp_release stamp_store stamp_upgrade shared_child
        barrier_orphans exit_registered destroy_drop_section
        destroy_in_section own_domain_busy release_null root_reuse)
  add_test(NAME test_rc_review_${part} COMMAND test_rc_review ${part})
  set_tests_properties(test_rc_review_${part} PROPERTIES TIMEOUT 120
                       LABELS "unit")
endforeach()
