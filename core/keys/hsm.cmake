# SPDX-License-Identifier: Apache-2.0
# The hsm key backend's unit test (issue 5): runs against a real SoftHSM2
# in a temporary folder; skips (77) when SoftHSM2 is not installed.
p11p_add_unit_test(NAME test_hsm
  SOURCES ${CMAKE_SOURCE_DIR}/tests/unit/test_hsm.c
  LIBS p11p_keys p11p_conf
  LABELS unit hsm
  TIMEOUT 300)
# Full stacks for leak reports: SoftHSM2's own leak (tests/lsan.supp) is
# only recognised when the stack reaches libsofthsm2.so through libcrypto,
# which has no frame pointers.
set_property(TEST test_hsm APPEND PROPERTY ENVIRONMENT
  "ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:fast_unwind_on_malloc=0")
