# SPDX-License-Identifier: Apache-2.0
# Tests of the hsm key backend (issue 5) over a private SoftHSM2. Included
# from tests/CMakeLists.txt inside the block that defines
# p11p_add_integration_test (the module target exists):
#   include(${CMAKE_CURRENT_SOURCE_DIR}/integration/hsm.cmake)
p11p_add_integration_test(hsm_softhsm_keygen TIMEOUT 300
  LABELS integration hsm)
p11p_add_integration_test(hsm_pin_source TIMEOUT 200 LABELS integration hsm)

# Adoption of keys already in the backing token (the module adopts after a
# user login) and certificates written back to it (hsm_write_certs).
p11p_add_integration_test(hsm_adopt TIMEOUT 200 LABELS integration hsm)
p11p_add_integration_test(hsm_softhsm_write_certs TIMEOUT 200
  LABELS integration hsm)

# The hsm backend under the enrollment engine (a C test over SoftHSM2 and
# the local CA): registered here because p11p_enroll is defined after
# core/keys.
if(TARGET p11p_enroll)
  p11p_add_unit_test(NAME test_hsm_enroll
    SOURCES ${CMAKE_SOURCE_DIR}/tests/unit/test_hsm_enroll.c
    LIBS p11p_enroll
    LABELS unit hsm
    TIMEOUT 120)
  # Full stacks, so SoftHSM2's own leak matches tests/lsan.supp.
  set_property(TEST test_hsm_enroll APPEND PROPERTY ENVIRONMENT
    "ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:fast_unwind_on_malloc=0")
endif()
